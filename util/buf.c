/* buf.c - growth of spate_buf_t; aborts on OOM like the arena. */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>

void spate_buf_grow(spate_buf_t *b, size_t need) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + need)
                cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
                fprintf(stderr, "spate: out of memory (buffer)\n");
                abort();
        }
        b->data = d;
        b->cap = cap;
}

void spate_buf_free(spate_buf_t *b) {
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}
