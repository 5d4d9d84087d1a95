/* sql_cell.c - fuzzes sql_sink's conversion of record values to database
 * cells (connectors/sql/sql_sink.c spate_sql_cell) for every column type:
 * the values of a JSON record (any field: numbers such as 1e999, strings
 * with NULs, raw arrays), then the first 8 bytes as a double (NaN and
 * infinities an expression can yield). Checks what the backends rely on:
 * a cell's text is readable for its whole length, a timestamp is ISO 8601
 * UTC, a bigint cell holds the number exactly. */
#include "fuzz.h"
#include "../../connectors/sql/sql.h"
#include "../../serde/json_scan.h"

static spate_shape_pool_t pool;
static spate_shape_t *shape;

static void init(void) {
        static const char *const paths[] = { "n", "s", "t", "b", "arr=", "obj=", "deep.x", "xs[]" };
        shape = spate_shape_new(&pool, 1);
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
                fuzz_shape_path(&pool, shape, paths[i]);
}

static void convert(spate_arena_t *a, const spate_value_t *v) {
        static const char *const names[] = { "c_text", "c_bigint", "c_double", "c_bool", "c_ts" };
        char err[256], buf[64];
        for (int t = SQL_T_TEXT; t <= SQL_T_TIMESTAMP; t++) {
                sql_col_t col = { names[t], (sql_type_t)t, "" };
                sql_cell_t c;
                int len;
                if (spate_sql_cell(a, &col, v, &c, err, sizeof(err))) {
                        if (!strstr(err, names[t]))  /* the error names the column */
                                abort();
                        continue;
                }
                const char *s = spate_sql_cell_text(&c, buf, sizeof(buf), &len);
                unsigned h = 0;
                for (int i = 0; s && i < len; i++)
                        h = h * 31 + (unsigned char)s[i];
                if (t == SQL_T_TIMESTAMP && v->type == SPATE_V_NUM &&
                    (c.kind != SQL_TEXT || c.len != 24 || s[4] != '-' || s[10] != 'T' || s[23] != 'Z'))
                        abort();
                if (t == SQL_T_BIGINT && v->type == SPATE_V_NUM && (c.kind != SQL_INT || (double)c.u.i != v->u.num))
                        abort();
                (void)h;
        }
        if (v->type == SPATE_V_ARR || v->type == SPATE_V_OBJ)
                for (uint32_t i = 0; i < v->n; i++)
                        convert(a, &v->u.items[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char err[256];
        spate_arena_t a;
        spate_value_t v;
        double d;
        if (!shape)
                init();
        spate_arena_init(&a);
        if (spate_json_decode(shape, (const char *)data, size, &a, &v, err, sizeof(err)) == 0)
                convert(&a, &v);
        if (size >= sizeof(d)) {
                memcpy(&d, data, sizeof(d));
                v = spate_value_num(d);
                convert(&a, &v);
        }
        spate_arena_destroy(&a);
        return 0;
}
