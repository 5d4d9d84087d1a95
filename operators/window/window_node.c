/* window_node.c - the `window` node: aggregates records per group over tumbling,
 * hopping, sliding or session windows, with state that survives crashes
 * exactly (see docs/exactness.md and window_task.c).
 *
 * This file reads the parameters and runs the record path. With group_by
 * the loader splits the window in two (node.h: upstream): its internal
 * `window_repartition` node (repartition.c) reads the window's `from:`,
 * evaluates time, group and the aggregate arguments here (win_eval) and
 * batches them into the window's repartition topic; the engine hands that
 * topic's messages to input() (window_repart.c), whose tasks are the
 * repartition partitions. Without group_by the group is the record key, the
 * tasks are the partitions of the source topic, and process() applies
 * records directly. The window's init parses the parameters of both. */
#include "window_int.h"
#include "../../util/log.h"
#include "../../engine/topology.h"
#include "../../util/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const spate_prop_t window_props[] = {
        { "window", SPATE_P_ENUM, 1, NULL, "tumbling|hopping|sliding|session", "the kind of window" },
        { "size", SPATE_P_DURATION, 0, NULL, NULL, "window length (tumbling, hopping, sliding)" },
        { "advance", SPATE_P_DURATION, 0, NULL, NULL, "hopping: distance between window starts" },
        { "gap", SPATE_P_DURATION, 0, NULL, NULL, "session: inactivity that ends a session" },
        { "grace", SPATE_P_DURATION, 0, "0", NULL, "how long after its end a window still accepts records" },
        { "time", SPATE_P_EXPR, 0, NULL, NULL, "event time in ms (default: the record timestamp)" },
        { "group_by", SPATE_P_EXPR, 0, NULL, NULL,
          "group expression; records are repartitioned by it (default: the record key, no repartition)" },
        { "aggregates", SPATE_P_MAP, 1, NULL, NULL,
          "output field -> count(), sum(e), mean(e), min(e), max(e), first(e), last(e), count_distinct(e), "
          "count_if(e), stddev(e), stuck(e), staleness(), completeness(P) or spikes(e, L)" },
        { "emit", SPATE_P_ENUM, 0, "update", "update|final",
          "update: each window changed since the last commit, at every commit; final: once, when it closes" },
        { "close_after_idle", SPATE_P_DURATION, 0, NULL, NULL,
          "once a partition had no record this long, its stream time follows the wall clock" },
        { "retention", SPATE_P_DURATION, 0, NULL, NULL,
          "how long closed windows are kept to reject replays (default size+grace, or gap+grace)" },
        { "partitions", SPATE_P_COUNT, 0, "8", NULL, "partition count of the repartition topic (group_by)" },
        { "store", SPATE_P_STR, 0, NULL, NULL, "state store name (default: the node name)" },
        { "fill", SPATE_P_ENUM, 0, "none", "none|null|previous|linear",
          "tumbling: one output per group and interval from its first reading on; an interval "
          "without readings gets null values, the previous ones or values interpolated up to the "
          "next readings, flagged gap" },
        { "dedupe_by", SPATE_P_EXPR, 0, NULL, NULL,
          "a reading's id: a later record with the same id in a window is a new version of it (see corrections)" },
        { "corrections", SPATE_P_ENUM, 0, "replace", "replace|ignore",
          "dedupe_by: replace takes the earlier version's values out of the window (count, sum, mean, "
          "count_if, stddev) and puts the new ones in, revising a closed window within retention; "
          "ignore keeps the first version" },
        { "fill_max", SPATE_P_DURATION, 0, "1h", NULL,
          "fill: gaps are filled up to this long after a group's last reading (the last one flagged stale)" },
        { NULL }
};

/* What init only stores. `window`, `emit` and `fill` are stored as the index
 * of their choice: the order of spate_window_type_t, emit_final (update: 0)
 * and SPATE_FILL_* (test_topology checks the first and last). Without
 * group_by, `partitions` is replaced by the source's count (declare_topics). */
static const spate_bind_t window_binds[] = {
        SPATE_BIND_CHOICE("window", win_t, conf.spec.type),
        SPATE_BIND("size", win_t, conf.spec.size),
        SPATE_BIND("advance", win_t, conf.spec.advance),
        SPATE_BIND("gap", win_t, conf.spec.gap),
        SPATE_BIND("grace", win_t, conf.spec.grace),
        SPATE_BIND_CHOICE("emit", win_t, conf.emit_final),
        SPATE_BIND("close_after_idle", win_t, idle_ms),
        SPATE_BIND("retention", win_t, conf.retention),
        SPATE_BIND("partitions", win_t, partitions),
        SPATE_BIND("store", win_t, store),
        SPATE_BIND_CHOICE("fill", win_t, conf.fill),
        SPATE_BIND("fill_max", win_t, conf.fill_max),
        { NULL }
};

static int agg_error(spate_node_t *n, const spate_yaml_t *y, size_t pos, char *errstr,
                     size_t errstr_size, const char *name, const char *msg) {
        snprintf(errstr, errstr_size, "%s:%d:%d: window node '%s': aggregate '%s': %s", y->file,
                 y->line, y->col + (y->quoted ? 1 : 0) + (int)pos, n->name, name, msg);
        return -1;
}

/* Compiles the argument at spec[off, off+len) with positions in the file;
 * identical argument texts share one expression (evaluated once per record). */
static int compile_arg(spate_node_t *n, win_t *w, const spate_yaml_t *y, size_t off, size_t len,
                       char *errstr, size_t errstr_size) {
        char *text = strndup(y->value + off, len);
        spate_expr_env_t env = { spate_node_shapes(n), n->in, y->file, y->line,
                                 y->col + (y->quoted ? 1 : 0) + (int)off };
        int i;
        if (!text)
                return -1;
        for (i = 0; i < w->nargs; i++)
                if (!strcmp(spate_expr_text(w->args[i]), text))
                        break;
        if (i == w->nargs && !(w->args[w->nargs++] = spate_expr_compile(text, &env, errstr, errstr_size))) {
                w->nargs--;
                free(text);
                return -1;
        }
        free(text);
        return i;
}

static int parse_aggregates(spate_node_t *n, win_t *w, char *errstr, size_t errstr_size) {
        const spate_yaml_t *aggs = spate_node_param(n, "aggregates");
        spate_shape_pool_t *pool = spate_node_shapes(n);
        char err[512];

        if (!aggs->n)
                return spate_node_error(n, aggs, errstr, errstr_size, "'aggregates' is empty");
        if (aggs->n > WIN_MAX_AGGS)
                return spate_node_error(n, aggs, errstr, errstr_size, "more than %d aggregates",
                                        WIN_MAX_AGGS);
        for (int i = 0; i < aggs->n; i++) {
                const spate_yaml_t *y = aggs->items[i];
                const char *name = aggs->keys[i]->value;
                size_t off, len, pos;
                if (y->kind != SPATE_YAML_SCALAR)
                        return spate_node_error(n, y, errstr, errstr_size,
                                                "aggregate '%s' must be fn(expression)", name);
                if (!strcmp(name, "key") || !strcmp(name, "window_start") || !strcmp(name, "window_end") ||
                    (w->conf.fill && (!strcmp(name, "gap") || !strcmp(name, "stale"))))
                        return spate_node_error(n, aggs->keys[i], errstr, errstr_size,
                                                "'%s' is an output field of this window; name the "
                                                "aggregate otherwise", name);
                if (spate_agg_spec_parse(y->value, &w->fns[i], &off, &len, &w->params[i], &pos, err,
                                         sizeof(err)))
                        return agg_error(n, y, pos, errstr, errstr_size, name, err);
                w->names[i] = name;
                w->arg_of[i] = -1;
                if (len && (w->arg_of[i] = compile_arg(n, w, y, off, len, errstr, errstr_size)) < 0)
                        return -1;
                int numeric = spate_agg_fn_counts(w->fns[i]) || w->fns[i] == SPATE_AGG_COUNT_DISTINCT;
                spate_shape_add(pool, n->out, name, NULL, numeric ? SPATE_V_NUM : SPATE_V_MISSING);
        }
        w->conf.nfns = aggs->n;
        w->conf.fns = w->fns;
        w->conf.params = w->params;
        return 0;
}

static int parse_spec(spate_node_t *n, win_t *w, char *errstr, size_t errstr_size) {
        spate_window_spec_t *s = &w->conf.spec;
        char err[256];
        if (s->type == SPATE_WINDOW_TUMBLING)
                s->advance = s->size;
        static const char *const need[] = { "size", "size", "size", "gap" };
        if (!spate_node_param(n, need[s->type]) ||
            (s->type == SPATE_WINDOW_HOPPING && !spate_node_param(n, "advance")))
                return spate_node_error(n, NULL, errstr, errstr_size, "a %s window needs '%s:'%s",
                                        spate_window_type_name(s->type), need[s->type],
                                        s->type == SPATE_WINDOW_HOPPING ? " and 'advance:'" : "");
        if (spate_window_spec_check(s, err, sizeof(err)))
                return spate_node_error(n, NULL, errstr, errstr_size, "%s", err);
        if (s->type == SPATE_WINDOW_HOPPING && spate_window_max_per_record(s) > SPATE_WINSTATE_MAX_HOPS)
                return spate_node_error(n, spate_node_param(n, "advance"), errstr, errstr_size,
                                        "a record would fall into %d windows (size / advance); at most "
                                        "%d are supported", spate_window_max_per_record(s),
                                        SPATE_WINSTATE_MAX_HOPS);
        if (!spate_node_param(n, "retention"))  /* its default depends on the kind of window */
                w->conf.retention = (s->type == SPATE_WINDOW_SESSION ? s->gap : s->size) + s->grace;
        if (w->conf.fill && s->type != SPATE_WINDOW_TUMBLING)
                return spate_node_error(n, spate_node_param(n, "fill"), errstr, errstr_size,
                                        "fill: resamples tumbling windows only (one interval after "
                                        "another), not %s ones", spate_window_type_name(s->type));
        return 0;
}

/* dedupe_by / corrections (winstate.h): tumbling and hopping windows (with
 * group_by the id travels with each record, uncombined); under replace,
 * retractable aggregates only. */
static int parse_corrections(spate_node_t *n, win_t *w, char *errstr, size_t errstr_size) {
        const spate_yaml_t *y = spate_node_param(n, "dedupe_by");
        /* Read, not bound: it means something only with dedupe_by
         * (SPATE_CORR_NONE without), and its choices are not SPATE_CORR_*'s order. */
        const char *mode = spate_node_str(n, "corrections");
        if (!y) {
                if (spate_node_param(n, "corrections"))
                        return spate_node_error(n, spate_node_param(n, "corrections"), errstr, errstr_size,
                                                "'corrections' needs 'dedupe_by': the expression "
                                                "that names a reading (e.g. dedupe_by: id)");
                return 0;
        }
        if (w->conf.spec.type != SPATE_WINDOW_TUMBLING && w->conf.spec.type != SPATE_WINDOW_HOPPING)
                return spate_node_error(n, y, errstr, errstr_size, "dedupe_by: corrections apply to "
                                        "tumbling and hopping windows, not %s ones",
                                        spate_window_type_name(w->conf.spec.type));
        if (w->conf.fill)
                return spate_node_error(n, y, errstr, errstr_size, "dedupe_by: not with fill: yet");
        w->conf.corrections = !strcmp(mode, "ignore") ? SPATE_CORR_IGNORE : SPATE_CORR_REPLACE;
        for (int i = 0; w->conf.corrections == SPATE_CORR_REPLACE && i < w->conf.nfns; i++)
                if (!spate_agg_fn_retracts(w->fns[i]))
                        return spate_node_error(n, spate_node_param(n, "aggregates")->items[i], errstr,
                                                errstr_size, "aggregate '%s': %s() cannot take back a "
                                                "corrected reading's value; corrections: replace works "
                                                "with count, sum, mean, count_if and stddev (or use "
                                                "corrections: ignore, the first version wins)",
                                                w->names[i], spate_agg_fn_name(w->fns[i]));
        w->dedupe_by = spate_node_expr_typed(n, "dedupe_by", n->in, SPATE_KEY_TYPES,
                                             "a string, number or bool", errstr, errstr_size);
        return w->dedupe_by ? 0 : -1;
}

/* The window's tasks (window_task.c) around its store (state/kv.h), driven
 * by the engine as the node's state (engine/node_state.h, providers in the
 * order attached): the window hands the store its changes before the
 * store's flush frames them, and cleans and evicts its groups after the
 * store's checkpoint wrote them; its tasks are made once the store's are
 * restored. The store keeps the changelog, checkpoints and standbys. */
static const spate_state_ops_t win_before_store = {
        .flush = win_flush,
};
static const spate_state_ops_t win_after_store = {
        .assign = win_assign,
        .assigned = win_assigned,
        .revoke = win_revoke,
        .checkpoint = win_checkpoint,
        .free = win_tasks_free,
};

/* Topics: the input whose partitions are the tasks, and the changelog of
 * its state, which the engine drives from here on. */
static int declare_topics(spate_node_t *n, win_t *w, char *errstr, size_t errstr_size) {
        spate_topology_t *t = n->topo;
        spate_node_t *src = n->from;
        char name[512];
        for (spate_node_t *up = n->from; up; up = up->from) {
                if (up->def == n->def && !w->group)
                        return spate_node_error(n, NULL, errstr, errstr_size,
                                                "a window after window '%s' needs group_by: "
                                                "(its records come from commits, not from "
                                                "input partitions)", up->name);
                src = up;
        }
        if (!src->def->replayable)
                return spate_node_error(n, NULL, errstr, errstr_size,
                                        "a window reads records of a source whose offsets replay "
                                        "(its exactness rests on them), such as kafka_source, not of "
                                        "%s '%s': write those to a topic with kafka_sink and read it "
                                        "with kafka_source", src->def->name, src->name);
        /* The source's own properties (replayable: a topic and its partition count). */
        w->source_topic = spate_node_str(src, "topic");
        w->source_partitions = (int)spate_node_int(src, "partitions");
        if (w->group) {
                if (!(w->marks = malloc(sizeof(*w->marks) * SPATE_WINMETA_MAX_UP)))
                        return spate_node_error(n, NULL, errstr, errstr_size, "out of memory");
                snprintf(name, sizeof(name), "%s-%s-repartition", t->application, n->name);
                w->repartition_topic = strdup(name);
                w->input_topic = strdup(name);
                spate_topology_declare_topic(t, n, name, w->partitions, 0, SPATE_TOPIC_INTERNAL);
                spate_topology_add_input(t, n, name);
        } else {
                w->input_topic = strdup(w->source_topic);
                w->partitions = w->source_partitions;
        }
        w->topo = t;
        /* The changelog keeps the name it had before the window ran on a
         * store: an earlier version's state there is refused (kv.c), not
         * passed over. */
        snprintf(name, sizeof(name), "%s-%s-changelog", t->application, w->store);
        if (!(w->changelog_topic = strdup(name)))
                return spate_node_error(n, NULL, errstr, errstr_size, "out of memory");
        spate_node_add_state(n, &win_before_store, w);
        if (spate_node_add_store_as(n, w->store, name, errstr, errstr_size) ||
            spate_kv_node_uncached(n, w->store))
                return -1;
        spate_node_add_state(n, &win_after_store, w);
        return 0;
}

int win_late(const spate_node_t *n, spate_ctx_t *ctx, const char *fmt, ...) {
        win_t *w = n->ctx;
        char msg[768];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (w->m_late)
                spate_metric_add(w->m_late, 1);
        return spate_ctx_fail(ctx, n, "%s", msg);
}

static int window_init(spate_node_t *n, char *errstr, size_t errstr_size) {
        win_t *w = n->ctx;
        spate_shape_pool_t *pool = spate_node_shapes(n);
        const char *crash = getenv("SPATE_CRASH_AT");

        if (parse_spec(n, w, errstr, errstr_size))
                return -1;
        w->m_late = spate_metrics_counter(spate_metrics_default(), "spate_window_late_records_total",
                                          "Records (or combined batches) that arrived after their window "
                                          "closed (grace passed); they go to the DLQ", "node", n->name, NULL);
        w->m_open = spate_metrics_gauge(spate_metrics_default(), "spate_window_open_windows", "Windows this "
                                        "instance holds open (accepting records) in memory: evicted ones "
                                        "(state_memory_mb) are not counted", "node", n->name, NULL);
        w->m_cache = spate_metrics_gauge(spate_metrics_default(), "spate_store_cache_bytes",
                                         "Bytes the node's key-value store caches hold (bounded by "
                                         "state_memory_mb)", "node", n->name, NULL);
        w->m_fetch = spate_metrics_counter(spate_metrics_default(), "spate_window_state_fetches_total",
                                           "Keys whose windows were not in memory (evicted under "
                                           "state_memory_mb, or new) and were read from RocksDB",
                                           "node", n->name, NULL);
        w->time = spate_node_time_expr(n, "time", n->in, errstr, errstr_size);
        if (!w->time && *errstr)
                return -1;
        w->group = spate_node_expr_typed(n, "group_by", n->in, SPATE_KEY_TYPES, "a string, number or bool",
                                         errstr, errstr_size);
        if (!w->group && *errstr)
                return -1;
        n->out = spate_shape_new(pool, 0);
        spate_shape_add(pool, n->out, "key", NULL, SPATE_V_STR);
        spate_shape_add(pool, n->out, "window_start", NULL, SPATE_V_NUM);
        spate_shape_add(pool, n->out, "window_end", NULL, SPATE_V_NUM);
        if (parse_aggregates(n, w, errstr, errstr_size))
                return -1;
        if (parse_corrections(n, w, errstr, errstr_size))
                return -1;
        w->group_field = w->group ? spate_expr_field_index(w->group) : -1;
        for (int i = 0; i < w->nargs; i++)
                w->arg_field[i] = spate_expr_field_index(w->args[i]);
        if (w->conf.fill) {
                spate_shape_add(pool, n->out, "gap", NULL, SPATE_V_BOOL);
                spate_shape_add(pool, n->out, "stale", NULL, SPATE_V_BOOL);
        }
        if (!w->store)
                w->store = n->name;
        if (declare_topics(n, w, errstr, errstr_size) ||
            (w->group && win_rp_attach(n->from, n, errstr, errstr_size)))
                return -1;
        w->crash_at = crash && *crash ? crash : NULL;
        return 0;
}

static void to_val(const spate_value_t *v, spate_val_t *out) {
        memset(out, 0, sizeof(*out));
        switch (v->type) {
        case SPATE_V_NUM: out->type = SPATE_VAL_NUM; out->num = v->u.num; break;
        case SPATE_V_STR: out->type = SPATE_VAL_STR; out->str = v->u.s; out->len = v->n; break;
        case SPATE_V_BOOL: out->type = SPATE_VAL_BOOL; out->b = v->u.b; break;
        default: out->type = SPATE_VAL_NULL; break;
        }
}

/* Evaluates time, group and the distinct aggregate arguments of rec. A
 * group that is a bare string field and an argument that is a bare number
 * field are read where they lie (what evaluating them gives). */
static int eval_record(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx, int64_t *t,
                       const char **group, size_t *glen, spate_val_t *args) {
        win_t *w = n->ctx;
        spate_arena_t *a = spate_ctx_arena(ctx);
        spate_value_t v;
        char err[512];

        *t = rec->ts;
        if (w->time) {
                if (spate_expr_eval(w->time, rec, a, &v, err, sizeof(err)))
                        return spate_ctx_fail(ctx, n, "time: %s", err);
                if (v.type != SPATE_V_NUM)
                        return spate_ctx_fail(ctx, n, "time '%s' is %s, not a number of ms",
                                              spate_expr_text(w->time), spate_vtype_name(v.type));
                if (spate_time_from_num(v.u.num, t))
                        return spate_ctx_fail(ctx, n, "time '%s' is %g, out of range (at most ±%lld ms "
                                              "from 1970)", spate_expr_text(w->time), v.u.num,
                                              (long long)SPATE_MAX_TIME_MS);
        }
        if (*t < -SPATE_MAX_TIME_MS || *t > SPATE_MAX_TIME_MS)
                return spate_ctx_fail(ctx, n, "the record timestamp %lld is out of range (at most ±%lld ms "
                                      "from 1970)", (long long)*t, (long long)SPATE_MAX_TIME_MS);
        if (w->time && spate_ctx_check_future(ctx, n, *t))
                return -1;
        *group = rec->key ? rec->key : "";
        *glen = rec->key ? rec->key_len : 0;
        const spate_value_t *item;
        if (w->group && (item = spate_record_item(rec, w->group_field, SPATE_V_STR))) {
                *group = item->u.s;
                *glen = item->n;
        } else if (w->group) {
                if (spate_expr_eval(w->group, rec, a, &v, err, sizeof(err)))
                        return spate_ctx_fail(ctx, n, "group_by: %s", err);
                if (spate_value_to_key(&v, a, group, glen))
                        return spate_ctx_fail(ctx, n, "group_by '%s' is %s, not a string, number or bool",
                                              spate_expr_text(w->group), spate_vtype_name(v.type));
        }
        for (int i = 0; i < w->nargs; i++) {
                if ((item = spate_record_item(rec, w->arg_field[i], SPATE_V_NUM))) {
                        to_val(item, &args[i]);
                        continue;
                }
                if (spate_expr_eval(w->args[i], rec, a, &v, err, sizeof(err)))
                        return spate_ctx_fail(ctx, n, "aggregate argument '%s': %s",
                                              spate_expr_text(w->args[i]), err);
                if (v.type == SPATE_V_ARR || v.type == SPATE_V_OBJ)
                        return spate_ctx_fail(ctx, n, "aggregate argument '%s' is %s, not a single value",
                                              spate_expr_text(w->args[i]), spate_vtype_name(v.type));
                to_val(&v, &args[i]);
        }
        return 0;
}

void win_per_aggregate(const win_t *w, const spate_val_t *args, spate_val_t *vals) {
        static const spate_val_t null_val = { .type = SPATE_VAL_NULL };
        for (int i = 0; i < w->conf.nfns; i++)
                vals[i] = w->arg_of[i] < 0 ? null_val : args[w->arg_of[i]];
}

/* The reading's id (dedupe_by) for window node n; a record without one
 * cannot be told from its versions: dead-lettered. */
static int eval_id(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx, spate_wrec_t *r) {
        win_t *w = n->ctx;
        spate_value_t v;
        char err[512];
        if (spate_expr_eval(w->dedupe_by, rec, spate_ctx_arena(ctx), &v, err, sizeof(err)))
                return spate_ctx_fail(ctx, n, "dedupe_by: %s", err);
        if (spate_value_to_key(&v, spate_ctx_arena(ctx), &r->id, &r->idlen))
                return spate_ctx_fail(ctx, n, "dedupe_by '%s' is %s, not a string, number or bool",
                                      spate_expr_text(w->dedupe_by), spate_vtype_name(v.type));
        return 0;
}

int win_eval(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx, spate_wrec_t *r, spate_val_t *args) {
        const win_t *w = n->ctx;
        const char *group;
        size_t glen;
        int64_t t;

        if (eval_record(n, rec, ctx, &t, &group, &glen, args))
                return -1;
        *r = (spate_wrec_t){ group, glen, t, NULL, { t, rec->origin->partition, rec->origin->offset },
                             INT64_MIN, NULL, 0 };
        return w->dedupe_by ? eval_id(n, rec, ctx, r) : 0;
}

/* Without group_by (with it, the window's records come from its upstream
 * node through input()). */
static int window_process(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx) {
        win_t *w = n->ctx;
        spate_val_t args[WIN_MAX_AGGS], vals[WIN_MAX_AGGS];
        spate_wrec_t r;
        win_task_t *task;

        if (!rec->origin)
                return spate_ctx_fail(ctx, n, "record without an input message");
        if (win_eval(n, rec, ctx, &r, args))
                return -1;
        win_per_aggregate(w, args, vals);
        r.vals = vals;
        if (!(task = win_task_get(w, rec->origin->partition)))
                return spate_ctx_fail(ctx, n, "partition %d of %s is not assigned here",
                                      rec->origin->partition, w->input_topic);
        return win_apply(n, task, rec->origin->offset, &r, NULL, ctx);
}

/* group_by: the loader puts the window's upstream half before it. */
static int window_splits(const spate_yaml_t *conf) {
        return spate_yaml_get(conf, "group_by") != NULL;
}

static void window_destroy(spate_node_t *n) {
        win_t *w = n->ctx;
        for (int i = 0; i < w->nargs; i++)
                spate_expr_destroy(w->args[i]);
        spate_expr_destroy(w->time);
        spate_expr_destroy(w->group);
        spate_expr_destroy(w->dedupe_by);
        free(w->input_topic);
        free(w->repartition_topic);
        free(w->changelog_topic);
        free(w->marks);
        spate_buf_free(&w->buf);
}

const spate_op_def_t spate_op_window = {
        .name = "window",
        .role = SPATE_ROLE_OPERATOR,
        .doc = "Aggregates per group over tumbling, hopping, sliding or session windows; exact "
               "through crashes (changelog + RocksDB state).",
        .props = window_props,
        .binds = window_binds,
        .ctx_size = sizeof(win_t),
        .init = window_init,
        .process = window_process,
        .punctuate = win_punctuate,
        .drained = win_drained,
        .input = win_input,
        .query = win_query,
        .query_keyed = 1,
        .emits_later = 1,
        .query_topic = win_query_topic,
        .query_partition = win_query_partition,
        .destroy = window_destroy,
        .upstream = &spate_op_window_repartition,
        .splits = window_splits,
};
