/* test_topology.c - the topology loader: a good file compiles to the right
 * graph and shapes; each kind of broken file fails with file:line:col and a fix. */
#include "check.h"
#include "../../engine/topology.h"
#include "../../geo/geo_index.h"
#include "../../state/kv.h"
#include "../../operators/window/window.h"
#include "../../operators/window/winstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *write_file(const char *name, const char *text) {
        static char path[256];
        snprintf(path, sizeof(path), "/tmp/spate-test-%d-%s", (int)getpid(), name);
        FILE *fp = fopen(path, "w");
        fputs(text, fp);
        fclose(fp);
        return path;
}

#define HEAD "application: t\nnodes:\n"
#define SRC  "  - name: in\n    type: kafka_source\n    topic: t.in\n"
#define DD   "  - name: d\n    type: dedupe\n    from: in\n    key: id\n    within: 1h\n"
#define WIN  "  - name: w\n    type: window\n    from: in\n    window: tumbling\n    aggregates:\n      n: count()\n"

static const char *good =
        "application: demo\n"
        "kafka:\n  bootstrap.servers: ${SPATE_TEST_BOOT:-127.0.0.1:1}\n"
        "settings:\n  commit_interval: 250ms\n"
        "nodes:\n"
        SRC
        "    partitions: 6\n"
        "  - name: hot\n    type: filter\n    from: in\n    where: temp > 30\n"
        "  - name: out\n    type: map\n    from: hot\n    fields:\n      id: id\n      f: temp * 2\n"
        "  - name: w\n    type: kafka_sink\n    from: out\n    topic: t.out\n    compacted: true\n";

static void test_good(void) {
        char err[1024] = "";
        setenv("SPATE_TEST_BOOT", "10.0.0.1:9", 1);
        spate_topology_t *t = spate_topology_load(write_file("good.yaml", good), err, sizeof(err));
        CHECK(t != NULL, "a good topology loads (%s)", err);
        if (!t)
                return;
        CHECK_STR(t->application, "demo", "application");
        CHECK(t->commit_interval_ms == 250, "commit_interval 250ms -> %lld", (long long)t->commit_interval_ms);
        CHECK_STR(t->kafka->items[0]->value, "10.0.0.1:9", "${VAR:-default} takes the environment");
        CHECK(t->nnodes == 4, "4 nodes");
        CHECK(t->nodes[1]->from == t->nodes[0] && t->nodes[0]->nnext == 1, "from: wires hot <- in");
        const spate_topic_decl_t *in = spate_topology_topic(t, "t.in"), *out = spate_topology_topic(t, "t.out");
        CHECK(in && in->partitions == 6 && !in->compacted, "source topic declared with 6 partitions");
        CHECK(out && out->compacted && out->role == SPATE_TOPIC_SINK, "sink topic declared compacted");
        CHECK(spate_topology_topic(t, "demo-dlq") != NULL, "dead-letter topic <application>-dlq declared");
        const spate_shape_t *src = t->nodes[0]->out;
        CHECK(src->open && src->nfields == 2, "source decodes exactly the 2 referenced fields (got %d)", src->nfields);
        CHECK(t->nodes[2]->out->nfields == 2 && !t->nodes[2]->out->open, "map output is closed with 2 fields");
        spate_topology_destroy(t);
        unsetenv("SPATE_TEST_BOOT");
}

static const struct bad {
        const char *name, *yaml, *want;
} bads[] = {
        { "yaml syntax", "application: t\nnodes: [\n", ":3:1: YAML syntax error" },
        { "no application", "nodes:\n" SRC, ":1:1: missing 'application:'" },
        { "unknown top key", "application: t\nnodez: []\n", ":2:1: unknown key 'nodez' in the topology: did you mean 'nodes'?" },
        { "unknown type", HEAD SRC "  - name: f\n    type: filtr\n    from: in\n    where: x\n",
          ":7:11: unknown node type 'filtr': did you mean 'filter'?" },
        { "unknown param", HEAD SRC "  - name: f\n    type: filter\n    from: in\n    wher: x > 1\n",
          ":9:5: unknown key 'wher' in a filter node: did you mean 'where'?" },
        { "missing param", HEAD SRC "  - name: f\n    type: filter\n    from: in\n",
          ":6:5: filter node 'f': missing 'where:'" },
        { "bad from", HEAD SRC "  - name: f\n    type: filter\n    from: inn\n    where: x\n",
          ":8:11: filter node 'f': 'from: inn' names no node; did you mean 'in'?" },
        { "duplicate name", HEAD SRC SRC, ":6:11: node name 'in' is used twice" },
        { "bad bool", HEAD SRC "  - name: o\n    type: kafka_sink\n    from: in\n    topic: x\n    compacted: yes\n",
          ":10:16: kafka_sink node 'o': 'compacted' must be true or false, not 'yes'" },
        { "bad enum", HEAD SRC "    format: xml\n", ":6:13: kafka_source node 'in': 'format' must be one of json|avro|raw, not 'xml'" },
        { "env unset", "application: ${SPATE_SURELY_UNSET}\nnodes:\n" SRC,
          ":1:14: environment variable 'SPATE_SURELY_UNSET' is not set" },
        { "expr syntax", HEAD SRC "  - name: f\n    type: filter\n    from: in\n    where: temp >\n", ":9:18: unexpected end of expression" },
        { "source with from", HEAD SRC "    from: x\n", ":6:11: kafka_source node 'in': a source reads a topic and takes no 'from:'" },
        { "fields not a map", HEAD SRC "  - name: m\n    type: map\n    from: in\n    fields: [a]\n",
          ":9:13: map node 'm': 'fields' must be a mapping" },
        { "bad duration", "application: t\nsettings:\n  commit_interval: soon\nnodes:\n" SRC,
          ":3:20: commit_interval: 'soon' is not a duration: write a number and a unit" },
        { "duration without a unit", "application: t\nsettings:\n  commit_interval: 60\nnodes:\n" SRC,
          ":3:20: commit_interval: '60' has no unit: write 60s or 1m (or 60ms if milliseconds were meant)" },
        { "node duration without a unit", HEAD "  - name: p\n    type: http_poll\n    topic: coords\n    url: http://x\n"
          "    every: 90\n", ":7:12: http_poll node 'p': 'every': '90' has no unit: write 90s" },
        { "poll interval too short", HEAD "  - name: p\n    type: http_poll\n    topic: coords\n    url: http://x\n"
          "    every: 500ms\n", ":7:12: http_poll node 'p': every is '500ms': it must be at least 1s" },
        { "avro without schema", HEAD SRC "    format: avro\n", "format: avro needs 'schema:'" },
        { "empty file", "", ":1:1: the file is empty" },
        { "window after a poller", HEAD "  - name: p\n    type: http_poll\n    topic: coords\n    url: http://x\n"
          "  - name: w\n    type: window\n    from: p\n    window: tumbling\n    size: 1h\n"
          "    aggregates:\n      n: count()\n",
          ":7:5: window node 'w': a window reads records of a source whose offsets replay (its "
          "exactness rests on them), such as kafka_source, not of http_poll 'p'" },
        /* issue 14: files `spate check` used to accept, or answered unhelpfully */
        { "root not a mapping", "- a\n- b\n", ":1:1: a topology file is a mapping" },
        { "second document", "application: t\nnodes:\n" SRC "---\napplication: u\n",
          ":6:1: a second YAML document" },
        { "duplicate key", HEAD SRC "    topic: t.other\n", ":6:5: duplicate key 'topic' (first at line 5" },
        { "unclosed ${", HEAD "  - name: in\n    type: kafka_source\n    topic: ${SENSOR_TOPIC\n",
          ":5:12: unclosed '${SENSOR_TOPIC' (hint: end it with '}'" },
        { "bad kafka property", "application: t\nkafka:\n  linger.ms: soon\nnodes:\n" SRC,
          ":3:3: kafka property 'linger.ms': Invalid value" },
        { "unknown prefixed kafka property", "application: t\nkafka:\n  consumer.no.such: 1\nnodes:\n" SRC,
          ":3:3: kafka property 'no.such': No such configuration property" },
        { "partitions -3", HEAD SRC "    partitions: -3\n",
          ":6:17: kafka_source node 'in': 'partitions' must be from 1 to 2147483647, not '-3'" },
        { "partitions 0", HEAD SRC "  - name: o\n    type: kafka_sink\n    from: in\n    topic: x\n    partitions: 0\n",
          ":10:17: kafka_sink node 'o': 'partitions' must be from 1 to 2147483647, not '0'" },
        { "partitions overflow", HEAD SRC "    partitions: 99999999999\n",
          ":6:17: kafka_source node 'in': 'partitions' must be from 1 to 2147483647" },
        { "hex partitions", HEAD SRC "    partitions: 0x10\n", ":6:17: kafka_source node 'in': 'partitions' must be a whole number, not '0x10'" },
        { "state_memory_mb lots", "application: t\nsettings:\n  state_memory_mb: lots\nnodes:\n" SRC,
          ":3:20: state_memory_mb must be a whole number of MB from 1 to 1048576, not 'lots'" },
        { "num_standby_replicas -1", "application: t\nnum_standby_replicas: -1\nnodes:\n" SRC,
          ":2:23: num_standby_replicas must be a whole number from 0 to 100" },
        { "num_standby_replicas two", "application: t\nnum_standby_replicas: two\nnodes:\n" SRC,
          ":2:23: num_standby_replicas must be a whole number from 0 to 100" },
        { "commit_interval 0", "application: t\nsettings:\n  commit_interval: 0ms\nnodes:\n" SRC,
          ":3:20: commit_interval must be at least 1ms" },
        { "hex duration", HEAD SRC WIN "    size: 0x10\n", ":12:11: window node 'w': 'size': '0x10' is not a duration" },
        { "size nan", HEAD SRC WIN "    size: nan\n", ":12:11: window node 'w': 'size': 'nan' is not a duration: write a number and a unit" },
        { "size inf", HEAD SRC WIN "    size: infs\n", ":12:11: window node 'w': 'size': 'infs' is not a duration" },
        { "size overflow", HEAD SRC WIN "    size: 200000000d\n",
          ":12:11: window node 'w': 'size': '200000000d' is longer than the longest duration, 100000000d" },
        { "grace overflow", HEAD SRC WIN "    size: 1h\n    grace: 9223372036854775807ms\n",
          ":13:12: window node 'w': 'grace': '9223372036854775807ms' is longer than the longest duration" },
        { "time 'now'", HEAD SRC WIN "    size: 1h\n    time: 'now'\n",
          ":13:11: window node 'w': 'time: now' reads a field named 'now', and spate has no wall clock" },
        { "time a string constant", HEAD SRC WIN "    size: 1h\n    time: \"'2026-01-01'\"\n",
          ":13:11: window node 'w': 'time: '2026-01-01'' is always string, but it must be a number of ms" },
        { "source time a bool", HEAD SRC "    time: true\n",
          ":6:11: kafka_source node 'in': 'time: true' is always bool, but it must be a number of ms" },
        { "key_by on an array", HEAD SRC "  - name: k\n    type: key_by\n    from: in\n    key: xs[*]\n",
          ":9:10: key_by node 'k': 'key: xs[*]' is always array, but it must be a string, number or bool" },
        { "group_by on an array", HEAD SRC WIN "    size: 1h\n    group_by: xs[*]\n",
          ":13:15: window node 'w': 'group_by: xs[*]' is always array" },
        { "internal type", HEAD SRC "  - name: r\n    type: window_repartition\n    from: in\n",
          ":7:11: node type 'window_repartition' is internal: the loader puts one before a window node "
          "that needs it (write only the window)" },
        { "from an internal node", HEAD SRC WIN "    size: 1h\n    group_by: k\n"
          "  - name: o\n    type: kafka_sink\n    from: w-repartition\n    topic: t.out\n",
          ":16:11: kafka_sink node 'o': 'w-repartition' is internal (the loader put it before window 'w'): "
          "read from 'w'" },
        { "grouped window from nowhere", HEAD SRC "  - name: w\n    type: window\n    from: inn\n"
          "    window: tumbling\n    size: 1h\n    group_by: k\n    aggregates:\n      n: count()\n",
          ":8:11: window node 'w': 'from: inn' names no node; did you mean 'in'?" },
        { "internal name taken", HEAD SRC "  - name: w-repartition\n    type: filter\n    from: in\n    where: x\n"
          WIN "    size: 1h\n    group_by: k\n",
          ":10:11: node name 'w-repartition' is taken by another node: node 'w' needs it for its "
          "window_repartition (rename one of them)" },
        { "expire_after_idle without repartition", HEAD SRC DD "    expire_after_idle: 10m\n",
          ":11:24: dedupe node 'd': 'expire_after_idle' needs 'repartition: true'" },
        { "repartition not a bool", HEAD SRC DD "    repartition: yes\n",
          ":11:18: dedupe node 'd': 'repartition' must be true or false, not 'yes'" },
        { "repartition after a window", HEAD SRC WIN "    size: 1h\n"
          "  - name: d\n    type: dedupe\n    from: w\n    key: id\n    within: 1h\n    repartition: true\n",
          "dedupe node 'd': repartition: true needs the records of a source, not the outputs of window 'w'" },
        { "repartition type", HEAD SRC "  - name: r\n    type: repartition\n    from: in\n",
          ":7:11: node type 'repartition' is internal: the loader puts one before a dedupe node that "
          "needs it (write only the dedupe)" },
        { "store after a repartitioned dedupe", HEAD SRC DD "    repartition: true\n"
          "  - name: e\n    type: dedupe\n    from: d\n    key: id\n    within: 1h\n",
          ":12:5: dedupe node 'e': a store needs the records of a source, not the outputs of dedupe 'd' "
          "(they come from its commits or a topic of its own" },
        { "cycle", HEAD SRC "  - name: c\n    type: filter\n    from: b\n    where: x\n"
          "  - name: a\n    type: filter\n    from: b\n    where: x\n"
          "  - name: b\n    type: filter\n    from: a\n    where: x\n",
          ":12:11: filter node 'a': its 'from:' chain is a cycle: a <- b <- a" },
        { "rate_limit nan", HEAD "  - name: p\n    type: http_poll\n    topic: coords\n    url: http://x\n"
          "    rate_limit: nan/min\n", ":7:17: http_poll node 'p': rate_limit: want N/min" },
        { "quote then more", HEAD SRC "  - name: m\n    type: map\n    from: in\n    fields:\n      f: 'x' + 1\n",
          ":10:14: YAML syntax error: did not find expected key while parsing a block mapping (hint: "
          "a value that starts with a quote ends at the closing quote; quote the whole expression" },
};

static void test_bad(void) {
        for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
                char err[1024] = "";
                const char *path = write_file("bad.yaml", bads[i].yaml);
                spate_topology_t *t = spate_topology_load(path, err, sizeof(err));
                CHECK(!t && strstr(err, bads[i].want) && !strncmp(err, path, strlen(path)),
                      "%s: fails with '%s' (got '%s')", bads[i].name, bads[i].want, err);
                spate_topology_destroy(t);
        }
}

/* Every node type's bindings (SPATE_BIND) name a property its field can hold. */
static void test_binds(void) {
        int bound = 0;
        for (const spate_op_def_t *const *d = spate_op_all(); *d; d++) {
                char err[256] = "";
                CHECK(!spate_op_check_binds(*d, err, sizeof(err)), "%s: bindings valid (%s)", (*d)->name, err);
                bound += (*d)->binds != NULL;
        }
        CHECK(bound >= 11, "%d node types bind their properties", bound);
        spate_op_def_t bad = *spate_op_find("http_poll");
        const spate_bind_t wrong[] = { { "every", 0, sizeof(int), 0 }, { NULL } },
                           missing[] = { { "evry", 0, sizeof(int64_t), 0 }, { NULL } };
        char err[256] = "";
        bad.binds = wrong;
        CHECK(spate_op_check_binds(&bad, err, sizeof(err)) && strstr(err, "'every' to a field that cannot"),
              "a duration bound to an int is refused (%s)", err);
        bad.binds = missing;
        CHECK(spate_op_check_binds(&bad, err, sizeof(err)) && strstr(err, "'evry' but has no such property"),
              "a binding naming no property is refused (%s)", err);
}

/* spate_node_bind against values written out by hand: each type lands in
 * its field as given, or as its default; a choice as its index. */
typedef struct bound {
        const char *s, *none;
        int64_t i64, ms;
        int i, flag, kind, dflt;
} bound_t;

static void test_bind_values(void) {
        static const spate_prop_t props[] = {
                { "s", SPATE_P_STR, 0, NULL, NULL, "" }, { "none", SPATE_P_STR, 0, NULL, NULL, "" },
                { "big", SPATE_P_INT, 0, NULL, NULL, "" }, { "every", SPATE_P_DURATION, 0, "1s", NULL, "" },
                { "n", SPATE_P_COUNT, 0, "8", NULL, "" }, { "on", SPATE_P_BOOL, 0, "false", NULL, "" },
                { "kind", SPATE_P_ENUM, 1, NULL, "tumbling|hopping|sliding|session", "" },
                { "dflt", SPATE_P_ENUM, 0, "b", "a|b", "" }, { "loose", SPATE_P_ENUM, 0, NULL, "a|b", "" },
                { NULL }
        };
        static const spate_bind_t binds[] = {
                SPATE_BIND("s", bound_t, s), SPATE_BIND("none", bound_t, none), SPATE_BIND("big", bound_t, i64),
                SPATE_BIND("every", bound_t, ms), SPATE_BIND("n", bound_t, i), SPATE_BIND("on", bound_t, flag),
                SPATE_BIND_CHOICE("kind", bound_t, kind), SPATE_BIND_CHOICE("dflt", bound_t, dflt), { NULL }
        };
        static const char text[] = "s: x\nbig: 2147483647\nevery: 2m\non: true\nkind: session\n";
        spate_op_def_t def = { .name = "bound", .props = props, .binds = binds };
        char err[256] = "";
        spate_yaml_t *conf = spate_yaml_parse("bound.yaml", text, sizeof(text) - 1, err, sizeof(err));
        bound_t b;
        memset(&b, 0xff, sizeof(b));
        spate_node_t n = { .def = &def, .name = "b", .conf = conf, .ctx = &b };
        CHECK(conf && !spate_node_bind(&n, err, sizeof(err)), "binds (%s)", err);
        CHECK(b.s && !strcmp(b.s, "x") && !b.none, "a string as given; one with no value NULL");
        CHECK(b.i64 == 2147483647 && b.ms == 120000 && b.i == 8 && b.flag == 1,
              "int %lld, duration 2m -> %lld ms, count default 8 -> %d, bool %d", (long long)b.i64,
              (long long)b.ms, b.i, b.flag);
        CHECK(b.kind == 3 && b.dflt == 1, "choices by index: session -> %d (of 4), default b -> %d", b.kind,
              b.dflt);
        spate_yaml_free(conf);

        const spate_bind_t not_enum[] = { SPATE_BIND_CHOICE("n", bound_t, i), { NULL } },
                           loose[] = { SPATE_BIND_CHOICE("loose", bound_t, i), { NULL } },
                           wide[] = { SPATE_BIND_CHOICE("kind", bound_t, i64), { NULL } };
        def.binds = not_enum;
        CHECK(spate_op_check_binds(&def, err, sizeof(err)) && strstr(err, "'n' as a choice, but it is not an enum"),
              "a choice binding of a count is refused (%s)", err);
        def.binds = loose;
        CHECK(spate_op_check_binds(&def, err, sizeof(err)) && strstr(err, "'loose' as a choice, but it may have no"),
              "a choice binding of an optional enum without a default is refused (%s)", err);
        def.binds = wide;
        CHECK(spate_op_check_binds(&def, err, sizeof(err)) && strstr(err, "'kind' to a field that cannot"),
              "a choice binding into an int64_t is refused (%s)", err);
}

static const spate_prop_t *prop_of(const char *type, const char *name) {
        for (const spate_prop_t *p = spate_op_find(type)->props; p->name; p++)
                if (!strcmp(p->name, name))
                        return p;
        return NULL;
}

/* The enums that choice bindings fill follow their property's choices. */
static void test_choice_orders(void) {
        const spate_prop_t *kind = prop_of("window", "window"), *mode = prop_of("geo_region", "mode");
        const char *kinds[] = { "tumbling", "hopping", "sliding", "session" };
        for (int i = 0; i < 4; i++) {
                spate_window_type_t t = -1;
                CHECK(!spate_window_type_parse(kinds[i], &t) && (int)t == spate_prop_choice(kind, kinds[i]),
                      "window: %s is choice %d", kinds[i], (int)t);
        }
        spate_geo_mode_t m = -1;
        char err[256];
        CHECK(!spate_geo_mode_parse("bbox_first_match", &m, err, sizeof(err)) &&
              (int)m == spate_prop_choice(mode, "bbox_first_match") && spate_prop_choice(mode, "polygon") == 0,
              "geo_region mode: polygon 0, bbox_first_match %d", (int)m);
        CHECK(spate_prop_choice(prop_of("window", "fill"), "none") == SPATE_FILL_NONE &&
              spate_prop_choice(prop_of("window", "fill"), "linear") == SPATE_FILL_LINEAR &&
              spate_prop_choice(prop_of("window", "emit"), "final") == 1,
              "window fill: none and linear are SPATE_FILL_*'s; emit: final sets emit_final");
}

/* A window with group_by is split by the loader: its upstream half, an
 * internal window_repartition node, sits between it and its from: (and
 * before it among the nodes, so it flushes first); one without is not. */
static void test_split(void) {
        char err[1024] = "";
        spate_topology_t *t = spate_topology_load(
                write_file("split.yaml", HEAD SRC WIN "    size: 1h\n    group_by: k\n"
                           "  - name: v\n    type: window\n    from: in\n    window: tumbling\n"
                           "    size: 1h\n    aggregates:\n      n: count()\n"), err, sizeof(err));
        CHECK(t != NULL, "a grouped and an ungrouped window load (%s)", err);
        if (!t)
                return;
        CHECK(t->nnodes == 4, "4 nodes: in, w-repartition, w, v (got %d)", t->nnodes);
        spate_node_t *in = t->nodes[0], *r = t->nodes[1], *w = t->nodes[2], *v = t->nodes[3];
        CHECK_STR(r->name, "w-repartition", "the internal node is named after its window");
        CHECK_STR(r->def->name, "window_repartition", "of type window_repartition");
        CHECK(r->split_of == w && !w->split_of && !v->split_of, "it knows its window");
        CHECK(r->from == in && w->from == r && r->nnext == 1 && r->next[0] == w,
              "in -> w-repartition -> w");
        CHECK(r->index == 1 && w->index == 2, "indices follow the order (%d, %d)", r->index, w->index);
        CHECK(r->out == in->out && w->in == in->out, "records pass through it: w compiles over in's shape");
        CHECK(v->from == in && in->nnext == 2, "a window without group_by reads its source itself");
        CHECK(spate_topology_topic(t, "t-w-repartition") && !spate_topology_topic(t, "t-v-repartition"),
              "only the grouped window has a repartition topic");
        spate_topology_destroy(t);
}

/* dedupe with repartition: true is split too, before an internal
 * `repartition` node that subscribes it to its topic: the dedupe's store's
 * tasks are that topic's partitions, as many as its source's. */
static void test_split_dedupe(void) {
        char err[1024] = "";
        spate_topology_t *t = spate_topology_load(
                write_file("split_dedupe.yaml", HEAD SRC "    partitions: 6\n" DD "    repartition: true\n"
                           "  - name: e\n    type: dedupe\n    from: in\n    key: id\n    within: 1h\n"),
                err, sizeof(err));
        CHECK(t != NULL, "a repartitioned and a plain dedupe load (%s)", err);
        if (!t)
                return;
        CHECK(t->nnodes == 4, "4 nodes: in, d-repartition, d, e (got %d)", t->nnodes);
        spate_node_t *in = t->nodes[0], *r = t->nodes[1], *d = t->nodes[2], *e = t->nodes[3];
        CHECK_STR(r->name, "d-repartition", "the internal node is named after its dedupe");
        CHECK_STR(r->def->name, "repartition", "of type repartition");
        CHECK(r->split_of == d && r->from == in && d->from == r && e->from == in, "in -> d-repartition -> d");
        const spate_topic_decl_t *topic = spate_topology_topic(t, "t-d-repartition");
        CHECK(topic && topic->partitions == 6 && topic->role == SPATE_TOPIC_INTERNAL,
              "its topic is internal, with the source's 6 partitions");
        const char *input = spate_topology_input_of(t, d);
        CHECK(input && !strcmp(input, "t-d-repartition") && !spate_topology_input_of(t, e),
              "d reads it; e reads its source");
        CHECK(spate_kv_node_partitions(d) == 6 && spate_kv_node_partitions(e) == 6, "both have 6 tasks");
        CHECK(!spate_node_keeps_origin(d) && spate_node_keeps_origin(e),
              "d's outputs come from its topic, e's from its source's offsets");
        spate_topology_destroy(t);
}

int main(void) {
        test_good();
        test_split();
        test_split_dedupe();
        test_binds();
        test_bind_values();
        test_choice_orders();
        test_bad();
        return CHECK_DONE();
}
