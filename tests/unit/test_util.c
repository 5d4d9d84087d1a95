/* test_util.c - util/util.c's retry backoff: it sleeps the delay it is given,
 * then doubles it up to the cap; with a stop function, it ends as soon as
 * that says stop. And spate_hash_words(), the combiner's bucket hash: the
 * same bytes hash alike wherever they lie, every byte and the length count,
 * and keys that differ in their last bytes spread over the low bits. */
#include "check.h"
#include "../../util/util.h"

/* A stop function: true from the time *arg (spate_mono_ms()). */
static int stop_after(void *arg) {
        return spate_mono_ms() >= *(const int64_t *)arg;
}

static void test_hash_words(void) {
        char a[64], b[80];
        int alike = 1, distinct = 1;
        for (size_t n = 0; n <= 40; n++) {
                for (size_t i = 0; i < n; i++)
                        a[i] = (char)('a' + (i * 7) % 26);
                memcpy(b + 3, a, n);   /* misaligned copy */
                uint64_t h = spate_hash_words(42, a, n);
                alike &= h == spate_hash_words(42, b + 3, n);
                distinct &= h != spate_hash_words(43, a, n);
                a[n] = '\0';
                distinct &= h != spate_hash_words(42, a, n + 1);   /* one more byte, a zero */
                for (size_t i = 0; i < n; i++) {
                        a[i] ^= 1;
                        distinct &= h != spate_hash_words(42, a, n);
                        a[i] ^= (char)0x81;
                        distinct &= h != spate_hash_words(42, a, n);
                        a[i] ^= (char)0x80;
                }
        }
        CHECK(alike, "lengths 0-40: the same bytes at another address hash alike");
        CHECK(distinct, "lengths 0-40: another seed, a trailing zero byte, a flip of any byte's low or "
              "high bit each change the hash");
        /* 16,384 keys "c000000".."c016383" into 1,024 buckets by the low bits:
         * 16 a bucket on average; a uniform hash puts at most ~35 in one. */
        int load[1024] = { 0 }, most = 0;
        for (int i = 0; i < 16384; i++) {
                char k[16];
                int n = snprintf(k, sizeof(k), "c%06d", i);
                int *l = &load[spate_hash_words(7, k, (size_t)n) & 1023];
                if (++*l > most)
                        most = *l;
        }
        CHECK(most <= 40, "16,384 keys in 1,024 buckets: at most %d in one", most);
}

/* spate_time_from_num() floors what is in range, as floor() does, and
 * refuses the rest. */
static void test_time_from_num(void) {
        static const double ds[] = { 0, -0.0, 0.5, -0.5, 1, -1, 1.999, -1.001, 1700000000123.75, -1700000000123.25,
                                     8640000000000000.0, -8640000000000000.0, 8639999999999999.5, -8639999999999999.5,
                                     4503599627370495.5, -4503599627370495.5 };
        int same = 1;
        for (size_t i = 0; i < sizeof(ds) / sizeof(ds[0]); i++) {
                int64_t ms = 0;
                same &= spate_time_from_num(ds[i], &ms) == 0 && ms == (int64_t)floor(ds[i]);
        }
        unsigned seed = 7;
        for (int i = 0; i < 100000; i++) {
                seed = seed * 1103515245u + 12345u;
                double d = ((double)seed / 4294967296.0 - 0.5) * 2e13 / (1 + i % 7);
                int64_t ms = 0;
                same &= spate_time_from_num(d, &ms) == 0 && ms == (int64_t)floor(d);
        }
        CHECK(same, "times in range, fractions and negatives too, are floored as floor() does");
        int64_t ms = 0;
        CHECK(spate_time_from_num(8640000000000001.0, &ms) == -1 && spate_time_from_num(-1e300, &ms) == -1 &&
              spate_time_from_num(NAN, &ms) == -1, "times out of range and NaN are refused");
}

int main(void) {
        test_hash_words();
        test_time_from_num();
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
