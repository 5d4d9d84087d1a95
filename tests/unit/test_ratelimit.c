/* test_ratelimit.c - unit tests of the per-key sliding-window rate limiter. */
#include "check.h"
#include "../../sim/ratelimit.h"

static void test_limit(void) {
        spate_ratelimit_t *rl = spate_ratelimit_new(3, 60000);
        spate_ratelimit_stats_t st;

        CHECK(spate_ratelimit_admit(rl, "a", 1000) == 0, "1st request admitted");
        CHECK(spate_ratelimit_admit(rl, "a", 2000) == 0, "2nd request admitted");
        CHECK(spate_ratelimit_admit(rl, "a", 3000) == 0, "3rd request admitted");
        CHECK(spate_ratelimit_admit(rl, "a", 4000) == 57000, "4th refused until the 1st leaves the window");
        CHECK(spate_ratelimit_admit(rl, "b", 4000) == 0, "other keys have their own budget");
        CHECK(spate_ratelimit_admit(rl, "a", 60999) > 0, "still refused just before 61 s");
        CHECK(spate_ratelimit_admit(rl, "a", 61000) == 0, "admitted once the window slid past");
        spate_ratelimit_stats(rl, &st);
        CHECK(st.keys == 2, "two keys seen");
        CHECK(st.max_admitted == 3, "admitted never exceeded the limit (%ld)", st.max_admitted);
        CHECK(st.max_received == 5, "received counts refused requests too (%ld)", st.max_received);
        spate_ratelimit_destroy(rl);
}

static void test_unlimited_measures(void) {
        spate_ratelimit_t *rl = spate_ratelimit_new(0, 60000);
        spate_ratelimit_stats_t st;
        int all = 1;

        for (int i = 0; i < 1000; i++)
                all &= spate_ratelimit_admit(rl, "k", i * 100) == 0;  /* 10/s for 100 s */
        spate_ratelimit_stats(rl, &st);
        CHECK(all, "limit 0 admits everything");
        CHECK(st.max_received == 600, "busiest 60 s window holds 600 requests (%ld)", st.max_received);
        spate_ratelimit_destroy(rl);
}

int main(void) {
        test_limit();
        test_unlimited_measures();
        return CHECK_DONE();
}
