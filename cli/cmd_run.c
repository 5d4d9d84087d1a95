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

#define RUN_USAGE \
        "usage: spate run FILE [--until-idle DURATION [--end-of-input]]\n"

/* The options after FILE: 0, or -1 for a bad one. */
static int run_options(int argc, char **argv, int64_t *idle, int *eoi) {
        for (int i = 2; i < argc; i++) {
                if (!strcmp(argv[i], "--until-idle") && i + 1 < argc) {
                        char why[256];
                        if (spate_parse_duration(argv[++i], idle)) {
                                fprintf(stderr, "spate run: --until-idle %s\n",
                                        spate_duration_why(argv[i], why, sizeof(why)));
                                return -1;
                        }
                        if (*idle <= 0) {
                                fprintf(stderr, "spate run: --until-idle '%s': it must be more than 0\n", argv[i]);
                                return -1;
                        }
                } else if (!strcmp(argv[i], "--end-of-input")) {
                        *eoi = 1;
                } else {
                        fprintf(stderr, "spate run: unknown option '%s'\n" RUN_USAGE, argv[i]);
                        return -1;
                }
        }
        if (*eoi && !*idle) {
                fprintf(stderr, "spate run: --end-of-input needs --until-idle (how long the sources must be "
                        "idle to be at their end)\n");
                return -1;
        }
        return 0;
}

int spate_cmd_run(int argc, char **argv) {
        char errstr[2048];
        struct sigaction sa = { .sa_handler = on_signal };
        spate_topology_t *t = load(argc, argv, RUN_USAGE
                                   "Runs a topology until SIGINT/SIGTERM (then commits and leaves the group).\n"
                                   "--until-idle 5s also stops once no record arrived for 5 s (batch runs).\n"
                                   "--end-of-input: then the end of the input is the end of the stream: every\n"
                                   "  window closes and emits its final value before the run ends.\n");
        int64_t idle = 0;
        int eoi = 0, rc;
        if (!t)
                return 1;
        if (run_options(argc, argv, &idle, &eoi)) {
                spate_topology_destroy(t);
                return 2;
        }
        if (!(running = spate_engine_new(t, errstr, sizeof(errstr)))) {
                spate_err("%s", errstr);
                spate_topology_destroy(t);
                return 1;
        }
        spate_engine_set_until_idle(running, idle);
        spate_engine_set_end_of_input(running, eoi);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        rc = spate_engine_run(running);
        spate_engine_destroy(running);
        running = NULL;
        spate_topology_destroy(t);
        return rc ? 1 : 0;
}
