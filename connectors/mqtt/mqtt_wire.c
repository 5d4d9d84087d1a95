/* mqtt_wire.c - MQTT 5 packet framing, parsing and encoding for a QoS 1
 * subscriber, and the topic patterns of `mqtt_source` (see mqtt_wire.h). */
#include "mqtt_wire.h"
#include "../../util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- reading --------------------------------------------------------------- */
typedef struct rd {
        const uint8_t *p, *end;
        const char *why;
} rd_t;

static int rd_fail(rd_t *r, const char *why) {
        if (!r->why)
                r->why = why;
        return -1;
}

static int rd_u8(rd_t *r, unsigned *v) {
        if (r->p >= r->end)
                return rd_fail(r, "packet too short");
        *v = *r->p++;
        return 0;
}

static int rd_u16(rd_t *r, unsigned *v) {
        if (r->end - r->p < 2)
                return rd_fail(r, "packet too short");
        *v = (unsigned)r->p[0] << 8 | r->p[1];
        r->p += 2;
        return 0;
}

/* A variable byte integer: at most 4 bytes. */
static int varint(const uint8_t *p, size_t n, uint32_t *v, size_t *used) {
        uint32_t x = 0;
        for (size_t i = 0; i < 4; i++) {
                if (i >= n)
                        return 0;
                x |= (uint32_t)(p[i] & 0x7f) << (7 * i);
                if (!(p[i] & 0x80)) {
                        *v = x;
                        *used = i + 1;
                        return 1;
                }
        }
        return -1;
}

/* Skips a property block (its length, then that many bytes). */
static int rd_props(rd_t *r) {
        uint32_t len;
        size_t used;
        if (varint(r->p, (size_t)(r->end - r->p), &len, &used) != 1)
                return rd_fail(r, "malformed property length");
        r->p += used;
        if ((size_t)(r->end - r->p) < len)
                return rd_fail(r, "property length beyond the packet");
        r->p += len;
        return 0;
}

int mqtt_frame(const uint8_t *buf, size_t n, size_t max_len, mqtt_packet_t *p, size_t *used,
               const char **why) {
        uint32_t len;
        size_t hl;
        if (n < 2)
                return 0;
        int rc = varint(buf + 1, n - 1, &len, &hl);
        if (rc < 0) {
                *why = "malformed remaining length";
                return -1;
        }
        if (rc == 0)
                return 0;
        if (len > max_len) {
                *why = "packet larger than the limit";
                return -1;
        }
        if (n - 1 - hl < len)
                return 0;
        p->type = buf[0] >> 4;
        p->flags = buf[0] & 0x0f;
        p->body = buf + 1 + hl;
        p->len = len;
        *used = 1 + hl + len;
        return 1;
}

int mqtt_parse_publish(const mqtt_packet_t *p, mqtt_publish_t *m, const char **why) {
        rd_t r = { p->body, p->body + p->len, NULL };
        unsigned tl, id = 0;
        memset(m, 0, sizeof(*m));
        m->qos = (p->flags >> 1) & 3;
        m->dup = (p->flags >> 3) & 1;
        m->retain = p->flags & 1;
        if (m->qos > 1) {
                *why = m->qos == 3 ? "PUBLISH with QoS 3" : "PUBLISH with QoS 2 (subscribed with 1)";
                return -1;
        }
        if (rd_u16(&r, &tl))
                goto bad;
        if ((size_t)(r.end - r.p) < tl) {
                rd_fail(&r, "topic beyond the packet");
                goto bad;
        }
        m->topic = (const char *)r.p;
        m->topic_len = tl;
        r.p += tl;
        if (tl == 0 || memchr(m->topic, '\0', tl)) {
                /* An empty topic would need a topic alias, which we never allow. */
                rd_fail(&r, tl ? "topic holds a NUL byte" : "empty topic");
                goto bad;
        }
        if (m->qos && (rd_u16(&r, &id) || id == 0)) {
                rd_fail(&r, "QoS 1 PUBLISH without a packet identifier");
                goto bad;
        }
        m->id = (uint16_t)id;
        if (rd_props(&r))
                goto bad;
        m->payload = r.p;
        m->len = (size_t)(r.end - r.p);
        return 0;
bad:
        *why = r.why;
        return -1;
}

int mqtt_parse_connack(const mqtt_packet_t *p, int *session_present, int *reason,
                       const char **why) {
        rd_t r = { p->body, p->body + p->len, NULL };
        unsigned flags, rc;
        if (rd_u8(&r, &flags) || rd_u8(&r, &rc) || (r.p < r.end && rd_props(&r))) {
                *why = r.why;
                return -1;
        }
        *session_present = flags & 1;
        *reason = (int)rc;
        return 0;
}

int mqtt_parse_suback(const mqtt_packet_t *p, uint16_t *id, const uint8_t **codes, size_t *n,
                      const char **why) {
        rd_t r = { p->body, p->body + p->len, NULL };
        unsigned v;
        if (rd_u16(&r, &v) || rd_props(&r)) {
                *why = r.why;
                return -1;
        }
        *id = (uint16_t)v;
        *codes = r.p;
        *n = (size_t)(r.end - r.p);
        return 0;
}

int mqtt_parse_disconnect(const mqtt_packet_t *p, int *reason, const char **why) {
        rd_t r = { p->body, p->body + p->len, NULL };
        unsigned rc = 0;
        if (p->len && (rd_u8(&r, &rc) || (r.p < r.end && rd_props(&r)))) {
                *why = r.why;
                return -1;
        }
        *reason = (int)rc;
        return 0;
}

const char *mqtt_reason_text(int code) {
        switch (code) {
        case 0x00: return "Success";
        case 0x80: return "Unspecified error";
        case 0x81: return "Malformed Packet";
        case 0x82: return "Protocol Error";
        case 0x83: return "Implementation specific error";
        case 0x84: return "Unsupported Protocol Version";
        case 0x85: return "Client Identifier not valid";
        case 0x86: return "Bad User Name or Password";
        case 0x87: return "Not authorized";
        case 0x88: return "Server unavailable";
        case 0x89: return "Server busy";
        case 0x8A: return "Banned";
        case 0x8B: return "Server shutting down";
        case 0x8D: return "Keep Alive timeout";
        case 0x8E: return "Session taken over";
        case 0x8F: return "Topic Filter invalid";
        case 0x93: return "Receive Maximum exceeded";
        case 0x95: return "Packet too large";
        case 0x97: return "Quota exceeded";
        case 0x9C: return "Use another server";
        case 0x9D: return "Server moved";
        case 0x9F: return "Connection rate exceeded";
        default: return "(unknown reason code)";
        }
}

/* --- writing --------------------------------------------------------------- */
static void put_u8(spate_buf_t *b, unsigned v) {
        spate_buf_putc(b, (char)(v & 0xff));
}

static void put_u16(spate_buf_t *b, unsigned v) {
        put_u8(b, v >> 8);
        put_u8(b, v);
}

static void put_str(spate_buf_t *b, const char *s) {
        size_t n = strlen(s);
        put_u16(b, (unsigned)n);
        spate_buf_put(b, s, n);
}

/* The fixed header of a packet whose body is body[0..n), then the body. */
static void put_packet(spate_buf_t *b, unsigned first, const spate_buf_t *body) {
        size_t n = body->len;
        put_u8(b, first);
        do {
                unsigned d = n & 0x7f;
                n >>= 7;
                put_u8(b, d | (n ? 0x80 : 0));
        } while (n);
        spate_buf_put(b, body->data, body->len);
}

void mqtt_put_connect(spate_buf_t *b, const mqtt_connect_t *c) {
        spate_buf_t v = { 0 };
        int user = c->username && *c->username, pass = c->password && *c->password;
        put_str(&v, "MQTT");
        put_u8(&v, 5);
        /* Clean start off: the broker keeps the session, and with it every
         * message we did not acknowledge, across our restarts. */
        put_u8(&v, (user ? 0x80u : 0) | (pass ? 0x40u : 0));
        put_u16(&v, (unsigned)c->keepalive_s);
        put_u8(&v, 8);                         /* property length */
        put_u8(&v, 0x11);                      /* Session Expiry Interval */
        put_u16(&v, c->session_expiry_s >> 16);
        put_u16(&v, c->session_expiry_s & 0xffff);
        put_u8(&v, 0x21);                      /* Receive Maximum */
        put_u16(&v, c->receive_max);
        put_str(&v, c->client_id);
        if (user)
                put_str(&v, c->username);
        if (pass)
                put_str(&v, c->password);
        put_packet(b, MQTT_CONNECT << 4, &v);
        spate_buf_free(&v);
}

void mqtt_put_subscribe(spate_buf_t *b, uint16_t id, const char *const *filters, int n) {
        spate_buf_t v = { 0 };
        put_u16(&v, id);
        put_u8(&v, 0);                         /* no properties */
        for (int i = 0; i < n; i++) {
                put_str(&v, filters[i]);
                put_u8(&v, 1);                 /* QoS 1, retained messages sent */
        }
        put_packet(b, MQTT_SUBSCRIBE << 4 | 2, &v);
        spate_buf_free(&v);
}

void mqtt_put_puback(spate_buf_t *b, uint16_t id) {
        put_u8(b, MQTT_PUBACK << 4);
        put_u8(b, 2);
        put_u16(b, id);
}

void mqtt_put_pingreq(spate_buf_t *b) {
        put_u8(b, MQTT_PINGREQ << 4);
        put_u8(b, 0);
}

void mqtt_put_disconnect(spate_buf_t *b) {
        put_u8(b, MQTT_DISCONNECT << 4);
        put_u8(b, 0);
}

/* --- topic patterns -------------------------------------------------------- */
static int name_ok(const char *s, size_t n) {
        if (!n || !(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
                return 0;
        for (size_t i = 1; i < n; i++)
                if (!(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                      (s[i] >= '0' && s[i] <= '9')))
                        return 0;
        return 1;
}

static int pattern_fail(mqtt_pattern_t *p, char *err, size_t err_size, const char *spec,
                        const char *what) {
        snprintf(err, err_size, "topic pattern '%s': %s", spec, what);
        mqtt_pattern_free(p);
        return -1;
}

int mqtt_pattern_parse(const char *spec, mqtt_pattern_t *p, char *err, size_t err_size) {
        size_t n = strlen(spec);
        memset(p, 0, sizeof(*p));
        if (!n || n > 65535)
                return pattern_fail(p, err, err_size, spec, "empty or too long");
        p->filter = spate_xmalloc(n + 1);
        char *f = p->filter;
        for (const char *s = spec;; s++) {
                const char *e = strchr(s, '/');
                size_t len = e ? (size_t)(e - s) : strlen(s);
                if (p->nlevels == MQTT_MAX_LEVELS)
                        return pattern_fail(p, err, err_size, spec, "more than 32 levels");
                if (len && (s[0] == '+' || s[0] == '#')) {
                        if (len > 1 && !name_ok(s + 1, len - 1))
                                return pattern_fail(p, err, err_size, spec,
                                                    "a field name after + or # is letters, digits "
                                                    "and _ (e.g. +sensor_id)");
                        if (s[0] == '#' && e)
                                return pattern_fail(p, err, err_size, spec, "# must be the last level");
                        if (len > 1)
                                p->names[p->nlevels] = spate_xstrndup(s + 1, len - 1);
                        p->multi = s[0] == '#';
                        *f++ = s[0];
                } else {
                        if (memchr(s, '+', len) || memchr(s, '#', len))
                                return pattern_fail(p, err, err_size, spec,
                                                    "+ and # stand for a whole level");
                        memcpy(f, s, len);
                        f += len;
                }
                p->nlevels++;
                if (!e)
                        break;
                *f++ = '/';
                s = e;
        }
        *f = '\0';
        for (int i = 0; i < p->nlevels; i++)
                for (int j = 0; j < i; j++)
                        if (p->names[i] && p->names[j] && !strcmp(p->names[i], p->names[j]))
                                return pattern_fail(p, err, err_size, spec, "a field name is used twice");
        return 0;
}

void mqtt_pattern_free(mqtt_pattern_t *p) {
        free(p->filter);
        for (int i = 0; i < MQTT_MAX_LEVELS; i++)
                free(p->names[i]);
        memset(p, 0, sizeof(*p));
}

int mqtt_pattern_match(const mqtt_pattern_t *p, const char *topic, size_t len,
                       size_t off[MQTT_MAX_LEVELS], size_t span[MQTT_MAX_LEVELS]) {
        const char *f = p->filter;
        size_t t = 0;
        /* Wildcards do not match topics starting with '$' ($SYS/...). */
        if (len && topic[0] == '$' && (f[0] == '+' || f[0] == '#'))
                return 0;
        for (int i = 0; i < p->nlevels; i++) {
                const char *fe = strchr(f, '/');
                size_t flen = fe ? (size_t)(fe - f) : strlen(f);
                if (f[0] == '#' && flen == 1) {
                        /* "a/#" also matches "a": the rest is then empty. */
                        off[i] = t > len ? len : t;
                        span[i] = t > len ? 0 : len - t;
                        return 1;
                }
                if (t > len)
                        return 0;
                const char *te = memchr(topic + t, '/', len - t);
                size_t tlen = te ? (size_t)(te - (topic + t)) : len - t;
                if (!(f[0] == '+' && flen == 1) && (flen != tlen || memcmp(f, topic + t, tlen)))
                        return 0;
                off[i] = t;
                span[i] = tlen;
                t += tlen + 1;          /* past the '/', or one past the end */
                f = fe ? fe + 1 : f + flen;
        }
        return t == len + 1;
}
