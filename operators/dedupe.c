/* dedupe.c - the `dedupe` node: passes the first record of each key and
 * drops the repeats that arrive within `within` of event time (an MQTT QoS 1
 * bridge, a producer retrying). Its state is one engine-owned store
 * (state/kv.h): key -> event time the key last passed, so a replay after
 * kill -9 makes the same decisions as the run it replays.
 *
 * A record (key k, time t) first moves its partition's stream time S to
 * max(S, t); it is a repeat when k passed at t0 and S < t0 + within. An
 * entry with t0 + within <= S can never drop a record again (S only grows),
 * so purging it - whenever S crosses a multiple of within/2 - changes no
 * decision. */
#include "../engine/iq.h"
#include "../engine/metrics.h"
#include "../engine/node.h"
#include "../state/kv.h"
#include "../serde/json_write.h"
#include "../util/buf.h"
#include "../util/log.h"
#include "../util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE "seen"

typedef struct dedupe {
        spate_expr_t *key, *time;
        int64_t within;
        spate_metric_t *m_dropped;
        uint64_t passed, dropped, purged;
        spate_buf_t expired;         /* keys a purge collects: [u32 len][key]... */
} dedupe_t;

static const spate_prop_t dedupe_props[] = {
        { "key", SPATE_P_EXPR, 1, NULL, NULL, "what identifies a repeat, e.g. msg_id" },
        { "within", SPATE_P_DURATION, 1, NULL, NULL,
          "event time during which a repeat of a key is dropped, e.g. 10m" },
        { "time", SPATE_P_EXPR, 0, NULL, NULL, "event time in ms (default: the record timestamp)" },
        { NULL }
};

static const spate_bind_t dedupe_binds[] = {
        SPATE_BIND("within", dedupe_t, within),
        { NULL }
};

static int dedupe_init(spate_node_t *n, char *errstr, size_t errstr_size) {
        dedupe_t *d = n->ctx;
        if (!(d->key = spate_node_expr_typed(n, "key", n->in, SPATE_KEY_TYPES, "a string, number or bool",
                                             errstr, errstr_size)))
                return -1;
        d->time = spate_node_time_expr(n, "time", n->in, errstr, errstr_size);
        if (!d->time && *errstr)
                return -1;
        if (d->within <= 0)
                return spate_node_error(n, spate_node_param(n, "within"), errstr, errstr_size,
                                        "'within' must be a positive duration, e.g. 10m");
        d->m_dropped = spate_metrics_counter(spate_metrics_default(), "spate_dedupe_dropped_total",
                                             "Records dropped as repeats of a key seen within `within`",
                                             "node", n->name, NULL);
        n->out = n->in;
        return spate_node_add_store(n, STORE, errstr, errstr_size);
}

static int record_time(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx, int64_t *t) {
        dedupe_t *d = n->ctx;
        spate_value_t v;
        char err[512];
        *t = rec->ts;
        if (!d->time)
                return 0;
        if (spate_expr_eval(d->time, rec, spate_ctx_arena(ctx), &v, err, sizeof(err)))
                return spate_ctx_fail(ctx, n, "time: %s", err);
        if (v.type != SPATE_V_NUM || spate_time_from_num(v.u.num, t))
                return spate_ctx_fail(ctx, n, "time '%s' is not a number of ms within ±%lld of 1970",
                                      spate_expr_text(d->time), (long long)SPATE_MAX_TIME_MS);
        return spate_ctx_check_future(ctx, n, *t);
}

typedef struct {
        dedupe_t *d;
        int64_t stream_time;
} purge_t;

static int collect_expired(void *opaque, const void *key, size_t klen, const void *val, size_t vlen) {
        purge_t *p = opaque;
        uint32_t kl = (uint32_t)klen;
        if (vlen == 8 && spate_get_be64(val) > p->stream_time - p->d->within)
                return 0;
        spate_buf_put(&p->d->expired, &kl, 4);
        spate_buf_put(&p->d->expired, key, klen);
        return 0;
}

/* Entries that can no longer drop a record go (see the top of the file). */
static int purge(spate_node_t *n, spate_kv_t *kv, int64_t stream_time) {
        dedupe_t *d = n->ctx;
        purge_t p = { d, stream_time };
        d->expired.len = 0;
        if (spate_kv_each(kv, collect_expired, &p))
                return -1;
        for (size_t at = 0; at < d->expired.len;) {
                uint32_t kl;
                memcpy(&kl, d->expired.data + at, 4);
                if (spate_kv_delete(kv, d->expired.data + at + 4, kl))
                        return -1;
                at += 4 + kl;
                d->purged++;
        }
        return 0;
}

static int dedupe_process(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx) {
        dedupe_t *d = n->ctx;
        spate_kv_t *kv;
        spate_value_t v;
        const char *key;
        size_t klen, vlen;
        const void *val;
        int64_t t, before, now;
        unsigned char tb[8];
        char err[512];
        int rc;

        if (record_time(n, rec, ctx, &t))
                return -1;
        if (spate_expr_eval(d->key, rec, spate_ctx_arena(ctx), &v, err, sizeof(err)))
                return spate_ctx_fail(ctx, n, "key: %s", err);
        if (spate_value_to_key(&v, spate_ctx_arena(ctx), &key, &klen))
                return spate_ctx_fail(ctx, n, "key '%s' is %s, not a string, number or bool",
                                      spate_expr_text(d->key), spate_vtype_name(v.type));
        if ((rc = spate_ctx_kv(ctx, n, STORE, &kv)))
                return rc < 0 ? -1 : 0;  /* 1: in the restored state, its output acknowledged */
        before = spate_kv_stream_time(kv);
        now = before > t ? before : t;
        spate_kv_set_stream_time(kv, now);
        if ((rc = spate_kv_get(kv, key, klen, &val, &vlen)) < 0)
                return -1;
        if (rc == 0 && vlen == 8 && now < spate_get_be64(val) + d->within) {
                d->dropped++;
                if (d->m_dropped)
                        spate_metric_add(d->m_dropped, 1);
        } else {
                spate_put_be64(tb, t);
                if (spate_kv_put(kv, key, klen, tb, sizeof(tb)))
                        return -1;
                d->passed++;
                if (spate_emit(n, rec, ctx))
                        return -1;
        }
        int64_t half = d->within / 2 > 0 ? d->within / 2 : 1;
        if (before != INT64_MIN && now / half > before / half)
                return purge(n, kv, now);
        return 0;
}

/* A key's entry: when (event time, ms) it last passed. */
static void render_seen(const void *key, size_t klen, const void *val, size_t vlen, spate_buf_t *out) {
        char num[32];
        spate_buf_put(out, "{\"key\":", 7);
        spate_json_write_str(out, key, klen);
        spate_buf_put(out, ",\"passed_at\":", 13);
        if (vlen == 8)
                spate_buf_put(out, num, (size_t)snprintf(num, sizeof(num), "%lld",
                                                         (long long)spate_get_be64(val)));
        else
                spate_buf_put(out, "null", 4);
        spate_buf_putc(out, '}');
}

static int dedupe_query(const spate_node_t *n, const spate_iq_t *q, spate_iq_rows_t *rows, char *errstr,
                        size_t errstr_size) {
        return spate_kv_query(n, STORE, q, rows, render_seen, errstr, errstr_size);
}

static void dedupe_destroy(spate_node_t *n) {
        dedupe_t *d = n->ctx;
        if (d->passed || d->dropped)
                spate_info("dedupe '%s': %llu records passed, %llu repeats dropped, %llu keys purged", n->name,
                           (unsigned long long)d->passed, (unsigned long long)d->dropped,
                           (unsigned long long)d->purged);
        spate_expr_destroy(d->key);
        spate_expr_destroy(d->time);
        spate_buf_free(&d->expired);
}

const spate_op_def_t spate_op_dedupe = {
        .name = "dedupe",
        .role = SPATE_ROLE_OPERATOR,
        .doc = "Passes the first record of each `key` and drops its repeats within `within` of event "
               "time (counted in spate_dedupe_dropped_total, not dead-lettered). Exact through crashes: "
               "its state is an engine-owned store (changelog + RocksDB).",
        .props = dedupe_props,
        .binds = dedupe_binds,
        .ctx_size = sizeof(dedupe_t),
        .init = dedupe_init,
        .process = dedupe_process,
        .query = dedupe_query,
        .destroy = dedupe_destroy,
};
