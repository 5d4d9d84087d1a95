/* join.c - the `join` node: a stream-table lookup. Each record computes a
 * key, reads that row of a `table` node, and goes on with the fields picked
 * from the row added (nulls where the row is missing, for a left join), or
 * to the DLQ with the reason (inner). The key is any expression,
 * so one join reads the row of another time: an as-of lookup such as
 * concat(region, '@', iso(window_start - 3h)).
 *
 * With `retention:` (left joins) a result is revised when its row arrives
 * or changes later. The join remembers, in an engine-owned windowed store
 * (state/wkv.h, retention `retention`: exact across kill -9), every record
 * it joined within `retention` of its task's stream time, under the key it
 * looked up, with a hash of the row it got. Store keys, each kept per
 * segment of the record's time:
 *   'L' row key -> the entries of the segment that looked it up:
 *            [u64 row hash (0: no row)][i64 ts]
 *            [u32 record key length (UINT32_MAX: none)][record key]
 *            [u32 length][the record's value as JSON]...
 *            (its window time: the newest entry's)
 *   'R' record key -> the row key it looked up last (at its time)
 * A list per row key and segment, not an entry per [row key][record key]:
 * a windowed store keeps one entry per key and segment, the recheck of a
 * row key is then one point read per live segment (three at most) where
 * entries per record key would be a range read per segment, and a record
 * without a key needs no made-up one. Expiry is the store's: whole segments
 * go by a range delete when the stream time leaves them (no scan), and an
 * entry past the retention inside a live segment is skipped and dropped at
 * its list's next rewrite. A record past the retention on arrival is not
 * remembered (it would be forgotten at once).
 * The table tells the join which row keys it changed; at the next
 * punctuation every live entry of those keys whose hash differs from the
 * row's now is emitted again with the row's columns. After an assignment (a
 * start, a kill -9, a rebalance) every live entry of the task is checked,
 * since the table was read again: what was emitted before a crash is then
 * emitted again at worst, never lost. A record replaces the entry of its
 * record key (an upstream revision), also under another row key or in
 * another segment ('R' says which). */
#include "../connectors/table/table.h"
#include "../engine/ctx.h"
#include "../engine/metrics.h"
#include "../engine/node.h"
#include "../serde/json_write.h"
#include "../serde/serde.h"
#include "../state/wkv.h"
#include "../util/buf.h"
#include "../util/log.h"
#include "../util/util.h"

#include <stdlib.h>
#include <string.h>

#define JOIN_COLS_MAX 256  /* row columns decoded per lookup */
#define STORE "lookups"
#define NO_KEY UINT32_MAX
#define KIND_LOOKUP 'L'  /* 'L' row key -> the entries of a segment that looked it up */
#define KIND_RECORD 'R'  /* 'R' record key -> the row key it looked up last */
/* Bytes of changed row keys kept between two punctuations; past it (a
 * table's first load) every entry is checked instead. */
#define CHANGED_MAX (1u << 20)

typedef struct pick {
        int col;   /* table row column */
        int slot;  /* output field */
} pick_t;

typedef struct join {
        spate_expr_t *key;
        const spate_table_t *rows;
        const spate_node_t *tnode;
        const char *table;
        int versioned, partitioned;
        spate_expr_t *as_of;        /* versioned: the time to read (NULL: the latest) */
        int inner;
        pick_t *picks;
        int npicks, ncols;  /* ncols: row columns to decode (the highest picked + 1) */
        int nslots;         /* the record's fields up to the highest picked slot */
        /* re-emission (retention > 0) */
        int64_t retention;
        spate_serde_t *json;        /* remembered records' values */
        spate_buf_t changed;        /* [u32 len][row key]... changed since the last punctuation */
        int recheck_all;            /* an assignment, a file version, or too many changes */
        /* entries as read (a fetch's: [i64 ts][u32 len][value]...), as
         * rewritten; one record's JSON */
        spate_buf_t cur, next, enc;
        spate_buf_t keys;           /* the row keys of a task's live lists: [i64 ts][u32 len][key]... */
        spate_buf_t pk, add;        /* a store key with its kind; what a rewrite appends */
        spate_metric_t *m_reemitted;
        uint64_t reemitted, failed;
} join_t;

/* One remembered record (pointers into the entries' buffer). */
typedef struct entry {
        uint64_t hash;
        int64_t ts;
        const char *skey, *json;
        uint32_t sklen, jlen;
} entry_t;

static const spate_prop_t join_props[] = {
        { "table", SPATE_P_STR, 1, NULL, NULL, "the table node to look up" },
        { "key", SPATE_P_EXPR, 1, NULL, NULL,
          "the row's key, computed from the record (e.g. station, or concat(region, '@', iso(window_start - 3h)))" },
        { "how", SPATE_P_ENUM, 0, "left", "left|inner",
          "left: a record without a row goes on with nulls; inner: it goes to the DLQ" },
        { "fields", SPATE_P_MAP, 0, NULL, NULL, "output field -> table column to pick (default: every declared column)" },
        { "prefix", SPATE_P_STR, 0, "", NULL, "put before each output field's name (station_ -> station_name)" },
        { "as_of", SPATE_P_EXPR, 0, NULL, NULL,
          "versioned table: the time whose version to read, in ms (e.g. ts(), parse_time(timestamp)); "
          "default the latest" },
        { "retention", SPATE_P_DURATION, 0, NULL, NULL,
          "re-emit a result when its row arrives or changes later, for records within this much event "
          "time of the newest (left joins; e.g. 6h). Without it a result is emitted once" },
        { NULL }
};

static int add_pick(spate_node_t *n, spate_node_t *tn, const spate_yaml_t *where, const char *out,
                    const char *col, char *errstr, size_t errstr_size) {
        join_t *j = n->ctx;
        char name[512], cols[1024];
        int c = spate_table_node_column(tn, col);
        if (c < 0) {
                spate_shape_names(tn->out, cols, sizeof(cols));
                return spate_node_error(n, where, errstr, errstr_size, "table '%s' has no column '%s' (its "
                                        "columns: %s)", tn->name, col, cols);
        }
        if (c >= JOIN_COLS_MAX)
                return spate_node_error(n, where, errstr, errstr_size, "column '%s' of table '%s' is past the "
                                        "first %d a join can pick", col, tn->name, JOIN_COLS_MAX);
        snprintf(name, sizeof(name), "%s%s", spate_node_str(n, "prefix"), out);
        j->picks[j->npicks].col = c;
        j->picks[j->npicks++].slot = spate_shape_add_computed(spate_node_shapes(n), n->out, name,
                                                              SPATE_V_MISSING);
        if (c + 1 > j->ncols)
                j->ncols = c + 1;
        if (j->picks[j->npicks - 1].slot + 1 > j->nslots)
                j->nslots = j->picks[j->npicks - 1].slot + 1;
        return 0;
}

/* Appends [u32 length][key] to b (changed row keys, collected keys). */
static void key_put(spate_buf_t *b, const void *key, size_t klen) {
        uint32_t kl = (uint32_t)klen;
        spate_buf_put(b, &kl, 4);
        spate_buf_put(b, key, klen);
}

static void on_table_change(void *opaque, const void *key, size_t klen) {
        join_t *j = opaque;
        if (!key || j->changed.len + 4 + klen > CHANGED_MAX) {
                j->recheck_all = 1;
                j->changed.len = 0;
        }
        if (key && !j->recheck_all)
                key_put(&j->changed, key, klen);
}

static int init_reemit(spate_node_t *n, spate_node_t *tn, char *errstr, size_t errstr_size) {
        join_t *j = n->ctx;
        char err[512];
        const spate_yaml_t *y = spate_node_param(n, "retention");
        if (!y)
                return 0;
        if (j->retention <= 0)
                return spate_node_error(n, y, errstr, errstr_size, "'retention' must be a positive duration, "
                                        "e.g. 6h");
        if (j->versioned)
                return spate_node_error(n, y, errstr, errstr_size, "'retention' (re-emission) does not work with "
                                        "a versioned table yet");
        if (j->inner)
                return spate_node_error(n, y, errstr, errstr_size, "'retention' re-emits left join results; "
                                        "an inner join sent its missing rows to the DLQ (use how: left)");
        if (!(j->json = spate_serde_new(n->topo, "json", NULL, err, sizeof(err))))
                return spate_node_error(n, y, errstr, errstr_size, "%s", err);
        if (spate_table_node_watch(tn, on_table_change, j))
                return spate_node_error(n, y, errstr, errstr_size, "table '%s' has %d joins with 'retention' "
                                        "already", tn->name, TABLE_WATCHERS_MAX);
        j->m_reemitted = spate_metrics_counter(spate_metrics_default(), "spate_join_reemitted_total",
                                               "Join results emitted again because their row arrived or "
                                               "changed later", "node", n->name, NULL);
        return spate_node_add_window_store(n, STORE, j->retention, errstr, errstr_size);
}

/* A partitioned table answers for the partition of the record's input
 * message: the records must come straight from a topic partitioned like it. */
static int init_partitioned(spate_node_t *n, spate_node_t *tn, char *errstr, size_t errstr_size) {
        join_t *j = n->ctx;
        spate_node_t *stop, *src;
        if (!(j->partitioned = spate_table_node_partitioned(tn)))
                return 0;
        if (!(src = spate_node_origin_source(n, &stop)) && stop)
                return spate_node_error(n, NULL, errstr, errstr_size, "table '%s' is partitioned like "
                                        "the stream, but the records come from %s '%s' (repartitioned): "
                                        "set global: true, or join before it", tn->name, stop->def->name,
                                        stop->name);
        if (!src)
                src = n;
        if (src == n || !src->def->replayable || spate_node_int(src, "partitions") != spate_node_int(tn, "partitions"))
                return spate_node_error(n, NULL, errstr, errstr_size, "table '%s' is partitioned like the stream: "
                                        "its topic needs as many partitions as the stream's kafka_source '%s' "
                                        "(%lld, not %lld), keyed alike", tn->name, src == n ? "?" : src->name,
                                        src == n ? 0LL : (long long)spate_node_int(src, "partitions"),
                                        (long long)spate_node_int(tn, "partitions"));
        return 0;
}

static int init_as_of(spate_node_t *n, spate_node_t *tn, char *errstr, size_t errstr_size) {
        join_t *j = n->ctx;
        const spate_yaml_t *y = spate_node_param(n, "as_of");
        int64_t floor;
        j->tnode = tn;
        j->versioned = spate_table_node_versioned(tn, &floor);
        if (!y)
                return 0;
        if (!j->versioned)
                return spate_node_error(n, y, errstr, errstr_size, "'as_of' reads a versioned table; table '%s' "
                                        "keeps the latest row only (give it versioned: true and time:)", tn->name);
        j->as_of = spate_node_time_expr(n, "as_of", n->in, errstr, errstr_size);
        return j->as_of ? 0 : -1;
}

/* A versioned table's row valid at the record's as_of (the latest without
 * it); NULL before its first version or past history_retention. */
static const void *version_of(spate_node_t *n, spate_record_t *rec, const void *blob, size_t blen, size_t *rlen,
                              spate_ctx_t *ctx, int *failed) {
        join_t *j = n->ctx;
        spate_value_t v;
        char err[512] = "";
        int64_t at = INT64_MAX, floor;
        if (j->as_of) {
                if (spate_expr_eval(j->as_of, rec, spate_ctx_arena(ctx), &v, err, sizeof(err)) ||
                    v.type != SPATE_V_NUM || spate_time_from_num(v.u.num, &at)) {
                        *failed = 1;
                        return spate_ctx_fail(ctx, n, "as_of '%s' is not a time in ms%s%s", spate_expr_text(j->as_of),
                                              *err ? ": " : "", err), NULL;
                }
                spate_table_node_versioned(j->tnode, &floor);
                if (at < floor)
                        return NULL;
        }
        return spate_table_version_at(blob, blen, at, rlen);
}

static const spate_bind_t join_binds[] = {
        SPATE_BIND("table", join_t, table),
        SPATE_BIND("retention", join_t, retention),
        { NULL }
};

static int join_init(spate_node_t *n, char *errstr, size_t errstr_size) {
        join_t *j = n->ctx;
        const spate_yaml_t *fields = spate_node_param(n, "fields");
        spate_node_t *tn = spate_table_node_find(n, spate_node_param(n, "table"), j->table, errstr, errstr_size);
        if (!tn)
                return -1;
        const spate_yaml_t *cols = spate_table_node_columns(tn);
        if (!fields && !cols)
                return spate_node_error(n, NULL, errstr, errstr_size, "name the columns to pick with 'fields:' "
                                        "(table '%s' declares no 'columns:')", tn->name);
        if (!(j->key = spate_node_expr_typed(n, "key", n->in, SPATE_KEY_TYPES, "a string, number or bool",
                                             errstr, errstr_size)))
                return -1;
        j->inner = !strcmp(spate_node_str(n, "how"), "inner");
        j->rows = spate_table_node_rows(tn);
        n->out = n->in;
        const spate_yaml_t *list = fields ? fields : cols;
        if (!(j->picks = calloc((size_t)list->n, sizeof(*j->picks))))
                return spate_node_error(n, NULL, errstr, errstr_size, "out of memory");
        for (int i = 0; i < list->n; i++) {
                const spate_yaml_t *v = list->items[i];
                if (v->kind != SPATE_YAML_SCALAR)
                        return spate_node_error(n, v, errstr, errstr_size, "a table column name is wanted here");
                if (add_pick(n, tn, v, fields ? fields->keys[i]->value : v->value, v->value, errstr,
                             errstr_size))
                        return -1;
        }
        if (init_as_of(n, tn, errstr, errstr_size) || init_partitioned(n, tn, errstr, errstr_size))
                return -1;
        return init_reemit(n, tn, errstr, errstr_size);
}

/* The picked columns of row (NULL: nulls) into the output slots. */
static int fill(const join_t *j, spate_value_t *items, const void *row, size_t rlen) {
        spate_value_t cols[JOIN_COLS_MAX];
        if (row && spate_table_row_decode(row, rlen, cols, j->ncols))
                return -1;
        for (int i = 0; i < j->npicks; i++) {
                spate_value_t *slot = &items[j->picks[i].slot];
                if (row) {
                        *slot = cols[j->picks[i].col];
                } else {
                        memset(slot, 0, sizeof(*slot));
                        slot->type = SPATE_V_NULL;
                }
        }
        return 0;
}

static uint64_t row_hash(const void *row, size_t rlen) {
        return row ? spate_hash(row, rlen) | 1 : 0;
}

/* --- the remembered records --- */

/* The entry at *at of b (len bytes): 1 with *e, 0 at the end, -1 corrupt. */
static int entry_next(const char *b, size_t len, size_t *at, entry_t *e) {
        size_t p = *at;
        if (p == len)
                return 0;
        if (len - p < 20)
                return -1;
        e->hash = spate_get_be64((const unsigned char *)b + p);
        e->ts = (int64_t)spate_get_be64((const unsigned char *)b + p + 8);
        memcpy(&e->sklen, b + p + 16, 4);
        p += 20;
        size_t sk = e->sklen == NO_KEY ? 0 : e->sklen;
        if (len - p < sk + 4)
                return -1;
        e->skey = b + p;
        memcpy(&e->jlen, b + p + sk, 4);
        p += sk + 4;
        if (len - p < e->jlen)
                return -1;
        e->json = b + p;
        *at = p + e->jlen;
        return 1;
}

static void entry_put(spate_buf_t *b, const entry_t *e) {
        unsigned char h[16];
        spate_put_be64(h, e->hash);
        spate_put_be64(h + 8, (uint64_t)e->ts);
        spate_buf_put(b, h, 16);
        spate_buf_put(b, &e->sklen, 4);
        if (e->sklen != NO_KEY)
                spate_buf_put(b, e->skey, e->sklen);
        spate_buf_put(b, &e->jlen, 4);
        spate_buf_put(b, e->json, e->jlen);
}

static int same_key(const entry_t *e, const char *key, size_t klen, int has_key) {
        return has_key && e->sklen == klen && !memcmp(e->skey, key, klen);
}

/* 1 if a record of time ts is past the retention of kv's stream time
 * (forgotten, though its segment may not be deleted yet). */
static int expired(const join_t *j, spate_kv_t *kv, int64_t ts) {
        int64_t s = spate_kv_stream_time(kv);
        return s != INT64_MIN && ts <= s - j->retention;
}

/* j->next = the live entries of b except the one of record key (skey,
 * has_key); *newest: the newest time kept. -1 for corrupt bytes. */
static int keep_live(join_t *j, spate_kv_t *kv, const char *b, size_t len, const char *skey, size_t sklen,
                     int has_key, int64_t *newest) {
        entry_t e;
        size_t at = 0;
        int rc;
        j->next.len = 0;
        while ((rc = entry_next(b, len, &at, &e)) == 1)
                if (!expired(j, kv, e.ts) && !same_key(&e, skey, sklen, has_key)) {
                        entry_put(&j->next, &e);
                        *newest = e.ts > *newest ? e.ts : *newest;
                }
        return rc;
}

static int corrupt(spate_node_t *n, spate_ctx_t *ctx, const char *key, size_t klen) {
        return spate_ctx_fail(ctx, n, "store %s: the entries of key %.*s are corrupt", STORE, (int)klen, key);
}

/* A store key: kind then key, in j->pk (valid until the next call). */
static const char *store_key(join_t *j, char kind, const void *key, size_t klen, size_t *len) {
        spate_buf_set(&j->pk, &kind, 1);
        spate_buf_put(&j->pk, key, klen);
        *len = j->pk.len;
        return j->pk.data;
}

/* Appends (ts, val) to the buffer opaque: [i64 ts][u32 len][val]... */
static int collect_entry(void *opaque, int64_t ts, const void *val, size_t vlen) {
        unsigned char t[8];
        spate_put_be64(t, (uint64_t)ts);
        spate_buf_put(opaque, t, 8);
        key_put(opaque, val, vlen);
        return 0;
}

/* The (ts, val) at *at of a buffer of collect_entry()'s, *at moved on. */
static const char *collected(const spate_buf_t *b, size_t *at, int64_t *ts, uint32_t *len) {
        const char *v = b->data + *at + 12;
        *ts = (int64_t)spate_get_be64((const unsigned char *)b->data + *at);
        memcpy(len, b->data + *at + 8, 4);
        *at += 12 + *len;
        return v;
}

/* The same, stopping at the first. */
static int collect_first(void *opaque, int64_t ts, const void *val, size_t vlen) {
        collect_entry(opaque, ts, val, vlen);
        return 1;
}

/* Store key pk's entries in the live segments into out, newest segment
 * first (the stream time bounds every entry's time): all of them, or the
 * newest only. */
static int fetch_live(spate_kv_t *kv, const char *pk, size_t plen, int newest_only, spate_buf_t *out) {
        out->len = 0;
        return spate_wkv_fetch(kv, pk, plen, INT64_MIN, spate_kv_stream_time(kv),
                               newest_only ? collect_first : collect_entry, out);
}

/* Rewrites row key's entries of ts's segment to their live ones except the
 * one of record key (skey, has_key), then add (one entry of time ts, or
 * NULL): put with the newest time kept, or deleted when none is left. */
static int rewrite(spate_node_t *n, spate_kv_t *kv, const char *key, size_t klen, int64_t ts, const char *skey,
                   size_t sklen, int has_key, const spate_buf_t *add) {
        join_t *j = n->ctx;
        const void *val = NULL;
        size_t vlen = 0, plen;
        int64_t ets, newest = INT64_MIN;
        const char *pk = store_key(j, KIND_LOOKUP, key, klen, &plen);
        int rc;
        if ((rc = spate_wkv_get(kv, pk, plen, ts, &ets, &val, &vlen)) < 0)
                return -1;
        if (keep_live(j, kv, rc ? "" : val, rc ? 0 : vlen, skey, sklen, has_key, &newest) < 0)
                spate_warn("join %s: the entries of key %.*s were corrupt: dropped", n->name, (int)klen, key);
        if (add) {
                spate_buf_put(&j->next, add->data, add->len);
                newest = ts > newest ? ts : newest;
        }
        if (j->next.len)
                return spate_wkv_put(kv, pk, plen, newest, j->next.data, j->next.len);
        return rc ? 0 : spate_wkv_delete(kv, pk, plen, ts);
}

/* A record of key skey joined before: its entry goes from the row key and
 * segment it is under (the row key is an expression of the record, so a
 * revision may name another; its time may be in another segment), and the
 * record key's 'R' entry there too. A record key has one live 'R' entry at
 * most (each replaces the one before), so the fetch stops at the first: the
 * segments before it are not read. j->cur: that entry. */
static int forget_previous(spate_node_t *n, spate_kv_t *kv, const spate_record_t *rec) {
        join_t *j = n->ctx;
        size_t plen;
        const char *pk = store_key(j, KIND_RECORD, rec->key, rec->key_len, &plen);
        if (fetch_live(kv, pk, plen, 1, &j->cur))
                return -1;
        for (size_t at = 0; at < j->cur.len;) {
                int64_t ts;
                uint32_t kl;
                const char *rk = collected(&j->cur, &at, &ts, &kl);
                if (rewrite(n, kv, rk, kl, ts, rec->key, rec->key_len, 1, NULL))
                        return -1;
                pk = store_key(j, KIND_RECORD, rec->key, rec->key_len, &plen);
                if (spate_wkv_delete(kv, pk, plen, ts))
                        return -1;
        }
        return 0;
}

/* rec (joined with the row of hash h) among key's entries of its segment,
 * in place of the record key's earlier entry; the record key -> the row key
 * it looked up, at its time. A record past the retention on arrival is not
 * remembered (a put would be dropped), but still replaces the earlier one. */
static int remember(spate_node_t *n, spate_kv_t *kv, const char *key, size_t klen, const spate_record_t *rec,
                    uint64_t h) {
        join_t *j = n->ctx;
        size_t plen;
        if (rec->key && forget_previous(n, kv, rec))
                return -1;
        if (expired(j, kv, rec->ts))
                return 0;
        j->enc.len = 0;
        spate_json_write(&j->enc, n->in, &rec->value);
        entry_t e = { h, rec->ts, rec->key, j->enc.data, rec->key ? (uint32_t)rec->key_len : NO_KEY,
                      (uint32_t)j->enc.len };
        j->add.len = 0;
        entry_put(&j->add, &e);
        if (rewrite(n, kv, key, klen, rec->ts, rec->key, rec->key_len, rec->key != NULL, &j->add))
                return -1;
        if (!rec->key)
                return 0;
        const char *pk = store_key(j, KIND_RECORD, rec->key, rec->key_len, &plen);
        return spate_wkv_put(kv, pk, plen, rec->ts, key, klen);
}

/* --- the record path --- */

static int join_process(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx) {
        join_t *j = n->ctx;
        spate_arena_t *a = spate_ctx_arena(ctx);
        spate_value_t kv;
        spate_kv_t *store = NULL;
        const char *key = NULL;
        const void *row = NULL;
        size_t klen = 0, rlen = 0;
        char err[512];
        int rc;
        if (j->retention && (rc = spate_ctx_kv(ctx, n, STORE, &store)))
                return rc < 0 ? -1 : 0;  /* 1: in the restored state, its output acknowledged */
        if (spate_expr_eval(j->key, rec, a, &kv, err, sizeof(err)))
                return spate_ctx_fail(ctx, n, "key: %s", err);
        if (kv.type != SPATE_V_NULL && kv.type != SPATE_V_MISSING &&
            spate_value_to_key(&kv, a, &key, &klen))
                return spate_ctx_fail(ctx, n, "the key '%s' is %s, not a string, number or bool",
                                      spate_expr_text(j->key), spate_vtype_name(kv.type));
        const spate_table_t *rows = j->rows;
        if (j->partitioned && !(rows = spate_table_node_partition(j->tnode, rec->origin ? rec->origin->partition : -1)))
                return spate_ctx_fail(ctx, n, "table %s is partitioned like the stream and does not hold partition "
                                      "%d here (is the input partitioned like the table's topic?)", j->table,
                                      rec->origin ? rec->origin->partition : -1);
        if (key)
                row = spate_table_get(rows, key, klen, &rlen);
        if (row && j->versioned) {
                int failed = 0;
                row = version_of(n, rec, row, rlen, &rlen, ctx, &failed);
                if (failed)
                        return -1;
        }
        if (!row && j->inner)
                return key ? spate_ctx_fail(ctx, n, "no row for key %.*s in table %s", (int)klen, key, j->table)
                           : spate_ctx_fail(ctx, n, "the key '%s' is null: no row in table %s",
                                            spate_expr_text(j->key), j->table);
        if (rec->value.type != SPATE_V_OBJ || (int)rec->value.n < j->nslots)
                return spate_ctx_fail(ctx, n, "the record is not an object");
        /* A copy of the fields: at a fan-out upstream, the sibling branches
         * share rec and must not see this branch's columns. */
        spate_record_t out = *rec;
        out.value.u.items = spate_arena_memdup(a, rec->value.u.items, sizeof(spate_value_t) * rec->value.n);
        if (fill(j, out.value.u.items, row, rlen))
                return spate_ctx_fail(ctx, n, "the row for key %.*s in table %s is corrupt", (int)klen, key,
                                      j->table);
        if (spate_emit(n, &out, ctx))
                return -1;
        if (!store)
                return 0;
        if (spate_wkv_advance(store, rec->ts, NULL))
                return -1;
        if (key)
                return remember(n, store, key, klen, rec, row_hash(row, rlen));
        /* Nothing to remember without a row key, but the record key's earlier
         * entry is no longer its last record: a row change must not bring it
         * back over this one. */
        return rec->key ? forget_previous(n, store, rec) : 0;
}

/* --- re-emission --- */

/* e emitted again with row's columns. A failure downstream is logged: there
 * is no input message to dead-letter. */
static void reemit(spate_node_t *n, const entry_t *e, const void *row, size_t rlen, spate_ctx_t *ctx) {
        join_t *j = n->ctx;
        spate_arena_t *a = spate_ctx_arena(ctx);
        spate_record_t rec = { .ts = e->ts };
        spate_value_t *items;
        char err[512];
        spate_arena_reset(a);  /* no record is in flight during a punctuation */
        if (spate_serde_decode(j->json, n->in, NULL, e->json, e->jlen, a, &rec.value, err, sizeof(err)) ||
            rec.value.type != SPATE_V_OBJ) {
                spate_warn("join %s: a remembered record cannot be read back (%s): not re-emitted", n->name, err);
                j->failed++;
                return;
        }
        uint32_t nf = rec.value.n > (uint32_t)j->nslots ? rec.value.n : (uint32_t)j->nslots;
        items = spate_arena_alloc(a, sizeof(*items) * nf);
        memset(items, 0, sizeof(*items) * nf);
        memcpy(items, rec.value.u.items, sizeof(*items) * rec.value.n);
        rec.value.u.items = items;
        rec.value.n = nf;
        if (e->sklen != NO_KEY) {
                rec.key = e->skey;
                rec.key_len = e->sklen;
        }
        if (fill(j, items, row, rlen) || spate_emit(n, &rec, ctx)) {
                spate_warn("join %s: re-emission of record key %.*s failed: %s", n->name,
                           e->sklen == NO_KEY ? 0 : (int)e->sklen, e->skey, ctx->errstr);
                ctx->failed = NULL;
                j->failed++;
                return;
        }
        j->reemitted++;
        if (j->m_reemitted)
                spate_metric_add(j->m_reemitted, 1);
}

/* Row key's entries of one segment (b: a copy; ts: the segment's newest
 * time) that saw another row than row, emitted again with it; the live
 * ones rewritten with row's hash when any was. */
static int recheck_list(spate_node_t *n, spate_kv_t *kv, const char *key, size_t klen, int64_t ts, const char *b,
                        size_t len, const void *row, size_t rlen, spate_ctx_t *ctx) {
        join_t *j = n->ctx;
        uint64_t h = row_hash(row, rlen);
        size_t at = 0, plen;
        entry_t e;
        int rc, changed = 0;
        j->next.len = 0;
        while ((rc = entry_next(b, len, &at, &e)) == 1) {
                if (expired(j, kv, e.ts))
                        continue;  /* forgotten: goes with its segment, or now */
                if (e.hash != h) {
                        reemit(n, &e, row, rlen, ctx);
                        e.hash = h;
                        changed = 1;
                }
                entry_put(&j->next, &e);
        }
        if (rc < 0)
                return corrupt(n, ctx, key, klen);
        const char *pk = store_key(j, KIND_LOOKUP, key, klen, &plen);
        return changed ? spate_wkv_put(kv, pk, plen, ts, j->next.data, j->next.len) : 0;
}

/* Row key's entries in every live segment rechecked against the table. */
static int recheck(spate_node_t *n, spate_kv_t *kv, const spate_table_t *rows, const char *key, size_t klen,
                   spate_ctx_t *ctx) {
        join_t *j = n->ctx;
        size_t plen, rlen = 0;
        const char *pk = store_key(j, KIND_LOOKUP, key, klen, &plen);
        if (fetch_live(kv, pk, plen, 0, &j->cur))
                return -1;
        const void *row = j->cur.len ? spate_table_get(rows, key, klen, &rlen) : NULL;
        for (size_t at = 0; at < j->cur.len;) {
                int64_t ts;
                uint32_t len;
                const char *b = collected(&j->cur, &at, &ts, &len);
                if (recheck_list(n, kv, key, klen, ts, b, len, row, rlen, ctx))
                        return -1;
        }
        return 0;
}

/* The 'L' entries of a task, collected: [i64 ts][u32 len][row key]... */
static int collect_lookup(void *opaque, const void *key, size_t klen, int64_t ts, const void *val, size_t vlen) {
        (void)val;
        (void)vlen;
        if (klen && *(const char *)key == KIND_LOOKUP)
                collect_entry(opaque, ts, (const char *)key + 1, klen - 1);
        return 0;
}

/* Every live entry of task kv rechecked, one row key and segment at a time
 * (its keys collected first: the range may not change the store). */
static int recheck_every(spate_node_t *n, spate_kv_t *kv, const spate_table_t *rows, spate_ctx_t *ctx) {
        join_t *j = n->ctx;
        j->keys.len = 0;
        if (spate_wkv_each(kv, collect_lookup, &j->keys))
                return -1;
        for (size_t at = 0; at < j->keys.len;) {
                int64_t ts, ets;
                uint32_t kl;
                const char *key = collected(&j->keys, &at, &ts, &kl);
                const void *val, *row;
                size_t vlen, plen, rlen = 0;
                const char *pk = store_key(j, KIND_LOOKUP, key, kl, &plen);
                int rc = spate_wkv_get(kv, pk, plen, ts, &ets, &val, &vlen);
                if (rc < 0)
                        return -1;
                if (rc)
                        continue;
                spate_buf_set(&j->cur, val, vlen);  /* the store's copy is borrowed until its next call */
                row = spate_table_get(rows, key, kl, &rlen);
                if (recheck_list(n, kv, key, kl, ets, j->cur.data, j->cur.len, row, rlen, ctx))
                        return -1;
        }
        return 0;
}

/* The keys of keys ([u32 len][key]...) rechecked in task kv. */
static int recheck_keys(spate_node_t *n, spate_kv_t *kv, const spate_table_t *rows, const spate_buf_t *keys,
                        spate_ctx_t *ctx) {
        for (size_t at = 0; at < keys->len;) {
                uint32_t kl;
                memcpy(&kl, keys->data + at, 4);
                if (recheck(n, kv, rows, keys->data + at + 4, kl, ctx))
                        return -1;
                at += 4 + kl;
        }
        return 0;
}

static int join_punctuate(spate_node_t *n, spate_ctx_t *ctx) {
        join_t *j = n->ctx;
        if (!j->retention || (!j->changed.len && !j->recheck_all))
                return 0;
        uint64_t before = j->reemitted;
        for (int p = 0; p < spate_kv_node_partitions(n); p++) {
                spate_kv_t *kv = spate_kv_node_task(n, STORE, p, ctx);
                const spate_table_t *rows = j->partitioned ? spate_table_node_partition(j->tnode, p) : j->rows;
                if (!kv || !rows)
                        continue;  /* not held: the task's rows are read at its assignment */
                if (j->recheck_all ? recheck_every(n, kv, rows, ctx) : recheck_keys(n, kv, rows, &j->changed, ctx))
                        return -1;
        }
        j->changed.len = 0;
        j->recheck_all = 0;
        if (j->reemitted > before)
                spate_debug("join %s: %llu results re-emitted (their rows arrived or changed)", n->name,
                            (unsigned long long)(j->reemitted - before));
        return 0;
}

/* A task restored: the table was read again, so every entry is checked. */
static int join_assign(spate_node_t *n, const char *topic, int32_t partition, spate_ctx_t *ctx) {
        join_t *j = n->ctx;
        (void)topic;
        (void)partition;
        (void)ctx;
        j->recheck_all = 1;
        return 0;
}

static void join_destroy(spate_node_t *n) {
        join_t *j = n->ctx;
        if (j->reemitted || j->failed)
                spate_info("join %s: %llu results re-emitted, %llu re-emissions failed", n->name,
                           (unsigned long long)j->reemitted, (unsigned long long)j->failed);
        spate_expr_destroy(j->key);
        spate_expr_destroy(j->as_of);
        spate_serde_destroy(j->json);
        free(j->picks);
        spate_buf_free(&j->changed);
        spate_buf_free(&j->cur);
        spate_buf_free(&j->next);
        spate_buf_free(&j->enc);
        spate_buf_free(&j->keys);
        spate_buf_free(&j->pk);
        spate_buf_free(&j->add);
}

const spate_op_def_t spate_op_join = {
        .name = "join",
        .role = SPATE_ROLE_OPERATOR,
        .doc = "Looks up a table node by a key computed from the record and adds the picked columns "
               "(left: nulls without a row; inner: the record goes to the DLQ). With retention, a result "
               "is emitted again when its row arrives or changes later (state: an engine-owned windowed "
               "store).",
        .props = join_props,
        .binds = join_binds,
        .ctx_size = sizeof(join_t),
        .init = join_init,
        .process = join_process,
        .punctuate = join_punctuate,
        .assign = join_assign,
        .destroy = join_destroy,
};
