/* window_int.h - the state of the `window` node and, with group_by, of its
 * upstream half, the internal `window_repartition` node the loader puts
 * before it: window_node.c (parameters and the record path), window_task.c
 * (tasks: restore, commit, closing), window_repart.c (the window's
 * repartitioned input), repartition.c and window_combine.c (the upstream
 * node). */
#ifndef SPATE_OP_WINDOW_INT_H
#define SPATE_OP_WINDOW_INT_H

#include "../../util/buf.h"
#include "../../engine/ctx.h"
#include "../../engine/metrics.h"
#include "../../engine/node.h"
#include "../../engine/node_state.h"
#include "../../engine/topology.h"
#include "../../state/kv.h"
#include "winstate.h"

#define WIN_MAX_AGGS 64

/* One task: a partition of the window's input topic and the state it owns. */
typedef struct win_task {
        int32_t partition;
        spate_winstate_t *ws;
        spate_winmeta_t meta;        /* next_offset follows the records; written at commit */
        int64_t resume_offset;       /* input records below it are in the restored state */
        int64_t written_offset;      /* meta.next_offset at the last commit */
        spate_kv_t *kv;              /* its store (the engine's, state/kv.h: uncached), valid
                                        while the task is assigned */
        int committing;              /* flush wrote; checkpoint cleans */
        int64_t idle_since;          /* wall clock of the last record (or assignment) */
        int64_t idle_base;           /* stream time at that moment */
        uint64_t logged_revised;     /* ws->nrevised when last logged */
        uint64_t logged_corrected;   /* ws->ncorrected when last logged */
        int64_t data_since;          /* group_by: wall clock when a mark first carried a
                                        stream time, 0: not yet (releases empty partitions) */
        int closing_evicted;         /* a walk of the store closing evicted groups is under
                                        way (window_task.c: close_evicted) */
        spate_buf_t walk_from;       /* where it goes on: a group's first key */
        spate_metric_t *m_fetch;     /* the node's (win_t.m_fetch) */
        int logged_spill;            /* eviction was logged */
} win_task_t;

/* group_by: a source partition as the upstream half sees it. Its stream
 * time decides lateness (per source partition, so the same records are late
 * in every run) and goes downstream in marks. */
typedef struct win_up {
        int64_t offset;              /* of the last record; -1 after assignment */
        uint32_t seq;                /* records derived from that offset so far, minus one */
        int64_t time;                /* stream time, committed with the offset */
        int assigned, idle;
        int got;                     /* records since the last commit */
        int64_t quiet_since;         /* wall clock of the last commit it had records */
        int64_t quiet_base;          /* its stream time then (close_after_idle) */
        int64_t sent_time;           /* the mark every downstream partition has */
        int sent_idle;               /* -1: none sent since assignment */
        int64_t cut;                 /* records below go one by one (window_combine.c) */
        int64_t comb_from;           /* offset of the first record combined since the
                                        last commit, -1: none */
} win_up_t;

typedef struct win_comb win_comb_t;
typedef struct win_warm win_warm_t;

typedef struct win {
        spate_winconf_t conf;
        spate_agg_fn_t fns[WIN_MAX_AGGS];
        double params[WIN_MAX_AGGS];        /* spikes' limit, completeness' period (ms) */
        const char *names[WIN_MAX_AGGS];    /* output field per aggregate */
        int arg_of[WIN_MAX_AGGS];           /* index into args, -1 for count() */
        spate_expr_t *args[WIN_MAX_AGGS];   /* distinct argument expressions */
        int nargs;
        spate_expr_t *time, *group;         /* NULL: record timestamp / record key */
        int group_field, arg_field[WIN_MAX_AGGS];  /* spate_expr_field_index() of group, args */
        spate_expr_t *dedupe_by;            /* corrections: a reading's id, NULL: off */
        char *input_topic;                  /* whose partitions are the tasks */
        char *repartition_topic;            /* with group_by */
        char *changelog_topic;              /* its store's */
        const char *store;                  /* the store's name (`store:`, else the node's) */
        int partitions;                     /* of the input topic */
        int64_t idle_ms;                    /* close_after_idle, 0 = off */
        const spate_topology_t *topo;       /* its state_memory_mb share bounds the tasks'
                                               windows in memory (winstate.h: Eviction) */
        size_t untrimmed;                   /* bytes evicted since malloc_trim() */
        size_t settled;                     /* the tasks' bytes after the last checkpoint's
                                               evictions */
        size_t bytes;                       /* the tasks' bytes now: summed at each
                                               punctuation and checkpoint, moved by each
                                               record (commit_when_over()) */
        size_t commit_above;                /* w->bytes past which a commit is requested
                                               (set_commit_above()) */
        win_task_t **tasks;                 /* by partition; restored ones only */
        int ntasks;
        win_warm_t *warm;                   /* restored tasks loading their windows
                                               (window_warm.c), NULL: none yet */
        const char *source_topic;           /* group_by: whose partitions feed the repartition
                                               topic (the upstream node's) */
        int source_partitions;              /* their count as declared (marks may raise it) */
        spate_wmark_t *marks;               /* group_by: scratch for a message's marks */
        spate_buf_t buf;
        /* metrics.h: spate_window_late_records_total, spate_window_open_windows */
        spate_metric_t *m_late, *m_open;
        /* spate_store_cache_bytes (ws->bytes of the tasks), spate_window_state_fetches_total */
        spate_metric_t *m_cache, *m_fetch;
        /* SPATE_CRASH_AT test hook (util.h: spate_crash_point()), read at init:
         * the window's own steps are per output */
        const char *crash_at;
} win_t;

/* The `window_repartition` node: a group_by window's upstream half. Its
 * parameters are its window's (win_t, parsed once by the window's init);
 * it acts in the window's name - failures and late records are the
 * window's, and the stream times and batch cuts it commits with its source
 * partitions' offsets are filed under the window's name, as they were
 * before the split (so offsets committed then read back the same). */
typedef struct win_rp {
        spate_node_t *window;
        const win_t *w;
        win_up_t *up;                       /* by source partition */
        int nup;
        spate_buf_t *packs;                 /* repartition message being built, by partition */
        uint32_t *npacked;                  /* records in it */
        spate_wmark_t *marks;               /* scratch for a message's marks */
        win_comb_t *comb;                   /* tumbling and hopping: the combiner */
        size_t *comb_bytes;                 /* its batches' estimated size, by downstream
                                               partition (repartition.c: one message each) */
} win_rp_t;

extern const spate_op_def_t spate_op_window_repartition;
/* The window's init, with group_by: sets up its upstream node rn (n->from)
 * once w is parsed. -1 with errstr (out of memory). */
int win_rp_attach(spate_node_t *rn, spate_node_t *n, char *errstr, size_t errstr_size);
/* Evaluates record rec for window node n: r gets its group, time and id;
 * args the distinct argument values. r->vals is NULL: only the callers that
 * apply or combine the record build them (win_per_aggregate), since a
 * repartitioned record travels with its args. 0, or -1 after spate_ctx_fail. */
int win_eval(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx, spate_wrec_t *r, spate_val_t *args);

win_task_t *win_task_get(win_t *w, int32_t partition);
/* End of input: 1 once every task is closed to the end and committed (with
 * group_by the upstream node says when its marks are sent). */
int win_drained(spate_node_t *n, spate_ctx_t *ctx);
/* The task got input: its close_after_idle clock starts again. */
void win_task_touched(win_task_t *t, spate_ctx_t *ctx);
/* Applies one record to its task: skips records the restored state holds
 * and, for repartitioned input, upstream replays. Returns 0, or -1 after
 * spate_ctx_fail (late record, out of memory). */
int win_apply(spate_node_t *n, win_task_t *t, int64_t offset, const spate_wrec_t *r,
              const spate_wrepart_t *up, spate_ctx_t *ctx);

/* The record's value per aggregate, from the distinct argument values. */
void win_per_aggregate(const win_t *w, const spate_val_t *args, spate_val_t *vals);

/* --- repartitioned input (window_repart.c) --- */
/* The repartition partition of a group: where the upstream node sends its
 * records, so the task that holds its windows (and where an interactive
 * query finds them). */
int32_t win_repart_partition(const win_t *w, const char *group, size_t glen);
/* The task's stream time from its source partitions' marks at wall clock now. */
void win_task_watermark(const win_t *w, win_task_t *t, int64_t now);
/* One repartition message into its task; records that cannot be applied go
 * to the DLQ one by one. */
int win_input(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx);

/* --- combiner (window_combine.c) --- */
/* conf must outlive it. NULL when out of memory. */
win_comb_t *win_comb_new(const spate_winconf_t *conf);
void win_comb_free(win_comb_t *c);
/* Merges record r of source partition up (r->st: that partition's stream
 * time) into its batches, one per window it falls in. 0, or -1 (memory). */
int win_comb_add(win_comb_t *c, int32_t up, const spate_wrec_t *r);
size_t win_comb_count(const win_comb_t *c);
/* Visits every batch (from and to are left -1 for the caller); a non-zero
 * return of cb stops the walk and is returned, -1 when encoding fails. */
typedef int (*win_comb_cb)(void *opaque, spate_wcomb_t *b);
int win_comb_each(win_comb_t *c, win_comb_cb cb, void *opaque);
/* Empties it (after a commit sent every batch). */
void win_comb_clear(win_comb_t *c);
/* Forgets the batches of source partition up (revoked before they were sent). */
void win_comb_drop(win_comb_t *c, int32_t up);

/* A late record (or combined batch): counted, then spate_ctx_fail's -1. */
int win_late(const spate_node_t *n, spate_ctx_t *ctx, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* The output row of window e of group: win_row_fields(w) items, the
 * window's own fields of n->out (later nodes may add more). Strings point
 * into group and e's states. Used by the commit's emit and by queries. */
int win_row_fields(const win_t *w);
void win_row(const win_t *w, const char *group, size_t glen, const spate_went_t *e, spate_value_t *items);
/* Interactive queries (engine/iq.h) on the checkpointed windows: window_query.c. */
int win_query(const spate_node_t *n, const struct spate_iq *q, struct spate_iq_rows *rows, char *errstr,
              size_t errstr_size);
/* With group_by, where a query finds a group (node.h's query_topic and
 * query_partition): the repartition topic, at win_repart_partition(). */
const char *win_query_topic(const spate_node_t *n, int *nparts);
int32_t win_query_partition(const spate_node_t *n, const void *key, size_t klen);

/* The window's tasks as two state providers around its store's
 * (engine/node_state.h; window_node.c attaches them; the store frames,
 * seals, checkpoints, restores and keeps the standbys):
 *   - before the store's: flush, each changed entry handed to the store
 *     (spate_kv_write()), then the outputs;
 *   - after it: checkpoint (the batch is written: the groups are clean, and
 *     may leave memory), assign and assigned (a task made from what the
 *     store restored), revoke. */
int win_flush(spate_node_t *n, spate_ctx_t *ctx);
int win_checkpoint(spate_node_t *n, spate_ctx_t *ctx);
int win_assign(spate_node_t *n, const char *topic, int32_t partition, spate_ctx_t *ctx);
int win_assigned(spate_node_t *n, spate_ctx_t *ctx);
void win_revoke(spate_node_t *n, const char *topic, int32_t partition, spate_ctx_t *ctx);
/* The tasks go (the node's destruction). */
void win_tasks_free(spate_node_t *n);
int win_punctuate(spate_node_t *n, spate_ctx_t *ctx);
/* A walk of a task's store in key order, group by group (window_task.c:
 * the Bloom filter's and the closing walks; window_warm.c's loads). */
typedef struct win_walk {
        const char *k, *v;           /* the entry: key and value, valid until the next step */
        size_t kl, vl;
        int kind;                    /* 1: it begins a group (the walk's first entry does),
                                        0: of the group before, -1: no window entry's key */
        spate_buf_t group;           /* the entry's group */
        spate_buf_t prev;            /* the group before it */
        spate_kv_iter_t *it;
        int started;
} win_walk_t;
/* From the first key >= from (NULL: the store's first). 0, or -1 with
 * errstr (nothing to close). */
int win_walk_open(win_walk_t *wk, win_task_t *t, const char *from, size_t fromlen, char *errstr,
                  size_t errstr_size);
/* The next entry: 1 with wk's entry fields set, 0 at the end, -1 with
 * errstr when the store fails. */
int win_walk_next(win_walk_t *wk, char *errstr, size_t errstr_size);
void win_walk_close(win_walk_t *wk);

/* --- restored tasks' windows loaded into memory (window_warm.c) --- */
/* Queues the load of restored task t's windows, at most limit bytes of
 * them, and starts it on the queue's thread beside the caller. t is held,
 * not owned: it must stay until win_warm_finish() or win_warm_free(). 0, or
 * -1 when out of memory (t is not queued). */
int win_warm_add(win_t *w, win_task_t *t, size_t limit);
/* all: 1 when every window of t is in memory, 0 when the rest stays in its
 * store. */
typedef void (*win_warmed_cb)(spate_node_t *n, win_task_t *t, int all);
/* Waits for every queued load, the caller loading its share, then calls
 * done for each task in the order queued; the queue is empty after. 0, or
 * -1 with ctx->errstr naming the partition whose windows failed to load
 * (done not called). */
int win_warm_finish(spate_node_t *n, win_warmed_cb done, spate_ctx_t *ctx);
/* Stops the loads not begun and waits for the rest (before the tasks go). */
void win_warm_free(win_t *w);

#endif
