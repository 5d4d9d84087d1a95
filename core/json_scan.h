/* json_scan.h - selective JSON decoding: extracts the fields a shape names
 * and validates (but does not build) everything else. */
#ifndef SPATE_JSON_SCAN_H
#define SPATE_JSON_SCAN_H

#include "arena.h"
#include "shape.h"

#include <stddef.h>

/* Decodes buf[0..len) into *out following `shape`. Strings without escapes
 * point into buf, so buf must outlive *out; everything else is allocated in
 * `a`. Returns 0, or -1 with a message naming the byte offset of the error
 * (malformed JSON, or a root that is not an object while fields are wanted). */
int spate_json_decode(const spate_shape_t *shape, const char *buf, size_t len,
                      spate_arena_t *a, spate_value_t *out, char *errstr,
                      size_t errstr_size);

/* Parses a JSON number at p (length n) exactly like strtod would; returns
 * the number of bytes used, 0 if p is not a number. */
size_t spate_json_number(const char *p, size_t n, double *out);

#endif
