/* tail.c - `spate tail TOPIC`: the latest value per key of a (compacted)
 * topic, as a live terminal table or as JSON lines.
 *
 * The topic is read from the beginning of every partition by assignment (no
 * consumer group, nothing committed), into a hash table of key -> latest
 * value; a NULL value (tombstone) removes its key. "Caught up" means every
 * partition has reported end-of-partition once: that is when a snapshot is
 * printed (piped, or --once) and the command exits unless --follow. */
#include "commands.h"
#include "../util/mem.h"
#include "tail.h"
#include "../engine/kafka_conf.h"
#include "../util/log.h"
#include "../util/util.h"

#include <errno.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
        (void)sig;
        stop = 1;
}

/* While the table owns the screen, librdkafka's warnings would scroll it
 * away: they are kept here (from librdkafka's threads) and shown in the
 * header instead, and the last one is printed after the screen is restored. */
static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER;
static char status[256];
static int status_set;

static void screen_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
        (void)rk;
        (void)fac;
        if (level > 4)
                return;
        char when[16];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(when, sizeof(when), "%H:%M:%S", &tm);
        pthread_mutex_lock(&status_lock);
        snprintf(status, sizeof(status), "%s %s", when, buf);
        status_set = 1;
        pthread_mutex_unlock(&status_lock);
}

static void usage(FILE *fp) {
        fprintf(fp,
"usage: spate tail TOPIC [--bootstrap HOST:PORT] [--fields a,b,c] [--sort FIELD] [--desc]\n"
"                  [--top N] [--interval 1s] [--once] [--follow] [--json] [-X prop=value]...\n"
"Reads TOPIC from the beginning (all partitions, no consumer group) and keeps the latest\n"
"value per key; a null value (tombstone) removes the key.\n"
"  On a terminal: a table refreshed in place every --interval, one row per key, the values'\n"
"  top-level JSON fields as columns; Ctrl-C exits. --once prints one table once caught up.\n"
"  Piped (or --json): one JSON line {\"key\": ..., \"value\": ...} per key once caught up with\n"
"  the end of every partition, then exits; --follow then prints each new value as it\n"
"  arrives (value null for a tombstone).\n"
"  --fields   columns, in order (default: the fields of the first values, as many as fit)\n"
"  --sort     order by this field: numerically for numbers, else by bytes; missing last\n"
"             (default: by key); --desc reverses\n"
"  --top N    at most N rows (default: all when piped, what fits on a terminal)\n"
"  -X         a librdkafka property, e.g. -X security.protocol=ssl\n"
"Bootstrap: --bootstrap, else $SPATE_BOOTSTRAP, else 127.0.0.1:9092.\n"
"A value that is not a JSON object shows as one column `value` (text escaped).\n");
}

typedef struct opts {
        const char *boot;
        int64_t interval_ms;
        int once, follow, json;
        const char *props[32];
        int nprops;
} opts_t;

/* Returns 0, 1 for --help, -1 on a bad command line (after saying why). */
static int parse_opts(int argc, char **argv, tail_t *t, opts_t *o) {
        static const struct option longopts[] = {
                { "bootstrap", 1, 0, 'b' }, { "fields", 1, 0, 'f' }, { "sort", 1, 0, 's' },
                { "desc", 0, 0, 'd' }, { "top", 1, 0, 'n' }, { "interval", 1, 0, 'i' },
                { "once", 0, 0, 'o' }, { "follow", 0, 0, 'F' }, { "json", 0, 0, 'j' },
                { "help", 0, 0, 'h' }, { 0, 0, 0, 0 }
        };
        char *end;
        int c;
        while ((c = getopt_long(argc, argv, "hX:", longopts, NULL)) != -1) {
                switch (c) {
                case 'b': o->boot = optarg; break;
                case 'f': {
                        char *list = strdup(optarg), *save = NULL;
                        for (char *f = strtok_r(list, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
                                if (t->nfields == TAIL_MAX_FIELDS) {
                                        fprintf(stderr, "spate tail: at most %d --fields\n", TAIL_MAX_FIELDS);
                                        free(list);
                                        return -1;
                                }
                                t->fields[t->nfields++] = strdup(f);
                        }
                        free(list);
                        t->fields_given = 1;
                        break;
                }
                case 's': t->sort = optarg; break;
                case 'd': t->desc = 1; break;
                case 'n':
                        errno = 0;
                        t->top = strtol(optarg, &end, 10);
                        if (errno || *end || end == optarg || t->top < 0) {
                                fprintf(stderr, "spate tail: --top wants a number of rows\n");
                                return -1;
                        }
                        break;
                case 'i':
                        if (spate_parse_duration(optarg, &o->interval_ms)) {
                                char why[256];
                                fprintf(stderr, "spate tail: --interval %s\n",
                                        spate_duration_why(optarg, why, sizeof(why)));
                                return -1;
                        }
                        if (o->interval_ms < 10) {
                                fprintf(stderr, "spate tail: --interval '%s' is shorter than "
                                        "10ms\n", optarg);
                                return -1;
                        }
                        break;
                case 'o': o->once = 1; break;
                case 'F': o->follow = 1; break;
                case 'j': o->json = 1; break;
                case 'X':
                        if (o->nprops == (int)(sizeof(o->props) / sizeof(o->props[0])) || !strchr(optarg, '=')) {
                                fprintf(stderr, "spate tail: -X wants property=value\n");
                                return -1;
                        }
                        o->props[o->nprops++] = optarg;
                        break;
                case 'h': usage(stdout); return 1;
                default: usage(stderr); return -1;
                }
        }
        if (optind != argc - 1) {
                usage(stderr);
                return -1;
        }
        if (t->fields_given && !t->nfields) {
                fprintf(stderr, "spate tail: --fields wants a comma-separated list\n");
                return -1;
        }
        t->topic = argv[optind];
        return 0;
}

static rd_kafka_t *make_consumer(const opts_t *o, int live, char *errstr, size_t size) {
        static const char *const defaults[][2] = {
                { "enable.auto.commit", "false" },
                { "enable.auto.offset.store", "false" },
                { "enable.partition.eof", "true" },
                { "fetch.wait.max.ms", "100" },
                { "client.id", "spate-tail" },
                /* assign() needs a group.id in librdkafka 2.0, though nothing
                 * joins the group or commits to it. */
                { "group.id", "spate-tail" },
        };
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;
        char prop[512];
        rd_kafka_conf_set_log_cb(conf, live ? screen_log_cb : spate_kafka_log_cb);
        if (rd_kafka_conf_set(conf, "bootstrap.servers", o->boot, errstr, size))
                goto err;
        for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
                if (rd_kafka_conf_set(conf, defaults[i][0], defaults[i][1], errstr, size))
                        goto err;
        for (int i = 0; i < o->nprops; i++) {
                snprintf(prop, sizeof(prop), "%s", o->props[i]);
                char *eq = strchr(prop, '=');
                if (!eq) {
                        snprintf(errstr, size, "-X %.40s...: property too long", o->props[i]);
                        goto err;
                }
                *eq = '\0';
                if (rd_kafka_conf_set(conf, prop, eq + 1, errstr, size))
                        goto err;
        }
        if ((rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, size)))
                return rk;  /* rd_kafka_new owns conf on success */
err:
        rd_kafka_conf_destroy(conf);
        return NULL;
}

/* Assigns every partition of the topic from its beginning; returns the
 * partition count, or -1 with errstr. */
static int assign_all(rd_kafka_t *rk, const char *topic, char *errstr, size_t size) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
        int n = -1;
        if (err) {
                snprintf(errstr, size, "cannot read the metadata of %s: %s", topic, rd_kafka_err2str(err));
        } else if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt == 0) {
                snprintf(errstr, size, "topic %s: %s", topic,
                         md->topic_cnt != 1 || !md->topics[0].err ? "no partitions"
                                                                  : rd_kafka_err2str(md->topics[0].err));
        } else {
                rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
                for (int i = 0; i < md->topics[0].partition_cnt; i++)
                        rd_kafka_topic_partition_list_add(l, topic, md->topics[0].partitions[i].id)->offset =
                                RD_KAFKA_OFFSET_BEGINNING;
                if ((err = rd_kafka_assign(rk, l)))
                        snprintf(errstr, size, "cannot assign %s: %s", topic, rd_kafka_err2str(err));
                else
                        n = md->topics[0].partition_cnt;
                rd_kafka_topic_partition_list_destroy(l);
        }
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        return n;
}

static void term_size(int *w, int *h) {
        struct winsize ws;
        const char *c = getenv("COLUMNS"), *l = getenv("LINES");
        *w = c && atoi(c) > 0 ? atoi(c) : 80;
        *h = l && atoi(l) > 0 ? atoi(l) : 24;
        if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_col > 0 && ws.ws_row > 0) {
                *w = ws.ws_col;
                *h = ws.ws_row;
        }
}

static int write_all(const spate_buf_t *b) {
        return b->len && fwrite(b->data, 1, b->len, stdout) != b->len ? -1 : fflush(stdout);
}

int spate_cmd_tail(int argc, char **argv) {
        static tail_t t;
        opts_t o = { .boot = getenv("SPATE_BOOTSTRAP"), .interval_ms = 1000 };
        char errstr[512];
        rd_kafka_t *rk = NULL;
        spate_buf_t out = { 0 };
        char *eof = NULL;
        int nparts, neof = 0, caught_up = 0, rc = 1, live, table, w, h;
        int64_t next_draw = 0;
        struct sigaction sa = { .sa_handler = on_signal };

        t = (tail_t){ .top = -1 };
        if ((rc = parse_opts(argc, argv, &t, &o))) {
                tail_free(&t);
                return rc > 0 ? 0 : 2;
        }
        rc = 1;
        if (!o.boot || !*o.boot)
                o.boot = "127.0.0.1:9092";
        table = isatty(STDOUT_FILENO) && !o.json;
        live = table && !o.once;
        if (!(rk = make_consumer(&o, live, errstr, sizeof(errstr)))) {
                fprintf(stderr, "spate tail: %s\n", errstr);
                goto out;
        }
        if ((nparts = assign_all(rk, t.topic, errstr, sizeof(errstr))) < 0) {
                fprintf(stderr, "spate tail: %s\n", errstr);
                goto out;
        }
        eof = spate_xcalloc((size_t)nparts + 1, 1);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        if (live)  /* the alternate screen, cursor hidden: the shell's screen comes back on exit */
                fputs("\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J", stdout);

        while (!stop) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
                if (m) {
                        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                                if (m->partition >= 0 && m->partition < nparts && !eof[m->partition]) {
                                        eof[m->partition] = 1;
                                        neof++;
                                }
                        } else if (m->err) {
                                if (live) {
                                        char msg[256];
                                        snprintf(msg, sizeof(msg), "[%d]: %s", (int)m->partition,
                                                 rd_kafka_message_errstr(m));
                                        screen_log_cb(rk, 4, "CONSUME", msg);
                                } else {
                                        spate_warn("%s [%d]: %s", t.topic, (int)m->partition,
                                                   rd_kafka_message_errstr(m));
                                }
                                if (m->err == RD_KAFKA_RESP_ERR__FATAL ||
                                    m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                                    m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
                                        rd_kafka_message_destroy(m);
                                        goto out;
                                }
                        } else if (!m->key) {
                                t.null_keys++;  /* a table has no row for these */
                        } else {
                                tail_entry_t *e = NULL;
                                t.records++;
                                if (!m->payload) {
                                        t.tombstones++;
                                        tail_map_del(&t.map, m->key, m->key_len);
                                } else {
                                        e = tail_map_put(&t.map, m->key, m->key_len, m->payload, m->len);
                                        tail_analyze(&t, e);
                                }
                                if (caught_up && o.follow && !table) {
                                        tail_json_line(&out, m->key, m->key_len, e);
                                        if (out.len > 65536) {
                                                if (write_all(&out))
                                                        goto out;
                                                out.len = 0;
                                        }
                                }
                        }
                        rd_kafka_message_destroy(m);
                } else if (out.len) {  /* idle: flush the follow lines */
                        if (write_all(&out))
                                goto out;
                        out.len = 0;
                }
                if (!caught_up && neof == nparts) {
                        caught_up = 1;
                        if (!table) {
                                size_t n;
                                tail_entry_t **a = tail_sorted(&t, t.top, &n);
                                for (size_t i = 0; i < n; i++)
                                        tail_json_line(&out, a[i]->key, a[i]->klen, a[i]);
                                free(a);
                                if (write_all(&out))
                                        goto out;
                                out.len = 0;
                                if (!o.follow)
                                        break;
                        } else if (!live) {
                                term_size(&w, &h);
                                tail_table(&t, &out, w, h, 0);
                                write_all(&out);
                                break;
                        }
                }
                if (live && spate_mono_ms() >= next_draw) {
                        pthread_mutex_lock(&status_lock);
                        memcpy(t.status, status, sizeof(t.status));
                        pthread_mutex_unlock(&status_lock);
                        term_size(&w, &h);
                        out.len = 0;
                        tail_table(&t, &out, w, h, 1);
                        write_all(&out);
                        out.len = 0;
                        next_draw = spate_mono_ms() + o.interval_ms;
                }
        }
        rc = 0;
out:
        if (live)
                fputs("\x1b[?25h\x1b[?1049l", stdout);
        fflush(stdout);
        pthread_mutex_lock(&status_lock);
        if (live && status_set)
                spate_warn("last Kafka client message: %s", status);
        pthread_mutex_unlock(&status_lock);
        if (t.null_keys)
                spate_info("%ld records without a key were skipped", t.null_keys);
        if (rk) {
                rd_kafka_consumer_close(rk);
                rd_kafka_destroy(rk);
        }
        free(eof);
        spate_buf_free(&out);
        tail_free(&t);
        return rc;
}
