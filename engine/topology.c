/* topology.c - loads a topology file: checks every key against the node
 * types' property tables, wires `from:` edges, then initialises nodes from
 * the sources down so each compiles its expressions against its input shape. */
#include "topology.h"
#include "../util/mem.h"
#include "kafka_conf.h"
#include "node_state.h"
#include "../util/log.h"
#include "../util/util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const top_keys[] = { "application", "kafka", "settings", "nodes", "num_standby_replicas" };
static const char *const setting_keys[] = {
        "commit_interval", "state_dir", "state_memory_mb", "processing_guarantee",
        "dlq_topic", "schemas_dir", "schema_registry", "max_future", "shutdown_timeout"
};
static const char *const common_keys[] = { "name", "type", "from" };

static int yerr(const spate_yaml_t *y, char *errstr, size_t size, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static int yerr(const spate_yaml_t *y, char *errstr, size_t size, const char *fmt, ...) {
        va_list ap;
        int off = snprintf(errstr, size, "%s:%d:%d: ", y->file, y->line, y->col);
        va_start(ap, fmt);
        if (off >= 0 && (size_t)off < size)
                vsnprintf(errstr + off, size - (size_t)off, fmt, ap);
        va_end(ap);
        return -1;
}

static int unknown_key(const spate_yaml_t *key, const char *what, const char *const *known,
                       int nknown, char *errstr, size_t size) {
        char list[512] = "";
        size_t off = 0;
        const char *s = spate_suggest(key->value, known, nknown);
        for (int i = 0; i < nknown && off < sizeof(list); i++)
                off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", known[i]);
        if (s)
                return yerr(key, errstr, size, "unknown key '%s' in %s: did you mean '%s'? (known: %s)",
                            key->value, what, s, list);
        return yerr(key, errstr, size, "unknown key '%s' in %s (known: %s)", key->value, what, list);
}

static int check_keys(const spate_yaml_t *map, const char *what, const char *const *known,
                      int nknown, char *errstr, size_t size) {
        for (int i = 0; i < map->n; i++) {
                int ok = 0;
                for (int k = 0; k < nknown && !ok; k++)
                        ok = !strcmp(map->keys[i]->value, known[k]);
                if (!ok)
                        return unknown_key(map->keys[i], what, known, nknown, errstr, size);
        }
        return 0;
}

static int check_scalar(const spate_node_t *n, const spate_prop_t *p, const spate_yaml_t *v,
                        char *errstr, size_t size) {
        int64_t ms;
        char *end;
        switch (p->type) {
        case SPATE_P_INT:
        case SPATE_P_COUNT: {
                /* Decimal digits only, and within int: node code reads it as an int. */
                long long x = strtoll(v->value, &end, 10);
                int min = p->type == SPATE_P_COUNT;
                if (!*v->value || *end || !strchr("-0123456789", *v->value))
                        return spate_node_error(n, v, errstr, size, "'%s' must be a whole number, not '%s'",
                                                p->name, v->value);
                if (x < min || x > INT32_MAX)
                        return spate_node_error(n, v, errstr, size, "'%s' must be from %d to %d, not '%s'",
                                                p->name, min, INT32_MAX, v->value);
                return 0;
        }
        case SPATE_P_BOOL:
                if (strcmp(v->value, "true") && strcmp(v->value, "false"))
                        return spate_node_error(n, v, errstr, size, "'%s' must be true or false, not '%s'",
                                                p->name, v->value);
                return 0;
        case SPATE_P_DURATION:
                if (spate_parse_duration(v->value, &ms)) {
                        char why[256];
                        return spate_node_error(n, v, errstr, size, "'%s': %s", p->name,
                                                spate_duration_why(v->value, why, sizeof(why)));
                }
                return 0;
        case SPATE_P_ENUM:
                if (spate_prop_choice(p, v->value) >= 0)
                        return 0;
                return spate_node_error(n, v, errstr, size, "'%s' must be one of %s, not '%s'",
                                        p->name, p->choices, v->value);
        default:
                return 0;
        }
}

static int check_props(const spate_node_t *n, char *errstr, size_t size) {
        const spate_op_def_t *def = n->def;
        const char *known[64];
        int nknown = 0;
        for (int i = 0; i < 3; i++)
                known[nknown++] = common_keys[i];
        for (const spate_prop_t *p = def->props; p && p->name && nknown < 64; p++) {
                for (int i = 0; i < 3; i++)
                        if (!strcmp(p->name, common_keys[i]))
                                return spate_node_error(n, NULL, errstr, size,
                                                        "internal: node type reuses the common key '%s'", p->name);
                known[nknown++] = p->name;
        }
        char what[128];
        snprintf(what, sizeof(what), "a %s node", def->name);
        if (check_keys(n->conf, what, known, nknown, errstr, size))
                return -1;
        for (const spate_prop_t *p = def->props; p && p->name; p++) {
                const spate_yaml_t *v = spate_yaml_get(n->conf, p->name);
                if (!v) {
                        if (p->required)
                                return spate_node_error(n, NULL, errstr, size, "missing '%s:' (%s)",
                                                        p->name, p->doc);
                        continue;
                }
                int want_map = p->type == SPATE_P_MAP, want_list = p->type == SPATE_P_LIST;
                if (want_map && v->kind != SPATE_YAML_MAP)
                        return spate_node_error(n, v, errstr, size, "'%s' must be a mapping (name: value lines)",
                                                p->name);
                if (want_list && v->kind != SPATE_YAML_SEQ)
                        return spate_node_error(n, v, errstr, size, "'%s' must be a list ([a, b] or - lines)",
                                                p->name);
                if (!want_map && !want_list && v->kind != SPATE_YAML_SCALAR)
                        return spate_node_error(n, v, errstr, size, "'%s' must be a single value", p->name);
                if (!want_map && !want_list && check_scalar(n, p, v, errstr, size))
                        return -1;
        }
        return 0;
}

static const char *scalar(const spate_yaml_t *map, const char *key) {
        const spate_yaml_t *v = spate_yaml_get(map, key);
        return v && v->kind == SPATE_YAML_SCALAR ? v->value : NULL;
}

static int parse_mb(const char *v, int64_t *mb) {
        char *end;
        long long x = strtoll(v, &end, 10);
        if (!*v || *end || *v < '0' || *v > '9' || x < 1 || x > 1048576)
                return -1;
        *mb = x;
        return 0;
}

/* How far ahead of the wall clock an event time may be: one record dated
 * 9999 would otherwise move stream time there and make every later record
 * of its partition late. 0 turns the check off. */
#define MAX_FUTURE_DEFAULT_MS (365LL * 86400000)

/* How long a stop request (SIGTERM) may take before the process exits as
 * after a crash (cli/cmd_run.c): the final commit waits SHUTDOWN_ACK_MS at
 * most for the broker, and librdkafka's consumer close can block for good. */
#define SHUTDOWN_TIMEOUT_DEFAULT_MS 60000

/* settings.max_future and settings.shutdown_timeout: durations, 0 allowed. */
static int load_durations(spate_topology_t *t, const spate_yaml_t *s, char *errstr, size_t size) {
        const char *v = scalar(s, "max_future");
        if (v && spate_parse_duration(v, &t->max_future_ms))
                return yerr(spate_yaml_get(s, "max_future"), errstr, size,
                            "max_future must be a duration like 1h or 7d (0: no limit)");
        if ((v = scalar(s, "shutdown_timeout")) && (spate_parse_duration(v, &t->shutdown_timeout_ms) ||
                                                    t->shutdown_timeout_ms < 1000))
                return yerr(spate_yaml_get(s, "shutdown_timeout"), errstr, size,
                            "shutdown_timeout must be a duration of at least 1s, like 60s or 2m, not '%s'", v);
        return 0;
}

static int load_settings(spate_topology_t *t, char *errstr, size_t size) {
        const spate_yaml_t *s = spate_yaml_get(t->root, "settings");
        const char *v;
        char buf[256];
        t->commit_interval_ms = 1000;
        t->state_dir = "state";
        t->state_memory_mb = 256;
        t->schemas_dir = "schemas";
        t->max_future_ms = MAX_FUTURE_DEFAULT_MS;
        t->shutdown_timeout_ms = SHUTDOWN_TIMEOUT_DEFAULT_MS;
        if (!s)
                goto dlq;
        if (s->kind != SPATE_YAML_MAP)
                return yerr(s, errstr, size, "'settings' must be a mapping");
        if (check_keys(s, "settings", setting_keys, 9, errstr, size) || load_durations(t, s, errstr, size))
                return -1;
        if ((v = scalar(s, "commit_interval")) && spate_parse_duration(v, &t->commit_interval_ms)) {
                char why[256];
                return yerr(spate_yaml_get(s, "commit_interval"), errstr, size, "commit_interval: %s",
                            spate_duration_why(v, why, sizeof(why)));
        }
        if (v && t->commit_interval_ms < 1)
                return yerr(spate_yaml_get(s, "commit_interval"), errstr, size,
                            "commit_interval must be at least 1ms, like 1s or 500ms, not '%s'", v);
        if ((v = scalar(s, "state_dir")))
                t->state_dir = v;
        if ((v = scalar(s, "state_memory_mb")) && parse_mb(v, &t->state_memory_mb))
                return yerr(spate_yaml_get(s, "state_memory_mb"), errstr, size,
                            "state_memory_mb must be a whole number of MB from 1 to 1048576, not '%s'", v);
        if ((v = scalar(s, "schemas_dir")))
                t->schemas_dir = v;
        if ((v = scalar(s, "schema_registry")) && *v)
                t->schema_registry = v;
        if ((v = scalar(s, "processing_guarantee"))) {
                if (strcmp(v, "at_least_once") && strcmp(v, "exactly_once"))
                        return yerr(spate_yaml_get(s, "processing_guarantee"), errstr, size,
                                    "processing_guarantee must be at_least_once or exactly_once");
                t->exactly_once = !strcmp(v, "exactly_once");
        }
        if ((v = scalar(s, "dlq_topic"))) {
                t->dlq_topic = strdup(v);
                return 0;
        }
dlq:
        snprintf(buf, sizeof(buf), "%s-dlq", t->application);
        t->dlq_topic = strdup(buf);
        return 0;
}

/* num_standby_replicas (top level): 0 (the default) or more; with N >= 1
 * N other instances keep warm copies of each task's stores
 * (docs/stores.md#standbys). */
static int load_standbys(spate_topology_t *t, char *errstr, size_t size) {
        const spate_yaml_t *y = spate_yaml_get(t->root, "num_standby_replicas");
        char *end;
        long long x;
        if (!y)
                return 0;
        x = y->kind == SPATE_YAML_SCALAR ? strtoll(y->value, &end, 10) : -1;
        if (x < 0 || x > 100 || y->kind != SPATE_YAML_SCALAR || !*y->value || *end || *y->value == '-')
                return yerr(y, errstr, size, "num_standby_replicas must be a whole number from 0 to 100 "
                            "(0: no standbys; 1 or more: each instance keeps warm copies of the stores "
                            "of the tasks it does not own)");
        t->num_standby_replicas = (int)x;
        return 0;
}

spate_node_t *spate_topology_node(const spate_topology_t *t, const char *name) {
        for (int i = 0; i < t->nnodes; i++)
                if (!strcmp(t->nodes[i]->name, name))
                        return t->nodes[i];
        return NULL;
}

static spate_node_t *add_node(spate_topology_t *t, const spate_op_def_t *def, const char *name,
                              const spate_yaml_t *y) {
        spate_node_t *n = spate_xcalloc(1, sizeof(*n));
        n->ctx = spate_xcalloc(1, def->ctx_size);
        n->def = def;
        n->name = name;
        n->conf = y;
        n->topo = t;
        n->index = t->nnodes;
        t->nodes = spate_xrealloc(t->nodes, sizeof(*t->nodes) * (size_t)(t->nnodes + 1));
        t->nodes[t->nnodes++] = n;
        return n;
}

/* Puts n's internal upstream node (node.h: def->upstream) just before it:
 * earlier in the nodes, so it flushes first at a commit (the repartition
 * messages go before the offsets of its source records are committed). */
static int split_node(spate_topology_t *t, spate_node_t *n, char *errstr, size_t size) {
        const spate_op_def_t *def = n->def->upstream;
        char name[512];
        snprintf(name, sizeof(name), "%s-%s", n->name, def->internal);
        if (spate_topology_node(t, name))
                return yerr(spate_yaml_get(n->conf, "name"), errstr, size, "node name '%s' is taken by "
                            "another node: node '%s' needs it for its %s (rename one of them)", name,
                            n->name, def->name);
        spate_node_t *up = add_node(t, def, spate_xstrdup(name), n->conf);
        up->split_of = n;
        t->nodes[n->index] = up;
        t->nodes[up->index] = n;
        up->index = n->index++;
        return 0;
}

static int create_node(spate_topology_t *t, const spate_yaml_t *y, char *errstr, size_t size) {
        const char *name = scalar(y, "name"), *type = scalar(y, "type");
        const spate_op_def_t *def;
        if (y->kind != SPATE_YAML_MAP)
                return yerr(y, errstr, size, "each node is a mapping with name:, type: and from:");
        if (!name || !type)
                return yerr(y, errstr, size, "a node needs 'name:' and 'type:'");
        if (spate_topology_node(t, name))
                return yerr(spate_yaml_get(y, "name"), errstr, size, "node name '%s' is used twice", name);
        for (const spate_op_def_t *const *d = spate_op_all(); *d; d++)
                if ((*d)->upstream && !strcmp((*d)->upstream->name, type))
                        return yerr(spate_yaml_get(y, "type"), errstr, size, "node type '%s' is internal: "
                                    "the loader puts one before a %s node that needs it (write only the %s)",
                                    type, (*d)->name, (*d)->name);
        if (!(def = spate_op_find(type))) {
                const char *names[64];
                char list[1024] = "";
                size_t off = 0;
                int n = 0;
                for (const spate_op_def_t *const *d = spate_op_all(); *d && n < 64; d++, n++) {
                        names[n] = (*d)->name;
                        off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", n ? ", " : "", names[n]);
                }
                const char *s = spate_suggest(type, names, n);
                return yerr(spate_yaml_get(y, "type"), errstr, size, "unknown node type '%s'%s%s%s (known: %s)",
                            type, s ? ": did you mean '" : "", s ? s : "", s ? "'?" : "", list);
        }
        spate_node_t *n = add_node(t, def, name, y);
        if (check_props(n, errstr, size))
                return -1;
        return def->upstream && def->splits(y) ? split_node(t, n, errstr, size) : 0;
}

static int wire(spate_topology_t *t, spate_node_t *n, char *errstr, size_t size) {
        const spate_yaml_t *from = spate_yaml_get(n->conf, "from");
        int is_source = n->def->role == SPATE_ROLE_SOURCE;
        if (is_source && from)
                return spate_node_error(n, from, errstr, size, "a source reads a topic and takes no 'from:'");
        if (is_source)
                return 0;
        if (!from || from->kind != SPATE_YAML_SCALAR)
                return spate_node_error(n, NULL, errstr, size, "missing 'from:' (the name of the node it reads)");
        spate_node_t *up = spate_topology_node(t, from->value);
        if (n->def->upstream && n->index > 0 && t->nodes[n->index - 1]->split_of == n)
                up = t->nodes[n->index - 1];  /* the loader's split (split_node) */
        else if (up && up->split_of)
                return spate_node_error(n, from, errstr, size, "'%s' is internal (the loader put it before "
                                        "%s '%s'): read from '%s'", up->name, up->split_of->def->name,
                                        up->split_of->name, up->split_of->name);
        if (!up) {
                const char *names[256];
                int k = 0;
                for (int i = 0; i < t->nnodes && k < 256; i++)
                        names[k++] = t->nodes[i]->name;
                const char *s = spate_suggest(from->value, names, k);
                return spate_node_error(n, from, errstr, size, "'from: %s' names no node%s%s%s", from->value,
                                        s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "");
        }
        if (up->def->role == SPATE_ROLE_SINK)
                return spate_node_error(n, from, errstr, size, "'%s' is a sink: nothing flows out of it", up->name);
        if (up == n)
                return spate_node_error(n, from, errstr, size, "a node cannot read from itself");
        n->from = up;
        up->next = spate_xrealloc(up->next, sizeof(*up->next) * (size_t)(up->nnext + 1));
        up->next[up->nnext++] = n;
        return 0;
}

/* Initialises n, then everything downstream: an input shape exists before
 * the node that reads it compiles. */
static int init_tree(spate_topology_t *t, spate_node_t *n, int *done, char *errstr, size_t size) {
        n->in = n->from ? n->from->out : NULL;
        if (spate_node_bind(n, errstr, size) || n->def->init(n, errstr, size))
                return -1;
        done[n->index] = 1;
        for (int i = 0; i < n->nnext; i++)
                if (init_tree(t, n->next[i], done, errstr, size))
                        return -1;
        return 0;
}

/* n's `from:` chain reaches no source. Every non-source node has a `from:`,
 * so the chain runs into a cycle: name it, node by node. */
static int unreachable(spate_topology_t *t, spate_node_t *n, char *errstr, size_t size) {
        char path[512];
        size_t off = 0;
        spate_node_t *m = n;
        for (int i = 0; i < t->nnodes && m->from; i++)
                m = m->from; /* now on the cycle */
        spate_node_t *p = m;
        do {
                if (off < sizeof(path))
                        off += (size_t)snprintf(path + off, sizeof(path) - off, "%s <- ", p->name);
                p = p->from;
        } while (p && p != m);
        if (!p)
                return spate_node_error(n, NULL, errstr, size,
                                        "is not reachable from any source (check its 'from:' chain)");
        return spate_node_error(m, spate_yaml_get(m->conf, "from"), errstr, size,
                                "its 'from:' chain is a cycle: %s%s (hint: the first node of a chain "
                                "reads a source)", path, m->name);
}

static int load_nodes(spate_topology_t *t, char *errstr, size_t size) {
        const spate_yaml_t *nodes = spate_yaml_get(t->root, "nodes");
        int rc = 0, *done;
        if (!nodes || nodes->kind != SPATE_YAML_SEQ || !nodes->n)
                return yerr(nodes ? nodes : t->root, errstr, size,
                            "'nodes:' must be a list of nodes (- name: ..., type: ..., from: ...)");
        for (int i = 0; i < nodes->n; i++)
                if (create_node(t, nodes->items[i], errstr, size))
                        return -1;
        for (int i = 0; i < t->nnodes; i++)
                if (wire(t, t->nodes[i], errstr, size))
                        return -1;
        done = calloc((size_t)t->nnodes, sizeof(*done));
        /* Sources nothing reads with from: (tables) first: the nodes that
         * look them up by name (join) find their columns declared. */
        for (int pass = 0; pass < 2; pass++)
                for (int i = 0; i < t->nnodes && !rc; i++)
                        if (t->nodes[i]->def->role == SPATE_ROLE_SOURCE && (t->nodes[i]->nnext > 0) == pass)
                                rc = init_tree(t, t->nodes[i], done, errstr, size);
        for (int i = 0; i < t->nnodes && !rc; i++)
                if (!done[i])
                        rc = unreachable(t, t->nodes[i], errstr, size);
        free(done);
        return rc;
}

/* Builds the consumer's and the producer's conf once, so a property
 * librdkafka rejects fails at load with its line, not only at `run`. */
static int check_kafka(const spate_topology_t *t, char *errstr, size_t size) {
        for (int kind = SPATE_CLIENT_CONSUMER; kind <= SPATE_CLIENT_PRODUCER; kind++) {
                rd_kafka_conf_t *c = spate_kafka_conf(t, (spate_client_t)kind, errstr, size);
                if (!c)
                        return -1;
                rd_kafka_conf_destroy(c);
        }
        return 0;
}

spate_topology_t *spate_topology_load(const char *path, char *errstr, size_t errstr_size) {
        spate_topology_t *t = calloc(1, sizeof(*t));
        if (!t)
                return NULL;
        t->file = strdup(path);
        if (!(t->root = spate_yaml_load(path, errstr, errstr_size)))
                goto err;
        if (check_keys(t->root, "the topology", top_keys, 5, errstr, errstr_size))
                goto err;
        if (!(t->application = scalar(t->root, "application")) || !*t->application) {
                yerr(t->root, errstr, errstr_size,
                     "missing 'application:' (it names the consumer group and prefixes internal topics)");
                goto err;
        }
        t->kafka = spate_yaml_get(t->root, "kafka");
        if (t->kafka && t->kafka->kind != SPATE_YAML_MAP) {
                yerr(t->kafka, errstr, errstr_size, "'kafka:' must be a mapping of librdkafka properties");
                goto err;
        }
        if (check_kafka(t, errstr, errstr_size) || load_settings(t, errstr, errstr_size) ||
            load_standbys(t, errstr, errstr_size) || load_nodes(t, errstr, errstr_size))
                goto err;
        spate_topology_declare_topic(t, NULL, t->dlq_topic, 1, 0, SPATE_TOPIC_INTERNAL);
        return t;
err:
        spate_topology_destroy(t);
        return NULL;
}

void spate_topology_destroy(spate_topology_t *t) {
        if (!t)
                return;
        for (int i = 0; i < t->nnodes; i++) {
                spate_node_t *n = t->nodes[i];
                spate_node_state_free(n);
                if (n->def->destroy)
                        n->def->destroy(n);
                if (n->split_of)
                        free((char *)n->name);
                free(n->ctx);
                free(n->next);
                free(n);
        }
        for (int i = 0; i < t->ntopics; i++)
                free(t->topics[i].name);
        free(t->topics);
        for (int i = 0; i < t->ninputs; i++)
                free(t->inputs[i].topic);
        free(t->inputs);
        free(t->nodes);
        spate_shape_pool_destroy(&t->shapes);
        spate_yaml_free(t->root);
        free(t->dlq_topic);
        free(t->file);
        free(t);
}

void spate_topology_declare_topic(spate_topology_t *t, const spate_node_t *n,
                                  const char *name, int partitions, int compacted,
                                  spate_topic_role_t role) {
        for (int i = 0; i < t->ntopics; i++) {
                if (strcmp(t->topics[i].name, name))
                        continue;
                if (partitions > t->topics[i].partitions)
                        t->topics[i].partitions = partitions;
                t->topics[i].compacted |= compacted;
                return;
        }
        t->topics = spate_xrealloc(t->topics, sizeof(*t->topics) * (size_t)(t->ntopics + 1));
        t->topics[t->ntopics++] = (spate_topic_decl_t){ strdup(name), partitions, compacted, role, n };
}

void spate_topology_add_input(spate_topology_t *t, spate_node_t *n, const char *topic) {
        t->inputs = spate_xrealloc(t->inputs, sizeof(*t->inputs) * (size_t)(t->ninputs + 1));
        t->inputs[t->ninputs].topic = strdup(topic);
        t->inputs[t->ninputs++].node = n;
}

const char *spate_topology_input_of(const spate_topology_t *t, const spate_node_t *n) {
        for (int i = 0; i < t->ninputs; i++)
                if (t->inputs[i].node == n)
                        return t->inputs[i].topic;
        return NULL;
}

void spate_topology_add_state_node(spate_topology_t *t) {
        t->state_nodes++;
}

size_t spate_topology_store_mb(const spate_topology_t *t) {
        return (size_t)t->state_memory_mb / 4;
}

size_t spate_topology_cache_bytes(const spate_topology_t *t) {
        size_t mb = (size_t)t->state_memory_mb - spate_topology_store_mb(t);
        return (mb << 20) / (size_t)(t->state_nodes > 0 ? t->state_nodes : 1);
}

const spate_topic_decl_t *spate_topology_topic(const spate_topology_t *t, const char *name) {
        for (int i = 0; i < t->ntopics; i++)
                if (!strcmp(t->topics[i].name, name))
                        return &t->topics[i];
        return NULL;
}

static void print_fields(const spate_shape_t *s, FILE *fp) {
        if (!s)
                return;
        fprintf(fp, "  fields: ");
        for (int i = 0; i < s->nfields; i++)
                fprintf(fp, "%s%s", i ? ", " : "", s->fields[i].name);
        fprintf(fp, "%s\n", s->open ? (s->nfields ? " (decoded from input; others pass through)"
                                                  : "(input passes through)") : "");
}

/* Columns as wide as their longest entry (at least min), so that a long name
 * (an internal `<window>-repartition` node, its type) keeps them aligned. */
static int name_width(const spate_topology_t *t, int type, int min) {
        int w = min;
        for (int i = 0; i < t->nnodes; i++) {
                int len = (int)strlen(type ? t->nodes[i]->def->name : t->nodes[i]->name);
                if (len > w)
                        w = len;
        }
        return w;
}

static int topic_width(const spate_topology_t *t, int min) {
        int w = min;
        for (int i = 0; i < t->ntopics; i++)
                if ((int)strlen(t->topics[i].name) > w)
                        w = (int)strlen(t->topics[i].name);
        return w;
}

void spate_topology_print(const spate_topology_t *t, FILE *fp) {
        static const char *roles[] = { "reads", "writes", "internal" };
        int nw = name_width(t, 0, 20), tw = name_width(t, 1, 14), pw = topic_width(t, 36);
        fprintf(fp, "application: %s  (consumer group '%s')\n", t->application, t->application);
        fprintf(fp, "nodes:\n");
        for (int i = 0; i < t->nnodes; i++) {
                const spate_node_t *n = t->nodes[i];
                fprintf(fp, "  %-*s %-*s", nw, n->name, tw, n->def->name);
                if (n->from)
                        fprintf(fp, " <- %s", n->from->name);
                if (n->nnext) {
                        fprintf(fp, " -> ");
                        for (int k = 0; k < n->nnext; k++)
                                fprintf(fp, "%s%s", k ? ", " : "", n->next[k]->name);
                }
                fprintf(fp, "\n");
                if (n->out)
                        print_fields(n->out, fp);
        }
        fprintf(fp, "topics:\n");
        for (int i = 0; i < t->ntopics; i++) {
                const spate_topic_decl_t *d = &t->topics[i];
                fprintf(fp, "  %-8s %-*s %d partition%s%s\n", roles[d->role], pw, d->name, d->partitions,
                        d->partitions == 1 ? "" : "s", d->compacted ? ", compacted" : "");
        }
}
