/* silverlining — one child per node, their output relayed line by line. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exit.h"
#include "fanout.h"
#include "mem.h"
#include "run.h"

/* A line longer than this is relayed in pieces (each prefixed). */
#define LINE_MAX_BYTES 65536

struct sl_fanout_job *sl_fanout_add(struct sl_fanout *f, const char *host)
{
	struct sl_fanout_job *j = sl_xcalloc(1, sizeof(*j));

	if (f->n == f->alloc) {
		f->alloc = f->alloc ? 2 * f->alloc : 8;
		f->jobs = sl_xrealloc(f->jobs, f->alloc * sizeof(*f->jobs));
	}
	j->in = -1;
	j->code = -1;
	j->err = (struct sl_err)SL_ERR_INIT;
	j->host = sl_xstrdup(host);
	j->pid = -1;
	j->out_fd = j->err_fd = -1;
	j->out_line = (struct sl_buf)SL_BUF_INIT;
	j->err_line = (struct sl_buf)SL_BUF_INIT;
	f->jobs[f->n++] = j;
	return j;
}

static void write_all(struct sl_fanout *f, int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (!f->write_errno)
				f->write_errno = w < 0 ? errno : EIO;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void relay(struct sl_fanout *f, struct sl_fanout_job *j, int fd,
		  const char *line, size_t n)
{
	struct sl_buf b = SL_BUF_INIT;

	sl_buf_addf(&b, "%s: ", j->host);
	sl_buf_add(&b, line, n);
	if (!n || line[n - 1] != '\n')
		sl_buf_addch(&b, '\n');
	write_all(f, fd, b.buf, b.len);
	sl_buf_release(&b);
}

/* Relays the whole lines in PENDING (all of it when AT_EOF). */
static void relay_lines(struct sl_fanout *f, struct sl_fanout_job *j, int fd,
			struct sl_buf *pending, int at_eof)
{
	size_t start = 0;

	for (;;) {
		size_t avail = pending->len - start, len, end;
		const char *nl = memchr(pending->buf + start, '\n', avail);

		len = nl ? (size_t)(nl - (pending->buf + start)) + 1 : avail;
		/* a line longer than LINE_MAX_BYTES (its newline aside) goes in pieces of that size,
		   whatever the reads that brought it */
		if (len - (nl != NULL) > LINE_MAX_BYTES)
			end = start + LINE_MAX_BYTES;
		else if (nl || (at_eof && avail))
			end = start + len;
		else
			break;
		relay(f, j, fd, pending->buf + start, end - start);
		start = end;
	}
	if (start) {
		memmove(pending->buf, pending->buf + start, pending->len - start);
		sl_buf_setlen(pending, pending->len - start);
	}
}

/* Child side of a FN job: never returns. */
_Noreturn static void run_fn(struct sl_fanout *f, struct sl_fanout_job *j,
			     int in, int out, int errfd)
{
	sigset_t none;
	int code;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	for (size_t i = 0; i < f->n; i++) {
		if (f->jobs[i]->out_fd >= 0)
			close(f->jobs[i]->out_fd);
		if (f->jobs[i]->err_fd >= 0)
			close(f->jobs[i]->err_fd);
	}
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0)
		_exit(SL_EXIT_TEMP);
	close(in);
	close(out);
	close(errfd);
	code = j->fn(j->arg);
	if (fflush(NULL) == EOF && !code)
		code = SL_EXIT_TEMP;
	_exit(code);
}

static int start_fn(struct sl_fanout *f, struct sl_fanout_job *j)
{
	int pout[2] = { -1, -1 }, perr[2] = { -1, -1 }, in = -1;

	if (pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0) {
		sl_err_errno(&j->err, "unable to create a pipe");
		goto fail;
	}
	in = j->in >= 0 ? dup(j->in) : open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		sl_err_errno(&j->err, "unable to open the child's stdin");
		goto fail;
	}
	fflush(NULL);
	j->pid = fork();
	if (j->pid < 0) {
		sl_err_errno(&j->err, "unable to fork");
		goto fail;
	}
	if (j->pid == 0)
		run_fn(f, j, in, pout[1], perr[1]);
	close(in);
	close(pout[1]);
	close(perr[1]);
	j->out_fd = pout[0];
	j->err_fd = perr[0];
	return 0;
fail:
	for (int k = 0; k < 2; k++) {
		if (pout[k] >= 0)
			close(pout[k]);
		if (perr[k] >= 0)
			close(perr[k]);
	}
	if (in >= 0)
		close(in);
	return -1;
}

static int start_argv(struct sl_fanout_job *j)
{
	struct sl_child c = SL_CHILD_INIT;

	c.argv = j->argv;
	c.in = j->in >= 0 ? j->in : SL_RUN_NULL;
	c.out = SL_RUN_PIPE;
	c.err = SL_RUN_PIPE;
	fflush(NULL);
	if (sl_run_start(&c, &j->err) < 0)
		return -1;
	j->pid = c.pid;
	j->out_fd = c.out_fd;
	j->err_fd = c.err_fd;
	return 0;
}

size_t sl_fanout_start(struct sl_fanout *f)
{
	size_t started = 0;

	for (size_t i = 0; i < f->n; i++) {
		struct sl_fanout_job *j = f->jobs[i];
		int r;

		if (j->pid >= 0 || j->code >= 0)
			continue;
		if (j->fn)
			r = start_fn(f, j);
		else if (j->argv && j->argv[0])
			r = start_argv(j);
		else
			r = sl_err_set(&j->err, SL_EXIT_USAGE, "nothing to run for %s", j->host);
		if (r < 0) {
			j->code = j->err.code ? j->err.code : SL_EXIT_TEMP;
			j->pid = -1;
			continue;
		}
		started++;
	}
	return started;
}

/* Reads what FD has; at EOF closes it and relays the rest. */
static void drain(struct sl_fanout *f, struct sl_fanout_job *j, int *fd,
		  struct sl_buf *pending, int to)
{
	char chunk[8192];
	ssize_t n;

	do
		n = read(*fd, chunk, sizeof(chunk));
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		sl_buf_add(pending, chunk, (size_t)n);
		if (to >= 0)
			relay_lines(f, j, to, pending, 0);
		return;
	}
	if (n < 0 && errno == EAGAIN)
		return;
	close(*fd);
	*fd = -1;
	if (to >= 0)
		relay_lines(f, j, to, pending, 1);
}

static int reap(struct sl_fanout_job *j, struct sl_err *err)
{
	int status;

	while (waitpid(j->pid, &status, 0) < 0) {
		if (errno != EINTR)
			return sl_err_errno(err, "unable to wait for the child of %s", j->host);
	}
	j->pid = -1;
	j->code = sl_run_code(status);
	return 0;
}

int sl_fanout_wait(struct sl_fanout *f, struct sl_err *err)
{
	struct pollfd *pfd = sl_xcalloc(2 * f->n + 1, sizeof(*pfd));
	struct sl_fanout_job **owner = sl_xcalloc(2 * f->n + 1, sizeof(*owner));
	int ret = 0;

	for (;;) {
		nfds_t n = 0;

		for (size_t i = 0; i < f->n; i++) {
			struct sl_fanout_job *j = f->jobs[i];

			if (j->out_fd >= 0) {
				pfd[n] = (struct pollfd){ j->out_fd, POLLIN, 0 };
				owner[n++] = j;
			}
			if (j->err_fd >= 0) {
				pfd[n] = (struct pollfd){ j->err_fd, POLLIN, 0 };
				owner[n++] = j;
			}
		}
		if (!n)
			break;
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			ret = sl_err_errno(err, "unable to poll the children's output");
			goto out;
		}
		for (nfds_t k = 0; k < n; k++) {
			struct sl_fanout_job *j = owner[k];

			if (!pfd[k].revents)
				continue;
			if (pfd[k].fd == j->out_fd) {
				if (j->capture)
					drain(f, j, &j->out_fd, j->capture, -1);
				else
					drain(f, j, &j->out_fd, &j->out_line, f->out);
			} else {
				drain(f, j, &j->err_fd, &j->err_line, f->err);
			}
		}
	}
	for (size_t i = 0; i < f->n; i++)
		if (f->jobs[i]->pid > 0 && reap(f->jobs[i], err) < 0 && !ret)
			ret = -1;
out:
	free(pfd);
	free(owner);
	return ret;
}

int sl_fanout_run(struct sl_fanout *f, struct sl_err *err)
{
	sl_fanout_start(f);
	return sl_fanout_wait(f, err);
}

long sl_fanout_first_failed(const struct sl_fanout *f)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->jobs[i]->code != 0)
			return (long)i;
	return -1;
}

void sl_fanout_release(struct sl_fanout *f)
{
	for (size_t i = 0; i < f->n; i++) {
		struct sl_fanout_job *j = f->jobs[i];

		if (j->out_fd >= 0)
			close(j->out_fd);
		if (j->err_fd >= 0)
			close(j->err_fd);
		sl_err_release(&j->err);
		sl_buf_release(&j->out_line);
		sl_buf_release(&j->err_line);
		free(j->host);
		free(j);
	}
	free(f->jobs);
	f->jobs = NULL;
	f->n = f->alloc = 0;
	f->write_errno = 0;
}
