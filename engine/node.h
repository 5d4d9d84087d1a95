/* node.h - the operator interface: a node type is one descriptor (name,
 * property table, callbacks) implemented in one file of operators/ or
 * connectors/ and listed once in that folder's .def table. */
#ifndef SPATE_NODE_H
#define SPATE_NODE_H

#include "../util/arena.h"
#include "../expr/expr.h"
#include "record.h"
#include "shape.h"
#include "../util/yaml.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct spate_node spate_node_t;
struct spate_iq;        /* engine/iq.h */
struct spate_iq_rows;
typedef struct spate_topology spate_topology_t;
typedef struct spate_ctx spate_ctx_t;

typedef enum {
        SPATE_P_STR, SPATE_P_INT, SPATE_P_BOOL, SPATE_P_DURATION, SPATE_P_ENUM,
        SPATE_P_EXPR, SPATE_P_MAP, SPATE_P_LIST,
        SPATE_P_COUNT   /* an integer of at least 1, e.g. partitions */
} spate_prop_type_t;

/* One parameter a node type accepts; the loader checks presence, type and
 * unknown keys before init runs, and the README reference is written from it. */
typedef struct spate_prop {
        const char *name;
        spate_prop_type_t type;
        int required;
        const char *def;      /* default, as YAML text; NULL for none */
        const char *choices;  /* ENUM: "a|b|c" */
        const char *doc;
} spate_prop_t;

/* A property bound to a field of the node's ctx: the loader stores its value
 * (or default) there before init, as Fluent Bit's config maps do, so init
 * reads its struct, not the YAML. By type: STR, ENUM: const char * (the
 * topology's text, valid while it is loaded); INT, COUNT: int64_t or int (the
 * loader keeps them within int); DURATION: int64_t ms; BOOL: int. With
 * SPATE_BIND_CHOICE, an ENUM that is required or has a default is stored as
 * the index of its value in `choices` ("a|b|c": 0, 1, 2) in an int-sized
 * field, an enum whose constants follow that order. A binding naming no
 * property, or a field that cannot hold its type, fails the first load of
 * the node (spate_node_bind). */
typedef struct spate_bind {
        const char *prop;
        size_t at, size;      /* offsetof and sizeof the field */
        int choice;           /* ENUM: the index of the value, not its text */
} spate_bind_t;

#define SPATE_BIND(prop, type, field) { prop, offsetof(type, field), sizeof(((type *)0)->field), 0 }
#define SPATE_BIND_CHOICE(prop, type, field) { prop, offsetof(type, field), sizeof(((type *)0)->field), 1 }

typedef enum { SPATE_ROLE_SOURCE, SPATE_ROLE_OPERATOR, SPATE_ROLE_SINK } spate_role_t;

typedef struct spate_op_def {
        const char *name;     /* `type:` in the topology file */
        spate_role_t role;
        const char *doc;
        const spate_prop_t *props;  /* terminated by a {NULL} entry */
        const spate_bind_t *binds;  /* optional, terminated by a {NULL} entry */
        size_t ctx_size;            /* zeroed state allocated before init */
        /* Reads parameters, compiles expressions against n->in, sets n->out
         * (sinks leave it NULL). Runs at load; errors carry file:line. */
        int (*init)(spate_node_t *n, char *errstr, size_t errstr_size);
        /* Optional: when `spate run` starts the engine, before any record:
         * connect to an external system and check what the node needs there
         * (a sink's database and table). 0, or -1 with errstr: the run fails. */
        int (*start)(spate_node_t *n, char *errstr, size_t errstr_size);
        /* Handles one record; passes results on with spate_emit(). Returns 0,
         * or -1 after spate_ctx_fail() to send the source record to the DLQ. */
        int (*process)(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx);
        /* Called regularly with the context clock; may emit (windows close here). */
        int (*punctuate)(spate_node_t *n, spate_ctx_t *ctx);
        /* The node's own part of a task's life and of a commit, beside the
         * state it attached (node_state.h: a key-value store, a window's
         * tasks), whose restore, changelog, checkpoint and standbys the engine
         * drives through the providers. These hooks are for what is the node's
         * alone: a sink's external transaction, a source's acknowledgements,
         * a share of work that follows the assigned partitions.
         * Commit, phase 1 (commit_phase.h: node by node, upstream first, a
         * node's hook before its providers'): produce what buffered work owes
         * (outputs, a sink's external transaction). The engine then waits
         * until every message is acknowledged. */
        int (*flush)(spate_node_t *n, spate_ctx_t *ctx);
        /* Commit, phase 2, after the acknowledgements (commit_phase.h): what
         * may happen only once the commit's outputs are durable (an MQTT
         * source acknowledges its messages). Input offsets are committed
         * after this returns. */
        int (*checkpoint)(spate_node_t *n, spate_ctx_t *ctx);
        /* A partition of a subscribed topic was assigned, after the node's
         * providers restored its state. */
        int (*assign)(spate_node_t *n, const char *topic, int32_t partition, spate_ctx_t *ctx);
        /* After the node's assign() calls of one rebalance, before any record of
         * those partitions. 0, or -1 with ctx->errstr: the engine stops, as after
         * a failed assign(). */
        int (*assigned)(spate_node_t *n, spate_ctx_t *ctx);
        /* The partition moves away; a commit has just completed. Runs before
         * the providers' revoke. */
        void (*revoke)(spate_node_t *n, const char *topic, int32_t partition, spate_ctx_t *ctx);
        /* Under ctx->end_of_input (the sources are at their end and the run
         * treats that as the end of the stream): 1 once the node has nothing
         * left to emit or commit, so the run may end. NULL: at once. */
        int (*drained)(spate_node_t *n, spate_ctx_t *ctx);
        /* Records of an internal topic the node declared with
         * spate_topology_add_input() (e.g. its repartition topic). */
        int (*input)(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx);
        void (*destroy)(spate_node_t *n);
        /* Optional: interactive queries (engine/iq.h), from an HTTP thread
         * while the engine runs: appends the rows answering q (a GET, HISTORY
         * or SCAN) from q->parts of q->store (read-locked by the caller) or
         * the node's own in-memory state. Reads only what init() fixed and
         * the store. 0; 400 with errstr when the node cannot answer that
         * kind of query (no history in a key-value store); -1 with errstr. */
        int (*query)(const spate_node_t *n, const struct spate_iq *q, struct spate_iq_rows *rows, char *errstr,
                     size_t errstr_size);
        /* With query: the node's state is keyed by its records' keys, so a
         * key lives in the task of the key's partition (a window; with
         * group_by the key is its group, see query_topic); 0: a key may be
         * in any task (dedupe's key expression). */
        int query_keyed;
        /* Optional, with query_keyed: the node repartitions its records by a
         * key of its own, so its tasks are the partitions of its own topic,
         * not of its source's (a window with group_by: its repartition
         * topic). Names that topic and its partition count; NULL when it
         * does not (its tasks are its source's). */
        const char *(*query_topic)(const spate_node_t *n, int *nparts);
        /* With query_topic: the partition of that topic holding key, placed
         * by the function the node's own producer uses. */
        int32_t (*query_partition)(const spate_node_t *n, const void *key, size_t klen);
        /* Its outputs are made from its state later than the records they
         * come from (a window's, as its windows close), not one per record
         * read: they carry no source offset of their own. */
        int emits_later;
        /* The node changes the record key without repartitioning (key_by): a
         * key downstream is no longer in the task of its own partition. */
        int sets_key;
        /* Sources only: the topic is a table, read whole from its beginning on
         * every assignment; its offsets are never committed. */
        int rewind;
        /* Sources only: every record comes from its own offset of the topic and
         * partition count named by the `topic` and `partitions` properties, and
         * a replay repeats those offsets - what a window's replay filter and
         * per-partition stream time rest on. (A poller's records repeat one
         * table offset.) */
        int replayable;
        /* How often punctuate should run, in ms; 0 for the engine's 100 ms. The
         * engine ticks at the smallest interval any node asks for. */
        int punctuate_ms;
        /* Optional: when splits(conf) says so, the loader puts a node of type
         * upstream between this node and its `from:` (Kafka Streams' internal
         * repartition node): named "<name>-<upstream->internal>", it reads the
         * same YAML mapping and this node reads from it. */
        const struct spate_op_def *upstream;
        int (*splits)(const spate_yaml_t *conf);
        /* Set for a type only the loader creates (not in the .def tables, so
         * a topology file cannot name it): the suffix of its nodes' names. */
        const char *internal;
} spate_op_def_t;

struct spate_node {
        const spate_op_def_t *def;
        const char *name;
        const spate_yaml_t *conf;   /* the node's YAML mapping */
        spate_topology_t *topo;
        spate_node_t *from;
        spate_node_t **next;
        int nnext;
        spate_shape_t *in;          /* shape of input records (NULL for sources) */
        spate_shape_t *out;         /* shape of output records (NULL for sinks) */
        void *ctx;                  /* def->ctx_size bytes, owned by the node */
        int index;
        /* spate_node_records_{in,out}_total of this node (metrics.h), set by
         * the engine; NULL without one. */
        struct spate_metric *m_in, *m_out;
        /* The state providers attached at init (node_state.h), in order. */
        struct spate_node_state *states;
        int nstates;
        /* Internal nodes (def->internal): the node the loader split it from,
         * which reads from it; its name is allocated. NULL otherwise. */
        spate_node_t *split_of;
        /* Set by a source's init when it reads its input itself (a global
         * table replays its whole topic on every instance; a file table reads
         * files): the engine subscribes it to no topic. */
        int reads_itself;
};

/* --- parameters (valid after the loader's checks) --- */
const spate_yaml_t *spate_node_param(const spate_node_t *n, const char *key);
/* The scalar value or the property's default; NULL if neither. */
const char *spate_node_str(const spate_node_t *n, const char *key);
int64_t spate_node_int(const spate_node_t *n, const char *key);
int spate_node_bool(const spate_node_t *n, const char *key);
int64_t spate_node_duration(const spate_node_t *n, const char *key);
/* The index of value among p's choices ("a|b|c"), or -1 if it is none of them. */
int spate_prop_choice(const spate_prop_t *p, const char *value);
/* Stores every bound property of n's type (def->binds) in n->ctx; the loader
 * calls it before init. -1 with errstr if spate_op_check_binds() refuses. */
int spate_node_bind(spate_node_t *n, char *errstr, size_t errstr_size);
/* 0 if every binding of def names a property whose type its field can hold;
 * -1 with errstr naming the first that does not (a defect of the node type). */
int spate_op_check_binds(const spate_op_def_t *def, char *errstr, size_t errstr_size);
/* Compiles YAML scalar y as an expression over shape `in`. The caller owns
 * the result. NULL with a positioned message on error. */
spate_expr_t *spate_node_compile(spate_node_t *n, const spate_yaml_t *y, spate_shape_t *in,
                                 char *errstr, size_t errstr_size);
/* The same for parameter `key` over shape `in`; if the parameter is absent
 * returns NULL with errstr set to "" (so callers tell absence from error). */
spate_expr_t *spate_node_expr(spate_node_t *n, const char *key, spate_shape_t *in,
                              char *errstr, size_t errstr_size);
/* spate_node_expr, and an expression whose type is known at load (a
 * constant such as 'now', an array path) but not one of `types` (a mask of
 * 1 << SPATE_V_*) is an error saying it must be `want`. */
#define SPATE_KEY_TYPES (1u << SPATE_V_STR | 1u << SPATE_V_NUM | 1u << SPATE_V_BOOL)

spate_expr_t *spate_node_expr_typed(spate_node_t *n, const char *key, spate_shape_t *in, unsigned types,
                                    const char *want, char *errstr, size_t errstr_size);
/* An event-time parameter: spate_node_expr_typed for a number, and the bare
 * name `now` (a field read where a clock was meant) is an error. */
spate_expr_t *spate_node_time_expr(spate_node_t *n, const char *key, spate_shape_t *in,
                                   char *errstr, size_t errstr_size);
/* 1 when what n emits are the records it reads, each with its own source
 * offset; 0 when n makes its outputs at commits (flush), later (a window),
 * or from an internal topic it reads (spate_topology_add_input()): a store
 * or a partitioned table below it cannot rest on source offsets. */
int spate_node_keeps_origin(const spate_node_t *n);
/* The source at the top of n's from: chain, when every node between keeps
 * its records' origin, so that each record n reads has its own offset of
 * that source; else NULL with *stop the first node that does not (NULL
 * too when n reads from no node). */
spate_node_t *spate_node_origin_source(spate_node_t *n, spate_node_t **stop);
/* Formats "FILE:LINE:COL: <type> node '<name>': <message>" for YAML node y
 * (the node's own mapping if NULL); an internal node's errors name the node
 * it was split from. Returns -1. */
int spate_node_error(const spate_node_t *n, const spate_yaml_t *y, char *errstr,
                     size_t errstr_size, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
spate_shape_pool_t *spate_node_shapes(spate_node_t *n);
/* A file a parameter names: relative paths are tried from the working
 * directory, then from the topology file's folder, so a topology works from
 * either place. Writes the path to use into out. */
void spate_node_path(const spate_node_t *n, const char *file, char *out, size_t size);

/* --- records at run time --- */
/* Passes rec to every downstream node. Returns -1 when a chain's next node
 * failed; at a fan-out a failing branch is dead-lettered there (named in
 * spate.branch) and the other branches still get rec, so it returns 0. */
int spate_emit(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx);
/* 0 if event time t is at most settings.max_future ahead of the wall clock,
 * else -1 after spate_ctx_fail() (the record goes to the DLQ). */
int spate_ctx_check_future(spate_ctx_t *ctx, const spate_node_t *n, int64_t t);
/* Records why the current record failed at node n; returns -1. */
int spate_ctx_fail(spate_ctx_t *ctx, const spate_node_t *n, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
spate_arena_t *spate_ctx_arena(spate_ctx_t *ctx);
/* Sends a record that failed outside process() (e.g. a response a source
 * fetched in punctuate) to the dead-letter topic: o gives its key, payload and
 * topic/partition/offset headers, the reason is ctx->errstr as set by
 * spate_ctx_fail(). Everything is copied. */
void spate_ctx_dead_letter(spate_ctx_t *ctx, const spate_origin_t *o);
/* Partition times: a node may keep one value per source partition that is
 * committed with the partition's offset (as its metadata), so that whoever
 * resumes the partition - after a crash or a rebalance - starts from the value
 * that matches the committed offset (Kafka Streams keeps its partition time
 * so). Set it by flush() at the latest: a commit takes the values set then.
 * get() returns what the last commit holds (INT64_MIN: nothing) until set. */
int64_t spate_ctx_partition_time(spate_ctx_t *ctx, const spate_node_t *n, const char *topic,
                                 int32_t partition);
void spate_ctx_set_partition_time(spate_ctx_t *ctx, const spate_node_t *n, const char *topic,
                                  int32_t partition, int64_t t);
/* Batch cuts: a node that sends the records of a source partition onwards in
 * batches that cannot be split (window_combine.c) records where it cut the
 * last batch it may have sent. The cut is committed like a time, and
 * whoever replays the partition from its committed offset treats the records
 * below the cut one by one. set() takes effect with the next commit;
 * spate_ctx_commit_cuts() commits at once the cuts above the committed
 * offsets, with those offsets and their times, before the batches may leave:
 * 0, or -1 with ctx->errstr. get() is -1 for none. */
int64_t spate_ctx_partition_cut(spate_ctx_t *ctx, const spate_node_t *n, const char *topic,
                                int32_t partition);
void spate_ctx_set_partition_cut(spate_ctx_t *ctx, const spate_node_t *n, const char *topic,
                                 int32_t partition, int64_t cut);
int spate_ctx_commit_cuts(spate_ctx_t *ctx);
/* Keeps the offsets of topic's partitions out of the commit in progress
 * (a node could not send on what it made of their records yet). */
void spate_ctx_hold_offsets(spate_ctx_t *ctx, const char *topic);
/* Asks for a commit as soon as the record batch in flight is processed (a
 * node whose buffers are full). */
void spate_ctx_request_commit(spate_ctx_t *ctx);
/* 1 once the engine is asked to stop (SIGTERM): a node retrying an
 * unavailable endpoint gives up then (0 without an engine). */
int spate_ctx_stopping(spate_ctx_t *ctx);
/* spate_backoff_sleep() that ends early on a stop request: 1 if the engine
 * is stopping (the caller gives up its retries), else 0. */
int spate_ctx_backoff(spate_ctx_t *ctx, int64_t *backoff_ms, int64_t cap_ms);
/* 1 when the consumer reached the end of topic/partition and no record of it
 * was processed since (1 for a topic the topology does not read). */
int spate_ctx_caught_up(spate_ctx_t *ctx, const char *topic, int32_t partition);
/* Queues a message on the engine's producer (copied; waits while the queue
 * is full). Delivery is confirmed before input offsets are committed. A NULL
 * value with len 0 is a tombstone. */
int spate_ctx_produce(spate_ctx_t *ctx, const char *topic, int32_t partition,
                      const void *key, size_t key_len, const void *value, size_t len);
/* The same, with the message timestamp ts (ms since the epoch, > 0; 0: the
 * time of writing, as for the others): a record's own time, carried through
 * an internal topic. */
int spate_ctx_produce_at(spate_ctx_t *ctx, const char *topic, int32_t partition, const void *key,
                         size_t key_len, const void *value, size_t len, int64_t ts);
/* As spate_ctx_produce(); when the message is acknowledged, *acked becomes
 * max(*acked, its offset + 1). acked must stay valid until the next commit. */
int spate_ctx_produce_acked(spate_ctx_t *ctx, const char *topic, int32_t partition,
                            const void *key, size_t key_len, const void *value, size_t len,
                            int64_t *acked);
/* Waits until every message produced so far (outputs, DLQ records) is
 * acknowledged: a node that makes something durable outside Kafka first
 * (sql_sink's DLQ records before its SQL commit). 0, or -1 with
 * ctx->errstr when delivery failed (the engine then stops). */
int spate_ctx_wait_acks(spate_ctx_t *ctx);
/* Reads topic/partition from offset `from` (0 or less: the beginning) up to its
 * end as of the call, in order, calling cb for each message (value NULL for a
 * tombstone); logs progress. Returns the offset after the last message read,
 * or -1 with ctx->errstr set. For restoring state from a changelog. */
typedef int (*spate_replay_cb)(void *opaque, const void *key, size_t key_len,
                               const void *value, size_t len, int64_t offset);
int64_t spate_ctx_replay(spate_ctx_t *ctx, const char *topic, int32_t partition, int64_t from,
                         spate_replay_cb cb, void *opaque);
/* Counts a restore of one task's store in spate_store_restore_records_total
 * {node,store,from}: changelog records (offsets, meta records included)
 * the local copy already reflected (`local`: kept warm by a standby, or this
 * instance's own last checkpoint) and those read at the assignment. */
void spate_node_count_restored(const spate_node_t *n, const char *store, int64_t local, int64_t read);
/* For a node whose restored state reflects topic/partition up to `offset`
 * (the next one it expects): -1 with ctx->errstr if the partition now ends
 * below it - recreated, truncated, or a broker that lost its data - where
 * the node would silently skip the new records. */
int spate_ctx_check_resume(spate_ctx_t *ctx, const spate_node_t *n, const char *topic,
                           int32_t partition, int64_t offset);
/* The partition count of an existing topic, or -1 with ctx->errstr (no such
 * topic, or the broker did not answer). For a node that reads a whole topic
 * itself with spate_ctx_replay() (a global table). */
int spate_ctx_partitions(spate_ctx_t *ctx, const char *topic);
/* The instance's RocksDB (settings.state_dir/<application>), opened on first
 * use; a corrupt directory is wiped so state is rebuilt from changelogs.
 * NULL with ctx->errstr on failure. */
struct spate_store;
struct spate_store *spate_ctx_store(spate_ctx_t *ctx);

/* --- registry --- */
const spate_op_def_t *spate_op_find(const char *name);
/* All registered types, NULL-terminated. */
const spate_op_def_t *const *spate_op_all(void);

#endif
