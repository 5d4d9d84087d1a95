/* engine_impl.h - what the files of the engine share: its structures and the
 * functions one file of it calls in another (engine.c the loop, engine_offsets.c
 * the values committed with offsets, engine_commit.c the commit protocol,
 * engine_group.c rebalances and the peers' liveness tags). Not for nodes. */
#ifndef SPATE_ENGINE_IMPL_H
#define SPATE_ENGINE_IMPL_H

#include "engine.h"
#include "ctx.h"
#include "fingerprint.h"
#include "metrics.h"
#include "offset_meta.h"
#include "outbox.h"
#include "../state/store.h"

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#define BATCH 1024

/* What a node keeps with a source partition's committed offset. */
typedef struct pvals {
        int64_t time;              /* spate_ctx_set_partition_time(), INT64_MIN: none */
        int64_t ctime;             /* time as committed with task_t.committed */
        int64_t cut;               /* spate_ctx_set_partition_cut(), -1: none */
} pvals_t;

typedef struct spate_standby spate_standby_t;

typedef struct task {
        int assigned;
        int at_end;                /* the consumer reached the partition's end since the last record */
        int64_t end_offset;        /* with at_end: the offset of that end */
        int64_t first;             /* offset of the first message processed since assignment, -1 */
        int64_t next_offset;       /* offset after the last processed message */
        int64_t committed;         /* last committed next_offset, -1 before the first commit */
        pvals_t *vals;             /* per node index, or NULL */
        int times_changed;         /* since the last commit */
} task_t;

/* A subscribed topic: a source's, or an internal one a node reads itself. */
typedef struct source {
        spate_node_t *node;
        const char *topic;
        int internal;              /* records go to node->def->input */
        int rewind;                /* a table: read from the beginning, never committed */
        int hold;                  /* spate_ctx_hold_offsets(): not in this commit */
        int held;                  /* hold, for the commit in progress once its offsets are chosen */
        task_t *tasks;             /* indexed by partition */
        int ntasks;
} source_t;

struct spate_engine {
        spate_topology_t *topo;
        rd_kafka_t *consumer, *producer;
        rd_kafka_queue_t *queue;
        source_t *sources;
        int nsources;
        /* The source of the last message's topic handle: the consumer keeps
         * a handle for as long as the topic is subscribed, so messages in a
         * row of one topic skip the lookup by name (a strcmp per source and
         * record was ~3 % of the processing thread). Cleared by rebalances. */
        const rd_kafka_topic_t *last_rkt;
        source_t *last_source;
        spate_ctx_t ctx;
        volatile sig_atomic_t stop;
        int64_t stop_seen_ms; /* when a wait first saw the stop request */
        int failed;                /* an output was not delivered */
        spate_engine_stats_t stats;
        rd_kafka_t *restorer;      /* assign-only consumer for changelog replay */
        spate_store_t *store;
        int64_t last_commit, last_punctuate, last_report;
        int64_t until_idle_ms;
        int end_of_input;          /* spate_engine_set_end_of_input() */
        int assigned_once;
        int tick_ms;               /* punctuate period: the smallest a node asks for */
        int txn;                   /* exactly_once: a transaction is open */
        int commit_asap;           /* spate_ctx_request_commit() */
        /* The producer's topic handles, made once per topic written: a
         * message produced by name costs a topic lookup under a lock. */
        struct out_topic {
                const char *name;
                rd_kafka_topic_t *rkt;
                int role;
                spate_outbox_t box;  /* outputs not yet handed to the producer */
        } *outs;
        int nouts;
        /* metrics.h: what the HTTP thread reads */
        spate_histogram_t *m_commit;
        spate_metric_t *m_produced, *m_ready;
        int64_t last_metrics;
        atomic_int ready, live;    /* spate_engine_ready(), spate_engine_live() */
        size_t max_message_bytes;  /* the producer's message.max.bytes: a dead letter's limit */
        spate_committer_t me;      /* fingerprint and start, committed with every offset */
        int refresh_tags;          /* next commit: every assigned partition, to say who holds it */
        int64_t last_peer_check;
        rd_kafka_queue_t *peer_queue;  /* ask_peers() answers */
        rd_kafka_topic_partition_list_t *peer_parts;  /* every source partition */
        int peer_asked;
        spate_standby_t *standby;  /* num_standby_replicas >= 1: engine_standby.c */
        struct spate_fetch_wake *wake;  /* fetch_wake.h, or NULL */
        int64_t wake_since;        /* catching_up(): the tick counted from, its records, */
        ssize_t wake_records;      /* and whether the last tick read BATCH */
        int wake_busy;
        long prefetch_bytes;       /* the consumer's queued.max.messages.kbytes, in bytes */
        long prefetch_msgs;        /* the consumer's queued.min.messages (a count bound) */
};

/* How long a stopping instance waits for outputs to be acknowledged. */
#define SHUTDOWN_ACK_MS 10000
/* Every instance commits its partitions' offsets at least this often (with
 * unchanged offsets when idle), so that its tag says it is alive; a tag not
 * refreshed for PEER_LIVE_MS is a stopped (or crashed) instance's. */
#define PEER_REFRESH_MS 5000
#define PEER_LIVE_MS 15000
#define TIMES_PREFIX SPATE_OFFSET_META_PREFIX

/* engine.c */
double spate_engine_mono_s(void);
source_t *spate_engine_source_for(spate_engine_t *e, const char *topic);
task_t *spate_engine_task_for(source_t *s, int32_t partition);
int spate_engine_stop_deadline_passed(spate_engine_t *e);

/* Hands every topic's queued outputs to the producer (outbox.h): before
 * anything waits for acknowledgements or counts what is in flight. -1 when
 * the producer refused them (e->failed is set) or the instance is stopping
 * with the producer's queue full. */
int spate_engine_send_outputs(spate_engine_t *e);

/* engine_offsets.c */
void spate_engine_fetch_committed(spate_engine_t *e, rd_kafka_topic_partition_list_t *parts);
int64_t spate_engine_partition_val(spate_ctx_t *ctx, const spate_node_t *n, const char *topic, int32_t partition, int cut);
void spate_engine_set_partition_val(spate_ctx_t *ctx, const spate_node_t *n, const char *topic, int32_t partition, int cut, int64_t val);
int spate_engine_commit_cuts(spate_ctx_t *ctx);
void spate_engine_hold_offsets(spate_ctx_t *ctx, const char *topic);
rd_kafka_topic_partition_list_t *spate_engine_offsets_to_commit(spate_engine_t *e);

/* engine_commit.c */
int spate_engine_txn_begin(spate_engine_t *e);
void spate_engine_drain_acks(spate_engine_t *e);
int spate_engine_ctx_wait_acks(spate_ctx_t *ctx);
int spate_engine_commit(spate_engine_t *e);

/* engine_standby.c: a no-op without num_standby_replicas or a node with standbys (node.h) */
int spate_engine_standby_start(spate_engine_t *e, char *errstr, size_t errstr_size);
/* After a rebalance: the next poll follows the tasks not owned now. */
void spate_engine_standby_changed(spate_engine_t *e);
/* The group's committed offsets of every source partition, with their
 * committer tags (spate_engine_check_peers(), spate_engine_peers_answered()):
 * the owners and live members the standbys choose by; the next poll
 * chooses again when they changed. */
void spate_engine_standby_peers(spate_engine_t *e, const rd_kafka_topic_partition_list_t *parts);
/* Whether self keeps a standby of partition p (of a topic of np partitions)
 * whose owner is member `owner`, among the live members[0..n) (any order;
 * self and owner among them): 1 when self is one of the first `replicas`
 * members that the `range` assignor would give p to, one after the other,
 * if the owner and each of those before left. Deterministic: every
 * instance that reads the same tags chooses alike. */
int spate_standby_chosen(const char *const *members, int n, const char *owner, const char *self, int32_t p,
                         int np, int replicas);
/* From the main loop, without blocking (busy: the active tasks had records
 * this iteration): 0, or -1 with e->ctx.errstr. */
int spate_engine_standby_poll(spate_engine_t *e, int busy);
void spate_engine_standby_destroy(spate_engine_t *e);

/* engine_group.c */
int spate_engine_check_committers(spate_engine_t *e, const rd_kafka_topic_partition_list_t *parts);
int spate_engine_check_peers(spate_engine_t *e);
void spate_engine_ask_peers(spate_engine_t *e);
int spate_engine_peers_answered(spate_engine_t *e);
void spate_engine_on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *opaque);

#endif
