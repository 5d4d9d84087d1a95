/* test_window_driver.c - the window task (window_task.c) and its repartition
 * halves (window_repart.c, window_combine.c) run by the test driver over
 * in-memory topics: every final window and every dead letter checked
 * exactly against a reference computed here, through late-starting source
 * partitions, crashes at each step of a commit (with and without the local
 * state), end of input, a restore of many partitions at once, and a restore
 * from a standby's warm copy. */
#include "check.h"
#include "../driver/window_recs.h"
#include "../../operators/window/winstate.h"
#include "../../engine/node_state.h"
#include "../../util/util.h"
#include "../../engine/topology.h"
#include "../../state/kv.h"
#include "../../state/store.h"
#include "../../util/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLOCK0 1000000

/* A topology: t.in (partitions) -> window win (tumbling 1 s, grace from
 * the argument) -> t.out; group_by g when grouped. */
static spate_driver_t *driver_parts(int grouped, const char *extra, int partitions) {
        char yaml[2048];
        snprintf(yaml, sizeof(yaml),
                 "application: drv\n"
                 "kafka:\n  bootstrap.servers: 127.0.0.1:1\n"
                 "nodes:\n"
                 "  - name: in\n    type: kafka_source\n    topic: t.in\n    partitions: %d\n    time: t\n"
                 "  - name: win\n    type: window\n    from: in\n    window: tumbling\n    size: 1s\n"
                 "    emit: final\n    partitions: %d\n%s%s"
                 "    aggregates:\n      count: count()\n      sum: sum(v)\n"
                 "  - name: out\n    type: kafka_sink\n    from: win\n    topic: t.out\n    partitions: 1\n",
                 partitions, partitions, grouped ? "    group_by: g\n" : "", extra ? extra : "");
        return spate_driver_new_or_bail(yaml, CLOCK0);
}

static spate_driver_t *driver(int grouped, const char *extra) {
        return driver_parts(grouped, extra, 2);
}

/* --- the reference: per source partition stream time, tumbling 1 s --- */

typedef struct {
        char g[8];
        int64_t start;
        int count, sum;
} refwin_t;

typedef struct {
        refwin_t w[64];
        int nw;
        int late[64];      /* indexes of late records */
        int nlate;
} ref_t;

static void ref_add(ref_t *ref, const rec_t *r, int n, int64_t grace) {
        int64_t st[2] = { INT64_MIN, INT64_MIN };
        /* records of one partition in the order given (a partition is ordered) */
        for (int i = 0; i < n; i++) {
                const rec_t *x = &r[i];
                int64_t start = x->t - ((x->t % 1000) + 1000) % 1000;
                if (x->t > st[x->p])
                        st[x->p] = x->t;
                if (start + 1000 + grace <= st[x->p]) {
                        ref->late[ref->nlate++] = i;
                        continue;
                }
                int k = 0;
                while (k < ref->nw && (strcmp(ref->w[k].g, x->g) || ref->w[k].start != start))
                        k++;
                if (k == ref->nw) {
                        ref->nw++;
                        snprintf(ref->w[k].g, sizeof(ref->w[k].g), "%s", x->g);
                        ref->w[k].start = start;
                }
                ref->w[k].count++;
                ref->w[k].sum += x->v;
        }
}

/* Every reference window is the last value of its key in t.out, and t.out
 * holds no other key. With `only` >= 0, only that many windows are expected
 * (those given first in ref). */
static void check_windows(spate_driver_t *d, const ref_t *ref, int only, const char *what) {
        char key[64], want[256], iso[32];
        int n = only >= 0 ? only : ref->nw;
        for (int i = 0; i < n; i++) {
                const refwin_t *w = &ref->w[i];
                spate_fmt_iso_ms(w->start, iso, sizeof(iso));
                snprintf(key, sizeof(key), "%s@%s", w->g, iso);
                snprintf(want, sizeof(want), "{\"key\":\"%s\",\"window_start\":%lld,\"window_end\":%lld,"
                         "\"count\":%d,\"sum\":%d}", w->g, (long long)w->start, (long long)w->start + 1000,
                         w->count, w->sum);
                const spate_driver_msg_t *m = spate_driver_latest(d, "t.out", key);
                char label[128];
                snprintf(label, sizeof(label), "%s: window %s", what, key);
                CHECK_STR(m ? m->value : NULL, want, label);
        }
        int got = distinct_keys(d, "t.out");
        CHECK(got == n, "%s: %d windows in t.out, want %d", what, got, n);
}

/* The reference's late records are the DLQ, in order, as the source
 * records with their origin. */
static void check_dlq(spate_driver_t *d, const ref_t *ref, const rec_t *r, const int64_t *offsets,
                      const char *what) {
        int64_t n = spate_driver_count(d, "drv-dlq", 0);
        CHECK(n == ref->nlate, "%s: %lld dead letters, want %d", what, (long long)n, ref->nlate);
        for (int i = 0; i < ref->nlate && i < n; i++) {
                const spate_driver_msg_t *m = spate_driver_msg(d, "drv-dlq", 0, i);
                const rec_t *x = &r[ref->late[i]];
                char v[256], off[24], part[8];
                rec_json(x, v, sizeof(v));
                snprintf(off, sizeof(off), "%lld", (long long)offsets[ref->late[i]]);
                snprintf(part, sizeof(part), "%d", x->p);
                CHECK_STR(m->value, v, "dead letter is the source record");
                CHECK_STR(spate_driver_header(m, "spate.topic"), "t.in", "spate.topic");
                CHECK_STR(spate_driver_header(m, "spate.partition"), part, "spate.partition");
                CHECK_STR(spate_driver_header(m, "spate.offset"), off, "spate.offset");
                CHECK_STR(spate_driver_header(m, "spate.node"), "win", "spate.node");
                const char *e = spate_driver_header(m, "spate.error");
                CHECK(e && strstr(e, "late"), "%s: spate.error says late: %s", what, e ? e : "(none)");
        }
}

/* A grouped window whose partition 1 starts late, three hours of event
 * time behind in 0840; here 5 s behind partition 0, which already closed
 * those windows by its own time: partition 1's records are on time by
 * their own partition, and a partition that never had a record holds the
 * windows (4ae822f). */
static void test_late_partition(void) {
        static const rec_t r[] = {
                { 0, "a", 100, 1, 0 }, { 0, "a", 1500, 2, 0 }, { 0, "b", 2500, 3, 0 }, { 0, "a", 5200, 4, 0 },
                /* partition 1 starts: behind partition 0 */
                { 1, "a", 300, 10, 0 }, { 1, "b", 1200, 20, 0 },
                { 1, "a", 5300, 100, 0 }, { 0, "a", 900, 7, 0 },  /* late by partition 0's time */
        };
        int64_t offs[8] = { 0, 1, 2, 3, 0, 1, 2, 4 };
        spate_driver_t *d = driver(1, NULL);
        ref_t ref = { 0 };
        ref_add(&ref, r, 8, 0);
        CHECK(ref.nw == 5 && ref.nlate == 1, "reference: 5 windows, 1 late record");

        pipe_recs(d, r, 4);
        step(d);
        CHECK(spate_driver_count_all(d, "t.out") == 0, "late start: partition 1 had no record: no window closes");
        CHECK(spate_driver_committed_time(d, "win", "t.in", 0) == 5200,
              "partition 0's stream time is committed with its offset (%lld)",
              (long long)spate_driver_committed_time(d, "win", "t.in", 0));
        CHECK(spate_driver_committed(d, "t.in", 0) == 4, "partition 0 committed at 4");

        pipe_recs(d, r + 4, 2);
        step(d);
        CHECK(spate_driver_count(d, "drv-dlq", 0) == 0, "late start: partition 1's records are not late");
        /* task time min(5200, 1200): [0, 1 s) closed, nothing after it */
        ref_t first = { 0 };
        ref_add(&first, (rec_t[]){ r[0], r[4] }, 2, 0);
        check_windows(d, &first, 1, "late start, partition 1 at 1.2 s");

        pipe_recs(d, r + 6, 2);
        step(d);
        CHECK(spate_driver_count_all(d, "t.out") >= 4, "partition 1 at 5.3 s closes the windows before 5 s");
        CHECK(spate_driver_end_of_input(d, 10) == 0, "end of input drains");
        check_windows(d, &ref, -1, "late start, end of input");
        check_dlq(d, &ref, r, offs, "late start");
        spate_driver_destroy(d);
}

/* Records of 2 partitions, 150 ms apart, 3 batches: windows close during the
 * run and some are open across the crash. Grouped, every group has records
 * of both partitions; else a key is in one partition, as a window without
 * group_by needs. */
static int crash_records(rec_t *r, int grouped) {
        static const char *groups[] = { "a", "b", "c" };
        int n = 0;
        for (int i = 0; i < 60; i++)
                r[n++] = (rec_t){ i % 2, grouped ? groups[i % 3] : groups[(i % 2) * 2 + (i / 2) % 2 * (1 - i % 2)],
                                  150 * (i / 2) + 7 * (i % 2), i + 1, 0 };
        return n;
}


static void crash(spate_driver_t *d, int keep) {
        char err[1024];
        CHECK(spate_driver_crash(d, keep, err, sizeof(err)) == 0, "crash: %s", err);
        CHECK(spate_driver_assign(d) == 0, "reassign (restore): %s", spate_driver_ctx(d)->errstr);
}

/* One run of crash_records(): a commit, then a crash at step s of the next
 * commit - with group_by at = 1 is the commit that sends the second batch's
 * combined records, 2 the next one, which the task applied them before -
 * a restart keeping the state directory or not, the rest of the records and
 * end of input: the windows of a run without a crash, no dead letter. With
 * kept_pct >= 0 the crash is in the middle of the flush: only that share of
 * what it produced reached the broker. */
static void crash_run(int grouped, int at, spate_driver_stage_t s, int keep, int kept_pct) {
        rec_t r[64];
        int n = crash_records(r, grouped);
        ref_t ref = { 0 };
        char what[128];
        ref_add(&ref, r, n, 0);
        snprintf(what, sizeof(what), "%s, crash at the %s commit %s%s, %s", grouped ? "group_by" : "direct",
                 at == 2 ? "applying" : grouped ? "sending" : "second", spate_driver_stage_name(s),
                 kept_pct >= 0 ? " (part of it delivered)" : "", keep ? "state kept" : "state lost");
        spate_driver_t *d = driver(grouped, NULL);
        pipe_recs(d, r, 20);
        step(d);
        pipe_recs(d, r + 20, 20);
        spate_driver_process(d);
        if (at == 2) {
                commit(d);
                spate_driver_process(d);
        }
        int64_t sent = spate_driver_count_all(d, "drv-win-repartition");
        CHECK(spate_driver_commit(d, s) == 0, "%s: commit", what);
        if (grouped && at == 1) {
                CHECK(spate_driver_committed_cut(d, "win", "t.in", 0) == spate_driver_count(d, "t.in", 0),
                      "%s: the cut is committed before the batches leave (%lld)", what,
                      (long long)spate_driver_committed_cut(d, "win", "t.in", 0));
                CHECK(spate_driver_count_all(d, "drv-win-repartition") > sent, "%s: the batches left", what);
        }
        if (kept_pct >= 0) {
                size_t all = spate_driver_unacked(d), kept = all * (size_t)kept_pct / 100;
                spate_driver_lose_unacked(d, kept);
                snprintf(what + strlen(what), sizeof(what) - strlen(what), ", %zu of %zu messages", kept, all);
        }
        crash(d, keep);
        pipe_recs(d, r + 40, n - 40);
        step(d);
        CHECK(spate_driver_end_of_input(d, 10) == 0, "%s: end of input drains", what);
        check_windows(d, &ref, -1, what);
        CHECK(spate_driver_count(d, "drv-dlq", 0) == 0, "%s: no dead letters", what);
        spate_driver_destroy(d);
}

/* The window task, direct input: a crash between a commit's flush and its
 * checkpoint or offsets, then a restore, yields the windows of a run
 * without the crash - no record lost or counted twice. */
static void test_crash_direct(void) {
        for (spate_driver_stage_t s = SPATE_DRIVER_AFTER_FLUSH; s <= SPATE_DRIVER_AFTER_CHECKPOINT; s++)
                for (int keep = 0; keep <= 1; keep++)
                        crash_run(0, 1, s, keep, -1);
}

/* group_by: the upstream half combines each commit's records into batches
 * (window_combine.c), commits the cut, sends them; the task applies a batch
 * whole. A crash at the commit that sent them (the source replays below the
 * cut one by one) or at the next one (the task reads the batches again)
 * applies each record once. */
static void test_crash_repartition(void) {
        for (int at = 1; at <= 2; at++)
                for (spate_driver_stage_t s = SPATE_DRIVER_AFTER_FLUSH; s <= SPATE_DRIVER_AFTER_CHECKPOINT; s++)
                        for (int keep = 0; keep <= 1; keep++)
                                crash_run(1, at, s, keep, -1);
}

/* kill -9 in the middle of a flush: some of its changelog records (direct),
 * or its repartition batches (group_by), reached the broker, not the rest. */
static void test_crash_mid_flush(void) {
        static const int pct[] = { 0, 10, 34, 50, 67, 90 };
        for (int grouped = 0; grouped <= 1; grouped++)
                for (int at = 1; at <= 1 + grouped; at++)
                        for (size_t i = 0; i < sizeof(pct) / sizeof(*pct); i++)
                                crash_run(grouped, at, SPATE_DRIVER_AFTER_FLUSH, 1, pct[i]);
}

/* End of input closes every window, grouped or not, and is not committed
 * as a partition's time. */
static void test_end_of_input(void) {
        static const rec_t r[] = {
                { 0, "a", 100, 1, 0 }, { 1, "b", 150, 2, 0 }, { 0, "a", 999, 3, 0 }, { 1, "a", 1000, 4, 0 },
                { 0, "c", 7000, 5, 0 }, { 1, "b", 2500, 6, 0 },
        };
        ref_t ref = { 0 };
        ref_add(&ref, r, 6, 0);
        for (int grouped = 0; grouped <= 1; grouped++) {
                const char *what = grouped ? "end of input, group_by" : "end of input";
                spate_driver_t *d = driver(grouped, NULL);
                pipe_recs(d, r, 6);
                step(d);
                CHECK(spate_driver_end_of_input(d, 10) == 0, "%s: drains", what);
                check_windows(d, &ref, -1, what);
                if (grouped)
                        CHECK(spate_driver_committed_time(d, "win", "t.in", 0) == 7000 &&
                              spate_driver_committed_time(d, "win", "t.in", 1) == 2500,
                              "%s: the partitions keep their own times (%lld, %lld)", what,
                              (long long)spate_driver_committed_time(d, "win", "t.in", 0),
                              (long long)spate_driver_committed_time(d, "win", "t.in", 1));
                if (grouped) {
                        const spate_topology_t *t = spate_driver_topology(d);
                        CHECK(t->nnodes == 4 && !strcmp(t->nodes[1]->name, "win-repartition") &&
                              spate_driver_committed_time(d, "win-repartition", "t.in", 0) == INT64_MIN,
                              "%s: the repartition node files its times under its window's name", what);
                }
                spate_driver_destroy(d);
        }
}

/* close_after_idle under group_by: a quiet source partition's stream time
 * follows the (driver's) clock from the commit it went quiet at, and closes
 * the windows it held once that long has passed - not before. */
static void test_idle_partition(void) {
        static const rec_t r[] = { { 0, "a", 100, 1, 0 }, { 1, "a", 200, 2, 0 }, { 0, "a", 1100, 4, 0 } };
        ref_t ref = { 0 };
        ref_add(&ref, r, 3, 0);
        spate_driver_t *d = driver(1, "    close_after_idle: 5s\n");
        pipe_recs(d, r, 3);
        step(d);
        CHECK(spate_driver_count_all(d, "t.out") == 0, "idle: partition 1 at 200 ms holds the windows");
        spate_driver_advance(d, 4000);
        step(d);
        CHECK(spate_driver_count_all(d, "t.out") == 0, "idle: 4 s quiet, under close_after_idle: nothing closes");
        CHECK(spate_driver_committed_time(d, "win", "t.in", 1) == 200, "idle: partition 1's time stays 200 (%lld)",
              (long long)spate_driver_committed_time(d, "win", "t.in", 1));
        spate_driver_advance(d, 2000);
        step(d);
        CHECK(spate_driver_committed_time(d, "win", "t.in", 1) == 6200,
              "idle: 6 s quiet: partition 1's time follows the clock to 6200 (%lld)",
              (long long)spate_driver_committed_time(d, "win", "t.in", 1));
        check_windows(d, &ref, -1, "idle: both windows closed by the clock");
        spate_driver_destroy(d);
}

/* group_by with so many groups that one commit's batches for a downstream
 * partition exceed PACK_BYTES, and a kill -9 after some of the repartition
 * messages reached the broker: the records of the lost batches must be
 * replayed, those of the applied batches not applied again. A task takes
 * the first batch of a range as the whole range applied, so one commit's
 * batches for a partition must travel in one message (window_repart.c); with
 * several, 142 of 4000 windows were lost with 1 of 6 messages delivered. */
static void test_crash_between_batches(void) {
        enum { NG = 4000 };
        char g[16], v[96], key[48], want[160];
        for (size_t kept = 0; kept <= 1; kept++) {
                spate_driver_t *d = driver(1, NULL);
                for (int i = 0; i < NG; i++) {
                        snprintf(g, sizeof(g), "g%04d", i);
                        snprintf(v, sizeof(v), "{\"g\":\"%s\",\"t\":100,\"v\":%d}", g, i);
                        spate_driver_pipe(d, "t.in", i % 2, g, v, 0);
                }
                spate_driver_process(d);
                CHECK(spate_driver_commit(d, SPATE_DRIVER_AFTER_FLUSH) == 0, "many groups: flush");
                size_t all = spate_driver_unacked(d);
                CHECK(all == 2, "many groups: %zu repartition messages, one per downstream partition, "
                      "however large", all);
                spate_driver_lose_unacked(d, kept);
                crash(d, 1);
                step(d);
                CHECK(spate_driver_end_of_input(d, 10) == 0, "many groups: end of input drains");
                int bad = 0;
                for (int i = 0; i < NG; i++) {
                        snprintf(key, sizeof(key), "g%04d@1970-01-01T00:00:00Z", i);
                        snprintf(want, sizeof(want), "{\"key\":\"g%04d\",\"window_start\":0,"
                                 "\"window_end\":1000,\"count\":1,\"sum\":%d}", i, i);
                        const spate_driver_msg_t *m = spate_driver_latest(d, "t.out", key);
                        if (!m || strcmp(m->value, want)) {
                                if (!bad)
                                        printf("# %s: %s\n", key, m ? m->value : "(none)");
                                bad++;
                        }
                }
                CHECK(bad == 0, "many groups, %zu of %zu messages delivered: %d of %d windows wrong", kept, all,
                      bad, NG);
                CHECK(distinct_keys(d, "t.out") == NG, "many groups: %d windows", NG);
                spate_driver_destroy(d);
        }
}

/* --- resampling: fill: previous, fill_max: 3s --- */

/* Sensors a, b (partition 0) and c (partition 1) with silences of 1 to 4
 * intervals, and z, y keeping both partitions' time going to 9.5 and 9.6 s.
 * No record is late (each partition is in order). */
static const rec_t fill_recs[] = {
        { 0, "a", 100, 1, 0 }, { 1, "c", 400, 6, 0 }, { 0, "a", 250, 2, 0 }, { 0, "b", 300, 3, 0 },
        { 0, "z", 1500, 10, 0 }, { 1, "y", 1600, 20, 0 }, { 1, "c", 2100, 7, 0 }, { 0, "a", 3200, 4, 0 },
        { 0, "z", 4500, 11, 0 }, { 1, "y", 4600, 21, 0 }, { 0, "b", 5100, 5, 0 }, { 0, "z", 7000, 12, 0 },
        { 1, "y", 7100, 22, 0 }, { 0, "z", 9500, 13, 0 }, { 1, "y", 9600, 23, 0 },
};
#define NFILL ((int)(sizeof(fill_recs) / sizeof(*fill_recs)))

typedef struct {
        refwin_t w;
        int gap, stale;
        int nul;           /* the sum is null (fill: linear, a silent key) */
} fillwin_t;

/* The reference resampling, from the plain windows: each group's intervals
 * from its first on; an interval without records k intervals after the last
 * one with records is a gap (count 0, the sum carried) while k * 1 s <= 3 s,
 * the last of them stale; past the last records only while the interval
 * before closed by the stream time before the end (9.5 s: the least of the
 * partitions'; no interval closes between 9.5 and 9.6 s). */
static int fill_ref(const ref_t *ref, fillwin_t *out) {
        const int64_t fill_max = 3000, treal = 9500;
        int n = 0;
        for (int i = 0; i < ref->nw; i++) {
                const refwin_t *w = &ref->w[i];
                int first = 1;
                for (int j = 0; j < i; j++)
                        first &= strcmp(ref->w[j].g, w->g) != 0;
                if (!first)
                        continue;
                int64_t last = INT64_MIN;
                for (int j = 0; j < ref->nw; j++)
                        if (!strcmp(ref->w[j].g, w->g) && ref->w[j].start > last)
                                last = ref->w[j].start;
                const refwin_t *prev = NULL;
                for (int64_t s = w->start;; s += 1000) {
                        const refwin_t *here = NULL;
                        for (int j = 0; j < ref->nw; j++)
                                if (!strcmp(ref->w[j].g, w->g) && ref->w[j].start == s)
                                        here = &ref->w[j];
                        if (here) {
                                out[n++] = (fillwin_t){ *here, 0, 0, 0 };
                                prev = here;
                                continue;
                        }
                        int64_t k = (s - prev->start) / 1000;
                        if (s > last && (k * 1000 > fill_max || s > treal))
                                break;
                        if (k * 1000 > fill_max)
                                continue;
                        out[n] = (fillwin_t){ *prev, 1, (k + 1) * 1000 > fill_max, 0 };
                        out[n].w.start = s;
                        out[n++].w.count = 0;
                }
        }
        return n;
}

static void check_filled(spate_driver_t *d, const fillwin_t *f, int n, const char *what) {
        char key[64], want[256], iso[32], label[256];
        for (int i = 0; i < n; i++) {
                const refwin_t *w = &f[i].w;
                spate_fmt_iso_ms(w->start, iso, sizeof(iso));
                snprintf(key, sizeof(key), "%.7s@%s", w->g, iso);
                char sum[16];
                snprintf(sum, sizeof(sum), f[i].nul ? "null" : "%d", w->sum);
                snprintf(want, sizeof(want), "{\"key\":\"%.*s\",\"window_start\":%lld,\"window_end\":%lld,"
                         "\"count\":%d,\"sum\":%s,\"gap\":%s,\"stale\":%s}", (int)sizeof(w->g), w->g, (long long)w->start,
                         (long long)w->start + 1000, w->count, sum, f[i].gap ? "true" : "false",
                         f[i].stale ? "true" : "false");
                const spate_driver_msg_t *m = spate_driver_latest(d, "t.out", key);
                snprintf(label, sizeof(label), "%s: interval %s", what, key);
                CHECK_STR(m ? m->value : NULL, want, label);
        }
        int got = distinct_keys(d, "t.out");
        CHECK(got == n, "%s: %d intervals in t.out, want %d", what, got, n);
}

/* Every interval of every sensor, gaps included, through a crash at each
 * step of the second commit (state kept or lost), direct and with group_by:
 * the gap windows live in the changelog like the others. */
static void fill_crash_runs(const char *fill, const rec_t *r, int n, const fillwin_t *f, int nf) {
        char extra[128];
        snprintf(extra, sizeof(extra), "    fill: %s\n    fill_max: 3s\n", fill);
        for (int grouped = 0; grouped <= 1; grouped++)
                for (spate_driver_stage_t s = SPATE_DRIVER_AFTER_FLUSH; s <= SPATE_DRIVER_AFTER_CHECKPOINT + 1; s++)
                        for (int keep = 0; keep <= 1; keep++) {
                                char what[128];
                                int crashes = s <= SPATE_DRIVER_AFTER_CHECKPOINT;
                                snprintf(what, sizeof(what), "fill: %s, %s, %s%s%s", fill,
                                         grouped ? "group_by" : "direct", crashes ? "crash " : "no crash",
                                         crashes ? spate_driver_stage_name(s) : "",
                                         crashes ? (keep ? ", state kept" : ", state lost") : "");
                                if (!crashes && keep)
                                        continue;
                                spate_driver_t *d = driver(grouped, extra);
                                pipe_recs(d, r, n / 2);
                                step(d);
                                pipe_recs(d, r + n / 2, 3);
                                spate_driver_process(d);
                                if (crashes) {
                                        CHECK(spate_driver_commit(d, s) == 0, "%s: commit", what);
                                        crash(d, keep);
                                }
                                step(d);
                                pipe_recs(d, r + n / 2 + 3, n - n / 2 - 3);
                                step(d);
                                CHECK(spate_driver_end_of_input(d, 10) == 0, "%s: end of input drains", what);
                                check_filled(d, f, nf, what);
                                spate_driver_destroy(d);
                        }
}

static void test_fill_crash(void) {
        ref_t ref = { 0 };
        fillwin_t f[64];
        ref_add(&ref, fill_recs, NFILL, 0);
        int nf = fill_ref(&ref, f);
        CHECK(nf == 39 && ref.nlate == 0, "fill reference: %d intervals (want 39: a 7, b 8, c 6, z 9, y 9)", nf);
        fill_crash_runs("previous", fill_recs, NFILL, f, nf);
}

/* fill: linear, worked out by hand: runs of 1 or 3 gaps (so the fractions,
 * 1/2 and 1/4, are exact) interpolated up to the next readings, the third gap
 * stale (fill_max 3 s) even when readings follow; silent keys (a after 4 s,
 * b, c after 2 s) get null sums once the interval after their stale gap
 * closed; z and y keep time going in both partitions. */
static void test_fill_linear_crash(void) {
        static const rec_t r[] = {
                { 0, "a", 100, 3, 0 }, { 0, "b", 200, 10, 0 }, { 1, "c", 300, 4, 0 }, { 0, "z", 1500, 10, 0 },
                { 1, "y", 1600, 20, 0 }, { 1, "c", 2300, 8, 0 }, { 0, "z", 3500, 14, 0 }, { 1, "y", 3600, 24, 0 },
                { 0, "a", 4100, 11, 0 }, { 0, "z", 7500, 22, 0 }, { 1, "y", 7600, 32, 0 }, { 0, "z", 9500, 30, 0 },
                { 1, "y", 9600, 40, 0 },
        };
#define G(g, s, c, v, gap, stale, nul) { { g, s, c, v }, gap, stale, nul }
        static const fillwin_t f[] = {
                G("a", 0, 1, 3, 0, 0, 0), G("a", 1000, 0, 5, 1, 0, 0), G("a", 2000, 0, 7, 1, 0, 0),
                G("a", 3000, 0, 9, 1, 1, 0), G("a", 4000, 1, 11, 0, 0, 0), G("a", 5000, 0, 0, 1, 0, 1),
                G("a", 6000, 0, 0, 1, 0, 1), G("a", 7000, 0, 0, 1, 1, 1),
                G("b", 0, 1, 10, 0, 0, 0), G("b", 1000, 0, 0, 1, 0, 1), G("b", 2000, 0, 0, 1, 0, 1),
                G("b", 3000, 0, 0, 1, 1, 1),
                G("c", 0, 1, 4, 0, 0, 0), G("c", 1000, 0, 6, 1, 0, 0), G("c", 2000, 1, 8, 0, 0, 0),
                G("c", 3000, 0, 0, 1, 0, 1), G("c", 4000, 0, 0, 1, 0, 1), G("c", 5000, 0, 0, 1, 1, 1),
                G("z", 1000, 1, 10, 0, 0, 0), G("z", 2000, 0, 12, 1, 0, 0), G("z", 3000, 1, 14, 0, 0, 0),
                G("z", 4000, 0, 16, 1, 0, 0), G("z", 5000, 0, 18, 1, 0, 0), G("z", 6000, 0, 20, 1, 1, 0),
                G("z", 7000, 1, 22, 0, 0, 0), G("z", 8000, 0, 26, 1, 0, 0), G("z", 9000, 1, 30, 0, 0, 0),
                G("y", 1000, 1, 20, 0, 0, 0), G("y", 2000, 0, 22, 1, 0, 0), G("y", 3000, 1, 24, 0, 0, 0),
                G("y", 4000, 0, 26, 1, 0, 0), G("y", 5000, 0, 28, 1, 0, 0), G("y", 6000, 0, 30, 1, 1, 0),
                G("y", 7000, 1, 32, 0, 0, 0), G("y", 8000, 0, 36, 1, 0, 0), G("y", 9000, 1, 40, 0, 0, 0),
        };
#undef G
        fill_crash_runs("linear", r, (int)(sizeof(r) / sizeof(*r)), f, (int)(sizeof(f) / sizeof(*f)));
}

/* Counts in *bad a key whose window [0, 1000) is not last output with count
 * and sum; the first such key is printed. */
static void first_window_wrong(spate_driver_t *d, const char *name, int count, int sum, int *bad) {
        char key[80], want[256], iso[32];
        spate_fmt_iso_ms(0, iso, sizeof(iso));
        snprintf(key, sizeof(key), "%.39s@%s", name, iso);
        snprintf(want, sizeof(want), "{\"key\":\"%.39s\",\"window_start\":0,\"window_end\":1000,"
                 "\"count\":%d,\"sum\":%d}", name, count, sum);
        const spate_driver_msg_t *m = spate_driver_latest(d, "t.out", key);
        if ((!m || strcmp(m->value, want)) && !(*bad)++)
                printf("# %s: got %s, want %s\n", key, m ? m->value : "(none)", want);
}

/* A restore from the changelog alone of partitions large enough to be
 * written as one ingested file (window_task.c: load_store), with keys the
 * radix sort cannot order by their first 12 bytes (a long common prefix),
 * short ones, and every key written by two commits (the restore keeps the
 * last), then a restore from that state directory: after end of input, every
 * window holds both records. */
#define LOAD_KEYS 3000
static void test_restore_large(void) {
        static char names[LOAD_KEYS][40];
        static rec_t r[2 * LOAD_KEYS];
        spate_driver_t *d = driver(0, NULL);
        char what[96];
        int bad = 0;
        for (int i = 0; i < LOAD_KEYS; i++) {
                snprintf(names[i], sizeof(names[i]), i % 3 == 0 ? "s%d" : i % 3 == 1 ? "station-%06d" :
                         "station-%06d-of-a-longer-name", i);
                r[i] = (rec_t){ i % 2, names[i], 100 + i % 50, i % 7 + 1, 0 };
                r[LOAD_KEYS + i] = (rec_t){ i % 2, names[i], 200 + i % 50, i % 5 + 10, 0 };
        }
        pipe_recs(d, r, LOAD_KEYS);
        spate_driver_process(d);
        commit(d);
        pipe_recs(d, r + LOAD_KEYS, LOAD_KEYS);
        spate_driver_process(d);
        commit(d);
        crash(d, 0);
        /* Memory holds what the restore applied; the file it ingested is read
         * by the next restore, which keeps the state directory. */
        crash(d, 1);
        CHECK(spate_driver_count_all(d, "t.out") == 0, "large restore: no window closed yet");
        CHECK(spate_driver_end_of_input(d, 10) == 0, "large restore: end of input drains");
        for (int i = 0; i < LOAD_KEYS; i++)
                first_window_wrong(d, names[i], 2, i % 7 + 1 + i % 5 + 10, &bad);
        snprintf(what, sizeof(what), "large restore: all %d windows hold both records", LOAD_KEYS);
        CHECK(bad == 0, "%s (%d wrong)", what, bad);
        CHECK(spate_driver_count_all(d, "t.out") == LOAD_KEYS, "large restore: %lld outputs, want %d",
              (long long)spate_driver_count_all(d, "t.out"), LOAD_KEYS);
        spate_driver_destroy(d);
}

/* A restore from the changelog alone of many partitions in one assignment,
 * each large enough to be written as an ingested file: while a partition is
 * read, the step of the one before is held until its column family is open
 * (window_task.c: restore_release()) and the one before that may still be
 * applied, three partitions' restores under way at once, each in its own
 * buffers. After end of input every key's window is the reference's: its
 * one record. */
#define MANY_PARTS 7
#define MANY_KEYS (MANY_PARTS * 1100)  /* 1,100 a partition: written as a file */
static void test_restore_many(void) {
        static char names[MANY_KEYS][16];
        static rec_t r[MANY_KEYS];
        spate_driver_t *d = driver_parts(0, NULL, MANY_PARTS);
        int bad = 0;
        for (int i = 0; i < MANY_KEYS; i++) {
                snprintf(names[i], sizeof(names[i]), "k%d", i);
                r[i] = (rec_t){ i % MANY_PARTS, names[i], 100 + i % 50, i % 9 + 1, 0 };
        }
        pipe_recs(d, r, MANY_KEYS);
        spate_driver_process(d);
        commit(d);
        crash(d, 0);
        CHECK(spate_driver_count_all(d, "t.out") == 0, "many partitions: no window closed before the restore");
        CHECK(spate_driver_end_of_input(d, 10) == 0, "many partitions: end of input drains");
        for (int i = 0; i < MANY_KEYS; i++)
                first_window_wrong(d, names[i], 1, i % 9 + 1, &bad);
        CHECK(bad == 0, "many partitions: all %d windows restored from %d partitions (%d wrong)", MANY_KEYS,
              MANY_PARTS, bad);
        CHECK(spate_driver_count_all(d, "t.out") == MANY_KEYS, "many partitions: %lld outputs, want %d",
              (long long)spate_driver_count_all(d, "t.out"), MANY_KEYS);
        spate_driver_destroy(d);
}

/* --- standbys (window_task.c, the window's state provider) --- */

static spate_node_t *win_node(spate_driver_t *d) {
        return spate_topology_node(spate_driver_topology(d), "win");
}

typedef struct {
        int want;          /* a bit per task the instance chose to follow */
        int n;
        int64_t from[2];
} follows_t;

static int on_want(void *opaque, const char *topic, int32_t partition, int npartitions) {
        const follows_t *f = opaque;
        (void)topic;
        return npartitions == 2 && (f->want >> partition & 1);
}

static void on_follow(void *opaque, const char *changelog, int32_t partition, int64_t from) {
        follows_t *f = opaque;
        if (!strcmp(changelog, "drv-win-changelog") && partition >= 0 && partition < 2)
                f->from[partition] = from;
        f->n++;
}

static int follow(spate_driver_t *d, follows_t *f, int want) {
        spate_node_t *n = win_node(d);
        *f = (follows_t){ .want = want, .from = { -1, -1 } };
        return spate_node_standbys(n, spate_driver_ctx(d), on_want, on_follow, f);
}

/* Gives the window's standby of partition p the changelog records [from,
 * to) as the standby consumer would, with a write every `every` records
 * (mid-commit too) and at the end: 0 if all were taken. */
static int feed(spate_driver_t *d, int32_t p, int64_t from, int64_t to, int every) {
        spate_node_t *n = win_node(d);
        char err[512];
        int bad = 0;
        for (int64_t o = from; o < to && !bad; o++) {
                const spate_driver_msg_t *m = spate_driver_msg(d, "drv-win-changelog", p, o);
                bad |= !m || spate_node_standby_apply(n, "drv-win-changelog", p, m->key, m->key_len, m->value,
                                                      m->value ? m->len : 0, o, err, sizeof(err)) != 0;
                if (!bad && (o - from) % every == every - 1)
                        bad |= spate_node_standby_write(n, err, sizeof(err));
        }
        return bad || spate_node_standby_write(n, err, sizeof(err));
}

/* The changelog offset after partition p's last meta record. */
static int64_t past_last_meta(spate_driver_t *d, int32_t p) {
        for (int64_t o = spate_driver_count(d, "drv-win-changelog", p) - 1; o >= 0; o--) {
                const spate_driver_msg_t *m = spate_driver_msg(d, "drv-win-changelog", p, o);
                if (m->key_len == 1 && m->key[0] == SPATE_KV_KEY_META)
                        return o + 1;
        }
        return 0;
}

/* Every key and value of the window's column families (the meta included). */
static void dump_state(spate_driver_t *d, spate_buf_t *out) {
        struct spate_store *store = spate_driver_store(d);
        char err[256], name[32];
        out->len = 0;
        for (int p = 0; p < 2; p++) {
                spate_store_cf_t *cf;
                spate_store_iter_t *it;
                const char *k, *v;
                size_t kl, vl;
                snprintf(name, sizeof(name), "kv.win.win-%d", p);
                if (!store || spate_store_cf(store, name, &cf, err, sizeof(err)) ||
                    spate_store_iter_new(cf, NULL, 0, NULL, 0, &it, err, sizeof(err)))
                        return;
                while (spate_store_iter_next(it, &k, &kl, &v, &vl, err, sizeof(err)) == 1) {
                        spate_buf_put(out, &p, sizeof(p));
                        spate_buf_put(out, &kl, sizeof(kl));
                        spate_buf_put(out, k, kl);
                        spate_buf_put(out, &vl, sizeof(vl));
                        spate_buf_put(out, v, vl);
                }
                spate_store_iter_destroy(it);
        }
}

static double restored(const char *from) {
        char want[128];
        snprintf(want, sizeof(want), "spate_store_restore_records_total{node=\"win\",store=\"win\",from=\"%s\"} ",
                 from);
        double v = spate_driver_metric(want);
        return v < 0 ? 0 : v;
}

/* The instance dies with its state directory in the middle of a commit (its
 * changelog records acknowledged, no meta record); before its successor is
 * assigned, standbys copy the changelogs, writing after every few records.
 * One stops and follows again from its checkpoint. The restore then reads
 * only the incomplete commit past the copies, leaves every column family
 * byte for byte as a restore from the changelog alone does, and the windows
 * are the reference's. */
static void standby_run(int grouped) {
        rec_t r[64];
        int n = crash_records(r, grouped);
        ref_t ref = { 0 };
        follows_t f;
        char err[1024], what[64];
        spate_buf_t warm = { 0 }, scratch = { 0 };
        int64_t end[2], closed[2];
        ref_add(&ref, r, n, 0);
        snprintf(what, sizeof(what), "standby, %s", grouped ? "group_by" : "direct");
        spate_driver_t *d = driver(grouped, NULL);
        pipe_recs(d, r, 20);
        step(d);
        pipe_recs(d, r + 20, 20);
        step(d);
        pipe_recs(d, r + 40, 10);
        spate_driver_process(d);
        if (grouped) {  /* the batches go to the task */
                commit(d);
                spate_driver_process(d);
        }
        CHECK(spate_driver_commit(d, SPATE_DRIVER_AFTER_ACKS) == 0, "%s: commit up to its acks", what);
        CHECK(spate_driver_crash(d, 0, err, sizeof(err)) == 0, "%s: crash: %s", what, err);
        for (int p = 0; p < 2; p++) {
                end[p] = spate_driver_count(d, "drv-win-changelog", p);
                closed[p] = past_last_meta(d, p);
        }
        CHECK(closed[0] > 0 && closed[1] > 0 && (end[0] > closed[0] || end[1] > closed[1]),
              "%s: complete commits, and one without its meta record (%lld/%lld, %lld/%lld)", what,
              (long long)closed[0], (long long)end[0], (long long)closed[1], (long long)end[1]);
        CHECK(follow(d, &f, 3) == 0 && f.n == 2 && !f.from[0] && !f.from[1],
              "%s: no task owned, no local state: both followed from 0", what);
        CHECK(feed(d, 0, 0, end[0], 3) == 0 && feed(d, 1, 0, end[1], 4) == 0, "%s: changelogs applied", what);
        CHECK(feed(d, 0, 0, end[0], 3) == 0, "%s: records fetched again are ignored", what);
        CHECK(follow(d, &f, 1) == 0 && f.n == 1, "%s: partition 1 no longer chosen", what);
        CHECK(follow(d, &f, 3) == 0 && f.from[0] == end[0] && f.from[1] == closed[1],
              "%s: chosen again: partition 1 from its checkpoint, past its last meta record (%lld, want %lld)",
              what, (long long)f.from[1], (long long)closed[1]);
        CHECK(feed(d, 1, f.from[1], end[1], 2) == 0, "%s: partition 1's tail held again", what);

        double local = restored("local"), read = restored("changelog");
        CHECK(spate_driver_assign(d) == 0, "%s: assigned: %s", what, spate_driver_ctx(d)->errstr);
        CHECK(restored("local") - local == (double)(closed[0] + closed[1]),
              "%s: the restore started from the standbys' copies (%.0f changelog records, want %lld)", what,
              restored("local") - local, (long long)(closed[0] + closed[1]));
        CHECK(restored("changelog") - read == (double)(end[0] - closed[0] + end[1] - closed[1]),
              "%s: it read only the commit without its meta record (%.0f records)", what,
              restored("changelog") - read);
        dump_state(d, &warm);
        crash(d, 0);
        dump_state(d, &scratch);
        CHECK(warm.len > 0 && warm.len == scratch.len && !memcmp(warm.data, scratch.data, warm.len),
              "%s: the state equals a restore from the changelog alone (%zu and %zu bytes)", what, warm.len,
              scratch.len);
        pipe_recs(d, r + 50, n - 50);
        step(d);
        CHECK(spate_driver_end_of_input(d, 10) == 0, "%s: end of input drains", what);
        check_windows(d, &ref, -1, what);
        CHECK(spate_driver_count(d, "drv-dlq", 0) == 0, "%s: no dead letters", what);
        spate_buf_free(&warm);
        spate_buf_free(&scratch);
        spate_driver_destroy(d);
}

static void test_standby(void) {
        standby_run(0);
        standby_run(1);
}

/* Group g's window at 0 as the store's changelog keys it (its prefix byte,
 * then the window's key) into key: its length. */
static size_t store_key(const char *g, char *key) {
        key[0] = SPATE_KV_KEY_USER;
        return 1 + spate_went_key(g, strlen(g), 0, 0, key + 1);
}

/* The value of the last changelog record of group g's window at 0 in
 * partition 0 (copied into out), or 0 bytes when there is none. */
static size_t last_value(spate_driver_t *d, const char *g, char *out, size_t size) {
        char key[1 + SPATE_WENT_KEY_MAX(24)];
        size_t klen = store_key(g, key);
        for (int64_t o = spate_driver_count(d, "drv-win-changelog", 0) - 1; o >= 0; o--) {
                const spate_driver_msg_t *m = spate_driver_msg(d, "drv-win-changelog", 0, o);
                if (m->key_len == klen && !memcmp(m->key, key, klen) && m->value && m->len <= size) {
                        memcpy(out, m->value, m->len);
                        return m->len;
                }
        }
        return 0;
}

/* 1 when partition 0 of the changelog has a tombstone of key after offset from. */
static int tombstone_after(spate_driver_t *d, const char *key, size_t klen, int64_t from) {
        for (int64_t o = from; o < spate_driver_count(d, "drv-win-changelog", 0); o++) {
                const spate_driver_msg_t *m = spate_driver_msg(d, "drv-win-changelog", 0, o);
                if (m->key_len == klen && !memcmp(m->key, key, klen) && !m->value)
                        return 1;
        }
        return 0;
}

/* A commit a crash cut leaves changelog records without their meta record;
 * forged here after complete commits (keys as the store writes them): a
 * window that never was (ghost<i>), window b with a's value and a record no
 * window writes (key "x"). The
 * restore does not apply them and the next commit writes their keys again
 * (the store's repair: tombstones for the ghost and "x", b's restored
 * value), so that a restore from the changelog alone, which reads them with
 * that commit's frame, ends with the windows of a run without them - from
 * the whole changelog and from what compaction leaves of it, where only the
 * last meta record is left to judge every record before it. `times` such
 * cuts, each followed by a restart with the state directory and a commit
 * with one more record of a (70: more than the 64 ranges a window's own
 * meta once kept of them, whose oldest ghosts then came back from a
 * compacted changelog). `again`: a second restart before the repairing commit, whose
 * restore must still read the cut records (the store's checkpoint stays
 * before them). */
static void cut_run(int times, int again, int compact) {
        rec_t r[3 + 80] = { { 0, "a", 100, 1, 0 }, { 0, "b", 200, 2, 0 }, { 1, "c", 150, 3, 0 } };
        char what[128], va[256], vb[256], ghost[1 + SPATE_WENT_KEY_MAX(24)], bkey[1 + SPATE_WENT_KEY_MAX(24)];
        const char x[] = { SPATE_KV_KEY_USER, 'x' };
        int n = 3, repaired = 0;
        snprintf(what, sizeof(what), "%d cut commit%s%s, restored from the %schangelog", times,
                 times > 1 ? "s" : "", again ? ", restarted twice before the repair" : "",
                 compact ? "compacted " : "");
        spate_driver_t *d = driver(0, NULL);
        pipe_recs(d, r, n);
        step(d);
        size_t la = last_value(d, "a", va, sizeof(va)), lb = last_value(d, "b", vb, sizeof(vb));
        size_t bl = store_key("b", bkey);
        CHECK(la > 0 && lb > 0 && memcmp(va, vb, la < lb ? la : lb), "%s: windows a and b in the changelog",
              what);
        for (int i = 0; i < times; i++) {
                char g[24], vb2[256];
                int64_t cut = spate_driver_count(d, "drv-win-changelog", 0);
                snprintf(g, sizeof(g), "ghost%d", i);
                size_t gl = store_key(g, ghost);
                spate_driver_pipe_bytes(d, "drv-win-changelog", 0, ghost, gl, va, la, 0);
                spate_driver_pipe_bytes(d, "drv-win-changelog", 0, bkey, bl, va, la, 0);
                spate_driver_pipe_bytes(d, "drv-win-changelog", 0, x, sizeof(x), "{}", 2, 0);
                crash(d, 1);
                if (again)
                        crash(d, 1);
                r[n] = (rec_t){ 0, "a", 300 + i, 1, 0 };
                pipe_recs(d, r + n++, 1);
                spate_driver_process(d);
                commit(d);
                repaired += tombstone_after(d, ghost, gl, cut + 3) && tombstone_after(d, x, sizeof(x), cut + 3) &&
                            last_value(d, "b", vb2, sizeof(vb2)) == lb && !memcmp(vb2, vb, lb);
        }
        CHECK(repaired == times, "%s: each repairing commit wrote the ghost's and x's tombstones and b's value (%d of %d)",
              what, repaired, times);
        if (compact)
                spate_driver_compact(d, "drv-win-changelog");
        crash(d, 0);
        CHECK(spate_driver_end_of_input(d, 10) == 0, "%s: end of input drains", what);
        ref_t ref = { 0 };
        ref_add(&ref, r, n, 0);
        check_windows(d, &ref, -1, what);
        spate_driver_destroy(d);
}

static void test_cut_commit(void) {
        cut_run(1, 0, 0);
        cut_run(1, 1, 0);
        cut_run(1, 0, 1);
        cut_run(70, 0, 1);
}

/* State an earlier version wrote - the window's own changelog records, a
 * window key without the store's prefix byte and its "meta" record - is
 * refused at the restore with what to do, not passed over (the changelog
 * keeps its name: <app>-<store>-changelog). */
static void test_old_state_refused(void) {
        char key[SPATE_WENT_KEY_MAX(8)], err[1024];
        size_t klen = spate_went_key("a", 1, 0, 0, key);
        spate_driver_t *d = driver(0, NULL);
        spate_driver_pipe_bytes(d, "drv-win-changelog", 0, key, klen, "\x01", 1, 0);
        spate_driver_pipe_bytes(d, "drv-win-changelog", 0, "meta", 4, "\x03", 1, 0);
        CHECK(spate_driver_crash(d, 0, err, sizeof(err)) == 0, "old state: crash: %s", err);
        CHECK(spate_driver_assign(d) != 0 && strstr(spate_driver_ctx(d)->errstr, "drv-win-changelog") &&
              strstr(spate_driver_ctx(d)->errstr, "not a store record") &&
              strstr(spate_driver_ctx(d)->errstr, "reset the application's state"),
              "old state: the restore fails saying what to do: %s", spate_driver_ctx(d)->errstr);
        spate_driver_destroy(d);
}

int main(void) {
        test_old_state_refused();
        test_fill_crash();
        test_fill_linear_crash();
        test_late_partition();
        test_crash_direct();
        test_crash_repartition();
        test_crash_mid_flush();
        test_crash_between_batches();
        test_end_of_input();
        test_idle_partition();
        test_restore_large();
        test_restore_many();
        test_standby();
        test_cut_commit();
        return CHECK_DONE();
}
