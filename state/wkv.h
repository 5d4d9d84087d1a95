/* wkv.h - windowed (time-keyed) state stores with retention, on kv.h's
 * stores (docs/stores.md "Windowed stores"): a node puts (key, timestamp,
 * value) and fetches a key's entries in a time range; entries older than
 * the task's stream time minus the retention expire. Cache, changelog,
 * checkpoint, restore, standbys and replays are kv.h's.
 *
 * Layout: a key's entry lives under [segment][key], segment = timestamp /
 * segment interval (retention / 2, at least 1 ms), big-endian with the sign
 * bit flipped so that byte order is time order; its value is [timestamp]
 * [value]. A store keeps one entry per key and segment: the last put. So
 * the entries that expire when the stream time moves are a range of whole
 * segments at the front of the key space, deleted by a range read (their
 * tombstones go to the changelog), not found by scanning the store. */
#ifndef SPATE_WKV_H
#define SPATE_WKV_H

#include "kv.h"

#include <stddef.h>
#include <stdint.h>

/* --- node init --- */
/* Declares windowed store `name` of n with retention `retention_ms` (> 0):
 * as spate_node_add_store(), whose rules apply (one store per node). The
 * task's store is then spate_ctx_kv()'s, used through the functions below
 * only. 0, or -1 with a positioned errstr. */
int spate_node_add_window_store(spate_node_t *n, const char *name, int64_t retention_ms, char *errstr,
                                size_t errstr_size);

/* --- run time (the rules of kv.h's calls: -1 after spate_ctx_fail()) --- */
/* Moves the task's stream time to max(its, t), deleting the segments whose
 * every entry is then expired (timestamp + retention <= stream time);
 * *expired (may be NULL) grows by the entries deleted. 0 or -1. */
int spate_wkv_advance(spate_kv_t *kv, int64_t t, uint64_t *expired);
/* Replaces key's entry of ts's segment by (ts, val); an already expired ts
 * is dropped (as Kafka Streams' segmented stores drop it). Copied. 0 or -1. */
int spate_wkv_put(spate_kv_t *kv, const void *key, size_t klen, int64_t ts, const void *val, size_t vlen);
/* Deletes key's entry of ts's segment. 0 or -1. */
int spate_wkv_delete(spate_kv_t *kv, const void *key, size_t klen, int64_t ts);
/* Calls cb with key's unexpired entries whose timestamp is in [from, to],
 * newest segment first (so the first is the last put, when puts come in
 * time order or are late only within a segment), until cb returns non-zero.
 * val is borrowed for the call. 0, or -1. */
typedef int (*spate_wkv_fetch_cb)(void *opaque, int64_t ts, const void *val, size_t vlen);
int spate_wkv_fetch(spate_kv_t *kv, const void *key, size_t klen, int64_t from, int64_t to, spate_wkv_fetch_cb cb,
                    void *opaque);

/* Key's unexpired entry of ts's segment: 0 with *ets (its timestamp) and
 * *val (borrowed as spate_kv_get()'s), 1 when none, -1. */
int spate_wkv_get(spate_kv_t *kv, const void *key, size_t klen, int64_t ts, int64_t *ets, const void **val,
                  size_t *vlen);
/* Calls cb with every unexpired entry of the store (key without its
 * segment), in no particular order (spate_kv_range()'s, from the first live
 * segment), until cb returns non-zero (returned). Borrowed for the call; cb
 * must not change the store. Costs the live segments, not the expired ones
 * not yet deleted. */
typedef int (*spate_wkv_each_cb)(void *opaque, const void *key, size_t klen, int64_t ts, const void *val,
                                 size_t vlen);
int spate_wkv_each(spate_kv_t *kv, spate_wkv_each_cb cb, void *opaque);

/* --- interactive queries (engine/iq.h), from an HTTP thread --- */
/* Writes the JSON object answering for a key's newest unexpired entry. */
typedef void (*spate_wkv_render_fn)(const void *key, size_t klen, int64_t ts, const void *val, size_t vlen,
                                    spate_buf_t *out);
/* As spate_kv_query(): GET answers the key's newest unexpired entry as of
 * the checkpoint; SCAN one row per such key, by segment, then key. */
int spate_wkv_query(const spate_node_t *n, const char *name, const struct spate_iq *q,
                    struct spate_iq_rows *rows, spate_wkv_render_fn render, char *errstr, size_t errstr_size);

#endif
