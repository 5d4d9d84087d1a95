/* test_expr_errors.c - every class of compile error: exact FILE:LINE:COL
 * (pointing at the offending token) and hint text. The expression starts at
 * topo.yaml:12:14, as if it followed `where: ` in an indented YAML block. */
#include "check.h"
#include "../../expr/expr.h"

#include <stdlib.h>

struct ecase {
        int closed; /* compile against the closed shape below instead of an open one */
        const char *src, *want;
};

#define P "topo.yaml:"

static const struct ecase cases[] = {
        /* syntax */
        { 0, "", P "12:14: empty expression (hint: write a value, e.g. temp > 30)" },
        { 0, "   ", P "12:17: empty expression (hint: write a value, e.g. temp > 30)" },
        { 0, "temp >", P "12:20: unexpected end of expression (hint: a value is missing after '>')" },
        { 0, "a and", P "12:19: unexpected end of expression (hint: a value is missing after 'and')" },
        { 0, "temp 30", P "12:19: unexpected number '30' after a complete expression "
                        "(hint: an operator such as 'and', '==' or '+' is missing)" },
        { 0, "(a b)", P "12:17: unexpected name 'b' after a complete expression "
                      "(hint: an operator such as 'and', '==' or '+' is missing)" },
        { 0, "a 'x'", P "12:16: unexpected string 'x' after a complete expression "
                      "(hint: an operator such as 'and', '==' or '+' is missing)" },
        { 0, "a + * 2", P "12:18: unexpected '*' (hint: expected a value, a field or a function call)" },
        { 0, "abs(1,)", P "12:20: unexpected ')' (hint: expected a value, a field or a function call)" },
        { 0, "(a + b", P "12:14: unclosed '(' (hint: add a matching ')')" },
        { 0, "((a + b)", P "12:14: unclosed '(' (hint: add a matching ')')" },
        { 0, "a + b)", P "12:19: unmatched ')' (hint: remove it or add a '(' before it)" },
        { 0, "sum(a, b", P "12:17: unclosed '(' of sum() (hint: add a matching ')')" },
        { 0, "sum(a b)", P "12:20: unexpected name 'b' in the arguments of sum() (hint: separate arguments with ',')" },
        { 0, "a < b < c", P "12:20: comparisons cannot be chained (hint: write a < b and b < c)" },
        { 0, "a[1.5]", P "12:16: an array index must be an integer or * (hint: e.g. a[0], a[-1] for the last, or a[*] for all)" },
        { 0, "a[1e10]", P "12:16: an array index must be an integer or * (hint: e.g. a[0], a[-1] for the last, or a[*] for all)" },
        { 0, "a[-3e9]", P "12:17: an array index must be an integer or * (hint: e.g. a[0], a[-1] for the last, or a[*] for all)" },
        { 0, "a[x]", P "12:16: an array index must be an integer or * (hint: e.g. a[0], a[-1] for the last, or a[*] for all)" },
        { 0, "a[1s]", P "12:16: an array index must be an integer or * (hint: e.g. a[0], a[-1] for the last, or a[*] for all)" },
        { 0, "a[0", P "12:15: unclosed '[' (hint: add ']')" },
        { 0, "a.", P "12:16: expected a field name after '.' (hint: odd names go in backquotes, e.g. a.`my-field`)" },
        /* lexical */
        { 0, "city == 'abc", P "12:22: unterminated string (hint: close it with ')" },
        { 0, "\"abc", P "12:14: unterminated string (hint: close it with \")" },
        { 0, "'a\\q'", P "12:16: unknown escape '\\q' in string (hint: use \\' \\\" \\\\ \\n or \\t)" },
        { 0, "`abc", P "12:14: unterminated `name` (hint: close it with `)" },
        { 0, "``", P "12:14: empty `` name (hint: put the field name between the backquotes)" },
        { 0, "a = 1", P "12:16: unexpected '=' (hint: use '==' to compare)" },
        { 0, "a && b", P "12:16: unexpected '&' (hint: use 'and')" },
        { 0, "a || b", P "12:16: unexpected '|' (hint: use 'or')" },
        { 0, "!a", P "12:14: unexpected '!' (hint: use 'not' to negate, '!=' to compare)" },
        { 0, "a $ b", P "12:16: unexpected character '$' (hint: names with other characters go in backquotes, e.g. `my-field`)" },
        { 0, "5y", P "12:14: bad duration unit 'y' in '5y' (hint: durations are a number and one of ms, s, m, h, d, e.g. 90s or 1h)" },
        { 0, "ts() - 10min", P "12:21: bad duration unit 'min' in '10min' (hint: durations are a number and one of ms, s, m, h, d, e.g. 90s or 1h)" },
        /* functions */
        { 0, "summ(minutely[*].precipitation)", P "12:14: unknown function 'summ' (hint: did you mean 'sum'?)" },
        { 0, "coalese(a, 1)", P "12:14: unknown function 'coalese' (hint: did you mean 'coalesce'?)" },
        { 0, "a + lenn(b)", P "12:18: unknown function 'lenn' (hint: did you mean 'len'?)" },
        { 0, "frobnicate(1)", P "12:14: unknown function 'frobnicate' (hint: functions are abs, ceil, coalesce, concat, "
                              "contains, count, count_if, day, ends_with, exists, first_where, floor, floor_time, hour, if, "
                              "is_null, iso, key, len, lower, max, mean, min, minute, num, parse_time, round, sqrt, "
                              "starts_with, str, substr, sum, to_unix_s, trim, ts, unix_ms, unix_s, upper)" },
        { 0, "round(1, 2, 3)", P "12:14: round() takes 1 or 2 arguments, got 3 (hint: round(x[, digits]))" },
        { 0, "min()", P "12:14: min() takes at least 1 argument, got 0 (hint: min(array) or min(a, b, ...))" },
        { 0, "ts(1)", P "12:14: ts() takes no arguments, got 1 (hint: ts())" },
        { 0, "if(a, b)", P "12:14: if() takes 3 arguments, got 2 (hint: if(condition, then, else))" },
        { 0, "sum(a, b)", P "12:14: sum() takes 1 argument, got 2 (hint: sum(array))" },
        { 0, "substr('abc')", P "12:14: substr() takes 2 or 3 arguments, got 1 (hint: substr(s, start[, len]))" },
        { 0, "concat(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17)", P "12:59: too many arguments to concat() (hint: at most 16)" },
        /* static types */
        { 0, "sum(5)", P "12:18: sum() takes an array (hint: use a path with [*], e.g. sum(minutely[*].precipitation))" },
        { 0, "count_if('x')", P "12:23: count_if() takes an array (hint: use a path with [*], e.g. count_if(minutely[*].precipitation))" },
        { 0, "mean(1 + 2)", P "12:19: mean() takes an array (hint: use a path with [*], e.g. mean(minutely[*].precipitation))" },
        { 0, "first_where(1, x[*])", P "12:26: first_where() takes an array (hint: use paths with [*], e.g. "
                                     "first_where(minutely[*].dt, minutely[*].precipitation > 0))" },
        { 0, "len(5)", P "12:18: len() takes an array or a string (hint: e.g. len(minutely) or len(name))" },
        { 0, "'a' * 2", P "12:14: operator '*' needs numbers, got a string (hint: arithmetic works on numbers "
                        "and arrays of numbers; convert a string with num())" },
        { 0, "'a' + 'b'", P "12:14: operator '+' needs numbers, got a string (hint: use concat() to join strings, e.g. concat(a, ' ', b))" },
        { 0, "2 - true", P "12:18: operator '-' needs numbers, got a bool (hint: arithmetic works on numbers "
                         "and arrays of numbers; convert a string with num())" },
        { 0, "-'x'", P "12:15: operator '-' needs numbers, got a string (hint: arithmetic works on numbers "
                     "and arrays of numbers; convert a string with num())" },
        { 0, "x * upper('y')", P "12:18: operator '*' needs numbers, got a string (hint: arithmetic works on numbers "
                             "and arrays of numbers; convert a string with num())" },
        { 0, "'a' > 3", P "12:20: cannot compare a string with a number (hint: convert one side with num() or str())" },
        { 0, "iso(ts()) == ts()", P "12:27: cannot compare a string with a number (hint: convert one side with num() or str())" },
        { 0, "abs('x')", P "12:18: abs() takes a number, got a string (hint: convert a string with num())" },
        { 0, "floor_time(ts(), 'x')", P "12:31: floor_time() takes a number, got a string (hint: convert a string with num())" },
        { 0, "round(x, true)", P "12:23: round() takes a number, got a bool (hint: round(x[, digits]))" },
        { 0, "lower(5)", P "12:20: lower() takes a string, got a number (hint: convert a number with str())" },
        { 0, "contains(a, 1)", P "12:26: contains() takes a string, got a number (hint: convert a number with str())" },
        { 0, "exists(1)", P "12:21: exists() takes a field path (hint: e.g. exists(current.rain))" },
        /* closed shape: a, b, temp, tags, cur {t} */
        { 1, "tmep > 3", P "12:14: no field 'tmep' in this node's input (hint: did you mean 'temp'? fields: a, b, temp, tags, cur)" },
        { 1, "zzz", P "12:14: no field 'zzz' in this node's input (hint: fields: a, b, temp, tags, cur)" },
        { 1, "cur.x", P "12:18: no field 'x' in 'cur' (hint: fields: t)" },
        { 1, "cur.tt", P "12:18: no field 'tt' in 'cur' (hint: did you mean 't'? fields: t)" },
        { 1, "temp[*]", P "12:18: 'temp' is a number, not an array (hint: remove the [...])" },
        { 1, "b[0]", P "12:15: 'b' is a string, not an array (hint: remove the [...])" },
        { 1, "temp.x", P "12:19: 'temp' is a number, it has no field 'x' (hint: remove '.x')" },
        { 1, "tags[*].x", P "12:22: the elements of 'tags[*]' have no known fields (hint: pass the whole array through instead)" },
        { 1, "b * 2", P "12:14: operator '*' needs numbers, got a string (hint: arithmetic works on numbers "
                      "and arrays of numbers; convert a string with num())" },
        { 1, "sum(temp)", P "12:18: sum() takes an array (hint: use a path with [*], e.g. sum(minutely[*].precipitation))" },
        { 1, "b > a", P "12:18: cannot compare a string with a number (hint: convert one side with num() or str())" },
        { 1, "cur > 1", P "12:14: cannot compare an object (hint: compare one of its fields, e.g. a.b == 1)" },
        { 1, "upper(temp)", P "12:20: upper() takes a string, got a number (hint: convert a number with str())" },
        /* positions across lines: line from env->line, column from the line start */
        { 0, "a +\n  * 2", P "13:3: unexpected '*' (hint: expected a value, a field or a function call)" },
        { 0, "a\n  and\n\n summ(x)", P "15:2: unknown function 'summ' (hint: did you mean 'sum'?)" },
        { 0, "sum(\n  5)", P "13:3: sum() takes an array (hint: use a path with [*], e.g. sum(minutely[*].precipitation))" },
        { 0, "'abc\n", P "12:14: unterminated string (hint: close it with ')" },
};

static spate_shape_t *closed_shape(spate_shape_pool_t *pool) {
        spate_shape_t *in = spate_shape_new(pool, 0);
        spate_shape_add(pool, in, "a", NULL, SPATE_V_NUM);
        spate_shape_add(pool, in, "b", NULL, SPATE_V_STR);
        spate_shape_add(pool, in, "temp", NULL, SPATE_V_NUM);
        spate_shape_add(pool, in, "tags", NULL, SPATE_V_ARR);
        spate_shape_t *cur = spate_shape_new(pool, 0);
        cur->type = SPATE_V_OBJ;
        spate_shape_add(pool, cur, "t", NULL, SPATE_V_NUM);
        spate_shape_add(pool, in, "cur", cur, 0);
        return in;
}

static void one_line(const char *s, char *buf, size_t size) {
        size_t i = 0;
        for (; s[i] && i + 1 < size; i++)
                buf[i] = s[i] == '\n' ? '|' : s[i];
        buf[i] = '\0';
}

static void test_cases(void) {
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                spate_shape_pool_t pool = { 0 };
                spate_expr_env_t env = { .pool = &pool, .file = "topo.yaml", .line = 12, .col = 14 };
                env.input = cases[i].closed ? closed_shape(&pool) : spate_shape_new(&pool, 1);
                char err[1024] = "", src[128];
                spate_expr_t *e = spate_expr_compile(cases[i].src, &env, err, sizeof(err));
                one_line(cases[i].src, src, sizeof(src));
                CHECK(!e && !strcmp(err, cases[i].want), "%s => got '%s', want '%s'", src,
                      e ? "(compiled)" : err, cases[i].want);
                spate_expr_destroy(e);
                spate_shape_pool_destroy(&pool);
        }
}

/* No file: "<expr>"; a small errstr is truncated, never overrun. */
static void test_edges(void) {
        spate_shape_pool_t pool = { 0 };
        spate_expr_env_t env = { .pool = &pool, .input = spate_shape_new(&pool, 1), .line = 1, .col = 1 };
        char err[64];
        spate_expr_t *e = spate_expr_compile("a +", &env, err, sizeof(err));
        CHECK(!e && !strncmp(err, "<expr>:1:4: unexpected end", 26), "no file name: %s", err);
        char tiny[8] = "xxxxxxx";
        e = spate_expr_compile("summ(1)", &env, tiny, 5);
        CHECK(!e && !strcmp(tiny, "<exp") && tiny[5] == 'x', "truncated errstr: %s", tiny);
        /* Deep nesting is an error, not a stack overflow. */
        char deep[2000];
        memset(deep, '(', 1000);
        deep[1000] = '\0';
        e = spate_expr_compile(deep, &env, err, sizeof(err));
        CHECK(!e && strstr(err, "nested too deeply"), "deep nesting: %s", err);
        memset(deep, '-', 1999);
        deep[1999] = '\0';
        deep[1998] = '1';
        e = spate_expr_compile(deep, &env, err, sizeof(err));
        CHECK(!e && strstr(err, "nested too deeply"), "a long chain of unary minus: %s", err);
        spate_expr_destroy(e);
        /* An open shape never rejects a field name. */
        e = spate_expr_compile("anything.at[*].all", &env, err, sizeof(err));
        CHECK(e != NULL, "open shapes accept new paths");
        spate_expr_destroy(e);
        spate_shape_pool_destroy(&pool);
}

int main(void) {
        test_cases();
        test_edges();
        return CHECK_DONE();
}
