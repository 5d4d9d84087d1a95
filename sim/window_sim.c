/* window_sim.c - `spate window-sim`: runs records (JSON lines on stdin) through
 * core/winstate - the window state the `window` node runs, one task per
 * partition - then writes every entry to a RocksDB store with the node's
 * encoding, reads them back and prints every window's final value and the late
 * records in the format of tests/ref/windows_ref.py. A hidden test aid, not a
 * user command. */
#include "../cli/commands.h"
#include "../state/store.h"
#include "../operators/window/winstate.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_AGGS 16
#define MAX_PARTS 1024

typedef struct {
        spate_winconf_t conf;
        spate_agg_fn_t fns[MAX_AGGS];
        spate_winstate_t *parts[MAX_PARTS];  /* one task per partition */
        spate_store_t *store;
        spate_store_batch_t *batch;
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

static spate_winstate_t *task(sim_t *s, int p) {
        if (!s->parts[p])
                s->parts[p] = spate_winstate_new(&s->conf);
        return s->parts[p];
}

static int parse_record(json_t *obj, rec_t *r, char *err, size_t errsz) {
        json_t *key = json_object_get(obj, "key"), *t = json_object_get(obj, "t");
        json_t *v = json_object_get(obj, "v"), *p = json_object_get(obj, "p");
        json_t *o = json_object_get(obj, "o");

        if (!json_is_string(key) || !json_is_integer(t) || !json_is_integer(p) ||
            !json_is_integer(o) || json_integer_value(p) < 0 ||
            json_integer_value(p) >= MAX_PARTS) {
                snprintf(err, errsz, "record needs string key, integer t, p (0..1023), o");
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
        spate_val_t vals[MAX_AGGS];
        spate_winstate_t *ws;
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
        for (int i = 0; i < s->conf.nfns; i++)
                vals[i] = r.v;
        if (!(ws = task(s, r.o.partition))) {
                snprintf(s->err, sizeof(s->err), "out of memory");
                json_decref(obj);
                return -1;
        }
        rc = spate_winstate_add(ws, &(spate_wrec_t){ r.key, r.klen, r.t, vals, r.o, INT64_MIN, NULL, 0 });
        /* Close and expire as punctuate and commits would (closed windows
         * stay, retention being infinite; sliding buckets go when unneeded). */
        spate_winstate_close(ws);
        if (r.o.offset % 64 == 0)
                spate_winstate_clean(ws);
        if (rc == 1)
                json_array_append_new(s->late, json_pack("{s:{s:s%,s:I,s:i,s:I}}", "late", "key",
                                      r.key, r.klen, "t", (json_int_t)r.t, "p", r.o.partition,
                                      "o", (json_int_t)r.o.offset));
        if (rc < 0)
                snprintf(s->err, sizeof(s->err), "out of memory");
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

/* Writes every entry of a task to its column family, the way a commit does. */
typedef struct {
        sim_t *s;
        spate_store_cf_t *cf;
        spate_buf_t buf;
} put_t;

static int put_entry(void *opaque, const spate_wgroup_t *g, int bucket, spate_went_t *e) {
        put_t *p = opaque;
        char key[SPATE_WENT_KEY_MAX(g->klen)];
        size_t klen = spate_went_key(g->key, g->klen, bucket, e->start, key);
        p->buf.len = 0;
        if (spate_went_encode(&p->s->conf, e, &p->buf))
                return -1;
        spate_store_batch_put(p->s->batch, p->cf, key, klen, p->buf.data, p->buf.len);
        return 0;
}

static int persist(sim_t *s, spate_store_cf_t **cfs) {
        put_t p = { s, NULL, { 0 } };
        int rc = 0;
        for (int i = 0; i < MAX_PARTS && !rc; i++) {
                char name[32];
                if (!s->parts[i])
                        continue;
                snprintf(name, sizeof(name), "windows-%d", i);
                if ((rc = spate_store_cf(s->store, name, &cfs[i], s->err, sizeof(s->err))))
                        break;
                p.cf = cfs[i];
                if (spate_winstate_each(s->parts[i], put_entry, &p))
                        rc = -1;
        }
        spate_buf_free(&p.buf);
        return rc ? rc : spate_store_write(s->store, s->batch, s->err, sizeof(s->err));
}

/* Prints every window read back from the store (the codec and the store in
 * the loop, as a restore would read them). */
static int print_cf(sim_t *s, spate_store_cf_t *cf) {
        spate_store_iter_t *it;
        const char *k, *v, *key;
        size_t kl, vl, klen;
        spate_went_t w;
        spate_val_t res;
        int rc, bucket;

        if (spate_store_iter_new(cf, NULL, 0, NULL, 0, &it, s->err, sizeof(s->err)))
                return -1;
        while ((rc = spate_store_iter_next(it, &k, &kl, &v, &vl, s->err, sizeof(s->err))) == 1) {
                int64_t start;
                if (spate_went_key_decode(k, kl, &key, &klen, &bucket, &start) ||
                    spate_went_decode(&s->conf, v, vl, &w, s->err, sizeof(s->err))) {
                        rc = -1;
                        break;
                }
                if (bucket) {
                        spate_agg_states_free(w.states, s->conf.nfns);
                        continue;
                }
                json_t *row = json_pack("{s:s%,s:I,s:I}", "key", key, klen,
                                        "window_start", (json_int_t)start,
                                        "window_end", (json_int_t)w.end);
                for (int i = 0; i < s->conf.nfns; i++) {
                        spate_agg_result(&w.states[i], &res);
                        int integral = s->fns[i] == SPATE_AGG_COUNT ||
                                       s->fns[i] == SPATE_AGG_COUNT_DISTINCT;
                        json_object_set_new(row, spate_agg_fn_name(s->fns[i]), integral ?
                                            json_integer((json_int_t)res.num) : val_json(&res));
                }
                spate_agg_states_free(w.states, s->conf.nfns);
                print_json(row);
        }
        spate_store_iter_destroy(it);
        return rc < 0 ? -1 : 0;
}

static int print_windows(sim_t *s) {
        spate_store_cf_t *cfs[MAX_PARTS] = { 0 };
        if (persist(s, cfs))
                return -1;
        for (int i = 0; i < MAX_PARTS; i++)
                if (cfs[i] && print_cf(s, cfs[i]))
                        return -1;
        for (size_t i = 0; i < json_array_size(s->late); i++)
                print_json(json_incref(json_array_get(s->late, i)));
        return 0;
}

static int parse_aggs(sim_t *s, const char *list) {
        char buf[256], *save = NULL;

        snprintf(buf, sizeof(buf), "%s", list);
        s->conf.nfns = 0;
        for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                if (s->conf.nfns == MAX_AGGS || spate_agg_fn_parse(tok, &s->fns[s->conf.nfns])) {
                        snprintf(s->err, sizeof(s->err), "bad aggregate '%s'", tok);
                        return -1;
                }
                s->conf.nfns++;
        }
        s->conf.fns = s->fns;
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
                        if (spate_window_type_parse(optarg, &s->conf.spec.type)) {
                                snprintf(s->err, sizeof(s->err), "bad --type %s", optarg);
                                return -1;
                        }
                        break;
                case 's': s->conf.spec.size = strtoll(optarg, NULL, 10); break;
                case 'a': s->conf.spec.advance = strtoll(optarg, NULL, 10); break;
                case 'g': s->conf.spec.gap = strtoll(optarg, NULL, 10); break;
                case 'G': s->conf.spec.grace = strtoll(optarg, NULL, 10); break;
                case 'A': if (parse_aggs(s, optarg)) return -1; break;
                case 'd': *dirp = optarg; break;
                default:
                        snprintf(s->err, sizeof(s->err), "usage: spate window-sim --type T "
                                 "[--size MS --advance MS --gap MS --grace MS --aggs a,b "
                                 "--dir DIR] < records.jsonl");
                        return -1;
                }
        }
        return spate_window_spec_check(&s->conf.spec, s->err, sizeof(s->err));
}

static int run(sim_t *s, const char *dir) {
        char *line = NULL;
        size_t cap = 0;
        int rc = 0;

        /* Every window is printed, so none expires. */
        s->conf.retention = INT64_MAX;
        if (spate_store_open(dir, 64, &s->store, s->err, sizeof(s->err)) ||
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
        for (int i = 0; i < MAX_PARTS; i++)
                spate_winstate_free(s.parts[i]);
        if (!dir && !spate_store_destroy_dir(dbdir, s.err, sizeof(s.err)))
                rmdir(tmp);
        return rc ? 1 : 0;
}
