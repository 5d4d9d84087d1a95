/* http_server.h - what `spate run --http ADDR` serves: /metrics (Prometheus
 * text format), /health, /ready, the live map (/ and its /events stream,
 * /regions.geojson) and interactive queries (/state). */
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
/* Also serves /state (interactive queries, iq_http.h), advertising
 * `advertise` (http://HOST:PORT; NULL or "": the bound address) to the other
 * instances of the application (iq_peers.h). SPATE_HTTP_TOKEN, if set, is
 * the bearer token /state wants. t (the engine's) must outlive s. Call
 * before the engine runs. 0, or -1 with
 * errstr. */
int spate_http_serve_state(spate_http_server_t *s, const spate_topology_t *t, const char *advertise, char *errstr,
                           size_t errstr_size);
/* Ends open event streams and stops the server. NULL is fine. */
void spate_http_stop(spate_http_server_t *s);

#endif
