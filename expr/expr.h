/* expr.h - the topology expression language: `where:` filters, map outputs,
 * keys and window values, compiled once at load and evaluated per record.
 *
 * Compiling resolves every field path against the node's input shape (an
 * open shape grows by the paths it is asked for, which tells the decoder what
 * to extract; a closed shape rejects unknown fields), looks functions up in
 * one table and checks every type it can know before a record arrives. The
 * result is a tree of nodes holding field indexes and function pointers, so
 * evaluation does no lookups and allocates only from the per-record arena.
 *
 * Run-time values: a bare path to an absent field yields SPATE_V_MISSING
 * (a map leaves the output field out); an operator or function given a
 * missing operand fails, naming the field, so the record can go to the DLQ.
 * JSON null stays SPATE_V_NULL and propagates through operators. The
 * language reference is docs/expressions.md.
 *
 * A compiled expression is read-only during evaluation: several threads may
 * evaluate one expression at once, each with its own arena. */
#ifndef SPATE_EXPR_H
#define SPATE_EXPR_H

#include "../util/arena.h"
#include "../engine/record.h"
#include "../engine/shape.h"

#include <stddef.h>

typedef struct spate_expr spate_expr_t;

typedef struct spate_expr_env {
        spate_shape_pool_t *pool;
        spate_shape_t *input;      /* shape of the node's input records */
        const char *file;          /* topology file, for messages (NULL: "<expr>") */
        int line, col;             /* 1-based position where the expression text starts in that file */
} spate_expr_env_t;

/* Compiles `src` (copied; the caller keeps its string) against env->input,
 * adding the paths it references when that shape is open. Returns NULL on
 * error with errstr "FILE:LINE:COL: message (hint: ...)", the column pointing
 * at the offending token; lines count from env->line and columns on the
 * first line are offset by env->col - 1. The caller owns the result and frees
 * it with spate_expr_destroy(); shapes stay owned by env->pool. */
spate_expr_t *spate_expr_compile(const char *src, const spate_expr_env_t *env,
                                 char *errstr, size_t errstr_size);

/* Evaluates `e` on `rec`, whose value must be decoded with (a superset of)
 * the input shape it was compiled against. *out may point into the record or
 * into `a`, so it lives until the record's arena is reset. Returns 0, or -1
 * with a message naming the field or function (e.g. "field 'temp': expected
 * a number, got string"). Messages are only formatted on error. */
int spate_expr_eval(const spate_expr_t *e, const spate_record_t *rec, spate_arena_t *a,
                    spate_value_t *out, char *errstr, size_t errstr_size);

/* Static result type (spate_vtype_t), SPATE_V_MISSING if unknown until run time. */
int spate_expr_type(const spate_expr_t *e);

/* The field's shape if the expression is a bare field path (`a.b`,
 * `minutely`, `minutely[*]`, `a[0]`), else NULL: a map passes such a field
 * through with its shape instead of building a new one. */
spate_shape_t *spate_expr_passthrough(const spate_expr_t *e);

/* The index of the field among the record's items when e is a bare field
 * of the record (`temp`), else -1. A node on the record path may read that
 * item itself (spate_record_item()) when it holds the type it wants, and
 * evaluate e otherwise, for its results and errors: what e would give. */
int spate_expr_field_index(const spate_expr_t *e);

/* The item at index idx (spate_expr_field_index(), or -1) of rec's object
 * value, NULL if rec is no object or has no such item: what a bare field
 * reads. spate_record_item(): the same when the item is of the given
 * spate_vtype_t, else NULL. */
static inline const spate_value_t *spate_record_at(const spate_record_t *rec, int idx) {
        const spate_value_t *r = &rec->value;
        return idx >= 0 && r->type == SPATE_V_OBJ && (uint32_t)idx < r->n ? &r->u.items[idx] : NULL;
}
static inline const spate_value_t *spate_record_item(const spate_record_t *rec, int idx, int type) {
        const spate_value_t *v = spate_record_at(rec, idx);
        return v && v->type == type ? v : NULL;
}

/* The source text as compiled (owned by e). */
const char *spate_expr_text(const spate_expr_t *e);

/* Frees e and everything it owns; NULL is fine. */
void spate_expr_destroy(spate_expr_t *e);

#endif
