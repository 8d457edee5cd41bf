/* silverlining — sl-query: what a node holds, its clean-up, and an app's logs. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../libsl/appuser.h"
#include "../libsl/backups.h"
#include "../libsl/failing.h"
#include "../libsl/file.h"
#include "../libsl/instance.h"
#include "../libsl/msg.h"
#include "../libsl/node.h"
#include "../libsl/route.h"
#include "../libsl/run.h"
#include "../libsl/say.h"
#include "../libsl/strv.h"
#include "../libsl/switch.h"
#include "../libsl/tls.h"
#include "../libsl/unit.h"
#include "../libsl/version.h"

#define USAGE "sl-query [APP...] | --clean [-n] [--keep N] | --logs [-f] LOCATION" \
	" | --instance LOCATION"
#define NODE_LOCK_WAIT 600	/* 10 minutes */
#define APP_LOCK_WAIT 720	/* 12 minutes */

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The node's routes into R, or death. */
static void routes(struct sl_routes *r)
{
	struct sl_err err = SL_ERR_INIT;

	if (sl_switch_load(r, &err) < 0)
		sl_die_err(&err);
}

/* The instances of APP (NULL: of every app) pushed onto OUT, or death. */
static void instances(const char *app, struct sl_strv *out)
{
	struct sl_err err = SL_ERR_INIT;

	if (sl_instance_list(app, out, &err) < 0)
		sl_die_err(&err);
}

/*
 * failing: it stopped on its own and systemd keeps starting it again
 * (sl-activate --unit-stop records each failure), or it came back less
 * than a minute ago; else running when its server runs, idle when only
 * its socket is active (its next connection starts the server), or
 * stopped.
 */
static const char *state(const char *inst)
{
	struct sl_failing f = SL_FAILING_INIT;
	int server = sl_unit_server_active(NULL, inst);
	int active = server || sl_unit_socket_active(NULL, inst);

	if (sl_failing_read(inst, &f) && (!active || time(NULL) - f.since <= 60))
		return "failing";
	return server ? "running" : active ? "idle" : "stopped";
}

static int listed(const struct sl_strv *v, const char *s)
{
	for (size_t i = 0; i < v->n; i++)
		if (!strcmp(v->v[i], s))
			return 1;
	return 0;
}

/*
 * The TLS state of every host with an https route to one of INSTS (the
 * instances listed): one "tls ..." line each, from the certificate store.
 */
static void tls(const struct sl_routes *r, const struct sl_strv *insts)
{
	struct sl_strv hosts = SL_STRV_INIT;
	struct sl_buf out = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;

	for (size_t i = 0; i < r->n; i++)	/* sorted by host: one each */
		if ((r->v[i].flags & SL_ROUTE_HTTPS) &&
		    listed(insts, r->v[i].instance) &&
		    (!hosts.n || strcmp(hosts.v[hosts.n - 1], r->v[i].host)))
			sl_strv_push(&hosts, r->v[i].host);
	if (hosts.n && sl_tls_status_lines(&hosts, time(NULL), &out, &err) < 0)
		sl_die_err(&err);
	if (out.len)
		fwrite(out.buf, 1, out.len, stdout);
	sl_strv_clear(&hosts);
	sl_buf_release(&out);
}

/* KEY of the record E, or "-". */
static const char *dash(const struct sl_backups_entry *e, const char *key)
{
	const char *v = e ? sl_backups_get(e, key) : NULL;

	return v ? v : "-";
}

/*
 * For each app of INSTS with stored backups (sl-backup --scheduled), its
 * last verified one: "backup APP STAMP verified=TIME seconds=S bad=N"
 * (STAMP "-" when none verified; N the bad or unverified ones kept).
 */
static void backups(const struct sl_strv *insts)
{
	struct sl_buf app = SL_BUF_INIT, last = SL_BUF_INIT;

	for (size_t i = 0; i < insts->n; i++) {
		struct sl_backups_entry *v;
		struct sl_err err = SL_ERR_INIT;
		const struct sl_backups_entry *ok = NULL;
		size_t n, bad = 0;

		sl_node_app_of(insts->v[i], &app);
		if (!strcmp(app.buf, last.buf))
			continue;	/* instances come sorted: an app's are together */
		sl_buf_reset(&last);
		sl_buf_adds(&last, app.buf);
		if (sl_backups_list(app.buf, &v, &n, &err) < 0) {
			sl_err_release(&err);	/* not root: the store is not ours to show */
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			if (v[k].status == SL_BACKUPS_VERIFIED)
				ok = &v[k];
			else
				bad++;
		}
		if (n)
			printf("backup %s %s verified=%s seconds=%s bad=%zu\n", app.buf,
			       ok ? ok->stamp : "-", dash(ok, "verified"), dash(ok, "seconds"), bad);
		sl_backups_free(v, n);
	}
	sl_buf_release(&app);
	sl_buf_release(&last);
}

/*
 * One line per instance: APP INSTANCE STATE LOCATION...; then the
 * disabled apps; then the last verified backup of each; then the TLS
 * state of their https hosts.
 */
static void query(char **apps, int n)
{
	struct sl_strv insts = SL_STRV_INIT, disabled = SL_STRV_INIT;
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_buf app = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;

	qsort(apps, (size_t)n, sizeof *apps, by_name);
	for (int i = 0; i < n; i++)
		if (!i || strcmp(apps[i], apps[i - 1]))
			instances(apps[i], &insts);
	if (!n)
		instances(NULL, &insts);
	routes(&r);
	if (sl_node_disabled_list(&disabled, &err) < 0)
		sl_die_err(&err);
	for (size_t i = 0; i < insts.n; i++) {
		sl_node_app_of(insts.v[i], &app);
		printf("%s %s %s", app.buf, insts.v[i], state(insts.v[i]));
		for (size_t j = 0; j < r.n; j++)
			if (!strcmp(r.v[j].instance, insts.v[i]))
				printf(" %s%s", r.v[j].host,
				       strcmp(r.v[j].path, "/") ? r.v[j].path : "");
		putchar('\n');
	}
	for (size_t i = 0; i < disabled.n; i++)
		if (!n || bsearch(&disabled.v[i], apps, (size_t)n, sizeof *apps, by_name))
			printf("disabled %s\n", disabled.v[i]);
	backups(&insts);
	tls(&r, &insts);
	sl_strv_clear(&insts);
	sl_strv_clear(&disabled);
	sl_routes_release(&r);
	sl_buf_release(&app);
}

/* Takes APP's lock (NULL: the node's), or dies with WHAT held it. */
static int lock(const char *app, int timeout, const char *what)
{
	struct sl_err err = SL_ERR_INIT;
	int fd = sl_node_lock(app, timeout, &err);

	if (fd < 0 && err.code == SL_EXIT_TIMEOUT)
		sl_die(SL_EXIT_TIMEOUT, "%s", what);
	if (fd < 0)
		sl_die_err(&err);
	return fd;
}

/* INSTANCE's unit stopped and disabled, and its files removed, or death. */
static void remove_instance(const char *inst)
{
	static const char *const dirs[] = { "instances", "run", "tmp", "configs" };
	struct sl_buf unit = SL_BUF_INIT, path = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	int ret = 0;

	sl_unit_disable_now(NULL, inst);
	sl_unit_name(&unit, inst);
	for (size_t i = 0; !ret && i < sizeof dirs / sizeof *dirs; i++) {
		sl_node_instance_path(&path, dirs[i], inst);
		ret = sl_file_remove_tree(AT_FDCWD, path.buf, &err);
	}
	sl_buf_reset(&path);
	sl_buf_addf(&path, "/etc/systemd/system.control/%s.d", unit.buf);
	if (ret < 0 || sl_file_remove_tree(AT_FDCWD, path.buf, &err) < 0)
		sl_die(SL_EXIT_TEMP, "unable to remove %s: %s", inst, err.msg.buf);
	sl_buf_release(&unit);
	sl_buf_release(&path);
}

/*
 * Removes (DRY: names) the instances of each app but its newest KEEP
 * that no route maps, under the node's lock and each app's: an
 * instance of an app being deployed is not mapped yet.
 */
static void clean(int dry, long keep)
{
	struct sl_strv all = SL_STRV_INIT, mine = SL_STRV_INIT;
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_buf app = SL_BUF_INIT, last = SL_BUF_INIT, what = SL_BUF_INIT;

	lock(NULL, NODE_LOCK_WAIT, "another deploy held the node's lock for 10 minutes");
	instances(NULL, &all);
	routes(&r);
	for (size_t i = 0; i < all.n; i++) {
		int fd;

		sl_node_app_of(all.v[i], &app);
		if (i && !strcmp(app.buf, last.buf))
			continue;	/* the list is by app: this one is done */
		sl_node_app_of(all.v[i], &last);
		sl_buf_reset(&what);
		sl_buf_addf(&what, "a deploy of %s held its lock for 12 minutes", app.buf);
		fd = lock(app.buf, APP_LOCK_WAIT, what.buf);
		sl_strv_clear(&mine);
		instances(app.buf, &mine);
		for (size_t j = 0; (long)j < (long)mine.n - keep; j++) {
			if (sl_switch_serves(&r, mine.v[j]))
				continue;	/* a location or a rollback needs it */
			printf("%s\n", mine.v[j]);
			fflush(stdout);
			if (!dry)
				remove_instance(mine.v[j]);
		}
		close(fd);
	}
	sl_strv_clear(&all);
	sl_strv_clear(&mine);
	sl_routes_release(&r);
	sl_buf_release(&app);
	sl_buf_release(&last);
	sl_buf_release(&what);
}

/* The instance at LOCATION into INST; when there is none, dies with 1 saying NONE. */
static void at(const char *location, struct sl_buf *inst, const char *none)
{
	struct sl_err err = SL_ERR_INIT;
	int found = sl_routes_instance_at(location, inst, &err);

	if (found < 0)
		sl_die_err(&err);
	if (!found)
		sl_die(SL_EXIT_NO, "%s %s", none, location);
}

/*
 * Replaced by tail on the log of the app at LOCATION, run as the app's
 * user: whatever its log directory holds, root opens nothing through it.
 */
static void logs(const char *location, int follow)
{
	struct sl_buf inst = SL_BUF_INIT, app = SL_BUF_INIT, log = SL_BUF_INIT;
	struct sl_buf user = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct stat st;

	at(location, &inst, "nothing is deployed at");
	sl_node_app_of(inst.buf, &app);
	sl_node_app_log(&log, app.buf);
	if (stat(log.buf, &st) < 0 || !S_ISREG(st.st_mode))
		sl_die(SL_EXIT_NO, "%s has no log yet", app.buf);
	if (sl_appuser_get(app.buf, &user, NULL, NULL, &err) < 0)
		sl_die_err(&err);
	fflush(stdout);
	sl_run_exec((char *[]){ "runuser", "-u", user.buf, "--", "tail", "-n", "100",
		follow ? "-f" : log.buf, follow ? log.buf : NULL, NULL }, NULL, &err);
	sl_die_err(&err);
}

/* --keep's N: a whole number, or a usage error. */
static long whole(const char *s)
{
	if (!*s || s[strspn(s, "0123456789")])
		sl_die_usage(USAGE);
	return strtol(s, NULL, 10);	/* LONG_MAX beyond it: keep them all */
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "clean", no_argument, NULL, 'c' },
		{ "keep", required_argument, NULL, 'k' },
		{ "logs", no_argument, NULL, 'l' },
		{ "instance", no_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int mode = 0, dry = 0, follow = 0, keeps = 0, c, n;
	struct sl_buf inst = SL_BUF_INIT;
	long keep = 5;

	sl_msg_init(argv[0]);
	sl_node_env();
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hnf", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': case 'l': case 'i':
			if (mode)
				sl_die_usage(USAGE);
			mode = c;
			break;
		case 'n': dry = 1; break;
		case 'f': follow = 1; break;
		case 'k': keep = whole(optarg); keeps = 1; break;
		case 'h': printf("usage: %s\n", USAGE); sl_exit_flush();
		case 'V': printf("sl-query %s\n", SL_VERSION); sl_exit_flush();
		default: sl_die_option(USAGE, argv, c);
		}
	}
	n = argc - optind;
	if (((dry || keeps) && mode != 'c') || (follow && mode != 'l') ||
	    (mode == 'c' ? n != 0 : mode ? n != 1 : 0))
		sl_die_usage(USAGE);
	switch (mode) {
	case 'c': clean(dry, keep); break;
	case 'l': logs(argv[optind], follow); break;
	case 'i': at(argv[optind], &inst, "nothing is mapped at"); puts(inst.buf); break;
	default: query(argv + optind, n);
	}
	sl_exit_flush();
}
