/* test_wkv.c - the windowed stores (state/wkv.c) on the test driver, against
 * a reference model written here from wkv.h's contract: one entry per key
 * and segment (the last put), puts of expired times dropped, fetches of the
 * unexpired entries newest segment first, and a segment's entries deleted
 * once all of its time range has expired. Random puts (late ones too),
 * deletes and stream-time moves across many segment boundaries, with a
 * crash at every step of a commit (with and without the local state), and
 * the same with state larger than a 1 MB cache (read-through); the key
 * filters that spare a fetch the segments not holding its key (across a
 * restore, a delete and an expiry); state of the plain key-value layout
 * refused. The store is
 * that of a `dedupe` node (retention = within = 1 s, segments of 500 ms),
 * driven through the API directly. */
#include "check.h"
#include "../driver/driver.h"
#include "../../engine/metrics.h"
#include "../../state/store.h"
#include "../../state/wkv.h"
#include "../../util/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLOCK0 1000000
#define RETENTION 1000
#define SEGMENT 500

static spate_driver_t *driver(const char *settings) {
        char yaml[2048];
        snprintf(yaml, sizeof(yaml),
                 "application: drv\n"
                 "kafka:\n  bootstrap.servers: 127.0.0.1:1\n%s"
                 "nodes:\n"
                 "  - name: in\n    type: kafka_source\n    topic: t.in\n    partitions: 1\n    time: t\n"
                 "  - name: dd\n    type: dedupe\n    from: in\n    key: id\n    within: 1s\n"
                 "  - name: out\n    type: kafka_sink\n    from: dd\n    topic: t.out\n    partitions: 1\n",
                 settings ? settings : "");
        return spate_driver_new_or_bail(yaml, CLOCK0);
}

static spate_node_t *node(spate_driver_t *d, const char *name) {
        return spate_topology_node(spate_driver_topology(d), name);
}

static spate_origin_t origin;

/* The store as process() gets it for a record at `offset`: spate_ctx_kv()'s rc. */
static int kv_at(spate_driver_t *d, int64_t offset, spate_kv_t **kv) {
        spate_ctx_t *ctx = spate_driver_ctx(d);
        origin = (spate_origin_t){ .topic = "t.in", .partition = 0, .offset = offset };
        ctx->origin = &origin;
        return spate_ctx_kv(ctx, node(d, "dd"), "seen", kv);
}

/* --- the reference --- */

/* Values are the operation's number, zero-padded to this width (the large
 * run's make the state outgrow the cache), and the stream time moves by up
 * to this many ms per move. */
static int val_width = 1;
static int64_t step_max = 90;

#define SLOTS 8                      /* a key's unexpired segments: at most 4 here */

typedef struct {
        int used;
        int64_t seg, ts;
        int val;
} rent_t;

typedef struct {
        rent_t *e;                   /* [key * SLOTS + slot] */
        int nkeys, n;                /* entries stored */
        int64_t s;                   /* stream time */
        uint64_t deleted;            /* entries its segments' expiry deleted */
} ref_t;

static int64_t floor_div(int64_t a, int64_t b) {
        return a / b - (a % b < 0);
}

static void ref_init(ref_t *r, int nkeys) {
        *r = (ref_t){ .e = calloc((size_t)nkeys * SLOTS, sizeof(rent_t)), .nkeys = nkeys, .s = INT64_MIN };
}

static void ref_copy(ref_t *to, const ref_t *from) {
        rent_t *e = to->e;
        *to = *from;
        to->e = e;
        memcpy(to->e, from->e, sizeof(rent_t) * (size_t)from->nkeys * SLOTS);
}

static int ref_expired(const ref_t *r, int64_t ts) {
        return r->s != INT64_MIN && ts <= r->s - RETENTION;
}

/* key's slot of seg, or (free) a free one. */
static rent_t *ref_find(ref_t *r, int key, int64_t seg, int free_one) {
        rent_t *e = r->e + (size_t)key * SLOTS, *spare = NULL;
        for (int i = 0; i < SLOTS; i++) {
                if (e[i].used && e[i].seg == seg)
                        return &e[i];
                if (!e[i].used && !spare)
                        spare = &e[i];
        }
        if (free_one && !spare) {
                printf("Bail out! the reference's key %d has more than %d segments\n", key, SLOTS);
                exit(1);
        }
        return free_one ? spare : NULL;
}

static void ref_put(ref_t *r, int key, int64_t ts, int val) {
        if (ref_expired(r, ts))
                return;
        rent_t *e = ref_find(r, key, floor_div(ts, SEGMENT), 1);
        r->n += !e->used;
        *e = (rent_t){ 1, floor_div(ts, SEGMENT), ts, val };
}

static void ref_delete(ref_t *r, int key, int64_t ts) {
        rent_t *e = ref_find(r, key, floor_div(ts, SEGMENT), 0);
        if (e) {
                e->used = 0;
                r->n--;
        }
}

/* A segment goes when its last millisecond has expired. */
static void ref_advance(ref_t *r, int64_t t) {
        if (r->s != INT64_MIN && t <= r->s)
                return;
        r->s = t;
        for (size_t i = 0; i < (size_t)r->nkeys * SLOTS; i++)
                if (r->e[i].used && ref_expired(r, (r->e[i].seg + 1) * SEGMENT - 1)) {
                        r->e[i].used = 0;
                        r->n--;
                        r->deleted++;
                }
}

/* key's unexpired entries in [from, to], newest segment first, as text. */
static void ref_fetch(ref_t *r, int key, int64_t from, int64_t to, char *out, size_t size) {
        size_t len = 0;
        out[0] = 0;
        for (int64_t seg = floor_div(to, SEGMENT); seg >= floor_div(from, SEGMENT); seg--) {
                const rent_t *e = ref_find(r, key, seg, 0);
                if (e && e->ts >= from && e->ts <= to && !ref_expired(r, e->ts))
                        len += (size_t)snprintf(out + len, size - len, "%lld=%0*d;", (long long)e->ts, val_width,
                                                e->val);
        }
}

/* --- the store's side --- */

typedef struct {
        char *out;
        size_t len, size;
} fetched_t;

static int on_fetch(void *opaque, int64_t ts, const void *val, size_t vlen) {
        fetched_t *f = opaque;
        f->len += (size_t)snprintf(f->out + f->len, f->size - f->len, "%lld=%.*s;", (long long)ts, (int)vlen,
                                   (const char *)val);
        return 0;
}

static int count_each(void *opaque, const void *key, size_t klen, const void *val, size_t vlen) {
        (void)key, (void)klen, (void)val, (void)vlen;
        ++*(int *)opaque;
        return 0;
}

static char keyname[16];
/* The most entries compare() counted, and the most bytes the cache held
 * (its gauge, set at each checkpoint). */
static int max_stored;
static double max_cached;

static const char *key_of(int k) {
        snprintf(keyname, sizeof(keyname), "k%d", k);
        return keyname;
}

/* Every key's unexpired entries of the last 3 s, and the entries stored,
 * equal the reference's. 0 if so. */
static int compare(spate_kv_t *kv, ref_t *r, int nkeys, const char *what) {
        char want[8192], got[8192];
        int bad = 0, stored = 0;
        int64_t s = r->s == INT64_MIN ? 100000 : r->s;
        for (int k = 0; k < nkeys; k++) {
                fetched_t f = { got, 0, sizeof(got) };
                got[0] = 0;
                const char *key = key_of(k);
                if (spate_wkv_fetch(kv, key, strlen(key), s - 3000, s + 1000, on_fetch, &f))
                        return -1;
                ref_fetch(r, k, s - 3000, s + 1000, want, sizeof(want));
                if (strcmp(got, want) && bad++ < 3)
                        printf("# %s: %s: got '%s', want '%s'\n", what, key, got, want);
        }
        if (spate_kv_each(kv, count_each, &stored))
                return -1;
        if (stored != r->n && bad++ < 3)
                printf("# %s: %d entries stored, the reference keeps %d\n", what, stored, r->n);
        if (stored > max_stored)
                max_stored = stored;
        double cached = spate_metric_value(spate_metrics_gauge(spate_metrics_default(), "spate_store_cache_bytes",
                                                               "", "node", "dd", NULL));
        if (cached > max_cached)
                max_cached = cached;
        return bad;
}

/* One operation, from the seeded generator: a stream-time move (late ones
 * do nothing), a put (a quarter of them late, some beyond the retention),
 * or a delete. */
static void op(uint32_t *seed, int nkeys, int64_t *clock, int *k, int64_t *ts, int *kind) {
        *seed = *seed * 1103515245u + 12345u;
        uint32_t x = *seed >> 8;
        *k = (int)(x % (uint32_t)nkeys);
        *kind = (int)((x >> 10) % 10);
        if (*kind < 4) {                       /* advance */
                *clock += (int64_t)((x >> 14) % (uint32_t)step_max);
                *ts = *clock - (int64_t)((x >> 5) % 2) * 40;
        } else if (*kind < 9) {                /* put */
                *ts = *clock - ((x >> 14) % 4 ? (int64_t)((x >> 16) % 200) : (int64_t)((x >> 16) % 1400));
        } else {                               /* delete */
                *ts = *clock - (int64_t)((x >> 14) % 900);
        }
}

static int apply(spate_kv_t *kv, ref_t *r, int k, int64_t ts, int kind, int val) {
        char v[1024];
        const char *key = key_of(k);
        int len = snprintf(v, sizeof(v), "%0*d", val_width, val);
        if (kind < 4) {
                ref_advance(r, ts);
                return spate_wkv_advance(kv, ts, NULL);
        }
        if (kind < 9) {
                ref_put(r, k, ts, val);
                return spate_wkv_put(kv, key, strlen(key), ts, v, (size_t)len);
        }
        ref_delete(r, k, ts);
        return spate_wkv_delete(kv, key, strlen(key), ts);
}

/* Rounds of `per` operations; every round ends with a commit, crashed at
 * each step in turn (with and without the local state) in three of four
 * rounds. A crash loses the rounds not sealed: the reference goes back to
 * its copy at the last sealed commit, and the round runs again (the input
 * replays), as for a node. */
static void run_rounds(const char *settings, int nkeys, int rounds, int per, const char *what) {
        static const spate_driver_stage_t stages[] = { SPATE_DRIVER_AFTER_FLUSH, SPATE_DRIVER_AFTER_ACKS,
                                                       SPATE_DRIVER_AFTER_SEAL, SPATE_DRIVER_AFTER_CHECKPOINT };
        spate_driver_t *d = driver(settings);
        ref_t r, sealed;
        uint32_t seed = 11, round_seed;
        int64_t clock = 100000, round_clock, offset = 0;
        int bad = 0, crashes = 0;
        char err[512];
        ref_init(&r, nkeys);
        ref_init(&sealed, nkeys);
        for (int i = 0; i < rounds * per; i++)
                spate_driver_pipe(d, "t.in", 0, "f", "{}", 0);  /* the offsets a restore resumes from */
        for (int round = 0; round < rounds && !bad; round++) {
                spate_kv_t *kv;
                round_seed = seed;
                round_clock = clock;
                int64_t round_offset = offset;
                for (int replay = 0; replay < 2; replay++) {
                        seed = round_seed;
                        clock = round_clock;
                        offset = round_offset;
                        for (int i = 0; i < per; i++) {
                                int k, kind;
                                int64_t ts;
                                op(&seed, nkeys, &clock, &k, &ts, &kind);
                                int rc = kv_at(d, offset++, &kv);
                                if (rc == 0 && apply(kv, &r, k, ts, kind, (int)offset))
                                        bad++;
                                else if (rc)
                                        bad += rc < 0;
                        }
                        spate_driver_stage_t st = round % 4 == 3 ? SPATE_DRIVER_COMMIT_ALL : stages[(round / 4 + round) % 4];
                        CHECK(spate_driver_commit(d, st) == 0, "%s: commit", what);
                        if (st == SPATE_DRIVER_COMMIT_ALL || replay) {
                                if (st != SPATE_DRIVER_COMMIT_ALL)
                                        CHECK(spate_driver_commit(d, SPATE_DRIVER_COMMIT_ALL) == 0, "commit");
                                ref_copy(&sealed, &r);
                                break;
                        }
                        if (st == SPATE_DRIVER_AFTER_FLUSH)
                                spate_driver_lose_unacked(d, spate_driver_unacked(d) / 2);
                        if (st >= SPATE_DRIVER_AFTER_SEAL)
                                ref_copy(&sealed, &r);
                        CHECK(spate_driver_crash(d, round % 2, err, sizeof(err)) == 0, "crash: %s", err);
                        CHECK(spate_driver_assign(d) == 0, "restore: %s", spate_driver_ctx(d)->errstr);
                        crashes++;
                        ref_copy(&r, &sealed);
                        CHECK(kv_at(d, offset, &kv) >= 0, "%s: the restored store", what);
                        if ((bad = compare(kv, &r, nkeys, what)))
                                break;
                }
                CHECK(kv_at(d, offset, &kv) >= 0, "%s: the store", what);
                bad += compare(kv, &r, nkeys, what);
        }
        CHECK(!bad, "%s: %d rounds of %d operations, %d crashes, stream time %lld: every fetch and the entries "
              "stored as the reference's (%d left, %llu deleted by expiry)", what, rounds, per, crashes,
              (long long)r.s, r.n, (unsigned long long)r.deleted);
        CHECK(r.deleted > 0 && crashes > rounds / 2, "%s: expiry deleted entries, crashes happened", what);
        printf("# %s: up to %d entries stored; the cache held up to %.0f bytes\n", what, max_stored, max_cached);
        free(r.e);
        free(sealed.e);
        spate_driver_destroy(d);
}

/* A late put of an expired time is dropped; a segment goes as a whole once
 * its last millisecond expires, not before; the expiry count says so. */
static void test_boundaries(void) {
        spate_driver_t *d = driver(NULL);
        spate_kv_t *kv;
        uint64_t expired = 0;
        char got[256];
        fetched_t f = { got, 0, sizeof(got) };
        spate_driver_pipe(d, "t.in", 0, "f", "{}", 0);
        CHECK(kv_at(d, 0, &kv) == 0, "the store");
        CHECK(spate_wkv_advance(kv, 10000, &expired) == 0, "stream time 10000");
        CHECK(spate_wkv_put(kv, "a", 1, 9000, "old", 3) == 0, "a at 9000: expired (9000 + 1000 <= 10000)");
        CHECK(spate_wkv_put(kv, "a", 1, 9001, "x", 1) == 0 && spate_wkv_put(kv, "a", 1, 9499, "y", 1) == 0,
              "a at 9001, then 9499: one segment [9000, 9500)");
        CHECK(spate_wkv_put(kv, "a", 1, 9500, "z", 1) == 0, "a at 9500: the next segment");
        CHECK(spate_wkv_fetch(kv, "a", 1, 0, 20000, on_fetch, &f) == 0, "fetch");
        CHECK_STR(got, "9500=z;9499=y;", "newest segment first, one entry per segment (the last put)");
        CHECK(spate_wkv_advance(kv, 10498, &expired) == 0 && expired == 0, "10498: 9499 unexpired, nothing goes");
        CHECK(spate_wkv_advance(kv, 10499, &expired) == 0 && expired == 1,
              "10499: segment [9000, 9500) expired as a whole (%llu)", (unsigned long long)expired);
        f.len = 0;
        got[0] = 0;
        CHECK(spate_wkv_fetch(kv, "a", 1, 0, 20000, on_fetch, &f) == 0, "fetch");
        CHECK_STR(got, "9500=z;", "a's entry of the expired segment is gone");
        spate_driver_destroy(d);
}

/* The store's reads that missed its cache (each a RocksDB read). */
static double misses(void) {
        return (double)spate_metric_get(spate_metrics_counter(spate_metrics_default(),
                                                              "spate_store_cache_requests_total", "", "node", "dd",
                                                              "result", "miss", NULL));
}

/* key's fetch over every live segment, as text ("" when none). */
static const char *fetch_all(spate_kv_t *kv, const char *key) {
        static char got[256];
        fetched_t f = { got, 0, sizeof(got) };
        got[0] = 0;
        CHECK(spate_wkv_fetch(kv, key, strlen(key), 0, 100000, on_fetch, &f) == 0, "fetch %s", key);
        return got;
}

/* The segments' key filters: a task restored from a non-empty column family
 * (its cache not complete) reads RocksDB only for the segments whose filter
 * may hold the key - the keys of the restored state (read into the filters
 * at the task's first call), and those put since (after that first call
 * too) - and answers every key as the store holds it: across a restore, a
 * delete (the filter keeps the key), and an expiry (the segment's filter
 * goes, a later put in a new segment is found). */
static void test_filters(void) {
        spate_driver_t *d = driver(NULL);
        spate_kv_t *kv;
        char err[512], key[16];
        for (int i = 0; i < 8; i++)
                spate_driver_pipe(d, "t.in", 0, "f", "{}", 0);
        CHECK(kv_at(d, 0, &kv) == 0 && spate_wkv_advance(kv, 10000, NULL) == 0, "the store at 10000");
        for (int i = 0; i < 100; i++) {
                snprintf(key, sizeof(key), "old%d", i);
                CHECK(spate_wkv_put(kv, key, strlen(key), 9400 + i % 2 * 200, "o", 1) == 0, "put %s", key);
        }
        CHECK(spate_driver_commit(d, SPATE_DRIVER_COMMIT_ALL) == 0, "commit");
        CHECK(spate_driver_crash(d, 1, err, sizeof(err)) == 0, "crash: %s", err);
        CHECK(spate_driver_assign(d) == 0, "restore: %s", spate_driver_ctx(d)->errstr);
        CHECK(kv_at(d, 1, &kv) == 0, "the restored store");
        double m0 = misses();
        for (int i = 0; i < 1000; i++) {
                snprintf(key, sizeof(key), "new%d", i);
                CHECK(!*fetch_all(kv, key), "%s: never put, not found", key);
        }
        CHECK(misses() - m0 <= 10, "1000 fetches of keys in no segment (2 segments each) read RocksDB %.0f "
              "times (false positives only, ~0.2 %% of 2000 segment reads)", misses() - m0);
        m0 = misses();
        CHECK_STR(fetch_all(kv, "old1"), "9600=o;", "old1, of the restored state (read into the filter)");
        CHECK_STR(fetch_all(kv, "old2"), "9400=o;", "old2, of the other segment");
        CHECK(misses() - m0 >= 2, "the restored keys read through to RocksDB (%.0f reads)", misses() - m0);
        m0 = misses();
        for (int i = 0; i < 1000; i++) {
                int64_t ets;
                const void *v;
                size_t vlen;
                snprintf(key, sizeof(key), "new%d", i);
                CHECK(spate_wkv_get(kv, key, strlen(key), 9600, &ets, &v, &vlen) == 1, "get %s: none", key);
        }
        CHECK(misses() - m0 <= 5, "1000 gets of keys not in the segment read RocksDB %.0f times (false "
              "positives only)", misses() - m0);
        {
                int64_t ets = 0;
                const void *v = NULL;
                size_t vlen = 0;
                CHECK(spate_wkv_get(kv, "old3", 4, 9650, &ets, &v, &vlen) == 0 && ets == 9600 && vlen == 1 &&
                      !memcmp(v, "o", 1), "get old3 of the restored state through its segment's filter");
                CHECK(spate_wkv_get(kv, "old3", 4, 9400, &ets, &v, &vlen) == 1, "get old3 in the other segment: none");
        }
        CHECK(spate_wkv_put(kv, "late", 4, 9700, "l", 1) == 0 && spate_wkv_delete(kv, "old1", 4, 9600) == 0,
              "a put after the filter was built, a delete");
        CHECK_STR(fetch_all(kv, "late"), "9700=l;", "the key put after the filter was built");
        CHECK_STR(fetch_all(kv, "old1"), "", "the deleted key: absent (its filter still holds it)");
        CHECK(spate_driver_commit(d, SPATE_DRIVER_COMMIT_ALL) == 0, "commit");
        CHECK(spate_driver_crash(d, 1, err, sizeof(err)) == 0, "crash: %s", err);
        CHECK(spate_driver_assign(d) == 0, "restore: %s", spate_driver_ctx(d)->errstr);
        CHECK(kv_at(d, 2, &kv) == 0 && spate_wkv_put(kv, "first", 5, 9800, "f", 1) == 0,
              "a put as the restored task's first call (the filters are read before it)");
        CHECK_STR(fetch_all(kv, "late"), "9700=l;", "late, restored");
        CHECK_STR(fetch_all(kv, "old3"), "9600=o;", "old3, restored");
        CHECK_STR(fetch_all(kv, "first"), "9800=f;", "first");
        CHECK(spate_wkv_advance(kv, 10499, NULL) == 0, "10499: the segment [9000, 9500) expires");
        CHECK_STR(fetch_all(kv, "old2"), "", "old2 expired with its segment");
        CHECK_STR(fetch_all(kv, "old3"), "9600=o;", "old3 lives");
        CHECK(spate_wkv_put(kv, "old2", 4, 10490, "n", 1) == 0, "old2 again, in a new segment");
        CHECK_STR(fetch_all(kv, "old2"), "10490=n;", "old2's new entry");
        spate_driver_destroy(d);
}

/* A plain key-value store's meta record ('M', version 1): what dedupe's
 * store wrote before it was windowed. */
static size_t old_meta(unsigned char *b, int64_t next_offset, int64_t changelog_next, int64_t stream_time) {
        b[0] = 'M';
        b[1] = 1;
        spate_put_be64(b + 2, next_offset);
        spate_put_be64(b + 10, changelog_next);
        spate_put_be64(b + 18, stream_time);
        return 26;
}

/* State of the plain layout ([key] -> 8-byte time) is refused, not read as
 * segments: in the changelog it stops the restore with a message saying to
 * reset; in the local column family it is dropped and rebuilt from the
 * changelog. */
static void test_old_state(void) {
        spate_driver_t *d = driver(NULL);
        spate_kv_t *kv;
        unsigned char m[32], t8[8], key[4] = { 0x01, 'o', 'l', 'd' };
        char got[256], err[512];
        fetched_t f = { got, 0, sizeof(got) };
        spate_put_be64(t8, 5000);
        spate_driver_pipe(d, "t.in", 0, "f", "{}", 0);
        spate_driver_pipe(d, "t.in", 0, "f", "{}", 0);
        spate_driver_pipe_bytes(d, "drv-dd-seen-changelog", 0, key, sizeof(key), t8, sizeof(t8), 0);
        spate_driver_pipe_bytes(d, "drv-dd-seen-changelog", 0, "", 1, m, old_meta(m, 1, 0, 5000), 0);
        CHECK(spate_driver_crash(d, 0, err, sizeof(err)) == 0, "crash: %s", err);
        CHECK(spate_driver_assign(d) != 0 && strstr(spate_driver_ctx(d)->errstr, "windowed") &&
              strstr(spate_driver_ctx(d)->errstr, "reset"),
              "an old changelog stops the restore: %s", spate_driver_ctx(d)->errstr);
        spate_driver_destroy(d);

        d = driver(NULL);
        spate_driver_pipe(d, "t.in", 0, "f", "{}", 0);
        spate_driver_pipe(d, "t.in", 0, "f", "{}", 0);
        CHECK(kv_at(d, 0, &kv) == 0 && spate_wkv_advance(kv, 10000, NULL) == 0 &&
              spate_wkv_put(kv, "a", 1, 9900, "v", 1) == 0, "a put");
        CHECK(spate_driver_commit(d, SPATE_DRIVER_COMMIT_ALL) == 0, "commit");
        spate_store_t *store = spate_ctx_store(spate_driver_ctx(d));
        spate_store_cf_t *cf;
        spate_store_batch_t *b = spate_store_batch_new();
        CHECK(spate_store_cf(store, "kv.dd.seen-0", &cf, err, sizeof(err)) == 0, "the column family: %s", err);
        spate_store_batch_put(b, cf, key, sizeof(key), t8, sizeof(t8));
        spate_store_batch_put(b, cf, "", 1, m, old_meta(m, 1, 0, 5000));
        CHECK(spate_store_write(store, b, err, sizeof(err)) == 0, "an old checkpoint written: %s", err);
        spate_store_batch_destroy(b);
        CHECK(spate_driver_crash(d, 1, err, sizeof(err)) == 0, "crash: %s", err);
        CHECK(spate_driver_assign(d) == 0, "restore: %s", spate_driver_ctx(d)->errstr);
        int stored = 0;
        CHECK(kv_at(d, 1, &kv) == 0 && spate_kv_each(kv, count_each, &stored) == 0 && stored == 1,
              "the old local state dropped, rebuilt from the changelog: %d entries", stored);
        CHECK(spate_wkv_fetch(kv, "a", 1, 0, 20000, on_fetch, &f) == 0, "fetch");
        CHECK_STR(got, "9900=v;", "a as the changelog has it");
        CHECK(spate_kv_stream_time(kv) == 10000, "the stream time of the changelog's commit");
        spate_driver_destroy(d);
}

int main(void) {
        test_boundaries();
        test_filters();
        test_old_state();
        run_rounds(NULL, 40, 40, 60, "40 keys in memory");
        /* Some 4000 entries of 800-byte values live: more than a 1 MB cache holds. */
        val_width = 800;
        step_max = 2;
        max_stored = 0;
        max_cached = 0;
        run_rounds("settings:\n  state_memory_mb: 1\n", 4000, 12, 6000, "state larger than a 1 MB cache");
        CHECK(max_cached <= 1.1 * 1048576 && max_stored * 800.0 > 2 * max_cached,
              "the state (%d entries of 800 bytes) outgrew the cache (at most %.0f bytes): the fetches that "
              "matched the reference read through to RocksDB", max_stored, max_cached);
        return CHECK_DONE();
}
