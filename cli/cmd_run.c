/* cmd_run.c - `spate run FILE` and `spate check FILE`. */
#include "commands.h"
#include "http_server.h"
#include "../core/engine.h"
#include "../core/log.h"
#include "../core/topology.h"
#include "../core/node.h"
#include "../core/util.h"

#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static spate_engine_t *running;

static void on_signal(int sig) {
        (void)sig;
        if (running)
                spate_engine_stop(running);
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

#define RUN_USAGE "usage: spate run FILE [--until-idle DURATION] [--http HOST:PORT]\n"

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
                                   "Runs a topology until SIGINT/SIGTERM (then commits and leaves the group).\n"
                                   "--until-idle 5s also stops once no record arrived for 5 s (batch runs).\n"
                                   "--http 127.0.0.1:9464 serves /metrics (Prometheus), /health, /ready and\n"
                                   "  the live map at / (port 0: any free port; the log says which);\n"
                                   "  the environment's SPATE_HTTP is the default.\n");
        spate_http_server_t *http = NULL;
        const char *http_addr = getenv("SPATE_HTTP");   /* compose sets it for every instance */
        int64_t idle = 0;
        int rc, args_ok = t != NULL;
        if (!t)
                return 1;
        for (int i = 2; i < argc && args_ok; i += 2) {
                if (i + 1 < argc && !strcmp(argv[i], "--until-idle"))
                        args_ok = !spate_parse_duration(argv[i + 1], &idle);
                else if (i + 1 < argc && !strcmp(argv[i], "--http"))
                        http_addr = argv[i + 1];
                else
                        args_ok = 0;
        }
        if (http_addr && !*http_addr)
                http_addr = NULL;
        if (!args_ok) {
                fprintf(stderr, RUN_USAGE);
                spate_topology_destroy(t);
                return 2;
        }
        if (!(running = spate_engine_new(t, errstr, sizeof(errstr))) ||
            (http_addr && !(http = spate_http_start(http_addr, running, map_regions(t, regions, sizeof(regions)),
                                                    errstr, sizeof(errstr))))) {
                spate_err("%s", errstr);
                spate_engine_destroy(running);
                spate_topology_destroy(t);
                return 1;
        }
        spate_engine_set_until_idle(running, idle);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        rc = spate_engine_run(running);
        spate_http_stop(http);
        spate_engine_destroy(running);
        running = NULL;
        spate_topology_destroy(t);
        return rc ? 1 : 0;
}
