/* expr_bench.c - ns per evaluation of typical topology expressions on one
 * decoded record (a One Call-like document with 61 minutely values).
 *
 *   make build/bench/expr_bench && build/bench/expr_bench [iterations]
 *
 * The arena is reset before every evaluation, as the engine does per record;
 * decoding is done once and not timed. */
#include "../expr/expr.h"
#include "../serde/json_scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *exprs[] = {
        "a * 2 + b > 3",
        "temp > 30 and city != 'x'",
        "current.rain.1h",
        "sum(minutely[*].precipitation)",
        "count_if(minutely[*].precipitation > 0)",
        "first_where(minutely[*].dt, minutely[*].precipitation > 0)",
        "round(mean(minutely[*].precipitation), 2)",
        "if(exists(current.rain), current.rain.1h, 0)",
        "concat(city, ':', round(temp, 1))",
        "iso(floor_time(ts(), 1h))",
};

static char *make_doc(void) {
        size_t cap = 8192, off = 0;
        char *buf = malloc(cap);
        if (!buf)
                return NULL;
        off += (size_t)snprintf(buf + off, cap - off,
                                "{\"a\": 1.5, \"b\": 2, \"temp\": 31.25, \"city\": \"Copenhagen\","
                                " \"current\": {\"temp\": 17.27, \"rain\": {\"1h\": 0.1}}, \"minutely\": [");
        for (int i = 0; i < 61; i++)
                off += (size_t)snprintf(buf + off, cap - off, "%s{\"dt\": %d, \"precipitation\": %g}",
                                        i ? ", " : "", 1631716020 + 60 * i, i < 20 ? 0 : 0.1 * (i % 7));
        snprintf(buf + off, cap - off, "]}");
        return buf;
}

static double now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
        long iters = argc > 1 ? atol(argv[1]) : 2000000;
        enum { N = sizeof(exprs) / sizeof(exprs[0]) };
        spate_shape_pool_t pool = { 0 };
        spate_expr_env_t env = { .pool = &pool, .input = spate_shape_new(&pool, 1), .file = "bench", .line = 1, .col = 1 };
        spate_expr_t *e[N];
        char err[256];
        for (int i = 0; i < N; i++) {
                if (!(e[i] = spate_expr_compile(exprs[i], &env, err, sizeof(err)))) {
                        fprintf(stderr, "expr_bench: %s\n", err);
                        return 1;
                }
        }
        char *doc = make_doc();
        spate_arena_t decoded, a;
        spate_arena_init(&decoded);
        spate_arena_init(&a);
        spate_record_t rec = { .key = "cph", .key_len = 3, .ts = 1631716020123LL };
        if (!doc || spate_json_decode(env.input, doc, strlen(doc), &decoded, &rec.value, err, sizeof(err))) {
                fprintf(stderr, "expr_bench: decode: %s\n", doc ? err : "out of memory");
                return 1;
        }
        printf("expr_bench: %ld evaluations each, arena reset per evaluation\n", iters);
        for (int i = 0; i < N; i++) {
                spate_value_t out;
                long errors = 0;
                /* Short scaled-down loop first: warms caches and the arena's chunks. */
                long scaled = strstr(exprs[i], "minutely") || strstr(exprs[i], "concat") ||
                              strstr(exprs[i], "iso") ? iters / 10 : iters;
                for (long k = 0; k < scaled / 10; k++) {
                        spate_arena_reset(&a);
                        errors += spate_expr_eval(e[i], &rec, &a, &out, err, sizeof(err)) != 0;
                }
                double t0 = now_ns();
                for (long k = 0; k < scaled; k++) {
                        spate_arena_reset(&a);
                        errors += spate_expr_eval(e[i], &rec, &a, &out, err, sizeof(err)) != 0;
                }
                double ns = (now_ns() - t0) / (double)scaled;
                printf("%8.1f ns/eval  %s%s\n", ns, exprs[i], errors ? "  (ERRORS)" : "");
                if (errors)
                        return 1;
        }
        for (int i = 0; i < N; i++)
                spate_expr_destroy(e[i]);
        spate_arena_destroy(&a);
        spate_arena_destroy(&decoded);
        spate_shape_pool_destroy(&pool);
        free(doc);
        return 0;
}
