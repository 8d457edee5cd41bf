/* silverlining — allocation that cannot fail. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "msg.h"

static void *check(void *p)
{
	if (!p)
		sl_die(SL_EXIT_TEMP, "out of memory");
	return p;
}

void *sl_xmalloc(size_t n)
{
	return check(malloc(n ? n : 1));
}

void *sl_xcalloc(size_t nmemb, size_t size)
{
	return check(calloc(nmemb ? nmemb : 1, size ? size : 1));
}

void *sl_xrealloc(void *p, size_t n)
{
	return check(realloc(p, n ? n : 1));
}

char *sl_xstrdup(const char *s)
{
	return check(strdup(s));
}

char *sl_xstrndup(const char *s, size_t n)
{
	return check(strndup(s, n));
}

size_t sl_alloc_nr(size_t alloc, size_t need)
{
	size_t n = alloc < 8 ? 16 : alloc + alloc / 2;

	if (n < need)
		n = need;
	if (n > SIZE_MAX / 2)
		sl_die(SL_EXIT_TEMP, "out of memory");
	return n;
}
