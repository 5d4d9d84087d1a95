/* filter.c - the `filter` node: passes on the records whose `where:` is true. */
#include "../engine/node.h"

typedef struct filter {
        spate_expr_t *where;
} filter_t;

static const spate_prop_t filter_props[] = {
        { "where", SPATE_P_EXPR, 1, NULL, NULL, "condition a record must meet to pass, e.g. temp > 30" },
        { NULL }
};

static int filter_init(spate_node_t *n, char *errstr, size_t errstr_size) {
        filter_t *f = n->ctx;
        if (!(f->where = spate_node_expr(n, "where", n->in, errstr, errstr_size)))
                return -1;
        n->out = n->in;
        return 0;
}

static int filter_process(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx) {
        filter_t *f = n->ctx;
        spate_value_t v;
        char err[512];
        if (spate_expr_eval(f->where, rec, spate_ctx_arena(ctx), &v, err, sizeof(err)))
                return spate_ctx_fail(ctx, n, "%s", err);
        return spate_value_truthy(&v) ? spate_emit(n, rec, ctx) : 0;
}

static void filter_destroy(spate_node_t *n) {
        filter_t *f = n->ctx;
        spate_expr_destroy(f->where);
}

const spate_op_def_t spate_op_filter = {
        .name = "filter",
        .role = SPATE_ROLE_OPERATOR,
        .doc = "Keeps the records for which `where` is true (false, null, 0 and \"\" drop).",
        .props = filter_props,
        .ctx_size = sizeof(filter_t),
        .init = filter_init,
        .process = filter_process,
        .destroy = filter_destroy,
};
