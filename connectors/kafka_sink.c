/* kafka_sink.c - the `kafka_sink` node: encodes records and produces them to
 * a topic (created compacted when asked, so it keeps the latest value per key). */
#include "../util/buf.h"
#include "../engine/node.h"
#include "../engine/live.h"
#include "../engine/metrics.h"
#include "../serde/serde.h"
#include "../engine/topology.h"

typedef struct sink {
        spate_serde_t *serde;
        spate_expr_t *key;
        const char *topic;
        spate_buf_t buf;
} sink_t;

static const spate_prop_t sink_props[] = {
        { "topic", SPATE_P_STR, 1, NULL, NULL, "topic to write" },
        { "format", SPATE_P_ENUM, 0, "json", "json|avro", "message encoding" },
        { "schema", SPATE_P_STR, 0, NULL, NULL, "Avro schema file (.avsc, looked up in schemas_dir)" },
        { "key", SPATE_P_EXPR, 0, NULL, NULL, "expression for the message key (default: the record key)" },
        { "compacted", SPATE_P_BOOL, 0, "false", NULL, "create the topic with cleanup.policy=compact" },
        { "partitions", SPATE_P_COUNT, 0, "8", NULL, "partition count when spate creates the topic" },
        { NULL }
};

static const spate_bind_t sink_binds[] = {
        SPATE_BIND("topic", sink_t, topic),
        { NULL }
};

static int sink_init(spate_node_t *n, char *errstr, size_t errstr_size) {
        sink_t *s = n->ctx;
        char err[512];
        s->serde = spate_serde_new(n->topo, spate_node_str(n, "format"), spate_node_str(n, "schema"),
                                   err, sizeof(err));
        if (!s->serde)
                return spate_node_error(n, spate_node_param(n, "schema"), errstr, errstr_size, "%s", err);
        if (spate_serde_bind(s->serde, spate_node_shapes(n), n->in, err, sizeof(err)))
                return spate_node_error(n, spate_node_param(n, "schema"), errstr, errstr_size, "%s", err);
        s->key = spate_node_expr(n, "key", n->in, errstr, errstr_size);
        if (!s->key && *errstr)
                return -1;
        /* Values the topology never looked into are written as they came. */
        spate_shape_want_raw(n->in);
        spate_topology_declare_topic(n->topo, n, s->topic, (int)spate_node_int(n, "partitions"),
                                     spate_node_bool(n, "compacted"), SPATE_TOPIC_SINK);
        return 0;
}

static int sink_process(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx) {
        sink_t *s = n->ctx;
        const char *key = rec->key;
        size_t key_len = rec->key_len;
        char err[512];

        if (s->key) {
                spate_value_t v;
                if (spate_expr_eval(s->key, rec, spate_ctx_arena(ctx), &v, err, sizeof(err)))
                        return spate_ctx_fail(ctx, n, "key: %s", err);
                if (spate_value_to_key(&v, spate_ctx_arena(ctx), &key, &key_len))
                        return spate_ctx_fail(ctx, n, "key is %s, not a string or number",
                                              spate_vtype_name(v.type));
        }
        /* A null record is a tombstone: a compacted topic then forgets the key
         * (a window node emits them for sessions merged into others). */
        if (rec->value.type == SPATE_V_NULL)
                return spate_ctx_produce(ctx, s->topic, -1, key, key_len, NULL, 0);
        s->buf.len = 0;
        if (spate_serde_encode(s->serde, n->in, &rec->value, &s->buf, err, sizeof(err)))
                return spate_ctx_fail(ctx, n, "%s", err);
        if (spate_ctx_produce(ctx, s->topic, -1, key, key_len, s->buf.data, s->buf.len))
                return -1;
        if (n->m_out)
                spate_metric_add(n->m_out, 1);
        spate_live_offer(s->topic, key, key_len, s->buf.data, s->buf.len);
        return 0;
}

static void sink_destroy(spate_node_t *n) {
        sink_t *s = n->ctx;
        spate_serde_destroy(s->serde);
        spate_expr_destroy(s->key);
        spate_buf_free(&s->buf);
}

const spate_op_def_t spate_op_kafka_sink = {
        .name = "kafka_sink",
        .role = SPATE_ROLE_SINK,
        .doc = "Writes records to a Kafka topic; `compacted: true` keeps the latest value per key.",
        .props = sink_props,
        .binds = sink_binds,
        .ctx_size = sizeof(sink_t),
        .init = sink_init,
        .process = sink_process,
        .destroy = sink_destroy,
};
