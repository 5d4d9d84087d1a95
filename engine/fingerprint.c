/* fingerprint.c - topology fingerprints and the committer tag of offset
 * metadata (engine.c checks it: two topologies in one group fail clearly). */
#include "fingerprint.h"
#include "../util/util.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "@fp="
#define MEMBER_TAG "@m="

/* Kind, then each scalar with its length, so that no two trees share a text.
 * Scalars as written, before ${VAR} interpolation: instances of one topology
 * file may differ in per-instance values (a `client_id: x-${HOSTNAME}`). */
static uint64_t hash_tree(uint64_t h, const spate_yaml_t *y) {
        char head[32];
        const char *text = y->kind == SPATE_YAML_SCALAR ? spate_yaml_written(y) : NULL;
        int n = snprintf(head, sizeof(head), "%d:%zu:", (int)y->kind, text ? strlen(text) : (size_t)y->n);
        h = spate_hash_bytes(h, head, (size_t)n);
        if (text)
                return spate_hash_bytes(h, text, strlen(text));
        for (int i = 0; i < y->n; i++) {
                if (y->kind == SPATE_YAML_MAP)
                        h = hash_tree(h, y->keys[i]);
                h = hash_tree(h, y->items[i]);
        }
        return h;
}

uint64_t spate_topology_fingerprint(const spate_topology_t *t) {
        const spate_yaml_t *nodes = spate_yaml_get(t->root, "nodes");
        return nodes ? hash_tree(SPATE_HASH_INIT, nodes) : 0;
}

/* A member id the tag can carry: the offset metadata's separators (and
 * bytes a reader could not print) are not in it. */
static int member_ok(const char *m) {
        size_t n = strnlen(m, SPATE_MEMBER_MAX);
        for (size_t i = 0; i < n; i++)
                if (m[i] <= ' ' || m[i] > '~' || m[i] == ';' || m[i] == '=')
                        return 0;
        return n > 0 && n < SPATE_MEMBER_MAX;
}

int spate_committer_format(const spate_committer_t *c, char *buf, size_t size) {
        int ok = member_ok(c->member);
        return snprintf(buf, size, TAG "%016" PRIx64 "/%lld/%lld%s;%s%s%s", c->fp, (long long)c->start_ms,
                        (long long)c->at_ms, c->left ? "/left" : "", ok ? MEMBER_TAG : "", ok ? c->member : "",
                        ok ? ";" : "");
}

/* A decimal int64 >= 0 at s (digits only): 0, or -1. */
static int read_ms(const char *s, int64_t *v, char **end) {
        if (!(*s >= '0' && *s <= '9'))
                return -1;
        errno = 0;
        *v = strtoll(s, end, 10);
        return errno ? -1 : 0;
}

/* The member tag right after the "@fp=" tag, if there is one: its id into
 * member ("" without it); -1 when it is there but malformed. */
static int read_member(const char *s, char *member) {
        const char *end;
        size_t n;
        member[0] = '\0';
        if (strncmp(s, MEMBER_TAG, strlen(MEMBER_TAG)))
                return 0;
        s += strlen(MEMBER_TAG);
        if (!(end = strchr(s, ';')) || (n = (size_t)(end - s)) >= SPATE_MEMBER_MAX)
                return -1;
        memcpy(member, s, n);
        member[n] = '\0';
        return member_ok(member) ? 0 : -1;
}

/* The times must be >= 0: engine.c subtracts them from the clock. */
int spate_committer_parse(const char *md, size_t len, spate_committer_t *c) {
        char buf[128 + sizeof(MEMBER_TAG) + SPATE_MEMBER_MAX], *end;
        const char *p = md ? memmem(md, len, TAG, strlen(TAG)) : NULL;
        size_t n;
        if (!p)
                return -1;
        n = len - (size_t)(p - md);
        n = n < sizeof(buf) - 1 ? n : sizeof(buf) - 1;
        memcpy(buf, p, n);
        buf[n] = '\0';
        if (!isxdigit((unsigned char)buf[strlen(TAG)]))
                return -1;
        c->fp = strtoull(buf + strlen(TAG), &end, 16);
        if (*end != '/' || read_ms(end + 1, &c->start_ms, &end) || *end != '/' ||
            read_ms(end + 1, &c->at_ms, &end))
                return -1;
        c->left = !strncmp(end, "/left", 5);
        end += c->left ? 5 : 0;
        if (*end != ';')
                return -1;
        return read_member(end + 1, c->member);
}
