/* cmd_run.c - `spate run FILE` and `spate check FILE`. */
#include "commands.h"
#include "http_server.h"
#include "iq_peers.h"
#include "../engine/engine.h"
#include "../util/log.h"
#include "../engine/topology.h"
#include "../engine/node.h"
#include "../util/util.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Exit status of a stop that missed its deadline (README "Stopping"). */
#define EXIT_STOP_TIMEOUT 3

static _Atomic(spate_engine_t *) running;  /* read by on_signal() on any thread */

/* The shutdown deadline. A stop request must end the process even when a
 * library call never returns: librdkafka's consumer close can block for good
 * in the last revoke (librdkafka#4884), and a sink's or a store's close could
 * as well. The watchdog thread wakes at the first signal, or when the run
 * ends by itself (--until-idle, a failure); past settings.shutdown_timeout,
 * or at a second signal, it exits the process as a crash would, naming the
 * step the stop was at (spate_stop_step()). That loses nothing: state and
 * input offsets are committed together (docs/exactness.md), so what was not
 * committed is replayed on restart. */
static sem_t wake;                 /* posted by each signal, the run's end and the stop's end */
static atomic_int nsignals, stop_done;
static int64_t deadline_ms;        /* settings.shutdown_timeout: the topology is freed before the end */
static pthread_t dog;
static int dog_ok;

static void on_signal(int sig) {
        spate_engine_t *e = atomic_load(&running);
        (void)sig;
        if (e)
                spate_engine_stop(e);
        atomic_fetch_add(&nsignals, 1);
        sem_post(&wake);  /* async-signal-safe */
}

static void stop_timed_out(const char *why) {
        spate_err("%s, stuck at step %s: exiting without finishing the stop (status %d); the state is as "
                  "after a crash, and input not committed is replayed on restart", why, spate_stop_step_now(),
                  EXIT_STOP_TIMEOUT);
        _exit(EXIT_STOP_TIMEOUT);
}

static void *watchdog(void *arg) {
        struct timespec at;
        char why[128];

        (void)arg;
        while (sem_wait(&wake) && errno == EINTR)
                ;
        if (atomic_load(&stop_done))
                return NULL;
        clock_gettime(CLOCK_REALTIME, &at);
        at.tv_sec += deadline_ms / 1000;
        at.tv_nsec += deadline_ms % 1000 * 1000000;
        if (at.tv_nsec >= 1000000000) {
                at.tv_sec++;
                at.tv_nsec -= 1000000000;
        }
        for (;;) {
                if (sem_timedwait(&wake, &at)) {
                        if (errno == EINTR)
                                continue;
                        snprintf(why, sizeof(why), "the stop took longer than settings.shutdown_timeout "
                                 "(%lld ms)", (long long)deadline_ms);
                        stop_timed_out(why);
                }
                if (atomic_load(&stop_done))
                        return NULL;
                if (atomic_load(&nsignals) > 1)
                        stop_timed_out("a second stop signal");
        }
}

/* Starts the watchdog and routes SIGINT/SIGTERM to it and the engine. */
static void watch_start(const spate_topology_t *t, const struct sigaction *sa) {
        deadline_ms = t->shutdown_timeout_ms;
        sem_init(&wake, 0, 0);
        dog_ok = !pthread_create(&dog, NULL, watchdog, NULL);
        if (!dog_ok)
                spate_warn("no shutdown watchdog (thread: %s): a stop that blocks is not cut short", strerror(errno));
        sigaction(SIGINT, sa, NULL);
        sigaction(SIGTERM, sa, NULL);
}

/* The stop is over: the watchdog ends. wake is not destroyed: a late signal
 * still posts it. */
static void watch_end(void) {
        atomic_store(&stop_done, 1);
        sem_post(&wake);
        if (dog_ok)
                pthread_join(dog, NULL);
}

static spate_topology_t *load(int argc, char **argv, const char *usage) {
        char errstr[2048];
        spate_topology_t *t;
        if (argc < 2 || argv[1][0] == '-') {
                fprintf(argc == 2 && !strcmp(argv[1], "--help") ? stdout : stderr, "%s", usage);
                return NULL;
        }
        if (!(t = spate_topology_load(argv[1], errstr, sizeof(errstr))))
                fprintf(stderr, "%s\n", errstr);
        return t;
}

int spate_cmd_check(int argc, char **argv) {
        spate_topology_t *t = load(argc, argv, "usage: spate check FILE\n"
                                   "Validates a topology file and prints its graph; exit 0 if valid.\n");
        if (!t)
                return 1;
        spate_topology_print(t, stdout);
        printf("OK\n");
        spate_topology_destroy(t);
        return 0;
}

#define RUN_USAGE \
        "usage: spate run FILE [--until-idle DURATION [--end-of-input]] [--http HOST:PORT\n" \
        "                 [--http-advertise http://HOST:PORT]]\n"

typedef struct {
        int64_t idle;          /* --until-idle, 0: none */
        int end_of_input;      /* --end-of-input */
        const char *http;      /* --http, or SPATE_HTTP; NULL: none */
        const char *advertise; /* --http-advertise, or SPATE_HTTP_ADVERTISE; NULL: the bound address */
} run_opts_t;

/* The options after FILE: 0, or -1 for a bad one (said on stderr). */
static int run_options(int argc, char **argv, run_opts_t *o) {
        o->http = getenv("SPATE_HTTP");  /* compose sets it for every instance */
        o->advertise = getenv("SPATE_HTTP_ADVERTISE");
        for (int i = 2; i < argc; i++) {
                char why[256];
                if (!strcmp(argv[i], "--until-idle") && i + 1 < argc) {
                        if (spate_parse_duration(argv[++i], &o->idle)) {
                                fprintf(stderr, "spate run: --until-idle %s\n",
                                        spate_duration_why(argv[i], why, sizeof(why)));
                                return -1;
                        }
                        if (o->idle <= 0) {
                                fprintf(stderr, "spate run: --until-idle '%s': it must be more than 0\n", argv[i]);
                                return -1;
                        }
                } else if (!strcmp(argv[i], "--end-of-input")) {
                        o->end_of_input = 1;
                } else if (!strcmp(argv[i], "--http") && i + 1 < argc) {
                        o->http = argv[++i];
                } else if (!strcmp(argv[i], "--http-advertise") && i + 1 < argc) {
                        o->advertise = argv[++i];
                } else {
                        fprintf(stderr, "spate run: unknown option '%s'\n" RUN_USAGE, argv[i]);
                        return -1;
                }
        }
        if (o->http && !*o->http)
                o->http = NULL;
        if (o->end_of_input && !o->idle) {
                fprintf(stderr, "spate run: --end-of-input needs --until-idle (how long the sources must be "
                        "idle to be at their end)\n");
                return -1;
        }
        return 0;
}

/* The GeoJSON of the topology's first geo_region node, for the map; NULL if none. */
static const char *map_regions(const spate_topology_t *t, char *path, size_t size) {
        for (int i = 0; i < t->nnodes; i++)
                if (!strcmp(t->nodes[i]->def->name, "geo_region")) {
                        spate_node_path(t->nodes[i], spate_node_str(t->nodes[i], "regions"), path, size);
                        return path;
                }
        return NULL;
}

int spate_cmd_run(int argc, char **argv) {
        char errstr[2048], regions[2048];
        struct sigaction sa = { .sa_handler = on_signal };
        spate_topology_t *t = load(argc, argv, RUN_USAGE
                                   "Runs a topology until SIGINT/SIGTERM (then commits and leaves the group; past\n"
                                   "  settings.shutdown_timeout, or at a second signal, it exits with status 3).\n"
                                   "--until-idle 5s also stops once no record arrived for 5 s (batch runs).\n"
                                   "--end-of-input: then the end of the input is the end of the stream: every\n"
                                   "  window closes and emits its final value before the run ends.\n"
                                   "--http 127.0.0.1:9464 serves /metrics (Prometheus), /health, /ready and\n"
                                   "  the live map at / (port 0: any free port; the log says which),\n"
                                   "  and the state as JSON at /state (README \"Interactive queries\");\n"
                                   "  the environment's SPATE_HTTP is the default.\n"
                                   "--http-advertise http://HOST:PORT: where the other instances reach this\n"
                                   "  one's /state (default: the --http address).\n");
        spate_http_server_t *http = NULL;
        spate_engine_t *e;
        run_opts_t o = { 0 };
        int rc;
        if (!t)
                return 1;
        if (run_options(argc, argv, &o)) {
                spate_topology_destroy(t);
                return 2;
        }
        if (o.http)
                spate_iq_peers_declare(t);
        /* The load freed its parse trees (a GeoJSON file's: ~14 MB of heap for
         * topology/regions/france_regions.geojson), which malloc keeps: the
         * broker threads allocate the prefetched messages in arenas of their
         * own and never reuse them. Returning them lowered the region job's
         * peak RSS by ~10 MB (medians; README, Memory settings). */
        malloc_trim(0);
        if (!(e = spate_engine_new(t, errstr, sizeof(errstr))) ||
            (o.http && !(http = spate_http_start(o.http, e, map_regions(t, regions, sizeof(regions)),
                                                 errstr, sizeof(errstr)))) ||
            (http && spate_http_serve_state(http, t, o.advertise, errstr, sizeof(errstr)))) {
                spate_http_stop(http);
                spate_err("%s", errstr);
                spate_engine_destroy(e);
                spate_topology_destroy(t);
                return 1;
        }
        spate_engine_set_until_idle(e, o.idle);
        spate_engine_set_end_of_input(e, o.end_of_input);
        atomic_store(&running, e);
        watch_start(t, &sa);
        rc = spate_engine_run(e);
        sem_post(&wake);  /* a run that ended by itself is a stop too: the deadline starts */
        spate_stop_step("http_stop");
        spate_http_stop(http);
        atomic_store(&running, NULL);
        spate_engine_destroy(e);
        spate_stop_step("nodes_close");
        spate_topology_destroy(t);
        watch_end();
        return rc ? 1 : 0;
}
