/* main.c - the spate executable: dispatches to the subcommands of commands.def. */
#include "commands.h"
#include "../util/log.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>

#define SPATE_VERSION "0.1.0"

struct command {
        const char *name;
        int (*fn)(int argc, char **argv);
        const char *help;
};

static const struct command commands[] = {
#define SPATE_CMD(name, fn, help) { name, fn, help },
#include "commands.def"
#undef SPATE_CMD
};

int spate_cmd_version(int argc, char **argv) {
        (void)argc;
        (void)argv;
        printf("spate %s (librdkafka %s)\n", SPATE_VERSION, rd_kafka_version_str());
        return 0;
}

static void usage(FILE *fp) {
        fprintf(fp, "usage: spate <command> [options]\n\ncommands:\n");
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                fprintf(fp, "  %-18s %s\n", commands[i].name, commands[i].help);
        fprintf(fp, "\n'spate <command> --help' describes a command's options.\n");
}

int main(int argc, char **argv) {
        if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
                usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? 2 : 0;
        }
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
                if (!strcmp(argv[1], commands[i].name)) {
                        spate_log_init(commands[i].name);
                        return commands[i].fn(argc - 1, argv + 1);
                }
        }
        fprintf(stderr, "spate: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
}
