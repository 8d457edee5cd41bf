/* silverlining — a growable string buffer. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "mem.h"

char sl_buf_empty[1];

void sl_buf_grow(struct sl_buf *b, size_t extra)
{
	int fresh = !b->alloc;

	if (b->len + extra + 1 <= b->alloc)
		return;
	b->alloc = sl_alloc_nr(b->alloc, b->len + extra + 1);
	b->buf = sl_xrealloc(fresh ? NULL : b->buf, b->alloc);
	if (fresh)
		b->buf[0] = '\0';
}

void sl_buf_setlen(struct sl_buf *b, size_t n)
{
	if (!b->alloc)
		return;
	b->len = n;
	b->buf[n] = '\0';
}

void sl_buf_add(struct sl_buf *b, const void *data, size_t n)
{
	sl_buf_grow(b, n);
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

void sl_buf_adds(struct sl_buf *b, const char *s)
{
	sl_buf_add(b, s, strlen(s));
}

void sl_buf_addch(struct sl_buf *b, int c)
{
	sl_buf_grow(b, 1);
	b->buf[b->len++] = (char)c;
	b->buf[b->len] = '\0';
}

void sl_buf_vaddf(struct sl_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	sl_buf_grow(b, 64);
	va_copy(cp, ap);
	n = vsnprintf(b->buf + b->len, b->alloc - b->len, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	if ((size_t)n >= b->alloc - b->len) {
		sl_buf_grow(b, (size_t)n);
		n = vsnprintf(b->buf + b->len, b->alloc - b->len, fmt, ap);
	}
	b->len += (size_t)n;
}

void sl_buf_addf(struct sl_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sl_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

void sl_buf_rtrim(struct sl_buf *b)
{
	while (b->len && strchr(" \t\r\n\v\f", b->buf[b->len - 1]))
		b->len--;
	sl_buf_setlen(b, b->len);
}

long sl_buf_read_fd(struct sl_buf *b, int fd)
{
	long total = 0;

	for (;;) {
		ssize_t n;

		sl_buf_grow(b, 8192);
		n = read(fd, b->buf + b->len, b->alloc - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return total;
		b->len += (size_t)n;
		b->buf[b->len] = '\0';
		total += n;
	}
}

int sl_buf_read_file(struct sl_buf *b, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int saved;
	long n;

	if (fd < 0)
		return -1;
	n = sl_buf_read_fd(b, fd);
	saved = errno;
	close(fd);
	errno = saved;
	return n < 0 ? -1 : 0;
}

void sl_buf_release(struct sl_buf *b)
{
	if (b->alloc)
		free(b->buf);
	b->alloc = b->len = 0;
	b->buf = sl_buf_empty;
}

char *sl_buf_detach(struct sl_buf *b, size_t *len)
{
	char *s;

	sl_buf_grow(b, 0);
	s = b->buf;
	if (len)
		*len = b->len;
	b->alloc = b->len = 0;
	b->buf = sl_buf_empty;
	return s;
}
