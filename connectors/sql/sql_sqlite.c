/* sql_sqlite.c - the SQLite backend of `sql_sink`: a database file opened in
 * WAL mode (several instances may share it: writers take turns through
 * BEGIN IMMEDIATE and the busy timeout), STRICT tables, prepared statements. */
#include "sql.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUSY_MS 10000  /* how long a writer waits for another's lock */

enum { ST_ROW, ST_CURRENT, ST_SAVEPOINT, ST_RELEASE, ST_ROLLBACK_TO, ST_OFF_INIT, ST_OFF_GET,
       ST_OFF_PUT, ST_BEGIN, ST_COMMIT, ST_N };

struct sql_db {
        sqlite3 *db;
        sqlite3_stmt *st[ST_N];
        char msg[512];  /* why the last row was rejected */
};

static int fail(sql_db_t *d, char *errstr, size_t size, const char *what) {
        snprintf(errstr, size, "%s: %s", what, sqlite3_errmsg(d->db));
        return -1;
}

static int exec(sql_db_t *d, const char *sql, char *errstr, size_t size) {
        char *msg = NULL;
        if (sqlite3_exec(d->db, sql, NULL, NULL, &msg) == SQLITE_OK)
                return 0;
        snprintf(errstr, size, "%s: %s", sql, msg ? msg : sqlite3_errmsg(d->db));
        sqlite3_free(msg);
        return -1;
}

/* Switching a new database to WAL takes an exclusive lock, and SQLite
 * answers "database is locked" at once, without its busy handler, while
 * another connection switches it too: two instances started together on one
 * file. Tried again with backoff, up to the busy timeout. */
static int set_wal(sql_db_t *d, char *errstr, size_t size) {
        for (int64_t waited = 0, ms = 10;; waited += ms, ms = ms < 500 ? ms * 2 : ms) {
                if (!exec(d, "PRAGMA journal_mode=WAL", errstr, size))
                        return 0;
                int rc = sqlite3_errcode(d->db);
                if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || waited >= BUSY_MS)
                        return -1;
                struct timespec ts = { 0, (long)ms * 1000000L };
                nanosleep(&ts, NULL);
        }
}

static void lite_close(sql_db_t *d) {
        if (!d)
                return;
        for (int i = 0; i < ST_N; i++)
                sqlite3_finalize(d->st[i]);
        sqlite3_close(d->db);
        free(d);
}

static sql_db_t *lite_open(const char *path, char *errstr, size_t size) {
        sql_db_t *d = calloc(1, sizeof(*d));
        if (!d)
                return NULL;
        if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
                snprintf(errstr, size, "cannot open SQLite database '%s': %s", path,
                         d->db ? sqlite3_errmsg(d->db) : "out of memory");
                lite_close(d);
                return NULL;
        }
        sqlite3_busy_timeout(d->db, BUSY_MS);
        /* WAL with synchronous=NORMAL: a commit survives the process being
         * killed (what spate's exactness is about); an OS crash may lose the
         * last commits, which the stored offsets then replay. */
        if (set_wal(d, errstr, size) || exec(d, "PRAGMA synchronous=NORMAL", errstr, size)) {
                lite_close(d);
                return NULL;
        }
        return d;
}

static int prepare(sql_db_t *d, int id, const char *sql, char *errstr, size_t size) {
        if (sqlite3_prepare_v3(d->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &d->st[id], NULL) == SQLITE_OK)
                return 0;
        snprintf(errstr, size, "%s (in: %s)", sqlite3_errmsg(d->db), sql);
        return -1;
}

/* Every declared column must exist in `name` with a type that holds it. */
static int check_table(sql_db_t *d, const sql_table_t *t, const char *name, char *errstr, size_t size) {
        sqlite3_stmt *st;
        int found = 0, rc = 0;
        char *seen = calloc((size_t)t->ncols, 1);
        if (sqlite3_prepare_v2(d->db, "SELECT name, type FROM pragma_table_info(?)", -1, &st, NULL) != SQLITE_OK) {
                free(seen);
                return fail(d, errstr, size, "reading the columns");
        }
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
                const char *col = (const char *)sqlite3_column_text(st, 0);
                const char *type = (const char *)sqlite3_column_text(st, 1);
                found = 1;
                for (int i = 0; i < t->ncols && !rc; i++) {
                        if (strcmp(col, t->cols[i].name))
                                continue;
                        seen[i] = 1;
                        if (!spate_sql_type_fits(SQL_DIALECT_SQLITE, t->cols[i].type, type ? type : ""))
                                rc = snprintf(errstr, size, "column '%s' of table '%s' is %s, which cannot hold "
                                              "the topology's %s", col, name, type, spate_sql_type_names[t->cols[i].type]);
                }
        }
        sqlite3_finalize(st);
        if (!rc && !found)
                rc = snprintf(errstr, size, "table '%s' does not exist (create it, or set create: true)", name);
        for (int i = 0; i < t->ncols && !rc; i++)
                if (!seen[i])
                        rc = snprintf(errstr, size, "column '%s' is missing from table '%s' (add it, or "
                                      "remove it from columns:)", t->cols[i].name, name);
        free(seen);
        return rc ? -1 : 0;
}

static int lite_setup(sql_db_t *d, const sql_table_t *t, char *errstr, size_t size) {
        spate_buf_t b = { 0 };
        int versioned = t->mode == SQL_VERSIONED, rc = -1;
        if (exec(d, "BEGIN IMMEDIATE", errstr, size))
                return -1;
        if (t->create) {
                spate_sql_create(&b, SQL_DIALECT_SQLITE, t, t->table, versioned, !versioned);
                if (exec(d, b.data, errstr, size))
                        goto out;
                if (versioned) {
                        b.len = 0;
                        spate_sql_create(&b, SQL_DIALECT_SQLITE, t, t->current, 0, 1);
                        if (exec(d, b.data, errstr, size))
                                goto out;
                }
                if (t->nhkey) {
                        b.len = 0;
                        spate_sql_history_index(&b, t);
                        if (exec(d, b.data, errstr, size))
                                goto out;
                }
        }
        if (exec(d, "CREATE TABLE IF NOT EXISTS spate_sink_offsets (sink TEXT NOT NULL, topic TEXT NOT NULL, "
                    "part INTEGER NOT NULL, next_offset INTEGER NOT NULL, PRIMARY KEY (sink, topic, part))",
                 errstr, size) ||
            check_table(d, t, t->table, errstr, size) || (versioned && check_table(d, t, t->current, errstr, size)))
                goto out;
        b.len = 0;
        if (t->nhkey)
                spate_sql_insert_changed(&b, SQL_DIALECT_SQLITE, t);
        else
                spate_sql_insert(&b, SQL_DIALECT_SQLITE, t, t->table, versioned, t->mode == SQL_UPSERT, 1);
        if (prepare(d, ST_ROW, b.data, errstr, size))
                goto out;
        if (versioned) {
                b.len = 0;
                spate_sql_insert(&b, SQL_DIALECT_SQLITE, t, t->current, 0, 1, 1);
                if (prepare(d, ST_CURRENT, b.data, errstr, size))
                        goto out;
        }
        if (prepare(d, ST_SAVEPOINT, "SAVEPOINT spate_row", errstr, size) ||
            prepare(d, ST_RELEASE, "RELEASE spate_row", errstr, size) ||
            prepare(d, ST_ROLLBACK_TO, "ROLLBACK TO spate_row", errstr, size) ||
            prepare(d, ST_OFF_INIT, "INSERT OR IGNORE INTO spate_sink_offsets VALUES (?, ?, ?, 0)", errstr, size) ||
            prepare(d, ST_OFF_GET, "SELECT next_offset FROM spate_sink_offsets WHERE sink = ? AND topic = ? "
                                   "AND part = ?", errstr, size) ||
            prepare(d, ST_OFF_PUT, "UPDATE spate_sink_offsets SET next_offset = ?4 WHERE sink = ?1 AND "
                                   "topic = ?2 AND part = ?3 AND next_offset < ?4", errstr, size) ||
            prepare(d, ST_BEGIN, "BEGIN IMMEDIATE", errstr, size) || prepare(d, ST_COMMIT, "COMMIT", errstr, size))
                goto out;
        rc = exec(d, "COMMIT", errstr, size);
out:
        if (rc)
                sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
        spate_buf_free(&b);
        return rc;
}

/* Runs a statement with no result rows; SQLITE_DONE or the error code. */
static int step(sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        return rc == SQLITE_ROW ? SQLITE_DONE : rc;
}

static int step_ok(sql_db_t *d, int id, char *errstr, size_t size, const char *what) {
        return step(d->st[id]) == SQLITE_DONE ? 0 : fail(d, errstr, size, what);
}

static int lite_begin(sql_db_t *d, char *errstr, size_t size) {
        return step_ok(d, ST_BEGIN, errstr, size, "BEGIN");
}

static int lite_commit(sql_db_t *d, char *errstr, size_t size) {
        return step_ok(d, ST_COMMIT, errstr, size, "COMMIT");
}

static void lite_rollback(sql_db_t *d) {
        if (!sqlite3_get_autocommit(d->db))
                sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
}

static void bind_key(sqlite3_stmt *st, const char *sink, const char *topic, int32_t partition) {
        sqlite3_bind_text(st, 1, sink, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, topic, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, partition);
}

static int lite_offset_get(sql_db_t *d, const char *sink, const char *topic, int32_t partition, int64_t *next,
                           char *errstr, size_t size) {
        sqlite3_stmt *st = d->st[ST_OFF_GET];
        bind_key(d->st[ST_OFF_INIT], sink, topic, partition);
        if (step_ok(d, ST_OFF_INIT, errstr, size, "storing offsets"))
                return -1;
        bind_key(st, sink, topic, partition);
        int rc = sqlite3_step(st);
        *next = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_reset(st);
        return rc == SQLITE_ROW ? 0 : fail(d, errstr, size, "reading offsets");
}

static int lite_offset_put(sql_db_t *d, const char *sink, const char *topic, int32_t partition, int64_t next,
                           char *errstr, size_t size) {
        bind_key(d->st[ST_OFF_PUT], sink, topic, partition);
        sqlite3_bind_int64(d->st[ST_OFF_PUT], 4, next);
        return step_ok(d, ST_OFF_PUT, errstr, size, "storing offsets");
}

static void bind_cells(sqlite3_stmt *st, const sql_cell_t *c, int n) {
        for (int i = 0; i < n; i++)
                switch (c[i].kind) {
                case SQL_INT: sqlite3_bind_int64(st, i + 1, c[i].u.i); break;
                case SQL_REAL: sqlite3_bind_double(st, i + 1, c[i].u.d); break;
                case SQL_TEXT: sqlite3_bind_text(st, i + 1, c[i].u.s, (int)c[i].len, SQLITE_STATIC); break;
                default: sqlite3_bind_null(st, i + 1);
                }
}

/* A constraint or type error concerns the row; anything else (busy, I/O)
 * the transaction. */
static int row_error(int rc) {
        rc &= 0xff;
        return rc == SQLITE_CONSTRAINT || rc == SQLITE_MISMATCH || rc == SQLITE_TOOBIG || rc == SQLITE_RANGE;
}

/* One row: the history/table statement, and for versioned the current
 * table, inside a savepoint so a rejected row leaves nothing behind. A
 * failed statement alone is rolled back by SQLite (ON CONFLICT ABORT), so
 * the other modes need no savepoint. With a history key, a history INSERT
 * that inserted nothing found the row equal to its key's latest version. */
static int write_row(sql_db_t *d, const sql_table_t *t, sql_row_t *r, int64_t version) {
        int versioned = t->mode == SQL_VERSIONED, rc;
        if (versioned && (rc = step(d->st[ST_SAVEPOINT])) != SQLITE_DONE)
                return rc;
        bind_cells(d->st[ST_ROW], r->cells, t->ncols);
        if (versioned)
                sqlite3_bind_int64(d->st[ST_ROW], t->ncols + 1, version);
        rc = step(d->st[ST_ROW]);
        r->same = rc == SQLITE_DONE && t->nhkey && !sqlite3_changes(d->db);
        if (rc == SQLITE_DONE && versioned) {
                bind_cells(d->st[ST_CURRENT], r->cells, t->ncols);
                rc = step(d->st[ST_CURRENT]);
        }
        if (rc != SQLITE_DONE)
                snprintf(d->msg, sizeof(d->msg), "%s", sqlite3_errmsg(d->db));
        if (versioned && rc != SQLITE_DONE && row_error(rc))
                step(d->st[ST_ROLLBACK_TO]);
        if (versioned && (rc == SQLITE_DONE || row_error(rc)))
                step(d->st[ST_RELEASE]);
        return rc;
}

static int lite_write(sql_db_t *d, const sql_table_t *t, sql_row_t *rows, int nrows, int64_t version,
                      sql_reject_cb reject, void *opaque, char *errstr, size_t size) {
        for (int i = 0; i < nrows; i++) {
                if (rows[i].skip || rows[i].bad)
                        continue;
                int rc = write_row(d, t, &rows[i], version);
                if (rc == SQLITE_DONE)
                        continue;
                if (!row_error(rc)) {
                        snprintf(errstr, size, "writing a row: %s", d->msg);
                        return -1;
                }
                rows[i].bad = 1;
                rows[i].same = 0;
                reject(opaque, i, d->msg);
        }
        return 0;
}

const sql_backend_t spate_sql_sqlite = {
        .name = "sqlite",
        .dialect = SQL_DIALECT_SQLITE,
        .open = lite_open,
        .close = lite_close,
        .setup = lite_setup,
        .begin = lite_begin,
        .offset_get = lite_offset_get,
        .offset_put = lite_offset_put,
        .write = lite_write,
        .commit = lite_commit,
        .rollback = lite_rollback,
};
