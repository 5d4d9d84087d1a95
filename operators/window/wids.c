/* wids.c - one window's contributions by id (see wids.h). */
#include "wids.h"
#include "../../util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One allocation: the header, nvals numbers, nvals type bytes, the id. */
struct spate_wid {
        struct spate_wid *next;
        uint32_t len;
        double num[];
};

static uint8_t *types_of(const spate_wids_t *w, const spate_wid_t *c) {
        return (uint8_t *)(c->num + w->nvals);
}

static const char *id_of(const spate_wids_t *w, const spate_wid_t *c) {
        return (const char *)(types_of(w, c) + w->nvals);
}

spate_wids_t *spate_wids_new(int nvals) {
        spate_wids_t *w = calloc(1, sizeof(*w));
        if (!w)
                return NULL;
        w->nvals = nvals;
        w->cap = 2;   /* grows by doubling; many windows hold few readings */
        if (!(w->tab = calloc(w->cap, sizeof(*w->tab)))) {
                free(w);
                return NULL;
        }
        return w;
}

void spate_wids_free(spate_wids_t *w) {
        if (!w)
                return;
        for (size_t b = 0; b < w->cap; b++)
                for (spate_wid_t *c = w->tab[b], *next; c; c = next) {
                        next = c->next;
                        free(c);
                }
        free(w->tab);
        free(w);
}

spate_wid_t *spate_wids_find(const spate_wids_t *w, const char *id, size_t len) {
        for (spate_wid_t *c = w->tab[spate_hash(id, len) & (w->cap - 1)]; c; c = c->next)
                if (c->len == len && !memcmp(id_of(w, c), id, len))
                        return c;
        return NULL;
}

static int grow(spate_wids_t *w) {
        size_t cap = w->cap * 2;
        spate_wid_t **tab = calloc(cap, sizeof(*tab));
        if (!tab)
                return -1;
        for (size_t b = 0; b < w->cap; b++)
                for (spate_wid_t *c = w->tab[b], *next; c; c = next) {
                        size_t h = spate_hash(id_of(w, c), c->len) & (cap - 1);
                        next = c->next;
                        c->next = tab[h];
                        tab[h] = c;
                }
        free(w->tab);
        w->tab = tab;
        w->cap = cap;
        return 0;
}

void spate_wid_set(const spate_wids_t *w, spate_wid_t *c, const spate_val_t *vals) {
        uint8_t *types = types_of(w, c);
        for (int i = 0; i < w->nvals; i++) {
                types[i] = (uint8_t)vals[i].type;
                c->num[i] = vals[i].type == SPATE_VAL_BOOL ? (vals[i].b != 0)
                          : vals[i].type == SPATE_VAL_NUM ? vals[i].num : 0;
        }
}

void spate_wid_get(const spate_wids_t *w, const spate_wid_t *c, int i, spate_val_t *out) {
        memset(out, 0, sizeof(*out));
        out->type = (spate_val_type_t)types_of(w, c)[i];
        out->num = c->num[i];
        out->b = out->type == SPATE_VAL_BOOL && c->num[i] != 0;
        out->str = "";
}

spate_wid_t *spate_wids_add(spate_wids_t *w, const char *id, size_t len, const spate_val_t *vals) {
        spate_wid_t *c;
        if (w->n >= w->cap && grow(w))
                return NULL;
        if (len > UINT32_MAX ||
            !(c = malloc(sizeof(*c) + (size_t)w->nvals * (sizeof(double) + 1) + len)))
                return NULL;
        c->len = (uint32_t)len;
        memcpy((char *)id_of(w, c), id, len);
        spate_wid_set(w, c, vals);
        size_t h = spate_hash(id, len) & (w->cap - 1);
        c->next = w->tab[h];
        w->tab[h] = c;
        w->n++;
        return c;
}

static void put_le(spate_buf_t *b, uint64_t v, int n) {
        unsigned char x[8];
        for (int i = 0; i < n; i++, v >>= 8)
                x[i] = (unsigned char)v;
        spate_buf_put(b, x, (size_t)n);
}

void spate_wids_encode(const spate_wids_t *w, spate_buf_t *out) {
        put_le(out, w->n, 4);
        for (size_t b = 0; b < w->cap; b++)
                for (const spate_wid_t *c = w->tab[b]; c; c = c->next) {
                        put_le(out, c->len, 4);
                        spate_buf_put(out, id_of(w, c), c->len);
                        for (int i = 0; i < w->nvals; i++) {
                                uint64_t bits;
                                memcpy(&bits, &c->num[i], 8);
                                spate_buf_putc(out, (char)types_of(w, c)[i]);
                                put_le(out, bits, 8);
                        }
                }
}

static int get_le(const unsigned char **p, const unsigned char *end, int n, uint64_t *v) {
        if (end - *p < n)
                return -1;
        *v = 0;
        for (int i = n - 1; i >= 0; i--)
                *v = *v << 8 | (*p)[i];
        *p += n;
        return 0;
}

int spate_wids_decode(const void *buf, size_t len, int nvals, spate_wids_t **wp, size_t *used,
                      char *errstr, size_t errstr_size) {
        const unsigned char *p = buf, *end = p + len;
        spate_val_t vals[64];
        uint64_t n, l, bits, type;
        spate_wids_t *w = NULL;

        if (nvals > 64 || get_le(&p, end, 4, &n))
                goto bad;
        if (!(w = spate_wids_new(nvals)))
                goto oom;
        for (uint64_t k = 0; k < n; k++) {
                const char *id;
                if (get_le(&p, end, 4, &l) || (uint64_t)(end - p) < l)
                        goto bad;
                id = (const char *)p;
                p += l;
                for (int i = 0; i < nvals; i++) {
                        if (get_le(&p, end, 1, &type) || get_le(&p, end, 8, &bits) || type > SPATE_VAL_BOOL)
                                goto bad;
                        memset(&vals[i], 0, sizeof(vals[i]));
                        vals[i].type = (spate_val_type_t)type;
                        memcpy(&vals[i].num, &bits, 8);
                        vals[i].b = vals[i].num != 0;
                }
                if (spate_wids_find(w, id, l))
                        goto bad;
                if (!spate_wids_add(w, id, l, vals))
                        goto oom;
        }
        *wp = w;
        *used = (size_t)(p - (const unsigned char *)buf);
        return 0;
bad:
        spate_wids_free(w);
        snprintf(errstr, errstr_size, "window entry: malformed corrections' ids");
        return -1;
oom:
        spate_wids_free(w);
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
}
