/* test_store.c - unit tests of the RocksDB state store and the window-key encoding. */
#include "check.h"
#include "../../state/store.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char errstr[512];

static spate_store_t *open_ok(const char *dir) {
        spate_store_t *s = NULL;
        int rc = spate_store_open(dir, 16, &s, errstr, sizeof(errstr));

        CHECK(rc == 0 && s, "open %s (%s)", dir, rc ? errstr : "ok");
        return s;
}

static spate_store_cf_t *cf_ok(spate_store_t *s, const char *name) {
        spate_store_cf_t *cf = NULL;
        int rc = spate_store_cf(s, name, &cf, errstr, sizeof(errstr));

        CHECK(rc == 0 && cf, "column family %s (%s)", name, rc ? errstr : "ok");
        return cf;
}

/* 1 when cf holds key with exactly value want (NULL = must be absent). */
static int has(spate_store_cf_t *cf, const char *key, const char *want) {
        char *v = NULL;
        size_t vlen = 0;
        int rc = spate_store_get(cf, key, strlen(key), &v, &vlen, errstr, sizeof(errstr));
        int ok = want ? rc == 0 && vlen == strlen(want) && !memcmp(v, want, vlen) : rc == 1;

        free(v);
        return ok;
}

static void put1(spate_store_t *s, spate_store_cf_t *cf, const char *k, const char *v) {
        spate_store_batch_t *b = spate_store_batch_new();

        spate_store_batch_put(b, cf, k, strlen(k), v, strlen(v));
        CHECK(spate_store_write(s, b, errstr, sizeof(errstr)) == 0, "write %s", k);
        spate_store_batch_destroy(b);
}

static void test_put_get_batch(const char *dir) {
        spate_store_t *s = open_ok(dir);
        spate_store_cf_t *a = cf_ok(s, "win-a"), *b = cf_ok(s, "win-b"), *again;
        spate_store_batch_t *batch = spate_store_batch_new();
        char *v = NULL;
        size_t vlen = 99;

        again = cf_ok(s, "win-a");
        CHECK(again == a, "cf is get-or-create: same handle for the same name");
        CHECK(has(a, "missing", NULL), "get of an absent key returns 1");

        spate_store_batch_put(batch, a, "k1", 2, "v1", 2);
        spate_store_batch_put(batch, b, "k1", 2, "other", 5);
        spate_store_batch_put(batch, a, "empty", 5, "", 0);
        spate_store_batch_delete(batch, a, "k0", 2);
        CHECK(spate_store_batch_count(batch) == 4, "batch counts 4 operations");
        CHECK(has(a, "k1", NULL) && has(b, "k1", NULL), "nothing visible before write");
        CHECK(spate_store_write(s, batch, errstr, sizeof(errstr)) == 0, "batch write");
        CHECK(has(a, "k1", "v1") && has(b, "k1", "other"),
              "one batch wrote both column families, each its own value");
        CHECK(spate_store_get(a, "empty", 5, &v, &vlen, errstr, sizeof(errstr)) == 0 &&
              v && vlen == 0, "an empty value is found, non-NULL, length 0");
        free(v);

        spate_store_batch_clear(batch);
        spate_store_batch_put(batch, a, "k1", 2, "v2", 2);
        spate_store_batch_delete(batch, b, "k1", 2);
        CHECK(spate_store_write(s, batch, errstr, sizeof(errstr)) == 0, "second batch");
        CHECK(has(a, "k1", "v2") && has(b, "k1", NULL), "overwrite and delete across CFs");
        put1(s, b, "k1", "back");
        spate_store_batch_destroy(batch);
        CHECK(spate_store_flush(s, errstr, sizeof(errstr)) == 0, "flush all CFs");
        put1(s, a, "after-flush", "in-wal");
        spate_store_close(s);
}

static void test_reopen(const char *dir) {
        spate_store_t *s = open_ok(dir);
        const char *names[8];
        int n = spate_store_cf_names(s, names, 8), found = 0;

        for (int i = 0; i < n && i < 8; i++)
                found += !strcmp(names[i], "win-a") || !strcmp(names[i], "win-b");
        CHECK(n == 3 && found == 2, "reopen lists default, win-a, win-b (n=%d)", n);
        spate_store_cf_t *a = cf_ok(s, "win-a"), *b = cf_ok(s, "win-b");
        CHECK(has(a, "k1", "v2") && has(b, "k1", "back"), "flushed data survives reopen");
        CHECK(has(a, "after-flush", "in-wal"), "unflushed (WAL only) data survives close");

        CHECK(spate_store_drop_cf(s, "win-b", errstr, sizeof(errstr)) == 0, "drop win-b");
        CHECK(spate_store_drop_cf(s, "nope", errstr, sizeof(errstr)) == 0,
              "dropping an unknown cf is a no-op");
        CHECK(spate_store_drop_cf(s, "default", errstr, sizeof(errstr)) == -1,
              "default cf cannot be dropped");
        spate_store_close(s);
        s = open_ok(dir);
        n = spate_store_cf_names(s, names, 8);
        CHECK(n == 2, "after drop and reopen two CFs remain (n=%d)", n);
        b = cf_ok(s, "win-b");
        CHECK(has(b, "k1", NULL), "a re-created dropped cf is empty");
        spate_store_close(s);
}

/* A bulk load overrides what the column family holds (values and deletions),
 * all at once at commit; keys out of order and an abandoned load leave the
 * column family as it was. */
static void test_load(const char *dir) {
        spate_store_t *s = open_ok(dir);
        spate_store_cf_t *cf = cf_ok(s, "win-load");
        spate_store_load_t *l = NULL;
        char path[700];

        put1(s, cf, "k1", "old");
        put1(s, cf, "k2", "old");
        CHECK(spate_store_load_new(cf, &l, errstr, sizeof(errstr)) == 0, "load starts");
        CHECK(spate_store_load_put(l, "a", 1, "x", 1, errstr, sizeof(errstr)) == 0 &&
              spate_store_load_put(l, "k1", 2, NULL, 0, errstr, sizeof(errstr)) == 0 &&
              spate_store_load_put(l, "k2", 2, "new", 3, errstr, sizeof(errstr)) == 0, "load puts");
        CHECK(has(cf, "a", NULL) && has(cf, "k1", "old"), "nothing of a load shows before its commit");
        CHECK(spate_store_load_commit(l, errstr, sizeof(errstr)) == 0, "load commits");
        spate_store_load_destroy(l);
        CHECK(has(cf, "a", "x") && has(cf, "k1", NULL) && has(cf, "k2", "new"),
              "the load's values and deletion override the column family's");
        snprintf(path, sizeof(path), "%s/load-win-load.sst", dir);
        CHECK(access(path, F_OK) != 0, "no load file left after the commit");

        CHECK(spate_store_load_new(cf, &l, errstr, sizeof(errstr)) == 0, "second load starts");
        CHECK(spate_store_load_put(l, "m", 1, "1", 1, errstr, sizeof(errstr)) == 0, "put m");
        CHECK(spate_store_load_put(l, "b", 1, "1", 1, errstr, sizeof(errstr)) < 0,
              "a key below the previous one is refused");
        spate_store_load_destroy(l);
        CHECK(has(cf, "m", NULL) && has(cf, "a", "x"), "an abandoned load changes nothing");
        CHECK(access(path, F_OK) != 0, "an abandoned load's file is removed");
        spate_store_close(s);
        /* What a crash in the middle of a load leaves: a partial file. */
        FILE *f = fopen(path, "w");
        CHECK(f && fputs("partial", f) >= 0 && fclose(f) == 0, "a partial load file");
        s = open_ok(dir);
        cf = cf_ok(s, "win-load");
        CHECK(has(cf, "a", "x") && has(cf, "k1", NULL) && has(cf, "k2", "new"),
              "a load survives reopen, beside a partial load file");
        errstr[0] = '\0';
        CHECK(spate_store_load_new(cf, &l, errstr, sizeof(errstr)) == 0 &&
              spate_store_load_put(l, "k3", 2, "3", 1, errstr, sizeof(errstr)) == 0 &&
              spate_store_load_commit(l, errstr, sizeof(errstr)) == 0, "a load over the partial file (%s)",
              errstr);
        spate_store_load_destroy(l);
        CHECK(has(cf, "k3", "3") && has(cf, "a", "x"), "the new load's key is there, the others kept");
        spate_store_close(s);
}

static void put_win(spate_store_batch_t *b, spate_store_cf_t *cf, const char *key,
                    int64_t start) {
        char k[64], v[32];

        spate_winkey_encode(key, strlen(key), start, k);
        snprintf(v, sizeof(v), "%s@%lld", key, (long long)start);
        spate_store_batch_put(b, cf, k, SPATE_WINKEY_SIZE(strlen(key)), v, strlen(v));
}

/* Scans [lo, hi) and renders "key@start,key@start,..." from the keys. */
static void scan(spate_store_cf_t *cf, const char *lo, size_t lolen, const char *hi,
                 size_t hilen, char *out, size_t outsz) {
        spate_store_iter_t *it;
        const char *k, *v, *key;
        size_t kl, vl, keylen, used = 0;
        int64_t start;
        int rc;

        out[0] = '\0';
        if (spate_store_iter_new(cf, lo, lolen, hi, hilen, &it, errstr, sizeof(errstr)))
                return;
        while ((rc = spate_store_iter_next(it, &k, &kl, &v, &vl, errstr, sizeof(errstr))) == 1) {
                if (spate_winkey_decode(k, kl, &key, &keylen, &start)) {
                        used += (size_t)snprintf(out + used, outsz - used, "BAD,");
                        continue;
                }
                used += (size_t)snprintf(out + used, outsz - used, "%.*s@%lld,",
                                         (int)keylen, key, (long long)start);
                if (used >= outsz)
                        break;
        }
        if (used && used < outsz)
                out[used - 1] = '\0';
        spate_store_iter_destroy(it);
}

static void test_winkeys(const char *dir) {
        static const int64_t starts[] = { 1000, -1, INT64_MIN, 0, -5000, 1, INT64_MAX };
        static const char *keys[] = { "alice", "alic", "ali", "alicd", "alicf", "" };
        spate_store_t *s = open_ok(dir);
        spate_store_cf_t *cf = cf_ok(s, "winkeys");
        spate_store_batch_t *b = spate_store_batch_new();
        char lo[64], hi[64], out[1024], wk[64];
        size_t lolen, hilen, len, klen;
        const char *key;
        int64_t start;

        for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
                for (size_t j = 0; j < sizeof(starts) / sizeof(*starts); j++)
                        put_win(b, cf, keys[i], starts[j]);
        spate_store_write(s, b, errstr, sizeof(errstr));

        spate_winkey_range("alic", 4, lo, &lolen, hi, &hilen);
        scan(cf, lo, lolen, hi, hilen, out, sizeof(out));
        CHECK_STR(out, "alic@-9223372036854775808,alic@-5000,alic@-1,alic@0,alic@1,alic@1000,"
                  "alic@9223372036854775807", "all windows of alic, none of alice, in time order");
        spate_winkey_range("", 0, lo, &lolen, hi, &hilen);
        scan(cf, lo, lolen, hi, hilen, out, sizeof(out));
        CHECK(!strncmp(out, "@-9223372036854775808,@-5000", 28) && !strstr(out, "a"),
              "empty key range holds only the empty key: %s", out);

        spate_winkey_range_starts("alic", 4, -1, 1000, lo, hi, &len);
        scan(cf, lo, len, hi, len, out, sizeof(out));
        CHECK_STR(out, "alic@-1,alic@0,alic@1", "alic windows with -1 <= start < 1000");

        spate_winkey_encode("alice", 5, -42, wk);
        CHECK(spate_winkey_decode(wk, 17, &key, &klen, &start) == 0 && klen == 5 &&
              !memcmp(key, "alice", 5) && start == -42, "encode/decode round trip");
        CHECK(spate_winkey_decode(wk, 16, &key, &klen, &start) == -1, "short buffer rejected");
        CHECK(spate_winkey_decode(wk, 11, &key, &klen, &start) == -1, "tiny buffer rejected");

        spate_store_batch_clear(b);
        spate_winkey_range_starts("alic", 4, -1, 1000, lo, hi, &len);
        spate_store_batch_delete_range(b, cf, lo, len, hi, len);
        CHECK(spate_store_write(s, b, errstr, sizeof(errstr)) == 0, "delete_range write");
        spate_winkey_range("alic", 4, lo, &lolen, hi, &hilen);
        scan(cf, lo, lolen, hi, hilen, out, sizeof(out));
        CHECK_STR(out, "alic@-9223372036854775808,alic@-5000,alic@1000,alic@9223372036854775807",
                  "delete_range removed exactly [-1, 1000) of alic");
        spate_winkey_range("alice", 5, lo, &lolen, hi, &hilen);
        scan(cf, lo, lolen, hi, hilen, out, sizeof(out));
        CHECK(!strncmp(out, "alice@", 6) && strstr(out, "alice@0,alice@1,alice@1000"),
              "alice untouched by alic's delete_range: %s", out);
        scan(cf, NULL, 0, NULL, 0, out, sizeof(out));
        CHECK(!strncmp(out, "@-9223372036854775808", 21), "unbounded scan starts with the "
              "shortest key");
        spate_store_batch_destroy(b);
        spate_store_close(s);
}

static void write_file(const char *path, const char *data) {
        FILE *fp = fopen(path, "w");

        if (fp) {
                fputs(data, fp);
                fclose(fp);
        }
}

static char *find_manifest(const char *dir, char *path, size_t sz) {
        char cur[600], name[256] = "";
        FILE *fp;

        snprintf(cur, sizeof(cur), "%s/CURRENT", dir);
        if ((fp = fopen(cur, "r"))) {
                if (!fgets(name, sizeof(name), fp))
                        name[0] = '\0';
                fclose(fp);
        }
        name[strcspn(name, "\n")] = '\0';
        snprintf(path, sz, "%s/%s", dir, name);
        return path;
}

static void test_corrupt(const char *dir, const char *what) {
        spate_store_t *s = open_ok(dir), *s2 = NULL;
        char path[700];
        int rc;

        put1(s, cf_ok(s, "w"), "x", "1");
        CHECK(spate_store_open("", 16, &s2, errstr, sizeof(errstr)) == SPATE_STORE_ERR,
              "empty dir name rejected");
        rc = spate_store_open(dir, 16, &s2, errstr, sizeof(errstr));
        CHECK(rc == SPATE_STORE_ERR && !s2, "second open of a locked dir is a plain error, "
              "not corruption (%s)", errstr);
        spate_store_close(s);

        if (!strcmp(what, "CURRENT"))
                snprintf(path, sizeof(path), "%s/CURRENT", dir);
        else
                find_manifest(dir, path, sizeof(path));
        write_file(path, "this is not a RocksDB file\n\x01\x02garbage garbage garbage\n");
        rc = spate_store_open(dir, 16, &s, errstr, sizeof(errstr));
        CHECK(rc == SPATE_STORE_ECORRUPT && !s, "garbage in %s is reported as corruption "
              "(rc=%d: %s)", what, rc, errstr);
        if (s)
                spate_store_close(s);

        snprintf(path, sizeof(path), "%s/notes.txt", dir);
        write_file(path, "mine");
        CHECK(spate_store_destroy_dir(dir, errstr, sizeof(errstr)) == -1,
              "destroy_dir refuses a dir with a foreign file (%s)", errstr);
        unlink(path);
        rc = spate_store_destroy_dir(dir, errstr, sizeof(errstr));
        CHECK(rc == 0, "destroy_dir (%s)", rc ? errstr : "ok");
        CHECK(access(dir, F_OK) != 0, "the directory is gone");
        CHECK(spate_store_destroy_dir(dir, errstr, sizeof(errstr)) == 0,
              "destroy_dir of an absent dir is fine");
        s = open_ok(dir);
        spate_store_cf_t *w = cf_ok(s, "w");
        CHECK(has(w, "x", NULL), "rebuilt store is empty and usable");
        spate_store_close(s);
        spate_store_destroy_dir(dir, errstr, sizeof(errstr));
}

/* The child writes a batch and dies without closing; the parent must see all
 * of it (WAL without fsync is enough when only the process dies). */
static void test_crash(const char *dir, int use_sigkill) {
        pid_t pid = fork();
        int status = 0;

        if (pid == 0) {
                spate_store_t *s = NULL;
                spate_store_cf_t *a = NULL, *b = NULL;
                spate_store_batch_t *batch = spate_store_batch_new();
                char k[32];

                if (spate_store_open(dir, 16, &s, errstr, sizeof(errstr)) ||
                    spate_store_cf(s, "a", &a, errstr, sizeof(errstr)) ||
                    spate_store_cf(s, "b", &b, errstr, sizeof(errstr)))
                        _exit(3);
                for (int i = 0; i < 1000; i++) {
                        snprintf(k, sizeof(k), "key%04d", i);
                        spate_store_batch_put(batch, i % 2 ? a : b, k, strlen(k), k, strlen(k));
                }
                if (spate_store_write(s, batch, errstr, sizeof(errstr)))
                        _exit(4);
                if (use_sigkill)
                        kill(getpid(), SIGKILL);
                _exit(0);
        }
        waitpid(pid, &status, 0);
        CHECK(use_sigkill ? WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL
                          : WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "child %s", use_sigkill ? "killed by SIGKILL" : "_exit(0)ed without close");

        spate_store_t *s = open_ok(dir);
        spate_store_cf_t *a = cf_ok(s, "a"), *b = cf_ok(s, "b");
        char k[32];
        int found = 0;

        for (int i = 0; i < 1000; i++) {
                snprintf(k, sizeof(k), "key%04d", i);
                found += has(i % 2 ? a : b, k, k);
        }
        CHECK(found == 1000, "all 1000 batch entries across 2 CFs survived (%d)", found);
        spate_store_close(s);
        spate_store_destroy_dir(dir, errstr, sizeof(errstr));
}

/* A store held open by another live process must be neither opened nor wiped. */
static void test_live_lock(const char *dir) {
        int up[2], down[2], status;
        char c = 0;
        pid_t pid;

        if (pipe(up) || pipe(down))
                return;
        if ((pid = fork()) == 0) {
                spate_store_t *s = NULL;
                if (spate_store_open(dir, 16, &s, errstr, sizeof(errstr)))
                        _exit(3);
                if (write(up[1], "r", 1) != 1 || read(down[0], &c, 1) != 1)
                        _exit(4);
                spate_store_close(s);
                _exit(0);
        }
        CHECK(read(up[0], &c, 1) == 1, "child opened the store");
        spate_store_t *s = NULL;
        int rc = spate_store_open(dir, 16, &s, errstr, sizeof(errstr));
        CHECK(rc == SPATE_STORE_ERR && !s, "open while another process has it: plain error "
              "(%s)", errstr);
        CHECK(spate_store_destroy_dir(dir, errstr, sizeof(errstr)) == -1,
              "destroy_dir refuses a store open in another process (%s)", errstr);
        CHECK(write(down[1], "x", 1) == 1, "told the child to close");
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child closed cleanly");
        CHECK(spate_store_destroy_dir(dir, errstr, sizeof(errstr)) == 0,
              "destroy_dir once the other process closed it");
        close(up[0]); close(up[1]); close(down[0]); close(down[1]);
}

/* A series creates only its missing families, empty and writable, and keeps
 * an existing one (its handle and data); all of them persist. */
static void test_series(const char *dir) {
        spate_store_t *s = open_ok(dir);
        spate_store_cf_t *one = cf_ok(s, "s-1");
        const char *names[8];
        int n;

        put1(s, one, "k", "old");
        CHECK(spate_store_cf_series(s, "s", 4, errstr, sizeof(errstr)) == 0, "series of 4 (%s)", errstr);
        n = spate_store_cf_names(s, names, 8);
        CHECK(n == 5, "default and s-0..s-3 are open (n=%d)", n);
        CHECK(spate_store_cf_find(s, "s-1") == one && has(one, "k", "old"),
              "the existing s-1 kept its handle and data");
        CHECK(has(cf_ok(s, "s-0"), "k", NULL) && has(cf_ok(s, "s-3"), "k", NULL), "created families are empty");
        CHECK(!spate_store_cf_find(s, "s-4"), "no s-4");
        put1(s, cf_ok(s, "s-3"), "k", "new");
        CHECK(spate_store_cf_series(s, "s", 4, errstr, sizeof(errstr)) == 0 &&
              spate_store_cf_names(s, names, 8) == 5, "a second series is a no-op");
        spate_store_close(s);
        s = open_ok(dir);
        n = spate_store_cf_names(s, names, 8);
        CHECK(n == 5, "reopen lists the five (n=%d)", n);
        CHECK(has(cf_ok(s, "s-1"), "k", "old") && has(cf_ok(s, "s-3"), "k", "new") &&
              has(cf_ok(s, "s-2"), "k", NULL), "their data survives reopen");
        spate_store_cf_t *reset = cf_ok(s, "s-1");
        CHECK(spate_store_cf_part_reset(s, "s", 1, &reset, errstr, sizeof(errstr)) == 0, "reset s-1 (%s)", errstr);
        CHECK(reset && reset == spate_store_cf_find(s, "s-1") && has(reset, "k", NULL),
              "s-1 is open again, empty, under the handle returned");
        CHECK(has(cf_ok(s, "s-3"), "k", "new") && spate_store_cf_names(s, names, 8) == 5,
              "the other families keep their data");
        put1(s, reset, "k", "again");
        CHECK(has(reset, "k", "again"), "the reset family takes writes");
        spate_store_close(s);
}

int main(void) {
        char base[] = "/tmp/spate-test-store.XXXXXX", dir[600];

        if (!mkdtemp(base)) {
                printf("not ok 1 - mkdtemp\n");
                return 1;
        }
        snprintf(dir, sizeof(dir), "%s/nested/db", base);
        test_put_get_batch(dir);
        test_reopen(dir);
        spate_store_destroy_dir(dir, errstr, sizeof(errstr));
        test_load(dir);
        spate_store_destroy_dir(dir, errstr, sizeof(errstr));
        test_series(dir);
        spate_store_destroy_dir(dir, errstr, sizeof(errstr));
        test_winkeys(dir);
        spate_store_destroy_dir(dir, errstr, sizeof(errstr));
        test_corrupt(dir, "CURRENT");
        test_corrupt(dir, "MANIFEST");
        test_crash(dir, 1);
        test_crash(dir, 0);
        test_live_lock(dir);
        snprintf(dir, sizeof(dir), "%s/nested", base);
        rmdir(dir);
        rmdir(base);
        return CHECK_DONE();
}
