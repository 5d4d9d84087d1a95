/* table.h - the storage of a lookup table (the `table` source, read by `join`):
 * key bytes -> value bytes, all in memory, for lookups in well under a
 * microsecond. Kept behind this small API so that the engine's key-value
 * store can back it later; values are opaque here (the table node stores rows
 * encoded with spate_table_row_encode()).
 *
 * Versions: a file table builds its next version in a second table and swaps
 * it in whole (spate_table_swap), so a half-loaded version is never read.
 *
 * Threads: one owner changes the table and reads it freely. A pointer
 * returned by get stays valid until the next put, delete, swap or destroy on
 * that table. Other threads (interactive queries) read only between
 * spate_table_read_lock() and spate_table_read_unlock(), which the owner's
 * changes wait for. */
#ifndef SPATE_TABLE_H
#define SPATE_TABLE_H

#include "../engine/value.h"
#include "../util/buf.h"

#include <stddef.h>

typedef struct spate_table spate_table_t;

/* An empty table; NULL when out of memory. Free with spate_table_destroy. */
spate_table_t *spate_table_new(void);
void spate_table_destroy(spate_table_t *t);
/* Inserts or replaces: key and value are copied. 0, or -1 out of memory. */
int spate_table_put(spate_table_t *t, const void *key, size_t klen, const void *val, size_t vlen);
/* 1 if the key was there (and is gone), 0 if not. */
int spate_table_delete(spate_table_t *t, const void *key, size_t klen);
/* The value of key (owned by the table), or NULL. */
const void *spate_table_get(const spate_table_t *t, const void *key, size_t klen, size_t *vlen);
size_t spate_table_count(const spate_table_t *t);
void spate_table_read_lock(spate_table_t *t);
void spate_table_read_unlock(spate_table_t *t);
/* Calls fn for every entry in no particular order until it returns non-zero
 * (returned). Key and value are borrowed for the call. */
typedef int (*spate_table_each_fn)(void *opaque, const void *key, size_t klen, const void *val, size_t vlen);
int spate_table_each(const spate_table_t *t, spate_table_each_fn fn, void *opaque);
/* Exchanges the contents of a and b (b then holds the old version). */
void spate_table_swap(spate_table_t *a, spate_table_t *b);
/* Empties t. */
void spate_table_clear(spate_table_t *t);

/* --- rows: the values of a table's columns, in column order --- */
/* Appends the encoding of the n scalar values v to b: a type byte each, then
 * the number (8 bytes), bool (1) or string (4-byte length, bytes). Arrays and
 * objects are stored as null. */
void spate_table_row_encode(const spate_value_t *v, int n, spate_buf_t *b);
/* Decodes the first n columns of row into out (strings point into row).
 * Columns the row lacks are null. 0, or -1 for bytes that are not a row. */
int spate_table_row_decode(const void *row, size_t len, spate_value_t *out, int n);

/* --- versions (a versioned table, KIP-889): one key's rows, each valid
 * from a time until the next one's; encoded oldest first as [i64 valid
 * from][u32 length][row]... --- */
/* Appends to b the versions of blob (len bytes, or NULL) with row (rlen
 * bytes) valid from t added (replacing one valid from t), without those
 * that ended at or before cutoff (the one valid at cutoff stays). */
void spate_table_versions_add(const void *blob, size_t len, int64_t t, const void *row, size_t rlen,
                              int64_t cutoff, spate_buf_t *b);
/* The row of blob valid at time at (borrowed from blob), or NULL before its
 * first version or for bytes that are not versions. */
const void *spate_table_version_at(const void *blob, size_t len, int64_t at, size_t *rlen);

#endif
