/* registry_client.h - the two Schema Registry calls spate needs (libcurl). */
#ifndef SPATE_REGISTRY_CLIENT_H
#define SPATE_REGISTRY_CLIENT_H

#include <stddef.h>
#include <stdint.h>

/* GET {url}/schemas/ids/{id}: returns the schema JSON (caller frees) or NULL. */
char *spate_registry_get(const char *url, int32_t id, char *errstr, size_t errstr_size);
/* POST {url}/subjects/{subject}/versions: returns the schema id, or -1. */
int32_t spate_registry_register(const char *url, const char *subject, const char *schema,
                                char *errstr, size_t errstr_size);

#endif
