/* raw_consume.c - the benchmark baseline: a plain librdkafka consumer in a
 * group that reads a topic and touches every payload, nothing else.
 * usage: raw_consume BOOTSTRAP TOPIC N  -> prints "raw: N records in T s = R records/s" */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
        char errstr[512], group[64];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        rd_kafka_message_t *msgs[1024];
        long want, got = 0;
        unsigned long sum = 0;
        double t0 = 0, t1 = 0;

        if (argc != 4) {
                fprintf(stderr, "usage: raw_consume BOOTSTRAP TOPIC N\n");
                return 2;
        }
        want = atol(argv[3]);
        snprintf(group, sizeof(group), "raw-bench-%ld", (long)time(NULL));
        rd_kafka_conf_set(c, "bootstrap.servers", argv[1], errstr, sizeof(errstr));
        rd_kafka_conf_set(c, "group.id", group, errstr, sizeof(errstr));
        rd_kafka_conf_set(c, "auto.offset.reset", "earliest", errstr, sizeof(errstr));
        rd_kafka_conf_set(c, "enable.auto.commit", "false", errstr, sizeof(errstr));
        /* Same fetch settings as spate's consumer, so only the processing differs. */
        rd_kafka_conf_set(c, "fetch.wait.max.ms", "50", errstr, sizeof(errstr));
        rd_kafka_conf_set(c, "queued.min.messages", "10000000", errstr, sizeof(errstr));
        rd_kafka_conf_set(c, "queued.max.messages.kbytes", "65536", errstr, sizeof(errstr));
        rd_kafka_conf_set(c, "fetch.error.backoff.ms", "50", errstr, sizeof(errstr));
        rd_kafka_conf_set(c, "session.timeout.ms", "4000", errstr, sizeof(errstr));
        rd_kafka_conf_set(c, "heartbeat.interval.ms", "500", errstr, sizeof(errstr));
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "%s\n", errstr);
                return 1;
        }
        rd_kafka_poll_set_consumer(rk);
        rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(subs, argv[2], RD_KAFKA_PARTITION_UA);
        rd_kafka_subscribe(rk, subs);
        rd_kafka_topic_partition_list_destroy(subs);
        rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
        double deadline = now() + 120;
        while (got < want && now() < deadline) {
                ssize_t n = rd_kafka_consume_batch_queue(q, 100, msgs, 1024);
                for (ssize_t i = 0; i < n; i++) {
                        if (!msgs[i]->err) {
                                if (!got++)
                                        t0 = now();
                                sum += msgs[i]->len ? ((const unsigned char *)msgs[i]->payload)[0] : 0;
                        }
                        rd_kafka_message_destroy(msgs[i]);
                }
                if (n > 0)
                        t1 = now();
        }
        rd_kafka_commit(rk, NULL, 0);
        rd_kafka_queue_destroy(q);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        printf("raw: %ld records in %.3f s = %.0f records/s (checksum %lu)\n", got, t1 - t0,
               t1 > t0 ? (double)got / (t1 - t0) : 0.0, sum);
        return got == want ? 0 : 1;
}
