/* engine.h - runs a loaded topology: one consumer in the application's group,
 * one producer, tasks per assigned partition, commits after acknowledged output. */
#ifndef SPATE_ENGINE_H
#define SPATE_ENGINE_H

#include "topology.h"

#include <stdint.h>

typedef struct spate_engine spate_engine_t;

typedef struct spate_engine_stats {
        uint64_t consumed, dlq, produced, commits;
        int64_t first_ms, last_ms;  /* monotonic time of the first and last record */
} spate_engine_stats_t;

/* Creates the clients from the topology's kafka: properties. The topology
 * stays owned by the caller and must outlive the engine. */
spate_engine_t *spate_engine_new(spate_topology_t *t, char *errstr, size_t errstr_size);
/* Processes until spate_engine_stop(); then commits, leaves the group and
 * returns 0, or -1 if output could not be delivered (nothing is committed
 * past it, so a restart replays). */
int spate_engine_run(spate_engine_t *e);
/* Async-signal-safe. */
void spate_engine_stop(spate_engine_t *e);
/* Makes run() return once no record arrived for idle_ms after at least one
 * did: batch jobs and benchmarks. */
void spate_engine_set_until_idle(spate_engine_t *e, int64_t idle_ms);
/* For the HTTP thread (cli/http_server.c), any thread: 1 once partitions are
 * assigned and their state restored, 0 before and during a rebalance. */
int spate_engine_ready(spate_engine_t *e);
/* Any thread: 1 from spate_engine_new() until run() stops processing. */
int spate_engine_live(spate_engine_t *e);
void spate_engine_get_stats(const spate_engine_t *e, spate_engine_stats_t *st);
void spate_engine_destroy(spate_engine_t *e);

#endif
