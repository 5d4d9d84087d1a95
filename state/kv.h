/* kv.h - key-value state stores owned by the engine (docs/stores.md).
 *
 * A node declares named stores at init; the engine then keeps, per task (a
 * partition of the source topic the node's records come from, or of its own
 * repartition topic) and store:
 *   - a cache of recent entries, bounded by the node's share of
 *     settings.state_memory_mb (spate_topology_cache_bytes()): updates between commits coalesce per key, clean entries are
 *     evicted least recently used first, a dirty entry stays until its
 *     commit (a node whose dirty entries fill the bound gets an early commit);
 *   - read-through to the task's RocksDB column family on a miss, so state
 *     larger than memory works;
 *   - the changelog <application>-<node>-<store>-changelog (compacted, one
 *     partition per task): at flush every dirty key is produced once, then a
 *     meta record closes the commit (the input offset and stream time the
 *     state reflects);
 *   - at checkpoint (after every acknowledgement) one atomic RocksDB batch:
 *     the dirty entries and the meta naming the changelog offset reached;
 *   - restore on assignment: the local column family, then the changelog
 *     past it, applied one complete commit at a time; records of a commit
 *     that never got its meta record are ignored and their keys rewritten by
 *     the next commit, so that no later reader applies them either; the
 *     writes go to RocksDB on the restore pipe's worker while the next task
 *     is read (state/restore_pipe.h), and a task is the node's (visible to
 *     spate_ctx_kv()) once its last write is joined: at the latest when the
 *     rebalance's assignments complete (node_state.h: assigned);
 *   - replays: a record of the task's input below the offset the restored
 *     state reflects is reported by spate_ctx_kv() as already applied.
 * Values are bytes: the node encodes and decodes them, or gives the store a
 * codec, whose cache then keeps decoded values: a value is decoded once,
 * when it is read into the cache, and encoded once per commit, however
 * many records change it in between (spate_kv_get_obj/put_obj). */
#ifndef SPATE_KV_H
#define SPATE_KV_H

#include "../engine/node.h"
#include "../util/buf.h"

#include <stddef.h>
#include <stdint.h>

/* Keys in RocksDB and in the changelog: a node's key after the byte
 * SPATE_KV_KEY_USER; the commit frame's meta record alone under the 1-byte
 * key SPATE_KV_KEY_META, so that no key a node writes is taken for it (for
 * tests and tools that read or forge a changelog). */
#define SPATE_KV_KEY_META 0x00
#define SPATE_KV_KEY_USER 0x01

typedef struct spate_kv spate_kv_t;            /* one store of one task */
typedef struct spate_kv_node spate_kv_node_t;  /* a node's stores */
typedef struct spate_kv_iter spate_kv_iter_t;  /* a range of a task's keys in RocksDB */

/* --- node init --- */
/* Declares store `name` (letters, digits, '_' and '-') of node n: the
 * changelog topic is declared here. One store per node for now (each
 * changelog frames its own commits; see docs/stores.md). The tasks are the
 * partitions of the internal topic the node reads, if it declared one
 * before (spate_topology_add_input(): its repartition topic, whose offsets
 * then filter replays); else its records must come from a source whose
 * offsets replay (kafka_source) with no repartition between, and that
 * source's partitions are the tasks. The first store attaches the stores' state
 * provider to n (engine/node_state.h), through which the engine restores,
 * commits, revokes, frees them and keeps their standbys. 0, or -1 with a
 * positioned errstr. */
int spate_node_add_store(spate_node_t *n, const char *name, char *errstr, size_t errstr_size);
/* As spate_node_add_store(), with the changelog topic named `changelog`
 * (copied) instead: a node whose changelog had its name before it ran on a
 * store (the window's <application>-<store>-changelog), so that state an
 * earlier version wrote there is read, and refused with a message, rather
 * than passed over. */
int spate_node_add_store_as(spate_node_t *n, const char *name, const char *changelog, char *errstr,
                            size_t errstr_size);
/* Makes store `name` of n (declared) one without a cache: the node keeps
 * its own (the window's groups) and hands the store each commit's changed
 * keys with spate_kv_write(), from the flush of a state provider of its own
 * attached before the store's (spate_node_add_state() first: providers run
 * in the order attached), and evicts its cache in the checkpoint of one
 * attached after it (the batch is written then). The store keeps the
 * changelog frames, checkpoints, restores, repairs and standbys; reads go
 * to RocksDB (spate_kv_iter()). The cache calls (get, put, delete, each,
 * range, the codec's) are not for it. 0, or -1 with no such store. */
int spate_kv_node_uncached(spate_node_t *n, const char *name);

/* --- run time, from process() --- */
/* The store `name` of the task of the record in flight. Returns 0 with *kvp,
 * 1 when the record is already in the restored state (a replay after a crash
 * between checkpoint and offset commit: its outputs were acknowledged
 * before, so the node does nothing with it), or -1 after spate_ctx_fail().
 * Calling it records the input offset the state reflects: call it for every
 * record the node reads. *kvp is owned by the engine, valid until the
 * partition is revoked. */
int spate_ctx_kv(spate_ctx_t *ctx, const spate_node_t *n, const char *name, spate_kv_t **kvp);

/* Outside process() - a punctuation that revisits the state (join's
 * re-emissions): the store `name` of task `partition`, NULL when that
 * partition of the input is not assigned here. What is changed through it
 * goes into the task's next commit. Owned by the engine, as above. */
spate_kv_t *spate_kv_node_task(const spate_node_t *n, const char *name, int32_t partition, spate_ctx_t *ctx);
/* wkv.c's: makes n's store (just declared) windowed, its keys laid out by
 * segments of `segment` ms (both > 0; kept in its meta records, which then
 * differ from a plain store's, so neither reads the other's state). 0 or -1. */
int spate_kv_node_window(spate_node_t *n, int64_t retention, int64_t segment);
/* The retention of kv's store (0: not windowed) and its segment interval. */
int64_t spate_kv_window(const spate_kv_t *kv, int64_t *segment);
/* A store's codec: how a node's decoded value is made from the bytes in
 * RocksDB and the changelog, and back. */
typedef struct spate_kv_codec {
        /* A new object from a stored value (owned by the store from then on),
         * or NULL with errstr when the bytes do not decode. */
        void *(*decode)(const void *val, size_t vlen, char *errstr, size_t errstr_size);
        /* Appends obj's bytes to out; decode must give them back. */
        void (*encode)(const void *obj, spate_buf_t *out);
        /* The memory obj holds, counted against the cache's bound. */
        size_t (*size)(const void *obj);
        void (*free)(void *obj);
} spate_kv_codec_t;
/* Gives the store `name` of n (declared) a codec, which outlives the node
 * (a static table): its cache keeps the objects of spate_kv_put_obj() and
 * spate_kv_get_obj(). Call at init, before any task. The byte calls still
 * work on it (a decoded value is encoded for them). 0, or -1 with no such
 * store. */
int spate_kv_node_codec(spate_node_t *n, const char *name, const spate_kv_codec_t *codec);
/* The input's partition count (the tasks there can be): 0 without stores. */
int spate_kv_node_partitions(const spate_node_t *n);

/* Below, -1 means a RocksDB failure: the record in flight has failed
 * (spate_ctx_fail()); process() returns -1 to dead-letter it. */
/* Point read: 0 with *val (borrowed: valid until the next call on any store
 * of the node) and *vlen, 1 when absent. */
int spate_kv_get(spate_kv_t *kv, const void *key, size_t klen, const void **val, size_t *vlen);
/* Key and value are copied. */
int spate_kv_put(spate_kv_t *kv, const void *key, size_t klen, const void *val, size_t vlen);
int spate_kv_delete(spate_kv_t *kv, const void *key, size_t klen);
/* With a codec: the decoded value of key, 0 with *obj, 1 when absent. *obj
 * is the store's, valid until the next call on any store of the node; the
 * node may change it in place, and then calls spate_kv_put_obj() with it
 * before that next call (a change not put is not committed, and the cache
 * would hold a value RocksDB does not). A stored value that does not decode
 * fails the record in flight. */
int spate_kv_get_obj(spate_kv_t *kv, const void *key, size_t klen, void **obj);
/* With a codec: obj becomes key's value and the store's (freed by the codec
 * when replaced, deleted or evicted). obj may be the object get_obj() gave,
 * changed in place: the key is then dirty and measured again. It is encoded
 * at the next commit's flush, once. */
int spate_kv_put_obj(spate_kv_t *kv, const void *key, size_t klen, void *obj);
/* Calls cb for every live key once, in no particular order, until cb returns
 * non-zero (returned). Key and value are borrowed for the call; cb must not
 * change the store (collect the keys, then change it). */
typedef int (*spate_kv_each_cb)(void *opaque, const void *key, size_t klen, const void *val, size_t vlen);
int spate_kv_each(spate_kv_t *kv, spate_kv_each_cb cb, void *opaque);
/* As each(), for the live keys in [lo, hi) by byte order (hi NULL: to the
 * end; lo not NULL, lolen may be 0), in no particular order: the cache's
 * dirty entries, then a RocksDB range over the rest (a clean cached entry
 * holds what RocksDB holds). Costs the dirty entries plus the range, not
 * the store. */
int spate_kv_range(spate_kv_t *kv, const void *lo, size_t lolen, const void *hi, size_t hilen,
                   spate_kv_each_cb cb, void *opaque);
/* Fails the record in flight with msg about kv's store: -1. */
int spate_kv_fail(spate_kv_t *kv, const char *msg);
/* 1 if key is in [lo, hi) by byte order (hi NULL: open). */
int spate_kv_key_in(const void *key, size_t klen, const void *lo, size_t lolen, const void *hi, size_t hilen);
/* The task's stream time as the node last set it (INT64_MIN: never), kept
 * and restored with the state. */
int64_t spate_kv_stream_time(const spate_kv_t *kv);
void spate_kv_set_stream_time(spate_kv_t *kv, int64_t t);
/* The node's own meta for the task (what the key-value entries do not say,
 * e.g. a window's applied offsets per upstream partition): bytes kept in
 * the task's commit frame, so that they are restored with the state of the
 * same commit, atomically. spate_kv_meta() returns them as last set (as
 * restored, after an assignment; NULL with *len 0: none), borrowed until
 * the next set; spate_kv_set_meta() copies, and a change alone makes the
 * next commit write a frame. */
const void *spate_kv_meta(const spate_kv_t *kv, size_t *len);
void spate_kv_set_meta(spate_kv_t *kv, const void *val, size_t len);
/* An uncached store (spate_kv_node_uncached()): key's value becomes val
 * (NULL: deleted), straight to the task's changelog and to the batch of its
 * next checkpoint, in the frame of the commit under way: call it from the
 * node's flush, with kv taken from spate_kv_node_task() with that flush's
 * ctx. Key and value are copied. 0, or -1 with the ctx's errstr (a failed
 * produce: the commit fails). */
int spate_kv_write(spate_kv_t *kv, const void *key, size_t klen, const void *val, size_t vlen);
/* The input offset the task's state reflects (the next one to apply), for a
 * node whose records do not pass spate_ctx_kv(); never lowered. It goes
 * into the next frame. spate_kv_next_offset() gives it: after a restore,
 * the offset input resumes at (records below are in the state). */
void spate_kv_set_next_offset(spate_kv_t *kv, int64_t next);
int64_t spate_kv_next_offset(const spate_kv_t *kv);
/* The task's keys in [lo, hi) by byte order (lo NULL or hi NULL: open), as
 * RocksDB holds them: as of the last checkpoint (the cache's dirty entries
 * are not in it: for an uncached store, whose node's cache holds every
 * change since, that is its whole state). Read with spate_kv_iter_next(),
 * freed with spate_kv_iter_destroy(); tasks may be iterated on threads of
 * their own, one iterator each. 0, or -1 with errstr. */
int spate_kv_iter(spate_kv_t *kv, const void *lo, size_t lolen, const void *hi, size_t hilen,
                  spate_kv_iter_t **itp, char *errstr, size_t errstr_size);
/* Entries the cache holds for this task, and how many of them are dirty. */
size_t spate_kv_cached(const spate_kv_t *kv, size_t *dirty);
/* State a layer over the store keeps per task (wkv.c's key filters): NULL
 * until set. The task's store lives one assignment (a restore, a crash's
 * recovery or a standby's promotion makes a new one), and frees it then
 * with free_fn: it never outlives the contents it describes. */
void *spate_kv_aux(const spate_kv_t *kv);
void spate_kv_set_aux(spate_kv_t *kv, void *aux, void (*free_fn)(void *));

/* --- interactive queries (engine/iq.h), from an HTTP thread --- */
/* Writes the JSON object answering for one entry (its key included) to out. */
typedef void (*spate_kv_render_fn)(const void *key, size_t klen, const void *val, size_t vlen, spate_buf_t *out);
/* Answers q (GET or SCAN; HISTORY gets 400) from the checkpointed column
 * families of store `name` of node n for q->parts, read under q->store's
 * read lock: what the last commits made durable, not the dirty cache. Rows
 * go to rows, rendered by render. 0, 400 or -1 with errstr (iq.h). */
/* One task's checkpointed column family as a query reads it (borrowed for
 * the call of a spate_kv_query_fn): point reads and ranges over the node's
 * keys, and its checkpoint's stream time. */
typedef struct spate_kv_view spate_kv_view_t;
/* Its stream time (INT64_MIN: no checkpoint) and its store's window
 * (spate_kv_window()). */
int64_t spate_kv_view_stream_time(const spate_kv_view_t *v, int64_t *retention, int64_t *segment);
/* 0 with *val (the caller frees it), 1 when absent, -1 with errstr. */
int spate_kv_view_get(spate_kv_view_t *v, const void *key, size_t klen, char **val, size_t *vlen, char *errstr,
                      size_t errstr_size);
/* Keys in [lo, hi) in byte order (hi NULL: to the end); next(): 1 with the
 * entry (borrowed until the next call), 0 at the end, -1 with errstr. */
int spate_kv_view_iter(spate_kv_view_t *v, const void *lo, size_t lolen, const void *hi, size_t hilen,
                       spate_kv_iter_t **itp, char *errstr, size_t errstr_size);
int spate_kv_iter_next(spate_kv_iter_t *it, const char **key, size_t *klen, const char **val, size_t *vlen,
                       char *errstr, size_t errstr_size);
void spate_kv_iter_destroy(spate_kv_iter_t *it);
/* Answers q for one task's copy into rows: 0 or -1 with errstr. */
typedef int (*spate_kv_query_fn)(spate_kv_view_t *v, const struct spate_iq *q, struct spate_iq_rows *rows,
                                 void *opaque, char *errstr, size_t errstr_size);
/* As spate_kv_query(), each of q->parts' copies answered by fn. A HISTORY
 * query gets 400 but for an uncached store (spate_kv_node_uncached(): the
 * window's, whose entries are its windows by start). */
int spate_kv_query_each(const spate_node_t *n, const char *name, const struct spate_iq *q,
                        struct spate_iq_rows *rows, spate_kv_query_fn fn, void *opaque, char *errstr,
                        size_t errstr_size);
int spate_kv_query(const spate_node_t *n, const char *name, const struct spate_iq *q,
                   struct spate_iq_rows *rows, spate_kv_render_fn render, char *errstr, size_t errstr_size);

#endif
