/* metrics.c - the metrics registry (metrics.h): families of labelled series,
 * registered under a mutex, rendered in Prometheus's text format 0.0.4. */
#include "metrics.h"
#include "../util/mem.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { M_COUNTER, M_GAUGE, M_HISTOGRAM } mtype_t;

typedef struct series {
        char *labels;              /* rendered: k1="v1",k2="v2" (empty for none) */
        void *cell;                /* spate_metric_t or spate_histogram_t, owned */
} series_t;

typedef struct family {
        char *name, *help;
        mtype_t type;
        series_t *series;
        int nseries;
} family_t;

struct spate_metrics {
        pthread_mutex_t lock;
        family_t *families;
        int nfamilies;
};

/* A registry of a few hundred series: bookkeeping memory (mem.h). */
spate_metrics_t *spate_metrics_new(void) {
        spate_metrics_t *m = spate_xcalloc(1, sizeof(*m));
        pthread_mutex_init(&m->lock, NULL);
        return m;
}

static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static spate_metrics_t *default_registry;

static void default_init(void) {
        default_registry = spate_metrics_new();
}

spate_metrics_t *spate_metrics_default(void) {
        pthread_once(&default_once, default_init);
        return default_registry;
}

void spate_metrics_destroy(spate_metrics_t *m) {
        if (!m)
                return;
        for (int i = 0; i < m->nfamilies; i++) {
                family_t *f = &m->families[i];
                for (int k = 0; k < f->nseries; k++) {
                        free(f->series[k].labels);
                        free(f->series[k].cell);
                }
                free(f->series);
                free(f->name);
                free(f->help);
        }
        free(m->families);
        pthread_mutex_destroy(&m->lock);
        free(m);
}

/* Label values escaped as the text format wants: backslash, quote, newline. */
static void put_escaped(spate_buf_t *b, const char *s) {
        for (; *s; s++) {
                if (*s == '\\' || *s == '"')
                        spate_buf_putc(b, '\\');
                if (*s == '\n') {
                        spate_buf_put(b, "\\n", 2);
                        continue;
                }
                spate_buf_putc(b, *s);
        }
}

static char *render_labels(va_list ap) {
        spate_buf_t b = { 0 };
        const char *k, *v;
        while ((k = va_arg(ap, const char *)) && (v = va_arg(ap, const char *))) {
                if (b.len)
                        spate_buf_putc(&b, ',');
                spate_buf_put(&b, k, strlen(k));
                spate_buf_put(&b, "=\"", 2);
                put_escaped(&b, v);
                spate_buf_putc(&b, '"');
        }
        spate_buf_putc(&b, '\0');
        return b.data;
}

static family_t *family(spate_metrics_t *m, const char *name, const char *help, mtype_t type) {
        for (int i = 0; i < m->nfamilies; i++)
                if (!strcmp(m->families[i].name, name))
                        return &m->families[i];
        m->families = spate_xrealloc(m->families, sizeof(*m->families) * (size_t)(m->nfamilies + 1));
        m->families[m->nfamilies] = (family_t){ spate_xstrdup(name), spate_xstrdup(help), type, NULL, 0 };
        return &m->families[m->nfamilies++];
}

/* The cell of name{labels}: a zeroed cell of `size` bytes made if new. */
static void *lookup(spate_metrics_t *m, const char *name, const char *help, mtype_t type,
                    size_t size, va_list ap) {
        char *labels = render_labels(ap);
        void *cell = NULL;
        pthread_mutex_lock(&m->lock);
        family_t *f = family(m, name, help, type);
        for (int i = 0; i < f->nseries && !cell; i++)
                if (!strcmp(f->series[i].labels, labels))
                        cell = f->series[i].cell;
        if (!cell) {
                cell = spate_xcalloc(1, size);
                f->series = spate_xrealloc(f->series, sizeof(*f->series) * (size_t)(f->nseries + 1));
                f->series[f->nseries++] = (series_t){ labels, cell };
                labels = NULL;
        }
        pthread_mutex_unlock(&m->lock);
        free(labels);
        return cell;
}

spate_metric_t *spate_metrics_counter(spate_metrics_t *m, const char *name, const char *help, ...) {
        va_list ap;
        va_start(ap, help);
        spate_metric_t *c = lookup(m, name, help, M_COUNTER, sizeof(spate_metric_t), ap);
        va_end(ap);
        return c;
}

spate_metric_t *spate_metrics_gauge(spate_metrics_t *m, const char *name, const char *help, ...) {
        va_list ap;
        va_start(ap, help);
        spate_metric_t *g = lookup(m, name, help, M_GAUGE, sizeof(spate_metric_t), ap);
        va_end(ap);
        return g;
}

spate_histogram_t *spate_metrics_histogram(spate_metrics_t *m, const char *name, const char *help,
                                           const double *bounds, int nbounds, ...) {
        va_list ap;
        va_start(ap, nbounds);
        spate_histogram_t *h = lookup(m, name, help, M_HISTOGRAM, sizeof(spate_histogram_t), ap);
        va_end(ap);
        if (nbounds > SPATE_HIST_MAX)
                nbounds = SPATE_HIST_MAX;
        pthread_mutex_lock(&m->lock);
        if (!h->nbounds) {
                memcpy(h->bounds, bounds, sizeof(*bounds) * (size_t)nbounds);
                h->nbounds = nbounds;
        }
        pthread_mutex_unlock(&m->lock);
        return h;
}

static void add_double(_Atomic uint64_t *cell, double d) {
        uint64_t bits = atomic_load_explicit(cell, memory_order_relaxed);
        double v;
        memcpy(&v, &bits, sizeof(v));
        v += d;
        memcpy(&bits, &v, sizeof(bits));
        atomic_store_explicit(cell, bits, memory_order_relaxed);
}

void spate_histogram_observe(spate_histogram_t *h, double v) {
        int i = 0;
        while (i < h->nbounds && v > h->bounds[i])
                i++;
        atomic_store_explicit(&h->buckets[i], atomic_load_explicit(&h->buckets[i], memory_order_relaxed) + 1,
                              memory_order_relaxed);
        add_double(&h->sum, v);
        atomic_store_explicit(&h->count, atomic_load_explicit(&h->count, memory_order_relaxed) + 1,
                              memory_order_relaxed);
}

/* The shortest of %.15g and %.17g that reads back as v (0.0025, not
 * 0.0025000000000000001). */
static int shortest(char *out, size_t size, double v) {
        int n = snprintf(out, size, "%.15g", v);
        return strtod(out, NULL) == v ? n : snprintf(out, size, "%.17g", v);
}

/* Floats as the text format spells them (Go's ParseFloat): NaN, +Inf, -Inf. */
static void put_double(spate_buf_t *b, double v) {
        char num[40];
        int n;
        if (isnan(v))
                n = snprintf(num, sizeof(num), "NaN");
        else if (isinf(v))
                n = snprintf(num, sizeof(num), v > 0 ? "+Inf" : "-Inf");
        else
                n = shortest(num, sizeof(num), v);
        spate_buf_put(b, num, (size_t)n);
}

static void put_u64(spate_buf_t *b, uint64_t v) {
        char num[24];
        spate_buf_put(b, num, (size_t)snprintf(num, sizeof(num), "%llu", (unsigned long long)v));
}

/* name[suffix]{labels[,extra]} */
static void put_name(spate_buf_t *b, const char *name, const char *suffix, const char *labels,
                     const char *extra) {
        spate_buf_put(b, name, strlen(name));
        spate_buf_put(b, suffix, strlen(suffix));
        if (*labels || extra) {
                spate_buf_putc(b, '{');
                spate_buf_put(b, labels, strlen(labels));
                if (*labels && extra)
                        spate_buf_putc(b, ',');
                if (extra)
                        spate_buf_put(b, extra, strlen(extra));
                spate_buf_putc(b, '}');
        }
        spate_buf_putc(b, ' ');
}

static void render_histogram(spate_buf_t *b, const char *name, const series_t *s) {
        spate_histogram_t *h = s->cell;
        uint64_t cum = 0, sumbits = atomic_load_explicit(&h->sum, memory_order_relaxed);
        char le[48];
        double sum;
        for (int i = 0; i <= h->nbounds; i++) {
                cum += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
                if (i < h->nbounds)
                {
                        char num[32];
                        shortest(num, sizeof(num), h->bounds[i]);
                        snprintf(le, sizeof(le), "le=\"%s\"", num);
                }
                else
                        snprintf(le, sizeof(le), "le=\"+Inf\"");
                put_name(b, name, "_bucket", s->labels, le);
                put_u64(b, cum);
                spate_buf_putc(b, '\n');
        }
        memcpy(&sum, &sumbits, sizeof(sum));
        put_name(b, name, "_sum", s->labels, NULL);
        put_double(b, sum);
        spate_buf_putc(b, '\n');
        /* The count is the +Inf bucket's, read once, so the two never disagree. */
        put_name(b, name, "_count", s->labels, NULL);
        put_u64(b, cum);
        spate_buf_putc(b, '\n');
}

void spate_metrics_render(spate_metrics_t *m, spate_buf_t *out) {
        static const char *const types[] = { "counter", "gauge", "histogram" };
        pthread_mutex_lock(&m->lock);
        for (int i = 0; i < m->nfamilies; i++) {
                const family_t *f = &m->families[i];
                spate_buf_put(out, "# HELP ", 7);
                spate_buf_put(out, f->name, strlen(f->name));
                spate_buf_putc(out, ' ');
                for (const char *p = f->help; *p; p++) {   /* help escapes \ and newline only */
                        if (*p == '\\' || *p == '\n')
                                spate_buf_put(out, *p == '\\' ? "\\\\" : "\\n", 2);
                        else
                                spate_buf_putc(out, *p);
                }
                spate_buf_put(out, "\n# TYPE ", 8);
                spate_buf_put(out, f->name, strlen(f->name));
                spate_buf_putc(out, ' ');
                spate_buf_put(out, types[f->type], strlen(types[f->type]));
                spate_buf_putc(out, '\n');
                for (int k = 0; k < f->nseries; k++) {
                        const series_t *s = &f->series[k];
                        if (f->type == M_HISTOGRAM) {
                                render_histogram(out, f->name, s);
                                continue;
                        }
                        put_name(out, f->name, "", s->labels, NULL);
                        if (f->type == M_COUNTER)
                                put_u64(out, spate_metric_get(s->cell));
                        else
                                put_double(out, spate_metric_value(s->cell));
                        spate_buf_putc(out, '\n');
                }
        }
        pthread_mutex_unlock(&m->lock);
}

/* First match wins; the texts are those of the operators' spate_ctx_fail()
 * calls and http_poll's dead letters. */
static const struct {
        const char *needle, *cls;
} reason_classes[] = {
        { "late:", "late" },
        { "HTTP ", "http" },
        { "out of memory", "resource" },
        { "too large", "resource" },
        { "more than", "resource" },
        { "not assigned", "resource" },
        { "malformed", "parse" },
        { "JSON", "parse" },
        { "Avro", "parse" },
        { "avro", "parse" },
        { "no region", "missing" },
        { "no such", "missing" },
        { "missing", "missing" },
        { ", got ", "type" },
        { ", not a", "type" },
        { "is null", "type" },
        { "parse", "parse" },
        { "invalid", "parse" },
        { "expected", "parse" },
};

const char *spate_metrics_reason_class(const char *reason) {
        for (size_t i = 0; i < sizeof(reason_classes) / sizeof(reason_classes[0]); i++)
                if (strstr(reason, reason_classes[i].needle))
                        return reason_classes[i].cls;
        return "other";
}
