/* value.c - names and truthiness of record values. */
#include "value.h"

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
