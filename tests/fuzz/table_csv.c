/* table_csv.c - fuzzes the CSV cells of file tables (connectors/table/table_file.c,
 * untrusted files) and the row codec of the table store (state/table.c): a line's
 * cells encode into a row that decodes back to the same values, and any bytes
 * decode as a row or are refused, never read out of bounds. */
#include "fuzz.h"
#include "../../connectors/table/table_int.h"

static int same(const spate_value_t *a, const spate_value_t *b) {
        if (a->type != b->type)
                return 0;
        if (a->type == SPATE_V_STR)
                return a->n == b->n && !memcmp(a->u.s, b->u.s, a->n);
        if (a->type == SPATE_V_NUM)
                return !memcmp(&a->u.num, &b->u.num, sizeof(double));
        return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        spate_arena_t a;
        spate_buf_t b = { 0 };
        spate_value_t *cells, back[64];
        const char *why;
        spate_arena_init(&a);
        int n = spate_table_csv_cells((const char *)data, size, &a, &cells, &why);
        if (n > 0) {
                int k = n < 64 ? n : 64;
                spate_table_row_encode(cells, k, &b);
                if (spate_table_row_decode(b.data, b.len, back, k)) {
                        fprintf(stderr, "table row: the encoding of %d cells does not decode\n", k);
                        abort();
                }
                for (int i = 0; i < k; i++)
                        if (!same(&cells[i], &back[i])) {
                                fprintf(stderr, "table row: cell %d does not decode to itself\n", i);
                                abort();
                        }
        }
        spate_table_row_decode(data, size, back, 64);
        spate_buf_free(&b);
        spate_arena_destroy(&a);
        return 0;
}
