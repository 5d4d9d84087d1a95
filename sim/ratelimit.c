/* ratelimit.c - per-key sliding-window rate limiter that also measures the busiest window.
 *
 * Each key keeps the timestamps of its requests inside the last window in two ring buffers
 * (all requests, admitted requests).  The window is sliding rather than fixed per clock
 * minute so "never more than N in any 60 s" is exactly what gets enforced and measured; the
 * maximum of a window is always reached at a request, so checking at each request is exact. */
#include "ratelimit.h"
#include "../util/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 1024

struct ring {
        int64_t *ts;
        size_t   cap, head, count;
};

struct key_entry {
        struct key_entry *next;
        struct ring       received, admitted;
        char              key[];
};

struct spate_ratelimit {
        pthread_mutex_t   lock;
        long              limit;
        int64_t           window_ms;
        size_t            keys;
        long              max_received, max_admitted;
        struct key_entry *buckets[BUCKETS];
};

static int ring_push(struct ring *r, int64_t t) {
        if (r->count == r->cap) {
                size_t cap = r->cap ? r->cap * 2 : 16;
                int64_t *ts = malloc(cap * sizeof(*ts));
                if (!ts)
                        return -1;
                for (size_t i = 0; i < r->count; i++)
                        ts[i] = r->ts[(r->head + i) % r->cap];
                free(r->ts);
                r->ts = ts;
                r->cap = cap;
                r->head = 0;
        }
        r->ts[(r->head + r->count) % r->cap] = t;
        r->count++;
        return 0;
}

/* Drops timestamps that are no longer inside the window ending at now. */
static void ring_expire(struct ring *r, int64_t now, int64_t window_ms) {
        while (r->count && r->ts[r->head] <= now - window_ms) {
                r->head = (r->head + 1) % r->cap;
                r->count--;
        }
}

spate_ratelimit_t *spate_ratelimit_new(long limit, int64_t window_ms) {
        spate_ratelimit_t *rl = calloc(1, sizeof(*rl));
        if (!rl)
                return NULL;
        pthread_mutex_init(&rl->lock, NULL);
        rl->limit = limit;
        rl->window_ms = window_ms;
        return rl;
}

void spate_ratelimit_destroy(spate_ratelimit_t *rl) {
        if (!rl)
                return;
        for (size_t b = 0; b < BUCKETS; b++) {
                struct key_entry *e = rl->buckets[b], *next;
                for (; e; e = next) {
                        next = e->next;
                        free(e->received.ts);
                        free(e->admitted.ts);
                        free(e);
                }
        }
        pthread_mutex_destroy(&rl->lock);
        free(rl);
}

static struct key_entry *lookup(spate_ratelimit_t *rl, const char *key) {
        struct key_entry **slot = &rl->buckets[spate_hash(key, strlen(key)) % BUCKETS];
        size_t n = strlen(key);

        for (struct key_entry *e = *slot; e; e = e->next)
                if (!strcmp(e->key, key))
                        return e;
        struct key_entry *e = calloc(1, sizeof(*e) + n + 1);
        if (!e)
                return NULL;
        memcpy(e->key, key, n + 1);
        e->next = *slot;
        *slot = e;
        rl->keys++;
        return e;
}

int64_t spate_ratelimit_admit(spate_ratelimit_t *rl, const char *key, int64_t now_ms) {
        int64_t wait = 0;

        pthread_mutex_lock(&rl->lock);
        struct key_entry *e = lookup(rl, key);
        if (!e || ring_push(&e->received, now_ms)) {
                pthread_mutex_unlock(&rl->lock);
                return -1;
        }
        ring_expire(&e->received, now_ms, rl->window_ms);
        ring_expire(&e->admitted, now_ms, rl->window_ms);
        if ((long)e->received.count > rl->max_received)
                rl->max_received = (long)e->received.count;
        if (rl->limit > 0 && (long)e->admitted.count >= rl->limit) {
                wait = e->admitted.ts[e->admitted.head] + rl->window_ms - now_ms;
                wait = wait < 1 ? 1 : wait;
        } else if (ring_push(&e->admitted, now_ms)) {
                wait = -1;
        } else if ((long)e->admitted.count > rl->max_admitted) {
                rl->max_admitted = (long)e->admitted.count;
        }
        pthread_mutex_unlock(&rl->lock);
        return wait;
}

void spate_ratelimit_stats(spate_ratelimit_t *rl, spate_ratelimit_stats_t *out) {
        pthread_mutex_lock(&rl->lock);
        out->keys = rl->keys;
        out->max_received = rl->max_received;
        out->max_admitted = rl->max_admitted;
        pthread_mutex_unlock(&rl->lock);
}
