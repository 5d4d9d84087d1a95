/* table_int.h - the `table` node's state, shared by table.c (the node and
 * its topic) and table_file.c (files and dated folders). */
#ifndef SPATE_TABLE_INT_H
#define SPATE_TABLE_INT_H

#include "table.h"
#include "../../serde/serde.h"

#include <limits.h>
#include <sys/stat.h>

#define TABLE_REFUSED_MAX 8
#define TABLE_RECOUNT_MS 60000

typedef struct tnode {
        spate_shape_t *shape;     /* the row's columns (open unless `columns:`) */
        spate_expr_t *key;        /* the key of a row (NULL: a topic's message key) */
        spate_table_t *by_msg;    /* topic with key: message key -> the row key it wrote */
        spate_table_t *rows;      /* what joins read (global) */
        spate_table_t *cur;       /* the one a topic message goes to: rows, or its partition's */
        /* global (and every file table): all rows here; false: partitioned, partition p's rows
         * while the stream's p is assigned here */
        int global;
        spate_table_t **parts;
        uint32_t *held;           /* assignments holding each partition */
        int nheld;
        spate_table_t *next;      /* files: the version being loaded */
        spate_arena_t arena;      /* one decoded row at a time */
        spate_buf_t buf;          /* one encoded row */
        int64_t refresh_ms, last_refresh;
        /* topic */
        spate_serde_t *serde;
        const char *topic;
        int partitions;           /* when spate creates the topic */
        int64_t *offsets;         /* next offset per partition */
        int npart;
        int64_t counted_ms;       /* when npart was read */
        spate_node_t *node;       /* for the replay callback */
        spate_ctx_t *ctx;
        int32_t partition;        /* being replayed */
        int64_t dlq;              /* messages and lines dead-lettered */
        /* files */
        char path[PATH_MAX];      /* file: or dir: resolved */
        int is_dir;
        char version[256];        /* dir: the subfolder loaded ("" none) */
        const char *loading;      /* dir: the subfolder being loaded (its name) */
        const char *version_as;   /* dir: the column named for the subfolder, NULL none */
        int version_col;          /* dir, version_as: 1 + the column holding the subfolder's name; 0 none */
        struct refused_version {  /* dir: subfolders refused, with their marker's time */
                char name[256];
                struct timespec mtime;
        } refused[TABLE_REFUSED_MAX];
        int nrefused;
        struct timespec file_mtime;  /* file: the version held */
        off_t file_size;
        int warned_empty;
        /* versioned: each key's rows by the time they are valid from (`time:`) */
        int versioned;
        spate_expr_t *time;
        int64_t history_ms, stream_time;  /* the latest valid-from seen; INT64_MIN none */
        spate_buf_t vbuf;         /* one key's versions being rewritten */
        struct {                  /* joins that re-emit when a row changes */
                spate_table_watch_cb cb;
                void *opaque;
        } watch[TABLE_WATCHERS_MAX];
        int nwatch;
} tnode_t;

/* Tells the watchers that row key changed (NULL: every row may have). */
void spate_table_changed(tnode_t *t, const void *key, size_t klen);

/* The row key of rec (a decoded row; its key the message key, if any) by
 * the table's `key:`, in t->arena. 0, or -1 with why. */
int spate_table_row_key(tnode_t *t, const spate_record_t *rec, const char **key, size_t *klen, char *why,
                        size_t why_size);

/* Splits one CSV line (without its newline) into typed cells, unquoted into
 * the arena (see table_file.c for the typing): the count, or -1 with why
 * (a static string) for a quote left open or text after a closing quote. */
int spate_table_csv_cells(const char *p, size_t len, spate_arena_t *a, spate_value_t **cells, const char **why);

/* Loads the newest complete version of the table's files if it is newer
 * than the one held; a version with a bad line is refused (each bad line
 * dead-lettered with file:line and reason) and the held one stays. 0, or -1
 * only when nothing can be read (errstr in ctx). */
int spate_table_files_refresh(spate_node_t *n, spate_ctx_t *ctx);

#endif
