/* util.c - durations, suggestions, clocks, number formatting and the crash test hook. */
#include "util.h"
#include "log.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* A bare number is refused, 0 aside: "60" was read as 60 ms before, which no
 * one writing `every: 60` or POLL_EVERY=60 meant. */
int spate_parse_duration(const char *s, int64_t *ms) {
        char *end;
        double v, mult;
        /* Decimal digits only: strtod alone would also take nan, inf, hex
         * (0x10) and exponents. */
        size_t digits = strspn(s, "0123456789"), frac = 0;
        if (s[digits] == '.')
                frac = 1 + strspn(s + digits + 1, "0123456789");
        if (!digits || frac == 1)
                return -1;
        v = strtod(s, &end);
        if (end != s + digits + frac)
                return -1;
        if (!*end && v == 0)
                mult = 0;
        else if (!strcmp(end, "ms"))
                mult = 1;
        else if (!strcmp(end, "s"))
                mult = 1000;
        else if (!strcmp(end, "m") || !strcmp(end, "min"))
                mult = 60000;
        else if (!strcmp(end, "h"))
                mult = 3600000;
        else if (!strcmp(end, "d"))
                mult = 86400000;
        else
                return -1;
        if (v * mult > (double)SPATE_MAX_DURATION_MS)
                return -2;
        *ms = (int64_t)(v * mult + 0.5);
        return 0;
}

const char *spate_duration_why(const char *s, char *buf, size_t size) {
        char *end;
        double v = strtod(s, &end);
        int64_t ms;
        if (spate_parse_duration(s, &ms) == -2) {
                snprintf(buf, size, "'%s' is longer than the longest duration, 100000000d", s);
        } else if (end != s && !*end && v > 0 && strspn(s, "0123456789.") == strlen(s)) {
                if (v >= 60 && v < 1e15 && fmod(v, 60) == 0)
                        snprintf(buf, size, "'%s' has no unit: write %ss or %.0fm (or %sms if "
                                 "milliseconds were meant)", s, s, v / 60, s);
                else
                        snprintf(buf, size, "'%s' has no unit: write %ss (or %sms if milliseconds "
                                 "were meant)", s, s, s);
        } else {
                snprintf(buf, size, "'%s' is not a duration: write a number and a unit, one of ms, "
                         "s, m, h, d (250ms, 60s, 5m, 1h, 1d)", s);
        }
        return buf;
}

int spate_fmt_iso_ms(int64_t ms, char *buf, size_t size) {
        int64_t secs = ms / 1000, rem = ms % 1000;
        struct tm tm;
        time_t tt;
        if (rem < 0) {
                rem += 1000;
                secs--;
        }
        tt = (time_t)secs;
        if (!gmtime_r(&tt, &tm))
                return snprintf(buf, size, "%lld", (long long)ms);
        int n = (int)strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
        if (rem)
                n += snprintf(buf + n, size - (size_t)n, ".%03d", (int)rem);
        n += snprintf(buf + n, size - (size_t)n, "Z");
        return n;
}

int spate_time_from_num(double d, int64_t *ms) {
        if (!(d >= (double)-SPATE_MAX_TIME_MS && d <= (double)SPATE_MAX_TIME_MS))
                return -1;
        /* floor() without a call to libm (a source pays it every record):
         * within ±2^53 truncation is exact, and a step down rounds a
         * negative fraction towards -inf */
        int64_t i = (int64_t)d;
        *ms = i - ((double)i > d);
        return 0;
}

/* Optimal string alignment distance: a swapped pair (tmep/temp) counts one. */
static int edit_distance(const char *a, size_t n, const char *b, size_t m) {
        if (n > 63 || m > 63)
                return 99;
        int d[64][64];
        for (size_t i = 0; i <= n; i++)
                d[i][0] = (int)i;
        for (size_t j = 0; j <= m; j++)
                d[0][j] = (int)j;
        for (size_t i = 1; i <= n; i++) {
                for (size_t j = 1; j <= m; j++) {
                        int cost = a[i - 1] != b[j - 1];
                        int v = d[i - 1][j] + 1;
                        if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
                        if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
                        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                            d[i - 2][j - 2] + 1 < v)
                                v = d[i - 2][j - 2] + 1;
                        d[i][j] = v;
                }
        }
        return d[n][m];
}

const char *spate_suggest_n(const char *word, size_t len, const char *const *cands, int n) {
        const char *best = NULL;
        int bestd = len <= 3 ? 2 : 3;
        for (int i = 0; i < n; i++) {
                int d = edit_distance(word, len, cands[i], strlen(cands[i]));
                if (d < bestd && (size_t)d < len)
                        best = cands[i], bestd = d;
        }
        return best;
}

const char *spate_suggest(const char *word, const char *const *cands, int n) {
        return spate_suggest_n(word, strlen(word), cands, n);
}

int64_t spate_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t spate_mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t spate_thread_cpu_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int spate_backoff_sleep(int64_t *backoff_ms, int64_t cap_ms, int (*stop)(void *arg), void *arg) {
        int64_t end = spate_mono_ms() + *backoff_ms, left;
        while ((left = end - spate_mono_ms()) > 0) {
                if (stop && stop(arg))
                        return 1;
                if (stop && left > 100)
                        left = 100;
                struct timespec ts = { (time_t)(left / 1000), (long)(left % 1000) * 1000000L };
                nanosleep(&ts, NULL);
        }
        *backoff_ms = *backoff_ms > cap_ms / 2 ? cap_ms : *backoff_ms * 2;
        return stop && stop(arg);
}


static const char digit_pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                  "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                  "8081828384858687888990919293949596979899";

/* Powers of ten, exact as doubles too (up to 10^22 are). */
static const uint64_t pow10_u64[] = { 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
                                      1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19 };

/* The number of decimal digits of m (0 for 0): log2 by the leading zeros,
 * times log10(2) ~ 1233 / 4096, then one compare. */
static int digits10(uint64_t m) {
        int t = ((64 - __builtin_clzll(m | 1)) * 1233) >> 12;
        return t + (m >= pow10_u64[t]);
}

/* Writes |m| with `dec` decimals (m < 2^53) straight into buf, back from
 * its end, whose place is known first: the digits two at a time, the point
 * put in on the way, a leading zero before it if the digits are all
 * decimals. No copies: this and fmt_exact() are most of what a computed
 * field costs a JSON sink (bench/instr.sh). */
static int fmt_fixed(char *buf, size_t size, int neg, uint64_t m, int dec) {
        int nd = digits10(m), len, point = dec > 0;
        if (nd <= dec)
                nd = dec + 1;
        if ((size_t)(nd + 3) > size)
                return -1;
        len = neg + nd + point;
        char *p = buf + len;
        *p = '\0';
        for (; dec >= 2; dec -= 2, m /= 100)
                memcpy(p -= 2, digit_pairs + 2 * (m % 100), 2);
        if (dec) {
                *--p = (char)('0' + m % 10);
                m /= 10;
        }
        if (point)
                *--p = '.';
        for (; m >= 100; m /= 100)
                memcpy(p -= 2, digit_pairs + 2 * (m % 100), 2);
        if (m >= 10)
                memcpy(p -= 2, digit_pairs + 2 * m, 2);
        else
                *--p = (char)('0' + m);
        if (neg)
                *--p = '-';
        return len;
}

/* fmt_exact() from k decimals on (10^k = p10d), where 10^k * ulp >= 1/16
 * (numbers that need ~13 or more significant digits): the double test
 * rules most k out (where y reaches 2^52, near is within 1 of it, and
 * 4 * 10^k * ulp is 2 or more: no k is), the exact test in integers decides. */
static int fmt_exact_wide(char *buf, size_t size, int neg, double a, uint64_t bits, int k, double p10d,
                          double ulp) {
        uint64_t M = (bits & (((uint64_t)1 << 52) - 1)) | (uint64_t)1 << 52;   /* a = M / 2^s */
        int s = 1075 - (int)(bits >> 52);
        unsigned __int128 p10, half = (unsigned __int128)1 << (s - 1);
        int lower_gap_half = M == (uint64_t)1 << 52;   /* a power of two: the lower neighbour is nearer */
        if (k >= (int)(sizeof(pow10_u64) / sizeof(pow10_u64[0])))
                return snprintf(buf, size, "%.17g", neg ? -a : a);
        for (p10 = pow10_u64[k]; k <= 20; k++, p10 *= 10, p10d *= 10) {
                double y = a * p10d, near = y + 0x1p52 - 0x1p52;
                if (fabs(y - near) > 4 * p10d * ulp)
                        continue;
                unsigned __int128 x = (unsigned __int128)M * p10, q = x >> s, r = x & (((unsigned __int128)1 << s) - 1);
                if (r > half || (r == half && (q & 1)))
                        q++;
                if (q >= (unsigned __int128)1 << 60)
                        break;
                unsigned __int128 mq = q << s, diff = mq > x ? mq - x : x - mq;
                unsigned __int128 lim = mq < x && lower_gap_half ? p10 : p10 * 2;
                /* reads back as a: strictly inside the half gap, or on its
                 * edge with M even (the reader's ties go to even) */
                if (diff * 4 < lim || (diff * 4 == lim && !(M & 1)))
                        return fmt_fixed(buf, size, neg, (uint64_t)q, k);
        }
        return snprintf(buf, size, "%.17g", neg ? -a : a);
}

/* Writes the fewest decimals of a in [1e-3, 1e15) that read back as a, in
 * exact integer arithmetic: what %.15g, %.16g or %.17g print there (fixed
 * notation, correctly rounded, trailing zeros dropped) without printf's
 * multi-precision path, which cost ~3,000 instructions a number. With
 * a = M / 2^s, the k-decimal candidate m = round(M * 10^k / 2^s) reads back
 * as a when |m * 2^s - M * 10^k| is below half the gap to a's neighbours,
 * scaled by 10^k * 2^s. Every product stays below 2^124. */
static int fmt_exact(char *buf, size_t size, int neg, double a) {
        uint64_t bits, ulp_bits;
        memcpy(&bits, &a, sizeof(bits));       /* a is normal: its fields, not frexp() and ldexp() */
        int s = 1075 - (int)(bits >> 52);      /* a < 1e15 < 2^53, a >= 1e-3: 1 <= s <= 62 */
        double p10d = 1, ulp;
        ulp_bits = (uint64_t)(1023 - s) << 52;  /* 2^-s, a's spacing */
        memcpy(&ulp, &ulp_bits, sizeof(ulp));
        int k;
        /* While 10^k * ulp < 1/16, y = a * 10^k in doubles is within 1/16
         * of the exact product, so an integer that reads back as a (within
         * 1/32 of it) is y's nearest, near, and the exact candidate too;
         * near and 10^k are exact doubles, so one correctly rounded division
         * reads near back as strtod would, ties to even. y's distance to
         * near is exact (below 2^52, adding and taking away 2^52 rounds y to
         * it), and y is off by less than 10^k * ulp: one farther than
         * 4 * 10^k * ulp rules k out without the division. */
        for (k = 0; k <= 20 && p10d * ulp < 0x1p-4; k++, p10d *= 10) {
                double y = a * p10d, near = y + 0x1p52 - 0x1p52;
                if (fabs(y - near) <= 4 * p10d * ulp && near / p10d == a)
                        return fmt_fixed(buf, size, neg, (uint64_t)near, k);
        }
        return fmt_exact_wide(buf, size, neg, a, bits, k, p10d, ulp);
}

int spate_fmt_num(char *buf, size_t size, double d) {
        /* Range first: casting an out-of-range double to an integer is undefined. */
        if (d > -9007199254740992.0 && d < 9007199254740992.0 && d == (double)(int64_t)d)
                return fmt_fixed(buf, size, d < 0, (uint64_t)(d < 0 ? -d : d), 0);
        double a = d < 0 ? -d : d;
        if (a >= 1e-3 && a < 1e15)
                return fmt_exact(buf, size, d < 0, a);
        /* Fast path: the fewest decimals k whose integer m = d * 10^k reads
         * back as d. m and 10^k are exact doubles, so m / 10^k is correctly
         * rounded exactly like strtod of the printed text. */
        for (int k = 1; k <= 15 && a < 1e15 && a * (double)pow10_u64[k] < 9007199254740992.0; k++) {
                double p10 = (double)pow10_u64[k], m = (double)(uint64_t)(a * p10 + 0.5);
                if (m / p10 == a)
                        return fmt_fixed(buf, size, d < 0, (uint64_t)m, k);
        }
        for (int prec = 15; prec <= 17; prec++) {
                int n = snprintf(buf, size, "%.*g", prec, d);
                if (prec == 17 || strtod(buf, NULL) == d)
                        return n;
        }
        return 0;
}

double spate_cpu_secs(void) {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru))
                return 0;
        return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static long crash_outputs;   /* the main thread's */

void spate_crash_output(void) {
        crash_outputs++;
}

void spate_crash_point(const char *step) {
        const char *at = getenv("SPATE_CRASH_AT"), *prob = getenv("SPATE_CRASH_PROB");
        const char *after = getenv("SPATE_CRASH_AFTER_OUTPUTS");
        if (!at || strcmp(at, step) || (after && *after && crash_outputs < atol(after)) ||
            (prob && *prob && drand48() >= atof(prob)))
                return;
        spate_warn("SPATE_CRASH_AT=%s: aborting (test hook)", step);
        abort();
}

static _Atomic(const char *) stop_step = "running";  /* read by the watchdog thread */

const char *spate_stop_step_now(void) {
        return atomic_load(&stop_step);
}

void spate_stop_step(const char *step) {
        const char *at = getenv("SPATE_HANG_AT");
        atomic_store(&stop_step, step);
        if (!at || strcmp(at, step))
                return;
        spate_warn("SPATE_HANG_AT=%s: blocking for good (test hook)", step);
        for (;;)
                pause();
}
