/* util.c - durations, suggestions, clocks and number formatting. */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int spate_parse_duration(const char *s, int64_t *ms) {
        char *end;
        double v = strtod(s, &end);
        double mult;
        if (end == s || v < 0)
                return -1;
        if (!*end || !strcmp(end, "ms"))
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
        *ms = (int64_t)(v * mult + 0.5);
        return 0;
}

static int edit_distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        int row[64];
        if (la >= 63 || lb >= 63)
                return 99;
        for (size_t j = 0; j <= lb; j++)
                row[j] = (int)j;
        for (size_t i = 1; i <= la; i++) {
                int prev = row[0];
                row[0] = (int)i;
                for (size_t j = 1; j <= lb; j++) {
                        int cur = row[j];
                        int best = prev + (a[i - 1] != b[j - 1]);
                        if (row[j] + 1 < best) best = row[j] + 1;
                        if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
                        row[j] = best;
                        prev = cur;
                }
        }
        return row[lb];
}

const char *spate_suggest(const char *word, const char *const *cands, int n) {
        const char *best = NULL;
        int best_d = 99, limit = (int)strlen(word) / 3;
        if (limit < 2)
                limit = 2;
        for (int i = 0; i < n; i++) {
                int d = edit_distance(word, cands[i]);
                if (d < best_d)
                        best_d = d, best = cands[i];
        }
        return best_d <= limit ? best : NULL;
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

int spate_fmt_num(char *buf, size_t size, double d) {
        if (d == (double)(int64_t)d && d > -9007199254740992.0 && d < 9007199254740992.0)
                return snprintf(buf, size, "%lld", (long long)d);
        for (int prec = 15; prec <= 17; prec++) {
                int n = snprintf(buf, size, "%.*g", prec, d);
                if (prec == 17 || strtod(buf, NULL) == d)
                        return n;
        }
        return 0;
}
