/* sql_loop.c - the SQL sink benchmark's baseline: a plain C loop doing the
 * inserts spate's sql_sink does (upsert by sensor, or append), with the same
 * technique (SQLite: one prepared statement, bound and stepped per row;
 * PostgreSQL: prepared statements in pipeline mode, a sync every 1,000 rows),
 * one transaction per 20,000 rows, rows made in memory (no Kafka, no JSON).
 * usage: sql_loop sqlite|postgres FILE|URL upsert|append N
 *   -> prints "loop: N rows in T s = R rows/s" */
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TXN 20000
#define SYNC 1000

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct row {
        char sensor[8], region[32], ts[32], temp[24], humidity[24];
} row_t;

static const char *const regions[] = { "Bretagne", "Corse", "Grand Est", "Normandie", "Occitanie" };

static void make_row(row_t *r, long i) {
        time_t t = 1700000000 + i / 10;
        struct tm tm;
        gmtime_r(&t, &tm);
        int s = rand() % 20000;
        snprintf(r->sensor, sizeof(r->sensor), "s%05d", s);
        snprintf(r->region, sizeof(r->region), "%s", regions[s % 5]);
        strftime(r->ts, sizeof(r->ts), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(r->ts + strlen(r->ts), sizeof(r->ts) - strlen(r->ts), ".%03ldZ", (i % 10) * 100);
        snprintf(r->temp, sizeof(r->temp), "%.2f", -5 + rand() % 4000 / 100.0);
        snprintf(r->humidity, sizeof(r->humidity), "%.1f", 20 + rand() % 750 / 10.0);
}

static const char *ddl(int pg, int upsert) {
        if (pg)
                return upsert ? "CREATE TABLE loop_upsert (sensor text PRIMARY KEY, region text, ts timestamptz, "
                                "temp double precision, humidity double precision)"
                              : "CREATE TABLE loop_append (sensor text, region text, ts timestamptz, temp double "
                                "precision, humidity double precision, PRIMARY KEY (sensor, ts))";
        return upsert ? "CREATE TABLE loop_upsert (sensor TEXT PRIMARY KEY, region TEXT, ts TEXT, temp REAL, "
                        "humidity REAL) STRICT"
                      : "CREATE TABLE loop_append (sensor TEXT, region TEXT, ts TEXT, temp REAL, humidity REAL, "
                        "PRIMARY KEY (sensor, ts)) STRICT";
}

static const char *insert(int pg, int upsert) {
        if (!upsert)
                return pg ? "INSERT INTO loop_append VALUES ($1, $2, $3, $4, $5)"
                          : "INSERT INTO loop_append VALUES (?, ?, ?, ?, ?)";
        return pg ? "INSERT INTO loop_upsert VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sensor) DO UPDATE SET "
                    "region = excluded.region, ts = excluded.ts, temp = excluded.temp, humidity = excluded.humidity"
                  : "INSERT INTO loop_upsert VALUES (?, ?, ?, ?, ?) ON CONFLICT (sensor) DO UPDATE SET "
                    "region = excluded.region, ts = excluded.ts, temp = excluded.temp, humidity = excluded.humidity";
}

static int run_sqlite(const char *path, int upsert, long n) {
        sqlite3 *db;
        sqlite3_stmt *st;
        row_t r;
        if (sqlite3_open(path, &db) != SQLITE_OK)
                return fprintf(stderr, "open: %s\n", sqlite3_errmsg(db)), 1;
        sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        sqlite3_exec(db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
        if (sqlite3_exec(db, ddl(0, upsert), NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, insert(0, upsert), -1, &st, NULL) != SQLITE_OK)
                return fprintf(stderr, "%s\n", sqlite3_errmsg(db)), 1;
        for (long i = 0; i < n; i++) {
                if (i % TXN == 0)
                        sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
                make_row(&r, i);
                sqlite3_bind_text(st, 1, r.sensor, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, r.region, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 3, r.ts, -1, SQLITE_STATIC);
                sqlite3_bind_double(st, 4, atof(r.temp));
                sqlite3_bind_double(st, 5, atof(r.humidity));
                if (sqlite3_step(st) != SQLITE_DONE)
                        return fprintf(stderr, "insert: %s\n", sqlite3_errmsg(db)), 1;
                sqlite3_reset(st);
                if (i % TXN == TXN - 1 || i == n - 1)
                        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
        return 0;
}

static int drain(PGconn *c, int cmds) {
        for (int k = 0; k < cmds; k++) {
                PGresult *r = PQgetResult(c);
                if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
                        return fprintf(stderr, "insert: %s\n", r ? PQresultErrorMessage(r) : PQerrorMessage(c)), -1;
                PQclear(r);
                PQclear(PQgetResult(c));
        }
        PGresult *r = PQgetResult(c);  /* the sync */
        PQclear(r);
        return 0;
}

static int run_pg(const char *url, int upsert, long n) {
        PGconn *c = PQconnectdb(url);
        row_t r;
        if (PQstatus(c) != CONNECTION_OK)
                return fprintf(stderr, "connect: %s\n", PQerrorMessage(c)), 1;
        PQclear(PQexec(c, ddl(1, upsert)));
        PQclear(PQprepare(c, "ins", insert(1, upsert), 5, NULL));
        for (long i = 0; i < n;) {
                PQclear(PQexec(c, "BEGIN"));
                long end = i + TXN < n ? i + TXN : n;
                while (i < end) {
                        int cmds = 0;
                        PQenterPipelineMode(c);
                        for (; i < end && cmds < SYNC; i++, cmds++) {
                                make_row(&r, i);
                                const char *v[5] = { r.sensor, r.region, r.ts, r.temp, r.humidity };
                                PQsendQueryPrepared(c, "ins", 5, v, NULL, NULL, 0);
                        }
                        PQpipelineSync(c);
                        if (drain(c, cmds))
                                return 1;
                        PQexitPipelineMode(c);
                }
                PQclear(PQexec(c, "COMMIT"));
        }
        PQfinish(c);
        return 0;
}

int main(int argc, char **argv) {
        if (argc != 5) {
                fprintf(stderr, "usage: sql_loop sqlite|postgres FILE|URL upsert|append N\n");
                return 2;
        }
        int pg = !strcmp(argv[1], "postgres"), upsert = !strcmp(argv[3], "upsert");
        long n = atol(argv[4]);
        srand(8);
        double t0 = now();
        int rc = pg ? run_pg(argv[2], upsert, n) : run_sqlite(argv[2], upsert, n);
        double t = now() - t0;
        if (!rc)
                printf("loop: %ld rows in %.3f s = %.0f rows/s\n", n, t, (double)n / t);
        return rc;
}
