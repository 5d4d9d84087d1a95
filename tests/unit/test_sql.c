/* test_sql.c - unit tests of sql_sink's SQL text (connectors/sql/sql_text.c): column types, CREATE
 * TABLE and INSERT/upsert in both dialects, password masking, and SQLite's STRICT tables and
 * upsert on a real in-memory database; record values converted to cells; newer_by; history_key
 * through the SQLite backend itself. */
#include "check.h"
#include "../../connectors/sql/sql.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_types(void) {
        sql_type_t t;
        const char *extra;
        CHECK(!spate_sql_parse_type("double not null check (t > -90)", &t, &extra) && t == SQL_T_DOUBLE &&
              !strcmp(extra, "not null check (t > -90)"), "type and constraints split");
        CHECK(!spate_sql_parse_type("BIGINT", &t, &extra) && t == SQL_T_BIGINT && !*extra, "case-insensitive type");
        CHECK(spate_sql_parse_type("float", &t, &extra) == -1, "unknown type refused");
        CHECK(spate_sql_type_fits(SQL_DIALECT_PG, SQL_T_TEXT, "character varying"), "varchar holds text");
        CHECK(spate_sql_type_fits(SQL_DIALECT_PG, SQL_T_TIMESTAMP, "timestamp with time zone"), "timestamptz");
        CHECK(!spate_sql_type_fits(SQL_DIALECT_PG, SQL_T_BIGINT, "text"), "text does not hold bigint");
        CHECK(spate_sql_type_fits(SQL_DIALECT_SQLITE, SQL_T_BOOL, "INTEGER"), "SQLite: booleans in INTEGER");
        CHECK(!spate_sql_type_fits(SQL_DIALECT_PG, SQL_T_BOOL, "bigint"), "PostgreSQL: boolean wants boolean");
}

static void test_mask(void) {
        char out[256];
        spate_sql_mask("postgresql://spate:s3cr:et@db:5432/x?sslmode=off", out, sizeof(out));
        CHECK_STR(out, "postgresql://spate:***@db:5432/x?sslmode=off", "URL password masked");
        spate_sql_mask("postgresql://spate@db/x", out, sizeof(out));
        CHECK_STR(out, "postgresql://spate@db/x", "URL without password unchanged");
        spate_sql_mask("host=db password='a b\\'c' dbname=x", out, sizeof(out));
        CHECK_STR(out, "host=db password=*** dbname=x", "quoted conninfo password masked");
        spate_sql_mask("host=db password=abc", out, sizeof(out));
        CHECK_STR(out, "host=db password=***", "conninfo password masked");
}

static sql_col_t cols[] = { { "sensor", SQL_T_TEXT, "not null" }, { "temp", SQL_T_DOUBLE, "check (temp > -100)" },
                            { "n", SQL_T_BIGINT, "" } };
static int key[] = { 0 };

static void test_text(void) {
        sql_table_t t = { .table = "t", .current = "t_current", .version_col = "version", .cols = cols, .ncols = 3,
                          .key = key, .nkey = 1, .mode = SQL_UPSERT };
        spate_buf_t b = { 0 };
        spate_sql_create(&b, SQL_DIALECT_PG, &t, "t", 0, 1);
        CHECK_STR(b.data, "CREATE TABLE IF NOT EXISTS \"t\" (\"sensor\" text not null, \"temp\" double precision "
                  "check (temp > -100), \"n\" bigint, PRIMARY KEY (\"sensor\"))", "PostgreSQL CREATE TABLE");
        b.len = 0;
        spate_sql_insert(&b, SQL_DIALECT_PG, &t, "t", 0, 1, 2);
        CHECK_STR(b.data, "INSERT INTO \"t\" (\"sensor\", \"temp\", \"n\") VALUES ($1, $2, $3), ($4, $5, $6) "
                  "ON CONFLICT (\"sensor\") DO UPDATE SET \"temp\" = excluded.\"temp\", \"n\" = excluded.\"n\"",
                  "PostgreSQL two-row upsert");
        b.len = 0;
        spate_sql_insert(&b, SQL_DIALECT_SQLITE, &t, "h", 1, 0, 1);
        CHECK_STR(b.data, "INSERT INTO \"h\" (\"sensor\", \"temp\", \"n\", \"version\") VALUES (?, ?, ?, ?)",
                  "SQLite versioned history insert");
        b.len = 0;
        spate_sql_copy(&b, &t, "stage", "seq");
        CHECK_STR(b.data, "COPY \"stage\" (\"sensor\", \"temp\", \"n\", \"seq\") FROM STDIN",
                  "PostgreSQL COPY into the stage, with the row's place");
        b.len = 0;
        spate_sql_merge(&b, &t, "stage", "seq");
        CHECK_STR(b.data, "INSERT INTO \"t\" (\"sensor\", \"temp\", \"n\") SELECT DISTINCT ON (\"sensor\") "
                  "\"sensor\", \"temp\", \"n\" FROM \"stage\" ORDER BY \"sensor\", \"seq\" DESC "
                  "ON CONFLICT (\"sensor\") DO UPDATE SET \"temp\" = excluded.\"temp\", \"n\" = excluded.\"n\"",
                  "PostgreSQL merge of the stage: each key's last row");
        b.len = 0;
        spate_sql_copy_field(&b, "a\tb\nc\\d\re", 9);
        spate_buf_putc(&b, '|');
        spate_sql_copy_field(&b, NULL, 0);
        spate_buf_putc(&b, '|');
        spate_sql_copy_field(&b, "plain", 5);
        spate_buf_putc(&b, '\0');
        CHECK_STR(b.data, "a\\tb\\nc\\\\d\\re|\\N|plain", "COPY text escapes tab, newline, backslash, CR; NULL is \\N");
        spate_buf_free(&b);
}

/* The generated SQL on a real SQLite: STRICT rejects a wrong type, CHECK a bad value, the upsert updates. */
static void test_sqlite(void) {
        sql_table_t t = { .table = "t", .cols = cols, .ncols = 3, .key = key, .nkey = 1, .mode = SQL_UPSERT };
        spate_buf_t b = { 0 };
        sqlite3 *db;
        sqlite3_stmt *st;
        sqlite3_open(":memory:", &db);
        spate_sql_create(&b, SQL_DIALECT_SQLITE, &t, "t", 0, 1);
        CHECK(sqlite3_exec(db, b.data, NULL, NULL, NULL) == SQLITE_OK, "CREATE ... STRICT runs: %s", sqlite3_errmsg(db));
        b.len = 0;
        spate_sql_insert(&b, SQL_DIALECT_SQLITE, &t, "t", 0, 1, 1);
        CHECK(sqlite3_exec(db, "INSERT INTO t VALUES ('a', 1.5, 1)", NULL, NULL, NULL) == SQLITE_OK, "insert");
        CHECK(sqlite3_exec(db, "INSERT INTO t VALUES ('b', 1.5, 'x')", NULL, NULL, NULL) != SQLITE_OK,
              "STRICT: text into bigint rejected (%s)", sqlite3_errmsg(db));
        CHECK(sqlite3_exec(db, "INSERT INTO t VALUES ('c', -200, 1)", NULL, NULL, NULL) != SQLITE_OK,
              "CHECK rejects (%s)", sqlite3_errmsg(db));
        CHECK(sqlite3_prepare_v2(db, b.data, -1, &st, NULL) == SQLITE_OK, "upsert prepares: %s", sqlite3_errmsg(db));
        sqlite3_bind_text(st, 1, "a", -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 2, 7.25);
        sqlite3_bind_int64(st, 3, 2);
        CHECK(sqlite3_step(st) == SQLITE_DONE, "upsert of an existing key runs");
        sqlite3_finalize(st);
        sqlite3_prepare_v2(db, "SELECT count(*), max(temp), max(n) FROM t", -1, &st, NULL);
        sqlite3_step(st);
        CHECK(sqlite3_column_int(st, 0) == 1 && sqlite3_column_double(st, 1) == 7.25 && sqlite3_column_int(st, 2) == 2,
              "the upsert updated the row in place");
        sqlite3_finalize(st);
        sqlite3_close(db);
        spate_buf_free(&b);
}

/* Record values to cells: the conversions, and values a column cannot hold
 * refused with the column's name (before this, a timestamp of 1e300 or NaN
 * was an out-of-range cast, undefined behaviour). */
static void test_cells(void) {
        spate_arena_t a;
        sql_cell_t c;
        char err[256], txt[64];
        int len;
        sql_col_t ts = { "ts", SQL_T_TIMESTAMP, "" }, n = { "n", SQL_T_BIGINT, "" }, t = { "t", SQL_T_TEXT, "" };
        spate_value_t v;
        spate_arena_init(&a);
        v = spate_value_num(1764626999123.0);
        CHECK(!spate_sql_cell(&a, &ts, &v, &c, err, sizeof(err)) && c.kind == SQL_TEXT &&
              c.len == 24 && !memcmp(c.u.s, "2025-12-01T22:09:59.123Z", 24), "a time as ISO 8601 UTC");
        v = spate_value_num(-1.0);
        CHECK(!spate_sql_cell(&a, &ts, &v, &c, err, sizeof(err)) && !memcmp(c.u.s, "1969-12-31T23:59:59.999Z", 24),
              "before 1970: the millisecond counts forward from the second before");
        v = spate_value_num(-62135596800000.0);
        CHECK(!spate_sql_cell(&a, &ts, &v, &c, err, sizeof(err)) && !memcmp(c.u.s, "0001-01-01T00:00:00.000Z", 24),
              "the first time of year 1 is accepted");
        double bad[] = { 1e300, -1e300, NAN, INFINITY, 253402300800000.0, -62135596800001.0 };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                v = spate_value_num(bad[i]);
                err[0] = '\0';
                CHECK(spate_sql_cell(&a, &ts, &v, &c, err, sizeof(err)) == -1 && strstr(err, "column 'ts'") &&
                      strstr(err, "years 1 and 9999"), "timestamp %g refused: %s", bad[i], err);
        }
        v = spate_value_num(NAN);
        CHECK(spate_sql_cell(&a, &n, &v, &c, err, sizeof(err)) == -1 && strstr(err, "not an integer"),
              "NaN is not a bigint: %s", err);
        v = spate_value_num(-42);
        CHECK(!spate_sql_cell(&a, &n, &v, &c, err, sizeof(err)) && c.kind == SQL_INT && c.u.i == -42, "bigint");
        v = spate_value_num(0.1);
        CHECK(!spate_sql_cell(&a, &t, &v, &c, err, sizeof(err)) &&
              !strcmp(spate_sql_cell_text(&c, txt, sizeof(txt), &len), "0.1") && len == 3, "a number as text");
        v = spate_value_str("a\0b", 3);
        CHECK(!spate_sql_cell(&a, &t, &v, &c, err, sizeof(err)) && c.len == 3 && !memcmp(c.u.s, "a\0b", 3),
              "a string with a NUL keeps its length");
        v = (spate_value_t){ .type = SPATE_V_NULL };
        CHECK(!spate_sql_cell(&a, &n, &v, &c, err, sizeof(err)) && c.kind == SQL_NULL &&
              !spate_sql_cell_text(&c, txt, sizeof(txt), &len), "null is SQL NULL");
        spate_arena_destroy(&a);
}

/* newer_by: a versioned sink's current row never goes back to an older window (a late revision of
 * it stays in the history only); the text in both dialects and the behaviour on a real SQLite. */
static void test_newer_by(void) {
        static sql_col_t wc[] = { { "town", SQL_T_TEXT, "not null" }, { "start", SQL_T_TIMESTAMP, "" },
                                  { "mean", SQL_T_DOUBLE, "" } };
        sql_table_t t = { .table = "h", .current = "c", .version_col = "version", .cols = wc, .ncols = 3,
                          .key = key, .nkey = 1, .mode = SQL_VERSIONED, .newer_by = 2 };
        spate_buf_t b = { 0 };
        sqlite3 *db;
        sqlite3_stmt *st;
        spate_sql_insert(&b, SQL_DIALECT_PG, &t, "c", 0, 1, 1);
        CHECK_STR(b.data, "INSERT INTO \"c\" (\"town\", \"start\", \"mean\") VALUES ($1, $2, $3) "
                  "ON CONFLICT (\"town\") DO UPDATE SET \"start\" = excluded.\"start\", \"mean\" = excluded.\"mean\" "
                  "WHERE excluded.\"start\" >= \"c\".\"start\"", "PostgreSQL upsert of the current row, newer_by");
        b.len = 0;
        sqlite3_open(":memory:", &db);
        spate_sql_create(&b, SQL_DIALECT_SQLITE, &t, "c", 0, 1);
        CHECK(sqlite3_exec(db, b.data, NULL, NULL, NULL) == SQLITE_OK, "CREATE runs: %s", sqlite3_errmsg(db));
        b.len = 0;
        spate_sql_insert(&b, SQL_DIALECT_SQLITE, &t, "c", 0, 1, 1);
        CHECK(sqlite3_prepare_v2(db, b.data, -1, &st, NULL) == SQLITE_OK, "upsert prepares: %s", sqlite3_errmsg(db));
        static const struct { const char *start; double mean; } rows[] = {
                { "2026-12-01T10:00:00Z", 1.0 },   /* first */
                { "2026-12-01T11:00:00Z", 2.0 },   /* newer window: replaces */
                { "2026-12-01T09:00:00Z", 9.0 },   /* late revision of an older one: kept out */
                { "2026-12-01T11:00:00Z", 3.0 },   /* revision of the current window: replaces */
        };
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                sqlite3_reset(st);
                sqlite3_bind_text(st, 1, "paris", -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, rows[i].start, -1, SQLITE_STATIC);
                sqlite3_bind_double(st, 3, rows[i].mean);
                CHECK(sqlite3_step(st) == SQLITE_DONE, "upsert %zu runs: %s", i, sqlite3_errmsg(db));
        }
        sqlite3_finalize(st);
        sqlite3_prepare_v2(db, "SELECT count(*), max(start), max(mean) FROM c", -1, &st, NULL);
        sqlite3_step(st);
        CHECK(sqlite3_column_int(st, 0) == 1 && !strcmp((const char *)sqlite3_column_text(st, 1),
              "2026-12-01T11:00:00Z") && sqlite3_column_double(st, 2) == 3.0,
              "the current row is the newest window's latest revision (%s, %g)", sqlite3_column_text(st, 1),
              sqlite3_column_double(st, 2));
        sqlite3_finalize(st);
        sqlite3_close(db);
        spate_buf_free(&b);
}

static void no_reject(void *opaque, int row, const char *error) {
        (void)opaque;
        CHECK(0, "row %d rejected: %s", row, error);
}

/* history_key: rows of one versioned commit through the SQLite backend (begin, write, commit), and
 * how many of them the backend found equal to a row of their history key's latest version. */
static void history_commit(sql_db_t *db, const sql_table_t *t, sql_row_t *rows, int n, int64_t version,
                           const char *what, int want_same) {
        char err[512] = "";
        int same = 0;
        CHECK(!spate_sql_sqlite.begin(db, err, sizeof(err)) &&
              !spate_sql_sqlite.write(db, t, rows, n, version, no_reject, NULL, err, sizeof(err)) &&
              !spate_sql_sqlite.commit(db, err, sizeof(err)), "%s: committed %s", what, err);
        for (int i = 0; i < n; i++)
                same += rows[i].same;
        CHECK(same == want_same, "%s: %d of %d rows equal to their history key's latest version (want %d)",
              what, same, n, want_same);
}

static sql_cell_t text(const char *s) {
        return (sql_cell_t){ .kind = SQL_TEXT, .len = (uint32_t)strlen(s), .u.s = s };
}

static sql_cell_t real(double d) {
        return (sql_cell_t){ .kind = SQL_REAL, .u.d = d };
}

/* The single number `sql` selects, read through a connection of its own. */
static int64_t count(const char *path, const char *sql) {
        sqlite3 *c;
        sqlite3_stmt *st;
        int64_t n = -1;
        sqlite3_open(path, &c);
        if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
                n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(c);
        return n;
}

/* history_key: a replayed window result (every column equal, NULLs included) is not appended again;
 * a revision is, and so is a revision back to an older version's values (only the latest version
 * counts); rows of one commit are one version, a set: an equal row in the same commit is not
 * appended twice. The SQL text in both dialects, and the behaviour through the SQLite backend. */
static void test_history_key(void) {
        static sql_col_t hc[] = { { "town", SQL_T_TEXT, "not null" }, { "start", SQL_T_TIMESTAMP, "not null" },
                                  { "mean", SQL_T_DOUBLE, "" }, { "dept", SQL_T_TEXT, "" } };
        static int hkey[] = { 0, 1 };
        sql_table_t t = { .table = "h", .current = "c", .version_col = "v", .cols = hc, .ncols = 4, .key = key,
                          .nkey = 1, .mode = SQL_VERSIONED, .hkey = hkey, .nhkey = 2, .create = 1 };
        spate_buf_t b = { 0 };
        char err[512] = "", dir[] = "/tmp/spate-test-sql-XXXXXX", path[64];
        spate_sql_insert_changed(&b, SQL_DIALECT_PG, &t);
        CHECK_STR(b.data, "INSERT INTO \"h\" (\"town\", \"start\", \"mean\", \"dept\", \"v\") SELECT $1::text, "
                  "$2::timestamptz, $3::double precision, $4::text, $5::bigint WHERE NOT EXISTS (SELECT 1 FROM \"h\" l "
                  "WHERE l.\"town\" = $1::text AND l.\"start\" = $2::timestamptz AND l.\"v\" = (SELECT max(m.\"v\") "
                  "FROM \"h\" m WHERE m.\"town\" = $1::text AND m.\"start\" = $2::timestamptz) AND l.\"mean\" IS NOT "
                  "DISTINCT FROM $3::double precision AND l.\"dept\" IS NOT DISTINCT FROM $4::text)",
                  "PostgreSQL history INSERT unless equal to the history key's latest version");
        b.len = 0;
        spate_sql_history_index(&b, &t);
        CHECK_STR(b.data, "CREATE INDEX IF NOT EXISTS \"h_history\" ON \"h\" (\"town\", \"start\", \"v\")",
                  "the index of the latest-version lookup");
        spate_buf_free(&b);

        CHECK(mkdtemp(dir) != NULL, "a temporary directory");
        snprintf(path, sizeof(path), "%s/h.db", dir);
        sql_db_t *db = spate_sql_sqlite.open(path, err, sizeof(err));
        CHECK(db && !spate_sql_sqlite.setup(db, &t, err, sizeof(err)), "SQLite setup with a history key: %s", err);
        if (!db)
                return;
        const char *w10 = "2026-12-01T10:00:00.000Z", *w11 = "2026-12-01T11:00:00.000Z";
        sql_cell_t c1[][4] = {
                { text("paris"), text(w10), real(1.5), { .kind = SQL_NULL } },
                { text("lyon"), text(w10), real(2.0), text("69") },
        };
        sql_row_t r1[] = { { .cells = c1[0] }, { .cells = c1[1] } };
        history_commit(db, &t, r1, 2, 100, "first results", 0);
        sql_cell_t c2[][4] = {
                { text("paris"), text(w10), real(1.5), { .kind = SQL_NULL } },  /* replayed: NULL equals NULL */
                { text("lyon"), text(w10), real(2.5), text("69") },             /* a revision */
        };
        sql_row_t r2[] = { { .cells = c2[0] }, { .cells = c2[1] } };
        history_commit(db, &t, r2, 2, 200, "a replay and a revision", 1);
        sql_cell_t c3[][4] = {
                { text("lyon"), text(w10), real(2.0), text("69") },   /* back to version 100's values */
                { text("paris"), text(w11), real(1.5), { .kind = SQL_NULL } },  /* another window, same values */
                { text("lyon"), text(w10), real(2.5), text("69D") },  /* one column differs */
                { text("lyon"), text(w10), real(2.0), text("69") },   /* again in the same commit */
        };
        sql_row_t r3[] = { { .cells = c3[0] }, { .cells = c3[1] }, { .cells = c3[2] }, { .cells = c3[3] } };
        history_commit(db, &t, r3, 4, 300, "revisions, a new window, a repeat within the commit", 1);
        CHECK(count(path, "SELECT count(*) FROM h") == 6, "the history holds 6 rows");
        CHECK(count(path, "SELECT count(*) FROM (SELECT DISTINCT town, start, mean, dept, v FROM h)") == 6,
              "no row twice");
        CHECK(count(path, "SELECT count(*) FROM h WHERE town = 'lyon' AND v = 300") == 2,
              "lyon's version 300: its two distinct rows");
        CHECK(count(path, "SELECT count(*) FROM c") == 2 &&
              count(path, "SELECT count(*) FROM c WHERE town = 'paris' AND start = '2026-12-01T11:00:00.000Z'") == 1,
              "the current table is upserted as always");
        spate_sql_sqlite.close(db);
        for (int i = 0; i < 3; i++) {
                snprintf(path, sizeof(path), "%s/h.db%s", dir, (const char *[]){ "", "-wal", "-shm" }[i]);
                unlink(path);
        }
        rmdir(dir);
}

/* Instances started together open one new database file at once: each
 * open must succeed (the switch to WAL answered "database is locked" to all
 * but one, which stopped that instance at start). Processes, as instances
 * are: 8 at a time, released together, 10 new files. */
static void test_open_together(void) {
        enum { PROCS = 8, ROUNDS = 10 };
        char dir[] = "/tmp/spate-sqlite-XXXXXX", path[256];
        int failed = 0;
        CHECK(mkdtemp(dir) != NULL, "a temporary directory");
        for (int r = 0; r < ROUNDS; r++) {
                int go[2];
                pid_t pids[PROCS];
                snprintf(path, sizeof(path), "%s/t%d.db", dir, r);
                if (pipe(go))
                        return;
                for (int i = 0; i < PROCS; i++)
                        if ((pids[i] = fork()) == 0) {
                                char err[256], c;
                                close(go[1]);
                                if (read(go[0], &c, 1) < 0)  /* EOF: released */
                                        _exit(2);
                                sql_db_t *db = spate_sql_sqlite.open(path, err, sizeof(err));
                                if (!db)
                                        fprintf(stderr, "# open: %s\n", err);
                                _exit(db ? 0 : 1);
                        }
                close(go[0]);
                close(go[1]);
                for (int i = 0; i < PROCS; i++) {
                        int st;
                        failed += waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) || WEXITSTATUS(st);
                }
                for (int i = 0; i < 3; i++) {
                        char f[300];
                        snprintf(f, sizeof(f), "%s%s", path, (const char *[]){ "", "-wal", "-shm" }[i]);
                        unlink(f);
                }
        }
        rmdir(dir);
        CHECK(!failed, "%d processes open one new SQLite file at once, %d times: %d failed", PROCS, ROUNDS, failed);
}

int main(void) {
        test_open_together();
        test_types();
        test_cells();
        test_mask();
        test_text();
        test_sqlite();
        test_newer_by();
        test_history_key();
        return CHECK_DONE();
}
