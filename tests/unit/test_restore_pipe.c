/* test_restore_pipe.c - the engine's pipelined restore (state/restore_pipe.h)
 * on its own: several partitions handed over one by one, each applied on a
 * worker thread while the caller reads the next (checked by an apply that
 * waits for the caller's next read), every done on the caller's thread after
 * its apply and before the next apply starts; the state the applies build
 * against a reference built serially; a held step starting only at its
 * release; a failed apply stopping the pipe (and dropping a step held
 * after it); a pipe freed with a step under way, or held, dropping it (a
 * dropped held step's done told so); a step's two applies (apply and beside)
 * running at once, on two workers, its done after both, a failure of either
 * reported. */
#include "check.h"
#include "../../state/restore_pipe.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define PARTS 6
#define KEYS 1000

static long store[PARTS][KEYS];     /* what the applies write */
static sem_t reading;               /* posted when the caller reads the next partition */
static pthread_t caller;

typedef struct job {
        int p, fail, wait;
        long staged[KEYS];          /* prepared on the caller's thread */
        int applied, done, rc, on_worker, waited;
        char err[64];               /* the errstr its done got with rc -1 */
} job_t;

static int order[PARTS * 4], norder;  /* +p: apply started, -(p + 1): done (every test resets norder) */

static int apply(void *arg, char *errstr, size_t errstr_size) {
        job_t *j = arg;
        struct timespec until;
        order[norder++] = j->p;
        j->on_worker = !pthread_equal(pthread_self(), caller);
        if (j->wait) {
                /* Bounded, so that a pipe that applies on the caller's thread
                 * fails the check instead of hanging. */
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_sec += 10;
                j->waited = !sem_timedwait(&reading, &until);
        }
        if (j->fail) {
                snprintf(errstr, errstr_size, "partition %d: disk full", j->p);
                return -1;
        }
        for (int k = 0; k < KEYS; k++)
                store[j->p][k] += j->staged[k];
        j->applied = 1;
        return 0;
}

static int done(void *arg, int rc, char *errstr, size_t errstr_size) {
        job_t *j = arg;
        (void)errstr_size;
        if (rc)
                snprintf(j->err, sizeof(j->err), "%s", errstr);
        order[norder++] = -(j->p + 1);
        j->done = 1;
        j->rc = rc;
        return rc;
}

/* The caller's "read" of partition p: its values, as a changelog would give. */
static void read_partition(job_t *j, int p) {
        memset(j, 0, sizeof(*j));
        j->p = p;
        for (int k = 0; k < KEYS; k++)
                j->staged[k] = (long)p * 100000 + k * 7;
}

static void test_pipeline(void) {
        static job_t jobs[PARTS];
        long ref[PARTS][KEYS];
        char err[256];
        spate_restore_pipe_t *p = spate_restore_pipe_new("restore:test");
        memset(store, 0, sizeof(store));
        norder = 0;
        CHECK(spate_restore_pipe_join(p, err, sizeof(err)) == 0 && !spate_restore_pipe_busy(p),
              "nothing under way: join returns at once");
        for (int i = 0; i < PARTS; i++) {
                read_partition(&jobs[i], i);
                if (i > 0)
                        sem_post(&reading);  /* the previous apply may end only after this read */
                jobs[i].wait = i < PARTS - 1;
                CHECK(spate_restore_pipe_submit(p, &(spate_restore_step_t){ apply, done, &jobs[i], NULL }, err,
                                                sizeof(err)) == 0, "partition %d handed over", i);
                CHECK(spate_restore_pipe_busy(p), "partition %d under way", i);
                CHECK(i == 0 || jobs[i - 1].done, "partition %d's hand-over completed partition %d", i, i - 1);
        }
        CHECK(spate_restore_pipe_join(p, err, sizeof(err)) == 0 && jobs[PARTS - 1].done &&
              !spate_restore_pipe_busy(p), "join completes the last");
        for (int i = 0; i < PARTS; i++) {
                CHECK(jobs[i].on_worker && jobs[i].applied && jobs[i].rc == 0, "partition %d applied on a worker", i);
                CHECK(!jobs[i].wait || jobs[i].waited, "partition %d's apply overlapped the next read", i);
        }
        int serial = norder == 2 * PARTS;
        for (int i = 0; serial && i < PARTS; i++)
                serial = order[2 * i] == i && order[2 * i + 1] == -(i + 1);
        CHECK(serial, "each done follows its apply and precedes the next apply");
        for (int i = 0; i < PARTS; i++)
                for (int k = 0; k < KEYS; k++)
                        ref[i][k] = (long)i * 100000 + k * 7;
        CHECK(!memcmp(ref, store, sizeof(ref)), "the applied state equals the reference");
        spate_restore_pipe_free(p);
}

static void test_failure(void) {
        static job_t a, b, c;
        char err[256] = "";
        spate_restore_pipe_t *p = spate_restore_pipe_new("restore:test");
        norder = 0;
        read_partition(&a, 0);
        read_partition(&b, 1);
        a.fail = 1;
        CHECK(spate_restore_pipe_submit(p, &(spate_restore_step_t){ apply, done, &a, NULL }, err, sizeof(err)) == 0,
              "the failing step starts");
        CHECK(spate_restore_pipe_submit(p, &(spate_restore_step_t){ apply, done, &b, NULL }, err, sizeof(err)) == -1 &&
              strstr(err, "partition 0: disk full"), "the next hand-over reports it: %s", err);
        CHECK(a.done && a.rc == -1 && !a.applied, "the failed step's done got -1");
        CHECK(!b.done && !b.applied && !spate_restore_pipe_busy(p), "the next step was not started");
        /* freed with a step under way: its done drops it */
        read_partition(&c, 2);
        CHECK(spate_restore_pipe_submit(p, &(spate_restore_step_t){ apply, done, &c, NULL }, err, sizeof(err)) == 0,
              "a step under way");
        spate_restore_pipe_free(p);
        CHECK(c.done && c.rc == -1, "freed: the step under way is dropped (rc %d)", c.rc);
        spate_restore_pipe_free(NULL);
}

/* A held step starts at the release (or the next submit), after the step
 * under way; nothing starts it before. */
static void test_hold(void) {
        static job_t a, b, c;
        char err[256];
        spate_restore_pipe_t *p = spate_restore_pipe_new("restore:test");
        norder = 0;
        read_partition(&a, 0);
        read_partition(&b, 1);
        read_partition(&c, 2);
        CHECK(spate_restore_pipe_hold(p, &(spate_restore_step_t){ apply, done, &a, NULL }, err, sizeof(err)) == 0 &&
              spate_restore_pipe_busy(p) && norder == 0, "held: not started");
        CHECK(spate_restore_pipe_release(p, err, sizeof(err)) == 0, "released");
        CHECK(spate_restore_pipe_hold(p, &(spate_restore_step_t){ apply, done, &b, NULL }, err, sizeof(err)) == 0,
              "the next one held");
        CHECK(spate_restore_pipe_submit(p, &(spate_restore_step_t){ apply, done, &c, NULL }, err, sizeof(err)) == 0,
              "a submit after it");
        CHECK(spate_restore_pipe_join(p, err, sizeof(err)) == 0 && !spate_restore_pipe_busy(p), "joined");
        CHECK(norder == 6 && order[0] == 0 && order[1] == -1 && order[2] == 1 && order[3] == -2 && order[4] == 2 &&
              order[5] == -3, "a, then the held b, then c, each done before the next apply");
        read_partition(&a, 3);
        CHECK(spate_restore_pipe_hold(p, &(spate_restore_step_t){ apply, done, &a, NULL }, err, sizeof(err)) == 0,
              "held at the end");
        spate_restore_pipe_free(p);
        CHECK(a.done && a.rc == -1 && !a.applied && !strcmp(a.err, "restore abandoned"),
              "freed: the held step is dropped, never applied (its errstr: %s)", a.err);
        /* a failed step drops the step held after it at the release */
        p = spate_restore_pipe_new("restore:test");
        read_partition(&a, 4);
        read_partition(&b, 5);
        a.fail = 1;
        CHECK(spate_restore_pipe_submit(p, &(spate_restore_step_t){ apply, done, &a, NULL }, err, sizeof(err)) == 0 &&
              spate_restore_pipe_hold(p, &(spate_restore_step_t){ apply, done, &b, NULL }, err, sizeof(err)) == 0,
              "a failing step, one held after it");
        CHECK(spate_restore_pipe_release(p, err, sizeof(err)) == -1 && strstr(err, "partition 4: disk full"),
              "the release reports the failure: %s", err);
        CHECK(b.done && b.rc == -1 && !b.applied && !strcmp(b.err, "restore abandoned") &&
              !spate_restore_pipe_busy(p), "the held step is dropped, never applied (its errstr: %s)", b.err);
        spate_restore_pipe_free(p);
}

/* A step split in two halves (apply, beside), each writing half of a
 * partition's keys: the halves meet (each waits for the other, bounded) so
 * they ran at the same time, on two threads other than the caller's. */
typedef struct halves {
        int p, fail[2];
        long staged[KEYS];
        sem_t met[2];               /* posted by half i once it runs */
        int met_other[2], on_worker[2], returned[2], done, rc;
        pthread_t thread[2];
        char err[256];              /* done's errstr */
} halves_t;

static int half(halves_t *h, int i, char *errstr, size_t errstr_size) {
        struct timespec until;
        h->thread[i] = pthread_self();
        h->on_worker[i] = !pthread_equal(pthread_self(), caller);
        sem_post(&h->met[i]);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 10;
        h->met_other[i] = !sem_timedwait(&h->met[!i], &until);
        if (h->fail[i]) {
                snprintf(errstr, errstr_size, "half %d of partition %d failed", i, h->p);
                h->returned[i] = 1;
                return -1;
        }
        for (int k = i * KEYS / 2; k < (i + 1) * KEYS / 2; k++)
                store[h->p][k] += h->staged[k];
        h->returned[i] = 1;
        return 0;
}

static int first_half(void *arg, char *errstr, size_t errstr_size) {
        return half(arg, 0, errstr, errstr_size);
}

static int second_half(void *arg, char *errstr, size_t errstr_size) {
        return half(arg, 1, errstr, errstr_size);
}

static int halves_done(void *arg, int rc, char *errstr, size_t errstr_size) {
        halves_t *h = arg;
        (void)errstr_size;
        h->done = h->returned[0] && h->returned[1] ? 1 : -1;  /* -1: run before both returned */
        h->rc = rc;
        snprintf(h->err, sizeof(h->err), "%s", rc ? errstr : "");
        return rc;
}

static void halves_init(halves_t *h, int p, int fail0, int fail1) {
        memset(h, 0, sizeof(*h));
        h->p = p;
        h->fail[0] = fail0;
        h->fail[1] = fail1;
        for (int k = 0; k < KEYS; k++)
                h->staged[k] = (long)p * 100000 + k * 3;
        sem_init(&h->met[0], 0, 0);
        sem_init(&h->met[1], 0, 0);
}

static void halves_fini(halves_t *h) {
        sem_destroy(&h->met[0]);
        sem_destroy(&h->met[1]);
}

static int submit_halves(spate_restore_pipe_t *p, halves_t *h, char *err, size_t errsize) {
        return spate_restore_pipe_submit(p, &(spate_restore_step_t){ first_half, halves_done, h, second_half }, err,
                                         errsize);
}

static void test_beside(void) {
        static halves_t a, b;
        long ref[KEYS];
        char err[256];
        spate_restore_pipe_t *p = spate_restore_pipe_new("restore:test");
        memset(store, 0, sizeof(store));
        halves_init(&a, 0, 0, 0);
        halves_init(&b, 1, 0, 0);
        CHECK(submit_halves(p, &a, err, sizeof(err)) == 0, "a split step handed over");
        CHECK(submit_halves(p, &b, err, sizeof(err)) == 0 && a.done == 1 && a.rc == 0,
              "the next hand-over ran its done after both halves returned (done %d)", a.done);
        CHECK(spate_restore_pipe_join(p, err, sizeof(err)) == 0 && b.done == 1 && b.rc == 0, "joined");
        for (int i = 0; i < 2; i++) {
                const halves_t *h = i ? &b : &a;
                CHECK(h->met_other[0] && h->met_other[1], "partition %d: the halves ran at once", i);
                CHECK(h->on_worker[0] && h->on_worker[1] && !pthread_equal(h->thread[0], h->thread[1]),
                      "partition %d: each half on its own worker", i);
                for (int k = 0; k < KEYS; k++)
                        ref[k] = (long)i * 100000 + k * 3;
                CHECK(!memcmp(ref, store[i], sizeof(ref)), "partition %d: both halves' state equals the reference",
                      i);
        }
        halves_fini(&a);
        halves_fini(&b);

        /* beside fails: the step failed, with its error; the next is not started */
        halves_init(&a, 2, 0, 1);
        halves_init(&b, 3, 0, 0);
        CHECK(submit_halves(p, &a, err, sizeof(err)) == 0, "a step whose beside fails starts");
        CHECK(submit_halves(p, &b, err, sizeof(err)) == -1 && strstr(err, "half 1 of partition 2 failed") &&
              a.rc == -1 && strstr(a.err, "half 1 of partition 2"), "beside's failure reported: %s", err);
        CHECK(!b.done && !b.returned[0] && !b.returned[1], "the next step was not started");
        halves_fini(&a);
        halves_fini(&b);

        /* both fail: apply's error is the one reported */
        halves_init(&a, 4, 1, 1);
        CHECK(submit_halves(p, &a, err, sizeof(err)) == 0, "a step whose halves both fail starts");
        CHECK(spate_restore_pipe_join(p, err, sizeof(err)) == -1 && strstr(err, "half 0 of partition 4") &&
              a.rc == -1, "apply's failure reported first: %s", err);
        halves_fini(&a);

        /* freed with a split step under way: dropped after both halves return */
        halves_init(&a, 5, 0, 0);
        CHECK(submit_halves(p, &a, err, sizeof(err)) == 0, "a split step under way");
        spate_restore_pipe_free(p);
        CHECK(a.done == 1 && a.rc == -1, "freed: dropped once both halves returned (done %d, rc %d)", a.done, a.rc);
        halves_fini(&a);
}

int main(void) {
        caller = pthread_self();
        sem_init(&reading, 0, 0);
        test_pipeline();
        test_failure();
        test_hold();
        test_beside();
        sem_destroy(&reading);
        return CHECK_DONE();
}
