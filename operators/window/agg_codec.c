/* agg_codec.c - the byte encoding of window aggregate states (see agg.h).
 *
 * Layout (version 1), integers as LEB128 varints, signed ones zig-zagged,
 * doubles as 8 little-endian bytes of their IEEE-754 bits:
 *   version=1, n, then per state: fn byte and
 *     count           n
 *     sum, mean       n, [sum, comp] (only when n > 0)
 *     min, max        has, [value]
 *     first, last     has, [t, partition, offset, value]
 *     count_distinct  n, n x u64 LE hashes ascending (0 included if seen)
 *     count_if, completeness  n
 *     stddev          n, [mean, m2] (only when n > 0)
 *     stuck           n, [hash u64, differs byte] (only when n > 0)
 *     staleness       has, [t]
 *     spikes          limit, n, [jumps, first, lo origin, last, hi origin]
 *                     (only when n > 0); origin: t, partition, offset
 *   value: type byte, then num: double | str: len, bytes | bool: byte | null: -
 * Sorting the hashes makes equal states encode to equal bytes. */
#include "agg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CODEC_VERSION 1

typedef struct {
        char *buf;
        size_t len, cap;
        int oom;
} wbuf_t;

typedef struct {
        const unsigned char *p, *end;
        int bad;
} rbuf_t;

static void put_bytes(wbuf_t *w, const void *p, size_t n) {
        if (w->oom)
                return;
        if (w->len + n > w->cap) {
                size_t cap = w->cap ? w->cap : 64;
                while (cap < w->len + n)
                        cap *= 2;
                char *b = realloc(w->buf, cap);
                if (!b) {
                        w->oom = 1;
                        return;
                }
                w->buf = b;
                w->cap = cap;
        }
        memcpy(w->buf + w->len, p, n);
        w->len += n;
}

static void put_u8(wbuf_t *w, unsigned v) {
        unsigned char b = (unsigned char)v;

        put_bytes(w, &b, 1);
}

static void put_varint(wbuf_t *w, uint64_t v) {
        unsigned char b[10];
        size_t n = 0;

        do {
                b[n] = (unsigned char)(v & 0x7f);
                v >>= 7;
                b[n++] |= v ? 0x80 : 0;
        } while (v);
        put_bytes(w, b, n);
}

static void put_svarint(wbuf_t *w, int64_t v) {
        put_varint(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void put_u64(wbuf_t *w, uint64_t v) {
        unsigned char b[8];

        for (int i = 0; i < 8; i++, v >>= 8)
                b[i] = (unsigned char)v;
        put_bytes(w, b, 8);
}

static void put_double(wbuf_t *w, double d) {
        uint64_t u;

        memcpy(&u, &d, sizeof(u));
        put_u64(w, u);
}

static void put_value(wbuf_t *w, const spate_val_t *v) {
        put_u8(w, v->type);
        if (v->type == SPATE_VAL_NUM) {
                put_double(w, v->num);
        } else if (v->type == SPATE_VAL_STR) {
                put_varint(w, v->len);
                put_bytes(w, v->str, v->len);
        } else if (v->type == SPATE_VAL_BOOL) {
                put_u8(w, v->b != 0);
        }
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

        return x < y ? -1 : x > y;
}

static void put_set(wbuf_t *w, const spate_agg_state_t *s) {
        uint64_t *sorted = malloc((s->u.set.n ? s->u.set.n : 1) * sizeof(*sorted));
        size_t k = 0;

        if (!sorted) {
                w->oom = 1;
                return;
        }
        if (s->has_zero)
                sorted[k++] = 0;
        for (size_t i = 0; i < s->u.set.cap; i++)
                if (s->u.set.slots[i])
                        sorted[k++] = s->u.set.slots[i];
        qsort(sorted, k, sizeof(*sorted), cmp_u64);
        put_varint(w, k);
        for (size_t i = 0; i < k; i++)
                put_u64(w, sorted[i]);
        free(sorted);
}

static void put_origin(wbuf_t *w, const spate_agg_origin_t *o) {
        put_svarint(w, o->t);
        put_svarint(w, o->partition);
        put_svarint(w, o->offset);
}

static void put_spikes(wbuf_t *w, const spate_agg_spikes_t *k) {
        static const spate_agg_spikes_t none;  /* spate_agg_init() without its limit */
        if (!k)
                k = &none;
        put_double(w, k->limit);
        put_varint(w, k->n);
        if (!k->n)
                return;
        put_varint(w, k->jumps);
        put_double(w, k->first);
        put_origin(w, &k->lo);
        put_double(w, k->last);
        put_origin(w, &k->hi);
}

static void put_state(wbuf_t *w, const spate_agg_state_t *s) {
        spate_val_t v;

        put_u8(w, s->fn);
        switch (s->fn) {
        case SPATE_AGG_COUNT:
                put_varint(w, s->u.count);
                break;
        case SPATE_AGG_SUM:
        case SPATE_AGG_MEAN:
                put_varint(w, s->u.sum.n);
                if (!s->u.sum.n)
                        break;
                put_double(w, s->u.sum.sum);
                put_double(w, s->u.sum.comp);
                break;
        case SPATE_AGG_FIRST:
        case SPATE_AGG_LAST:
                put_u8(w, s->has);
                if (!s->has)
                        break;
                put_svarint(w, s->u.kept.t);
                put_svarint(w, s->partition);
                put_svarint(w, s->u.kept.offset);
                spate_agg_result(s, &v);
                put_value(w, &v);
                break;
        case SPATE_AGG_MIN:
        case SPATE_AGG_MAX:
                put_u8(w, s->has);
                if (!s->has)
                        break;
                spate_agg_result(s, &v);
                put_value(w, &v);
                break;
        case SPATE_AGG_COUNT_DISTINCT:
                put_set(w, s);
                break;
        case SPATE_AGG_COUNT_IF:
        case SPATE_AGG_COMPLETENESS:
                put_varint(w, s->u.count);
                break;
        case SPATE_AGG_STDDEV:
                put_varint(w, s->u.var.n);
                if (!s->u.var.n)
                        break;
                put_double(w, s->u.var.mean);
                put_double(w, s->u.var.m2);
                break;
        case SPATE_AGG_STUCK:
                put_varint(w, s->u.same.n);
                if (!s->u.same.n)
                        break;
                put_u64(w, s->u.same.hash);
                put_u8(w, (unsigned)s->u.same.differs);
                break;
        case SPATE_AGG_STALENESS:
                put_u8(w, s->has);
                if (s->has)
                        put_svarint(w, s->u.latest);
                break;
        case SPATE_AGG_SPIKES:
                put_spikes(w, s->u.spikes);
                break;
        }
}

int spate_agg_state_encode(const spate_agg_state_t *states, int n, char **bufp,
                           size_t *lenp, char *errstr, size_t errstr_size) {
        wbuf_t w = { 0 };

        put_u8(&w, CODEC_VERSION);
        put_varint(&w, (uint64_t)n);
        for (int i = 0; i < n; i++)
                put_state(&w, &states[i]);
        if (w.oom) {
                free(w.buf);
                snprintf(errstr, errstr_size, "aggregate encode: out of memory");
                return -1;
        }
        *bufp = w.buf;
        *lenp = w.len;
        return 0;
}

static unsigned get_u8(rbuf_t *r) {
        if (r->bad || r->p >= r->end) {
                r->bad = 1;
                return 0;
        }
        return *r->p++;
}

static uint64_t get_varint(rbuf_t *r) {
        uint64_t v = 0;

        for (int shift = 0; shift < 64; shift += 7) {
                unsigned b = get_u8(r);
                v |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80))
                        return v;
        }
        r->bad = 1;
        return 0;
}

static int64_t get_svarint(rbuf_t *r) {
        uint64_t u = get_varint(r);

        return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static uint64_t get_u64(rbuf_t *r) {
        uint64_t v = 0;

        for (int i = 0; i < 8; i++)
                v |= (uint64_t)get_u8(r) << (8 * i);
        return v;
}

static double get_double(rbuf_t *r) {
        uint64_t u = get_u64(r);
        double d;

        memcpy(&d, &u, sizeof(d));
        return d;
}

/* Reads the kept value of min..last into s (strings copied, owned by s). */
static int get_value(rbuf_t *r, spate_agg_state_t *s) {
        unsigned type = get_u8(r);
        spate_agg_str_t *d;
        size_t len;

        switch (type) {
        case SPATE_VAL_NUM:
                s->u.kept.v.num = get_double(r);
                break;
        case SPATE_VAL_BOOL:
                s->u.kept.v.b = (int)get_u8(r);
                break;
        case SPATE_VAL_STR:
                len = (size_t)get_varint(r);
                if (r->bad || len > (size_t)(r->end - r->p))
                        return r->bad = 1, -1;
                if (!(d = malloc(sizeof(*d) + len + 1)))
                        return r->bad = 1, -1;
                d->len = len;
                memcpy(d->s, r->p, len);
                d->s[len] = '\0';
                r->p += len;
                s->u.kept.v.str = d;
                break;
        default:
                return r->bad = 1, -1;
        }
        if (r->bad)
                return -1;
        s->type = (uint8_t)type;
        s->has = 1;
        return 0;
}

static int get_set(rbuf_t *r, spate_agg_state_t *s) {
        uint64_t k = get_varint(r);

        if (r->bad || k > (uint64_t)(r->end - r->p) / 8)
                return r->bad = 1, -1;
        for (uint64_t i = 0; i < k; i++) {
                spate_agg_state_t one;
                spate_agg_init(&one, SPATE_AGG_COUNT_DISTINCT);
                uint64_t h = get_u64(r);
                if (h == 0) {
                        s->u.set.n += !s->has_zero;
                        s->has_zero = 1;
                        continue;
                }
                /* Merging a one-slot set reuses the probing code in agg.c. */
                one.u.set.slots = &h;
                one.u.set.cap = 1;
                one.u.set.n = 1;
                if (spate_agg_merge(s, &one))
                        return r->bad = 1, -1;
        }
        return 0;
}

static void get_origin(rbuf_t *r, spate_agg_origin_t *o) {
        o->t = get_svarint(r);
        o->partition = (int32_t)get_svarint(r);
        o->offset = get_svarint(r);
}

static void get_spikes(rbuf_t *r, spate_agg_state_t *s) {
        spate_agg_spikes_t *k;

        if (spate_agg_init_param(s, SPATE_AGG_SPIKES, get_double(r))) {
                r->bad = 1;
                return;
        }
        k = s->u.spikes;
        if (!(k->n = get_varint(r)))
                return;
        k->jumps = get_varint(r);
        k->first = get_double(r);
        get_origin(r, &k->lo);
        k->last = get_double(r);
        get_origin(r, &k->hi);
}

static int get_state(rbuf_t *r, spate_agg_state_t *s) {
        unsigned fn = get_u8(r);

        if (r->bad || fn >= (unsigned)SPATE_AGG_NFN)
                return -1;
        spate_agg_init(s, (spate_agg_fn_t)fn);
        switch (s->fn) {
        case SPATE_AGG_COUNT:
                s->u.count = get_varint(r);
                break;
        case SPATE_AGG_SUM:
        case SPATE_AGG_MEAN:
                s->u.sum.n = get_varint(r);
                if (!s->u.sum.n)
                        break;
                s->u.sum.sum = get_double(r);
                s->u.sum.comp = get_double(r);
                break;
        case SPATE_AGG_FIRST:
        case SPATE_AGG_LAST:
                if (!get_u8(r))
                        break;
                s->u.kept.t = get_svarint(r);
                s->partition = (int32_t)get_svarint(r);
                s->u.kept.offset = get_svarint(r);
                get_value(r, s);
                break;
        case SPATE_AGG_MIN:
        case SPATE_AGG_MAX:
                if (get_u8(r))
                        get_value(r, s);
                break;
        case SPATE_AGG_COUNT_DISTINCT:
                get_set(r, s);
                break;
        case SPATE_AGG_COUNT_IF:
        case SPATE_AGG_COMPLETENESS:
                s->u.count = get_varint(r);
                break;
        case SPATE_AGG_STDDEV:
                if (!(s->u.var.n = get_varint(r)))
                        break;
                s->u.var.mean = get_double(r);
                s->u.var.m2 = get_double(r);
                break;
        case SPATE_AGG_STUCK:
                if (!(s->u.same.n = get_varint(r)))
                        break;
                s->u.same.hash = get_u64(r);
                s->u.same.differs = get_u8(r) != 0;
                break;
        case SPATE_AGG_STALENESS:
                if ((s->has = get_u8(r) != 0))
                        s->u.latest = get_svarint(r);
                break;
        case SPATE_AGG_SPIKES:
                get_spikes(r, s);
                break;
        }
        return r->bad ? -1 : 0;
}

int spate_agg_state_decode(const void *buf, size_t len, spate_agg_state_t **statesp,
                           int *np, char *errstr, size_t errstr_size) {
        rbuf_t r = { buf, (const unsigned char *)buf + len, 0 };
        spate_agg_state_t *states = NULL;
        uint64_t n = 0;
        int done = 0;

        if (get_u8(&r) != CODEC_VERSION) {
                snprintf(errstr, errstr_size, "aggregate decode: unknown version");
                return -1;
        }
        n = get_varint(&r);
        /* Every state takes at least two bytes: bounds n before allocating. */
        if (r.bad || n > (uint64_t)(r.end - r.p) / 2 + 1 || n > 1 << 20)
                goto bad;
        if (!(states = calloc(n ? n : 1, sizeof(*states))))
                goto bad;
        for (; done < (int)n; done++)
                if (get_state(&r, &states[done]))
                        goto bad;
        if (r.p != r.end)
                goto bad;
        *statesp = states;
        *np = (int)n;
        return 0;
bad:
        /* calloc'ed states past the failure are empty: freeing them is fine. */
        spate_agg_states_free(states, states ? (int)n : 0);
        snprintf(errstr, errstr_size, "aggregate decode: malformed or truncated state");
        return -1;
}
