/* delayq.c - a timer thread that runs callbacks at a due time (used to answer HTTP requests late).
 *
 * A binary min-heap under one mutex; the thread sleeps on a CLOCK_MONOTONIC condition variable
 * until the earliest due time or until an earlier item arrives.  Callbacks run outside the
 * lock so they may take other locks (libmicrohttpd's, when resuming a connection). */
#include "delayq.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct item {
        int64_t         due_ms;
        uint64_t        seq;            /* FIFO among equal due times */
        spate_delayq_fn fn;
        void           *arg;
};

struct spate_delayq {
        pthread_mutex_t lock;
        pthread_cond_t  cond;
        pthread_t       thread;
        struct item    *heap;
        size_t          n, cap;
        uint64_t        seq;
        int             closed, joined;
};

int64_t spate_delayq_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int before(const struct item *a, const struct item *b) {
        return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->seq < b->seq);
}

static void swap(struct item *a, struct item *b) {
        struct item t = *a;
        *a = *b;
        *b = t;
}

static void sift_up(struct item *h, size_t i) {
        while (i > 0 && before(&h[i], &h[(i - 1) / 2])) {
                swap(&h[i], &h[(i - 1) / 2]);
                i = (i - 1) / 2;
        }
}

static void sift_down(struct item *h, size_t n, size_t i) {
        for (;;) {
                size_t l = 2 * i + 1, r = l + 1, m = i;
                if (l < n && before(&h[l], &h[m]))
                        m = l;
                if (r < n && before(&h[r], &h[m]))
                        m = r;
                if (m == i)
                        return;
                swap(&h[i], &h[m]);
                i = m;
        }
}

static struct item pop_min(spate_delayq_t *q) {
        struct item top = q->heap[0];
        q->heap[0] = q->heap[--q->n];
        sift_down(q->heap, q->n, 0);
        return top;
}

static void wait_until(spate_delayq_t *q, int64_t due_ms) {
        struct timespec ts;
        if (due_ms == SPATE_DELAYQ_NEVER) {
                pthread_cond_wait(&q->cond, &q->lock);
                return;
        }
        ts.tv_sec = due_ms / 1000;
        ts.tv_nsec = (due_ms % 1000) * 1000000;
        pthread_cond_timedwait(&q->cond, &q->lock, &ts);
}

static void *run(void *arg) {
        spate_delayq_t *q = arg;

        pthread_mutex_lock(&q->lock);
        while (!q->closed) {
                if (q->n == 0) {
                        pthread_cond_wait(&q->cond, &q->lock);
                } else if (q->heap[0].due_ms <= spate_delayq_now_ms()) {
                        struct item it = pop_min(q);
                        pthread_mutex_unlock(&q->lock);
                        it.fn(it.arg, 0);
                        pthread_mutex_lock(&q->lock);
                } else {
                        wait_until(q, q->heap[0].due_ms);
                }
        }
        pthread_mutex_unlock(&q->lock);
        return NULL;
}

spate_delayq_t *spate_delayq_new(char *errstr, size_t errstr_size) {
        spate_delayq_t *q = calloc(1, sizeof(*q));
        pthread_condattr_t attr;
        int err;

        if (!q) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        pthread_mutex_init(&q->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&q->cond, &attr);
        pthread_condattr_destroy(&attr);
        if ((err = pthread_create(&q->thread, NULL, run, q))) {
                snprintf(errstr, errstr_size, "timer thread: %s", strerror(err));
                pthread_cond_destroy(&q->cond);
                pthread_mutex_destroy(&q->lock);
                free(q);
                return NULL;
        }
        return q;
}

int spate_delayq_add(spate_delayq_t *q, int64_t due_ms, spate_delayq_fn fn, void *arg) {
        pthread_mutex_lock(&q->lock);
        if (q->closed) {
                pthread_mutex_unlock(&q->lock);
                return -1;
        }
        if (q->n == q->cap) {
                size_t cap = q->cap ? q->cap * 2 : 64;
                struct item *h = realloc(q->heap, cap * sizeof(*h));
                if (!h) {
                        pthread_mutex_unlock(&q->lock);
                        return -1;
                }
                q->heap = h;
                q->cap = cap;
        }
        q->heap[q->n] = (struct item){ due_ms, q->seq++, fn, arg };
        sift_up(q->heap, q->n++);
        /* Only an item that became the earliest changes how long the thread should sleep. */
        if (q->heap[0].seq == q->seq - 1)
                pthread_cond_signal(&q->cond);
        pthread_mutex_unlock(&q->lock);
        return 0;
}

void spate_delayq_close(spate_delayq_t *q) {
        pthread_mutex_lock(&q->lock);
        if (q->joined) {
                pthread_mutex_unlock(&q->lock);
                return;
        }
        q->closed = 1;
        pthread_cond_signal(&q->cond);
        pthread_mutex_unlock(&q->lock);
        pthread_join(q->thread, NULL);
        /* The thread is gone and adds are refused, so the heap is ours alone now. */
        while (q->n) {
                struct item it = pop_min(q);
                it.fn(it.arg, 1);
        }
        q->joined = 1;
}

void spate_delayq_destroy(spate_delayq_t *q) {
        if (!q)
                return;
        spate_delayq_close(q);
        free(q->heap);
        pthread_cond_destroy(&q->cond);
        pthread_mutex_destroy(&q->lock);
        free(q);
}
