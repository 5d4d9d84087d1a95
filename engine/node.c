/* node.c - parameter access for node init, and record emission between nodes. */
#include "ctx.h"
#include "node.h"
#include "metrics.h"
#include "topology.h"
#include "../util/util.h"

#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const spate_prop_t *find_prop(const spate_op_def_t *def, const char *key) {
        for (const spate_prop_t *p = def->props; p && p->name; p++)
                if (!strcmp(p->name, key))
                        return p;
        return NULL;
}

const spate_yaml_t *spate_node_param(const spate_node_t *n, const char *key) {
        return spate_yaml_get(n->conf, key);
}

const char *spate_node_str(const spate_node_t *n, const char *key) {
        const spate_yaml_t *v = spate_yaml_get(n->conf, key);
        const spate_prop_t *p;
        if (v && v->kind == SPATE_YAML_SCALAR)
                return v->value;
        p = find_prop(n->def, key);
        return p ? p->def : NULL;
}

int64_t spate_node_int(const spate_node_t *n, const char *key) {
        const char *s = spate_node_str(n, key);
        return s ? strtoll(s, NULL, 10) : 0;
}

int spate_node_bool(const spate_node_t *n, const char *key) {
        const char *s = spate_node_str(n, key);
        return s && !strcmp(s, "true");
}

int64_t spate_node_duration(const spate_node_t *n, const char *key) {
        const char *s = spate_node_str(n, key);
        int64_t ms = 0;
        if (s)
                spate_parse_duration(s, &ms);
        return ms;
}

int spate_prop_choice(const spate_prop_t *p, const char *value) {
        size_t len = strlen(value);
        int i = 0;
        for (const char *c = p->choices; c && *c; i++) {
                const char *bar = strchr(c, '|');
                size_t clen = bar ? (size_t)(bar - c) : strlen(c);
                if (clen == len && !strncmp(c, value, len))
                        return i;
                c = bar ? bar + 1 : c + clen;
        }
        return -1;
}

/* Why b cannot bind p (NULL if it can): its field must hold p's type. */
static const char *bind_problem(const spate_bind_t *b, const spate_prop_t *p) {
        static const char *const small = "to a field that cannot hold its type";
        size_t size = b->size;
        if (b->choice && p->type != SPATE_P_ENUM)
                return "as a choice, but it is not an enum";
        if (b->choice && !p->required && !p->def)
                return "as a choice, but it may have no value (give it a default)";
        if (b->choice)
                return size == sizeof(int) ? NULL : small;
        switch (p->type) {
        case SPATE_P_STR: case SPATE_P_ENUM: return size == sizeof(const char *) ? NULL : small;
        case SPATE_P_INT: case SPATE_P_COUNT: return size == sizeof(int64_t) || size == sizeof(int) ? NULL : small;
        case SPATE_P_DURATION: return size == sizeof(int64_t) ? NULL : small;
        case SPATE_P_BOOL: return size == sizeof(int) ? NULL : small;
        default: return small;  /* expressions, maps and lists need the node's own reading */
        }
}

static void bind_int(const spate_node_t *n, const spate_prop_t *p, size_t size, char *at) {
        int64_t v = p->type == SPATE_P_DURATION ? spate_node_duration(n, p->name) : spate_node_int(n, p->name);
        int i = (int)v;  /* INT and COUNT: the loader kept them within int (check_scalar) */
        memcpy(at, size == sizeof(v) ? (const void *)&v : (const void *)&i, size);
}

int spate_op_check_binds(const spate_op_def_t *def, char *errstr, size_t errstr_size) {
        for (const spate_bind_t *b = def->binds; b && b->prop; b++) {
                const spate_prop_t *p = find_prop(def, b->prop);
                const char *why = p ? bind_problem(b, p) : "but has no such property";
                if (why) {
                        snprintf(errstr, errstr_size, "internal: node type '%s' binds '%s' %s", def->name, b->prop,
                                 why);
                        return -1;
                }
        }
        return 0;
}

int spate_node_bind(spate_node_t *n, char *errstr, size_t errstr_size) {
        if (spate_op_check_binds(n->def, errstr, errstr_size))
                return -1;
        for (const spate_bind_t *b = n->def->binds; b && b->prop; b++) {
                const spate_prop_t *p = find_prop(n->def, b->prop);
                char *at = (char *)n->ctx + b->at;
                if (b->choice) {
                        int i = spate_prop_choice(p, spate_node_str(n, p->name));
                        memcpy(at, &i, sizeof(i));
                } else if (p->type == SPATE_P_STR || p->type == SPATE_P_ENUM) {
                        const char *s = spate_node_str(n, p->name);
                        memcpy(at, &s, sizeof(s));
                } else if (p->type == SPATE_P_BOOL) {
                        int v = spate_node_bool(n, p->name);
                        memcpy(at, &v, sizeof(v));
                } else {
                        bind_int(n, p, b->size, at);
                }
        }
        return 0;
}

spate_shape_pool_t *spate_node_shapes(spate_node_t *n) {
        return &n->topo->shapes;
}

spate_expr_t *spate_node_compile(spate_node_t *n, const spate_yaml_t *y, spate_shape_t *in,
                                 char *errstr, size_t errstr_size) {
        spate_expr_env_t env = { &n->topo->shapes, in, y->file, y->line, y->col };
        if (y->kind != SPATE_YAML_SCALAR) {
                spate_node_error(n, y, errstr, errstr_size, "expected an expression, not a %s",
                                 y->kind == SPATE_YAML_MAP ? "mapping" : "list");
                return NULL;
        }
        if (y->quoted)
                env.col++; /* the text starts after the quote */
        return spate_expr_compile(y->value, &env, errstr, errstr_size);
}

spate_expr_t *spate_node_expr(spate_node_t *n, const char *key, spate_shape_t *in,
                              char *errstr, size_t errstr_size) {
        const spate_yaml_t *y = spate_yaml_get(n->conf, key);
        if (!y) {
                if (errstr_size)
                        errstr[0] = '\0';
                return NULL;
        }
        return spate_node_compile(n, y, in, errstr, errstr_size);
}

spate_expr_t *spate_node_expr_typed(spate_node_t *n, const char *key, spate_shape_t *in, unsigned types,
                                    const char *want, char *errstr, size_t errstr_size) {
        spate_expr_t *e = spate_node_expr(n, key, in, errstr, errstr_size);
        int t = e ? spate_expr_type(e) : SPATE_V_MISSING;
        if (t == SPATE_V_MISSING || (types & (1u << t)))
                return e;
        spate_node_error(n, spate_yaml_get(n->conf, key), errstr, errstr_size,
                         "'%s: %s' is always %s, but it must be %s", key, spate_expr_text(e),
                         spate_vtype_name(t), want);
        spate_expr_destroy(e);
        return NULL;
}

spate_expr_t *spate_node_time_expr(spate_node_t *n, const char *key, spate_shape_t *in,
                                   char *errstr, size_t errstr_size) {
        static const char want[] = "a number of ms since 1970 (hint: e.g. ts(), unix_s(epoch) or "
                                   "parse_time(when))";
        spate_expr_t *e = spate_node_expr_typed(n, key, in, 1u << SPATE_V_NUM, want, errstr, errstr_size);
        const char *text = e ? spate_expr_text(e) : "";
        if (strcmp(text, "now"))
                return e;
        spate_node_error(n, spate_yaml_get(n->conf, key), errstr, errstr_size,
                         "'%s: now' reads a field named 'now', and spate has no wall clock in expressions "
                         "(hint: ts() is the record's timestamp; write `now` in backquotes if the field "
                         "is meant)", key);
        spate_expr_destroy(e);
        return NULL;
}

int spate_node_keeps_origin(const spate_node_t *n) {
        return !n->def->flush && !n->def->emits_later && !spate_topology_input_of(n->topo, n);
}

spate_node_t *spate_node_origin_source(spate_node_t *n, spate_node_t **stop) {
        spate_node_t *src = NULL;
        *stop = NULL;
        for (spate_node_t *up = n->from; up; up = up->from) {
                if (!spate_node_keeps_origin(up))
                        return *stop = up, NULL;
                src = up;
        }
        return src;
}

int spate_node_error(const spate_node_t *n, const spate_yaml_t *y, char *errstr,
                     size_t errstr_size, const char *fmt, ...) {
        va_list ap;
        /* An internal node reads the YAML of the node it was split from:
         * errors in it are that node's, in the terms the file uses. */
        if (n->split_of)
                n = n->split_of;
        if (!y)
                y = n->conf;
        int off = snprintf(errstr, errstr_size, "%s:%d:%d: %s node '%s': ", y->file, y->line,
                           y->col, n->def->name, n->name);
        if (off >= 0 && (size_t)off < errstr_size) {
                va_start(ap, fmt);
                vsnprintf(errstr + off, errstr_size - (size_t)off, fmt, ap);
                va_end(ap);
        }
        return -1;
}

void spate_node_path(const spate_node_t *n, const char *file, char *out, size_t size) {
        char dir[1024];
        snprintf(out, size, "%s", file);
        if (file[0] == '/' || access(file, R_OK) == 0)
                return;
        snprintf(dir, sizeof(dir), "%s", n->topo->file);
        snprintf(out, size, "%s/%s", dirname(dir), file);
}

/* Hands rec to the nodes reading n. At a fan-out every branch gets the
 * record even if another fails: a failing branch dead-letters the input
 * record itself, naming the branch (spate.branch), so what a branch sees never
 * depends on its siblings or their order. A chain, or a record with no input
 * behind it (a window's output at commit), stops at the first failure, which
 * is returned. This is spate_emit() for n with other than one successor. */
static int emit_each(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx) {
        int fan_out = n->nnext > 1 && ctx->origin;
        for (int i = 0; i < n->nnext; i++) {
                spate_node_t *next = n->next[i];
                if (next->m_in)
                        spate_metric_add(next->m_in, 1);
                if (!next->def->process(next, rec, ctx))
                        continue;
                if (!fan_out)
                        return -1;
                ctx->branch = next;
                spate_ctx_dead_letter(ctx, ctx->origin);
                ctx->branch = NULL;
                ctx->failed = NULL;
        }
        return 0;
}

/* A chain's link, the common case, apart: it costs a call, not the loop's
 * saved registers (~45 instructions a node a record). */
int spate_emit(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx) {
        if (n->m_out)
                spate_metric_add(n->m_out, 1);
        if (n->nnext != 1)
                return emit_each(n, rec, ctx);
        spate_node_t *next = n->next[0];
        if (next->m_in)
                spate_metric_add(next->m_in, 1);
        return next->def->process(next, rec, ctx) ? -1 : 0;
}

int spate_ctx_fail(spate_ctx_t *ctx, const spate_node_t *n, const char *fmt, ...) {
        va_list ap;
        int off = snprintf(ctx->errstr, sizeof(ctx->errstr), "%s: ", n->name);
        va_start(ap, fmt);
        vsnprintf(ctx->errstr + off, sizeof(ctx->errstr) - (size_t)off, fmt, ap);
        va_end(ap);
        ctx->failed = n;
        return -1;
}

/* "7973 years", "3.5 days", "2 h", "90 s": how far ahead, for a reason. */
static void fmt_span(int64_t ms, char *buf, size_t size) {
        double s = (double)ms / 1000.0;
        if (s >= 2 * 365.25 * 86400)
                snprintf(buf, size, "%.0f years", s / (365.25 * 86400));
        else if (s >= 2 * 86400)
                snprintf(buf, size, "%.1f days", s / 86400);
        else if (s >= 2 * 3600)
                snprintf(buf, size, "%.1f h", s / 3600);
        else
                snprintf(buf, size, "%.0f s", s);
}

int spate_ctx_check_future(spate_ctx_t *ctx, const spate_node_t *n, int64_t t) {
        int64_t max = n->topo->max_future_ms;
        /* The clock only moves on: a time within max of an earlier reading
         * passes without a clock read per record. */
        if (max <= 0 || t - ctx->wall_floor_ms <= max)
                return 0;
        int64_t now = spate_now_ms();
        char iso[48], ahead[32], limit[32];
        if (t <= now || t - now <= max)
                return 0;
        spate_fmt_iso_ms(t, iso, sizeof(iso));
        fmt_span(t - now, ahead, sizeof(ahead));
        fmt_span(max, limit, sizeof(limit));
        return spate_ctx_fail(ctx, n, "event time %s is %s ahead of the wall clock, more than "
                              "settings.max_future (%s): not applied, so that it cannot move stream "
                              "time", iso, ahead, limit);
}

spate_arena_t *spate_ctx_arena(spate_ctx_t *ctx) {
        return &ctx->arena;
}
