/* yaml.h - a topology file as a small tree of YAML nodes that remember their
 * file:line:col, with ${VAR:-default} environment interpolation applied. */
#ifndef SPATE_YAML_H
#define SPATE_YAML_H

#include <stddef.h>

typedef enum { SPATE_YAML_SCALAR, SPATE_YAML_MAP, SPATE_YAML_SEQ } spate_yaml_kind_t;

typedef struct spate_yaml spate_yaml_t;
struct spate_yaml {
        spate_yaml_kind_t kind;
        char *value;             /* SCALAR: interpolated text */
        char *written;           /* SCALAR: the text as written in the file, where
                                  * interpolation changed it; else NULL (owned) */
        int quoted;              /* SCALAR: was quoted in the file */
        int line, col;           /* 1-based, where the node starts */
        const char *file;        /* shared; owned by the root */
        /* MAP: keys[i] -> items[i]; SEQ: items[i]. */
        spate_yaml_t **keys;
        spate_yaml_t **items;
        int n;
};

/* Parses `path`. Returns the root (free with spate_yaml_free) or NULL with
 * "FILE:LINE:COL: message" in errstr. */
spate_yaml_t *spate_yaml_load(const char *path, char *errstr, size_t errstr_size);
/* Same from a string; `name` stands for the file in messages. */
spate_yaml_t *spate_yaml_parse(const char *name, const char *text, size_t len,
                               char *errstr, size_t errstr_size);
void spate_yaml_free(spate_yaml_t *y);

/* The value under `key` in a MAP, or NULL. */
const spate_yaml_t *spate_yaml_get(const spate_yaml_t *map, const char *key);
/* Expands ${VAR} and ${VAR:-default} in `in`. Returns a malloc'd string the
 * caller frees, or NULL with the unset variable's name (or the unclosed
 * '${') in errstr. */
char *spate_yaml_interpolate(const char *in, char *errstr, size_t errstr_size);
/* A SCALAR's text as written in the file, before ${VAR} interpolation. */
const char *spate_yaml_written(const spate_yaml_t *y);
/* Writes "FILE:LINE:COL" of y into buf; returns buf. */
const char *spate_yaml_where(const spate_yaml_t *y, char *buf, size_t size);

#endif
