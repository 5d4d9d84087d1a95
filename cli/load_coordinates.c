/* load_coordinates.c - `spate load-coordinates FILE.csv --topic T`: fills the
 * coordinates table that `http_poll` reads: one message per CSV row, keyed by
 * id, value {"id","name","lat","lon"}, lz4-compressed, delivery confirmed.
 *
 * The header names the columns (id, name, lat, lon; others such as country
 * are ignored, in any order); fields follow RFC 4180 (quotes, "" inside
 * quotes, commas and line breaks in quoted fields). A bad row is reported
 * with its line number and skipped. */
#include "commands.h"
#include "../util/buf.h"
#include "../serde/json_scan.h"
#include "../serde/json_write.h"
#include "../util/log.h"

#include <errno.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLS 64

typedef struct csv {
        FILE *fp;
        long line;          /* line where the current record started */
        long next_line;
        spate_buf_t field[MAX_COLS];
        int ncols;
} csv_t;

/* Reads one record into c->field[0..ncols). Returns 1, 0 at end of file, or
 * -1 for a malformed record (an unterminated quote, too many columns). */
static int csv_read(csv_t *c) {
        int ch, col = 0, quoted = 0, any = 0, bad = 0;
        c->line = c->next_line;
        for (int i = 0; i < MAX_COLS; i++)
                c->field[i].len = 0;
        for (;;) {
                ch = getc(c->fp);
                if (ch == EOF) {
                        if (!any)
                                return 0;
                        if (quoted)
                                bad = 1;
                        break;
                }
                any = 1;
                if (quoted) {
                        if (ch == '"') {
                                int nx = getc(c->fp);
                                if (nx == '"') {
                                        spate_buf_putc(&c->field[col], '"');
                                        continue;
                                }
                                quoted = 0;
                                if (nx == EOF)
                                        break;
                                ungetc(nx, c->fp);
                                continue;
                        }
                        if (ch == '\n')
                                c->next_line++;
                        spate_buf_putc(&c->field[col], (char)ch);
                        continue;
                }
                if (ch == '\n') {
                        c->next_line++;
                        break;
                }
                if (ch == '\r')
                        continue;
                if (ch == '"' && c->field[col].len == 0) {
                        quoted = 1;
                        continue;
                }
                if (ch == ',') {
                        if (++col >= MAX_COLS) {
                                bad = 1;
                                col = MAX_COLS - 1;
                        }
                        continue;
                }
                spate_buf_putc(&c->field[col], (char)ch);
        }
        c->ncols = col + 1;
        for (int i = 0; i < c->ncols; i++)
                spate_buf_putc(&c->field[i], '\0');
        return bad ? -1 : 1;
}

static const char *fld(csv_t *c, int i) {
        return i < c->ncols ? c->field[i].data : "";
}

static void trim(char *s) {
        size_t n = strlen(s), i = 0;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                s[--n] = '\0';
        while (s[i] == ' ' || s[i] == '\t')
                i++;
        memmove(s, s + i, n - i + 1);
}

/* A JSON number within [lo, hi], written back as given (no precision lost). */
static int coord_ok(const char *s, double lo, double hi) {
        double v;
        size_t n = strlen(s);
        return n && spate_json_number(s, n, &v) == n && v >= lo && v <= hi;
}

static volatile int delivery_failed;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
        (void)rk;
        (void)opaque;
        if (m->err) {
                if (!delivery_failed++)
                        spate_err("delivery failed: %s", rd_kafka_err2str(m->err));
        }
}

static void usage(FILE *fp) {
        fprintf(fp, "usage: spate load-coordinates FILE.csv --topic T [--bootstrap HOST:PORT]\n"
                    "Produces each row of a CSV with header id,name,lat,lon (other columns such as\n"
                    "country are ignored) to T keyed by id, value {\"id\",\"name\",\"lat\",\"lon\"}.\n"
                    "Bootstrap: --bootstrap, else $SPATE_BOOTSTRAP, else 127.0.0.1:9092.\n");
}

int spate_cmd_load_coordinates(int argc, char **argv) {
        static const struct option longopts[] = {
                { "topic", 1, 0, 't' }, { "bootstrap", 1, 0, 'b' }, { "help", 0, 0, 'h' },
                { 0, 0, 0, 0 }
        };
        const char *topic = NULL, *boot = getenv("SPATE_BOOTSTRAP"), *file;
        char errstr[512];
        csv_t c = { .next_line = 1 };
        rd_kafka_conf_t *conf = NULL;
        rd_kafka_t *rk = NULL;
        spate_buf_t val = { 0 };
        long ok = 0, bad = 0;
        int col[4] = { -1, -1, -1, -1 }, opt, rc = 1;
        static const char *const names[4] = { "id", "name", "lat", "lon" };

        spate_log_init("load-coordinates");
        while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
                switch (opt) {
                case 't': topic = optarg; break;
                case 'b': boot = optarg; break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (optind != argc - 1 || !topic) {
                usage(stderr);
                return 2;
        }
        file = argv[optind];
        if (!boot || !*boot)
                boot = "127.0.0.1:9092";
        if (!(c.fp = fopen(file, "r"))) {
                fprintf(stderr, "spate load-coordinates: %s: %s\n", file, strerror(errno));
                return 1;
        }
        if (csv_read(&c) != 1) {
                fprintf(stderr, "spate load-coordinates: %s: no header line\n", file);
                goto out;
        }
        for (int i = 0; i < c.ncols; i++) {
                trim(c.field[i].data);
                for (int k = 0; k < 4; k++)
                        if (!strcasecmp(c.field[i].data, names[k]) && col[k] < 0)
                                col[k] = i;
        }
        for (int k = 0; k < 4; k++)
                if (col[k] < 0 && k != 1) {
                        fprintf(stderr, "spate load-coordinates: %s:1: the header has no '%s' column "
                                "(want id,name,lat,lon)\n", file, names[k]);
                        goto out;
                }

        conf = rd_kafka_conf_new();
        if (rd_kafka_conf_set(conf, "bootstrap.servers", boot, errstr, sizeof(errstr)) ||
            rd_kafka_conf_set(conf, "compression.codec", "lz4", errstr, sizeof(errstr)) ||
            rd_kafka_conf_set(conf, "linger.ms", "20", errstr, sizeof(errstr)) ||
            rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof(errstr))) {
                fprintf(stderr, "spate load-coordinates: %s\n", errstr);
                goto out;
        }
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr)))) {
                fprintf(stderr, "spate load-coordinates: %s\n", errstr);
                goto out;
        }
        conf = NULL;

        for (;;) {
                int r = csv_read(&c);
                if (r == 0)
                        break;
                if (c.ncols == 1 && c.field[0].len <= 1)
                        continue;  /* blank line */
                const char *why = NULL;
                char *id = c.field[col[0]].data;
                if (r < 0)
                        why = "malformed CSV (unterminated quote or too many columns)";
                if (!why) {
                        for (int k = 0; k < 4; k++)
                                if (col[k] >= c.ncols && k != 1)
                                        why = "too few columns";
                }
                if (!why) {
                        trim(id);
                        trim(c.field[col[2]].data);
                        trim(c.field[col[3]].data);
                        if (!*id)
                                why = "empty id";
                        else if (!coord_ok(fld(&c, col[2]), -90, 90))
                                why = "lat is not a number in [-90, 90]";
                        else if (!coord_ok(fld(&c, col[3]), -180, 180))
                                why = "lon is not a number in [-180, 180]";
                }
                if (why) {
                        fprintf(stderr, "%s:%ld: %s; row skipped\n", file, c.line, why);
                        bad++;
                        continue;
                }
                const char *name = col[1] >= 0 ? fld(&c, col[1]) : "";
                val.len = 0;
                spate_buf_put(&val, "{\"id\":", 6);
                spate_json_write_str(&val, id, strlen(id));
                spate_buf_put(&val, ",\"name\":", 8);
                spate_json_write_str(&val, name, strlen(name));
                spate_buf_put(&val, ",\"lat\":", 7);
                spate_buf_put(&val, fld(&c, col[2]), strlen(fld(&c, col[2])));
                spate_buf_put(&val, ",\"lon\":", 7);
                spate_buf_put(&val, fld(&c, col[3]), strlen(fld(&c, col[3])));
                spate_buf_putc(&val, '}');
                for (;;) {
                        rd_kafka_resp_err_t err = rd_kafka_producev(
                                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(id, strlen(id)),
                                RD_KAFKA_V_VALUE(val.data, val.len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
                        if (!err)
                                break;
                        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                                fprintf(stderr, "spate load-coordinates: produce: %s\n",
                                        rd_kafka_err2str(err));
                                goto out;
                        }
                        rd_kafka_poll(rk, 50);
                }
                ok++;
                rd_kafka_poll(rk, 0);
        }
        if (rd_kafka_flush(rk, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                fprintf(stderr, "spate load-coordinates: %d messages not delivered within 60 s\n",
                        rd_kafka_outq_len(rk));
                goto out;
        }
        if (delivery_failed) {
                fprintf(stderr, "spate load-coordinates: %d deliveries failed\n", delivery_failed);
                goto out;
        }
        printf("loaded %ld coordinates into %s (%ld bad rows skipped)\n", ok, topic, bad);
        rc = 0;
out:
        if (rk)
                rd_kafka_destroy(rk);
        if (conf)
                rd_kafka_conf_destroy(conf);
        for (int i = 0; i < MAX_COLS; i++)
                spate_buf_free(&c.field[i]);
        spate_buf_free(&val);
        fclose(c.fp);
        return rc;
}
