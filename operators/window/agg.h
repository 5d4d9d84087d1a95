/* agg.h - mergeable aggregate states (count, sum, mean, min, max, first, last,
 * count_distinct, and the data-quality ones: count_if, stddev, stuck,
 * staleness, completeness, spikes) and their compact byte encoding for
 * RocksDB and changelogs.
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
 * - count_if(e) counts the records whose e is true (bool true only).
 * - stddev(e) is the sample standard deviation (n - 1) of the numbers, null
 *   below two; Welford's update, merged with Chan et al.'s parallel formula,
 *   so it depends on the order of inputs only in the last bits.
 * - stuck(e) is true when at least two non-null values came and all are
 *   identical (compared by spate_agg_value_hash), false otherwise.
 * - staleness() keeps the latest event time; spate_agg_result_in gives the
 *   seconds from it to the window's end (null when there was no record).
 * - completeness(P) counts records; spate_agg_result_in divides by the
 *   readings expected in the window at one per P ms ((end - start) / P).
 * - spikes(e, L) counts jumps |x_i - x_(i-1)| > L between consecutive numbers
 *   in (event time, partition, offset) order. A number that arrives older than
 *   the newest one kept and newer than the oldest (out of order, inside the
 *   range already seen) is not compared with anything: it is counted in
 *   neither direction (its neighbours are unknown). Merging two states whose
 *   ranges do not overlap is exact; overlapping ranges add their counts.
 *   Records of one key in one partition, in order, are therefore exact.
 *   Its state is on the heap (the limit lives in it).
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
        SPATE_AGG_COUNT_DISTINCT,
        SPATE_AGG_COUNT_IF,
        SPATE_AGG_STDDEV,
        SPATE_AGG_STUCK,
        SPATE_AGG_STALENESS,
        SPATE_AGG_COMPLETENESS,
        SPATE_AGG_SPIKES
} spate_agg_fn_t;

#define SPATE_AGG_NFN ((int)SPATE_AGG_SPIKES + 1)

/* spikes: both ends of the range of numbers seen and the jumps inside it. */
typedef struct spate_agg_spikes {
        double limit;
        double first, last;              /* values at the two ends */
        spate_agg_origin_t lo, hi;       /* their origins */
        uint64_t n;                      /* numbers seen */
        uint64_t jumps;
} spate_agg_spikes_t;

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
                struct {                              /* stddev (Welford) */
                        double mean, m2;
                        uint64_t n;
                } var;
                struct {                              /* stuck */
                        uint64_t hash;                /* of the first value */
                        uint64_t n;                   /* values seen */
                        uint64_t differs;             /* 1 once one differed */
                } same;
                int64_t latest;                       /* staleness: newest event time (has) */
                spate_agg_spikes_t *spikes;           /* owned (malloc'd by init) */
        } u;
} spate_agg_state_t;

/* "count", "sum", ... <-> function; parse returns 0 / -1. */
int spate_agg_fn_parse(const char *name, spate_agg_fn_t *fnp);
const char *spate_agg_fn_name(spate_agg_fn_t fn);
/* Every function's name, indexed by spate_agg_fn_t (SPATE_AGG_NFN of them). */
const char *const *spate_agg_fn_names(void);
/* The argument a function takes: 0 none (count, staleness), 1 an expression,
 * 2 an expression and a number (spikes), 3 a duration only (completeness). */
int spate_agg_fn_arity(spate_agg_fn_t fn);
/* 1 for the functions that count the window's records (count, count_if,
 * completeness, spikes): in an interval without records they are 0, never
 * carried over from an earlier one (resampling, winstate.h). */
int spate_agg_fn_counts(spate_agg_fn_t fn);

/* 1 for the functions whose result is a reading's value (sum, mean, min, max,
 * first, last): resampling with fill: linear interpolates them. */
int spate_agg_fn_interpolates(spate_agg_fn_t fn);
/* Sets a state of such a function so that its result is the number v (a
 * string kept by it is freed). Other functions are left alone. */
void spate_agg_set_num(spate_agg_state_t *s, double v);

/* An empty state of fn with its parameter (spikes: the limit; ignored by the
 * others). Allocates only for spikes; -1 when that fails. */
int spate_agg_init_param(spate_agg_state_t *s, spate_agg_fn_t fn, double param);
/* An empty state of fn; allocates nothing (not for spikes, whose limit is
 * needed: that one is left empty and never counts). */
void spate_agg_init(spate_agg_state_t *s, spate_agg_fn_t fn);
/* Releases what the state owns; s must be init'ed again before reuse. */
void spate_agg_free(spate_agg_state_t *s);

/* Applies one record: v is the argument's value (ignored by count, may be NULL
 * there), o its origin (used by first/last, may be NULL for the others).
 * Returns 0 applied, 1 ignored (null or unusable type), -1 out of memory. */
int spate_agg_update(spate_agg_state_t *s, const spate_val_t *v, const spate_agg_origin_t *o);

/* 1 for the functions that can take a value back out (count, sum, mean,
 * count_if, stddev): a window's corrections (winstate.h) replace a reading's
 * earlier version with them. */
int spate_agg_fn_retracts(spate_agg_fn_t fn);
/* Takes back one record that spate_agg_update applied with value v (a value
 * update ignored is ignored here too). stddev runs Welford's update backwards
 * (exact to the last bits, like its merge); sum and mean subtract with the
 * same compensation as they add. 0, or -1 for a function that cannot. */
int spate_agg_retract(spate_agg_state_t *s, const spate_val_t *v);

/* dst becomes the aggregate of both inputs; src is unchanged.
 * Returns 0, or -1 when the functions differ or memory runs out. */
int spate_agg_merge(spate_agg_state_t *dst, const spate_agg_state_t *src);

/* The current result; out->str is borrowed from s (valid until s changes).
 * staleness gives its latest event time (ms), completeness its count. */
void spate_agg_result(const spate_agg_state_t *s, spate_val_t *out);
/* The result in the window [start, end): staleness in seconds to end,
 * completeness as count / ((end - start) / param); the others as above. */
void spate_agg_result_in(const spate_agg_state_t *s, double param, int64_t start, int64_t end,
                         spate_val_t *out);

/* 64-bit hash of a type-tagged value (count_distinct's set members). */
uint64_t spate_agg_value_hash(const spate_val_t *v);

/* Window states: one state per aggregate of a window node. */
/* A malloc'd array of n empty states of fns[i] with params[i] (may be NULL
 * when no function needs one); free with spate_agg_states_free. */
spate_agg_state_t *spate_agg_states_new(const spate_agg_fn_t *fns, const double *params, int n);
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
