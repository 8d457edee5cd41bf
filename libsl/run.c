/* silverlining — child processes: the one way tools run programs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exit.h"
#include "mem.h"
#include "run.h"

extern char **environ;

int sl_run_code(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return SL_EXIT_SIGNAL + WTERMSIG(wstatus);
	return SL_EXIT_TEMP;
}

/*
 * Whether a file NAME is in a directory of ENV's PATH. execvp() says
 * EACCES when a PATH directory cannot be searched and NAME is nowhere:
 * for the user that is "not found" (127), as a shell says.
 */
static int anywhere_on_path(const char *name, char *const *env)
{
	const char *path = NULL;

	for (; env && *env; env++)
		if (!strncmp(*env, "PATH=", 5))
			path = *env + 5;
	for (const char *p = path ? path : "/usr/local/bin:/usr/bin:/bin"; ; ) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		struct sl_buf b = SL_BUF_INIT;
		struct stat st;
		int found;

		sl_buf_addf(&b, "%.*s/%s", (int)len, len ? p : ".", name);
		found = stat(b.buf, &st) == 0 && !S_ISDIR(st.st_mode);
		sl_buf_release(&b);
		if (found)
			return 1;
		if (!end)
			return 0;
		p = end + 1;
	}
}

static int exec_error(struct sl_err *err, const char *prog, char *const *env, int e)
{
	if (e == EACCES && !strchr(prog, '/') && !anywhere_on_path(prog, env ? env : environ))
		e = ENOENT;
	errno = e;
	sl_err_errno(err, "unable to run '%s'", prog);
	if (err)
		err->code = e == ENOENT ? SL_EXIT_NOTFOUND : SL_EXIT_NOEXEC;
	return -1;
}

int sl_run_exec(char *const *argv, char *const *env, struct sl_err *err)
{
	if (env)
		environ = (char **)env;
	execvp(argv[0], argv);
	return exec_error(err, argv[0], NULL, errno);
}

/* Child side: fd setup after fork. Only async-signal-safe calls. */
static void setup_fd(int want, int pipe_end, int target)
{
	int fd = want;

	if (want == SL_RUN_INHERIT)
		return;
	if (want == SL_RUN_PIPE)
		fd = pipe_end;
	else if (want == SL_RUN_NULL)
		fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		_exit(SL_EXIT_TEMP);
	if (fd == target) {
		fcntl(fd, F_SETFD, 0);
		return;
	}
	if (dup2(fd, target) < 0)
		_exit(SL_EXIT_TEMP);
}

/* Child side: tells the parent what failed, then exits. */
_Noreturn static void report_child(int fd, int stage)
{
	int msg[2] = { stage, errno };

	if (write(fd, msg, sizeof(msg)) < 0)
		_exit(SL_EXIT_TEMP);
	_exit(msg[1] == ENOENT && stage == 'x' ? SL_EXIT_NOTFOUND : SL_EXIT_NOEXEC);
}

static void close_above_stderr(int keep)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);

		if (fd > 2 && fd != keep && fd != dirfd(d))
			close(fd);
	}
	closedir(d);
}

static void close_pair(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	p[0] = p[1] = -1;
}

int sl_run_start(struct sl_child *c, struct sl_err *err)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	int report[2] = { -1, -1 };
	int child[2];	/* what failed in the child ('d' chdir, 'x' exec), errno */
	ssize_t n;

	if ((c->in == SL_RUN_PIPE && pipe2(pin, O_CLOEXEC) < 0) ||
	    (c->out == SL_RUN_PIPE && pipe2(pout, O_CLOEXEC) < 0) ||
	    (c->err == SL_RUN_PIPE && pipe2(perr, O_CLOEXEC) < 0) ||
	    pipe2(report, O_CLOEXEC) < 0) {
		sl_err_errno(err, "unable to create a pipe");
		goto fail;
	}
	c->pid = fork();
	if (c->pid < 0) {
		sl_err_errno(err, "unable to start '%s'", c->argv[0]);
		goto fail;
	}
	if (c->pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		setup_fd(c->in, pin[0], 0);
		setup_fd(c->out, pout[1], 1);
		setup_fd(c->err, perr[1], 2);
		if (c->close_fds)
			close_above_stderr(report[1]);
		if (c->dir && chdir(c->dir) < 0)
			report_child(report[1], 'd');
		if (c->env)
			environ = (char **)c->env;
		execvp(c->argv[0], c->argv);
		report_child(report[1], 'x');
	}
	close(report[1]);
	report[1] = -1;
	do
		n = read(report[0], child, sizeof(child));
	while (n < 0 && errno == EINTR);
	close(report[0]);
	report[0] = -1;
	if (n == sizeof(child)) {
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
		c->pid = -1;
		if (child[0] == 'd') {
			errno = child[1];
			sl_err_errno(err, "unable to enter '%s'", c->dir);
			if (err)
				err->code = SL_EXIT_NOEXEC;
		} else {
			exec_error(err, c->argv[0], c->env, child[1]);
		}
		goto fail;
	}
	if (pin[0] >= 0)
		close(pin[0]);
	if (pout[1] >= 0)
		close(pout[1]);
	if (perr[1] >= 0)
		close(perr[1]);
	c->in_fd = pin[1];
	c->out_fd = pout[0];
	c->err_fd = perr[0];
	return 0;
fail:
	close_pair(pin);
	close_pair(pout);
	close_pair(perr);
	close_pair(report);
	return -1;
}

int sl_run_wait(struct sl_child *c, struct sl_err *err)
{
	int status;

	if (c->in_fd >= 0)
		close(c->in_fd);
	if (c->out_fd >= 0)
		close(c->out_fd);
	if (c->err_fd >= 0)
		close(c->err_fd);
	c->in_fd = c->out_fd = c->err_fd = -1;
	while (waitpid(c->pid, &status, 0) < 0) {
		if (errno != EINTR)
			return sl_err_errno(err, "unable to wait for '%s'",
					    c->argv[0]);
	}
	c->pid = -1;
	return sl_run_code(status);
}

int sl_run(struct sl_child *c, struct sl_err *err)
{
	if (sl_run_start(c, err) < 0)
		return -1;
	return sl_run_wait(c, err);
}

int sl_run_capture(struct sl_child *c, struct sl_buf *out, struct sl_err *err)
{
	int code;

	c->out = SL_RUN_PIPE;
	if (sl_run_start(c, err) < 0)
		return -1;
	if (sl_buf_read_fd(out, c->out_fd) < 0) {
		sl_err_errno(err, "unable to read the output of '%s'",
			     c->argv[0]);
		sl_run_wait(c, NULL);
		return -1;
	}
	code = sl_run_wait(c, err);
	return code;
}

char *sl_run_which(const char *name, const char *path)
{
	const char *p;

	if (!name || !*name || strchr(name, '/'))
		return NULL;
	if (!path)
		path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path;; ) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		struct sl_buf b = SL_BUF_INIT;
		struct stat st;

		if (len)
			sl_buf_add(&b, p, len);
		else
			sl_buf_addch(&b, '.');
		sl_buf_addf(&b, "/%s", name);
		if (!stat(b.buf, &st) && S_ISREG(st.st_mode) &&
		    !access(b.buf, X_OK))
			return sl_buf_detach(&b, NULL);
		sl_buf_release(&b);
		if (!end)
			return NULL;
		p = end + 1;
	}
}

int sl_run_exe_dir(struct sl_buf *out)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	char *slash;

	if (n < 0)
		return -1;
	path[n] = '\0';
	slash = strrchr(path, '/');
	if (!slash) {
		errno = ENOENT;
		return -1;
	}
	sl_buf_add(out, path, slash == path ? 1 : (size_t)(slash - path));
	return 0;
}
