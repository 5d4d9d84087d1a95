/* commands.h - prototypes of the subcommand entry points listed in commands.def. */
#ifndef SPATE_COMMANDS_H
#define SPATE_COMMANDS_H

/* Every subcommand takes argv with argv[0] = its own name and returns the
 * process exit code. */
#define SPATE_CMD(name, fn, help) int fn(int argc, char **argv);
#include "commands.def"
#undef SPATE_CMD

#endif
