/* node_state.h - how the engine drives a node's state: a node attaches state
 * providers at init (the key-value stores of state/kv.c, a window's tasks),
 * and the engine - and the test driver - run each provider's part of a task's
 * life (restore at assignment, the commit's changelog, seal and checkpoint,
 * revocation, standby replicas) beside the node's own hooks of node.h, in
 * one order for every caller. The engine knows no store kind: a provider is
 * this table of functions. docs/stores.md, "State providers". */
#ifndef SPATE_NODE_STATE_H
#define SPATE_NODE_STATE_H

#include "node.h"

#include <stddef.h>
#include <stdint.h>

/* Standbys: whether this instance keeps a warm copy of the task that is
 * partition `partition` of `topic` (the state's input, of npartitions): 1 or
 * 0; and a changelog partition to read from `from`. */
typedef int (*spate_standby_want_cb)(void *opaque, const char *topic, int32_t partition, int npartitions);
typedef void (*spate_standby_follow_cb)(void *opaque, const char *changelog, int32_t partition, int64_t from);

/* One kind of state. Every entry is optional. A task is a partition of the
 * state's input topic; every entry receives the topics of every assignment
 * and ignores those that are not its input. The provider finds its own data
 * with spate_node_state(n, ops). */
typedef struct spate_state_ops {
        /* A partition was assigned: restore that task's state (local copy,
         * then the changelog past it) before any of its records arrive, after
         * stopping the task's standby. 0, or -1 with ctx->errstr. */
        int (*assign)(spate_node_t *n, const char *topic, int32_t partition, spate_ctx_t *ctx);
        /* After every assign() of one rebalance: what they left running (a
         * pipelined restore's last apply) completes. 0, or -1 with ctx->errstr. */
        int (*assigned)(spate_node_t *n, spate_ctx_t *ctx);
        /* The partition moves away, after a commit: the task's memory goes
         * (its column family stays, a local checkpoint for later). */
        void (*revoke)(spate_node_t *n, const char *topic, int32_t partition, spate_ctx_t *ctx);
        /* Commit, phase 1 (commit_phase.h): the changelog records of what
         * changed since the last commit (and the outputs that go with them:
         * a window's updates); the engine then waits for every acknowledgement. */
        int (*flush)(spate_node_t *n, spate_ctx_t *ctx);
        /* Commit, phase 1b, after every node's flush and its acknowledgements:
         * the meta record that makes the changelog frame count. A frame must
         * not count before the outputs derived from it are durable (Kafka
         * outputs acknowledged, a downstream SQL sink's transaction
         * committed), or a crash in between would restore a state that skips
         * the replay of records whose outputs were lost. */
        int (*seal)(spate_node_t *n, spate_ctx_t *ctx);
        /* Commit, phase 2, after those acknowledgements too: make the state
         * durable locally (one RocksDB batch with the changelog offset it now
         * reflects). Input offsets are committed after this returns. */
        int (*checkpoint)(spate_node_t *n, spate_ctx_t *ctx);
        /* Standby replicas (num_standby_replicas, engine/engine_standby.c,
         * docs/stores.md "Standbys"): warm copies, in the local RocksDB, of the
         * tasks owned elsewhere, applied from their changelogs one complete
         * commit at a time with the changelog offset reached, so that the
         * restore of a task assigned later reads only the tail. All three or
         * none. standbys: for every task not owned here, asks want once; a
         * task wanted gets a standby (from its column family's checkpoint) if
         * it had none, and follow is called for each of its changelog
         * partitions with the offset it reads next; a task not wanted stops
         * its standby, whose complete commits are written. 0, or -1 with
         * ctx->errstr. */
        int (*standbys)(spate_node_t *n, spate_ctx_t *ctx, spate_standby_want_cb want,
                        spate_standby_follow_cb follow, void *opaque);
        /* A changelog record: 1 when topic is none of this provider's
         * changelogs; 0 once staged, or ignored (no standby of that task; an
         * offset already read); -1 with errstr on a record it cannot read
         * (that task's standby stops until the next refresh). */
        int (*standby_apply)(spate_node_t *n, const char *topic, int32_t partition, const void *key,
                             size_t klen, const void *val, size_t vlen, int64_t offset, char *errstr,
                             size_t errstr_size);
        /* After a poll: writes the commits the standbys completed since the
         * last call, each task's as one atomic RocksDB write with its
         * checkpoint. 0, or -1 with errstr (the engine stops). */
        int (*standby_write)(spate_node_t *n, char *errstr, size_t errstr_size);
        /* With the node, before its destroy(): everything the provider holds,
         * its data included. */
        void (*free)(spate_node_t *n);
} spate_state_ops_t;

/* A provider attached to a node (n->states). */
typedef struct spate_node_state {
        const spate_state_ops_t *ops;
        void *data;
} spate_node_state_t;

/* --- node init --- */
/* Attaches provider ops, with its data (owned by the provider: its free()
 * releases it), to n. Providers run in the order attached. */
void spate_node_add_state(spate_node_t *n, const spate_state_ops_t *ops, void *data);
/* The data attached with ops, or NULL when n has no such provider. */
void *spate_node_state(const spate_node_t *n, const spate_state_ops_t *ops);

/* --- the engine's side (engine_group.c, engine_standby.c, topology.c,
 * commit_phase.c) and the test driver's --- */
/* Assignment of topic/partition: every provider's assign (the state is
 * restored), then the node's own (node.h). 0, or -1 with ctx->errstr. */
int spate_node_assign(spate_node_t *n, const char *topic, int32_t partition, spate_ctx_t *ctx);
/* After the assign() calls of one rebalance: the providers', then the node's. */
int spate_node_assigned(spate_node_t *n, spate_ctx_t *ctx);
/* Revocation: the node's own revoke first, then its providers'. */
void spate_node_revoke(spate_node_t *n, const char *topic, int32_t partition, spate_ctx_t *ctx);
/* 1 if a provider of n keeps standby replicas. */
int spate_node_has_standbys(const spate_node_t *n);
/* The providers' standbys(), standby_apply() (1 when no provider of n reads
 * topic, else the first answer) and standby_write(), as above. */
int spate_node_standbys(spate_node_t *n, spate_ctx_t *ctx, spate_standby_want_cb want,
                        spate_standby_follow_cb follow, void *opaque);
int spate_node_standby_apply(spate_node_t *n, const char *topic, int32_t partition, const void *key,
                             size_t klen, const void *val, size_t vlen, int64_t offset, char *errstr,
                             size_t errstr_size);
int spate_node_standby_write(spate_node_t *n, char *errstr, size_t errstr_size);
/* With the node (spate_topology_destroy()), before its destroy(): every
 * provider's free(), then the list. */
void spate_node_state_free(spate_node_t *n);

#endif
