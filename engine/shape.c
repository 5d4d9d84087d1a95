/* shape.c - record shapes: the referenced structure of records between nodes. */
#include "shape.h"
#include "../util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

spate_shape_t *spate_shape_new(spate_shape_pool_t *pool, int open) {
        spate_shape_t *s = spate_xcalloc(1, sizeof(*s));
        s->open = open;
        s->pool_next = pool->all;
        pool->all = s;
        return s;
}

/* `"name":` when every byte of the name is written as it is, else NULL. */
static char *json_key(const char *name, size_t len) {
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)name[i] < 0x20 || (unsigned char)name[i] > 0x7e || name[i] == '"' || name[i] == '\\')
                        return NULL;
        char *k = spate_xmalloc(len + 3);
        k[0] = '"';
        memcpy(k + 1, name, len);
        memcpy(k + 1 + len, "\":", 2);
        return k;
}

static int append(spate_shape_t *s, const char *name, size_t len, spate_shape_t *f) {
        if (s->nfields == s->cap) {
                s->cap = s->cap ? s->cap * 2 : 4;
                s->fields = spate_xrealloc(s->fields, sizeof(*s->fields) * (size_t)s->cap);
        }
        spate_shape_field_t *sf = &s->fields[s->nfields];
        sf->name = spate_xstrndup(name, len);
        sf->len = (uint32_t)len;
        sf->json_key = json_key(name, len);
        sf->shape = f;
        sf->computed = 0;  /* realloc'd memory: never read a stale flag */
        unsigned char *slot = &s->slots[spate_shape_slot(name, len)];
        *slot = *slot || s->nfields >= SPATE_SHAPE_SLOT_MANY - 1 ? SPATE_SHAPE_SLOT_MANY
                                                                 : (unsigned char)(s->nfields + 1);
        return s->nfields++;
}

int spate_shape_field(spate_shape_pool_t *pool, spate_shape_t *s, const char *name,
                      size_t len, int create) {
        int i = spate_shape_find(s, name, len);
        if (i >= 0)
                return i;
        if (!create || !s->open)
                return -1;
        return append(s, name, len, spate_shape_new(pool, 1));
}

int spate_shape_add(spate_shape_pool_t *pool, spate_shape_t *s, const char *name,
                    spate_shape_t *sub, int type) {
        if (!sub) {
                sub = spate_shape_new(pool, 0);
                sub->type = type;
        }
        return append(s, name, strlen(name), sub);
}

int spate_shape_add_computed(spate_shape_pool_t *pool, spate_shape_t *s, const char *name,
                             int type) {
        int i = spate_shape_field(pool, s, name, strlen(name), 0);
        if (i < 0)
                i = spate_shape_add(pool, s, name, NULL, type);
        s->fields[i].computed = 1;
        return i;
}

spate_shape_t *spate_shape_elem(spate_shape_pool_t *pool, spate_shape_t *s) {
        if (!s->elem && s->open)
                s->elem = spate_shape_new(pool, 1);
        return s->elem;
}

void spate_shape_want_raw(spate_shape_t *s) {
        if (s->open) {
                s->want_raw = 1;
                return;
        }
        for (int i = 0; i < s->nfields; i++)
                spate_shape_want_raw(s->fields[i].shape);
        if (s->elem)
                spate_shape_want_raw(s->elem);
}

void spate_shape_names(const spate_shape_t *s, char *buf, size_t size) {
        size_t off = 0;
        buf[0] = '\0';
        for (int i = 0; i < s->nfields && off < size; i++)
                off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? ", " : "",
                                        s->fields[i].name);
}

void spate_shape_pool_destroy(spate_shape_pool_t *pool) {
        spate_shape_t *s = pool->all;
        while (s) {
                spate_shape_t *next = s->pool_next;
                for (int i = 0; i < s->nfields; i++) {
                        free(s->fields[i].name);
                        free(s->fields[i].json_key);
                }
                free(s->fields);
                free(s);
                s = next;
        }
        pool->all = NULL;
}
