/* arena.h - a bump allocator for per-record memory, reset between records. */
#ifndef SPATE_ARENA_H
#define SPATE_ARENA_H

#include <stddef.h>

typedef struct spate_arena_chunk spate_arena_chunk_t;

typedef struct spate_arena {
        spate_arena_chunk_t *head;  /* chunk being filled */
        spate_arena_chunk_t *spare; /* chunks kept from earlier resets */
} spate_arena_t;

void spate_arena_init(spate_arena_t *a);
/* Returns 16-byte aligned memory valid until the next reset; aborts on OOM
 * (per-record allocations have no sensible recovery). */
void *spate_arena_alloc(spate_arena_t *a, size_t size);
void *spate_arena_memdup(spate_arena_t *a, const void *p, size_t size);
/* Frees nothing: keeps the chunks for the next record. */
void spate_arena_reset(spate_arena_t *a);
void spate_arena_destroy(spate_arena_t *a);

#endif
