/* silverlining — messages: one grammar for every tool. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

static const char *prog = "silverlining";

void sl_msg_init(const char *argv0)
{
	const char *slash;

	if (!argv0 || !*argv0)
		return;
	slash = strrchr(argv0, '/');
	prog = slash ? slash + 1 : argv0;
}

const char *sl_msg_prog(void)
{
	return prog;
}

static void vsay(const char *kind, const char *fmt, va_list ap, const char *tail)
{
	/* One fprintf per line keeps lines whole when tools share stderr. */
	char line[4096];

	vsnprintf(line, sizeof(line), fmt, ap);
	fflush(stdout);
	fprintf(stderr, "%s: %s: %s%s%s\n", prog, kind, line,
		tail ? ": " : "", tail ? tail : "");
}

void sl_die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("fatal", fmt, ap, NULL);
	va_end(ap);
	exit(code);
}

void sl_die_errno(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vsay("fatal", fmt, ap, strerror(saved));
	va_end(ap);
	exit(sl_exit_from_errno(saved));
}

void sl_die_err(const struct sl_err *err)
{
	sl_die(err->code ? err->code : SL_EXIT_TEMP, "%s", err->msg.buf);
}

void sl_die_usage(const char *usage)
{
	fprintf(stderr, "%s: usage: %s\n", prog, usage);
	exit(SL_EXIT_USAGE);
}

void sl_die_option(const char *usage, char **argv, int c)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";

	fflush(stdout);
	if (c == ':')
		fprintf(stderr, "%s: fatal: option %s needs an argument\n", prog, arg);
	else if (optopt)
		fprintf(stderr, "%s: fatal: unknown option -%c\n", prog, optopt);
	else
		fprintf(stderr, "%s: fatal: unknown option %s\n", prog, arg);
	sl_die_usage(usage);
}

void sl_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("warning", fmt, ap, NULL);
	va_end(ap);
}

void sl_exit_flush(void)
{
	if (fflush(stdout) == EOF || ferror(stdout))
		sl_die_errno("unable to write to standard output");
	exit(SL_EXIT_OK);
}
