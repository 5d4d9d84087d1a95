/* engine_offsets.c - what a source partition's committed offset carries: the
 * node values (times, cuts) in its metadata, read back at assignment, and the
 * offsets a commit takes. */
#include "engine_impl.h"
#include "../util/mem.h"
#include "engine_int.h"
#include "../util/log.h"
#include "../util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- partition values: node values committed with a source partition's offset --- */

static pvals_t *task_vals(spate_engine_t *e, task_t *t) {
        if (!t->vals) {
                t->vals = spate_xmalloc(sizeof(*t->vals) * (size_t)e->topo->nnodes);
                for (int i = 0; i < e->topo->nnodes; i++)
                        t->vals[i] = (pvals_t){ INT64_MIN, INT64_MIN, -1 };
        }
        return t->vals;
}

/* Sets elem's offset, and its metadata to "spate:@fp=<fingerprint>/<start>/
 * <now>;<node>=<ms>[/<cut>];...": who commits (fingerprint.h), then for the
 * nodes that keep values with the partition: the current times, or
 * (intent) those committed with the offset. A cut at or below the offset
 * is history and left out. Metadata that does not fit would lose the times
 * and cuts (and with the cuts, exactness): -1 after an error that says so,
 * and the engine fails before it commits anything. */
static int vals_to_metadata(spate_engine_t *e, const task_t *t, int64_t offset, int intent,
                            rd_kafka_topic_partition_t *elem) {
        char buf[SPATE_OFFSET_META_MAX];
        size_t off = 0;
        spate_committer_t me = e->me;
        elem->offset = offset;
        me.at_ms = spate_now_ms();
        off = (size_t)snprintf(buf, sizeof(buf), TIMES_PREFIX);
        off += (size_t)spate_committer_format(&me, buf + off, sizeof(buf) - off);
        for (int i = 0; t->vals && i < e->topo->nnodes; i++) {
                const pvals_t *v = &t->vals[i];
                int64_t time = intent ? v->ctime : v->time;
                if (time == INT64_MIN && v->cut <= offset)
                        continue;
                if (spate_offset_meta_add(buf, sizeof(buf), &off, e->topo->nodes[i]->name, time,
                                          v->cut > offset ? v->cut : -1)) {
                        spate_err("%s[%d]: the partition times and cuts of its nodes do not fit in the "
                                  "%d bytes of offset metadata spate commits (node '%s' and after); "
                                  "committing nothing rather than losing them: give the nodes that keep "
                                  "times (windows) shorter names",
                                  elem->topic, elem->partition, SPATE_OFFSET_META_MAX - 1,
                                  e->topo->nodes[i]->name);
                        e->failed = 1;
                        return -1;
                }
        }
        elem->metadata = spate_xstrdup(buf);
        elem->metadata_size = off;
        return 0;
}

struct meta_task { spate_engine_t *e; task_t *t; };

static void meta_val(void *opaque, const char *node, int64_t time, int64_t cut) {
        struct meta_task *mt = opaque;
        for (int i = 0; i < mt->e->topo->nnodes; i++) {
                if (strcmp(mt->e->topo->nodes[i]->name, node))
                        continue;
                pvals_t *v = &task_vals(mt->e, mt->t)[i];
                v->time = v->ctime = time;
                if (cut >= 0)
                        v->cut = cut;
        }
}

/* Reads the node values committed with elem's offset. What cannot be read
 * (metadata another program or version wrote) is said, never dropped
 * silently: those nodes' partition times restart, and a window's batch cut
 * with them. */
static void read_metadata(spate_engine_t *e, task_t *t, const rd_kafka_topic_partition_t *elem) {
        struct meta_task mt = { e, t };
        char head[25];
        size_t n = 0;
        int bad;
        if (!elem->metadata_size)
                return;
        bad = spate_offset_meta_parse(elem->metadata, elem->metadata_size, meta_val, &mt);
        for (const char *md = elem->metadata; n < elem->metadata_size && n < sizeof(head) - 1; n++)
                head[n] = md[n] >= 0x20 && md[n] < 0x7f ? md[n] : '?';
        head[n] = '\0';
        if (bad < 0)
                spate_warn("%s[%d]: the metadata committed with offset %lld (%zu bytes, \"%s%s\") is not "
                           "spate's or longer than the %d bytes it writes: the partition times of its "
                           "nodes restart", elem->topic, elem->partition, (long long)elem->offset,
                           elem->metadata_size, head, elem->metadata_size > n ? "..." : "",
                           SPATE_OFFSET_META_MAX - 1);
        else if (bad > 0)
                spate_warn("%s[%d]: %d malformed entries in the metadata committed with offset %lld "
                           "were skipped: the partition times of those nodes restart",
                           elem->topic, elem->partition, bad, (long long)elem->offset);
}

/* A committed offset past the partition's end: the topic was recreated or
 * truncated (or the broker lost its data), and resuming there would skip
 * every new record until the topic grows past it. One before the start:
 * retention deleted records before they were processed. */
static int check_committed(spate_engine_t *e, const char *topic, int32_t p, int64_t committed) {
        char err[512];
        int64_t lo, hi;
        if (spate_watermarks(&e->ctx, e->consumer, topic, p, &lo, &hi, err, sizeof(err))) {
                spate_err("cannot check the committed offset of %s[%d]: %s", topic, p, err);
                return -1;
        }
        if (committed > hi) {
                spate_err("%s[%d]: the committed offset %lld is past the partition's end %lld: the "
                          "topic was recreated or truncated, or the broker lost its data. Refusing to "
                          "skip its records; to start over, delete the group '%s' (its committed "
                          "offsets) and the state directory %s/%s", topic, p, (long long)committed,
                          (long long)hi, e->topo->application, e->topo->state_dir, e->topo->application);
                return -1;
        }
        if (committed < lo)
                spate_err("%s[%d]: records %lld to %lld were deleted (retention) before they were "
                          "processed; resuming at %lld", topic, p, (long long)committed,
                          (long long)lo - 1, (long long)lo);
        return 0;
}

/* Reads the offsets and partition values committed with the assigned source
 * partitions (a broker round trip, once per assignment). */
void spate_engine_fetch_committed(spate_engine_t *e, rd_kafka_topic_partition_list_t *parts) {
        rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_copy(parts);
        rd_kafka_resp_err_t err = rd_kafka_committed(e->consumer, c, 10000);
        if (err)
                spate_warn("cannot read committed offsets: %s; partition times restart", rd_kafka_err2str(err));
        for (int i = 0; i < c->cnt && !err; i++) {
                source_t *s = spate_engine_source_for(e, c->elems[i].topic);
                if (!s || s->internal)
                        continue;
                task_t *t = spate_engine_task_for(s, c->elems[i].partition);
                /* After one failure the assignment fails: the others need no check. */
                if (c->elems[i].offset >= 0 && !e->failed &&
                    check_committed(e, c->elems[i].topic, c->elems[i].partition, c->elems[i].offset))
                        e->failed = 1;
                if (c->elems[i].offset >= 0)
                        t->committed = c->elems[i].offset;
                read_metadata(e, t, &c->elems[i]);
        }
        rd_kafka_topic_partition_list_destroy(c);
}

static pvals_t *ctx_vals(spate_ctx_t *ctx, const spate_node_t *n, const char *topic, int32_t partition,
                         task_t **taskp) {
        source_t *s = spate_engine_source_for(ctx->engine, topic);
        if (!s || partition < 0)
                return NULL;
        *taskp = spate_engine_task_for(s, partition);
        return &task_vals(ctx->engine, *taskp)[n->index];
}

int64_t spate_engine_partition_val(spate_ctx_t *ctx, const spate_node_t *n, const char *topic,
                                    int32_t partition, int cut) {
        task_t *task;
        pvals_t *v = ctx_vals(ctx, n, topic, partition, &task);
        return cut ? (v ? v->cut : -1) : (v ? v->time : INT64_MIN);
}

void spate_engine_set_partition_val(spate_ctx_t *ctx, const spate_node_t *n, const char *topic,
                                     int32_t partition, int cut, int64_t val) {
        task_t *task;
        pvals_t *v = ctx_vals(ctx, n, topic, partition, &task);
        if (v && cut) {
                v->cut = val;
        } else if (v) {
                task->times_changed |= v->time != val;
                v->time = val;
        }
}

/* A cut above the offset committed last: not committed yet. */
static int cut_pending(spate_engine_t *e, const task_t *t, int64_t base) {
        for (int i = 0; t->vals && i < e->topo->nnodes; i++)
                if (t->vals[i].cut > base)
                        return 1;
        return 0;
}

int spate_engine_commit_cuts(spate_ctx_t *ctx) {
        spate_engine_t *e = ctx->engine;
        rd_kafka_topic_partition_list_t *offs;
        rd_kafka_resp_err_t err = 0;
        offs = rd_kafka_topic_partition_list_new(16);
        for (int i = 0; i < e->nsources; i++)
                for (int p = 0; p < e->sources[i].ntasks; p++) {
                        task_t *t = &e->sources[i].tasks[p];
                        int64_t base = t->committed >= 0 ? t->committed : t->first;
                        if (t->assigned && base >= 0 && cut_pending(e, t, base) &&
                            vals_to_metadata(e, t, base, 1, rd_kafka_topic_partition_list_add(
                                                                    offs, e->sources[i].topic, p))) {
                                snprintf(ctx->errstr, sizeof(ctx->errstr), "batch cuts do not fit in the "
                                         "offset metadata (see the error above)");
                                rd_kafka_topic_partition_list_destroy(offs);
                                return -1;
                        }
                }
        if (offs->cnt && (err = rd_kafka_commit(e->consumer, offs, 0)))
                snprintf(ctx->errstr, sizeof(ctx->errstr), "committing batch cuts: %s", rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(offs);
        return err ? -1 : 0;
}

void spate_engine_hold_offsets(spate_ctx_t *ctx, const char *topic) {
        source_t *s = spate_engine_source_for(ctx->engine, topic);
        if (s)
                s->hold = 1;
}

/* The processed offsets of assigned partitions not committed yet. */
rd_kafka_topic_partition_list_t *spate_engine_offsets_to_commit(spate_engine_t *e) {
        rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new(16);
        for (int i = 0; i < e->nsources; i++)
                for (int p = 0; p < e->sources[i].ntasks; p++) {
                        task_t *t = &e->sources[i].tasks[p];
                        if (e->sources[i].rewind || e->failed)
                                break;
                        /* Held back: the committed offset again, only to say
                         * who holds the partition (spate_engine_check_committers()). */
                        if (e->sources[i].hold) {
                                if (t->assigned && e->refresh_tags && t->committed >= 0)
                                        vals_to_metadata(e, t, t->committed, 1, rd_kafka_topic_partition_list_add(
                                                                        offs, e->sources[i].topic, p));
                                continue;
                        }
                        /* A time may move on without records (close_after_idle):
                         * commit it with the same offset once one was processed. */
                        if (t->assigned && t->first >= 0 &&
                            (t->next_offset > t->committed || t->times_changed || e->refresh_tags))
                                vals_to_metadata(e, t, t->next_offset, 0, rd_kafka_topic_partition_list_add(
                                                                offs, e->sources[i].topic, p));
                        else if (t->assigned && e->refresh_tags && t->committed >= 0)
                                vals_to_metadata(e, t, t->committed, 1, rd_kafka_topic_partition_list_add(
                                                                offs, e->sources[i].topic, p));
                }
        e->refresh_tags = 0;
        return offs;
}
