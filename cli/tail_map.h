/* tail_map.h - a hash table of Kafka keys to their latest value, for
 * `spate tail`: chained buckets, power-of-two sized, grown at load 1. */
#ifndef SPATE_TAIL_MAP_H
#define SPATE_TAIL_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct tail_entry {
        struct tail_entry *next;     /* bucket chain */
        uint64_t hash;
        char *val;                   /* owned; the latest value's bytes */
        size_t vlen, vcap;
        int kind;                    /* tj_kind_t of the value */
        /* The --sort field, computed when the value changes. */
        int sort_rank;               /* 0 number, 1 string, 2 other, 3 missing */
        double sort_num;
        size_t sort_off, sort_len;   /* string content, within val */
        size_t klen;
        char key[];                  /* the key's bytes, NUL-terminated for convenience */
} tail_entry_t;

typedef struct tail_map {
        tail_entry_t **buckets;
        size_t nbuckets;             /* 0 or a power of two */
        size_t n;                    /* live keys */
} tail_map_t;

/* Stores a copy of val as the latest value of key, returning the entry
 * (new or updated). Aborts on out-of-memory like spate_buf. */
tail_entry_t *tail_map_put(tail_map_t *m, const void *key, size_t klen, const void *val, size_t vlen);
/* Removes key (a tombstone); returns 1 if it was present. */
int tail_map_del(tail_map_t *m, const void *key, size_t klen);
tail_entry_t *tail_map_get(const tail_map_t *m, const void *key, size_t klen);
/* A malloc'd array of the m->n entries in no particular order; the caller
 * frees the array (not the entries, which the map owns). */
tail_entry_t **tail_map_list(const tail_map_t *m);
void tail_map_free(tail_map_t *m);

#endif
