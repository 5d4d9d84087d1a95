/* explode.c - the `explode` node: one record per element of an array field,
 * carrying chosen fields of the parent (the 61 `minutely` entries of a
 * One Call response become 61 records). */
#include "../engine/node.h"

#include <stdlib.h>
#include <string.h>

typedef struct explode {
        spate_expr_t *path;
        spate_expr_t **keep;
        int nkeep;
        const char *as, *index_as;  /* bound; index_as NULL: no index field */
} explode_t;

static const spate_prop_t explode_props[] = {
        { "path", SPATE_P_EXPR, 1, NULL, NULL, "the array to split, e.g. minutely" },
        { "as", SPATE_P_STR, 0, "item", NULL, "name of the element field in the output" },
        { "keep", SPATE_P_MAP, 0, NULL, NULL, "output field -> expression over the parent, copied into every element record" },
        { "index_as", SPATE_P_STR, 0, NULL, NULL, "if set, the element's 0-based position is written to this field" },
        { NULL }
};

static const spate_bind_t explode_binds[] = {
        SPATE_BIND("as", explode_t, as),
        SPATE_BIND("index_as", explode_t, index_as),
        { NULL }
};

static int explode_init(spate_node_t *n, char *errstr, size_t errstr_size) {
        explode_t *x = n->ctx;
        const spate_yaml_t *keep = spate_node_param(n, "keep");
        spate_shape_pool_t *pool = spate_node_shapes(n);
        spate_shape_t *arr;

        if (!(x->path = spate_node_expr(n, "path", n->in, errstr, errstr_size)))
                return -1;
        n->out = spate_shape_new(pool, 0);
        if (keep) {
                x->keep = calloc((size_t)keep->n, sizeof(*x->keep));
                for (int i = 0; i < keep->n; i++) {
                        spate_expr_t *e = spate_node_compile(n, keep->items[i], n->in, errstr, errstr_size);
                        if (!e)
                                return -1;
                        x->keep[x->nkeep++] = e;
                        spate_shape_add(pool, n->out, keep->keys[i]->value, spate_expr_passthrough(e),
                                        spate_expr_type(e));
                }
        }
        /* The element shape is the array's, so fields downstream reads from
         * the element are decoded from the input and nothing else. */
        arr = spate_expr_passthrough(x->path);
        spate_shape_add(pool, n->out, x->as, arr ? spate_shape_elem(pool, arr) : NULL, SPATE_V_MISSING);
        if (x->index_as)
                spate_shape_add(pool, n->out, x->index_as, NULL, SPATE_V_NUM);
        return 0;
}

static int explode_process(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx) {
        explode_t *x = n->ctx;
        spate_arena_t *a = spate_ctx_arena(ctx);
        spate_value_t arr;
        spate_record_t out = *rec;
        int nout = n->out->nfields; /* includes fields later nodes compute in place */
        char err[512];

        if (spate_expr_eval(x->path, rec, a, &arr, err, sizeof(err)))
                return spate_ctx_fail(ctx, n, "%s", err);
        if (arr.type == SPATE_V_NULL)
                return 0;
        if (arr.type != SPATE_V_ARR)
                return spate_ctx_fail(ctx, n, "'%s' is %s, not an array", spate_expr_text(x->path),
                                      spate_vtype_name(arr.type));
        spate_value_t *items = spate_arena_alloc(a, sizeof(spate_value_t) * (size_t)nout);
        memset(items, 0, sizeof(spate_value_t) * (size_t)nout);
        for (int i = 0; i < x->nkeep; i++)
                if (spate_expr_eval(x->keep[i], rec, a, &items[i], err, sizeof(err)))
                        return spate_ctx_fail(ctx, n, "%s", err);
        memset(&out.value, 0, sizeof(out.value));
        out.value.type = SPATE_V_OBJ;
        out.value.n = (uint32_t)nout;
        out.value.u.items = items;
        for (uint32_t e = 0; e < arr.n; e++) {
                items[x->nkeep] = arr.u.items[e];
                if (x->index_as)
                        items[x->nkeep + 1] = spate_value_num(e);
                if (spate_emit(n, &out, ctx))
                        return -1;
        }
        return 0;
}

static void explode_destroy(spate_node_t *n) {
        explode_t *x = n->ctx;
        spate_expr_destroy(x->path);
        for (int i = 0; i < x->nkeep; i++)
                spate_expr_destroy(x->keep[i]);
        free(x->keep);
}

const spate_op_def_t spate_op_explode = {
        .name = "explode",
        .role = SPATE_ROLE_OPERATOR,
        .doc = "Emits one record per element of an array, with parent fields kept alongside.",
        .props = explode_props,
        .binds = explode_binds,
        .ctx_size = sizeof(explode_t),
        .init = explode_init,
        .process = explode_process,
        .destroy = explode_destroy,
};
