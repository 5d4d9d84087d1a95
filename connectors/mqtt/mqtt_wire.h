/* mqtt_wire.h - the MQTT 5 packets `mqtt_source` exchanges with a broker, and
 * its topic patterns: pure functions over bytes, so the fuzzer and the unit
 * tests drive them without a socket.
 *
 * Why not libmosquitto's client: the Debian 12 libmosquitto (2.0.11) sends a
 * QoS 1 PUBACK before the application sees the message, so a crash after it
 * loses the message; PUBACK-after-Kafka needs the acknowledgement in our hands
 * (libmosquitto's manual acks arrive only with 2.1). A subscriber needs eight
 * packet types; they are here. Private to connectors/mqtt/ and its tests. */
#ifndef SPATE_MQTT_WIRE_H
#define SPATE_MQTT_WIRE_H

#include "../../util/buf.h"

#include <stddef.h>
#include <stdint.h>

enum {
        MQTT_CONNECT = 1, MQTT_CONNACK = 2, MQTT_PUBLISH = 3, MQTT_PUBACK = 4,
        MQTT_SUBSCRIBE = 8, MQTT_SUBACK = 9, MQTT_PINGREQ = 12, MQTT_PINGRESP = 13,
        MQTT_DISCONNECT = 14, MQTT_AUTH = 15
};

/* One control packet; body points into the caller's buffer. */
typedef struct mqtt_packet {
        int type, flags;            /* the fixed header's two nibbles */
        const uint8_t *body;        /* variable header and payload */
        size_t len;
} mqtt_packet_t;

/* Frames the packet at buf[0..n): 1 with *p and *used (its total size) set;
 * 0 if more bytes are needed; -1 if the length is malformed or above
 * max_len (why says which). */
int mqtt_frame(const uint8_t *buf, size_t n, size_t max_len, mqtt_packet_t *p, size_t *used,
               const char **why);

typedef struct mqtt_publish {
        const char *topic;          /* not NUL-terminated, points into the packet */
        size_t topic_len;
        const uint8_t *payload;
        size_t len;
        int qos, dup, retain;
        uint16_t id;                /* packet identifier, QoS 1 only */
} mqtt_publish_t;

/* Each: 0, or -1 with why (a static string) for a malformed packet. */
int mqtt_parse_publish(const mqtt_packet_t *p, mqtt_publish_t *m, const char **why);
int mqtt_parse_connack(const mqtt_packet_t *p, int *session_present, int *reason,
                       const char **why);
/* codes[0..*n) point into the packet: one per filter, < 0x80 granted QoS. */
int mqtt_parse_suback(const mqtt_packet_t *p, uint16_t *id, const uint8_t **codes, size_t *n,
                      const char **why);
/* A DISCONNECT from the server: its reason code (0 when absent). */
int mqtt_parse_disconnect(const mqtt_packet_t *p, int *reason, const char **why);
/* The text of an MQTT 5 reason code ("Bad user name or password"). */
const char *mqtt_reason_text(int code);

typedef struct mqtt_connect {
        const char *client_id;
        const char *username, *password;   /* NULL or "": not sent */
        int keepalive_s;
        uint32_t session_expiry_s;         /* > 0 with clean start off: a persistent session */
        uint16_t receive_max;              /* QoS 1 messages the broker may have in flight */
} mqtt_connect_t;

/* Encoders: append one packet to b. */
void mqtt_put_connect(spate_buf_t *b, const mqtt_connect_t *c);
/* Subscribes to filters[0..n) with QoS 1. */
void mqtt_put_subscribe(spate_buf_t *b, uint16_t id, const char *const *filters, int n);
void mqtt_put_puback(spate_buf_t *b, uint16_t id);
void mqtt_put_pingreq(spate_buf_t *b);
void mqtt_put_disconnect(spate_buf_t *b);

/* --- topic patterns --------------------------------------------------------
 * A pattern is a topic filter whose wildcard levels may carry a field name:
 * "sensors/+sensor_id/+kind" subscribes to "sensors/+/+" and names level 1
 * sensor_id and level 2 kind; "#rest" (last) takes the remaining levels.
 * A bare "+" or "#" matches without naming. */
#define MQTT_MAX_LEVELS 32

typedef struct mqtt_pattern {
        char *filter;               /* what is subscribed to (owned) */
        int nlevels;
        char *names[MQTT_MAX_LEVELS];   /* per level: field name (owned) or NULL */
        int multi;                  /* the last level is '#' */
} mqtt_pattern_t;

/* Parses spec into *p. 0, or -1 with what is wrong in err. */
int mqtt_pattern_parse(const char *spec, mqtt_pattern_t *p, char *err, size_t err_size);
void mqtt_pattern_free(mqtt_pattern_t *p);
/* 1 if topic[0..len) matches; then for each level i with a name,
 * topic + off[i], span[i] bytes, is its value ('#': the rest). Else 0. */
int mqtt_pattern_match(const mqtt_pattern_t *p, const char *topic, size_t len,
                       size_t off[MQTT_MAX_LEVELS], size_t span[MQTT_MAX_LEVELS]);

#endif
