/* ctx.c - the spate_ctx_* calls of node.h that reach whoever runs the nodes
 * (the engine, or the test driver): one call through ctx->ops each. */
#include "ctx.h"
#include "../util/util.h"

#include <stdio.h>

int spate_ctx_produce(spate_ctx_t *ctx, const char *topic, int32_t partition,
                      const void *key, size_t key_len, const void *value, size_t len) {
        return ctx->ops->produce(ctx, topic, partition, key, key_len, value, len, 0, NULL);
}

int spate_ctx_produce_at(spate_ctx_t *ctx, const char *topic, int32_t partition, const void *key,
                         size_t key_len, const void *value, size_t len, int64_t ts) {
        return ctx->ops->produce(ctx, topic, partition, key, key_len, value, len, ts, NULL);
}

int spate_ctx_produce_acked(spate_ctx_t *ctx, const char *topic, int32_t partition,
                            const void *key, size_t key_len, const void *value, size_t len,
                            int64_t *acked) {
        return ctx->ops->produce(ctx, topic, partition, key, key_len, value, len, 0, acked);
}

void spate_ctx_dead_letter(spate_ctx_t *ctx, const spate_origin_t *o) {
        ctx->ops->dead_letter(ctx, o);
}

int64_t spate_ctx_partition_time(spate_ctx_t *ctx, const spate_node_t *n, const char *topic,
                                 int32_t partition) {
        return ctx->ops->partition_val(ctx, n, topic, partition, 0);
}

void spate_ctx_set_partition_time(spate_ctx_t *ctx, const spate_node_t *n, const char *topic,
                                  int32_t partition, int64_t t) {
        ctx->ops->set_partition_val(ctx, n, topic, partition, 0, t);
}

int64_t spate_ctx_partition_cut(spate_ctx_t *ctx, const spate_node_t *n, const char *topic,
                                int32_t partition) {
        return ctx->ops->partition_val(ctx, n, topic, partition, 1);
}

void spate_ctx_set_partition_cut(spate_ctx_t *ctx, const spate_node_t *n, const char *topic,
                                 int32_t partition, int64_t cut) {
        ctx->ops->set_partition_val(ctx, n, topic, partition, 1, cut);
}

int spate_ctx_commit_cuts(spate_ctx_t *ctx) {
        return ctx->ops->commit_cuts(ctx);
}

void spate_ctx_hold_offsets(spate_ctx_t *ctx, const char *topic) {
        ctx->ops->hold_offsets(ctx, topic);
}

void spate_ctx_request_commit(spate_ctx_t *ctx) {
        ctx->ops->request_commit(ctx);
}

int spate_ctx_caught_up(spate_ctx_t *ctx, const char *topic, int32_t partition) {
        return ctx->ops->caught_up(ctx, topic, partition);
}

int64_t spate_ctx_replay(spate_ctx_t *ctx, const char *topic, int32_t partition, int64_t from,
                         spate_replay_cb cb, void *opaque) {
        return ctx->ops->replay(ctx, topic, partition, from, cb, opaque);
}

struct spate_store *spate_ctx_store(spate_ctx_t *ctx) {
        return ctx->ops->store(ctx);
}

int spate_ctx_stopping(spate_ctx_t *ctx) {
        return ctx->ops->stopping(ctx);
}

static int ctx_stop(void *ctx) {
        return spate_ctx_stopping(ctx);
}

int spate_ctx_backoff(spate_ctx_t *ctx, int64_t *backoff_ms, int64_t cap_ms) {
        return spate_backoff_sleep(backoff_ms, cap_ms, ctx_stop, ctx);
}

int spate_ctx_wait_acks(spate_ctx_t *ctx) {
        return ctx->ops->wait_acks(ctx);
}

int spate_ctx_partitions(spate_ctx_t *ctx, const char *topic) {
        return ctx->ops->partitions(ctx, topic);
}

int spate_ctx_check_resume(spate_ctx_t *ctx, const spate_node_t *n, const char *topic, int32_t partition,
                           int64_t offset) {
        return ctx->ops->check_resume(ctx, n, topic, partition, offset);
}
