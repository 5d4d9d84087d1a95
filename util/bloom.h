/* bloom.h - the Bloom filter probe shared by the window's evicted-groups
 * filter (operators/window/winstate.c) and the windowed stores' key filters
 * (state/wkv.c): 4 probes of a 64-bit key hash (spate_hash()) into a
 * power-of-two bit array, 16 bits a key (~0.2 % false positives). Inline:
 * both sit on a record's path. */
#ifndef SPATE_BLOOM_H
#define SPATE_BLOOM_H

#include <stddef.h>
#include <stdint.h>

#define SPATE_BLOOM_PROBES 4
#define SPATE_BLOOM_BITS_PER_KEY 16

/* Bits for keys keys (a power of two, at least min_bits, itself one). */
static inline size_t spate_bloom_bits(size_t keys, size_t min_bits) {
        size_t bits = min_bits;
        while (bits < keys * SPATE_BLOOM_BITS_PER_KEY)
                bits *= 2;
        return bits;
}

/* set: notes hash h in bits[0..nbits) and returns 1; otherwise 1 when the
 * filter may hold h, 0 when it surely does not. */
static inline int spate_bloom_probe(uint64_t *bits, size_t nbits, uint64_t h, int set) {
        uint64_t step = (h >> 32) | 1;
        int all = 1;
        for (int i = 0; i < SPATE_BLOOM_PROBES; i++, h += step) {
                size_t b = (size_t)h & (nbits - 1);
                if (set)
                        bits[b / 64] |= UINT64_C(1) << (b % 64);
                else
                        all &= (int)(bits[b / 64] >> (b % 64)) & 1;
        }
        return all;
}

#endif
