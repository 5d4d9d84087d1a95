/* geojson.h - reads a GeoJSON FeatureCollection of (Multi)Polygons into a geo_shapes set. */
#ifndef SPATE_GEOJSON_H
#define SPATE_GEOJSON_H

#include "geo_shapes.h"

/* Loads every feature of the FeatureCollection at path as one region, named by
 * its property name_prop (a string; numbers and booleans are used as written).
 * Region i is feature i, so indexes match the file. Polygon and MultiPolygon
 * geometries (holes included) become polygons; other geometry types and null
 * geometries give a region without polygons and one warning in the log.
 *
 * Coordinates must be WGS84 [lon, lat] (extra dimensions ignored): a value
 * outside [-180, 180] x [-90, 90] is rejected, since it usually means a
 * projected file. Rings need at least 3 distinct points.
 *
 * Returns a set the caller frees with spate_geo_shapes_destroy, or NULL with a
 * message naming the file (and the feature, ring and position when relevant)
 * in errstr: missing/unreadable file, invalid JSON, not a FeatureCollection,
 * a feature without name_prop (the message lists the properties it has),
 * bad coordinates, or no polygon in the whole file. */
spate_geo_shapes_t *spate_geojson_load(const char *path, const char *name_prop,
                                       char *errstr, size_t errstr_size);

#endif
