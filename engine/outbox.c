/* outbox.c - a topic's outputs queued for one rd_kafka_produce_batch() call
 * (outbox.h says why). */
#include "outbox.h"
#include "../util/mem.h"

#include <stdlib.h>
#include <string.h>

#define NO_BYTES SIZE_MAX

static size_t put(spate_outbox_t *b, const void *p, size_t n) {
        if (!p)
                return NO_BYTES;
        if (b->len + n > b->size) {
                size_t size = b->size ? b->size : 64 * 1024;
                while (size < b->len + n)
                        size *= 2;
                b->bytes = spate_xrealloc(b->bytes, size);
                b->size = size;
        }
        size_t at = b->len;
        if (n)
                memcpy(b->bytes + at, p, n);
        b->len += n;
        return at;
}

int spate_outbox_add(spate_outbox_t *b, int32_t partition, const void *key, size_t key_len,
                     const void *value, size_t len, void *opaque) {
        if (b->n == b->cap) {
                b->cap = b->cap ? b->cap * 2 : 256;
                b->msgs = spate_xrealloc(b->msgs, sizeof(*b->msgs) * (size_t)b->cap);
                b->at = spate_xrealloc(b->at, sizeof(*b->at) * (size_t)b->cap);
        }
        b->msgs[b->n] = (rd_kafka_message_t){ .partition = partition, .key_len = key ? key_len : 0,
                                              .len = value ? len : 0, ._private = opaque };
        b->at[b->n].key = put(b, key, key_len);
        b->at[b->n].value = put(b, value, len);
        b->n++;
        return b->n >= SPATE_OUTBOX_MSGS || b->len >= SPATE_OUTBOX_BYTES;
}

static void *at(spate_outbox_t *b, size_t off) {
        return off == NO_BYTES ? NULL : b->bytes + off;
}

rd_kafka_resp_err_t spate_outbox_send(spate_outbox_t *b, rd_kafka_topic_t *rkt, int32_t *partition) {
        if (!b->n)
                return RD_KAFKA_RESP_ERR_NO_ERROR;
        for (int i = 0; i < b->n; i++) {
                b->msgs[i].key = at(b, b->at[i].key);
                b->msgs[i].payload = at(b, b->at[i].value);
        }
        int queued = rd_kafka_produce_batch(rkt, RD_KAFKA_PARTITION_UA,
                                            RD_KAFKA_MSG_F_COPY | RD_KAFKA_MSG_F_PARTITION, b->msgs, b->n);
        if (queued == b->n) {
                spate_outbox_clear(b);
                return RD_KAFKA_RESP_ERR_NO_ERROR;
        }
        /* The first refusal fails every message after it with the same
         * error (librdkafka's all_err), so the refused are the box's tail. */
        int first = 0;
        while (first < b->n && !b->msgs[first].err)
                first++;
        if (first == b->n) {  /* not seen: a count short with no error */
                spate_outbox_clear(b);
                return RD_KAFKA_RESP_ERR_NO_ERROR;
        }
        rd_kafka_resp_err_t err = b->msgs[first].err;
        /* librdkafka 2.0.2 leaks a message refused for a partition the
         * topic lacks (counted in its queue: a flush then waits it out); the
         * instance fails on it anyway, and spate makes its internal topics'
         * partitions itself. */
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                *partition = b->msgs[first].partition;
                spate_outbox_clear(b);
                return err;
        }
        b->n -= first;
        memmove(b->msgs, b->msgs + first, sizeof(*b->msgs) * (size_t)b->n);
        memmove(b->at, b->at + first, sizeof(*b->at) * (size_t)b->n);
        for (int i = 0; i < b->n; i++)
                b->msgs[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
        return err;
}

void spate_outbox_clear(spate_outbox_t *b) {
        b->n = 0;
        b->len = 0;
}

void spate_outbox_free(spate_outbox_t *b) {
        free(b->msgs);
        free(b->at);
        free(b->bytes);
        memset(b, 0, sizeof(*b));
}
