/* live.h - the latest JSON value per topic and key of the records a run reads
 * (sources) and writes (sinks), for pushing to browsers (Server-Sent Events
 * of `spate run --http`, cli/http_server.c). Values are kept only while at
 * least one stream is subscribed: without a browser the hot path pays one
 * relaxed load. What was kept stays when the last one leaves, so a page that
 * reconnects gets it at once (and newer values as they come). Bounded:
 * values above SPATE_LIVE_MAX_VALUE bytes or that are not JSON objects are
 * skipped, and at most SPATE_LIVE_MAX_KEYS keys are kept (later new keys are
 * skipped). */
#ifndef SPATE_LIVE_H
#define SPATE_LIVE_H

#include "../util/buf.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SPATE_LIVE_MAX_VALUE 4096
#define SPATE_LIVE_MAX_KEYS 200000

extern atomic_int spate_live_on;

/* A stream starts or ends: values are kept while there is one. */
void spate_live_subscribe(void);
void spate_live_unsubscribe(void);
/* Frees what was kept and wakes every waiter, which then gets -1; later
 * subscriptions work again. */
void spate_live_shutdown(void);

/* Any thread. The value is copied. */
void spate_live_offer_slow(const char *topic, const void *key, size_t klen, const void *value, size_t len);
static inline void spate_live_offer(const char *topic, const void *key, size_t klen, const void *value,
                                    size_t len) {
        if (atomic_load_explicit(&spate_live_on, memory_order_relaxed))
                spate_live_offer_slow(topic, key, klen, value, len);
}

/* Waits up to wait_ms for a change after *cursor (0: everything), then
 * appends every value changed since as SSE events
 * `data: {"topic":..,"key":..,"value":{..}}` to out and moves *cursor on.
 * Returns the number of events, 0 on timeout, -1 once shut down. */
int spate_live_changes(uint64_t *cursor, int wait_ms, spate_buf_t *out);

#endif
