/* test_join_model.c - a left join with `retention:` (re-emission, on its
 * windowed store) against an independent reference model, in random rounds:
 * records of two partitions whose times step across the segment boundaries
 * (retention 1000 ms, segments of 500) and land exactly on the expiry
 * (S - 1000 forgotten on arrival, S - 999 kept), revisions of a record key
 * naming another row key, none (a null row key) or another segment, rows
 * put, changed and deleted, and kill -9s after a commit (with and without
 * the local state) followed by the recheck of every entry. After each step the join's output must be the
 * model's, as a multiset (the order of one punctuation's re-emissions is the
 * store's). And a store written by the plain layout is refused. */
#include "check.h"
#include "../driver/driver.h"
#include "../../util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETENTION 1000
#define NKEYS 8      /* record keys k0..k7, key i on partition i % 2 */
#define NROWS 3      /* row keys A, B, C */
#define NVALS 3      /* row values x0..x2 */
#define MAX_ENTRIES 4096
#define LINE 128

#define YAML \
        "application: join-model\n" \
        "kafka:\n  bootstrap.servers: 127.0.0.1:1\n" \
        "nodes:\n" \
        "  - name: in\n    type: kafka_source\n    topic: m.in\n    partitions: 2\n" \
        "  - name: look\n    type: join\n    from: in\n    table: st\n    key: st\n" \
        "    fields: {name: name}\n    retention: 1s\n" \
        "  - name: out\n    type: kafka_sink\n    from: look\n    topic: m.out\n    partitions: 1\n" \
        "  - name: st\n    type: table\n    topic: m.st\n    global: true\n    refresh: 100ms\n"

/* What the join remembers, by the rule in docs/tables.md: a record with a
 * row key, while its time is within the retention of its partition's
 * newest; a record key's last record only. */
typedef struct {
        int used, p, key;  /* key: -1 for a record without a key */
        int st, v, seen;   /* seen: the row value it was last emitted with (-1: no row) */
        int64_t ts;
} ment_t;

typedef struct {
        ment_t e[MAX_ENTRIES];
        int64_t s[2];            /* each partition's stream time */
        int now[NROWS], seen[NROWS];  /* the table's rows (-1: none): as put, as the join reads them */
        char want[MAX_ENTRIES][LINE];
        int nwant, v;
} model_t;

static model_t m;
static int64_t got_seen;

static void line(char *out, int key, int st, int v, int row) {
        char k[8], name[8];
        snprintf(k, sizeof(k), key < 0 ? "-" : "k%d", key);
        snprintf(name, sizeof(name), row < 0 ? "null" : "\"x%d\"", row);
        if (st < 0)
                snprintf(out, LINE, "%s {\"v\":%d,\"name\":%s}", k, v, name);
        else
                snprintf(out, LINE, "%s {\"st\":\"%c\",\"v\":%d,\"name\":%s}", k, 'A' + st, v, name);
}

static void want(int key, int st, int v, int row) {
        if (m.nwant < MAX_ENTRIES)
                line(m.want[m.nwant++], key, st, v, row);
}

static int live(const ment_t *e) {
        return e->used && e->ts > m.s[e->p] - RETENTION;
}

static void model_record(int p, int key, int st, int64_t ts) {
        int row = st < 0 ? -1 : m.seen[st];
        want(key, st, m.v, row);
        m.s[p] = ts > m.s[p] ? ts : m.s[p];
        for (int i = 0; key >= 0 && i < MAX_ENTRIES; i++)
                if (m.e[i].used && m.e[i].p == p && m.e[i].key == key)
                        m.e[i].used = 0;
        if (st < 0)
                return;  /* no row key: nothing remembered, but the key's earlier record replaced */
        if (ts <= m.s[p] - RETENTION)
                return;
        for (int i = 0; i < MAX_ENTRIES; i++)
                if (!live(&m.e[i])) {
                        m.e[i] = (ment_t){ 1, p, key, st, m.v, row, ts };
                        return;
                }
        printf("Bail out! the model is full\n");
        exit(1);
}

/* The join has read the table again: every live entry whose row differs. */
static void model_recheck(void) {
        memcpy(m.seen, m.now, sizeof(m.seen));
        for (int i = 0; i < MAX_ENTRIES; i++)
                if (live(&m.e[i]) && m.e[i].seen != m.seen[m.e[i].st]) {
                        m.e[i].seen = m.seen[m.e[i].st];
                        want(m.e[i].key, m.e[i].st, m.e[i].v, m.e[i].seen);
                }
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The join's output since the last check, as a multiset, against the model's. */
static void compare(spate_driver_t *d, const char *what, int round, int step) {
        int64_t n = spate_driver_count(d, "m.out", 0);
        int ngot = (int)(n - got_seen), ok = ngot == m.nwant;
        char (*got)[LINE] = calloc((size_t)(ngot > 0 ? ngot : 1), LINE);
        const char **a = calloc((size_t)(ngot + m.nwant + 1), sizeof(*a));
        for (int i = 0; i < ngot; i++) {
                const spate_driver_msg_t *msg = spate_driver_msg(d, "m.out", 0, got_seen + i);
                snprintf(got[i], LINE, "%s %s", msg->key ? msg->key : "-", msg->value ? msg->value : "(tombstone)");
                a[i] = got[i];
        }
        for (int i = 0; i < m.nwant; i++)
                a[ngot + i] = m.want[i];
        qsort(a, (size_t)ngot, sizeof(*a), cmp_str);
        qsort(a + ngot, (size_t)m.nwant, sizeof(*a), cmp_str);
        for (int i = 0; ok && i < ngot; i++)
                ok = !strcmp(a[i], a[ngot + i]);
        CHECK(ok, "round %d step %d (%s): %d messages as the model's %d", round, step, what, ngot, m.nwant);
        for (int i = 0; !ok && i < ngot + m.nwant && i < 40; i++)
                printf("#   %s %s\n", i < ngot ? "got " : "want", a[i]);
        got_seen = n;
        m.nwant = 0;
        free(got);
        free(a);
}

/* A time around partition p's stream time: on either side of the expiry
 * and of the next segment boundaries. */
static int64_t pick_time(int p) {
        static const int64_t steps[] = { -1100, -1000, -999, -600, -501, -500, -499, -1, 0, 0, 1, 1,
                                         250, 499, 500, 501 };
        int64_t s = m.s[p] == INT64_MIN ? 20000 : m.s[p];
        return s + steps[rand() % (int)(sizeof(steps) / sizeof(*steps))];
}

static void step_records(spate_driver_t *d) {
        for (int n = 1 + rand() % 6; n > 0; n--) {
                int key = rand() % 10 == 0 ? -1 : rand() % NKEYS;
                int p = key < 0 ? rand() % 2 : key % 2, st = rand() % 6 == 0 ? -1 : rand() % NROWS;
                int64_t ts = pick_time(p);
                char k[8], v[64];
                snprintf(k, sizeof(k), "k%d", key);
                if (st < 0)
                        snprintf(v, sizeof(v), "{\"v\":%d}", ++m.v);
                else
                        snprintf(v, sizeof(v), "{\"st\":\"%c\",\"v\":%d}", 'A' + st, ++m.v);
                spate_driver_pipe(d, "m.in", p, key < 0 ? NULL : k, v, ts);
                spate_driver_process(d);
                model_record(p, key, st, ts);
        }
}

static void change_rows(spate_driver_t *d) {
        for (int n = 1 + rand() % 2; n > 0; n--) {
                int st = rand() % NROWS, val = rand() % (NVALS + 1) - 1;
                char k[2] = { (char)('A' + st), 0 }, v[32];
                snprintf(v, sizeof(v), "{\"name\":\"x%d\"}", val);
                spate_driver_pipe(d, "m.st", 0, k, val < 0 ? NULL : v, 1);
                m.now[st] = val;
        }
}

/* The table follows its topic, then the join rechecks at its punctuation. */
static void settle(spate_driver_t *d) {
        spate_driver_advance(d, 1000);
        spate_driver_advance(d, 1000);
        model_recheck();
}

static void crash(spate_driver_t *d) {
        char err[512];
        int rc = spate_driver_commit(d, SPATE_DRIVER_COMMIT_ALL);
        CHECK(rc == 0, "commit%s%s", rc ? ": " : "", rc ? spate_driver_ctx(d)->errstr : "");
        if (rand() % 2)
                change_rows(d);  /* rows that come while the instance is down */
        CHECK(spate_driver_crash(d, rand() % 2, err, sizeof(err)) == 0, "crash: %s", err);
        CHECK(spate_driver_assign(d) == 0, "restore: %s", spate_driver_ctx(d)->errstr);
}

static void round_of(int round, int steps) {
        spate_driver_t *d = spate_driver_new_or_bail(YAML, 1000000);
        memset(&m, 0, sizeof(m));
        m.s[0] = m.s[1] = INT64_MIN;
        for (int i = 0; i < NROWS; i++)
                m.now[i] = m.seen[i] = -1;
        got_seen = 0;
        for (int step = 0; step < steps; step++) {
                int what = rand() % 10;
                if (what < 6) {
                        step_records(d);
                        compare(d, "records", round, step);
                        continue;
                }
                if (what < 9)
                        change_rows(d);
                else
                        crash(d);
                settle(d);
                compare(d, what < 9 ? "rows changed" : "kill -9, every entry rechecked", round, step);
        }
        spate_driver_destroy(d);
}

/* The plain layout's meta record ('M', version 1) and an 'L' entry: what a
 * join with retention wrote before its store was windowed. The restore
 * stops saying the state must be reset. */
static void test_old_state(void) {
        spate_driver_t *d = spate_driver_new_or_bail(YAML, 1000000);
        unsigned char meta[26] = { 'M', 1 }, old[3] = { 0x01, 'L', 'A' };  /* a user key: 0x01, then 'L' row key */
        char err[512];
        spate_put_be64(meta + 2, 1);
        spate_put_be64(meta + 10, 0);
        spate_put_be64(meta + 18, 5000);
        spate_driver_pipe(d, "m.in", 0, "k1", "{\"st\":\"A\",\"v\":1}", 5000);
        spate_driver_pipe_bytes(d, "join-model-look-lookups-changelog", 0, old, sizeof(old), "old entries", 11, 0);
        spate_driver_pipe_bytes(d, "join-model-look-lookups-changelog", 0, "", 1, meta, sizeof(meta), 0);
        CHECK(spate_driver_crash(d, 0, err, sizeof(err)) == 0, "crash: %s", err);
        CHECK(spate_driver_assign(d) != 0 && strstr(spate_driver_ctx(d)->errstr, "windowed") &&
              strstr(spate_driver_ctx(d)->errstr, "reset"),
              "a changelog of the plain layout stops the restore: %s", spate_driver_ctx(d)->errstr);
        spate_driver_destroy(d);
}

int main(void) {
        srand(20261203);
        test_old_state();
        for (int r = 0; r < 30; r++)
                round_of(r, 60);
        return CHECK_DONE();
}
