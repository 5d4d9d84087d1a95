/* mqtt_wire.c - fuzzes what `mqtt_source` does with bytes from an MQTT broker
 * (connectors/mqtt/mqtt_wire.c): framing a stream into packets and parsing
 * each one, and, for the input's first line as a topic pattern, matching the
 * rest as a topic, whose named levels must lie inside it. */
#include "fuzz.h"
#include "../../connectors/mqtt/mqtt_wire.h"

static void packets(const uint8_t *data, size_t size) {
        size_t off = 0, used;
        mqtt_packet_t p;
        const char *why;
        while (mqtt_frame(data + off, size - off, 1 << 20, &p, &used, &why) == 1) {
                mqtt_publish_t m;
                int a, b;
                uint16_t id;
                const uint8_t *codes;
                size_t n;
                if (p.type == MQTT_PUBLISH && !mqtt_parse_publish(&p, &m, &why)) {
                        if (m.topic < (const char *)p.body || m.topic + m.topic_len > (const char *)p.body + p.len ||
                            m.payload + m.len != p.body + p.len)
                                abort();
                } else if (p.type == MQTT_CONNACK) {
                        mqtt_parse_connack(&p, &a, &b, &why);
                } else if (p.type == MQTT_SUBACK && !mqtt_parse_suback(&p, &id, &codes, &n, &why)) {
                        if (codes + n != p.body + p.len)
                                abort();
                } else if (p.type == MQTT_DISCONNECT && !mqtt_parse_disconnect(&p, &a, &why)) {
                        if (!*mqtt_reason_text(a))
                                abort();
                }
                off += used;
        }
}

static void pattern(const uint8_t *data, size_t size) {
        const uint8_t *nl = memchr(data, '\n', size);
        if (!nl)
                return;
        char *spec = fuzz_strndup(data, (size_t)(nl - data)), err[256];
        mqtt_pattern_t pat;
        size_t off[MQTT_MAX_LEVELS], span[MQTT_MAX_LEVELS];
        const char *topic = (const char *)nl + 1;
        size_t len = size - (size_t)(nl - data) - 1;
        if (!mqtt_pattern_parse(spec, &pat, err, sizeof(err))) {
                if (mqtt_pattern_match(&pat, topic, len, off, span))
                        for (int i = 0; i < pat.nlevels; i++)
                                if (pat.names[i] && off[i] + span[i] > len)
                                        abort();
                mqtt_pattern_free(&pat);
        }
        free(spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        packets(data, size);
        pattern(data, size);
        return 0;
}
