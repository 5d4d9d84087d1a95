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

/* Longest member id a tag carries, plus one. */
#define SPATE_MEMBER_MAX 128

/* Who committed an offset: fingerprint, instance start and commit time (ms),
 * whether that instance has left (its last commit, at shutdown), and its
 * consumer group member id ("" when unknown: a tag of a version before
 * standbys chose by member, or an id the tag cannot carry). The member id
 * is the one the group's `range` assignor orders members by, which is what
 * the standbys' choice needs (engine_standby.c). */
typedef struct spate_committer {
        uint64_t fp;
        int64_t start_ms, at_ms;
        int left;
        char member[SPATE_MEMBER_MAX];
} spate_committer_t;

/* Writes "@fp=<hex>/<start>/<at>[/left];" into buf, then "@m=<member>;"
 * when the member id is known and fits the tag (1 to SPATE_MEMBER_MAX - 1
 * printable characters, none of ";=" nor a space); returns the length
 * (snprintf's). The member is a tag of its own so that the "@fp=" tag stays
 * what every earlier version parses. */
int spate_committer_format(const spate_committer_t *c, char *buf, size_t size);
/* Finds it in commit metadata "spate:@fp=...;[@m=...;]..."; 0, or -1 if
 * absent or malformed (times must be decimal and >= 0). A tag without the
 * member (an earlier version's) parses with member "". */
int spate_committer_parse(const char *md, size_t len, spate_committer_t *c);

#endif
