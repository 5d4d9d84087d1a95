/* join_bench.c - what a join against a 100,000-row global table costs per record,
 * beside map->sink, in one process without Kafka: the same JSON messages go through
 * kafka_source -> kafka_sink, kafka_source -> map -> kafka_sink and kafka_source -> join
 * -> kafka_sink (the sink encodes, the produce call only counts), so the differences are
 * the map's and the join's own costs (key expression, lookup, row decode, wider output).
 * The table is a file table: a topic table fills the same store and is looked up the
 * same way. Keys are uniform over the table plus 5% misses (left join: nulls).
 *
 *   join_bench [records per round] [rounds]    prints ns/record per chain, the minimum
 *                                              of the rounds, and a RESULT line
 */
#include "../engine/ctx.h"
#include "../engine/node_state.h"
#include "../engine/topology.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TABLE_ROWS 100000

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t produced_bytes;

static int count_produce(spate_ctx_t *ctx, const char *topic, int32_t partition, const void *key,
                         size_t key_len, const void *value, size_t len, int64_t ts, int64_t *acked) {
        (void)ctx, (void)topic, (void)partition, (void)key, (void)key_len, (void)value, (void)ts, (void)acked;
        produced_bytes += len;
        return 0;
}

static void no_dead_letter(spate_ctx_t *ctx, const spate_origin_t *o) {
        (void)o;
        fprintf(stderr, "join_bench: a record failed: %s\n", ctx->errstr);
        exit(1);
}

static const spate_ctx_ops_t ops = { .produce = count_produce, .dead_letter = no_dead_letter };

static const char *HEAD = "application: join-bench\nkafka:\n  bootstrap.servers: 127.0.0.1:1\nnodes:\n"
                          "  - name: in\n    type: kafka_source\n    topic: jb.in\n";
static const char *SINK = "  - name: out\n    type: kafka_sink\n    from: %s\n    topic: jb.out\n";

static spate_topology_t *load(const char *dir, const char *name, const char *middle, const char *from) {
        char path[512], err[1024];
        snprintf(path, sizeof(path), "%s/%s.yaml", dir, name);
        FILE *fp = fopen(path, "w");
        if (!fp)
                return NULL;
        fprintf(fp, "%s%s", HEAD, middle);
        fprintf(fp, SINK, from);
        fclose(fp);
        spate_topology_t *t = spate_topology_load(path, err, sizeof(err));
        if (!t)
                fprintf(stderr, "join_bench: %s\n", err);
        return t;
}

/* Seconds for one pass of the messages through topology t's source. */
static double run(spate_topology_t *t, spate_ctx_t *ctx, char **msgs, size_t *lens, int n) {
        spate_node_t *src = NULL;
        for (int i = 0; i < t->nnodes; i++)
                if (!strcmp(t->nodes[i]->name, "in"))
                        src = t->nodes[i];
        double t0 = now();
        for (int i = 0; i < n; i++) {
                spate_origin_t o = { "jb.in", 0, i, msgs[i], lens[i], NULL, 0, -1, -1, 0 };
                spate_record_t rec = { .ts = 1, .origin = &o };
                spate_arena_reset(&ctx->arena);
                ctx->origin = &o;
                if (src->def->process(src, &rec, ctx))
                        no_dead_letter(ctx, &o);
        }
        return now() - t0;
}

int main(int argc, char **argv) {
        int n = argc > 1 ? atoi(argv[1]) : 1000000, rounds = argc > 2 ? atoi(argv[2]) : 3;
        char dir[] = "/tmp/spate-join-bench.XXXXXX", path[600], middle[1024];
        if (n < 1 || rounds < 1 || !mkdtemp(dir))
                return 1;
        snprintf(path, sizeof(path), "%s/stations.jsonl", dir);
        FILE *fp = fopen(path, "w");
        for (int i = 0; fp && i < TABLE_ROWS; i++)
                fprintf(fp, "{\"id\":\"S%06d\",\"name\":\"Station %d\",\"alt\":%d,\"lat\":%.4f}\n", i, i, i % 900,
                        42 + i % 900 / 100.0);
        if (!fp || fclose(fp))
                return 1;
        snprintf(middle, sizeof(middle),
                 "  - name: look\n    type: join\n    from: in\n    table: stations\n    key: st\n"
                 "    fields: {name: name, alt: alt}\n    prefix: station_\n"
                 "  - name: stations\n    type: table\n    file: %s\n    key: id\n", path);
        spate_topology_t *plain = load(dir, "plain", "", "in");
        spate_topology_t *map = load(dir, "map", "  - name: m\n    type: map\n    from: in\n    fields:\n"
                                     "      id: id\n      st: st\n      v: v\n      station_name: st\n"
                                     "      station_alt: v\n", "m");
        spate_topology_t *join = load(dir, "join", middle, "look");
        if (!plain || !map || !join)
                return 1;
        spate_ctx_t ctx = { .ops = &ops, .now_ms = 1 };
        spate_arena_init(&ctx.arena);
        double load0 = now();
        for (int i = 0; i < join->nnodes; i++)
                if (spate_node_assigned(join->nodes[i], &ctx)) {
                        fprintf(stderr, "join_bench: loading the table: %s\n", ctx.errstr);
                        return 1;
                }
        printf("loading the %d-row table (JSON lines): %.0f ms\n", TABLE_ROWS, (now() - load0) * 1e3);
        char **msgs = malloc(sizeof(*msgs) * (size_t)n);
        size_t *lens = malloc(sizeof(*lens) * (size_t)n);
        uint64_t x = 88172645463325252ull;
        for (int i = 0; i < n; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                char buf[128];
                int k = (int)(x % (TABLE_ROWS + TABLE_ROWS / 20));  /* 5% misses */
                lens[i] = (size_t)snprintf(buf, sizeof(buf), "{\"id\":%d,\"st\":\"S%06d\",\"v\":%d.25}", i, k, i % 1000);
                msgs[i] = strdup(buf);
        }
        double best[3] = { 1e300, 1e300, 1e300 };
        spate_topology_t *tops[3] = { plain, map, join };
        for (int r = 0; r < rounds; r++)
                for (int k = 0; k < 3; k++) {
                        double s = run(tops[k], &ctx, msgs, lens, n);
                        if (s < best[k])
                                best[k] = s;
                }
        const char *names[3] = { "source -> sink", "source -> map -> sink", "source -> join -> sink" };
        for (int k = 0; k < 3; k++)
                printf("%-24s %7.1f ns/record (%.0f records/s)\n", names[k], best[k] * 1e9 / n, n / best[k]);
        printf("RESULT join (100k-row table, %d records, best of %d): %.0f ns/record of its own "
               "(goal < 1000), map %.0f ns/record; join->sink / map->sink %.2f\n", n, rounds,
               (best[2] - best[0]) * 1e9 / n, (best[1] - best[0]) * 1e9 / n, best[2] / best[1]);
        for (int i = 0; i < n; i++)
                free(msgs[i]);
        free(msgs);
        free(lens);
        spate_topology_destroy(plain);
        spate_topology_destroy(map);
        spate_topology_destroy(join);
        spate_arena_destroy(&ctx.arena);
        unlink(path);
        for (int k = 0; k < 3; k++) {
                const char *nm[3] = { "plain", "map", "join" };
                snprintf(path, sizeof(path), "%s/%s.yaml", dir, nm[k]);
                unlink(path);
        }
        rmdir(dir);
        return 0;
}
