/* commit_phase.c - runs one phase of a commit (flush, seal, checkpoint) over
 * the nodes and their state providers, the same way for the engine and the
 * test driver. */
#include "commit_phase.h"
#include "ctx.h"
#include "node_state.h"
#include "topology.h"
#include "../util/log.h"

typedef int (*phase_fn)(spate_node_t *n, spate_ctx_t *ctx);

static const char *const phase_names[] = {
        [SPATE_PHASE_FLUSH] = "flush",
        [SPATE_PHASE_SEAL] = "seal",
        [SPATE_PHASE_CHECKPOINT] = "checkpoint",
};

/* The node's own hook for phase (sealing is state's alone). */
static phase_fn node_hook(const spate_op_def_t *def, spate_commit_phase_t phase) {
        switch (phase) {
        case SPATE_PHASE_FLUSH: return def->flush;
        case SPATE_PHASE_SEAL: return NULL;
        case SPATE_PHASE_CHECKPOINT: return def->checkpoint;
        }
        return NULL;
}

static phase_fn state_hook(const spate_state_ops_t *ops, spate_commit_phase_t phase) {
        switch (phase) {
        case SPATE_PHASE_FLUSH: return ops->flush;
        case SPATE_PHASE_SEAL: return ops->seal;
        case SPATE_PHASE_CHECKPOINT: return ops->checkpoint;
        }
        return NULL;
}

static int run_node(spate_node_t *n, spate_commit_phase_t phase, spate_ctx_t *ctx) {
        phase_fn hook = node_hook(n->def, phase);
        if (hook && hook(n, ctx))
                return -1;
        for (int i = 0; i < n->nstates; i++)
                if ((hook = state_hook(n->states[i].ops, phase)) && hook(n, ctx))
                        return -1;
        return 0;
}

int spate_commit_phase_run(spate_topology_t *topo, spate_commit_phase_t phase, spate_ctx_t *ctx) {
        for (int i = 0; i < topo->nnodes; i++) {
                spate_node_t *n = topo->nodes[i];
                if (run_node(n, phase, ctx)) {
                        spate_err("%s of node '%s' failed: %s", phase_names[phase], n->name, ctx->errstr);
                        return -1;
                }
        }
        return 0;
}
