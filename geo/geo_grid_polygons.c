/* geo_grid_polygons.c - builds the exact polygon grid: per cell, base parity, toggles, local edges. */
#include "geo_grid.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growable array; n and cap count elements of size elem. */
struct vec {
        void *p;
        size_t n, cap, elem;
};

static void *vec_push(struct vec *v, size_t count) {
        if (v->n + count > v->cap) {
                size_t ncap = v->cap ? v->cap : 64;
                void *p;
                while (ncap < v->n + count)
                        ncap *= 2;
                if (!(p = realloc(v->p, ncap * v->elem)))
                        return NULL;
                v->p = p;
                v->cap = ncap;
        }
        v->n += count;
        return (char *)v->p + (v->n - count) * v->elem;
}

struct bedge {                          /* build-time edge */
        struct spate_geo_edge e;
        double x1;
        uint32_t poly;
        int32_t region;
};

struct crec {                           /* an edge's column range within one row band */
        int c_lo, c_hi;                 /* local in [c_lo, c_hi], right of columns < c_lo */
        uint32_t edge;
};

struct row_item {
        struct spate_geo_item it;
        int col;
};

/* Everything the polygon build carries between rows. */
struct pbuild {
        spate_geo_grid_t *g;
        double m;
        struct bedge *edges;
        size_t n_edges;
        uint32_t *row_first, *row_edges;        /* CSR: edges meeting each row band */
        struct vec recs, locals, toggles, items, row_edges_v, row_togs;
        struct vec out_items, out_edges, out_togs;
        uint32_t *col_count;                    /* cols + 1 scratch */
};

static int collect_edges(struct pbuild *b, const spate_geo_shapes_t *s) {
        struct vec v = { .elem = sizeof(struct bedge) };

        for (size_t p = 0; p < s->n_polys; p++) {
                const spate_geo_polygon_t *poly = &s->polys[p];
                for (size_t r = poly->ring_first; r < poly->ring_first + poly->n_rings; r++) {
                        const double *xy = s->xy + 2 * s->rings[r].pt_first;
                        size_t n = s->rings[r].n_pts;
                        for (size_t i = 0; i < n; i++) {
                                const double *a = xy + 2 * i, *c = xy + 2 * ((i + 1) % n);
                                struct bedge *e;
                                if (a[1] == c[1])
                                        continue;       /* horizontal edges never cross */
                                if (a[1] > c[1]) {
                                        const double *t = a;
                                        a = c;
                                        c = t;
                                }
                                if (!(e = vec_push(&v, 1)))
                                        return -1;
                                e->e.x0 = a[0];
                                e->e.y0 = a[1];
                                e->e.y1 = c[1];
                                e->e.dxdy = (c[0] - a[0]) / (c[1] - a[1]);
                                e->x1 = c[0];
                                e->poly = (uint32_t)p;
                                e->region = (int32_t)poly->region;
                        }
                }
        }
        b->edges = v.p;
        b->n_edges = v.n;
        return 0;
}

static int bucket_rows(struct pbuild *b) {
        spate_geo_grid_t *g = b->g;
        uint32_t *fill;

        b->row_first = calloc((size_t)g->rows + 1, sizeof(uint32_t));
        fill = calloc((size_t)g->rows + 1, sizeof(uint32_t));
        if (!b->row_first || !fill)
                goto err;
        for (size_t i = 0; i < b->n_edges; i++) {
                int r0 = spate_geo_grid_first_row(g, b->edges[i].e.y0, b->m);
                int r1 = spate_geo_grid_last_row(g, b->edges[i].e.y1, b->m);
                for (int r = r0; r <= r1; r++)
                        b->row_first[r + 1]++;
        }
        for (int r = 0; r < g->rows; r++)
                b->row_first[r + 1] += b->row_first[r];
        if (!(b->row_edges = malloc((b->row_first[g->rows] + 1) * sizeof(uint32_t))))
                goto err;
        for (size_t i = 0; i < b->n_edges; i++) {
                int r0 = spate_geo_grid_first_row(g, b->edges[i].e.y0, b->m);
                int r1 = spate_geo_grid_last_row(g, b->edges[i].e.y1, b->m);
                for (int r = r0; r <= r1; r++)
                        b->row_edges[b->row_first[r] + fill[r]++] = (uint32_t)i;
        }
        free(fill);
        return 0;
err:
        free(fill);
        return -1;
}

/* x of edge e at latitude y, using the exact endpoint at its ends. */
static double edge_x_at(const struct bedge *e, double y) {
        if (y <= e->e.y0)
                return e->e.x0;
        if (y >= e->e.y1)
                return e->x1;
        return e->e.x0 + (y - e->e.y0) * e->e.dxdy;
}

static int cmp_rec_desc(const void *a, const void *b) {
        const struct crec *x = a, *y = b;
        return (x->c_lo < y->c_lo) - (x->c_lo > y->c_lo);
}

/* Flips y's membership in the sorted set of odd toggles. */
static int toggle(struct vec *set, double y) {
        double *t = set->p;
        size_t lo = 0, hi = set->n;

        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (t[mid] < y)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo < set->n && t[lo] == y) {
                memmove(t + lo, t + lo + 1, (set->n - lo - 1) * sizeof(double));
                set->n--;
                return 0;
        }
        if (!vec_push(set, 1))
                return -1;
        t = set->p;
        memmove(t + lo + 1, t + lo, (set->n - 1 - lo) * sizeof(double));
        t[lo] = y;
        return 0;
}

/* Column ranges of one polygon's edges (row_edges[first..end)) in the band. */
static int polygon_ranges(struct pbuild *b, uint32_t first, uint32_t end, double yb, double yt) {
        b->recs.n = 0;
        for (uint32_t k = first; k < end; k++) {
                const struct bedge *e = &b->edges[b->row_edges[k]];
                struct crec *rc;
                double xa, xb;
                if (!(e->e.y0 <= yt && e->e.y1 >= yb))
                        continue;
                xa = edge_x_at(e, fmax(yb, e->e.y0));
                xb = edge_x_at(e, fmin(yt, e->e.y1));
                if (!(rc = vec_push(&b->recs, 1)))
                        return -1;
                rc->c_lo = spate_geo_grid_first_col(b->g, fmin(xa, xb), b->m);
                rc->c_hi = spate_geo_grid_last_col(b->g, fmax(xa, xb), b->m);
                rc->edge = b->row_edges[k];
        }
        qsort(b->recs.p, b->recs.n, sizeof(struct crec), cmp_rec_desc);
        return 0;
}

/* Emits this polygon's item for column c of the row, if it can hold points there. */
static int emit_item(struct pbuild *b, int c, int32_t region, unsigned base,
                     const uint32_t *local_first) {
        uint32_t n_local = local_first[c + 1] - local_first[c];
        const uint32_t *locals = (const uint32_t *)b->locals.p + local_first[c];
        struct row_item *ri;
        void *dst;

        if (!n_local && !base && !b->toggles.n)
                return 0;
        if (!(ri = vec_push(&b->items, 1)))
                return -1;
        ri->col = c;
        ri->it.region = region;
        ri->it.base = base;
        ri->it.edge_off = (uint32_t)b->row_edges_v.n;
        ri->it.n_edge = n_local;
        ri->it.tog_off = (uint32_t)b->row_togs.n;
        ri->it.n_tog = (uint32_t)b->toggles.n;
        for (uint32_t i = 0; i < n_local; i++) {
                struct spate_geo_edge *e = vec_push(&b->row_edges_v, 1);
                if (!e)
                        return -1;
                *e = b->edges[locals[i]].e;
        }
        if (b->toggles.n) {
                if (!(dst = vec_push(&b->row_togs, b->toggles.n)))
                        return -1;
                memcpy(dst, b->toggles.p, b->toggles.n * sizeof(double));
        }
        return 0;
}

/* Lists, for each column lo..hi, the polygon's edges local to it: the edges of
 * column c are locals[cnt[c] .. cnt[c + 1]). */
static int column_locals(struct pbuild *b, int lo, int hi) {
        const struct crec *rc = b->recs.p;
        uint32_t *cnt = b->col_count, *locals;

        memset(cnt + lo, 0, (size_t)(hi - lo + 2) * sizeof(uint32_t));
        for (size_t i = 0; i < b->recs.n; i++)
                for (int c = rc[i].c_lo; c <= rc[i].c_hi; c++)
                        cnt[c + 1]++;
        for (int c = lo; c <= hi; c++)
                cnt[c + 1] += cnt[c];
        b->locals.n = 0;
        if (!(locals = vec_push(&b->locals, cnt[hi + 1])))
                return -1;
        for (size_t i = 0; i < b->recs.n; i++)          /* cnt[c] serves as the fill cursor */
                for (int c = rc[i].c_lo; c <= rc[i].c_hi; c++)
                        locals[cnt[c]++] = rc[i].edge;
        for (int c = hi; c > lo; c--)                   /* ... so shift the starts back */
                cnt[c] = cnt[c - 1];
        cnt[lo] = 0;
        return 0;
}

/* One polygon in one row band. Sweeping columns east to west, edges join the
 * "wholly east" set once the column is west of them; their crossings depend on
 * the latitude only, which base (at the band's south side) and the toggles carry. */
static int polygon_row(struct pbuild *b, uint32_t first, uint32_t end, double yb, double yt) {
        const struct crec *rc;
        int lo = b->g->cols, hi = -1;
        unsigned base = 0;
        size_t k = 0;
        int32_t region = b->edges[b->row_edges[first]].region;

        if (polygon_ranges(b, first, end, yb, yt))
                return -1;
        if (!b->recs.n)
                return 0;
        rc = b->recs.p;
        for (size_t i = 0; i < b->recs.n; i++) {
                lo = rc[i].c_lo < lo ? rc[i].c_lo : lo;
                hi = rc[i].c_hi > hi ? rc[i].c_hi : hi;
        }
        /* West of lo every edge is east of the column: the ring crosses an even
         * number of times and its toggles pair up, so nothing to emit there. */
        if (column_locals(b, lo, hi))
                return -1;
        b->toggles.n = 0;
        for (int c = hi; c >= lo; c--) {
                for (; k < b->recs.n && rc[k].c_lo > c; k++) {
                        const struct spate_geo_edge *e = &b->edges[rc[k].edge].e;
                        base ^= e->y0 <= yb && yb < e->y1;
                        if (yb < e->y0 && e->y0 <= yt && toggle(&b->toggles, e->y0))
                                return -1;
                        if (yb < e->y1 && e->y1 <= yt && toggle(&b->toggles, e->y1))
                                return -1;
                }
                if (emit_item(b, c, region, base, b->col_count))
                        return -1;
        }
        return 0;
}

/* Copies the cell's items up to the first one that holds the whole cell. */
static int finish_cell(struct pbuild *b, struct spate_geo_cell *cell,
                       const struct row_item *const *its, size_t n) {
        const struct spate_geo_item *first = n ? &its[0]->it : NULL;

        if (!first || (!first->n_edge && !first->n_tog)) {
                cell->direct = first ? first->region : -1;  /* constant items have base 1 */
                return 0;
        }
        cell->direct = SPATE_GEO_CELL_TEST;
        cell->item_off = (uint32_t)b->out_items.n;
        for (size_t i = 0; i < n; i++) {
                const struct spate_geo_item *in = &its[i]->it;
                struct spate_geo_item *out = vec_push(&b->out_items, 1);
                void *e = in->n_edge ? vec_push(&b->out_edges, in->n_edge) : NULL;
                void *t = in->n_tog ? vec_push(&b->out_togs, in->n_tog) : NULL;
                if (!out || (in->n_edge && !e) || (in->n_tog && !t))
                        return -1;
                *out = *in;
                out->edge_off = (uint32_t)(b->out_edges.n - in->n_edge);
                out->tog_off = (uint32_t)(b->out_togs.n - in->n_tog);
                if (e)
                        memcpy(e, (struct spate_geo_edge *)b->row_edges_v.p + in->edge_off,
                               in->n_edge * sizeof(struct spate_geo_edge));
                if (t)
                        memcpy(t, (double *)b->row_togs.p + in->tog_off, in->n_tog * sizeof(double));
                cell->n_item++;
                if (!in->n_edge && !in->n_tog)
                        break;          /* holds the whole cell: later polygons lose */
        }
        return 0;
}

/* Groups the row's items by column (keeping polygon order) and finishes each cell. */
static int finish_row(struct pbuild *b, int r) {
        spate_geo_grid_t *g = b->g;
        const struct row_item *ri = b->items.p;
        const struct row_item **order = malloc((b->items.n + 1) * sizeof(*order));
        uint32_t *cnt = b->col_count;
        int rc = -1;

        if (!order)
                return -1;
        memset(cnt, 0, ((size_t)g->cols + 1) * sizeof(uint32_t));
        for (size_t i = 0; i < b->items.n; i++)
                cnt[ri[i].col + 1]++;
        for (int c = 0; c < g->cols; c++)
                cnt[c + 1] += cnt[c];
        for (size_t i = 0; i < b->items.n; i++)
                order[cnt[ri[i].col]++] = &ri[i];
        for (int c = 0; c < g->cols; c++) {
                uint32_t start = c ? cnt[c - 1] : 0;
                if (finish_cell(b, &g->cells[(size_t)r * g->cols + c], order + start, cnt[c] - start))
                        goto out;
        }
        rc = 0;
out:
        free(order);
        return rc;
}

static int build_rows(struct pbuild *b) {
        spate_geo_grid_t *g = b->g;

        for (int r = 0; r < g->rows; r++) {
                double yb = spate_geo_grid_row_y(g, r) - b->m, yt = spate_geo_grid_row_y(g, r + 1) + b->m;
                uint32_t k = b->row_first[r], end = b->row_first[r + 1];
                b->items.n = b->row_edges_v.n = b->row_togs.n = 0;
                while (k < end) {
                        uint32_t poly = b->edges[b->row_edges[k]].poly, j = k;
                        while (j < end && b->edges[b->row_edges[j]].poly == poly)
                                j++;
                        if (polygon_row(b, k, j, yb, yt))
                                return -1;
                        k = j;
                }
                if (finish_row(b, r))
                        return -1;
        }
        return 0;
}

int spate_geo_grid_build_polygons(spate_geo_grid_t *g, const spate_geo_shapes_t *s,
                                  char *errstr, size_t errstr_size) {
        struct pbuild b = {
                .g = g,
                .recs = { .elem = sizeof(struct crec) },
                .locals = { .elem = sizeof(uint32_t) },
                .toggles = { .elem = sizeof(double) },
                .items = { .elem = sizeof(struct row_item) },
                .row_edges_v = { .elem = sizeof(struct spate_geo_edge) },
                .row_togs = { .elem = sizeof(double) },
                .out_items = { .elem = sizeof(struct spate_geo_item) },
                .out_edges = { .elem = sizeof(struct spate_geo_edge) },
                .out_togs = { .elem = sizeof(double) },
        };
        int rc = -1;

        spate_geo_grid_bbox(g, s);
        if (collect_edges(&b, s))
                goto out;
        /* About four cells per edge keeps boundary cells down to a few edges while
         * the cell array stays small enough for the cache. */
        spate_geo_grid_setup(g, fmin(fmax(4.0 * b.n_edges, 1024), 4.0 * 1024 * 1024));
        b.m = spate_geo_grid_margin(g);
        if (spate_geo_grid_alloc_cells(g, errstr, errstr_size))
                goto out_nomsg;
        if (!(b.col_count = malloc(((size_t)g->cols + 2) * sizeof(uint32_t))) ||
            bucket_rows(&b) || build_rows(&b))
                goto out;
        g->items = b.out_items.p;
        g->n_items = b.out_items.n;
        g->edges = b.out_edges.p;
        g->n_edges = b.out_edges.n;
        g->toggles = b.out_togs.p;
        g->n_toggles = b.out_togs.n;
        b.out_items.p = b.out_edges.p = b.out_togs.p = NULL;
        rc = 0;
out:
        if (rc)
                snprintf(errstr, errstr_size, "out of memory building the polygon grid");
out_nomsg:
        free(b.edges);
        free(b.row_first);
        free(b.row_edges);
        free(b.col_count);
        free(b.recs.p);
        free(b.locals.p);
        free(b.toggles.p);
        free(b.items.p);
        free(b.row_edges_v.p);
        free(b.row_togs.p);
        free(b.out_items.p);
        free(b.out_edges.p);
        free(b.out_togs.p);
        return rc;
}
