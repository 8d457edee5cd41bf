/* silverlining — allocation that cannot fail. */
#ifndef SL_MEM_H
#define SL_MEM_H

#include <stddef.h>

/*
 * These wrap malloc and friends. On failure they print
 * "PROG: fatal: out of memory" and exit 111: no caller can do better,
 * and checking every small allocation hides the real error paths.
 */
void *sl_xmalloc(size_t n);
void *sl_xcalloc(size_t nmemb, size_t size);
void *sl_xrealloc(void *p, size_t n);
char *sl_xstrdup(const char *s);
char *sl_xstrndup(const char *s, size_t n);

/* Growth for arrays: returns a new capacity >= NEED, at least ALLOC*3/2. */
size_t sl_alloc_nr(size_t alloc, size_t need);

#endif
