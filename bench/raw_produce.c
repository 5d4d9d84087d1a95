/* raw_produce.c - the producing half of the baseline: a plain librdkafka
 * producer with spate's producer settings writing N copies of a ~130-byte
 * JSON record, keyed over 20,000 keys, and waiting for every acknowledgement.
 * usage: raw_produce BOOTSTRAP TOPIC N -> "raw produce: N records in T s = R records/s" */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
        char errstr[512], key[16], val[160];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        if (argc != 4) {
                fprintf(stderr, "usage: raw_produce BOOTSTRAP TOPIC N\n");
                return 2;
        }
        long n = atol(argv[3]);
        rd_kafka_conf_set(c, "bootstrap.servers", argv[1], errstr, sizeof(errstr));
        rd_kafka_conf_set(c, "linger.ms", "5", errstr, sizeof(errstr));
        rd_kafka_conf_set(c, "compression.codec", "lz4", errstr, sizeof(errstr));
        rd_kafka_conf_set(c, "partitioner", "murmur2_random", errstr, sizeof(errstr));
        rd_kafka_conf_set(c, "queue.buffering.max.messages", "100000", errstr, sizeof(errstr));
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr));
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, argv[2], NULL);
        double t0 = now();
        for (long i = 0; i < n; i++) {
                int kl = snprintf(key, sizeof(key), "s%05ld", i % 20000);
                int vl = snprintf(val, sizeof(val), "{\"sensor\":\"%s\",\"region\":\"Bretagne\",\"ts\":%ld,"
                                  "\"temp_f\":%ld.25}", key, 1700000000000L + i * 100, i % 90);
                while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, val, (size_t)vl,
                                        key, (size_t)kl, NULL) == -1)
                        rd_kafka_poll(rk, 10);
                rd_kafka_poll(rk, 0);
        }
        rd_kafka_flush(rk, 60000);
        double t1 = now();
        printf("raw produce: %ld records in %.3f s = %.0f records/s\n", n, t1 - t0, (double)n / (t1 - t0));
        rd_kafka_topic_destroy(rkt);
        rd_kafka_destroy(rk);
        return 0;
}
