/* test_fingerprint.c - the committer tag of offset metadata: written and read
 * back (with and without the member id), found among node values, rejected
 * when malformed; topology
 * fingerprints: alike for instances of one file that differ in a per-instance
 * ${VAR}, different for different computations. */
#include "check.h"
#include "../../engine/fingerprint.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An MQTT source whose client_id is per instance, and a map computing v * factor. */
static const char *TOPO =
        "application: fp\n"
        "kafka:\n"
        "  bootstrap.servers: 127.0.0.1:1\n"
        "nodes:\n"
        "  - name: sensors\n"
        "    type: mqtt_source\n"
        "    url: mqtt://127.0.0.1:1\n"
        "    topics: [\"s/+id\"]\n"
        "    topic: fp.raw\n"
        "    client_id: fp-${FP_HOST}\n"
        "  - name: in\n"
        "    type: kafka_source\n"
        "    topic: fp.raw\n"
        "  - name: scaled\n"
        "    type: map\n"
        "    from: in\n"
        "    fields:\n"
        "      v: v * %s\n"
        "  - name: out\n"
        "    type: kafka_sink\n"
        "    from: scaled\n"
        "    topic: fp.out\n";

/* The fingerprint of TOPO with `factor`, loaded with FP_HOST=host; 0 when it does not load. */
static uint64_t fingerprint(const char *factor, const char *host) {
        char path[] = "/tmp/spate-test-fp-XXXXXX", err[512];
        int fd = mkstemp(path);
        FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
        uint64_t h = 0;
        if (!fp)
                return 0;
        fprintf(fp, TOPO, factor);
        fclose(fp);
        setenv("FP_HOST", host, 1);
        spate_topology_t *t = spate_topology_load(path, err, sizeof(err));
        if (t)
                h = spate_topology_fingerprint(t);
        else
                printf("# %s\n", err);
        spate_topology_destroy(t);
        unlink(path);
        return h;
}

static void test_topology_fingerprint(void) {
        uint64_t a = fingerprint("2", "host-a"), b = fingerprint("2", "host-b"), c = fingerprint("3", "host-a");
        CHECK(a && b && c, "the topologies load");
        CHECK(a == b, "instances differing only in an interpolated client_id: one fingerprint "
              "(%016llx, %016llx)", (unsigned long long)a, (unsigned long long)b);
        CHECK(a != c, "v * 2 and v * 3: two fingerprints");
}

int main(void) {
        spate_committer_t c = { .fp = 0xc0cba90d3a127fe6ULL, .start_ms = 1764627000000LL,
                                .at_ms = 1764627005000LL }, r;
        char buf[256], md[512];

        spate_committer_format(&c, buf, sizeof(buf));
        CHECK_STR(buf, "@fp=c0cba90d3a127fe6/1764627000000/1764627005000;", "format");
        snprintf(md, sizeof(md), "spate:%swin=1764626999000/42;", buf);
        CHECK(!spate_committer_parse(md, strlen(md), &r) && r.fp == c.fp && r.start_ms == c.start_ms &&
              r.at_ms == c.at_ms && !r.left, "read back from metadata with node values");
        c.left = 1;
        spate_committer_format(&c, buf, sizeof(buf));
        CHECK(!spate_committer_parse(buf, strlen(buf), &r) && r.left, "a last commit says the instance left");
        CHECK(spate_committer_parse("spate:win=1/2;", 14, &r), "no tag: not found");
        CHECK(spate_committer_parse("spate:@fp=zz/1/2;", 17, &r), "malformed fingerprint rejected");
        CHECK(spate_committer_parse("spate:@fp=ab/1/2", 16, &r), "unterminated tag rejected");
        CHECK(spate_committer_parse(NULL, 0, &r), "no metadata: not found");
        /* The engine subtracts the times from the clock: INT64_MIN would overflow. */
        CHECK(spate_committer_parse("spate:@fp=ab/1/-9223372036854775808;", 37, &r), "negative commit time rejected");
        CHECK(spate_committer_parse("spate:@fp=ab/-1/2;", 18, &r), "negative start rejected");
        CHECK(spate_committer_parse("spate:@fp=ab/ 1/2;", 18, &r), "a space before a time rejected");
        CHECK(spate_committer_parse("spate:@fp=ab/1/99999999999999999999;", 36, &r), "an overflowing time rejected");
        CHECK(spate_committer_parse("spate:@fp=-1/1/2;", 17, &r), "a signed fingerprint rejected");
        /* The member id, a tag of its own after "@fp=": an earlier version's
         * tag (above) parses with none, and its parser, which reads "@fp="
         * to its ';', still reads this one. */
        c.left = 0;
        snprintf(c.member, sizeof(c.member), "rdkafka-0b4f9d1e-5c2a");
        spate_committer_format(&c, buf, sizeof(buf));
        CHECK_STR(buf, "@fp=c0cba90d3a127fe6/1764627000000/1764627005000;@m=rdkafka-0b4f9d1e-5c2a;",
                  "format with a member id");
        snprintf(md, sizeof(md), "spate:%swin=1764626999000/42;", buf);
        CHECK(!spate_committer_parse(md, strlen(md), &r) && r.at_ms == c.at_ms &&
              !strcmp(r.member, "rdkafka-0b4f9d1e-5c2a"), "member id read back from metadata with node values");
        CHECK(!spate_committer_parse("spate:@fp=ab/1/2;win=3;", 23, &r) && !r.member[0],
              "an earlier version's tag: no member id");
        CHECK(!spate_committer_parse("spate:@fp=ab/1/2/left;@m=x;", 27, &r) && r.left &&
              !strcmp(r.member, "x"), "left, with a member id");
        CHECK(spate_committer_parse("spate:@fp=ab/1/2;@m=;", 21, &r), "an empty member id rejected");
        CHECK(spate_committer_parse("spate:@fp=ab/1/2;@m=a b;", 24, &r), "a member id with a space rejected");
        CHECK(spate_committer_parse("spate:@fp=ab/1/2;@m=abc", 23, &r), "an unterminated member id rejected");
        memset(c.member, 'x', sizeof(c.member) - 1);
        c.member[sizeof(c.member) - 1] = '\0';
        spate_committer_format(&c, buf, sizeof(buf));
        CHECK(!spate_committer_parse(buf, strlen(buf), &r) && !strcmp(r.member, c.member),
              "the longest member id a tag carries (%zu characters) read back", strlen(c.member));
        snprintf(md, sizeof(md), "spate:@fp=ab/1/2;@m=%sx;", c.member);
        CHECK(spate_committer_parse(md, strlen(md), &r), "a member id longer rejected");
        snprintf(c.member, sizeof(c.member), "a;b");
        spate_committer_format(&c, buf, sizeof(buf));
        CHECK_STR(buf, "@fp=c0cba90d3a127fe6/1764627000000/1764627005000;", "a member id with a ';': left out");
        test_topology_fingerprint();
        return CHECK_DONE();
}
