/* live.c - the latest value per topic and key, for Server-Sent Events
 * (live.h): an open-addressing hash table under one mutex; every change gets
 * the next sequence number, and a reader collects what has a higher one
 * than its cursor. */
#include "live.h"
#include "../serde/json_write.h"
#include "../util/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

atomic_int spate_live_on;

typedef struct entry {
        char *tk;                  /* topic '\0' key, tklen bytes; NULL: free slot */
        size_t tklen, tlen;        /* tlen: the topic's length */
        char *value;
        size_t len, cap;
        uint64_t seq;
} entry_t;

static struct {
        pthread_mutex_t lock;
        pthread_cond_t changed;
        entry_t *slots;
        size_t cap, n;             /* cap: a power of two */
        uint64_t seq;
        int closed;
        int subscribers;
} hub = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0, 0, 0, 0 };

void spate_live_subscribe(void) {
        pthread_mutex_lock(&hub.lock);
        hub.closed = 0;
        atomic_store(&spate_live_on, ++hub.subscribers > 0);
        pthread_mutex_unlock(&hub.lock);
}

void spate_live_unsubscribe(void) {
        pthread_mutex_lock(&hub.lock);
        atomic_store(&spate_live_on, --hub.subscribers > 0);
        pthread_mutex_unlock(&hub.lock);
}

void spate_live_shutdown(void) {
        atomic_store(&spate_live_on, 0);
        pthread_mutex_lock(&hub.lock);
        for (size_t i = 0; i < hub.cap; i++) {
                free(hub.slots[i].tk);
                free(hub.slots[i].value);
        }
        free(hub.slots);
        hub.slots = NULL;
        hub.cap = hub.n = 0;
        hub.closed = 1;
        pthread_cond_broadcast(&hub.changed);
        pthread_mutex_unlock(&hub.lock);
}

static entry_t *slot(entry_t *slots, size_t cap, const char *tk, size_t tklen) {
        size_t i = spate_hash(tk, tklen) & (cap - 1);
        while (slots[i].tk && (slots[i].tklen != tklen || memcmp(slots[i].tk, tk, tklen)))
                i = (i + 1) & (cap - 1);
        return &slots[i];
}

/* Keeps the load under a half. 0, or -1 when out of memory. */
static int grow(void) {
        size_t cap = hub.cap ? hub.cap * 2 : 1024;
        entry_t *slots = calloc(cap, sizeof(*slots));
        if (!slots)
                return -1;
        for (size_t i = 0; i < hub.cap; i++)
                if (hub.slots[i].tk)
                        *slot(slots, cap, hub.slots[i].tk, hub.slots[i].tklen) = hub.slots[i];
        free(hub.slots);
        hub.slots = slots;
        hub.cap = cap;
        return 0;
}

void spate_live_offer_slow(const char *topic, const void *key, size_t klen, const void *value, size_t len) {
        size_t tlen = strlen(topic), tklen = tlen + 1 + klen;
        char stack[512], *tk = tklen <= sizeof(stack) ? stack : malloc(tklen);
        if (!value || len > SPATE_LIVE_MAX_VALUE || !len || ((const char *)value)[0] != '{' || !tk)
                goto out;
        memcpy(tk, topic, tlen + 1);
        if (klen)
                memcpy(tk + tlen + 1, key, klen);
        pthread_mutex_lock(&hub.lock);
        entry_t *e = NULL;
        int full = (hub.n + 1) * 2 > hub.cap;
        if (!full || (hub.n < SPATE_LIVE_MAX_KEYS && !grow()) || hub.n >= SPATE_LIVE_MAX_KEYS)
                e = hub.cap ? slot(hub.slots, hub.cap, tk, tklen) : NULL;
        if (e && !e->tk && (hub.n >= SPATE_LIVE_MAX_KEYS || !(e->tk = malloc(tklen))))
                e = NULL;
        if (e && !e->tklen) {      /* a new key */
                memcpy(e->tk, tk, tklen);
                e->tklen = tklen;
                e->tlen = tlen;
                hub.n++;
        }
        if (e && len > e->cap) {   /* an update reuses the buffer when it fits */
                char *v = realloc(e->value, len);
                if (v) {
                        e->value = v;
                        e->cap = len;
                }
        }
        if (e && e->cap >= len) {
                /* SSE ends an event's line at a newline: JSON's whitespace ones become spaces. */
                for (size_t i = 0; i < len; i++) {
                        char c = ((const char *)value)[i];
                        e->value[i] = c == '\n' || c == '\r' ? ' ' : c;
                }
                e->len = len;
                e->seq = ++hub.seq;
                pthread_cond_broadcast(&hub.changed);
        }
        pthread_mutex_unlock(&hub.lock);
out:
        if (tk != stack)
                free(tk);
}

static void put_event(spate_buf_t *out, const entry_t *e) {
        spate_buf_put(out, "data: {\"topic\":", 15);
        spate_json_write_str(out, e->tk, e->tlen);
        spate_buf_put(out, ",\"key\":", 7);
        spate_json_write_str(out, e->tk + e->tlen + 1, e->tklen - e->tlen - 1);
        spate_buf_put(out, ",\"value\":", 9);
        spate_buf_put(out, e->value, e->len);
        spate_buf_put(out, "}\n\n", 3);
}

int spate_live_changes(uint64_t *cursor, int wait_ms, spate_buf_t *out) {
        struct timespec until;
        int n = 0, rc = 0;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&hub.lock);
        while (!hub.closed && hub.seq <= *cursor && rc != ETIMEDOUT)
                rc = pthread_cond_timedwait(&hub.changed, &hub.lock, &until);
        if (hub.closed) {
                pthread_mutex_unlock(&hub.lock);
                return -1;
        }
        for (size_t i = 0; i < hub.cap; i++)
                if (hub.slots[i].tk && hub.slots[i].seq > *cursor) {
                        put_event(out, &hub.slots[i]);
                        n++;
                }
        *cursor = hub.seq;
        pthread_mutex_unlock(&hub.lock);
        return n;
}
