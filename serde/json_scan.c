/* json_scan.c - a validating single-pass JSON scanner that materialises only
 * the paths of a shape. Unreferenced values are skipped at byte speed; this is
 * what keeps the record path far below a full jansson tree (~2 µs a record). */
#include "json_scan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 128

typedef struct scan {
        const char *p, *end, *start;
        spate_arena_t *a;
        const char *err;
        int depth;
} scan_t;

static int fail(scan_t *s, const char *msg) {
        if (!s->err)
                s->err = msg;
        return -1;
}

static void ws(scan_t *s) {
        while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
                s->p++;
}

static const double pow10_exact[] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

size_t spate_json_number(const char *p, size_t n, double *out) {
        const char *q = p, *end = p + n;
        int neg = 0, frac = 0, digits = 0;
        uint64_t m = 0;

        if (q < end && *q == '-')
                neg = 1, q++;
        if (q >= end || *q < '0' || *q > '9')
                return 0;
        if (*q == '0' && q + 1 < end && q[1] >= '0' && q[1] <= '9')
                return 0; /* JSON forbids leading zeros */
        for (; q < end && *q >= '0' && *q <= '9'; q++, digits++)
                m = m * 10 + (uint64_t)(*q - '0');
        if (q < end && *q == '.') {
                q++;
                if (q >= end || *q < '0' || *q > '9')
                        return 0;
                for (; q < end && *q >= '0' && *q <= '9'; q++, digits++, frac++)
                        m = m * 10 + (uint64_t)(*q - '0');
        }
        int has_exp = q < end && (*q == 'e' || *q == 'E');
        if (!has_exp && digits <= 15 && frac <= 22) {
                /* m and 10^frac are exact doubles, so one division is
                 * correctly rounded: the same result as strtod. */
                double d = (double)m / pow10_exact[frac];
                *out = neg ? -d : d;
                return (size_t)(q - p);
        }
        if (has_exp) {
                q++;
                if (q < end && (*q == '+' || *q == '-'))
                        q++;
                if (q >= end || *q < '0' || *q > '9')
                        return 0;
                while (q < end && *q >= '0' && *q <= '9')
                        q++;
        }
        char tmp[64];
        size_t len = (size_t)(q - p);
        if (len >= sizeof(tmp))
                return 0;
        memcpy(tmp, p, len);
        tmp[len] = '\0';
        *out = strtod(tmp, NULL);
        return len;
}

size_t spate_utf8_len(const unsigned char *s, size_t n) {
        unsigned c = s[0];
        size_t len;
        unsigned cp;
        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                len = 2, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
                len = 3, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
                len = 4, cp = c & 0x07;
        else
                return 0;
        if (len > n)
                return 0;
        for (size_t k = 1; k < len; k++) {
                if ((s[k] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[k] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
                return 0;
        return len;
}

static int hex4(const char *p, unsigned *out) {
        unsigned v = 0;
        for (int i = 0; i < 4; i++) {
                char c = p[i];
                v <<= 4;
                if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
                else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
                else return -1;
        }
        *out = v;
        return 0;
}

static size_t utf8_put(char *o, unsigned cp) {
        if (cp < 0x80) { o[0] = (char)cp; return 1; }
        if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
        if (cp < 0x10000) {
                o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                o[2] = (char)(0x80 | (cp & 0x3F)); return 3;
        }
        o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
        return 4;
}

/* Unescapes s[0..n) (known to hold backslashes) into the arena. */
static int unescape(scan_t *s, const char *in, size_t n, const char **out, uint32_t *olen) {
        char *o = spate_arena_alloc(s->a, n + 1), *w = o;
        for (size_t i = 0; i < n; i++) {
                if (in[i] != '\\') {
                        *w++ = in[i];
                        continue;
                }
                char c = in[++i];
                switch (c) {
                case '"': case '\\': case '/': *w++ = c; break;
                case 'b': *w++ = '\b'; break;
                case 'f': *w++ = '\f'; break;
                case 'n': *w++ = '\n'; break;
                case 'r': *w++ = '\r'; break;
                case 't': *w++ = '\t'; break;
                case 'u': {
                        unsigned cp, lo;
                        if (i + 4 >= n || hex4(in + i + 1, &cp))
                                return fail(s, "bad \\u escape");
                        i += 4;
                        if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < n && in[i + 1] == '\\' &&
                            in[i + 2] == 'u' && !hex4(in + i + 3, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                i += 6;
                        }
                        w += utf8_put(w, cp);
                        break;
                }
                default:
                        return fail(s, "bad escape in string");
                }
        }
        *out = o;
        *olen = (uint32_t)(w - o);
        return 0;
}

/* A \u escape at in (on the 'u', 4 hex digits known to follow): lone
 * surrogates are refused, so every decoded string is valid UTF-8. Returns
 * the bytes used after the backslash, 0 if invalid. */
static size_t check_u(const char *in, const char *end) {
        unsigned cp, lo;
        if (end - in < 5 || hex4(in + 1, &cp))
                return 0;
        if (cp >= 0xDC00 && cp < 0xE000)
                return 0;
        if (cp < 0xD800 || cp >= 0xDC00)
                return 5;
        if (end - in < 11 || in[5] != '\\' || in[6] != 'u' || hex4(in + 7, &lo) || lo < 0xDC00 || lo >= 0xE000)
                return 0;
        return 11;
}

/* Bytes a string body holds as they are: printable ASCII but the quote and
 * the backslash. Everything else ends the fast loop of string(). */
static const unsigned char plain[256] = {
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        /* 0x80-0xff: 0 */
};

/* How many of the 8 bytes at c are plain (8 if all): the bytes are tested
 * together in a word (a byte is not plain if it is below 0x20, at or above
 * 0x80, a quote or a backslash), which is what keeps long strings cheap. */
static size_t plain8(const char *c) {
        const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
        uint64_t x, quote, bslash, ctrl;
        memcpy(&x, c, 8);
        quote = x ^ (ones * '"');
        bslash = x ^ (ones * '\\');
        /* (v - ones) & ~v & highs marks v's zero bytes, and ctrl's high
         * bits the bytes whose low 7 bits are below 0x20. A borrow can mark
         * a byte above a marked one wrongly, never the lowest marked one,
         * which is all that is read. x's own high bits mark bytes >= 0x80. */
        ctrl = (x & ~highs) - ones * 0x20;
        uint64_t bad = (((quote - ones) & ~quote) | ((bslash - ones) & ~bslash) | ctrl | x) & highs;
        return bad ? (size_t)__builtin_ctzll(bad) / 8 : 8;
}

/* Scans a string at s->p (on the opening quote), in one pass that also
 * validates it: unreferenced values are copied to sinks verbatim, so what
 * passes here must be valid JSON and valid UTF-8, kept or skipped. With out,
 * stores its value (unescaped into the arena if it holds escapes). */
static int string(scan_t *s, const char **out, uint32_t *olen) {
        const char *begin = ++s->p, *c = begin, *end = s->end;
        int esc = 0;
        for (;;) {
                while (end - c >= 8) {
                        size_t k = plain8(c);
                        c += k;
                        if (k < 8)
                                break;
                }
                while (c < end && plain[(unsigned char)*c])
                        c++;
                if (c >= end)
                        return fail(s, "unterminated string");
                unsigned char ch = (unsigned char)*c;
                size_t n;
                if (ch == '"')
                        break;
                if (ch < 0x20)
                        return fail(s, "control character in string");
                if (ch == '\\') {
                        esc = 1;
                        if (c + 1 >= end)
                                return fail(s, "unterminated string");
                        if (c[1] == 'u') {
                                if (!(n = check_u(c + 1, end)))
                                        return fail(s, "bad \\u escape (4 hex digits; surrogates in pairs)");
                                c += 1 + n;
                        } else if (!memchr("\"\\/bfnrt", c[1], 8)) {
                                return fail(s, "bad escape in string");
                        } else {
                                c += 2;
                        }
                } else {
                        if (!(n = spate_utf8_len((const unsigned char *)c, (size_t)(end - c))))
                                return fail(s, "invalid UTF-8 in string");
                        c += n;
                }
        }
        s->p = c + 1;
        if (!out)
                return 0;
        if (!esc) {
                *out = begin;
                *olen = (uint32_t)(c - begin);
                return 0;
        }
        return unescape(s, begin, (size_t)(c - begin), out, olen);
}

static int literal(scan_t *s, const char *word, size_t n) {
        if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n))
                return fail(s, "invalid literal");
        s->p += n;
        return 0;
}

static int value(scan_t *s, const spate_shape_t *sh, spate_value_t *out);

static int object(scan_t *s, const spate_shape_t *sh, spate_value_t *out) {
        int nf = sh ? sh->nfields : 0;
        if (out && nf) {
                out->type = SPATE_V_OBJ;
                out->n = (uint32_t)nf;
                out->u.items = spate_arena_alloc(s->a, sizeof(spate_value_t) * (size_t)nf);
                memset(out->u.items, 0, sizeof(spate_value_t) * (size_t)nf);
        } else if (out) {
                out->type = SPATE_V_OBJ;
                out->n = 0;
        }
        s->p++;
        ws(s);
        if (s->p < s->end && *s->p == '}') {
                s->p++;
                return 0;
        }
        for (;;) {
                const char *k;
                uint32_t klen;
                ws(s);
                if (s->p >= s->end || *s->p != '"')
                        return fail(s, "expected a string key");
                if (string(s, &k, &klen))
                        return -1;
                ws(s);
                if (s->p >= s->end || *s->p != ':')
                        return fail(s, "expected ':'");
                s->p++;
                const spate_shape_t *fs = NULL;
                spate_value_t *slot = NULL;
                for (int i = 0; out && i < nf; i++) {
                        const spate_shape_field_t *f = &sh->fields[i];
                        /* the first byte tells most names of one length apart without a call */
                        if (f->len == klen && (!klen || f->name[0] == k[0]) && !memcmp(f->name, k, klen)) {
                                fs = f->shape;
                                slot = &out->u.items[i];
                                break;
                        }
                }
                if (value(s, fs, slot))
                        return -1;
                ws(s);
                if (s->p < s->end && *s->p == ',') {
                        s->p++;
                        continue;
                }
                if (s->p < s->end && *s->p == '}') {
                        s->p++;
                        return 0;
                }
                return fail(s, "expected ',' or '}' in object");
        }
}

static int array(scan_t *s, const spate_shape_t *sh, spate_value_t *out) {
        const spate_shape_t *es = sh ? sh->elem : NULL;
        int keep = out && es;
        uint32_t n = 0, cap = 0;
        spate_value_t *items = NULL;

        s->p++;
        ws(s);
        if (s->p < s->end && *s->p == ']') {
                s->p++;
                goto done;
        }
        for (;;) {
                spate_value_t *slot = NULL;
                if (keep) {
                        if (n == cap) {
                                uint32_t ncap = cap ? cap * 2 : 64;
                                spate_value_t *ni = spate_arena_alloc(s->a, sizeof(*ni) * ncap);
                                if (n)
                                        memcpy(ni, items, sizeof(*ni) * n);
                                items = ni, cap = ncap;
                        }
                        slot = &items[n];
                        memset(slot, 0, sizeof(*slot));
                }
                if (value(s, es, slot))
                        return -1;
                n++;
                ws(s);
                if (s->p < s->end && *s->p == ',') {
                        s->p++;
                        continue;
                }
                if (s->p < s->end && *s->p == ']') {
                        s->p++;
                        break;
                }
                return fail(s, "expected ',' or ']' in array");
        }
done:
        if (out) {
                out->type = SPATE_V_ARR;
                out->n = keep ? n : 0;
                out->u.items = items;
        }
        return 0;
}

static int value(scan_t *s, const spate_shape_t *sh, spate_value_t *out) {
        const char *begin;
        int rc;
        ws(s);
        if (s->p >= s->end)
                return fail(s, "unexpected end of input");
        if (++s->depth > MAX_DEPTH)
                return fail(s, "nesting too deep");
        begin = s->p;
        switch (*s->p) {
        case '{': rc = object(s, sh, out); break;
        case '[': rc = array(s, sh, out); break;
        case '"':
                if (out) {
                        out->type = SPATE_V_STR;
                        rc = string(s, &out->u.s, &out->n);
                } else {
                        rc = string(s, NULL, NULL);
                }
                break;
        case 't': rc = literal(s, "true", 4); if (out) *out = spate_value_bool(1); break;
        case 'f': rc = literal(s, "false", 5); if (out) *out = spate_value_bool(0); break;
        case 'n': rc = literal(s, "null", 4); if (out) out->type = SPATE_V_NULL; break;
        default: {
                double d;
                size_t used = spate_json_number(s->p, (size_t)(s->end - s->p), &d);
                if (!used)
                        return fail(s, "invalid value");
                if (!isfinite(d))
                        return fail(s, "number out of range (beyond ±1.8e308)");
                s->p += used;
                if (out) {
                        /* Field by field into the zeroed slot: a whole
                         * spate_value_t built on the stack and copied stalls
                         * on store forwarding, at ~20 % of a record's scan. */
                        out->type = SPATE_V_NUM;
                        out->u.num = d;
                }
                rc = 0;
        }
        }
        s->depth--;
        if (rc == 0 && out && sh && sh->want_raw) {
                out->raw = begin;
                out->raw_len = (uint32_t)(s->p - begin);
        }
        return rc;
}

int spate_json_decode(const spate_shape_t *shape, const char *buf, size_t len,
                      spate_arena_t *a, spate_value_t *out, char *errstr,
                      size_t errstr_size) {
        scan_t s;
        if (!buf)
                buf = ""; /* a tombstone: NULL + 0 is undefined, even with len 0 */
        s = (scan_t){ .p = buf, .end = buf + len, .start = buf, .a = a };
        memset(out, 0, sizeof(*out));
        ws(&s);
        if (shape && shape->nfields && (s.p >= s.end || *s.p != '{')) {
                snprintf(errstr, errstr_size, "expected a JSON object at byte %zu",
                         (size_t)(s.p - buf));
                return -1;
        }
        if (value(&s, shape, out) == 0) {
                ws(&s);
                if (s.p == s.end)
                        return 0;
                fail(&s, "trailing characters after the JSON value");
        }
        snprintf(errstr, errstr_size, "malformed JSON at byte %zu: %s",
                 (size_t)(s.p - buf), s.err ? s.err : "syntax error");
        return -1;
}
