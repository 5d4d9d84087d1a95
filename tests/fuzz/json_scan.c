/* json_scan.c - fuzzes the record decoder (serde/json_scan.c): the same bytes
 * decoded against a shape that extracts nested fields, arrays and raw text
 * (with and without the key-order hints of earlier inputs, which must give
 * the same values and errors), and validated without a shape; then the
 * number parser on its own. */
#include "fuzz.h"
#include "../../serde/json_scan.h"

static spate_shape_pool_t pool;
static spate_shape_t *shape;
/* kept across inputs, as a source keeps them across its records */
static spate_json_hints_t hints;

static void init(void) {
        static const char *const paths[] = {
                "temp", "city", "cur.temp", "cur.rain.1h", "cur.weather[].main",
                "minutely[].dt", "minutely[].precipitation", "xs[]", "nested[].w[].m",
                "raw=", "arr[]=", "obj.inner=", "k\"q", "\xc3\xa9"
        };
        shape = spate_shape_new(&pool, 1);
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
                fuzz_shape_path(&pool, shape, paths[i]);
}

/* Whether two decoded values are the same: types, numbers, bytes, raw text
 * and items, all the way down. */
static int same(const spate_value_t *x, const spate_value_t *y) {
        if (x->type != y->type || x->n != y->n || x->raw_len != y->raw_len ||
            (x->raw_len && memcmp(x->raw, y->raw, x->raw_len)))
                return 0;
        if (x->type == SPATE_V_NUM || x->type == SPATE_V_BOOL)
                return x->type == SPATE_V_NUM ? x->u.num == y->u.num : x->u.b == y->u.b;
        if (x->type == SPATE_V_STR)
                return !x->n || !memcmp(x->u.s, y->u.s, x->n);
        for (uint32_t i = 0; (x->type == SPATE_V_ARR || x->type == SPATE_V_OBJ) && i < x->n; i++)
                if (!same(&x->u.items[i], &y->u.items[i]))
                        return 0;
        return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *buf = (const char *)data;
        char err[256], hinted_err[256];
        spate_arena_t a;
        spate_value_t v, hv;
        double d;
        if (!shape)
                init();
        spate_arena_init(&a);
        int rc = spate_json_decode(shape, buf, size, &a, &v, err, sizeof(err));
        if (rc == 0)
                fuzz_touch(&v);
        /* the hints of earlier inputs change how keys are matched, never
         * what is decoded */
        int hinted_rc = spate_json_decode_hinted(shape, &hints, buf, size, &a, &hv, hinted_err,
                                                 sizeof(hinted_err));
        if (hinted_rc != rc || (rc ? strcmp(err, hinted_err) != 0 : !same(&v, &hv)))
                abort();
        if (spate_json_decode(NULL, buf, size, &a, &v, err, sizeof(err)) == 0)
                fuzz_touch(&v);
        spate_json_number(buf, size, &d);
        spate_arena_destroy(&a);
        return 0;
}
