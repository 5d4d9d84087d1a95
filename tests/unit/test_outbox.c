/* test_outbox.c - the engine's outbox (engine/outbox.c) against librdkafka's
 * in-process mock cluster: what a box sends is read back from the topic with
 * its keys, values, tombstones and per-partition order; a full producer
 * queue keeps the refused tail for the next send; a refused partition is
 * reported; each delivery report carries its message's opaque. */
#include "check.h"
#include "../../engine/outbox.h"

#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>

#define NPART 4

static int reports, report_opaque_ok;

/* The number after the first byte of n bytes at p ("k12", "v12-payload"), -1 if none. */
static int index_of(const void *p, size_t n) {
        char buf[32];
        if (!p || n < 2 || n >= sizeof(buf))
                return -1;
        memcpy(buf, p, n);
        buf[n] = 0;
        return atoi(buf + 1);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
        (void)rk, (void)opaque;
        reports++;
        /* every message's opaque is its index + 1000, the key "k<index>" */
        if (!m->err && m->key && (intptr_t)m->_private - 1000 == index_of(m->key, m->key_len))
                report_opaque_ok++;
}

/* Idempotent: fatal errors are an idempotent or transactional producer's
 * (spate's under exactly_once). */
static rd_kafka_t *producer(const char *max_msgs) {
        char errstr[256];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        if (rd_kafka_conf_set(c, "test.mock.num.brokers", "1", errstr, sizeof(errstr)) ||
            rd_kafka_conf_set(c, "queue.buffering.max.messages", max_msgs, errstr, sizeof(errstr)) ||
            rd_kafka_conf_set(c, "linger.ms", "1", errstr, sizeof(errstr)) ||
            rd_kafka_conf_set(c, "enable.idempotence", "true", errstr, sizeof(errstr))) {
                fprintf(stderr, "%s\n", errstr);
                exit(2);
        }
        rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "%s\n", errstr);
                exit(2);
        }
        return rk;
}

/* The message i: key "k<i>" (none for i % 7 == 3), value "v<i>", a
 * tombstone for i % 5 == 1, an empty value for i % 5 == 2; partition i %
 * NPART for even i, the partitioner's for odd. */
static void add(spate_outbox_t *b, int i) {
        char key[16], val[32];
        int kl = snprintf(key, sizeof(key), "k%d", i), vl = snprintf(val, sizeof(val), "v%d-payload", i);
        spate_outbox_add(b, i % 2 ? -1 : i % NPART, i % 7 == 3 ? NULL : key, (size_t)kl,
                         i % 5 == 1 ? NULL : val, i % 5 == 2 ? 0 : (size_t)vl, (void *)(intptr_t)(i + 1000));
}

/* Reads every message of the topic and checks each against add(i), in the
 * order of i within its partition; returns how many matched. */
static int read_back(const char *bootstraps, const char *topic, int n) {
        char errstr[256];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        rd_kafka_conf_set(c, "bootstrap.servers", bootstraps, errstr, sizeof(errstr));
        rd_kafka_conf_set(c, "group.id", "test-outbox", errstr, sizeof(errstr));
        rd_kafka_conf_set(c, "enable.partition.eof", "true", errstr, sizeof(errstr));
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof(errstr));
        rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(NPART);
        for (int p = 0; p < NPART; p++)
                rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(rk, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        int last[NPART], eofs = 0, good = 0, seen = 0;
        for (int p = 0; p < NPART; p++)
                last[p] = -1;
        while (eofs < NPART) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 5000);
                if (!m)
                        break;  /* 5 s without a message or an end: the checks below fail */
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        eofs++;
                } else if (!m->err) {
                        seen++;
                        /* a key-less message is known by its value, else by its key */
                        int i = m->key ? index_of(m->key, m->key_len) : index_of(m->payload, m->len);
                        char key[16], val[32];
                        int kl = snprintf(key, sizeof(key), "k%d", i);
                        int vl = snprintf(val, sizeof(val), "v%d-payload", i);
                        int key_ok = i % 7 == 3 ? !m->key : m->key && m->key_len == (size_t)kl &&
                                                                   !memcmp(m->key, key, (size_t)kl);
                        int val_ok = i % 5 == 1   ? !m->payload
                                     : i % 5 == 2 ? m->payload && m->len == 0
                                                  : m->len == (size_t)vl && !memcmp(m->payload, val, (size_t)vl);
                        int part_ok = i % 2 || m->partition == i % NPART;
                        if (i >= 0 && i < n && key_ok && val_ok && part_ok && i > last[m->partition])
                                good++;
                        if (i >= 0)
                                last[m->partition] = i;
                }
                rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        /* a key-less tombstone or empty value cannot be told apart: counted as read, not matched */
        int unknowable = 0;
        for (int i = 0; i < n; i++)
                unknowable += i % 7 == 3 && (i % 5 == 1 || i % 5 == 2);
        CHECK(seen == n, "%s: %d messages read back, %d sent", topic, seen, n);
        return good + unknowable;
}

int main(void) {
        rd_kafka_t *rk = producer("50");
        rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(rk);
        rd_kafka_mock_topic_create(mc, "a", NPART, 1);
        rd_kafka_mock_topic_create(mc, "b", NPART, 1);
        rd_kafka_topic_t *a = rd_kafka_topic_new(rk, "a", NULL), *b = rd_kafka_topic_new(rk, "b", NULL);
        spate_outbox_t box = { 0 };
        int32_t part = -1;

        /* 40 messages: within the producer's queue of 50 */
        for (int i = 0; i < 40; i++)
                add(&box, i);
        CHECK(box.n == 40, "40 queued in the box (%d)", box.n);
        CHECK(spate_outbox_send(&box, a, &part) == RD_KAFKA_RESP_ERR_NO_ERROR && box.n == 0 && box.len == 0,
              "sent whole: the box is empty");
        CHECK(rd_kafka_flush(rk, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR, "acknowledged");
        int keyed = 0;
        for (int i = 0; i < 40; i++)
                keyed += i % 7 != 3;
        CHECK(reports == 40 && report_opaque_ok == keyed,
              "40 delivery reports, each keyed one with its own opaque (%d, %d)", reports, report_opaque_ok);
        int matched = read_back(rd_kafka_mock_cluster_bootstraps(mc), "a", 40);
        CHECK(matched == 40,
              "topic a: keys, values, tombstones, empty values and partitions as added, in order");

        /* 130 messages against a queue of 50: the refused tail stays, in order */
        for (int i = 0; i < 130; i++)
                add(&box, i);
        rd_kafka_resp_err_t err = spate_outbox_send(&box, b, &part);
        CHECK(err == RD_KAFKA_RESP_ERR__QUEUE_FULL && box.n == 80, "queue full: 80 of 130 kept (%s, %d)",
              rd_kafka_err2str(err), box.n);
        CHECK(box.msgs[0]._private == (void *)(intptr_t)1050, "the first kept is the 51st");
        int sends = 1;
        while ((err = spate_outbox_send(&box, b, &part)) == RD_KAFKA_RESP_ERR__QUEUE_FULL && sends++ < 1000)
                rd_kafka_poll(rk, 10);
        CHECK(err == RD_KAFKA_RESP_ERR_NO_ERROR && box.n == 0, "the rest sent after room was made (%d sends)", sends);
        rd_kafka_flush(rk, 10000);
        matched = read_back(rd_kafka_mock_cluster_bootstraps(mc), "b", 130);
        CHECK(matched == 130,
              "topic b: all 130 as added, in order within each partition");

        /* a refusal other than a full queue (librdkafka's produce_batch()
         * leaks a message refused for an unknown partition, so a fatal error
         * stands for them here) */
        rd_kafka_test_fatal_error(rk, RD_KAFKA_RESP_ERR__INVALID_ARG, "test_outbox");
        add(&box, 2);
        add(&box, 1);
        err = spate_outbox_send(&box, a, &part);
        CHECK(err == RD_KAFKA_RESP_ERR__FATAL && part == 2 && box.n == 0,
              "a fatal error is reported with the refused message's partition, the box emptied (%s, %d)",
              rd_kafka_err2str(err), (int)part);

        /* when a box is due */
        int due = 0, i = 0;
        while (!due && i < 5000)
                due = spate_outbox_add(&box, -1, "k", 1, "v", 1, NULL), i++;
        CHECK(due && box.n == SPATE_OUTBOX_MSGS, "due at %d messages (%d)", SPATE_OUTBOX_MSGS, box.n);
        spate_outbox_clear(&box);
        static char big[300000];
        for (due = 0, i = 0; !due && i < 10; i++)
                due = spate_outbox_add(&box, -1, NULL, 0, big, sizeof(big), NULL);
        CHECK(due && box.n == 4, "due past %u bytes (%d messages of 300,000)", SPATE_OUTBOX_BYTES, box.n);
        CHECK(box.at[3].value == 3 * sizeof(big), "values lie one after the other in its bytes");

        spate_outbox_free(&box);
        rd_kafka_topic_destroy(a);
        rd_kafka_topic_destroy(b);
        rd_kafka_destroy(rk);
        return CHECK_DONE();
}
