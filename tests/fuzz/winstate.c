/* winstate.c - fuzzes the window state codecs (operators/window/winstate_codec.c): the
 * first byte picks the form - a stored entry (key and value, loaded into a
 * window state of each type), the task metadata (and its re-encoding), or a
 * repartition message with the aggregate states it carries. */
#include "fuzz.h"
#include "../../operators/window/winstate.h"

static const spate_agg_fn_t fns[] = {
        SPATE_AGG_COUNT, SPATE_AGG_SUM, SPATE_AGG_MEAN, SPATE_AGG_MIN,
        SPATE_AGG_MAX, SPATE_AGG_FIRST, SPATE_AGG_LAST, SPATE_AGG_COUNT_DISTINCT
};

/* Rest of the input: one byte for the key's length, the key, the value. */
static void entry(int type, const uint8_t *p, size_t n) {
        char err[256];
        const char *group;
        size_t glen, klen = n ? p[0] : 0;
        int bucket;
        int64_t start;
        spate_went_t e;
        if (n == 0 || klen > n - 1)
                return;
        const uint8_t *key = p + 1, *val = p + 1 + klen;
        size_t vlen = n - 1 - klen;
        spate_went_key_decode(key, klen, &group, &glen, &bucket, &start);
        spate_winconf_t conf = { { (spate_window_type_t)(type % 4), 1000, type % 4 == 1 ? 250 : 1000,
                                   type % 4 == 3 ? 1000 : 0, 100 },
                                 fns, 8, 1100, type & 4, NULL, SPATE_FILL_NONE, 0,
                                 type & 8 ? SPATE_CORR_REPLACE : SPATE_CORR_NONE };
        if (spate_went_decode(&conf, val, vlen, &e, err, sizeof(err)) == 0)
                spate_agg_states_free(e.states, conf.nfns);
        spate_winstate_t *ws = spate_winstate_new(&conf);
        if (!ws)
                abort();
        /* Loaded twice: the second replaces the first (and a NULL value deletes). */
        spate_winstate_load(ws, key, klen, val, vlen, err, sizeof(err));
        spate_winstate_load(ws, key, klen, val, vlen, err, sizeof(err));
        spate_winstate_close(ws);
        spate_winstate_load(ws, key, klen, NULL, 0, err, sizeof(err));
        spate_winstate_free(ws);
}

static void meta(const uint8_t *p, size_t n) {
        static spate_winmeta_t m, again;
        char err[256];
        spate_buf_t b = { 0 }, b2 = { 0 };
        if (spate_winmeta_decode(p, n, &m, err, sizeof(err)))
                return;
        spate_winmeta_encode(&m, &b);
        if (spate_winmeta_decode(b.data, b.len, &again, err, sizeof(err)))
                abort(); /* what it wrote, it must read */
        spate_winmeta_encode(&again, &b2);
        if (b.len != b2.len || memcmp(b.data, b2.data, b.len))
                abort();
        spate_buf_free(&b);
        spate_buf_free(&b2);
}

static void pack(const uint8_t *p, size_t n) {
        char err[256];
        spate_wpack_rd_t rd;
        spate_wrepart_t r;
        spate_val_t vals[8];
        spate_wcomb_t c;
        spate_wmark_t marks[64];
        const void *raw;
        size_t rawlen;
        int kind, ns;
        spate_agg_state_t *states;
        if (spate_wpack_open(p, n, &rd, err, sizeof(err)))
                return;
        while ((kind = spate_wpack_next(&rd, &r, vals, 8, &c, &raw, &rawlen, err, sizeof(err))) > 0) {
                unsigned h = 0;
                for (size_t i = 0; i < rawlen; i++)
                        h += ((const uint8_t *)raw)[i];
                if (kind == 1) {
                        for (size_t i = 0; i < r.glen; i++)
                                h += (uint8_t)r.group[i];
                        for (size_t i = 0; r.id && i < r.idlen; i++)  /* corrections after group_by */
                                h += (uint8_t)r.id[i];
                }
                if (kind == 2 && spate_agg_state_decode(c.states, c.slen, &states, &ns, err, sizeof(err)) == 0)
                        spate_agg_states_free(states, ns);
                (void)h;
        }
        if (kind == 0)
                spate_wpack_marks(&rd, marks, 64, err, sizeof(err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size == 0)
                return 0;
        switch (data[0] >> 4) {
        case 0: meta(data + 1, size - 1); break;
        case 1: pack(data + 1, size - 1); break;
        default: entry(data[0] & 0xf, data + 1, size - 1); break;
        }
        return 0;
}
