/* test_window.c - table-driven tests of window assignment, lateness and closing. */
#include "check.h"
#include "../../operators/window/window.h"

#include <stdint.h>

#define TUMBLING(s, g)    { SPATE_WINDOW_TUMBLING, (s), 0, 0, (g) }
#define HOPPING(s, a, g)  { SPATE_WINDOW_HOPPING, (s), (a), 0, (g) }
#define SLIDING(s, g)     { SPATE_WINDOW_SLIDING, (s), 0, 0, (g) }
#define SESSION(gap, g)   { SPATE_WINDOW_SESSION, 0, 0, (gap), (g) }

static void fmt_starts(const int64_t *s, int n, char *out, size_t sz) {
        size_t used = 0;

        out[0] = '\0';
        for (int i = 0; i < n && used < sz; i++)
                used += (size_t)snprintf(out + used, sz - used, "%s%lld", i ? "," : "",
                                         (long long)s[i]);
}

static void test_assign(void) {
        static const struct {
                const char *name;
                spate_window_spec_t spec;
                int64_t t, stream_time;
                const char *want;   /* open window starts; "" = late */
        } cases[] = {
                { "tumbling in order", TUMBLING(10, 0), 5, 5, "0" },
                { "tumbling start boundary", TUMBLING(10, 0), 10, 10, "10" },
                { "tumbling last ms", TUMBLING(10, 0), 9, 9, "0" },
                { "tumbling negative floors", TUMBLING(10, 0), -1, -1, "-10" },
                { "tumbling negative boundary", TUMBLING(10, 0), -10, -10, "-10" },
                { "tumbling -11", TUMBLING(10, 0), -11, -11, "-20" },
                { "tumbling negative window closed at 0", TUMBLING(10, 0), -1, 0, "" },
                { "tumbling out of order in grace", TUMBLING(10, 5), 8, 14, "0" },
                { "tumbling late at end+grace", TUMBLING(10, 5), 8, 15, "" },
                { "tumbling no grace late at end", TUMBLING(10, 0), 8, 10, "" },
                { "tumbling no grace just open", TUMBLING(10, 0), 8, 9, "0" },
                { "hopping both open", HOPPING(10, 5, 0), 7, 7, "0,5" },
                { "hopping older closed", HOPPING(10, 5, 0), 7, 10, "5" },
                { "hopping all closed = late", HOPPING(10, 5, 0), 7, 15, "" },
                { "hopping grace keeps both", HOPPING(10, 5, 3), 7, 12, "0,5" },
                { "hopping negative", HOPPING(10, 5, 0), -3, -3, "-10,-5" },
                { "hopping non-multiple", HOPPING(10, 3, 0), 7, 7, "0,3,6" },
                { "hopping non-multiple at 0", HOPPING(10, 3, 0), 0, 0, "-9,-6,-3,0" },
                { "hopping non-multiple partly closed", HOPPING(10, 3, 0), 0, 1, "-6,-3,0" },
                { "hopping advance = size", HOPPING(10, 10, 0), 19, 19, "10" },
        };
        char got[128];
        int64_t starts[8];

        for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                const spate_window_spec_t *sp = &cases[i].spec;
                int n = spate_window_assign(sp, cases[i].t, cases[i].stream_time, starts, 8);
                fmt_starts(starts, n < 0 ? 0 : n, got, sizeof(got));
                CHECK(n >= 0 && !strcmp(got, cases[i].want), "%s: t=%lld st=%lld got [%s] want [%s]",
                      cases[i].name, (long long)cases[i].t, (long long)cases[i].stream_time,
                      got, cases[i].want);
                CHECK(spate_window_is_late(sp, cases[i].t, cases[i].stream_time) == (n == 0),
                      "%s: is_late agrees with assign", cases[i].name);
        }
        spate_window_spec_t h = HOPPING(10, 3, 0), sl = SLIDING(10, 0);
        CHECK(spate_window_max_per_record(&h) == 4, "hopping 10/3: at most 4 windows");
        CHECK(spate_window_assign(&h, 0, 0, starts, 3) == -1, "too small starts[] is an error");
        CHECK(spate_window_assign(&sl, 0, 0, starts, 8) == -1, "assign rejects sliding");
}

static void test_closed(void) {
        static const struct {
                const char *name;
                spate_window_spec_t spec;
                int64_t start, end, stream_time;
                int closed;
        } cases[] = {
                { "tumbling before end+grace", TUMBLING(10, 5), 0, 10, 14, 0 },
                { "tumbling at end+grace", TUMBLING(10, 5), 0, 10, 15, 1 },
                { "hopping at end", HOPPING(10, 5, 0), 5, 15, 15, 1 },
                { "sliding at e+grace (inclusive end)", SLIDING(10, 5), 0, 10, 15, 0 },
                { "sliding after e+grace", SLIDING(10, 5), 0, 10, 16, 1 },
                { "session at last+gap+grace", SESSION(3, 2), 0, 10, 15, 0 },
                { "session after last+gap+grace", SESSION(3, 2), 0, 10, 16, 1 },
                { "huge grace saturates", TUMBLING(10, INT64_MAX), 0, 10, INT64_MAX - 1, 0 },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                const spate_window_spec_t *sp = &cases[i].spec;
                int c = spate_window_is_closed(sp, cases[i].start, cases[i].end,
                                               cases[i].stream_time);
                CHECK(c == cases[i].closed, "%s: closed=%d", cases[i].name, c);
                int64_t ct = spate_window_close_time(sp, cases[i].start, cases[i].end);
                CHECK((cases[i].stream_time >= ct) == cases[i].closed,
                      "%s: close_time %lld agrees", cases[i].name, (long long)ct);
        }
}

static void test_sliding(void) {
        static const struct {
                const char *name;
                int64_t u, stream_time;
                int late, create_own;
                int64_t end_lo, end_hi;
        } cases[] = {   /* size 10, grace 5 */
                { "in order", 20, 20, 0, 1, 20, 30 },
                { "out of order, own window open", 20, 25, 0, 1, 20, 30 },
                { "own window closed, later ones open", 20, 26, 0, 0, 21, 30 },
                { "only the last possible window open", 20, 35, 0, 0, 30, 30 },
                { "late", 20, 36, 1, 0, 0, 0 },
                { "negative times", -20, -18, 0, 1, -20, -10 },
                /* no stream time yet: stream_time - grace overflowed int64 */
                { "first record", 20, INT64_MIN, 0, 1, 20, 30 },
        };
        spate_window_spec_t sp = SLIDING(10, 5);
        spate_sliding_assign_t a;

        for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                memset(&a, 0, sizeof(a));
                int rc = spate_window_sliding_assign(&sp, cases[i].u, cases[i].stream_time, &a);
                CHECK(rc == cases[i].late && spate_window_is_late(&sp, cases[i].u,
                      cases[i].stream_time) == cases[i].late, "%s: late=%d", cases[i].name, rc);
                if (rc)
                        continue;
                CHECK(a.create_own == cases[i].create_own && a.end_lo == cases[i].end_lo &&
                      a.end_hi == cases[i].end_hi, "%s: create=%d ends [%lld, %lld]",
                      cases[i].name, a.create_own, (long long)a.end_lo, (long long)a.end_hi);
        }
        CHECK(spate_window_sliding_keep(&sp, 20, 35) && !spate_window_sliding_keep(&sp, 20, 36),
              "bucket of time 20 kept while stream time <= 35");
}

static void test_session(void) {
        static const spate_session_t two[] = { { 0, 5 }, { 30, 40 } };
        static const spate_session_t gap[] = { { 25, 35 }, { 0, 10 } };
        static const struct {
                const char *name;
                spate_window_spec_t spec;
                const spate_session_t *existing;
                int n;
                int64_t t, stream_time;
                int late;
                int64_t first, last;
                const char *absorbed;
        } cases[] = {
                { "new session", SESSION(10, 0), NULL, 0, 7, 7, 0, 7, 7, "" },
                { "extends the earlier one", SESSION(10, 0), two, 2, 15, 15, 0, 0, 15, "0" },
                { "extends the later one leftwards", SESSION(10, 0), two, 2, 20, 20, 0, 20, 40, "1" },
                { "inside a session", SESSION(10, 0), two, 2, 33, 40, 0, 30, 40, "1" },
                { "bridges two sessions", SESSION(10, 20), gap, 2, 18, 35, 0, 0, 35, "0,1" },
                { "far from both", SESSION(3, 0), two, 2, 17, 17, 0, 17, 17, "" },
                { "closed session not joined", SESSION(10, 0), gap + 1, 1, 15, 21, 0, 15, 15, "" },
                { "out of order in grace joins", SESSION(10, 5), gap + 1, 1, 5, 19, 0, 0, 10, "0" },
                { "late", SESSION(10, 0), gap + 1, 1, 5, 16, 1, 0, 0, "" },
                { "late though sessions are open", SESSION(10, 0), gap, 2, 18, 35, 1, 0, 0, "" },
                { "negative window closed at 0", SESSION(5, 0), NULL, 0, -6, 0, 1, 0, 0, "" },
                { "gap 0 joins same time only", SESSION(0, 0), two, 2, 5, 5, 0, 0, 5, "0" },
        };
        spate_session_t merged;
        int absorbed[4], nabs;
        char got[64];

        for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                int rc = spate_window_session_assign(&cases[i].spec, cases[i].t,
                                                     cases[i].stream_time, cases[i].existing,
                                                     cases[i].n, &merged, absorbed, &nabs);
                size_t used = 0;
                got[0] = '\0';
                for (int j = 0; j < nabs; j++)
                        used += (size_t)snprintf(got + used, sizeof(got) - used, "%s%d",
                                                 j ? "," : "", absorbed[j]);
                if (cases[i].late) {
                        CHECK(rc == 1 && nabs == 0, "%s: late", cases[i].name);
                        continue;
                }
                CHECK(rc == 0 && merged.first == cases[i].first && merged.last == cases[i].last &&
                      !strcmp(got, cases[i].absorbed), "%s: [%lld, %lld] absorbed {%s}",
                      cases[i].name, (long long)merged.first, (long long)merged.last, got);
        }
}

static void test_spec_check(void) {
        static const struct {
                spate_window_spec_t spec;
                int ok;
        } cases[] = {
                { TUMBLING(10, 0), 1 }, { TUMBLING(0, 0), 0 }, { TUMBLING(10, -1), 0 },
                { HOPPING(10, 3, 0), 1 }, { HOPPING(10, 0, 0), 0 }, { HOPPING(10, 11, 0), 0 },
                { SLIDING(10, 0), 1 }, { SLIDING(-1, 0), 0 },
                { SESSION(0, 0), 1 }, { SESSION(-1, 0), 0 },
        };
        char err[128];
        spate_window_type_t t;

        for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                err[0] = '\0';
                CHECK((spate_window_spec_check(&cases[i].spec, err, sizeof(err)) == 0) ==
                      cases[i].ok, "spec check case %zu (%s)", i, err);
        }
        CHECK(spate_window_type_parse("session", &t) == 0 && t == SPATE_WINDOW_SESSION &&
              spate_window_type_parse("weekly", &t) == -1, "type names parse");
}

int main(void) {
        test_assign();
        test_closed();
        test_sliding();
        test_session();
        test_spec_check();
        return CHECK_DONE();
}
