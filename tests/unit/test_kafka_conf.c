/* test_kafka_conf.c - the librdkafka confs spate builds: the memory defaults
 * each client kind gets (the group consumer's small prefetch, the restorer's
 * larger one, the producer's queue) and a topology's kafka: keys over them;
 * which librdkafka versions get fetch wake-ups or fetch.queue.backoff.ms. */
#include "check.h"
#include "../../engine/fetch_wake.h"
#include "../../engine/kafka_conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *write_file(const char *text) {
        static char path[256];
        snprintf(path, sizeof(path), "/tmp/spate-test-%d-kafka-conf.yaml", (int)getpid());
        FILE *fp = fopen(path, "w");
        fputs(text, fp);
        fclose(fp);
        return path;
}

/* The value of key in the conf of kind, into buf. */
static const char *value(const spate_topology_t *t, spate_client_t kind, const char *key, char *buf,
                         size_t size) {
        char err[512];
        rd_kafka_conf_t *c = spate_kafka_conf(t, kind, err, sizeof(err));
        snprintf(buf, size, "?");
        if (c && rd_kafka_conf_get(c, key, buf, &size) != RD_KAFKA_CONF_OK)
                snprintf(buf, size, "unset");
        if (c)
                rd_kafka_conf_destroy(c);
        return buf;
}

static spate_topology_t *load(const char *kafka) {
        char yaml[1024], err[1024] = "";
        snprintf(yaml, sizeof(yaml), "application: k\nkafka:\n  bootstrap.servers: 127.0.0.1:1\n%s"
                 "nodes:\n  - name: in\n    type: kafka_source\n    topic: t.in\n"
                 "  - name: out\n    type: kafka_sink\n    from: in\n    topic: t.out\n", kafka);
        spate_topology_t *t = spate_topology_load(write_file(yaml), err, sizeof(err));
        CHECK(t != NULL, "topology loads (%s)", err);
        return t;
}

/* Before 2.2.0 the engine wakes the fetchers; from it on, the consumer backs
 * off SPATE_FETCH_WAKE_MS by itself (only the group consumer: the restorer
 * keeps its large prefetch and no wake-ups). */
static void test_fetch_wake_version(const spate_topology_t *t) {
        char v[64], ms[16];
        CHECK(spate_fetch_wake_needed(0x020002ff), "2.0.2 (Debian 12) needs wake-ups");
        CHECK(spate_fetch_wake_needed(0x020100ff), "2.1.0 needs wake-ups");
        CHECK(spate_fetch_wake_needed(0x0101ffff), "1.x needs wake-ups");
        CHECK(!spate_fetch_wake_needed(0x020200ff), "2.2.0 has fetch.queue.backoff.ms");
        CHECK(!spate_fetch_wake_needed(0x020a00ff), "2.10.0 has fetch.queue.backoff.ms");
        CHECK(!spate_fetch_wake_needed(0x030000ff), "3.0.0 has fetch.queue.backoff.ms");
        snprintf(ms, sizeof(ms), "%d", SPATE_FETCH_WAKE_MS);
        const char *want = spate_fetch_wake_needed(rd_kafka_version()) ? "unset" : ms;
        CHECK(!strcmp(value(t, SPATE_CLIENT_CONSUMER, "fetch.queue.backoff.ms", v, sizeof(v)), want),
              "the consumer's fetch.queue.backoff.ms under librdkafka %s: %s, not %s", rd_kafka_version_str(), v,
              want);
        CHECK(strcmp(value(t, SPATE_CLIENT_RESTORER, "fetch.queue.backoff.ms", v, sizeof(v)), ms),
              "the restorer keeps librdkafka's backoff (%s)", v);
}

int main(void) {
        char v[64];
        spate_topology_t *t = load("");
        if (t) {
                CHECK_STR(value(t, SPATE_CLIENT_CONSUMER, "queued.max.messages.kbytes", v, sizeof(v)), "12288",
                          "the group consumer prefetches 12 MB");
                CHECK_STR(value(t, SPATE_CLIENT_CONSUMER, "queued.min.messages", v, sizeof(v)), "100000",
                          "and 100,000 messages at most (small records)");
                CHECK_STR(value(t, SPATE_CLIENT_RESTORER, "queued.min.messages", v, sizeof(v)), "10000000",
                          "the restorer, without wake-ups, has no count bound");
                test_fetch_wake_version(t);
                CHECK_STR(value(t, SPATE_CLIENT_CONSUMER, "fetch.message.max.bytes", v, sizeof(v)), "131072",
                          "128 KB per partition and fetch");
                CHECK_STR(value(t, SPATE_CLIENT_CONSUMER, "group.id", v, sizeof(v)), "k", "group is the application");
                CHECK_STR(value(t, SPATE_CLIENT_RESTORER, "queued.max.messages.kbytes", v, sizeof(v)), "65536",
                          "the restorer, without wake-ups, prefetches 64 MB");
                CHECK_STR(value(t, SPATE_CLIENT_RESTORER, "fetch.wait.max.ms", v, sizeof(v)), "10",
                          "the restorer waits 10 ms for a fetch");
                CHECK_STR(value(t, SPATE_CLIENT_RESTORER, "enable.auto.commit", v, sizeof(v)), "false",
                          "the restorer has the consumer's defaults too");
                CHECK_STR(value(t, SPATE_CLIENT_PRODUCER, "queue.buffering.max.messages", v, sizeof(v)), "20000",
                          "the producer queues 20,000 outputs");
                spate_topology_destroy(t);
        }
        t = load("  consumer.queued.max.messages.kbytes: 4096\n  producer.queue.buffering.max.messages: 5000\n");
        if (t) {
                CHECK_STR(value(t, SPATE_CLIENT_CONSUMER, "queued.max.messages.kbytes", v, sizeof(v)), "4096",
                          "consumer. key overrides the consumer's default");
                CHECK_STR(value(t, SPATE_CLIENT_RESTORER, "queued.max.messages.kbytes", v, sizeof(v)), "4096",
                          "and the restorer's");
                CHECK_STR(value(t, SPATE_CLIENT_PRODUCER, "queue.buffering.max.messages", v, sizeof(v)), "5000",
                          "producer. key overrides the producer's default");
                spate_topology_destroy(t);
        }
        unlink(write_file(""));
        return CHECK_DONE();
}
