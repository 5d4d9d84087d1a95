/* avro_check.h - validates an Avro binary body against its writer schema
 * (bounded lengths, counts and nesting) before avro-c reads it. */
#ifndef SPATE_AVRO_CHECK_H
#define SPATE_AVRO_CHECK_H

#include <avro.h>
#include <stddef.h>

/* Returns 0 if body[0, len) is a complete encoding of `schema` whose every
 * declared length and count fits in the message, else -1 with the byte
 * offset and the problem in errstr. Reads nothing beyond body + len. */
int spate_avro_check(avro_schema_t schema, const void *body, size_t len, char *errstr,
                     size_t errstr_size);

#endif
