/* registry.c - the table of node types, expanded from operators.def and
 * connectors.def so adding a type touches only its file and one line. */
#include "node.h"

#include <string.h>

#define SPATE_NODE(n) extern const spate_op_def_t spate_op_##n;
#include "../operators/operators.def"
#include "../connectors/connectors.def"
#undef SPATE_NODE

static const spate_op_def_t *const all_defs[] = {
#define SPATE_NODE(n) &spate_op_##n,
#include "../connectors/connectors.def"
#include "../operators/operators.def"
#undef SPATE_NODE
        NULL
};

const spate_op_def_t *spate_op_find(const char *name) {
        for (int i = 0; all_defs[i]; i++)
                if (!strcmp(all_defs[i]->name, name))
                        return all_defs[i];
        return NULL;
}

const spate_op_def_t *const *spate_op_all(void) {
        return all_defs;
}
