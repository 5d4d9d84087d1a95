/* test_node_state.c - the order in which the engine runs nodes' own hooks and
 * their state providers (engine/node_state.h, engine/commit_phase.c): what
 * exactness rests on (docs/exactness.md §1). Two nodes, a upstream of b;
 * a has a flush of its own and provider P, b a checkpoint of its own and
 * providers P then Q. Every hook appends "<node>.<who>.<what>" to a trail,
 * compared with the order written out by hand. */
#include "check.h"
#include "../../engine/commit_phase.h"
#include "../../engine/ctx.h"
#include "../../engine/node_state.h"
#include "../../engine/topology.h"

#include <stdio.h>
#include <string.h>

static char trail[2048];
static const char *fail_at;   /* "<node>.<who>.<what>" that returns -1 */

static int note(const spate_node_t *n, const char *who, const char *what) {
        char step[64];
        size_t len = strlen(trail);
        snprintf(step, sizeof(step), "%s.%s.%s", n->name, who, what);
        snprintf(trail + len, sizeof(trail) - len, "%s%s", len ? " " : "", step);
        return fail_at && !strcmp(fail_at, step) ? -1 : 0;
}

/* A provider whose every entry notes itself; standby_apply takes only the
 * topic named after it. */
#define PROVIDER(P)                                                                                       \
        static int P##_assign(spate_node_t *n, const char *t, int32_t p, spate_ctx_t *c) {               \
                (void)t, (void)p, (void)c;                                                                \
                return note(n, #P, "assign");                                                             \
        }                                                                                                 \
        static int P##_assigned(spate_node_t *n, spate_ctx_t *c) {                                        \
                (void)c;                                                                                  \
                return note(n, #P, "assigned");                                                           \
        }                                                                                                 \
        static void P##_revoke(spate_node_t *n, const char *t, int32_t p, spate_ctx_t *c) {              \
                (void)t, (void)p, (void)c;                                                                \
                note(n, #P, "revoke");                                                                    \
        }                                                                                                 \
        static int P##_flush(spate_node_t *n, spate_ctx_t *c) {                                           \
                (void)c;                                                                                  \
                return note(n, #P, "flush");                                                              \
        }                                                                                                 \
        static int P##_seal(spate_node_t *n, spate_ctx_t *c) {                                            \
                (void)c;                                                                                  \
                return note(n, #P, "seal");                                                               \
        }                                                                                                 \
        static int P##_checkpoint(spate_node_t *n, spate_ctx_t *c) {                                      \
                (void)c;                                                                                  \
                return note(n, #P, "checkpoint");                                                         \
        }                                                                                                 \
        static int P##_apply(spate_node_t *n, const char *topic, int32_t p, const void *k, size_t kl,    \
                             const void *v, size_t vl, int64_t o, char *e, size_t es) {                  \
                (void)p, (void)k, (void)kl, (void)v, (void)vl, (void)o, (void)e, (void)es;                \
                return strcmp(topic, #P) ? 1 : note(n, #P, "apply");                                      \
        }                                                                                                 \
        static void P##_free(spate_node_t *n) {                                                           \
                note(n, #P, "free");                                                                      \
        }                                                                                                 \
        static const spate_state_ops_t P##_ops = {                                                        \
                .assign = P##_assign, .assigned = P##_assigned, .revoke = P##_revoke, .flush = P##_flush, \
                .seal = P##_seal, .checkpoint = P##_checkpoint, .standby_apply = P##_apply,               \
                .free = P##_free,                                                                         \
        };

PROVIDER(P)
PROVIDER(Q)

static int own_flush(spate_node_t *n, spate_ctx_t *c) {
        (void)c;
        return note(n, "own", "flush");
}

static int own_checkpoint(spate_node_t *n, spate_ctx_t *c) {
        (void)c;
        return note(n, "own", "checkpoint");
}

static int own_assign(spate_node_t *n, const char *t, int32_t p, spate_ctx_t *c) {
        (void)t, (void)p, (void)c;
        return note(n, "own", "assign");
}

static void own_revoke(spate_node_t *n, const char *t, int32_t p, spate_ctx_t *c) {
        (void)t, (void)p, (void)c;
        note(n, "own", "revoke");
}

static const spate_op_def_t def_a = { .name = "a", .flush = own_flush, .assign = own_assign };
static const spate_op_def_t def_b = { .name = "b", .checkpoint = own_checkpoint, .revoke = own_revoke };

static void check_trail(const char *want, const char *what) {
        CHECK_STR(trail, want, what);
        trail[0] = '\0';
}

int main(void) {
        static int pa, pb, qb;
        spate_node_t a = { .def = &def_a, .name = "a" }, b = { .def = &def_b, .name = "b" };
        spate_node_t *nodes[] = { &a, &b };
        spate_topology_t topo = { .nodes = nodes, .nnodes = 2 };
        spate_ctx_t ctx;
        char err[64];
        memset(&ctx, 0, sizeof(ctx));
        spate_node_add_state(&a, &P_ops, &pa);
        spate_node_add_state(&b, &P_ops, &pb);
        spate_node_add_state(&b, &Q_ops, &qb);
        CHECK(spate_node_state(&b, &P_ops) == &pb && spate_node_state(&b, &Q_ops) == &qb &&
              spate_node_state(&a, &Q_ops) == NULL, "each provider finds its own data, per node");

        for (int i = 0; i < 2; i++)
                CHECK(spate_node_assign(nodes[i], "t", 0, &ctx) == 0 && spate_node_assigned(nodes[i], &ctx) == 0,
                      "assign %s", nodes[i]->name);
        check_trail("a.P.assign a.own.assign a.P.assigned b.P.assign b.Q.assign b.P.assigned b.Q.assigned",
                    "assign: the providers restore before the node's own assign, in the order attached");

        CHECK(spate_commit_phase_run(&topo, SPATE_PHASE_FLUSH, &ctx) == 0 &&
              spate_commit_phase_run(&topo, SPATE_PHASE_SEAL, &ctx) == 0 &&
              spate_commit_phase_run(&topo, SPATE_PHASE_CHECKPOINT, &ctx) == 0, "a commit's phases");
        check_trail("a.own.flush a.P.flush b.P.flush b.Q.flush a.P.seal b.P.seal b.Q.seal "
                    "a.P.checkpoint b.own.checkpoint b.P.checkpoint b.Q.checkpoint",
                    "commit: each phase over every node upstream first, a node's hook before its providers'");

        fail_at = "b.P.flush";
        CHECK(spate_commit_phase_run(&topo, SPATE_PHASE_FLUSH, &ctx) == -1, "a failing provider fails the phase");
        check_trail("a.own.flush a.P.flush b.P.flush", "the first failure stops the phase");
        fail_at = "a.P.assign";
        CHECK(spate_node_assign(&a, "t", 0, &ctx) == -1, "a failing restore fails the assignment");
        check_trail("a.P.assign", "the node's own assign does not run after a failed restore");
        fail_at = NULL;

        CHECK(spate_node_standby_apply(&b, "Q", 0, "k", 1, "v", 1, 0, err, sizeof(err)) == 0 &&
              spate_node_standby_apply(&b, "other", 0, "k", 1, "v", 1, 0, err, sizeof(err)) == 1 &&
              spate_node_standby_apply(&a, "Q", 0, "k", 1, "v", 1, 0, err, sizeof(err)) == 1,
              "standby_apply: the provider whose changelog it is takes it; 1 when none");
        check_trail("b.Q.apply", "standby_apply reaches only Q");
        CHECK(!spate_node_has_standbys(&b), "no provider here keeps standbys");

        for (int i = 0; i < 2; i++)
                spate_node_revoke(nodes[i], "t", 0, &ctx);
        check_trail("a.P.revoke b.own.revoke b.P.revoke b.Q.revoke",
                    "revoke: the node's own revoke before its providers'");

        for (int i = 0; i < 2; i++)
                spate_node_state_free(nodes[i]);
        check_trail("a.P.free b.P.free b.Q.free", "free: every provider, in order");
        CHECK(!b.states && !b.nstates && !spate_node_state(&b, &P_ops), "after free the node has no provider");
        return CHECK_DONE();
}
