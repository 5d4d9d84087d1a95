/* store.h - the RocksDB state store: one database per instance directory, one
 * column family per state name, atomic batches, exact range scans, and the
 * window-key encoding that makes "all windows of one key" a single range.
 *
 * Durability: the write-ahead log is on and writes are not fsync'ed, so every
 * spate_store_write() that returned 0 survives kill -9 of the process (the data
 * is in the kernel's page cache) but not a power loss or kernel crash.
 *
 * Threads: get, write, flush and iterators may run on one store from several
 * threads at once (RocksDB is thread-safe); spate_store_cf, drop_cf and close
 * change the store's handle list and must not overlap any other call on it.
 * A batch or an iterator belongs to one thread at a time. */
#ifndef SPATE_STORE_H
#define SPATE_STORE_H

#include <stddef.h>
#include <stdint.h>

#define SPATE_STORE_ERR      (-1)  /* any failure not listed below */
#define SPATE_STORE_ECORRUPT (-2)  /* RocksDB reports corruption: wipe and rebuild */
/* Every int-returning function below returns 0 on success and a negative code
 * (one of the above) with a message in errstr on failure, unless it says
 * otherwise. */

typedef struct spate_store spate_store_t;
typedef struct spate_store_cf spate_store_cf_t;
typedef struct spate_store_batch spate_store_batch_t;
typedef struct spate_store_iter spate_store_iter_t;

/* Opens (creating it and its parents if needed) the database in dir, with every
 * column family it already has. memory_mb bounds block cache plus memtables of
 * the whole database (half each; minimum 8 MB in total): the engine passes
 * spate_topology_store_mb(), a quarter of state_memory_mb.
 * Returns 0 and sets *storep, or SPATE_STORE_ECORRUPT when the files are
 * corrupt (the caller may spate_store_destroy_dir() and restore from the
 * changelog), or SPATE_STORE_ERR for everything else - notably a directory
 * locked by another live process, which must NOT be wiped. */
int spate_store_open(const char *dir, size_t memory_mb, spate_store_t **storep,
                     char *errstr, size_t errstr_size);

/* Closes the database; every cf handle of this store becomes invalid.
 * Unflushed memtables are not lost: the WAL replays them at the next open. */
void spate_store_close(spate_store_t *store);

/* Removes a (closed) store directory: RocksDB's own files, then the directory.
 * Refuses with -1 when something that is not a RocksDB file is left, so a
 * mistyped path can never wipe unrelated data. 0 also when dir is absent. */
int spate_store_destroy_dir(const char *dir, char *errstr, size_t errstr_size);

/* What /metrics shows of a store: estimates RocksDB keeps (no scan). */
typedef struct spate_store_stats {
        uint64_t live_bytes;       /* live data in SST files plus the memtables */
        uint64_t memtable_bytes;   /* the memtables (write buffers) of every column family */
        uint64_t keys;             /* estimated keys, every column family */
        uint64_t cache_usage, cache_capacity;   /* the shared block cache */
} spate_store_stats_t;
void spate_store_stats(spate_store_t *store, spate_store_stats_t *st);

/* Gets or creates the column family `name` ("default" is always there).
 * The handle is owned by the store: valid until spate_store_drop_cf() of the
 * same name or spate_store_close(). */
int spate_store_cf(spate_store_t *store, const char *name, spate_store_cf_t **cfp,
                   char *errstr, size_t errstr_size);

/* Creates the missing ones of the column families "<prefix>-0" to
 * "<prefix>-<n-1>" (a node's tasks, one a partition) at once: RocksDB
 * rewrites its OPTIONS file, every family's options, at each creation, so
 * spate_store_cf() of each costs O(n^2) (docs/stores.md). A family created
 * is empty, as spate_store_cf() would create it. 0, or -1 with errstr. */
int spate_store_cf_series(spate_store_t *store, const char *prefix, int n, char *errstr, size_t errstr_size);

/* As spate_store_cf() of "<prefix>-<part>", the column family of one of a
 * node's n tasks; when it does not exist yet, the series' missing families
 * are created first, at once (spate_store_cf_series()). */
int spate_store_cf_part(spate_store_t *store, const char *prefix, int part, int n, spate_store_cf_t **cfp,
                        char *errstr, size_t errstr_size);

/* The column family "<prefix>-<part>" dropped with all its data and created
 * again, empty (a task whose local state is unreadable, rebuilt from its
 * changelog); *cfp, the old handle, is replaced. 0, or -1 with errstr. */
int spate_store_cf_part_reset(spate_store_t *store, const char *prefix, int part, spate_store_cf_t **cfp,
                              char *errstr, size_t errstr_size);

/* Drops the column family and all its data (a task that moved away). Its
 * handle becomes invalid. Dropping an unknown name is a no-op returning 0. */
int spate_store_drop_cf(spate_store_t *store, const char *name,
                        char *errstr, size_t errstr_size);

/* Readers on other threads than the one that creates and drops column
 * families (interactive queries, engine/iq.h): between read_lock and
 * read_unlock no column family is created, dropped or closed, so a handle
 * from spate_store_cf_find() stays valid. */
void spate_store_read_lock(spate_store_t *store);
void spate_store_read_unlock(spate_store_t *store);
/* The handle of an existing column family, or NULL; under the read lock. */
spate_store_cf_t *spate_store_cf_find(spate_store_t *store, const char *name);

/* Names of the column families currently open (borrowed, valid until the next
 * spate_store_cf/drop_cf/close). Returns the count. */
int spate_store_cf_names(const spate_store_t *store, const char **names, int max);

/* Point read. Returns 0 and *valp = a malloc'd copy (caller free()s, never
 * NULL even for an empty value) with *vlenp, 1 when absent, < 0 on error. */
int spate_store_get(spate_store_cf_t *cf, const void *key, size_t klen,
                    char **valp, size_t *vlenp, char *errstr, size_t errstr_size);

/* Batches: operations collected in memory, applied atomically (all column
 * families together) by spate_store_write(). Keys and values are copied, so
 * the caller's buffers may be reused at once. A batch can be written once or
 * several times; spate_store_batch_clear() empties it for reuse. */
spate_store_batch_t *spate_store_batch_new(void);
void spate_store_batch_put(spate_store_batch_t *b, spate_store_cf_t *cf,
                           const void *key, size_t klen, const void *val, size_t vlen);
void spate_store_batch_delete(spate_store_batch_t *b, spate_store_cf_t *cf,
                              const void *key, size_t klen);
/* Deletes every key in [lo, hi). */
void spate_store_batch_delete_range(spate_store_batch_t *b, spate_store_cf_t *cf,
                                    const void *lo, size_t lolen,
                                    const void *hi, size_t hilen);
int spate_store_batch_count(spate_store_batch_t *b);
void spate_store_batch_clear(spate_store_batch_t *b);
void spate_store_batch_destroy(spate_store_batch_t *b);

/* Applies the batch atomically (WAL on, no fsync). The batch stays the
 * caller's. */
int spate_store_write(spate_store_t *store, spate_store_batch_t *b,
                      char *errstr, size_t errstr_size);

/* Bulk loads: entries written straight into one SST file beside the database
 * and ingested into a column family at once, atomically (all or nothing, like
 * a batch), overriding the keys it already holds. For large sorted writes (a
 * restore): they skip the write-ahead log, the memtable and its flush, and land
 * in the lowest level that does not overlap, so later compactions do not
 * rewrite them. Keys must come in strictly increasing byte order. A load
 * belongs to one thread; several loads of different column families may run
 * at once. */
typedef struct spate_store_load spate_store_load_t;
/* Starts a load into cf (its file named after cf). The load is the caller's:
 * spate_store_load_destroy() it, after commit or not. */
int spate_store_load_new(spate_store_cf_t *cf, spate_store_load_t **loadp,
                         char *errstr, size_t errstr_size);
/* Adds a value, or (val NULL) a deletion; keys above the previous one. */
int spate_store_load_put(spate_store_load_t *l, const void *key, size_t klen,
                         const void *val, size_t vlen, char *errstr, size_t errstr_size);
/* Finishes the file and ingests it. */
int spate_store_load_commit(spate_store_load_t *l, char *errstr, size_t errstr_size);
/* Frees the load and removes its file if it was not ingested. */
void spate_store_load_destroy(spate_store_load_t *l);
/* Writes every column family's memtable to SST files and waits. */
int spate_store_flush(spate_store_t *store, char *errstr, size_t errstr_size);

/* Iterates the keys in [lo, hi) in byte order, on a consistent snapshot taken
 * at creation. lo NULL = from the first key, hi NULL = to the last. The bounds
 * are copied into the iterator (RocksDB keeps only pointers to them). */
int spate_store_iter_new(spate_store_cf_t *cf, const void *lo, size_t lolen,
                         const void *hi, size_t hilen, spate_store_iter_t **itp,
                         char *errstr, size_t errstr_size);
/* Steps to the next entry: returns 1 with key/value pointers (borrowed, valid
 * until the next call or destroy), 0 at the end, < 0 on error. The first call
 * returns the first entry. */
int spate_store_iter_next(spate_store_iter_t *it, const char **keyp, size_t *klenp,
                          const char **valp, size_t *vlenp,
                          char *errstr, size_t errstr_size);
void spate_store_iter_destroy(spate_store_iter_t *it);

/* Window keys: [4-byte BE key length][key][8-byte BE window start, sign bit
 * flipped]. Byte order = (key length, key, start) with negative starts before
 * positive ones, so all windows of one key form one exact range and a key is
 * never a prefix match of a longer one ("alic" never returns "alice").
 * Keys longer than UINT32_MAX bytes are not supported. */
#define SPATE_WINKEY_SIZE(klen) ((size_t)(klen) + 12)
/* Writes SPATE_WINKEY_SIZE(klen) bytes to out. */
void spate_winkey_encode(const void *key, size_t klen, int64_t start, char *out);
/* Parses buf; *keyp points into buf. 0 ok, -1 malformed. */
int spate_winkey_decode(const void *buf, size_t len, const char **keyp, size_t *klenp,
                        int64_t *startp);
/* Bounds [lo, hi) covering every window of key; lo needs SPATE_WINKEY_SIZE(klen)
 * bytes, hi SPATE_WINKEY_SIZE(klen) + 1. Sets the lengths. */
void spate_winkey_range(const void *key, size_t klen, char *lo, size_t *lolenp,
                        char *hi, size_t *hilenp);
/* Bounds [lo, hi) covering the windows of key with from <= start < to;
 * both buffers need SPATE_WINKEY_SIZE(klen) bytes. */
void spate_winkey_range_starts(const void *key, size_t klen, int64_t from, int64_t to,
                               char *lo, char *hi, size_t *lenp);

#endif
