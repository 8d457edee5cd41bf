/* silverlining — one child per node, their output relayed line by line. */
#ifndef SL_FANOUT_H
#define SL_FANOUT_H

#include <sys/types.h>

#include "buf.h"
#include "err.h"

/*
 * A fan-out runs one child process per node at the same time and relays
 * what each prints, a whole line at a time, prefixed by the node's host:
 *
 *	struct sl_fanout f = SL_FANOUT_INIT;
 *	struct sl_fanout_job *j;
 *
 *	for (each node) {
 *		j = sl_fanout_add(&f, host);
 *		j->argv = argv;			// run a program, or
 *		j->fn = fn; j->arg = arg;	// call fn(arg) in a forked child
 *	}
 *	if (sl_fanout_run(&f, &err) < 0) ...	// start all, relay, wait all
 *	for (size_t i = 0; i < f.n; i++)
 *		... f.jobs[i]->code ...
 *	sl_fanout_release(&f);
 *
 * Every line a child writes to its stdout goes to F->out as "HOST: line"
 * (unless the job captures its stdout, see below); every line it writes
 * to its stderr goes to F->err the same way. Lines of different children
 * interleave, never their bytes: a line is written with one write(2). A
 * last line without a newline gets one. Children get /dev/null as stdin
 * unless the job says otherwise.
 *
 * A job runs either ARGV (through sl_run_start(): no shell, looked up on
 * the PATH) or FN: the process forks and the child calls FN(ARG) with its
 * stdout and stderr on the pipes, flushes stdio and _exit()s with FN's
 * return value. FN runs in a copy of the parent: it may use everything
 * the parent set up before sl_fanout_start() (an option, a connection's
 * settings) but changes nothing in the parent. The parent's stdio is
 * flushed before forking so nothing is printed twice.
 *
 * Relaying output is the module's purpose: it writes only to the fds the
 * caller gives (F->out, F->err), never prints a message of its own, and
 * never exits.
 */

struct sl_fanout_job {
	/* set by the caller after sl_fanout_add() */
	char *const *argv;	/* the program to run, or NULL */
	int (*fn)(void *arg);	/* or the function to call in a child */
	void *arg;
	int in;			/* child's stdin: an fd of the parent (dup'ed), or -1: /dev/null */
	struct sl_buf *capture;	/* non-NULL: stdout is appended here, not relayed */

	/* results */
	int code;		/* exit code (128+n for signal n); -1 while not finished */
	struct sl_err err;	/* when the child could not be started: why (code set too) */

	/* private */
	char *host;
	pid_t pid;
	int out_fd, err_fd;
	struct sl_buf out_line, err_line;
};

struct sl_fanout {
	struct sl_fanout_job **jobs;	/* in the order added; owned by the fanout */
	size_t n, alloc;
	int out, err;			/* where lines are relayed: 1 and 2 by default */
	int write_errno;		/* first failed write to out/err (0: none) */
};
#define SL_FANOUT_INIT { NULL, 0, 0, 1, 2, 0 }

/*
 * Adds a job for HOST (copied; the "HOST: " prefix) and returns it for
 * the caller to fill. The pointer stays valid until sl_fanout_release().
 */
struct sl_fanout_job *sl_fanout_add(struct sl_fanout *f, const char *host);

/*
 * Starts every job not started yet. A job that cannot be started gets
 * its code and err set (127 not found, 126 cannot run, 111 no pipe or
 * fork) and is finished; the others run. Returns the number started.
 */
size_t sl_fanout_start(struct sl_fanout *f);

/*
 * Relays the output of every started job until all have closed their
 * stdout and stderr, and waits for each. Each job's code is then set.
 * Returns 0, or -1 with ERR set when waiting itself failed (poll or
 * waitpid); a job that failed is not an error of the wait. A write to
 * F->out or F->err that fails (EPIPE...) is noted in F->write_errno;
 * relaying goes on draining so no child blocks.
 */
int sl_fanout_wait(struct sl_fanout *f, struct sl_err *err);

/* sl_fanout_start() then sl_fanout_wait(). */
int sl_fanout_run(struct sl_fanout *f, struct sl_err *err);

/*
 * The index of the first job (in the order added) whose code is not 0,
 * or -1 when every job exited 0.
 */
long sl_fanout_first_failed(const struct sl_fanout *f);

/* Frees the jobs (not what the caller's pointers in them point to). */
void sl_fanout_release(struct sl_fanout *f);

#endif
