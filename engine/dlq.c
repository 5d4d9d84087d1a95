/* dlq.c - dead letters that always fit: a record too large for the producer
 * would fail the DLQ write itself, stop the application and replay forever,
 * so the key and value are cut to what fits and the cut is recorded. */
#include "dlq.h"

#include <stdio.h>
#include <string.h>

/* The longest value a truncation header gets ("key,value", a size). */
#define CUT_HEADERS_MAX 96

static size_t varint_size(size_t v) {
        size_t n = 1;
        while (v >= 0x40) {   /* zigzag varints: 7 bits a byte, the sign bit first */
                v >>= 7;
                n++;
        }
        return n;
}

size_t spate_dlq_headers_size(const rd_kafka_headers_t *h) {
        const char *name;
        const void *val;
        size_t size, total = 0;
        for (size_t i = 0; !rd_kafka_header_get_all(h, i, &name, &val, &size); i++)
                total += varint_size(strlen(name)) + strlen(name) + varint_size(size) + size;
        return total;
}

static void add_size(rd_kafka_headers_t *h, const char *name, size_t n) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%zu", n);
        rd_kafka_header_add(h, name, -1, buf, -1);
}

static rd_kafka_headers_t *origin_headers(const spate_dlq_letter_t *l) {
        const spate_origin_t *o = l->origin;
        rd_kafka_headers_t *h = rd_kafka_headers_new(10);
        char part[16], off[24];
        snprintf(part, sizeof(part), "%d", o->partition);
        snprintf(off, sizeof(off), "%lld", (long long)o->offset);
        rd_kafka_header_add(h, "spate.error", -1, l->reason, -1);
        rd_kafka_header_add(h, "spate.node", -1, l->node, -1);
        if (l->branch)
                rd_kafka_header_add(h, "spate.branch", -1, l->branch, -1);
        rd_kafka_header_add(h, "spate.topic", -1, o->topic, -1);
        rd_kafka_header_add(h, "spate.partition", -1, part, -1);
        rd_kafka_header_add(h, "spate.offset", -1, off, -1);
        rd_kafka_header_add(h, "spate.application", -1, l->application, -1);
        return h;
}

rd_kafka_headers_t *spate_dlq_letter_build(spate_dlq_letter_t *l, size_t max_bytes) {
        const spate_origin_t *o = l->origin;
        rd_kafka_headers_t *h = origin_headers(l);
        size_t used = spate_dlq_headers_size(h) + SPATE_DLQ_FRAMING;
        size_t avail = max_bytes > used ? max_bytes - used : 0;
        size_t room = avail > CUT_HEADERS_MAX ? avail - CUT_HEADERS_MAX : 0;

        l->key = o->key;
        l->value = o->payload;
        l->key_len = o->key_len;
        l->len = o->len;
        if (o->key_len <= avail && o->len <= avail - o->key_len)
                return h;
        /* Each part keeps at least half the room unless the other needs
         * less: the key routes and identifies the record, the value is
         * what was wrong with it. */
        size_t value_min = room - (o->key_len < room ? o->key_len : room);
        l->len = o->len < room / 2 ? o->len : room / 2 > value_min ? room / 2 : value_min;
        if (l->len > o->len)
                l->len = o->len;
        l->key_len = o->key_len < room - l->len ? o->key_len : room - l->len;
        int cut_key = l->key_len < o->key_len, cut_value = l->len < o->len;
        rd_kafka_header_add(h, "spate.truncated", -1,
                            cut_key && cut_value ? "key,value" : cut_key ? "key" : "value", -1);
        if (cut_key)
                add_size(h, "spate.key_size", o->key_len);
        if (cut_value)
                add_size(h, "spate.value_size", o->len);
        return h;
}
