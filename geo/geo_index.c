/* geo_index.c - the public region index: loads regions, owns names, answers lookups. */
#include "geo_index.h"
#include "geo_grid.h"
#include "geojson.h"
#include "../util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct spate_geo_index {
        spate_geo_mode_t mode;
        int n_regions;
        char **names;
        spate_geo_grid_t grid;
};

int spate_geo_mode_parse(const char *s, spate_geo_mode_t *mode, char *errstr, size_t errstr_size) {
        if (s && !strcmp(s, "polygon")) {
                *mode = SPATE_GEO_POLYGON;
                return 0;
        }
        if (s && !strcmp(s, "bbox_first_match")) {
                *mode = SPATE_GEO_BBOX_FIRST_MATCH;
                return 0;
        }
        snprintf(errstr, errstr_size, "unknown geo mode '%s' (want polygon or bbox_first_match)",
                 s ? s : "(null)");
        return -1;
}

const char *spate_geo_mode_name(spate_geo_mode_t mode) {
        return mode == SPATE_GEO_BBOX_FIRST_MATCH ? "bbox_first_match" : "polygon";
}

void spate_geo_index_destroy(spate_geo_index_t *idx) {
        if (!idx)
                return;
        for (int i = 0; idx->names && i < idx->n_regions; i++)
                free(idx->names[i]);
        free(idx->names);
        spate_geo_grid_free(&idx->grid);
        free(idx);
}

static int copy_names(spate_geo_index_t *idx, const spate_geo_shapes_t *s) {
        if (!(idx->names = calloc(s->n_regions + 1, sizeof(char *))))
                return -1;
        idx->n_regions = (int)s->n_regions;
        for (size_t i = 0; i < s->n_regions; i++)
                if (!(idx->names[i] = strdup(s->regions[i].name)))
                        return -1;
        return 0;
}

spate_geo_index_t *spate_geo_index_build(const spate_geo_shapes_t *s, spate_geo_mode_t mode,
                                         char *errstr, size_t errstr_size) {
        spate_geo_index_t *idx;
        int rc;

        if (s->n_regions == 0 || s->n_regions > INT32_MAX / 2 || s->n_polys == 0) {
                snprintf(errstr, errstr_size, "%s", s->n_polys ? "too many regions"
                                                               : "no polygon to index");
                return NULL;
        }
        if (!(idx = calloc(1, sizeof(*idx)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        idx->mode = mode;
        if (copy_names(idx, s)) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        rc = mode == SPATE_GEO_BBOX_FIRST_MATCH
                ? spate_geo_grid_build_rects(&idx->grid, s, errstr, errstr_size)
                : spate_geo_grid_build_polygons(&idx->grid, s, errstr, errstr_size);
        if (rc)
                goto err;
        return idx;
err:
        spate_geo_index_destroy(idx);
        return NULL;
}

spate_geo_index_t *spate_geo_index_load(const char *path, const char *name_prop,
                                        spate_geo_mode_t mode, char *errstr,
                                        size_t errstr_size) {
        spate_geo_shapes_t *s = spate_geojson_load(path, name_prop, errstr, errstr_size);
        spate_geo_index_t *idx;
        spate_geo_index_stats_t st;
        char why[256];

        if (!s)
                return NULL;
        idx = spate_geo_index_build(s, mode, why, sizeof(why));
        if (!idx) {
                snprintf(errstr, errstr_size, "geo regions file '%s': %s", path, why);
        } else {
                spate_geo_index_stats(idx, &st);
                spate_debug("geo regions file '%s': %zu regions, %zu polygons, %zu points, %s "
                            "grid %dx%d, %zu direct cells, %zu items, %zu edges, %zu bytes",
                            path, s->n_regions, s->n_polys, s->n_pts, spate_geo_mode_name(mode),
                            st.cols, st.rows, st.direct_cells, st.items, st.edges, st.bytes);
        }
        spate_geo_shapes_destroy(s);
        return idx;
}

int spate_geo_index_lookup(const spate_geo_index_t *idx, double lat, double lon) {
        return spate_geo_grid_lookup(&idx->grid, lon, lat);
}

const char *spate_geo_index_name(const spate_geo_index_t *idx, int region) {
        return region >= 0 && region < idx->n_regions ? idx->names[region] : NULL;
}

int spate_geo_index_count(const spate_geo_index_t *idx) {
        return idx->n_regions;
}

spate_geo_mode_t spate_geo_index_mode(const spate_geo_index_t *idx) {
        return idx->mode;
}

void spate_geo_index_stats(const spate_geo_index_t *idx, spate_geo_index_stats_t *st) {
        const spate_geo_grid_t *g = &idx->grid;
        size_t n_cells = (size_t)g->cols * g->rows;

        memset(st, 0, sizeof(*st));
        st->cols = g->cols;
        st->rows = g->rows;
        for (size_t i = 0; i < n_cells; i++)
                st->direct_cells += g->cells[i].direct != SPATE_GEO_CELL_TEST;
        st->items = g->n_items;
        st->edges = g->n_edges;
        st->toggles = g->n_toggles;
        st->bytes = n_cells * sizeof(*g->cells) + g->n_items * sizeof(*g->items) +
                    g->n_edges * sizeof(*g->edges) + g->n_toggles * sizeof(double) +
                    g->n_rects * sizeof(*g->rects);
}
