/* repartition.h - the internal `repartition` node (repartition.c), for a node
 * type that keeps state by a key of its own, whatever partition its records
 * come in (dedupe with `repartition: true`). The type names it as its
 * upstream (node.h: .upstream = &spate_op_repartition, .splits), reads
 * records from its topic with an `input` callback that calls
 * spate_repartition_read(), and declares its stores at init, after its
 * upstream's init subscribed it to the topic: the stores' tasks are then the
 * topic's partitions (state/kv.h). */
#ifndef SPATE_REPARTITION_H
#define SPATE_REPARTITION_H

#include "../engine/node.h"

extern const spate_op_def_t spate_op_repartition;

/* The loader splits a node whose mapping says `repartition: true`. */
int spate_repartition_splits(const spate_yaml_t *conf);

/* A mark: source partitions at their end with no record written since
 * their writer was assigned them, or (idle) for the idle time. parts is
 * valid until the next read. */
typedef struct spate_rp_mark {
        const int32_t *parts;
        int n;
        int idle;
} spate_rp_mark_t;

/* n's upstream also marks a source partition idle once it is at its end
 * with no record for idle_ms of wall clock (0: never). Call from n's init. */
void spate_repartition_idle(spate_node_t *n, int64_t idle_ms);

/* A message of n's repartition topic (in, as the engine hands it to n's
 * input callback): a mark (1, in *mark), or a record (0), given back as the
 * one n's upstream was given: value decoded into
 * n->in, the record's key and time. in->origin then points to a copy
 * (valid until the next call) that names the topic's partition and offset
 * (what n's stores filter replays by), holds the record's JSON as the
 * payload (what a dead letter holds) and, in up_partition and up_offset,
 * the source partition and offset it came from. -1 after spate_ctx_fail(). */
int spate_repartition_read(spate_node_t *n, spate_record_t *in, spate_ctx_t *ctx, spate_rp_mark_t *mark);

#endif
