/* window_recs.h - what the window unit tests run by the test driver share
 * (test_window_driver.c, test_window_corrections.c): their records, as the
 * JSON piped to the source topic t.in, a commit and a step checked as
 * tests, and the count of keys in an output. Include after check.h (CHECK). */
#ifndef SPATE_TEST_WINDOW_RECS_H
#define SPATE_TEST_WINDOW_RECS_H

#include "driver.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* A record of partition p: {"g":g,"id":"r<id>","t":t,"v":v}, without "id" when id is 0. */
typedef struct {
        int p;
        const char *g;
        int64_t t;
        int v;
        int id;
} rec_t;

/* The record's JSON text (what the source reads, and a dead letter holds). */
static inline void rec_json(const rec_t *r, char *buf, size_t size) {
        if (r->id)
                snprintf(buf, size, "{\"g\":\"%s\",\"id\":\"r%d\",\"t\":%lld,\"v\":%d}", r->g, r->id,
                         (long long)r->t, r->v);
        else
                snprintf(buf, size, "{\"g\":\"%s\",\"t\":%lld,\"v\":%d}", r->g, (long long)r->t, r->v);
}

/* Appends n records to t.in, keyed by g. */
static inline void pipe_recs(spate_driver_t *d, const rec_t *r, int n) {
        char v[256];
        for (int i = 0; i < n; i++) {
                rec_json(&r[i], v, sizeof(v));
                spate_driver_pipe(d, "t.in", r[i].p, r[i].g, v, 0);
        }
}

static inline void commit(spate_driver_t *d) {
        int rc = spate_driver_commit(d, SPATE_DRIVER_COMMIT_ALL);
        CHECK(rc == 0, "commit%s%s", rc ? ": " : "", rc ? spate_driver_ctx(d)->errstr : "");
}

/* Records to the window, their repartitioned form (if any) to the task, closing. */
static inline void step(spate_driver_t *d) {
        spate_driver_process(d);
        commit(d);
        spate_driver_process(d);
        spate_driver_punctuate(d);
        commit(d);
}

/* How many distinct keys partition 0 of topic holds. */
static inline int distinct_keys(spate_driver_t *d, const char *topic) {
        int n = 0;
        for (int64_t i = 0; i < spate_driver_count(d, topic, 0); i++) {
                const spate_driver_msg_t *m = spate_driver_msg(d, topic, 0, i);
                int seen = 0;
                for (int64_t k = 0; k < i && !seen; k++)
                        seen = !strcmp(spate_driver_msg(d, topic, 0, k)->key, m->key);
                n += !seen;
        }
        return n;
}

#endif
