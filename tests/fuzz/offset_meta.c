/* offset_meta.c - fuzzes the parser of the metadata committed with a source
 * partition's offset (engine/offset_meta.c), which comes back from the broker. */
#include "fuzz.h"
#include "../../engine/offset_meta.h"

static void entry(void *opaque, const char *node, int64_t time, int64_t cut) {
        *(size_t *)opaque += strlen(node) + (size_t)(time & 1) + (size_t)(cut & 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        size_t sum = 0;
        spate_offset_meta_parse((const char *)data, size, entry, &sum);
        return 0;
}
