/* fingerprint.h - which topology an instance runs, as a hash committed with
 * its offsets, so that an instance of a different topology under the same
 * `application` is told apart from a restart or another instance. */
#ifndef SPATE_FINGERPRINT_H
#define SPATE_FINGERPRINT_H

#include "topology.h"

#include <stddef.h>
#include <stdint.h>

/* A hash of the `nodes:` tree (keys and values as written, before ${VAR}
 * interpolation): what the instance computes, not where it connects or keeps
 * its state, nor its per-instance values (a `client_id: x-${HOSTNAME}`). Two
 * files alike but for what their variables expand to are not told apart. */
uint64_t spate_topology_fingerprint(const spate_topology_t *t);

/* Who committed an offset: fingerprint, instance start and commit time (ms),
 * and whether that instance has left (its last commit, at shutdown). */
typedef struct spate_committer {
        uint64_t fp;
        int64_t start_ms, at_ms;
        int left;
} spate_committer_t;

/* Writes "@fp=<hex>/<start>/<at>[/left];" into buf; returns its length
 * (snprintf's). */
int spate_committer_format(const spate_committer_t *c, char *buf, size_t size);
/* Finds it in commit metadata "spate:@fp=...;..."; 0, or -1 if absent or
 * malformed (times must be decimal and >= 0). */
int spate_committer_parse(const char *md, size_t len, spate_committer_t *c);

#endif
