/* buf.c - growth of spate_buf_t (bookkeeping memory: mem.h's policy). */
#include "buf.h"
#include "mem.h"

#include <stdlib.h>

void spate_buf_grow(spate_buf_t *b, size_t need) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + need)
                cap *= 2;
        b->data = spate_xrealloc(b->data, cap);
        b->cap = cap;
}

void spate_buf_free(spate_buf_t *b) {
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}
