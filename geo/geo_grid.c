/* geo_grid.c - the geo_index grid: cell geometry, the rectangle (bbox) build, and lookups. */
#include "geo_grid.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DIM 8192

/* ---- grid geometry ---------------------------------------------------- */

/* Cells are square-ish in degrees, about target of them over the box. */
void spate_geo_grid_setup(spate_geo_grid_t *g, double target) {
        double w = g->x1 - g->x0, h = g->y1 - g->y0;
        double cols;

        if (!(w > 0))
                w = 1e-9;
        if (!(h > 0))
                h = 1e-9;
        cols = ceil(sqrt(target * w / h));
        g->cols = cols < 1 ? 1 : cols > MAX_DIM ? MAX_DIM : (int)cols;
        cols = ceil(target / g->cols);
        g->rows = cols < 1 ? 1 : cols > MAX_DIM ? MAX_DIM : (int)cols;
        g->cw = w / g->cols;
        g->ch = h / g->rows;
        g->inv_cw = 1 / g->cw;
        g->inv_ch = 1 / g->ch;
}

/* Tolerance for classifying edges against cells: far above the rounding error
 * of any computed crossing, far below a cell. */
double spate_geo_grid_margin(const spate_geo_grid_t *g) {
        double scale = fmax(fmax(fabs(g->x0), fabs(g->x1)), fmax(fabs(g->y0), fabs(g->y1)));
        return fmax(1e-7 * fmin(g->cw, g->ch), 1e-12 * (scale + 1));
}

static int clamp_dim(double v, int n) {
        return !(v >= 0) ? 0 : v >= n ? n - 1 : (int)v; /* NaN too: casting it is undefined */
}

/* First column whose right side (plus margin m) reaches x. */
int spate_geo_grid_first_col(const spate_geo_grid_t *g, double x, double m) {
        int c = clamp_dim(floor((x - g->x0) * g->inv_cw), g->cols);
        while (c > 0 && x <= spate_geo_grid_col_x(g, c) + m)
                c--;
        while (c < g->cols - 1 && x > spate_geo_grid_col_x(g, c + 1) + m)
                c++;
        return c;
}

/* Last column whose left side (minus margin m) is at or before x. */
int spate_geo_grid_last_col(const spate_geo_grid_t *g, double x, double m) {
        int c = clamp_dim(floor((x - g->x0) * g->inv_cw), g->cols);
        while (c < g->cols - 1 && spate_geo_grid_col_x(g, c + 1) - m <= x)
                c++;
        while (c > 0 && spate_geo_grid_col_x(g, c) - m > x)
                c--;
        return c;
}

int spate_geo_grid_first_row(const spate_geo_grid_t *g, double y, double m) {
        int r = clamp_dim(floor((y - g->y0) * g->inv_ch), g->rows);
        while (r > 0 && y <= spate_geo_grid_row_y(g, r) + m)
                r--;
        while (r < g->rows - 1 && y > spate_geo_grid_row_y(g, r + 1) + m)
                r++;
        return r;
}

int spate_geo_grid_last_row(const spate_geo_grid_t *g, double y, double m) {
        int r = clamp_dim(floor((y - g->y0) * g->inv_ch), g->rows);
        while (r < g->rows - 1 && spate_geo_grid_row_y(g, r + 1) - m <= y)
                r++;
        while (r > 0 && spate_geo_grid_row_y(g, r) - m > y)
                r--;
        return r;
}

void spate_geo_grid_bbox(spate_geo_grid_t *g, const spate_geo_shapes_t *s) {
        g->x0 = g->y0 = INFINITY;
        g->x1 = g->y1 = -INFINITY;
        for (size_t i = 0; i < s->n_pts; i++) {
                g->x0 = fmin(g->x0, s->xy[2 * i]);
                g->x1 = fmax(g->x1, s->xy[2 * i]);
                g->y0 = fmin(g->y0, s->xy[2 * i + 1]);
                g->y1 = fmax(g->y1, s->xy[2 * i + 1]);
        }
}

int spate_geo_grid_alloc_cells(spate_geo_grid_t *g, char *errstr, size_t errstr_size) {
        g->cells = calloc((size_t)g->cols * g->rows, sizeof(*g->cells));
        if (!g->cells)
                snprintf(errstr, errstr_size, "out of memory for a %dx%d grid", g->cols, g->rows);
        return g->cells ? 0 : -1;
}

/* ---- bbox mode: build ------------------------------------------------- */

static int region_rects(spate_geo_grid_t *g, const spate_geo_shapes_t *s) {
        if (!(g->rects = malloc((s->n_regions + 1) * sizeof(*g->rects))))
                return -1;
        g->n_rects = s->n_regions;
        for (size_t i = 0; i < s->n_regions; i++) {
                struct spate_geo_rect *r = &g->rects[i];
                const spate_geo_region_t *reg = &s->regions[i];
                r->x0 = r->y0 = INFINITY;
                r->x1 = r->y1 = -INFINITY;      /* a region without polygons stays empty */
                for (size_t p = reg->poly_first; p < reg->poly_first + reg->n_polys; p++) {
                        const spate_geo_polygon_t *poly = &s->polys[p];
                        for (size_t k = poly->ring_first; k < poly->ring_first + poly->n_rings; k++) {
                                const spate_geo_ring_t *ring = &s->rings[k];
                                for (size_t j = ring->pt_first; j < ring->pt_first + ring->n_pts; j++) {
                                        r->x0 = fmin(r->x0, s->xy[2 * j]);
                                        r->x1 = fmax(r->x1, s->xy[2 * j]);
                                        r->y0 = fmin(r->y0, s->xy[2 * j + 1]);
                                        r->y1 = fmax(r->y1, s->xy[2 * j + 1]);
                                }
                        }
                }
        }
        return 0;
}

/* Calls fn for every cell the rectangle meets, with whether it covers the cell. */
static void rect_cells(const spate_geo_grid_t *g, const struct spate_geo_rect *rc, double m,
                       void (*fn)(spate_geo_grid_t *g, size_t cell, int region, int full, void *arg),
                       int region, void *arg) {
        int c0, c1, r0, r1;

        if (!(rc->x0 <= rc->x1))
                return;
        c0 = spate_geo_grid_first_col(g, rc->x0, m);
        c1 = spate_geo_grid_last_col(g, rc->x1, m);
        r0 = spate_geo_grid_first_row(g, rc->y0, m);
        r1 = spate_geo_grid_last_row(g, rc->y1, m);
        for (int r = r0; r <= r1; r++)
                for (int c = c0; c <= c1; c++) {
                        int full = rc->x0 <= spate_geo_grid_col_x(g, c) - m && spate_geo_grid_col_x(g, c + 1) + m <= rc->x1 &&
                                   rc->y0 <= spate_geo_grid_row_y(g, r) - m && spate_geo_grid_row_y(g, r + 1) + m <= rc->y1;
                        fn((spate_geo_grid_t *)g, (size_t)r * g->cols + c, region, full, arg);
                }
}

static void count_cell(spate_geo_grid_t *g, size_t cell, int region, int full, void *arg) {
        (void)region;
        (void)full;
        (void)arg;
        g->cells[cell].n_item++;
}

static void fill_cell(spate_geo_grid_t *g, size_t cell, int region, int full, void *arg) {
        struct spate_geo_cell *c = &g->cells[cell];
        struct spate_geo_item *it = &g->items[c->item_off + c->n_item++];

        (void)arg;
        memset(it, 0, sizeof(*it));
        it->region = region;
        it->base = (uint32_t)full;
}

/* Keeps each cell's candidates up to the first rectangle covering the whole
 * cell, and answers directly when that is the first one (or there is none). */
static void trim_cells(spate_geo_grid_t *g) {
        size_t w = 0, n_cells = (size_t)g->cols * g->rows;

        for (size_t i = 0; i < n_cells; i++) {
                struct spate_geo_cell *c = &g->cells[i];
                const struct spate_geo_item *its = g->items + c->item_off;
                uint32_t n = c->n_item;
                if (n == 0 || its[0].base) {
                        c->direct = n ? its[0].region : -1;
                        c->n_item = 0;
                        continue;
                }
                c->direct = SPATE_GEO_CELL_TEST;
                c->n_item = 0;
                for (uint32_t k = 0; k < n; k++) {
                        g->items[w + c->n_item++] = its[k];
                        if (its[k].base)
                                break;
                }
                c->item_off = (uint32_t)w;
                w += c->n_item;
        }
        g->n_items = w;
}

int spate_geo_grid_build_rects(spate_geo_grid_t *g, const spate_geo_shapes_t *s,
                               char *errstr, size_t errstr_size) {
        size_t total = 0, n_cells;
        double m;

        if (region_rects(g, s)) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        spate_geo_grid_bbox(g, s);
        spate_geo_grid_setup(g, fmin(fmax(64.0 * s->n_regions, 4096), 1024.0 * 1024));
        m = spate_geo_grid_margin(g);
        if (spate_geo_grid_alloc_cells(g, errstr, errstr_size))
                return -1;
        for (size_t i = 0; i < g->n_rects; i++)
                rect_cells(g, &g->rects[i], m, count_cell, (int)i, NULL);
        n_cells = (size_t)g->cols * g->rows;
        for (size_t i = 0; i < n_cells; i++) {
                g->cells[i].item_off = (uint32_t)total;
                total += g->cells[i].n_item;
                g->cells[i].n_item = 0;
        }
        if (!(g->items = malloc((total + 1) * sizeof(*g->items)))) {
                snprintf(errstr, errstr_size, "out of memory for %zu grid entries", total);
                return -1;
        }
        for (size_t i = 0; i < g->n_rects; i++)
                rect_cells(g, &g->rects[i], m, fill_cell, (int)i, NULL);
        trim_cells(g);
        return 0;
}

void spate_geo_grid_free(spate_geo_grid_t *g) {
        free(g->cells);
        free(g->items);
        free(g->edges);
        free(g->toggles);
        free(g->rects);
        memset(g, 0, sizeof(*g));
}

/* ---- lookups ---------------------------------------------------------- */

static int lookup_polygon(const spate_geo_grid_t *g, const struct spate_geo_cell *cell,
                          double x, double y) {
        const struct spate_geo_item *it = g->items + cell->item_off;

        for (uint32_t i = 0; i < cell->n_item; i++, it++) {
                const double *t = g->toggles + it->tog_off;
                const struct spate_geo_edge *e = g->edges + it->edge_off;
                unsigned in = it->base;
                for (uint32_t k = 0; k < it->n_tog; k++)
                        in ^= t[k] <= y;
                for (uint32_t k = 0; k < it->n_edge; k++)
                        in ^= e[k].y0 <= y && y < e[k].y1 && x < e[k].x0 + (y - e[k].y0) * e[k].dxdy;
                if (in)
                        return it->region;
        }
        return -1;
}

static int lookup_rects(const spate_geo_grid_t *g, const struct spate_geo_cell *cell,
                        double x, double y) {
        const struct spate_geo_item *it = g->items + cell->item_off;

        for (uint32_t i = 0; i < cell->n_item; i++, it++) {
                const struct spate_geo_rect *r = &g->rects[it->region];
                if (x >= r->x0 && x <= r->x1 && y >= r->y0 && y <= r->y1)
                        return it->region;
        }
        return -1;
}

int spate_geo_grid_lookup(const spate_geo_grid_t *g, double x, double y) {
        const struct spate_geo_cell *cell;
        int c, r;

        /* Also rejects NaN. Outside the box every ray crosses each ring an even
         * number of times, so -1 agrees with the polygon rule too. */
        if (!(x >= g->x0 && x <= g->x1 && y >= g->y0 && y <= g->y1))
                return -1;
        c = (int)((x - g->x0) * g->inv_cw);
        r = (int)((y - g->y0) * g->inv_ch);
        c = c < g->cols ? c : g->cols - 1;
        r = r < g->rows ? r : g->rows - 1;
        cell = &g->cells[(size_t)r * g->cols + c];
        if (cell->direct != SPATE_GEO_CELL_TEST)
                return cell->direct;
        return g->rects ? lookup_rects(g, cell, x, y) : lookup_polygon(g, cell, x, y);
}
