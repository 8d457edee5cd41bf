/* silverlining — what node-side library code tells while it works. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "err.h"
#include "exit.h"
#include "msg.h"
#include "run.h"
#include "say.h"

void sl_say(const struct sl_say *s, const char *fmt, ...)
{
	struct sl_buf b = SL_BUF_INIT;
	va_list ap;

	if (!s || !s->fn)
		return;
	va_start(ap, fmt);
	sl_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	s->fn(s->ctx, b.buf, b.len, 1);
	sl_buf_release(&b);
}

void sl_say_text(const struct sl_say *s, const char *text, size_t len)
{
	if (s && s->fn)
		s->fn(s->ctx, text, len, 0);
}

int sl_say_run(const struct sl_say *s, int out, int errfd, char *const *argv)
{
	struct sl_child c = SL_CHILD_INIT;
	struct sl_err err = SL_ERR_INIT;
	int code;

	c.argv = argv;
	c.in = SL_RUN_NULL;
	c.out = out;
	c.err = errfd;
	code = sl_run(&c, &err);
	if (code < 0) {
		sl_say(s, "%s", err.msg.buf);
		code = err.code ? err.code : SL_EXIT_TEMP;
	}
	sl_err_release(&err);
	return code;
}

int sl_say_merged(struct sl_buf *out, char *const *argv)
{
	struct sl_child c = SL_CHILD_INIT;
	struct sl_err err = SL_ERR_INIT;
	int p[2], code;

	if (pipe2(p, O_CLOEXEC) < 0) {
		sl_err_errno(&err, "unable to make a pipe");
		sl_buf_addf(out, "%s\n", err.msg.buf);
		sl_err_release(&err);
		return SL_EXIT_TEMP;
	}
	c.argv = argv;
	c.in = SL_RUN_NULL;
	c.out = p[1];
	c.err = p[1];
	code = sl_run_start(&c, &err);
	close(p[1]);
	if (code == 0) {
		sl_buf_read_fd(out, p[0]);
		code = sl_run_wait(&c, &err);
	}
	close(p[0]);
	if (code < 0) {
		sl_buf_addf(out, "%s\n", err.msg.buf);
		code = err.code ? err.code : SL_EXIT_TEMP;
	}
	sl_err_release(&err);
	return code;
}

int sl_say_capture(struct sl_buf *out, char *const *argv)
{
	struct sl_child c = SL_CHILD_INIT;
	int code;

	c.argv = argv;
	c.in = SL_RUN_NULL;
	c.err = SL_RUN_NULL;
	code = sl_run_capture(&c, out, NULL);
	return code < 0 ? SL_EXIT_TEMP : code;
}

static void to_stderr(void *ctx, const char *text, size_t len, int line)
{
	struct sl_buf b = SL_BUF_INIT;

	(void)ctx;
	if (line) {
		sl_buf_addf(&b, "%s: %.*s\n", sl_msg_prog(), (int)len, text);
		fputs(b.buf, stderr);
		sl_buf_release(&b);
	} else {
		fwrite(text, 1, len, stderr);
	}
	fflush(stderr);
}

const struct sl_say sl_say_stderr = { to_stderr, NULL };
