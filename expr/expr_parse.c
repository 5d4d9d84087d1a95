/* expr_parse.c - parses expression tokens into a node tree, resolving field
 * paths against the input shape and checking every type known at load. */
#include "expr_int.h"
#include "../util/util.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS EXPR_MAX_ARGS
#define MAX_DEPTH 200

static expr_node_t *parse_or(cctx_t *c, int depth);

static tok_t *peek(cctx_t *c) {
        return &c->toks[c->at];
}

static tok_t *advance(cctx_t *c) {
        tok_t *t = &c->toks[c->at];
        if (t->kind != T_EOF)
                c->at++;
        return t;
}

static void node_free(expr_node_t *n) {
        if (!n)
                return;
        for (int i = 0; i < n->nkids; i++)
                node_free(n->kids[i]);
        free(n->kids);
        free(n->litbuf);
        free(n->steps);
        free(n->text);
        free(n);
}

static expr_node_t *node_new(cctx_t *c, node_kind_t kind, int pos, int end) {
        expr_node_t *n = calloc(1, sizeof(*n));
        if (!n) {
                spate_expr__cerr(c, pos, "out of memory (hint: none)");
                return NULL;
        }
        n->kind = (uint8_t)kind;
        n->pos = pos;
        n->end = end;
        n->star = -1;
        return n;
}

static int add_kid(cctx_t *c, expr_node_t *n, expr_node_t *kid) {
        expr_node_t **k = realloc(n->kids, sizeof(*k) * (size_t)(n->nkids + 1));
        if (!k)
                return spate_expr__cerr(c, kid->pos, "out of memory (hint: none)");
        n->kids = k;
        n->kids[n->nkids++] = kid;
        if (kid->end > n->end)
                n->end = kid->end;
        return 0;
}

static expr_node_t *finish(expr_node_t *n) {
        n->eval = spate_expr__eval_for(n);
        return n;
}

/* "number '30'", "name 'b'", "')'": how an unexpected token is named. */
static const char *tok_desc(cctx_t *c, const tok_t *t, char *buf, size_t size) {
        const char *q = t->kind == T_STR ? "" : "'";
        if (t->kind == T_NUM || t->kind == T_STR || t->kind == T_IDENT)
                snprintf(buf, size, "%s %s%.*s%s%s", spate_expr__tok_name(t->kind), q,
                         t->end - t->pos > 40 ? 40 : t->end - t->pos, c->src + t->pos,
                         t->end - t->pos > 40 ? "..." : "", q);
        else
                snprintf(buf, size, "%s", spate_expr__tok_name(t->kind));
        return buf;
}

/* An operand was expected at the current token. */
static expr_node_t *want_operand(cctx_t *c) {
        tok_t *t = peek(c);
        char d[64];
        if (t->kind == T_EOF && c->at == 0)
                spate_expr__cerr(c, t->pos, "empty expression (hint: write a value, e.g. temp > 30)");
        else if (t->kind == T_EOF)
                spate_expr__cerr(c, t->pos, "unexpected end of expression (hint: a value is missing after %s)",
                                 spate_expr__tok_name(c->toks[c->at - 1].kind));
        else
                spate_expr__cerr(c, t->pos, "unexpected %s (hint: expected a value, a field or a function call)",
                                 tok_desc(c, t, d, sizeof(d)));
        return NULL;
}

/* A complete expression is followed by something that cannot follow it. */
static int want_end(cctx_t *c, tok_kind_t closer, const tok_t *open) {
        tok_t *t = peek(c);
        char d[64];
        if (t->kind == closer)
                return 0;
        if (t->kind == T_EOF && open)
                return spate_expr__cerr(c, open->pos, "unclosed '(' (hint: add a matching ')')");
        if (t->kind == T_RPAREN && !open)
                return spate_expr__cerr(c, t->pos, "unmatched ')' (hint: remove it or add a '(' before it)");
        return spate_expr__cerr(c, t->pos, "unexpected %s after a complete expression "
                                "(hint: an operator such as 'and', '==' or '+' is missing)",
                                tok_desc(c, t, d, sizeof(d)));
}

/* ---- static types ---- */

static int is_scalar_type(int t) {
        return t == SPATE_V_NUM || t == SPATE_V_STR || t == SPATE_V_BOOL;
}

static int known(int t) {
        return t != SPATE_V_MISSING;
}

static const char *an(int type) {
        switch (type) {
        case SPATE_V_NUM: return "a number";
        case SPATE_V_STR: return "a string";
        case SPATE_V_BOOL: return "a bool";
        case SPATE_V_ARR: return "an array";
        case SPATE_V_OBJ: return "an object";
        case SPATE_V_NULL: return "null";
        default: return "unknown";
        }
}

static int is_arith(int op) {
        return op == T_PLUS || op == T_MINUS || op == T_STAR || op == T_SLASH || op == T_PERCENT;
}

static int check_arith_operand(cctx_t *c, int op, const expr_node_t *k) {
        if (k->type != SPATE_V_STR && k->type != SPATE_V_BOOL && k->type != SPATE_V_OBJ)
                return 0;
        if (op == T_PLUS && k->type == SPATE_V_STR)
                return spate_expr__cerr(c, k->pos, "operator '+' needs numbers, got a string "
                                        "(hint: use concat() to join strings, e.g. concat(a, ' ', b))");
        return spate_expr__cerr(c, k->pos, "operator %s needs numbers, got %s (hint: arithmetic works "
                                "on numbers and arrays of numbers; convert a string with num())",
                                spate_expr__tok_name((tok_kind_t)op), an(k->type));
}

static int bin_type(cctx_t *c, expr_node_t *n) {
        int op = n->op, lt = n->kids[0]->type, rt = n->kids[1]->type;
        if (is_arith(op)) {
                if (check_arith_operand(c, op, n->kids[0]) || check_arith_operand(c, op, n->kids[1]))
                        return -1;
        } else if (lt == SPATE_V_OBJ || rt == SPATE_V_OBJ) {
                const expr_node_t *k = lt == SPATE_V_OBJ ? n->kids[0] : n->kids[1];
                return spate_expr__cerr(c, k->pos, "cannot compare an object (hint: compare one of its fields, e.g. a.b == 1)");
        } else if (is_scalar_type(lt) && is_scalar_type(rt) && lt != rt) {
                return spate_expr__cerr(c, n->kids[1]->pos, "cannot compare %s with %s "
                                        "(hint: convert one side with num() or str())", an(lt), an(rt));
        }
        if (lt == SPATE_V_ARR || rt == SPATE_V_ARR)
                n->type = SPATE_V_ARR;
        else if (!known(lt) || !known(rt))
                n->type = SPATE_V_MISSING;
        else if (is_arith(op))
                n->type = lt == SPATE_V_NULL || rt == SPATE_V_NULL ? SPATE_V_NULL : SPATE_V_NUM;
        else if (op != T_EQ && op != T_NE && (lt == SPATE_V_NULL || rt == SPATE_V_NULL))
                n->type = SPATE_V_NULL;
        else
                n->type = SPATE_V_BOOL;
        return 0;
}

static expr_node_t *mk_bin(cctx_t *c, node_kind_t kind, const tok_t *op, expr_node_t *l, expr_node_t *r) {
        expr_node_t *n = node_new(c, kind, l->pos, r->end);
        expr_node_t **kids = n ? malloc(2 * sizeof(*kids)) : NULL;
        if (!kids) {
                if (n)
                        spate_expr__cerr(c, l->pos, "out of memory (hint: none)");
                free(n);
                node_free(l);
                node_free(r);
                return NULL;
        }
        kids[0] = l;
        kids[1] = r;
        n->kids = kids;
        n->nkids = 2;
        n->op = (uint8_t)op->kind;
        if (kind == N_BIN && bin_type(c, n)) {
                node_free(n);
                return NULL;
        }
        if (kind == N_AND || kind == N_OR) {
                int lt = l->type, rt = r->type;
                n->type = lt == SPATE_V_ARR || rt == SPATE_V_ARR ? SPATE_V_ARR
                        : known(lt) && known(rt) ? SPATE_V_BOOL : SPATE_V_MISSING;
        }
        return finish(n);
}

/* ---- field paths ---- */

static int path_err_unknown(cctx_t *c, const tok_t *t, const spate_shape_t *s, int prefix_len, const char *prefix) {
        const char *names[256];
        int n = s->nfields < 256 ? s->nfields : 256;
        for (int i = 0; i < n; i++)
                names[i] = s->fields[i].name;
        const char *best = spate_suggest_n(t->str, t->len, names, n);
        char list[512];
        spate_shape_names(s, list, sizeof(list));
        char where[128];
        if (prefix_len)
                snprintf(where, sizeof(where), "'%.*s'", prefix_len, prefix);
        else
                snprintf(where, sizeof(where), "this node's input");
        if (!s->nfields)
                return spate_expr__cerr(c, t->pos, "no field '%s' in %s (hint: it has no fields)", t->str, where);
        if (best)
                return spate_expr__cerr(c, t->pos, "no field '%s' in %s (hint: did you mean '%s'? fields: %s)",
                                        t->str, where, best, list);
        return spate_expr__cerr(c, t->pos, "no field '%s' in %s (hint: fields: %s)", t->str, where, list);
}

/* Resolves one field step; *sp moves to the field's shape. */
static int path_field(cctx_t *c, expr_node_t *n, const tok_t *t, spate_shape_t **sp, path_step_t *st) {
        spate_shape_t *s = *sp;
        const char *prefix = c->src + n->pos;
        int plen = n->nsteps ? n->steps[n->nsteps - 1].text_end : 0;
        if (!s)
                return spate_expr__cerr(c, t->pos, "the elements of '%.*s' have no known fields "
                                        "(hint: pass the whole array through instead)", plen, prefix);
        if (!s->open && known(s->type) && s->type != SPATE_V_OBJ)
                return spate_expr__cerr(c, t->pos, "'%.*s' is %s, it has no field '%s' (hint: remove '.%s')",
                                        plen, prefix, an(s->type), t->str, t->str);
        int idx = spate_shape_field(c->env->pool, s, t->str, t->len, 1);
        if (idx < 0)
                return path_err_unknown(c, t, s, plen, prefix);
        st->kind = S_FIELD;
        st->idx = idx;
        *sp = s->fields[idx].shape;
        return 0;
}

/* Resolves `[i]` or `[*]` (the '[' is current); *sp moves to the element shape. */
static int path_index(cctx_t *c, expr_node_t *n, spate_shape_t **sp, path_step_t *st) {
        tok_t *open = advance(c), *t = advance(c);
        int neg = 0;
        int plen = n->steps[n->nsteps - 1].text_end;
        spate_shape_t *s = *sp;
        if (s && !s->open && known(s->type) && s->type != SPATE_V_ARR)
                return spate_expr__cerr(c, open->pos, "'%.*s' is %s, not an array (hint: remove the [...])",
                                        plen, c->src + n->pos, an(s->type));
        if (t->kind == T_STAR) {
                st->kind = S_STAR;
        } else {
                if (t->kind == T_MINUS) {
                        neg = 1;
                        t = advance(c);
                }
                if (t->kind != T_NUM || t->duration || !(t->num >= 0 && t->num <= INT32_MAX) ||
                    t->num != floor(t->num))
                        return spate_expr__cerr(c, t->pos, "an array index must be an integer or * "
                                                "(hint: e.g. a[0], a[-1] for the last, or a[*] for all)");
                st->kind = S_INDEX;
                st->idx = neg ? -(int32_t)t->num : (int32_t)t->num;
        }
        if (peek(c)->kind != T_RBRACK)
                return spate_expr__cerr(c, open->pos, "unclosed '[' (hint: add ']')");
        advance(c);
        *sp = s ? spate_shape_elem(c->env->pool, s) : NULL;
        return 0;
}

static int add_step(cctx_t *c, expr_node_t *n, const path_step_t *st) {
        path_step_t *s = realloc(n->steps, sizeof(*s) * (size_t)(n->nsteps + 1));
        if (!s)
                return spate_expr__cerr(c, n->pos, "out of memory (hint: none)");
        n->steps = s;
        n->steps[n->nsteps] = *st;
        n->steps[n->nsteps].text_end = c->toks[c->at - 1].end - n->pos;
        n->nsteps++;
        return 0;
}

static expr_node_t *parse_path(cctx_t *c) {
        tok_t *t = advance(c);
        expr_node_t *n = node_new(c, N_PATH, t->pos, t->end);
        spate_shape_t *s = c->env->input, *before_star = NULL;
        path_step_t st = { 0 };
        if (!n || path_field(c, n, t, &s, &st) || add_step(c, n, &st))
                goto err;
        for (;;) {
                tok_kind_t k = peek(c)->kind;
                memset(&st, 0, sizeof(st));
                if (k == T_DOT) {
                        advance(c);
                        t = advance(c);
                        if (t->kind != T_IDENT) {
                                spate_expr__cerr(c, t->pos, "expected a field name after '.' "
                                                 "(hint: odd names go in backquotes, e.g. a.`my-field`)");
                                goto err;
                        }
                        if (path_field(c, n, t, &s, &st))
                                goto err;
                } else if (k == T_LBRACK) {
                        spate_shape_t *arr = s;
                        if (path_index(c, n, &s, &st))
                                goto err;
                        if (st.kind == S_STAR && n->star < 0) {
                                n->star = n->nsteps;
                                before_star = arr;
                        }
                } else {
                        break;
                }
                if (add_step(c, n, &st))
                        goto err;
        }
        n->end = c->toks[c->at - 1].end;
        if (!(n->text = strndup(c->src + n->pos, (size_t)(n->end - n->pos)))) {
                spate_expr__cerr(c, n->pos, "out of memory (hint: none)");
                goto err;
        }
        n->shape = s;
        /* The decoder keeps an array's items only when its element shape
         * exists: ask for it, or `len(xs)` would see an empty array. */
        if (s && s->open)
                spate_shape_elem(c->env->pool, s);
        if (n->star < 0)
                n->passthrough = s;
        else if (n->star == n->nsteps - 1)
                n->passthrough = before_star;
        n->type = n->star >= 0 ? SPATE_V_ARR : s && !s->open ? (uint8_t)s->type : SPATE_V_MISSING;
        return finish(n);
err:
        node_free(n);
        return NULL;
}

/* ---- function calls ---- */

static int func_names(const char **names) {
        int n = 0;
        for (int i = 0; i < spate_expr__nfuncs; i++)
                if (!i || strcmp(spate_expr__funcs[i - 1].name, spate_expr__funcs[i].name))
                        names[n++] = spate_expr__funcs[i].name;
        return n;
}

static int unknown_func(cctx_t *c, const tok_t *t) {
        const char *names[128] = { 0 };
        int n = func_names(names);
        const char *best = spate_suggest_n(t->str, t->len, names, n);
        if (best)
                return spate_expr__cerr(c, t->pos, "unknown function '%s' (hint: did you mean '%s'?)", t->str, best);
        char list[1024];
        size_t off = 0;
        for (int i = 0; i < n && off < sizeof(list); i++)
                off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", names[i]);
        return spate_expr__cerr(c, t->pos, "unknown function '%s' (hint: functions are %s)", t->str, list);
}

static int arity_err(cctx_t *c, const tok_t *t, int first, int nargs) {
        int lo = MAX_ARGS, hi = 0;
        char usage[256];
        size_t off = 0;
        for (int i = first; i < spate_expr__nfuncs && !strcmp(spate_expr__funcs[i].name, t->str); i++) {
                const func_def_t *f = &spate_expr__funcs[i];
                if (f->min_args < lo) lo = f->min_args;
                if (f->max_args > hi) hi = f->max_args;
                off += (size_t)snprintf(usage + off, sizeof(usage) - off, "%s%s", i > first ? " or " : "", f->usage);
        }
        char expect[64];
        if (lo == hi && lo == 0)
                snprintf(expect, sizeof(expect), "no arguments");
        else if (lo == hi)
                snprintf(expect, sizeof(expect), "%d argument%s", lo, lo == 1 ? "" : "s");
        else if (hi >= MAX_ARGS)
                snprintf(expect, sizeof(expect), "at least %d argument%s", lo, lo == 1 ? "" : "s");
        else
                snprintf(expect, sizeof(expect), "%d %s %d arguments", lo, hi == lo + 1 ? "or" : "to", hi);
        return spate_expr__cerr(c, t->pos, "%s() takes %s, got %d (hint: %s)", t->str, expect, nargs, usage);
}

static const char *agg_hint(const func_def_t *f, char *buf, size_t size) {
        if (!strcmp(f->name, "len"))
                snprintf(buf, size, "e.g. len(minutely) or len(name)");
        else if (!strcmp(f->name, "first_where"))
                snprintf(buf, size, "use paths with [*], e.g. first_where(minutely[*].dt, minutely[*].precipitation > 0)");
        else
                snprintf(buf, size, "use a path with [*], e.g. %s(minutely[*].precipitation)", f->name);
        return buf;
}

static int check_arg(cctx_t *c, const func_def_t *f, int i, const expr_node_t *a) {
        size_t nk = strlen(f->args);
        char kind = nk ? f->args[(size_t)i < nk ? (size_t)i : nk - 1] : 'x';
        int t = a->type;
        int elemwise_ok = (f->flags & F_ELEMWISE) && i == 0;
        char hint[160];
        switch (kind) {
        case 'n':
                if (t == SPATE_V_STR || t == SPATE_V_BOOL || t == SPATE_V_OBJ || (t == SPATE_V_ARR && !elemwise_ok))
                        return spate_expr__cerr(c, a->pos, "%s() takes a number, got %s (hint: %s)", f->name, an(t),
                                                t == SPATE_V_STR ? "convert a string with num()" : f->usage);
                return 0;
        case 's':
                if (t == SPATE_V_NUM || t == SPATE_V_BOOL || t == SPATE_V_OBJ || (t == SPATE_V_ARR && !elemwise_ok))
                        return spate_expr__cerr(c, a->pos, "%s() takes a string, got %s (hint: %s)", f->name, an(t),
                                                t == SPATE_V_NUM ? "convert a number with str()" : f->usage);
                return 0;
        case 'a':
        case 'l':
                if (is_scalar_type(t) && !(kind == 'l' && t == SPATE_V_STR))
                        return spate_expr__cerr(c, a->pos, "%s() takes %s (hint: %s)", f->name,
                                                kind == 'l' ? "an array or a string" : "an array",
                                                agg_hint(f, hint, sizeof(hint)));
                return 0;
        case 'p':
                if (a->kind != N_PATH)
                        return spate_expr__cerr(c, a->pos, "%s() takes a field path (hint: e.g. %s(current.rain))",
                                                f->name, f->name);
                return 0;
        default:
                return 0;
        }
}

static int call_type(const func_def_t *f, const expr_node_t *n) {
        int from = -1;
        if (!strcmp(f->name, "if"))
                from = 1;
        else if (!strcmp(f->name, "coalesce"))
                from = 0;
        if (from >= 0) {
                int t = n->kids[from]->type;
                for (int i = from + 1; i < n->nkids; i++)
                        if (n->kids[i]->type != t)
                                return SPATE_V_MISSING;
                return t;
        }
        if ((f->flags & F_ELEMWISE) && n->nkids && !is_scalar_type(n->kids[0]->type))
                return n->kids[0]->type == SPATE_V_ARR ? SPATE_V_ARR : SPATE_V_MISSING;
        return f->rtype;
}

static int lookup_func(cctx_t *c, const tok_t *t, int nargs, const func_def_t **out) {
        int first = -1;
        for (int i = 0; i < spate_expr__nfuncs; i++) {
                const func_def_t *f = &spate_expr__funcs[i];
                if (strcmp(f->name, t->str))
                        continue;
                if (first < 0)
                        first = i;
                if (nargs >= f->min_args && nargs <= f->max_args) {
                        *out = f;
                        return 0;
                }
        }
        return first < 0 ? unknown_func(c, t) : arity_err(c, t, first, nargs);
}

static expr_node_t *parse_call(cctx_t *c, int depth) {
        tok_t *name = advance(c), *open = advance(c);
        expr_node_t *n = node_new(c, N_CALL, name->pos, open->end);
        if (!n)
                return NULL;
        if (peek(c)->kind == T_RPAREN) {
                advance(c);
        } else {
                for (;;) {
                        expr_node_t *a = parse_or(c, depth + 1);
                        if (!a || add_kid(c, n, a)) {
                                node_free(a);
                                goto err;
                        }
                        tok_t *t = advance(c);
                        if (t->kind == T_RPAREN)
                                break;
                        if (t->kind == T_COMMA && n->nkids < MAX_ARGS)
                                continue;
                        if (t->kind == T_COMMA) {
                                spate_expr__cerr(c, t->pos, "too many arguments to %s() (hint: at most %d)",
                                                 name->str, MAX_ARGS);
                        } else if (t->kind == T_EOF) {
                                spate_expr__cerr(c, open->pos, "unclosed '(' of %s() (hint: add a matching ')')", name->str);
                        } else {
                                char d[64];
                                spate_expr__cerr(c, t->pos, "unexpected %s in the arguments of %s() "
                                                 "(hint: separate arguments with ',')", tok_desc(c, t, d, sizeof(d)), name->str);
                        }
                        goto err;
                }
        }
        n->end = c->toks[c->at - 1].end;
        if (lookup_func(c, name, n->nkids, &n->fn))
                goto err;
        for (int i = 0; i < n->nkids; i++) {
                if (check_arg(c, n->fn, i, n->kids[i]))
                        goto err;
        }
        n->type = (uint8_t)call_type(n->fn, n);
        return finish(n);
err:
        node_free(n);
        return NULL;
}

/* ---- operators ---- */

static expr_node_t *lit(cctx_t *c, tok_t *t) {
        expr_node_t *n = node_new(c, N_LIT, t->pos, t->end);
        if (!n)
                return NULL;
        switch (t->kind) {
        case T_NUM: n->lit = spate_value_num(t->num); break;
        case T_TRUE: n->lit = spate_value_bool(1); break;
        case T_FALSE: n->lit = spate_value_bool(0); break;
        case T_NULL: n->lit.type = SPATE_V_NULL; break;
        default: /* T_STR: take the token's buffer */
                n->litbuf = t->str;
                t->str = NULL;
                n->lit = spate_value_str(n->litbuf, (uint32_t)t->len);
        }
        n->type = n->lit.type;
        return finish(n);
}

static expr_node_t *parse_primary(cctx_t *c, int depth) {
        tok_t *t = peek(c);
        if (depth > MAX_DEPTH) {
                spate_expr__cerr(c, t->pos, "expression nested too deeply (hint: at most %d levels)", MAX_DEPTH);
                return NULL;
        }
        switch (t->kind) {
        case T_NUM: case T_STR: case T_TRUE: case T_FALSE: case T_NULL:
                return lit(c, advance(c));
        case T_LPAREN: {
                advance(c);
                expr_node_t *n = parse_or(c, depth + 1);
                if (n && want_end(c, T_RPAREN, t)) {
                        node_free(n);
                        return NULL;
                }
                if (n) {
                        advance(c);
                        n->pos = t->pos; /* messages about it point at the '(' */
                        n->end = c->toks[c->at - 1].end;
                }
                return n;
        }
        case T_IDENT:
                if (!t->quoted && c->toks[c->at + 1].kind == T_LPAREN)
                        return parse_call(c, depth);
                return parse_path(c);
        default:
                return want_operand(c);
        }
}

static expr_node_t *parse_unary(cctx_t *c, int depth) {
        tok_t *t = peek(c);
        if (t->kind != T_MINUS || depth > MAX_DEPTH)
                return parse_primary(c, depth);
        advance(c);
        expr_node_t *k = parse_unary(c, depth + 1);
        if (!k)
                return NULL;
        if (k->kind == N_LIT && k->lit.type == SPATE_V_NUM) {
                k->lit.u.num = -k->lit.u.num; /* `-3e2` is a literal, not an operation */
                k->pos = t->pos;
                return k;
        }
        if (check_arith_operand(c, T_MINUS, k)) {
                node_free(k);
                return NULL;
        }
        expr_node_t *n = node_new(c, N_NEG, t->pos, k->end);
        if (!n || add_kid(c, n, k)) {
                free(n);
                node_free(k);
                return NULL;
        }
        n->type = k->type == SPATE_V_ARR || k->type == SPATE_V_NULL ? k->type
                : known(k->type) ? SPATE_V_NUM : SPATE_V_MISSING;
        return finish(n);
}

static expr_node_t *parse_mul(cctx_t *c, int depth) {
        expr_node_t *l = parse_unary(c, depth);
        while (l && (peek(c)->kind == T_STAR || peek(c)->kind == T_SLASH || peek(c)->kind == T_PERCENT)) {
                tok_t *op = advance(c);
                expr_node_t *r = parse_unary(c, depth);
                if (!r) {
                        node_free(l);
                        return NULL;
                }
                l = mk_bin(c, N_BIN, op, l, r);
        }
        return l;
}

static expr_node_t *parse_add(cctx_t *c, int depth) {
        expr_node_t *l = parse_mul(c, depth);
        while (l && (peek(c)->kind == T_PLUS || peek(c)->kind == T_MINUS)) {
                tok_t *op = advance(c);
                expr_node_t *r = parse_mul(c, depth);
                if (!r) {
                        node_free(l);
                        return NULL;
                }
                l = mk_bin(c, N_BIN, op, l, r);
        }
        return l;
}

static int is_cmp(tok_kind_t k) {
        return k == T_EQ || k == T_NE || k == T_LT || k == T_LE || k == T_GT || k == T_GE;
}

static expr_node_t *parse_cmp(cctx_t *c, int depth) {
        expr_node_t *l = parse_add(c, depth);
        if (!l || !is_cmp(peek(c)->kind))
                return l;
        tok_t *op = advance(c);
        expr_node_t *r = parse_add(c, depth);
        if (!r) {
                node_free(l);
                return NULL;
        }
        if (is_cmp(peek(c)->kind)) {
                spate_expr__cerr(c, peek(c)->pos, "comparisons cannot be chained "
                                 "(hint: write a < b and b < c)");
                node_free(l);
                node_free(r);
                return NULL;
        }
        return mk_bin(c, N_BIN, op, l, r);
}

static expr_node_t *parse_not(cctx_t *c, int depth) {
        tok_t *t = peek(c);
        if (t->kind != T_NOT)
                return parse_cmp(c, depth);
        if (depth > MAX_DEPTH) {
                spate_expr__cerr(c, t->pos, "expression nested too deeply (hint: at most %d levels)", MAX_DEPTH);
                return NULL;
        }
        advance(c);
        expr_node_t *k = parse_not(c, depth + 1);
        if (!k)
                return NULL;
        expr_node_t *n = node_new(c, N_NOT, t->pos, k->end);
        if (!n || add_kid(c, n, k)) {
                free(n);
                node_free(k);
                return NULL;
        }
        n->type = k->type == SPATE_V_ARR ? SPATE_V_ARR : known(k->type) ? SPATE_V_BOOL : SPATE_V_MISSING;
        return finish(n);
}

static expr_node_t *parse_and(cctx_t *c, int depth) {
        expr_node_t *l = parse_not(c, depth);
        while (l && peek(c)->kind == T_AND) {
                tok_t *op = advance(c);
                expr_node_t *r = parse_not(c, depth);
                if (!r) {
                        node_free(l);
                        return NULL;
                }
                l = mk_bin(c, N_AND, op, l, r);
        }
        return l;
}

static expr_node_t *parse_or(cctx_t *c, int depth) {
        expr_node_t *l = parse_and(c, depth);
        while (l && peek(c)->kind == T_OR) {
                tok_t *op = advance(c);
                expr_node_t *r = parse_and(c, depth);
                if (!r) {
                        node_free(l);
                        return NULL;
                }
                l = mk_bin(c, N_OR, op, l, r);
        }
        return l;
}

/* ---- public API ---- */

spate_expr_t *spate_expr_compile(const char *src, const spate_expr_env_t *env,
                                 char *errstr, size_t errstr_size) {
        cctx_t c = { .src = src, .env = env, .errstr = errstr, .errstr_size = errstr_size };
        spate_expr_t *e = calloc(1, sizeof(*e));
        if (errstr_size)
                errstr[0] = '\0';
        if (!e || !(e->text = strdup(src))) {
                spate_expr__cerr(&c, 0, "out of memory (hint: none)");
                goto err;
        }
        c.src = e->text;
        if (spate_expr__lex(&c))
                goto err;
        e->root = parse_or(&c, 0);
        if (!e->root || want_end(&c, T_EOF, NULL))
                goto err;
        spate_expr__toks_free(&c);
        return e;
err:
        spate_expr__toks_free(&c);
        spate_expr_destroy(e);
        return NULL;
}

int spate_expr_type(const spate_expr_t *e) {
        return e->root->type;
}

spate_shape_t *spate_expr_passthrough(const spate_expr_t *e) {
        return e->root->kind == N_PATH ? e->root->passthrough : NULL;
}

int spate_expr_field_index(const spate_expr_t *e) {
        const expr_node_t *r = e->root;
        return r->kind == N_PATH && r->nsteps == 1 && r->steps[0].kind == S_FIELD ? r->steps[0].idx : -1;
}

const char *spate_expr_text(const spate_expr_t *e) {
        return e->text;
}

void spate_expr_destroy(spate_expr_t *e) {
        if (!e)
                return;
        node_free(e->root);
        free(e->text);
        free(e);
}
