/* test_window_evict.c - window state larger than memory (winstate.h:
 * Eviction), run by the test driver: thousands of keys under
 * `state_memory_mb: 1`, so that clean groups leave memory after each commit,
 * come back from RocksDB when a record (or a closing) needs them, and are
 * restored lazily after crashes. Tumbling windows are checked exactly
 * against a reference computed here; hopping, session and sliding windows,
 * and group_by, against the same run with the state in memory
 * (state_memory_mb: 4096: nothing evicted), output for output; and sessions
 * that merge across a restore whose changelog tail holds half of them; and
 * the bound: new keys arriving as fast as the engine takes them stay within
 * the share between commits (early commits), with few commits. */
#include "check.h"
#include "../driver/driver.h"
#include "../../operators/window/window_int.h"
#include "../../operators/window/winstate.h"
#include "../../util/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLOCK0 1000000
#define NREC 24000
#define NKEYS 6000
#define CHUNK 2000

/* Record i: key i % NKEYS (partition key % 2), time i / 4 ms (in order in
 * each partition, so nothing is late: 6 s of event time), value i % 97. */
static int rec_key(int i) { return i % NKEYS; }
static int64_t rec_time(int i) { return i / 4; }
static int rec_val(int i) { return i % 97; }

static spate_driver_t *driver_emit(const char *window, int memory_mb, int grouped, const char *emit) {
        char yaml[2048];
        snprintf(yaml, sizeof(yaml),
                 "application: ev\n"
                 "kafka:\n  bootstrap.servers: 127.0.0.1:1\n"
                 "settings:\n  state_memory_mb: %d\n"
                 "nodes:\n"
                 "  - name: in\n    type: kafka_source\n    topic: t.in\n    partitions: 2\n    time: t\n"
                 "  - name: win\n    type: window\n    from: in\n%s    emit: %s\n    partitions: 2\n%s"
                 "    aggregates:\n      count: count()\n      sum: sum(v)\n"
                 "  - name: out\n    type: kafka_sink\n    from: win\n    topic: t.out\n    partitions: 1\n",
                 memory_mb, window, emit, grouped ? "    group_by: g\n" : "");
        return spate_driver_new_or_bail(yaml, CLOCK0);
}

static spate_driver_t *driver(const char *window, int memory_mb, int grouped) {
        return driver_emit(window, memory_mb, grouped, "final");
}

static void pipe_range(spate_driver_t *d, int from, int to) {
        char k[32], v[128];
        for (int i = from; i < to; i++) {
                snprintf(k, sizeof(k), "key-%d", rec_key(i));
                snprintf(v, sizeof(v), "{\"g\":\"%s\",\"t\":%lld,\"v\":%d}", k, (long long)rec_time(i), rec_val(i));
                spate_driver_pipe(d, "t.in", rec_key(i) % 2, k, v, 0);
        }
}

static void commit(spate_driver_t *d, spate_driver_stage_t until, const char *what) {
        int rc = spate_driver_commit(d, until);
        CHECK(rc == 0, "%s: commit%s%s", what, rc ? ": " : "", rc ? spate_driver_ctx(d)->errstr : "");
}

/* --- a run's outputs: the last value of each key of t.out, sorted by key --- */

typedef struct {
        const char *key, *value;
        int64_t at;
} out_t;

static int out_cmp(const void *a, const void *b) {
        const out_t *x = a, *y = b;
        int c = strcmp(x->key, y->key);
        return c ? c : (x->at > y->at) - (x->at < y->at);
}

/* Keys and their last values (pointers into d's messages); *np of them. */
static out_t *finals(spate_driver_t *d, int *np) {
        int64_t n = spate_driver_count(d, "t.out", 0), m = 0;
        out_t *o = calloc((size_t)n + 1, sizeof(*o));
        for (int64_t i = 0; i < n; i++) {
                const spate_driver_msg_t *msg = spate_driver_msg(d, "t.out", 0, i);
                o[i] = (out_t){ msg->key, msg->value, i };
        }
        qsort(o, (size_t)n, sizeof(*o), out_cmp);
        for (int64_t i = 0; i < n; i++) {
                if (i + 1 < n && !strcmp(o[i].key, o[i + 1].key))
                        continue;
                o[m++] = o[i];
        }
        *np = (int)m;
        return o;
}

/* Feeds every record in chunks, a full commit after each; at chunk
 * `crash_at` (-1: none) the commit stops at `stage` and the instance is
 * killed (keeping its state directory or not) and restarted. Then end of
 * input. The driver, for its outputs. */
static spate_driver_t *run(const char *window, int memory_mb, int grouped, int crash_at,
                           spate_driver_stage_t stage, int keep, const char *what) {
        spate_driver_t *d = driver(window, memory_mb, grouped);
        char err[1024];
        for (int c = 0; c * CHUNK < NREC; c++) {
                pipe_range(d, c * CHUNK, (c + 1) * CHUNK);
                spate_driver_process(d);
                if (c == crash_at) {
                        commit(d, stage, what);
                        CHECK(spate_driver_crash(d, keep, err, sizeof(err)) == 0, "%s: crash: %s", what, err);
                        CHECK(spate_driver_assign(d) == 0, "%s: restore: %s", what, spate_driver_ctx(d)->errstr);
                        spate_driver_process(d);
                }
                commit(d, SPATE_DRIVER_COMMIT_ALL, what);
                spate_driver_process(d);  /* group_by: the task's half */
                spate_driver_punctuate(d);
                commit(d, SPATE_DRIVER_COMMIT_ALL, what);
        }
        CHECK(spate_driver_end_of_input(d, 200) == 0, "%s: end of input drains", what);
        CHECK(spate_driver_count(d, "ev-dlq", 0) == 0, "%s: no dead letters (%lld)", what,
              (long long)spate_driver_count(d, "ev-dlq", 0));
        return d;
}

/* Run d's final outputs equal want's, key for key. */
static void check_same(spate_driver_t *d, const out_t *want, int nwant, const char *what) {
        int n, bad = 0, first = -1;
        out_t *got = finals(d, &n);
        for (int i = 0; i < n && i < nwant; i++)
                if (strcmp(got[i].key, want[i].key) || !got[i].value != !want[i].value ||
                    (got[i].value && strcmp(got[i].value, want[i].value)))
                        if (bad++ == 0)
                                first = i;
        CHECK(n == nwant && !bad, "%s: %d windows, want %d; %d differ%s%s%s%s", what, n, nwant, bad,
              first >= 0 ? " (first: " : "", first >= 0 ? got[first].key : "",
              first >= 0 ? " = " : "", first >= 0 && got[first].value ? got[first].value : "");
        free(got);
}

/* Tumbling windows of 1 s: count and sum per key and second, from the
 * records alone, as t.out's final values in key order. */
static out_t *tumbling_ref(int *np, char **textp) {
        int nwin = NKEYS * 7, n = 0;
        int *count = calloc((size_t)nwin, sizeof(int)), *sum = calloc((size_t)nwin, sizeof(int));
        char *text = malloc((size_t)nwin * 160), *p = text;
        out_t *o = calloc((size_t)nwin, sizeof(*o));
        char iso[32];
        for (int i = 0; i < NREC; i++) {
                int w = rec_key(i) * 7 + (int)(rec_time(i) / 1000);
                count[w]++;
                sum[w] += rec_val(i);
        }
        for (int w = 0; w < nwin; w++) {
                if (!count[w])
                        continue;
                int64_t start = (w % 7) * 1000;
                spate_fmt_iso_ms(start, iso, sizeof(iso));
                o[n].key = p;
                p += sprintf(p, "key-%d@%s", w / 7, iso) + 1;
                o[n].value = p;
                p += sprintf(p, "{\"key\":\"key-%d\",\"window_start\":%lld,\"window_end\":%lld,\"count\":%d,"
                             "\"sum\":%d}", w / 7, (long long)start, (long long)start + 1000, count[w], sum[w]) + 1;
                n++;
        }
        qsort(o, (size_t)n, sizeof(*o), out_cmp);
        free(count);
        free(sum);
        *np = n;
        *textp = text;
        return o;
}

static const char *stage_name(spate_driver_stage_t s) {
        return s == SPATE_DRIVER_AFTER_FLUSH ? "after flush" : s == SPATE_DRIVER_AFTER_ACKS ? "after acks"
               : s == SPATE_DRIVER_AFTER_CHECKPOINT ? "after checkpoint" : "none";
}

/* Tumbling, direct input: the reference's windows under 1 MB, with and
 * without crashes at each step of a commit (state kept, or rebuilt from the
 * changelog). Groups were evicted and fetched back, the estimate stays near
 * the bound. */
static void test_tumbling(void) {
        const char *win = "    window: tumbling\n    size: 1s\n";
        char *text, what[160];
        int nref;
        out_t *ref = tumbling_ref(&nref, &text);
        const char *fetches = "spate_window_state_fetches_total{node=\"win\"} ";
        double f0 = spate_driver_metric(fetches);
        spate_driver_t *d = run(win, 1, 0, -1, SPATE_DRIVER_COMMIT_ALL, 1, "tumbling, 1 MB");
        double fetched = spate_driver_metric(fetches) - (f0 > 0 ? f0 : 0);
        CHECK(fetched >= NKEYS, "groups were read back from RocksDB: %.0f (of %d keys)", fetched, NKEYS);
        double bytes = spate_driver_metric("spate_store_cache_bytes{node=\"win\"} ");
        CHECK(bytes >= 0 && bytes <= 2 << 20, "spate_store_cache_bytes near state_memory_mb: %.0f", bytes);
        check_same(d, ref, nref, "tumbling, 1 MB, no crash");
        spate_driver_destroy(d);
        for (spate_driver_stage_t s = SPATE_DRIVER_AFTER_FLUSH; s <= SPATE_DRIVER_AFTER_CHECKPOINT; s++)
                for (int keep = 0; keep <= 1; keep++) {
                        snprintf(what, sizeof(what), "tumbling, 1 MB, crash %s at chunk 7, %s", stage_name(s),
                                 keep ? "state kept" : "state lost");
                        d = run(win, 1, 0, 7, s, keep, what);
                        check_same(d, ref, nref, what);
                        spate_driver_destroy(d);
                }
        free(ref);
        free(text);
}

/* The other window types and group_by: the same outputs as with the state
 * in memory, with a crash after the acknowledgements (state kept). */
static void test_types(void) {
        static const struct {
                const char *name, *yaml;
                int grouped;
        } cases[] = {
                { "hopping", "    window: hopping\n    size: 2s\n    advance: 1s\n", 0 },
                { "session", "    window: session\n    gap: 2s\n", 0 },
                { "sliding", "    window: sliding\n    size: 2s\n", 0 },
                { "tumbling group_by", "    window: tumbling\n    size: 1s\n", 1 },
        };
        char what[160];
        for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                int nwant;
                snprintf(what, sizeof(what), "%s, in memory", cases[i].name);
                spate_driver_t *mem = run(cases[i].yaml, 4096, cases[i].grouped, -1, SPATE_DRIVER_COMMIT_ALL, 1, what);
                out_t *want = finals(mem, &nwant);
                CHECK(nwant >= NKEYS, "%s: %d windows", what, nwant);
                snprintf(what, sizeof(what), "%s, 1 MB", cases[i].name);
                spate_driver_t *d = run(cases[i].yaml, 1, cases[i].grouped, -1, SPATE_DRIVER_COMMIT_ALL, 1, what);
                check_same(d, want, nwant, what);
                spate_driver_destroy(d);
                snprintf(what, sizeof(what), "%s, 1 MB, crash after acks at chunk 5", cases[i].name);
                d = run(cases[i].yaml, 1, cases[i].grouped, 5, SPATE_DRIVER_AFTER_ACKS, 1, what);
                check_same(d, want, nwant, what);
                spate_driver_destroy(d);
                free(want);
                spate_driver_destroy(mem);
        }
}

/* Sessions (gap 2 s, grace 10 s: none closes, emit: update) of NKEYS keys: a record at 0 s in each,
 * committed; one at 3 s (a second session), its commit cut by a crash after
 * the acknowledgements; then, after the restore, one at 1.5 s that merges
 * both. The restore must load the groups it emits again whole from RocksDB
 * (their first session was evicted): with only the tail's second session in
 * memory, the third record would not merge the first. */
static void test_session_restore(int memory_mb, out_t **wantp, int *nwantp, spate_driver_t **dp) {
        spate_driver_t *d = driver_emit("    window: session\n    gap: 2s\n    grace: 10s\n", memory_mb, 0, "update");
        const int64_t at[3] = { 0, 3000, 1500 };
        char k[32], v[128], err[1024], what[64];
        snprintf(what, sizeof(what), "sessions across a restore, %d MB", memory_mb);
        for (int r = 0; r < 3; r++) {
                for (int i = 0; i < NKEYS; i++) {
                        snprintf(k, sizeof(k), "key-%d", i);
                        snprintf(v, sizeof(v), "{\"g\":\"%s\",\"t\":%lld,\"v\":%d}", k, (long long)at[r], r + 1);
                        spate_driver_pipe(d, "t.in", i % 2, k, v, 0);
                }
                spate_driver_process(d);
                commit(d, r == 1 ? SPATE_DRIVER_AFTER_ACKS : SPATE_DRIVER_COMMIT_ALL, what);
                if (r == 1) {
                        CHECK(spate_driver_crash(d, 1, err, sizeof(err)) == 0, "%s: crash: %s", what, err);
                        CHECK(spate_driver_assign(d) == 0, "%s: restore: %s", what, spate_driver_ctx(d)->errstr);
                        spate_driver_process(d);
                        commit(d, SPATE_DRIVER_COMMIT_ALL, what);
                }
        }
        CHECK(spate_driver_end_of_input(d, 200) == 0, "%s: end of input drains", what);
        *wantp = finals(d, nwantp);
        *dp = d;
}

static void test_sessions_across_restore(void) {
        out_t *want, *got;
        int nwant, ngot, merged = 0;
        spate_driver_t *mem, *d;
        test_session_restore(4096, &want, &nwant, &mem);
        for (int i = 0; i < nwant; i++)
                merged += want[i].value && strstr(want[i].value, "\"window_start\":0,\"window_end\":3000,\"count\":3,");
        CHECK(merged == NKEYS, "in memory: every key's sessions merged into one of 3 records (%d)", merged);
        test_session_restore(1, &got, &ngot, &d);
        free(got);
        check_same(d, want, nwant, "sessions across a restore, 1 MB");
        spate_driver_destroy(d);
        free(want);
        spate_driver_destroy(mem);
}

/* The node's estimate: its tasks' ws->bytes. */
static size_t node_bytes(spate_driver_t *d, const char *name) {
        const spate_topology_t *t = spate_driver_topology(d);
        size_t bytes = 0;
        for (int i = 0; i < t->nnodes; i++) {
                const win_t *w = t->nodes[i]->ctx;
                if (strcmp(t->nodes[i]->name, name))
                        continue;
                for (int k = 0; k < w->ntasks; k++)
                        bytes += w->tasks[k] ? w->tasks[k]->ws->bytes : 0;
        }
        return bytes;
}

#define BOUND_KEYS 40000
#define BOUND_BATCH 128
#define BOUND_TICK 50  /* batches between punctuations */

/* BOUND_KEYS new keys, each once (nothing closes before the end of input),
 * under state_memory_mb: 1 (a 0.75 MB share: ~4,000 keys; all take ~10 MB),
 * fed as the engine does: batches, a punctuation every BOUND_TICK of them
 * (the engine's 100 ms tick at ~60k records/s), and a commit only when the
 * window asks for one. After every batch the estimate must be within the
 * share plus an eighth (the early commit's margin) plus one batch's growth
 * (the engine commits after its batch); a commit every batch would be a
 * collapse of throughput. The outputs: each key's window, counted once. */
static void test_bound(void) {
        spate_driver_t *d = driver("    window: tumbling\n    size: 1h\n    grace: 1000h\n", 1, 0);
        size_t share = spate_topology_cache_bytes(spate_driver_topology(d)), peak = 0, batch = 0;
        int batches = 0, commits = 0, n, bad = 0;
        char k[32], v[128];
        for (int i = 0; i < BOUND_KEYS; i++) {
                snprintf(k, sizeof(k), "key-%05d", i);
                snprintf(v, sizeof(v), "{\"g\":\"%s\",\"t\":%d,\"v\":%d}", k, i, rec_val(i));
                spate_driver_pipe(d, "t.in", i % 2, k, v, 0);
        }
        while (spate_driver_process_max(d, BOUND_BATCH) > 0) {
                size_t bytes = node_bytes(d, "win");
                if (!batch)
                        batch = bytes;
                peak = bytes > peak ? bytes : peak;
                if (++batches % BOUND_TICK == 0)
                        spate_driver_advance(d, 100);
                if (spate_driver_commit_asked(d)) {
                        commit(d, SPATE_DRIVER_COMMIT_ALL, "bound");
                        commits++;
                }
        }
        CHECK(peak <= share + share / 8 + batch,
              "the windows' estimate within the share: peak %zu bytes, share %zu + an eighth + a batch's %zu",
              peak, share, batch);
        CHECK(commits > 0 && commits <= batches / 2, "early commits: %d in %d batches", commits, batches);
        CHECK(spate_driver_end_of_input(d, 200) == 0, "bound: end of input drains");
        out_t *got = finals(d, &n);
        for (int i = 0; i < n; i++) {
                int key = atoi(got[i].key + 4);
                snprintf(v, sizeof(v), "{\"key\":\"key-%05d\",\"window_start\":0,\"window_end\":3600000,"
                         "\"count\":1,\"sum\":%d}", key, rec_val(key));
                bad += !got[i].value || strcmp(got[i].value, v);
        }
        CHECK(n == BOUND_KEYS && !bad, "bound: %d windows (want %d), %d with another value", n, BOUND_KEYS, bad);
        free(got);
        spate_driver_destroy(d);
}

int main(void) {
        test_bound();
        test_sessions_across_restore();
        test_tumbling();
        test_types();
        return CHECK_DONE();
}
