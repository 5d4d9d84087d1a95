/* offset_meta.h - the metadata spate commits with a source partition's
 * offset, "spate:<tags><node>=<ms>[/<cut>];...": each node's partition time
 * and cut, which whoever is assigned the partition next reads back. Entries
 * whose name starts with '@' are tags (the committer, fingerprint.h). The
 * metadata comes from the broker, where another program or version may have
 * written it, so the parser takes any bytes (fuzzed in tests/fuzz/
 * offset_meta.c) and says what it could not read; engine.c writes it. */
#ifndef SPATE_OFFSET_META_H
#define SPATE_OFFSET_META_H

#include <stddef.h>
#include <stdint.h>

#define SPATE_OFFSET_META_PREFIX "spate:"
#define SPATE_OFFSET_META_MAX 2048  /* longest metadata spate writes, plus one */

/* One entry: node is NUL-terminated and valid only during the call; cut is
 * -1 when the entry has none. */
typedef void (*spate_offset_meta_cb)(void *opaque, const char *node, int64_t time, int64_t cut);

/* Calls cb for every well-formed "<node>=<ms>[/<cut>]" of md[0..len) (not
 * NUL-terminated; ms a decimal int64, cut one >= 0), skipping tags. Returns
 * how many entries were malformed (skipped), or -1 when md is not spate's
 * metadata (no "spate:" prefix, a NUL byte, or longer than any spate writes). */
int spate_offset_meta_parse(const char *md, size_t len, spate_offset_meta_cb cb, void *opaque);

/* Appends "<node>=<time>[/<cut>];" (no cut when cut < 0) at buf + *off and
 * advances *off. Returns -1, leaving *off as it was, when the entry does not
 * fit in size (metadata is limited to SPATE_OFFSET_META_MAX - 1 bytes). */
int spate_offset_meta_add(char *buf, size_t size, size_t *off, const char *node, int64_t time, int64_t cut);

#endif
