/* store.c - the RocksDB state store behind spate's windows (see store.h). */
#include "store.h"
#include "store_cfs.h"

#include <rocksdb/c.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct spate_store_cf {
        spate_store_t *store;
        char *name;
        rocksdb_column_family_handle_t *handle;
};

struct spate_store {
        char *dir;
        rocksdb_t *db;
        rocksdb_options_t *opts;           /* db and column family options */
        rocksdb_block_based_table_options_t *table;
        rocksdb_cache_t *cache;            /* shared by every column family */
        rocksdb_readoptions_t *ropts;
        rocksdb_writeoptions_t *wopts;
        spate_store_cf_t **cfs;
        int ncfs;
        /* Taken for writing where the handle list changes, for reading by
         * spate_store_read_lock() (interactive queries on other threads). */
        pthread_rwlock_t cfs_lock;
};

struct spate_store_batch {
        rocksdb_writebatch_t *wb;
};

struct spate_store_iter {
        rocksdb_iterator_t *it;
        rocksdb_readoptions_t *ropts;
        char *lo, *hi;                     /* referenced by ropts: live as long */
        size_t lolen;
        int started;
};

/* Converts RocksDB's malloc'd error string at the boundary, freeing it. */
static int store_error(char *rerr, const char *what, char *errstr, size_t errstr_size) {
        int corrupt = rerr && !strncmp(rerr, "Corruption", 10);

        snprintf(errstr, errstr_size, "%s: %s%s", what, rerr ? rerr : "unknown error",
                 rerr && strstr(rerr, "No space left") ? " (the state directory's disk is full: free "
                 "space and restart; input not committed is replayed)" : "");
        rocksdb_free(rerr);
        return corrupt ? SPATE_STORE_ECORRUPT : SPATE_STORE_ERR;
}

static int mkdir_p(const char *dir, char *errstr, size_t errstr_size) {
        char path[PATH_MAX];

        if (!dir[0]) {
                snprintf(errstr, errstr_size, "empty store dir");
                return -1;
        }
        if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
                snprintf(errstr, errstr_size, "store dir too long: %s", dir);
                return -1;
        }
        for (char *p = path + 1; ; p++) {
                if (*p != '/' && *p != '\0')
                        continue;
                char c = *p;
                *p = '\0';
                if (mkdir(path, 0755) && errno != EEXIST) {
                        snprintf(errstr, errstr_size, "mkdir %s: %s", path, strerror(errno));
                        return -1;
                }
                *p = c;
                if (c == '\0')
                        return 0;
        }
}

/* Splits memory_mb between the block cache and the memtables. There is no
 * write-buffer-manager in RocksDB 7.8's C API, but db_write_buffer_size makes
 * RocksDB create one internally that caps the memtables of all column
 * families together, which is what the budget needs. */
static void store_configure(spate_store_t *s, size_t memory_mb) {
        size_t total = (memory_mb < 8 ? 8 : memory_mb) << 20;
        size_t wb_total = total / 2;
        size_t wb_one = wb_total / 4;

        if (wb_one > (64u << 20))
                wb_one = 64u << 20;
        /* A memtable's arena grows in blocks of write_buffer_size / 8 by
         * default, and the write buffer manager counts whole blocks: with one
         * column family per task (128 in bench/winstore.sh) their first
         * blocks alone (4 MB each under 256 MB) exceeded the shared budget.
         * Blocks of 1/64 (at least 64 KB) keep 128 first blocks within half
         * of it. */
        size_t block = wb_one / 64 < (64u << 10) ? (64u << 10) : wb_one / 64;
        s->cache = rocksdb_cache_create_lru(total - wb_total);
        s->table = rocksdb_block_based_options_create();
        rocksdb_block_based_options_set_block_cache(s->table, s->cache);
        /* Index and filter blocks in the cache keep them inside the budget. */
        rocksdb_block_based_options_set_cache_index_and_filter_blocks(s->table, 1);
        rocksdb_block_based_options_set_filter_policy(s->table,
                                                      rocksdb_filterpolicy_create_bloom_full(10));
        s->opts = rocksdb_options_create();
        rocksdb_options_set_create_if_missing(s->opts, 1);
        rocksdb_options_set_create_missing_column_families(s->opts, 1);
        rocksdb_options_set_block_based_table_factory(s->opts, s->table);
        rocksdb_options_set_db_write_buffer_size(s->opts, wb_total);
        rocksdb_options_set_write_buffer_size(s->opts, wb_one);
        rocksdb_options_set_arena_block_size(s->opts, block);
        rocksdb_options_set_max_write_buffer_number(s->opts, 2);
        rocksdb_options_set_keep_log_file_num(s->opts, 3);
        /* Debian's RocksDB 7.8 is built with assertions, and its info log
         * asserts (SIGABRT) when it writes again after a failed write: a full
         * disk killed spate in RocksDB's report of the first failure instead
         * of returning it. Only fatal messages go to the LOG file; spate
         * reports the errors RocksDB returns. */
        rocksdb_options_set_info_log_level(s->opts, 4 /* FATAL_LEVEL */);
        s->ropts = rocksdb_readoptions_create();
        s->wopts = rocksdb_writeoptions_create();
        rocksdb_writeoptions_set_sync(s->wopts, 0);
        rocksdb_writeoptions_disable_WAL(s->wopts, 0);
}

static spate_store_cf_t *cf_add(spate_store_t *s, const char *name,
                                rocksdb_column_family_handle_t *h) {
        spate_store_cf_t *cf = calloc(1, sizeof(*cf));
        spate_store_cf_t **cfs = realloc(s->cfs, (size_t)(s->ncfs + 1) * sizeof(*cfs));

        if (cfs)
                s->cfs = cfs;
        if (!cf || !cfs || !(cf->name = strdup(name))) {
                free(cf);
                return NULL;
        }
        cf->store = s;
        cf->handle = h;
        s->cfs[s->ncfs++] = cf;
        return cf;
}

static void cf_free(spate_store_cf_t *cf) {
        rocksdb_column_family_handle_destroy(cf->handle);
        free(cf->name);
        free(cf);
}

/* The names of the existing column families, or just "default" for a new
 * directory. A directory with a CURRENT file that cannot be listed is broken. */
static int list_cfs(spate_store_t *s, char ***namesp, size_t *np,
                    char *errstr, size_t errstr_size) {
        char current[PATH_MAX];
        char *rerr = NULL;

        snprintf(current, sizeof(current), "%s/CURRENT", s->dir);
        if (access(current, F_OK)) {
                *namesp = NULL;
                *np = 0;
                return 0;
        }
        *namesp = rocksdb_list_column_families(s->opts, s->dir, np, &rerr);
        if (rerr) {
                /* The list is malloc'd even on failure (empty). */
                if (*namesp)
                        rocksdb_list_column_families_destroy(*namesp, *np);
                *namesp = NULL;
                return store_error(rerr, "list column families", errstr, errstr_size);
        }
        return 0;
}

static int open_db(spate_store_t *s, char *errstr, size_t errstr_size) {
        char **names = NULL;
        size_t n = 0;
        char *rerr = NULL;
        int rc = list_cfs(s, &names, &n, errstr, errstr_size);

        if (rc)
                return rc;
        static const char *dflt[] = { "default" };
        const char *const *cfnames = names ? (const char *const *)names : dflt;
        size_t ncf = names ? n : 1;
        const rocksdb_options_t **cfopts = calloc(ncf, sizeof(*cfopts));
        rocksdb_column_family_handle_t **handles = calloc(ncf, sizeof(*handles));

        rc = SPATE_STORE_ERR;
        if (!cfopts || !handles) {
                snprintf(errstr, errstr_size, "out of memory");
                goto out;
        }
        for (size_t i = 0; i < ncf; i++)
                cfopts[i] = s->opts;
        s->db = rocksdb_open_column_families(s->opts, s->dir, (int)ncf, cfnames, cfopts,
                                             handles, &rerr);
        if (rerr) {
                rc = store_error(rerr, "open", errstr, errstr_size);
                goto out;
        }
        for (size_t i = 0; i < ncf; i++) {
                if (!cf_add(s, cfnames[i], handles[i])) {
                        for (size_t j = i; j < ncf; j++)
                                rocksdb_column_family_handle_destroy(handles[j]);
                        snprintf(errstr, errstr_size, "out of memory");
                        goto out;
                }
        }
        rc = 0;
out:
        free(cfopts);
        free(handles);
        if (names)
                rocksdb_list_column_families_destroy(names, n);
        return rc;
}

int spate_store_open(const char *dir, size_t memory_mb, spate_store_t **storep,
                     char *errstr, size_t errstr_size) {
        spate_store_t *s;
        int rc;

        *storep = NULL;
        if (mkdir_p(dir, errstr, errstr_size))
                return SPATE_STORE_ERR;
        if (!(s = calloc(1, sizeof(*s))) || pthread_rwlock_init(&s->cfs_lock, NULL) ||
            !(s->dir = strdup(dir))) {
                free(s);
                snprintf(errstr, errstr_size, "out of memory");
                return SPATE_STORE_ERR;
        }
        store_configure(s, memory_mb);
        if ((rc = open_db(s, errstr, errstr_size))) {
                spate_store_close(s);
                return rc;
        }
        *storep = s;
        return 0;
}

static uint64_t cf_property(spate_store_cf_t *cf, const char *name) {
        uint64_t v = 0;
        return rocksdb_property_int_cf(cf->store->db, cf->handle, name, &v) ? 0 : v;
}

void spate_store_stats(spate_store_t *s, spate_store_stats_t *st) {
        *st = (spate_store_stats_t){ .cache_usage = rocksdb_cache_get_usage(s->cache),
                                     .cache_capacity = rocksdb_cache_get_capacity(s->cache) };
        for (int i = 0; i < s->ncfs; i++) {
                uint64_t mem = cf_property(s->cfs[i], "rocksdb.cur-size-all-mem-tables");
                st->live_bytes += cf_property(s->cfs[i], "rocksdb.estimate-live-data-size") + mem;
                st->memtable_bytes += mem;
                st->keys += cf_property(s->cfs[i], "rocksdb.estimate-num-keys");
        }
}

void spate_store_close(spate_store_t *s) {
        if (!s)
                return;
        /* Handles go before the database, as RocksDB requires. */
        pthread_rwlock_wrlock(&s->cfs_lock);
        for (int i = 0; i < s->ncfs; i++)
                cf_free(s->cfs[i]);
        free(s->cfs);
        s->cfs = NULL;
        s->ncfs = 0;
        pthread_rwlock_unlock(&s->cfs_lock);
        pthread_rwlock_destroy(&s->cfs_lock);
        if (s->db)
                rocksdb_close(s->db);
        rocksdb_readoptions_destroy(s->ropts);
        rocksdb_writeoptions_destroy(s->wopts);
        rocksdb_options_destroy(s->opts);
        rocksdb_block_based_options_destroy(s->table);
        rocksdb_cache_destroy(s->cache);
        free(s->dir);
        free(s);
}

/* File names RocksDB creates in a database directory (WAL archive excluded:
 * spate never enables it). Anything else makes destroy_dir refuse. */
static int is_rocksdb_file(const char *n) {
        static const char *exact[] = { "CURRENT", "IDENTITY", "LOCK", "LOG" };
        static const char *prefix[] = { "MANIFEST-", "OPTIONS-", "LOG.old." };
        static const char *suffix[] = { ".sst", ".log", ".blob", ".dbtmp", ".ldb" };
        size_t len = strlen(n);

        for (size_t i = 0; i < sizeof(exact) / sizeof(*exact); i++)
                if (!strcmp(n, exact[i]))
                        return 1;
        for (size_t i = 0; i < sizeof(prefix) / sizeof(*prefix); i++)
                if (!strncmp(n, prefix[i], strlen(prefix[i])))
                        return 1;
        for (size_t i = 0; i < sizeof(suffix) / sizeof(*suffix); i++) {
                size_t sl = strlen(suffix[i]);
                if (len > sl && !strcmp(n + len - sl, suffix[i]))
                        return 1;
        }
        return 0;
}

/* RocksDB holds a POSIX record lock on LOCK while a database is open; another
 * process holding it means the store is alive and must not be wiped. */
static int locked_by_other(const char *dir) {
        char path[PATH_MAX];
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        int fd, locked;

        snprintf(path, sizeof(path), "%s/LOCK", dir);
        if ((fd = open(path, O_RDWR)) < 0)
                return 0;
        locked = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
        close(fd);
        return locked;
}

int spate_store_destroy_dir(const char *dir, char *errstr, size_t errstr_size) {
        char path[PATH_MAX];
        struct dirent *de;
        DIR *d;
        int rc = 0;

        if (!(d = opendir(dir))) {
                if (errno == ENOENT)
                        return 0;
                snprintf(errstr, errstr_size, "opendir %s: %s", dir, strerror(errno));
                return -1;
        }
        if (locked_by_other(dir)) {
                closedir(d);
                snprintf(errstr, errstr_size, "%s is open in another process", dir);
                return -1;
        }
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (!is_rocksdb_file(de->d_name)) {
                        snprintf(errstr, errstr_size, "%s holds '%s', not a RocksDB file: "
                                 "refusing to wipe it", dir, de->d_name);
                        rc = -1;
                        continue;
                }
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                if (unlink(path) && errno != ENOENT && rc == 0) {
                        snprintf(errstr, errstr_size, "unlink %s: %s", path, strerror(errno));
                        rc = -1;
                }
        }
        closedir(d);
        if (rc == 0 && rmdir(dir)) {
                snprintf(errstr, errstr_size, "rmdir %s: %s", dir, strerror(errno));
                rc = -1;
        }
        return rc;
}

static int cf_find(const spate_store_t *s, const char *name) {
        for (int i = 0; i < s->ncfs; i++)
                if (!strcmp(s->cfs[i]->name, name))
                        return i;
        return -1;
}

int spate_store_cf(spate_store_t *s, const char *name, spate_store_cf_t **cfp,
                   char *errstr, size_t errstr_size) {
        rocksdb_column_family_handle_t *h;
        char *rerr = NULL;
        int i = cf_find(s, name);

        if (i >= 0) {
                *cfp = s->cfs[i];
                return 0;
        }
        h = rocksdb_create_column_family(s->db, s->opts, name, &rerr);
        if (rerr)
                return store_error(rerr, "create column family", errstr, errstr_size);
        pthread_rwlock_wrlock(&s->cfs_lock);
        *cfp = cf_add(s, name, h);
        pthread_rwlock_unlock(&s->cfs_lock);
        if (!*cfp) {
                rocksdb_column_family_handle_destroy(h);
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        return 0;
}

/* Creates the missing ones of the n names at once (store_cfs.h). */
static int cfs_create(spate_store_t *s, char *const *names, int n, char *errstr, size_t errstr_size) {
        const char **miss = calloc((size_t)n, sizeof(*miss));
        rocksdb_column_family_handle_t **h = calloc((size_t)n, sizeof(*h));
        char *rerr = NULL;
        int m = 0, made = 0, rc = 0;

        if (!miss || !h) {
                snprintf(errstr, errstr_size, "out of memory");
                rc = -1;
        }
        for (int i = 0; !rc && i < n; i++)
                if (cf_find(s, names[i]) < 0)
                        miss[m++] = names[i];
        if (m)
                made = spate_rocksdb_cfs_create(s->db, s->opts, m, miss, h, &rerr);
        pthread_rwlock_wrlock(&s->cfs_lock);
        for (int i = 0; i < made; i++) {
                if (!rc && !cf_add(s, miss[i], h[i])) {
                        snprintf(errstr, errstr_size, "out of memory");
                        rc = -1;
                }
                if (rc)
                        rocksdb_column_family_handle_destroy(h[i]);
        }
        pthread_rwlock_unlock(&s->cfs_lock);
        free(miss);
        free(h);
        if (rerr)
                return store_error(rerr, "create column families", errstr, errstr_size);
        return rc;
}

/* The name of a node's task's column family: "<prefix>-<part>". */
static const char *part_name(char *buf, size_t size, const char *prefix, int part) {
        snprintf(buf, size, "%s-%d", prefix, part);
        return buf;
}

int spate_store_cf_series(spate_store_t *s, const char *prefix, int n, char *errstr, size_t errstr_size) {
        if (n <= 0)
                return 0;
        char **names = calloc((size_t)n, sizeof(*names));
        int rc = names ? 0 : -1;

        for (int i = 0; i < n && !rc; i++) {
                char name[512];
                rc = (names[i] = strdup(part_name(name, sizeof(name), prefix, i))) ? 0 : -1;
        }
        if (rc)
                snprintf(errstr, errstr_size, "out of memory");
        else
                rc = cfs_create(s, names, n, errstr, errstr_size);
        for (int i = 0; names && i < n; i++)
                free(names[i]);
        free(names);
        return rc;
}

int spate_store_cf_part(spate_store_t *s, const char *prefix, int part, int n, spate_store_cf_t **cfp,
                        char *errstr, size_t errstr_size) {
        char name[512];
        part_name(name, sizeof(name), prefix, part);
        if (!spate_store_cf_find(s, name) && spate_store_cf_series(s, prefix, n, errstr, errstr_size))
                return -1;
        return spate_store_cf(s, name, cfp, errstr, errstr_size);
}

int spate_store_cf_part_reset(spate_store_t *s, const char *prefix, int part, spate_store_cf_t **cfp,
                              char *errstr, size_t errstr_size) {
        char name[512];
        part_name(name, sizeof(name), prefix, part);
        if (spate_store_drop_cf(s, name, errstr, errstr_size))
                return -1;
        return spate_store_cf(s, name, cfp, errstr, errstr_size);
}

int spate_store_drop_cf(spate_store_t *s, const char *name, char *errstr, size_t errstr_size) {
        char *rerr = NULL;
        int i = cf_find(s, name);

        if (i < 0)
                return 0;
        if (!strcmp(name, "default")) {
                snprintf(errstr, errstr_size, "the default column family cannot be dropped");
                return -1;
        }
        pthread_rwlock_wrlock(&s->cfs_lock);
        rocksdb_drop_column_family(s->db, s->cfs[i]->handle, &rerr);
        if (!rerr) {
                cf_free(s->cfs[i]);
                s->cfs[i] = s->cfs[--s->ncfs];
        }
        pthread_rwlock_unlock(&s->cfs_lock);
        if (rerr)
                return store_error(rerr, "drop column family", errstr, errstr_size);
        return 0;
}

void spate_store_read_lock(spate_store_t *s) {
        pthread_rwlock_rdlock(&s->cfs_lock);
}

void spate_store_read_unlock(spate_store_t *s) {
        pthread_rwlock_unlock(&s->cfs_lock);
}

spate_store_cf_t *spate_store_cf_find(spate_store_t *s, const char *name) {
        int i = cf_find(s, name);
        return i < 0 ? NULL : s->cfs[i];
}

int spate_store_cf_names(const spate_store_t *s, const char **names, int max) {
        for (int i = 0; i < s->ncfs && i < max; i++)
                names[i] = s->cfs[i]->name;
        return s->ncfs;
}

int spate_store_get(spate_store_cf_t *cf, const void *key, size_t klen,
                    char **valp, size_t *vlenp, char *errstr, size_t errstr_size) {
        rocksdb_pinnableslice_t *ps;
        const char *v;
        char *rerr = NULL;
        size_t vlen;

        ps = rocksdb_get_pinned_cf(cf->store->db, cf->store->ropts, cf->handle,
                                   key, klen, &rerr);
        if (rerr)
                return store_error(rerr, "get", errstr, errstr_size);
        if (!ps)
                return 1;
        v = rocksdb_pinnableslice_value(ps, &vlen);
        /* A private copy lets the caller use plain free(). */
        if (!(*valp = malloc(vlen ? vlen : 1))) {
                rocksdb_pinnableslice_destroy(ps);
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        memcpy(*valp, v, vlen);
        *vlenp = vlen;
        rocksdb_pinnableslice_destroy(ps);
        return 0;
}

spate_store_batch_t *spate_store_batch_new(void) {
        spate_store_batch_t *b = malloc(sizeof(*b));

        if (b)
                b->wb = rocksdb_writebatch_create();
        return b;
}

void spate_store_batch_put(spate_store_batch_t *b, spate_store_cf_t *cf,
                           const void *key, size_t klen, const void *val, size_t vlen) {
        rocksdb_writebatch_put_cf(b->wb, cf->handle, key, klen, val, vlen);
}

void spate_store_batch_delete(spate_store_batch_t *b, spate_store_cf_t *cf,
                              const void *key, size_t klen) {
        rocksdb_writebatch_delete_cf(b->wb, cf->handle, key, klen);
}

void spate_store_batch_delete_range(spate_store_batch_t *b, spate_store_cf_t *cf,
                                    const void *lo, size_t lolen,
                                    const void *hi, size_t hilen) {
        rocksdb_writebatch_delete_range_cf(b->wb, cf->handle, lo, lolen, hi, hilen);
}

int spate_store_batch_count(spate_store_batch_t *b) {
        return rocksdb_writebatch_count(b->wb);
}

void spate_store_batch_clear(spate_store_batch_t *b) {
        rocksdb_writebatch_clear(b->wb);
}

void spate_store_batch_destroy(spate_store_batch_t *b) {
        if (!b)
                return;
        rocksdb_writebatch_destroy(b->wb);
        free(b);
}

int spate_store_write(spate_store_t *s, spate_store_batch_t *b,
                      char *errstr, size_t errstr_size) {
        char *rerr = NULL;

        rocksdb_write(s->db, s->wopts, b->wb, &rerr);
        if (rerr)
                return store_error(rerr, "write", errstr, errstr_size);
        return 0;
}

struct spate_store_load {
        spate_store_cf_t *cf;
        rocksdb_envoptions_t *env;
        rocksdb_sstfilewriter_t *w;
        char path[PATH_MAX];
};

int spate_store_load_new(spate_store_cf_t *cf, spate_store_load_t **loadp,
                         char *errstr, size_t errstr_size) {
        spate_store_load_t *l = calloc(1, sizeof(*l));
        char *rerr = NULL;

        *loadp = l;
        if (!l) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        l->cf = cf;
        /* An .sst name, so that spate_store_destroy_dir() takes a file left
         * by a crash; RocksDB ignores it (not one of its numbered files), and
         * the next load of the column family overwrites it. */
        snprintf(l->path, sizeof(l->path), "%s/load-%s.sst", cf->store->dir, cf->name);
        l->env = rocksdb_envoptions_create();
        l->w = rocksdb_sstfilewriter_create(l->env, cf->store->opts);
        rocksdb_sstfilewriter_open(l->w, l->path, &rerr);
        if (rerr)
                return store_error(rerr, "open load file", errstr, errstr_size);
        return 0;
}

int spate_store_load_put(spate_store_load_t *l, const void *key, size_t klen,
                         const void *val, size_t vlen, char *errstr, size_t errstr_size) {
        char *rerr = NULL;

        if (val)
                rocksdb_sstfilewriter_put(l->w, key, klen, val, vlen, &rerr);
        else
                rocksdb_sstfilewriter_delete(l->w, key, klen, &rerr);
        if (rerr)
                return store_error(rerr, "load", errstr, errstr_size);
        return 0;
}

int spate_store_load_commit(spate_store_load_t *l, char *errstr, size_t errstr_size) {
        rocksdb_ingestexternalfileoptions_t *o;
        const char *files[1] = { l->path };
        char *rerr = NULL;

        rocksdb_sstfilewriter_finish(l->w, &rerr);
        if (rerr)
                return store_error(rerr, "finish load file", errstr, errstr_size);
        o = rocksdb_ingestexternalfileoptions_create();
        rocksdb_ingestexternalfileoptions_set_move_files(o, 1);
        rocksdb_ingest_external_file_cf(l->cf->store->db, l->cf->handle, files, 1, o, &rerr);
        rocksdb_ingestexternalfileoptions_destroy(o);
        if (rerr)
                return store_error(rerr, "ingest", errstr, errstr_size);
        return 0;
}

void spate_store_load_destroy(spate_store_load_t *l) {
        if (!l)
                return;
        if (l->w)
                rocksdb_sstfilewriter_destroy(l->w);
        if (l->env)
                rocksdb_envoptions_destroy(l->env);
        /* Moved files are hard links: the database keeps its own. */
        unlink(l->path);
        free(l);
}

int spate_store_flush(spate_store_t *s, char *errstr, size_t errstr_size) {
        rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
        char *rerr = NULL;
        int rc = 0;

        rocksdb_flushoptions_set_wait(fo, 1);
        for (int i = 0; i < s->ncfs && !rc; i++) {
                rocksdb_flush_cf(s->db, fo, s->cfs[i]->handle, &rerr);
                if (rerr)
                        rc = store_error(rerr, "flush", errstr, errstr_size);
        }
        rocksdb_flushoptions_destroy(fo);
        return rc;
}

static char *dup_bytes(const void *p, size_t n) {
        char *d = malloc(n ? n : 1);

        if (d && n)
                memcpy(d, p, n);
        return d;
}

int spate_store_iter_new(spate_store_cf_t *cf, const void *lo, size_t lolen,
                         const void *hi, size_t hilen, spate_store_iter_t **itp,
                         char *errstr, size_t errstr_size) {
        spate_store_iter_t *it = calloc(1, sizeof(*it));

        *itp = NULL;
        if (!it || (lo && !(it->lo = dup_bytes(lo, lolen))) ||
            (hi && !(it->hi = dup_bytes(hi, hilen)))) {
                spate_store_iter_destroy(it);
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        it->lolen = lolen;
        it->ropts = rocksdb_readoptions_create();
        if (it->lo)
                rocksdb_readoptions_set_iterate_lower_bound(it->ropts, it->lo, lolen);
        if (it->hi)
                rocksdb_readoptions_set_iterate_upper_bound(it->ropts, it->hi, hilen);
        it->it = rocksdb_create_iterator_cf(cf->store->db, it->ropts, cf->handle);
        *itp = it;
        return 0;
}

int spate_store_iter_next(spate_store_iter_t *it, const char **keyp, size_t *klenp,
                          const char **valp, size_t *vlenp,
                          char *errstr, size_t errstr_size) {
        char *rerr = NULL;

        if (!it->started) {
                it->started = 1;
                if (it->lo)
                        rocksdb_iter_seek(it->it, it->lo, it->lolen);
                else
                        rocksdb_iter_seek_to_first(it->it);
        } else if (rocksdb_iter_valid(it->it)) {
                rocksdb_iter_next(it->it);
        }
        if (rocksdb_iter_valid(it->it)) {
                *keyp = rocksdb_iter_key(it->it, klenp);
                *valp = rocksdb_iter_value(it->it, vlenp);
                return 1;
        }
        rocksdb_iter_get_error(it->it, &rerr);
        if (rerr)
                return store_error(rerr, "iterate", errstr, errstr_size);
        return 0;
}

void spate_store_iter_destroy(spate_store_iter_t *it) {
        if (!it)
                return;
        /* The iterator first: it still points at the bound buffers. */
        if (it->it)
                rocksdb_iter_destroy(it->it);
        if (it->ropts)
                rocksdb_readoptions_destroy(it->ropts);
        free(it->lo);
        free(it->hi);
        free(it);
}

/* Big-endian with the sign bit flipped: unsigned byte order = signed order. */
static void put_start(char *out, int64_t start) {
        uint64_t u = (uint64_t)start ^ (UINT64_C(1) << 63);

        for (int i = 7; i >= 0; i--, u >>= 8)
                out[i] = (char)(u & 0xff);
}

void spate_winkey_encode(const void *key, size_t klen, int64_t start, char *out) {
        uint32_t l = (uint32_t)klen;

        out[0] = (char)(l >> 24);
        out[1] = (char)(l >> 16);
        out[2] = (char)(l >> 8);
        out[3] = (char)l;
        if (klen)
                memcpy(out + 4, key, klen);
        put_start(out + 4 + klen, start);
}

int spate_winkey_decode(const void *buf, size_t len, const char **keyp, size_t *klenp,
                        int64_t *startp) {
        const unsigned char *b = buf;
        uint64_t u = 0;
        size_t klen;

        if (len < 12)
                return -1;
        klen = (size_t)b[0] << 24 | (size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3];
        if (len != klen + 12)
                return -1;
        for (int i = 0; i < 8; i++)
                u = u << 8 | b[4 + klen + i];
        *keyp = (const char *)b + 4;
        *klenp = klen;
        *startp = (int64_t)(u ^ (UINT64_C(1) << 63));
        return 0;
}

void spate_winkey_range(const void *key, size_t klen, char *lo, size_t *lolenp,
                        char *hi, size_t *hilenp) {
        spate_winkey_encode(key, klen, INT64_MIN, lo);
        *lolenp = SPATE_WINKEY_SIZE(klen);
        /* The largest window key of this key plus one byte sorts after every
         * window of it and before any other key's windows (same-length keys
         * differ inside the key bytes, others in the length prefix). */
        spate_winkey_encode(key, klen, INT64_MAX, hi);
        hi[SPATE_WINKEY_SIZE(klen)] = '\0';
        *hilenp = SPATE_WINKEY_SIZE(klen) + 1;
}

void spate_winkey_range_starts(const void *key, size_t klen, int64_t from, int64_t to,
                               char *lo, char *hi, size_t *lenp) {
        spate_winkey_encode(key, klen, from, lo);
        spate_winkey_encode(key, klen, to, hi);
        *lenp = SPATE_WINKEY_SIZE(klen);
}
