/* iq_peers.h - which instance of an application holds which partitions, for
 * interactive queries across instances (engine/iq.h, cli/iq_http.c).
 *
 * Each instance writes a record to the application's internal topic
 * `<application>-instances` (one partition, compacted on a real Kafka) after
 * every assignment: key its advertised URL, value
 * {"url":..,"generation":..,"owned":{"topic":[partitions...]},"standby":{..}}
 * ("standby": the tasks it keeps warm copies of, engine/iq.h, written again
 * when they change). Every
 * instance reads that topic from its beginning and keeps each URL's latest
 * record; a partition's owner is the URL whose latest record claiming it
 * came last (a later assignment moves a partition by a later record). A
 * plain produce/consume of one topic: the embedded broker (librdkafka's
 * mock cluster, no compaction: it keeps every record, a few per
 * rebalance) and a real Kafka behave alike. */
#ifndef SPATE_IQ_PEERS_H
#define SPATE_IQ_PEERS_H

#include "../engine/topology.h"

#include <stddef.h>
#include <stdint.h>

typedef struct spate_iq_peers spate_iq_peers_t;

/* Declares the topic (before spate_engine_new(), which creates it). */
void spate_iq_peers_declare(spate_topology_t *t);

/* Starts advertising self_url (copied) on each assignment and following the
 * topic. The topology must outlive it. NULL with errstr on failure. */
spate_iq_peers_t *spate_iq_peers_start(const spate_topology_t *t, const char *self_url, char *errstr,
                                       size_t errstr_size);
void spate_iq_peers_stop(spate_iq_peers_t *p);

const char *spate_iq_peers_self(const spate_iq_peers_t *p);
/* The URL of the instance that last claimed partition part of topic
 * (malloc'd, the caller frees), or NULL when none did. */
char *spate_iq_peers_owner(spate_iq_peers_t *p, const char *topic, int32_t part);
/* The URLs of the other instances holding a partition of topic by the latest
 * claims (malloc'd array of malloc'd strings; the count; free with
 * spate_iq_peers_free_list). */
int spate_iq_peers_others(spate_iq_peers_t *p, const char *topic, char ***urls);
/* The URLs of the other instances whose latest record lists a standby copy
 * of partition part of topic (as spate_iq_peers_others()). */
int spate_iq_peers_standbys(spate_iq_peers_t *p, const char *topic, int32_t part, char ***urls);
void spate_iq_peers_free_list(char **urls, int n);

#endif
