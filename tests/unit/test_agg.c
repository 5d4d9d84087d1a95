/* test_agg.c - unit tests of the aggregate states: every function, merge equals
 * union, order independence, and the byte encoding. */
#include "check.h"
#include "../../operators/window/agg.h"

#include <stdint.h>
#include <stdlib.h>

static const spate_agg_fn_t all_fns[] = {
        SPATE_AGG_COUNT, SPATE_AGG_SUM, SPATE_AGG_MEAN, SPATE_AGG_MIN,
        SPATE_AGG_MAX, SPATE_AGG_FIRST, SPATE_AGG_LAST, SPATE_AGG_COUNT_DISTINCT
};
#define NFNS 8

static char err[256];

static spate_val_t num(double d) { return (spate_val_t){ .type = SPATE_VAL_NUM, .num = d }; }
static spate_val_t str(const char *s) {
        return (spate_val_t){ .type = SPATE_VAL_STR, .str = s, .len = strlen(s) };
}
static spate_val_t boolean(int b) { return (spate_val_t){ .type = SPATE_VAL_BOOL, .b = b }; }
static const spate_val_t null_val = { .type = SPATE_VAL_NULL };

typedef struct {
        spate_val_t v;
        spate_agg_origin_t o;
} rec_t;

static void apply(spate_agg_state_t *st, int nst, const rec_t *recs, const int *order, int n) {
        for (int i = 0; i < n; i++) {
                const rec_t *r = &recs[order ? order[i] : i];
                for (int j = 0; j < nst; j++)
                        spate_agg_update(&st[j], &r->v, &r->o);
        }
}

static double result_num(const spate_agg_state_t *s) {
        spate_val_t v;

        spate_agg_result(s, &v);
        return v.type == SPATE_VAL_NUM ? v.num : NAN;
}

static int result_is_null(const spate_agg_state_t *s) {
        spate_val_t v;

        spate_agg_result(s, &v);
        return v.type == SPATE_VAL_NULL;
}

static int same_result(const spate_agg_state_t *a, const spate_agg_state_t *b) {
        spate_val_t x, y;

        spate_agg_result(a, &x);
        spate_agg_result(b, &y);
        if (x.type != y.type)
                return 0;
        switch (x.type) {
        case SPATE_VAL_NUM: return !memcmp(&x.num, &y.num, sizeof(x.num));
        case SPATE_VAL_BOOL: return x.b == y.b;
        case SPATE_VAL_STR: return x.len == y.len && !memcmp(x.str, y.str, x.len);
        default: return 1;
        }
}

static int same_encoding(const spate_agg_state_t *a, const spate_agg_state_t *b, int n) {
        char *x = NULL, *y = NULL;
        size_t xl = 0, yl = 0;
        int same;

        spate_agg_state_encode(a, n, &x, &xl, err, sizeof(err));
        spate_agg_state_encode(b, n, &y, &yl, err, sizeof(err));
        same = x && y && xl == yl && !memcmp(x, y, xl);
        free(x);
        free(y);
        return same;
}

/* How many of the len proper prefixes of an encoding fail to decode. */
static int truncations_rejected(const char *buf, size_t len) {
        int rejected = 0;
        for (size_t cut = 0; cut < len; cut++) {
                spate_agg_state_t *tmp = NULL;
                int tn = 0;
                if (spate_agg_state_decode(buf, cut, &tmp, &tn, err, sizeof(err)) == -1)
                        rejected++;
                else
                        spate_agg_states_free(tmp, tn);
        }
        return rejected;
}

static void test_basics(void) {
        spate_agg_state_t *st = spate_agg_states_new(all_fns, NULL, NFNS);
        const rec_t recs[] = {
                { num(3), { 10, 0, 1 } },
                { null_val, { 5, 0, 2 } },
                { num(-2.5), { 20, 0, 3 } },
                { num(7), { 10, 1, 0 } },   /* ties t=10 with the first: partition decides */
                { num(3), { 15, 0, 4 } },
        };
        spate_val_t v;

        CHECK(result_num(&st[0]) == 0 && result_is_null(&st[1]) && result_is_null(&st[2]) &&
              result_is_null(&st[3]) && result_is_null(&st[5]) && result_num(&st[7]) == 0,
              "empty: count 0, sum/mean/min/first null, count_distinct 0");
        apply(st, NFNS, recs, NULL, 5);
        CHECK(result_num(&st[0]) == 5, "count counts the null record too");
        CHECK(result_num(&st[1]) == 10.5, "sum ignores null: %g", result_num(&st[1]));
        CHECK(result_num(&st[2]) == 10.5 / 4, "mean = sum / non-null count");
        CHECK(result_num(&st[3]) == -2.5 && result_num(&st[4]) == 7, "min -2.5, max 7");
        CHECK(result_num(&st[5]) == 3, "first: t=10 p=0 beats t=10 p=1; null at t=5 ignored");
        CHECK(result_num(&st[6]) == -2.5, "last: largest time");
        CHECK(result_num(&st[7]) == 3, "count_distinct {3, -2.5, 7}");

        spate_val_t s = str("x");
        CHECK(spate_agg_update(&st[1], &s, &recs[0].o) == 1 &&
              spate_agg_update(&st[1], &null_val, &recs[0].o) == 1,
              "sum reports strings and nulls as ignored");
        v = num(INFINITY);
        CHECK(spate_agg_update(&st[1], &v, NULL) == 1 && result_num(&st[1]) == 10.5,
              "sum ignores infinity");
        v = num(NAN);
        CHECK(spate_agg_update(&st[3], &v, NULL) == 1 && spate_agg_update(&st[7], &v, NULL) == 1,
              "NaN ignored by min and count_distinct");
        spate_agg_states_free(st, NFNS);

        spate_agg_fn_t fn;
        CHECK(spate_agg_fn_parse("count_distinct", &fn) == 0 && fn == SPATE_AGG_COUNT_DISTINCT &&
              !strcmp(spate_agg_fn_name(SPATE_AGG_MEAN), "mean") &&
              spate_agg_fn_parse("median", &fn) == -1, "function names");
}

static void test_mixed_types(void) {
        static const spate_agg_fn_t fns[] = {
                SPATE_AGG_MIN, SPATE_AGG_MAX, SPATE_AGG_COUNT_DISTINCT, SPATE_AGG_FIRST
        };
        spate_agg_state_t *st = spate_agg_states_new(fns, NULL, 4);
        const rec_t recs[] = {
                { str("pear"), { 1, 0, 0 } }, { str("apple"), { 2, 0, 1 } },
                { str("app"), { 3, 0, 2 } }, { num(1), { 4, 0, 3 } },
                { str("1"), { 5, 0, 4 } }, { boolean(1), { 6, 0, 5 } },
                { num(-0.0), { 7, 0, 6 } }, { num(0.0), { 8, 0, 7 } },
                { str(""), { 9, 0, 8 } },
        };
        spate_val_t v;

        apply(st, 4, recs, NULL, 9);
        spate_agg_result(&st[0], &v);
        CHECK(v.type == SPATE_VAL_BOOL && v.b == 1, "min: bools sort before numbers and strings");
        spate_agg_result(&st[1], &v);
        CHECK(v.type == SPATE_VAL_STR && v.len == 4 && !memcmp(v.str, "pear", 4),
              "max: strings last, bytewise");
        CHECK(result_num(&st[2]) == 8, "count_distinct: 1 != \"1\", -0.0 == 0.0, \"\" counts "
              "(got %g)", result_num(&st[2]));
        spate_agg_result(&st[3], &v);
        CHECK(v.type == SPATE_VAL_STR && !strcmp(v.str, "pear"), "first may be a string");
        spate_agg_states_free(st, 4);

        spate_agg_state_t a;
        spate_agg_init(&a, SPATE_AGG_MIN);
        v = str("app");
        spate_agg_update(&a, &v, NULL);
        v = str("apple");
        spate_agg_update(&a, &v, NULL);
        spate_agg_result(&a, &v);
        CHECK(v.len == 3, "a prefix sorts before the longer string");
        spate_agg_free(&a);
}

static void test_neumaier(void) {
        spate_agg_state_t s;
        const double xs[] = { 1e16, 1.0, -1e16 };
        spate_val_t v;

        spate_agg_init(&s, SPATE_AGG_SUM);
        for (int i = 0; i < 3; i++) {
                v = num(xs[i]);
                spate_agg_update(&s, &v, NULL);
        }
        CHECK(result_num(&s) == 1.0, "1e16 + 1 - 1e16 = 1 (naive summation gives 0)");
        spate_agg_free(&s);
}

/* xorshift so the test is reproducible without rand()'s platform variance. */
static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

static void shuffle(int *order, int n) {
        for (int i = n - 1; i > 0; i--) {
                int j = (int)(next_rand() % (uint64_t)(i + 1)), t = order[i];
                order[i] = order[j];
                order[j] = t;
        }
}

#define NREC 5000

static rec_t *random_records(void) {
        static char strs[NREC][16];
        rec_t *recs = calloc(NREC, sizeof(*recs));

        for (int i = 0; i < NREC; i++) {
                uint64_t r = next_rand();
                /* Magnitudes 1e-6 .. 1e9, both signs, some repeats, nulls and strings. */
                double mag = pow(10, (double)(r % 16) - 6);
                if (r % 17 == 0)
                        recs[i].v = null_val;
                else if (r % 23 == 0)
                        recs[i].v = num((double)(r % 7));
                else if (r % 29 == 0) {
                        snprintf(strs[i], sizeof(strs[i]), "s%u", (unsigned)(r % 50));
                        recs[i].v = str(strs[i]);
                } else
                        recs[i].v = num((r & 1 ? -1.0 : 1.0) * mag * (double)(r >> 11) / 9e15);
                /* Few distinct times, partitions and offsets: many first/last ties. */
                recs[i].o = (spate_agg_origin_t){ (int64_t)(r % 40), (int32_t)(r % 3), i };
        }
        return recs;
}

static void test_order_independence(void) {
        rec_t *recs = random_records();
        int order[NREC];
        spate_agg_state_t *ref = spate_agg_states_new(all_fns, NULL, NFNS);
        int all_same = 1, enc_same = 1;

        for (int i = 0; i < NREC; i++)
                order[i] = i;
        apply(ref, NFNS, recs, order, NREC);
        for (int round = 0; round < 20; round++) {
                spate_agg_state_t *st = spate_agg_states_new(all_fns, NULL, NFNS);
                shuffle(order, NREC);
                apply(st, NFNS, recs, order, NREC);
                for (int j = 0; j < NFNS; j++)
                        all_same &= same_result(&st[j], &ref[j]);
                enc_same &= same_encoding(&st[5], &ref[5], 3);   /* first, last, distinct */
                spate_agg_states_free(st, NFNS);
        }
        CHECK(all_same, "20 shuffles of 5000 records: every result identical to the bit");
        CHECK(enc_same, "first/last/count_distinct encode to identical bytes in any order");
        spate_agg_states_free(ref, NFNS);
        free(recs);
}

static void test_merge_is_union(void) {
        rec_t *recs = random_records();
        int order[NREC], ok = 1;
        spate_agg_state_t *all = spate_agg_states_new(all_fns, NULL, NFNS);

        for (int i = 0; i < NREC; i++)
                order[i] = i;
        apply(all, NFNS, recs, NULL, NREC);
        for (int round = 0; round < 10; round++) {
                spate_agg_state_t *a = spate_agg_states_new(all_fns, NULL, NFNS);
                spate_agg_state_t *b = spate_agg_states_new(all_fns, NULL, NFNS);
                int cut = (int)(next_rand() % NREC);
                shuffle(order, NREC);
                apply(a, NFNS, recs, order, cut);
                apply(b, NFNS, recs, order + cut, NREC - cut);
                CHECK(spate_agg_states_merge(round % 2 ? a : b, round % 2 ? b : a, NFNS) == 0,
                      "merge round %d (split at %d)", round, cut);
                for (int j = 0; j < NFNS; j++) {
                        int same = same_result(round % 2 ? &a[j] : &b[j], &all[j]);
                        if (!same)
                                printf("# merge mismatch: %s round %d\n",
                                       spate_agg_fn_name(all_fns[j]), round);
                        ok &= same;
                }
                spate_agg_states_free(a, NFNS);
                spate_agg_states_free(b, NFNS);
        }
        CHECK(ok, "merge(a, b) has the result of the union, every function, 10 splits");

        spate_agg_state_t e1, e2;
        spate_agg_init(&e1, SPATE_AGG_FIRST);
        spate_agg_init(&e2, SPATE_AGG_FIRST);
        CHECK(spate_agg_merge(&e1, &e2) == 0 && result_is_null(&e1), "merging empties: empty");
        spate_agg_init(&e2, SPATE_AGG_LAST);
        CHECK(spate_agg_merge(&e1, &e2) == -1, "merging different functions is an error");
        spate_agg_states_free(all, NFNS);
        free(recs);
}

static void test_codec(void) {
        rec_t *recs = random_records();
        spate_agg_state_t *st = spate_agg_states_new(all_fns, NULL, NFNS), *back = NULL, *empty;
        char *buf = NULL, *buf2 = NULL;
        size_t len = 0, len2 = 0;
        int n = 0, ok = 1;

        apply(st, NFNS, recs, NULL, NREC);
        CHECK(spate_agg_state_encode(st, NFNS, &buf, &len, err, sizeof(err)) == 0, "encode");
        CHECK(spate_agg_state_decode(buf, len, &back, &n, err, sizeof(err)) == 0 && n == NFNS,
              "decode (%s)", err);
        for (int j = 0; back && j < NFNS; j++)
                ok &= back[j].fn == all_fns[j] && same_result(&back[j], &st[j]);
        CHECK(ok, "every decoded result equals the original");
        spate_agg_state_encode(back, n, &buf2, &len2, err, sizeof(err));
        CHECK(len == len2 && !memcmp(buf, buf2, len), "re-encoding gives the same %zu bytes", len);
        /* Decoded states keep working: update and merge after a round trip. */
        spate_val_t v = num(1e6);
        spate_agg_origin_t o = { 1000, 0, 0 };
        spate_agg_update(&back[7], &v, &o);
        spate_agg_update(&back[6], &v, &o);
        CHECK(result_num(&back[7]) == result_num(&st[7]) + 1 && result_num(&back[6]) == 1e6,
              "decoded count_distinct and last accept updates");

        int rejected = truncations_rejected(buf, len);
        CHECK(rejected == (int)len, "every truncation rejected (%d of %zu)", rejected, len);
        buf[0] = 9;
        CHECK(spate_agg_state_decode(buf, len, &empty, &n, err, sizeof(err)) == -1,
              "unknown version rejected");
        CHECK(spate_agg_state_decode("\x01\xff\xff\xff\xff\x0f", 6, &empty, &n, err,
                                     sizeof(err)) == -1, "absurd state count rejected");
        free(buf);
        free(buf2);

        empty = spate_agg_states_new(all_fns, NULL, NFNS);
        spate_agg_state_encode(empty, NFNS, &buf, &len, err, sizeof(err));
        CHECK(len < 32, "empty window state of 8 aggregates is %zu bytes", len);
        spate_agg_states_free(empty, NFNS);
        empty = NULL;
        CHECK(spate_agg_state_decode(buf, len, &empty, &n, err, sizeof(err)) == 0 && n == NFNS &&
              result_is_null(&empty[1]) && result_num(&empty[0]) == 0, "empty states round trip");
        free(buf);
        spate_agg_states_free(empty, n);
        spate_agg_states_free(back, NFNS);
        spate_agg_states_free(st, NFNS);
        free(recs);
}

static void test_big_distinct(void) {
        spate_agg_state_t s;
        spate_val_t v;
        int ok = 1;

        spate_agg_init(&s, SPATE_AGG_COUNT_DISTINCT);
        for (int round = 0; round < 2; round++)
                for (int i = 0; i < 200000; i++) {
                        v = num(i);
                        ok &= spate_agg_update(&s, &v, NULL) == 0;
                }
        CHECK(ok && result_num(&s) == 200000, "200000 distinct numbers, each seen twice");
        spate_agg_free(&s);
}

/* The data-quality functions on one sensor's six readings, in event order:
 * 10 12 30 11 11 -5 at t = 1..6 s. Expected values worked out by hand:
 * mean 11.5, squared deviations 2.25 .25 342.25 .25 .25 272.25 = 617.5, so
 * the sample variance is 617.5 / 5 = 123.5; jumps over 5: 12->30, 30->11,
 * 11->-5 (3); below 0: one reading. */
static const spate_agg_fn_t q_fns[] = {
        SPATE_AGG_COUNT_IF, SPATE_AGG_STDDEV, SPATE_AGG_STUCK, SPATE_AGG_STALENESS,
        SPATE_AGG_COMPLETENESS, SPATE_AGG_SPIKES
};
static const double q_params[] = { 0, 0, 0, 0, 1000, 5 };
#define NQ 6
static const double q_x[] = { 10, 12, 30, 11, 11, -5 };

/* Reading i of q_x into every quality state (count_if gets x < 0). */
static void q_apply(spate_agg_state_t *st, int i) {
        spate_val_t x = num(q_x[i]), below = boolean(q_x[i] < 0);
        spate_agg_origin_t o = { (i + 1) * 1000, 0, i };
        for (int j = 0; j < NQ; j++)
                spate_agg_update(&st[j], j == 0 ? &below : &x, &o);
}

static void q_check(const spate_agg_state_t *st, int jumps, const char *what) {
        spate_val_t v;
        CHECK(result_num(&st[0]) == 1, "%s: count_if(x < 0) = 1", what);
        CHECK_NUM(result_num(&st[1]), sqrt(123.5), "stddev");
        spate_agg_result(&st[2], &v);
        CHECK(v.type == SPATE_VAL_BOOL && !v.b, "%s: not stuck (values differ)", what);
        spate_agg_result_in(&st[3], 0, 0, 10000, &v);
        CHECK(v.type == SPATE_VAL_NUM && v.num == 4.0, "%s: staleness at the end of [0, 10 s): 4 s "
              "since the reading at 6 s (got %g)", what, v.num);
        spate_agg_result_in(&st[4], 1000, 0, 10000, &v);
        CHECK(v.num == 0.6, "%s: completeness(1s) over 10 s with 6 readings: 0.6 (got %g)", what, v.num);
        CHECK(result_num(&st[5]) == jumps, "%s: spikes(x, 5) = %d (got %g)", what, jumps,
              result_num(&st[5]));
}

static void test_quality(void) {
        spate_agg_state_t *st = spate_agg_states_new(q_fns, q_params, NQ), *a, *b, *back = NULL;
        char *buf = NULL, *buf2 = NULL;
        size_t len = 0, len2 = 0;
        int n = 0, rejected = 0;
        spate_val_t v;

        CHECK(result_num(&st[0]) == 0 && result_is_null(&st[1]) && result_is_null(&st[3]) &&
              result_num(&st[5]) == 0, "empty: count_if 0, stddev and staleness null, spikes 0");
        for (int i = 0; i < 6; i++)
                q_apply(st, i);
        q_check(st, 3, "in order");

        /* Split in two halves and merged, both ways: the jump across the cut counts. */
        for (int way = 0; way < 2; way++) {
                a = spate_agg_states_new(q_fns, q_params, NQ);
                b = spate_agg_states_new(q_fns, q_params, NQ);
                for (int i = 0; i < 6; i++)
                        q_apply(i < 3 ? a : b, i);
                CHECK(spate_agg_states_merge(way ? b : a, way ? a : b, NQ) == 0, "merge");
                q_check(way ? b : a, 3, way ? "merged later into earlier" : "merged earlier into later");
                spate_agg_states_free(a, NQ);
                spate_agg_states_free(b, NQ);
        }

        /* Out of order: the reading at 3 s comes last, inside the range seen, and is
         * compared with nothing: jumps 10->12, 12->11, 11->11, 11->-5: one. */
        a = spate_agg_states_new(q_fns, q_params, NQ);
        for (int i = 0; i < 6; i++)
                if (i != 2)
                        q_apply(a, i);
        q_apply(a, 2);
        CHECK(result_num(&a[5]) == 1, "spikes: an out-of-order reading inside the range is not "
              "compared (got %g)", result_num(&a[5]));
        CHECK_NUM(result_num(&a[1]), sqrt(123.5), "stddev does not depend on the order");
        /* One older than all: compared with the oldest (|10 - 20| > 5). */
        v = num(20);
        spate_agg_update(&a[5], &v, &(spate_agg_origin_t){ 0, 0, 9 });
        CHECK(result_num(&a[5]) == 2, "spikes: a reading older than the range extends it");
        spate_agg_states_free(a, NQ);

        /* stuck: two or more values, all identical. */
        spate_agg_state_t s1, s2;
        spate_agg_init(&s1, SPATE_AGG_STUCK);
        spate_agg_init(&s2, SPATE_AGG_STUCK);
        v = num(7);
        spate_agg_update(&s1, &v, NULL);
        spate_agg_result(&s1, &v);
        CHECK(!v.b, "stuck: one value is not stuck");
        v = num(7);
        spate_agg_update(&s2, &v, NULL);
        spate_agg_update(&s2, &v, NULL);
        spate_agg_merge(&s1, &s2);
        spate_agg_result(&s1, &v);
        CHECK(v.b, "stuck: 7, 7 and 7 (merged) are stuck");
        v = str("7");
        spate_agg_update(&s1, &v, NULL);
        spate_agg_result(&s1, &v);
        CHECK(!v.b, "stuck: the string '7' differs from the number 7");

        /* Byte encoding: round trip, same bytes again, truncations refused. */
        CHECK(spate_agg_state_encode(st, NQ, &buf, &len, err, sizeof(err)) == 0 &&
              spate_agg_state_decode(buf, len, &back, &n, err, sizeof(err)) == 0 && n == NQ,
              "quality states encode and decode (%s)", err);
        q_check(back, 3, "decoded");
        spate_agg_state_encode(back, n, &buf2, &len2, err, sizeof(err));
        CHECK(len == len2 && !memcmp(buf, buf2, len), "re-encoding gives the same %zu bytes", len);
        q_apply(back, 5);   /* -5 again at 6 s: no longer newer than the range: not compared */
        CHECK(result_num(&back[0]) == 2 && result_num(&back[5]) == 3,
              "decoded states keep counting (spikes' limit survived the round trip)");
        rejected = truncations_rejected(buf, len);
        CHECK(rejected == (int)len, "every truncation rejected (%d of %zu)", rejected, len);
        free(buf);
        free(buf2);
        spate_agg_states_free(back, n);
        spate_agg_states_free(st, NQ);
}

int main(void) {
        test_basics();
        test_quality();
        test_mixed_types();
        test_neumaier();
        test_order_independence();
        test_merge_is_union();
        test_codec();
        test_big_distinct();
        return CHECK_DONE();
}
