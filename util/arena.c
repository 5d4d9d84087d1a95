/* arena.c - a bump allocator: chunks are recycled across resets, so the steady
 * state of the record path allocates nothing from malloc. */
#include "arena.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK 65536

struct spate_arena_chunk {
        spate_arena_chunk_t *next;
        size_t size, used;
        _Alignas(16) unsigned char data[];
};

void spate_arena_init(spate_arena_t *a) {
        a->head = a->spare = NULL;
}

static spate_arena_chunk_t *chunk_new(spate_arena_t *a, size_t need) {
        spate_arena_chunk_t *c = a->spare;
        if (c && c->size >= need) {
                a->spare = c->next;
        } else {
                size_t size = need > ARENA_CHUNK ? need : ARENA_CHUNK;
                c = spate_xmalloc(sizeof(*c) + size);
                c->size = size;
        }
        c->used = 0;
        c->next = a->head;
        a->head = c;
        return c;
}

void *spate_arena_alloc(spate_arena_t *a, size_t size) {
        spate_arena_chunk_t *c = a->head;
        size = (size + 15) & ~(size_t)15;
        if (!c || c->size - c->used < size)
                c = chunk_new(a, size);
        void *p = c->data + c->used;
        c->used += size;
        return p;
}

void *spate_arena_memdup(spate_arena_t *a, const void *p, size_t size) {
        void *d = spate_arena_alloc(a, size ? size : 1);
        memcpy(d, p, size);
        return d;
}

void spate_arena_reset(spate_arena_t *a) {
        /* A record's memory fits one chunk: it stays the one being filled,
         * so the next record's first allocation is a bump, not a chunk_new(). */
        if (a->head && !a->head->next) {
                a->head->used = 0;
                return;
        }
        while (a->head) {
                spate_arena_chunk_t *c = a->head;
                a->head = c->next;
                c->next = a->spare;
                a->spare = c;
        }
}

static void chunks_free(spate_arena_chunk_t *c) {
        while (c) {
                spate_arena_chunk_t *n = c->next;
                free(c);
                c = n;
        }
}

void spate_arena_destroy(spate_arena_t *a) {
        chunks_free(a->head);
        chunks_free(a->spare);
        a->head = a->spare = NULL;
}
