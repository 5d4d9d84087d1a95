/* serde.h - record (de)serialisation for sources and sinks: JSON, and Avro in
 * the Confluent wire format (magic byte, 4-byte schema id, binary body). */
#ifndef SPATE_SERDE_H
#define SPATE_SERDE_H

#include "../util/arena.h"
#include "../util/buf.h"
#include "../engine/shape.h"
#include "../engine/topology.h"
#include "json_scan.h"

typedef struct spate_serde spate_serde_t;

/* format "json" or "avro"; for Avro, `schema` is an .avsc path (relative
 * paths are looked up in the topology's schemas_dir). NULL with errstr on error. */
spate_serde_t *spate_serde_new(const spate_topology_t *t, const char *format,
                               const char *schema, char *errstr, size_t errstr_size);
/* Decodes into *out following shape (see json_scan.h for lifetimes).
 * hints: the caller's, for JSON from one stream (json_scan.h), or NULL. */
int spate_serde_decode(spate_serde_t *s, const spate_shape_t *shape, spate_json_hints_t *hints,
                       const void *buf, size_t len, spate_arena_t *a, spate_value_t *out,
                       char *errstr, size_t errstr_size);
/* Appends the encoding of v (shaped by shape) to b. */
int spate_serde_encode(spate_serde_t *s, const spate_shape_t *shape, const spate_value_t *v,
                       spate_buf_t *b, char *errstr, size_t errstr_size);
/* Makes the input shape carry what the encoder needs (Avro: the schema's
 * fields). Returns -1 with errstr when a closed shape lacks one. */
int spate_serde_bind(spate_serde_t *s, spate_shape_pool_t *pool, spate_shape_t *in,
                     char *errstr, size_t errstr_size);
void spate_serde_destroy(spate_serde_t *s);

#endif
