/* join.c - the `join` node: a stream-table lookup. Each record computes a
 * key, reads that row of a `table` node, and goes on with the fields picked
 * from the row added (nulls where the row is missing, for a left join), or
 * to the DLQ with the reason (inner). The key is any expression,
 * so one join reads the row of another time: an as-of lookup such as
 * concat(region, '@', iso(window_start - 3h)). */
#include "../connectors/table/table.h"
#include "../engine/node.h"

#include <stdlib.h>
#include <string.h>

#define JOIN_COLS_MAX 256  /* row columns decoded per lookup */

typedef struct pick {
        int col;   /* table row column */
        int slot;  /* output field */
} pick_t;

typedef struct join {
        spate_expr_t *key;
        const spate_table_t *rows;
        const char *table;
        int inner;
        pick_t *picks;
        int npicks, ncols;  /* ncols: row columns to decode (the highest picked + 1) */
        int nslots;         /* the record's fields up to the highest picked slot */
} join_t;

static const spate_prop_t join_props[] = {
        { "table", SPATE_P_STR, 1, NULL, NULL, "the table node to look up" },
        { "key", SPATE_P_EXPR, 1, NULL, NULL,
          "the row's key, computed from the record (e.g. station, or concat(region, '@', iso(window_start - 3h)))" },
        { "how", SPATE_P_ENUM, 0, "left", "left|inner",
          "left: a record without a row goes on with nulls; inner: it goes to the DLQ" },
        { "fields", SPATE_P_MAP, 0, NULL, NULL, "output field -> table column to pick (default: every declared column)" },
        { "prefix", SPATE_P_STR, 0, "", NULL, "put before each output field's name (station_ -> station_name)" },
        { NULL }
};

static int add_pick(spate_node_t *n, spate_node_t *tn, const spate_yaml_t *where, const char *out,
                    const char *col, char *errstr, size_t errstr_size) {
        join_t *j = n->ctx;
        char name[512], cols[1024];
        int c = spate_table_node_column(tn, col);
        if (c < 0) {
                spate_shape_names(tn->out, cols, sizeof(cols));
                return spate_node_error(n, where, errstr, errstr_size, "table '%s' has no column '%s' (its "
                                        "columns: %s)", tn->name, col, cols);
        }
        if (c >= JOIN_COLS_MAX)
                return spate_node_error(n, where, errstr, errstr_size, "column '%s' of table '%s' is past the "
                                        "first %d a join can pick", col, tn->name, JOIN_COLS_MAX);
        snprintf(name, sizeof(name), "%s%s", spate_node_str(n, "prefix"), out);
        j->picks[j->npicks].col = c;
        j->picks[j->npicks++].slot = spate_shape_add_computed(spate_node_shapes(n), n->out, name,
                                                              SPATE_V_MISSING);
        if (c + 1 > j->ncols)
                j->ncols = c + 1;
        if (j->picks[j->npicks - 1].slot + 1 > j->nslots)
                j->nslots = j->picks[j->npicks - 1].slot + 1;
        return 0;
}

static int join_init(spate_node_t *n, char *errstr, size_t errstr_size) {
        join_t *j = n->ctx;
        const spate_yaml_t *fields = spate_node_param(n, "fields");
        j->table = spate_node_str(n, "table");
        spate_node_t *tn = spate_table_node_find(n, spate_node_param(n, "table"), j->table, errstr, errstr_size);
        if (!tn)
                return -1;
        const spate_yaml_t *cols = spate_table_node_columns(tn);
        if (!fields && !cols)
                return spate_node_error(n, NULL, errstr, errstr_size, "name the columns to pick with 'fields:' "
                                        "(table '%s' declares no 'columns:')", tn->name);
        if (!(j->key = spate_node_expr_typed(n, "key", n->in, SPATE_KEY_TYPES, "a string, number or bool",
                                             errstr, errstr_size)))
                return -1;
        j->inner = !strcmp(spate_node_str(n, "how"), "inner");
        j->rows = spate_table_node_rows(tn);
        n->out = n->in;
        const spate_yaml_t *list = fields ? fields : cols;
        if (!(j->picks = calloc((size_t)list->n, sizeof(*j->picks))))
                return spate_node_error(n, NULL, errstr, errstr_size, "out of memory");
        for (int i = 0; i < list->n; i++) {
                const spate_yaml_t *v = list->items[i];
                if (v->kind != SPATE_YAML_SCALAR)
                        return spate_node_error(n, v, errstr, errstr_size, "a table column name is wanted here");
                if (add_pick(n, tn, v, fields ? fields->keys[i]->value : v->value, v->value, errstr,
                             errstr_size))
                        return -1;
        }
        return 0;
}

static int join_process(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx) {
        join_t *j = n->ctx;
        spate_arena_t *a = spate_ctx_arena(ctx);
        spate_value_t kv, cols[JOIN_COLS_MAX];
        const char *key = NULL;
        const void *row = NULL;
        size_t klen = 0, rlen = 0;
        char err[512];
        if (spate_expr_eval(j->key, rec, a, &kv, err, sizeof(err)))
                return spate_ctx_fail(ctx, n, "key: %s", err);
        if (kv.type != SPATE_V_NULL && kv.type != SPATE_V_MISSING &&
            spate_value_to_key(&kv, a, &key, &klen))
                return spate_ctx_fail(ctx, n, "the key '%s' is %s, not a string, number or bool",
                                      spate_expr_text(j->key), spate_vtype_name(kv.type));
        if (key)
                row = spate_table_get(j->rows, key, klen, &rlen);
        if (!row && j->inner)
                return key ? spate_ctx_fail(ctx, n, "no row for key %.*s in table %s", (int)klen, key, j->table)
                           : spate_ctx_fail(ctx, n, "the key '%s' is null: no row in table %s",
                                            spate_expr_text(j->key), j->table);
        if (rec->value.type != SPATE_V_OBJ || (int)rec->value.n < j->nslots)
                return spate_ctx_fail(ctx, n, "the record is not an object");
        if (row && spate_table_row_decode(row, rlen, cols, j->ncols))
                return spate_ctx_fail(ctx, n, "the row for key %.*s in table %s is corrupt", (int)klen, key,
                                      j->table);
        /* A copy of the fields: at a fan-out upstream, the sibling branches
         * share rec and must not see this branch's columns. */
        spate_record_t out = *rec;
        out.value.u.items = spate_arena_memdup(a, rec->value.u.items, sizeof(spate_value_t) * rec->value.n);
        for (int i = 0; i < j->npicks; i++) {
                spate_value_t *slot = &out.value.u.items[j->picks[i].slot];
                if (row) {
                        *slot = cols[j->picks[i].col];
                } else {
                        memset(slot, 0, sizeof(*slot));
                        slot->type = SPATE_V_NULL;
                }
        }
        return spate_emit(n, &out, ctx);
}

static void join_destroy(spate_node_t *n) {
        join_t *j = n->ctx;
        spate_expr_destroy(j->key);
        free(j->picks);
}

const spate_op_def_t spate_op_join = {
        .name = "join",
        .role = SPATE_ROLE_OPERATOR,
        .doc = "Looks up a table node by a key computed from the record and adds the picked columns "
               "(left: nulls without a row; inner: the record goes to the DLQ).",
        .props = join_props,
        .ctx_size = sizeof(join_t),
        .init = join_init,
        .process = join_process,
        .destroy = join_destroy,
};
