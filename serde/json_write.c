/* json_write.c - JSON output of record values, by shape, with no tree library. */
#include "json_write.h"
#include "json_scan.h"
#include "../util/util.h"

#include <math.h>
#include <stdio.h>

/* A byte a JSON string cannot hold as it is: its escape. */
static void write_escape(spate_buf_t *b, unsigned char c) {
        static const char hex[] = "0123456789abcdef";
        if (c >= 0x80) {
                /* Not UTF-8 (an Avro string, a substr() cut inside a
                 * character): U+FFFD, so the output stays valid JSON. */
                spate_buf_put(b, "\\ufffd", 6);
                return;
        }
        switch (c) {
        case '"': spate_buf_put(b, "\\\"", 2); break;
        case '\\': spate_buf_put(b, "\\\\", 2); break;
        case '\n': spate_buf_put(b, "\\n", 2); break;
        case '\r': spate_buf_put(b, "\\r", 2); break;
        case '\t': spate_buf_put(b, "\\t", 2); break;
        default: {
                char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
                spate_buf_put(b, u, 6);
        }
        }
}

void spate_json_write_str(spate_buf_t *b, const char *s, size_t n) {
        size_t start = 0, i = spate_json_plain_len(s, n);
        spate_buf_putc(b, '"');
        /* i stops only on bytes that are not written as they are (runs of
         * those are skipped 8 at a time): UTF-8 sequences, the escaped */
        while (i < n) {
                unsigned char c = (unsigned char)s[i];
                size_t u8;
                if (c >= 0x80 && (u8 = spate_utf8_len((const unsigned char *)s + i, n - i))) {
                        i += u8;
                } else {
                        spate_buf_put(b, s + start, i - start);
                        start = ++i;
                        write_escape(b, c);
                }
                i += spate_json_plain_len(s + i, n - i);
        }
        spate_buf_put(b, s + start, n - start);
        spate_buf_putc(b, '"');
}

/* A field's key and the colon after it. */
static void write_key(spate_buf_t *b, const spate_shape_field_t *f) {
        if (f->json_key) {
                spate_buf_put(b, f->json_key, f->len + 3);
                return;
        }
        spate_json_write_str(b, f->name, f->len);
        spate_buf_putc(b, ':');
}

static void write_num(spate_buf_t *b, double d) {
        char tmp[32];
        if (!isfinite(d)) {
                spate_buf_put(b, "null", 4);
                return;
        }
        spate_buf_put(b, tmp, (size_t)spate_fmt_num(tmp, sizeof(tmp), d));
}

/* Writes an object that passes through as raw text plus the fields
 * operators computed: the raw text up to its closing brace, then the fields. */
static void write_spliced(spate_buf_t *b, const spate_shape_t *shape, const spate_value_t *v) {
        size_t end = v->raw_len;
        int empty = 1;
        while (end > 0 && v->raw[end - 1] != '}')
                end--;
        for (size_t i = 1; i + 1 < end && empty; i++)
                empty = v->raw[i] == ' ' || v->raw[i] == '\n' || v->raw[i] == '\t' || v->raw[i] == '\r';
        spate_buf_put(b, v->raw, end - 1);
        for (int i = 0; i < shape->nfields && i < (int)v->n; i++) {
                const spate_value_t *f = &v->u.items[i];
                if (!shape->fields[i].computed || f->type == SPATE_V_MISSING)
                        continue;
                if (!empty)
                        spate_buf_putc(b, ',');
                empty = 0;
                write_key(b, &shape->fields[i]);
                spate_json_write(b, shape->fields[i].shape, f);
        }
        spate_buf_putc(b, '}');
}

static int has_computed(const spate_shape_t *shape) {
        for (int i = 0; shape && i < shape->nfields; i++)
                if (shape->fields[i].computed)
                        return 1;
        return 0;
}

void spate_json_write(spate_buf_t *b, const spate_shape_t *shape, const spate_value_t *v) {
        if (v->raw) {
                if (v->type == SPATE_V_OBJ && has_computed(shape))
                        write_spliced(b, shape, v);
                else
                        spate_buf_put(b, v->raw, v->raw_len);
                return;
        }
        switch (v->type) {
        case SPATE_V_BOOL: v->u.b ? spate_buf_put(b, "true", 4) : spate_buf_put(b, "false", 5); return;
        case SPATE_V_NUM: write_num(b, v->u.num); return;
        case SPATE_V_STR: spate_json_write_str(b, v->u.s, v->n); return;
        case SPATE_V_ARR:
                spate_buf_putc(b, '[');
                for (uint32_t i = 0; i < v->n; i++) {
                        if (i)
                                spate_buf_putc(b, ',');
                        spate_json_write(b, shape ? shape->elem : NULL, &v->u.items[i]);
                }
                spate_buf_putc(b, ']');
                return;
        case SPATE_V_OBJ: {
                int first = 1;
                spate_buf_putc(b, '{');
                for (uint32_t i = 0; shape && i < v->n && (int)i < shape->nfields; i++) {
                        if (v->u.items[i].type == SPATE_V_MISSING)
                                continue;
                        if (!first)
                                spate_buf_putc(b, ',');
                        first = 0;
                        write_key(b, &shape->fields[i]);
                        spate_json_write(b, shape->fields[i].shape, &v->u.items[i]);
                }
                spate_buf_putc(b, '}');
                return;
        }
        default:
                spate_buf_put(b, "null", 4);
        }
}
