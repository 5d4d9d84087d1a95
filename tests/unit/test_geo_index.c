/* test_geo_index.c - unit tests of the geo region index: real cities, errors, holes, borders, exactness. */
#include "check.h"
#include "../../geo/geo_index.h"
#include "../../geo/geojson.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static char data_dir[512];

static int have_file(const char *name, char *path, size_t size) {
        snprintf(path, size, "%s/geo/%s", data_dir, name);
        return access(path, R_OK) == 0;
}

/* ---- real data -------------------------------------------------------- */

struct city {
        const char *name;
        double lat, lon;
        const char *region;     /* NULL: no region */
};

static const struct city france[] = {
        { "Paris", 48.8566, 2.3522, "Île-de-France" },
        { "Lyon", 45.7640, 4.8357, "Auvergne-Rhône-Alpes" },
        { "Marseille", 43.2965, 5.3698, "Provence-Alpes-Côte d'Azur" },
        { "Rennes", 48.1173, -1.6778, "Bretagne" },
        { "Strasbourg", 48.5734, 7.7521, "Grand Est" },
        { "Ajaccio", 41.9192, 8.7386, "Corse" },
        { "Lille", 50.6292, 3.0573, "Hauts-de-France" },
        { "Bordeaux", 44.8378, -0.5792, "Nouvelle-Aquitaine" },
        { "Brest", 48.3904, -4.4861, "Bretagne" },
        { "Nice", 43.7102, 7.2620, "Provence-Alpes-Côte d'Azur" },
        { "Valréas (PACA enclave in a hole of Auvergne-Rhône-Alpes)", 44.3833, 4.9906,
          "Provence-Alpes-Côte d'Azur" },
        { "Atlantic", 47.0, -6.0, NULL },
        { "Mediterranean", 42.5, 5.0, NULL },
        { "Madrid", 40.4168, -3.7038, NULL },
        { "Berlin", 52.5200, 13.4050, NULL },
        { "London", 51.5074, -0.1278, NULL },
        { "Geneva", 46.2044, 6.1432, NULL },
};

static const struct city netherlands[] = {
        { "Utrecht", 52.0907, 5.1214, "Utrecht" },
        { "Amsterdam", 52.3676, 4.9041, "Noord-Holland" },
        { "Groningen", 53.2194, 6.5665, "Groningen" },
        { "Maastricht", 50.8514, 5.6910, "Limburg" },
        { "Den Helder", 52.9563, 4.7601, "Noord-Holland" },
        { "Vlissingen", 51.4426, 3.5736, "Zeeland" },
        { "Texel", 53.0550, 4.7970, "Noord-Holland" },
        { "Rotterdam", 51.9244, 4.4777, "Zuid-Holland" },
        { "Eindhoven", 51.4416, 5.4697, "Noord-Brabant" },
        { "North Sea", 54.5, 4.0, NULL },
        { "Berlin", 52.5200, 13.4050, NULL },
        { "London", 51.5074, -0.1278, NULL },
        { "Brussels", 50.8503, 4.3517, NULL },
};

static void check_cities(const char *file, const char *prop, const struct city *cities, size_t n) {
        char path[600], err[512];
        spate_geo_index_t *idx;

        if (!have_file(file, path, sizeof(path))) {
                for (size_t i = 0; i < n; i++)
                        CHECK(1, "%s in %s # SKIP ../shared/data absent", cities[i].name, file);
                return;
        }
        idx = spate_geo_index_load(path, prop, SPATE_GEO_POLYGON, err, sizeof(err));
        CHECK(idx != NULL, "load %s: %s", file, idx ? "ok" : err);
        if (!idx)
                return;
        for (size_t i = 0; i < n; i++) {
                int r = spate_geo_index_lookup(idx, cities[i].lat, cities[i].lon);
                const char *got = spate_geo_index_name(idx, r);
                if (cities[i].region)
                        CHECK_STR(got, cities[i].region, cities[i].name);
                else
                        CHECK(r == -1, "%s is in no region (got %d %s)", cities[i].name, r,
                              got ? got : "");
        }
        spate_geo_index_destroy(idx);
}

static void test_real_bbox_mode(void) {
        char path[600], err[512];
        spate_geo_index_t *idx;

        if (!have_file("france_regions.geojson", path, sizeof(path))) {
                CHECK(1, "bbox mode on France # SKIP ../shared/data absent");
                return;
        }
        idx = spate_geo_index_load(path, "nom", SPATE_GEO_BBOX_FIRST_MATCH, err, sizeof(err));
        CHECK(idx && spate_geo_index_count(idx) == 13, "France bbox mode loads 13 regions");
        if (!idx)
                return;
        /* Île-de-France is first in the file and its rectangle holds Paris. */
        CHECK_STR(spate_geo_index_name(idx, spate_geo_index_lookup(idx, 48.8566, 2.3522)),
                  "Île-de-France", "bbox: Paris");
        CHECK(spate_geo_index_lookup(idx, 47.0, -6.0) == -1, "bbox: Atlantic far west is nowhere");
        CHECK(spate_geo_index_lookup(idx, 40.4168, -3.7038) == -1, "bbox: Madrid is nowhere");
        spate_geo_index_destroy(idx);
}

/* ---- error messages --------------------------------------------------- */

static const char *write_tmp(const char *name, const char *body) {
        static char path[256];
        FILE *fp;

        snprintf(path, sizeof(path), "/tmp/spate_test_geo_%d_%s", (int)getpid(), name);
        fp = fopen(path, "w");
        if (fp) {
                fputs(body, fp);
                fclose(fp);
        }
        return path;
}

static void expect_error(const char *name, const char *body, const char *want1, const char *want2) {
        char err[512] = "";
        const char *path = body ? write_tmp(name, body) : "/tmp/spate_no_such_dir/x.geojson";
        spate_geo_index_t *idx = spate_geo_index_load(path, "nom", SPATE_GEO_POLYGON, err, sizeof(err));

        CHECK(idx == NULL && strstr(err, path) && strstr(err, want1) && (!want2 || strstr(err, want2)),
              "error for %s names the file and says '%s'%s%s: %s", name, want1,
              want2 ? " and " : "", want2 ? want2 : "", err);
        spate_geo_index_destroy(idx);
        if (body)
                unlink(path);
}

#define SQUARE "[[[0,0],[1,0],[1,1],[0,1],[0,0]]]"

static void test_errors(void) {
        char err[512];

        expect_error("missing", NULL, "cannot open", "No such file");
        expect_error("notjson", "{\"type\": \"FeatureCollection\", \"features\": [", "not valid JSON",
                     "line");
        expect_error("notfc", "{\"type\": \"Feature\", \"properties\": {}, \"geometry\": null}",
                     "not a GeoJSON FeatureCollection", "Feature");
        expect_error("noprop",
                     "{\"type\":\"FeatureCollection\",\"features\":["
                     "{\"type\":\"Feature\",\"properties\":{\"nom\":\"a\"},\"geometry\":"
                     "{\"type\":\"Polygon\",\"coordinates\":" SQUARE "}},"
                     "{\"type\":\"Feature\",\"properties\":{\"code\":\"x\",\"name\":\"b\"},\"geometry\":"
                     "{\"type\":\"Polygon\",\"coordinates\":" SQUARE "}}]}",
                     "feature #1 lacks the property 'nom'", "'code', 'name'");
        expect_error("nopoly",
                     "{\"type\":\"FeatureCollection\",\"features\":["
                     "{\"type\":\"Feature\",\"properties\":{\"nom\":\"a\"},\"geometry\":"
                     "{\"type\":\"Point\",\"coordinates\":[1,2]}}]}",
                     "no Polygon or MultiPolygon", NULL);
        expect_error("badcoord",
                     "{\"type\":\"FeatureCollection\",\"features\":["
                     "{\"type\":\"Feature\",\"properties\":{\"nom\":\"a\"},\"geometry\":"
                     "{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,\"x\"],[1,1],[0,0]]]}}]}",
                     "bad coordinates", "position 1");
        expect_error("projected",
                     "{\"type\":\"FeatureCollection\",\"features\":["
                     "{\"type\":\"Feature\",\"properties\":{\"nom\":\"a\"},\"geometry\":"
                     "{\"type\":\"Polygon\",\"coordinates\":[[[155000,463000],[156000,463000],"
                     "[156000,464000],[155000,463000]]]}}]}",
                     "bad coordinates", "projected");
        expect_error("shortring",
                     "{\"type\":\"FeatureCollection\",\"features\":["
                     "{\"type\":\"Feature\",\"properties\":{\"nom\":\"a\"},\"geometry\":"
                     "{\"type\":\"MultiPolygon\",\"coordinates\":[" SQUARE ",[[[0,0],[1,0],[0,0]]]]}}]}",
                     "polygon 1, ring 0", "at least 4 positions");
        CHECK(spate_geo_mode_parse("circle", &(spate_geo_mode_t){0}, err, sizeof(err)) == -1 &&
              strstr(err, "bbox_first_match"), "unknown mode is refused: %s", err);
}

/* ---- synthetic shapes ------------------------------------------------- */

static void add_ring(spate_geo_shapes_t *s, const double *xy, size_t n) {
        if (spate_geo_shapes_add_ring(s, xy, n))
                abort();
}

static void add_rect(spate_geo_shapes_t *s, double x0, double y0, double x1, double y1) {
        double r[] = { x0, y0, x1, y0, x1, y1, x0, y1, x0, y0 };
        add_ring(s, r, 5);
}

static void add_region_rect(spate_geo_shapes_t *s, const char *name,
                            double x0, double y0, double x1, double y1) {
        if (spate_geo_shapes_add_region(s, name) || spate_geo_shapes_add_polygon(s))
                abort();
        add_rect(s, x0, y0, x1, y1);
}

static spate_geo_index_t *build(const spate_geo_shapes_t *s, spate_geo_mode_t mode) {
        char err[256];
        spate_geo_index_t *idx = spate_geo_index_build(s, mode, err, sizeof(err));
        if (!idx) {
                printf("# build failed: %s\n", err);
                abort();
        }
        return idx;
}

/* lat/lon order at the API, x/y (lon/lat) in the shapes: keep tests in x, y. */
#define AT(idx, x, y) spate_geo_index_lookup((idx), (y), (x))

static void test_hole_and_multipolygon(void) {
        spate_geo_shapes_t *s = spate_geo_shapes_new();
        spate_geo_index_t *idx;

        /* "ring": a square with a hole, plus a second square far east (multipolygon). */
        spate_geo_shapes_add_region(s, "ring");
        spate_geo_shapes_add_polygon(s);
        add_rect(s, 0, 0, 10, 10);
        add_rect(s, 4, 4, 6, 6);
        spate_geo_shapes_add_polygon(s);
        add_rect(s, 20, 0, 22, 2);
        /* "enclave" fills part of the hole. */
        add_region_rect(s, "enclave", 4.5, 4.5, 5.5, 5.5);
        idx = build(s, SPATE_GEO_POLYGON);
        CHECK(AT(idx, 2, 2) == 0, "inside the shell");
        CHECK(AT(idx, 4.2, 5.8) == -1, "inside the hole, outside the enclave");
        CHECK(AT(idx, 5, 5) == 1, "inside the enclave in the hole");
        CHECK(AT(idx, 21, 1) == 0, "second polygon of the multipolygon");
        CHECK(AT(idx, 15, 1) == -1, "between the two polygons");
        CHECK(AT(idx, NAN, 1) == -1 && AT(idx, 1, NAN) == -1, "NaN is nowhere");
        CHECK(spate_geo_index_name(idx, -1) == NULL && spate_geo_index_name(idx, 2) == NULL,
              "name of an out-of-range region is NULL");
        CHECK(spate_geo_index_count(idx) == 2, "two regions");
        spate_geo_index_destroy(idx);
        spate_geo_shapes_destroy(s);
}

static void test_border_rule(void) {
        spate_geo_shapes_t *s = spate_geo_shapes_new();
        spate_geo_index_t *idx;
        int ok = 1;

        add_region_rect(s, "A", 0, 0, 10, 10);
        add_region_rect(s, "B", 10, 0, 20, 10);         /* east of A, shares x = 10 */
        add_region_rect(s, "C", 0, 10, 10, 20);         /* north of A, shares y = 10 */
        idx = build(s, SPATE_GEO_POLYGON);
        for (int i = 1; i < 100; i++)
                ok &= AT(idx, 10, i * 0.1) == 1;
        CHECK(ok, "points on the shared north-south border A|B belong to B, the eastern one");
        ok = 1;
        for (int i = 1; i < 100; i++)
                ok &= AT(idx, i * 0.1, 10) == 2;
        CHECK(ok, "points on the shared east-west border A/C belong to C, the northern one");
        CHECK(AT(idx, 0, 5) == 0 && AT(idx, 5, 0) == 0, "outer west and south sides are inside");
        CHECK(AT(idx, 20, 5) == -1 && AT(idx, 5, 20) == -1 && AT(idx, 15, 10) == -1,
              "outer east and north sides are outside");
        CHECK(AT(idx, 10, 10) == -1 && AT(idx, 10, 0) == 1 && AT(idx, 0, 10) == 2,
              "corners follow the east-then-north nudge");
        spate_geo_index_destroy(idx);
        spate_geo_shapes_destroy(s);
}

/* A diagonal border: every point on it must be in exactly one of the two sides. */
static void test_diagonal_border(void) {
        double a[] = { 0, 0, 10, 0, 0, 10 }, b[] = { 10, 0, 10, 10, 0, 10 };
        spate_geo_shapes_t *sa = spate_geo_shapes_new(), *sb = spate_geo_shapes_new();
        spate_geo_shapes_t *sab = spate_geo_shapes_new();
        spate_geo_index_t *ia, *ib, *iab;
        int once = 1, first = 1;

        spate_geo_shapes_add_region(sa, "A"), spate_geo_shapes_add_polygon(sa), add_ring(sa, a, 3);
        spate_geo_shapes_add_region(sb, "B"), spate_geo_shapes_add_polygon(sb), add_ring(sb, b, 3);
        spate_geo_shapes_add_region(sab, "A"), spate_geo_shapes_add_polygon(sab), add_ring(sab, a, 3);
        spate_geo_shapes_add_region(sab, "B"), spate_geo_shapes_add_polygon(sab), add_ring(sab, b, 3);
        ia = build(sa, SPATE_GEO_POLYGON);
        ib = build(sb, SPATE_GEO_POLYGON);
        iab = build(sab, SPATE_GEO_POLYGON);
        srand(7);
        for (int i = 0; i < 20000; i++) {
                double x = 10.0 * rand() / RAND_MAX, y = 10.0 - x;      /* on, or an ulp off, the line */
                int in_a = AT(ia, x, y) == 0, in_b = AT(ib, x, y) == 0, ab = AT(iab, x, y);
                once &= in_a + in_b == 1;
                first &= ab == (in_a ? 0 : 1);
        }
        CHECK(once, "20000 points on a shared diagonal: each in exactly one of the two regions");
        CHECK(first, "... and the combined index agrees with the separate ones");
        spate_geo_index_destroy(ia);
        spate_geo_index_destroy(ib);
        spate_geo_index_destroy(iab);
        spate_geo_shapes_destroy(sa);
        spate_geo_shapes_destroy(sb);
        spate_geo_shapes_destroy(sab);
}

static void test_overlap_and_bbox(void) {
        spate_geo_shapes_t *s = spate_geo_shapes_new();
        spate_geo_index_t *poly, *bbox;
        double l[] = { 0, 0, 10, 0, 10, 2, 2, 2, 2, 10, 0, 10 };       /* an L */

        spate_geo_shapes_add_region(s, "L");
        spate_geo_shapes_add_polygon(s);
        add_ring(s, l, 6);
        add_region_rect(s, "notch", 5, 5, 8, 8);        /* inside L's rectangle, not in L */
        add_region_rect(s, "overlap", 1, 1, 3, 3);      /* overlaps L's corner */
        poly = build(s, SPATE_GEO_POLYGON);
        bbox = build(s, SPATE_GEO_BBOX_FIRST_MATCH);
        CHECK(AT(poly, 6, 6) == 1, "polygon: the notch point is in 'notch'");
        CHECK(AT(bbox, 6, 6) == 0, "bbox: the notch point takes L, first rectangle in file order");
        CHECK(AT(poly, 1.5, 1.5) == 0, "polygon: overlap of L and 'overlap' goes to L (file order)");
        CHECK(AT(poly, 2.5, 2.5) == 2, "polygon: 'overlap' outside L");
        CHECK(AT(bbox, 10, 10) == 0 && AT(bbox, 0, 0) == 0 && AT(bbox, 10, 5) == 0,
              "bbox: rectangle bounds are inclusive");
        CHECK(AT(bbox, 10.000001, 5) == -1 && AT(bbox, 5, -1e-9) == -1, "bbox: just outside is nowhere");
        CHECK(AT(poly, 10, 10) == -1, "polygon: L's far corner is outside");
        spate_geo_index_destroy(poly);
        spate_geo_index_destroy(bbox);
        spate_geo_shapes_destroy(s);
}

/* ---- the grid is exact: compare with the rule applied to every edge --- */

static int brute_force(const spate_geo_shapes_t *s, double x, double y) {
        for (size_t p = 0; p < s->n_polys; p++) {
                const spate_geo_polygon_t *poly = &s->polys[p];
                unsigned in = 0;
                for (size_t r = poly->ring_first; r < poly->ring_first + poly->n_rings; r++) {
                        const double *xy = s->xy + 2 * s->rings[r].pt_first;
                        size_t n = s->rings[r].n_pts;
                        for (size_t i = 0; i < n; i++) {
                                const double *a = xy + 2 * i, *b = xy + 2 * ((i + 1) % n);
                                if (a[1] == b[1])
                                        continue;
                                if (a[1] > b[1]) {
                                        const double *t = a;
                                        a = b;
                                        b = t;
                                }
                                in ^= a[1] <= y && y < b[1] &&
                                      x < a[0] + (y - a[1]) * ((b[0] - a[0]) / (b[1] - a[1]));
                        }
                }
                if (in)
                        return (int)poly->region;
        }
        return -1;
}

/* Vertices, edge midpoints, grid-line points and random points: all must match. */
static void compare_with_brute_force(const char *what, const spate_geo_shapes_t *s, int n_random) {
        spate_geo_index_t *idx = build(s, SPATE_GEO_POLYGON);
        double x0 = 1e300, y0 = 1e300, x1 = -1e300, y1 = -1e300;
        size_t tested = 0, bad = 0;

        for (size_t i = 0; i < s->n_pts; i++) {
                x0 = fmin(x0, s->xy[2 * i]), x1 = fmax(x1, s->xy[2 * i]);
                y0 = fmin(y0, s->xy[2 * i + 1]), y1 = fmax(y1, s->xy[2 * i + 1]);
        }
        for (size_t i = 0; i + 1 < s->n_pts; i += 1 + s->n_pts / 3000) {
                const double *p = s->xy + 2 * i;
                double pts[][2] = { { p[0], p[1] }, { (p[0] + p[2]) / 2, (p[1] + p[3]) / 2 },
                                    { p[0], p[3] }, { p[2], p[1] } };
                for (int k = 0; k < 4; k++, tested++)
                        bad += AT(idx, pts[k][0], pts[k][1]) != brute_force(s, pts[k][0], pts[k][1]);
        }
        srand(11);
        for (int i = 0; i < n_random; i++, tested++) {
                double x = x0 + (x1 - x0) * rand() / RAND_MAX, y = y0 + (y1 - y0) * rand() / RAND_MAX;
                if (i % 4 == 1)
                        y = s->xy[2 * (rand() % s->n_pts) + 1];  /* on a vertex's latitude */
                bad += AT(idx, x, y) != brute_force(s, x, y);
        }
        CHECK(bad == 0, "%s: grid answers equal the every-edge rule at %zu points "
              "(vertices, midpoints, vertex latitudes, random): %zu differ", what, tested, bad);
        spate_geo_index_destroy(idx);
}

static void test_exact_synthetic(void) {
        spate_geo_shapes_t *s = spate_geo_shapes_new();
        double star[2 * 700];

        srand(3);
        for (int reg = 0; reg < 6; reg++) {      /* overlapping jagged stars, some with holes */
                double cx = (reg % 3) * 3.0, cy = (reg / 3) * 3.0;
                char name[16];
                snprintf(name, sizeof(name), "star%d", reg);
                spate_geo_shapes_add_region(s, name);
                spate_geo_shapes_add_polygon(s);
                for (int i = 0; i < 700; i++) {
                        double a = 2 * M_PI * i / 700, rad = 1 + 1.5 * rand() / RAND_MAX;
                        /* snap to a coarse lattice so many vertices share latitudes */
                        star[2 * i] = round((cx + rad * cos(a)) * 64) / 64;
                        star[2 * i + 1] = round((cy + rad * sin(a)) * 64) / 64;
                }
                add_ring(s, star, 700);
                if (reg % 2)
                        add_rect(s, cx - 0.5, cy - 0.25, cx + 0.5, cy + 0.25);
        }
        compare_with_brute_force("synthetic stars", s, 40000);
        spate_geo_shapes_destroy(s);
}

static void test_exact_real(void) {
        const char *files[][2] = { { "france_regions.geojson", "nom" }, { "nl_provinces.geojson", "name" } };

        for (int f = 0; f < 2; f++) {
                char path[600], err[512];
                spate_geo_shapes_t *s;
                if (!have_file(files[f][0], path, sizeof(path))) {
                        CHECK(1, "%s grid vs every-edge rule # SKIP ../shared/data absent", files[f][0]);
                        continue;
                }
                s = spate_geojson_load(path, files[f][1], err, sizeof(err));
                CHECK(s != NULL, "geojson load %s: %s", files[f][0], s ? "ok" : err);
                if (s)
                        compare_with_brute_force(files[f][0], s, 3000);
                spate_geo_shapes_destroy(s);
        }
}

/* ---- concurrent lookups: read-only index, same answers from every thread */

#define MT_POINTS 100000
#define MT_THREADS 4

struct mt_arg {
        const spate_geo_index_t *idx;
        const double *pts;
        const int *want;
        int bad;
};

static void *mt_worker(void *p) {
        struct mt_arg *a = p;
        for (int round = 0; round < 5; round++)
                for (int i = 0; i < MT_POINTS; i++)
                        a->bad += spate_geo_index_lookup(a->idx, a->pts[2 * i], a->pts[2 * i + 1]) !=
                                  a->want[i];
        return NULL;
}

static void test_threads(void) {
        spate_geo_shapes_t *s = spate_geo_shapes_new();
        double *pts = malloc(2 * MT_POINTS * sizeof(double));
        int *want = malloc(MT_POINTS * sizeof(int));
        struct mt_arg args[MT_THREADS];
        pthread_t th[MT_THREADS];
        spate_geo_index_t *idx;
        int bad = 0, started = 0;

        add_region_rect(s, "A", 0, 0, 10, 10);
        add_region_rect(s, "B", 10, 0, 20, 10);
        idx = build(s, SPATE_GEO_POLYGON);
        srand(5);
        for (int i = 0; i < MT_POINTS; i++) {
                pts[2 * i] = -1 + 12.0 * rand() / RAND_MAX;
                pts[2 * i + 1] = -1 + 22.0 * rand() / RAND_MAX;
                want[i] = spate_geo_index_lookup(idx, pts[2 * i], pts[2 * i + 1]);
        }
        for (int t = 0; t < MT_THREADS; t++) {
                args[t] = (struct mt_arg){ idx, pts, want, 0 };
                started += pthread_create(&th[t], NULL, mt_worker, &args[t]) == 0;
        }
        for (int t = 0; t < started; t++) {
                pthread_join(th[t], NULL);
                bad += args[t].bad;
        }
        CHECK(started == MT_THREADS && bad == 0, "%d threads x %d lookups agree with one thread",
              started, 5 * MT_POINTS);
        spate_geo_index_destroy(idx);
        spate_geo_shapes_destroy(s);
        free(pts);
        free(want);
}

int main(void) {
        const char *env = getenv("SHARED_DATA");

        snprintf(data_dir, sizeof(data_dir), "%s", env ? env : "../shared/data");
        check_cities("france_regions.geojson", "nom", france, sizeof(france) / sizeof(france[0]));
        check_cities("nl_provinces.geojson", "name", netherlands,
                     sizeof(netherlands) / sizeof(netherlands[0]));
        test_real_bbox_mode();
        test_errors();
        test_hole_and_multipolygon();
        test_border_rule();
        test_diagonal_border();
        test_overlap_and_bbox();
        test_exact_synthetic();
        test_exact_real();
        test_threads();
        return CHECK_DONE();
}
