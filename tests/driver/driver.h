/* driver.h - runs a topology over records in memory, as Kafka Streams'
 * TopologyTestDriver: topics are lists of messages per partition (with
 * offsets), the clock is ctx->now_ms and moves only when told, state is a
 * RocksDB in a temporary directory, and the nodes reach all of it through
 * the same spate_ctx_* calls the engine serves (ctx->ops). Unit tests pipe
 * records in, process, commit (flush -> acknowledgements -> checkpoint ->
 * offsets, as the engine), crash at any step of a commit, reassign (restore
 * from the in-memory changelog), and read every topic: outputs, changelogs,
 * repartition topics and dead letters with their headers.
 *
 * Not modelled: transactions (exactly_once), rebalances that move only some
 * partitions, several instances, a failing broker. */
#ifndef SPATE_TEST_DRIVER_H
#define SPATE_TEST_DRIVER_H

#include "../../engine/ctx.h"
#include "../../engine/topology.h"

#include <stddef.h>
#include <stdint.h>

typedef struct spate_driver spate_driver_t;

/* A message of an in-memory topic. Owned by the driver; valid until
 * spate_driver_destroy() (topics only grow). */
typedef struct spate_driver_msg {
        char *key, *value;        /* NUL-terminated copies; value NULL: a tombstone */
        size_t key_len, len;
        int64_t ts, offset;
        int nheaders;             /* dead letters: spate.error, spate.node, ... */
        char **hnames, **hvalues;
        int compacted;            /* removed by spate_driver_compact(): its offset is a gap */
} spate_driver_msg_t;

/* Where spate_driver_commit() stops: a crash right after that step. */
typedef enum {
        SPATE_DRIVER_AFTER_FLUSH,       /* produced, nothing acknowledged */
        SPATE_DRIVER_AFTER_ACKS,        /* acknowledged, frames not sealed */
        SPATE_DRIVER_AFTER_SEAL,        /* frames sealed and acknowledged, no checkpoint */
        SPATE_DRIVER_AFTER_CHECKPOINT,  /* state written, input offsets not committed */
        SPATE_DRIVER_COMMIT_ALL
} spate_driver_stage_t;

/* The stage as the tests name it: "after flush", "after acks", ... */
const char *spate_driver_stage_name(spate_driver_stage_t s);

/* Loads the topology in `yaml` (text) with the clock at now_ms (> 0), its
 * state_dir replaced by a new temporary directory, and assigns every
 * partition of every topic it reads (spate_driver_assign()). NULL with
 * errstr on failure. Free with spate_driver_destroy(), which removes the
 * directory. */
spate_driver_t *spate_driver_new(const char *yaml, int64_t now_ms, char *errstr, size_t errstr_size);
/* The same for the topology file at path (its relative paths resolve as
 * for `spate run`); the state still goes to a temporary directory. */
spate_driver_t *spate_driver_open(const char *path, int64_t now_ms, char *errstr, size_t errstr_size);
/* spate_driver_new(), or "Bail out! driver: <why>" (TAP) and exit(1): for
 * unit tests, which have nothing to check when their topology does not load. */
spate_driver_t *spate_driver_new_or_bail(const char *yaml, int64_t now_ms);
void spate_driver_destroy(spate_driver_t *d);

/* Appends a message to topic/partition (as a producer outside the topology
 * would). key and value are copied; value NULL is a tombstone. Returns its
 * offset. */
int64_t spate_driver_pipe(spate_driver_t *d, const char *topic, int32_t partition, const char *key,
                          const char *value, int64_t ts);
/* The same with key and value of any bytes (a store's changelog records:
 * the meta record's key is a NUL byte); value NULL is a tombstone. */
int64_t spate_driver_pipe_bytes(spate_driver_t *d, const char *topic, int32_t partition, const void *key,
                                size_t klen, const void *value, size_t vlen, int64_t ts);
/* Processes every message of the assigned partitions not processed yet,
 * topic by topic (sources, then internal topics, in topology order) and
 * partition by partition, until none is left (repartition messages that a
 * commit produced are read by the next call). Returns the count, or -1 when a
 * node's input callback failed in a way the engine would stop on (never: a
 * failed record goes to the DLQ, as in the engine). */
int64_t spate_driver_process(spate_driver_t *d);
/* The same, stopping after max messages (the engine's batches). */
int64_t spate_driver_process_max(spate_driver_t *d, int64_t max);
/* 1 when a node asked for a commit (spate_ctx_request_commit()) since the
 * last full commit: the engine would commit after its current batch. The
 * driver never commits by itself. */
int spate_driver_commit_asked(const spate_driver_t *d);
/* Moves the clock by ms and punctuates every node. */
void spate_driver_advance(spate_driver_t *d, int64_t ms);
/* Punctuates every node at the current clock. 0, or -1 (errstr in the ctx). */
int spate_driver_punctuate(spate_driver_t *d);
/* The engine's commit, up to and including `until`. 0, or -1 with the
 * node's message in spate_driver_ctx(d)->errstr. */
int spate_driver_commit(spate_driver_t *d, spate_driver_stage_t until);
/* End of the stream (spate run --end-of-input): ctx->end_of_input, then
 * punctuate + process + commit until every node says it is drained (at most
 * `rounds` times). 0 once drained, -1 if not. */
int spate_driver_end_of_input(spate_driver_t *d, int rounds);
/* kill -9: the nodes and everything in their memory are gone (the topology
 * is loaded again), so are unacknowledged deliveries; the topics and the
 * committed offsets stay, the state directory too unless keep_state is 0.
 * Then spate_driver_assign() starts the new instance. 0, or -1 with errstr. */
int spate_driver_crash(spate_driver_t *d, int keep_state, char *errstr, size_t errstr_size);
/* Assigns every partition of every topic the topology reads: the nodes'
 * assign() and assigned() (restores), positions at the committed offsets
 * with the partition values committed with them. 0, or -1 with the node's
 * message in the ctx's errstr. */
int spate_driver_assign(spate_driver_t *d);

/* Before spate_driver_crash(): of the messages the nodes produced since the
 * last acknowledgements (outputs, changelog and repartition records, dead
 * letters), the broker got only the first `keep`, in the order produced;
 * the others leave their topics. A kill -9 in the middle of a flush. */
void spate_driver_lose_unacked(spate_driver_t *d, size_t keep);
/* How many there are. */
size_t spate_driver_unacked(const spate_driver_t *d);

/* Log compaction of topic (a changelog), as a broker could leave it at its
 * most thorough: every message whose key a later message of its partition
 * has is removed, tombstones kept; offsets do not change. Restores (which
 * read changelogs by spate_ctx_replay()) skip what was removed; the
 * spate_driver_msg() of its offset says `compacted`. Messages without a key
 * stay (a compacted topic refuses them). */
void spate_driver_compact(spate_driver_t *d, const char *topic);

/* The next n spate_ctx_commit_cuts() fail, as during a rebalance. */
void spate_driver_fail_cut_commits(spate_driver_t *d, int n);

/* --- inspection (owned by the driver) --- */
spate_ctx_t *spate_driver_ctx(spate_driver_t *d);
spate_topology_t *spate_driver_topology(spate_driver_t *d);
/* The instance's RocksDB (opened on first use), NULL on failure. */
struct spate_store *spate_driver_store(spate_driver_t *d);
/* Messages in topic/partition (0 for an unknown topic). */
int64_t spate_driver_count(const spate_driver_t *d, const char *topic, int32_t partition);
/* Of every partition of topic. */
int64_t spate_driver_count_all(const spate_driver_t *d, const char *topic);
int spate_driver_partitions(const spate_driver_t *d, const char *topic);
const spate_driver_msg_t *spate_driver_msg(const spate_driver_t *d, const char *topic, int32_t partition,
                                           int64_t offset);
/* The last message with that key in any partition of topic (what a
 * compacted topic converges to), NULL if none. */
const spate_driver_msg_t *spate_driver_latest(const spate_driver_t *d, const char *topic, const char *key);
/* The header's value, NULL if the message has none of that name. */
const char *spate_driver_header(const spate_driver_msg_t *m, const char *name);
/* The committed offset of a partition the topology reads, -1 for none; and
 * the time and cut node `node` committed with it (INT64_MIN / -1: none). */
int64_t spate_driver_committed(const spate_driver_t *d, const char *topic, int32_t partition);
int64_t spate_driver_committed_time(const spate_driver_t *d, const char *node, const char *topic,
                                    int32_t partition);
int64_t spate_driver_committed_cut(const spate_driver_t *d, const char *node, const char *topic,
                                   int32_t partition);
/* The value of the first series of the process's metrics
 * (spate_metrics_default(), in Prometheus's text format) that starts with
 * `series` (name{labels} and the space before the value), -1 if none. */
double spate_driver_metric(const char *series);

#endif
