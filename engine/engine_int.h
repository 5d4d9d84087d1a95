/* engine_int.h - engine internals shared with restore.c only. */
#ifndef SPATE_ENGINE_INT_H
#define SPATE_ENGINE_INT_H

#include "engine.h"
#include "../state/store.h"

#include <librdkafka/rdkafka.h>

spate_store_t **spate_engine_store_slot(spate_engine_t *e);
rd_kafka_t **spate_engine_restorer_slot(spate_engine_t *e);
const spate_topology_t *spate_engine_topology(const spate_engine_t *e);
/* spate_ctx_store() and spate_ctx_replay() under the engine (restore.c). */
struct spate_store *spate_engine_store(spate_ctx_t *ctx);
int64_t spate_engine_replay(spate_ctx_t *ctx, const char *topic, int32_t partition, int64_t from,
                            spate_replay_cb cb, void *opaque);
/* spate_ctx_check_resume() under the engine: the partition's end from the broker. */
int spate_engine_check_resume(spate_ctx_t *ctx, const spate_node_t *n, const char *topic,
                               int32_t partition, int64_t offset);

/* How long transient broker errors (a restart, a leader election) are retried. */
#define SPATE_TRANSIENT_MS 60000

/* A partition's low and high watermarks from the broker, transient errors
 * retried with backoff for up to SPATE_TRANSIENT_MS, or until ctx's engine is
 * asked to stop (a dead broker must not hold SIGTERM for a minute). 0, or -1
 * with errstr. */
int spate_watermarks(spate_ctx_t *ctx, rd_kafka_t *rk, const char *topic, int32_t partition, int64_t *lo,
                     int64_t *hi, char *errstr, size_t errstr_size);

#endif
