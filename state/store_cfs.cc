// store_cfs.cc - RocksDB's DB::CreateColumnFamilies for the C store (see
// store_cfs.h): the only C++ of spate, as the C API of RocksDB 7.8 lacks it.
#include "store_cfs.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <cstring>
#include <string>
#include <vector>

// The C API's wrappers as RocksDB's db/c.cc lays them out (unchanged since
// the C API began): a DB, Options and a handle each behind one member.
struct rocksdb_t {
        rocksdb::DB *rep;
};
struct rocksdb_options_t {
        rocksdb::Options rep;
};
struct rocksdb_column_family_handle_t {
        rocksdb::ColumnFamilyHandle *rep;
};

int spate_rocksdb_cfs_create(rocksdb_t *db, const rocksdb_options_t *opts, int n, const char *const *names,
                             rocksdb_column_family_handle_t **handles, char **errptr) {
        try {
                std::vector<std::string> v(names, names + n);
                std::vector<rocksdb::ColumnFamilyHandle *> h;
                rocksdb::Status s = db->rep->CreateColumnFamilies(rocksdb::ColumnFamilyOptions(opts->rep), v, &h);
                for (size_t i = 0; i < h.size(); i++)
                        handles[i] = new rocksdb_column_family_handle_t{ h[i] };
                if (!s.ok())
                        *errptr = strdup(s.ToString().c_str());
                return (int)h.size();
        } catch (const std::exception &e) {  // out of memory: no exception may cross into C
                *errptr = strdup(e.what());
                return 0;
        }
}
