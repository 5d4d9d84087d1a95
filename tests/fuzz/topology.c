/* topology.c - fuzzes the topology loader (util/yaml.c, engine/topology.c and
 * every node type's init): the input is written to a file and loaded as
 * `spate check` does, then printed. */
#include "fuzz.h"
#include "../../engine/topology.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static FILE *devnull;
        char err[1024];
        if (!devnull) {
                fuzz_quiet();
                devnull = fopen("/dev/null", "w");
        }
        spate_topology_t *t = spate_topology_load(fuzz_scratch(data, size, ".yaml"), err, sizeof(err));
        if (t)
                spate_topology_print(t, devnull);
        spate_topology_destroy(t);
        return 0;
}
