/*
 * silverlining — INI files through inih, with line numbers.
 *
 * inih reads through a caller-supplied fgets-like reader, one line per
 * call, before it calls the handler for that line. Feeding it from
 * memory through such a reader lets us count lines and see each line's
 * first byte (indentation marks a continuation) at the moment the
 * handler runs. inih's own errors come back as a line number only; the
 * text of that line, kept in memory, makes the message.
 */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <string.h>

#include "exit.h"
#include "ini.h"

struct reader {
	const char *path;
	const char *p, *end;	/* what is left of the file */
	const char *line;	/* start of the line last read */
	unsigned lineno;
	int indented;
	int have_key;		/* a key was seen since the last section line */
	sl_ini_fn fn;
	void *user;
	struct sl_err *err;
	int failed;		/* fn or the reader reported an error */
	unsigned fail_line;
};

static char *read_line(char *str, int num, void *stream)
{
	struct reader *r = stream;
	const char *nl;
	size_t len, text, max = (size_t)num - 1;

	if (r->p >= r->end || r->failed)
		return NULL;
	nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
	len = nl ? (size_t)(nl - r->p) + 1 : (size_t)(r->end - r->p);
	r->line = r->p;
	r->lineno++;
	text = len - (nl ? 1 : 0);
	if (text && r->p[text - 1] == '\r')
		text--;		/* CRLF files: the CR is not part of the line */
	if (text > SL_INI_MAX_LINE || text + 1 > max) {
		r->failed = 1;
		r->fail_line = r->lineno;
		sl_err_set(r->err, SL_EXIT_USAGE,
			   "%s:%u: line is longer than %d characters",
			   r->path, r->lineno, SL_INI_MAX_LINE);
		return NULL;
	}
	/* the CR of a CRLF line is dropped here, so a full line still fits */
	memcpy(str, r->p, text);
	if (nl)
		str[text++] = '\n';
	str[text] = '\0';
	r->indented = len && (r->p[0] == ' ' || r->p[0] == '\t');
	/*
	 * inih forgets the previous key at every section line, even a
	 * repeated one; but an indented line after a key continues it, even
	 * one starting with '[' (an IPv6 address "[::1]:2222")
	 */
	if (r->p[strspn(r->p, " \t")] == '[' && !(r->indented && r->have_key))
		r->have_key = 0;
	r->p += len;
	return str;
}

static int handle(void *user, const char *section, const char *name,
		  const char *value)
{
	struct reader *r = user;
	struct sl_ini_item item;
	char cont[SL_INI_MAX_LINE + 1];

	if (r->failed)
		return 0;
	item.section = section;
	item.key = name;
	item.value = value;
	item.line = r->lineno;
	item.continuation = r->indented && r->have_key;
	r->have_key = 1;
	if (item.continuation) {
		/*
		 * inih 55 strips " ;" comments from key lines only: a
		 * continuation line gets the same treatment here
		 */
		size_t n = strlen(value);

		for (size_t i = 1; i < n; i++)
			if (value[i] == ';' && isspace((unsigned char)value[i - 1])) {
				n = i;
				break;
			}
		while (n && isspace((unsigned char)value[n - 1]))
			n--;
		memcpy(cont, value, n);
		cont[n] = '\0';
		item.value = cont;
	}
	if (r->fn(r->user, &item, r->err) < 0) {
		r->failed = 1;
		r->fail_line = r->lineno;
		return 0;
	}
	return 1;
}

/* The text of line LINENO of [start, end), printable, at most 60 bytes. */
static void show_line(struct sl_buf *out, const char *start, const char *end,
		      unsigned lineno)
{
	const char *p = start;
	size_t n = 0;

	for (unsigned i = 1; i < lineno && p < end; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		p = nl ? nl + 1 : end;
	}
	while (p < end && isspace((unsigned char)*p) && *p != '\n')
		p++;
	for (; p < end && *p != '\n' && *p != '\r'; p++, n++) {
		if (n == 60) {
			sl_buf_adds(out, "...");
			break;
		}
		sl_buf_addch(out, isprint((unsigned char)*p) ? *p : '?');
	}
}

int sl_ini_parse(const char *path, sl_ini_fn fn, void *user,
		 struct sl_err *err)
{
	struct sl_buf text = SL_BUF_INIT;
	int ret;

	if (sl_buf_read_file(&text, path) < 0) {
		int code = errno == EIO ? SL_EXIT_TEMP : SL_EXIT_USAGE;

		sl_err_errno(err, "unable to read %s", path);
		if (err)
			err->code = code;
		sl_buf_release(&text);
		return -1;
	}
	ret = sl_ini_parse_text(path, text.buf, text.len, fn, user, err);
	sl_buf_release(&text);
	return ret;
}

int sl_ini_parse_text(const char *path, const char *buf, size_t len, sl_ini_fn fn,
		      void *user, struct sl_err *err)
{
	struct reader r = { 0 };
	const char *nul;
	int line;

	/* the text before a NUL is parsed first: an earlier error wins */
	nul = memchr(buf, '\0', len);
	r.path = path;
	r.p = buf;
	r.end = buf + len;
	if (nul) {	/* up to the line holding the NUL, which is not text */
		r.end = nul;
		while (r.end > buf && r.end[-1] != '\n')
			r.end--;
	}
	r.fn = fn;
	r.user = user;
	r.err = err;
	line = ini_parse_stream(read_line, &r, handle, &r);
	/* inih goes on after a bad line; the first error is the one to show */
	if (line > 0 && (!r.failed || (unsigned)line < r.fail_line)) {
		struct sl_buf shown = SL_BUF_INIT;

		show_line(&shown, buf, buf + len, (unsigned)line);
		sl_err_set(err, SL_EXIT_USAGE,
			   "%s:%d: expected '[section]' or 'key = value', not '%s'",
			   path, line, shown.buf);
		sl_buf_release(&shown);
		r.failed = 1;
	} else if (!r.failed && line < 0) {
		sl_err_set(err, SL_EXIT_TEMP, "%s: out of memory", path);
		r.failed = 1;
	} else if (!r.failed && nul) {
		unsigned lineno = 1;

		for (const char *p = buf; p < nul; p++)
			lineno += *p == '\n';
		sl_err_set(err, SL_EXIT_USAGE, "%s:%u: NUL byte in the file (is it text?)",
			   path, lineno);
		r.failed = 1;
	}
	return r.failed ? -1 : 0;
}
