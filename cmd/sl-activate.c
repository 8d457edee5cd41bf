/* silverlining — sl-activate: put an instance live on the node, behind a health gate. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../libsl/app.h"
#include "../libsl/appuser.h"
#include "../libsl/failing.h"
#include "../libsl/file.h"
#include "../libsl/instance.h"
#include "../libsl/location.h"
#include "../libsl/msg.h"
#include "../libsl/node.h"
#include "../libsl/render.h"
#include "../libsl/route.h"
#include "../libsl/run.h"
#include "../libsl/say.h"
#include "../libsl/switch.h"
#include "../libsl/unit.h"
#include "../libsl/version.h"

#define USAGE "sl-activate [--clear] INSTANCE LOCATION... | prev LOCATION | " \
	"--deactivate [--keep-prev] LOCATION... | --disable LOCATION | --enable LOCATION | " \
	"--routes | --unit-start INSTANCE | --unit-stop INSTANCE"
#define SHARE "/usr/share/silverlining"
#define NODE_LOCK_WAIT 600

static long fetch_limit;	/* seconds an update_fetch script may run */
static int clear;		/* --clear: the services' data wiped before the start */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", sl_msg_prog());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static long env_long(const char *name, long dflt)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return dflt;
	n = strtol(v, &end, 10);
	if (*end || n < 0)
		sl_die(SL_EXIT_USAGE, "%s=%s: want a number of seconds", name, v);
	return n;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* "S.MMM s" for the time from A to B, in a static buffer of four. */
static const char *ms(long long a, long long b)
{
	static char bufs[4][32];
	static int i;
	long long d = (b - a) / 1000000;
	char *s = bufs[i++ % 4];

	snprintf(s, sizeof(bufs[0]), "%lld.%03lld s", d / 1000, d % 1000);
	return s;
}

/* --- children ---------------------------------------------------------- */

/* The tool's side of struct sl_say: lines in the message grammar, text as it is. */
static void told(void *ctx, const char *text, int line)
{
	(void)ctx;
	if (line)
		say("%s", text);
	else
		fputs(text, stderr);
	fflush(stderr);
}

static const struct sl_say talk = { told, NULL };

#define RUN(out, errfd, ...) SL_SAY_RUN(&talk, out, errfd, __VA_ARGS__)
#define QUIET(...) RUN(SL_RUN_NULL, SL_RUN_NULL, __VA_ARGS__)
#define run_said sl_say_merged
#define capture sl_say_capture

static void app_of(const char *inst, struct sl_buf *out)
{
	sl_node_app_of(inst, out);
}

/*
 * The app's user: its name into USER, its ids. 1 when it exists, 0 when
 * not yet; when it is another app's, or unreadable, minus the exit code
 * (said).
 */
static int app_user(const char *app, struct sl_buf *user, uid_t *uid, gid_t *gid)
{
	struct sl_err err = SL_ERR_INIT;
	int rc = sl_appuser_get(app, user, uid, gid, &err);

	if (rc < 0) {
		say("%s", err.msg.buf);
		rc = -err.code;
	}
	sl_err_release(&err);
	return rc;
}

/* --- locations and routes ---------------------------------------------- */

static void parse_location(const char *text, int flags, struct sl_location *loc)
{
	struct sl_err err = SL_ERR_INIT;

	if (sl_location_parse(text, flags, loc, &err) < 0)
		sl_die_err(&err);
}

static void routes_load(struct sl_routes *r)
{
	struct sl_err err = SL_ERR_INIT;

	if (sl_switch_load(r, &err) < 0)
		sl_die_err(&err);
}

/* Whether INST serves a location in the state on disk now. */
static int routed_now(const char *inst)
{
	struct sl_routes r = SL_ROUTES_INIT;
	int ret;

	routes_load(&r);
	ret = sl_switch_serves(&r, inst);
	sl_routes_release(&r);
	return ret;
}

static void node_name(struct sl_buf *out)
{
	char h[256];

	if (gethostname(h, sizeof(h)) < 0)
		snprintf(h, sizeof(h), "localhost");
	h[sizeof(h) - 1] = 0;
	sl_buf_reset(out);
	sl_buf_adds(out, h);
}

/*
 * The canonical location of LOCS: the shortest real host (a wildcard's
 * domain, the node's name for "*" and "not-found"), the first in order of
 * those as short, as "HOST PATH" into OUT.
 */
static void canonical(const struct sl_location *locs, size_t n, struct sl_buf *out)
{
	struct sl_buf node = SL_BUF_INIT, best = SL_BUF_INIT, one = SL_BUF_INIT;
	size_t best_len = 0;

	node_name(&node);
	for (size_t i = 0; i < n; i++) {
		const char *h = locs[i].host;
		size_t len;

		if (*h == '.')
			h++;
		if (!strncmp(h, "prev.", 5))
			h += 5;
		if (sl_location_is_default(locs[i].host))
			h = node.buf;
		len = strlen(h);
		sl_buf_reset(&one);
		sl_buf_addf(&one, "%s %s", h, locs[i].path);
		if (i == 0 || len < best_len ||
		    (len == best_len && strcmp(one.buf, best.buf) < 0)) {
			best_len = len;
			sl_buf_reset(&best);
			sl_buf_adds(&best, one.buf);
		}
	}
	sl_buf_reset(out);
	sl_buf_adds(out, best.buf);
	sl_buf_release(&node);
	sl_buf_release(&best);
	sl_buf_release(&one);
}

/* --- switching (switch.h) -------------------------------------------------- */

static struct sl_switch sw = { { told, NULL }, 10, NULL };

/* R becomes the node's routes: 0, or the exit code of a switch that did not happen (said). */
static int commit_routes(const struct sl_routes *r)
{
	struct sl_err err = SL_ERR_INIT;
	int rc = sl_switch_commit(&sw, r, &err);

	if (rc < 0)
		sl_die_err(&err);
	if (rc > 0) {
		say("fatal: %s", err.msg.buf);
		rc = err.code;
	}
	sl_err_release(&err);
	return rc;
}

static void retire_unused(void)
{
	struct sl_err err = SL_ERR_INIT;

	if (sl_switch_retire(&sw, &err) < 0)
		sl_die_err(&err);
}

static void write_or_die(const char *path, const char *text, size_t len, mode_t mode)
{
	struct sl_err err = SL_ERR_INIT;

	if (sl_file_write(path, text, len, mode, SL_FILE_REPLACE, &err) < 0)
		sl_die_err(&err);
}

/* --- the instance ------------------------------------------------------ */

/* The owner and mode walk of instance_modes() and give_config(). */
static uid_t walk_uid;
static gid_t walk_gid;

static int group_only(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	mode_t m;

	(void)flag;
	(void)f;
	if (lchown(path, walk_uid, walk_gid) < 0)
		return -1;
	if (S_ISLNK(st->st_mode))
		return 0;
	/* g+rX,g-w,o-rwx */
	m = (st->st_mode & 07777 & ~(mode_t)027) | 040;
	if (S_ISDIR(st->st_mode) || (st->st_mode & 0111))
		m |= 010;
	return chmod(path, m);
}

static int public_read(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)flag;
	(void)f;
	if (S_ISLNK(st->st_mode))
		return 0;
	/* o+rX */
	return chmod(path, (st->st_mode & 07777) | 04 |
		     (S_ISDIR(st->st_mode) || (st->st_mode & 0111) ? 01 : 0));
}

/* DIR and all under it: UID (-1: kept) and the app's group GID, g+rX,g-w,o-rwx. */
static int group_tree(const char *dir, uid_t uid, gid_t gid)
{
	walk_uid = uid;
	walk_gid = gid;
	if (nftw(dir, group_only, 16, FTW_PHYS) != 0) {
		say("unable to give %s to its app: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The instance is root's and its app's group's; other apps read none of
 * it. static/ is public (nginx serves it), so it and the way to it stay
 * open to all.
 */
static int instance_modes(const char *dir, const char *run, gid_t gid)
{
	struct sl_buf st = SL_BUF_INIT;
	struct stat s;
	int ret = -1;

	if (group_tree(dir, 0, gid) < 0 || group_tree(run, 0, gid) < 0)
		goto out;
	if (chmod(dir, 0751) < 0)
		goto out;
	sl_buf_addf(&st, "%s/static", dir);
	if (lstat(st.buf, &s) == 0 && S_ISDIR(s.st_mode) &&
	    nftw(st.buf, public_read, 16, FTW_PHYS) != 0)
		goto out;
	ret = 0;
out:
	sl_buf_release(&st);
	return ret;
}

/*
 * LOGS/apps/APP, the app's SILVER_LOGS, and in it app.log, where uWSGI,
 * as root before it becomes the app's user, sends the app's log. The
 * directory is root's, sticky, and the app's group writes in it: the app
 * makes files of its own there, and cannot remove, rename or replace
 * root's app.log. An app.log that is not root's own regular file (an
 * older release's, a symlink the app made) is replaced by one made under
 * a name of its own and renamed over it.
 */
static int app_log(const char *app, gid_t gid)
{
	struct sl_buf d = SL_BUF_INIT, f = SL_BUF_INIT, t = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct stat st;
	int fd = -1, ret = -1;

	sl_buf_addf(&d, "%s/apps/%s", sl_node_logs(), app);
	if (sl_file_mkdirs(d.buf, 0755, &err) < 0 || lchown(d.buf, 0, gid) < 0 ||
	    chmod(d.buf, 01770) < 0)
		goto out;
	sl_buf_addf(&f, "%s/app.log", d.buf);
	if (lstat(f.buf, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    st.st_nlink != 1) {
		if (lstat(f.buf, &st) == 0)
			say("%s was not root's own file: replaced", f.buf);
		sl_buf_addf(&t, "%s/.app.log.XXXXXX", d.buf);
		fd = mkostemp(t.buf, O_CLOEXEC);
		if (fd < 0)
			goto out;
		if (fchown(fd, 0, gid) < 0 || fchmod(fd, 0640) < 0 || rename(t.buf, f.buf) < 0) {
			unlink(t.buf);
			goto out;
		}
		close(fd);
	}
	fd = open(f.buf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchown(fd, 0, gid) < 0 || fchmod(fd, 0640) < 0)
		goto out;
	ret = 0;
out:
	if (ret < 0)
		say("unable to make the log %s: %s", f.len ? f.buf : d.buf,
		    err.code ? err.msg.buf : strerror(errno));
	if (fd >= 0)
		close(fd);
	sl_err_release(&err);
	sl_buf_release(&d);
	sl_buf_release(&f);
	sl_buf_release(&t);
	return ret;
}

/* The end of APP's log, read with the app's own rights. */
static void log_tail(const char *app)
{
	struct sl_buf user = SL_BUF_INIT, log = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;

	if (sl_appuser_get(app, &user, NULL, NULL, &err) == 1) {
		sl_buf_addf(&log, "%s/apps/%s/app.log", sl_node_logs(), app);
		RUN(STDERR_FILENO, SL_RUN_NULL, "runuser", "-u", user.buf, "--",
		    "tail", "-n", "20", log.buf);
	}
	sl_err_release(&err);
	sl_buf_release(&user);
	sl_buf_release(&log);
}

/* The last 20 lines of TEXT on stderr. */
static void tail_text(const struct sl_buf *text)
{
	const char *p = text->buf + text->len;
	int lines = 0;

	while (p > text->buf && lines <= 20)
		if (*--p == '\n' && p + 1 < text->buf + text->len)
			lines++;
	if (lines > 20)
		p++;
	fputs(p, stderr);
}

/* The packages of A that are not installed, installed. */
static int install_packages(const struct sl_app *a, const char *run)
{
	struct sl_strv missing = SL_STRV_INIT, argv = SL_STRV_INIT;
	struct sl_buf out = SL_BUF_INIT, names = SL_BUF_INIT, log = SL_BUF_INIT;
	int rc = 0;

	for (size_t i = 0; i < a->packages.n; i++) {
		sl_buf_reset(&out);
		capture(&out, (char *[]){ "dpkg-query", "-W", "-f=${db:Status-Status}",
			a->packages.v[i], NULL });
		if (strcmp(out.buf, "installed")) {
			sl_strv_push(&missing, a->packages.v[i]);
			sl_buf_addf(&names, "%s%s", names.len ? " " : "", a->packages.v[i]);
		}
	}
	if (!missing.n)
		goto out;
	say("installing %s", names.buf);
	sl_buf_reset(&out);
	rc = run_said(&out, (char *[]){ "apt-get", "update", "-q", NULL });
	if (rc == 0) {
		sl_strv_pushv(&argv, (char *[]){ "apt-get", "install", "-y", "-q",
			"--no-install-recommends", NULL });
		sl_strv_pushv(&argv, missing.v);
		rc = run_said(&out, argv.v);
	}
	sl_buf_addf(&log, "%s/apt.log", run);
	write_or_die(log.buf, out.buf, out.len, 0640);
	if (rc != 0) {
		tail_text(&out);
		rc = SL_EXIT_TEMP;
	}
out:
	sl_strv_clear(&missing);
	sl_strv_clear(&argv);
	sl_buf_release(&out);
	sl_buf_release(&names);
	sl_buf_release(&log);
	return rc;
}

/* The services of A set up for APP (and cleared with --clear). */
static int setup_services(const struct sl_app *a, const char *app)
{
	struct sl_buf exe = SL_BUF_INIT;
	int rc = 0;

	for (size_t i = 0; i < a->nservices && !rc; i++) {
		const char *s = a->services[i].name;
		char *found;

		sl_buf_reset(&exe);
		sl_buf_addf(&exe, "sl-service-%s", s);
		found = sl_run_which(exe.buf, NULL);
		if (!found) {
			say("unknown service '%s'", s);
			rc = SL_EXIT_USAGE;
			break;
		}
		free(found);
		rc = RUN(SL_RUN_INHERIT, SL_RUN_INHERIT, exe.buf, "install");
		if (rc == 0)
			rc = RUN(SL_RUN_INHERIT, SL_RUN_INHERIT, exe.buf, "setup", (char *)app);
		if (rc) {
			say("service.%s could not be set up for %s", s, app);
			break;
		}
		if (clear) {
			rc = RUN(SL_RUN_INHERIT, SL_RUN_INHERIT, exe.buf, "clear", (char *)app);
			if (rc == 0)
				say("cleared service.%s of %s", s, app);
		}
	}
	sl_buf_release(&exe);
	return rc;
}

/*
 * The deployment config of INST, ROOT/configs/INST: its own (sl-sync
 * --config), else a linked copy of the one serving ROUTE now, else of the
 * app's newest. It is root's and the app's group's alone.
 */
static int give_config(const char *inst, const char *app, gid_t gid,
		       const struct sl_location *route)
{
	struct sl_buf cfg = SL_BUF_INIT, from = SL_BUF_INIT, dir = SL_BUF_INIT;
	struct sl_buf copy = SL_BUF_INIT, cur_app = SL_BUF_INIT, newest = SL_BUF_INIT;
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct stat st;
	int rc = SL_EXIT_TEMP;

	sl_node_instance_path(&cfg, "configs", inst);
	if (stat(cfg.buf, &st) < 0 || !S_ISDIR(st.st_mode)) {
		const char *cur;
		DIR *d;

		routes_load(&r);
		cur = sl_routes_get(&r, route->host, route->path);
		if (cur) {
			app_of(cur, &cur_app);
			sl_node_instance_path(&from, "configs", cur);
			/* another app's config is never taken (update --name onto its location) */
			if (strcmp(cur_app.buf, app) || stat(from.buf, &st) < 0 || !S_ISDIR(st.st_mode))
				sl_buf_reset(&from);
		}
		sl_node_path(&dir, "configs");
		if (!from.len && (d = opendir(dir.buf))) {
			struct dirent *e;
			size_t alen = strlen(app);

			while ((e = readdir(d)))
				if (!strncmp(e->d_name, app, alen) && e->d_name[alen] == '.' &&
				    e->d_type == DT_DIR && strcmp(e->d_name, newest.buf) > 0) {
					sl_buf_reset(&newest);
					sl_buf_adds(&newest, e->d_name);
				}
			closedir(d);
			if (newest.len)
				sl_buf_addf(&from, "%s/%s", dir.buf, newest.buf);
		}
		if (!from.len) {
			rc = 0;
			goto out;
		}
		sl_buf_addf(&copy, "%s/.copy-%s", dir.buf, inst);
		if (sl_file_remove_tree(AT_FDCWD, copy.buf, &err) < 0) {
			say("%s", err.msg.buf);
			goto out;
		}
		if (RUN(SL_RUN_INHERIT, SL_RUN_INHERIT, "cp", "-al", "--", from.buf, copy.buf) != 0)
			goto out;
		if (rename(copy.buf, cfg.buf) < 0) {
			say("unable to make %s: %s", cfg.buf, strerror(errno));
			goto out;
		}
		say("%s uses the config of %s", inst, strrchr(from.buf, '/') + 1);
	}
	if (group_tree(cfg.buf, (uid_t)-1, gid) < 0)
		goto out;
	rc = 0;
out:
	sl_routes_release(&r);
	sl_err_release(&err);
	sl_buf_release(&cfg);
	sl_buf_release(&from);
	sl_buf_release(&dir);
	sl_buf_release(&copy);
	sl_buf_release(&cur_app);
	sl_buf_release(&newest);
	return rc;
}

/* The app's user, made when missing; its ids. */
static int make_user(const char *app, struct sl_buf *user, uid_t *uid, gid_t *gid)
{
	struct sl_buf gecos = SL_BUF_INIT, home = SL_BUF_INIT;
	int rc = app_user(app, user, uid, gid);

	if (rc != 0)
		return rc < 0 ? -rc : 0;
	/* the user's GECOS records its app: sl_appuser_get refuses a user
	 * that another app owns (a long name's hash is never trusted alone) */
	sl_buf_addf(&gecos, SL_APPUSER_GECOS "%s", app);
	sl_node_path(&home, "instances");
	if (RUN(SL_RUN_INHERIT, SL_RUN_INHERIT, "adduser", "--quiet", "--system", "--group",
		"--no-create-home", "--home", home.buf, "--gecos", gecos.buf,
		"--shell", "/usr/sbin/nologin", user->buf) != 0 ||
	    app_user(app, user, uid, gid) != 1)
		rc = SL_EXIT_TEMP;
	sl_buf_release(&gecos);
	sl_buf_release(&home);
	return rc;
}

/* ROOT/NAME, made with MODE when missing, and given MODE. */
static int node_dir(const char *name, mode_t mode)
{
	struct sl_buf p = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	int ret = 0;

	if (*name == '/')
		sl_buf_adds(&p, name);
	else
		sl_node_path(&p, name);
	if (sl_file_mkdirs(p.buf, mode, &err) < 0 || chmod(p.buf, mode) < 0) {
		say("unable to make %s: %s", p.buf, err.code ? err.msg.buf : strerror(errno));
		ret = -1;
	}
	sl_err_release(&err);
	sl_buf_release(&p);
	return ret;
}

/* Each instance its own TEMP, empty at its start; the serving one keeps its own. */
static int instance_temp(const char *inst, uid_t uid, gid_t gid)
{
	struct sl_buf t = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	int ret = -1;

	sl_node_instance_path(&t, "tmp", inst);
	if (!sl_unit_active(&talk, inst) && sl_file_remove_tree(AT_FDCWD, t.buf, &err) < 0)
		goto out;
	if ((mkdir(t.buf, 0700) < 0 && errno != EEXIST) || lchown(t.buf, uid, gid) < 0 ||
	    chmod(t.buf, 0700) < 0) {
		sl_err_errno(&err, "unable to make %s", t.buf);
		goto out;
	}
	ret = 0;
out:
	if (ret < 0)
		say("%s", err.msg.buf);
	sl_err_release(&err);
	sl_buf_release(&t);
	return ret;
}

/* The environment must come whole: said here, in sl-env's words, not by a unit that failed. */
static int check_env(const char *user, const char *dir)
{
	struct sl_buf said = SL_BUF_INIT;
	int rc = run_said(&said, (char *[]){ "runuser", "-u", (char *)user, "--",
		"sl-env", "--node", (char *)dir, "true", NULL });

	if (rc)
		fputs(said.buf, stderr);
	sl_buf_release(&said);
	return rc;
}

/* run/INST: location, wsgi.py, uwsgi.ini; the unit's memory cap. */
static int write_runtime(const char *inst, const struct sl_app *a, const char *user,
			 const char *dir, const char *run, const char *where)
{
	struct sl_buf p = SL_BUF_INIT, text = SL_BUF_INIT, wsgi = SL_BUF_INIT;
	struct sl_buf sock = SL_BUF_INIT, log = SL_BUF_INIT, prop = SL_BUF_INIT;
	struct sl_buf u = SL_BUF_INIT, app = SL_BUF_INIT;

	app_of(inst, &app);
	sl_buf_addf(&p, "%s/location", run);
	sl_buf_addf(&text, "%s\n", where);
	write_or_die(p.buf, text.buf, text.len, 0644);
	sl_buf_reset(&text);
	sl_render_wsgi(dir, a->runner, &text);
	sl_buf_addf(&wsgi, "%s/wsgi.py", run);
	write_or_die(wsgi.buf, text.buf, text.len, 0644);
	sl_buf_addf(&sock, "%s/%s.sock", sl_node_sockets(), inst);
	sl_buf_addf(&log, "%s/apps/%s/app.log", sl_node_logs(), app.buf);
	sl_buf_reset(&text);
	sl_render_uwsgi(&(struct sl_render_uwsgi){
		.instance = inst, .user = user, .dir = dir, .socket = sock.buf,
		.pythonpath = SHARE "/python", .wsgi_file = wsgi.buf, .log = log.buf,
		.processes = (int)a->processes, .threads = (int)a->threads,
		.timeout = (int)a->timeout, .memory_limit = (int)a->memory_limit,
	}, &text);
	sl_buf_reset(&p);
	sl_buf_addf(&p, "%s/uwsgi.ini", run);
	write_or_die(p.buf, text.buf, text.len, 0644);
	/* the whole instance is capped; one worker recycled for memory is not the end of it */
	sl_buf_addf(&prop, "MemoryMax=%ldM", a->processes * a->memory_limit * 2 + 64);
	sl_unit_name(&u, inst);
	QUIET("systemctl", "set-property", u.buf, prop.buf);
	sl_buf_release(&p);
	sl_buf_release(&text);
	sl_buf_release(&wsgi);
	sl_buf_release(&sock);
	sl_buf_release(&log);
	sl_buf_release(&prop);
	sl_buf_release(&u);
	sl_buf_release(&app);
	return 0;
}

/* Loads INST's app.ini into A: 0, or 100 said on stderr. */
static int load_app(const char *inst, const char *dir, struct sl_app *a)
{
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf runner = SL_BUF_INIT;
	struct stat st;
	int rc = 0;

	if (sl_app_load(a, dir, &err) < 0) {
		for (size_t i = 0; i < a->warnings.n; i++)
			say("warning: %s", a->warnings.v[i]);
		say("%s", err.msg.buf);
		rc = SL_EXIT_USAGE;
	} else if (a->platform != SL_PLATFORM_PYTHON) {
		say("platform php: only python is served by this release");
		rc = SL_EXIT_USAGE;
	} else if (!a->runner) {
		say("%s: app.ini names no runner", inst);
		rc = SL_EXIT_USAGE;
	} else {
		sl_buf_addf(&runner, "%s/", dir);
		sl_buf_add(&runner, a->runner, strcspn(a->runner, "#"));
		if (stat(runner.buf, &st) < 0 || !S_ISREG(st.st_mode)) {
			say("%s: the runner %s is missing", inst, runner.buf + strlen(dir) + 1);
			rc = SL_EXIT_USAGE;
		}
	}
	sl_err_release(&err);
	sl_buf_release(&runner);
	return rc;
}

/* Everything INST needs before it starts; 0 or the exit code (said). */
static int prepare_instance(const char *inst, struct sl_app *a, const char *where,
			    const struct sl_location *route)
{
	struct sl_buf app = SL_BUF_INIT, user = SL_BUF_INIT, dir = SL_BUF_INIT;
	struct sl_buf run = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	uid_t uid;
	gid_t gid;
	int rc;

	app_of(inst, &app);
	rc = app_user(app.buf, &user, NULL, NULL);
	if (rc < 0) {
		rc = -rc;
		goto out;
	}
	sl_node_instance_path(&dir, "instances", inst);
	sl_node_instance_path(&run, "run", inst);
	if (sl_file_mkdirs(run.buf, 0755, &err) < 0) {
		say("%s", err.msg.buf);
		rc = SL_EXIT_TEMP;
		goto out;
	}
	if ((rc = load_app(inst, dir.buf, a)) ||
	    (rc = install_packages(a, run.buf)) ||
	    (rc = make_user(app.buf, &user, &uid, &gid)) ||
	    (rc = setup_services(a, app.buf)))
		goto out;
	rc = SL_EXIT_TEMP;
	if (node_dir("secrets", 0755) < 0 || node_dir("tmp", 0755) < 0 ||
	    node_dir(sl_node_sockets(), 0755) < 0 || app_log(app.buf, gid) < 0 ||
	    instance_modes(dir.buf, run.buf, gid) < 0)
		goto out;
	if (sl_node_app_secret(app.buf, uid, gid, &err) < 0) {
		say("%s", err.msg.buf);
		goto out;
	}
	if ((rc = give_config(inst, app.buf, gid, route)) ||
	    (rc = check_env(user.buf, dir.buf)))
		goto out;
	rc = SL_EXIT_TEMP;
	if (instance_temp(inst, uid, gid) < 0)
		goto out;
	rc = write_runtime(inst, a, user.buf, dir.buf, run.buf, where);
out:
	sl_err_release(&err);
	sl_buf_release(&app);
	sl_buf_release(&user);
	sl_buf_release(&dir);
	sl_buf_release(&run);
	return rc;
}

/* Starts INST and waits for its socket: 0, or the exit code (said). */
static int start_instance(const char *inst)
{
	struct sl_buf u = SL_BUF_INIT, timer = SL_BUF_INIT, sock = SL_BUF_INIT, app = SL_BUF_INIT;
	struct timespec nap = { 0, 100 * 1000 * 1000 };
	struct stat st;
	int rc = 0;

	sl_unit_name(&u, inst);
	sl_buf_addf(&timer, "silverlining-drain-%s.timer", inst);
	QUIET("systemctl", "stop", timer.buf);	/* it serves again */
	if (node_dir(sl_node_sockets(), 0755) < 0)
		return SL_EXIT_TEMP;
	/* enabling reloads systemd's configuration: only when it is needed (a
	 * rollback to a running instance must stay well under a second) */
	if (QUIET("systemctl", "is-enabled", "-q", u.buf) != 0 &&
	    RUN(SL_RUN_INHERIT, SL_RUN_INHERIT, "systemctl", "enable", "-q", u.buf) != 0) {
		rc = SL_EXIT_TEMP;
		goto out;
	}
	sl_buf_addf(&sock, "%s/%s.sock", sl_node_sockets(), inst);
	if (sl_unit_active(&talk, inst) && lstat(sock.buf, &st) == 0 && S_ISSOCK(st.st_mode))
		goto out;
	unlink(sock.buf);	/* uWSGI may not remove it (the directory is root's) */
	if (RUN(SL_RUN_INHERIT, SL_RUN_INHERIT, "systemctl", "start", u.buf) != 0) {
		rc = SL_EXIT_TEMP;
		goto out;
	}
	for (int i = 0; i < 300; i++) {
		if (lstat(sock.buf, &st) == 0 && S_ISSOCK(st.st_mode))
			goto out;
		if (!sl_unit_active(&talk, inst))
			break;
		nanosleep(&nap, NULL);
	}
	say("%s did not start; its log says:", inst);
	app_of(inst, &app);
	log_tail(app.buf);
	rc = SL_EXIT_USAGE;
out:
	sl_buf_release(&u);
	sl_buf_release(&timer);
	sl_buf_release(&sock);
	sl_buf_release(&app);
	return rc;
}

/*
 * An update_fetch script, as the app's user in its environment, in a
 * scope unit of its own that systemd stops after fetch_limit seconds,
 * every process it started with it. The script is this process's child:
 * its own exit status comes back, a signal's too. 124: stopped at the
 * limit.
 */
static int fetch_script(const char *inst, const char *user, const char *cmd)
{
	struct sl_buf dir = SL_BUF_INIT, unit = SL_BUF_INIT, uid = SL_BUF_INIT;
	struct sl_buf gid = SL_BUF_INIT, max = SL_BUF_INIT;
	struct sl_child c = SL_CHILD_INIT;
	struct sl_err err = SL_ERR_INIT;
	long long t0 = now_ns();
	int rc;

	sl_node_instance_path(&dir, "instances", inst);
	sl_buf_addf(&unit, "--unit=silverlining-fetch-%s", inst);
	sl_buf_addf(&uid, "--uid=%s", user);
	sl_buf_addf(&gid, "--gid=%s", user);
	sl_buf_addf(&max, "RuntimeMaxSec=%ld", fetch_limit);
	c.argv = (char *[]){ "systemd-run", "--quiet", "--scope", "--collect", unit.buf,
		uid.buf, gid.buf, "-p", max.buf, "sl-env", "--node", dir.buf, "--",
		"sh", "-c", (char *)cmd, NULL };
	c.dir = dir.buf;
	c.in = SL_RUN_NULL;
	c.out = STDERR_FILENO;
	rc = sl_run(&c, &err);
	if (rc < 0) {
		say("%s", err.msg.buf);
		rc = err.code;
	} else if (rc && (now_ns() - t0) / 1000000000 >= fetch_limit) {
		rc = 124;
	}
	sl_err_release(&err);
	sl_buf_release(&dir);
	sl_buf_release(&unit);
	sl_buf_release(&uid);
	sl_buf_release(&gid);
	sl_buf_release(&max);
	return rc;
}

/*
 * An internal request to INST at URL under the canonical location HOST
 * PATH: the body into BODY, the HTTP status ("000" for none) into STATUS.
 */
static void internal(const char *inst, long timeout, const char *host, const char *path,
		     const char *url, struct sl_buf *body, char status[4])
{
	struct sl_buf sock = SL_BUF_INIT, max = SL_BUF_INIT, h = SL_BUF_INIT;
	struct sl_buf sn = SL_BUF_INIT, u = SL_BUF_INIT;
	struct sl_child c = SL_CHILD_INIT;
	const char *script = strcmp(path, "/") ? path : "";

	sl_buf_addf(&sock, "%s/%s.sock", sl_node_sockets(), inst);
	sl_buf_addf(&max, "%ld", timeout + 5);
	sl_buf_addf(&h, "Host: %s", host);
	sl_buf_addf(&sn, "X-Silverlining-Script-Name: %s", script);
	sl_buf_addf(&u, "http://localhost%s%s", script, url);
	c.argv = (char *[]){ "curl", "-sS", "--max-time", max.buf, "--unix-socket", sock.buf,
		"-w", "%{http_code}", "-H", h.buf, "-H", "X-Silverlining-Update: 1",
		"-H", sn.buf, u.buf, NULL };
	c.in = SL_RUN_NULL;
	sl_buf_reset(body);
	sl_run_capture(&c, body, NULL);
	snprintf(status, 4, "000");
	if (body->len >= 3) {
		memcpy(status, body->buf + body->len - 3, 3);
		sl_buf_setlen(body, body->len - 3);
	}
	sl_buf_release(&sock);
	sl_buf_release(&max);
	sl_buf_release(&h);
	sl_buf_release(&sn);
	sl_buf_release(&u);
}

/* The gate: every update_fetch entry, then the health check. 0 or 100. */
static int gate(const char *inst, const struct sl_app *a, const char *where)
{
	struct sl_buf app = SL_BUF_INIT, user = SL_BUF_INIT, body = SL_BUF_INIT;
	char *host = strdup(where), *path = strchr(host, ' ');
	char status[4] = "";
	int rc = 0;

	*path++ = 0;
	app_of(inst, &app);
	if (app_user(app.buf, &user, NULL, NULL) != 1)
		rc = SL_EXIT_USAGE;
	for (size_t i = 0; i < a->update_fetch.n && !rc; i++) {
		const char *v = a->update_fetch.v[i];

		if (!strncmp(v, "script:", 7)) {
			say("update_fetch %s:", v);
			fflush(stderr);
			rc = fetch_script(inst, user.buf, v + 7);
			if (rc == 124)
				say("update_fetch %s ran longer than %ld seconds: stopped", v, fetch_limit);
			else if (rc)
				say("update_fetch %s failed with exit status %d", v, rc);
			rc = rc ? SL_EXIT_USAGE : 0;
		} else {
			internal(inst, a->timeout, host, path, v, &body, status);
			say("update_fetch %s: %s", v, status);
			fwrite(body.buf, 1, body.len, stderr);
			if (status[0] != '2')
				rc = SL_EXIT_USAGE;
		}
	}
	if (!rc) {
		const char *hc = a->health_check ? a->health_check : "/";

		internal(inst, a->timeout, host, path, hc, &body, status);
		say("health check %s: %s", hc, status);
		if (a->health_check ? status[0] != '2' : (status[0] < '1' || status[0] > '4')) {
			fwrite(body.buf, 1, body.len, stderr);
			rc = SL_EXIT_USAGE;
		}
	}
	if (rc && !strcmp(status, "000")) {
		say("%s is not answering; its log says:", inst);
		fflush(stderr);
		log_tail(app.buf);
	}
	free(host);
	sl_buf_release(&app);
	sl_buf_release(&user);
	sl_buf_release(&body);
	return rc;
}

static int lock_or_die(const char *app, int timeout)
{
	struct sl_err err = SL_ERR_INIT;
	int fd = sl_node_lock(app, timeout, &err);

	if (fd < 0)
		sl_die_err(&err);
	return fd;
}

static void print_url(const char *host, const char *path)
{
	struct sl_buf node = SL_BUF_INIT, url = SL_BUF_INIT;

	node_name(&node);
	sl_location_url(host, path, node.buf, &url);
	printf("%s%s\n", url.buf, sl_location_is_default(host) ? " (every other host)" : "");
	sl_buf_release(&node);
	sl_buf_release(&url);
}

static void activate(char **argv, int argc)
{
	const char *inst = argv[0];
	struct sl_location *locs = calloc((size_t)argc, sizeof(*locs));
	struct sl_buf app = SL_BUF_INIT, where = SL_BUF_INIT, dir = SL_BUF_INIT, prev = SL_BUF_INIT;
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_app a = SL_APP_INIT;
	struct stat st;
	long long t0, t1, t2, t3;
	int n = argc - 1, rc;

	if (!locs)
		sl_die(SL_EXIT_TEMP, "out of memory");
	if (!sl_instance_name_valid(inst))
		sl_die(SL_EXIT_USAGE, "invalid instance name '%s'", inst);
	sl_node_instance_path(&dir, "instances", inst);
	if (stat(dir.buf, &st) < 0 || !S_ISDIR(st.st_mode))
		sl_die(SL_EXIT_USAGE, "no instance %s on this node", inst);
	for (int i = 0; i < n; i++)
		parse_location(argv[i + 1], 0, &locs[i]);
	canonical(locs, (size_t)n, &where);
	t0 = now_ns();
	app_of(inst, &app);
	lock_or_die(app.buf, (int)(fetch_limit + 120));
	sw.locked_app = app.buf;
	rc = prepare_instance(inst, &a, where.buf, &locs[0]);
	if (rc)
		sl_die(rc, "%s was not started; nothing switched", inst);
	t1 = now_ns();
	rc = start_instance(inst);
	t2 = now_ns();
	if (rc || gate(inst, &a, where.buf)) {
		if (!routed_now(inst))
			sl_unit_disable_now(&talk, inst);
		sl_die(SL_EXIT_USAGE, "%s failed its checks; nothing switched, "
		       "the old instance keeps serving", inst);
	}
	lock_or_die(NULL, NODE_LOCK_WAIT);
	routes_load(&r);
	for (int i = 0; i < n; i++) {
		const char *old = sl_routes_get(&r, locs[i].host, locs[i].path);
		char *was = old ? strdup(old) : NULL;

		sl_routes_set(&r, locs[i].host, locs[i].path, inst);
		if (was && strcmp(was, inst) && strncmp(locs[i].host, "prev.", 5)) {
			sl_location_prev(locs[i].host, &prev);
			sl_routes_set(&r, prev.buf, locs[i].path, was);
		}
		free(was);
	}
	t3 = now_ns();
	rc = commit_routes(&r);
	if (rc) {
		/* a switch that fails must not leave the new instance running */
		if (!routed_now(inst))
			sl_unit_disable_now(&talk, inst);
		exit(rc);
	}
	retire_unused();
	say("%s: prepare %s, start %s, checks %s, switch %s", inst, ms(t0, t1),
	    ms(t1, t2), ms(t2, t3), ms(t3, now_ns()));
	for (int i = 0; i < n; i++)
		print_url(locs[i].host, locs[i].path);
	sl_exit_flush();
}

/* prev LOCATION: swap it with prev.LOCATION. */
static void rollback(const char *text)
{
	struct sl_location loc = SL_LOCATION_INIT;
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_buf prevhost = SL_BUF_INIT, dir = SL_BUF_INIT, where = SL_BUF_INIT;
	struct sl_buf p = SL_BUF_INIT;
	long long t0, t1, t2, t3;
	struct stat st;
	char *cur, *prev;
	int rc;

	parse_location(text, 0, &loc);
	t0 = now_ns();
	lock_or_die(NULL, NODE_LOCK_WAIT);
	t1 = now_ns();
	routes_load(&r);
	sl_location_prev(loc.host, &prevhost);
	cur = sl_routes_get(&r, loc.host, loc.path) ? strdup(sl_routes_get(&r, loc.host, loc.path)) : NULL;
	prev = sl_routes_get(&r, prevhost.buf, loc.path) ?
		strdup(sl_routes_get(&r, prevhost.buf, loc.path)) : NULL;
	if (!prev)
		sl_die(SL_EXIT_NO, "no previous instance for %s%s", loc.host,
		       strcmp(loc.path, "/") ? loc.path : "");
	sl_node_instance_path(&dir, "instances", prev);
	if (stat(dir.buf, &st) < 0)
		sl_die(SL_EXIT_USAGE, "the previous instance %s was removed (clean-node)", prev);
	canonical(&loc, 1, &where);
	sl_buf_addch(&where, '\n');
	sl_node_instance_path(&p, "run", prev);
	sl_buf_adds(&p, "/location");
	write_or_die(p.buf, where.buf, where.len, 0644);
	if (start_instance(prev))
		sl_die(SL_EXIT_USAGE, "%s did not start; nothing switched", prev);
	t2 = now_ns();
	sl_routes_set(&r, loc.host, loc.path, prev);
	if (cur)
		sl_routes_set(&r, prevhost.buf, loc.path, cur);
	rc = commit_routes(&r);
	if (rc)
		exit(rc);
	t3 = now_ns();
	retire_unused();
	say("%s: lock %s, start %s, switch %s, retire %s", prev, ms(t0, t1), ms(t1, t2),
	    ms(t2, t3), ms(t3, now_ns()));
	printf("%s\n", prev);
	sl_exit_flush();
}

/*
 * --deactivate [--keep-prev] LOCATION...: a location that names a route
 * removes it (and its prev.); otherwise its host is a pattern (*) and a
 * path of / matches every path.
 */
static void deactivate(char **argv, int argc)
{
	struct sl_routes r = SL_ROUTES_INIT, was = SL_ROUTES_INIT;
	struct sl_buf prevhost = SL_BUF_INIT, all = SL_BUF_INIT;
	int keep = 0, n = 0, rc;

	if (argc > 0 && !strcmp(argv[0], "--keep-prev")) {
		keep = 1;
		argv++;
		argc--;
	}
	if (argc < 1)
		sl_die_usage(USAGE);
	lock_or_die(NULL, NODE_LOCK_WAIT);
	routes_load(&r);
	routes_load(&was);
	for (int i = 0; i < argc; i++) {
		struct sl_location loc = SL_LOCATION_INIT;
		int exact;

		parse_location(argv[i], SL_LOC_PREV, &loc);
		sl_location_prev(loc.host, &prevhost);
		exact = sl_routes_get(&was, loc.host, loc.path) != NULL;
		for (size_t j = 0; j < was.n; j++) {
			const struct sl_route *t = &was.v[j];

			if (exact) {
				if ((strcmp(t->host, loc.host) && strcmp(t->host, prevhost.buf)) ||
				    strcmp(t->path, loc.path))
					continue;
			} else {
				if (fnmatch(loc.host, t->host, 0) && fnmatch(prevhost.buf, t->host, 0))
					continue;
				if (strcmp(t->path, loc.path) && strcmp(loc.path, "/"))
					continue;
			}
			if (keep && !strncmp(t->host, "prev.", 5) && strncmp(loc.host, "prev.", 5))
				continue;
			if (sl_routes_get(&r, t->host, t->path)) {
				sl_routes_set(&r, t->host, t->path, NULL);
				n++;
			}
		}
		sl_buf_addf(&all, "%s%s", i ? " " : "", argv[i]);
		sl_location_release(&loc);
	}
	if (!n)
		sl_die(SL_EXIT_NO, "nothing is mapped at %s", all.buf);
	rc = commit_routes(&r);
	if (rc)
		exit(rc);
	retire_unused();
	sl_exit_flush();
}

static void set_disabled(int on, const char *text)
{
	struct sl_location loc = SL_LOCATION_INIT;
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_buf app = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	const char *inst;
	int rc;

	parse_location(text, 0, &loc);
	lock_or_die(NULL, NODE_LOCK_WAIT);
	routes_load(&r);
	inst = sl_routes_get(&r, loc.host, loc.path);
	if (!inst)
		sl_die(SL_EXIT_NO, "nothing is mapped at %s", text);
	app_of(inst, &app);
	if (sl_node_set_disabled(app.buf, on, &err) < 0)
		sl_die_err(&err);
	rc = commit_routes(&r);
	if (rc)
		exit(rc);
	printf("%s %s\n", app.buf, on ? "disabled" : "enabled");
	sl_exit_flush();
}

/*
 * --routes: nginx's text and every link made again from the state (a new
 * node, a package upgrade, an older node's routes); nginx reloaded when it
 * runs and does not serve this text yet.
 */
static void routes_again(void)
{
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_err err = SL_ERR_INIT;

	lock_or_die(NULL, NODE_LOCK_WAIT);
	routes_load(&r);
	if (sl_switch_again(&sw, &r, &err) < 0)
		sl_die_err(&err);
	sl_exit_flush();
}

/* --- an instance that keeps failing (failing.h) ------------------------- */

static void unit_start(const char *inst)
{
	struct sl_failing f = SL_FAILING_INIT;
	long delay;

	if (!sl_instance_name_valid(inst))
		sl_die(SL_EXIT_USAGE, "invalid instance name '%s'", inst);
	if (!sl_failing_read(inst, &f))
		f.n = 0;
	delay = sl_failing_delay(f.n);
	if (delay) {
		say("%s failed %ld times in a row: starting it again in %lds", inst, f.n, delay);
		sleep((unsigned)delay);
	}
	if (f.n >= 1) {
		f.since = (long)time(NULL);
		sl_failing_write(inst, &f, NULL);
	}
	sl_exit_flush();
}

static void unit_stop(const char *inst)
{
	const char *result = getenv("SERVICE_RESULT");
	const char *code = getenv("EXIT_CODE"), *status = getenv("EXIT_STATUS");
	struct sl_failing f = SL_FAILING_INIT;
	struct sl_buf p = SL_BUF_INIT;
	time_t now = time(NULL);

	if (!sl_instance_name_valid(inst))
		sl_die(SL_EXIT_USAGE, "invalid instance name '%s'", inst);
	sl_failing_path(&p, inst);
	if (!result || !*result || !strcmp(result, "success")) {
		unlink(p.buf);
		sl_exit_flush();
	}
	sl_failing_path(&p, NULL);
	if (sl_file_mkdirs(p.buf, 0755, NULL) < 0 || chmod(p.buf, 0755) < 0)
		sl_exit_flush();
	if (!sl_failing_read(inst, &f))
		f = (struct sl_failing){ 0, (long)now };
	sl_failing_count(&f, now);
	sl_failing_write(inst, &f, NULL);
	say("%s stopped (%s, %s %s): failure %ld", inst, result, code ? code : "",
	    status ? status : "", f.n);
	sl_exit_flush();
}

int main(int argc, char **argv)
{
	const char *path = getenv("PATH");
	struct sl_buf p = SL_BUF_INIT;
	const char *verb;

	sl_msg_init(argv[0]);
	umask(022);
	sl_buf_addf(&p, "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin%s%s",
		    path && *path ? ":" : "", path ? path : "");
	setenv("PATH", p.buf, 1);
	setenv("LC_ALL", "C", 1);
	setenv("DEBIAN_FRONTEND", "noninteractive", 1);
	sl_buf_release(&p);
	if (argc < 2)
		sl_die_usage(USAGE);
	verb = argv[1];
	if (!strcmp(verb, "-h") || !strcmp(verb, "--help")) {
		printf("usage: %s\n", USAGE);
		sl_exit_flush();
	}
	if (!strcmp(verb, "--version")) {
		printf("sl-activate %s\n", SL_VERSION);
		sl_exit_flush();
	}
	if (*verb == '-' && strcmp(verb, "--routes") && strcmp(verb, "--deactivate") &&
	    strcmp(verb, "--disable") && strcmp(verb, "--enable") && strcmp(verb, "--clear") &&
	    strcmp(verb, "--unit-start") && strcmp(verb, "--unit-stop")) {
		fprintf(stderr, "%s: fatal: unknown option %s\n", sl_msg_prog(), verb);
		sl_die_usage(USAGE);
	}
	if (geteuid() != 0)
		sl_die(SL_EXIT_USAGE, "sl-activate runs as root on the node");
	fetch_limit = env_long("SL_FETCH_LIMIT", 600);
	sw.drain = env_long("SL_DRAIN", 10);
	if (!strcmp(verb, "--routes")) {
		if (argc != 2)
			sl_die_usage(USAGE);
		routes_again();
	}
	if (!strcmp(verb, "--deactivate"))
		deactivate(argv + 2, argc - 2);
	if (!strcmp(verb, "--clear")) {
		clear = 1;
		argv++;
		argc--;
		if (argc < 3)
			sl_die_usage(USAGE);
	}
	if (argc != 3 && (!strcmp(verb, "--unit-start") || !strcmp(verb, "--unit-stop") ||
			  !strcmp(verb, "--disable") || !strcmp(verb, "--enable") ||
			  !strcmp(verb, "prev")))
		sl_die_usage(USAGE);
	if (!strcmp(verb, "--unit-start"))
		unit_start(argv[2]);
	if (!strcmp(verb, "--unit-stop"))
		unit_stop(argv[2]);
	if (!strcmp(verb, "--disable") || !strcmp(verb, "--enable"))
		set_disabled(!strcmp(verb, "--disable"), argv[2]);
	if (!strcmp(verb, "prev"))
		rollback(argv[2]);
	if (argc < 3)
		sl_die_usage(USAGE);
	activate(argv + 1, argc - 1);
}
