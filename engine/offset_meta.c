/* offset_meta.c - parses the metadata committed with a source partition's
 * offset (see offset_meta.h). */
#include "offset_meta.h"

#include <stdlib.h>
#include <string.h>

int spate_offset_meta_parse(const char *md, size_t len, spate_offset_meta_cb cb, void *opaque) {
        const size_t plen = strlen(SPATE_OFFSET_META_PREFIX);
        char buf[SPATE_OFFSET_META_MAX], *save = NULL, *end;
        if (len <= plen || len >= sizeof(buf) || memcmp(md, SPATE_OFFSET_META_PREFIX, plen))
                return -1;
        memcpy(buf, md, len);
        buf[len] = '\0';
        for (char *kv = strtok_r(buf + plen, ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
                char *eq = strchr(kv, '=');
                if (!eq)
                        continue;
                *eq = '\0';
                int64_t time = strtoll(eq + 1, &end, 10), cut = -1;
                if (*end == '/')
                        cut = strtoll(end + 1, NULL, 10);
                cb(opaque, kv, time, cut);
        }
        return 0;
}
