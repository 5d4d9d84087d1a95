/* http_poll_body.c - what `http_poll` does with text: checks that a body is a
 * One Call answer, strips members it overrides, expands URL templates and
 * redacts API keys from anything that is logged or dead-lettered. */
#include "http_poll.h"
#include "../../serde/json_scan.h"
#include "../../util/util.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

void hp_onecall_bind(hp_onecall_t *oc, spate_shape_pool_t *pool, spate_shape_t *shape) {
        oc->shape = shape;
        oc->f_minutely = spate_shape_field(pool, shape, "minutely", 8, 1);
        oc->minute = spate_shape_elem(pool, shape->fields[oc->f_minutely].shape);
        oc->f_dt = spate_shape_field(pool, oc->minute, "dt", 2, 1);
        oc->f_precip = spate_shape_field(pool, oc->minute, "precipitation", 13, 1);
        oc->f_cod = spate_shape_field(pool, shape, "cod", 3, 1);
        oc->f_message = spate_shape_field(pool, shape, "message", 7, 1);
}

static const spate_value_t *item(const spate_value_t *obj, int i) {
        static const spate_value_t missing;
        if (obj->type != SPATE_V_OBJ || i < 0 || (uint32_t)i >= obj->n)
                return &missing;
        return &obj->u.items[i];
}

/* "API error 401: Invalid API key..." when the body is OWM's error object. */
static void api_error(const hp_onecall_t *oc, const spate_value_t *v, char *why, size_t size) {
        const spate_value_t *cod = item(v, oc->f_cod), *msg = item(v, oc->f_message);
        char c[32] = "?";
        if (cod->type == SPATE_V_NUM)
                spate_fmt_num(c, sizeof(c), cod->u.num);
        else if (cod->type == SPATE_V_STR)
                snprintf(c, sizeof(c), "%.*s", (int)(cod->n < 16 ? cod->n : 16), cod->u.s);
        snprintf(why, size, "no minutely array: API error %s: %.*s", c,
                 msg->type == SPATE_V_STR ? (int)(msg->n < 200 ? msg->n : 200) : 1,
                 msg->type == SPATE_V_STR ? msg->u.s : "?");
}

int hp_onecall_decode(const hp_onecall_t *oc, const char *body, size_t len, int min_minutely,
                      spate_arena_t *a, spate_value_t *out, char *why, size_t why_size) {
        char err[256];
        if (len == 0) {
                snprintf(why, why_size, "empty body");
                return -1;
        }
        if (spate_json_decode(oc->shape, body, len, a, out, err, sizeof(err))) {
                snprintf(why, why_size, "not JSON (%zu bytes): %s", len, err);
                return -1;
        }
        if (out->type != SPATE_V_OBJ) {
                snprintf(why, why_size, "not a JSON object but %s", spate_vtype_name(out->type));
                return -1;
        }
        const spate_value_t *m = item(out, oc->f_minutely);
        if (m->type == SPATE_V_MISSING && min_minutely > 0) {
                if (item(out, oc->f_cod)->type != SPATE_V_MISSING)
                        api_error(oc, out, why, why_size);
                else
                        snprintf(why, why_size, "no minutely array");
                return -1;
        }
        if (m->type == SPATE_V_MISSING)
                return 0;
        if (m->type != SPATE_V_ARR) {
                snprintf(why, why_size, "minutely is %s, not an array", spate_vtype_name(m->type));
                return -1;
        }
        if ((int)m->n < min_minutely) {
                snprintf(why, why_size, "minutely has %u entries, fewer than %d", m->n, min_minutely);
                return -1;
        }
        for (uint32_t i = 0; i < m->n; i++) {
                const spate_value_t *e = &m->u.items[i], *p = item(e, oc->f_precip);
                if (item(e, oc->f_dt)->type != SPATE_V_NUM || p->type != SPATE_V_NUM) {
                        snprintf(why, why_size, "minutely[%u] lacks a numeric dt or precipitation", i);
                        return -1;
                }
                if (p->u.num < 0) {
                        char v[32];
                        spate_fmt_num(v, sizeof(v), p->u.num);
                        snprintf(why, why_size, "minutely[%u].precipitation is %s: an intensity "
                                 "cannot be negative", i, v);
                        return -2;
                }
        }
        return 0;
}

int hp_api_message(const hp_onecall_t *oc, const char *body, size_t len, spate_arena_t *a,
                   char *out, size_t size) {
        spate_value_t v;
        char err[128];
        if (!len || spate_json_decode(oc->shape, body, len, a, &v, err, sizeof(err)) ||
            item(&v, oc->f_message)->type != SPATE_V_STR)
                return -1;
        const spate_value_t *msg = item(&v, oc->f_message);
        snprintf(out, size, "%.*s", (int)(msg->n < 300 ? msg->n : 300), msg->u.s);
        return 0;
}

/* --- skipping valid JSON, for hp_strip_members ---------------------------- */
static size_t skip_ws(const char *p, size_t i, size_t n) {
        while (i < n && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t'))
                i++;
        return i;
}

static size_t skip_string(const char *p, size_t i, size_t n) {
        for (i++; i < n && p[i] != '"'; i++)
                if (p[i] == '\\')
                        i++;
        return i < n ? i + 1 : n;
}

static size_t skip_value(const char *p, size_t i, size_t n) {
        int depth = 0;
        for (; i < n; i++) {
                char c = p[i];
                if (c == '"') {
                        i = skip_string(p, i, n) - 1;
                } else if (c == '{' || c == '[') {
                        depth++;
                } else if (c == '}' || c == ']') {
                        if (depth == 0)
                                return i;
                        if (--depth == 0)
                                return i + 1;
                } else if (c == ',' && depth == 0) {
                        return i;
                }
                if (depth == 0 && c == '"')
                        return i + 1;
        }
        return n;
}

void hp_strip_members(spate_buf_t *b, const char *body, size_t len, const char *const *names,
                      int nnames) {
        size_t i = skip_ws(body, 0, len);
        int first = 1;
        if (i >= len || body[i] != '{') {
                spate_buf_put(b, body, len);
                return;
        }
        spate_buf_putc(b, '{');
        i = skip_ws(body, i + 1, len);
        while (i < len && body[i] == '"') {
                size_t k0 = i, k1 = skip_string(body, i, len);
                size_t v = skip_ws(body, k1, len);
                v = skip_ws(body, v + 1, len);  /* past ':' */
                size_t end = skip_value(body, v, len);
                int drop = 0;
                for (int j = 0; j < nnames && !drop; j++)
                        drop = k1 - k0 - 2 == strlen(names[j]) &&
                               !memcmp(body + k0 + 1, names[j], k1 - k0 - 2);
                if (!drop) {
                        if (!first)
                                spate_buf_putc(b, ',');
                        first = 0;
                        spate_buf_put(b, body + k0, end - k0);
                }
                i = skip_ws(body, end, len);
                if (i < len && body[i] == ',')
                        i = skip_ws(body, i + 1, len);
        }
        spate_buf_putc(b, '}');
}

/* --- URLs ----------------------------------------------------------------- */
int hp_url_expand(const char *tmpl, const char *id, double lat, double lon, char *out,
                  size_t size) {
        static const char hex[] = "0123456789ABCDEF";
        size_t o = 0;
        char num[32];
        for (const char *p = tmpl; *p; p++) {
                const char *sub = NULL;
                int escape = 0;
                if (!strncmp(p, "{lat}", 5)) {
                        spate_fmt_num(num, sizeof(num), lat);
                        sub = num;
                        p += 4;
                } else if (!strncmp(p, "{lon}", 5)) {
                        spate_fmt_num(num, sizeof(num), lon);
                        sub = num;
                        p += 4;
                } else if (!strncmp(p, "{id}", 4)) {
                        sub = id;
                        escape = 1;
                        p += 3;
                }
                if (!sub) {
                        if (o + 1 >= size)
                                return -1;
                        out[o++] = *p;
                        continue;
                }
                for (; *sub; sub++) {
                        unsigned char c = (unsigned char)*sub;
                        if (!escape || isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
                                if (o + 1 >= size)
                                        return -1;
                                out[o++] = (char)c;
                        } else {
                                if (o + 3 >= size)
                                        return -1;
                                out[o++] = '%';
                                out[o++] = hex[c >> 4];
                                out[o++] = hex[c & 15];
                        }
                }
        }
        out[o] = '\0';
        return (int)o;
}

/* Does the query parameter name [p, p+n) hold a secret? */
static int secret_name(const char *p, size_t n) {
        static const char *const suffixes[] = { "appid", "key", "token", "secret", "password" };
        for (size_t i = 0; i < sizeof(suffixes) / sizeof(*suffixes); i++) {
                size_t l = strlen(suffixes[i]);
                if (n >= l && !strncasecmp(p + n - l, suffixes[i], l))
                        return 1;
        }
        return 0;
}

char *hp_redact(const char *s, const char *secret, char *out, size_t size) {
        size_t o = 0, slen = secret ? strlen(secret) : 0;
        if (slen < 4)
                slen = 0;
        if (!size)
                return out;
        for (size_t i = 0; s[i] && o + 1 < size;) {
                if (slen && !strncmp(s + i, secret, slen)) {
                        for (const char *r = "***"; *r && o + 1 < size; r++)
                                out[o++] = *r;
                        i += slen;
                        continue;
                }
                out[o++] = s[i];
                if (s[i] == '?' || s[i] == '&' || s[i] == ';') {
                        /* name=value: keep the name, hide a secret's value */
                        size_t j = i + 1;
                        while (s[j] && s[j] != '=' && s[j] != '&' && s[j] != '#' && s[j] != ' ' &&
                               s[j] != '"')
                                j++;
                        if (s[j] == '=' && secret_name(s + i + 1, j - i - 1)) {
                                for (size_t k = i + 1; k <= j && o + 1 < size; k++)
                                        out[o++] = s[k];
                                for (const char *r = "***"; *r && o + 1 < size; r++)
                                        out[o++] = *r;
                                i = j + 1;
                                while (s[i] && s[i] != '&' && s[i] != '#' && s[i] != ' ' &&
                                       s[i] != '"' && s[i] != '\'' && s[i] != '\n')
                                        i++;
                                continue;
                        }
                }
                i++;
        }
        out[o] = '\0';
        return out;
}
