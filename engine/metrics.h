/* metrics.h - a small registry of Prometheus metrics: counters, gauges and
 * histograms that the engine and nodes register once and update on the hot
 * path with plain stores, rendered in the text exposition format (0.0.4) by
 * whoever serves /metrics (cli/http_server.c).
 *
 * Threads: a series has one writing thread (the engine's, as a rule). An
 * update is a relaxed atomic load and store - on x86-64 and arm64 the same
 * instructions as a plain increment - so a reader on another thread sees
 * whole values without a lock or a locked instruction on the hot path.
 * Registration and rendering take the registry's mutex. */
#ifndef SPATE_METRICS_H
#define SPATE_METRICS_H

#include "../util/buf.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

typedef struct spate_metrics spate_metrics_t;

/* One series of a counter (an integer) or a gauge (a double's bits). */
typedef struct spate_metric {
        _Atomic uint64_t v;
} spate_metric_t;

#define SPATE_HIST_MAX 16

/* One histogram series: per-bucket counts (not cumulative), sum and count. */
typedef struct spate_histogram {
        int nbounds;
        double bounds[SPATE_HIST_MAX];
        _Atomic uint64_t buckets[SPATE_HIST_MAX + 1];   /* the last one is +Inf */
        _Atomic uint64_t sum;                           /* a double's bits */
        _Atomic uint64_t count;
} spate_histogram_t;

/* The process's registry, created on first use: what `spate run` serves. */
spate_metrics_t *spate_metrics_default(void);
/* A registry of one's own (unit tests); the caller frees it with destroy(). */
spate_metrics_t *spate_metrics_new(void);
void spate_metrics_destroy(spate_metrics_t *m);

/* The series name{labels...} of a family, registered on first use; the
 * variadic part is label name/value pairs ending with NULL. The family's help
 * and type are those of its first registration; registering the same name and
 * labels again returns the same series. The registry owns the series, which
 * stays valid until spate_metrics_destroy(). Names follow Prometheus
 * conventions ([a-zA-Z_:][a-zA-Z0-9_:]*, units in the name, _total for
 * counters); label values are escaped when rendered. */
spate_metric_t *spate_metrics_counter(spate_metrics_t *m, const char *name, const char *help, ...)
        __attribute__((sentinel));
spate_metric_t *spate_metrics_gauge(spate_metrics_t *m, const char *name, const char *help, ...)
        __attribute__((sentinel));
/* bounds: nbounds (at most SPATE_HIST_MAX) increasing upper bounds, copied. */
spate_histogram_t *spate_metrics_histogram(spate_metrics_t *m, const char *name, const char *help,
                                           const double *bounds, int nbounds, ...)
        __attribute__((sentinel));

/* Appends every family in registration order, in the text format, to out
 * (which the caller owns). */
void spate_metrics_render(spate_metrics_t *m, spate_buf_t *out);

/* Bounded reason classes for dead-lettered records, so that a label never
 * carries free text: "late", "type" (a value of the wrong type), "missing"
 * (no such field or region), "parse" (bad JSON, Avro or expression input),
 * "http" (an endpoint's error answer), "resource" (out of memory, too large,
 * partition bounds) or "other". */
const char *spate_metrics_reason_class(const char *reason);

static inline void spate_metric_add(spate_metric_t *c, uint64_t n) {
        atomic_store_explicit(&c->v, atomic_load_explicit(&c->v, memory_order_relaxed) + n,
                              memory_order_relaxed);
}

static inline uint64_t spate_metric_get(spate_metric_t *c) {
        return atomic_load_explicit(&c->v, memory_order_relaxed);
}

static inline void spate_metric_set(spate_metric_t *g, double v) {
        uint64_t bits;
        memcpy(&bits, &v, sizeof(bits));
        atomic_store_explicit(&g->v, bits, memory_order_relaxed);
}

static inline double spate_metric_value(spate_metric_t *g) {
        uint64_t bits = atomic_load_explicit(&g->v, memory_order_relaxed);
        double v;
        memcpy(&v, &bits, sizeof(v));
        return v;
}

void spate_histogram_observe(spate_histogram_t *h, double v);

#endif
