/* store_bench.c - state store throughput: writes 1,000,000 window states
 * (~60-byte encoded aggregates) in batches of 10,000, reads them back by key in
 * random order, and scans them all after a flush (a proxy for restore speed).
 *
 * usage: store_bench [states] [dir]
 * The last line is "store: put N/s, scan N/s"; "#" lines add the get rate. */
#include "../operators/window/agg.h"
#include "../state/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH 10000
#define WINDOWS_PER_KEY 10

static double now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The state of window i: count, sum, min, max and last over a few values. */
static int make_value(long i, char **buf, size_t *len) {
        static const spate_agg_fn_t fns[] = {
                SPATE_AGG_COUNT, SPATE_AGG_SUM, SPATE_AGG_MIN, SPATE_AGG_MAX, SPATE_AGG_LAST
        };
        spate_agg_state_t *st = spate_agg_states_new(fns, NULL, 5);
        char err[128];
        int rc;

        for (int j = 0; j < 3; j++) {
                spate_val_t v = { .type = SPATE_VAL_NUM, .num = (double)(i * 7 + j) / 3.0 };
                spate_agg_origin_t o = { i + j, (int32_t)(i % 12), i };
                for (int k = 0; k < 5; k++)
                        spate_agg_update(&st[k], &v, &o);
        }
        rc = spate_agg_state_encode(st, 5, buf, len, err, sizeof(err));
        spate_agg_states_free(st, 5);
        return rc;
}

static size_t make_key(long i, char *out) {
        char key[32];
        int klen = snprintf(key, sizeof(key), "user-%07ld", i / WINDOWS_PER_KEY);

        spate_winkey_encode(key, (size_t)klen, (i % WINDOWS_PER_KEY) * 60000 - 300000, out);
        return SPATE_WINKEY_SIZE(klen);
}

int main(int argc, char **argv) {
        long n = argc > 1 ? atol(argv[1]) : 1000000;
        char tmpl[] = "/tmp/spate-store-bench.XXXXXX", dir[64], err[512], key[64];
        spate_store_t *s;
        spate_store_cf_t *cf;
        spate_store_batch_t *b = spate_store_batch_new();
        double t0, put_s, get_s, scan_s;
        size_t vbytes = 0, klen, vlen;
        long found = 0, scanned = 0;
        char *val;

        if (argc > 2)
                snprintf(dir, sizeof(dir), "%s", argv[2]);
        else if (mkdtemp(tmpl))
                snprintf(dir, sizeof(dir), "%s/db", tmpl);
        else
                return perror("mkdtemp"), 1;
        if (spate_store_open(dir, 256, &s, err, sizeof(err)) ||
            spate_store_cf(s, "windows", &cf, err, sizeof(err))) {
                fprintf(stderr, "store_bench: %s\n", err);
                return 1;
        }

        t0 = now();
        for (long i = 0; i < n; i++) {
                klen = make_key(i, key);
                if (make_value(i, &val, &vlen))
                        return 1;
                vbytes += vlen;
                spate_store_batch_put(b, cf, key, klen, val, vlen);
                free(val);
                if (spate_store_batch_count(b) == BATCH || i == n - 1) {
                        if (spate_store_write(s, b, err, sizeof(err))) {
                                fprintf(stderr, "store_bench: %s\n", err);
                                return 1;
                        }
                        spate_store_batch_clear(b);
                }
        }
        put_s = now() - t0;

        /* Random point reads: the window operator's access on cache misses. */
        unsigned long long x = 88172645463325252ull;
        t0 = now();
        for (long i = 0; i < n; i++) {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                klen = make_key((long)(x % (unsigned long long)n), key);
                if (spate_store_get(cf, key, klen, &val, &vlen, err, sizeof(err)) == 0) {
                        found++;
                        free(val);
                }
        }
        get_s = now() - t0;

        if (spate_store_flush(s, err, sizeof(err)))
                fprintf(stderr, "store_bench: flush: %s\n", err);
        spate_store_iter_t *it;
        const char *k, *v;
        t0 = now();
        if (spate_store_iter_new(cf, NULL, 0, NULL, 0, &it, err, sizeof(err)) == 0) {
                while (spate_store_iter_next(it, &k, &klen, &v, &vlen, err, sizeof(err)) == 1)
                        scanned++;
                spate_store_iter_destroy(it);
        }
        scan_s = now() - t0;

        printf("# %ld states, %.1f value bytes on average, batches of %d, dir %s\n",
               n, (double)vbytes / (double)n, BATCH, dir);
        printf("# put %.2fs, get %.2fs (%ld found), scan %.2fs (%ld rows)\n",
               put_s, get_s, found, scan_s, scanned);
        printf("# random point reads: get %.0f/s\n", (double)n / get_s);
        printf("store: put %.0f/s, scan %.0f/s\n", (double)n / put_s, (double)scanned / scan_s);
        spate_store_batch_destroy(b);
        spate_store_close(s);
        if (argc <= 2 && spate_store_destroy_dir(dir, err, sizeof(err)) == 0)
                rmdir(tmpl);
        return found == n && scanned == n ? 0 : 1;
}
