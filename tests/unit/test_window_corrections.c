/* test_window_corrections.c - a window's corrections (dedupe_by, corrections:
 * replace|ignore; winstate.h) run by the test driver: every final window and
 * every dead letter checked against a reference computed here ("the latest
 * version of each id wins", per window), through revisions of closed windows
 * within retention, corrections past it, a crash at every step of every
 * commit (with and without the local state) and the load-time refusals. */
#include "check.h"
#include "../driver/window_recs.h"
#include "../../operators/window/winstate.h"
#include "../../util/util.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLOCK0 1000000
#define MAXR 128

static spate_driver_t *driver_win(const char *win, const char *extra, const char *aggs, char *err,
                                  size_t errsize) {
        char yaml[2048];
        snprintf(yaml, sizeof(yaml),
                 "application: drv\n"
                 "kafka:\n  bootstrap.servers: 127.0.0.1:1\n"
                 "nodes:\n"
                 "  - name: in\n    type: kafka_source\n    topic: t.in\n    partitions: 2\n    time: t\n"
                 "  - name: win\n    type: window\n    from: in\n%s"
                 "    emit: final\n    dedupe_by: id\n%s"
                 "    aggregates:\n%s"
                 "  - name: out\n    type: kafka_sink\n    from: win\n    topic: t.out\n    partitions: 1\n",
                 win, extra, aggs);
        return spate_driver_new(yaml, CLOCK0, err, errsize);
}

static spate_driver_t *driver_yaml(const char *extra, const char *aggs, char *err, size_t errsize) {
        return driver_win("    window: tumbling\n    size: 1s\n", extra, aggs, err, errsize);
}

static const char *AGGS = "      count: count()\n      sum: sum(v)\n      mean: mean(v)\n"
                          "      big: count_if(v > 10)\n      sd: stddev(v)\n";

static spate_driver_t *driver(const char *mode) {
        char extra[128], err[1024];
        snprintf(extra, sizeof(extra), "    corrections: %s\n", mode);
        spate_driver_t *d = driver_yaml(extra, AGGS, err, sizeof(err));
        if (!d) {
                printf("Bail out! driver: %s\n", err);
                exit(1);
        }
        return d;
}

/* --- the reference: tumbling 1 s, grace 0, retention 1 s, per partition --- */

typedef struct {
        char g[8];
        int64_t start;
        int ids[MAXR], vals[MAXR], n;
} refwin_t;

typedef struct {
        refwin_t w[MAXR];
        int nw;
        int late[MAXR], nlate;   /* indexes of dead-lettered records */
        int revised;             /* corrections that revised a closed window */
} ref_t;

static void ref_run(ref_t *ref, const rec_t *r, int n, int ignore) {
        int64_t st[2] = { INT64_MIN, INT64_MIN };
        memset(ref, 0, sizeof(*ref));
        for (int i = 0; i < n; i++) {
                const rec_t *x = &r[i];
                int64_t start = x->t - ((x->t % 1000) + 1000) % 1000;
                int k = 0, j = 0;
                if (x->t > st[x->p])
                        st[x->p] = x->t;
                while (k < ref->nw && (strcmp(ref->w[k].g, x->g) || ref->w[k].start != start))
                        k++;
                refwin_t *w = k < ref->nw ? &ref->w[k] : NULL;
                while (w && j < w->n && w->ids[j] != x->id)
                        j++;
                int closed = start + 1000 <= st[x->p], kept = st[x->p] < start + 2000;
                if (closed && !(w && j < w->n && kept)) {
                        ref->late[ref->nlate++] = i;
                        continue;
                }
                ref->revised += closed && !ignore;
                if (!w) {
                        w = &ref->w[ref->nw++];
                        snprintf(w->g, sizeof(w->g), "%s", x->g);
                        w->start = start;
                }
                if (j == w->n) {
                        w->ids[w->n] = x->id;
                        w->vals[w->n++] = x->v;
                } else if (!ignore) {
                        w->vals[j] = x->v;
                }
        }
}

static double field(const char *json, const char *name, int *isnull) {
        char pat[32];
        snprintf(pat, sizeof(pat), "\"%s\":", name);
        const char *p = json ? strstr(json, pat) : NULL;
        *isnull = !p || !strncmp(p + strlen(pat), "null", 4);
        return p && !*isnull ? strtod(p + strlen(pat), NULL) : NAN;
}

/* Each reference window is its key's last value in t.out: count, sum, mean
 * and count_if exact, stddev (Welford run backwards) to 1e-9; no other key. */
static int check_windows(spate_driver_t *d, const ref_t *ref, const char *what, int quiet) {
        char key[64], iso[32];
        int bad = 0;
        for (int i = 0; i < ref->nw; i++) {
                const refwin_t *w = &ref->w[i];
                double sum = 0, ss = 0, mean;
                int big = 0, nul[5];
                for (int j = 0; j < w->n; j++) {
                        sum += w->vals[j];
                        big += w->vals[j] > 10;
                }
                mean = sum / w->n;
                for (int j = 0; j < w->n; j++)
                        ss += (w->vals[j] - mean) * (w->vals[j] - mean);
                spate_fmt_iso_ms(w->start, iso, sizeof(iso));
                snprintf(key, sizeof(key), "%s@%s", w->g, iso);
                const spate_driver_msg_t *m = spate_driver_latest(d, "t.out", key);
                const char *v = m ? m->value : NULL;
                double sd = field(v, "sd", &nul[4]);
                int ok = v && field(v, "count", &nul[0]) == w->n && field(v, "sum", &nul[1]) == sum &&
                         field(v, "mean", &nul[2]) == mean && field(v, "big", &nul[3]) == big &&
                         (w->n < 2 ? nul[4] : !nul[4] && fabs(sd - sqrt(ss / (w->n - 1))) <= 1e-9);
                if (!ok) {
                        bad++;
                        if (!quiet)
                                printf("# %s: %s: got %s, want count %d sum %g mean %.17g big %d sd %.17g\n",
                                       what, key, v ? v : "(none)", w->n, sum, mean, big,
                                       w->n < 2 ? NAN : sqrt(ss / (w->n - 1)));
                }
        }
        int got = distinct_keys(d, "t.out");
        CHECK(bad == 0 && got == ref->nw, "%s: %d windows, %d wrong (want %d windows)", what, got, bad, ref->nw);
        return bad;
}

/* The dead letters are the reference's late records (each at least once:
 * a replay dead-letters again), with the reason. */
static void check_dlq(spate_driver_t *d, const ref_t *ref, const rec_t *r, const int64_t *offs,
                      const char *what) {
        int64_t n = spate_driver_count(d, "drv-dlq", 0);
        int missing = 0, extra = 0, reason = 1;
        for (int i = 0; i < ref->nlate; i++) {
                int found = 0;
                char part[8], off[24];
                snprintf(part, sizeof(part), "%d", r[ref->late[i]].p);
                snprintf(off, sizeof(off), "%lld", (long long)offs[ref->late[i]]);
                for (int64_t k = 0; k < n && !found; k++) {
                        const spate_driver_msg_t *m = spate_driver_msg(d, "drv-dlq", 0, k);
                        found = !strcmp(spate_driver_header(m, "spate.partition"), part) &&
                                !strcmp(spate_driver_header(m, "spate.offset"), off);
                }
                missing += !found;
        }
        for (int64_t k = 0; k < n; k++) {
                const spate_driver_msg_t *m = spate_driver_msg(d, "drv-dlq", 0, k);
                const char *e = spate_driver_header(m, "spate.error");
                int known = 0;
                reason &= e && strstr(e, "no closed window kept") && strstr(e, "earlier version") != NULL;
                for (int i = 0; i < ref->nlate && !known; i++) {
                        char part[8], off[24];
                        snprintf(part, sizeof(part), "%d", r[ref->late[i]].p);
                        snprintf(off, sizeof(off), "%lld", (long long)offs[ref->late[i]]);
                        known = !strcmp(spate_driver_header(m, "spate.partition"), part) &&
                                !strcmp(spate_driver_header(m, "spate.offset"), off);
                }
                extra += !known;
        }
        CHECK(!missing && !extra && reason, "%s: dead letters: %d of %d missing, %d unexpected, reason %s",
              what, missing, ref->nlate, extra, reason ? "given" : "wrong");
}

static void offsets_of(const rec_t *r, int n, int64_t *offs) {
        int64_t next[2] = { 0, 0 };
        for (int i = 0; i < n; i++)
                offs[i] = next[r[i].p]++;
}

/* The rules on a small script: versions in an open window, a version of a
 * closed window within retention (revised, emitted again), one past it and
 * a new id after the close (dead letters); ignore keeps first versions. */
static void test_rules(void) {
        static const rec_t r[] = {
                { 0, "a", 100, 5, 1 }, { 0, "a", 200, 7, 2 }, { 0, "a", 300, 20, 1 },  /* r1: 5 -> 20 */
                { 0, "a", 1100, 4, 3 },                                                  /* closes [0,1) */
                { 0, "a", 250, 9, 2 },       /* closed, kept: revised (7 -> 9) */
                { 0, "a", 400, 1, 4 },       /* a new id in a closed window: late */
                { 0, "a", 1200, 2, 3 }, { 0, "a", 1300, 6, 3 },                          /* r3 twice more */
                { 1, "b", 500, 3, 1 },       /* same id, another key: its own reading */
                { 0, "a", 2100, 8, 5 },      /* closes [1,2) */
                { 0, "a", 3000, 11, 5 },     /* another window: r5's version there */
                { 0, "a", 150, 2, 1 },       /* [0,1) past retention (2 s): late */
                { 0, "a", 1900, 1, 3 },      /* [1,2) kept until 3 s: at 3 s gone: late */
        };
        enum { N = sizeof(r) / sizeof(*r) };
        int64_t offs[N];
        offsets_of(r, N, offs);
        for (int ignore = 0; ignore <= 1; ignore++) {
                const char *what = ignore ? "ignore" : "replace";
                ref_t ref;
                ref_run(&ref, r, N, ignore);
                if (!ignore)
                        CHECK(ref.nw == 5 && ref.nlate == 3 && ref.revised == 1,
                              "reference: 5 windows, 3 late, 1 revision (%d, %d, %d)", ref.nw, ref.nlate,
                              ref.revised);
                spate_driver_t *d = driver(what);
                pipe_recs(d, r, 4);
                step(d);
                const spate_driver_msg_t *m = spate_driver_latest(d, "t.out", "a@1970-01-01T00:00:00Z");
                int nul;
                CHECK(m && field(m->value, "count", &nul) == 2 && field(m->value, "sum", &nul) == (ignore ? 12 : 27),
                      "%s: [0,1) closes with r1's %s version: %s", what, ignore ? "first" : "last",
                      m ? m->value : "(none)");
                pipe_recs(d, r + 4, 1);
                step(d);
                m = spate_driver_latest(d, "t.out", "a@1970-01-01T00:00:00Z");
                CHECK(m && field(m->value, "sum", &nul) == (ignore ? 12 : 29),
                      "%s: a version of a closed window %s: %s", what, ignore ? "is dropped" : "revises it",
                      m ? m->value : "(none)");
                CHECK(spate_driver_count(d, "t.out", 0) == (ignore ? 1 : 2), "%s: %s", what,
                      ignore ? "nothing emitted again" : "the revision is emitted again");
                pipe_recs(d, r + 5, N - 5);
                step(d);
                CHECK(spate_driver_end_of_input(d, 10) == 0, "%s: end of input drains", what);
                check_windows(d, &ref, what, 0);
                check_dlq(d, &ref, r, offs, what);
                spate_driver_destroy(d);
        }
}

/* --- kill -9 at every step of every commit --- */

/* Readings of keys a, b (partition 0) and c (partition 1), ids reused so
 * that a third of them are versions, times moving forward with jumps back:
 * versions in open windows, revisions, and dead letters past retention. */
static int crash_records(rec_t *r) {
        static const char *keys[] = { "a", "b", "c" };
        uint32_t x = 12345;
        int n = 0;
        int64_t t[2] = { 0, 0 };
        for (int i = 0; i < 90; i++) {
                x = x * 1103515245u + 12345u;
                int k = (int)(x >> 16) % 3, p = k == 2;
                t[p] += 40 + (int64_t)((x >> 8) % 60);
                int64_t back = (x >> 4) % 5 == 0 ? 700 + (int64_t)((x >> 12) % 1000) : 0;
                r[n++] = (rec_t){ p, keys[k], t[p] - back, (int)((x >> 3) % 25), 1 + (int)((x >> 20) % 8) };
        }
        return n;
}


/* Records in chunks of 15, a commit after each; the commit after chunk
 * `at` crashes at step s (kept_pct >= 0: mid-flush, that share of its
 * messages delivered); a restart with or without the state directory. */
static int crash_run(const rec_t *r, int n, const ref_t *ref, const int64_t *offs, int at,
                     spate_driver_stage_t s, int keep, int kept_pct) {
        char what[128], err[1024];
        snprintf(what, sizeof(what), "crash at commit %d %s%s, %s", at, spate_driver_stage_name(s),
                 kept_pct >= 0 ? " (part delivered)" : "", keep ? "state kept" : "state lost");
        spate_driver_t *d = driver("replace");
        for (int c = 0, i = 0; i < n; c++, i += 15) {
                pipe_recs(d, r + i, n - i < 15 ? n - i : 15);
                spate_driver_process(d);
                if (c != at) {
                        commit(d);
                        continue;
                }
                CHECK(spate_driver_commit(d, s) == 0, "%s: commit", what);
                if (kept_pct >= 0)
                        spate_driver_lose_unacked(d, spate_driver_unacked(d) * (size_t)kept_pct / 100);
                CHECK(spate_driver_crash(d, keep, err, sizeof(err)) == 0, "%s: crash: %s", what, err);
                CHECK(spate_driver_assign(d) == 0, "%s: restore: %s", what, spate_driver_ctx(d)->errstr);
                step(d);
        }
        CHECK(spate_driver_end_of_input(d, 10) == 0, "%s: end of input drains", what);
        int bad = check_windows(d, ref, what, 0);
        check_dlq(d, ref, r, offs, what);
        spate_driver_destroy(d);
        return bad;
}

static void test_crashes(void) {
        rec_t r[MAXR];
        int n = crash_records(r);
        int64_t offs[MAXR];
        ref_t ref;
        offsets_of(r, n, offs);
        ref_run(&ref, r, n, 0);
        int versions = 0;
        for (int i = 0; i < ref.nw; i++)
                versions += ref.w[i].n;
        CHECK(ref.revised >= 3 && ref.nlate >= 3 && versions + ref.nlate < n,
              "crash records: %d windows, %d revisions, %d dead letters, %d versions replaced in open windows",
              ref.nw, ref.revised, ref.nlate, n - versions - ref.nlate - ref.revised);
        for (int at = 0; at * 15 < n; at++)
                for (spate_driver_stage_t s = SPATE_DRIVER_AFTER_FLUSH; s <= SPATE_DRIVER_AFTER_CHECKPOINT; s++)
                        for (int keep = 0; keep <= 1; keep++)
                                crash_run(r, n, &ref, offs, at, s, keep, -1);
        static const int pct[] = { 10, 50, 90 };
        for (int at = 1; at <= 3; at++)
                for (size_t i = 0; i < sizeof(pct) / sizeof(*pct); i++)
                        crash_run(r, n, &ref, offs, at, SPATE_DRIVER_AFTER_FLUSH, 1, pct[i]);
}

/* --- refused at load, with the file, line and what to do --- */

static void load_error(const char *extra, const char *aggs, const char *want, const char *what) {
        char err[1024] = "";
        spate_driver_t *d = driver_yaml(extra, aggs, err, sizeof(err));
        CHECK(!d && strstr(err, want) && strstr(err, ":"), "%s: %s", what, err);
        spate_driver_destroy(d);
}

static void test_load(void) {
        load_error("", "      count: count()\n      hi: max(v)\n", "max() cannot take back",
                   "replace with max() refused");
        char err[1024] = "";
        spate_driver_t *g = driver_yaml("    group_by: g\n", "      count: count()\n", err, sizeof(err));
        CHECK(g != NULL, "with group_by (each record's id goes through the repartition; 0781 runs it): %s",
              err);
        spate_driver_destroy(g);
        spate_driver_t *d = driver_yaml("    corrections: ignore\n", "      hi: max(v)\n      f: first(v)\n",
                                        err, sizeof(err));
        CHECK(d != NULL, "ignore takes any aggregate: %s", err);
        spate_driver_destroy(d);
}

/* A record without an id cannot be told from its versions: dead-lettered, the window unchanged. */
static void test_no_id(void) {
        spate_driver_t *d = driver("replace");
        spate_driver_pipe(d, "t.in", 0, "a", "{\"g\":\"a\",\"t\":100,\"v\":1}", 0);
        spate_driver_pipe(d, "t.in", 0, "a", "{\"g\":\"a\",\"id\":null,\"t\":200,\"v\":2}", 0);
        pipe_recs(d, (rec_t[]){ { 0, "a", 300, 4, 1 } }, 1);
        step(d);
        CHECK(spate_driver_end_of_input(d, 10) == 0, "no id: end of input drains");
        const spate_driver_msg_t *m = spate_driver_latest(d, "t.out", "a@1970-01-01T00:00:00Z");
        int nul;
        CHECK(m && field(m->value, "count", &nul) == 1 && field(m->value, "sum", &nul) == 4,
              "no id: only the reading with an id is in the window: %s", m ? m->value : "(none)");
        int ok = spate_driver_count(d, "drv-dlq", 0) == 2;
        for (int k = 0; ok && k < 2; k++) {
                const char *e = spate_driver_header(spate_driver_msg(d, "drv-dlq", 0, k), "spate.error");
                ok = e && strstr(e, "dedupe_by");
                printf("# %s\n", e ? e : "(none)");
        }
        CHECK(ok, "no id: both records dead-lettered, the reason names dedupe_by");
        spate_driver_destroy(d);
}

/* Hopping windows (2 s every 1 s): a version replaces its reading in each
 * window it falls in - revising the closed one, updating the open one. */
static void test_hopping(void) {
        static const rec_t r[] = {
                { 0, "a", 1500, 5, 1 }, { 0, "a", 1500, 7, 1 },   /* in [0,2) and [1,3) */
                { 0, "a", 2100, 1, 2 },                           /* closes [0,2) */
                { 0, "a", 1500, 9, 1 },                           /* revises [0,2), updates [1,3) */
        };
        static const struct { const char *key; int count, sum; } want[] = {
                { "a@1970-01-01T00:00:00Z", 1, 9 }, { "a@1970-01-01T00:00:01Z", 2, 10 },
                { "a@1970-01-01T00:00:02Z", 1, 1 },
        };
        char err[1024];
        spate_driver_t *d = driver_win("    window: hopping\n    size: 2s\n    advance: 1s\n", "",
                                       "      count: count()\n      sum: sum(v)\n", err, sizeof(err));
        CHECK(d != NULL, "hopping: %s", d ? "loads" : err);
        if (!d)
                return;
        pipe_recs(d, r, 3);
        step(d);
        pipe_recs(d, r + 3, 1);
        step(d);
        CHECK(spate_driver_end_of_input(d, 10) == 0, "hopping: end of input drains");
        for (int i = 0; i < 3; i++) {
                const spate_driver_msg_t *m = spate_driver_latest(d, "t.out", want[i].key);
                int nul;
                CHECK(m && field(m->value, "count", &nul) == want[i].count && field(m->value, "sum", &nul) == want[i].sum,
                      "hopping: %s count %d sum %d: %s", want[i].key, want[i].count, want[i].sum,
                      m ? m->value : "(none)");
        }
        CHECK(spate_driver_count(d, "drv-dlq", 0) == 0, "hopping: no dead letter");
        spate_driver_destroy(d);
}

int main(void) {
        test_load();
        test_hopping();
        test_no_id();
        test_rules();
        test_crashes();
        return CHECK_DONE();
}
