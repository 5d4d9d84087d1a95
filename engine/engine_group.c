/* engine_group.c - the consumer group: assignment and revocation (the nodes'
 * task hooks, readiness), and the liveness tags by which instances of one
 * application find a stopped peer or a second topology under the same id. */
#include "engine_impl.h"
#include "../util/log.h"
#include "iq.h"
#include "node_state.h"
#include "../util/mem.h"
#include "../util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every partition of every topic the group reads and commits (sources and
 * internal topics; not a rewinding source, which commits nothing). */
static rd_kafka_topic_partition_list_t *all_group_partitions(spate_engine_t *e) {
        const struct rd_kafka_metadata *md;
        rd_kafka_topic_partition_list_t *all;
        if (rd_kafka_metadata(e->consumer, 1, NULL, &md, 5000))
                return NULL;
        all = rd_kafka_topic_partition_list_new(32);
        for (int i = 0; i < md->topic_cnt; i++) {
                source_t *s = spate_engine_source_for(e, md->topics[i].topic);
                for (int p = 0; s && !s->rewind && p < md->topics[i].partition_cnt; p++)
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
int spate_engine_check_committers(spate_engine_t *e, const rd_kafka_topic_partition_list_t *parts) {
        int64_t now = spate_now_ms();
        spate_committer_t c;
        for (int i = 0; parts && i < parts->cnt; i++) {
                const rd_kafka_topic_partition_t *elem = &parts->elems[i];
                const source_t *s = spate_engine_source_for(e, elem->topic);
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
 * topics the group reads, whoever owns it. The internal ones (a window's
 * repartition topic) are there for the standbys: their committed offsets name
 * the owners of a group_by window's tasks; the topology check skips them. */
int spate_engine_check_peers(spate_engine_t *e) {
        rd_kafka_topic_partition_list_t *all = all_group_partitions(e);
        int rc = 0;
        if (!all || rd_kafka_committed(e->consumer, all, 5000))
                spate_warn("cannot read the group's committed offsets to check for other topologies");
        else {
                rc = spate_engine_check_committers(e, all);
                spate_engine_standby_peers(e, all);
        }
        if (e->peer_parts)
                rd_kafka_topic_partition_list_destroy(e->peer_parts);
        e->peer_parts = all;  /* what spate_engine_ask_peers() asks for */
        return rc;
}

/* While running, the same without blocking the loop (a stall would look
 * like idle partitions to close_after_idle): the group's committed offsets
 * are asked for, and the answer read when it comes. */
void spate_engine_ask_peers(spate_engine_t *e) {
        rd_kafka_ListConsumerGroupOffsets_t *req;
        if (!e->peer_parts)
                return;
        req = rd_kafka_ListConsumerGroupOffsets_new(e->topo->application, e->peer_parts);
        rd_kafka_ListConsumerGroupOffsets(e->consumer, &req, 1, NULL, e->peer_queue);
        rd_kafka_ListConsumerGroupOffsets_destroy(req);
        e->peer_asked = 1;
}

int spate_engine_peers_answered(spate_engine_t *e) {
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
                rc = spate_engine_check_committers(e, parts);
                spate_engine_standby_peers(e, parts);
        }
        else
                spate_debug("group offsets for the topology check: %s", rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return rc;
}

static void set_assigned(spate_engine_t *e, rd_kafka_topic_partition_list_t *parts, int assigned) {
        for (int i = 0; i < parts->cnt; i++) {
                source_t *s = spate_engine_source_for(e, parts->elems[i].topic);
                if (!s)
                        continue;
                task_t *t = spate_engine_task_for(s, parts->elems[i].partition);
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
                        if (!assign)
                                spate_node_revoke(n, topic, p, &e->ctx);
                        else if (spate_node_assign(n, topic, p, &e->ctx)) {
                                spate_err("restoring '%s' for %s[%d] failed: %s", n->name, topic, p,
                                          e->ctx.errstr);
                                return -1;
                        }
                }
                if (assign && spate_node_assigned(n, &e->ctx)) {
                        spate_err("restoring '%s' failed: %s", n->name, e->ctx.errstr);
                        return -1;
                }
        }
        return 0;
}

/* Interactive queries learn which partitions are held here, restored. */
static void iq_assigned(const rd_kafka_topic_partition_list_t *parts) {
        const char **topics = spate_xcalloc((size_t)parts->cnt + 1, sizeof(*topics));
        int32_t *ps = spate_xcalloc((size_t)parts->cnt + 1, sizeof(*ps));
        for (int i = 0; i < parts->cnt; i++) {
                topics[i] = parts->elems[i].topic;
                ps[i] = parts->elems[i].partition;
        }
        spate_iq_assigned(topics, ps, parts->cnt);
        free(topics);
        free(ps);
}

/* /ready: assigned, with the state of the assigned partitions restored. */
static void set_ready(spate_engine_t *e, int ready) {
        atomic_store(&e->ready, ready);
        if (e->m_ready)
                spate_metric_set(e->m_ready, ready);
}

/* This instance's group member id, which its tags carry: "" when it does
 * not fit one (its tasks then have no known owner, and are followed by
 * every instance with standbys). */
static void set_member(spate_engine_t *e, rd_kafka_t *rk) {
        char *id = rd_kafka_memberid(rk);
        size_t n = id ? strlen(id) : 0;
        if (n >= sizeof(e->me.member))
                n = 0;
        if (n)
                memcpy(e->me.member, id, n);
        e->me.member[n] = '\0';
        if (id)
                rd_kafka_mem_free(rk, id);
}

void spate_engine_on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
        spate_engine_t *e = opaque;
        e->last_rkt = NULL;
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                log_parts("assigned", parts);
                set_member(e, rk);
                set_assigned(e, parts, 1);
                spate_engine_fetch_committed(e, parts);
                if (spate_engine_check_peers(e))
                        e->failed = 1;
                e->assigned_once = 1;
                /* State is restored before the partitions' records flow. */
                if (!e->failed && task_hooks(e, parts, 1))
                        e->failed = 1;
                e->stats.last_ms = spate_mono_ms(); /* --until-idle counts from here, after the restore */
                set_ready(e, !e->failed);
                if (!e->failed)
                        iq_assigned(parts);
                /* A table is read whole on every assignment. */
                for (int i = 0; i < parts->cnt; i++) {
                        source_t *s = spate_engine_source_for(e, parts->elems[i].topic);
                        if (s && s->rewind)
                                parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
                }
                rd_kafka_assign(rk, parts);
                spate_engine_standby_changed(e);
                return;
        }
        log_parts("revoked", parts);
        set_ready(e, 0);
        spate_iq_revoked();
        /* Commit what was processed before the partitions move, so their new
         * owner starts where this instance stopped, and say who held each
         * (an instance of another topology joining sees it: spate_engine_check_peers()). */
        e->refresh_tags = 1;
        spate_engine_commit(e);
        task_hooks(e, parts, 0);
        set_assigned(e, parts, 0);
        rd_kafka_assign(rk, NULL);
        spate_engine_standby_changed(e);
}
