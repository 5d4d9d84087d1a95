/* test_standby.c - which instance keeps a standby of which task
 * (spate_standby_chosen(), engine/engine_standby.c): against an independent
 * reference, the librdkafka `range` assignor written out as it hands out
 * partitions (members in member-id order, each taking its run of partitions
 * in turn), for every owner, every member asking, several group sizes and
 * num_standby_replicas. */
#include "check.h"
#include "../../engine/engine_impl.h"

#include <stdlib.h>
#include <string.h>

#define MAXM 6

/* The member range gives partition p of np among members[0..n) (sorted). */
static int range_ref(int32_t p, int np, int n) {
        int owner[64], next = 0;
        for (int i = 0; i < n; i++)
                for (int k = 0; k < np / n + (i < np % n); k++)
                        owner[next++] = i;
        return owner[p];
}

/* The members (sorted) that hold p's standbys: for r = 1..replicas, whom
 * range gives p once the owner and the r - 1 before have left. */
static int standbys_ref(const char *const *sorted, int n, int owner, int32_t p, int np, int replicas,
                        int *is_standby) {
        const char *left[MAXM];
        int m = 0, count = 0;
        memset(is_standby, 0, sizeof(int) * (size_t)n);
        for (int i = 0; i < n; i++)
                if (i != owner)
                        left[m++] = sorted[i];
        for (int r = 0; r < replicas && m; r++) {
                int k = range_ref(p, np, m);
                for (int i = 0; i < n; i++)
                        if (sorted[i] == left[k])
                                is_standby[i] = 1;
                memmove(&left[k], &left[k + 1], sizeof(*left) * (size_t)(m - k - 1));
                m--;
                count++;
        }
        return count;
}

/* Every instance asks, with the members in an order of its own; the
 * answers must be the reference's. */
static void check_group(int n, int np, int replicas) {
        static const char *const sorted[MAXM] = { "rdkafka-1a", "rdkafka-2b", "rdkafka-3c", "rdkafka-4d",
                                                  "rdkafka-5e", "rdkafka-6f" };
        const char *shuffled[MAXM];
        int bad = 0, copies_ok = 1, is_standby[MAXM];
        for (int i = 0; i < n; i++)
                shuffled[i] = sorted[n - 1 - i];  /* not in member-id order */
        for (int32_t p = 0; p < np; p++) {
                int owner = range_ref(p, np, n), want = standbys_ref(sorted, n, owner, p, np, replicas, is_standby);
                int copies = 0;
                for (int self = 0; self < n; self++) {
                        if (self == owner)
                                continue;
                        int got = spate_standby_chosen(shuffled, n, sorted[owner], sorted[self], p, np, replicas);
                        bad += got != is_standby[self];
                        copies += got;
                }
                copies_ok &= copies == want && want == (replicas < n - 1 ? replicas : n - 1);
        }
        CHECK(!bad, "%d members, %d partitions, num_standby_replicas %d: every instance chooses as the "
              "reference (%d differences)", n, np, replicas, bad);
        CHECK(copies_ok, "%d members, %d partitions, num_standby_replicas %d: min(N, members - 1) copies of "
              "each task", n, np, replicas);
}

/* With range, the standby of a task is the member that takes it when its
 * owner fails: 3 members, 6 partitions, N = 1 written out. */
static void test_three_of_six(void) {
        const char *m[] = { "c", "a", "b" };
        /* range over a, b, c: a {0,1}, b {2,3}, c {4,5}; without a: b {0,1,2}, c {3,4,5};
         * without b: a {0,1,2}, c {3,4,5}; without c: a {0,1,2}, b {3,4,5}. */
        static const char *const want[6] = { "b", "b", "a", "c", "b", "b" };
        static const char *const owner[6] = { "a", "a", "b", "b", "c", "c" };
        int bad = 0;
        for (int p = 0; p < 6; p++)
                for (int s = 0; s < 3; s++)
                        if (strcmp(m[s], owner[p]))
                                bad += spate_standby_chosen(m, 3, owner[p], m[s], p, 6, 1) != !strcmp(m[s], want[p]);
        CHECK(!bad, "3 members, 6 partitions: the standby of each task is its heir under range (%d wrong)", bad);
        CHECK(!spate_standby_chosen(m, 3, "a", "b", 6, 6, 1), "a partition past the topic's: not chosen");
        CHECK(!spate_standby_chosen(m, 3, "a", "b", 0, 6, 0), "num_standby_replicas 0: not chosen");
}

int main(void) {
        test_three_of_six();
        for (int n = 2; n <= MAXM; n++)
                for (int replicas = 1; replicas <= 3; replicas++) {
                        check_group(n, 6, replicas);
                        check_group(n, 16, replicas);
                        check_group(n, 4, replicas);
                }
        return CHECK_DONE();
}
