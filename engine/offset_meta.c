/* offset_meta.c - reads and writes the metadata committed with a source
 * partition's offset (see offset_meta.h). */
#include "offset_meta.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A whole decimal int64 at s, ending at one of `ends`: 0, or -1. */
static int read_int(const char *s, const char *ends, int64_t *v, const char **endp) {
        char *end;
        if (!(*s >= '0' && *s <= '9') && !(*s == '-' && s[1] >= '0' && s[1] <= '9'))
                return -1;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (errno || !strchr(ends, *end))
                return -1;
        *v = x;
        *endp = end;
        return 0;
}

int spate_offset_meta_parse(const char *md, size_t len, spate_offset_meta_cb cb, void *opaque) {
        const size_t plen = strlen(SPATE_OFFSET_META_PREFIX);
        char buf[SPATE_OFFSET_META_MAX], *save = NULL;
        const char *end;
        int bad = 0;
        if (len <= plen || len >= sizeof(buf) || memcmp(md, SPATE_OFFSET_META_PREFIX, plen) ||
            memchr(md, '\0', len))
                return -1;
        memcpy(buf, md, len);
        buf[len] = '\0';
        for (char *kv = strtok_r(buf + plen, ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
                char *eq = strchr(kv, '=');
                int64_t time, cut = -1;
                if (*kv == '@')
                        continue;
                if (!eq || eq == kv || read_int(eq + 1, "/", &time, &end) ||
                    (*end == '/' && (read_int(end + 1, "", &cut, &end) || cut < 0))) {
                        bad++;
                        continue;
                }
                *eq = '\0';
                cb(opaque, kv, time, cut);
        }
        return bad;
}

int spate_offset_meta_add(char *buf, size_t size, size_t *off, const char *node, int64_t time, int64_t cut) {
        int n;
        if (*off >= size)
                return -1;
        if (cut >= 0)
                n = snprintf(buf + *off, size - *off, "%s=%lld/%lld;", node, (long long)time, (long long)cut);
        else
                n = snprintf(buf + *off, size - *off, "%s=%lld;", node, (long long)time);
        if (n < 0 || (size_t)n >= size - *off) {
                buf[*off] = '\0';
                return -1;
        }
        *off += (size_t)n;
        return 0;
}
