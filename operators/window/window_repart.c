/* window_repart.c - a group_by window's repartitioned input: the window's
 * tasks are the partitions of its repartition topic, and each message there
 * (built by its upstream node, repartition.c, which says why batches and
 * marks) is unpacked into its task: records and combined batches applied
 * past the task's replay filter, then the marks of the source partitions'
 * stream times, which close the task's windows. */
#include "window_int.h"
#include "../../serde/json_write.h"
#include "../../util/log.h"
#include "../../util/util.h"

#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>

int32_t win_repart_partition(const win_t *w, const char *group, size_t glen) {
        return rd_kafka_msg_partitioner_murmur2(NULL, group, glen, w->partitions, NULL, NULL);
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
        spate_origin_t one = { w->source_topic, up_partition, from, b.data, b.len, group, glen, up_partition, from, 0 };
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
