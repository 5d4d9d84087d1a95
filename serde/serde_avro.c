/* serde_avro.c - Avro (avro-c generic values) <-> spate values, framed as
 * magic byte 0 + 4-byte big-endian schema id + binary body. */
#include "serde_avro.h"
#include "../util/mem.h"
#include "avro_check.h"
#include "json_write.h"
#include "registry_client.h"
#include "../util/util.h"

#include <avro.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct writer_schema {
        int32_t id;
        avro_schema_t schema;
        avro_value_iface_t *iface;
        avro_value_t value;
        struct writer_schema *next;
} writer_schema_t;

struct spate_avro {
        avro_schema_t schema;
        avro_value_iface_t *iface;
        avro_value_t out;          /* reused for encoding */
        int32_t id;                /* -1 until registered */
        char *registry;
        char *subject;
        char *schema_json;
        writer_schema_t *writers;  /* decoders by schema id */
        avro_reader_t reader;
};

static int32_t local_id(const char *json) {
        uint32_t h = 2166136261u;
        for (const char *p = json; *p; p++)
                h = (h ^ (uint8_t)*p) * 16777619u;
        return (int32_t)(h & 0x7fffffff);
}

static char *read_file(const char *dir, const char *file, char *errstr, size_t errstr_size) {
        char path[1024];
        FILE *fp;
        if (file[0] == '/' || !dir)
                snprintf(path, sizeof(path), "%s", file);
        else
                snprintf(path, sizeof(path), "%s/%s", dir, file);
        if (!(fp = fopen(path, "rb")) && !(fp = fopen(file, "rb"))) {
                snprintf(errstr, errstr_size, "cannot open Avro schema %s", path);
                return NULL;
        }
        fseek(fp, 0, SEEK_END);
        long n = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        char *text = calloc(1, (size_t)n + 1);
        if (!text || fread(text, 1, (size_t)n, fp) != (size_t)n) {
                free(text);
                text = NULL;
                snprintf(errstr, errstr_size, "cannot read Avro schema %s", path);
        }
        fclose(fp);
        return text;
}

spate_avro_t *spate_avro_new(const char *schemas_dir, const char *file, const char *registry,
                             char *errstr, size_t errstr_size) {
        spate_avro_t *av = calloc(1, sizeof(*av));
        char *text = read_file(schemas_dir, file, errstr, errstr_size);
        if (!av || !text)
                goto err;
        if (avro_schema_from_json_length(text, strlen(text), &av->schema)) {
                snprintf(errstr, errstr_size, "%s: invalid Avro schema: %s", file, avro_strerror());
                goto err;
        }
        if (!is_avro_record(av->schema)) {
                snprintf(errstr, errstr_size, "%s: the schema must be a record", file);
                goto err;
        }
        av->iface = avro_generic_class_from_schema(av->schema);
        avro_generic_value_new(av->iface, &av->out);
        av->schema_json = text;
        av->id = registry ? -1 : local_id(text);
        av->registry = registry ? strdup(registry) : NULL;
        char subject[512];
        snprintf(subject, sizeof(subject), "%s-value", avro_schema_name(av->schema));
        av->subject = strdup(subject);
        av->reader = avro_reader_memory(NULL, 0);
        return av;
err:
        free(text);
        spate_avro_destroy(av);
        return NULL;
}

static writer_schema_t *writer_for(spate_avro_t *av, int32_t id, char *errstr, size_t errstr_size) {
        writer_schema_t *w;
        char *json = NULL;
        for (w = av->writers; w; w = w->next)
                if (w->id == id)
                        return w;
        if (!av->registry && id != av->id) {
                snprintf(errstr, errstr_size, "unknown Avro schema id %d (no schema_registry configured; "
                         "the local schema has id %d)", id, av->id);
                return NULL;
        }
        w = calloc(1, sizeof(*w));
        w->id = id;
        if (av->registry) {
                if (!(json = spate_registry_get(av->registry, id, errstr, errstr_size))) {
                        free(w);
                        return NULL;
                }
                if (avro_schema_from_json_length(json, strlen(json), &w->schema)) {
                        snprintf(errstr, errstr_size, "schema id %d from the registry is invalid: %s", id,
                                 avro_strerror());
                        free(json);
                        free(w);
                        return NULL;
                }
                free(json);
        } else {
                w->schema = avro_schema_incref(av->schema);
        }
        w->iface = avro_generic_class_from_schema(w->schema);
        avro_generic_value_new(w->iface, &w->value);
        w->next = av->writers;
        av->writers = w;
        return w;
}

static int to_value(avro_value_t *in, const spate_shape_t *sh, spate_arena_t *a, spate_value_t *out);

static int record_to_value(avro_value_t *in, const spate_shape_t *sh, spate_arena_t *a,
                           spate_value_t *out) {
        out->type = SPATE_V_OBJ;
        out->n = sh ? (uint32_t)sh->nfields : 0;
        if (!out->n)
                return 0;
        out->u.items = spate_arena_alloc(a, sizeof(spate_value_t) * out->n);
        memset(out->u.items, 0, sizeof(spate_value_t) * out->n);
        for (int i = 0; i < sh->nfields; i++) {
                avro_value_t child;
                if (avro_value_get_by_name(in, sh->fields[i].name, &child, NULL) == 0 &&
                    to_value(&child, sh->fields[i].shape, a, &out->u.items[i]))
                        return -1;
        }
        return 0;
}

static int array_to_value(avro_value_t *in, const spate_shape_t *sh, spate_arena_t *a,
                          spate_value_t *out) {
        size_t n = 0;
        avro_value_get_size(in, &n);
        out->type = SPATE_V_ARR;
        out->n = sh && sh->elem ? (uint32_t)n : 0;
        if (!out->n)
                return 0;
        out->u.items = spate_arena_alloc(a, sizeof(spate_value_t) * n);
        memset(out->u.items, 0, sizeof(spate_value_t) * n);
        for (size_t i = 0; i < n; i++) {
                avro_value_t child;
                avro_value_get_by_index(in, i, &child, NULL);
                if (to_value(&child, sh->elem, a, &out->u.items[i]))
                        return -1;
        }
        return 0;
}

static int scalar_to_value(avro_value_t *in, spate_arena_t *a, spate_value_t *out) {
        int32_t i32;
        int64_t i64;
        float f;
        double d;
        int b;
        const char *s;
        size_t n;
        switch (avro_value_get_type(in)) {
        case AVRO_INT32: avro_value_get_int(in, &i32); *out = spate_value_num(i32); return 0;
        case AVRO_INT64: avro_value_get_long(in, &i64); *out = spate_value_num((double)i64); return 0;
        case AVRO_FLOAT: avro_value_get_float(in, &f); *out = spate_value_num(f); return 0;
        case AVRO_DOUBLE: avro_value_get_double(in, &d); *out = spate_value_num(d); return 0;
        case AVRO_BOOLEAN: avro_value_get_boolean(in, &b); *out = spate_value_bool(b); return 0;
        case AVRO_NULL: out->type = SPATE_V_NULL; return 0;
        case AVRO_STRING:
                avro_value_get_string(in, &s, &n);
                *out = spate_value_str(spate_arena_memdup(a, s, n ? n - 1 : 0), n ? (uint32_t)(n - 1) : 0);
                return 0;
        case AVRO_ENUM: {
                int sym = -1;
                avro_value_get_enum(in, &sym);
                /* avro-c reads an index without checking it against the symbols */
                if (sym < 0 || sym >= avro_schema_enum_number_of_symbols(avro_value_get_schema(in)))
                        return -1;
                s = avro_schema_enum_get(avro_value_get_schema(in), sym);
                *out = spate_value_str(s, (uint32_t)strlen(s));
                return 0;
        }
        default:
                return -1; /* bytes, fixed, map: not readable by expressions */
        }
}

/* Bytes and fixed as JSON strings, one code point per byte (Avro's JSON
 * encoding). */
static void write_bytes(spate_buf_t *b, const unsigned char *p, size_t n) {
        static const char hex[] = "0123456789abcdef";
        spate_buf_putc(b, '"');
        for (size_t i = 0; i < n; i++) {
                if (p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' && p[i] != '\\') {
                        spate_buf_putc(b, (char)p[i]);
                        continue;
                }
                char u[6] = { '\\', 'u', '0', '0', hex[p[i] >> 4], hex[p[i] & 15] };
                spate_buf_put(b, u, 6);
        }
        spate_buf_putc(b, '"');
}

static void write_num(spate_buf_t *b, double d) {
        char tmp[32];
        if (!isfinite(d))
                spate_buf_put(b, "null", 4);
        else
                spate_buf_put(b, tmp, (size_t)spate_fmt_num(tmp, sizeof(tmp), d));
}

/* The JSON text of a value whose fields nobody referenced. Not avro-c's
 * avro_value_to_json: it cuts strings at a NUL, refuses invalid UTF-8 and
 * wraps union values as {"type": value}; a JSON sink wants the plain value. */
static void write_json(spate_buf_t *b, avro_value_t *v) {
        const void *p;
        const char *s;
        size_t n = 0;
        int32_t i32;
        int64_t i64;
        float f;
        double d;
        int bl;
        avro_value_t child;
        avro_type_t t = avro_value_get_type(v);
        switch (t) {
        case AVRO_STRING:
                avro_value_get_string(v, &s, &n);
                spate_json_write_str(b, s, n ? n - 1 : 0);
                return;
        case AVRO_BYTES: avro_value_get_bytes(v, &p, &n); write_bytes(b, p, n); return;
        case AVRO_FIXED: avro_value_get_fixed(v, &p, &n); write_bytes(b, p, n); return;
        case AVRO_INT32: avro_value_get_int(v, &i32); write_num(b, i32); return;
        case AVRO_INT64: avro_value_get_long(v, &i64); write_num(b, (double)i64); return;
        case AVRO_FLOAT: avro_value_get_float(v, &f); write_num(b, f); return;
        case AVRO_DOUBLE: avro_value_get_double(v, &d); write_num(b, d); return;
        case AVRO_BOOLEAN:
                avro_value_get_boolean(v, &bl);
                bl ? spate_buf_put(b, "true", 4) : spate_buf_put(b, "false", 5);
                return;
        case AVRO_ENUM:
                avro_value_get_enum(v, &i32);
                s = avro_schema_enum_get(avro_value_get_schema(v), i32);
                spate_json_write_str(b, s, strlen(s));
                return;
        case AVRO_UNION:
                avro_value_get_current_branch(v, &child);
                write_json(b, &child);
                return;
        case AVRO_ARRAY:
        case AVRO_MAP:
        case AVRO_RECORD:
                avro_value_get_size(v, &n);
                spate_buf_putc(b, t == AVRO_ARRAY ? '[' : '{');
                for (size_t i = 0; i < n; i++) {
                        avro_value_get_by_index(v, i, &child, &s);
                        if (i)
                                spate_buf_putc(b, ',');
                        if (t != AVRO_ARRAY) {
                                spate_json_write_str(b, s, strlen(s));
                                spate_buf_putc(b, ':');
                        }
                        write_json(b, &child);
                }
                spate_buf_putc(b, t == AVRO_ARRAY ? ']' : '}');
                return;
        default:
                spate_buf_put(b, "null", 4);
        }
}

static int to_value(avro_value_t *in, const spate_shape_t *sh, spate_arena_t *a, spate_value_t *out) {
        int rc;
        avro_value_t branch;
        switch (avro_value_get_type(in)) {
        case AVRO_UNION:
                avro_value_get_current_branch(in, &branch);
                return to_value(&branch, sh, a, out);
        case AVRO_RECORD: rc = record_to_value(in, sh, a, out); break;
        case AVRO_ARRAY: rc = array_to_value(in, sh, a, out); break;
        default: rc = scalar_to_value(in, a, out); if (rc) out->type = SPATE_V_NULL; rc = 0;
        }
        if (rc == 0 && sh && sh->want_raw) {
                spate_buf_t b = { 0 };
                write_json(&b, in);
                out->raw_len = (uint32_t)b.len;
                out->raw = spate_arena_memdup(a, b.data, b.len);
                spate_buf_free(&b);
        }
        return rc;
}

/* avro-c's reader, in a frame of its own: tests/fuzz/avro.lsan suppresses
 * the leak inside avro_value_read by this name (libavro has no symbols to
 * name it by), and only that one. */
__attribute__((noinline)) static int read_avro_body(avro_reader_t reader, avro_value_t *value) {
        int rc = avro_value_read(reader, value);
        __asm__ volatile("" ::: "memory");  /* not a tail call, so the frame stays on the stack */
        return rc;
}

int spate_avro_decode(spate_avro_t *av, const spate_shape_t *shape, const void *buf, size_t len,
                      spate_arena_t *a, spate_value_t *out, char *errstr, size_t errstr_size) {
        const unsigned char *p = buf;
        writer_schema_t *w;
        memset(out, 0, sizeof(*out));
        if (len < 5 || p[0] != 0) {
                snprintf(errstr, errstr_size, "not Confluent-framed Avro (want magic byte 0 and a 4-byte schema id)");
                return -1;
        }
        int32_t id = (int32_t)((uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4]);
        if (!(w = writer_for(av, id, errstr, errstr_size)))
                return -1;
        if (spate_avro_check(w->schema, p + 5, len - 5, errstr, errstr_size))
                return -1;
        avro_value_reset(&w->value);
        avro_reader_memory_set_source(av->reader, (const char *)p + 5, (int64_t)(len - 5));
        if (read_avro_body(av->reader, &w->value)) {
                snprintf(errstr, errstr_size, "malformed Avro body: %s", avro_strerror());
                return -1;
        }
        return to_value(&w->value, shape, a, out);
}

static int from_value(avro_value_t *dst, const spate_shape_t *sh, const spate_value_t *v,
                      const char *field, char *errstr, size_t errstr_size);

static int set_union(avro_value_t *dst, const spate_shape_t *sh, const spate_value_t *v,
                     const char *field, char *errstr, size_t errstr_size) {
        avro_schema_t us = avro_value_get_schema(dst);
        int missing = v->type == SPATE_V_MISSING || v->type == SPATE_V_NULL;
        for (size_t i = 0; i < avro_schema_union_size(us); i++) {
                avro_schema_t b = avro_schema_union_branch(us, (int)i);
                avro_value_t branch;
                if (missing != is_avro_null(b))
                        continue;
                avro_value_set_branch(dst, (int)i, &branch);
                return missing ? avro_value_set_null(&branch)
                               : from_value(&branch, sh, v, field, errstr, errstr_size);
        }
        snprintf(errstr, errstr_size, "field '%s': no union branch for a %s", field, spate_vtype_name(v->type));
        return -1;
}

static int set_record(avro_value_t *dst, const spate_shape_t *sh, const spate_value_t *v,
                      char *errstr, size_t errstr_size) {
        size_t n = 0;
        avro_value_get_size(dst, &n);
        for (size_t i = 0; i < n; i++) {
                avro_value_t child;
                const char *name;
                static const spate_value_t missing;
                const spate_value_t *fv = &missing;
                const spate_shape_t *fs = NULL;
                avro_value_get_by_index(dst, i, &child, &name);
                for (int k = 0; sh && v->type == SPATE_V_OBJ && k < sh->nfields && k < (int)v->n; k++)
                        if (!strcmp(sh->fields[k].name, name)) {
                                fv = &v->u.items[k];
                                fs = sh->fields[k].shape;
                        }
                if (from_value(&child, fs, fv, name, errstr, errstr_size))
                        return -1;
        }
        return 0;
}

static int from_value(avro_value_t *dst, const spate_shape_t *sh, const spate_value_t *v,
                      const char *field, char *errstr, size_t errstr_size) {
        avro_type_t t = avro_value_get_type(dst);
        if (t == AVRO_UNION)
                return set_union(dst, sh, v, field, errstr, errstr_size);
        if (t == AVRO_NULL)
                return avro_value_set_null(dst);
        if (t == AVRO_RECORD && v->type == SPATE_V_OBJ)
                return set_record(dst, sh, v, errstr, errstr_size);
        if (t == AVRO_ARRAY && v->type == SPATE_V_ARR) {
                for (uint32_t i = 0; i < v->n; i++) {
                        avro_value_t child;
                        avro_value_append(dst, &child, NULL);
                        if (from_value(&child, sh ? sh->elem : NULL, &v->u.items[i], field, errstr, errstr_size))
                                return -1;
                }
                return 0;
        }
        if (v->type == SPATE_V_NUM) {
                /* Casting a double outside the integer's range is undefined:
                 * such a number is an error (the record goes to the DLQ). */
                double d = v->u.num;
                if ((t == AVRO_INT32 && !(d > -2147483649.0 && d < 2147483648.0)) ||
                    (t == AVRO_INT64 && !(d >= -9223372036854775808.0 && d < 9223372036854775808.0))) {
                        snprintf(errstr, errstr_size, "field '%s': %g does not fit Avro type %s", field, d,
                                 t == AVRO_INT32 ? "int" : "long");
                        return -1;
                }
                switch (t) {
                case AVRO_INT32: return avro_value_set_int(dst, (int32_t)d);
                case AVRO_INT64: return avro_value_set_long(dst, (int64_t)d);
                case AVRO_FLOAT: return avro_value_set_float(dst, (float)v->u.num);
                case AVRO_DOUBLE: return avro_value_set_double(dst, v->u.num);
                default: break;
                }
        }
        if (v->type == SPATE_V_BOOL && t == AVRO_BOOLEAN)
                return avro_value_set_boolean(dst, v->u.b);
        if (v->type == SPATE_V_STR && t == AVRO_STRING) {
                /* avro-c wants a terminating NUL counted in the length; not
                 * strndup, which stops at a NUL inside the string (\u0000). */
                char *tmp = spate_xmalloc((size_t)v->n + 1);
                if (v->n)
                        memcpy(tmp, v->u.s, v->n);
                tmp[v->n] = '\0';
                int rc = avro_value_set_string_len(dst, tmp, (size_t)v->n + 1);
                free(tmp);
                return rc;
        }
        snprintf(errstr, errstr_size, "field '%s': a %s does not fit Avro type %s", field,
                 spate_vtype_name(v->type), avro_schema_type_name(avro_value_get_schema(dst)));
        return -1;
}

int spate_avro_encode(spate_avro_t *av, const spate_shape_t *shape, const spate_value_t *v,
                      spate_buf_t *b, char *errstr, size_t errstr_size) {
        size_t size = 0;
        if (av->id < 0 && (av->id = spate_registry_register(av->registry, av->subject, av->schema_json,
                                                            errstr, errstr_size)) < 0)
                return -1;
        avro_value_reset(&av->out);
        if (from_value(&av->out, shape, v, "(record)", errstr, errstr_size))
                return -1;
        avro_value_sizeof(&av->out, &size);
        unsigned char hdr[5] = { 0, (unsigned char)(av->id >> 24), (unsigned char)(av->id >> 16),
                                 (unsigned char)(av->id >> 8), (unsigned char)av->id };
        spate_buf_put(b, hdr, 5);
        if (b->len + size > b->cap)
                spate_buf_grow(b, size);
        avro_writer_t w = avro_writer_memory(b->data + b->len, (int64_t)size);
        int rc = avro_value_write(w, &av->out);
        avro_writer_free(w);
        if (rc) {
                snprintf(errstr, errstr_size, "Avro encoding failed: %s", avro_strerror());
                return -1;
        }
        b->len += size;
        return 0;
}

int spate_avro_bind(spate_avro_t *av, spate_shape_pool_t *pool, spate_shape_t *in,
                    char *errstr, size_t errstr_size) {
        for (size_t i = 0; i < avro_schema_record_size(av->schema); i++) {
                const char *name = avro_schema_record_field_name(av->schema, (int)i);
                avro_schema_t fs = avro_schema_record_field_get_by_index(av->schema, (int)i);
                int nullable = is_avro_null(fs);
                for (size_t k = 0; is_avro_union(fs) && k < avro_schema_union_size(fs); k++)
                        nullable |= is_avro_null(avro_schema_union_branch(fs, (int)k));
                if (spate_shape_field(pool, in, name, strlen(name), 1) < 0 && !nullable) {
                        char names[512];
                        spate_shape_names(in, names, sizeof(names));
                        snprintf(errstr, errstr_size, "the schema's field '%s' is not in this node's input "
                                 "(fields: %s)", name, names);
                        return -1;
                }
        }
        return 0;
}

void spate_avro_destroy(spate_avro_t *av) {
        if (!av)
                return;
        while (av->writers) {
                writer_schema_t *w = av->writers;
                av->writers = w->next;
                avro_value_decref(&w->value);
                avro_value_iface_decref(w->iface);
                avro_schema_decref(w->schema);
                free(w);
        }
        if (av->iface) {
                avro_value_decref(&av->out);
                avro_value_iface_decref(av->iface);
        }
        if (av->schema)
                avro_schema_decref(av->schema);
        if (av->reader)
                avro_reader_free(av->reader);
        free(av->schema_json);
        free(av->registry);
        free(av->subject);
        free(av);
}
