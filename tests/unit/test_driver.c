/* test_driver.c - the engine's commit protocol as nodes see it, run by the
 * test driver: what each step of a commit leaves committed, a crash before
 * the offsets replays (never loses), dead letters carry their origin, and a
 * batch cut that cannot be committed holds the batches and the offsets. */
#include "check.h"
#include "../driver/driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The topology in yaml, its clock at 1000000 ms (the test bails out if it does not load). */
static spate_driver_t *driver(const char *yaml) {
        return spate_driver_new_or_bail(yaml, 1000000);
}

static const char *FILTER_YAML =
        "application: drv-c\n"
        "kafka:\n  bootstrap.servers: 127.0.0.1:1\n"
        "nodes:\n"
        "  - name: in\n    type: kafka_source\n    topic: c.in\n    partitions: 1\n"
        "  - name: big\n    type: filter\n    from: in\n    where: v > 1\n"
        "  - name: out\n    type: kafka_sink\n    from: big\n    topic: c.out\n    partitions: 1\n";

/* The values of topic's partition 0 joined by spaces. */
static const char *values(spate_driver_t *d, const char *topic) {
        static char buf[1024];
        size_t off = 0;
        buf[0] = '\0';
        for (int64_t i = 0; i < spate_driver_count(d, topic, 0) && off < sizeof(buf); i++)
                off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s", i ? " " : "",
                                        spate_driver_msg(d, topic, 0, i)->value);
        return buf;
}

static void pipe4(spate_driver_t *d) {
        spate_driver_pipe(d, "c.in", 0, "k1", "{\"v\":1}", 10);
        spate_driver_pipe(d, "c.in", 0, "k2", "{\"v\":2}", 20);
        spate_driver_pipe(d, "c.in", 0, "k3", "{\"v\":", 30);
        spate_driver_pipe(d, "c.in", 0, "k4", "{\"v\":3}", 40);
}

/* Offsets are committed only by a commit that ran to its end. */
static void test_commit_steps(void) {
        spate_driver_t *d = driver(FILTER_YAML);
        pipe4(d);
        CHECK(spate_driver_process(d) == 4, "4 records processed");
        CHECK_STR(values(d, "c.out"), "{\"v\":2} {\"v\":3}", "outputs");
        for (spate_driver_stage_t s = SPATE_DRIVER_AFTER_FLUSH; s <= SPATE_DRIVER_AFTER_CHECKPOINT; s++) {
                CHECK(spate_driver_commit(d, s) == 0, "commit up to step %d", (int)s);
                CHECK(spate_driver_committed(d, "c.in", 0) == -1, "step %d: no offset committed", (int)s);
        }
        CHECK(spate_driver_commit(d, SPATE_DRIVER_COMMIT_ALL) == 0, "whole commit");
        CHECK(spate_driver_committed(d, "c.in", 0) == 4, "the offset after the last record is committed");
        spate_driver_destroy(d);
}

/* A dead letter is the source record with its origin and reason. */
static void test_dead_letter(void) {
        spate_driver_t *d = driver(FILTER_YAML);
        pipe4(d);
        spate_driver_process(d);
        CHECK(spate_driver_count(d, "drv-c-dlq", 0) == 1, "one dead letter");
        const spate_driver_msg_t *m = spate_driver_msg(d, "drv-c-dlq", 0, 0);
        CHECK(m && m->key_len == 2 && !memcmp(m->key, "k3", 2), "its key is the record's");
        CHECK_STR(m ? m->value : NULL, "{\"v\":", "its value is the record's");
        static const char *want[][2] = { { "spate.node", "in" }, { "spate.topic", "c.in" },
                                         { "spate.partition", "0" }, { "spate.offset", "2" },
                                         { "spate.application", "drv-c" } };
        for (size_t i = 0; m && i < sizeof(want) / sizeof(*want); i++)
                CHECK_STR(spate_driver_header(m, want[i][0]), want[i][1], want[i][0]);
        const char *e = m ? spate_driver_header(m, "spate.error") : NULL;
        CHECK(e && !strncmp(e, "in: ", 4), "spate.error names the node: %s", e ? e : "(none)");
        spate_driver_destroy(d);
}

/* A crash before the offsets: the new instance replays from the committed
 * offset; outputs and dead letters come again (at least once), none lost. */
static void test_crash_replays(void) {
        char err[256];
        spate_driver_t *d = driver(FILTER_YAML);
        spate_driver_pipe(d, "c.in", 0, "k0", "{\"v\":5}", 5);
        spate_driver_process(d);
        CHECK(spate_driver_commit(d, SPATE_DRIVER_COMMIT_ALL) == 0, "first commit");
        pipe4(d);
        spate_driver_process(d);
        CHECK(spate_driver_commit(d, SPATE_DRIVER_AFTER_CHECKPOINT) == 0, "commit up to the checkpoint");
        CHECK(spate_driver_crash(d, 1, err, sizeof(err)) == 0 && spate_driver_assign(d) == 0, "crash, reassign");
        CHECK(spate_driver_process(d) == 4, "the 4 uncommitted records are replayed, not the committed one");
        CHECK_STR(values(d, "c.out"), "{\"v\":5} {\"v\":2} {\"v\":3} {\"v\":2} {\"v\":3}", "outputs again");
        CHECK(spate_driver_count(d, "drv-c-dlq", 0) == 2, "the dead letter again");
        CHECK(spate_driver_commit(d, SPATE_DRIVER_COMMIT_ALL) == 0 && spate_driver_committed(d, "c.in", 0) == 5,
              "then committed");
        spate_driver_destroy(d);
}

static const char *WINDOW_YAML =
        "application: drv-w\n"
        "kafka:\n  bootstrap.servers: 127.0.0.1:1\n"
        "nodes:\n"
        "  - name: in\n    type: kafka_source\n    topic: w.in\n    partitions: 2\n    time: t\n"
        "  - name: win\n    type: window\n    from: in\n    window: tumbling\n    size: 1s\n"
        "    group_by: g\n    emit: final\n    partitions: 2\n"
        "    aggregates:\n      count: count()\n      sum: sum(v)\n"
        "  - name: out\n    type: kafka_sink\n    from: win\n    topic: w.out\n    partitions: 1\n";

static void pipe_w(spate_driver_t *d, int p, const char *g, int t, int v) {
        char buf[128];
        snprintf(buf, sizeof(buf), "{\"g\":\"%s\",\"t\":%d,\"v\":%d}", g, t, v);
        spate_driver_pipe(d, "w.in", p, g, buf, 0);
}

/* group_by: when the cut of a commit's combined batches cannot be committed
 * (a rebalance), the batches, the marks and the source offsets wait for the
 * next commit; after a crash the records are replayed instead. Either way
 * every record is counted once. */
static void test_cut_not_committed(void) {
        for (int crash = 0; crash <= 1; crash++) {
                char err[256];
                const char *what = crash ? "cut not committed, then a crash" : "cut not committed";
                spate_driver_t *d = driver(WINDOW_YAML);
                pipe_w(d, 0, "a", 100, 1);
                pipe_w(d, 1, "a", 200, 2);
                pipe_w(d, 0, "b", 1500, 4);
                pipe_w(d, 1, "a", 2100, 8);
                spate_driver_process(d);
                spate_driver_fail_cut_commits(d, 1);
                CHECK(spate_driver_commit(d, SPATE_DRIVER_COMMIT_ALL) == 0, "%s: the commit goes on", what);
                CHECK(spate_driver_count_all(d, "drv-w-win-repartition") == 0, "%s: no batch nor mark left", what);
                CHECK(spate_driver_committed(d, "w.in", 0) == -1 && spate_driver_committed(d, "w.in", 1) == -1,
                      "%s: the source offsets are held", what);
                if (crash)
                        CHECK(spate_driver_crash(d, 1, err, sizeof(err)) == 0 && spate_driver_assign(d) == 0,
                              "%s: crash, reassign", what);
                spate_driver_process(d);
                CHECK(spate_driver_commit(d, SPATE_DRIVER_COMMIT_ALL) == 0, "%s: next commit", what);
                CHECK(spate_driver_committed(d, "w.in", 0) == 2 && spate_driver_committed(d, "w.in", 1) == 2,
                      "%s: the offsets go with the batches", what);
                CHECK(spate_driver_end_of_input(d, 10) == 0, "%s: end of input drains", what);
                const spate_driver_msg_t *a0 = spate_driver_latest(d, "w.out", "a@1970-01-01T00:00:00Z"),
                                         *b1 = spate_driver_latest(d, "w.out", "b@1970-01-01T00:00:01Z"),
                                         *a2 = spate_driver_latest(d, "w.out", "a@1970-01-01T00:00:02Z");
                CHECK_STR(a0 ? a0->value : NULL,
                          "{\"key\":\"a\",\"window_start\":0,\"window_end\":1000,\"count\":2,\"sum\":3}", what);
                CHECK_STR(b1 ? b1->value : NULL,
                          "{\"key\":\"b\",\"window_start\":1000,\"window_end\":2000,\"count\":1,\"sum\":4}", what);
                CHECK_STR(a2 ? a2->value : NULL,
                          "{\"key\":\"a\",\"window_start\":2000,\"window_end\":3000,\"count\":1,\"sum\":8}", what);
                spate_driver_destroy(d);
        }
}

/* A topology file as users write it (0200's), opened where it is. */
static void test_open_file(void) {
        char err[1024], path[1024];
        const char *root = getenv("SPATE_ROOT");
        snprintf(path, sizeof(path), "%s/tests/integration/0200-map-filter-explode.yaml", root ? root : ".");
        spate_driver_t *d = spate_driver_open(path, 1000000, err, sizeof(err));
        CHECK(d != NULL, "open %s: %s", path, d ? "" : err);
        if (!d)
                return;
        spate_driver_pipe(d, "it0200.in", 3, "s1", "{\"id\":\"s1\",\"dt\":1700000000,\"temp\":20,\"city\":\"oslo\","
                          "\"minutely\":[{\"precipitation\":0},{\"precipitation\":1.5},{\"precipitation\":2}]}", 0);
        spate_driver_pipe(d, "it0200.in", 5, "s2", "{\"id\":\"s2\",\"dt\":1700000000,\"temp\":5,\"city\":\"oslo\","
                          "\"minutely\":[]}", 0);
        CHECK(spate_driver_process(d) == 2, "2 records processed");
        CHECK(spate_driver_count_all(d, "it0200.summary") == 1, "one summary (s2 is below 10 degrees)");
        const spate_driver_msg_t *m = spate_driver_latest(d, "it0200.summary", "s1");
        CHECK_STR(m ? m->value : NULL,
                  "{\"id\":\"s1\",\"temp_f\":68,\"rain\":3.5,\"wet_minutes\":2,\"label\":\"OSLO-22\"}", "summary");
        CHECK(spate_driver_count_all(d, "it0200.minutes") == 2, "the two rainy minutes of s1");
        spate_driver_destroy(d);
}

int main(void) {
        test_commit_steps();
        test_dead_letter();
        test_crash_replays();
        test_cut_not_committed();
        test_open_file();
        return CHECK_DONE();
}
