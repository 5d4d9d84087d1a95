/* window_task.c - the `window` node's tasks: restore on assignment, the
 * commit (changelog, outputs, one RocksDB batch), closing on punctuate.
 *
 * Exactness rests on one invariant: a task's state - in the store, and in the
 * changelog up to a meta record - is always a consistent snapshot of one
 * commit: every window, the stream time, the input offset it reflects
 * (meta.next_offset) and, for repartitioned input, the highest upstream
 * offset applied per upstream partition.
 *   - Store: one atomic batch per task and commit, written after every
 *     changelog record and output of the commit is acknowledged.
 *   - Changelog: a commit's records (entries, tombstones) are followed by a
 *     meta record in the same partition. A restore applies records only when
 *     it reads the meta record after them; records of a commit that never got
 *     its meta record (a crash mid-commit) are not applied, and the next
 *     commit writes their keys again (keep_cut()), so that they are
 *     overwritten in any frame that counts.
 * Then after any crash, input records below meta.next_offset are skipped (they
 * are in the state), the stream time is the snapshot's (so lateness decisions
 * replay identically), and records an upstream task wrote again after its own
 * crash are recognised by their upstream offset. Outputs are full values keyed
 * by window, so writing one again is harmless. A restore emits nothing: a
 * commit's meta record is produced only once its outputs are durable (the
 * seal, docs/exactness.md §1), so a frame that counts has its outputs out. */
#include "window_int.h"
#include "../../state/restore_pipe.h"
#include "../../util/log.h"
#include "../../util/util.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define META_KLEN (sizeof(SPATE_WINMETA_KEY) - 1)

win_task_t *win_task_get(win_t *w, int32_t partition) {
        return partition >= 0 && partition < w->ntasks ? w->tasks[partition] : NULL;
}

static void task_free(const win_t *w, win_task_t *t) {
        (void)w;
        if (!t)
                return;
        spate_buf_free(&t->walk_from);
        spate_buf_free(&t->walk_group);
        spate_buf_free(&t->foreign);
        spate_winstate_free(t->ws);
        spate_store_batch_destroy(t->batch);
        free(t);
}

static int64_t now_ms(spate_ctx_t *ctx) {
        return ctx->now_ms ? ctx->now_ms : spate_now_ms();
}

static void crash_point(const win_t *w, const char *step) {
        if (!w->crash_at || strcmp(w->crash_at, step) || w->noutputs < w->crash_after)
                return;
        if (w->crash_prob < 1.0 && drand48() >= w->crash_prob)
                return;
        spate_warn("SPATE_CRASH_AT=%s: aborting (test hook)", step);
        abort();
}

void win_task_touched(win_task_t *t, spate_ctx_t *ctx) {
        t->idle_since = now_ms(ctx);
        t->idle_base = t->ws->stream_time;
}

/* Windows changed since the last commit stay in memory until it writes them:
 * once they have grown an eighth of the share past it - or past what the
 * last checkpoint's evictions left, when that is more (the Bloom filters
 * alone may be) - the commit comes early, and its evictions bring them back
 * under it. Checked per record: the engine commits after its batch, while a
 * punctuation (every 100 ms) can come after more records than the share
 * holds. The eighth is what each early commit writes at least, so they do
 * not come every batch. */
static void commit_when_over(const win_t *w, spate_ctx_t *ctx) {
        if (w->bytes > w->commit_above)
                spate_ctx_request_commit(ctx);
}

/* commit_when_over()'s bound, kept in w since the share is a division: set
 * where settled changes and at each assignment (records come only after). */
static void set_commit_above(win_t *w) {
        size_t limit = spate_topology_cache_bytes(w->topo);
        w->commit_above = (w->settled > limit ? w->settled : limit) + limit / 8;
}

int win_apply(spate_node_t *n, win_task_t *t, int64_t offset, const spate_wrec_t *r,
              const spate_wrepart_t *up, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        char a[32], b[32];
        int rc;

        if (offset < t->resume_offset)
                return 0;  /* in the restored state already */
        t->meta.next_offset = offset + 1;
        if (up && (rc = spate_winmeta_seen(&t->meta, up->up_partition, up->up_offset, up->seq))) {
                if (rc < 0)
                        return spate_ctx_fail(ctx, n, "more than %d upstream partitions",
                                              SPATE_WINMETA_MAX_UP);
                return 0;  /* an upstream replay wrote it again */
        }
        size_t before = t->ws->bytes;
        rc = spate_winstate_add(t->ws, r);
        w->bytes += t->ws->bytes - before;  /* modulo 2^64: a shrink subtracts */
        commit_when_over(w, ctx);
        win_task_touched(t, ctx);
        if (rc < 0)
                return spate_ctx_fail(ctx, n, "%s", spate_winstate_error(t->ws));
        if (rc == 0)
                return 0;
        spate_fmt_iso_ms(r->t, a, sizeof(a));
        spate_fmt_iso_ms(t->ws->stream_time, b, sizeof(b));
        if (w->conf.corrections)
                return win_late(n, ctx, "late: group '%.*s' id '%.*s' at %s, stream time %s, grace %lld ms; "
                                      "no closed window kept (retention %lld ms) holds an earlier version "
                                      "of this id%s", (int)r->glen, r->group, (int)r->idlen, r->id, a, b,
                                      (long long)w->conf.spec.grace, (long long)w->conf.retention,
                                      up ? " (judged by its source partition's stream time)" : "");
        if (up)
                return win_late(n, ctx, "late: group '%.*s' at %s, stream time %s, grace %lld ms "
                                      "(source partition %d offset %lld)", (int)r->glen, r->group, a, b,
                                      (long long)w->conf.spec.grace, up->up_partition,
                                      (long long)up->up_offset);
        return win_late(n, ctx, "late: group '%.*s' at %s, stream time %s, grace %lld ms",
                              (int)r->glen, r->group, a, b, (long long)w->conf.spec.grace);
}

/* --- output --- */

/* Aggregate i's output for window e. A gap window's states are the last
 * readings' (winstate.h): counts are 0 in it, staleness runs on to its end,
 * and the values are carried (fill: previous, and linear where winstate.c
 * interpolated them) or null. */
static void result(const spate_winconf_t *c, const spate_went_t *e, int i, spate_val_t *v) {
        if (e->gap && spate_agg_fn_counts(c->fns[i])) {
                *v = (spate_val_t){ .type = SPATE_VAL_NUM, .num = 0 };
                return;
        }
        if (e->gap && c->fill == SPATE_FILL_NULL && c->fns[i] != SPATE_AGG_STALENESS) {
                *v = (spate_val_t){ .type = SPATE_VAL_NULL };
                return;
        }
        spate_agg_result_in(&e->states[i], c->params[i], e->start, e->end, v);
}

int win_row_fields(const win_t *w) {
        return 3 + w->conf.nfns + (w->conf.fill ? 2 : 0);
}

void win_row(const win_t *w, const char *group, size_t glen, const spate_went_t *e, spate_value_t *items) {
        items[0] = spate_value_str(group, (uint32_t)glen);
        items[1] = spate_value_num((double)e->start);
        items[2] = spate_value_num((double)e->end);
        for (int i = 0; i < w->conf.nfns; i++) {
                spate_val_t v;
                result(&w->conf, e, i, &v);
                spate_value_t *o = &items[3 + i];
                switch (v.type) {
                case SPATE_VAL_NUM: *o = spate_value_num(v.num); break;
                case SPATE_VAL_STR: *o = spate_value_str(v.str, (uint32_t)v.len); break;
                case SPATE_VAL_BOOL: *o = spate_value_bool(v.b); break;
                default: o->type = SPATE_V_NULL; break;
                }
        }
        if (w->conf.fill) {
                items[3 + w->conf.nfns] = spate_value_bool(e->gap != SPATE_GAP_NONE);
                items[4 + w->conf.nfns] = spate_value_bool(spate_went_stale(&w->conf, e));
        }
}

static int emit(spate_node_t *n, const char *group, size_t glen, const spate_went_t *e,
                int64_t start, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        spate_arena_t *a = spate_ctx_arena(ctx);
        char iso[32];
        w->noutputs++;
        crash_point(w, "mid_outputs");
        /* No record is in flight during a commit: the arena is ours. */
        spate_arena_reset(a);
        int il = spate_fmt_iso_ms(start, iso, sizeof(iso));
        char *key = spate_arena_alloc(a, glen + 1 + (size_t)il);
        memcpy(key, group, glen);
        key[glen] = '@';
        memcpy(key + glen + 1, iso, (size_t)il);
        spate_record_t rec = { .key = key, .key_len = glen + 1 + (size_t)il, .ts = start };
        if (!e) {
                rec.value.type = SPATE_V_NULL;  /* a tombstone for the window's key */
                return spate_emit(n, &rec, ctx);
        }
        size_t nf = (size_t)n->out->nfields;  /* later nodes may compute fields in place */
        spate_value_t *items = spate_arena_alloc(a, nf * sizeof(*items));
        memset(items, 0, nf * sizeof(*items));
        win_row(w, group, glen, e, items);
        rec.value.type = SPATE_V_OBJ;
        rec.value.n = (uint32_t)nf;
        rec.value.u.items = items;
        return spate_emit(n, &rec, ctx);
}

/* --- state larger than memory (winstate.h: Eviction) --- */

/* Loads the stored entries of the task's key [k, k + kl) into memory (the
 * whole group); -1 with errstr when the store fails or an entry does not
 * decode. */
static int load_range(win_task_t *t, const char *lo, size_t lolen, const char *hi, size_t hilen,
                      char *errstr, size_t errstr_size) {
        spate_store_iter_t *it;
        const char *k, *v;
        size_t kl, vl;
        int rc;
        if (spate_store_iter_new(t->cf, lo, lolen, hi, hilen, &it, errstr, errstr_size))
                return -1;
        while ((rc = spate_store_iter_next(it, &k, &kl, &v, &vl, errstr, errstr_size)) == 1)
                if (spate_winstate_load(t->ws, k, kl, v, vl, errstr, errstr_size))
                        break;
        spate_store_iter_destroy(it);
        return rc ? -1 : 0;
}

/* ws->fetch: an evicted group (or one never seen) read back from the store. */
static int fetch_group(void *opaque, spate_winstate_t *ws, const char *group, size_t glen) {
        win_task_t *t = opaque;
        char lo[SPATE_WINKEY_SIZE(glen)], hi[SPATE_WINKEY_SIZE(glen) + 1];
        size_t lolen, hilen;
        spate_winkey_range(group, glen, lo, &lolen, hi, &hilen);
        if (t->m_fetch)
                spate_metric_add(t->m_fetch, 1);
        return load_range(t, lo, lolen, hi, hilen, ws->err, sizeof(ws->err));
}

/* The task's share of state_memory_mb: the node's cap split over the tasks
 * it holds. */
static size_t task_limit(const win_t *w) {
        int n = 0;
        for (int i = 0; i < w->ntasks; i++)
                n += w->tasks[i] != NULL;
        return spate_topology_cache_bytes(w->topo) / (size_t)(n > 0 ? n : 1);
}

/* 1 when entry key `key` is of group g; 0 when of another, which g becomes;
 * -1 when it is no entry key (the meta). */
static int same_group(spate_buf_t *g, const char *key, size_t klen) {
        const char *group;
        size_t glen;
        int bucket;
        int64_t start;
        if (spate_went_key_decode(key, klen, &group, &glen, &bucket, &start))
                return -1;
        /* An empty group ("") meets an empty buffer, whose data may be NULL. */
        if (glen == g->len && (!glen || !memcmp(group, g->data, glen)))
                return 1;
        spate_buf_set(g, group, glen);
        return 0;
}

/* Visits the group of each key in the task's store (a group once per run of
 * its entries); 0, or -1 with errstr. */
static int each_stored_group(win_task_t *t, void (*cb)(win_task_t *t, const char *g, size_t glen, void *opaque),
                             void *opaque, char *errstr, size_t errstr_size) {
        spate_store_iter_t *it;
        const char *k, *v;
        size_t kl, vl;
        int rc;
        if (spate_store_iter_new(t->cf, NULL, 0, NULL, 0, &it, errstr, errstr_size))
                return -1;
        t->walk_group.len = 0;
        while ((rc = spate_store_iter_next(it, &k, &kl, &v, &vl, errstr, errstr_size)) == 1)
                if (same_group(&t->walk_group, k, kl) == 0)
                        cb(t, t->walk_group.data, t->walk_group.len, opaque);
        spate_store_iter_destroy(it);
        t->walk_group.len = 0;
        return rc ? -1 : 0;
}

static void count_group(win_task_t *t, const char *g, size_t glen, void *opaque) {
        (void)t, (void)g, (void)glen;
        (*(size_t *)opaque)++;
}

static void note_group(win_task_t *t, const char *g, size_t glen, void *opaque) {
        (void)opaque;
        spate_winstate_bloom_note(t->ws, g, glen);
}

/* The Bloom filter of the groups in the task's store, built again from it
 * (two passes over its keys: the count sizes it) when the state spilled and
 * the filter is missing (after a restore) or full: each rebuild doubles its
 * room, so the walks cost O(1) per key over time. Without it, every new key
 * would read RocksDB in vain. Out of memory or a failed read leaves it off
 * (every miss then reads). */
static void bloom_rebuild(const spate_node_t *n, win_task_t *t) {
        size_t groups = 0;
        char err[256] = "out of memory";
        if (each_stored_group(t, count_group, &groups, err, sizeof(err)) ||
            spate_winstate_bloom_reset(t->ws, 2 * groups) ||
            each_stored_group(t, note_group, NULL, err, sizeof(err))) {
                spate_warn("window '%s' partition %d: no filter of the keys in RocksDB (%s): every key "
                           "not in memory reads RocksDB", n->name, t->partition, err);
                return;
        }
        spate_winstate_bloom_done(t->ws);
}

/* Bytes evicted after which the heap's free pages go back to the system:
 * evicted groups leave holes all over the heap, which malloc keeps (measured
 * at 10 M keys: ~300 MB of 1.2 GB held free). */
#define TRIM_AFTER (64u << 20)

/* Evicts the task's clean groups down to limit bytes (noted for
 * malloc_trim()); how many left. */
static size_t evict_to(win_t *w, win_task_t *t, size_t limit) {
        size_t before = t->ws->bytes, evicted = spate_winstate_evict(t->ws, limit);
        w->untrimmed += before - t->ws->bytes;
        return evicted;
}

/* After a checkpoint: the task's clean groups over its share of memory
 * leave it (said once per task). The Bloom filter a first spill (or a full
 * one) makes counts in the share: evictions go on after it is built. */
static void evict(const spate_node_t *n, win_task_t *t) {
        win_t *w = n->ctx;
        size_t limit = task_limit(w);
        size_t evicted = evict_to(w, t, limit);
        if (spate_winstate_bloom_due(t->ws)) {
                bloom_rebuild(n, t);
                evicted += evict_to(w, t, limit);
        }
        if (w->untrimmed >= TRIM_AFTER) {
                malloc_trim(0);
                w->untrimmed = 0;
        }
        if (evicted && !t->logged_spill) {
                spate_info("window '%s' partition %d: state over %.1f MB (its share of state_memory_mb): "
                           "keys written at their commit leave memory, and are read back from RocksDB "
                           "when needed", n->name, t->partition, (double)limit / (1 << 20));
                t->logged_spill = 1;
        }
}

/* Groups per call that close_evicted() handles whatever the memory (the
 * walk always moves on, however many entries the commit holds dirty), and
 * at most (one commit does not stall on a whole column family). */
#define WALK_MIN_GROUPS 1024
#define WALK_MAX_GROUPS 65536

/* The group whose entries the walk is loading ends: it is closed (and stays,
 * dirty, until the commit writes it) or evicted again. -1 with errstr when
 * out of memory. */
static int walk_settle(win_task_t *t, int *loaded, char *errstr, size_t errstr_size) {
        int rc = *loaded ? spate_winstate_settle(t->ws, t->walk_group.data, t->walk_group.len) : 0;
        *loaded = 0;
        if (rc >= 0)
                return 0;
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
}

/* Closing windows of evicted groups: once stream time reaches the earliest
 * close work of a group evicted (ws->evicted_due), a walk of the store in key
 * order loads each group that is not in memory and settles it. Groups that
 * close stay in memory until the commit, so the walk stops once memory is
 * over the task's share (after WALK_MIN_GROUPS) and goes on at the next
 * commit; ws->evicted_due collects from the walk's start the close work of
 * every group evicted since, so when the walk ends it is exact again. The
 * store is as of the last checkpoint, which is every evicted group's truth:
 * groups written since are in memory, and skipped. */
static int close_evicted(const win_t *w, win_task_t *t, char *errstr, size_t errstr_size) {
        spate_winstate_t *ws = t->ws;
        spate_store_iter_t *it;
        const char *k, *v, *group;
        size_t kl, vl, glen, limit = task_limit(w);
        int bucket, loaded = 0, groups = 0, rc;
        int64_t start;
        if (!t->closing_evicted) {
                if (!ws->spilled || ws->evicted_due == INT64_MAX || ws->stream_time < ws->evicted_due)
                        return 0;
                t->closing_evicted = 1;
                t->walk_from.len = 0;
                ws->evicted_due = INT64_MAX;
        }
        if (spate_store_iter_new(t->cf, t->walk_from.len ? t->walk_from.data : NULL, t->walk_from.len,
                                 NULL, 0, &it, errstr, errstr_size))
                return -1;
        while ((rc = spate_store_iter_next(it, &k, &kl, &v, &vl, errstr, errstr_size)) == 1) {
                if (spate_went_key_decode(k, kl, &group, &glen, &bucket, &start))
                        continue;  /* the meta record */
                if (glen != t->walk_group.len || (glen && memcmp(group, t->walk_group.data, glen))) {
                        if (walk_settle(t, &loaded, errstr, errstr_size)) {
                                rc = -1;
                                break;
                        }
                        if (++groups > WALK_MAX_GROUPS || (groups > WALK_MIN_GROUPS && ws->bytes > limit)) {
                                /* Goes on from this group at the next commit. */
                                spate_buf_set(&t->walk_from, k, SPATE_WINKEY_SIZE(glen));
                                spate_store_iter_destroy(it);
                                return 0;
                        }
                        spate_buf_set(&t->walk_group, group, glen);
                        loaded = !spate_winstate_holds(ws, group, glen);
                }
                if (loaded && spate_winstate_load(ws, k, kl, v, vl, errstr, errstr_size)) {
                        rc = -1;
                        break;
                }
        }
        spate_store_iter_destroy(it);
        if (rc == 0 && walk_settle(t, &loaded, errstr, errstr_size))
                rc = -1;
        t->walk_group.len = 0;
        t->closing_evicted = rc != 0;
        return rc ? -1 : 0;
}

/* --- commit --- */

typedef struct {
        spate_node_t *n;
        win_task_t *t;
        spate_ctx_t *ctx;
} walk_t;

static int produce_changelog(walk_t *k, const void *key, size_t klen, const void *val, size_t len) {
        win_t *w = k->n->ctx;
        return spate_ctx_produce_acked(k->ctx, w->changelog_topic, k->t->partition, key, klen, val,
                                       len, &k->t->acked);
}

static int put_entry(void *opaque, const spate_wgroup_t *g, int bucket, spate_went_t *e) {
        walk_t *k = opaque;
        win_t *w = k->n->ctx;
        char key[SPATE_WENT_KEY_MAX(g->klen)];
        size_t klen;
        if (!e->dirty)
                return 0;
        klen = spate_went_key(g->key, g->klen, bucket, e->start, key);
        w->buf.len = 0;
        if (spate_went_encode_ids(&w->conf, e, bucket ? NULL : spate_winstate_ids(k->t->ws, g, e), &w->buf)) {
                snprintf(k->ctx->errstr, sizeof(k->ctx->errstr), "out of memory");
                return -1;
        }
        spate_store_batch_put(k->t->batch, k->t->cf, key, klen, w->buf.data, w->buf.len);
        return produce_changelog(k, key, klen, w->buf.data, w->buf.len);
}

static int emit_entry(void *opaque, const spate_wgroup_t *g, int bucket, spate_went_t *e) {
        walk_t *k = opaque;
        if (bucket || !e->emit)
                return 0;
        return emit(k->n, g->key, g->klen, e, e->start, k->ctx);
}

/* Key lists (restore_t.cut, win_task_t.foreign): each key after its length
 * (4 bytes, host order). */
static void key_put(spate_buf_t *b, const char *key, uint32_t klen) {
        spate_buf_put(b, &klen, sizeof(klen));
        spate_buf_put(b, key, klen);
}

/* The key at *at (< b->len), its length in *klen; *at moves past it. */
static const char *key_next(const spate_buf_t *b, size_t *at, uint32_t *klen) {
        memcpy(klen, b->data + *at, sizeof(*klen));
        *at += sizeof(*klen) + *klen;
        return b->data + *at - *klen;
}

/* The tombstones of a cut commit's foreign keys (rewrite_cut()). */
static int foreign_tombstones(walk_t *k) {
        const spate_buf_t *f = &k->t->foreign;
        for (size_t at = 0; at < f->len;) {
                uint32_t klen;
                const char *key = key_next(f, &at, &klen);
                spate_store_batch_delete(k->t->batch, k->t->cf, key, klen);
                if (produce_changelog(k, key, klen, NULL, 0))
                        return -1;
        }
        return 0;
}

static int flush_task(spate_node_t *n, win_task_t *t, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        spate_winstate_t *ws = t->ws;
        walk_t k = { n, t, ctx };

        spate_winstate_close(ws);
        if (close_evicted(w, t, ctx->errstr, sizeof(ctx->errstr)))
                return -1;
        if (ws->nrevised != t->logged_revised) {
                spate_info("window '%s' partition %d: %llu closed windows revised so far (%s)", n->name,
                           t->partition, (unsigned long long)ws->nrevised,
                           w->conf.corrections ? "corrections of their readings" :
                           "records on time by their own source partition, which started after the "
                           "others closed them");
                t->logged_revised = ws->nrevised;
        }
        if (ws->ncorrected != t->logged_corrected) {
                spate_info("window '%s' partition %d: %llu later versions of readings %s so far (dedupe_by)",
                           n->name, t->partition, (unsigned long long)ws->ncorrected,
                           w->conf.corrections == SPATE_CORR_IGNORE ? "ignored" : "replaced earlier ones");
                t->logged_corrected = ws->ncorrected;
        }
        if (!ws->ndirty && !ws->ndel && !t->foreign.len && t->meta.next_offset == t->written_offset &&
            t->meta.stream_time == ws->stream_time)
                return 0;
        t->meta.stream_time = ws->stream_time;
        if (!t->batch && !(t->batch = spate_store_batch_new())) {
                snprintf(ctx->errstr, sizeof(ctx->errstr), "out of memory");
                return -1;
        }
        if (foreign_tombstones(&k))
                return -1;
        /* Tombstones first: a session key deleted and written again in one
         * commit ends up written, in the changelog as in the store. */
        for (int i = 0; i < ws->ndel; i++) {
                const spate_wdel_t *d = &ws->del[i];
                char key[SPATE_WENT_KEY_MAX(d->glen)];
                size_t klen = spate_went_key(d->group, d->glen, d->bucket, d->start, key);
                spate_store_batch_delete(t->batch, t->cf, key, klen);
                if (produce_changelog(&k, key, klen, NULL, 0))
                        return -1;
        }
        if (spate_winstate_each_dirty(ws, put_entry, &k))
                return -1;
        crash_point(w, "after_changelog");
        for (int i = 0; i < ws->ndel; i++) {
                const spate_wdel_t *d = &ws->del[i];
                if (d->output && !spate_winstate_find(ws, d->group, d->glen, d->start) &&
                    emit(n, d->group, d->glen, NULL, d->start, ctx))
                        return -1;
        }
        if (spate_winstate_each_dirty(ws, emit_entry, &k))
                return -1;
        crash_point(w, "after_outputs");
        t->committing = 1;
        t->written_offset = t->meta.next_offset;
        return 0;
}

int win_flush(spate_node_t *n, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        for (int i = 0; i < w->ntasks; i++)
                if (w->tasks[i] && flush_task(n, w->tasks[i], ctx))
                        return -1;
        return 0;
}

/* The meta record that closes the task's frame of this commit (node_state.h:
 * seal): produced once the frame's records and outputs are acknowledged. */
static int seal_task(spate_node_t *n, win_task_t *t, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        walk_t k = { n, t, ctx };
        w->buf.len = 0;
        spate_winmeta_encode(&t->meta, &w->buf);
        if (produce_changelog(&k, SPATE_WINMETA_KEY, META_KLEN, w->buf.data, w->buf.len))
                return -1;
        crash_point(w, "after_meta");
        return 0;
}

int win_seal(spate_node_t *n, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        for (int i = 0; i < w->ntasks; i++)
                if (w->tasks[i] && w->tasks[i]->committing && seal_task(n, w->tasks[i], ctx))
                        return -1;
        return 0;
}

/* Writes the task's pending batch with its meta (changelog offset reached,
 * stream time, applied offsets) as one atomic RocksDB write. */
static int write_batch(spate_store_batch_t *b, win_task_t *t, struct spate_store *store,
                       spate_buf_t *buf, char *errstr, size_t errstr_size) {
        buf->len = 0;
        spate_winmeta_encode(&t->meta, buf);
        spate_store_batch_put(b, t->cf, SPATE_WINMETA_KEY, META_KLEN, buf->data, buf->len);
        if (spate_store_write(store, b, errstr, errstr_size))
                return -1;
        spate_store_batch_clear(b);
        return 0;
}

/* After the acknowledgements: the task's store batch with the meta that now
 * names the changelog offset it reflects. */
static int checkpoint_task(spate_node_t *n, win_task_t *t, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        struct spate_store *store = spate_ctx_store(ctx);
        crash_point(w, "after_acks");
        if (!store)
                return -1;
        t->meta.changelog_next = t->acked;
        if (write_batch(t->batch, t, store, &w->buf, ctx->errstr, sizeof(ctx->errstr)))
                return -1;
        /* A cleared batch keeps the capacity of the task's largest commit,
         * outside the estimate (measured: 20 MB over 16 tasks beside a 48 MB
         * share): the next flush makes a new one. */
        spate_store_batch_destroy(t->batch);
        t->batch = NULL;
        spate_winstate_clean(t->ws);
        t->foreign.len = 0;
        evict(n, t);
        t->committing = 0;
        crash_point(w, "after_checkpoint");
        return 0;
}

int win_checkpoint(spate_node_t *n, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        w->settled = 0;
        for (int i = 0; i < w->ntasks; i++) {
                if (w->tasks[i] && w->tasks[i]->committing && checkpoint_task(n, w->tasks[i], ctx))
                        return -1;
                w->settled += w->tasks[i] ? w->tasks[i]->ws->bytes : 0;
        }
        w->bytes = w->settled;
        set_commit_above(w);
        return 0;
}

int win_punctuate(spate_node_t *n, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        int64_t now = now_ms(ctx);
        uint64_t open = 0;
        size_t bytes = 0;
        for (int i = 0; i < w->ntasks; i++) {
                win_task_t *t = w->tasks[i];
                if (!t)
                        continue;
                /* Repartitioned: the upstream half applies it per source
                 * partition; empty ones are released here. */
                if (ctx->end_of_input && !w->group)
                        spate_winstate_advance(t->ws, SPATE_WINDOW_END_OF_STREAM);
                else if (w->group)
                        win_task_watermark(w, t, now);
                else if (w->idle_ms && t->ws->stream_time != INT64_MIN && now - t->idle_since >= w->idle_ms)
                        spate_winstate_advance(t->ws, t->idle_base + (now - t->idle_since));
                spate_winstate_close(t->ws);
                open += t->ws->nwindows - t->ws->nclosed;
                bytes += t->ws->bytes;
        }
        if (w->m_open)
                spate_metric_set(w->m_open, (double)open);
        if (w->m_cache)
                spate_metric_set(w->m_cache, (double)bytes);
        w->bytes = bytes;
        commit_when_over(w, ctx);
        return 0;
}

int win_drained(spate_node_t *n, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        (void)ctx;
        if (w->restorer)
                return 0;
        for (int i = 0; i < w->ntasks; i++) {
                const win_task_t *t = w->tasks[i];
                if (t && (t->ws->stream_time != SPATE_WINDOW_END_OF_STREAM || t->ws->ndirty || t->ws->ndel ||
                          t->committing || t->closing_evicted ||
                          (t->ws->spilled && t->ws->evicted_due != INT64_MAX)))
                        return 0;
        }
        return 1;
}

/* --- restore --- */

/* A changelog record read during a restore. Its key and value are in
 * restore_t.bytes, by position since the buffer moves as it grows. */
typedef struct rrec {
        uint64_t head;     /* key bytes [0, 8) and (head2) [8, 12), big-endian and */
        size_t at;         /* key at bytes + at, the value right after it */
        int64_t offset;    /* changelog offset: orders the writes of one key */
        uint32_t head2;    /* zero-padded: the length prefix and 8 bytes of the group,
                            * which decide most comparisons without a memcmp */
        uint32_t klen, vlen;
        uint8_t tomb;      /* a tombstone: no value */
} rrec_t;

/* When one half of a partition's apply ran (spate_mono_ms()), written by
 * that half's thread only. */
typedef struct {
        int64_t start, end;
} span_t;

/* One partition's restore. The main thread reads the changelog into it and
 * sorts it (replay()); then it is a step of the node's restore pipe
 * (state/restore_pipe.h), which owns it and its task until the step's done
 * (restored()): the step's apply loads the task's memory (apply_memory()),
 * its beside writes its store (store_half()). Records are kept until the
 * replay ends, then only the last one of each key is decoded and written, in
 * key order: a key changed by many commits costs one decode, and RocksDB
 * inserts sorted keys into its memtable several times faster than random
 * ones. */
typedef struct {
        win_t *w;          /* the node, which restored() hands the task to */
        win_task_t *t;
        struct spate_store *store;
        const char *node;  /* name, for the log */
        spate_buf_t bytes, sorted;
        rrec_t *r, *tmp;   /* tmp: the radix sort's other half */
        size_t nr, cap, tmpcap;
        size_t ncomplete;  /* r[0, ncomplete): of complete commits, to apply */
        uint64_t local, applied, ignored;
        int64_t from;      /* changelog offset the local copy reflected */
        int warm;          /* a standby advanced that copy before the assignment */
        int64_t closed;    /* changelog offset after the last meta record read */
        spate_buf_t cut;   /* keys of the records after it (a commit a crash cut), a key list
                            * (key_put()): rewritten by the next commit */
        size_t limit;      /* memory the restore may fill (winstate.h: Eviction) */
        int64_t t0, replayed;  /* spate_mono_ms() */
        span_t memory, stored;
        char err[512];                /* the replay's */
        spate_buf_t meta;             /* the store half's scratch: w->buf is the main thread's */
        spate_store_batch_t *batch;   /* not the task's, which would keep its capacity */
} restore_t;

/* The restores of one assignment: the main thread replays partition i+1
 * into one restore_t while partition i is applied from another, a step of
 * the pipe; a third holds partition i until partition i+1's column family
 * is open (restore_release()), with partition i-1 perhaps still applied.
 * The apply is split in two halves (memory, store), each on its
 * own thread, because on two cores that is what keeps both busy: with one
 * apply thread the replay waited for it and bench/restore_bench.sh took
 * ~2.4 s for 1M records, with two ~1.8 s. The buffers are reused from
 * partition to partition (fresh ones cost page faults) and freed when the
 * assignment's restores are done. */
#define NRESTORES 3  /* the restore_t of a restorer: filled, held, applied */
typedef struct win_restorer {
        restore_t rs[NRESTORES];
        int fill;          /* rs[fill]: the main thread's; the others the pipe's (held, under way) */
        spate_restore_pipe_t *pipe;
        int64_t now;       /* the clock of the call that runs a step's done: its task's idle time
                            * counts from it */
        int64_t t0, t1;    /* first restore's start, last apply's end */
        double cpu0;       /* process CPU seconds at t0 */
        uint64_t records;
        int partitions;
} win_restorer_t;

/* A meta record completes the records read since the previous one, except
 * those of commits known to have failed. */
static int on_meta(restore_t *rs, const void *val, size_t len) {
        win_task_t *t = rs->t;
        int64_t changelog_next = t->meta.changelog_next;  /* the store's, not the changelog's */
        size_t kept = rs->ncomplete;
        if (spate_winmeta_decode(val, len, &t->meta, rs->err, sizeof(rs->err)))
                return -1;
        t->meta.changelog_next = changelog_next;
        for (size_t i = rs->ncomplete; i < rs->nr; i++) {
                if (spate_winmeta_skipped(&t->meta, rs->r[i].offset))
                        rs->ignored++;
                else
                        rs->r[kept++] = rs->r[i];
        }
        rs->applied += kept - rs->ncomplete;
        rs->ncomplete = rs->nr = kept;
        return 0;
}

static uint64_t load_be(const unsigned char *p, int n) {
        uint64_t v = 0;
        for (int i = 0; i < n; i++)
                v = v << 8 | p[i];
        return v;
}

/* Holds a record until a meta record completes it. */
static int stage(restore_t *rs, const void *key, size_t klen, const void *val, size_t len, int64_t offset) {
        unsigned char h[12] = { 0 };
        if (rs->nr == rs->cap) {
                size_t cap = rs->cap ? rs->cap * 2 : 1024;
                rrec_t *r = realloc(rs->r, cap * sizeof(*r));
                if (!r) {
                        snprintf(rs->err, sizeof(rs->err), "out of memory");
                        return -1;
                }
                rs->r = r;
                rs->cap = cap;
        }
        memcpy(h, key, klen < sizeof(h) ? klen : sizeof(h));
        rs->r[rs->nr++] = (rrec_t){ .head = load_be(h, 8), .at = rs->bytes.len, .offset = offset,
                                    .head2 = (uint32_t)load_be(h + 8, 4), .klen = (uint32_t)klen,
                                    .vlen = (uint32_t)len, .tomb = !val };
        spate_buf_put(&rs->bytes, key, klen);
        if (val)
                spate_buf_put(&rs->bytes, val, len);
        return 0;
}

static int on_changelog(void *opaque, const void *key, size_t klen, const void *val, size_t len,
                        int64_t offset) {
        restore_t *rs = opaque;
        if (klen != META_KLEN || memcmp(key, SPATE_WINMETA_KEY, META_KLEN))
                return stage(rs, key, klen, val, len, offset);
        if (!val)
                return 0;
        rs->closed = offset + 1;
        return on_meta(rs, val, len);
}

/* Byte order of the keys (the heads are their first 12 bytes, zero-padded,
 * so they order as memcmp does), then changelog order. */
static int rrec_cmp(const void *pa, const void *pb, void *bytes) {
        const rrec_t *a = pa, *b = pb;
        const char *base = bytes;
        if (a->head != b->head)
                return a->head < b->head ? -1 : 1;
        if (a->head2 != b->head2)
                return a->head2 < b->head2 ? -1 : 1;
        int c = memcmp(base + a->at, base + b->at, a->klen < b->klen ? a->klen : b->klen);
        if (c)
                return c;
        if (a->klen != b->klen)
                return a->klen < b->klen ? -1 : 1;
        return a->offset < b->offset ? -1 : a->offset > b->offset;
}

static int same_key(const restore_t *rs, const rrec_t *a, const rrec_t *b) {
        return a->head == b->head && a->head2 == b->head2 && a->klen == b->klen &&
               !memcmp(rs->bytes.data + a->at, rs->bytes.data + b->at, a->klen);
}

/* Byte d of a record's 12-byte head, from the last (d = 0). */
static unsigned head_byte(const rrec_t *p, int d) {
        return (unsigned)(d < 4 ? p->head2 >> (8 * d) : p->head >> (8 * (d - 4))) & 255;
}

/* Sorts rs->r[0, n) as rrec_cmp does: a stable radix sort on the heads, a
 * byte a pass from the last (a pass whose byte every record shares is
 * skipped: the length prefix, a common start of the keys), then rrec_cmp
 * within each run of equal heads (the rest of the key, then changelog
 * order). qsort_r over the whole array cost a tenth of the main thread's
 * restore at 3M keys; this pass moves the records in O(n) a byte. -1 when
 * out of memory. */
static int sort_records(restore_t *rs, size_t n) {
        if (rs->tmpcap < n) {
                rrec_t *tmp = realloc(rs->tmp, n * sizeof(*tmp));
                if (!tmp)
                        return -1;
                rs->tmp = tmp;
                rs->tmpcap = n;
        }
        for (int d = 0; d < 12; d++) {
                size_t count[256] = { 0 }, at = 0;
                for (size_t i = 0; i < n; i++)
                        count[head_byte(&rs->r[i], d)]++;
                if (count[head_byte(&rs->r[0], d)] == n)
                        continue;
                for (int b = 0; b < 256; b++) {
                        size_t c = count[b];
                        count[b] = at;
                        at += c;
                }
                for (size_t i = 0; i < n; i++)
                        rs->tmp[count[head_byte(&rs->r[i], d)]++] = rs->r[i];
                rrec_t *r = rs->r;
                rs->r = rs->tmp;
                rs->tmp = r;
                size_t cap = rs->cap;
                rs->cap = rs->tmpcap;
                rs->tmpcap = cap;
        }
        for (size_t i = 0, end; i < n; i = end) {
                for (end = i + 1; end < n && rs->r[end].head == rs->r[i].head &&
                     rs->r[end].head2 == rs->r[i].head2; end++)
                        ;
                if (end - i > 1)
                        qsort_r(rs->r + i, end - i, sizeof(*rs->r), rrec_cmp, rs->bytes.data);
        }
        return 0;
}

/* Keeps the last record of each key among the complete commits', in key
 * order. -1 when out of memory. */
static int sort_restored(restore_t *rs) {
        size_t kept = 0;
        if (!rs->ncomplete)
                return 0;
        if (sort_records(rs, rs->ncomplete))
                return -1;
        for (size_t i = 0; i < rs->ncomplete; i++)
                if (i + 1 == rs->ncomplete || !same_key(rs, &rs->r[i], &rs->r[i + 1]))
                        rs->r[kept++] = rs->r[i];  /* else a later commit wrote the key again */
        rs->ncomplete = kept;
        /* Copied in key order, the records are read in order by both halves
         * of the apply: the scattered reads are paid here, once, on the
         * thread that mostly waits for the broker. */
        rs->sorted.len = 0;
        for (size_t i = 0; i < kept; i++) {
                rrec_t *p = &rs->r[i];
                size_t at = rs->sorted.len;
                spate_buf_put(&rs->sorted, rs->bytes.data + p->at, p->klen + (p->tomb ? 0 : p->vlen));
                p->at = at;
        }
        spate_buf_t bytes = rs->bytes;
        rs->bytes = rs->sorted;
        rs->sorted = bytes;
        return 0;
}

/* Records after the last meta record are of a commit a crash cut: they are
 * not applied, and their keys are kept in rs->cut so that the next commit
 * writes each again with the value restored, or a tombstone (restored()):
 * a reader of the changelog from any earlier point applies them with that
 * commit's frame and finds them overwritten before the frame counts. (Until
 * this version, their offsets went to the meta's skip ranges, which kept
 * the last 64; ranges already there are still honoured: on_meta().) */
static void keep_cut(const spate_node_t *n, restore_t *rs) {
        rs->cut.len = 0;
        if (rs->nr == rs->ncomplete)
                return;
        spate_info("window '%s' partition %d: %zu changelog records from offset %lld are of a commit that "
                   "did not complete: not applied, their keys written again by the next commit",
                   n->name, rs->t->partition, rs->nr - rs->ncomplete, (long long)rs->r[rs->ncomplete].offset);
        for (size_t i = rs->ncomplete; i < rs->nr; i++)
                key_put(&rs->cut, rs->bytes.data + rs->r[i].at, rs->r[i].klen);
}

/* restored(): the cut keys to the task's next commit; one that is no entry
 * key (a record a window did not write) gets a tombstone, so that no frame
 * that counts holds it as a value. 0, or -1 with errstr. */
static int rewrite_cut(const restore_t *rs, char *errstr, size_t errstr_size) {
        win_task_t *t = rs->t;
        t->foreign.len = 0;
        for (size_t at = 0; at < rs->cut.len;) {
                uint32_t klen;
                const char *key = key_next(&rs->cut, &at, &klen);
                int rc = spate_winstate_rewrite(t->ws, key, klen);
                if (rc < 0) {
                        snprintf(errstr, errstr_size, "%s", spate_winstate_error(t->ws));
                        return -1;
                }
                if (rc == 1)
                        key_put(&t->foreign, key, klen);
        }
        return 0;
}

/* The rest of the task's state stays in the store: misses read it, and the
 * first commit's closing walks it (its close work is not known). */
static void spill(spate_winstate_t *ws) {
        ws->spilled = 1;
        ws->evicted_due = INT64_MIN;
}

/* The task's checkpoint into t->meta (none: the changelog from its start);
 * -1 with errstr when the store fails or it does not decode. */
static int load_meta(win_task_t *t, char *errstr, size_t errstr_size) {
        char *meta;
        size_t vl;
        int rc = spate_store_get(t->cf, SPATE_WINMETA_KEY, META_KLEN, &meta, &vl, errstr, errstr_size);
        if (rc < 0)
                return -1;
        if (rc == 0) {
                rc = spate_winmeta_decode(meta, vl, &t->meta, errstr, errstr_size);
                free(meta);
        }
        return rc < 0 ? -1 : 0;
}

/* Loads the task's meta and, group by group, as much of its column family
 * as `limit` bytes hold (the rest is read lazily: spill()); -1 with errstr
 * when it does not decode (the caller then rebuilds from the changelog
 * alone). */
static int load_local(win_task_t *t, size_t limit, char *errstr, size_t errstr_size) {
        spate_store_iter_t *it;
        const char *k, *v;
        size_t kl, vl;
        int rc;
        if (load_meta(t, errstr, errstr_size))
                return -1;
        if (spate_store_iter_new(t->cf, NULL, 0, NULL, 0, &it, errstr, errstr_size))
                return -1;
        t->walk_group.len = 0;
        while ((rc = spate_store_iter_next(it, &k, &kl, &v, &vl, errstr, errstr_size)) == 1) {
                if (kl == META_KLEN && !memcmp(k, SPATE_WINMETA_KEY, META_KLEN))
                        continue;
                if (same_group(&t->walk_group, k, kl) == 0 && t->ws->bytes > limit) {
                        spill(t->ws);
                        break;
                }
                if ((rc = spate_winstate_load(t->ws, k, kl, v, vl, errstr, errstr_size)))
                        break;
        }
        spate_store_iter_destroy(it);
        return rc < 0 ? -1 : 0;
}

/* The task's (empty) windows; -1 when out of memory. */
static int task_state_new(const win_t *w, win_task_t *t) {
        if (!(t->ws = spate_winstate_new(&w->conf)))
                return -1;
        t->ws->external_time = w->group != NULL;  /* marks move it: window_repart.c */
        t->ws->fetch = fetch_group;
        t->ws->fetch_opaque = t;
        return 0;
}

static win_task_t *task_new(win_t *w, int32_t partition) {
        win_task_t *t = calloc(1, sizeof(*t));
        if (!t || task_state_new(w, t) || !(t->batch = spate_store_batch_new())) {
                task_free(w, t);
                return NULL;
        }
        t->partition = partition;
        t->m_fetch = w->m_fetch;
        spate_winmeta_init(&t->meta);
        return t;
}

/* The first task's opening creates every partition's column family, at once
 * (spate_store_cf_part(): one at a time costs O(partitions^2)). */
static int open_cf(const win_t *w, win_task_t *t, struct spate_store *store, char *errstr, size_t errstr_size) {
        return spate_store_cf_part(store, w->store, t->partition, w->partitions, &t->cf, errstr, errstr_size);
}

/* The task's column family, whose checkpoint errstr says is unreadable,
 * emptied: the state is rebuilt from the changelog's start. */
static int rebuild_cf(const spate_node_t *n, win_task_t *t, struct spate_store *store, char *errstr,
                      size_t errstr_size) {
        const win_t *w = n->ctx;
        spate_warn("window '%s': local state of partition %d is unreadable (%s): rebuilding it from %s", n->name,
                   t->partition, errstr, w->changelog_topic);
        spate_winmeta_init(&t->meta);
        return spate_store_cf_part_reset(store, w->store, t->partition, &t->cf, errstr, errstr_size);
}

/* Starts the previous partition's step, held by restore_start() until this
 * partition's column family is open: RocksDB creates one only once the
 * writes under way are done (docs/stores.md, "The pipelined restore"). The
 * step before it is joined first (restored() gives its task to the node). -1
 * with errstr when one of them failed. */
static int restore_release(win_restorer_t *r, int64_t now, char *errstr, size_t errstr_size) {
        r->now = now;
        return spate_restore_pipe_release(r->pipe, errstr, errstr_size);
}

/* The main thread's part of a restore: the task's column family, its local
 * state, and the changelog past it read into rs and sorted. Sets everything
 * the engine and the record path need from the changelog's meta records. */
static int replay(spate_node_t *n, restore_t *rs, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        win_task_t *t = rs->t;
        struct spate_store *store = spate_ctx_store(ctx);
        int64_t end;

        if (!(rs->store = store) || open_cf(w, t, store, ctx->errstr, sizeof(ctx->errstr)) ||
            restore_release(w->restorer, now_ms(ctx), ctx->errstr, sizeof(ctx->errstr)))
                return -1;
        rs->limit = spate_topology_cache_bytes(w->topo) / (size_t)(w->partitions > 0 ? w->partitions : 1);
        if (load_local(t, rs->limit, ctx->errstr, sizeof(ctx->errstr))) {
                spate_winstate_free(t->ws);
                if (task_state_new(w, t) || rebuild_cf(n, t, store, ctx->errstr, sizeof(ctx->errstr)))
                        return -1;
        }
        rs->local = t->ws->nwindows + t->ws->nbuckets;
        rs->from = rs->closed = t->meta.changelog_next;
        end = spate_ctx_replay(ctx, w->changelog_topic, t->partition, rs->from, on_changelog, rs);
        if (end < 0) {
                if (rs->err[0])
                        snprintf(ctx->errstr, sizeof(ctx->errstr), "%s", rs->err);
                return -1;
        }
        keep_cut(n, rs);
        if (sort_restored(rs)) {
                snprintf(ctx->errstr, sizeof(ctx->errstr), "out of memory");
                return -1;
        }
        /* Until the next commit rewrites the cut keys, a restore from this
         * task's store must read the cut records again. */
        t->meta.changelog_next = rs->cut.len ? rs->closed : end;
        t->acked = end;
        t->resume_offset = t->written_offset = t->meta.next_offset;
        spate_node_count_restored(n, w->store, rs->from, end - rs->from);
        if (t->resume_offset > 0 &&
            spate_ctx_check_resume(ctx, n, w->input_topic, t->partition, t->resume_offset))
                return -1;
        rs->replayed = spate_mono_ms();
        return 0;
}

/* Group g's records: to memory? Always while the state fits (rs->limit);
 * then only when the group is in memory already (memory holds groups whole):
 * the others are left to the store half, and read from the store when
 * needed. Without entries from the store (rs->local), memory holds only the
 * groups this apply loaded, all before g in key order: no lookup needed (at
 * 8.5M keys the lookups were a tenth of the restore's CPU). */
static int memory_wants(restore_t *rs, const spate_buf_t *g) {
        spate_winstate_t *ws = rs->t->ws;
        if (!ws->spilled && ws->bytes <= rs->limit)
                return 1;
        if (!ws->spilled)
                spill(ws);
        return rs->local && spate_winstate_holds(ws, g->data, g->len);
}

/* The memory half, the pipe step's apply: the task's windows, group by
 * group (records are in key order). 0, or -1 with errstr. */
static int apply_memory(void *arg, char *errstr, size_t errstr_size) {
        restore_t *rs = arg;
        win_task_t *t = rs->t;
        rs->memory.start = spate_mono_ms();
        for (size_t i = 0, end; i < rs->ncomplete; i = end) {
                const rrec_t *p = &rs->r[i];
                same_group(&t->walk_group, rs->bytes.data + p->at, p->klen);
                for (end = i + 1; end < rs->ncomplete &&
                     same_group(&t->walk_group, rs->bytes.data + rs->r[end].at, rs->r[end].klen) == 1; end++)
                        ;
                /* same_group() moved on to the next group: this one's again */
                same_group(&t->walk_group, rs->bytes.data + p->at, p->klen);
                int want = memory_wants(rs, &t->walk_group);
                for (size_t k = i; want && k < end; k++) {
                        const rrec_t *q = &rs->r[k];
                        const char *key = rs->bytes.data + q->at, *val = q->tomb ? NULL : key + q->klen;
                        if (spate_winstate_load(t->ws, key, q->klen, val, q->vlen, errstr, errstr_size))
                                return -1;
                }
        }
        spate_winstate_advance(t->ws, t->meta.stream_time);
        t->idle_base = t->ws->stream_time;
        rs->memory.end = spate_mono_ms();
        return 0;
}

static int put_record(const restore_t *rs, spate_store_load_t *l, const rrec_t *p, char *errstr,
                      size_t errstr_size) {
        const char *key = rs->bytes.data + p->at;
        return spate_store_load_put(l, key, p->klen, p->tomb ? NULL : key + p->klen, p->vlen, errstr,
                                    errstr_size);
}

/* Restores of at least this many records (keys, after the last write of each)
 * write an SST file and ingest it (spate_store_load_new) rather than a batch:
 * at 10M keys in 128 partitions the batches' write-ahead log, memtable inserts
 * and flushes (then compactions) grew with the state: 10M keys took 15-17 s
 * of CPU with batches, 9.6-10.4 s with files (bench/winstore_restore.sh,
 * with the other changes of that commit). Below it, a small tail after the
 * local state, a file's creation, syncs and ingestion are assumed to cost
 * more than the batch (not measured finely). */
#define LOAD_MIN_RECORDS 1024

/* Key order of the meta key against a record's. */
static int before_meta(const restore_t *rs, const rrec_t *p) {
        size_t n = p->klen < META_KLEN ? p->klen : META_KLEN;
        int c = memcmp(rs->bytes.data + p->at, SPATE_WINMETA_KEY, n);
        return c ? c < 0 : p->klen < META_KLEN;
}

/* apply_store() for a large restore: the records (in key order) and the meta
 * at its place among them, as one SST file ingested at once - as atomic as
 * the batch, without its write-ahead log, memtable inserts and flush. */
static int load_store(restore_t *rs, char *err, size_t en) {
        win_task_t *t = rs->t;
        spate_store_load_t *l;
        size_t i = 0;
        int rc = spate_store_load_new(t->cf, &l, err, en);
        rs->meta.len = 0;
        spate_winmeta_encode(&t->meta, &rs->meta);
        for (; !rc && i < rs->ncomplete && before_meta(rs, &rs->r[i]); i++)
                rc = put_record(rs, l, &rs->r[i], err, en);
        if (!rc)
                rc = spate_store_load_put(l, SPATE_WINMETA_KEY, META_KLEN, rs->meta.data, rs->meta.len,
                                          err, en);
        for (; !rc && i < rs->ncomplete; i++)
                rc = put_record(rs, l, &rs->r[i], err, en);
        if (!rc)
                rc = spate_store_load_commit(l, err, en);
        spate_store_load_destroy(l);
        return rc ? -1 : 0;
}

/* The store half: the records with the meta as one atomic write to the
 * task's column family (RocksDB is thread-safe). It reads the meta, which
 * nothing changes until the join. It does not wait for the memory half: if
 * that fails, the store still holds what the changelog holds up to that meta,
 * which the next restore loads (or, if it does not decode, rebuilds from the
 * changelog). 0, or -1 with errstr (a failed batch is dropped, not left to a
 * later write). */
static int apply_store(restore_t *rs, char *errstr, size_t errstr_size) {
        win_task_t *t = rs->t;
        if (rs->ncomplete >= LOAD_MIN_RECORDS)
                return load_store(rs, errstr, errstr_size);
        for (size_t i = 0; i < rs->ncomplete; i++) {
                const rrec_t *p = &rs->r[i];
                const char *key = rs->bytes.data + p->at;
                if (p->tomb)
                        spate_store_batch_delete(rs->batch, t->cf, key, p->klen);
                else
                        spate_store_batch_put(rs->batch, t->cf, key, p->klen, key + p->klen, p->vlen);
        }
        if (!write_batch(rs->batch, t, rs->store, &rs->meta, errstr, errstr_size))
                return 0;
        spate_store_batch_clear(rs->batch);
        return -1;
}

/* The store half, the pipe step's beside. */
static int store_half(void *arg, char *errstr, size_t errstr_size) {
        restore_t *rs = arg;
        int rc;
        rs->stored.start = spate_mono_ms();
        rc = apply_store(rs, errstr, errstr_size);
        rs->stored.end = spate_mono_ms();
        return rc;
}

static void restore_log(const restore_t *rs, int64_t done) {
        const win_task_t *t = rs->t;
        int64_t start = rs->memory.start < rs->stored.start ? rs->memory.start : rs->stored.start;
        /* The partition's own work, without the wait for the previous apply. */
        double secs = (double)(rs->replayed - rs->t0 + done - start) / 1000.0;
        spate_info("window '%s' partition %d restored: %llu entries from the store, %llu changelog "
                   "records applied (%llu ignored) in %.3f s (%.0f records/s); %llu windows, input "
                   "resumes at offset %lld; the local copy%s reflected the changelog up to offset %lld, "
                   "%lld records read past it", rs->node, t->partition, (unsigned long long)rs->local,
                   (unsigned long long)rs->applied, (unsigned long long)rs->ignored, secs,
                   secs > 0 ? (double)rs->applied / secs : 0.0, (unsigned long long)t->ws->nwindows,
                   (long long)t->resume_offset, rs->warm ? ", kept warm by a standby," : "",
                   (long long)rs->from, (long long)(t->meta.changelog_next - rs->from));
}

/* The pipe step's done, on the main thread: hands the task to the node
 * (w->tasks never holds a task a thread still owns). Its idle time counts
 * from the joining call's clock (close_after_idle), as it did from the end
 * of a serial restore. When the apply failed (rc -1, errstr its error), the
 * task is dropped, as after a failed restore. */
static int restored(void *arg, int rc, char *errstr, size_t errstr_size) {
        restore_t *rs = arg;
        win_t *w = rs->w;
        win_restorer_t *r = w->restorer;
        win_task_t *t = rs->t;
        if (!rc)
                rc = rewrite_cut(rs, errstr, errstr_size);
        if (rc) {
                char cause[512];
                snprintf(cause, sizeof(cause), "%s", errstr);
                snprintf(errstr, errstr_size, "restore of partition %d: %s", t->partition, cause);
                rs->t = NULL;
                task_free(w, t);
                return -1;
        }
        int64_t done = rs->memory.end > rs->stored.end ? rs->memory.end : rs->stored.end;
        restore_log(rs, done);
        rs->t = NULL;
        t->idle_since = r->now;
        w->tasks[t->partition] = t;
        /* Restored entries are clean. */
        spate_winstate_evict(t->ws, task_limit(w));
        t->logged_spill = t->ws->spilled;
        r->records += rs->applied;
        r->partitions++;
        r->t1 = done;
        return 0;
}

/* Hands rs to the pipe, held until the next partition's column family is
 * open (restore_release()) or the join: the memory half applies beside the
 * store half. 0; or -1 with errstr when the previous step failed, and rs is
 * then not started. */
static int restore_start(win_restorer_t *r, restore_t *rs, char *errstr, size_t errstr_size) {
        if (spate_restore_pipe_hold(r->pipe, &(spate_restore_step_t){ apply_memory, restored, rs, store_half },
                                    errstr, errstr_size))
                return -1;
        r->fill = (r->fill + 1) % NRESTORES;
        return 0;
}

/* Waits for the step under way, if any, and runs its done (restored()). -1
 * with errstr when it failed. */
static int restore_join(win_t *w, int64_t now, char *errstr, size_t errstr_size) {
        win_restorer_t *r = w->restorer;
        if (!r)
                return 0;
        r->now = now;
        return spate_restore_pipe_join(r->pipe, errstr, errstr_size);
}

/* A step held or under way is of this partition: it owns the column family. */
static int applying(const win_t *w, int32_t partition) {
        const win_restorer_t *r = w->restorer;
        for (int i = 0; r && i < NRESTORES; i++)
                if (i != r->fill && r->rs[i].t && r->rs[i].t->partition == partition)
                        return 1;
        return 0;
}

static void restore_bufs_free(restore_t *rs) {
        spate_buf_free(&rs->bytes);
        spate_buf_free(&rs->sorted);
        spate_buf_free(&rs->meta);
        spate_buf_free(&rs->cut);
        spate_store_batch_destroy(rs->batch);
        free(rs->r);
        free(rs->tmp);
}

static void restorer_free(win_t *w) {
        win_restorer_t *r = w->restorer;
        if (!r)
                return;
        spate_restore_pipe_free(r->pipe);  /* a step under way is dropped: its done frees its task */
        for (int i = 0; i < NRESTORES; i++)
                restore_bufs_free(&r->rs[i]);
        free(r);
        w->restorer = NULL;
}

/* Revocation or destruction: nothing may be left running, and a failed
 * apply's task is going anyway (its changelog stays the truth). */
static void restores_drop(spate_node_t *n) {
        win_t *w = n->ctx;
        char err[512];
        if (restore_join(w, spate_now_ms(), err, sizeof(err)))
                spate_warn("window '%s': %s", n->name, err);
        restorer_free(w);
}

/* CPU seconds (user and system) of the whole process so far: the restore's
 * threads and librdkafka's and RocksDB's. On a shared machine the wall time
 * says how loaded it was; this says what the restore cost. */
static double cpu_secs(void) {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru))
                return 0;
        return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* A restore_t for the next partition, its buffers kept. */
static restore_t *restore_next(spate_node_t *n, win_task_t *t) {
        win_t *w = n->ctx;
        win_restorer_t *r = w->restorer;
        restore_t *rs;
        if (!r) {
                if (!(r = w->restorer = calloc(1, sizeof(*r))))
                        return NULL;
                r->pipe = spate_restore_pipe_new("restore:window");
                r->t0 = spate_mono_ms();
                r->cpu0 = cpu_secs();
        }
        rs = &r->rs[r->fill];
        if (!rs->batch && !(rs->batch = spate_store_batch_new()))
                return NULL;
        rs->bytes.len = rs->nr = rs->ncomplete = 0;
        rs->local = rs->applied = rs->ignored = 0;
        rs->warm = 0;
        rs->memory = rs->stored = (span_t){ 0 };
        rs->err[0] = '\0';
        rs->w = w;
        rs->t = t;
        rs->node = n->name;
        rs->t0 = spate_mono_ms();
        return rs;
}

/* --- standbys (node_state.h: standbys; docs/stores.md, "Standbys") --- */

/* A warm copy of a task owned elsewhere, in the task's column family, kept
 * by the restore's own code: the standby consumer's records are staged in rs
 * as a restore's replay stages them (on_changelog(): a commit's records until
 * its meta record completes them, filtered by the skip ranges of earlier
 * versions' metas), and
 * each write applies the completed ones as a restore's store half does
 * (sort_restored(), apply_store()): one atomic write of their last versions
 * with the meta naming the changelog offset past that meta record. Records
 * of a commit not complete yet stay staged and never reach the store, so the
 * column family is always one commit's state with its checkpoint: what a
 * restore started from it reads on from, as from a checkpoint of its own. */
typedef struct win_standby {
        restore_t rs;
        win_task_t t;                   /* partition, cf and meta: what the store half reads */
        int64_t opened, next, written;  /* changelog offsets: its start, the next record, its
                                         * last write */
        rrec_t *tail;                   /* a write's copy of the records it keeps staged */
        size_t tailcap;
        spate_buf_t tailbytes;
} win_standby_t;

static void standby_free(win_standby_t *sb) {
        if (!sb)
                return;
        restore_bufs_free(&sb->rs);
        free(sb->tail);
        spate_buf_free(&sb->tailbytes);
        free(sb);
}

/* Copies the staged records past the last meta record (a commit not complete
 * yet) aside: the write's sort reorders rs. -1 when out of memory. */
static int keep_tail(win_standby_t *sb, size_t n) {
        restore_t *rs = &sb->rs;
        if (sb->tailcap < n) {
                rrec_t *tail = realloc(sb->tail, n * sizeof(*tail));
                if (!tail)
                        return -1;
                sb->tail = tail;
                sb->tailcap = n;
        }
        sb->tailbytes.len = 0;
        for (size_t i = 0; i < n; i++) {
                const rrec_t *p = &rs->r[rs->ncomplete + i];
                sb->tail[i] = *p;
                sb->tail[i].at = sb->tailbytes.len;
                spate_buf_put(&sb->tailbytes, rs->bytes.data + p->at, p->klen + (p->tomb ? 0 : p->vlen));
        }
        return 0;
}

/* Writes the commits completed since the last write (node_state.h: standby_write);
 * the records of the commit under way stay staged. 0, or -1 with errstr. */
static int standby_flush(win_standby_t *sb, char *errstr, size_t errstr_size) {
        restore_t *rs = &sb->rs;
        size_t ntail = rs->nr - rs->ncomplete;
        int rc = 0;
        if (rs->closed == sb->written)
                return 0;
        rs->nr = rs->ncomplete;
        if (keep_tail(sb, ntail) || sort_restored(rs)) {
                snprintf(errstr, errstr_size, "out of memory");
                rc = -1;
        } else {
                char cause[512];
                sb->t.meta.changelog_next = rs->closed;
                if ((rc = apply_store(rs, cause, sizeof(cause))))
                        snprintf(errstr, errstr_size, "standby of partition %d: %s", sb->t.partition, cause);
        }
        rs->bytes.len = rs->nr = rs->ncomplete = 0;
        for (size_t i = 0; !rc && i < ntail; i++) {
                const rrec_t *p = &sb->tail[i];
                const char *key = sb->tailbytes.data + p->at;
                if (stage(rs, key, p->klen, p->tomb ? NULL : key + p->klen, p->vlen, p->offset)) {
                        snprintf(errstr, errstr_size, "out of memory");
                        rc = -1;
                }
        }
        if (!rc)
                sb->written = rs->closed;
        return rc;
}

/* Task p's standby, from its column family's checkpoint (none, or one that
 * does not decode: the changelog's start). NULL with errstr. */
static win_standby_t *standby_new(const spate_node_t *n, int32_t p, spate_ctx_t *ctx) {
        const win_t *w = n->ctx;
        struct spate_store *store = spate_ctx_store(ctx);
        char *err = ctx->errstr;
        size_t en = sizeof(ctx->errstr);
        win_standby_t *sb;
        if (!store)
                return NULL;
        if (!(sb = calloc(1, sizeof(*sb))) || !(sb->rs.batch = spate_store_batch_new())) {
                free(sb);
                snprintf(err, en, "out of memory");
                return NULL;
        }
        sb->t.partition = p;
        spate_winmeta_init(&sb->t.meta);
        sb->rs.t = &sb->t;
        sb->rs.store = store;
        sb->rs.node = n->name;
        if (open_cf(w, &sb->t, store, err, en) ||
            (load_meta(&sb->t, err, en) && rebuild_cf(n, &sb->t, store, err, en))) {
                standby_free(sb);
                return NULL;
        }
        sb->opened = sb->next = sb->written = sb->rs.closed = sb->t.meta.changelog_next;
        return sb;
}

/* The task becomes this instance's, or is no longer followed: the standby's
 * complete commits are written and it stops; a restore then reads only what
 * follows them (the records of a commit it held without its meta record are
 * read again). *warm: the standby advanced the copy. */
static int standby_stop(win_t *w, int32_t p, char *errstr, size_t errstr_size, int *warm) {
        win_standby_t *sb = w->standbys && p >= 0 && p < w->partitions ? w->standbys[p] : NULL;
        int rc;
        *warm = 0;
        if (!sb)
                return 0;
        rc = standby_flush(sb, errstr, errstr_size);
        *warm = sb->written > sb->opened;
        standby_free(sb);
        w->standbys[p] = NULL;
        return rc;
}

/* A group_by window's tasks are partitions of its repartition topic, whose
 * owners the committer tags do not name: want() then follows them on every
 * instance (docs/stores.md, "Standbys"). */
int win_standbys(spate_node_t *n, spate_ctx_t *ctx, spate_standby_want_cb want, spate_standby_follow_cb follow,
                 void *opaque) {
        win_t *w = n->ctx;
        int warm;
        if (!w->standbys && !(w->standbys = calloc((size_t)w->partitions, sizeof(*w->standbys)))) {
                snprintf(ctx->errstr, sizeof(ctx->errstr), "out of memory");
                return -1;
        }
        for (int32_t p = 0; p < w->partitions; p++) {
                if (win_task_get(w, p) || applying(w, p))
                        continue;
                if (!want(opaque, w->input_topic, p, w->partitions)) {
                        if (standby_stop(w, p, ctx->errstr, sizeof(ctx->errstr), &warm))
                                return -1;
                        continue;
                }
                if (!w->standbys[p] && !(w->standbys[p] = standby_new(n, p, ctx)))
                        return -1;
                follow(opaque, w->changelog_topic, p, w->standbys[p]->next);
        }
        return 0;
}

int win_standby_apply(spate_node_t *n, const char *topic, int32_t partition, const void *key, size_t klen,
                      const void *val, size_t vlen, int64_t offset, char *errstr, size_t errstr_size) {
        win_t *w = n->ctx;
        win_standby_t *sb;
        if (strcmp(topic, w->changelog_topic))
                return 1;
        sb = w->standbys && partition >= 0 && partition < w->partitions ? w->standbys[partition] : NULL;
        /* A task owned meanwhile, or a record fetched before a reassignment. */
        if (!sb || offset < sb->next)
                return 0;
        if (on_changelog(&sb->rs, key, klen, val, vlen, offset)) {
                snprintf(errstr, errstr_size, "standby of %s[%d]: %s; not following it until the next "
                         "rebalance", topic, partition, sb->rs.err);
                standby_free(sb);
                w->standbys[partition] = NULL;
                return -1;
        }
        sb->next = offset + 1;
        return 0;
}

int win_standby_write(spate_node_t *n, char *errstr, size_t errstr_size) {
        win_t *w = n->ctx;
        for (int p = 0; w->standbys && p < w->partitions; p++)
                if (w->standbys[p] && standby_flush(w->standbys[p], errstr, errstr_size))
                        return -1;
        return 0;
}

static int tasks_reserve(win_t *w, int32_t partition) {
        if (partition < w->ntasks)
                return 0;
        win_task_t **tasks = realloc(w->tasks, (size_t)(partition + 1) * sizeof(*tasks));
        if (!tasks)
                return -1;
        memset(tasks + w->ntasks, 0, (size_t)(partition + 1 - w->ntasks) * sizeof(*tasks));
        w->tasks = tasks;
        w->ntasks = partition + 1;
        return 0;
}

/* Replays the partition's changelog here while the previous partition is
 * applied (started once this one's column family is open), then holds this
 * one's apply. The task enters w->tasks when it is joined: by the assign
 * after next or by win_assigned(). */
int win_assign(spate_node_t *n, const char *topic, int32_t partition, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        win_task_t *t;
        restore_t *rs;
        char err[512];
        int warm;
        if (strcmp(topic, w->input_topic))
                return 0;
        set_commit_above(w);
        if (tasks_reserve(w, partition)) {
                snprintf(ctx->errstr, sizeof(ctx->errstr), "out of memory");
                return -1;
        }
        if (applying(w, partition) && restore_join(w, now_ms(ctx), ctx->errstr, sizeof(ctx->errstr)))
                return -1;
        if (standby_stop(w, partition, ctx->errstr, sizeof(ctx->errstr), &warm))
                return -1;
        task_free(w, w->tasks[partition]);
        w->tasks[partition] = NULL;
        if (!(t = task_new(w, partition)) || !(rs = restore_next(n, t))) {
                task_free(w, t);
                snprintf(ctx->errstr, sizeof(ctx->errstr), "out of memory");
                return -1;
        }
        rs->warm = warm;
        if (replay(n, rs, ctx)) {
                rs->t = NULL;
                task_free(w, t);
                if (restore_join(w, now_ms(ctx), err, sizeof(err)))
                        spate_err("window '%s': %s", n->name, err);
                return -1;
        }
        if (restore_start(w->restorer, rs, ctx->errstr, sizeof(ctx->errstr))) {
                rs->t = NULL;
                task_free(w, t);
                return -1;
        }
        return 0;
}

int win_assigned(spate_node_t *n, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        win_restorer_t *r = w->restorer;
        int rc;
        if (!r)
                return 0;
        rc = restore_join(w, now_ms(ctx), ctx->errstr, sizeof(ctx->errstr));
        if (!rc && r->partitions) {
                double secs = (double)(r->t1 - r->t0) / 1000.0, cpu = cpu_secs() - r->cpu0;
                spate_info("window '%s' restored %d partitions: %llu changelog records applied in "
                           "%.3f s (%.0f records/s), from the first restore's start to the last "
                           "apply's end; %.3f s of CPU (%.0f records per CPU second)", n->name,
                           r->partitions, (unsigned long long)r->records, secs,
                           secs > 0 ? (double)r->records / secs : 0.0, cpu,
                           cpu > 0 ? (double)r->records / cpu : 0.0);
        }
        restorer_free(w);
        return rc;
}

void win_revoke(spate_node_t *n, const char *topic, int32_t partition, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        (void)ctx;
        restores_drop(n);
        if (strcmp(topic, w->input_topic) || partition >= w->ntasks)
                return;
        task_free(w, w->tasks[partition]);
        w->tasks[partition] = NULL;
}

void win_tasks_free(spate_node_t *n) {
        win_t *w = n->ctx;
        restores_drop(n);
        for (int i = 0; i < w->ntasks; i++)
                task_free(w, w->tasks[i]);
        for (int p = 0; w->standbys && p < w->partitions; p++)
                standby_free(w->standbys[p]);
        free(w->standbys);
        w->standbys = NULL;
        free(w->tasks);
        w->tasks = NULL;
        w->ntasks = 0;
}
