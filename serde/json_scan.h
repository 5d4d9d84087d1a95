/* json_scan.h - selective JSON decoding: extracts the fields a shape names
 * and validates (but does not build) everything else. */
#ifndef SPATE_JSON_SCAN_H
#define SPATE_JSON_SCAN_H

#include "../util/arena.h"
#include "../engine/shape.h"

#include <stddef.h>
#include <stdint.h>

/* Decodes buf[0..len) into *out following `shape`. Strings without escapes
 * point into buf, so buf must outlive *out; everything else is allocated in
 * `a`. Returns 0, or -1 with a message naming the byte offset of the error
 * (malformed JSON, or a root that is not an object while fields are wanted). */
int spate_json_decode(const spate_shape_t *shape, const char *buf, size_t len,
                      spate_arena_t *a, spate_value_t *out, char *errstr,
                      size_t errstr_size);

/* What a decoder of one stream learned from its earlier records: the field
 * each key of the root object was, by position. A record whose keys come in
 * the same order then matches each of those by one comparison of its bytes
 * with the field's name (or the key's, for a key of no field), with no scan
 * of the key and no lookup. Zeroed before
 * first use; used by one thread at a time. */
#define SPATE_JSON_HINTS 16
typedef struct spate_json_hints {
        const spate_shape_t *shape;          /* the shape whose fields are numbered */
        uint16_t field[SPATE_JSON_HINTS];    /* 1 + the field at that key position; 0: a key of
                                              * no field (skipped when its span matches) */
        /* For a hinted name of up to 15 bytes, its bytes and the closing
         * quote (span of them) as words, compared with the key in two
         * loads: head, the first 8 (masked when span < 8), and tail, the
         * last 8 (span >= 8). span 0: compared byte-wise. */
        uint8_t span[SPATE_JSON_HINTS];
        uint64_t head[SPATE_JSON_HINTS], mask[SPATE_JSON_HINTS], tail[SPATE_JSON_HINTS];
} spate_json_hints_t;

/* spate_json_decode() that reads and updates hints (NULL: none). The
 * values and errors are the same with and without. */
int spate_json_decode_hinted(const spate_shape_t *shape, spate_json_hints_t *hints, const char *buf,
                             size_t len, spate_arena_t *a, spate_value_t *out, char *errstr,
                             size_t errstr_size);

/* Length of the well-formed UTF-8 sequence at s[0] (s holds n >= 1 bytes):
 * 1-4, or 0 if it is malformed, overlong, a surrogate or above U+10FFFF. */
size_t spate_utf8_len(const unsigned char *s, size_t n);

/* How many bytes at the start of s[0..n) a JSON string holds as they are
 * (printable ASCII but the quote and the backslash), 8 or 16 a test. */
size_t spate_json_plain_len(const char *s, size_t n);

/* Parses a JSON number at p (length n) exactly like strtod would; returns
 * the number of bytes used, 0 if p is not a number. */
size_t spate_json_number(const char *p, size_t n, double *out);

#endif
