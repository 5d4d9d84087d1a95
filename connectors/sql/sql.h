/* sql.h - what the `sql_sink` node shares with its database backends
 * (sql_sqlite.c, sql_pg.c): the table it writes, rows as typed cells, and
 * the backend vtable. SQL text common to both dialects is built in sql_text.c. */
#ifndef SPATE_SQL_H
#define SPATE_SQL_H

#include "../../engine/value.h"
#include "../../util/arena.h"
#include "../../util/buf.h"

#include <stddef.h>
#include <stdint.h>

typedef enum { SQL_T_TEXT, SQL_T_BIGINT, SQL_T_DOUBLE, SQL_T_BOOL, SQL_T_TIMESTAMP } sql_type_t;
typedef enum { SQL_APPEND, SQL_UPSERT, SQL_VERSIONED } sql_mode_t;
typedef enum { SQL_DIALECT_SQLITE, SQL_DIALECT_PG } sql_dialect_t;

typedef struct sql_col {
        const char *name;
        sql_type_t type;
        const char *extra;  /* SQL after the type in the topology (`not null check (...)`), or "" */
} sql_col_t;

/* The table(s) one sink writes; strings point into the topology. */
typedef struct sql_table {
        const char *table;
        const char *current;      /* versioned: the table holding the latest row per key */
        const char *version_col;  /* versioned: column of `table` numbering the commits */
        sql_col_t *cols;
        int ncols;
        int *key;                 /* indexes into cols: the primary key */
        int nkey;
        sql_mode_t mode;
        int newer_by;             /* versioned: 1 + the column a current row never goes back on; 0 none */
        int *hkey;                /* versioned: indexes into cols: the history key (history_key:), or NULL */
        int nhkey;
        int create;               /* create missing tables (else they must exist) */
} sql_table_t;

typedef enum { SQL_NULL, SQL_INT, SQL_REAL, SQL_TEXT } sql_kind_t;

typedef struct sql_cell {
        uint8_t kind;  /* sql_kind_t */
        uint32_t len;  /* SQL_TEXT */
        union {
                int64_t i;
                double d;
                const char *s;  /* not NUL-terminated */
        } u;
} sql_cell_t;

typedef struct sql_row {
        sql_cell_t *cells;  /* one per column */
        int skip;           /* a replay the database already holds */
        int bad;            /* rejected by the database (constraint, data): to the DLQ */
        int same;           /* history_key: equal to a row of its history key's latest version, not
                             * appended (set by the backend's write) */
} sql_row_t;

/* A backend's way of reporting row i rejected by the database; the write
 * goes on with the other rows. */
typedef void (*sql_reject_cb)(void *opaque, int row, const char *error);

/* Return codes of the calls below: 0 done, -1 the transaction is lost
 * (connection gone, server restarting, lock timeout): the sink rolls back,
 * reconnects with backoff and writes the whole batch again. */
typedef struct sql_db sql_db_t;
typedef struct sql_backend {
        const char *name;
        sql_dialect_t dialect;
        /* Opens `target` (a file path or a connection URL). Messages never
         * hold the password. NULL with errstr. */
        sql_db_t *(*open)(const char *target, char *errstr, size_t errstr_size);
        void (*close)(sql_db_t *db);
        /* Creates the tables when t->create, checks every column of t against
         * them (errors name the column) and prepares the statements. */
        int (*setup)(sql_db_t *db, const sql_table_t *t, char *errstr, size_t errstr_size);
        int (*begin)(sql_db_t *db, char *errstr, size_t errstr_size);
        /* The source offset this sink stored for (topic, partition): the
         * offset after the last record it wrote, 0 if none. Locks the row
         * until commit, so two writers of one partition take turns. */
        int (*offset_get)(sql_db_t *db, const char *sink, const char *topic, int32_t partition,
                          int64_t *next, char *errstr, size_t errstr_size);
        int (*offset_put)(sql_db_t *db, const char *sink, const char *topic, int32_t partition,
                          int64_t next, char *errstr, size_t errstr_size);
        /* Writes the rows not marked skip or bad (versioned: `version` in
         * t->version_col, and the current table; with a history key, a row
         * equal to one of its history key's latest version is marked same
         * and not appended). A row the database rejects is passed to
         * reject() and left out; the others go in. */
        int (*write)(sql_db_t *db, const sql_table_t *t, sql_row_t *rows, int nrows, int64_t version,
                     sql_reject_cb reject, void *opaque, char *errstr, size_t errstr_size);
        int (*commit)(sql_db_t *db, char *errstr, size_t errstr_size);
        void (*rollback)(sql_db_t *db);
} sql_backend_t;

extern const sql_backend_t spate_sql_sqlite, spate_sql_pg;

/* --- sql_sink.c --- */
/* Converts a record's value to the cell of column col (text in mem): NULL
 * for a missing or null value; a string as it is (the database converts it
 * or rejects the row). -1 with err when the value cannot be the column's
 * type (a fraction or 1e300 for bigint, a time outside the years 1 to 9999,
 * an array for anything but text). Record fields are untrusted: fuzzed in
 * tests/fuzz/sql_cell.c. */
int spate_sql_cell(spate_arena_t *mem, const sql_col_t *col, const spate_value_t *v, sql_cell_t *c,
                   char *err, size_t size);

/* --- sql_text.c --- */
/* "sqlite type" names a topology may give a column, as "text|bigint|...". */
extern const char *const spate_sql_type_names[];
/* Parses "double not null check (...)": the type and what follows it.
 * Returns -1 for an unknown type. */
int spate_sql_parse_type(const char *decl, sql_type_t *type, const char **extra);
/* The category of a type as a database reports it (`character varying`,
 * `INTEGER`, `timestamp with time zone`): -1 if unknown. */
int spate_sql_type_category(const char *dbtype);
/* Whether a column the database declares `dbtype` can hold `want`. */
int spate_sql_type_fits(sql_dialect_t d, sql_type_t want, const char *dbtype);
const char *spate_sql_type_ddl(sql_dialect_t d, sql_type_t t);
/* SQL text appended to b (NUL-terminated): CREATE TABLE IF NOT EXISTS of
 * `name` (with the version column for a versioned history, with the
 * primary key when `pk`). */
void spate_sql_create(spate_buf_t *b, sql_dialect_t d, const sql_table_t *t, const char *name,
                      int with_version, int pk);
/* INSERT of `nrows` rows into `name`; with `upsert` ON CONFLICT (key) DO
 * UPDATE of the other columns. Placeholders ? (SQLite) or $n (PostgreSQL),
 * row after row, in column order, the version last. */
void spate_sql_insert(spate_buf_t *b, sql_dialect_t d, const sql_table_t *t, const char *name,
                      int with_version, int upsert, int nrows);
/* Versioned with a history key: the INSERT of one row into the history (t->table), unless a row
 * of its history key's latest version (highest t->version_col) equals it in every column:
 * INSERT INTO table (cols, version) SELECT p1, ..., pv WHERE NOT EXISTS (SELECT 1 FROM table l
 * WHERE l.hk = p AND ... AND l.version = (SELECT max(version) ... of the history key) AND l.col IS p
 * AND ...). Placeholders ?N (SQLite) or $N::type (PostgreSQL, which cannot infer a SELECT's types),
 * in column order, the version last. */
void spate_sql_insert_changed(spate_buf_t *b, sql_dialect_t d, const sql_table_t *t);
/* CREATE INDEX IF NOT EXISTS "<table>_history" ON table (history key..., version): the lookup of
 * spate_sql_insert_changed. */
void spate_sql_history_index(spate_buf_t *b, const sql_table_t *t);
/* PostgreSQL: COPY "name" (columns[, seq_col]) FROM STDIN (text format). */
void spate_sql_copy(spate_buf_t *b, const sql_table_t *t, const char *name, const char *seq_col);
/* PostgreSQL: the upsert of a staged batch, the last row of each key (highest seq_col) only,
 * since one INSERT ... ON CONFLICT DO UPDATE cannot touch a row twice:
 * INSERT INTO table (cols) SELECT DISTINCT ON (key) cols FROM stage ORDER BY key, seq_col DESC
 * ON CONFLICT (key) DO UPDATE SET ... */
void spate_sql_merge(spate_buf_t *b, const sql_table_t *t, const char *stage, const char *seq_col);
/* Appends a field of PostgreSQL's COPY text format: \N for NULL (s == NULL), backslash, tab,
 * newline and carriage return escaped with a backslash. */
void spate_sql_copy_field(spate_buf_t *b, const char *s, int len);
/* A double-quoted identifier. */
void spate_sql_ident(spate_buf_t *b, const char *name);
/* Copies a connection URL or conninfo with its password replaced by ***. */
void spate_sql_mask(const char *url, char *out, size_t size);
/* Text of a cell for text-format parameters: in buf, or the cell's own
 * bytes; NULL for SQL NULL. */
const char *spate_sql_cell_text(const sql_cell_t *c, char *buf, size_t size, int *len);

#endif
