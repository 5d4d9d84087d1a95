/* window_warm.c - the windows of a rebalance's restored tasks loaded into
 * memory from their stores, on a thread of their own while the store goes
 * on restoring the rebalance's next tasks (window_task.c queues each task as
 * its store's restore completes: win_assign()), then on two threads at the
 * rebalance's end (win_assigned(): the calling thread takes its share).
 * Decoding the windows is most of a restored window's cost (2 s of CPU for
 * 1 M windows, bench/restore_bench.sh); beside the restore it uses the
 * second core while the restore waits for the changelog.
 *
 * Each load touches its own task's windows and its own iterator of its
 * task's column family (winstate.c and the codecs keep no shared state;
 * RocksDB reads are safe beside the restore's writes to other column
 * families), so the queue's mutex guards the queue only. */
#include "window_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct win_warm {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        pthread_t th;
        int running;                 /* th was started and is not joined yet */
        int closing;                 /* no more tasks: th ends once none is left */
        int stop;                    /* the node goes: the loads not begun are not */
        win_task_t **tasks;          /* queued since the last win_warm_finish(), in order */
        int *all;                    /* per task: warm_up()'s answer */
        int n, cap, next;            /* next: the first task no thread has taken */
        size_t limit;                /* bytes each task may load */
        int32_t failed;              /* the partition whose load failed, -1: none */
        char err[512];
};

/* The groups' hashes a load walked, for the Bloom filter of a task that
 * did not fit (its size is known once the walk ends). */
typedef struct {
        uint64_t *h;
        size_t n, cap;
        int failed;                  /* out of memory: no filter (warmed() builds one) */
} hashes_t;

static void hashes_add(hashes_t *hs, const spate_buf_t *g) {
        if (hs->failed)
                return;
        if (hs->n == hs->cap) {
                size_t cap = hs->cap ? 2 * hs->cap : 1024;
                uint64_t *h = realloc(hs->h, cap * sizeof(*h));
                if (!h) {
                        hs->failed = 1;
                        return;
                }
                hs->h = h;
                hs->cap = cap;
        }
        hs->h[hs->n++] = spate_winstate_group_hash(g->data, g->len);
}

/* The filter of every group the walk saw, twice their number in room (as
 * window_task.c's bloom_rebuild() sizes it); left off when out of memory. */
static void filter_build(spate_winstate_t *ws, const hashes_t *hs) {
        if (hs->failed || spate_winstate_bloom_reset(ws, 2 * hs->n))
                return;
        for (size_t i = 0; i < hs->n; i++)
                spate_winstate_bloom_note_hash(ws, hs->h[i]);
        spate_winstate_bloom_done(ws);
}

/* Loads the task's windows from its store, group by group, while they fit
 * in limit bytes (memory holds a group whole or not at all): 1 when they
 * all did, 0 when the rest stays in RocksDB (the same walk then gives the
 * Bloom filter of the groups there), -1 with errstr when an entry does not
 * decode or the store fails. */
static int warm_up(win_task_t *t, size_t limit, char *errstr, size_t errstr_size) {
        win_walk_t wk;
        hashes_t hs = { 0 };
        int rc, full = 0;
        if (win_walk_open(&wk, t, NULL, 0, errstr, errstr_size))
                return -1;
        while ((rc = win_walk_next(&wk, errstr, errstr_size)) == 1) {
                if (wk.kind == 1) {
                        full |= t->ws->bytes > limit;
                        hashes_add(&hs, &wk.group);
                }
                if (!full && spate_winstate_load_walk(t->ws, wk.k, wk.kl, wk.v, wk.vl, wk.kind == 1, errstr,
                                                      errstr_size)) {
                        rc = -1;
                        break;
                }
        }
        win_walk_close(&wk);
        if (!rc && full)
                filter_build(t->ws, &hs);
        free(hs.h);
        return rc < 0 ? -1 : !full;
}

/* Takes queued tasks and loads them until none is left and the queue is
 * closing (or a load failed): the thread's body, and the finishing
 * thread's share. */
static void *drain(void *arg) {
        win_warm_t *q = arg;
        char err[sizeof(q->err)];
        pthread_mutex_lock(&q->mu);
        for (;;) {
                while (q->next == q->n && !q->closing && q->failed < 0 && !q->stop)
                        pthread_cond_wait(&q->cv, &q->mu);
                if (q->next == q->n || q->failed >= 0 || q->stop)
                        break;
                int i = q->next++;
                win_task_t *t = q->tasks[i];
                size_t limit = q->limit;
                pthread_mutex_unlock(&q->mu);
                int rc = warm_up(t, limit, err, sizeof(err));
                pthread_mutex_lock(&q->mu);
                q->all[i] = rc;
                if (rc < 0 && q->failed < 0) {
                        q->failed = t->partition;
                        memcpy(q->err, err, sizeof(err));
                }
        }
        pthread_mutex_unlock(&q->mu);
        return NULL;
}

int win_warm_add(win_t *w, win_task_t *t, size_t limit) {
        win_warm_t *q = w->warm;
        if (!q) {
                if (!(q = calloc(1, sizeof(*q))))
                        return -1;
                pthread_mutex_init(&q->mu, NULL);
                pthread_cond_init(&q->cv, NULL);
                q->failed = -1;
                w->warm = q;
        }
        pthread_mutex_lock(&q->mu);
        if (q->n == q->cap) {
                int cap = q->cap ? 2 * q->cap : 16;
                win_task_t **tasks = realloc(q->tasks, (size_t)cap * sizeof(*tasks));
                int *all = tasks ? realloc(q->all, (size_t)cap * sizeof(*all)) : NULL;
                if (tasks)
                        q->tasks = tasks;
                if (all)
                        q->all = all;
                if (!all) {
                        pthread_mutex_unlock(&q->mu);
                        return -1;
                }
                q->cap = cap;
        }
        q->limit = limit;
        q->tasks[q->n++] = t;
        pthread_cond_signal(&q->cv);
        pthread_mutex_unlock(&q->mu);
        /* Without a thread the finishing thread loads them all. */
        if (!q->running && !pthread_create(&q->th, NULL, drain, q)) {
                pthread_setname_np(q->th, "warm:window");
                q->running = 1;
        }
        return 0;
}

/* Closes the queue, takes the calling thread's share and joins the thread:
 * every queued load has ended (or one failed). */
static void wait_all(win_warm_t *q) {
        pthread_mutex_lock(&q->mu);
        q->closing = 1;
        pthread_cond_broadcast(&q->cv);
        pthread_mutex_unlock(&q->mu);
        drain(q);
        if (q->running)
                pthread_join(q->th, NULL);
        q->running = 0;
}

static void reset(win_warm_t *q) {
        q->n = q->next = q->closing = 0;
        q->failed = -1;
}

int win_warm_finish(spate_node_t *n, win_warmed_cb done, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        win_warm_t *q = w->warm;
        if (!q || !q->n)
                return 0;
        wait_all(q);
        if (q->failed >= 0) {
                snprintf(ctx->errstr, sizeof(ctx->errstr), "window '%s' partition %d: reading its windows from "
                         "its store: %s", n->name, q->failed, q->err);
                reset(q);
                return -1;
        }
        for (int i = 0; i < q->n; i++)
                done(n, q->tasks[i], q->all[i]);
        reset(q);
        return 0;
}

void win_warm_free(win_t *w) {
        win_warm_t *q = w->warm;
        if (!q)
                return;
        pthread_mutex_lock(&q->mu);
        q->stop = 1;
        pthread_mutex_unlock(&q->mu);
        wait_all(q);
        pthread_mutex_destroy(&q->mu);
        pthread_cond_destroy(&q->cv);
        free(q->tasks);
        free(q->all);
        free(q);
        w->warm = NULL;
}
