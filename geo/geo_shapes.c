/* geo_shapes.c - builds the flat in-memory region/polygon/ring arrays of geo_shapes.h. */
#include "geo_shapes.h"

#include <stdlib.h>
#include <string.h>

/* Grows *arr (of elem-sized items) so it holds at least need items. */
static int grow(void **arr, size_t *cap, size_t need, size_t elem) {
        size_t ncap = *cap ? *cap : 16;
        void *p;

        if (need <= *cap)
                return 0;
        while (ncap < need)
                ncap *= 2;
        p = realloc(*arr, ncap * elem);
        if (!p)
                return -1;
        *arr = p;
        *cap = ncap;
        return 0;
}

spate_geo_shapes_t *spate_geo_shapes_new(void) {
        return calloc(1, sizeof(spate_geo_shapes_t));
}

void spate_geo_shapes_destroy(spate_geo_shapes_t *s) {
        if (!s)
                return;
        for (size_t i = 0; i < s->n_regions; i++)
                free(s->regions[i].name);
        free(s->regions);
        free(s->polys);
        free(s->rings);
        free(s->xy);
        free(s);
}

int spate_geo_shapes_add_region(spate_geo_shapes_t *s, const char *name) {
        spate_geo_region_t *r;
        char *copy;

        if (grow((void **)&s->regions, &s->cap_regions, s->n_regions + 1, sizeof(*r)))
                return -1;
        if (!(copy = strdup(name)))
                return -1;
        r = &s->regions[s->n_regions++];
        r->name = copy;
        r->poly_first = s->n_polys;
        r->n_polys = 0;
        return 0;
}

int spate_geo_shapes_add_polygon(spate_geo_shapes_t *s) {
        spate_geo_polygon_t *p;

        if (!s->n_regions)
                return -1;
        if (grow((void **)&s->polys, &s->cap_polys, s->n_polys + 1, sizeof(*p)))
                return -1;
        p = &s->polys[s->n_polys++];
        p->region = s->n_regions - 1;
        p->ring_first = s->n_rings;
        p->n_rings = 0;
        s->regions[s->n_regions - 1].n_polys++;
        return 0;
}

int spate_geo_shapes_add_ring(spate_geo_shapes_t *s, const double *lonlat, size_t n_pts) {
        spate_geo_ring_t *r;

        if (!s->n_polys)
                return -1;
        if (n_pts > 1 && lonlat[0] == lonlat[2 * n_pts - 2] && lonlat[1] == lonlat[2 * n_pts - 1])
                n_pts--;
        if (grow((void **)&s->rings, &s->cap_rings, s->n_rings + 1, sizeof(*r)) ||
            grow((void **)&s->xy, &s->cap_xy, 2 * (s->n_pts + n_pts), sizeof(double)))
                return -1;
        memcpy(s->xy + 2 * s->n_pts, lonlat, 2 * n_pts * sizeof(double));
        r = &s->rings[s->n_rings++];
        r->pt_first = s->n_pts;
        r->n_pts = n_pts;
        s->n_pts += n_pts;
        s->polys[s->n_polys - 1].n_rings++;
        return 0;
}
