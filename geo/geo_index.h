/* geo_index.h - maps a (lat, lon) point to the region containing it: the engine of geo_region. */
#ifndef SPATE_GEO_INDEX_H
#define SPATE_GEO_INDEX_H

#include <stddef.h>

#include "geo_shapes.h"

typedef enum {
        /* True point-in-polygon, holes and multipolygons included.
         *
         * Rule, exactly as computed: each polygon (shell plus holes) is tested
         * with the even-odd crossing-number rule on a ray from the point toward
         * east (growing longitude). An edge with lower endpoint (x0, y0) and
         * upper endpoint (x1, y1), y0 < y1, crosses the ray of (x, y) when
         *     y0 <= y < y1   and   x < x0 + (y - y0) * ((x1 - x0) / (y1 - y0))
         * and horizontal edges never do. Edges are oriented bottom-up before this
         * formula, so an edge shared by two polygons gives the same answer in both.
         * A region contains the point when one of its polygons does; when several
         * regions do (overlapping data), the first in file order wins.
         *
         * Consequence for points exactly on a boundary: such a point behaves as if
         * nudged infinitesimally east (then, on an east-west edge, north). A point on
         * a border shared by two regions (same vertices on both sides) therefore
         * belongs to exactly one of them, the one to its east (on an east-west
         * border, the one to its north); a point on an outer boundary is inside on
         * the west/south sides and outside on the east/north sides; a point on a
         * hole's boundary is decided the same way. The grid index used for speed
         * gives bit-for-bit the same answers as applying this rule to every edge. */
        SPATE_GEO_POLYGON = 0,
        /* Each region is replaced by its rectangle: (min lat, min lon)-(max lat,
         * max lon) over every point of every ring of every polygon of the feature.
         * A point inside several rectangles (bounds inclusive) takes the first
         * region in file order. */
        SPATE_GEO_BBOX_FIRST_MATCH = 1
} spate_geo_mode_t;

typedef struct spate_geo_index spate_geo_index_t;

/* "polygon" or "bbox_first_match" (the YAML spellings). Returns 0, or -1 with a
 * message listing the valid values. */
int spate_geo_mode_parse(const char *s, spate_geo_mode_t *mode, char *errstr, size_t errstr_size);
const char *spate_geo_mode_name(spate_geo_mode_t mode);

/* Loads the GeoJSON FeatureCollection at path (see geojson.h for what is
 * accepted; region i is feature i, named by property name_prop) and indexes it.
 * Returns an index the caller frees with spate_geo_index_destroy, or NULL with a
 * message naming the file in errstr. */
spate_geo_index_t *spate_geo_index_load(const char *path, const char *name_prop,
                                        spate_geo_mode_t mode, char *errstr,
                                        size_t errstr_size);

/* Indexes an in-memory set (tests, benchmarks, generated regions). The index
 * copies what it needs: the caller keeps ownership of shapes. NULL on error. */
spate_geo_index_t *spate_geo_index_build(const spate_geo_shapes_t *shapes,
                                         spate_geo_mode_t mode, char *errstr,
                                         size_t errstr_size);

void spate_geo_index_destroy(spate_geo_index_t *idx);

/* Returns the index of the region containing the point, or -1 (outside every
 * region, or a NaN coordinate). The index is read-only after load: lookups
 * never allocate or lock and may run from any number of threads at once. */
int spate_geo_index_lookup(const spate_geo_index_t *idx, double lat, double lon);

/* The region's name, owned by the index (valid until destroy); NULL when region
 * is out of range, so spate_geo_index_name(idx, lookup(...)) is safe. */
const char *spate_geo_index_name(const spate_geo_index_t *idx, int region);
int spate_geo_index_count(const spate_geo_index_t *idx);
spate_geo_mode_t spate_geo_index_mode(const spate_geo_index_t *idx);

/* Sizes of the grid, for logs and benchmarks. */
typedef struct {
        int cols, rows;
        size_t direct_cells;    /* cells answered without any test */
        size_t items, edges, toggles;
        size_t bytes;
} spate_geo_index_stats_t;
void spate_geo_index_stats(const spate_geo_index_t *idx, spate_geo_index_stats_t *st);

#endif
