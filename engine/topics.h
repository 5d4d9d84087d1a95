/* topics.h - makes sure the topics a topology declares exist, creating the
 * missing ones through the Admin API (compacted where declared). */
#ifndef SPATE_TOPICS_H
#define SPATE_TOPICS_H

#include "topology.h"

#include <librdkafka/rdkafka.h>

/* Uses rk (any client) for metadata and CreateTopics. Returns 0, or -1 with
 * errstr naming the topic that could not be created. */
int spate_topics_ensure(rd_kafka_t *rk, const spate_topology_t *t, char *errstr,
                        size_t errstr_size);

#endif
