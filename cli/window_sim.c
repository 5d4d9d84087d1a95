/* window_sim.c - `spate window-sim`: runs records (JSON lines on stdin) through
 * core/window and core/agg with state in a RocksDB store, the way the window
 * operator does, and prints every window's final value and the late records in
 * the format of tests/ref/windows_ref.py. A hidden test aid, not a user command.
 * Stream time is kept per partition, in memory. */
#include "commands.h"
#include "../core/agg.h"
#include "../core/store.h"
#include "../core/window.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_AGGS 16

typedef struct {
        spate_window_spec_t spec;
        spate_agg_fn_t fns[MAX_AGGS];
        int nfns;
        spate_store_t *store;
        spate_store_cf_t *wins, *buckets;  /* buckets: sliding, per record time */
        spate_store_batch_t *batch;
        int64_t *stream_time;              /* by partition */
        int *seen;
        int npart;
        json_t *late;
        char err[512];
} sim_t;

typedef struct {
        const char *key;
        size_t klen;
        int64_t t;
        spate_val_t v;
        spate_agg_origin_t o;
} rec_t;

/* A window's stored form: 8-byte end (LE) then the encoded aggregate states. */
typedef struct {
        int64_t start, end;
        spate_agg_state_t *states;
} win_t;

static int win_decode(sim_t *s, const char *val, size_t vlen, win_t *w) {
        uint64_t u = 0;
        int n = 0;

        if (vlen < 8)
                goto bad;
        for (int i = 7; i >= 0; i--)
                u = u << 8 | (unsigned char)val[i];
        w->end = (int64_t)u;
        if (spate_agg_state_decode(val + 8, vlen - 8, &w->states, &n, s->err, sizeof(s->err)))
                return -1;
        if (n == s->nfns)
                return 0;
        spate_agg_states_free(w->states, n);
bad:
        snprintf(s->err, sizeof(s->err), "stored window has the wrong shape");
        return -1;
}

static int win_put(sim_t *s, spate_store_cf_t *cf, const rec_t *r, const win_t *w) {
        char key[SPATE_WINKEY_SIZE(r->klen)];
        char *enc, *val;
        size_t elen;
        uint64_t u = (uint64_t)w->end;

        if (spate_agg_state_encode(w->states, s->nfns, &enc, &elen, s->err, sizeof(s->err)))
                return -1;
        if (!(val = malloc(elen + 8))) {
                free(enc);
                return -1;
        }
        for (int i = 0; i < 8; i++, u >>= 8)
                val[i] = (char)u;
        memcpy(val + 8, enc, elen);
        spate_winkey_encode(r->key, r->klen, w->start, key);
        spate_store_batch_put(s->batch, cf, key, sizeof(key), val, elen + 8);
        free(enc);
        free(val);
        return 0;
}

/* Loads the window (key, start) or makes an empty one; 0 or -1. */
static int win_load(sim_t *s, spate_store_cf_t *cf, const rec_t *r, int64_t start,
                    int64_t end, win_t *w) {
        char key[SPATE_WINKEY_SIZE(r->klen)];
        char *val = NULL;
        size_t vlen;
        int rc;

        spate_winkey_encode(r->key, r->klen, start, key);
        rc = spate_store_get(cf, key, sizeof(key), &val, &vlen, s->err, sizeof(s->err));
        w->start = start;
        if (rc == 1) {
                w->end = end;
                w->states = spate_agg_states_new(s->fns, s->nfns);
                return w->states ? 0 : -1;
        }
        if (rc == 0)
                rc = win_decode(s, val, vlen, w);
        free(val);
        return rc;
}

static int update(sim_t *s, win_t *w, const rec_t *r) {
        for (int i = 0; i < s->nfns; i++)
                if (spate_agg_update(&w->states[i], &r->v, &r->o) < 0)
                        return -1;
        return 0;
}

/* Updates (with r) and stores the loaded window, releasing its states. */
static int update_put(sim_t *s, spate_store_cf_t *cf, win_t *w, const rec_t *r) {
        int rc = update(s, w, r) || win_put(s, cf, r, w) ? -1 : 0;

        spate_agg_states_free(w->states, s->nfns);
        w->states = NULL;
        return rc;
}

static int write_batch(sim_t *s) {
        int rc = spate_store_write(s->store, s->batch, s->err, sizeof(s->err));

        spate_store_batch_clear(s->batch);
        return rc;
}

/* Calls fn on every stored window of r's key with start in [from, to). */
static int scan(sim_t *s, spate_store_cf_t *cf, const rec_t *r, int64_t from, int64_t to,
                int (*fn)(sim_t *, const rec_t *, win_t *, void *), void *arg) {
        char lo[SPATE_WINKEY_SIZE(r->klen)], hi[SPATE_WINKEY_SIZE(r->klen)];
        spate_store_iter_t *it;
        const char *k, *v, *key;
        size_t kl, vl, len, klen;
        win_t w;
        int rc;

        spate_winkey_range_starts(r->key, r->klen, from, to, lo, hi, &len);
        if (spate_store_iter_new(cf, lo, len, hi, len, &it, s->err, sizeof(s->err)))
                return -1;
        while ((rc = spate_store_iter_next(it, &k, &kl, &v, &vl, s->err, sizeof(s->err))) == 1) {
                if (spate_winkey_decode(k, kl, &key, &klen, &w.start) ||
                    win_decode(s, v, vl, &w) || (rc = fn(s, r, &w, arg))) {
                        rc = -1;
                        break;
                }
        }
        spate_store_iter_destroy(it);
        return rc < 0 ? -1 : 0;
}

static int process_fixed(sim_t *s, const rec_t *r, int64_t stream_time) {
        int64_t starts[64];
        int n = spate_window_assign(&s->spec, r->t, stream_time, starts, 64);
        win_t w;

        if (n <= 0)
                return n < 0 ? -1 : 1;
        for (int i = 0; i < n; i++)
                if (win_load(s, s->wins, r, starts[i], starts[i] + s->spec.size, &w) ||
                    update_put(s, s->wins, &w, r))
                        return -1;
        return write_batch(s);
}

static int sliding_add(sim_t *s, const rec_t *r, win_t *w, void *own_exists) {
        if (w->end == r->t)
                *(int *)own_exists = 1;
        return update_put(s, s->wins, w, r);
}

static int bucket_merge(sim_t *s, const rec_t *r, win_t *bucket, void *into) {
        (void)r;
        int rc = spate_agg_states_merge(((win_t *)into)->states, bucket->states, s->nfns);

        spate_agg_states_free(bucket->states, s->nfns);
        return rc;
}

static int process_sliding(sim_t *s, const rec_t *r, int64_t stream_time) {
        spate_sliding_assign_t a;
        int64_t size = s->spec.size;
        int own_exists = 0;
        win_t w;

        if (spate_window_sliding_assign(&s->spec, r->t, stream_time, &a))
                return 1;
        /* The bucket goes first so that creating the record's own window below
         * reads it back with the record inside. */
        if (win_load(s, s->buckets, r, r->t, r->t, &w) || update_put(s, s->buckets, &w, r) ||
            write_batch(s))
                return -1;
        if (a.end_lo <= a.end_hi &&
            scan(s, s->wins, r, a.end_lo - size, a.end_hi - size + 1, sliding_add, &own_exists))
                return -1;
        if (a.create_own && !own_exists) {
                w = (win_t){ r->t - size, r->t, spate_agg_states_new(s->fns, s->nfns) };
                if (!w.states || scan(s, s->buckets, r, r->t - size, r->t + 1, bucket_merge, &w) ||
                    win_put(s, s->wins, r, &w)) {
                        spate_agg_states_free(w.states, s->nfns);
                        return -1;
                }
                spate_agg_states_free(w.states, s->nfns);
        }
        return write_batch(s);
}

typedef struct {
        spate_session_t *sess;
        win_t *wins;
        int n, cap;
} sessions_t;

static int session_collect(sim_t *s, const rec_t *r, win_t *w, void *arg) {
        sessions_t *ss = arg;
        (void)r;

        if (ss->n == ss->cap) {
                int cap = ss->cap ? ss->cap * 2 : 8;
                spate_session_t *sess = realloc(ss->sess, (size_t)cap * sizeof(*sess));
                if (sess)
                        ss->sess = sess;
                win_t *wins = realloc(ss->wins, (size_t)cap * sizeof(*wins));
                if (wins)
                        ss->wins = wins;
                if (!sess || !wins) {
                        spate_agg_states_free(w->states, s->nfns);
                        return -1;
                }
                ss->cap = cap;
        }
        ss->sess[ss->n] = (spate_session_t){ w->start, w->end };
        ss->wins[ss->n++] = *w;
        return 0;
}

static int session_apply(sim_t *s, const rec_t *r, sessions_t *ss, int64_t stream_time) {
        spate_session_t merged;
        int absorbed[ss->n + 1], nabs, late;
        char key[SPATE_WINKEY_SIZE(r->klen)];
        win_t w;

        late = spate_window_session_assign(&s->spec, r->t, stream_time, ss->sess, ss->n,
                                           &merged, absorbed, &nabs);
        if (late)
                return 1;
        w = (win_t){ merged.first, merged.last, spate_agg_states_new(s->fns, s->nfns) };
        if (!w.states)
                return -1;
        for (int i = 0; i < nabs; i++) {
                /* Deleted first, so a merged session keeping this start is re-put. */
                spate_winkey_encode(r->key, r->klen, ss->sess[absorbed[i]].first, key);
                spate_store_batch_delete(s->batch, s->wins, key, sizeof(key));
                if (spate_agg_states_merge(w.states, ss->wins[absorbed[i]].states, s->nfns))
                        return spate_agg_states_free(w.states, s->nfns), -1;
        }
        if (update_put(s, s->wins, &w, r))
                return -1;
        return write_batch(s);
}

static int process_session(sim_t *s, const rec_t *r, int64_t stream_time) {
        sessions_t ss = { 0 };
        int rc = scan(s, s->wins, r, INT64_MIN, INT64_MAX, session_collect, &ss);

        if (rc == 0)
                rc = session_apply(s, r, &ss, stream_time);
        for (int i = 0; i < ss.n; i++)
                spate_agg_states_free(ss.wins[i].states, s->nfns);
        free(ss.sess);
        free(ss.wins);
        return rc;
}

static int64_t advance_stream_time(sim_t *s, int p, int64_t t) {
        if (p >= s->npart) {
                int n = p + 1;
                int64_t *st = realloc(s->stream_time, (size_t)n * sizeof(*st));
                int *seen = st ? realloc(s->seen, (size_t)n * sizeof(*seen)) : NULL;
                if (st)
                        s->stream_time = st;
                if (!seen)
                        return INT64_MAX;   /* out of memory: everything is late */
                s->seen = seen;
                memset(seen + s->npart, 0, (size_t)(n - s->npart) * sizeof(*seen));
                s->npart = n;
        }
        if (!s->seen[p] || t > s->stream_time[p])
                s->stream_time[p] = t;
        s->seen[p] = 1;
        return s->stream_time[p];
}

static int parse_record(json_t *obj, rec_t *r, char *err, size_t errsz) {
        json_t *key = json_object_get(obj, "key"), *t = json_object_get(obj, "t");
        json_t *v = json_object_get(obj, "v"), *p = json_object_get(obj, "p");
        json_t *o = json_object_get(obj, "o");

        if (!json_is_string(key) || !json_is_integer(t) || !json_is_integer(p) ||
            !json_is_integer(o) || json_integer_value(p) < 0 ||
            json_integer_value(p) > 65535) {
                snprintf(err, errsz, "record needs string key, integer t, p (0..65535), o");
                return -1;
        }
        memset(r, 0, sizeof(*r));
        r->key = json_string_value(key);
        r->klen = json_string_length(key);
        r->t = json_integer_value(t);
        r->o = (spate_agg_origin_t){ r->t, (int32_t)json_integer_value(p), json_integer_value(o) };
        if (json_is_number(v))
                r->v = (spate_val_t){ .type = SPATE_VAL_NUM, .num = json_number_value(v) };
        else if (json_is_string(v))
                r->v = (spate_val_t){ .type = SPATE_VAL_STR, .str = json_string_value(v),
                                      .len = json_string_length(v) };
        else if (json_is_boolean(v))
                r->v = (spate_val_t){ .type = SPATE_VAL_BOOL, .b = json_is_true(v) };
        return 0;
}

static int process_line(sim_t *s, const char *line) {
        json_error_t jerr;
        json_t *obj = json_loads(line, 0, &jerr);
        rec_t r;
        int rc;

        if (!obj) {
                snprintf(s->err, sizeof(s->err), "bad JSON: %s", jerr.text);
                return -1;
        }
        if (parse_record(obj, &r, s->err, sizeof(s->err))) {
                json_decref(obj);
                return -1;
        }
        int64_t st = advance_stream_time(s, r.o.partition, r.t);
        switch (s->spec.type) {
        case SPATE_WINDOW_SLIDING: rc = process_sliding(s, &r, st); break;
        case SPATE_WINDOW_SESSION: rc = process_session(s, &r, st); break;
        default: rc = process_fixed(s, &r, st); break;
        }
        if (rc == 1)
                json_array_append_new(s->late, json_pack("{s:{s:s%,s:I,s:i,s:I}}", "late", "key",
                                      r.key, r.klen, "t", (json_int_t)r.t, "p", r.o.partition,
                                      "o", (json_int_t)r.o.offset));
        json_decref(obj);
        return rc < 0 ? -1 : 0;
}

static json_t *val_json(const spate_val_t *v) {
        switch (v->type) {
        case SPATE_VAL_NUM: return json_real(v->num);
        case SPATE_VAL_STR: return json_stringn(v->str, v->len);
        case SPATE_VAL_BOOL: return json_boolean(v->b);
        default: return json_null();
        }
}

static void print_json(json_t *j) {
        char *line = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));

        if (line)
                puts(line);
        free(line);
        json_decref(j);
}

static int print_windows(sim_t *s) {
        spate_store_iter_t *it;
        const char *k, *v, *key;
        size_t kl, vl, klen;
        spate_val_t res;
        win_t w;
        int rc;

        if (spate_store_iter_new(s->wins, NULL, 0, NULL, 0, &it, s->err, sizeof(s->err)))
                return -1;
        while ((rc = spate_store_iter_next(it, &k, &kl, &v, &vl, s->err, sizeof(s->err))) == 1) {
                if (spate_winkey_decode(k, kl, &key, &klen, &w.start) || win_decode(s, v, vl, &w)) {
                        rc = -1;
                        break;
                }
                json_t *row = json_pack("{s:s%,s:I,s:I}", "key", key, klen,
                                        "window_start", (json_int_t)w.start,
                                        "window_end", (json_int_t)w.end);
                for (int i = 0; i < s->nfns; i++) {
                        spate_agg_result(&w.states[i], &res);
                        int integral = s->fns[i] == SPATE_AGG_COUNT ||
                                       s->fns[i] == SPATE_AGG_COUNT_DISTINCT;
                        json_object_set_new(row, spate_agg_fn_name(s->fns[i]), integral ?
                                            json_integer((json_int_t)res.num) : val_json(&res));
                }
                spate_agg_states_free(w.states, s->nfns);
                print_json(row);
        }
        spate_store_iter_destroy(it);
        for (size_t i = 0; i < json_array_size(s->late); i++)
                print_json(json_incref(json_array_get(s->late, i)));
        return rc < 0 ? -1 : 0;
}

static int parse_aggs(sim_t *s, const char *list) {
        char buf[256], *save = NULL;

        snprintf(buf, sizeof(buf), "%s", list);
        s->nfns = 0;
        for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                if (s->nfns == MAX_AGGS || spate_agg_fn_parse(tok, &s->fns[s->nfns])) {
                        snprintf(s->err, sizeof(s->err), "bad aggregate '%s'", tok);
                        return -1;
                }
                s->nfns++;
        }
        return 0;
}

static int parse_args(sim_t *s, int argc, char **argv, const char **dirp) {
        static const struct option opts[] = {
                { "type", 1, 0, 't' }, { "size", 1, 0, 's' }, { "advance", 1, 0, 'a' },
                { "gap", 1, 0, 'g' }, { "grace", 1, 0, 'G' }, { "aggs", 1, 0, 'A' },
                { "dir", 1, 0, 'd' }, { 0, 0, 0, 0 }
        };
        int c;

        optind = 1;
        if (parse_aggs(s, "count,sum,mean,min,max,first,last,count_distinct"))
                return -1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 't':
                        if (spate_window_type_parse(optarg, &s->spec.type)) {
                                snprintf(s->err, sizeof(s->err), "bad --type %s", optarg);
                                return -1;
                        }
                        break;
                case 's': s->spec.size = strtoll(optarg, NULL, 10); break;
                case 'a': s->spec.advance = strtoll(optarg, NULL, 10); break;
                case 'g': s->spec.gap = strtoll(optarg, NULL, 10); break;
                case 'G': s->spec.grace = strtoll(optarg, NULL, 10); break;
                case 'A': if (parse_aggs(s, optarg)) return -1; break;
                case 'd': *dirp = optarg; break;
                default:
                        snprintf(s->err, sizeof(s->err), "usage: spate window-sim --type T "
                                 "[--size MS --advance MS --gap MS --grace MS --aggs a,b "
                                 "--dir DIR] < records.jsonl");
                        return -1;
                }
        }
        return spate_window_spec_check(&s->spec, s->err, sizeof(s->err));
}

static int run(sim_t *s, const char *dir) {
        char *line = NULL;
        size_t cap = 0;
        int rc = 0;

        if (spate_store_open(dir, 64, &s->store, s->err, sizeof(s->err)) ||
            spate_store_cf(s->store, "windows", &s->wins, s->err, sizeof(s->err)) ||
            spate_store_cf(s->store, "buckets", &s->buckets, s->err, sizeof(s->err)) ||
            !(s->batch = spate_store_batch_new()) || !(s->late = json_array()))
                return -1;
        while (rc == 0 && getline(&line, &cap, stdin) > 0)
                if (line[strspn(line, " \t\r\n")])
                        rc = process_line(s, line);
        free(line);
        return rc ? rc : print_windows(s);
}

int spate_cmd_window_sim(int argc, char **argv) {
        sim_t s = { 0 };
        const char *dir = NULL;
        char tmp[] = "/tmp/spate-window-sim.XXXXXX", dbdir[64];
        int rc;

        if (parse_args(&s, argc, argv, &dir)) {
                fprintf(stderr, "window-sim: %s\n", s.err);
                return 2;
        }
        if (!dir) {
                if (!mkdtemp(tmp)) {
                        perror("window-sim: mkdtemp");
                        return 1;
                }
                snprintf(dbdir, sizeof(dbdir), "%s/db", tmp);
        }
        rc = run(&s, dir ? dir : dbdir);
        if (rc)
                fprintf(stderr, "window-sim: %s\n", s.err);
        spate_store_batch_destroy(s.batch);
        spate_store_close(s.store);
        json_decref(s.late);
        free(s.stream_time);
        free(s.seen);
        if (!dir && !spate_store_destroy_dir(dbdir, s.err, sizeof(s.err)))
                rmdir(tmp);
        return rc ? 1 : 0;
}
