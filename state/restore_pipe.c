/* restore_pipe.c - the pipelined restore of restore_pipe.h: one worker
 * thread per apply of a step (two with its beside), at most one step under
 * way. A thread per step (not a pool) costs ~50 us against the milliseconds
 * a step's RocksDB write takes, and keeps no thread alive between
 * rebalances. */
#include "restore_pipe.h"
#include "../util/mem.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One apply of the step under way: its function, thread and outcome. */
typedef struct part {
        int (*fn)(void *arg, char *errstr, size_t errstr_size);
        void *arg;
        pthread_t thread;
        int threaded, rc;
        char err[512];               /* its errstr, written by its worker only */
} part_t;

struct spate_restore_pipe {
        char name[16];
        spate_restore_step_t step;   /* under way when busy */
        spate_restore_step_t held;   /* to start next, when held.apply */
        part_t part[2];              /* the step's apply and its beside (fn NULL: none) */
        int busy;
};

spate_restore_pipe_t *spate_restore_pipe_new(const char *name) {
        spate_restore_pipe_t *p = spate_xcalloc(1, sizeof(*p));
        snprintf(p->name, sizeof(p->name), "%s", name);
        return p;
}

static void *worker(void *opaque) {
        part_t *part = opaque;
        part->rc = part->fn(part->arg, part->err, sizeof(part->err));
        return NULL;
}

/* Waits for the applies, then runs the done with the first failure's rc and
 * errstr (a success forced to -1 by drop). */
static int finish(spate_restore_pipe_t *p, int drop, char *errstr, size_t errstr_size) {
        const part_t *failed = NULL;
        int rc;
        if (!p->busy)
                return 0;
        for (int i = 0; i < 2; i++) {
                if (p->part[i].threaded)
                        pthread_join(p->part[i].thread, NULL);
                if (p->part[i].rc && !failed)
                        failed = &p->part[i];
        }
        p->busy = 0;
        rc = failed || drop ? -1 : 0;
        if (rc)
                snprintf(errstr, errstr_size, "%s", failed ? failed->err : "restore abandoned");
        if (p->step.done)
                rc = p->step.done(p->step.arg, rc, errstr, errstr_size);
        return rc ? -1 : 0;
}

/* Joins the step under way, then starts step's applies. */
static int start(spate_restore_pipe_t *p, const spate_restore_step_t *step, char *errstr, size_t errstr_size) {
        sigset_t all, old;
        if (finish(p, 0, errstr, errstr_size))
                return -1;
        p->step = *step;
        p->busy = 1;
        /* Signals stay with the caller's thread, whose handlers stop the engine. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        for (int i = 0; i < 2; i++) {
                part_t *part = &p->part[i];
                part->fn = i ? step->beside : step->apply;
                part->arg = step->arg;
                part->rc = 0;
                part->err[0] = '\0';
                if ((part->threaded = part->fn && !pthread_create(&part->thread, NULL, worker, part)))
                        pthread_setname_np(part->thread, p->name);
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        for (int i = 0; i < 2; i++)
                if (p->part[i].fn && !p->part[i].threaded)
                        worker(&p->part[i]);  /* no thread to be had: the restore goes on serially */
        return 0;
}

/* The held step, never applied: its done gets rc -1 with an errstr of its
 * own (the caller's holds the failure that dropped it, if any). */
static void drop_held(spate_restore_pipe_t *p) {
        char err[512] = "restore abandoned";
        spate_restore_step_t held = p->held;
        p->held.apply = NULL;
        if (held.apply && held.done)
                held.done(held.arg, -1, err, sizeof(err));
}

int spate_restore_pipe_release(spate_restore_pipe_t *p, char *errstr, size_t errstr_size) {
        spate_restore_step_t held = p->held;
        if (!held.apply)
                return 0;
        if (finish(p, 0, errstr, errstr_size)) {
                drop_held(p);  /* not started after a failure: dropped, as by free */
                return -1;
        }
        p->held.apply = NULL;
        return start(p, &held, errstr, errstr_size);
}

int spate_restore_pipe_submit(spate_restore_pipe_t *p, const spate_restore_step_t *step, char *errstr,
                              size_t errstr_size) {
        if (spate_restore_pipe_release(p, errstr, errstr_size))
                return -1;
        return start(p, step, errstr, errstr_size);
}

int spate_restore_pipe_hold(spate_restore_pipe_t *p, const spate_restore_step_t *step, char *errstr,
                            size_t errstr_size) {
        if (spate_restore_pipe_release(p, errstr, errstr_size))
                return -1;
        p->held = *step;
        return 0;
}

int spate_restore_pipe_join(spate_restore_pipe_t *p, char *errstr, size_t errstr_size) {
        if (!p)
                return 0;
        if (spate_restore_pipe_release(p, errstr, errstr_size))
                return -1;
        return finish(p, 0, errstr, errstr_size);
}

int spate_restore_pipe_busy(const spate_restore_pipe_t *p) {
        return p && (p->busy || p->held.apply);
}

void spate_restore_pipe_free(spate_restore_pipe_t *p) {
        char err[512];
        if (!p)
                return;
        finish(p, 1, err, sizeof(err));
        drop_held(p);
        free(p);
}
