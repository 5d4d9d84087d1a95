/* cmd_nodes.c - `spate nodes`: the node-type reference, written from the
 * property tables so the README's reference cannot drift from the code. */
#include "commands.h"
#include "../engine/node.h"

#include <stdio.h>
#include <string.h>

static const char *type_name(spate_prop_type_t t) {
        static const char *names[] = { "string", "integer", "bool", "duration", "enum",
                                       "expression", "mapping", "list", "integer >= 1" };
        return names[t];
}

static void print_node(const spate_op_def_t *d) {
        static const char *roles[] = { "source", "operator", "sink" };
        printf("### `%s` (%s)\n\n%s\n\n", d->name, roles[d->role], d->doc);
        printf("| key | type | default | meaning |\n|---|---|---|---|\n");
        for (const spate_prop_t *p = d->props; p && p->name; p++) {
                printf("| `%s` | %s", p->name, type_name(p->type));
                /* A bare '|' would end the Markdown cell. */
                for (const char *c = p->choices; c && *c; c++)
                        printf("%s%s", c == p->choices ? ": " : "", *c == '|' ? " \\| " : (char[2]){ *c, 0 });
                printf(" | %s | %s |\n", p->required ? "**required**" : p->def ? p->def : "", p->doc);
        }
        printf("\n");
}

int spate_cmd_nodes(int argc, char **argv) {
        if (argc > 1) {
                fprintf(strcmp(argv[1], "--help") ? stderr : stdout,
                        "usage: spate nodes\nPrints every node type and its keys as Markdown.\n");
                return strcmp(argv[1], "--help") ? 2 : 0;
        }
        for (const spate_op_def_t *const *d = spate_op_all(); *d; d++)
                print_node(*d);
        return 0;
}
