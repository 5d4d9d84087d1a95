/* geo_region.c - the `geo_region` node: tags each record with the region of
 * its (lat, lon) from a GeoJSON file, in place, keeping every other field. */
#include "../geo/geo_index.h"
#include "../engine/node.h"
#include "../engine/topology.h"
#include "../util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* In the order of the `unmatched` choices (bound by index). */
typedef enum { UNMATCHED_KEEP, UNMATCHED_DROP, UNMATCHED_DLQ } unmatched_t;

typedef struct geo_region {
        spate_geo_index_t *idx;
        spate_value_t *names;  /* each region's name as a value, by region index (no strlen a record) */
        int nregions;
        spate_expr_t *lat, *lon;
        int lat_field, lon_field;  /* spate_expr_field_index() of each */
        int slot;          /* the output field's index in the record */
        unmatched_t unmatched;
        /* bound: */
        const char *regions, *property, *as;
        spate_geo_mode_t mode;  /* the `mode` choices are spate_geo_mode_t's order (test_topology) */
} geo_region_t;

static const spate_prop_t geo_props[] = {
        { "regions", SPATE_P_STR, 1, NULL, NULL, "GeoJSON FeatureCollection (path relative to the working directory or the topology file)" },
        { "property", SPATE_P_STR, 1, NULL, NULL, "feature property that names a region, e.g. nom or statnaam" },
        { "lat", SPATE_P_EXPR, 1, NULL, NULL, "latitude expression" },
        { "lon", SPATE_P_EXPR, 1, NULL, NULL, "longitude expression" },
        { "as", SPATE_P_STR, 0, "region", NULL, "output field" },
        { "mode", SPATE_P_ENUM, 0, "polygon", "polygon|bbox_first_match", "point-in-polygon, or first region whose bounding box contains the point" },
        { "unmatched", SPATE_P_ENUM, 0, "keep", "keep|drop|dlq", "points in no region: keep with a null region, drop, or send to the DLQ" },
        { NULL }
};

static const spate_bind_t geo_binds[] = {
        SPATE_BIND("regions", geo_region_t, regions),
        SPATE_BIND("property", geo_region_t, property),
        SPATE_BIND("as", geo_region_t, as),
        SPATE_BIND_CHOICE("mode", geo_region_t, mode),
        SPATE_BIND_CHOICE("unmatched", geo_region_t, unmatched),
        { NULL }
};

static int geo_init(spate_node_t *n, char *errstr, size_t errstr_size) {
        geo_region_t *g = n->ctx;
        char path[2048], err[1024];

        spate_node_path(n, g->regions, path, sizeof(path));
        if (!(g->idx = spate_geo_index_load(path, g->property, g->mode, err, sizeof(err))))
                return spate_node_error(n, spate_node_param(n, "regions"), errstr, errstr_size, "%s", err);
        if (!(g->lat = spate_node_expr(n, "lat", n->in, errstr, errstr_size)) ||
            !(g->lon = spate_node_expr(n, "lon", n->in, errstr, errstr_size)))
                return -1;
        g->lat_field = spate_expr_field_index(g->lat);
        g->lon_field = spate_expr_field_index(g->lon);
        g->nregions = spate_geo_index_count(g->idx);
        g->names = spate_xcalloc((size_t)g->nregions + 1, sizeof(*g->names));
        for (int i = 0; i < g->nregions; i++) {
                const char *name = spate_geo_index_name(g->idx, i);
                g->names[i] = spate_value_str(name, (uint32_t)strlen(name));
        }
        n->out = n->in;
        g->slot = spate_shape_add_computed(spate_node_shapes(n), n->out, g->as, SPATE_V_STR);
        return 0;
}

/* A coordinate; a bare field holding a number is read where it lies. */
static int eval_coord(spate_node_t *n, spate_expr_t *e, int field, spate_record_t *rec, spate_ctx_t *ctx,
                      double *out) {
        const spate_value_t *item = spate_record_item(rec, field, SPATE_V_NUM);
        if (item) {
                *out = item->u.num;
                return 0;
        }
        spate_value_t v;
        char err[512];
        if (spate_expr_eval(e, rec, spate_ctx_arena(ctx), &v, err, sizeof(err)))
                return spate_ctx_fail(ctx, n, "%s", err);
        if (v.type != SPATE_V_NUM)
                return spate_ctx_fail(ctx, n, "'%s' is %s, not a number", spate_expr_text(e),
                                      spate_vtype_name(v.type));
        *out = v.u.num;
        return 0;
}

static int geo_process(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx) {
        geo_region_t *g = n->ctx;
        double lat, lon;
        if (eval_coord(n, g->lat, g->lat_field, rec, ctx, &lat) ||
            eval_coord(n, g->lon, g->lon_field, rec, ctx, &lon))
                return -1;
        if (rec->value.type != SPATE_V_OBJ || (int)rec->value.n <= g->slot)
                return spate_ctx_fail(ctx, n, "the record is not an object");
        int region = spate_geo_index_lookup(g->idx, lat, lon);
        spate_value_t *slot = &rec->value.u.items[g->slot];
        if (region >= 0 && region < g->nregions) {
                *slot = g->names[region];
        } else if (g->unmatched == UNMATCHED_DROP) {
                return 0;
        } else if (g->unmatched == UNMATCHED_DLQ) {
                return spate_ctx_fail(ctx, n, "no region contains lat %g lon %g", lat, lon);
        } else {
                memset(slot, 0, sizeof(*slot));
                slot->type = SPATE_V_NULL;
        }
        return spate_emit(n, rec, ctx);
}

static void geo_destroy(spate_node_t *n) {
        geo_region_t *g = n->ctx;
        spate_geo_index_destroy(g->idx);
        free(g->names);
        spate_expr_destroy(g->lat);
        spate_expr_destroy(g->lon);
}

const spate_op_def_t spate_op_geo_region = {
        .name = "geo_region",
        .role = SPATE_ROLE_OPERATOR,
        .doc = "Adds the name of the GeoJSON region containing (lat, lon); a spatial grid index makes lookups ~10 ns.",
        .props = geo_props,
        .binds = geo_binds,
        .ctx_size = sizeof(geo_region_t),
        .init = geo_init,
        .process = geo_process,
        .destroy = geo_destroy,
};
