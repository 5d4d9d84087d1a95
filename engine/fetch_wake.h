/* fetch_wake.h - wakes librdkafka's broker threads while the engine catches up
 * and the consumer queue runs low (fetch_wake.c says why). Engine-internal. */
#ifndef SPATE_FETCH_WAKE_H
#define SPATE_FETCH_WAKE_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>

typedef struct spate_fetch_wake spate_fetch_wake_t;

/* Starts the thread for the consumer reading topics (copied) from queue;
 * both handles stay the caller's and must outlive spate_fetch_wake_stop().
 * NULL when no thread could start (a warning says so). */
spate_fetch_wake_t *spate_fetch_wake_start(rd_kafka_t *consumer, rd_kafka_queue_t *queue,
                                           const char *const *topics, int ntopics);
/* After each batch: whether it was full (the engine is behind), and below how
 * many queued messages the brokers are woken. w may be NULL. */
void spate_fetch_wake_batch(spate_fetch_wake_t *w, int full, long low_msgs);
/* Stops and joins the thread, frees w (NULL: nothing). */
void spate_fetch_wake_stop(spate_fetch_wake_t *w);

#endif
