/* ctx.h - the run-time context handed to operators: per-record arena, the
 * failure of the record in flight, the clock, and the table of engine-side
 * calls behind the spate_ctx_* functions of node.h (the engine's, or the
 * test driver's in-memory ones: tests/driver/driver.h). */
#ifndef SPATE_CTX_H
#define SPATE_CTX_H

#include "../util/arena.h"
#include "node.h"

#include <librdkafka/rdkafka.h>
#include <stdint.h>

/* What the spate_ctx_* functions of node.h do, each documented there: the
 * engine fills one table (Kafka, RocksDB), the test driver another (topics
 * in memory, a fake clock). One indirect call per produced message. */
typedef struct spate_ctx_ops {
        int (*produce)(spate_ctx_t *ctx, const char *topic, int32_t partition, const void *key,
                       size_t key_len, const void *value, size_t len, int64_t ts, int64_t *acked);
        void (*dead_letter)(spate_ctx_t *ctx, const spate_origin_t *o);
        /* The value a node keeps with a source partition: its time or cut. */
        int64_t (*partition_val)(spate_ctx_t *ctx, const spate_node_t *n, const char *topic,
                                 int32_t partition, int cut);
        void (*set_partition_val)(spate_ctx_t *ctx, const spate_node_t *n, const char *topic,
                                  int32_t partition, int cut, int64_t v);
        int (*commit_cuts)(spate_ctx_t *ctx);
        void (*hold_offsets)(spate_ctx_t *ctx, const char *topic);
        void (*request_commit)(spate_ctx_t *ctx);
        int (*caught_up)(spate_ctx_t *ctx, const char *topic, int32_t partition);
        int64_t (*replay)(spate_ctx_t *ctx, const char *topic, int32_t partition, int64_t from,
                          spate_replay_cb cb, void *opaque);
        struct spate_store *(*store)(spate_ctx_t *ctx);
        int (*check_resume)(spate_ctx_t *ctx, const spate_node_t *n, const char *topic, int32_t partition,
                            int64_t offset);
        int (*stopping)(spate_ctx_t *ctx);
        int (*wait_acks)(spate_ctx_t *ctx);
        int (*partitions)(spate_ctx_t *ctx, const char *topic);
} spate_ctx_ops_t;

struct spate_ctx {
        spate_arena_t arena;
        char errstr[1024];
        const spate_node_t *failed;   /* node that failed the record in flight */
        const spate_node_t *branch;   /* the fan-out branch it failed in (spate_emit()), or NULL */
        int64_t now_ms;               /* wall clock, set before punctuate (the test
                                         driver's clock: moves only when told) */
        int64_t wall_floor_ms;        /* the wall clock read before the batch in flight
                                         (0 under the test driver): what
                                         spate_ctx_check_future() tries before a clock read */
        const spate_ctx_ops_t *ops;   /* set by whoever runs the nodes */
        rd_kafka_t *producer;         /* the engine's; NULL under the test driver */
        struct spate_engine *engine;  /* NULL under the test driver */
        struct spate_driver *driver;  /* NULL under the engine */
        const spate_origin_t *origin; /* the input message being processed */
        int end_of_input;             /* spate run --end-of-input, once every source is
                                         idle: the end of the stream (windows close) */
        int closing;                  /* the run's last commit: nothing may be held back */
        /* Counters for logs and tests. */
        uint64_t produced, produce_errors, dlq;
};

#endif
