/* test_archive.c - the archive_sink node (connectors/archive_sink.c) run by
 * the test driver: files held open between commits with the offsets held
 * back, finalized at the end of input; a crash after the rename and before
 * the offsets commit (the replay is skipped, nothing twice), stale
 * in-progress files removed only for the partitions assigned, a write error
 * that fails the commit, value: string with a message that is not UTF-8,
 * every codec, a recreated topic, and a topology that feeds it from an
 * operator. Files are read back with
 * avro-c's reader and checked offset by offset against what was piped. */
#include "check.h"
#include "../driver/driver.h"

#include <avro.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CLOCK0 1000000
#define HOUR 3600000LL
#define T0 (1700000000000LL / HOUR * HOUR)  /* 2023-11-14T22:00Z */
#define MAXOFF 256

static char root[256];

static spate_driver_t *driver_codec(const char *dir, const char *codec, const char *extra) {
        char yaml[2048];
        snprintf(yaml, sizeof(yaml),
                 "application: drv\n"
                 "kafka:\n  bootstrap.servers: 127.0.0.1:1\n"
                 "nodes:\n"
                 "  - name: in\n    type: kafka_source\n    topic: t.in\n    partitions: 2\n    time: t\n"
                 "  - name: arch\n    type: archive_sink\n    from: in\n    dir: %s\n    codec: %s\n%s",
                 dir, codec, extra);
        return spate_driver_new_or_bail(yaml, CLOCK0);
}

static spate_driver_t *driver(const char *dir, const char *extra) {
        return driver_codec(dir, "null", extra);
}

/* What the archive holds: per partition and offset, how often, and the
 * value and time of the last copy; files of every kind counted. */
typedef struct {
        int count[2][MAXOFF];
        char value[2][MAXOFF][64];
        int64_t ts[2][MAXOFF];
        int files, inprogress, bad_names;
} seen_t;

static void read_file(const char *path, const char *name, seen_t *s) {
        int p;
        long long first, last, lo = -1, hi = -1;
        avro_file_reader_t r;
        avro_value_t v, f, b;
        if (sscanf(name, "t.in-p%d-%lld-%lld.avro", &p, &first, &last) != 3 || p < 0 || p > 1 ||
            avro_file_reader(path, &r)) {
                s->bad_names++;
                return;
        }
        avro_schema_t sc = avro_file_reader_get_writer_schema(r);
        avro_value_iface_t *iface = avro_generic_class_from_schema(sc);
        avro_generic_value_new(iface, &v);
        while (avro_file_reader_read_value(r, &v) == 0) {
                int32_t part;
                int64_t off, ts;
                const void *val;
                size_t len;
                avro_value_get_by_name(&v, "partition", &f, NULL);
                avro_value_get_int(&f, &part);
                avro_value_get_by_name(&v, "offset", &f, NULL);
                avro_value_get_long(&f, &off);
                avro_value_get_by_name(&v, "timestamp", &f, NULL);
                avro_value_get_long(&f, &ts);
                avro_value_get_by_name(&v, "value", &f, NULL);
                avro_value_get_current_branch(&f, &b);
                avro_value_get_bytes(&b, &val, &len);
                if (part != p || off < 0 || off >= MAXOFF) {
                        s->bad_names++;
                        continue;
                }
                s->count[p][off]++;
                snprintf(s->value[p][off], sizeof(s->value[p][off]), "%.*s", (int)len, (const char *)val);
                s->ts[p][off] = ts;
                lo = lo < 0 || off < lo ? off : lo;
                hi = off > hi ? off : hi;
        }
        if (lo != first || hi != last)
                s->bad_names++;
        avro_value_decref(&v);
        avro_value_iface_decref(iface);
        avro_schema_decref(sc);
        avro_file_reader_close(r);
        s->files++;
}

static void walk(const char *dir, seen_t *s) {
        DIR *d = opendir(dir);
        struct dirent *e;
        char path[1024];
        if (!d)
                return;
        while ((e = readdir(d))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                if (e->d_type == DT_DIR)
                        walk(path, s);
                else if (e->d_name[0] == '.')
                        s->inprogress++;
                else
                        read_file(path, e->d_name, s);
        }
        closedir(d);
}

static seen_t *scan(const char *dir) {
        seen_t *s = calloc(1, sizeof(*s));
        walk(dir, s);
        return s;
}

/* n readings into partition p from offset `from` on: times step by 7 min
 * from T0 (crossing hours), every fifth one 10 min late. */
static void pipe_readings(spate_driver_t *d, int p, int from, int n) {
        char v[128];
        for (int i = from; i < from + n; i++) {
                int64_t t = T0 + i * 420000LL - (i % 5 == 4 ? 600000 : 0);
                snprintf(v, sizeof(v), "{\"t\":%lld,\"i\":%d,\"p\":%d}", (long long)t, i, p);
                spate_driver_pipe(d, "t.in", p, "k", v, 0);
        }
}

/* Every offset below n of both partitions archived once, with its bytes
 * and time. */
static void check_exact(const seen_t *s, int n, const char *what) {
        int wrong = 0;
        char v[128];
        for (int p = 0; p < 2; p++)
                for (int i = 0; i < n; i++) {
                        int64_t t = T0 + i * 420000LL - (i % 5 == 4 ? 600000 : 0);
                        snprintf(v, sizeof(v), "{\"t\":%lld,\"i\":%d,\"p\":%d}", (long long)t, i, p);
                        wrong += s->count[p][i] != 1 || strcmp(s->value[p][i], v) || s->ts[p][i] != t;
                }
        CHECK(!wrong && !s->bad_names, "%s: every offset of %d x 2 archived once with its bytes and time "
              "(%d wrong, %d files whose name or content is off)", what, n, wrong, s->bad_names);
}

static int commit(spate_driver_t *d, spate_driver_stage_t until) {
        return spate_driver_commit(d, until);
}

static void test_hold_and_finalize(void) {
        char dir[300], err[512];
        snprintf(dir, sizeof(dir), "%s/a", root);
        spate_driver_t *d = driver(dir, "    roll_interval: 1h\n");
        pipe_readings(d, 0, 0, 20);
        pipe_readings(d, 1, 0, 20);
        CHECK(spate_driver_process(d) == 40, "40 records processed");
        CHECK(commit(d, SPATE_DRIVER_COMMIT_ALL) == 0, "a commit before the roll");
        CHECK(spate_driver_committed(d, "t.in", 0) < 0 && spate_driver_committed(d, "t.in", 1) < 0,
              "... holds the input offsets back (%lld)", (long long)spate_driver_committed(d, "t.in", 0));
        seen_t *s = scan(dir);
        /* 20 readings over 2h20m with late ones across the boundaries:
         * hours 22, 23, 0 and back, one file at a time per partition. */
        CHECK(s->files == 0 && s->inprogress >= 6, "... and keeps the files in progress (%d final, %d in progress)",
              s->files, s->inprogress);
        free(s);
        CHECK(spate_driver_end_of_input(d, 5) == 0, "end of input drains the sink");
        CHECK(spate_driver_committed(d, "t.in", 0) == 20 && spate_driver_committed(d, "t.in", 1) == 20,
              "the offsets are committed once the files are final");
        s = scan(dir);
        CHECK(s->inprogress == 0, "no file left in progress (%d)", s->inprogress);
        check_exact(s, 20, "end of input");
        free(s);

        /* A crash right after the files are renamed, before the offsets commit. */
        pipe_readings(d, 0, 20, 10);
        pipe_readings(d, 1, 20, 10);
        spate_driver_process(d);
        spate_driver_ctx(d)->end_of_input = 1;  /* makes the files due */
        CHECK(commit(d, SPATE_DRIVER_AFTER_CHECKPOINT) == 0, "files renamed, offsets not committed");
        CHECK(spate_driver_crash(d, 1, err, sizeof(err)) == 0 && spate_driver_assign(d) == 0, "crash, restart");
        CHECK(spate_driver_committed(d, "t.in", 0) == 20, "the replay starts at 20");
        pipe_readings(d, 0, 30, 5);
        pipe_readings(d, 1, 30, 5);
        CHECK(spate_driver_process(d) == 30, "30 records: 20 replayed, 10 new");
        CHECK(spate_driver_end_of_input(d, 5) == 0, "drains");
        s = scan(dir);
        check_exact(s, 35, "after the crash between rename and offset commit");
        CHECK(spate_driver_committed(d, "t.in", 1) == 35, "offsets committed to 35");
        free(s);
        spate_driver_destroy(d);
}

/* A crash with files in progress: the restart removes them (for its own
 * partitions only) and rewrites their records. */
static void test_stale_files(void) {
        char dir[300], path[700], err[512];
        snprintf(dir, sizeof(dir), "%s/b", root);
        spate_driver_t *d = driver(dir, "    roll_interval: 1h\n");
        pipe_readings(d, 0, 0, 12);
        spate_driver_process(d);
        CHECK(commit(d, SPATE_DRIVER_COMMIT_ALL) == 0, "commit, held");
        /* kill -9 leaves in-progress files (the driver's crash runs destroy,
         * which removes them): plant one, and one of a partition this
         * instance does not read. */
        snprintf(path, sizeof(path), "%s/dt=2023-11-14/hour=22/.t.in-p0-0000000000.avro.inprogress", dir);
        FILE *f = fopen(path, "w");
        fputs("half a file", f);
        fclose(f);
        snprintf(path, sizeof(path), "%s/dt=2023-11-14/hour=22/.t.in-p7-0000000000.avro.inprogress", dir);
        f = fopen(path, "w");
        fclose(f);
        CHECK(spate_driver_crash(d, 1, err, sizeof(err)) == 0 && spate_driver_assign(d) == 0, "crash, restart");
        seen_t *s = scan(dir);
        CHECK(s->inprogress == 1 && access(path, F_OK) == 0,
              "the partition's stale file is removed, another partition's kept (%d left)", s->inprogress);
        free(s);
        unlink(path);
        spate_driver_process(d);
        CHECK(spate_driver_end_of_input(d, 5) == 0, "drains");
        s = scan(dir);
        int once = 0;
        for (int i = 0; i < 12; i++)
                once += s->count[0][i] == 1;
        CHECK(once == 12 && s->inprogress == 0 && !s->bad_names, "the 12 records rewritten once (%d)", once);
        free(s);
        spate_driver_destroy(d);
}

/* A file where a directory must go: the write fails, the commit fails with
 * the path and the offsets stay. */
static void test_write_error(void) {
        char dir[300], path[400];
        snprintf(dir, sizeof(dir), "%s/c", root);
        mkdir(dir, 0755);
        snprintf(path, sizeof(path), "%s/dt=2023-11-14", dir);
        FILE *f = fopen(path, "w");
        fclose(f);
        spate_driver_t *d = driver(dir, "");
        pipe_readings(d, 0, 0, 3);
        spate_driver_process(d);
        int rc = commit(d, SPATE_DRIVER_COMMIT_ALL);
        const char *msg = spate_driver_ctx(d)->errstr;
        CHECK(rc == -1 && strstr(msg, "creating") && strstr(msg, "dt=2023-11-14/hour=22") &&
              strstr(msg, "Not a directory") && strstr(msg, "replayed on restart"),
              "the commit fails naming the directory and why: %s", msg);
        CHECK(spate_driver_committed(d, "t.in", 0) < 0, "no offset committed");
        CHECK(spate_driver_count_all(d, "drv-dlq") == 0, "nothing dead-lettered");
        spate_driver_destroy(d);
}

static void test_string_values(void) {
        char dir[300];
        snprintf(dir, sizeof(dir), "%s/d", root);
        spate_driver_t *d = driver(dir, "    value: string\n");
        spate_driver_pipe(d, "t.in", 0, "k", "{\"t\":1700000000000,\"s\":\"caf\xc3\xa9\"}", 0);
        spate_driver_pipe(d, "t.in", 0, "k", "{\"t\":1700000000000,\"s\":\"caf\xe9\"}", 0);
        spate_driver_process(d);
        CHECK(spate_driver_end_of_input(d, 5) == 0, "drains");
        const spate_driver_msg_t *m = spate_driver_msg(d, "drv-dlq", 0, 0);
        const char *why = m ? spate_driver_header(m, "spate.error") : NULL;
        /* The source's JSON scanner may refuse it first; either way it is
         * dead-lettered with a reason, never archived. */
        CHECK(spate_driver_count_all(d, "drv-dlq") == 1 && why && strstr(why, "UTF-8"),
              "the message that is not UTF-8 is dead-lettered: %s", why ? why : "(none)");
        spate_driver_destroy(d);
}

/* Every codec avro-c offers here writes files its reader reads back whole. */
static void test_codecs(void) {
        const char *codecs[] = { "deflate", "snappy", "lzma" };
        for (int i = 0; i < 3; i++) {
                char dir[300], what[64];
                snprintf(dir, sizeof(dir), "%s/codec-%s", root, codecs[i]);
                spate_driver_t *d = driver_codec(dir, codecs[i], "");
                pipe_readings(d, 0, 0, 30);
                pipe_readings(d, 1, 0, 30);
                spate_driver_process(d);
                CHECK(spate_driver_end_of_input(d, 5) == 0, "codec %s: drains", codecs[i]);
                seen_t *s = scan(dir);
                snprintf(what, sizeof(what), "codec %s", codecs[i]);
                check_exact(s, 30, what);
                free(s);
                spate_driver_destroy(d);
        }
}

/* The archive holds offsets the topic no longer has (recreated): the
 * assignment fails instead of skipping the new records as replays. */
static void test_recreated(void) {
        char dir[300], yaml[1024], err[1024];
        snprintf(dir, sizeof(dir), "%s/e", root);
        spate_driver_t *d = driver(dir, "");
        pipe_readings(d, 0, 0, 10);
        spate_driver_process(d);
        CHECK(spate_driver_end_of_input(d, 5) == 0, "10 records archived");
        spate_driver_destroy(d);
        snprintf(yaml, sizeof(yaml),
                 "application: drv\nkafka:\n  bootstrap.servers: 127.0.0.1:1\nnodes:\n"
                 "  - name: in\n    type: kafka_source\n    topic: t.in\n    partitions: 2\n    time: t\n"
                 "  - name: arch\n    type: archive_sink\n    from: in\n    dir: %s\n", dir);
        d = spate_driver_new(yaml, CLOCK0, err, sizeof(err));  /* new, empty topics */
        CHECK(!d && strstr(err, "t.in[0]") && strstr(err, "hold offsets up to 9") && strstr(err, "move them aside"),
              "a topic that ends below the archive is refused: %s", d ? "(assigned)" : err);
        if (d)
                spate_driver_destroy(d);
}

static void test_bad_topology(void) {
        char err[1024];
        const char *yaml = "application: drv\nkafka:\n  bootstrap.servers: 127.0.0.1:1\nnodes:\n"
                           "  - name: in\n    type: kafka_source\n    topic: t.in\n"
                           "  - name: m\n    type: map\n    from: in\n    fields:\n      x: 1\n"
                           "  - name: arch\n    type: archive_sink\n    from: m\n    dir: /tmp\n";
        spate_driver_t *d = spate_driver_new(yaml, CLOCK0, err, sizeof(err));
        CHECK(!d && strstr(err, "archive_sink") && strstr(err, "kafka_source") && strstr(err, ":"),
              "fed by an operator: refused at load: %s", d ? "(loaded)" : err);
        if (d)
                spate_driver_destroy(d);
}

int main(void) {
        snprintf(root, sizeof(root), "/tmp/spate-test-archive.XXXXXX");
        if (!mkdtemp(root)) {
                printf("Bail out! mkdtemp\n");
                return 1;
        }
        test_hold_and_finalize();
        test_stale_files();
        test_write_error();
        test_string_values();
        test_codecs();
        test_recreated();
        test_bad_topology();
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        if (system(cmd))
                printf("# could not remove %s\n", root);
        return CHECK_DONE();
}
