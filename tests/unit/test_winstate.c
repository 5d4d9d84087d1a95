/* test_winstate.c - unit tests of the window node's pure parts: aggregate
 * spec parsing, the repartition, entry and meta codecs, ISO window starts,
 * and operators/window/winstate.c behaviour a commit and a restore rely on (dirty and emit
 * tracking, session tombstones, closing and expiry, load). */
#include "check.h"
#include "../../operators/window/winstate.h"
#include "../../util/util.h"
#include "../../operators/window/window_int.h"

#include <stdint.h>
#include <stdlib.h>

static char err[512];

static void test_spec_parse(void) {
        spate_agg_fn_t fn;
        size_t off, len, pos;
        double param;
        const char *s = "  mean( temp * 2 ) ";
        CHECK(spate_agg_spec_parse(s, &fn, &off, &len, &param, &pos, err, sizeof(err)) == 0 &&
              fn == SPATE_AGG_MEAN, "mean(...) parses");
        CHECK(off == 8 && len == 8 && !strncmp(s + off, "temp * 2", len),
              "argument text and offset (off %zu len %zu)", off, len);
        CHECK(spate_agg_spec_parse("count()", &fn, &off, &len, &param, &pos, err, sizeof(err)) == 0 &&
              fn == SPATE_AGG_COUNT && len == 0, "count() has no argument");
        CHECK(spate_agg_spec_parse("count_distinct(sensor)", &fn, &off, &len, &param, &pos, err,
                                   sizeof(err)) == 0 && fn == SPATE_AGG_COUNT_DISTINCT,
              "count_distinct(e)");
        CHECK(spate_agg_spec_parse("avg(temp)", &fn, &off, &len, &param, &pos, err, sizeof(err)) == -1 &&
              pos == 0 && strstr(err, "unknown aggregate function 'avg'"), "unknown name: %s", err);
        CHECK(spate_agg_spec_parse("maen(temp)", &fn, &off, &len, &param, &pos, err, sizeof(err)) == -1 &&
              strstr(err, "did you mean 'mean'"), "did-you-mean: %s", err);
        CHECK(spate_agg_spec_parse("sum()", &fn, &off, &len, &param, &pos, err, sizeof(err)) == -1 &&
              strstr(err, "needs an expression"), "sum() needs an argument");
        CHECK(spate_agg_spec_parse("count(x)", &fn, &off, &len, &param, &pos, err, sizeof(err)) == -1 &&
              pos == 6, "count(x) is refused, pointing at x");
        CHECK(spate_agg_spec_parse("sum(temp", &fn, &off, &len, &param, &pos, err, sizeof(err)) == -1 &&
              strstr(err, "missing ')'"), "missing parenthesis");
        CHECK(spate_agg_spec_parse("temp", &fn, &off, &len, &param, &pos, err, sizeof(err)) == -1,
              "a bare expression is refused");
        s = "spikes(max(a, b), 2.5)";
        CHECK(spate_agg_spec_parse(s, &fn, &off, &len, &param, &pos, err, sizeof(err)) == 0 &&
              fn == SPATE_AGG_SPIKES && param == 2.5 && len == 9 && !strncmp(s + off, "max(a, b)", len),
              "spikes(e, L): the last top-level comma splits off L (off %zu len %zu)", off, len);
        CHECK(spate_agg_spec_parse("spikes(temp)", &fn, &off, &len, &param, &pos, err, sizeof(err)) == -1 &&
              strstr(err, "needs a limit"), "spikes without a limit: %s", err);
        CHECK(spate_agg_spec_parse("spikes(temp, -1)", &fn, &off, &len, &param, &pos, err, sizeof(err)) == -1 &&
              pos == 13, "a negative limit is refused, pointing at it (pos %zu)", pos);
        CHECK(spate_agg_spec_parse("completeness(10s)", &fn, &off, &len, &param, &pos, err, sizeof(err)) == 0 &&
              fn == SPATE_AGG_COMPLETENESS && param == 10000 && len == 0, "completeness(10s)");
        CHECK(spate_agg_spec_parse("completeness(temp)", &fn, &off, &len, &param, &pos, err,
                                   sizeof(err)) == -1 && strstr(err, "duration"), "completeness needs a duration");
        CHECK(spate_agg_spec_parse("staleness()", &fn, &off, &len, &param, &pos, err, sizeof(err)) == 0 &&
              fn == SPATE_AGG_STALENESS && len == 0, "staleness()");
        CHECK(spate_agg_spec_parse("count_if(t < 0 or t > 45)", &fn, &off, &len, &param, &pos, err,
                                   sizeof(err)) == 0 && fn == SPATE_AGG_COUNT_IF && len == 15, "count_if(e)");
}

/* Decodes a whole message; 0 when every record and mark is as written. */
static int read_pack(const spate_buf_t *b, size_t len, spate_val_t *out, int max, int *nrec,
                     spate_wmark_t *marks, int *nmarks) {
        spate_wpack_rd_t rd;
        spate_wrepart_t got;
        spate_wcomb_t c;
        const void *raw;
        size_t rawlen;
        int rc;
        *nrec = 0;
        if (spate_wpack_open(b->data, len, &rd, err, sizeof(err)))
                return -1;
        while ((rc = spate_wpack_next(&rd, &got, out, max, &c, &raw, &rawlen, err, sizeof(err))) > 0) {
                if (rc == 2 && (c.up_partition != 5 || c.from != 10 || c.to != 20 || c.k != 9 || c.st != -3 ||
                                c.start != 3600000 || c.glen != 6 || memcmp(c.group, "Corse!", 6) ||
                                c.slen != 3 || memcmp(c.states, "abc", 3)))
                        return -1;
                if (rc == 2) {
                        ++*nrec;
                        continue;
                }
                if (got.up_partition != 31 || got.up_offset != (INT64_C(1) << 40) + *nrec ||
                    got.seq != 7 || got.t != -1234567 || got.st != 99 || got.nvals != 4 || got.glen != 6 ||
                    memcmp(got.group, "Corse!", 6))
                        return -1;
                ++*nrec;
        }
        if (rc < 0 || (*nmarks = spate_wpack_marks(&rd, marks, 4, err, sizeof(err))) < 0)
                return -1;
        return 0;
}

static void test_repart_codec(void) {
        spate_val_t in[4] = {
                { .type = SPATE_VAL_NUM, .num = -12.5 },
                { .type = SPATE_VAL_STR, .str = "Île", .len = 4 },
                { .type = SPATE_VAL_BOOL, .b = 1 },
                { .type = SPATE_VAL_NULL },
        }, out[4];
        spate_wmark_t marks[2] = { { 3, 1700000000000, 0 }, { 31, INT64_MIN, 1 } }, got[4];
        spate_buf_t b = { 0 };
        int nrec, nmarks;
        spate_wpack_begin(&b);
        for (int i = 0; i < 3; i++) {
                spate_wrepart_t r = { 31, (INT64_C(1) << 40) + i, 7, -1234567, 99, "Corse!", 6,
                                      i == 1 ? "id-42" : NULL, i == 1 ? 5 : 0, 4 };
                spate_wpack_add(&b, &r, in);
        }
        spate_wcomb_t c = { 5, 10, 20, 9, -3, 3600000, "Corse!", 6, "abc", 3 };
        spate_wpack_add_combined(&b, &c);
        spate_wpack_finish(&b, 4, marks, 2);
        CHECK(read_pack(&b, b.len, out, 4, &nrec, got, &nmarks) == 0 && nrec == 4 && nmarks == 2,
              "repartition message decodes: 3 records, a combined batch, 2 marks (%zu bytes)", b.len);
        CHECK(out[0].type == SPATE_VAL_NUM && out[0].num == -12.5 && out[1].type == SPATE_VAL_STR &&
              out[1].len == 4 && !memcmp(out[1].str, "Île", 4) && out[2].b == 1 &&
              out[3].type == SPATE_VAL_NULL, "values round trip");
        {
                spate_wpack_rd_t rd;
                spate_wrepart_t r[2];
                spate_wcomb_t cb;
                const void *raw;
                size_t rawlen;
                char err[256];
                int ok = !spate_wpack_open(b.data, b.len, &rd, err, sizeof(err));
                for (int i = 0; ok && i < 2; i++)
                        ok = spate_wpack_next(&rd, &r[i], out, 4, &cb, &raw, &rawlen, err, sizeof(err)) == 1;
                CHECK(ok && !r[0].id && r[1].idlen == 5 && !memcmp(r[1].id, "id-42", 5) &&
                      r[1].glen == 6 && !memcmp(r[1].group, "Corse!", 6) && r[1].nvals == 4,
                      "a record's dedupe_by id round trips (corrections after group_by); none without");
        }
        CHECK(got[0].partition == 3 && got[0].time == 1700000000000 && !got[0].idle &&
              got[1].partition == 31 && got[1].time == INT64_MIN && got[1].idle, "marks round trip");
        int bad = 0;
        for (size_t cut = 0; cut < b.len; cut++)
                bad += read_pack(&b, cut, out, 4, &nrec, got, &nmarks) == -1;
        CHECK(bad == (int)b.len, "every truncation is rejected");
        CHECK(read_pack(&b, b.len, out, 3, &nrec, got, &nmarks) == -1,
              "more values than room is rejected");
        spate_buf_free(&b);
}

static void test_watermark(void) {
        spate_winmeta_t m;
        spate_winmeta_init(&m);
        CHECK(spate_winmeta_watermark(&m, 3, 1) == INT64_MIN, "no marks: no stream time");
        spate_winmeta_mark(&m, 0, 500, 0);
        spate_winmeta_mark(&m, 2, 900, 0);
        CHECK(spate_winmeta_watermark(&m, 3, 1) == INT64_MIN, "a partition never marked holds it");
        spate_winmeta_mark(&m, 1, INT64_MIN, 0);
        CHECK(spate_winmeta_watermark(&m, 3, 1) == INT64_MIN, "a partition not started holds it");
        spate_winmeta_mark(&m, 1, INT64_MIN, 1);
        CHECK(spate_winmeta_watermark(&m, 3, 0) == INT64_MIN,
              "an empty caught-up partition holds it too (it may start late)");
        CHECK(spate_winmeta_watermark(&m, 3, 1) == 500, "until it is released: %lld",
              (long long)spate_winmeta_watermark(&m, 3, 1));
        spate_winmeta_mark(&m, 1, 300, 0);
        CHECK(spate_winmeta_watermark(&m, 3, 0) == 300, "the slowest partition: %lld",
              (long long)spate_winmeta_watermark(&m, 3, 0));
        spate_winmeta_mark(&m, 1, 200, 1);
        CHECK(spate_winmeta_watermark(&m, 3, 1) == 300, "a caught-up partition with records still "
              "holds it, and its time is never lowered: %lld", (long long)spate_winmeta_watermark(&m, 3, 1));
        spate_winmeta_mark(&m, 5, 100, 0);
        CHECK(spate_winmeta_watermark(&m, 3, 1) == 300, "partitions beyond the count are ignored");
        spate_winmeta_t end;
        spate_winmeta_init(&end);
        for (int p = 0; p < 3; p++)
                spate_winmeta_mark(&end, p, SPATE_WINDOW_END_OF_STREAM, 1);
        CHECK(spate_winmeta_watermark(&end, 3, 0) == SPATE_WINDOW_END_OF_STREAM,
              "every partition at the end of the stream: so is the task");
        spate_buf_t b = { 0 };
        spate_winmeta_t back;
        spate_winmeta_encode(&m, &b);
        CHECK(spate_winmeta_decode(b.data, b.len, &back, err, sizeof(err)) == 0 && back.nup == 4 &&
              back.up[2].partition == 1 && back.up[2].time == 300 && back.up[2].idle && spate_winmeta_watermark(&back, 3, 0) == 300,
              "marks survive the meta codec");
        spate_buf_free(&b);
}

/* An upstream replay re-sends whole batches or single records; a batch
 * that straddles what was applied is reported, never half applied. */
static void test_seen_range(void) {
        spate_winmeta_t m, back;
        spate_buf_t b = { 0 };
        spate_winmeta_init(&m);
        CHECK(spate_winmeta_seen_range(&m, 2, 10, 20, 0) == 0, "a new batch applies");
        CHECK(spate_winmeta_seen_range(&m, 2, 10, 20, 0) == 1, "the same batch again is a replay");
        CHECK(spate_winmeta_seen_range(&m, 2, 10, 20, 1) == 0 && spate_winmeta_seen_range(&m, 2, 10, 20, 1) == 1,
              "a later batch of the same records applies once (they may span messages)");
        spate_winmeta_encode(&m, &b);
        CHECK(spate_winmeta_decode(b.data, b.len, &back, err, sizeof(err)) == 0 &&
              spate_winmeta_seen_range(&back, 2, 10, 20, 1) == 1 && spate_winmeta_seen_range(&back, 2, 10, 20, 2) == 0,
              "which batch was applied last survives the meta codec");
        spate_buf_free(&b);
        CHECK(spate_winmeta_seen_range(&m, 2, 12, 15, 0) == 1, "a batch within applied records is a replay");
        CHECK(spate_winmeta_seen(&m, 2, 19, 3) == 1 && spate_winmeta_seen(&m, 2, 20, 0) == 0,
              "single records: those of the batch are replays, the next one applies");
        CHECK(spate_winmeta_seen_range(&m, 2, 10, 20, 5) == 1, "once a record after it applied, the batch is done");
        CHECK(spate_winmeta_seen_range(&m, 2, 15, 30, 0) == 2, "a batch across applied records is an overlap");
        CHECK(spate_winmeta_seen_range(&m, 2, 20, 30, 0) == 2, "also when it starts at a record applied alone");
        CHECK(spate_winmeta_seen_range(&m, 2, 21, 30, 0) == 0 && spate_winmeta_seen(&m, 2, 29, 0) == 1,
              "a batch after it applies and covers every record below its end");
        CHECK(spate_winmeta_seen_range(&m, 3, 0, 1, 0) == 0, "partitions are apart");
}

static const spate_agg_fn_t fns[] = { SPATE_AGG_COUNT, SPATE_AGG_SUM, SPATE_AGG_LAST };

static spate_winconf_t conf(spate_window_type_t type, int64_t size, int64_t grace, int final) {
        spate_winconf_t c = { { type, size, type == SPATE_WINDOW_TUMBLING ? size : size / 2,
                                type == SPATE_WINDOW_SESSION ? size : 0, grace },
                              fns, 3, size + grace, final, NULL, SPATE_FILL_NONE, 0, SPATE_CORR_NONE };
        return c;
}

static int add(spate_winstate_t *ws, const char *g, int64_t t, double v, int64_t off) {
        spate_val_t vals[3];
        for (int i = 0; i < 3; i++)
                vals[i] = (spate_val_t){ .type = SPATE_VAL_NUM, .num = v };
        spate_wrec_t r = { g, strlen(g), t, vals, { t, 0, off }, INT64_MIN, NULL, 0 };
        return spate_winstate_add(ws, &r);
}

static int count_flags(void *opaque, const spate_wgroup_t *g, int bucket, spate_went_t *e) {
        int *n = opaque;
        (void)g;
        if (!bucket) {
                n[0] += e->dirty;
                n[1] += e->emit;
        }
        return 0;
}

static double num_result(const spate_went_t *e, int i) {
        spate_val_t v;
        spate_agg_result(&e->states[i], &v);
        return v.num;
}

static void test_entry_codec(void) {
        spate_winconf_t c = conf(SPATE_WINDOW_TUMBLING, 1000, 0, 0);
        spate_winstate_t *ws = spate_winstate_new(&c);
        spate_buf_t b = { 0 };
        spate_went_t e;
        char key[SPATE_WENT_KEY_MAX(5)];
        const char *g;
        size_t glen, klen;
        int bucket;
        int64_t start;

        add(ws, "alice", 1500, 2.5, 1);
        add(ws, "alice", 1700, 4, 2);
        spate_went_t *w = spate_winstate_find(ws, "alice", 5, 1000);
        CHECK(w && w->end == 2000 && num_result(w, 0) == 2 && num_result(w, 1) == 6.5,
              "tumbling window holds both records");
        w->closed = 1;
        CHECK(spate_went_encode(&c, w, &b) == 0, "entry encodes");
        CHECK(spate_went_decode(&c, b.data, b.len, &e, err, sizeof(err)) == 0 && e.end == 2000 &&
              e.closed && e.st == 1700 && num_result(&e, 1) == 6.5 && num_result(&e, 2) == 4,
              "entry round trip: end, closed, stream time, states");
        spate_agg_states_free(e.states, 3);
        CHECK(spate_went_decode(&c, b.data, 10, &e, err, sizeof(err)) == -1, "truncated entry rejected");
        spate_winconf_t other = c;
        other.nfns = 2;
        CHECK(spate_went_decode(&other, b.data, b.len, &e, err, sizeof(err)) == -1 &&
              strstr(err, "new store name"), "entry of other aggregates rejected: %s", err);
        klen = spate_went_key("alice", 5, 1, -7, key);
        CHECK(spate_went_key_decode(key, klen, &g, &glen, &bucket, &start) == 0 && bucket &&
              glen == 5 && start == -7, "bucket key round trip");
        klen = spate_went_key("alice", 5, 0, 42, key);
        CHECK(spate_went_key_decode(key, klen, &g, &glen, &bucket, &start) == 0 && !bucket &&
              start == 42, "window key round trip");
        CHECK(spate_went_key_decode("meta", 4, &g, &glen, &bucket, &start) == -1,
              "a short key that is no entry key is rejected");
        spate_buf_free(&b);
        spate_winstate_free(ws);
}

static void test_meta(void) {
        spate_winmeta_t m, got;
        spate_buf_t b = { 0 };
        spate_winmeta_init(&m);
        m.next_offset = 99;
        m.stream_time = -5;
        CHECK(spate_winmeta_seen(&m, 3, 10, 0) == 0, "first record of a partition is new");
        CHECK(spate_winmeta_seen(&m, 3, 10, 1) == 0, "second record of the same offset is new");
        CHECK(spate_winmeta_seen(&m, 3, 10, 1) == 1, "the same (offset, seq) again is a replay");
        CHECK(spate_winmeta_seen(&m, 3, 9, 5) == 1, "a lower offset is a replay");
        CHECK(spate_winmeta_seen(&m, 4, 0, 0) == 0, "another partition is independent");
        spate_winmeta_encode(&m, &b);
        spate_winmeta_init(&got);
        CHECK(spate_winmeta_decode(b.data, b.len, &got, err, sizeof(err)) == 0 && got.nup == 2 &&
              got.up[0].partition == 3 && got.up[0].offset == 10 && got.up[0].seq == 1 && got.up[1].partition == 4,
              "meta round trip");
        CHECK(got.next_offset == 0 && got.stream_time == INT64_MIN,
              "offset and stream time are the store's, not in the node's meta");
        CHECK(spate_winmeta_decode(b.data, b.len - 1, &got, err, sizeof(err)) == -1,
              "truncated meta rejected");
        b.data[0] = 3;
        CHECK(spate_winmeta_decode(b.data, b.len, &got, err, sizeof(err)) == -1 && strstr(err, "version 3"),
              "an earlier version's meta rejected: %s", err);
        spate_buf_free(&b);
}

static void test_commit_flags(void) {
        spate_winconf_t c = conf(SPATE_WINDOW_TUMBLING, 1000, 100, 0);
        spate_winstate_t *ws = spate_winstate_new(&c);
        int n[2] = { 0 };
        add(ws, "k", 100, 1, 0);
        add(ws, "k", 200, 1, 1);
        add(ws, "j", 1050, 1, 2);
        spate_winstate_each_dirty(ws, count_flags, n);
        CHECK(n[0] == 2 && n[1] == 2, "update: two windows dirty and to emit (%d, %d)", n[0], n[1]);
        spate_winstate_clean(ws);
        n[0] = n[1] = 0;
        spate_winstate_close(ws);
        spate_winstate_each_dirty(ws, count_flags, n);
        CHECK(n[0] == 0, "nothing closes before end + grace");
        CHECK(add(ws, "k", 900, 1, 3) == 0, "a record inside grace is applied");
        add(ws, "j", 1100, 1, 4);  /* stream time 1200 >= 1000 + 100 */
        CHECK(add(ws, "k", 950, 1, 5) == 1, "a record after end + grace is late");
        spate_winstate_close(ws);
        spate_went_t *w = spate_winstate_find(ws, "k", 1, 0);
        CHECK(w && w->closed && w->dirty && w->emit && num_result(w, 0) == 3,
              "closing marks dirty; update mode still emits the earlier change");
        spate_winstate_clean(ws);
        spate_winstate_advance(ws, 1000 + 100 + 1100 - 1);
        spate_winstate_close(ws);
        CHECK(spate_winstate_find(ws, "k", 1, 0) && !ws->ndel, "closed marker kept within retention");
        CHECK(ws->nclosed == 2 && ws->nwindows == 2, "both windows are closed markers now (%llu of %llu)", (unsigned long long)ws->nclosed,
              (unsigned long long)ws->nwindows);
        spate_winstate_advance(ws, 1000 + 100 + 1100);
        spate_winstate_close(ws);
        CHECK(!spate_winstate_find(ws, "k", 1, 0) && ws->ndel == 1 && !ws->del[0].output,
              "expired marker deleted, no output tombstone");
        CHECK(ws->nclosed == 1 && ws->nwindows == 1, "the deleted marker is no longer counted closed");
        spate_winstate_clean(ws);
        CHECK(ws->ngroups == 1, "the emptied group is freed (%zu left)", ws->ngroups);
        spate_winstate_free(ws);

        c = conf(SPATE_WINDOW_TUMBLING, 1000, 0, 1);
        ws = spate_winstate_new(&c);
        add(ws, "k", 100, 1, 0);
        n[0] = n[1] = 0;
        spate_winstate_each_dirty(ws, count_flags, n);
        CHECK(n[0] == 1 && n[1] == 0, "final: a change is written, not emitted");
        spate_winstate_clean(ws);
        spate_winstate_advance(ws, 5000);
        spate_winstate_close(ws);
        w = spate_winstate_find(ws, "k", 1, 0);
        CHECK(w && w->closed && w->emit, "final: closing emits");
        spate_winstate_advance(ws, 100000);
        spate_winstate_close(ws);
        CHECK(spate_winstate_find(ws, "k", 1, 0) != NULL, "an unemitted closed window never expires");
        spate_winstate_free(ws);
}

static void test_session_tombstones(void) {
        spate_winconf_t c = conf(SPATE_WINDOW_SESSION, 200, 1000, 0);  /* gap 200 */
        spate_winstate_t *ws = spate_winstate_new(&c);
        add(ws, "s", 0, 1, 0);
        add(ws, "s", 500, 2, 1);
        spate_winstate_clean(ws);
        add(ws, "s", 250, 4, 2);  /* too far from both */
        CHECK(ws->nwindows == 3 && !ws->ndel, "three separate sessions");
        add(ws, "s", 150, 8, 3);  /* joins 0 and 250, not 500 */
        spate_went_t *w = spate_winstate_find(ws, "s", 1, 0);
        CHECK(w && w->end == 250 && num_result(w, 0) == 3 && num_result(w, 1) == 13,
              "merged session [0, 250] with three records");
        CHECK(ws->ndel == 1 && ws->del[0].start == 250 && ws->del[0].output,
              "the absorbed session at 250 gets an output tombstone");
        add(ws, "s", 400, 16, 4);  /* bridges [0,250] and [500,500]: keeps start 0 */
        w = spate_winstate_find(ws, "s", 1, 0);
        CHECK(w && w->end == 500 && num_result(w, 0) == 5 && ws->nwindows == 1,
              "bridging record merges everything into one session");
        spate_winstate_free(ws);
}

static int copy_entry(void *opaque, const spate_wgroup_t *g, int bucket, spate_went_t *e) {
        spate_winstate_t *dst = ((void **)opaque)[0];
        const spate_winconf_t *c = ((void **)opaque)[1];
        char key[SPATE_WENT_KEY_MAX(g->klen)];
        size_t klen = spate_went_key(g->key, g->klen, bucket, e->start, key);
        spate_buf_t b = { 0 };
        spate_went_encode(c, e, &b);
        int rc = spate_winstate_load(dst, key, klen, b.data, b.len, err, sizeof(err));
        spate_buf_free(&b);
        return rc;
}

static void test_load(void) {
        spate_winconf_t c = conf(SPATE_WINDOW_SLIDING, 100, 50, 0);
        spate_winstate_t *a = spate_winstate_new(&c), *b = spate_winstate_new(&c);
        void *args[2] = { b, &c };
        for (int i = 0; i < 20; i++)
                add(a, i % 2 ? "x" : "y", i * 13, i, i);
        CHECK(spate_winstate_each(a, copy_entry, args) == 0 && b->nwindows == a->nwindows &&
              b->nbuckets == a->nbuckets, "every entry loads into another state (%llu windows)",
              (unsigned long long)b->nwindows);
        spate_winstate_advance(b, a->stream_time);
        int n[2] = { 0 };
        spate_winstate_each_dirty(b, count_flags, n);
        CHECK(n[0] == 0 && n[1] == 0, "loaded windows are neither dirty nor to emit");
        /* Both states now take the same record identically. */
        add(a, "x", 250, 7, 20);
        add(b, "x", 250, 7, 20);
        spate_went_t *wa = spate_winstate_find(a, "x", 1, 150), *wb = spate_winstate_find(b, "x", 1, 150);
        CHECK(wa && wb && num_result(wa, 0) == num_result(wb, 0) && num_result(wa, 1) == num_result(wb, 1),
              "restored state continues like the original");
        char key[SPATE_WENT_KEY_MAX(1)];
        size_t klen = spate_went_key("x", 1, 0, 150, key);
        CHECK(spate_winstate_load(b, key, klen, NULL, 0, err, sizeof(err)) == 0 &&
              !spate_winstate_find(b, "x", 1, 150), "a tombstone deletes on load");
        CHECK(spate_winstate_load(b, "junk", 4, "x", 1, err, sizeof(err)) == -1,
              "a malformed key is rejected");
        spate_winstate_free(a);
        spate_winstate_free(b);
}

/* copy_entry's walk: each group's entries arrive together (each_entry's
 * order), so the walk's load is told when a group begins. */
typedef struct {
        spate_winstate_t *dst;
        const spate_winconf_t *c;
        char last[8];
        size_t lastlen;
        int started;
} walk_copy_t;

static int walk_entry(void *opaque, const spate_wgroup_t *g, int bucket, spate_went_t *e) {
        walk_copy_t *w = opaque;
        char key[SPATE_WENT_KEY_MAX(g->klen)];
        size_t klen = spate_went_key(g->key, g->klen, bucket, e->start, key);
        int first = !w->started || g->klen != w->lastlen || memcmp(g->key, w->last, g->klen);
        spate_buf_t b = { 0 };
        spate_went_encode(w->c, e, &b);
        int rc = spate_winstate_load_walk(w->dst, key, klen, b.data, b.len, first, err, sizeof(err));
        spate_buf_free(&b);
        memcpy(w->last, g->key, g->klen);
        w->lastlen = g->klen;
        w->started = 1;
        return rc;
}

/* The walk's load (no lookup of a group's first entry) makes the state the
 * lookup's load makes: the same groups once each, the same windows. */
static void test_load_walk(void) {
        spate_winconf_t c = conf(SPATE_WINDOW_HOPPING, 100, 50, 0);
        spate_winstate_t *a = spate_winstate_new(&c), *b = spate_winstate_new(&c);
        const char *groups[] = { "", "x", "y", "zz" };   /* "" first: a group too */
        walk_copy_t w = { .dst = b, .c = &c };
        for (int i = 0; i < 40; i++)
                add(a, groups[i % 4], i * 7, i, i);
        CHECK(spate_winstate_each(a, walk_entry, &w) == 0 && b->nwindows == a->nwindows &&
              b->ngroups == a->ngroups && b->ngroups == 4, "a walk loads %llu windows in %zu groups",
              (unsigned long long)b->nwindows, b->ngroups);
        int same = 1;
        for (int gi = 0; gi < 4; gi++)
                for (int64_t start = -50; start <= 300; start += 50) {
                        spate_went_t *wa = spate_winstate_find(a, groups[gi], strlen(groups[gi]), start);
                        spate_went_t *wb = spate_winstate_find(b, groups[gi], strlen(groups[gi]), start);
                        same &= (!wa && !wb) || (wa && wb && num_result(wa, 0) == num_result(wb, 0) &&
                                                 num_result(wa, 1) == num_result(wb, 1));
                }
        CHECK(same, "every window as the original's");
        /* A later lookup finds the walked group: no second "x". */
        char key[SPATE_WENT_KEY_MAX(1)];
        spate_buf_t v = { 0 };
        spate_went_encode(&c, spate_winstate_find(a, "x", 1, 0), &v);
        CHECK(spate_winstate_load(b, key, spate_went_key("x", 1, 0, 0, key), v.data, v.len, err,
                                  sizeof(err)) == 0 && b->ngroups == 4 && b->nwindows == a->nwindows,
              "a lookup after the walk replaces in the walked group");
        spate_buf_free(&v);
        spate_winstate_free(a);
        spate_winstate_free(b);
}

static void test_iso(void) {
        char buf[32];
        spate_fmt_iso_ms(INT64_C(1795428000000), buf, sizeof(buf));
        CHECK_STR(buf, "2026-11-23T10:00:00Z", "whole seconds");
        spate_fmt_iso_ms(300, buf, sizeof(buf));
        CHECK_STR(buf, "1970-01-01T00:00:00.300Z", "milliseconds");
        spate_fmt_iso_ms(-20, buf, sizeof(buf));
        CHECK_STR(buf, "1969-12-31T23:59:59.980Z", "negative times");
}

typedef struct {
        spate_winstate_t *ws;
        spate_wcomb_t batches[64];
        char *enc[64];
        int n;
} merge_t;

static int keep_batch(void *opaque, spate_wcomb_t *b) {
        merge_t *m = opaque;
        if (m->n == 64 || !(m->enc[m->n] = malloc(b->slen)))
                return -1;
        memcpy(m->enc[m->n], b->states, b->slen);
        m->batches[m->n] = *b;
        m->batches[m->n].states = m->enc[m->n];
        m->n++;
        return 0;
}

/* Records merged by the combiner and applied as batches leave a task with
 * the very window states that applying them one by one does. */
static void test_combiner(spate_window_type_t type) {
        spate_winconf_t c = conf(type, 1000, 500, 0);
        spate_winstate_t *direct = spate_winstate_new(&c), *merged = spate_winstate_new(&c);
        win_comb_t *comb = win_comb_new(&c);
        merge_t m = { merged, { { 0 } }, { 0 }, 0 };
        direct->external_time = merged->external_time = 1;  /* judged by st alone, as after a repartition */
        int same = 1, late = 0;
        static const char *groups[] = { "nord", "sud", "est" };
        for (int i = 0; i < 300; i++) {
                int64_t t = 1000 + (i * 7919) % 4000, st = 1000 + i * 13;
                spate_val_t vals[3];
                for (int k = 0; k < 3; k++)
                        vals[k] = (spate_val_t){ .type = SPATE_VAL_NUM, .num = (i * 37) % 101 / 7.0 };
                spate_wrec_t r = { groups[i % 3], strlen(groups[i % 3]), t, vals, { t, i % 2, 100 + i }, st, NULL, 0 };
                if (spate_window_is_late(&c.spec, t, st)) {
                        late++;
                        continue;
                }
                spate_winstate_add(direct, &r);
                win_comb_add(comb, i % 2, &r);
        }
        CHECK(win_comb_each(comb, keep_batch, &m) == 0 && m.n > 0 && m.n < 64, "%d batches from %d records",
              m.n, 300 - late);
        for (int i = 0; i < m.n; i++) {
                spate_agg_state_t *st;
                int ns;
                same &= spate_agg_state_decode(m.batches[i].states, m.batches[i].slen, &st, &ns, err,
                                               sizeof(err)) == 0 &&
                        spate_winstate_merge(merged, m.batches[i].group, m.batches[i].glen, m.batches[i].start,
                                             m.batches[i].st, st) == 0;
                spate_agg_states_free(st, ns);
                free(m.enc[i]);
        }
        same &= direct->nwindows == merged->nwindows && direct->nwindows > 3;
        for (int gi = 0; gi < 3 && same; gi++)
                for (int64_t s = 0; s < 6000; s += 500) {
                        spate_went_t *x = spate_winstate_find(direct, groups[gi], strlen(groups[gi]), s);
                        spate_went_t *y = spate_winstate_find(merged, groups[gi], strlen(groups[gi]), s);
                        if (!x != !y) {
                                same = 0;
                                break;
                        }
                        if (!x)
                                continue;
                        /* Results, not bytes: a Neumaier sum's compensation
                         * term depends on the order of additions. */
                        for (int k = 0; k < 3; k++) {
                                spate_val_t vx, vy;
                                spate_agg_result(&x->states[k], &vx);
                                spate_agg_result(&y->states[k], &vy);
                                same &= vx.type == vy.type && vx.num == vy.num;
                        }
                }
        CHECK(same, "%s: combined batches give the same windows and states as single records (%d late "
              "records left out)", spate_window_type_name(type), late);
        win_comb_clear(comb);
        CHECK(win_comb_count(comb) == 0, "cleared");
        for (int i = 0; i < 40; i++) {
                spate_val_t vals[3] = { { .type = SPATE_VAL_NUM, .num = i } };
                vals[1] = vals[2] = vals[0];
                spate_wrec_t r = { groups[i % 3], strlen(groups[i % 3]), 2000 + i, vals, { 2000 + i, i % 2, i }, 2000, NULL, 0 };
                win_comb_add(comb, i % 2, &r);
        }
        size_t before = win_comb_count(comb);
        win_comb_drop(comb, 0);
        m.n = 0;
        int only1 = win_comb_each(comb, keep_batch, &m) == 0 && m.n > 0;
        for (int i = 0; i < m.n; i++) {
                only1 &= m.batches[i].up_partition == 1;
                free(m.enc[i]);
        }
        size_t kept = win_comb_count(comb);
        spate_val_t one[3] = { { .type = SPATE_VAL_NUM, .num = 1 }, { .type = SPATE_VAL_NUM, .num = 1 },
                               { .type = SPATE_VAL_NUM, .num = 1 } };
        spate_wrec_t again = { groups[1], strlen(groups[1]), 2001, one, { 2001, 1, 99 }, 2000, NULL, 0 };
        win_comb_add(comb, 1, &again);
        CHECK(only1 && kept * 2 == before && win_comb_count(comb) == kept, "a revoked partition's batches are "
              "dropped, the others kept and still found (%zu of %zu)", kept, before);
        win_comb_free(comb);
        spate_winstate_free(direct);
        spate_winstate_free(merged);
}

/* A repartitioned task whose other source partitions closed a window before
 * a late-starting partition reached it: the partition's records are on time
 * by its own stream time, so the closed window takes them and is emitted
 * again (a revision); once the window is gone (past retention) they are late. */
static void test_revision(void) {
        spate_winconf_t c = conf(SPATE_WINDOW_TUMBLING, 1000, 100, 1);
        spate_winstate_t *ws = spate_winstate_new(&c);
        spate_val_t one[3] = { { .type = SPATE_VAL_NUM, .num = 1 }, { .type = SPATE_VAL_NUM, .num = 1 },
                               { .type = SPATE_VAL_NUM, .num = 1 } };
        ws->external_time = 1;
        spate_wrec_t a = { "g", 1, 500, one, { 500, 0, 1 }, 500, NULL, 0 };
        CHECK(spate_winstate_add(ws, &a) == 0, "a record of partition 0");
        spate_winstate_advance(ws, 1100);  /* the marks of partition 0 pass end + grace */
        spate_winstate_close(ws);
        spate_went_t *w = spate_winstate_find(ws, "g", 1, 0);
        CHECK(w && w->closed && w->emit && num_result(w, 0) == 1, "closed and emitted final");
        spate_winstate_clean(ws);
        spate_wrec_t b = { "g", 1, 400, one, { 400, 1, 7 }, 400, NULL, 0 };
        CHECK(spate_winstate_add(ws, &b) == 0 && w->emit && w->dirty && num_result(w, 0) == 2 &&
              ws->nrevised == 1, "a record on time by its own partition revises the closed window");
        spate_winstate_clean(ws);
        spate_agg_state_t *states = spate_agg_states_new(c.fns, NULL, 3);
        spate_agg_update(&states[0], &one[0], &b.origin);
        CHECK(spate_winstate_merge(ws, "g", 1, 0, 450, states) == 0 && w->emit && num_result(w, 0) == 3,
              "so does a combined batch");
        CHECK(spate_winstate_merge(ws, "g", 1, 0, 1100, states) == 1, "a batch late by its own partition is late");
        spate_winstate_clean(ws);
        b.st = 1100;
        CHECK(spate_winstate_add(ws, &b) == 1, "so is a record");
        spate_winstate_advance(ws, 1100 + 1100);
        spate_winstate_close(ws);
        spate_winstate_clean(ws);
        b.st = 400;
        CHECK(!spate_winstate_find(ws, "g", 1, 0) && spate_winstate_add(ws, &b) == 1 &&
              spate_winstate_merge(ws, "g", 1, 0, 450, states) == 1,
              "past retention the window is gone: late, never re-created with part of its records");
        CHECK(spate_winstate_merge(ws, "h", 1, 1000, 1500, states) == 0 &&
              (w = spate_winstate_find(ws, "h", 1, 1000)) && w->closed && w->emit && num_result(w, 0) == 1,
              "a closed window that never had records (and would still be kept) is created, closed");
        CHECK(ws->nwindows == 1 && ws->nclosed == 1, "and counted closed (%llu windows, %llu closed)",
              (unsigned long long)ws->nwindows, (unsigned long long)ws->nclosed);
        spate_agg_states_free(states, 3);
        spate_winstate_free(ws);
}

/* --- resampling (fill) --- */

/* A task's store and outputs in miniature: committed entries by key, and
 * the emitted windows as text lines. */
typedef struct {
        struct { char k[64]; size_t kl; char v[256]; size_t vl; } kv[128];
        int n;
        char out[4096];
        size_t olen;
        const spate_winconf_t *c;
} mini_t;

static void mini_put(mini_t *m, const char *k, size_t kl, const void *v, size_t vl) {
        int i;
        for (i = 0; i < m->n && !(m->kv[i].kl == kl && !memcmp(m->kv[i].k, k, kl)); i++)
                ;
        if (!v) {
                if (i < m->n)
                        m->kv[i] = m->kv[--m->n];
                return;
        }
        if (i == m->n)
                m->n++;
        memcpy(m->kv[i].k, k, kl);
        m->kv[i].kl = kl;
        memcpy(m->kv[i].v, v, vl);
        m->kv[i].vl = vl;
}

static int mini_entry(void *opaque, const spate_wgroup_t *g, int bucket, spate_went_t *e) {
        mini_t *m = opaque;
        char key[SPATE_WENT_KEY_MAX(8)];
        spate_buf_t b = { 0 };
        if (e->dirty) {
                spate_went_encode(m->c, e, &b);
                mini_put(m, key, spate_went_key(g->key, g->klen, bucket, e->start, key), b.data, b.len);
                spate_buf_free(&b);
        }
        if (e->emit && !bucket)
                m->olen += (size_t)snprintf(m->out + m->olen, sizeof(m->out) - m->olen,
                                            "%.*s@%lld gap=%d stale=%d count=%g sum=%g\n", (int)g->klen,
                                            g->key, (long long)e->start / 1000, e->gap,
                                            spate_went_stale(m->c, e), num_result(e, 0), num_result(e, 1));
        return 0;
}

/* A commit: closes what stream time closed, stores and emits, cleans. */
static void mini_commit(spate_winstate_t *ws, mini_t *m) {
        char key[SPATE_WENT_KEY_MAX(8)];
        spate_winstate_close(ws);
        for (int i = 0; i < ws->ndel; i++)
                mini_put(m, key, spate_went_key(ws->del[i].group, ws->del[i].glen, ws->del[i].bucket,
                                                ws->del[i].start, key), NULL, 0);
        spate_winstate_each_dirty(ws, mini_entry, m);
        spate_winstate_clean(ws);
}

/* Tumbling 10 s, grace 0, emit: final, fill_max 30 s. */
static spate_winconf_t fill_conf(int fill) {
        spate_winconf_t c = conf(SPATE_WINDOW_TUMBLING, 10000, 0, 1);
        c.fill = fill;
        c.fill_max = 30000;
        return c;
}

/* A restart: m's committed entries loaded into ws (emitted again when
 * they would be), at stream time st. */
static void mini_restore(spate_winstate_t *ws, const mini_t *m, int64_t st) {
        for (int i = 0; i < m->n; i++)
                spate_winstate_load(ws, m->kv[i].k, m->kv[i].kl, m->kv[i].v, m->kv[i].vl, err, sizeof(err));
        spate_winstate_advance(ws, st);
}

/* 1 when every line of a is a line of b (the order of groups may differ). */
static int lines_in(const char *a, const char *b) {
        char line[128];
        for (const char *p = a, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
                snprintf(line, sizeof(line), "%.*s", (int)(nl - p + 1), p);
                const char *at = strstr(b, line);
                if (!at || (at != b && at[-1] != '\n'))
                        return 0;
        }
        return 1;
}

/* The same record and commit in two states (one restored), outputs anew. */
static void both(spate_winstate_t *const ws[2], mini_t *const m[2], const char *g, int64_t t, double v,
                 int64_t off) {
        for (int k = 0; k < 2; k++) {
                m[k]->olen = 0;
                add(ws[k], g, t, v, off);
                mini_commit(ws[k], m[k]);
        }
}

/* A sensor goes silent: gap windows carry its last interval forward, one per
 * 10 s interval up to fill_max (30 s) after it, the last one stale; a state
 * restored from the first commit's entries fills exactly the same. */
static void test_fill_silent(void) {
        spate_winconf_t c = fill_conf(SPATE_FILL_PREVIOUS);
        mini_t *m[2] = { calloc(1, sizeof(mini_t)), calloc(1, sizeof(mini_t)) };
        spate_winstate_t *ws[2] = { spate_winstate_new(&c), spate_winstate_new(&c) };
        m[0]->c = m[1]->c = &c;
        add(ws[0], "a", 1000, 5, 0);
        add(ws[0], "a", 12000, 7, 1);
        add(ws[0], "b", 15000, 1, 2);
        mini_commit(ws[0], m[0]);
        CHECK_STR(m[0]->out, "a@0 gap=0 stale=0 count=1 sum=5\n", "first commit: a's first interval");
        mini_restore(ws[1], m[0], 15000);
        both(ws, m, "b", 75000, 1, 3);
        CHECK_STR(m[0]->out, "b@10 gap=0 stale=0 count=1 sum=1\n"   /* groups in the order touched */
                             "b@20 gap=1 stale=0 count=1 sum=1\n"
                             "b@30 gap=1 stale=0 count=1 sum=1\n"
                             "b@40 gap=1 stale=1 count=1 sum=1\n"
                             "a@10 gap=0 stale=0 count=1 sum=7\n"
                             "a@20 gap=1 stale=0 count=1 sum=7\n"
                             "a@30 gap=1 stale=0 count=1 sum=7\n"
                             "a@40 gap=1 stale=1 count=1 sum=7\n",
              "silent until 75 s: three gaps each (carried states), the third stale, none at 50 s");
        CHECK(lines_in(m[0]->out, m[1]->out),
              "a state restored from the first commit fills the same gaps: %s", m[1]->out);
        int gaps = 0;
        for (int i = 0; i < m[0]->n; i++) {
                spate_went_t e;
                if (!spate_went_decode(&c, m[0]->kv[i].v, m[0]->kv[i].vl, &e, err, sizeof(err))) {
                        gaps += e.gap == SPATE_GAP_FILLED && e.ngap >= 1 && e.ngap <= 3;
                        spate_agg_states_free(e.states, c.nfns);
                }
        }
        CHECK(gaps >= 2, "gap windows are stored with their flag and count (%d in the store)", gaps);
        for (int k = 0; k < 2; k++) {
                spate_winstate_free(ws[k]);
                free(m[k]);
        }
}

/* A record within grace lands in a gap window: it becomes a window with
 * readings; the end of the stream closes open gaps without filling on. */
static void test_fill_grace(void) {
        spate_winconf_t c = conf(SPATE_WINDOW_TUMBLING, 10000, 5000, 1);
        mini_t *m = calloc(1, sizeof(*m));
        spate_went_t *e;
        c.fill = SPATE_FILL_NULL;
        c.fill_max = 3600000;
        m->c = &c;
        spate_winstate_t *ws = spate_winstate_new(&c);
        add(ws, "a", 1000, 5, 0);
        add(ws, "b", 16000, 1, 1);
        mini_commit(ws, m);
        e = spate_winstate_find(ws, "a", 1, 10000);
        CHECK(e && e->gap && e->ngap == 1 && !e->closed, "a's next interval is an open gap window");
        add(ws, "a", 18000, 9, 2);
        e = spate_winstate_find(ws, "a", 1, 10000);
        CHECK(e && !e->gap && num_result(e, 0) == 1 && num_result(e, 1) == 9,
              "a reading within grace empties the gap window first");
        m->olen = 0;
        add(ws, "b", 26000, 1, 3);
        mini_commit(ws, m);
        CHECK(strstr(m->out, "a@10 gap=0 stale=0 count=1 sum=9\n") != NULL, "it closes as a window "
              "with readings: %s", m->out);
        e = spate_winstate_find(ws, "a", 1, 20000);
        CHECK(e && e->gap && num_result(e, 1) == 9, "the next gap carries it");
        spate_winstate_advance(ws, SPATE_WINDOW_END_OF_STREAM);
        m->olen = 0;
        mini_commit(ws, m);
        CHECK(strstr(m->out, "a@20 gap=1") && !spate_winstate_find(ws, "a", 1, 30000),
              "the end of the stream closes the gap, no new one: %s", m->out);
        spate_winstate_free(ws);
        free(m);
}

/* fill: linear. Sums 10 at 0 s and 40 at 30 s: the gaps at 10 and 20 s wait
 * for the 30 s interval and get 20 and 30; silent after it, the gaps at 40,
 * 50 and 60 s (stale) come out when the interval after the stale one closes
 * without readings, with null values.
 * A state restored while gaps are pending fills them the same. */
static void test_fill_linear(void) {
        spate_winconf_t c = fill_conf(SPATE_FILL_LINEAR);
        mini_t *m[2] = { calloc(1, sizeof(mini_t)), calloc(1, sizeof(mini_t)) };
        spate_winstate_t *ws[2] = { spate_winstate_new(&c), spate_winstate_new(&c) };
        spate_val_t v;
        m[0]->c = m[1]->c = &c;
        add(ws[0], "a", 1000, 10, 0);
        add(ws[0], "b", 15000, 1, 1);
        add(ws[0], "b", 25000, 1, 2);
        mini_commit(ws[0], m[0]);
        spate_went_t *e = spate_winstate_find(ws[0], "a", 1, 10000);
        CHECK(e && e->closed && e->gap == SPATE_GAP_PENDING && !strstr(m[0]->out, "a@10"),
              "a closed gap is pending, not emitted: %s", m[0]->out);
        mini_restore(ws[1], m[0], 25000);
        e = spate_winstate_find(ws[1], "a", 1, 10000);
        CHECK(e && e->gap == SPATE_GAP_PENDING && !e->emit, "restored: still pending, not emitted again");
        both(ws, m, "a", 35000, 40, 3);   /* a restored state: its first commit emits a@0 again */
        both(ws, m, "b", 45000, 1, 4);
        for (int k = 0; k < 2; k++)
                CHECK_STR(m[k]->out, "a@10 gap=1 stale=0 count=1 sum=20\na@20 gap=1 stale=0 count=1 sum=30\n"
                          "a@30 gap=0 stale=0 count=1 sum=40\n", k ? "restored while pending, the same"
                          : "the 30 s interval fills the gaps before it: 10 + 30 * 1/3 and 2/3");
        both(ws, m, "b", 65000, 1, 5);
        CHECK(!strstr(m[0]->out, "a@"), "silent: gaps at 40 and 50 s pending");
        both(ws, m, "b", 75000, 1, 6);
        CHECK(!strstr(m[0]->out, "a@"), "the stale gap closed, the interval after it not yet: still pending");
        both(ws, m, "b", 80000, 1, 7);
        for (int k = 0; k < 2; k++)
                CHECK(strstr(m[k]->out, "a@40 gap=1 stale=0") && strstr(m[k]->out, "a@50 gap=1 stale=0") &&
                      strstr(m[k]->out, "a@60 gap=1 stale=1") && !strstr(m[k]->out, "a@70"),
                      "the interval after the stale gap closed without readings: the run comes out: %s",
                      m[k]->out);
        e = spate_winstate_find(ws[0], "a", 1, 50000);
        spate_agg_result(&e->states[1], &v);
        CHECK(v.type == SPATE_VAL_NULL && num_result(e, 0) == 1, "silent run: sum null, count carried (the "
              "node outputs 0)");
        for (int k = 0; k < 2; k++) {
                spate_winstate_free(ws[k]);
                free(m[k]);
        }
}

int main(void) {
        test_spec_parse();
        test_fill_linear();
        test_fill_silent();
        test_fill_grace();
        test_repart_codec();
        test_watermark();
        test_seen_range();
        test_combiner(SPATE_WINDOW_TUMBLING);
        test_combiner(SPATE_WINDOW_HOPPING);
        test_entry_codec();
        test_meta();
        test_commit_flags();
        test_revision();
        test_session_tombstones();
        test_load();
        test_load_walk();
        test_iso();
        return CHECK_DONE();
}
