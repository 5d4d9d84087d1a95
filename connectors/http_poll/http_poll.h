/* http_poll.h - the pieces of the `http_poll` source that are pure logic, so
 * unit tests drive them with a fake clock and no network: the per-coordinate
 * schedule, the token bucket, retry backoff (http_poll_sched.c); One Call
 * body validation, URL templates and key redaction (http_poll_body.c).
 * Private to connectors/http_poll*.c and their tests. */
#ifndef SPATE_HTTP_POLL_H
#define SPATE_HTTP_POLL_H

#include "../../util/arena.h"
#include "../../util/buf.h"
#include "../../engine/shape.h"

#include <stddef.h>
#include <stdint.h>

/* --- schedule ------------------------------------------------------------
 * Every coordinate is polled once per `every` at a stable phase: a hash of its
 * id modulo `every`, on the wall clock, so its slots are phase + k * every.
 * Phases spread N coordinates evenly over the interval, and because they
 * depend on the id only, an instance that takes a coordinate over polls it at
 * the slot its previous owner used. A poll served late (a slow server, a
 * backlog, a rate limit) does not move the next one: the coordinate goes
 * back to its own slots, and slots that passed are skipped, never made up.
 * So the request rate is flat again one interval after a backlog drains. */
int64_t hp_phase(const char *id, size_t n, int64_t every_ms);
/* The first slot (t = phase mod every) at or after now. */
int64_t hp_first_slot(int64_t phase, int64_t every_ms, int64_t now_ms);
/* The first of slot + k * every (k >= 1) at or after not_before. */
int64_t hp_next_slot(int64_t slot, int64_t every_ms, int64_t not_before);

/* A coordinate's place in the schedule; embedded in the caller's struct. */
typedef struct hp_entry {
        int64_t slot;             /* the slot being served */
        int64_t due;              /* when its next request may start */
        int attempt;              /* failed attempts for this slot */
        int heap;                 /* index in the queue, -1 if not queued */
} hp_entry_t;

/* The entries waiting for their due time: a min-heap of pointers (the queue
 * owns none of the entries). */
typedef struct hp_queue {
        hp_entry_t **heap;
        int n, cap;
} hp_queue_t;

/* Queues e (or moves it, if queued) to start at `due`. */
void hp_queue_set(hp_queue_t *q, hp_entry_t *e, int64_t due);
void hp_queue_remove(hp_queue_t *q, hp_entry_t *e);
/* The entry due first (still queued), or NULL if the queue is empty. */
hp_entry_t *hp_queue_top(const hp_queue_t *q);
void hp_queue_free(hp_queue_t *q);

/* A new coordinate: its first slot at its phase, queued. */
void hp_entry_first(hp_queue_t *q, hp_entry_t *e, int64_t phase, int64_t every_ms, int64_t now);
/* A successful request that started at `started`: queued for the next slot at
 * least half an interval after it (one served more than half an interval late
 * skips a slot, so two polls are never closer than every / 2). */
void hp_entry_ok(hp_queue_t *q, hp_entry_t *e, int64_t every_ms, int64_t started);
/* The slot is given up (a 4xx, or retries exhausted): queued for the next slot. */
void hp_entry_skip(hp_queue_t *q, hp_entry_t *e, int64_t every_ms, int64_t now);
/* A failed attempt: counts it and, if another attempt fits (fewer than
 * max_attempts, and now + delay before the last tenth of the slot's
 * interval), queues it at now + delay and returns 1; else returns 0 and the
 * caller gives the slot up (e->attempt holds the attempts made). */
int hp_entry_retry(hp_queue_t *q, hp_entry_t *e, int64_t every_ms, int64_t now, int64_t delay,
                   int max_attempts);
/* Exponential backoff with jitter for attempt 1, 2, ...: a delay drawn from
 * [d/2, d] with d = base * 2^(attempt-1), capped; rnd is any 64-bit random. */
int64_t hp_backoff(int attempt, int64_t base_ms, int64_t cap_ms, uint64_t rnd);

/* --- token bucket ---------------------------------------------------------
 * The application's limit is per_min requests per minute; this instance takes
 * `share` of it (owned/total partitions of the coordinate table). Capacity
 * `cap` lets a tick send a few requests at once; the rate is chosen so that
 * cap + 60 s * rate = per_min * share, so no 60 s window (sliding, as the API
 * counts) ever holds more than the share. A 429 pauses until Retry-After and
 * halves the rate; it recovers by a quarter every 10 s without a 429. */
typedef struct hp_bucket {
        double per_min;        /* application limit; 0 = unlimited */
        double share;          /* owned/total */
        double cap, rate;      /* tokens, tokens per ms (rate before `factor`) */
        double tokens, factor;
        int64_t last_ms, paused_until, last_change;
} hp_bucket_t;

void hp_bucket_init(hp_bucket_t *b, double per_min, int64_t now_ms);
void hp_bucket_share(hp_bucket_t *b, double share, int64_t now_ms);
/* 1 if a request may start now (a token is taken), else 0. */
int hp_bucket_take(hp_bucket_t *b, int64_t now_ms);
/* HTTP 429: pause for retry_after_ms and slow down. */
void hp_bucket_throttle(hp_bucket_t *b, int64_t now_ms, int64_t retry_after_ms);

/* --- One Call bodies ------------------------------------------------------ */
typedef struct hp_onecall {
        int f_minutely, f_dt, f_precip, f_cod, f_message;  /* field indexes */
        spate_shape_t *shape, *minute;
} hp_onecall_t;

/* Adds the fields validation needs (minutely[*].dt, minutely[*].precipitation,
 * cod, message) to `shape` (an open shape: the node's output). */
void hp_onecall_bind(hp_onecall_t *oc, spate_shape_pool_t *pool, spate_shape_t *shape);
/* Decodes body into *out by oc->shape and checks it is a One Call answer with
 * at least min_minutely minutely entries, each with numeric dt and
 * precipitation. Returns 0; -1 with the reason in why when the body is not
 * such an answer (an API error body such as 401's is reported with its cod
 * and message); -2 when it is one but holds an impossible value (a negative
 * precipitation): the answer is rejected whole, nothing of it is published. */
int hp_onecall_decode(const hp_onecall_t *oc, const char *body, size_t len, int min_minutely,
                      spate_arena_t *a, spate_value_t *out, char *why, size_t why_size);
/* The API's own "message" member of an error body (401's "Invalid API key.
 * ..."), copied to out (at most 300 bytes). Returns 0, or -1 if there is none. */
int hp_api_message(const hp_onecall_t *oc, const char *body, size_t len, spate_arena_t *a,
                   char *out, size_t size);
/* Appends body to b without the top-level members named in names[0..n)
 * (body must be valid JSON with an object root): a record that overrides
 * `lat`/`lon` with the table's values must not repeat the keys. */
void hp_strip_members(spate_buf_t *b, const char *body, size_t len, const char *const *names,
                      int n);

/* --- URLs ---------------------------------------------------------------- */
/* Writes the template with {lat}, {lon} and {id} replaced (id percent-encoded).
 * Returns the length, or -1 if it does not fit. */
int hp_url_expand(const char *tmpl, const char *id, double lat, double lon, char *out,
                  size_t size);
/* Copies s to out with the values of appid=, key=, api_key=, token= (and any
 * other name ending in key or token) replaced by "***", and every occurrence
 * of `secret` (e.g. $OWM_API_KEY; NULL or shorter than 4 bytes: ignored).
 * Always NUL-terminates; returns out. */
char *hp_redact(const char *s, const char *secret, char *out, size_t size);

#endif
