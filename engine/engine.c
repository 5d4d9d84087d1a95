/* engine.c - the processing loop. Commit protocol (at-least-once): flush
 * operators, wait until the producer has every output acknowledged, then
 * commit the input offsets; a crash anywhere replays, never loses. */
#include "engine.h"
#include "engine_int.h"
#include "ctx.h"
#include "dlq.h"
#include "fingerprint.h"
#include "kafka_conf.h"
#include "live.h"
#include "../util/log.h"
#include "metrics.h"
#include "offset_meta.h"
#include "../state/kv.h"
#include "../state/store.h"
#include "topics.h"
#include "../util/util.h"
#include "../operators/window/winstate.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH 1024

/* What a node keeps with a source partition's committed offset. */
typedef struct pvals {
        int64_t time;              /* spate_ctx_set_partition_time(), INT64_MIN: none */
        int64_t ctime;             /* time as committed with task_t.committed */
        int64_t cut;               /* spate_ctx_set_partition_cut(), -1: none */
} pvals_t;

typedef struct task {
        int assigned;
        int at_end;                /* the consumer reached the partition's end since the last record */
        int64_t first;             /* offset of the first message processed since assignment, -1 */
        int64_t next_offset;       /* offset after the last processed message */
        int64_t committed;         /* last committed next_offset, -1 before the first commit */
        pvals_t *vals;             /* per node index, or NULL */
        int times_changed;         /* since the last commit */
} task_t;

/* A subscribed topic: a source's, or an internal one a node reads itself. */
typedef struct source {
        spate_node_t *node;
        const char *topic;
        int internal;              /* records go to node->def->input */
        int rewind;                /* a table: read from the beginning, never committed */
        int hold;                  /* spate_ctx_hold_offsets(): not in this commit */
        int held;                  /* hold, for the commit in progress once its offsets are chosen */
        task_t *tasks;             /* indexed by partition */
        int ntasks;
} source_t;

struct spate_engine {
        spate_topology_t *topo;
        rd_kafka_t *consumer, *producer;
        rd_kafka_queue_t *queue;
        source_t *sources;
        int nsources;
        spate_ctx_t ctx;
        volatile sig_atomic_t stop;
        int64_t stop_seen_ms; /* when a wait first saw the stop request */
        int failed;                /* an output was not delivered */
        spate_engine_stats_t stats;
        rd_kafka_t *restorer;      /* assign-only consumer for changelog replay */
        spate_store_t *store;
        int64_t last_commit, last_punctuate, last_report;
        int64_t until_idle_ms;
        int end_of_input;          /* spate_engine_set_end_of_input() */
        int assigned_once;
        int tick_ms;               /* punctuate period: the smallest a node asks for */
        int txn;                   /* exactly_once: a transaction is open */
        int commit_asap;           /* spate_ctx_request_commit() */
        struct topic_role { const rd_kafka_topic_t *rkt; int role; } roles[32];
        int nroles;
        /* metrics.h: what the HTTP thread reads */
        spate_histogram_t *m_commit;
        spate_metric_t *m_produced, *m_ready;
        int64_t last_metrics;
        atomic_int ready, live;    /* spate_engine_ready(), spate_engine_live() */
        size_t max_message_bytes;  /* the producer's message.max.bytes: a dead letter's limit */
        spate_committer_t me;      /* fingerprint and start, committed with every offset */
        int refresh_tags;          /* next commit: every assigned partition, to say who holds it */
        int64_t last_peer_check;
        rd_kafka_queue_t *peer_queue;  /* ask_peers() answers */
        rd_kafka_topic_partition_list_t *peer_parts;  /* every source partition */
        int peer_asked;
};

static double mono_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define ROLE_DLQ (-1)

/* The role of the topic a delivery report is for: the DLQ, a sink's topic or
 * an internal one. Cached by handle: reports come per message. */
static int topic_role(spate_engine_t *e, const rd_kafka_topic_t *rkt) {
        for (int i = 0; i < e->nroles; i++)
                if (e->roles[i].rkt == rkt)
                        return e->roles[i].role;
        const char *name = rd_kafka_topic_name(rkt);
        const spate_topic_decl_t *d = spate_topology_topic(e->topo, name);
        int role = !strcmp(name, e->topo->dlq_topic) ? ROLE_DLQ
                   : d && d->role == SPATE_TOPIC_SINK ? SPATE_TOPIC_SINK : SPATE_TOPIC_INTERNAL;
        if (e->nroles < (int)(sizeof(e->roles) / sizeof(e->roles[0])))
                e->roles[e->nroles++] = (struct topic_role){ rkt, role };
        return role;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
        spate_engine_t *e = opaque;
        int64_t *acked = m->_private;
        (void)rk;
        if (m->err) {
                spate_err("delivery to %s failed: %s", rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
                e->failed = 1;
                return;
        }
        /* Dead letters are counted when queued; outputs and internal records
         * apart, so "output" is what the topology wrote. */
        switch (topic_role(e, m->rkt)) {
        case ROLE_DLQ: break;
        case SPATE_TOPIC_SINK: e->stats.out++; break;
        default: e->stats.internal++; break;
        }
        spate_metric_add(e->m_produced, 1);
        /* After a failure nothing is committed, and a revoke may have freed
         * the task whose counter acked points to while its outputs flew. */
        if (acked && !e->failed && m->offset + 1 > *acked)
                *acked = m->offset + 1;
}

static source_t *source_for(spate_engine_t *e, const char *topic) {
        for (int i = 0; i < e->nsources; i++)
                if (!strcmp(e->sources[i].topic, topic))
                        return &e->sources[i];
        return NULL;
}

static task_t *task_for(source_t *s, int32_t partition) {
        if (partition >= s->ntasks) {
                int n = partition + 1;
                s->tasks = realloc(s->tasks, sizeof(*s->tasks) * (size_t)n);
                if (!s->tasks)
                        abort();
                memset(s->tasks + s->ntasks, 0, sizeof(*s->tasks) * (size_t)(n - s->ntasks));
                s->ntasks = n;
        }
        return &s->tasks[partition];
}

/* How long a stopping instance waits for outputs to be acknowledged. */
#define SHUTDOWN_ACK_MS 10000

/* Whether a stopping instance has waited for the broker as long as it may:
 * SHUTDOWN_ACK_MS counted from the first time a wait sees the stop request
 * (a signal handler only sets e->stop). */
static int stop_deadline_passed(spate_engine_t *e) {
        if (!e->stop)
                return 0;
        if (!e->stop_seen_ms)
                e->stop_seen_ms = spate_mono_ms();
        return spate_mono_ms() - e->stop_seen_ms > SHUTDOWN_ACK_MS;
}

/* The producer's queue is full: serve its callbacks to make room. Fails when
 * the instance is stopping and the broker took too long: with the broker gone
 * the queue never drains, and SIGTERM must still end the process. */
static int wait_queue_room(spate_engine_t *e) {
        if (stop_deadline_passed(e)) {
                if (!e->failed)
                        spate_err("the producer's queue stayed full %d s after the stop request; input "
                                  "offsets are not committed (it will be replayed)", SHUTDOWN_ACK_MS / 1000);
                e->failed = 1;
                return -1;
        }
        rd_kafka_poll(e->producer, 10);
        return 0;
}

static int engine_produce(spate_ctx_t *ctx, const char *topic, int32_t partition,
                          const void *key, size_t key_len, const void *value, size_t len,
                          int64_t *acked) {
        for (;;) {
                rd_kafka_resp_err_t err = rd_kafka_producev(
                        ctx->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                        RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, len),
                        RD_KAFKA_V_OPAQUE(acked), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_END);
                if (!err) {
                        ctx->produced++;
                        return 0;
                }
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                        snprintf(ctx->errstr, sizeof(ctx->errstr), "produce to %s: %s", topic,
                                 rd_kafka_err2str(err));
                        return -1;
                }
                if (wait_queue_room(ctx->engine)) {
                        snprintf(ctx->errstr, sizeof(ctx->errstr), "produce to %s: stopping", topic);
                        return -1;
                }
        }
}

/* spate_dead_letter_records_total{node,reason}: the reason's class, after
 * the "<node>: " that spate_ctx_fail() puts first. A rare path: the series
 * is looked up each time. */
static void count_dead_letter(spate_engine_t *e, const char *reason) {
        const char *node = e->ctx.failed ? e->ctx.failed->name : "?";
        size_t len = strlen(node);
        if (!strncmp(reason, node, len) && !strncmp(reason + len, ": ", 2))
                reason += len + 2;
        spate_metric_add(spate_metrics_counter(spate_metrics_default(), "spate_dead_letter_records_total",
                                               "Records sent to the dead-letter topic, by the node that "
                                               "failed them and the class of the reason",
                                               "node", node, "reason", spate_metrics_reason_class(reason),
                                               NULL), 1);
}

static int queue_dead_letter(spate_engine_t *e, const spate_dlq_letter_t *l, rd_kafka_headers_t *h) {
        for (;;) {
                rd_kafka_resp_err_t err = rd_kafka_producev(
                        e->producer, RD_KAFKA_V_TOPIC(e->topo->dlq_topic),
                        RD_KAFKA_V_KEY((void *)l->key, l->key_len),
                        RD_KAFKA_V_VALUE((void *)l->value, l->len), RD_KAFKA_V_HEADERS(h),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
                if (!err)
                        return 0;
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                        spate_err("cannot queue the dead letter of %s[%d]@%lld: %s", l->origin->topic,
                                  l->origin->partition, (long long)l->origin->offset, rd_kafka_err2str(err));
                        rd_kafka_headers_destroy(h);
                        return -1;
                }
                if (wait_queue_room(e)) {
                        rd_kafka_headers_destroy(h);
                        return -1;
                }
        }
}

/* The original record with its origin and reason, cut to what the producer
 * accepts (spate_dlq_letter_build()). */
static void dlq(spate_engine_t *e, const spate_origin_t *o, const char *reason) {
        if (e->failed)  /* nothing is committed: the record is replayed, not dead-lettered */
                return;
        spate_dlq_letter_t l = { .reason = reason, .node = e->ctx.failed ? e->ctx.failed->name : "?",
                                 .branch = e->ctx.branch ? e->ctx.branch->name : NULL,
                                 .application = e->topo->application, .origin = o };
        rd_kafka_headers_t *h = spate_dlq_letter_build(&l, e->max_message_bytes);
        if (l.len < o->len || l.key_len < o->key_len)
                spate_warn("dead letter of %s[%d]@%lld truncated to fit message.max.bytes %zu: key "
                           "%zu of %zu bytes, value %zu of %zu", o->topic, o->partition,
                           (long long)o->offset, e->max_message_bytes, l.key_len, o->key_len, l.len, o->len);
        if (queue_dead_letter(e, &l, h)) {
                e->failed = 1;
                return;
        }
        e->stats.dlq++;
        count_dead_letter(e, reason);
        spate_debug("DLQ %s[%d]@%lld: %s", o->topic, o->partition, (long long)o->offset, reason);
}

static void engine_dead_letter(spate_ctx_t *ctx, const spate_origin_t *o) {
        dlq(ctx->engine, o, ctx->errstr);
}

/* Returns 1 for a message of a source topic: input, which --until-idle
 * waits for (internal topics carry marks as long as time passes). */
static int process_message(spate_engine_t *e, rd_kafka_message_t *m) {
        const char *topic = rd_kafka_topic_name(m->rkt);
        source_t *s = source_for(e, topic);
        rd_kafka_timestamp_type_t tstype;
        spate_origin_t o = { topic, m->partition, m->offset, m->payload, m->len, m->key, m->key_len, -1, -1 };
        spate_record_t rec = { .key = m->key, .key_len = m->key_len, .origin = &o };

        if (!s)
                return 0;
        rec.ts = rd_kafka_message_timestamp(m, &tstype);
        spate_arena_reset(&e->ctx.arena);
        e->ctx.failed = NULL;
        e->ctx.origin = &o;
        task_t *task = task_for(s, m->partition);
        task->at_end = 0;
        if (!s->internal) {
                if (s->node->m_in)
                        spate_metric_add(s->node->m_in, 1);
                spate_live_offer(topic, m->key, m->key_len, m->payload, m->len);
        }
        int (*handle)(spate_node_t *, spate_record_t *, spate_ctx_t *) =
                s->internal ? s->node->def->input : s->node->def->process;
        if (handle(s->node, &rec, &e->ctx))
                dlq(e, &o, e->ctx.errstr);
        e->ctx.origin = NULL;  /* o is gone: what a commit emits has no origin */
        task->next_offset = m->offset + 1;
        if (task->first < 0)
                task->first = m->offset;
        if (!e->stats.consumed++)
                e->stats.first_ms = spate_mono_ms();
        e->stats.table += s->rewind;
        return !s->internal;
}

static void at_end(spate_engine_t *e, const rd_kafka_message_t *m) {
        source_t *s = source_for(e, rd_kafka_topic_name(m->rkt));
        if (s)
                task_for(s, m->partition)->at_end = 1;
}

static int flush_nodes(spate_engine_t *e) {
        for (int i = 0; i < e->topo->nnodes; i++) {
                spate_node_t *n = e->topo->nodes[i];
                if ((n->def->flush && n->def->flush(n, &e->ctx)) || spate_kv_node_flush(n, &e->ctx)) {
                        spate_err("flush of node '%s' failed: %s", n->name, e->ctx.errstr);
                        return -1;
                }
        }
        return 0;
}

/* --- partition values: node values committed with a source partition's offset --- */

#define TIMES_PREFIX SPATE_OFFSET_META_PREFIX

static pvals_t *task_vals(spate_engine_t *e, task_t *t) {
        if (!t->vals) {
                if (!(t->vals = malloc(sizeof(*t->vals) * (size_t)e->topo->nnodes)))
                        abort();
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
        if (!(elem->metadata = strdup(buf)))
                abort();
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
        if (spate_watermarks(e->consumer, topic, p, &lo, &hi, err, sizeof(err))) {
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
static void fetch_committed(spate_engine_t *e, rd_kafka_topic_partition_list_t *parts) {
        rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_copy(parts);
        rd_kafka_resp_err_t err = rd_kafka_committed(e->consumer, c, 10000);
        if (err)
                spate_warn("cannot read committed offsets: %s; partition times restart", rd_kafka_err2str(err));
        for (int i = 0; i < c->cnt && !err; i++) {
                source_t *s = source_for(e, c->elems[i].topic);
                if (!s || s->internal)
                        continue;
                task_t *t = task_for(s, c->elems[i].partition);
                if (c->elems[i].offset >= 0 &&
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
        source_t *s = source_for(ctx->engine, topic);
        if (!s || partition < 0)
                return NULL;
        *taskp = task_for(s, partition);
        return &task_vals(ctx->engine, *taskp)[n->index];
}

static int64_t engine_partition_val(spate_ctx_t *ctx, const spate_node_t *n, const char *topic,
                                    int32_t partition, int cut) {
        task_t *task;
        pvals_t *v = ctx_vals(ctx, n, topic, partition, &task);
        return cut ? (v ? v->cut : -1) : (v ? v->time : INT64_MIN);
}

static void engine_set_partition_val(spate_ctx_t *ctx, const spate_node_t *n, const char *topic,
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

static int engine_commit_cuts(spate_ctx_t *ctx) {
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

static void engine_hold_offsets(spate_ctx_t *ctx, const char *topic) {
        source_t *s = source_for(ctx->engine, topic);
        if (s)
                s->hold = 1;
}

static void engine_request_commit(spate_ctx_t *ctx) {
        ctx->engine->commit_asap = 1;
}

static int engine_stopping(spate_ctx_t *ctx) {
        return ctx->engine->stop;
}

static int engine_partitions(spate_ctx_t *ctx, const char *topic) {
        const struct rd_kafka_metadata *md;
        int n = -1;
        /* All topics: asking for one by name may auto-create it (topics.c). */
        rd_kafka_resp_err_t err = rd_kafka_metadata(ctx->engine->consumer, 1, NULL, &md, 5000);
        if (err) {
                snprintf(ctx->errstr, sizeof(ctx->errstr), "metadata for topic %s: %s", topic,
                         rd_kafka_err2str(err));
                return -1;
        }
        for (int i = 0; i < md->topic_cnt && n < 0; i++)
                if (!strcmp(md->topics[i].topic, topic) && !md->topics[i].err)
                        n = md->topics[i].partition_cnt;
        rd_kafka_metadata_destroy(md);
        if (n < 0)
                snprintf(ctx->errstr, sizeof(ctx->errstr), "topic %s does not exist", topic);
        return n;
}

static int engine_caught_up(spate_ctx_t *ctx, const char *topic, int32_t partition) {
        source_t *s = source_for(ctx->engine, topic);
        return !s || (partition < s->ntasks && s->tasks[partition].at_end);
}

/* What the spate_ctx_* calls do under the engine (the store and the replay
 * are restore.c's). */
static int engine_wait_acks(spate_ctx_t *ctx);

static const spate_ctx_ops_t engine_ops = {
        .produce = engine_produce,
        .dead_letter = engine_dead_letter,
        .partition_val = engine_partition_val,
        .set_partition_val = engine_set_partition_val,
        .commit_cuts = engine_commit_cuts,
        .hold_offsets = engine_hold_offsets,
        .request_commit = engine_request_commit,
        .caught_up = engine_caught_up,
        .replay = spate_engine_replay,
        .store = spate_engine_store,
        .check_resume = spate_engine_check_resume,
        .stopping = engine_stopping,
        .wait_acks = engine_wait_acks,
        .partitions = engine_partitions,
};

/* The processed offsets of assigned partitions not committed yet. */
static rd_kafka_topic_partition_list_t *offsets_to_commit(spate_engine_t *e) {
        rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new(16);
        for (int i = 0; i < e->nsources; i++)
                for (int p = 0; p < e->sources[i].ntasks; p++) {
                        task_t *t = &e->sources[i].tasks[p];
                        if (e->sources[i].rewind || e->failed)
                                break;
                        /* Held back: the committed offset again, only to say
                         * who holds the partition (check_committers()). */
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

static int txn_error(spate_engine_t *e, const char *what, rd_kafka_error_t *error) {
        spate_err("%s: %s", what, rd_kafka_error_string(error));
        if (rd_kafka_error_txn_requires_abort(error))
                rd_kafka_abort_transaction(e->producer, 30000);
        rd_kafka_error_destroy(error);
        e->txn = 0;
        e->failed = 1;  /* restart: the aborted input is replayed */
        return -1;
}

static int txn_begin(spate_engine_t *e) {
        rd_kafka_error_t *error = rd_kafka_begin_transaction(e->producer);
        if (error)
                return txn_error(e, "begin transaction", error);
        e->txn = 1;
        return 0;
}

/* exactly_once: the commit's outputs, changelog records and input offsets
 * become visible together, and a zombie's are fenced. */
static int txn_commit(spate_engine_t *e, rd_kafka_topic_partition_list_t *offs) {
        rd_kafka_consumer_group_metadata_t *gm = rd_kafka_consumer_group_metadata(e->consumer);
        rd_kafka_error_t *error = NULL;
        if (offs->cnt)
                error = rd_kafka_send_offsets_to_transaction(e->producer, offs, gm, 30000);
        rd_kafka_consumer_group_metadata_destroy(gm);
        if (error)
                return txn_error(e, "send offsets to transaction", error);
        if ((error = rd_kafka_commit_transaction(e->producer, e->stop ? 10000 : 60000)))
                return txn_error(e, "commit transaction", error);
        e->txn = 0;
        return 0;
}

/* Waits until the producer has every output acknowledged. */
static void wait_acks(spate_engine_t *e) {
        /* At shutdown the broker may be gone: wait a bounded time - counted
         * from the stop request, which may come while already waiting - and
         * then commit nothing, so the uncommitted input is replayed on restart. */
        while (!e->failed && rd_kafka_outq_len(e->producer) > 0) {
                if (stop_deadline_passed(e)) {
                        spate_err("outputs not acknowledged within %d s of shutdown; input offsets "
                                  "are not committed (it will be replayed)", SHUTDOWN_ACK_MS / 1000);
                        e->failed = 1;
                        break;
                }
                rd_kafka_poll(e->producer, 50);
        }
}

static int engine_wait_acks(spate_ctx_t *ctx) {
        spate_engine_t *e = ctx->engine;
        wait_acks(e);
        if (!e->failed)
                return 0;
        snprintf(ctx->errstr, sizeof(ctx->errstr), "output was not delivered");
        return -1;
}

/* Commits the processed offsets of assigned partitions once every output
 * derived from them is acknowledged (exactly_once: in the transaction that
 * holds those outputs; the offsets are then also committed plainly, which is
 * what a broker whose transactions are a shell - the embedded one - keeps). */
static int commit(spate_engine_t *e) {
        rd_kafka_topic_partition_list_t *offs;
        rd_kafka_resp_err_t err;
        int rc = 0;
        double t0 = mono_s();

        if (flush_nodes(e))
                e->failed = 1;
        offs = offsets_to_commit(e);
        if (e->txn && !e->failed)
                txn_commit(e, offs);
        else
                wait_acks(e);
        for (int i = 0; i < e->topo->nnodes && !e->failed; i++) {
                spate_node_t *n = e->topo->nodes[i];
                if ((n->def->checkpoint && n->def->checkpoint(n, &e->ctx)) ||
                    spate_kv_node_checkpoint(n, &e->ctx)) {
                        spate_err("checkpoint of node '%s' failed: %s", n->name, e->ctx.errstr);
                        e->failed = 1;
                }
        }
        for (int i = 0; i < e->nsources; i++) {
                e->sources[i].held = e->sources[i].hold;
                e->sources[i].hold = 0;
        }
        if (e->failed) {
                rd_kafka_topic_partition_list_destroy(offs);
                return -1;
        }
        err = offs->cnt ? rd_kafka_commit(e->consumer, offs, 0) : 0;
        if (err) {
                spate_warn("offset commit failed: %s (will retry)", rd_kafka_err2str(err));
                rc = -1;
        } else {
                for (int i = 0; i < offs->cnt; i++) {
                        source_t *s = source_for(e, offs->elems[i].topic);
                        task_t *t = task_for(s, offs->elems[i].partition);
                        t->committed = offs->elems[i].offset;
                        if (s->held)
                                continue;  /* the committed offset again: its times stay */
                        t->times_changed = 0;
                        for (int k = 0; t->vals && k < e->topo->nnodes; k++)
                                t->vals[k].ctime = t->vals[k].time;
                }
                e->stats.commits += offs->cnt > 0;
        }
        rd_kafka_topic_partition_list_destroy(offs);
        if (e->topo->exactly_once && !e->stop && !e->txn)
                txn_begin(e);
        e->last_commit = spate_mono_ms();
        e->commit_asap = 0;
        if (e->m_commit)
                spate_histogram_observe(e->m_commit, mono_s() - t0);
        return rc;
}

/* Every instance commits its partitions' offsets at least this often (with
 * unchanged offsets when idle), so that its tag says it is alive; a tag not
 * refreshed for PEER_LIVE_MS is a stopped (or crashed) instance's. */
#define PEER_REFRESH_MS 5000
#define PEER_LIVE_MS 15000

/* Source partitions of every topic this instance reads and commits. */
static rd_kafka_topic_partition_list_t *all_source_partitions(spate_engine_t *e) {
        const struct rd_kafka_metadata *md;
        rd_kafka_topic_partition_list_t *all;
        if (rd_kafka_metadata(e->consumer, 1, NULL, &md, 5000))
                return NULL;
        all = rd_kafka_topic_partition_list_new(32);
        for (int i = 0; i < md->topic_cnt; i++) {
                source_t *s = source_for(e, md->topics[i].topic);
                for (int p = 0; s && !s->internal && !s->rewind && p < md->topics[i].partition_cnt; p++)
                        rd_kafka_topic_partition_list_add(all, s->topic, md->topics[i].partitions[p].id);
        }
        rd_kafka_metadata_destroy(md);
        return all;
}

static void peer_error(spate_engine_t *e, const rd_kafka_topic_partition_t *elem,
                       const spate_committer_t *c) {
        char started[48], at[48];
        spate_fmt_iso_ms(c->start_ms, started, sizeof(started));
        spate_fmt_iso_ms(c->at_ms, at, sizeof(at));
        spate_err("another instance of application '%s', started %s, runs a different topology "
                  "(fingerprint %016llx, this one %016llx): it committed %s[%d] at %s. Two "
                  "topologies must not share an application (they would split its partitions): "
                  "give this one its own 'application', or stop every instance of the other first "
                  "(an instance killed without a clean stop counts for %d s)",
                  e->topo->application, started, (unsigned long long)c->fp,
                  (unsigned long long)e->me.fp, elem->topic, elem->partition, at, PEER_LIVE_MS / 1000);
}

/* Refuses to run beside a live instance of another topology that started
 * before this one (the newer of two is the one that stops): -1 if one of
 * the committed partitions says so. */
static int check_committers(spate_engine_t *e, const rd_kafka_topic_partition_list_t *parts) {
        int64_t now = spate_now_ms();
        spate_committer_t c;
        for (int i = 0; parts && i < parts->cnt; i++) {
                const rd_kafka_topic_partition_t *elem = &parts->elems[i];
                const source_t *s = source_for(e, elem->topic);
                if (!s || s->internal || s->rewind ||
                    spate_committer_parse(elem->metadata, elem->metadata_size, &c) || c.fp == e->me.fp ||
                    c.left || now - c.at_ms > PEER_LIVE_MS || c.start_ms >= e->me.start_ms)
                        continue;
                peer_error(e, elem, &c);
                return -1;
        }
        return 0;
}

/* At assignment (the rebalance callback may block): every partition of the
 * source topics, whoever owns it. */
static int check_peers(spate_engine_t *e) {
        rd_kafka_topic_partition_list_t *all = all_source_partitions(e);
        int rc = 0;
        if (!all || rd_kafka_committed(e->consumer, all, 5000))
                spate_warn("cannot read the group's committed offsets to check for other topologies");
        else
                rc = check_committers(e, all);
        if (e->peer_parts)
                rd_kafka_topic_partition_list_destroy(e->peer_parts);
        e->peer_parts = all;  /* what ask_peers() asks for */
        return rc;
}

/* While running, the same without blocking the loop (a stall would look
 * like idle partitions to close_after_idle): the group's committed offsets
 * are asked for, and the answer read when it comes. */
static void ask_peers(spate_engine_t *e) {
        rd_kafka_ListConsumerGroupOffsets_t *req;
        if (!e->peer_parts)
                return;
        req = rd_kafka_ListConsumerGroupOffsets_new(e->topo->application, e->peer_parts);
        rd_kafka_ListConsumerGroupOffsets(e->consumer, &req, 1, NULL, e->peer_queue);
        rd_kafka_ListConsumerGroupOffsets_destroy(req);
        e->peer_asked = 1;
}

static int peers_answered(spate_engine_t *e) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(e->peer_queue, 0);
        const rd_kafka_ListConsumerGroupOffsets_result_t *res;
        const rd_kafka_group_result_t **groups;
        size_t n = 0;
        int rc = 0;
        if (!ev)
                return 0;
        e->peer_asked = 0;
        if ((res = rd_kafka_event_ListConsumerGroupOffsets_result(ev)) && !rd_kafka_event_error(ev) &&
            (groups = rd_kafka_ListConsumerGroupOffsets_result_groups(res, &n)) && n == 1) {
                const rd_kafka_topic_partition_list_t *parts = rd_kafka_group_result_partitions(groups[0]);
                spate_debug("topology check: %d committed partitions", parts ? parts->cnt : -1);
                rc = check_committers(e, parts);
        }
        else
                spate_debug("group offsets for the topology check: %s", rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return rc;
}

static void set_assigned(spate_engine_t *e, rd_kafka_topic_partition_list_t *parts, int assigned) {
        for (int i = 0; i < parts->cnt; i++) {
                source_t *s = source_for(e, parts->elems[i].topic);
                if (!s)
                        continue;
                task_t *t = task_for(s, parts->elems[i].partition);
                t->assigned = assigned;
                t->at_end = t->times_changed = 0;
                t->next_offset = 0;
                t->first = t->committed = -1;
                free(t->vals);
                t->vals = NULL;
        }
}

static void log_parts(const char *what, rd_kafka_topic_partition_list_t *parts) {
        char buf[1024];
        size_t off = 0;
        buf[0] = '\0';
        for (int i = 0; i < parts->cnt && off < sizeof(buf); i++)
                off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s[%d]", i ? " " : "",
                                        parts->elems[i].topic, parts->elems[i].partition);
        spate_info("%s %d partitions: %s", what, parts->cnt, buf);
}

static int task_hooks(spate_engine_t *e, rd_kafka_topic_partition_list_t *parts, int assign) {
        for (int i = 0; i < e->topo->nnodes; i++) {
                spate_node_t *n = e->topo->nodes[i];
                for (int k = 0; k < parts->cnt; k++) {
                        const char *topic = parts->elems[k].topic;
                        int32_t p = parts->elems[k].partition;
                        if (!assign && n->def->revoke)
                                n->def->revoke(n, topic, p, &e->ctx);
                        if (!assign)
                                spate_kv_node_revoke(n, topic, p);
                        if (assign && (spate_kv_node_assign(n, topic, p, &e->ctx) ||
                                       (n->def->assign && n->def->assign(n, topic, p, &e->ctx)))) {
                                spate_err("restoring '%s' for %s[%d] failed: %s", n->name, topic, p,
                                          e->ctx.errstr);
                                return -1;
                        }
                }
                if (assign && n->def->assigned && n->def->assigned(n, &e->ctx)) {
                        spate_err("restoring '%s' failed: %s", n->name, e->ctx.errstr);
                        return -1;
                }
        }
        return 0;
}

/* /ready: assigned, with the state of the assigned partitions restored. */
static void set_ready(spate_engine_t *e, int ready) {
        atomic_store(&e->ready, ready);
        if (e->m_ready)
                spate_metric_set(e->m_ready, ready);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
        spate_engine_t *e = opaque;
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                log_parts("assigned", parts);
                set_assigned(e, parts, 1);
                fetch_committed(e, parts);
                if (check_peers(e))
                        e->failed = 1;
                e->assigned_once = 1;
                e->stats.last_ms = spate_mono_ms(); /* --until-idle counts from here */
                /* State is restored before the partitions' records flow. */
                if (!e->failed && task_hooks(e, parts, 1))
                        e->failed = 1;
                set_ready(e, !e->failed);
                /* A table is read whole on every assignment. */
                for (int i = 0; i < parts->cnt; i++) {
                        source_t *s = source_for(e, parts->elems[i].topic);
                        if (s && s->rewind)
                                parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
                }
                rd_kafka_assign(rk, parts);
                return;
        }
        log_parts("revoked", parts);
        set_ready(e, 0);
        /* Commit what was processed before the partitions move, so their new
         * owner starts where this instance stopped, and say who held each
         * (an instance of another topology joining sees it: check_peers()). */
        e->refresh_tags = 1;
        commit(e);
        task_hooks(e, parts, 0);
        set_assigned(e, parts, 0);
        rd_kafka_assign(rk, NULL);
}

static int add_source(spate_engine_t *e, rd_kafka_topic_partition_list_t *subs, spate_node_t *n,
                      const char *topic, int internal) {
        if (source_for(e, topic)) {
                spate_err("two nodes read topic '%s'; read it once and branch with from:", topic);
                return -1;
        }
        e->sources = realloc(e->sources, sizeof(*e->sources) * (size_t)(e->nsources + 1));
        if (!e->sources)
                abort();
        e->sources[e->nsources++] = (source_t){ .node = n, .topic = topic, .internal = internal,
                                                .rewind = !internal && n->def->rewind };
        rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
        return 0;
}

static int add_sources(spate_engine_t *e, rd_kafka_topic_partition_list_t *subs) {
        for (int i = 0; i < e->topo->nnodes; i++) {
                spate_node_t *n = e->topo->nodes[i];
                if (n->def->role == SPATE_ROLE_SOURCE && !n->reads_itself &&
                    add_source(e, subs, n, spate_node_str(n, "topic"), 0))
                        return -1;
        }
        for (int i = 0; i < e->topo->ninputs; i++)
                if (add_source(e, subs, e->topo->inputs[i].node, e->topo->inputs[i].topic, 1))
                        return -1;
        return 0;
}

/* Unique per process: a restarted instance is a new producer, and zombies
 * of the old one are fenced by the consumer group generation that
 * send_offsets_to_transaction carries (KIP-447). */
static int transactional_id(const spate_topology_t *t, rd_kafka_conf_t *pc, char *errstr,
                            size_t errstr_size) {
        char id[512];
        snprintf(id, sizeof(id), "%s-%d-%lld", t->application, (int)getpid(), (long long)spate_now_ms());
        return rd_kafka_conf_set(pc, "transactional.id", id, errstr, errstr_size) == RD_KAFKA_CONF_OK
                ? 0 : -1;
}

static size_t producer_max_bytes(rd_kafka_t *producer) {
        char buf[32];
        size_t size = sizeof(buf);
        if (rd_kafka_conf_get(rd_kafka_conf(producer), "message.max.bytes", buf, &size) != RD_KAFKA_CONF_OK)
                return 1000000;  /* librdkafka's default */
        return (size_t)strtoull(buf, NULL, 10);
}

static int init_transactions(spate_engine_t *e, char *errstr, size_t errstr_size) {
        rd_kafka_error_t *error = rd_kafka_init_transactions(e->producer, 30000);
        if (error) {
                snprintf(errstr, errstr_size, "exactly_once: init transactions: %s",
                         rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
                return -1;
        }
        if (txn_begin(e)) {
                snprintf(errstr, errstr_size, "exactly_once: cannot begin a transaction");
                return -1;
        }
        spate_info("exactly_once: outputs, changelogs and input offsets are committed in one "
                   "transaction per commit");
        return 0;
}

/* The engine's series in the default registry (metrics.h). */
static void metrics_init(spate_engine_t *e) {
        static const double commit_s[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                           2.5, 5, 10 };
        spate_metrics_t *m = spate_metrics_default();
        for (int i = 0; i < e->topo->nnodes; i++) {
                spate_node_t *n = e->topo->nodes[i];
                n->m_in = spate_metrics_counter(m, "spate_node_records_in_total", "Records a node received "
                                                "(a source: read from its topic)", "node", n->name, NULL);
                n->m_out = spate_metrics_counter(m, "spate_node_records_out_total", "Records a node passed on "
                                                 "(a sink: wrote)", "node", n->name, NULL);
        }
        e->m_produced = spate_metrics_counter(m, "spate_produced_messages_total", "Messages the broker "
                                              "acknowledged (outputs, changelogs, dead letters)", NULL);
        e->m_commit = spate_metrics_histogram(m, "spate_commit_duration_seconds", "Commits: flush, wait for "
                                              "every acknowledgement, checkpoint, commit the offsets",
                                              commit_s, (int)(sizeof(commit_s) / sizeof(commit_s[0])), NULL);
        e->m_ready = spate_metrics_gauge(m, "spate_ready", "1 once partitions are assigned and their "
                                         "state restored", NULL);
        atomic_store(&e->live, 1);
}

static void store_metrics(spate_store_t *store) {
        spate_metrics_t *m = spate_metrics_default();
        spate_store_stats_t st;
        spate_store_stats(store, &st);
        spate_metric_set(spate_metrics_gauge(m, "spate_state_store_size_bytes", "State store: live data in "
                                             "SST files and memtables (RocksDB's estimate)", NULL),
                         (double)st.live_bytes);
        spate_metric_set(spate_metrics_gauge(m, "spate_state_store_keys", "State store: keys (RocksDB's "
                                             "estimate)", NULL), (double)st.keys);
        spate_metric_set(spate_metrics_gauge(m, "spate_state_block_cache_usage_bytes", "State store: block "
                                             "cache in use", NULL), (double)st.cache_usage);
        spate_metric_set(spate_metrics_gauge(m, "spate_state_block_cache_capacity_bytes", "State store: "
                                             "block cache capacity", NULL), (double)st.cache_capacity);
}

/* Consumer lag per assigned partition: the high watermark librdkafka last
 * saw in a fetch (no broker round trip) minus the next offset to process. */
static void metrics_refresh(spate_engine_t *e) {
        spate_metrics_t *m = spate_metrics_default();
        for (int i = 0; i < e->nsources; i++)
                for (int p = 0; p < e->sources[i].ntasks; p++) {
                        const task_t *t = &e->sources[i].tasks[p];
                        int64_t lo, hi, pos = t->first >= 0 ? t->next_offset : t->committed;
                        char part[16];
                        if (!t->assigned || rd_kafka_get_watermark_offsets(e->consumer, e->sources[i].topic,
                                                                           p, &lo, &hi) || hi < 0)
                                continue;
                        if (pos < lo)
                                pos = lo;
                        snprintf(part, sizeof(part), "%d", p);
                        spate_metric_set(spate_metrics_gauge(m, "spate_consumer_lag_records", "Records of an "
                                                             "assigned partition not processed yet",
                                                             "topic", e->sources[i].topic, "partition", part,
                                                             NULL),
                                         (double)(hi > pos ? hi - pos : 0));
                }
        if (e->store)
                store_metrics(e->store);
        e->last_metrics = spate_mono_ms();
}

spate_engine_t *spate_engine_new(spate_topology_t *t, char *errstr, size_t errstr_size) {
        spate_engine_t *e = calloc(1, sizeof(*e));
        rd_kafka_conf_t *cc = NULL, *pc = NULL;
        rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(4);

        e->topo = t;
        e->ctx.engine = e;
        e->ctx.ops = &engine_ops;
        e->me = (spate_committer_t){ spate_topology_fingerprint(t), spate_now_ms(), 0, 0 };
        e->tick_ms = 100;
        for (int i = 0; i < t->nnodes; i++) {
                int ms = t->nodes[i]->def->punctuate_ms;
                if (ms > 0 && ms < e->tick_ms)
                        e->tick_ms = ms;
        }
        spate_arena_init(&e->ctx.arena);
        metrics_init(e);
        if (!(pc = spate_kafka_conf(t, SPATE_CLIENT_PRODUCER, errstr, errstr_size)) ||
            !(cc = spate_kafka_conf(t, SPATE_CLIENT_CONSUMER, errstr, errstr_size)))
                goto err;
        rd_kafka_conf_set_opaque(pc, e);
        rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
        if (t->exactly_once && transactional_id(t, pc, errstr, errstr_size))
                goto err;
        if (!(e->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, errstr, errstr_size)))
                goto err;
        pc = NULL;
        e->max_message_bytes = producer_max_bytes(e->producer);
        if (t->exactly_once && init_transactions(e, errstr, errstr_size))
                goto err;
        if (spate_topics_ensure(e->producer, t, errstr, errstr_size))
                goto err;
        for (int i = 0; i < t->nnodes; i++) {
                spate_node_t *n = t->nodes[i];
                if (n->def->start && n->def->start(n, errstr, errstr_size))
                        goto err;
        }
        /* The end of a partition tells a caught-up source from a slow one
         * (spate_ctx_caught_up()). */
        if (rd_kafka_conf_set(cc, "enable.partition.eof", "true", errstr, errstr_size))
                goto err;
        rd_kafka_conf_set_opaque(cc, e);
        rd_kafka_conf_set_rebalance_cb(cc, on_rebalance);
        if (!(e->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, errstr, errstr_size)))
                goto err;
        cc = NULL;
        rd_kafka_poll_set_consumer(e->consumer);
        e->queue = rd_kafka_queue_get_consumer(e->consumer);
        e->peer_queue = rd_kafka_queue_new(e->consumer);
        e->ctx.producer = e->producer;
        if (add_sources(e, subs)) {
                snprintf(errstr, errstr_size, "topology reads one topic twice");
                goto err;
        }
        rd_kafka_resp_err_t err = rd_kafka_subscribe(e->consumer, subs);
        if (err) {
                snprintf(errstr, errstr_size, "subscribe: %s", rd_kafka_err2str(err));
                goto err;
        }
        rd_kafka_topic_partition_list_destroy(subs);
        return e;
err:
        if (pc)
                rd_kafka_conf_destroy(pc);
        if (cc)
                rd_kafka_conf_destroy(cc);
        rd_kafka_topic_partition_list_destroy(subs);
        spate_engine_destroy(e);
        return NULL;
}

static void punctuate(spate_engine_t *e) {
        e->ctx.now_ms = spate_now_ms();
        for (int i = 0; i < e->topo->nnodes; i++) {
                spate_node_t *n = e->topo->nodes[i];
                if (n->def->punctuate && n->def->punctuate(n, &e->ctx))
                        spate_warn("punctuate of '%s': %s", n->name, e->ctx.errstr);
        }
        e->last_punctuate = spate_mono_ms();
}

/* --until-idle found the sources idle: 1 when the run may end. Under
 * --end-of-input that is the end of the stream first: the nodes are told,
 * and the run ends once each is drained (its last outputs committed). */
static int input_ended(spate_engine_t *e) {
        if (!e->end_of_input)
                return 1;
        if (!e->ctx.end_of_input) {
                spate_info("end of input: every source is idle; closing what is open");
                e->ctx.end_of_input = 1;
                e->commit_asap = 1;
                return 0;
        }
        for (int i = 0; i < e->topo->nnodes; i++) {
                spate_node_t *n = e->topo->nodes[i];
                if (n->def->drained && !n->def->drained(n, &e->ctx))
                        return 0;
        }
        return 1;
}

/* 1 if some source's offsets are committed: not when every input is a table
 * (http_poll's coordinates), which is re-read on every assignment instead. */
static int commits_offsets(const spate_engine_t *e) {
        for (int i = 0; i < e->nsources; i++)
                if (!e->sources[i].rewind && !e->sources[i].internal)
                        return 1;
        return 0;
}

/* "commits N", or why a topology has none. */
static const char *commits_text(const spate_engine_t *e, char *buf, size_t size) {
        if (commits_offsets(e))
                snprintf(buf, size, "commits %llu", (unsigned long long)e->stats.commits);
        else
                snprintf(buf, size, "no offsets to commit (the input is a table, re-read on "
                         "assignment)");
        return buf;
}

static void report(spate_engine_t *e, int64_t now) {
        char commits[96];
        spate_info("consumed %llu, output %llu, internal %llu, dead letters %llu, %s",
                   (unsigned long long)e->stats.consumed, (unsigned long long)e->stats.out,
                   (unsigned long long)e->stats.internal, (unsigned long long)e->stats.dlq,
                   commits_text(e, commits, sizeof(commits)));
        e->last_report = now;
}

/* What the run did, on exit: records out and dead letters apart, and the
 * input rate only when the input was a stream (a table's read says nothing
 * of the topology's work; its nodes report their own at destroy). */
static void summary(spate_engine_t *e) {
        const spate_engine_stats_t *st = &e->stats;
        uint64_t stream = st->consumed - st->table;
        char commits[96];
        spate_info("summary: %.1f s; read %llu records (%llu from tables); output %llu records, "
                   "%llu dead letters (%s), %llu internal records; %s",
                   (double)(spate_mono_ms() - st->start_ms) / 1000.0,
                   (unsigned long long)st->consumed, (unsigned long long)st->table,
                   (unsigned long long)st->out, (unsigned long long)st->dlq, e->topo->dlq_topic,
                   (unsigned long long)st->internal, commits_text(e, commits, sizeof(commits)));
        if (stream > 1 && st->last_ms > st->first_ms)
                spate_info("throughput: %llu records in %.3f s = %.0f records/s (first to last record)",
                           (unsigned long long)stream, (double)(st->last_ms - st->first_ms) / 1000.0,
                           (double)stream * 1000.0 / (double)(st->last_ms - st->first_ms));
}

int spate_engine_run(spate_engine_t *e) {
        rd_kafka_message_t *msgs[BATCH];
        e->stats.start_ms = e->last_commit = e->last_punctuate = e->last_report = spate_mono_ms();
        spate_info("running '%s' (%d nodes, topology fingerprint %016llx)", e->topo->application,
                   e->topo->nnodes, (unsigned long long)e->me.fp);
        while (!e->stop && !e->failed) {
                ssize_t n = rd_kafka_consume_batch_queue(e->queue, e->tick_ms, msgs, BATCH);
                ssize_t records = 0;
                for (ssize_t i = 0; i < n; i++) {
                        if (msgs[i]->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                at_end(e, msgs[i]);
                        else if (msgs[i]->err)
                                spate_warn("consume: %s", rd_kafka_message_errstr(msgs[i]));
                        else
                                records += process_message(e, msgs[i]);
                        rd_kafka_message_destroy(msgs[i]);
                }
                rd_kafka_poll(e->producer, 0);
                int64_t now = spate_mono_ms();
                if (records > 0)
                        e->stats.last_ms = now;
                else if (e->until_idle_ms && e->assigned_once && now - e->stats.last_ms >= e->until_idle_ms &&
                         input_ended(e))
                        break;
                if (now - e->last_punctuate >= e->tick_ms)
                        punctuate(e);
                if (e->commit_asap || now - e->last_commit >= e->topo->commit_interval_ms)
                        commit(e);
                if (now - e->last_report >= 10000)
                        report(e, now);
                if (now - e->last_metrics >= 1000)
                        metrics_refresh(e);
                if (now - e->last_peer_check >= PEER_REFRESH_MS) {
                        e->refresh_tags = 1;
                        e->last_peer_check = now;
                        if (!e->peer_asked)
                                ask_peers(e);
                }
                if (e->peer_asked && peers_answered(e))
                        e->failed = 1;
        }
        atomic_store(&e->live, 0);
        /* The last commit says this instance left (check_peers()). */
        e->me.left = e->refresh_tags = 1;
        e->ctx.closing = 1;
        if (!e->failed)
                commit(e);
        summary(e);
        spate_info("leaving the group");
        rd_kafka_consumer_close(e->consumer);
        if (e->failed)
                spate_err("stopped (see above); uncommitted input will be replayed on restart");
        return e->failed ? -1 : 0;
}

void spate_engine_stop(spate_engine_t *e) {
        e->stop = 1;
}

void spate_engine_set_until_idle(spate_engine_t *e, int64_t idle_ms) {
        e->until_idle_ms = idle_ms;
}

void spate_engine_set_end_of_input(spate_engine_t *e, int on) {
        e->end_of_input = on;
}

int spate_engine_ready(spate_engine_t *e) {
        return atomic_load(&e->ready);
}

int spate_engine_live(spate_engine_t *e) {
        return atomic_load(&e->live);
}

void spate_engine_get_stats(const spate_engine_t *e, spate_engine_stats_t *st) {
        *st = e->stats;
}

void spate_engine_destroy(spate_engine_t *e) {
        if (!e)
                return;
        if (e->queue)
                rd_kafka_queue_destroy(e->queue);
        if (e->peer_queue)
                rd_kafka_queue_destroy(e->peer_queue);
        if (e->peer_parts)
                rd_kafka_topic_partition_list_destroy(e->peer_parts);
        if (e->consumer)
                rd_kafka_destroy(e->consumer);
        if (e->producer) {
                if (e->txn)
                        rd_kafka_abort_transaction(e->producer, 5000);
                rd_kafka_flush(e->producer, e->failed ? 0 : 10000);
                rd_kafka_destroy(e->producer);
        }
        if (e->restorer)
                rd_kafka_destroy(e->restorer);
        if (e->store)
                spate_store_close(e->store);
        for (int i = 0; i < e->nsources; i++) {
                for (int p = 0; p < e->sources[i].ntasks; p++)
                        free(e->sources[i].tasks[p].vals);
                free(e->sources[i].tasks);
        }
        free(e->sources);
        spate_arena_destroy(&e->ctx.arena);
        free(e);
}

spate_store_t **spate_engine_store_slot(spate_engine_t *e) {
        return &e->store;
}

rd_kafka_t **spate_engine_restorer_slot(spate_engine_t *e) {
        return &e->restorer;
}

const spate_topology_t *spate_engine_topology(const spate_engine_t *e) {
        return e->topo;
}
