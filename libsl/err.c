/* silverlining — errors returned by library code. */
#include <errno.h>
#include <string.h>

#include "err.h"
#include "exit.h"

int sl_err_set(struct sl_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	err->code = code;
	sl_buf_reset(&err->msg);
	va_start(ap, fmt);
	sl_buf_vaddf(&err->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int sl_err_errno(struct sl_err *err, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (!err)
		return -1;
	err->code = sl_exit_from_errno(saved);
	sl_buf_reset(&err->msg);
	va_start(ap, fmt);
	sl_buf_vaddf(&err->msg, fmt, ap);
	va_end(ap);
	sl_buf_addf(&err->msg, ": %s", strerror(saved));
	errno = saved;
	return -1;
}

void sl_err_prefix(struct sl_err *err, const char *fmt, ...)
{
	struct sl_buf b = SL_BUF_INIT;
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	sl_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	sl_buf_adds(&b, ": ");
	sl_buf_add(&b, err->msg.buf, err->msg.len);
	sl_buf_release(&err->msg);
	err->msg = b;
}

void sl_err_release(struct sl_err *err)
{
	sl_buf_release(&err->msg);
	err->code = 0;
}
