/* test_iq.c - interactive queries' request model (engine/iq.h): URL paths
 * and arguments to requests, the 4xx answers and their reasons, time
 * arguments, scan key filters, row collection, ownership, and which standby
 * copies a max_lag query lets answer (and the 503 naming the others). */
#include "check.h"
#include "../../engine/iq.h"
#include "../../engine/node.h"
#include "../../engine/topology.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Arguments as "name=value" strings, NULL-terminated. */
static const char *arg(void *opaque, const char *name) {
        for (const char *const *a = opaque; *a; a++) {
                size_t n = strlen(name);
                if (!strncmp(*a, name, n) && (*a)[n] == '=')
                        return *a + n + 1;
        }
        return NULL;
}

static int parse(const char *path, const char *const *args, spate_iq_t *q, char *err) {
        static const char *const none[] = { NULL };
        return spate_iq_parse(path, arg, (void *)(args ? args : none), q, err, 512);
}

static void test_paths(void) {
        spate_iq_t q;
        char err[512];
        CHECK(parse("/state", NULL, &q, err) == 0 && q.kind == SPATE_IQ_NODES, "/state lists the nodes");
        CHECK(parse("/state/", NULL, &q, err) == 0 && q.kind == SPATE_IQ_NODES, "/state/ too");
        CHECK(parse("/state/per_minute", NULL, &q, err) == 0 && q.kind == SPATE_IQ_SCAN &&
              !strcmp(q.node, "per_minute") && q.limit == SPATE_IQ_LIMIT_DEFAULT, "/state/<node> scans, default limit");
        CHECK(parse("/state/per_minute/hall-t1", NULL, &q, err) == 0 && q.kind == SPATE_IQ_GET &&
              q.klen == 7 && !memcmp(q.key, "hall-t1", 7), "/state/<node>/<key> is a key's value");
        CHECK(parse("/state/w/a/b", NULL, &q, err) == 0 && q.kind == SPATE_IQ_GET && q.klen == 3 &&
              !memcmp(q.key, "a/b", 3), "a key may hold '/' (MHD decoded %%2F)");
        CHECK(parse("/state/w/hall-t1/history", NULL, &q, err) == 0 && q.kind == SPATE_IQ_HISTORY &&
              q.klen == 7 && q.from == INT64_MIN && q.to == INT64_MAX, "/history: every window by default");
        CHECK(parse("/state/w/history", NULL, &q, err) == 0 && q.kind == SPATE_IQ_GET && q.klen == 7,
              "a key named 'history' is a key");
        CHECK(parse("/state/w//history", NULL, &q, err) == 400 && strstr(err, "key is empty"),
              "an empty key: 400 (%s)", err);
        CHECK(parse("/stateful", NULL, &q, err) == 404, "/stateful is not /state");
}

static void test_args(void) {
        spate_iq_t q;
        char err[512];
        const char *const hist[] = { "from=2026-01-01T00:05:00Z", "to=1767229200000", "limit=10", NULL };
        CHECK(parse("/state/w/k/history", hist, &q, err) == 0 && q.from == 1767225900000LL &&
              q.to == 1767229200000LL && q.limit == 10, "from (ISO), to (ms) and limit");
        const char *const frac[] = { "from=2026-01-01T01:05:00.5+01:00", NULL };
        CHECK(parse("/state/w/k/history", frac, &q, err) == 0 && q.from == 1767225900500LL,
              "ISO with milliseconds and an offset");
        const char *const bad_from[] = { "from=yesterday", NULL };
        CHECK(parse("/state/w/k/history", bad_from, &q, err) == 400 && strstr(err, "ISO-8601"),
              "a bad time: 400 saying what is wanted (%s)", err);
        const char *const local[] = { "from=2026-01-01T00:05:00", NULL };
        CHECK(parse("/state/w/k/history", local, &q, err) == 400, "a time without a zone: 400");
        const char *const empty[] = { "from=2000", "to=2000", NULL };
        CHECK(parse("/state/w/k/history", empty, &q, err) == 400 && strstr(err, "before"), "from == to: 400");
        const char *const zero[] = { "limit=0", NULL }, *const big[] = { "limit=100001", NULL },
                          *const neg[] = { "limit=-1", NULL }, *const junk[] = { "limit=5x", NULL };
        CHECK(parse("/state/w", zero, &q, err) == 400 && parse("/state/w", big, &q, err) == 400 &&
              parse("/state/w", neg, &q, err) == 400 && parse("/state/w", junk, &q, err) == 400,
              "limits outside 1..100000 or not numbers: 400");
        const char *const scan_on_get[] = { "prefix=a", NULL }, *const hist_on_scan[] = { "from=1", NULL },
                          *const limit_on_get[] = { "limit=3", NULL };
        CHECK(parse("/state/w/k", scan_on_get, &q, err) == 400 && strstr(err, "'prefix'"),
              "scan arguments on a value: 400 (%s)", err);
        CHECK(parse("/state/w", hist_on_scan, &q, err) == 400 && strstr(err, "'from'"), "history arguments on a scan: 400");
        CHECK(parse("/state/w/k", limit_on_get, &q, err) == 400, "a limit on one key's value: 400");
        const char *const range[] = { "start=b", "end=a", NULL };
        CHECK(parse("/state/w", range, &q, err) == 400, "start after end: 400");
        const char *const stale[] = { "stale=ok", NULL }, *const stale_typo[] = { "stale=yes", NULL };
        CHECK(parse("/state/w/k", stale, &q, err) == 0 && q.stale && !q.local, "stale=ok asks for copies");
        CHECK(parse("/state/w/k", NULL, &q, err) == 0 && !q.stale, "not without it");
        CHECK(parse("/state/w/k", stale_typo, &q, err) == 400 && strstr(err, "stale=ok"),
              "a value other than ok: 400 (%s)", err);
        const char *const copies[] = { "local=1", "stale=ok", "partitions=0,3,12", NULL },
                          *const copies_alone[] = { "partitions=1", NULL },
                          *const copies_bad[] = { "local=1", "stale=ok", "partitions=1,,2", NULL };
        CHECK(parse("/state/w", copies, &q, err) == 0 && q.ncopies == 3 && q.copies[0] == 0 && q.copies[2] == 12,
              "partitions=0,3,12 with local=1&stale=ok: the copies a forwarding instance asks for");
        CHECK(parse("/state/w", copies_alone, &q, err) == 400 && strstr(err, "local=1&stale=ok"),
              "partitions without local=1&stale=ok: 400 (%s)", err);
        CHECK(parse("/state/w", copies_bad, &q, err) == 400, "an empty partition number: 400");
        const char *const fwd[] = { "local=1", "prefix=ha", NULL };
        CHECK(parse("/state/w", fwd, &q, err) == 0 && q.local && !strcmp(q.prefix, "ha"), "local=1 and prefix");
}

static void test_keys_and_rows(void) {
        spate_iq_t q = { .kind = SPATE_IQ_SCAN, .prefix = "hall" };
        CHECK(spate_iq_key_wanted(&q, "hall-t1", 7) && !spate_iq_key_wanted(&q, "hal", 3) &&
              !spate_iq_key_wanted(&q, "roof", 4), "prefix filter");
        q = (spate_iq_t){ .kind = SPATE_IQ_SCAN, .start = "b", .end = "c" };
        CHECK(spate_iq_key_wanted(&q, "b", 1) && spate_iq_key_wanted(&q, "bzz", 3) &&
              !spate_iq_key_wanted(&q, "c", 1) && !spate_iq_key_wanted(&q, "a", 1), "range [start, end)");
        spate_iq_rows_t rows = { .limit = 2 };
        CHECK(spate_iq_row(&rows, "{\"a\":1}", 7) == 0 && spate_iq_row(&rows, "{}", 2) == 1 &&
              spate_iq_row(&rows, "{}", 2) == 1 && rows.n == 2, "rows stop at the limit");
        spate_buf_putc(&rows.json, '\0');
        CHECK_STR(rows.json.data, "{\"a\":1},{}", "rows are comma-separated");
        spate_buf_free(&rows.json);
        int32_t p = spate_iq_partition("hall-t1", 7, 8);
        CHECK(p >= 0 && p < 8 && p == spate_iq_partition("hall-t1", 7, 8), "a key's partition is stable and in range");
}

static void test_ownership(void) {
        const char *topics[] = { "in", "in", "other" };
        int32_t parts[] = { 3, 5, 0 }, got[8];
        spate_buf_t b = { 0 };
        CHECK(spate_iq_owned("in", 3) == -1 && spate_iq_owned_list("in", got, 8) == -1,
              "restoring until the first assignment");
        spate_iq_assigned(topics, parts, 3);
        CHECK(spate_iq_owned("in", 3) == 1 && spate_iq_owned("in", 4) == 0, "owned after assignment");
        CHECK(spate_iq_owned_list("in", got, 8) == 2 && got[0] == 3 && got[1] == 5, "the topic's partitions");
        spate_iq_owned_json(&b);
        spate_buf_putc(&b, '\0');
        CHECK_STR(b.data, "{\"in\":[3,5],\"other\":[0]}", "advertised as JSON");
        spate_buf_free(&b);
        spate_iq_revoked();
        CHECK(spate_iq_owned("in", 3) == -1, "restoring again after a revocation");
}

static int heard;
static void on_change(void *opaque) {
        (void)opaque;
        heard++;
}

/* The standby copies a stale answer may read, advertised with the claims,
 * and the lag it reports. */
static void test_standbys(void) {
        const char *topics[] = { "in", "in", "in" };
        int32_t parts[] = { 1, 2, 1 }, again[] = { 2, 1 };
        spate_buf_t b = { 0 };
        spate_iq_listen(on_change, NULL);
        spate_iq_standbys(topics, parts, 3);
        CHECK(heard == 1 && spate_iq_standby_held("in", 1) && spate_iq_standby_held("in", 2) &&
              !spate_iq_standby_held("in", 0) && !spate_iq_standby_held("other", 1),
              "the copies listed are held, a change is heard (%d)", heard);
        spate_iq_standbys(topics, again, 2);
        CHECK(heard == 1, "the same copies in another order: no change to advertise");
        spate_iq_standby_json(&b);
        spate_buf_putc(&b, '\0');
        CHECK_STR(b.data, "{\"in\":[1,2]}", "advertised as JSON, without duplicates");
        spate_buf_free(&b);
        spate_iq_revoked();
        CHECK(spate_iq_standby_held("in", 2), "a revocation keeps the copies (they hold whole commits)");
        spate_iq_standbys(topics, parts, 0);
        CHECK(heard == 2 && !spate_iq_standby_held("in", 1), "none left after the standbys stop");
        spate_iq_listen(NULL, NULL);
        CHECK(spate_iq_changelog_lag("cl", 1, 10) == -1, "no lag before the changelog's end is seen");
        spate_iq_changelog_end("cl", 1, 25);
        spate_iq_changelog_end("cl", 2, 7);
        CHECK(spate_iq_changelog_lag("cl", 1, 10) == 15 && spate_iq_changelog_lag("cl", 2, 7) == 0 &&
              spate_iq_changelog_lag("cl", 2, 9) == 0, "the lag: records past the copy's offset, never negative");
}

/* max_lag=N: parsed only with stale=ok, a count of records. */
static void test_max_lag_args(void) {
        spate_iq_t q;
        char err[512];
        const char *const lag5[] = { "stale=ok", "max_lag=5", NULL }, *const lag0[] = { "stale=ok", "max_lag=0", NULL },
                          *const alone[] = { "max_lag=5", NULL }, *const neg[] = { "stale=ok", "max_lag=-1", NULL },
                          *const word[] = { "stale=ok", "max_lag=few", NULL },
                          *const junk[] = { "stale=ok", "max_lag=5r", NULL },
                          *const empty[] = { "stale=ok", "max_lag=", NULL },
                          *const huge[] = { "stale=ok", "max_lag=99999999999999999999", NULL },
                          *const fwd[] = { "local=1", "stale=ok", "partitions=2", "max_lag=7", NULL };
        CHECK(parse("/state/w/k", lag5, &q, err) == 0 && q.stale && q.max_lag == 5, "stale=ok&max_lag=5");
        CHECK(parse("/state/w", lag0, &q, err) == 0 && q.max_lag == 0, "max_lag=0 on a scan: only caught-up copies");
        CHECK(parse("/state/w/k", NULL, &q, err) == 0 && q.max_lag == -1, "no max_lag: any lag (-1)");
        const char *const stale[] = { "stale=ok", NULL };
        CHECK(parse("/state/w/k/history", stale, &q, err) == 0 && q.max_lag == -1, "stale=ok alone: any lag");
        CHECK(parse("/state/w/k", alone, &q, err) == 400 && strstr(err, "max_lag=5 goes with stale=ok"),
              "max_lag without stale=ok: 400 saying so (%s)", err);
        CHECK(parse("/state/w/k", neg, &q, err) == 400 && strstr(err, "max_lag=-1: want a number of changelog records"),
              "max_lag=-1: 400 (%s)", err);
        CHECK(parse("/state/w/k", word, &q, err) == 400 && parse("/state/w/k", junk, &q, err) == 400 &&
              parse("/state/w/k", empty, &q, err) == 400 && parse("/state/w/k", huge, &q, err) == 400,
              "max_lag not a number (a word, a suffix, empty, past int64): 400");
        CHECK(parse("/state/w", fwd, &q, err) == 0 && q.local && q.ncopies == 1 && q.max_lag == 7,
              "a forwarded copy request keeps max_lag");
}

/* Which copies may answer: a known lag within max_lag. */
static void test_copy_fresh(void) {
        spate_iq_t any = { .max_lag = -1 }, zero = { .max_lag = 0 }, five = { .max_lag = 5 };
        CHECK(spate_iq_copy_fresh(&any, -1) && spate_iq_copy_fresh(&any, 0) && spate_iq_copy_fresh(&any, 1000000),
              "no max_lag: any copy, even of an unknown lag");
        CHECK(spate_iq_copy_fresh(&zero, 0) && !spate_iq_copy_fresh(&zero, 1) && !spate_iq_copy_fresh(&zero, -1),
              "max_lag=0: a caught-up copy only, not one of an unknown lag");
        CHECK(spate_iq_copy_fresh(&five, 4) && spate_iq_copy_fresh(&five, 5) && !spate_iq_copy_fresh(&five, 6) &&
              !spate_iq_copy_fresh(&five, -1), "max_lag=5: lags 4 and 5 answer, 6 and unknown do not");
}

/* The copies passed over and the 503 body naming them. */
static void test_behind(void) {
        spate_iq_behind_t b = { 0 };
        spate_buf_t out = { 0 };
        spate_iq_behind_add(&b, "in", 3, "http://b:1", 120);
        spate_iq_behind_add(&b, "in", 1, "http://b:1", 7);
        spate_iq_behind_add(&b, "in", 3, "http://c:2", -1);
        spate_iq_behind_add(&b, "in", 3, "http://b:1", 130);   /* asked again: the latest lag */
        CHECK(b.n == 3 && spate_iq_behind_has(&b, "in", 3, "http://c:2") && spate_iq_behind_has(&b, "in", 3, NULL) &&
              !spate_iq_behind_has(&b, "in", 3, "http://d:3") && !spate_iq_behind_has(&b, "in", 2, NULL) &&
              !spate_iq_behind_has(&b, "other", 3, NULL), "one entry per partition and instance (%d)", b.n);
        spate_iq_behind_json(&b, 5, &out);
        spate_buf_putc(&out, '\0');
        CHECK_STR(out.data,
                  "{\"error\":\"standby_behind\",\"reason\":\"no owner answers and every standby copy is more "
                  "than max_lag=5 records behind: partition 3 of in (http://b:1: lag 130, http://c:2: lag "
                  "unknown), partition 1 of in (http://b:1: lag 7); retry shortly or raise max_lag\","
                  "\"max_lag\":5,\"behind\":["
                  "{\"topic\":\"in\",\"partition\":3,\"instance\":\"http://b:1\",\"lag\":130},"
                  "{\"topic\":\"in\",\"partition\":1,\"instance\":\"http://b:1\",\"lag\":7},"
                  "{\"topic\":\"in\",\"partition\":3,\"instance\":\"http://c:2\",\"lag\":null}]}",
                  "the 503 names each partition, its copies and their lags");
        out.len = 0;
        spate_iq_behind_drop(&b, "in", 3);
        spate_iq_behind_add(&b, "in", 0, NULL, 2);
        spate_iq_behind_json(&b, 0, &out);
        spate_buf_putc(&out, '\0');
        CHECK_STR(out.data,
                  "{\"error\":\"standby_behind\",\"reason\":\"no owner answers and every standby copy is more "
                  "than max_lag=0 records behind: partition 1 of in (http://b:1: lag 7), partition 0 of in "
                  "(lag 2); retry shortly or raise max_lag\",\"max_lag\":0,\"behind\":["
                  "{\"topic\":\"in\",\"partition\":1,\"instance\":\"http://b:1\",\"lag\":7},"
                  "{\"topic\":\"in\",\"partition\":0,\"instance\":null,\"lag\":2}]}",
                  "a partition another copy answered is dropped; an unnamed instance is null");
        spate_buf_free(&out);
        spate_iq_behind_free(&b);
        CHECK(b.n == 0 && !b.v, "freed");
}

/* Where a node's state lives decides who answers a key. */
static void test_route(void) {
        static const char yaml[] =
                "application: iq-route\n"
                "nodes:\n"
                "  - {name: in, type: kafka_source, topic: t.in, partitions: 6}\n"
                "  - {name: w, type: window, from: in, window: tumbling, size: 1m, aggregates: {n: count()}}\n"
                "  - {name: rekey, type: key_by, from: in, key: x}\n"
                "  - {name: w2, type: window, from: rekey, window: tumbling, size: 1m, aggregates: {n: count()}}\n"
                "  - {name: byx, type: window, from: in, window: tumbling, size: 1m, group_by: x, partitions: 5,\n"
                "     aggregates: {n: count()}}\n"
                "  - {name: byx2, type: window, from: rekey, window: tumbling, size: 1m, group_by: x,\n"
                "     aggregates: {n: count()}}\n"
                "  - {name: seen, type: dedupe, from: in, key: id, within: 1m}\n"
                "  - {name: seen2, type: dedupe, from: in, key: id, within: 1m, repartition: true}\n"
                "  - {name: lim, type: table, file: /dev/null, key: k}\n"
                "  - {name: out, type: kafka_sink, from: w, topic: t.out}\n";
        char path[] = "/tmp/test_iq_XXXXXX", err[512] = "";
        int fd = mkstemp(path), nparts = 0;
        const char *topic = NULL;
        CHECK(fd >= 0 && write(fd, yaml, sizeof(yaml) - 1) == (ssize_t)(sizeof(yaml) - 1), "topology written");
        close(fd);
        spate_topology_t *t = spate_topology_load(path, err, sizeof(err));
        unlink(path);
        CHECK(t != NULL, "topology loads (%s)", err);
        if (!t)
                return;
        CHECK(spate_iq_route(spate_topology_node(t, "w"), &topic, &nparts, err, sizeof(err)) == SPATE_IQ_KEYED &&
              !strcmp(topic, "t.in") && nparts == 6, "a window on the record key: the key's partition of t.in");
        CHECK(spate_iq_route(spate_topology_node(t, "w2"), &topic, &nparts, err, sizeof(err)) == SPATE_IQ_EVERY,
              "after key_by the key's partition says nothing: every task");
        /* Kafka's murmur2 (Java clients' Utils.murmur2, toPositive, modulo):
         * "north" -> 0 of 5 and 2 of 6, "g7" -> 1 of 5 and 4 of 6. */
        int route = spate_iq_route(spate_topology_node(t, "byx"), &topic, &nparts, err, sizeof(err));
        CHECK(route == SPATE_IQ_PLACED && !strcmp(topic, "iq-route-byx-repartition") && nparts == 5,
              "a window with group_by: its repartition topic (%d %s %d)", route, topic, nparts);
        CHECK(spate_iq_key_partition(spate_topology_node(t, "byx"), route, "north", 5, nparts) == 0 &&
              spate_iq_key_partition(spate_topology_node(t, "byx"), route, "g7", 2, nparts) == 1,
              "a group's partition is the one the repartition producer sends it to");
        route = spate_iq_route(spate_topology_node(t, "w"), &topic, &nparts, err, sizeof(err));
        CHECK(spate_iq_key_partition(spate_topology_node(t, "w"), route, "north", 5, nparts) == 2 &&
              spate_iq_key_partition(spate_topology_node(t, "w"), route, "g7", 2, nparts) == 4,
              "a record key's partition is the source topic's");
        CHECK(spate_iq_route(spate_topology_node(t, "byx2"), &topic, &nparts, err, sizeof(err)) == SPATE_IQ_PLACED &&
              !strcmp(topic, "iq-route-byx2-repartition") && nparts == 8,
              "group_by after key_by: repartitioned, so placed (8 partitions by default)");
        CHECK(spate_iq_route(spate_topology_node(t, "seen"), &topic, &nparts, err, sizeof(err)) == SPATE_IQ_EVERY,
              "a dedupe key (an expression): every task");
        CHECK(spate_iq_route(spate_topology_node(t, "seen2"), &topic, &nparts, err, sizeof(err)) == SPATE_IQ_EVERY &&
              !strcmp(topic, "iq-route-seen2-repartition") && nparts == 6,
              "a dedupe with repartition: true: every task of its own topic, as many as the source's");
        CHECK(spate_iq_route(spate_topology_node(t, "lim"), &topic, &nparts, err, sizeof(err)) == SPATE_IQ_LOCAL,
              "a table: here");
        CHECK(spate_iq_route(spate_topology_node(t, "out"), &topic, &nparts, err, sizeof(err)) == -1 && strstr(err, "no queryable"),
              "a sink: no state (%s)", err);
        spate_topology_destroy(t);
}

int main(void) {
        test_route();
        test_paths();
        test_args();
        test_keys_and_rows();
        test_ownership();
        test_standbys();
        test_max_lag_args();
        test_copy_fresh();
        test_behind();
        return CHECK_DONE();
}
