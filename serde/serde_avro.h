/* serde_avro.h - Avro records in the Confluent wire format. */
#ifndef SPATE_SERDE_AVRO_H
#define SPATE_SERDE_AVRO_H

#include "../util/arena.h"
#include "../util/buf.h"
#include "../engine/shape.h"

typedef struct spate_avro spate_avro_t;

/* Loads the schema `file` (relative paths under schemas_dir). With a
 * registry URL, writer schemas are fetched by id and the schema is
 * registered under subject `<file's record name>-value` on first encode;
 * without one, the id written is a stable hash of the schema text and only
 * that schema is read. NULL with errstr on error. */
spate_avro_t *spate_avro_new(const char *schemas_dir, const char *file, const char *registry,
                             char *errstr, size_t errstr_size);
int spate_avro_decode(spate_avro_t *av, const spate_shape_t *shape, const void *buf, size_t len,
                      spate_arena_t *a, spate_value_t *out, char *errstr, size_t errstr_size);
int spate_avro_encode(spate_avro_t *av, const spate_shape_t *shape, const spate_value_t *v,
                      spate_buf_t *b, char *errstr, size_t errstr_size);
/* Adds the schema's top-level field names to an open input shape, or checks
 * that a closed one has every field the schema cannot leave null. */
int spate_avro_bind(spate_avro_t *av, spate_shape_pool_t *pool, spate_shape_t *in,
                    char *errstr, size_t errstr_size);
void spate_avro_destroy(spate_avro_t *av);

#endif
