/* mqtt_source.c - the `mqtt_source` node: subscribes to MQTT topic filters
 * with QoS 1 and writes every message to a Kafka topic first; the records
 * downstream come from that topic, so Kafka stays the replayable queue.
 *
 * A message is acknowledged to the broker (PUBACK) only once Kafka has its
 * record: messages received since the last commit are listed by packet id,
 * flush() marks how many the commit covers, and checkpoint() - which the
 * engine calls after every produced message is acknowledged - sends their
 * PUBACKs. The session is persistent (clean start off, a fixed client id, a
 * session expiry), so whatever was not acknowledged when spate died is
 * redelivered by the broker on the next connection: nothing is lost, and the
 * duplicates this brings carry the same `mqtt_id` (a hash of topic and
 * payload), by which a downstream dedupe removes them.
 *
 * Each Kafka record is the payload's JSON object with members in front:
 * mqtt_topic, mqtt_id and the fields named in the topic patterns
 * ("sensors/+sensor_id/+kind"). A payload that is not a JSON object, or has a
 * member named like one of those, goes to the dead-letter topic with the MQTT
 * topic as its origin; it is acknowledged like the others once the DLQ has it.
 *
 * The connection runs on the engine thread from punctuate() (every 10 ms): a
 * non-blocking socket, reconnects with exponential backoff, keepalive pings.
 * The packets are mqtt_wire.c's. The password is never logged. */
#include "mqtt_wire.h"
#include "../../util/mem.h"
#include "../../engine/ctx.h"
#include "../../engine/node.h"
#include "../../engine/topology.h"
#include "../../serde/json_scan.h"
#include "../../serde/json_write.h"
#include "../../serde/serde.h"
#include "../../util/log.h"
#include "../../util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_PACKET (64u << 20)
#define READ_BUDGET (8u << 20)     /* bytes read per punctuate at most */
#define HANDSHAKE_MS 10000
#define BACKOFF_BASE_MS 500
#define BACKOFF_CAP_MS 30000

enum { DOWN, CONNECTING, WAIT_CONNACK, WAIT_SUBACK, UP };

typedef struct msrc {
        /* parameters */
        char host[256], port[16];
        const char *username, *password, *raw_topic, *key_field;
        char client_id[256];
        mqtt_pattern_t *pats;
        const char **filters;
        int npats;
        int64_t keepalive_ms;
        int partitions;             /* of raw_topic, when spate creates it */
        uint32_t session_expiry_s;
        uint16_t receive_max;
        /* the names spate adds: mqtt_topic, mqtt_id, then the topic fields */
        spate_shape_pool_t pool;
        spate_shape_t *added;
        int nadded;
        spate_serde_t *serde;
        /* connection */
        int fd, state, attempt;
        int64_t state_since, next_attempt, last_sent, last_recv;
        spate_buf_t in, out, rec;
        uint64_t rnd;
        /* packet ids received and not acknowledged yet, in order */
        uint16_t *pend;
        size_t npend, cap, nflushed;
        uint64_t gen, flushed_gen;   /* connection generation: ids are per connection */
        /* counters */
        uint64_t n_msgs, n_dlq, n_acked, n_connects, n_redelivered;
        int64_t last_report;
} msrc_t;

static const spate_prop_t msrc_props[] = {
        { "url", SPATE_P_STR, 1, NULL, NULL, "the broker, mqtt://HOST:PORT (e.g. ${MQTT_URL}); no TLS" },
        { "topics", SPATE_P_LIST, 1, NULL, NULL, "topic filters to subscribe to with QoS 1; a wildcard level may name a field: sensors/+sensor_id/+kind, or #rest for the remaining levels" },
        { "topic", SPATE_P_STR, 1, NULL, NULL, "the Kafka topic every message is written to first (the records downstream are read back from it)" },
        { "partitions", SPATE_P_COUNT, 0, "8", NULL, "partition count when spate creates the topic" },
        { "key", SPATE_P_STR, 0, NULL, NULL, "a field named in topics that keys the Kafka record (default: the MQTT topic)" },
        { "username", SPATE_P_STR, 0, "", NULL, "e.g. ${MQTT_USERNAME:-}" },
        { "password", SPATE_P_STR, 0, "", NULL, "e.g. ${MQTT_PASSWORD:-}; never logged" },
        { "client_id", SPATE_P_STR, 0, NULL, NULL, "fixed per instance, so the broker keeps its session across restarts (default spate-<application>-<node>)" },
        { "keepalive", SPATE_P_DURATION, 0, "30s", NULL, "MQTT keepalive; a broker silent for 1.5 times it is reconnected to" },
        { "session_expiry", SPATE_P_DURATION, 0, "1d", NULL, "how long the broker keeps the session (and queues messages) while spate is away" },
        { "receive_max", SPATE_P_COUNT, 0, "4096", NULL, "QoS 1 messages the broker may send before their PUBACKs (at most 65535)" },
        { NULL }
};

static const spate_bind_t msrc_binds[] = {
        SPATE_BIND("topic", msrc_t, raw_topic),
        SPATE_BIND("partitions", msrc_t, partitions),
        SPATE_BIND("key", msrc_t, key_field),
        SPATE_BIND("username", msrc_t, username),
        SPATE_BIND("password", msrc_t, password),
        SPATE_BIND("keepalive", msrc_t, keepalive_ms),
        { NULL }
};

/* --- parameters ------------------------------------------------------------ */
/* mqtt://HOST:PORT (tcp:// too; the port defaults to 1883). A user:password@
 * part is refused: credentials belong in username/password, which stay out
 * of the logs. */
static int parse_url(msrc_t *p, const char *url, char *err, size_t err_size) {
        const char *s = url;
        if (!strncmp(s, "mqtt://", 7) || !strncmp(s, "tcp://", 6))
                s = strchr(s, '/') + 2;
        else if (strstr(s, "://")) {
                snprintf(err, err_size, "url: only mqtt://HOST:PORT is supported (no TLS)");
                return -1;
        }
        if (strchr(s, '@')) {
                snprintf(err, err_size, "url: put credentials in username/password, not in the URL");
                return -1;
        }
        const char *colon = strrchr(s, ':'), *end = s + strcspn(s, "/");
        size_t hl = colon && colon < end ? (size_t)(colon - s) : (size_t)(end - s);
        if (!hl || hl >= sizeof(p->host)) {
                snprintf(err, err_size, "url '%s': no host (write mqtt://HOST:PORT)", url);
                return -1;
        }
        memcpy(p->host, s, hl);
        p->host[hl] = '\0';
        if (colon && colon < end) {
                size_t pl = (size_t)(end - colon - 1);
                char *e;
                long port = strtol(colon + 1, &e, 10);
                if (!pl || pl >= sizeof(p->port) || e != end || port < 1 || port > 65535) {
                        snprintf(err, err_size, "url '%s': the port must be 1-65535", url);
                        return -1;
                }
                memcpy(p->port, colon + 1, pl);
                p->port[pl] = '\0';
        } else {
                snprintf(p->port, sizeof(p->port), "1883");
        }
        return 0;
}

/* Adds a name spate writes in front of the payload; -1 if it is there already. */
static int add_name(msrc_t *p, const char *name) {
        if (spate_shape_field(&p->pool, p->added, name, strlen(name), 0) >= 0)
                return -1;
        spate_shape_field(&p->pool, p->added, name, strlen(name), 1);
        p->nadded++;
        return 0;
}

static int parse_patterns(spate_node_t *n, msrc_t *p, char *errstr, size_t errstr_size) {
        const spate_yaml_t *list = spate_node_param(n, "topics");
        char err[512];
        if (!list->n)
                return spate_node_error(n, list, errstr, errstr_size, "topics: give at least one filter");
        p->npats = list->n;
        p->pats = spate_xcalloc((size_t)p->npats, sizeof(*p->pats));
        p->filters = spate_xcalloc((size_t)p->npats, sizeof(*p->filters));
        p->added = spate_shape_new(&p->pool, 1);
        add_name(p, "mqtt_topic");
        add_name(p, "mqtt_id");
        int key_found = !p->key_field;
        for (int i = 0; i < list->n; i++) {
                const spate_yaml_t *y = list->items[i];
                if (y->kind != SPATE_YAML_SCALAR)
                        return spate_node_error(n, y, errstr, errstr_size, "topics: each item is a "
                                                "topic filter such as sensors/+sensor_id/+kind");
                if (mqtt_pattern_parse(y->value, &p->pats[i], err, sizeof(err)))
                        return spate_node_error(n, y, errstr, errstr_size, "%s", err);
                p->filters[i] = p->pats[i].filter;
                for (int l = 0; l < p->pats[i].nlevels; l++) {
                        const char *name = p->pats[i].names[l];
                        if (!name)
                                continue;
                        if (!strcmp(name, "mqtt_topic") || !strcmp(name, "mqtt_id"))
                                return spate_node_error(n, y, errstr, errstr_size, "'%s' is a field "
                                                        "spate adds; name the level otherwise", name);
                        add_name(p, name);  /* a name in two patterns is one field */
                        key_found |= p->key_field && !strcmp(name, p->key_field);
                }
        }
        if (!key_found)
                return spate_node_error(n, spate_node_param(n, "key"), errstr, errstr_size,
                                        "key '%s' is not a field named in topics (e.g. +%s)",
                                        p->key_field, p->key_field);
        return 0;
}

static int msrc_init(spate_node_t *n, char *errstr, size_t errstr_size) {
        msrc_t *p = n->ctx;
        char err[512];
        p->fd = -1;
        if (parse_url(p, spate_node_str(n, "url"), err, sizeof(err)))
                return spate_node_error(n, spate_node_param(n, "url"), errstr, errstr_size, "%s", err);
        if (parse_patterns(n, p, errstr, errstr_size))
                return -1;
        const char *cid = spate_node_str(n, "client_id");
        if (cid)
                snprintf(p->client_id, sizeof(p->client_id), "%s", cid);
        else
                snprintf(p->client_id, sizeof(p->client_id), "spate-%s-%s", n->topo->application,
                         n->name);
        if (!*p->client_id || strlen(p->client_id) > 200)
                return spate_node_error(n, spate_node_param(n, "client_id"), errstr, errstr_size,
                                        "client_id must be 1-200 bytes");
        if (p->keepalive_ms < 1000 || p->keepalive_ms > 65535000)
                return spate_node_error(n, spate_node_param(n, "keepalive"), errstr, errstr_size,
                                        "keepalive must be 1s to 18h");
        int64_t exp = spate_node_duration(n, "session_expiry") / 1000;
        if (exp < 1 || exp > 0xfffffffe)
                return spate_node_error(n, spate_node_param(n, "session_expiry"), errstr, errstr_size,
                                        "session_expiry must be at least 1s (a session that ends "
                                        "at disconnect loses what was not acknowledged)");
        p->session_expiry_s = (uint32_t)exp;
        int64_t rm = spate_node_int(n, "receive_max");
        if (rm > 65535)
                return spate_node_error(n, spate_node_param(n, "receive_max"), errstr, errstr_size,
                                        "receive_max is at most 65535");
        p->receive_max = (uint16_t)rm;
        n->out = spate_shape_new(spate_node_shapes(n), 1);
        if (!(p->serde = spate_serde_new(n->topo, "json", NULL, err, sizeof(err))))
                return spate_node_error(n, NULL, errstr, errstr_size, "%s", err);
        spate_topology_declare_topic(n->topo, n, p->raw_topic, p->partitions, 0, SPATE_TOPIC_SOURCE);
        p->rnd = (uint64_t)spate_now_ms() * 2654435761u | 1;
        return 0;
}

/* --- connection ------------------------------------------------------------ */
static int64_t backoff(msrc_t *p) {
        int64_t d = BACKOFF_BASE_MS << (p->attempt < 6 ? p->attempt : 6);
        if (d > BACKOFF_CAP_MS)
                d = BACKOFF_CAP_MS;
        p->rnd ^= p->rnd << 13;
        p->rnd ^= p->rnd >> 7;
        p->rnd ^= p->rnd << 17;
        p->attempt++;
        return d / 2 + (int64_t)(p->rnd % (uint64_t)(d / 2 + 1));
}

/* Drops the connection and schedules the next attempt. The packet ids not
 * acknowledged belong to it: the broker redelivers those messages on the
 * next connection, where they are produced and acknowledged anew. */
static void conn_down(msrc_t *p, int64_t now, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void conn_down(msrc_t *p, int64_t now, const char *fmt, ...) {
        char why[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        if (p->fd >= 0)
                close(p->fd);
        p->fd = -1;
        p->state = DOWN;
        p->in.len = p->out.len = 0;
        p->npend = p->nflushed = 0;
        p->gen++;
        int64_t d = backoff(p);
        p->next_attempt = now + d;
        spate_warn("mqtt_source: %s:%s: %s; reconnecting in %lld ms", p->host, p->port, why,
                   (long long)d);
}

static void conn_start(msrc_t *p, int64_t now) {
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
        int rc = getaddrinfo(p->host, p->port, &hints, &ai);
        if (rc) {
                conn_down(p, now, "cannot resolve: %s", gai_strerror(rc));
                return;
        }
        p->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (p->fd < 0 || (connect(p->fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS)) {
                freeaddrinfo(ai);
                conn_down(p, now, "connect: %s", strerror(errno));
                return;
        }
        freeaddrinfo(ai);
        int one = 1;
        setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        p->state = CONNECTING;
        p->state_since = now;
}

/* Writes what the output buffer holds, as far as the socket takes it. */
static int conn_write(msrc_t *p, int64_t now) {
        size_t off = 0;
        while (off < p->out.len) {
                ssize_t w = send(p->fd, p->out.data + off, p->out.len - off, MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        break;
                if (w < 0) {
                        conn_down(p, now, "send: %s", strerror(errno));
                        return -1;
                }
                off += (size_t)w;
                p->last_sent = now;
        }
        memmove(p->out.data, p->out.data + off, p->out.len - off);
        p->out.len -= off;
        return 0;
}

/* A non-blocking connect completed (or failed): send CONNECT. */
static void conn_established(msrc_t *p, int64_t now) {
        struct pollfd pf = { .fd = p->fd, .events = POLLOUT };
        if (poll(&pf, 1, 0) <= 0) {
                if (now - p->state_since > HANDSHAKE_MS)
                        conn_down(p, now, "connect: timed out");
                return;
        }
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
                conn_down(p, now, "connect: %s", strerror(err));
                return;
        }
        mqtt_connect_t c = { .client_id = p->client_id, .username = p->username,
                             .password = p->password, .keepalive_s = (int)(p->keepalive_ms / 1000),
                             .session_expiry_s = p->session_expiry_s, .receive_max = p->receive_max };
        mqtt_put_connect(&p->out, &c);
        p->state = WAIT_CONNACK;
        p->state_since = p->last_recv = now;
        conn_write(p, now);
}

/* --- messages -------------------------------------------------------------- */
static void dead_letter(spate_node_t *n, spate_ctx_t *ctx, const mqtt_publish_t *m,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void dead_letter(spate_node_t *n, spate_ctx_t *ctx, const mqtt_publish_t *m,
                        const char *fmt, ...) {
        msrc_t *p = n->ctx;
        char what[640];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        char *origin = spate_arena_alloc(spate_ctx_arena(ctx), m->topic_len + 6);
        memcpy(origin, "mqtt:", 5);
        memcpy(origin + 5, m->topic, m->topic_len);
        origin[m->topic_len + 5] = '\0';
        spate_ctx_fail(ctx, n, "MQTT topic %s: %s", origin + 5, what);
        spate_origin_t o = { .topic = origin, .partition = -1, .offset = -1, .payload = m->payload,
                             .len = m->len, .key = m->topic, .key_len = m->topic_len,
                             .up_partition = -1, .up_offset = -1 };
        spate_ctx_dead_letter(ctx, &o);
        p->n_dlq++;
}

static int utf8_ok(const char *s, size_t n) {
        for (size_t i = 0, l; i < n; i += l)
                if (!(l = spate_utf8_len((const unsigned char *)s + i, n - i)))
                        return 0;
        return 1;
}

/* The payload's object with mqtt_topic, mqtt_id and the topic fields in
 * front, into p->rec; the key into *key. 0, or -1 after dead-lettering. */
static int build_record(spate_node_t *n, spate_ctx_t *ctx, const mqtt_publish_t *m,
                        const char **key, size_t *key_len) {
        msrc_t *p = n->ctx;
        size_t off[MQTT_MAX_LEVELS], span[MQTT_MAX_LEVELS];
        spate_value_t v;
        char err[512];
        if (!utf8_ok(m->topic, m->topic_len)) {
                dead_letter(n, ctx, m, "the topic is not UTF-8");
                return -1;
        }
        if (spate_json_decode(p->added, (const char *)m->payload, m->len, spate_ctx_arena(ctx), &v,
                              err, sizeof(err))) {
                dead_letter(n, ctx, m, "payload is not a JSON object: %s", err);
                return -1;
        }
        for (int i = 0; i < p->nadded; i++)
                if (v.u.items[i].type != SPATE_V_MISSING) {
                        dead_letter(n, ctx, m, "payload member '%s' clashes with a field spate adds "
                                    "(mqtt_topic, mqtt_id or a level named in topics)",
                                    p->added->fields[i].name);
                        return -1;
                }
        uint64_t h = spate_hash_bytes(SPATE_HASH_INIT, m->topic, m->topic_len);
        h = spate_hash_bytes(h, "", 1);
        h = spate_hash_bytes(h, m->payload, m->len);
        char id[24];
        snprintf(id, sizeof(id), "%016llx", (unsigned long long)h);
        spate_buf_t *b = &p->rec;
        b->len = 0;
        spate_buf_put(b, "{\"mqtt_topic\":", 14);
        spate_json_write_str(b, m->topic, m->topic_len);
        spate_buf_put(b, ",\"mqtt_id\":\"", 12);
        spate_buf_put(b, id, 16);
        spate_buf_putc(b, '"');
        *key = m->topic;
        *key_len = m->topic_len;
        for (int i = 0; i < p->npats; i++) {
                const mqtt_pattern_t *pat = &p->pats[i];
                if (!mqtt_pattern_match(pat, m->topic, m->topic_len, off, span))
                        continue;
                for (int l = 0; l < pat->nlevels; l++) {
                        if (!pat->names[l])
                                continue;
                        spate_buf_putc(b, ',');
                        spate_json_write_str(b, pat->names[l], strlen(pat->names[l]));
                        spate_buf_putc(b, ':');
                        spate_json_write_str(b, m->topic + off[l], span[l]);
                        if (p->key_field && !strcmp(pat->names[l], p->key_field)) {
                                *key = m->topic + off[l];
                                *key_len = span[l];
                        }
                }
                break;
        }
        /* The payload is a valid object: what follows its '{' is its members
         * and '}', or only '}'. */
        const char *s = memchr(m->payload, '{', m->len), *end = (const char *)m->payload + m->len;
        const char *q = s + 1;
        while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
                q++;
        if (*q != '}')
                spate_buf_putc(b, ',');
        spate_buf_put(b, q, (size_t)(end - q));
        return 0;
}

static void on_publish(spate_node_t *n, spate_ctx_t *ctx, const mqtt_publish_t *m) {
        msrc_t *p = n->ctx;
        const char *key;
        size_t key_len;
        spate_arena_reset(spate_ctx_arena(ctx));
        p->n_msgs++;
        p->n_redelivered += m->dup;
        if (!build_record(n, ctx, m, &key, &key_len) &&
            spate_ctx_produce(ctx, p->raw_topic, -1, key, key_len, p->rec.data, p->rec.len)) {
                spate_warn("mqtt_source: could not queue a message of %.*s for %s: %s",
                           (int)m->topic_len, m->topic, p->raw_topic, ctx->errstr);
                return;   /* not acknowledged: redelivered on the next connection */
        }
        if (m->qos == 0)
                return;
        if (p->npend == p->cap) {
                p->cap = p->cap ? p->cap * 2 : 1024;
                p->pend = spate_xrealloc(p->pend, p->cap * sizeof(*p->pend));
        }
        p->pend[p->npend++] = m->id;
        /* The broker sends at most receive_max before our PUBACKs: commit early
         * rather than let it wait for the commit interval. */
        if (p->npend >= (size_t)p->receive_max / 2)
                spate_ctx_request_commit(ctx);
}

static void on_connack(msrc_t *p, const mqtt_packet_t *pk, int64_t now) {
        int present, reason;
        const char *why;
        if (mqtt_parse_connack(pk, &present, &reason, &why)) {
                conn_down(p, now, "bad CONNACK: %s", why);
                return;
        }
        if (reason) {
                conn_down(p, now, "connection refused: %s (0x%02x)%s", mqtt_reason_text(reason),
                          reason, reason == 0x86 || reason == 0x87 ?
                          " - check username/password (MQTT_USERNAME, MQTT_PASSWORD)" : "");
                return;
        }
        p->n_connects++;
        spate_info("mqtt_source: connected to %s:%s as %s (%s)", p->host, p->port, p->client_id,
                   present ? "session resumed" : "new session");
        mqtt_put_subscribe(&p->out, 1, p->filters, p->npats);
        p->state = WAIT_SUBACK;
        p->state_since = now;
}

static void on_suback(msrc_t *p, const mqtt_packet_t *pk, int64_t now) {
        uint16_t id;
        const uint8_t *codes;
        size_t nc;
        const char *why;
        if (mqtt_parse_suback(pk, &id, &codes, &nc, &why) || nc != (size_t)p->npats) {
                conn_down(p, now, "bad SUBACK: %s", nc != (size_t)p->npats ? "wrong count" : why);
                return;
        }
        for (size_t i = 0; i < nc; i++)
                if (codes[i] >= 0x80)
                        spate_err("mqtt_source: the broker refused the subscription to '%s': %s "
                                  "(0x%02x)", p->filters[i], mqtt_reason_text(codes[i]), codes[i]);
        p->state = UP;
        p->attempt = 0;
}

/* One packet from the broker. */
static void on_packet(spate_node_t *n, spate_ctx_t *ctx, const mqtt_packet_t *pk, int64_t now) {
        msrc_t *p = n->ctx;
        const char *why;
        int reason;
        mqtt_publish_t m;
        if (p->state == WAIT_CONNACK && pk->type != MQTT_CONNACK) {
                conn_down(p, now, "expected CONNACK, got packet type %d", pk->type);
                return;
        }
        switch (pk->type) {
        case MQTT_CONNACK:
                on_connack(p, pk, now);
                return;
        case MQTT_SUBACK:
                on_suback(p, pk, now);
                return;
        case MQTT_PUBLISH:
                if (mqtt_parse_publish(pk, &m, &why))
                        conn_down(p, now, "bad PUBLISH: %s", why);
                else
                        on_publish(n, ctx, &m);
                return;
        case MQTT_PINGRESP:
                return;
        case MQTT_DISCONNECT:
                if (mqtt_parse_disconnect(pk, &reason, &why))
                        conn_down(p, now, "bad DISCONNECT: %s", why);
                else
                        conn_down(p, now, "the broker disconnected: %s (0x%02x)",
                                  mqtt_reason_text(reason), reason);
                return;
        default:
                conn_down(p, now, "unexpected packet type %d", pk->type);
        }
}

/* Reads what arrived and handles every whole packet. */
static void conn_read(spate_node_t *n, spate_ctx_t *ctx, int64_t now) {
        msrc_t *p = n->ctx;
        size_t got = 0;
        while (p->state != DOWN && got < READ_BUDGET) {
                if (p->in.cap - p->in.len < (1u << 16))
                        spate_buf_grow(&p->in, 1u << 16);
                ssize_t r = recv(p->fd, p->in.data + p->in.len, p->in.cap - p->in.len, 0);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        break;
                if (r <= 0) {
                        conn_down(p, now, "%s", r ? strerror(errno) : "the broker closed the connection");
                        return;
                }
                got += (size_t)r;
                p->in.len += (size_t)r;
                p->last_recv = now;
                size_t off = 0, used;
                mqtt_packet_t pk;
                const char *why;
                int rc;
                uint64_t gen = p->gen;
                while ((rc = mqtt_frame((const uint8_t *)p->in.data + off, p->in.len - off, MAX_PACKET,
                                        &pk, &used, &why)) == 1) {
                        on_packet(n, ctx, &pk, now);
                        if (p->gen != gen)   /* the connection went down: its bytes too */
                                return;
                        off += used;
                }
                if (rc < 0) {
                        conn_down(p, now, "%s", why);
                        return;
                }
                memmove(p->in.data, p->in.data + off, p->in.len - off);
                p->in.len -= off;
        }
}

static void report(msrc_t *p, int64_t now) {
        spate_info("mqtt_source: %llu messages (%llu dead letters, %llu redelivered), %llu "
                   "acknowledged, %zu awaiting Kafka; %s", (unsigned long long)p->n_msgs,
                   (unsigned long long)p->n_dlq, (unsigned long long)p->n_redelivered,
                   (unsigned long long)p->n_acked, p->npend,
                   p->state == UP ? "connected" : "not connected");
        p->last_report = now;
}

static int msrc_punctuate(spate_node_t *n, spate_ctx_t *ctx) {
        msrc_t *p = n->ctx;
        int64_t now = spate_mono_ms();
        if (!p->last_report)
                p->last_report = now;
        if (p->state == DOWN && now >= p->next_attempt)
                conn_start(p, now);
        if (p->state == CONNECTING)
                conn_established(p, now);
        if (p->state >= WAIT_CONNACK) {
                conn_read(n, ctx, now);
                if (p->state >= WAIT_CONNACK && p->state < UP && now - p->state_since > HANDSHAKE_MS)
                        conn_down(p, now, "no %s within %d s", p->state == WAIT_CONNACK ? "CONNACK" :
                                  "SUBACK", HANDSHAKE_MS / 1000);
                else if (p->state >= WAIT_CONNACK && now - p->last_recv > p->keepalive_ms * 3 / 2)
                        conn_down(p, now, "no packet from the broker for %lld ms",
                                  (long long)(now - p->last_recv));
                else if (p->state >= WAIT_CONNACK && now - p->last_sent >= p->keepalive_ms / 2)
                        mqtt_put_pingreq(&p->out);
                if (p->state >= WAIT_CONNACK && p->out.len)
                        conn_write(p, now);
        }
        if (now - p->last_report >= 10000)
                report(p, now);
        return 0;
}

/* --- commit ---------------------------------------------------------------- */
/* Commit, phase 1: the messages received so far are what this commit covers. */
static int msrc_flush(spate_node_t *n, spate_ctx_t *ctx) {
        msrc_t *p = n->ctx;
        (void)ctx;
        p->nflushed = p->npend;
        p->flushed_gen = p->gen;
        return 0;
}

/* Commit, phase 2: Kafka acknowledged their records (or dead letters), so the
 * broker may forget them. */
static int msrc_checkpoint(spate_node_t *n, spate_ctx_t *ctx) {
        msrc_t *p = n->ctx;
        (void)ctx;
        if (p->flushed_gen != p->gen || !p->nflushed)
                return 0;
        for (size_t i = 0; i < p->nflushed; i++)
                mqtt_put_puback(&p->out, p->pend[i]);
        p->n_acked += p->nflushed;
        memmove(p->pend, p->pend + p->nflushed, (p->npend - p->nflushed) * sizeof(*p->pend));
        p->npend -= p->nflushed;
        p->nflushed = 0;
        conn_write(p, spate_mono_ms());
        return 0;
}

/* The records downstream: read back from the Kafka topic. */
static int msrc_process(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx) {
        msrc_t *p = n->ctx;
        const spate_origin_t *o = rec->origin;
        char err[512];
        if (spate_serde_decode(p->serde, n->out, NULL, o->payload, o->len, spate_ctx_arena(ctx), &rec->value,
                               err, sizeof(err)))
                return spate_ctx_fail(ctx, n, "%s", err);
        return spate_emit(n, rec, ctx);
}

static void msrc_destroy(spate_node_t *n) {
        msrc_t *p = n->ctx;
        if (p->n_msgs || p->n_connects)
                report(p, spate_mono_ms());
        if (p->fd >= 0 && p->state >= WAIT_CONNACK) {
                /* The last commit's PUBACKs, then a normal DISCONNECT: the
                 * session stays, with whatever was not acknowledged. */
                struct timeval tv = { .tv_sec = 2 };
                fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) & ~O_NONBLOCK);
                setsockopt(p->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
                mqtt_put_disconnect(&p->out);
                conn_write(p, spate_mono_ms());
        }
        if (p->fd >= 0)
                close(p->fd);
        for (int i = 0; p->pats && i < p->npats; i++)
                mqtt_pattern_free(&p->pats[i]);
        free(p->pats);
        free(p->filters);
        free(p->pend);
        spate_buf_free(&p->in);
        spate_buf_free(&p->out);
        spate_buf_free(&p->rec);
        spate_serde_destroy(p->serde);
        spate_shape_pool_destroy(&p->pool);
}

const spate_op_def_t spate_op_mqtt_source = {
        .name = "mqtt_source",
        .role = SPATE_ROLE_SOURCE,
        .doc = "Subscribes to MQTT topic filters (QoS 1) and writes each JSON message, with fields "
               "from the topic levels, to a Kafka topic first; acknowledges to the broker once "
               "Kafka has it. Records downstream are read back from that topic.",
        .props = msrc_props,
        .binds = msrc_binds,
        .ctx_size = sizeof(msrc_t),
        .init = msrc_init,
        .process = msrc_process,
        .punctuate = msrc_punctuate,
        .flush = msrc_flush,
        .checkpoint = msrc_checkpoint,
        .destroy = msrc_destroy,
        .replayable = 1,
        .punctuate_ms = 10,
};
