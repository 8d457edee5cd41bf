/* silverlining — messages: one grammar for every tool. */
#ifndef SL_MSG_H
#define SL_MSG_H

#include "exit.h"
#include "err.h"

/*
 * Every message a tool prints goes to stderr as
 *
 *	PROG: fatal: unable to open app.ini: No such file or directory
 *	PROG: warning: app.ini:7: unknown key 'procesess'
 *	PROG: usage: sl-env [-0] [--config DIR] APPDIR [-- COMMAND...]
 *
 * Only tools (and the x-prefixed wrappers) call these; library code
 * returns errors instead.
 */

/* Sets PROG from argv[0] (its basename). Call first in main. */
void sl_msg_init(const char *argv0);

/* The program name set by sl_msg_init(). */
const char *sl_msg_prog(void);

/* Prints "PROG: fatal: ..." and exits with CODE. */
_Noreturn void sl_die(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* As sl_die(), appending ": strerror(errno)" and choosing the code
 * with sl_exit_from_errno(). */
_Noreturn void sl_die_errno(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Prints ERR's message as fatal and exits with its code. */
_Noreturn void sl_die_err(const struct sl_err *err);

/* Prints "PROG: usage: USAGE" and exits 100. */
_Noreturn void sl_die_usage(const char *usage);

/*
 * For getopt's '?' and ':' (C; options start with "+:" and opterr is 0):
 * names the option getopt refused, in the message grammar, then dies as
 * sl_die_usage().
 */
_Noreturn void sl_die_option(const char *usage, char **argv, int c);

/* Prints "PROG: warning: ...". */
void sl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Flushes stdout and exits 0, or dies with 111 if the flush failed
 * (a full disk or a closed pipe must not pass for success). */
_Noreturn void sl_exit_flush(void);

#endif
