/* avro.c - fuzzes the Confluent-framed Avro decoder (serde/serde_avro.c) with
 * a schema that has every type spate reads (and some it does not: map, bytes,
 * fixed). The input is decoded as a whole message, and as a body behind the
 * frame header of the local schema, so mutations reach avro-c's reader. */
#include "fuzz.h"
#include "../../serde/serde_avro.h"

static const char SCHEMA[] =
        "{\"type\": \"record\", \"name\": \"fuzz_reading\", \"fields\": ["
        " {\"name\": \"sensor\", \"type\": \"string\"},"
        " {\"name\": \"region\", \"type\": [\"null\", \"string\"], \"default\": null},"
        " {\"name\": \"ts\", \"type\": \"long\"},"
        " {\"name\": \"n\", \"type\": \"int\"},"
        " {\"name\": \"temp\", \"type\": \"double\"},"
        " {\"name\": \"f\", \"type\": \"float\"},"
        " {\"name\": \"ok\", \"type\": \"boolean\"},"
        " {\"name\": \"kind\", \"type\": {\"type\": \"enum\", \"name\": \"kind\", \"symbols\": [\"A\", \"B\", \"C\"]}},"
        " {\"name\": \"tags\", \"type\": {\"type\": \"array\", \"items\": \"string\"}},"
        " {\"name\": \"pts\", \"type\": {\"type\": \"array\", \"items\": {\"type\": \"record\", \"name\": \"pt\","
        "   \"fields\": [{\"name\": \"x\", \"type\": \"double\"}, {\"name\": \"y\", \"type\": [\"null\", \"double\"]}]}}},"
        " {\"name\": \"attrs\", \"type\": {\"type\": \"map\", \"values\": \"long\"}},"
        " {\"name\": \"blob\", \"type\": \"bytes\"},"
        " {\"name\": \"fx\", \"type\": {\"type\": \"fixed\", \"name\": \"fx\", \"size\": 4}},"
        " {\"name\": \"sub\", \"type\": [\"null\", {\"type\": \"record\", \"name\": \"sub\", \"fields\": ["
        "   {\"name\": \"a\", \"type\": \"string\"}, {\"name\": \"b\", \"type\": {\"type\": \"array\", \"items\": \"int\"}}]}]}"
        "]}";

static spate_avro_t *av;
static spate_shape_pool_t pool;
static spate_shape_t *shape;
static uint8_t header[5];

static void init(void) {
        static const char *const paths[] = {
                "sensor", "region", "ts", "n", "temp", "f", "ok", "kind", "tags[]", "pts[].x",
                "pts[].y=", "attrs", "blob", "fx=", "sub.a", "sub.b[]", "sub="
        };
        char err[512];
        const char *path = fuzz_scratch((const uint8_t *)SCHEMA, strlen(SCHEMA), ".avsc");
        if (!(av = spate_avro_new(NULL, path, NULL, err, sizeof(err)))) {
                fprintf(stderr, "%s\n", err);
                abort();
        }
        shape = spate_shape_new(&pool, 1);
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
                fuzz_shape_path(&pool, shape, paths[i]);
        /* The id serde_avro.c gives a schema without a registry: FNV-1a of its text. */
        uint32_t h = 2166136261u;
        for (const char *p = SCHEMA; *p; p++)
                h = (h ^ (uint8_t)*p) * 16777619u;
        h &= 0x7fffffff;
        header[1] = (uint8_t)(h >> 24), header[2] = (uint8_t)(h >> 16);
        header[3] = (uint8_t)(h >> 8), header[4] = (uint8_t)h;
}

static void decode(const void *buf, size_t len) {
        char err[512];
        spate_arena_t a;
        spate_value_t v;
        spate_arena_init(&a);
        if (spate_avro_decode(av, shape, buf, len, &a, &v, err, sizeof(err)) == 0)
                fuzz_touch(&v);
        spate_arena_destroy(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!av)
                init();
        decode(data, size);
        uint8_t *framed = malloc(size + sizeof(header));
        if (!framed)
                abort();
        memcpy(framed, header, sizeof(header));
        memcpy(framed + sizeof(header), data, size);
        decode(framed, size + sizeof(header));
        free(framed);
        return 0;
}
