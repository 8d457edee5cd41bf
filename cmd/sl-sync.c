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
#include "../libsl/file.h"
#include "../libsl/instance.h"
#include "../libsl/manifest.h"
#include "../libsl/mem.h"
#include "../libsl/msg.h"
#include "../libsl/quote.h"
#include "../libsl/run.h"
#include "../libsl/ssh.h"
#include "../libsl/upload.h"
#include "../libsl/version.h"

#define USAGE "sl-sync [-v] [--accept-new] [-i FILE] [--timeout SECONDS] [--config DIR] [--name APP] [--clear]" \
	" [--activate LOCATION]... APPDIR NODE | sl-sync --diff LOCATION [--accept-new] [-i FILE] [--timeout SECONDS] APPDIR NODE" \
	" | sl-sync --server APP | sl-sync --server --config INSTANCE | sl-sync --server --show INSTANCE"

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

/*
 * Runs APP's config.checker on the config in DIR, in the app's laptop
 * environment with SILVER_APP_CONFIG=DIR: a command of the app, given
 * the dir as its argument, or module:function, a Python callable of the
 * app (lib/python and the app on its path) called with the dir. A
 * failure stops the deploy before anything is sent.
 */
static void check_config(const struct sl_app *app, const char *dir)
{
	static const char py[] =
		"import importlib, sys\n"
		"top, mod, attrs, cfg = sys.argv[1:5]\n"
		"sys.path[:0] = [top + '/lib/python', top]\n"
		"f = importlib.import_module(mod)\n"
		"for a in attrs.split('.'):\n"
		"    f = getattr(f, a)\n"
		"sys.exit(1 if f(cfg) is False else 0)\n";
	struct sl_appenv_opts o = SL_APPENV_OPTS_INIT;
	struct sl_strv vars = SL_STRV_INIT, env = SL_STRV_INIT, argv = SL_STRV_INIT;
	struct sl_buf top = SL_BUF_INIT, cfg = SL_BUF_INIT, self = SL_BUF_INIT;
	struct sl_child c = SL_CHILD_INIT;
	struct sl_err err = SL_ERR_INIT;
	const char *colon = strchr(app->config_checker, ':');
	int code;

	if (sl_file_realpath(&top, app->dir, &err) < 0 ||
	    sl_file_realpath(&cfg, dir, &err) < 0)
		sl_die_err(&err);
	o.config_dir = cfg.buf;
	if (sl_run_exe_dir(&self) == 0)
		o.service_dir = self.buf;
	if (sl_appenv_compute(app, &o, &vars, &err) < 0)
		sl_die_err(&err);
	sl_appenv_merge(&env, environ, &vars);
	if (colon && !strchr(app->config_checker, '/')) {
		sl_strv_push(&argv, "python3");
		sl_strv_push(&argv, "-c");
		sl_strv_push(&argv, py);
		sl_strv_push(&argv, top.buf);
		sl_strv_pushf(&argv, "%.*s", (int)(colon - app->config_checker),
			      app->config_checker);
		sl_strv_push(&argv, colon + 1);
	} else {
		sl_strv_pushf(&argv, "%s/%s", top.buf, app->config_checker);
	}
	sl_strv_push(&argv, cfg.buf);
	c.argv = argv.v;
	c.env = env.v;
	c.dir = top.buf;
	c.out = 2;	/* stdout is data (the instance's name): the checker talks on stderr */
	code = sl_run(&c, &err);
	if (code < 0)
		sl_die(err.code, "config.checker %s: %s", app->config_checker, err.msg.buf);
	if (code)
		sl_die(SL_EXIT_USAGE, "%s did not pass config.checker %s (exit status %d): nothing was uploaded",
		       dir, app->config_checker, code);
	sl_strv_clear(&vars);
	sl_strv_clear(&env);
	sl_strv_clear(&argv);
	sl_buf_release(&top);
	sl_buf_release(&cfg);
	sl_buf_release(&self);
}

/* One line of silver diff's list. */
struct change {
	char what;		/* A added, D deleted, M modified, T type changed */
	const struct sl_manifest_entry *old, *new;
	long fetched;		/* index into the fetched contents, or -1 */
};

static int cmp_change(const void *a, const void *b)
{
	const struct change *x = a, *y = b;
	const char *px = (x->new ? x->new : x->old)->path;
	const char *py = (y->new ? y->new : y->old)->path;

	return strcmp(px, py);
}

#define DIFF_MAX_FILE ((uint64_t)1 << 20)

static const char *type_name(char type)
{
	return type == SL_MANIFEST_DIR ? "directory" : type == SL_MANIFEST_LINK ? "symlink" : "file";
}

/* Runs diff -u on OLD (content, or NULL: none) and the local file (or none). */
static void show_diff(const struct change *ch, const char *appdir, const struct sl_buf *old)
{
	const char *path = (ch->new ? ch->new : ch->old)->path;
	struct sl_buf a = SL_BUF_INIT, b = SL_BUF_INIT, local = SL_BUF_INIT;
	struct sl_child c = SL_CHILD_INIT;
	struct sl_err err = SL_ERR_INIT;
	const char *oldfile = "/dev/null";
	int fd = -1, code;

	if (old) {
		const char *t = getenv("TMPDIR");
		static char buf[4096];

		snprintf(buf, sizeof(buf), "%s/sl-diff.XXXXXX", t && *t ? t : "/tmp");
		fd = mkstemp(buf);
		if (fd < 0 || sl_file_write_all(fd, old->buf, old->len) < 0)
			sl_die_errno("unable to write a temporary file");
		oldfile = buf;
	}
	sl_buf_addf(&a, "a/%s", path);
	sl_buf_addf(&b, "b/%s", path);
	if (ch->new && ch->new->type == SL_MANIFEST_FILE)
		sl_buf_addf(&local, "%s/%s", appdir, path);
	else
		sl_buf_adds(&local, "/dev/null");
	{
		char *argv[] = { "diff", "-u", "--label", old ? a.buf : "/dev/null", "--label",
				 ch->new && ch->new->type == SL_MANIFEST_FILE ? b.buf : "/dev/null",
				 (char *)oldfile, local.buf, NULL };

		c.argv = argv;
		fflush(stdout);
		code = sl_run(&c, &err);
	}
	if (fd >= 0) {
		unlink(oldfile);
		close(fd);
	}
	if (code < 0 || code > 1)
		sl_die(code < 0 ? err.code : SL_EXIT_TEMP, "diff of %s failed%s%s", path,
		       code < 0 ? ": " : "", code < 0 ? err.msg.buf : "");
	sl_buf_release(&a);
	sl_buf_release(&b);
	sl_buf_release(&local);
}

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
	struct change *ch = sl_xcalloc(m->n + 1, sizeof(*ch));
	struct sl_strv want = SL_STRV_INIT;
	struct sl_buf *contents;
	size_t n = 0;
	int rc = sl_upload_tree_open(s, location, getenv("SL_ROOT"), &t, &err), *present;

	if (rc < 0)
		sl_die_err(&err);
	if (rc == 0)
		fprintf(stderr, "%s: nothing is deployed at %s: every file would be new\n",
			sl_msg_prog(), location);
	else
		fprintf(stderr, "%s: %s serves %s\n", sl_msg_prog(), location, t.instance);
	for (size_t i = 0; i < m->n; i++) {
		const struct sl_manifest_entry *e = &m->v[i];
		long k = rc ? sl_manifest_find(&t.m, e->path) : -1;
		const struct sl_manifest_entry *o = k >= 0 ? &t.m.v[k] : NULL;

		if (o && o->type == e->type && o->mode == e->mode &&
		    (e->type == SL_MANIFEST_DIR ||
		     (e->type == SL_MANIFEST_FILE && !memcmp(o->hash, e->hash, SL_MANIFEST_HASH_LEN)) ||
		     (e->type == SL_MANIFEST_LINK && !strcmp(o->target, e->target))))
			continue;
		ch[n++] = (struct change){ !o ? 'A' : o->type != e->type ? 'T' : 'M', o, e, -1 };
	}
	for (size_t i = 0; rc && i < t.m.n; i++) {
		if (sl_manifest_find(m, t.m.v[i].path) >= 0)
			continue;
		ch = sl_xrealloc(ch, (n + 1) * sizeof(*ch));
		ch[n++] = (struct change){ 'D', &t.m.v[i], NULL, -1 };
	}
	qsort(ch, n, sizeof(*ch), cmp_change);
	for (size_t i = 0; i < n; i++) {
		const struct sl_manifest_entry *o = ch[i].old, *e = ch[i].new;

		printf("%c %s%s", ch[i].what, (e ? e : o)->path,
		       (e ? e : o)->type == SL_MANIFEST_DIR ? "/" : "");
		if (ch[i].what == 'T')
			printf(" (%s, was a %s)", type_name(e->type), type_name(o->type));
		else if (ch[i].what == 'M' && o->mode != e->mode)
			printf(" (mode %o -> %o)", o->mode, e->mode);
		if ((e ? e : o)->type == SL_MANIFEST_LINK)
			printf(" -> %s", (e ? e : o)->target);
		putchar('\n');
		if (o && o->type == SL_MANIFEST_FILE && o->size <= DIFF_MAX_FILE &&
		    (!e || e->type != SL_MANIFEST_FILE || memcmp(o->hash, e->hash, SL_MANIFEST_HASH_LEN))) {
			ch[i].fetched = (long)want.n;
			sl_strv_push(&want, o->path);
		}
	}
	contents = sl_xcalloc(want.n + 1, sizeof(*contents));
	present = sl_xcalloc(want.n + 1, sizeof(*present));
	if (rc && sl_upload_tree_fetch(&t, &want, DIFF_MAX_FILE, contents, present, &err) < 0)
		sl_die_err(&err);
	for (size_t i = 0; i < n; i++) {
		const struct sl_manifest_entry *o = ch[i].old, *e = ch[i].new;
		int old_file = o && o->type == SL_MANIFEST_FILE, new_file = e && e->type == SL_MANIFEST_FILE;

		if (!old_file && !new_file)
			continue;
		if (old_file && new_file && !memcmp(o->hash, e->hash, SL_MANIFEST_HASH_LEN))
			continue;	/* a mode change alone */
		putchar('\n');
		if ((old_file && ch[i].fetched < 0) || (new_file && e->size > DIFF_MAX_FILE)) {
			printf("Files a/%s and b/%s differ (over %llu KiB: not shown)\n",
			       (e ? e : o)->path, (e ? e : o)->path,
			       (unsigned long long)(DIFF_MAX_FILE >> 10));
			continue;
		}
		show_diff(&ch[i], appdir, old_file && present[ch[i].fetched] ?
			  &contents[ch[i].fetched] : NULL);
	}
	rc = rc ? sl_upload_tree_close(&t, &err) : 0;
	if (rc < 0)
		sl_die_err(&err);
	if (rc > 0)
		sl_die(rc, "the node's listing ended with exit status %d", rc);
	if (!n)
		fprintf(stderr, "%s: nothing would change at %s\n", sl_msg_prog(), location);
	if (fflush(stdout) == EOF)
		sl_die_errno("unable to write to standard output");
	for (size_t i = 0; i < want.n; i++)
		sl_buf_release(&contents[i]);
	free(contents);
	free(present);
	free(ch);
	sl_strv_clear(&want);
	return n ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		SL_SSH_LONGOPTS,
		{ "server", no_argument, NULL, 'S' },
		{ "activate", required_argument, NULL, 'A' },
		{ "clear", no_argument, NULL, 'C' },
		{ "config", required_argument, NULL, 'c' },
		{ "name", required_argument, NULL, 'n' },
		{ "diff", required_argument, NULL, 'D' },
		{ "show", required_argument, NULL, 'H' },
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
		case 'c': config = optarg; break;
		case 'n': name = optarg; break;
		case 'D': diff = optarg; break;
		case 'H': show = optarg; break;
		case 'h': printf("usage: %s\n", USAGE); sl_exit_flush();
		case 'V': printf("sl-sync %s\n", SL_VERSION); sl_exit_flush();
		default: sl_die_option(USAGE, argv, c);
		}
	}
	if (is_server) {
		if (argc - optind != (config || show ? 0 : 1) || (config && show) || name ||
		    clear || activate.n || diff)
			sl_die_usage(USAGE);
		return server(argv[optind], config, show);
	}
	if (argc - optind != 2 || show ||
	    (diff && (config || name || clear || activate.n)))
		sl_die_usage(USAGE);

	c = sl_app_load(&app, argv[optind], &err);
	for (size_t i = 0; i < app.warnings.n; i++)
		sl_warn("%s", app.warnings.v[i]);
	if (c < 0)
		sl_die_err(&err);
	if (name) {
		/* another app from the same code: its own data, user and instances */
		if (!sl_app_name_valid(name))
			sl_die(SL_EXIT_USAGE, "--name %s: not an app name (a lowercase letter, "
			       "then up to 30 lowercase letters, digits or dashes)", name);
		free(app.name);
		app.name = sl_xstrdup(name);
	}
	if (config) {
		struct stat st;
		struct sl_ignore cign = SL_IGNORE_INIT;

		if (stat(config, &st) < 0 || !S_ISDIR(st.st_mode))
			sl_die(SL_EXIT_USAGE, "--config %s: not a directory", config);
		if (app.config_checker)
			check_config(&app, config);
		if (sl_ignore_load(&cign, config, &err) < 0 ||
		    sl_manifest_scan(&cm, config, &cign, &skipped, &err) < 0)
			sl_die_err(&err);
		sl_ignore_release(&cign);
	}
	if (sl_ssh_addr_parse(&addr, argv[optind + 1], &err) < 0 ||
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
	if (diff) {
		c = diff_main(argv[optind], &m, s, diff);
		sl_ssh_close(s);
		exit(c);
	}
	meter.live = isatty(2);
	meter.start = t2;
	if (sl_upload(s, app.dir, app.name, &m, getenv("SL_ROOT"), &p, &instance, &err) < 0)
		sl_die_err(&err);
	if (verbose)
		fprintf(stderr, "%s: %s: manifest %.3f s (%zu files, %.1f MB), connect %.3f s, upload %.3f s\n",
			sl_msg_prog(), instance, t1 - t0, m.files,
			(double)m.file_bytes / 1e6, t2 - t1, now() - t2);
	if (config && sl_upload_config(s, config, instance, &cm, getenv("SL_ROOT"), &err) < 0)
		sl_die(err.code, "%s was uploaded without its config: %s", instance, err.msg.buf);
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
