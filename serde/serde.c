/* serde.c - picks the encoding of a source or sink: JSON here, Avro in serde_avro.c. */
#include "serde.h"
#include "json_scan.h"
#include "json_write.h"
#include "serde_avro.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct spate_serde {
        int avro;
        spate_avro_t *av;
};

spate_serde_t *spate_serde_new(const spate_topology_t *t, const char *format,
                               const char *schema, char *errstr, size_t errstr_size) {
        spate_serde_t *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        if (format && !strcmp(format, "avro")) {
                s->avro = 1;
                if (!schema) {
                        snprintf(errstr, errstr_size, "format: avro needs 'schema:' (an .avsc file)");
                        free(s);
                        return NULL;
                }
                if (!(s->av = spate_avro_new(t->schemas_dir, schema, t->schema_registry, errstr,
                                             errstr_size))) {
                        free(s);
                        return NULL;
                }
        }
        return s;
}

int spate_serde_decode(spate_serde_t *s, const spate_shape_t *shape, spate_json_hints_t *hints,
                       const void *buf, size_t len, spate_arena_t *a, spate_value_t *out,
                       char *errstr, size_t errstr_size) {
        if (s->avro)
                return spate_avro_decode(s->av, shape, buf, len, a, out, errstr, errstr_size);
        return spate_json_decode_hinted(shape, hints, buf, len, a, out, errstr, errstr_size);
}

int spate_serde_encode(spate_serde_t *s, const spate_shape_t *shape, const spate_value_t *v,
                       spate_buf_t *b, char *errstr, size_t errstr_size) {
        if (s->avro)
                return spate_avro_encode(s->av, shape, v, b, errstr, errstr_size);
        spate_json_write(b, shape, v);
        return 0;
}

int spate_serde_bind(spate_serde_t *s, spate_shape_pool_t *pool, spate_shape_t *in,
                     char *errstr, size_t errstr_size) {
        return s->avro ? spate_avro_bind(s->av, pool, in, errstr, errstr_size) : 0;
}

void spate_serde_destroy(spate_serde_t *s) {
        if (!s)
                return;
        spate_avro_destroy(s->av);
        free(s);
}
