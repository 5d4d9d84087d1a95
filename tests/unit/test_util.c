/* test_util.c - util/util.c's retry backoff: it sleeps the delay it is given,
 * then doubles it up to the cap; with a stop function, it ends as soon as
 * that says stop. */
#include "check.h"
#include "../../util/util.h"

/* A stop function: true from the time *arg (spate_mono_ms()). */
static int stop_after(void *arg) {
        return spate_mono_ms() >= *(const int64_t *)arg;
}

int main(void) {
        int64_t backoff = 4, want[] = { 8, 16, 20, 20 };
        for (int i = 0; i < 4; i++) {
                int64_t slept = backoff, t0 = spate_mono_ms();
                CHECK(spate_backoff_sleep(&backoff, 20, NULL, NULL) == 0, "step %d: no stop", i);
                int64_t took = spate_mono_ms() - t0;
                CHECK(took >= slept, "step %d slept %lld ms, at least the %lld ms asked", i, (long long)took,
                      (long long)slept);
                CHECK(backoff == want[i], "step %d: next delay %lld ms, want %lld", i, (long long)backoff,
                      (long long)want[i]);
        }
        backoff = 0;
        spate_backoff_sleep(&backoff, 5000, NULL, NULL);
        CHECK(backoff == 0, "a zero delay stays zero (callers start above it)");

        /* A stop that comes 300 ms into a 5 s backoff ends it within a slice. */
        int64_t stop_at = spate_mono_ms() + 300, t0 = spate_mono_ms();
        backoff = 5000;
        int stopped = spate_backoff_sleep(&backoff, 5000, stop_after, &stop_at);
        int64_t took = spate_mono_ms() - t0;
        CHECK(stopped == 1, "a stop request ends the sleep (returned %d)", stopped);
        CHECK(took >= 300 && took < 4000, "it ended %lld ms in, after the stop at 300 ms and long before 5 s",
              (long long)took);
        CHECK(backoff == 5000, "a stopped sleep leaves the delay as it was (%lld)", (long long)backoff);
        backoff = 20;
        stop_at = spate_mono_ms() + 60000;
        CHECK(spate_backoff_sleep(&backoff, 5000, stop_after, &stop_at) == 0 && backoff == 40,
              "without a stop it sleeps and doubles as before (next %lld)", (long long)backoff);
        return CHECK_DONE();
}
