/* archive_sink.c - the `archive_sink` node: every message of a Kafka topic, as
 * it came (key and value bytes, topic, partition, offset, record time), in
 * Avro Object Container Files under dt=YYYY-MM-DD/hour=HH/ directories of the
 * record time (UTC), named <topic>-p<partition>-<first>-<last>.avro by the
 * offsets they hold.
 *
 * Exactness, the Kafka Connect HDFS sink's way: records go to hidden
 * in-progress files, fsynced when they end; a commit that finalizes them
 * renames each to its final name and fsyncs its directory before the engine
 * commits the input offsets. Until the files are due (roll_bytes, roll_interval) a
 * commit keeps them open and holds the topic's offsets back, so files are
 * sized by the roll settings, not by commit_interval. A partition writes one
 * file at a time (a record of another hour starts the next), so its files
 * hold disjoint, ascending offset ranges and are renamed in that order: the
 * finalized files always hold every record of the partition up to the highest
 * offset they name. On assignment the sink deletes the partition's stale
 * in-progress files and skips replayed records at or below that offset; a
 * replay after a crash rewrites what was in progress and duplicates nothing. */
#include "../engine/ctx.h"
#include "../util/mem.h"
#include "../engine/node.h"
#include "../serde/json_scan.h"
#include "../util/log.h"
#include "../util/util.h"

#include <avro.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HOUR_MS 3600000LL
/* Records larger than the Avro block (1 MiB, Kafka's default message limit)
 * cannot be written by avro-c: they go to the DLQ with that reason. */
#define BLOCK_BYTES (1024 * 1024 + 4096)
/* A page, more than an Object Container File's header (magic, schema, codec,
 * sync marker: under 1 KB); the file's first records use the rest. */
#define HEADER_ROOM 4096
/* Files ended and not finalized yet (an hour change in a partition ends
 * its file) hold no descriptor; this many ask for a commit all the same. */
#define MAX_PENDING 1024
#define TMP_SUFFIX ".avro.inprogress"

static const char SCHEMA_JSON[] =
        "{\"type\":\"record\",\"name\":\"Record\",\"namespace\":\"spate.archive\",\"fields\":["
        "{\"name\":\"topic\",\"type\":\"string\"},"
        "{\"name\":\"partition\",\"type\":\"int\"},"
        "{\"name\":\"offset\",\"type\":\"long\"},"
        "{\"name\":\"timestamp\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},"
        "{\"name\":\"key\",\"type\":[\"null\",\"bytes\"]},"
        "{\"name\":\"value\",\"type\":[\"null\",\"%s\"]}]}";

enum { F_TOPIC, F_PARTITION, F_OFFSET, F_TIMESTAMP, F_KEY, F_VALUE };

/* One Avro file of one source partition, in progress until finalized. */
typedef struct afile {
        int32_t partition;
        int64_t hour;             /* record time / HOUR_MS */
        int64_t first, last;      /* offsets */
        int64_t bytes;            /* key and value bytes written */
        int64_t opened_ms;        /* monotonic */
        FILE *fp;                 /* NULL once ended (rolled, or another hour began) */
        avro_file_writer_t w;
        char *dir, *tmp;          /* owned */
} afile_t;

/* A source partition of this instance. */
typedef struct apart {
        int scan;                 /* assigned since the last scan of the directory */
        int64_t archived;         /* highest offset in a finalized file, -1 */
        afile_t *open;            /* the file being written, or NULL */
} apart_t;

typedef struct sink {
        const char *dir, *topic, *codec;
        int strings;              /* value as an Avro string (UTF-8 checked) */
        char *sbuf;               /* strings: the value with a NUL */
        size_t scap;
        int64_t roll_bytes, roll_ms;
        avro_schema_t schema;
        avro_value_iface_t *iface;
        avro_value_t rec;
        apart_t *parts;
        int nparts;
        afile_t **files;          /* open and closed, in the order they were started */
        int nfiles, fcap, pending;
        int due;                  /* a file reached roll_bytes, or too many wait */
        char error[1024];         /* a write failed: the next commit fails, the engine stops */
        uint64_t written, skipped, finalized;
        /* For the exit line's rate, monotonic ms: the first and the last
         * record written, and the last record plus the commit that
         * finalized it (the idle wait for that commit left out). */
        int64_t first_ms, last_rec_ms, last_ms;
} sink_t;

static const spate_prop_t archive_props[] = {
        { "dir", SPATE_P_STR, 1, NULL, NULL, "root directory of the archive (one archive_sink per directory)" },
        { "roll_bytes", SPATE_P_INT, 0, "67108864", NULL,
          "a file is finalized at the next commit once its keys and values reach this many bytes" },
        { "roll_interval", SPATE_P_DURATION, 0, "10m", NULL,
          "files are finalized at the first commit after one of them has been open this long" },
        { "codec", SPATE_P_ENUM, 0, "deflate", "null|deflate|snappy|lzma",
          "Avro block compression (deflate: zlib, read everywhere; snappy: fastest; lzma: smallest)" },
        { "value", SPATE_P_ENUM, 0, "bytes", "bytes|string",
          "Avro type of the value field; string: a message that is not UTF-8 goes to the DLQ" },
        { NULL }
};

static const spate_bind_t archive_binds[] = {
        SPATE_BIND("dir", sink_t, dir),
        SPATE_BIND("codec", sink_t, codec),
        SPATE_BIND("roll_bytes", sink_t, roll_bytes),
        SPATE_BIND("roll_interval", sink_t, roll_ms),
        { NULL }
};

static int archive_init(spate_node_t *n, char *errstr, size_t size) {
        sink_t *s = n->ctx;
        char json[sizeof(SCHEMA_JSON) + 8];
        if (!n->from || !n->from->def->replayable || n->from->def->role != SPATE_ROLE_SOURCE)
                return spate_node_error(n, spate_yaml_get(n->conf, "from"), errstr, size,
                                        "archive_sink stores the source messages as they came: its from: must "
                                        "be a kafka_source");
        s->topic = spate_node_str(n->from, "topic");
        s->strings = !strcmp(spate_node_str(n, "value"), "string");
        if (s->roll_bytes < 1)
                return spate_node_error(n, spate_node_param(n, "roll_bytes"), errstr, size,
                                        "roll_bytes must be at least 1");
        snprintf(json, sizeof(json), SCHEMA_JSON, s->strings ? "string" : "bytes");
        if (avro_schema_from_json_length(json, strlen(json), &s->schema))
                return spate_node_error(n, NULL, errstr, size, "archive schema: %s", avro_strerror());
        s->iface = avro_generic_class_from_schema(s->schema);
        avro_generic_value_new(s->iface, &s->rec);
        return 0;
}

/* --- files and directories --- */

static int fsync_path(const char *path) {
        int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
        if (fd < 0)
                return -1;
        rc = fsync(fd);
        close(fd);
        return rc;
}

/* mkdir -p whose new directories are durable (their parents fsynced). */
static int make_dirs(const char *path) {
        char buf[4096], *slash;
        snprintf(buf, sizeof(buf), "%s", path);
        for (slash = strchr(buf + 1, '/');; slash = strchr(slash + 1, '/')) {
                if (slash)
                        *slash = '\0';
                if (mkdir(buf, 0755) == 0) {
                        char *up = strrchr(buf, '/');
                        if (up) {
                                *up = '\0';
                                int rc = fsync_path(up == buf ? "/" : buf);
                                *up = '/';
                                if (rc)
                                        return -1;
                        }
                } else if (errno != EEXIST) {
                        return -1;
                }
                if (!slash)
                        return 0;
                *slash = '/';
        }
}

static int start_check(spate_node_t *n, char *errstr, size_t size) {
        sink_t *s = n->ctx;
        avro_file_writer_t w;
        FILE *fp;
        if (make_dirs(s->dir) || access(s->dir, W_OK))
                return spate_node_error(n, spate_node_param(n, "dir"), errstr, size, "archive directory %s: %s",
                                        s->dir, strerror(errno));
        if (!(fp = tmpfile()))
                return spate_node_error(n, NULL, errstr, size, "tmpfile: %s", strerror(errno));
        int rc = avro_file_writer_create_with_codec_fp(fp, "codec check", 0, s->schema, &w, s->codec, 4096);
        if (!rc)
                avro_file_writer_close(w);
        fclose(fp);
        if (rc)
                return spate_node_error(n, spate_node_param(n, "codec"), errstr, size, "codec %s: %s", s->codec,
                                        avro_strerror());
        spate_info("archive_sink '%s': %s into %s (roll at %" PRId64 " bytes or %" PRId64 " s, codec %s)", n->name,
                   s->topic, s->dir, s->roll_bytes, s->roll_ms / 1000, s->codec);
        return 0;
}

static apart_t *part_get(sink_t *s, int32_t p) {
        if (p >= s->nparts) {
                int np = p + 8;
                s->parts = spate_xrealloc(s->parts, sizeof(*s->parts) * (size_t)np);
                for (int i = s->nparts; i < np; i++)
                        s->parts[i] = (apart_t){ 0, -1, NULL };
                s->nparts = np;
        }
        return &s->parts[p];
}

/* Parses "<topic>-p<partition>-<first>-<last>.avro" from the right (topics
 * may hold '-'); 0 and the parts, or -1 for another name. */
static int parse_name(const char *name, const char *topic, int32_t *partition, int64_t *last) {
        size_t tl = strlen(topic), nl = strlen(name);
        char *end;
        if (nl <= tl + 2 || strncmp(name, topic, tl) || strncmp(name + tl, "-p", 2) || nl < 5 ||
            strcmp(name + nl - 5, ".avro"))
                return -1;
        const char *p = name + tl + 2;
        long part = strtol(p, &end, 10);
        if (end == p || *end != '-' || part < 0)
                return -1;
        p = end + 1;
        long long a = strtoll(p, &end, 10);
        if (end == p || *end != '-')
                return -1;
        p = end + 1;
        long long b = strtoll(p, &end, 10);
        if (end == p || strcmp(end, ".avro") || b < a)
                return -1;
        *partition = (int32_t)part;
        *last = b;
        return 0;
}

/* "." + "<topic>-p<partition>-" ... TMP_SUFFIX: an in-progress file of the
 * topic; its partition, or -1. */
static int32_t tmp_partition(const char *name, const char *topic) {
        size_t tl = strlen(topic), nl = strlen(name), sl = strlen(TMP_SUFFIX);
        char *end;
        if (name[0] != '.' || nl < tl + 3 + sl || strncmp(name + 1, topic, tl) || strncmp(name + 1 + tl, "-p", 2) ||
            strcmp(name + nl - sl, TMP_SUFFIX))
                return -1;
        long part = strtol(name + tl + 3, &end, 10);
        return end != name + tl + 3 && *end == '-' && part >= 0 ? (int32_t)part : -1;
}

static int scan_hour(spate_node_t *n, sink_t *s, const char *path) {
        DIR *d = opendir(path);
        struct dirent *e;
        char file[8192];
        if (!d)
                return -1;
        while ((e = readdir(d))) {
                int32_t p;
                int64_t last;
                if (!parse_name(e->d_name, s->topic, &p, &last)) {
                        apart_t *ap = part_get(s, p);
                        if (ap->scan && last > ap->archived)
                                ap->archived = last;
                } else if ((p = tmp_partition(e->d_name, s->topic)) >= 0 && part_get(s, p)->scan) {
                        if (snprintf(file, sizeof(file), "%s/%s", path, e->d_name) < (int)sizeof(file) &&
                            unlink(file) == 0)
                                spate_info("archive_sink '%s': removed %s (in progress at a crash: its records "
                                           "are replayed)", n->name, file);
                }
        }
        closedir(d);
        return 0;
}

/* Walks dir/dt=* /hour=* once for the partitions marked scan. */
static int scan_archive(spate_node_t *n, sink_t *s, char *err, size_t size) {
        DIR *top = opendir(s->dir), *day;
        struct dirent *e, *h;
        char path[8192], hour[8192 + 300];
        if (!top && errno == ENOENT)
                return 0;  /* nothing archived yet */
        if (!top) {
                snprintf(err, size, "archive directory %s: %s", s->dir, strerror(errno));
                return -1;
        }
        while ((e = readdir(top))) {
                if (strncmp(e->d_name, "dt=", 3))
                        continue;
                snprintf(path, sizeof(path), "%s/%s", s->dir, e->d_name);
                if (!(day = opendir(path)))
                        continue;
                while ((h = readdir(day))) {
                        if (strncmp(h->d_name, "hour=", 5))
                                continue;
                        snprintf(hour, sizeof(hour), "%s/%s", path, h->d_name);
                        if (scan_hour(n, s, hour)) {
                                snprintf(err, size, "reading %.900s: %s", hour, strerror(errno));
                                closedir(day);
                                closedir(top);
                                return -1;
                        }
                }
                closedir(day);
        }
        closedir(top);
        return 0;
}

/* --- writing --- */

/* Keeps the first write error (errno, and avro-c's message when it failed
 * there) for the commit to report, and asks for that commit. */
static void set_error(spate_ctx_t *ctx, sink_t *s, const char *what, const char *path, int in_avro) {
        int err = errno;
        char avro[256] = "";
        if (in_avro) {
                size_t l = (size_t)snprintf(avro, sizeof(avro), "%s", avro_strerror());
                while (l && (avro[l - 1] == ' ' || avro[l - 1] == ':'))  /* "Cannot write file block: " */
                        avro[--l] = '\0';
        }
        if (!s->error[0])
                snprintf(s->error, sizeof(s->error), "%s %s: %s%s%s%s%s%s", what, path,
                         err ? strerror(err) : "", err && *avro ? " (" : "", *avro ? "avro-c: " : "", avro,
                         err && *avro ? ")" : "",
                         err == ENOSPC || err == EDQUOT ? "; the archive's disk is full: free space and restart" : "");
        spate_ctx_request_commit(ctx);
}

static void file_free(afile_t *f) {
        free(f->dir);
        free(f->tmp);
        free(f);
}

static afile_t *file_open(sink_t *s, int32_t partition, int64_t offset, int64_t hour, spate_ctx_t *ctx) {
        afile_t *f = spate_xcalloc(1, sizeof(*f));
        time_t t = (time_t)(hour * 3600);
        struct tm tm;
        gmtime_r(&t, &tm);
        *f = (afile_t){ partition, hour, offset, offset, 0, spate_mono_ms(), NULL, NULL, NULL, NULL };
        if (asprintf(&f->dir, "%s/dt=%04d-%02d-%02d/hour=%02d", s->dir, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour) < 0 ||
            asprintf(&f->tmp, "%s/.%s-p%d-%010" PRId64 TMP_SUFFIX, f->dir, s->topic, partition, offset) < 0)
                spate_oom(0, "archive file name");
        if (make_dirs(f->dir)) {
                set_error(ctx, s, "creating", f->dir, 0);
                file_free(f);
                return NULL;
        }
        if (!(f->fp = fopen(f->tmp, "we"))) {
                set_error(ctx, s, "creating", f->tmp, 0);
                file_free(f);
                return NULL;
        }
        /* avro-c writes whole blocks and does not check every stdio flush:
         * unbuffered, each of its writes reaches the file or fails there. */
        setvbuf(f->fp, NULL, _IONBF, 0);
        /* avro-c leaks its writer when writing the header fails: room for the
         * header is reserved first, so that a full disk fails here. */
        if (fallocate(fileno(f->fp), FALLOC_FL_KEEP_SIZE, 0, HEADER_ROOM) && errno != EOPNOTSUPP) {
                set_error(ctx, s, "creating", f->tmp, 0);
                fclose(f->fp);
                unlink(f->tmp);
                file_free(f);
                return NULL;
        }
        errno = 0;
        if (avro_file_writer_create_with_codec_fp(f->fp, f->tmp, 0, s->schema, &f->w, s->codec, BLOCK_BYTES)) {
                set_error(ctx, s, "starting", f->tmp, 1);
                fclose(f->fp);
                unlink(f->tmp);
                file_free(f);
                return NULL;
        }
        if (s->nfiles == s->fcap) {
                s->fcap = s->fcap ? s->fcap * 2 : 16;
                s->files = spate_xrealloc(s->files, sizeof(*s->files) * (size_t)s->fcap);
        }
        s->files[s->nfiles++] = f;
        return f;
}

/* Frees f's Avro writer after a failed write (the file is incomplete and is
 * dropped or replayed): avro-c's close frees its writer only once its last
 * block is written, so that block goes to /dev/null. */
static void writer_discard(afile_t *f) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null >= 0) {
                dup2(null, fileno(f->fp));
                close(null);
        }
        clearerr(f->fp);
        avro_file_writer_close(f->w);
}

/* Ends a file: the Avro writer's last block written, the data fsynced, the
 * descriptor closed. It waits, in progress, for the commit that finalizes
 * it. -1 with s->error. */
static int file_close(spate_ctx_t *ctx, sink_t *s, afile_t *f) {
        if (!f->fp)
                return 0;
        errno = 0;
        int in_avro = avro_file_writer_close(f->w) != 0;
        int rc = in_avro || ferror(f->fp) || fsync(fileno(f->fp));
        int err = errno;
        if (in_avro)
                writer_discard(f);
        rc |= fclose(f->fp) != 0;
        f->fp = NULL;
        f->w = NULL;
        s->pending++;
        if (rc) {
                errno = err ? err : errno;
                set_error(ctx, s, "writing", f->tmp, in_avro);
        }
        return rc ? -1 : 0;
}

/* A file not finalized: its records are replayed by whoever resumes. */
static void file_drop(afile_t *f) {
        if (f->fp) {
                writer_discard(f);
                fclose(f->fp);
        }
        unlink(f->tmp);
        file_free(f);
}

static int set_record(sink_t *s, const spate_record_t *rec) {
        const spate_origin_t *o = rec->origin;
        avro_value_t f, b;
        avro_value_reset(&s->rec);
        avro_value_get_by_index(&s->rec, F_TOPIC, &f, NULL);
        avro_value_set_string_len(&f, o->topic, strlen(o->topic) + 1);
        avro_value_get_by_index(&s->rec, F_PARTITION, &f, NULL);
        avro_value_set_int(&f, o->partition);
        avro_value_get_by_index(&s->rec, F_OFFSET, &f, NULL);
        avro_value_set_long(&f, o->offset);
        avro_value_get_by_index(&s->rec, F_TIMESTAMP, &f, NULL);
        avro_value_set_long(&f, rec->ts);
        avro_value_get_by_index(&s->rec, F_KEY, &f, NULL);
        avro_value_set_branch(&f, o->key != NULL, &b);
        if (o->key)
                avro_value_set_bytes(&b, (void *)o->key, o->key_len);
        else
                avro_value_set_null(&b);
        avro_value_get_by_index(&s->rec, F_VALUE, &f, NULL);
        avro_value_set_branch(&f, o->payload != NULL, &b);
        if (!o->payload)
                return avro_value_set_null(&b);
        if (!s->strings)
                return avro_value_set_bytes(&b, (void *)o->payload, o->len);
        /* avro-c's strings are NUL-terminated: a copy with the NUL. */
        if (o->len + 1 > s->scap) {
                s->scap = o->len + 1;
                s->sbuf = spate_xrealloc(s->sbuf, s->scap);
        }
        memcpy(s->sbuf, o->payload, o->len);
        s->sbuf[o->len] = '\0';
        return avro_value_set_string_len(&b, s->sbuf, o->len + 1);
}

/* NULL, or why the value cannot be an Avro string. */
static const char *string_problem(const spate_origin_t *o) {
        const unsigned char *p = o->payload;
        for (size_t i = 0; i < o->len;) {
                size_t l = spate_utf8_len(p + i, o->len - i);
                if (!l || !p[i])
                        return l ? "holds a NUL byte" : "is not UTF-8";
                i += l;
        }
        return NULL;
}

static int archive_process(spate_node_t *n, spate_record_t *rec, spate_ctx_t *ctx) {
        sink_t *s = n->ctx;
        const spate_origin_t *o = rec->origin;
        const char *why;
        if (s->error[0])
                return 0;  /* the commit fails: this input is not committed either */
        apart_t *p = part_get(s, o->partition);
        if (o->offset <= p->archived) {
                s->skipped++;
                return 0;
        }
        if (o->payload && s->strings && (why = string_problem(o)))
                return spate_ctx_fail(ctx, n, "value %s (value: string); archive it as bytes", why);
        if (o->len + o->key_len + strlen(o->topic) + 64 > BLOCK_BYTES)
                return spate_ctx_fail(ctx, n, "message of %zu bytes is larger than the archive's Avro block "
                                      "(%d bytes)", o->len + o->key_len, BLOCK_BYTES);
        int64_t hour = rec->ts >= 0 ? rec->ts / HOUR_MS : (rec->ts - HOUR_MS + 1) / HOUR_MS;
        afile_t *f = p->open;
        if (f && f->hour != hour) {
                file_close(ctx, s, f);
                f = p->open = NULL;
        }
        if (!f && !(f = p->open = file_open(s, o->partition, o->offset, hour, ctx)))
                return 0;
        errno = 0;
        if (set_record(s, rec) || avro_file_writer_append_value(f->w, &s->rec)) {
                set_error(ctx, s, "writing", f->tmp, 1);
                return 0;
        }
        f->last = o->offset;
        f->bytes += (int64_t)(o->len + o->key_len);
        s->written++;
        s->last_rec_ms = spate_mono_ms();
        if (!s->first_ms)
                s->first_ms = s->last_rec_ms;
        if (f->bytes >= s->roll_bytes) {
                file_close(ctx, s, f);
                p->open = NULL;
                s->due = 1;
                spate_ctx_request_commit(ctx);
        } else if (s->pending >= MAX_PENDING) {
                s->due = 1;
                spate_ctx_request_commit(ctx);
        }
        return 0;
}

/* --- the commit --- */

/* Ends the file if it is not, renames it to its final name and fsyncs the
 * directory: once this returns the file is the archive's. -1 with s->error. */
static int finalize(spate_ctx_t *ctx, sink_t *s, afile_t *f) {
        char final[8192];
        snprintf(final, sizeof(final), "%s/%s-p%d-%010" PRId64 "-%010" PRId64 ".avro", f->dir, s->topic,
                 f->partition, f->first, f->last);
        if (file_close(ctx, s, f))
                return -1;
        if (rename(f->tmp, final) || fsync_path(f->dir)) {
                set_error(ctx, s, "finalizing", final, 0);
                return -1;
        }
        return 0;
}

static int finalize_all(spate_node_t *n, sink_t *s, spate_ctx_t *ctx) {
        int i;
        int64_t t0 = spate_mono_ms();
        for (i = 0; i < s->nfiles; i++) {
                afile_t *f = s->files[i];
                apart_t *p = part_get(s, f->partition);
                if (finalize(ctx, s, f))
                        break;
                p->archived = f->last;
                if (p->open == f)
                        p->open = NULL;
                file_free(f);
                s->files[i] = NULL;
                s->finalized++;
                /* Tests abort after the first rename of several, or after
                 * all, before the input offsets are committed. */
                if (i == 0 && s->nfiles > 1)
                        spate_crash_point("archive_half_renamed");
        }
        memmove(s->files, s->files + i, sizeof(*s->files) * (size_t)(s->nfiles - i));
        s->nfiles -= i;
        s->pending = s->due = 0;
        if (s->nfiles)
                return spate_ctx_fail(ctx, n, "%s; nothing more is committed (the input is replayed on restart)",
                                      s->error);
        s->last_ms = s->last_rec_ms + spate_mono_ms() - t0;
        spate_crash_point("archive_renamed");
        return 0;
}

static int due(const sink_t *s, spate_ctx_t *ctx) {
        if (s->due || ctx->end_of_input || ctx->closing || spate_ctx_stopping(ctx))
                return 1;
        int64_t now = spate_mono_ms();
        for (int i = 0; i < s->nfiles; i++)
                if (now - s->files[i]->opened_ms >= s->roll_ms)
                        return 1;
        return 0;
}

static int archive_flush(spate_node_t *n, spate_ctx_t *ctx) {
        sink_t *s = n->ctx;
        if (s->error[0])
                return spate_ctx_fail(ctx, n, "%s; nothing is committed (the input is replayed on restart)", s->error);
        if (!s->nfiles) {
                s->due = 0;
                return 0;
        }
        if (!due(s, ctx)) {
                spate_ctx_hold_offsets(ctx, s->topic);
                return 0;
        }
        return finalize_all(n, s, ctx);
}

/* Drops the in-progress files of partition p (its input since the last
 * finalizing commit was not committed: whoever resumes it replays that). */
static void drop_partition(sink_t *s, int32_t p) {
        int k = 0;
        for (int i = 0; i < s->nfiles; i++) {
                if (s->files[i]->partition == p) {
                        if (!s->files[i]->fp)
                                s->pending--;
                        file_drop(s->files[i]);
                } else {
                        s->files[k++] = s->files[i];
                }
        }
        s->nfiles = k;
        part_get(s, p)->open = NULL;
}

static int archive_assign(spate_node_t *n, const char *topic, int32_t partition, spate_ctx_t *ctx) {
        sink_t *s = n->ctx;
        (void)ctx;
        if (strcmp(topic, s->topic))
                return 0;
        drop_partition(s, partition);
        apart_t *p = part_get(s, partition);
        *p = (apart_t){ 1, -1, NULL };
        return 0;
}

/* One walk of the archive for the partitions of this rebalance. */
static int archive_assigned(spate_node_t *n, spate_ctx_t *ctx) {
        sink_t *s = n->ctx;
        char err[1024];
        int any = 0;
        for (int i = 0; i < s->nparts; i++)
                any |= s->parts[i].scan;
        if (!any)
                return 0;
        if (scan_archive(n, s, err, sizeof(err)))
                return spate_ctx_fail(ctx, n, "%s", err);
        for (int i = 0; i < s->nparts; i++)
                if (s->parts[i].scan) {
                        s->parts[i].scan = 0;
                        /* A recreated topic restarts its offsets: its records
                         * would be skipped as replays. */
                        if (s->parts[i].archived >= 0 &&
                            spate_ctx_check_resume(ctx, n, s->topic, i, s->parts[i].archived + 1)) {
                                size_t l = strlen(ctx->errstr);
                                snprintf(ctx->errstr + l, sizeof(ctx->errstr) - l, " (archive_sink '%s': its files "
                                         "in %s hold offsets up to %" PRId64 "; move them aside to archive the "
                                         "topic anew)", n->name, s->dir, s->parts[i].archived);
                                return -1;
                        }
                        if (s->parts[i].archived >= 0)
                                spate_info("archive_sink '%s': %s[%d] is archived up to offset %" PRId64
                                           " (replays up to there are skipped)", n->name, s->topic, i,
                                           s->parts[i].archived);
                }
        return 0;
}

static void archive_revoke(spate_node_t *n, const char *topic, int32_t partition, spate_ctx_t *ctx) {
        sink_t *s = n->ctx;
        (void)ctx;
        if (strcmp(topic, s->topic) || partition >= s->nparts)
                return;
        drop_partition(s, partition);
}

static int archive_drained(spate_node_t *n, spate_ctx_t *ctx) {
        (void)ctx;
        return ((sink_t *)n->ctx)->nfiles == 0;
}

static void archive_destroy(spate_node_t *n) {
        sink_t *s = n->ctx;
        double secs = (double)(s->last_ms - s->first_ms) / 1000.0;
        if (s->written || s->skipped)
                spate_info("archive_sink '%s': %" PRIu64 " records written, %" PRIu64 " replays skipped, %" PRIu64
                           " files finalized; first record to last finalized file %.3f s = %.0f records/s", n->name,
                           s->written, s->skipped, s->finalized, secs, secs > 0 ? (double)s->written / secs : 0.0);
        for (int i = 0; i < s->nfiles; i++)
                file_drop(s->files[i]);
        free(s->files);
        free(s->parts);
        free(s->sbuf);
        if (s->iface) {
                avro_value_decref(&s->rec);
                avro_value_iface_decref(s->iface);
        }
        if (s->schema)
                avro_schema_decref(s->schema);
}

const spate_op_def_t spate_op_archive_sink = {
        .name = "archive_sink",
        .role = SPATE_ROLE_SINK,
        .doc = "Archives every message of its kafka_source, key and value bytes as they came, in Avro Object "
               "Container Files under dt=DATE/hour=HH/ of the record time, named by the offsets they hold; "
               "exact across crashes (finalized before the offsets are committed, replays skipped).",
        .props = archive_props,
        .binds = archive_binds,
        .ctx_size = sizeof(sink_t),
        .init = archive_init,
        .start = start_check,
        .process = archive_process,
        .flush = archive_flush,
        .assign = archive_assign,
        .assigned = archive_assigned,
        .revoke = archive_revoke,
        .drained = archive_drained,
        .destroy = archive_destroy,
};
