/* value.h - the in-memory value of a record field: what expressions read and sinks write.
 *
 * Values are decoded lazily by shape (see shape.h): an object value holds one
 * item per field its shape names, in shape order, so a field access is an array
 * index, never a name lookup. Values and the strings they point to live in a
 * per-record arena or in the input buffer; they are never freed one by one. */
#ifndef SPATE_VALUE_H
#define SPATE_VALUE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
        SPATE_V_MISSING = 0, /* the field is absent: distinct from JSON null */
        SPATE_V_NULL,
        SPATE_V_BOOL,
        SPATE_V_NUM,
        SPATE_V_STR,
        SPATE_V_ARR,
        SPATE_V_OBJ
} spate_vtype_t;

typedef struct spate_value {
        uint8_t type;  /* spate_vtype_t */
        uint32_t n;    /* STR: byte length; ARR/OBJ: number of items */
        union {
                double num;
                int b;
                const char *s; /* not NUL-terminated */
                struct spate_value *items;
        } u;
        /* JSON text of the value, kept when its shape asks for pass-through. */
        const char *raw;
        uint32_t raw_len;
} spate_value_t;

const char *spate_vtype_name(int type);

static inline spate_value_t spate_value_num(double d) {
        spate_value_t v = { .type = SPATE_V_NUM, .u.num = d };
        return v;
}

static inline spate_value_t spate_value_str(const char *s, uint32_t n) {
        spate_value_t v = { .type = SPATE_V_STR, .n = n, .u.s = s };
        return v;
}

static inline spate_value_t spate_value_bool(int b) {
        spate_value_t v = { .type = SPATE_V_BOOL, .u.b = !!b };
        return v;
}

/* Truthiness used by filter and and/or/not: false, null, missing, 0 and "" are false. */
int spate_value_truthy(const spate_value_t *v);

struct spate_arena;
/* Renders a scalar as key bytes: strings as they are, numbers in shortest
 * form, bools as true/false; the text lives in the arena or in v. Returns -1
 * for other types. */
int spate_value_to_key(const spate_value_t *v, struct spate_arena *a, const char **key,
                       size_t *len);

#endif
