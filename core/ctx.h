/* ctx.h - the run-time context handed to operators: per-record arena, the
 * failure of the record in flight, the clock, and the engine's producer. */
#ifndef SPATE_CTX_H
#define SPATE_CTX_H

#include "arena.h"
#include "node.h"

#include <librdkafka/rdkafka.h>
#include <stdint.h>

struct spate_ctx {
        spate_arena_t arena;
        char errstr[1024];
        const spate_node_t *failed;   /* node that failed the record in flight */
        const spate_node_t *branch;   /* the fan-out branch it failed in (spate_emit()), or NULL */
        int64_t now_ms;               /* wall clock, set before punctuate */
        rd_kafka_t *producer;         /* NULL in unit tests */
        struct spate_engine *engine;  /* NULL in unit tests */
        const spate_origin_t *origin; /* the input message being processed */
        /* Counters for logs and tests. */
        uint64_t produced, produce_errors, dlq;
};

#endif
