/* buf.h - a growable byte buffer for encoding records. */
#ifndef SPATE_BUF_H
#define SPATE_BUF_H

#include <stddef.h>
#include <string.h>

typedef struct spate_buf {
        char *data;
        size_t len, cap;
} spate_buf_t;

void spate_buf_grow(spate_buf_t *b, size_t need);

static inline void spate_buf_put(spate_buf_t *b, const void *p, size_t n) {
        if (!n)  /* p and an empty buffer's data may be NULL: memcpy must not see them */
                return;
        if (b->len + n > b->cap)
                spate_buf_grow(b, n);
        memcpy(b->data + b->len, p, n);
        b->len += n;
}

/* b becomes the n bytes at p (its earlier contents go). */
static inline void spate_buf_set(spate_buf_t *b, const void *p, size_t n) {
        b->len = 0;
        spate_buf_put(b, p, n);
}

static inline void spate_buf_putc(spate_buf_t *b, char c) {
        if (b->len + 1 > b->cap)
                spate_buf_grow(b, 1);
        b->data[b->len++] = c;
}

void spate_buf_free(spate_buf_t *b);

#endif
