/* silverlining — the record of an instance that keeps failing. */
#ifndef SL_FAILING_H
#define SL_FAILING_H

#include <time.h>

#include "buf.h"
#include "err.h"

/*
 * systemd restarts an instance that fails (Restart=on-failure) without a
 * start limit; the hooks of its unit (sl-activate --unit-start and
 * --unit-stop) space the restarts out. While an instance fails,
 * SOCKETS/failing/INSTANCE holds one line "FAILURES SINCE": how many runs
 * in a row ended in failure, and when (seconds since the epoch) the
 * latest run started. sl-query shows such an instance as failing. This
 * module owns that format.
 */

/* A record read or to write. */
struct sl_failing {
	long n;		/* failures in a row */
	long since;	/* the start of the latest run */
};
#define SL_FAILING_INIT { 0, 0 }

/* SOCKETS/failing/INSTANCE into OUT; the directory alone for a NULL INSTANCE. */
void sl_failing_path(struct sl_buf *out, const char *instance);

/* Parses TEXT ("N SINCE", both numbers >= 0): 0, or -1 (F left as it was). */
int sl_failing_parse(const char *text, struct sl_failing *f);

/* Reads INSTANCE's record: 1 when there is a valid one, 0 when not. */
int sl_failing_read(const char *instance, struct sl_failing *f);

/* Writes INSTANCE's record (the directory must exist): 0, or -1 with ERR. */
int sl_failing_write(const char *instance, const struct sl_failing *f,
		     struct sl_err *err);

/*
 * The seconds to wait before a start after N failures in a row: none for
 * the first restart, then 2, 4, 8, 16 and at most 30.
 */
long sl_failing_delay(long n);

/*
 * F updated for a run that failed at NOW (F as read; {0, NOW} when there
 * was none): a run of more than a minute counts as recovered, so the
 * failure is the first of a new series.
 */
void sl_failing_count(struct sl_failing *f, time_t now);

#endif
