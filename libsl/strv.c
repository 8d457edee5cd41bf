/* silverlining — a growable, NULL-terminated vector of strings. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mem.h"
#include "strv.h"

char *sl_strv_empty[1];

void sl_strv_push_owned(struct sl_strv *sv, char *s)
{
	if (sv->n + 2 > sv->alloc) {
		int fresh = !sv->alloc;

		sv->alloc = sl_alloc_nr(sv->alloc, sv->n + 2);
		sv->v = sl_xrealloc(fresh ? NULL : sv->v,
				    sv->alloc * sizeof(*sv->v));
	}
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
}

void sl_strv_push(struct sl_strv *sv, const char *s)
{
	sl_strv_push_owned(sv, sl_xstrdup(s));
}

void sl_strv_pushn(struct sl_strv *sv, const char *s, size_t len)
{
	sl_strv_push_owned(sv, sl_xstrndup(s, len));
}

void sl_strv_pushf(struct sl_strv *sv, const char *fmt, ...)
{
	struct sl_buf b = SL_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	sl_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	sl_strv_push_owned(sv, sl_buf_detach(&b, NULL));
}

void sl_strv_pushv(struct sl_strv *sv, char *const *v)
{
	for (; v && *v; v++)
		sl_strv_push(sv, *v);
}

long sl_strv_find_key(const struct sl_strv *sv, const char *key, size_t keylen)
{
	for (size_t i = 0; i < sv->n; i++)
		if (!strncmp(sv->v[i], key, keylen) && sv->v[i][keylen] == '=')
			return (long)i;
	return -1;
}

void sl_strv_setenv(struct sl_strv *sv, const char *key, const char *value)
{
	long i = sl_strv_find_key(sv, key, strlen(key));
	struct sl_buf b = SL_BUF_INIT;

	sl_buf_addf(&b, "%s=%s", key, value);
	if (i < 0) {
		sl_strv_push_owned(sv, sl_buf_detach(&b, NULL));
		return;
	}
	free(sv->v[i]);
	sv->v[i] = sl_buf_detach(&b, NULL);
}

void sl_strv_remove(struct sl_strv *sv, size_t i)
{
	if (i >= sv->n)
		return;
	free(sv->v[i]);
	memmove(sv->v + i, sv->v + i + 1, (sv->n - i) * sizeof(*sv->v));
	sv->n--;
}

void sl_strv_clear(struct sl_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	if (sv->alloc)
		free(sv->v);
	sv->v = sl_strv_empty;
	sv->n = sv->alloc = 0;
}
