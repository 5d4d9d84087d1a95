/* sql_text.c - SQL text shared by the SQLite and PostgreSQL backends of
 * `sql_sink`: column types, CREATE TABLE, INSERT / upsert, identifier
 * quoting, and masking the password of a connection URL. */
#include "sql.h"
#include "../../util/util.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *const spate_sql_type_names[] = { "text", "bigint", "double", "boolean", "timestamp", NULL };

static void puts_(spate_buf_t *b, const char *s) {
        spate_buf_put(b, s, strlen(s));
}

static void finish(spate_buf_t *b) {
        spate_buf_putc(b, '\0');
        b->len--;
}

int spate_sql_parse_type(const char *decl, sql_type_t *type, const char **extra) {
        size_t n = strcspn(decl, " \t");
        for (int i = 0; spate_sql_type_names[i]; i++)
                if (strlen(spate_sql_type_names[i]) == n && !strncasecmp(decl, spate_sql_type_names[i], n)) {
                        *type = (sql_type_t)i;
                        *extra = decl + n + strspn(decl + n, " \t");
                        return 0;
                }
        return -1;
}

int spate_sql_type_category(const char *dbtype) {
        static const struct { const char *word; sql_type_t t; } words[] = {
                { "timestamp", SQL_T_TIMESTAMP }, { "date", SQL_T_TIMESTAMP }, { "bool", SQL_T_BOOL },
                { "int", SQL_T_BIGINT }, { "double", SQL_T_DOUBLE }, { "real", SQL_T_DOUBLE },
                { "float", SQL_T_DOUBLE }, { "numeric", SQL_T_DOUBLE }, { "decimal", SQL_T_DOUBLE },
                { "char", SQL_T_TEXT }, { "text", SQL_T_TEXT }, { "clob", SQL_T_TEXT },
        };
        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
                if (strcasestr(dbtype, words[i].word))
                        return (int)words[i].t;
        return -1;
}

int spate_sql_type_fits(sql_dialect_t d, sql_type_t want, const char *dbtype) {
        int got = spate_sql_type_category(dbtype);
        if (got == (int)want)
                return 1;
        /* SQLite has no boolean or timestamp storage: spate writes 0/1 and ISO text. */
        return d == SQL_DIALECT_SQLITE &&
               ((want == SQL_T_BOOL && got == SQL_T_BIGINT) || (want == SQL_T_TIMESTAMP && got == SQL_T_TEXT));
}

const char *spate_sql_type_ddl(sql_dialect_t d, sql_type_t t) {
        static const char *const sqlite[] = { "TEXT", "INTEGER", "REAL", "INTEGER", "TEXT" };
        static const char *const pg[] = { "text", "bigint", "double precision", "boolean", "timestamptz" };
        return d == SQL_DIALECT_SQLITE ? sqlite[t] : pg[t];
}

void spate_sql_ident(spate_buf_t *b, const char *name) {
        spate_buf_putc(b, '"');
        for (const char *p = name; *p; p++) {
                if (*p == '"')
                        spate_buf_putc(b, '"');
                spate_buf_putc(b, *p);
        }
        spate_buf_putc(b, '"');
}

static void key_list(spate_buf_t *b, const sql_table_t *t) {
        for (int i = 0; i < t->nkey; i++) {
                if (i)
                        puts_(b, ", ");
                spate_sql_ident(b, t->cols[t->key[i]].name);
        }
}

/* `<verb> "name" (col, col, ...`: with types and constraints when ddl,
 * then the version column. */
static void table_head(spate_buf_t *b, sql_dialect_t d, const sql_table_t *t, const char *verb, const char *name,
                       int ddl, int with_version) {
        puts_(b, verb);
        spate_sql_ident(b, name);
        puts_(b, " (");
        for (int i = 0; i < t->ncols; i++) {
                if (i)
                        puts_(b, ", ");
                spate_sql_ident(b, t->cols[i].name);
                if (!ddl)
                        continue;
                spate_buf_putc(b, ' ');
                puts_(b, spate_sql_type_ddl(d, t->cols[i].type));
                if (*t->cols[i].extra) {
                        spate_buf_putc(b, ' ');
                        puts_(b, t->cols[i].extra);
                }
        }
        if (with_version) {
                puts_(b, ", ");
                spate_sql_ident(b, t->version_col);
                if (ddl)
                        puts_(b, d == SQL_DIALECT_SQLITE ? " INTEGER NOT NULL" : " bigint NOT NULL");
        }
}

void spate_sql_create(spate_buf_t *b, sql_dialect_t d, const sql_table_t *t, const char *name,
                      int with_version, int pk) {
        table_head(b, d, t, "CREATE TABLE IF NOT EXISTS ", name, 1, with_version);
        if (pk && t->nkey) {
                puts_(b, ", PRIMARY KEY (");
                key_list(b, t);
                spate_buf_putc(b, ')');
        }
        /* STRICT: SQLite then rejects a value of the wrong type, as PostgreSQL does. */
        puts_(b, d == SQL_DIALECT_SQLITE ? ") STRICT" : ")");
        finish(b);
}

static void placeholder(spate_buf_t *b, sql_dialect_t d, int i) {
        char ph[16];
        snprintf(ph, sizeof(ph), d == SQL_DIALECT_SQLITE ? "?" : "$%d", i + 1);
        puts_(b, ph);
}

/* ` ON CONFLICT (key) DO UPDATE SET col = excluded.col, ...` (DO NOTHING when every column is
 * in the key), into table `name`; with newer_by only a row at least as new replaces the held one. */
static void on_conflict(spate_buf_t *b, const sql_table_t *t, const char *name) {
        int others = 0;
        puts_(b, " ON CONFLICT (");
        key_list(b, t);
        puts_(b, ") DO ");
        for (int i = 0; i < t->ncols; i++) {
                int in_key = 0;
                for (int k = 0; k < t->nkey; k++)
                        in_key |= t->key[k] == i;
                if (in_key)
                        continue;
                puts_(b, others++ ? ", " : "UPDATE SET ");
                spate_sql_ident(b, t->cols[i].name);
                puts_(b, " = excluded.");
                spate_sql_ident(b, t->cols[i].name);
        }
        if (!others) {
                puts_(b, "NOTHING");
                return;
        }
        if (t->newer_by) {
                const char *col = t->cols[t->newer_by - 1].name;
                puts_(b, " WHERE excluded.");
                spate_sql_ident(b, col);
                puts_(b, " >= ");
                spate_sql_ident(b, name);
                spate_buf_putc(b, '.');
                spate_sql_ident(b, col);
        }
}

void spate_sql_insert(spate_buf_t *b, sql_dialect_t d, const sql_table_t *t, const char *name,
                      int with_version, int upsert, int nrows) {
        int n = t->ncols + !!with_version;
        table_head(b, d, t, "INSERT INTO ", name, 0, with_version);
        puts_(b, ") VALUES ");
        for (int r = 0; r < nrows; r++) {
                puts_(b, r ? ", (" : "(");
                for (int i = 0; i < n; i++) {
                        if (i)
                                puts_(b, ", ");
                        placeholder(b, d, r * n + i);
                }
                spate_buf_putc(b, ')');
        }
        if (upsert)
                on_conflict(b, t, name);
        finish(b);
}

/* Placeholder N (from 1) of spate_sql_insert_changed: ?N, or $N::type, since PostgreSQL types the
 * parameters of a SELECT list as text when nothing else says. */
static void numbered(spate_buf_t *b, sql_dialect_t d, int n, const char *pg_type) {
        char ph[64];
        if (d == SQL_DIALECT_SQLITE)
                snprintf(ph, sizeof(ph), "?%d", n);
        else
                snprintf(ph, sizeof(ph), "$%d::%s", n, pg_type);
        puts_(b, ph);
}

static void col_param(spate_buf_t *b, sql_dialect_t d, const sql_table_t *t, int i) {
        numbered(b, d, i + 1, spate_sql_type_ddl(d, t->cols[i].type));
}

/* `alias."hk" = p AND ...` over the history key. */
static void history_match(spate_buf_t *b, sql_dialect_t d, const sql_table_t *t, const char *alias) {
        for (int k = 0; k < t->nhkey; k++) {
                puts_(b, k ? " AND " : "");
                puts_(b, alias);
                spate_sql_ident(b, t->cols[t->hkey[k]].name);
                puts_(b, " = ");
                col_param(b, d, t, t->hkey[k]);
        }
}

void spate_sql_insert_changed(spate_buf_t *b, sql_dialect_t d, const sql_table_t *t) {
        table_head(b, d, t, "INSERT INTO ", t->table, 0, 1);
        puts_(b, ") SELECT ");
        for (int i = 0; i < t->ncols; i++) {
                col_param(b, d, t, i);
                puts_(b, ", ");
        }
        numbered(b, d, t->ncols + 1, "bigint");
        puts_(b, " WHERE NOT EXISTS (SELECT 1 FROM ");
        spate_sql_ident(b, t->table);
        puts_(b, " l WHERE ");
        history_match(b, d, t, "l.");
        puts_(b, " AND l.");
        spate_sql_ident(b, t->version_col);
        puts_(b, " = (SELECT max(m.");
        spate_sql_ident(b, t->version_col);
        puts_(b, ") FROM ");
        spate_sql_ident(b, t->table);
        puts_(b, " m WHERE ");
        history_match(b, d, t, "m.");
        spate_buf_putc(b, ')');
        for (int i = 0; i < t->ncols; i++) {
                int in_key = 0;
                for (int k = 0; k < t->nhkey; k++)
                        in_key |= t->hkey[k] == i;
                if (in_key)
                        continue;
                puts_(b, " AND l.");
                spate_sql_ident(b, t->cols[i].name);
                puts_(b, d == SQL_DIALECT_SQLITE ? " IS " : " IS NOT DISTINCT FROM ");  /* NULL equals NULL */
                col_param(b, d, t, i);
        }
        spate_buf_putc(b, ')');
        finish(b);
}

void spate_sql_history_index(spate_buf_t *b, const sql_table_t *t) {
        spate_buf_t name = { 0 };
        puts_(&name, t->table);
        puts_(&name, "_history");
        finish(&name);
        puts_(b, "CREATE INDEX IF NOT EXISTS ");
        spate_sql_ident(b, name.data);
        puts_(b, " ON ");
        spate_sql_ident(b, t->table);
        puts_(b, " (");
        for (int k = 0; k < t->nhkey; k++) {
                spate_sql_ident(b, t->cols[t->hkey[k]].name);
                puts_(b, ", ");
        }
        spate_sql_ident(b, t->version_col);
        spate_buf_putc(b, ')');
        finish(b);
        spate_buf_free(&name);
}

static void column_list(spate_buf_t *b, const sql_table_t *t) {
        for (int i = 0; i < t->ncols; i++) {
                if (i)
                        puts_(b, ", ");
                spate_sql_ident(b, t->cols[i].name);
        }
}

void spate_sql_copy(spate_buf_t *b, const sql_table_t *t, const char *name, const char *seq_col) {
        table_head(b, SQL_DIALECT_PG, t, "COPY ", name, 0, 0);
        if (seq_col) {
                puts_(b, ", ");
                spate_sql_ident(b, seq_col);
        }
        puts_(b, ") FROM STDIN");
        finish(b);
}

void spate_sql_merge(spate_buf_t *b, const sql_table_t *t, const char *stage, const char *seq_col) {
        table_head(b, SQL_DIALECT_PG, t, "INSERT INTO ", t->table, 0, 0);
        puts_(b, ") SELECT DISTINCT ON (");
        key_list(b, t);
        puts_(b, ") ");
        column_list(b, t);
        puts_(b, " FROM ");
        spate_sql_ident(b, stage);
        puts_(b, " ORDER BY ");
        key_list(b, t);
        puts_(b, ", ");
        spate_sql_ident(b, seq_col);
        puts_(b, " DESC");
        on_conflict(b, t, t->table);
        finish(b);
}

/* postgresql://user:secret@host/db -> postgresql://user:***@host/db; in a
 * conninfo string, password=secret -> password=***. */
void spate_sql_mask(const char *url, char *out, size_t size) {
        const char *scheme = strstr(url, "://"), *at, *colon, *pw;
        if (scheme && (at = strchr(scheme + 3, '@')) &&
            (colon = memchr(scheme + 3, ':', (size_t)(at - scheme - 3)))) {
                snprintf(out, size, "%.*s:***%s", (int)(colon - url), url, at);
                return;
        }
        if ((pw = strstr(url, "password="))) {
                const char *end = pw + strlen("password=");
                if (*end == '\'') {
                        for (end++; *end && *end != '\''; end++)
                                if (*end == '\\' && end[1])
                                        end++;
                        if (*end)
                                end++;
                } else {
                        end += strcspn(end, " \t");
                }
                snprintf(out, size, "%.*spassword=***%s", (int)(pw - url), url, end);
                return;
        }
        snprintf(out, size, "%s", url);
}

void spate_sql_copy_field(spate_buf_t *b, const char *s, int len) {
        if (!s) {
                spate_buf_put(b, "\\N", 2);
                return;
        }
        int from = 0;
        for (int i = 0; i < len; i++) {
                char c = s[i], e = c == '\\' ? '\\' : c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : 0;
                if (!e)
                        continue;
                spate_buf_put(b, s + from, (size_t)(i - from));
                spate_buf_putc(b, '\\');
                spate_buf_putc(b, e);
                from = i + 1;
        }
        spate_buf_put(b, s + from, (size_t)(len - from));
}

const char *spate_sql_cell_text(const sql_cell_t *c, char *buf, size_t size, int *len) {
        switch (c->kind) {
        case SQL_INT:
                *len = snprintf(buf, size, "%" PRId64, c->u.i);
                return buf;
        case SQL_REAL:
                *len = spate_fmt_num(buf, size, c->u.d);
                return buf;
        case SQL_TEXT:
                *len = (int)c->len;
                return c->u.s;
        default:
                *len = 0;
                return NULL;
        }
}
