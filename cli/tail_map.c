/* tail_map.c - the key -> latest value table of `spate tail`. */
#include "tail_map.h"
#include "../util/mem.h"
#include "../util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void grow(tail_map_t *m) {
        size_t nb = m->nbuckets ? m->nbuckets * 2 : 1024;
        tail_entry_t **b = spate_xcalloc(nb, sizeof(*b));
        for (size_t i = 0; i < m->nbuckets; i++) {
                tail_entry_t *e = m->buckets[i], *next;
                for (; e; e = next) {
                        next = e->next;
                        e->next = b[e->hash & (nb - 1)];
                        b[e->hash & (nb - 1)] = e;
                }
        }
        free(m->buckets);
        m->buckets = b;
        m->nbuckets = nb;
}

static tail_entry_t **slot(const tail_map_t *m, const void *key, size_t klen, uint64_t h) {
        tail_entry_t **pp = &m->buckets[h & (m->nbuckets - 1)];
        for (; *pp; pp = &(*pp)->next)
                if ((*pp)->hash == h && (*pp)->klen == klen && !memcmp((*pp)->key, key, klen))
                        break;
        return pp;
}

tail_entry_t *tail_map_get(const tail_map_t *m, const void *key, size_t klen) {
        if (!m->nbuckets)
                return NULL;
        return *slot(m, key, klen, spate_hash(key, klen));
}

tail_entry_t *tail_map_put(tail_map_t *m, const void *key, size_t klen, const void *val, size_t vlen) {
        uint64_t h = spate_hash(key, klen);
        tail_entry_t **pp, *e;
        if (m->n >= m->nbuckets)
                grow(m);
        pp = slot(m, key, klen, h);
        if (!(e = *pp)) {
                e = spate_xmalloc(sizeof(*e) + klen + 1);
                memset(e, 0, sizeof(*e));
                e->hash = h;
                e->klen = klen;
                memcpy(e->key, key, klen);
                e->key[klen] = '\0';
                *pp = e;
                m->n++;
        }
        if (vlen > e->vcap || vlen < e->vcap / 4) {  /* shrink values that got much smaller */
                e->val = spate_xrealloc(e->val, vlen);
                e->vcap = vlen;
        }
        if (vlen)
                memcpy(e->val, val, vlen);
        e->vlen = vlen;
        return e;
}

int tail_map_del(tail_map_t *m, const void *key, size_t klen) {
        tail_entry_t **pp, *e;
        if (!m->nbuckets)
                return 0;
        pp = slot(m, key, klen, spate_hash(key, klen));
        if (!(e = *pp))
                return 0;
        *pp = e->next;
        free(e->val);
        free(e);
        m->n--;
        return 1;
}

tail_entry_t **tail_map_list(const tail_map_t *m) {
        tail_entry_t **a = spate_xmalloc(m->n * sizeof(*a));
        size_t k = 0;
        for (size_t i = 0; i < m->nbuckets; i++)
                for (tail_entry_t *e = m->buckets[i]; e; e = e->next)
                        a[k++] = e;
        return a;
}

void tail_map_free(tail_map_t *m) {
        for (size_t i = 0; i < m->nbuckets; i++) {
                tail_entry_t *e = m->buckets[i], *next;
                for (; e; e = next) {
                        next = e->next;
                        free(e->val);
                        free(e);
                }
        }
        free(m->buckets);
        memset(m, 0, sizeof(*m));
}
