/* expr.c - fuzzes the expression language (expr/expr_*.c): the input's first
 * line is compiled against an open shape, the rest decoded as the record's
 * JSON by that shape (as the engine does), and the expression evaluated on it.
 * An input without a newline is evaluated on the record below. */
#include "fuzz.h"
#include "../../expr/expr.h"
#include "../../serde/json_scan.h"

static const char DOC[] =
        "{\"temp\": 31.5, \"city\": \"Copenhagen\", \"n\": 3, \"zero\": 0, \"neg\": -7, \"s_num\": \"42.5\","
        " \"t\": true, \"f\": false, \"nil\": null, \"big\": 1e308, \"tiny\": -5e-324,"
        " \"cur\": {\"temp\": 17.27, \"rain\": {\"1h\": 0.1}, \"weather\": [{\"main\": \"Clouds\"}]},"
        " \"min\": [{\"dt\": 100, \"p\": 0}, {\"dt\": 160, \"p\": 0.5}, {\"dt\": 220}, {\"p\": null}],"
        " \"xs\": [1, 2, 3, 4], \"strs\": [\"b\", \"a\", \"\\u00e9\\n\"], \"empty\": [],"
        " \"nested\": [{\"w\": [{\"m\": \"a\"}, {\"m\": \"b\"}]}, {\"w\": []}],"
        " \"when\": \"2026-11-23T10:00:00Z\", \"pad\": \"  hi there \\t\", \"weird-name\": 5}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint8_t *nl = memchr(data, '\n', size);
        size_t slen = nl ? (size_t)(nl - data) : size;
        const char *json = nl ? (const char *)nl + 1 : DOC;
        size_t jlen = nl ? size - slen - 1 : sizeof(DOC) - 1;
        char *src = fuzz_strndup(data, slen), err[512];
        spate_shape_pool_t pool = { 0 };
        spate_arena_t a;
        spate_expr_env_t env = { .pool = &pool, .input = spate_shape_new(&pool, 1),
                                 .file = "fuzz.yaml", .line = 3, .col = 10 };
        spate_record_t rec = { .key = "k1", .key_len = 2, .ts = 1700000000123LL };
        spate_value_t out;

        spate_arena_init(&a);
        spate_expr_t *e = spate_expr_compile(src, &env, err, sizeof(err));
        if (e) {
                spate_expr_type(e);
                spate_expr_passthrough(e);
                if (spate_json_decode(env.input, json, jlen, &a, &rec.value, err, sizeof(err)) == 0 &&
                    spate_expr_eval(e, &rec, &a, &out, err, sizeof(err)) == 0)
                        fuzz_touch(&out);
        }
        spate_expr_destroy(e);
        spate_arena_destroy(&a);
        spate_shape_pool_destroy(&pool);
        free(src);
        return 0;
}
