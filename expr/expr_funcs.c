/* expr_funcs.c - the expression functions: one table (name, arity, argument
 * kinds, flags, result type, implementation), looked up once at compile.
 *
 * The dispatcher in expr_eval.c has already evaluated the arguments, failed
 * on missing ones and turned null arguments into a null result, unless a
 * function's flags say otherwise; F_ELEMWISE functions here only ever see
 * scalars in their first argument. */
#include "expr_int.h"
#include "../util/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARGS ectx_t *c, const expr_node_t *n, const spate_value_t *a, int na, spate_value_t *out
#define UNUSED_ARGS (void)c, (void)n, (void)a, (void)na

static int null_out(spate_value_t *out) {
        memset(out, 0, sizeof(*out));
        out->type = SPATE_V_NULL;
        return 0;
}

static int num_out(spate_value_t *out, double d) {
        *out = spate_value_num(d);
        return 0;
}

/* The type tested here, the error formatted out of line. */
static int want_num(ectx_t *c, const expr_node_t *n, const spate_value_t *a, int i) {
        return a[i].type == SPATE_V_NUM ? 0 : spate_expr__want_num(c, n, i, &a[i]);
}

static int want_str(ectx_t *c, const expr_node_t *n, const spate_value_t *a, int i) {
        return a[i].type == SPATE_V_STR ? 0 : spate_expr__want_str(c, n, i, &a[i]);
}

/* ---- array aggregates: null/missing elements are skipped, and a missing
 * or null array counts as empty (a One Call response without `minutely`
 * sums to 0 instead of failing the record) ---- */

/* 1 to go through v's items, 0 if v is null/missing, -1 if not an array. */
static int agg_array(ectx_t *c, const expr_node_t *n, int i, const spate_value_t *v) {
        if (v->type <= SPATE_V_NULL)
                return 0;
        if (v->type != SPATE_V_ARR)
                return spate_expr__type_err(c, n->kids[i], n->fn->name, "an array", v);
        return 1;
}

/* 1 and *d for a number, 0 to skip a null, -1 for anything else. */
static int agg_num(ectx_t *c, const expr_node_t *n, const spate_value_t *v, double *d) {
        if (v->type == SPATE_V_NUM) {
                *d = v->u.num;
                return 1;
        }
        if (v->type <= SPATE_V_NULL)
                return 0;
        return spate_expr__type_err(c, n->kids[0], n->fn->name, "numbers in the array", v);
}

/* Folds the numbers of a[0]: mode 's' sum, 'm' mean, '<' min, '>' max. */
static int fold(ectx_t *c, const expr_node_t *n, const spate_value_t *arr, int mode, spate_value_t *out) {
        int rc = agg_array(c, n, 0, arr);
        double acc = 0, d = 0;
        uint32_t cnt = 0;
        for (uint32_t i = 0; rc > 0 && i < arr->n; i++) {
                int k = agg_num(c, n, &arr->u.items[i], &d);
                if (k < 0)
                        return -1;
                if (!k)
                        continue;
                if (mode == '<')
                        acc = cnt && acc <= d ? acc : d;
                else if (mode == '>')
                        acc = cnt && acc >= d ? acc : d;
                else
                        acc += d;
                cnt++;
        }
        if (rc < 0)
                return -1;
        if (mode == 's')
                return num_out(out, acc);
        if (!cnt)
                return null_out(out);
        return num_out(out, mode == 'm' ? acc / cnt : acc);
}

static int f_sum(ARGS) { (void)na; return fold(c, n, &a[0], 's', out); }
static int f_mean(ARGS) { (void)na; return fold(c, n, &a[0], 'm', out); }
static int f_min_arr(ARGS) { (void)na; return fold(c, n, &a[0], '<', out); }
static int f_max_arr(ARGS) { (void)na; return fold(c, n, &a[0], '>', out); }

static int f_count(ARGS) {
        (void)na;
        int rc = agg_array(c, n, 0, &a[0]);
        uint32_t cnt = 0;
        for (uint32_t i = 0; rc > 0 && i < a[0].n; i++)
                cnt += a[0].u.items[i].type > SPATE_V_NULL;
        return rc < 0 ? -1 : num_out(out, cnt);
}

static int f_count_if(ARGS) {
        (void)na;
        int rc = agg_array(c, n, 0, &a[0]);
        uint32_t cnt = 0;
        for (uint32_t i = 0; rc > 0 && i < a[0].n; i++)
                cnt += spate_value_truthy(&a[0].u.items[i]) != 0;
        return rc < 0 ? -1 : num_out(out, cnt);
}

static int f_first_where(ARGS) {
        (void)na;
        int rv = agg_array(c, n, 0, &a[0]), rc = agg_array(c, n, 1, &a[1]);
        if (rv < 0 || rc < 0)
                return -1;
        if (!rv || !rc)
                return null_out(out);
        if (a[0].n != a[1].n)
                return spate_expr__err(c, "first_where(): %u values but %u conditions "
                                       "(both must come from the same array)", a[0].n, a[1].n);
        for (uint32_t i = 0; i < a[0].n; i++) {
                if (spate_value_truthy(&a[1].u.items[i])) {
                        *out = a[0].u.items[i];
                        if (out->type == SPATE_V_MISSING)
                                out->type = SPATE_V_NULL;
                        return 0;
                }
        }
        return null_out(out);
}

static int f_min_max(ectx_t *c, const expr_node_t *n, const spate_value_t *a, int na,
                     spate_value_t *out, int sign) {
        double best = 0;
        for (int i = 0; i < na; i++) {
                if (want_num(c, n, a, i))
                        return -1;
                if (!i || (sign < 0 ? a[i].u.num < best : a[i].u.num > best))
                        best = a[i].u.num;
        }
        return num_out(out, best);
}

static int f_min(ARGS) { return f_min_max(c, n, a, na, out, -1); }
static int f_max(ARGS) { return f_min_max(c, n, a, na, out, 1); }

static int f_len(ARGS) {
        (void)na;
        if (a[0].type != SPATE_V_ARR && a[0].type != SPATE_V_STR)
                return spate_expr__type_err(c, n->kids[0], "len", "an array or a string", &a[0]);
        return num_out(out, a[0].n);
}

/* ---- conditionals and presence (lazy: unused arguments are never evaluated) ---- */

static int f_if(ARGS) {
        UNUSED_ARGS;
        spate_value_t cond;
        if (spate_expr__eval_node(c, n->kids[0], &cond))
                return -1;
        if (cond.type == SPATE_V_MISSING)
                return spate_expr__missing_err(c, n->kids[0]);
        if (cond.type == SPATE_V_ARR)
                return spate_expr__type_err(c, n->kids[0], "if", "a condition", &cond);
        return spate_expr__eval_node(c, n->kids[spate_value_truthy(&cond) ? 1 : 2], out);
}

static int f_coalesce(ARGS) {
        (void)a;
        for (int i = 0; i < na; i++) {
                if (spate_expr__eval_node(c, n->kids[i], out))
                        return -1;
                if (out->type > SPATE_V_NULL)
                        return 0;
        }
        return null_out(out);
}

static int f_exists(ARGS) {
        UNUSED_ARGS;
        *out = spate_value_bool(a[0].type != SPATE_V_MISSING);
        return 0;
}

static int f_is_null(ARGS) {
        UNUSED_ARGS;
        *out = spate_value_bool(a[0].type <= SPATE_V_NULL);
        return 0;
}

/* ---- math ---- */

static int f_abs(ARGS) { (void)na; return want_num(c, n, a, 0) ? -1 : num_out(out, fabs(a[0].u.num)); }
static int f_floor(ARGS) { (void)na; return want_num(c, n, a, 0) ? -1 : num_out(out, floor(a[0].u.num)); }
static int f_ceil(ARGS) { (void)na; return want_num(c, n, a, 0) ? -1 : num_out(out, ceil(a[0].u.num)); }

static int f_sqrt(ARGS) {
        (void)na;
        if (want_num(c, n, a, 0))
                return -1;
        return a[0].u.num < 0 ? null_out(out) : num_out(out, sqrt(a[0].u.num));
}

/* Half away from zero, at `digits` decimals (negative: tens, hundreds...). */
static int f_round(ARGS) {
        if (want_num(c, n, a, 0) || (na > 1 && want_num(c, n, a, 1)))
                return -1;
        double x = a[0].u.num, d = na > 1 ? a[1].u.num : 0;
        if (d != floor(d) || d < -15 || d > 15)
                return spate_expr__err(c, "round(): digits must be an integer from -15 to 15, got %g", d);
        double p = pow(10, fabs(d));
        if (d >= 0)
                return num_out(out, round(x * p) / p);
        return num_out(out, round(x / p) * p);
}

/* ---- time: ms since the epoch, UTC ---- */


static int want_time(ectx_t *c, const expr_node_t *n, const spate_value_t *a, int i, int64_t *ms) {
        if (want_num(c, n, a, i))
                return -1;
        if (spate_time_from_num(a[i].u.num, ms))
                return spate_expr__err(c, "%s(): time %g is out of range", n->fn->name, a[i].u.num);
        return 0;
}

static int f_ts(ARGS) { UNUSED_ARGS; return num_out(out, (double)c->rec->ts); }
static int f_unix_s(ARGS) { (void)na; return want_num(c, n, a, 0) ? -1 : num_out(out, a[0].u.num * 1000); }
static int f_unix_ms(ARGS) { (void)na; return want_num(c, n, a, 0) ? -1 : num_out(out, a[0].u.num); }
static int f_to_unix_s(ARGS) { (void)na; return want_num(c, n, a, 0) ? -1 : num_out(out, floor(a[0].u.num / 1000)); }

static int f_floor_time(ARGS) {
        (void)na;
        int64_t t;
        if (want_time(c, n, a, 0, &t) || want_num(c, n, a, 1))
                return -1;
        double p = a[1].u.num;
        if (!(p >= 1 && p <= (double)SPATE_MAX_TIME_MS) || p != floor(p))
                return spate_expr__err(c, "floor_time(): the period must be a whole number of ms, "
                                       "at least 1ms, got %g", p);
        int64_t ip = (int64_t)p, m = t % ip;
        return num_out(out, (double)(t - (m < 0 ? m + ip : m)));
}

static int f_hour(ARGS) {
        (void)na;
        int64_t t;
        civil_t cv;
        if (want_time(c, n, a, 0, &t))
                return -1;
        spate_expr__civil(t, &cv);
        return num_out(out, cv.hour);
}

static int f_minute(ARGS) {
        (void)na;
        int64_t t;
        civil_t cv;
        if (want_time(c, n, a, 0, &t))
                return -1;
        spate_expr__civil(t, &cv);
        return num_out(out, cv.minute);
}

static int str_out(ectx_t *c, spate_value_t *out, const char *s, size_t len) {
        *out = spate_value_str(spate_arena_memdup(c->a, s, len), (uint32_t)len);
        return 0;
}

static int f_day(ARGS) {
        (void)na;
        int64_t t;
        civil_t cv;
        char buf[48];
        if (want_time(c, n, a, 0, &t))
                return -1;
        spate_expr__civil(t, &cv);
        int len = snprintf(buf, sizeof(buf), "%04lld-%02d-%02d", (long long)cv.year, cv.month, cv.day);
        return str_out(c, out, buf, (size_t)len);
}

static int f_iso(ARGS) {
        (void)na;
        int64_t t;
        civil_t cv;
        char buf[64];
        if (want_time(c, n, a, 0, &t))
                return -1;
        spate_expr__civil(t, &cv);
        int len = snprintf(buf, sizeof(buf), "%04lld-%02d-%02dT%02d:%02d:%02d", (long long)cv.year,
                           cv.month, cv.day, cv.hour, cv.minute, cv.second);
        if (cv.ms)
                len += snprintf(buf + len, sizeof(buf) - (size_t)len, ".%03d", cv.ms);
        buf[len++] = 'Z';
        return str_out(c, out, buf, (size_t)len);
}

static int f_parse_time(ARGS) {
        (void)na;
        double ms;
        if (want_str(c, n, a, 0))
                return -1;
        if (spate_expr__parse_time(a[0].u.s, a[0].n, &ms))
                return spate_expr__err(c, "parse_time(): cannot read '%.*s' as a time "
                                       "(expected ISO-8601, e.g. 2026-11-23T10:00:00Z)",
                                       a[0].n > 64 ? 64 : (int)a[0].n, a[0].u.s);
        return num_out(out, ms);
}

/* ---- strings (bytes; lower/upper/trim are ASCII-only) ---- */

/* Shortest text that reads back as d: integers without ".0". */
static int fmt_num(double d, char buf[32]) {
        if (d == 0)
                return snprintf(buf, 32, "0");
        if (d == floor(d) && fabs(d) < 1e15)
                return snprintf(buf, 32, "%.0f", d);
        for (int prec = 15; prec < 17; prec++) {
                int len = snprintf(buf, 32, "%.*g", prec, d);
                if (strtod(buf, NULL) == d)
                        return len;
        }
        return snprintf(buf, 32, "%.17g", d);
}

/* Text of a scalar; -1 for arrays/objects (unless their JSON is kept). */
static int scalar_text(const spate_value_t *v, char buf[32], const char **s, size_t *len) {
        switch (v->type) {
        case SPATE_V_STR: *s = v->u.s; *len = v->n; return 0;
        case SPATE_V_NUM: *s = buf; *len = (size_t)fmt_num(v->u.num, buf); return 0;
        case SPATE_V_BOOL: *s = v->u.b ? "true" : "false"; *len = strlen(*s); return 0;
        default:
                if (!v->raw)
                        return -1;
                *s = v->raw;
                *len = v->raw_len;
                return 0;
        }
}

/* Null arguments are skipped (concat('a', null) is 'a'). */
static int f_concat(ARGS) {
        char bufs[EXPR_MAX_ARGS][32];
        const char *s[EXPR_MAX_ARGS];
        size_t len[EXPR_MAX_ARGS], total = 0;
        for (int i = 0; i < na; i++) {
                len[i] = 0;
                if (a[i].type == SPATE_V_NULL)
                        continue;
                if (scalar_text(&a[i], bufs[i], &s[i], &len[i]))
                        return spate_expr__type_err(c, n->kids[i], "concat", "a string, number or bool", &a[i]);
                total += len[i];
        }
        char *o = spate_arena_alloc(c->a, total + 1), *w = o;
        for (int i = 0; i < na; i++)
                if (len[i]) {
                        memcpy(w, s[i], len[i]);
                        w += len[i];
                }
        *out = spate_value_str(o, (uint32_t)total);
        return 0;
}

static int f_str(ARGS) {
        (void)na;
        char buf[32];
        const char *s;
        size_t len;
        if (a[0].type == SPATE_V_STR) {
                *out = a[0];
                return 0;
        }
        if (scalar_text(&a[0], buf, &s, &len))
                return spate_expr__type_err(c, n->kids[0], "str", "a string, number or bool", &a[0]);
        return str_out(c, out, s, len);
}

static int f_num(ARGS) {
        (void)na;
        if (a[0].type == SPATE_V_NUM) {
                *out = a[0];
                return 0;
        }
        if (want_str(c, n, a, 0))
                return -1;
        char buf[64];
        char *end;
        if (a[0].n == 0 || a[0].n >= sizeof(buf))
                goto bad;
        memcpy(buf, a[0].u.s, a[0].n);
        buf[a[0].n] = '\0';
        /* Decimal only: strtod alone would also take " 5", "0x1f", "inf" and "nan". */
        if (strspn(buf, "0123456789+-.eE") != a[0].n)
                goto bad;
        double d = strtod(buf, &end);
        if (*end || !isfinite(d))
                goto bad;
        return num_out(out, d);
bad:
        if (n->kids[0]->kind == N_PATH)
                return spate_expr__err(c, "field '%s': '%.*s' is not a number", n->kids[0]->text,
                                       a[0].n > 64 ? 64 : (int)a[0].n, a[0].u.s);
        return spate_expr__err(c, "num(): '%.*s' is not a number", a[0].n > 64 ? 64 : (int)a[0].n, a[0].u.s);
}

static int f_case(ectx_t *c, const expr_node_t *n, const spate_value_t *a, spate_value_t *out, int upper) {
        if (want_str(c, n, a, 0))
                return -1;
        char *o = spate_arena_alloc(c->a, a[0].n + 1);
        for (uint32_t i = 0; i < a[0].n; i++) {
                char ch = a[0].u.s[i];
                if (upper && ch >= 'a' && ch <= 'z')
                        ch = (char)(ch - 'a' + 'A');
                else if (!upper && ch >= 'A' && ch <= 'Z')
                        ch = (char)(ch - 'A' + 'a');
                o[i] = ch;
        }
        *out = spate_value_str(o, a[0].n);
        return 0;
}

static int f_lower(ARGS) { (void)na; return f_case(c, n, a, out, 0); }
static int f_upper(ARGS) { (void)na; return f_case(c, n, a, out, 1); }

static int is_space(char ch) {
        return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

static int f_trim(ARGS) {
        (void)na;
        if (want_str(c, n, a, 0))
                return -1;
        const char *s = a[0].u.s;
        uint32_t b = 0, e = a[0].n;
        while (b < e && is_space(s[b]))
                b++;
        while (e > b && is_space(s[e - 1]))
                e--;
        *out = spate_value_str(s + b, e - b);
        return 0;
}

/* Byte offsets; a negative start counts from the end; out of range clamps. */
static int f_substr(ARGS) {
        if (want_str(c, n, a, 0) || want_num(c, n, a, 1) || (na > 2 && want_num(c, n, a, 2)))
                return -1;
        double len = a[0].n, st = floor(a[1].u.num);
        if (isnan(st) || (na > 2 && isnan(a[2].u.num)))
                return spate_expr__err(c, "substr(): %s is not a number (NaN)", isnan(st) ? "start" : "length");
        if (st < 0)
                st = st + len < 0 ? 0 : st + len;
        if (st > len)
                st = len;
        double cnt = na > 2 ? floor(a[2].u.num) : len - st;
        if (cnt < 0)
                cnt = 0;
        if (cnt > len - st)
                cnt = len - st;
        *out = spate_value_str(a[0].u.s + (size_t)st, (uint32_t)cnt);
        return 0;
}

static int f_starts_with(ARGS) {
        (void)na;
        if (want_str(c, n, a, 0) || want_str(c, n, a, 1))
                return -1;
        *out = spate_value_bool(a[1].n <= a[0].n && !memcmp(a[0].u.s, a[1].u.s, a[1].n));
        return 0;
}

static int f_ends_with(ARGS) {
        (void)na;
        if (want_str(c, n, a, 0) || want_str(c, n, a, 1))
                return -1;
        *out = spate_value_bool(a[1].n <= a[0].n &&
                                !memcmp(a[0].u.s + a[0].n - a[1].n, a[1].u.s, a[1].n));
        return 0;
}

static int f_contains(ARGS) {
        (void)na;
        if (want_str(c, n, a, 0) || want_str(c, n, a, 1))
                return -1;
        *out = spate_value_bool(!a[1].n || memmem(a[0].u.s, a[0].n, a[1].u.s, a[1].n) != NULL);
        return 0;
}

static int f_key(ARGS) {
        UNUSED_ARGS;
        if (!c->rec->key)
                return null_out(out);
        *out = spate_value_str(c->rec->key, (uint32_t)c->rec->key_len);
        return 0;
}

/* ---- the table: sorted by name, overloads of one name adjacent ---- */

#define M EXPR_MAX_ARGS
#define E F_ELEMWISE
#define AGG F_MISSING_OK

const func_def_t spate_expr__funcs[] = {
        { "abs", 1, 1, "n", E, SPATE_V_NUM, f_abs, "abs(x)", "absolute value" },
        { "ceil", 1, 1, "n", E, SPATE_V_NUM, f_ceil, "ceil(x)", "smallest integer >= x" },
        { "coalesce", 1, M, "x", F_LAZY, SPATE_V_MISSING, f_coalesce, "coalesce(a, b, ...)",
          "the first argument that is neither null nor missing, else null" },
        { "concat", 1, M, "x", F_KEEP_NULL, SPATE_V_STR, f_concat, "concat(a, b, ...)",
          "joins strings, numbers (shortest form, 3 not 3.0) and bools; nulls are skipped" },
        { "contains", 2, 2, "ss", 0, SPATE_V_BOOL, f_contains, "contains(s, part)", "s contains part" },
        { "count", 1, 1, "a", AGG, SPATE_V_NUM, f_count, "count(array)", "number of non-null elements" },
        { "count_if", 1, 1, "a", AGG, SPATE_V_NUM, f_count_if, "count_if(array)", "number of truthy elements" },
        { "day", 1, 1, "n", E, SPATE_V_STR, f_day, "day(t)", "the UTC date of t, 'YYYY-MM-DD'" },
        { "ends_with", 2, 2, "ss", 0, SPATE_V_BOOL, f_ends_with, "ends_with(s, suffix)", "s ends with suffix" },
        { "exists", 1, 1, "p", AGG | F_KEEP_NULL, SPATE_V_BOOL, f_exists, "exists(path)",
          "the field is present (even if null)" },
        { "first_where", 2, 2, "aa", AGG, SPATE_V_MISSING, f_first_where, "first_where(values, conditions)",
          "the first value whose condition is truthy, else null" },
        { "floor", 1, 1, "n", E, SPATE_V_NUM, f_floor, "floor(x)", "largest integer <= x" },
        { "floor_time", 2, 2, "nn", E, SPATE_V_NUM, f_floor_time, "floor_time(t, period)",
          "t rounded down to a multiple of period, e.g. floor_time(ts(), 1h)" },
        { "hour", 1, 1, "n", E, SPATE_V_NUM, f_hour, "hour(t)", "UTC hour of t, 0-23" },
        { "if", 3, 3, "xxx", F_LAZY, SPATE_V_MISSING, f_if, "if(condition, then, else)",
          "then if condition is truthy, else else; the other is not evaluated" },
        { "is_null", 1, 1, "x", AGG | F_KEEP_NULL, SPATE_V_BOOL, f_is_null, "is_null(x)", "x is null or missing" },
        { "iso", 1, 1, "n", E, SPATE_V_STR, f_iso, "iso(t)",
          "t as ISO-8601 UTC, '2026-11-23T10:00:00Z' (.mmm when not whole seconds)" },
        { "key", 0, 0, "", 0, SPATE_V_STR, f_key, "key()", "the record key as a string (null if none)" },
        { "len", 1, 1, "l", 0, SPATE_V_NUM, f_len, "len(x)", "elements of an array, bytes of a string" },
        { "lower", 1, 1, "s", E, SPATE_V_STR, f_lower, "lower(s)", "ASCII lower case" },
        { "max", 1, 1, "a", AGG, SPATE_V_NUM, f_max_arr, "max(array)", "largest number, null if none" },
        { "max", 2, M, "n", 0, SPATE_V_NUM, f_max, "max(a, b, ...)", "largest argument" },
        { "mean", 1, 1, "a", AGG, SPATE_V_NUM, f_mean, "mean(array)", "average of the numbers, null if none" },
        { "min", 1, 1, "a", AGG, SPATE_V_NUM, f_min_arr, "min(array)", "smallest number, null if none" },
        { "min", 2, M, "n", 0, SPATE_V_NUM, f_min, "min(a, b, ...)", "smallest argument" },
        { "minute", 1, 1, "n", E, SPATE_V_NUM, f_minute, "minute(t)", "UTC minute of t, 0-59" },
        { "num", 1, 1, "x", E, SPATE_V_NUM, f_num, "num(x)", "a number from a numeric string (error if not numeric)" },
        { "parse_time", 1, 1, "s", E, SPATE_V_NUM, f_parse_time, "parse_time(s)",
          "ms from ISO-8601 (Z, +hh:mm or no zone = UTC; fraction) or 'YYYY-MM-DD HH:MM:SS'" },
        { "round", 1, 2, "nn", E, SPATE_V_NUM, f_round, "round(x[, digits])",
          "half away from zero, at digits decimals (default 0)" },
        { "sqrt", 1, 1, "n", E, SPATE_V_NUM, f_sqrt, "sqrt(x)", "square root, null for negative x" },
        { "starts_with", 2, 2, "ss", 0, SPATE_V_BOOL, f_starts_with, "starts_with(s, prefix)", "s starts with prefix" },
        { "str", 1, 1, "x", E, SPATE_V_STR, f_str, "str(x)", "text of a number, bool or string" },
        { "substr", 2, 3, "snn", 0, SPATE_V_STR, f_substr, "substr(s, start[, len])",
          "bytes from start (negative: from the end), clamped" },
        { "sum", 1, 1, "a", AGG, SPATE_V_NUM, f_sum, "sum(array)", "sum of the numbers (0 if none)" },
        { "to_unix_s", 1, 1, "n", E, SPATE_V_NUM, f_to_unix_s, "to_unix_s(t)", "whole seconds since the epoch" },
        { "trim", 1, 1, "s", E, SPATE_V_STR, f_trim, "trim(s)", "without leading/trailing whitespace" },
        { "ts", 0, 0, "", 0, SPATE_V_NUM, f_ts, "ts()", "the record's event time" },
        { "unix_ms", 1, 1, "n", E, SPATE_V_NUM, f_unix_ms, "unix_ms(x)", "x, already ms since the epoch" },
        { "unix_s", 1, 1, "n", E, SPATE_V_NUM, f_unix_s, "unix_s(x)", "seconds since the epoch to ms" },
        { "upper", 1, 1, "s", E, SPATE_V_STR, f_upper, "upper(s)", "ASCII upper case" },
};

const int spate_expr__nfuncs = (int)(sizeof(spate_expr__funcs) / sizeof(spate_expr__funcs[0]));
