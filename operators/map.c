/* map.c - the `map` node: builds a new record from named expressions. */
#include "../engine/node.h"

#include <stdlib.h>
#include <string.h>

typedef struct map {
        spate_expr_t **exprs;
        int n;
} map_t;

static const spate_prop_t map_props[] = {
        { "fields", SPATE_P_MAP, 1, NULL, NULL,
          "output field name -> expression, in output order (a bare path passes a value through)" },
        { NULL }
};

static int map_init(spate_node_t *n, char *errstr, size_t errstr_size) {
        map_t *m = n->ctx;
        const spate_yaml_t *fields = spate_node_param(n, "fields");
        spate_shape_pool_t *pool = spate_node_shapes(n);

        if (!fields->n)
                return spate_node_error(n, fields, errstr, errstr_size, "'fields' is empty");
        m->exprs = calloc((size_t)fields->n, sizeof(*m->exprs));
        n->out = spate_shape_new(pool, 0);
        for (int i = 0; i < fields->n; i++) {
                spate_expr_t *e = spate_node_compile(n, fields->items[i], n->in, errstr, errstr_size);
                if (!e)
                        return -1;
                m->exprs[m->n++] = e;
                spate_shape_add(pool, n->out, fields->keys[i]->value, spate_expr_passthrough(e),
                                spate_expr_type(e));
        }
        return 0;
}

static int map_process(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx) {
        map_t *m = n->ctx;
        spate_arena_t *a = spate_ctx_arena(ctx);
        spate_record_t out = *rec;
        char err[512];

        /* Fields later nodes compute in place get their slots too. */
        size_t nf = (size_t)n->out->nfields;
        out.value.type = SPATE_V_OBJ;
        out.value.n = (uint32_t)nf;
        out.value.raw = NULL;
        out.value.u.items = spate_arena_alloc(a, sizeof(spate_value_t) * nf);
        memset(out.value.u.items + m->n, 0, sizeof(spate_value_t) * (nf - (size_t)m->n));
        for (int i = 0; i < m->n; i++)
                if (spate_expr_eval(m->exprs[i], rec, a, &out.value.u.items[i], err, sizeof(err)))
                        return spate_ctx_fail(ctx, n, "%s", err);
        return spate_emit(n, &out, ctx);
}

static void map_destroy(spate_node_t *n) {
        map_t *m = n->ctx;
        for (int i = 0; i < m->n; i++)
                spate_expr_destroy(m->exprs[i]);
        free(m->exprs);
}

const spate_op_def_t spate_op_map = {
        .name = "map",
        .role = SPATE_ROLE_OPERATOR,
        .doc = "Replaces each record by one with the listed fields, each computed by an expression.",
        .props = map_props,
        .ctx_size = sizeof(map_t),
        .init = map_init,
        .process = map_process,
        .destroy = map_destroy,
};
