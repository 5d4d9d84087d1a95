/* geojson.c - fuzzes the GeoJSON region reader (geo/geojson.c): the
 * input is written to a file and loaded with name property "name". */
#include "fuzz.h"
#include "../../geo/geojson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char err[1024];
        fuzz_quiet();
        spate_geo_shapes_t *s = spate_geojson_load(fuzz_scratch(data, size, ".geojson"), "name",
                                                   err, sizeof(err));
        spate_geo_shapes_destroy(s);
        return 0;
}
