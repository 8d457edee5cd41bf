/* silverlining — an instance made ready to start on the node, and started. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "appuser.h"
#include "exit.h"
#include "file.h"
#include "jobs.h"
#include "node.h"
#include "prepare.h"
#include "render.h"
#include "run.h"
#include "strv.h"
#include "switch.h"
#include "unit.h"

#define SHARE "/usr/share/silverlining"
#define PHP_PACKAGES "php8.2-fpm", "php8.2-cli"
#define PHP_SERVICE "php8.2-fpm.service"

int sl_prepare_user(const struct sl_say *s, const char *app, struct sl_buf *user,
		    uid_t *uid, gid_t *gid)
{
	struct sl_err err = SL_ERR_INIT;
	int rc = sl_appuser_get(app, user, uid, gid, &err);

	if (rc < 0) {
		sl_say(s, "%s", err.msg.buf);
		rc = -err.code;
	}
	sl_err_release(&err);
	return rc;
}

/* The owner and mode walk of instance_modes(s, ) and give_config(s, ). */
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
static int group_tree(const struct sl_say *s, const char *dir, uid_t uid, gid_t gid)
{
	walk_uid = uid;
	walk_gid = gid;
	if (nftw(dir, group_only, 16, FTW_PHYS) != 0) {
		sl_say(s, "unable to give %s to its app: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* A php_root's: directories o+x, files o+r but its .php files (their source is the app's). */
static int php_public(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	size_t n = strlen(path);

	(void)flag;
	(void)f;
	if (S_ISDIR(st->st_mode))
		return chmod(path, (st->st_mode & 07777) | 01);
	if (!S_ISREG(st->st_mode) || (n >= 4 && !strcmp(path + n - 4, ".php")))
		return 0;
	return chmod(path, (st->st_mode & 07777) | 04);
}

/*
 * DIR/PHP_ROOT and each directory on the way to it: real directories
 * (lstat: no link the upload holds is followed), o+x when SEARCH is 1.
 * 0, or -1 when one is not.
 */
static int php_root_dirs(const char *dir, const char *php_root, int search)
{
	struct sl_buf p = SL_BUF_INIT;
	struct stat st;
	const char *c = php_root;
	int ret = 0;

	sl_buf_adds(&p, dir);
	while (*c && ret == 0) {
		size_t n = strcspn(c, "/");

		sl_buf_addch(&p, '/');
		sl_buf_add(&p, c, n);
		c += n + (c[n] == '/');
		if (lstat(p.buf, &st) < 0 || !S_ISDIR(st.st_mode) ||
		    (search && chmod(p.buf, (st.st_mode & 07777) | 01) < 0))
			ret = -1;
	}
	sl_buf_release(&p);
	return ret;
}

/*
 * The instance is root's and its app's group's; other apps read none of
 * it. static/ is public (nginx serves it), so it and the way to it stay
 * open to all; so do a php_root's files, which nginx serves too, but its
 * .php files (PHP_ROOT NULL for none).
 */
static int instance_modes(const struct sl_say *s, const char *dir, const char *run, gid_t gid,
			  const char *php_root)
{
	struct sl_buf st = SL_BUF_INIT;
	struct stat sb;
	int ret = -1;

	if (group_tree(s, dir, 0, gid) < 0 || group_tree(s, run, 0, gid) < 0)
		goto out;
	if (chmod(dir, 0751) < 0)
		goto out;
	sl_buf_addf(&st, "%s/static", dir);
	if (lstat(st.buf, &sb) == 0 && S_ISDIR(sb.st_mode) &&
	    nftw(st.buf, public_read, 16, FTW_PHYS) != 0)
		goto out;
	if (php_root) {
		sl_buf_reset(&st);
		sl_buf_addf(&st, "%s/%s", dir, php_root);
		if (php_root_dirs(dir, php_root, 1) < 0 ||
		    nftw(st.buf, php_public, 16, FTW_PHYS) != 0)
			goto out;
	}
	ret = 0;
out:
	sl_buf_release(&st);
	return ret;
}

/* DIR/NAME made root's log (prepare.h). */
int sl_prepare_root_log(const struct sl_say *s, const char *dir, const char *name, gid_t gid)
{
	struct sl_buf f = SL_BUF_INIT, t = SL_BUF_INIT;
	struct stat st;
	int fd = -1, ret = -1;

	sl_buf_addf(&f, "%s/%s", dir, name);
	if (lstat(f.buf, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    st.st_nlink != 1) {
		if (lstat(f.buf, &st) == 0)
			sl_say(s, "%s was not root's own file: replaced", f.buf);
		sl_buf_addf(&t, "%s/.%s.XXXXXX", dir, name);
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
		sl_say(s, "unable to make the log %s: %s", f.buf, strerror(errno));
	if (fd >= 0)
		close(fd);
	sl_buf_release(&f);
	sl_buf_release(&t);
	return ret;
}

/*
 * LOGS/apps/APP, the app's SILVER_LOGS, and in it app.log, where uWSGI
 * or php-fpm, as root, sends the app's log, and for a PHP app (PHP 1)
 * slow.log, where php-fpm's master, as root, writes its slow log. The
 * directory is root's, sticky, and the app's group writes in it: the app
 * makes files of its own there, and cannot remove, rename or replace
 * root's logs (sl_prepare_root_log()).
 */
static int app_log(const struct sl_say *s, const char *app, gid_t gid, int php)
{
	struct sl_buf d = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	int ret = -1;

	sl_buf_addf(&d, "%s/apps/%s", sl_node_logs(), app);
	if (sl_file_mkdirs(d.buf, 0755, &err) < 0 || lchown(d.buf, 0, gid) < 0 ||
	    chmod(d.buf, 01770) < 0)
		sl_say(s, "unable to make the log %s: %s", d.buf,
		       err.code ? err.msg.buf : strerror(errno));
	else if (sl_prepare_root_log(s, d.buf, "app.log", gid) == 0 &&
		 (!php || sl_prepare_root_log(s, d.buf, "slow.log", gid) == 0))
		ret = 0;
	sl_err_release(&err);
	sl_buf_release(&d);
	return ret;
}

void sl_prepare_log_tail(const struct sl_say *s, const char *app)
{
	struct sl_buf user = SL_BUF_INIT, log = SL_BUF_INIT, text = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;

	if (sl_appuser_get(app, &user, NULL, NULL, &err) == 1) {
		sl_buf_addf(&log, "%s/apps/%s/app.log", sl_node_logs(), app);
		sl_say_capture(&text, (char *[]){ "runuser", "-u", user.buf, "--",
			"tail", "-n", "20", log.buf, NULL });
		sl_say_text(s, text.buf, text.len);
	}
	sl_err_release(&err);
	sl_buf_release(&user);
	sl_buf_release(&log);
	sl_buf_release(&text);
}

/* The last 20 lines of TEXT, told. */
static void tail_text(const struct sl_say *s, const struct sl_buf *text)
{
	const char *p = text->buf + text->len;
	int lines = 0;

	while (p > text->buf && lines <= 20)
		if (*--p == '\n' && p + 1 < text->buf + text->len)
			lines++;
	if (lines > 20)
		p++;
	sl_say_text(s, p, strlen(p));
}

/* What a PHP app's instances run on: php-fpm, and the php CLI for its scripts. */
static char *const php_packages[] = { PHP_PACKAGES, NULL };

/*
 * The packages of A that are not installed, installed (a PHP app's
 * php_packages first). 0, an exit code (told), or -1 with ERR.
 */
static int install_packages(const struct sl_say *s, const struct sl_app *a, const char *run,
			    struct sl_err *err)
{
	struct sl_strv missing = SL_STRV_INIT, argv = SL_STRV_INIT, want = SL_STRV_INIT;
	struct sl_buf out = SL_BUF_INIT, names = SL_BUF_INIT, log = SL_BUF_INIT;
	int rc = 0;

	if (a->platform == SL_PLATFORM_PHP)
		sl_strv_pushv(&want, (char **)php_packages);
	for (size_t i = 0; i < a->packages.n; i++)
		sl_strv_push(&want, a->packages.v[i]);
	for (size_t i = 0; i < want.n; i++) {
		sl_buf_reset(&out);
		sl_say_capture(&out, (char *[]){ "dpkg-query", "-W", "-f=${db:Status-Status}",
			want.v[i], NULL });
		if (strcmp(out.buf, "installed")) {
			sl_strv_push(&missing, want.v[i]);
			sl_buf_addf(&names, "%s%s", names.len ? " " : "", want.v[i]);
		}
	}
	if (!missing.n)
		goto out;
	sl_say(s, "installing %s", names.buf);
	sl_buf_reset(&out);
	rc = sl_say_merged(&out, (char *[]){ "apt-get", "update", "-q", NULL });
	if (rc == 0) {
		sl_strv_pushv(&argv, (char *[]){ "apt-get", "install", "-y", "-q",
			"--no-install-recommends", NULL });
		sl_strv_pushv(&argv, missing.v);
		rc = sl_say_merged(&out, argv.v);
	}
	sl_buf_addf(&log, "%s/apt.log", run);
	if (sl_file_write(log.buf, out.buf, out.len, 0640, SL_FILE_REPLACE, err) < 0)
		rc = -1;
	else if (rc != 0) {
		tail_text(s, &out);
		rc = SL_EXIT_TEMP;
	}
out:
	sl_strv_clear(&want);
	sl_strv_clear(&missing);
	sl_strv_clear(&argv);
	sl_buf_release(&out);
	sl_buf_release(&names);
	sl_buf_release(&log);
	return rc;
}

/*
 * Debian's own php8.2-fpm.service (one master for all, started when the
 * package is installed) disabled and stopped: each PHP instance runs its
 * own master under silverlining-instance@. 0, or 111 (told).
 */
static int php_service_off(const struct sl_say *s, const struct sl_app *a)
{
	if (a->platform != SL_PLATFORM_PHP)
		return 0;
	if (SL_SAY_RUN(s, SL_RUN_NULL, SL_RUN_NULL, "systemctl", "is-enabled", "-q",
		       PHP_SERVICE) != 0 &&
	    SL_SAY_RUN(s, SL_RUN_NULL, SL_RUN_NULL, "systemctl", "is-active", "-q",
		       PHP_SERVICE) != 0)
		return 0;
	sl_say(s, "disabling and stopping %s: each PHP instance runs its own php-fpm", PHP_SERVICE);
	if (SL_SAY_RUN(s, SL_RUN_INHERIT, SL_RUN_INHERIT, "systemctl", "disable", "--now", "-q",
		       PHP_SERVICE) != 0) {
		sl_say(s, "%s could not be disabled and stopped", PHP_SERVICE);
		return SL_EXIT_TEMP;
	}
	return 0;
}

/* The services of A set up for APP (and cleared with --clear). */
static int setup_services(const struct sl_say *s, const struct sl_app *a, const char *app,
			  int clear)
{
	struct sl_buf exe = SL_BUF_INIT;
	int rc = 0;

	for (size_t i = 0; i < a->nservices && !rc; i++) {
		const char *name = a->services[i].name;
		char *found;

		sl_buf_reset(&exe);
		sl_buf_addf(&exe, "sl-service-%s", name);
		found = sl_run_which(exe.buf, NULL);
		if (!found) {
			sl_say(s, "unknown service '%s'", name);
			rc = SL_EXIT_USAGE;
			break;
		}
		free(found);
		/* the value of service.NAME reaches setup as it reaches env */
		setenv("SL_SERVICE_VALUE", a->services[i].value ? a->services[i].value : "", 1);
		rc = SL_SAY_RUN(s, SL_RUN_INHERIT, SL_RUN_INHERIT, exe.buf, "install");
		if (rc == 0)
			rc = SL_SAY_RUN(s, SL_RUN_INHERIT, SL_RUN_INHERIT, exe.buf, "setup", (char *)app);
		if (rc) {
			sl_say(s, "service.%s could not be set up for %s", name, app);
			break;
		}
		if (clear) {
			rc = SL_SAY_RUN(s, SL_RUN_INHERIT, SL_RUN_INHERIT, exe.buf, "clear", (char *)app);
			if (rc == 0)
				sl_say(s, "cleared service.%s of %s", name, app);
		}
	}
	unsetenv("SL_SERVICE_VALUE");
	sl_buf_release(&exe);
	return rc;
}

/*
 * The deployment config of INST, ROOT/configs/INST: its own (sl-sync
 * --config), else a linked copy of the one serving ROUTE now, else of the
 * app's newest. It is root's and the app's group's alone.
 */
/* The newest config of APP in DIR (ROOT/configs), its path into FROM; none: FROM kept empty. */
static void newest_config(const char *dir, const char *app, struct sl_buf *from)
{
	struct sl_buf newest = SL_BUF_INIT;
	size_t alen = strlen(app);
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, app, alen) && e->d_name[alen] == '.' &&
		    e->d_type == DT_DIR && strcmp(e->d_name, newest.buf) > 0) {
			sl_buf_reset(&newest);
			sl_buf_adds(&newest, e->d_name);
		}
	closedir(d);
	if (newest.len)
		sl_buf_addf(from, "%s/%s", dir, newest.buf);
	sl_buf_release(&newest);
}

static int give_config(const struct sl_say *s, const char *inst, const char *app, gid_t gid,
		       const struct sl_location *route, struct sl_err *fatal)
{
	struct sl_buf cfg = SL_BUF_INIT, from = SL_BUF_INIT, dir = SL_BUF_INIT;
	struct sl_buf copy = SL_BUF_INIT, cur_app = SL_BUF_INIT;
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct stat st;
	int rc = SL_EXIT_TEMP;

	sl_node_instance_path(&cfg, "configs", inst);
	if (stat(cfg.buf, &st) < 0 || !S_ISDIR(st.st_mode)) {
		const char *cur;

		if (sl_switch_load(&r, fatal) < 0) {
			rc = -1;
			goto out;
		}
		cur = sl_routes_get(&r, route->host, route->path);
		if (cur) {
			sl_node_app_of(cur, &cur_app);
			sl_node_instance_path(&from, "configs", cur);
			/* another app's config is never taken (update --name onto its location) */
			if (strcmp(cur_app.buf, app) || stat(from.buf, &st) < 0 || !S_ISDIR(st.st_mode))
				sl_buf_reset(&from);
		}
		sl_node_path(&dir, "configs");
		if (!from.len)
			newest_config(dir.buf, app, &from);
		if (!from.len) {
			rc = 0;
			goto out;
		}
		sl_buf_addf(&copy, "%s/.copy-%s", dir.buf, inst);
		if (sl_file_remove_tree(AT_FDCWD, copy.buf, &err) < 0) {
			sl_say(s, "%s", err.msg.buf);
			goto out;
		}
		if (SL_SAY_RUN(s, SL_RUN_INHERIT, SL_RUN_INHERIT, "cp", "-al", "--", from.buf, copy.buf) != 0)
			goto out;
		if (rename(copy.buf, cfg.buf) < 0) {
			sl_say(s, "unable to make %s: %s", cfg.buf, strerror(errno));
			goto out;
		}
		sl_say(s, "%s uses the config of %s", inst, strrchr(from.buf, '/') + 1);
	}
	if (group_tree(s, cfg.buf, (uid_t)-1, gid) < 0)
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
	return rc;
}

/* The app's user, made when missing; its ids. */
static int make_user(const struct sl_say *s, const char *app, struct sl_buf *user, uid_t *uid, gid_t *gid)
{
	struct sl_buf gecos = SL_BUF_INIT, home = SL_BUF_INIT;
	int rc = sl_prepare_user(s, app, user, uid, gid);

	if (rc != 0)
		return rc < 0 ? -rc : 0;
	/* the user's GECOS records its app: sl_appuser_get refuses a user
	 * that another app owns (a long name's hash is never trusted alone) */
	sl_buf_addf(&gecos, SL_APPUSER_GECOS "%s", app);
	sl_node_path(&home, "instances");
	if (SL_SAY_RUN(s, SL_RUN_INHERIT, SL_RUN_INHERIT, "adduser", "--quiet", "--system", "--group",
		"--no-create-home", "--home", home.buf, "--gecos", gecos.buf,
		"--shell", "/usr/sbin/nologin", user->buf) != 0 ||
	    sl_prepare_user(s, app, user, uid, gid) != 1)
		rc = SL_EXIT_TEMP;
	sl_buf_release(&gecos);
	sl_buf_release(&home);
	return rc;
}

/* ROOT/NAME, made with MODE when missing, and given MODE. */
static int node_dir(const struct sl_say *s, const char *name, mode_t mode)
{
	struct sl_buf p = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	int ret = 0;

	if (*name == '/')
		sl_buf_adds(&p, name);
	else
		sl_node_path(&p, name);
	if (sl_file_mkdirs(p.buf, mode, &err) < 0 || chmod(p.buf, mode) < 0) {
		sl_say(s, "unable to make %s: %s", p.buf, err.code ? err.msg.buf : strerror(errno));
		ret = -1;
	}
	sl_err_release(&err);
	sl_buf_release(&p);
	return ret;
}

/* Each instance its own TEMP, empty at its start; the serving one keeps its own. */
static int instance_temp(const struct sl_say *s, const char *inst, uid_t uid, gid_t gid)
{
	struct sl_buf t = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	int ret = -1;

	sl_node_instance_path(&t, "tmp", inst);
	if (!sl_unit_active(s, inst) && sl_file_remove_tree(AT_FDCWD, t.buf, &err) < 0)
		goto out;
	if ((mkdir(t.buf, 0700) < 0 && errno != EEXIST) || lchown(t.buf, uid, gid) < 0 ||
	    chmod(t.buf, 0700) < 0) {
		sl_err_errno(&err, "unable to make %s", t.buf);
		goto out;
	}
	ret = 0;
out:
	if (ret < 0)
		sl_say(s, "%s", err.msg.buf);
	sl_err_release(&err);
	sl_buf_release(&t);
	return ret;
}

/* The environment must come whole: said here, in sl-env's words, not by a unit that failed. */
static int check_env(const struct sl_say *s, const char *user, const char *dir)
{
	struct sl_buf said = SL_BUF_INIT;
	int rc = sl_say_merged(&said, (char *[]){ "runuser", "-u", (char *)user, "--",
		"sl-env", "--node", (char *)dir, "true", NULL });

	if (rc)
		sl_say_text(s, said.buf, said.len);
	sl_buf_release(&said);
	return rc;
}

/* TEXT written to RUN/NAME, world-readable. */
static int put(const char *run, const char *name, const struct sl_buf *text, struct sl_err *err)
{
	struct sl_buf p = SL_BUF_INIT;
	int ret;

	sl_buf_addf(&p, "%s/%s", run, name);
	ret = sl_file_write(p.buf, text->buf, text->len, 0644, SL_FILE_REPLACE, err);
	sl_buf_release(&p);
	return ret;
}

/*
 * run/INST: location, and wsgi.py and uwsgi.ini, or a PHP app's
 * php-fpm.conf; the unit's memory cap. 0, or -1 with ERR.
 */
static int write_runtime(const struct sl_say *s, const char *inst, const struct sl_app *a,
			 const char *user, const char *dir, const char *run, const char *where,
			 struct sl_err *err)
{
	struct sl_buf text = SL_BUF_INIT, wsgi = SL_BUF_INIT;
	struct sl_buf sock = SL_BUF_INIT, log = SL_BUF_INIT, prop = SL_BUF_INIT;
	struct sl_buf u = SL_BUF_INIT, app = SL_BUF_INIT;
	int ret = -1;

	sl_node_app_of(inst, &app);
	sl_buf_addf(&text, "%s\n", where);
	if (put(run, "location", &text, err) < 0)
		goto out;
	sl_buf_addf(&sock, "%s/%s.sock", sl_node_sockets(), inst);
	sl_buf_addf(&log, "%s/apps/%s/app.log", sl_node_logs(), app.buf);
	sl_buf_reset(&text);
	if (a->platform == SL_PLATFORM_PHP) {
		struct sl_buf slow = SL_BUF_INIT, temp = SL_BUF_INIT, areas = SL_BUF_INIT;

		sl_buf_addf(&slow, "%s/apps/%s/slow.log", sl_node_logs(), app.buf);
		sl_node_instance_path(&temp, "tmp", inst);
		sl_buf_addf(&areas, "%s/apps/%s", sl_node_root(), app.buf);
		sl_render_phpfpm(&(struct sl_render_phpfpm){
			.instance = inst, .user = user, .dir = dir, .socket = sock.buf,
			.log = log.buf, .slowlog = slow.buf, .temp = temp.buf,
			.areas = areas.buf, .processes = (int)a->processes,
			.timeout = (int)a->timeout, .memory_limit = (int)a->memory_limit,
		}, &text);
		sl_buf_release(&slow);
		sl_buf_release(&temp);
		sl_buf_release(&areas);
		if (put(run, "php-fpm.conf", &text, err) < 0)
			goto out;
	} else {
		sl_render_wsgi(dir, a->runner, &text);
		sl_buf_addf(&wsgi, "%s/wsgi.py", run);
		if (put(run, "wsgi.py", &text, err) < 0)
			goto out;
		sl_buf_reset(&text);
		sl_render_uwsgi(&(struct sl_render_uwsgi){
			.instance = inst, .user = user, .dir = dir, .socket = sock.buf,
			.pythonpath = SHARE "/python", .wsgi_file = wsgi.buf, .log = log.buf,
			.processes = (int)a->processes, .threads = (int)a->threads,
			.timeout = (int)a->timeout, .memory_limit = (int)a->memory_limit,
			.idle = (int)a->idle_timeout,
		}, &text);
		if (put(run, "uwsgi.ini", &text, err) < 0)
			goto out;
	}
	/* the whole instance is capped; one worker recycled for memory is not the end of it */
	sl_buf_addf(&prop, "MemoryMax=%ldM", a->processes * a->memory_limit * 2 + 64);
	sl_unit_name(&u, inst);
	SL_SAY_RUN(s, SL_RUN_NULL, SL_RUN_NULL, "systemctl", "set-property", u.buf, prop.buf);
	ret = 0;
out:
	sl_buf_release(&text);
	sl_buf_release(&wsgi);
	sl_buf_release(&sock);
	sl_buf_release(&log);
	sl_buf_release(&prop);
	sl_buf_release(&u);
	sl_buf_release(&app);
	return ret;
}

/* Loads INST's app.ini into A: 0, or 100 (told). */
static int load_app(const struct sl_say *s, const char *inst, const char *dir, struct sl_app *a)
{
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf runner = SL_BUF_INIT;
	struct stat st;
	int rc = 0;

	if (sl_app_load(a, dir, &err) < 0) {
		for (size_t i = 0; i < a->warnings.n; i++)
			sl_say(s, "warning: %s", a->warnings.v[i]);
		sl_say(s, "%s", err.msg.buf);
		rc = SL_EXIT_USAGE;
	} else if (a->platform == SL_PLATFORM_PHP && !a->runner == !a->php_root) {
		sl_say(s, "%s: a php app's app.ini names a runner or a php_root, one of them",
		       inst);
		rc = SL_EXIT_USAGE;
	} else if (a->platform == SL_PLATFORM_PHP && a->runner && strchr(a->runner, '#')) {
		sl_say(s, "%s: the runner of a php app is a file, with no #NAME", inst);
		rc = SL_EXIT_USAGE;
	} else if (a->platform == SL_PLATFORM_PHP && a->php_root) {
		if (php_root_dirs(dir, a->php_root, 0) < 0) {
			sl_say(s, "%s: the php_root %s is not a directory of the instance", inst,
			       a->php_root);
			rc = SL_EXIT_USAGE;
		}
	} else if (!a->runner) {
		sl_say(s, "%s: app.ini names no runner", inst);
		rc = SL_EXIT_USAGE;
	} else {
		sl_buf_addf(&runner, "%s/", dir);
		sl_buf_add(&runner, a->runner, strcspn(a->runner, "#"));
		if (stat(runner.buf, &st) < 0 || !S_ISREG(st.st_mode)) {
			sl_say(s, "%s: the runner %s is missing", inst, runner.buf + strlen(dir) + 1);
			rc = SL_EXIT_USAGE;
		}
	}
	sl_err_release(&err);
	sl_buf_release(&runner);
	return rc;
}

/* Everything INST needs before it starts: 0, an exit code (told), or -1 with FATAL. */
static int prepare(const struct sl_say *s, int clear, const char *inst, struct sl_app *a,
		   const char *where, const struct sl_location *route, struct sl_err *fatal)
{
	struct sl_buf app = SL_BUF_INIT, user = SL_BUF_INIT, dir = SL_BUF_INIT;
	struct sl_buf run = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	uid_t uid;
	gid_t gid;
	int rc, php;

	sl_node_app_of(inst, &app);
	rc = sl_prepare_user(s, app.buf, &user, NULL, NULL);
	if (rc < 0) {
		rc = -rc;
		goto out;
	}
	sl_node_instance_path(&dir, "instances", inst);
	sl_node_instance_path(&run, "run", inst);
	if (sl_file_mkdirs(run.buf, 0755, &err) < 0) {
		sl_say(s, "%s", err.msg.buf);
		rc = SL_EXIT_TEMP;
		goto out;
	}
	if ((rc = load_app(s, inst, dir.buf, a)) || (rc = sl_jobs_check(s, a)) ||
	    (rc = install_packages(s, a, run.buf, fatal)) ||
	    (rc = php_service_off(s, a)) ||
	    (rc = make_user(s, app.buf, &user, &uid, &gid)) ||
	    (rc = setup_services(s, a, app.buf, clear)))
		goto out;
	rc = SL_EXIT_TEMP;
	php = a->platform == SL_PLATFORM_PHP;
	if (node_dir(s, "secrets", 0755) < 0 || node_dir(s, "tmp", 0755) < 0 ||
	    node_dir(s, sl_node_sockets(), 0755) < 0 || app_log(s, app.buf, gid, php) < 0 ||
	    instance_modes(s, dir.buf, run.buf, gid, php ? a->php_root : NULL) < 0)
		goto out;
	if (sl_node_app_secret(app.buf, uid, gid, &err) < 0) {
		sl_say(s, "%s", err.msg.buf);
		goto out;
	}
	if ((rc = give_config(s, inst, app.buf, gid, route, fatal)) ||
	    (rc = check_env(s, user.buf, dir.buf)))
		goto out;
	rc = SL_EXIT_TEMP;
	if (instance_temp(s, inst, uid, gid) < 0)
		goto out;
	rc = write_runtime(s, inst, a, user.buf, dir.buf, run.buf, where, fatal);
out:
	sl_err_release(&err);
	sl_buf_release(&app);
	sl_buf_release(&user);
	sl_buf_release(&dir);
	sl_buf_release(&run);
	return rc;
}

int sl_prepare_instance(const struct sl_prepare *p, const char *instance, struct sl_app *a,
			const char *where, const struct sl_location *route, struct sl_err *err)
{
	int rc = prepare(&p->say, p->clear, instance, a, where, route, err);

	if (rc > 0)
		sl_err_set(err, rc, "%s was not started; nothing switched", instance);
	return rc ? -1 : 0;
}

/*
 * 1 when INST's uWSGI is up: its unit's main process (the master: the
 * exec chain keeps its PID) has forked a worker, which it does once the
 * app is loaded (need-app); 0 not yet.
 */
static int server_ready(const char *unit)
{
	struct sl_buf pid = SL_BUF_INIT, path = SL_BUF_INIT;
	char c;
	int fd, rc = 0;

	sl_say_capture(&pid, (char *[]){ "systemctl", "show", "-p", "MainPID", "--value",
		(char *)unit, NULL });
	pid.buf[strcspn(pid.buf, "\n")] = 0;
	if (pid.buf[0] && strcmp(pid.buf, "0")) {
		sl_buf_addf(&path, "/proc/%s/task/%s/children", pid.buf, pid.buf);
		fd = open(path.buf, O_RDONLY | O_CLOEXEC);
		rc = fd >= 0 && read(fd, &c, 1) == 1;
		if (fd >= 0)
			close(fd);
	}
	sl_buf_release(&pid);
	sl_buf_release(&path);
	return rc;
}

/*
 * INST started: a Python instance's socket (S_UNIT) enabled and started,
 * then its server too, waited for until its app is loaded; an instance
 * whose socket is already active is left as it is (running or idle: the
 * next connection starts it), so a rollback to it is the switch alone. A
 * PHP instance's service is enabled and started, waited for until its
 * php-fpm binds its socket. 0, 111, or 100 with the log's tail told.
 */
/*
 * Whether the instance whose uwsgi.ini is at INI is a Python one started by
 * its socket unit. An instance prepared by a package from before socket
 * activation has a uwsgi.ini that binds its own socket (http-socket): it
 * is started by its service alone, as then, and runs until it is retired
 * (a redeploy prepares a new instance the new way).
 */
static int socket_activated(const char *ini)
{
	struct sl_buf text = SL_BUF_INIT;
	int r = sl_buf_read_file(&text, ini) == 0 && !strstr(text.buf, "\nhttp-socket = ");

	sl_buf_release(&text);
	return r;
}

static int start(const struct sl_say *s, const char *inst)
{
	struct sl_buf u = SL_BUF_INIT, timer = SL_BUF_INIT, sock = SL_BUF_INIT, app = SL_BUF_INIT;
	struct sl_buf k = SL_BUF_INIT, ini = SL_BUF_INIT;
	struct timespec nap = { 0, 100 * 1000 * 1000 };
	struct stat st;
	int rc = 0, python;

	sl_unit_name(&u, inst);
	sl_unit_socket_name(&k, inst);
	sl_node_instance_path(&ini, "run", inst);
	sl_buf_adds(&ini, "/uwsgi.ini");
	python = socket_activated(ini.buf);
	sl_buf_addf(&timer, "silverlining-drain-%s.timer", inst);
	SL_SAY_RUN(s, SL_RUN_NULL, SL_RUN_NULL, "systemctl", "stop", timer.buf);	/* it serves again */
	if (node_dir(s, sl_node_sockets(), 0755) < 0)
		return SL_EXIT_TEMP;
	/* enabling reloads systemd's configuration: only when it is needed (a
	 * rollback to a running instance must stay well under a second) */
	if (SL_SAY_RUN(s, SL_RUN_NULL, SL_RUN_NULL, "systemctl", "is-enabled", "-q",
		       python ? k.buf : u.buf) != 0 &&
	    SL_SAY_RUN(s, SL_RUN_INHERIT, SL_RUN_INHERIT, "systemctl", "enable", "-q",
		       python ? k.buf : u.buf) != 0) {
		rc = SL_EXIT_TEMP;
		goto out;
	}
	sl_buf_addf(&sock, "%s/%s.sock", sl_node_sockets(), inst);
	if (python ? sl_unit_socket_active(s, inst) :
	    sl_unit_server_active(s, inst) && lstat(sock.buf, &st) == 0 && S_ISSOCK(st.st_mode))
		goto out;
	unlink(sock.buf);	/* a server's or a socket unit's left behind */
	if ((python && SL_SAY_RUN(s, SL_RUN_INHERIT, SL_RUN_INHERIT, "systemctl", "start",
				  k.buf) != 0) ||
	    SL_SAY_RUN(s, SL_RUN_INHERIT, SL_RUN_INHERIT, "systemctl", "start", u.buf) != 0) {
		rc = SL_EXIT_TEMP;
		goto out;
	}
	for (int i = 0; i < 300; i++) {
		if (python ? server_ready(u.buf) : lstat(sock.buf, &st) == 0 && S_ISSOCK(st.st_mode))
			goto out;
		if (!sl_unit_server_active(s, inst))
			break;
		nanosleep(&nap, NULL);
	}
	sl_say(s, "%s did not start; its log says:", inst);
	sl_node_app_of(inst, &app);
	sl_prepare_log_tail(s, app.buf);
	rc = SL_EXIT_USAGE;
out:
	sl_buf_release(&u);
	sl_buf_release(&k);
	sl_buf_release(&ini);
	sl_buf_release(&timer);
	sl_buf_release(&sock);
	sl_buf_release(&app);
	return rc;
}

int sl_prepare_start(const struct sl_say *s, const char *instance, struct sl_err *err)
{
	int rc = start(s, instance);

	if (rc)
		return sl_err_set(err, rc, "%s did not start", instance);
	return 0;
}

/* run/INSTANCE/prepared */
