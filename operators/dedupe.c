/* dedupe.c - the `dedupe` node: passes the first record of each key and
 * drops the repeats that arrive within `within` of event time (an MQTT QoS 1
 * bridge, a producer retrying). Its state is one engine-owned windowed store
 * (state/wkv.h) with retention `within`: (key, event time the key last
 * passed), so a replay after kill -9 makes the same decisions as the run it
 * replays.
 *
 * A record (key k, time t) first moves its partition's stream time S to
 * max(S, t); it is a repeat when k passed at t0 and S < t0 + within. An
 * entry with t0 + within <= S can never drop a record again (S only grows):
 * it is what the store expires. A record passes only when every entry of
 * its key is expired, and then puts t > S - within (else it is expired on
 * arrival and dropped), so the key's newest unexpired entry is its last
 * pass: the fetch of (S - within, S] stops at the first entry.
 *
 * Its tasks are the input's partitions, so repeats of a key must come in
 * one partition; `repartition: true` makes them so whatever partition they
 * come in (repartition.h): the records go through a topic of the node's own,
 * partitioned by `key`. A task then holds keys from every source partition,
 * whose event times can run far apart (a backlog is read in chunks of
 * minutes a partition), so S stays per source partition, as before: a
 * record is judged against S_p of its own source partition p, against the
 * entries of its key within `within` of S_p on either side (a copy from a
 * partition ahead may have passed at a later time), and an entry expires
 * once every source partition is past it (the smallest S_p: none expires
 * before the task has heard of each source partition, since one read later
 * may be far behind - a record of it, or its writer's mark that it is at
 * its end with nothing to send, after which it holds nothing).
 * Per source partition the task keeps S_p and the next source offset to
 * apply in its node meta, restored with its entries: what a crash of the
 * writing side writes again is below that offset and skipped. */
#include "../engine/iq.h"
#include "../engine/metrics.h"
#include "../engine/node.h"
#include "../engine/topology.h"
#include "../state/wkv.h"
#include "repartition.h"
#include "../serde/json_write.h"
#include "../util/buf.h"
#include "../util/log.h"
#include "../util/mem.h"
#include "../util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE "seen"
/* repartition: true - its own store, so that neither mode's state is read
 * as the other's (their tasks are the partitions of different topics). */
#define STORE_RP "seen_by_key"
/* Node meta per source partition: S_p, and the next offset and sequence
 * number to apply. */
#define PART_META 24

typedef struct dedupe {
        spate_expr_t *key, *time;
        int64_t within, idle_ms;
        spate_metric_t *m_dropped, *m_expired;
        uint64_t passed, dropped, expired;
        const char *store;
        int nsrc;                  /* repartition: true - source partitions */
        unsigned char *meta;       /* nsrc * PART_META: the task's node meta, being changed */
} dedupe_t;

static const spate_prop_t dedupe_props[] = {
        { "key", SPATE_P_EXPR, 1, NULL, NULL, "what identifies a repeat, e.g. msg_id" },
        { "within", SPATE_P_DURATION, 1, NULL, NULL,
          "event time during which a repeat of a key is dropped, e.g. 10m" },
        { "time", SPATE_P_EXPR, 0, NULL, NULL, "event time in ms (default: the record timestamp)" },
        { "repartition", SPATE_P_BOOL, 0, "false", NULL,
          "true: repeats may come in any input partition; the records go through an internal topic "
          "`<application>-<name>-repartition` partitioned by key first" },
        { "expire_after_idle", SPATE_P_DURATION, 0, NULL, NULL,
          "repartition: true - once an input partition had no record this long (wall clock), it stops "
          "holding the expiry of keys until it sends again" },
        { NULL }
};

static const spate_bind_t dedupe_binds[] = {
        SPATE_BIND("within", dedupe_t, within),
        SPATE_BIND("expire_after_idle", dedupe_t, idle_ms),
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
        d->m_expired = spate_metrics_counter(spate_metrics_default(), "spate_dedupe_expired_total",
                                             "Keys whose last pass fell more than `within` behind the "
                                             "stream time, dropped from the state",
                                             "node", n->name, NULL);
        n->out = n->in;
        int rp = spate_topology_input_of(n->topo, n) != NULL;
        d->store = rp ? STORE_RP : STORE;
        if (spate_node_add_window_store(n, d->store, d->within, errstr, errstr_size))
                return -1;
        if (d->idle_ms && !rp)
                return spate_node_error(n, spate_node_param(n, "expire_after_idle"), errstr, errstr_size,
                                        "'expire_after_idle' needs 'repartition: true' (without it each "
                                        "input partition's keys expire by that partition's own time)");
        if (rp) {
                spate_repartition_idle(n, d->idle_ms);
                d->nsrc = spate_kv_node_partitions(n);
                d->meta = spate_xmalloc((size_t)d->nsrc * PART_META);
        }
        return 0;
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

/* Any unexpired entry in the fetched range makes the record a repeat. */
static int seen(void *opaque, int64_t ts, const void *val, size_t vlen) {
        (void)ts, (void)val, (void)vlen;
        return ++*(int *)opaque;
}

/* The store's stream time to t, counting what expires. */
static int advance(dedupe_t *d, spate_kv_t *kv, int64_t t) {
        uint64_t before = d->expired;
        int rc = spate_wkv_advance(kv, t, &d->expired);
        if (d->m_expired && d->expired > before)
                spate_metric_add(d->m_expired, d->expired - before);
        return rc;
}

/* S_p of a source partition whose writer found it empty at its end (a
 * mark): it holds no expiry, unlike INT64_MIN (nothing heard of it yet). */
#define EMPTY (INT64_MIN + 1)
/* In a source partition's next sequence number (an int32): marked idle
 * (expire_after_idle) since its last record here, so its S_p holds no
 * expiry while another partition's does. */
#define LIFTED (INT64_C(1) << 62)

/* The task's node meta into d->meta: 0, or -1 after spate_kv_fail(). */
static int meta_load(dedupe_t *d, spate_kv_t *kv) {
        size_t len, size = (size_t)d->nsrc * PART_META;
        const void *m = spate_kv_meta(kv, &len);
        if (len == size) {
                memcpy(d->meta, m, size);
                return 0;
        }
        if (len)
                return spate_kv_fail(kv, "its state is not of this version of spate or of this partition "
                                     "count of the source");
        for (int p = 0; p < d->nsrc; p++) {
                spate_put_be64(d->meta + p * PART_META, INT64_MIN);
                spate_put_be64(d->meta + p * PART_META + 8, 0);
                spate_put_be64(d->meta + p * PART_META + 16, 0);
        }
        return 0;
}

/* Keeps d->meta and moves the store's stream time to the smallest S_p of
 * the source partitions that hold it: neither found empty nor idle
 * (INT64_MIN, no expiry, while one has sent nothing here); when every one
 * with a time is idle, none holds: the largest of theirs. */
static int meta_store(dedupe_t *d, spate_kv_t *kv) {
        int64_t low = INT64_MAX, idle_high = INT64_MIN;
        spate_kv_set_meta(kv, d->meta, (size_t)d->nsrc * PART_META);
        for (int p = 0; p < d->nsrc; p++) {
                int64_t s = spate_get_be64(d->meta + p * PART_META);
                if (s == EMPTY)
                        continue;
                if (spate_get_be64(d->meta + p * PART_META + 16) & LIFTED)
                        idle_high = s > idle_high ? s : idle_high;
                else if (s < low)
                        low = s;
        }
        return advance(d, kv, low == INT64_MAX ? idle_high : low);
}

/* repartition: true - moves the record's source partition's S_p and next
 * (offset, sequence number) to apply in the task's node meta: 0 with
 * *now = S_p, 1 for a record applied before (written again by a crash
 * upstream), -1 after spate_ctx_fail(). */
static int source_time(dedupe_t *d, spate_kv_t *kv, const spate_origin_t *o, int64_t t, int64_t *now) {
        if (meta_load(d, kv))
                return -1;
        if (o->up_partition < 0 || o->up_partition >= d->nsrc)
                return spate_kv_fail(kv, "a record of no source partition");
        unsigned char *at = d->meta + o->up_partition * PART_META;
        int64_t next = spate_get_be64(at + 8);
        if (o->up_offset < next || (o->up_offset == next && o->up_seq < (spate_get_be64(at + 16) & ~LIFTED)))
                return 1;
        if (t > spate_get_be64(at))
                spate_put_be64(at, t);
        spate_put_be64(at + 8, o->up_offset);
        spate_put_be64(at + 16, o->up_seq + 1);
        *now = spate_get_be64(at);
        return meta_store(d, kv);
}

/* A mark of source partitions found empty: those this task has heard
 * nothing of stop holding its expiry. One it heard of keeps its S_p (its
 * records may have come before the writer's restart). An idle mark
 * (expire_after_idle) lifts each until its next record here. */
static int dedupe_mark(spate_node_t *n, const spate_rp_mark_t *m, spate_ctx_t *ctx) {
        dedupe_t *d = n->ctx;
        spate_kv_t *kv;
        int rc, changed = 0;
        if ((rc = spate_ctx_kv(ctx, n, d->store, &kv)))
                return rc < 0 ? -1 : 0;
        if (meta_load(d, kv))
                return -1;
        for (int i = 0; i < m->n; i++) {
                if (m->parts[i] < 0 || m->parts[i] >= d->nsrc)
                        return spate_kv_fail(kv, "a mark of a source partition the source does not have");
                unsigned char *at = d->meta + m->parts[i] * PART_META;
                int64_t sp = spate_get_be64(at), seq = spate_get_be64(at + 16);
                if (sp == INT64_MIN) {
                        spate_put_be64(at, EMPTY);
                        changed = 1;
                } else if (m->idle && sp != EMPTY && !(seq & LIFTED)) {
                        spate_put_be64(at + 16, seq | LIFTED);
                        changed = 1;
                }
        }
        return changed ? meta_store(d, kv) : 0;
}

static int dedupe_process(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx) {
        dedupe_t *d = n->ctx;
        spate_kv_t *kv;
        spate_value_t v;
        const char *key;
        size_t klen;
        int64_t t, now = 0, ahead = 0;
        char err[512];
        int rc, repeat = 0;

        if (record_time(n, rec, ctx, &t))
                return -1;
        if (spate_expr_eval(d->key, rec, spate_ctx_arena(ctx), &v, err, sizeof(err)))
                return spate_ctx_fail(ctx, n, "key: %s", err);
        if (spate_value_to_key(&v, spate_ctx_arena(ctx), &key, &klen))
                return spate_ctx_fail(ctx, n, "key '%s' is %s, not a string, number or bool",
                                      spate_expr_text(d->key), spate_vtype_name(v.type));
        if ((rc = spate_ctx_kv(ctx, n, d->store, &kv)))
                return rc < 0 ? -1 : 0;  /* 1: in the restored state, its output acknowledged */
        if (d->nsrc) {
                if ((rc = source_time(d, kv, rec->origin, t, &now)))
                        return rc < 0 ? -1 : 0;
                ahead = d->within - 1;
        } else {
                if (advance(d, kv, t))
                        return -1;
                now = spate_kv_stream_time(kv);
        }
        if (spate_wkv_fetch(kv, key, klen, now - d->within + 1, now + ahead, seen, &repeat))
                return -1;
        if (repeat) {
                d->dropped++;
                if (d->m_dropped)
                        spate_metric_add(d->m_dropped, 1);
                return 0;
        }
        if (spate_wkv_put(kv, key, klen, t, NULL, 0))
                return -1;
        d->passed++;
        return spate_emit(n, rec, ctx);
}

/* A key's entry: when (event time, ms) it last passed. */
static void render_seen(const void *key, size_t klen, int64_t ts, const void *val, size_t vlen,
                        spate_buf_t *out) {
        char num[32];
        (void)val, (void)vlen;
        spate_buf_put(out, "{\"key\":", 7);
        spate_json_write_str(out, key, klen);
        spate_buf_put(out, ",\"passed_at\":", 13);
        spate_buf_put(out, num, (size_t)snprintf(num, sizeof(num), "%lld", (long long)ts));
        spate_buf_putc(out, '}');
}

/* A record of its repartition topic (repartition: true). */
static int dedupe_input(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx) {
        spate_rp_mark_t mark;
        int rc = spate_repartition_read(n, rec, ctx, &mark);
        if (rc)
                return rc < 0 ? -1 : dedupe_mark(n, &mark, ctx);
        return dedupe_process(n, rec, ctx);
}

static int dedupe_query(const spate_node_t *n, const spate_iq_t *q, spate_iq_rows_t *rows, char *errstr,
                        size_t errstr_size) {
        const dedupe_t *d = n->ctx;
        return spate_wkv_query(n, d->store, q, rows, render_seen, errstr, errstr_size);
}

static void dedupe_destroy(spate_node_t *n) {
        dedupe_t *d = n->ctx;
        if (d->passed || d->dropped)
                spate_info("dedupe '%s': %llu records passed, %llu repeats dropped, %llu keys expired", n->name,
                           (unsigned long long)d->passed, (unsigned long long)d->dropped,
                           (unsigned long long)d->expired);
        spate_expr_destroy(d->key);
        spate_expr_destroy(d->time);
        free(d->meta);
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
        .input = dedupe_input,
        .query = dedupe_query,
        .destroy = dedupe_destroy,
        .upstream = &spate_op_repartition,
        .splits = spate_repartition_splits,
};
