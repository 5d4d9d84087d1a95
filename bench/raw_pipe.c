/* raw_pipe.c - the consume -> produce baseline of map->sink: a plain
 * librdkafka consumer in a group (spate's consumer settings, but the 64 MB
 * prefetch that keeps librdkafka 2.0's fetchers busy without spate's
 * wake-ups, engine/fetch_wake.c: the limit at its best) copying every
 * message, key and value unchanged, to another topic through a producer with
 * spate's producer settings (engine/kafka_conf.c: lz4, linger.ms 5, the
 * murmur2_random partitioner, a delivery report per message) - each consumed
 * batch in one rd_kafka_produce_batch() call, as spate's engine does
 * (engine/outbox.h: ~1.35x the rate of one rd_kafka_produce() a message on
 * this project's 2 cores, 5 alternating rounds on 5 December 2026) - committing the
 * consumed offsets every second once the producer has acknowledged what was
 * produced before (spate's at-least-once protocol, without the processing).
 * It is the physical limit of a stateless topology on this machine.
 * usage: raw_pipe BOOTSTRAP IN_TOPIC OUT_TOPIC N
 *   -> "raw pipe: N records in T s = R records/s (first to last record)" */
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

static long delivered, failed;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
        (void)rk, (void)opaque;
        if (m->err)
                failed++;
        else
                delivered++;
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v) {
        char errstr[512];
        if (rd_kafka_conf_set(c, k, v, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "raw_pipe: %s: %s\n", k, errstr);
                exit(2);
        }
}

static rd_kafka_t *consumer(const char *bootstrap, const char *topic) {
        char errstr[512], group[64];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        snprintf(group, sizeof(group), "raw-pipe-%ld", (long)time(NULL));
        set(c, "bootstrap.servers", bootstrap);
        set(c, "group.id", group);
        set(c, "auto.offset.reset", "earliest");
        set(c, "enable.auto.commit", "false");
        set(c, "enable.auto.offset.store", "false");
        set(c, "fetch.wait.max.ms", "50");
        set(c, "queued.min.messages", "10000000");
        set(c, "queued.max.messages.kbytes", "65536");
        set(c, "fetch.error.backoff.ms", "50");
        set(c, "session.timeout.ms", "4000");
        set(c, "heartbeat.interval.ms", "500");
        set(c, "partition.assignment.strategy", "range");
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "raw_pipe: %s\n", errstr);
                exit(1);
        }
        rd_kafka_poll_set_consumer(rk);
        rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_subscribe(rk, subs);
        rd_kafka_topic_partition_list_destroy(subs);
        return rk;
}

static rd_kafka_t *producer(const char *bootstrap) {
        char errstr[512];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        set(c, "bootstrap.servers", bootstrap);
        set(c, "linger.ms", "5");
        set(c, "compression.codec", "lz4");
        set(c, "partitioner", "murmur2_random");
        set(c, "queue.buffering.max.messages", "20000");
        rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "raw_pipe: %s\n", errstr);
                exit(1);
        }
        return rk;
}

/* Copies the batch's messages to out in one call, waiting for room in the
 * producer's queue: librdkafka refuses the tail of a batch that overflows it. */
static void produce(rd_kafka_t *p, rd_kafka_topic_t *out, rd_kafka_message_t *batch, int n) {
        int done = 0;
        while (done < n) {
                rd_kafka_produce_batch(out, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, batch + done, n - done);
                while (done < n && !batch[done].err)
                        done++;
                if (done < n && batch[done].err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                        fprintf(stderr, "raw_pipe: produce: %s\n", rd_kafka_err2str(batch[done].err));
                        exit(1);
                }
                if (done < n)
                        rd_kafka_poll(p, 10);
        }
}

/* At-least-once: the offsets are committed once what they produced is acknowledged. */
static void commit(rd_kafka_t *c, rd_kafka_t *p) {
        rd_kafka_topic_partition_list_t *pos;
        rd_kafka_flush(p, 60000);
        if (!rd_kafka_assignment(c, &pos)) {
                rd_kafka_position(c, pos);
                rd_kafka_commit(c, pos, 0);
                rd_kafka_topic_partition_list_destroy(pos);
        }
}

int main(int argc, char **argv) {
        rd_kafka_message_t *msgs[1024], batch[1024];
        long want, got = 0;
        double t0 = 0, t1 = 0, last_commit;

        if (argc != 5) {
                fprintf(stderr, "usage: raw_pipe BOOTSTRAP IN_TOPIC OUT_TOPIC N\n");
                return 2;
        }
        want = atol(argv[4]);
        rd_kafka_t *c = consumer(argv[1], argv[2]), *p = producer(argv[1]);
        rd_kafka_topic_t *out = rd_kafka_topic_new(p, argv[3], NULL);
        rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(c);
        double deadline = now() + 120;
        last_commit = now();
        while (got < want && now() < deadline) {
                ssize_t n = rd_kafka_consume_batch_queue(q, 100, msgs, 1024);
                int nb = 0;
                for (ssize_t i = 0; i < n; i++) {
                        if (msgs[i]->err)
                                continue;
                        if (!got++)
                                t0 = now();
                        batch[nb++] = (rd_kafka_message_t){ .payload = msgs[i]->payload, .len = msgs[i]->len,
                                                            .key = msgs[i]->key, .key_len = msgs[i]->key_len };
                }
                produce(p, out, batch, nb);
                for (ssize_t i = 0; i < n; i++)
                        rd_kafka_message_destroy(msgs[i]);
                rd_kafka_poll(p, 0);
                if (n > 0)
                        t1 = now();
                if (now() - last_commit >= 1.0) {
                        commit(c, p);
                        last_commit = now();
                }
        }
        commit(c, p);
        rd_kafka_queue_destroy(q);
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
        rd_kafka_topic_destroy(out);
        rd_kafka_destroy(p);
        printf("raw pipe: %ld records in %.3f s = %.0f records/s (first to last record; %ld delivered, %ld failed)\n",
               got, t1 - t0, t1 > t0 ? (double)got / (t1 - t0) : 0.0, delivered, failed);
        return got == want && delivered == got && !failed ? 0 : 1;
}
