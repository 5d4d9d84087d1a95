/* iot_sim.c - `spate iot-sim`: simulated sensors publishing JSON readings to
 * an MQTT broker with QoS 1 (libmosquitto), for the MQTT tests, benchmarks and
 * demos.
 *
 * The sensors come from a JSON file (topology/iot_sensors.json): id, type,
 * unit and range each. Every round each sensor publishes one reading on
 * PREFIX/<id>/<type>: {"ts":..,"seq":..,"value":..,"unit":..}, with ts on a
 * virtual clock (--start + round * --every), so a seed gives the same
 * readings at any publishing rate. Faults, all drawn from the seed:
 * dropouts (a reading skipped), spikes (a value far outside the range), a
 * stuck sensor (its first value forever) and a silent one (publishes
 * nothing); --malformed N breaks every Nth payload. --log writes one JSON
 * line per message published, the reference a test compares with. The run
 * ends once the broker acknowledged every message. */
#include "../cli/commands.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <mosquitto.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct sensor {
        const char *id, *type, *unit;
        double lo, hi, phase, first;
} sensor_t;

typedef struct sim {
        /* options */
        const char *url, *sensors_path, *prefix, *log_path, *stuck, *silent, *client_id;
        long rounds, malformed;
        double rate, dropout, spike;
        int64_t every_ms, start_ms;
        uint64_t seed;
        /* state */
        json_t *doc;
        sensor_t *s;
        int ns;
        uint64_t rnd;
        atomic_int connected;
        atomic_long acked;
        long published, dropped, spikes, broken;
} sim_t;

static uint64_t next_rnd(sim_t *m) {
        m->rnd ^= m->rnd >> 12;
        m->rnd ^= m->rnd << 25;
        m->rnd ^= m->rnd >> 27;
        return m->rnd * UINT64_C(2685821657736338717);
}

static double uniform(sim_t *m) {
        return (double)(next_rnd(m) >> 11) / 9007199254740992.0;
}

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int usage(void) {
        fprintf(stderr,
                "usage: spate iot-sim [--url mqtt://HOST:PORT] [--sensors FILE] [--prefix sensors]\n"
                "         [--rounds 60] [--every-ms 1000] [--start MS] [--rate 100] [--seed 1]\n"
                "         [--dropout 0.02] [--spike 0.01] [--stuck ID|none] [--silent ID|none]\n"
                "         [--malformed N] [--log FILE] [--client-id ID]\n"
                "Publishes one reading per sensor per round to PREFIX/<id>/<type> with QoS 1.\n"
                "--url defaults to $MQTT_URL; $MQTT_USERNAME and $MQTT_PASSWORD are the credentials.\n"
                "--rate is messages per second (0: as fast as the broker takes them); --start is the\n"
                "event time of round 0 in ms (default: now, to the second). --stuck and --silent\n"
                "default to the last two sensors of the file. --log writes every published message.\n");
        return 2;
}

static int parse_args(sim_t *m, int argc, char **argv) {
        static const struct option opts[] = {
                { "url", 1, 0, 'u' }, { "sensors", 1, 0, 'f' }, { "prefix", 1, 0, 'p' },
                { "rounds", 1, 0, 'n' }, { "every-ms", 1, 0, 'e' }, { "start", 1, 0, 't' },
                { "rate", 1, 0, 'r' }, { "seed", 1, 0, 's' }, { "dropout", 1, 0, 'd' },
                { "spike", 1, 0, 'k' }, { "stuck", 1, 0, 'S' }, { "silent", 1, 0, 'Q' },
                { "malformed", 1, 0, 'm' }, { "log", 1, 0, 'l' }, { "client-id", 1, 0, 'c' },
                { "help", 0, 0, 'h' }, { 0, 0, 0, 0 }
        };
        int c;
        char *end = NULL;
        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                errno = 0;
                switch (c) {
                case 'u': m->url = optarg; break;
                case 'f': m->sensors_path = optarg; break;
                case 'p': m->prefix = optarg; break;
                case 'n': m->rounds = strtol(optarg, &end, 10); break;
                case 'e': m->every_ms = strtoll(optarg, &end, 10); break;
                case 't': m->start_ms = strtoll(optarg, &end, 10); break;
                case 'r': m->rate = strtod(optarg, &end); break;
                case 's': m->seed = strtoull(optarg, &end, 10); break;
                case 'd': m->dropout = strtod(optarg, &end); break;
                case 'k': m->spike = strtod(optarg, &end); break;
                case 'S': m->stuck = optarg; break;
                case 'Q': m->silent = optarg; break;
                case 'm': m->malformed = strtol(optarg, &end, 10); break;
                case 'l': m->log_path = optarg; break;
                case 'c': m->client_id = optarg; break;
                default: return usage();
                }
                if (end && (*end || errno)) {
                        fprintf(stderr, "spate iot-sim: bad number '%s'\n", optarg);
                        return 2;
                }
                end = NULL;
        }
        if (optind < argc || m->rounds < 1 || m->every_ms < 1 || m->rate < 0 || m->malformed < 0 ||
            !(m->dropout >= 0 && m->dropout <= 1) || !(m->spike >= 0 && m->spike <= 1))
                return usage();
        return 0;
}

/* {"source": ..., "sensors": [{"id","type","unit","range":[lo,hi]}, ...]} */
static int load_sensors(sim_t *m) {
        json_error_t err;
        if (!(m->doc = json_load_file(m->sensors_path, 0, &err))) {
                fprintf(stderr, "spate iot-sim: %s:%d: %s\n", m->sensors_path, err.line, err.text);
                return -1;
        }
        json_t *arr = json_object_get(m->doc, "sensors");
        m->ns = (int)json_array_size(arr);
        if (!m->ns) {
                fprintf(stderr, "spate iot-sim: %s: no \"sensors\" array\n", m->sensors_path);
                return -1;
        }
        if (!(m->s = calloc((size_t)m->ns, sizeof(*m->s))))
                abort();
        for (int i = 0; i < m->ns; i++) {
                json_t *o = json_array_get(arr, (size_t)i), *r = json_object_get(o, "range");
                sensor_t *s = &m->s[i];
                s->id = json_string_value(json_object_get(o, "id"));
                s->type = json_string_value(json_object_get(o, "type"));
                s->unit = json_string_value(json_object_get(o, "unit"));
                s->lo = json_number_value(json_array_get(r, 0));
                s->hi = json_number_value(json_array_get(r, 1));
                if (!s->id || !s->type || !s->unit || !(s->hi > s->lo) || strpbrk(s->id, "/+#")) {
                        fprintf(stderr, "spate iot-sim: %s: sensor %d needs id (no / + #), type, "
                                "unit and range [lo, hi] with lo < hi\n", m->sensors_path, i);
                        return -1;
                }
                s->phase = uniform(m);
        }
        return 0;
}

/* A reading of sensor s at event time ts: a daily-ish wave plus noise. */
static double reading(sim_t *m, const sensor_t *s, int64_t ts) {
        double mid = (s->lo + s->hi) / 2, amp = (s->hi - s->lo) / 4;
        double noise = (uniform(m) + uniform(m) + uniform(m) - 1.5) * (s->hi - s->lo) * 0.01;
        double v = mid + amp * sin(2 * M_PI * ((double)ts / 3600000.0 + s->phase)) + noise;
        return round(v * 100) / 100;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc) {
        sim_t *m = obj;
        (void)mosq;
        if (rc)
                fprintf(stderr, "spate iot-sim: connection refused: %s\n", mosquitto_connack_string(rc));
        atomic_store(&m->connected, rc ? -1 : 1);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid) {
        sim_t *m = obj;
        (void)mosq;
        (void)mid;
        atomic_fetch_add(&m->acked, 1);
}

static struct mosquitto *connect_broker(sim_t *m) {
        char host[256];
        int port = 1883;
        const char *s = m->url;
        if (!strncmp(s, "mqtt://", 7))
                s += 7;
        if (sscanf(s, "%255[^:/]:%d", host, &port) < 1 || port < 1 || port > 65535) {
                fprintf(stderr, "spate iot-sim: --url must be mqtt://HOST:PORT\n");
                return NULL;
        }
        struct mosquitto *mosq = mosquitto_new(m->client_id, true, m);
        if (!mosq)
                return NULL;
        mosquitto_int_option(mosq, MOSQ_OPT_SEND_MAXIMUM, 65535);
        mosquitto_username_pw_set(mosq, getenv("MQTT_USERNAME"), getenv("MQTT_PASSWORD"));
        mosquitto_connect_callback_set(mosq, on_connect);
        mosquitto_publish_callback_set(mosq, on_publish);
        int rc = mosquitto_connect(mosq, host, port, 30);
        if (rc == MOSQ_ERR_SUCCESS)
                rc = mosquitto_loop_start(mosq);
        for (int i = 0; rc == MOSQ_ERR_SUCCESS && i < 1000 && !atomic_load(&m->connected); i++)
                usleep(10000);
        if (rc || atomic_load(&m->connected) != 1) {
                fprintf(stderr, "spate iot-sim: cannot connect to %s:%d: %s\n", host, port,
                        rc ? mosquitto_strerror(rc) : "no CONNACK");
                mosquitto_destroy(mosq);
                return NULL;
        }
        return mosq;
}

/* Publishes one message, retrying while the client reconnects. */
static int publish(sim_t *m, struct mosquitto *mosq, const char *topic, const char *payload) {
        for (int tries = 0; tries < 3000; tries++) {
                int rc = mosquitto_publish(mosq, NULL, topic, (int)strlen(payload), payload, 1, false);
                if (rc == MOSQ_ERR_SUCCESS) {
                        m->published++;
                        return 0;
                }
                if (rc != MOSQ_ERR_NO_CONN && rc != MOSQ_ERR_CONN_LOST) {
                        fprintf(stderr, "spate iot-sim: publish: %s\n", mosquitto_strerror(rc));
                        return -1;
                }
                usleep(10000);
        }
        fprintf(stderr, "spate iot-sim: publish: not connected for 30 s\n");
        return -1;
}

/* Waits until message k may go out at --rate. */
static void pace(const sim_t *m, int64_t t0, long k) {
        if (m->rate <= 0)
                return;
        int64_t due = t0 + (int64_t)((double)k * 1000.0 / m->rate), now = now_ms();
        if (due > now)
                usleep((useconds_t)(due - now) * 1000);
}

static int run_rounds(sim_t *m, struct mosquitto *mosq, FILE *log) {
        char topic[512], payload[512];
        int64_t t0 = now_ms();
        long k = 0;
        for (long r = 0; r < m->rounds; r++)
                for (int i = 0; i < m->ns; i++) {
                        sensor_t *s = &m->s[i];
                        int64_t ts = m->start_ms + r * m->every_ms;
                        double v = reading(m, s, ts);
                        double u_drop = uniform(m), u_spike = uniform(m);
                        const char *fault = NULL;
                        if (m->silent && !strcmp(s->id, m->silent))
                                continue;
                        if (u_drop < m->dropout) {
                                m->dropped++;
                                continue;
                        }
                        if (m->stuck && !strcmp(s->id, m->stuck)) {
                                if (r == 0)
                                        s->first = v;
                                v = s->first;
                                fault = "stuck";
                        } else if (u_spike < m->spike) {
                                v = s->hi + (s->hi - s->lo) * 0.5;
                                fault = "spike";
                                m->spikes++;
                        }
                        snprintf(topic, sizeof(topic), "%s/%s/%s", m->prefix, s->id, s->type);
                        int n = snprintf(payload, sizeof(payload),
                                         "{\"ts\":%lld,\"seq\":%ld,\"value\":%.2f,\"unit\":\"%s\"}",
                                         (long long)ts, r, v, s->unit);
                        if (m->malformed && (k + 1) % m->malformed == 0) {
                                payload[n / 2] = '\0';   /* cut in the middle: not JSON */
                                fault = "malformed";
                                m->broken++;
                        }
                        pace(m, t0, k++);
                        if (publish(m, mosq, topic, payload))
                                return -1;
                        if (log) {
                                json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s?}", "topic", topic,
                                                      "payload", payload, "sensor", s->id,
                                                      "round", (json_int_t)r, "fault", fault);
                                json_dumpf(o, log, JSON_COMPACT);
                                fputc('\n', log);
                                json_decref(o);
                        }
                }
        return 0;
}

int spate_cmd_iot_sim(int argc, char **argv) {
        sim_t m = { .url = getenv("MQTT_URL"), .sensors_path = "topology/iot_sensors.json",
                    .prefix = "sensors", .rounds = 60, .every_ms = 1000, .rate = 100, .seed = 1,
                    .dropout = 0.02, .spike = 0.01 };
        char cid[64];
        int rc = parse_args(&m, argc, argv);
        if (rc)
                return rc;
        if (!m.url)
                m.url = "mqtt://127.0.0.1:1883";
        if (!m.start_ms)
                m.start_ms = now_ms() / 1000 * 1000;
        m.rnd = m.seed * UINT64_C(0x9E3779B97F4A7C15) + 1;
        if (load_sensors(&m))
                return 1;
        if (!m.stuck && m.ns >= 2)
                m.stuck = m.s[m.ns - 2].id;
        if (!m.silent && m.ns >= 1)
                m.silent = m.s[m.ns - 1].id;
        if (m.stuck && !strcmp(m.stuck, "none"))
                m.stuck = NULL;
        if (m.silent && !strcmp(m.silent, "none"))
                m.silent = NULL;
        if (!m.client_id) {
                snprintf(cid, sizeof(cid), "spate-iot-sim-%d", (int)getpid());
                m.client_id = cid;
        }
        FILE *log = m.log_path ? fopen(m.log_path, "w") : NULL;
        if (m.log_path && !log) {
                fprintf(stderr, "spate iot-sim: %s: %s\n", m.log_path, strerror(errno));
                return 1;
        }
        mosquitto_lib_init();
        struct mosquitto *mosq = connect_broker(&m);
        rc = mosq ? run_rounds(&m, mosq, log) : -1;
        int64_t t_end = now_ms() + 60000;
        while (mosq && !rc && atomic_load(&m.acked) < m.published && now_ms() < t_end)
                usleep(10000);
        long acked = atomic_load(&m.acked);
        if (mosq) {
                mosquitto_disconnect(mosq);
                mosquitto_loop_stop(mosq, false);
                mosquitto_destroy(mosq);
        }
        mosquitto_lib_cleanup();
        if (log && fclose(log))
                rc = -1;
        fprintf(stderr, "spate iot-sim: %d sensors, %ld rounds: published %ld messages (%ld "
                "acknowledged; %ld spikes, %ld malformed), %ld dropouts; stuck %s, silent %s\n",
                m.ns, m.rounds, m.published, acked, m.spikes, m.broken, m.dropped,
                m.stuck ? m.stuck : "none", m.silent ? m.silent : "none");
        free(m.s);
        json_decref(m.doc);
        return rc || acked < m.published ? 1 : 0;
}
