/* silverlining — a growable, NULL-terminated vector of strings. */
#ifndef SL_STRV_H
#define SL_STRV_H

#include <stddef.h>

/*
 * v is always NULL-terminated (it points at a shared { NULL } while
 * empty), so it can be passed to execve() as it is. The vector owns its
 * strings: pushing copies, sl_strv_clear() frees them.
 */
struct sl_strv {
	char **v;
	size_t n;
	size_t alloc;
};

extern char *sl_strv_empty[];
#define SL_STRV_INIT { sl_strv_empty, 0, 0 }

void sl_strv_push(struct sl_strv *sv, const char *s);
void sl_strv_pushn(struct sl_strv *sv, const char *s, size_t len);
void sl_strv_pushf(struct sl_strv *sv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Takes ownership of S, a malloc'ed string. */
void sl_strv_push_owned(struct sl_strv *sv, char *s);
void sl_strv_pushv(struct sl_strv *sv, char *const *v);

/*
 * For environment vectors of "KEY=VALUE": the index of the entry whose key
 * is KEY (KEYLEN bytes), or -1.
 */
long sl_strv_find_key(const struct sl_strv *sv, const char *key, size_t keylen);

/* Sets KEY=VALUE in an environment vector, replacing an entry with KEY. */
void sl_strv_setenv(struct sl_strv *sv, const char *key, const char *value);

/* Removes entry I, keeping the order of the rest. */
void sl_strv_remove(struct sl_strv *sv, size_t i);

void sl_strv_clear(struct sl_strv *sv);

#endif
