/* engine_standby.c - standby replicas (num_standby_replicas; docs/stores.md,
 * "Standbys"): a second consumer, assign()-ed to the changelog partitions of
 * the tasks this instance does not own, polled by the main loop without
 * blocking. Its records go to the stores' standbys (state/kv.c), which keep
 * warm copies in the local RocksDB, so that the restore of a task assigned
 * after a failover reads only the changelog's tail. */
#include "engine_impl.h"
#include "kafka_conf.h"
#include "../state/kv.h"
#include "../util/log.h"
#include "../util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Records taken per poll, and how much of a loop iteration the standbys may
 * take: one poll while the active tasks have records (applying a changelog
 * record costs a fraction of processing one), more when they are idle. */
#define STANDBY_BATCH 4096
#define STANDBY_BUDGET 65536
#define STANDBY_BUDGET_MS 20

typedef struct follow {
        const char *topic;           /* a changelog name, owned by its node */
        int32_t partition;
        int64_t next;                /* changelog offset the copy reads next */
        spate_metric_t *lag;
} follow_t;

struct spate_standby {
        rd_kafka_t *rk;
        rd_kafka_queue_t *q;
        follow_t *parts;
        int nparts, cap, last;       /* last: the follow of the previous record */
        int refresh;                 /* a rebalance changed what this instance owns */
        int64_t last_lag;
        rd_kafka_message_t *msgs[STANDBY_BATCH];
};

static spate_metric_t *lag_metric(const char *topic, int32_t partition) {
        char part[16];
        snprintf(part, sizeof(part), "%d", partition);
        return spate_metrics_gauge(spate_metrics_default(), "spate_standby_lag_records", "Changelog records "
                                   "a standby's warm copy of a task has not applied yet (0: the task is "
                                   "owned here, or caught up)", "topic", topic, "partition", part, NULL);
}

static void add_follow(void *opaque, const char *changelog, int32_t partition, int64_t from) {
        spate_standby_t *sb = opaque;
        if (sb->nparts == sb->cap) {
                sb->cap = sb->cap ? sb->cap * 2 : 16;
                if (!(sb->parts = realloc(sb->parts, sizeof(*sb->parts) * (size_t)sb->cap)))
                        abort();
        }
        sb->parts[sb->nparts++] = (follow_t){ changelog, partition, from, lag_metric(changelog, partition) };
}

/* Follows what the stores' standbys now cover: every task not owned. */
static int refresh(spate_engine_t *e, spate_standby_t *sb) {
        rd_kafka_topic_partition_list_t *a;
        rd_kafka_resp_err_t err;
        for (int i = 0; i < sb->nparts; i++)
                spate_metric_set(sb->parts[i].lag, 0);
        sb->nparts = sb->last = 0;
        for (int i = 0; i < e->topo->nnodes; i++)
                if (spate_kv_node_standbys(e->topo->nodes[i], &e->ctx, add_follow, sb))
                        return -1;
        a = rd_kafka_topic_partition_list_new(sb->nparts ? sb->nparts : 1);
        for (int i = 0; i < sb->nparts; i++)
                rd_kafka_topic_partition_list_add(a, sb->parts[i].topic, sb->parts[i].partition)->offset =
                        sb->parts[i].next;
        err = rd_kafka_assign(sb->rk, a);
        rd_kafka_topic_partition_list_destroy(a);
        if (err) {
                snprintf(e->ctx.errstr, sizeof(e->ctx.errstr), "standby consumer: assign: %s",
                         rd_kafka_err2str(err));
                return -1;
        }
        spate_info("standby: following %d changelog partitions of tasks this instance does not own",
                   sb->nparts);
        sb->refresh = 0;
        return 0;
}

static follow_t *follow_of(spate_standby_t *sb, const char *topic, int32_t partition) {
        for (int k = 0; k < sb->nparts; k++) {
                int i = (sb->last + k) % sb->nparts;
                if (sb->parts[i].partition == partition && !strcmp(sb->parts[i].topic, topic)) {
                        sb->last = i;
                        return &sb->parts[i];
                }
        }
        return NULL;
}

static void apply(spate_engine_t *e, spate_standby_t *sb, const rd_kafka_message_t *m) {
        const char *topic = rd_kafka_topic_name(m->rkt);
        follow_t *f = follow_of(sb, topic, m->partition);
        char err[512];
        if (m->err) {
                spate_warn("standby consumer: %s", rd_kafka_message_errstr(m));
                return;
        }
        if (!f)
                return;
        for (int i = 0; i < e->topo->nnodes; i++) {
                int rc = spate_kv_node_standby_apply(e->topo->nodes[i], topic, m->partition, m->key, m->key_len,
                                                     m->payload, m->len, m->offset, err, sizeof(err));
                if (rc == 1)
                        continue;
                if (rc < 0)
                        spate_warn("%s", err);
                break;
        }
        f->next = m->offset + 1;
}

static void update_lag(spate_standby_t *sb) {
        for (int i = 0; i < sb->nparts; i++) {
                follow_t *f = &sb->parts[i];
                int64_t lo, hi;
                if (!rd_kafka_get_watermark_offsets(sb->rk, f->topic, f->partition, &lo, &hi) && hi >= 0)
                        spate_metric_set(f->lag, (double)(hi > f->next ? hi - f->next : 0));
        }
        sb->last_lag = spate_mono_ms();
}

int spate_engine_standby_start(spate_engine_t *e, char *errstr, size_t errstr_size) {
        rd_kafka_conf_t *c;
        spate_standby_t *sb;
        int stores = 0;
        for (int i = 0; i < e->topo->nnodes; i++)
                stores |= e->topo->nodes[i]->stores != NULL;
        if (e->topo->num_standby_replicas < 1)
                return 0;
        if (!stores) {
                spate_warn("num_standby_replicas: %d, but no node of '%s' keeps an engine-owned store "
                           "(the window restores its own state: it gets standbys once it runs on the "
                           "stores); no standby runs", e->topo->num_standby_replicas, e->topo->application);
                return 0;
        }
        if (!(c = spate_kafka_conf(e->topo, SPATE_CLIENT_CONSUMER, errstr, errstr_size)))
                return -1;
        /* Assign-only (it never joins the group nor commits); a quarter of the
         * main consumer's prefetch is enough to keep up with the owners'
         * commits. It has no wake-ups (fetch_wake.c), so no count bound either:
         * its broker threads would pause up to 1 s at it. */
        rd_kafka_conf_set(c, "queued.max.messages.kbytes", "16384", NULL, 0);
        rd_kafka_conf_set(c, "queued.min.messages", "10000000", NULL, 0);
        if (!(sb = calloc(1, sizeof(*sb))))
                abort();
        if (!(sb->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, errstr_size))) {
                free(sb);
                return -1;
        }
        sb->q = rd_kafka_queue_get_consumer(sb->rk);
        sb->refresh = 1;
        e->standby = sb;
        return 0;
}

void spate_engine_standby_changed(spate_engine_t *e) {
        if (e->standby)
                e->standby->refresh = 1;
}

int spate_engine_standby_poll(spate_engine_t *e, int busy) {
        spate_standby_t *sb = e->standby;
        int64_t t0 = spate_mono_ms();
        ssize_t n = STANDBY_BATCH;
        size_t done = 0, budget = busy ? STANDBY_BATCH : STANDBY_BUDGET;
        if (!sb)
                return 0;
        if (sb->refresh && refresh(e, sb))
                return -1;
        while (n == STANDBY_BATCH && done < budget && spate_mono_ms() - t0 < STANDBY_BUDGET_MS) {
                n = rd_kafka_consume_batch_queue(sb->q, 0, sb->msgs, STANDBY_BATCH);
                for (ssize_t i = 0; i < n; i++) {
                        apply(e, sb, sb->msgs[i]);
                        rd_kafka_message_destroy(sb->msgs[i]);
                }
                done += n > 0 ? (size_t)n : 0;
        }
        for (int i = 0; done && i < e->topo->nnodes; i++)
                if (spate_kv_node_standby_write(e->topo->nodes[i], e->ctx.errstr, sizeof(e->ctx.errstr)))
                        return -1;
        if (spate_mono_ms() - sb->last_lag >= 1000)
                update_lag(sb);
        return 0;
}

void spate_engine_standby_destroy(spate_engine_t *e) {
        spate_standby_t *sb = e->standby;
        if (!sb)
                return;
        rd_kafka_queue_destroy(sb->q);
        rd_kafka_consumer_close(sb->rk);
        rd_kafka_destroy(sb->rk);
        free(sb->parts);
        free(sb);
        e->standby = NULL;
}
