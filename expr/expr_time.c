/* expr_time.c - UTC calendar arithmetic for the expression time functions:
 * ms since the epoch to date fields and ISO-8601 text back to ms.
 *
 * Hand-written (Howard Hinnant's days/civil algorithms) rather than
 * gmtime_r/timegm: no TZ environment, no locale, no 32-bit year limits, and
 * it is exact for negative times too. */
#include "expr_int.h"

#include <string.h>

static int64_t floor_div(int64_t a, int64_t b) {
        int64_t q = a / b;
        return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static int64_t days_from_civil(int64_t y, int m, int d) {
        y -= m <= 2;
        int64_t era = floor_div(y, 400);
        int64_t yoe = y - era * 400;
        int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

void spate_expr__civil(int64_t ms, civil_t *out) {
        int64_t days = floor_div(ms, 86400000);
        int64_t rest = ms - days * 86400000;
        int64_t z = days + 719468;
        int64_t era = floor_div(z, 146097);
        int64_t doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        int64_t mp = (5 * doy + 2) / 153;
        out->day = (int)(doy - (153 * mp + 2) / 5 + 1);
        out->month = (int)(mp < 10 ? mp + 3 : mp - 9);
        out->year = yoe + era * 400 + (out->month <= 2);
        out->hour = (int)(rest / 3600000);
        out->minute = (int)(rest / 60000 % 60);
        out->second = (int)(rest / 1000 % 60);
        out->ms = (int)(rest % 1000);
}

static int days_in_month(int64_t y, int m) {
        static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        return m == 2 && leap ? 29 : dm[m - 1];
}

/* Reads exactly `digits` decimal digits. */
static int num(const char **p, const char *end, int digits, int *out) {
        int v = 0;
        for (int i = 0; i < digits; i++) {
                if (*p >= end || **p < '0' || **p > '9')
                        return -1;
                v = v * 10 + (*(*p)++ - '0');
        }
        *out = v;
        return 0;
}

static int lit(const char **p, const char *end, char ch) {
        if (*p >= end || **p != ch)
                return -1;
        (*p)++;
        return 0;
}

/* "Z", "+02:00", "+0200", "-05" or nothing (UTC): offset in minutes. */
static int zone(const char **p, const char *end, int *minutes) {
        *minutes = 0;
        if (*p == end)
                return 0;
        if (**p == 'Z' || **p == 'z') {
                (*p)++;
                return 0;
        }
        int sign = **p == '+' ? 1 : **p == '-' ? -1 : 0, h, m = 0;
        if (!sign)
                return -1;
        (*p)++;
        if (num(p, end, 2, &h) || h > 23)
                return -1;
        if (*p < end && **p == ':')
                (*p)++;
        if (*p < end && num(p, end, 2, &m))
                return -1;
        if (m > 59)
                return -1;
        *minutes = sign * (h * 60 + m);
        return 0;
}

/* HH:MM[:SS[.fff]]: ms into the day. Fractions beyond ms are dropped. */
static int clock_time(const char **p, const char *end, int64_t *ms) {
        int h, mi, s = 0, frac = 0;
        if (num(p, end, 2, &h) || lit(p, end, ':') || num(p, end, 2, &mi) || h > 23 || mi > 59)
                return -1;
        if (*p < end && **p == ':') {
                (*p)++;
                if (num(p, end, 2, &s) || s > 59)
                        return -1;
                if (*p < end && (**p == '.' || **p == ',')) {
                        (*p)++;
                        int nd = 0;
                        for (; *p < end && **p >= '0' && **p <= '9'; (*p)++, nd++)
                                if (nd < 3)
                                        frac = frac * 10 + (**p - '0');
                        if (!nd)
                                return -1;
                        for (; nd < 3; nd++)
                                frac *= 10;
                }
        }
        *ms = ((int64_t)h * 3600 + mi * 60 + s) * 1000 + frac;
        return 0;
}

/* The digits at s[at..at+len), or -1 if one is not a digit. */
static int fixed_num(const char *s, int at, int len) {
        int v = 0;
        for (int i = at; i < at + len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -1;
                v = v * 10 + (s[i] - '0');
        }
        return v;
}

/* Days since the epoch of the date s[0..10), read last by this thread: a
 * stream's timestamps keep their date for hours, and the calendar
 * arithmetic costs more than the rest of a parse. */
static _Thread_local struct {
        char date[10];  /* zeroed: matches no date */
        int64_t days;
} last_date;

static uint64_t load8(const char *s) {
        uint64_t x;
        memcpy(&x, s, 8);
        return x;
}

/* "HH:MM:SS" at s (8 bytes) as seconds into the day, or -1 if it is not
 * that or out of range. The bytes are tested together in a word (byte i at
 * bits 8i): XOR with "00:00:00" leaves a digit 0-9 and a colon 0, and the
 * digits are combined in pairs, 10 * d[i] + d[i + 1] in byte i (at most 99:
 * no carry between bytes). */
static int fixed_clock(const char *s) {
        const uint64_t highs = 0x8080808080808080u, colons = 0x0000ff0000ff0000u;
        uint64_t d = load8(s) ^ 0x30303a30303a3030u;
        /* a byte above 9 gets its high bit from d + 0x76; a byte with its own
         * high bit set may carry into the next, but is refused itself */
        if ((((d + 0x7676767676767676u) | d) & highs) || (d & colons))
                return -1;
        uint64_t t = d * 10 + (d >> 8);
        int h = (int)(t & 0xff), mi = (int)(t >> 24 & 0xff), sec = (int)(t >> 48 & 0xff);
        if (h > 23 || mi > 59 || sec > 59)
                return -1;
        return (h * 60 + mi) * 60 + sec;
}

/* The machine-written forms "YYYY-MM-DD HH:MM:SS", with 'T' for the space
 * and/or a trailing 'Z', read at fixed positions: 1 with *ms set, 0 when s
 * has another form or is invalid (the general parser then decides). The
 * date is compared with the last one in two loads. */
static int parse_fixed(const char *s, size_t n, double *ms) {
        if (!(n == 19 || (n == 20 && (s[19] == 'Z' || s[19] == 'z'))) || s[4] != '-' || s[7] != '-' ||
            (s[10] != ' ' && s[10] != 'T' && s[10] != 't'))
                return 0;
        int sec = fixed_clock(s + 11);
        if (sec < 0)
                return 0;
        uint16_t dd, last_dd;
        memcpy(&dd, s + 8, 2);
        memcpy(&last_dd, last_date.date + 8, 2);
        if (load8(s) != load8(last_date.date) || dd != last_dd) {
                int y = fixed_num(s, 0, 4), mo = fixed_num(s, 5, 2), d = fixed_num(s, 8, 2);
                if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
                        return 0;
                last_date.days = days_from_civil(y, mo, d);
                memcpy(last_date.date, s, 10);
        }
        *ms = (double)(last_date.days * 86400000 + (int64_t)sec * 1000);
        return 1;
}

int spate_expr__parse_time(const char *s, size_t n, double *ms) {
        if (parse_fixed(s, n, ms))
                return 0;
        const char *p = s, *end = s + n;
        int y, mo, d, off = 0;
        int64_t day_ms = 0;
        if (num(&p, end, 4, &y) || lit(&p, end, '-') || num(&p, end, 2, &mo) || lit(&p, end, '-') ||
            num(&p, end, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
                return -1;
        if (p < end && (*p == 'T' || *p == 't' || *p == ' ')) {
                p++;
                if (clock_time(&p, end, &day_ms) || zone(&p, end, &off))
                        return -1;
        }
        if (p != end)
                return -1;
        *ms = (double)(days_from_civil(y, mo, d) * 86400000 + day_ms - (int64_t)off * 60000);
        return 0;
}
