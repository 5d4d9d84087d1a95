/* kv.c - the engine-owned key-value stores of kv.h: per task and store a
 * cache (hash + LRU of clean entries + list of dirty ones) of encoded
 * values or, with the store's codec, decoded objects, read-through to a
 * RocksDB column family, the changelog frames (with the node's own meta)
 * and the restore. Keys carry one prefix byte (kv.h: SPATE_KV_KEY_USER,
 * SPATE_KV_KEY_META). */
#include "kv.h"
#include "../util/mem.h"
#include "restore_pipe.h"
#include "store.h"
#include "../engine/ctx.h"
#include "../engine/iq.h"
#include "../engine/metrics.h"
#include "../engine/node_state.h"
#include "../engine/topology.h"
#include "../util/buf.h"
#include "../util/log.h"
#include "../util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_META SPATE_KV_KEY_META
#define KEY_USER SPATE_KV_KEY_USER
/* Version 1: the fixed part alone; 2: the node's own meta (spate_kv_meta())
 * follows it, to the end of the record. A frame without one is written as
 * version 1, so that the state of a node that keeps none reads back in
 * versions before 2. */
#define META_VERSION 1
#define META_VERSION_EXT 2
#define META_SIZE (2 + 3 * 8)
/* A windowed store's meta (wkv.h) is marked 'W' and adds its segment
 * interval: its keys are laid out by it, so neither a plain store's state
 * nor one of another interval is read as its own. */
#define META_W_SIZE (META_SIZE + 8)
/* A restore hands its batch over (to the restore pipe's worker, or writes
 * it) at a commit boundary once it holds this many operations, so that a
 * long changelog tail does not sit in memory. */
#define RESTORE_BATCH 65536

typedef struct ent {
        struct ent *chain;           /* hash bucket */
        struct ent *prev, *next;     /* the task's clean (LRU) or dirty list */
        uint64_t hash;
        char *val;                   /* encoded; NULL: absent (dirty: deleted) unless obj */
        void *obj;                   /* decoded (the store's codec); val is then NULL */
        uint32_t klen, vlen, vcap;   /* vcap: the bytes val or obj holds */
        uint8_t dirty;
        char key[];
} ent_t;

typedef struct list {
        ent_t *head, *tail;
} list_t;

/* What a commit frame records besides the entries. */
typedef struct meta {
        int64_t next_offset;         /* input offset the state reflects (the next one to apply) */
        int64_t changelog_next;      /* RocksDB only: the changelog offset the state reflects */
        int64_t stream_time;
} meta_t;

struct spate_kv {
        spate_kv_node_t *owner;
        int store;                   /* index in owner->names */
        int32_t partition;
        spate_ctx_t *ctx;            /* errstr and early commits */
        spate_store_cf_t *cf;
        spate_store_batch_t *batch;
        ent_t **buckets;
        size_t nbuckets, nents, ndirty;
        list_t clean, dirty;
        meta_t meta;                 /* as of the last frame flushed */
        spate_buf_t meta_ext;        /* the node's meta in that frame */
        spate_buf_t ext;             /* the node's meta as it last set it (spate_kv_set_meta()) */
        int64_t next_offset, stream_time, resume_offset;
        int64_t acked;               /* changelog offset after the last acknowledged record */
        int complete;                /* every live key is cached: each() need not read RocksDB */
        int warm;                    /* a standby kept the local copy warm before the assignment */
        int committing;              /* flushed, not checkpointed */
        int written;                 /* uncached: spate_kv_write() since the last frame */
        spate_buf_t repair;          /* uncached: prefixed keys of a frame a crash cut, a key
                                      * list ([u32 length][key]...): the next frame writes
                                      * their restored values (write_repairs()) */
        void *aux;                   /* spate_kv_set_aux()'s, freed with the task */
        void (*free_aux)(void *);
};

struct spate_kv_node {
        const spate_node_t *node;
        char **names, **changelogs;
        int nstores;
        const char *topic;           /* the tasks' input (a source topic) */
        spate_kv_t **tasks;          /* [partition * nstores + store] */
        struct restore **standbys;   /* the same slots: warm copies of tasks not owned */
        /* Assignment restores: a task's writes go to RocksDB on its worker
         * while the next is read; the task enters tasks at its done. */
        spate_restore_pipe_t *pipe;
        /* The rebalance's restores so far (for its log line): start (ms, 0:
         * none under way), tasks restored, changelog records applied. */
        int64_t restore_t0;
        double restore_cpu0;         /* process CPU seconds at restore_t0 */
        int restore_tasks;
        uint64_t restore_applied;
        int npartitions;
        int64_t retention, segment;  /* a windowed store's (wkv.h); 0: a plain one */
        size_t used, dirty_bytes;
        spate_metric_t *m_cache;     /* spate_store_cache_bytes{node}, after each checkpoint */
        /* spate_store_cache_requests_total{node,result}: the hit ratio, whether
         * state_memory_mb holds the working set */
        spate_metric_t *m_hit, *m_miss;
        spate_buf_t key;             /* a key with its prefix */
        spate_buf_t val;             /* meta encoding */
        const spate_kv_codec_t **codecs;  /* per store: NULL, its values are bytes */
        int uncached;                /* spate_kv_node_uncached(): the node is the cache */
        spate_buf_t enc;             /* a decoded value encoded: get() and flush */
};

/* --- the cache --- */

static size_t ent_bytes(const ent_t *e) {
        return sizeof(*e) + e->klen + e->vcap;
}

static const spate_kv_codec_t *codec_of(const spate_kv_t *kv) {
        return kv->owner->codecs ? kv->owner->codecs[kv->store] : NULL;
}

/* A live entry holds a value, encoded or decoded. */
static int live(const ent_t *e) {
        return e->val || e->obj;
}

/* Drops e's value, whichever form it has (the byte counts are the caller's). */
static void drop_val(const spate_kv_t *kv, ent_t *e) {
        if (e->obj)
                codec_of(kv)->free(e->obj);
        free(e->val);
        e->obj = NULL;
        e->val = NULL;
        e->vlen = e->vcap = 0;
}

/* e's value as bytes: val itself, or obj encoded into out (reset first). */
static const char *val_bytes(const spate_kv_t *kv, const ent_t *e, spate_buf_t *out, size_t *len) {
        if (!e->obj) {
                *len = e->vlen;
                return e->val;
        }
        out->len = 0;
        codec_of(kv)->encode(e->obj, out);
        *len = out->len;
        return out->data ? out->data : "";
}

static void list_unlink(list_t *l, ent_t *e) {
        *(e->prev ? &e->prev->next : &l->head) = e->next;
        *(e->next ? &e->next->prev : &l->tail) = e->prev;
        e->prev = e->next = NULL;
}

static void list_append(list_t *l, ent_t *e) {
        e->prev = l->tail;
        e->next = NULL;
        *(l->tail ? &l->tail->next : &l->head) = e;
        l->tail = e;
}

static ent_t *find(const spate_kv_t *kv, const void *key, size_t klen, uint64_t h) {
        if (!kv->nbuckets)
                return NULL;
        for (ent_t *e = kv->buckets[h & (kv->nbuckets - 1)]; e; e = e->chain)
                if (e->hash == h && e->klen == klen && !memcmp(e->key, key, klen))
                        return e;
        return NULL;
}

static void rehash(spate_kv_t *kv) {
        size_t nb = kv->nbuckets ? kv->nbuckets * 2 : 64;
        ent_t **b = spate_xcalloc(nb, sizeof(*b));  /* the one out-of-memory policy (util/buf.c) */
        for (size_t i = 0; i < kv->nbuckets; i++)
                for (ent_t *e = kv->buckets[i], *next; e; e = next) {
                        next = e->chain;
                        e->chain = b[e->hash & (nb - 1)];
                        b[e->hash & (nb - 1)] = e;
                }
        free(kv->buckets);
        kv->buckets = b;
        kv->nbuckets = nb;
}

static ent_t *insert(spate_kv_t *kv, const void *key, size_t klen, uint64_t h) {
        ent_t *e = spate_xcalloc(1, sizeof(*e) + klen);
        if (kv->nents >= kv->nbuckets)
                rehash(kv);
        memcpy(e->key, key, klen);
        e->klen = (uint32_t)klen;
        e->hash = h;
        e->chain = kv->buckets[h & (kv->nbuckets - 1)];
        kv->buckets[h & (kv->nbuckets - 1)] = e;
        kv->nents++;
        kv->owner->used += ent_bytes(e);
        return e;
}

static void remove_ent(spate_kv_t *kv, ent_t *e) {
        ent_t **p = &kv->buckets[e->hash & (kv->nbuckets - 1)];
        while (*p != e)
                p = &(*p)->chain;
        *p = e->chain;
        list_unlink(e->dirty ? &kv->dirty : &kv->clean, e);
        kv->owner->used -= ent_bytes(e);
        if (e->dirty) {
                kv->owner->dirty_bytes -= ent_bytes(e);
                kv->ndirty--;
        }
        kv->nents--;
        drop_val(kv, e);
        free(e);
}

/* Replaces e's value (val NULL: absent), keeping the byte counts. */
static void set_val(spate_kv_t *kv, ent_t *e, const void *val, size_t vlen) {
        size_t before = ent_bytes(e);
        if (e->obj || !val)
                drop_val(kv, e);
        if (val) {
                if (!e->val || vlen > e->vcap) {
                        char *v = spate_xrealloc(e->val, vlen ? vlen : 1);
                        e->val = v;
                        e->vcap = (uint32_t)vlen;
                }
                memcpy(e->val, val, vlen);
                e->vlen = (uint32_t)vlen;
        }
        kv->owner->used += ent_bytes(e) - before;
        if (e->dirty)
                kv->owner->dirty_bytes += ent_bytes(e) - before;
}

static void mark_dirty(spate_kv_t *kv, ent_t *e) {
        if (e->dirty)
                return;
        list_unlink(&kv->clean, e);
        list_append(&kv->dirty, e);
        e->dirty = 1;
        kv->ndirty++;
        kv->owner->dirty_bytes += ent_bytes(e);
}

/* The node's share of state_memory_mb (read at run time: every node has
 * declared itself by then). */
static size_t limit(const spate_kv_node_t *kn) {
        return spate_topology_cache_bytes(kn->node->topo);
}

/* Least recently used clean entries go while the node is over its bound;
 * keep (just touched) stays. */
static void evict(spate_kv_t *kv, const ent_t *keep) {
        while (kv->owner->used > limit(kv->owner) && kv->clean.head && kv->clean.head != keep) {
                kv->complete &= !live(kv->clean.head);
                remove_ent(kv, kv->clean.head);
        }
}

/* A RocksDB call failed with its message in the ctx's errstr: the record in
 * flight fails with it. */
static int kv_fail(spate_kv_t *kv) {
        char err[sizeof(kv->ctx->errstr)];
        memcpy(err, kv->ctx->errstr, sizeof(err));
        return spate_ctx_fail(kv->ctx, kv->owner->node, "store '%s': %s", kv->owner->names[kv->store], err);
}

static const char *prefixed(spate_kv_node_t *kn, int kind, const void *key, size_t klen, size_t *len) {
        kn->key.len = 0;
        spate_buf_putc(&kn->key, (char)kind);
        spate_buf_put(&kn->key, key, klen);
        *len = kn->key.len;
        return kn->key.data;
}

/* What lookup() answers for a key a complete cache does not hold. */
static ent_t absent;

/* The entry of key, read from RocksDB into the cache on a miss. NULL with
 * the ctx's errstr on a RocksDB error. With absent_ok, a task whose cache
 * holds every live key (complete) answers a miss with &absent, reading
 * nothing and caching nothing: a windowed store's fetch misses in most of
 * the segments it reads. */
static ent_t *lookup(spate_kv_t *kv, const void *key, size_t klen, int absent_ok) {
        uint64_t h = spate_hash(key, klen);
        ent_t *e = find(kv, key, klen, h);
        char *val;
        size_t vlen, plen;
        const char *pk;
        int rc;
        if (e) {
                if (!e->dirty) {
                        list_unlink(&kv->clean, e);
                        list_append(&kv->clean, e);
                }
                spate_metric_add(kv->owner->m_hit, 1);
                return e;
        }
        if (absent_ok && kv->complete) {
                spate_metric_add(kv->owner->m_hit, 1);
                return &absent;
        }
        spate_metric_add(kv->owner->m_miss, 1);
        pk = prefixed(kv->owner, KEY_USER, key, klen, &plen);
        rc = spate_store_get(kv->cf, pk, plen, &val, &vlen, kv->ctx->errstr, sizeof(kv->ctx->errstr));
        if (rc < 0)
                return NULL;
        e = insert(kv, key, klen, h);
        list_append(&kv->clean, e);
        if (rc == 0) {
                e->val = val;
                e->vlen = e->vcap = (uint32_t)vlen;
                kv->owner->used += vlen;
        }
        evict(kv, e);
        return e;
}

int spate_kv_get(spate_kv_t *kv, const void *key, size_t klen, const void **val, size_t *vlen) {
        ent_t *e = lookup(kv, key, klen, 1);
        if (!e)
                return kv_fail(kv);
        *val = val_bytes(kv, e, &kv->owner->enc, vlen);
        return live(e) ? 0 : 1;
}

/* A decoded value's bytes in the count: the codec measures it. */
static void set_obj(spate_kv_t *kv, ent_t *e, void *obj) {
        size_t before = ent_bytes(e), size = codec_of(kv)->size(obj);
        if (e->obj != obj)
                drop_val(kv, e);
        e->obj = obj;
        e->vcap = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
        kv->owner->used += ent_bytes(e) - before;
        if (e->dirty)
                kv->owner->dirty_bytes += ent_bytes(e) - before;
}

int spate_kv_get_obj(spate_kv_t *kv, const void *key, size_t klen, void **obj) {
        const spate_kv_codec_t *c = codec_of(kv);
        char err[256];
        ent_t *e;
        void *o;
        if (!c)
                return spate_kv_fail(kv, "get_obj on a store without a codec (spate_kv_node_codec())");
        if (!(e = lookup(kv, key, klen, 1)))
                return kv_fail(kv);
        if (!e->obj && e->val) {
                if (!(o = c->decode(e->val, e->vlen, err, sizeof(err)))) {
                        spate_ctx_fail(kv->ctx, kv->owner->node, "store '%s': a stored value does not "
                                       "decode: %s", kv->owner->names[kv->store], err);
                        return -1;
                }
                set_obj(kv, e, o);
                evict(kv, e);  /* a decoded value may take more than its bytes did */
        }
        *obj = e->obj;
        return e->obj ? 0 : 1;
}

/* A write needs no read: a missing entry is created dirty. */
static int write_ent(spate_kv_t *kv, const void *key, size_t klen, const void *val, size_t vlen, void *obj) {
        uint64_t h = spate_hash(key, klen);
        ent_t *e = find(kv, key, klen, h);
        if (!e) {
                e = insert(kv, key, klen, h);
                list_append(&kv->clean, e);
        }
        mark_dirty(kv, e);
        if (obj)
                set_obj(kv, e, obj);
        else
                set_val(kv, e, val, vlen);
        evict(kv, e);
        if (kv->owner->dirty_bytes > limit(kv->owner))
                spate_ctx_request_commit(kv->ctx);
        return 0;
}

int spate_kv_put(spate_kv_t *kv, const void *key, size_t klen, const void *val, size_t vlen) {
        return write_ent(kv, key, klen, val ? val : "", vlen, NULL);
}

int spate_kv_delete(spate_kv_t *kv, const void *key, size_t klen) {
        return write_ent(kv, key, klen, NULL, 0, NULL);
}

int spate_kv_put_obj(spate_kv_t *kv, const void *key, size_t klen, void *obj) {
        const spate_kv_codec_t *c = codec_of(kv);
        if (!c || !obj)
                return spate_kv_fail(kv, c ? "put_obj of no object (delete the key instead)"
                                           : "put_obj on a store without a codec (spate_kv_node_codec())");
        return write_ent(kv, key, klen, NULL, 0, obj);
}

/* cb on a cached live entry, a decoded value encoded into enc for the
 * call (each() and range() own one: a cb may read the store, whose get()
 * encodes into the node's buffer). */
static int visit(const spate_kv_t *kv, const ent_t *e, spate_buf_t *enc, spate_kv_each_cb cb, void *opaque) {
        size_t vl;
        const char *v = val_bytes(kv, e, enc, &vl);
        return cb(opaque, e->key, e->klen, v, vl);
}

int spate_kv_each(spate_kv_t *kv, spate_kv_each_cb cb, void *opaque) {
        spate_store_iter_t *it;
        const char *k, *v;
        size_t kl, vl;
        char lo = KEY_USER, hi = KEY_USER + 1;
        spate_buf_t enc = { 0 };
        int rc = 0;
        for (size_t i = 0; !rc && i < kv->nbuckets; i++)
                for (const ent_t *e = kv->buckets[i]; !rc && e; e = e->chain)
                        if (live(e))
                                rc = visit(kv, e, &enc, cb, opaque);
        spate_buf_free(&enc);
        if (rc)
                return rc;
        if (kv->complete)
                return 0;
        /* Then what only RocksDB holds: a cached entry (even absent) wins. */
        if (spate_store_iter_new(kv->cf, &lo, 1, &hi, 1, &it, kv->ctx->errstr, sizeof(kv->ctx->errstr)))
                return kv_fail(kv);
        int stop = 0;
        while (!stop && (rc = spate_store_iter_next(it, &k, &kl, &v, &vl, kv->ctx->errstr,
                                                    sizeof(kv->ctx->errstr))) == 1)
                if (!find(kv, k + 1, kl - 1, spate_hash(k + 1, kl - 1)))
                        stop = cb(opaque, k + 1, kl - 1, v, vl);
        spate_store_iter_destroy(it);
        return stop ? stop : rc < 0 ? kv_fail(kv) : 0;
}

/* The stored key ending a range of user keys at hi (excluded); hi NULL: to
 * the end of the node's keys, the first key past KEY_USER's. */
static void upper_bound(spate_buf_t *hk, const void *hi, size_t hilen) {
        spate_buf_putc(hk, hi ? KEY_USER : KEY_USER + 1);
        if (hi)
                spate_buf_put(hk, hi, hilen);
}

/* Clean cached entries hold what RocksDB holds (a read or a checkpoint made
 * them), so the dirty ones are the only difference: they come first, then
 * RocksDB's range without the keys they shadow. */
int spate_kv_range(spate_kv_t *kv, const void *lo, size_t lolen, const void *hi, size_t hilen,
                   spate_kv_each_cb cb, void *opaque) {
        spate_kv_node_t *kn = kv->owner;
        spate_buf_t hk = { 0 };
        spate_store_iter_t *it;
        const char *k, *v;
        size_t kl, vl, plen;
        const char *pk;
        spate_buf_t enc = { 0 };
        int rc = 0, stop = 0;
        for (const ent_t *e = kv->dirty.head; !rc && e; e = e->next)
                if (live(e) && spate_kv_key_in(e->key, e->klen, lo, lolen, hi, hilen))
                        rc = visit(kv, e, &enc, cb, opaque);
        spate_buf_free(&enc);
        if (rc)
                return rc;
        upper_bound(&hk, hi, hilen);
        pk = prefixed(kn, KEY_USER, lo, lolen, &plen);
        rc = spate_store_iter_new(kv->cf, pk, plen, hk.data, hk.len, &it, kv->ctx->errstr, sizeof(kv->ctx->errstr));
        spate_buf_free(&hk);
        if (rc)
                return kv_fail(kv);
        while (!stop && (rc = spate_store_iter_next(it, &k, &kl, &v, &vl, kv->ctx->errstr,
                                                    sizeof(kv->ctx->errstr))) == 1) {
                const ent_t *e = find(kv, k + 1, kl - 1, spate_hash(k + 1, kl - 1));
                if (!e || !e->dirty)
                        stop = cb(opaque, k + 1, kl - 1, v, vl);
        }
        spate_store_iter_destroy(it);
        return stop ? stop : rc < 0 ? kv_fail(kv) : 0;
}

int spate_kv_fail(spate_kv_t *kv, const char *msg) {
        return spate_ctx_fail(kv->ctx, kv->owner->node, "store '%s': %s", kv->owner->names[kv->store], msg);
}

int spate_kv_key_in(const void *key, size_t klen, const void *lo, size_t lolen, const void *hi, size_t hilen) {
        size_t n = klen < lolen ? klen : lolen;
        int c = memcmp(key, lo, n);
        if (c < 0 || (c == 0 && klen < lolen))
                return 0;
        if (!hi)
                return 1;
        n = klen < hilen ? klen : hilen;
        c = memcmp(key, hi, n);
        return c < 0 || (c == 0 && klen < hilen);
}

int64_t spate_kv_stream_time(const spate_kv_t *kv) {
        return kv->stream_time;
}

void spate_kv_set_stream_time(spate_kv_t *kv, int64_t t) {
        kv->stream_time = t;
}

const void *spate_kv_meta(const spate_kv_t *kv, size_t *len) {
        *len = kv->ext.len;
        return kv->ext.len ? kv->ext.data : NULL;
}

void spate_kv_set_meta(spate_kv_t *kv, const void *val, size_t len) {
        spate_buf_set(&kv->ext, val, len);
}

void *spate_kv_aux(const spate_kv_t *kv) {
        return kv->aux;
}

void spate_kv_set_aux(spate_kv_t *kv, void *aux, void (*free_fn)(void *)) {
        if (kv->free_aux)
                kv->free_aux(kv->aux);
        kv->aux = aux;
        kv->free_aux = free_fn;
}

size_t spate_kv_cached(const spate_kv_t *kv, size_t *dirty) {
        if (dirty)
                *dirty = kv->ndirty;
        return kv->nents;
}

/* The engine drives the stores through these (node_state.h); defined with
 * the functions at the end. */
static const spate_state_ops_t kv_ops;

/* n's stores, NULL for none. */
static spate_kv_node_t *stores_of(const spate_node_t *n) {
        return spate_node_state(n, &kv_ops);
}

/* --- interactive queries --- */

/* One task's checkpointed column family, as a query reads it. */
struct spate_kv_view {
        spate_store_cf_t *cf;
        int64_t stream_time;         /* its checkpoint's (INT64_MIN: none) */
        int64_t retention, segment;
        spate_buf_t key;             /* a key with its prefix */
};

struct spate_kv_iter {
        spate_store_iter_t *it;
};

int64_t spate_kv_view_stream_time(const spate_kv_view_t *v, int64_t *retention, int64_t *segment) {
        if (retention)
                *retention = v->retention;
        if (segment)
                *segment = v->segment;
        return v->stream_time;
}

int spate_kv_view_get(spate_kv_view_t *v, const void *key, size_t klen, char **val, size_t *vlen, char *errstr,
                      size_t errstr_size) {
        v->key.len = 0;
        spate_buf_putc(&v->key, KEY_USER);
        spate_buf_put(&v->key, key, klen);
        return spate_store_get(v->cf, v->key.data, v->key.len, val, vlen, errstr, errstr_size);
}

/* The node's keys of cf in [lo, hi). Touches nothing of the store's but
 * cf (the iterator copies its bounds): threads may each have their own. */
static int iter_new(spate_store_cf_t *cf, const void *lo, size_t lolen, const void *hi, size_t hilen,
                    spate_kv_iter_t **itp, char *errstr, size_t errstr_size) {
        spate_buf_t lk = { 0 }, hk = { 0 };
        spate_kv_iter_t *it = spate_xcalloc(1, sizeof(*it));
        int rc;
        spate_buf_putc(&lk, KEY_USER);
        if (lo)
                spate_buf_put(&lk, lo, lolen);
        upper_bound(&hk, hi, hilen);
        rc = spate_store_iter_new(cf, lk.data, lk.len, hk.data, hk.len, &it->it, errstr, errstr_size);
        spate_buf_free(&lk);
        spate_buf_free(&hk);
        if (rc) {
                free(it);
                return -1;
        }
        *itp = it;
        return 0;
}

int spate_kv_view_iter(spate_kv_view_t *v, const void *lo, size_t lolen, const void *hi, size_t hilen,
                       spate_kv_iter_t **itp, char *errstr, size_t errstr_size) {
        return iter_new(v->cf, lo, lolen, hi, hilen, itp, errstr, errstr_size);
}

int spate_kv_iter(spate_kv_t *kv, const void *lo, size_t lolen, const void *hi, size_t hilen,
                  spate_kv_iter_t **itp, char *errstr, size_t errstr_size) {
        return iter_new(kv->cf, lo, lolen, hi, hilen, itp, errstr, errstr_size);
}

int spate_kv_iter_next(spate_kv_iter_t *it, const char **key, size_t *klen, const char **val, size_t *vlen,
                       char *errstr, size_t errstr_size) {
        int rc = spate_store_iter_next(it->it, key, klen, val, vlen, errstr, errstr_size);
        if (rc == 1) {
                ++*key;
                --*klen;
        }
        return rc;
}

void spate_kv_iter_destroy(spate_kv_iter_t *it) {
        if (!it)
                return;
        spate_store_iter_destroy(it->it);
        free(it);
}

/* A plain store's answer from one task's copy. */
static int query_plain(spate_kv_view_t *v, const spate_iq_t *q, spate_iq_rows_t *rows, void *opaque,
                       char *errstr, size_t errstr_size) {
        spate_kv_render_fn render = *(spate_kv_render_fn *)opaque;
        spate_kv_iter_t *it;
        spate_buf_t out = { 0 };
        const char *k, *val;
        size_t kl, vl;
        int rc, full = 0;
        if (q->kind == SPATE_IQ_GET) {
                char *got;
                if ((rc = spate_kv_view_get(v, q->key, q->klen, &got, &vl, errstr, errstr_size)))
                        return rc < 0 ? -1 : 0;
                render(q->key, q->klen, got, vl, &out);
                free(got);
                spate_iq_row(rows, out.data, out.len);
                spate_buf_free(&out);
                return 0;
        }
        if (spate_kv_view_iter(v, "", 0, NULL, 0, &it, errstr, errstr_size))
                return -1;
        while (!full && (rc = spate_kv_iter_next(it, &k, &kl, &val, &vl, errstr, errstr_size)) == 1) {
                if (!spate_iq_key_wanted(q, k, kl))
                        continue;
                out.len = 0;
                render(k, kl, val, vl, &out);
                full = spate_iq_row(rows, out.data, out.len);
        }
        spate_kv_iter_destroy(it);
        spate_buf_free(&out);
        return rc < 0 ? -1 : 0;
}

static int meta_decode(const spate_kv_node_t *kn, const void *v, size_t len, meta_t *m, spate_buf_t *ext,
                       char *errstr, size_t errstr_size);

/* The meta of cf's checkpoint into v (none: INT64_MIN) and, for a standby's
 * copy, the changelog offset it reflects into rows; read before its keys (so
 * they reflect at least that much; a standby's answer says it). */
static int view_open(const spate_kv_node_t *kn, spate_store_cf_t *cf, const char *changelog, int copy,
                     spate_kv_view_t *v, spate_iq_rows_t *rows, char *errstr, size_t errstr_size) {
        char mk = KEY_META, *mv;
        size_t mvlen;
        meta_t m = { 0, -1, INT64_MIN };
        int rc = spate_store_get(cf, &mk, 1, &mv, &mvlen, errstr, errstr_size);
        if (rc == 0) {
                rc = meta_decode(kn, mv, mvlen, &m, NULL, errstr, errstr_size);
                free(mv);
        }
        if (rc < 0)
                return -1;
        v->cf = cf;
        v->stream_time = m.stream_time;
        v->retention = kn->retention;
        v->segment = kn->segment;
        if (copy) {
                rows->changelog = changelog;
                rows->changelog_next = m.changelog_next;
        }
        return 0;
}

int spate_kv_query_each(const spate_node_t *n, const char *name, const spate_iq_t *q, spate_iq_rows_t *rows,
                        spate_kv_query_fn fn, void *opaque, char *errstr, size_t errstr_size) {
        const spate_kv_node_t *kn = stores_of(n);
        spate_kv_view_t v = { 0 };
        char cfname[512];
        int rc = 0, store = 0;
        if (q->kind == SPATE_IQ_HISTORY && kn && !kn->uncached) {
                snprintf(errstr, errstr_size, "node '%s' keeps one value per key (a key-value store), "
                         "no history: ask /state/%s/<key>", n->name, n->name);
                return 400;
        }
        while (kn && store < kn->nstores - 1 && strcmp(kn->names[store], name))
                store++;
        for (int i = 0; kn && q->store && !rc && i < q->nparts; i++) {
                spate_store_cf_t *cf;
                snprintf(cfname, sizeof(cfname), "kv.%s.%s-%d", n->name, name, q->parts[i]);
                if ((cf = spate_store_cf_find(q->store, cfname)))
                        rc = view_open(kn, cf, kn->changelogs[store], q->copy, &v, rows, errstr, errstr_size) ?
                                -1 : fn(&v, q, rows, opaque, errstr, errstr_size);
        }
        spate_buf_free(&v.key);
        return rc;
}

int spate_kv_query(const spate_node_t *n, const char *name, const spate_iq_t *q, spate_iq_rows_t *rows,
                   spate_kv_render_fn render, char *errstr, size_t errstr_size) {
        return spate_kv_query_each(n, name, q, rows, query_plain, &render, errstr, errstr_size);
}

/* --- declaration --- */

static int valid_name(const char *s) {
        if (!*s)
                return 0;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      *s == '_' || *s == '-'))
                        return 0;
        return 1;
}

/* The topic whose partitions are the tasks, and its partition count: the
 * node's own internal input (its repartition topic) if it reads one, else
 * the source its records reach it straight from, each with its own source
 * offset. NULL with errstr. */
static const char *task_topic(spate_node_t *n, int *npartitions, char *errstr, size_t errstr_size) {
        const char *input = spate_topology_input_of(n->topo, n);
        const spate_topic_decl_t *decl;
        spate_node_t *stop, *src;
        if (input && (decl = spate_topology_topic(n->topo, input))) {
                *npartitions = decl->partitions;
                return input;
        }
        if (!(src = spate_node_origin_source(n, &stop)) && stop)
                return spate_node_error(n, NULL, errstr, errstr_size, "a store needs the records of a "
                                        "source, not the outputs of %s '%s' (they come from its commits "
                                        "or a topic of its own, not from input offsets)", stop->def->name,
                                        stop->name), NULL;
        if (!src)
                src = n;
        if (src == n || !src->def->replayable)
                return spate_node_error(n, NULL, errstr, errstr_size, "a store reads records of a source "
                                        "whose offsets replay (its exactness rests on them), such as "
                                        "kafka_source, not of %s '%s'", src->def->name, src->name), NULL;
        *npartitions = (int)spate_node_int(src, "partitions");
        return spate_node_str(src, "topic");
}

int spate_node_add_store(spate_node_t *n, const char *name, char *errstr, size_t errstr_size) {
        return spate_node_add_store_as(n, name, NULL, errstr, errstr_size);
}

int spate_node_add_store_as(spate_node_t *n, const char *name, const char *changelog, char *errstr,
                            size_t errstr_size) {
        spate_kv_node_t *kn = stores_of(n);
        const char *tasks;
        int npartitions;
        char topic[512];
        if (!valid_name(name))
                return spate_node_error(n, NULL, errstr, errstr_size, "store name '%s': use letters, "
                                        "digits, '_' and '-'", name);
        if (!(tasks = task_topic(n, &npartitions, errstr, errstr_size)))
                return -1;
        if (!kn) {
                kn = spate_xcalloc(1, sizeof(*kn));
                kn->node = n;
                spate_node_add_state(n, &kv_ops, kn);
                kn->topic = tasks;
                kn->npartitions = npartitions;
                spate_topology_add_state_node(n->topo);
                kn->m_cache = spate_metrics_gauge(spate_metrics_default(), "spate_store_cache_bytes",
                                                  "Bytes the node's key-value store caches hold (bounded "
                                                  "by state_memory_mb)", "node", n->name, NULL);
                for (int hit = 0; hit < 2; hit++)
                        *(hit ? &kn->m_hit : &kn->m_miss) = spate_metrics_counter(
                                spate_metrics_default(), "spate_store_cache_requests_total",
                                "Reads of a node's key-value store by whether its cache held the key "
                                "(a miss reads RocksDB)", "node", n->name, "result", hit ? "hit" : "miss", NULL);
        }
        /* Each store's changelog frames its own commits: two stores of one task
         * could restore at different commits after a crash between their meta
         * records, so a node has one until a frame spans the stores of a task. */
        if (kn->nstores)
                return spate_node_error(n, NULL, errstr, errstr_size, "store '%s': a node has one store "
                                        "(it has '%s'); keep both kinds of entries in it under distinct "
                                        "key prefixes", name, kn->names[0]);
        if (changelog)
                snprintf(topic, sizeof(topic), "%s", changelog);
        else
                snprintf(topic, sizeof(topic), "%s-%s-%s-changelog", n->topo->application, n->name, name);
        kn->names = spate_xrealloc(kn->names, sizeof(char *) * (size_t)(kn->nstores + 1));
        kn->changelogs = spate_xrealloc(kn->changelogs, sizeof(char *) * (size_t)(kn->nstores + 1));
        kn->names[kn->nstores] = spate_xstrdup(name);
        kn->changelogs[kn->nstores++] = spate_xstrdup(topic);
        spate_topology_declare_topic(n->topo, n, topic, kn->npartitions, 1, SPATE_TOPIC_INTERNAL);
        return 0;
}

int spate_kv_node_uncached(spate_node_t *n, const char *name) {
        spate_kv_node_t *kn = stores_of(n);
        for (int i = 0; kn && i < kn->nstores; i++)
                if (!strcmp(kn->names[i], name)) {
                        kn->uncached = 1;
                        return 0;
                }
        return -1;
}

int spate_kv_node_codec(spate_node_t *n, const char *name, const spate_kv_codec_t *codec) {
        spate_kv_node_t *kn = stores_of(n);
        for (int i = 0; kn && i < kn->nstores; i++)
                if (!strcmp(kn->names[i], name)) {
                        if (!kn->codecs)
                                kn->codecs = spate_xcalloc((size_t)kn->nstores, sizeof(*kn->codecs));
                        kn->codecs[i] = codec;
                        return 0;
                }
        return -1;
}

static spate_kv_t **task_slot(spate_kv_node_t *kn, int32_t partition, int store) {
        if (partition < 0 || partition >= kn->npartitions || !kn->tasks)
                return NULL;
        return &kn->tasks[partition * kn->nstores + store];
}

int spate_ctx_kv(spate_ctx_t *ctx, const spate_node_t *n, const char *name, spate_kv_t **kvp) {
        spate_kv_node_t *kn = stores_of(n);
        const spate_origin_t *o = ctx->origin;
        spate_kv_t **slot = NULL;
        int i = 0;
        while (kn && i < kn->nstores && strcmp(kn->names[i], name))
                i++;
        if (!kn || i == kn->nstores)
                return spate_ctx_fail(ctx, n, "no store '%s' (declare it at init)", name);
        if (!o || strcmp(o->topic, kn->topic) || !(slot = task_slot(kn, o->partition, i)) || !*slot)
                return spate_ctx_fail(ctx, n, "store '%s': the record is not of an assigned partition of %s",
                                      name, kn->topic);
        *kvp = *slot;
        (*slot)->ctx = ctx;
        if (o->offset < (*slot)->resume_offset)
                return 1;
        if (o->offset + 1 > (*slot)->next_offset)
                (*slot)->next_offset = o->offset + 1;
        return 0;
}

spate_kv_t *spate_kv_node_task(const spate_node_t *n, const char *name, int32_t partition, spate_ctx_t *ctx) {
        spate_kv_node_t *kn = stores_of(n);
        spate_kv_t **slot;
        for (int i = 0; kn && i < kn->nstores; i++)
                if (!strcmp(kn->names[i], name) && (slot = task_slot(kn, partition, i)) && *slot) {
                        (*slot)->ctx = ctx;
                        return *slot;
                }
        return NULL;
}

int spate_kv_node_window(spate_node_t *n, int64_t retention, int64_t segment) {
        spate_kv_node_t *kn = stores_of(n);
        if (!kn || retention <= 0 || segment <= 0)
                return -1;
        kn->retention = retention;
        kn->segment = segment;
        return 0;
}

int64_t spate_kv_window(const spate_kv_t *kv, int64_t *segment) {
        *segment = kv->owner->segment;
        return kv->owner->retention;
}

int spate_kv_node_partitions(const spate_node_t *n) {
        const spate_kv_node_t *kn = stores_of(n);
        return kn ? kn->npartitions : 0;
}

/* --- commit --- */

static void meta_encode(const spate_kv_node_t *kn, const meta_t *m, const spate_buf_t *ext, spate_buf_t *out) {
        unsigned char b[META_W_SIZE] = { kn->segment ? 'W' : 'M', ext->len ? META_VERSION_EXT : META_VERSION };
        spate_put_be64(b + 2, m->next_offset);
        spate_put_be64(b + 10, m->changelog_next);
        spate_put_be64(b + 18, m->stream_time);
        spate_put_be64(b + 26, kn->segment);
        spate_buf_set(out, b, kn->segment ? META_W_SIZE : META_SIZE);
        spate_buf_put(out, ext->data, ext->len);
}

/* Fails loudly on anything but a meta of this kind of store (and,
 * windowed, of its segment interval) in a version this one reads. The
 * node's meta goes to ext (reset first; NULL: not wanted). */
static int meta_decode(const spate_kv_node_t *kn, const void *v, size_t len, meta_t *m, spate_buf_t *ext,
                       char *errstr, size_t errstr_size) {
        const unsigned char *b = v;
        char want = kn->segment ? 'W' : 'M';
        size_t fixed = kn->segment ? META_W_SIZE : META_SIZE;
        if (len < fixed || b[0] != want || !(b[1] == META_VERSION ? len == fixed : b[1] == META_VERSION_EXT && len > fixed)) {
                snprintf(errstr, errstr_size, "store meta record of %zu bytes, kind '%c', version %d: not "
                         "written by this version of spate for a %s store (reset the application's state, "
                         "docs/stores.md)", len, len > 0 && b[0] >= ' ' && b[0] < 127 ? b[0] : '?',
                         len > 1 ? b[1] : -1, kn->segment ? "windowed" : "key-value");
                return -1;
        }
        if (kn->segment && spate_get_be64(b + 26) != kn->segment) {
                snprintf(errstr, errstr_size, "windowed store of %lld ms segments, this one's are %lld ms "
                         "(its retention changed): reset the application's state (docs/stores.md)",
                         (long long)spate_get_be64(b + 26), (long long)kn->segment);
                return -1;
        }
        m->next_offset = spate_get_be64(b + 2);
        m->changelog_next = spate_get_be64(b + 10);
        m->stream_time = spate_get_be64(b + 18);
        if (ext) {
                spate_buf_set(ext, b + fixed, len - fixed);
        }
        return 0;
}

static int produce(spate_kv_t *kv, spate_ctx_t *ctx, const void *key, size_t klen, const void *val,
                   size_t vlen) {
        return spate_ctx_produce_acked(ctx, kv->owner->changelogs[kv->store], kv->partition, key, klen,
                                       val, vlen, &kv->acked);
}

/* A key's new value (NULL: deleted) to the batch and the changelog. */
static int write_key(spate_kv_t *kv, const char *pk, size_t plen, const void *val, size_t vlen) {
        if (val)
                spate_store_batch_put(kv->batch, kv->cf, pk, plen, val, vlen);
        else
                spate_store_batch_delete(kv->batch, kv->cf, pk, plen);
        kv->written = 1;
        return produce(kv, kv->ctx, pk, plen, val, vlen);
}

/* A key list (kv->repair): each key after its length (4 bytes, host order). */
static void key_put(spate_buf_t *b, const char *key, uint32_t klen) {
        spate_buf_put(b, &klen, sizeof(klen));
        spate_buf_put(b, key, klen);
}

/* An uncached store's repair of a cut frame (repair_frame()): its keys
 * again, each with the value the restored state holds, ahead of the node's
 * own writes of the frame (which win, coming later). */
static int write_repairs(spate_kv_t *kv) {
        spate_buf_t keys = kv->repair;
        int rc = 0;
        kv->repair = (spate_buf_t){ 0 };
        for (size_t at = 0; !rc && at < keys.len;) {
                uint32_t kl;
                char *val = NULL;
                size_t vlen = 0;
                memcpy(&kl, keys.data + at, sizeof(kl));
                const char *pk = keys.data + at + sizeof(kl);
                at += sizeof(kl) + kl;
                int absent = spate_store_get(kv->cf, pk, kl, &val, &vlen, kv->ctx->errstr, sizeof(kv->ctx->errstr));
                if (absent < 0)
                        rc = -1;
                else
                        rc = write_key(kv, pk, kl, absent ? NULL : val, vlen);
                if (!absent)
                        free(val);
        }
        spate_buf_free(&keys);
        return rc;
}

int spate_kv_write(spate_kv_t *kv, const void *key, size_t klen, const void *val, size_t vlen) {
        size_t plen;
        const char *pk;
        if (kv->repair.len && write_repairs(kv))
                return -1;
        pk = prefixed(kv->owner, KEY_USER, key, klen, &plen);
        return write_key(kv, pk, plen, val, val ? vlen : 0);
}

void spate_kv_set_next_offset(spate_kv_t *kv, int64_t next) {
        if (next > kv->next_offset)
                kv->next_offset = next;
}

int64_t spate_kv_next_offset(const spate_kv_t *kv) {
        return kv->next_offset;
}

/* Every dirty entry to the changelog and the batch; the meta record that
 * closes the frame comes in seal_kv(). */
static int flush_kv(spate_kv_t *kv, spate_ctx_t *ctx) {
        spate_kv_node_t *kn = kv->owner;
        size_t plen;
        kv->ctx = ctx;
        if (kv->repair.len && write_repairs(kv))
                return -1;
        if (!kv->ndirty && !kv->written && kv->next_offset == kv->meta.next_offset &&
            kv->stream_time == kv->meta.stream_time && kv->ext.len == kv->meta_ext.len && (!kv->ext.len || !memcmp(kv->ext.data, kv->meta_ext.data, kv->ext.len)))
                return 0;
        for (const ent_t *e = kv->dirty.head; e; e = e->next) {
                const char *pk = prefixed(kn, KEY_USER, e->key, e->klen, &plen);
                size_t vlen;
                const char *val = val_bytes(kv, e, &kn->enc, &vlen);  /* NULL: deleted */
                if (write_key(kv, pk, plen, val, vlen))
                        return -1;
        }
        /* The commit steps a test can abort at (SPATE_CRASH_AT), named as
         * the window's: here the frame is in the changelog without its meta. */
        spate_crash_point("after_changelog");
        kv->written = 0;
        kv->meta.next_offset = kv->next_offset;
        kv->meta.stream_time = kv->stream_time;
        spate_buf_set(&kv->meta_ext, kv->ext.data, kv->ext.len);
        kv->committing = 1;
        return 0;
}

/* The meta record that closes the frame (node_state.h: seal), once the frame's
 * records and the outputs derived from them are acknowledged. */
static int seal_kv(spate_kv_t *kv, spate_ctx_t *ctx) {
        char mk = KEY_META;
        meta_encode(kv->owner, &kv->meta, &kv->meta_ext, &kv->owner->val);
        if (produce(kv, ctx, &mk, 1, kv->owner->val.data, kv->owner->val.len))
                return -1;
        spate_crash_point("after_meta");
        return 0;
}

/* The meta naming the changelog offset reached, last in the batch: the
 * batch is then a checkpoint. */
static void batch_meta(spate_kv_t *kv) {
        char mk = KEY_META;
        meta_encode(kv->owner, &kv->meta, &kv->meta_ext, &kv->owner->val);
        spate_store_batch_put(kv->batch, kv->cf, &mk, 1, kv->owner->val.data, kv->owner->val.len);
}

/* The batch with the meta naming the changelog offset reached: one write. */
static int write_batch(spate_kv_t *kv, spate_store_t *store, char *errstr, size_t errstr_size) {
        batch_meta(kv);
        if (spate_store_write(store, kv->batch, errstr, errstr_size))
                return -1;
        spate_store_batch_clear(kv->batch);
        return 0;
}

static int checkpoint_kv(spate_kv_t *kv, spate_ctx_t *ctx) {
        spate_store_t *store = spate_ctx_store(ctx);
        spate_crash_point("after_acks");   /* the changelog ahead of RocksDB and the input offsets */
        if (!store)
                return -1;
        kv->meta.changelog_next = kv->acked;
        if (write_batch(kv, store, ctx->errstr, sizeof(ctx->errstr)))
                return -1;
        spate_crash_point("after_checkpoint");   /* RocksDB ahead of the input offsets */
        while (kv->dirty.head) {
                ent_t *e = kv->dirty.head;
                if (!live(e)) {
                        /* Deleted keys leave the cache (a purge deletes many that are
                         * never read again); a later get reads through. */
                        remove_ent(kv, e);
                        continue;
                }
                list_unlink(&kv->dirty, e);
                list_append(&kv->clean, e);
                e->dirty = 0;
                kv->owner->dirty_bytes -= ent_bytes(e);
        }
        kv->ndirty = 0;
        kv->committing = 0;
        evict(kv, NULL);
        return 0;
}

static int each_task(spate_node_t *n, spate_ctx_t *ctx, int (*fn)(spate_kv_t *, spate_ctx_t *), int committing) {
        spate_kv_node_t *kn = stores_of(n);
        for (int i = 0; kn && kn->tasks && i < kn->npartitions * kn->nstores; i++) {
                spate_kv_t *kv = kn->tasks[i];
                if (kv && (!committing || kv->committing) && fn(kv, ctx))
                        return -1;
        }
        return 0;
}

static int stores_flush(spate_node_t *n, spate_ctx_t *ctx) {
        return each_task(n, ctx, flush_kv, 0);
}

static int stores_seal(spate_node_t *n, spate_ctx_t *ctx) {
        return each_task(n, ctx, seal_kv, 1);
}

static int stores_checkpoint(spate_node_t *n, spate_ctx_t *ctx) {
        spate_kv_node_t *kn = stores_of(n);
        if (each_task(n, ctx, checkpoint_kv, 1))
                return -1;
        if (kn && kn->m_cache)
                spate_metric_set(kn->m_cache, (double)kn->used);
        return 0;
}

/* --- tasks and restore --- */

static void kv_free(spate_kv_t *kv) {
        if (!kv)
                return;
        while (kv->clean.head)
                remove_ent(kv, kv->clean.head);
        while (kv->dirty.head)
                remove_ent(kv, kv->dirty.head);
        free(kv->buckets);
        spate_store_batch_destroy(kv->batch);
        spate_buf_free(&kv->meta_ext);
        spate_buf_free(&kv->ext);
        spate_buf_free(&kv->repair);
        if (kv->free_aux)
                kv->free_aux(kv->aux);
        free(kv);
}

/* A write of restored records, of complete frames: bytes [0, len) in the
 * frame format of restore_t.frame, n records, and the meta naming the
 * changelog offset they reach. Handed to the restore pipe's worker, it is
 * the worker's alone until the next hand-over but one (two take turns) or
 * the restore's end joins it. */
typedef struct chunk {
        spate_store_t *store;
        spate_store_cf_t *cf;
        spate_buf_t bytes, meta;
        size_t len, n;
} chunk_t;

/* A restore's reading of the changelog, in frame: the records of complete
 * frames since the last write ([0, done), ndone of them), then those of the
 * frame under way (nframe), complete once its meta record arrives. A
 * standby writes them itself; an assignment's restore hands them to the
 * node's pipe and reads on. */
typedef struct restore {
        spate_kv_t *kv;
        spate_store_t *store;
        spate_restore_pipe_t *pipe;  /* assignment only */
        chunk_t chunks[2];           /* the pipe's, in turn (chunk: the next one's index) */
        int chunk;
        spate_node_t *n;             /* assignment only: the task's node, and its */
        spate_ctx_t *ctx;            /* errstr, store and resume check at the end */
        int64_t from, end, t0;       /* changelog offsets read from and to; start (ms) */
        spate_buf_t frame;           /* [u32 klen][u32 vlen or UINT32_MAX: tombstone][key][value]... */
        size_t done, ndone, nframe;
        int64_t frame_first;         /* changelog offset of the frame's first record */
        uint64_t applied;
        int64_t opened, next, written;  /* standby: changelog offsets of its start, the next record,
                                         * the last checkpoint written */
        char err[512];
} restore_t;

/* Steps through the records of b from *at to end: 1 with the prefixed key
 * and the value (NULL: a tombstone), 0 at the end. */
static int rec_next(const char *b, size_t end, size_t *at, const char **k, uint32_t *kl, const char **v,
                    uint32_t *vl) {
        if (*at >= end)
                return 0;
        memcpy(kl, b + *at, 4);
        memcpy(vl, b + *at + 4, 4);
        *k = b + *at + 8;
        *v = *vl == UINT32_MAX ? NULL : *k + *kl;
        *at += 8 + *kl + (*v ? *vl : 0);
        return 1;
}

/* Key order of two records at offsets in bytes; one key's records in
 * changelog (offset) order, so the last of them is its value. */
static int rec_cmp(const void *pa, const void *pb, void *bytes) {
        size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
        const char *base = bytes;
        uint32_t ka, kb;
        memcpy(&ka, base + a, 4);
        memcpy(&kb, base + b, 4);
        int c = memcmp(base + a + 8, base + b + 8, ka < kb ? ka : kb);
        if (c || ka != kb)
                return c ? c : ka < kb ? -1 : 1;
        return a < b ? -1 : a > b;
}

static int same_key(const char *base, size_t a, size_t b) {
        uint32_t ka, kb;
        memcpy(&ka, base + a, 4);
        memcpy(&kb, base + b, 4);
        return ka == kb && !memcmp(base + a + 8, base + b + 8, ka);
}

/* Writes from this many records on are one SST file (load_sorted()), below
 * a batch: at 1 M restored records, random keys cost RocksDB's memtable
 * ~5 us each on the worker (bench/restore_bench.sh, 4 December 2026),
 * sorted ones in a file a fraction of it, without the write-ahead log and
 * the flushes; for a few records, a file's creation and ingestion cost
 * more than a batch (as the window's restore found before it moved here). */
#define LOAD_MIN_RECORDS 1024

/* The chunk as one SST file ingested at once (as atomic as a batch): each
 * key's last record in key order, the meta first (its key sorts before
 * every node key). */
static int load_sorted(const chunk_t *c, char *errstr, size_t errstr_size) {
        size_t *idx = spate_xmalloc(c->n * sizeof(*idx)), n = 0, at = 0, here;
        const char *k, *v;
        uint32_t kl, vl;
        char mk = KEY_META;
        spate_store_load_t *l;
        for (here = at; rec_next(c->bytes.data, c->len, &at, &k, &kl, &v, &vl); here = at)
                idx[n++] = here;
        qsort_r(idx, n, sizeof(*idx), rec_cmp, c->bytes.data);
        int rc = spate_store_load_new(c->cf, &l, errstr, errstr_size);
        if (!rc)
                rc = spate_store_load_put(l, &mk, 1, c->meta.data, c->meta.len, errstr, errstr_size);
        for (size_t i = 0; !rc && i < n; i++) {
                if (i + 1 < n && same_key(c->bytes.data, idx[i], idx[i + 1]))
                        continue;
                at = idx[i];
                rec_next(c->bytes.data, c->len, &at, &k, &kl, &v, &vl);
                rc = spate_store_load_put(l, k, kl, v, vl, errstr, errstr_size);
        }
        if (!rc)
                rc = spate_store_load_commit(l, errstr, errstr_size);
        spate_store_load_destroy(l);
        free(idx);
        return rc ? -1 : 0;
}

/* The chunk in changelog order as one batch with its meta. */
static int write_records(const chunk_t *c, char *errstr, size_t errstr_size) {
        spate_store_batch_t *b = spate_store_batch_new();
        const char *k, *v;
        uint32_t kl, vl;
        char mk = KEY_META;
        if (!b)
                spate_oom(0, "RocksDB write batch");
        for (size_t at = 0; rec_next(c->bytes.data, c->len, &at, &k, &kl, &v, &vl);)
                if (v)
                        spate_store_batch_put(b, c->cf, k, kl, v, vl);
                else
                        spate_store_batch_delete(b, c->cf, k, kl);
        spate_store_batch_put(b, c->cf, &mk, 1, c->meta.data, c->meta.len);
        int rc = spate_store_write(c->store, b, errstr, errstr_size);
        spate_store_batch_destroy(b);
        return rc;
}

static int write_chunk(void *arg, char *errstr, size_t errstr_size) {
        const chunk_t *c = arg;
        return c->n >= LOAD_MIN_RECORDS ? load_sorted(c, errstr, errstr_size) : write_records(c, errstr, errstr_size);
}

/* The complete frames read so far, with the meta as it stands, into chunk
 * c, which takes the frame buffer: the restore reads on into c's old one,
 * which gets the records of the frame under way. */
static void take_chunk(restore_t *r, chunk_t *c) {
        spate_kv_t *kv = r->kv;
        spate_buf_t old = c->bytes;
        meta_encode(kv->owner, &kv->meta, &kv->meta_ext, &c->meta);
        c->store = r->store;
        c->cf = kv->cf;
        c->bytes = r->frame;
        c->len = r->done;
        c->n = r->ndone;
        old.len = 0;
        if (c->bytes.len > r->done)   /* a frame under way (the data of an empty buffer may be NULL) */
                spate_buf_put(&old, c->bytes.data + r->done, c->bytes.len - r->done);
        r->frame = old;
        r->done = r->ndone = 0;
}

/* The records so far, ending at a frame's meta (a checkpoint), go to the
 * worker; the restore reads on. */
static int hand_over(restore_t *r) {
        chunk_t *c = &r->chunks[r->chunk];
        /* c's last write was joined by the hand-over after it (submit joins). */
        take_chunk(r, c);
        r->chunk ^= 1;
        return spate_restore_pipe_submit(r->pipe, &(spate_restore_step_t){ .apply = write_chunk, .arg = c },
                                         r->err, sizeof(r->err));
}

/* A standby's write, here and now. */
static int write_now(restore_t *r, char *errstr, size_t errstr_size) {
        take_chunk(r, &r->chunks[0]);
        return write_chunk(&r->chunks[0], errstr, errstr_size);
}

static int on_changelog(void *opaque, const void *key, size_t klen, const void *val, size_t vlen,
                        int64_t offset) {
        restore_t *r = opaque;
        spate_kv_t *kv = r->kv;
        const char *k = key;
        if (klen == 1 && k[0] == KEY_META && val) {
                if (meta_decode(kv->owner, val, vlen, &kv->meta, &kv->meta_ext, r->err, sizeof(r->err)))
                        return -1;
                kv->meta.changelog_next = offset + 1;
                r->done = r->frame.len;
                r->ndone += r->nframe;
                r->applied += r->nframe;
                r->nframe = 0;
                if (r->ndone < RESTORE_BATCH)
                        return 0;
                return r->pipe ? hand_over(r) : write_now(r, r->err, sizeof(r->err));
        }
        if (!klen || k[0] != KEY_USER || klen > UINT32_MAX || vlen >= UINT32_MAX) {
                snprintf(r->err, sizeof(r->err), "changelog record at offset %lld is not a store record "
                         "(key of %zu bytes): written by another program, or by an earlier version of spate "
                         "(a window's, before its state moved onto the engine's stores); reset the application's state "
                         "(docs/stores.md)", (long long)offset, klen);
                return -1;
        }
        uint32_t kl = (uint32_t)klen, vl = val ? (uint32_t)vlen : UINT32_MAX;
        if (!r->nframe++)
                r->frame_first = offset;
        spate_buf_put(&r->frame, &kl, 4);
        spate_buf_put(&r->frame, &vl, 4);
        spate_buf_put(&r->frame, key, klen);
        if (val)
                spate_buf_put(&r->frame, val, vlen);
        return 0;
}

/* Keys of a frame that never got its meta record: the next commit writes
 * them again with the values of the restored state, so that a reader of
 * the changelog from any older point finds them corrected before a meta
 * record makes them count. */
static int repair_frame(restore_t *r) {
        const char *k, *v;
        uint32_t kl, vl;
        for (size_t at = r->done; rec_next(r->frame.data, r->frame.len, &at, &k, &kl, &v, &vl);) {
                if (r->kv->owner->uncached) {   /* no cache to mark: write_repairs() reads them */
                        key_put(&r->kv->repair, k, kl);
                        continue;
                }
                ent_t *e = lookup(r->kv, k + 1, kl - 1, 0);
                if (!e)
                        return -1;
                mark_dirty(r->kv, e);
        }
        return 0;
}

/* 1 when the task's column family holds no key of the node's (the cache
 * then starts complete), 0 if it does, -1 with ctx->errstr. */
static int cf_empty(spate_kv_t *kv, spate_ctx_t *ctx) {
        spate_store_iter_t *it;
        const char *k, *v;
        size_t kl, vl;
        char lo = KEY_USER, hi = KEY_USER + 1;
        int rc;
        if (spate_store_iter_new(kv->cf, &lo, 1, &hi, 1, &it, ctx->errstr, sizeof(ctx->errstr)))
                return -1;
        rc = spate_store_iter_next(it, &k, &kl, &v, &vl, ctx->errstr, sizeof(ctx->errstr));
        spate_store_iter_destroy(it);
        return rc < 0 ? -1 : !rc;
}

/* The task's column family and the meta of its last checkpoint (none: the
 * changelog from its start); one this version cannot read is reported and
 * the column family rebuilt from the changelog. 0, or -1 with errstr. */
static int open_local(spate_kv_t *kv, spate_store_t *store, char *errstr, size_t errstr_size) {
        spate_kv_node_t *kn = kv->owner;
        char series[500], mk = KEY_META, *mv;
        size_t mvlen;
        int rc;
        snprintf(series, sizeof(series), "kv.%s.%s", kn->node->name, kn->names[kv->store]);
        /* The first task creates every partition's at once (spate_store_cf_part()). */
        if (spate_store_cf_part(store, series, kv->partition, kn->npartitions, &kv->cf, errstr, errstr_size))
                return -1;
        rc = spate_store_get(kv->cf, &mk, 1, &mv, &mvlen, errstr, errstr_size);
        if (rc < 0)
                return -1;
        if (rc == 0) {
                rc = meta_decode(kn, mv, mvlen, &kv->meta, &kv->meta_ext, errstr, errstr_size);
                free(mv);
        }
        if (rc < 0) {
                spate_warn("store '%s' of '%s' partition %d: %s; rebuilding it from %s", kn->names[kv->store],
                           kn->node->name, kv->partition, errstr, kn->changelogs[kv->store]);
                kv->meta = (meta_t){ 0, 0, INT64_MIN };
                kv->meta_ext.len = 0;
                if (spate_store_cf_part_reset(store, series, kv->partition, &kv->cf, errstr, errstr_size))
                        return -1;
        }
        return 0;
}

static void restore_free(restore_t *r) {
        spate_buf_free(&r->frame);
        for (int i = 0; i < 2; i++) {
                spate_buf_free(&r->chunks[i].bytes);
                spate_buf_free(&r->chunks[i].meta);
        }
        free(r);
}

/* The restore's last step, on the worker: the rest of its records with the
 * checkpoint (take_chunk()'d by restore_kv()). */
static int write_last(void *arg, char *errstr, size_t errstr_size) {
        restore_t *r = arg;
        return write_chunk(&r->chunks[r->chunk], errstr, errstr_size);
}

/* What follows the task's last write, on the main thread: the cache state,
 * the repair of a frame without its meta, the log, the resume check; then
 * the task is the node's. */
static int finish_kv(restore_t *r) {
        spate_kv_t *kv = r->kv;
        spate_kv_node_t *kn = kv->owner;
        spate_ctx_t *ctx = r->ctx;
        kv->ctx = ctx;
        kv->acked = kv->meta.changelog_next;
        kv->resume_offset = kv->next_offset = kv->meta.next_offset;
        kv->stream_time = kv->meta.stream_time;
        spate_buf_set(&kv->ext, kv->meta_ext.data, kv->meta_ext.len);
        if (!kn->uncached && (kv->complete = cf_empty(kv, ctx)) < 0)
                return -1;
        if (r->nframe) {
                spate_info("store '%s' of '%s' partition %d: ignoring %zu changelog records from offset %lld "
                           "of a commit that did not complete", kn->names[kv->store], r->n->name, kv->partition,
                           r->nframe, (long long)r->frame_first);
                if (repair_frame(r))
                        return -1;
        }
        spate_node_count_restored(r->n, kn->names[kv->store], r->from, r->end - r->from);
        spate_info("store '%s' of '%s' partition %d restored: %llu changelog records applied in %.3f s; "
                   "input resumes at offset %lld; the local copy%s reflected the changelog up to offset %lld",
                   kn->names[kv->store], r->n->name, kv->partition, (unsigned long long)r->applied,
                   (double)(spate_mono_ms() - r->t0) / 1000.0, (long long)kv->resume_offset,
                   kv->warm ? ", kept warm by a standby," : "", (long long)r->from);
        if (kv->resume_offset > 0 &&
            spate_ctx_check_resume(ctx, r->n, kn->topic, kv->partition, kv->resume_offset))
                return -1;
        *task_slot(kn, kv->partition, kv->store) = kv;
        kn->restore_tasks++;
        kn->restore_applied += r->applied;
        return 0;
}

/* The restore pipe's done for a task's last step (rc: its write's). */
static int restored(void *arg, int rc, char *errstr, size_t errstr_size) {
        restore_t *r = arg;
        spate_kv_t *kv = r->kv;
        if (!rc && (rc = finish_kv(r)) && errstr != r->ctx->errstr)
                snprintf(errstr, errstr_size, "%s", r->ctx->errstr);
        if (rc) {
                char cause[sizeof(r->err)];
                snprintf(cause, sizeof(cause), "%s", errstr);
                snprintf(errstr, errstr_size, "store '%s' of '%s' partition %d: %s", kv->owner->names[kv->store],
                         kv->owner->node->name, kv->partition, cause);
                kv_free(kv);
        }
        restore_free(r);
        return rc;
}

/* The column family's state, then the changelog past it: read here, each
 * chunk written by the node's restore pipe while the next is read; the last
 * write is held until the next task's column family is open, then runs
 * beside its read. The task enters the node's tasks once its last write is
 * joined (restored(), at the next task's hand-over or at
 * stores_assigned()). Takes kv: freed on failure. 0, or -1 with
 * ctx->errstr. */
static int restore_kv(spate_node_t *n, spate_kv_t *kv, spate_ctx_t *ctx) {
        spate_kv_node_t *kn = stores_of(n);
        const char *changelog = kn->changelogs[kv->store];
        restore_t *r = spate_xcalloc(1, sizeof(*r));
        char err[sizeof(ctx->errstr)];
        *r = (restore_t){ .kv = kv, .pipe = kn->pipe, .n = n, .ctx = ctx, .t0 = spate_mono_ms() };
        /* The previous task's last write starts once this task's column family
         * exists: creating it would wait for the write. */
        if (!(r->store = spate_ctx_store(ctx)) || open_local(kv, r->store, ctx->errstr, sizeof(ctx->errstr)) ||
            spate_restore_pipe_release(kn->pipe, ctx->errstr, sizeof(ctx->errstr)))
                goto fail;
        r->from = kv->meta.changelog_next;
        r->end = spate_ctx_replay(ctx, changelog, kv->partition, r->from, on_changelog, r);
        if (r->end < 0) {
                if (r->err[0])
                        snprintf(ctx->errstr, sizeof(ctx->errstr), "%s: %s", changelog, r->err);
                /* A chunk of this task may be under way, writing one of r's buffers. */
                spate_restore_pipe_join(kn->pipe, err, sizeof(err));
                goto fail;
        }
        /* A frame without its meta: the restore resumes before it next time, until
         * a commit has written its keys again (repair_frame()). */
        kv->meta.changelog_next = r->nframe ? r->frame_first : r->end;
        take_chunk(r, &r->chunks[r->chunk]);   /* the frame without its meta stays in r->frame */
        if (spate_restore_pipe_hold(kn->pipe,
                                    &(spate_restore_step_t){ .apply = write_last, .done = restored, .arg = r },
                                    ctx->errstr, sizeof(ctx->errstr)))
                goto fail;
        return 0;
fail:
        kv_free(kv);
        restore_free(r);
        return -1;
}

static spate_kv_t *kv_new(spate_kv_node_t *kn, int store, int32_t partition) {
        spate_kv_t *kv = spate_xcalloc(1, sizeof(*kv));
        if (!(kv->batch = spate_store_batch_new()))
                spate_oom(0, "RocksDB write batch");
        kv->owner = kn;
        kv->store = store;
        kv->partition = partition;
        kv->meta = (meta_t){ 0, 0, INT64_MIN };
        return kv;
}

static void standby_free(restore_t *r) {
        if (!r)
                return;
        kv_free(r->kv);
        restore_free(r);
}

/* The complete frames a standby applied since its last write, with the
 * meta naming the changelog offset they reach: one atomic batch, so the
 * column family is always some commit's state with its checkpoint. */
static int standby_flush(restore_t *r, char *errstr, size_t errstr_size) {
        if (r->kv->meta.changelog_next == r->written)
                return 0;
        if (write_now(r, errstr, errstr_size))
                return -1;
        r->written = r->kv->meta.changelog_next;
        return 0;
}

/* The task becomes this instance's, or is no longer followed: the
 * standby's complete frames go to RocksDB and it stops; a restore then reads
 * only what follows them (a frame it held without its meta record is read
 * again). *warm: the standby advanced the copy. */
static int standby_stop(spate_kv_node_t *kn, int32_t partition, int store, spate_ctx_t *ctx, int *warm) {
        restore_t **r = kn->standbys ? &kn->standbys[partition * kn->nstores + store] : NULL;
        int rc = 0;
        if (!r || !*r) {
                *warm = 0;
                return 0;
        }
        rc = standby_flush(*r, ctx->errstr, sizeof(ctx->errstr));
        *warm = (*r)->written > (*r)->opened;
        standby_free(*r);
        *r = NULL;
        return rc;
}

/* --- the stores' state provider (kv_ops) --- */

/* The task's caches go (its column family stays on disk, a local
 * checkpoint for a later assignment). */
static void drop_task(spate_kv_node_t *kn, int32_t partition) {
        for (int i = 0; kn->tasks && i < kn->nstores; i++) {
                spate_kv_t **slot = task_slot(kn, partition, i);
                if (slot) {
                        kv_free(*slot);
                        *slot = NULL;
                }
        }
}

/* After a commit. A restore under way completes first, so that no task
 * enters the node's tasks after its revocation (the engine revokes only
 * after stores_assigned(); the test driver too). */
static void stores_revoke(spate_node_t *n, const char *topic, int32_t partition, spate_ctx_t *ctx) {
        spate_kv_node_t *kn = stores_of(n);
        if (!kn || strcmp(topic, kn->topic))
                return;
        if (spate_restore_pipe_join(kn->pipe, ctx->errstr, sizeof(ctx->errstr)))
                spate_err("'%s': %s", n->name, ctx->errstr);
        drop_task(kn, partition);
}

/* Restores the task of topic/partition if it is the stores' input, after
 * stopping its standbys: its last write may still be under way on return
 * (the previous task's is joined, and that task is then the node's);
 * stores_assigned() completes the last. */
static int stores_assign(spate_node_t *n, const char *topic, int32_t partition, spate_ctx_t *ctx) {
        spate_kv_node_t *kn = stores_of(n);
        if (!kn || strcmp(topic, kn->topic))
                return 0;
        if (partition < 0 || partition >= kn->npartitions) {
                snprintf(ctx->errstr, sizeof(ctx->errstr), "%s has a partition %d, more than the %d "
                         "its 'partitions' declares (the changelogs have that many)", topic, partition,
                         kn->npartitions);
                return -1;
        }
        if (!kn->tasks)
                kn->tasks = spate_xcalloc((size_t)(kn->npartitions * kn->nstores), sizeof(*kn->tasks));
        if (!kn->pipe)
                kn->pipe = spate_restore_pipe_new("restore:kv");
        if (!kn->restore_t0) {
                kn->restore_t0 = spate_mono_ms();
                kn->restore_cpu0 = spate_cpu_secs();
        }
        drop_task(kn, partition);
        for (int i = 0; i < kn->nstores; i++) {
                spate_kv_t *kv = kv_new(kn, i, partition);
                if (standby_stop(kn, partition, i, ctx, &kv->warm)) {
                        kv_free(kv);
                        return -1;
                }
                if (restore_kv(n, kv, ctx))
                        return -1;
        }
        return 0;
}

/* After a rebalance's assignments: the last restore's write completes and
 * its task is the node's. The log line gives the rebalance's restores by
 * the clock: the tasks' own lines overlap (one is written while the next
 * is read). */
static int stores_assigned(spate_node_t *n, spate_ctx_t *ctx) {
        spate_kv_node_t *kn = stores_of(n);
        double secs, cpu;
        int rc;
        if (!kn || !kn->restore_t0)
                return 0;
        rc = spate_restore_pipe_join(kn->pipe, ctx->errstr, sizeof(ctx->errstr));
        secs = (double)(spate_mono_ms() - kn->restore_t0) / 1000.0;
        cpu = spate_cpu_secs() - kn->restore_cpu0;
        /* The process's CPU, the threads of librdkafka and RocksDB included:
         * on a shared machine the wall time says how loaded it was, this
         * what the restore cost. */
        if (!rc)
                spate_info("stores of '%s': %d tasks restored (pipelined): %llu changelog records applied in "
                           "%.3f s (%.0f records/s); %.3f s of CPU", n->name, kn->restore_tasks,
                           (unsigned long long)kn->restore_applied, secs,
                           secs > 0 ? (double)kn->restore_applied / secs : 0.0, cpu);
        kn->restore_t0 = 0;
        kn->restore_tasks = 0;
        kn->restore_applied = 0;
        return rc;
}

/* --- standbys --- */

/* Stops the standbys of partition p's stores (stores_standbys()). */
static int standbys_stop(spate_kv_node_t *kn, int32_t p, spate_ctx_t *ctx) {
        int warm;
        for (int i = 0; i < kn->nstores; i++)
                if (standby_stop(kn, p, i, ctx, &warm))
                        return -1;
        return 0;
}

static int owned_here(spate_kv_node_t *kn, int32_t p) {
        spate_kv_t **owned = task_slot(kn, p, 0);
        return owned && *owned;
}

static int stores_standbys(spate_node_t *n, spate_ctx_t *ctx, spate_standby_want_cb want, spate_standby_follow_cb cb,
                           void *opaque) {
        spate_kv_node_t *kn = stores_of(n);
        spate_store_t *store;
        if (!kn)
                return 0;
        if (!(store = spate_ctx_store(ctx)))
                return -1;
        if (!kn->standbys)
                kn->standbys = spate_xcalloc((size_t)(kn->npartitions * kn->nstores), sizeof(*kn->standbys));
        for (int p = 0; p < kn->npartitions; p++) {
                if (owned_here(kn, p))
                        continue;
                if (!want(opaque, kn->topic, p, kn->npartitions)) {
                        if (standbys_stop(kn, p, ctx))
                                return -1;
                        continue;
                }
                for (int i = 0; i < kn->nstores; i++) {
                        restore_t **r = &kn->standbys[p * kn->nstores + i];
                        if (!*r) {
                                *r = spate_xcalloc(1, sizeof(**r));
                                (*r)->kv = kv_new(kn, i, p);
                                (*r)->store = store;
                                if (open_local((*r)->kv, store, ctx->errstr, sizeof(ctx->errstr))) {
                                        standby_free(*r);
                                        *r = NULL;
                                        return -1;
                                }
                                (*r)->opened = (*r)->next = (*r)->written = (*r)->kv->meta.changelog_next;
                        }
                        cb(opaque, kn->changelogs[i], p, (*r)->next);
                }
        }
        return 0;
}

static int stores_standby_apply(spate_node_t *n, const char *topic, int32_t partition, const void *key,
                                size_t klen, const void *val, size_t vlen, int64_t offset, char *errstr,
                                size_t errstr_size) {
        spate_kv_node_t *kn = stores_of(n);
        restore_t **r;
        int i = 0;
        while (kn && i < kn->nstores && strcmp(kn->changelogs[i], topic))
                i++;
        if (!kn || i == kn->nstores)
                return 1;
        if (!kn->standbys || partition < 0 || partition >= kn->npartitions)
                return 0;
        r = &kn->standbys[partition * kn->nstores + i];
        /* A task owned meanwhile, or a record fetched before a reassignment. */
        if (!*r || offset < (*r)->next)
                return 0;
        if (on_changelog(*r, key, klen, val, vlen, offset)) {
                snprintf(errstr, errstr_size, "standby of %s[%d]: %s; not following it until the next "
                         "rebalance", topic, partition, (*r)->err);
                standby_free(*r);
                *r = NULL;
                return -1;
        }
        (*r)->next = offset + 1;
        return 0;
}

static int stores_standby_write(spate_node_t *n, char *errstr, size_t errstr_size) {
        spate_kv_node_t *kn = stores_of(n);
        for (int i = 0; kn && kn->standbys && i < kn->npartitions * kn->nstores; i++)
                if (kn->standbys[i] && standby_flush(kn->standbys[i], errstr, errstr_size))
                        return -1;
        return 0;
}

static void stores_free(spate_node_t *n) {
        spate_kv_node_t *kn = stores_of(n);
        if (!kn)
                return;
        spate_restore_pipe_free(kn->pipe);  /* a restore under way is dropped */
        for (int i = 0; kn->tasks && i < kn->npartitions * kn->nstores; i++)
                kv_free(kn->tasks[i]);
        for (int i = 0; kn->standbys && i < kn->npartitions * kn->nstores; i++)
                standby_free(kn->standbys[i]);
        free(kn->standbys);
        for (int i = 0; i < kn->nstores; i++) {
                free(kn->names[i]);
                free(kn->changelogs[i]);
        }
        free(kn->names);
        free(kn->changelogs);
        free(kn->tasks);
        spate_buf_free(&kn->key);
        spate_buf_free(&kn->val);
        spate_buf_free(&kn->enc);
        free(kn->codecs);
        free(kn);
}

/* How the engine drives the stores (node_state.h); attached by
 * spate_node_add_store(). */
static const spate_state_ops_t kv_ops = {
        .assign = stores_assign,
        .assigned = stores_assigned,
        .revoke = stores_revoke,
        .flush = stores_flush,
        .seal = stores_seal,
        .checkpoint = stores_checkpoint,
        .standbys = stores_standbys,
        .standby_apply = stores_standby_apply,
        .standby_write = stores_standby_write,
        .free = stores_free,
};
