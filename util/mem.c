/* mem.c - the spate_x* allocators: abort with a log line when bookkeeping
 * memory runs out (mem.h says which allocations are bookkeeping). */
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void spate_oom(size_t size, const char *what) {
        /* fprintf, not spate_log: nothing here may allocate. */
        fprintf(stderr, "spate: out of memory allocating %zu bytes (%s): aborting; the input since the "
                "last commit is replayed on restart\n", size, what);
        abort();
}

void *spate_xmalloc(size_t size) {
        void *p = malloc(size ? size : 1);
        if (!p)
                spate_oom(size, "malloc");
        return p;
}

void *spate_xcalloc(size_t n, size_t size) {
        void *p = calloc(n ? n : 1, size ? size : 1);
        if (!p)
                spate_oom(n * size, "calloc");
        return p;
}

void *spate_xrealloc(void *p, size_t size) {
        void *q = realloc(p, size ? size : 1);
        if (!q)
                spate_oom(size, "realloc");
        return q;
}

char *spate_xstrdup(const char *s) {
        return spate_xstrndup(s, strlen(s));
}

char *spate_xstrndup(const char *s, size_t n) {
        char *d = strndup(s, n);
        if (!d)
                spate_oom(n + 1, "strdup");
        return d;
}
