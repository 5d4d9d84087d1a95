/* avro_check.c - walks an Avro binary body against its writer schema before
 * avro-c reads it. avro-c allocates what a body declares (a 2 GB string
 * length costs 2 GB) and leaks on some malformed bodies; a body that passes
 * here is complete and every length and count fits in the bytes that are
 * left, so avro-c never takes an error path and never allocates more than
 * the message's size allows. */
#include "avro_check.h"

#include <stdio.h>

#define MAX_DEPTH 64

typedef struct walk {
        const unsigned char *p, *end;
        size_t items;          /* array and map items still allowed */
        const char *err;
} walk_t;

static int bad(walk_t *w, const char *msg) {
        if (!w->err)
                w->err = msg;
        return -1;
}

static size_t left(const walk_t *w) {
        return (size_t)(w->end - w->p);
}

/* A zig-zag varint of at most 10 bytes. */
static int get_long(walk_t *w, int64_t *out) {
        uint64_t u = 0;
        for (int shift = 0; shift < 70; shift += 7) {
                if (w->p >= w->end)
                        return bad(w, "truncated");
                unsigned char b = *w->p++;
                u |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80)) {
                        *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
                        return 0;
                }
        }
        return bad(w, "a varint longer than 10 bytes");
}

static int skip(walk_t *w, int64_t n, const char *what) {
        if (n < 0 || (uint64_t)n > left(w))
                return bad(w, what);
        w->p += n;
        return 0;
}

static int value(walk_t *w, avro_schema_t s, int depth);

/* Arrays and maps: blocks of `count` items until a 0 count; a negative
 * count is followed by the block's byte size. Items of an empty type (null)
 * take no bytes, so the items of the whole body are bounded by its size:
 * the work stays linear in the message. */
static int blocks(walk_t *w, avro_schema_t items, int is_map, int depth) {
        for (;;) {
                int64_t count, size;
                if (get_long(w, &count))
                        return -1;
                if (!count)
                        return 0;
                if (count < 0) {
                        if (count == INT64_MIN || get_long(w, &size) || size < 0)
                                return bad(w, "bad block size");
                        count = -count;
                }
                if ((uint64_t)count > w->items)
                        return bad(w, "more array or map items than the message has bytes");
                w->items -= (size_t)count;
                for (int64_t i = 0; i < count; i++) {
                        int64_t klen;
                        if (is_map && (get_long(w, &klen) || skip(w, klen, "a map key longer than the message")))
                                return -1;
                        if (value(w, items, depth + 1))
                                return -1;
                }
        }
}

static int record(walk_t *w, avro_schema_t s, int depth) {
        size_t n = avro_schema_record_size(s);
        for (size_t i = 0; i < n; i++)
                if (value(w, avro_schema_record_field_get_by_index(s, (int)i), depth + 1))
                        return -1;
        return 0;
}

static int value(walk_t *w, avro_schema_t s, int depth) {
        int64_t n;
        if (depth > MAX_DEPTH)
                return bad(w, "nested too deep");
        switch (avro_typeof(s)) {
        case AVRO_NULL: return 0;
        case AVRO_BOOLEAN:
                if (!left(w) || *w->p > 1)
                        return bad(w, "bad boolean");
                w->p++;
                return 0;
        case AVRO_INT32:
        case AVRO_INT64: return get_long(w, &n);
        case AVRO_FLOAT: return skip(w, 4, "truncated");
        case AVRO_DOUBLE: return skip(w, 8, "truncated");
        case AVRO_STRING:
        case AVRO_BYTES:
                return get_long(w, &n) ? -1 : skip(w, n, "a string length larger than the message");
        case AVRO_FIXED: return skip(w, avro_schema_fixed_size(s), "truncated");
        case AVRO_ENUM:
                if (get_long(w, &n))
                        return -1;
                return n < 0 || n >= avro_schema_enum_number_of_symbols(s) ? bad(w, "bad enum index") : 0;
        case AVRO_UNION:
                if (get_long(w, &n))
                        return -1;
                if (n < 0 || (size_t)n >= avro_schema_union_size(s))
                        return bad(w, "bad union branch");
                return value(w, avro_schema_union_branch(s, (int)n), depth + 1);
        case AVRO_RECORD: return record(w, s, depth);
        case AVRO_ARRAY: return blocks(w, avro_schema_array_items(s), 0, depth);
        case AVRO_MAP: return blocks(w, avro_schema_map_values(s), 1, depth);
        case AVRO_LINK: return value(w, avro_schema_link_target(s), depth + 1);
        }
        return bad(w, "unknown schema type");
}

int spate_avro_check(avro_schema_t schema, const void *body, size_t len, char *errstr,
                     size_t errstr_size) {
        walk_t w = { body, (const unsigned char *)body + len, len, NULL };
        if (value(&w, schema, 0) == 0)
                return 0;
        snprintf(errstr, errstr_size, "malformed Avro body at byte %zu of %zu: %s",
                 (size_t)(w.p - (const unsigned char *)body), len, w.err);
        return -1;
}
