/* topics.c - topic creation for `spate run` against any Kafka. The metadata
 * request asks for all topics, because asking for one by name makes some
 * brokers (and the embedded mock) auto-create it with default settings. */
#include "topics.h"
#include "../util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int exists(const rd_kafka_metadata_t *md, const char *name) {
        for (int i = 0; i < md->topic_cnt; i++)
                if (!strcmp(md->topics[i].topic, name) && !md->topics[i].err)
                        return 1;
        return 0;
}

static int create(rd_kafka_t *rk, rd_kafka_NewTopic_t **nt, int n, char *errstr, size_t errstr_size) {
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_event_t *ev;
        int rc = 0;
        char err[256];

        rd_kafka_AdminOptions_set_request_timeout(opt, 15000, err, sizeof(err));
        rd_kafka_CreateTopics(rk, nt, (size_t)n, opt, q);
        ev = rd_kafka_queue_poll(q, 20000);
        if (!ev || rd_kafka_event_error(ev)) {
                snprintf(errstr, errstr_size, "creating topics failed: %s (on the embedded broker, start "
                         "'spate broker --topology FILE' so it creates them)",
                         ev ? rd_kafka_event_error_string(ev) : "timed out");
                rc = -1;
        } else {
                size_t cnt;
                const rd_kafka_topic_result_t **res =
                        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
                for (size_t i = 0; i < cnt && !rc; i++) {
                        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
                        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                                snprintf(errstr, errstr_size, "creating topic %s: %s",
                                         rd_kafka_topic_result_name(res[i]), rd_kafka_topic_result_error_string(res[i]));
                                rc = -1;
                        } else {
                                spate_info("created topic %s", rd_kafka_topic_result_name(res[i]));
                        }
                }
        }
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_AdminOptions_destroy(opt);
        rd_kafka_queue_destroy(q);
        return rc;
}

int spate_topics_ensure(rd_kafka_t *rk, const spate_topology_t *t, char *errstr,
                        size_t errstr_size) {
        const rd_kafka_metadata_t *md;
        rd_kafka_NewTopic_t **nt = calloc((size_t)t->ntopics, sizeof(*nt));
        int n = 0, rc = 0;
        char err[256];
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, 15000);

        if (e) {
                snprintf(errstr, errstr_size, "cannot reach Kafka for metadata: %s (is the broker running? "
                         "'spate broker' starts the embedded one)", rd_kafka_err2str(e));
                free(nt);
                return -1;
        }
        for (int i = 0; i < t->ntopics; i++) {
                const spate_topic_decl_t *d = &t->topics[i];
                if (exists(md, d->name))
                        continue;
                /* NULL for a partition count Kafka refuses (above 100000;
                 * the loader rejects counts below 1). */
                if (!(nt[n] = rd_kafka_NewTopic_new(d->name, d->partitions, -1, err, sizeof(err)))) {
                        snprintf(errstr, errstr_size, "cannot create topic %s: %s", d->name, err);
                        rc = -1;
                        break;
                }
                if (d->compacted)
                        rd_kafka_NewTopic_set_config(nt[n], "cleanup.policy", "compact");
                n++;
        }
        rd_kafka_metadata_destroy(md);
        if (n && !rc)
                rc = create(rk, nt, n, errstr, errstr_size);
        for (int i = 0; i < n; i++)
                rd_kafka_NewTopic_destroy(nt[i]);
        free(nt);
        return rc;
}
