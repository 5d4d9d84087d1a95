/* test_dlq.c - dead letters always fit the producer's limit, keep their
 * origin headers and say what was cut. */
#include "check.h"
#include "../../engine/dlq.h"

#include <stdlib.h>

static const char *header(rd_kafka_headers_t *h, const char *name) {
        const void *v;
        size_t n;
        return rd_kafka_header_get_last(h, name, &v, &n) ? NULL : v;
}

static size_t build(size_t key_len, size_t len, size_t max, spate_dlq_letter_t *l, rd_kafka_headers_t **hp) {
        static char bytes[4000000];
        static spate_origin_t o;
        o = (spate_origin_t){ "in", 3, 42, bytes, len, bytes, key_len, -1, -1, 0 };
        *l = (spate_dlq_letter_t){ .reason = "in: malformed JSON", .node = "in", .application = "app",
                                   .origin = &o };
        *hp = spate_dlq_letter_build(l, max);
        return l->key_len + l->len + spate_dlq_headers_size(*hp) + SPATE_DLQ_FRAMING;
}

int main(void) {
        spate_dlq_letter_t l;
        rd_kafka_headers_t *h;

        build(10, 500, 1000000, &l, &h);
        CHECK(l.len == 500 && l.key_len == 10, "a small record is kept whole");
        CHECK(!header(h, "spate.truncated"), "and not marked truncated");
        CHECK_STR(header(h, "spate.offset"), "42", "origin offset header");
        CHECK_STR(header(h, "spate.partition"), "3", "origin partition header");
        CHECK_STR(header(h, "spate.error"), "in: malformed JSON", "reason header");
        rd_kafka_headers_destroy(h);

        CHECK(build(10, 1500000, 1000000, &l, &h) <= 1000000, "a 1.5 MB value fits 1 MB");
        CHECK(l.key_len == 10 && l.len > 990000, "the key is whole, the value cut to the room (%zu)", l.len);
        CHECK_STR(header(h, "spate.truncated"), "value", "marked: value");
        CHECK_STR(header(h, "spate.value_size"), "1500000", "original value size");
        CHECK(!header(h, "spate.key_size"), "no key size: the key is whole");
        rd_kafka_headers_destroy(h);

        CHECK(build(2000000, 30, 1000000, &l, &h) <= 1000000, "a 2 MB key fits 1 MB");
        CHECK(l.len == 30 && l.key_len > 990000, "the value is whole, the key cut (%zu)", l.key_len);
        CHECK_STR(header(h, "spate.truncated"), "key", "marked: key");
        CHECK_STR(header(h, "spate.key_size"), "2000000", "original key size");
        rd_kafka_headers_destroy(h);

        CHECK(build(3000000, 3000000, 1000000, &l, &h) <= 1000000, "both 3 MB: fits 1 MB");
        CHECK(l.len == l.key_len && l.len > 490000, "each keeps half the room (%zu, %zu)", l.key_len, l.len);
        CHECK_STR(header(h, "spate.truncated"), "key,value", "marked: key,value");
        rd_kafka_headers_destroy(h);

        CHECK(build(0, 1000000, 1000000, &l, &h) <= 1000000, "exactly message.max.bytes of value: cut to fit");
        rd_kafka_headers_destroy(h);
        return CHECK_DONE();
}
