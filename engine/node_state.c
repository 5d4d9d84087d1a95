/* node_state.c - a node's state providers (node_state.h): attaching them,
 * and running their part of a task's life beside the node's own hooks. */
#include "node_state.h"
#include "../util/mem.h"

#include <stdlib.h>

void spate_node_add_state(spate_node_t *n, const spate_state_ops_t *ops, void *data) {
        n->states = spate_xrealloc(n->states, sizeof(*n->states) * (size_t)(n->nstates + 1));
        n->states[n->nstates++] = (spate_node_state_t){ ops, data };
}

void *spate_node_state(const spate_node_t *n, const spate_state_ops_t *ops) {
        for (int i = 0; i < n->nstates; i++)
                if (n->states[i].ops == ops)
                        return n->states[i].data;
        return NULL;
}

int spate_node_assign(spate_node_t *n, const char *topic, int32_t partition, spate_ctx_t *ctx) {
        for (int i = 0; i < n->nstates; i++) {
                const spate_state_ops_t *ops = n->states[i].ops;
                if (ops->assign && ops->assign(n, topic, partition, ctx))
                        return -1;
        }
        return n->def->assign ? n->def->assign(n, topic, partition, ctx) : 0;
}

int spate_node_assigned(spate_node_t *n, spate_ctx_t *ctx) {
        for (int i = 0; i < n->nstates; i++) {
                const spate_state_ops_t *ops = n->states[i].ops;
                if (ops->assigned && ops->assigned(n, ctx))
                        return -1;
        }
        return n->def->assigned ? n->def->assigned(n, ctx) : 0;
}

void spate_node_revoke(spate_node_t *n, const char *topic, int32_t partition, spate_ctx_t *ctx) {
        if (n->def->revoke)
                n->def->revoke(n, topic, partition, ctx);
        for (int i = 0; i < n->nstates; i++)
                if (n->states[i].ops->revoke)
                        n->states[i].ops->revoke(n, topic, partition, ctx);
}

int spate_node_has_standbys(const spate_node_t *n) {
        for (int i = 0; i < n->nstates; i++)
                if (n->states[i].ops->standbys)
                        return 1;
        return 0;
}

int spate_node_standbys(spate_node_t *n, spate_ctx_t *ctx, spate_standby_want_cb want,
                        spate_standby_follow_cb follow, void *opaque) {
        for (int i = 0; i < n->nstates; i++) {
                const spate_state_ops_t *ops = n->states[i].ops;
                if (ops->standbys && ops->standbys(n, ctx, want, follow, opaque))
                        return -1;
        }
        return 0;
}

int spate_node_standby_apply(spate_node_t *n, const char *topic, int32_t partition, const void *key,
                             size_t klen, const void *val, size_t vlen, int64_t offset, char *errstr,
                             size_t errstr_size) {
        for (int i = 0; i < n->nstates; i++) {
                const spate_state_ops_t *ops = n->states[i].ops;
                int rc = ops->standby_apply ? ops->standby_apply(n, topic, partition, key, klen, val, vlen,
                                                                 offset, errstr, errstr_size) : 1;
                if (rc != 1)
                        return rc;
        }
        return 1;
}

int spate_node_standby_write(spate_node_t *n, char *errstr, size_t errstr_size) {
        for (int i = 0; i < n->nstates; i++) {
                const spate_state_ops_t *ops = n->states[i].ops;
                if (ops->standby_write && ops->standby_write(n, errstr, errstr_size))
                        return -1;
        }
        return 0;
}

void spate_node_state_free(spate_node_t *n) {
        for (int i = 0; i < n->nstates; i++)
                if (n->states[i].ops->free)
                        n->states[i].ops->free(n);
        free(n->states);
        n->states = NULL;
        n->nstates = 0;
}
