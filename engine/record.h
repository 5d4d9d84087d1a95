/* record.h - a record as it flows through a topology: key, event time, value
 * (shaped by the receiving node's input shape) and where it came from. */
#ifndef SPATE_RECORD_H
#define SPATE_RECORD_H

#include "value.h"

#include <stdint.h>

/* The Kafka message a record was derived from: the DLQ carries it, and
 * stateful operators use partition/offset to skip replays. */
typedef struct spate_origin {
        const char *topic;
        int32_t partition;
        int64_t offset;
        const void *payload;
        size_t len;
        const void *key;
        size_t key_len;
        /* Set when the record came through a repartition topic: the upstream
         * source partition/offset it was derived from. */
        int32_t up_partition;
        int64_t up_offset;
        /* With up_partition, from a node's own repartition topic: which of
         * the records derived from that offset it is (0, 1, ...: an explode
         * makes several), so that (up_offset, up_seq) orders them. */
        int32_t up_seq;
} spate_origin_t;

typedef struct spate_record {
        spate_value_t value;
        const char *key;  /* not NUL-terminated; NULL for no key */
        size_t key_len;
        int64_t ts;       /* event time, ms since the epoch */
        const spate_origin_t *origin;
} spate_record_t;

#endif
