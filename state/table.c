/* table.c - the in-memory lookup table of table.h: open addressing with
 * linear probing over (hash, entry) slots, at most half full, deletes by
 * backward shift (no tombstones, so lookups never slow down with churn). */
#include "table.h"
#include "../util/util.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
        uint32_t klen, vlen;
        char data[];          /* key, then value */
} entry_t;

typedef struct slot {
        uint64_t hash;
        entry_t *e;           /* NULL: empty */
} slot_t;

struct spate_table {
        slot_t *slots;
        size_t cap;           /* a power of two, or 0 */
        size_t count;
        /* Written by the owner's changes; read by interactive queries. */
        pthread_rwlock_t lock;
};

spate_table_t *spate_table_new(void) {
        spate_table_t *t = calloc(1, sizeof(spate_table_t));
        if (t && pthread_rwlock_init(&t->lock, NULL)) {
                free(t);
                return NULL;
        }
        return t;
}

void spate_table_clear(spate_table_t *t) {
        pthread_rwlock_wrlock(&t->lock);
        for (size_t i = 0; i < t->cap; i++)
                free(t->slots[i].e);
        free(t->slots);
        t->slots = NULL;
        t->cap = t->count = 0;
        pthread_rwlock_unlock(&t->lock);
}

void spate_table_destroy(spate_table_t *t) {
        if (!t)
                return;
        spate_table_clear(t);
        pthread_rwlock_destroy(&t->lock);
        free(t);
}

static size_t find(const spate_table_t *t, uint64_t h, const void *key, size_t klen) {
        size_t mask = t->cap - 1;
        for (size_t i = h & mask;; i = (i + 1) & mask) {
                const slot_t *s = &t->slots[i];
                if (!s->e || (s->hash == h && s->e->klen == klen && !memcmp(s->e->data, key, klen)))
                        return i;
        }
}

static int grow(spate_table_t *t) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        slot_t *old = t->slots, *slots = calloc(cap, sizeof(*slots));
        if (!slots)
                return -1;
        size_t old_cap = t->cap;
        t->slots = slots;
        t->cap = cap;
        for (size_t i = 0; i < old_cap; i++)
                if (old[i].e)
                        t->slots[find(t, old[i].hash, old[i].e->data, old[i].e->klen)] = old[i];
        free(old);
        return 0;
}

static int put(spate_table_t *t, const void *key, size_t klen, const void *val, size_t vlen) {
        if (klen > UINT32_MAX || vlen > UINT32_MAX)
                return -1;
        if ((t->count + 1) * 2 > t->cap && grow(t))
                return -1;
        entry_t *e = malloc(sizeof(*e) + klen + vlen);
        if (!e)
                return -1;
        e->klen = (uint32_t)klen;
        e->vlen = (uint32_t)vlen;
        memcpy(e->data, key, klen);
        if (vlen)
                memcpy(e->data + klen, val, vlen);
        uint64_t h = spate_hash(key, klen);
        slot_t *s = &t->slots[find(t, h, key, klen)];
        if (s->e)
                free(s->e);
        else
                t->count++;
        *s = (slot_t){ h, e };
        return 0;
}

int spate_table_put(spate_table_t *t, const void *key, size_t klen, const void *val, size_t vlen) {
        pthread_rwlock_wrlock(&t->lock);
        int rc = put(t, key, klen, val, vlen);
        pthread_rwlock_unlock(&t->lock);
        return rc;
}

static int delete(spate_table_t *t, const void *key, size_t klen) {
        if (!t->count)
                return 0;
        size_t mask = t->cap - 1, i = find(t, spate_hash(key, klen), key, klen);
        if (!t->slots[i].e)
                return 0;
        free(t->slots[i].e);
        t->count--;
        /* Backward shift: pull later entries of the probe run into the hole
         * unless their home slot lies cyclically after it. */
        for (size_t j = (i + 1) & mask; t->slots[j].e; j = (j + 1) & mask) {
                size_t home = t->slots[j].hash & mask;
                if (((j - home) & mask) >= ((j - i) & mask)) {
                        t->slots[i] = t->slots[j];
                        i = j;
                }
        }
        t->slots[i].e = NULL;
        return 1;
}

int spate_table_delete(spate_table_t *t, const void *key, size_t klen) {
        pthread_rwlock_wrlock(&t->lock);
        int rc = delete(t, key, klen);
        pthread_rwlock_unlock(&t->lock);
        return rc;
}

const void *spate_table_get(const spate_table_t *t, const void *key, size_t klen, size_t *vlen) {
        if (!t->count)
                return NULL;
        const entry_t *e = t->slots[find(t, spate_hash(key, klen), key, klen)].e;
        if (!e)
                return NULL;
        *vlen = e->vlen;
        return e->data + e->klen;
}

size_t spate_table_count(const spate_table_t *t) {
        return t->count;
}

void spate_table_swap(spate_table_t *a, spate_table_t *b) {
        pthread_rwlock_wrlock(&a->lock);
        pthread_rwlock_wrlock(&b->lock);
        slot_t *slots = a->slots;
        size_t cap = a->cap, count = a->count;
        a->slots = b->slots;
        a->cap = b->cap;
        a->count = b->count;
        b->slots = slots;
        b->cap = cap;
        b->count = count;
        pthread_rwlock_unlock(&b->lock);
        pthread_rwlock_unlock(&a->lock);
}

void spate_table_read_lock(spate_table_t *t) {
        pthread_rwlock_rdlock(&t->lock);
}

void spate_table_read_unlock(spate_table_t *t) {
        pthread_rwlock_unlock(&t->lock);
}

int spate_table_each(const spate_table_t *t, spate_table_each_fn fn, void *opaque) {
        int rc = 0;
        for (size_t i = 0; !rc && i < t->cap; i++)
                if (t->slots[i].e)
                        rc = fn(opaque, t->slots[i].e->data, t->slots[i].e->klen,
                                t->slots[i].e->data + t->slots[i].e->klen, t->slots[i].e->vlen);
        return rc;
}

void spate_table_row_encode(const spate_value_t *v, int n, spate_buf_t *b) {
        for (int i = 0; i < n; i++) {
                uint8_t type = v[i].type;
                if (type == SPATE_V_ARR || type == SPATE_V_OBJ || type == SPATE_V_MISSING)
                        type = SPATE_V_NULL;
                spate_buf_putc(b, (char)type);
                if (type == SPATE_V_NUM) {
                        spate_buf_put(b, &v[i].u.num, sizeof(double));
                } else if (type == SPATE_V_BOOL) {
                        spate_buf_putc(b, (char)!!v[i].u.b);
                } else if (type == SPATE_V_STR) {
                        uint32_t len = v[i].n;
                        spate_buf_put(b, &len, sizeof(len));
                        spate_buf_put(b, v[i].u.s, len);
                }
        }
}

int spate_table_row_decode(const void *row, size_t len, spate_value_t *out, int n) {
        const char *p = row, *end = p + len;
        for (int i = 0; i < n; i++) {
                spate_value_t *v = &out[i];
                memset(v, 0, sizeof(*v));
                v->type = SPATE_V_NULL;
                if (p == end)
                        continue;
                uint8_t type = (uint8_t)*p++;
                if (type == SPATE_V_NUM) {
                        if (end - p < (ptrdiff_t)sizeof(double))
                                return -1;
                        memcpy(&v->u.num, p, sizeof(double));
                        p += sizeof(double);
                } else if (type == SPATE_V_BOOL) {
                        if (p == end)
                                return -1;
                        v->u.b = *p++;
                } else if (type == SPATE_V_STR) {
                        uint32_t sl;
                        if (end - p < (ptrdiff_t)sizeof(sl))
                                return -1;
                        memcpy(&sl, p, sizeof(sl));
                        p += sizeof(sl);
                        if ((size_t)(end - p) < sl)
                                return -1;
                        v->u.s = p;
                        v->n = sl;
                        p += sl;
                } else if (type != SPATE_V_NULL) {
                        return -1;
                }
                v->type = type;
        }
        return 0;
}

/* --- versions --- */

typedef struct version {
        int64_t from;
        const char *row;
        uint32_t rlen;
} version_t;

/* The version at *at of blob: 1, 0 at the end, -1 for bytes that are not versions. */
static int version_next(const char *blob, size_t len, size_t *at, version_t *v) {
        if (*at == len)
                return 0;
        if (len - *at < 12)
                return -1;
        v->from = (int64_t)spate_get_be64((const unsigned char *)blob + *at);
        memcpy(&v->rlen, blob + *at + 8, 4);
        if (len - *at - 12 < v->rlen)
                return -1;
        v->row = blob + *at + 12;
        *at += 12 + v->rlen;
        return 1;
}

static void version_put(spate_buf_t *b, int64_t from, const void *row, uint32_t rlen) {
        unsigned char h[8];
        spate_put_be64(h, (uint64_t)from);
        spate_buf_put(b, h, 8);
        spate_buf_put(b, &rlen, 4);
        spate_buf_put(b, row, rlen);
}

void spate_table_versions_add(const void *blob, size_t len, int64_t t, const void *row, size_t rlen,
                              int64_t cutoff, spate_buf_t *b) {
        version_t v, next;
        size_t at = 0, ahead;
        int added = 0, has_next;
        if (!blob)
                len = 0;
        while (version_next(blob, len, &at, &v) == 1) {
                ahead = at;
                has_next = version_next(blob, len, &ahead, &next) == 1;
                /* A version that the next one (or the new one) ended at or before cutoff is gone. */
                int64_t end = has_next ? next.from : INT64_MAX;
                if (!added && t < end && t > v.from)
                        end = t;
                if (!added && t <= v.from) {
                        /* A write that ended before cutoff is dropped (KIP-889). */
                        if ((t < v.from ? v.from : has_next ? next.from : INT64_MAX) > cutoff)
                                version_put(b, t, row, (uint32_t)rlen);
                        added = 1;
                }
                if (v.from != t && end > cutoff)
                        version_put(b, v.from, v.row, v.rlen);
        }
        if (!added)
                version_put(b, t, row, (uint32_t)rlen);
}

const void *spate_table_version_at(const void *blob, size_t len, int64_t at, size_t *rlen) {
        version_t v;
        const void *row = NULL;
        size_t p = 0;
        int rc;
        while ((rc = version_next(blob, len, &p, &v)) == 1 && v.from <= at) {
                row = v.row;
                *rlen = v.rlen;
        }
        return rc < 0 ? NULL : row;
}
