/* test_sql_replay.c - sql_sink `upsert` through a replay, in the test driver
 * with a real SQLite file: rows committed to the database whose input
 * offsets were not committed (a kill -9 between the two) are replayed, and
 * the replay must never put a key's older row back over its newer one, not
 * even until it catches up. Checked after every replayed record's commit,
 * against the newest value each key had in the database before the crash. */
#include "check.h"
#include "../driver/driver.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NREC 6

static char db_path[256];

/* The value the table holds for sensor s (-1: no row). */
static long long value_of(const char *s) {
        sqlite3 *db;
        sqlite3_stmt *st;
        long long v = -1;
        if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(db, "SELECT v FROM latest WHERE sensor = ?", -1, &st, NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, s, -1, SQLITE_STATIC);
                if (sqlite3_step(st) == SQLITE_ROW)
                        v = sqlite3_column_int64(st, 0);
                sqlite3_finalize(st);
        }
        sqlite3_close(db);
        return v;
}

int main(void) {
        char dir[] = "/tmp/spate-sql-replay.XXXXXX", yaml[1024], err[512];
        CHECK(mkdtemp(dir) != NULL, "temp dir");
        snprintf(db_path, sizeof(db_path), "%s/r.db", dir);
        snprintf(yaml, sizeof(yaml),
                 "application: sql-replay\n"
                 "kafka:\n  bootstrap.servers: 127.0.0.1:1\n"
                 "nodes:\n"
                 "  - name: in\n    type: kafka_source\n    topic: r.in\n    partitions: 1\n"
                 "  - name: latest\n    type: sql_sink\n    from: in\n    backend: sqlite\n"
                 "    database: %s\n    table: latest\n    mode: upsert\n    key: [sensor]\n"
                 "    columns:\n      sensor: text not null\n      v: bigint not null\n",
                 db_path);
        spate_driver_t *d = spate_driver_new_or_bail(yaml, 1700000000000);
        /* Two sensors, each rising: a and b take turns. */
        for (int i = 0; i < NREC; i++) {
                char v[64];
                snprintf(v, sizeof(v), "{\"sensor\":\"%c\",\"v\":%d}", i % 2 ? 'b' : 'a', i + 1);
                spate_driver_pipe(d, "r.in", 0, NULL, v, 1700000000000 + i);
        }
        CHECK(spate_driver_process(d) == NREC, "the %d records processed", NREC);
        /* The SQL transaction is committed, the input offsets are not. */
        CHECK(spate_driver_commit(d, SPATE_DRIVER_AFTER_CHECKPOINT) == 0, "rows committed to SQLite");
        long long a = value_of("a"), b = value_of("b");
        CHECK(a == NREC - 1 && b == NREC, "before the crash: a %lld, b %lld", a, b);
        CHECK(spate_driver_committed(d, "r.in", 0) <= 0, "input offsets not committed");
        CHECK(spate_driver_crash(d, 1, err, sizeof(err)) == 0, "kill -9: %s", err);
        CHECK(spate_driver_assign(d) == 0, "restart");
        int back = 0, replayed = 0;
        for (int i = 0; i < NREC; i++) {
                replayed += (int)spate_driver_process_max(d, 1);
                CHECK(spate_driver_commit(d, SPATE_DRIVER_COMMIT_ALL) == 0, "replayed record %d committed", i + 1);
                back += value_of("a") != a || value_of("b") != b;
        }
        CHECK(replayed == NREC, "every record replayed (%d)", replayed);
        CHECK(back == 0, "no replayed record put an older row back (%d commits saw one)", back);
        CHECK(value_of("a") == a && value_of("b") == b, "after the replay: a %lld, b %lld", value_of("a"),
              value_of("b"));
        spate_driver_destroy(d);
        unlink(db_path);
        rmdir(dir);
        return CHECK_DONE();
}
