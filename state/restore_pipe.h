/* restore_pipe.h - the pipelined restore the engine gives a node's state:
 * the caller reads a task's changelog and prepares its writes on its own
 * thread (the main thread, where librdkafka's restorer and the task structs
 * live), and hands the prepared writes over as steps; each step is applied
 * on a worker thread while the caller reads on (the next chunk of the
 * partition, or the next partition); a step may also have a second apply,
 * run beside the first on a second worker thread (`beside`), when its
 * writes go to two places that need not wait for each other (the window's
 * memory and its store: on two cores, what keeps both busy while the caller
 * reads). At most one step is under way: handing
 * over the next one, or spate_restore_pipe_join(), waits for it and then
 * runs its `done` on the caller's thread, where the task is finished and
 * handed to the node. So the caller's rule for thread safety is: what a
 * step's apply touches (a RocksDB batch, a staged copy) is touched by no one
 * else until its done; a task is visible to process() only from its done.
 * docs/stores.md, "The pipelined restore". */
#ifndef SPATE_RESTORE_PIPE_H
#define SPATE_RESTORE_PIPE_H

#include <stddef.h>

typedef struct spate_restore_step {
        /* On the worker thread (or on the caller's, when no thread can be
         * had): apply what arg holds. 0, or -1 with errstr. */
        int (*apply)(void *arg, char *errstr, size_t errstr_size);
        /* Optional; on the caller's thread once apply has returned rc (its
         * errstr in errstr when rc is -1), also when the pipe is freed with
         * the step under way (rc -1): finish the task and hand it over, or
         * drop it when rc is -1. Returns 0, or -1 with errstr. arg is the
         * caller's again after it. */
        int (*done)(void *arg, int rc, char *errstr, size_t errstr_size);
        void *arg;
        /* Optional: a second apply over the same arg, started with apply
         * on a second worker thread; the two must touch disjoint parts of
         * arg (and may share only what nothing writes until done). The step
         * is applied when both have returned: done then gets rc -1 when
         * either failed, with apply's errstr when apply failed, else
         * beside's (each writes its own errstr). */
        int (*beside)(void *arg, char *errstr, size_t errstr_size);
} spate_restore_step_t;

typedef struct spate_restore_pipe spate_restore_pipe_t;

/* A pipe whose worker threads (both of a step with beside) are named name
 * (for top -H; at most 15 characters are kept). Owned by the caller: spate_restore_pipe_free(). */
spate_restore_pipe_t *spate_restore_pipe_new(const char *name);
/* Waits for the step under way and runs its done, then starts step's apply
 * (and its beside). 0; or -1 with errstr when the previous step (its apply
 * or its done) failed, and step is then not started (its arg stays the
 * caller's). */
int spate_restore_pipe_submit(spate_restore_pipe_t *p, const spate_restore_step_t *step, char *errstr,
                              size_t errstr_size);
/* Holds step, to start at the next spate_restore_pipe_release(), submit or
 * join (a step held before starts first, through submit): a task's last
 * write held until the next task has done what would wait for that write
 * (creating its RocksDB column family waits for every write under way), so
 * that the write runs beside the next task's read. */
int spate_restore_pipe_hold(spate_restore_pipe_t *p, const spate_restore_step_t *step, char *errstr,
                            size_t errstr_size);
/* Starts the step held, if any (submit's rules; when the previous step
 * failed, the held one is dropped: its done gets rc -1). 0, or -1 with
 * errstr. */
int spate_restore_pipe_release(spate_restore_pipe_t *p, char *errstr, size_t errstr_size);
/* Starts the step held, waits for the step under way, if any, and runs its
 * done: 0, or -1 with errstr as above. The hook that completes a
 * rebalance's restores. */
int spate_restore_pipe_join(spate_restore_pipe_t *p, char *errstr, size_t errstr_size);
/* 1 while a step is held or under way (not joined). */
int spate_restore_pipe_busy(const spate_restore_pipe_t *p);
/* Joins the step under way and drops the step held (their dones get rc
 * -1; the held one is never applied), then frees p.
 * NULL is a no-op. */
void spate_restore_pipe_free(spate_restore_pipe_t *p);

#endif
