/* tail_view.c - what `spate tail` shows: the sort order, the JSON-lines
 * snapshot and the terminal table. */
#include "tail.h"
#include "../util/mem.h"
#include "tail_json.h"
#include "../serde/json_scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEY_MAX_WIDTH   32
#define FIELD_MAX_WIDTH 40
#define COL_GAP         2

static void add_field(tail_t *t, const char *name, size_t len) {
        for (int i = 0; i < t->nfields; i++)
                if (strlen(t->fields[i]) == len && !memcmp(t->fields[i], name, len))
                        return;
        if (t->nfields == TAIL_MAX_FIELDS)
                return;
        t->fields[t->nfields++] = strndup(name, len);
}

/* Caches the --sort field of e: numbers compare as numbers, strings by
 * bytes, other values by their text; a missing or null field sorts last. */
static void sort_key(tail_t *t, tail_entry_t *e) {
        const char *v = NULL;
        size_t vl = 0;
        e->sort_rank = 3;
        if (e->kind == TJ_OBJECT) {
                if (!tj_get(e->val, e->vlen, t->sort, &v, &vl))
                        return;
        } else if (!strcmp(t->sort, "value")) {
                v = e->val;
                vl = e->vlen;
                while (vl && (*v == ' ' || *v == '\n' || *v == '\r' || *v == '\t'))
                        v++, vl--;
                while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\n' || v[vl - 1] == '\r' || v[vl - 1] == '\t'))
                        vl--;
        } else {
                return;
        }
        switch (e->kind == TJ_NONE ? TJ_NONE : tj_kind_of(v, vl)) {
        case TJ_NULL:
                return;
        case TJ_NUMBER:
                e->sort_rank = 0;
                spate_json_number(v, vl, &e->sort_num);
                return;
        case TJ_STRING:
                e->sort_rank = 1;
                e->sort_off = (size_t)(v - e->val) + 1;
                e->sort_len = vl - 2;
                return;
        default:
                e->sort_rank = 2;
                e->sort_off = (size_t)(v - e->val);
                e->sort_len = vl;
        }
}

void tail_analyze(tail_t *t, tail_entry_t *e) {
        e->kind = tj_classify(e->val, e->vlen);
        if (t->sort)
                sort_key(t, e);
        /* Default columns: the fields of the first values, in order of appearance. */
        if (t->fields_given || t->scanned >= 1000 || t->nfields == TAIL_MAX_FIELDS)
                return;
        t->scanned++;
        if (e->kind != TJ_OBJECT) {
                add_field(t, "value", 5);
                return;
        }
        tj_iter_t it;
        const char *n, *v;
        size_t nl, vl;
        spate_buf_t name = { 0 };
        tj_iter_init(&it, e->val, e->vlen);
        while (tj_iter_next(&it, &n, &nl, &v, &vl)) {
                name.len = 0;
                tj_unescape(&name, n, nl);
                add_field(t, name.data ? name.data : "", name.len);
        }
        spate_buf_free(&name);
}

static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl) {
        int c = memcmp(a, b, al < bl ? al : bl);
        return c ? c : (al > bl) - (al < bl);
}

static int entry_cmp(const void *pa, const void *pb, void *arg) {
        const tail_entry_t *a = *(tail_entry_t *const *)pa, *b = *(tail_entry_t *const *)pb;
        const tail_t *t = arg;
        int c = 0;
        if (t->sort) {
                if (a->sort_rank == 3 || b->sort_rank == 3) {
                        c = (a->sort_rank == 3) - (b->sort_rank == 3);  /* missing last, either way */
                        if (c)
                                return c;
                } else if (a->sort_rank != b->sort_rank) {
                        c = a->sort_rank - b->sort_rank;
                } else if (a->sort_rank == 0) {
                        c = (a->sort_num > b->sort_num) - (a->sort_num < b->sort_num);
                } else {
                        c = bytes_cmp(a->val + a->sort_off, a->sort_len, b->val + b->sort_off, b->sort_len);
                }
                if (c)
                        return t->desc ? -c : c;
                return bytes_cmp(a->key, a->klen, b->key, b->klen);  /* ties: by key, ascending */
        }
        c = bytes_cmp(a->key, a->klen, b->key, b->klen);
        return t->desc ? -c : c;
}

tail_entry_t **tail_sorted(tail_t *t, long limit, size_t *n) {
        tail_entry_t **a = tail_map_list(&t->map);
        qsort_r(a, t->map.n, sizeof(*a), entry_cmp, t);
        *n = limit >= 0 && (size_t)limit < t->map.n ? (size_t)limit : t->map.n;
        return a;
}

void tail_json_line(spate_buf_t *b, const char *key, size_t klen, const tail_entry_t *e) {
        spate_buf_put(b, "{\"key\": ", 8);
        tj_write_str(b, key, klen);
        spate_buf_put(b, ", \"value\": ", 11);
        if (!e)
                spate_buf_put(b, "null", 4);
        else if (e->kind == TJ_NONE)
                tj_write_str(b, e->val, e->vlen);
        else if (memchr(e->val, '\n', e->vlen) || memchr(e->val, '\r', e->vlen))
                tj_write_compact(b, e->val, e->vlen);
        else
                spate_buf_put(b, e->val, e->vlen);
        spate_buf_put(b, "}\n", 2);
}

/* ---- the table ---- */

typedef struct cell {
        size_t off, len;   /* display text in the frame's text buffer */
        int width;         /* in code points */
        int right;         /* numbers align right */
} cell_t;

/* Appends s[0..n) fit for a terminal: control characters and invalid UTF-8
 * are escaped (\n, \t, \xNN) so a value cannot move the cursor or break the
 * layout. Returns the width in code points. */
static int put_display(spate_buf_t *b, const char *s, size_t n) {
        static const char hex[] = "0123456789abcdef";
        int w = 0;
        for (size_t i = 0; i < n;) {
                unsigned char c = (unsigned char)s[i];
                size_t l = c >= 0x80 ? spate_utf8_len((const unsigned char *)s + i, n - i) : 1;
                if (c >= 0x80 && l) {
                        spate_buf_put(b, s + i, l);
                        i += l;
                        w++;
                } else if (c >= 0x20 && c < 0x7f) {
                        spate_buf_putc(b, (char)c);
                        i++;
                        w++;
                } else {
                        char esc[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };
                        if (c == '\n')
                                spate_buf_put(b, "\\n", 2), w += 2;
                        else if (c == '\t')
                                spate_buf_put(b, "\\t", 2), w += 2;
                        else if (c == '\r')
                                spate_buf_put(b, "\\r", 2), w += 2;
                        else
                                spate_buf_put(b, esc, 4), w += 4;
                        i++;
                }
        }
        return w;
}

/* Fields that hold a time by their name (first_rain_at, window_start, ...). */
static int time_field(const char *f) {
        size_t n = strlen(f);
        return (n > 3 && !strcmp(f + n - 3, "_at")) || !strcmp(f, "window_start") || !strcmp(f, "window_end");
}

/* Epoch milliseconds (years 1973-5138, so small counts stay numbers) as
 * "2026-12-01 21:34:05Z"; 0 if d is not such a time. */
static int fmt_time(double d, char *out, size_t size) {
        if (!(d >= 1e11 && d < 1e14))
                return 0;
        time_t secs = (time_t)(d / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        return (int)strftime(out, size, "%Y-%m-%d %H:%M:%SZ", &tm);
}

/* The text of one cell: a string field's decoded content, any other
 * field's JSON text, the whole value for the `value` column of a value
 * that is not an object. */
static void make_cell(spate_buf_t *txt, spate_buf_t *tmp, cell_t *c, const tail_entry_t *e,
                      const char *field) {
        const char *v = NULL;
        size_t vl = 0;
        c->off = txt->len;
        c->width = 0;
        c->right = 0;
        if (e->kind == TJ_OBJECT) {
                if (!tj_get(e->val, e->vlen, field, &v, &vl))
                        goto done;
        } else if (!strcmp(field, "value")) {
                v = e->val;
                vl = e->vlen;
        } else {
                goto done;
        }
        tmp->len = 0;
        switch (e->kind == TJ_OBJECT ? tj_kind_of(v, vl) : TJ_NONE) {
        case TJ_STRING:
                tj_unescape(tmp, v + 1, vl - 2);
                break;
        case TJ_NUMBER: {
                /* 0.1 + 0.2 is 0.30000000000000004 in the data; ten significant
                 * digits are plenty on a screen (piped output stays exact). */
                char num[32];
                double d;
                int nl = 0;
                c->right = 1;
                if (time_field(field) && spate_json_number(v, vl, &d) == vl && (nl = fmt_time(d, num, sizeof(num)))) {
                        spate_buf_put(tmp, num, (size_t)nl);
                        break;
                }
                if (vl > 12 && spate_json_number(v, vl, &d) == vl)
                        nl = snprintf(num, sizeof(num), "%.10g", d);
                if (nl > 0 && (size_t)nl < vl)
                        spate_buf_put(tmp, num, (size_t)nl);
                else
                        spate_buf_put(tmp, v, vl);
                break;
        }
        case TJ_OBJECT:
        case TJ_ARRAY:
                tj_write_compact(tmp, v, vl);
                break;
        default:
                spate_buf_put(tmp, v, vl);
        }
        if (e->kind == TJ_NUMBER)
                c->right = 1;
        c->width = put_display(txt, tmp->data, tmp->len);
done:
        c->len = txt->len - c->off;
}

static int utf8_locale(void) {
        const char *l = getenv("LC_ALL");
        if (!l || !*l)
                l = getenv("LC_CTYPE");
        if (!l || !*l)
                l = getenv("LANG");
        return l && (strstr(l, "UTF-8") || strstr(l, "utf8") || strstr(l, "UTF8") || strstr(l, "utf-8"));
}

/* Appends text (width w code points) fitted to exactly `cw` columns. */
static void put_fitted(spate_buf_t *b, const char *s, size_t n, int w, int cw, int right) {
        if (w > cw) {
                /* Cut at a code point boundary and mark the cut. */
                int keep = cw - 1, k = 0;
                size_t i = 0;
                while (i < n && k < keep) {
                        i++;
                        while (i < n && ((unsigned char)s[i] & 0xc0) == 0x80)
                                i++;
                        k++;
                }
                spate_buf_put(b, s, i);
                if (cw > 0) {
                        if (utf8_locale())
                                spate_buf_put(b, "\xe2\x80\xa6", 3);
                        else
                                spate_buf_putc(b, '~');
                }
                return;
        }
        if (right)
                for (int i = w; i < cw; i++)
                        spate_buf_putc(b, ' ');
        spate_buf_put(b, s, n);
        if (!right)
                for (int i = w; i < cw; i++)
                        spate_buf_putc(b, ' ');
}

static void end_line(spate_buf_t *b, int live, int last) {
        if (live)
                spate_buf_put(b, "\x1b[K", 3);
        if (!live || !last)
                spate_buf_putc(b, '\n');
}

void tail_table(tail_t *t, spate_buf_t *b, int width, int height, int live) {
        spate_buf_t txt = { 0 }, tmp = { 0 }, line = { 0 };
        size_t nrows;
        long avail = height - 2;
        int ncols = t->nfields + 1, shown;
        if (avail < 1)
                avail = 1;
        if (t->top >= 0 && t->top < avail)
                avail = t->top;
        tail_entry_t **rows = tail_sorted(t, avail, &nrows);
        cell_t *cells = spate_xcalloc(nrows * (size_t)ncols + 1, sizeof(*cells));
        int *cw = spate_xcalloc((size_t)ncols, sizeof(*cw));
        /* Never NULL data: memcpy from a NULL pointer is undefined even for 0 bytes. */
        spate_buf_grow(&txt, 256);
        spate_buf_grow(&tmp, 256);
        spate_buf_grow(&line, 256);

        for (size_t r = 0; r < nrows; r++) {
                cell_t *c = &cells[r * (size_t)ncols];
                c->off = txt.len;
                c->width = put_display(&txt, rows[r]->key, rows[r]->klen);
                c->len = txt.len - c->off;
                c->right = 0;
                for (int f = 0; f < t->nfields; f++)
                        make_cell(&txt, &tmp, &c[f + 1], rows[r], t->fields[f]);
        }
        /* Column widths: the widest of the header and the rows shown, capped,
         * then as many columns as fit the terminal. */
        cw[0] = 3;
        for (int f = 0; f < ncols; f++) {
                int cap = f ? FIELD_MAX_WIDTH : KEY_MAX_WIDTH;
                if (f)
                        cw[f] = (int)strlen(t->fields[f - 1]);
                for (size_t r = 0; r < nrows; r++)
                        if (cells[r * (size_t)ncols + (size_t)f].width > cw[f])
                                cw[f] = cells[r * (size_t)ncols + (size_t)f].width;
                if (cw[f] > cap && !(f && ncols == 2))
                        cw[f] = cap;
        }
        if (cw[0] > width)
                cw[0] = width;
        int used = cw[0];
        for (shown = 1; shown < ncols; shown++) {
                if (used + COL_GAP + cw[shown] > width) {
                        if (width - used - COL_GAP >= 4 && shown == ncols - 1)
                                cw[shown] = width - used - COL_GAP;  /* the last one, cut */
                        else
                                break;
                }
                used += COL_GAP + cw[shown];
        }

        /* Header: topic, keys, records, order, time. */
        char clock[16], head[512];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
        int hl = snprintf(head, sizeof(head), "%s  %zu keys  %ld records  by %s%s  %s%s%s", t->topic,
                          t->map.n, t->records, t->sort ? t->sort : "key", t->desc ? " desc" : "",
                          clock, t->status[0] ? "  ! " : "", t->status);
        if (hl >= (int)sizeof(head))
                hl = (int)sizeof(head) - 1;
        if (live)
                spate_buf_put(b, "\x1b[H", 3);
        spate_buf_put(b, "\x1b[1m", 4);
        put_fitted(b, head, (size_t)hl, hl, hl > width ? width : hl, 0);
        spate_buf_put(b, "\x1b[0m", 4);
        end_line(b, live, 0);

        spate_buf_put(b, "\x1b[7m", 4);
        line.len = 0;
        for (int f = 0; f < shown; f++) {
                const char *name = f ? t->fields[f - 1] : "key";
                size_t nl = strlen(name);
                int right = 0;
                for (size_t r = 0; r < nrows && f; r++)
                        if (cells[r * (size_t)ncols + (size_t)f].right)
                                right = 1;
                if (f)
                        spate_buf_put(&line, "  ", COL_GAP);
                put_fitted(&line, name, nl, (int)nl, cw[f], right);
        }
        for (int i = used; i < width; i++)
                spate_buf_putc(&line, ' ');
        spate_buf_put(b, line.data, line.len);
        spate_buf_put(b, "\x1b[0m", 4);
        end_line(b, live, nrows == 0);

        for (size_t r = 0; r < nrows; r++) {
                cell_t *c = &cells[r * (size_t)ncols];
                for (int f = 0; f < shown; f++) {
                        if (f)
                                spate_buf_put(b, "  ", COL_GAP);
                        put_fitted(b, txt.data + c[f].off, c[f].len, c[f].width, cw[f], c[f].right);
                }
                end_line(b, live, r + 1 == nrows);
        }
        if (live)
                spate_buf_put(b, "\x1b[J", 3);
        free(rows);
        free(cells);
        free(cw);
        spate_buf_free(&txt);
        spate_buf_free(&tmp);
        spate_buf_free(&line);
}

void tail_free(tail_t *t) {
        for (int i = 0; i < t->nfields; i++)
                free(t->fields[i]);
        tail_map_free(&t->map);
}
