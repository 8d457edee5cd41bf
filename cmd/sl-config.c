/*
 * silverlining — sl-config: fill an app's config.template into a
 * deployment config (silver create-config). The template engine is
 * libsl/template.h; this tool asks for what is not given.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "../libsl/app.h"
#include "../libsl/mem.h"
#include "../libsl/msg.h"
#include "../libsl/template.h"
#include "../libsl/version.h"

#define USAGE "sl-config APPDIR OUT [VAR=VALUE...] | sl-config --info APPDIR"

/* Asks for V's value on the terminal; a secret-looking name is not echoed. */
static void ask(struct sl_template_var *v)
{
	struct termios old, quiet;
	int hide = sl_template_is_secret(v->name);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	/* echo off before the prompt: what is typed after it is never shown */
	if (hide && tcgetattr(0, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(0, TCSANOW, &quiet);
	} else {
		hide = 0;
	}
	fprintf(stderr, "%s", v->name);
	if (v->desc && *v->desc)
		fprintf(stderr, " (%s)", v->desc);
	if (v->value)
		fprintf(stderr, " [%s]", hide ? "****" : v->value);
	fprintf(stderr, ": ");
	n = getline(&line, &cap, stdin);
	if (hide) {
		tcsetattr(0, TCSANOW, &old);
		fputc('\n', stderr);
	}
	if (n < 0)
		sl_die(SL_EXIT_USAGE, "no value for %s: nothing was written", v->name);
	if (n && line[n - 1] == '\n')
		line[--n] = '\0';
	if (n || !v->value) {
		free(v->value);
		v->value = line;
	} else {
		free(line);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "info", no_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_app app = SL_APP_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf tdir = SL_BUF_INIT, missing = SL_BUF_INIT, dest = SL_BUF_INIT;
	struct sl_template t = SL_TEMPLATE_INIT;
	struct sl_strv skipped = SL_STRV_INIT;
	const char *out = NULL;
	struct stat st;
	int info = 0, c;

	sl_msg_init(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
		switch (c) {
		case 'I': info = 1; break;
		case 'h': printf("usage: %s\n", USAGE); sl_exit_flush();
		case 'V': printf("sl-config %s\n", SL_VERSION); sl_exit_flush();
		default: sl_die_option(USAGE, argv, c);
		}
	}
	if (info ? argc - optind != 1 : argc - optind < 2)
		sl_die_usage(USAGE);
	if (!info) {
		sl_buf_adds(&dest, argv[optind + 1]);
		while (dest.len > 1 && dest.buf[dest.len - 1] == '/')
			dest.buf[--dest.len] = '\0';
		out = dest.buf;
	}

	c = sl_app_load(&app, argv[optind], &err);
	for (size_t i = 0; i < app.warnings.n; i++)
		sl_warn("%s", app.warnings.v[i]);
	if (c < 0)
		sl_die_err(&err);
	if (!app.config_template)
		sl_die(SL_EXIT_USAGE, "%s/app.ini has no config.template", app.dir);
	sl_buf_addf(&tdir, "%s/%s", app.dir, app.config_template);
	if (stat(tdir.buf, &st) < 0 || !S_ISDIR(st.st_mode))
		sl_die(SL_EXIT_USAGE, "config.template %s is not a directory", tdir.buf);
	c = sl_template_load(&t, tdir.buf, &skipped, &err);
	for (size_t i = 0; i < skipped.n; i++)
		sl_warn("%s is not a file, a directory or a symlink; left out", skipped.v[i]);
	if (c < 0)
		sl_die_err(&err);

	if (info) {
		for (size_t i = 0; i < t.n; i++) {
			printf("%s\t%s", t.v[i].name, i < t.listed && t.v[i].desc ? t.v[i].desc :
			       "(not described in template.ini)");
			if (t.v[i].value)
				printf(" [%s]", sl_template_is_secret(t.v[i].name) ? "****" :
				       t.v[i].value);
			putchar('\n');
		}
		sl_exit_flush();
	}

	for (int i = optind + 2; i < argc; i++)
		if (sl_template_set(&t, argv[i], &err) < 0)
			sl_die_err(&err);
	if (lstat(out, &st) == 0)
		sl_die(SL_EXIT_USAGE, "%s exists: give a new directory", out);
	/* on a terminal every value not given is asked, a default offered */
	for (size_t i = 0; i < t.n; i++) {
		if (t.v[i].given || (t.v[i].value && !isatty(0)))
			continue;
		if (!isatty(0)) {
			sl_buf_addf(&missing, "%s%s", missing.len ? ", " : "", t.v[i].name);
			continue;
		}
		ask(&t.v[i]);
	}
	if (missing.len)
		sl_die(SL_EXIT_USAGE, "no value for %s and no terminal to ask on: give "
		       "VAR=VALUE (nothing was written)", missing.buf);
	if (sl_template_write(&t, out, &err) < 0)
		sl_die_err(&err);
	printf("%s\n", out);
	sl_exit_flush();
}
