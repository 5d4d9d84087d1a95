/* test_util.c - util/util.c's retry backoff: it sleeps the delay it is given,
 * then doubles it up to the cap. */
#include "check.h"
#include "../../util/util.h"

int main(void) {
        int64_t backoff = 4, want[] = { 8, 16, 20, 20 };
        for (int i = 0; i < 4; i++) {
                int64_t slept = backoff, t0 = spate_mono_ms();
                spate_backoff_sleep(&backoff, 20);
                int64_t took = spate_mono_ms() - t0;
                CHECK(took >= slept, "step %d slept %lld ms, at least the %lld ms asked", i, (long long)took,
                      (long long)slept);
                CHECK(backoff == want[i], "step %d: next delay %lld ms, want %lld", i, (long long)backoff,
                      (long long)want[i]);
        }
        backoff = 0;
        spate_backoff_sleep(&backoff, 5000);
        CHECK(backoff == 0, "a zero delay stays zero (callers start above it)");
        return CHECK_DONE();
}
