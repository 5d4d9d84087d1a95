/* test_json.c - the selective JSON scanner and writer: exact numbers, escapes,
 * only referenced fields materialised, malformed input rejected, round trips. */
#include "check.h"
#include "../../serde/json_scan.h"
#include "../../serde/json_write.h"
#include "../../util/util.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static spate_shape_pool_t pool;

static int decode(spate_shape_t *s, const char *json, spate_arena_t *a, spate_value_t *v, char *err) {
        return spate_json_decode(s, json, strlen(json), a, v, err, 256);
}

static void test_numbers(void) {
        const char *nums[] = { "0", "-0", "1", "0.45", "44.02", "-3e2", "1.7976931348623157e308",
                               "123456789012345678", "0.1", "2.5E-3", "9007199254740993" };
        for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
                double d;
                size_t used = spate_json_number(nums[i], strlen(nums[i]), &d);
                CHECK(used == strlen(nums[i]) && d == strtod(nums[i], NULL), "number %s parses like strtod", nums[i]);
        }
        const char *bad[] = { "01", "-", "1.", ".5", "1e", "+1" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                double d;
                CHECK(spate_json_number(bad[i], strlen(bad[i]), &d) != strlen(bad[i]), "'%s' is not a whole JSON number", bad[i]);
        }
        /* Runs of every length up to 24 digits before and after the point
         * (the fast path ends at 15 in all), with what may follow a number
         * in a record: the bytes used and the value are strtod's. */
        static const char *const after[] = { "", ",\"country\":\"France\"}", "}", "e5,", "E-2]", " ,", "x1234567" };
        spate_shape_t *xs = spate_shape_new(&pool, 1);
        spate_shape_field(&pool, xs, "x", 1, 1);
        unsigned seed = 1;
        int bad_n = 0, n = 0;
        for (int ip = 1; ip <= 24; ip++)
                for (int fp = -1; fp <= 24; fp++)
                        for (size_t k = 0; k < sizeof(after) / sizeof(after[0]); k++) {
                                char buf[96];
                                int len = 0;
                                if (ip & 1)
                                        buf[len++] = '-';
                                for (int i = 0; i < ip; i++) {
                                        seed = seed * 1103515245u + 12345u;
                                        buf[len++] = (char)('0' + (i == 0 && ip > 1 ? 1 + (seed >> 16) % 9 : (seed >> 16) % 10));
                                }
                                if (fp >= 0)
                                        buf[len++] = '.';
                                for (int i = 0; i < fp; i++) {
                                        seed = seed * 1103515245u + 12345u;
                                        buf[len++] = (char)('0' + (seed >> 16) % 10);
                                }
                                int num_len = len;
                                len += snprintf(buf + len, sizeof(buf) - (size_t)len, "%s", after[k]);
                                char *stop;
                                double want = strtod(buf, &stop), d = 0;
                                size_t used = spate_json_number(buf, (size_t)len, &d);
                                /* "1." is no JSON number; "1e5" runs on past num_len */
                                size_t want_used = fp == 0 ? 0 : (size_t)(stop - buf);
                                n++;
                                if (k == 0) {
                                        /* the same number in a record, read two digits a step */
                                        char rec[128];
                                        spate_arena_t ra;
                                        spate_value_t rv;
                                        char rerr[256];
                                        snprintf(rec, sizeof(rec), "{\"x\":%s}", buf);
                                        spate_arena_init(&ra);
                                        int rrc = spate_json_decode(xs, rec, strlen(rec), &ra, &rv, rerr, sizeof(rerr));
                                        if (fp == 0 ? !rrc : rrc || rv.u.items[0].u.num != want)
                                                bad_n++, printf("# %s decodes wrong\n", rec);
                                        spate_arena_destroy(&ra);
                                }
                                if (used != want_used || (used && d != want) || (fp != 0 && stop - buf < num_len)) {
                                        if (bad_n++ < 5)
                                                printf("# %.*s: used %zu want %zu, %.17g want %.17g\n", len, buf, used,
                                                       want_used, d, want);
                                }
                        }
        CHECK(bad_n == 0, "%d numbers of 1-24 digits each side of the point, followed by other bytes and alone "
              "in a record, read like strtod (%d differ)", n, bad_n);
}

static void test_selective(void) {
        spate_arena_t a;
        spate_value_t v;
        char err[256];
        spate_shape_t *root = spate_shape_new(&pool, 1);
        int ia = spate_shape_field(&pool, root, "a", 1, 1);
        int im = spate_shape_field(&pool, root, "m", 1, 1);
        spate_shape_t *el = spate_shape_elem(&pool, root->fields[im].shape);
        int ip = spate_shape_field(&pool, el, "p", 1, 1);
        int is = spate_shape_field(&pool, root, "s", 1, 1);
        spate_arena_init(&a);
        int rc = decode(root, "{\"skip\":{\"x\":[1,2,{\"y\":\"}\"}]},\"a\":2.5,\"m\":[{\"p\":1},{\"q\":3},{\"p\":0.25}],"
                        "\"s\":\"caf\\u00e9 \\\"q\\\" \\ud83d\\ude00\"}", &a, &v, err);
        CHECK(rc == 0, "decodes (%s)", rc ? err : "");
        CHECK(v.type == SPATE_V_OBJ && v.n == 3, "root has exactly the 3 referenced slots");
        CHECK_NUM(v.u.items[ia].u.num, 2.5, "a");
        const spate_value_t *m = &v.u.items[im];
        CHECK(m->type == SPATE_V_ARR && m->n == 3, "array keeps every element");
        CHECK_NUM(m->u.items[2].u.items[ip].u.num, 0.25, "m[2].p");
        CHECK(m->u.items[1].u.items[ip].type == SPATE_V_MISSING, "m[1].p is missing, not null");
        const spate_value_t *s = &v.u.items[is];
        CHECK(s->n == strlen("café \"q\" 😀") && !memcmp(s->u.s, "café \"q\" 😀", s->n), "escapes and surrogate pairs decode to UTF-8");
        const char *bad[] = { "{\"a\":1", "{\"a\":1,}", "{\"a\" 1}", "[1,2", "{\"a\":tru}", "{\"a\":\"x}",
                              "{\"a\":1} x", "{\"a\":\"\\q\"}", "\"x\"", "{\"a\":\"\x01\"}" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                spate_arena_reset(&a);
                rc = decode(root, bad[i], &a, &v, err);
                CHECK(rc == -1 && (strstr(err, "malformed JSON at byte") || strstr(err, "expected a JSON object")),
                      "rejects %s (%s)", bad[i], err);
        }
        spate_arena_destroy(&a);
}

static void test_write(void) {
        spate_arena_t a;
        spate_value_t v;
        spate_buf_t b = { 0 };
        char err[256];
        spate_shape_t *root = spate_shape_new(&pool, 1);
        spate_shape_field(&pool, root, "keep", 4, 1);
        spate_shape_want_raw(root);
        int ir = spate_shape_add_computed(&pool, root, "region", SPATE_V_STR);
        const char *in = "{ \"keep\": [1, {\"x\": null}], \"other\": \"é\" }";
        spate_arena_init(&a);
        CHECK(decode(root, in, &a, &v, err) == 0, "decode with raw");
        v.u.items[ir] = spate_value_str("Bretagne", 8);
        spate_json_write(&b, root, &v);
        spate_buf_putc(&b, 0);
        CHECK_STR(b.data, "{ \"keep\": [1, {\"x\": null}], \"other\": \"é\" ,\"region\":\"Bretagne\"}",
                  "pass-through keeps the input bytes and appends computed fields");
        b.len = 0;
        spate_json_write_str(&b, "a\"b\\c\n\x01", 7);
        spate_buf_putc(&b, 0);
        CHECK_STR(b.data, "\"a\\\"b\\\\c\\n\\u0001\"", "string escaping");
        spate_buf_free(&b);
        spate_arena_destroy(&a);
}

/* A closed object's keys: names JSON holds as they are go out as one copy
 * made at load (spate_shape_field_t.json_key), the others through the
 * string writer; jansson reads every one back as the name it was given. */
static void test_write_keys(void) {
        static const char *const names[] = { "sensor", "temp_f", "", "a b~", "q\"uote", "back\\slash",
                                             "tab\there", "caf\xc3\xa9", "del\x7f", "bad\xff" };
        static const char *const read_as[] = { "sensor", "temp_f", "", "a b~", "q\"uote", "back\\slash",
                                               "tab\there", "caf\xc3\xa9", "del\x7f", "bad\xef\xbf\xbd" };
        size_t n = sizeof(names) / sizeof(names[0]);
        spate_shape_t *obj = spate_shape_new(&pool, 0);
        spate_value_t items[sizeof(names) / sizeof(names[0])], v = { .type = SPATE_V_OBJ, .n = (uint32_t)n,
                                                                     .u.items = items };
        spate_buf_t b = { 0 };
        for (size_t i = 0; i < n; i++) {
                spate_shape_add(&pool, obj, names[i], NULL, SPATE_V_NUM);
                items[i] = spate_value_num((double)i + 0.5);
        }
        spate_json_write(&b, obj, &v);
        json_error_t jerr;
        json_t *j = json_loadb(b.data, b.len, 0, &jerr);
        CHECK(j && json_object_size(j) == n, "an object of %zu keys is valid JSON (%s)", n, j ? "" : jerr.text);
        for (size_t i = 0; j && i < n; i++) {
                json_t *x = json_object_get(j, read_as[i]);
                CHECK(x && json_real_value(x) == (double)i + 0.5, "key %zu reads back as its name", i);
        }
        CHECK((obj->fields[0].json_key != NULL) + (obj->fields[4].json_key == NULL) + (obj->fields[7].json_key == NULL) == 3,
              "a plain name has its key text, one that needs escaping or is not ASCII has none");
        json_decref(j);
        spate_buf_free(&b);
}

/* Shortest round-trip formatting, checked against strtod on many values. */
static void test_format(void) {
        char buf[40];
        int bad = 0, n = 0;
        unsigned long long x = 88172645463325252ULL;
        const double fixed[] = { 0.1, 0.45, 44.02, 53.006, -12.75, 1e-7, 123456.789, 0.30000000000000004,
                                 1.7976931348623157e308, 5e-324, 1e21, 3.0, -0.0 };
        for (int i = 0; i < 200000; i++) {
                double d;
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                if (i < (int)(sizeof(fixed) / sizeof(fixed[0])))
                        d = fixed[i];
                else if (i % 3 == 0)
                        d = (double)(x % 100000) / 100.0 - 500.0;   /* 2-decimal readings */
                else if (i % 3 == 1)
                        d = (double)(x % 1000000007) * 9.0 / 5.0 / 7.0;
                else {
                        memcpy(&d, &x, sizeof(d));
                        if (!isfinite(d))
                                continue;
                }
                spate_fmt_num(buf, sizeof(buf), d);
                n++;
                if (strtod(buf, NULL) != d || strlen(buf) > 24)
                        bad += !bad ? (printf("# %.17g -> %s\n", d, buf), 1) : 1;
        }
        CHECK(bad == 0, "%d numbers format to text that reads back exactly (%d failed)", n, bad);
        spate_fmt_num(buf, sizeof(buf), 0.45);
        CHECK_STR(buf, "0.45", "0.45 is written shortest");
        spate_fmt_num(buf, sizeof(buf), 53.006);
        CHECK_STR(buf, "53.006", "53.006 is written shortest");
        spate_fmt_num(buf, sizeof(buf), 1e22);
        CHECK_STR(buf, "1e+22", "huge integers use exponents");
}

/* The shortest text as printf writes it: the fewest of up to 17 significant
 * digits that reads back. */
static void shortest_printf(char *buf, size_t size, double d) {
        for (int prec = 1; prec <= 17; prec++)
                if (snprintf(buf, size, "%.*g", prec, d), strtod(buf, NULL) == d)
                        return;
}

/* Issue 20: numbers in [1e-3, 1e15) are formatted in integer arithmetic,
 * not by printf; the text must be printf's, digit for digit. */
static void test_format_exact(void) {
        char buf[64], ref[64];
        uint64_t x = 0x9e3779b97f4a7c15ULL;
        int bad = 0, n = 0;
        const double edge[] = { 49.676000000000002, 0.001, 0.0010000000000000002, 999999999999999.9,
                                0.30000000000000004, 2.5, 0.125, 4503599627370495.5 / 4, -77.12345678901234 };
        for (int i = 0; i < 120000; i++) {
                double d;
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                if (i < (int)(sizeof(edge) / sizeof(edge[0])))
                        d = edge[i];
                else if (i % 3 == 0)
                        d = (double)(x % 100000) / 100.0 * 9 / 5 + 32;      /* temp * 9 / 5 + 32 */
                else if (i % 3 == 1)
                        d = ldexp((double)(x >> 11), -(int)(x % 60)) ;     /* every exponent in range */
                else
                        d = (double)(x % 1000000007) / 1e4 * 1.1;
                if (!(fabs(d) >= 1e-3 && fabs(d) < 1e15) || d == floor(d))
                        continue;
                spate_fmt_num(buf, sizeof(buf), d);
                shortest_printf(ref, sizeof(ref), d);
                n++;
                if (strcmp(buf, ref))
                        bad += !bad ? (printf("# %.17g -> %s, printf %s\n", d, buf, ref), 1) : 1;
        }
        CHECK(bad == 0 && n > 60000, "%d numbers in [1e-3, 1e15) are written as printf's shortest (%d differ)", n, bad);
}

/* Issue 14: what passes the scanner is copied verbatim to JSON sinks, so
 * invalid text in fields nobody references must be refused too (the record
 * goes to the DLQ with this reason). */
static void test_unreferenced_invalid(void) {
        static const struct { const char *json, *why; } cases[] = {
                { "{\"a\":1,\"z\":\"\\q\"}", "bad escape in string" },
                { "{\"a\":1,\"z\":\"\\udr00\"}", "bad \\u escape" },
                { "{\"a\":1,\"z\":\"\\u12\"}", "bad \\u escape" },
                { "{\"a\":1,\"z\":\"\\udc00\"}", "bad \\u escape" },          /* lone low surrogate */
                { "{\"a\":1,\"z\":\"\\ud800x\"}", "bad \\u escape" },         /* lone high surrogate */
                { "{\"a\":1,\"z\":\"\xff\"}", "invalid UTF-8 in string" },
                { "{\"a\":1,\"z\":\"\xc0\xaf\"}", "invalid UTF-8 in string" },  /* overlong '/' */
                { "{\"a\":1,\"z\":\"\xed\xa0\x80\"}", "invalid UTF-8 in string" }, /* encoded surrogate */
                { "{\"a\":1,\"z\":\"\xe2\x82\"}", "invalid UTF-8 in string" },  /* truncated */
                { "{\"a\":1,\"\xff\":2}", "invalid UTF-8 in string" },         /* in a key */
                { "{\"a\":1,\"z\":1e400}", "number out of range" },
                { "{\"a\":1,\"z\":[-1e400]}", "number out of range" },
                { "{\"a\":1e999}", "number out of range" },
        };
        spate_arena_t a;
        spate_value_t v;
        char err[256];
        spate_shape_t *root = spate_shape_new(&pool, 1);
        spate_shape_field(&pool, root, "a", 1, 1);
        spate_arena_init(&a);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                spate_arena_reset(&a);
                int rc = decode(root, cases[i].json, &a, &v, err);
                CHECK(rc == -1 && strstr(err, cases[i].why), "rejects %s: %s (got %s)", cases[i].json,
                      cases[i].why, rc ? err : "accepted");
        }
        CHECK(spate_json_decode(root, NULL, 0, &a, &v, err, sizeof(err)) == -1 &&
              strstr(err, "expected a JSON object at byte 0"), "a tombstone (NULL, 0) is an error (%s)", err);
        const char *good = "{\"a\":1,\"z\":\"\\ud83d\\ude00 caf\xc3\xa9 \\u00e9 \xf0\x9f\x98\x80\",\"y\":1e308}";
        CHECK(decode(root, good, &a, &v, err) == 0, "a surrogate pair, UTF-8 and 1e308 pass (%s)", err);
        spate_arena_destroy(&a);
}

/* The string scanner tests 8 bytes at a time while 8 remain, then byte by
 * byte: every byte value at every position of a string, kept or skipped,
 * in the middle of a record or at its end, is accepted exactly when it is
 * printable ASCII other than the quote and the backslash (alone, a byte at
 * or above 0x80 is invalid UTF-8), and a kept string reads back whole. A
 * 2- and a 4-byte character at every position cross the word boundaries. */
static void test_string_bytes(void) {
        spate_arena_t a;
        spate_value_t v;
        char err[256], body[40], json[128];
        spate_shape_t *root = spate_shape_new(&pool, 1);
        int is = spate_shape_field(&pool, root, "s", 1, 1);
        int wrong = 0, cases = 0;
        spate_arena_init(&a);
        for (int b = 0; b < 256; b++)
                for (int pos = 0; pos < 20; pos++) {
                        memset(body, 'a', 20);
                        body[pos] = (char)b;
                        int plain = b >= 0x20 && b < 0x80 && b != '"' && b != '\\';
                        for (int form = 0; form < 3; form++) {
                                /* kept mid-record, skipped mid-record, kept at the end; built
                                 * by copying, as the body may hold a NUL byte */
                                static const char *const pre[] = { "{\"s\":\"", "{\"t\":\"", "{\"s\":\"" };
                                static const char *const post[] = { "\",\"t\":1}", "\",\"s\":\"x\"}", "\"}" };
                                size_t n = strlen(pre[form]);
                                memcpy(json, pre[form], n);
                                memcpy(json + n, body, 20);
                                memcpy(json + n + 20, post[form], strlen(post[form]));
                                n += 20 + strlen(post[form]);
                                spate_arena_reset(&a);
                                int rc = spate_json_decode(root, json, n, &a, &v, err, sizeof(err));
                                int ok = rc == 0 && (form == 1 || (v.u.items[is].n == 20 &&
                                                                   !memcmp(v.u.items[is].u.s, body, 20)));
                                wrong += plain ? !ok : rc == 0;
                                cases++;
                        }
                }
        CHECK(wrong == 0, "%d strings with one byte of each value at each position: accepted exactly when the "
              "byte is plain, read back whole (%d wrong)", cases, wrong);
        static const char *const chars[] = { "\xc3\xa9", "\xf0\x9f\x98\x80" };
        wrong = 0;
        for (int c = 0; c < 2; c++)
                for (int pos = 0; pos < 17; pos++) {
                        size_t cl = strlen(chars[c]);
                        memset(body, 'a', 20);
                        memcpy(body + pos, chars[c], cl);
                        int n = snprintf(json, sizeof(json), "{\"s\":\"%.20s\"}", body);
                        spate_arena_reset(&a);
                        wrong += spate_json_decode(root, json, (size_t)n, &a, &v, err, sizeof(err)) ||
                                 v.u.items[is].n != 20 || memcmp(v.u.items[is].u.s, body, 20);
                }
        CHECK(wrong == 0, "a 2- and a 4-byte character at every position of a string read back whole (%d wrong)", wrong);
        spate_arena_destroy(&a);
}

/* Strings not from JSON (Avro, substr() cutting a character) may be invalid
 * UTF-8: the writer replaces each bad byte with U+FFFD. */
static void test_write_repairs_utf8(void) {
        spate_buf_t b = { 0 };
        spate_json_write_str(&b, "ok \xc3\xa9 \xff \xe2\x82 \xed\xa0\x80 \xf0\x9f\x98\x80", 19);
        spate_buf_putc(&b, 0);
        CHECK_STR(b.data, "\"ok \xc3\xa9 \\ufffd \\ufffd\\ufffd \\ufffd\\ufffd\\ufffd \xf0\x9f\x98\x80\"",
                  "invalid UTF-8 becomes U+FFFD, valid UTF-8 stays");
        spate_buf_free(&b);
}

/* Decodes recs[0..n) twice over with and without hints against a shape of
 * the given fields: how many decode differently (values or errors). */
static int hints_differ(const char *const *names, int nnames, const char *const *recs, size_t n,
                        spate_shape_t **root_out, spate_json_hints_t *hints) {
        spate_shape_t *root = spate_shape_new(&pool, 1);
        for (int i = 0; i < nnames; i++)
                spate_shape_field(&pool, root, names[i], strlen(names[i]), 1);
        spate_arena_t a1, a2;
        spate_value_t v1, v2;
        char e1[256], e2[256];
        int differ = 0;
        spate_arena_init(&a1);
        spate_arena_init(&a2);
        for (int round = 0; round < 2; round++)
                for (size_t r = 0; r < n; r++) {
                        size_t len = strlen(recs[r]);
                        int rc1 = spate_json_decode(root, recs[r], len, &a1, &v1, e1, sizeof(e1));
                        int rc2 = spate_json_decode_hinted(root, hints, recs[r], len, &a2, &v2, e2, sizeof(e2));
                        int same = rc1 == rc2 && (rc1 ? !strcmp(e1, e2) : v1.n == v2.n);
                        for (uint32_t i = 0; same && !rc1 && i < v1.n; i++) {
                                const spate_value_t *x = &v1.u.items[i], *y = &v2.u.items[i];
                                same = x->type == y->type && (x->type != SPATE_V_NUM || x->u.num == y->u.num) &&
                                       (x->type != SPATE_V_STR || (x->n == y->n && !memcmp(x->u.s, y->u.s, x->n)));
                        }
                        if (!same)
                                differ++, printf("# record %zu decodes differently with hints\n", r);
                }
        spate_arena_destroy(&a1);
        spate_arena_destroy(&a2);
        *root_out = root;
        return differ;
}

/* Key-order hints (a source's memory of where each field's key was) give
 * the values and errors that decoding without them gives, whatever order the
 * next record's keys come in: the same, another, escaped, a prefix or an
 * extension of a name, cut short or malformed. Names of up to 15 bytes are
 * compared in words where 16 bytes of the record remain, others byte-wise:
 * both, with keys that share a name's first or last 8 bytes. */
static void test_hints(void) {
        static const char *const recs[] = {
                "{\"id\":\"s1\",\"lat\":47.5,\"lon\":2.25,\"temp\":12.5,\"c\":\"FR\"}",
                "{\"id\":\"s2\",\"lat\":48.5,\"lon\":3.25,\"temp\":13.5,\"c\":\"FR\"}",
                "{\"lon\":4.25,\"id\":\"s3\",\"temp\":14.5,\"lat\":49.5}",
                "{\"id\":\"s4\",\"la\":1,\"lont\":2,\"te\\u006dp\":15.5,\"c\":\"FR\"}",
                "{\"id\":\"s5\",\"lat\":47.5,\"lon\"",
                "{\"id\":\"s6\",\"lat\":47.5,\"lon\":2.25,\"temp\":x}",
                "{\"id\":\"s7\", \"lat\" : 1 ,\"lon\":2,\"temp\":3,\"temp\":4}",
                "{\"id\":\"s8\",\"lat\":47.5,\"lon\":2.25,\"temp\":12.5,\"c\":\"FR\"}",
                /* keys of no field where one was hinted: longer, shorter, escaped */
                "{\"idx\":\"s9\",\"lat\":47.5,\"lon\":2.25,\"temp\":12.5,\"c\":\"FR\"}",
                "{\"i\":\"s10\",\"lat\":47.5,\"lon\":2.25,\"temp\":12.5,\"c\":\"FR\"}",
                "{\"\\u0069d\":\"s11\",\"lat\":47.5,\"lon\":2.25,\"temp\":12.5,\"c\":\"FR\"}",
                "{\"id\":\"s12\",\"lat\":47.5,\"lon\":2.25,\"temp\":12.5,\"c\":\"FR\",\"id\":1}",
                /* whitespace after a colon, after a value; more keys than are hinted */
                "{\"id\":\"s13\",\"lat\": 47.5,\"lon\":2.25,\"temp\":12.5,\"c\":\"FR\"}",
                "{\"id\":\"s14\",\"lat\":47.5 ,\"lon\":2.25\n,\"temp\":12.5\t}",
                "{\"id\":\"s15\",\"lat\":47.5,\"lon\":2.25,\"temp\":12.5,\"c\":\"FR\",\"a\":1,\"b\":2,"
                "\"d\":3,\"e\":4,\"f\":5,\"g\":6,\"h\":7,\"i\":8,\"j\":9,\"k\":10,\"l\":11,\"m\":12,"
                "\"temp\":13.5,\"lat\":1}",
        };
        static const char *const names[] = { "lat", "lon", "temp", "c" };
        spate_json_hints_t hints = { 0 };
        spate_shape_t *root;
        int differ = hints_differ(names, 4, recs, sizeof(recs) / sizeof(recs[0]), &root, &hints);
        CHECK(differ == 0, "30 records in changing key orders decode alike with and without hints (%d differ)", differ);
        CHECK(hints.shape == root && hints.field[1] == 1 && hints.field[3] == 3,
              "the hints hold where the last record's fields were (lat second, temp fourth)");
        CHECK(hints.field[0] == 0 && hints.span[0] == 3 && hints.field[5] == 0 && hints.span[5] == 2,
              "and where its keys of no field were, by their bytes (id first, a sixth)");

        static const char *const long_recs[] = {
                "{\"timestamp\":\"2023-11-14 22:13:20\",\"temperature\":17.5,\"country\":\"France\","
                "\"abcdefghijklmno\":1,\"abcdefghijklmnop\":2,\"x\":0}",
                "{\"timestamp\":\"2023-11-14 22:13:21\",\"temperature\":18.5,\"country\":\"Spain\","
                "\"abcdefghijklmno\":3,\"abcdefghijklmnop\":4,\"x\":0}",
                /* the first 8 bytes of a name, then others; the last 8 of one */
                "{\"timestamX\":\"a\",\"temperatureX\":1,\"countr\":\"b\",\"abcdefghijklmnX\":5,"
                "\"abcdefghijklmnoq\":6,\"x\":0}",
                "{\"Ximestamp\":\"a\",\"Xemperature\":1,\"country\":\"c\",\"bbcdefghijklmno\":7,"
                "\"abcdefghijklmnop\":8,\"x\":0}",
                "{\"timestamp\":\"2023-11-14 22:13:22\",\"temperature\":19.5,\"country\":\"France\","
                "\"abcdefghijklmno\":9,\"abcdefghijklmnop\":10,\"x\":0}",
                /* the names near the end: fewer than 16 bytes left */
                "{\"timestamp\":\"t\",\"temperature\":1,\"country\":\"d\",\"abcdefghijklmno\":1}",
                "{\"timestamp\":\"t\",\"temperature\":1,\"country\":\"d\",\"abcdefghijklmno\"",
                "{\"timestamp\":\"t\",\"temperature\":1,\"country\":\"d\",\"abcdefghijklmn",
                "{\"timestamp\":\"t\",\"temperature\":1,\"country",
                "{\"timestamp\":\"2023-11-14 22:13:23\",\"temperature\":20.5,\"country\":\"France\","
                "\"abcdefghijklmno\":11,\"abcdefghijklmnop\":12,\"x\":0}",
        };
        static const char *const long_names[] = { "timestamp", "temperature", "country", "abcdefghijklmno",
                                                  "abcdefghijklmnop" };
        spate_json_hints_t long_hints = { 0 };
        differ = hints_differ(long_names, 5, long_recs, sizeof(long_recs) / sizeof(long_recs[0]), &root,
                              &long_hints);
        CHECK(differ == 0, "20 records with names of 7-16 bytes, keys sharing their first or last 8 bytes "
              "and keys cut short decode alike with and without hints (%d differ)", differ);
        CHECK(long_hints.span[0] == 10 && long_hints.span[3] == 16 && long_hints.span[4] == 0 &&
              long_hints.field[4] == 5, "names of up to 15 bytes are hinted as words, a 16-byte one byte-wise");
}

/* The word-wide (8 and, with SSE2, 16 bytes a test) run of plain bytes
 * against a byte-by-byte reference: runs of every length up to 40 ended by
 * each kind of byte that is not plain, at every offset of the blocks. */
static void test_plain_len(void) {
        static const unsigned char stops[] = { '"', '\\', 0x00, 0x1f, 0x80, 0xc3, 0xff };
        static const unsigned char plain[] = { ' ', 'a', '~', 0x7f, '!', '#', '[', ']', '0' };
        unsigned seed = 7;
        int wrong = 0, n = 0;
        for (size_t len = 0; len <= 40; len++)
                for (size_t stop = 0; stop <= len; stop++)
                        for (size_t k = 0; k < sizeof(stops); k++) {
                                char buf[48];
                                for (size_t i = 0; i < len; i++) {
                                        seed = seed * 1103515245u + 12345u;
                                        buf[i] = (char)plain[(seed >> 16) % sizeof(plain)];
                                }
                                if (stop < len)
                                        buf[stop] = (char)stops[k];
                                size_t want = 0;
                                while (want < len && (unsigned char)buf[want] >= 0x20 && (unsigned char)buf[want] < 0x80 &&
                                       buf[want] != '"' && buf[want] != '\\')
                                        want++;
                                wrong += spate_json_plain_len(buf, len) != want;
                                n++;
                        }
        CHECK(wrong == 0, "%d runs of plain bytes measured as byte by byte (%d wrong)", n, wrong);
}

int main(void) {
        test_plain_len();
        test_hints();
        test_format();
        test_format_exact();
        test_unreferenced_invalid();
        test_string_bytes();
        test_write_repairs_utf8();
        test_numbers();
        test_selective();
        test_write();
        test_write_keys();
        spate_shape_pool_destroy(&pool);
        return CHECK_DONE();
}
