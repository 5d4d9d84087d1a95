/* mem.h - the one out-of-memory policy.
 *
 * Two kinds of allocation, two answers:
 * - Sized by input (a record's value, a batch, a table's load, a restore's
 *   buffer): the caller checks and fails softly - the record goes to the DLQ,
 *   the commit is held or the run stops with an error - since the next input
 *   may fit.
 * - Bookkeeping (a node, a task, a topic name, a metrics series, a growing
 *   array of a few hundred entries), and the buffers and arenas one record
 *   fills (bounded by the broker's message size): these spate_x* calls. A
 *   failure there means the process cannot go on; it logs what failed and
 *   aborts, as Redis's zmalloc does. Nothing is lost: the input past the last
 *   commit is replayed on restart (docs/exactness.md).
 * The returned memory is the caller's, freed with free(). */
#ifndef SPATE_MEM_H
#define SPATE_MEM_H

#include <stddef.h>

/* Logs "out of memory allocating SIZE bytes (WHAT)" and aborts. */
_Noreturn void spate_oom(size_t size, const char *what);

void *spate_xmalloc(size_t size);
void *spate_xcalloc(size_t n, size_t size);
/* realloc(p, size), never NULL: p is left to the caller only on success. */
void *spate_xrealloc(void *p, size_t size);
char *spate_xstrdup(const char *s);
char *spate_xstrndup(const char *s, size_t n);

#endif
