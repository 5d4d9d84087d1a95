/* json_scan.h - selective JSON decoding: extracts the fields a shape names
 * and validates (but does not build) everything else. */
#ifndef SPATE_JSON_SCAN_H
#define SPATE_JSON_SCAN_H

#include "../util/arena.h"
#include "../engine/shape.h"

#include <stddef.h>

/* Decodes buf[0..len) into *out following `shape`. Strings without escapes
 * point into buf, so buf must outlive *out; everything else is allocated in
 * `a`. Returns 0, or -1 with a message naming the byte offset of the error
 * (malformed JSON, or a root that is not an object while fields are wanted). */
int spate_json_decode(const spate_shape_t *shape, const char *buf, size_t len,
                      spate_arena_t *a, spate_value_t *out, char *errstr,
                      size_t errstr_size);

/* Length of the well-formed UTF-8 sequence at s[0] (s holds n >= 1 bytes):
 * 1-4, or 0 if it is malformed, overlong, a surrogate or above U+10FFFF. */
size_t spate_utf8_len(const unsigned char *s, size_t n);

/* How many bytes at the start of s[0..n) a JSON string holds as they are
 * (printable ASCII but the quote and the backslash), 8 a test. */
size_t spate_json_plain_len(const char *s, size_t n);

/* Parses a JSON number at p (length n) exactly like strtod would; returns
 * the number of bytes used, 0 if p is not a number. */
size_t spate_json_number(const char *p, size_t n, double *out);

#endif
