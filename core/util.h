/* util.h - small helpers shared by the loader and the operators: durations,
 * did-you-mean suggestions, monotonic and wall clocks. */
#ifndef SPATE_UTIL_H
#define SPATE_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* The longest duration: 100 million days, so sums of two (size + grace) and
 * a time plus a duration stay far inside int64. */
#define SPATE_MAX_DURATION_MS 8640000000000000LL
/* "250ms", "60s", "5m", "1h", "2d" or a bare number of ms, in decimal digits
 * with an optional fraction. Returns 0, -1 if malformed, -2 if longer than
 * SPATE_MAX_DURATION_MS. */
int spate_parse_duration(const char *s, int64_t *ms);
/* The candidate closest to `word` if it is close enough to be a typo (at
 * most 1 edit for words of up to 3 bytes, 2 otherwise; a swapped pair is one
 * edit), or NULL. The _n form takes a word that is not NUL-terminated. */
const char *spate_suggest(const char *word, const char *const *cands, int n);
const char *spate_suggest_n(const char *word, size_t len, const char *const *cands, int n);
int64_t spate_now_ms(void);       /* wall clock */
int64_t spate_mono_ms(void);      /* monotonic clock */
/* Event times: ±100 million days, as in JavaScript; beyond that a time is
 * out of range (and window arithmetic on it could overflow int64). */
#define SPATE_MAX_TIME_MS 8640000000000000LL
/* Converts a number of ms to a time, rounding down. Returns 0, or -1 if d is
 * NaN or outside ±SPATE_MAX_TIME_MS. */
int spate_time_from_num(double d, int64_t *ms);
/* Shortest text that reads back as the same double; integers print without ".0". */
int spate_fmt_num(char *buf, size_t size, double d);

#endif
