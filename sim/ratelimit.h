/* ratelimit.h - per-key sliding-window rate limiter that also measures the busiest window. */
#ifndef SPATE_RATELIMIT_H
#define SPATE_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct spate_ratelimit spate_ratelimit_t;

typedef struct {
        size_t keys;             /* distinct keys seen */
        long   max_received;     /* most requests of one key inside any window, refused ones too */
        long   max_admitted;     /* the same, counting only admitted requests */
} spate_ratelimit_stats_t;

/* limit = admitted requests per key per window_ms; 0 admits everything but still measures.
 * Returns NULL when out of memory.  Thread-safe. */
spate_ratelimit_t *spate_ratelimit_new(long limit, int64_t window_ms);
void spate_ratelimit_destroy(spate_ratelimit_t *rl);

/* Counts a request of `key` at now_ms (a monotonic clock; windows are (now - window, now]).
 * Returns 0 if admitted, otherwise the milliseconds until the key may be admitted again
 * (>= 1); -1 when out of memory (callers treat that as admitted). */
int64_t spate_ratelimit_admit(spate_ratelimit_t *rl, const char *key, int64_t now_ms);

void spate_ratelimit_stats(spate_ratelimit_t *rl, spate_ratelimit_stats_t *out);

#endif
