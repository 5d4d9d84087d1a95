/* test_join.c - the `table` source and the `join` operator under the test
 * driver: left and inner joins on a topic table (rows, updates, tombstones,
 * misses to the DLQ with their reason), an as-of lookup, file tables (CSV
 * and JSON lines; a newer dated folder replaces the version held, a
 * malformed or unfinished one never does), the table store itself, and the
 * topologies that must fail at load. */
#include "check.h"
#include "../driver/driver.h"
#include "../../state/table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The topology in yaml, its clock at 1000000 ms (the test bails out if it does not load). */
static spate_driver_t *driver(const char *yaml) {
        return spate_driver_new_or_bail(yaml, 1000000);
}

/* The values of topic's partition 0, one per line. */
static const char *values(spate_driver_t *d, const char *topic) {
        static char buf[4096];
        size_t off = 0;
        buf[0] = '\0';
        for (int64_t i = 0; i < spate_driver_count(d, topic, 0) && off < sizeof(buf); i++)
                off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s\n", spate_driver_msg(d, topic, 0, i)->value);
        return buf;
}

#define TOPIC_YAML(app, type) \
        "application: " app "\n" \
        "kafka:\n  bootstrap.servers: 127.0.0.1:1\n" \
        "nodes:\n" \
        "  - name: in\n    type: kafka_source\n    topic: j.in\n    partitions: 1\n" \
        "  - name: look\n    type: join\n    from: in\n    table: stations\n    key: st\n" \
        "    how: " type "\n    fields: {name: name, alt: altitude}\n    prefix: station_\n" \
        "  - name: out\n    type: kafka_sink\n    from: look\n    topic: j.out\n    partitions: 1\n" \
        "  - name: stations\n    type: table\n    topic: j.stations\n    global: true\n    partitions: 2\n"

static void pipe_stations(spate_driver_t *d) {
        spate_driver_pipe(d, "j.stations", 0, "A", "{\"name\":\"Alpha\",\"altitude\":120,\"x\":1}", 1);
        spate_driver_pipe(d, "j.stations", 1, "B", "{\"name\":\"Bravo\",\"altitude\":5.5}", 1);
        spate_driver_pipe(d, "j.stations", 0, "C", "{\"name\":\"Charlie\"}", 1);
        spate_driver_pipe(d, "j.stations", 1, "D", "not json", 1);
        spate_driver_pipe(d, "j.stations", 1, "B", "{\"name\":\"Bravo2\",\"altitude\":6}", 2);  /* one key, one partition */
        spate_driver_pipe(d, "j.stations", 0, "C", NULL, 3);  /* tombstone */
}

static void pipe_stream(spate_driver_t *d) {
        spate_driver_pipe(d, "j.in", 0, "k1", "{\"st\":\"A\",\"v\":1}", 10);
        spate_driver_pipe(d, "j.in", 0, "k2", "{\"st\":\"B\",\"v\":2}", 20);
        spate_driver_pipe(d, "j.in", 0, "k3", "{\"st\":\"C\",\"v\":3}", 30);
        spate_driver_pipe(d, "j.in", 0, "k4", "{\"st\":\"Z\",\"v\":4}", 40);
        spate_driver_pipe(d, "j.in", 0, "k5", "{\"v\":5}", 50);
}

/* Left: every record goes on; missing rows (never there, deleted, a null
 * key) give nulls; a bad table message is dead-lettered with its origin. */
static void test_left(void) {
        spate_driver_t *d = driver(TOPIC_YAML("join-left", "left"));
        pipe_stations(d);
        spate_driver_advance(d, 1000);  /* the table follows its topic every refresh (1s) */
        pipe_stream(d);
        CHECK(spate_driver_process(d) == 5, "5 records processed");
        CHECK_STR(values(d, "j.out"),
                  "{\"st\":\"A\",\"v\":1,\"station_name\":\"Alpha\",\"station_alt\":120}\n"
                  "{\"st\":\"B\",\"v\":2,\"station_name\":\"Bravo2\",\"station_alt\":6}\n"
                  "{\"st\":\"C\",\"v\":3,\"station_name\":null,\"station_alt\":null}\n"
                  "{\"st\":\"Z\",\"v\":4,\"station_name\":null,\"station_alt\":null}\n"
                  "{\"v\":5,\"station_name\":null,\"station_alt\":null}\n",
                  "left join: rows, the newest version, nulls where no row");
        CHECK(spate_driver_count(d, "join-left-dlq", 0) == 1, "one dead letter: the bad table message");
        const spate_driver_msg_t *m = spate_driver_msg(d, "join-left-dlq", 0, 0);
        CHECK_STR(m ? m->value : NULL, "not json", "its value is the message's");
        CHECK_STR(m ? spate_driver_header(m, "spate.topic") : NULL, "j.stations", "its topic");
        CHECK_STR(m ? spate_driver_header(m, "spate.partition") : NULL, "1", "its partition");
        CHECK_STR(m ? spate_driver_header(m, "spate.offset") : NULL, "1", "its offset");
        CHECK_STR(m ? spate_driver_header(m, "spate.node") : NULL, "stations", "the table node");
        spate_driver_destroy(d);
}

/* Inner: a record without a row goes to the DLQ with the key and table. */
static void test_inner(void) {
        spate_driver_t *d = driver(TOPIC_YAML("join-inner", "inner"));
        pipe_stations(d);
        spate_driver_advance(d, 1000);
        pipe_stream(d);
        spate_driver_process(d);
        CHECK_STR(values(d, "j.out"),
                  "{\"st\":\"A\",\"v\":1,\"station_name\":\"Alpha\",\"station_alt\":120}\n"
                  "{\"st\":\"B\",\"v\":2,\"station_name\":\"Bravo2\",\"station_alt\":6}\n",
                  "inner join: only records with a row");
        CHECK(spate_driver_count(d, "join-inner-dlq", 0) == 4, "4 dead letters: 1 table message, 3 misses");
        static const char *want[][2] = {
                { "{\"st\":\"C\",\"v\":3}", "look: no row for key C in table stations" },
                { "{\"st\":\"Z\",\"v\":4}", "look: no row for key Z in table stations" },
                { "{\"v\":5}", "look: the key 'st' is null: no row in table stations" },
        };
        for (int i = 0; i < 3; i++) {
                const spate_driver_msg_t *m = spate_driver_msg(d, "join-inner-dlq", 0, i + 1);
                CHECK_STR(m ? m->value : NULL, want[i][0], "dead letter: the record");
                CHECK_STR(m ? spate_driver_header(m, "spate.error") : NULL, want[i][1], "dead letter: the reason");
                CHECK_STR(m ? spate_driver_header(m, "spate.topic") : NULL, "j.in", "dead letter: the origin");
        }
        /* A row that arrives later serves the records after it. */
        spate_driver_pipe(d, "j.stations", 1, "Z", "{\"name\":\"Zulu\",\"altitude\":-1}", 60);
        spate_driver_advance(d, 1000);
        spate_driver_pipe(d, "j.in", 0, "k6", "{\"st\":\"Z\",\"v\":6}", 60);
        spate_driver_process(d);
        const spate_driver_msg_t *m = spate_driver_msg(d, "j.out", 0, 2);
        CHECK_STR(m ? m->value : NULL, "{\"st\":\"Z\",\"v\":6,\"station_name\":\"Zulu\",\"station_alt\":-1}",
                  "a row added while running is found");
        /* A restart reads the table whole again (its offsets are never committed). */
        char err[512];
        CHECK(spate_driver_commit(d, SPATE_DRIVER_COMMIT_ALL) == 0, "commit");
        CHECK(spate_driver_crash(d, 0, err, sizeof(err)) == 0 && spate_driver_assign(d) == 0, "restart");
        spate_driver_pipe(d, "j.in", 0, "k7", "{\"st\":\"A\",\"v\":7}", 70);
        spate_driver_process(d);
        m = spate_driver_msg(d, "j.out", 0, 3);
        CHECK_STR(m ? m->value : NULL, "{\"st\":\"A\",\"v\":7,\"station_name\":\"Alpha\",\"station_alt\":120}",
                  "after a restart the table is whole before the first record");
        spate_driver_destroy(d);
}

/* A topic table keyed by `key:` from the value: a new version of a message
 * key moves its row, a tombstone deletes the row its message key wrote. */
static void test_topic_key(void) {
        spate_driver_t *d = driver(
                "application: join-tkey\n"
                "kafka:\n  bootstrap.servers: 127.0.0.1:1\n"
                "nodes:\n"
                "  - name: in\n    type: kafka_source\n    topic: k.in\n    partitions: 1\n"
                "  - name: look\n    type: join\n    from: in\n    table: codes\n    key: c\n"
                "    fields: {name: name}\n"
                "  - name: out\n    type: kafka_sink\n    from: look\n    topic: k.out\n    partitions: 1\n"
                "  - name: codes\n    type: table\n    topic: k.codes\n    global: true\n    key: code\n");
        spate_driver_pipe(d, "k.codes", 0, "m1", "{\"code\":\"X\",\"name\":\"a\"}", 1);
        spate_driver_pipe(d, "k.codes", 0, "m2", "{\"code\":\"Z\",\"name\":\"z\"}", 1);
        spate_driver_pipe(d, "k.codes", 0, "m1", "{\"code\":\"Y\",\"name\":\"b\"}", 2);
        spate_driver_pipe(d, "k.codes", 0, "m2", NULL, 3);
        spate_driver_pipe(d, "k.codes", 0, "m3", "{\"name\":\"no code\"}", 4);
        spate_driver_pipe(d, "k.codes", 0, NULL, "{\"code\":\"W\",\"name\":\"w\"}", 5);
        spate_driver_advance(d, 1000);
        const char *in[] = { "X", "Y", "Z", "W" };
        for (int i = 0; i < 4; i++) {
                char v[64];
                snprintf(v, sizeof(v), "{\"c\":\"%s\"}", in[i]);
                spate_driver_pipe(d, "k.in", 0, NULL, v, 10);
        }
        spate_driver_process(d);
        CHECK_STR(values(d, "k.out"), "{\"c\":\"X\",\"name\":null}\n{\"c\":\"Y\",\"name\":\"b\"}\n"
                  "{\"c\":\"Z\",\"name\":null}\n{\"c\":\"W\",\"name\":\"w\"}\n",
                  "X moved to Y, Z deleted by m2's tombstone, a keyless message keyed by its value");
        const spate_driver_msg_t *m = spate_driver_msg(d, "join-tkey-dlq", 0, 0);
        CHECK(spate_driver_count(d, "join-tkey-dlq", 0) == 1, "one dead letter");
        CHECK_STR(m ? spate_driver_header(m, "spate.error") : NULL, "codes: table codes: the key 'code' is missing",
                  "a row without its key field");
        spate_driver_destroy(d);
}

/* At a fan-out, the sibling branch does not see the joined fields. */
static void test_fanout(void) {
        spate_driver_t *d = driver(
                "application: join-fan\n"
                "kafka:\n  bootstrap.servers: 127.0.0.1:1\n"
                "nodes:\n"
                "  - name: in\n    type: kafka_source\n    topic: j.in\n    partitions: 1\n"
                "  - name: look\n    type: join\n    from: in\n    table: stations\n    key: st\n"
                "    fields: {name: name}\n"
                "  - name: out\n    type: kafka_sink\n    from: look\n    topic: j.out\n    partitions: 1\n"
                "  - name: plain\n    type: kafka_sink\n    from: in\n    topic: j.plain\n    partitions: 1\n"
                "  - name: stations\n    type: table\n    topic: j.stations\n    global: true\n");
        spate_driver_pipe(d, "j.stations", 0, "A", "{\"name\":\"Alpha\"}", 1);
        spate_driver_advance(d, 1000);
        spate_driver_pipe(d, "j.in", 0, "k1", "{\"st\":\"A\"}", 10);
        spate_driver_process(d);
        CHECK_STR(values(d, "j.out"), "{\"st\":\"A\",\"name\":\"Alpha\"}\n", "the join's branch");
        CHECK_STR(values(d, "j.plain"), "{\"st\":\"A\"}\n", "the sibling branch is untouched");
        spate_driver_destroy(d);
}

/* As of 3 hours before: the key names another row of a table fed by a
 * window's output (keyed "<group>@<window start>"). */
static void test_as_of(void) {
        spate_driver_t *d = driver(
                "application: join-asof\n"
                "kafka:\n  bootstrap.servers: 127.0.0.1:1\n"
                "nodes:\n"
                "  - name: hourly\n    type: kafka_source\n    topic: a.hourly\n    partitions: 1\n"
                "  - name: before\n    type: join\n    from: hourly\n    table: past\n"
                "    key: concat(key, '@', iso(window_start - 3h))\n"
                "    fields: {temp_3h_before: mean_temp}\n"
                "  - name: all\n    type: join\n    from: before\n    table: past\n    key: key()\n"
                "    prefix: this_hour_\n"
                "  - name: out\n    type: kafka_sink\n    from: all\n    topic: a.out\n    partitions: 1\n"
                "  - name: past\n    type: table\n    topic: a.hourly\n    global: true\n"
                "    columns: [mean_temp, points]\n");
        /* 2026-12-01T07:00Z = 1796108400000 */
        spate_driver_pipe(d, "a.hourly", 0, "north@2026-12-01T07:00:00Z",
                          "{\"key\":\"north\",\"window_start\":1796108400000,\"mean_temp\":4.5,\"points\":3}", 1);
        spate_driver_advance(d, 1000);
        spate_driver_pipe(d, "a.hourly", 0, "north@2026-12-01T10:00:00Z",
                          "{\"key\":\"north\",\"window_start\":1796119200000,\"mean_temp\":7}", 2);
        spate_driver_process(d);
        CHECK_STR(values(d, "a.out"),
                  "{\"key\":\"north\",\"window_start\":1796108400000,\"mean_temp\":4.5,\"points\":3,\"temp_3h_before\":null,"
                  "\"this_hour_mean_temp\":4.5,\"this_hour_points\":3}\n"
                  "{\"key\":\"north\",\"window_start\":1796119200000,\"mean_temp\":7,\"temp_3h_before\":4.5,"
                  "\"this_hour_mean_temp\":null,\"this_hour_points\":null}\n",
                  "10:00 reads 07:00; 07:00 has nothing 3 hours before (null); prefix: picks every declared "
                  "column; the 10:00 row was not read yet when its own record came");
        spate_driver_destroy(d);
}

#define REEMIT_YAML \
        "application: join-reemit\n" \
        "kafka:\n  bootstrap.servers: 127.0.0.1:1\n" \
        "nodes:\n" \
        "  - name: in\n    type: kafka_source\n    topic: r.in\n    partitions: 2\n" \
        "  - name: look\n    type: join\n    from: in\n    table: st\n    key: st\n" \
        "    fields: {name: name}\n    retention: 1h\n" \
        "  - name: out\n    type: kafka_sink\n    from: look\n    topic: r.out\n    partitions: 1\n" \
        "  - name: st\n    type: table\n    topic: r.st\n    global: true\n    refresh: 100ms\n"

/* The table follows its topic, then the join re-checks at its punctuation. */
static void settle(spate_driver_t *d) {
        spate_driver_advance(d, 1000);
        spate_driver_advance(d, 1000);
}

/* What r.out got since *seen, one value per line. */
static const char *news(spate_driver_t *d, int64_t *seen) {
        static char buf[4096];
        size_t off = 0;
        buf[0] = '\0';
        for (; *seen < spate_driver_count(d, "r.out", 0) && off < sizeof(buf); (*seen)++) {
                const spate_driver_msg_t *m = spate_driver_msg(d, "r.out", 0, *seen);
                off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s %s\n", m->key, m->value);
        }
        return buf;
}

static void commit_all(spate_driver_t *d) {
        int rc = spate_driver_commit(d, SPATE_DRIVER_COMMIT_ALL);
        CHECK(rc == 0, "commit%s%s", rc ? ": " : "", rc ? spate_driver_ctx(d)->errstr : "");
}

/* retention: a result is emitted again when its row arrives or changes,
 * after a kill -9 too (the remembered records are in the store, the table
 * is read again); a newer record of the same key replaces its entry;
 * records older than the retention are forgotten. */
static void test_reemit(void) {
        spate_driver_t *d = driver(REEMIT_YAML);
        char err[512];
        int64_t seen = 0;
        spate_driver_pipe(d, "r.in", 0, "k1", "{\"st\":\"A\",\"v\":1}", 600000);
        spate_driver_pipe(d, "r.in", 1, "k2", "{\"st\":\"B\",\"v\":2}", 600000);
        spate_driver_pipe(d, "r.in", 1, "k3", "{\"v\":3}", 600000);
        spate_driver_process(d);
        CHECK_STR(news(d, &seen), "k1 {\"st\":\"A\",\"v\":1,\"name\":null}\n"
                  "k2 {\"st\":\"B\",\"v\":2,\"name\":null}\nk3 {\"v\":3,\"name\":null}\n",
                  "no rows yet: nulls");
        spate_driver_pipe(d, "r.st", 0, "A", "{\"name\":\"Alpha\"}", 1);
        settle(d);
        CHECK_STR(news(d, &seen), "k1 {\"st\":\"A\",\"v\":1,\"name\":\"Alpha\"}\n",
                  "row A arrives: k1 re-emitted with it, nothing else");
        settle(d);
        CHECK_STR(news(d, &seen), "", "nothing more without a change");
        commit_all(d);
        /* kill -9 with the local state lost: the store comes back from its changelog */
        spate_driver_pipe(d, "r.st", 0, "B", "{\"name\":\"Bravo\"}", 2);
        CHECK(spate_driver_crash(d, 0, err, sizeof(err)) == 0, "crash: %s", err);
        CHECK(spate_driver_assign(d) == 0, "restore: %s", spate_driver_ctx(d)->errstr);
        settle(d);
        CHECK_STR(news(d, &seen), "k2 {\"st\":\"B\",\"v\":2,\"name\":\"Bravo\"}\n",
                  "after kill -9: the row that came meanwhile is re-emitted (k1's row is the one it got)");
        spate_driver_pipe(d, "r.in", 0, "k1", "{\"st\":\"A\",\"v\":10}", 700000);
        spate_driver_process(d);
        spate_driver_pipe(d, "r.st", 0, "A", "{\"name\":\"Alpha2\"}", 3);
        settle(d);
        CHECK_STR(news(d, &seen), "k1 {\"st\":\"A\",\"v\":10,\"name\":\"Alpha\"}\n"
                  "k1 {\"st\":\"A\",\"v\":10,\"name\":\"Alpha2\"}\n",
                  "a changed row: the latest record of k1 re-emitted, not the one it replaced");
        spate_driver_pipe(d, "r.st", 0, "B", NULL, 4);
        settle(d);
        CHECK_STR(news(d, &seen), "k2 {\"st\":\"B\",\"v\":2,\"name\":null}\n",
                  "a deleted row: re-emitted with nulls");
        spate_driver_pipe(d, "r.in", 1, "k2", "{\"st\":\"A\",\"v\":20}", 700000);
        spate_driver_process(d);
        spate_driver_pipe(d, "r.st", 0, "B", "{\"name\":\"Bravo3\"}", 5);
        settle(d);
        CHECK_STR(news(d, &seen), "k2 {\"st\":\"A\",\"v\":20,\"name\":\"Alpha2\"}\n",
                  "a revision naming another row: joined with it; the row it named before changes: nothing");
        /* stream time on partition 0 moves 2 h on: k1's entries fall out of the 1 h retention */
        spate_driver_pipe(d, "r.in", 0, "k9", "{\"v\":9}", 700000 + 7200000);
        spate_driver_process(d);
        spate_driver_pipe(d, "r.st", 0, "A", "{\"name\":\"Alpha3\"}", 6);
        settle(d);
        CHECK_STR(news(d, &seen), "k9 {\"v\":9,\"name\":null}\nk2 {\"st\":\"A\",\"v\":20,\"name\":\"Alpha3\"}\n",
                  "past the retention on partition 0: k1 not re-emitted; k2 of partition 1 is");
        spate_driver_destroy(d);
}

/* Versions of one key: out of order, replaced, pruned by the cutoff. */
static void test_versions(void) {
        spate_buf_t a = { 0 }, b = { 0 };
        size_t rl = 0;
        const char *r;
        spate_table_versions_add(NULL, 0, 1000, "v1", 2, INT64_MIN, &a);
        spate_table_versions_add(a.data, a.len, 5000, "v5", 2, INT64_MIN, &b);
        a.len = 0;
        spate_table_versions_add(b.data, b.len, 3000, "v3", 2, INT64_MIN, &a);  /* out of order */
        b.len = 0;
        spate_table_versions_add(a.data, a.len, 3000, "w3", 2, INT64_MIN, &b);  /* the same time: replaced */
        CHECK(!spate_table_version_at(b.data, b.len, 999, &rl), "before the first version: none");
        r = spate_table_version_at(b.data, b.len, 1000, &rl);
        CHECK(r && rl == 2 && !memcmp(r, "v1", 2), "at its start: v1");
        r = spate_table_version_at(b.data, b.len, 4999, &rl);
        CHECK(r && !memcmp(r, "w3", 2), "between: the one inserted out of order, replaced (w3)");
        r = spate_table_version_at(b.data, b.len, INT64_MAX, &rl);
        CHECK(r && !memcmp(r, "v5", 2), "the latest: v5");
        a.len = 0;
        spate_table_versions_add(b.data, b.len, 9000, "v9", 2, 4000, &a);  /* v1 ended at 3000 <= 4000 */
        CHECK(!spate_table_version_at(a.data, a.len, 2000, &rl) &&
              (r = spate_table_version_at(a.data, a.len, 4000, &rl)) && !memcmp(r, "w3", 2),
              "a version that ended before the cutoff is gone; the one valid at the cutoff stays");
        b.len = 0;
        spate_table_versions_add(a.data, a.len, 2000, "v2", 2, 4000, &b);  /* would end at 3000 */
        CHECK(b.len == a.len, "a write that ended before the cutoff is dropped");
        spate_buf_free(&a);
        spate_buf_free(&b);
}

#define VERSIONED_YAML(history) \
        "application: join-versioned\n" \
        "kafka:\n  bootstrap.servers: 127.0.0.1:1\n" \
        "nodes:\n" \
        "  - name: in\n    type: kafka_source\n    topic: v.in\n    partitions: 1\n    time: t\n" \
        "  - name: look\n    type: join\n    from: in\n    table: cal\n    key: st\n" \
        "    as_of: ts()\n    fields: {offset: offset}\n" \
        "  - name: out\n    type: kafka_sink\n    from: look\n    topic: v.out\n    partitions: 1\n" \
        "  - name: cal\n    type: table\n    topic: v.cal\n    global: true\n    versioned: true\n" \
        "    time: valid_from\n    history_retention: " history "\n"

/* as_of: the version valid at the record's event time (KIP-889). */
static void test_versioned(void) {
        spate_driver_t *d = driver(VERSIONED_YAML("1h"));
        spate_driver_pipe(d, "v.cal", 0, "A", "{\"valid_from\":1000,\"offset\":1}", 1);
        spate_driver_pipe(d, "v.cal", 0, "A", "{\"valid_from\":5000,\"offset\":5}", 2);
        spate_driver_pipe(d, "v.cal", 0, "A", "{\"valid_from\":3000,\"offset\":3}", 3);
        spate_driver_pipe(d, "v.cal", 0, "B", "{\"valid_from\":0,\"offset\":-1}", 4);
        spate_driver_advance(d, 1000);
        spate_driver_pipe(d, "v.in", 0, "r1", "{\"st\":\"A\",\"t\":500}", 0);
        spate_driver_pipe(d, "v.in", 0, "r2", "{\"st\":\"A\",\"t\":1000}", 0);
        spate_driver_pipe(d, "v.in", 0, "r3", "{\"st\":\"A\",\"t\":4999}", 0);
        spate_driver_pipe(d, "v.in", 0, "r4", "{\"st\":\"A\",\"t\":7000}", 0);
        spate_driver_pipe(d, "v.in", 0, "r5", "{\"st\":\"B\",\"t\":7000}", 0);
        spate_driver_process(d);
        CHECK_STR(values(d, "v.out"),
                  "{\"st\":\"A\",\"t\":500,\"offset\":null}\n{\"st\":\"A\",\"t\":1000,\"offset\":1}\n"
                  "{\"st\":\"A\",\"t\":4999,\"offset\":3}\n{\"st\":\"A\",\"t\":7000,\"offset\":5}\n"
                  "{\"st\":\"B\",\"t\":7000,\"offset\":-1}\n",
                  "each record reads the version valid at its time (a version written out of order too)");
        spate_driver_destroy(d);
        d = driver(VERSIONED_YAML("10s"));
        spate_driver_pipe(d, "v.cal", 0, "A", "{\"valid_from\":1000,\"offset\":1}", 1);
        spate_driver_pipe(d, "v.cal", 0, "A", "{\"valid_from\":60000,\"offset\":60}", 2);
        spate_driver_advance(d, 1000);
        spate_driver_pipe(d, "v.in", 0, "r1", "{\"st\":\"A\",\"t\":2000}", 0);
        spate_driver_pipe(d, "v.in", 0, "r2", "{\"st\":\"A\",\"t\":55000}", 0);
        spate_driver_process(d);
        CHECK_STR(values(d, "v.out"),
                  "{\"st\":\"A\",\"t\":2000,\"offset\":null}\n{\"st\":\"A\",\"t\":55000,\"offset\":1}\n",
                  "history_retention 10s behind the latest valid-from (60 s): older times find no row");
        spate_driver_destroy(d);
}

/* global: false (KTable): partition p of the table answers the records of
 * partition p of the stream; a row in another partition is not seen. */
static void test_partitioned(void) {
        spate_driver_t *d = driver(
                "application: join-part\n"
                "kafka:\n  bootstrap.servers: 127.0.0.1:1\n"
                "nodes:\n"
                "  - name: in\n    type: kafka_source\n    topic: p.in\n    partitions: 2\n"
                "  - name: look\n    type: join\n    from: in\n    table: st\n    key: key()\n"
                "    fields: {name: name}\n"
                "  - name: out\n    type: kafka_sink\n    from: look\n    topic: p.out\n    partitions: 1\n"
                "  - name: st\n    type: table\n    topic: p.st\n    partitions: 2\n");
        spate_driver_pipe(d, "p.st", 0, "A", "{\"name\":\"Alpha\"}", 1);
        spate_driver_pipe(d, "p.st", 1, "B", "{\"name\":\"Bravo\"}", 1);
        spate_driver_advance(d, 1000);
        spate_driver_pipe(d, "p.in", 0, "A", "{\"v\":1}", 2);
        spate_driver_pipe(d, "p.in", 1, "B", "{\"v\":2}", 2);
        spate_driver_pipe(d, "p.in", 1, "A", "{\"v\":3}", 2);  /* A's row is in partition 0 */
        spate_driver_process(d);
        CHECK_STR(values(d, "p.out"), "{\"v\":1,\"name\":\"Alpha\"}\n{\"v\":2,\"name\":\"Bravo\"}\n"
                  "{\"v\":3,\"name\":null}\n",
                  "each record reads its partition's rows (not co-partitioned: not found)");
        spate_driver_destroy(d);
}

static void write_file(const char *path, const char *text) {
        FILE *fp = fopen(path, "w");
        if (!fp || fputs(text, fp) < 0 || fclose(fp)) {
                printf("Bail out! cannot write %s\n", path);
                exit(1);
        }
}

static char tmpdir[256];

static const char *tmp(const char *rel) {
        static char buf[4][512];
        static int i;
        char *b = buf[i++ % 4];
        snprintf(b, 512, "%s/%s", tmpdir, rel);
        return b;
}

static char *dir_yaml(void) {
        static char y[2048];
        snprintf(y, sizeof(y),
                 "application: join-dir\n"
                 "kafka:\n  bootstrap.servers: 127.0.0.1:1\n"
                 "nodes:\n"
                 "  - name: in\n    type: kafka_source\n    topic: f.in\n    partitions: 1\n"
                 "  - name: look\n    type: join\n    from: in\n    table: munis\n    key: code\n"
                 "    fields: {muni: name, pop: population}\n"
                 "  - name: out\n    type: kafka_sink\n    from: look\n    topic: f.out\n    partitions: 1\n"
                 "  - name: munis\n    type: table\n    dir: %s\n    key: code\n"
                 "    columns: [code, name, population]\n",
                 tmp("munis"));
        return y;
}

static const char *join_one(spate_driver_t *d, const char *code) {
        char v[128];
        snprintf(v, sizeof(v), "{\"code\":\"%s\"}", code);
        int64_t at = spate_driver_count(d, "f.out", 0);
        spate_driver_pipe(d, "f.in", 0, NULL, v, 1);
        spate_driver_process(d);
        const spate_driver_msg_t *m = spate_driver_msg(d, "f.out", 0, at);
        return m ? m->value : "(no output)";
}

/* Dated folders: the newest with _SUCCESS whose files all parse. */
static void test_dir_versions(void) {
        mkdir(tmp("munis"), 0755);
        mkdir(tmp("munis/2026-12-01"), 0755);
        write_file(tmp("munis/2026-12-01/a.csv"), "\xEF\xBB\xBF" "code,name,population\n"
                   "0001,\"Amsterdam, NH\",905234\n0002,Rotterdam,655468\r\n");
        write_file(tmp("munis/2026-12-01/b.jsonl"), "{\"code\":\"0003\",\"name\":\"Utrecht\",\"population\":361924}\n");
        write_file(tmp("munis/2026-12-01/_SUCCESS"), "");
        mkdir(tmp("munis/2026-11-30"), 0755);  /* older: never loaded */
        write_file(tmp("munis/2026-11-30/a.csv"), "code,name,population\n0001,Old,1\n");
        write_file(tmp("munis/2026-11-30/_SUCCESS"), "");
        spate_driver_t *d = driver(dir_yaml());
        CHECK_STR(join_one(d, "0001"), "{\"code\":\"0001\",\"muni\":\"Amsterdam, NH\",\"pop\":905234}",
                  "CSV row (after a BOM), quoted cell, leading zeros kept");
        CHECK_STR(join_one(d, "0002"), "{\"code\":\"0002\",\"muni\":\"Rotterdam\",\"pop\":655468}", "CRLF line");
        CHECK_STR(join_one(d, "0003"), "{\"code\":\"0003\",\"muni\":\"Utrecht\",\"pop\":361924}", "JSON-lines row");

        /* A newer folder without _SUCCESS is being written: not read. */
        mkdir(tmp("munis/2026-12-03"), 0755);
        write_file(tmp("munis/2026-12-03/a.csv"), "code,name,population\n0001,Half,");
        /* A newer complete folder with a bad line: refused whole, dead-lettered. */
        mkdir(tmp("munis/2026-12-02"), 0755);
        write_file(tmp("munis/2026-12-02/a.csv"), "code,name,population\n0001,Bad,1\n0002,\"open,2\n0004,x\n");
        write_file(tmp("munis/2026-12-02/_SUCCESS"), "");
        spate_driver_advance(d, 1000);
        spate_driver_advance(d, 1000);  /* a refused version is not tried again */
        CHECK_STR(join_one(d, "0001"), "{\"code\":\"0001\",\"muni\":\"Amsterdam, NH\",\"pop\":905234}",
                  "the version held stays");
        CHECK(spate_driver_count(d, "join-dir-dlq", 0) == 2, "two dead letters, one per bad line: %lld",
              (long long)spate_driver_count(d, "join-dir-dlq", 0));
        const spate_driver_msg_t *m = spate_driver_msg(d, "join-dir-dlq", 0, 0);
        char want[1024];
        snprintf(want, sizeof(want), "munis: table munis: %s:3: a quoted cell is not closed on its line",
                 tmp("munis/2026-12-02/a.csv"));
        CHECK_STR(m ? spate_driver_header(m, "spate.error") : NULL, want, "file:line and reason");
        CHECK_STR(m ? m->value : NULL, "0002,\"open,2", "the bad line is the dead letter's value");
        CHECK_STR(m ? spate_driver_header(m, "spate.offset") : NULL, "3", "its line as the offset");
        m = spate_driver_msg(d, "join-dir-dlq", 0, 1);
        snprintf(want, sizeof(want), "munis: table munis: %s:4: 2 cells, the header has 3",
                 tmp("munis/2026-12-02/a.csv"));
        CHECK_STR(m ? spate_driver_header(m, "spate.error") : NULL, want, "second bad line");

        /* The unfinished folder completes: it is newer than the refused one and wins. */
        write_file(tmp("munis/2026-12-03/a.csv"), "code,name,population\n0001,Amsterdam,931298\n");
        write_file(tmp("munis/2026-12-03/_SUCCESS"), "");
        spate_driver_advance(d, 1000);
        CHECK_STR(join_one(d, "0001"), "{\"code\":\"0001\",\"muni\":\"Amsterdam\",\"pop\":931298}",
                  "the newer complete version replaced the old one");
        CHECK_STR(join_one(d, "0002"), "{\"code\":\"0002\",\"muni\":null,\"pop\":null}",
                  "a row the new version lacks is gone");
        CHECK(spate_driver_count(d, "join-dir-dlq", 0) == 2, "no more dead letters");
        spate_driver_destroy(d);
}

/* version_as: each row carries the name of the dated folder it came from; a newer folder's rows
 * the newer name. Only a dir: table has one. */
static void test_dir_version_as(void) {
        char y[2048], err[1024];
        const char *head = "application: join-ver\n"
                           "kafka:\n  bootstrap.servers: 127.0.0.1:1\n"
                           "nodes:\n"
                           "  - name: in\n    type: kafka_source\n    topic: f.in\n    partitions: 1\n"
                           "  - name: look\n    type: join\n    from: in\n    table: vers\n    key: code\n"
                           "    fields: {muni: name, side: as_of}\n"
                           "  - name: out\n    type: kafka_sink\n    from: look\n    topic: f.out\n    partitions: 1\n"
                           "  - name: vers\n    type: table\n";
        mkdir(tmp("vers"), 0755);
        mkdir(tmp("vers/2026-12-01"), 0755);
        write_file(tmp("vers/2026-12-01/a.csv"), "code,name\n0001,Brest\n");
        write_file(tmp("vers/2026-12-01/_SUCCESS"), "");
        snprintf(y, sizeof(y), "%s    dir: %s\n    key: code\n    version_as: as_of\n    columns: [name, as_of]\n",
                 head, tmp("vers"));
        spate_driver_t *d = driver(y);
        CHECK_STR(join_one(d, "0001"), "{\"code\":\"0001\",\"muni\":\"Brest\",\"side\":\"2026-12-01\"}",
                  "the row names its folder (declared in columns:, absent from the CSV header)");
        CHECK_STR(join_one(d, "0002"), "{\"code\":\"0002\",\"muni\":null,\"side\":null}",
                  "no row: no version either");
        mkdir(tmp("vers/2026-12-02"), 0755);
        write_file(tmp("vers/2026-12-02/a.jsonl"), "{\"code\":\"0001\",\"name\":\"Brest (29)\"}\n");
        write_file(tmp("vers/2026-12-02/_SUCCESS"), "");
        spate_driver_advance(d, 1000);
        CHECK_STR(join_one(d, "0001"), "{\"code\":\"0001\",\"muni\":\"Brest (29)\",\"side\":\"2026-12-02\"}",
                  "a JSON-lines row of the newer folder names it");
        spate_driver_destroy(d);
        snprintf(y, sizeof(y), "%s    file: %s/vers/2026-12-01/a.csv\n    key: code\n    version_as: as_of\n",
                 head, tmpdir);
        d = spate_driver_new(y, 1000000, err, sizeof(err));
        CHECK(!d && strstr(err, "version_as names the dated subfolder of a row: it needs dir:, not file:"),
              "version_as on a file table fails at load: %s", d ? "(loaded)" : err);
        spate_driver_destroy(d);
}

/* One file, replaced in place: a malformed rewrite keeps the rows held. */
static void test_file(void) {
        char y[2048];
        write_file(tmp("st.jsonl"), "{\"id\":1,\"name\":\"one\"}\n{\"id\":2,\"name\":\"two\"}\n");
        snprintf(y, sizeof(y),
                 "application: join-file\n"
                 "kafka:\n  bootstrap.servers: 127.0.0.1:1\n"
                 "nodes:\n"
                 "  - name: in\n    type: kafka_source\n    topic: g.in\n    partitions: 1\n"
                 "  - name: look\n    type: join\n    from: in\n    table: st\n    key: id\n    how: inner\n"
                 "    fields: {name: name}\n"
                 "  - name: out\n    type: kafka_sink\n    from: look\n    topic: g.out\n    partitions: 1\n"
                 "  - name: st\n    type: table\n    file: %s\n    key: id\n", tmp("st.jsonl"));
        spate_driver_t *d = driver(y);
        spate_driver_pipe(d, "g.in", 0, NULL, "{\"id\":2}", 1);
        spate_driver_process(d);
        write_file(tmp("st.jsonl"), "{\"id\":1,\"name\":\"uno\"}\n{\"id\":2,\"name\":\n");
        struct timespec ts[2] = { { 0, UTIME_NOW }, { time(NULL) + 5, 0 } };
        utimensat(AT_FDCWD, tmp("st.jsonl"), ts, 0);  /* a new mtime even within one clock tick */
        spate_driver_advance(d, 1000);
        spate_driver_pipe(d, "g.in", 0, NULL, "{\"id\":1}", 2);
        spate_driver_process(d);
        CHECK_STR(values(d, "g.out"), "{\"id\":2,\"name\":\"two\"}\n{\"id\":1,\"name\":\"one\"}\n",
                  "numeric key; the malformed rewrite did not replace the table");
        CHECK(spate_driver_count(d, "join-file-dlq", 0) == 1, "the bad line is dead-lettered");
        spate_driver_destroy(d);
}

/* The store: puts, replaces, deletes (backward shift keeps every other key
 * reachable), swap. */
static void test_store(void) {
        spate_table_t *t = spate_table_new(), *u = spate_table_new();
        char k[32], v[32];
        size_t vl;
        for (int i = 0; i < 5000; i++) {
                int kl = snprintf(k, sizeof(k), "key%d", i), n = snprintf(v, sizeof(v), "v%d", i);
                spate_table_put(t, k, (size_t)kl, v, (size_t)n);
        }
        int bad = 0;
        for (int i = 0; i < 5000; i += 2)
                bad += spate_table_delete(t, k, (size_t)snprintf(k, sizeof(k), "key%d", i)) != 1;
        for (int i = 0; i < 5000; i++) {
                int kl = snprintf(k, sizeof(k), "key%d", i), n = snprintf(v, sizeof(v), "v%d", i);
                const char *got = spate_table_get(t, k, (size_t)kl, &vl);
                bad += i % 2 ? !got || vl != (size_t)n || memcmp(got, v, vl) : got != NULL;
        }
        CHECK(!bad && spate_table_count(t) == 2500, "2500 left after deleting every even key (%d wrong)", bad);
        CHECK(spate_table_delete(t, "key0", 4) == 0, "deleting a missing key");
        spate_table_put(u, "x", 1, "1", 1);
        spate_table_swap(t, u);
        CHECK(spate_table_count(t) == 1 && spate_table_get(t, "x", 1, &vl) && spate_table_count(u) == 2500, "swap");
        spate_table_destroy(t);
        spate_table_destroy(u);
}

static void load_fails(const char *yaml, const char *want, const char *what) {
        char err[1024];
        spate_driver_t *d = spate_driver_new(yaml, 1000000, err, sizeof(err));
        CHECK(!d && strstr(err, want), "%s: %s", what, d ? "(loaded)" : err);
        if (d)
                spate_driver_destroy(d);
}

#define BAD_HEAD "application: bad\nkafka:\n  bootstrap.servers: 127.0.0.1:1\nnodes:\n" \
        "  - name: in\n    type: kafka_source\n    topic: b.in\n"
#define BAD_TABLE "  - name: st\n    type: table\n    topic: b.st\n    global: true\n    columns: [name]\n"

static void test_load_errors(void) {
        load_fails(BAD_HEAD "  - name: j\n    type: join\n    from: in\n    table: sst\n    key: id\n"
                   "    fields: {n: name}\n" BAD_TABLE,
                   ":11:12: join node 'j': 'table: sst' names no node of type table; did you mean 'st'?",
                   "unknown table");
        load_fails(BAD_HEAD "  - name: j\n    type: join\n    from: in\n    table: st\n    key: id\n"
                   "    fields: {n: nmae}\n" BAD_TABLE,
                   ":13:17: join node 'j': table 'st' has no column 'nmae' (its columns: name)",
                   "a column the table does not declare");
        load_fails(BAD_HEAD "  - name: j\n    type: join\n    from: in\n    table: st\n    key: id\n"
                   "    fields: {n: name}\n  - name: st\n    type: table\n    topic: b.st\n",
                   "its topic needs as many partitions as the stream's kafka_source 'in' (8, not 1)",
                   "a partitioned table with another partition count than the stream");
        load_fails(BAD_HEAD "  - name: st\n    type: table\n    file: /nonexistent/x.csv\n    key: id\n",
                   "/nonexistent/x.csv: No such file or directory", "a missing file");
        load_fails(BAD_HEAD "  - name: j\n    type: join\n    from: st\n    table: st\n    key: id\n" BAD_TABLE,
                   "a table is read by join nodes", "from: a table");
        load_fails(BAD_HEAD "  - name: j\n    type: join\n    from: in\n    table: st\n    key: id\n"
                   "    how: inner\n    retention: 1h\n" BAD_TABLE,
                   ":14:16: join node 'j': 'retention' re-emits left join results", "retention on an inner join");
        load_fails(BAD_HEAD "  - name: w\n    type: window\n    from: in\n    window: tumbling\n    size: 1m\n"
                   "    aggregates: {n: count()}\n"
                   "  - name: j\n    type: join\n    from: w\n    table: st\n    key: key\n"
                   "    retention: 1h\n" BAD_TABLE,
                   "a store needs the records of a source, not the outputs of window 'w'", "retention after a window");
        load_fails(BAD_HEAD "  - name: j\n    type: join\n    from: in\n    table: st\n    key: id\n"
                   "    as_of: ts()\n" BAD_TABLE,
                   "'as_of' reads a versioned table; table 'st' keeps the latest row only", "as_of, no versions");
        load_fails(BAD_HEAD "  - name: st\n    type: table\n    topic: b.st\n    global: true\n    versioned: true\n",
                   "a versioned table needs 'time:'", "versioned without time");
        load_fails(BAD_HEAD "  - name: st\n    type: table\n    file: /etc/hostname\n    key: id\n    versioned: true\n",
                   "a versioned table reads a topic", "versioned files");
}

int main(void) {
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/spate-join-test.XXXXXX");
        if (!mkdtemp(tmpdir)) {
                printf("Bail out! mkdtemp\n");
                return 1;
        }
        test_store();
        test_left();
        test_inner();
        test_topic_key();
        test_fanout();
        test_as_of();
        test_reemit();
        test_versions();
        test_versioned();
        test_partitioned();
        test_dir_versions();
        test_dir_version_as();
        test_file();
        test_load_errors();
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
        if (system(cmd))
                printf("# could not remove %s\n", tmpdir);
        return CHECK_DONE();
}
