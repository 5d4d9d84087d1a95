/* util.h - small helpers shared by the loader and the operators: durations,
 * did-you-mean suggestions, the hash of in-memory tables, monotonic and wall
 * clocks. */
#ifndef SPATE_UTIL_H
#define SPATE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The longest duration: 100 million days, so sums of two (size + grace) and
 * a time plus a duration stay far inside int64. */
#define SPATE_MAX_DURATION_MS 8640000000000000LL
/* "250ms", "60s", "5m", "1h", "2d" (decimal digits, fractions allowed: "1.5s")
 * or "0". A number without a unit is refused. Returns 0, -1 if malformed, -2
 * if longer than SPATE_MAX_DURATION_MS. */
int spate_parse_duration(const char *s, int64_t *ms);
/* Why s was refused by spate_parse_duration, for a message that shows what was
 * read ("'60' has no unit: write 60s or 1m ..."). Writes buf; returns it. */
const char *spate_duration_why(const char *s, char *buf, size_t size);
/* The candidate closest to `word` if it is close enough to be a typo (at
 * most 1 edit for words of up to 3 bytes, 2 otherwise; a swapped pair is one
 * edit), or NULL. The _n form takes a word that is not NUL-terminated. */
const char *spate_suggest(const char *word, const char *const *cands, int n);
const char *spate_suggest_n(const char *word, size_t len, const char *const *cands, int n);
/* The hash of in-memory tables: FNV-1a over n bytes continuing from h
 * (SPATE_HASH_INIT to start), then spate_hash_mix() - FNV-1a alone leaves
 * the low bits, which pick a bucket, poorly mixed for keys that differ in
 * their last bytes ("c000123"). count_distinct's hashes are stored in window
 * state, so neither may ever change. */
#define SPATE_HASH_INIT UINT64_C(0xcbf29ce484222325)
static inline uint64_t spate_hash_bytes(uint64_t h, const void *p, size_t n) {
        const unsigned char *b = p;
        for (size_t i = 0; i < n; i++)
                h = (h ^ b[i]) * UINT64_C(0x100000001b3);
        return h;
}
/* MurmurHash3's 64-bit finalizer. */
static inline uint64_t spate_hash_mix(uint64_t h) {
        h ^= h >> 33;
        h *= UINT64_C(0xff51afd7ed558ccd);
        h ^= h >> 33;
        h *= UINT64_C(0xc4ceb9fe1a85ec53);
        h ^= h >> 33;
        return h;
}
static inline uint64_t spate_hash(const void *p, size_t n) {
        return spate_hash_mix(spate_hash_bytes(SPATE_HASH_INIT, p, n));
}
/* A hash of a table on the record path (the window combiner's), whose value
 * only picks a bucket: nothing stores, sends or orders by it, so unlike
 * spate_hash() it may change. It reads 8 bytes a step (FNV-1a costs ~5
 * instructions a byte: ~200 of a region-job record's ~3,500), continuing from
 * seed, with n mixed in so that a trailing zero byte counts, then
 * spate_hash_mix(). */
static inline uint64_t spate_hash_words(uint64_t seed, const void *p, size_t n) {
        const unsigned char *b = p;
        const uint64_t k = UINT64_C(0x9e3779b97f4a7c15);
        uint64_t h = (seed ^ n) * k, w = 0;
        uint32_t lo, hi;
        if (n >= 8) {
                /* whole words, then the last 8 bytes (overlapping: n is mixed in) */
                for (size_t i = 0; i + 8 < n; i += 8) {
                        memcpy(&w, b + i, 8);
                        h = (h ^ w) * k;
                        h ^= h >> 32;
                }
                memcpy(&w, b + n - 8, 8);
        } else if (n >= 4) {
                memcpy(&lo, b, 4);
                memcpy(&hi, b + n - 4, 4);
                w = (uint64_t)hi << 32 | lo;
        } else if (n) {
                w = (uint64_t)b[0] << 16 | (uint64_t)b[n / 2] << 8 | b[n - 1];
        }
        return spate_hash_mix((h ^ w) * k);
}

/* 8 bytes big-endian: stored integers (state values, meta records). */
static inline void spate_put_be64(unsigned char *p, int64_t v) {
        for (int i = 7; i >= 0; i--, v = (int64_t)((uint64_t)v >> 8))
                p[i] = (unsigned char)v;
}
static inline int64_t spate_get_be64(const unsigned char *p) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
                v = v << 8 | p[i];
        return (int64_t)v;
}

int64_t spate_now_ms(void);       /* wall clock */
int64_t spate_mono_ms(void);      /* monotonic clock */
int64_t spate_thread_cpu_ns(void); /* CPU time of the calling thread */
/* The retry delay of a transient failure: sleeps *backoff_ms, then doubles it,
 * up to cap_ms. With a stop function, the sleep is cut into slices of at most
 * 100 ms and ends early once stop(arg) says so (a stop request must not wait
 * out a backoff of seconds). Returns 1 if stop(arg) said so (during the sleep
 * or at its end), else 0. */
int spate_backoff_sleep(int64_t *backoff_ms, int64_t cap_ms, int (*stop)(void *arg), void *arg);
/* Event times: ±100 million days, as in JavaScript; beyond that a time is
 * out of range (and window arithmetic on it could overflow int64). */
#define SPATE_MAX_TIME_MS 8640000000000000LL
/* Converts a number of ms to a time, rounding down. Returns 0, or -1 if d is
 * NaN or outside ±SPATE_MAX_TIME_MS. */
int spate_time_from_num(double d, int64_t *ms);
/* "2026-11-23T10:00:00Z", with ".mmm" before the Z when ms are not whole
 * seconds; negative times too. Returns the length (< 32); buf needs 32. */
int spate_fmt_iso_ms(int64_t ms, char *buf, size_t size);
/* Shortest text that reads back as the same double; integers print without ".0". */
int spate_fmt_num(char *buf, size_t size, double d);
/* Test hook: aborts the process (after a warning) when SPATE_CRASH_AT names
 * `step`, with probability SPATE_CRASH_PROB (default 1), once the process
 * has emitted SPATE_CRASH_AFTER_OUTPUTS window outputs (default 0:
 * spate_crash_output() counts them), so that tests land a kill at the
 * moments of a commit that matter. */
void spate_crash_point(const char *step);
/* CPU seconds (user and system) the whole process has used so far. */
double spate_cpu_secs(void);
void spate_crash_output(void);
/* Marks the step a stop has reached (a static string), so that a stop cut
 * short by settings.shutdown_timeout names where it was stuck; the test hook
 * SPATE_HANG_AT=step blocks the calling thread there for good, as a library
 * call that never returns would (the shutdown deadline's test). */
void spate_stop_step(const char *step);
/* The step last marked by spate_stop_step(); "running" before any. */
const char *spate_stop_step_now(void);

#endif
