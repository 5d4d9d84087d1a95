/* iq_peers.c - the instances of an application and the partitions each
 * holds, through the topic `<application>-instances` (iq_peers.h). */
#include "iq_peers.h"
#include "../util/mem.h"
#include "../engine/iq.h"
#include "../engine/kafka_conf.h"
#include "../util/buf.h"
#include "../util/log.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct peer {
        char *url;
        int64_t offset;              /* of its latest record */
        json_t *owned;               /* {"topic":[partitions]} */
        json_t *standby;             /* the same, of its standby copies ({} if it lists none) */
} peer_t;

struct spate_iq_peers {
        rd_kafka_t *producer, *consumer;
        char topic[512];
        char *self;
        pthread_t thread;
        atomic_int stop;
        pthread_mutex_t mu;          /* peers */
        peer_t *peers;
        int npeers;
};

static void topic_name(const spate_topology_t *t, char *out, size_t size) {
        snprintf(out, size, "%s-instances", t->application);
}

void spate_iq_peers_declare(spate_topology_t *t) {
        char topic[512];
        topic_name(t, topic, sizeof(topic));
        spate_topology_declare_topic(t, NULL, topic, 1, 1, SPATE_TOPIC_INTERNAL);
}

static void advertise(spate_iq_peers_t *p, int leaving) {
        spate_buf_t b = { 0 };
        char num[32];
        uint64_t gen;
        spate_buf_put(&b, "{\"url\":", 7);
        json_t *u = json_string(p->self);
        char *us = json_dumps(u, JSON_ENCODE_ANY);
        spate_buf_put(&b, us, strlen(us));
        free(us);
        json_decref(u);
        spate_buf_put(&b, ",\"owned\":", 9);
        if (leaving) {
                spate_buf_put(&b, "{},\"standby\":{}", 15);
                gen = 0;
        } else {
                gen = spate_iq_owned_json(&b);
                spate_buf_put(&b, ",\"standby\":", 11);
                spate_iq_standby_json(&b);
        }
        spate_buf_put(&b, num, (size_t)snprintf(num, sizeof(num), ",\"generation\":%llu}", (unsigned long long)gen));
        rd_kafka_resp_err_t err = rd_kafka_producev(p->producer, RD_KAFKA_V_TOPIC(p->topic), RD_KAFKA_V_PARTITION(0),
                                                    RD_KAFKA_V_KEY(p->self, strlen(p->self)),
                                                    RD_KAFKA_V_VALUE(b.data, b.len),
                                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err)
                spate_warn("interactive queries: cannot advertise to %s: %s", p->topic, rd_kafka_err2str(err));
        spate_buf_free(&b);
}

static void on_assigned(void *opaque) {
        advertise(opaque, 0);
}

static void remember(spate_iq_peers_t *p, const rd_kafka_message_t *m) {
        json_error_t jerr;
        json_t *v = json_loadb(m->payload, m->len, 0, &jerr), *owned = v ? json_object_get(v, "owned") : NULL,
               *standby = v ? json_object_get(v, "standby") : NULL;
        const char *url = v ? json_string_value(json_object_get(v, "url")) : NULL;
        if (!url || !json_is_object(owned)) {
                spate_warn("interactive queries: %s offset %lld is not an instance record", p->topic,
                           (long long)m->offset);
                json_decref(v);
                return;
        }
        pthread_mutex_lock(&p->mu);
        int i = 0;
        while (i < p->npeers && strcmp(p->peers[i].url, url))
                i++;
        if (i == p->npeers) {
                p->peers = spate_xrealloc(p->peers, sizeof(*p->peers) * (size_t)(p->npeers + 1));
                p->peers[i].url = spate_xstrdup(url);
                p->peers[i].owned = p->peers[i].standby = NULL;
                p->npeers++;
        }
        json_decref(p->peers[i].owned);
        json_decref(p->peers[i].standby);
        p->peers[i].owned = json_incref(owned);
        p->peers[i].standby = json_is_object(standby) ? json_incref(standby) : json_object();
        p->peers[i].offset = m->offset;
        pthread_mutex_unlock(&p->mu);
        json_decref(v);
}

static void *follow(void *opaque) {
        spate_iq_peers_t *p = opaque;
        while (!atomic_load(&p->stop)) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(p->consumer, 200);
                rd_kafka_poll(p->producer, 0);
                if (!m)
                        continue;
                if (!m->err)
                        remember(p, m);
                else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        spate_debug("interactive queries: %s: %s", p->topic, rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
        }
        return NULL;
}

static rd_kafka_t *client(const spate_topology_t *t, spate_client_t kind, char *errstr, size_t errstr_size) {
        rd_kafka_conf_t *c = spate_kafka_conf(t, kind, errstr, errstr_size);
        char group[600], err[256];
        rd_kafka_t *rk;
        if (!c)
                return NULL;
        if (kind == SPATE_CLIENT_CONSUMER) {
                /* assign(), never subscribe(): no group membership, no commits. */
                snprintf(group, sizeof(group), "%s-instances-reader", t->application);
                if (rd_kafka_conf_set(c, "group.id", group, err, sizeof(err)) ||
                    rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof(err)) ||
                    rd_kafka_conf_set(c, "enable.partition.eof", "false", err, sizeof(err))) {
                        snprintf(errstr, errstr_size, "interactive queries: %s", err);
                        rd_kafka_conf_destroy(c);
                        return NULL;
                }
        }
        if (!(rk = rd_kafka_new(kind == SPATE_CLIENT_CONSUMER ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER, c, err,
                                sizeof(err)))) {
                snprintf(errstr, errstr_size, "interactive queries: %s", err);
                rd_kafka_conf_destroy(c);
        }
        return rk;
}

spate_iq_peers_t *spate_iq_peers_start(const spate_topology_t *t, const char *self_url, char *errstr,
                                       size_t errstr_size) {
        spate_iq_peers_t *p = spate_xcalloc(1, sizeof(*p));
        rd_kafka_topic_partition_list_t *parts;
        p->self = spate_xstrdup(self_url);
        pthread_mutex_init(&p->mu, NULL);
        topic_name(t, p->topic, sizeof(p->topic));
        if (!(p->producer = client(t, SPATE_CLIENT_PRODUCER, errstr, errstr_size)) ||
            !(p->consumer = client(t, SPATE_CLIENT_CONSUMER, errstr, errstr_size))) {
                spate_iq_peers_stop(p);
                return NULL;
        }
        parts = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(parts, p->topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_resp_err_t err = rd_kafka_assign(p->consumer, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        if (err || pthread_create(&p->thread, NULL, follow, p)) {
                snprintf(errstr, errstr_size, "interactive queries: cannot follow %s: %s", p->topic,
                         err ? rd_kafka_err2str(err) : "no thread");
                p->thread = 0;
                spate_iq_peers_stop(p);
                return NULL;
        }
        spate_iq_listen(on_assigned, p);
        spate_info("interactive queries: advertising %s in %s", p->self, p->topic);
        return p;
}

void spate_iq_peers_stop(spate_iq_peers_t *p) {
        if (!p)
                return;
        spate_iq_listen(NULL, NULL);
        if (p->thread) {
                atomic_store(&p->stop, 1);
                pthread_join(p->thread, NULL);
        }
        if (p->producer && p->consumer) {
                advertise(p, 1);   /* a clean stop holds nothing: queries go elsewhere at once */
                rd_kafka_flush(p->producer, 2000);
        }
        if (p->consumer) {
                rd_kafka_consumer_close(p->consumer);
                rd_kafka_destroy(p->consumer);
        }
        if (p->producer)
                rd_kafka_destroy(p->producer);
        for (int i = 0; i < p->npeers; i++) {
                free(p->peers[i].url);
                json_decref(p->peers[i].owned);
                json_decref(p->peers[i].standby);
        }
        free(p->peers);
        pthread_mutex_destroy(&p->mu);
        free(p->self);
        free(p);
}

const char *spate_iq_peers_self(const spate_iq_peers_t *p) {
        return p->self;
}

static int lists(json_t *set, const char *topic, int32_t part) {
        json_t *ps = json_object_get(set, topic), *v;
        size_t i;
        json_array_foreach(ps, i, v)
                if (json_integer_value(v) == part)
                        return 1;
        return 0;
}

static int claims(const peer_t *peer, const char *topic, int32_t part) {
        return lists(peer->owned, topic, part);
}

char *spate_iq_peers_owner(spate_iq_peers_t *p, const char *topic, int32_t part) {
        char *url = NULL;
        int64_t best = -1;
        pthread_mutex_lock(&p->mu);
        for (int i = 0; i < p->npeers; i++)
                if (p->peers[i].offset > best && claims(&p->peers[i], topic, part)) {
                        best = p->peers[i].offset;
                        free(url);
                        url = spate_xstrdup(p->peers[i].url);
                }
        pthread_mutex_unlock(&p->mu);
        return url;
}

/* 1 if peer i holds a partition of topic by the latest claim (a killed
 * instance's older claims are superseded by its successors'). */
static int current_owner(const spate_iq_peers_t *p, int i, const char *topic) {
        json_t *ps = json_object_get(p->peers[i].owned, topic), *v;
        size_t k;
        json_array_foreach(ps, k, v) {
                int latest = 1;
                for (int j = 0; j < p->npeers && latest; j++)
                        latest = j == i || p->peers[j].offset < p->peers[i].offset ||
                                 !claims(&p->peers[j], topic, (int32_t)json_integer_value(v));
                if (latest)
                        return 1;
        }
        return 0;
}

int spate_iq_peers_others(spate_iq_peers_t *p, const char *topic, char ***urls) {
        int n = 0;
        pthread_mutex_lock(&p->mu);
        *urls = spate_xcalloc((size_t)p->npeers + 1, sizeof(**urls));
        for (int i = 0; i < p->npeers; i++)
                if (strcmp(p->peers[i].url, p->self) && current_owner(p, i, topic))
                        (*urls)[n++] = spate_xstrdup(p->peers[i].url);
        pthread_mutex_unlock(&p->mu);
        return n;
}

void spate_iq_peers_free_list(char **urls, int n) {
        for (int i = 0; i < n; i++)
                free(urls[i]);
        free(urls);
}

int spate_iq_peers_standbys(spate_iq_peers_t *p, const char *topic, int32_t part, char ***urls) {
        int n = 0;
        pthread_mutex_lock(&p->mu);
        *urls = spate_xcalloc((size_t)p->npeers + 1, sizeof(**urls));
        for (int i = 0; i < p->npeers; i++)
                if (strcmp(p->peers[i].url, p->self) && lists(p->peers[i].standby, topic, part))
                        (*urls)[n++] = spate_xstrdup(p->peers[i].url);
        pthread_mutex_unlock(&p->mu);
        return n;
}
