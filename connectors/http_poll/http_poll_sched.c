/* http_poll_sched.c - when `http_poll` may send: per-coordinate phases and
 * the queue of due coordinates, the application-wide token bucket and retry
 * backoff. Pure functions of the
 * clock they are given, so tests use a fake one. */
#include "http_poll.h"
#include "../../util/mem.h"
#include "../../util/util.h"

#include <stdlib.h>

int64_t hp_phase(const char *id, size_t n, int64_t every_ms) {
        return (int64_t)(spate_hash(id, n) % (uint64_t)every_ms);
}

int64_t hp_first_slot(int64_t phase, int64_t every_ms, int64_t now_ms) {
        int64_t base = now_ms - now_ms % every_ms + phase;
        return base >= now_ms ? base : base + every_ms;
}

int64_t hp_next_slot(int64_t slot, int64_t every_ms, int64_t not_before) {
        if (slot + every_ms >= not_before)
                return slot + every_ms;
        return slot + (not_before - slot + every_ms - 1) / every_ms * every_ms;
}

/* --- the due queue: a binary min-heap of entries by due time -------------- */
static void q_set(hp_queue_t *q, int i, hp_entry_t *e) {
        q->heap[i] = e;
        e->heap = i;
}

static void q_up(hp_queue_t *q, int i) {
        hp_entry_t *e = q->heap[i];
        while (i > 0 && q->heap[(i - 1) / 2]->due > e->due) {
                q_set(q, i, q->heap[(i - 1) / 2]);
                i = (i - 1) / 2;
        }
        q_set(q, i, e);
}

static void q_down(hp_queue_t *q, int i) {
        hp_entry_t *e = q->heap[i];
        for (;;) {
                int k = 2 * i + 1;
                if (k >= q->n)
                        break;
                if (k + 1 < q->n && q->heap[k + 1]->due < q->heap[k]->due)
                        k++;
                if (q->heap[k]->due >= e->due)
                        break;
                q_set(q, i, q->heap[k]);
                i = k;
        }
        q_set(q, i, e);
}

void hp_queue_set(hp_queue_t *q, hp_entry_t *e, int64_t due) {
        e->due = due;
        if (e->heap >= 0) {
                q_up(q, e->heap);
                q_down(q, e->heap);
                return;
        }
        if (q->n == q->cap) {
                q->cap = q->cap ? q->cap * 2 : 1024;
                q->heap = spate_xrealloc(q->heap, sizeof(*q->heap) * (size_t)q->cap);
        }
        q_set(q, q->n++, e);
        q_up(q, e->heap);
}

void hp_queue_remove(hp_queue_t *q, hp_entry_t *e) {
        int i = e->heap;
        if (i < 0)
                return;
        e->heap = -1;
        if (i == --q->n)
                return;
        hp_entry_t *m = q->heap[q->n];
        q_set(q, i, m);
        q_up(q, i);
        q_down(q, m->heap);
}

hp_entry_t *hp_queue_top(const hp_queue_t *q) {
        return q->n ? q->heap[0] : NULL;
}

void hp_queue_free(hp_queue_t *q) {
        free(q->heap);
        *q = (hp_queue_t){ 0 };
}

void hp_entry_first(hp_queue_t *q, hp_entry_t *e, int64_t phase, int64_t every_ms, int64_t now) {
        e->heap = -1;
        e->attempt = 0;
        e->slot = hp_first_slot(phase, every_ms, now);
        hp_queue_set(q, e, e->slot);
}

/* Half an interval: a poll served later than that into its slot skips the
 * next one, rather than polling twice within a few seconds while a backlog
 * drains (the forecast barely changes, and the API counts every call). */
void hp_entry_ok(hp_queue_t *q, hp_entry_t *e, int64_t every_ms, int64_t started) {
        e->attempt = 0;
        e->slot = hp_next_slot(e->slot, every_ms, started + every_ms / 2);
        hp_queue_set(q, e, e->slot);
}

void hp_entry_skip(hp_queue_t *q, hp_entry_t *e, int64_t every_ms, int64_t now) {
        e->attempt = 0;
        e->slot = hp_next_slot(e->slot, every_ms, now + 1);
        hp_queue_set(q, e, e->slot);
}

int hp_entry_retry(hp_queue_t *q, hp_entry_t *e, int64_t every_ms, int64_t now, int64_t delay,
                   int max_attempts) {
        /* The last tenth of the interval is left free: a retry never runs
         * into the next slot's request. */
        int64_t deadline = e->slot + every_ms - every_ms / 10;
        if (++e->attempt < max_attempts && now + delay < deadline) {
                hp_queue_set(q, e, now + delay);
                return 1;
        }
        return 0;
}

int64_t hp_backoff(int attempt, int64_t base_ms, int64_t cap_ms, uint64_t rnd) {
        int64_t d = base_ms;
        for (int i = 1; i < attempt && d < cap_ms; i++)
                d *= 2;
        if (d > cap_ms)
                d = cap_ms;
        return d / 2 + (int64_t)(rnd % (uint64_t)(d / 2 + 1));
}

/* Capacity: what one fifth of a second earns, at least one request; the rate
 * takes the capacity out of the minute so a full bucket plus a minute of
 * refill stays within the share. */
static void bucket_size(hp_bucket_t *b) {
        double per_min = b->per_min * b->share;
        b->cap = per_min / 60.0 * 0.2;
        if (b->cap < 1)
                b->cap = 1;
        double left = per_min - b->cap;
        if (left < per_min / 2)
                left = per_min / 2;
        b->rate = left / 60000.0;
        if (b->tokens > b->cap)
                b->tokens = b->cap;
}

void hp_bucket_init(hp_bucket_t *b, double per_min, int64_t now_ms) {
        *b = (hp_bucket_t){ .per_min = per_min, .share = 1, .factor = 1, .last_ms = now_ms,
                            .last_change = now_ms };
        bucket_size(b);
}

static void refill(hp_bucket_t *b, int64_t now_ms) {
        if (now_ms <= b->last_ms)
                return;
        if (b->factor < 1 && now_ms - b->last_change >= 10000) {
                b->factor *= 1.25;
                if (b->factor > 1)
                        b->factor = 1;
                b->last_change = now_ms;
        }
        b->tokens += (double)(now_ms - b->last_ms) * b->rate * b->factor;
        if (b->tokens > b->cap)
                b->tokens = b->cap;
        b->last_ms = now_ms;
}

void hp_bucket_share(hp_bucket_t *b, double share, int64_t now_ms) {
        refill(b, now_ms);  /* what was earned at the old share */
        b->share = share;
        bucket_size(b);
}

int hp_bucket_take(hp_bucket_t *b, int64_t now_ms) {
        if (now_ms < b->paused_until)
                return 0;
        if (b->per_min <= 0)
                return 1;
        refill(b, now_ms);
        if (b->share <= 0 || b->tokens < 1)
                return 0;
        b->tokens -= 1;
        return 1;
}

void hp_bucket_throttle(hp_bucket_t *b, int64_t now_ms, int64_t retry_after_ms) {
        refill(b, now_ms);
        if (now_ms + retry_after_ms > b->paused_until)
                b->paused_until = now_ms + retry_after_ms;
        /* One halving per pause: the answers of requests already in flight
         * report the same overload. */
        if (now_ms - b->last_change >= 1000 || b->factor >= 1) {
                b->factor /= 2;
                if (b->factor < 1.0 / 64)
                        b->factor = 1.0 / 64;
        }
        b->last_change = now_ms;
        b->tokens = 0;
}
