/* test_kv.c - the engine-owned key-value stores (state/kv.c) and their first
 * consumer, the `dedupe` node, run by the test driver: get/put/delete,
 * read-through after eviction under a 1 MB state_memory_mb, restores from
 * the local state and from the changelog alone, crashes at every step of a
 * commit (one in the middle of a flush), dedupe's outputs checked
 * against a reference computed here, and standbys' warm copies (also as a stale=ok query reads them). */
#include "check.h"
#include "../driver/driver.h"
#include "../../engine/iq.h"
#include "../../engine/node_state.h"
#include "../../state/kv.h"
#include "../../state/store.h"
#include "../../util/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLOCK0 1000000
#define CHANGELOG "drv-dd-seen-changelog"

/* t.in (`partitions` partitions) -> dedupe dd (key id, within 1 s of t, and
 * `dedupe` more lines of its mapping) -> t.out. */
static spate_driver_t *driver_with(const char *settings, int partitions, const char *dedupe) {
        char yaml[2048];
        snprintf(yaml, sizeof(yaml),
                 "application: drv\n"
                 "kafka:\n  bootstrap.servers: 127.0.0.1:1\n%s"
                 "nodes:\n"
                 "  - name: in\n    type: kafka_source\n    topic: t.in\n    partitions: %d\n    time: t\n"
                 "  - name: dd\n    type: dedupe\n    from: in\n    key: id\n    within: 1s\n%s"
                 "  - name: out\n    type: kafka_sink\n    from: dd\n    topic: t.out\n    partitions: 1\n",
                 settings ? settings : "", partitions, dedupe);
        return spate_driver_new_or_bail(yaml, CLOCK0);
}

static spate_driver_t *driver_of(const char *settings, int partitions) {
        return driver_with(settings, partitions, "");
}

static spate_driver_t *driver(const char *settings) {
        return driver_of(settings, 2);
}

static spate_node_t *node(spate_driver_t *d, const char *name) {
        return spate_topology_node(spate_driver_topology(d), name);
}

static spate_origin_t origin;

/* Input the store tests only pretend to read (kv_at()): a restored task
 * checks that its input partition reaches the offset it resumes from. */
static void filler(spate_driver_t *d) {
        for (int i = 0; i < 4; i++)
                for (int p = 0; p < 2; p++)
                        spate_driver_pipe(d, "t.in", p, "f", "{}", 0);
}

/* The store of partition p as process() would get it for a record at
 * `offset`: the return code of spate_ctx_kv(). */
static int kv_at(spate_driver_t *d, int32_t p, int64_t offset, spate_kv_t **kv) {
        spate_ctx_t *ctx = spate_driver_ctx(d);
        origin = (spate_origin_t){ .topic = "t.in", .partition = p, .offset = offset };
        ctx->origin = &origin;
        return spate_ctx_kv(ctx, node(d, "dd"), "seen", kv);
}

static void commit(spate_driver_t *d, spate_driver_stage_t until) {
        int rc = spate_driver_commit(d, until);
        CHECK(rc == 0, "commit%s%s", rc ? ": " : "", rc ? spate_driver_ctx(d)->errstr : "");
}

static void crash(spate_driver_t *d, int keep_state) {
        char err[512];
        int rc = spate_driver_crash(d, keep_state, err, sizeof(err));
        CHECK(rc == 0, "crash%s%s", rc ? ": " : "", rc ? err : "");
        rc = spate_driver_assign(d);
        CHECK(rc == 0, "restore%s%s", rc ? ": " : "", rc ? spate_driver_ctx(d)->errstr : "");
}

/* The value of key as a string, "(absent)" or "(error)". */
static const char *get(spate_kv_t *kv, const char *key) {
        static char out[256];
        const void *v;
        size_t vl;
        int rc = spate_kv_get(kv, key, strlen(key), &v, &vl);
        if (rc < 0)
                return "(error)";
        if (rc == 1)
                return "(absent)";
        snprintf(out, sizeof(out), "%.*s", (int)vl, (const char *)v);
        return out;
}

static void put(spate_kv_t *kv, const char *key, const char *val) {
        CHECK(spate_kv_put(kv, key, strlen(key), val, strlen(val)) == 0, "put %s=%s", key, val);
}

static int count_each(void *opaque, const void *key, size_t klen, const void *val, size_t vlen) {
        (void)key, (void)klen, (void)val, (void)vlen;
        ++*(int *)opaque;
        return 0;
}

static int live_keys(spate_kv_t *kv) {
        int n = 0;
        CHECK(spate_kv_each(kv, count_each, &n) == 0, "each");
        return n;
}

/* get/put/delete, the changelog frame, restores with and without local state. */
static void test_basic(void) {
        spate_driver_t *d = driver(NULL);
        spate_kv_t *kv;
        filler(d);
        CHECK(kv_at(d, 0, 0, &kv) == 0, "a fresh task takes offset 0");
        put(kv, "a", "1");
        put(kv, "b", "2");
        put(kv, "a", "3");
        CHECK(spate_kv_delete(kv, "b", 1) == 0, "delete b");
        CHECK_STR(get(kv, "a"), "3", "a after put, put");
        CHECK_STR(get(kv, "b"), "(absent)", "b after delete");
        CHECK_STR(get(kv, "c"), "(absent)", "c never written");
        spate_kv_set_stream_time(kv, 4242);
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        /* one record per key (updates coalesce), then the meta record */
        CHECK(spate_driver_count(d, CHANGELOG, 0) == 3, "changelog: a, b's tombstone, meta (%lld)",
              (long long)spate_driver_count(d, CHANGELOG, 0));
        CHECK(spate_driver_count(d, CHANGELOG, 1) == 0, "partition 1 untouched: nothing in its changelog");
        const spate_driver_msg_t *m = spate_driver_msg(d, CHANGELOG, 0, 1);
        CHECK(m && !m->value, "b's changelog record is a tombstone");

        crash(d, 1);
        CHECK(kv_at(d, 0, 0, &kv) == 1, "after a restore, offset 0 is in the state (a replay)");
        CHECK(kv_at(d, 0, 1, &kv) == 0, "offset 1 is new");
        CHECK_STR(get(kv, "a"), "3", "a from the local state");
        CHECK_STR(get(kv, "b"), "(absent)", "b from the local state");
        CHECK(spate_kv_stream_time(kv) == 4242, "stream time restored (%lld)", (long long)spate_kv_stream_time(kv));
        put(kv, "c", "x");
        commit(d, SPATE_DRIVER_COMMIT_ALL);

        crash(d, 0);
        CHECK(kv_at(d, 0, 1, &kv) == 1, "changelog only: offset 1 is in the state");
        CHECK(kv_at(d, 0, 2, &kv) == 0, "changelog only: offset 2 is new");
        CHECK_STR(get(kv, "a"), "3", "a from the changelog");
        CHECK_STR(get(kv, "b"), "(absent)", "b from the changelog");
        CHECK_STR(get(kv, "c"), "x", "c from the changelog");
        int live = live_keys(kv);
        CHECK(live == 2, "each: 2 live keys (%d)", live);
        spate_driver_destroy(d);
}

/* A partition revoked (after a commit, as the engine does) leaves nothing
 * in memory; assigned again, it restores from the local checkpoint. */
static void test_revoke(void) {
        spate_driver_t *d = driver(NULL);
        spate_ctx_t *ctx = spate_driver_ctx(d);
        spate_node_t *dd = node(d, "dd");
        spate_kv_t *kv;
        filler(d);
        kv_at(d, 1, 0, &kv);
        put(kv, "r", "kept");
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        spate_node_revoke(dd, "t.in", 1, ctx);
        CHECK(kv_at(d, 1, 1, &kv) == -1 && strstr(ctx->errstr, "not of an assigned partition"),
              "a revoked partition has no store: %s", ctx->errstr);
        CHECK(kv_at(d, 0, 0, &kv) == 0, "partition 0 is still assigned");
        spate_node_revoke(dd, "t.other", 0, ctx);  /* another topic: no effect */
        CHECK(kv_at(d, 0, 0, &kv) == 0, "revoking another topic's partition leaves the store");
        CHECK(spate_node_assign(dd, "t.in", 1, ctx) == 0, "assigned again");
        /* Its last write may be under way on the restore pipe's worker: the
         * task is the node's only once the rebalance's assignments complete. */
        CHECK(kv_at(d, 1, 0, &kv) == -1, "not visible before the assignments complete");
        CHECK(spate_node_assigned(dd, ctx) == 0, "assignments complete: %s", ctx->errstr);
        CHECK(kv_at(d, 1, 0, &kv) == 1 && kv_at(d, 1, 1, &kv) == 0, "assigned again: resumes at offset 1");
        CHECK_STR(get(kv, "r"), "kept", "assigned again: the local checkpoint");
        CHECK(spate_node_assign(dd, "t.in", 7, ctx) == -1 && strstr(ctx->errstr, "partition 7"),
              "a partition beyond the source's count fails: %s", ctx->errstr);
        spate_driver_destroy(d);
}

/* The pipelined restore (state/restore_pipe.h): four partitions restored
 * from their changelogs alone, each task's writes on the pipe's worker while
 * the next partition is read. Partition 0 has two commits of 40,000 keys
 * (more than a restore hands over at once, so its writes go in several
 * chunks), partition 2's last frame never got its meta record. The state of
 * every key, and the live keys, are checked against a reference built from
 * the committed writes alone. */
#define PIPE_PARTS 4
#define PIPE_KEYS 60000

typedef struct {
        int round, p, lo, hi;   /* keys k<lo> .. k<hi - 1> of partition p */
        const char *val;        /* "a": values "a<i>"; NULL: deleted */
} kvop_t;

static const kvop_t pipe_ops[] = {
        { 1, 0, 0, 40000, "a" }, { 1, 1, 0, 100, "a" }, { 1, 2, 0, 10, "a" }, { 1, 3, 0, 1000, "a" },
        { 2, 0, 20000, 60000, "b" }, { 2, 0, 0, 100, NULL }, { 2, 1, 50, 150, "b" },
        { 3, 2, 5, 15, "lost" },  /* flushed and acknowledged, never sealed */
};
#define NPIPE_OPS (int)(sizeof(pipe_ops) / sizeof(pipe_ops[0]))

/* The writes of one round (one commit) through the stores; the reference
 * takes them too when `committed`. */
static void pipe_round(spate_driver_t *d, int round, char ref[][PIPE_KEYS][16], int committed) {
        spate_kv_t *kv;
        char k[32], v[16];
        for (int i = 0; i < NPIPE_OPS; i++) {
                const kvop_t *o = &pipe_ops[i];
                if (o->round != round)
                        continue;
                CHECK(kv_at(d, o->p, round - 1, &kv) == 0, "round %d, partition %d", round, o->p);
                for (int j = o->lo; j < o->hi; j++) {
                        snprintf(k, sizeof(k), "k%d", j);
                        if (o->val)
                                snprintf(v, sizeof(v), "%s%d", o->val, j);
                        else
                                v[0] = '\0';
                        if (o->val)
                                spate_kv_put(kv, k, strlen(k), v, strlen(v));
                        else
                                spate_kv_delete(kv, k, strlen(k));
                        if (committed)
                                memcpy(ref[o->p][j], v, sizeof(v));
                }
        }
}

static void test_pipelined_restore(void) {
        static char ref[PIPE_PARTS][PIPE_KEYS][16];  /* "": absent */
        spate_driver_t *d = driver_of(NULL, PIPE_PARTS);
        spate_kv_t *kv;
        char k[32];
        for (int i = 0; i < 4; i++)
                for (int p = 0; p < PIPE_PARTS; p++)
                        spate_driver_pipe(d, "t.in", p, "f", "{}", 0);
        pipe_round(d, 1, ref, 1);
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        pipe_round(d, 2, ref, 1);
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        pipe_round(d, 3, ref, 0);
        commit(d, SPATE_DRIVER_AFTER_ACKS);
        crash(d, 0);
        for (int p = 0; p < PIPE_PARTS; p++) {
                int live = 0, wrong = 0;
                int64_t resume = p < 2 ? 2 : 1;  /* the input offset after the last sealed commit */
                size_t dirty;
                CHECK(kv_at(d, p, resume - 1, &kv) == 1 && kv_at(d, p, resume, &kv) == 0,
                      "partition %d resumes at offset %lld", p, (long long)resume);
                for (int j = 0; j < PIPE_KEYS; j++) {
                        const char *want = ref[p][j][0] ? ref[p][j] : "(absent)";
                        snprintf(k, sizeof(k), "k%d", j);
                        if (strcmp(get(kv, k), want) && wrong++ < 3)
                                CHECK(0, "partition %d key %s: %s, want %s", p, k, get(kv, k), want);
                        live += ref[p][j][0] != 0;
                }
                CHECK(wrong == 0, "partition %d: %d keys differ from the reference", p, wrong);
                spate_kv_cached(kv, &dirty);
                CHECK(dirty == (p == 2 ? 10u : 0u), "partition %d: %zu keys to write again (the frame "
                      "without its meta: 10)", p, dirty);
                CHECK(live_keys(kv) == live, "partition %d: %d live keys (reference %d)", p, live_keys(kv), live);
        }
        spate_driver_destroy(d);
}

/* 20,000 entries of ~130 bytes under state_memory_mb: 1 - dirty ones stay
 * until their commit, clean ones are evicted and read through. */
static void test_eviction(void) {
        spate_driver_t *d = driver("settings:\n  state_memory_mb: 1\n");
        spate_kv_t *kv;
        char key[32], val[128], want[128];
        size_t dirty;
        int bad = 0;
        const int n = 20000;
        filler(d);
        kv_at(d, 1, 0, &kv);
        for (int i = 0; i < n; i++) {
                snprintf(key, sizeof(key), "key-%d", i);
                snprintf(val, sizeof(val), "%0100d", i);
                if (spate_kv_put(kv, key, strlen(key), val, strlen(val)))
                        bad++;
        }
        CHECK(!bad, "20000 puts");
        CHECK(spate_kv_cached(kv, &dirty) == (size_t)n && dirty == (size_t)n,
              "over the bound, no dirty entry is evicted before its commit (%zu cached, %zu dirty)",
              spate_kv_cached(kv, NULL), dirty);
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        size_t cached = spate_kv_cached(kv, &dirty);
        CHECK(cached < (size_t)n / 2 && dirty == 0, "after the commit, clean entries are evicted to the "
              "bound (%zu of %d cached)", cached, n);
        double bytes = spate_driver_metric("spate_store_cache_bytes{node=\"dd\"} ");
        CHECK(bytes > 0 && bytes <= 1 << 20, "spate_store_cache_bytes within state_memory_mb: %.0f", bytes);
        const char *hits = "spate_store_cache_requests_total{node=\"dd\",result=\"hit\"} ";
        const char *misses = "spate_store_cache_requests_total{node=\"dd\",result=\"miss\"} ";
        double hit0 = spate_driver_metric(hits), miss0 = spate_driver_metric(misses);
        for (int i = 0; i < n; i++) {
                snprintf(key, sizeof(key), "key-%d", i);
                snprintf(want, sizeof(want), "%0100d", i);
                bad += strcmp(get(kv, key), want) != 0;
        }
        CHECK(!bad, "every value read back through RocksDB (%d wrong)", bad);
        double dhit = spate_driver_metric(hits) - hit0, dmiss = spate_driver_metric(misses) - miss0;
        CHECK(hit0 >= 0 && miss0 >= 0 && dhit + dmiss == n && dmiss >= n - (double)cached,
              "spate_store_cache_requests_total counts each read once, a miss for each key the "
              "cache did not hold (%.0f hits, %.0f misses, %zu were cached)", dhit, dmiss, cached);
        CHECK(spate_kv_cached(kv, NULL) < (size_t)n / 2, "reads keep the cache bounded (%zu)",
              spate_kv_cached(kv, NULL));
        for (int i = 0; i < n; i += 2) {
                snprintf(key, sizeof(key), "key-%d", i);
                spate_kv_delete(kv, key, strlen(key));
        }
        int live = live_keys(kv);
        CHECK(live == n / 2, "each: cache and RocksDB merged, deletes win (%d)", live);
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        crash(d, 0);
        kv_at(d, 1, 1, &kv);
        live = live_keys(kv);
        CHECK(live == n / 2, "restored from the changelog: %d live keys", live);
        snprintf(want, sizeof(want), "%0100d", 19999);
        CHECK_STR(get(kv, "key-19999"), want, "a value restored from the changelog");
        CHECK_STR(get(kv, "key-19998"), "(absent)", "a deleted key stays deleted");
        spate_driver_destroy(d);
}

/* A kill -9 in the middle of a flush: the changelog holds part of a commit
 * without its meta record. The restore ignores it and the next commit
 * writes those keys again, so that a restore from the changelog alone
 * (which reads the partial records too) still finds the committed value. */
static void test_crash_mid_flush(void) {
        spate_driver_t *d = driver(NULL);
        spate_kv_t *kv;
        filler(d);
        kv_at(d, 0, 0, &kv);
        put(kv, "k", "committed");
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        kv_at(d, 0, 1, &kv);
        put(kv, "k", "lost");
        put(kv, "j", "lost");
        commit(d, SPATE_DRIVER_AFTER_FLUSH);
        spate_driver_lose_unacked(d, 1);  /* k=lost reached the changelog; j and the meta did not */
        crash(d, 1);
        crash(d, 1);  /* twice before the repair: the restore's checkpoint stays before k=lost */
        CHECK(kv_at(d, 0, 1, &kv) == 0, "the offset of the lost commit is replayed");
        CHECK_STR(get(kv, "k"), "committed", "mid-flush crash, local state: k");
        CHECK_STR(get(kv, "j"), "(absent)", "mid-flush crash, local state: j");
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        crash(d, 0);
        kv_at(d, 0, 2, &kv);
        CHECK_STR(get(kv, "k"), "committed", "mid-flush crash, then the changelog alone: k");
        /* compaction keeps the rewrite, not k=lost (which alone would leave k absent) */
        spate_driver_compact(d, CHANGELOG);
        crash(d, 0);
        kv_at(d, 0, 2, &kv);
        CHECK_STR(get(kv, "k"), "committed", "mid-flush crash, then the compacted changelog alone: k");

        /* records acknowledged, frame not sealed: the outputs derived from it
         * may not be durable yet (node_state.h: seal), so it does not count */
        put(kv, "k", "unsealed");
        commit(d, SPATE_DRIVER_AFTER_ACKS);
        crash(d, 1);
        CHECK(kv_at(d, 0, 2, &kv) == 0, "before the seal, the offset is replayed");
        CHECK_STR(get(kv, "k"), "committed", "crash before the seal: k as committed");

        /* sealed and acknowledged, not checkpointed: the changelog tail has it */
        put(kv, "k", "acked");
        commit(d, SPATE_DRIVER_AFTER_SEAL);
        crash(d, 1);
        CHECK(kv_at(d, 0, 2, &kv) == 1, "after the seal's acknowledgements, the offset is in the state");
        CHECK_STR(get(kv, "k"), "acked", "crash after the seal: k from the changelog tail");
        spate_driver_destroy(d);
}

/* --- dedupe --- */

typedef struct {
        int p;
        const char *id;
        int64_t t;
} drec_t;

/* The reference: per partition, stream time S = max t so far; a record is a
 * repeat when its id passed at t0 in that partition and S < t0 + 1000. */
static int ref_passes(const drec_t *r, int n, int *pass) {
        int np = 0;
        for (int i = 0; i < n; i++) {
                int64_t s = INT64_MIN, t0 = INT64_MIN;
                for (int k = 0; k <= i; k++)
                        if (r[k].p == r[i].p && r[k].t > s)
                                s = r[k].t;
                for (int k = 0; k < i; k++)
                        if (pass[k] && r[k].p == r[i].p && !strcmp(r[k].id, r[i].id))
                                t0 = r[k].t;
                pass[i] = t0 == INT64_MIN || s >= t0 + 1000;
                np += pass[i];
        }
        return np;
}

static void pipe_drecs(spate_driver_t *d, const drec_t *r, int from, int to) {
        char v[128];
        for (int i = from; i < to; i++) {
                snprintf(v, sizeof(v), "{\"id\":\"%s\",\"t\":%lld,\"n\":%d}", r[i].id, (long long)r[i].t, i);
                spate_driver_pipe(d, "t.in", r[i].p, r[i].id, v, 0);
        }
}

/* t.out holds exactly the reference's passing records (at least once:
 * the same record twice is a replay; a compacted topic keeps one). */
static void check_out(spate_driver_t *d, const drec_t *r, int n, const int *pass, const char *what) {
        int64_t got = spate_driver_count(d, "t.out", 0);
        int missing = 0, extra = 0, distinct = 0;
        char v[128];
        for (int i = 0; i < n; i++) {
                int found = 0;
                snprintf(v, sizeof(v), "{\"id\":\"%s\",\"t\":%lld,\"n\":%d}", r[i].id, (long long)r[i].t, i);
                for (int64_t k = 0; k < got && !found; k++)
                        found = !strcmp(spate_driver_msg(d, "t.out", 0, k)->value, v);
                missing += pass[i] && !found;
                extra += !pass[i] && found;
                distinct += found;
        }
        CHECK(!missing && !extra, "%s: %d passing records missing, %d repeats passed (of %d records, "
              "%d distinct outputs)", what, missing, extra, n, distinct);
}

static void test_dedupe(void) {
        static const drec_t r[] = {
                { 0, "a", 100 }, { 0, "a", 200 }, { 1, "a", 150 },  /* same id, other partition: its own task */
                { 0, "b", 300 }, { 0, "a", 1099 },                   /* S 1099 < 100 + 1000: repeat */
                { 0, "c", 1100 }, { 0, "a", 1050 },                  /* S 1100: a expired, passes again */
                { 0, "a", 900 },                                     /* out of order: a passed at 1050 */
                { 1, "b", 5000 }, { 1, "a", 4000 }, { 1, "b", 5999 }, { 1, "b", 6000 },
        };
        int n = (int)(sizeof(r) / sizeof(r[0])), pass[16];
        int np = ref_passes(r, n, pass);
        CHECK(np == 8, "reference: 8 of 12 pass (%d)", np);
        spate_driver_t *d = driver(NULL);
        pipe_drecs(d, r, 0, n);
        spate_driver_process(d);
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        CHECK(spate_driver_count(d, "t.out", 0) == np, "%d records out (%lld)", np,
              (long long)spate_driver_count(d, "t.out", 0));
        check_out(d, r, n, pass, "dedupe");
        CHECK(spate_driver_count_all(d, "drv-dlq") == 0, "repeats are not dead-lettered");
        spate_driver_destroy(d);
}

/* 1000 ids, each three times in a row, over 30 s: purged entries make no
 * difference to the output, and the store stays small. */
static void test_purge(void) {
        enum { N = 3000 };
        static drec_t r[N];
        static char ids[N][12];  /* "i" and any int: -O1 checks the bound */
        static int pass[N];
        for (int i = 0; i < N; i++) {
                snprintf(ids[i], sizeof(ids[i]), "i%d", i / 3);
                r[i] = (drec_t){ (i / 3) % 2, ids[i], 10 * (int64_t)i };
        }
        int np = ref_passes(r, N, pass);
        spate_driver_t *d = driver(NULL);
        pipe_drecs(d, r, 0, N);
        spate_driver_process(d);
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        check_out(d, r, N, pass, "purge");
        CHECK(np == N / 3 && spate_driver_count(d, "t.out", 0) == np, "purge: %d records out", np);
        spate_kv_t *kv;
        kv_at(d, 0, N, &kv);
        int live = live_keys(kv);
        /* an id per 60 ms per partition, kept at most 1.5 s: 25 of partition 0's 500 */
        CHECK(live > 0 && live <= 26, "purge: %d keys left in partition 0's store", live);
        spate_driver_destroy(d);
}

/* The same input with a crash at every stage of a commit, in turn, with and
 * without the local state: the output is the reference's. */
static void test_dedupe_crash(void) {
        enum { N = 600 };
        static drec_t r[N];
        static char ids[N][12];
        static int pass[N];
        static const spate_driver_stage_t stages[] = { SPATE_DRIVER_AFTER_FLUSH, SPATE_DRIVER_AFTER_ACKS,
                                                       SPATE_DRIVER_AFTER_SEAL, SPATE_DRIVER_AFTER_CHECKPOINT };
        uint32_t seed = 7;
        for (int i = 0; i < N; i++) {
                seed = seed * 1103515245u + 12345u;
                snprintf(ids[i], sizeof(ids[i]), "m%u", (seed >> 16) % 120);
                r[i] = (drec_t){ (int)((seed >> 8) % 2), ids[i], 5 * (int64_t)i + (int64_t)((seed >> 4) % 300) };
        }
        ref_passes(r, N, pass);
        spate_driver_t *d = driver(NULL);
        int round = 0;
        for (int at = 0; at < N; round++) {
                int to = at + 50 < N ? at + 50 : N;
                pipe_drecs(d, r, at, to);
                spate_driver_process(d);
                if (round % 5 == 4) {
                        commit(d, SPATE_DRIVER_COMMIT_ALL);
                } else {
                        commit(d, stages[round % 4]);
                        if (stages[round % 4] == SPATE_DRIVER_AFTER_FLUSH)
                                spate_driver_lose_unacked(d, spate_driver_unacked(d) / 2);
                        crash(d, round % 2);
                        spate_driver_process(d);  /* the replay */
                        commit(d, SPATE_DRIVER_COMMIT_ALL);
                }
                at = to;
        }
        check_out(d, r, N, pass, "dedupe through crashes at every commit stage");
        spate_driver_destroy(d);
}

/* 1 when t.out's record k is the same as an earlier one (an output replayed). */
static int out_again(spate_driver_t *d, int64_t k) {
        const char *val = spate_driver_msg(d, "t.out", 0, k)->value;
        for (int64_t j = 0; j < k; j++)
                if (!strcmp(spate_driver_msg(d, "t.out", 0, j)->value, val))
                        return 1;
        return 0;
}

/* Records of t.out that are not a record out before. */
static int64_t distinct_out(spate_driver_t *d) {
        int64_t got = spate_driver_count(d, "t.out", 0), distinct = 0;
        for (int64_t k = 0; k < got; k++)
                distinct += !out_again(d, k);
        return distinct;
}

/* repartition: true - the copies of an id come in both partitions, and the
 * dedupe's tasks are the partitions of its own topic, drv-dd-repartition:
 * with `within` (1 s) longer than the input's time span, each id is out as
 * exactly one of its copies (the same record twice is an output replayed),
 * through a crash at every commit stage, half of the unacknowledged
 * messages lost at a flush (repartition messages among them, which the
 * replay writes again), with and without the local state. */
static void test_dedupe_repartition(void) {
        enum { N = 600, IDS = 150 };
        static const spate_driver_stage_t stages[] = { SPATE_DRIVER_AFTER_FLUSH, SPATE_DRIVER_AFTER_ACKS,
                                                       SPATE_DRIVER_AFTER_SEAL, SPATE_DRIVER_AFTER_CHECKPOINT };
        char v[128], ids[IDS][8];
        int copies[IDS] = { 0 }, out_n[IDS], wrong = 0, twice = 0, missing = 0, spread = 0, parts[IDS] = { 0 };
        spate_driver_t *d = driver_with(NULL, 2, "    repartition: true\n");
        uint32_t seed = 11;
        CHECK(spate_driver_partitions(d, "drv-dd-repartition") == 2, "its topic has the source's 2 partitions");
        for (int round = 0, i = 0; i < N; round++) {
                for (int to = i + 50; i < to; i++) {
                        seed = seed * 1103515245u + 12345u;
                        int id = (int)((seed >> 16) % IDS), p = (int)((seed >> 8) % 2);
                        snprintf(ids[id], sizeof(ids[id]), "m%d", id);
                        snprintf(v, sizeof(v), "{\"id\":\"m%d\",\"t\":%d,\"n\":%d}", id, 1000000 + i, i);
                        spate_driver_pipe(d, "t.in", p, ids[id], v, 0);
                        copies[id]++;
                        parts[id] |= 1 << p;
                }
                spate_driver_process(d);
                spate_driver_process(d);  /* what the first call wrote to the repartition topic */
                if (round % 5 == 4) {
                        commit(d, SPATE_DRIVER_COMMIT_ALL);
                        continue;
                }
                commit(d, stages[round % 4]);
                if (stages[round % 4] == SPATE_DRIVER_AFTER_FLUSH)
                        spate_driver_lose_unacked(d, spate_driver_unacked(d) / 2);
                crash(d, round % 2);
                spate_driver_process(d);  /* the replay */
                spate_driver_process(d);
                commit(d, SPATE_DRIVER_COMMIT_ALL);
        }
        spate_driver_process(d);
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        /* Per id, the distinct records out: each must be one of its copies. */
        int64_t got = spate_driver_count(d, "t.out", 0);
        for (int id = 0; id < IDS; id++) {
                out_n[id] = 0;
                spread += parts[id] == 3;
        }
        for (int64_t k = 0; k < got; k++) {
                const char *val = spate_driver_msg(d, "t.out", 0, k)->value;
                int id = -1;
                if (sscanf(val, "{\"id\":\"m%d\"", &id) != 1 || id < 0 || id >= IDS || !copies[id]) {
                        wrong++;
                        continue;
                }
                out_n[id] += !out_again(d, k);
        }
        for (int id = 0; id < IDS; id++) {
                missing += copies[id] && !out_n[id];
                twice += out_n[id] > 1;
        }
        CHECK(spread > IDS / 2, "%d ids have copies in both partitions", spread);
        CHECK(!wrong && !missing && !twice, "repartitioned dedupe through crashes: %d ids missing, %d out as two "
              "of their copies, %d outputs not a copy (%lld records out)", missing, twice, wrong, (long long)got);
        CHECK(spate_driver_count_all(d, "drv-dd-repartition") >= N, "the repartition topic holds every record "
              "(%lld for %d)", (long long)spate_driver_count_all(d, "drv-dd-repartition"), N);
        CHECK(spate_driver_count_all(d, "drv-dlq") == 0, "nothing dead-lettered");
        spate_driver_destroy(d);
}

/* repartition: true over source partitions far apart in event time (a
 * backlog): 300 ids 100 ms apart in partition 0, the same copies, same
 * times, in partition 1, which the driver reads after the whole of
 * partition 0 (30 s ahead, within: 1s). Each copy is judged against its own
 * partition's stream time, so every id is out once - a stream time per
 * task, pushed 30 s ahead by partition 0, would let all of partition 1's
 * copies through. Then partition 1 runs ahead: entries expire only at the
 * slower partition's time. */
static void test_dedupe_repartition_apart(void) {
        enum { IDS = 300 };
        char v[128], id[16];
        spate_driver_t *d = driver_with(NULL, 2, "    repartition: true\n");
        for (int p = 0; p < 2; p++)
                for (int i = 0; i < IDS; i++) {
                        snprintf(id, sizeof(id), "m%d", i);
                        snprintf(v, sizeof(v), "{\"id\":\"%s\",\"t\":%d,\"n\":%d}", id, 1000000 + 100 * i,
                                 p * IDS + i);
                        spate_driver_pipe(d, "t.in", p, id, v, 0);
                }
        spate_driver_process(d);
        spate_driver_process(d);
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        int64_t out = spate_driver_count(d, "t.out", 0);
        int from_p1 = 0;
        for (int64_t k = 0; k < out; k++)
                from_p1 += atoi(strstr(spate_driver_msg(d, "t.out", 0, k)->value, "\"n\":") + 4) >= IDS;
        CHECK(out == IDS && !from_p1, "partitions 30 s apart: %lld records out for %d ids, %d of them "
              "partition 1's copies", (long long)out, IDS, from_p1);
        /* Partition 1 alone moves on by 10 s: partition 0's time (the
         * smaller) holds the entries, so its late copies are still repeats. */
        snprintf(v, sizeof(v), "{\"id\":\"x\",\"t\":%d,\"n\":-1}", 1000000 + 100 * IDS + 10000);
        spate_driver_pipe(d, "t.in", 1, "x", v, 0);
        snprintf(v, sizeof(v), "{\"id\":\"m%d\",\"t\":%d,\"n\":-2}", IDS - 1, 1000000 + 100 * (IDS - 1));
        spate_driver_pipe(d, "t.in", 0, "m", v, 0);
        spate_driver_process(d);
        spate_driver_process(d);
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        CHECK(spate_driver_count(d, "t.out", 0) == IDS + 1, "x passes; the last id's late copy in partition 0 "
              "is a repeat (%lld out)", (long long)spate_driver_count(d, "t.out", 0));
        spate_driver_destroy(d);
}

/* The expired keys the dedupe 'dd' counted so far. */
static double dd_expired(void) {
        return spate_driver_metric("spate_dedupe_expired_total{node=\"dd\"}");
}

/* Ids i0..i1-1 in source partition p, at time t, or 1000 s + 100 ms * i
 * for t = 0. */
static void pipe_ids(spate_driver_t *d, int p, int i0, int i1, int t) {
        char v[128], id[16];
        for (int i = i0; i < i1; i++) {
                snprintf(id, sizeof(id), "m%d", i);
                snprintf(v, sizeof(v), "{\"id\":\"%s\",\"t\":%d,\"n\":%d}", id, t ? t : 1000000 + 100 * i, i);
                spate_driver_pipe(d, "t.in", p, id, v, 0);
        }
}

static void run_commit(spate_driver_t *d) {
        spate_driver_process(d);
        spate_driver_process(d);
        commit(d, SPATE_DRIVER_COMMIT_ALL);
}

/* repartition: true over 4 source partitions, 2 of them empty: their
 * writer marks them, at a commit, as read to their end with nothing to
 * send, to every task, once an assignment; the tasks then expire at the
 * time of the other two instead of never. The marks are restored with the
 * entries through a crash without local state. */
static void test_dedupe_repartition_empty(void) {
        spate_driver_t *d = driver_with(NULL, 4, "    repartition: true\n");
        double before = dd_expired();
        pipe_ids(d, 0, 0, 100, 0);
        pipe_ids(d, 1, 0, 100, 0);
        run_commit(d);
        CHECK(spate_driver_count_all(d, "drv-dd-repartition") == 204, "200 records and a mark of the 2 empty "
              "partitions to each of the 4 partitions of the topic (%lld messages)",
              (long long)spate_driver_count_all(d, "drv-dd-repartition"));
        CHECK(dd_expired() == before, "no expiry while partitions 2 and 3 are not heard of (%.0f)",
              dd_expired() - before);
        run_commit(d);
        CHECK(spate_driver_count_all(d, "drv-dd-repartition") == 204, "no mark again in the same assignment");
        CHECK(dd_expired() - before >= 80, "once the marks are read, ids over 1 s behind 1009.9 s expire "
              "(%.0f)", dd_expired() - before);
        crash(d, 0);
        /* 10 s later: ids 0..99 are more than `within` (1 s) behind. */
        pipe_ids(d, 0, 200, 300, 0);
        pipe_ids(d, 1, 200, 300, 0);
        run_commit(d);
        int64_t out = spate_driver_count(d, "t.out", 0), distinct = distinct_out(d);
        CHECK(distinct == 200, "each of 200 ids out once (%lld distinct of %lld)", (long long)distinct,
              (long long)out);
        CHECK(dd_expired() - before >= 100, "the first 100 ids expired after the crash too (%.0f keys "
              "expired)", dd_expired() - before);
        spate_driver_destroy(d);
}

/* One record of partition 1 (id "old" at 1000 s), ids 0..99 in partition
 * 0, a commit. */
static void old_then_ids(spate_driver_t *d) {
        spate_driver_pipe(d, "t.in", 1, "old", "{\"id\":\"old\",\"t\":1000000,\"n\":-1}", 0);
        pipe_ids(d, 0, 0, 100, 0);
        run_commit(d);
}

/* A mark lifts only a source partition the task has heard nothing of: one
 * record of partition 1 (id "old", 1000 s) reached the task of its key;
 * after a crash its writer marks partition 1 empty (nothing written since
 * its assignment). The other task then expires at partition 0's time; the
 * task of "old" still holds at 1000 s. */
static void test_dedupe_repartition_heard(void) {
        spate_driver_t *d = driver_with(NULL, 2, "    repartition: true\n");
        double before = dd_expired();
        int holder = (int)(spate_hash("old", 3) % 2), others = 0;
        old_then_ids(d);
        crash(d, 1);
        pipe_ids(d, 0, 200, 300, 1040000);
        run_commit(d);
        run_commit(d);
        for (int i = 0; i < 100; i++) {
                char id[16];
                others += (int)(spate_hash(id, (size_t)snprintf(id, sizeof(id), "m%d", i)) % 2) != holder;
        }
        CHECK(dd_expired() - before == others, "the %d first ids of the other task expired, none of the task "
              "that heard of partition 1 (%.0f keys expired)", others, dd_expired() - before);
        spate_driver_destroy(d);
}

/* expire_after_idle: 1m - partition 1 sent one record (1000 s) and went
 * quiet while partition 0 ran 30 s ahead: its time holds every entry
 * until it has been quiet a minute of wall clock; then its writer marks it
 * idle and the tasks expire at partition 0's time. Once it sends again it
 * holds again, and is marked again only after another quiet minute.
 * Without the option nothing expires. */
static void test_dedupe_repartition_idle(void) {
        for (int idle = 0; idle < 2; idle++) {
                spate_driver_t *d = driver_with(NULL, 2, idle ? "    repartition: true\n"
                                                              "    expire_after_idle: 1m\n"
                                                            : "    repartition: true\n");
                double before = dd_expired();
                old_then_ids(d);
                spate_driver_advance(d, 30000);
                pipe_ids(d, 0, 100, 200, 0);
                run_commit(d);
                CHECK(dd_expired() == before, "idle %d: partition 1 at 1000 s holds every entry after 30 s "
                      "quiet (%.0f expired)", idle, dd_expired() - before);
                spate_driver_advance(d, 31000);
                pipe_ids(d, 0, 200, 300, 0);
                run_commit(d);
                run_commit(d);
                int64_t msgs = spate_driver_count_all(d, "drv-dd-repartition");
                if (!idle) {
                        CHECK(dd_expired() == before && msgs == 301, "without expire_after_idle nothing "
                              "expires and no mark is sent (%.0f expired, %lld messages)",
                              dd_expired() - before, (long long)msgs);
                        spate_driver_destroy(d);
                        continue;
                }
                CHECK(msgs == 303, "after a quiet minute of partition 1 alone, an idle mark to each of the 2 "
                      "tasks (%lld messages)", (long long)msgs);
                CHECK(dd_expired() - before >= 250, "then entries expire at partition 0's time (%.0f expired)",
                      dd_expired() - before);
                /* Partition 1 sends again at 1031 s (it holds the task of "new"
                 * again), and is marked again only after another quiet
                 * minute, while partition 0 goes on. */
                double at = dd_expired();
                spate_driver_pipe(d, "t.in", 1, "new", "{\"id\":\"new\",\"t\":1031000,\"n\":-2}", 0);
                run_commit(d);
                spate_driver_advance(d, 30000);
                pipe_ids(d, 0, 300, 400, 0);
                run_commit(d);
                CHECK(spate_driver_count_all(d, "drv-dd-repartition") == 404, "sending again, partition 1 "
                      "is not marked within a minute (%lld messages)",
                      (long long)spate_driver_count_all(d, "drv-dd-repartition"));
                spate_driver_advance(d, 31000);
                pipe_ids(d, 0, 400, 500, 0);
                run_commit(d);
                run_commit(d);
                CHECK(spate_driver_count_all(d, "drv-dd-repartition") == 506, "and is marked again after "
                      "another quiet minute (%lld messages)",
                      (long long)spate_driver_count_all(d, "drv-dd-repartition"));
                CHECK(dd_expired() - at >= 150, "then expiry goes on at partition 0's time (%.0f expired)",
                      dd_expired() - at);
                int64_t out = spate_driver_count(d, "t.out", 0);
                CHECK(out == 502, "every id out once: 500, old and new (%lld)", (long long)out);
                spate_driver_destroy(d);
        }
}

/* repartition: true after an explode: the records made from one source
 * message share its offset, and their sequence number tells them apart -
 * 3 ids from each of 40 messages all pass once, also through a crash after
 * a flush with half its messages lost and the replay that writes the rest
 * again. */
static void test_dedupe_repartition_explode(void) {
        char v[256];
        spate_driver_t *d = spate_driver_new_or_bail(
                "application: drv\n"
                "kafka:\n  bootstrap.servers: 127.0.0.1:1\n"
                "nodes:\n"
                "  - name: in\n    type: kafka_source\n    topic: t.in\n    partitions: 2\n    time: t\n"
                "  - name: each\n    type: explode\n    from: in\n    path: xs\n"
                "  - name: dd\n    type: dedupe\n    from: each\n    key: item\n    within: 1h\n"
                "    repartition: true\n"
                "  - name: out\n    type: kafka_sink\n    from: dd\n    topic: t.out\n    partitions: 1\n",
                CLOCK0);
        for (int i = 0; i < 40; i++) {
                snprintf(v, sizeof(v), "{\"t\":%d,\"xs\":[\"a%d\",\"b%d\",\"c%d\"]}", 1000000 + i, i, i, i);
                spate_driver_pipe(d, "t.in", i % 2, NULL, v, 0);
                if (i == 19) {
                        spate_driver_process(d);
                        spate_driver_process(d);
                        commit(d, SPATE_DRIVER_COMMIT_ALL);
                }
        }
        spate_driver_process(d);
        spate_driver_process(d);
        commit(d, SPATE_DRIVER_AFTER_FLUSH);
        spate_driver_lose_unacked(d, spate_driver_unacked(d) / 2);
        crash(d, 1);
        run_commit(d);
        int64_t got = spate_driver_count(d, "t.out", 0), distinct = distinct_out(d);
        CHECK(distinct == 120, "exploded records: 120 ids out (%lld distinct of %lld records)", (long long)distinct,
              (long long)got);
        spate_driver_destroy(d);
}

/* A store's tasks are source partitions: a dedupe behind a window (whose
 * records come from commits) fails at load, saying where and why. */
static void test_bad_topology(void) {
        char err[1024];
        spate_driver_t *d = spate_driver_new(
                "application: drv\n"
                "kafka:\n  bootstrap.servers: 127.0.0.1:1\n"
                "nodes:\n"
                "  - name: in\n    type: kafka_source\n    topic: t.in\n    partitions: 2\n"
                "  - name: win\n    type: window\n    from: in\n    window: tumbling\n    size: 1s\n"
                "    aggregates:\n      n: count()\n"
                "  - name: dd\n    type: dedupe\n    from: win\n    key: key\n    within: 1s\n",
                CLOCK0, err, sizeof(err));
        CHECK(!d && strstr(err, "topology.yaml:16:5: ") && strstr(err, "dedupe node 'dd'") && strstr(err, "window 'win'"),
              "dedupe after a window fails at load: %s", err);
        spate_driver_destroy(d);
}

/* Standbys (num_standby_replicas): what node dd's standbys follow. */
typedef struct follows {
        int n, want;                 /* want: a bit per partition the instance chose to follow */
        int64_t from[2];
} follows_t;

static int on_want(void *opaque, const char *topic, int32_t partition, int npartitions) {
        const follows_t *f = opaque;
        return !strcmp(topic, "t.in") && npartitions == 2 && (f->want >> partition & 1);
}

static void on_follow(void *opaque, const char *changelog, int32_t partition, int64_t from) {
        follows_t *f = opaque;
        if (!strcmp(changelog, CHANGELOG) && partition >= 0 && partition < 2)
                f->from[partition] = from;
        f->n++;
}

/* Gives dd's standby of partition p the changelog records [from, to), through
 * its state providers (node_state.h: standby_apply, standby_write) as
 * the standby consumer would, then writes what they completed: 0 if all
 * were taken. */
static int feed(spate_driver_t *d, int32_t p, int64_t from, int64_t to) {
        spate_node_t *dd = node(d, "dd");
        char err[512];
        int bad = 0;
        for (int64_t o = from; o < to; o++) {
                const spate_driver_msg_t *m = spate_driver_msg(d, CHANGELOG, p, o);
                bad |= !m || spate_node_standby_apply(dd, CHANGELOG, p, m->key, m->key_len, m->value,
                                                      m->value ? m->len : 0, o, err, sizeof(err)) != 0;
        }
        return bad || spate_node_standby_write(dd, err, sizeof(err));
}

static double restored(const char *from) {
        char want[160];
        snprintf(want, sizeof(want), "spate_store_restore_records_total{node=\"dd\",store=\"seen\",from=\"%s\"} ",
                 from);
        double v = spate_driver_metric(want);
        return v < 0 ? 0 : v;
}

/* The instance dies with its state directory; before its successor is
 * assigned, standbys copy the changelogs: partition 0's whole, partition
 * 1's last commit without its meta record. The restore then reads nothing
 * of partition 0 and the whole frame of partition 1, and the state is the
 * changelog's. */
static void test_standby(void) {
        spate_driver_t *d = driver(NULL);
        spate_kv_t *kv;
        follows_t f = { .want = 3 };
        char err[512];
        filler(d);
        kv_at(d, 0, 0, &kv);
        put(kv, "a", "1");
        put(kv, "b", "2");
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        kv_at(d, 0, 1, &kv);
        put(kv, "a", "3");
        put(kv, "c", "4");
        CHECK(spate_kv_delete(kv, "b", 1) == 0, "delete b");
        kv_at(d, 1, 0, &kv);
        put(kv, "z", "9");
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        int64_t end0 = spate_driver_count(d, CHANGELOG, 0), end1 = spate_driver_count(d, CHANGELOG, 1);
        CHECK(end0 == 7 && end1 == 2, "changelogs: frames of 3 and 4 records in partition 0, of 2 in partition 1 (%lld, %lld)",
              (long long)end0, (long long)end1);

        CHECK(spate_driver_crash(d, 0, err, sizeof(err)) == 0, "crash: %s", err);
        spate_node_t *dd = node(d, "dd");
        CHECK(spate_node_standbys(dd, spate_driver_ctx(d), on_want, on_follow, &f) == 0 && f.n == 2 && !f.from[0] &&
              !f.from[1], "no task owned, no local state: standbys follow both changelogs from 0 (%d)", f.n);
        CHECK(feed(d, 0, 0, end0) == 0, "partition 0's changelog applied");
        CHECK(feed(d, 1, 0, end1 - 1) == 0, "partition 1's frame without its meta record held");
        CHECK(feed(d, 0, 0, end0) == 0, "records fetched again are ignored");
        CHECK(spate_node_standby_apply(dd, "t.other", 0, "k", 1, "v", 1, 0, err, sizeof(err)) == 1,
              "a topic that is no changelog of dd's is not its");
        /* Neither chosen any more: the standbys stop, leaving what their
         * checkpoints say (partition 1's held frame is in none). */
        f = (follows_t){ .want = 0 };
        CHECK(spate_node_standbys(dd, spate_driver_ctx(d), on_want, on_follow, &f) == 0 && f.n == 0,
              "no task chosen: nothing followed (%d)", f.n);
        CHECK(spate_node_standby_apply(dd, CHANGELOG, 1, "k", 1, "v", 1, end1, err, sizeof(err)) == 0,
              "a record of a task no longer followed is ignored");
        f = (follows_t){ .want = 3 };
        spate_node_standbys(dd, spate_driver_ctx(d), on_want, on_follow, &f);
        CHECK(f.from[0] == end0 && f.from[1] == 0, "chosen again: partition 0 from its checkpoint, partition 1 "
              "from the start, its frame without a meta record read again (%lld, %lld)", (long long)f.from[0],
              (long long)f.from[1]);
        CHECK(feed(d, 1, 0, end1 - 1) == 0, "partition 1's frame held again");
        f = (follows_t){ .want = 3 };
        spate_node_standbys(dd, spate_driver_ctx(d), on_want, on_follow, &f);
        CHECK(f.from[0] == end0 && f.from[1] == end1 - 1, "the standbys read on from where they are (%lld, %lld)",
              (long long)f.from[0], (long long)f.from[1]);

        double local = restored("local"), read = restored("changelog");
        int rc = spate_driver_assign(d);
        CHECK(rc == 0, "assigned: %s", rc ? spate_driver_ctx(d)->errstr : "");
        CHECK(restored("local") - local == (double)end0, "the restore started from the standbys' copies: "
              "%.0f changelog records already applied (%lld expected)", restored("local") - local, (long long)end0);
        CHECK(restored("changelog") - read == (double)end1, "it read only partition 1's frame and the meta "
              "record the standby had not seen (%.0f records)", restored("changelog") - read);
        CHECK(kv_at(d, 0, 1, &kv) == 1 && kv_at(d, 0, 2, &kv) == 0, "partition 0 resumes at offset 2");
        CHECK_STR(get(kv, "a"), "3", "a");
        CHECK_STR(get(kv, "b"), "(absent)", "b deleted");
        CHECK_STR(get(kv, "c"), "4", "c");
        CHECK(kv_at(d, 1, 0, &kv) == 1 && kv_at(d, 1, 1, &kv) == 0, "partition 1 resumes at offset 1");
        CHECK_STR(get(kv, "z"), "9", "z");
        f = (follows_t){ .want = 3 };
        spate_node_standbys(node(d, "dd"), spate_driver_ctx(d), on_want, on_follow, &f);
        CHECK(f.n == 0, "both tasks owned: no standby (%d)", f.n);
        spate_driver_destroy(d);
}

/* --- interactive queries on a standby's copy (stale=ok, cli/iq_http.c) --- */

static void render(const void *key, size_t klen, const void *val, size_t vlen, spate_buf_t *out) {
        spate_buf_put(out, key, klen);
        spate_buf_putc(out, '=');
        spate_buf_put(out, val, vlen);
}

/* key's value in dd's copy of partition p as a stale query reads it
 * ("key=value", "(absent)" or the error), with the changelog offset the
 * copy's checkpoint names in *next. */
static const char *ask_copy(spate_driver_t *d, int32_t p, const char *key, int64_t *next) {
        static char out[512];
        char err[256];
        spate_iq_t q = { .kind = SPATE_IQ_GET, .key = key, .klen = strlen(key), .parts = &p, .nparts = 1,
                         .copy = 1, .store = spate_ctx_store(spate_driver_ctx(d)) };
        spate_iq_rows_t rows = { .limit = 1, .changelog_next = -2 };
        spate_store_read_lock(q.store);
        int rc = spate_kv_query(node(d, "dd"), "seen", &q, &rows, render, err, sizeof(err));
        spate_store_read_unlock(q.store);
        if (rc)
                snprintf(out, sizeof(out), "error: %s", err);
        else
                snprintf(out, sizeof(out), "%.*s", rows.n ? (int)rows.json.len : 8,
                         rows.n ? rows.json.data : "(absent)");
        *next = rows.changelog_next;
        spate_buf_free(&rows.json);
        return out;
}

/* A standby's copy read by a query holds whole commits only: with the
 * second commit's records applied but not its meta record, the query sees
 * the first commit and the offset after its meta; with the meta, the
 * second, and the changelog's end. */
static void test_standby_query(void) {
        spate_driver_t *d = driver(NULL);
        spate_kv_t *kv;
        follows_t f = { .want = 1 };
        char err[512];
        int64_t next;
        filler(d);
        kv_at(d, 0, 0, &kv);
        put(kv, "a", "1");
        put(kv, "b", "2");
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        kv_at(d, 0, 1, &kv);
        put(kv, "a", "3");
        put(kv, "c", "4");
        CHECK(spate_kv_delete(kv, "b", 1) == 0, "delete b");
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        CHECK(spate_driver_count(d, CHANGELOG, 0) == 7, "partition 0's changelog: frames of 3 and 4 records");
        CHECK(spate_driver_crash(d, 0, err, sizeof(err)) == 0, "crash: %s", err);
        spate_node_t *dd = node(d, "dd");
        CHECK(spate_node_standbys(dd, spate_driver_ctx(d), on_want, on_follow, &f) == 0 && f.n == 1,
              "a standby follows partition 0 (%d)", f.n);
        CHECK(feed(d, 0, 0, 6) == 0, "the first commit and the second's records, not its meta record");
        CHECK_STR(ask_copy(d, 0, "a", &next), "a=1", "a as of the first commit");
        CHECK(next == 3, "the copy reflects the changelog up to offset 3, after the first meta record (%lld)",
              (long long)next);
        CHECK_STR(ask_copy(d, 0, "b", &next), "b=2", "b not yet deleted");
        CHECK_STR(ask_copy(d, 0, "c", &next), "(absent)", "c of the commit under way not shown");
        CHECK(feed(d, 0, 6, 7) == 0, "the second commit's meta record");
        CHECK_STR(ask_copy(d, 0, "a", &next), "a=3", "a as of the second commit");
        CHECK_STR(ask_copy(d, 0, "b", &next), "(absent)", "b deleted");
        CHECK_STR(ask_copy(d, 0, "c", &next), "c=4", "c");
        CHECK(next == 7, "the copy reflects the changelog to its end (%lld)", (long long)next);
        spate_driver_destroy(d);
}

/* A codec (kv.h: decoded values in the cache): a counter kept as an object,
 * stored as "count=N". The counts say how often the store decoded and
 * encoded, and how many objects are alive (none may leak). */
typedef struct {
        long long n;
} counter_t;

static int decodes, encodes, objects;

static void *counter_decode(const void *val, size_t vlen, char *errstr, size_t errstr_size) {
        char text[64];
        counter_t *c;
        long long n;
        snprintf(text, sizeof(text), "%.*s", (int)vlen, (const char *)val);
        if (sscanf(text, "count=%lld", &n) != 1) {
                snprintf(errstr, errstr_size, "not count=N: '%s'", text);
                return NULL;
        }
        c = malloc(sizeof(*c));
        c->n = n;
        decodes++;
        objects++;
        return c;
}

static void counter_encode(const void *obj, spate_buf_t *out) {
        char text[64];
        int len = snprintf(text, sizeof(text), "count=%lld", ((const counter_t *)obj)->n);
        spate_buf_put(out, text, (size_t)len);
        encodes++;
}

static size_t counter_size(const void *obj) {
        (void)obj;
        return sizeof(counter_t) + 16;  /* malloc's overhead */
}

static void counter_free(void *obj) {
        objects--;
        free(obj);
}

static const spate_kv_codec_t counter_codec = { counter_decode, counter_encode, counter_size, counter_free };

static counter_t *counter_new(long long n) {
        counter_t *c = malloc(sizeof(*c));
        c->n = n;
        objects++;
        return c;
}

/* The counter of key: its count, -1 when absent, -2 on an error. */
static long long counter_get(spate_kv_t *kv, const char *key) {
        void *obj;
        int rc = spate_kv_get_obj(kv, key, strlen(key), &obj);
        return rc < 0 ? -2 : rc ? -1 : ((counter_t *)obj)->n;
}

/* Adds one to key's counter in place (created at 1). */
static int counter_add(spate_kv_t *kv, const char *key) {
        void *obj;
        int rc = spate_kv_get_obj(kv, key, strlen(key), &obj);
        if (rc < 0)
                return -1;
        if (rc)
                obj = counter_new(0);
        ((counter_t *)obj)->n++;
        return spate_kv_put_obj(kv, key, strlen(key), obj);
}

/* A node sets its codec at init; dedupe has none, so the test sets it on
 * each topology the driver builds (at the start and at each crash) before
 * the tasks are restored. */
static void set_codec(spate_driver_t *d) {
        CHECK(spate_kv_node_codec(node(d, "dd"), "seen", &counter_codec) == 0, "the codec is set");
        CHECK(spate_kv_node_codec(node(d, "dd"), "other", &counter_codec) == -1, "no store 'other'");
}

static spate_driver_t *codec_driver(const char *settings) {
        spate_driver_t *d = driver(settings);
        set_codec(d);
        filler(d);
        return d;
}

static void codec_crash(spate_driver_t *d, int keep_state) {
        char err[512];
        int rc = spate_driver_crash(d, keep_state, err, sizeof(err));
        CHECK(rc == 0, "crash%s%s", rc ? ": " : "", rc ? err : "");
        set_codec(d);
        rc = spate_driver_assign(d);
        CHECK(rc == 0, "restore%s%s", rc ? ": " : "", rc ? spate_driver_ctx(d)->errstr : "");
}

/* Updates change the decoded value in place: no decode, one encode per
 * commit; restores (local state, changelog) decode once per key read; a
 * crash in the middle of a commit restores the committed count. */
static void test_codec(void) {
        spate_driver_t *d = codec_driver(NULL);
        spate_kv_t *kv;
        int bad = 0;
        decodes = encodes = objects = 0;
        kv_at(d, 0, 0, &kv);
        for (int i = 0; i < 1000; i++)
                bad += counter_add(kv, "a") != 0;
        CHECK(!bad && counter_get(kv, "a") == 1000, "1000 updates in place: %lld", counter_get(kv, "a"));
        CHECK(decodes == 0 && encodes == 0, "no decode or encode before the commit (%d, %d)", decodes, encodes);
        CHECK_STR(get(kv, "a"), "count=1000", "the byte read encodes the object");
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        CHECK(encodes == 2, "the commit encoded it once (%d encodes with the byte read)", encodes);
        const spate_driver_msg_t *m = spate_driver_msg(d, CHANGELOG, 0, 0);
        CHECK(m && m->value && !strcmp(m->value, "count=1000"),
              "the changelog holds the encoded value");
        put(kv, "bytes", "count=7");
        CHECK(counter_get(kv, "bytes") == 7 && decodes == 1, "a value put as bytes decodes once read (%d)",
              decodes);
        put(kv, "bad", "seven");
        CHECK(counter_get(kv, "bad") == -2 && strstr(spate_driver_ctx(d)->errstr, "does not decode") &&
              strstr(spate_driver_ctx(d)->errstr, "not count=N: 'seven'"),
              "a value that does not decode fails the record: %s", spate_driver_ctx(d)->errstr);
        CHECK(spate_kv_delete(kv, "bad", 3) == 0 && spate_kv_delete(kv, "bytes", 5) == 0, "deletes");
        CHECK(counter_get(kv, "bytes") == -1 && objects == 1, "a deleted object is freed (%d alive)", objects);
        for (int i = 0; i < 5; i++)
                counter_add(kv, "b");
        commit(d, SPATE_DRIVER_COMMIT_ALL);

        codec_crash(d, 1);
        CHECK(objects == 0, "a crash frees the objects (%d alive)", objects);
        kv_at(d, 0, 1, &kv);
        decodes = 0;
        CHECK(counter_get(kv, "a") == 1000 && counter_get(kv, "b") == 5 && counter_get(kv, "a") == 1000 &&
              decodes == 2, "local state: a 1000, b 5, each decoded once (%d)", decodes);
        counter_add(kv, "a");
        commit(d, SPATE_DRIVER_AFTER_ACKS);  /* flushed, never sealed */
        codec_crash(d, 0);
        kv_at(d, 0, 1, &kv);
        CHECK(counter_get(kv, "a") == 1000 && counter_get(kv, "b") == 5 && counter_get(kv, "bytes") == -1,
              "changelog only, the unsealed frame ignored: a %lld, b %lld", counter_get(kv, "a"),
              counter_get(kv, "b"));
        CHECK(live_keys(kv) == 2, "each: 2 live keys (%d)", live_keys(kv));
        spate_driver_destroy(d);
        CHECK(objects == 0, "no object outlives the store (%d)", objects);
}

static int sum_counts(void *opaque, const void *key, size_t klen, const void *val, size_t vlen) {
        long long n;
        char text[64];
        (void)key, (void)klen;
        snprintf(text, sizeof(text), "%.*s", (int)vlen, (const char *)val);
        if (sscanf(text, "count=%lld", &n) == 1)
                *(long long *)opaque += n;
        return 0;
}

/* Under a 1 MB bound: dirty objects stay until their commit, clean ones are
 * evicted (freed) and decoded again when read; each() and range() see the
 * cached objects encoded and what only RocksDB holds. */
static void test_codec_eviction(void) {
        spate_driver_t *d = codec_driver("settings:\n  state_memory_mb: 1\n");
        spate_kv_t *kv;
        char key[32];
        const int n = 20000;
        int bad = 0;
        long long sum = 0, want = 0;
        decodes = encodes = objects = 0;
        kv_at(d, 1, 0, &kv);
        for (int i = 0; i < n; i++) {
                snprintf(key, sizeof(key), "key-%05d", i);
                for (int j = 0; j <= i % 3; j++)
                        bad += counter_add(kv, key) != 0;
                want += i % 3 + 1;
        }
        CHECK(!bad && objects == n, "%d keys updated, every object kept until the commit (%d)", n, objects);
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        CHECK(encodes == n, "one encode a key (%d)", encodes);
        CHECK(objects == (int)spate_kv_cached(kv, NULL) && objects < n * 3 / 4,
              "evicted objects are freed (%d alive of %d)", objects, n);
        double bytes = spate_driver_metric("spate_store_cache_bytes{node=\"dd\"} ");
        CHECK(bytes > 0 && bytes <= 1 << 20, "the objects' sizes count in the bound: %.0f", bytes);
        for (int i = 0; i < n; i++) {
                snprintf(key, sizeof(key), "key-%05d", i);
                bad += counter_get(kv, key) != i % 3 + 1;
        }
        CHECK(!bad, "every count read back (%d wrong), %d decoded", bad, decodes);
        CHECK(decodes >= n / 4 && objects < n * 3 / 4, "evicted keys decoded again, the cache bounded (%d)", objects);
        counter_add(kv, "key-00000");
        want++;
        CHECK(spate_kv_each(kv, sum_counts, &sum) == 0 && sum == want, "each: %lld, want %lld", sum, want);
        sum = 0;
        CHECK(spate_kv_range(kv, "key-00000", 9, "key-00003", 9, sum_counts, &sum) == 0 && sum == 2 + 2 + 3,
              "range over a dirty object and RocksDB: %lld", sum);
        spate_driver_destroy(d);
        CHECK(objects == 0, "no object outlives the store (%d)", objects);
}

/* The node's meta in the commit frame (kv.h: spate_kv_meta()): written in
 * the frame's meta record (version 1 without it, as before), a change alone
 * makes a frame, restored with the state of the same commit from the local
 * copy and from the changelog, never from a frame that was not sealed. */
static const char *node_meta(spate_kv_t *kv) {
        static char out[64];
        size_t len;
        const char *m = spate_kv_meta(kv, &len);
        snprintf(out, sizeof(out), "%.*s", m ? (int)len : 6, m ? m : "(none)");
        return out;
}

static void test_node_meta(void) {
        spate_driver_t *d = driver(NULL);
        const spate_driver_msg_t *m;
        spate_kv_t *kv;
        filler(d);
        kv_at(d, 0, 0, &kv);
        CHECK_STR(node_meta(kv), "(none)", "a fresh task has no node meta");
        put(kv, "a", "1");
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        m = spate_driver_msg(d, CHANGELOG, 0, 1);
        CHECK(m && m->len == 34 && m->value[0] == 'W' && m->value[1] == 1,
              "a frame without node meta: version 1, 34 bytes (a windowed store's) (%zu)", m ? m->len : 0);
        spate_kv_set_meta(kv, "upstream=7", 10);
        CHECK_STR(node_meta(kv), "upstream=7", "read back as set");
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        CHECK(spate_driver_count(d, CHANGELOG, 0) == 3, "a change of the node meta alone makes a frame (%lld)",
              (long long)spate_driver_count(d, CHANGELOG, 0));
        m = spate_driver_msg(d, CHANGELOG, 0, 2);
        CHECK(m && m->len == 44 && m->value[1] == 2 && !memcmp(m->value + 34, "upstream=7", 10),
              "version 2 carries it after the fixed part");
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        CHECK(spate_driver_count(d, CHANGELOG, 0) == 3, "no change: no frame");

        crash(d, 1);
        kv_at(d, 0, 1, &kv);
        CHECK_STR(node_meta(kv), "upstream=7", "restored from the local copy");
        spate_kv_set_meta(kv, "upstream=9", 10);
        put(kv, "b", "2");
        commit(d, SPATE_DRIVER_AFTER_ACKS);  /* flushed, never sealed */
        crash(d, 0);
        kv_at(d, 0, 1, &kv);
        CHECK_STR(node_meta(kv), "upstream=7", "from the changelog, the unsealed frame's meta ignored");
        CHECK_STR(get(kv, "b"), "(absent)", "and its entry");
        CHECK_STR(get(kv, "a"), "1", "the sealed entry");
        spate_kv_set_meta(kv, "upstream=11", 11);
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        crash(d, 0);
        kv_at(d, 0, 1, &kv);
        CHECK_STR(node_meta(kv), "upstream=11", "a sealed change, from the changelog");
        spate_kv_set_meta(kv, NULL, 0);
        commit(d, SPATE_DRIVER_COMMIT_ALL);
        crash(d, 1);
        kv_at(d, 0, 1, &kv);
        CHECK_STR(node_meta(kv), "(none)", "cleared, restored as none");
        spate_driver_destroy(d);
}

int main(void) {
        test_bad_topology();
        test_basic();
        test_revoke();
        test_eviction();
        test_crash_mid_flush();
        test_codec();
        test_codec_eviction();
        test_node_meta();
        test_pipelined_restore();
        test_dedupe();
        test_purge();
        test_dedupe_crash();
        test_dedupe_repartition();
        test_dedupe_repartition_apart();
        test_dedupe_repartition_empty();
        test_dedupe_repartition_heard();
        test_dedupe_repartition_idle();
        test_dedupe_repartition_explode();
        test_standby();
        test_standby_query();
        return CHECK_DONE();
}
