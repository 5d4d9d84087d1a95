/* engine_int.h - engine internals shared with restore.c only. */
#ifndef SPATE_ENGINE_INT_H
#define SPATE_ENGINE_INT_H

#include "engine.h"
#include "store.h"

#include <librdkafka/rdkafka.h>

spate_store_t **spate_engine_store_slot(spate_engine_t *e);
rd_kafka_t **spate_engine_restorer_slot(spate_engine_t *e);
const spate_topology_t *spate_engine_topology(const spate_engine_t *e);
/* spate_ctx_store() and spate_ctx_replay() under the engine (restore.c). */
struct spate_store *spate_engine_store(spate_ctx_t *ctx);
int64_t spate_engine_replay(spate_ctx_t *ctx, const char *topic, int32_t partition, int64_t from,
                            spate_replay_cb cb, void *opaque);

#endif
