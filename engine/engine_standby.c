/* engine_standby.c - standby replicas (num_standby_replicas; docs/stores.md,
 * "Standbys"): a second consumer, assign()-ed to the changelog partitions of
 * the tasks this instance keeps warm copies of, polled by the main loop
 * without blocking. Its records go to the standbys of the nodes' state
 * providers (node_state.h; the key-value stores' in state/kv.c, the window's
 * in operators/window/window_task.c), which keep the copies in the local
 * RocksDB, so that the restore of a task assigned after a failover reads
 * only the changelog's tail. Which tasks:
 * from the committer tags of the group's committed offsets (the owner of
 * each source partition and the live members), the N members that the
 * group's `range` assignor would give a task, one after the other, if its
 * owner left (spate_standby_chosen()); a task whose owner the tags do not
 * say is followed. */
#include "engine_impl.h"
#include "iq.h"
#include "node_state.h"
#include "../util/mem.h"
#include "kafka_conf.h"
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

typedef struct owner {
        char *topic;
        int32_t partition;
        char member[SPATE_MEMBER_MAX];
} owner_t;

struct spate_standby {
        rd_kafka_t *rk;
        rd_kafka_queue_t *q;
        follow_t *parts;
        int nparts, cap, last;       /* last: the follow of the previous record */
        int refresh;                 /* a rebalance or the tags changed the choice */
        int64_t last_lag;
        const spate_engine_t *e;
        /* The tags last read (spate_engine_standby_peers()): each source
         * partition with the member id of its live owner ("" unknown), and
         * the live members (this instance's id among them); digest: of the
         * owners and this instance's id. Copied out of librdkafka's list: a
         * copy of it would hold references that keep the consumer's
         * rd_kafka_destroy() waiting. */
        owner_t *owners;
        int nowners;
        const char **members;
        int nmembers;
        uint64_t digest;
        /* The choice of the last refresh, logged when it changes. */
        int nwanted, nunowned;
        uint64_t choice;
        char chosen[1024];
        /* The tasks chosen (topic borrowed from the nodes), published to the
         * interactive queries (spate_iq_standbys()). */
        const char **wtopics;
        int32_t *wparts;
        int nw, wcap;
        rd_kafka_message_t *msgs[STANDBY_BATCH];
};

static spate_metric_t *lag_metric(const char *topic, int32_t partition) {
        char part[16];
        snprintf(part, sizeof(part), "%d", partition);
        return spate_metrics_gauge(spate_metrics_default(), "spate_standby_lag_records", "Changelog records "
                                   "a standby's warm copy of a task has not applied yet (0: the task is "
                                   "owned here or no longer followed, or the copy caught up)", "topic", topic,
                                   "partition", part, NULL);
}

static void add_follow(void *opaque, const char *changelog, int32_t partition, int64_t from) {
        spate_standby_t *sb = opaque;
        if (sb->nparts == sb->cap) {
                sb->cap = sb->cap ? sb->cap * 2 : 16;
                sb->parts = spate_xrealloc(sb->parts, sizeof(*sb->parts) * (size_t)sb->cap);
        }
        sb->parts[sb->nparts++] = (follow_t){ changelog, partition, from, lag_metric(changelog, partition) };
}

/* Index, among n members in the range assignor's order (n >= 1), of the
 * one it assigns partition p of a topic of np partitions: the first np % n
 * members take np / n + 1 partitions each, in order, the others np / n. */
static int range_member(int32_t p, int np, int n) {
        int per = np / n, extra = np % n;
        if (p < extra * (per + 1))
                return p / (per + 1);
        return extra + (p - extra * (per + 1)) / per;
}

static int by_id(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int spate_standby_chosen(const char *const *members, int n, const char *owner, const char *self, int32_t p,
                         int np, int replicas) {
        const char **left = spate_xmalloc(sizeof(*left) * (size_t)n);
        int m = 0, chosen = 0;
        for (int i = 0; i < n; i++)
                if (strcmp(members[i], owner))
                        left[m++] = members[i];
        qsort(left, (size_t)m, sizeof(*left), by_id);
        for (int r = 0; r < replicas && m > 0 && p >= 0 && p < np && !chosen; r++) {
                int i = range_member(p, np, m);
                chosen = !strcmp(left[i], self);
                memmove(&left[i], &left[i + 1], sizeof(*left) * (size_t)(m - i - 1));
                m--;
        }
        free(left);
        return chosen;
}

/* The member id of the live owner of topic[partition] per the tags, or "". */
static const char *owner_of(const spate_standby_t *sb, const char *topic, int32_t partition) {
        for (int i = 0; i < sb->nowners; i++)
                if (sb->owners[i].partition == partition && !strcmp(sb->owners[i].topic, topic))
                        return sb->owners[i].member;
        return "";
}

/* spate_standby_want_cb: a task whose owner is unknown (never committed, a tag
 * gone stale or without a member id, or this instance's own tag on a task it
 * no longer holds) is followed, so that a failover never loses a warm copy;
 * any other is followed by the members spate_standby_chosen() names. */
static int want(void *opaque, const char *topic, int32_t partition, int npartitions) {
        spate_standby_t *sb = opaque;
        const char *owner = owner_of(sb, topic, partition), *self = sb->e->me.member;
        size_t off = strlen(sb->chosen);
        int w = !*owner || !*self || !strcmp(owner, self) ||
                spate_standby_chosen(sb->members, sb->nmembers, owner, self, partition, npartitions,
                                     sb->e->topo->num_standby_replicas);
        sb->nunowned++;
        if (w) {
                if (sb->nw == sb->wcap) {
                        sb->wcap = sb->wcap ? sb->wcap * 2 : 16;
                        sb->wtopics = spate_xrealloc(sb->wtopics, sizeof(*sb->wtopics) * (size_t)sb->wcap);
                        sb->wparts = spate_xrealloc(sb->wparts, sizeof(*sb->wparts) * (size_t)sb->wcap);
                }
                sb->wtopics[sb->nw] = topic;
                sb->wparts[sb->nw++] = partition;
                sb->nwanted++;
                sb->choice = spate_hash_bytes(spate_hash_bytes(sb->choice, topic, strlen(topic) + 1), &partition,
                                              sizeof(partition));
                if (off < sizeof(sb->chosen))
                        snprintf(sb->chosen + off, sizeof(sb->chosen) - off, " %s[%d]", topic, partition);
        }
        return w;
}

/* Follows what the nodes' standbys now cover: the tasks want() picks. */
static int refresh(spate_engine_t *e, spate_standby_t *sb) {
        rd_kafka_topic_partition_list_t *a;
        rd_kafka_resp_err_t err;
        uint64_t before = sb->choice;
        for (int i = 0; i < sb->nparts; i++)
                spate_metric_set(sb->parts[i].lag, 0);
        sb->nparts = sb->last = 0;
        sb->nwanted = sb->nunowned = sb->nw = 0;
        sb->choice = spate_hash_bytes(SPATE_HASH_INIT, &sb->nmembers, sizeof(sb->nmembers));
        sb->chosen[0] = '\0';
        for (int i = 0; i < e->topo->nnodes; i++) {
                if (spate_node_standbys(e->topo->nodes[i], &e->ctx, want, add_follow, sb))
                        return -1;
        }
        a = rd_kafka_topic_partition_list_new(sb->nparts ? sb->nparts : 1);
        for (int i = 0; i < sb->nparts; i++)
                rd_kafka_topic_partition_list_add(a, sb->parts[i].topic, sb->parts[i].partition)->offset =
                        sb->parts[i].next;
        spate_iq_standbys(sb->wtopics, sb->wparts, sb->nw);
        err = rd_kafka_assign(sb->rk, a);
        rd_kafka_topic_partition_list_destroy(a);
        if (err) {
                snprintf(e->ctx.errstr, sizeof(e->ctx.errstr), "standby consumer: assign: %s",
                         rd_kafka_err2str(err));
                return -1;
        }
        if (sb->choice != before)
                spate_info("standby: following %d of %d tasks not owned here (num_standby_replicas %d, "
                           "%d live members):%s", sb->nwanted, sb->nunowned, e->topo->num_standby_replicas,
                           sb->nmembers, sb->chosen);
        sb->refresh = 0;
        return 0;
}

/* The member id of the live committer of elem's offset, of this topology,
 * or "" (none, gone stale, left, or without an id). */
static void live_owner(const spate_engine_t *e, const rd_kafka_topic_partition_t *elem, int64_t now,
                       char *owner) {
        spate_committer_t c;
        owner[0] = '\0';
        if (!spate_committer_parse(elem->metadata, elem->metadata_size, &c) && c.fp == e->me.fp && !c.left &&
            now - c.at_ms <= PEER_LIVE_MS)
                memcpy(owner, c.member, sizeof(c.member));
}

static void add_member(spate_standby_t *sb, const char *id) {
        for (int i = 0; i < sb->nmembers; i++)
                if (!strcmp(sb->members[i], id))
                        return;
        sb->members[sb->nmembers++] = id;
}

static void free_owners(spate_standby_t *sb) {
        for (int i = 0; i < sb->nowners; i++)
                free(sb->owners[i].topic);
        free(sb->owners);
        free(sb->members);
        sb->owners = NULL;
        sb->members = NULL;
        sb->nowners = sb->nmembers = 0;
}

void spate_engine_standby_peers(spate_engine_t *e, const rd_kafka_topic_partition_list_t *parts) {
        spate_standby_t *sb = e->standby;
        int64_t now = spate_now_ms();
        uint64_t digest = SPATE_HASH_INIT;
        if (!sb || !parts)
                return;
        free_owners(sb);
        sb->owners = spate_xcalloc((size_t)parts->cnt + 1, sizeof(*sb->owners));
        sb->members = spate_xcalloc((size_t)parts->cnt + 1, sizeof(*sb->members));
        for (int i = 0; i < parts->cnt; i++) {
                const rd_kafka_topic_partition_t *elem = &parts->elems[i];
                owner_t *o = &sb->owners[sb->nowners++];
                o->topic = spate_xstrdup(elem->topic);
                o->partition = elem->partition;
                live_owner(e, elem, now, o->member);
                if (o->member[0])
                        add_member(sb, o->member);
                digest = spate_hash_bytes(digest, o->topic, strlen(o->topic) + 1);
                digest = spate_hash_bytes(digest, &o->partition, sizeof(o->partition));
                digest = spate_hash_bytes(digest, o->member, strlen(o->member) + 1);
        }
        if (e->me.member[0])
                add_member(sb, e->me.member);
        digest = spate_hash_bytes(digest, e->me.member, strlen(e->me.member) + 1);
        if (digest != sb->digest)
                sb->refresh = 1;
        sb->digest = digest;
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
                int rc = spate_node_standby_apply(e->topo->nodes[i], topic, m->partition, m->key, m->key_len,
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
                if (!rd_kafka_get_watermark_offsets(sb->rk, f->topic, f->partition, &lo, &hi) && hi >= 0) {
                        spate_metric_set(f->lag, (double)(hi > f->next ? hi - f->next : 0));
                        spate_iq_changelog_end(f->topic, f->partition, hi);
                }
        }
        sb->last_lag = spate_mono_ms();
}

int spate_engine_standby_start(spate_engine_t *e, char *errstr, size_t errstr_size) {
        rd_kafka_conf_t *c;
        spate_standby_t *sb;
        int stateful = 0;
        for (int i = 0; i < e->topo->nnodes; i++)
                stateful |= spate_node_has_standbys(e->topo->nodes[i]);
        if (e->topo->num_standby_replicas < 1)
                return 0;
        if (!stateful) {
                spate_warn("num_standby_replicas: %d, but no node of '%s' keeps state with standbys "
                           "(a key-value store or a window); no standby runs", e->topo->num_standby_replicas,
                           e->topo->application);
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
        sb = spate_xcalloc(1, sizeof(*sb));
        if (!(sb->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, errstr_size))) {
                free(sb);
                return -1;
        }
        sb->q = rd_kafka_queue_get_consumer(sb->rk);
        sb->refresh = 1;
        sb->e = e;
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
                if (spate_node_standby_write(e->topo->nodes[i], e->ctx.errstr, sizeof(e->ctx.errstr)))
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
        free(sb->wtopics);
        free(sb->wparts);
        free_owners(sb);
        free(sb);
        e->standby = NULL;
}
