/* window_repart.c - the `window` node's repartition path (group_by). The
 * upstream half batches records into one message per downstream partition
 * and commit, closed by marks of its source partitions' stream times; the
 * downstream half unpacks them into its tasks.
 *
 * Why batches: a Kafka message costs librdkafka more on each side than the
 * whole aggregation of a record; one message per downstream partition and
 * commit (or per PACK_BYTES) carries hundreds of records for the cost of one.
 * Records keep their source partition, offset and sequence number, so the
 * downstream replay filter works record by record however the batches of a
 * replay are cut.
 *
 * Why marks: a task receives the source partitions interleaved in whatever
 * order the consumers fetched them - during a backlog, hours of event time
 * apart - so its own latest event time would close windows that a slower
 * source partition still feeds. So lateness is judged here, upstream,
 * against the record's own source partition, whose stream time is committed
 * with its offset (the same records are late in every run, crashes or not);
 * and a task closes a window only once every source partition has passed it
 * (spate_winmeta_watermark()). */
#include "window_int.h"
#include "../../serde/json_write.h"
#include "../../util/log.h"
#include "../../util/util.h"

#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>

#define PACK_BYTES 65536
/* Batches kept before a commit is asked for: bounds the combiner's memory
 * when groups x windows x source partitions per commit are many. */
#define COMB_MAX 200000
/* One commit's combined batches for a downstream partition go in one
 * message (see add_batch()); a commit is asked for once they are estimated
 * at this size, far below a broker's 1 MB message limit. */
#define COMB_MSG_BYTES (256 * 1024)
/* The estimate of a batch: its group, and this much per aggregate and for
 * the rest (window, offsets, index, lengths). */
#define COMB_BATCH_BYTES 64
#define COMB_AGG_BYTES 24

int32_t win_repart_partition(const win_t *w, const char *group, size_t glen) {
        return rd_kafka_msg_partitioner_murmur2(NULL, group, glen, w->partitions, NULL, NULL);
}

static win_up_t *up_get(win_t *w, int32_t p) {
        if (p >= w->nup) {
                win_up_t *up = realloc(w->up, (size_t)(p + 1) * sizeof(*up));
                if (!up)
                        return NULL;
                for (int i = w->nup; i <= p; i++)
                        up[i] = (win_up_t){ .offset = -1, .time = INT64_MIN, .sent_time = INT64_MIN,
                                            .sent_idle = -1, .cut = -1, .comb_from = -1 };
                w->up = up;
                w->nup = p + 1;
        }
        return &w->up[p];
}

int win_up_assign(spate_node_t *n, int32_t p, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        win_up_t *u = up_get(w, p);
        if (!u)
                return -1;
        *u = (win_up_t){ .offset = -1, .assigned = 1, .sent_time = INT64_MIN, .sent_idle = -1,
                         .time = spate_ctx_partition_time(ctx, n, w->source_topic, p),
                         .cut = spate_ctx_partition_cut(ctx, n, w->source_topic, p),
                         .comb_from = -1,
                         .quiet_since = ctx->now_ms ? ctx->now_ms : spate_now_ms() };
        u->quiet_base = u->time;
        return 0;
}

void win_up_revoke(win_t *w, int32_t p) {
        if (p >= w->nup)
                return;
        w->up[p].assigned = 0;
        /* Batches not sent (their cuts could not be committed): the offsets
         * were not committed either, so the new owner replays the records. */
        if (w->comb && w->up[p].comb_from >= 0)
                win_comb_drop(w->comb, p);
        w->up[p].comb_from = -1;
}

/* The stream time a mark carries: at the end of a bounded input, the end of
 * the stream (not committed: the partition keeps its own time). */
static int64_t mark_time(const win_up_t *u, const spate_ctx_t *ctx) {
        return ctx->end_of_input ? SPATE_WINDOW_END_OF_STREAM : u->time;
}

/* Sends the repartition message for partition d, closed by the marks of the
 * source partitions. */
static int pack_send(spate_node_t *n, int32_t d, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        spate_buf_t *pack = &w->packs[d];
        int nm = 0;
        /* Not of a partition whose combined batches are still to go: its
         * time already counts their records. */
        for (int p = 0; p < w->nup && nm < SPATE_WINMETA_MAX_UP; p++)
                if (w->up[p].assigned && w->up[p].comb_from < 0)
                        w->marks[nm++] = (spate_wmark_t){ p, mark_time(&w->up[p], ctx), w->up[p].idle };
        if (!pack->len)
                spate_wpack_begin(pack);
        spate_wpack_finish(pack, w->npacked[d], w->marks, nm);
        int rc = spate_ctx_produce(ctx, w->repartition_topic, d, NULL, 0, pack->data, pack->len);
        pack->len = 0;
        w->npacked[d] = 0;
        return rc ? spate_ctx_fail(ctx, n, "%s", ctx->errstr) : 0;
}

static int combine(spate_node_t *n, spate_ctx_t *ctx, win_up_t *u, const spate_origin_t *o, int64_t t,
                   const char *group, size_t glen, const spate_val_t *args) {
        win_t *w = n->ctx;
        spate_val_t vals[WIN_MAX_AGGS];
        win_per_aggregate(w, args, vals);
        spate_wrec_t r = { group, glen, t, vals, { t, o->partition, o->offset }, u->time, NULL, 0 };
        if (u->comb_from < 0)
                u->comb_from = o->offset;
        size_t before = win_comb_count(w->comb);
        if (win_comb_add(w->comb, o->partition, &r))
                return spate_ctx_fail(ctx, n, "out of memory");
        size_t added = win_comb_count(w->comb) - before;
        if (added) {
                int32_t d = win_repart_partition(w, group, glen);
                w->comb_bytes[d] += added * (glen + COMB_BATCH_BYTES + COMB_AGG_BYTES * (size_t)w->conf.nfns);
                if (w->comb_bytes[d] >= COMB_MSG_BYTES)
                        spate_ctx_request_commit(ctx);
        }
        if (win_comb_count(w->comb) >= COMB_MAX)
                spate_ctx_request_commit(ctx);
        return 0;
}

int win_repartition(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx, int64_t t,
                    const char *group, size_t glen, const spate_val_t *args, const char *id, size_t idlen) {
        win_t *w = n->ctx;
        const spate_origin_t *o = rec->origin;
        win_up_t *u = up_get(w, o->partition);
        char a[32], b[32];

        if (!u)
                return spate_ctx_fail(ctx, n, "out of memory");
        if (u->offset == o->offset) {
                u->seq++;  /* another record of one input message (explode) */
        } else {
                u->offset = o->offset;
                u->seq = 0;
        }
        u->idle = 0;
        u->got = 1;
        if (t > u->time)
                u->time = t;
        /* With corrections a version of a closed window may revise it: the
         * downstream half, which knows the window's ids, judges it by st. */
        if (!w->dedupe_by && spate_window_is_late(&w->conf.spec, t, u->time)) {
                spate_fmt_iso_ms(t, a, sizeof(a));
                spate_fmt_iso_ms(u->time, b, sizeof(b));
                return win_late(n, ctx, "late: group '%.*s' at %s, stream time of %s[%d] %s, "
                                      "grace %lld ms", (int)glen, group, a, o->topic, o->partition, b,
                                      (long long)w->conf.spec.grace);
        }
        if (w->comb && o->offset >= u->cut)
                return combine(n, ctx, u, o, t, group, glen, args);
        int32_t d = win_repart_partition(w, group, glen);
        spate_buf_t *pack = &w->packs[d];
        spate_wrepart_t r = { o->partition, o->offset, u->seq, t, u->time, group, glen, id, idlen, w->nargs };
        if (!pack->len)
                spate_wpack_begin(pack);
        spate_wpack_add(pack, &r, args);
        w->npacked[d]++;
        return pack->len >= PACK_BYTES ? pack_send(n, d, ctx) : 0;
}


/* close_after_idle, per source partition: once it had no record that long,
 * its stream time follows the wall clock. */
static void follow_clock(const win_t *w, win_up_t *u, int64_t now) {
        if (u->got) {
                u->got = 0;
                u->quiet_since = now;
                u->quiet_base = u->time;
        } else if (w->idle_ms && u->time != INT64_MIN && now - u->quiet_since >= w->idle_ms &&
                   u->quiet_base + (now - u->quiet_since) > u->time) {
                u->time = u->quiet_base + (now - u->quiet_since);
        }
}

typedef struct {
        spate_node_t *n;
        spate_ctx_t *ctx;
        uint32_t *k;                 /* batches so far, by source x downstream partition */
} comb_send_t;

static int add_batch(void *opaque, spate_wcomb_t *b) {
        comb_send_t *cs = opaque;
        win_t *w = cs->n->ctx;
        const win_up_t *u = &w->up[b->up_partition];
        int32_t d = win_repart_partition(w, b->group, b->glen);
        b->from = u->comb_from;
        b->to = u->offset + 1;
        b->k = cs->k[(size_t)b->up_partition * (size_t)w->partitions + (size_t)d]++;
        if (!w->packs[d].len)
                spate_wpack_begin(&w->packs[d]);
        spate_wpack_add_combined(&w->packs[d], b);
        w->npacked[d]++;
        /* Never split over messages, whatever PACK_BYTES says: a task takes
         * the first batch of a range as the whole range [from, to) applied
         * (the replay below the cut goes record by record), so a crash
         * between two messages of one range would lose the records of the
         * batches in the second. One message is delivered whole or not. */
        return 0;
}

/* The combined batches, after their cuts are committed: a replay from the
 * committed offsets then cuts where they were cut. 0, 1 when they wait (no
 * marks may go either, since they would close windows the batches feed),
 * or -1. */
static int send_combined(spate_node_t *n, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        comb_send_t cs = { n, ctx, calloc((size_t)w->nup * (size_t)w->partitions, sizeof(*cs.k)) };
        if (!cs.k)
                return spate_ctx_fail(ctx, n, "combining: out of memory");
        for (int p = 0; p < w->nup; p++)
                if (w->up[p].comb_from >= 0)
                        spate_ctx_set_partition_cut(ctx, n, w->source_topic, p, w->up[p].offset + 1);
        if (spate_ctx_commit_cuts(ctx)) {
                /* During a rebalance: the batches wait, and so do the offsets
                 * of their records - if the partitions move, their new owner
                 * replays the records (win_up_revoke() drops the batches). */
                spate_warn("window '%s': %s; the combined batches wait for the next commit", n->name,
                           ctx->errstr);
                spate_ctx_hold_offsets(ctx, w->source_topic);
                free(cs.k);
                return 1;
        }
        int rc = win_comb_each(w->comb, add_batch, &cs);
        free(cs.k);
        if (rc)
                return rc > 0 ? -1 : spate_ctx_fail(ctx, n, "combining: out of memory");
        win_comb_clear(w->comb);
        memset(w->comb_bytes, 0, (size_t)w->partitions * sizeof(*w->comb_bytes));
        for (int p = 0; p < w->nup; p++)
                w->up[p].comb_from = -1;
        return 0;
}

int win_packs_flush(spate_node_t *n, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        int64_t now = ctx->now_ms ? ctx->now_ms : spate_now_ms();
        int changed = 0;
        int rc = w->comb && win_comb_count(w->comb) ? send_combined(n, ctx) : 0;
        if (rc)
                return rc < 0 ? -1 : 0;
        for (int p = 0; p < w->nup; p++) {
                win_up_t *u = &w->up[p];
                if (!u->assigned)
                        continue;
                u->idle = spate_ctx_caught_up(ctx, w->source_topic, p);
                follow_clock(w, u, now);
                /* Committed with the partition's offset, which this commit covers. */
                if (u->time != INT64_MIN)
                        spate_ctx_set_partition_time(ctx, n, w->source_topic, p, u->time);
                changed |= u->idle != u->sent_idle || mark_time(u, ctx) != u->sent_time;
        }
        /* A changed mark goes to every downstream partition, even with no
         * records for it: each must know how far every source partition got. */
        for (int d = 0; d < w->partitions; d++)
                if ((w->packs[d].len || changed) && pack_send(n, d, ctx))
                        return -1;
        for (int p = 0; changed && p < w->nup; p++) {
                w->up[p].sent_idle = w->up[p].idle;
                w->up[p].sent_time = mark_time(&w->up[p], ctx);
        }
        return 0;
}

/* A repartition entry that cannot be applied goes to the DLQ as something
 * its reader can act on, never spate's internal encoding: where its source
 * records are (source topic, partition, offsets [from, to), window) as JSON,
 * with origin headers naming the first of them, so that they can be read
 * again from the source topic. */
static void dead_letter(spate_ctx_t *ctx, const win_t *w, const char *group, size_t glen, int32_t up_partition,
                        int64_t from, int64_t to, int64_t wstart) {
        spate_buf_t b = { 0 };
        char num[96], iso[32];
        spate_buf_put(&b, "{\"source_topic\":", sizeof("{\"source_topic\":") - 1);
        spate_json_write_str(&b, w->source_topic, strlen(w->source_topic));
        spate_buf_put(&b, num, (size_t)snprintf(num, sizeof(num), ",\"source_partition\":%d,\"source_offsets\":"
                                                 "[%lld,%lld],\"group\":", up_partition, (long long)from,
                                                 (long long)to));
        spate_json_write_str(&b, group, glen);
        if (wstart != INT64_MIN) {
                spate_fmt_iso_ms(wstart, iso, sizeof(iso));
                spate_buf_put(&b, num, (size_t)snprintf(num, sizeof(num), ",\"window_start\":\"%s\"", iso));
        }
        spate_buf_putc(&b, '}');
        spate_origin_t one = { w->source_topic, up_partition, from, b.data, b.len, group, glen, up_partition, from };
        spate_ctx_dead_letter(ctx, &one);
        spate_buf_free(&b);
}

static int apply_marks(spate_node_t *n, win_task_t *task, spate_wpack_rd_t *rd, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        char err[256];
        int nm;
        if ((nm = spate_wpack_marks(rd, w->marks, SPATE_WINMETA_MAX_UP, err, sizeof(err))) < 0)
                return spate_ctx_fail(ctx, n, "%s", err);
        for (int i = 0; i < nm; i++) {
                const spate_wmark_t *m = &w->marks[i];
                if (spate_winmeta_mark(&task->meta, m->partition, m->time, m->idle))
                        return spate_ctx_fail(ctx, n, "more than %d upstream partitions",
                                              SPATE_WINMETA_MAX_UP);
                if (m->partition >= w->source_partitions)
                        w->source_partitions = m->partition + 1;
        }
        win_task_watermark(w, task, ctx->now_ms ? ctx->now_ms : spate_now_ms());
        return 0;
}

/* A source partition that never had a record holds the task's windows like
 * a quiet one: only under close_after_idle is it released, and only once
 * that long has passed since the first stream time reached the task - not
 * since the application started, which may be long before its input. */
void win_task_watermark(const win_t *w, win_task_t *t, int64_t now) {
        for (int i = 0; !t->data_since && i < t->meta.nup; i++)
                if (t->meta.up[i].time != INT64_MIN)
                        t->data_since = now;
        int release = w->idle_ms && t->data_since && now - t->data_since >= w->idle_ms;
        spate_winstate_advance(t->ws, spate_winmeta_watermark(&t->meta, w->source_partitions, release));
}

static int apply_combined(spate_node_t *n, win_task_t *task, const spate_wcomb_t *c, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        spate_agg_state_t *states;
        char err[256], a[32], b[32];
        int ns, rc = spate_winmeta_seen_range(&task->meta, c->up_partition, c->from, c->to, c->k);
        if (rc < 0)
                return spate_ctx_fail(ctx, n, "more than %d upstream partitions", SPATE_WINMETA_MAX_UP);
        if (rc == 1)
                return 0;  /* an upstream replay sent it again */
        if (rc == 2)
                return spate_ctx_fail(ctx, n, "combined batch of source partition %d, offsets [%lld, %lld), "
                                      "overlaps records applied before", c->up_partition,
                                      (long long)c->from, (long long)c->to);
        if (spate_agg_state_decode(c->states, c->slen, &states, &ns, err, sizeof(err)))
                return spate_ctx_fail(ctx, n, "combined batch: %s", err);
        rc = ns == w->conf.nfns ? spate_winstate_merge(task->ws, c->group, c->glen, c->start, c->st, states) : -2;
        spate_agg_states_free(states, ns);
        win_task_touched(task, ctx);
        if (rc == -2)
                return spate_ctx_fail(ctx, n, "combined batch has %d aggregates, not %d (topology changed?)",
                                      ns, w->conf.nfns);
        if (rc < 0)
                return spate_ctx_fail(ctx, n, "%s", spate_winstate_error(task->ws));
        if (rc == 0)
                return 0;
        spate_fmt_iso_ms(c->start, a, sizeof(a));
        spate_fmt_iso_ms(task->ws->stream_time, b, sizeof(b));
        /* On time by its own partition (judged upstream), so the others
         * closed the window before this partition reached it, and it is gone. */
        return win_late(n, ctx, "late: combined batch of group '%.*s', window %s: the other source "
                        "partitions closed it (task stream time %s) before source partition %d reached it, "
                        "and it is past retention (offsets [%lld, %lld))", (int)c->glen, c->group, a, b,
                        c->up_partition, (long long)c->from, (long long)c->to);
}

int win_input(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        const spate_origin_t *o = rec->origin;
        spate_val_t args[WIN_MAX_AGGS], vals[WIN_MAX_AGGS];
        spate_wpack_rd_t rd;
        spate_wrepart_t up;
        spate_wcomb_t comb;
        const void *raw;
        size_t rawlen;
        char err[256];
        win_task_t *task;
        int rc;

        if (!(task = win_task_get(w, o->partition)))
                return spate_ctx_fail(ctx, n, "partition %d of %s is not assigned here",
                                      o->partition, w->input_topic);
        if (o->offset < task->resume_offset)
                return 0;  /* records and marks are in the restored state */
        if (spate_wpack_open(o->payload, o->len, &rd, err, sizeof(err)))
                return spate_ctx_fail(ctx, n, "%s", err);
        while ((rc = spate_wpack_next(&rd, &up, args, WIN_MAX_AGGS, &comb, &raw, &rawlen, err,
                                      sizeof(err))) > 0) {
                if (rc == 2) {
                        if (apply_combined(n, task, &comb, ctx))
                                dead_letter(ctx, w, comb.group, comb.glen, comb.up_partition, comb.from, comb.to,
                                            comb.start);
                        continue;
                }
                if (up.nvals != w->nargs) {
                        spate_ctx_fail(ctx, n, "repartition record has another argument count "
                                       "(topology changed?)");
                        dead_letter(ctx, w, up.group, up.glen, up.up_partition, up.up_offset, up.up_offset + 1,
                                    INT64_MIN);
                        continue;
                }
                win_per_aggregate(w, args, vals);
                spate_wrec_t r = { up.group, up.glen, up.t, vals, { up.t, up.up_partition, up.up_offset },
                                   up.st, up.id, up.idlen };
                if (win_apply(n, task, o->offset, &r, &up, ctx))
                        dead_letter(ctx, w, up.group, up.glen, up.up_partition, up.up_offset, up.up_offset + 1,
                                    INT64_MIN);
        }
        if (rc < 0)
                return spate_ctx_fail(ctx, n, "%s", err);
        task->meta.next_offset = o->offset + 1;
        return apply_marks(n, task, &rd, ctx);
}
