/* window_task.c - the `window` node's tasks: its groups of windows in memory
 * over the engine's store of their entries (state/kv.h, uncached: the groups
 * are the store's cache), the commit (each changed entry handed to the
 * store, the outputs), closing on punctuate, and each task made from what
 * the store restored.
 *
 * Exactness rests on the store's invariant (docs/stores.md,
 * docs/exactness.md): a task's state - in RocksDB, and in the changelog up
 * to a meta record - is one commit's snapshot: every window and, in the
 * frame's meta, the input offset it reflects, the stream time and the
 * window's own meta (spate_winmeta_t: for repartitioned input the highest
 * upstream offset applied per upstream partition, and its marks). The store
 * writes the entries the window hands it at flush to the changelog and its
 * batch, seals the frame once the outputs are durable (exactness.md §1),
 * writes the batch as a checkpoint, restores a task from RocksDB and the
 * changelog past it, and writes the keys of a frame a crash cut again. Then
 * after any crash, input records below the restored offset are skipped, the
 * stream time is the snapshot's (so lateness decisions replay identically),
 * and records an upstream task wrote again after its own crash are
 * recognised by their upstream offset. Outputs are full values keyed by
 * window, so writing one again is harmless. A restore emits nothing; the
 * task then loads its windows while its share of memory holds them
 * (window_warm.c, beside the restore of the rebalance's next task),
 * and past it a group is read on its first record, and windows due to close
 * by a walk of the store (close_evicted()). */
#include "window_int.h"
#include "../../util/log.h"
#include "../../util/util.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

win_task_t *win_task_get(win_t *w, int32_t partition) {
        return partition >= 0 && partition < w->ntasks ? w->tasks[partition] : NULL;
}

static void task_free(const win_t *w, win_task_t *t) {
        (void)w;
        if (!t)
                return;
        spate_buf_free(&t->walk_from);
        spate_winstate_free(t->ws);
        free(t);
}

static int64_t now_ms(spate_ctx_t *ctx) {
        return ctx->now_ms ? ctx->now_ms : spate_now_ms();
}

/* The window's own commit steps (its emission); the store has the others.
 * w->crash_at: SPATE_CRASH_AT is set, read once (mid_outputs is per output). */
static void crash_point(const win_t *w, const char *step) {
        if (w->crash_at)
                spate_crash_point(step);
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
        if (w->crash_at) {
                spate_crash_output();
                spate_crash_point("mid_outputs");
        }
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
        spate_kv_iter_t *it;
        const char *k, *v;
        size_t kl, vl;
        int rc;
        if (spate_kv_iter(t->kv, lo, lolen, hi, hilen, &it, errstr, errstr_size))
                return -1;
        while ((rc = spate_kv_iter_next(it, &k, &kl, &v, &vl, errstr, errstr_size)) == 1)
                if (spate_winstate_load(t->ws, k, kl, v, vl, errstr, errstr_size))
                        break;
        spate_kv_iter_destroy(it);
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

int win_walk_open(win_walk_t *wk, win_task_t *t, const char *from, size_t fromlen, char *errstr,
                  size_t errstr_size) {
        *wk = (win_walk_t){ 0 };
        return spate_kv_iter(t->kv, from, fromlen, NULL, 0, &wk->it, errstr, errstr_size);
}

int win_walk_next(win_walk_t *wk, char *errstr, size_t errstr_size) {
        const char *group;
        size_t glen;
        int bucket, rc = spate_kv_iter_next(wk->it, &wk->k, &wk->kl, &wk->v, &wk->vl, errstr, errstr_size);
        int64_t start;
        if (rc != 1)
                return rc;
        if (spate_went_key_decode(wk->k, wk->kl, &group, &glen, &bucket, &start)) {
                wk->kind = -1;
                return 1;
        }
        /* started: the first group is new even when it is "" (which the empty
         * buffer equals). */
        wk->kind = !wk->started || glen != wk->group.len || (glen && memcmp(group, wk->group.data, glen));
        wk->started = 1;
        if (wk->kind) {
                spate_buf_t prev = wk->prev;
                wk->prev = wk->group;
                wk->group = prev;
                spate_buf_set(&wk->group, group, glen);
        }
        return 1;
}

void win_walk_close(win_walk_t *wk) {
        spate_kv_iter_destroy(wk->it);
        spate_buf_free(&wk->group);
        spate_buf_free(&wk->prev);
}

/* Visits the group of each key in the task's store (a group once per run of
 * its entries); 0, or -1 with errstr. */
static int each_stored_group(win_task_t *t, void (*cb)(win_task_t *t, const char *g, size_t glen, void *opaque),
                             void *opaque, char *errstr, size_t errstr_size) {
        win_walk_t wk;
        int rc;
        if (win_walk_open(&wk, t, NULL, 0, errstr, errstr_size))
                return -1;
        while ((rc = win_walk_next(&wk, errstr, errstr_size)) == 1)
                if (wk.kind == 1)
                        cb(t, wk.group.data, wk.group.len, opaque);
        win_walk_close(&wk);
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

/* Group g, whose entries the walk loaded (*loaded) or found in memory, ends:
 * it is closed (and stays, dirty, until the commit writes it) or evicted
 * again. -1 with errstr when out of memory. */
static int walk_settle(win_task_t *t, const spate_buf_t *g, int *loaded, char *errstr, size_t errstr_size) {
        int rc = *loaded ? spate_winstate_settle(t->ws, g->data, g->len) : 0;
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
        win_walk_t wk;
        size_t limit = task_limit(w);
        int loaded = 0, groups = 0, rc;
        if (!t->closing_evicted) {
                if (!ws->spilled || ws->evicted_due == INT64_MAX || ws->stream_time < ws->evicted_due)
                        return 0;
                t->closing_evicted = 1;
                t->walk_from.len = 0;
                ws->evicted_due = INT64_MAX;
        }
        if (win_walk_open(&wk, t, t->walk_from.len ? t->walk_from.data : NULL, t->walk_from.len, errstr,
                          errstr_size))
                return -1;
        while ((rc = win_walk_next(&wk, errstr, errstr_size)) == 1) {
                if (wk.kind < 0)
                        continue;  /* no entry of a window's (not written by one) */
                if (wk.kind == 1) {
                        if (walk_settle(t, &wk.prev, &loaded, errstr, errstr_size)) {
                                rc = -1;
                                break;
                        }
                        if (++groups > WALK_MAX_GROUPS || (groups > WALK_MIN_GROUPS && ws->bytes > limit)) {
                                /* Goes on from this group at the next commit. */
                                spate_buf_set(&t->walk_from, wk.k, SPATE_WINKEY_SIZE(wk.group.len));
                                win_walk_close(&wk);
                                return 0;
                        }
                        loaded = !spate_winstate_holds(ws, wk.group.data, wk.group.len);
                }
                if (loaded && spate_winstate_load_walk(ws, wk.k, wk.kl, wk.v, wk.vl, wk.kind, errstr, errstr_size)) {
                        rc = -1;
                        break;
                }
        }
        if (rc == 0 && walk_settle(t, &wk.group, &loaded, errstr, errstr_size))
                rc = -1;
        win_walk_close(&wk);
        t->closing_evicted = rc != 0;
        return rc ? -1 : 0;
}

/* --- commit --- */

typedef struct {
        spate_node_t *n;
        win_task_t *t;
        spate_ctx_t *ctx;
} walk_t;

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
        return spate_kv_write(k->t->kv, key, klen, w->buf.data, w->buf.len);
}

static int emit_entry(void *opaque, const spate_wgroup_t *g, int bucket, spate_went_t *e) {
        walk_t *k = opaque;
        if (bucket || !e->emit)
                return 0;
        return emit(k->n, g->key, g->klen, e, e->start, k->ctx);
}

static void log_revisions(const spate_node_t *n, win_task_t *t) {
        const win_t *w = n->ctx;
        const spate_winstate_t *ws = t->ws;
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
}

/* The task's meta in its store's next frame: the input offset, the stream
 * time and the window's own (winmeta: upstream offsets and marks). */
static void set_store_meta(win_t *w, win_task_t *t) {
        spate_kv_set_next_offset(t->kv, t->meta.next_offset);
        spate_kv_set_stream_time(t->kv, t->meta.stream_time);
        w->buf.len = 0;
        spate_winmeta_encode(&t->meta, &w->buf);
        spate_kv_set_meta(t->kv, w->buf.data, w->buf.len);
}

/* The commit's changes to the store (which frames them: node_state.h, the
 * store's provider flushes after this one), then the outputs. */
static int flush_task(spate_node_t *n, win_task_t *t, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        spate_winstate_t *ws = t->ws;
        walk_t k = { n, t, ctx };
        char err[512];

        spate_winstate_close(ws);
        if (close_evicted(w, t, err, sizeof(err))) {
                snprintf(ctx->errstr, sizeof(ctx->errstr), "partition %d: reading its windows from its store: %s",
                         t->partition, err);
                return -1;
        }
        log_revisions(n, t);
        if (!ws->ndirty && !ws->ndel && t->meta.next_offset == t->written_offset &&
            t->meta.stream_time == ws->stream_time)
                return 0;
        t->meta.stream_time = ws->stream_time;
        if (!(t->kv = spate_kv_node_task(n, w->store, t->partition, ctx))) {
                snprintf(ctx->errstr, sizeof(ctx->errstr), "window '%s': no store for partition %d", n->name,
                         t->partition);
                return -1;
        }
        /* Tombstones first: a session key deleted and written again in one
         * commit ends up written, in the changelog as in the store. */
        for (int i = 0; i < ws->ndel; i++) {
                const spate_wdel_t *d = &ws->del[i];
                char key[SPATE_WENT_KEY_MAX(d->glen)];
                size_t klen = spate_went_key(d->group, d->glen, d->bucket, d->start, key);
                if (spate_kv_write(t->kv, key, klen, NULL, 0))
                        return -1;
        }
        if (spate_winstate_each_dirty(ws, put_entry, &k))
                return -1;
        set_store_meta(w, t);
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

/* After the store's checkpoint (this hook's provider is attached after the
 * store's): the entries the commit wrote are in RocksDB, so the task's groups
 * are clean, and those over its share of memory may leave. Evicting before
 * would drop groups whose batch is not yet written. */
int win_checkpoint(spate_node_t *n, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        (void)ctx;
        w->settled = 0;
        for (int i = 0; i < w->ntasks; i++) {
                win_task_t *t = w->tasks[i];
                if (t && t->committing) {
                        spate_winstate_clean(t->ws);
                        evict(n, t);
                        t->committing = 0;
                }
                w->settled += t ? t->ws->bytes : 0;
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
        for (int i = 0; i < w->ntasks; i++) {
                const win_task_t *t = w->tasks[i];
                if (t && (t->ws->stream_time != SPATE_WINDOW_END_OF_STREAM || t->ws->ndirty || t->ws->ndel ||
                          t->committing || t->closing_evicted ||
                          (t->ws->spilled && t->ws->evicted_due != INT64_MAX)))
                        return 0;
        }
        return 1;
}

/* --- tasks, made from the store's restore --- */

/* The rest of the task's state stays in the store: misses read it, and the
 * first commit's closing walks it (its close work is not known). */
static void spill(spate_winstate_t *ws) {
        ws->spilled = 1;
        ws->evicted_due = INT64_MIN;
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
        if (!t || task_state_new(w, t)) {
                task_free(w, t);
                return NULL;
        }
        t->partition = partition;
        t->m_fetch = w->m_fetch;
        spate_winmeta_init(&t->meta);
        return t;
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

/* A task (partition p) whose store was just restored: the frame's input
 * offset and window meta, nothing in memory yet (window_warm.c loads it).
 * NULL with ctx->errstr. */
static win_task_t *task_restored(spate_node_t *n, spate_kv_t *kv, int32_t p, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        win_task_t *t;
        size_t len;
        const void *meta = spate_kv_meta(kv, &len);
        char err[512];
        if (tasks_reserve(w, p) || !(t = task_new(w, p))) {
                snprintf(ctx->errstr, sizeof(ctx->errstr), "out of memory");
                return NULL;
        }
        t->kv = kv;
        if (len && spate_winmeta_decode(meta, len, &t->meta, err, sizeof(err))) {
                snprintf(ctx->errstr, sizeof(ctx->errstr), "window '%s' partition %d: %s", n->name, p, err);
                task_free(w, t);
                return NULL;
        }
        t->meta.next_offset = spate_kv_next_offset(kv);
        t->meta.stream_time = spate_kv_stream_time(kv);
        t->resume_offset = t->written_offset = t->meta.next_offset;
        t->idle_since = now_ms(ctx);
        w->tasks[p] = t;
        return t;
}

/* A task's windows are loaded (window_warm.c; all: every one of them): the
 * rest stays in RocksDB, read when a record or the closing walk needs it,
 * with the Bloom filter of the groups there the load built (else each new
 * group would read RocksDB in vain; built here if the load could not). */
static void warmed(spate_node_t *n, win_task_t *t, int all) {
        spate_winstate_advance(t->ws, t->meta.stream_time);
        t->idle_base = t->ws->stream_time;
        if (!all) {
                spill(t->ws);
                if (!t->ws->bloom_ok)
                        bloom_rebuild(n, t);
                t->logged_spill = 1;
        }
        spate_info("window '%s' partition %d restored: %llu windows in memory%s; input resumes at offset %lld",
                   n->name, t->partition, (unsigned long long)(t->ws->nwindows + t->ws->nbuckets),
                   all ? "" : ", the rest in its store (read when needed)", (long long)t->resume_offset);
}

/* Each task the store restored and the window has not yet is made, and its
 * windows start loading beside the restore of the next (window_warm.c),
 * while the node's share of memory split over the partitions holds them
 * (as many as records would read). 0, or -1 with ctx->errstr. */
static int take_restored(spate_node_t *n, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        size_t limit = spate_topology_cache_bytes(w->topo) / (size_t)(w->partitions > 0 ? w->partitions : 1);
        for (int32_t p = 0; p < w->partitions; p++) {
                spate_kv_t *kv;
                win_task_t *t;
                if (win_task_get(w, p) || !(kv = spate_kv_node_task(n, w->store, p, ctx)))
                        continue;
                if (!(t = task_restored(n, kv, p, ctx)))
                        return -1;
                if (win_warm_add(w, t, limit)) {
                        snprintf(ctx->errstr, sizeof(ctx->errstr), "out of memory");
                        return -1;
                }
        }
        return 0;
}

/* The store's provider (attached before this one) is restoring the
 * partition, and the restores before it are done: their tasks are made and
 * start loading (take_restored()). A task held from an earlier assignment
 * goes, its store gone with it (the loads under way end first: one may be
 * its). */
int win_assign(spate_node_t *n, const char *topic, int32_t partition, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        if (strcmp(topic, w->input_topic))
                return 0;
        set_commit_above(w);
        if (win_task_get(w, partition)) {
                if (win_warm_finish(n, warmed, ctx))
                        return -1;
                task_free(w, w->tasks[partition]);
                w->tasks[partition] = NULL;
        }
        return take_restored(n, ctx);
}

/* Every restore of the rebalance is joined (the store's assigned() ran
 * first): the last tasks are made, and every load ends. */
int win_assigned(spate_node_t *n, spate_ctx_t *ctx) {
        int rc = take_restored(n, ctx) || win_warm_finish(n, warmed, ctx) ? -1 : 0;
        set_commit_above(n->ctx);
        return rc;
}

void win_revoke(spate_node_t *n, const char *topic, int32_t partition, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        (void)ctx;
        if (strcmp(topic, w->input_topic) || partition >= w->ntasks)
                return;
        task_free(w, w->tasks[partition]);
        w->tasks[partition] = NULL;
}

void win_tasks_free(spate_node_t *n) {
        win_t *w = n->ctx;
        win_warm_free(w);
        for (int i = 0; i < w->ntasks; i++)
                task_free(w, w->tasks[i]);
        free(w->tasks);
        w->tasks = NULL;
        w->ntasks = 0;
}
