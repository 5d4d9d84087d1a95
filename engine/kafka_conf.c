/* kafka_conf.c - spate's librdkafka defaults and the kafka: pass-through. */
#include "kafka_conf.h"
#include "fetch_wake.h"
#include "../util/log.h"

#include <stdio.h>
#include <string.h>

void spate_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
        (void)rk;
        spate_log(level <= 3 ? SPATE_LOG_ERROR : level <= 4 ? SPATE_LOG_WARN :
                  level <= 6 ? SPATE_LOG_INFO : SPATE_LOG_DEBUG, "rdkafka %s: %s", fac, buf);
}

static int set(rd_kafka_conf_t *c, const char *k, const char *v, char *errstr, size_t size) {
        return rd_kafka_conf_set(c, k, v, errstr, size) == RD_KAFKA_CONF_OK ? 0 : -1;
}

static const char *const consumer_defaults[][2] = {
        { "enable.auto.commit", "false" },
        { "enable.auto.offset.store", "false" },
        { "auto.offset.reset", "earliest" },
        { "enable.partition.eof", "false" },
        { "fetch.wait.max.ms", "50" },
        /* In librdkafka 2.0 both prefetch thresholds are checked against the
         * one consumer queue all partitions forward to; once one is reached
         * a broker thread stops fetching until it next wakes, up to 1 s
         * later, however fast the queue drains. The engine wakes them while
         * it catches up (fetch_wake.c; from 2.2 on, spate_kafka_conf() sets
         * fetch.queue.backoff.ms instead), so a small bound reads as fast as a
         * large one: 12 MB of payload (~40 MB of RSS with librdkafka's
         * per-message overhead at ~120-byte records) against 64 MB before
         * (~250 MB of RSS). The count threshold bounds small records, whose
         * overhead the bytes bound does not see: 100,000 is about where
         * 12 MB stops ~120-byte records anyway, and held bench/winstore.sh's
         * ~45-byte records (16 MB: ~350,000 of them, ~300 MB of RSS) to
         * ~100 MB less at 3 M keys. fetch_wake.c wakes below half of it. */
        { "queued.min.messages", "100000" },
        { "queued.max.messages.kbytes", "12288" },
        /* Per partition and fetch: what one response may add beyond the
         * bound (librdkafka grows it for a larger message). */
        { "fetch.message.max.bytes", "131072" },
        { "fetch.error.backoff.ms", "50" },
        { "partition.assignment.strategy", "range" },
};

/* The restorer replays changelogs with no wake-ups (it polls partition by
 * partition): it keeps the prefetch that covers the broker threads' pause,
 * held only while a restore runs. */
static const char *const restorer_defaults[][2] = {
        { "queued.max.messages.kbytes", "65536" },
        { "queued.min.messages", "10000000" },   /* no count bound: no wake-ups here */
        { "fetch.message.max.bytes", "1048576" },
        { "fetch.wait.max.ms", "10" },
};

static const char *const producer_defaults[][2] = {
        { "linger.ms", "5" },
        { "compression.codec", "lz4" },
        { "partitioner", "murmur2_random" },  /* the Java clients' partitioner */
        /* Outputs not yet acknowledged: 20,000 are ~600 per partition of a
         * 32-partition topic, more than a linger's worth at 1M records/s;
         * 100,000 (librdkafka's default) held ~25 MB more and ran no faster. */
        { "queue.buffering.max.messages", "20000" },
};

rd_kafka_conf_t *spate_kafka_conf(const spate_topology_t *t, spate_client_t kind,
                                  char *errstr, size_t errstr_size) {
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        char err[512];
        rd_kafka_conf_set_log_cb(c, spate_kafka_log_cb);
        if (kind == SPATE_CLIENT_CONSUMER || kind == SPATE_CLIENT_RESTORER) {
                for (size_t i = 0; i < sizeof(consumer_defaults) / sizeof(consumer_defaults[0]); i++)
                        set(c, consumer_defaults[i][0], consumer_defaults[i][1], err, sizeof(err));
                for (size_t i = 0; kind == SPATE_CLIENT_RESTORER &&
                                   i < sizeof(restorer_defaults) / sizeof(restorer_defaults[0]); i++)
                        set(c, restorer_defaults[i][0], restorer_defaults[i][1], err, sizeof(err));
                set(c, "group.id", t->application, err, sizeof(err));
                /* Without it, librdkafka 2.2+ would pause up to 1 s at the
                 * bound too; earlier versions know no such property and get
                 * fetch_wake.c's thread. */
                if (kind == SPATE_CLIENT_CONSUMER && !spate_fetch_wake_needed(rd_kafka_version())) {
                        char ms[16];
                        snprintf(ms, sizeof(ms), "%d", SPATE_FETCH_WAKE_MS);
                        set(c, "fetch.queue.backoff.ms", ms, err, sizeof(err));
                }
        } else if (kind == SPATE_CLIENT_PRODUCER) {
                for (size_t i = 0; i < sizeof(producer_defaults) / sizeof(producer_defaults[0]); i++)
                        set(c, producer_defaults[i][0], producer_defaults[i][1], err, sizeof(err));
        }
        for (int i = 0; t->kafka && i < t->kafka->n; i++) {
                const char *k = t->kafka->keys[i]->value;
                const spate_yaml_t *v = t->kafka->items[i];
                if (!strncmp(k, "consumer.", 9)) {
                        if (kind != SPATE_CLIENT_CONSUMER && kind != SPATE_CLIENT_RESTORER)
                                continue;
                        k += 9;
                } else if (!strncmp(k, "producer.", 9)) {
                        if (kind != SPATE_CLIENT_PRODUCER)
                                continue;
                        k += 9;
                }
                if (v->kind != SPATE_YAML_SCALAR || set(c, k, v->value, err, sizeof(err))) {
                        snprintf(errstr, errstr_size, "%s:%d:%d: kafka property '%s': %s", v->file,
                                 t->kafka->keys[i]->line, t->kafka->keys[i]->col, k,
                                 v->kind != SPATE_YAML_SCALAR ? "must be a single value" : err);
                        rd_kafka_conf_destroy(c);
                        return NULL;
                }
        }
        return c;
}
