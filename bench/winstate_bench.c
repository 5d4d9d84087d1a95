/* winstate_bench.c - window state in memory: heap bytes per live key and
 * records/s for 1,000,000 groups with one tumbling window each (count and
 * sum, as bench/restore.yaml), then the restore path: every entry encoded
 * and loaded back into an empty state with spate_winstate_load.
 *
 * usage: winstate_bench [keys] [corrections]
 * With `corrections`, dedupe_by is on: each record has its own id, so every
 * window also keeps its ids' table (the cost of corrections: replace).
 * The last line is "winstate: N keys, B heap bytes/key, add N/s, load N/s". */
#include "../operators/window/winstate.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const spate_agg_fn_t fns[] = { SPATE_AGG_COUNT, SPATE_AGG_SUM };

static double now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t heap_used(void) {
        return mallinfo2().uordblks;
}

typedef struct {
        const spate_winconf_t *conf;
        const spate_winstate_t *ws;
        spate_buf_t keys, vals;  /* every entry's key and value, back to back */
        size_t *klen, *vlen, n;
} dump_t;

static int dump_entry(void *opaque, const spate_wgroup_t *g, int bucket, spate_went_t *e) {
        dump_t *d = opaque;
        char key[SPATE_WENT_KEY_MAX(g->klen)];
        size_t before = d->vals.len;

        d->klen[d->n] = spate_went_key(g->key, g->klen, bucket, e->start, key);
        spate_buf_put(&d->keys, key, d->klen[d->n]);
        if (spate_went_encode_ids(d->conf, e, bucket ? NULL : spate_winstate_ids(d->ws, g, e), &d->vals))
                return -1;
        d->vlen[d->n++] = d->vals.len - before;
        return 0;
}

int main(int argc, char **argv) {
        long n = argc > 1 ? atol(argv[1]) : 1000000;
        int corr = argc > 2 && !strcmp(argv[2], "corrections");
        spate_winconf_t conf = { { SPATE_WINDOW_TUMBLING, 3600000, 3600000, 0, 3600000000 },
                                 fns, 2, 3600000 + 3600000000, 1, NULL, SPATE_FILL_NONE, 0,
                                 corr ? SPATE_CORR_REPLACE : SPATE_CORR_NONE };
        dump_t d = { &conf, NULL, { 0 }, { 0 }, malloc((size_t)n * sizeof(size_t)),
                     malloc((size_t)n * sizeof(size_t)), 0 };
        char err[256], group[32], id[32];
        spate_val_t vals[2];
        size_t h0 = heap_used(), h1;
        double t0, t_add, t_load;

        spate_winstate_t *ws = spate_winstate_new(&conf);
        t0 = now();
        for (long i = 0; i < n; i++) {
                /* Keys in a scattered order, as a hash partitioner gives them. */
                long k = (i * 7919) % n;
                spate_wrec_t r = { group, (size_t)snprintf(group, sizeof(group), "k%07ld", k),
                                   1700000000000 + i % 3600000, vals, { 0, 0, i }, INT64_MIN, id,
                                   corr ? (size_t)snprintf(id, sizeof(id), "r%ld", i) : 0 };
                vals[0] = vals[1] = (spate_val_t){ .type = SPATE_VAL_NUM, .num = (double)(i % 100) };
                if (spate_winstate_add(ws, &r)) {
                        fprintf(stderr, "winstate_bench: add failed\n");
                        return 1;
                }
        }
        t_add = now() - t0;
        spate_winstate_clean(ws);
        h1 = heap_used();
        printf("# %llu windows in %zu groups: %.0f heap bytes/key (hash table %zu slots)\n",
               (unsigned long long)ws->nwindows, ws->ngroups, (double)(h1 - h0) / (double)n, ws->cap);
        d.ws = ws;
        if (spate_winstate_each(ws, dump_entry, &d))
                return 1;
        spate_winstate_free(ws);

        ws = spate_winstate_new(&conf);
        t0 = now();
        size_t ko = 0, vo = 0;
        for (size_t i = 0; i < d.n; i++) {
                if (spate_winstate_load(ws, d.keys.data + ko, d.klen[i], d.vals.data + vo, d.vlen[i], err,
                                        sizeof(err))) {
                        fprintf(stderr, "winstate_bench: load: %s\n", err);
                        return 1;
                }
                ko += d.klen[i];
                vo += d.vlen[i];
        }
        t_load = now() - t0;
        printf("winstate%s: %ld keys, %.0f heap bytes/key, add %.0f/s, load %.0f/s\n", corr ? " (corrections)" : "", n,
               (double)(h1 - h0) / (double)n, (double)n / t_add, (double)d.n / t_load);
        spate_winstate_free(ws);
        spate_buf_free(&d.keys);
        spate_buf_free(&d.vals);
        free(d.klen);
        free(d.vlen);
        return 0;
}
