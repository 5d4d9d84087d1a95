/* window.h - which windows a record belongs to and when a window closes, for
 * tumbling, hopping, sliding and session windows (pure logic, no state).
 *
 * Times are int64 milliseconds (negative allowed, |t| < 2^62). Stream time is
 * the largest event time the task has seen; the caller keeps it (and stores it
 * with the state so a restart does not reopen closed windows) and passes it in.
 * Whether it already includes the record being assigned makes no difference:
 * a record never closes its own windows.
 *
 * Semantics (normative; tests/ref/windows_ref.py implements the same rules):
 *
 * tumbling(size S)   one window [start, start+S), start = floor(t/S)*S (floor
 *                    also for negative t). Closed when stream_time >= end + grace.
 *                    A record whose window is closed is late (dropped).
 * hopping(S, adv A)  every window [k*A, k*A+S) that contains t (0 < A <= S; S
 *                    need not be a multiple of A). Same close rule. The record
 *                    goes to each of its windows that is still open; it is late
 *                    only when all of them are closed.
 * sliding(S)         Kafka Streams SlidingWindows style, both ends inclusive: a
 *                    window [e-S, e] exists for every distinct record time e of
 *                    the group (its start, e-S, is the stored window start). A
 *                    record at u goes to every existing open window with
 *                    e in [u, u+S], and creates its own window [u-S, u] whose
 *                    content is every (non-late) record of the group with time in
 *                    [u-S, u], including ones that arrived before it, in order or
 *                    not. The window ending at e is closed when
 *                    stream_time > e + grace. A record is late when
 *                    stream_time > u + S + grace. When its own window would be
 *                    closed already (stream_time > u + grace) it is not created,
 *                    but the record still goes to the open later windows and is
 *                    kept for windows created later.
 * session(gap G)     a session is [first, last] of its records (inclusive). A
 *                    record at t joins every open session with
 *                    first-G <= t <= last+G, merging them into one (the merged-away
 *                    sessions are reported so the caller can emit tombstones);
 *                    with none it starts [t, t]. Closed when
 *                    stream_time > last + G + grace. Late when
 *                    stream_time > t + G + grace. Open sessions of one key are
 *                    therefore always more than G apart.
 */
#ifndef SPATE_WINDOW_H
#define SPATE_WINDOW_H

#include <stddef.h>
#include <stdint.h>

/* The stream time at the end of a bounded input (spate run --end-of-input):
 * every window is closed by it. */
#define SPATE_WINDOW_END_OF_STREAM INT64_MAX

typedef enum {
        SPATE_WINDOW_TUMBLING,
        SPATE_WINDOW_HOPPING,
        SPATE_WINDOW_SLIDING,
        SPATE_WINDOW_SESSION
} spate_window_type_t;

typedef struct spate_window_spec {
        spate_window_type_t type;
        int64_t size;      /* tumbling, hopping, sliding */
        int64_t advance;   /* hopping (tumbling: ignored, taken as size) */
        int64_t gap;       /* session */
        int64_t grace;     /* all: how long after its end a window still accepts */
} spate_window_spec_t;

/* Validates a spec: size > 0, 0 < advance <= size for hopping, gap >= 0,
 * grace >= 0. Returns 0 or -1 with errstr. */
int spate_window_spec_check(const spate_window_spec_t *spec, char *errstr, size_t errstr_size);

/* "tumbling", "hopping", "sliding", "session" <-> type; parse returns 0 / -1. */
int spate_window_type_parse(const char *name, spate_window_type_t *typep);
const char *spate_window_type_name(spate_window_type_t type);

/* Most windows one record can fall into: 1 for tumbling, ceil(S/A) hopping. */
int spate_window_max_per_record(const spate_window_spec_t *spec);

/* Tumbling and hopping: writes the starts of t's windows that are still open
 * to starts[], ascending, and returns how many (0 = the record is late).
 * Returns -1 when max is too small (see spate_window_max_per_record) or the
 * spec is of another type. A window's end is start + size. */
int spate_window_assign(const spate_window_spec_t *spec, int64_t t, int64_t stream_time,
                        int64_t *starts, int max);

/* The first stream time at which the window is closed; `end` is start+size
 * (exclusive) for tumbling/hopping, e (inclusive) for sliding, last for
 * session. Lets the caller index windows by close time for punctuate(). */
int64_t spate_window_close_time(const spate_window_spec_t *spec, int64_t start, int64_t end);

/* 1 when the window (start, end as above) is closed at stream_time. */
int spate_window_is_closed(const spate_window_spec_t *spec, int64_t start, int64_t end,
                           int64_t stream_time);

/* 1 when a record at t is late (dropped: it updates no window), any type. */
int spate_window_is_late(const spate_window_spec_t *spec, int64_t t, int64_t stream_time);

/* Sliding assignment of a record at u.
 * Recipe for the caller, which keeps per group one mergeable "bucket" of the
 * records of each distinct time (it needs buckets while
 * spate_window_sliding_keep() says so):
 *   1. if spate_window_sliding_assign() returns 1 the record is late: drop it;
 *   2. add the record to the bucket of time u;
 *   3. add it to every existing window whose end e is in [end_lo, end_hi]
 *      (window starts e-S: scan starts [end_lo-S, end_hi-S]);
 *   4. if create_own and no window ends at u yet, create [u-S, u] as the merge
 *      of the buckets with times in [u-S, u] (which now include the record).
 * When end_lo > end_hi there is no window to update. Returns 0, or 1 = late. */
typedef struct spate_sliding_assign {
        int64_t end_lo, end_hi;  /* open existing windows that take the record */
        int create_own;          /* its own window [u-S, u] is still open */
} spate_sliding_assign_t;

int spate_window_sliding_assign(const spate_window_spec_t *spec, int64_t u,
                                int64_t stream_time, spate_sliding_assign_t *out);

/* 1 while records at time r can still enter a window created in the future,
 * i.e. the bucket of time r must be kept (stream_time <= r + S + grace). */
int spate_window_sliding_keep(const spate_window_spec_t *spec, int64_t r, int64_t stream_time);

/* Session assignment of a record at t given the key's stored sessions
 * (existing[0..n), any order; closed ones are allowed and never joined).
 * Returns 1 when the record is late. Otherwise 0 with *merged = the session
 * the record ends in, and absorbed[0..*nabsorbed) = indices into existing of
 * the sessions merged into it, ascending. The caller merges their aggregates
 * with the record, deletes (and emits tombstones for) the absorbed sessions,
 * and stores *merged - whose first may equal an absorbed session's first, in
 * which case the put replaces that key. absorbed needs room for n entries.
 * To find candidates the caller may scan all sessions of the key: closed ones
 * are deleted on punctuate, so few remain. */
typedef struct spate_session {
        int64_t first, last;
} spate_session_t;

int spate_window_session_assign(const spate_window_spec_t *spec, int64_t t,
                                int64_t stream_time, const spate_session_t *existing,
                                int n, spate_session_t *merged, int *absorbed,
                                int *nabsorbed);

#endif
