/* expr.h - the topology expression language: compiled once at load against a
 * node's input shape, evaluated per record without allocation outside the arena. */
#ifndef SPATE_EXPR_H
#define SPATE_EXPR_H

#include "arena.h"
#include "record.h"
#include "shape.h"

#include <stddef.h>

typedef struct spate_expr spate_expr_t;

typedef struct spate_expr_env {
        spate_shape_pool_t *pool;
        spate_shape_t *input;      /* shape of the node's input records */
        const char *file;          /* topology file, for messages */
        int line, col;             /* 1-based position of the expression text in that file */
} spate_expr_env_t;

/* Returns NULL on error with errstr "FILE:LINE:COL: message (hint: ...)". */
spate_expr_t *spate_expr_compile(const char *src, const spate_expr_env_t *env,
                                 char *errstr, size_t errstr_size);
/* 0 ok; -1 with a message naming the field or function. */
int spate_expr_eval(const spate_expr_t *e, const spate_record_t *rec, spate_arena_t *a,
                    spate_value_t *out, char *errstr, size_t errstr_size);
int spate_expr_type(const spate_expr_t *e);
spate_shape_t *spate_expr_passthrough(const spate_expr_t *e);
const char *spate_expr_text(const spate_expr_t *e);
void spate_expr_destroy(spate_expr_t *e);

#endif
