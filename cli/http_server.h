/* http_server.h - what `spate run --http ADDR` serves: /metrics (Prometheus
 * text format), /health, /ready, and the live map (/ and its /events stream,
 * /regions.geojson). */
#ifndef SPATE_HTTP_SERVER_H
#define SPATE_HTTP_SERVER_H

#include "../engine/engine.h"

#include <stddef.h>

typedef struct spate_http_server spate_http_server_t;

/* Listens on addr (HOST:PORT; port 0 picks a free one) and logs the URL.
 * The engine must outlive the server. regions_path: a GeoJSON file served as
 * /regions.geojson for the map (NULL: none); copied. NULL with errstr set on
 * failure. */
spate_http_server_t *spate_http_start(const char *addr, spate_engine_t *engine, const char *regions_path,
                                      char *errstr, size_t errstr_size);
/* Ends open event streams and stops the server. NULL is fine. */
void spate_http_stop(spate_http_server_t *s);

#endif
