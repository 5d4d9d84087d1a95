/* iq.c - interactive queries' request model (URL parsing), the key
 * partitioner, row collection and which partitions this instance holds
 * (iq.h). */
#include "iq.h"
#include "../util/mem.h"
#include "node.h"
#include "topology.h"
#include "../serde/json_write.h"

#include <ctype.h>
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --- parsing --- */

int spate_iq_parse_time(const char *s, int64_t *ms) {
        struct tm tm = { 0 };
        char *end;
        if (!s || !*s)
                return -1;
        if (isdigit((unsigned char)s[0]) || s[0] == '-') {
                long long v = strtoll(s, &end, 10);
                if (!*end) {
                        *ms = v;
                        return 0;
                }
        }
        if (!(end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
                return -1;
        int64_t frac = 0;
        if (*end == '.') {
                int digits = 0;
                for (end++; isdigit((unsigned char)*end); end++, digits++)
                        if (digits < 3)
                                frac = frac * 10 + (*end - '0');
                if (!digits)
                        return -1;
                for (; digits < 3; digits++)
                        frac *= 10;
        }
        int64_t off = 0;
        if (*end == 'Z') {
                end++;
        } else if ((*end == '+' || *end == '-') && isdigit((unsigned char)end[1]) &&
                   isdigit((unsigned char)end[2]) && end[3] == ':' && isdigit((unsigned char)end[4]) &&
                   isdigit((unsigned char)end[5])) {
                off = ((end[1] - '0') * 10 + (end[2] - '0')) * 3600 + ((end[4] - '0') * 10 + (end[5] - '0')) * 60;
                off = *end == '-' ? -off : off;
                end += 6;
        } else {
                return -1;   /* a local time would depend on the server's zone */
        }
        if (*end)
                return -1;
        *ms = ((int64_t)timegm(&tm) - off) * 1000 + frac;
        return 0;
}

static int bad(char *errstr, size_t errstr_size, int status, const char *fmt, const char *what) {
        snprintf(errstr, errstr_size, fmt, what);
        return status;
}

/* Arguments a kind does not take are refused, so that a typo'd request
 * (history arguments on a value lookup) is not answered as something else. */
static int refuse_args(const spate_iq_t *q, spate_iq_arg_fn arg, void *opaque, char *errstr, size_t errstr_size) {
        static const char *const history[] = { "from", "to", NULL }, *const scan[] = { "prefix", "start", "end", NULL };
        const char *const *not[2] = { q->kind == SPATE_IQ_HISTORY ? NULL : history,
                                      q->kind == SPATE_IQ_SCAN ? NULL : scan };
        for (int k = 0; k < 2; k++)
                for (int i = 0; not[k] && not[k][i]; i++)
                        if (arg(opaque, not[k][i]))
                                return bad(errstr, errstr_size, 400, "'%s' does not apply here: from/to go with "
                                           "/state/<node>/<key>/history, prefix/start/end with /state/<node>",
                                           not[k][i]);
        if (q->kind == SPATE_IQ_GET && arg(opaque, "limit"))
                return bad(errstr, errstr_size, 400, "'%s' does not apply to one key's value", "limit");
        return 0;
}

/* partitions=p,q,...: what an instance forwarding a stale lookup asks a
 * peer to read from its copies (iq_http.c), never a user's argument alone. */
static int parse_copies(spate_iq_t *q, const char *v, char *errstr, size_t errstr_size) {
        const char *p = v;
        char *end;
        if (!q->local || !q->stale)
                return bad(errstr, errstr_size, 400, "partitions=%s goes with local=1&stale=ok (an instance "
                           "asking another for its standby copies)", v);
        while (*p) {
                long n = strtol(p, &end, 10);
                if (!isdigit((unsigned char)*p) || n > INT32_MAX || q->ncopies == SPATE_IQ_COPIES_MAX ||
                    (*end && *end != ','))
                        return bad(errstr, errstr_size, 400, "partitions=%s: want partition numbers, "
                                   "comma-separated (at most 256)", v);
                q->copies[q->ncopies++] = (int32_t)n;
                p = *end ? end + 1 : end;
        }
        if (!q->ncopies)
                return bad(errstr, errstr_size, 400, "partitions=%s: no partition", v);
        return 0;
}

/* max_lag=N bounds the copies stale=ok lets answer; alone it would bound
 * nothing (owners answer regardless), so it is refused rather than
 * ignored. */
static int parse_max_lag(spate_iq_t *q, const char *v, char *errstr, size_t errstr_size) {
        char *end;
        q->max_lag = -1;
        if (!v)
                return 0;
        if (!q->stale)
                return bad(errstr, errstr_size, 400, "max_lag=%s goes with stale=ok: it bounds how far behind "
                           "a standby's copy may be to answer (owners always answer)", v);
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (!isdigit((unsigned char)*v) || *end || errno)
                return bad(errstr, errstr_size, 400, "max_lag=%s: want a number of changelog records, 0 or "
                           "more", v);
        q->max_lag = n;
        return 0;
}

static int parse_args(spate_iq_t *q, spate_iq_arg_fn arg, void *opaque, char *errstr, size_t errstr_size) {
        const char *v;
        char *end;
        int rc;
        if ((rc = refuse_args(q, arg, opaque, errstr, errstr_size)))
                return rc;
        q->from = INT64_MIN;
        q->to = INT64_MAX;
        if ((v = arg(opaque, "from")) && spate_iq_parse_time(v, &q->from))
                return bad(errstr, errstr_size, 400, "from=%s: want milliseconds since 1970 or ISO-8601 UTC, "
                           "e.g. 2026-01-01T00:05:00Z", v);
        if ((v = arg(opaque, "to")) && spate_iq_parse_time(v, &q->to))
                return bad(errstr, errstr_size, 400, "to=%s: want milliseconds since 1970 or ISO-8601 UTC, "
                           "e.g. 2026-01-01T01:00:00Z", v);
        if (q->from >= q->to)
                return bad(errstr, errstr_size, 400, "%s: 'from' must be before 'to' (the range is [from, to))",
                           "empty range");
        q->limit = SPATE_IQ_LIMIT_DEFAULT;
        if ((v = arg(opaque, "limit"))) {
                unsigned long long l = strtoull(v, &end, 10);
                if (!isdigit((unsigned char)*v) || *end || l < 1 || l > SPATE_IQ_LIMIT_MAX)
                        return bad(errstr, errstr_size, 400, "limit=%s: want a count from 1 to "
                                   "100000", v);
                q->limit = (size_t)l;
        }
        q->prefix = arg(opaque, "prefix");
        q->start = arg(opaque, "start");
        q->end = arg(opaque, "end");
        if (q->start && q->end && strcmp(q->start, q->end) >= 0)
                return bad(errstr, errstr_size, 400, "%s: 'start' must sort before 'end' (keys in [start, end))",
                           "empty range");
        q->local = (v = arg(opaque, "local")) && !strcmp(v, "1");
        /* Stale answers are asked for, never assumed: a misspelt value is
         * refused rather than read as "no". */
        if ((v = arg(opaque, "stale")) && !(q->stale = !strcmp(v, "ok") || !strcmp(v, "1") || !strcmp(v, "true")))
                return bad(errstr, errstr_size, 400, "stale=%s: want stale=ok (answers from a standby's copy "
                           "when the partition's owner cannot answer)", v);
        if ((rc = parse_max_lag(q, arg(opaque, "max_lag"), errstr, errstr_size)))
                return rc;
        return (v = arg(opaque, "partitions")) ? parse_copies(q, v, errstr, errstr_size) : 0;
}

int spate_iq_parse(const char *path, spate_iq_arg_fn arg, void *opaque, spate_iq_t *q, char *errstr,
                   size_t errstr_size) {
        static const char hist[] = "/history";
        const char *p, *slash;
        size_t nlen;
        memset(q, 0, sizeof(*q));
        if (strncmp(path, "/state", 6) || (path[6] && path[6] != '/'))
                return bad(errstr, errstr_size, 404, "%s: not a state path (try /state)", path);
        p = path + 6 + (path[6] == '/');
        if (!*p) {
                q->kind = SPATE_IQ_NODES;
                return parse_args(q, arg, opaque, errstr, errstr_size);
        }
        slash = strchr(p, '/');
        nlen = slash ? (size_t)(slash - p) : strlen(p);
        if (nlen >= sizeof(q->node))
                return bad(errstr, errstr_size, 404, "%s: no such node", "(a name too long)");
        memcpy(q->node, p, nlen);
        q->node[nlen] = '\0';
        if (!slash || !slash[1]) {
                q->kind = SPATE_IQ_SCAN;
                return parse_args(q, arg, opaque, errstr, errstr_size);
        }
        q->key = slash + 1;
        q->klen = strlen(q->key);
        q->kind = SPATE_IQ_GET;
        if (q->klen >= sizeof(hist) - 1 && !strcmp(q->key + q->klen - (sizeof(hist) - 1), hist)) {
                q->kind = SPATE_IQ_HISTORY;
                q->klen -= sizeof(hist) - 1;
                if (!q->klen)
                        return bad(errstr, errstr_size, 400, "%s: the key is empty (/state/<node>/<key>/history)",
                                   path);
        }
        return parse_args(q, arg, opaque, errstr, errstr_size);
}

int32_t spate_iq_partition(const void *key, size_t klen, int n) {
        return rd_kafka_msg_partitioner_murmur2(NULL, key, klen, n, NULL, NULL);
}

int spate_iq_row(spate_iq_rows_t *rows, const char *json, size_t len) {
        if (rows->limit && rows->n >= rows->limit)
                return 1;
        if (rows->n++)
                spate_buf_putc(&rows->json, ',');
        rows->last = rows->json.len;
        spate_buf_put(&rows->json, json, len);
        return rows->limit && rows->n >= rows->limit;
}

int spate_iq_key_wanted(const spate_iq_t *q, const char *k, size_t klen) {
        size_t pl = q->prefix ? strlen(q->prefix) : 0;
        if (pl && (klen < pl || memcmp(k, q->prefix, pl)))
                return 0;
        for (int b = 0; b < 2; b++) {
                const char *bound = b ? q->end : q->start;
                if (!bound)
                        continue;
                size_t bl = strlen(bound), m = bl < klen ? bl : klen;
                int c = memcmp(k, bound, m);
                c = c ? c : klen < bl ? -1 : klen > bl;
                if (b ? c >= 0 : c < 0)
                        return 0;
        }
        return 1;
}

int spate_iq_route(const spate_node_t *n, const char **topic, int *nparts, char *errstr, size_t errstr_size) {
        const spate_node_t *src = n;
        if (!n->def->query)
                return snprintf(errstr, errstr_size, "node '%s' (%s) keeps no queryable state: query a "
                                "window, dedupe or table node", n->name, n->def->name), -1;
        int keyed = n->def->query_keyed;
        if (n->def->role == SPATE_ROLE_SOURCE)
                return SPATE_IQ_LOCAL;
        /* Repartitioned by the node: what came before (key_by, the source's
         * partitioning) no longer says where a key is. */
        if (keyed && n->def->query_topic && (*topic = n->def->query_topic(n, nparts)))
                return SPATE_IQ_PLACED;
        /* Records it reads from a topic of its own (a dedupe with
         * repartition: true): its tasks are that topic's partitions. */
        if ((*topic = spate_topology_input_of(n->topo, n))) {
                *nparts = spate_topology_topic(n->topo, *topic)->partitions;
                return SPATE_IQ_EVERY;
        }
        while (src->from) {
                src = src->from;
                keyed &= !src->def->sets_key;
        }
        if (!src->def->replayable || !(*topic = spate_node_str(src, "topic")))
                return snprintf(errstr, errstr_size, "node '%s' reads %s '%s', not a partitioned topic",
                                n->name, src->def->name, src->name), -1;
        *nparts = (int)spate_node_int(src, "partitions");
        return keyed ? SPATE_IQ_KEYED : SPATE_IQ_EVERY;
}

int32_t spate_iq_key_partition(const spate_node_t *n, int route, const void *key, size_t klen, int nparts) {
        return route == SPATE_IQ_PLACED ? n->def->query_partition(n, key, klen)
                                        : spate_iq_partition(key, klen, nparts);
}

int spate_iq_copy_fresh(const spate_iq_t *q, int64_t lag) {
        return q->max_lag < 0 || (lag >= 0 && lag <= q->max_lag);
}

static spate_iq_behind_copy_t *behind_find(const spate_iq_behind_t *b, const char *topic, int32_t p,
                                           const char *instance) {
        for (int i = 0; i < b->n; i++) {
                const spate_iq_behind_copy_t *e = &b->v[i];
                if (e->partition == p && !strcmp(e->topic, topic) &&
                    (!instance || (e->instance && !strcmp(e->instance, instance))))
                        return &b->v[i];
        }
        return NULL;
}

void spate_iq_behind_add(spate_iq_behind_t *b, const char *topic, int32_t p, const char *instance, int64_t lag) {
        spate_iq_behind_copy_t *e = instance ? behind_find(b, topic, p, instance) : NULL;
        if (!e) {
                if (b->n == b->cap) {
                        b->cap = b->cap ? b->cap * 2 : 8;
                        b->v = spate_xrealloc(b->v, sizeof(*b->v) * (size_t)b->cap);
                }
                e = &b->v[b->n++];
                *e = (spate_iq_behind_copy_t){ spate_xstrdup(topic), p, instance ? spate_xstrdup(instance) : NULL,
                                               -1 };
        }
        e->lag = lag < 0 ? -1 : lag;
}

void spate_iq_behind_drop(spate_iq_behind_t *b, const char *topic, int32_t p) {
        int k = 0;
        for (int i = 0; i < b->n; i++) {
                if (b->v[i].partition == p && !strcmp(b->v[i].topic, topic)) {
                        free(b->v[i].topic);
                        free(b->v[i].instance);
                } else {
                        b->v[k++] = b->v[i];
                }
        }
        b->n = k;
}

int spate_iq_behind_has(const spate_iq_behind_t *b, const char *topic, int32_t p, const char *instance) {
        return behind_find(b, topic, p, instance) != NULL;
}

void spate_iq_behind_free(spate_iq_behind_t *b) {
        for (int i = 0; i < b->n; i++) {
                free(b->v[i].topic);
                free(b->v[i].instance);
        }
        free(b->v);
        *b = (spate_iq_behind_t){ 0 };
}

/* "partition P of T (URL: lag N, URL: lag unknown), ..." in the order
 * the partitions were first noted. */
static void behind_reason(const spate_iq_behind_t *b, spate_buf_t *r) {
        char num[64];
        for (int i = 0; i < b->n; i++) {
                const spate_iq_behind_copy_t *e = &b->v[i];
                int first = 1;
                for (int j = 0; j < i && first; j++)
                        first = b->v[j].partition != e->partition || strcmp(b->v[j].topic, e->topic);
                if (!first)
                        continue;
                if (r->len)
                        spate_buf_put(r, ", ", 2);
                spate_buf_put(r, num, (size_t)snprintf(num, sizeof(num), "partition %d of ", e->partition));
                spate_buf_put(r, e->topic, strlen(e->topic));
                for (int j = i, k = 0; j < b->n; j++) {
                        const spate_iq_behind_copy_t *c = &b->v[j];
                        if (c->partition != e->partition || strcmp(c->topic, e->topic))
                                continue;
                        spate_buf_put(r, k++ ? ", " : " (", 2);
                        if (c->instance) {
                                spate_buf_put(r, c->instance, strlen(c->instance));
                                spate_buf_put(r, ": ", 2);
                        }
                        spate_buf_put(r, num, (size_t)(c->lag >= 0 ?
                                      snprintf(num, sizeof(num), "lag %lld", (long long)c->lag) :
                                      snprintf(num, sizeof(num), "lag unknown")));
                }
                spate_buf_putc(r, ')');
        }
}

void spate_iq_behind_json(const spate_iq_behind_t *b, int64_t max_lag, spate_buf_t *out) {
        spate_buf_t reason = { 0 }, parts = { 0 };
        char num[96];
        behind_reason(b, &parts);
        spate_buf_put(&reason, num, (size_t)snprintf(num, sizeof(num), "no owner answers and every standby copy "
                                                     "is more than max_lag=%lld records behind: ",
                                                     (long long)max_lag));
        spate_buf_put(&reason, parts.data, parts.len);
        spate_buf_put(&reason, "; retry shortly or raise max_lag", 32);
        spate_buf_put(out, "{\"error\":\"standby_behind\",\"reason\":", 35);
        spate_json_write_str(out, reason.data, reason.len);
        spate_buf_put(out, num, (size_t)snprintf(num, sizeof(num), ",\"max_lag\":%lld,\"behind\":[",
                                                 (long long)max_lag));
        for (int i = 0; i < b->n; i++) {
                const spate_iq_behind_copy_t *e = &b->v[i];
                spate_buf_put(out, i ? ",{\"topic\":" : "{\"topic\":", i ? 10 : 9);
                spate_json_write_str(out, e->topic, strlen(e->topic));
                spate_buf_put(out, num, (size_t)snprintf(num, sizeof(num), ",\"partition\":%d,\"instance\":",
                                                         e->partition));
                if (e->instance)
                        spate_json_write_str(out, e->instance, strlen(e->instance));
                else
                        spate_buf_put(out, "null", 4);
                spate_buf_put(out, num, (size_t)(e->lag >= 0 ?
                              snprintf(num, sizeof(num), ",\"lag\":%lld}", (long long)e->lag) :
                              snprintf(num, sizeof(num), ",\"lag\":null}")));
        }
        spate_buf_put(out, "]}", 2);
        spate_buf_free(&reason);
        spate_buf_free(&parts);
}

/* --- ownership and standby copies --- */

typedef struct owned {
        char *topic;
        int32_t partition;
        int64_t end;                 /* ends: the changelog's high watermark */
} owned_t;

typedef struct tpset {
        owned_t *v;
        int n, cap;
} tpset_t;

static pthread_mutex_t own_mu = PTHREAD_MUTEX_INITIALIZER;
static tpset_t own, standby, ends;
static int restoring = 1;
static uint64_t generation;
static spate_iq_listener_fn listener;
static void *listener_opaque;

static void set_clear(tpset_t *s) {
        for (int i = 0; i < s->n; i++)
                free(s->v[i].topic);
        s->n = 0;
}

static owned_t *set_find(const tpset_t *s, const char *topic, int32_t p) {
        for (int i = 0; i < s->n; i++)
                if (s->v[i].partition == p && !strcmp(s->v[i].topic, topic))
                        return &s->v[i];
        return NULL;
}

static owned_t *set_add(tpset_t *s, const char *topic, int32_t p) {
        owned_t *o = set_find(s, topic, p);
        if (o)
                return o;
        if (s->n == s->cap) {
                s->cap = s->cap ? s->cap * 2 : 16;
                s->v = spate_xrealloc(s->v, sizeof(*s->v) * (size_t)s->cap);
        }
        s->v[s->n] = (owned_t){ spate_xstrdup(topic), p, -1 };
        return &s->v[s->n++];
}

/* Replaces s by topics[i]/partitions[i] (duplicates once); 1 if that
 * changed its members. */
static int set_replace(tpset_t *s, const char *const *topics, const int32_t *partitions, int n) {
        int same = 1;
        for (int i = 0; i < n && same; i++)
                same = set_find(s, topics[i], partitions[i]) != NULL;
        tpset_t fresh = { 0 };
        for (int i = 0; i < n; i++)
                set_add(&fresh, topics[i], partitions[i]);
        if (same && fresh.n == s->n) {
                set_clear(&fresh);
                free(fresh.v);
                return 0;
        }
        set_clear(s);
        free(s->v);
        *s = fresh;
        return 1;
}

/* Calls the listener (outside the lock) after a change. */
static void changed(void) {
        spate_iq_listener_fn fn;
        void *opaque;
        generation++;
        fn = listener;
        opaque = listener_opaque;
        pthread_mutex_unlock(&own_mu);
        if (fn)
                fn(opaque);
}

void spate_iq_assigned(const char *const *topics, const int32_t *partitions, int n) {
        pthread_mutex_lock(&own_mu);
        set_replace(&own, topics, partitions, n);
        restoring = 0;
        changed();
}

void spate_iq_revoked(void) {
        pthread_mutex_lock(&own_mu);
        set_clear(&own);
        restoring = 1;
        pthread_mutex_unlock(&own_mu);
}

static int set_list(const tpset_t *s, const char *topic, int32_t *out, int max) {
        int n = 0;
        for (int i = 0; i < s->n; i++)
                if (!strcmp(s->v[i].topic, topic) && n < max)
                        out[n++] = s->v[i].partition;
        return n;
}

int spate_iq_owned_list(const char *topic, int32_t *out, int max) {
        int n;
        pthread_mutex_lock(&own_mu);
        n = restoring ? -1 : set_list(&own, topic, out, max);
        pthread_mutex_unlock(&own_mu);
        return n;
}

int spate_iq_owned(const char *topic, int32_t p) {
        int rc;
        pthread_mutex_lock(&own_mu);
        rc = restoring ? -1 : set_find(&own, topic, p) != NULL;
        pthread_mutex_unlock(&own_mu);
        return rc;
}

void spate_iq_listen(spate_iq_listener_fn fn, void *opaque) {
        pthread_mutex_lock(&own_mu);
        listener = fn;
        listener_opaque = opaque;
        pthread_mutex_unlock(&own_mu);
}

/* {"topic":[p,...],...} of s. */
static void set_json(const tpset_t *s, spate_buf_t *out) {
        spate_buf_putc(out, '{');
        for (int i = 0, k = 0; i < s->n; i++) {
                int first = 1;
                for (int j = 0; j < i && first; j++)
                        first = strcmp(s->v[j].topic, s->v[i].topic) != 0;
                if (!first)
                        continue;
                if (k++)
                        spate_buf_putc(out, ',');
                spate_json_write_str(out, s->v[i].topic, strlen(s->v[i].topic));
                spate_buf_put(out, ":[", 2);
                for (int j = i, m = 0; j < s->n; j++)
                        if (!strcmp(s->v[j].topic, s->v[i].topic)) {
                                char num[16];
                                if (m++)
                                        spate_buf_putc(out, ',');
                                spate_buf_put(out, num, (size_t)snprintf(num, sizeof(num), "%d",
                                                                         s->v[j].partition));
                        }
                spate_buf_putc(out, ']');
        }
        spate_buf_putc(out, '}');
}

uint64_t spate_iq_owned_json(spate_buf_t *out) {
        uint64_t g;
        pthread_mutex_lock(&own_mu);
        set_json(&own, out);
        g = generation;
        pthread_mutex_unlock(&own_mu);
        return g;
}

void spate_iq_standbys(const char *const *topics, const int32_t *partitions, int n) {
        pthread_mutex_lock(&own_mu);
        if (set_replace(&standby, topics, partitions, n))
                changed();
        else
                pthread_mutex_unlock(&own_mu);
}

int spate_iq_standby_held(const char *topic, int32_t p) {
        int held;
        pthread_mutex_lock(&own_mu);
        held = set_find(&standby, topic, p) != NULL;
        pthread_mutex_unlock(&own_mu);
        return held;
}

void spate_iq_standby_json(spate_buf_t *out) {
        pthread_mutex_lock(&own_mu);
        set_json(&standby, out);
        pthread_mutex_unlock(&own_mu);
}

void spate_iq_changelog_end(const char *changelog, int32_t p, int64_t end) {
        pthread_mutex_lock(&own_mu);
        set_add(&ends, changelog, p)->end = end;
        pthread_mutex_unlock(&own_mu);
}

int64_t spate_iq_changelog_lag(const char *changelog, int32_t p, int64_t next) {
        int64_t lag = -1;
        pthread_mutex_lock(&own_mu);
        owned_t *o = set_find(&ends, changelog, p);
        if (o && o->end >= 0)
                lag = o->end > next ? o->end - next : 0;
        pthread_mutex_unlock(&own_mu);
        return lag;
}
