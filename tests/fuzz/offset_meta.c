/* offset_meta.c - fuzzes the parsers of the metadata committed with a source
 * partition's offset, which comes back from the broker (another instance,
 * version or program may have written it): the node values (engine/
 * offset_meta.c) and the committer tag (engine/fingerprint.c). What they
 * read must write back to text that reads the same (both codecs' round
 * trip), and the committer's times must be >= 0 (engine.c subtracts them
 * from the clock). */
#include "fuzz.h"
#include "../../engine/fingerprint.h"
#include "../../engine/offset_meta.h"

#include <inttypes.h>

/* Room for one byte more than spate writes: the last entry of the source may
 * lack its ';'. */
typedef struct { char md[SPATE_OFFSET_META_MAX + 1]; size_t off; int fits, n; } rewrite_t;

static void rewrite(void *opaque, const char *node, int64_t time, int64_t cut) {
        rewrite_t *r = opaque;
        r->n++;
        if (cut < -1 || !*node || strpbrk(node, ";="))
                abort();  /* the parser promised none of these */
        if (spate_offset_meta_add(r->md, sizeof(r->md), &r->off, node, time, cut))
                r->fits = 0;
}

static void committer(const uint8_t *data, size_t size) {
        spate_committer_t c, back;
        char buf[128 + SPATE_MEMBER_MAX];  /* the "@fp=" tag's longest, and the member tag's */
        if (spate_committer_parse((const char *)data, size, &c))
                return;
        if (c.start_ms < 0 || c.at_ms < 0)
                abort();
        int n = spate_committer_format(&c, buf, sizeof(buf));
        if (n < 0 || (size_t)n >= sizeof(buf) || spate_committer_parse(buf, (size_t)n, &back) || back.fp != c.fp ||
            back.start_ms != c.start_ms || back.at_ms != c.at_ms || back.left != c.left ||
            strcmp(back.member, c.member))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        rewrite_t *r = calloc(2, sizeof(*r));
        if (!r)
                abort();
        r[0].fits = r[1].fits = 1;
        r[0].off = r[1].off = (size_t)snprintf(r[0].md, sizeof(r[0].md), SPATE_OFFSET_META_PREFIX);
        memcpy(r[1].md, r[0].md, r[0].off + 1);
        int bad = spate_offset_meta_parse((const char *)data, size, rewrite, &r[0]);
        /* What was read, written again, reads the same. */
        if (bad >= 0 && r[0].n > 0) {
                if (!r[0].fits)
                        abort();
                if (r[0].off < SPATE_OFFSET_META_MAX &&
                    (spate_offset_meta_parse(r[0].md, r[0].off, rewrite, &r[1]) != 0 || r[1].n != r[0].n ||
                     r[1].off != r[0].off || memcmp(r[0].md, r[1].md, r[0].off)))
                        abort();
        }
        committer(data, size);
        free(r);
        return 0;
}
