/* offset_meta.h - reading the metadata spate commits with a source
 * partition's offset, "spate:<node>=<ms>[/<cut>];...": each node's partition
 * time and cut, which whoever is assigned the partition next reads back. The
 * metadata comes from the broker, so the parser takes any bytes (fuzzed in
 * tests/fuzz/offset_meta.c); engine.c writes it. */
#ifndef SPATE_OFFSET_META_H
#define SPATE_OFFSET_META_H

#include <stddef.h>
#include <stdint.h>

#define SPATE_OFFSET_META_PREFIX "spate:"
#define SPATE_OFFSET_META_MAX 2048  /* longest metadata spate writes, plus one */

/* One entry: node is NUL-terminated and valid only during the call; cut is
 * -1 when the entry has none. */
typedef void (*spate_offset_meta_cb)(void *opaque, const char *node, int64_t time, int64_t cut);

/* Calls cb for every "<node>=<ms>[/<cut>]" of md[0..len) (not NUL-terminated),
 * skipping entries without '='. Returns 0, or -1 when md is not spate's
 * metadata (no "spate:" prefix, or longer than any spate writes). */
int spate_offset_meta_parse(const char *md, size_t len, spate_offset_meta_cb cb, void *opaque);

#endif
