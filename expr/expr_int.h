/* expr_int.h - private to the expression compiler: tokens, the compiled node
 * tree, the function table and the helpers the expr_*.c files share. Nothing
 * outside core/expr_*.c includes this. */
#ifndef SPATE_EXPR_INT_H
#define SPATE_EXPR_INT_H

#include "expr.h"

#include <stdint.h>

/* ---- tokens (expr_lex.c) ---- */

typedef enum {
        T_EOF = 0, T_NUM, T_STR, T_IDENT, T_AND, T_OR, T_NOT, T_TRUE, T_FALSE, T_NULL,
        T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK, T_COMMA, T_DOT,
        T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PERCENT,
        T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE
} tok_kind_t;

typedef struct tok {
        tok_kind_t kind;
        int pos, end;      /* byte offsets in the source */
        int duration;      /* T_NUM written with a unit: value is in ms */
        int quoted;        /* T_IDENT written as `name` */
        double num;
        char *str;         /* T_STR: unescaped, T_IDENT: the name (malloc'd, NUL-terminated) */
        size_t len;
} tok_t;

/* Compile-time context: the source, the environment and the error sink. */
typedef struct cctx {
        const char *src;
        const spate_expr_env_t *env;
        char *errstr;
        size_t errstr_size;
        tok_t *toks;
        int ntoks, cap, at;
} cctx_t;

/* Formats "FILE:LINE:COL: message" for source offset pos; returns -1. */
int spate_expr__cerr(cctx_t *c, int pos, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
int spate_expr__lex(cctx_t *c);
void spate_expr__toks_free(cctx_t *c);
const char *spate_expr__tok_name(tok_kind_t k);

/* ---- compiled nodes ---- */

typedef struct ectx {
        const spate_expr_t *e;
        const spate_record_t *rec;
        spate_arena_t *a;
        char *errstr;
        size_t errstr_size;
} ectx_t;

typedef struct expr_node expr_node_t;
typedef int (*expr_eval_fn)(ectx_t *c, const expr_node_t *n, spate_value_t *out);

typedef enum { N_LIT, N_PATH, N_NEG, N_NOT, N_AND, N_OR, N_BIN, N_CALL } node_kind_t;

typedef enum { S_FIELD, S_INDEX, S_STAR } step_kind_t;

typedef struct path_step {
        uint8_t kind;   /* step_kind_t */
        int32_t idx;    /* S_FIELD: shape field index; S_INDEX: element (negative: from the end) */
        int text_end;   /* length of the path text up to and including this step */
} path_step_t;

typedef struct func_def func_def_t;

struct expr_node {
        expr_eval_fn eval;
        uint8_t kind;        /* node_kind_t */
        uint8_t op;          /* N_BIN: the operator's tok_kind_t */
        uint8_t type;        /* static spate_vtype_t, SPATE_V_MISSING if unknown */
        int pos, end;        /* source span, for messages */
        expr_node_t **kids;
        int nkids;
        spate_value_t lit;   /* N_LIT */
        char *litbuf;        /* N_LIT string storage */
        path_step_t *steps;  /* N_PATH */
        int nsteps;
        char *text;          /* N_PATH: the path as written, for messages */
        int star;            /* N_PATH: index of the first [*] step, -1 if none */
        spate_shape_t *shape;      /* N_PATH: shape of the value (NULL if unknowable) */
        spate_shape_t *passthrough;
        const func_def_t *fn;      /* N_CALL */
};

struct spate_expr {
        char *text;
        expr_node_t *root;
};

/* ---- functions (expr_funcs.c) ---- */

#define EXPR_MAX_ARGS 16

enum {
        F_LAZY = 1,       /* evaluates its own arguments (if, coalesce, exists) */
        F_MISSING_OK = 2, /* missing/null arguments are its business (aggregates) */
        F_ELEMWISE = 4,   /* applied to each element when the first argument is an array */
        F_KEEP_NULL = 8   /* null arguments do not make the result null */
};

typedef int (*func_fn)(ectx_t *c, const expr_node_t *call, const spate_value_t *args,
                       int nargs, spate_value_t *out);

struct func_def {
        const char *name;
        int min_args, max_args;
        /* Static argument kinds, one letter each, the last repeating:
         * n number, s string, a array, p field path, x anything. */
        const char *args;
        int flags;
        int rtype;          /* static result type; SPATE_V_MISSING: depends */
        func_fn fn;
        const char *usage;  /* "round(x[, digits])" */
        const char *what;   /* one line, for docs */
};

extern const func_def_t spate_expr__funcs[];
extern const int spate_expr__nfuncs;

/* ---- evaluation helpers (expr_eval.c) ---- */

int spate_expr__eval_node(ectx_t *c, const expr_node_t *n, spate_value_t *out);
expr_eval_fn spate_expr__eval_for(const expr_node_t *n);
int spate_expr__eval_call(ectx_t *c, const expr_node_t *n, spate_value_t *out);
/* "field 'x'" for a path, else "name()" of the call, for run-time messages. */
int spate_expr__type_err(ectx_t *c, const expr_node_t *arg, const char *where,
                         const char *want, const spate_value_t *got);
int spate_expr__missing_err(ectx_t *c, const expr_node_t *n);
int spate_expr__err(ectx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int spate_expr__want_num(ectx_t *c, const expr_node_t *call, int i, const spate_value_t *v);
int spate_expr__want_str(ectx_t *c, const expr_node_t *call, int i, const spate_value_t *v);

/* ---- UTC calendar arithmetic (expr_time.c) ---- */

/* UTC calendar fields of ms since the epoch. */
typedef struct civil {
        int64_t year;
        int month, day, hour, minute, second, ms;
} civil_t;

void spate_expr__civil(int64_t ms, civil_t *out);
/* Parses ISO-8601 (date, optional time with fraction and Z/offset) or
 * "YYYY-MM-DD HH:MM:SS" (UTC) into ms; -1 if it is not a time. */
int spate_expr__parse_time(const char *s, size_t n, double *ms);

#endif
