/* winstate_codec.c - byte forms of window state: entry keys and values, task
 * metadata, repartition messages; plus the aggregate spec parser and ISO-8601
 * window start formatting (pure functions, unit tested).
 *
 * Fixed-width little-endian integers throughout: these records are small and
 * a fixed layout is easy to check by eye in a hex dump of a changelog. */
#include "winstate.h"
#include "../../state/store.h"
#include "../../util/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ENTRY_VERSION 1
/* 4: the upstream partitions alone, a store's node meta (state/kv.h); 2 and
 * 3 (with the offset, stream time, changelog offset and skip ranges; 2 also
 * without the combined batch of winup) were the window's own meta records,
 * refused with the rest of that state. */
#define META_VERSION 4
#define REPART_VERSION 3   /* 2: records only, without kind bytes */
#define KIND_RECORD 'r'
#define KIND_RECORD_ID 'i'  /* a record with its dedupe_by id (corrections after group_by) */
#define KIND_COMBINED 'c'

static void put_u64(spate_buf_t *b, uint64_t v) {
        unsigned char x[8];
        for (int i = 0; i < 8; i++, v >>= 8)
                x[i] = (unsigned char)v;
        spate_buf_put(b, x, 8);
}

static void put_u32(spate_buf_t *b, uint32_t v) {
        unsigned char x[4];
        for (int i = 0; i < 4; i++, v >>= 8)
                x[i] = (unsigned char)v;
        spate_buf_put(b, x, 4);
}

typedef struct {
        const unsigned char *p, *end;
        int bad;
} rd_t;

static uint64_t get_n(rd_t *r, int n) {
        uint64_t v = 0;
        if (r->bad || r->end - r->p < n) {
                r->bad = 1;
                return 0;
        }
        for (int i = n - 1; i >= 0; i--)
                v = v << 8 | r->p[i];
        r->p += n;
        return v;
}

static const unsigned char *get_bytes(rd_t *r, size_t n) {
        const unsigned char *p = r->p;
        if (r->bad || (size_t)(r->end - r->p) < n) {
                r->bad = 1;
                return NULL;
        }
        r->p += n;
        return p;
}

/* --- entries --- */

size_t spate_went_key(const char *group, size_t glen, int bucket, int64_t start, char *out) {
        spate_winkey_encode(group, glen, start, out);
        if (!bucket)
                return SPATE_WINKEY_SIZE(glen);
        out[SPATE_WINKEY_SIZE(glen)] = 'B';
        return SPATE_WINKEY_SIZE(glen) + 1;
}

int spate_went_key_decode(const void *key, size_t len, const char **groupp, size_t *glenp,
                          int *bucketp, int64_t *startp) {
        if (!spate_winkey_decode(key, len, groupp, glenp, startp)) {
                *bucketp = 0;
                return 0;
        }
        if (len > 0 && ((const char *)key)[len - 1] == 'B' &&
            !spate_winkey_decode(key, len - 1, groupp, glenp, startp)) {
                *bucketp = 1;
                return 0;
        }
        return -1;
}

int spate_went_encode(const spate_winconf_t *conf, const spate_went_t *e, spate_buf_t *out) {
        return spate_went_encode_ids(conf, e, NULL, out);
}

int spate_went_encode_ids(const spate_winconf_t *conf, const spate_went_t *e, const spate_wids_t *ids,
                          spate_buf_t *out) {
        char *enc, err[128];
        size_t elen;
        if (spate_agg_state_encode(e->states, conf->nfns, &enc, &elen, err, sizeof(err)))
                return -1;
        spate_buf_putc(out, ENTRY_VERSION);
        spate_buf_putc(out, (char)((e->closed ? 1 : 0) | (e->gap ? 2 : 0) |
                                   (e->gap == SPATE_GAP_PENDING ? 4 : 0) | (ids ? 8 : 0)));
        put_u64(out, (uint64_t)e->end);
        put_u64(out, (uint64_t)e->st);
        if (e->gap)
                put_u32(out, e->ngap);
        if (ids)
                spate_wids_encode(ids, out);
        spate_buf_put(out, enc, elen);
        free(enc);
        return 0;
}

int spate_went_decode(const spate_winconf_t *conf, const void *val, size_t len,
                      spate_went_t *e, char *errstr, size_t errstr_size) {
        return spate_went_decode_ids(conf, val, len, e, NULL, errstr, errstr_size);
}

int spate_went_decode_ids(const spate_winconf_t *conf, const void *val, size_t len, spate_went_t *e,
                          spate_wids_t **idsp, char *errstr, size_t errstr_size) {
        rd_t r = { val, (const unsigned char *)val + len, 0 };
        int n;
        unsigned version = (unsigned)get_n(&r, 1), flags = (unsigned)get_n(&r, 1);
        memset(e, 0, sizeof(*e));
        e->end = (int64_t)get_n(&r, 8);
        e->st = (int64_t)get_n(&r, 8);
        e->closed = flags & 1;
        e->gap = flags & 4 ? SPATE_GAP_PENDING : flags & 2 ? SPATE_GAP_FILLED : SPATE_GAP_NONE;
        if (e->gap)
                e->ngap = (uint32_t)get_n(&r, 4);
        if (r.bad || version != ENTRY_VERSION) {
                snprintf(errstr, errstr_size, "window entry: %s", r.bad ? "truncated" : "unknown version");
                return -1;
        }
        if (idsp)
                *idsp = NULL;
        if (flags & 8) {
                size_t used;
                if (!idsp) {
                        snprintf(errstr, errstr_size, "window entry holds corrections' ids, which this "
                                 "reader does not keep");
                        return -1;
                }
                if (spate_wids_decode(r.p, (size_t)(r.end - r.p), conf->nfns, idsp, &used, errstr,
                                      errstr_size))
                        return -1;
                r.p += used;
        }
        if (spate_agg_state_decode(r.p, (size_t)(r.end - r.p), &e->states, &n, errstr, errstr_size)) {
                if (idsp) {
                        spate_wids_free(*idsp);
                        *idsp = NULL;
                }
                return -1;
        }
        if (n != conf->nfns) {
                snprintf(errstr, errstr_size, "window entry has %d aggregates, the node %d "
                         "(the aggregates changed: use a new store name)", n, conf->nfns);
                goto bad;
        }
        for (int i = 0; i < n; i++)
                if (e->states[i].fn != conf->fns[i]) {
                        snprintf(errstr, errstr_size, "window entry aggregate %d is %s, the node's %s "
                                 "(the aggregates changed: use a new store name)", i,
                                 spate_agg_fn_name(e->states[i].fn), spate_agg_fn_name(conf->fns[i]));
                        goto bad;
                }
        return 0;
bad:
        spate_agg_states_free(e->states, n);
        e->states = NULL;
        if (idsp) {
                spate_wids_free(*idsp);
                *idsp = NULL;
        }
        return -1;
}

/* --- task metadata --- */

void spate_winmeta_init(spate_winmeta_t *m) {
        m->next_offset = 0;
        m->stream_time = INT64_MIN;
        m->nup = 0;
}

void spate_winmeta_encode(const spate_winmeta_t *m, spate_buf_t *out) {
        spate_buf_putc(out, META_VERSION);
        put_u32(out, (uint32_t)m->nup);
        for (int i = 0; i < m->nup; i++) {
                put_u32(out, (uint32_t)m->up[i].partition);
                put_u64(out, (uint64_t)m->up[i].offset);
                put_u32(out, m->up[i].seq);
                put_u64(out, (uint64_t)m->up[i].time);
                spate_buf_putc(out, (char)m->up[i].idle);
                put_u64(out, (uint64_t)m->up[i].cfrom);
                put_u32(out, m->up[i].ck);
        }
}

int spate_winmeta_decode(const void *buf, size_t len, spate_winmeta_t *m, char *errstr,
                         size_t errstr_size) {
        rd_t r = { buf, (const unsigned char *)buf + len, 0 };
        unsigned version = (unsigned)get_n(&r, 1);
        uint32_t nup = (uint32_t)get_n(&r, 4);
        if (nup > SPATE_WINMETA_MAX_UP)
                r.bad = 1;
        for (uint32_t i = 0; i < nup && !r.bad; i++) {
                m->up[i].partition = (int32_t)get_n(&r, 4);
                m->up[i].offset = (int64_t)get_n(&r, 8);
                m->up[i].seq = (uint32_t)get_n(&r, 4);
                m->up[i].time = (int64_t)get_n(&r, 8);
                m->up[i].idle = (uint8_t)get_n(&r, 1);
                m->up[i].cfrom = (int64_t)get_n(&r, 8);
                m->up[i].ck = (uint32_t)get_n(&r, 4);
        }
        if (r.bad || version != META_VERSION || r.p != r.end) {
                snprintf(errstr, errstr_size, "window task metadata is malformed (version %u)", version);
                m->nup = 0;
                return -1;
        }
        m->nup = (int)nup;
        return 0;
}

static spate_winup_t *winup(spate_winmeta_t *m, int32_t partition) {
        for (int i = 0; i < m->nup; i++)
                if (m->up[i].partition == partition)
                        return &m->up[i];
        if (m->nup == SPATE_WINMETA_MAX_UP)
                return NULL;
        m->up[m->nup] = (spate_winup_t){ partition, -1, 0, INT64_MIN, 0, -1, 0 };
        return &m->up[m->nup++];
}

int spate_winmeta_seen(spate_winmeta_t *m, int32_t partition, int64_t offset, uint32_t seq) {
        spate_winup_t *u = winup(m, partition);
        if (!u)
                return -1;
        if (offset < u->offset || (offset == u->offset && seq <= u->seq))
                return 1;
        u->offset = offset;
        u->seq = seq;
        u->cfrom = -1;
        return 0;
}

int spate_winmeta_seen_range(spate_winmeta_t *m, int32_t partition, int64_t from, int64_t to, uint32_t k) {
        spate_winup_t *u = winup(m, partition);
        if (!u)
                return -1;
        if (u->cfrom == from && u->offset == to - 1) {
                if (k <= u->ck)
                        return 1;
                u->ck = k;  /* a later batch of the same records */
                return 0;
        }
        if (to - 1 <= u->offset)
                return to - 1 < u->offset || u->seq == UINT32_MAX ? 1 : 2;
        if (from <= u->offset)
                return 2;
        u->offset = to - 1;
        u->seq = UINT32_MAX;  /* every record of offset to - 1 */
        u->cfrom = from;
        u->ck = k;
        return 0;
}

int spate_winmeta_mark(spate_winmeta_t *m, int32_t partition, int64_t time, int idle) {
        spate_winup_t *u = winup(m, partition);
        if (!u)
                return -1;
        if (time > u->time)
                u->time = time;
        u->idle = (uint8_t)(idle != 0);
        return 0;
}

int64_t spate_winmeta_watermark(const spate_winmeta_t *m, int nparts, int release_empty) {
        int64_t least = INT64_MAX;
        int known = 0, timed = 0;
        for (int i = 0; i < m->nup; i++) {
                const spate_winup_t *u = &m->up[i];
                if (u->partition >= nparts)
                        continue;
                known++;
                if (u->time == INT64_MIN && !(u->idle && release_empty))
                        return INT64_MIN;  /* not started */
                if (u->time != INT64_MIN) {
                        timed++;
                        if (u->time < least)
                                least = u->time;
                }
        }
        return known < nparts || !timed ? INT64_MIN : least;
}

/* --- repartition messages --- */

static void put_val(spate_buf_t *out, const spate_val_t *v) {
        uint64_t bits;
        spate_buf_putc(out, (char)v->type);
        switch (v->type) {
        case SPATE_VAL_NUM:
                memcpy(&bits, &v->num, 8);
                put_u64(out, bits);
                break;
        case SPATE_VAL_STR:
                put_u32(out, (uint32_t)v->len);
                spate_buf_put(out, v->str, v->len);
                break;
        case SPATE_VAL_BOOL:
                spate_buf_putc(out, (char)(v->b ? 1 : 0));
                break;
        default:
                break;
        }
}

static void get_val(rd_t *d, spate_val_t *v) {
        uint64_t bits;
        memset(v, 0, sizeof(*v));
        v->type = (spate_val_type_t)get_n(d, 1);
        switch (v->type) {
        case SPATE_VAL_NULL:
                break;
        case SPATE_VAL_NUM:
                bits = get_n(d, 8);
                memcpy(&v->num, &bits, 8);
                break;
        case SPATE_VAL_STR:
                v->len = (size_t)get_n(d, 4);
                v->str = (const char *)get_bytes(d, v->len);
                break;
        case SPATE_VAL_BOOL:
                v->b = (int)get_n(d, 1);
                break;
        default:
                d->bad = 1;
        }
}

void spate_wpack_begin(spate_buf_t *out) {
        spate_buf_putc(out, REPART_VERSION);
        put_u32(out, 0);  /* the record count, set by finish */
}

void spate_wpack_add(spate_buf_t *out, const spate_wrepart_t *r, const spate_val_t *vals) {
        spate_buf_putc(out, r->id ? KIND_RECORD_ID : KIND_RECORD);
        put_u32(out, (uint32_t)r->up_partition);
        put_u64(out, (uint64_t)r->up_offset);
        put_u32(out, r->seq);
        put_u64(out, (uint64_t)r->t);
        put_u64(out, (uint64_t)r->st);
        put_u32(out, (uint32_t)r->glen);
        spate_buf_put(out, r->group, r->glen);
        if (r->id) {
                put_u32(out, (uint32_t)r->idlen);
                spate_buf_put(out, r->id, r->idlen);
        }
        spate_buf_putc(out, (char)r->nvals);
        for (int i = 0; i < r->nvals; i++)
                put_val(out, &vals[i]);
}

void spate_wpack_add_combined(spate_buf_t *out, const spate_wcomb_t *c) {
        spate_buf_putc(out, KIND_COMBINED);
        put_u32(out, (uint32_t)c->up_partition);
        put_u64(out, (uint64_t)c->from);
        put_u64(out, (uint64_t)c->to);
        put_u32(out, c->k);
        put_u64(out, (uint64_t)c->st);
        put_u64(out, (uint64_t)c->start);
        put_u32(out, (uint32_t)c->glen);
        spate_buf_put(out, c->group, c->glen);
        put_u32(out, (uint32_t)c->slen);
        spate_buf_put(out, c->states, c->slen);
}

void spate_wpack_finish(spate_buf_t *out, uint32_t count, const spate_wmark_t *marks, int n) {
        for (int i = 0; i < 4; i++)
                out->data[1 + i] = (char)(unsigned char)(count >> (8 * i));
        put_u32(out, (uint32_t)n);
        for (int i = 0; i < n; i++) {
                put_u32(out, (uint32_t)marks[i].partition);
                put_u64(out, (uint64_t)marks[i].time);
                spate_buf_putc(out, (char)(marks[i].idle != 0));
        }
}

static int pack_error(char *errstr, size_t errstr_size) {
        snprintf(errstr, errstr_size, "repartition message is malformed (written by another spate "
                 "version?)");
        return -1;
}

int spate_wpack_open(const void *buf, size_t len, spate_wpack_rd_t *rd, char *errstr,
                     size_t errstr_size) {
        rd_t d = { buf, (const unsigned char *)buf + len, 0 };
        rd->version = (unsigned)get_n(&d, 1);
        rd->left = (uint32_t)get_n(&d, 4);
        rd->p = d.p;
        rd->end = d.end;
        return d.bad || (rd->version != REPART_VERSION && rd->version != 2)
                ? pack_error(errstr, errstr_size) : 0;
}

static void get_record(rd_t *d, spate_wrepart_t *r, spate_val_t *vals, int max, int with_id) {
        r->up_partition = (int32_t)get_n(d, 4);
        r->up_offset = (int64_t)get_n(d, 8);
        r->seq = (uint32_t)get_n(d, 4);
        r->t = (int64_t)get_n(d, 8);
        r->st = (int64_t)get_n(d, 8);
        r->glen = (size_t)get_n(d, 4);
        r->group = (const char *)get_bytes(d, r->glen);
        r->id = NULL;
        r->idlen = 0;
        if (with_id) {
                r->idlen = (size_t)get_n(d, 4);
                r->id = (const char *)get_bytes(d, r->idlen);
        }
        r->nvals = (int)get_n(d, 1);
        if (r->nvals > max)
                d->bad = 1;
        for (int i = 0; i < r->nvals && !d->bad; i++)
                get_val(d, &vals[i]);
}

static void get_combined(rd_t *d, spate_wcomb_t *c) {
        c->up_partition = (int32_t)get_n(d, 4);
        c->from = (int64_t)get_n(d, 8);
        c->to = (int64_t)get_n(d, 8);
        c->k = (uint32_t)get_n(d, 4);
        c->st = (int64_t)get_n(d, 8);
        c->start = (int64_t)get_n(d, 8);
        c->glen = (size_t)get_n(d, 4);
        c->group = (const char *)get_bytes(d, c->glen);
        c->slen = (size_t)get_n(d, 4);
        c->states = get_bytes(d, c->slen);
}

int spate_wpack_next(spate_wpack_rd_t *rd, spate_wrepart_t *r, spate_val_t *vals, int max,
                     spate_wcomb_t *c, const void **raw, size_t *rawlen, char *errstr,
                     size_t errstr_size) {
        rd_t d = { rd->p, rd->end, 0 };
        int kind = KIND_RECORD;
        if (!rd->left)
                return 0;
        if (rd->version != 2)
                kind = (int)get_n(&d, 1);
        if (kind == KIND_RECORD || kind == KIND_RECORD_ID)
                get_record(&d, r, vals, max, kind == KIND_RECORD_ID);
        else if (kind == KIND_COMBINED)
                get_combined(&d, c);
        else
                d.bad = 1;
        if (d.bad)
                return pack_error(errstr, errstr_size);
        *raw = rd->p;
        *rawlen = (size_t)(d.p - rd->p);
        rd->p = d.p;
        rd->left--;
        return kind == KIND_COMBINED ? 2 : 1;
}

int spate_wpack_marks(spate_wpack_rd_t *rd, spate_wmark_t *marks, int max, char *errstr,
                      size_t errstr_size) {
        rd_t d = { rd->p, rd->end, 0 };
        uint32_t n = (uint32_t)get_n(&d, 4);
        if (rd->left || n > (uint32_t)max)
                d.bad = 1;
        for (uint32_t i = 0; i < n && !d.bad; i++) {
                marks[i].partition = (int32_t)get_n(&d, 4);
                marks[i].time = (int64_t)get_n(&d, 8);
                marks[i].idle = (int)get_n(&d, 1);
        }
        if (d.bad || d.p != d.end)
                return pack_error(errstr, errstr_size);
        return (int)n;
}

/* --- aggregate specs --- */

#define FN_LIST "count, sum, mean, min, max, first, last, count_distinct, count_if, stddev, " \
                "stuck, staleness, completeness, spikes"

/* Offset of the last comma of spec[a0, a1) outside parentheses, brackets and
 * quotes, or a1 when there is none. */
static size_t last_top_comma(const char *spec, size_t a0, size_t a1) {
        size_t at = a1;
        int depth = 0;
        char quote = 0;
        for (size_t i = a0; i < a1; i++) {
                char c = spec[i];
                if (quote)
                        quote = c == quote ? 0 : quote;
                else if (c == '\'' || c == '"')
                        quote = c;
                else if (c == '(' || c == '[')
                        depth++;
                else if (c == ')' || c == ']')
                        depth--;
                else if (c == ',' && !depth)
                        at = i;
        }
        return at;
}

/* The parameter of spikes(e, L) (a number >= 0, cut off the argument) or
 * completeness(P) (a duration > 0, the whole argument). 0 or -1 with errstr. */
static int spec_param(const char *spec, spate_agg_fn_t fn, size_t *a0, size_t *a1, double *paramp,
                      size_t *posp, char *errstr, size_t errstr_size) {
        char text[64], *end;
        size_t c = fn == SPATE_AGG_SPIKES ? last_top_comma(spec, *a0, *a1) : *a0 - 1, p0 = c + 1;
        if (fn == SPATE_AGG_SPIKES && c == *a1) {
                snprintf(errstr, errstr_size, "spikes(e, limit) needs a limit: the largest jump "
                         "between consecutive readings that is not a spike, e.g. spikes(temp, 5)");
                return -1;
        }
        while (p0 < *a1 && isspace((unsigned char)spec[p0]))
                p0++;
        *posp = p0;
        snprintf(text, sizeof(text), "%.*s", (int)(*a1 - p0), spec + p0);
        if (fn == SPATE_AGG_COMPLETENESS) {
                int64_t ms;
                if (spate_parse_duration(text, &ms) || ms <= 0) {
                        snprintf(errstr, errstr_size, "completeness(P) takes the expected time "
                                 "between readings as a duration, e.g. completeness(10s)");
                        return -1;
                }
                *paramp = (double)ms;
                *a1 = *a0;
                return 0;
        }
        *paramp = strtod(text, &end);
        if (end == text || *end || !(*paramp >= 0) || *paramp > 1e300) {
                snprintf(errstr, errstr_size, "the limit of spikes(e, limit) must be a number >= 0");
                return -1;
        }
        *a1 = c;
        while (*a1 > *a0 && isspace((unsigned char)spec[*a1 - 1]))
                (*a1)--;
        *posp = *a0;
        return 0;
}

int spate_agg_spec_parse(const char *spec, spate_agg_fn_t *fnp, size_t *arg_off,
                         size_t *arg_len, double *paramp, size_t *posp, char *errstr,
                         size_t errstr_size) {
        size_t i = 0, name0, name1, a0, a1, len = strlen(spec);
        char name[64];
        int arity;

        *paramp = 0;
        while (isspace((unsigned char)spec[i]))
                i++;
        name0 = i;
        while (isalnum((unsigned char)spec[i]) || spec[i] == '_')
                i++;
        name1 = i;
        while (isspace((unsigned char)spec[i]))
                i++;
        *posp = name0;
        if (name1 == name0 || spec[i] != '(') {
                snprintf(errstr, errstr_size, "an aggregate is written fn(expression), e.g. "
                         "mean(temp) or count(); functions: " FN_LIST);
                return -1;
        }
        while (len > i && isspace((unsigned char)spec[len - 1]))
                len--;
        if (spec[len - 1] != ')') {
                *posp = len;
                snprintf(errstr, errstr_size, "missing ')' at the end of the aggregate");
                return -1;
        }
        snprintf(name, sizeof(name), "%.*s", (int)(name1 - name0), spec + name0);
        if (spate_agg_fn_parse(name, fnp)) {
                const char *s = spate_suggest(name, spate_agg_fn_names(), SPATE_AGG_NFN);
                snprintf(errstr, errstr_size, "unknown aggregate function '%s'%s%s%s (known: " FN_LIST ")",
                         name, s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "");
                return -1;
        }
        a0 = i + 1;
        a1 = len - 1;
        while (a0 < a1 && isspace((unsigned char)spec[a0]))
                a0++;
        while (a1 > a0 && isspace((unsigned char)spec[a1 - 1]))
                a1--;
        *posp = a0;
        arity = spate_agg_fn_arity(*fnp);
        if (!arity && a1 > a0) {
                snprintf(errstr, errstr_size, *fnp == SPATE_AGG_COUNT
                         ? "count() takes no argument (it counts records); count_distinct(e) counts "
                           "distinct values, count_if(e) the records where e is true"
                         : "%s() takes no argument", name);
                return -1;
        }
        if (arity && a1 == a0) {
                snprintf(errstr, errstr_size, "%s() needs %s, e.g. %s", name,
                         arity == 3 ? "a duration" : "an expression",
                         arity == 3 ? "completeness(10s)" : arity == 2 ? "spikes(temp, 5)" : "mean(temp)");
                return -1;
        }
        if (arity >= 2 && spec_param(spec, *fnp, &a0, &a1, paramp, posp, errstr, errstr_size))
                return -1;
        *arg_off = a0;
        *arg_len = a1 - a0;
        return 0;
}
