/* kafka_source.c - the `kafka_source` node: decodes messages of a topic into
 * records. The engine subscribes to `topic` and hands each message in.
 * `format: raw` decodes nothing (no fields; the Kafka timestamp is the record
 * time), so that an archive_sink gets every message, parseable or not. */
#include "../engine/node.h"
#include "../serde/serde.h"
#include "../engine/topology.h"
#include "../util/util.h"

#include <stdlib.h>
#include <string.h>

typedef struct source {
        spate_serde_t *serde;      /* NULL for format: raw */
        spate_expr_t *key, *time;
        spate_json_hints_t hints;  /* its records' key order (only the processing thread decodes) */
} source_t;

static const spate_prop_t source_props[] = {
        { "topic", SPATE_P_STR, 1, NULL, NULL, "topic to read" },
        { "format", SPATE_P_ENUM, 0, "json", "json|avro|raw",
          "message encoding; raw: not decoded (no fields, no key:/time:), for an archive_sink of every message" },
        { "schema", SPATE_P_STR, 0, NULL, NULL, "Avro schema file (.avsc, looked up in schemas_dir)" },
        { "key", SPATE_P_EXPR, 0, NULL, NULL, "expression replacing the message key" },
        { "time", SPATE_P_EXPR, 0, NULL, NULL, "event time in ms (default: the message timestamp), e.g. unix_s(dt)" },
        { "partitions", SPATE_P_COUNT, 0, "8", NULL, "partition count when spate creates the topic" },
        { NULL }
};

static void declare_topic(spate_node_t *n) {
        spate_topology_declare_topic(n->topo, n, spate_node_str(n, "topic"),
                                     (int)spate_node_int(n, "partitions"), 0, SPATE_TOPIC_SOURCE);
}

/* A raw source has no fields for key: or time: to read. */
static int raw_init(spate_node_t *n, char *errstr, size_t errstr_size) {
        static const char *const needs_fields[] = { "key", "time", "schema" };
        for (size_t i = 0; i < sizeof(needs_fields) / sizeof(*needs_fields); i++)
                if (spate_node_param(n, needs_fields[i]))
                        return spate_node_error(n, spate_node_param(n, needs_fields[i]), errstr, errstr_size,
                                                "format: raw decodes no fields, so '%s:' cannot be used (the "
                                                "record time is the Kafka timestamp; hint: use format: json "
                                                "to read fields)", needs_fields[i]);
        declare_topic(n);
        return 0;
}

static int source_init(spate_node_t *n, char *errstr, size_t errstr_size) {
        source_t *s = n->ctx;
        char err[512];
        n->out = spate_shape_new(spate_node_shapes(n), 1);
        if (!strcmp(spate_node_str(n, "format"), "raw"))
                return raw_init(n, errstr, errstr_size);
        s->serde = spate_serde_new(n->topo, spate_node_str(n, "format"), spate_node_str(n, "schema"),
                                   err, sizeof(err));
        if (!s->serde)
                return spate_node_error(n, spate_node_param(n, "schema"), errstr, errstr_size, "%s", err);
        s->key = spate_node_expr_typed(n, "key", n->out, SPATE_KEY_TYPES, "a string, number or bool",
                                       errstr, errstr_size);
        if (!s->key && *errstr)
                return -1;
        s->time = spate_node_time_expr(n, "time", n->out, errstr, errstr_size);
        if (!s->time && *errstr)
                return -1;
        declare_topic(n);
        return 0;
}

static int source_process(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx) {
        source_t *s = n->ctx;
        spate_arena_t *a = spate_ctx_arena(ctx);
        const spate_origin_t *o = rec->origin;
        spate_value_t v;
        char err[512];

        if (s->serde && spate_serde_decode(s->serde, n->out, &s->hints, o->payload, o->len, a, &rec->value,
                                           err, sizeof(err)))
                return spate_ctx_fail(ctx, n, "%s", err);
        if (s->key) {
                if (spate_expr_eval(s->key, rec, a, &v, err, sizeof(err)))
                        return spate_ctx_fail(ctx, n, "key: %s", err);
                if (spate_value_to_key(&v, a, &rec->key, &rec->key_len))
                        return spate_ctx_fail(ctx, n, "key is %s, not a string or number",
                                              spate_vtype_name(v.type));
        }
        if (s->time) {
                if (spate_expr_eval(s->time, rec, a, &v, err, sizeof(err)))
                        return spate_ctx_fail(ctx, n, "time: %s", err);
                if (v.type != SPATE_V_NUM)
                        return spate_ctx_fail(ctx, n, "time '%s' is %s, not a number of ms",
                                              spate_expr_text(s->time), spate_vtype_name(v.type));
                if (spate_time_from_num(v.u.num, &rec->ts))
                        return spate_ctx_fail(ctx, n, "time '%s' is %g, out of range (at most ±%lld ms "
                                              "from 1970)", spate_expr_text(s->time), v.u.num,
                                              (long long)SPATE_MAX_TIME_MS);
        }
        if (spate_ctx_check_future(ctx, n, rec->ts))
                return -1;
        return spate_emit(n, rec, ctx);
}

static void source_destroy(spate_node_t *n) {
        source_t *s = n->ctx;
        spate_serde_destroy(s->serde);
        spate_expr_destroy(s->key);
        spate_expr_destroy(s->time);
}

const spate_op_def_t spate_op_kafka_source = {
        .name = "kafka_source",
        .role = SPATE_ROLE_SOURCE,
        .doc = "Reads a Kafka topic; only the fields the topology references are decoded.",
        .props = source_props,
        .ctx_size = sizeof(source_t),
        .init = source_init,
        .process = source_process,
        .destroy = source_destroy,
        .replayable = 1,
};
