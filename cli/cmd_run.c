/* cmd_run.c - `spate run FILE` and `spate check FILE`. */
#include "commands.h"
#include "../core/engine.h"
#include "../core/log.h"
#include "../core/topology.h"
#include "../core/util.h"

#include <signal.h>
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

int spate_cmd_run(int argc, char **argv) {
        char errstr[2048];
        struct sigaction sa = { .sa_handler = on_signal };
        spate_topology_t *t = load(argc, argv, "usage: spate run FILE [--until-idle DURATION]\n"
                                   "Runs a topology until SIGINT/SIGTERM (then commits and leaves the group).\n"
                                   "--until-idle 5s also stops once no record arrived for 5 s (batch runs).\n");
        int64_t idle = 0;
        int rc;
        if (!t)
                return 1;
        int args_ok = argc == 2 || (argc == 4 && !strcmp(argv[2], "--until-idle") &&
                                    !spate_parse_duration(argv[3], &idle));
        if (!args_ok) {
                char why[256];
                if (argc == 4 && !strcmp(argv[2], "--until-idle"))
                        fprintf(stderr, "spate run: --until-idle %s\n",
                                spate_duration_why(argv[3], why, sizeof(why)));
                fprintf(stderr, "usage: spate run FILE [--until-idle DURATION]\n");
                spate_topology_destroy(t);
                return 2;
        }
        if (!(running = spate_engine_new(t, errstr, sizeof(errstr)))) {
                spate_err("%s", errstr);
                spate_topology_destroy(t);
                return 1;
        }
        spate_engine_set_until_idle(running, idle);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        rc = spate_engine_run(running);
        spate_engine_destroy(running);
        running = NULL;
        spate_topology_destroy(t);
        return rc ? 1 : 0;
}
