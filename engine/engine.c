/* engine.c - the processing loop: the clients, the sources' tasks, records
 * through the nodes, outputs and dead letters, punctuation, reports. The
 * commit protocol is engine_commit.c's, the values committed with offsets
 * engine_offsets.c's, rebalances and peers engine_group.c's (engine_impl.h). */
#include "engine_impl.h"
#include "../util/mem.h"
#include "engine_int.h"
#include "dlq.h"
#include "fetch_wake.h"
#include "kafka_conf.h"
#include "live.h"
#include "../util/log.h"
#include "topics.h"
#include "../util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double spate_engine_mono_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define ROLE_DLQ (-1)

/* The producer's handle of a topic, made on its first message, with the
 * topic's role for delivery reports: the DLQ, a sink's topic or an internal
 * one. NULL when librdkafka refuses the name. */
static struct out_topic *out_topic(spate_engine_t *e, const char *name) {
        for (int i = 0; i < e->nouts; i++)
                if (!strcmp(e->outs[i].name, name))
                        return &e->outs[i];
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(e->producer, name, NULL);
        if (!rkt)
                return NULL;
        struct out_topic *o = spate_xrealloc(e->outs, sizeof(*o) * (size_t)(e->nouts + 1));
        e->outs = o;
        const spate_topic_decl_t *d = spate_topology_topic(e->topo, name);
        o[e->nouts] = (struct out_topic){ .name = rd_kafka_topic_name(rkt), .rkt = rkt,
                                          .role = !strcmp(name, e->topo->dlq_topic) ? ROLE_DLQ
                                                  : d && d->role == SPATE_TOPIC_SINK ? SPATE_TOPIC_SINK
                                                  : SPATE_TOPIC_INTERNAL };
        return &o[e->nouts++];
}

/* The role of the topic a delivery report is for. */
static int topic_role(spate_engine_t *e, const rd_kafka_topic_t *rkt) {
        for (int i = 0; i < e->nouts; i++)
                if (e->outs[i].rkt == rkt)
                        return e->outs[i].role;
        struct out_topic *o = out_topic(e, rd_kafka_topic_name(rkt));
        return o ? o->role : SPATE_TOPIC_INTERNAL;
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

source_t *spate_engine_source_for(spate_engine_t *e, const char *topic) {
        for (int i = 0; i < e->nsources; i++)
                if (!strcmp(e->sources[i].topic, topic))
                        return &e->sources[i];
        return NULL;
}

task_t *spate_engine_task_for(source_t *s, int32_t partition) {
        if (partition >= s->ntasks) {
                int n = partition + 1;
                s->tasks = spate_xrealloc(s->tasks, sizeof(*s->tasks) * (size_t)n);
                memset(s->tasks + s->ntasks, 0, sizeof(*s->tasks) * (size_t)(n - s->ntasks));
                s->ntasks = n;
        }
        return &s->tasks[partition];
}

/* Whether a stopping instance has waited for the broker as long as it may:
 * SHUTDOWN_ACK_MS counted from the first time a wait sees the stop request
 * (a signal handler only sets e->stop). */
int spate_engine_stop_deadline_passed(spate_engine_t *e) {
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
        if (spate_engine_stop_deadline_passed(e)) {
                if (!e->failed)
                        spate_err("the producer's queue stayed full %d s after the stop request; input "
                                  "offsets are not committed (it will be replayed)", SHUTDOWN_ACK_MS / 1000);
                e->failed = 1;
                return -1;
        }
        rd_kafka_poll(e->producer, 10);
        return 0;
}

/* A message librdkafka would refuse as too large (its overhead of a record
 * in a v2 batch at most: rd_kafka_msg_max_wire_size()), told at once: the
 * record that made it is dead-lettered, not the instance failed later. */
#define MSG_MAX_OVERHEAD 36

static int produce_now(spate_ctx_t *ctx, int i, int32_t partition, const void *key, size_t key_len,
                       const void *value, size_t len, int64_t ts, int64_t *acked) {
        spate_engine_t *e = ctx->engine;
        rd_kafka_topic_t *rkt = e->outs[i].rkt;  /* a delivery report may grow e->outs */
        for (;;) {
                rd_kafka_resp_err_t err = rd_kafka_producev(
                        ctx->producer, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                        RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, len),
                        RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_OPAQUE(acked),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
                if (!err)
                        return 0;
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                        snprintf(ctx->errstr, sizeof(ctx->errstr), "produce to %s: %s",
                                 rd_kafka_topic_name(rkt), rd_kafka_err2str(err));
                        return -1;
                }
                if (wait_queue_room(e)) {
                        snprintf(ctx->errstr, sizeof(ctx->errstr), "produce to %s: stopping",
                                 rd_kafka_topic_name(rkt));
                        return -1;
                }
        }
}

/* Hands out topic i's box to the producer, waiting for room in its queue. */
static int send_box(spate_engine_t *e, int i) {
        for (;;) {
                int32_t partition = -1;
                rd_kafka_resp_err_t err = spate_outbox_send(&e->outs[i].box, e->outs[i].rkt, &partition);
                if (!err)
                        return 0;
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                        spate_err("produce to %s[%d]: %s; nothing is committed (the input is replayed)",
                                  e->outs[i].name, (int)partition, rd_kafka_err2str(err));
                        e->failed = 1;
                        return -1;
                }
                if (wait_queue_room(e)) {
                        spate_outbox_clear(&e->outs[i].box);
                        return -1;
                }
        }
}

int spate_engine_send_outputs(spate_engine_t *e) {
        int rc = 0;
        for (int i = 0; i < e->nouts; i++)
                if (e->failed)
                        spate_outbox_clear(&e->outs[i].box);
                else if (e->outs[i].box.n && send_box(e, i))
                        rc = -1;
        return e->failed ? -1 : rc;
}

static int engine_produce(spate_ctx_t *ctx, const char *topic, int32_t partition,
                          const void *key, size_t key_len, const void *value, size_t len, int64_t ts,
                          int64_t *acked) {
        spate_engine_t *e = ctx->engine;
        struct out_topic *o = out_topic(e, topic);
        if (!o) {
                snprintf(ctx->errstr, sizeof(ctx->errstr), "produce to %s: %s", topic,
                         rd_kafka_err2str(rd_kafka_last_error()));
                return -1;
        }
        int i = (int)(o - e->outs);
        if (MSG_MAX_OVERHEAD + key_len + len > e->max_message_bytes) {
                snprintf(ctx->errstr, sizeof(ctx->errstr), "produce to %s: %s", topic,
                         rd_kafka_err2str(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE));
                return -1;
        }
        ctx->produced++;
        /* produce_batch() stamps a batch with one clock: a message with a
         * time of its own goes alone, after what the box holds for its topic. */
        if (ts) {
                if (o->box.n && send_box(e, i)) {
                        snprintf(ctx->errstr, sizeof(ctx->errstr), "produce to %s: failed", topic);
                        return -1;
                }
                return produce_now(ctx, i, partition, key, key_len, value, len, ts, acked);
        }
        if (spate_outbox_add(&o->box, partition, key, key_len, value, len, acked) && send_box(e, i)) {
                snprintf(ctx->errstr, sizeof(ctx->errstr), "produce to %s: failed", topic);
                return -1;
        }
        return 0;
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

static source_t *source_of(spate_engine_t *e, const rd_kafka_message_t *m) {
        if (m->rkt != e->last_rkt) {
                e->last_rkt = m->rkt;
                e->last_source = spate_engine_source_for(e, rd_kafka_topic_name(m->rkt));
        }
        return e->last_source;
}

/* Returns 1 for a message of a source topic: input, which --until-idle
 * waits for (internal topics carry marks as long as time passes). */
static int process_message(spate_engine_t *e, rd_kafka_message_t *m) {
        source_t *s = source_of(e, m);
        if (!s)
                return 0;
        const char *topic = s->topic;
        rd_kafka_timestamp_type_t tstype;
        spate_origin_t o = { topic, m->partition, m->offset, m->payload, m->len, m->key, m->key_len, -1, -1, 0 };
        spate_record_t rec = { .key = m->key, .key_len = m->key_len, .origin = &o };

        rec.ts = rd_kafka_message_timestamp(m, &tstype);
        spate_arena_reset(&e->ctx.arena);
        e->ctx.failed = NULL;
        e->ctx.origin = &o;
        task_t *task = spate_engine_task_for(s, m->partition);
        task->at_end = 0;
        if (!s->internal) {
                if (s->node->m_in)
                        spate_metric_add(s->node->m_in, 1);
                spate_live_offer(topic, m->key, m->key_len, m->payload, m->len);
        }
        int (*handle)(spate_node_t *, spate_record_t *, spate_ctx_t *) =
                s->internal ? s->node->def->input : s->node->def->process;
        /* The origin as the node left it: a repartition topic's reader
         * points it at the record without the message's own head. */
        if (handle(s->node, &rec, &e->ctx))
                dlq(e, rec.origin, e->ctx.errstr);
        e->ctx.origin = NULL;  /* o is gone: what a commit emits has no origin */
        task->next_offset = m->offset + 1;
        if (task->first < 0)
                task->first = m->offset;
        if (!e->stats.consumed++) {
                e->stats.first_ms = spate_mono_ms();
                e->stats.first_cpu_ns = spate_thread_cpu_ns();
        }
        e->stats.table += s->rewind;
        return !s->internal;
}

static void at_end(spate_engine_t *e, const rd_kafka_message_t *m) {
        source_t *s = source_of(e, m);
        if (s) {
                task_t *t = spate_engine_task_for(s, m->partition);
                t->at_end = 1;
                t->end_offset = m->offset;
        }
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
        source_t *s = spate_engine_source_for(ctx->engine, topic);
        return !s || (partition < s->ntasks && s->tasks[partition].at_end);
}

/* What the spate_ctx_* calls do under the engine (the store and the replay
 * are restore.c's). */

static const spate_ctx_ops_t engine_ops = {
        .produce = engine_produce,
        .dead_letter = engine_dead_letter,
        .partition_val = spate_engine_partition_val,
        .set_partition_val = spate_engine_set_partition_val,
        .commit_cuts = spate_engine_commit_cuts,
        .hold_offsets = spate_engine_hold_offsets,
        .request_commit = engine_request_commit,
        .caught_up = engine_caught_up,
        .replay = spate_engine_replay,
        .store = spate_engine_store,
        .check_resume = spate_engine_check_resume,
        .stopping = engine_stopping,
        .wait_acks = spate_engine_ctx_wait_acks,
        .partitions = engine_partitions,
};

static int add_source(spate_engine_t *e, rd_kafka_topic_partition_list_t *subs, spate_node_t *n,
                      const char *topic, int internal) {
        if (spate_engine_source_for(e, topic)) {
                spate_err("two nodes read topic '%s'; read it once and branch with from:", topic);
                return -1;
        }
        e->sources = spate_xrealloc(e->sources, sizeof(*e->sources) * (size_t)(e->nsources + 1));
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
        if (spate_engine_txn_begin(e)) {
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
                /* An internal node counts in the series of the node it was
                 * split from: its input is that node's, as before the split. */
                const char *name = n->split_of ? n->split_of->name : n->name;
                n->m_in = spate_metrics_counter(m, "spate_node_records_in_total", "Records a node received "
                                                "(a source: read from its topic)", "node", name, NULL);
                n->m_out = spate_metrics_counter(m, "spate_node_records_out_total", "Records a node passed on "
                                                 "(a sink: wrote)", "node", name, NULL);
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
        spate_metric_set(spate_metrics_gauge(m, "spate_state_memtable_bytes", "State store: memtables "
                                             "(write buffers) of every column family", NULL),
                         (double)st.memtable_bytes);
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

/* A numeric consumer property (the prefetch bounds), 0 when unset. */
static long consumer_long(rd_kafka_t *rk, const char *name) {
        char v[32];
        size_t size = sizeof(v);
        if (rd_kafka_conf_get(rd_kafka_conf(rk), name, v, &size) != RD_KAFKA_CONF_OK)
                return 0;
        return atol(v);
}

static void start_fetch_wake(spate_engine_t *e) {
        const char *topics[64];
        int n = 0;
        for (int i = 0; i < e->nsources && n < 64; i++)
                topics[n++] = e->sources[i].topic;
        e->prefetch_bytes = consumer_long(e->consumer, "queued.max.messages.kbytes") * 1024;
        e->prefetch_msgs = consumer_long(e->consumer, "queued.min.messages");
        e->wake = spate_fetch_wake_start(e->consumer, e->queue, topics, n);
}

spate_engine_t *spate_engine_new(spate_topology_t *t, char *errstr, size_t errstr_size) {
        spate_engine_t *e = calloc(1, sizeof(*e));
        rd_kafka_conf_t *cc = NULL, *pc = NULL;
        rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(4);

        e->topo = t;
        e->ctx.engine = e;
        e->ctx.ops = &engine_ops;
        e->me = (spate_committer_t){ .fp = spate_topology_fingerprint(t), .start_ms = spate_now_ms() };
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
        rd_kafka_conf_set_rebalance_cb(cc, spate_engine_on_rebalance);
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
        if (spate_engine_standby_start(e, errstr, errstr_size))
                goto err;
        rd_kafka_resp_err_t err = rd_kafka_subscribe(e->consumer, subs);
        if (err) {
                snprintf(errstr, errstr_size, "subscribe: %s", rd_kafka_err2str(err));
                goto err;
        }
        start_fetch_wake(e);
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

/* The fetch wake-ups' "catching up" (fetch_wake.c): BATCH records within
 * one tick, which is what a batch that filled before its timeout said when
 * the loop waited for full batches. A tick with fewer ends it. */
static int catching_up(spate_engine_t *e, ssize_t n) {
        int64_t now = spate_mono_ms();
        if (n > 0)
                e->wake_records += n;
        if (e->wake_records >= BATCH || now - e->wake_since >= e->tick_ms) {
                e->wake_busy = e->wake_records >= BATCH;
                e->wake_records = 0;
                e->wake_since = now;
        }
        return e->wake_busy;
}

/* Below half the prefetch bound, in messages: of the bytes bound at the
 * batch's mean size, or of the count bound when that is reached first (small
 * records). Waking only below half the bytes bound would never wake a queue
 * held at the count bound, which then read in 1 s bursts. */
static void fetch_wake_batch(spate_engine_t *e, rd_kafka_message_t **msgs, ssize_t n) {
        size_t bytes = 0;
        for (ssize_t i = 0; i < n; i++)
                bytes += msgs[i]->len + msgs[i]->key_len;
        long low = n > 0 ? e->prefetch_bytes / 2 / (long)(bytes / (size_t)n + 1) : 0;
        if (e->prefetch_msgs > 0 && low > e->prefetch_msgs / 2)
                low = e->prefetch_msgs / 2;
        spate_fetch_wake_batch(e->wake, catching_up(e, n), low);
}

/* Up to BATCH consumed messages: what the queue holds, or else the first to
 * arrive within a tick and what came with it. librdkafka's batch call waits
 * until it has them all or the tick is over, which left the records it had
 * unprocessed (and their outputs unsent) while the fetchers refilled the
 * queue: the region job ran 0.63 -> 0.73x raw consume in 6 alternating
 * rounds once the records in hand were processed meanwhile. */
static ssize_t consume(spate_engine_t *e, rd_kafka_message_t **msgs) {
        ssize_t n = rd_kafka_consume_batch_queue(e->queue, 0, msgs, BATCH);
        if (n != 0)
                return n;
        n = rd_kafka_consume_batch_queue(e->queue, e->tick_ms, msgs, 1);
        if (n != 1)
                return n;
        ssize_t more = rd_kafka_consume_batch_queue(e->queue, 0, msgs + 1, BATCH - 1);
        return more > 0 ? 1 + more : 1;
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

/* --until-idle: a partition counts as idle only once a fetch has answered
 * for it (librdkafka then knows its high watermark): under load the first
 * fetch can take longer than the idle time, which is not the end of the
 * input. A minute past the idle time ends the run anyway (a partition whose
 * fetches keep failing, a broker that does not answer). */
#define UNTIL_IDLE_FETCH_GRACE_MS 60000

static int fetched_all(spate_engine_t *e) {
        for (int i = 0; i < e->nsources; i++)
                for (int p = 0; p < e->sources[i].ntasks; p++) {
                        int64_t lo, hi;
                        if (e->sources[i].tasks[p].assigned &&
                            (rd_kafka_get_watermark_offsets(e->consumer, e->sources[i].topic, p, &lo, &hi) ||
                             hi < 0))
                                return 0;
                }
        return 1;
}

/* --until-idle: the records the sources' records were repartitioned into
 * are processed too - every message is acknowledged, and each internal topic
 * of a node that reads it record by record is consumed up to its end: the
 * consumer reached an end of each partition, and the broker's high
 * watermark (a round trip, once the sources are idle: the consumer's own
 * can predate the last writes) is not past it. A node with
 * drained() (a window) says itself when it is done, under --end-of-input. */
static int internal_drained(spate_engine_t *e) {
        if (spate_engine_send_outputs(e) || rd_kafka_outq_len(e->producer) > 0)
                return 0;
        for (int i = 0; i < e->nsources; i++) {
                const source_t *s = &e->sources[i];
                for (int p = 0; s->internal && !s->node->def->drained && p < s->ntasks; p++) {
                        int64_t lo, hi;
                        if (s->tasks[p].assigned &&
                            (!s->tasks[p].at_end ||
                             rd_kafka_query_watermark_offsets(e->consumer, s->topic, p, &lo, &hi, 5000) ||
                             s->tasks[p].end_offset < hi))
                                return 0;
                }
        }
        return 1;
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
        /* The processing thread's CPU says what the records cost apart from
         * the wait for them, which a shared machine makes noisy. */
        if (stream > 1 && st->last_ms > st->first_ms)
                spate_info("throughput: %llu records in %.3f s = %.0f records/s (first to last record); "
                           "processing thread CPU %.3f s (%.0f ns a record)",
                           (unsigned long long)stream, (double)(st->last_ms - st->first_ms) / 1000.0,
                           (double)stream * 1000.0 / (double)(st->last_ms - st->first_ms),
                           (double)(st->last_cpu_ns - st->first_cpu_ns) / 1e9,
                           (double)(st->last_cpu_ns - st->first_cpu_ns) / (double)stream);
}

/* Whether a source task still holds its partition (the revoke clears it). */
static int any_assigned(const spate_engine_t *e) {
        for (int i = 0; i < e->nsources; i++)
                for (int p = 0; p < e->sources[i].ntasks; p++)
                        if (e->sources[i].tasks[p].assigned)
                                return 1;
        return 0;
}

/* Leaves the group before the consumer closes, as Kafka Streams' StreamThread
 * does: unsubscribe, then serve the revoke in this thread's own poll while the
 * group is alive. A close with partitions still assigned runs the revoke
 * inside rd_kafka_consumer_close(), where librdkafka's rd_kafka_assign() can
 * wait for good (librdkafka#4884, #4527; their reporters' workaround).
 * Records fetched meanwhile are dropped unprocessed: only processed offsets
 * are committed, so the partitions' next owner reads them. Past
 * SHUTDOWN_ACK_MS the close runs all the same, under the shutdown deadline. */
static void leave_group(spate_engine_t *e) {
        rd_kafka_message_t *msgs[BATCH];
        int64_t t0 = spate_mono_ms();
        rd_kafka_resp_err_t err = rd_kafka_unsubscribe(e->consumer);

        if (err) {
                spate_warn("unsubscribe: %s; leaving the group in the consumer's close", rd_kafka_err2str(err));
                return;
        }
        while (any_assigned(e) && spate_mono_ms() - t0 < SHUTDOWN_ACK_MS) {
                ssize_t n = rd_kafka_consume_batch_queue(e->queue, 100, msgs, BATCH);
                for (ssize_t i = 0; i < n; i++)
                        rd_kafka_message_destroy(msgs[i]);
                rd_kafka_poll(e->producer, 0);
        }
}

int spate_engine_run(spate_engine_t *e) {
        rd_kafka_message_t *msgs[BATCH];
        e->stats.start_ms = e->last_commit = e->last_punctuate = e->last_report = spate_mono_ms();
        spate_info("running '%s' (%d nodes, topology fingerprint %016llx)", e->topo->application,
                   e->topo->nnodes, (unsigned long long)e->me.fp);
        while (!e->stop && !e->failed) {
                ssize_t n = consume(e, msgs);
                ssize_t records = 0;
                e->ctx.wall_floor_ms = spate_now_ms();
                fetch_wake_batch(e, msgs, n);
                for (ssize_t i = 0; i < n; i++) {
                        if (msgs[i]->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                at_end(e, msgs[i]);
                        else if (msgs[i]->err)
                                spate_warn("consume: %s", rd_kafka_message_errstr(msgs[i]));
                        else
                                records += process_message(e, msgs[i]);
                        rd_kafka_message_destroy(msgs[i]);
                }
                spate_engine_send_outputs(e);
                rd_kafka_poll(e->producer, 0);
                if (spate_engine_standby_poll(e, n > 0)) {
                        spate_err("standby replicas: %s", e->ctx.errstr);
                        e->failed = 1;
                }
                int64_t now = spate_mono_ms();
                if (records > 0) {
                        e->stats.last_ms = now;
                        e->stats.last_cpu_ns = spate_thread_cpu_ns();
                } else if (e->until_idle_ms && e->assigned_once && now - e->stats.last_ms >= e->until_idle_ms &&
                         ((fetched_all(e) && internal_drained(e)) ||
                          now - e->stats.last_ms >= e->until_idle_ms + UNTIL_IDLE_FETCH_GRACE_MS) &&
                         input_ended(e))
                        break;
                if (now - e->last_punctuate >= e->tick_ms) {
                        punctuate(e);
                        spate_engine_send_outputs(e);
                }
                if (e->commit_asap || now - e->last_commit >= e->topo->commit_interval_ms)
                        spate_engine_commit(e);
                if (now - e->last_report >= 10000)
                        report(e, now);
                if (now - e->last_metrics >= 1000)
                        metrics_refresh(e);
                if (now - e->last_peer_check >= PEER_REFRESH_MS) {
                        e->refresh_tags = 1;
                        e->last_peer_check = now;
                        if (!e->peer_asked)
                                spate_engine_ask_peers(e);
                }
                if (e->peer_asked && spate_engine_peers_answered(e))
                        e->failed = 1;
        }
        atomic_store(&e->live, 0);
        /* The last commit says this instance left (spate_engine_check_peers()). */
        e->me.left = e->refresh_tags = 1;
        e->ctx.closing = 1;
        spate_stop_step("final_commit");
        if (!e->failed)
                spate_engine_commit(e);
        summary(e);
        spate_fetch_wake_stop(e->wake);
        e->wake = NULL;
        spate_info("leaving the group");
        spate_stop_step("unsubscribe");
        leave_group(e);
        spate_stop_step("consumer_close");
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

struct spate_store *spate_engine_state_store(spate_engine_t *e) {
        return __atomic_load_n(&e->store, __ATOMIC_ACQUIRE);
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
        spate_fetch_wake_stop(e->wake);
        if (e->queue)
                rd_kafka_queue_destroy(e->queue);
        if (e->peer_queue)
                rd_kafka_queue_destroy(e->peer_queue);
        if (e->peer_parts)
                rd_kafka_topic_partition_list_destroy(e->peer_parts);
        spate_stop_step("consumer_destroy");
        if (e->consumer)
                rd_kafka_destroy(e->consumer);
        spate_stop_step("producer_flush");
        if (e->producer) {
                if (e->txn)
                        rd_kafka_abort_transaction(e->producer, 5000);
                spate_engine_send_outputs(e);
                rd_kafka_flush(e->producer, e->failed ? 0 : 10000);
                for (int i = 0; i < e->nouts; i++) {  /* after the last delivery report */
                        rd_kafka_topic_destroy(e->outs[i].rkt);
                        spate_outbox_free(&e->outs[i].box);
                }
                rd_kafka_destroy(e->producer);
        }
        free(e->outs);
        spate_stop_step("restorer_destroy");
        if (e->restorer)
                rd_kafka_destroy(e->restorer);
        spate_stop_step("standby_close");
        spate_engine_standby_destroy(e);
        spate_stop_step("store_close");
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
