/* winstate.c - one task's windows in memory: record assignment for the four
 * window types, sliding buckets, session merges, closing, expiry and the
 * bookkeeping of what a commit must write and emit (see winstate.h). */
#include "winstate.h"
#include "../../util/bloom.h"
#include "../../util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HOPS SPATE_WINSTATE_MAX_HOPS

/* One per live window: the fill fields sit in what was padding. */
_Static_assert(sizeof(spate_went_t) <= 40, "spate_went_t grew");

/* What malloc adds to each block, for the estimate of ws->bytes. */
#define MALLOC_OVERHEAD 16

/* An entry's states, as counted in ws->bytes (their fixed part: strings and
 * count_distinct's slots are left out of the estimate). */
static size_t states_bytes(const spate_winconf_t *conf) {
        return (size_t)(conf->nfns > 0 ? conf->nfns : 1) * sizeof(spate_agg_state_t) + MALLOC_OVERHEAD;
}

static size_t group_bytes(const spate_winconf_t *conf, const spate_wgroup_t *g) {
        return sizeof(*g) + g->klen + MALLOC_OVERHEAD +
               (size_t)(g->capwin + g->capbkt) * sizeof(spate_went_t) + (g->capwin ? MALLOC_OVERHEAD : 0) +
               (g->capbkt ? MALLOC_OVERHEAD : 0) + (size_t)(g->nwin + g->nbkt) * states_bytes(conf);
}

spate_winstate_t *spate_winstate_new(const spate_winconf_t *conf) {
        spate_winstate_t *ws = calloc(1, sizeof(*ws));
        if (!ws)
                return NULL;
        ws->conf = conf;
        ws->cap = 64;
        ws->stream_time = INT64_MIN;
        ws->next_due = INT64_MAX;
        ws->fill_time = INT64_MIN;
        ws->evicted_due = INT64_MAX;
        if (!(ws->tab = calloc(ws->cap, sizeof(*ws->tab)))) {
                free(ws);
                return NULL;
        }
        ws->bytes = ws->cap * sizeof(*ws->tab);
        return ws;
}

static void group_free(const spate_winconf_t *conf, spate_wgroup_t *g) {
        for (int i = 0; i < g->nwin; i++)
                spate_agg_states_free(g->win[i].states, conf->nfns);
        for (int i = 0; i < g->nbkt; i++)
                spate_agg_states_free(g->bkt[i].states, conf->nfns);
        free(g->win);
        free(g->bkt);
        free(g);
}

static void del_clear(spate_winstate_t *ws) {
        for (int i = 0; i < ws->ndel; i++)
                free(ws->del[i].group);
        ws->ndel = 0;
}

void spate_winstate_free(spate_winstate_t *ws) {
        if (!ws)
                return;
        for (size_t i = 0; i < ws->cap; i++)
                for (spate_wgroup_t *g = ws->tab[i], *next; g; g = next) {
                        next = g->next;
                        group_free(ws->conf, g);
                }
        del_clear(ws);
        for (size_t i = 0; i < ws->idcap; i++)
                for (spate_wids_t *w = ws->idtab[i], *next; w; w = next) {
                        next = w->next;
                        spate_wids_free(w);
                }
        free(ws->idtab);
        free(ws->bloom);
        free(ws->del);
        free(ws->dirty);
        free(ws->tab);
        free(ws);
}

static spate_wgroup_t *group_find(spate_winstate_t *ws, const char *key, size_t klen) {
        for (spate_wgroup_t *g = ws->tab[spate_hash(key, klen) & (ws->cap - 1)]; g; g = g->next)
                if (g->klen == klen && !memcmp(g->key, key, klen))
                        return g;
        return NULL;
}

static int rehash(spate_winstate_t *ws) {
        size_t cap = ws->cap * 2;
        spate_wgroup_t **tab = calloc(cap, sizeof(*tab));
        if (!tab)
                return -1;
        for (size_t i = 0; i < ws->cap; i++)
                for (spate_wgroup_t *g = ws->tab[i], *next; g; g = next) {
                        size_t b = spate_hash(g->key, g->klen) & (cap - 1);
                        next = g->next;
                        g->next = tab[b];
                        tab[b] = g;
                }
        free(ws->tab);
        ws->bytes += (cap - ws->cap) * sizeof(*tab);
        ws->tab = tab;
        ws->cap = cap;
        return 0;
}

/* A group memory does not hold, new in the table (its key copied). */
static spate_wgroup_t *group_add(spate_winstate_t *ws, const char *key, size_t klen) {
        spate_wgroup_t *g;
        if (ws->ngroups >= ws->cap && rehash(ws))
                return NULL;
        /* The key inside the group: one allocation less per group, which
         * counts with a million live keys. */
        if (!(g = calloc(1, sizeof(*g) + klen)))
                return NULL;
        memcpy(g->key, key, klen);
        g->klen = klen;
        size_t b = spate_hash(key, klen) & (ws->cap - 1);
        g->next = ws->tab[b];
        ws->tab[b] = g;
        ws->ngroups++;
        ws->bytes += group_bytes(ws->conf, g);
        return g;
}

static spate_wgroup_t *group_get(spate_winstate_t *ws, const char *key, size_t klen) {
        spate_wgroup_t *g = group_find(ws, key, klen);
        return g ? g : group_add(ws, key, klen);
}

static int bloom_probe(const spate_winstate_t *ws, const char *key, size_t klen, int set) {
        return spate_bloom_probe(ws->bloom, ws->bloom_bits, spate_winstate_group_hash(key, klen), set);
}

int spate_winstate_bloom_reset(spate_winstate_t *ws, size_t groups) {
        size_t bits = spate_bloom_bits(groups, 1 << 16);
        uint64_t *b = calloc(bits / 64, sizeof(*b));
        if (!b)
                return -1;
        free(ws->bloom);
        ws->bytes += bits / 8 - ws->bloom_bits / 8;
        ws->bloom = b;
        ws->bloom_bits = bits;
        ws->bloom_n = 0;
        ws->bloom_ok = 0;
        return 0;
}

uint64_t spate_winstate_group_hash(const char *group, size_t glen) {
        return spate_hash(group, glen);
}

void spate_winstate_bloom_note_hash(spate_winstate_t *ws, uint64_t h) {
        if (!ws->bloom)
                return;
        spate_bloom_probe(ws->bloom, ws->bloom_bits, h, 1);
        ws->bloom_n++;
}

void spate_winstate_bloom_note(spate_winstate_t *ws, const char *group, size_t glen) {
        spate_winstate_bloom_note_hash(ws, spate_winstate_group_hash(group, glen));
}

void spate_winstate_bloom_done(spate_winstate_t *ws) {
        ws->bloom_ok = ws->bloom != NULL;
}

int spate_winstate_bloom_due(const spate_winstate_t *ws) {
        return ws->spilled && (!ws->bloom_ok || ws->bloom_n * SPATE_BLOOM_BITS_PER_KEY > ws->bloom_bits);
}

/* The group, fetched from the store when it was evicted (want: created when
 * it is nowhere). *err is set when the fetch failed (ws->err says why). */
static spate_wgroup_t *group_want(spate_winstate_t *ws, const char *key, size_t klen, int want, int *err) {
        spate_wgroup_t *g = group_find(ws, key, klen);
        *err = 0;
        if (!g && ws->spilled && ws->fetch && (!ws->bloom_ok || bloom_probe(ws, key, klen, 0))) {
                if (ws->fetch(ws->fetch_opaque, ws, key, klen)) {
                        *err = 1;
                        return NULL;
                }
                ws->nfetched++;
                g = group_find(ws, key, klen);
        }
        if (!g && want && !(g = group_get(ws, key, klen)))
                snprintf(ws->err, sizeof(ws->err), "out of memory");
        *err |= !g && want;
        return g;
}

/* Puts g on the dirty list (once). */
static int touch(spate_winstate_t *ws, spate_wgroup_t *g) {
        if (g->listed)
                return 0;
        if (ws->ndirty == ws->capdirty) {
                int cap = ws->capdirty ? ws->capdirty * 2 : 64;
                spate_wgroup_t **d = realloc(ws->dirty, (size_t)cap * sizeof(*d));
                if (!d)
                        return -1;
                ws->bytes += (size_t)(cap - ws->capdirty) * sizeof(*d);
                ws->dirty = d;
                ws->capdirty = cap;
        }
        ws->dirty[ws->ndirty++] = g;
        g->listed = 1;
        return 0;
}

/* --- corrections: each window's ids, by (group, start) --- */

static size_t ids_hash(const spate_winstate_t *ws, const void *g, int64_t start) {
        uint64_t k[2] = { (uint64_t)(uintptr_t)g, (uint64_t)start };
        return spate_hash(k, sizeof(k)) & (ws->idcap - 1);
}

static spate_wids_t **ids_slot(spate_winstate_t *ws, const void *g, int64_t start) {
        if (!ws->idcap)
                return NULL;
        spate_wids_t **pp = &ws->idtab[ids_hash(ws, g, start)];
        while (*pp && ((*pp)->owner != g || (*pp)->start != start))
                pp = &(*pp)->next;
        return *pp ? pp : NULL;
}

static int ids_grow(spate_winstate_t *ws) {
        size_t old = ws->idcap, cap = old ? old * 2 : 64;
        spate_wids_t **tab = calloc(cap, sizeof(*tab)), **prev = ws->idtab;
        if (!tab)
                return -1;
        ws->idtab = tab;
        ws->idcap = cap;
        for (size_t i = 0; i < old; i++)
                for (spate_wids_t *w = prev[i], *next; w; w = next) {
                        size_t h = ids_hash(ws, w->owner, w->start);
                        next = w->next;
                        w->next = tab[h];
                        tab[h] = w;
                }
        free(prev);
        return 0;
}

/* Puts w (the caller's until then) in as (g, start)'s, replacing any. */
static int ids_put(spate_winstate_t *ws, const void *g, int64_t start, spate_wids_t *w) {
        spate_wids_t **pp = ids_slot(ws, g, start);
        if (pp) {
                w->next = (*pp)->next;
                spate_wids_free(*pp);
                *pp = w;
        } else {
                if (ws->nidtab >= ws->idcap && ids_grow(ws))
                        return -1;
                size_t h = ids_hash(ws, g, start);
                w->next = ws->idtab[h];
                ws->idtab[h] = w;
                ws->nidtab++;
        }
        w->owner = g;
        w->start = start;
        return 0;
}

static spate_wids_t *ids_get(spate_winstate_t *ws, const void *g, int64_t start) {
        spate_wids_t **pp = ids_slot(ws, g, start), *w;
        if (pp)
                return *pp;
        if (!(w = spate_wids_new(ws->conf->nfns)))
                return NULL;
        if (ids_put(ws, g, start, w)) {
                spate_wids_free(w);
                return NULL;
        }
        return w;
}

static void ids_drop(spate_winstate_t *ws, const void *g, int64_t start) {
        spate_wids_t **pp = ids_slot(ws, g, start), *w;
        if (!pp)
                return;
        w = *pp;
        *pp = w->next;
        ws->nidtab--;
        spate_wids_free(w);
}

const spate_wids_t *spate_winstate_ids(const spate_winstate_t *ws, const spate_wgroup_t *g,
                                       const spate_went_t *e) {
        spate_wids_t **pp = ids_slot((spate_winstate_t *)ws, g, e->start);
        return pp ? *pp : NULL;
}

/* Index of the first entry with start >= start. */
static int lower_bound(const spate_went_t *a, int n, int64_t start) {
        int lo = 0, hi = n;
        while (lo < hi) {
                int mid = lo + (hi - lo) / 2;
                if (a[mid].start < start)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static spate_went_t *find(spate_went_t *a, int n, int64_t start) {
        int i = lower_bound(a, n, start);
        return i < n && a[i].start == start ? &a[i] : NULL;
}

static void due(spate_winstate_t *ws, int64_t t) {
        if (t < ws->next_due)
                ws->next_due = t;
}

static int64_t close_time(const spate_winstate_t *ws, const spate_went_t *e) {
        return spate_window_close_time(&ws->conf->spec, e->start, e->end);
}

static int64_t sat_add(int64_t a, int64_t b) {
        return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* Inserts a new entry (start, end) into g's windows or buckets, with the
 * given states (owned from then on) or, when NULL, empty ones; NULL when out
 * of memory (states are then still the caller's). Pointers into that array
 * are invalidated. */
static spate_went_t *insert(spate_winstate_t *ws, spate_wgroup_t *g, int bucket, int64_t start,
                            int64_t end, spate_agg_state_t *states) {
        spate_went_t **a = bucket ? &g->bkt : &g->win;
        int *n = bucket ? &g->nbkt : &g->nwin, *cap = bucket ? &g->capbkt : &g->capwin;
        spate_agg_state_t *own = NULL;
        if (!states && !(states = own = spate_agg_states_new(ws->conf->fns, ws->conf->params, ws->conf->nfns)))
                return NULL;
        if (*n == *cap) {
                /* From one: most groups of a tumbling window have one live
                 * window at a time. */
                int c = *cap ? *cap * 2 : 1;
                spate_went_t *na = realloc(*a, (size_t)c * sizeof(*na));
                if (!na) {
                        spate_agg_states_free(own, ws->conf->nfns);
                        return NULL;
                }
                ws->bytes += (size_t)(c - *cap) * sizeof(*na) + (*cap ? 0 : MALLOC_OVERHEAD);
                *a = na;
                *cap = c;
        }
        int i = lower_bound(*a, *n, start);
        memmove(*a + i + 1, *a + i, (size_t)(*n - i) * sizeof(**a));
        (*n)++;
        (*a)[i] = (spate_went_t){ .start = start, .end = end, .st = ws->stream_time, .states = states };
        ws->bytes += states_bytes(ws->conf);
        if (bucket) {
                ws->nbuckets++;
                due(ws, sat_add(sat_add(sat_add(start, ws->conf->spec.size), ws->conf->spec.grace), 1));
        } else {
                ws->nwindows++;
                due(ws, close_time(ws, &(*a)[i]));
        }
        return &(*a)[i];
}

/* Frees entry i of g's windows or buckets and closes the gap. */
static void drop_entry(spate_winstate_t *ws, spate_wgroup_t *g, int bucket, int i) {
        spate_went_t *a = bucket ? g->bkt : g->win;
        int *n = bucket ? &g->nbkt : &g->nwin;
        if (!bucket && a[i].closed)
                ws->nclosed--;
        if (!bucket && ws->conf->corrections)
                ids_drop(ws, g, a[i].start);
        spate_agg_states_free(a[i].states, ws->conf->nfns);
        ws->bytes -= states_bytes(ws->conf);
        memmove(a + i, a + i + 1, (size_t)(*n - i - 1) * sizeof(*a));
        (*n)--;
        if (bucket)
                ws->nbuckets--;
        else
                ws->nwindows--;
}

/* Lists the tombstone of an entry of group (glen bytes). -1 when out of memory. */
static int del_add(spate_winstate_t *ws, const char *group, size_t glen, int bucket, int64_t start,
                   int output) {
        if (ws->ndel == ws->capdel) {
                int cap = ws->capdel ? ws->capdel * 2 : 64;
                spate_wdel_t *d = realloc(ws->del, (size_t)cap * sizeof(*d));
                if (!d)
                        return -1;
                ws->del = d;
                ws->capdel = cap;
        }
        char *key = malloc(glen ? glen : 1);
        if (!key)
                return -1;
        memcpy(key, group, glen);
        ws->del[ws->ndel++] = (spate_wdel_t){ key, glen, start, bucket, output };
        return 0;
}

/* Removes entry i of g's windows or buckets and lists its tombstone. */
static int remove_entry(spate_winstate_t *ws, spate_wgroup_t *g, int bucket, int i, int output) {
        spate_went_t *a = bucket ? g->bkt : g->win;
        if (del_add(ws, g->key, g->klen, bucket, a[i].start, output))
                return -1;
        drop_entry(ws, g, bucket, i);
        return touch(ws, g);
}

/* Entry e of g got input: to write, and to emit under emit: update. */
static int changed(spate_winstate_t *ws, spate_wgroup_t *g, spate_went_t *e) {
        e->st = ws->stream_time;
        e->dirty = 1;
        if (!ws->conf->emit_final)
                e->emit = 1;
        return touch(ws, g);
}

static void fill_run(spate_winstate_t *ws, spate_wgroup_t *g, int i, const spate_went_t *next);

/* Input lands in gap window e (within grace, or a revision): it starts over
 * as a window with readings. */
static int ungap(spate_winstate_t *ws, spate_went_t *e) {
        spate_agg_state_t *fresh;
        if (!e->gap)
                return 0;
        if (!(fresh = spate_agg_states_new(ws->conf->fns, ws->conf->params, ws->conf->nfns)))
                return -1;
        spate_agg_states_free(e->states, ws->conf->nfns);
        e->states = fresh;
        e->gap = 0;
        e->ngap = 0;
        return 0;
}

/* corrections: r's id in window e. 0 when r is to go in (a new id, or a
 * newer version whose predecessor's values were taken back out), 1 when it
 * is dropped (corrections: ignore, an id already in), -1 out of memory. */
static int contribute(spate_winstate_t *ws, spate_wgroup_t *g, spate_went_t *e, const spate_wrec_t *r) {
        spate_wids_t *ids = ids_get(ws, g, e->start);
        spate_wid_t *c;
        if (!ids)
                return -1;
        if (!(c = spate_wids_find(ids, r->id, r->idlen)))
                return spate_wids_add(ids, r->id, r->idlen, r->vals) ? 0 : -1;
        ws->ncorrected++;
        if (ws->conf->corrections == SPATE_CORR_IGNORE)
                return 1;
        for (int i = 0; i < ws->conf->nfns; i++) {
                spate_val_t old;
                spate_wid_get(ids, c, i, &old);
                if (spate_agg_retract(&e->states[i], &old))
                        return -1;
        }
        spate_wid_set(ids, c, r->vals);
        return 0;
}

static int apply(spate_winstate_t *ws, spate_wgroup_t *g, spate_went_t *e, const spate_wrec_t *r) {
        int rc;
        if (e->gap && ungap(ws, e))
                return -1;
        if (ws->conf->corrections && (rc = contribute(ws, g, e, r)))
                return rc < 0 ? -1 : 0;
        for (int i = 0; i < ws->conf->nfns; i++)
                if (spate_agg_update(&e->states[i], &r->vals[i], &r->origin) < 0)
                        return -1;
        return changed(ws, g, e);
}

/* A repartitioned task's window that the other source partitions closed
 * while the record's own partition had not passed it (it started late, or
 * was released as empty): the record is on time, so the window takes it and
 * is emitted again - a revision of its final value. A window that is not
 * there while it would still be kept as a closed marker (retention) never
 * existed, and is created closed. 0 revised, 1 when the window may have been
 * there and is gone (past retention): re-creating it would emit part of it. */
static int revise(spate_winstate_t *ws, spate_wgroup_t *g, int64_t start, const spate_agg_state_t *states,
                  const spate_wrec_t *r) {
        const spate_window_spec_t *spec = &ws->conf->spec;
        spate_went_t *e = find(g->win, g->nwin, start);
        if (!e) {
                int64_t ct = spate_window_close_time(spec, start, start + spec->size);
                if (ws->stream_time >= sat_add(ct, ws->conf->retention))
                        return 1;
                if (!(e = insert(ws, g, 0, start, start + spec->size, NULL)))
                        return -1;
                e->closed = 1;
                ws->nclosed++;
        }
        if (states ? ungap(ws, e) || spate_agg_states_merge(e->states, states, ws->conf->nfns)
                   : apply(ws, g, e, r))
                return -1;
        e->dirty = e->emit = 1;
        ws->nrevised++;
        /* A pending gap that got readings closes the run before it, as its
         * closing would have. */
        int i = (int)(e - g->win);
        if (ws->conf->fill == SPATE_FILL_LINEAR && i > 0 && g->win[i - 1].start == start - spec->size)
                fill_run(ws, g, i - 1, e);
        return touch(ws, g);
}

static int add_fixed(spate_winstate_t *ws, spate_wgroup_t *g, const spate_wrec_t *r, int64_t st) {
        const spate_window_spec_t *spec = &ws->conf->spec;
        int64_t starts[MAX_HOPS];
        int lost = 0;
        int n = spate_window_assign(spec, r->t, st, starts, MAX_HOPS);
        if (n <= 0)
                return n < 0 ? -1 : 1;
        for (int i = 0; i < n; i++) {
                spate_went_t *e = find(g->win, g->nwin, starts[i]);
                int rc;
                if (spate_window_is_closed(spec, starts[i], starts[i] + spec->size, ws->stream_time)) {
                        if ((rc = revise(ws, g, starts[i], NULL, r)) < 0)
                                return -1;
                        lost |= rc;
                        continue;
                }
                if (!e && !(e = insert(ws, g, 0, starts[i], starts[i] + spec->size, NULL)))
                        return -1;
                if (apply(ws, g, e, r))
                        return -1;
        }
        return lost;
}

static int add_sliding(spate_winstate_t *ws, spate_wgroup_t *g, const spate_wrec_t *r, int64_t st) {
        const spate_window_spec_t *spec = &ws->conf->spec;
        spate_sliding_assign_t a;
        spate_went_t *e;
        int own = 0;

        if (spate_window_sliding_assign(spec, r->t, st, &a))
                return 1;
        /* The bucket first, so the record's own window, built from buckets
         * below, has it. */
        if (!(e = find(g->bkt, g->nbkt, r->t)) && !(e = insert(ws, g, 1, r->t, r->t, NULL)))
                return -1;
        if (apply(ws, g, e, r))
                return -1;
        e->emit = 0;
        for (int i = lower_bound(g->win, g->nwin, a.end_lo - spec->size);
             i < g->nwin && g->win[i].end <= a.end_hi; i++) {
                own |= g->win[i].end == r->t;
                if (apply(ws, g, &g->win[i], r))
                        return -1;
        }
        if (!a.create_own || own)
                return 0;
        if (!(e = insert(ws, g, 0, r->t - spec->size, r->t, NULL)))
                return -1;
        for (int i = lower_bound(g->bkt, g->nbkt, r->t - spec->size);
             i < g->nbkt && g->bkt[i].start <= r->t; i++)
                if (spate_agg_states_merge(e->states, g->bkt[i].states, ws->conf->nfns))
                        return -1;
        e->dirty = 1;
        e->emit = !ws->conf->emit_final;
        return touch(ws, g);
}

static int add_session(spate_winstate_t *ws, spate_wgroup_t *g, const spate_wrec_t *r, int64_t st) {
        spate_session_t stack_s[16], *sess = stack_s, merged;
        int stack_a[16], *absorbed = stack_a, nabs, rc = -1, keep = -1;

        if (g->nwin > 16) {
                sess = malloc((size_t)g->nwin * sizeof(*sess));
                absorbed = malloc((size_t)g->nwin * sizeof(*absorbed));
                if (!sess || !absorbed)
                        goto out;
        }
        for (int i = 0; i < g->nwin; i++)
                sess[i] = (spate_session_t){ g->win[i].start, g->win[i].end };
        if (spate_window_session_assign(&ws->conf->spec, r->t, st, sess, g->nwin,
                                        &merged, absorbed, &nabs)) {
                rc = 1;
                goto out;
        }
        /* The absorbed session that already starts where the merged one does
         * stays (its key does not change); the others merge into it and go. */
        for (int i = 0; i < nabs; i++)
                if (g->win[absorbed[i]].start == merged.first)
                        keep = absorbed[i];
        spate_went_t *e;
        if (keep < 0) {
                if (!(e = insert(ws, g, 0, merged.first, merged.last, NULL)))
                        goto out;
                int at = (int)(e - g->win);
                for (int i = 0; i < nabs; i++)  /* indices after the insert shifted */
                        absorbed[i] += absorbed[i] >= at;
                keep = at;
        }
        for (int i = 0; i < nabs; i++)
                if (absorbed[i] != keep &&
                    spate_agg_states_merge(g->win[keep].states, g->win[absorbed[i]].states,
                                           ws->conf->nfns))
                        goto out;
        int64_t keep_start = g->win[keep].start;
        for (int i = nabs - 1; i >= 0; i--)  /* descending: earlier indices stay valid */
                if (absorbed[i] != keep && remove_entry(ws, g, 0, absorbed[i], !ws->conf->emit_final))
                        goto out;
        e = find(g->win, g->nwin, keep_start);
        e->end = merged.last;
        due(ws, close_time(ws, e));
        rc = apply(ws, g, e, r);
out:
        if (sess != stack_s)
                free(sess);
        if (absorbed != stack_a)
                free(absorbed);
        return rc;
}

/* corrections: the windows of r's time closed by st whose ids hold an
 * earlier version of r's take it (revised: emitted again); under ignore they
 * keep the first. The number of windows that did, or -1 out of memory. A
 * closed window past retention is gone, and its ids with it. */
static int correct_closed(spate_winstate_t *ws, const spate_wrec_t *r, int64_t st) {
        const spate_window_spec_t *spec = &ws->conf->spec;
        int err;
        spate_wgroup_t *g = group_want(ws, r->group, r->glen, 0, &err);
        int64_t starts[MAX_HOPS];
        int n, taken = 0;
        if (err)
                return -1;
        if (!g || (n = spate_window_assign(spec, r->t, INT64_MIN, starts, MAX_HOPS)) < 0)
                return 0;
        for (int i = 0; i < n; i++) {
                spate_went_t *e = find(g->win, g->nwin, starts[i]);
                spate_wids_t **ids = ids_slot(ws, g, starts[i]);
                /* Past retention it is gone, whether close() removed it yet or not:
                 * the same records are late whenever commits run. */
                if (!e || !ids || !spate_window_is_closed(spec, e->start, e->end, st) ||
                    st >= sat_add(close_time(ws, e), ws->conf->retention) ||
                    !spate_wids_find(*ids, r->id, r->idlen))
                        continue;
                taken++;
                if (ws->conf->corrections == SPATE_CORR_IGNORE) {
                        ws->ncorrected++;
                        continue;
                }
                if (apply(ws, g, e, r))
                        return -1;
                e->emit = 1;
                ws->nrevised++;
        }
        return taken;
}

int spate_winstate_add(spate_winstate_t *ws, const spate_wrec_t *r) {
        spate_wgroup_t *g;
        int rc, err;
        int64_t st;
        ws->err[0] = '\0';
        if (!ws->external_time && r->t > ws->stream_time)
                ws->stream_time = r->t;
        st = r->st > ws->stream_time ? r->st : ws->stream_time;
        /* Judged upstream by its own source partition: tumbling and hopping
         * windows closed by the others are revised (add_fixed). */
        if (ws->external_time && ws->conf->spec.type != SPATE_WINDOW_SLIDING &&
            ws->conf->spec.type != SPATE_WINDOW_SESSION && r->st != INT64_MIN)
                st = r->st;
        if (ws->conf->corrections) {
                /* Versions for closed windows first: a hopping record may be
                 * on time for some of its windows only. */
                if ((rc = correct_closed(ws, r, st)) < 0)
                        return -1;
                if (spate_window_is_late(&ws->conf->spec, r->t, st))
                        return rc ? 0 : 1;
        } else if (spate_window_is_late(&ws->conf->spec, r->t, st)) {
                return 1;
        }
        if (!(g = group_want(ws, r->group, r->glen, 1, &err)))
                return -1;
        switch (ws->conf->spec.type) {
        case SPATE_WINDOW_SLIDING: rc = add_sliding(ws, g, r, st); break;
        case SPATE_WINDOW_SESSION: rc = add_session(ws, g, r, st); break;
        default: rc = add_fixed(ws, g, r, st); break;
        }
        return rc;
}

int spate_winstate_merge(spate_winstate_t *ws, const char *group, size_t glen, int64_t start, int64_t st,
                         const spate_agg_state_t *states) {
        const spate_window_spec_t *spec = &ws->conf->spec;
        spate_wgroup_t *g;
        spate_went_t *e;
        int err;
        ws->err[0] = '\0';
        /* Judged by its source partition's time upstream; the others may
         * have closed it (revise()). */
        if (spate_window_is_closed(spec, start, start + spec->size, st > ws->stream_time ? st : ws->stream_time)) {
                if (!ws->external_time || spate_window_is_closed(spec, start, start + spec->size, st))
                        return 1;
                return (g = group_want(ws, group, glen, 1, &err)) ? revise(ws, g, start, states, NULL) : -1;
        }
        if (!(g = group_want(ws, group, glen, 1, &err)))
                return -1;
        if (!(e = find(g->win, g->nwin, start)) && !(e = insert(ws, g, 0, start, start + spec->size, NULL)))
                return -1;
        if (ungap(ws, e) || spate_agg_states_merge(e->states, states, ws->conf->nfns))
                return -1;
        return changed(ws, g, e);
}

void spate_winstate_advance(spate_winstate_t *ws, int64_t stream_time) {
        if (stream_time == SPATE_WINDOW_END_OF_STREAM && ws->stream_time != SPATE_WINDOW_END_OF_STREAM)
                ws->fill_time = ws->stream_time;
        if (stream_time > ws->stream_time)
                ws->stream_time = stream_time;
}

int spate_went_stale(const spate_winconf_t *conf, const spate_went_t *e) {
        return e->gap && ((int64_t)e->ngap + 1) * conf->spec.size > conf->fill_max;
}

/* Window i of g just closed: a gap window takes the next interval if it has
 * none, carrying its states (see winstate.h). -1 when out of memory. */
static int fill_next(spate_winstate_t *ws, spate_wgroup_t *g, int i) {
        const spate_winconf_t *c = ws->conf;
        spate_went_t *e = &g->win[i];
        int64_t next = e->start + c->spec.size;
        int64_t upto = ws->stream_time == SPATE_WINDOW_END_OF_STREAM ? ws->fill_time : ws->stream_time;
        uint32_t ngap = e->gap ? e->ngap + 1 : 1;
        spate_agg_state_t *carry;

        if ((int64_t)ngap * c->spec.size > c->fill_max || close_time(ws, e) > upto ||
            (i + 1 < g->nwin && g->win[i + 1].start == next))
                return 0;
        if (!(carry = spate_agg_states_new(c->fns, c->params, c->nfns)))
                return -1;
        if (spate_agg_states_merge(carry, e->states, c->nfns) ||
            !(e = insert(ws, g, 0, next, next + c->spec.size, carry))) {
                spate_agg_states_free(carry, c->nfns);
                return -1;
        }
        e->gap = c->fill == SPATE_FILL_LINEAR ? SPATE_GAP_PENDING : SPATE_GAP_FILLED;
        e->ngap = ngap;
        e->dirty = 1;
        return touch(ws, g);
}

/* fill: linear. Pending gap window e, f of the way (by intervals) from the
 * window with readings before it to next: interpolated values where both
 * have a number (else the carried ones); next NULL (the key went silent):
 * null values. Then it is filled, to write and emit. */
static int fill_gap(spate_winstate_t *ws, spate_wgroup_t *g, spate_went_t *e, const spate_went_t *next) {
        const spate_winconf_t *c = ws->conf;
        double f = next ? (double)e->ngap * (double)c->spec.size /
                          (double)(next->start - (e->start - (int64_t)e->ngap * c->spec.size)) : 0;
        for (int k = 0; k < c->nfns; k++) {
                spate_val_t p, q;
                if (!spate_agg_fn_interpolates(c->fns[k]))
                        continue;
                spate_agg_result(&e->states[k], &p);
                if (!next) {
                        spate_agg_free(&e->states[k]);
                        spate_agg_init(&e->states[k], c->fns[k]);
                        continue;
                }
                spate_agg_result(&next->states[k], &q);
                if (p.type == SPATE_VAL_NUM && q.type == SPATE_VAL_NUM)
                        spate_agg_set_num(&e->states[k], p.num + (q.num - p.num) * f);
        }
        e->gap = SPATE_GAP_FILLED;
        e->dirty = e->emit = 1;
        return touch(ws, g);
}

/* fill: linear. The pending gaps of g that end at index i (contiguous) are
 * filled: interpolated up to next, the window with readings after them, or
 * with null values when next is NULL. */
static void fill_run(spate_winstate_t *ws, spate_wgroup_t *g, int i, const spate_went_t *next) {
        int64_t size = ws->conf->spec.size, want = g->win[i].start;
        for (int j = i; j >= 0 && g->win[j].gap == SPATE_GAP_PENDING && g->win[j].start == want; j--, want -= size)
                fill_gap(ws, g, &g->win[j], next);
}

/* fill: linear. Closed pending gap i of g, with no window after it: its run
 * is filled with null values once the key is known to be silent - the
 * interval after the stale gap closed without readings, or the stream ended. */
static void fill_silent(spate_winstate_t *ws, spate_wgroup_t *g, int i) {
        const spate_winconf_t *c = ws->conf;
        const spate_went_t *e = &g->win[i];
        int64_t at = spate_went_stale(c, e) ? sat_add(close_time(ws, e), c->spec.size)
                                            : SPATE_WINDOW_END_OF_STREAM;
        if (i + 1 < g->nwin && g->win[i + 1].start == e->start + c->spec.size)
                return;   /* the next interval fills the run (or continues it) */
        if (ws->stream_time < at) {
                due(ws, at);
                return;
        }
        fill_run(ws, g, i, NULL);
}

static void close_group(spate_winstate_t *ws, spate_wgroup_t *g) {
        const spate_winconf_t *c = ws->conf;
        int64_t st = ws->stream_time;
        for (int i = 0; i < g->nwin; i++) {
                spate_went_t *e = &g->win[i];
                int64_t ct = close_time(ws, e);
                if (!e->closed && st >= ct) {
                        e->closed = e->dirty = 1;
                        ws->nclosed++;
                        e->st = st;
                        e->emit |= (uint8_t)((c->emit_final && e->gap != SPATE_GAP_PENDING) ||
                                             e->gap == SPATE_GAP_FILLED);
                        touch(ws, g);
                        /* Out of memory: the gap is not filled (like touch() above,
                         * closing has no way to fail). */
                        if (c->fill == SPATE_FILL_LINEAR && e->gap == SPATE_GAP_NONE && i > 0 &&
                            g->win[i - 1].start == e->start - c->spec.size)
                                fill_run(ws, g, i - 1, e);
                        if (c->fill)
                                fill_next(ws, g, i);
                        e = &g->win[i];
                }
                if (!e->closed) {
                        due(ws, ct);
                } else if (e->gap == SPATE_GAP_PENDING) {
                        /* Kept until the window after its run, or silence, fills it. */
                        fill_silent(ws, g, i);
                } else if (st >= sat_add(ct, c->retention) && !e->emit) {
                        remove_entry(ws, g, 0, i--, 0);
                } else {
                        /* Still to emit, or within retention. */
                        due(ws, e->emit ? sat_add(st, 1) : sat_add(ct, c->retention));
                }
        }
        for (int i = 0; i < g->nbkt; i++) {
                int64_t t = g->bkt[i].start;
                if (!spate_window_sliding_keep(&c->spec, t, st))
                        remove_entry(ws, g, 1, i--, 0);
                else
                        due(ws, sat_add(sat_add(sat_add(t, c->spec.size), c->spec.grace), 1));
        }
}

void spate_winstate_close(spate_winstate_t *ws) {
        if (ws->stream_time < ws->next_due)
                return;
        ws->next_due = INT64_MAX;
        for (size_t b = 0; b < ws->cap; b++)
                for (spate_wgroup_t *g = ws->tab[b]; g; g = g->next)
                        close_group(ws, g);
}

int spate_winstate_each_dirty(spate_winstate_t *ws, spate_went_cb cb, void *opaque) {
        for (int k = 0; k < ws->ndirty; k++) {
                spate_wgroup_t *g = ws->dirty[k];
                int rc;
                for (int i = 0; i < g->nwin; i++)
                        if ((g->win[i].dirty || g->win[i].emit) && (rc = cb(opaque, g, 0, &g->win[i])))
                                return rc;
                for (int i = 0; i < g->nbkt; i++)
                        if (g->bkt[i].dirty && (rc = cb(opaque, g, 1, &g->bkt[i])))
                                return rc;
        }
        return 0;
}

int spate_winstate_each(spate_winstate_t *ws, spate_went_cb cb, void *opaque) {
        for (size_t b = 0; b < ws->cap; b++)
                for (spate_wgroup_t *g = ws->tab[b]; g; g = g->next) {
                        int rc;
                        for (int i = 0; i < g->nwin; i++)
                                if ((rc = cb(opaque, g, 0, &g->win[i])))
                                        return rc;
                        for (int i = 0; i < g->nbkt; i++)
                                if ((rc = cb(opaque, g, 1, &g->bkt[i])))
                                        return rc;
                }
        return 0;
}

static void group_unlink(spate_winstate_t *ws, spate_wgroup_t *g) {
        spate_wgroup_t **pp = &ws->tab[spate_hash(g->key, g->klen) & (ws->cap - 1)];
        while (*pp != g)
                pp = &(*pp)->next;
        *pp = g->next;
        ws->ngroups--;
        ws->bytes -= group_bytes(ws->conf, g);
        if (ws->walked == g)
                ws->walked = NULL;
        group_free(ws->conf, g);
}

void spate_winstate_clean(spate_winstate_t *ws) {
        for (int k = 0; k < ws->ndirty; k++) {
                spate_wgroup_t *g = ws->dirty[k];
                for (int i = 0; i < g->nwin; i++)
                        g->win[i].dirty = g->win[i].emit = 0;
                for (int i = 0; i < g->nbkt; i++)
                        g->bkt[i].dirty = g->bkt[i].emit = 0;
                g->listed = 0;
                if (!g->nwin && !g->nbkt)
                        group_unlink(ws, g);
        }
        ws->ndirty = 0;
        del_clear(ws);
}

spate_went_t *spate_winstate_find(spate_winstate_t *ws, const char *group, size_t glen,
                                  int64_t start) {
        spate_wgroup_t *g = group_find(ws, group, glen);
        return g ? find(g->win, g->nwin, start) : NULL;
}

/* How load() finds the entry's group. */
enum { LOAD_LOOKUP, LOAD_WALK_FIRST, LOAD_WALK_NEXT };

static int load(spate_winstate_t *ws, const void *key, size_t klen, const void *val, size_t vlen, int how,
                char *errstr, size_t errstr_size) {
        const char *group;
        size_t glen;
        int bucket;
        int64_t start;
        spate_went_t e, *old;
        spate_wgroup_t *g;
        spate_wids_t *ids = NULL;

        if (spate_went_key_decode(key, klen, &group, &glen, &bucket, &start)) {
                if (!val)
                        return 0;
                snprintf(errstr, errstr_size, "malformed window key (%zu bytes)", klen);
                return -1;
        }
        /* A walk's first key of a group needs no lookup (memory holds none
         * of its groups): over a whole task, lookups that miss the cache. */
        g = how == LOAD_LOOKUP ? group_find(ws, group, glen) : how == LOAD_WALK_NEXT ? ws->walked : NULL;
        old = g ? find(bucket ? g->bkt : g->win, bucket ? g->nbkt : g->nwin, start) : NULL;
        if (!val) {
                if (old) {
                        drop_entry(ws, g, bucket, (int)(old - (bucket ? g->bkt : g->win)));
                        if (!g->nwin && !g->nbkt && !g->listed)
                                group_unlink(ws, g);
                }
                return 0;
        }
        /* Only windows hold ids (buckets are sliding windows', which take no corrections). */
        if (spate_went_decode_ids(ws->conf, val, vlen, &e, ws->conf->corrections && !bucket ? &ids : NULL,
                                  errstr, errstr_size))
                return -1;
        e.start = start;
        if (bucket)
                e.end = start;
        if (!old) {
                if ((!g && !(g = group_add(ws, group, glen))) ||
                    !(old = insert(ws, g, bucket, start, e.end, e.states))) {
                        spate_agg_states_free(e.states, ws->conf->nfns);
                        spate_wids_free(ids);
                        snprintf(errstr, errstr_size, "out of memory");
                        return -1;
                }
        } else {
                spate_agg_states_free(old->states, ws->conf->nfns);
        }
        if (!bucket && (ids ? ids_put(ws, g, start, ids) : (ids_drop(ws, g, start), 0))) {
                spate_wids_free(ids);
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        if (!bucket)
                ws->nclosed = ws->nclosed - old->closed + e.closed;
        *old = e;
        due(ws, bucket ? INT64_MIN : close_time(ws, old));
        ws->walked = g;
        return 0;
}

int spate_winstate_load(spate_winstate_t *ws, const void *key, size_t klen, const void *val,
                        size_t vlen, char *errstr, size_t errstr_size) {
        return load(ws, key, klen, val, vlen, LOAD_LOOKUP, errstr, errstr_size);
}

int spate_winstate_load_walk(spate_winstate_t *ws, const void *key, size_t klen, const void *val, size_t vlen,
                             int first, char *errstr, size_t errstr_size) {
        return load(ws, key, klen, val, vlen, first ? LOAD_WALK_FIRST : LOAD_WALK_NEXT, errstr, errstr_size);
}

/* --- eviction (winstate.h) --- */

static int64_t min64(int64_t a, int64_t b) {
        return a < b ? a : b;
}

/* The stream time at which close_group() next has work for clean group g:
 * the times it passes to due(), for an entry it would leave as it is. */
static int64_t group_due(const spate_winstate_t *ws, const spate_wgroup_t *g) {
        const spate_winconf_t *c = ws->conf;
        int64_t d = INT64_MAX;
        for (int i = 0; i < g->nwin; i++) {
                const spate_went_t *e = &g->win[i];
                int64_t ct = close_time(ws, e);
                if (!e->closed)
                        d = min64(d, ct);
                else if (e->gap != SPATE_GAP_PENDING)
                        d = min64(d, sat_add(ct, c->retention));
                else if (!(i + 1 < g->nwin && g->win[i + 1].start == e->start + c->spec.size))
                        d = min64(d, spate_went_stale(c, e) ? sat_add(ct, c->spec.size)
                                                           : SPATE_WINDOW_END_OF_STREAM);
        }
        for (int i = 0; i < g->nbkt; i++)
                d = min64(d, sat_add(sat_add(sat_add(g->bkt[i].start, c->spec.size), c->spec.grace), 1));
        return d;
}

/* Clean group g leaves memory; the store holds it. */
static void group_evict(spate_winstate_t *ws, spate_wgroup_t *g) {
        ws->evicted_due = min64(ws->evicted_due, group_due(ws, g));
        for (int i = 0; i < g->nwin; i++) {
                ws->nclosed -= g->win[i].closed;
                if (ws->conf->corrections)
                        ids_drop(ws, g, g->win[i].start);
        }
        ws->nwindows -= (uint64_t)g->nwin;
        ws->nbuckets -= (uint64_t)g->nbkt;
        ws->nevicted++;
        ws->spilled = 1;
        spate_winstate_bloom_note(ws, g->key, g->klen);
        group_unlink(ws, g);
}

size_t spate_winstate_evict(spate_winstate_t *ws, size_t limit) {
        size_t n = 0;
        if (!ws->fetch)
                return 0;
        /* A clock hand over the hash buckets, not LRU: cheap, and a group
         * evicted too early costs one read of the store. */
        for (size_t steps = 0; ws->bytes > limit && steps < ws->cap; steps++)
                for (spate_wgroup_t *g = ws->tab[ws->cursor++ & (ws->cap - 1)], *next; g; g = next) {
                        next = g->next;
                        if (!g->listed) {
                                group_evict(ws, g);
                                n++;
                        }
                }
        return n;
}

int spate_winstate_holds(const spate_winstate_t *ws, const char *group, size_t glen) {
        return group_find((spate_winstate_t *)ws, group, glen) != NULL;
}

int spate_winstate_settle(spate_winstate_t *ws, const char *group, size_t glen) {
        spate_wgroup_t *g = group_find(ws, group, glen);
        if (!g)
                return 0;
        if (group_due(ws, g) <= ws->stream_time) {
                close_group(ws, g);
                if (g->listed)
                        return 1;
        }
        group_evict(ws, g);
        return 0;
}

const char *spate_winstate_error(const spate_winstate_t *ws) {
        return ws->err[0] ? ws->err : "out of memory";
}
