/* dlq.h - a dead letter as it is produced: the origin's key and bytes, cut
 * so that the whole record fits the producer's message.max.bytes, and the
 * headers that say where it came from, why, and what was cut. */
#ifndef SPATE_DLQ_H
#define SPATE_DLQ_H

#include "record.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>

/* Room kept for the record's framing in a batch (varints, attributes,
 * header counts) on top of key, value and header bytes. */
#define SPATE_DLQ_FRAMING 512

typedef struct spate_dlq_letter {
        const char *reason, *node, *branch, *application;  /* branch may be NULL */
        const spate_origin_t *origin;
        /* Set by spate_dlq_letter_build(): what to produce. */
        const void *key, *value;
        size_t key_len, len;
} spate_dlq_letter_t;

/* Fills l->key/value (prefixes of the origin's) and returns new headers
 * (caller-owned: rd_kafka_producev takes them on success) such that key,
 * value and headers together take at most max_bytes - SPATE_DLQ_FRAMING.
 * A cut adds `spate.truncated` ("key", "value" or "key,value") and the
 * original sizes `spate.key_size` / `spate.value_size`. */
rd_kafka_headers_t *spate_dlq_letter_build(spate_dlq_letter_t *l, size_t max_bytes);

/* Bytes the headers take on the wire (names, values, length varints). */
size_t spate_dlq_headers_size(const rd_kafka_headers_t *h);

#endif
