/* fetch_wake.c - keeps a small prefetch bound from stalling the reader on
 * librdkafka before 2.2. Once the consumer queue holds
 * queued.max.messages.kbytes, a broker thread stops fetching and sleeps until
 * something wakes it - up to 1 s later, however fast the queue drains (2.2.0
 * added fetch.queue.backoff.ms for this, librdkafka #2879: from that version
 * on the consumer sets it to SPATE_FETCH_WAKE_MS and no thread runs; Debian
 * 12 ships 2.0.2). A reader behind on a backlog then
 * reads in bursts unless the bound covers a second of processing (~64 MB of
 * small records, ~300 MB of RSS with librdkafka's per-message overhead).
 * While the engine catches up (a batch's worth of records within a tick)
 * and the queue has drained below half the bound, this thread asks each broker for the latest offset of one
 * partition it leads (rd_kafka_offsets_for_times(), which, unlike
 * rd_kafka_query_watermark_offsets(), gives up at its timeout when a broker
 * is down, so that stopping never waits on a dead broker): the request wakes
 * the broker's thread, which then fetches again. At most 50 small requests
 * per broker a second, only while catching up. */
#include "fetch_wake.h"
#include "../util/mem.h"
#include "../util/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BROKERS 64

struct spate_fetch_wake {
        rd_kafka_t *consumer;
        rd_kafka_queue_t *queue;
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int stop, running;
        atomic_int busy;            /* the engine is catching up (spate_fetch_wake_batch()) */
        atomic_long low_msgs;       /* wake below this many queued messages */
        char **topics;
        int ntopics;
        int32_t brokers[MAX_BROKERS];
        int nbrokers;
        rd_kafka_topic_partition_list_t *probe;  /* one partition per leader */
};

/* One partition per broker leading any partition of the topics read. */
static void find_leaders(spate_fetch_wake_t *w) {
        const struct rd_kafka_metadata *md;
        if (rd_kafka_metadata(w->consumer, 1, NULL, &md, 500))
                return;
        if (w->probe)
                rd_kafka_topic_partition_list_destroy(w->probe);
        w->probe = rd_kafka_topic_partition_list_new(4);
        w->nbrokers = 0;
        for (int t = 0; t < md->topic_cnt; t++) {
                int read = 0;
                for (int k = 0; k < w->ntopics && !read; k++)
                        read = !strcmp(w->topics[k], md->topics[t].topic);
                for (int p = 0; read && p < md->topics[t].partition_cnt; p++) {
                        int32_t b = md->topics[t].partitions[p].leader;
                        int known = 0;
                        for (int i = 0; i < w->nbrokers && !known; i++)
                                known = w->brokers[i] == b;
                        if (known || b < 0 || w->nbrokers == MAX_BROKERS)
                                continue;
                        w->brokers[w->nbrokers++] = b;
                        rd_kafka_topic_partition_list_add(w->probe, md->topics[t].topic,
                                                          md->topics[t].partitions[p].id);
                }
        }
        rd_kafka_metadata_destroy(md);
}

/* Asks each leader for its partition's latest offset (timestamp -1): one
 * request per broker. */
static void wake_leaders(spate_fetch_wake_t *w) {
        for (int i = 0; i < w->probe->cnt; i++)
                w->probe->elems[i].offset = RD_KAFKA_OFFSET_END;
        rd_kafka_offsets_for_times(w->consumer, w->probe, 100);
}

static int wait_ms(spate_fetch_wake_t *w, int ms) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long)ms * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_mutex_lock(&w->lock);
        if (!w->stop)
                pthread_cond_timedwait(&w->cond, &w->lock, &until);
        int stop = w->stop;
        pthread_mutex_unlock(&w->lock);
        return stop;
}

static void *run(void *arg) {
        spate_fetch_wake_t *w = arg;
        int rounds = 0;
        while (!wait_ms(w, SPATE_FETCH_WAKE_MS)) {
                if (!atomic_load(&w->busy) ||
                    (long)rd_kafka_queue_length(w->queue) >= atomic_load(&w->low_msgs))
                        continue;
                if (rounds++ % 500 == 0)  /* leaders move: look again every ~10 s of catching up */
                        find_leaders(w);
                if (w->probe && w->probe->cnt)
                        wake_leaders(w);
        }
        return NULL;
}

int spate_fetch_wake_needed(int v) {
        return v < 0x02020000;
}

spate_fetch_wake_t *spate_fetch_wake_start(rd_kafka_t *consumer, rd_kafka_queue_t *queue,
                                           const char *const *topics, int ntopics) {
        if (!spate_fetch_wake_needed(rd_kafka_version())) {
                spate_debug("librdkafka %s: the consumer backs off %d ms at its prefetch bound "
                            "(fetch.queue.backoff.ms), no fetch wake-ups", rd_kafka_version_str(),
                            SPATE_FETCH_WAKE_MS);
                return NULL;
        }
        spate_debug("librdkafka %s (before 2.2): fetch wake-ups every %d ms while catching up",
                    rd_kafka_version_str(), SPATE_FETCH_WAKE_MS);
        spate_fetch_wake_t *w = spate_xcalloc(1, sizeof(*w));
        w->topics = spate_xcalloc((size_t)ntopics, sizeof(*w->topics));
        w->consumer = consumer;
        w->queue = queue;
        w->ntopics = ntopics;
        for (int i = 0; i < ntopics; i++)
                w->topics[i] = spate_xstrdup(topics[i]);
        atomic_init(&w->busy, 0);
        atomic_init(&w->low_msgs, 0);
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->cond, NULL);
        if (pthread_create(&w->thread, NULL, run, w)) {
                spate_warn("no fetch wake-up thread: reading may pause when the prefetch bound is reached");
                spate_fetch_wake_stop(w);
                return NULL;
        }
        w->running = 1;
        return w;
}

void spate_fetch_wake_batch(spate_fetch_wake_t *w, int behind, long low_msgs) {
        if (!w)
                return;
        atomic_store(&w->busy, behind);
        atomic_store(&w->low_msgs, low_msgs);
}

void spate_fetch_wake_stop(spate_fetch_wake_t *w) {
        if (!w)
                return;
        if (w->running) {
                pthread_mutex_lock(&w->lock);
                w->stop = 1;
                pthread_cond_signal(&w->cond);
                pthread_mutex_unlock(&w->lock);
                pthread_join(w->thread, NULL);
        }
        if (w->probe)
                rd_kafka_topic_partition_list_destroy(w->probe);
        for (int i = 0; i < w->ntopics; i++)
                free(w->topics[i]);
        free(w->topics);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        free(w);
}
