/* repartition.c - the internal `repartition` node: the upstream half the
 * loader puts before a node that keeps state by a key of its own (dedupe
 * with `repartition: true`), as Kafka Streams puts a repartition topic
 * before an aggregation by a new key. It writes each record to the topic
 * <application>-<node>-repartition, in the partition of the value of its
 * node's `key:`, and subscribes its node to that topic: every record of a
 * key reaches one task of the node, whichever source partition it came in.
 *
 * A message is the record as a kafka_sink writes it - its key, its value as
 * JSON (values never looked into pass as they came) - with the record's
 * time as the Kafka timestamp, so the node reads back the record it would
 * have been given; the value is preceded by where the record came from
 * (HEAD bytes: a version, its source partition, offset and sequence number
 * among the records made from that offset), which the node's records then
 * carry as their origin's up_partition, up_offset and up_seq: within a
 * partition of the topic each source partition's records come in their
 * source order, so the node can keep per source partition what it applied
 * and how far that partition's event time got.
 *
 * A source partition that is at its end with nothing written since its
 * assignment is named, at a commit, in a mark sent to every partition of
 * the topic (MARK, its count, the partitions): a node that waits for every
 * source partition's time before it expires state (dedupe) need not wait
 * for one that has none to send. With an idle time set by the node
 * (spate_repartition_idle()), one at its end with no record written for
 * that long of wall clock is named in an IDLE mark, once until it writes
 * again.
 *
 * Exactness: the engine has every message acknowledged before it commits
 * the source offsets they come from, so none is lost; a crash between the
 * two writes some again, with source offsets the node has applied already
 * (dedupe skips them by the offsets it keeps per source partition). Its
 * stores filter replays of the topic itself by the topic's offsets
 * (state/kv.h). */
#include "repartition.h"
#include "../engine/ctx.h"
#include "../engine/topology.h"
#include "../serde/serde.h"
#include "../util/buf.h"
#include "../util/mem.h"
#include "../util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first byte of a message: what it is. */
#define RECORD 1
#define MARK 2
#define IDLE 3
#define HEAD (1 + 8 + 8 + 8)
#define MARK_HEAD (1 + 8)

/* Per source partition, since its assignment. */
#define ASSIGNED 1
#define WROTE 2                    /* a record */
#define MARKED 4                   /* empty, in a mark */
#define FRESH 8                    /* a record since the last commit */
#define IDLE_SENT 16               /* quiet, in an IDLE mark since its last record */

typedef struct rpart {
        spate_expr_t *key;         /* its node's `key:` */
        spate_serde_t *json;
        spate_json_hints_t hints;  /* the reading side's key order */
        spate_buf_t buf;
        char *topic;
        int partitions;
        /* Per source partition: the offset of the last record written, -1
         * since its assignment (a replay starts there again), and how many
         * records of that offset came before. */
        int64_t *last;
        int32_t *seq;
        const char *source_topic;
        unsigned char *state;      /* per source partition: ASSIGNED, WROTE, ... */
        int64_t *quiet_since;      /* per source partition: wall clock of the commit after its last
                                      record, or of its assignment */
        int64_t idle_ms;           /* 0: no IDLE marks */
        int32_t *marked;           /* a mark read last: its source partitions */
        spate_origin_t origin;     /* of the record read last: the message after HEAD */
} rpart_t;

int spate_repartition_splits(const spate_yaml_t *conf) {
        const spate_yaml_t *y = spate_yaml_get(conf, "repartition");
        return y && y->kind == SPATE_YAML_SCALAR && !strcmp(y->value, "true");
}

/* The partition count of the source the records come from: the topic gets
 * as many, so that it spreads over the same instances. Each record must
 * have its own source offset (what the node's replay filter rests on). */
static int source_partitions(spate_node_t *rn, char *errstr, size_t errstr_size) {
        rpart_t *r = rn->ctx;
        spate_node_t *stop, *src = spate_node_origin_source(rn, &stop);
        if (stop)
                return spate_node_error(rn, NULL, errstr, errstr_size, "repartition: true needs the records "
                                        "of a source, not the outputs of %s '%s' (they come from its commits "
                                        "or a topic of its own, not from input offsets)", stop->def->name,
                                        stop->name);
        if (!src->def->replayable)  /* src: the loader put rn after a node */
                return spate_node_error(rn, NULL, errstr, errstr_size, "repartition: true needs records "
                                        "of a source whose offsets replay, such as kafka_source, not of "
                                        "%s '%s'", src->def->name, src->name);
        r->source_topic = spate_node_str(src, "topic");
        return (int)spate_node_int(src, "partitions");
}

static int rp_init(spate_node_t *rn, char *errstr, size_t errstr_size) {
        rpart_t *r = rn->ctx;
        spate_node_t *n = rn->split_of;
        char name[512], err[512];
        rn->out = rn->in;
        if ((r->partitions = source_partitions(rn, errstr, errstr_size)) < 0)
                return -1;
        if (!(r->key = spate_node_expr_typed(rn, "key", rn->in, SPATE_KEY_TYPES, "a string, number or bool",
                                             errstr, errstr_size)))
                return -1;
        if (!(r->json = spate_serde_new(rn->topo, "json", NULL, err, sizeof(err))) ||
            spate_serde_bind(r->json, spate_node_shapes(rn), rn->in, err, sizeof(err)))
                return spate_node_error(rn, NULL, errstr, errstr_size, "%s", err);
        spate_shape_want_raw(rn->in);
        snprintf(name, sizeof(name), "%s-%s-repartition", rn->topo->application, n->name);
        r->topic = spate_xstrdup(name);
        r->last = spate_xmalloc(sizeof(*r->last) * (size_t)r->partitions);
        r->seq = spate_xcalloc((size_t)r->partitions, sizeof(*r->seq));
        r->state = spate_xcalloc((size_t)r->partitions, 1);
        r->quiet_since = spate_xcalloc((size_t)r->partitions, sizeof(*r->quiet_since));
        r->marked = spate_xmalloc(sizeof(*r->marked) * (size_t)r->partitions);
        for (int p = 0; p < r->partitions; p++)
                r->last[p] = -1;
        spate_topology_declare_topic(rn->topo, n, name, r->partitions, 0, SPATE_TOPIC_INTERNAL);
        spate_topology_add_input(rn->topo, n, name);
        return 0;
}

static int64_t now_ms(const spate_ctx_t *ctx) {
        return ctx->now_ms ? ctx->now_ms : spate_now_ms();
}

/* A replay of p starts at its committed offset, maybe the last one written:
 * its records count from 0 again. (Any topic's p: a rebalance falls
 * between source messages, so a reset never splits one's records.) A
 * source partition starts a quiet spell. */
static int rp_assign(spate_node_t *rn, const char *topic, int32_t p, spate_ctx_t *ctx) {
        rpart_t *r = rn->ctx;
        if (p < 0 || p >= r->partitions)
                return 0;
        r->last[p] = -1;
        if (!strcmp(topic, r->source_topic)) {
                r->state[p] = ASSIGNED;
                r->quiet_since[p] = now_ms(ctx);
        }
        return 0;
}

void spate_repartition_idle(spate_node_t *n, int64_t idle_ms) {
        rpart_t *r = n->from->ctx;
        r->idle_ms = idle_ms;
}

static void rp_revoke(spate_node_t *rn, const char *topic, int32_t p, spate_ctx_t *ctx) {
        rpart_t *r = rn->ctx;
        (void)ctx;
        if (p >= 0 && p < r->partitions && !strcmp(topic, r->source_topic))
                r->state[p] = 0;
}

/* Whether source partition p goes in a mark of this kind now. */
static int marks(rpart_t *r, int kind, int32_t p, int64_t now, spate_ctx_t *ctx) {
        unsigned st = r->state[p];
        if (!(st & ASSIGNED) || !spate_ctx_caught_up(ctx, r->source_topic, p))
                return 0;
        if (kind == MARK)
                return st == ASSIGNED;
        return r->idle_ms && !(st & IDLE_SENT) && now - r->quiet_since[p] >= r->idle_ms;
}

/* A mark of kind (MARK, IDLE) naming the source partitions marks() picks,
 * to every partition of the topic. */
static int send_mark(rpart_t *r, int kind, int64_t now, spate_ctx_t *ctx) {
        unsigned char head[MARK_HEAD] = { (unsigned char)kind }, be[8];
        int64_t n = 0;
        spate_buf_set(&r->buf, head, MARK_HEAD);
        for (int32_t p = 0; p < r->partitions; p++)
                if (marks(r, kind, p, now, ctx)) {
                        spate_put_be64(be, p);
                        spate_buf_put(&r->buf, be, 8);
                        r->state[p] |= kind == MARK ? MARKED : IDLE_SENT;
                        n++;
                }
        if (!n)
                return 0;
        spate_put_be64((unsigned char *)r->buf.data + 1, n);
        for (int32_t d = 0; d < r->partitions; d++)
                if (spate_ctx_produce(ctx, r->topic, d, NULL, 0, r->buf.data, r->buf.len))
                        return -1;  /* ctx->errstr says why */
        return 0;
}

/* At a commit, before the source offsets: the marks, once an assignment
 * for an empty partition, once a quiet spell for an idle one. */
static int rp_flush(spate_node_t *rn, spate_ctx_t *ctx) {
        rpart_t *r = rn->ctx;
        int64_t now = now_ms(ctx);
        for (int32_t p = 0; p < r->partitions; p++)
                if (r->state[p] & FRESH) {
                        r->state[p] &= (unsigned char)~(FRESH | IDLE_SENT);
                        r->quiet_since[p] = now;
                }
        return send_mark(r, MARK, now, ctx) || send_mark(r, IDLE, now, ctx) ? -1 : 0;
}

/* The record's place among those made from its source offset. */
static int32_t seq_of(rpart_t *r, const spate_origin_t *o) {
        if (o->partition < 0 || o->partition >= r->partitions)
                return 0;
        if (r->last[o->partition] == o->offset)
                return ++r->seq[o->partition];
        r->last[o->partition] = o->offset;
        return r->seq[o->partition] = 0;
}

/* Failures are its node's, in the terms of the file (the DLQ's spate.node). */
static int rp_process(spate_node_t *rn, spate_record_t *rec, spate_ctx_t *ctx) {
        rpart_t *r = rn->ctx;
        const spate_node_t *n = rn->split_of;
        spate_value_t v;
        const char *key;
        size_t klen;
        char err[512];
        if (spate_expr_eval(r->key, rec, spate_ctx_arena(ctx), &v, err, sizeof(err)))
                return spate_ctx_fail(ctx, n, "key: %s", err);
        if (spate_value_to_key(&v, spate_ctx_arena(ctx), &key, &klen))
                return spate_ctx_fail(ctx, n, "key '%s' is %s, not a string, number or bool",
                                      spate_expr_text(r->key), spate_vtype_name(v.type));
        /* Kafka timestamps start after 1970: an earlier time would come back
         * as the time of writing. */
        if (rec->ts <= 0)
                return spate_ctx_fail(ctx, n, "record time %lld ms is not after 1970, which the repartition "
                                      "topic's Kafka timestamps cannot carry", (long long)rec->ts);
        if (rec->origin->partition >= 0 && rec->origin->partition < r->partitions)
                r->state[rec->origin->partition] |= WROTE | FRESH;
        unsigned char head[HEAD] = { RECORD };
        spate_put_be64(head + 1, rec->origin->partition);
        spate_put_be64(head + 9, rec->origin->offset);
        spate_put_be64(head + 17, seq_of(r, rec->origin));
        spate_buf_set(&r->buf, head, HEAD);
        if (spate_serde_encode(r->json, rn->in, &rec->value, &r->buf, err, sizeof(err)))
                return spate_ctx_fail(ctx, n, "%s", err);
        int32_t p = (int32_t)(spate_hash(key, klen) % (uint64_t)r->partitions);
        return spate_ctx_produce_at(ctx, r->topic, p, rec->key, rec->key_len, r->buf.data, r->buf.len, rec->ts);
}

/* A mark: its source partitions into r->marked. */
static int read_mark(spate_node_t *n, rpart_t *r, const spate_origin_t *o, spate_ctx_t *ctx,
                     spate_rp_mark_t *mark) {
        const unsigned char *p = o->payload;
        int64_t count = o->len >= MARK_HEAD ? spate_get_be64(p + 1) : -1;
        if (count < 0 || count > r->partitions || o->len != MARK_HEAD + (size_t)count * 8)
                return spate_ctx_fail(ctx, n, "%s: a mark of %zu bytes, not of this version of spate", r->topic,
                                      o->len);
        for (int64_t i = 0; i < count; i++)
                r->marked[i] = (int32_t)spate_get_be64(p + MARK_HEAD + i * 8);
        *mark = (spate_rp_mark_t){ r->marked, (int)count, p[0] == IDLE };
        return 1;
}

int spate_repartition_read(spate_node_t *n, spate_record_t *in, spate_ctx_t *ctx, spate_rp_mark_t *mark) {
        spate_node_t *rn = n->from;
        rpart_t *r = rn->ctx;
        const unsigned char *p = in->origin->payload;
        char err[512];
        if (in->origin->len && (p[0] == MARK || p[0] == IDLE))
                return read_mark(n, r, in->origin, ctx, mark);
        if (in->origin->len < HEAD || p[0] != RECORD)
                return spate_ctx_fail(ctx, n, "%s: not a message of this version of spate (%zu bytes, "
                                      "kind %d)", r->topic, in->origin->len,
                                      in->origin->len ? p[0] : -1);
        r->origin = *in->origin;
        r->origin.payload = p + HEAD;
        r->origin.len -= HEAD;
        r->origin.up_partition = (int32_t)spate_get_be64(p + 1);
        r->origin.up_offset = spate_get_be64(p + 9);
        r->origin.up_seq = (int32_t)spate_get_be64(p + 17);
        in->origin = &r->origin;
        if (spate_serde_decode(r->json, n->in, &r->hints, r->origin.payload, r->origin.len,
                               spate_ctx_arena(ctx), &in->value, err, sizeof(err)))
                return spate_ctx_fail(ctx, n, "%s: %s", r->topic, err);
        return 0;
}

static void rp_destroy(spate_node_t *rn) {
        rpart_t *r = rn->ctx;
        spate_expr_destroy(r->key);
        spate_serde_destroy(r->json);
        spate_buf_free(&r->buf);
        free(r->topic);
        free(r->last);
        free(r->seq);
        free(r->state);
        free(r->quiet_since);
        free(r->marked);
}

const spate_op_def_t spate_op_repartition = {
        .name = "repartition",
        .role = SPATE_ROLE_OPERATOR,
        .doc = "Writes records to the internal topic of the node it precedes, partitioned by that "
               "node's key (internal: `repartition: true` puts one before the node).",
        .ctx_size = sizeof(rpart_t),
        .init = rp_init,
        .process = rp_process,
        .assign = rp_assign,
        .revoke = rp_revoke,
        .flush = rp_flush,
        .destroy = rp_destroy,
        .internal = "repartition",
};
