/* silverlining — the exit-code table; one for every tool (doc/SPEC.md, silver(7)). */
#ifndef SL_EXIT_H
#define SL_EXIT_H

enum {
	SL_EXIT_OK = 0,		/* success */
	SL_EXIT_NO = 1,		/* a "no": nothing to do, not found, not running */
	SL_EXIT_TIMEOUT = 99,	/* timed out */
	SL_EXIT_USAGE = 100,	/* usage or permanent error: bad input, refused */
	SL_EXIT_TEMP = 111,	/* temporary or system failure; retrying may help */
	SL_EXIT_NOEXEC = 126,	/* could not run a program */
	SL_EXIT_NOTFOUND = 127,	/* did not find a program */
	SL_EXIT_SIGNAL = 128,	/* + n: a child was killed by signal n */
};

/*
 * The exit code an errno value deserves: 100 for what the user must fix
 * (missing or unreadable files, bad names), 111 for what may pass (I/O,
 * memory, network).
 */
int sl_exit_from_errno(int err);

#endif
