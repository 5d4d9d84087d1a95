/* agg.c - mergeable aggregate states: update, merge, result (see agg.h). */
#include "agg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *fn_names[] = {
        "count", "sum", "mean", "min", "max", "first", "last", "count_distinct"
};
#define NFN ((int)(sizeof(fn_names) / sizeof(*fn_names)))

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

void spate_agg_init(spate_agg_state_t *s, spate_agg_fn_t fn) {
        memset(s, 0, sizeof(*s));
        s->fn = fn;
}

void spate_agg_free(spate_agg_state_t *s) {
        if (s->val.type == SPATE_VAL_STR)
                free((char *)s->val.str);
        free(s->set);
        memset(&s->val, 0, sizeof(s->val));
        s->set = NULL;
        s->cap = 0;
}

/* Neumaier's variant of Kahan summation: the compensation also captures the
 * low bits of the running sum when the new term is larger than it. */
static void neumaier_add(spate_agg_state_t *s, double x) {
        double t = s->sum + x;

        if (fabs(s->sum) >= fabs(x))
                s->comp += (s->sum - t) + x;
        else
                s->comp += (x - t) + s->sum;
        s->sum = t;
}

/* Replaces the kept value with a copy of v (strings are duplicated). */
static int set_val(spate_agg_state_t *s, const spate_val_t *v) {
        spate_val_t copy = *v;

        if (v->type == SPATE_VAL_STR) {
                char *d = malloc(v->len + 1);
                if (!d)
                        return -1;
                if (v->len)
                        memcpy(d, v->str, v->len);
                d[v->len] = '\0';
                copy.str = d;
        }
        if (s->val.type == SPATE_VAL_STR)
                free((char *)s->val.str);
        s->val = copy;
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

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
        const unsigned char *b = p;

        for (size_t i = 0; i < n; i++)
                h = (h ^ b[i]) * UINT64_C(0x100000001b3);
        return h;
}

/* MurmurHash3's finalizer: FNV-1a alone mixes the last bytes poorly. */
static uint64_t fmix64(uint64_t h) {
        h ^= h >> 33;
        h *= UINT64_C(0xff51afd7ed558ccd);
        h ^= h >> 33;
        h *= UINT64_C(0xc4ceb9fe1a85ec53);
        h ^= h >> 33;
        return h;
}

uint64_t spate_agg_value_hash(const spate_val_t *v) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);
        unsigned char tag = (unsigned char)v->type, b;
        double d;

        h = fnv1a(h, &tag, 1);
        switch (v->type) {
        case SPATE_VAL_NUM:
                d = v->num == 0 ? 0.0 : v->num;  /* -0.0 == 0.0 */
                h = fnv1a(h, &d, sizeof(d));
                break;
        case SPATE_VAL_STR:
                h = fnv1a(h, v->str, v->len);
                break;
        case SPATE_VAL_BOOL:
                b = v->b != 0;
                h = fnv1a(h, &b, 1);
                break;
        default:
                break;
        }
        return fmix64(h);
}

static int set_grow(spate_agg_state_t *s) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        uint64_t *set = calloc(cap, sizeof(*set));

        if (!set)
                return -1;
        for (size_t i = 0; i < s->cap; i++) {
                if (!s->set[i])
                        continue;
                size_t j = (size_t)s->set[i] & (cap - 1);
                while (set[j])
                        j = (j + 1) & (cap - 1);
                set[j] = s->set[i];
        }
        free(s->set);
        s->set = set;
        s->cap = cap;
        return 0;
}

/* Adds a hash to the distinct set (linear probing, load <= 1/2). */
static int set_add(spate_agg_state_t *s, uint64_t h) {
        size_t j;

        if (h == 0) {
                s->n += !s->has_zero;
                s->has_zero = 1;
                return 0;
        }
        if ((s->n + 1) * 2 > s->cap && set_grow(s))
                return -1;
        for (j = (size_t)h & (s->cap - 1); s->set[j]; j = (j + 1) & (s->cap - 1))
                if (s->set[j] == h)
                        return 0;
        s->set[j] = h;
        s->n++;
        return 0;
}

int spate_agg_update(spate_agg_state_t *s, const spate_val_t *v, const spate_agg_origin_t *o) {
        int better;

        if (s->fn == SPATE_AGG_COUNT) {
                s->n++;
                return 0;
        }
        if (!v || v->type == SPATE_VAL_NULL || (v->type == SPATE_VAL_NUM && isnan(v->num)))
                return 1;
        switch (s->fn) {
        case SPATE_AGG_SUM:
        case SPATE_AGG_MEAN:
                if (v->type != SPATE_VAL_NUM || !isfinite(v->num))
                        return 1;
                neumaier_add(s, v->num);
                s->n++;
                return 0;
        case SPATE_AGG_MIN:
        case SPATE_AGG_MAX:
                better = !s->has || (s->fn == SPATE_AGG_MIN ? val_cmp(v, &s->val) < 0
                                                           : val_cmp(v, &s->val) > 0);
                return better ? set_val(s, v) : 0;
        case SPATE_AGG_FIRST:
        case SPATE_AGG_LAST:
                if (!o)
                        return -1;
                better = !s->has || (s->fn == SPATE_AGG_FIRST ? origin_cmp(o, &s->origin) < 0
                                                             : origin_cmp(o, &s->origin) > 0);
                if (!better)
                        return 0;
                if (set_val(s, v))
                        return -1;
                s->origin = *o;
                return 0;
        case SPATE_AGG_COUNT_DISTINCT:
                return set_add(s, spate_agg_value_hash(v));
        default:
                return -1;
        }
}

int spate_agg_merge(spate_agg_state_t *dst, const spate_agg_state_t *src) {
        int better;

        if (dst->fn != src->fn)
                return -1;
        switch (dst->fn) {
        case SPATE_AGG_COUNT:
                dst->n += src->n;
                return 0;
        case SPATE_AGG_SUM:
        case SPATE_AGG_MEAN:
                neumaier_add(dst, src->sum);
                dst->comp += src->comp;
                dst->n += src->n;
                return 0;
        case SPATE_AGG_MIN:
        case SPATE_AGG_MAX:
                if (!src->has)
                        return 0;
                better = !dst->has || (dst->fn == SPATE_AGG_MIN ? val_cmp(&src->val, &dst->val) < 0
                                                               : val_cmp(&src->val, &dst->val) > 0);
                return better ? set_val(dst, &src->val) : 0;
        case SPATE_AGG_FIRST:
        case SPATE_AGG_LAST:
                if (!src->has)
                        return 0;
                return spate_agg_update(dst, &src->val, &src->origin) < 0 ? -1 : 0;
        case SPATE_AGG_COUNT_DISTINCT:
                if (src->has_zero && set_add(dst, 0))
                        return -1;
                for (size_t i = 0; i < src->cap; i++)
                        if (src->set[i] && set_add(dst, src->set[i]))
                                return -1;
                return 0;
        }
        return -1;
}

void spate_agg_result(const spate_agg_state_t *s, spate_val_t *out) {
        memset(out, 0, sizeof(*out));
        switch (s->fn) {
        case SPATE_AGG_COUNT:
        case SPATE_AGG_COUNT_DISTINCT:
                out->type = SPATE_VAL_NUM;
                out->num = (double)s->n;
                return;
        case SPATE_AGG_SUM:
        case SPATE_AGG_MEAN:
                if (!s->n)
                        return;
                out->type = SPATE_VAL_NUM;
                out->num = s->sum + s->comp;
                if (s->fn == SPATE_AGG_MEAN)
                        out->num /= (double)s->n;
                return;
        default:
                if (s->has)
                        *out = s->val;
                return;
        }
}

spate_agg_state_t *spate_agg_states_new(const spate_agg_fn_t *fns, int n) {
        spate_agg_state_t *states = calloc(n > 0 ? (size_t)n : 1, sizeof(*states));

        for (int i = 0; states && i < n; i++)
                spate_agg_init(&states[i], fns[i]);
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
