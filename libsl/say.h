/* silverlining — what node-side library code tells while it works. */
#ifndef SL_SAY_H
#define SL_SAY_H

#include <stddef.h>

#include "buf.h"

/*
 * Library code never prints. Where a long job (preparing an instance,
 * switching the routes) has progress or warnings to tell, it hands them
 * to the caller's FN: LINE is 1 for one message line (no "PROG: ", no
 * newline: the tool adds both), 0 for LEN bytes to show as they are (a
 * child's output, a response body). A failure is an sl_err, never said here.
 * FN may be NULL: nothing is told.
 */
struct sl_say {
	void (*fn)(void *ctx, const char *text, size_t len, int line);
	void *ctx;
};
#define SL_SAY_INIT { NULL, NULL }

/*
 * A tool's own teller: a line goes to stderr as "PROG: TEXT\n" in one
 * write (so that a child's output on the same stderr never splits it),
 * text as it is.
 */
extern const struct sl_say sl_say_stderr;

/* Tells one formatted line through S. */
void sl_say(const struct sl_say *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Tells the LEN bytes of TEXT through S as they are. */
void sl_say_text(const struct sl_say *s, const char *text, size_t len);

/*
 * Children of the node's jobs. sl_say_run() runs ARGV with its stdout on
 * OUT and stderr on ERRFD (SL_RUN_* or an fd) and returns its exit code;
 * when it cannot start, the reason is told through S and the code is
 * that of the failure (111 mostly). sl_say_merged() runs ARGV with stdout
 * and stderr both appended to OUT (a failure to start too); its exit code.
 * sl_say_capture() appends ARGV's stdout to OUT, stderr discarded; its
 * exit code (111 when it cannot start).
 */
int sl_say_run(const struct sl_say *s, int out, int errfd, char *const *argv);
int sl_say_merged(struct sl_buf *out, char *const *argv);
int sl_say_capture(struct sl_buf *out, char *const *argv);

#define SL_SAY_RUN(s, out, errfd, ...) \
	sl_say_run(s, out, errfd, (char *[]){ __VA_ARGS__, NULL })

#endif
