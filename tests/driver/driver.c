/* driver.c - the test driver (driver.h): in-memory topics and committed
 * offsets, a fake clock and a RocksDB in a temporary directory behind the
 * spate_ctx_* calls, and the engine's record path and commit order. */
#include "driver.h"
#include "../../engine/commit_phase.h"
#include "../../engine/dlq.h"
#include "../../engine/metrics.h"

#include "../../util/log.h"
#include "../../engine/node_state.h"
#include "../../state/store.h"
#include "../../util/buf.h"
#include "../../util/util.h"

#include <ftw.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct part {
        spate_driver_msg_t *msgs;
        int64_t n, cap;
} part_t;

typedef struct topic {
        char *name;
        part_t *parts;
        int nparts;
} topic_t;

/* What a node keeps with a partition's offset (as the engine's pvals_t). */
typedef struct pval {
        int64_t time, ctime, cut;
} pval_t;

/* A partition the topology reads. The committed part is the broker's: it
 * survives a crash; the rest is the instance's. */
typedef struct task {
        int64_t committed;          /* -1: none */
        int64_t *ctimes, *ccuts;    /* per node, committed with it */
        int assigned;
        int64_t next, first;        /* position; first processed since assignment, -1 */
        int times_changed;
        int64_t commit_at;          /* the offset the commit in progress takes, -1: none */
        pval_t *vals;               /* per node */
} task_t;

typedef struct source {
        spate_node_t *node;         /* of the current topology */
        char *topic;
        int internal, rewind, hold;
        task_t *tasks;
        int ntasks;
} source_t;

typedef struct ack {
        int64_t *acked, offset;     /* acked NULL: produced without */
        int topic;                  /* index in topics */
        int32_t partition;
} ack_t;

struct spate_driver {
        char dir[256], file[1024], state[300];
        spate_topology_t *topo;
        spate_ctx_t ctx;
        topic_t *topics;
        int ntopics;
        source_t *sources;
        int nsources;
        ack_t *acks;                /* every message produced since the last acknowledgements */
        size_t nacks, cap_acks;
        spate_store_t *store;
        int fail_cuts;              /* spate_driver_fail_cut_commits() */
        int commit_asked;           /* spate_ctx_request_commit() since the last commit */
};

static void *xrealloc(void *p, size_t size) {
        if (!(p = realloc(p, size ? size : 1)))
                abort();
        return p;
}

static char *dup_bytes(const void *b, size_t len) {
        char *s = xrealloc(NULL, len + 1);
        if (len)
                memcpy(s, b, len);
        s[len] = '\0';
        return s;
}

/* --- topics --- */

static void free_msg(spate_driver_msg_t *m) {
        free(m->key);
        free(m->value);
        for (int i = 0; i < m->nheaders; i++) {
                free(m->hnames[i]);
                free(m->hvalues[i]);
        }
        free(m->hnames);
        free(m->hvalues);
}


static topic_t *topic_find(const spate_driver_t *d, const char *name) {
        for (int i = 0; i < d->ntopics; i++)
                if (!strcmp(d->topics[i].name, name))
                        return &d->topics[i];
        return NULL;
}

static topic_t *topic_get(spate_driver_t *d, const char *name) {
        topic_t *t = topic_find(d, name);
        if (t)
                return t;
        const spate_topic_decl_t *decl = spate_topology_topic(d->topo, name);
        d->topics = xrealloc(d->topics, sizeof(*d->topics) * (size_t)(d->ntopics + 1));
        t = &d->topics[d->ntopics++];
        *t = (topic_t){ .name = strdup(name) };
        t->nparts = decl && decl->partitions > 0 ? decl->partitions : 1;
        t->parts = xrealloc(NULL, sizeof(*t->parts) * (size_t)t->nparts);
        memset(t->parts, 0, sizeof(*t->parts) * (size_t)t->nparts);
        return t;
}

static part_t *part_get(topic_t *t, int32_t p) {
        if (p >= t->nparts) {
                t->parts = xrealloc(t->parts, sizeof(*t->parts) * (size_t)(p + 1));
                memset(t->parts + t->nparts, 0, sizeof(*t->parts) * (size_t)(p + 1 - t->nparts));
                t->nparts = p + 1;
        }
        return &t->parts[p];
}

/* Appends a copy; partition < 0 is chosen from the key, as a producer's
 * partitioner would. Returns the message; *where (if not NULL) says where. */
static spate_driver_msg_t *append(spate_driver_t *d, const char *topic, int32_t partition, const void *key,
                                  size_t key_len, const void *value, size_t len, int64_t ts, ack_t *where) {
        topic_t *t = topic_get(d, topic);
        if (partition < 0)
                partition = rd_kafka_msg_partitioner_murmur2(NULL, key, key_len, t->nparts, NULL, NULL);
        part_t *p = part_get(t, partition);
        if (where)
                *where = (ack_t){ NULL, p->n, (int)(t - d->topics), partition };
        if (p->n == p->cap) {
                p->cap = p->cap ? 2 * p->cap : 64;
                p->msgs = xrealloc(p->msgs, sizeof(*p->msgs) * (size_t)p->cap);
        }
        spate_driver_msg_t *m = &p->msgs[p->n];
        *m = (spate_driver_msg_t){ .key = key ? dup_bytes(key, key_len) : NULL, .key_len = key_len,
                                   .value = value ? dup_bytes(value, len) : NULL, .len = len,
                                   .ts = ts, .offset = p->n };
        p->n++;
        return m;
}

int64_t spate_driver_pipe(spate_driver_t *d, const char *topic, int32_t partition, const char *key,
                          const char *value, int64_t ts) {
        return append(d, topic, partition, key, key ? strlen(key) : 0, value, value ? strlen(value) : 0,
                      ts, NULL)->offset;
}

int64_t spate_driver_pipe_bytes(spate_driver_t *d, const char *topic, int32_t partition, const void *key,
                                size_t klen, const void *value, size_t vlen, int64_t ts) {
        return append(d, topic, partition, key, klen, value, vlen, ts, NULL)->offset;
}

/* --- sources and tasks --- */

static source_t *source_for(const spate_driver_t *d, const char *topic) {
        for (int i = 0; i < d->nsources; i++)
                if (!strcmp(d->sources[i].topic, topic))
                        return &d->sources[i];
        return NULL;
}

static task_t *task_for(spate_driver_t *d, source_t *s, int32_t p) {
        int nn = d->topo->nnodes;
        while (p >= s->ntasks) {
                s->tasks = xrealloc(s->tasks, sizeof(*s->tasks) * (size_t)(s->ntasks + 1));
                task_t *t = &s->tasks[s->ntasks++];
                *t = (task_t){ .committed = -1, .first = -1,
                               .ctimes = xrealloc(NULL, sizeof(int64_t) * (size_t)nn),
                               .ccuts = xrealloc(NULL, sizeof(int64_t) * (size_t)nn),
                               .vals = xrealloc(NULL, sizeof(pval_t) * (size_t)nn) };
                for (int i = 0; i < nn; i++) {
                        t->ctimes[i] = INT64_MIN;
                        t->ccuts[i] = -1;
                }
        }
        return &s->tasks[p];
}

static void add_source(spate_driver_t *d, spate_node_t *n, const char *topic, int internal) {
        source_t *s = source_for(d, topic);
        if (!s) {
                d->sources = xrealloc(d->sources, sizeof(*d->sources) * (size_t)(d->nsources + 1));
                s = &d->sources[d->nsources++];
                *s = (source_t){ .topic = strdup(topic) };
        }
        s->node = n;
        s->internal = internal;
        s->rewind = !internal && n->def->rewind;
}

/* (Re)binds the sources to the nodes of the topology just loaded. */
static void bind_sources(spate_driver_t *d) {
        for (int i = 0; i < d->topo->nnodes; i++) {
                spate_node_t *n = d->topo->nodes[i];
                if (n->def->role == SPATE_ROLE_SOURCE && !n->reads_itself)
                        add_source(d, n, spate_node_str(n, "topic"), 0);
        }
        for (int i = 0; i < d->topo->ninputs; i++)
                add_source(d, d->topo->inputs[i].node, d->topo->inputs[i].topic, 1);
}

/* --- the engine-side calls (ctx->ops) --- */

static spate_driver_t *drv(spate_ctx_t *ctx) {
        return ctx->driver;
}

/* Appends a message the nodes produced: the broker has it (unless
 * spate_driver_lose_unacked()), the node learns so at the commit's
 * acknowledgements. */
static spate_driver_msg_t *produced(spate_driver_t *d, const char *topic, int32_t partition, const void *key,
                                    size_t key_len, const void *value, size_t len, int64_t ts,
                                    int64_t *acked) {
        if (d->nacks == d->cap_acks) {
                d->cap_acks = d->cap_acks ? 2 * d->cap_acks : 256;
                d->acks = xrealloc(d->acks, sizeof(*d->acks) * d->cap_acks);
        }
        ack_t *a = &d->acks[d->nacks++];
        spate_driver_msg_t *m = append(d, topic, partition, key, key_len, value, len, ts > 0 ? ts : d->ctx.now_ms, a);
        a->acked = acked;
        return m;
}

static int op_produce(spate_ctx_t *ctx, const char *topic, int32_t partition, const void *key, size_t key_len,
                      const void *value, size_t len, int64_t ts, int64_t *acked) {
        produced(drv(ctx), topic, partition, key, key_len, value, len, ts, acked);
        ctx->produced++;
        return 0;
}

/* The engine's dead letter (engine/dlq.c: origin headers, spate.branch, a cut
 * to the size limit - none here), kept with its headers as the driver's own. */
static void op_dead_letter(spate_ctx_t *ctx, const spate_origin_t *o) {
        spate_driver_t *d = drv(ctx);
        spate_dlq_letter_t l = { .reason = ctx->errstr, .node = ctx->failed ? ctx->failed->name : "?",
                                 .branch = ctx->branch ? ctx->branch->name : NULL,
                                 .application = d->topo->application, .origin = o };
        rd_kafka_headers_t *h = spate_dlq_letter_build(&l, SIZE_MAX / 2);
        spate_driver_msg_t *m = produced(d, d->topo->dlq_topic, 0, l.key, l.key_len, l.value, l.len, 0, NULL);
        const char *name;
        const void *val;
        size_t vlen;
        m->nheaders = (int)rd_kafka_header_cnt(h);
        m->hnames = xrealloc(NULL, sizeof(char *) * (size_t)m->nheaders);
        m->hvalues = xrealloc(NULL, sizeof(char *) * (size_t)m->nheaders);
        for (int i = 0; i < m->nheaders && !rd_kafka_header_get_all(h, (size_t)i, &name, &val, &vlen); i++) {
                m->hnames[i] = strdup(name);
                m->hvalues[i] = strndup(val, vlen);
        }
        rd_kafka_headers_destroy(h);
        ctx->dlq++;
}

static pval_t *ctx_val(spate_ctx_t *ctx, const spate_node_t *n, const char *topic, int32_t partition,
                       task_t **taskp) {
        spate_driver_t *d = drv(ctx);
        source_t *s = source_for(d, topic);
        if (!s || partition < 0)
                return NULL;
        *taskp = task_for(d, s, partition);
        return &(*taskp)->vals[n->index];
}

static int64_t op_partition_val(spate_ctx_t *ctx, const spate_node_t *n, const char *topic, int32_t partition,
                                int cut) {
        task_t *t;
        pval_t *v = ctx_val(ctx, n, topic, partition, &t);
        return cut ? (v ? v->cut : -1) : (v ? v->time : INT64_MIN);
}

static void op_set_partition_val(spate_ctx_t *ctx, const spate_node_t *n, const char *topic, int32_t partition,
                                 int cut, int64_t val) {
        task_t *t;
        pval_t *v = ctx_val(ctx, n, topic, partition, &t);
        if (v && cut) {
                v->cut = val;
        } else if (v) {
                t->times_changed |= v->time != val;
                v->time = val;
        }
}

/* Commits offset with the node values: the current times, or (intent) the
 * committed ones. A cut at or below the offset is history (as the engine's
 * offset metadata leaves it out). */
static void commit_task(spate_driver_t *d, task_t *t, int64_t offset, int intent) {
        t->committed = offset;
        for (int i = 0; i < d->topo->nnodes; i++) {
                t->ctimes[i] = intent ? t->vals[i].ctime : t->vals[i].time;
                t->ccuts[i] = t->vals[i].cut > offset ? t->vals[i].cut : -1;
        }
}

static int op_commit_cuts(spate_ctx_t *ctx) {
        spate_driver_t *d = drv(ctx);
        if (d->fail_cuts > 0) {
                d->fail_cuts--;
                snprintf(ctx->errstr, sizeof(ctx->errstr), "committing batch cuts: rebalance in progress "
                         "(test driver)");
                return -1;
        }
        for (int i = 0; i < d->nsources; i++)
                for (int p = 0; p < d->sources[i].ntasks; p++) {
                        task_t *t = &d->sources[i].tasks[p];
                        int64_t base = t->committed >= 0 ? t->committed : t->first;
                        int pending = 0;
                        for (int k = 0; k < d->topo->nnodes; k++)
                                pending |= t->vals[k].cut > base;
                        if (t->assigned && base >= 0 && pending)
                                commit_task(d, t, base, 1);
                }
        return 0;
}

static void op_hold_offsets(spate_ctx_t *ctx, const char *topic) {
        source_t *s = source_for(drv(ctx), topic);
        if (s)
                s->hold = 1;
}

/* The test commits when it chooses: spate_driver_commit_asked() says. */
static void op_request_commit(spate_ctx_t *ctx) {
        drv(ctx)->commit_asked = 1;
}

static int op_stopping(spate_ctx_t *ctx) {
        (void)ctx;  /* nothing stops a driven topology but the test */
        return 0;
}

/* Messages are acknowledged by spate_driver_commit(), as the test chooses. */
static int op_wait_acks(spate_ctx_t *ctx) {
        (void)ctx;
        return 0;
}

static int op_caught_up(spate_ctx_t *ctx, const char *topic, int32_t partition) {
        spate_driver_t *d = drv(ctx);
        source_t *s = source_for(d, topic);
        if (!s)
                return 1;
        return task_for(d, s, partition)->next >= spate_driver_count(d, topic, partition);
}

/* As the engine's: the state must not reflect more of the topic than it holds. */
static int op_check_resume(spate_ctx_t *ctx, const spate_node_t *n, const char *topic, int32_t partition,
                           int64_t offset) {
        int64_t end = spate_driver_count(drv(ctx), topic, partition);
        if (offset <= end)
                return 0;
        snprintf(ctx->errstr, sizeof(ctx->errstr), "the state of '%s' reflects %s[%d] up to offset %lld, "
                 "but the partition ends at %lld", n->name, topic, partition, (long long)offset, (long long)end);
        return -1;
}

static int64_t op_replay(spate_ctx_t *ctx, const char *topic, int32_t partition, int64_t from,
                         spate_replay_cb cb, void *opaque) {
        spate_driver_t *d = drv(ctx);
        int64_t end = spate_driver_count(d, topic, partition), next = from < 0 ? 0 : from;
        for (; next < end; next++) {
                const spate_driver_msg_t *m = spate_driver_msg(d, topic, partition, next);
                if (!m->compacted && cb(opaque, m->key, m->key_len, m->value, m->len, m->offset))
                        return -1;
        }
        return next;
}

static int op_partitions(spate_ctx_t *ctx, const char *topic) {
        return spate_driver_partitions(drv(ctx), topic);
}

static struct spate_store *op_store(spate_ctx_t *ctx) {
        spate_driver_t *d = drv(ctx);
        if (!d->store && spate_store_open(d->state, spate_topology_store_mb(d->topo), &d->store, ctx->errstr,
                                          sizeof(ctx->errstr)))
                d->store = NULL;
        return d->store;
}

static const spate_ctx_ops_t driver_ops = {
        .produce = op_produce,
        .dead_letter = op_dead_letter,
        .partition_val = op_partition_val,
        .set_partition_val = op_set_partition_val,
        .commit_cuts = op_commit_cuts,
        .hold_offsets = op_hold_offsets,
        .request_commit = op_request_commit,
        .caught_up = op_caught_up,
        .replay = op_replay,
        .store = op_store,
        .check_resume = op_check_resume,
        .stopping = op_stopping,
        .wait_acks = op_wait_acks,
        .partitions = op_partitions,
};

/* --- life cycle --- */

static int load(spate_driver_t *d, char *errstr, size_t errstr_size) {
        if (!(d->topo = spate_topology_load(d->file, errstr, errstr_size)))
                return -1;
        d->topo->state_dir = d->dir;
        bind_sources(d);
        return 0;
}

/* A driver whose topology file is d->file and state under d->dir. */
static spate_driver_t *start(spate_driver_t *d, int64_t now_ms, char *errstr, size_t errstr_size) {
        d->ctx.ops = &driver_ops;
        d->ctx.driver = d;
        d->ctx.now_ms = now_ms;
        if (load(d, errstr, errstr_size)) {
                spate_driver_destroy(d);
                return NULL;
        }
        snprintf(d->state, sizeof(d->state), "%s/%s", d->dir, d->topo->application);
        if (spate_driver_assign(d)) {
                snprintf(errstr, errstr_size, "%s", d->ctx.errstr);
                spate_driver_destroy(d);
                return NULL;
        }
        return d;
}

static spate_driver_t *alloc_driver(char *errstr, size_t errstr_size) {
        spate_driver_t *d = calloc(1, sizeof(*d));
        const char *tmp = getenv("TMPDIR");
        if (!d) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        spate_arena_init(&d->ctx.arena);
        snprintf(d->dir, sizeof(d->dir), "%s/spate-driver-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(d->dir)) {
                snprintf(errstr, errstr_size, "mkdtemp %s failed", d->dir);
                d->dir[0] = '\0';
                spate_driver_destroy(d);
                return NULL;
        }
        return d;
}

spate_driver_t *spate_driver_new(const char *yaml, int64_t now_ms, char *errstr, size_t errstr_size) {
        spate_driver_t *d = alloc_driver(errstr, errstr_size);
        FILE *fp;
        if (!d)
                return NULL;
        snprintf(d->file, sizeof(d->file), "%s/topology.yaml", d->dir);
        int bad = !(fp = fopen(d->file, "w")) || fputs(yaml, fp) < 0;
        if (fp && fclose(fp))
                bad = 1;
        if (bad) {
                snprintf(errstr, errstr_size, "cannot write %s", d->file);
                spate_driver_destroy(d);
                return NULL;
        }
        return start(d, now_ms, errstr, errstr_size);
}

spate_driver_t *spate_driver_new_or_bail(const char *yaml, int64_t now_ms) {
        char err[1024];
        spate_driver_t *d = spate_driver_new(yaml, now_ms, err, sizeof(err));
        if (!d) {
                printf("Bail out! driver: %s\n", err);
                exit(1);
        }
        return d;
}

spate_driver_t *spate_driver_open(const char *path, int64_t now_ms, char *errstr, size_t errstr_size) {
        spate_driver_t *d = alloc_driver(errstr, errstr_size);
        if (!d)
                return NULL;
        snprintf(d->file, sizeof(d->file), "%s", path);
        return start(d, now_ms, errstr, errstr_size);
}

int spate_driver_assign(spate_driver_t *d) {
        for (int i = 0; i < d->nsources; i++) {
                source_t *s = &d->sources[i];
                int n = spate_driver_partitions(d, s->topic);
                for (int p = 0; p < n; p++) {
                        task_t *t = task_for(d, s, p);
                        t->assigned = 1;
                        t->times_changed = 0;
                        t->first = -1;
                        t->next = s->rewind || t->committed < 0 ? 0 : t->committed;
                        for (int k = 0; k < d->topo->nnodes; k++)
                                t->vals[k] = (pval_t){ t->ctimes[k], t->ctimes[k], t->ccuts[k] };
                }
        }
        for (int i = 0; i < d->topo->nnodes; i++) {
                spate_node_t *n = d->topo->nodes[i];
                for (int k = 0; k < d->nsources; k++)
                        for (int p = 0; p < d->sources[k].ntasks; p++)
                                if (spate_node_assign(n, d->sources[k].topic, p, &d->ctx))
                                        return -1;
                if (spate_node_assigned(n, &d->ctx))
                        return -1;
        }
        return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(path);
}

static void rm_tree(const char *dir) {
        if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS))
                spate_warn("test driver: cannot remove %s", dir);
}

static void close_instance(spate_driver_t *d) {
        if (d->topo)
                spate_topology_destroy(d->topo);
        d->topo = NULL;
        if (d->store)
                spate_store_close(d->store);
        d->store = NULL;
        d->nacks = 0;   /* deliveries in flight: the dead process never learns of them */
}

void spate_driver_destroy(spate_driver_t *d) {
        if (!d)
                return;
        close_instance(d);
        for (int i = 0; i < d->ntopics; i++) {
                for (int p = 0; p < d->topics[i].nparts; p++) {
                        for (int64_t k = 0; k < d->topics[i].parts[p].n; k++)
                                free_msg(&d->topics[i].parts[p].msgs[k]);
                        free(d->topics[i].parts[p].msgs);
                }
                free(d->topics[i].parts);
                free(d->topics[i].name);
        }
        free(d->topics);
        for (int i = 0; i < d->nsources; i++) {
                for (int p = 0; p < d->sources[i].ntasks; p++) {
                        free(d->sources[i].tasks[p].ctimes);
                        free(d->sources[i].tasks[p].ccuts);
                        free(d->sources[i].tasks[p].vals);
                }
                free(d->sources[i].tasks);
                free(d->sources[i].topic);
        }
        free(d->sources);
        free(d->acks);
        spate_arena_destroy(&d->ctx.arena);
        if (d->dir[0])
                rm_tree(d->dir);
        free(d);
}

int spate_driver_crash(spate_driver_t *d, int keep_state, char *errstr, size_t errstr_size) {
        close_instance(d);
        if (!keep_state && spate_store_destroy_dir(d->state, errstr, errstr_size))
                return -1;
        for (int i = 0; i < d->nsources; i++)
                for (int p = 0; p < d->sources[i].ntasks; p++)
                        d->sources[i].tasks[p].assigned = 0;
        d->ctx.end_of_input = 0;
        return load(d, errstr, errstr_size);
}

void spate_driver_fail_cut_commits(spate_driver_t *d, int n) {
        d->fail_cuts = n;
}

/* --- running --- */

/* The engine's process_message(): one message through its node; a failed
 * record goes to the DLQ. */
static void process_one(spate_driver_t *d, source_t *s, int32_t p, task_t *t) {
        const spate_driver_msg_t *m = spate_driver_msg(d, s->topic, p, t->next);
        spate_origin_t o = { s->topic, p, m->offset, m->value, m->len, m->key, m->key_len, -1, -1, 0 };
        spate_record_t rec = { .key = m->key, .key_len = m->key_len, .ts = m->ts, .origin = &o };
        spate_arena_reset(&d->ctx.arena);
        d->ctx.failed = NULL;
        d->ctx.origin = &o;
        int (*handle)(spate_node_t *, spate_record_t *, spate_ctx_t *) =
                s->internal ? s->node->def->input : s->node->def->process;
        if (handle(s->node, &rec, &d->ctx))
                op_dead_letter(&d->ctx, rec.origin);  /* as the node left it (engine.c) */
        t->next = m->offset + 1;
        if (t->first < 0)
                t->first = m->offset;
}

int64_t spate_driver_process_max(spate_driver_t *d, int64_t max) {
        int64_t done = 0;
        /* as the engine's loop does for each batch: records within
         * max_future of this reading pass without a clock read each */
        d->ctx.wall_floor_ms = spate_now_ms();
        for (int i = 0; i < d->nsources; i++) {
                source_t *s = &d->sources[i];
                for (int p = 0; p < s->ntasks; p++) {
                        task_t *t = &s->tasks[p];
                        while (done < max && t->assigned && t->next < spate_driver_count(d, s->topic, p)) {
                                process_one(d, s, p, t);
                                done++;
                        }
                }
        }
        return done;
}

int64_t spate_driver_process(spate_driver_t *d) {
        return spate_driver_process_max(d, INT64_MAX);
}

int spate_driver_commit_asked(const spate_driver_t *d) {
        return d->commit_asked;
}

int spate_driver_punctuate(spate_driver_t *d) {
        for (int i = 0; i < d->topo->nnodes; i++) {
                spate_node_t *n = d->topo->nodes[i];
                if (n->def->punctuate && n->def->punctuate(n, &d->ctx))
                        return -1;
        }
        return 0;
}

void spate_driver_advance(spate_driver_t *d, int64_t ms) {
        d->ctx.now_ms += ms;
        if (spate_driver_punctuate(d))
                spate_warn("test driver: punctuate: %s", d->ctx.errstr);
}

static void deliver_acks(spate_driver_t *d) {
        for (size_t i = 0; i < d->nacks; i++)
                if (d->acks[i].acked && d->acks[i].offset + 1 > *d->acks[i].acked)
                        *d->acks[i].acked = d->acks[i].offset + 1;
        d->nacks = 0;
}

size_t spate_driver_unacked(const spate_driver_t *d) {
        return d->nacks;
}

void spate_driver_compact(spate_driver_t *d, const char *topic) {
        topic_t *t = topic_get(d, topic);
        for (int p = 0; p < t->nparts; p++)
                for (int64_t i = 0; i < t->parts[p].n; i++) {
                        spate_driver_msg_t *m = &t->parts[p].msgs[i];
                        for (int64_t j = i + 1; j < t->parts[p].n && !m->compacted; j++) {
                                const spate_driver_msg_t *later = &t->parts[p].msgs[j];
                                m->compacted = m->key && later->key && later->key_len == m->key_len &&
                                               !memcmp(later->key, m->key, m->key_len);
                        }
                }
}

/* Later messages of a partition are produced later: the lost ones are the
 * last of each partition. */
void spate_driver_lose_unacked(spate_driver_t *d, size_t keep) {
        while (d->nacks > keep) {
                const ack_t *a = &d->acks[--d->nacks];
                part_t *p = &d->topics[a->topic].parts[a->partition];
                free_msg(&p->msgs[--p->n]);
        }
}

const char *spate_driver_stage_name(spate_driver_stage_t s) {
        static const char *const names[] = { "after flush", "after acks", "after seal", "after checkpoint",
                                             "whole commit" };
        return s >= SPATE_DRIVER_AFTER_FLUSH && s <= SPATE_DRIVER_COMMIT_ALL ? names[s] : "?";
}

int spate_driver_commit(spate_driver_t *d, spate_driver_stage_t until) {
        spate_topology_t *topo = d->topo;
        if (spate_commit_phase_run(topo, SPATE_PHASE_FLUSH, &d->ctx))
                return -1;
        /* The offsets (and times) the commit takes are those of the flush. */
        for (int i = 0; i < d->nsources; i++) {
                source_t *s = &d->sources[i];
                for (int p = 0; p < s->ntasks; p++) {
                        task_t *t = &s->tasks[p];
                        int take = !s->rewind && !s->hold && t->assigned && t->first >= 0 &&
                                   (t->next > t->committed || t->times_changed);
                        t->commit_at = take ? t->next : -1;
                }
                s->hold = 0;
        }
        if (until == SPATE_DRIVER_AFTER_FLUSH)
                return 0;
        deliver_acks(d);
        if (until == SPATE_DRIVER_AFTER_ACKS)
                return 0;
        if (spate_commit_phase_run(topo, SPATE_PHASE_SEAL, &d->ctx))
                return -1;
        deliver_acks(d);
        if (until == SPATE_DRIVER_AFTER_SEAL)
                return 0;
        if (spate_commit_phase_run(topo, SPATE_PHASE_CHECKPOINT, &d->ctx))
                return -1;
        if (until == SPATE_DRIVER_AFTER_CHECKPOINT)
                return 0;
        for (int i = 0; i < d->nsources; i++)
                for (int p = 0; p < d->sources[i].ntasks; p++) {
                        task_t *t = &d->sources[i].tasks[p];
                        if (t->commit_at < 0)
                                continue;
                        commit_task(d, t, t->commit_at, 0);
                        t->times_changed = 0;
                        for (int k = 0; k < topo->nnodes; k++)
                                t->vals[k].ctime = t->vals[k].time;
                }
        d->commit_asked = 0;  /* as the engine: requests until its end are served */
        return 0;
}

static int drained(spate_driver_t *d) {
        for (int i = 0; i < d->topo->nnodes; i++) {
                spate_node_t *n = d->topo->nodes[i];
                if (n->def->drained && !n->def->drained(n, &d->ctx))
                        return 0;
        }
        return 1;
}

/* As the engine's run loop under --end-of-input: punctuate and commit
 * until the nodes are drained, then the last commit. */
int spate_driver_end_of_input(spate_driver_t *d, int rounds) {
        d->ctx.end_of_input = 1;
        for (int r = 0; r < rounds; r++) {
                spate_driver_process(d);
                if (drained(d))
                        return spate_driver_commit(d, SPATE_DRIVER_COMMIT_ALL);
                if (spate_driver_punctuate(d) || spate_driver_commit(d, SPATE_DRIVER_COMMIT_ALL))
                        return -1;
        }
        return -1;
}

/* --- inspection --- */

spate_ctx_t *spate_driver_ctx(spate_driver_t *d) {
        return &d->ctx;
}

spate_topology_t *spate_driver_topology(spate_driver_t *d) {
        return d->topo;
}

struct spate_store *spate_driver_store(spate_driver_t *d) {
        return op_store(&d->ctx);
}

int spate_driver_partitions(const spate_driver_t *d, const char *topic) {
        const topic_t *t = topic_find(d, topic);
        const spate_topic_decl_t *decl = spate_topology_topic(d->topo, topic);
        int n = decl && decl->partitions > 0 ? decl->partitions : 1;
        return t && t->nparts > n ? t->nparts : n;
}

int64_t spate_driver_count(const spate_driver_t *d, const char *topic, int32_t partition) {
        const topic_t *t = topic_find(d, topic);
        return t && partition >= 0 && partition < t->nparts ? t->parts[partition].n : 0;
}

int64_t spate_driver_count_all(const spate_driver_t *d, const char *topic) {
        int64_t n = 0;
        for (int p = 0; p < spate_driver_partitions(d, topic); p++)
                n += spate_driver_count(d, topic, p);
        return n;
}

const spate_driver_msg_t *spate_driver_msg(const spate_driver_t *d, const char *topic, int32_t partition,
                                           int64_t offset) {
        const topic_t *t = topic_find(d, topic);
        if (!t || partition < 0 || partition >= t->nparts || offset < 0 || offset >= t->parts[partition].n)
                return NULL;
        return &t->parts[partition].msgs[offset];
}

const spate_driver_msg_t *spate_driver_latest(const spate_driver_t *d, const char *topic, const char *key) {
        const topic_t *t = topic_find(d, topic);
        size_t klen = strlen(key);
        for (int p = 0; t && p < t->nparts; p++)
                for (int64_t i = t->parts[p].n - 1; i >= 0; i--) {
                        const spate_driver_msg_t *m = &t->parts[p].msgs[i];
                        if (m->key && m->key_len == klen && !memcmp(m->key, key, klen))
                                return m;
                }
        return NULL;
}

const char *spate_driver_header(const spate_driver_msg_t *m, const char *name) {
        for (int i = 0; i < m->nheaders; i++)
                if (!strcmp(m->hnames[i], name))
                        return m->hvalues[i];
        return NULL;
}

static const task_t *committed_task(const spate_driver_t *d, const char *topic, int32_t p) {
        const source_t *s = source_for(d, topic);
        return s && p >= 0 && p < s->ntasks ? &s->tasks[p] : NULL;
}

static int node_index(const spate_driver_t *d, const char *node) {
        for (int i = 0; i < d->topo->nnodes; i++)
                if (!strcmp(d->topo->nodes[i]->name, node))
                        return i;
        return -1;
}

int64_t spate_driver_committed(const spate_driver_t *d, const char *topic, int32_t partition) {
        const task_t *t = committed_task(d, topic, partition);
        return t ? t->committed : -1;
}

int64_t spate_driver_committed_time(const spate_driver_t *d, const char *node, const char *topic,
                                    int32_t partition) {
        const task_t *t = committed_task(d, topic, partition);
        int i = node_index(d, node);
        return t && i >= 0 ? t->ctimes[i] : INT64_MIN;
}

int64_t spate_driver_committed_cut(const spate_driver_t *d, const char *node, const char *topic,
                                   int32_t partition) {
        const task_t *t = committed_task(d, topic, partition);
        int i = node_index(d, node);
        return t && i >= 0 ? t->ccuts[i] : -1;
}

double spate_driver_metric(const char *series) {
        spate_buf_t b = { 0 };
        double v = -1;
        spate_metrics_render(spate_metrics_default(), &b);
        spate_buf_putc(&b, '\0');
        const char *p = strstr(b.data, series);
        if (p)
                v = strtod(p + strlen(series), NULL);
        spate_buf_free(&b);
        return v;
}
