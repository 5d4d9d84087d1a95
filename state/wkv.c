/* wkv.c - windowed stores (wkv.h) as a key layout over kv.c's stores:
 * [segment][key] -> [timestamp][value], segments of retention / 2, and
 * expiry as a range delete of the segments the stream time has left behind. */
#include "wkv.h"
#include "../engine/iq.h"
#include "../util/bloom.h"
#include "../util/buf.h"
#include "../util/mem.h"
#include "../util/util.h"

#include <stdlib.h>
#include <string.h>

#define SEG_BYTES 8
#define TS_BYTES 8
/* A fetch reads one key per segment of its range: a range wider than this
 * many segments is a caller's mistake, not a read to make. */
#define FETCH_SEGMENTS_MAX 1024
/* The key filters' Bloom filters (util/bloom.h): a segment's first one is
 * sized for the keys of the newest segment before it, at least
 * FILTER_MIN_KEYS. */
#define FILTER_MIN_KEYS 512

int spate_node_add_window_store(spate_node_t *n, const char *name, int64_t retention_ms, char *errstr,
                                size_t errstr_size) {
        if (retention_ms <= 0)
                return spate_node_error(n, NULL, errstr, errstr_size, "store '%s': a windowed store's "
                                        "retention must be positive", name);
        if (spate_node_add_store(n, name, errstr, errstr_size))
                return -1;
        return spate_kv_node_window(n, retention_ms, retention_ms / 2 > 0 ? retention_ms / 2 : 1);
}

/* floor(ts / segment), for negative times too. */
static int64_t seg_of(int64_t ts, int64_t segment) {
        int64_t q = ts / segment;
        return q * segment > ts ? q - 1 : q;
}

/* The first segment holding an unexpired entry at stream time s (INT64_MIN
 * for a store that has seen no time: none expired). */
static int64_t first_live(int64_t s, int64_t retention, int64_t segment) {
        if (s == INT64_MIN)
                return INT64_MIN;
        return seg_of(s - retention + 1, segment);
}

static void seg_encode(unsigned char *b, int64_t seg) {
        spate_put_be64(b, (int64_t)((uint64_t)seg ^ (UINT64_C(1) << 63)));
}

static int64_t seg_decode(const void *b) {
        return (int64_t)((uint64_t)spate_get_be64(b) ^ (UINT64_C(1) << 63));
}

/* [segment][key] in out (cleared first). */
static void seg_key(spate_buf_t *out, int64_t seg, const void *key, size_t klen) {
        unsigned char b[SEG_BYTES];
        seg_encode(b, seg);
        spate_buf_set(out, b, sizeof(b));
        spate_buf_put(out, key, klen);
}

/* An entry value's timestamp. */
static int64_t ts_of(const void *val) {
        return spate_get_be64(val);
}

static int expired(int64_t ts, int64_t retention, int64_t stream_time) {
        return stream_time != INT64_MIN && ts <= stream_time - retention;
}

/* The keys of a range, collected: kv's range callback may not change it. */
static int collect(void *opaque, const void *key, size_t klen, const void *val, size_t vlen) {
        spate_buf_t *keys = opaque;
        uint32_t kl = (uint32_t)klen;
        (void)val, (void)vlen;
        spate_buf_put(keys, &kl, 4);
        spate_buf_put(keys, key, klen);
        return 0;
}

/* Deletes every entry of the segments [lo, hi). */
static int expire(spate_kv_t *kv, int64_t lo, int64_t hi, uint64_t *count) {
        unsigned char lb[SEG_BYTES], hb[SEG_BYTES];
        spate_buf_t keys = { 0 };
        int rc;
        seg_encode(lb, lo);
        seg_encode(hb, hi);
        rc = spate_kv_range(kv, lb, sizeof(lb), hb, sizeof(hb), collect, &keys);
        for (size_t at = 0; !rc && at < keys.len;) {
                uint32_t kl;
                memcpy(&kl, keys.data + at, 4);
                rc = spate_kv_delete(kv, keys.data + at + 4, kl);
                at += 4 + kl;
                if (count)
                        ++*count;
        }
        spate_buf_free(&keys);
        return rc;
}

/* --- key filters ---
 * A fetch reads a key in each segment of its range (three for dedupe), and
 * a new key is in none of them. A cache that is not complete (it evicted,
 * or the task restored a non-empty column family) sends each such miss to
 * RocksDB, caching the absence (which evicts more): with state over
 * state_memory_mb that made dedupe slower per record than its plain store
 * (one read a record). So each task keeps, per live segment, a Bloom filter
 * of the keys the segment may hold - every key put since the task's store
 * opened, and the keys it held then, read once by a range over the live
 * segments - and a fetch reads only the segments whose filter may hold the
 * key. A filter only ever grows (a delete leaves the key in it), so it
 * holds a superset of the segment's keys: it never hides an entry, and
 * fetches answer as without it. A segment's filter goes with the segment
 * (spate_wkv_advance()). It lives with the task's store (spate_kv_aux()),
 * which a restore makes anew, so it is rebuilt from whatever the restore
 * left. Memory: 2 to 4 bytes a key (bits a power of two), outside
 * state_memory_mb. */

/* A Bloom filter; a segment's are layers, the last taking new keys, the
 * next one twice as large once it is full (so no key count is needed in
 * advance). */
typedef struct layer {
        uint64_t *bits;
        size_t nbits;                /* a power of two */
        size_t n, cap;               /* keys noted, keys it is sized for */
} layer_t;

typedef struct segfilter {
        int64_t seg;
        layer_t *layers;
        size_t nlayers;
} segfilter_t;

typedef struct filters {
        segfilter_t *segs;           /* ascending by segment */
        size_t nsegs;
} filters_t;

static int layer_probe(layer_t *l, uint64_t h, int set) {
        return spate_bloom_probe(l->bits, l->nbits, h, set);
}

static int filter_may_hold(segfilter_t *f, uint64_t h) {
        for (size_t i = f->nlayers; i-- > 0;)
                if (layer_probe(&f->layers[i], h, 0))
                        return 1;
        return 0;
}

static size_t filter_keys(const segfilter_t *f) {
        size_t n = 0;
        for (size_t i = 0; i < f->nlayers; i++)
                n += f->layers[i].n;
        return n;
}

static layer_t *layer_add(segfilter_t *f, size_t cap) {
        size_t bits = spate_bloom_bits(cap, 64);
        f->layers = spate_xrealloc(f->layers, sizeof(*f->layers) * (f->nlayers + 1));
        layer_t *l = &f->layers[f->nlayers++];
        *l = (layer_t){ .bits = spate_xcalloc(bits / 64, sizeof(uint64_t)), .nbits = bits, .cap = cap };
        return l;
}

/* Notes key hash h in f (once: a key it may hold already is not counted);
 * a full last layer gets a successor twice its size. */
static void filter_note(segfilter_t *f, uint64_t h) {
        layer_t *l = &f->layers[f->nlayers - 1];
        if (filter_may_hold(f, h))
                return;
        if (l->n >= l->cap)
                l = layer_add(f, 2 * l->cap);
        layer_probe(l, h, 1);
        l->n++;
}

static void filter_free(segfilter_t *f) {
        for (size_t i = 0; i < f->nlayers; i++)
                free(f->layers[i].bits);
        free(f->layers);
}

static void filters_free(void *p) {
        filters_t *fs = p;
        for (size_t i = 0; i < fs->nsegs; i++)
                filter_free(&fs->segs[i]);
        free(fs->segs);
        free(fs);
}

/* seg's filter; NULL when it has none (unless create: a new one's first
 * layer is sized for the keys of the newest segment so far). */
static segfilter_t *seg_filter(filters_t *fs, int64_t seg, int create) {
        size_t i = 0, hint;
        while (i < fs->nsegs && fs->segs[i].seg < seg)
                i++;
        if (i < fs->nsegs && fs->segs[i].seg == seg)
                return &fs->segs[i];
        if (!create)
                return NULL;
        hint = fs->nsegs ? filter_keys(&fs->segs[fs->nsegs - 1]) : 0;
        fs->segs = spate_xrealloc(fs->segs, sizeof(*fs->segs) * (fs->nsegs + 1));
        memmove(fs->segs + i + 1, fs->segs + i, sizeof(*fs->segs) * (fs->nsegs - i));
        fs->nsegs++;
        fs->segs[i] = (segfilter_t){ .seg = seg };
        layer_add(&fs->segs[i], hint > FILTER_MIN_KEYS ? hint : FILTER_MIN_KEYS);
        return &fs->segs[i];
}

/* Notes key in seg's filter. */
static void filters_note(filters_t *fs, int64_t seg, const void *key, size_t klen) {
        filter_note(seg_filter(fs, seg, 1), spate_hash(key, klen));
}

/* The filters of the segments before seg go (their entries are deleted). */
static void filters_drop_before(filters_t *fs, int64_t seg) {
        size_t n = 0;
        while (n < fs->nsegs && fs->segs[n].seg < seg)
                filter_free(&fs->segs[n++]);
        if (n)
                memmove(fs->segs, fs->segs + n, sizeof(*fs->segs) * (fs->nsegs - n));
        fs->nsegs -= n;
}

static int note_entry(void *opaque, const void *key, size_t klen, const void *val, size_t vlen) {
        (void)val, (void)vlen;
        if (klen >= SEG_BYTES)
                filters_note(opaque, seg_decode(key), (const char *)key + SEG_BYTES, klen - SEG_BYTES);
        return 0;
}

/* The task's filters, made at its first call from the live segments'
 * entries (the cache's dirty ones and RocksDB's). NULL when that read
 * failed (the record has failed). */
static filters_t *filters_of(spate_kv_t *kv) {
        filters_t *fs = spate_kv_aux(kv);
        int64_t segment, retention = spate_kv_window(kv, &segment);
        unsigned char lb[SEG_BYTES];
        if (fs)
                return fs;
        fs = spate_xcalloc(1, sizeof(*fs));
        seg_encode(lb, first_live(spate_kv_stream_time(kv), retention, segment));
        if (spate_kv_range(kv, lb, sizeof(lb), NULL, 0, note_entry, fs)) {
                filters_free(fs);
                return NULL;
        }
        spate_kv_set_aux(kv, fs, filters_free);
        return fs;
}

int spate_wkv_advance(spate_kv_t *kv, int64_t t, uint64_t *expired_count) {
        int64_t segment, retention = spate_kv_window(kv, &segment);
        int64_t before = spate_kv_stream_time(kv), lo, hi;
        filters_t *fs;
        if (before != INT64_MIN && t <= before)
                return 0;
        if (!(fs = filters_of(kv)))
                return -1;
        spate_kv_set_stream_time(kv, t);
        lo = first_live(before, retention, segment);
        hi = first_live(t, retention, segment);
        filters_drop_before(fs, hi);
        return hi > lo ? expire(kv, lo, hi, expired_count) : 0;
}

/* Writes (or, val NULL, deletes) key's entry of ts's segment. Every entry
 * written goes through here, noted in its segment's key filter first. */
static int write_entry(spate_kv_t *kv, const void *key, size_t klen, int64_t ts, const void *val, size_t vlen) {
        int64_t segment, seg;
        spate_buf_t k = { 0 }, v = { 0 };
        unsigned char tb[TS_BYTES];
        filters_t *fs = NULL;
        int rc;
        if (val && !(fs = filters_of(kv)))
                return -1;
        spate_kv_window(kv, &segment);
        seg = seg_of(ts, segment);
        seg_key(&k, seg, key, klen);
        if (val) {
                filters_note(fs, seg, key, klen);
                spate_put_be64(tb, ts);
                spate_buf_put(&v, tb, sizeof(tb));
                spate_buf_put(&v, val, vlen);
                rc = spate_kv_put(kv, k.data, k.len, v.data, v.len);
        } else {
                rc = spate_kv_delete(kv, k.data, k.len);
        }
        spate_buf_free(&k);
        spate_buf_free(&v);
        return rc;
}

int spate_wkv_put(spate_kv_t *kv, const void *key, size_t klen, int64_t ts, const void *val, size_t vlen) {
        int64_t segment, retention = spate_kv_window(kv, &segment);
        if (expired(ts, retention, spate_kv_stream_time(kv)))
                return 0;
        return write_entry(kv, key, klen, ts, val ? val : "", vlen);
}

int spate_wkv_delete(spate_kv_t *kv, const void *key, size_t klen, int64_t ts) {
        return write_entry(kv, key, klen, ts, NULL, 0);
}

int spate_wkv_fetch(spate_kv_t *kv, const void *key, size_t klen, int64_t from, int64_t to, spate_wkv_fetch_cb cb,
                    void *opaque) {
        int64_t segment, retention = spate_kv_window(kv, &segment), s = spate_kv_stream_time(kv);
        int64_t lo, hi, floor = first_live(s, retention, segment);
        filters_t *fs;
        uint64_t h = spate_hash(key, klen);
        spate_buf_t k = { 0 };
        int rc = 0;
        if (to < from)
                return 0;
        lo = seg_of(from, segment);
        hi = seg_of(to, segment);
        lo = lo > floor ? lo : floor;
        if (hi < lo)
                return 0;
        if ((uint64_t)hi - (uint64_t)lo >= FETCH_SEGMENTS_MAX)
                return spate_kv_fail(kv, "a fetch over more than 1024 segments (FETCH_SEGMENTS_MAX)");
        if (!(fs = filters_of(kv)))
                return -1;
        for (int64_t seg = hi;; seg--) {
                segfilter_t *f = seg_filter(fs, seg, 0);
                const void *val;
                size_t vlen;
                if (f && filter_may_hold(f, h)) {
                        seg_key(&k, seg, key, klen);
                        if ((rc = spate_kv_get(kv, k.data, k.len, &val, &vlen)) < 0)
                                break;
                        int64_t ts = rc == 0 && vlen >= TS_BYTES ? ts_of(val) : 0;
                        rc = 0;
                        if (vlen >= TS_BYTES && ts >= from && ts <= to && !expired(ts, retention, s) &&
                            cb(opaque, ts, (const char *)val + TS_BYTES, vlen - TS_BYTES))
                                break;
                }
                if (seg == lo)
                        break;
        }
        spate_buf_free(&k);
        return rc;
}

int spate_wkv_get(spate_kv_t *kv, const void *key, size_t klen, int64_t ts, int64_t *ets, const void **val,
                  size_t *vlen) {
        int64_t segment, retention = spate_kv_window(kv, &segment), seg = seg_of(ts, segment);
        spate_buf_t k = { 0 };
        filters_t *fs;
        segfilter_t *f;
        if (!(fs = filters_of(kv)))
                return -1;
        /* A key new to the segment (most of join's lookups under eviction)
         * reads nothing, as in a fetch. */
        if (!(f = seg_filter(fs, seg, 0)) || !filter_may_hold(f, spate_hash(key, klen)))
                return 1;
        seg_key(&k, seg, key, klen);
        int rc = spate_kv_get(kv, k.data, k.len, val, vlen);
        spate_buf_free(&k);
        if (rc)
                return rc;
        if (*vlen < TS_BYTES || expired(ts_of(*val), retention, spate_kv_stream_time(kv)))
                return 1;
        *ets = ts_of(*val);
        *val = (const char *)*val + TS_BYTES;
        *vlen -= TS_BYTES;
        return 0;
}

typedef struct {
        spate_wkv_each_cb cb;
        void *opaque;
        int64_t retention, stream_time;
} each_t;

static int each_live(void *opaque, const void *key, size_t klen, const void *val, size_t vlen) {
        each_t *e = opaque;
        if (klen < SEG_BYTES || vlen < TS_BYTES || expired(ts_of(val), e->retention, e->stream_time))
                return 0;
        return e->cb(e->opaque, (const char *)key + SEG_BYTES, klen - SEG_BYTES, ts_of(val),
                     (const char *)val + TS_BYTES, vlen - TS_BYTES);
}

int spate_wkv_each(spate_kv_t *kv, spate_wkv_each_cb cb, void *opaque) {
        int64_t segment;
        each_t e = { cb, opaque, spate_kv_window(kv, &segment), spate_kv_stream_time(kv) };
        unsigned char lb[SEG_BYTES];
        seg_encode(lb, first_live(e.stream_time, e.retention, segment));
        return spate_kv_range(kv, lb, sizeof(lb), NULL, 0, each_live, &e);
}

/* --- interactive queries --- */

typedef struct {
        spate_wkv_render_fn render;
        spate_buf_t key, out;
        int64_t *segs;               /* the segments holding entries, ascending */
        size_t nsegs;
} wq_t;

/* The segments the copy holds from its first live one. */
static int find_segments(spate_kv_view_t *v, wq_t *w, int64_t floor, char *errstr, size_t errstr_size) {
        unsigned char lb[SEG_BYTES];
        int64_t from = floor;
        w->nsegs = 0;
        for (;;) {
                spate_kv_iter_t *it;
                const char *k, *val;
                size_t kl, vl;
                int rc;
                seg_encode(lb, from);
                if (spate_kv_view_iter(v, lb, sizeof(lb), NULL, 0, &it, errstr, errstr_size))
                        return -1;
                rc = spate_kv_iter_next(it, &k, &kl, &val, &vl, errstr, errstr_size);
                int64_t seg = rc == 1 && kl >= SEG_BYTES ? seg_decode(k) : 0;
                spate_kv_iter_destroy(it);
                if (rc <= 0)
                        return rc;
                w->segs = spate_xrealloc(w->segs, sizeof(*w->segs) * (w->nsegs + 1));
                w->segs[w->nsegs++] = seg;
                if (seg == INT64_MAX)
                        return 0;
                from = seg + 1;
        }
}

/* Key's unexpired entry of segment seg: 1 with *val (the caller frees it),
 * 0 when none, -1. */
static int entry_at(spate_kv_view_t *v, wq_t *w, int64_t seg, const void *key, size_t klen, char **val,
                    size_t *vlen, char *errstr, size_t errstr_size) {
        int64_t retention, s = spate_kv_view_stream_time(v, &retention, NULL);
        int rc;
        seg_key(&w->key, seg, key, klen);
        if ((rc = spate_kv_view_get(v, w->key.data, w->key.len, val, vlen, errstr, errstr_size)))
                return rc < 0 ? -1 : 0;
        if (*vlen >= TS_BYTES && !expired(ts_of(*val), retention, s))
                return 1;
        free(*val);
        return 0;
}

/* 1 if a segment after segs[i] holds an unexpired entry of key, 0, -1. */
static int newer_entry(spate_kv_view_t *v, wq_t *w, size_t i, const void *key, size_t klen, char *errstr,
                       size_t errstr_size) {
        char *val;
        size_t vlen;
        for (size_t j = i + 1; j < w->nsegs; j++) {
                int rc = entry_at(v, w, w->segs[j], key, klen, &val, &vlen, errstr, errstr_size);
                if (rc)
                        return rc < 0 ? -1 : (free(val), 1);
        }
        return 0;
}

static void row(wq_t *w, spate_iq_rows_t *rows, const void *key, size_t klen, const char *val, size_t vlen,
                int *full) {
        w->out.len = 0;
        w->render(key, klen, ts_of(val), val + TS_BYTES, vlen - TS_BYTES, &w->out);
        *full = spate_iq_row(rows, w->out.data, w->out.len);
}

static int query_get(spate_kv_view_t *v, wq_t *w, const spate_iq_t *q, spate_iq_rows_t *rows, char *errstr,
                     size_t errstr_size) {
        char *val;
        size_t vlen;
        int full;
        for (size_t i = w->nsegs; i-- > 0;) {
                int rc = entry_at(v, w, w->segs[i], q->key, q->klen, &val, &vlen, errstr, errstr_size);
                if (rc < 0)
                        return -1;
                if (rc) {
                        row(w, rows, q->key, q->klen, val, vlen, &full);
                        free(val);
                        return 0;
                }
        }
        return 0;
}

static int query_scan(spate_kv_view_t *v, wq_t *w, const spate_iq_t *q, spate_iq_rows_t *rows, char *errstr,
                      size_t errstr_size) {
        int64_t retention, s = spate_kv_view_stream_time(v, &retention, NULL);
        int rc = 0, full = 0;
        for (size_t i = 0; !full && !rc && i < w->nsegs; i++) {
                unsigned char lb[SEG_BYTES], hb[SEG_BYTES];
                spate_kv_iter_t *it;
                const char *k, *val;
                size_t kl, vl;
                seg_encode(lb, w->segs[i]);
                seg_encode(hb, w->segs[i] + (w->segs[i] < INT64_MAX));
                if (spate_kv_view_iter(v, lb, sizeof(lb), w->segs[i] < INT64_MAX ? hb : NULL, sizeof(hb), &it,
                                       errstr, errstr_size))
                        return -1;
                while (!full && (rc = spate_kv_iter_next(it, &k, &kl, &val, &vl, errstr, errstr_size)) == 1) {
                        const char *key = k + SEG_BYTES;
                        size_t klen = kl - SEG_BYTES;
                        if (kl < SEG_BYTES || vl < TS_BYTES || expired(ts_of(val), retention, s) ||
                            !spate_iq_key_wanted(q, key, klen))
                                continue;
                        if ((rc = newer_entry(v, w, i, key, klen, errstr, errstr_size)) < 0)
                                break;
                        if (!rc)
                                row(w, rows, key, klen, val, vl, &full);
                }
                spate_kv_iter_destroy(it);
                rc = rc < 0 ? -1 : 0;
        }
        return rc;
}

static int query_copy(spate_kv_view_t *v, const spate_iq_t *q, spate_iq_rows_t *rows, void *opaque, char *errstr,
                      size_t errstr_size) {
        wq_t *w = opaque;
        int64_t retention, segment, s = spate_kv_view_stream_time(v, &retention, &segment);
        if (find_segments(v, w, first_live(s, retention, segment), errstr, errstr_size))
                return -1;
        return q->kind == SPATE_IQ_GET ? query_get(v, w, q, rows, errstr, errstr_size) :
                                         query_scan(v, w, q, rows, errstr, errstr_size);
}

int spate_wkv_query(const spate_node_t *n, const char *name, const spate_iq_t *q, spate_iq_rows_t *rows,
                    spate_wkv_render_fn render, char *errstr, size_t errstr_size) {
        wq_t w = { .render = render };
        int rc = spate_kv_query_each(n, name, q, rows, query_copy, &w, errstr, errstr_size);
        spate_buf_free(&w.key);
        spate_buf_free(&w.out);
        free(w.segs);
        return rc;
}
