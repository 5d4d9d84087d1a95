/* fetch_wake.h - wakes librdkafka's broker threads while the engine catches up
 * and the consumer queue runs low (fetch_wake.c says why). Engine-internal. */
#ifndef SPATE_FETCH_WAKE_H
#define SPATE_FETCH_WAKE_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>

typedef struct spate_fetch_wake spate_fetch_wake_t;

/* How often the thread may wake the brokers, in ms; from librdkafka 2.2 on,
 * the consumer's fetch.queue.backoff.ms instead (kafka_conf.c). */
#define SPATE_FETCH_WAKE_MS 20

/* 1 when librdkafka of version v (rd_kafka_version()'s 0xMMmmrrpp) needs the
 * wake-ups: before 2.2.0, which added fetch.queue.backoff.ms (#2879). */
int spate_fetch_wake_needed(int v);

/* Starts the thread for the consumer reading topics (copied) from queue;
 * both handles stay the caller's and must outlive spate_fetch_wake_stop().
 * NULL when the running librdkafka does not need it or no thread could
 * start (a debug line says which mode is used; a warning, that none could). */
spate_fetch_wake_t *spate_fetch_wake_start(rd_kafka_t *consumer, rd_kafka_queue_t *queue,
                                           const char *const *topics, int ntopics);
/* After each batch: whether the engine is behind (it read a full batch's
 * worth of records within its tick), and below how many queued messages the
 * brokers are woken. w may be NULL. */
void spate_fetch_wake_batch(spate_fetch_wake_t *w, int behind, long low_msgs);
/* Stops and joins the thread, frees w (NULL: nothing). */
void spate_fetch_wake_stop(spate_fetch_wake_t *w);

#endif
