/* expr_lex.c - splits expression source into tokens, and formats compile
 * errors with the file position of a source offset. */
#include "expr_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int spate_expr__cerr(cctx_t *c, int pos, const char *fmt, ...) {
        int line = c->env->line > 0 ? c->env->line : 1;
        int col = (c->env->col > 0 ? c->env->col : 1) + pos;
        for (int i = 0; i < pos && c->src[i]; i++) {
                if (c->src[i] == '\n') {
                        line++;
                        col = pos - i; /* 1-based column after the newline */
                }
        }
        int off = snprintf(c->errstr, c->errstr_size, "%s:%d:%d: ",
                           c->env->file ? c->env->file : "<expr>", line, col);
        if (off >= 0 && (size_t)off < c->errstr_size) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(c->errstr + off, c->errstr_size - (size_t)off, fmt, ap);
                va_end(ap);
        }
        return -1;
}

const char *spate_expr__tok_name(tok_kind_t k) {
        static const char *names[] = {
                [T_EOF] = "end of expression", [T_NUM] = "number", [T_STR] = "string",
                [T_IDENT] = "name", [T_AND] = "'and'", [T_OR] = "'or'", [T_NOT] = "'not'",
                [T_TRUE] = "'true'", [T_FALSE] = "'false'", [T_NULL] = "'null'",
                [T_LPAREN] = "'('", [T_RPAREN] = "')'", [T_LBRACK] = "'['",
                [T_RBRACK] = "']'", [T_COMMA] = "','", [T_DOT] = "'.'", [T_PLUS] = "'+'",
                [T_MINUS] = "'-'", [T_STAR] = "'*'", [T_SLASH] = "'/'", [T_PERCENT] = "'%'",
                [T_EQ] = "'=='", [T_NE] = "'!='", [T_LT] = "'<'", [T_LE] = "'<='",
                [T_GT] = "'>'", [T_GE] = "'>='"
        };
        return names[k];
}

static int is_alpha(char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static int is_digit(char ch) {
        return ch >= '0' && ch <= '9';
}

static tok_t *push(cctx_t *c, tok_kind_t kind, int pos, int end) {
        if (c->ntoks == c->cap) {
                int cap = c->cap ? c->cap * 2 : 16;
                tok_t *t = realloc(c->toks, sizeof(*t) * (size_t)cap);
                if (!t)
                        return NULL;
                c->toks = t;
                c->cap = cap;
        }
        tok_t *t = &c->toks[c->ntoks++];
        memset(t, 0, sizeof(*t));
        t->kind = kind;
        t->pos = pos;
        t->end = end;
        return t;
}

static int set_text(tok_t *t, const char *s, size_t n) {
        if (!(t->str = malloc(n + 1)))
                return -1;
        memcpy(t->str, s, n);
        t->str[n] = '\0';
        t->len = n;
        return 0;
}

static const struct { const char *unit; double ms; } units[] = {
        { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 }
};

/* A number, optionally followed at once by a duration unit. */
static int lex_number(cctx_t *c, int pos) {
        const char *s = c->src;
        int i = pos;
        while (is_digit(s[i]))
                i++;
        if (s[i] == '.' && is_digit(s[i + 1]))
                for (i++; is_digit(s[i]); i++)
                        ;
        if ((s[i] == 'e' || s[i] == 'E') &&
            (is_digit(s[i + 1]) || ((s[i + 1] == '+' || s[i + 1] == '-') && is_digit(s[i + 2])))) {
                for (i += 2; is_digit(s[i]); i++)
                        ;
        }
        char tmp[64];
        if (i - pos >= (int)sizeof(tmp))
                return spate_expr__cerr(c, pos, "number too long (hint: at most 63 characters)");
        memcpy(tmp, s + pos, (size_t)(i - pos));
        tmp[i - pos] = '\0';
        double d = strtod(tmp, NULL);
        int u = i, dur = 0;
        while (is_alpha(s[u]) || is_digit(s[u]))
                u++;
        if (u > i) {
                size_t n = (size_t)(u - i);
                size_t k;
                for (k = 0; k < sizeof(units) / sizeof(units[0]); k++)
                        if (strlen(units[k].unit) == n && !memcmp(units[k].unit, s + i, n))
                                break;
                if (k == sizeof(units) / sizeof(units[0]))
                        return spate_expr__cerr(c, pos, "bad duration unit '%.*s' in '%.*s' "
                                                "(hint: durations are a number and one of ms, s, m, h, d, e.g. 90s or 1h)",
                                                (int)n, s + i, u - pos, s + pos);
                d *= units[k].ms;
                dur = 1;
        }
        tok_t *t = push(c, T_NUM, pos, u);
        if (!t)
                return spate_expr__cerr(c, pos, "out of memory (hint: none)");
        t->num = d;
        t->duration = dur;
        return u;
}

static int lex_string(cctx_t *c, int pos) {
        const char *s = c->src;
        char q = s[pos];
        size_t cap = strlen(s + pos) + 1, n = 0;
        char *buf = malloc(cap);
        if (!buf)
                return spate_expr__cerr(c, pos, "out of memory (hint: none)");
        int i = pos + 1;
        for (;; i++) {
                if (!s[i]) {
                        free(buf);
                        return spate_expr__cerr(c, pos, "unterminated string (hint: close it with %c)", q);
                }
                if (s[i] == q)
                        break;
                if (s[i] != '\\') {
                        buf[n++] = s[i];
                        continue;
                }
                switch (s[++i]) {
                case '\'': case '"': case '\\': buf[n++] = s[i]; break;
                case 'n': buf[n++] = '\n'; break;
                case 't': buf[n++] = '\t'; break;
                default:
                        free(buf);
                        return spate_expr__cerr(c, i - 1, "unknown escape '\\%c' in string "
                                                "(hint: use \\' \\\" \\\\ \\n or \\t)", s[i] ? s[i] : ' ');
                }
        }
        tok_t *t = push(c, T_STR, pos, i + 1);
        if (!t) {
                free(buf);
                return spate_expr__cerr(c, pos, "out of memory (hint: none)");
        }
        buf[n] = '\0';
        t->str = buf;
        t->len = n;
        return i + 1;
}

static const struct { const char *word; tok_kind_t kind; } keywords[] = {
        { "and", T_AND }, { "or", T_OR }, { "not", T_NOT },
        { "true", T_TRUE }, { "false", T_FALSE }, { "null", T_NULL }
};

/* A name; after a '.', names may start with a digit (OWM's `rain.1h`). */
static int lex_name(cctx_t *c, int pos) {
        const char *s = c->src;
        int i = pos;
        while (is_alpha(s[i]) || is_digit(s[i]))
                i++;
        tok_kind_t kind = T_IDENT;
        int after_dot = c->ntoks && c->toks[c->ntoks - 1].kind == T_DOT;
        for (size_t k = 0; !after_dot && k < sizeof(keywords) / sizeof(keywords[0]); k++)
                if ((int)strlen(keywords[k].word) == i - pos && !memcmp(keywords[k].word, s + pos, (size_t)(i - pos)))
                        kind = keywords[k].kind;
        tok_t *t = push(c, kind, pos, i);
        if (!t || (kind == T_IDENT && set_text(t, s + pos, (size_t)(i - pos))))
                return spate_expr__cerr(c, pos, "out of memory (hint: none)");
        return i;
}

static int lex_quoted_name(cctx_t *c, int pos) {
        const char *end = strchr(c->src + pos + 1, '`');
        if (!end)
                return spate_expr__cerr(c, pos, "unterminated `name` (hint: close it with `)");
        if (end == c->src + pos + 1)
                return spate_expr__cerr(c, pos, "empty `` name (hint: put the field name between the backquotes)");
        int i = (int)(end - c->src);
        tok_t *t = push(c, T_IDENT, pos, i + 1);
        if (!t || set_text(t, c->src + pos + 1, (size_t)(i - pos - 1)))
                return spate_expr__cerr(c, pos, "out of memory (hint: none)");
        t->quoted = 1;
        return i + 1;
}

/* Operators of one or two characters; a few common mistakes get a hint. */
static int lex_op(cctx_t *c, int pos) {
        const char *s = c->src;
        char a = s[pos], b = s[pos + 1];
        tok_kind_t k;
        int len = 1;
        switch (a) {
        case '(': k = T_LPAREN; break;
        case ')': k = T_RPAREN; break;
        case '[': k = T_LBRACK; break;
        case ']': k = T_RBRACK; break;
        case ',': k = T_COMMA; break;
        case '.': k = T_DOT; break;
        case '+': k = T_PLUS; break;
        case '-': k = T_MINUS; break;
        case '*': k = T_STAR; break;
        case '/': k = T_SLASH; break;
        case '%': k = T_PERCENT; break;
        case '<': k = b == '=' ? T_LE : T_LT; len = b == '=' ? 2 : 1; break;
        case '>': k = b == '=' ? T_GE : T_GT; len = b == '=' ? 2 : 1; break;
        case '=':
                if (b != '=')
                        return spate_expr__cerr(c, pos, "unexpected '=' (hint: use '==' to compare)");
                k = T_EQ, len = 2;
                break;
        case '!':
                if (b != '=')
                        return spate_expr__cerr(c, pos, "unexpected '!' (hint: use 'not' to negate, '!=' to compare)");
                k = T_NE, len = 2;
                break;
        case '&':
                return spate_expr__cerr(c, pos, "unexpected '&' (hint: use 'and')");
        case '|':
                return spate_expr__cerr(c, pos, "unexpected '|' (hint: use 'or')");
        default:
                return spate_expr__cerr(c, pos, "unexpected character '%c' (hint: names with "
                                        "other characters go in backquotes, e.g. `my-field`)", a);
        }
        if (!push(c, k, pos, pos + len))
                return spate_expr__cerr(c, pos, "out of memory (hint: none)");
        return pos + len;
}

int spate_expr__lex(cctx_t *c) {
        const char *s = c->src;
        int i = 0;
        for (;;) {
                while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
                        i++;
                if (!s[i])
                        break;
                char ch = s[i];
                int after_dot = c->ntoks && c->toks[c->ntoks - 1].kind == T_DOT;
                if (is_digit(ch) && !after_dot)
                        i = lex_number(c, i);
                else if (is_alpha(ch) || is_digit(ch))
                        i = lex_name(c, i);
                else if (ch == '\'' || ch == '"')
                        i = lex_string(c, i);
                else if (ch == '`')
                        i = lex_quoted_name(c, i);
                else
                        i = lex_op(c, i);
                if (i < 0)
                        return -1;
        }
        if (!push(c, T_EOF, i, i))
                return spate_expr__cerr(c, i, "out of memory (hint: none)");
        return 0;
}

void spate_expr__toks_free(cctx_t *c) {
        for (int i = 0; i < c->ntoks; i++)
                free(c->toks[i].str);
        free(c->toks);
        c->toks = NULL;
        c->ntoks = c->cap = 0;
}
