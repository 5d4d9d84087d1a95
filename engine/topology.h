/* topology.h - a loaded topology file: settings, the node graph with its
 * record shapes, and every topic it reads, writes or keeps internally. */
#ifndef SPATE_TOPOLOGY_H
#define SPATE_TOPOLOGY_H

#include "node.h"
#include "shape.h"
#include "../util/yaml.h"

#include <stdio.h>

typedef enum { SPATE_TOPIC_SOURCE, SPATE_TOPIC_SINK, SPATE_TOPIC_INTERNAL } spate_topic_role_t;

typedef struct spate_topic_decl {
        char *name;
        int partitions;
        int compacted;
        spate_topic_role_t role;
        const spate_node_t *node;  /* which node declared it */
} spate_topic_decl_t;

struct spate_topology {
        char *file;
        spate_yaml_t *root;
        const char *application;
        const spate_yaml_t *kafka;     /* librdkafka properties, passed through */
        spate_node_t **nodes;
        int nnodes;
        spate_shape_pool_t shapes;
        spate_topic_decl_t *topics;
        int ntopics;
        struct spate_input { char *topic; spate_node_t *node; } *inputs;
        int ninputs;
        char *dlq_topic;
        /* settings: */
        int64_t commit_interval_ms;
        int64_t max_future_ms;            /* settings.max_future; 0: none */
        int64_t shutdown_timeout_ms;      /* settings.shutdown_timeout (cli/cmd_run.c) */
        const char *state_dir;
        int64_t state_memory_mb;
        int state_nodes;               /* nodes that keep state (spate_topology_add_state_node) */
        int exactly_once;              /* processing.guarantee: exactly_once */
        int num_standby_replicas;      /* top level; N >= 1: each task's copies on N instances */
        const char *schemas_dir;
        const char *schema_registry;   /* URL or NULL */
};

/* Loads, validates and compiles `path`. Returns NULL with "FILE:LINE:COL:
 * what is wrong and how to fix it" in errstr. Free with spate_topology_destroy. */
spate_topology_t *spate_topology_load(const char *path, char *errstr, size_t errstr_size);
void spate_topology_destroy(spate_topology_t *t);

/* Called by node init: records a topic to create. A repeated name keeps the
 * larger partition count. */
void spate_topology_declare_topic(spate_topology_t *t, const spate_node_t *n,
                                  const char *name, int partitions, int compacted,
                                  spate_topic_role_t role);
/* Subscribes the engine to an internal topic whose records go to n's input
 * callback (declare the topic too). */
void spate_topology_add_input(spate_topology_t *t, spate_node_t *n, const char *topic);
/* The internal topic n reads (spate_topology_add_input()), owned by t, or
 * NULL: its records come from its `from:`. */
const char *spate_topology_input_of(const spate_topology_t *t, const spate_node_t *n);
/* state_memory_mb is the instance's whole budget for state: RocksDB's block
 * cache and write buffers take a quarter (spate_topology_store_mb), the
 * in-memory caches of the nodes that keep state the rest, in equal shares
 * (spate_topology_cache_bytes). A node that keeps state declares itself at
 * init; the shares are read at run time, once every node has. */
void spate_topology_add_state_node(spate_topology_t *t);
size_t spate_topology_store_mb(const spate_topology_t *t);
size_t spate_topology_cache_bytes(const spate_topology_t *t);
const spate_topic_decl_t *spate_topology_topic(const spate_topology_t *t, const char *name);
/* The node called name (owned by t), or NULL. */
spate_node_t *spate_topology_node(const spate_topology_t *t, const char *name);
/* Human-readable graph: nodes, their edges and the topics. */
void spate_topology_print(const spate_topology_t *t, FILE *fp);

#endif
