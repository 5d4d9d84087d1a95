/* http_poll.c - the `http_poll` source: polls an HTTP API (OpenWeatherMap's
 * One Call) for every coordinate of a table, once per interval each.
 *
 * The coordinates are a compacted topic the engine subscribes to like any
 * source topic, so the consumer group shards them: process() receives the
 * coordinates of the partitions this instance owns (upserts; a tombstone
 * removes one) and revoke() drops a partition's. The engine rewinds the topic
 * on every assignment (def.rewind), so the table is always whole.
 *
 * Transfers run on a curl multi handle driven from punctuate(), which the
 * engine calls every 10 ms for this node (def.punctuate_ms): no thread, no
 * blocking call. Each response becomes one record keyed by coordinate id: the
 * body decoded by the node's open output shape (downstream expressions decide
 * what is extracted) plus computed id, name, lat, lon and fetched_at. Bodies
 * that are not One Call answers, answers with an impossible value (a negative
 * precipitation), 4xx answers and requests that keep failing go to the
 * dead-letter topic with a reason naming the coordinate and status; a refused
 * key is also a WARN once per interval. The API key is redacted from
 * everything logged or dead-lettered. When each coordinate is due is
 * http_poll_sched.c's business. */
#include "http_poll.h"
#include "../../util/mem.h"
#include "../../engine/ctx.h"
#include "../../serde/json_scan.h"
#include "../../util/log.h"
#include "../../engine/metrics.h"
#include "../../engine/node.h"
#include "../../engine/topology.h"
#include "../../util/util.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_BODY (4 << 20)
#define MAX_ATTEMPTS 6

typedef struct coord {
        hp_entry_t e;             /* first: the queue's entries are coordinates */
        char *id;
        size_t id_len;
        char *name;
        double lat, lon;
        int32_t partition;
        int64_t offset;           /* of its table record, for DLQ headers */
        int busy;                 /* a transfer is in flight */
        int gone;                 /* removed while in flight: free when it ends */
        struct coord *hnext;      /* hash chain */
} coord_t;

typedef struct xfer {
        CURL *h;
        coord_t *c;
        spate_buf_t body;
        int64_t start;
        int busy, too_big;
        char url[2048];
} xfer_t;

typedef struct poll {
        /* parameters */
        const char *url, *topic, *secret;
        int64_t every, timeout, backoff_base;
        int concurrency, min_minutely, partitions;
        double per_min;
        /* coordinates: hash by id, and queued by due time */
        coord_t **tab;
        size_t tab_size, ncoords, most_coords;
        hp_queue_t q;
        /* HTTP */
        CURLM *multi;
        xfer_t *xfers;
        int active;
        struct curl_slist *headers;
        hp_bucket_t bucket;
        int owned;                  /* partitions of the table held */
        /* output */
        hp_onecall_t oc;
        spate_shape_pool_t cpool;   /* the shape of coordinate records */
        spate_shape_t *cshape;
        int c_id, c_name, c_lat, c_lon;
        int f_id, f_name, f_lat, f_lon, f_fetched;
        spate_buf_t raw;
        uint64_t rnd;
        /* counters, logged every 10 s */
        uint64_t n_ok;              /* polls (slots) that gave a record */
        uint64_t n_failed;          /* polls that gave none: given up or rejected */
        uint64_t n_bad, n_retry, n_429, n_gaveup, n_dlq, n_refused;  /* requests */
        uint64_t n_auth;            /* 401/403 since the last warning */
        int64_t started;
        int64_t last_report, auth_warned;
        /* metrics.h series (the engine thread's) */
        spate_metric_t *m_retries, *m_waits, *m_budget, *m_rate, *m_coords, *m_flight;
        int warned_capacity, share_changed;
} poll_t;

static const spate_prop_t poll_props[] = {
        { "topic", SPATE_P_STR, 1, NULL, NULL, "the coordinates table: compacted topic keyed by id, values {\"id\",\"name\",\"lat\",\"lon\"}" },
        { "url", SPATE_P_STR, 1, NULL, NULL, "URL template with {lat}, {lon}, {id} (and ${ENV} like every value), e.g. ${OWM_URL}/data/3.0/onecall?lat={lat}&lon={lon}&appid=${OWM_API_KEY}" },
        { "every", SPATE_P_DURATION, 0, "60s", NULL, "poll each coordinate once per interval, at its own phase (phases spread evenly over the interval)" },
        { "concurrency", SPATE_P_COUNT, 0, "16", NULL, "requests in flight at once (keep-alive connections)" },
        { "rate_limit", SPATE_P_STR, 0, "0", NULL, "requests per minute for the whole application (N/min, N/s); each instance takes its share of the table's partitions; 0 = none" },
        { "timeout", SPATE_P_DURATION, 0, "10s", NULL, "per request; a timeout is retried" },
        { "min_minutely", SPATE_P_INT, 0, "60", NULL, "a body with fewer minutely entries is not a valid answer (DLQ); 0 accepts bodies without minutely" },
        { "partitions", SPATE_P_COUNT, 0, "8", NULL, "partition count of the coordinates topic when spate creates it" },
        { NULL }
};

static const spate_bind_t poll_binds[] = {
        SPATE_BIND("topic", poll_t, topic),
        SPATE_BIND("url", poll_t, url),
        SPATE_BIND("every", poll_t, every),
        SPATE_BIND("timeout", poll_t, timeout),
        SPATE_BIND("concurrency", poll_t, concurrency),
        SPATE_BIND("min_minutely", poll_t, min_minutely),
        SPATE_BIND("partitions", poll_t, partitions),
        { NULL }
};

/* --- coordinates: hash table by id ----------------------------------------- */
static coord_t **slot_of(poll_t *p, const char *id, size_t n) {
        coord_t **s = &p->tab[spate_hash(id, n) & (p->tab_size - 1)];
        while (*s && ((*s)->id_len != n || memcmp((*s)->id, id, n)))
                s = &(*s)->hnext;
        return s;
}

static void tab_grow(poll_t *p) {
        size_t old = p->tab_size;
        coord_t **ot = p->tab;
        p->tab_size = old ? old * 2 : 1024;
        p->tab = spate_xcalloc(p->tab_size, sizeof(*p->tab));
        for (size_t i = 0; i < old; i++)
                for (coord_t *c = ot[i], *next; c; c = next) {
                        next = c->hnext;
                        coord_t **s = &p->tab[spate_hash(c->id, c->id_len) & (p->tab_size - 1)];
                        c->hnext = *s;
                        *s = c;
                }
        free(ot);
}

static void coord_free(coord_t *c) {
        free(c->id);
        free(c->name);
        free(c);
}

/* Unlinks c from the table and the queue; frees it unless a transfer holds it. */
static void coord_remove(poll_t *p, coord_t **s) {
        coord_t *c = *s;
        *s = c->hnext;
        hp_queue_remove(&p->q, &c->e);
        p->ncoords--;
        if (c->busy)
                c->gone = 1;
        else
                coord_free(c);
}

static uint64_t rnd(poll_t *p) {
        p->rnd ^= p->rnd << 13;
        p->rnd ^= p->rnd >> 7;
        p->rnd ^= p->rnd << 17;
        return p->rnd;
}

/* --- parameters ------------------------------------------------------------ */
static int parse_rate(const char *s, double *per_min) {
        char *end;
        double v = strtod(s, &end);
        /* Decimal, finite: strtod alone would also take nan, inf and hex. */
        if (end == s || !strchr("0123456789.", *s) || !(v >= 0 && v <= 1e12) || strpbrk(s, "xX"))
                return -1;
        if (!*end || !strcmp(end, "/min") || !strcmp(end, "/m"))
                *per_min = v;
        else if (!strcmp(end, "/s"))
                *per_min = v * 60;
        else if (!strcmp(end, "/h"))
                *per_min = v / 60;
        else
                return -1;
        return 0;
}

static struct curl_slist *instance_header(void) {
        char buf[300], host[200];
        const char *id = getenv("SPATE_INSTANCE");
        if (id && *id) {
                snprintf(buf, sizeof(buf), "X-Spate-Instance: %s", id);
        } else {
                if (gethostname(host, sizeof(host)))
                        snprintf(host, sizeof(host), "localhost");
                host[sizeof(host) - 1] = '\0';
                snprintf(buf, sizeof(buf), "X-Spate-Instance: %s:%d", host, (int)getpid());
        }
        return curl_slist_append(NULL, buf);
}

static void metrics_init(spate_node_t *n) {
        poll_t *p = n->ctx;
        spate_metrics_t *m = spate_metrics_default();
        p->m_retries = spate_metrics_counter(m, "spate_http_poll_retries_total", "Requests the poller "
                                             "scheduled again after a failure", "node", n->name, NULL);
        p->m_waits = spate_metrics_counter(m, "spate_http_poll_rate_limit_waits_total", "Ticks on which a "
                                           "due request waited for the rate limit (or a 429's pause)",
                                           "node", n->name, NULL);
        p->m_budget = spate_metrics_gauge(m, "spate_http_poll_budget_requests", "Requests the rate "
                                          "limit lets this instance start now (-1: no limit)",
                                          "node", n->name, NULL);
        p->m_rate = spate_metrics_gauge(m, "spate_http_poll_rate_limit_per_minute", "This instance's share "
                                        "of rate_limit, slowed after 429s (0: no limit)", "node", n->name,
                                        NULL);
        p->m_coords = spate_metrics_gauge(m, "spate_http_poll_coordinates", "Coordinates this instance "
                                          "polls", "node", n->name, NULL);
        p->m_flight = spate_metrics_gauge(m, "spate_http_poll_in_flight_requests", "Requests in flight",
                                          "node", n->name, NULL);
}

static void metrics_set(poll_t *p) {
        spate_metric_set(p->m_budget, p->per_min > 0 ? p->bucket.tokens : -1);
        spate_metric_set(p->m_rate, p->per_min * p->bucket.share * p->bucket.factor);
        spate_metric_set(p->m_coords, (double)p->ncoords);
        spate_metric_set(p->m_flight, p->active);
}

static int poll_init(spate_node_t *n, char *errstr, size_t errstr_size) {
        poll_t *p = n->ctx;
        spate_shape_pool_t *pool = spate_node_shapes(n);
        p->secret = getenv("OWM_API_KEY");
        if (p->every < 1000)
                return spate_node_error(n, spate_node_param(n, "every"), errstr, errstr_size,
                                        "every is '%s': it must be at least 1s",
                                        spate_node_str(n, "every"));
        if (p->concurrency < 1 || p->concurrency > 1024)
                return spate_node_error(n, spate_node_param(n, "concurrency"), errstr, errstr_size,
                                        "concurrency must be between 1 and 1024");
        if (p->timeout < 100)
                return spate_node_error(n, spate_node_param(n, "timeout"), errstr, errstr_size,
                                        "timeout is '%s': it must be at least 100ms",
                                        spate_node_str(n, "timeout"));
        if (parse_rate(spate_node_str(n, "rate_limit"), &p->per_min))
                return spate_node_error(n, spate_node_param(n, "rate_limit"), errstr, errstr_size,
                                        "rate_limit: want N/min, N/s or N/h (e.g. 60/min)");
        if (!strstr(p->url, "://"))
                return spate_node_error(n, spate_node_param(n, "url"), errstr, errstr_size,
                                        "url must be absolute (http://host/...)");
        p->backoff_base = p->every / 60 < 250 ? 250 : p->every / 60;
        p->rnd = (uint64_t)spate_now_ms() * 2654435761u ^ (uint64_t)getpid();
        if (!p->rnd)
                p->rnd = 1;

        n->out = spate_shape_new(pool, 1);
        hp_onecall_bind(&p->oc, pool, n->out);
        p->f_id = spate_shape_add_computed(pool, n->out, "id", SPATE_V_STR);
        p->f_name = spate_shape_add_computed(pool, n->out, "name", SPATE_V_STR);
        p->f_lat = spate_shape_add_computed(pool, n->out, "lat", SPATE_V_NUM);
        p->f_lon = spate_shape_add_computed(pool, n->out, "lon", SPATE_V_NUM);
        p->f_fetched = spate_shape_add_computed(pool, n->out, "fetched_at", SPATE_V_NUM);
        spate_topology_declare_topic(n->topo, n, p->topic, p->partitions, 1, SPATE_TOPIC_SOURCE);

        if (curl_global_init(CURL_GLOBAL_DEFAULT) ||
            !(p->multi = curl_multi_init()) || !(p->headers = instance_header()))
                return spate_node_error(n, NULL, errstr, errstr_size, "cannot initialise libcurl");
        curl_multi_setopt(p->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)p->concurrency);
        curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS, (long)p->concurrency);
        p->xfers = spate_xcalloc((size_t)p->concurrency, sizeof(*p->xfers));
        p->started = p->last_report = spate_now_ms();
        hp_bucket_init(&p->bucket, p->per_min, spate_now_ms());
        hp_bucket_share(&p->bucket, 0, spate_now_ms());
        tab_grow(p);
        p->cshape = spate_shape_new(&p->cpool, 1);
        p->c_id = spate_shape_field(&p->cpool, p->cshape, "id", 2, 1);
        p->c_name = spate_shape_field(&p->cpool, p->cshape, "name", 4, 1);
        p->c_lat = spate_shape_field(&p->cpool, p->cshape, "lat", 3, 1);
        p->c_lon = spate_shape_field(&p->cpool, p->cshape, "lon", 3, 1);
        metrics_init(n);
        return 0;
}

/* --- the table ------------------------------------------------------------- */
static int is_mine(const poll_t *p, const char *topic) {
        return !strcmp(topic, p->topic);
}

static const spate_value_t *field(const spate_value_t *obj, int i) {
        static const spate_value_t missing;
        if (obj->type != SPATE_V_OBJ || i < 0 || (uint32_t)i >= obj->n)
                return &missing;
        return &obj->u.items[i];
}

/* A coordinate record: an upsert, or a tombstone that removes it. The key is
 * the id (the value's id when the message has no key). */
static int poll_process(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx) {
        poll_t *p = n->ctx;
        const spate_origin_t *o = rec->origin;
        const char *id = rec->key;
        size_t id_len = rec->key_len;
        spate_value_t v;
        char err[256];

        if (!o->payload) {
                if (!id)
                        return spate_ctx_fail(ctx, n, "a tombstone without a key");
                coord_t **s = slot_of(p, id, id_len);
                if (*s)
                        coord_remove(p, s);
                return 0;
        }
        if (spate_json_decode(p->cshape, o->payload, o->len, spate_ctx_arena(ctx), &v, err,
                              sizeof(err)))
                return spate_ctx_fail(ctx, n, "coordinate record: %s", err);
        const spate_value_t *vid = field(&v, p->c_id), *name = field(&v, p->c_name);
        const spate_value_t *lat = field(&v, p->c_lat), *lon = field(&v, p->c_lon);
        if (!id || !id_len) {
                if (vid->type != SPATE_V_STR && vid->type != SPATE_V_NUM)
                        return spate_ctx_fail(ctx, n, "coordinate record without a key or id");
                if (spate_value_to_key(vid, spate_ctx_arena(ctx), &id, &id_len))
                        return -1;
        }
        if (lat->type != SPATE_V_NUM || lon->type != SPATE_V_NUM || !(lat->u.num >= -90) ||
            !(lat->u.num <= 90) || !(lon->u.num >= -180) || !(lon->u.num <= 180))
                return spate_ctx_fail(ctx, n, "coordinate '%.*s': lat and lon must be numbers in "
                                      "[-90, 90] and [-180, 180]", (int)id_len, id);
        coord_t **s = slot_of(p, id, id_len), *c = *s;
        if (!c) {
                c = spate_xcalloc(1, sizeof(*c));
                c->id = spate_xstrndup(id, id_len);
                c->id_len = id_len;
                *s = c;
                if (++p->ncoords > p->tab_size)
                        tab_grow(p);
                if (p->ncoords > p->most_coords)
                        p->most_coords = p->ncoords;
                /* The first slot at its phase: a coordinate taken over from
                 * another instance keeps the rhythm its old owner kept. */
                hp_entry_first(&p->q, &c->e, hp_phase(c->id, id_len, p->every), p->every,
                               spate_now_ms());
        }
        free(c->name);
        c->name = name->type == SPATE_V_STR ? strndup(name->u.s, name->n) : NULL;
        c->lat = lat->u.num;
        c->lon = lon->u.num;
        c->partition = o->partition;
        c->offset = o->offset;
        return 0;
}

static void update_share(poll_t *p, spate_ctx_t *ctx) {
        double share = p->partitions > 0 ? (double)p->owned / p->partitions : 1;
        if (share > 1)
                share = 1;
        hp_bucket_share(&p->bucket, share, ctx->now_ms ? ctx->now_ms : spate_now_ms());
        p->share_changed = 1;
}

static int poll_assign(spate_node_t *n, const char *topic, int32_t partition, spate_ctx_t *ctx) {
        poll_t *p = n->ctx;
        if (!is_mine(p, topic))
                return 0;
        if (partition >= p->partitions)  /* the topic has more than declared */
                p->partitions = partition + 1;
        p->owned++;
        update_share(p, ctx);
        return 0;
}

static void poll_revoke(spate_node_t *n, const char *topic, int32_t partition, spate_ctx_t *ctx) {
        poll_t *p = n->ctx;
        if (!is_mine(p, topic))
                return;
        for (size_t i = 0; i < p->tab_size; i++)
                for (coord_t **s = &p->tab[i]; *s;) {
                        if ((*s)->partition == partition)
                                coord_remove(p, s);
                        else
                                s = &(*s)->hnext;
                }
        if (p->owned > 0)
                p->owned--;
        update_share(p, ctx);
}

/* --- HTTP ------------------------------------------------------------------ */
static size_t on_body(char *data, size_t size, size_t nmemb, void *opaque) {
        xfer_t *x = opaque;
        size_t n = size * nmemb;
        if (x->body.len + n > MAX_BODY) {
                x->too_big = 1;
                return 0;
        }
        spate_buf_put(&x->body, data, n);
        return n;
}

static int start(poll_t *p, coord_t *c, int64_t now) {
        xfer_t *x = NULL;
        for (int i = 0; i < p->concurrency && !x; i++)
                if (!p->xfers[i].busy)
                        x = &p->xfers[i];
        if (!x)
                return -1;
        if (!x->h) {
                if (!(x->h = curl_easy_init()))
                        return -1;
                curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, on_body);
                curl_easy_setopt(x->h, CURLOPT_WRITEDATA, x);
                curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
                curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, p->headers);
                curl_easy_setopt(x->h, CURLOPT_NOSIGNAL, 1L);
                curl_easy_setopt(x->h, CURLOPT_TIMEOUT_MS, (long)p->timeout);
                curl_easy_setopt(x->h, CURLOPT_ACCEPT_ENCODING, "");
                curl_easy_setopt(x->h, CURLOPT_TCP_KEEPALIVE, 1L);
                curl_easy_setopt(x->h, CURLOPT_USERAGENT, "spate-http_poll/1");
        }
        if (hp_url_expand(p->url, c->id, c->lat, c->lon, x->url, sizeof(x->url)) < 0) {
                char red[512];
                spate_warn("http_poll: URL for coordinate %s is too long: %s", c->id,
                           hp_redact(p->url, p->secret, red, sizeof(red)));
                return -1;
        }
        curl_easy_setopt(x->h, CURLOPT_URL, x->url);
        x->body.len = 0;
        x->too_big = 0;
        x->c = c;
        x->start = now;
        if (curl_multi_add_handle(p->multi, x->h) != CURLM_OK)
                return -1;
        x->busy = 1;
        c->busy = 1;
        p->active++;
        return 0;
}

/* Sends o's coordinate to the DLQ with reason "<coordinate>: <what>" (the
 * key redacted) and payload `payload` (the body, or an explanation). */
static void dead_letter(spate_node_t *n, spate_ctx_t *ctx, const coord_t *c, const char *payload,
                        size_t len, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void dead_letter(spate_node_t *n, spate_ctx_t *ctx, const coord_t *c, const char *payload,
                        size_t len, const char *fmt, ...) {
        poll_t *p = n->ctx;
        char what[768], red[768];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        hp_redact(what, p->secret, red, sizeof(red));
        spate_ctx_fail(ctx, n, "coordinate %s (%g, %g): %s", c->id, c->lat, c->lon, red);
        /* A server could echo the key in a body: scrub it there too. */
        char *clean = NULL;
        if (p->secret && strlen(p->secret) >= 4 && memmem(payload, len, p->secret, strlen(p->secret))) {
                if ((clean = malloc(len + 1))) {
                        memcpy(clean, payload, len);
                        clean[len] = '\0';
                        char *q;
                        while ((q = strstr(clean, p->secret)))
                                memset(q, '*', strlen(p->secret));
                        payload = clean;
                }
        }
        spate_origin_t o = { .topic = p->topic, .partition = c->partition, .offset = c->offset,
                             .payload = payload, .len = len, .key = c->id, .key_len = c->id_len,
                             .up_partition = -1, .up_offset = -1 };
        spate_ctx_dead_letter(ctx, &o);
        spate_debug("%s", ctx->errstr);
        p->n_dlq++;
        free(clean);
}

/* A successful answer: one record downstream. Returns 0, or what
 * hp_onecall_decode returned (-1 not a One Call answer, -2 an impossible
 * value) with the reason in why; the caller dead-letters it. */
static int emit_body(spate_node_t *n, spate_ctx_t *ctx, coord_t *c, xfer_t *x, char *why,
                     size_t why_size) {
        poll_t *p = n->ctx;
        spate_arena_t *a = spate_ctx_arena(ctx);
        spate_record_t rec = { 0 };
        spate_arena_reset(a);
        int rc = hp_onecall_decode(&p->oc, x->body.data, x->body.len, p->min_minutely, a,
                                   &rec.value, why, why_size);
        if (rc)
                return rc;
        spate_value_t *it = rec.value.u.items;
        int64_t now = spate_now_ms();
        it[p->f_id] = spate_value_str(c->id, (uint32_t)c->id_len);
        if (c->name)
                it[p->f_name] = spate_value_str(c->name, (uint32_t)strlen(c->name));
        else
                it[p->f_name] = (spate_value_t){ .type = SPATE_V_NULL };
        it[p->f_lat] = spate_value_num(c->lat);
        it[p->f_lon] = spate_value_num(c->lon);
        it[p->f_fetched] = spate_value_num((double)now);
        if (rec.value.raw) {
                /* Passed through: the table's lat/lon replace the API's echo. */
                static const char *const own[] = { "id", "name", "lat", "lon", "fetched_at" };
                p->raw.len = 0;
                hp_strip_members(&p->raw, rec.value.raw, rec.value.raw_len, own, 5);
                rec.value.raw = spate_arena_memdup(a, p->raw.data, p->raw.len);
                rec.value.raw_len = (uint32_t)p->raw.len;
        }
        rec.key = c->id;
        rec.key_len = c->id_len;
        rec.ts = now;
        spate_origin_t o = { .topic = p->topic, .partition = c->partition, .offset = c->offset,
                             .payload = x->body.data, .len = x->body.len, .key = c->id,
                             .key_len = c->id_len, .up_partition = -1, .up_offset = -1 };
        rec.origin = &o;
        ctx->origin = &o;
        ctx->failed = NULL;
        if (spate_emit(n, &rec, ctx)) {
                spate_ctx_dead_letter(ctx, &o);
                p->n_dlq++;
        }
        ctx->origin = NULL;
        return 0;
}

/* The slot ends without a record; the next slot is the coordinate's next. */
static void poll_failed(poll_t *p, coord_t *c, int64_t now) {
        p->n_failed++;
        hp_entry_skip(&p->q, &c->e, p->every, now);
}

/* After a failed attempt: retry within the interval, or give up until the
 * next slot (dead-lettering why when the failure was not already). */
static void retry(spate_node_t *n, spate_ctx_t *ctx, coord_t *c, int64_t now, int64_t at_least,
                  const char *what, int dlq_done) {
        poll_t *p = n->ctx;
        int64_t d = hp_backoff(c->e.attempt + 1, p->backoff_base, p->every / 4, rnd(p));
        if (d < at_least)
                d = at_least;
        if (hp_entry_retry(&p->q, &c->e, p->every, now, d, MAX_ATTEMPTS)) {
                p->n_retry++;
                spate_metric_add(p->m_retries, 1);
                return;
        }
        p->n_gaveup++;
        if (!dlq_done)
                dead_letter(n, ctx, c, what, strlen(what), "gave up after %d attempt%s: %s",
                            c->e.attempt, c->e.attempt == 1 ? "" : "s", what);
        poll_failed(p, c, now);
}

/* A refused key is the commonest first-run mistake, and each refusal is only
 * a dead letter: say it at WARN, with the API's own words, once per interval
 * (the others of the interval are counted in the next warning). */
static void warn_auth(poll_t *p, spate_ctx_t *ctx, const xfer_t *x, long status, const char *url,
                      int64_t now) {
        char msg[320], red[400], key[96];
        p->n_auth++;
        p->n_refused++;
        if (p->auth_warned && now - p->auth_warned < p->every)
                return;
        if (hp_api_message(&p->oc, x->body.data, x->body.len, spate_ctx_arena(ctx), msg,
                           sizeof(msg)))
                snprintf(msg, sizeof(msg), "(no message)");
        if (!p->secret)
                snprintf(key, sizeof(key), "OWM_API_KEY is not set");
        else
                snprintf(key, sizeof(key), "OWM_API_KEY is set, %zu characters", strlen(p->secret));
        if (p->auth_warned)
                snprintf(key + strlen(key), sizeof(key) - strlen(key),
                         "; %llu refused since the last warning", (unsigned long long)p->n_auth);
        spate_warn("http_poll: HTTP %ld from %s: \"%s\" - the API refused the key: check "
                   "OWM_API_KEY (%s)", status, url, hp_redact(msg, p->secret, red, sizeof(red)),
                   key);
        p->n_auth = 0;
        p->auth_warned = now;
}

/* spate_http_poll_requests_total{node,status}: the HTTP status, or "error"
 * when no answer came (timeout, connection refused, ...). */
static void count_request(const spate_node_t *n, long status) {
        char code[24];
        if (status > 0)
                snprintf(code, sizeof(code), "%ld", status);
        else
                snprintf(code, sizeof(code), "error");
        spate_metric_add(spate_metrics_counter(spate_metrics_default(), "spate_http_poll_requests_total",
                                               "Requests the poller completed, by HTTP status (error: no "
                                               "answer)", "node", n->name, "status", code, NULL), 1);
}

static void finish(spate_node_t *n, spate_ctx_t *ctx, xfer_t *x, CURLcode res) {
        poll_t *p = n->ctx;
        coord_t *c = x->c;
        int64_t now = ctx->now_ms;
        long status = 0;
        char why[512], what[1400], url[1024];

        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
        curl_multi_remove_handle(p->multi, x->h);
        x->busy = 0;
        x->c = NULL;
        p->active--;
        c->busy = 0;
        if (c->gone) {        /* its partition moved away meanwhile */
                coord_free(c);
                return;
        }
        count_request(n, res == CURLE_OK ? status : 0);
        if (res == CURLE_OK && status == 200) {
                int rc = emit_body(n, ctx, c, x, why, sizeof(why));
                if (rc == 0) {
                        p->n_ok++;
                        hp_entry_ok(&p->q, &c->e, p->every, x->start);
                        return;
                }
                p->n_bad++;
                if (rc == -2) {
                        /* A whole answer with an impossible value: asking again
                         * within the minute would get the same forecast. */
                        dead_letter(n, ctx, c, x->body.data, x->body.len,
                                    "HTTP 200: answer rejected: %s", why);
                        poll_failed(p, c, now);
                        return;
                }
                /* Dead-letter the bad body, then try again: a corrupt answer is
                 * usually transient, and the coordinate still needs its forecast. */
                dead_letter(n, ctx, c, x->body.data, x->body.len,
                            "HTTP 200: not a One Call answer: %s", why);
                retry(n, ctx, c, now, 0, why, 1);
                return;
        }
        hp_redact(x->url, p->secret, url, sizeof(url));
        if (res == CURLE_OK && status == 429) {
                curl_off_t ra = 0;
                curl_easy_getinfo(x->h, CURLINFO_RETRY_AFTER, &ra);
                int64_t pause = ra > 0 ? (int64_t)ra * 1000 : 2000;
                p->n_429++;
                hp_bucket_throttle(&p->bucket, now, pause);
                spate_debug("http_poll: HTTP 429 for %s: pausing %lld ms", url, (long long)pause);
                snprintf(what, sizeof(what), "HTTP 429 (rate limited) from %s", url);
                retry(n, ctx, c, now, pause, what, 0);
                return;
        }
        if (res == CURLE_OK && status >= 500) {
                snprintf(what, sizeof(what), "HTTP %ld from %s", status, url);
                retry(n, ctx, c, now, 0, what, 0);
                return;
        }
        if (res == CURLE_OK) {  /* 4xx and anything unexpected: the request itself is wrong */
                p->n_bad++;
                if (status == 401 || status == 403)
                        warn_auth(p, ctx, x, status, url, now);
                dead_letter(n, ctx, c, x->body.data, x->body.len, "HTTP %ld from %s", status, url);
                poll_failed(p, c, now);
                return;
        }
        if (res == CURLE_PARTIAL_FILE || x->too_big) {
                p->n_bad++;
                dead_letter(n, ctx, c, x->body.data, x->body.len, "HTTP %ld: %s after %zu bytes from %s",
                            status, x->too_big ? "body too large" : "truncated body", x->body.len, url);
                retry(n, ctx, c, now, 0, "truncated", 1);
                return;
        }
        snprintf(what, sizeof(what), "%s (HTTP %ld) from %s", curl_easy_strerror(res), status, url);
        retry(n, ctx, c, now, 0, what, 0);
}

static void harvest(spate_node_t *n, spate_ctx_t *ctx) {
        poll_t *p = n->ctx;
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(p->multi, &left))) {
                if (m->msg != CURLMSG_DONE)
                        continue;
                xfer_t *x = NULL;
                curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
                finish(n, ctx, x, m->data.result);
        }
}

/* What the polls gave (records, and slots without one) apart from what the
 * requests met on the way: written into out. */
static const char *tally(const poll_t *p, char *out, size_t size) {
        snprintf(out, size, "polls: %llu ok (one record each), %llu failed (%llu given up after "
                 "retries); requests: %llu retried, %llu bad answers, %llu rate-limited (429), "
                 "%llu refused (401/403); %llu dead letters",
                 (unsigned long long)p->n_ok, (unsigned long long)p->n_failed,
                 (unsigned long long)p->n_gaveup, (unsigned long long)p->n_retry,
                 (unsigned long long)p->n_bad, (unsigned long long)p->n_429,
                 (unsigned long long)p->n_refused, (unsigned long long)p->n_dlq);
        return out;
}

/* Every 10 s. */
static void report(poll_t *p, int64_t now) {
        hp_entry_t *top = hp_queue_top(&p->q);
        int64_t late = top ? now - top->due : 0;
        char t[400];
        spate_info("http_poll: %zu coordinates; %s; %d in flight, oldest due %lld ms ago",
                   p->ncoords, tally(p, t, sizeof(t)), p->active, (long long)(late > 0 ? late : 0));
        double need = (double)p->ncoords * 60000.0 / (double)p->every;
        double have = p->per_min * p->bucket.share;
        if (p->per_min > 0 && need > have && !p->warned_capacity) {
                spate_warn("http_poll: %zu coordinates every %lld ms need %.0f requests/min but this "
                           "instance's share of rate_limit is %.0f/min: polls will be late",
                           p->ncoords, (long long)p->every, need, have);
                p->warned_capacity = 1;
        }
        p->last_report = now;
}

static int poll_punctuate(spate_node_t *n, spate_ctx_t *ctx) {
        poll_t *p = n->ctx;
        int64_t now = ctx->now_ms;
        int running;

        curl_multi_perform(p->multi, &running);
        harvest(n, ctx);
        hp_entry_t *e;
        while (p->active < p->concurrency && (e = hp_queue_top(&p->q)) && e->due <= now) {
                if (!hp_bucket_take(&p->bucket, now)) {
                        spate_metric_add(p->m_waits, 1);   /* due, but the budget says wait */
                        break;
                }
                coord_t *c = (coord_t *)e;
                hp_queue_remove(&p->q, e);
                if (start(p, c, now)) {
                        hp_queue_set(&p->q, e, now + 1000);
                        break;
                }
        }
        curl_multi_perform(p->multi, &running);
        metrics_set(p);
        if (p->share_changed) {  /* once per rebalance, not per partition */
                p->share_changed = 0;
                p->warned_capacity = 0;
                if (p->per_min > 0)
                        spate_info("http_poll: %d of %d partitions of %s: %.0f requests/min for this "
                                   "instance", p->owned, p->partitions, p->topic,
                                   p->per_min * p->bucket.share);
        }
        if (now - p->last_report >= 10000)
                report(p, now);
        return 0;
}

static void poll_destroy(spate_node_t *n) {
        poll_t *p = n->ctx;
        if (p->most_coords) {  /* what the run did; its coordinates were revoked by now */
                char t[400];
                spate_info("http_poll summary after %.1f s: up to %zu coordinates; %s",
                           (double)(spate_now_ms() - p->started) / 1000.0, p->most_coords,
                           tally(p, t, sizeof(t)));
        }
        for (int i = 0; p->xfers && i < p->concurrency; i++) {
                xfer_t *x = &p->xfers[i];
                if (x->busy) {
                        curl_multi_remove_handle(p->multi, x->h);
                        /* removed while in flight: only the transfer held it */
                        if (x->c->gone)
                                coord_free(x->c);
                }
                if (x->h)
                        curl_easy_cleanup(x->h);
                spate_buf_free(&x->body);
        }
        free(p->xfers);
        if (p->multi)
                curl_multi_cleanup(p->multi);
        curl_slist_free_all(p->headers);
        for (size_t i = 0; i < p->tab_size; i++)
                for (coord_t *c = p->tab[i], *next; c; c = next) {
                        next = c->hnext;
                        coord_free(c);
                }
        free(p->tab);
        hp_queue_free(&p->q);
        spate_buf_free(&p->raw);
        spate_shape_pool_destroy(&p->cpool);
        if (p->multi)
                curl_global_cleanup();
}

const spate_op_def_t spate_op_http_poll = {
        .name = "http_poll",
        .role = SPATE_ROLE_SOURCE,
        .doc = "Polls an HTTP API (OpenWeatherMap One Call) for every coordinate of a table topic, "
               "sharded across instances by the table's partitions; one record per response.",
        .props = poll_props,
        .binds = poll_binds,
        .ctx_size = sizeof(poll_t),
        .init = poll_init,
        .process = poll_process,
        .punctuate = poll_punctuate,
        .assign = poll_assign,
        .revoke = poll_revoke,
        .destroy = poll_destroy,
        .rewind = 1,
        .punctuate_ms = 10,
};
