/* restore.c - what stateful operators get from the engine to rebuild state:
 * the instance's RocksDB, and an ordered replay of a changelog partition. */
#include "../engine/ctx.h"
#include "../engine/engine.h"
#include "../engine/engine_int.h"
#include "../engine/kafka_conf.h"
#include "../util/log.h"
#include "../engine/metrics.h"
#include "store.h"
#include "../util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct spate_store *spate_engine_store(spate_ctx_t *ctx) {
        spate_engine_t *e = ctx->engine;
        spate_store_t **store = spate_engine_store_slot(e);
        const spate_topology_t *t = spate_engine_topology(e);
        char dir[1024];
        int rc;

        if (*store)
                return *store;
        snprintf(dir, sizeof(dir), "%s/%s", t->state_dir, t->application);
        rc = spate_store_open(dir, spate_topology_store_mb(t), store, ctx->errstr, sizeof(ctx->errstr));
        if (rc == SPATE_STORE_ECORRUPT) {
                spate_warn("state in %s is corrupt (%s): wiping it; state is rebuilt from the changelogs",
                           dir, ctx->errstr);
                if (spate_store_destroy_dir(dir, ctx->errstr, sizeof(ctx->errstr)) == 0)
                        rc = spate_store_open(dir, spate_topology_store_mb(t), store, ctx->errstr,
                                              sizeof(ctx->errstr));
        }
        if (rc) {
                /* The hint depends on the cause: a held lock is another
                 * instance, a refused mkdir or write is the directory. */
                if (strstr(ctx->errstr, "Permission denied") || strstr(ctx->errstr, "Read-only file system") ||
                    strstr(ctx->errstr, "Operation not permitted"))
                        spate_err("cannot open state in %s: the directory is not writable by this user (%s); "
                                  "point settings.state_dir at a directory it can write", dir, ctx->errstr);
                else if (strstr(ctx->errstr, "lock"))
                        spate_err("cannot open state in %s: %s (another instance on this machine holds it: "
                                  "two instances need their own settings.state_dir)", dir, ctx->errstr);
                else
                        spate_err("cannot open state in %s: %s", dir, ctx->errstr);
                *store = NULL;
                return NULL;
        }
        spate_info("state store %s open", dir);
        return *store;
}

static rd_kafka_t *restorer(spate_ctx_t *ctx) {
        spate_engine_t *e = ctx->engine;
        rd_kafka_t **rk = spate_engine_restorer_slot(e);
        rd_kafka_conf_t *c;
        if (*rk)
                return *rk;
        /* Assign-only: it never joins the group nor commits. */
        if (!(c = spate_kafka_conf(spate_engine_topology(e), SPATE_CLIENT_RESTORER, ctx->errstr,
                                   sizeof(ctx->errstr))))
                return NULL;
        if (!(*rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, ctx->errstr, sizeof(ctx->errstr))))
                return NULL;
        return *rk;
}

static void progress(const char *topic, int32_t p, int64_t done, int64_t total, int64_t t0) {
        double secs = (double)(spate_mono_ms() - t0) / 1000.0;
        spate_info("restoring %s[%d]: %lld/%lld records (%.0f%%), %.0f records/s", topic, p,
                   (long long)done, (long long)total, total ? 100.0 * (double)done / (double)total : 100.0,
                   secs > 0 ? (double)done / secs : 0.0);
}

/* A restore's series: records replayed (per topic, from any thread),
 * records left and the duration of the last restore (per partition). */
typedef struct restore_metrics {
        spate_metric_t *records, *remaining, *duration;
} restore_metrics_t;

static restore_metrics_t restore_metrics(const char *topic, int32_t partition) {
        spate_metrics_t *m = spate_metrics_default();
        char part[16];
        snprintf(part, sizeof(part), "%d", partition);
        return (restore_metrics_t){
                spate_metrics_counter(m, "spate_restore_records_total", "Changelog records replayed to "
                                      "restore state", "topic", topic, NULL),
                spate_metrics_gauge(m, "spate_restore_remaining_records", "Changelog records of a "
                                    "partition's restore still to replay", "topic", topic, "partition", part,
                                    NULL),
                spate_metrics_gauge(m, "spate_restore_duration_seconds", "How long the partition's last "
                                    "(or current) restore took", "topic", topic, "partition", part, NULL),
        };
}

/* Errors a broker restart or a leader election gives for a while. */
static int transient(rd_kafka_resp_err_t err) {
        switch (err) {
        case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
        case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
        case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
        case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
        case RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE:
        case RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE:
        case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
        case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
        case RD_KAFKA_RESP_ERR__TRANSPORT:
        case RD_KAFKA_RESP_ERR__TIMED_OUT:
        case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
        case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
                return 1;
        default:
                return 0;
        }
}

/* A query's own timeout: short enough that a stop request is seen within
 * seconds while the broker does not answer (the retries go on for
 * SPATE_TRANSIENT_MS). */
#define WATERMARKS_QUERY_MS 5000

int spate_watermarks(spate_ctx_t *ctx, rd_kafka_t *rk, const char *topic, int32_t partition, int64_t *lo,
                     int64_t *hi, char *errstr, size_t errstr_size) {
        int64_t backoff = 100, t0 = spate_mono_ms();
        rd_kafka_resp_err_t err;
        int stopped = 0;
        /* A stop is heeded only while retrying: an answering broker lets a
         * restore under way finish, as it did before the stop. */
        while ((err = rd_kafka_query_watermark_offsets(rk, topic, partition, lo, hi, WATERMARKS_QUERY_MS))) {
                if (!transient(err) || spate_mono_ms() - t0 + backoff > SPATE_TRANSIENT_MS ||
                    (stopped = spate_ctx_stopping(ctx)))
                        break;
                spate_warn("watermarks of %s[%d]: %s; retrying in %lld ms", topic, partition,
                           rd_kafka_err2str(err), (long long)backoff);
                if ((stopped = spate_ctx_backoff(ctx, &backoff, 5000)))
                        break;
        }
        if (stopped)
                snprintf(errstr, errstr_size, "watermarks of %s[%d]: %s; not retried: a stop was "
                         "requested", topic, partition, rd_kafka_err2str(err));
        else if (err)
                snprintf(errstr, errstr_size, "watermarks of %s[%d]: %s%s", topic, partition,
                         rd_kafka_err2str(err), transient(err) ? " (retried for 60 s)" : "");
        return err ? -1 : 0;
}

int spate_engine_check_resume(spate_ctx_t *ctx, const spate_node_t *n, const char *topic,
                               int32_t partition, int64_t offset) {
        int64_t lo, hi;
        rd_kafka_t *rk = restorer(ctx);
        if (!rk || spate_watermarks(ctx, rk, topic, partition, &lo, &hi, ctx->errstr, sizeof(ctx->errstr)))
                return -1;
        if (offset <= hi)
                return 0;
        snprintf(ctx->errstr, sizeof(ctx->errstr), "the state of '%s' reflects %s[%d] up to offset "
                 "%lld, but the partition ends at %lld: the topic was recreated or truncated, or the "
                 "broker lost its data. Refusing to skip its records; to start over, delete the state "
                 "directory %s/%s", n->name, topic, partition, (long long)offset, (long long)hi,
                 spate_engine_topology(ctx->engine)->state_dir,
                 spate_engine_topology(ctx->engine)->application);
        return -1;
}

/* A replay that reads no record (the broker is gone, or answers errors)
 * gives up when the engine is asked to stop, or after SPATE_TRANSIENT_MS:
 * 1 with ctx->errstr. */
static int replay_stalled(spate_ctx_t *ctx, const char *topic, int32_t partition, int64_t next, int64_t hi,
                          int64_t last_read) {
        int stopping = spate_ctx_stopping(ctx);
        if (!stopping && spate_mono_ms() - last_read < SPATE_TRANSIENT_MS)
                return 0;
        snprintf(ctx->errstr, sizeof(ctx->errstr), "replay of %s[%d] stopped at offset %lld of %lld: %s; "
                 "nothing of this partition is restored or committed", topic, partition, (long long)next,
                 (long long)hi, stopping ? "stop requested" : "no record came for 60 s");
        return 1;
}

/* Messages taken from the queue at once: per-message polling costs more than
 * decoding a window entry. */
#define REPLAY_BATCH 4096

/* Where the consumer stands on the partition, when past next: offsets no
 * message carries (a transaction's commit marker, the last offset of a
 * changelog written under exactly_once on a real Kafka; aborted records) are
 * stepped over by the position, never delivered. */
static int64_t past_markers(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t next) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_add(l, topic, partition);
        if (!rd_kafka_position(rk, l) && !p->err && p->offset > next)
                next = p->offset;
        rd_kafka_topic_partition_list_destroy(l);
        return next;
}

int64_t spate_engine_replay(spate_ctx_t *ctx, const char *topic, int32_t partition, int64_t from,
                            spate_replay_cb cb, void *opaque) {
        rd_kafka_t *rk = restorer(ctx);
        int64_t lo, hi, next, done = 0, t0 = spate_mono_ms(), last_log = t0;
        rd_kafka_queue_t *q;
        rd_kafka_message_t **msgs;
        int failed = 0;
        if (!rk)
                return -1;
        if (spate_watermarks(ctx, rk, topic, partition, &lo, &hi, ctx->errstr, sizeof(ctx->errstr)))
                return -1;
        if (from > hi) {
                const spate_topology_t *t = spate_engine_topology(ctx->engine);
                snprintf(ctx->errstr, sizeof(ctx->errstr), "changelog %s[%d] ends at offset %lld, but "
                         "the local state has read it up to %lld: the changelog was recreated or "
                         "truncated, or the broker lost its data. Refusing to run on state the cluster "
                         "no longer has; to start over, delete the state directory %s/%s (and the "
                         "group's committed offsets, if any)", topic, partition, (long long)hi,
                         (long long)from, t->state_dir, t->application);
                return -1;
        }
        next = from < lo ? lo : from;
        restore_metrics_t rm = restore_metrics(topic, partition);
        spate_metric_set(rm.remaining, (double)(hi - next));
        spate_metric_set(rm.duration, 0);
        if (next >= hi)
                return next;
        /* The restorer has a group.id (never joined), so it has a consumer queue. */
        if (!(q = rd_kafka_queue_get_consumer(rk)) || !(msgs = malloc(REPLAY_BATCH * sizeof(*msgs)))) {
                if (q)
                        rd_kafka_queue_destroy(q);
                snprintf(ctx->errstr, sizeof(ctx->errstr), "replay %s[%d]: no consumer queue or out of "
                         "memory", topic, partition);
                return -1;
        }
        rd_kafka_topic_partition_list_t *a = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(a, topic, partition)->offset = next;
        rd_kafka_assign(rk, a);
        rd_kafka_topic_partition_list_destroy(a);
        int64_t last_read = t0;
        while (next < hi && !failed) {
                /* Never more than the partition still holds: a batch call
                 * returns early only once it is full. */
                size_t want = hi - next < REPLAY_BATCH ? (size_t)(hi - next) : REPLAY_BATCH;
                ssize_t n = rd_kafka_consume_batch_queue(q, 1000, msgs, want);
                int64_t before = next;
                for (ssize_t i = 0; i < n && !failed; i++) {
                        rd_kafka_message_t *m = msgs[i];
                        if (m->err) {
                                spate_warn("replay %s[%d]: %s", topic, partition, rd_kafka_message_errstr(m));
                        } else if (cb(opaque, m->key, m->key_len, m->payload, m->len, m->offset)) {
                                failed = 1;
                        } else {
                                next = m->offset + 1;
                                done++;
                        }
                }
                for (ssize_t i = 0; i < n; i++)
                        rd_kafka_message_destroy(msgs[i]);
                if ((size_t)(n > 0 ? n : 0) < want && !failed)
                        next = past_markers(rk, topic, partition, next);
                if (next > before)
                        last_read = spate_mono_ms();
                else if (!failed && replay_stalled(ctx, topic, partition, next, hi, last_read))
                        failed = 1;
                atomic_fetch_add_explicit(&rm.records->v, (uint64_t)(n > 0 ? n : 0), memory_order_relaxed);
                spate_metric_set(rm.remaining, (double)(hi - next));
                spate_metric_set(rm.duration, (double)(spate_mono_ms() - t0) / 1000.0);
                if (spate_mono_ms() - last_log >= 1000) {
                        progress(topic, partition, done, hi - from, t0);
                        last_log = spate_mono_ms();
                }
        }
        rd_kafka_assign(rk, NULL);
        rd_kafka_queue_destroy(q);
        free(msgs);
        if (failed)
                return -1;
        if (done)
                progress(topic, partition, done, done, t0);
        return next;
}

void spate_node_count_restored(const spate_node_t *n, const char *store, int64_t local, int64_t read) {
        for (int i = 0; i < 2; i++)
                spate_metric_add(spate_metrics_counter(spate_metrics_default(), "spate_store_restore_records_total",
                                                       "Changelog records a store's restores covered, by "
                                                       "whether the local copy already held them (kept warm "
                                                       "by a standby, or an earlier checkpoint) or they were "
                                                       "read at the assignment", "node", n->name,
                                                       "store", store, "from", i ? "changelog" : "local", NULL),
                                 i ? (double)read : (double)local);
}
