/* shape.h - the structure of the records flowing between two nodes: which
 * fields exist, and, for input decoded from JSON/Avro, which fields the
 * topology actually references.
 *
 * A source's shape is *open*: it starts empty and grows as expressions
 * downstream compile paths into it (`minutely[*].precipitation` adds a field
 * `minutely` whose element shape gains `precipitation`). The decoder then
 * extracts exactly those paths and skips the rest of the input, which is why
 * the record path never builds a full JSON tree. A node that builds new
 * records (map, explode, window) outputs a *closed* shape with its own fields;
 * a field passed through unchanged points at the input's sub-shape.
 *
 * Shapes are created at load, before any record is read; field indexes are
 * append-only so compiled accessors stay valid while later nodes add fields. */
#ifndef SPATE_SHAPE_H
#define SPATE_SHAPE_H

#include "value.h"

#include <stdint.h>
#include <string.h>

typedef struct spate_shape spate_shape_t;

/* Names live in the parent so one sub-shape can be shared under two names
 * (a map that renames a field passes the input's sub-shape through). */
typedef struct spate_shape_field {
        char *name;
        /* The name as a JSON object key, `"name":` (len + 3 bytes, not
         * NUL-terminated), for a name JSON holds as it is (printable ASCII,
         * no quote or backslash); else NULL. The writer puts it in one copy
         * instead of scanning the name for escapes in every record. */
        char *json_key;
        spate_shape_t *shape;
        uint32_t len;  /* a name of the topology's text; 32 bytes a field, indexed by a shift */
        int computed;  /* set by an operator, not decoded: written after raw text */
} spate_shape_field_t;

/* Slots of a shape's name index (a power of two). */
#define SPATE_SHAPE_SLOTS 64
/* A slot holding more than one field, or a field past index 253: searched linearly. */
#define SPATE_SHAPE_SLOT_MANY 0xff

struct spate_shape {
        int open;                     /* fields may be added by reference (decoded input) */
        int want_raw;                 /* keep the JSON text of the value (pass-through) */
        int type;                     /* static spate_vtype_t, SPATE_V_MISSING if unknown */
        spate_shape_field_t *fields;  /* object fields, in value item order */
        int nfields, cap;
        spate_shape_t *elem;          /* shape of array elements, when referenced */
        spate_shape_t *pool_next;
        /* Field names by spate_shape_slot(): 0 none, i + 1 field i alone, or
         * SPATE_SHAPE_SLOT_MANY. The decoder looks up every key of every
         * record here, so a key no field has costs one load. */
        unsigned char slots[SPATE_SHAPE_SLOTS];
};

/* The index slot of a name: its length, first and last bytes tell the few
 * names of one shape apart (lat/lon, ts/temp) without reading the rest. */
static inline unsigned spate_shape_slot(const char *name, size_t len) {
        if (!len)
                return 0;
        return ((unsigned)len * 7u + (unsigned char)name[0] * 3u + (unsigned char)name[len - 1]) &
               (SPATE_SHAPE_SLOTS - 1);
}

/* Whether a[0..n) equals b[0..n), in loads of 8, 4 or 1 bytes that stay
 * inside both (the last ones overlap the first): the decoder compares a key
 * of every record with a field name this way, and a call to memcmp(), whose
 * branches on the length mispredict as the keys of a record alternate, cost
 * ~8 % of the processing thread. */
static inline int spate_shape_name_eq(const char *a, const char *b, size_t n) {
        uint64_t x, y;
        uint32_t u, v;
        if (n >= 8) {
                for (size_t i = 0; i + 8 < n; i += 8) {
                        memcpy(&x, a + i, 8);
                        memcpy(&y, b + i, 8);
                        if (x != y)
                                return 0;
                }
                memcpy(&x, a + n - 8, 8);
                memcpy(&y, b + n - 8, 8);
                return x == y;
        }
        if (n >= 4) {
                memcpy(&u, a, 4);
                memcpy(&v, b, 4);
                if (u != v)
                        return 0;
                memcpy(&u, a + n - 4, 4);
                memcpy(&v, b + n - 4, 4);
                return u == v;
        }
        return !n || (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]);
}

/* Index of field `name` (the first of that name), or -1. */
static inline int spate_shape_find(const spate_shape_t *s, const char *name, size_t len) {
        unsigned e = s->slots[spate_shape_slot(name, len)];
        if (!e)
                return -1;
        if (e != SPATE_SHAPE_SLOT_MANY) {
                const spate_shape_field_t *f = &s->fields[e - 1];
                return f->len == len && spate_shape_name_eq(f->name, name, len) ? (int)e - 1 : -1;
        }
        for (int i = 0; i < s->nfields; i++)
                if (s->fields[i].len == len && !memcmp(s->fields[i].name, name, len))
                        return i;
        return -1;
}

/* Owns every shape of one topology: shapes are shared between nodes, so
 * they are freed together. */
typedef struct spate_shape_pool {
        spate_shape_t *all;
} spate_shape_pool_t;

spate_shape_t *spate_shape_new(spate_shape_pool_t *pool, int open);
/* Index of field `name`, or -1. With create (and an open shape) the field is
 * appended. */
int spate_shape_field(spate_shape_pool_t *pool, spate_shape_t *s, const char *name,
                      size_t len, int create);
/* Appends a field to a closed shape being built; `sub` is the field's shape
 * when it is passed through from another shape, else a new leaf of static
 * `type` is made. Returns the field's index. */
int spate_shape_add(spate_shape_pool_t *pool, spate_shape_t *s, const char *name,
                    spate_shape_t *sub, int type);
/* Adds (or reuses) field `name` that an operator fills in place, on an open
 * or closed shape alike; returns its index. */
int spate_shape_add_computed(spate_shape_pool_t *pool, spate_shape_t *s, const char *name,
                             int type);
/* Element shape of an array field, created if the shape is open. */
spate_shape_t *spate_shape_elem(spate_shape_pool_t *pool, spate_shape_t *s);
/* Marks a shape and, for closed objects, its fields as wanting their JSON
 * text, so a sink can write values it never looked into. */
void spate_shape_want_raw(spate_shape_t *s);
/* Writes "a, b, c" (the known field names) into buf for error hints. */
void spate_shape_names(const spate_shape_t *s, char *buf, size_t size);
void spate_shape_pool_destroy(spate_shape_pool_t *pool);

#endif
