/* window_query.c - interactive queries (engine/iq.h) on a window node: the
 * windows a task's store (state/kv.h: its checkpointed column family, a
 * view) holds as of its last checkpoint, answered as the rows the node
 * emitted for them.
 *
 * The store keys windows by (group, window start) (store.h's window keys),
 * so one group's history is one range scan; closed windows stay there
 * for `retention` (winstate.h's closed markers, with their states), which is
 * how far back a history reaches. Only windows the node has emitted are
 * answered: closed ones under emit: final, open ones too under emit: update
 * (their value as of the last commit); pending gaps of fill: linear wait
 * for their interpolation, as the output does.
 *
 * With group_by the tasks are the partitions of the node's repartition
 * topic, and a group lives in the one its repartition node sends it to
 * (win_repart_partition()): that is where engine/iq.c routes its key. */
#include "window_int.h"
#include "../../util/mem.h"
#include "../../engine/iq.h"
#include "../../serde/json_write.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct qwalk {
        const spate_node_t *n;
        const win_t *w;
        spate_iq_rows_t *rows;
        spate_buf_t row;
        spate_value_t items[WIN_MAX_AGGS + 5];
        /* GET and SCAN keep each group's last emitted window, written when
         * the group changes. */
        char *last_group;
        size_t last_glen;
        spate_buf_t last_row;
        int have_last;
        char *errstr;
        size_t errstr_size;
} qwalk_t;

/* The row of entry (group, start: its key; val) into k->row; 1 if the window is not (yet)
 * emitted, -1 for an entry this node cannot decode. */
static int entry_row(qwalk_t *k, const char *group, size_t glen, int64_t start, const char *val, size_t vlen) {
        const win_t *w = k->w;
        spate_went_t e;
        spate_wids_t *ids = NULL;
        if (spate_went_decode_ids(&w->conf, val, vlen, &e, &ids, k->errstr, k->errstr_size))
                return -1;
        spate_wids_free(ids);
        e.start = start;   /* kept in the key, not the value */
        int emitted = e.gap != SPATE_GAP_PENDING && (e.closed || !w->conf.emit_final);
        if (emitted) {
                spate_value_t v = { .type = SPATE_V_OBJ, .n = (uint32_t)win_row_fields(w), .u.items = k->items };
                memset(k->items, 0, sizeof(k->items));
                win_row(w, group, glen, &e, k->items);
                k->row.len = 0;
                spate_json_write(&k->row, k->n->out, &v);
        }
        spate_agg_states_free(e.states, w->conf.nfns);
        return !emitted;
}

static int flush_last(qwalk_t *k) {
        int full = 0;
        if (k->have_last)
                full = spate_iq_row(k->rows, k->last_row.data, k->last_row.len);
        k->have_last = 0;
        return full;
}

/* Visits the windows of [lo, hi) of one task's copy. */
static int walk(qwalk_t *k, const spate_iq_t *q, spate_kv_view_t *v, const char *lo, size_t lolen,
                const char *hi, size_t hilen) {
        spate_kv_iter_t *it;
        const char *key, *val, *group;
        size_t klen, vlen, glen;
        int bucket, rc, full = 0;
        int64_t start;
        if (spate_kv_view_iter(v, lo, lolen, hi, hilen, &it, k->errstr, k->errstr_size))
                return -1;
        while (!full && (rc = spate_kv_iter_next(it, &key, &klen, &val, &vlen, k->errstr, k->errstr_size)) == 1) {
                /* Sliding buckets (and keys no window wrote) are no windows. */
                if (spate_went_key_decode(key, klen, &group, &glen, &bucket, &start) || bucket)
                        continue;
                if (q->kind == SPATE_IQ_SCAN && !spate_iq_key_wanted(q, group, glen))
                        continue;
                if (q->kind != SPATE_IQ_HISTORY && k->have_last &&
                    (glen != k->last_glen || memcmp(group, k->last_group, glen)))
                        full = flush_last(k);
                if (full || (rc = entry_row(k, group, glen, start, val, vlen)) == 1)
                        continue;
                if (rc < 0)
                        break;
                if (q->kind == SPATE_IQ_HISTORY) {
                        full = spate_iq_row(k->rows, k->row.data, k->row.len);
                        continue;
                }
                free(k->last_group);
                k->last_group = spate_xmalloc(glen ? glen : 1);
                memcpy(k->last_group, group, glen);
                k->last_glen = glen;
                spate_buf_set(&k->last_row, k->row.data, k->row.len);
                k->have_last = 1;
        }
        spate_kv_iter_destroy(it);
        if (rc < 0)
                return -1;
        if (!full)
                flush_last(k);
        return 0;
}

/* One task's copy (spate_kv_query_fn; the store's view says the changelog
 * offset a standby's copy reflects). */
static int query_task(spate_kv_view_t *v, const spate_iq_t *q, spate_iq_rows_t *rows, void *opaque, char *errstr,
                      size_t errstr_size) {
        qwalk_t *k = opaque;
        (void)rows, (void)errstr, (void)errstr_size;   /* k's */
        if (q->kind == SPATE_IQ_SCAN)
                return walk(k, q, v, NULL, 0, NULL, 0);
        char lo[SPATE_WINKEY_SIZE(q->klen) + 1], hi[SPATE_WINKEY_SIZE(q->klen) + 1];
        size_t lolen, hilen;
        if (q->kind == SPATE_IQ_HISTORY) {
                spate_winkey_range_starts(q->key, q->klen, q->from, q->to, lo, hi, &lolen);
                return walk(k, q, v, lo, lolen, hi, lolen);
        }
        spate_winkey_range(q->key, q->klen, lo, &lolen, hi, &hilen);
        return walk(k, q, v, lo, lolen, hi, hilen);
}

int win_query(const spate_node_t *n, const spate_iq_t *q, spate_iq_rows_t *rows, char *errstr,
              size_t errstr_size) {
        const win_t *w = n->ctx;
        qwalk_t k = { .n = n, .w = w, .rows = rows, .errstr = errstr, .errstr_size = errstr_size };
        int rc = spate_kv_query_each(n, w->store, q, rows, query_task, &k, errstr, errstr_size);
        free(k.last_group);
        spate_buf_free(&k.row);
        spate_buf_free(&k.last_row);
        return rc;
}

const char *win_query_topic(const spate_node_t *n, int *nparts) {
        const win_t *w = n->ctx;
        if (!w->group)
                return NULL;
        *nparts = w->partitions;
        return w->repartition_topic;
}

int32_t win_query_partition(const spate_node_t *n, const void *key, size_t klen) {
        return win_repart_partition(n->ctx, key, klen);
}
