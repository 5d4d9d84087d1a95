/* iq.h - interactive queries: the state of a running topology read as JSON
 * from HTTP threads (cli/http_server.c; docs/stores.md "Interactive
 * queries").
 *
 * A request names a node and asks for a key's current value, a key's
 * history over a time range (a windowed node) or a scan of keys (a prefix or
 * a range, with a limit). The request model and its URL parsing are pure;
 * the answer comes from the node's def->query(), which reads the local
 * RocksDB state the engine has checkpointed (what commits made durable, so
 * an answer never shows state a crash could take back) under
 * spate_store_read_lock(), or an in-memory table under its lock.
 *
 * Ownership: a keyed node's state lives with the task of the key's partition
 * of its input topic. spate_iq_partition() computes that partition as the
 * producers do (murmur2, kafka_conf.c's partitioner); a node that
 * repartitions by a key of its own (a window's group_by) places it in its own
 * topic with its own function (def->query_topic, def->query_partition).
 * spate_iq_owned() says whether this instance holds it, restored. The engine
 * calls spate_iq_assigned() and spate_iq_revoked() from its rebalance
 * callback. */
#ifndef SPATE_IQ_H
#define SPATE_IQ_H

#include "../util/buf.h"

#include <stddef.h>
#include <stdint.h>

struct spate_node;
struct spate_store;
struct spate_topology;

typedef enum {
        SPATE_IQ_NODES,     /* GET /state: the queryable nodes */
        SPATE_IQ_GET,       /* GET /state/<node>/<key> */
        SPATE_IQ_HISTORY,   /* GET /state/<node>/<key>/history?from=&to=&limit= */
        SPATE_IQ_SCAN       /* GET /state/<node>?prefix=&start=&end=&limit= */
} spate_iq_kind_t;

#define SPATE_IQ_LIMIT_DEFAULT 1000
#define SPATE_IQ_LIMIT_MAX 100000
#define SPATE_IQ_COPIES_MAX 256

typedef struct spate_iq {
        spate_iq_kind_t kind;
        char node[128];
        const char *key;            /* GET, HISTORY: borrowed from the path */
        size_t klen;
        int64_t from, to;           /* HISTORY: window starts in [from, to) */
        const char *prefix;         /* SCAN: borrowed from the arguments; NULL: none */
        const char *start, *end;    /* SCAN: keys in [start, end); NULL: open */
        size_t limit;               /* HISTORY, SCAN: at most this many rows */
        int local;                  /* ?local=1: answer from this instance only (forwarded) */
        int stale;                  /* ?stale=ok: when the owner cannot answer, a standby's copy
                                       may (the answer says so, and how far behind it may be) */
        int64_t max_lag;            /* ?max_lag=N (with stale=ok): a copy answers only when its
                                       lag is known and at most N records; -1: whatever its lag */
        int32_t copies[SPATE_IQ_COPIES_MAX];  /* ?partitions=p,..  (with local=1 and stale=ok, from
                                                 an instance forwarding): read exactly these
                                                 partitions' standby copies here */
        int ncopies;
        /* Filled by the caller before def->query(): */
        struct spate_store *store;  /* the engine's state store (read-locked), or NULL */
        const int32_t *parts;       /* the partitions of the node's input to read */
        int nparts;
        int copy;                   /* they are a standby's copies: report in the rows what
                                       their checkpoint reflects (changelog, changelog_next) */
} spate_iq_t;

/* Gets a query argument by name (NULL: absent); MHD's lookup in the server,
 * a table in the unit tests. */
typedef const char *(*spate_iq_arg_fn)(void *opaque, const char *name);

/* Parses an already percent-decoded path below /state (e.g.
 * "/state/per_minute/hall-t1/history") and its arguments into q (which
 * borrows from path and the arguments). Returns 0, or the HTTP status to
 * answer (400, 404) with the reason in errstr. */
int spate_iq_parse(const char *path, spate_iq_arg_fn arg, void *opaque, spate_iq_t *q, char *errstr,
                   size_t errstr_size);

/* A time argument: milliseconds since 1970 or ISO-8601 UTC
 * ("2026-01-01T00:05:00Z", ".sss" and "+hh:mm" allowed). 0 or -1. */
int spate_iq_parse_time(const char *s, int64_t *ms);

/* The partition of key among n, as kafka_conf.c's partitioner
 * (murmur2_random) places a keyed record. */
int32_t spate_iq_partition(const void *key, size_t klen, int n);

/* The rows of an answer: JSON objects, each with its key, collected by
 * def->query(). */
typedef struct spate_iq_rows {
        spate_buf_t json;           /* "{..},{..}" */
        size_t n, limit;
        size_t last;                /* offset in json where the last row starts */
        /* Set by def->query() for the partitions it read when q->copy: the
         * changelog of the last one's state and the offset after the last
         * changelog record that state reflects (its checkpoint's meta, read
         * before the rows, so the rows reflect at least that much);
         * NULL/-1: unknown. */
        const char *changelog;
        int64_t changelog_next;
} spate_iq_rows_t;
/* Appends one row (a JSON object's text). 1 once the limit is reached (the
 * query stops), else 0. */
int spate_iq_row(spate_iq_rows_t *rows, const char *json, size_t len);

/* 1 if key k matches a SCAN's prefix and range. */
int spate_iq_key_wanted(const spate_iq_t *q, const char *k, size_t klen);

/* Where a node's state lives: the topic whose partitions are its tasks and
 * their count, found by walking up to its source; then a spate_iq_route_t,
 * or -1 if the node has no queryable state (errstr says why). */
typedef enum {
        SPATE_IQ_EVERY,      /* a key may be in any task: ask them all */
        SPATE_IQ_LOCAL,      /* every instance holds it whole (a table) */
        SPATE_IQ_KEYED,      /* a key is in the task of its partition of the source topic
                                (def->query_keyed, and no node between the source and it
                                changes the key) */
        SPATE_IQ_PLACED      /* a key is in the task of the partition of the node's own topic
                                that the node sent it to (def->query_topic: a window's group_by
                                repartition topic) */
} spate_iq_route_t;
int spate_iq_route(const struct spate_node *n, const char **topic, int *nparts, char *errstr,
                   size_t errstr_size);
/* The partition holding key among the nparts of the topic that route
 * (SPATE_IQ_KEYED or SPATE_IQ_PLACED) named for n: the producers'
 * (spate_iq_partition()), or for PLACED the node's own placement
 * (def->query_partition()). */
int32_t spate_iq_key_partition(const struct spate_node *n, int route, const void *key, size_t klen,
                               int nparts);

/* 1 if a standby's copy lag records behind its changelog's end (-1:
 * unknown) may answer q (its max_lag), else 0. Owners answer regardless. */
int spate_iq_copy_fresh(const spate_iq_t *q, int64_t lag);

/* The copies a max_lag query passed over, as too far behind: the body of
 * the 503 that answers it when no copy of a partition was fresh enough, and
 * what an instance forwarding the query learns from a peer's such 503. */
typedef struct spate_iq_behind_copy {
        char *topic;
        int32_t partition;
        char *instance;             /* the URL of the instance holding the copy; NULL: unnamed */
        int64_t lag;                /* records; -1: unknown */
} spate_iq_behind_copy_t;
typedef struct spate_iq_behind {
        spate_iq_behind_copy_t *v;  /* owned */
        int n, cap;
} spate_iq_behind_t;
/* Notes a copy passed over (topic and instance copied; one entry per
 * partition and instance, the latest lag kept). */
void spate_iq_behind_add(spate_iq_behind_t *b, const char *topic, int32_t p, const char *instance, int64_t lag);
/* Forgets partition p's entries: another copy (or its owner) answered. */
void spate_iq_behind_drop(spate_iq_behind_t *b, const char *topic, int32_t p);
/* 1 if b notes partition p's copy at instance (NULL: any instance). */
int spate_iq_behind_has(const spate_iq_behind_t *b, const char *topic, int32_t p, const char *instance);
void spate_iq_behind_free(spate_iq_behind_t *b);
/* Appends the 503's body: {"error":"standby_behind","reason":..,
 * "max_lag":N,"behind":[{"topic","partition","instance","lag"},..]} (lag
 * null: unknown), the reason naming each partition and its copies' lags. */
void spate_iq_behind_json(const spate_iq_behind_t *b, int64_t max_lag, spate_buf_t *out);

/* --- ownership (any thread) --- */
/* The engine's rebalance callback: topic[i]/partition[i] are assigned and
 * restored here. */
void spate_iq_assigned(const char *const *topics, const int32_t *partitions, int n);
/* Everything is revoked (an eager rebalance): restoring until assigned. */
void spate_iq_revoked(void);
/* 1 if this instance holds partition p of topic, restored; 0 if not; -1
 * while a rebalance is in progress (restoring). */
int spate_iq_owned(const char *topic, int32_t p);
/* The partitions of topic held here (at most max), -1 while restoring. */
int spate_iq_owned_list(const char *topic, int32_t *out, int max);
/* Called (from the engine thread) after each assignment, e.g. to advertise
 * it (cli/iq_peers.c). One listener; NULL removes it. */
typedef void (*spate_iq_listener_fn)(void *opaque);
void spate_iq_listen(spate_iq_listener_fn fn, void *opaque);
/* The assignment as JSON {"topic":[p,...],...} appended to out; its
 * generation (bumped on each assignment and standby change) returned. */
uint64_t spate_iq_owned_json(spate_buf_t *out);

/* --- standby copies (any thread; docs/stores.md "Interactive queries") ---
 * The engine's standbys (engine_standby.c) publish the tasks they keep warm
 * copies of (topic[i]/partition[i], the same topics as spate_iq_assigned())
 * after each choice; a change calls the listener, so that the other
 * instances learn it (the standbys are advertised with the claims). The
 * copies stay listed across a revocation: their column families keep
 * whole commits' state while the group rebalances. */
void spate_iq_standbys(const char *const *topics, const int32_t *partitions, int n);
/* 1 if this instance keeps a standby copy of partition p of topic. */
int spate_iq_standby_held(const char *topic, int32_t p);
/* As spate_iq_owned_json(), the standby tasks. */
void spate_iq_standby_json(spate_buf_t *out);
/* The end (high watermark) of changelog[p], as the standby consumer last saw
 * it. */
void spate_iq_changelog_end(const char *changelog, int32_t p, int64_t end);
/* Records of changelog[p] past offset next, by the last end seen; -1 when
 * no end was seen. */
int64_t spate_iq_changelog_lag(const char *changelog, int32_t p, int64_t next);

#endif
