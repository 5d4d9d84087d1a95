/* tail_json.h - the little JSON `spate tail` needs: validate a value, walk
 * the top-level fields of an object as raw spans, unescape strings for
 * display, and write values back as single-line JSON.
 *
 * The record path uses serde/json_scan.c, which decodes only the fields a
 * shape names; tail does not know the field names in advance (it shows
 * whatever the values hold), so it walks raw text instead. */
#ifndef SPATE_TAIL_JSON_H
#define SPATE_TAIL_JSON_H

#include "../util/buf.h"

#include <stddef.h>

/* The kind of a JSON value, from its first byte. */
typedef enum {
        TJ_NONE = 0,    /* not (valid) JSON */
        TJ_OBJECT, TJ_ARRAY, TJ_STRING, TJ_NUMBER, TJ_BOOL, TJ_NULL
} tj_kind_t;

/* Kind of p[0..n) if it holds exactly one valid JSON value (surrounding
 * whitespace allowed), else TJ_NONE. */
tj_kind_t tj_classify(const char *p, size_t n);

/* Iterates the top-level fields of a *valid* JSON object (tj_classify said
 * TJ_OBJECT). Spans point into the buffer: `name` is the raw text between
 * the quotes (escapes not decoded), `val` the raw value text. */
typedef struct tj_iter {
        const char *p;
        size_t n, i;
} tj_iter_t;

void tj_iter_init(tj_iter_t *it, const char *p, size_t n);
/* Returns 1 with the next field, 0 at the end. */
int tj_iter_next(tj_iter_t *it, const char **name, size_t *nlen, const char **val, size_t *vlen);
/* Finds top-level field `name` of a valid object; returns 1 and its raw value span. */
int tj_get(const char *p, size_t n, const char *name, const char **val, size_t *vlen);
/* 1 if the raw (escaped) string content equals the plain string `s`. */
int tj_name_eq(const char *raw, size_t rlen, const char *s);
/* Kind of a raw value span taken from a valid document. */
tj_kind_t tj_kind_of(const char *val, size_t vlen);

/* Appends the decoded content of a raw JSON string (between the quotes). */
void tj_unescape(spate_buf_t *out, const char *raw, size_t rlen);
/* Appends s as a JSON string; invalid UTF-8 bytes become U+FFFD, so the
 * output is always valid JSON whatever the bytes. */
void tj_write_str(spate_buf_t *out, const char *s, size_t n);
/* Appends a valid JSON value without the whitespace outside strings (a
 * pretty-printed value would otherwise break a JSON-lines stream). */
void tj_write_compact(spate_buf_t *out, const char *p, size_t n);

#endif
