/* geo_grid.h - the uniform grid behind geo_index: per-cell answers or tiny exact tests (private). */
#ifndef SPATE_GEO_GRID_H
#define SPATE_GEO_GRID_H

#include <stddef.h>
#include <stdint.h>

#include "geo_shapes.h"

/* How it stays exact: a point's crossing count (see SPATE_GEO_POLYGON in
 * geo_index.h) only involves edges whose latitude span holds the point. For a
 * cell, the edges of a polygon that meet the cell's latitude band are either
 * left of the cell (never counted), right of it (counted iff y0 <= lat < y1,
 * so their sum is a step function of lat alone: a base parity plus a few
 * "toggle" latitudes), or local (tested exactly at lookup). Cells where no
 * polygon has local edges are answered directly. Classification uses a margin
 * far above rounding error, so the answer is exactly the all-edges answer. */

#define SPATE_GEO_CELL_TEST (-2)        /* cell->direct: run the item tests */

struct spate_geo_edge {                 /* oriented bottom-up, never horizontal */
        double y0, y1, x0, dxdy;
};

/* One polygon (or, in bbox mode, one region rectangle) that may hold points of
 * the cell: parity = base ^ (toggles <= lat) ^ (local edges crossed). In bbox
 * mode base says the rectangle covers the cell and edges/toggles are unused. */
struct spate_geo_item {
        int32_t region;
        uint32_t base;
        uint32_t edge_off, n_edge;
        uint32_t tog_off, n_tog;
};

struct spate_geo_cell {
        int32_t direct;                 /* region, -1, or SPATE_GEO_CELL_TEST */
        uint32_t item_off, n_item;
};

struct spate_geo_rect {
        double x0, y0, x1, y1;          /* lon/lat bounds, inclusive */
};

typedef struct {
        double x0, y0, x1, y1;          /* data bounding box; the grid covers it */
        int cols, rows;
        double cw, ch, inv_cw, inv_ch;
        struct spate_geo_cell *cells;   /* rows * cols, row-major */
        struct spate_geo_item *items;
        size_t n_items;
        struct spate_geo_edge *edges;
        size_t n_edges;
        double *toggles;
        size_t n_toggles;
        struct spate_geo_rect *rects;   /* bbox mode only: one per region */
        size_t n_rects;
} spate_geo_grid_t;

/* Fill a zeroed grid from shapes; 0, or -1 with errstr ("out of memory",
 * "too large"). On failure the grid may be partly built: free it anyway. */
int spate_geo_grid_build_polygons(spate_geo_grid_t *g, const spate_geo_shapes_t *s,
                                  char *errstr, size_t errstr_size);
int spate_geo_grid_build_rects(spate_geo_grid_t *g, const spate_geo_shapes_t *s,
                               char *errstr, size_t errstr_size);
void spate_geo_grid_free(spate_geo_grid_t *g);

/* Cell geometry shared by the two builds (geo_grid.c). */
void spate_geo_grid_bbox(spate_geo_grid_t *g, const spate_geo_shapes_t *s);
void spate_geo_grid_setup(spate_geo_grid_t *g, double target_cells);    /* needs the bbox */
int spate_geo_grid_alloc_cells(spate_geo_grid_t *g, char *errstr, size_t errstr_size);
double spate_geo_grid_margin(const spate_geo_grid_t *g);
/* First column whose right side plus m reaches x / last whose left side minus m
 * is at or before x; the same for rows. Used to find every cell within m of x. */
int spate_geo_grid_first_col(const spate_geo_grid_t *g, double x, double m);
int spate_geo_grid_last_col(const spate_geo_grid_t *g, double x, double m);
int spate_geo_grid_first_row(const spate_geo_grid_t *g, double y, double m);
int spate_geo_grid_last_row(const spate_geo_grid_t *g, double y, double m);

/* West side of column c (the box's east side for c == cols); south side of row r. */
static inline double spate_geo_grid_col_x(const spate_geo_grid_t *g, int c) {
        return c >= g->cols ? g->x1 : g->x0 + c * g->cw;
}

static inline double spate_geo_grid_row_y(const spate_geo_grid_t *g, int r) {
        return r >= g->rows ? g->y1 : g->y0 + r * g->ch;
}

/* Region index or -1; x = lon, y = lat. Read-only, allocation-free. */
int spate_geo_grid_lookup(const spate_geo_grid_t *g, double x, double y);

#endif
