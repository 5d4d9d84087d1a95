/* agg.c - mergeable aggregate states: update, merge, result (see agg.h). */
#include "agg.h"
#include "../../util/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const fn_names[] = {
        "count", "sum", "mean", "min", "max", "first", "last", "count_distinct",
        "count_if", "stddev", "stuck", "staleness", "completeness", "spikes"
};
#define NFN ((int)(sizeof(fn_names) / sizeof(*fn_names)))
_Static_assert(NFN == SPATE_AGG_NFN, "a function without a name");

int spate_agg_fn_parse(const char *name, spate_agg_fn_t *fnp) {
        for (int i = 0; i < NFN; i++) {
                if (!strcmp(name, fn_names[i])) {
                        *fnp = (spate_agg_fn_t)i;
                        return 0;
                }
        }
        return -1;
}

const char *spate_agg_fn_name(spate_agg_fn_t fn) {
        return (unsigned)fn < (unsigned)NFN ? fn_names[fn] : "unknown";
}

const char *const *spate_agg_fn_names(void) {
        return fn_names;
}

int spate_agg_fn_arity(spate_agg_fn_t fn) {
        switch (fn) {
        case SPATE_AGG_COUNT:
        case SPATE_AGG_STALENESS: return 0;
        case SPATE_AGG_SPIKES: return 2;
        case SPATE_AGG_COMPLETENESS: return 3;
        default: return 1;
        }
}

int spate_agg_fn_counts(spate_agg_fn_t fn) {
        return fn == SPATE_AGG_COUNT || fn == SPATE_AGG_COUNT_IF || fn == SPATE_AGG_COMPLETENESS ||
               fn == SPATE_AGG_SPIKES;
}

int spate_agg_fn_interpolates(spate_agg_fn_t fn) {
        return fn == SPATE_AGG_SUM || fn == SPATE_AGG_MEAN || fn == SPATE_AGG_MIN || fn == SPATE_AGG_MAX ||
               fn == SPATE_AGG_FIRST || fn == SPATE_AGG_LAST;
}

/* A window node holds one state per aggregate per live window: a growing state
 * multiplies its heap cost by the number of live windows. */
_Static_assert(sizeof(spate_agg_state_t) <= 32, "spate_agg_state_t grew");

void spate_agg_init(spate_agg_state_t *s, spate_agg_fn_t fn) {
        memset(s, 0, sizeof(*s));
        s->fn = (uint8_t)fn;
}

int spate_agg_init_param(spate_agg_state_t *s, spate_agg_fn_t fn, double param) {
        spate_agg_init(s, fn);
        if (fn != SPATE_AGG_SPIKES)
                return 0;
        if (!(s->u.spikes = calloc(1, sizeof(*s->u.spikes))))
                return -1;
        s->u.spikes->limit = param;
        return 0;
}

void spate_agg_free(spate_agg_state_t *s) {
        switch (s->fn) {
        case SPATE_AGG_MIN:
        case SPATE_AGG_MAX:
        case SPATE_AGG_FIRST:
        case SPATE_AGG_LAST:
                if (s->has && s->type == SPATE_VAL_STR)
                        free(s->u.kept.v.str);
                s->has = 0;
                break;
        case SPATE_AGG_COUNT_DISTINCT:
                free(s->u.set.slots);
                s->u.set.slots = NULL;
                s->u.set.cap = 0;
                break;
        case SPATE_AGG_SPIKES:
                free(s->u.spikes);
                s->u.spikes = NULL;
                break;
        }
}

void spate_agg_set_num(spate_agg_state_t *s, double v) {
        if (!spate_agg_fn_interpolates((spate_agg_fn_t)s->fn))
                return;
        spate_agg_free(s);
        spate_agg_init(s, (spate_agg_fn_t)s->fn);
        if (s->fn == SPATE_AGG_SUM || s->fn == SPATE_AGG_MEAN) {
                s->u.sum.sum = v;
                s->u.sum.n = 1;
                return;
        }
        s->has = 1;
        s->type = SPATE_VAL_NUM;
        s->u.kept.v.num = v;
}

/* The kept value of min..last as a value whose str is borrowed from s. */
static void kept_val(const spate_agg_state_t *s, spate_val_t *out) {
        memset(out, 0, sizeof(*out));
        if (!s->has)
                return;
        out->type = (spate_val_type_t)s->type;
        switch (out->type) {
        case SPATE_VAL_NUM:
                out->num = s->u.kept.v.num;
                break;
        case SPATE_VAL_BOOL:
                out->b = s->u.kept.v.b;
                break;
        case SPATE_VAL_STR:
                out->str = s->u.kept.v.str->s;
                out->len = s->u.kept.v.str->len;
                break;
        default:
                break;
        }
}

static void kept_origin(const spate_agg_state_t *s, spate_agg_origin_t *out) {
        out->t = s->u.kept.t;
        out->partition = s->partition;
        out->offset = s->u.kept.offset;
}

/* Neumaier's variant of Kahan summation: the compensation also captures the
 * low bits of the running sum when the new term is larger than it. */
static void neumaier_add(spate_agg_state_t *s, double x) {
        double sum = s->u.sum.sum, t = sum + x;

        if (fabs(sum) >= fabs(x))
                s->u.sum.comp += (sum - t) + x;
        else
                s->u.sum.comp += (x - t) + sum;
        s->u.sum.sum = t;
}

/* Replaces the kept value with a copy of v. A string is copied before the old
 * one is freed, so v may borrow from s itself. */
static int set_val(spate_agg_state_t *s, const spate_val_t *v) {
        spate_agg_str_t *d = NULL;

        if (v->type == SPATE_VAL_STR) {
                if (!(d = malloc(sizeof(*d) + v->len + 1)))
                        return -1;
                d->len = v->len;
                if (v->len)
                        memcpy(d->s, v->str, v->len);
                d->s[v->len] = '\0';
        }
        if (s->has && s->type == SPATE_VAL_STR)
                free(s->u.kept.v.str);
        s->type = (uint8_t)v->type;
        if (v->type == SPATE_VAL_STR)
                s->u.kept.v.str = d;
        else if (v->type == SPATE_VAL_BOOL)
                s->u.kept.v.b = v->b;
        else
                s->u.kept.v.num = v->num;
        s->has = 1;
        return 0;
}

/* Total order used by min/max: type rank, then value. */
static int val_cmp(const spate_val_t *a, const spate_val_t *b) {
        static const int rank[] = { 0, 2, 3, 1 };  /* null, num, str, bool */
        size_t n;
        int c;

        if (a->type != b->type)
                return rank[a->type] < rank[b->type] ? -1 : 1;
        switch (a->type) {
        case SPATE_VAL_NUM:
                return a->num < b->num ? -1 : a->num > b->num;
        case SPATE_VAL_BOOL:
                return (a->b != 0) - (b->b != 0);
        case SPATE_VAL_STR:
                n = a->len < b->len ? a->len : b->len;
                if (n && (c = memcmp(a->str, b->str, n)))
                        return c < 0 ? -1 : 1;
                return a->len < b->len ? -1 : a->len > b->len;
        default:
                return 0;
        }
}

static int origin_cmp(const spate_agg_origin_t *a, const spate_agg_origin_t *b) {
        if (a->t != b->t)
                return a->t < b->t ? -1 : 1;
        if (a->partition != b->partition)
                return a->partition < b->partition ? -1 : 1;
        return a->offset < b->offset ? -1 : a->offset > b->offset;
}

uint64_t spate_agg_value_hash(const spate_val_t *v) {
        uint64_t h = SPATE_HASH_INIT;
        unsigned char tag = (unsigned char)v->type, b;
        double d;

        h = spate_hash_bytes(h, &tag, 1);
        switch (v->type) {
        case SPATE_VAL_NUM:
                d = v->num == 0 ? 0.0 : v->num;  /* -0.0 == 0.0 */
                h = spate_hash_bytes(h, &d, sizeof(d));
                break;
        case SPATE_VAL_STR:
                h = spate_hash_bytes(h, v->str, v->len);
                break;
        case SPATE_VAL_BOOL:
                b = v->b != 0;
                h = spate_hash_bytes(h, &b, 1);
                break;
        default:
                break;
        }
        return spate_hash_mix(h);
}

static int set_grow(spate_agg_state_t *s) {
        size_t old = s->u.set.cap, cap = old ? old * 2 : 16;
        uint64_t *slots = calloc(cap, sizeof(*slots)), *from = s->u.set.slots;

        if (!slots)
                return -1;
        for (size_t i = 0; i < old; i++) {
                if (!from[i])
                        continue;
                size_t j = (size_t)from[i] & (cap - 1);
                while (slots[j])
                        j = (j + 1) & (cap - 1);
                slots[j] = from[i];
        }
        free(from);
        s->u.set.slots = slots;
        s->u.set.cap = cap;
        return 0;
}

/* Adds a hash to the distinct set (linear probing, load <= 1/2). */
static int set_add(spate_agg_state_t *s, uint64_t h) {
        size_t j, mask;

        if (h == 0) {
                s->u.set.n += !s->has_zero;
                s->has_zero = 1;
                return 0;
        }
        if ((s->u.set.n + 1) * 2 > s->u.set.cap && set_grow(s))
                return -1;
        mask = s->u.set.cap - 1;
        for (j = (size_t)h & mask; s->u.set.slots[j]; j = (j + 1) & mask)
                if (s->u.set.slots[j] == h)
                        return 0;
        s->u.set.slots[j] = h;
        s->u.set.n++;
        return 0;
}

/* Welford's running mean and sum of squared deviations. */
static void welford_add(spate_agg_state_t *s, double x) {
        double d = x - s->u.var.mean;

        s->u.var.n++;
        s->u.var.mean += d / (double)s->u.var.n;
        s->u.var.m2 += d * (x - s->u.var.mean);
}

/* Chan, Golub and LeVeque's combination of two (n, mean, M2). */
static void welford_merge(spate_agg_state_t *dst, const spate_agg_state_t *src) {
        double na = (double)dst->u.var.n, nb = (double)src->u.var.n, d;

        if (!src->u.var.n)
                return;
        if (!dst->u.var.n) {
                dst->u.var = src->u.var;
                return;
        }
        d = src->u.var.mean - dst->u.var.mean;
        dst->u.var.mean += d * nb / (na + nb);
        dst->u.var.m2 += src->u.var.m2 + d * d * na * nb / (na + nb);
        dst->u.var.n += src->u.var.n;
}

/* stuck: n more values of hash h. */
static void same_add(spate_agg_state_t *s, uint64_t h, uint64_t n) {
        if (!s->u.same.n)
                s->u.same.hash = h;
        else if (s->u.same.hash != h)
                s->u.same.differs = 1;
        s->u.same.n += n;
}

static int jump(const spate_agg_spikes_t *k, double a, double b) {
        return fabs(b - a) > k->limit;
}

/* spikes: one number, compared with its neighbour when it extends the range
 * seen (agg.h says why one inside the range is not). */
static void spikes_add(spate_agg_spikes_t *k, double x, const spate_agg_origin_t *o) {
        if (!k->n) {
                k->first = k->last = x;
                k->lo = k->hi = *o;
        } else if (origin_cmp(o, &k->hi) > 0) {
                k->jumps += (uint64_t)jump(k, k->last, x);
                k->last = x;
                k->hi = *o;
        } else if (origin_cmp(o, &k->lo) < 0) {
                k->jumps += (uint64_t)jump(k, x, k->first);
                k->first = x;
                k->lo = *o;
        }
        k->n++;
}

static void spikes_merge(spate_agg_spikes_t *d, const spate_agg_spikes_t *s) {
        if (!s->n)
                return;
        if (!d->n) {
                double limit = d->limit;
                *d = *s;
                d->limit = limit;
                return;
        }
        d->jumps += s->jumps;
        if (origin_cmp(&s->lo, &d->hi) > 0) {
                d->jumps += (uint64_t)jump(d, d->last, s->first);
                d->last = s->last;
                d->hi = s->hi;
        } else if (origin_cmp(&s->hi, &d->lo) < 0) {
                d->jumps += (uint64_t)jump(d, s->last, d->first);
                d->first = s->first;
                d->lo = s->lo;
        } else {
                /* Overlapping ranges: the ends widen, the jumps just add up. */
                if (origin_cmp(&s->hi, &d->hi) > 0) {
                        d->last = s->last;
                        d->hi = s->hi;
                }
                if (origin_cmp(&s->lo, &d->lo) < 0) {
                        d->first = s->first;
                        d->lo = s->lo;
                }
        }
        d->n += s->n;
}

int spate_agg_update(spate_agg_state_t *s, const spate_val_t *v, const spate_agg_origin_t *o) {
        spate_val_t cur;
        spate_agg_origin_t at;
        int better;

        if (s->fn == SPATE_AGG_COUNT || s->fn == SPATE_AGG_COMPLETENESS) {
                s->u.count++;
                return 0;
        }
        if (s->fn == SPATE_AGG_STALENESS) {
                if (!o)
                        return -1;
                if (!s->has || o->t > s->u.latest)
                        s->u.latest = o->t;
                s->has = 1;
                return 0;
        }
        if (!v || v->type == SPATE_VAL_NULL || (v->type == SPATE_VAL_NUM && isnan(v->num)))
                return 1;
        switch (s->fn) {
        case SPATE_AGG_COUNT_IF:
                if (v->type != SPATE_VAL_BOOL)
                        return 1;
                s->u.count += v->b != 0;
                return 0;
        case SPATE_AGG_STDDEV:
                if (v->type != SPATE_VAL_NUM || !isfinite(v->num))
                        return 1;
                welford_add(s, v->num);
                return 0;
        case SPATE_AGG_STUCK:
                same_add(s, spate_agg_value_hash(v), 1);
                return 0;
        case SPATE_AGG_SPIKES:
                if (v->type != SPATE_VAL_NUM || !isfinite(v->num))
                        return 1;
                if (!o || !s->u.spikes)
                        return -1;
                spikes_add(s->u.spikes, v->num, o);
                return 0;
        case SPATE_AGG_SUM:
        case SPATE_AGG_MEAN:
                if (v->type != SPATE_VAL_NUM || !isfinite(v->num))
                        return 1;
                neumaier_add(s, v->num);
                s->u.sum.n++;
                return 0;
        case SPATE_AGG_MIN:
        case SPATE_AGG_MAX:
                kept_val(s, &cur);
                better = !s->has || (s->fn == SPATE_AGG_MIN ? val_cmp(v, &cur) < 0
                                                           : val_cmp(v, &cur) > 0);
                return better ? set_val(s, v) : 0;
        case SPATE_AGG_FIRST:
        case SPATE_AGG_LAST:
                if (!o)
                        return -1;
                kept_origin(s, &at);
                better = !s->has || (s->fn == SPATE_AGG_FIRST ? origin_cmp(o, &at) < 0
                                                             : origin_cmp(o, &at) > 0);
                if (!better)
                        return 0;
                if (set_val(s, v))
                        return -1;
                s->u.kept.t = o->t;
                s->partition = o->partition;
                s->u.kept.offset = o->offset;
                return 0;
        case SPATE_AGG_COUNT_DISTINCT:
                return set_add(s, spate_agg_value_hash(v));
        default:
                return -1;
        }
}

int spate_agg_merge(spate_agg_state_t *dst, const spate_agg_state_t *src) {
        spate_val_t sv, dv;
        spate_agg_origin_t so;
        int better;

        if (dst->fn != src->fn)
                return -1;
        switch (dst->fn) {
        case SPATE_AGG_COUNT:
                dst->u.count += src->u.count;
                return 0;
        case SPATE_AGG_SUM:
        case SPATE_AGG_MEAN:
                neumaier_add(dst, src->u.sum.sum);
                dst->u.sum.comp += src->u.sum.comp;
                dst->u.sum.n += src->u.sum.n;
                return 0;
        case SPATE_AGG_MIN:
        case SPATE_AGG_MAX:
                if (!src->has)
                        return 0;
                kept_val(src, &sv);
                kept_val(dst, &dv);
                better = !dst->has || (dst->fn == SPATE_AGG_MIN ? val_cmp(&sv, &dv) < 0
                                                               : val_cmp(&sv, &dv) > 0);
                return better ? set_val(dst, &sv) : 0;
        case SPATE_AGG_FIRST:
        case SPATE_AGG_LAST:
                if (!src->has)
                        return 0;
                kept_val(src, &sv);
                kept_origin(src, &so);
                return spate_agg_update(dst, &sv, &so) < 0 ? -1 : 0;
        case SPATE_AGG_COUNT_DISTINCT:
                if (src->has_zero && set_add(dst, 0))
                        return -1;
                for (size_t i = 0; i < src->u.set.cap; i++)
                        if (src->u.set.slots[i] && set_add(dst, src->u.set.slots[i]))
                                return -1;
                return 0;
        case SPATE_AGG_COUNT_IF:
        case SPATE_AGG_COMPLETENESS:
                dst->u.count += src->u.count;
                return 0;
        case SPATE_AGG_STDDEV:
                welford_merge(dst, src);
                return 0;
        case SPATE_AGG_STUCK:
                if (src->u.same.n)
                        same_add(dst, src->u.same.hash, src->u.same.n);
                dst->u.same.differs |= src->u.same.differs;
                return 0;
        case SPATE_AGG_STALENESS:
                if (src->has && (!dst->has || src->u.latest > dst->u.latest))
                        dst->u.latest = src->u.latest;
                dst->has |= src->has;
                return 0;
        case SPATE_AGG_SPIKES:
                if (!dst->u.spikes || !src->u.spikes)
                        return -1;
                spikes_merge(dst->u.spikes, src->u.spikes);
                return 0;
        }
        return -1;
}

int spate_agg_fn_retracts(spate_agg_fn_t fn) {
        return fn == SPATE_AGG_COUNT || fn == SPATE_AGG_SUM || fn == SPATE_AGG_MEAN ||
               fn == SPATE_AGG_COUNT_IF || fn == SPATE_AGG_STDDEV;
}

/* Welford's update run backwards; the last value out leaves an exact zero. */
static void welford_remove(spate_agg_state_t *s, double x) {
        double n = (double)s->u.var.n, mean = s->u.var.mean;

        if (s->u.var.n <= 1) {
                s->u.var.n = 0;
                s->u.var.mean = s->u.var.m2 = 0;
                return;
        }
        s->u.var.n--;
        s->u.var.mean = (n * mean - x) / (n - 1);
        s->u.var.m2 -= (x - mean) * (x - s->u.var.mean);
        if (s->u.var.m2 < 0)
                s->u.var.m2 = 0;
}

int spate_agg_retract(spate_agg_state_t *s, const spate_val_t *v) {
        int usable_num = v && v->type == SPATE_VAL_NUM && isfinite(v->num);
        switch (s->fn) {
        case SPATE_AGG_COUNT:
                if (s->u.count)
                        s->u.count--;
                return 0;
        case SPATE_AGG_COUNT_IF:
                if (v && v->type == SPATE_VAL_BOOL && v->b && s->u.count)
                        s->u.count--;
                return 0;
        case SPATE_AGG_STDDEV:
                if (usable_num && s->u.var.n)
                        welford_remove(s, v->num);
                return 0;
        case SPATE_AGG_SUM:
        case SPATE_AGG_MEAN:
                if (!usable_num || !s->u.sum.n)
                        return 0;
                /* The last value out leaves an exact zero, not a rounding residue. */
                if (--s->u.sum.n == 0)
                        s->u.sum.sum = s->u.sum.comp = 0;
                else
                        neumaier_add(s, -v->num);
                return 0;
        default:
                return -1;
        }
}

void spate_agg_result(const spate_agg_state_t *s, spate_val_t *out) {
        memset(out, 0, sizeof(*out));
        switch (s->fn) {
        case SPATE_AGG_COUNT:
        case SPATE_AGG_COUNT_IF:
        case SPATE_AGG_COMPLETENESS:
                out->type = SPATE_VAL_NUM;
                out->num = (double)s->u.count;
                return;
        case SPATE_AGG_STDDEV:
                if (s->u.var.n < 2)
                        return;
                out->type = SPATE_VAL_NUM;
                out->num = sqrt(s->u.var.m2 / (double)(s->u.var.n - 1));
                return;
        case SPATE_AGG_STUCK:
                out->type = SPATE_VAL_BOOL;
                out->b = s->u.same.n >= 2 && !s->u.same.differs;
                return;
        case SPATE_AGG_STALENESS:
                if (!s->has)
                        return;
                out->type = SPATE_VAL_NUM;
                out->num = (double)s->u.latest;
                return;
        case SPATE_AGG_SPIKES:
                out->type = SPATE_VAL_NUM;
                out->num = s->u.spikes ? (double)s->u.spikes->jumps : 0;
                return;
        case SPATE_AGG_COUNT_DISTINCT:
                out->type = SPATE_VAL_NUM;
                out->num = (double)s->u.set.n;
                return;
        case SPATE_AGG_SUM:
        case SPATE_AGG_MEAN:
                if (!s->u.sum.n)
                        return;
                out->type = SPATE_VAL_NUM;
                out->num = s->u.sum.sum + s->u.sum.comp;
                if (s->fn == SPATE_AGG_MEAN)
                        out->num /= (double)s->u.sum.n;
                return;
        default:
                kept_val(s, out);
                return;
        }
}

void spate_agg_result_in(const spate_agg_state_t *s, double param, int64_t start, int64_t end,
                         spate_val_t *out) {
        spate_agg_result(s, out);
        if (s->fn == SPATE_AGG_STALENESS && out->type == SPATE_VAL_NUM)
                out->num = (double)(end - s->u.latest) / 1000.0;
        else if (s->fn == SPATE_AGG_COMPLETENESS)
                out->num = end > start && param > 0 ? out->num * param / (double)(end - start) : 0;
}

spate_agg_state_t *spate_agg_states_new(const spate_agg_fn_t *fns, const double *params, int n) {
        spate_agg_state_t *states = calloc(n > 0 ? (size_t)n : 1, sizeof(*states));

        for (int i = 0; states && i < n; i++) {
                spate_agg_init(&states[i], fns[i]);
                /* Only spikes takes a parameter (and allocates): others stay as cheap as before. */
                if (fns[i] == SPATE_AGG_SPIKES && spate_agg_init_param(&states[i], fns[i], params ? params[i] : 0)) {
                        spate_agg_states_free(states, i);
                        return NULL;
                }
        }
        return states;
}

void spate_agg_states_free(spate_agg_state_t *states, int n) {
        if (!states)
                return;
        for (int i = 0; i < n; i++)
                spate_agg_free(&states[i]);
        free(states);
}

int spate_agg_states_merge(spate_agg_state_t *dst, const spate_agg_state_t *src, int n) {
        for (int i = 0; i < n; i++)
                if (spate_agg_merge(&dst[i], &src[i]))
                        return -1;
        return 0;
}
