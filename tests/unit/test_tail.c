/* test_tail.c - `spate tail`'s pieces without a broker: the key table
 * (growth, updates, tombstones, 50,000 keys), the raw JSON helpers, the sort
 * order and the JSON-lines and table output. */
#include "check.h"
#include "../../cli/tail.h"
#include "../../cli/tail_json.h"

#include <stdlib.h>
#include <string.h>

static void test_map(void) {
        tail_map_t m = { 0 };
        char k[32], v[64];
        int bad = 0;
        for (int i = 0; i < 50000; i++) {
                int kl = snprintf(k, sizeof(k), "c%06d", i), vl = snprintf(v, sizeof(v), "{\"n\":%d}", i);
                tail_map_put(&m, k, (size_t)kl, v, (size_t)vl);
        }
        CHECK(m.n == 50000 && m.nbuckets >= 50000, "50000 keys stored, %zu buckets", m.nbuckets);
        for (int i = 0; i < 50000; i += 2) {  /* update the even ones with a longer value */
                int kl = snprintf(k, sizeof(k), "c%06d", i), vl = snprintf(v, sizeof(v), "{\"n\":%d,\"even\":true}", i);
                tail_map_put(&m, k, (size_t)kl, v, (size_t)vl);
        }
        for (int i = 0; i < 50000; i += 3) {
                int kl = snprintf(k, sizeof(k), "c%06d", i);
                bad += !tail_map_del(&m, k, (size_t)kl);
        }
        CHECK(!bad && m.n == 50000 - 16667, "every third key deleted (%zu left)", m.n);
        for (int i = 0; i < 50000; i++) {
                int kl = snprintf(k, sizeof(k), "c%06d", i);
                tail_entry_t *e = tail_map_get(&m, k, (size_t)kl);
                if (i % 3 == 0) {
                        bad += e != NULL;
                        continue;
                }
                int vl = snprintf(v, sizeof(v), i % 2 ? "{\"n\":%d}" : "{\"n\":%d,\"even\":true}", i);
                bad += !e || e->vlen != (size_t)vl || memcmp(e->val, v, (size_t)vl) || strcmp(e->key, k);
        }
        CHECK(!bad, "every lookup returns the latest value, deleted keys are gone (%d wrong)", bad);
        CHECK(!tail_map_del(&m, "c000000", 7), "deleting an absent key is a no-op");
        tail_entry_t *e = tail_map_put(&m, "c000000", 7, "", 0);
        CHECK(e && e->vlen == 0 && m.n == 50000 - 16666, "an empty value is a value, not a tombstone");
        e = tail_map_put(&m, "bin\0key", 7, "x", 1);
        CHECK(tail_map_get(&m, "bin\0key", 7) == e && !tail_map_get(&m, "bin", 3), "keys are bytes (NUL inside)");
        tail_entry_t **all = tail_map_list(&m);
        size_t sum = 0;
        for (size_t i = 0; i < m.n; i++)
                sum += all[i]->klen;
        CHECK(sum == (m.n - 1) * 7 + 7, "the list holds every entry once");
        free(all);
        tail_map_free(&m);
        CHECK(m.n == 0 && !m.buckets, "freed");
}

static void test_json(void) {
        static const struct { const char *in; tj_kind_t kind; } cases[] = {
                { "{\"a\":1}", TJ_OBJECT }, { "  {\"a\" : [1, {\"b\": null}], \"c\":\"x\\\"y\"}\t ", TJ_OBJECT },
                { "{}", TJ_OBJECT }, { "[1,2]", TJ_ARRAY }, { "\"s\"", TJ_STRING }, { "-1.5e3", TJ_NUMBER },
                { "true", TJ_BOOL }, { "null", TJ_NULL }, { "", TJ_NONE }, { "{", TJ_NONE },
                { "{\"a\":1,}", TJ_NONE }, { "{\"a\" 1}", TJ_NONE }, { "01", TJ_NONE }, { "nul", TJ_NONE },
                { "{\"a\":1} x", TJ_NONE }, { "plain text", TJ_NONE }, { "\"\xff\"", TJ_NONE },
                { "\"a\tb\"", TJ_NONE }, { "\"\\u12\"", TJ_NONE }, { "\"caf\xc3\xa9\"", TJ_STRING },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                CHECK(tj_classify(cases[i].in, strlen(cases[i].in)) == cases[i].kind, "classify '%s'", cases[i].in);
        /* C6: strchr("...", '\0') matches the terminator, so a backslash and
         * a NUL passed as an escape and tail printed the raw control byte. */
        static const char nul_esc[] = "{\"s\":\"a\\\0b\"}";
        CHECK(tj_classify(nul_esc, sizeof(nul_esc) - 1) == TJ_NONE, "a backslash followed by a NUL is not an escape");
        char deep[2000];
        memset(deep, '[', 1000);
        memset(deep + 1000, ']', 1000);
        CHECK(tj_classify(deep, sizeof(deep)) == TJ_NONE, "nesting deeper than 256 is refused, not a stack overflow");

        const char *o = "{ \"id\" : \"c1\", \"rain\": 0.25, \"n\\u00e9\": {\"x\": [1, 2]}, \"s\": \"a\\nb\" }";
        const char *v;
        size_t vl;
        CHECK(tj_get(o, strlen(o), "rain", &v, &vl) && vl == 4 && !memcmp(v, "0.25", 4), "get a number field");
        CHECK(tj_get(o, strlen(o), "n\xc3\xa9", &v, &vl) && tj_kind_of(v, vl) == TJ_OBJECT && vl == 13,
              "get a field whose name has an escape");
        CHECK(!tj_get(o, strlen(o), "missing", &v, &vl), "a missing field");
        spate_buf_t b = { 0 };
        tj_get(o, strlen(o), "s", &v, &vl);
        tj_unescape(&b, v + 1, vl - 2);
        CHECK(b.len == 3 && !memcmp(b.data, "a\nb", 3), "unescape \\n");
        b.len = 0;
        const char *esc = "\\ud83d\\ude00 \\u00e9\\/";
        tj_unescape(&b, esc, strlen(esc));
        CHECK(b.len == 8 && !memcmp(b.data, "\xf0\x9f\x98\x80 \xc3\xa9/", 8), "unescape a surrogate pair, \\u00e9 and \\/");
        b.len = 0;
        tj_write_str(&b, "a\"b\\\x01\xff\xc3\xa9", 8);
        const char *want = "\"a\\\"b\\\\\\u0001\\ufffd\xc3\xa9\"";
        CHECK(b.len == strlen(want) && !memcmp(b.data, want, b.len),
              "write_str escapes and replaces invalid UTF-8 (%.*s)", (int)b.len, b.data);
        b.len = 0;
        const char *pretty = "{\n  \"a\": [1, 2],\n  \"s\": \"x y\\n\"\n}\n";
        tj_write_compact(&b, pretty, strlen(pretty));
        want = "{\"a\":[1,2],\"s\":\"x y\\n\"}";
        CHECK(b.len == strlen(want) && !memcmp(b.data, want, b.len), "compact keeps string spaces (%.*s)",
              (int)b.len, b.data);
        spate_buf_free(&b);
}

static void put(tail_t *t, const char *k, const char *v) {
        tail_analyze(t, tail_map_put(&t->map, k, strlen(k), v, strlen(v)));
}

static void keys_of(tail_t *t, long limit, char *out, size_t size) {
        size_t n, len = 0;
        tail_entry_t **a = tail_sorted(t, limit, &n);
        out[0] = '\0';
        for (size_t i = 0; i < n; i++)
                len += (size_t)snprintf(out + len, size - len, "%s%s", i ? " " : "", a[i]->key);
        free(a);
}

static void test_sort_and_output(void) {
        tail_t t = { .topic = "t", .sort = "r", .top = -1 };
        char got[256];
        put(&t, "a", "{\"r\": 2}");
        put(&t, "b", "{\"r\": 10}");
        put(&t, "c", "{\"r\": -1.5, \"x\": 1}");
        put(&t, "d", "{\"x\": 1}");              /* no r: last */
        put(&t, "e", "{\"r\": \"str\"}");        /* strings after numbers */
        put(&t, "f", "{\"r\": null}");           /* null: like missing */
        put(&t, "g", "not json");
        put(&t, "h", "{\"r\": 10}");             /* tie with b: by key */
        keys_of(&t, -1, got, sizeof(got));
        CHECK_STR(got, "c a b h e d f g", "--sort r");
        t.desc = 1;
        keys_of(&t, -1, got, sizeof(got));
        CHECK_STR(got, "e b h a c d f g", "--sort r --desc (missing stays last, ties by key)");
        keys_of(&t, 2, got, sizeof(got));
        CHECK_STR(got, "e b", "--top 2");
        put(&t, "e", "{\"r\": -100}");          /* an update moves the key */
        keys_of(&t, 3, got, sizeof(got));
        CHECK_STR(got, "b h a", "an updated value re-sorts");
        t.sort = NULL;
        keys_of(&t, -1, got, sizeof(got));
        CHECK_STR(got, "h g f e d c b a", "by key, --desc");
        CHECK(t.nfields == 3 && !strcmp(t.fields[0], "r") && !strcmp(t.fields[1], "x") && !strcmp(t.fields[2], "value"),
              "default columns: the fields in order of appearance, then value");

        spate_buf_t b = { 0 };
        tail_entry_t *e = tail_map_get(&t.map, "g", 1);
        tail_json_line(&b, "g", 1, e);
        tail_json_line(&b, "k\"", 2, NULL);
        e = tail_map_put(&t.map, "p", 1, "{\n \"a\": 1\n}", 11);
        tail_analyze(&t, e);
        tail_json_line(&b, "p", 1, e);
        spate_buf_putc(&b, '\0');
        CHECK(!strcmp(b.data, "{\"key\": \"g\", \"value\": \"not json\"}\n{\"key\": \"k\\\"\", \"value\": null}\n"
                              "{\"key\": \"p\", \"value\": {\"a\":1}}\n"),
              "JSON lines: text as a string, tombstone null, a pretty value on one line");

        b.len = 0;
        t.sort = "r";
        t.desc = 0;
        put(&t, "w", "{\"r\": 1, \"x\": \"tab\\there\\u001b[2J\"}");
        tail_table(&t, &b, 40, 6, 0);
        spate_buf_putc(&b, '\0');
        CHECK(strstr(b.data, "t  10 keys") != NULL, "table header: topic and keys");
        CHECK(strstr(b.data, "tab\\there\\x1b[2J") != NULL, "control characters in values are escaped, not sent");
        int lines = 0;
        for (const char *p = b.data; *p; p++)
                lines += *p == '\n';
        CHECK(lines == 6, "the table fits 6 lines (%d)", lines);
        b.len = 0;
        tail_table(&t, &b, 40, 6, 1);
        spate_buf_putc(&b, '\0');
        CHECK(!strncmp(b.data, "\x1b[H", 3) && strstr(b.data, "\x1b[K\x1b[J") && !strstr(b.data, "\n\x1b[J"),
              "live frame: home first, clear to end, no newline after the last row");
        b.len = 0;
        put(&t, "0", "{\"r\": 0.30000000000000004}");
        tail_table(&t, &b, 80, 6, 0);
        spate_buf_putc(&b, '\0');
        CHECK(strstr(b.data, "\n0     0.3  ") && !strstr(b.data, "0.3000"), "the table shows floating-point noise to 10 digits");
        b.len = 0;
        tail_json_line(&b, "0", 1, tail_map_get(&t.map, "0", 1));
        spate_buf_putc(&b, '\0');
        CHECK(strstr(b.data, "0.30000000000000004") != NULL, "JSON lines keep the exact number");
        spate_buf_free(&b);
        tail_free(&t);
}

/* Epoch-ms fields named *_at or window_start/end show as UTC times in the table only. */
static void test_times(void) {
        tail_t t = { .topic = "t", .top = -1 };
        spate_buf_t b = { 0 };
        put(&t, "a", "{\"first_rain_at\": 1796163960000, \"count\": 1796163960000, \"fetched_at\": 42}");
        put(&t, "b", "{\"first_rain_at\": null}");
        tail_table(&t, &b, 120, 6, 0);
        spate_buf_putc(&b, '\0');
        CHECK(strstr(b.data, "2026-12-01 22:26:00Z") != NULL, "first_rain_at shows as a UTC time");
        CHECK(strstr(b.data, "1796163960000") != NULL, "a field not named as a time stays a number");
        CHECK(strstr(b.data, " 42") != NULL, "a small number in a time field is not a time");
        b.len = 0;
        tail_json_line(&b, "a", 1, tail_map_get(&t.map, "a", 1));
        spate_buf_putc(&b, '\0');
        CHECK(strstr(b.data, "1796163960000, \"count\"") != NULL, "JSON lines keep the epoch milliseconds");
        spate_buf_free(&b);
        tail_free(&t);
}

int main(void) {
        test_map();
        test_times();
        test_json();
        test_sort_and_output();
        return CHECK_DONE();
}
