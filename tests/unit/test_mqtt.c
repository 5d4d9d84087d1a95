/* test_mqtt.c - mqtt_source's wire layer (connectors/mqtt/mqtt_wire.c): topic
 * patterns (names, wildcard rules of MQTT 5 section 4.7), framing a byte
 * stream, parsing broker packets, and the exact bytes of CONNECT, SUBSCRIBE
 * and PUBACK as the MQTT 5 specification lays them out. */
#include "check.h"
#include "../../connectors/mqtt/mqtt_wire.h"

#include <stdlib.h>

/* "name=value,..." of the named levels when spec matches topic, or "-". */
static const char *match(const char *spec, const char *topic) {
        static char out[512];
        mqtt_pattern_t p;
        size_t off[MQTT_MAX_LEVELS], span[MQTT_MAX_LEVELS];
        if (mqtt_pattern_parse(spec, &p, out, sizeof(out)))
                return out;
        out[0] = '\0';
        if (!mqtt_pattern_match(&p, topic, strlen(topic), off, span)) {
                mqtt_pattern_free(&p);
                return "-";
        }
        for (int i = 0; i < p.nlevels; i++)
                if (p.names[i])
                        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s=%.*s",
                                 out[0] ? "," : "", p.names[i], (int)span[i], topic + off[i]);
        mqtt_pattern_free(&p);
        return out;
}

static void test_patterns(void) {
        mqtt_pattern_t p;
        char err[256];
        CHECK(!mqtt_pattern_parse("sensors/+sensor_id/+kind", &p, err, sizeof(err)), "parses");
        CHECK_STR(p.filter, "sensors/+/+", "the subscribed filter drops the names");
        CHECK(p.nlevels == 3 && !p.names[0] && !strcmp(p.names[1], "sensor_id") &&
              !strcmp(p.names[2], "kind"), "levels 1 and 2 are named");
        mqtt_pattern_free(&p);
        CHECK_STR(match("sensors/+sensor_id/+kind", "sensors/t1/temp"), "sensor_id=t1,kind=temp", "two levels");
        CHECK_STR(match("sensors/+sensor_id/+kind", "sensors/t1"), "-", "too few levels");
        CHECK_STR(match("sensors/+sensor_id/+kind", "sensors/t1/temp/x"), "-", "too many levels");
        CHECK_STR(match("sensors/+sensor_id/+kind", "other/t1/temp"), "-", "a different literal level");
        CHECK_STR(match("sensors/+id", "sensors/"), "id=", "+ matches an empty level");
        CHECK_STR(match("site/#rest", "site/a/b/c"), "rest=a/b/c", "#name takes the remaining levels");
        CHECK_STR(match("site/#rest", "site"), "rest=", "a/# also matches a (the parent level)");
        CHECK_STR(match("#", "$SYS/broker/load"), "-", "wildcards first do not match $ topics");
        CHECK_STR(match("+/broker/+", "$SYS/broker/load"), "-", "nor does a first +");
        CHECK_STR(match("$SYS/+x", "$SYS/up"), "x=up", "a literal $SYS does");
        CHECK_STR(match("a/b", "a/b"), "", "a filter without wildcards");
        CHECK(strstr(match("a/#/b", "a"), "# must be the last level") != NULL, "# not last: %s", match("a/#/b", "a"));
        CHECK(strstr(match("a+/b", "a"), "stand for a whole level") != NULL, "+ inside a level");
        CHECK(strstr(match("a/+1x", "a"), "letters, digits") != NULL, "a name starting with a digit");
        CHECK(strstr(match("+x/+x", "a"), "used twice") != NULL, "a name used twice");
        CHECK(strstr(match("", "a"), "empty") != NULL, "an empty pattern");
}

static void test_frame(void) {
        static const uint8_t two[] = { 0xd0, 0x00, 0x20, 0x03, 0x00, 0x00, 0x00 };
        static const uint8_t big[] = { 0x30, 0xff, 0xff, 0xff, 0xff, 0x01 };
        static const uint8_t long_len[] = { 0x30, 0x80, 0x80, 0x01 };   /* 16384 bytes */
        mqtt_packet_t p;
        size_t used;
        const char *why = NULL;
        CHECK(mqtt_frame(two, 1, 100, &p, &used, &why) == 0, "one byte: more needed");
        CHECK(mqtt_frame(two, sizeof(two), 100, &p, &used, &why) == 1 && p.type == MQTT_PINGRESP &&
              used == 2 && p.len == 0, "PINGRESP framed");
        CHECK(mqtt_frame(two + 2, 4, 100, &p, &used, &why) == 0, "a CONNACK cut short: more needed");
        CHECK(mqtt_frame(two + 2, 5, 100, &p, &used, &why) == 1 && p.type == MQTT_CONNACK && used == 5,
              "CONNACK framed");
        CHECK(mqtt_frame(big, sizeof(big), 1 << 30, &p, &used, &why) == -1 && why, "a 5-byte length is malformed");
        CHECK(mqtt_frame(long_len, sizeof(long_len), 1000, &p, &used, &why) == -1 &&
              !strcmp(why, "packet larger than the limit"), "a length above the limit");
        CHECK(mqtt_frame(long_len, sizeof(long_len), 1 << 20, &p, &used, &why) == 0, "within it: more needed");
}

static void test_parse(void) {
        /* QoS 1, DUP, topic "s/a", id 0x0102, properties: payload format 1 (3 bytes), payload {} */
        static const uint8_t pub[] = { 0x3a, 12, 0, 3, 's', '/', 'a', 0x01, 0x02, 2, 0x01, 0x01, '{', '}' };
        static const uint8_t pub_no_id[] = { 0x32, 5, 0, 1, 'x', 0, 0 };
        static const uint8_t pub_q2[] = { 0x34, 6, 0, 1, 'x', 0, 1, 0 };
        static const uint8_t suback[] = { 0x90, 5, 0, 1, 0, 0x01, 0x87 };
        static const uint8_t connack[] = { 0x20, 3, 1, 0x86, 0 };
        mqtt_packet_t p;
        mqtt_publish_t m;
        size_t used, n;
        const char *why = NULL;
        int sp, rc;
        uint16_t id;
        const uint8_t *codes;
        mqtt_frame(pub, sizeof(pub), 100, &p, &used, &why);
        CHECK(!mqtt_parse_publish(&p, &m, &why) && m.qos == 1 && m.dup && m.id == 0x0102 &&
              m.topic_len == 3 && !memcmp(m.topic, "s/a", 3) && m.len == 2 && !memcmp(m.payload, "{}", 2),
              "PUBLISH: topic, id, properties skipped, payload");
        mqtt_frame(pub_no_id, sizeof(pub_no_id), 100, &p, &used, &why);
        CHECK(mqtt_parse_publish(&p, &m, &why) && strstr(why, "packet identifier"), "QoS 1 with id 0: %s", why);
        mqtt_frame(pub_q2, sizeof(pub_q2), 100, &p, &used, &why);
        CHECK(mqtt_parse_publish(&p, &m, &why) && strstr(why, "QoS 2"), "QoS 2 refused: %s", why);
        mqtt_frame(suback, sizeof(suback), 100, &p, &used, &why);
        CHECK(!mqtt_parse_suback(&p, &id, &codes, &n, &why) && id == 1 && n == 2 && codes[0] == 1 &&
              codes[1] == 0x87, "SUBACK: one granted QoS 1, one refused");
        mqtt_frame(connack, sizeof(connack), 100, &p, &used, &why);
        CHECK(!mqtt_parse_connack(&p, &sp, &rc, &why) && sp == 1 && rc == 0x86, "CONNACK: session present, 0x86");
        CHECK_STR(mqtt_reason_text(rc), "Bad User Name or Password", "reason text");
}

static void test_encode(void) {
        /* MQTT 5 section 3.1: fixed header, "MQTT", level 5, flags (user, password; clean
         * start off), keepalive 30, properties (session expiry 86400, receive maximum 4096),
         * client id, user name, password. */
        static const uint8_t want[] = {
                0x10, 34, 0, 4, 'M', 'Q', 'T', 'T', 5, 0xc0, 0, 30,
                8, 0x11, 0x00, 0x01, 0x51, 0x80, 0x21, 0x10, 0x00,
                0, 3, 'c', 'i', 'd', 0, 2, 'u', 'u', 0, 4, 'p', 'w', 'p', 'w' };
        static const uint8_t want_sub[] = { 0x82, 13, 0, 1, 0, 0, 3, 'a', '/', '+', 1, 0, 1, '#', 1 };
        static const uint8_t want_ack[] = { 0x40, 2, 0xbe, 0xef };
        spate_buf_t b = { 0 };
        mqtt_connect_t c = { .client_id = "cid", .username = "uu", .password = "pwpw", .keepalive_s = 30,
                             .session_expiry_s = 86400, .receive_max = 4096 };
        mqtt_put_connect(&b, &c);
        CHECK(b.len == sizeof(want) && !memcmp(b.data, want, sizeof(want)), "CONNECT bytes (%zu)", b.len);
        b.len = 0;
        c.username = c.password = "";
        mqtt_put_connect(&b, &c);
        CHECK(b.len == sizeof(want) - 10 && (uint8_t)b.data[9] == 0, "no credentials: no flags, no fields");
        b.len = 0;
        const char *filters[] = { "a/+", "#" };
        mqtt_put_subscribe(&b, 1, filters, 2);
        CHECK(b.len == sizeof(want_sub) && !memcmp(b.data, want_sub, sizeof(want_sub)), "SUBSCRIBE bytes");
        b.len = 0;
        mqtt_put_puback(&b, 0xbeef);
        CHECK(b.len == 4 && !memcmp(b.data, want_ack, 4), "PUBACK bytes");
        spate_buf_free(&b);
}

int main(void) {
        test_patterns();
        test_frame();
        test_parse();
        test_encode();
        return CHECK_DONE();
}
