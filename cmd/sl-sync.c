/* silverlining — sl-sync: upload an app as a new, complete, immutable instance. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../libsl/app.h"
#include "../libsl/balancer.h"
#include "../libsl/appenv.h"
#include "../libsl/devconf.h"
#include "../libsl/diff.h"
#include "../libsl/fanout.h"
#include "../libsl/file.h"
#include "../libsl/instance.h"
#include "../libsl/location.h"
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
	" [--activate LOCATION]... [--acme-directory URL] [--acme-email ADDR] [--hsts | --no-hsts] APPDIR NODE" \
	" | sl-sync [-v] [--accept-new] [-i FILE] [--timeout SECONDS] [--config DIR] [--name APP] [--clear]" \
	" [--rolling] [--balancer NODE] [--skip NODE]... [--acme-directory URL] [--acme-email ADDR] [--hsts | --no-hsts]" \
	" --activate LOCATION APPDIR NODE NODE..." \
	" | sl-sync --diff LOCATION [--accept-new] [-i FILE] [--timeout SECONDS] APPDIR NODE" \
	" | sl-sync --server [--as INSTANCE] APP | sl-sync --server --next APP | sl-sync --server --config INSTANCE | sl-sync --server --show INSTANCE | sl-sync --server --show-at LOCATION"

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

static int server(const char *app, const char *config_of, const char *show,
		  const char *as, int next)
{
	struct sl_err err = SL_ERR_INIT;
	char *name = NULL;

	umask(022);
	if (next) {
		if (sl_instance_next(sl_instance_root(), app, &name, &err) < 0)
			sl_die_err(&err);
		printf("%s\n", name);
		free(name);
		sl_exit_flush();
	}
	if (show) {
		if (sl_instance_show(sl_instance_root(), show, 0, 1, &err) < 0)
			sl_die_err(&err);
		sl_exit_flush();
	}
	if ((config_of ? sl_config_receive(sl_instance_root(), config_of, 0, 1, &err) :
	     sl_instance_receive_as(sl_instance_root(), app, as, 0, 1, &name, &err)) < 0)
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

/*
 * A fleet deploy (two or more NODEs, or --skip, --balancer, --rolling):
 * each step runs on every node at once, one forked child per node with
 * its own SSH session (libsl/fanout: every line prefixed "HOST: "), and
 * the parent goes on only when every node succeeded.
 */
struct fleet_node {
	const char *text;		/* as the user named it */
	struct sl_ssh_addr addr;
	struct sl_buf next;		/* its answer to --next */
	int code;			/* of its last step */
	int uploaded[2];		/* a pipe: its child writes a byte once
					   the upload is done and prepare begins */
};

static struct {
	const struct sl_ssh_opts *opts;
	const struct sl_app *app;
	const struct sl_manifest *m, *cm;
	const char *config, *location;
	const struct sl_strv *options;
	const char *instance;
	const char *verb, *host;	/* sl-balancer's */
	const struct sl_strv *cert;	/* sl-balancer --cert's words */
} F;

/* Child side: a session to N, or NULL (said on stderr). */
static struct sl_ssh *fleet_connect(struct fleet_node *n)
{
	struct sl_err err = SL_ERR_INIT;
	struct sl_ssh *s = sl_ssh_connect(&n->addr, F.opts, &err);

	if (!s) {
		fprintf(stderr, "%s: fatal: %s\n", sl_msg_prog(), err.msg.buf);
		n->code = err.code;
	}
	return s;
}

/* Child side: runs WORDS on N over a new session: its exit status. */
static int fleet_command(struct fleet_node *n, const char *const *words)
{
	struct sl_err err = SL_ERR_INIT;
	struct sl_ssh *s = fleet_connect(n);
	int code;

	if (!s)
		return n->code;
	code = sl_upload_command(s, getenv("SL_ROOT"), words, &err);
	if (code < 0) {
		fprintf(stderr, "%s: fatal: %s\n", sl_msg_prog(), err.msg.buf);
		code = err.code;
	}
	sl_ssh_close(s);
	return code;
}

static int step_next(void *arg)
{
	return fleet_command(arg, (const char *const[]){ "sl-sync", "--server", "--next",
				F.app->name, NULL });
}

/* The words of sl-activate --prepare for the instance, into W. */
static void prepare_words(struct sl_strv *w)
{
	sl_strv_push(w, "sl-activate");
	sl_strv_push(w, "--prepare");
	for (size_t i = 0; i < F.options->n; i++)
		sl_strv_push(w, F.options->v[i]);
	sl_strv_push(w, F.instance);
	sl_strv_push(w, F.location);
}

/*
 * Child side: the upload, then sl-activate --prepare, over one session
 * (a node's handshake is paid once for both); a byte on the node's
 * uploaded pipe between them tells the parent which step failed.
 */
static int step_upload_prepare(void *arg)
{
	struct fleet_node *n = arg;
	struct sl_err err = SL_ERR_INIT;
	struct sl_strv w = SL_STRV_INIT;
	struct sl_ssh *s = fleet_connect(n);
	char *instance = NULL;
	int code;

	if (!s)
		return n->code;
	if (sl_upload_as(s, F.app->dir, F.app->name, F.instance, F.m, getenv("SL_ROOT"),
			 NULL, &instance, &err) < 0 ||
	    (F.config && sl_upload_config(s, F.config, F.instance, F.cm,
					  getenv("SL_ROOT"), &err) < 0)) {
		fprintf(stderr, "%s: fatal: %s\n", sl_msg_prog(), err.msg.buf);
		return err.code;
	}
	free(instance);
	if (write(n->uploaded[1], "u", 1) != 1)
		return SL_EXIT_TEMP;
	prepare_words(&w);
	code = sl_upload_command(s, getenv("SL_ROOT"), (const char *const *)w.v, &err);
	if (code < 0) {
		fprintf(stderr, "%s: fatal: %s\n", sl_msg_prog(), err.msg.buf);
		code = err.code;
	}
	sl_ssh_close(s);
	return code;
}

static int step_switch(void *arg)
{
	return fleet_command(arg, (const char *const[]){ "sl-activate", "--switch",
				F.instance, F.location, NULL });
}

static int step_abandon(void *arg)
{
	return fleet_command(arg, (const char *const[]){ "sl-activate", "--abandon",
				F.instance, NULL });
}

static int step_balancer(void *arg)
{
	return fleet_command(arg, (const char *const[]){ "sl-balancer", F.verb, F.host, NULL });
}

static int step_cert(void *arg)
{
	return fleet_command(arg, (const char *const *)F.cert->v);
}

/*
 * Runs FN on each of the N nodes at once (WHICH[i] set, or all when
 * WHICH is NULL), each node's code in its code. Returns the index of the
 * first that failed (its code and STEP said on stderr), or -1.
 */
static long on_nodes(struct fleet_node *nodes, size_t n, const int *which,
		     int (*fn)(void *), const char *step, int capture)
{
	struct sl_fanout f = SL_FANOUT_INIT;
	struct sl_err err = SL_ERR_INIT;
	size_t *index = sl_xcalloc(n + 1, sizeof(*index));
	long failed = -1;

	for (size_t i = 0; i < n; i++) {
		struct sl_fanout_job *j;

		if (which && !which[i])
			continue;
		j = sl_fanout_add(&f, nodes[i].addr.host);
		j->fn = fn;
		j->arg = &nodes[i];
		if (capture)
			j->capture = &nodes[i].next;
		index[f.n - 1] = i;
	}
	if (sl_fanout_run(&f, &err) < 0)
		sl_die_err(&err);
	for (size_t k = 0; k < f.n; k++) {
		struct fleet_node *nd = &nodes[index[k]];

		nd->code = f.jobs[k]->code;
		if (f.jobs[k]->err.msg.len)
			sl_warn("%s: %s", nd->addr.host, f.jobs[k]->err.msg.buf);
		if (nd->code) {
			sl_warn("%s: %s failed (exit status %d)", nd->addr.host, step, nd->code);
			if (failed < 0)
				failed = (long)index[k];
		}
	}
	sl_fanout_release(&f);
	free(index);
	return failed;
}

/* sl-balancer VERB on BALANCER for node N's server; its exit status. */
static int balance(struct fleet_node *balancer, const char *verb, struct fleet_node *n)
{
	struct sl_buf server = SL_BUF_INIT;
	long failed;

	sl_balancer_server_name(n->addr.host, &server);
	F.verb = verb;
	F.host = server.buf;
	failed = on_nodes(balancer, 1, NULL, step_balancer, verb + 2, 0);
	sl_buf_release(&server);
	return failed < 0 ? 0 : balancer->code;
}

/*
 * An https LOCATION behind a balancer: TLS is the balancer's. OPTIONS
 * split into the nodes' (into NODE: no ACME option) and sl-balancer
 * --cert's words for LOCATION's host (into CERT: the ACME options, HSTS,
 * which the nodes keep too for their routes). 0 when LOCATION is not
 * https://, 1 when CERT is to be run.
 */
static int balancer_cert(const char *location, const struct sl_strv *options,
			 struct sl_strv *node, struct sl_strv *cert)
{
	struct sl_location loc = SL_LOCATION_INIT;
	struct sl_err err = SL_ERR_INIT;
	int https;

	if (sl_location_parse(location, SL_LOC_HTTPS, &loc, &err) < 0)
		sl_die_err(&err);
	sl_strv_push(cert, "sl-balancer");
	sl_strv_push(cert, "--cert");
	for (size_t i = 0; i < options->n; i++) {
		const char *o = options->v[i];

		if (!strncmp(o, "--acme-", 7) && i + 1 < options->n) {
			sl_strv_push(cert, o);
			sl_strv_push(cert, options->v[++i]);
			continue;
		}
		if (!strcmp(o, "--hsts") || !strcmp(o, "--no-hsts"))
			sl_strv_push(cert, o);
		sl_strv_push(node, o);
	}
	sl_strv_push(cert, loc.host);
	https = loc.https;
	sl_location_release(&loc);
	return https;
}

static void fleet_parse(struct fleet_node *n, const char *text)
{
	struct sl_err err = SL_ERR_INIT;

	n->text = text;
	n->addr = (struct sl_ssh_addr)SL_SSH_ADDR_INIT;
	n->next = (struct sl_buf)SL_BUF_INIT;
	if (sl_ssh_addr_parse(&n->addr, text, &err) < 0)
		sl_die_err(&err);
}

/*
 * silver update --nodeset: uploads APP (manifest M, config CM) to every
 * one of NODES not in SKIP under one name, prepares it at LOCATION
 * everywhere (the barrier), then switches every node, at once or
 * through BALANCER one at a time (ROLLING). T[0]: when the scan began.
 */
static void fleet_main(const struct sl_app *app, const struct sl_manifest *m,
		       const char *config, const struct sl_manifest *cm,
		       char **nodes_text, size_t nnodes, const struct sl_strv *skip,
		       const char *balancer_text, int rolling, const char *location,
		       const struct sl_strv *options, int verbose, const double *t)
{
	struct fleet_node *nodes = sl_xcalloc(nnodes + 1, sizeof(*nodes)), bal, *skipped;
	struct sl_strv node_options = SL_STRV_INIT, cert = SL_STRV_INIT;
	int tls = 0;
	size_t n = 0;
	double t1 = now(), t2, t3, t4;
	long failed;
	char *name = NULL;

	skipped = sl_xcalloc(skip->n + 1, sizeof(*skipped));
	for (size_t i = 0; i < skip->n; i++)
		fleet_parse(&skipped[i], skip->v[i]);
	for (size_t i = 0; i < nnodes; i++) {
		int skipping = 0;

		fleet_parse(&nodes[n], nodes_text[i]);
		for (size_t k = 0; k < skip->n; k++)
			skipping |= !strcmp(nodes[n].addr.host, skipped[k].addr.host) &&
				nodes[n].addr.port == skipped[k].addr.port;
		for (size_t k = 0; k < n && !skipping; k++)
			if (!strcmp(nodes[n].addr.host, nodes[k].addr.host) &&
			    nodes[n].addr.port == nodes[k].addr.port)
				sl_die(SL_EXIT_USAGE, "%s is named twice", nodes_text[i]);
		if (skipping)
			sl_ssh_addr_release(&nodes[n].addr);
		else
			n++;
	}
	if (!n)
		sl_die(SL_EXIT_USAGE, "every node is skipped: nothing to deploy to");
	if (balancer_text)
		fleet_parse(&bal, balancer_text);
	F.app = app;
	F.m = m;
	F.config = config;
	F.cm = cm;
	F.location = location;
	F.options = options;
	if (balancer_text && (tls = balancer_cert(location, options, &node_options, &cert)))
		F.options = &node_options;	/* the nodes ask no CA: TLS is the balancer's */
	F.cert = &cert;

	/* a: every node answers (and says its next name) before anything is sent */
	failed = on_nodes(nodes, n, NULL, step_next, "connect", 1);
	if (failed >= 0)
		sl_die(nodes[failed].code, "%s cannot be reached or refused: nothing was "
		       "uploaded (--skip %s to deploy without it)", nodes[failed].text,
		       nodes[failed].text);
	for (size_t i = 0; i < n; i++) {
		sl_buf_rtrim(&nodes[i].next);
		if (!sl_instance_name_valid(nodes[i].next.buf))
			sl_die(SL_EXIT_TEMP, "%s: answered '%.80s', not an instance name",
			       nodes[i].addr.host, nodes[i].next.buf);
		/* the highest: a name free and newest on every node */
		if (!name || strcmp(nodes[i].next.buf, name) > 0)
			name = nodes[i].next.buf;
	}
	F.instance = name;
	/* an https location: the balancer's certificate first, or nothing is sent */
	if (tls && on_nodes(&bal, 1, NULL, step_cert, "certificate", 0) >= 0)
		sl_die(bal.code, "%s: no certificate for %s on the balancer (exit status %d): "
		       "nothing was uploaded", bal.addr.host, location, bal.code);
	for (size_t i = 0; i < skip->n; i++) {
		if (!balancer_text) {
			sl_warn("%s is skipped: it keeps what it serves (no --balancer "
				"to take it out)", skip->v[i]);
			continue;
		}
		if (balance(&bal, "--maint", &skipped[i]))
			sl_die(bal.code, "%s could not be put in maintenance on the balancer: "
			       "nothing was uploaded", skip->v[i]);
		sl_warn("%s is skipped: in maintenance on the balancer until it is "
			"brought to %s", skip->v[i], name);
	}

	/*
	 * b and c: the upload and the prepare, everywhere at once, each node's
	 * over one session; the barrier is their end
	 */
	printf("%s\n", name);
	if (fflush(stdout) == EOF)
		sl_die_errno("unable to write to standard output");
	for (size_t i = 0; i < n; i++)
		if (pipe2(nodes[i].uploaded, O_CLOEXEC | O_NONBLOCK) < 0)
			sl_die_errno("pipe");
	t2 = now();
	failed = on_nodes(nodes, n, NULL, step_upload_prepare, "upload and prepare", 0);
	t3 = now();
	if (failed >= 0) {
		int code = nodes[failed].code, *which = sl_xcalloc(n, sizeof(*which));
		char c;
		int up = read(nodes[failed].uploaded[0], &c, 1) == 1;

		for (size_t i = 0; i < n; i++)
			which[i] = nodes[i].code == 0;
		on_nodes(nodes, n, which, step_abandon, "abandon", 0);
		if (!up)
			sl_die(code, "%s: upload of %s failed: nothing was switched, %s is "
			       "stopped on every node", nodes[failed].addr.host, name, name);
		sl_die(code, "%s: prepare of %s at %s failed (exit status %d): nothing was "
		       "switched, %s is stopped on every node", nodes[failed].addr.host,
		       name, location, code, name);
	}
	for (size_t i = 0; i < n; i++) {
		close(nodes[i].uploaded[0]);
		close(nodes[i].uploaded[1]);
	}

	/* d: the switch, at once or one node at a time through the balancer */
	t4 = now();
	for (size_t i = 0; rolling && i < n; i++) {
		int code = balance(&bal, "--drain", &nodes[i]);

		if (code)
			sl_die(code, "%s could not be drained: %zu of %zu nodes switched to %s",
			       nodes[i].addr.host, i, n, name);
		failed = on_nodes(&nodes[i], 1, NULL, step_switch, "switch", 0);
		/* back in the balancer either way: it serves the old or the new */
		code = balance(&bal, "--ready", &nodes[i]);
		if (failed >= 0)
			sl_die(nodes[i].code, "%s: switch to %s failed: %zu of %zu nodes "
			       "switched", nodes[i].addr.host, name, i, n);
		if (code || (code = balance(&bal, "--wait-up", &nodes[i])))
			sl_die(code, "%s switched to %s but is not up in the balancer: %zu "
			       "of %zu nodes switched", nodes[i].addr.host, name, i + 1, n);
	}
	if (!rolling && (failed = on_nodes(nodes, n, NULL, step_switch, "switch", 0)) >= 0)
		sl_die(nodes[failed].code, "%s: switch to %s failed (the other nodes "
		       "switched)", nodes[failed].addr.host, name);
	/* a node skipped before (in maintenance) serves NAME now, as the others do */
	for (size_t i = 0; !rolling && balancer_text && i < n; i++)
		if (balance(&bal, "--ready", &nodes[i]))
			sl_warn("%s switched to %s but could not be made ready on the balancer",
				nodes[i].addr.host, name);
	if (verbose)
		fprintf(stderr, "%s: %s: %zu nodes: manifest %.3f s, connect %.3f s, "
			"upload and prepare %.3f s, switch %.3f s%s\n", sl_msg_prog(),
			name, n, t1 - t[0], t2 - t1, t3 - t2, now() - t4,
			rolling ? " (rolling)" : "");
	for (size_t i = 0; i < n; i++) {
		sl_ssh_addr_release(&nodes[i].addr);
		sl_buf_release(&nodes[i].next);
	}
	free(nodes);
	free(skipped);
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
		{ "as", required_argument, NULL, 'X' },
		{ "rolling", no_argument, NULL, 'R' },
		{ "balancer", required_argument, NULL, 'B' },
		{ "skip", required_argument, NULL, 'K' },
		{ "next", no_argument, NULL, 'x' },
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
	const char *config = NULL, *name = NULL, *diff = NULL, *show = NULL, *as = NULL;
	const char *directory = NULL, *email = NULL, *balancer = NULL;
	struct sl_strv skip = SL_STRV_INIT;
	struct sl_strv skipped = SL_STRV_INIT, activate = SL_STRV_INIT, options = SL_STRV_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_ssh *s;
	int verbose = 0, is_server = 0, clear = 0, hsts = -1, next = 0, rolling = 0, acme, c;
	int fleet;
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
		case 'X': as = optarg; break;
		case 'x': next = 1; break;
		case 'R': rolling = 1; break;
		case 'B': balancer = optarg; break;
		case 'K': sl_strv_push(&skip, optarg); break;
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
		    clear || activate.n || diff || acme ||
		    ((as || next) && (config || show)) || (as && next) ||
		    rolling || balancer || skip.n)
			sl_die_usage(USAGE);
		return server(argv[optind], config, show, as, next);
	}
	fleet = argc - optind > 2 || rolling || balancer || skip.n;
	if (fleet && (argc - optind < 2 || activate.n != 1 || diff || show || as || next))
		sl_die_usage(USAGE);
	if (rolling && !balancer)
		sl_die(SL_EXIT_USAGE, "--rolling drains each node on the balancer: "
		       "it needs --balancer NODE");
	if (!fleet && (argc - optind != 2 || show || as || next || (acme && !activate.n) ||
	    (diff && (config || name || clear || activate.n))))
		sl_die_usage(USAGE);
	if (clear)
		sl_strv_push(&options, "--clear");
	if (activate.n)
		acme_options(&options, directory, email, hsts);

	load(&app, argv[optind], name, config, &cm, &skipped);
	if ((!fleet && sl_ssh_addr_parse(&addr, argv[optind + 1], &err) < 0) ||
	    sl_ignore_load(&ign, argv[optind], &err) < 0 ||
	    sl_manifest_scan(&m, argv[optind], &ign, &skipped, &err) < 0)
		sl_die_err(&err);
	for (size_t i = 0; i < skipped.n; i++)
		sl_warn("%s is not a file, a directory or a symlink; left out", skipped.v[i]);
	if (fleet) {
		F.opts = &opts;
		fleet_main(&app, &m, config, &cm, argv + optind + 1, (size_t)(argc - optind - 1),
			   &skip, balancer, rolling, activate.v[0], &options, verbose, t);
		sl_exit_flush();
	}
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
