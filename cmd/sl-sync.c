/* silverlining — sl-sync: upload an app as a new, complete, immutable instance. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../libsl/app.h"
#include "../libsl/instance.h"
#include "../libsl/manifest.h"
#include "../libsl/msg.h"
#include "../libsl/quote.h"
#include "../libsl/ssh.h"
#include "../libsl/upload.h"
#include "../libsl/version.h"

#define USAGE "sl-sync [-v] [--accept-new] [-i FILE] [--timeout SECONDS] [--clear] [--activate LOCATION]... APPDIR NODE" \
	" | sl-sync --server APP"

struct meter {
	int live;		/* a progress line on a terminal */
	double start;
	size_t need_files;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress(void *ctx, uint64_t bytes, size_t files, int done)
{
	struct meter *m = ctx;
	double t = now() - m->start;

	if (!m->live)
		return;
	fprintf(stderr, "\r%s: %zu files, %.1f MB, %.1f MB/s%s", sl_msg_prog(),
		files, (double)bytes / 1e6, t > 0 ? (double)bytes / 1e6 / t : 0.0,
		done ? "\n" : "");
}

static int server(const char *app)
{
	struct sl_err err = SL_ERR_INIT;
	char *name = NULL;

	umask(022);
	if (sl_instance_receive(sl_instance_root(), app, 0, 1, &name, &err) < 0)
		sl_die_err(&err);
	free(name);
	sl_exit_flush();
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		SL_SSH_LONGOPTS,
		{ "server", no_argument, NULL, 'S' },
		{ "activate", required_argument, NULL, 'A' },
		{ "clear", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_ssh_opts opts = SL_SSH_OPTS_INIT;
	struct sl_ssh_addr addr = SL_SSH_ADDR_INIT;
	struct sl_app app = SL_APP_INIT;
	struct sl_ignore ign = SL_IGNORE_INIT;
	struct sl_manifest m = SL_MANIFEST_INIT;
	struct sl_strv skipped = SL_STRV_INIT, activate = SL_STRV_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct meter meter = { 0 };
	struct sl_upload_progress p = { progress, &meter };
	struct sl_ssh *s;
	int verbose = 0, is_server = 0, clear = 0, c;
	double t0 = now(), t1, t2;
	char *instance;

	sl_msg_init(argv[0]);
	/* silver -v */
	verbose = getenv("SL_VERBOSITY") && atoi(getenv("SL_VERBOSITY")) >= 2;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:v" SL_SSH_SHORTOPTS, longopts, NULL)) != -1) {
		int used = sl_ssh_opt(&opts, c, optarg, &err);

		if (used < 0)
			sl_die_err(&err);
		if (used)
			continue;
		switch (c) {
		case 'v': verbose = 1; break;
		case 'S': is_server = 1; break;
		case 'A': sl_strv_push(&activate, optarg); break;
		case 'C': clear = 1; break;
		case 'h': printf("usage: %s\n", USAGE); sl_exit_flush();
		case 'V': printf("sl-sync %s\n", SL_VERSION); sl_exit_flush();
		default: sl_die_option(USAGE, argv, c);
		}
	}
	if (is_server)
		return argc - optind == 1 ? server(argv[optind]) : (sl_die_usage(USAGE), 0);
	if (argc - optind != 2)
		sl_die_usage(USAGE);

	c = sl_app_load(&app, argv[optind], &err);
	for (size_t i = 0; i < app.warnings.n; i++)
		sl_warn("%s", app.warnings.v[i]);
	if (c < 0 || sl_ssh_addr_parse(&addr, argv[optind + 1], &err) < 0 ||
	    sl_ignore_load(&ign, argv[optind], &err) < 0 ||
	    sl_manifest_scan(&m, argv[optind], &ign, &skipped, &err) < 0)
		sl_die_err(&err);
	for (size_t i = 0; i < skipped.n; i++)
		sl_warn("%s is not a file, a directory or a symlink; left out", skipped.v[i]);
	t1 = now();
	s = sl_ssh_connect(&addr, &opts, &err);
	if (!s)
		sl_die_err(&err);
	t2 = now();
	meter.live = isatty(2);
	meter.start = t2;
	if (sl_upload(s, app.dir, app.name, &m, getenv("SL_ROOT"), &p, &instance, &err) < 0)
		sl_die_err(&err);
	if (verbose)
		fprintf(stderr, "%s: %s: manifest %.3f s (%zu files, %.1f MB), connect %.3f s, upload %.3f s\n",
			sl_msg_prog(), instance, t1 - t0, m.files,
			(double)m.file_bytes / 1e6, t2 - t1, now() - t2);
	printf("%s\n", instance);
	if (fflush(stdout) == EOF)
		sl_die_errno("unable to write to standard output");
	if (activate.n) {
		/* the same session: the switch costs no second connection */
		struct sl_buf cmd = SL_BUF_INIT;
		struct sl_ssh_chan *ch;
		double t3 = now();
		int code;

		if (getenv("SL_ROOT")) {
			sl_buf_adds(&cmd, "SL_ROOT=");
			sl_quote_sh(&cmd, getenv("SL_ROOT"));
			sl_buf_addch(&cmd, ' ');
		}
		sl_buf_adds(&cmd, clear ? "sl-activate --clear " : "sl-activate ");
		sl_quote_sh(&cmd, instance);
		for (size_t i = 0; i < activate.n; i++) {
			sl_buf_addch(&cmd, ' ');
			sl_quote_sh(&cmd, activate.v[i]);
		}
		ch = sl_ssh_exec(s, cmd.buf, &err);
		if (!ch)
			sl_die_err(&err);
		code = sl_ssh_pump(ch, -1, 1, 2, &err);
		if (code < 0)
			sl_die_err(&err);
		if (verbose)
			fprintf(stderr, "%s: %s: activation %.3f s\n", sl_msg_prog(), instance, now() - t3);
		if (code)
			sl_die(code, "%s was uploaded but not activated (exit status %d)", instance, code);
	}
	sl_ssh_close(s);
	sl_exit_flush();
}
