/* agg.h - mergeable aggregate states (count, sum, mean, min, max, first, last,
 * count_distinct) and their compact byte encoding for RocksDB and changelogs.
 *
 * Rules:
 * - count() counts records (every update call, whatever the value).
 * - Every other function ignores null values; the numeric ones (sum, mean)
 *   also ignore strings, bools and non-finite numbers. A function that has
 *   seen no usable value yields null.
 * - sum uses Neumaier compensated summation, so its result practically does not
 *   depend on the order of the inputs (and merge order); mean = sum / n.
 * - min/max order values by type first (bool < number < string), then by
 *   value (false < true; numbers numerically; strings bytewise, shorter first
 *   on a tie of the common prefix). NaN is ignored.
 * - first/last pick the value with the smallest / largest (event time,
 *   partition, offset), so the result does not depend on arrival order.
 * - count_distinct keeps the set of 64-bit hashes of the type-tagged values
 *   (number 1 and string "1" differ; -0.0 equals 0.0). With n distinct values
 *   the chance of any collision is about n^2 / 2^65: ~3e-8 at one million.
 *   Memory and encoding cost 8 bytes per distinct value.
 * - merge(a, b) has the state of the union of a's and b's inputs (sessions).
 */
#ifndef SPATE_AGG_H
#define SPATE_AGG_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
        SPATE_VAL_NULL,
        SPATE_VAL_NUM,
        SPATE_VAL_STR,
        SPATE_VAL_BOOL
} spate_val_type_t;

/* A value handed to or returned by an aggregate; str is never owned by it. */
typedef struct spate_val {
        spate_val_type_t type;
        double num;
        int b;
        const char *str;
        size_t len;
} spate_val_t;

/* Where a record came from: decides first/last ties deterministically. */
typedef struct spate_agg_origin {
        int64_t t;           /* event time, ms */
        int32_t partition;
        int64_t offset;
} spate_agg_origin_t;

typedef enum {
        SPATE_AGG_COUNT,
        SPATE_AGG_SUM,
        SPATE_AGG_MEAN,
        SPATE_AGG_MIN,
        SPATE_AGG_MAX,
        SPATE_AGG_FIRST,
        SPATE_AGG_LAST,
        SPATE_AGG_COUNT_DISTINCT
} spate_agg_fn_t;

/* A string kept by min, max, first or last: its length lives with its bytes
 * (followed by a NUL) so that the state needs no room for it. */
typedef struct spate_agg_str {
        size_t len;
        char s[];
} spate_agg_str_t;

/* One aggregate's state. Public so arrays of it can be allocated in one
 * piece; read and change it only through the functions below.
 * A window keeps one per aggregate per live window, so it is a tagged union
 * as large as its largest member (32 bytes), not the sum of all of them: the
 * small fields of min..last and count_distinct sit in the bytes after fn that
 * would otherwise be padding. */
typedef struct spate_agg_state {
        uint8_t fn;                 /* spate_agg_fn_t */
        uint8_t has;                /* min, max, first, last: a value is kept */
        uint8_t type;               /* its spate_val_type_t */
        uint8_t has_zero;           /* count_distinct: hash 0 seen (not in slots) */
        int32_t partition;          /* first, last: origin partition of the value */
        union {
                uint64_t count;                       /* count */
                struct {                              /* sum, mean */
                        double sum, comp;             /* Neumaier sum and compensation */
                        uint64_t n;                   /* values summed */
                } sum;
                struct {                              /* min, max, first, last */
                        union {                       /* by type */
                                double num;
                                int b;
                                spate_agg_str_t *str; /* owned (malloc'd) */
                        } v;
                        int64_t t, offset;            /* first, last: origin of v */
                } kept;
                struct {                              /* count_distinct */
                        uint64_t *slots;              /* open addressing, 0 = empty */
                        size_t cap;                   /* slots (power of two) */
                        uint64_t n;                   /* distinct hashes */
                } set;
        } u;
} spate_agg_state_t;

/* "count", "sum", ... <-> function; parse returns 0 / -1. */
int spate_agg_fn_parse(const char *name, spate_agg_fn_t *fnp);
const char *spate_agg_fn_name(spate_agg_fn_t fn);

/* An empty state of fn. Allocates nothing. */
void spate_agg_init(spate_agg_state_t *s, spate_agg_fn_t fn);
/* Releases what the state owns; s must be init'ed again before reuse. */
void spate_agg_free(spate_agg_state_t *s);

/* Applies one record: v is the argument's value (ignored by count, may be NULL
 * there), o its origin (used by first/last, may be NULL for the others).
 * Returns 0 applied, 1 ignored (null or unusable type), -1 out of memory. */
int spate_agg_update(spate_agg_state_t *s, const spate_val_t *v, const spate_agg_origin_t *o);

/* dst becomes the aggregate of both inputs; src is unchanged.
 * Returns 0, or -1 when the functions differ or memory runs out. */
int spate_agg_merge(spate_agg_state_t *dst, const spate_agg_state_t *src);

/* The current result; out->str is borrowed from s (valid until s changes). */
void spate_agg_result(const spate_agg_state_t *s, spate_val_t *out);

/* 64-bit hash of a type-tagged value (count_distinct's set members). */
uint64_t spate_agg_value_hash(const spate_val_t *v);

/* Window states: one state per aggregate of a window node. */
/* A malloc'd array of n empty states of fns[i]; free with spate_agg_states_free. */
spate_agg_state_t *spate_agg_states_new(const spate_agg_fn_t *fns, int n);
void spate_agg_states_free(spate_agg_state_t *states, int n);
/* Merges src[i] into dst[i] for all i; 0 or -1. */
int spate_agg_states_merge(spate_agg_state_t *dst, const spate_agg_state_t *src, int n);

/* Encodes the n states into *bufp (malloc'd, caller free()s), *lenp bytes.
 * Equal states give equal bytes, whatever order their inputs came in. */
int spate_agg_state_encode(const spate_agg_state_t *states, int n, char **bufp,
                           size_t *lenp, char *errstr, size_t errstr_size);
/* Decodes bytes made by spate_agg_state_encode into a new array (*statesp, free
 * with spate_agg_states_free) of *np states. Rejects truncated or malformed
 * input with -1; the caller then treats the stored state as corrupt. */
int spate_agg_state_decode(const void *buf, size_t len, spate_agg_state_t **statesp,
                           int *np, char *errstr, size_t errstr_size);

#endif
