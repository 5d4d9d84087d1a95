/* repartition.c - the `window_repartition` node: a group_by window's upstream
 * half, which the loader puts between the window and its `from:` (as Kafka
 * Streams puts a repartition node before an aggregation). It batches records
 * into one message per partition of the window's repartition topic and
 * commit, closed by marks of its source partitions' stream times; the window
 * (window_repart.c) unpacks them into its tasks.
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
 * (spate_winmeta_watermark()).
 *
 * Tumbling and hopping windows without corrections merge records into
 * batches first (window_combine.c), sent after a synchronous commit of
 * their cuts (send_combined()). The node sits before its window among the
 * topology's nodes, so its flush produces before any commit of the source
 * offsets its messages cover. */
#include "window_int.h"
#include "../../util/log.h"
#include "../../util/util.h"

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

/* Its parameters are the window's: nothing to read until the window's init
 * attaches it (win_rp_attach); records pass through to nobody. */
static int rp_init(spate_node_t *rn, char *errstr, size_t errstr_size) {
        (void)errstr;
        (void)errstr_size;
        rn->out = rn->in;
        return 0;
}

int win_rp_attach(spate_node_t *rn, spate_node_t *n, char *errstr, size_t errstr_size) {
        win_rp_t *r = rn->ctx;
        const win_t *w = n->ctx;
        r->window = n;
        r->w = w;
        if (!(r->packs = calloc((size_t)w->partitions, sizeof(*r->packs))) ||
            !(r->npacked = calloc((size_t)w->partitions, sizeof(*r->npacked))) ||
            !(r->marks = malloc(sizeof(*r->marks) * SPATE_WINMETA_MAX_UP)))
                return spate_node_error(n, NULL, errstr, errstr_size, "out of memory");
        /* Tumbling and hopping windows take merged batches (see
         * window_combine.c); sliding and session windows need every
         * record's time, and with corrections each record carries its id
         * down: no merging. */
        if ((w->conf.spec.type == SPATE_WINDOW_TUMBLING || w->conf.spec.type == SPATE_WINDOW_HOPPING) &&
            !w->dedupe_by &&
            (!(r->comb = win_comb_new(&w->conf)) ||
             !(r->comb_bytes = calloc((size_t)w->partitions, sizeof(*r->comb_bytes)))))
                return spate_node_error(n, NULL, errstr, errstr_size, "out of memory");
        return 0;
}

static win_up_t *up_get(win_rp_t *r, int32_t p) {
        if (p >= r->nup) {
                win_up_t *up = realloc(r->up, (size_t)(p + 1) * sizeof(*up));
                if (!up)
                        return NULL;
                for (int i = r->nup; i <= p; i++)
                        up[i] = (win_up_t){ .offset = -1, .time = INT64_MIN, .sent_time = INT64_MIN,
                                            .sent_idle = -1, .cut = -1, .comb_from = -1 };
                r->up = up;
                r->nup = p + 1;
        }
        return &r->up[p];
}

/* Its assign, revoke and flush are the node's own hooks (node.h), not a
 * state provider (engine/node_state.h): the node keeps no store - no
 * changelog, no checkpoint, nothing to restore or keep warm on a standby.
 * What it carries across a commit (a source partition's stream time and
 * batch cut) is committed with that partition's offset through the
 * operator API (spate_ctx_set_partition_time/cut) and read back here at
 * assignment; its flush sends outputs (packs, marks, combined batches), as
 * any node's flush does, and sits before its window's state flush because
 * the node sits before the window.
 *
 * A source partition assigned: its stream time and cut are the ones
 * committed with its offset. */
static int rp_assign(spate_node_t *rn, const char *topic, int32_t p, spate_ctx_t *ctx) {
        win_rp_t *r = rn->ctx;
        win_up_t *u;
        if (strcmp(topic, r->w->source_topic))
                return 0;
        if (!(u = up_get(r, p))) {
                snprintf(ctx->errstr, sizeof(ctx->errstr), "out of memory");
                return -1;
        }
        *u = (win_up_t){ .offset = -1, .assigned = 1, .sent_time = INT64_MIN, .sent_idle = -1,
                         .time = spate_ctx_partition_time(ctx, r->window, r->w->source_topic, p),
                         .cut = spate_ctx_partition_cut(ctx, r->window, r->w->source_topic, p),
                         .comb_from = -1,
                         .quiet_since = ctx->now_ms ? ctx->now_ms : spate_now_ms() };
        u->quiet_base = u->time;
        return 0;
}

static void rp_revoke(spate_node_t *rn, const char *topic, int32_t p, spate_ctx_t *ctx) {
        win_rp_t *r = rn->ctx;
        (void)ctx;
        if (strcmp(topic, r->w->source_topic) || p >= r->nup)
                return;
        r->up[p].assigned = 0;
        /* Batches not sent (their cuts could not be committed): the offsets
         * were not committed either, so the new owner replays the records. */
        if (r->comb && r->up[p].comb_from >= 0)
                win_comb_drop(r->comb, p);
        r->up[p].comb_from = -1;
}

/* The stream time a mark carries: at the end of a bounded input, the end of
 * the stream (not committed: the partition keeps its own time). */
static int64_t mark_time(const win_up_t *u, const spate_ctx_t *ctx) {
        return ctx->end_of_input ? SPATE_WINDOW_END_OF_STREAM : u->time;
}

/* Sends the repartition message for partition d, closed by the marks of the
 * source partitions. */
static int pack_send(win_rp_t *r, int32_t d, spate_ctx_t *ctx) {
        spate_buf_t *pack = &r->packs[d];
        int nm = 0;
        /* Not of a partition whose combined batches are still to go: its
         * time already counts their records. */
        for (int p = 0; p < r->nup && nm < SPATE_WINMETA_MAX_UP; p++)
                if (r->up[p].assigned && r->up[p].comb_from < 0)
                        r->marks[nm++] = (spate_wmark_t){ p, mark_time(&r->up[p], ctx), r->up[p].idle };
        if (!pack->len)
                spate_wpack_begin(pack);
        spate_wpack_finish(pack, r->npacked[d], r->marks, nm);
        int rc = spate_ctx_produce(ctx, r->w->repartition_topic, d, NULL, 0, pack->data, pack->len);
        pack->len = 0;
        r->npacked[d] = 0;
        return rc ? spate_ctx_fail(ctx, r->window, "%s", ctx->errstr) : 0;
}

static int combine(win_rp_t *r, spate_ctx_t *ctx, win_up_t *u, const spate_origin_t *o, const spate_wrec_t *rec,
                   const spate_val_t *args) {
        const win_t *w = r->w;
        spate_val_t vals[WIN_MAX_AGGS];
        spate_wrec_t c = *rec;
        win_per_aggregate(w, args, vals);
        c.vals = vals;
        c.st = u->time;
        if (u->comb_from < 0)
                u->comb_from = o->offset;
        size_t before = win_comb_count(r->comb);
        if (win_comb_add(r->comb, o->partition, &c))
                return spate_ctx_fail(ctx, r->window, "out of memory");
        size_t added = win_comb_count(r->comb) - before;
        if (added) {
                int32_t d = win_repart_partition(w, c.group, c.glen);
                r->comb_bytes[d] += added * (c.glen + COMB_BATCH_BYTES + COMB_AGG_BYTES * (size_t)w->conf.nfns);
                if (r->comb_bytes[d] >= COMB_MSG_BYTES)
                        spate_ctx_request_commit(ctx);
        }
        if (win_comb_count(r->comb) >= COMB_MAX)
                spate_ctx_request_commit(ctx);
        return 0;
}

/* Judges lateness against the record's source partition and adds it to the
 * message for its group's partition. 0, or -1 after spate_ctx_fail (late,
 * out of memory, produce failed). */
static int rp_process(spate_node_t *rn, spate_record_t *rec, spate_ctx_t *ctx) {
        win_rp_t *r = rn->ctx;
        const win_t *w = r->w;
        spate_val_t args[WIN_MAX_AGGS];
        spate_wrec_t x;
        const spate_origin_t *o = rec->origin;
        win_up_t *u;
        char a[32], b[32];

        if (!o)
                return spate_ctx_fail(ctx, r->window, "record without an input message");
        if (win_eval(r->window, rec, ctx, &x, args))
                return -1;
        if (!(u = up_get(r, o->partition)))
                return spate_ctx_fail(ctx, r->window, "out of memory");
        if (u->offset == o->offset) {
                u->seq++;  /* another record of one input message (explode) */
        } else {
                u->offset = o->offset;
                u->seq = 0;
        }
        u->idle = 0;
        u->got = 1;
        if (x.t > u->time)
                u->time = x.t;
        /* With corrections a version of a closed window may revise it: the
         * window, which knows its ids, judges it by st. */
        if (!w->dedupe_by && spate_window_is_late(&w->conf.spec, x.t, u->time)) {
                spate_fmt_iso_ms(x.t, a, sizeof(a));
                spate_fmt_iso_ms(u->time, b, sizeof(b));
                return win_late(r->window, ctx, "late: group '%.*s' at %s, stream time of %s[%d] %s, "
                                "grace %lld ms", (int)x.glen, x.group, a, o->topic, o->partition, b,
                                (long long)w->conf.spec.grace);
        }
        if (r->comb && o->offset >= u->cut)
                return combine(r, ctx, u, o, &x, args);
        int32_t d = win_repart_partition(w, x.group, x.glen);
        spate_buf_t *pack = &r->packs[d];
        spate_wrepart_t rp = { o->partition, o->offset, u->seq, x.t, u->time, x.group, x.glen, x.id, x.idlen,
                               w->nargs };
        if (!pack->len)
                spate_wpack_begin(pack);
        spate_wpack_add(pack, &rp, args);
        r->npacked[d]++;
        return pack->len >= PACK_BYTES ? pack_send(r, d, ctx) : 0;
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
        win_rp_t *r;
        uint32_t *k;                 /* batches so far, by source x downstream partition */
} comb_send_t;

static int add_batch(void *opaque, spate_wcomb_t *b) {
        comb_send_t *cs = opaque;
        win_rp_t *r = cs->r;
        const win_up_t *u = &r->up[b->up_partition];
        int32_t d = win_repart_partition(r->w, b->group, b->glen);
        b->from = u->comb_from;
        b->to = u->offset + 1;
        b->k = cs->k[(size_t)b->up_partition * (size_t)r->w->partitions + (size_t)d]++;
        if (!r->packs[d].len)
                spate_wpack_begin(&r->packs[d]);
        spate_wpack_add_combined(&r->packs[d], b);
        r->npacked[d]++;
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
static int send_combined(win_rp_t *r, spate_ctx_t *ctx) {
        const win_t *w = r->w;
        comb_send_t cs = { r, calloc((size_t)r->nup * (size_t)w->partitions, sizeof(*cs.k)) };
        if (!cs.k)
                return spate_ctx_fail(ctx, r->window, "combining: out of memory");
        for (int p = 0; p < r->nup; p++)
                if (r->up[p].comb_from >= 0)
                        spate_ctx_set_partition_cut(ctx, r->window, w->source_topic, p, r->up[p].offset + 1);
        if (spate_ctx_commit_cuts(ctx)) {
                /* During a rebalance: the batches wait, and so do the offsets
                 * of their records - if the partitions move, their new owner
                 * replays the records (rp_revoke() drops the batches). */
                spate_warn("window '%s': %s; the combined batches wait for the next commit", r->window->name,
                           ctx->errstr);
                spate_ctx_hold_offsets(ctx, w->source_topic);
                free(cs.k);
                return 1;
        }
        int rc = win_comb_each(r->comb, add_batch, &cs);
        free(cs.k);
        if (rc)
                return rc > 0 ? -1 : spate_ctx_fail(ctx, r->window, "combining: out of memory");
        win_comb_clear(r->comb);
        memset(r->comb_bytes, 0, (size_t)w->partitions * sizeof(*r->comb_bytes));
        for (int p = 0; p < r->nup; p++)
                r->up[p].comb_from = -1;
        return 0;
}

/* At a commit: every message built, and marks to every downstream partition
 * when a source partition's mark changed. */
static int rp_flush(spate_node_t *rn, spate_ctx_t *ctx) {
        win_rp_t *r = rn->ctx;
        const win_t *w = r->w;
        int64_t now = ctx->now_ms ? ctx->now_ms : spate_now_ms();
        int changed = 0;
        int rc = r->comb && win_comb_count(r->comb) ? send_combined(r, ctx) : 0;
        if (rc)
                return rc < 0 ? -1 : 0;
        for (int p = 0; p < r->nup; p++) {
                win_up_t *u = &r->up[p];
                if (!u->assigned)
                        continue;
                u->idle = spate_ctx_caught_up(ctx, w->source_topic, p);
                follow_clock(w, u, now);
                /* Committed with the partition's offset, which this commit covers. */
                if (u->time != INT64_MIN)
                        spate_ctx_set_partition_time(ctx, r->window, w->source_topic, p, u->time);
                changed |= u->idle != u->sent_idle || mark_time(u, ctx) != u->sent_time;
        }
        /* A changed mark goes to every downstream partition, even with no
         * records for it: each must know how far every source partition got. */
        for (int d = 0; d < w->partitions; d++)
                if ((r->packs[d].len || changed) && pack_send(r, d, ctx))
                        return -1;
        for (int p = 0; changed && p < r->nup; p++) {
                r->up[p].sent_idle = r->up[p].idle;
                r->up[p].sent_time = mark_time(&r->up[p], ctx);
        }
        return 0;
}

/* End of input: every source partition's end-of-stream mark is sent and no
 * combined batch waits. */
static int rp_drained(spate_node_t *rn, spate_ctx_t *ctx) {
        const win_rp_t *r = rn->ctx;
        (void)ctx;
        for (int p = 0; p < r->nup; p++)
                if (r->up[p].assigned && r->up[p].sent_time != SPATE_WINDOW_END_OF_STREAM)
                        return 0;
        return !(r->comb && win_comb_count(r->comb));
}

static void rp_destroy(spate_node_t *rn) {
        win_rp_t *r = rn->ctx;
        free(r->up);
        for (int d = 0; r->packs && d < r->w->partitions; d++)
                spate_buf_free(&r->packs[d]);
        free(r->packs);
        free(r->npacked);
        free(r->marks);
        win_comb_free(r->comb);
        free(r->comb_bytes);
}

const spate_op_def_t spate_op_window_repartition = {
        .name = "window_repartition",
        .role = SPATE_ROLE_OPERATOR,
        .doc = "A group_by window's upstream half (internal): judges lateness per source partition, "
               "combines and batches records into the window's repartition topic.",
        .ctx_size = sizeof(win_rp_t),
        .init = rp_init,
        .process = rp_process,
        .drained = rp_drained,
        .flush = rp_flush,
        .assign = rp_assign,
        .revoke = rp_revoke,
        .destroy = rp_destroy,
        .internal = "repartition",
};
