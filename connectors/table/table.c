/* table.c - the `table` source: a key -> latest value table that `join`
 * nodes read, held whole by every instance (global) or by partition like
 * the stream (global: false: partition p while a stream's partition p is
 * assigned here), from a compacted topic or from files (table_file.c); with
 * versioned: true, each key's versions by the time they are valid from. A topic table is keyed by the message key
 * (what compaction and tombstones work on); it is read from its beginning at
 * every start, before any stream record, then followed every `refresh`. */
#include "table_int.h"
#include "../../engine/ctx.h"
#include "../../engine/iq.h"
#include "../../serde/json_write.h"
#include "../../engine/topology.h"
#include "../../util/log.h"
#include "../../util/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const spate_op_def_t spate_op_table;

static const spate_prop_t table_props[] = {
        { "topic", SPATE_P_STR, 0, NULL, NULL, "compacted topic to read (keyed by the message key; a tombstone deletes)" },
        { "global", SPATE_P_BOOL, 0, "false", NULL,
          "every instance holds the whole table (side data); false: partitioned like the stream (KTable), "
          "each instance holds the partitions of the stream it is assigned" },
        { "format", SPATE_P_ENUM, 0, "json", "json|avro", "topic message encoding" },
        { "schema", SPATE_P_STR, 0, NULL, NULL, "Avro schema file (.avsc, looked up in schemas_dir)" },
        { "partitions", SPATE_P_COUNT, 0, "1", NULL, "partition count when spate creates the topic" },
        { "file", SPATE_P_STR, 0, NULL, NULL, "one CSV (.csv, with a header) or JSON-lines file, reloaded when it changes" },
        { "dir", SPATE_P_STR, 0, NULL, NULL,
          "a folder of dated subfolders: the newest complete one (with a _SUCCESS file, every file valid) is loaded" },
        { "key", SPATE_P_EXPR, 0, NULL, NULL,
          "the key of a row, e.g. station_id (required for files; a topic table is keyed by the message key without it)" },
        { "columns", SPATE_P_LIST, 0, NULL, NULL,
          "the value's fields a join may pick (then a join naming another fails at load)" },
        { "version_as", SPATE_P_STR, 0, NULL, NULL,
          "dir: a column holding the name of the dated subfolder a row was loaded from (joins pick it like any other)" },
        { "refresh", SPATE_P_DURATION, 0, "1s", NULL, "how often the topic or the files are checked for news" },
        { "versioned", SPATE_P_BOOL, 0, "false", NULL,
          "keep each key's versions by `time:` (KIP-889): a join with as_of reads the one valid then (topic tables)" },
        { "time", SPATE_P_EXPR, 0, NULL, NULL, "versioned: the time a row is valid from, in ms (e.g. parse_time(valid_from))" },
        { "history_retention", SPATE_P_DURATION, 0, "1d", NULL,
          "versioned: how far behind the latest valid-from versions are kept (older lookups find no row)" },
        { NULL }
};

/* What init only stores. Read, not bound: topic/file/dir (which one is given
 * chooses how the table is read; a file or dir path is resolved), and
 * format/schema, which spate_serde_new() parses (the schema file). */
static const spate_bind_t table_binds[] = {
        SPATE_BIND("topic", tnode_t, topic),
        SPATE_BIND("global", tnode_t, global),
        SPATE_BIND("partitions", tnode_t, partitions),
        SPATE_BIND("version_as", tnode_t, version_as),
        SPATE_BIND("refresh", tnode_t, refresh_ms),
        SPATE_BIND("versioned", tnode_t, versioned),
        SPATE_BIND("history_retention", tnode_t, history_ms),
        { NULL }
};

spate_node_t *spate_table_node_find(spate_node_t *n, const spate_yaml_t *y, const char *name,
                                    char *errstr, size_t errstr_size) {
        const char *names[256] = { NULL };
        int k = 0;
        spate_topology_t *t = n->topo;
        for (int i = 0; i < t->nnodes; i++) {
                if (t->nodes[i]->def != &spate_op_table)
                        continue;
                if (!strcmp(t->nodes[i]->name, name))
                        return t->nodes[i];
                if (k < 256)
                        names[k++] = t->nodes[i]->name;
        }
        const char *s = spate_suggest(name, names, k);
        spate_node_error(n, y, errstr, errstr_size, "'table: %s' names no node of type table%s%s%s", name,
                         s ? "; did you mean '" : k ? " (there is none of that name)" : " (declare one)",
                         s ? s : "", s ? "'?" : "");
        return NULL;
}

int spate_table_node_column(spate_node_t *tn, const char *name) {
        tnode_t *t = tn->ctx;
        return spate_shape_field(spate_node_shapes(tn), t->shape, name, strlen(name),
                                 !spate_node_param(tn, "columns"));
}

const spate_yaml_t *spate_table_node_columns(const spate_node_t *tn) {
        return spate_node_param(tn, "columns");
}

const spate_table_t *spate_table_node_rows(const spate_node_t *tn) {
        return ((const tnode_t *)tn->ctx)->rows;
}

int spate_table_node_versioned(const spate_node_t *tn, int64_t *floor) {
        const tnode_t *t = tn->ctx;
        if (!t->time)
                return 0;
        *floor = t->stream_time == INT64_MIN ? INT64_MIN : t->stream_time - t->history_ms;
        return 1;
}

int spate_table_node_watch(spate_node_t *tn, spate_table_watch_cb cb, void *opaque) {
        tnode_t *t = tn->ctx;
        if (t->nwatch == TABLE_WATCHERS_MAX)
                return -1;
        t->watch[t->nwatch].cb = cb;
        t->watch[t->nwatch++].opaque = opaque;
        return 0;
}

void spate_table_changed(tnode_t *t, const void *key, size_t klen) {
        for (int i = 0; i < t->nwatch; i++)
                t->watch[i].cb(t->watch[i].opaque, key, klen);
}

static int init_columns(spate_node_t *n, char *errstr, size_t errstr_size) {
        tnode_t *t = n->ctx;
        const spate_yaml_t *cols = spate_node_param(n, "columns");
        for (int i = 0; cols && i < cols->n; i++) {
                const spate_yaml_t *c = cols->items[i];
                if (c->kind != SPATE_YAML_SCALAR || !*c->value)
                        return spate_node_error(n, c, errstr, errstr_size, "a column is a field name");
                spate_shape_field(spate_node_shapes(n), t->shape, c->value, strlen(c->value), 1);
        }
        return 0;
}

static int init_versioned(spate_node_t *n, char *errstr, size_t errstr_size) {
        tnode_t *t = n->ctx;
        const spate_yaml_t *y = spate_node_param(n, "versioned");
        t->stream_time = INT64_MIN;
        if (!t->versioned) {
                if (spate_node_param(n, "time") || spate_node_param(n, "history_retention"))
                        return spate_node_error(n, spate_node_param(n, "time") ? spate_node_param(n, "time")
                                                : spate_node_param(n, "history_retention"), errstr, errstr_size,
                                                "'time' and 'history_retention' are for 'versioned: true'");
                return 0;
        }
        if (t->key)
                return spate_node_error(n, y, errstr, errstr_size, "a versioned table is keyed by the message "
                                        "key: drop 'key:'");
        if (t->history_ms <= 0)
                return spate_node_error(n, spate_node_param(n, "history_retention"), errstr, errstr_size,
                                        "'history_retention' must be a positive duration, e.g. 7d");
        if (!(t->time = spate_node_time_expr(n, "time", t->shape, errstr, errstr_size)))
                return *errstr ? -1 : spate_node_error(n, y, errstr, errstr_size, "a versioned table needs "
                                                       "'time:', the time a row is valid from (e.g. time: "
                                                       "parse_time(valid_from))");
        return 0;
}

static int init_topic(spate_node_t *n, char *errstr, size_t errstr_size) {
        tnode_t *t = n->ctx;
        char err[512];
        if (!t->global && spate_node_param(n, "key"))
                return spate_node_error(n, spate_node_param(n, "key"), errstr, errstr_size, "a partitioned table "
                                        "is keyed by the message key, as its topic is partitioned: drop 'key:' "
                                        "(or set global: true)");
        t->key = spate_node_expr_typed(n, "key", t->shape, SPATE_KEY_TYPES, "a string, number or bool", errstr,
                                       errstr_size);
        if (!t->key && *errstr)
                return -1;
        if (t->key && !(t->by_msg = spate_table_new()))
                return spate_node_error(n, NULL, errstr, errstr_size, "out of memory");
        if (init_versioned(n, errstr, errstr_size))
                return -1;
        if (!(t->serde = spate_serde_new(n->topo, spate_node_str(n, "format"), spate_node_str(n, "schema"),
                                         err, sizeof(err))))
                return spate_node_error(n, spate_node_param(n, "schema"), errstr, errstr_size, "%s", err);
        spate_topology_declare_topic(n->topo, n, t->topic, t->partitions, 1, SPATE_TOPIC_SOURCE);
        return 0;
}

static int init_files(spate_node_t *n, const char *what, char *errstr, size_t errstr_size) {
        tnode_t *t = n->ctx;
        struct stat st;
        t->is_dir = !strcmp(what, "dir");
        t->global = 1;  /* files have no partitions: every instance holds all of it */
        spate_node_path(n, spate_node_str(n, what), t->path, sizeof(t->path));
        if (stat(t->path, &st))
                return spate_node_error(n, spate_node_param(n, what), errstr, errstr_size, "%s: %s", t->path,
                                        strerror(errno));
        if (!S_ISDIR(st.st_mode) != !t->is_dir)
                return spate_node_error(n, spate_node_param(n, what), errstr, errstr_size, "%s is %s", t->path,
                                        t->is_dir ? "not a directory" : "a directory (use dir:)");
        if (t->versioned)
                return spate_node_error(n, spate_node_param(n, "versioned"), errstr, errstr_size, "a versioned "
                                        "table reads a topic (files have no history)");
        const char *vcol = t->version_as;
        if (vcol && !t->is_dir)
                return spate_node_error(n, spate_node_param(n, "version_as"), errstr, errstr_size,
                                        "version_as names the dated subfolder of a row: it needs dir:, not %s:",
                                        what);
        if (vcol)
                t->version_col = 1 + spate_shape_field(spate_node_shapes(n), t->shape, vcol, strlen(vcol), 1);
        if (!(t->key = spate_node_expr_typed(n, "key", t->shape, SPATE_KEY_TYPES, "a string, number or bool",
                                             errstr, errstr_size)))
                return *errstr ? -1 : spate_node_error(n, NULL, errstr, errstr_size,
                                                       "a file table needs 'key:' (the expression that keys "
                                                       "a row, e.g. key: station_id)");
        return 0;
}

static int table_init(spate_node_t *n, char *errstr, size_t errstr_size) {
        tnode_t *t = n->ctx;
        const char *modes[] = { "topic", "file", "dir" }, *mode = NULL;
        for (int i = 0; i < 3; i++) {
                if (!spate_node_param(n, modes[i]))
                        continue;
                if (mode)
                        return spate_node_error(n, spate_node_param(n, modes[i]), errstr, errstr_size,
                                                "'%s' and '%s' both given: a table reads one of them", mode,
                                                modes[i]);
                mode = modes[i];
        }
        if (!mode)
                return spate_node_error(n, NULL, errstr, errstr_size,
                                        "a table reads 'topic:', 'file:' or 'dir:'; none is given");
        if (n->nnext)
                return spate_node_error(n, NULL, errstr, errstr_size, "'%s' is read by '%s' with from:, but a "
                                        "table is read by join nodes (table: %s)", n->name, n->next[0]->name,
                                        n->name);
        t->node = n;
        t->shape = spate_shape_new(spate_node_shapes(n), 1);
        n->out = t->shape;
        n->reads_itself = 1;
        spate_arena_init(&t->arena);
        if (!(t->rows = spate_table_new()) || !(t->next = spate_table_new()))
                return spate_node_error(n, NULL, errstr, errstr_size, "out of memory");
        if (init_columns(n, errstr, errstr_size))
                return -1;
        return !strcmp(mode, "topic") ? init_topic(n, errstr, errstr_size)
                                      : init_files(n, mode, errstr, errstr_size);
}

/* A message of the table's topic that cannot be a row: to the DLQ. */
static void bad_message(tnode_t *t, const void *key, size_t klen, const void *value, size_t len,
                        int64_t offset, const char *why) {
        spate_ctx_fail(t->ctx, t->node, "table %s: %s", t->node->name, why);
        spate_origin_t o = { .topic = t->topic, .partition = t->partition, .offset = offset, .payload = value,
                             .len = len, .key = key, .key_len = klen, .up_partition = -1, .up_offset = -1 };
        spate_ctx_dead_letter(t->ctx, &o);
        t->ctx->failed = NULL;
        t->dlq++;
}

int spate_table_row_key(tnode_t *t, const spate_record_t *rec, const char **key, size_t *klen, char *why,
                        size_t why_size) {
        spate_value_t kv;
        char err[512];
        if (spate_expr_eval(t->key, rec, &t->arena, &kv, err, sizeof(err))) {
                snprintf(why, why_size, "key: %s", err);
                return -1;
        }
        if (spate_value_to_key(&kv, &t->arena, key, klen)) {
                snprintf(why, why_size, "the key '%s' is %s", spate_expr_text(t->key), spate_vtype_name(kv.type));
                return -1;
        }
        return 0;
}

/* With `key:`, the row a message key wrote last is the one its next
 * version or tombstone replaces. */
static void forget_message(tnode_t *t, const void *mkey, size_t mklen) {
        size_t rlen;
        const void *rkey = spate_table_get(t->by_msg, mkey, mklen, &rlen);
        if (rkey) {
                spate_table_changed(t, rkey, rlen);
                spate_table_delete(t->cur, rkey, rlen);
                spate_table_delete(t->by_msg, mkey, mklen);
        }
}

/* The row in t->buf as rkey's version valid from the record's `time:`. */
static int put_version(tnode_t *t, const spate_record_t *rec, const char *rkey, size_t rklen, char *why,
                       size_t why_size) {
        spate_value_t v;
        char err[512];
        int64_t from;
        size_t blen = 0;
        if (spate_expr_eval(t->time, rec, &t->arena, &v, err, sizeof(err))) {
                snprintf(why, why_size, "time: %.400s", err);
                return -1;
        }
        if (v.type != SPATE_V_NUM || spate_time_from_num(v.u.num, &from)) {
                snprintf(why, why_size, "time '%s' is not a number of ms", spate_expr_text(t->time));
                return -1;
        }
        if (from > t->stream_time)
                t->stream_time = from;
        const void *blob = spate_table_get(t->cur, rkey, rklen, &blen);
        t->vbuf.len = 0;
        spate_table_versions_add(blob, blen, from, t->buf.data, t->buf.len, t->stream_time - t->history_ms,
                                 &t->vbuf);
        if (spate_table_put(t->cur, rkey, rklen, t->vbuf.data, t->vbuf.len)) {
                snprintf(why, why_size, "out of memory");
                return -1;
        }
        return 0;
}

static int on_message(void *opaque, const void *key, size_t klen, const void *value, size_t len,
                      int64_t offset) {
        tnode_t *t = opaque;
        spate_record_t rec = { .key = key, .key_len = klen };
        const char *rkey = key;
        size_t rklen = klen;
        char err[512];
        if (!key && (!t->key || !value)) {
                bad_message(t, key, klen, value, len, offset, value ? "a message without a key" :
                            "a tombstone without a key");
                return 0;
        }
        if (!value) {
                if (t->key)
                        forget_message(t, key, klen);
                else if (spate_table_delete(t->cur, key, klen))
                        spate_table_changed(t, key, klen);
                return 0;
        }
        spate_arena_reset(&t->arena);
        if (spate_serde_decode(t->serde, t->shape, NULL, value, len, &t->arena, &rec.value, err, sizeof(err))) {
                bad_message(t, key, klen, value, len, offset, err);
                return 0;
        }
        if (rec.value.type != SPATE_V_OBJ) {
                bad_message(t, key, klen, value, len, offset, "the value is not an object");
                return 0;
        }
        if (t->key && spate_table_row_key(t, &rec, &rkey, &rklen, err, sizeof(err))) {
                bad_message(t, key, klen, value, len, offset, err);
                return 0;
        }
        if (t->key && key) {
                forget_message(t, key, klen);
                if (spate_table_put(t->by_msg, key, klen, rkey, rklen))
                        goto oom;
        }
        t->buf.len = 0;
        spate_table_row_encode(rec.value.u.items, (int)rec.value.n, &t->buf);
        if (t->time) {
                if (put_version(t, &rec, rkey, rklen, err, sizeof(err))) {
                        bad_message(t, key, klen, value, len, offset, err);
                        return 0;
                }
        } else if (spate_table_put(t->cur, rkey, rklen, t->buf.data, t->buf.len)) {
                goto oom;
        }
        spate_table_changed(t, rkey, rklen);
        return 0;
oom:
        snprintf(t->ctx->errstr, sizeof(t->ctx->errstr), "table %s: out of memory", t->node->name);
        return -1;
}

static int grow_partitions(tnode_t *t, int np, spate_ctx_t *ctx) {
        if (np <= t->npart)
                return 0;
        int64_t *o = realloc(t->offsets, sizeof(*o) * (size_t)np);
        if (!o) {
                snprintf(ctx->errstr, sizeof(ctx->errstr), "out of memory");
                return -1;
        }
        memset(o + t->npart, 0, sizeof(*o) * (size_t)(np - t->npart));
        t->offsets = o;
        t->npart = np;
        return 0;
}

/* Reads what the topic got since the last call (all of it the first time). */
static int follow_topic(spate_node_t *n, spate_ctx_t *ctx, int recount) {
        tnode_t *t = n->ctx;
        /* A metadata request is not cheap on a large cluster: the partition
         * count is read again at each rebalance and once a minute. */
        if (recount || ctx->now_ms - t->counted_ms >= TABLE_RECOUNT_MS) {
                int np = spate_ctx_partitions(ctx, t->topic);
                if (np < 0)
                        return -1;
                if (grow_partitions(t, np, ctx))
                        return -1;
                t->counted_ms = ctx->now_ms;
        }
        t->ctx = ctx;
        for (int p = 0; p < t->npart; p++) {
                if (!t->global && (p >= t->nheld || !t->held[p]))
                        continue;
                t->cur = t->global ? t->rows : t->parts[p];
                t->partition = p;
                int64_t next = spate_ctx_replay(ctx, t->topic, p, t->offsets[p], on_message, t);
                if (next < 0)
                        return -1;
                t->offsets[p] = next;
        }
        return 0;
}

static size_t rows_held(const tnode_t *t) {
        size_t n = t->global ? spate_table_count(t->rows) : 0;
        for (int p = 0; !t->global && p < t->nheld; p++)
                n += t->held[p] ? spate_table_count(t->parts[p]) : 0;
        return n;
}

/* rebalance: at an assignment (the partition count is read again). */
static int refresh(spate_node_t *n, spate_ctx_t *ctx, int rebalance) {
        tnode_t *t = n->ctx;
        size_t before = rows_held(t);
        int64_t dlq = t->dlq;
        t->last_refresh = ctx->now_ms;
        int rc = t->topic ? follow_topic(n, ctx, rebalance) : spate_table_files_refresh(n, ctx);
        if (rc || (rows_held(t) == before && t->dlq == dlq))
                return rc;
        /* A table that follows a busy topic changes at every refresh: its
         * first load and the rebalances are worth a line. */
        if (rebalance || !before)
                spate_info("table %s: %zu rows%s (%lld records dead-lettered so far)", n->name, rows_held(t),
                           t->global ? "" : " in the partitions held here", (long long)t->dlq);
        else
                spate_debug("table %s: %zu rows%s (%lld records dead-lettered so far)", n->name, rows_held(t),
                            t->global ? "" : " in the partitions held here", (long long)t->dlq);
        return 0;
}

/* Before the first stream record of every assignment: the table is whole. */
static int table_assigned(spate_node_t *n, spate_ctx_t *ctx) {
        return refresh(n, ctx, 1);
}

static int table_punctuate(spate_node_t *n, spate_ctx_t *ctx) {
        tnode_t *t = n->ctx;
        if (ctx->now_ms - t->last_refresh < t->refresh_ms)
                return 0;
        if (refresh(n, ctx, 0))
                spate_warn("table %s: %s (the table keeps what it holds; retrying in %lld ms)", n->name,
                           ctx->errstr, (long long)t->refresh_ms);
        return 0;
}

/* Partitioned: partition p of a stream topic assigned here holds partition p
 * of the table, read from its beginning at the refresh of assigned(). A
 * count per partition: two topics may both have a partition p here. */
static int table_assign(spate_node_t *n, const char *topic, int32_t partition, spate_ctx_t *ctx) {
        tnode_t *t = n->ctx;
        if (t->global || !strcmp(topic, t->topic))
                return 0;
        if (partition >= t->nheld) {
                int np = partition + 1;
                uint32_t *h = realloc(t->held, sizeof(*h) * (size_t)np);
                spate_table_t **pt = realloc(t->parts, sizeof(*pt) * (size_t)np);
                if (h)
                        t->held = h;
                if (pt)
                        t->parts = pt;
                if (!h || !pt) {
                        snprintf(ctx->errstr, sizeof(ctx->errstr), "table %s: out of memory", n->name);
                        return -1;
                }
                memset(t->held + t->nheld, 0, sizeof(*h) * (size_t)(np - t->nheld));
                memset(t->parts + t->nheld, 0, sizeof(*pt) * (size_t)(np - t->nheld));
                t->nheld = np;
        }
        if (t->held[partition]++)
                return 0;
        if (!t->parts[partition] && !(t->parts[partition] = spate_table_new())) {
                snprintf(ctx->errstr, sizeof(ctx->errstr), "table %s: out of memory", n->name);
                return -1;
        }
        if (grow_partitions(t, partition + 1, ctx))
                return -1;
        t->offsets[partition] = 0;  /* read again from the beginning */
        spate_table_changed(t, NULL, 0);
        return 0;
}

static void table_revoke(spate_node_t *n, const char *topic, int32_t partition, spate_ctx_t *ctx) {
        tnode_t *t = n->ctx;
        (void)ctx;
        if (t->global || !strcmp(topic, t->topic) || partition >= t->nheld || !t->held[partition])
                return;
        if (--t->held[partition] == 0)
                spate_table_clear(t->parts[partition]);
}

const spate_table_t *spate_table_node_partition(const spate_node_t *tn, int32_t partition) {
        const tnode_t *t = tn->ctx;
        if (t->global)
                return t->rows;
        return partition >= 0 && partition < t->nheld && t->held[partition] ? t->parts[partition] : NULL;
}

int spate_table_node_partitioned(const spate_node_t *tn) {
        return !((const tnode_t *)tn->ctx)->global;
}

/* Never called: the engine subscribes a table to nothing (reads_itself). */
static int table_process(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx) {
        (void)rec;
        return spate_ctx_fail(ctx, n, "a table takes no records");
}

/* --- interactive queries (engine/iq.h): the rows joins read now --- */

typedef struct tquery {
        const tnode_t *t;
        const spate_iq_t *q;
        spate_iq_rows_t *rows;
        spate_buf_t out;
        spate_value_t vals[256];
} tquery_t;

/* {"key":K, column: value...}; 1 once the rows are full. */
static int query_row(void *opaque, const void *key, size_t klen, const void *val, size_t vlen) {
        tquery_t *tq = opaque;
        int nf = tq->t->shape->nfields < 256 ? tq->t->shape->nfields : 256;
        spate_value_t obj = { .type = SPATE_V_OBJ, .n = (uint32_t)nf, .u.items = tq->vals };
        size_t at;
        if (tq->q->kind == SPATE_IQ_SCAN && !spate_iq_key_wanted(tq->q, key, klen))
                return 0;
        if (spate_table_row_decode(val, vlen, tq->vals, nf))
                return 0;
        tq->out.len = 0;
        spate_buf_put(&tq->out, "{\"key\":", 7);
        spate_json_write_str(&tq->out, key, klen);
        at = tq->out.len;
        spate_json_write(&tq->out, tq->t->shape, &obj);
        /* The row's object joins the key's: its '{' becomes a ',' (or goes, when empty). */
        if (tq->out.len == at + 2)
                tq->out.len = at;
        else
                tq->out.data[at] = ',';
        if (tq->out.len == at)
                spate_buf_putc(&tq->out, '}');
        return spate_iq_row(tq->rows, tq->out.data, tq->out.len);
}

static int table_query(const spate_node_t *n, const spate_iq_t *q, spate_iq_rows_t *rows, char *errstr,
                       size_t errstr_size) {
        tquery_t tq = { .t = n->ctx, .q = q, .rows = rows };
        if (q->kind == SPATE_IQ_HISTORY) {
                snprintf(errstr, errstr_size, "table '%s' keeps the latest row per key, no history: ask "
                         "/state/%s/<key>", n->name, n->name);
                return 400;
        }
        spate_table_read_lock(tq.t->rows);
        if (q->kind == SPATE_IQ_GET) {
                size_t vlen;
                const void *val = spate_table_get(tq.t->rows, q->key, q->klen, &vlen);
                if (val)
                        query_row(&tq, q->key, q->klen, val, vlen);
        } else {
                spate_table_each(tq.t->rows, query_row, &tq);
        }
        spate_table_read_unlock(tq.t->rows);
        spate_buf_free(&tq.out);
        return 0;
}

static void table_destroy(spate_node_t *n) {
        tnode_t *t = n->ctx;
        spate_table_destroy(t->rows);
        spate_table_destroy(t->next);
        spate_table_destroy(t->by_msg);
        spate_serde_destroy(t->serde);
        spate_expr_destroy(t->key);
        spate_expr_destroy(t->time);
        spate_buf_free(&t->vbuf);
        spate_arena_destroy(&t->arena);
        spate_buf_free(&t->buf);
        free(t->offsets);
        for (int p = 0; p < t->nheld; p++)
                spate_table_destroy(t->parts[p]);
        free(t->parts);
        free(t->held);
}

const spate_op_def_t spate_op_table = {
        .name = "table",
        .role = SPATE_ROLE_SOURCE,
        .doc = "A key -> latest value table that join nodes look up: a compacted topic (global: every "
               "instance reads all of it; otherwise partitioned like the stream), one CSV/JSON-lines file, or "
               "the newest complete dated folder.",
        .props = table_props,
        .binds = table_binds,
        .ctx_size = sizeof(tnode_t),
        .init = table_init,
        .assign = table_assign,
        .revoke = table_revoke,
        .assigned = table_assigned,
        .punctuate = table_punctuate,
        .process = table_process,
        .query = table_query,
        .destroy = table_destroy,
};
