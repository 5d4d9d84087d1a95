/* sql_sink.c - the `sql_sink` node: writes records as rows of a SQLite or
 * PostgreSQL table, one SQL transaction per engine commit.
 *
 * Rows are buffered between commits (a full buffer asks for a commit) and
 * written in flush(), the commit's first phase, so the SQL transaction is
 * durable before the engine commits the input offsets. Every mode also
 * stores, in that transaction, the source offset after the last record
 * written per partition (table spate_sink_offsets), and leaves out rows at or
 * below it: a replay after a crash writes nothing twice. For upsert a replay
 * would end on the same rows, but on its way it would put a key's older row
 * back over a newer one for as long as it takes to catch up. Rows without a
 * source offset (window results) cannot be judged by it: with history_key,
 * versioned leaves out a row equal to its history key's latest version, which
 * is what a restore's re-emitted window is (docs/exactness.md §7).
 *
 * A database that is down or restarting holds the commit: flush retries with
 * backoff, the engine consumes nothing meanwhile (no unbounded buffer), and
 * the input offsets move only once the rows are in. */
#include "sql.h"
#include "../../util/mem.h"
#include "../../util/arena.h"
#include "../../util/log.h"
#include "../../engine/node.h"
#include "../../engine/topology.h"
#include "../../util/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A source partition the rows of the batch came from. */
typedef struct part {
        const char *topic;   /* in the batch arena */
        int32_t partition;
        int64_t next;        /* stored in the database: rows below it are written */
        int64_t max;         /* highest offset in the batch */
} part_t;

typedef struct reject {
        int row;
        char *msg;
} reject_t;

typedef struct sink {
        const sql_backend_t *be;
        sql_db_t *db;
        const char *target;
        char masked[512];
        char id[256];              /* application/node: this sink's rows of spate_sink_offsets */
        sql_table_t t;
        spate_expr_t **vals;       /* per column */
        int64_t batch_max, slow_ms;
        /* the batch since the last commit */
        spate_arena_t mem;
        sql_row_t *rows;
        spate_origin_t *origins;   /* topic NULL: the record had none (never skipped) */
        int64_t *offsets;          /* the offset replays are judged by */
        int *slot;                 /* index into parts, -1 */
        int nrows, cap;
        part_t *parts;
        int nparts, pcap;
        reject_t *rejects;
        int nrejects, rcap;
        uint64_t written, skipped, rejected, unchanged;
        /* For the exit line's rate, monotonic ms: the first and the last row
         * buffered, and the last row plus the commit that wrote it (the idle
         * wait for the commit left out). */
        int64_t first_ms, last_row_ms, last_ms;
} sink_t;

static const spate_prop_t sql_props[] = {
        { "backend", SPATE_P_ENUM, 0, "sqlite", "sqlite|postgres", "database kind" },
        { "database", SPATE_P_STR, 1, NULL, NULL,
          "SQLite: the database file; PostgreSQL: a URL, postgresql://USER:PASSWORD@HOST:PORT/DB (write "
          "${PG_URL}; the password is never logged)" },
        { "table", SPATE_P_STR, 1, NULL, NULL, "table to write (versioned: the history of every row)" },
        { "mode", SPATE_P_ENUM, 0, "upsert", "upsert|append|versioned",
          "upsert: INSERT ... ON CONFLICT (key) DO UPDATE; append: every record a row, replays skipped; "
          "versioned: append with a version column plus a current table of the latest row per key" },
        { "columns", SPATE_P_MAP, 1, NULL, NULL,
          "column -> type (text, bigint, double, boolean, timestamp), optionally followed by SQL constraints "
          "(`double not null check (temp > -90)`); values come from the record field of the same name" },
        { "values", SPATE_P_MAP, 0, NULL, NULL, "column -> expression, for columns not named like a field" },
        { "key", SPATE_P_LIST, 0, NULL, NULL, "primary key columns (upsert and versioned: required)" },
        { "create", SPATE_P_BOOL, 0, "true", NULL,
          "create missing tables from columns:; false: map onto existing tables (a missing column fails the start)" },
        { "current_table", SPATE_P_STR, 0, NULL, NULL, "versioned: the latest row per key (default TABLE_current)" },
        { "version_column", SPATE_P_STR, 0, "version", NULL,
          "versioned: the column holding the commit's version (its processing time, ms since the epoch)" },
        { "newer_by", SPATE_P_STR, 0, NULL, NULL,
          "versioned: a column (e.g. window_start) a current row never goes back on: a row replaces the "
          "current one only if its value is at least as large (a late revision of an older window stays in "
          "the history only)" },
        { "history_key", SPATE_P_LIST, 0, NULL, NULL,
          "versioned: the columns naming one result in the history (e.g. [municipality, window_start]): a row "
          "equal in every column to a row of its history key's latest version is not appended again (a replay, "
          "or a revision that changes nothing); the current table is upserted as always" },
        { "batch", SPATE_P_INT, 0, "20000", NULL, "rows buffered before a commit is asked for" },
        { "slow_commit", SPATE_P_DURATION, 0, "2s", NULL, "a SQL commit slower than this is logged" },
        { NULL }
};

static int col_index(const sql_table_t *t, const char *name) {
        for (int i = 0; i < t->ncols; i++)
                if (!strcmp(t->cols[i].name, name))
                        return i;
        return -1;
}

static int init_columns(spate_node_t *n, sink_t *s, char *errstr, size_t size) {
        const spate_yaml_t *cols = spate_node_param(n, "columns"), *vals = spate_node_param(n, "values");
        if (!cols->n)
                return spate_node_error(n, cols, errstr, size, "'columns' is empty");
        s->t.cols = calloc((size_t)cols->n, sizeof(*s->t.cols));
        s->vals = calloc((size_t)cols->n, sizeof(*s->vals));
        for (int i = 0; i < cols->n; i++) {
                sql_col_t *c = &s->t.cols[s->t.ncols];
                c->name = cols->keys[i]->value;
                if (cols->items[i]->kind != SPATE_YAML_SCALAR ||
                    spate_sql_parse_type(cols->items[i]->value, &c->type, &c->extra))
                        return spate_node_error(n, cols->items[i], errstr, size, "column '%s': the type must be "
                                                "one of text, bigint, double, boolean, timestamp", c->name);
                const spate_yaml_t *v = vals ? spate_yaml_get(vals, c->name) : NULL;
                if (!(s->vals[s->t.ncols] = spate_node_compile(n, v ? v : cols->keys[i], n->in, errstr, size)))
                        return -1;
                s->t.ncols++;
        }
        for (int i = 0; vals && i < vals->n; i++)
                if (col_index(&s->t, vals->keys[i]->value) < 0)
                        return spate_node_error(n, vals->keys[i], errstr, size, "'%s' is not in columns:",
                                                vals->keys[i]->value);
        return 0;
}

/* Fills idx and nidx from a list of column names (a parameter); -1 naming the one not in columns:. */
static int col_list(spate_node_t *n, sink_t *s, const spate_yaml_t *list, const char *what, int **idx, int *nidx,
                    char *errstr, size_t size) {
        *idx = calloc((size_t)list->n + 1, sizeof(int));
        for (int i = 0; i < list->n; i++) {
                int k = list->items[i]->kind == SPATE_YAML_SCALAR ? col_index(&s->t, list->items[i]->value) : -1;
                if (k < 0)
                        return spate_node_error(n, list->items[i], errstr, size, "%s column '%s' is not in columns:",
                                                what, list->items[i]->value ? list->items[i]->value : "?");
                (*idx)[(*nidx)++] = k;
        }
        return 0;
}

static int init_key(spate_node_t *n, sink_t *s, char *errstr, size_t size) {
        const spate_yaml_t *key = spate_node_param(n, "key");
        if (!key) {
                if (s->t.mode != SQL_APPEND)
                        return spate_node_error(n, NULL, errstr, size, "mode %s needs key: [columns of the "
                                                "primary key]", spate_node_str(n, "mode"));
                return 0;
        }
        return col_list(n, s, key, "key", &s->t.key, &s->t.nkey, errstr, size);
}

static int init_newer_by(spate_node_t *n, sink_t *s, char *errstr, size_t size) {
        const char *col = spate_node_str(n, "newer_by");
        if (!col)
                return 0;
        if (s->t.mode != SQL_VERSIONED)
                return spate_node_error(n, spate_node_param(n, "newer_by"), errstr, size,
                                        "newer_by keeps the current table of mode: versioned from going back; "
                                        "it needs mode: versioned");
        if ((s->t.newer_by = 1 + col_index(&s->t, col)) == 0)
                return spate_node_error(n, spate_node_param(n, "newer_by"), errstr, size,
                                        "newer_by: '%s' is not in columns:", col);
        return 0;
}

static int init_history_key(spate_node_t *n, sink_t *s, char *errstr, size_t size) {
        const spate_yaml_t *hkey = spate_node_param(n, "history_key");
        if (!hkey)
                return 0;
        if (s->t.mode != SQL_VERSIONED)
                return spate_node_error(n, hkey, errstr, size, "history_key names a result in the history "
                                        "table of mode: versioned; it needs mode: versioned");
        if (!hkey->n)
                return spate_node_error(n, hkey, errstr, size, "history_key is empty");
        return col_list(n, s, hkey, "history_key", &s->t.hkey, &s->t.nhkey, errstr, size);
}

static const spate_bind_t sql_binds[] = {
        SPATE_BIND("database", sink_t, target),
        SPATE_BIND("table", sink_t, t.table),
        SPATE_BIND("create", sink_t, t.create),
        SPATE_BIND("version_column", sink_t, t.version_col),
        SPATE_BIND("batch", sink_t, batch_max),
        SPATE_BIND("slow_commit", sink_t, slow_ms),
        { NULL }
};

static int sql_init(spate_node_t *n, char *errstr, size_t size) {
        sink_t *s = n->ctx;
        const char *mode = spate_node_str(n, "mode"), *cur = spate_node_str(n, "current_table");
        s->be = !strcmp(spate_node_str(n, "backend"), "postgres") ? &spate_sql_pg : &spate_sql_sqlite;
        spate_sql_mask(s->target, s->masked, sizeof(s->masked));
        s->t.mode = !strcmp(mode, "append") ? SQL_APPEND : !strcmp(mode, "versioned") ? SQL_VERSIONED : SQL_UPSERT;
        snprintf(s->id, sizeof(s->id), "%s/%s", n->topo->application, n->name);
        spate_arena_init(&s->mem);
        if (init_columns(n, s, errstr, size) || init_key(n, s, errstr, size))
                return -1;
        if (init_newer_by(n, s, errstr, size) || init_history_key(n, s, errstr, size))
                return -1;
        if (cur) {
                s->t.current = cur;
        } else {
                char *c = malloc(strlen(s->t.table) + sizeof("_current"));
                sprintf(c, "%s_current", s->t.table);
                s->t.current = c;
        }
        if (s->batch_max < 1)
                return spate_node_error(n, spate_node_param(n, "batch"), errstr, size, "batch must be at least 1");
        return 0;
}

/* Connects and creates or checks the tables; -1 with what to fix, and in
 * *what the parameter it concerns. */
static int connect_db(sink_t *s, const char **what, char *errstr, size_t size) {
        if (s->db)
                return 0;
        *what = "database";
        if (!(s->db = s->be->open(s->target, errstr, size)))
                return -1;
        *what = "table";
        if (s->be->setup(s->db, &s->t, errstr, size)) {
                s->be->close(s->db);
                s->db = NULL;
                return -1;
        }
        return 0;
}

static int sql_start(spate_node_t *n, char *errstr, size_t size) {
        sink_t *s = n->ctx;
        const char *what = "database";
        char err[1024];
        if (connect_db(s, &what, err, sizeof(err)))
                return spate_node_error(n, spate_node_param(n, what), errstr, size, "%s", err);
        spate_info("sql_sink '%s': %s into %s table '%s' (%s)", n->name, spate_node_str(n, "mode"), s->be->name,
                   s->t.table, s->masked);
        return 0;
}

/* --- converting a record --- */

static const char *copy_text(spate_arena_t *mem, const char *p, size_t len) {
        char *c = spate_arena_alloc(mem, len + 1);
        memcpy(c, p, len);
        c[len] = '\0';
        return c;
}

static void text_cell(spate_arena_t *mem, sql_cell_t *c, const char *p, size_t len) {
        c->kind = SQL_TEXT;
        c->u.s = copy_text(mem, p, len);
        c->len = (uint32_t)len;
}

/* ms since the epoch as ISO 8601 UTC, which both databases read back as a
 * time; -1 outside the years 1 to 9999 (four-digit years), NaN included. */
static int time_cell(spate_arena_t *mem, sql_cell_t *c, double ms) {
        char buf[40];
        if (!(ms >= -62135596800000.0 && ms < 253402300800000.0))
                return -1;
        int64_t t = (int64_t)ms, sec = t / 1000, frac = t % 1000;
        struct tm tm;
        if (frac < 0) {
                frac += 1000;
                sec--;
        }
        time_t tt = (time_t)sec;
        gmtime_r(&tt, &tm);
        int len = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
        text_cell(mem, c, buf, (size_t)len);
        return 0;
}

int spate_sql_cell(spate_arena_t *mem, const sql_col_t *col, const spate_value_t *v, sql_cell_t *c,
                   char *err, size_t size) {
        char num[40];
        memset(c, 0, sizeof(*c));
        switch (v->type) {
        case SPATE_V_MISSING:
        case SPATE_V_NULL:
                return 0;  /* NULL: a NOT NULL column rejects it */
        case SPATE_V_BOOL:
                if (col->type == SQL_T_TEXT)
                        text_cell(mem, c, v->u.b ? "true" : "false", v->u.b ? 4 : 5);
                else
                        *c = (sql_cell_t){ .kind = SQL_INT, .u.i = v->u.b };
                return 0;
        case SPATE_V_NUM:
                switch (col->type) {
                case SQL_T_DOUBLE:
                        *c = (sql_cell_t){ .kind = SQL_REAL, .u.d = v->u.num };
                        return 0;
                case SQL_T_TIMESTAMP:
                        if (!time_cell(mem, c, v->u.num))
                                return 0;
                        spate_fmt_num(num, sizeof(num), v->u.num);
                        snprintf(err, size, "column '%s' is timestamp: %s ms since 1970 is not a time "
                                 "between the years 1 and 9999", col->name, num);
                        return -1;
                case SQL_T_TEXT:
                        text_cell(mem, c, num, (size_t)spate_fmt_num(num, sizeof(num), v->u.num));
                        return 0;
                default:
                        if (!(v->u.num > -9.2e18 && v->u.num < 9.2e18 && v->u.num == (double)(int64_t)v->u.num)) {
                                spate_fmt_num(num, sizeof(num), v->u.num);
                                snprintf(err, size, "column '%s' is %s: %s is not an integer", col->name,
                                         spate_sql_type_names[col->type], num);
                                return -1;
                        }
                        *c = (sql_cell_t){ .kind = SQL_INT, .u.i = (int64_t)v->u.num };
                        return 0;
                }
        case SPATE_V_STR:
                text_cell(mem, c, v->u.s, v->n);  /* the database converts, or rejects the row */
                return 0;
        default:
                if (col->type == SQL_T_TEXT && v->raw) {
                        text_cell(mem, c, v->raw, v->raw_len);
                        return 0;
                }
                snprintf(err, size, "column '%s' is %s, the value is %s", col->name,
                         spate_sql_type_names[col->type], spate_vtype_name(v->type));
                return -1;
        }
}

/* The partition replays of o are judged by: a record that came through a
 * repartition topic counts by its upstream offset, per repartition partition. */
static int part_slot(sink_t *s, const spate_origin_t *o, int64_t *offset) {
        char name[512];
        int32_t partition = o->partition;
        *offset = o->offset;
        snprintf(name, sizeof(name), "%s", o->topic);
        if (o->up_partition >= 0) {
                snprintf(name, sizeof(name), "%s#%d", o->topic, o->partition);
                partition = o->up_partition;
                *offset = o->up_offset;
        }
        for (int i = 0; i < s->nparts; i++)
                if (s->parts[i].partition == partition && !strcmp(s->parts[i].topic, name)) {
                        if (*offset > s->parts[i].max)
                                s->parts[i].max = *offset;
                        return i;
                }
        if (s->nparts == s->pcap) {
                s->pcap = s->pcap ? s->pcap * 2 : 16;
                s->parts = spate_xrealloc(s->parts, sizeof(*s->parts) * (size_t)s->pcap);
        }
        s->parts[s->nparts] = (part_t){ copy_text(&s->mem, name, strlen(name)), partition, 0, *offset };
        return s->nparts++;
}

static void grow_rows(sink_t *s) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->rows = spate_xrealloc(s->rows, sizeof(*s->rows) * (size_t)s->cap);
        s->origins = spate_xrealloc(s->origins, sizeof(*s->origins) * (size_t)s->cap);
        s->offsets = spate_xrealloc(s->offsets, sizeof(*s->offsets) * (size_t)s->cap);
        s->slot = spate_xrealloc(s->slot, sizeof(*s->slot) * (size_t)s->cap);
}

static int sql_process(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx) {
        sink_t *s = n->ctx;
        char err[512];
        if (s->nrows == s->cap)
                grow_rows(s);
        sql_row_t *r = &s->rows[s->nrows];
        s->last_row_ms = spate_mono_ms();
        if (!s->first_ms)
                s->first_ms = s->last_row_ms;
        r->cells = spate_arena_alloc(&s->mem, sizeof(sql_cell_t) * (size_t)s->t.ncols);
        r->skip = r->bad = r->same = 0;
        for (int i = 0; i < s->t.ncols; i++) {
                spate_value_t v;
                if (spate_expr_eval(s->vals[i], rec, spate_ctx_arena(ctx), &v, err, sizeof(err)))
                        return spate_ctx_fail(ctx, n, "column '%s': %s", s->t.cols[i].name, err);
                if (spate_sql_cell(&s->mem, &s->t.cols[i], &v, &r->cells[i], err, sizeof(err)))
                        return spate_ctx_fail(ctx, n, "%s", err);
        }
        spate_origin_t *o = &s->origins[s->nrows];
        s->slot[s->nrows] = -1;
        memset(o, 0, sizeof(*o));
        if (rec->origin) {
                *o = *rec->origin;
                o->payload = spate_arena_memdup(&s->mem, o->payload, o->len);
                o->key = o->key ? spate_arena_memdup(&s->mem, o->key, o->key_len) : NULL;
                o->topic = copy_text(&s->mem, o->topic, strlen(o->topic));
                s->slot[s->nrows] = part_slot(s, o, &s->offsets[s->nrows]);
        }
        if (++s->nrows >= s->batch_max)
                spate_ctx_request_commit(ctx);
        return 0;
}

/* --- the commit --- */

static void on_reject(void *opaque, int row, const char *msg) {
        sink_t *s = opaque;
        if (s->nrejects == s->rcap) {
                s->rcap = s->rcap ? s->rcap * 2 : 16;
                s->rejects = spate_xrealloc(s->rejects, sizeof(*s->rejects) * (size_t)s->rcap);
        }
        s->rejects[s->nrejects++] = (reject_t){ row, strdup(msg) };
}

static void clear_rejects(sink_t *s) {
        for (int i = 0; i < s->nrejects; i++)
                free(s->rejects[i].msg);
        s->nrejects = 0;
}

/* Sends the rows the database rejected to the DLQ. */
static void dead_letter(spate_node_t *n, sink_t *s, spate_ctx_t *ctx) {
        for (int i = 0; i < s->nrejects; i++) {
                const spate_origin_t *o = &s->origins[s->rejects[i].row];
                spate_ctx_fail(ctx, n, "table '%s': %s", s->t.table, s->rejects[i].msg);
                if (o->topic)
                        spate_ctx_dead_letter(ctx, o);
                else
                        spate_err("sql_sink '%s': a row without a source record was rejected: %s", n->name,
                                  s->rejects[i].msg);
        }
        clear_rejects(s);
}

/* One attempt at the batch's transaction; -1 leaves the database untouched,
 * and so does -2, after which trying again cannot help (an output of this
 * commit was not delivered: the engine commits nothing). Every message
 * produced so far is acknowledged before the COMMIT: the dead letters of the
 * rejected rows (once the offsets are stored, a replay skips those rows and
 * could not dead-letter them again; a failed attempt repeats them: the DLQ is
 * at-least-once), and the changelog records and results of the windows
 * whose results the rows are (their frames are sealed after this COMMIT:
 * docs/exactness.md §1 and §7). */
static int write_batch(spate_node_t *n, sink_t *s, spate_ctx_t *ctx, char *err, size_t size) {
        const sql_backend_t *be = s->be;
        const char *what;
        clear_rejects(s);
        for (int i = 0; i < s->nrows; i++)
                s->rows[i].skip = s->rows[i].bad = s->rows[i].same = 0;
        if (connect_db(s, &what, err, size) || be->begin(s->db, err, size))
                return -1;
        for (int p = 0; p < s->nparts; p++)
                if (be->offset_get(s->db, s->id, s->parts[p].topic, s->parts[p].partition, &s->parts[p].next,
                                   err, size))
                        return -1;
        for (int i = 0; i < s->nrows; i++)
                s->rows[i].skip = s->slot[i] >= 0 && s->offsets[i] < s->parts[s->slot[i]].next;
        if (be->write(s->db, &s->t, s->rows, s->nrows, spate_now_ms(), on_reject, s, err, size))
                return -1;
        for (int p = 0; p < s->nparts; p++)
                if (s->parts[p].max + 1 > s->parts[p].next &&
                    be->offset_put(s->db, s->id, s->parts[p].topic, s->parts[p].partition, s->parts[p].max + 1,
                                   err, size))
                        return -1;
        if (s->nrejects)
                dead_letter(n, s, ctx);
        if (spate_ctx_wait_acks(ctx)) {
                snprintf(err, size, "an output of this commit (changelog, dead letters) was not delivered");
                return -2;
        }
        /* Tests abort where it matters: rows written, not committed;
         * committed, input offsets not (SPATE_CRASH_AT). */
        spate_crash_point("sql_before_commit");
        if (be->commit(s->db, err, size))
                return -1;
        spate_crash_point("sql_after_commit");
        return 0;
}

static void reset_batch(sink_t *s) {
        s->nrows = s->nparts = 0;
        spate_arena_reset(&s->mem);
}

static int sql_flush(spate_node_t *n, spate_ctx_t *ctx) {
        sink_t *s = n->ctx;
        char err[1024];
        int64_t t0 = spate_mono_ms(), backoff = 200;
        if (!s->nrows)
                return 0;
        for (int attempt = 1, rc; (rc = write_batch(n, s, ctx, err, sizeof(err))); attempt++) {
                if (s->db) {
                        s->be->rollback(s->db);
                        s->be->close(s->db);
                        s->db = NULL;
                }
                if (rc != -2 && !spate_ctx_stopping(ctx)) {
                        spate_warn("sql_sink '%s': %s (%s); holding the commit of %d rows, retry %d in %" PRId64
                                   " ms", n->name, err, s->masked, s->nrows, attempt, backoff);
                        if (!spate_ctx_backoff(ctx, &backoff, 5000))
                                continue;
                }
                return spate_ctx_fail(ctx, n, "%s; %d rows not written (their input is not committed "
                                      "and is replayed on restart)", err, s->nrows);
        }
        int64_t ms = spate_mono_ms() - t0;
        s->last_ms = s->last_row_ms + ms;
        int skipped = 0, rejected = 0, same = 0;
        for (int i = 0; i < s->nrows; i++) {
                skipped += s->rows[i].skip;
                rejected += s->rows[i].bad;
                same += s->rows[i].same;
        }
        s->written += (uint64_t)(s->nrows - skipped - rejected - same);
        s->skipped += (uint64_t)skipped;
        s->rejected += (uint64_t)rejected;
        s->unchanged += (uint64_t)same;
        if (ms >= s->slow_ms)
                spate_warn("sql_sink '%s': slow commit: %d rows in %" PRId64 " ms (slow_commit: %" PRId64 " ms)",
                           n->name, s->nrows, ms, s->slow_ms);
        spate_debug("sql_sink '%s': committed %d rows (%d replays skipped, %d unchanged, %d rejected) in %" PRId64
                    " ms", n->name, s->nrows, skipped, same, rejected, ms);
        reset_batch(s);
        return 0;
}

static void sql_destroy(spate_node_t *n) {
        sink_t *s = n->ctx;
        double secs = (double)(s->last_ms - s->first_ms) / 1000.0;
        if (s->written || s->skipped || s->rejected || s->unchanged)
                spate_info("sql_sink '%s': %" PRIu64 " rows written, %" PRIu64 " replays skipped, %" PRIu64
                           " unchanged (history_key), %" PRIu64 " rejected; first row to last commit %.3f s = "
                           "%.0f rows/s", n->name, s->written, s->skipped, s->unchanged, s->rejected, secs,
                           secs > 0 ? (double)s->written / secs : 0.0);
        if (s->db)
                s->be->close(s->db);
        for (int i = 0; s->vals && i < s->t.ncols; i++)
                spate_expr_destroy(s->vals[i]);
        if (s->t.current && !spate_node_str(n, "current_table"))
                free((char *)s->t.current);
        clear_rejects(s);
        free(s->vals);
        free(s->t.cols);
        free(s->t.key);
        free(s->t.hkey);
        free(s->rows);
        free(s->origins);
        free(s->offsets);
        free(s->slot);
        free(s->parts);
        free(s->rejects);
        spate_arena_destroy(&s->mem);
}

const spate_op_def_t spate_op_sql_sink = {
        .name = "sql_sink",
        .role = SPATE_ROLE_SINK,
        .doc = "Writes records as rows of a SQLite or PostgreSQL table, one SQL transaction per commit, "
               "exact across crashes (every mode stores the source offsets it wrote up to in the same "
               "transaction and skips replays).",
        .props = sql_props,
        .binds = sql_binds,
        .ctx_size = sizeof(sink_t),
        .init = sql_init,
        .start = sql_start,
        .process = sql_process,
        .flush = sql_flush,
        .destroy = sql_destroy,
};
