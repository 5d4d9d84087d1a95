/* check.h - a tiny TAP-style assertion kit for spate's unit tests.
 * Each CHECK prints "ok N - msg" or "not ok N - msg"; tests/run.sh counts them. */
#ifndef SPATE_CHECK_H
#define SPATE_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_n, check_failed;

#define CHECK(cond, ...) do {                                             \
        check_n++;                                                        \
        if (cond) { printf("ok %d - ", check_n); }                        \
        else { check_failed++;                                            \
               printf("not ok %d - %s:%d: ", check_n, __FILE__, __LINE__); } \
        printf(__VA_ARGS__); printf("\n");                                \
} while (0)

#define CHECK_STR(got, want, what) do {                                   \
        const char *g_ = (got), *w_ = (want);                             \
        CHECK(g_ && w_ && !strcmp(g_, w_), "%s: got '%s', want '%s'",     \
              what, g_ ? g_ : "(null)", w_ ? w_ : "(null)");              \
} while (0)

#define CHECK_NUM(got, want, what) do {                                   \
        double g_ = (got), w_ = (want);                                   \
        CHECK(fabs(g_ - w_) <= 1e-9 * (fabs(w_) > 1 ? fabs(w_) : 1),      \
              "%s: got %.17g, want %.17g", what, g_, w_);                 \
} while (0)

#define CHECK_DONE() (printf("# %d checks, %d failed\n", check_n, check_failed), \
                      check_failed ? 1 : 0)

#endif
