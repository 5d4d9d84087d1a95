/* metrics_bench.c - what the metrics cost where it matters: a counter
 * update on the hot path (spate_metric_add, as spate_emit does twice per
 * node a record passes), with and without a thread rendering the registry
 * at the same time, and one render of a registry of the flagship's size
 * (what a scrape of /metrics costs the HTTP thread).
 *
 * usage: metrics_bench
 * The last line is "metrics: add N ns, add while scraped N ns, render N us". */
#include "../engine/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ADDS 200000000L
#define NODES 8

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static atomic_int stop;
static long renders;

static void *scraper(void *m) {
        spate_buf_t b = { 0 };
        while (!atomic_load(&stop)) {
                b.len = 0;
                spate_metrics_render(m, &b);
                renders++;
        }
        spate_buf_free(&b);
        return NULL;
}

/* ns per update over the in/out counters of NODES nodes, round robin. */
static double adds(spate_metric_t **c) {
        double t0 = now();
        for (long i = 0; i < ADDS; i++)
                spate_metric_add(c[i & (2 * NODES - 1)], 1);
        return (now() - t0) * 1e9 / (double)ADDS;
}

int main(void) {
        spate_metrics_t *m = spate_metrics_new();
        spate_metric_t *c[2 * NODES];
        char name[32], part[16];
        for (int i = 0; i < NODES; i++) {
                snprintf(name, sizeof(name), "node%d", i);
                c[2 * i] = spate_metrics_counter(m, "spate_node_records_in_total", "in", "node", name, NULL);
                c[2 * i + 1] = spate_metrics_counter(m, "spate_node_records_out_total", "out", "node", name, NULL);
        }
        /* The rest of a flagship instance: lag and restore series of 12 + 8 partitions, a histogram. */
        static const double b[] = { 0.001, 0.01, 0.1, 1, 10 };
        spate_histogram_observe(spate_metrics_histogram(m, "spate_commit_duration_seconds", "c", b, 5, NULL), 0.02);
        for (int p = 0; p < 20; p++) {
                snprintf(part, sizeof(part), "%d", p);
                spate_metric_set(spate_metrics_gauge(m, "spate_consumer_lag_records", "lag", "topic", "t",
                                                     "partition", part, NULL), p);
                spate_metric_set(spate_metrics_gauge(m, "spate_restore_duration_seconds", "d", "topic", "t",
                                                     "partition", part, NULL), 0.5);
                spate_metric_set(spate_metrics_gauge(m, "spate_restore_remaining_records", "r", "topic", "t",
                                                     "partition", part, NULL), 0);
        }
        double quiet = adds(c);
        pthread_t th;
        if (pthread_create(&th, NULL, scraper, m))
                return 1;
        double busy = adds(c);
        atomic_store(&stop, 1);
        pthread_join(th, NULL);
        uint64_t total = 0;
        for (int i = 0; i < 2 * NODES; i++)
                total += spate_metric_get(c[i]);
        spate_buf_t out = { 0 };
        double t0 = now();
        for (int i = 0; i < 10000; i++) {
                out.len = 0;
                spate_metrics_render(m, &out);
        }
        double render_us = (now() - t0) * 1e6 / 10000;
        printf("# %llu updates counted (want %ld); %ld renders by the scraping thread meanwhile; a render is %zu bytes\n",
               (unsigned long long)total, 2 * ADDS, renders, out.len);
        printf("metrics: add %.2f ns, add while scraped %.2f ns, render %.1f us\n", quiet, busy, render_us);
        spate_buf_free(&out);
        spate_metrics_destroy(m);
        return total == (uint64_t)(2 * ADDS) ? 0 : 1;
}
