/* tail_json.c - raw-text JSON helpers for `spate tail` (see tail_json.h). */
#include "tail_json.h"
#include "../serde/json_scan.h"

#include <string.h>

#define MAX_DEPTH 256

static size_t ws(const char *p, size_t n, size_t i) {
        while (i < n && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t'))
                i++;
        return i;
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* End of the string whose opening quote is at p[i], or 0 if malformed. */
static size_t string_end(const char *p, size_t n, size_t i) {
        for (i++; i < n; i++) {
                unsigned char c = (unsigned char)p[i];
                if (c == '"')
                        return i + 1;
                if (c < 0x20)
                        return 0;
                if (c == '\\') {
                        if (++i >= n)
                                return 0;
                        if (p[i] == 'u') {
                                for (int k = 1; k <= 4; k++)
                                        if (i + (size_t)k >= n || hexval(p[i + (size_t)k]) < 0)
                                                return 0;
                                i += 4;
                        } else if (!p[i] || !strchr("\"\\/bfnrt", p[i])) { /* strchr matches the NUL */
                                return 0;
                        }
                } else if (c >= 0x80) {
                        size_t l = spate_utf8_len((const unsigned char *)p + i, n - i);
                        if (!l)
                                return 0;
                        i += l - 1;
                }
        }
        return 0;
}

/* End of the value starting at p[i] (no leading whitespace), 0 if malformed. */
static size_t value_end(const char *p, size_t n, size_t i, int depth) {
        if (i >= n || depth > MAX_DEPTH)
                return 0;
        switch (p[i]) {
        case '"':
                return string_end(p, n, i);
        case '{':
        case '[': {
                char close = p[i] == '{' ? '}' : ']';
                int obj = p[i] == '{';
                i = ws(p, n, i + 1);
                if (i < n && p[i] == close)
                        return i + 1;
                for (;;) {
                        if (obj) {
                                if (i >= n || p[i] != '"' || !(i = string_end(p, n, i)))
                                        return 0;
                                i = ws(p, n, i);
                                if (i >= n || p[i] != ':')
                                        return 0;
                                i = ws(p, n, i + 1);
                        }
                        if (!(i = value_end(p, n, i, depth + 1)))
                                return 0;
                        i = ws(p, n, i);
                        if (i < n && p[i] == ',') {
                                i = ws(p, n, i + 1);
                                continue;
                        }
                        return i < n && p[i] == close ? i + 1 : 0;
                }
        }
        case 't':
                return n - i >= 4 && !memcmp(p + i, "true", 4) ? i + 4 : 0;
        case 'f':
                return n - i >= 5 && !memcmp(p + i, "false", 5) ? i + 5 : 0;
        case 'n':
                return n - i >= 4 && !memcmp(p + i, "null", 4) ? i + 4 : 0;
        default: {
                double d;
                size_t l = spate_json_number(p + i, n - i, &d);
                return l ? i + l : 0;
        }
        }
}

tj_kind_t tj_kind_of(const char *val, size_t vlen) {
        if (!vlen)
                return TJ_NONE;
        switch (val[0]) {
        case '{': return TJ_OBJECT;
        case '[': return TJ_ARRAY;
        case '"': return TJ_STRING;
        case 't': case 'f': return TJ_BOOL;
        case 'n': return TJ_NULL;
        default: return TJ_NUMBER;
        }
}

tj_kind_t tj_classify(const char *p, size_t n) {
        size_t i = ws(p, n, 0), e;
        if (!(e = value_end(p, n, i, 0)) || ws(p, n, e) != n)
                return TJ_NONE;
        return tj_kind_of(p + i, e - i);
}

void tj_iter_init(tj_iter_t *it, const char *p, size_t n) {
        it->p = p;
        it->n = n;
        it->i = ws(p, n, 0) + 1;  /* past '{' */
}

int tj_iter_next(tj_iter_t *it, const char **name, size_t *nlen, const char **val, size_t *vlen) {
        const char *p = it->p;
        size_t n = it->n, i = ws(p, n, it->i), e;
        if (i < n && p[i] == ',')
                i = ws(p, n, i + 1);
        if (i >= n || p[i] != '"')
                return 0;
        e = string_end(p, n, i);
        *name = p + i + 1;
        *nlen = e - i - 2;
        i = ws(p, n, ws(p, n, e) + 1);  /* past ':' */
        e = value_end(p, n, i, 1);
        *val = p + i;
        *vlen = e - i;
        it->i = e;
        return 1;
}

int tj_name_eq(const char *raw, size_t rlen, const char *s) {
        size_t slen = strlen(s);
        if (!memchr(raw, '\\', rlen))
                return rlen == slen && !memcmp(raw, s, rlen);
        char tmp[256];
        spate_buf_t b = { .data = tmp, .len = 0, .cap = 0 };
        if (rlen >= sizeof(tmp))
                return 0;
        /* Decoding never grows the text: a fixed buffer is enough. */
        b.cap = sizeof(tmp);
        tj_unescape(&b, raw, rlen);
        return b.len == slen && !memcmp(tmp, s, slen);
}

int tj_get(const char *p, size_t n, const char *name, const char **val, size_t *vlen) {
        tj_iter_t it;
        const char *fn;
        size_t fl;
        tj_iter_init(&it, p, n);
        while (tj_iter_next(&it, &fn, &fl, val, vlen))
                if (tj_name_eq(fn, fl, name))
                        return 1;
        return 0;
}

static void put_utf8(spate_buf_t *out, unsigned cp) {
        char o[4];
        size_t n;
        if (cp < 0x80)
                o[0] = (char)cp, n = 1;
        else if (cp < 0x800)
                o[0] = (char)(0xc0 | cp >> 6), o[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
        else if (cp < 0x10000)
                o[0] = (char)(0xe0 | cp >> 12), o[1] = (char)(0x80 | ((cp >> 6) & 0x3f)),
                o[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
        else
                o[0] = (char)(0xf0 | cp >> 18), o[1] = (char)(0x80 | ((cp >> 12) & 0x3f)),
                o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), o[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
        spate_buf_put(out, o, n);
}

static unsigned hex4(const char *p) {
        return (unsigned)(hexval(p[0]) << 12 | hexval(p[1]) << 8 | hexval(p[2]) << 4 | hexval(p[3]));
}

void tj_unescape(spate_buf_t *out, const char *raw, size_t rlen) {
        for (size_t i = 0; i < rlen; i++) {
                char c = raw[i];
                if (c != '\\' || i + 1 >= rlen) {
                        spate_buf_putc(out, c);
                        continue;
                }
                c = raw[++i];
                switch (c) {
                case 'b': spate_buf_putc(out, '\b'); break;
                case 'f': spate_buf_putc(out, '\f'); break;
                case 'n': spate_buf_putc(out, '\n'); break;
                case 'r': spate_buf_putc(out, '\r'); break;
                case 't': spate_buf_putc(out, '\t'); break;
                case 'u': {
                        if (i + 4 >= rlen)
                                return;
                        unsigned cp = hex4(raw + i + 1);
                        i += 4;
                        if (cp >= 0xd800 && cp <= 0xdbff && i + 6 < rlen && raw[i + 1] == '\\' &&
                            raw[i + 2] == 'u') {
                                unsigned lo = hex4(raw + i + 3);
                                if (lo >= 0xdc00 && lo <= 0xdfff) {
                                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                                        i += 6;
                                }
                        }
                        put_utf8(out, cp >= 0xd800 && cp <= 0xdfff ? 0xfffd : cp);
                        break;
                }
                default: spate_buf_putc(out, c);
                }
        }
}

void tj_write_str(spate_buf_t *out, const char *s, size_t n) {
        static const char hex[] = "0123456789abcdef";
        spate_buf_putc(out, '"');
        for (size_t i = 0; i < n;) {
                unsigned char c = (unsigned char)s[i];
                if (c >= 0x80) {
                        size_t l = spate_utf8_len((const unsigned char *)s + i, n - i);
                        if (l)
                                spate_buf_put(out, s + i, l), i += l;
                        else
                                spate_buf_put(out, "\\ufffd", 6), i++;
                        continue;
                }
                i++;
                switch (c) {
                case '"': spate_buf_put(out, "\\\"", 2); break;
                case '\\': spate_buf_put(out, "\\\\", 2); break;
                case '\n': spate_buf_put(out, "\\n", 2); break;
                case '\r': spate_buf_put(out, "\\r", 2); break;
                case '\t': spate_buf_put(out, "\\t", 2); break;
                default:
                        if (c < 0x20) {
                                char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
                                spate_buf_put(out, u, 6);
                        } else {
                                spate_buf_putc(out, (char)c);
                        }
                }
        }
        spate_buf_putc(out, '"');
}

void tj_write_compact(spate_buf_t *out, const char *p, size_t n) {
        size_t i = ws(p, n, 0);
        while (i < n) {
                char c = p[i];
                if (c == '"') {
                        size_t e = string_end(p, n, i);
                        if (!e)
                                e = n;
                        spate_buf_put(out, p + i, e - i);
                        i = e;
                } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
                        i++;
                } else {
                        spate_buf_putc(out, c);
                        i++;
                }
        }
}
