/* iq_http.c - answers /state requests (iq_http.h): parses them
 * (engine/iq.h), finds where the state lives, reads it here or forwards the
 * request to the instance holding the key, and writes JSON.
 *
 * A key of a node keyed by its records' keys (a window) lives in the task of
 * the key's partition (with group_by: of the window's repartition topic,
 * where the window sent the group): this instance answers when it holds that
 * partition, else forwards to its owner (iq_peers.h) and relays the answer.
 * Other lookups (a dedupe key, any scan) ask every instance holding partitions
 * (`local=1`, so a forwarded request is never forwarded again) and merge.
 * With `stale=ok`, a partition whose owner cannot answer (none, unreachable,
 * restoring) is read from a copy: a standby's here, or another instance's
 * (forwarded to it); the answer says which partitions came from copies and
 * how far behind they may be (X-Spate-Source, X-Spate-Standby-Offsets,
 * X-Spate-Standby-Lag). With `max_lag=N` too, a copy more than N records
 * behind (or of an unknown lag) is passed over for another holder's; none
 * fresh enough: a 503 `standby_behind` naming the copies and their lags.
 * Nothing here writes: only GET and HEAD reach it. */
#include "iq_http.h"
#include "../engine/iq.h"
#include "../engine/node.h"
#include "../engine/topology.h"
#include "../serde/json_write.h"
#include "../state/store.h"
#include "../util/buf.h"
#include "../util/log.h"
#include "../util/mem.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PARTS 4096
#define FORWARD_TIMEOUT_MS 10000
/* Idle libcurl handles kept with their connections to the peers, so that a
 * forwarded query reuses a keep-alive connection instead of a new one. */
#define CURL_POOL 64

struct spate_iq_http {
        spate_engine_t *engine;
        const spate_topology_t *topo;
        spate_iq_peers_t *peers;
        char *token;
        pthread_mutex_t pool_mu;
        CURL *pool[CURL_POOL];
        int npool;
};

spate_iq_http_t *spate_iq_http_new(spate_engine_t *engine, const spate_topology_t *topo, spate_iq_peers_t *peers,
                                   const char *token) {
        spate_iq_http_t *h = calloc(1, sizeof(*h));
        if (!h || curl_global_init(CURL_GLOBAL_DEFAULT) || (token && *token && !(h->token = strdup(token)))) {
                free(h);
                return NULL;
        }
        pthread_mutex_init(&h->pool_mu, NULL);
        h->engine = engine;
        h->topo = topo;
        h->peers = peers;
        return h;
}

void spate_iq_http_free(spate_iq_http_t *h) {
        if (!h)
                return;
        for (int i = 0; i < h->npool; i++)
                curl_easy_cleanup(h->pool[i]);
        pthread_mutex_destroy(&h->pool_mu);
        free(h->token);
        free(h);
}

/* --- answers --- */

/* What an answer read from copies (stale=ok): "partition=offset" of each
 * copy's changelog position and "partition=records" of the changelog past
 * it (? unknown), comma-separated; a relayed peer's headers as it sent them.
 * Empty: every row came from an owner. */
typedef struct stale {
        spate_buf_t offsets, lags;
} stale_t;

static void stale_free(stale_t *st) {
        spate_buf_free(&st->offsets);
        spate_buf_free(&st->lags);
}

static void stale_add(spate_buf_t *list, const char *item, size_t len) {
        if (list->len)
                spate_buf_putc(list, ',');
        spate_buf_put(list, item, len);
}

/* An answer over several tasks as it is gathered: its rows (all), whether
 * an instance cut its own, what copies were read (st) and the copies too
 * far behind for max_lag (behind: answer_here()'s own, or its caller's to
 * ask elsewhere). */
typedef struct answer {
        json_t *all;
        int truncated;
        stale_t st;
        spate_iq_behind_t *behind;
} answer_t;

/* Copy st's lists into headers of r (NUL-terminated first). */
static void stale_headers(struct MHD_Response *r, stale_t *st) {
        if (!st || !st->offsets.len)
                return;
        spate_buf_putc(&st->offsets, '\0');
        spate_buf_putc(&st->lags, '\0');
        MHD_add_response_header(r, "X-Spate-Source", "standby");
        MHD_add_response_header(r, "X-Spate-Standby-Offsets", st->offsets.data);
        MHD_add_response_header(r, "X-Spate-Standby-Lag", st->lags.data);
        st->offsets.len--;
        st->lags.len--;
}

static enum MHD_Result send_json(spate_iq_http_t *h, struct MHD_Connection *c, unsigned status, spate_buf_t *b,
                                 const char *served_by, int retry, stale_t *st) {
        struct MHD_Response *r;
        enum MHD_Result rc;
        spate_buf_putc(b, '\n');
        if (!(r = MHD_create_response_from_buffer(b->len, b->data, MHD_RESPMEM_MUST_FREE)))
                return MHD_NO;
        b->data = NULL;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        if (served_by || h->peers)
                MHD_add_response_header(r, "X-Spate-Served-By", served_by ? served_by : spate_iq_peers_self(h->peers));
        if (retry)
                MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
        stale_headers(r, st);
        if (status == MHD_HTTP_UNAUTHORIZED)
                MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"spate\"");
        rc = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return rc;
}

/* {"error": code, "reason": reason}: 503s say "restoring" or what is
 * unreachable, with Retry-After. */
static enum MHD_Result fail(spate_iq_http_t *h, struct MHD_Connection *c, unsigned status, const char *code,
                            const char *reason) {
        spate_buf_t b = { 0 };
        spate_buf_put(&b, "{\"error\":", 9);
        spate_json_write_str(&b, code, strlen(code));
        spate_buf_put(&b, ",\"reason\":", 10);
        spate_json_write_str(&b, reason, strlen(reason));
        spate_buf_putc(&b, '}');
        return send_json(h, c, status, &b, NULL, status == MHD_HTTP_SERVICE_UNAVAILABLE, NULL);
}

static enum MHD_Result restoring(spate_iq_http_t *h, struct MHD_Connection *c) {
        return fail(h, c, MHD_HTTP_SERVICE_UNAVAILABLE, "restoring",
                    "partitions are being assigned and their state restored; retry shortly");
}

/* max_lag: no owner answered and every copy of some partition was too far
 * behind (b says which, how far). */
static enum MHD_Result fail_behind(spate_iq_http_t *h, struct MHD_Connection *c, const spate_iq_t *q,
                                   const spate_iq_behind_t *b) {
        spate_buf_t body = { 0 };
        spate_iq_behind_json(b, q->max_lag, &body);
        return send_json(h, c, MHD_HTTP_SERVICE_UNAVAILABLE, &body, NULL, 1, NULL);
}

static const char *self_url(const spate_iq_http_t *h) {
        return h->peers ? spate_iq_peers_self(h->peers) : NULL;
}

/* Constant time in the token's length, so that timing tells nothing of it. */
static int authorized(const spate_iq_http_t *h, struct MHD_Connection *c) {
        const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        size_t tl, al;
        unsigned diff;
        if (!h->token)
                return 1;
        if (!a || strncmp(a, "Bearer ", 7))
                return 0;
        a += 7;
        tl = strlen(h->token);
        al = strlen(a);
        diff = al != tl;
        for (size_t i = 0; i < tl; i++)
                diff |= (unsigned)(h->token[i] ^ a[i < al ? i : 0]);
        return !diff;
}

static const char *mhd_arg(void *opaque, const char *name) {
        return MHD_lookup_connection_value(opaque, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result list_nodes(spate_iq_http_t *h, struct MHD_Connection *c) {
        const spate_topology_t *t = h->topo;
        spate_buf_t b = { 0 };
        spate_buf_put(&b, "{\"nodes\":[", 10);
        for (int i = 0, k = 0; i < t->nnodes; i++) {
                const spate_node_t *n = t->nodes[i];
                if (!n->def->query)
                        continue;
                if (k++)
                        spate_buf_putc(&b, ',');
                spate_buf_put(&b, "{\"node\":", 8);
                spate_json_write_str(&b, n->name, strlen(n->name));
                spate_buf_put(&b, ",\"type\":", 8);
                spate_json_write_str(&b, n->def->name, strlen(n->def->name));
                spate_buf_putc(&b, '}');
        }
        spate_buf_put(&b, "]}", 2);
        return send_json(h, c, MHD_HTTP_OK, &b, NULL, 0, NULL);
}

/* --- forwarding --- */

static size_t on_body(char *p, size_t size, size_t n, void *opaque) {
        spate_buf_put(opaque, p, size * n);
        return size * n;
}

/* After "?local=1": "&name=value". */
static void put_arg(spate_buf_t *u, CURL *curl, const char *name, const char *val) {
        char *e = curl_easy_escape(curl, val, 0);
        spate_buf_putc(u, '&');
        spate_buf_put(u, name, strlen(name));
        spate_buf_putc(u, '=');
        spate_buf_put(u, e, strlen(e));
        curl_free(e);
}

/* The URL asking peer `base` the same question, answered from its own
 * partitions (local=1). */
static void peer_url(spate_buf_t *u, CURL *curl, const char *base, const spate_iq_t *q) {
        char *e = curl_easy_escape(curl, q->node, 0), num[32];
        spate_buf_put(u, base, strlen(base));
        spate_buf_put(u, "/state/", 7);
        spate_buf_put(u, e, strlen(e));
        curl_free(e);
        if (q->key) {
                e = curl_easy_escape(curl, q->key, (int)q->klen);
                spate_buf_putc(u, '/');
                spate_buf_put(u, e, strlen(e));
                curl_free(e);
        }
        if (q->kind == SPATE_IQ_HISTORY)
                spate_buf_put(u, "/history", 8);
        spate_buf_put(u, "?local=1", 8);
        if (q->kind == SPATE_IQ_HISTORY) {
                snprintf(num, sizeof(num), "%lld", (long long)q->from);
                if (q->from != INT64_MIN)
                        put_arg(u, curl, "from", num);
                snprintf(num, sizeof(num), "%lld", (long long)q->to);
                if (q->to != INT64_MAX)
                        put_arg(u, curl, "to", num);
        }
        if (q->kind != SPATE_IQ_GET) {
                snprintf(num, sizeof(num), "%zu", q->limit);
                put_arg(u, curl, "limit", num);
        }
        if (q->prefix)
                put_arg(u, curl, "prefix", q->prefix);
        if (q->start)
                put_arg(u, curl, "start", q->start);
        if (q->end)
                put_arg(u, curl, "end", q->end);
        if (q->stale)
                put_arg(u, curl, "stale", "ok");
        if (q->stale && q->max_lag >= 0) {   /* not to owners asked for their own (ask_others()) */
                snprintf(num, sizeof(num), "%lld", (long long)q->max_lag);
                put_arg(u, curl, "max_lag", num);
        }
        if (q->ncopies) {
                spate_buf_t list = { 0 };
                for (int i = 0; i < q->ncopies; i++)
                        spate_buf_put(&list, num, (size_t)snprintf(num, sizeof(num), i ? ",%d" : "%d",
                                                                   q->copies[i]));
                spate_buf_putc(&list, '\0');
                put_arg(u, curl, "partitions", list.data);
                spate_buf_free(&list);
        }
        spate_buf_putc(u, '\0');
}

static CURL *curl_get(spate_iq_http_t *h) {
        CURL *curl = NULL;
        pthread_mutex_lock(&h->pool_mu);
        if (h->npool)
                curl = h->pool[--h->npool];
        pthread_mutex_unlock(&h->pool_mu);
        return curl ? curl : curl_easy_init();
}

static void curl_put(spate_iq_http_t *h, CURL *curl) {
        curl_easy_reset(curl);   /* options go, the connection stays */
        pthread_mutex_lock(&h->pool_mu);
        if (h->npool < CURL_POOL) {
                h->pool[h->npool++] = curl;
                curl = NULL;
        }
        pthread_mutex_unlock(&h->pool_mu);
        if (curl)
                curl_easy_cleanup(curl);
}

/* A peer's X-Spate-Standby-* headers into the stale_t of opaque. */
static size_t on_header(char *p, size_t size, size_t n, void *opaque) {
        static const char off[] = "X-Spate-Standby-Offsets:", lag[] = "X-Spate-Standby-Lag:";
        stale_t *st = opaque;
        size_t len = size * n, hl = 0;
        spate_buf_t *to = NULL;
        if (len > sizeof(off) - 1 && !strncasecmp(p, off, (hl = sizeof(off) - 1)))
                to = &st->offsets;
        else if (len > sizeof(lag) - 1 && !strncasecmp(p, lag, (hl = sizeof(lag) - 1)))
                to = &st->lags;
        if (to) {
                const char *v = p + hl, *end = p + len;
                while (v < end && *v == ' ')
                        v++;
                while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
                        end--;
                stale_add(to, v, (size_t)(end - v));
        }
        return len;
}

/* GET of the question at peer base: its status (0: unreachable, errstr
 * says why) and body; st (NULL: not wanted) gets what its answer read from
 * copies. */
static long ask_peer(spate_iq_http_t *h, const char *base, const spate_iq_t *q, spate_buf_t *body, stale_t *st,
                     char *errstr, size_t errstr_size) {
        CURL *curl = curl_get(h);
        struct curl_slist *hdrs = NULL;
        spate_buf_t url = { 0 }, auth = { 0 };
        char cerr[CURL_ERROR_SIZE] = "";
        long status = 0;
        if (!curl)
                return snprintf(errstr, errstr_size, "out of memory"), 0;
        peer_url(&url, curl, base, q);
        if (h->token) {
                spate_buf_put(&auth, "Authorization: Bearer ", 22);
                spate_buf_put(&auth, h->token, strlen(h->token) + 1);
                hdrs = curl_slist_append(hdrs, auth.data);
        }
        curl_easy_setopt(curl, CURLOPT_URL, url.data);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
        if (st) {
                curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
                curl_easy_setopt(curl, CURLOPT_HEADERDATA, st);
        }
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)FORWARD_TIMEOUT_MS);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, cerr);
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
        if (curl_easy_perform(curl) == CURLE_OK)
                curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        else
                snprintf(errstr, errstr_size, "instance %s: %s", base, cerr[0] ? cerr : "unreachable");
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
        curl_slist_free_all(hdrs);
        curl_put(h, curl);
        spate_buf_free(&url);
        spate_buf_free(&auth);   /* the token: never logged, gone at once */
        return status;
}

/* A peer's 503 standby_behind (text): its copies' lags into b. The number
 * of copies noted (0: some other answer). */
static int merge_behind(spate_iq_behind_t *b, const char *text, size_t len) {
        json_error_t jerr;
        json_t *v = text ? json_loadb(text, len, 0, &jerr) : NULL, *e;
        const char *code = json_string_value(json_object_get(v, "error"));
        size_t i;
        int n = 0;
        if (code && !strcmp(code, "standby_behind"))
                json_array_foreach(json_object_get(v, "behind"), i, e) {
                        const char *topic = json_string_value(json_object_get(e, "topic"));
                        json_t *lag = json_object_get(e, "lag");
                        if (!topic || !json_is_integer(json_object_get(e, "partition")))
                                continue;
                        spate_iq_behind_add(b, topic, (int32_t)json_integer_value(json_object_get(e, "partition")),
                                            json_string_value(json_object_get(e, "instance")),
                                            json_is_integer(lag) ? json_integer_value(lag) : -1);
                        n++;
                }
        json_decref(v);
        return n;
}

/* Asks peer url the question; 1 with the answer relayed as this request's
 * (its status, JSON and stale headers), or 0 when it cannot answer (with
 * stale=ok, a 503 too: a copy may) with errstr saying why, or with its
 * copies too far behind (max_lag) noted in behind. */
static int forward(spate_iq_http_t *h, struct MHD_Connection *c, const spate_iq_t *q, const char *url,
                   enum MHD_Result *r, spate_iq_behind_t *behind, char *errstr, size_t errstr_size) {
        spate_buf_t body = { 0 };
        stale_t st = { 0 };
        long status = ask_peer(h, url, q, &body, &st, errstr, errstr_size);
        if (!status || (q->stale && status == MHD_HTTP_SERVICE_UNAVAILABLE)) {
                if (status && !merge_behind(behind, body.data, body.len))
                        snprintf(errstr, errstr_size, "instance %s answered 503", url);
                spate_buf_free(&body);
                stale_free(&st);
                return 0;
        }
        while (body.len && (body.data[body.len - 1] == '\n'))
                body.len--;
        if (!body.data)
                spate_buf_grow(&body, 1);
        *r = send_json(h, c, (unsigned)status, &body, url, status == MHD_HTTP_SERVICE_UNAVAILABLE, &st);
        stale_free(&st);
        return 1;
}

/* --- local answers and merging --- */

static int run_local(spate_iq_http_t *h, const spate_node_t *n, spate_iq_t *q, const int32_t *parts, int nparts,
                     spate_iq_rows_t *rows, char *errstr, size_t errstr_size) {
        struct spate_store *store = spate_engine_state_store(h->engine);
        int rc;
        if (store)
                spate_store_read_lock(store);
        q->store = store;
        q->parts = parts;
        q->nparts = nparts;
        rc = n->def->query(n, q, rows, errstr, errstr_size);
        if (store)
                spate_store_read_unlock(store);
        return rc;
}

/* Reads the standby copies here of parts (of topic) into rows, one
 * partition at a time, noting in st the changelog offset each copy
 * reflected and the records its changelog held past it when the standby
 * last looked. The copies are read as an owner's state is (run_local(): the
 * store's read lock, whole commits only, docs/stores.md). A copy too far
 * behind for q's max_lag leaves no rows: its partition goes to late (n in
 * *nlate), its lag to behind. */
static int run_copies(spate_iq_http_t *h, const spate_node_t *n, spate_iq_t *q, const char *topic,
                      const int32_t *parts, int nparts, spate_iq_rows_t *rows, stale_t *st, spate_iq_behind_t *behind,
                      int32_t *late, int *nlate, char *errstr, size_t errstr_size) {
        for (int i = 0; i < nparts; i++) {
                char item[64];
                int rc;
                int64_t lag = -1;
                size_t n0 = rows->n, len0 = rows->json.len, last0 = rows->last;
                rows->changelog = NULL;
                rows->changelog_next = -1;
                q->copy = 1;
                rc = run_local(h, n, q, &parts[i], 1, rows, errstr, errstr_size);
                q->copy = 0;
                if (rc)
                        return rc;
                if (rows->changelog && rows->changelog_next >= 0)
                        lag = spate_iq_changelog_lag(rows->changelog, parts[i], rows->changelog_next);
                if (!spate_iq_copy_fresh(q, lag)) {
                        rows->n = n0;
                        rows->json.len = len0;
                        rows->last = last0;
                        spate_iq_behind_add(behind, topic, parts[i], self_url(h), lag);
                        late[(*nlate)++] = parts[i];
                        continue;
                }
                stale_add(&st->offsets, item, (size_t)(rows->changelog_next >= 0 ?
                          snprintf(item, sizeof(item), "%d=%lld", parts[i], (long long)rows->changelog_next) :
                          snprintf(item, sizeof(item), "%d=none", parts[i])));
                stale_add(&st->lags, item, (size_t)(lag >= 0 ?
                          snprintf(item, sizeof(item), "%d=%lld", parts[i], (long long)lag) :
                          snprintf(item, sizeof(item), "%d=?", parts[i])));
        }
        return 0;
}

static int row_cmp(const void *pa, const void *pb) {
        json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
        const char *ka = json_string_value(json_object_get(a, "key")), *kb = json_string_value(json_object_get(b, "key"));
        int c = strcmp(ka ? ka : "", kb ? kb : "");
        if (c)
                return c;
        double sa = json_number_value(json_object_get(a, "window_start")),
               sb = json_number_value(json_object_get(b, "window_start"));
        return sa < sb ? -1 : sa > sb;
}

/* Adds the rows of text (an array of rows, or a peer's answer: an object
 * with "rows", or one row) to all; a peer's cut rows set *truncated. -1 if
 * it is not JSON. */
static int gather(json_t *all, const char *text, size_t len, int peer_answer, int *truncated) {
        json_error_t jerr;
        json_t *v = json_loadb(text, len, 0, &jerr), *rows, *r;
        size_t i;
        if (!v)
                return -1;
        rows = peer_answer ? json_object_get(v, "rows") : v;
        if (peer_answer && !rows)
                json_array_append(all, v);   /* a GET's single row */
        if (peer_answer && json_is_true(json_object_get(v, "truncated")))
                *truncated = 1;
        json_array_foreach(rows, i, r)
                json_array_append(all, r);
        json_decref(v);
        return 0;
}

/* 1 if every partition of topic is held here or by another instance's
 * latest claim (else a scan would miss keys: a rebalance is under way). */
static int covered(spate_iq_http_t *h, const char *topic, int nparts, const int32_t *mine, int nmine) {
        for (int32_t p = 0; p < nparts; p++) {
                int here = 0;
                for (int i = 0; i < nmine && !here; i++)
                        here = mine[i] == p;
                char *owner = here || !h->peers ? NULL : spate_iq_peers_owner(h->peers, topic, p);
                int ok = here || (owner && strcmp(owner, spate_iq_peers_self(h->peers)));
                free(owner);
                if (!ok)
                        return 0;
        }
        return 1;
}

/* Every instance holding partitions answers from its own; one failing
 * means the answer would be partial: 503. With stale=ok they are asked for
 * their own partitions only (copies are read where the question came, so no
 * partition is read twice) and the ones that fail are left in *failed (n
 * returned in *nfailed) for copies to stand in. */
static int ask_others(spate_iq_http_t *h, const spate_iq_t *q, const char *topic, answer_t *a, char ***failed,
                      int *nfailed, char *errstr, size_t errstr_size) {
        char **urls;
        int n = spate_iq_peers_others(h->peers, topic, &urls), rc = 0;
        spate_iq_t own = *q;
        own.stale = 0;
        *nfailed = 0;
        *failed = spate_xcalloc((size_t)n + 1, sizeof(**failed));
        for (int i = 0; i < n && !rc; i++) {
                spate_buf_t body = { 0 };
                long status = ask_peer(h, urls[i], &own, &body, NULL, errstr, errstr_size);
                if (status == MHD_HTTP_OK || (status == MHD_HTTP_NOT_FOUND && q->kind == SPATE_IQ_GET))
                        rc = status == MHD_HTTP_OK && gather(a->all, body.data, body.len, 1, &a->truncated) ?
                                snprintf(errstr, errstr_size, "instance %s: not JSON", urls[i]), -1 : 0;
                else if (q->stale)
                        (*failed)[(*nfailed)++] = spate_xstrdup(urls[i]);
                else
                        rc = status ? snprintf(errstr, errstr_size, "instance %s answered %ld", urls[i],
                                               status), -1 : -1;
                spate_buf_free(&body);
        }
        spate_iq_peers_free_list(urls, n);
        return rc;
}

/* stale=ok, a lookup over every task: the partitions of topic not owned here
 * whose owner cannot answer (none, this instance restoring, or one of the
 * failed instances): into here those with a standby copy here, into there
 * the others. */
static void copies_needed(spate_iq_http_t *h, const char *topic, int nparts, const int32_t *mine, int nmine,
                          char **failed, int nfailed, int32_t *here, int *nhere, int32_t *there, int *nthere) {
        *nhere = *nthere = 0;
        for (int32_t p = 0; p < nparts; p++) {
                int owned = 0, lost;
                for (int i = 0; i < nmine && !owned; i++)
                        owned = mine[i] == p;
                if (owned)
                        continue;
                char *owner = h->peers ? spate_iq_peers_owner(h->peers, topic, p) : NULL;
                lost = !owner || !strcmp(owner, spate_iq_peers_self(h->peers));
                for (int i = 0; i < nfailed && !lost; i++)
                        lost = !strcmp(owner, failed[i]);
                free(owner);
                if (lost && spate_iq_standby_held(topic, p))
                        here[(*nhere)++] = p;
                else if (lost)
                        there[(*nthere)++] = p;
        }
}

/* The skip+1-th instance other than the failed ones whose record lists a
 * copy of partition p of topic (malloc'd), or NULL. */
static char *copy_holder(spate_iq_http_t *h, const char *topic, int32_t p, char **failed, int nfailed, int skip) {
        char **urls, *url = NULL;
        int n = h->peers ? spate_iq_peers_standbys(h->peers, topic, p, &urls) : 0;
        for (int i = 0; i < n && !url; i++) {
                int down = 0;
                for (int k = 0; k < nfailed && !down; k++)
                        down = !strcmp(urls[i], failed[k]);
                if (!down && !skip--)
                        url = spate_xstrdup(urls[i]);
        }
        if (h->peers)
                spate_iq_peers_free_list(urls, n);
        return url;
}

/* A partition ask_copies() reads from another instance's copy, and how far
 * it got with it. */
typedef struct copy_part {
        int32_t part;
        char *holder; /* the holder to ask this round (malloc'd), NULL once done */
        int tried;    /* holders passed over: failed, or their copy too far behind */
        int done;     /* its rows are in */
        int asked;    /* in one of this round's requests already */
} copy_part_t;

/* One request of ask_copies(): the partitions req[0..nreq) of holder url.
 * Their rows go to a (done set, their behind entries dropped); a holder
 * that fails passes over them all (tried++), one whose copies are too far
 * behind (a 503 standby_behind, noted in a->behind) those it names. -1 only
 * for an answer that is not JSON. */
static int ask_holder(spate_iq_http_t *h, spate_iq_t *ask, const char *topic, const char *url, copy_part_t **req,
                      int nreq, answer_t *a, char *errstr, size_t errstr_size) {
        spate_buf_t body = { 0 };
        long status;
        int named = 0;
        ask->ncopies = 0;
        for (int k = 0; k < nreq; k++)
                ask->copies[ask->ncopies++] = req[k]->part;
        status = ask_peer(h, url, ask, &body, &a->st, errstr, errstr_size);
        if (status == MHD_HTTP_OK || (status == MHD_HTTP_NOT_FOUND && ask->kind == SPATE_IQ_GET)) {
                int bad = status == MHD_HTTP_OK && gather(a->all, body.data, body.len, 1, &a->truncated);
                spate_buf_free(&body);
                if (bad)
                        return snprintf(errstr, errstr_size, "instance %s: not JSON", url), -1;
                for (int k = 0; k < nreq; k++) {
                        req[k]->done = 1;
                        spate_iq_behind_drop(a->behind, topic, req[k]->part);
                }
                return 0;
        }
        if (status == MHD_HTTP_SERVICE_UNAVAILABLE && merge_behind(a->behind, body.data, body.len))
                for (int k = 0; k < nreq; k++)
                        named += spate_iq_behind_has(a->behind, topic, req[k]->part, url);
        else if (status)
                snprintf(errstr, errstr_size, "instance %s answered %ld for its standby copies", url, status);
        for (int k = 0; k < nreq; k++)
                req[k]->tried += !named || spate_iq_behind_has(a->behind, topic, req[k]->part, url);
        spate_buf_free(&body);
        return 0;
}

/* Asks other instances for their copies of partitions there: rounds in
 * which each partition not yet answered goes to its next holder
 * (copy_holder()), all of one holder's in one request
 * (local=1&stale=ok&partitions=...), adding their rows to a->all and what
 * they read to a->st. A holder that fails, or whose copy is too far behind
 * for max_lag, is passed over for the partition's next one; a partition out
 * of holders makes the answer fail (never partial): -2 when copies of it
 * were too far behind (a->behind names them), else -1 with errstr. */
static int ask_copies(spate_iq_http_t *h, const spate_iq_t *q, const char *topic, const int32_t *there,
                      int nthere, char **failed, int nfailed, answer_t *a, char *errstr, size_t errstr_size) {
        copy_part_t *cp = spate_xcalloc((size_t)nthere + 1, sizeof(*cp));
        copy_part_t **req = spate_xcalloc((size_t)nthere + 1, sizeof(*req));
        spate_iq_t *ask = spate_xmalloc(sizeof(*ask));
        int rc = 0, left = nthere;
        for (int i = 0; i < nthere; i++)
                cp[i].part = there[i];
        *ask = *q;
        ask->stale = 1;
        while (!rc && left) {
                for (int i = 0; i < nthere && !rc; i++) {
                        copy_part_t *c = &cp[i];
                        c->asked = c->done;
                        free(c->holder);
                        c->holder = NULL;
                        if (c->done || (c->holder = copy_holder(h, topic, c->part, failed, nfailed, c->tried)))
                                continue;
                        rc = spate_iq_behind_has(a->behind, topic, c->part, NULL) ? -2 : -1;
                        if (rc == -1 && !c->tried)
                                snprintf(errstr, errstr_size, "partition %d of %s has no owner that answers and no "
                                         "standby copy anywhere: the answer would miss its keys; retry shortly",
                                         c->part, topic);
                }
                for (int i = 0; i < nthere && !rc; i++) {
                        int nreq = 0;
                        for (int k = i; k < nthere && !cp[i].asked; k++)
                                if (!cp[k].asked && !strcmp(cp[k].holder, cp[i].holder) && nreq < SPATE_IQ_COPIES_MAX)
                                        req[nreq++] = &cp[k];
                        for (int k = 0; k < nreq; k++)
                                req[k]->asked = 1;
                        if (nreq)
                                rc = ask_holder(h, ask, topic, cp[i].holder, req, nreq, a, errstr, errstr_size);
                }
                left = 0;
                for (int i = 0; i < nthere; i++)
                        left += !cp[i].done;
        }
        for (int i = 0; i < nthere; i++)
                free(cp[i].holder);
        free(cp);
        free(req);
        free(ask);
        return rc;
}

/* Adds the rows collected here to a (rows emptied). */
static void gather_rows(answer_t *a, spate_iq_rows_t *rows) {
        spate_buf_t text = { 0 };
        spate_buf_putc(&text, '[');
        if (rows->n)
                spate_buf_put(&text, rows->json.data, rows->json.len);
        spate_buf_putc(&text, ']');
        gather(a->all, text.data, text.len, 0, &a->truncated);
        spate_buf_free(&text);
        rows->n = rows->json.len = 0;
}

/* stale=ok, a lookup over every task, after the owners answered: the
 * partitions nobody answered for, from the copies here and elsewhere (those
 * here too far behind for max_lag: elsewhere). ask_copies()'s codes. */
static int read_copies(spate_iq_http_t *h, const spate_node_t *n, spate_iq_t *q, const char *topic, int ntasks,
                       const int32_t *mine, int nmine, char **failed, int nfailed, answer_t *a, char *errstr,
                       size_t errstr_size) {
        int32_t *here = spate_xcalloc((size_t)ntasks + 1, sizeof(*here)),
                *there = spate_xcalloc((size_t)ntasks + 1, sizeof(*there));
        spate_iq_rows_t rows = { .limit = q->kind == SPATE_IQ_GET };
        int nhere, nthere, nlate = 0, rc;
        copies_needed(h, topic, ntasks, mine, nmine, failed, nfailed, here, &nhere, there, &nthere);
        /* here and there are disjoint partitions of topic: the late ones fit after there's. */
        if (!(rc = run_copies(h, n, q, topic, here, nhere, &rows, &a->st, a->behind, there + nthere, &nlate,
                              errstr, errstr_size)))
                gather_rows(a, &rows);
        nthere += nlate;
        if (!rc && nthere && !(q->kind == SPATE_IQ_GET && json_array_size(a->all)))
                rc = !q->local ? ask_copies(h, q, topic, there, nthere, failed, nfailed, a, errstr, errstr_size) :
                     spate_iq_behind_has(a->behind, topic, there[0], NULL) ? -2 :
                     (snprintf(errstr, errstr_size, "partition %d of %s: no standby copy here", there[0], topic), -1);
        spate_buf_free(&rows.json);
        free(here);
        free(there);
        return rc;
}

static enum MHD_Result answer_rows(spate_iq_http_t *h, struct MHD_Connection *c, const spate_iq_t *q,
                                   answer_t *a) {
        json_t *all = a->all;
        size_t n = json_array_size(all), keep = n;
        json_t **v = calloc(n + 1, sizeof(*v)), *out = json_object(), *rows = json_array();
        spate_buf_t b = { 0 };
        char *text;
        for (size_t i = 0; i < n; i++)
                v[i] = json_array_get(all, i);
        if (q->kind == SPATE_IQ_GET) {
                free(v);
                json_decref(out);
                json_decref(rows);
                if (!n)
                        return fail(h, c, MHD_HTTP_NOT_FOUND, "not_found", "no value for this key (yet)");
                text = json_dumps(json_array_get(all, 0), JSON_COMPACT | JSON_PRESERVE_ORDER);
                spate_buf_put(&b, text, strlen(text));
                free(text);
                return send_json(h, c, MHD_HTTP_OK, &b, NULL, 0, &a->st);
        }
        qsort(v, n, sizeof(*v), row_cmp);
        if (keep > q->limit)
                keep = q->limit;
        for (size_t i = 0; i < keep; i++)
                json_array_append(rows, v[i]);
        json_object_set_new(out, "node", json_string(q->node));
        if (q->key)
                json_object_set_new(out, "key", json_stringn(q->key, q->klen));
        json_object_set_new(out, "rows", rows);
        json_object_set_new(out, "truncated", json_boolean(a->truncated || keep < n));
        text = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
        spate_buf_put(&b, text, strlen(text));
        free(text);
        free(v);
        json_decref(out);
        return send_json(h, c, MHD_HTTP_OK, &b, NULL, 0, &a->st);
}

/* One partition's rows are in key and window order already: written as
 * the node rendered them, no JSON parsed (the common case of a key's value
 * or history). A history asked one row past its limit: that row is cut. */
static enum MHD_Result answer_text(spate_iq_http_t *h, struct MHD_Connection *c, const spate_iq_t *q,
                                   spate_iq_rows_t *rows, stale_t *st) {
        spate_buf_t b = { 0 };
        int cut = q->kind == SPATE_IQ_HISTORY && rows->n > q->limit;
        if (q->kind == SPATE_IQ_GET) {
                if (!rows->n) {
                        spate_buf_free(&rows->json);
                        return fail(h, c, MHD_HTTP_NOT_FOUND, "not_found", "no value for this key (yet)");
                }
                return send_json(h, c, MHD_HTTP_OK, &rows->json, NULL, 0, st);
        }
        spate_buf_put(&b, "{\"node\":", 8);
        spate_json_write_str(&b, q->node, strlen(q->node));
        spate_buf_put(&b, ",\"key\":", 7);
        spate_json_write_str(&b, q->key, q->klen);
        spate_buf_put(&b, ",\"rows\":[", 9);
        if (rows->n)
                spate_buf_put(&b, rows->json.data, cut ? rows->last - 1 : rows->json.len);
        spate_buf_put(&b, cut ? "],\"truncated\":true}" : "],\"truncated\":false}", cut ? 19 : 20);
        spate_buf_free(&rows->json);
        return send_json(h, c, MHD_HTTP_OK, &b, NULL, 0, st);
}

/* Reads q here from parts and the standby copies of copies (and, for a
 * lookup spread over every task, from the other instances, and with
 * stale=ok from the copies of the tasks of topic's ntasks whose owners
 * fail), then answers (*r; 1 returned). A copy of copies too far behind for
 * max_lag: with pass, nothing is sent and 0 returned (pass notes it: the
 * caller asks elsewhere), else a 503 standby_behind. */
static int answer_here(spate_iq_http_t *h, struct MHD_Connection *c, const spate_node_t *n, spate_iq_t *q,
                       const char *topic, int ntasks, const int32_t *parts, int nparts, int everywhere,
                       const int32_t *copies, int ncopies, spate_iq_behind_t *pass, enum MHD_Result *r) {
        /* One row past a history's limit tells whether it was cut; a scan
         * reads every matching key (state order is not key order), then sorts and cuts. */
        spate_iq_rows_t rows = { .limit = q->kind == SPATE_IQ_HISTORY ? q->limit + 1 : q->kind == SPATE_IQ_GET };
        spate_iq_behind_t own = { 0 };
        answer_t a = { .behind = pass ? pass : &own };
        char err[1024] = "", **failed = NULL;
        int32_t *late = spate_xcalloc((size_t)ncopies + 1, sizeof(*late));
        int rc = run_local(h, n, q, parts, nparts, &rows, err, sizeof(err)), nfailed = 0, nlate = 0;
        if (!rc && ncopies)
                rc = run_copies(h, n, q, topic, copies, ncopies, &rows, &a.st, a.behind, late, &nlate, err,
                                sizeof(err));
        free(late);
        if (rc || nlate) {
                spate_buf_free(&rows.json);
                stale_free(&a.st);
                if (!rc && pass)
                        return 0;
                *r = !rc ? fail_behind(h, c, q, a.behind) : rc > 0 ? fail(h, c, (unsigned)rc, "bad_request", err) :
                     (spate_err("interactive query on '%s': %s", n->name, err),
                      fail(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "state_error", err));
                spate_iq_behind_free(&own);
                return 1;
        }
        if (!everywhere && q->kind != SPATE_IQ_SCAN) {
                *r = answer_text(h, c, q, &rows, &a.st);
                stale_free(&a.st);
                return 1;
        }
        a.all = json_array();
        gather_rows(&a, &rows);
        spate_buf_free(&rows.json);
        if (everywhere && !q->local && h->peers && !(q->kind == SPATE_IQ_GET && json_array_size(a.all)))
                rc = ask_others(h, q, topic, &a, &failed, &nfailed, err, sizeof(err));
        if (!rc && everywhere && q->stale && !(q->kind == SPATE_IQ_GET && json_array_size(a.all)))
                rc = read_copies(h, n, q, topic, ntasks, parts, nparts, failed, nfailed, &a, err, sizeof(err));
        spate_iq_peers_free_list(failed, nfailed);
        *r = rc == -2 ? fail_behind(h, c, q, a.behind) :
             rc ? fail(h, c, MHD_HTTP_SERVICE_UNAVAILABLE, "instance_unavailable", err) :
             answer_rows(h, c, q, &a);
        json_decref(a.all);
        stale_free(&a.st);
        spate_iq_behind_free(&own);
        return 1;
}

/* answer_here() of a lookup that reads no copy, or answers a 503 for
 * copies too far behind. */
static enum MHD_Result answer_local(spate_iq_http_t *h, struct MHD_Connection *c, const spate_node_t *n,
                                    spate_iq_t *q, const char *topic, int ntasks, const int32_t *parts, int nparts,
                                    int everywhere, const int32_t *copies, int ncopies) {
        enum MHD_Result r;
        answer_here(h, c, n, q, topic, ntasks, parts, nparts, everywhere, copies, ncopies, NULL, &r);
        return r;
}

/* A key in partition p of topic, not held here: the owner answers; with
 * stale=ok, when it cannot (none, unreachable, restoring), a standby copy
 * here, else another instance's (asked in the order they advertise) - with
 * max_lag, the first within it, or else a 503 naming them all. */
static enum MHD_Result answer_elsewhere(spate_iq_http_t *h, struct MHD_Connection *c, const spate_node_t *n,
                                        spate_iq_t *q, const char *topic, int32_t p) {
        char err[1024] = "", *owner = h->peers && !q->local ? spate_iq_peers_owner(h->peers, topic, p) : NULL;
        spate_iq_behind_t behind = { 0 };
        enum MHD_Result r;
        int answered = 0;
        if (owner && strcmp(owner, spate_iq_peers_self(h->peers)))
                answered = forward(h, c, q, owner, &r, &behind, err, sizeof(err));
        if (!answered && q->stale && spate_iq_standby_held(topic, p))
                answered = answer_here(h, c, n, q, topic, 0, NULL, 0, 0, &p, 1, &behind, &r);
        if (!answered && q->stale && h->peers && !q->local) {
                char **urls, e2[512];
                int nurls = spate_iq_peers_standbys(h->peers, topic, p, &urls);
                for (int i = 0; i < nurls && !answered; i++)
                        if (!owner || strcmp(urls[i], owner))
                                answered = forward(h, c, q, urls[i], &r, &behind, e2, sizeof(e2));
                spate_iq_peers_free_list(urls, nurls);
        }
        if (!answered && behind.n)
                r = fail_behind(h, c, q, &behind);
        else if (!answered && err[0])
                r = fail(h, c, MHD_HTTP_SERVICE_UNAVAILABLE, "owner_unreachable", err);
        else if (!answered) {
                snprintf(err, sizeof(err), "partition %d of %s holds this key and no instance holds it now "
                         "(a rebalance is under way)%s; retry shortly", p, topic,
                         q->stale ? ", nor a standby copy of it" : "");
                r = fail(h, c, MHD_HTTP_SERVICE_UNAVAILABLE, "rebalancing", err);
        }
        spate_iq_behind_free(&behind);
        free(owner);
        return r;
}

/* partitions=... (an instance forwarding a stale lookup): exactly those
 * partitions' copies here, each of which must be held. */
static enum MHD_Result answer_copies(spate_iq_http_t *h, struct MHD_Connection *c, const spate_node_t *n,
                                     spate_iq_t *q, const char *topic, int ntasks) {
        char err[512];
        for (int i = 0; i < q->ncopies; i++)
                if (q->copies[i] >= ntasks || !spate_iq_standby_held(topic, q->copies[i])) {
                        snprintf(err, sizeof(err), "no standby copy of partition %d of %s here", q->copies[i],
                                 topic);
                        return fail(h, c, MHD_HTTP_SERVICE_UNAVAILABLE, "rebalancing", err);
                }
        return answer_local(h, c, n, q, topic, ntasks, NULL, 0, 0, q->copies, q->ncopies);
}

enum MHD_Result spate_iq_http_answer(spate_iq_http_t *h, struct MHD_Connection *c, const char *url) {
        spate_iq_t q;
        char err[1024];
        const char *topic = NULL;
        int nparts = 0, route, rc;
        int32_t parts[MAX_PARTS];
        const spate_node_t *n;

        if (!authorized(h, c))
                return fail(h, c, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                            "this server wants 'Authorization: Bearer <token>' (SPATE_HTTP_TOKEN)");
        if ((rc = spate_iq_parse(url, mhd_arg, c, &q, err, sizeof(err))))
                return fail(h, c, (unsigned)rc, rc == 404 ? "not_found" : "bad_request", err);
        if (q.kind == SPATE_IQ_NODES)
                return list_nodes(h, c);
        if (!(n = spate_topology_node(h->topo, q.node))) {
                snprintf(err, sizeof(err), "no node '%s' in this topology (GET /state lists the queryable ones)",
                         q.node);
                return fail(h, c, MHD_HTTP_NOT_FOUND, "not_found", err);
        }
        if ((route = spate_iq_route(n, &topic, &nparts, err, sizeof(err))) < 0)
                return fail(h, c, MHD_HTTP_BAD_REQUEST, "bad_request", err);
        if (!spate_engine_ready(h->engine))
                return restoring(h, c);
        if (route == SPATE_IQ_LOCAL)
                return answer_local(h, c, n, &q, NULL, 0, NULL, 0, 0, NULL, 0);
        /* Restoring here: with stale=ok this instance owns nothing yet, and
         * its standby copies may answer. */
        if ((rc = spate_iq_owned_list(topic, parts, MAX_PARTS)) < 0 && !q.stale)
                return restoring(h, c);
        rc = rc < 0 ? 0 : rc;
        if ((q.kind == SPATE_IQ_SCAN || route == SPATE_IQ_EVERY) && !q.local && !q.stale &&
            !covered(h, topic, nparts, parts, rc)) {
                snprintf(err, sizeof(err), "some partitions of %s are held by no instance now (a rebalance is "
                         "under way): the answer would miss their keys; retry shortly (or ask with stale=ok)",
                         topic);
                return fail(h, c, MHD_HTTP_SERVICE_UNAVAILABLE, "rebalancing", err);
        }
        if (q.ncopies)
                return answer_copies(h, c, n, &q, topic, nparts);
        if (q.kind == SPATE_IQ_SCAN || route == SPATE_IQ_EVERY)
                return answer_local(h, c, n, &q, topic, nparts, parts, rc, 1, NULL, 0);
        int32_t p = spate_iq_key_partition(n, route, q.key, q.klen, nparts);
        for (int i = 0; i < rc; i++)
                if (parts[i] == p)
                        return answer_local(h, c, n, &q, topic, nparts, &p, 1, 0, NULL, 0);
        return answer_elsewhere(h, c, n, &q, topic, p);
}
