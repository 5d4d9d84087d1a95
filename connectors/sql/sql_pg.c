/* sql_pg.c - the PostgreSQL backend of `sql_sink` (libpq). A batch of at
 * least 1,000 rows (upsert, append) goes by COPY, the fastest way in: append
 * copies into the table, upsert into a session-local stage table (the
 * table's columns and constraints, no key) merged with one INSERT ... SELECT
 * DISTINCT ON (key) ... ON CONFLICT DO UPDATE. If the database rejects any
 * row, that is rolled back and the batch goes the row-finding way, which
 * smaller batches and versioned take from the start: prepared multi-row
 * INSERTs (100 rows a statement) sent in pipeline mode, a chunk of 1,000 rows
 * per round trip inside a savepoint. A rejected statement rolls the chunk
 * back; it is sent again a row per statement to find the rejected row, which
 * goes to the DLQ while the others go in. The password of the URL never
 * reaches a message. */
#include "sql.h"
#include "../../util/log.h"
#include "../../util/util.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 1000  /* rows per pipeline sync: results stay well inside socket buffers */
#define GROUP 100   /* rows per multi-row INSERT */
#define COPY_MIN CHUNK  /* fewer rows: COPY's extra round trips cost more than they save */
#define STAGE "spate_stage"
#define STAGE_SEQ "spate_seq"  /* the row's place in the batch: the merge keeps each key's last */

struct sql_db {
        PGconn *conn;
        char *password;  /* scrubbed from messages */
        char url[512];   /* masked */
        char prepared[GROUP + 1];  /* rows<n> is prepared on this connection */
        char *copy_sql;   /* COPY ... FROM STDIN of a batch; NULL: versioned, no COPY */
        char *merge_sql;  /* upsert: the stage table into the table */
        spate_buf_t copy; /* COPY data being sent */
};

/* Copies msg into out with the password replaced by *** and the trailing
 * newline libpq adds removed. */
static void scrub(const sql_db_t *d, const char *msg, char *out, size_t size) {
        size_t off = 0, pwlen = d->password ? strlen(d->password) : 0;
        while (*msg && off + 4 < size) {
                if (pwlen && !strncmp(msg, d->password, pwlen)) {
                        off += (size_t)snprintf(out + off, size - off, "***");
                        msg += pwlen;
                } else {
                        out[off++] = *msg++;
                }
        }
        while (off && (out[off - 1] == '\n' || out[off - 1] == ' '))
                off--;
        out[off] = '\0';
}

static int conn_fail(sql_db_t *d, char *errstr, size_t size, const char *what) {
        char msg[768];
        scrub(d, PQerrorMessage(d->conn), msg, sizeof(msg));
        snprintf(errstr, size, "%s: %s", what, msg);
        return -1;
}

/* 0 if r is `want`; else the error in errstr. Clears r. */
static int result(sql_db_t *d, PGresult *r, ExecStatusType want, char *errstr, size_t size, const char *what) {
        int ok = r && PQresultStatus(r) == want;
        if (!ok) {
                char msg[768];
                scrub(d, r ? PQresultErrorMessage(r) : PQerrorMessage(d->conn), msg, sizeof(msg));
                snprintf(errstr, size, "%s: %s", what, msg);
        }
        PQclear(r);
        return ok ? 0 : -1;
}

static int exec(sql_db_t *d, const char *sql, char *errstr, size_t size) {
        return result(d, PQexec(d->conn, sql), PGRES_COMMAND_OK, errstr, size, sql);
}

static void pg_close(sql_db_t *d) {
        if (!d)
                return;
        PQfinish(d->conn);
        free(d->password);
        free(d->copy_sql);
        free(d->merge_sql);
        spate_buf_free(&d->copy);
        free(d);
}

/* Server notices ("relation ... already exists, skipping") go to the debug
 * log, not to stderr as libpq would print them. */
static void on_notice(void *arg, const char *msg) {
        (void)arg;
        spate_debug("PostgreSQL: %.*s", (int)strcspn(msg, "\n"), msg);
}

static sql_db_t *pg_open(const char *url, char *errstr, size_t size) {
        char *perr = NULL;
        PQconninfoOption *opts = PQconninfoParse(url, &perr);
        sql_db_t *d = calloc(1, sizeof(*d));
        spate_sql_mask(url, d->url, sizeof(d->url));
        if (!opts) {
                char why[512];
                scrub(d, perr ? perr : "out of memory", why, sizeof(why));
                snprintf(errstr, size, "'%s' is not a PostgreSQL URL (%s); write "
                         "postgresql://USER:PASSWORD@HOST:PORT/DATABASE", d->url, why);
                PQfreemem(perr);
                free(d);
                return NULL;
        }
        for (PQconninfoOption *o = opts; o->keyword; o++)
                if (!strcmp(o->keyword, "password") && o->val && *o->val)
                        d->password = strdup(o->val);
        PQconninfoFree(opts);
        d->conn = PQconnectdb(url);
        if (PQstatus(d->conn) != CONNECTION_OK) {
                char what[640];
                snprintf(what, sizeof(what), "cannot connect to PostgreSQL at %s (check the host, port, user, "
                         "password and database of the URL)", d->url);
                conn_fail(d, errstr, size, what);
                pg_close(d);
                return NULL;
        }
        PQsetNoticeProcessor(d->conn, on_notice, NULL);
        if (exec(d, "SET TIME ZONE 'UTC'", errstr, size)) {
                pg_close(d);
                return NULL;
        }
        return d;
}

static int prepare(sql_db_t *d, const char *name, const char *sql, int nparams, char *errstr, size_t size) {
        return result(d, PQprepare(d->conn, name, sql, nparams, NULL), PGRES_COMMAND_OK, errstr, size, sql);
}

static int check_table(sql_db_t *d, const sql_table_t *t, const char *name, char *errstr, size_t size) {
        const char *params[1] = { name };
        PGresult *r = PQexecParams(d->conn, "SELECT column_name, data_type FROM information_schema.columns "
                                   "WHERE table_schema = current_schema() AND table_name = $1",
                                   1, NULL, params, NULL, NULL, 0);
        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
                return result(d, r, PGRES_TUPLES_OK, errstr, size, "reading the columns");
        int rc = 0, n = PQntuples(r);
        if (!n)
                rc = snprintf(errstr, size, "table '%s' does not exist (create it, or set create: true)", name);
        for (int i = 0; i < t->ncols && !rc; i++) {
                int k;
                for (k = 0; k < n && strcmp(PQgetvalue(r, k, 0), t->cols[i].name); k++)
                        ;
                if (k == n)
                        rc = snprintf(errstr, size, "column '%s' is missing from table '%s' (add it, or remove "
                                      "it from columns:)", t->cols[i].name, name);
                else if (!spate_sql_type_fits(SQL_DIALECT_PG, t->cols[i].type, PQgetvalue(r, k, 1)))
                        rc = snprintf(errstr, size, "column '%s' of table '%s' is %s, which cannot hold the "
                                      "topology's %s", t->cols[i].name, name, PQgetvalue(r, k, 1),
                                      spate_sql_type_names[t->cols[i].type]);
        }
        PQclear(r);
        return rc ? -1 : 0;
}

static int create_tables(sql_db_t *d, const sql_table_t *t, spate_buf_t *b, char *errstr, size_t size) {
        int versioned = t->mode == SQL_VERSIONED;
        /* Two instances starting together would race on CREATE TABLE IF NOT EXISTS. */
        if (exec(d, "BEGIN", errstr, size) ||
            result(d, PQexec(d->conn, "SELECT pg_advisory_xact_lock(hashtext('spate sql_sink ddl'))"),
                   PGRES_TUPLES_OK, errstr, size, "locking for CREATE TABLE"))
                return -1;
        if (t->create) {
                spate_sql_create(b, SQL_DIALECT_PG, t, t->table, versioned, !versioned);
                if (exec(d, b->data, errstr, size))
                        return -1;
                b->len = 0;
                if (versioned) {
                        spate_sql_create(b, SQL_DIALECT_PG, t, t->current, 0, 1);
                        if (exec(d, b->data, errstr, size))
                                return -1;
                        b->len = 0;
                }
                if (t->nhkey) {
                        spate_sql_history_index(b, t);
                        if (exec(d, b->data, errstr, size))
                                return -1;
                        b->len = 0;
                }
        }
        if (exec(d, "CREATE TABLE IF NOT EXISTS spate_sink_offsets (sink text NOT NULL, topic text NOT NULL, "
                    "part integer NOT NULL, next_offset bigint NOT NULL, PRIMARY KEY (sink, topic, part))",
                 errstr, size))
                return -1;
        return exec(d, "COMMIT", errstr, size);
}

static int oom(char *errstr, size_t size) {
        snprintf(errstr, size, "out of memory");
        return -1;
}

/* The statements of the COPY path (see the top of the file); upsert creates
 * its stage table, which lives as long as the connection. */
static int setup_copy(sql_db_t *d, const sql_table_t *t, spate_buf_t *b, char *errstr, size_t size) {
        if (t->mode == SQL_VERSIONED)
                return 0;
        b->len = 0;
        if (t->mode == SQL_UPSERT) {
                static const char head[] = "CREATE TEMP TABLE " STAGE " (LIKE ";
                static const char tail[] = " INCLUDING DEFAULTS INCLUDING CONSTRAINTS, " STAGE_SEQ " bigint)";
                spate_buf_put(b, head, sizeof(head) - 1);
                spate_sql_ident(b, t->table);
                spate_buf_put(b, tail, sizeof(tail));  /* with the NUL */
                if (exec(d, b->data, errstr, size))
                        return -1;
                b->len = 0;
                spate_sql_merge(b, t, STAGE, STAGE_SEQ);
                if (!(d->merge_sql = strdup(b->data)))
                        return oom(errstr, size);
                b->len = 0;
        }
        spate_sql_copy(b, t, t->mode == SQL_UPSERT ? STAGE : t->table, t->mode == SQL_UPSERT ? STAGE_SEQ : NULL);
        return (d->copy_sql = strdup(b->data)) ? 0 : oom(errstr, size);
}

static int pg_setup(sql_db_t *d, const sql_table_t *t, char *errstr, size_t size) {
        spate_buf_t b = { 0 };
        int versioned = t->mode == SQL_VERSIONED, rc = -1;
        if (create_tables(d, t, &b, errstr, size)) {
                PQclear(PQexec(d->conn, "ROLLBACK"));
                goto out;
        }
        if (check_table(d, t, t->table, errstr, size) || (versioned && check_table(d, t, t->current, errstr, size)) ||
            setup_copy(d, t, &b, errstr, size))
                goto out;
        b.len = 0;
        if (t->nhkey)
                spate_sql_insert_changed(&b, SQL_DIALECT_PG, t);
        else
                spate_sql_insert(&b, SQL_DIALECT_PG, t, t->table, versioned, t->mode == SQL_UPSERT, 1);
        if (prepare(d, "row", b.data, 0, errstr, size))
                goto out;
        if (versioned) {
                b.len = 0;
                spate_sql_insert(&b, SQL_DIALECT_PG, t, t->current, 0, 1, 1);
                if (prepare(d, "cur", b.data, 0, errstr, size))
                        goto out;
        }
        rc = prepare(d, "off_init", "INSERT INTO spate_sink_offsets VALUES ($1, $2, $3, 0) ON CONFLICT DO NOTHING",
                     3, errstr, size) ||
             prepare(d, "off_get", "SELECT next_offset FROM spate_sink_offsets WHERE sink = $1 AND topic = $2 "
                                   "AND part = $3 FOR UPDATE", 3, errstr, size) ||
             prepare(d, "off_put", "UPDATE spate_sink_offsets SET next_offset = $4 WHERE sink = $1 AND "
                                   "topic = $2 AND part = $3 AND next_offset < $4", 4, errstr, size) ? -1 : 0;
out:
        spate_buf_free(&b);
        return rc;
}

static int pg_begin(sql_db_t *d, char *errstr, size_t size) {
        return exec(d, "BEGIN", errstr, size);
}

static int pg_commit(sql_db_t *d, char *errstr, size_t size) {
        return exec(d, "COMMIT", errstr, size);
}

static void pg_rollback(sql_db_t *d) {
        if (PQstatus(d->conn) == CONNECTION_OK)
                PQclear(PQexec(d->conn, "ROLLBACK"));
}

static int pg_offset_get(sql_db_t *d, const char *sink, const char *topic, int32_t partition, int64_t *next,
                         char *errstr, size_t size) {
        char part[16];
        const char *p[3] = { sink, topic, part };
        snprintf(part, sizeof(part), "%d", partition);
        if (result(d, PQexecPrepared(d->conn, "off_init", 3, p, NULL, NULL, 0), PGRES_COMMAND_OK, errstr, size,
                   "storing offsets"))
                return -1;
        PGresult *r = PQexecPrepared(d->conn, "off_get", 3, p, NULL, NULL, 0);
        if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
                if (!result(d, r, PGRES_TUPLES_OK, errstr, size, "reading offsets"))
                        snprintf(errstr, size, "reading offsets: no row");
                return -1;
        }
        *next = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        return 0;
}

static int pg_offset_put(sql_db_t *d, const char *sink, const char *topic, int32_t partition, int64_t next,
                         char *errstr, size_t size) {
        char part[16], off[24];
        const char *p[4] = { sink, topic, part, off };
        snprintf(part, sizeof(part), "%d", partition);
        snprintf(off, sizeof(off), "%" PRId64, next);
        return result(d, PQexecPrepared(d->conn, "off_put", 4, p, NULL, NULL, 0), PGRES_COMMAND_OK, errstr, size,
                      "storing offsets");
}

/* Two cells hold the same value (upsert keys within one statement). */
static int cell_eq(const sql_cell_t *a, const sql_cell_t *b) {
        if (a->kind != b->kind)
                return 0;
        switch (a->kind) {
        case SQL_INT: return a->u.i == b->u.i;
        case SQL_REAL: return a->u.d == b->u.d;
        case SQL_TEXT: return a->len == b->len && !memcmp(a->u.s, b->u.s, a->len);
        default: return 1;
        }
}

static int same_key(const sql_table_t *t, const sql_row_t *a, const sql_row_t *b) {
        for (int k = 0; k < t->nkey; k++)
                if (!cell_eq(&a->cells[t->key[k]], &b->cells[t->key[k]]))
                        return 0;
        return 1;
}

static uint64_t key_hash(const sql_table_t *t, const sql_row_t *r) {
        uint64_t h = SPATE_HASH_INIT;
        for (int k = 0; k < t->nkey; k++) {
                const sql_cell_t *c = &r->cells[t->key[k]];
                unsigned char kind = (unsigned char)c->kind;
                const void *p = c->kind == SQL_TEXT ? (const void *)c->u.s : (const void *)&c->u;
                size_t n = c->kind == SQL_TEXT ? c->len : c->kind == SQL_NULL ? 0 : sizeof(c->u);
                h = spate_hash_bytes(spate_hash_bytes(h, &kind, 1), p, n);
        }
        return spate_hash_mix(h);
}

/* Upsert groups: a row joins the first statement with room after the one
 * holding its key's previous row, so statements stay full where a
 * partition's rows repeat keys (rows of different keys may change order;
 * those of one key never do). gof[k]: the group of the k-th row written. */
static int group_upserts(const sql_table_t *t, const sql_row_t *rows, const int *elig, int n, int *gof,
                         int *count) {
        enum { SLOTS = 2 * CHUNK + 48 };  /* > 2 x the rows of a chunk: short probes */
        struct { int row, group; } slot[SLOTS];
        int ngroups = 0, fill = 0;
        for (int i = 0; i < SLOTS; i++)
                slot[i].row = -1;
        for (int k = 0; k < n; k++) {
                const sql_row_t *r = &rows[elig[k]];
                size_t h = (size_t)(key_hash(t, r) % SLOTS);
                while (slot[h].row >= 0 && !same_key(t, &rows[slot[h].row], r))
                        h = (h + 1) % SLOTS;
                int g = slot[h].row >= 0 && slot[h].group + 1 > fill ? slot[h].group + 1 : fill;
                while (g < ngroups && count[g] == GROUP)
                        g++;
                if (g == ngroups)
                        count[ngroups++] = 0;
                count[g]++;
                gof[k] = g;
                slot[h].row = elig[k];
                slot[h].group = g;
                while (fill < ngroups && count[fill] == GROUP)
                        fill++;
        }
        return ngroups;
}

/* Cuts the rows to write of [from, to) into groups for one multi-row
 * INSERT each (at most GROUP rows; upsert: no key twice, since ON CONFLICT
 * DO UPDATE cannot touch a row twice in one statement), or one row per
 * group when `multi` is off. Fills idx with the row indexes, group after
 * group, and size with the group sizes; returns the number of groups. */
static int make_groups(const sql_table_t *t, const sql_row_t *rows, int from, int to, int multi, int *idx,
                       int *size) {
        int elig[CHUNK], gof[CHUNK], pos[CHUNK], n = 0, ngroups;
        for (int i = from; i < to; i++)
                if (!rows[i].skip && !rows[i].bad)
                        elig[n++] = i;
        if (!multi || t->mode != SQL_UPSERT) {
                ngroups = 0;
                for (int k = 0; k < n; k++) {
                        int per = multi ? GROUP : 1;
                        if (k % per == 0)
                                size[ngroups++] = 0;
                        size[ngroups - 1]++;
                        idx[k] = elig[k];
                }
                return ngroups;
        }
        ngroups = group_upserts(t, rows, elig, n, gof, size);
        for (int g = 0, p = 0; g < ngroups; p += size[g++])
                pos[g] = p;
        for (int k = 0; k < n; k++)
                idx[pos[gof[k]]++] = elig[k];
        return ngroups;
}

/* Prepares "rows<n>", the INSERT of n rows, once per connection. */
static int prepare_group(sql_db_t *d, const sql_table_t *t, int n, char *errstr, size_t size) {
        char name[16];
        spate_buf_t b = { 0 };
        if (d->prepared[n])
                return 0;
        snprintf(name, sizeof(name), "rows%d", n);
        spate_sql_insert(&b, SQL_DIALECT_PG, t, t->table, 0, t->mode == SQL_UPSERT, n);
        int rc = prepare(d, name, b.data, 0, errstr, size);
        spate_buf_free(&b);
        d->prepared[n] = !rc;
        return rc;
}

/* Queues the statement(s) of one group: "row" (and "cur" for versioned) for
 * a single row, "rows<n>" for more. */
static int send_group(sql_db_t *d, const sql_table_t *t, const sql_row_t *rows, const int *idx, int n,
                      const char *version) {
        const char *vals[n * t->ncols + 1];
        char nums[n * t->ncols][32];
        int len, nv = 0;
        for (int r = 0; r < n; r++)
                for (int i = 0; i < t->ncols; i++, nv++)
                        vals[nv] = spate_sql_cell_text(&rows[idx[r]].cells[i], nums[nv], sizeof(nums[nv]), &len);
        if (n > 1) {
                char name[16];
                snprintf(name, sizeof(name), "rows%d", n);
                return PQsendQueryPrepared(d->conn, name, nv, vals, NULL, NULL, 0) ? 0 : -1;
        }
        vals[nv] = version;
        int ok = PQsendQueryPrepared(d->conn, "row", t->ncols + (t->mode == SQL_VERSIONED), vals, NULL, NULL, 0);
        if (ok && t->mode == SQL_VERSIONED)
                ok = PQsendQueryPrepared(d->conn, "cur", t->ncols, vals, NULL, NULL, 0);
        return ok ? 0 : -1;
}

/* A data exception (22) or integrity violation (23) concerns the row; so
 * does a cardinality violation (21: an upsert touching one row twice, when
 * two keys spate told apart are equal to the database, "1" and 1), which
 * sends the chunk again a row per statement. */
static int row_error(const PGresult *r) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        return state && (!strncmp(state, "21", 2) || !strncmp(state, "22", 2) || !strncmp(state, "23", 2));
}

/* Reads the results of `ncmd` queued commands and the sync. *bad is the
 * command the server rejected as a row error, or -1; none[k]: command k
 * changed no row. Returns -1 for any other failure. */
static int read_chunk(sql_db_t *d, int ncmd, int *bad, char *none, char *msg, size_t msize, char *errstr,
                      size_t size) {
        int rc = 0;
        *bad = -1;
        for (int k = 0; k < ncmd; k++) {
                PGresult *r = PQgetResult(d->conn);
                if (!r)
                        return conn_fail(d, errstr, size, "writing rows");
                ExecStatusType st = PQresultStatus(r);
                none[k] = st == PGRES_COMMAND_OK && !strcmp(PQcmdTuples(r), "0");
                if (st == PGRES_FATAL_ERROR && *bad < 0 && !rc) {
                        char m[768];
                        const char *detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
                        scrub(d, PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) ?: "", m, sizeof(m));
                        snprintf(msg, msize, "%s%s%s", m, detail ? ": " : "", detail ? detail : "");
                        if (row_error(r))
                                *bad = k;
                        else
                                rc = snprintf(errstr, size, "writing rows: %s", msg);
                } else if (st != PGRES_COMMAND_OK && st != PGRES_PIPELINE_ABORTED && st != PGRES_FATAL_ERROR) {
                        rc = snprintf(errstr, size, "writing rows: unexpected %s", PQresStatus(st));
                }
                PQclear(r);
                PQclear(PQgetResult(d->conn));  /* the NULL that ends each command's results */
        }
        PGresult *r = PQgetResult(d->conn);
        if (!r || PQresultStatus(r) != PGRES_PIPELINE_SYNC)
                rc = conn_fail(d, errstr, size, "writing rows (pipeline sync)");
        PQclear(r);
        return rc ? -1 : 0;
}

/* History key: a group's first command (versioned: one row, its history
 * INSERT) that inserted nothing found the row equal to its key's latest
 * version. */
static void mark_same(sql_row_t *rows, const int *idx, const int *cmd_first, const int *cmd_group,
                      const char *none, int ncmd) {
        for (int k = 1; k < ncmd; k++)
                if (cmd_group[k] >= 0 && cmd_group[k] != cmd_group[k - 1] && none[k])
                        rows[idx[cmd_first[cmd_group[k]]]].same = 1;
}

/* Rows [from, to) not skipped or bad, in one pipeline round trip inside a
 * savepoint. Returns -1; 0 when written; 1 after a row was rejected and
 * passed to reject(); 2 when a multi-row INSERT was rejected (which row is
 * unknown). After 1 or 2 the savepoint is rolled back: send the chunk again
 * (after 2, a row per statement). */
static int write_chunk(sql_db_t *d, const sql_table_t *t, sql_row_t *rows, int from, int to, int multi,
                       const char *version, sql_reject_cb reject, void *opaque, char *errstr, size_t size) {
        int idx[CHUNK], gsize[CHUNK], cmd_group[CHUNK * 2 + 2], cmd_first[CHUNK + 1];
        char none[CHUNK * 2 + 2];
        int ngroups = make_groups(t, rows, from, to, multi, idx, gsize), ncmd = 0, bad, rc = 0;
        int per_row = t->mode == SQL_VERSIONED ? 2 : 1;
        char msg[1024];
        for (int g = 0, first = 0; g < ngroups; first += gsize[g++]) {
                cmd_first[g] = first;
                if (gsize[g] > 1 && prepare_group(d, t, gsize[g], errstr, size))
                        return -1;
        }
        if (!PQenterPipelineMode(d->conn))
                return conn_fail(d, errstr, size, "pipeline mode");
        rc = PQsendQueryParams(d->conn, "SAVEPOINT spate_chunk", 0, NULL, NULL, NULL, NULL, 0) ? 0 : -1;
        cmd_group[ncmd++] = -1;
        for (int g = 0; g < ngroups && !rc; g++) {
                rc = send_group(d, t, rows, idx + cmd_first[g], gsize[g], version);
                for (int k = 0; k < (gsize[g] > 1 ? 1 : per_row); k++)
                        cmd_group[ncmd++] = g;
        }
        if (!rc && (!PQsendQueryParams(d->conn, "RELEASE SAVEPOINT spate_chunk", 0, NULL, NULL, NULL, NULL, 0) ||
                    !PQpipelineSync(d->conn)))
                rc = -1;
        cmd_group[ncmd++] = -1;
        if (rc)
                return conn_fail(d, errstr, size, "sending rows");  /* the connection is dropped */
        rc = read_chunk(d, ncmd, &bad, none, msg, sizeof(msg), errstr, size);
        if (!PQexitPipelineMode(d->conn) && !rc)
                rc = conn_fail(d, errstr, size, "leaving pipeline mode");
        if (!rc && bad < 0 && t->nhkey)
                mark_same(rows, idx, cmd_first, cmd_group, none, ncmd);
        if (rc || bad < 0)
                return rc;
        int g = cmd_group[bad];
        if (g < 0) {
                snprintf(errstr, size, "savepoint: %s", msg);
                return -1;
        }
        if (gsize[g] == 1) {
                int row = idx[cmd_first[g]];
                rows[row].bad = 1;
                reject(opaque, row, msg);
        }
        return exec(d, "ROLLBACK TO SAVEPOINT spate_chunk; RELEASE SAVEPOINT spate_chunk", errstr, size) ? -1
               : gsize[g] == 1 ? 1 : 2;
}

/* Sends the rows not skipped or bad as COPY data (upsert: with the row's
 * index for STAGE_SEQ) and ends the COPY. */
static int send_copy(sql_db_t *d, const sql_table_t *t, const sql_row_t *rows, int nrows) {
        spate_buf_t *b = &d->copy;
        char num[32];
        int len, ok = 1;
        b->len = 0;
        for (int i = 0; i < nrows && ok; i++) {
                if (rows[i].skip || rows[i].bad)
                        continue;
                for (int c = 0; c < t->ncols; c++) {
                        if (c)
                                spate_buf_putc(b, '\t');
                        const char *v = spate_sql_cell_text(&rows[i].cells[c], num, sizeof(num), &len);
                        spate_sql_copy_field(b, v, len);
                }
                if (d->merge_sql)
                        spate_buf_put(b, num, (size_t)snprintf(num, sizeof(num), "\t%d", i));
                spate_buf_putc(b, '\n');
                if (b->len >= 1 << 16) {
                        ok = PQputCopyData(d->conn, b->data, (int)b->len) == 1;
                        b->len = 0;
                }
        }
        if (ok && b->len)
                ok = PQputCopyData(d->conn, b->data, (int)b->len) == 1;
        return PQputCopyEnd(d->conn, ok ? NULL : "spate: sending the rows failed") == 1 && ok ? 0 : -1;
}

/* 0 if r is a success, 1 if the database rejected a row (a data or
 * integrity error: the batch goes the row-finding way), else -1 with the
 * error in errstr. Clears r. */
static int copy_result(sql_db_t *d, PGresult *r, char *errstr, size_t size, const char *what) {
        if (r && PQresultStatus(r) == PGRES_FATAL_ERROR && row_error(r)) {
                char msg[768];
                scrub(d, PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) ?: "", msg, sizeof(msg));
                spate_debug("sql_sink: %s: %s; finding the row a statement at a time", what, msg);
                PQclear(r);
                return 1;
        }
        return result(d, r, PGRES_COMMAND_OK, errstr, size, what);
}

/* The COPY path of a batch, inside a savepoint. Returns 0 when written, 1
 * when a row was rejected (rolled back: nothing of the batch is in), -1
 * when the transaction is lost. */
static int copy_rows(sql_db_t *d, const sql_table_t *t, const sql_row_t *rows, int nrows, char *errstr,
                     size_t size) {
        PGresult *r;
        if (exec(d, "SAVEPOINT spate_copy", errstr, size))
                return -1;
        if (!(r = PQexec(d->conn, d->copy_sql)) || PQresultStatus(r) != PGRES_COPY_IN)
                return result(d, r, PGRES_COPY_IN, errstr, size, "COPY");
        PQclear(r);
        if (send_copy(d, t, rows, nrows))
                return conn_fail(d, errstr, size, "sending rows");
        int rc = copy_result(d, PQgetResult(d->conn), errstr, size, "copying rows");
        while ((r = PQgetResult(d->conn)))
                PQclear(r);
        if (!rc && d->merge_sql)
                rc = copy_result(d, PQexec(d->conn, d->merge_sql), errstr, size, "merging rows");
        if (rc == 1)
                return exec(d, "ROLLBACK TO SAVEPOINT spate_copy; RELEASE SAVEPOINT spate_copy", errstr, size) ? -1 : 1;
        if (rc)
                return -1;
        return exec(d, d->merge_sql ? "TRUNCATE " STAGE "; RELEASE SAVEPOINT spate_copy"
                                    : "RELEASE SAVEPOINT spate_copy", errstr, size);
}

static int pg_write(sql_db_t *d, const sql_table_t *t, sql_row_t *rows, int nrows, int64_t version,
                    sql_reject_cb reject, void *opaque, char *errstr, size_t size) {
        int todo = 0;
        for (int i = 0; i < nrows; i++)
                todo += !rows[i].skip && !rows[i].bad;
        if (d->copy_sql && todo >= COPY_MIN) {
                int rc = copy_rows(d, t, rows, nrows, errstr, size);
                if (rc <= 0)
                        return rc;
        }
        char v[24];
        /* Multi-row INSERTs for append and upsert; versioned writes two tables a row. */
        int multi_ok = t->mode != SQL_VERSIONED && t->ncols <= 64;
        snprintf(v, sizeof(v), "%" PRId64, version);
        for (int from = 0; from < nrows;) {
                int to = from + CHUNK < nrows ? from + CHUNK : nrows, multi = multi_ok, rc;
                while ((rc = write_chunk(d, t, rows, from, to, multi, v, reject, opaque, errstr, size)) > 0)
                        if (rc == 2)
                                multi = 0;  /* find the rejected row: a statement per row */
                if (rc < 0)
                        return -1;
                from = to;
        }
        return 0;
}

const sql_backend_t spate_sql_pg = {
        .name = "postgres",
        .dialect = SQL_DIALECT_PG,
        .open = pg_open,
        .close = pg_close,
        .setup = pg_setup,
        .begin = pg_begin,
        .offset_get = pg_offset_get,
        .offset_put = pg_offset_put,
        .write = pg_write,
        .commit = pg_commit,
        .rollback = pg_rollback,
};
