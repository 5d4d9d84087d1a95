/* geo_shapes.h - an in-memory set of named (multi)polygon regions in lon/lat, flat arrays. */
#ifndef SPATE_GEO_SHAPES_H
#define SPATE_GEO_SHAPES_H

#include <stddef.h>

/* A region (one GeoJSON feature) is a list of polygons; a polygon is a list of
 * rings, the first being the shell and the others its holes; a ring is a run of
 * points in xy[] (x = longitude, y = latitude), stored without the closing
 * duplicate point. Everything is addressed by index so the arrays can grow. */
typedef struct {
        char *name;             /* owned by the shapes set */
        size_t poly_first, n_polys;
} spate_geo_region_t;

typedef struct {
        size_t region;          /* index of the region owning this polygon */
        size_t ring_first, n_rings;
} spate_geo_polygon_t;

typedef struct {
        size_t pt_first, n_pts;
} spate_geo_ring_t;

typedef struct {
        spate_geo_region_t *regions;
        size_t n_regions, cap_regions;
        spate_geo_polygon_t *polys;
        size_t n_polys, cap_polys;
        spate_geo_ring_t *rings;
        size_t n_rings, cap_rings;
        double *xy;             /* 2 * n_pts doubles: lon, lat, lon, lat, ... */
        size_t n_pts, cap_xy;           /* cap_xy counts doubles */
} spate_geo_shapes_t;

/* Returns an empty set, or NULL when out of memory. Free with spate_geo_shapes_destroy. */
spate_geo_shapes_t *spate_geo_shapes_new(void);
void spate_geo_shapes_destroy(spate_geo_shapes_t *s);

/* Builders, called in nesting order: a region, then its polygons, each followed
 * by its rings (shell first). The name is copied. Return 0, or -1 when out of
 * memory or called out of order (a polygon before any region, a ring before any
 * polygon); the set stays valid either way. */
int spate_geo_shapes_add_region(spate_geo_shapes_t *s, const char *name);
int spate_geo_shapes_add_polygon(spate_geo_shapes_t *s);

/* Adds a ring of n_pts lon/lat pairs (2 * n_pts doubles, copied). A closing
 * point equal to the first is dropped, so rings may be given closed or open. */
int spate_geo_shapes_add_ring(spate_geo_shapes_t *s, const double *lonlat, size_t n_pts);

#endif
