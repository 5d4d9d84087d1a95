/* test_sql.c - unit tests of sql_sink's SQL text (connectors/sql/sql_text.c): column types, CREATE
 * TABLE and INSERT/upsert in both dialects, password masking, and SQLite's STRICT tables and
 * upsert on a real in-memory database; record values converted to cells; newer_by. */
#include "check.h"
#include "../../connectors/sql/sql.h"

#include <sqlite3.h>

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

int main(void) {
        test_types();
        test_cells();
        test_mask();
        test_text();
        test_sqlite();
        test_newer_by();
        return CHECK_DONE();
}
