/* silverlining — the record of an instance that keeps failing. */
#include <stdio.h>

#include "failing.h"
#include "file.h"
#include "node.h"

void sl_failing_path(struct sl_buf *out, const char *instance)
{
	sl_buf_reset(out);
	sl_buf_addf(out, "%s/failing", sl_node_sockets());
	if (instance)
		sl_buf_addf(out, "/%s", instance);
}

int sl_failing_parse(const char *text, struct sl_failing *f)
{
	long n, since;

	if (sscanf(text, "%ld %ld", &n, &since) != 2 || n < 0 || since < 0)
		return -1;
	f->n = n;
	f->since = since;
	return 0;
}

int sl_failing_read(const char *instance, struct sl_failing *f)
{
	struct sl_buf p = SL_BUF_INIT, t = SL_BUF_INIT;
	int ok;

	sl_failing_path(&p, instance);
	ok = sl_buf_read_file(&t, p.buf) == 0 && sl_failing_parse(t.buf, f) == 0;
	sl_buf_release(&p);
	sl_buf_release(&t);
	return ok;
}

int sl_failing_write(const char *instance, const struct sl_failing *f,
		     struct sl_err *err)
{
	struct sl_buf p = SL_BUF_INIT, t = SL_BUF_INIT;
	int ret;

	sl_failing_path(&p, instance);
	sl_buf_addf(&t, "%ld %ld\n", f->n, f->since);
	ret = sl_file_write(p.buf, t.buf, t.len, 0644, SL_FILE_REPLACE, err);
	sl_buf_release(&p);
	sl_buf_release(&t);
	return ret;
}

long sl_failing_delay(long n)
{
	if (n < 2)
		return 0;
	return n > 5 ? 30 : 1L << (n - 1);
}

void sl_failing_count(struct sl_failing *f, time_t now)
{
	if ((long)now - f->since > 60)
		f->n = 0;
	f->n++;
}
