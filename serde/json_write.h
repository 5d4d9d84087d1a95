/* json_write.h - writes record values as JSON by their shape. */
#ifndef SPATE_JSON_WRITE_H
#define SPATE_JSON_WRITE_H

#include "../util/buf.h"
#include "../engine/shape.h"

/* Appends v to b. Objects take their key names from `shape`; values decoded
 * from input with want_raw are copied verbatim; missing fields are left out;
 * NaN and infinities become null (JSON has no such numbers). */
void spate_json_write(spate_buf_t *b, const spate_shape_t *shape, const spate_value_t *v);
void spate_json_write_str(spate_buf_t *b, const char *s, size_t n);

#endif
