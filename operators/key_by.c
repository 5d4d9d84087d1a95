/* key_by.c - the `key_by` node: sets the record key from an expression. */
#include "../engine/node.h"

typedef struct key_by {
        spate_expr_t *key;
} key_by_t;

static const spate_prop_t key_by_props[] = {
        { "key", SPATE_P_EXPR, 1, NULL, NULL, "the new key; numbers are written in shortest form" },
        { NULL }
};

static int key_by_init(spate_node_t *n, char *errstr, size_t errstr_size) {
        key_by_t *k = n->ctx;
        if (!(k->key = spate_node_expr_typed(n, "key", n->in, SPATE_KEY_TYPES,
                                                "a string, number or bool", errstr, errstr_size)))
                return -1;
        n->out = n->in;
        return 0;
}

static int key_by_process(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx) {
        key_by_t *k = n->ctx;
        spate_value_t v;
        spate_record_t out = *rec;
        char err[512];
        if (spate_expr_eval(k->key, rec, spate_ctx_arena(ctx), &v, err, sizeof(err)))
                return spate_ctx_fail(ctx, n, "%s", err);
        if (spate_value_to_key(&v, spate_ctx_arena(ctx), &out.key, &out.key_len))
                return spate_ctx_fail(ctx, n, "key '%s' is %s, not a string, number or bool",
                                      spate_expr_text(k->key), spate_vtype_name(v.type));
        return spate_emit(n, &out, ctx);
}

static void key_by_destroy(spate_node_t *n) {
        key_by_t *k = n->ctx;
        spate_expr_destroy(k->key);
}

const spate_op_def_t spate_op_key_by = {
        .name = "key_by",
        .role = SPATE_ROLE_OPERATOR,
        .doc = "Sets the record key (what sinks write as the Kafka key and windows group by by default).",
        .props = key_by_props,
        .ctx_size = sizeof(key_by_t),
        .init = key_by_init,
        .process = key_by_process,
        .destroy = key_by_destroy,
        .sets_key = 1,
};
