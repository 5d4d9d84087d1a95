/* geojson.c - GeoJSON FeatureCollection reader (jansson) producing geo_shapes regions. */
#include "geojson.h"
#include "../util/log.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where the reader is, so every message can point at the offending spot. */
struct reader {
        const char *path;
        spate_geo_shapes_t *shapes;
        size_t feature;
        const char *fname;      /* name of the feature being read */
        double *buf;            /* scratch lon/lat pairs for one ring */
        size_t buf_cap;         /* in points */
        char *errstr;
        size_t errstr_size;
};

#define FAIL(rd, ...) do {                                                  \
        size_t n_ = (size_t)snprintf((rd)->errstr, (rd)->errstr_size,         \
                                     "geo regions file '%s': ", (rd)->path); \
        if (n_ < (rd)->errstr_size)                                           \
                snprintf((rd)->errstr + n_, (rd)->errstr_size - n_, __VA_ARGS__); \
        return -1;                                                            \
} while (0)

static int read_position(struct reader *rd, const json_t *pos, double *lonlat,
                         size_t poly, size_t ring, size_t i) {
        double lon, lat;

        if (!json_is_array(pos) || json_array_size(pos) < 2 ||
            !json_is_number(json_array_get(pos, 0)) || !json_is_number(json_array_get(pos, 1)))
                FAIL(rd, "feature #%zu ('%s'), polygon %zu, ring %zu, position %zu: "
                     "bad coordinates (want [lon, lat] numbers)", rd->feature, rd->fname, poly, ring, i);
        lon = json_number_value(json_array_get(pos, 0));
        lat = json_number_value(json_array_get(pos, 1));
        if (!isfinite(lon) || !isfinite(lat) || lon < -180 || lon > 180 || lat < -90 || lat > 90)
                FAIL(rd, "feature #%zu ('%s'), polygon %zu, ring %zu, position %zu: bad coordinates "
                     "[%g, %g] (want WGS84 [lon, lat]; is the file projected?)",
                     rd->feature, rd->fname, poly, ring, i, lon, lat);
        lonlat[0] = lon;
        lonlat[1] = lat;
        return 0;
}

static int read_ring(struct reader *rd, const json_t *ring, size_t poly, size_t r) {
        size_t n = json_is_array(ring) ? json_array_size(ring) : 0;
        size_t before = rd->shapes->n_pts;

        if (!json_is_array(ring) || n < 4)
                FAIL(rd, "feature #%zu ('%s'), polygon %zu, ring %zu: bad coordinates "
                     "(a ring is an array of at least 4 positions)", rd->feature, rd->fname, poly, r);
        if (n > rd->buf_cap) {
                double *p = realloc(rd->buf, 2 * n * sizeof(double));
                if (!p)
                        FAIL(rd, "out of memory");
                rd->buf = p;
                rd->buf_cap = n;
        }
        for (size_t i = 0; i < n; i++)
                if (read_position(rd, json_array_get(ring, i), rd->buf + 2 * i, poly, r, i))
                        return -1;
        if (spate_geo_shapes_add_ring(rd->shapes, rd->buf, n))
                FAIL(rd, "out of memory");
        if (rd->shapes->n_pts - before < 3)
                FAIL(rd, "feature #%zu ('%s'), polygon %zu, ring %zu: bad coordinates "
                     "(fewer than 3 distinct points)", rd->feature, rd->fname, poly, r);
        return 0;
}

/* rings is the coordinates array of one Polygon: shell first, then holes. */
static int read_polygon(struct reader *rd, const json_t *rings, size_t poly) {
        if (!json_is_array(rings))
                FAIL(rd, "feature #%zu ('%s'), polygon %zu: bad coordinates (want an array of rings)",
                     rd->feature, rd->fname, poly);
        if (json_array_size(rings) == 0)
                return 0;       /* an empty polygon is legal GeoJSON and covers nothing */
        if (spate_geo_shapes_add_polygon(rd->shapes))
                FAIL(rd, "out of memory");
        for (size_t r = 0; r < json_array_size(rings); r++)
                if (read_ring(rd, json_array_get(rings, r), poly, r))
                        return -1;
        return 0;
}

/* Returns 1 when the geometry held polygons, 0 when it was skipped, -1 on error. */
static int read_geometry(struct reader *rd, const json_t *geom, const char **skipped_type) {
        const char *type = json_string_value(json_object_get(geom, "type"));
        const json_t *coords = json_object_get(geom, "coordinates");

        if (type && !strcmp(type, "Polygon"))
                return read_polygon(rd, coords, 0) ? -1 : 1;
        if (!type || strcmp(type, "MultiPolygon")) {
                *skipped_type = type ? type : "null";
                return 0;
        }
        if (!json_is_array(coords))
                FAIL(rd, "feature #%zu ('%s'): bad coordinates (MultiPolygon wants an array of polygons)",
                     rd->feature, rd->fname);
        for (size_t p = 0; p < json_array_size(coords); p++)
                if (read_polygon(rd, json_array_get(coords, p), p))
                        return -1;
        return 1;
}

/* Lists the property names of props into buf, for the "no such property" message. */
static void list_keys(const json_t *props, char *buf, size_t size) {
        const char *key;
        json_t *val;
        size_t n = 0;

        buf[0] = '\0';
        if (!json_is_object(props) || json_object_size(props) == 0) {
                snprintf(buf, size, "none");
                return;
        }
        json_object_foreach((json_t *)props, key, val) {
                (void)val;
                if (n < size)
                        n += (size_t)snprintf(buf + n, size - n, "%s'%s'", n ? ", " : "", key);
        }
}

static int read_feature(struct reader *rd, const json_t *feat, const char *name_prop,
                        const char **skipped_type, size_t *n_skipped) {
        const json_t *props = json_object_get(feat, "properties");
        const json_t *val = json_object_get(props, name_prop);
        char keys[512];
        char *dumped = NULL;
        int rc;

        if (!json_is_object(feat))
                FAIL(rd, "feature #%zu is not a JSON object", rd->feature);
        if (!val || json_is_null(val) || json_is_object(val) || json_is_array(val)) {
                list_keys(props, keys, sizeof(keys));
                FAIL(rd, "feature #%zu %s '%s' (its properties: %s)", rd->feature,
                     val && !json_is_null(val) ? "has a non-scalar property" : "lacks the property",
                     name_prop, keys);
        }
        if (!json_is_string(val) && !(dumped = json_dumps(val, JSON_ENCODE_ANY)))
                FAIL(rd, "out of memory");
        rc = spate_geo_shapes_add_region(rd->shapes, dumped ? dumped : json_string_value(val));
        free(dumped);
        if (rc)
                FAIL(rd, "out of memory");
        rd->fname = rd->shapes->regions[rd->shapes->n_regions - 1].name;
        rc = read_geometry(rd, json_object_get(feat, "geometry"), skipped_type);
        if (rc == 0)
                (*n_skipped)++;
        return rc < 0 ? -1 : 0;
}

static int read_collection(struct reader *rd, const json_t *root, const char *name_prop) {
        const char *type = json_string_value(json_object_get(root, "type"));
        const json_t *features = json_object_get(root, "features");
        const char *skipped_type = NULL;
        size_t n_skipped = 0;

        if (!json_is_object(root) || !type || strcmp(type, "FeatureCollection") ||
            !json_is_array(features))
                FAIL(rd, "not a GeoJSON FeatureCollection (top-level type is '%s'%s)",
                     type ? type : json_is_object(root) ? "missing" : "not an object",
                     type && !strcmp(type, "FeatureCollection") ? ", no features array" : "");
        for (rd->feature = 0; rd->feature < json_array_size(features); rd->feature++)
                if (read_feature(rd, json_array_get(features, rd->feature), name_prop,
                                 &skipped_type, &n_skipped))
                        return -1;
        if (rd->shapes->n_polys == 0)
                FAIL(rd, "no Polygon or MultiPolygon geometry in its %zu features",
                     json_array_size(features));
        if (n_skipped)
                spate_warn("geo regions file '%s': %zu of %zu features have no polygon "
                           "(e.g. geometry type %s) and can never match", rd->path, n_skipped,
                           json_array_size(features), skipped_type);
        return 0;
}

/* Reads path into *root; on failure explains whether the file or its JSON is at fault. */
static int read_json(struct reader *rd, json_t **root) {
        json_error_t jerr;
        FILE *fp = fopen(rd->path, "r");

        if (!fp)
                FAIL(rd, "cannot open: %s", strerror(errno));
        *root = json_loadf(fp, 0, &jerr);
        fclose(fp);
        if (!*root)
                FAIL(rd, "not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                     jerr.column);
        return 0;
}

spate_geo_shapes_t *spate_geojson_load(const char *path, const char *name_prop,
                                       char *errstr, size_t errstr_size) {
        struct reader rd = { .path = path, .errstr = errstr, .errstr_size = errstr_size };
        json_t *root = NULL;

        if (!(rd.shapes = spate_geo_shapes_new())) {
                snprintf(errstr, errstr_size, "geo regions file '%s': out of memory", path);
                return NULL;
        }
        if (read_json(&rd, &root) || read_collection(&rd, root, name_prop)) {
                spate_geo_shapes_destroy(rd.shapes);
                rd.shapes = NULL;
        }
        json_decref(root);
        free(rd.buf);
        return rd.shapes;
}
