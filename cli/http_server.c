/* http_server.c - the HTTP side of `spate run --http ADDR` (libmicrohttpd, a
 * thread per connection so that an event stream may block on the live hub
 * while /metrics answers): /metrics renders the default metrics registry,
 * /health and /ready ask the engine, / is the live map (web/map.html, built
 * in), /events streams live.h's changes as Server-Sent Events, /state/...
 * answers interactive queries (iq_http.c). */
#include "http_server.h"
#include "iq_http.h"
#include "../util/buf.h"
#include "../engine/live.h"
#include "../util/log.h"
#include "../engine/metrics.h"
#include "../util/util.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

extern const char spate_map_html[];   /* cli/map_page.c */
extern const unsigned spate_map_html_len;

struct spate_http_server {
        struct MHD_Daemon *daemon;
        spate_engine_t *engine;
        char *regions_path;
        char *url;                 /* http://HOST:PORT/ as bound */
        spate_iq_peers_t *peers;   /* NULL: no /state, or one instance */
        spate_iq_http_t *iq;       /* NULL: no /state */
};

/* One /events stream: what is still to send of the last batch of changes. */
typedef struct stream {
        uint64_t cursor;
        int64_t last_batch;        /* monotonic ms */
        spate_buf_t pending;
        size_t off;
} stream_t;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             void *body, size_t len, enum MHD_ResponseMemoryMode mode) {
        struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
        enum MHD_Result rc;
        if (!r)
                return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        rc = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return rc;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *body) {
        return reply(c, status, "text/plain; charset=utf-8", (void *)body, strlen(body),
                     MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result metrics(struct MHD_Connection *c) {
        spate_buf_t b = { 0 };
        spate_metrics_render(spate_metrics_default(), &b);
        if (!b.data)
                spate_buf_grow(&b, 1);
        return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len,
                     MHD_RESPMEM_MUST_FREE);
}

/* Batches are at least this far apart: collecting one scans the hub under
 * its lock, which the engine thread needs for every record it offers. */
#define BATCH_GAP_MS 250

/* Sends the pending batch, then waits for the next one (a keep-alive comment
 * every 15 s of quiet, so proxies and browsers keep the stream open). */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
        stream_t *st = cls;
        (void)pos;
        while (st->off == st->pending.len) {
                int64_t since = spate_mono_ms() - st->last_batch;
                if (since < BATCH_GAP_MS)
                        usleep((useconds_t)(BATCH_GAP_MS - since) * 1000);
                st->last_batch = spate_mono_ms();
                st->pending.len = st->off = 0;
                int n = spate_live_changes(&st->cursor, 15000, &st->pending);
                if (n < 0)
                        return MHD_CONTENT_READER_END_OF_STREAM;
                if (n == 0)
                        spate_buf_put(&st->pending, ": keep-alive\n\n", 14);
        }
        size_t len = st->pending.len - st->off < max ? st->pending.len - st->off : max;
        memcpy(buf, st->pending.data + st->off, len);
        st->off += len;
        return (ssize_t)len;
}

static void stream_free(void *cls) {
        stream_t *st = cls;
        spate_live_unsubscribe();
        spate_buf_free(&st->pending);
        free(st);
}

static enum MHD_Result events(struct MHD_Connection *c) {
        stream_t *st = calloc(1, sizeof(*st));
        struct MHD_Response *r;
        enum MHD_Result rc;
        if (!st)
                return MHD_NO;
        spate_live_subscribe();    /* until stream_free(): the run's records are kept from now on */
        if (!(r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_read, st,
                                                    stream_free))) {
                stream_free(st);
                return MHD_NO;
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        rc = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return rc;
}

static enum MHD_Result file(struct MHD_Connection *c, const char *path, const char *type) {
        FILE *f = path ? fopen(path, "rb") : NULL;
        spate_buf_t b = { 0 };
        char chunk[65536];
        size_t n;
        if (!f)
                return text(c, MHD_HTTP_NOT_FOUND, "no regions file (the topology has no geo_region node)\n");
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                spate_buf_put(&b, chunk, n);
        fclose(f);
        if (!b.data)
                spate_buf_grow(&b, 1);
        return reply(c, MHD_HTTP_OK, type, b.data, b.len, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *data_size, void **state) {
        spate_http_server_t *s = cls;
        (void)version;
        (void)data;
        (void)data_size;
        (void)state;
        if (strcmp(method, "GET") && strcmp(method, "HEAD"))
                return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n");
        if (!strcmp(url, "/metrics"))
                return metrics(c);
        if (!strcmp(url, "/health"))
                return spate_engine_live(s->engine) ? text(c, MHD_HTTP_OK, "ok\n")
                                                     : text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "stopped\n");
        if (!strcmp(url, "/ready"))
                return spate_engine_ready(s->engine)
                        ? text(c, MHD_HTTP_OK, "ready\n")
                        : text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready: no partitions assigned or "
                               "state restoring\n");
        if (!strcmp(url, "/"))
                return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", (void *)spate_map_html,
                             spate_map_html_len, MHD_RESPMEM_PERSISTENT);
        if (!strcmp(url, "/events"))
                return events(c);
        if (!strcmp(url, "/regions.geojson"))
                return file(c, s->regions_path, "application/geo+json");
        if (s->iq && !strncmp(url, "/state", 6) && (!url[6] || url[6] == '/'))
                return spate_iq_http_answer(s->iq, c, url);
        return text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics, /health, /ready, /state, / (the map)\n");
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
        char msg[512];
        (void)cls;
        vsnprintf(msg, sizeof(msg), fmt, ap);
        msg[strcspn(msg, "\n")] = '\0';
        spate_warn("http: %s", msg);
}

/* HOST:PORT, [IPV6]:PORT or :PORT (every interface). */
static int split_addr(const char *addr, char *host, size_t hsize, const char **port) {
        const char *colon = strrchr(addr, ':');
        size_t hlen;
        if (!colon || !colon[1])
                return -1;
        hlen = (size_t)(colon - addr);
        if (hlen >= 2 && addr[0] == '[' && addr[hlen - 1] == ']') {
                addr++;
                hlen -= 2;
        }
        if (hlen >= hsize)
                return -1;
        memcpy(host, addr, hlen);
        host[hlen] = '\0';
        *port = colon + 1;
        return 0;
}

spate_http_server_t *spate_http_start(const char *addr, spate_engine_t *engine, const char *regions_path,
                                      char *errstr, size_t errstr_size) {
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                  .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
        struct addrinfo *ai = NULL;
        char host[256];
        const char *port;
        int err;
        spate_http_server_t *s;
        if (split_addr(addr, host, sizeof(host), &port)) {
                snprintf(errstr, errstr_size, "--http %s: want HOST:PORT (e.g. 127.0.0.1:9464)", addr);
                return NULL;
        }
        if ((err = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai))) {
                snprintf(errstr, errstr_size, "--http %s: %s", addr, gai_strerror(err));
                return NULL;
        }
        if (!(s = calloc(1, sizeof(*s))) || (regions_path && !(s->regions_path = strdup(regions_path)))) {
                snprintf(errstr, errstr_size, "out of memory");
                freeaddrinfo(ai);
                free(s);
                return NULL;
        }
        s->engine = engine;
        s->daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                     MHD_USE_ERROR_LOG | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0),
                                     0, NULL, NULL, on_request, s,
                                     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
                                     MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                     /* a thread each: 100 BI clients with keep-alive plus
                                      * the peers' forwarded queries */
                                     MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
                                     MHD_OPTION_END);
        freeaddrinfo(ai);
        if (!s->daemon) {
                snprintf(errstr, errstr_size, "--http %s: cannot listen (address in use?)", addr);
                spate_http_stop(s);
                return NULL;
        }
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
        char url[300];
        int v6 = strchr(host, ':') != NULL;
        snprintf(url, sizeof(url), "http://%s%s%s:%u", v6 ? "[" : "", host[0] ? host : "0.0.0.0", v6 ? "]" : "",
                 info ? info->port : 0);
        if (!(s->url = strdup(url))) {
                spate_http_stop(s);
                return NULL;
        }
        spate_info("http: listening on %s/ (map), /metrics, /health, /ready, /state", url);
        return s;
}

int spate_http_serve_state(spate_http_server_t *s, const spate_topology_t *t, const char *advertise, char *errstr,
                           size_t errstr_size) {
        char url[512], host[256];
        const char *port = strrchr(s->url, ':');
        snprintf(url, sizeof(url), "%s", advertise && *advertise ? advertise : s->url);
        /* Every interface is no address for the others: this host's name is (compose's
         * scaled services share one environment, so one --http-advertise cannot do). */
        if ((!advertise || !*advertise) && (!strncmp(s->url, "http://0.0.0.0:", 15) || !strncmp(s->url, "http://[::]:", 12))) {
                if (gethostname(host, sizeof(host))) {
                        snprintf(errstr, errstr_size, "--http %s listens on every interface: say with "
                                 "--http-advertise http://HOST:PORT where the other instances reach this one",
                                 s->url + 7);
                        return -1;
                }
                host[sizeof(host) - 1] = '\0';
                snprintf(url, sizeof(url), "http://%s%s", host, port);
                spate_info("http: advertising %s to the other instances (--http-advertise to choose)", url);
        }
        if (!(s->peers = spate_iq_peers_start(t, url, errstr, errstr_size)))
                return -1;
        /* The token stays in memory only: never logged, never forwarded but to a peer. */
        if (!(s->iq = spate_iq_http_new(s->engine, t, s->peers, getenv("SPATE_HTTP_TOKEN")))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        return 0;
}

void spate_http_stop(spate_http_server_t *s) {
        if (!s)
                return;
        spate_live_shutdown();     /* event streams end, so their threads can be joined */
        if (s->daemon)
                MHD_stop_daemon(s->daemon);
        spate_iq_http_free(s->iq);
        spate_iq_peers_stop(s->peers);
        free(s->url);
        free(s->regions_path);
        free(s);
}
