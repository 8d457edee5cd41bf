/* silverlining — errors returned by library code. */
#ifndef SL_ERR_H
#define SL_ERR_H

#include "buf.h"

/*
 * Library functions that can fail take a struct sl_err *, fill it and
 * return -1 (or NULL). The tool decides what to print and how to exit:
 * CODE is the exit code from exit.h the failure deserves, MSG the text
 * after "PROG: fatal: ". A NULL err pointer is allowed: the error is
 * then only returned.
 */
struct sl_err {
	int code;
	struct sl_buf msg;
};
#define SL_ERR_INIT { 0, SL_BUF_INIT }

/* Replaces ERR's message. Returns -1 so callers can `return sl_err_set(...)`. */
int sl_err_set(struct sl_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* As sl_err_set(), appending ": strerror(errno)"; the code follows errno. */
int sl_err_errno(struct sl_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Puts "PREFIX: " before ERR's message (to add context on the way up). */
void sl_err_prefix(struct sl_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void sl_err_release(struct sl_err *err);

#endif
