/* silverlining — sl-sync: upload an app as a new, complete, immutable instance. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../libsl/app.h"
#include "../libsl/appenv.h"
#include "../libsl/devconf.h"
#include "../libsl/diff.h"
#include "../libsl/file.h"
#include "../libsl/instance.h"
#include "../libsl/manifest.h"
#include "../libsl/mem.h"
#include "../libsl/msg.h"
#include "../libsl/quote.h"
#include "../libsl/route.h"
#include "../libsl/run.h"
#include "../libsl/ssh.h"
#include "../libsl/upload.h"
#include "../libsl/version.h"

#define USAGE "sl-sync [-v] [--accept-new] [-i FILE] [--timeout SECONDS] [--config DIR] [--name APP] [--clear]" \
	" [--activate LOCATION]... [--acme-directory URL] [--acme-email ADDR] [--hsts | --no-hsts] APPDIR NODE | sl-sync --diff LOCATION [--accept-new] [-i FILE] [--timeout SECONDS] APPDIR NODE" \
	" | sl-sync --server APP | sl-sync --server --config INSTANCE | sl-sync --server --show INSTANCE | sl-sync --server --show-at LOCATION"

extern char **environ;

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

static int server(const char *app, const char *config_of, const char *show)
{
	struct sl_err err = SL_ERR_INIT;
	char *name = NULL;

	umask(022);
	if (show) {
		if (sl_instance_show(sl_instance_root(), show, 0, 1, &err) < 0)
			sl_die_err(&err);
		sl_exit_flush();
	}
	if ((config_of ? sl_config_receive(sl_instance_root(), config_of, 0, 1, &err) :
	     sl_instance_receive(sl_instance_root(), app, 0, 1, &name, &err)) < 0)
		sl_die_err(&err);
	free(name);
	sl_exit_flush();
}

#define DIFF_MAX_FILE ((uint64_t)1 << 20)

/*
 * silver diff: what an upload of APPDIR (manifest M) would change at
 * LOCATION, as a list and unified diffs; nothing is sent. 0 when
 * something differs, 1 when nothing would change.
 */
static int diff_main(const char *appdir, const struct sl_manifest *m, struct sl_ssh *s,
		     const char *location)
{
	struct sl_upload_tree t = SL_UPLOAD_TREE_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_diff d = SL_DIFF_INIT;
	struct sl_strv want = SL_STRV_INIT;
	struct sl_buf line = SL_BUF_INIT, *contents;
	int rc = sl_upload_tree_open(s, location, getenv("SL_ROOT"), &t, &err), *present;

	if (rc < 0)
		sl_die_err(&err);
	if (rc == 0)
		fprintf(stderr, "%s: nothing is deployed at %s: every file would be new\n",
			sl_msg_prog(), location);
	else
		fprintf(stderr, "%s: %s serves %s\n", sl_msg_prog(), location, t.instance);
	sl_diff_manifests(&d, rc ? &t.m : NULL, m);
	for (size_t i = 0; i < d.n; i++) {
		const struct sl_manifest_entry *o = d.v[i].old;

		sl_buf_reset(&line);
		sl_diff_line(&line, &d.v[i]);
		printf("%s\n", line.buf);
		if (o && o->type == SL_MANIFEST_FILE && o->size <= DIFF_MAX_FILE &&
		    sl_diff_has_text(&d.v[i])) {
			d.v[i].fetched = (long)want.n;
			sl_strv_push(&want, o->path);
		}
	}
	contents = sl_xcalloc(want.n + 1, sizeof(*contents));
	present = sl_xcalloc(want.n + 1, sizeof(*present));
	if (rc && sl_upload_tree_fetch(&t, &want, DIFF_MAX_FILE, contents, present, &err) < 0)
		sl_die_err(&err);
	for (size_t i = 0; i < d.n; i++) {
		const struct sl_diff_change *c = &d.v[i];

		if (!sl_diff_has_text(c))
			continue;
		putchar('\n');
		if ((c->old && c->old->type == SL_MANIFEST_FILE && c->fetched < 0) ||
		    (c->new && c->new->type == SL_MANIFEST_FILE && c->new->size > DIFF_MAX_FILE)) {
			printf("Files a/%s and b/%s differ (over %llu KiB: not shown)\n",
			       sl_diff_path(c), sl_diff_path(c),
			       (unsigned long long)(DIFF_MAX_FILE >> 10));
			continue;
		}
		if (sl_diff_show(c, appdir, c->fetched >= 0 && present[c->fetched] ?
				 &contents[c->fetched] : NULL, &err) < 0)
			sl_die_err(&err);
	}
	rc = rc ? sl_upload_tree_close(&t, &err) : 0;
	if (rc < 0)
		sl_die_err(&err);
	if (rc > 0)
		sl_die(rc, "the node's listing ended with exit status %d", rc);
	if (!d.n)
		fprintf(stderr, "%s: nothing would change at %s\n", sl_msg_prog(), location);
	if (fflush(stdout) == EOF)
		sl_die_errno("unable to write to standard output");
	for (size_t i = 0; i < want.n; i++)
		sl_buf_release(&contents[i]);
	free(contents);
	free(present);
	sl_strv_clear(&want);
	sl_buf_release(&line);
	rc = d.n ? 0 : 1;
	sl_diff_release(&d);
	return rc;
}

/*
 * Loads the app in APPDIR as NAME (NULL: its own), and checks and scans
 * the deployment config in CONFIG (NULL: none) into CM.
 */
static void load(struct sl_app *app, const char *appdir, const char *name,
		 const char *config, struct sl_manifest *cm, struct sl_strv *skipped)
{
	struct sl_err err = SL_ERR_INIT;
	struct sl_ignore cign = SL_IGNORE_INIT;
	struct stat st;
	int c = sl_app_load(app, appdir, &err);

	for (size_t i = 0; i < app->warnings.n; i++)
		sl_warn("%s", app->warnings.v[i]);
	if (c < 0)
		sl_die_err(&err);
	if (name) {
		/* another app from the same code: its own data, user and instances */
		if (!sl_app_name_valid(name))
			sl_die(SL_EXIT_USAGE, "--name %s: not an app name (a lowercase letter, "
			       "then up to 30 lowercase letters, digits or dashes)", name);
		free(app->name);
		app->name = sl_xstrdup(name);
	}
	if (!config)
		return;
	if (stat(config, &st) < 0 || !S_ISDIR(st.st_mode))
		sl_die(SL_EXIT_USAGE, "--config %s: not a directory", config);
	if (app->config_checker) {
		c = sl_appenv_check_config(app, config, environ, &err);
		if (c < 0)
			sl_die_err(&err);
		if (c)
			sl_die(SL_EXIT_USAGE, "%s did not pass config.checker %s (exit status %d): "
			       "nothing was uploaded", config, app->config_checker, c);
	}
	if (sl_ignore_load(&cign, config, &err) < 0 ||
	    sl_manifest_scan(cm, config, &cign, skipped, &err) < 0)
		sl_die_err(&err);
	sl_ignore_release(&cign);
}

/*
 * silver update: uploads APP (manifest M) as a new instance over S, then
 * its CONFIG (manifest CM), then switches each of ACTIVATE to it. T
 * holds when the scan began, the connection began and it was made.
 * OPTIONS are sl-activate's.
 */
static void upload_main(struct sl_ssh *s, const struct sl_app *app, const struct sl_manifest *m,
			const char *config, const struct sl_manifest *cm,
			const struct sl_strv *activate, const struct sl_strv *options, int verbose,
			const double t[3])
{
	struct sl_err err = SL_ERR_INIT;
	struct meter meter = { isatty(2), t[2], 0 };
	struct sl_upload_progress p = { progress, &meter };
	char *instance;
	double t3;
	int code;

	if (sl_upload(s, app->dir, app->name, m, getenv("SL_ROOT"), &p, &instance, &err) < 0)
		sl_die_err(&err);
	if (verbose)
		fprintf(stderr, "%s: %s: manifest %.3f s (%zu files, %.1f MB), connect %.3f s, upload %.3f s\n",
			sl_msg_prog(), instance, t[1] - t[0], m->files,
			(double)m->file_bytes / 1e6, t[2] - t[1], now() - t[2]);
	if (config && sl_upload_config(s, config, instance, cm, getenv("SL_ROOT"), &err) < 0)
		sl_die(err.code, "%s was uploaded without its config: %s", instance, err.msg.buf);
	printf("%s\n", instance);
	if (fflush(stdout) == EOF)
		sl_die_errno("unable to write to standard output");
	if (!activate->n) {
		free(instance);
		return;
	}
	t3 = now();
	code = sl_upload_activate(s, instance, activate->v, options->v, getenv("SL_ROOT"), &err);
	if (code < 0)
		sl_die_err(&err);
	if (verbose)
		fprintf(stderr, "%s: %s: activation %.3f s\n", sl_msg_prog(), instance, now() - t3);
	if (code)
		sl_die(code, "%s was uploaded but not activated (exit status %d)", instance, code);
	free(instance);
}

/*
 * The ACME options of sl-activate onto OPTIONS: DIRECTORY and EMAIL as
 * given, else from the [acme] section of ~/.silverlining.conf, each
 * checked here so that a mistake costs no upload; then HSTS (1: --hsts,
 * 0: --no-hsts, -1: neither).
 */
static void acme_options(struct sl_strv *options, const char *directory,
			 const char *email, int hsts)
{
	struct sl_acmeconf ac = SL_ACMECONF_INIT;
	struct sl_err err = SL_ERR_INIT;
	const char *why;

	if (!directory || !email) {
		if (sl_acmeconf_load(&ac, &err) < 0)
			sl_die_err(&err);
		for (size_t i = 0; i < ac.warnings.n; i++)
			sl_warn("%s", ac.warnings.v[i]);
	}
	if (directory && (why = sl_acmeconf_bad_directory(directory)))
		sl_die(SL_EXIT_USAGE, "--acme-directory '%s': %s", directory, why);
	if (email && (why = sl_acmeconf_bad_email(email)))
		sl_die(SL_EXIT_USAGE, "--acme-email '%s': %s", email, why);
	if (!directory)
		directory = ac.directory;
	if (!email)
		email = ac.email;
	if (directory) {
		sl_strv_push(options, "--acme-directory");
		sl_strv_push(options, directory);
	}
	if (email) {
		sl_strv_push(options, "--acme-email");
		sl_strv_push(options, email);
	}
	if (hsts >= 0)
		sl_strv_push(options, hsts ? "--hsts" : "--no-hsts");
	sl_acmeconf_release(&ac);
}

/* The instance routed at LOCATION; exits 1 quietly when none is (silver diff says it). */
static char *instance_at(const char *location)
{
	struct sl_buf inst = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	int found = sl_routes_instance_at(location, &inst, &err);

	if (found < 0)
		sl_die_err(&err);
	if (!found)
		exit(SL_EXIT_NO);
	return sl_buf_detach(&inst, NULL);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		SL_SSH_LONGOPTS,
		{ "server", no_argument, NULL, 'S' },
		{ "activate", required_argument, NULL, 'A' },
		{ "clear", no_argument, NULL, 'C' },
		{ "acme-directory", required_argument, NULL, 'a' },
		{ "acme-email", required_argument, NULL, 'e' },
		{ "hsts", no_argument, NULL, 's' },
		{ "no-hsts", no_argument, NULL, 'N' },
		{ "config", required_argument, NULL, 'c' },
		{ "name", required_argument, NULL, 'n' },
		{ "diff", required_argument, NULL, 'D' },
		{ "show", required_argument, NULL, 'H' },
		{ "show-at", required_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_ssh_opts opts = SL_SSH_OPTS_INIT;
	struct sl_ssh_addr addr = SL_SSH_ADDR_INIT;
	struct sl_app app = SL_APP_INIT;
	struct sl_ignore ign = SL_IGNORE_INIT;
	struct sl_manifest m = SL_MANIFEST_INIT, cm = SL_MANIFEST_INIT;
	const char *config = NULL, *name = NULL, *diff = NULL, *show = NULL;
	const char *directory = NULL, *email = NULL;
	struct sl_strv skipped = SL_STRV_INIT, activate = SL_STRV_INIT, options = SL_STRV_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_ssh *s;
	int verbose = 0, is_server = 0, clear = 0, hsts = -1, acme, c;
	double t[3] = { now(), 0, 0 };

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
		case 'a': directory = optarg; break;
		case 'e': email = optarg; break;
		case 's': case 'N':
			if (hsts == (c == 'N'))
				sl_die_usage(USAGE);	/* both */
			hsts = c == 's';
			break;
		case 'c': config = optarg; break;
		case 'n': name = optarg; break;
		case 'D': diff = optarg; break;
		case 'H': show = optarg; break;
		case 'W': show = instance_at(optarg); break;
		case 'h': printf("usage: %s\n", USAGE); sl_exit_flush();
		case 'V': printf("sl-sync %s\n", SL_VERSION); sl_exit_flush();
		default: sl_die_option(USAGE, argv, c);
		}
	}
	acme = directory || email || hsts >= 0;
	if (is_server) {
		if (argc - optind != (config || show ? 0 : 1) || (config && show) || name ||
		    clear || activate.n || diff || acme)
			sl_die_usage(USAGE);
		return server(argv[optind], config, show);
	}
	if (argc - optind != 2 || show || (acme && !activate.n) ||
	    (diff && (config || name || clear || activate.n)))
		sl_die_usage(USAGE);
	if (clear)
		sl_strv_push(&options, "--clear");
	if (activate.n)
		acme_options(&options, directory, email, hsts);

	load(&app, argv[optind], name, config, &cm, &skipped);
	if (sl_ssh_addr_parse(&addr, argv[optind + 1], &err) < 0 ||
	    sl_ignore_load(&ign, argv[optind], &err) < 0 ||
	    sl_manifest_scan(&m, argv[optind], &ign, &skipped, &err) < 0)
		sl_die_err(&err);
	for (size_t i = 0; i < skipped.n; i++)
		sl_warn("%s is not a file, a directory or a symlink; left out", skipped.v[i]);
	t[1] = now();
	s = sl_ssh_connect(&addr, &opts, &err);
	if (!s)
		sl_die_err(&err);
	t[2] = now();
	if (diff) {
		c = diff_main(argv[optind], &m, s, diff);
		sl_ssh_close(s);
		exit(c);
	}
	upload_main(s, &app, &m, config, &cm, &activate, &options, verbose, t);
	sl_ssh_close(s);
	sl_exit_flush();
}
