/* window_combine.c - the `window` node's combiner: upstream of a repartition
 * topic, the records of one commit are merged per (source partition, group,
 * window) before they are sent, so a tumbling or hopping window receives one
 * batch per source partition and commit instead of every record.
 *
 * Why it stays exact: a batch carries the source offsets [from, to) of its
 * records and the downstream task applies it whole or not at all
 * (spate_winmeta_seen_range()). That works only if a replay of the source
 * partition never cuts a batch elsewhere than the first run did, so the cut
 * is committed with the partition's committed offset before the batches
 * leave (spate_ctx_commit_cuts()), and a replay sends the records below the
 * last cut one by one, each deduplicated on its own (window_repart.c). */
#include "window_int.h"
#include "../../util/util.h"

#include <stdlib.h>
#include <string.h>

typedef struct cent {
        uint64_t h;
        int32_t up;                  /* source partition */
        int64_t start, st;           /* window; source stream time at the first record */
        size_t koff;                 /* group bytes at keys + koff */
        size_t glen;
        spate_agg_state_t *states;
} cent_t;

struct win_comb {
        const spate_winconf_t *conf;
        cent_t *ent;
        size_t n, cap;
        uint32_t *idx;               /* open addressing: entry index + 1, 0 = empty */
        size_t icap;                 /* power of two */
        spate_buf_t keys;
};

win_comb_t *win_comb_new(const spate_winconf_t *conf) {
        win_comb_t *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->conf = conf;
        c->icap = 1024;
        if (!(c->idx = calloc(c->icap, sizeof(*c->idx)))) {
                free(c);
                return NULL;
        }
        return c;
}

void win_comb_clear(win_comb_t *c) {
        for (size_t i = 0; i < c->n; i++)
                spate_agg_states_free(c->ent[i].states, c->conf->nfns);
        c->n = 0;
        c->keys.len = 0;
        memset(c->idx, 0, c->icap * sizeof(*c->idx));
}

void win_comb_free(win_comb_t *c) {
        if (!c)
                return;
        win_comb_clear(c);
        free(c->ent);
        free(c->idx);
        spate_buf_free(&c->keys);
        free(c);
}

size_t win_comb_count(const win_comb_t *c) {
        return c->n;
}

/* Picks the entry's bucket only: entries are kept and sent in the order they
 * came (win_comb_each()), whatever their hashes. */
static uint64_t hash(int32_t up, int64_t start, const char *g, size_t glen) {
        uint64_t seed = spate_hash_mix((uint64_t)start ^ (uint64_t)(uint32_t)up << 32 ^ (uint64_t)(uint32_t)up);
        return spate_hash_words(seed, g, glen);
}

/* Indexes every entry in idx (icap slots, zeroed). */
static void reindex(const win_comb_t *c, uint32_t *idx, size_t icap) {
        for (size_t i = 0; i < c->n; i++) {
                size_t b = c->ent[i].h & (icap - 1);
                while (idx[b])
                        b = (b + 1) & (icap - 1);
                idx[b] = (uint32_t)(i + 1);
        }
}

static int grow_index(win_comb_t *c) {
        size_t icap = c->icap * 2;
        uint32_t *idx = calloc(icap, sizeof(*idx));
        if (!idx)
                return -1;
        reindex(c, idx, icap);
        free(c->idx);
        c->idx = idx;
        c->icap = icap;
        return 0;
}

static cent_t *get(win_comb_t *c, int32_t up, int64_t start, int64_t st, const char *g, size_t glen) {
        uint64_t h = hash(up, start, g, glen);
        size_t b = h & (c->icap - 1);
        for (; c->idx[b]; b = (b + 1) & (c->icap - 1)) {
                cent_t *e = &c->ent[c->idx[b] - 1];
                if (e->h == h && e->up == up && e->start == start && e->glen == glen &&
                    !memcmp(c->keys.data + e->koff, g, glen))
                        return e;
        }
        if (c->n == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 256;
                cent_t *ent = realloc(c->ent, cap * sizeof(*ent));
                if (!ent)
                        return NULL;
                c->ent = ent;
                c->cap = cap;
        }
        cent_t *e = &c->ent[c->n];
        *e = (cent_t){ h, up, start, st, c->keys.len, glen, NULL };
        if (!(e->states = spate_agg_states_new(c->conf->fns, c->conf->params, c->conf->nfns)))
                return NULL;
        spate_buf_put(&c->keys, g, glen);
        c->idx[b] = (uint32_t)++c->n;
        if (c->n * 2 > c->icap && grow_index(c))
                return NULL;
        return &c->ent[c->n - 1];
}

void win_comb_drop(win_comb_t *c, int32_t up) {
        size_t kept = 0;
        for (size_t i = 0; i < c->n; i++) {
                if (c->ent[i].up == up)
                        spate_agg_states_free(c->ent[i].states, c->conf->nfns);
                else
                        c->ent[kept++] = c->ent[i];
        }
        c->n = kept;
        memset(c->idx, 0, c->icap * sizeof(*c->idx));
        reindex(c, c->idx, c->icap);
}

int win_comb_add(win_comb_t *c, int32_t up, const spate_wrec_t *r) {
        int64_t starts[SPATE_WINSTATE_MAX_HOPS];
        int n = spate_window_assign(&c->conf->spec, r->t, r->st, starts, SPATE_WINSTATE_MAX_HOPS);
        for (int i = 0; i < n; i++) {
                cent_t *e = get(c, up, starts[i], r->st, r->group, r->glen);
                if (!e)
                        return -1;
                for (int k = 0; k < c->conf->nfns; k++)
                        if (spate_agg_update(&e->states[k], &r->vals[k], &r->origin) < 0)
                                return -1;
        }
        return n < 0 ? -1 : 0;
}

int win_comb_each(win_comb_t *c, win_comb_cb cb, void *opaque) {
        char err[256];
        for (size_t i = 0; i < c->n; i++) {
                const cent_t *e = &c->ent[i];
                spate_wcomb_t b = { e->up, -1, -1, 0, e->st, e->start, c->keys.data + e->koff, e->glen, NULL, 0 };
                char *enc = NULL;
                if (spate_agg_state_encode(e->states, c->conf->nfns, &enc, &b.slen, err, sizeof(err)))
                        return -1;
                b.states = enc;
                int rc = cb(opaque, &b);
                free(enc);
                if (rc)
                        return rc;
        }
        return 0;
}
