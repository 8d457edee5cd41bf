/* silverlining — child processes: the one way tools run programs. */
#ifndef SL_RUN_H
#define SL_RUN_H

#include <sys/types.h>

#include "buf.h"
#include "err.h"

/*
 * A child is described by a struct sl_child, started, then waited for:
 *
 *	struct sl_child c = SL_CHILD_INIT;
 *	c.argv = argv;
 *	c.out = SL_RUN_PIPE;
 *	if (sl_run_start(&c, &err) < 0) ...
 *	... read c.out_fd ...
 *	code = sl_run_wait(&c, &err);
 *
 * argv[0] is looked up on the PATH of the child's environment unless it
 * holds a '/'. No shell is involved, ever: arguments reach the program as
 * they are. Secrets go through stdin or files, never through argv.
 *
 * Failure to exec is reported by sl_run_start() itself (the child tells
 * the parent through a close-on-exec pipe): -1 with err->code 127 when
 * the program does not exist, 126 when it cannot be run.
 */

enum {
	SL_RUN_INHERIT = -1,	/* the child shares the parent's fd */
	SL_RUN_NULL = -2,	/* /dev/null */
	SL_RUN_PIPE = -3,	/* a pipe; the parent's end in in_fd/out_fd/err_fd */
};

struct sl_child {
	char *const *argv;
	char *const *env;	/* NULL: the parent's environment */
	const char *dir;	/* NULL: the parent's working directory */
	int in, out, err;	/* SL_RUN_* or an fd of the parent, dup'ed */
	int close_fds;		/* close fds above 2 (daemons; bats waits on them) */
	pid_t pid;
	int in_fd, out_fd, err_fd;	/* parent's ends of pipes; close-on-exec */
};
#define SL_CHILD_INIT { NULL, NULL, NULL, SL_RUN_INHERIT, SL_RUN_INHERIT, \
	SL_RUN_INHERIT, 0, -1, -1, -1, -1 }

/* Starts C. Returns 0, or -1 with ERR set (nothing is left running). */
int sl_run_start(struct sl_child *c, struct sl_err *err);

/*
 * Waits for C and closes the parent's pipe ends still open. Returns the
 * exit code: the child's own status, or 128+n when signal n killed it;
 * -1 with ERR set if waiting failed.
 */
int sl_run_wait(struct sl_child *c, struct sl_err *err);

/* Runs C to completion. Returns its exit code, or -1 with ERR set. */
int sl_run(struct sl_child *c, struct sl_err *err);

/*
 * Runs C with stdout on a pipe, appending all it prints to OUT. Returns
 * its exit code, or -1 with ERR set.
 */
int sl_run_capture(struct sl_child *c, struct sl_buf *out, struct sl_err *err);

/* The exit code for a waitpid() status: the status, or 128+signal. */
int sl_run_code(int wstatus);

/*
 * Finds NAME as an executable file in the colon-separated list PATH
 * (getenv("PATH") when NULL). Returns a malloc'ed path or NULL.
 */
char *sl_run_which(const char *name, const char *path);

/*
 * Appends the directory holding the running executable (from
 * /proc/self/exe) to OUT. Returns 0, or -1 with errno.
 */
int sl_run_exe_dir(struct sl_buf *out);

/*
 * Replaces the process with ARGV in ENV (NULL: the current one), looked
 * up on ENV's PATH. Returns only on failure: -1 with ERR set, code 127
 * when the program does not exist, 126 otherwise.
 */
int sl_run_exec(char *const *argv, char *const *env, struct sl_err *err);

#endif
