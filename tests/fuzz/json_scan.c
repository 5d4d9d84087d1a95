/* json_scan.c - fuzzes the record decoder (serde/json_scan.c): the same bytes
 * decoded against a shape that extracts nested fields, arrays and raw text
 * (with and without the key-order hints of earlier inputs), and validated
 * without a shape; then the number parser on its own. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *buf = (const char *)data;
        char err[256];
        spate_arena_t a;
        spate_value_t v;
        double d;
        if (!shape)
                init();
        spate_arena_init(&a);
        if (spate_json_decode(shape, buf, size, &a, &v, err, sizeof(err)) == 0)
                fuzz_touch(&v);
        if (spate_json_decode(NULL, buf, size, &a, &v, err, sizeof(err)) == 0)
                fuzz_touch(&v);
        if (spate_json_decode_hinted(shape, &hints, buf, size, &a, &v, err, sizeof(err)) == 0)
                fuzz_touch(&v);
        spate_json_number(buf, size, &d);
        spate_arena_destroy(&a);
        return 0;
}
