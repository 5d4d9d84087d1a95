/* test_metrics.c - the metrics registry: one series per name and labels,
 * the text format (HELP/TYPE, escaped labels, cumulative histogram buckets,
 * NaN/Inf spelling) and the bounded reason classes of dead letters. */
#include "check.h"
#include "../../engine/metrics.h"

#include <stdlib.h>
#include <string.h>

static char *render(spate_metrics_t *m) {
        spate_buf_t b = { 0 };
        spate_metrics_render(m, &b);
        spate_buf_putc(&b, '\0');
        return b.data;
}

static void test_series(void) {
        spate_metrics_t *m = spate_metrics_new();
        spate_metric_t *a = spate_metrics_counter(m, "x_total", "help", "node", "a", NULL);
        spate_metric_t *a2 = spate_metrics_counter(m, "x_total", "other help", "node", "a", NULL);
        spate_metric_t *b = spate_metrics_counter(m, "x_total", "help", "node", "b\"q\\\n", NULL);
        spate_metric_t *g = spate_metrics_gauge(m, "y_bytes", "a gauge", NULL);
        CHECK(a == a2 && a != b, "the same name and labels give the same series");
        spate_metric_add(a, 3);
        spate_metric_add(a2, 4);
        spate_metric_set(g, 0.25);
        char *t = render(m);
        CHECK_STR(t, "# HELP x_total help\n# TYPE x_total counter\nx_total{node=\"a\"} 7\n"
                  "x_total{node=\"b\\\"q\\\\\\n\"} 0\n# HELP y_bytes a gauge\n# TYPE y_bytes gauge\n"
                  "y_bytes 0.25\n", "text format with escaped label values");
        free(t);
        spate_metric_set(g, NAN);
        t = render(m);
        CHECK(strstr(t, "y_bytes NaN\n") != NULL, "NaN spelled as the format wants");
        free(t);
        spate_metrics_destroy(m);
}

static void test_histogram(void) {
        spate_metrics_t *m = spate_metrics_new();
        static const double bounds[] = { 0.01, 0.1, 1 };
        spate_histogram_t *h = spate_metrics_histogram(m, "d_seconds", "durations", bounds, 3, "k", "v", NULL);
        double obs[] = { 0.0078125, 0.0625, 0.5, 1, 2, 3 };   /* exact in binary */
        for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++)
                spate_histogram_observe(h, obs[i]);
        char *t = render(m);
        CHECK_STR(t, "# HELP d_seconds durations\n# TYPE d_seconds histogram\n"
                  "d_seconds_bucket{k=\"v\",le=\"0.01\"} 1\nd_seconds_bucket{k=\"v\",le=\"0.1\"} 2\n"
                  "d_seconds_bucket{k=\"v\",le=\"1\"} 4\nd_seconds_bucket{k=\"v\",le=\"+Inf\"} 6\n"
                  "d_seconds_sum{k=\"v\"} 6.5703125\nd_seconds_count{k=\"v\"} 6\n",
                  "cumulative buckets, le inclusive, sum and count");
        free(t);
        spate_metrics_destroy(m);
}

static void test_reasons(void) {
        static const char *const cases[][2] = {
                { "late: group 'r1' at 2023-07-22T04:26:40Z, stream time ...", "late" },
                { "malformed JSON at byte 1: expected a string key", "parse" },
                { "field 'temp': expected a number, got string", "type" },
                { "key 'id' is object, not a string, number or bool", "type" },
                { "no region contains lat 1 lon 2", "missing" },
                { "gave up after 5 attempts: HTTP 503 from http://x", "http" },
                { "combining: out of memory", "resource" },
                { "something nobody foresaw", "other" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                CHECK_STR(spate_metrics_reason_class(cases[i][0]), cases[i][1], cases[i][0]);
}

int main(void) {
        test_series();
        test_histogram();
        test_reasons();
        return CHECK_DONE();
}
