/* outbox.h - a topic's outputs queued for one rd_kafka_produce_batch() call
 * instead of one rd_kafka_producev() each.
 *
 * Why: librdkafka 2.0's producev reads the clock three times a message
 * (enqueue time, the create timestamp, the partition queue's wake-up), takes
 * the topic's lock and parses its varargs; produce_batch does the first two
 * once a batch and holds the lock across it. A consume->produce loop in C
 * (bench/raw_pipe.c) ran ~1.35x as fast with it on this project's 2 cores.
 *
 * The engine queues a message's key and value (copied: the caller's buffers
 * are reused) and sends the box at the end of each consumed batch, before
 * anything waits for acknowledgements, and when it is full. Messages keep
 * their order within the box, so within a partition. */
#ifndef SPATE_OUTBOX_H
#define SPATE_OUTBOX_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

typedef struct spate_outbox {
        rd_kafka_message_t *msgs;  /* key/payload set from `at` when sent */
        struct spate_outbox_at { size_t key, value; } *at;  /* offsets in bytes, SIZE_MAX: NULL */
        int n, cap;
        char *bytes;               /* the copies of keys and values */
        size_t len, size;
} spate_outbox_t;

/* Sent before it holds more than this many messages or bytes. */
#define SPATE_OUTBOX_MSGS 1024
#define SPATE_OUTBOX_BYTES (1u << 20)

/* Queues a copy of key and value (either may be NULL: a NULL value is a
 * tombstone, not an empty value) for partition (-1: the topic's partitioner)
 * with opaque as its delivery report's _private. Returns 1 when the box is
 * due to be sent, else 0. */
int spate_outbox_add(spate_outbox_t *b, int32_t partition, const void *key, size_t key_len,
                     const void *value, size_t len, void *opaque);

/* Hands the queued messages to librdkafka (it copies them). Returns 0 when
 * all were queued and the box is empty; RD_KAFKA_RESP_ERR__QUEUE_FULL when the
 * producer's queue was full, the refused messages kept in order for the next
 * call; any other error with *partition set to the refused message's and the
 * box emptied (the caller fails the instance: nothing past the last commit
 * is committed). */
rd_kafka_resp_err_t spate_outbox_send(spate_outbox_t *b, rd_kafka_topic_t *rkt, int32_t *partition);

/* Drops what is queued (a failed instance: its input is replayed). */
void spate_outbox_clear(spate_outbox_t *b);

/* Frees the box's memory; b may be zeroed. */
void spate_outbox_free(spate_outbox_t *b);

#endif
