/* winstate.h - the windows of one task (one input partition) in memory: which
 * windows a record updates (operators/window/window.h's rules for all four types), sliding
 * buckets, session merges, closing and expiry, and what changed since the last
 * commit. Used by the `window` node and by `spate window-sim`, so the offline
 * reference check exercises the very code the operator runs.
 *
 * No I/O here: the caller persists what spate_winstate_each_dirty() visits
 * (the byte forms are below) and loads stored entries back with
 * spate_winstate_load(). Single-threaded, like a task.
 *
 * Entries: a *window* (start, end as operators/window/window.h defines them per type) or,
 * for sliding windows, a *bucket* - the merged states of all records of one
 * group at one time (start = end = that time), from which a new window's
 * content is built. Closed windows are not deleted at once: they stay as
 * closed markers for conf->retention (the stream time must pass close time +
 * retention), so nothing can re-create them while replays are possible.
 *
 * Resampling (conf->fill, tumbling windows only): when a group's window closes
 * and the next interval has no window, a *gap* window is created there, its
 * states a copy of the closed one's (the last readings carried forward). It
 * is an ordinary entry - written to the changelog and the store, closed by
 * stream time, emitted when it closes (under emit: update too) - so it
 * survives a kill -9 like any window, and its own closing creates the next
 * gap: a silent group gets one gap window per interval, up to conf->fill_max
 * after its last window with readings (the last one is *stale*). Under fill:
 * linear a gap window is *pending* when it closes (neither emitted nor
 * expired): when the next window with readings closes, the pending run
 * before it gets the values interpolated between its two neighbours
 * (spate_agg_fn_interpolates() functions, by interval) and is emitted with
 * it; when the interval after the stale gap closes without readings (or the
 * stream ends) the run is emitted with those values null - the key went
 * silent. A record
 * that lands in a gap window (within grace) empties it first: it becomes a
 * window with readings. Gaps are created only for intervals whose predecessor
 * closed by a stream time below SPATE_WINDOW_END_OF_STREAM: the end of input
 * closes the open ones without filling on to fill_max. */
#ifndef SPATE_WINSTATE_H
#define SPATE_WINSTATE_H

#include "agg.h"
#include "../../util/buf.h"
#include "../../state/store.h"
#include "wids.h"
#include "window.h"

#include <stddef.h>
#include <stdint.h>

typedef struct spate_winconf {
        spate_window_spec_t spec;
        const spate_agg_fn_t *fns;  /* one per aggregate, borrowed */
        int nfns;
        int64_t retention;          /* how long a closed window stays as a marker */
        int emit_final;             /* emit when a window closes, not when it changes */
        const double *params;       /* one per aggregate (spikes' limit, ...), borrowed; may be NULL */
        int fill;                   /* SPATE_FILL_*: resampling (tumbling only) */
        int64_t fill_max;           /* fill: gaps up to this long after the last readings */
        int corrections;            /* SPATE_CORR_*: records carry an id (spate_wrec_t.id) */
} spate_winconf_t;

/* Corrections (tumbling and hopping windows, direct input): a record's id
 * (dedupe_by) is kept per window with the values it put in (wids.h). A
 * later record of the same id in that window is a new version of it:
 * under REPLACE it takes the old values back out (every function must be
 * spate_agg_fn_retracts()) and puts its own in; under IGNORE it is dropped
 * (the first version wins; any function). A version for a window already
 * closed revises it (its final value is emitted again) while the window is
 * kept as a closed marker (retention); after that, or when the closed
 * window has no earlier version of the id, the record is late. */
enum { SPATE_CORR_NONE, SPATE_CORR_REPLACE, SPATE_CORR_IGNORE };

/* What a window emits for an interval without readings (conf->fill). */
enum { SPATE_FILL_NONE, SPATE_FILL_NULL, SPATE_FILL_PREVIOUS, SPATE_FILL_LINEAR };

/* spate_went_t.gap */
enum {
        SPATE_GAP_NONE,      /* a window with readings */
        SPATE_GAP_FILLED,    /* no readings; states ready to emit */
        SPATE_GAP_PENDING    /* fill: linear, waiting for the next interval with readings */
};

typedef struct spate_went {
        int64_t start, end;
        int64_t st;                 /* stream time when it last changed (stored) */
        uint8_t closed;
        uint8_t dirty;              /* to write to the changelog and the store */
        uint8_t emit;               /* to emit at the next commit */
        uint8_t gap;                /* SPATE_GAP_*: fill, no readings; states are the last
                                       readings' (interpolated once filled, for linear) */
        uint32_t ngap;              /* fill: intervals since the last window with readings
                                       (in the padding: the entry does not grow) */
        spate_agg_state_t *states;  /* conf->nfns states, owned */
} spate_went_t;

/* 1 when gap window e is the last one filled (fill_max reached). */
int spate_went_stale(const spate_winconf_t *conf, const spate_went_t *e);

typedef struct spate_wgroup {
        size_t klen;
        spate_went_t *win;          /* windows, ascending start */
        int nwin, capwin;
        spate_went_t *bkt;          /* sliding buckets, ascending time */
        int nbkt, capbkt;
        int listed;                 /* in the dirty list */
        struct spate_wgroup *next;  /* hash chain */
        char key[];                 /* klen bytes, not NUL-terminated */
} spate_wgroup_t;

/* An entry deleted since the last commit: it needs a changelog tombstone and
 * a store delete; `output` asks for an output tombstone too (a session merged
 * into another under emit: update). */
typedef struct spate_wdel {
        char *group;
        size_t glen;
        int64_t start;
        int bucket, output;
} spate_wdel_t;

typedef struct spate_winstate {
        const spate_winconf_t *conf;
        spate_wgroup_t **tab;
        size_t cap, ngroups;
        spate_wgroup_t **dirty;     /* groups with dirty or emitting entries */
        int ndirty, capdirty;
        spate_wdel_t *del;
        int ndel, capdel;
        int64_t stream_time;        /* INT64_MIN until the first record */
        int external_time;          /* records do not advance stream_time; only
                                       spate_winstate_advance() does */
        int64_t next_due;           /* no close/expiry work before this stream time */
        int64_t fill_time;          /* the last stream time below the end of the stream */
        uint64_t nwindows, nbuckets;
        uint64_t nrevised;          /* closed windows revised (revise() in winstate.c) */
        uint64_t nclosed;           /* of nwindows: closed markers (open = nwindows - nclosed) */
        uint64_t ncorrected;        /* corrections: later versions applied or ignored */
        spate_wids_t **idtab;       /* corrections: each window's ids, by (group, start) */
        size_t idcap, nidtab;
        /* Larger than memory (see "Eviction" below): */
        size_t bytes;               /* estimated heap of the groups in memory, the hash
                                       table, the dirty list and the Bloom filter (at
                                       10 M keys ~64 MB in all) */
        int spilled;                /* some groups live only in the store: a miss fetches */
        int64_t evicted_due;        /* no evicted group has close work before this stream
                                       time; INT64_MAX: none has any */
        size_t cursor;              /* eviction's clock hand: the next hash bucket */
        uint64_t nevicted, nfetched;
        uint64_t *bloom;            /* the groups the store may hold (all evicted ones, and
                                       what the caller noted): a miss that is not in it
                                       is a new group, and reads nothing */
        size_t bloom_bits;          /* a power of two; 0: none */
        size_t bloom_n;             /* groups noted since the reset */
        int bloom_ok;               /* it covers every group in the store */
        int (*fetch)(void *opaque, struct spate_winstate *ws, const char *group, size_t glen);
        void *fetch_opaque;
        spate_wgroup_t *walked;     /* the group of the last entry loaded, NULL: gone */
        char err[256];              /* why the last fetch failed */
} spate_winstate_t;

/* One record, as the window sees it. vals[i] is aggregate i's argument
 * (ignored for count()); the origin orders first/last. */
typedef struct spate_wrec {
        const char *group;
        size_t glen;
        int64_t t;
        const spate_val_t *vals;
        spate_agg_origin_t origin;
        int64_t st;                 /* stream time to judge it by when later than the
                                       task's: after repartitioning, its source
                                       partition's; INT64_MIN otherwise */
        const char *id;             /* conf->corrections: the reading's id */
        size_t idlen;
} spate_wrec_t;

/* Most hopping windows one record may fall into (size / advance). */
#define SPATE_WINSTATE_MAX_HOPS 4096

/* conf must outlive the state. NULL when out of memory. */
spate_winstate_t *spate_winstate_new(const spate_winconf_t *conf);
void spate_winstate_free(spate_winstate_t *ws);

/* Advances stream time to r->t if later (unless external_time), then applies r to its windows.
 * Under external_time (a repartitioned task, whose records were judged upstream by their
 * own source partition's time r->st), a tumbling or hopping window that the task's stream
 * time closed but r->st did not is revised: it takes the record and is emitted again,
 * while it is still kept as a closed marker (retention).
 * Returns 0 applied, 1 late (nothing changed but stream time; with hopping windows, the
 * record may be in some windows and too late for one past retention), -1 out of memory. */
int spate_winstate_add(spate_winstate_t *ws, const spate_wrec_t *r);

/* Merges states (conf->nfns of them, still the caller's) into group's
 * tumbling or hopping window that starts at start: a combined batch of
 * records (window_combine.c) of a source partition whose stream time was st,
 * judged and revised like a record of spate_winstate_add() under external_time.
 * Returns 0 merged, 1 late (the window is closed, or gone), -1 out of memory. */
int spate_winstate_merge(spate_winstate_t *ws, const char *group, size_t glen, int64_t start, int64_t st,
                         const spate_agg_state_t *states);

/* Why the last spate_winstate_add() or spate_winstate_merge() returned -1:
 * a fetch from the store that failed, else out of memory. */
const char *spate_winstate_error(const spate_winstate_t *ws);

/* Raises stream time (close_after_idle); never lowers it. */
void spate_winstate_advance(spate_winstate_t *ws, int64_t stream_time);

/* Marks the windows closed at the current stream time (dirty; to emit under
 * emit_final), deletes closed windows that are past retention and were emitted,
 * and sliding buckets no longer needed. Cheap when nothing is due. */
void spate_winstate_close(spate_winstate_t *ws);

/* Visits entries with dirty or emit set (windows and buckets), group by group.
 * A non-zero return of cb stops the walk and is returned. */
typedef int (*spate_went_cb)(void *opaque, const spate_wgroup_t *g, int bucket, spate_went_t *e);
int spate_winstate_each_dirty(spate_winstate_t *ws, spate_went_cb cb, void *opaque);
/* Visits every entry. */
int spate_winstate_each(spate_winstate_t *ws, spate_went_cb cb, void *opaque);
/* After a commit: clears dirty and emit flags and the deleted list, frees
 * empty groups. */
void spate_winstate_clean(spate_winstate_t *ws);

/* The window of group with this start, or NULL. */
spate_went_t *spate_winstate_find(spate_winstate_t *ws, const char *group, size_t glen,
                                  int64_t start);

/* corrections: window e of group g's ids, NULL when it has none (for encoding). */
const spate_wids_t *spate_winstate_ids(const spate_winstate_t *ws, const spate_wgroup_t *g,
                                       const spate_went_t *e);

/* Restore: puts a stored entry (key and value as encoded below) into memory,
 * replacing one with the same key; a NULL value deletes it (a tombstone of a
 * key that is no entry key deletes nothing: a cut commit's foreign record,
 * rewritten as such a tombstone). The entry is not
 * dirty, and not emitted again (its outputs were durable before its commit
 * counted: docs/exactness.md §1). Returns 0, or -1 with errstr for bytes that
 * do not decode (the caller treats its state as corrupt). */
int spate_winstate_load(spate_winstate_t *ws, const void *key, size_t klen, const void *val,
                        size_t vlen, char *errstr, size_t errstr_size);
/* spate_winstate_load() of a store's entries walked in key order (a group's
 * entries together) into memory that holds none of the walk's groups: first
 * says key is the first of its group (memory does not hold it: no lookup),
 * else it is of the group of the previous call's entry. */
int spate_winstate_load_walk(spate_winstate_t *ws, const void *key, size_t klen, const void *val, size_t vlen,
                             int first, char *errstr, size_t errstr_size);

/* Eviction: state larger than memory. The caller keeps every entry in a
 * store as of its last commit (window_task.c: RocksDB, written at the
 * checkpoint). Then a clean group - all its entries as the store holds them -
 * can leave memory and come back from the store when needed:
 *   - spate_winstate_evict(), after a commit, drops clean groups (whole: a
 *     session merge or a sliding window needs all of a group's entries) until
 *     the estimate `bytes` is at most limit; dirty ones stay until written;
 *   - a record (or merge, or correction) for a group not in memory calls
 *     ws->fetch, which loads the group's stored entries with
 *     spate_winstate_load() (none: a new group);
 *   - closing: each evicted group's next close work (its due time) folds into
 *     evicted_due. Once stream time reaches it, the caller walks the store
 *     and hands each evicted group to spate_winstate_settle(): due ones are
 *     closed in memory (dirty, written at the next commit), the others leave
 *     again. Closing a window later than its stream time does not change its
 *     value: lateness is judged by stream time, not by the closed flag.
 * Without fetch set nothing is evicted (spate window-sim, unit tests). */

/* Evicts clean groups until bytes <= limit; the number evicted. Call it
 * right after spate_winstate_clean(), when the store holds every entry. */
size_t spate_winstate_evict(spate_winstate_t *ws, size_t limit);
/* The Bloom filter of the groups in the store, which spares a new group's
 * miss a read: the caller resets it for `groups` groups (-1 when out of
 * memory), notes every group the store holds, then marks it complete (until
 * then every miss reads). spate_winstate_bloom_due() says when to do that:
 * the state spilled and the filter is missing, incomplete or too full for
 * its size (evictions note groups too). */
int spate_winstate_bloom_reset(spate_winstate_t *ws, size_t groups);
void spate_winstate_bloom_note(spate_winstate_t *ws, const char *group, size_t glen);
/* A group by its hash (spate_winstate_group_hash()): a walk that counts the
 * groups before the filter is sized keeps hashes, not keys. */
uint64_t spate_winstate_group_hash(const char *group, size_t glen);
void spate_winstate_bloom_note_hash(spate_winstate_t *ws, uint64_t h);
void spate_winstate_bloom_done(spate_winstate_t *ws);
int spate_winstate_bloom_due(const spate_winstate_t *ws);
/* 1 when group is in memory. */
int spate_winstate_holds(const spate_winstate_t *ws, const char *group, size_t glen);
/* Group (its entries just loaded from the store): closes it when its close
 * work is due, else evicts it again. 1 when it stayed (dirty), 0 evicted,
 * -1 out of memory. */
int spate_winstate_settle(spate_winstate_t *ws, const char *group, size_t glen);

/* --- byte forms (winstate_codec.c) --- */

/* Entry key: spate_winkey_encode(group, start), plus one byte 'B' for a
 * bucket. out needs SPATE_WENT_KEY_MAX(glen) bytes; returns the length. */
#define SPATE_WENT_KEY_MAX(glen) (SPATE_WINKEY_SIZE(glen) + 1)
size_t spate_went_key(const char *group, size_t glen, int bucket, int64_t start, char *out);
/* 0, or -1 when the bytes are no entry key (e.g. the meta key). */
int spate_went_key_decode(const void *key, size_t len, const char **groupp, size_t *glenp,
                          int *bucketp, int64_t *startp);

/* Entry value: version, flags (1 closed, 2 gap, 4 pending gap), end, stream time at write,
 * [gap: ngap, u32], then the aggregate states (agg.h's encoding). Appends to
 * out; 0 or -1 (OOM). */
int spate_went_encode(const spate_winconf_t *conf, const spate_went_t *e, spate_buf_t *out);
/* The same with the window's corrections' ids (flag 8; wids.h's bytes after
 * the gap fields, before the states); ids may be NULL. */
int spate_went_encode_ids(const spate_winconf_t *conf, const spate_went_t *e, const spate_wids_t *ids,
                          spate_buf_t *out);
/* Fills e (states newly allocated) from bytes; 0 or -1 with errstr. An entry
 * with ids is an error here (see spate_went_decode_ids). */
int spate_went_decode(const spate_winconf_t *conf, const void *val, size_t len,
                      spate_went_t *e, char *errstr, size_t errstr_size);
/* The same, with the entry's ids in *idsp (a new table, or NULL when it has none). */
int spate_went_decode_ids(const spate_winconf_t *conf, const void *val, size_t len, spate_went_t *e,
                          spate_wids_t **idsp, char *errstr, size_t errstr_size);

/* Task metadata. The input offset and stream time travel as the store's own
 * (state/kv.h); the rest - the upstream partitions of repartitioned input -
 * is the node's meta in each commit frame (spate_kv_set_meta()), so it is
 * restored with the entries of the same commit. */
#define SPATE_WINMETA_MAX_UP 1024

typedef struct spate_winup {
        int32_t partition;    /* upstream (source) partition */
        int64_t offset;       /* highest upstream offset processed, -1: none */
        uint32_t seq;         /* records derived from that offset so far, minus one */
        int64_t time;         /* its stream time as last marked, INT64_MIN: none */
        uint8_t idle;         /* caught up when last marked */
        int64_t cfrom;        /* offset up to the end of a combined batch: where it began, else -1 */
        uint32_t ck;          /* the last of its batches applied (spate_wcomb_t.k) */
} spate_winup_t;

typedef struct spate_winmeta {
        int64_t next_offset;       /* input offset the state reflects: records below are in it */
        int64_t stream_time;       /* INT64_MIN: none yet */
        int nup;
        spate_winup_t up[SPATE_WINMETA_MAX_UP];   /* repartitioned input: replay filter */
} spate_winmeta_t;

void spate_winmeta_init(spate_winmeta_t *m);
/* The node's meta: m's upstream partitions (not its offset and stream
 * time, the store's). decode() leaves those two as they were. */
void spate_winmeta_encode(const spate_winmeta_t *m, spate_buf_t *out);
int spate_winmeta_decode(const void *buf, size_t len, spate_winmeta_t *m, char *errstr,
                         size_t errstr_size);
/* 1 when (partition, offset, seq) is not above what m->up holds for the
 * partition (a record an upstream replay wrote again); else records it and
 * returns 0. -1 when the table is full. */
int spate_winmeta_seen(spate_winmeta_t *m, int32_t partition, int64_t offset, uint32_t seq);
/* Batch k of those an upstream commit combined from a partition's records at
 * offsets [from, to) for this task (window_combine.c; they may arrive in
 * several messages): 0 when it is to apply - it is then recorded as applied;
 * 1 when it was (a replay); 2 when it overlaps records applied otherwise,
 * which the upstream's cuts rule out (spate_ctx_partition_cut()); -1 when the
 * table is full. */
int spate_winmeta_seen_range(spate_winmeta_t *m, int32_t partition, int64_t from, int64_t to, uint32_t k);
/* Records an upstream partition's mark: its stream time (never lowered) and
 * whether it is caught up. -1 when the table is full. */
int spate_winmeta_mark(spate_winmeta_t *m, int32_t partition, int64_t time, int idle);
/* The stream time of a repartitioned task: the least stream time of the
 * upstream partitions 0..nparts-1; INT64_MIN while one has not been marked.
 * A partition that never had a record holds it (INT64_MIN) like a quiet one,
 * unless release_empty: then one that is caught up is left out (the caller
 * releases empty partitions after close_after_idle). Lateness is decided
 * upstream, per source partition, so a task must not close a window before
 * every source partition has passed it - a partition that starts late must
 * not find its windows closed by the others. (A quiet partition's stream
 * time follows the wall clock under close_after_idle.) */
int64_t spate_winmeta_watermark(const spate_winmeta_t *m, int nparts, int release_empty);

/* Repartition messages. One message carries, for one downstream partition,
 * records of the sender's source partitions in the order processed - each
 * with its source partition, offset and sequence number (several records may
 * come from one input message), event time, group and one value per
 * aggregate argument, and the source partition's stream time that judges
 * it, and with corrections its dedupe_by id - then a mark per source partition the sender owns: its
 * stream time and whether it is caught up. Strings point into the message. */
typedef struct spate_wrepart {
        int32_t up_partition;
        int64_t up_offset;
        uint32_t seq;
        int64_t t;
        int64_t st;           /* its source partition's stream time after it */
        const char *group;
        size_t glen;
        const char *id;       /* dedupe_by's id (NULL: none; corrections only) */
        size_t idlen;
        int nvals;
} spate_wrepart_t;

/* A combined batch: the merged aggregate states of the records of one
 * source partition at offsets [from, to) for one group and window. */
typedef struct spate_wcomb {
        int32_t up_partition;
        int64_t from, to;
        uint32_t k;           /* its index among the batches of [from, to) for its task */
        int64_t st;           /* its source partition's stream time at the first record */
        int64_t start;        /* of the window */
        const char *group;
        size_t glen;
        const void *states;   /* spate_agg_state_encode() bytes */
        size_t slen;
} spate_wcomb_t;

typedef struct spate_wmark {
        int32_t partition;
        int64_t time;
        int idle;
} spate_wmark_t;

/* Building: begin, add records and combined batches, finish with the marks
 * (count = entries added). */
void spate_wpack_begin(spate_buf_t *out);
void spate_wpack_add(spate_buf_t *out, const spate_wrepart_t *r, const spate_val_t *vals);
void spate_wpack_add_combined(spate_buf_t *out, const spate_wcomb_t *c);
void spate_wpack_finish(spate_buf_t *out, uint32_t count, const spate_wmark_t *marks, int n);

typedef struct spate_wpack_rd {
        const unsigned char *p, *end;
        uint32_t left;        /* entries not read yet */
        unsigned version;
} spate_wpack_rd_t;

/* 0, or -1 with errstr when buf is no repartition message. */
int spate_wpack_open(const void *buf, size_t len, spate_wpack_rd_t *rd, char *errstr, size_t errstr_size);
/* The next entry: 1 a record (in r and vals, which needs room for max
 * values), 2 a combined batch (in c), 0 after the last, -1 with errstr when
 * malformed; raw and rawlen give the entry's bytes. */
int spate_wpack_next(spate_wpack_rd_t *rd, spate_wrepart_t *r, spate_val_t *vals, int max,
                     spate_wcomb_t *c, const void **raw, size_t *rawlen, char *errstr,
                     size_t errstr_size);
/* After the records: the marks (at most max); their count, or -1 with errstr. */
int spate_wpack_marks(spate_wpack_rd_t *rd, spate_wmark_t *marks, int max, char *errstr,
                      size_t errstr_size);

/* Aggregate spec "fn(arg)": the function and where its argument expression
 * starts and ends in spec (trimmed; empty for count(), staleness() and
 * completeness(P)), and its parameter (*paramp: spikes(e, L)'s limit L,
 * completeness(P)'s P in ms; else 0). Arguments as spate_agg_fn_arity() says.
 * 0, or -1 with errstr (a did-you-mean for an unknown name); *posp then is
 * the offset the error refers to. */
int spate_agg_spec_parse(const char *spec, spate_agg_fn_t *fnp, size_t *arg_off,
                         size_t *arg_len, double *paramp, size_t *posp, char *errstr,
                         size_t errstr_size);


#endif
