/* iq_http.h - the /state endpoints of `spate run --http` (interactive
 * queries, engine/iq.h; README "Interactive queries"): a key's value, a
 * key's history, scans, answered by this instance or by the instance that
 * holds the key (forwarded with libcurl), 503 + Retry-After while state is
 * restoring (or, with stale=ok, a standby's copy: here or forwarded), and an
 * optional bearer token. */
#ifndef SPATE_IQ_HTTP_H
#define SPATE_IQ_HTTP_H

#include "iq_peers.h"
#include "../engine/engine.h"

#include <microhttpd.h>

typedef struct spate_iq_http spate_iq_http_t;

/* peers may be NULL (one instance); token (copied) NULL or "" for none. The
 * engine, its topology and peers must outlive it. NULL when out of memory. */
spate_iq_http_t *spate_iq_http_new(spate_engine_t *engine, const spate_topology_t *topo, spate_iq_peers_t *peers,
                                   const char *token);
void spate_iq_http_free(spate_iq_http_t *h);

/* Answers a GET or HEAD of url (below /state; percent-decoded by MHD). */
enum MHD_Result spate_iq_http_answer(spate_iq_http_t *h, struct MHD_Connection *c, const char *url);

#endif
