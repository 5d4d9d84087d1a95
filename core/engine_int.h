/* engine_int.h - engine internals shared with restore.c only. */
#ifndef SPATE_ENGINE_INT_H
#define SPATE_ENGINE_INT_H

#include "engine.h"
#include "store.h"

#include <librdkafka/rdkafka.h>

spate_store_t **spate_engine_store_slot(spate_engine_t *e);
rd_kafka_t **spate_engine_restorer_slot(spate_engine_t *e);
const spate_topology_t *spate_engine_topology(const spate_engine_t *e);

#endif
