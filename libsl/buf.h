/* silverlining — a growable string buffer. */
#ifndef SL_BUF_H
#define SL_BUF_H

#include <stdarg.h>
#include <stddef.h>

/*
 * struct sl_buf follows git's strbuf rules: buf is always NUL-terminated,
 * even when empty (it then points at a shared empty string that must not
 * be written); len excludes the NUL; the buffer has one owner, who calls
 * sl_buf_release() or takes the string with sl_buf_detach(). Bytes may
 * include NULs; len counts them.
 *
 * Allocation failure is the one error the buffer does not return: it
 * prints "fatal: out of memory" and exits 111 (see mem.h).
 */
struct sl_buf {
	size_t alloc;
	size_t len;
	char *buf;
};

extern char sl_buf_empty[];
#define SL_BUF_INIT { 0, 0, sl_buf_empty }

/* Ensures room for EXTRA more bytes plus the NUL. */
void sl_buf_grow(struct sl_buf *b, size_t extra);

/* Sets len to N (N <= len), keeping the memory. */
void sl_buf_setlen(struct sl_buf *b, size_t n);
#define sl_buf_reset(b) sl_buf_setlen((b), 0)

void sl_buf_add(struct sl_buf *b, const void *data, size_t n);
void sl_buf_adds(struct sl_buf *b, const char *s);
void sl_buf_addch(struct sl_buf *b, int c);
void sl_buf_addf(struct sl_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sl_buf_vaddf(struct sl_buf *b, const char *fmt, va_list ap);

/* Removes trailing whitespace. */
void sl_buf_rtrim(struct sl_buf *b);

/*
 * Appends everything readable from FD (until EOF). Returns the number of
 * bytes read, or -1 with errno set (what was read so far stays).
 */
long sl_buf_read_fd(struct sl_buf *b, int fd);

/* Appends the contents of the file PATH. -1 with errno on failure. */
int sl_buf_read_file(struct sl_buf *b, const char *path);

/* Frees the memory; B is then empty and reusable. */
void sl_buf_release(struct sl_buf *b);

/* Returns the string, which the caller now owns and frees; B is empty. */
char *sl_buf_detach(struct sl_buf *b, size_t *len);

#endif
