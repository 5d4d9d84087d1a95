/* json_scan.c - a validating single-pass JSON scanner that materialises only
 * the paths of a shape. Unreferenced values are skipped at byte speed; this is
 * what keeps the record path far below a full jansson tree (~2 µs a record). */
#include "json_scan.h"

#include <math.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 128

/* The scan's position is passed and returned as a pointer (NULL: failed),
 * so it stays in a register instead of going through memory at every byte
 * test. */
typedef struct scan {
        const char *end;
        spate_arena_t *a;
        const char *err, *at;  /* the first error and where it was found */
        int depth;
        int closed;                 /* number_closed(): numbers are read without end tests */
        spate_json_hints_t *hints;  /* for the first object kept, then NULL */
} scan_t;

static const char *fail(scan_t *s, const char *at, const char *msg) {
        if (!s->err)
                s->err = msg, s->at = at;
        return NULL;
}

/* Every whitespace byte is at or below ' ': compact JSON, the common case,
 * costs one test a call. */
static inline const char *ws(const char *p, const char *end) {
        while (p < end && (unsigned char)*p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
                p++;
        return p;
}

static const double pow10_exact[] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

/* Whether input ending at end (after at least one byte) may be read
 * number by number without testing for its end: a number's bytes are read
 * one past a '-', a digit or a '.' only, so when the last byte is none of
 * them, every such read is inside. A record's JSON ends in '}'. */
static inline int number_closed(const char *end) {
        unsigned char c = (unsigned char)end[-1];
        return (unsigned)(c - '0') > 9 && c != '-' && c != '.';
}

/* The digits at q added to *m (the 20th and later wrap: the caller then
 * uses strtod): returns the byte after them. Two digits a step where the
 * input is closed (open 0), where a digit is never the last byte, so the one
 * after it can be read untested. */
static inline __attribute__((always_inline)) const char *digit_run(const char *q, const char *end, int open,
                                                                  uint64_t *mp) {
        uint64_t m = *mp;
        unsigned d, e;
        if (open) {
                for (; q < end && (d = (unsigned)(unsigned char)*q - '0') <= 9; q++)
                        m = m * 10 + d;
        } else {
                while ((d = (unsigned)(unsigned char)q[0] - '0') <= 9) {
                        if ((e = (unsigned)(unsigned char)q[1] - '0') > 9) {
                                m = m * 10 + d;
                                q++;
                                break;
                        }
                        m = m * 100 + d * 10 + e;
                        q += 2;
                }
        }
        *mp = m;
        return q;
}

/* spate_json_number(), inlined into the scanner's value(); with open 0 the
 * input must be number_closed() and the bound is not tested (a constant
 * open gives each its own copy). *huge is set when the number is beyond a
 * double's range, which only strtod's path can find: the fast path of up to
 * 15 digits tests nothing more. */
static inline __attribute__((always_inline)) size_t number(const char *p, size_t n, int open, double *out,
                                                           int *huge) {
        const char *q = p, *end = p + n, *d0;
        int neg = 0, frac = 0, digits = 0;
        uint64_t m = 0;

        if (*q == '-')  /* n >= 1 */
                neg = 1, q++;
        /* digits and frac are counted from the pointers after each run; a
         * run without digits is refused after it */
        q = digit_run(d0 = q, end, open, &m);
        digits = (int)(q - d0);
        if (!digits || (*d0 == '0' && digits > 1))
                return 0; /* JSON forbids leading zeros */
        if ((!open || q < end) && *q == '.') {
                q = digit_run(d0 = q + 1, end, open, &m);
                frac = (int)(q - d0);
                if (!frac)
                        return 0;
                digits += frac;
        }
        int has_exp = (!open || q < end) && (*q | 0x20) == 'e';  /* 'e' or 'E' */
        if (!has_exp && digits <= 15) {
                /* m and 10^frac (frac <= 15) are exact doubles, so one
                 * division is correctly rounded: the same result as strtod. */
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
        *huge = !isfinite(*out);
        return len;
}

size_t spate_json_number(const char *p, size_t n, double *out) {
        int huge;
        return n ? number(p, n, 1, out, &huge) : 0;
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

/* Unescapes s[0..n) into the arena: a string body that string_rest()
 * validated, with at least one backslash, so every escape is whole and
 * known (a \u of a high surrogate is followed by its low one). */
static void unescape(scan_t *s, const char *in, size_t n, const char **out, uint32_t *olen) {
        char *o = spate_arena_alloc(s->a, n + 1), *w = o;
        for (size_t i = 0; i < n; i++) {
                if (in[i] != '\\') {
                        *w++ = in[i];
                        continue;
                }
                char c = in[++i];
                switch (c) {
                case 'b': *w++ = '\b'; break;
                case 'f': *w++ = '\f'; break;
                case 'n': *w++ = '\n'; break;
                case 'r': *w++ = '\r'; break;
                case 't': *w++ = '\t'; break;
                case 'u': {
                        unsigned cp, lo;
                        hex4(in + i + 1, &cp);
                        i += 4;
                        if (cp >= 0xD800 && cp < 0xDC00) {
                                hex4(in + i + 3, &lo);
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                i += 6;
                        }
                        w += utf8_put(w, cp);
                        break;
                }
                default: *w++ = c; /* '"', '\\', '/' */
                }
        }
        *out = o;
        *olen = (uint32_t)(w - o);
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
static inline __attribute__((always_inline)) size_t plain8(const char *c) {
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

#ifdef __SSE2__
/* plain8() for 16 bytes in SSE2, which every x86-64 has: a signed compare
 * below 0x20 finds the control bytes and those at or above 0x80 at once. */
static inline __attribute__((always_inline)) size_t plain16(const char *c) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)c);
        __m128i bad = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                                _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
                                   _mm_cmplt_epi8(x, _mm_set1_epi8(0x20)));
        unsigned m = (unsigned)_mm_movemask_epi8(bad);
        return m ? (size_t)__builtin_ctz(m) : 16;
}
#endif

/* The first byte at or after c that is not plain, or end: 16 bytes a test
 * with SSE2 while 16 remain, 8 while 8 remain, then byte by byte. */
static inline __attribute__((always_inline)) const char *plain_run(const char *c, const char *end) {
#ifdef __SSE2__
        while (end - c >= 16) {
                size_t k = plain16(c);
                c += k;
                if (k < 16)
                        return c;
        }
#endif
        while (end - c >= 8) {
                size_t k = plain8(c);
                c += k;
                if (k < 8)
                        return c;
        }
        while (c < end && plain[(unsigned char)*c])
                c++;
        return c;
}

size_t spate_json_plain_len(const char *s, size_t n) {
        return (size_t)(plain_run(s, s + n) - s);
}

/* The rest of a string whose body begins at `begin` and whose plain bytes
 * end at c (on a byte that is not plain, or at the end of the input):
 * escapes, UTF-8, the errors (found at `begin`). Returns the byte after
 * the closing quote. */
static const char *string_rest(scan_t *s, const char *begin, const char *c, const char **out, uint32_t *olen) {
        const char *end = s->end;
        int esc = 0;
        for (;;) {
                c = plain_run(c, end);
                if (c >= end)
                        return fail(s, begin, "unterminated string");
                unsigned char ch = (unsigned char)*c;
                size_t n;
                if (ch == '"')
                        break;
                if (ch < 0x20)
                        return fail(s, begin, "control character in string");
                if (ch == '\\') {
                        esc = 1;
                        if (c + 1 >= end)
                                return fail(s, begin, "unterminated string");
                        if (c[1] == 'u') {
                                if (!(n = check_u(c + 1, end)))
                                        return fail(s, begin, "bad \\u escape (4 hex digits; surrogates in pairs)");
                                c += 1 + n;
                        } else if (!memchr("\"\\/bfnrt", c[1], 8)) {
                                return fail(s, begin, "bad escape in string");
                        } else {
                                c += 2;
                        }
                } else {
                        if (!(n = spate_utf8_len((const unsigned char *)c, (size_t)(end - c))))
                                return fail(s, begin, "invalid UTF-8 in string");
                        c += n;
                }
        }
        if (out && !esc) {
                *out = begin;
                *olen = (uint32_t)(c - begin);
        } else if (out) {
                unescape(s, begin, (size_t)(c - begin), out, olen);
        }
        return c + 1;
}

/* Scans a string at p (on the opening quote), in one pass that also
 * validates it: unreferenced values are copied to sinks verbatim, so what
 * passes here must be valid JSON and valid UTF-8, kept or skipped. With out,
 * stores its value (unescaped into the arena if it holds escapes). Returns
 * the byte after it. Inlined: a record is mostly short plain strings (its
 * keys), which end here. */
static inline const char *string(scan_t *s, const char *p, const char **out, uint32_t *olen) {
        const char *begin = p + 1, *c = plain_run(begin, s->end);
        if (c >= s->end || *c != '"')
                return string_rest(s, begin, c, out, olen);
        if (out) {
                *out = begin;
                *olen = (uint32_t)(c - begin);
        }
        return c + 1;
}

static const char *literal(scan_t *s, const char *p, const char *word, size_t n) {
        if ((size_t)(s->end - p) < n || memcmp(p, word, n))
                return fail(s, p, "invalid literal");
        return p + n;
}

static const char *value(scan_t *s, const char *p, const spate_shape_t *sh, spate_value_t *out);
static inline __attribute__((always_inline)) const char *value_at(scan_t *s, const char *p,
                                                                   const spate_shape_t *sh,
                                                                   spate_value_t *out);

/* Where the byte `c` expected at p is, after whitespace if any (NULL if it
 * is not there): compact JSON, p on c, costs the one test. */
static inline const char *at_byte(const char *p, const char *end, char c) {
        if (p < end && *p == c)
                return p;
        p = ws(p, end);
        return p < end && *p == c ? p : NULL;
}

/* Sets the hint of key position pos, whose key was field i (-1: none of
 * the shape's) and whose body in the input was raw[0..rawlen): only keys
 * that JSON holds as they are (no escapes) can be recognised by their bytes.
 * A key of no field is hinted too (field 0), so that it too is matched by
 * its bytes, not scanned and looked up again. */
static void hint_set(spate_json_hints_t *h, int pos, const spate_shape_t *sh, int i, const char *raw,
                     size_t rawlen) {
        char w[16] = { 0 };
        const char *name = i < 0 ? raw : sh->fields[i].name;
        size_t len = i < 0 ? rawlen : sh->fields[i].len;
        h->field[pos] = 0;
        h->span[pos] = 0;
        if (i >= UINT16_MAX || spate_json_plain_len(name, len) != len)
                return;
        h->field[pos] = (uint16_t)(i + 1);
        size_t span = len + 1;
        if (span > sizeof(w))
                return;
        memcpy(w, name, span - 1);
        w[span - 1] = '"';
        memcpy(&h->head[pos], w, 8);
        h->mask[pos] = span >= 8 ? ~UINT64_C(0) : (UINT64_C(1) << (8 * span)) - 1;
        if (span >= 8)
                memcpy(&h->tail[pos], w + span - 8, 8);
        h->span[pos] = (uint8_t)span;
}

/* Whether the bytes at kb begin with the name hinted at key position pos
 * and its closing quote (span of them, not 0): two loads and compares, so 16
 * bytes from kb must be readable. hinted_key() and hinted_members() share it,
 * always inlined: the latter's loop costs a record what it did with its own
 * copy (bench/instr.sh). */
static inline __attribute__((always_inline)) int hint_words_eq(const spate_json_hints_t *h, int pos,
                                                               unsigned span, const char *kb) {
        uint64_t x, y;
        memcpy(&x, kb, 8);
        if ((x & h->mask[pos]) != h->head[pos])
                return 0;
        if (span < 8)
                return 1;
        memcpy(&y, kb + span - 8, 8);
        return y == h->tail[pos];
}

/* When the key whose body begins at kb is the name hinted at key position
 * pos (a field's, or a key of none), closed by a quote: the byte after that
 * quote; else NULL. Those bytes are then a valid JSON string equal to the
 * name, which is what scanning the key and looking it up would have found. A
 * name of up to 15 bytes is compared in two loads where 16 bytes remain, from
 * the words rebuilt where fewer do (a record's last key). */
static inline const char *hinted_key(const spate_json_hints_t *h, int pos, const spate_shape_t *sh,
                                     const char *kb, const char *end) {
        unsigned span = h->span[pos];
        if (span && end - kb >= 16)
                return hint_words_eq(h, pos, span, kb) ? kb + span : NULL;
        if (span && (size_t)(end - kb) >= span) {
                char w[16];
                memcpy(w, &h->head[pos], 8);
                if (span > 8)
                        memcpy(w + span - 8, &h->tail[pos], 8);
                return memcmp(kb, w, span) ? NULL : kb + span;
        }
        if (!h->field[pos])
                return NULL;
        const spate_shape_field_t *f = &sh->fields[h->field[pos] - 1];
        if ((size_t)(end - kb) <= f->len || kb[f->len] != '"' || !spate_shape_name_eq(kb, f->name, f->len))
                return NULL;
        return kb + f->len + 1;
}

/* Where hinted_members() stopped. */
enum { AT_KEY, AFTER_VALUE, CLOSED };

/* The members of an object whose keys come as hinted, in compact JSON: from
 * the key at p, at key position *pos, each key matched by its bytes (a name
 * of up to 15 bytes, then '"', ':' and no whitespace) and its value read into
 * its slot. Returns where it stopped, with *where: at a key not as hinted
 * (AT_KEY, that key's position in *pos), after a value not followed by ','
 * or '}' (AFTER_VALUE, the value's key's position in *pos), or after the
 * object (CLOSED); NULL on an error in a value. Apart from object()'s loop, its few live values
 * stay in registers: a record whose keys keep their order costs here about
 * half of what the loop costs a key. */
static const char *hinted_members(scan_t *s, const char *p, const spate_shape_t *sh, const spate_json_hints_t *h,
                                  spate_value_t *items, int *pos, int *where) {
        const char *end = s->end;
        int k;
        for (k = *pos; k < SPATE_JSON_HINTS; k++) {
                unsigned span = h->span[k];
                /* the quote, 16 bytes compared, the colon and the value's first byte */
                if (!span || end - p < 18 || *p != '"' || !hint_words_eq(h, k, span, p + 1))
                        break;
                const char *v = p + 1 + span;
                if (*v != ':' || (unsigned char)v[1] <= ' ')
                        break;
                int i = h->field[k] - 1;
                *pos = k;
                v = i < 0 ? value_at(s, v + 1, NULL, NULL) : value_at(s, v + 1, sh->fields[i].shape, &items[i]);
                if (!v)
                        return NULL;
                if (v < end && *v == ',') {
                        p = v + 1;
                        continue;
                }
                *where = v < end && *v == '}' ? CLOSED : AFTER_VALUE;
                return *where == CLOSED ? v + 1 : v;
        }
        *pos = k;
        *where = AT_KEY;
        return p;
}

static const char *object(scan_t *s, const char *p, const spate_shape_t *sh, spate_value_t *out) {
        const char *end = s->end;
        /* fields are matched only when kept */
        int nf = out && sh ? sh->nfields : 0;
        if (out) {
                out->type = SPATE_V_OBJ;
                out->n = (uint32_t)nf;
        }
        if (nf) {
                out->u.items = spate_arena_alloc(s->a, sizeof(spate_value_t) * (size_t)nf);
                memset(out->u.items, 0, sizeof(spate_value_t) * (size_t)nf);
        }
        spate_json_hints_t *h = nf ? s->hints : NULL;
        if (h) {
                s->hints = NULL;
                if (h->shape != sh) {
                        memset(h, 0, sizeof(*h));
                        h->shape = sh;
                }
        }
        /* key positions below nhints are hinted: one test a key */
        int nhints = h ? SPATE_JSON_HINTS : 0;
        p = ws(p + 1, end);
        if (p < end && *p == '}')
                return p + 1;
        int pos = 0;
        if (h) {
                int where;
                if (!(p = hinted_members(s, p, sh, h, out->u.items, &pos, &where)))
                        return NULL;
                if (where == CLOSED)
                        return p;
                if (where == AFTER_VALUE)
                        goto after_value;
        }
        for (;; pos++) {
                const char *q;
                int i;
                if (!(q = at_byte(p, end, '"')))
                        return fail(s, ws(p, end), "expected a string key");
                if (pos < nhints && (p = hinted_key(h, pos, sh, q + 1, end))) {
                        i = h->field[pos] - 1;
                } else {
                        const char *k = NULL;
                        uint32_t klen = 0;
                        if (!(p = nf ? string(s, q, &k, &klen) : string(s, q, NULL, NULL)))
                                return NULL;
                        i = nf ? spate_shape_find(sh, k, klen) : -1;
                        if (pos < nhints)
                                hint_set(h, pos, sh, i, q + 1, (size_t)(p - q - 2));
                }
                if (!(q = at_byte(p, end, ':')))
                        return fail(s, ws(p, end), "expected ':'");
                /* compact JSON: the value right after the colon, one test */
                p = q + 1;
                if (p >= end || (unsigned char)*p <= ' ') {
                        p = ws(p, end);
                        if (p >= end)
                                return fail(s, p, "unexpected end of input");
                }
                /* the value, inlined (value() without its call) */
                p = i < 0 ? value_at(s, p, NULL, NULL)
                          : value_at(s, p, sh->fields[i].shape, &out->u.items[i]);
                if (!p)
                        return NULL;
after_value:
                if (p >= end || (*p != ',' && *p != '}'))
                        p = ws(p, end);
                if (p < end && *p == ',') {
                        p++;
                        continue;
                }
                if (p < end && *p == '}')
                        return p + 1;
                return fail(s, p, "expected ',' or '}' in object");
        }
}

static const char *array(scan_t *s, const char *p, const spate_shape_t *sh, spate_value_t *out) {
        const char *end = s->end;
        const spate_shape_t *es = sh ? sh->elem : NULL;
        int keep = out && es;
        uint32_t n = 0, cap = 0;
        spate_value_t *items = NULL;

        p = ws(p + 1, end);
        if (p < end && *p == ']') {
                p++;
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
                if (!(p = value(s, p, es, slot)))
                        return NULL;
                n++;
                p = ws(p, end);
                if (p < end && *p == ',') {
                        p++;
                        continue;
                }
                if (p < end && *p == ']') {
                        p++;
                        break;
                }
                return fail(s, p, "expected ',' or ']' in array");
        }
done:
        if (out) {
                out->type = SPATE_V_ARR;
                out->n = keep ? n : 0;
                out->u.items = items;
        }
        return p;
}

/* The value at p, which is in the input and not whitespace. Inlined into
 * value() and object(), so a record's scalar fields cost no call. */
static inline __attribute__((always_inline)) const char *value_at(scan_t *s, const char *p,
                                                                   const spate_shape_t *sh,
                                                                   spate_value_t *out) {
        const char *begin = p;
        /* a scalar counts as a level too: MAX_DEPTH - 1 containers may hold one */
        if (s->depth >= MAX_DEPTH)
                return fail(s, p, "nesting too deep");
        switch (*p) {
        case '{':
                s->depth++;
                p = object(s, p, sh, out);
                s->depth--;
                break;
        case '[':
                s->depth++;
                p = array(s, p, sh, out);
                s->depth--;
                break;
        case '"':
                if (out) {
                        out->type = SPATE_V_STR;
                        p = string(s, p, &out->u.s, &out->n);
                } else {
                        p = string(s, p, NULL, NULL);
                }
                break;
        case 't': p = literal(s, p, "true", 4); if (out) *out = spate_value_bool(1); break;
        case 'f': p = literal(s, p, "false", 5); if (out) *out = spate_value_bool(0); break;
        case 'n': p = literal(s, p, "null", 4); if (out) out->type = SPATE_V_NULL; break;
        default: {
                double d;
                int huge = 0;
                size_t used = s->closed ? number(p, (size_t)(s->end - p), 0, &d, &huge)
                                        : number(p, (size_t)(s->end - p), 1, &d, &huge);
                if (!used)
                        return fail(s, p, "invalid value");
                if (huge)
                        return fail(s, p, "number out of range (beyond ±1.8e308)");
                p += used;
                if (out) {
                        /* Field by field into the zeroed slot: a whole
                         * spate_value_t built on the stack and copied stalls
                         * on store forwarding, at ~20 % of a record's scan. */
                        out->type = SPATE_V_NUM;
                        out->u.num = d;
                }
        }
        }
        if (p && out && sh && sh->want_raw) {
                out->raw = begin;
                out->raw_len = (uint32_t)(p - begin);
        }
        return p;
}

static const char *value(scan_t *s, const char *p, const spate_shape_t *sh, spate_value_t *out) {
        p = ws(p, s->end);
        if (p >= s->end)
                return fail(s, p, "unexpected end of input");
        return value_at(s, p, sh, out);
}

int spate_json_decode(const spate_shape_t *shape, const char *buf, size_t len,
                      spate_arena_t *a, spate_value_t *out, char *errstr,
                      size_t errstr_size) {
        return spate_json_decode_hinted(shape, NULL, buf, len, a, out, errstr, errstr_size);
}

int spate_json_decode_hinted(const spate_shape_t *shape, spate_json_hints_t *hints, const char *buf,
                             size_t len, spate_arena_t *a, spate_value_t *out, char *errstr,
                             size_t errstr_size) {
        scan_t s;
        const char *p;
        if (!buf)
                buf = ""; /* a tombstone: NULL + 0 is undefined, even with len 0 */
        s = (scan_t){ .end = buf + len, .a = a, .closed = len && number_closed(buf + len), .hints = hints };
        memset(out, 0, sizeof(*out));
        p = ws(buf, s.end);
        if (shape && shape->nfields && (p >= s.end || *p != '{')) {
                snprintf(errstr, errstr_size, "expected a JSON object at byte %zu", (size_t)(p - buf));
                return -1;
        }
        /* a record: its object read without value()'s dispatch (the same
         * steps: p is on its '{', at depth 0) */
        if (shape && shape->nfields && !shape->want_raw) {
                s.depth = 1;
                p = object(&s, p, shape, out);
        } else {
                p = value(&s, p, shape, out);
        }
        if (p) {
                p = ws(p, s.end);
                if (p == s.end)
                        return 0;
                fail(&s, p, "trailing characters after the JSON value");
        }
        snprintf(errstr, errstr_size, "malformed JSON at byte %zu: %s", (size_t)(s.at - buf), s.err);
        return -1;
}
