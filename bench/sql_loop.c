/* sql_loop.c - the SQL sink benchmark's baseline: a plain C loop doing the
 * inserts spate's sql_sink does (upsert by sensor, or append), with the same
 * technique (SQLite: one prepared statement, bound and stepped per row;
 * PostgreSQL, spate's way for batches of 1,000 rows or more: COPY of the
 * transaction's rows into the table (append) or into a temporary stage table
 * merged with INSERT ... SELECT DISTINCT ON (sensor) ... ON CONFLICT DO UPDATE
 * (upsert); with `pipeline`, spate's way for smaller batches: prepared INSERTs
 * of up to 100 rows - cut where a sensor would repeat, which one upsert
 * statement cannot take - in pipeline mode, a sync every 1,000 rows),
 * one transaction per 20,000 rows, rows made in memory (no Kafka, no JSON).
 * usage: sql_loop sqlite|postgres FILE|URL upsert|append N [pipeline]
 *   -> prints "loop: N rows in T s = R rows/s" */
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TXN 20000
#define SYNC 1000
#define GROUP 100

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

/* INSERT of n rows: placeholders ? (SQLite, n = 1) or $k. */
static void insert(char *buf, size_t size, int pg, int upsert, int n) {
        size_t off = (size_t)snprintf(buf, size, "INSERT INTO %s VALUES ", upsert ? "loop_upsert" : "loop_append");
        for (int r = 0; r < n; r++)
                for (int c = 0; c < 5; c++) {
                        if (pg)
                                off += (size_t)snprintf(buf + off, size - off, "%s$%d%s", c ? ", " : r ? ", (" : "(",
                                                        r * 5 + c + 1, c == 4 ? ")" : "");
                        else
                                off += (size_t)snprintf(buf + off, size - off, "%s?%s", c ? ", " : "(", c == 4 ? ")" : "");
                }
        if (upsert)
                snprintf(buf + off, size - off, " ON CONFLICT (sensor) DO UPDATE SET region = excluded.region, "
                         "ts = excluded.ts, temp = excluded.temp, humidity = excluded.humidity");
}

static int run_sqlite(const char *path, int upsert, long n) {
        sqlite3 *db;
        sqlite3_stmt *st;
        row_t r;
        char sql[512];
        if (sqlite3_open(path, &db) != SQLITE_OK)
                return fprintf(stderr, "open: %s\n", sqlite3_errmsg(db)), 1;
        sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        sqlite3_exec(db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
        if (sqlite3_exec(db, ddl(0, upsert), NULL, NULL, NULL) != SQLITE_OK ||
            (insert(sql, sizeof(sql), 0, upsert, 1), sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
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

/* Prepares the INSERT of n rows once (outside pipeline mode). */
static void prepare(PGconn *c, int n, int upsert, char *prepared) {
        char name[16], sql[GROUP * 40 + 256];
        if (prepared[n])
                return;
        snprintf(name, sizeof(name), "ins%d", n);
        insert(sql, sizeof(sql), 1, upsert, n);
        PQclear(PQprepare(c, name, sql, n * 5, NULL));
        prepared[n] = 1;
}

/* Queues rows [0, n) of g as one INSERT. */
static void send_group(PGconn *c, const row_t *g, int n) {
        const char *v[GROUP * 5];
        char name[16];
        snprintf(name, sizeof(name), "ins%d", n);
        for (int r = 0; r < n; r++) {
                v[r * 5] = g[r].sensor;
                v[r * 5 + 1] = g[r].region;
                v[r * 5 + 2] = g[r].ts;
                v[r * 5 + 3] = g[r].temp;
                v[r * 5 + 4] = g[r].humidity;
        }
        PQsendQueryPrepared(c, name, n * 5, v, NULL, NULL, 0);
}

static int run_pg(const char *url, int upsert, long n) {
        PGconn *c = PQconnectdb(url);
        static row_t g[SYNC];
        char prepared[GROUP + 1] = { 0 };
        if (PQstatus(c) != CONNECTION_OK)
                return fprintf(stderr, "connect: %s\n", PQerrorMessage(c)), 1;
        PQclear(PQexec(c, ddl(1, upsert)));
        for (long i = 0; i < n;) {
                PQclear(PQexec(c, "BEGIN"));
                long end = i + TXN < n ? i + TXN : n;
                while (i < end) {
                        int rows = 0, start = 0, cmds = 0;
                        for (; i < end && rows < SYNC; i++)
                                make_row(&g[rows++], i);
                        /* Statements are prepared outside the pipeline: size them first. */
                        int sizes[SYNC], ngroups = 0;
                        for (int r = 0; r < rows; r++) {
                                int cut = r - start == GROUP;
                                for (int k = start; !cut && upsert && k < r; k++)
                                        cut = !strcmp(g[k].sensor, g[r].sensor);
                                if (cut) {
                                        sizes[ngroups++] = r - start;
                                        start = r;
                                }
                        }
                        sizes[ngroups++] = rows - start;
                        for (int k = 0; k < ngroups; k++)
                                prepare(c, sizes[k], upsert, prepared);
                        PQenterPipelineMode(c);
                        for (int k = 0, first = 0; k < ngroups; first += sizes[k++], cmds++)
                                send_group(c, g + first, sizes[k]);
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

static int ok(PGconn *c, PGresult *r, ExecStatusType want, const char *what) {
        int good = r && PQresultStatus(r) == want;
        if (!good)
                fprintf(stderr, "%s: %s\n", what, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
        PQclear(r);
        return good;
}

/* One transaction's rows [i, end) by COPY (text format, the row number last for the stage). */
static int copy_txn(PGconn *c, int upsert, long i, long end) {
        static char buf[1 << 16];
        size_t len = 0;
        row_t r;
        if (!ok(c, PQexec(c, upsert ? "COPY stage FROM STDIN" : "COPY loop_append FROM STDIN"), PGRES_COPY_IN, "copy"))
                return -1;
        for (; i < end; i++) {
                make_row(&r, i);
                if (len > sizeof(buf) - 256) {
                        PQputCopyData(c, buf, (int)len);
                        len = 0;
                }
                len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s\t%s\t%s\t%s\t%s", r.sensor, r.region, r.ts,
                                        r.temp, r.humidity);
                len += (size_t)(upsert ? snprintf(buf + len, sizeof(buf) - len, "\t%ld\n", i)
                                       : snprintf(buf + len, sizeof(buf) - len, "\n"));
        }
        PQputCopyData(c, buf, (int)len);
        PQputCopyEnd(c, NULL);
        if (!ok(c, PQgetResult(c), PGRES_COMMAND_OK, "copy"))
                return -1;
        PQclear(PQgetResult(c));
        return upsert && !ok(c, PQexec(c, "INSERT INTO loop_upsert SELECT DISTINCT ON (sensor) sensor, region, ts, "
                                          "temp, humidity FROM stage ORDER BY sensor, seq DESC ON CONFLICT (sensor) "
                                          "DO UPDATE SET region = excluded.region, ts = excluded.ts, temp = "
                                          "excluded.temp, humidity = excluded.humidity; TRUNCATE stage"),
                             PGRES_COMMAND_OK, "merge") ? -1 : 0;
}

static int run_pg_copy(const char *url, int upsert, long n) {
        PGconn *c = PQconnectdb(url);
        if (PQstatus(c) != CONNECTION_OK)
                return fprintf(stderr, "connect: %s\n", PQerrorMessage(c)), 1;
        PQclear(PQexec(c, ddl(1, upsert)));
        if (upsert)
                PQclear(PQexec(c, "CREATE TEMP TABLE stage (LIKE loop_upsert INCLUDING CONSTRAINTS, seq bigint)"));
        for (long i = 0; i < n; i += TXN) {
                PQclear(PQexec(c, "BEGIN"));
                if (copy_txn(c, upsert, i, i + TXN < n ? i + TXN : n))
                        return 1;
                PQclear(PQexec(c, "COMMIT"));
        }
        PQfinish(c);
        return 0;
}

int main(int argc, char **argv) {
        if (argc != 5 && !(argc == 6 && !strcmp(argv[5], "pipeline"))) {
                fprintf(stderr, "usage: sql_loop sqlite|postgres FILE|URL upsert|append N [pipeline]\n");
                return 2;
        }
        int pg = !strcmp(argv[1], "postgres"), upsert = !strcmp(argv[3], "upsert");
        long n = atol(argv[4]);
        srand(8);
        double t0 = now();
        int rc = !pg ? run_sqlite(argv[2], upsert, n) : argc == 6 ? run_pg(argv[2], upsert, n)
                                                                  : run_pg_copy(argv[2], upsert, n);
        double t = now() - t0;
        if (!rc)
                printf("loop: %ld rows in %.3f s = %.0f rows/s\n", n, t, (double)n / t);
        return rc;
}
