/* weather_server.c - the HTTP side of weather-sim: One Call and Current Weather endpoints, API
 * keys, rate limits, injected faults, the request log and /stats.
 *
 * Served by libmicrohttpd with an epoll thread pool.  Requests that must answer late
 * (--latency-ms, --timeout-rate) are suspended and resumed by a timer thread (delayq.c)
 * instead of sleeping in a worker, so a hung request costs a socket, not a thread.
 *
 * POST /sim/control?latency_ms=N changes --latency-ms while serving (a slow episode in a test).
 *
 * Faults are drawn from hash(seed, n, fault) where n numbers the requests that got past the
 * key and rate-limit checks, in arrival order: one client issuing requests one by one sees the
 * same faults on every run; concurrent clients see the same distribution. */
#include "weather_server.h"
#include "delayq.h"
#include "ratelimit.h"
#include "weather_onecall.h"
#include "../util/log.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define BODY_401 "{\"cod\":401, \"message\": \"Invalid API key. Please see " \
                 "https://openweathermap.org/faq#error401 for more info.\"}"
#define BODY_429 "{\"cod\":429, \"message\": \"Your account is temporary blocked due to " \
                 "exceeding of requests limitation of your subscription type. Please choose " \
                 "the proper subscription https://openweathermap.org/price\"}"
#define BODY_500 "{\"cod\":500, \"message\": \"Internal server error\"}"
#define BODY_404 "{\"cod\":\"404\",\"message\":\"Internal error\"}"
#define MAX_STATUS 600

enum fault {
        FAULT_NONE = 0, FAULT_ERROR, FAULT_MALFORMED, FAULT_TRUNCATE, FAULT_TIMEOUT, FAULT_NEGATIVE,
        FAULT_COUNT
};
static const char *fault_names[FAULT_COUNT] = { "-", "error", "malformed", "truncate", "timeout",
                                                "negative" };


struct spate_weather_server {
        spate_weather_server_opts_t o;
        struct MHD_Daemon *daemon;
        spate_ratelimit_t *limiter;
        spate_delayq_t    *delayq;
        FILE              *log;
        pthread_mutex_t    lock;        /* guards log writes and the counters below */
        int64_t            mono_start_ms;
        atomic_ullong      fault_seq;
        atomic_long        delayed_now;
        atomic_long        latency_ms;  /* --latency-ms, changed by POST /sim/control */
        unsigned long      requests, sim_requests;
        unsigned long      by_status[MAX_STATUS];
        unsigned long      faults[FAULT_COUNT];
        unsigned long      delayed;
};

/* One decided answer: what to send, when, and what the log and counters should say. */
struct answer {
        unsigned             status;
        struct MHD_Response *resp;      /* NULL: never answer */
        int64_t              delay_ms;  /* 0 now, SPATE_DELAYQ_NEVER never */
        enum fault           fault;
};

/* State of a suspended request, owned by the connection until request-completed. */
struct pending {
        struct MHD_Connection *conn;
        struct MHD_Response   *resp;
        unsigned               status;
        int                    cancelled;
};

static char first_call_marker;

static uint64_t mix64(uint64_t x) {
        x += 0x9E3779B97F4A7C15ULL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
        return x ^ (x >> 31);
}

static double draw(uint64_t seed, uint64_t n, uint64_t what) {
        return (double)(mix64(mix64(mix64(seed) ^ n) ^ what) >> 11) * 0x1.0p-53;
}

static int64_t wall_ms(void) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int64_t sim_now_s(const spate_weather_server_t *s) {
        double elapsed_s = (double)(spate_delayq_now_ms() - s->mono_start_ms) / 1000.0;
        return s->o.start_s + (int64_t)floor(elapsed_s * s->o.speed);
}

static struct MHD_Response *json_response(const char *body, size_t len) {
        struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body,
                                                                 MHD_RESPMEM_MUST_COPY);
        if (r)
                MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                        "application/json; charset=utf-8");
        return r;
}

/* Takes ownership of body (malloc'd). */
static struct MHD_Response *json_response_owned(char *body, size_t len) {
        struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
        if (!r) {
                free(body);
                return NULL;
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=utf-8");
        return r;
}

struct truncated {
        char  *body;
        size_t cut;
};

/* Sends the first half, then fails the stream: the client sees a Content-Length it never gets,
 * like a connection dropped mid-body. */
static ssize_t truncated_read(void *cls, uint64_t pos, char *buf, size_t max) {
        struct truncated *t = cls;
        if (pos >= t->cut)
                return MHD_CONTENT_READER_END_WITH_ERROR;
        size_t n = t->cut - (size_t)pos < max ? t->cut - (size_t)pos : max;
        memcpy(buf, t->body + pos, n);
        return (ssize_t)n;
}

static void truncated_free(void *cls) {
        struct truncated *t = cls;
        free(t->body);
        free(t);
}

/* Takes ownership of body. */
static struct MHD_Response *truncated_response(char *body, size_t len) {
        struct truncated *t = malloc(sizeof(*t));
        struct MHD_Response *r;

        if (!t) {
                free(body);
                return NULL;
        }
        t->body = body;
        t->cut = len / 2;
        r = MHD_create_response_from_callback(len, 4096, truncated_read, t, truncated_free);
        if (!r) {
                truncated_free(t);
                return NULL;
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=utf-8");
        return r;
}

static struct MHD_Response *malformed_response(uint64_t pick, double lat, double lon) {
        char body[256];
        switch (pick % 4) {
        case 0:
                snprintf(body, sizeof(body), "{\"cod\":200,\"message\":\"oops\"}");
                break;
        case 1:
                snprintf(body, sizeof(body), "<html><body><h1>502 Bad Gateway</h1></body></html>");
                break;
        case 2:
                snprintf(body, sizeof(body), "{\"lat\":%.4f,\"lon\":%.4f,\"timezone\":\"Etc/GMT\","
                         "\"timezone_offset\":0,\"minutely\":\"unavailable\"}", lat, lon);
                break;
        default:
                snprintf(body, sizeof(body), "}{\"minutely\":[{\"dt\":,,\"precipitation\":NaN");
                break;
        }
        return json_response(body, strlen(body));
}

static const char *query(struct MHD_Connection *c, const char *name) {
        return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static int key_accepted(const spate_weather_server_t *s, const char *appid) {
        if (!appid || !*appid)
                return 0;
        if (!s->o.keys)
                return 1;
        size_t n = strlen(appid);
        for (const char *k = s->o.keys; *k;) {
                size_t kn = strcspn(k, ",");
                if (kn == n && !strncmp(k, appid, n))
                        return 1;
                k += kn + (k[kn] == ',');
        }
        return 0;
}

static void error_answer(struct answer *a, unsigned status, const char *body) {
        a->status = status;
        a->resp = json_response(body, strlen(body));
}

/* The documents served: One Call, or Current Weather (no minutely, so no negative fault). */
enum endpoint { EP_ONECALL, EP_CURRENT };

/* Rolls the per-request faults and renders the body that goes with them. */
static void weather_answer(spate_weather_server_t *s, struct MHD_Connection *c, enum endpoint ep,
                           double lat, double lon, struct answer *a) {
        uint64_t n = atomic_fetch_add(&s->fault_seq, 1);
        spate_onecall_req_t req = {
                .lat = lat, .lon = lon, .now_s = sim_now_s(s), .seed = s->o.seed,
                .units = spate_onecall_units_parse(query(c, "units")),
                .exclude = spate_onecall_exclude_parse(query(c, "exclude")),
        };
        size_t len;
        char *body;

        a->delay_ms = atomic_load(&s->latency_ms);
        if (draw(s->o.seed, n, FAULT_TIMEOUT) < s->o.timeout_rate) {
                a->fault = FAULT_TIMEOUT;
                a->delay_ms = s->o.timeout_ms > 0 ? a->delay_ms + s->o.timeout_ms
                                                  : SPATE_DELAYQ_NEVER;
        }
        if (draw(s->o.seed, n, FAULT_ERROR) < s->o.error_rate) {
                a->fault = FAULT_ERROR;
                error_answer(a, 500, BODY_500);
                return;
        }
        a->status = 200;
        if (draw(s->o.seed, n, FAULT_MALFORMED) < s->o.malformed_rate) {
                a->fault = FAULT_MALFORMED;
                a->resp = malformed_response(mix64(n ^ s->o.seed), lat, lon);
                return;
        }
        /* Only on an answer that arrives whole, so the log counts what clients saw. */
        if (a->fault == FAULT_NONE && draw(s->o.seed, n, FAULT_NEGATIVE) < s->o.negative_rate &&
            draw(s->o.seed, n, FAULT_TRUNCATE) >= s->o.truncate_rate &&
            ep == EP_ONECALL && !(req.exclude & SPATE_ONECALL_NO_MINUTELY)) {
                a->fault = FAULT_NEGATIVE;
                req.negative_minute = 1 + (int)(mix64(n ^ s->o.seed ^ FAULT_NEGATIVE) % 61);
        }
        body = ep == EP_ONECALL ? spate_onecall_render(&req, &len) : spate_current_render(&req, &len);
        if (!body)
                return;
        if (draw(s->o.seed, n, FAULT_TRUNCATE) < s->o.truncate_rate) {
                a->fault = FAULT_TRUNCATE;
                a->resp = truncated_response(body, len);
                return;
        }
        a->resp = json_response_owned(body, len);
}

static void rate_limited_answer(struct answer *a, int64_t wait_ms) {
        char secs[32];
        error_answer(a, 429, BODY_429);
        snprintf(secs, sizeof(secs), "%lld", (long long)((wait_ms + 999) / 1000));
        if (a->resp)
                MHD_add_response_header(a->resp, "Retry-After", secs);
}

/* Client ids go into a space-separated log: keep them one printable token. */
static void sanitize_id(const char *in, char *out, size_t size) {
        size_t i = 0;
        if (!in || !*in)
                in = "-";
        for (; in[i] && i + 1 < size; i++)
                out[i] = (in[i] > ' ' && in[i] < 127) ? in[i] : '_';
        out[i] = '\0';
}

static void record(spate_weather_server_t *s, struct MHD_Connection *c, const char *lat,
                   const char *lon, const struct answer *a) {
        char id[65], la[24], lo[24];
        unsigned status = a->delay_ms == SPATE_DELAYQ_NEVER ? 0 : a->status;

        pthread_mutex_lock(&s->lock);
        s->requests++;
        s->by_status[status < MAX_STATUS ? status : 0]++;
        s->faults[a->fault]++;
        s->delayed += a->delay_ms > 0;
        if (s->log) {
                /* Never the appid: logs get pasted into issues. */
                sanitize_id(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Spate-Instance"),
                            id, sizeof(id));
                sanitize_id(lat, la, sizeof(la));
                sanitize_id(lon, lo, sizeof(lo));
                fprintf(s->log, "%lld %s %s %s %u %s\n", (long long)wall_ms(), id, la, lo, status,
                        fault_names[a->fault]);
                fflush(s->log);
        }
        pthread_mutex_unlock(&s->lock);
}

/* Decides the answer to /data/{2.5,3.0}/onecall or /data/2.5/weather in OWM's order: key, rate
 * limit, query.  Both share the key's rate limit and the fault sequence, as on one account. */
static void handle_weather(spate_weather_server_t *s, struct MHD_Connection *c, enum endpoint ep,
                           struct answer *a) {
        const char *appid = query(c, "appid");
        const char *lat_s = query(c, "lat");
        const char *lon_s = query(c, "lon");
        double lat, lon;
        int64_t wait_ms;

        if (!key_accepted(s, appid))
                error_answer(a, 401, BODY_401);
        else if ((wait_ms = spate_ratelimit_admit(s->limiter, appid, spate_delayq_now_ms())) > 0)
                rate_limited_answer(a, wait_ms);
        else if (!lat_s || !lon_s)
                error_answer(a, 400, "{\"cod\":\"400\",\"message\":\"Nothing to geocode\"}");
        else if (spate_onecall_coord_parse(lat_s, -90, 90, &lat))
                error_answer(a, 400, "{\"cod\":\"400\",\"message\":\"wrong latitude\"}");
        else if (spate_onecall_coord_parse(lon_s, -180, 180, &lon))
                error_answer(a, 400, "{\"cod\":\"400\",\"message\":\"wrong longitude\"}");
        else
                weather_answer(s, c, ep, lat, lon, a);
        record(s, c, lat_s, lon_s, a);
}

/* /sim/onecall or /sim/weather ?lat=&lon=[&t=UNIX_S]: the model at any time, no key, no faults,
 * not logged. */
static void handle_sim(spate_weather_server_t *s, struct MHD_Connection *c, enum endpoint ep,
                       struct answer *a) {
        const char *t_s = query(c, "t");
        spate_onecall_req_t req = { .seed = s->o.seed, .now_s = sim_now_s(s) };
        size_t len;
        char *body;

        if (spate_onecall_coord_parse(query(c, "lat"), -90, 90, &req.lat) ||
            spate_onecall_coord_parse(query(c, "lon"), -180, 180, &req.lon)) {
                error_answer(a, 400, "{\"cod\":\"400\",\"message\":\"lat and lon required\"}");
                return;
        }
        if (t_s && spate_onecall_time_parse(t_s, &req.now_s)) {
                error_answer(a, 400, "{\"cod\":\"400\",\"message\":\"t must be unix seconds, 0 to "
                                     SPATE_ONECALL_MAX_TIME_S "\"}");
                return;
        }
        req.units = spate_onecall_units_parse(query(c, "units"));
        req.exclude = spate_onecall_exclude_parse(query(c, "exclude"));
        a->status = 200;
        body = ep == EP_ONECALL ? spate_onecall_render(&req, &len) : spate_current_render(&req, &len);
        if (body)
                a->resp = json_response_owned(body, len);
        pthread_mutex_lock(&s->lock);
        s->sim_requests++;
        pthread_mutex_unlock(&s->lock);
}

/* POST /sim/control?latency_ms=N: slows (or speeds up) every later One Call answer, so a test
 * can make the server slow for a while and watch a client recover. */
static void handle_control(spate_weather_server_t *s, struct MHD_Connection *c, struct answer *a) {
        const char *v = query(c, "latency_ms");
        char *end, body[64];
        long ms = v ? strtol(v, &end, 10) : -1;
        if (!v || !*v || *end || ms < 0) {
                error_answer(a, 400, "{\"cod\":\"400\",\"message\":\"want latency_ms=N (N >= 0)\"}");
                return;
        }
        atomic_store(&s->latency_ms, ms);
        spate_info("latency set to %ld ms", ms);
        snprintf(body, sizeof(body), "{\"latency_ms\":%ld}", ms);
        a->status = 200;
        a->resp = json_response(body, strlen(body));
}

static json_t *stats_json(spate_weather_server_t *s) {
        spate_ratelimit_stats_t rl;
        json_t *by_status = json_object(), *faults = json_object();
        char code[16];

        spate_ratelimit_stats(s->limiter, &rl);
        pthread_mutex_lock(&s->lock);
        for (unsigned i = 0; i < MAX_STATUS; i++) {
                if (!s->by_status[i])
                        continue;
                snprintf(code, sizeof(code), "%u", i);
                json_object_set_new(by_status, code, json_integer((json_int_t)s->by_status[i]));
        }
        for (int f = 1; f < FAULT_COUNT; f++)
                json_object_set_new(faults, fault_names[f], json_integer((json_int_t)s->faults[f]));
        json_t *root = json_pack("{s:I, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, "
                                 "s:I}",
                "requests", (json_int_t)s->requests,
                "by_status", by_status,
                "faults", faults,
                "delayed", (json_int_t)s->delayed,
                "delayed_pending", (json_int_t)atomic_load(&s->delayed_now),
                "sim_requests", (json_int_t)s->sim_requests,
                "keys_seen", (json_int_t)rl.keys,
                "rate_limit_per_min", (json_int_t)s->o.rate_limit,
                "max_requests_in_any_60s_window_per_key", (json_int_t)rl.max_received,
                "max_admitted_in_any_60s_window_per_key", (json_int_t)rl.max_admitted,
                "sim_time", (json_int_t)sim_now_s(s),
                "speed", s->o.speed,
                "seed", (json_int_t)s->o.seed);
        pthread_mutex_unlock(&s->lock);
        return root;
}

static void handle_stats(spate_weather_server_t *s, struct answer *a) {
        json_t *root = stats_json(s);
        char *body = root ? json_dumps(root, JSON_COMPACT) : NULL;

        json_decref(root);
        a->status = 200;
        if (body)
                a->resp = json_response_owned(body, strlen(body));
}

static void resume_pending(void *arg, int cancelled) {
        struct pending *p = arg;
        p->cancelled = cancelled;
        MHD_resume_connection(p->conn);
}

/* Parks the connection until the answer is due; the handler runs again after the resume. */
static enum MHD_Result answer_later(spate_weather_server_t *s, struct MHD_Connection *c,
                                    struct answer *a, void **con_cls) {
        struct pending *p = calloc(1, sizeof(*p));

        if (!p) {
                if (a->resp)
                        MHD_destroy_response(a->resp);
                return MHD_NO;
        }
        *p = (struct pending){ c, a->resp, a->status, 0 };
        *con_cls = p;
        atomic_fetch_add(&s->delayed_now, 1);
        MHD_suspend_connection(c);
        int64_t due = a->delay_ms == SPATE_DELAYQ_NEVER ? SPATE_DELAYQ_NEVER
                                                        : spate_delayq_now_ms() + a->delay_ms;
        if (spate_delayq_add(s->delayq, due, resume_pending, p))
                resume_pending(p, 1);   /* shutting down: close instead of parking */
        return MHD_YES;
}

static enum MHD_Result answer_resumed(spate_weather_server_t *s, struct MHD_Connection *c,
                                      struct pending *p) {
        struct MHD_Response *r = p->resp;

        atomic_fetch_sub(&s->delayed_now, 1);
        p->resp = NULL;
        if (p->cancelled || !r) {
                if (r)
                        MHD_destroy_response(r);
                return MHD_NO;
        }
        enum MHD_Result ok = MHD_queue_response(c, p->status, r);
        MHD_destroy_response(r);
        return ok;
}

static int is_onecall_path(const char *url) {
        return !strcmp(url, "/data/2.5/onecall") || !strcmp(url, "/data/3.0/onecall");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        spate_weather_server_t *s = cls;
        struct answer a = { 0, NULL, 0, FAULT_NONE };
        (void)version;
        (void)upload_data;

        /* The first call only has headers; answering on the second keeps MHD's GET flow simple. */
        if (!*con_cls) {
                *con_cls = &first_call_marker;
                return MHD_YES;
        }
        if (*con_cls != &first_call_marker)
                return answer_resumed(s, c, *con_cls);
        *upload_data_size = 0;
        if (!strcmp(method, "POST") && !strcmp(url, "/sim/control"))
                handle_control(s, c, &a);
        else if (strcmp(method, "GET") && strcmp(method, "HEAD"))
                error_answer(&a, 405, "{\"cod\":\"405\",\"message\":\"method not allowed\"}");
        else if (is_onecall_path(url))
                handle_weather(s, c, EP_ONECALL, &a);
        else if (!strcmp(url, "/data/2.5/weather"))
                handle_weather(s, c, EP_CURRENT, &a);
        else if (!strcmp(url, "/sim/onecall"))
                handle_sim(s, c, EP_ONECALL, &a);
        else if (!strcmp(url, "/sim/weather"))
                handle_sim(s, c, EP_CURRENT, &a);
        else if (!strcmp(url, "/stats"))
                handle_stats(s, &a);
        else
                error_answer(&a, 404, BODY_404);
        if (a.delay_ms > 0)
                return answer_later(s, c, &a, con_cls);
        if (!a.resp)
                return MHD_NO;
        enum MHD_Result ok = MHD_queue_response(c, a.status, a.resp);
        MHD_destroy_response(a.resp);
        return ok;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
        (void)cls;
        (void)c;
        (void)toe;
        if (*con_cls && *con_cls != &first_call_marker) {
                struct pending *p = *con_cls;
                if (p->resp)
                        MHD_destroy_response(p->resp);
                free(p);
        }
        *con_cls = NULL;
}

/* Connections we close on purpose (truncation, shutdown) make MHD complain; keep those at
 * debug level so real problems stand out. */
static void mhd_log(void *cls, const char *fmt, va_list ap) {
        char line[512];
        (void)cls;
        vsnprintf(line, sizeof(line), fmt, ap);
        line[strcspn(line, "\n")] = '\0';
        if (strcasestr(line, "application reported"))
                spate_debug("microhttpd: %s", line);
        else
                spate_warn("microhttpd: %s", line);
}

static int open_log(spate_weather_server_t *s, char *errstr, size_t errstr_size) {
        if (!s->o.log_path)
                return 0;
        if (!(s->log = fopen(s->o.log_path, "a"))) {
                snprintf(errstr, errstr_size, "%s: %s", s->o.log_path, strerror(errno));
                return -1;
        }
        return 0;
}

static unsigned default_threads(void) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n < 2 ? 2 : n > 16 ? 16 : (unsigned)n;
}

/* Binds and starts the HTTP daemon; on success writes the bound port into *port. */
static int start_daemon(spate_weather_server_t *s, unsigned *port, char *errstr,
                        size_t errstr_size) {
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                  .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
        struct addrinfo *ai = NULL;
        const union MHD_DaemonInfo *info;
        int err = getaddrinfo(s->o.host, s->o.port, &hints, &ai);

        if (err) {
                snprintf(errstr, errstr_size, "--listen %s:%s: %s", s->o.host, s->o.port,
                         gai_strerror(err));
                return -1;
        }
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                         MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                         (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
        s->daemon = MHD_start_daemon(flags, (uint16_t)atoi(s->o.port), NULL, NULL, on_request, s,
                        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,   /* first, or MHD warns */
                        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                        MHD_OPTION_THREAD_POOL_SIZE, s->o.threads ? s->o.threads
                                                                  : default_threads(),
                        MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,
                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                        MHD_OPTION_END);
        freeaddrinfo(ai);
        if (!s->daemon) {
                snprintf(errstr, errstr_size, "cannot listen on %s:%s", s->o.host, s->o.port);
                return -1;
        }
        info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
        *port = info ? info->port : (unsigned)atoi(s->o.port);
        return 0;
}

static int sim_start(spate_weather_server_t *s, unsigned *port, char *errstr, size_t errstr_size) {
        pthread_mutex_init(&s->lock, NULL);
        s->mono_start_ms = spate_delayq_now_ms();
        if (s->o.start_s < 0)
                s->o.start_s = wall_ms() / 60000 * 60;
        if (!(s->limiter = spate_ratelimit_new(s->o.rate_limit, 60000))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        if (open_log(s, errstr, errstr_size))
                return -1;
        if (!(s->delayq = spate_delayq_new(errstr, errstr_size)))
                return -1;
        return start_daemon(s, port, errstr, errstr_size);
}

/* Parked requests must be resumed before MHD_stop_daemon (an API rule), hence the order. */
static void sim_stop(spate_weather_server_t *s) {
        if (s->delayq)
                spate_delayq_close(s->delayq);
        if (s->daemon)
                MHD_stop_daemon(s->daemon);
        spate_delayq_destroy(s->delayq);
        spate_ratelimit_destroy(s->limiter);
        if (s->log)
                fclose(s->log);
        pthread_mutex_destroy(&s->lock);
}

spate_weather_server_t *spate_weather_server_start(const spate_weather_server_opts_t *o,
                                                   unsigned *port, char *errstr,
                                                   size_t errstr_size) {
        spate_weather_server_t *s = calloc(1, sizeof(*s));

        if (!s) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        s->o = *o;
        atomic_init(&s->latency_ms, o->latency_ms);
        if (sim_start(s, port, errstr, errstr_size)) {
                spate_weather_server_stop(s);
                return NULL;
        }
        spate_info("serving One Call on port %u (seed %llu, speed %g, sim start %lld)", *port,
                   (unsigned long long)s->o.seed, s->o.speed, (long long)s->o.start_s);
        return s;
}

void spate_weather_server_stop(spate_weather_server_t *s) {
        if (!s)
                return;
        sim_stop(s);
        free(s);
}
