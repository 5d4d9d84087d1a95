/* test_expr.c - the expression language on decoded records: every operator,
 * precedence, every function, elementwise arrays, missing/null rules, the
 * public accessors, and real One Call data. Runtime errors are here too;
 * compile errors are in test_expr_errors.c. */
#include "check.h"
#include "../../expr/expr.h"
#include "../../expr/expr_int.h"
#include "../../serde/json_scan.h"

#include <stdlib.h>
#include <time.h>

static const char *DOC =
        "{\"temp\": 31.5, \"city\": \"Copenhagen\", \"n\": 3, \"zero\": 0, \"neg\": -7,"
        " \"s_num\": \"42.5\", \"tempstr\": \"30\", \"t\": true, \"f\": false, \"nil\": null,"
        " \"cur\": {\"temp\": 17.27, \"rain\": {\"1h\": 0.1}, \"weather\": [{\"main\": \"Clouds\"}], \"nil\": null},"
        " \"min\": [{\"dt\": 100, \"p\": 0}, {\"dt\": 160, \"p\": 0.5}, {\"dt\": 220},"
        "          {\"dt\": 280, \"p\": 1.25}, {\"dt\": 340, \"p\": null}],"
        " \"xs\": [1, 2, 3, 4], \"ys\": [10, 20, 30, 40], \"strs\": [\"b\", \"a\", \"c\"], \"empty\": [],"
        " \"nested\": [{\"w\": [{\"m\": \"a\"}, {\"m\": \"b\"}]}, {\"w\": []}, {\"w\": [{\"m\": \"c\"}]}],"
        " \"when\": \"2026-11-23T10:00:00Z\", \"pad\": \"  hi there \\t\", \"weird-name\": 5, \"and\": 1}";

/* ---- a canonical text of a value, so cases are one line each ---- */

static void put_num(char *buf, size_t size, double d) {
        for (int prec = 15; prec <= 17; prec++) {
                snprintf(buf, size, "%.*g", prec, d);
                if (strtod(buf, NULL) == d)
                        return;
        }
}

static size_t fmt(const spate_value_t *v, char *buf, size_t size) {
        size_t off = 0;
        switch (v->type) {
        case SPATE_V_MISSING: return (size_t)snprintf(buf, size, "missing");
        case SPATE_V_NULL: return (size_t)snprintf(buf, size, "null");
        case SPATE_V_BOOL: return (size_t)snprintf(buf, size, "%s", v->u.b ? "true" : "false");
        case SPATE_V_NUM: put_num(buf, size, v->u.num); return strlen(buf);
        case SPATE_V_STR: return (size_t)snprintf(buf, size, "'%.*s'", (int)v->n, v->u.s);
        case SPATE_V_OBJ: return (size_t)snprintf(buf, size, "{%u}", v->n);
        default:
                off += (size_t)snprintf(buf, size, "[");
                for (uint32_t i = 0; i < v->n && off < size; i++) {
                        if (i)
                                off += (size_t)snprintf(buf + off, size - off, ", ");
                        if (off < size)
                                off += fmt(&v->u.items[i], buf + off, size - off);
                }
                if (off < size)
                        off += (size_t)snprintf(buf + off, size - off, "]");
                return off;
        }
}

/* Compiles against an open shape, then decodes (the engine's order), then
 * evaluates; the outcome as text, errors prefixed "error: ". */
static void run(const char *src, const char *json, char *got, size_t size) {
        spate_shape_pool_t pool = { 0 };
        spate_arena_t a;
        spate_arena_init(&a);
        spate_expr_env_t env = { .pool = &pool, .input = spate_shape_new(&pool, 1),
                                 .file = "t.yaml", .line = 1, .col = 1 };
        char err[512];
        spate_expr_t *e = spate_expr_compile(src, &env, err, sizeof(err));
        spate_record_t rec = { .key = "k1", .key_len = 2, .ts = 1700000000123LL };
        spate_value_t out;
        if (!e)
                snprintf(got, size, "compile error: %s", err);
        else if (spate_json_decode(env.input, json, strlen(json), &a, &rec.value, err, sizeof(err)))
                snprintf(got, size, "decode error: %s", err);
        else if (spate_expr_eval(e, &rec, &a, &out, err, sizeof(err)))
                snprintf(got, size, "error: %s", err);
        else
                fmt(&out, got, size);
        spate_expr_destroy(e);
        spate_arena_destroy(&a);
        spate_shape_pool_destroy(&pool);
}

struct tcase {
        const char *src, *json, *want;
};

#define T(src, want) { src, NULL, want }
#define TJ(src, json, want) { src, json, want }

static const struct tcase cases[] = {
        /* literals */
        T("1", "1"), T("2.5", "2.5"), T("-3e2", "-300"), T("1.5e-3", "0.0015"),
        T("1h", "3600000"), T("90s", "90000"), T("250ms", "250"), T("2d", "172800000"), T("1.5m", "90000"),
        T("'x'", "'x'"), T("\"a\\\"b\"", "'a\"b'"), T("'it\\'s'", "'it's'"), T("'a\\\\b'", "'a\\b'"),
        T("'a\\nb'", "'a\nb'"), T("true", "true"), T("false", "false"), T("null", "null"),
        /* paths */
        T("temp", "31.5"), T("cur.temp", "17.27"), T("cur.rain.1h", "0.1"), T("cur.weather[0].main", "'Clouds'"),
        T("xs[0]", "1"), T("xs[-1]", "4"), T("xs[9]", "missing"), T("xs[-9]", "missing"),
        T("absent", "missing"), T("cur.absent", "missing"), T("absent.x", "missing"),
        T("nil", "null"), T("nil.x", "null"), T("min[1].p", "0.5"), T("min[2].p", "missing"),
        T("min[*].dt", "[100, 160, 220, 280, 340]"), T("min[*].p", "[0, 0.5, null, 1.25, null]"),
        T("xs[*]", "[1, 2, 3, 4]"), T("xs", "[1, 2, 3, 4]"), T("nested[*].w[*].m", "['a', 'b', 'c']"),
        T("nested[*].w[*]", "[{0}, {0}, {0}]"),  /* flattens an empty array (no items) */
        T("empty[*].x", "[]"), T("absent[*].x", "missing"), T("nil[*]", "null"),
        T("`weird-name`", "5"), T("`and` + 1", "2"), T("cur.`rain`.`1h`", "0.1"), T("cur", "{0}"),
        T("cur . temp", "17.27"),
        /* arithmetic and precedence */
        T("temp * 2 + n", "66"), T("n + 2 * 3", "9"), T("(n + 2) * 3", "15"), T("10 - 4 - 3", "3"),
        T("2 * 3 % 4", "2"), T("neg % 3", "-1"), T("7 / 2", "3.5"), T("24 / 4 / 2", "3"),
        T("n / zero", "null"), T("n % 0", "null"), T("-n", "-3"), T("- -n", "3"), T("-(n + 1)", "-4"),
        T("1 - -1", "2"), T("nil + 1", "null"), T("1 * nil", "null"), T("-nil", "null"), T("0.1 + 0.2", "0.30000000000000004"),
        T("1h + 30m", "5400000"), T("-2 * 3", "-6"), T("((((n))))", "3"),
        /* comparisons */
        T("temp > 30", "true"), T("temp >= 31.5", "true"), T("temp < 31.5", "false"), T("temp <= 31.5", "true"),
        T("n == 3", "true"), T("n != 3", "false"), T("city == 'Copenhagen'", "true"), T("city < 'Oslo'", "true"),
        T("'abc' < 'abd'", "true"), T("'ab' < 'abc'", "true"), T("'b' > 'abc'", "true"), T("'' == ''", "true"),
        T("t == true", "true"), T("f < t", "true"), T("t != f", "true"),
        T("nil == null", "true"), T("nil != null", "false"), T("n == null", "false"), T("null == null", "true"),
        T("nil > 1", "null"), T("1 <= nil", "null"), T("n + 1 > 3", "true"), T("n * 2 == 3 + 3", "true"),
        /* logic */
        T("not t", "false"), T("not nil", "true"), T("not 'x'", "false"), T("not ''", "true"), T("not zero", "true"),
        T("t and f", "false"), T("t or f", "true"), T("f or nil", "false"), T("zero or n", "true"),
        T("t and 'x'", "true"), T("f and absent", "false"), T("t or absent", "true"),
        T("not t or t", "true"), T("not (t or t)", "false"), T("t or t and f", "true"), T("(t or t) and f", "false"),
        T("not n == 3", "false"), T("n > 1 and n < 5 or f", "true"),
        T("temp > 30 and city != 'x'", "true"), T("not not t", "true"),
        /* elementwise */
        T("xs * 2", "[2, 4, 6, 8]"), T("xs + ys", "[11, 22, 33, 44]"), T("ys / xs", "[10, 10, 10, 10]"),
        T("10 - xs", "[9, 8, 7, 6]"), T("xs % 2", "[1, 0, 1, 0]"), T("-xs", "[-1, -2, -3, -4]"),
        T("xs > 2", "[false, false, true, true]"), T("2 <= xs", "[false, true, true, true]"),
        T("not (xs > 2)", "[true, true, false, false]"), T("xs > 1 and xs < 4", "[false, true, true, false]"),
        T("xs < 2 or xs > 3", "[true, false, false, true]"), T("t and xs > 2", "[false, false, true, true]"),
        T("f and xs > 2", "false"),
        T("min[*].p > 0", "[false, true, null, true, null]"), T("min[*].p * 2", "[0, 1, null, 2.5, null]"),
        T("strs == 'a'", "[false, true, false]"), T("xs == ys / 10", "[true, true, true, true]"),
        T("abs(neg * xs)", "[7, 14, 21, 28]"), T("round(xs / 3, 2)", "[0.33, 0.67, 1, 1.33]"),
        T("upper(strs)", "['B', 'A', 'C']"), T("str(xs)", "['1', '2', '3', '4']"),
        T("unix_s(min[*].dt)", "[100000, 160000, 220000, 280000, 340000]"), T("floor(min[*].p)", "[0, 0, null, 1, null]"),
        T("empty * 2", "[]"),
        /* aggregates */
        T("sum(xs)", "10"), T("sum(xs[*])", "10"), T("sum(min[*].p)", "1.75"), T("mean(xs)", "2.5"),
        T("mean(min[*].p)", "0.5833333333333334"), T("min(xs)", "1"), T("max(ys)", "40"), T("min(min[*].p)", "0"),
        T("max(min[*].p)", "1.25"), T("count(min[*].p)", "3"), T("count(min)", "5"), T("count(xs > 2)", "4"),
        T("count_if(min[*].p > 0)", "2"), T("count_if(xs > 2)", "2"), T("count_if(strs)", "3"),
        T("first_where(min[*].dt, min[*].p > 0)", "160"), T("first_where(min[*].dt, min[*].p > 5)", "null"),
        T("first_where(min[*].p, min[*].dt > 200)", "null"), T("first_where(strs, strs > 'b')", "'c'"),
        T("first_where(absent[*].x, xs > 0)", "null"),
        T("len(xs)", "4"), T("len(min)", "5"), T("len(city)", "10"), T("len(empty)", "0"), T("len('')", "0"),
        T("len(nil)", "null"),
        T("sum(empty)", "0"), T("mean(empty)", "null"), T("max(empty)", "null"), T("min(empty)", "null"),
        T("sum(absent[*].x)", "0"), T("sum(absent)", "0"), T("count(absent)", "0"), T("count_if(nil)", "0"),
        T("mean(absent[*].x)", "null"),
        T("min(3, n, 7)", "3"), T("max(1, 5, n)", "5"), T("min(temp, 30)", "30"), T("max(neg, zero)", "0"),
        T("max(n, nil)", "null"),
        /* conditionals and presence */
        T("if(temp > 30, 'hot', 'cold')", "'hot'"), T("if(temp > 40, 'hot', 'cold')", "'cold'"),
        T("if(nil, 1, 2)", "2"), T("if(t, absent, 1)", "missing"), T("if(f, absent, 1)", "1"),
        T("if(t, 1, absent)", "1"),
        T("coalesce(absent, nil, n)", "3"), T("coalesce(absent, nil)", "null"), T("coalesce(n, absent)", "3"),
        T("coalesce(zero, 5)", "0"), T("coalesce(cur.snow, 0) + 1", "1"),
        T("exists(cur.rain)", "true"), T("exists(cur.nil)", "true"), T("exists(cur.snow)", "false"),
        T("exists(absent.x)", "false"), T("is_null(nil)", "true"), T("is_null(absent)", "true"),
        T("is_null(n)", "false"), T("is_null(cur.rain)", "false"),
        /* math */
        T("abs(neg)", "7"), T("abs(2)", "2"), T("round(2.5)", "3"), T("round(-2.5)", "-3"), T("round(2.4)", "2"),
        T("round(3.14159, 2)", "3.14"), T("round(1234, -2)", "1200"), T("round(nil, 2)", "null"),
        T("floor(-1.5)", "-2"), T("floor(2.7)", "2"), T("ceil(1.2)", "2"), T("ceil(-1.2)", "-1"),
        T("sqrt(16)", "4"), T("sqrt(2)", "1.4142135623730951"), T("sqrt(-1)", "null"), T("abs(nil)", "null"),
        /* time: expected values computed with Python's datetime */
        T("ts()", "1700000000123"), T("unix_s(1631716020)", "1631716020000"), T("unix_ms(5)", "5"),
        T("to_unix_s(1700000000123)", "1700000000"), T("to_unix_s(-1)", "-1"),
        T("floor_time(ts(), 1h)", "1699999200000"), T("floor_time(ts(), 1d)", "1699920000000"),
        T("floor_time(ts(), 15m)", "1699999200000"), T("floor_time(ts(), 1s)", "1700000000000"),
        T("floor_time(-1, 1h)", "-3600000"),
        T("hour(ts())", "22"), T("minute(ts())", "13"), T("day(ts())", "'2023-11-14'"),
        T("iso(ts())", "'2023-11-14T22:13:20.123Z'"), T("iso(1795428000000)", "'2026-11-23T10:00:00Z'"),
        T("iso(-1000)", "'1969-12-31T23:59:59Z'"), T("iso(0)", "'1970-01-01T00:00:00Z'"),
        T("day(951782400000)", "'2000-02-29'"), T("day(-1)", "'1969-12-31'"),
        T("hour(unix_s(1631716020))", "14"), T("minute(unix_s(1631716020))", "27"),
        T("parse_time(when)", "1795428000000"), T("parse_time('2026-11-23T12:30:00+02:00')", "1795429800000"),
        T("parse_time('2026-11-23T10:00:00-05:30')", "1795447800000"),
        T("parse_time('2026-11-23T12:30:00+0200')", "1795429800000"),
        T("parse_time('2024-02-29T23:59:59.250Z')", "1709251199250"),
        T("parse_time('2024-02-29T23:59:59.2509Z')", "1709251199250"),
        T("parse_time('2023-11-14 22:13:20')", "1700000000000"), T("parse_time('2000-01-01')", "946684800000"),
        T("parse_time('1969-12-31T23:00:00Z')", "-3600000"), T("parse_time('2026-11-23T10:00')", "1795428000000"),
        T("iso(parse_time('2026-11-23T12:30:00+02:00'))", "'2026-11-23T10:30:00Z'"),
        T("parse_time(nil)", "null"),
        /* strings */
        T("concat(city, '-', n, '-', temp, '-', t, nil)", "'Copenhagen-3-31.5-true'"),
        T("concat(0.1 + 0.2)", "'0.30000000000000004'"), T("concat(1e21)", "'1e+21'"), T("concat(-0.5)", "'-0.5'"),
        T("concat(100, 'x')", "'100x'"), T("concat(-0)", "'0'"), T("concat(1700000000123)", "'1700000000123'"),
        T("concat(nil)", "''"),
        T("lower(city)", "'copenhagen'"), T("upper('aBc1')", "'ABC1'"), T("str(n)", "'3'"), T("str(2.5)", "'2.5'"),
        T("str(t)", "'true'"), T("str(city)", "'Copenhagen'"), T("str(nil)", "null"),
        T("num(s_num)", "42.5"), T("num('1e3')", "1000"), T("num(tempstr) > 25", "true"), T("num(7)", "7"),
        T("substr(city, 0, 3)", "'Cop'"), T("substr(city, -4)", "'agen'"), T("substr(city, 4, 100)", "'nhagen'"),
        T("substr(city, (1e308 * 10) % 10, 3)", "error: substr(): start is not a number (NaN)"),
        T("substr(city, 0, (1e308 * 10) % 10)", "error: substr(): length is not a number (NaN)"),
        T("substr(city, 1e308 * 10, 3)", "''"), T("substr(city, -1e308 * 10, 3)", "'Cop'"),
        T("substr(city, 20)", "''"), T("substr(city, -20, 2)", "'Co'"), T("substr(city, 2, -1)", "''"),
        T("starts_with(city, 'Cop')", "true"), T("starts_with(city, 'cop')", "false"),
        T("ends_with(city, 'gen')", "true"), T("ends_with('a', 'abc')", "false"),
        T("contains(city, 'nhag')", "true"), T("contains(city, 'x')", "false"), T("contains(city, '')", "true"),
        T("trim(pad)", "'hi there'"), T("trim('   ')", "''"), T("key()", "'k1'"), T("len(trim(pad))", "8"),
        /* multi-line source */
        T("n\n  + 1\n  > 3", "true"),
        /* runtime errors: the record goes to the DLQ with this reason */
        TJ("temp * 2", "{\"temp\": \"hot\"}", "error: field 'temp': expected a number, got string"),
        TJ("cur.temp + 1", "{}", "error: field 'cur.temp' is missing"),
        TJ("1 + cur.temp", "{\"cur\": {}}", "error: field 'cur.temp' is missing"),
        TJ("temp > 30", "{\"temp\": \"x\"}", "error: field 'temp': expected a number, got string"),
        TJ("30 < temp", "{\"temp\": \"x\"}", "error: field 'temp': expected a number, got string"),
        TJ("city == 'x'", "{\"city\": 5}", "error: field 'city': expected a string, got number"),
        TJ("a == b", "{\"a\": 5, \"b\": \"5\"}", "error: field 'b': expected a number, got string"),
        TJ("a > b", "{\"a\": [1], \"b\": [\"x\"]}", "error: field 'b': expected a number, got string"),
        TJ("sum(xs)", "{\"xs\": 5}", "error: field 'xs': expected an array, got number"),
        TJ("sum(xs[*])", "{\"xs\": [1, \"a\"]}", "error: field 'xs[*]': expected numbers in the array, got string"),
        TJ("xs + ys", "{\"xs\": [1, 2], \"ys\": [1]}",
           "error: operator '+': arrays of different lengths (2 and 1) in 'xs + ys'"),
        TJ("xs > 0 and ys > 0", "{\"xs\": [1, 2], \"ys\": [1]}",
           "error: operator 'and': arrays of different lengths (2 and 1) in 'xs > 0 and ys > 0'"),
        TJ("a.b", "{\"a\": 5}", "error: field 'a.b': expected an object at 'a', got number"),
        TJ("a[0]", "{\"a\": 5}", "error: field 'a[0]': expected an array at 'a', got number"),
        TJ("a[*].b", "{\"a\": {\"x\": 1}}", "error: field 'a[*].b': expected an array at 'a', got object"),
        TJ("num(s)", "{\"s\": \"abc\"}", "error: field 's': 'abc' is not a number"),
        TJ("num(s)", "{\"s\": \"1.5x\"}", "error: field 's': '1.5x' is not a number"),
        TJ("num(s)", "{\"s\": \"0x1f\"}", "error: field 's': '0x1f' is not a number"),
        TJ("num(s)", "{\"s\": \" 5\"}", "error: field 's': ' 5' is not a number"),
        TJ("num(s)", "{\"s\": \"nan\"}", "error: field 's': 'nan' is not a number"),
        TJ("num(s)", "{\"s\": \"-2.5e-1\"}", "-0.25"),
        TJ("num(concat(s))", "{\"s\": \"\"}", "error: num(): '' is not a number"),
        TJ("parse_time(s)", "{\"s\": \"yesterday\"}",
           "error: parse_time(): cannot read 'yesterday' as a time (expected ISO-8601, e.g. 2026-11-23T10:00:00Z)"),
        TJ("parse_time(s)", "{\"s\": \"2026-02-30\"}",
           "error: parse_time(): cannot read '2026-02-30' as a time (expected ISO-8601, e.g. 2026-11-23T10:00:00Z)"),
        TJ("abs(s)", "{\"s\": \"x\"}", "error: field 's': expected a number, got string"),
        TJ("abs(xs)", "{\"xs\": [1, \"x\"]}", "error: field 'xs': expected a number, got string"),
        TJ("lower(x)", "{\"x\": 5}", "error: field 'x': expected a string, got number"),
        TJ("if(c, 1, 2)", "{}", "error: field 'c' is missing"),
        TJ("if(c, 1, 2)", "{\"c\": [1]}", "error: field 'c': expected a condition, got array"),
        TJ("not x", "{}", "error: field 'x' is missing"),
        TJ("-(x)", "{\"x\": \"s\"}", "error: field 'x': expected a number, got string"),
        TJ("abs(x) + 1", "{}", "error: field 'x' is missing"),
        TJ("floor_time(t, 0)", "{\"t\": 1}",
           "error: floor_time(): the period must be a whole number of ms, at least 1ms, got 0"),
        TJ("first_where(xs[*], ys[*] > 0)", "{\"xs\": [1, 2], \"ys\": [1]}",
           "error: first_where(): 2 values but 1 conditions (both must come from the same array)"),
        TJ("concat(o)", "{\"o\": {\"a\": 1}}", "error: field 'o': expected a string, number or bool, got object"),
        TJ("if(c, x, 's') * 2", "{\"c\": false}", "error: operator '*': expected a number, got string"),
        TJ("if(c, x, 1) + 1", "{\"c\": true}", "error: 'if(c, x, 1)' is missing"),
        TJ("hour(t)", "{\"t\": 1e20}", "error: hour(): time 1e+20 is out of range"),
        TJ("round(x, 1.5)", "{\"x\": 1}", "error: round(): digits must be an integer from -15 to 15, got 1.5"),
        TJ("len(x)", "{\"x\": 5}", "error: field 'x': expected an array or a string, got number"),
        TJ("min(x, 2)", "{\"x\": true}", "error: field 'x': expected a number, got bool"),
        TJ("x < y", "{\"x\": {}, \"y\": 1}", "error: field 'x': expected a number, string or bool, got object"),
        TJ("starts_with(x, 'a')", "{\"x\": 1}", "error: field 'x': expected a string, got number"),
        TJ("key() == 'k1'", "{}", "true"),
};

/* TAP lines must stay single lines. */
static const char *one_line(const char *s, char *buf, size_t size) {
        size_t i = 0;
        for (; s[i] && i + 1 < size; i++)
                buf[i] = s[i] == '\n' ? '|' : s[i];
        buf[i] = '\0';
        return buf;
}

static void test_cases(void) {
        char got[1024], s1[256], s2[1024], s3[1024];
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                run(cases[i].src, cases[i].json ? cases[i].json : DOC, got, sizeof(got));
                CHECK(!strcmp(got, cases[i].want), "%s => got %s, want %s", one_line(cases[i].src, s1, sizeof(s1)),
                      one_line(got, s2, sizeof(s2)), one_line(cases[i].want, s3, sizeof(s3)));
        }
}

/* `field == 'text'` and != have a path of their own (eval_field_eq_str):
 * on every kind of field value, the outcome, value or error, is that of the
 * same comparison written the other way round, which takes the general one. */
static void test_eq_str(void) {
        static const char *const docs[] = {
                "{\"c\": \"France\"}", "{\"c\": \"Franc\"}", "{\"c\": \"France2\"}", "{\"c\": \"\"}",
                "{\"c\": \"Fr\\u0061nce\"}", "{\"c\": \"Fran\\u00e7e\"}", "{\"c\": null}", "{}",
                "{\"c\": 5}", "{\"c\": true}", "{\"c\": [\"France\", \"x\"]}", "{\"c\": {\"d\": 1}}"
        };
        static const char *const lits[] = { "'France'", "''", "'Franc'", "'Fran\u00e7e'" };
        char a[256], b[256], fast[512], general[512];
        int same = 1, n = 0;
        for (size_t d = 0; d < sizeof(docs) / sizeof(docs[0]); d++)
                for (size_t l = 0; l < sizeof(lits) / sizeof(lits[0]); l++)
                        for (int ne = 0; ne < 2; ne++) {
                                snprintf(a, sizeof(a), "c %s %s", ne ? "!=" : "==", lits[l]);
                                snprintf(b, sizeof(b), "%s %s c", lits[l], ne ? "!=" : "==");
                                run(a, docs[d], fast, sizeof(fast));
                                run(b, docs[d], general, sizeof(general));
                                n++;
                                if (strcmp(fast, general)) {
                                        same = 0;
                                        printf("# %s on %s: %s; %s: %s\n", a, docs[d], fast, b, general);
                                }
                        }
        CHECK(same, "%d comparisons of a field with a string literal: as the same written the other way", n);
        run("c == 'France'", "{\"c\": \"Fr\\u0061nce\"}", fast, sizeof(fast));
        CHECK(!strcmp(fast, "true"), "an escaped field equals its text (%s)", fast);
        run("c != 'France'", "{\"c\": \"France!\"}", fast, sizeof(fast));
        CHECK(!strcmp(fast, "true"), "a longer field is not equal (%s)", fast);
}

/* ---- accessors and shape effects ---- */

/* spate_expr_field_index() names the item a bare field reads, and
 * spate_record_item() gives that item when it has the type asked for: the
 * value evaluating the expression gives, or NULL where it gives another. */
static void test_field_index(void) {
        static const char *const srcs[] = { "temp", "city", "n", "nil", "absent", "cur.temp", "xs[0]", "xs[*]",
                                            "temp * 2", "'temp'", "abs(n)" };
        static const int bare[] = { 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0 };
        spate_shape_pool_t pool = { 0 };
        spate_shape_t *in = spate_shape_new(&pool, 1);
        spate_expr_env_t env = { .pool = &pool, .input = in, .file = "t.yaml", .line = 1, .col = 1 };
        spate_expr_t *e[sizeof(srcs) / sizeof(srcs[0])];
        char err[256];
        for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++)
                e[i] = spate_expr_compile(srcs[i], &env, err, sizeof(err));
        spate_arena_t a;
        spate_arena_init(&a);
        spate_record_t rec = { .key = "k1", .key_len = 2 };
        int decoded = spate_json_decode(in, DOC, strlen(DOC), &a, &rec.value, err, sizeof(err)) == 0, ok = 1;
        for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
                int idx = e[i] ? spate_expr_field_index(e[i]) : -2;
                spate_value_t v;
                int rc = spate_expr_eval(e[i], &rec, &a, &v, err, sizeof(err));
                if ((idx >= 0) != bare[i] || (idx >= 0 && (idx != spate_shape_field(&pool, in, srcs[i],
                                                                                     strlen(srcs[i]), 0)))) {
                        ok = 0;
                        printf("# %s: field index %d\n", srcs[i], idx);
                }
                for (int t = SPATE_V_MISSING; t <= SPATE_V_OBJ; t++) {
                        const spate_value_t *item = spate_record_item(&rec, idx, t);
                        int want = idx >= 0 && rc == 0 && v.type == t;
                        if ((item != NULL) != want || (item && memcmp(&item->u, &v.u, sizeof(v.u)))) {
                                ok = 0;
                                printf("# %s: item of type %d %s\n", srcs[i], t, item ? "given" : "not given");
                        }
                }
        }
        CHECK(decoded && ok, "bare fields name their item, which is the evaluated value when its type is asked for");
        spate_record_t not_obj = { .value = { .type = SPATE_V_ARR } };
        CHECK(spate_record_item(&not_obj, 0, SPATE_V_ARR) == NULL, "a record that is no object has no items");
        for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++)
                spate_expr_destroy(e[i]);
        spate_arena_destroy(&a);
        spate_shape_pool_destroy(&pool);
}

static void test_api(void) {
        spate_shape_pool_t pool = { 0 };
        spate_shape_t *in = spate_shape_new(&pool, 1);
        spate_expr_env_t env = { .pool = &pool, .input = in, .file = "t.yaml", .line = 3, .col = 10 };
        char err[256];
        struct { const char *src; int type; int pass; } rows[] = {
                { "temp", SPATE_V_MISSING, 1 }, { "a.b", SPATE_V_MISSING, 1 },
                { "minutely", SPATE_V_MISSING, 1 }, { "minutely[*]", SPATE_V_ARR, 1 },
                { "minutely[0]", SPATE_V_MISSING, 1 }, { "minutely[*].precipitation", SPATE_V_ARR, 0 },
                { "temp * 2", SPATE_V_MISSING, 0 }, { "1 + 2", SPATE_V_NUM, 0 }, { "'a'", SPATE_V_STR, 0 },
                { "temp > 3", SPATE_V_MISSING, 0 }, { "1 < 2", SPATE_V_BOOL, 0 }, { "sum(x[*])", SPATE_V_NUM, 0 },
                { "concat(a)", SPATE_V_STR, 0 }, { "iso(ts())", SPATE_V_STR, 0 }, { "x[*] > 1", SPATE_V_ARR, 0 },
                { "abs(x[*])", SPATE_V_ARR, 0 }, { "abs(x)", SPATE_V_MISSING, 0 }, { "abs(1)", SPATE_V_NUM, 0 },
                { "if(a, 1, 2)", SPATE_V_NUM, 0 }, { "if(a, 1, 'x')", SPATE_V_MISSING, 0 },
                { "exists(q)", SPATE_V_BOOL, 0 }, { "null", SPATE_V_NULL, 0 }, { "not a", SPATE_V_MISSING, 0 },
                { "not true", SPATE_V_BOOL, 0 },
        };
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                spate_expr_t *e = spate_expr_compile(rows[i].src, &env, err, sizeof(err));
                CHECK(e != NULL, "compile %s: %s", rows[i].src, e ? "ok" : err);
                if (!e)
                        continue;
                CHECK(spate_expr_type(e) == rows[i].type, "type of %s: %s, want %s", rows[i].src,
                      spate_vtype_name(spate_expr_type(e)), spate_vtype_name(rows[i].type));
                CHECK((spate_expr_passthrough(e) != NULL) == rows[i].pass, "passthrough of %s", rows[i].src);
                CHECK_STR(spate_expr_text(e), rows[i].src, "text");
                spate_expr_destroy(e);
        }
        /* The open input learned every referenced path, in first-use order. */
        char names[256];
        spate_shape_names(in, names, sizeof(names));
        CHECK_STR(names, "temp, a, minutely, x, q", "input fields");
        int m = spate_shape_field(&pool, in, "minutely", 8, 0);
        spate_shape_t *ms = in->fields[m].shape;
        CHECK(ms->elem != NULL, "minutely[*] asks for elements");
        spate_shape_names(ms->elem, names, sizeof(names));
        CHECK_STR(names, "precipitation", "element fields");
        spate_expr_t *e = spate_expr_compile("minutely", &env, err, sizeof(err));
        CHECK(spate_expr_passthrough(e) == ms, "passthrough is the field's own shape");
        spate_expr_destroy(e);
        e = spate_expr_compile("minutely[*]", &env, err, sizeof(err));
        CHECK(spate_expr_passthrough(e) == ms, "minutely[*] passes the array through");
        spate_expr_destroy(e);
        spate_expr_destroy(NULL);
        spate_shape_pool_destroy(&pool);
}

/* A closed shape (a map's output): fields are checked, static types known. */
static void test_closed(void) {
        spate_shape_pool_t pool = { 0 };
        spate_shape_t *in = spate_shape_new(&pool, 0);
        spate_shape_add(&pool, in, "temp", NULL, SPATE_V_NUM);
        spate_shape_add(&pool, in, "city", NULL, SPATE_V_STR);
        spate_expr_env_t env = { .pool = &pool, .input = in, .file = "t.yaml", .line = 1, .col = 1 };
        char err[256];
        spate_expr_t *e = spate_expr_compile("temp", &env, err, sizeof(err));
        CHECK(e && spate_expr_type(e) == SPATE_V_NUM, "closed field has its static type");
        spate_expr_destroy(e);
        e = spate_expr_compile("temp * 2 > 3", &env, err, sizeof(err));
        CHECK(e && spate_expr_type(e) == SPATE_V_BOOL, "known types propagate");
        /* A closed record is built by the engine, not decoded. */
        spate_value_t items[2] = { spate_value_num(2), spate_value_str("x", 1) };
        spate_record_t rec = { .value = { .type = SPATE_V_OBJ, .n = 2, .u.items = items } };
        spate_arena_t a;
        spate_arena_init(&a);
        spate_value_t out;
        CHECK(e && !spate_expr_eval(e, &rec, &a, &out, err, sizeof(err)) && out.type == SPATE_V_BOOL && out.u.b,
              "eval on a closed record");
        spate_expr_destroy(e);
        CHECK(in->nfields == 2, "a closed shape gains no fields");
        spate_arena_destroy(&a);
        spate_shape_pool_destroy(&pool);
}

/* ---- real One Call data ---- */

static char *slurp(const char *path, size_t *len) {
        FILE *f = fopen(path, "rb");
        if (!f)
                return NULL;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *buf = malloc((size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
                free(buf);
                buf = NULL;
        }
        fclose(f);
        *len = (size_t)n;
        return buf;
}

static void test_onecall(void) {
        const char *dir = getenv("SHARED_DATA") ? getenv("SHARED_DATA") : "../shared/data";
        char path[512];
        size_t len;
        snprintf(path, sizeof(path), "%s/owm/onecall_copenhagen_rain.json", dir);
        char *buf = slurp(path, &len);
        if (!buf) {
                check_n++;
                printf("ok %d - One Call Copenhagen expressions # SKIP ../shared/data absent\n", check_n);
                return;
        }
        static const char *srcs[] = {
                "sum(minutely[*].precipitation)", "count_if(minutely[*].precipitation > 0)",
                "round(sum(minutely[*].precipitation), 2)", "first_where(minutely[*].dt, minutely[*].precipitation > 0.9)",
                "current.temp", "current.rain.1h", "len(hourly)", "count(hourly[*].weather[*].main)",
                "sum(hourly[*].rain.1h)", "max(hourly[*].temp)", "iso(unix_s(minutely[0].dt))", "len(minutely)",
        };
        static const double want[] = { 44.021399999999986, 61, 44.02, 1631719140, 17.27, 0.1, 48, 48, 22.59, 17.39, 0, 61 };
        enum { N = sizeof(srcs) / sizeof(srcs[0]) };
        spate_shape_pool_t pool = { 0 };
        spate_expr_env_t env = { .pool = &pool, .input = spate_shape_new(&pool, 1), .file = "t.yaml", .line = 1, .col = 1 };
        spate_expr_t *e[N];
        char err[256];
        for (int i = 0; i < N; i++)
                if (!(e[i] = spate_expr_compile(srcs[i], &env, err, sizeof(err))))
                        printf("# %s: %s\n", srcs[i], err);
        spate_arena_t a;
        spate_arena_init(&a);
        spate_record_t rec = { 0 };
        int rc = spate_json_decode(env.input, buf, len, &a, &rec.value, err, sizeof(err));
        CHECK(rc == 0, "decode One Call: %s", rc ? err : "ok");
        for (int i = 0; i < N; i++) {
                spate_value_t out = { 0 };
                int erc = e[i] ? spate_expr_eval(e[i], &rec, &a, &out, err, sizeof(err)) : -1;
                if (i == 10)
                        CHECK(!erc && out.type == SPATE_V_STR && out.n == 20 &&
                              !memcmp(out.u.s, "2021-09-15T14:27:00Z", 20), "%s", srcs[i]);
                else if (erc || out.type != SPATE_V_NUM)
                        CHECK(0, "%s: %s", srcs[i], erc ? err : spate_vtype_name(out.type));
                else
                        CHECK_NUM(out.u.num, want[i], srcs[i]);
                spate_expr_destroy(e[i]);
        }
        spate_arena_destroy(&a);
        spate_shape_pool_destroy(&pool);
        free(buf);
}

/* Evaluation allocates from the arena only: the same arena, reset per
 * record, serves any number of records. */
static void test_arena_reuse(void) {
        spate_shape_pool_t pool = { 0 };
        spate_expr_env_t env = { .pool = &pool, .input = spate_shape_new(&pool, 1), .line = 1, .col = 1 };
        char err[256];
        spate_expr_t *e = spate_expr_compile("sum(xs * 2) + len(concat(s, xs[0]))", &env, err, sizeof(err));
        spate_arena_t a;
        spate_arena_init(&a);
        const char *json = "{\"xs\": [1, 2, 3], \"s\": \"ab\"}";
        int ok = e != NULL;
        for (int i = 0; ok && i < 1000; i++) {
                spate_record_t rec = { 0 };
                spate_value_t out;
                spate_arena_reset(&a);
                ok = !spate_json_decode(env.input, json, strlen(json), &a, &rec.value, err, sizeof(err)) &&
                     !spate_expr_eval(e, &rec, &a, &out, err, sizeof(err)) && out.type == SPATE_V_NUM &&
                     out.u.num == 15;
        }
        CHECK(ok, "1000 records through one arena");
        spate_expr_destroy(e);
        spate_arena_destroy(&a);
        spate_shape_pool_destroy(&pool);
}

/* parse_time() reads "YYYY-MM-DD HH:MM:SS" (also with 'T' and/or 'Z') at
 * fixed positions and keeps the last date's day number: against libc's
 * timegm() on times from 1900 to 2100 in each form, dates alternating so the
 * kept one is both hit and missed; and each invalid field is refused, with
 * its date kept or not. */
static void test_parse_time_fixed(void) {
        static const char *const forms[] = { "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ",
                                             "%Y-%m-%d %H:%M:%SZ" };
        unsigned seed = 20;
        int wrong = 0, n = 0;
        for (int i = 0; i < 200000; i++) {
                /* runs of a few seconds apart, then a jump: same-date and new-date parses */
                static time_t t;
                seed = seed * 1103515245u + 12345u;
                t = i % 8 ? t + (time_t)(seed >> 20) % 7200 : -2208988800LL + (time_t)(seed % 6311390u) * 1000;
                struct tm tm;
                char text[32];
                double ms;
                gmtime_r(&t, &tm);
                size_t len = strftime(text, sizeof(text), forms[i % 4], &tm);
                wrong += spate_expr__parse_time(text, len, &ms) || ms != (double)timegm(&tm) * 1000;
                n++;
        }
        CHECK(wrong == 0, "%d fixed-form times read as timegm() does (%d wrong)", n, wrong);
        static const char *const bad[] = { "2023-02-29 10:00:00", "2024-02-30 10:00:00", "2023-13-01 10:00:00",
                                           "2023-00-10 10:00:00", "2023-11-00 10:00:00", "2023-11-14 24:00:00",
                                           "2023-11-14 22:60:00", "2023-11-14 22:13:60", "2023-11-14 2a:13:20",
                                           "2023-1a-14 22:13:20", "2023-11-14 22:13:20X", "2023-11-14_22:13:20",
                                           "2023-11-14 22:13:2", "+023-11-14 22:13:20" };
        wrong = 0;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                double ms;
                spate_expr__parse_time("2023-11-14 00:00:00", 19, &ms);  /* the date kept */
                wrong += !spate_expr__parse_time(bad[i], strlen(bad[i]), &ms);
                spate_expr__parse_time("2000-01-01 00:00:00", 19, &ms);  /* another date kept */
                wrong += !spate_expr__parse_time(bad[i], strlen(bad[i]), &ms);
        }
        CHECK(wrong == 0, "invalid dates, hours, minutes, seconds and separators are refused (%d accepted)", wrong);

        /* the clock's 8 bytes are tested together: every byte at each of
         * its positions, and every hour and minute from 00 to 99, against a
         * byte-by-byte model. A byte that starts a zone or a fraction (+ -
         * Z z . ,) hands the text to the general parser, which decides. */
        int n_ok = 0;
        wrong = 0;
        for (int pos = 11; pos < 19; pos++)
                for (int c = 0; c < 256; c++) {
                        char text[20] = "2023-11-14 22:13:20";
                        double ms = 0;
                        text[pos] = (char)c;
                        int colon = pos == 13 || pos == 16, digit = c >= '0' && c <= '9';
                        int h = (text[11] - '0') * 10 + text[12] - '0', mi = (text[14] - '0') * 10 + text[15] - '0';
                        int sec = (text[17] - '0') * 10 + text[18] - '0';
                        int valid = (colon ? c == ':' : digit) && h < 24 && mi < 60 && sec < 60;
                        int rc = spate_expr__parse_time(text, 19, &ms);
                        if (valid) {
                                wrong += rc || ms != 1699920000000.0 + ((h * 60 + mi) * 60 + sec) * 1000.0;
                                n_ok++;
                        } else if (!strchr("+-Zz.,", c) || !c) {
                                wrong += !rc;
                        }
                }
        for (int h = 0; h < 100; h++)
                for (int mi = 0; mi < 100; mi++)
                        for (int k = 0; k < 4; k++) {
                                static const int secs[] = { 0, 59, 60, 99 };
                                char text[48];  /* room for any int: -O1 under ASan cannot bound them */
                                double ms = 0;
                                snprintf(text, sizeof(text), "2023-11-14T%02d:%02d:%02dZ", h, mi, secs[k]);
                                int valid = h < 24 && mi < 60 && secs[k] < 60;
                                int rc = spate_expr__parse_time(text, 20, &ms);
                                wrong += valid ? rc || ms != 1699920000000.0 + ((h * 60 + mi) * 60 + secs[k]) * 1000.0
                                               : !rc;
                        }
        CHECK(wrong == 0 && n_ok == 41, "each byte of the clock and every hour and minute 00-99 read as a "
              "byte-by-byte model does (%d wrong)", wrong);
}

int main(void) {
        test_eq_str();
        test_field_index();
        test_cases();
        test_api();
        test_closed();
        test_onecall();
        test_arena_reuse();
        test_parse_time_fixed();
        return CHECK_DONE();
}
