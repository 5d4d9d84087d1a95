/* engine.h - runs a loaded topology: one consumer in the application's group,
 * one producer, tasks per assigned partition, commits after acknowledged output. */
#ifndef SPATE_ENGINE_H
#define SPATE_ENGINE_H

#include "topology.h"

#include <stdint.h>

typedef struct spate_engine spate_engine_t;

typedef struct spate_engine_stats {
        uint64_t consumed;          /* records read, tables included */
        uint64_t table;             /* of which from tables (read whole, never committed) */
        uint64_t out;               /* records delivered to sink topics */
        uint64_t internal;          /* ... to changelog and repartition topics */
        uint64_t dlq;               /* records sent to the dead-letter topic (not in out) */
        uint64_t commits;           /* offset commits (tables have none) */
        int64_t first_ms, last_ms;  /* monotonic time of the first and last record */
        int64_t first_cpu_ns, last_cpu_ns;  /* the processing thread's CPU time at both */
        int64_t start_ms;           /* monotonic time run() started */
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
/* With until_idle: once idle, end of input is the end of the stream (as
 * Flink's bounded input): nodes see ctx.end_of_input (windows close and
 * emit), and run() returns when every node is drained and committed. */
void spate_engine_set_end_of_input(spate_engine_t *e, int on);
/* For the HTTP thread (cli/http_server.c), any thread: 1 once partitions are
 * assigned and their state restored, 0 before and during a rebalance. */
int spate_engine_ready(spate_engine_t *e);
/* For interactive queries (engine/iq.h), any thread once spate_engine_ready()
 * said 1: the state store (NULL: the topology keeps no state in one). Valid
 * until spate_engine_destroy(). */
struct spate_store *spate_engine_state_store(spate_engine_t *e);
/* Any thread: 1 from spate_engine_new() until run() stops processing. */
int spate_engine_live(spate_engine_t *e);
void spate_engine_get_stats(const spate_engine_t *e, spate_engine_stats_t *st);
void spate_engine_destroy(spate_engine_t *e);

#endif
