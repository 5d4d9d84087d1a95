/* window.c - window assignment and closing rules (see window.h for semantics). */
#include "window.h"

#include <stdio.h>
#include <string.h>

static const char *type_names[] = { "tumbling", "hopping", "sliding", "session" };

/* Saturating, so a huge grace cannot wrap a close time into the past. */
static int64_t add_sat(int64_t a, int64_t b) {
        if (b > 0 && a > INT64_MAX - b)
                return INT64_MAX;
        if (b < 0 && a < INT64_MIN - b)
                return INT64_MIN;
        return a + b;
}

/* C division truncates toward zero; windows need floor for negative times. */
static int64_t floor_div(int64_t a, int64_t b) {
        int64_t q = a / b;

        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t advance_of(const spate_window_spec_t *spec) {
        return spec->type == SPATE_WINDOW_HOPPING ? spec->advance : spec->size;
}

int spate_window_type_parse(const char *name, spate_window_type_t *typep) {
        for (int i = 0; i < 4; i++) {
                if (!strcmp(name, type_names[i])) {
                        *typep = (spate_window_type_t)i;
                        return 0;
                }
        }
        return -1;
}

const char *spate_window_type_name(spate_window_type_t type) {
        return (unsigned)type < 4 ? type_names[type] : "unknown";
}

int spate_window_spec_check(const spate_window_spec_t *spec, char *errstr, size_t errstr_size) {
        const char *bad = NULL;

        if ((unsigned)spec->type > SPATE_WINDOW_SESSION)
                bad = "unknown window type";
        else if (spec->type != SPATE_WINDOW_SESSION && spec->size <= 0)
                bad = "size must be > 0";
        else if (spec->type == SPATE_WINDOW_HOPPING &&
                 (spec->advance <= 0 || spec->advance > spec->size))
                bad = "advance must be > 0 and <= size";
        else if (spec->type == SPATE_WINDOW_SESSION && spec->gap < 0)
                bad = "gap must be >= 0";
        else if (spec->grace < 0)
                bad = "grace must be >= 0";
        if (bad)
                snprintf(errstr, errstr_size, "%s window: %s",
                         spate_window_type_name(spec->type), bad);
        return bad ? -1 : 0;
}

int spate_window_max_per_record(const spate_window_spec_t *spec) {
        int64_t a = advance_of(spec);

        if (spec->type == SPATE_WINDOW_TUMBLING)
                return 1;
        return (int)((spec->size + a - 1) / a);
}

int spate_window_assign(const spate_window_spec_t *spec, int64_t t, int64_t stream_time,
                        int64_t *starts, int max) {
        int64_t a = advance_of(spec);
        int n = 0;

        if (spec->type != SPATE_WINDOW_TUMBLING && spec->type != SPATE_WINDOW_HOPPING)
                return -1;
        if (max < spate_window_max_per_record(spec))
                return -1;
        if (spec->type == SPATE_WINDOW_TUMBLING) {
                /* the loop below for a == size: k == floor_div(t, a) only */
                int64_t start = floor_div(t, a) * a;
                if (spate_window_is_closed(spec, start, start + spec->size, stream_time))
                        return 0;
                starts[0] = start;
                return 1;
        }
        /* Windows [k*a, k*a+size) with k*a <= t < k*a+size, oldest first. */
        for (int64_t k = floor_div(t - spec->size, a) + 1; k <= floor_div(t, a); k++) {
                int64_t start = k * a;
                if (!spate_window_is_closed(spec, start, start + spec->size, stream_time))
                        starts[n++] = start;
        }
        return n;
}

int64_t spate_window_close_time(const spate_window_spec_t *spec, int64_t start, int64_t end) {
        (void)start;
        switch (spec->type) {
        case SPATE_WINDOW_TUMBLING:
        case SPATE_WINDOW_HOPPING:
                return add_sat(end, spec->grace);
        case SPATE_WINDOW_SLIDING:
                return add_sat(add_sat(end, spec->grace), 1);
        case SPATE_WINDOW_SESSION:
                return add_sat(add_sat(add_sat(end, spec->gap), spec->grace), 1);
        }
        return INT64_MIN;
}

int spate_window_is_closed(const spate_window_spec_t *spec, int64_t start, int64_t end,
                           int64_t stream_time) {
        return stream_time >= spate_window_close_time(spec, start, end);
}

int spate_window_is_late(const spate_window_spec_t *spec, int64_t t, int64_t stream_time) {
        int64_t last_start;

        switch (spec->type) {
        case SPATE_WINDOW_TUMBLING:
        case SPATE_WINDOW_HOPPING:
                /* The last window holding t closes last: late iff it is closed. */
                last_start = floor_div(t, advance_of(spec)) * advance_of(spec);
                return spate_window_is_closed(spec, last_start, last_start + spec->size,
                                              stream_time);
        case SPATE_WINDOW_SLIDING:
                return stream_time > add_sat(add_sat(t, spec->size), spec->grace);
        case SPATE_WINDOW_SESSION:
                return stream_time > add_sat(add_sat(t, spec->gap), spec->grace);
        }
        return 1;
}

int spate_window_sliding_assign(const spate_window_spec_t *spec, int64_t u,
                                int64_t stream_time, spate_sliding_assign_t *out) {
        int64_t oldest_open = add_sat(stream_time, -spec->grace);  /* open iff e >= this; no stream time yet: all */

        if (spate_window_is_late(spec, u, stream_time))
                return 1;
        out->end_lo = u > oldest_open ? u : oldest_open;
        out->end_hi = u + spec->size;
        out->create_own = u >= oldest_open;
        return 0;
}

int spate_window_sliding_keep(const spate_window_spec_t *spec, int64_t r, int64_t stream_time) {
        /* A future window ending at e >= r holds r only while e - S <= r and it
         * is open, e >= stream_time - grace: possible while this holds. */
        return stream_time <= add_sat(add_sat(r, spec->size), spec->grace);
}

int spate_window_session_assign(const spate_window_spec_t *spec, int64_t t,
                                int64_t stream_time, const spate_session_t *existing,
                                int n, spate_session_t *merged, int *absorbed,
                                int *nabsorbed) {
        *nabsorbed = 0;
        if (spate_window_is_late(spec, t, stream_time))
                return 1;
        merged->first = merged->last = t;
        for (int i = 0; i < n; i++) {
                const spate_session_t *s = &existing[i];
                if (spate_window_is_closed(spec, s->first, s->last, stream_time))
                        continue;
                if (t < s->first - spec->gap || t > add_sat(s->last, spec->gap))
                        continue;
                if (s->first < merged->first)
                        merged->first = s->first;
                if (s->last > merged->last)
                        merged->last = s->last;
                absorbed[(*nabsorbed)++] = i;
        }
        return 0;
}
