/* table.h - what a `join` sees of a `table` node: its rows (state/table.h)
 * and their columns, looked up by name at load. */
#ifndef SPATE_TABLE_NODE_H
#define SPATE_TABLE_NODE_H

#include "../../engine/node.h"
#include "../../state/table.h"

/* The node of type `table` named `name` in n's topology; NULL with a
 * positioned message (at YAML node y of n) naming the tables there are. */
spate_node_t *spate_table_node_find(spate_node_t *n, const spate_yaml_t *y, const char *name,
                                    char *errstr, size_t errstr_size);
/* The row index of column `name` of table node tn. A table without
 * `columns:` adds the column (its rows then carry that field of the value);
 * one with columns: answers -1 for any other name. */
int spate_table_node_column(spate_node_t *tn, const char *name);
/* The declared columns (NULL: none declared), as a YAML sequence. */
const spate_yaml_t *spate_table_node_columns(const spate_node_t *tn);
/* The live rows: valid while no table refresh runs (between two records). */
const spate_table_t *spate_table_node_rows(const spate_node_t *tn);

/* 1 when tn is versioned (its rows are spate_table_version_at() blobs), with
 * *floor the oldest time it answers for (older versions are gone:
 * history_retention behind the latest valid-from seen); 0 otherwise. */
int spate_table_node_versioned(const spate_node_t *tn, int64_t *floor);

/* A partitioned table (global: false) holds partition p of its topic while
 * partition p of a stream is assigned here (the join's records must come
 * from a topic partitioned like it). The rows of partition p (any p for a
 * global table: all of them), or NULL when p is not held here. */
int spate_table_node_partitioned(const spate_node_t *tn);
const spate_table_t *spate_table_node_partition(const spate_node_t *tn, int32_t partition);

/* Which rows change: cb(opaque, key, klen) for every row key the table puts
 * or deletes from now on, during its refreshes (key NULL: every row may
 * have changed, a file version swapped in). The key is borrowed for the
 * call. 0, or -1 past TABLE_WATCHERS_MAX watchers of one table. */
#define TABLE_WATCHERS_MAX 16
typedef void (*spate_table_watch_cb)(void *opaque, const void *key, size_t klen);
int spate_table_node_watch(spate_node_t *tn, spate_table_watch_cb cb, void *opaque);

#endif
