/* broker.c - `spate broker`: librdkafka's mock cluster as a long-running
 * Kafka-protocol server on loopback for development and tests.
 *
 * The mock has no option for its listening ports, so this executable
 * interposes bind(): while the broker runs, a bind to port 0 on a mock
 * listener is redirected to the next fixed port (9092, 9093, ...). The mock
 * has no Admin API either and auto-creates unknown topics with 4 partitions
 * on first metadata request, so topics are created here, before any client
 * asks: from --topology files or --topic flags. */
#include "commands.h"
#include "../util/mem.h"
#include "../engine/kafka_conf.h"
#include "../util/log.h"
#include "../engine/topology.h"
#include "iq_peers.h"

#include <dlfcn.h>
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int next_port;              /* 0: bind() is not redirected */
static volatile sig_atomic_t stop, usr1;

int bind(int fd, const struct sockaddr *addr, socklen_t len);

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
        static int (*real_bind)(int, const struct sockaddr *, socklen_t);
        struct sockaddr_in sin;
        if (!real_bind)
                *(void **)&real_bind = dlsym(RTLD_NEXT, "bind");
        if (next_port && addr->sa_family == AF_INET && len >= sizeof(sin)) {
                memcpy(&sin, addr, sizeof(sin));
                if (sin.sin_port == 0) {
                        int one = 1;
                        sin.sin_port = htons((uint16_t)next_port++);
                        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                        /* Inherited by the accepted connections: with Nagle on,
                         * the mock's answer to a produce request of many
                         * partitions waited on the client's delayed ACK, ~40 ms
                         * a round trip, twice in each commit of a job that
                         * produces (a Kafka broker sets TCP_NODELAY too). */
                        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                        return real_bind(fd, (struct sockaddr *)&sin, sizeof(sin));
                }
        }
        return real_bind(fd, addr, len);
}

/* The first of ports port..port+n-1 something already listens on, or 0:
 * the mock cluster cannot report a failed bind (librdkafka 2.0 asserts while
 * destroying the half-made cluster), so the ports are tried first. */
static int busy_port(int port, int n) {
        for (int i = 0; i < n; i++) {
                struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)(port + i)),
                                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0), rc;
                if (fd < 0)
                        return 0;
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                rc = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
                close(fd);
                if (rc)
                        return port + i;
        }
        return 0;
}

static void on_signal(int sig) {
        if (sig == SIGUSR1)
                usr1 = 1;
        else
                stop = 1;
}

/* --fault-on-usr1 APIKEY:ERROR:COUNT (a test aid): at each SIGUSR1 the next
 * COUNT requests of that Kafka API key are answered with that error code,
 * e.g. 2:6:5 for five ListOffsets answered "Not leader for partition". */
typedef struct fault {
        int16_t api;
        int err, count;
} fault_t;

static int parse_fault(const char *spec, fault_t *f) {
        int api;
        if (sscanf(spec, "%d:%d:%d", &api, &f->err, &f->count) != 3 || api < 0 || f->count < 1) {
                spate_err("--fault-on-usr1 wants APIKEY:ERROR:COUNT, not '%s'", spec);
                return -1;
        }
        f->api = (int16_t)api;
        return 0;
}

static void inject(rd_kafka_mock_cluster_t *mc, const fault_t *f) {
        rd_kafka_resp_err_t *errs = malloc(sizeof(*errs) * (size_t)f->count);
        if (!errs)
                return;
        for (int i = 0; i < f->count; i++)
                errs[i] = (rd_kafka_resp_err_t)f->err;
        rd_kafka_mock_push_request_errors_array(mc, f->api, (size_t)f->count, errs);
        free(errs);
        spate_info("SIGUSR1: the next %d requests of API %d fail with %s", f->count, f->api,
                   rd_kafka_err2str((rd_kafka_resp_err_t)f->err));
}

/* Topics asked for by every --topology and --topic, merged by name: several
 * topologies may share a topic, and a partition count cannot grow later. */
typedef struct wanted {
        char name[256];
        int partitions;
} wanted_t;

static wanted_t *wanted;
static int nwanted;

static void want(const char *name, int partitions) {
        for (int i = 0; i < nwanted; i++) {
                if (strcmp(wanted[i].name, name))
                        continue;
                if (partitions > wanted[i].partitions)
                        wanted[i].partitions = partitions;
                return;
        }
        wanted = spate_xrealloc(wanted, sizeof(*wanted) * (size_t)(nwanted + 1));
        snprintf(wanted[nwanted].name, sizeof(wanted[nwanted].name), "%s", name);
        wanted[nwanted++].partitions = partitions;
}

static int want_topology(const char *file) {
        char errstr[2048];
        spate_topology_t *t = spate_topology_load(file, errstr, sizeof(errstr));
        if (!t) {
                spate_err("%s", errstr);
                return -1;
        }
        spate_iq_peers_declare(t);   /* `spate run --http` declares it too: the mock cannot create topics */
        for (int i = 0; i < t->ntopics; i++)
                want(t->topics[i].name, t->topics[i].partitions);
        spate_topology_destroy(t);
        return 0;
}

static int want_flag(const char *spec) {
        char name[256];
        const char *colon = strrchr(spec, ':');
        int parts = colon ? atoi(colon + 1) : 8;
        size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
        if (parts < 1 || len == 0 || len >= sizeof(name)) {
                spate_err("--topic wants NAME:PARTITIONS, not '%s'", spec);
                return -1;
        }
        memcpy(name, spec, len);
        name[len] = '\0';
        want(name, parts);
        return 0;
}

static int create_wanted(rd_kafka_mock_cluster_t *mc) {
        for (int i = 0; i < nwanted; i++) {
                rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, wanted[i].name, wanted[i].partitions, 1);
                if (err) {
                        spate_err("cannot create topic %s: %s", wanted[i].name, rd_kafka_err2str(err));
                        return -1;
                }
                spate_info("topic %s: %d partitions", wanted[i].name, wanted[i].partitions);
        }
        return 0;
}

static void usage(FILE *fp) {
        fprintf(fp, "usage: spate broker [--listen HOST:PORT] [--brokers N] [--topology FILE]... "
                    "[--topic NAME:PARTITIONS]... [--bootstrap-file PATH] [--fault-on-usr1 APIKEY:ERROR:COUNT]\n"
                    "Hosts librdkafka's in-memory mock Kafka cluster on loopback until SIGINT/SIGTERM.\n"
                    "Brokers listen on PORT, PORT+1, ... (default 127.0.0.1:9092, 3 brokers).\n"
                    "Limits: no compaction, ~5 MB kept per partition, no Admin API, data lost on exit.\n");
}

int spate_cmd_broker(int argc, char **argv) {
        const char *listen = "127.0.0.1:9092", *bootfile = NULL;
        int nbrokers = 3, rc = 1;
        char errstr[512];
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk;
        rd_kafka_mock_cluster_t *mc;
        struct sigaction sa = { .sa_handler = on_signal };
        fault_t fault = { 0 };

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--listen") && i + 1 < argc)
                        listen = argv[++i];
                else if (!strcmp(argv[i], "--brokers") && i + 1 < argc)
                        nbrokers = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--bootstrap-file") && i + 1 < argc)
                        bootfile = argv[++i];
                else if (!strcmp(argv[i], "--topology") && i + 1 < argc) {
                        if (want_topology(argv[++i]))
                                return 1;
                } else if (!strcmp(argv[i], "--topic") && i + 1 < argc) {
                        if (want_flag(argv[++i]))
                                return 1;
                } else if (!strcmp(argv[i], "--fault-on-usr1") && i + 1 < argc) {
                        if (parse_fault(argv[++i], &fault))
                                return 1;
                } else {
                        usage(strcmp(argv[i], "--help") ? stderr : stdout);
                        return strcmp(argv[i], "--help") ? 2 : 0;
                }
        }
        conf = rd_kafka_conf_new();
        rd_kafka_conf_set_log_cb(conf, spate_kafka_log_cb);
        /* This handle only hosts the cluster: its "no bootstrap.servers" notice is noise. */
        rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr));
        const char *colon = strrchr(listen, ':');
        next_port = colon ? atoi(colon + 1) : 9092;
        if (next_port <= 0 || nbrokers < 1) {
                spate_err("bad --listen or --brokers");
                rd_kafka_conf_destroy(conf);
                return 2;
        }
        int busy = busy_port(next_port, nbrokers);
        if (busy) {
                spate_err("port %d is in use (%s): give --listen a free HOST:PORT (the brokers take %d ports "
                          "from it)", busy, strerror(errno), nbrokers);
                rd_kafka_conf_destroy(conf);
                return 1;
        }
        if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr)))) {
                spate_err("%s", errstr);
                return 1;
        }
        if (!(mc = rd_kafka_mock_cluster_new(rk, nbrokers))) {
                spate_err("cannot start the mock cluster (ports %d.. busy?): %s", next_port, strerror(errno));
                rd_kafka_destroy(rk);
                return 1;
        }
        next_port = 0;
        if (create_wanted(mc))
                goto out;
        const char *boot = rd_kafka_mock_cluster_bootstraps(mc);
        if (bootfile) {
                FILE *fp = fopen(bootfile, "w");
                if (fp) {
                        fprintf(fp, "%s\n", boot);
                        fclose(fp);
                }
        }
        printf("%s\n", boot);
        fflush(stdout);
        spate_info("embedded Kafka (librdkafka mock, %d brokers) on %s", nbrokers, boot);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGUSR1, &sa, NULL);
        while (!stop) {
                pause();
                if (usr1 && fault.count)
                        inject(mc, &fault);
                usr1 = 0;
        }
        spate_info("stopping");
        rc = 0;
out:
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        free(wanted);
        return rc;
}
