/* commit_phase.h - the hooks of a commit - the nodes' own (node.h) and their
 * state providers' (node_state.h) - run over a topology's nodes in one place
 * for the engine (engine_commit.c) and the test driver. The order of a commit
 * (docs/exactness.md §1): FLUSH, wait for every acknowledgement, SEAL, wait
 * again, CHECKPOINT, commit the input offsets; the waits and the offsets are
 * the caller's. */
#ifndef SPATE_COMMIT_PHASE_H
#define SPATE_COMMIT_PHASE_H

#include "node.h"

typedef enum {
        SPATE_PHASE_FLUSH,       /* node.h flush, then the providers' changelog records */
        SPATE_PHASE_SEAL,        /* the providers' meta records */
        SPATE_PHASE_CHECKPOINT   /* node.h checkpoint, then the providers' RocksDB batches */
} spate_commit_phase_t;

/* Runs phase on every node of topo in topology order (upstream first): the
 * node's hook if it has one, then its providers' in the order attached. Stops
 * at the first failure, logs "<phase> of node '<name>' failed: <ctx->errstr>"
 * and returns -1, ctx->errstr left as the node set it; 0 when every node
 * succeeded. */
int spate_commit_phase_run(spate_topology_t *topo, spate_commit_phase_t phase, spate_ctx_t *ctx);

#endif
