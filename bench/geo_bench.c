/* geo_bench.c - lookups per second per core of the geo region index, with GEOS as a yardstick.
 *
 * Sets: the 13 French regions (france_regions.geojson), and "pieces": every region
 * cut by a 0.5-degree grid with GEOSIntersection, each non-empty piece its own
 * region (several hundred polygons with shared straight borders, since no
 * municipality file is available). Points: uniform over the data bounding box,
 * generated up front so only lookups are timed. One thread.
 *
 *   geo_bench [france_regions.geojson] [seconds per case]
 */
#include "../geo/geo_index.h"
#include "../geo/geojson.h"

#include <geos_c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_POINTS (1 << 20)
#define PIECE_DEG 0.5

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ull;

static double uniform(double lo, double hi) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return lo + (hi - lo) * (double)(rng >> 11) / (double)(1ull << 53);
}

static void bbox(const spate_geo_shapes_t *s, double b[4]) {
        b[0] = b[1] = 1e300;
        b[2] = b[3] = -1e300;
        for (size_t i = 0; i < s->n_pts; i++) {
                b[0] = s->xy[2 * i] < b[0] ? s->xy[2 * i] : b[0];
                b[1] = s->xy[2 * i + 1] < b[1] ? s->xy[2 * i + 1] : b[1];
                b[2] = s->xy[2 * i] > b[2] ? s->xy[2 * i] : b[2];
                b[3] = s->xy[2 * i + 1] > b[3] ? s->xy[2 * i + 1] : b[3];
        }
}

/* Runs lookups over pts (lat, lon pairs) for about secs seconds; returns lookups/s. */
static double time_lookups(const spate_geo_index_t *idx, const double *pts, double secs,
                           double *hit_rate) {
        double t0 = now(), t;
        size_t n = 0, hits = 0;

        do {
                for (size_t i = 0; i < N_POINTS; i++)
                        hits += spate_geo_index_lookup(idx, pts[2 * i], pts[2 * i + 1]) >= 0;
                n += N_POINTS;
                t = now() - t0;
        } while (t < secs);
        *hit_rate = (double)hits / n;
        return n / t;
}

static void bench_index(const char *label, const spate_geo_shapes_t *s, spate_geo_mode_t mode,
                        const double *pts, const char *pts_label, double secs) {
        char err[512];
        double t0 = now(), build_s, rate, hit;
        spate_geo_index_t *idx = spate_geo_index_build(s, mode, err, sizeof(err));
        spate_geo_index_stats_t st;

        if (!idx) {
                fprintf(stderr, "geo_bench: %s: %s\n", label, err);
                exit(1);
        }
        build_s = now() - t0;
        spate_geo_index_stats(idx, &st);
        rate = time_lookups(idx, pts, secs, &hit);
        printf("geo %s %s%s: %.1f M lookups/s  (%.0f ns each; %.0f%% of points matched; "
               "build %.0f ms, grid %dx%d, %.0f%% cells direct, %.1f MB)\n",
               spate_geo_mode_name(mode), label, pts_label, rate / 1e6, 1e9 / rate, 100 * hit,
               build_s * 1e3,
               st.cols, st.rows, 100.0 * st.direct_cells / ((double)st.cols * st.rows),
               st.bytes / 1048576.0);
        spate_geo_index_destroy(idx);
}

/* Worst case for the grid: every point within ~1 km of a boundary vertex. */
static void near_borders(const spate_geo_shapes_t *s, double *pts) {
        for (size_t i = 0; i < N_POINTS; i++) {
                const double *v = s->xy + 2 * ((rng >> 20) % s->n_pts);
                pts[2 * i] = v[1] + uniform(-0.01, 0.01);
                pts[2 * i + 1] = v[0] + uniform(-0.01, 0.01);
        }
}

/* ---- GEOS: shapes <-> geometries ---------------------------------------- */

static GEOSGeometry *ring_geom(GEOSContextHandle_t h, const spate_geo_shapes_t *s, size_t r, int linear) {
        const spate_geo_ring_t *ring = &s->rings[r];
        GEOSCoordSequence *seq = GEOSCoordSeq_create_r(h, (unsigned)ring->n_pts + 1, 2);

        for (size_t i = 0; i <= ring->n_pts; i++) {
                const double *p = s->xy + 2 * (ring->pt_first + i % ring->n_pts);
                GEOSCoordSeq_setXY_r(h, seq, (unsigned)i, p[0], p[1]);
        }
        return linear ? GEOSGeom_createLinearRing_r(h, seq) : NULL;
}

static GEOSGeometry *region_geom(GEOSContextHandle_t h, const spate_geo_shapes_t *s, size_t reg) {
        const spate_geo_region_t *rg = &s->regions[reg];
        GEOSGeometry **polys = calloc(rg->n_polys + 1, sizeof(*polys));
        GEOSGeometry *multi;

        for (size_t p = 0; p < rg->n_polys; p++) {
                const spate_geo_polygon_t *pg = &s->polys[rg->poly_first + p];
                GEOSGeometry **holes = calloc(pg->n_rings + 1, sizeof(*holes));
                for (size_t k = 1; k < pg->n_rings; k++)
                        holes[k - 1] = ring_geom(h, s, pg->ring_first + k, 1);
                polys[p] = GEOSGeom_createPolygon_r(h, ring_geom(h, s, pg->ring_first, 1), holes,
                                                    (unsigned)pg->n_rings - 1);
                free(holes);
        }
        multi = GEOSGeom_createCollection_r(h, GEOS_MULTIPOLYGON, polys, (unsigned)rg->n_polys);
        free(polys);
        return multi;
}

static void add_geos_ring(GEOSContextHandle_t h, spate_geo_shapes_t *out, const GEOSGeometry *ring) {
        const GEOSCoordSequence *seq = GEOSGeom_getCoordSeq_r(h, ring);
        unsigned n = 0;
        double *xy;

        GEOSCoordSeq_getSize_r(h, seq, &n);
        xy = malloc(2 * (n + 1) * sizeof(double));
        for (unsigned i = 0; i < n; i++)
                GEOSCoordSeq_getXY_r(h, seq, i, &xy[2 * i], &xy[2 * i + 1]);
        if (n >= 4)
                spate_geo_shapes_add_ring(out, xy, n);
        free(xy);
}

/* Adds the polygons of g (Polygon, MultiPolygon or a collection holding them). */
static int add_geos_polygons(GEOSContextHandle_t h, spate_geo_shapes_t *out, const GEOSGeometry *g) {
        int added = 0;

        if (GEOSGeomTypeId_r(h, g) == GEOS_POLYGON) {
                if (GEOSisEmpty_r(h, g))
                        return 0;
                spate_geo_shapes_add_polygon(out);
                add_geos_ring(h, out, GEOSGetExteriorRing_r(h, g));
                for (int k = 0; k < GEOSGetNumInteriorRings_r(h, g); k++)
                        add_geos_ring(h, out, GEOSGetInteriorRingN_r(h, g, k));
                return 1;
        }
        if (GEOSGeomTypeId_r(h, g) == GEOS_MULTIPOLYGON ||
            GEOSGeomTypeId_r(h, g) == GEOS_GEOMETRYCOLLECTION)
                for (int i = 0; i < GEOSGetNumGeometries_r(h, g); i++)
                        added += add_geos_polygons(h, out, GEOSGetGeometryN_r(h, g, i));
        return added;
}

/* Cuts every region of s with a PIECE_DEG grid: each non-empty cut is a region. */
static spate_geo_shapes_t *cut_into_pieces(GEOSContextHandle_t h, const spate_geo_shapes_t *s) {
        spate_geo_shapes_t *out = spate_geo_shapes_new();

        for (size_t reg = 0; reg < s->n_regions; reg++) {
                GEOSGeometry *g = region_geom(h, s, reg);
                double xmin, ymin, xmax, ymax;
                int piece = 0;
                GEOSGeom_getXMin_r(h, g, &xmin);
                GEOSGeom_getYMin_r(h, g, &ymin);
                GEOSGeom_getXMax_r(h, g, &xmax);
                GEOSGeom_getYMax_r(h, g, &ymax);
                for (double y = PIECE_DEG * (int)(ymin / PIECE_DEG - 1); y < ymax; y += PIECE_DEG)
                        for (double x = PIECE_DEG * (int)(xmin / PIECE_DEG - 1); x < xmax; x += PIECE_DEG) {
                                GEOSGeometry *box = GEOSGeom_createRectangle_r(h, x, y, x + PIECE_DEG,
                                                                               y + PIECE_DEG);
                                GEOSGeometry *cut = GEOSIntersection_r(h, g, box);
                                char name[128];
                                snprintf(name, sizeof(name), "%s/%d", s->regions[reg].name, piece);
                                if (cut && !GEOSisEmpty_r(h, cut)) {
                                        spate_geo_shapes_add_region(out, name);
                                        if (add_geos_polygons(h, out, cut))
                                                piece++;
                                }
                                GEOSGeom_destroy_r(h, cut);
                                GEOSGeom_destroy_r(h, box);
                        }
                GEOSGeom_destroy_r(h, g);
        }
        return out;
}

/* ---- GEOS yardstick: STRtree of prepared region geometries ------------- */

struct geos_hit {
        GEOSContextHandle_t h;
        const GEOSGeometry *pt;
        const GEOSPreparedGeometry **prep;
        int best;
};

static void geos_candidate(void *item, void *arg) {
        struct geos_hit *q = arg;
        int reg = (int)(intptr_t)item;

        if ((q->best < 0 || reg < q->best) && GEOSPreparedContains_r(q->h, q->prep[reg], q->pt))
                q->best = reg;
}

static void bench_geos(GEOSContextHandle_t h, const char *label, const spate_geo_shapes_t *s,
                       const double *pts, double secs) {
        size_t n_reg = s->n_regions, n = 0, hits = 0;
        GEOSGeometry **geoms = calloc(n_reg, sizeof(*geoms));
        const GEOSPreparedGeometry **prep = calloc(n_reg, sizeof(*prep));
        GEOSSTRtree *tree = GEOSSTRtree_create_r(h, 10);
        double t0, t;

        for (size_t r = 0; r < n_reg; r++) {
                geoms[r] = region_geom(h, s, r);
                prep[r] = GEOSPrepare_r(h, geoms[r]);
                GEOSSTRtree_insert_r(h, tree, geoms[r], (void *)(intptr_t)r);
        }
        t0 = now();
        do {
                for (size_t i = 0; i < N_POINTS / 8; i++) {
                        GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(h, pts[2 * i + 1], pts[2 * i]);
                        struct geos_hit q = { h, pt, prep, -1 };
                        GEOSSTRtree_query_r(h, tree, pt, geos_candidate, &q);
                        hits += q.best >= 0;
                        GEOSGeom_destroy_r(h, pt);
                }
                n += N_POINTS / 8;
                t = now() - t0;
        } while (t < secs);
        printf("geos polygon %s (prepared geometries + STRtree, for comparison): %.2f M lookups/s "
               "(%.0f%% matched)\n", label, n / t / 1e6, 100.0 * hits / n);
        GEOSSTRtree_destroy_r(h, tree);
        for (size_t r = 0; r < n_reg; r++) {
                GEOSPreparedGeom_destroy_r(h, prep[r]);
                GEOSGeom_destroy_r(h, geoms[r]);
        }
        free(prep);
        free(geoms);
}

int main(int argc, char **argv) {
        const char *data = getenv("SHARED_DATA");
        char path[512], err[512];
        double secs = argc > 2 ? atof(argv[2]) : 1.0, b[4];
        spate_geo_shapes_t *fr, *pieces;
        double *pts = malloc(2 * N_POINTS * sizeof(double));
        double *near = malloc(2 * N_POINTS * sizeof(double));
        GEOSContextHandle_t h = GEOS_init_r();
        char label[64];

        snprintf(path, sizeof(path), "%s", argc > 1 ? argv[1] : "");
        if (!path[0])
                snprintf(path, sizeof(path), "%s/geo/france_regions.geojson", data ? data : "../shared/data");
        if (!(fr = spate_geojson_load(path, "nom", err, sizeof(err)))) {
                fprintf(stderr, "geo_bench: %s\n", err);
                return 1;
        }
        bbox(fr, b);
        for (size_t i = 0; i < N_POINTS; i++) {
                pts[2 * i] = uniform(b[1], b[3]);
                pts[2 * i + 1] = uniform(b[0], b[2]);
        }
        printf("# %zu regions, %zu polygons, %zu points; %d random points over lon %.2f..%.2f "
               "lat %.2f..%.2f; one thread\n", fr->n_regions, fr->n_polys, fr->n_pts, N_POINTS,
               b[0], b[2], b[1], b[3]);
        near_borders(fr, near);
        bench_index("13 regions", fr, SPATE_GEO_POLYGON, pts, "", secs);
        bench_index("13 regions", fr, SPATE_GEO_BBOX_FIRST_MATCH, pts, "", secs);
        bench_index("13 regions", fr, SPATE_GEO_POLYGON, near, ", points near borders", secs);
        pieces = cut_into_pieces(h, fr);
        snprintf(label, sizeof(label), "%zu pieces", pieces->n_regions);
        printf("# pieces: the 13 regions cut by a %.1f-degree grid with GEOSIntersection: "
               "%zu regions, %zu polygons, %zu points\n", PIECE_DEG, pieces->n_regions,
               pieces->n_polys, pieces->n_pts);
        bench_index(label, pieces, SPATE_GEO_POLYGON, pts, "", secs);
        bench_index(label, pieces, SPATE_GEO_BBOX_FIRST_MATCH, pts, "", secs);
        bench_geos(h, "13 regions", fr, pts, secs);
        bench_geos(h, label, pieces, pts, secs);
        spate_geo_shapes_destroy(pieces);
        spate_geo_shapes_destroy(fr);
        free(pts);
        free(near);
        GEOS_finish_r(h);
        return 0;
}
