/* value.c - names and truthiness of record values. */
#include "value.h"
#include "../util/arena.h"
#include "../util/util.h"

#include <string.h>

const char *spate_vtype_name(int type) {
        static const char *names[] = { "missing", "null", "bool", "number",
                                       "string", "array", "object" };
        return type >= 0 && type <= SPATE_V_OBJ ? names[type] : "?";
}

int spate_value_truthy(const spate_value_t *v) {
        switch (v->type) {
        case SPATE_V_BOOL: return v->u.b;
        case SPATE_V_NUM:  return v->u.num != 0;
        case SPATE_V_STR:  return v->n > 0;
        case SPATE_V_ARR:
        case SPATE_V_OBJ:  return 1;
        default:           return 0;
        }
}

int spate_value_to_key(const spate_value_t *v, struct spate_arena *a, const char **key,
                       size_t *len) {
        char buf[32];
        switch (v->type) {
        case SPATE_V_STR:
                *key = v->u.s;
                *len = v->n;
                return 0;
        case SPATE_V_NUM:
                *len = (size_t)spate_fmt_num(buf, sizeof(buf), v->u.num);
                *key = spate_arena_memdup(a, buf, *len);
                return 0;
        case SPATE_V_BOOL:
                *key = v->u.b ? "true" : "false";
                *len = strlen(*key);
                return 0;
        default:
                return -1;
        }
}
