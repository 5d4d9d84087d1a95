/* table_file.c - file tables: one CSV or JSON-lines file (reloaded when its
 * size or time changes), or a folder of dated subfolders (2026-12-01/, names
 * that sort by date) where the newest complete one wins. A subfolder is
 * complete when it holds a _SUCCESS file - its publisher writes it last, so
 * a folder being written is never read - and every data file in it parses: a
 * bad line refuses the whole version (each bad line is dead-lettered with
 * file:line and the reason, once per version) and the version held stays.
 *
 * CSV: a header line names the columns; a cell that is a JSON number is a
 * number, an empty cell is null, anything else a string ("007" stays a
 * string, so ids keep their zeros); "quoted, cells" with "" inside, on one
 * line. JSON lines: one object a line. Files starting with _ or . are not
 * data. With version_as, each row of a subfolder gets its name in that
 * column, so results can say which version of the side data they used. */
#include "table_int.h"
#include "../../engine/ctx.h"
#include "../../serde/json_scan.h"
#include "../../util/log.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What one file being loaded shares between its lines. */
typedef struct load {
        spate_node_t *n;
        spate_ctx_t *ctx;
        const char *path;
        int csv;
        int *col;           /* CSV: header column of each row column, -1: none */
        int ncells;         /* CSV: header cells */
        long bad;
} load_t;

static void bad_line(load_t *l, long line, const char *text, size_t len, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static void bad_line(load_t *l, long line, const char *text, size_t len, const char *fmt, ...) {
        tnode_t *t = l->n->ctx;
        char why[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        spate_ctx_fail(l->ctx, l->n, "table %s: %s:%ld: %s", l->n->name, l->path, line, why);
        spate_err("%s", l->ctx->errstr);
        spate_origin_t o = { .topic = l->path, .partition = -1, .offset = line, .payload = text, .len = len,
                             .up_partition = -1, .up_offset = -1 };
        spate_ctx_dead_letter(l->ctx, &o);
        l->ctx->failed = NULL;
        t->dlq++;
        l->bad++;
}

int spate_table_csv_cells(const char *p, size_t len, spate_arena_t *a, spate_value_t **cells, const char **why) {
        int n = 0, cap = 16;
        spate_value_t *c = spate_arena_alloc(a, sizeof(*c) * (size_t)cap);
        /* The cells' text, one after the other: no more than the line. */
        char *text = spate_arena_alloc(a, len + 1);
        size_t i = 0;
        for (;;) {
                char *s = text;
                size_t sl = 0;
                int quoted = i < len && p[i] == '"';
                if (quoted) {
                        for (i++;; i++) {
                                if (i >= len) {
                                        *why = "a quoted cell is not closed on its line";
                                        return -1;
                                }
                                if (p[i] == '"' && !(i + 1 < len && p[i + 1] == '"'))
                                        break;
                                s[sl++] = p[i];
                                i += p[i] == '"';
                        }
                        i++;
                        if (i < len && p[i] != ',') {
                                *why = "text after a closing quote";
                                return -1;
                        }
                } else {
                        while (i < len && p[i] != ',')
                                s[sl++] = p[i++];
                }
                if (n == cap) {
                        spate_value_t *g = spate_arena_alloc(a, sizeof(*g) * (size_t)cap * 2);
                        memcpy(g, c, sizeof(*g) * (size_t)cap);
                        c = g;
                        cap *= 2;
                }
                double d;
                memset(&c[n], 0, sizeof(c[n]));
                if (!sl && !quoted)
                        c[n].type = SPATE_V_NULL;
                else if (!quoted && spate_json_number(s, sl, &d) == sl)
                        c[n] = spate_value_num(d);
                else
                        c[n] = spate_value_str(s, (uint32_t)sl);
                n++;
                text += sl;
                if (i >= len)
                        break;
                i++;  /* the comma */
        }
        *cells = c;
        return n;
}

/* The header: which cell feeds each row column. 0, or -1 (dead-lettered). */
static int csv_header(load_t *l, const char *text, size_t len) {
        tnode_t *t = l->n->ctx;
        spate_value_t *cells;
        const char *why;
        int nc = spate_table_csv_cells(text, len, &t->arena, &cells, &why);
        if (nc < 0) {
                bad_line(l, 1, text, len, "header: %s", why);
                return -1;
        }
        l->ncells = nc;
        l->col = calloc((size_t)t->shape->nfields, sizeof(*l->col));
        if (!l->col)
                return -1;
        for (int f = 0; f < t->shape->nfields; f++) {
                const spate_shape_field_t *fd = &t->shape->fields[f];
                l->col[f] = -1;
                for (int c = 0; c < nc; c++)
                        if (cells[c].type == SPATE_V_STR && cells[c].n == fd->len &&
                            !memcmp(cells[c].u.s, fd->name, fd->len))
                                l->col[f] = c;
                if (l->col[f] < 0 && f + 1 != t->version_col && spate_node_param(l->n, "columns")) {
                        bad_line(l, 1, text, len, "the header has no column '%s' (the table declares it)",
                                 fd->name);
                        return -1;
                }
        }
        return 0;
}

/* One data line into t->next. */
static void load_line(load_t *l, long line, const char *text, size_t len) {
        tnode_t *t = l->n->ctx;
        spate_record_t rec = { .ts = 0 };
        const char *key, *why;
        size_t klen;
        char err[512];
        spate_arena_reset(&t->arena);
        if (l->csv) {
                spate_value_t *cells;
                int nc = spate_table_csv_cells(text, len, &t->arena, &cells, &why);
                if (nc < 0)
                        return bad_line(l, line, text, len, "%s", why);
                if (nc != l->ncells)
                        return bad_line(l, line, text, len, "%d cells, the header has %d", nc, l->ncells);
                int nf = t->shape->nfields;
                rec.value = (spate_value_t){ .type = SPATE_V_OBJ, .n = (uint32_t)nf };
                rec.value.u.items = spate_arena_alloc(&t->arena, sizeof(spate_value_t) * (size_t)nf);
                for (int f = 0; f < nf; f++)
                        rec.value.u.items[f] = l->col[f] < 0 ? (spate_value_t){ .type = SPATE_V_MISSING }
                                                             : cells[l->col[f]];
        } else if (spate_json_decode(t->shape, text, len, &t->arena, &rec.value, err, sizeof(err))) {
                return bad_line(l, line, text, len, "%s", err);
        } else if (rec.value.type != SPATE_V_OBJ) {
                return bad_line(l, line, text, len, "not a JSON object");
        }
        if (t->version_col && (int)rec.value.n >= t->version_col)
                rec.value.u.items[t->version_col - 1] = spate_value_str(t->loading, (uint32_t)strlen(t->loading));
        if (spate_table_row_key(t, &rec, &key, &klen, err, sizeof(err)))
                return bad_line(l, line, text, len, "%s", err);
        t->buf.len = 0;
        spate_table_row_encode(rec.value.u.items, (int)rec.value.n, &t->buf);
        if (spate_table_put(t->next, key, klen, t->buf.data, t->buf.len))
                bad_line(l, line, text, len, "out of memory");
}

static char *read_all(const char *path, size_t *len) {
        FILE *fp = fopen(path, "rb");
        char *buf = NULL;
        size_t cap = 0, n = 0;
        if (!fp)
                return NULL;
        for (;;) {
                if (n == cap) {
                        char *g = realloc(buf, cap = cap ? cap * 2 : 65536);
                        if (!g) {
                                free(buf);
                                fclose(fp);
                                return NULL;
                        }
                        buf = g;
                }
                size_t got = fread(buf + n, 1, cap - n, fp);
                n += got;
                if (!got)
                        break;
        }
        int err = ferror(fp);
        fclose(fp);
        if (err) {
                free(buf);
                return NULL;
        }
        *len = n;
        return buf;
}

static int ends_with(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && !strcmp(s + a - b, suffix);
}

/* Adds the rows of one file to t->next; the number of bad lines (each
 * dead-lettered), 1 for a file that cannot be read. */
static long load_file(spate_node_t *n, spate_ctx_t *ctx, const char *path) {
        load_t l = { .n = n, .ctx = ctx, .path = path, .csv = ends_with(path, ".csv") };
        size_t len;
        char *buf = read_all(path, &len);
        if (!buf) {
                bad_line(&l, 0, "", 0, "cannot read: %s", strerror(errno));
                return l.bad;
        }
        long line = 0;
        size_t i = len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3) ? 3 : 0;  /* a UTF-8 BOM (spreadsheets) */
        while (i < len) {
                const char *s = buf + i, *nl = memchr(s, '\n', len - i);
                size_t ll = nl ? (size_t)(nl - s) : len - i;
                i += ll + 1;
                line++;
                size_t tl = ll && s[ll - 1] == '\r' ? ll - 1 : ll;
                if (l.csv && line == 1) {
                        if (csv_header(&l, s, tl))
                                break;
                } else if (tl) {
                        load_line(&l, line, s, tl);
                }
        }
        if (l.csv && line == 0)
                bad_line(&l, 1, "", 0, "empty: a CSV table file starts with its header");
        free(l.col);
        free(buf);
        return l.bad;
}

/* Loads folder `dir` (its data files in name order) into t->next: 0 if
 * every line was good. */
static long load_folder(spate_node_t *n, spate_ctx_t *ctx, const char *dir) {
        struct dirent **ents;
        long bad = 0;
        char path[PATH_MAX + 1024];
        int ne = scandir(dir, &ents, NULL, alphasort);
        if (ne < 0)
                return 1;
        for (int i = 0; i < ne; i++) {
                const char *name = ents[i]->d_name;
                struct stat st;
                snprintf(path, sizeof(path), "%s/%s", dir, name);
                if (name[0] != '_' && name[0] != '.' && !stat(path, &st) && S_ISREG(st.st_mode))
                        bad += load_file(n, ctx, path);
                free(ents[i]);
        }
        free(ents);
        return bad;
}

/* Makes t->next the live version (the old one is dropped). */
static void install(tnode_t *t) {
        spate_table_swap(t->rows, t->next);
        spate_table_clear(t->next);
        spate_table_changed(t, NULL, 0);
}

static int refresh_file(spate_node_t *n, spate_ctx_t *ctx) {
        tnode_t *t = n->ctx;
        struct stat st;
        if (stat(t->path, &st)) {
                spate_warn("table %s: %s: %s (keeping the version held)", n->name, t->path, strerror(errno));
                return 0;
        }
        if (st.st_size == t->file_size && st.st_mtim.tv_sec == t->file_mtime.tv_sec &&
            st.st_mtim.tv_nsec == t->file_mtime.tv_nsec)
                return 0;
        t->file_size = st.st_size;
        t->file_mtime = st.st_mtim;
        spate_table_clear(t->next);
        long bad = load_file(n, ctx, t->path);
        if (bad) {
                spate_err("table %s: %s has %ld bad line%s (dead-lettered): keeping the %zu rows held", n->name,
                          t->path, bad, bad == 1 ? "" : "s", spate_table_count(t->rows));
                spate_table_clear(t->next);
                return 0;
        }
        install(t);
        spate_info("table %s: loaded %s, %zu rows", n->name, t->path, spate_table_count(t->rows));
        return 0;
}

static int refused(const tnode_t *t, const char *name, const struct stat *marker) {
        for (int i = 0; i < TABLE_REFUSED_MAX; i++)
                if (!strcmp(t->refused[i].name, name) && marker->st_mtim.tv_sec == t->refused[i].mtime.tv_sec &&
                    marker->st_mtim.tv_nsec == t->refused[i].mtime.tv_nsec)
                        return 1;
        return 0;
}

/* Newer than the held version, and not refused as it is now (a refused
 * version is tried again once its marker is rewritten). */
static int is_candidate(const tnode_t *t, const char *name, const struct stat *marker) {
        return strcmp(name, t->version) > 0 && strlen(name) < sizeof(t->version) && !refused(t, name, marker);
}

static void refuse(tnode_t *t, const char *name, const struct stat *marker) {
        struct refused_version *r = &t->refused[t->nrefused++ % TABLE_REFUSED_MAX];
        snprintf(r->name, sizeof(r->name), "%s", name);
        r->mtime = marker->st_mtim;
}

static int refresh_dir(spate_node_t *n, spate_ctx_t *ctx) {
        tnode_t *t = n->ctx;
        struct dirent **ents;
        char sub[PATH_MAX + 256], marker[PATH_MAX + 512];
        int ne = scandir(t->path, &ents, NULL, alphasort), done = 0;
        if (ne < 0) {
                spate_warn("table %s: %s: %s (keeping the version held)", n->name, t->path, strerror(errno));
                return 0;
        }
        /* Newest first: the first complete, valid one newer than the held one wins. */
        for (int i = ne - 1; i >= 0; i--) {
                const char *name = ents[i]->d_name;
                struct stat st;
                snprintf(sub, sizeof(sub), "%s/%s", t->path, name);
                snprintf(marker, sizeof(marker), "%s/_SUCCESS", sub);
                if (done || name[0] == '.' || stat(marker, &st) || !is_candidate(t, name, &st))
                        goto next;
                spate_table_clear(t->next);
                t->loading = name;
                long bad = load_folder(n, ctx, sub);
                if (bad) {
                        spate_err("table %s: version %s has %ld bad line%s (dead-lettered): not loaded; %s%s",
                                  n->name, sub, bad, bad == 1 ? "" : "s",
                                  *t->version ? "keeping version " : "trying older complete versions",
                                  t->version);
                        refuse(t, name, &st);
                        spate_table_clear(t->next);
                        goto next;
                }
                install(t);
                snprintf(t->version, sizeof(t->version), "%s", name);
                spate_info("table %s: loaded version %s, %zu rows", n->name, sub, spate_table_count(t->rows));
                done = 1;
next:
                free(ents[i]);
        }
        free(ents);
        if (!*t->version && !t->warned_empty) {
                spate_warn("table %s: %s holds no complete version yet (a subfolder with a _SUCCESS file): "
                           "the table is empty", n->name, t->path);
                t->warned_empty = 1;
        }
        return 0;
}

int spate_table_files_refresh(spate_node_t *n, spate_ctx_t *ctx) {
        return ((tnode_t *)n->ctx)->is_dir ? refresh_dir(n, ctx) : refresh_file(n, ctx);
}
