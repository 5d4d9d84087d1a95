/* store_cfs.h - RocksDB's DB::CreateColumnFamilies for store.c: the C API of
 * the RocksDB installed here (7.8) creates one column family a call, and each
 * creation rewrites and re-reads the OPTIONS file with every family's
 * options, so n creations cost O(n^2) (docs/stores.md, "The pipelined
 * restore"); this writes it once. Drop it for rocksdb_create_column_families()
 * once the installed c.h has it. */
#ifndef SPATE_STORE_CFS_H
#define SPATE_STORE_CFS_H

#include <rocksdb/c.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Creates the n column families names[] (none may exist) with opts. Returns
 * how many were created, their handles (caller-owned, freed by
 * rocksdb_column_family_handle_destroy()) in handles[0..]; on a failure
 * *errptr is set (malloc'd, as the C API's) and the first ones may have been
 * created. */
int spate_rocksdb_cfs_create(rocksdb_t *db, const rocksdb_options_t *opts, int n, const char *const *names,
                             rocksdb_column_family_handle_t **handles, char **errptr);

#ifdef __cplusplus
}
#endif
#endif
