/* fuzz.h - what the libFuzzer harnesses in tests/fuzz/ share: the entry point
 * they define, quiet logging, and a scratch file for parsers that read a path.
 * Each harness frees everything it allocates, so LeakSanitizer (detect_leaks=1)
 * reports a leak in the code under test, never in the harness. */
#ifndef SPATE_FUZZ_H
#define SPATE_FUZZ_H

#include "../../util/log.h"
#include "../../engine/shape.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Logging on stderr would cost more than the parsing; errors still show. */
static inline void fuzz_quiet(void) {
        spate_log_set_level(SPATE_LOG_ERROR);
}

/* A NUL-terminated malloc'd copy of the input (the caller frees it). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        if (!s)
                abort();
        memcpy(s, data, size);
        s[size] = '\0';
        return s;
}

/* Writes the input to this process's scratch file and returns its path. The
 * file is in /dev/shm where there is one, else in $TMPDIR or /tmp, removed at
 * exit, and made anew for each input: on ext4, truncating a file just written
 * flushes it to disk (auto_da_alloc), which took two thirds of the geojson
 * target's time. */
static char fuzz_path_[256];

static inline void fuzz_remove_scratch_(void) {
        unlink(fuzz_path_);
}

static inline const char *fuzz_scratch(const uint8_t *data, size_t size, const char *suffix) {
        if (!fuzz_path_[0]) {
                const char *dir = !access("/dev/shm", W_OK) ? "/dev/shm" : getenv("TMPDIR");
                snprintf(fuzz_path_, sizeof(fuzz_path_), "%s/spate-fuzz-%ld%s", dir ? dir : "/tmp",
                         (long)getpid(), suffix);
                atexit(fuzz_remove_scratch_);
        }
        unlink(fuzz_path_);
        FILE *fp = fopen(fuzz_path_, "wb");
        if (!fp || fwrite(data, 1, size, fp) != size || fclose(fp)) {
                perror(fuzz_path_);
                abort();
        }
        return fuzz_path_;
}

/* Adds a path such as "a.b[].c" to an open shape: '.' descends into a
 * field, "[]" into the elements of an array; "=" at the end asks for the
 * value's raw text as well (pass-through). */
static inline void fuzz_shape_path(spate_shape_pool_t *pool, spate_shape_t *s, const char *path) {
        while (*path && *path != '=') {
                size_t n = strcspn(path, ".[=");
                int i = spate_shape_field(pool, s, path, n, 1);  /* may move s->fields */
                s = s->fields[i].shape;
                path += n;
                if (!strncmp(path, "[]", 2)) {
                        s = spate_shape_elem(pool, s);
                        path += 2;
                }
                if (*path == '.')
                        path++;
        }
        if (*path == '=')
                spate_shape_want_raw(s);
}

/* Reads every byte a decoded value points to, so ASan checks that strings
 * and raw spans lie in live memory; returns a checksum nobody needs. */
static inline unsigned fuzz_touch(const spate_value_t *v) {
        unsigned h = v->type;
        for (uint32_t i = 0; v->raw && i < v->raw_len; i++)
                h = h * 31 + (unsigned char)v->raw[i];
        if (v->type == SPATE_V_STR)
                for (uint32_t i = 0; i < v->n; i++)
                        h = h * 31 + (unsigned char)v->u.s[i];
        if (v->type == SPATE_V_ARR || v->type == SPATE_V_OBJ)
                for (uint32_t i = 0; i < v->n; i++)
                        h += fuzz_touch(&v->u.items[i]);
        return h;
}

#endif
