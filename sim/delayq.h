/* delayq.h - a timer thread that runs callbacks at a due time (used to answer HTTP requests late). */
#ifndef SPATE_DELAYQ_H
#define SPATE_DELAYQ_H

#include <stddef.h>
#include <stdint.h>

#define SPATE_DELAYQ_NEVER INT64_MAX

typedef struct spate_delayq spate_delayq_t;

/* Called on the timer thread once per added item: at its due time with cancelled = 0, or from
 * spate_delayq_close() with cancelled = 1.  Must not call back into the queue. */
typedef void (*spate_delayq_fn)(void *arg, int cancelled);

/* Starts the timer thread; NULL with errstr filled on failure. */
spate_delayq_t *spate_delayq_new(char *errstr, size_t errstr_size);

/* Schedules fn(arg) at due_ms on spate_delayq_now_ms()'s clock (SPATE_DELAYQ_NEVER: only on
 * close).  Returns 0, or -1 when the queue is closed or out of memory: then fn is not called
 * and the caller still owns arg. */
int spate_delayq_add(spate_delayq_t *q, int64_t due_ms, spate_delayq_fn fn, void *arg);

/* Runs every pending callback with cancelled = 1, refuses later adds, stops the thread. */
void spate_delayq_close(spate_delayq_t *q);

/* Closes if still open, then frees. */
void spate_delayq_destroy(spate_delayq_t *q);

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t spate_delayq_now_ms(void);

#endif
