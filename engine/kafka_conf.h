/* kafka_conf.h - librdkafka configuration from a topology's kafka: section. */
#ifndef SPATE_KAFKA_CONF_H
#define SPATE_KAFKA_CONF_H

#include "topology.h"

#include <librdkafka/rdkafka.h>

/* The restorer is a consumer (consumer. properties apply) with a larger
 * prefetch: it reads changelogs flat out without fetch_wake.c's wake-ups. */
typedef enum { SPATE_CLIENT_CONSUMER, SPATE_CLIENT_PRODUCER, SPATE_CLIENT_ADMIN,
               SPATE_CLIENT_RESTORER } spate_client_t;

/* Builds a conf: spate's defaults for the client kind, then every property of
 * kafka: (`consumer.` / `producer.` prefixes apply to one kind only). An
 * unknown property fails with the file:line of its key. Caller owns the conf. */
rd_kafka_conf_t *spate_kafka_conf(const spate_topology_t *t, spate_client_t kind,
                                  char *errstr, size_t errstr_size);
/* Routes librdkafka's logs to spate's logger. */
void spate_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

#endif
