/* tail_json.c - fuzzes the raw-text JSON of `spate tail` (cli/tail_json.c):
 * validation, walking an object's fields, unescaping, and the writers, whose
 * output must always be valid single-line JSON. */
#include "fuzz.h"
#include "../../cli/tail_json.h"

/* out[0..len) must be one valid JSON value of kind k with no control byte. */
static void must_be(const spate_buf_t *out, tj_kind_t k) {
        if (tj_classify(out->data, out->len) != k) {
                fprintf(stderr, "tail json: wrote %.*s, not a JSON value of kind %d\n",
                        (int)out->len, out->data, (int)k);
                abort();
        }
        for (size_t i = 0; i < out->len; i++)
                if ((unsigned char)out->data[i] < 0x20) {
                        fprintf(stderr, "tail json: control byte 0x%02x written\n", out->data[i]);
                        abort();
                }
}

/* Unescapes a raw string span and writes it back as a JSON string. */
static void rewrite(spate_buf_t *b, const char *raw, size_t rlen) {
        b->len = 0;
        tj_unescape(b, raw, rlen);
        spate_buf_t s = { 0 };
        tj_write_str(&s, b->data ? b->data : "", b->len);
        must_be(&s, TJ_STRING);
        spate_buf_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *p = (const char *)data, *name, *val;
        size_t nlen, vlen;
        spate_buf_t b = { 0 };
        tj_kind_t k = tj_classify(p, size);
        tj_write_str(&b, p, size);
        must_be(&b, TJ_STRING);
        b.len = 0;
        if (k != TJ_NONE) {
                tj_write_compact(&b, p, size);
                must_be(&b, k);
        }
        if (k == TJ_STRING) {
                const char *s = memchr(p, '"', size);
                rewrite(&b, s + 1, (size_t)(memrchr(p, '"', size) - (const void *)s) - 1);
        }
        if (k == TJ_OBJECT) {
                tj_iter_t it;
                tj_iter_init(&it, p, size);
                while (tj_iter_next(&it, &name, &nlen, &val, &vlen)) {
                        rewrite(&b, name, nlen);
                        tj_name_eq(name, nlen, "score");
                        if (tj_kind_of(val, vlen) == TJ_STRING)
                                rewrite(&b, val + 1, vlen - 2);
                }
                tj_get(p, size, "name", &val, &vlen);
        }
        spate_buf_free(&b);
        return 0;
}
