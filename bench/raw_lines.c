/* raw_lines.c - the producing half of the MQTT baseline (bench/mqtt.sh): reads
 * "KEY<TAB>VALUE" lines from stdin (mosquitto_sub -F '%t\t%p') and produces
 * each to a topic with spate's producer settings (lz4, linger.ms 5, the
 * murmur2_random partitioner), then waits for every acknowledgement.
 * usage: raw_lines BOOTSTRAP TOPIC -> "raw lines: N records in T s" */
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
        char errstr[512], *line = NULL;
        size_t cap = 0;
        ssize_t len;
        long n = 0;
        if (argc != 3) {
                fprintf(stderr, "usage: raw_lines BOOTSTRAP TOPIC < lines\n");
                return 2;
        }
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        rd_kafka_conf_set(c, "bootstrap.servers", argv[1], errstr, sizeof(errstr));
        rd_kafka_conf_set(c, "linger.ms", "5", errstr, sizeof(errstr));
        rd_kafka_conf_set(c, "compression.codec", "lz4", errstr, sizeof(errstr));
        rd_kafka_conf_set(c, "partitioner", "murmur2_random", errstr, sizeof(errstr));
        rd_kafka_conf_set(c, "queue.buffering.max.messages", "100000", errstr, sizeof(errstr));
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr));
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, argv[2], NULL);
        double t0 = 0;
        while ((len = getline(&line, &cap, stdin)) > 0) {
                if (!n)
                        t0 = now();
                char *tab = memchr(line, '\t', (size_t)len);
                size_t kl = tab ? (size_t)(tab - line) : 0;
                char *val = tab ? tab + 1 : line;
                size_t vl = (size_t)(line + len - val) - (line[len - 1] == '\n');
                while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, val, vl, line, kl,
                                        NULL) == -1)
                        rd_kafka_poll(rk, 10);
                rd_kafka_poll(rk, 0);
                n++;
        }
        rd_kafka_flush(rk, 60000);
        printf("raw lines: %ld records in %.3f s\n", n, n ? now() - t0 : 0.0);
        free(line);
        rd_kafka_topic_destroy(rkt);
        rd_kafka_destroy(rk);
        return 0;
}
