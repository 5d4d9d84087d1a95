/* wids.h - one window's contributions by id, for corrections (a window's
 * dedupe_by, winstate.h): for each id, the values its latest version put into
 * the window's aggregates, so that a newer version can take them back out
 * (spate_agg_retract) before it goes in. Kept with the window: encoded in its
 * entry (winstate_codec.c), so the changelog snapshot that holds a window's
 * aggregates holds the contributions they are made of.
 *
 * A value is kept as its type and number (a bool as 0/1, a string without its
 * bytes): all the retractable functions need (count counts every record,
 * count_if wants bool true, sum/mean/stddev finite numbers). */
#ifndef SPATE_WIDS_H
#define SPATE_WIDS_H

#include "agg.h"
#include "../../util/buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct spate_wid spate_wid_t;

typedef struct spate_wids {
        struct spate_wids *next;    /* the task's table (winstate.c) */
        const void *owner;          /* the window's group there */
        int64_t start;              /* and its start */
        int nvals;                  /* values per id: one per aggregate */
        size_t n, cap;
        spate_wid_t **tab;          /* chained by hash of the id */
} spate_wids_t;

/* NULL when out of memory. */
spate_wids_t *spate_wids_new(int nvals);
void spate_wids_free(spate_wids_t *w);

/* The id's contribution, or NULL. */
spate_wid_t *spate_wids_find(const spate_wids_t *w, const char *id, size_t len);
/* Adds id (not there yet) with values vals (nvals of them); NULL when out of memory. */
spate_wid_t *spate_wids_add(spate_wids_t *w, const char *id, size_t len, const spate_val_t *vals);
/* Replaces its values. */
void spate_wid_set(const spate_wids_t *w, spate_wid_t *c, const spate_val_t *vals);
/* Its value i (strings come back empty). */
void spate_wid_get(const spate_wids_t *w, const spate_wid_t *c, int i, spate_val_t *out);

/* Byte form: count u32, then per id: length u32, bytes, and per value a type
 * byte and a little-endian f64. Ids in table order (a changelog value needs
 * no canonical order: it is read back, never compared). */
void spate_wids_encode(const spate_wids_t *w, spate_buf_t *out);
/* Decodes from p (at most len bytes) into a new table; *used = bytes read.
 * 0, or -1 with errstr (malformed, out of memory). */
int spate_wids_decode(const void *p, size_t len, int nvals, spate_wids_t **wp, size_t *used,
                      char *errstr, size_t errstr_size);

#endif
