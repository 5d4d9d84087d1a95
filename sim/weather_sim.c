/* weather_sim.c - `spate weather-sim`: a fake OpenWeatherMap (One Call and Current Weather) with API keys,
 * rate limits and injected faults, so spate's HTTP enrichment can be tested offline.
 * This file is the command line; weather_server.c serves, weather_model.c is the weather. */
#include "../cli/commands.h"
#include "weather_server.h"
#include "../util/log.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *fp) {
        fprintf(fp,
"usage: spate weather-sim [options]\n"
"Serves OpenWeatherMap's One Call (/data/2.5/onecall, /data/3.0/onecall) and Current Weather\n"
"(/data/2.5/weather?lat=&lon=) APIs\n"
"backed by a deterministic moving-rain-cell model; prints its URL on stdout when ready.\n\n"
"  --listen HOST:PORT     address to bind (default 127.0.0.1:8080; port 0 = any free port)\n"
"  --keys K1,K2           accepted appid values (default: any non-empty appid)\n"
"  --rate-limit N/min     per-key limit over any sliding 60 s window; excess gets 429\n"
"  --speed F              simulated time runs F times wall clock (default 1)\n"
"  --start UNIX_S         simulated start time (default: now, rounded down to the minute)\n"
"  --seed N               model and fault seed (default 42)\n"
"  --error-rate P         fraction of requests answered HTTP 500\n"
"  --malformed-rate P     fraction answered 200 with a body that is not One Call JSON\n"
"  --truncate-rate P      fraction whose body stops halfway (connection dropped)\n"
"  --timeout-rate P       fraction that hang --timeout-ms before answering\n"
"  --negative-rate P      fraction whose minutely has one negative precipitation\n"
"  --timeout-ms N         hang length (default 30000; 0 = never answer)\n"
"  --latency-ms N         delay added to every weather answer\n"
"  --log FILE             one line per request: unix_ms instance lat lon status fault\n"
"  --threads N            HTTP worker threads (default: CPU count)\n\n"
"Also: GET /stats (counters), GET /sim/onecall and /sim/weather ?lat=&lon=[&t=UNIX_S] (model,\n"
"no key/faults),\n"
"POST /sim/control?latency_ms=N (changes --latency-ms while running).\n");
}

static int parse_double(const char *v, double lo, double hi, double *out) {
        char *end;
        errno = 0;
        *out = strtod(v, &end);
        return (*end || end == v || errno || !(*out >= lo && *out <= hi)) ? -1 : 0;
}

static int parse_rate(const char *v, double *out) {
        return parse_double(v, 0.0, 1.0, out);
}

static int parse_seed(const char *v, uint64_t *out) {
        char *end;
        errno = 0;
        *out = strtoull(v, &end, 10);
        return (*end || end == v || errno || *v == '-') ? -1 : 0;
}

static int parse_long(const char *v, long lo, long *out) {
        char *end;
        errno = 0;
        *out = strtol(v, &end, 10);
        return (*end || errno || end == v || *out < lo) ? -1 : 0;
}

static int parse_listen(const char *v, spate_weather_server_opts_t *o) {
        const char *colon = strrchr(v, ':');
        size_t hl;

        if (!colon || !colon[1] || strlen(colon + 1) >= sizeof(o->port))
                return -1;
        hl = (size_t)(colon - v);
        if (hl >= 2 && v[0] == '[' && v[hl - 1] == ']') {  /* [::1]:8080 */
                v++;
                hl -= 2;
        }
        if (hl == 0 || hl >= sizeof(o->host))
                return -1;
        memcpy(o->host, v, hl);
        o->host[hl] = '\0';
        snprintf(o->port, sizeof(o->port), "%s", colon + 1);
        return 0;
}

static int parse_rate_limit(const char *v, long *out) {
        char *end;
        errno = 0;
        *out = strtol(v, &end, 10);
        if (errno || end == v || *out < 0)
                return -1;
        return (!*end || !strcmp(end, "/min") || !strcmp(end, "/m")) ? 0 : -1;
}

/* Returns 0, 1 for --help, or -1 after printing what is wrong. */
static int parse_opts(int argc, char **argv, spate_weather_server_opts_t *o) {
        static const struct option longopts[] = {
                { "listen", 1, 0, 'l' }, { "keys", 1, 0, 'k' }, { "rate-limit", 1, 0, 'r' },
                { "speed", 1, 0, 's' }, { "start", 1, 0, 'S' }, { "seed", 1, 0, 'e' },
                { "error-rate", 1, 0, 'E' }, { "malformed-rate", 1, 0, 'M' },
                { "truncate-rate", 1, 0, 'T' }, { "timeout-rate", 1, 0, 'O' },
                { "timeout-ms", 1, 0, 'o' }, { "latency-ms", 1, 0, 'L' }, { "log", 1, 0, 'g' },
                { "threads", 1, 0, 'j' }, { "negative-rate", 1, 0, 'N' }, { "help", 0, 0, 'h' },
                { 0, 0, 0, 0 }
        };
        long v;
        int c, idx = 0, bad = 0;

        while (!bad && (c = getopt_long(argc, argv, "h", longopts, &idx)) != -1) {
                switch (c) {
                case 'l': bad = parse_listen(optarg, o); break;
                case 'k': o->keys = optarg; break;
                case 'r': bad = parse_rate_limit(optarg, &o->rate_limit); break;
                case 's': bad = parse_double(optarg, 1e-6, 1e6, &o->speed); break;
                case 'S': bad = parse_long(optarg, 0, &v); o->start_s = v; break;
                case 'e': bad = parse_seed(optarg, &o->seed); break;
                case 'E': bad = parse_rate(optarg, &o->error_rate); break;
                case 'M': bad = parse_rate(optarg, &o->malformed_rate); break;
                case 'T': bad = parse_rate(optarg, &o->truncate_rate); break;
                case 'O': bad = parse_rate(optarg, &o->timeout_rate); break;
                case 'N': bad = parse_rate(optarg, &o->negative_rate); break;
                case 'o': bad = parse_long(optarg, 0, &o->timeout_ms); break;
                case 'L': bad = parse_long(optarg, 0, &o->latency_ms); break;
                case 'g': o->log_path = optarg; break;
                case 'j': bad = parse_long(optarg, 1, &v); o->threads = (unsigned)v; break;
                case 'h': usage(stdout); return 1;
                default: usage(stderr); return -1;
                }
                if (bad)
                        fprintf(stderr, "spate weather-sim: bad value for --%s: '%s'\n",
                                longopts[idx].name, optarg);
        }
        if (!bad && optind < argc) {
                fprintf(stderr, "spate weather-sim: unexpected argument '%s'\n", argv[optind]);
                bad = 1;
        }
        return bad ? -1 : 0;
}

/* Blocks SIGINT/SIGTERM in every thread (they inherit the mask) so only sigwait sees them. */
static void block_signals(sigset_t *set) {
        sigemptyset(set);
        sigaddset(set, SIGINT);
        sigaddset(set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, set, NULL);
        signal(SIGPIPE, SIG_IGN);
}

int spate_cmd_weather_sim(int argc, char **argv) {
        spate_weather_server_opts_t o = { .host = "127.0.0.1", .port = "8080", .speed = 1.0,
                                          .start_s = -1, .seed = 42, .timeout_ms = 30000 };
        spate_weather_server_t *srv;
        char errstr[512];
        sigset_t set;
        unsigned port = 0;
        int sig, rc;

        if ((rc = parse_opts(argc, argv, &o)))
                return rc > 0 ? 0 : 2;
        block_signals(&set);
        if (!(srv = spate_weather_server_start(&o, &port, errstr, sizeof(errstr)))) {
                spate_err("%s", errstr);
                return 1;
        }
        /* The one stdout line scripts wait for. */
        if (strchr(o.host, ':'))
                printf("http://[%s]:%u\n", o.host, port);
        else
                printf("http://%s:%u\n", o.host, port);
        fflush(stdout);
        sigwait(&set, &sig);
        spate_info("signal %d: shutting down", sig);
        spate_weather_server_stop(srv);
        return 0;
}
