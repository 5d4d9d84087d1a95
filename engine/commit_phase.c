/* commit_phase.c - runs one phase of a commit (flush, seal, checkpoint) over
 * the nodes, the same way for the engine and the test driver. */
#include "commit_phase.h"
#include "ctx.h"
#include "topology.h"
#include "../state/kv.h"
#include "../util/log.h"

typedef int (*phase_fn)(spate_node_t *n, spate_ctx_t *ctx);

static const struct {
        const char *name;
        phase_fn stores;   /* the engine stores' part (state/kv.h) */
} phases[] = {
        [SPATE_PHASE_FLUSH] = { "flush", spate_kv_node_flush },
        [SPATE_PHASE_SEAL] = { "seal", spate_kv_node_seal },
        [SPATE_PHASE_CHECKPOINT] = { "checkpoint", spate_kv_node_checkpoint },
};

static phase_fn node_hook(const spate_op_def_t *def, spate_commit_phase_t phase) {
        switch (phase) {
        case SPATE_PHASE_FLUSH: return def->flush;
        case SPATE_PHASE_SEAL: return def->seal;
        case SPATE_PHASE_CHECKPOINT: return def->checkpoint;
        }
        return NULL;
}

int spate_commit_phase_run(spate_topology_t *topo, spate_commit_phase_t phase, spate_ctx_t *ctx) {
        for (int i = 0; i < topo->nnodes; i++) {
                spate_node_t *n = topo->nodes[i];
                phase_fn hook = node_hook(n->def, phase);
                if ((hook && hook(n, ctx)) || phases[phase].stores(n, ctx)) {
                        spate_err("%s of node '%s' failed: %s", phases[phase].name, n->name, ctx->errstr);
                        return -1;
                }
        }
        return 0;
}
