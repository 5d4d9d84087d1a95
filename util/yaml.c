/* yaml.c - libyaml events to a position-aware tree, with environment
 * interpolation of scalars (so one topology serves dev, tests and compose). */
#include "yaml.h"
#include "mem.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct loader {
        yaml_parser_t parser;
        const char *file;
        const char *text;        /* the source, for hints */
        size_t len;
        char *errstr;
        size_t errstr_size;
} loader_t;

static void free_node(spate_yaml_t *y, int root);

/* Frees a node that is not the root: the file name is the root's. */
static void free_node_child(spate_yaml_t *y) {
        free_node(y, 0);
}

static spate_yaml_t *node_new(loader_t *L, spate_yaml_kind_t kind, const yaml_mark_t *m) {
        spate_yaml_t *y = spate_xcalloc(1, sizeof(*y));
        y->kind = kind;
        y->line = (int)m->line + 1;
        y->col = (int)m->column + 1;
        y->file = L->file;
        return y;
}

static void push(spate_yaml_t *parent, spate_yaml_t *key, spate_yaml_t *item) {
        parent->items = spate_xrealloc(parent->items, sizeof(*parent->items) * (size_t)(parent->n + 1));
        if (parent->kind == SPATE_YAML_MAP)
                parent->keys = spate_xrealloc(parent->keys, sizeof(*parent->keys) * (size_t)(parent->n + 1));
        if (parent->kind == SPATE_YAML_MAP)
                parent->keys[parent->n] = key;
        parent->items[parent->n++] = item;
}

/* The text ${NAME} or ${NAME:-default} at p stands for: sets *add and *addlen
 * (the variable's value, or the default when it is unset) and returns where
 * the text after it begins; NULL with errstr when it is unclosed or NAME is
 * unset without a default. *add points into the environment or into p. */
static const char *variable(const char *p, const char **add, size_t *addlen, char *errstr, size_t errstr_size) {
        const char *close = strchr(p, '}'), *def = strstr(p, ":-");
        char name[128];
        if (!close) {
                snprintf(errstr, errstr_size, "unclosed '%.64s' (hint: end it with '}', e.g. "
                         "${NAME} or ${NAME:-default})", p);
                return NULL;
        }
        size_t nlen = (size_t)((def && def < close ? def : close) - (p + 2));
        if (nlen >= sizeof(name))
                nlen = sizeof(name) - 1;
        memcpy(name, p + 2, nlen);
        name[nlen] = '\0';
        if ((*add = getenv(name))) {
                *addlen = strlen(*add);
        } else if (def && def < close) {
                *add = def + 2;
                *addlen = (size_t)(close - *add);
        } else {
                snprintf(errstr, errstr_size, "environment variable '%s' is not set "
                         "(write ${%s:-default} to give a default)", name, name);
                return NULL;
        }
        return close + 1;
}

char *spate_yaml_interpolate(const char *in, char *errstr, size_t errstr_size) {
        size_t cap = strlen(in) + 64, len = 0;
        char *out = spate_xmalloc(cap);
        for (const char *p = in; *p;) {
                const char *add = p;
                size_t addlen = 1;
                if (p[0] == '$' && p[1] == '{') {
                        if (!(p = variable(p, &add, &addlen, errstr, errstr_size))) {
                                free(out);
                                return NULL;
                        }
                } else {
                        p++;
                }
                if (len + addlen + 1 > cap) {
                        cap = (len + addlen + 1) * 2;
                        out = spate_xrealloc(out, cap);
                }
                memcpy(out + len, add, addlen);
                len += addlen;
        }
        out[len] = '\0';
        return out;
}

/* libyaml's "did not find expected key" right after a closing quote means a
 * value such as 'x' + 1 began as a quoted scalar: the whole must be quoted. */
static const char *syntax_hint(const loader_t *L) {
        size_t at = L->parser.problem_mark.index;
        const char *problem = L->parser.problem ? L->parser.problem : "";
        if (strcmp(problem, "did not find expected key") || at > L->len)
                return "";
        while (at > 0 && (L->text[at - 1] == ' ' || L->text[at - 1] == '\t'))
                at--;
        if (at > 0 && (L->text[at - 1] == '\'' || L->text[at - 1] == '"'))
                return " (hint: a value that starts with a quote ends at the closing quote; quote the "
                       "whole expression, e.g. f: \"'x' + 1\")";
        return " (hint: check the indentation of this line and the one before)";
}

static int parse_error(loader_t *L) {
        snprintf(L->errstr, L->errstr_size, "%s:%zu:%zu: YAML syntax error: %s%s%s%s", L->file,
                 L->parser.problem_mark.line + 1, L->parser.problem_mark.column + 1,
                 L->parser.problem ? L->parser.problem : "unknown",
                 L->parser.context ? " " : "", L->parser.context ? L->parser.context : "",
                 syntax_hint(L));
        return -1;
}

/* Builds the node that starts with event ev (already taken). */
static spate_yaml_t *build(loader_t *L, yaml_event_t *ev);

static spate_yaml_t *build_scalar(loader_t *L, yaml_event_t *ev) {
        spate_yaml_t *y = node_new(L, SPATE_YAML_SCALAR, &ev->start_mark);
        char err[256];
        y->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                    ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
        const char *text = (const char *)ev->data.scalar.value;
        y->value = spate_yaml_interpolate(text, err, sizeof(err));
        if (!y->value) {
                snprintf(L->errstr, L->errstr_size, "%s:%d:%d: %s", L->file, y->line, y->col, err);
                free(y);
                return NULL;
        }
        if (strcmp(text, y->value))
                y->written = spate_xstrdup(text);
        return y;
}

/* A repeated key would otherwise silently lose one of the two values. */
static int duplicate_key(loader_t *L, const spate_yaml_t *map, const spate_yaml_t *key) {
        for (int i = 0; i < map->n; i++)
                if (!strcmp(map->keys[i]->value, key->value)) {
                        snprintf(L->errstr, L->errstr_size, "%s:%d:%d: duplicate key '%s' (first at line %d; "
                                 "hint: keep one of the two)", L->file, key->line, key->col, key->value,
                                 map->keys[i]->line);
                        return 1;
                }
        return 0;
}

static spate_yaml_t *build_collection(loader_t *L, yaml_event_t *ev, spate_yaml_kind_t kind) {
        spate_yaml_t *y = node_new(L, kind, &ev->start_mark);
        yaml_event_type_t end = kind == SPATE_YAML_MAP ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
        for (;;) {
                yaml_event_t e;
                spate_yaml_t *key = NULL, *item;
                if (!yaml_parser_parse(&L->parser, &e)) {
                        parse_error(L);
                        goto err;
                }
                if (e.type == end) {
                        yaml_event_delete(&e);
                        return y;
                }
                if (kind == SPATE_YAML_MAP) {
                        key = build(L, &e);
                        if (!key)
                                goto err;
                        if (key->kind != SPATE_YAML_SCALAR) {
                                snprintf(L->errstr, L->errstr_size, "%s:%d:%d: mapping keys must be plain words",
                                         L->file, key->line, key->col);
                                free_node_child(key);
                                goto err;
                        }
                        if (!yaml_parser_parse(&L->parser, &e)) {
                                free_node_child(key);
                                parse_error(L);
                                goto err;
                        }
                }
                item = build(L, &e);
                if (!item) {
                        free_node_child(key);
                        goto err;
                }
                if (key && duplicate_key(L, y, key)) {
                        free_node_child(key);
                        free_node_child(item);
                        goto err;
                }
                push(y, key, item);
        }
err:
        free_node_child(y);
        return NULL;
}

static spate_yaml_t *build(loader_t *L, yaml_event_t *ev) {
        spate_yaml_t *y = NULL;
        switch (ev->type) {
        case YAML_SCALAR_EVENT:
                y = build_scalar(L, ev);
                break;
        case YAML_MAPPING_START_EVENT:
                y = build_collection(L, ev, SPATE_YAML_MAP);
                break;
        case YAML_SEQUENCE_START_EVENT:
                y = build_collection(L, ev, SPATE_YAML_SEQ);
                break;
        case YAML_ALIAS_EVENT:
                snprintf(L->errstr, L->errstr_size, "%s:%zu:%zu: YAML aliases are not supported",
                         L->file, ev->start_mark.line + 1, ev->start_mark.column + 1);
                break;
        default:
                snprintf(L->errstr, L->errstr_size, "%s:%zu:%zu: unexpected YAML event",
                         L->file, ev->start_mark.line + 1, ev->start_mark.column + 1);
        }
        yaml_event_delete(ev);
        return y;
}

/* After the root: a second document ('---') would be ignored, so it is an
 * error. Returns 1 with errstr set, else 0. */
static int second_document(loader_t *L) {
        for (;;) {
                yaml_event_t e;
                if (!yaml_parser_parse(&L->parser, &e))
                        return parse_error(L), 1;
                yaml_event_type_t type = e.type;
                size_t line = e.start_mark.line + 1, col = e.start_mark.column + 1;
                yaml_event_delete(&e);
                if (type == YAML_STREAM_END_EVENT)
                        return 0;
                if (type == YAML_DOCUMENT_START_EVENT) {
                        snprintf(L->errstr, L->errstr_size, "%s:%zu:%zu: a second YAML document: a "
                                 "topology file holds one (hint: remove the '---' and merge the two)",
                                 L->file, line, col);
                        return 1;
                }
        }
}

spate_yaml_t *spate_yaml_parse(const char *name, const char *text, size_t len,
                               char *errstr, size_t errstr_size) {
        loader_t L = { .file = name, .text = text, .len = len, .errstr = errstr, .errstr_size = errstr_size };
        spate_yaml_t *root = NULL;
        yaml_event_t e;
        char *file = strdup(name);

        L.file = file;
        yaml_parser_initialize(&L.parser);
        yaml_parser_set_input_string(&L.parser, (const unsigned char *)text, len);
        /* stream start, document start, then the root node */
        for (;;) {
                if (!yaml_parser_parse(&L.parser, &e)) {
                        parse_error(&L);
                        break;
                }
                if (e.type == YAML_STREAM_START_EVENT || e.type == YAML_DOCUMENT_START_EVENT) {
                        yaml_event_delete(&e);
                        continue;
                }
                if (e.type == YAML_STREAM_END_EVENT) {
                        yaml_event_delete(&e);
                        snprintf(errstr, errstr_size, "%s:1:1: the file is empty", file);
                        break;
                }
                root = build(&L, &e);
                break;
        }
        if (root && second_document(&L)) {
                spate_yaml_free(root); /* frees file too: the root owns it */
                root = NULL;
                file = NULL;
        }
        yaml_parser_delete(&L.parser);
        if (!root) {
                free(file);
                return NULL;
        }
        if (root->kind != SPATE_YAML_MAP) {
                snprintf(errstr, errstr_size, "%s:%d:%d: a topology file is a mapping "
                         "(application:, kafka:, nodes:)", file, root->line, root->col);
                spate_yaml_free(root);
                return NULL;
        }
        return root;
}

spate_yaml_t *spate_yaml_load(const char *path, char *errstr, size_t errstr_size) {
        FILE *fp = fopen(path, "rb");
        char *buf;
        long len;
        spate_yaml_t *y;

        if (!fp) {
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                return NULL;
        }
        fseek(fp, 0, SEEK_END);
        len = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        buf = malloc((size_t)len + 1);
        if (!buf || fread(buf, 1, (size_t)len, fp) != (size_t)len) {
                snprintf(errstr, errstr_size, "%s: read failed", path);
                free(buf);
                fclose(fp);
                return NULL;
        }
        fclose(fp);
        y = spate_yaml_parse(path, buf, (size_t)len, errstr, errstr_size);
        free(buf);
        return y;
}

static void free_node(spate_yaml_t *y, int root) {
        if (!y)
                return;
        for (int i = 0; i < y->n; i++) {
                if (y->keys)
                        free_node(y->keys[i], 0);
                free_node(y->items[i], 0);
        }
        if (root)
                free((char *)y->file);
        free(y->keys);
        free(y->items);
        free(y->value);
        free(y->written);
        free(y);
}

const char *spate_yaml_written(const spate_yaml_t *y) {
        return y->written ? y->written : y->value;
}

void spate_yaml_free(spate_yaml_t *y) {
        free_node(y, 1);
}

const spate_yaml_t *spate_yaml_get(const spate_yaml_t *map, const char *key) {
        if (!map || map->kind != SPATE_YAML_MAP)
                return NULL;
        for (int i = 0; i < map->n; i++)
                if (!strcmp(map->keys[i]->value, key))
                        return map->items[i];
        return NULL;
}

const char *spate_yaml_where(const spate_yaml_t *y, char *buf, size_t size) {
        snprintf(buf, size, "%s:%d:%d", y->file, y->line, y->col);
        return buf;
}
