/* tail.h - `spate tail`'s state, shared by the consumer loop (tail.c) and
 * the views (tail_view.c: sorting, JSON lines, the terminal table). */
#ifndef SPATE_TAIL_H
#define SPATE_TAIL_H

#include "tail_map.h"
#include "../util/buf.h"

#include <stdint.h>

#define TAIL_MAX_FIELDS 64

typedef struct tail {
        /* options */
        const char *topic;
        char *fields[TAIL_MAX_FIELDS];   /* --fields, or discovered from the values */
        int nfields, fields_given;
        const char *sort;                /* --sort FIELD, NULL: by key */
        int desc;
        long top;                        /* --top, -1: all (JSON) / what fits (table) */
        /* state */
        tail_map_t map;
        long records, tombstones, null_keys;
        long scanned;                    /* values looked at for field discovery */
        char status[256];                /* the client's last problem, shown in the header */
} tail_t;

/* Classifies a new value of e, caches its --sort field and, without
 * --fields, learns field names from the first values. */
void tail_analyze(tail_t *t, tail_entry_t *e);
/* Entries in display order, limited to `limit` (< 0: all); *n gets the
 * count. The caller frees the array. */
tail_entry_t **tail_sorted(tail_t *t, long limit, size_t *n);
/* Appends {"key": ..., "value": ...}\n; e NULL writes a tombstone (value null). */
void tail_json_line(spate_buf_t *b, const char *key, size_t klen, const tail_entry_t *e);
/* Appends one frame of the table, `width` x `height` cells. `live` adds the
 * ANSI cursor-home and clear-to-end sequences so the frame repaints in place. */
void tail_table(tail_t *t, spate_buf_t *b, int width, int height, int live);
void tail_free(tail_t *t);

#endif
