/* engine.c - the processing loop. Commit protocol (at-least-once): flush
 * operators, wait until the producer has every output acknowledged, then
 * commit the input offsets; a crash anywhere replays, never loses. */
#include "engine.h"
#include "engine_int.h"
#include "ctx.h"
#include "kafka_conf.h"
#include "log.h"
#include "offset_meta.h"
#include "store.h"
#include "topics.h"
#include "util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
        int failed;                /* an output was not delivered */
        spate_engine_stats_t stats;
        rd_kafka_t *restorer;      /* assign-only consumer for changelog replay */
        spate_store_t *store;
        int64_t last_commit, last_punctuate, last_report;
        int64_t until_idle_ms;
        int assigned_once;
        int tick_ms;               /* punctuate period: the smallest a node asks for */
        int txn;                   /* exactly_once: a transaction is open */
        int commit_asap;           /* spate_ctx_request_commit() */
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
        spate_engine_t *e = opaque;
        int64_t *acked = m->_private;
        (void)rk;
        if (m->err) {
                spate_err("delivery to %s failed: %s", rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
                e->failed = 1;
                return;
        }
        e->stats.produced++;
        if (acked && m->offset + 1 > *acked)
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

int spate_ctx_produce(spate_ctx_t *ctx, const char *topic, int32_t partition,
                      const void *key, size_t key_len, const void *value, size_t len) {
        return spate_ctx_produce_acked(ctx, topic, partition, key, key_len, value, len, NULL);
}

int spate_ctx_produce_acked(spate_ctx_t *ctx, const char *topic, int32_t partition,
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
                rd_kafka_poll(ctx->producer, 10);
        }
}

static void dlq(spate_engine_t *e, const spate_origin_t *o, const char *reason) {
        rd_kafka_headers_t *h = rd_kafka_headers_new(6);
        char part[16], off[24];
        snprintf(part, sizeof(part), "%d", o->partition);
        snprintf(off, sizeof(off), "%lld", (long long)o->offset);
        rd_kafka_header_add(h, "spate.error", -1, reason, -1);
        rd_kafka_header_add(h, "spate.node", -1, e->ctx.failed ? e->ctx.failed->name : "?", -1);
        rd_kafka_header_add(h, "spate.topic", -1, o->topic, -1);
        rd_kafka_header_add(h, "spate.partition", -1, part, -1);
        rd_kafka_header_add(h, "spate.offset", -1, off, -1);
        rd_kafka_header_add(h, "spate.application", -1, e->topo->application, -1);
        for (;;) {
                rd_kafka_resp_err_t err = rd_kafka_producev(
                        e->producer, RD_KAFKA_V_TOPIC(e->topo->dlq_topic),
                        RD_KAFKA_V_KEY((void *)o->key, o->key_len),
                        RD_KAFKA_V_VALUE((void *)o->payload, o->len), RD_KAFKA_V_HEADERS(h),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
                if (!err)
                        break;
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                        spate_err("cannot queue a DLQ record: %s", rd_kafka_err2str(err));
                        rd_kafka_headers_destroy(h);
                        e->failed = 1;
                        return;
                }
                rd_kafka_poll(e->producer, 10);
        }
        e->stats.dlq++;
        spate_debug("DLQ %s[%d]@%lld: %s", o->topic, o->partition, (long long)o->offset, reason);
}

void spate_ctx_dead_letter(spate_ctx_t *ctx, const spate_origin_t *o) {
        if (!ctx->engine) {        /* unit tests */
                ctx->dlq++;
                return;
        }
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
        int (*handle)(spate_node_t *, spate_record_t *, spate_ctx_t *) =
                s->internal ? s->node->def->input : s->node->def->process;
        if (handle(s->node, &rec, &e->ctx))
                dlq(e, &o, e->ctx.errstr);
        task->next_offset = m->offset + 1;
        if (task->first < 0)
                task->first = m->offset;
        if (!e->stats.consumed++)
                e->stats.first_ms = spate_mono_ms();
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
                if (n->def->flush && n->def->flush(n, &e->ctx)) {
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

/* Sets elem's offset, and its metadata to "spate:<node>=<ms>[/<cut>];..."
 * for the nodes that keep values with the partition: the current times, or
 * (intent) those committed with the offset. A cut at or below the offset
 * is history and left out. */
static void vals_to_metadata(spate_engine_t *e, const task_t *t, int64_t offset, int intent,
                             rd_kafka_topic_partition_t *elem) {
        char buf[2048];
        size_t off = 0;
        elem->offset = offset;
        if (!t->vals)
                return;
        off = (size_t)snprintf(buf, sizeof(buf), TIMES_PREFIX);
        for (int i = 0; i < e->topo->nnodes && off < sizeof(buf); i++) {
                const pvals_t *v = &t->vals[i];
                int64_t time = intent ? v->ctime : v->time;
                if (time == INT64_MIN && v->cut <= offset)
                        continue;
                off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s=%lld", e->topo->nodes[i]->name,
                                        (long long)time);
                if (v->cut > offset && off < sizeof(buf))
                        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "/%lld", (long long)v->cut);
                if (off < sizeof(buf))
                        off += (size_t)snprintf(buf + off, sizeof(buf) - off, ";");
        }
        if (off >= sizeof(buf) || !(elem->metadata = strdup(buf)))
                return;
        elem->metadata_size = strlen(buf);
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
                if (c->elems[i].offset >= 0)
                        t->committed = c->elems[i].offset;
                struct meta_task mt = { e, t };
                if (c->elems[i].metadata)
                        spate_offset_meta_parse(c->elems[i].metadata, c->elems[i].metadata_size, meta_val, &mt);
        }
        rd_kafka_topic_partition_list_destroy(c);
}

static pvals_t *ctx_vals(spate_ctx_t *ctx, const spate_node_t *n, const char *topic, int32_t partition,
                         task_t **taskp) {
        source_t *s = ctx->engine ? source_for(ctx->engine, topic) : NULL;
        if (!s || partition < 0)
                return NULL;
        *taskp = task_for(s, partition);
        return &task_vals(ctx->engine, *taskp)[n->index];
}

int64_t spate_ctx_partition_time(spate_ctx_t *ctx, const spate_node_t *n, const char *topic,
                                 int32_t partition) {
        task_t *task;
        pvals_t *v = ctx_vals(ctx, n, topic, partition, &task);
        return v ? v->time : INT64_MIN;
}

void spate_ctx_set_partition_time(spate_ctx_t *ctx, const spate_node_t *n, const char *topic,
                                  int32_t partition, int64_t t) {
        task_t *task;
        pvals_t *v = ctx_vals(ctx, n, topic, partition, &task);
        if (v) {
                task->times_changed |= v->time != t;
                v->time = t;
        }
}

int64_t spate_ctx_partition_cut(spate_ctx_t *ctx, const spate_node_t *n, const char *topic,
                                int32_t partition) {
        task_t *task;
        pvals_t *v = ctx_vals(ctx, n, topic, partition, &task);
        return v ? v->cut : -1;
}

void spate_ctx_set_partition_cut(spate_ctx_t *ctx, const spate_node_t *n, const char *topic,
                                 int32_t partition, int64_t cut) {
        task_t *task;
        pvals_t *v = ctx_vals(ctx, n, topic, partition, &task);
        if (v)
                v->cut = cut;
}

/* A cut above the offset committed last: not committed yet. */
static int cut_pending(spate_engine_t *e, const task_t *t, int64_t base) {
        for (int i = 0; t->vals && i < e->topo->nnodes; i++)
                if (t->vals[i].cut > base)
                        return 1;
        return 0;
}

int spate_ctx_commit_cuts(spate_ctx_t *ctx) {
        spate_engine_t *e = ctx->engine;
        rd_kafka_topic_partition_list_t *offs;
        rd_kafka_resp_err_t err = 0;
        if (!e)
                return 0;
        offs = rd_kafka_topic_partition_list_new(16);
        for (int i = 0; i < e->nsources; i++)
                for (int p = 0; p < e->sources[i].ntasks; p++) {
                        task_t *t = &e->sources[i].tasks[p];
                        int64_t base = t->committed >= 0 ? t->committed : t->first;
                        if (t->assigned && base >= 0 && cut_pending(e, t, base))
                                vals_to_metadata(e, t, base, 1, rd_kafka_topic_partition_list_add(
                                                                        offs, e->sources[i].topic, p));
                }
        if (offs->cnt && (err = rd_kafka_commit(e->consumer, offs, 0)))
                snprintf(ctx->errstr, sizeof(ctx->errstr), "committing batch cuts: %s", rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(offs);
        return err ? -1 : 0;
}

void spate_ctx_hold_offsets(spate_ctx_t *ctx, const char *topic) {
        source_t *s = ctx->engine ? source_for(ctx->engine, topic) : NULL;
        if (s)
                s->hold = 1;
}

void spate_ctx_request_commit(spate_ctx_t *ctx) {
        if (ctx->engine)
                ctx->engine->commit_asap = 1;
}

int spate_ctx_caught_up(spate_ctx_t *ctx, const char *topic, int32_t partition) {
        source_t *s = ctx->engine ? source_for(ctx->engine, topic) : NULL;
        return !s || (partition < s->ntasks && s->tasks[partition].at_end);
}

/* The processed offsets of assigned partitions not committed yet. */
static rd_kafka_topic_partition_list_t *offsets_to_commit(spate_engine_t *e) {
        rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new(16);
        for (int i = 0; i < e->nsources; i++)
                for (int p = 0; p < e->sources[i].ntasks; p++) {
                        task_t *t = &e->sources[i].tasks[p];
                        if (e->sources[i].rewind || e->sources[i].hold)
                                break;
                        /* A time may move on without records (close_after_idle):
                         * commit it with the same offset once one was processed. */
                        if (t->assigned && t->first >= 0 &&
                            (t->next_offset > t->committed || t->times_changed))
                                vals_to_metadata(e, t, t->next_offset, 0, rd_kafka_topic_partition_list_add(
                                                                offs, e->sources[i].topic, p));
                }
        for (int i = 0; i < e->nsources; i++)
                e->sources[i].hold = 0;
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
        /* At shutdown the broker may be gone: wait a bounded time, and then
         * commit nothing, so the uncommitted input is replayed on restart. */
        int64_t deadline = e->stop ? spate_mono_ms() + 10000 : INT64_MAX;
        while (!e->failed && rd_kafka_outq_len(e->producer) > 0) {
                if (spate_mono_ms() > deadline) {
                        spate_err("outputs not acknowledged within 10 s of shutdown; input offsets "
                                  "are not committed (it will be replayed)");
                        e->failed = 1;
                        break;
                }
                rd_kafka_poll(e->producer, 50);
        }
}

/* Commits the processed offsets of assigned partitions once every output
 * derived from them is acknowledged (exactly_once: in the transaction that
 * holds those outputs; the offsets are then also committed plainly, which is
 * what a broker whose transactions are a shell - the embedded one - keeps). */
static int commit(spate_engine_t *e) {
        rd_kafka_topic_partition_list_t *offs;
        rd_kafka_resp_err_t err;
        int rc = 0;

        if (flush_nodes(e))
                e->failed = 1;
        offs = offsets_to_commit(e);
        if (e->txn && !e->failed)
                txn_commit(e, offs);
        else
                wait_acks(e);
        for (int i = 0; i < e->topo->nnodes && !e->failed; i++) {
                spate_node_t *n = e->topo->nodes[i];
                if (n->def->checkpoint && n->def->checkpoint(n, &e->ctx)) {
                        spate_err("checkpoint of node '%s' failed: %s", n->name, e->ctx.errstr);
                        e->failed = 1;
                }
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
                        if (assign && n->def->assign && n->def->assign(n, topic, p, &e->ctx)) {
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

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
        spate_engine_t *e = opaque;
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                log_parts("assigned", parts);
                set_assigned(e, parts, 1);
                fetch_committed(e, parts);
                e->assigned_once = 1;
                e->stats.last_ms = spate_mono_ms(); /* --until-idle counts from here */
                /* State is restored before the partitions' records flow. */
                if (task_hooks(e, parts, 1))
                        e->failed = 1;
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
        /* Commit what was processed before the partitions move, so their new
         * owner starts where this instance stopped. */
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
                if (n->def->role == SPATE_ROLE_SOURCE &&
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

spate_engine_t *spate_engine_new(spate_topology_t *t, char *errstr, size_t errstr_size) {
        spate_engine_t *e = calloc(1, sizeof(*e));
        rd_kafka_conf_t *cc = NULL, *pc = NULL;
        rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(4);

        e->topo = t;
        e->ctx.engine = e;
        e->tick_ms = 100;
        for (int i = 0; i < t->nnodes; i++) {
                int ms = t->nodes[i]->def->punctuate_ms;
                if (ms > 0 && ms < e->tick_ms)
                        e->tick_ms = ms;
        }
        spate_arena_init(&e->ctx.arena);
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
        if (t->exactly_once && init_transactions(e, errstr, errstr_size))
                goto err;
        if (spate_topics_ensure(e->producer, t, errstr, errstr_size))
                goto err;
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

static void report(spate_engine_t *e, int64_t now) {
        spate_info("consumed %llu, produced %llu, dead-lettered %llu, commits %llu",
                   (unsigned long long)e->stats.consumed, (unsigned long long)e->stats.produced,
                   (unsigned long long)e->stats.dlq, (unsigned long long)e->stats.commits);
        e->last_report = now;
}

int spate_engine_run(spate_engine_t *e) {
        rd_kafka_message_t *msgs[BATCH];
        e->last_commit = e->last_punctuate = e->last_report = spate_mono_ms();
        spate_info("running '%s' (%d nodes)", e->topo->application, e->topo->nnodes);
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
                else if (e->until_idle_ms && e->assigned_once && now - e->stats.last_ms >= e->until_idle_ms)
                        break;
                if (now - e->last_punctuate >= e->tick_ms)
                        punctuate(e);
                if (e->commit_asap || now - e->last_commit >= e->topo->commit_interval_ms)
                        commit(e);
                if (now - e->last_report >= 10000)
                        report(e, now);
        }
        if (!e->failed)
                commit(e);
        report(e, spate_mono_ms());
        if (e->stats.consumed > 1 && e->stats.last_ms > e->stats.first_ms)
                spate_info("throughput: %llu records in %.3f s = %.0f records/s (first to last record)",
                           (unsigned long long)e->stats.consumed,
                           (double)(e->stats.last_ms - e->stats.first_ms) / 1000.0,
                           (double)e->stats.consumed * 1000.0 / (double)(e->stats.last_ms - e->stats.first_ms));
        spate_info("leaving the group");
        rd_kafka_consumer_close(e->consumer);
        if (e->failed)
                spate_err("stopped: output was not delivered; uncommitted input will be replayed on restart");
        return e->failed ? -1 : 0;
}

void spate_engine_stop(spate_engine_t *e) {
        e->stop = 1;
}

void spate_engine_set_until_idle(spate_engine_t *e, int64_t idle_ms) {
        e->until_idle_ms = idle_ms;
}

void spate_engine_get_stats(const spate_engine_t *e, spate_engine_stats_t *st) {
        *st = e->stats;
}

void spate_engine_destroy(spate_engine_t *e) {
        if (!e)
                return;
        if (e->queue)
                rd_kafka_queue_destroy(e->queue);
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
