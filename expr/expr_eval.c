/* expr_eval.c - evaluates a compiled expression tree on one record: field
 * paths, operators (elementwise over arrays) and the call dispatcher.
 *
 * Every node is a function pointer chosen at compile time, so a record pays
 * for no lookups; memory comes only from the record's arena and messages are
 * formatted only when something fails. */
#include "expr_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- errors ---- */

int spate_expr__err(ectx_t *c, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        if (c->errstr_size)
                vsnprintf(c->errstr, c->errstr_size, fmt, ap);
        va_end(ap);
        return -1;
}

static int span(const expr_node_t *n) {
        return n->end - n->pos > 60 ? 60 : n->end - n->pos;
}

int spate_expr__missing_err(ectx_t *c, const expr_node_t *n) {
        if (n->kind == N_PATH)
                return spate_expr__err(c, "field '%s' is missing", n->text);
        return spate_expr__err(c, "'%.*s' is missing", span(n), c->e->text + n->pos);
}

/* Names the field when the culprit is a path: that is what a user can fix. */
static int operand_err(ectx_t *c, const expr_node_t *arg, const char *where, const char *paren,
                       const char *want, const spate_value_t *got) {
        if (arg && arg->kind == N_PATH)
                return spate_expr__err(c, "field '%s': expected %s, got %s", arg->text, want,
                                       spate_vtype_name(got->type));
        return spate_expr__err(c, "%s%s: expected %s, got %s", where, paren, want, spate_vtype_name(got->type));
}

int spate_expr__type_err(ectx_t *c, const expr_node_t *arg, const char *fname,
                         const char *want, const spate_value_t *got) {
        return operand_err(c, arg, fname, "()", want, got);
}

int spate_expr__want_num(ectx_t *c, const expr_node_t *call, int i, const spate_value_t *v) {
        if (v->type == SPATE_V_NUM)
                return 0;
        return operand_err(c, call->kids[i], call->fn->name, "()", "a number", v);
}

int spate_expr__want_str(ectx_t *c, const expr_node_t *call, int i, const spate_value_t *v) {
        if (v->type == SPATE_V_STR)
                return 0;
        return operand_err(c, call->kids[i], call->fn->name, "()", "a string", v);
}

static int op_err(ectx_t *c, const expr_node_t *n, int side, const char *want, const spate_value_t *got) {
        char where[32];
        snprintf(where, sizeof(where), "operator %s", spate_expr__tok_name((tok_kind_t)n->op));
        return operand_err(c, n->kids[side], where, "", want, got);
}

static void set_null(spate_value_t *v) {
        memset(v, 0, sizeof(*v));
        v->type = SPATE_V_NULL;
}

static spate_value_t *alloc_items(ectx_t *c, uint32_t n) {
        return spate_arena_alloc(c->a, sizeof(spate_value_t) * (n ? n : 1));
}

static void set_arr(spate_value_t *v, spate_value_t *items, uint32_t n) {
        memset(v, 0, sizeof(*v));
        v->type = SPATE_V_ARR;
        v->u.items = items;
        v->n = n;
}

int spate_expr__eval_node(ectx_t *c, const expr_node_t *n, spate_value_t *out) {
        return n->eval(c, n, out);
}

/* Evaluates an operand that must be present. */
static int operand(ectx_t *c, const expr_node_t *n, spate_value_t *out) {
        if (n->eval(c, n, out))
                return -1;
        return out->type == SPATE_V_MISSING ? spate_expr__missing_err(c, n) : 0;
}

/* ---- literals and paths ---- */

static int eval_lit(ectx_t *c, const expr_node_t *n, spate_value_t *out) {
        (void)c;
        *out = n->lit;
        return 0;
}

static int step_err(ectx_t *c, const expr_node_t *n, int step, const char *want, const spate_value_t *got) {
        if (step == 0)
                return spate_expr__err(c, "field '%s': expected the record to be an object, got %s",
                                       n->text, spate_vtype_name(got->type));
        return spate_expr__err(c, "field '%s': expected %s at '%.*s', got %s", n->text, want,
                               n->steps[step - 1].text_end, n->text, spate_vtype_name(got->type));
}

/* Follows steps [from, to), none of them [*]. Absent fields and indexes out
 * of range give MISSING; a null on the way gives NULL. */
static int walk(ectx_t *c, const expr_node_t *n, int from, int to, const spate_value_t *v,
                spate_value_t *out) {
        for (int i = from; i < to; i++) {
                const path_step_t *st = &n->steps[i];
                if (v->type == SPATE_V_MISSING || v->type == SPATE_V_NULL)
                        break;
                if (st->kind == S_FIELD) {
                        if (v->type != SPATE_V_OBJ)
                                return step_err(c, n, i, "an object", v);
                        if ((uint32_t)st->idx >= v->n) {
                                memset(out, 0, sizeof(*out));
                                return 0;
                        }
                        v = &v->u.items[st->idx];
                } else {
                        if (v->type != SPATE_V_ARR)
                                return step_err(c, n, i, "an array", v);
                        int64_t k = st->idx < 0 ? (int64_t)v->n + st->idx : st->idx;
                        if (k < 0 || k >= (int64_t)v->n) {
                                memset(out, 0, sizeof(*out));
                                return 0;
                        }
                        v = &v->u.items[k];
                }
        }
        *out = *v;
        return 0;
}

static int next_star(const expr_node_t *n, int from) {
        for (int i = from; i < n->nsteps; i++)
                if (n->steps[i].kind == S_STAR)
                        return i;
        return -1;
}

/* Flattens the arrays in items[0..n) (one per element of an outer [*]). */
static void flatten(ectx_t *c, const spate_value_t *items, uint32_t n, spate_value_t *out) {
        uint32_t total = 0, k = 0;
        for (uint32_t i = 0; i < n; i++)
                if (items[i].type == SPATE_V_ARR)
                        total += items[i].n;
        spate_value_t *flat = alloc_items(c, total);
        for (uint32_t i = 0; i < n; i++)
                if (items[i].type == SPATE_V_ARR && items[i].n) {  /* an empty one may have no items */
                        memcpy(flat + k, items[i].u.items, sizeof(*flat) * items[i].n);
                        k += items[i].n;
                }
        set_arr(out, flat, total);
}

/* `a[*].b` maps the rest of the path over a's elements: one item per
 * element, null where the element lacks the field, so arrays from the same
 * source stay aligned for elementwise operators and first_where. A second
 * [*] flattens into the same result. */
static int walk_from(ectx_t *c, const expr_node_t *n, int from, const spate_value_t *v, spate_value_t *out) {
        int s = next_star(n, from);
        if (s < 0)
                return walk(c, n, from, n->nsteps, v, out);
        spate_value_t arr;
        if (walk(c, n, from, s, v, &arr))
                return -1;
        if (arr.type == SPATE_V_MISSING || arr.type == SPATE_V_NULL || s == n->nsteps - 1) {
                if (arr.type != SPATE_V_ARR && arr.type != SPATE_V_MISSING && arr.type != SPATE_V_NULL)
                        return step_err(c, n, s, "an array", &arr);
                *out = arr;
                return 0;
        }
        if (arr.type != SPATE_V_ARR)
                return step_err(c, n, s, "an array", &arr);
        spate_value_t *items = alloc_items(c, arr.n);
        int nested = next_star(n, s + 1) >= 0;
        for (uint32_t i = 0; i < arr.n; i++) {
                if (nested ? walk_from(c, n, s + 1, &arr.u.items[i], &items[i])
                           : walk(c, n, s + 1, n->nsteps, &arr.u.items[i], &items[i]))
                        return -1;
                if (items[i].type == SPATE_V_MISSING)
                        set_null(&items[i]);
        }
        if (nested)
                flatten(c, items, arr.n, out);
        else
                set_arr(out, items, arr.n);
        return 0;
}

static int eval_path(ectx_t *c, const expr_node_t *n, spate_value_t *out) {
        return walk_from(c, n, 0, &c->rec->value, out);
}

/* The common case, `temp`: one index into the record's items. */
static int eval_field(ectx_t *c, const expr_node_t *n, spate_value_t *out) {
        const spate_value_t *v = spate_record_at(c->rec, n->steps[0].idx);
        if (v) {
                *out = *v;
                return 0;
        }
        return eval_path(c, n, out);
}

/* ---- operators ---- */

static int cmp_str(const spate_value_t *l, const spate_value_t *r) {
        uint32_t m = l->n < r->n ? l->n : r->n;
        int d = m ? memcmp(l->u.s, r->u.s, m) : 0;
        if (d)
                return d;
        return l->n < r->n ? -1 : l->n > r->n;
}

static int is_scalar(int t) {
        return t == SPATE_V_NUM || t == SPATE_V_STR || t == SPATE_V_BOOL;
}

static int mismatch(ectx_t *c, const expr_node_t *n, const spate_value_t *l, const spate_value_t *r) {
        if (!is_scalar(l->type))
                return op_err(c, n, 0, "a number, string or bool", l);
        if (!is_scalar(r->type))
                return op_err(c, n, 1, "a number, string or bool", r);
        char want[32];
        if (n->kids[1]->kind == N_PATH || n->kids[0]->kind != N_PATH) {
                snprintf(want, sizeof(want), "a %s", spate_vtype_name(l->type));
                return op_err(c, n, 1, want, r);
        }
        snprintf(want, sizeof(want), "a %s", spate_vtype_name(r->type));
        return op_err(c, n, 0, want, l);
}

static int compare(ectx_t *c, const expr_node_t *n, const spate_value_t *l, const spate_value_t *r,
                   spate_value_t *out) {
        int op = n->op, null = l->type <= SPATE_V_NULL || r->type <= SPATE_V_NULL;
        if (null && (op == T_EQ || op == T_NE)) {
                /* `x == null` is the way to test for null, so equality is total on it */
                int eq = l->type <= SPATE_V_NULL && r->type <= SPATE_V_NULL;
                *out = spate_value_bool(op == T_EQ ? eq : !eq);
                return 0;
        }
        if (null) {
                set_null(out);
                return 0;
        }
        if (l->type != r->type || !is_scalar(l->type))
                return mismatch(c, n, l, r);
        int d;
        if (l->type == SPATE_V_NUM)
                d = l->u.num < r->u.num ? -1 : l->u.num > r->u.num;
        else if (l->type == SPATE_V_STR)
                d = cmp_str(l, r);
        else
                d = l->u.b - r->u.b;
        int res;
        switch (op) {
        case T_EQ: res = d == 0; break;
        case T_NE: res = d != 0; break;
        case T_LT: res = d < 0; break;
        case T_LE: res = d <= 0; break;
        case T_GT: res = d > 0; break;
        default:   res = d >= 0; break;
        }
        *out = spate_value_bool(res);
        return 0;
}

/* Division and remainder by zero give null rather than failing the record:
 * a zero denominator is data, not a bug, and inf/nan have no JSON form. */
static int arith(ectx_t *c, const expr_node_t *n, const spate_value_t *l, const spate_value_t *r,
                 spate_value_t *out) {
        if (l->type <= SPATE_V_NULL || r->type <= SPATE_V_NULL) {
                if (l->type > SPATE_V_NULL && l->type != SPATE_V_NUM)
                        return op_err(c, n, 0, "a number", l);
                if (r->type > SPATE_V_NULL && r->type != SPATE_V_NUM)
                        return op_err(c, n, 1, "a number", r);
                set_null(out);
                return 0;
        }
        if (l->type != SPATE_V_NUM)
                return op_err(c, n, 0, "a number", l);
        if (r->type != SPATE_V_NUM)
                return op_err(c, n, 1, "a number", r);
        double a = l->u.num, b = r->u.num, v;
        switch (n->op) {
        case T_PLUS:  v = a + b; break;
        case T_MINUS: v = a - b; break;
        case T_STAR:  v = a * b; break;
        case T_SLASH:
                if (b == 0) {
                        set_null(out);
                        return 0;
                }
                v = a / b;
                break;
        default:
                if (b == 0) {
                        set_null(out);
                        return 0;
                }
                v = fmod(a, b);
        }
        *out = spate_value_num(v);
        return 0;
}

/* Two numbers, the common case: 1 if done (not for % nor a division by
 * zero, which arith() turns into null). */
static inline int num_op(int op, double a, double b, spate_value_t *out) {
        switch (op) {
        case T_PLUS:  *out = spate_value_num(a + b); return 1;
        case T_MINUS: *out = spate_value_num(a - b); return 1;
        case T_STAR:  *out = spate_value_num(a * b); return 1;
        case T_SLASH:
                if (b == 0)
                        return 0;
                *out = spate_value_num(a / b);
                return 1;
        case T_LT:    *out = spate_value_bool(a < b); return 1;
        case T_LE:    *out = spate_value_bool(a <= b); return 1;
        case T_GT:    *out = spate_value_bool(a > b); return 1;
        case T_GE:    *out = spate_value_bool(a >= b); return 1;
        case T_EQ:    *out = spate_value_bool(a == b); return 1;
        case T_NE:    *out = spate_value_bool(a != b); return 1;
        default:      return 0;
        }
}

typedef int (*scalar_op_fn)(ectx_t *c, const expr_node_t *n, const spate_value_t *l,
                            const spate_value_t *r, spate_value_t *out);

/* An array with a scalar, or two arrays of one length, give an array. */
static int elementwise(ectx_t *c, const expr_node_t *n, const spate_value_t *l, const spate_value_t *r,
                       spate_value_t *out, scalar_op_fn op) {
        int la = l->type == SPATE_V_ARR, ra = r->type == SPATE_V_ARR;
        if (la && ra && l->n != r->n)
                return spate_expr__err(c, "operator %s: arrays of different lengths (%u and %u) in '%.*s'",
                                       spate_expr__tok_name((tok_kind_t)n->op), l->n, r->n, span(n),
                                       c->e->text + n->pos);
        uint32_t len = la ? l->n : r->n;
        spate_value_t *items = alloc_items(c, len);
        for (uint32_t i = 0; i < len; i++) {
                const spate_value_t *x = la ? &l->u.items[i] : l, *y = ra ? &r->u.items[i] : r;
                if (x->type == SPATE_V_NUM && y->type == SPATE_V_NUM && num_op(n->op, x->u.num, y->u.num, &items[i]))
                        continue;
                if (op(c, n, x, y, &items[i]))
                        return -1;
        }
        set_arr(out, items, len);
        return 0;
}

static int eval_bin(ectx_t *c, const expr_node_t *n, spate_value_t *out) {
        spate_value_t l, r;
        if (operand(c, n->kids[0], &l) || operand(c, n->kids[1], &r))
                return -1;
        if (l.type == SPATE_V_NUM && r.type == SPATE_V_NUM && num_op(n->op, l.u.num, r.u.num, out))
                return 0;
        scalar_op_fn op = n->op == T_PLUS || n->op == T_MINUS || n->op == T_STAR ||
                          n->op == T_SLASH || n->op == T_PERCENT ? arith : compare;
        if (l.type == SPATE_V_ARR || r.type == SPATE_V_ARR)
                return elementwise(c, n, &l, &r, out, op);
        return op(c, n, &l, &r, out);
}

/* `field == 'text'` (or !=), the common filter: a string field is compared
 * where it lies, in word loads (spate_shape_name_eq()), without copying both
 * sides into values and through compare(). Anything else (another type, a
 * missing field, a record that is no object) is eval_bin()'s, with its
 * results and errors. */
static int eval_field_eq_str(ectx_t *c, const expr_node_t *n, spate_value_t *out) {
        const spate_value_t *lit = &n->kids[1]->lit;
        const spate_value_t *v = spate_record_item(c->rec, n->kids[0]->steps[0].idx, SPATE_V_STR);
        if (v) {
                int eq = v->n == lit->n && spate_shape_name_eq(v->u.s, lit->u.s, v->n);
                *out = spate_value_bool(eq == (n->op == T_EQ));
                return 0;
        }
        return eval_bin(c, n, out);
}

static int neg1(ectx_t *c, const expr_node_t *n, const spate_value_t *v, spate_value_t *out) {
        if (v->type == SPATE_V_NUM)
                *out = spate_value_num(-v->u.num);
        else if (v->type <= SPATE_V_NULL)
                set_null(out);
        else
                return op_err(c, n, 0, "a number", v);
        return 0;
}

static int eval_neg(ectx_t *c, const expr_node_t *n, spate_value_t *out) {
        spate_value_t v;
        if (operand(c, n->kids[0], &v))
                return -1;
        if (v.type != SPATE_V_ARR)
                return neg1(c, n, &v, out);
        spate_value_t *items = alloc_items(c, v.n);
        for (uint32_t i = 0; i < v.n; i++)
                if (neg1(c, n, &v.u.items[i], &items[i]))
                        return -1;
        set_arr(out, items, v.n);
        return 0;
}

/* Truthiness of each item: negated (T_NOT) or combined with r's (T_AND, T_OR). */
static void truth_map(ectx_t *c, const spate_value_t *l, const spate_value_t *r, int op, spate_value_t *out) {
        int la = l->type == SPATE_V_ARR, ra = r && r->type == SPATE_V_ARR;
        uint32_t len = la ? l->n : r->n;
        spate_value_t *items = alloc_items(c, len);
        for (uint32_t i = 0; i < len; i++) {
                int a = spate_value_truthy(la ? &l->u.items[i] : l);
                int b = r ? spate_value_truthy(ra ? &r->u.items[i] : r) : 0;
                items[i] = spate_value_bool(op == T_NOT ? !a : op == T_AND ? a && b : a || b);
        }
        set_arr(out, items, len);
}

static int eval_not(ectx_t *c, const expr_node_t *n, spate_value_t *out) {
        spate_value_t v;
        if (operand(c, n->kids[0], &v))
                return -1;
        if (v.type == SPATE_V_ARR)
                truth_map(c, &v, NULL, T_NOT, out);
        else
                *out = spate_value_bool(!spate_value_truthy(&v));
        return 0;
}

/* and/or short-circuit on a scalar left side; arrays go elementwise. */
static int eval_logic(ectx_t *c, const expr_node_t *n, spate_value_t *out) {
        spate_value_t l, r;
        if (operand(c, n->kids[0], &l))
                return -1;
        int is_and = n->kind == N_AND;
        if (l.type != SPATE_V_ARR && spate_value_truthy(&l) != is_and) {
                *out = spate_value_bool(!is_and);
                return 0;
        }
        if (operand(c, n->kids[1], &r))
                return -1;
        if (l.type == SPATE_V_ARR || r.type == SPATE_V_ARR) {
                if (l.type == SPATE_V_ARR && r.type == SPATE_V_ARR && l.n != r.n)
                        return spate_expr__err(c, "operator '%s': arrays of different lengths (%u and %u) in '%.*s'",
                                               is_and ? "and" : "or", l.n, r.n, span(n), c->e->text + n->pos);
                truth_map(c, &l, &r, is_and ? T_AND : T_OR, out);
                return 0;
        }
        *out = spate_value_bool(spate_value_truthy(&r));
        return 0;
}

/* ---- calls ---- */

static int call_elementwise(ectx_t *c, const expr_node_t *n, spate_value_t *args, spate_value_t *out) {
        spate_value_t arr = args[0];
        spate_value_t *items = alloc_items(c, arr.n);
        for (uint32_t i = 0; i < arr.n; i++) {
                args[0] = arr.u.items[i];
                if (args[0].type <= SPATE_V_NULL)
                        set_null(&items[i]);
                else if (n->fn->fn(c, n, args, n->nkids, &items[i]))
                        return -1;
        }
        set_arr(out, items, arr.n);
        return 0;
}

int spate_expr__eval_call(ectx_t *c, const expr_node_t *n, spate_value_t *out) {
        const func_def_t *f = n->fn;
        spate_value_t args[EXPR_MAX_ARGS];
        if (f->flags & F_LAZY)
                return f->fn(c, n, NULL, n->nkids, out);
        int has_null = 0;
        for (int i = 0; i < n->nkids; i++) {
                if (n->kids[i]->eval(c, n->kids[i], &args[i]))
                        return -1;
                if (args[i].type == SPATE_V_MISSING && !(f->flags & F_MISSING_OK))
                        return spate_expr__missing_err(c, n->kids[i]);
                has_null |= args[i].type == SPATE_V_NULL;
        }
        if (has_null && !(f->flags & (F_KEEP_NULL | F_MISSING_OK))) {
                set_null(out);
                return 0;
        }
        if ((f->flags & F_ELEMWISE) && n->nkids && args[0].type == SPATE_V_ARR)
                return call_elementwise(c, n, args, out);
        return f->fn(c, n, args, n->nkids, out);
}

static int eval_call(ectx_t *c, const expr_node_t *n, spate_value_t *out) {
        return spate_expr__eval_call(c, n, out);
}

/* spate_expr__eval_call() of a function of one argument that it evaluates
 * (parse_time(ts), abs(x)): the same steps without the loop and its array. */
static int eval_call1(ectx_t *c, const expr_node_t *n, spate_value_t *out) {
        const func_def_t *f = n->fn;
        const expr_node_t *k = n->kids[0];
        const spate_value_t *arg = NULL;
        spate_value_t v;
        /* A bare field is passed where it lies (functions read their
         * arguments only): a copy would load what the decoder has just
         * stored field by field, which stalls on store forwarding (perf put
         * ~2 % of the region job's processing thread on that copy). */
        if (k->eval == eval_field)
                arg = spate_record_at(c->rec, k->steps[0].idx);
        if (!arg) {
                if (k->eval(c, k, &v))
                        return -1;
                arg = &v;
        }
        if (arg->type == SPATE_V_MISSING && !(f->flags & F_MISSING_OK))
                return spate_expr__missing_err(c, k);
        if (arg->type == SPATE_V_NULL && !(f->flags & (F_KEEP_NULL | F_MISSING_OK))) {
                set_null(out);
                return 0;
        }
        if ((f->flags & F_ELEMWISE) && arg->type == SPATE_V_ARR) {
                v = *arg;
                return call_elementwise(c, n, &v, out);
        }
        return f->fn(c, n, arg, 1, out);
}

expr_eval_fn spate_expr__eval_for(const expr_node_t *n) {
        switch ((node_kind_t)n->kind) {
        case N_LIT:  return eval_lit;
        case N_PATH: return n->nsteps == 1 && n->steps[0].kind == S_FIELD ? eval_field : eval_path;
        case N_NEG:  return eval_neg;
        case N_NOT:  return eval_not;
        case N_AND:
        case N_OR:   return eval_logic;
        case N_BIN:
                if ((n->op == T_EQ || n->op == T_NE) && n->kids[0]->eval == eval_field &&
                    n->kids[1]->kind == N_LIT && n->kids[1]->lit.type == SPATE_V_STR)
                        return eval_field_eq_str;
                return eval_bin;
        default:     return n->nkids == 1 && !(n->fn->flags & F_LAZY) ? eval_call1 : eval_call;
        }
}

int spate_expr_eval(const spate_expr_t *e, const spate_record_t *rec, spate_arena_t *a,
                    spate_value_t *out, char *errstr, size_t errstr_size) {
        ectx_t c = { .e = e, .rec = rec, .a = a, .errstr = errstr, .errstr_size = errstr_size };
        return e->root->eval(&c, e->root, out);
}
