/* silverlining — what every sl-service-NAME executable shares. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "appuser.h"
#include "buf.h"
#include "file.h"
#include "instance.h"
#include "run.h"
#include "mem.h"
#include "msg.h"
#include "version.h"
#include "service.h"

static void usage(FILE *f, const char *prog)
{
	fprintf(f, "%s%s install | setup APP | env [--devel] APP | "
		"backup APP DIR | check APP DIR | restore APP DIR | verify APP DIR | clear APP\n",
		f == stderr ? "" : "usage: ", prog);
}

_Noreturn static void die_usage(const char *prog)
{
	fprintf(stderr, "%s: usage: ", prog);
	usage(stderr, prog);
	exit(SL_EXIT_USAGE);
}

static const char *app_arg(const char *app)
{
	if (!sl_app_name_valid(app))
		sl_die(SL_EXIT_USAGE,
		       "invalid app name '%s': want a lowercase letter, then up to 30 lowercase letters, digits or dashes",
		       app);
	return app;
}

static int devel_env(const struct sl_service *svc, const char *app)
{
	struct sl_devconf dc = SL_DEVCONF_INIT;
	struct sl_strv vars = SL_STRV_INIT;
	struct sl_err err = SL_ERR_INIT;
	char *subst = svc->db_names ? sl_app_db_name(app) : sl_xstrdup(app);

	if (sl_devconf_load(&dc, app, subst, svc->devel_prefix,
			    svc->devel_keys, &err) < 0)
		sl_die_err(&err);
	free(subst);
	for (size_t i = 0; i < dc.warnings.n; i++)
		sl_warn("%s", dc.warnings.v[i]);
	if (svc->devel_env(app, &dc, &vars, &err) < 0)
		sl_die_err(&err);
	for (size_t i = 0; i < vars.n; i++) {
		if (strchr(vars.v[i], '\n'))
			sl_die(SL_EXIT_USAGE, "%.*s: a value cannot hold a newline",
			       (int)strcspn(vars.v[i], "="), vars.v[i]);
		printf("%s\n", vars.v[i]);
	}
	sl_strv_clear(&vars);
	sl_devconf_release(&dc);
	sl_exit_flush();
}

static int node_verb(const struct sl_service *svc, const char *verb,
		     const char *app, const char *dir)
{
	struct sl_err err = SL_ERR_INIT;
	struct sl_strv vars = SL_STRV_INIT;
	struct sl_service_app a = { 0 };
	struct sl_buf data = SL_BUF_INIT;
	int (*fn)(const struct sl_service_app *, const char *, struct sl_err *) = NULL;
	int ret;

	umask(022);	/* what the node's records are made with, whatever the shell's */
	if (!strcmp(verb, "install")) {
		if (!svc->install)
			sl_die(SL_EXIT_USAGE, "%s: not implemented on this side yet", verb);
		if (geteuid())
			sl_die(SL_EXIT_USAGE, "%s runs as root on a node", verb);
		if (svc->install(&err) < 0)
			sl_die_err(&err);
		sl_exit_flush();
	}
	a.name = app;
	a.dbname = sl_app_db_name(app);
	if (sl_appuser_get(app, &data, &a.uid, &a.gid, &err) < 0)
		sl_die_err(&err);
	a.user = sl_buf_detach(&data, NULL);
	sl_buf_addf(&data, "%s/apps/%s", sl_instance_root(), app);
	a.data = sl_buf_detach(&data, NULL);
	if (!strcmp(verb, "env")) {
		if (!svc->env)
			sl_die(SL_EXIT_USAGE, "env %s: the node's records are not implemented on this side yet (env --devel APP works)", app);
		if (svc->env(&a, &vars, &err) < 0)
			sl_die_err(&err);
		for (size_t i = 0; i < vars.n; i++)
			printf("%s\n", vars.v[i]);
		sl_exit_flush();
	}
	if (geteuid())
		sl_die(SL_EXIT_USAGE, "%s runs as root on a node", verb);
	if (!strcmp(verb, "setup") || !strcmp(verb, "clear")) {
		int (*fn1)(const struct sl_service_app *, struct sl_err *) =
			!strcmp(verb, "setup") ? svc->setup : svc->clear;

		if (!fn1)
			sl_die(SL_EXIT_USAGE, "%s: not implemented on this side yet", verb);
		if (a.uid == (uid_t)-1)
			sl_die(SL_EXIT_USAGE, "%s has no user %s on this node yet (sl-activate makes it)",
			       app, a.user);
		ret = fn1(&a, &err);
	} else if (!strcmp(verb, "verify")) {
		if (!svc->verify)
			sl_die(SL_EXIT_USAGE, "%s: not implemented on this side yet", verb);
		if (a.uid == (uid_t)-1)
			sl_die(SL_EXIT_USAGE, "%s has no user %s on this node yet (sl-activate makes it)",
			       app, a.user);
		ret = svc->verify(&a, dir, &vars, &err);
		for (size_t i = 0; ret == 0 && i < vars.n; i++)
			printf("%s\n", vars.v[i]);
	} else {
		fn = !strcmp(verb, "backup") ? svc->backup :
			!strcmp(verb, "check") ? svc->check : svc->restore;
		if (!fn)
			sl_die(SL_EXIT_USAGE, "%s: not implemented on this side yet", verb);
		if (a.uid == (uid_t)-1)
			sl_die(SL_EXIT_USAGE, "%s has no user %s on this node yet (sl-activate makes it)",
			       app, a.user);
		ret = fn(&a, dir, &err);
	}
	if (ret < 0)
		sl_die_err(&err);
	sl_exit_flush();
}

int sl_service_main(int argc, char **argv, const struct sl_service *svc)
{
	const char *prog, *verb;
	int nargs;

	sl_msg_init(argv[0]);
	prog = sl_msg_prog();
	if (argc < 2)
		die_usage(prog);
	verb = argv[1];
	if (!strcmp(verb, "--help") || !strcmp(verb, "-h")) {
		usage(stdout, prog);
		sl_exit_flush();
	}
	if (!strcmp(verb, "--version")) {
		printf("%s %s\n", prog, SL_VERSION);
		sl_exit_flush();
	}
	if (!strcmp(verb, "env")) {
		int devel = argc > 2 && !strcmp(argv[2], "--devel");

		if (argc != 3 + devel)
			die_usage(prog);
		app_arg(argv[2 + devel]);
		if (devel)
			return devel_env(svc, argv[3]);
		return node_verb(svc, verb, argv[2], NULL);
	}
	if (!strcmp(verb, "install"))
		nargs = 0;
	else if (!strcmp(verb, "setup") || !strcmp(verb, "clear"))
		nargs = 1;
	else if (!strcmp(verb, "backup") || !strcmp(verb, "restore") || !strcmp(verb, "check") ||
		 !strcmp(verb, "verify"))
		nargs = 2;
	else
		die_usage(prog);
	if (argc != 2 + nargs)
		die_usage(prog);
	if (nargs)
		app_arg(argv[2]);
	return node_verb(svc, verb, nargs ? argv[2] : NULL, nargs == 2 ? argv[3] : NULL);
}

const char *sl_service_login(void)
{
	struct passwd *pw = getpwuid(geteuid());
	const char *user = getenv("USER");

	if (pw && pw->pw_name)
		return pw->pw_name;
	return user && *user ? user : "root";
}

int sl_service_devel_dir(const char *app, const struct sl_devconf *dc,
			 const char *subdir, const char *name, mode_t mode,
			 struct sl_strv *vars, struct sl_err *err)
{
	const char *set = sl_devconf_get(dc, "dir");
	const char *home = sl_file_home();
	struct sl_buf path = SL_BUF_INIT, real = SL_BUF_INIT;
	int ret = -1;

	if (set && *set == '/') {
		sl_buf_adds(&path, set);
	} else if (set && *set && !(set[0] == '~' && (set[1] == '/' || !set[1]))) {
		unsigned line = 0;

		for (size_t i = 0; i < dc->n; i++)
			if (!strcmp(dc->v[i].key, "dir"))
				line = dc->v[i].line;
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s:%u: '%s' is not an absolute path or one under ~/",
				  dc->path, line, set);
	} else if (!home) {
		return sl_err_set(err, SL_EXIT_USAGE, "no home directory (set HOME)");
	} else if (set && *set) {
		sl_buf_addf(&path, "%s%s", home, set + 1);
	} else {
		sl_buf_addf(&path, "%s/.silverlining", home);
		if (sl_file_mkdirs(path.buf, 0700, err) < 0)
			goto out;
		sl_buf_addf(&path, "/%s/%s", subdir, app);
	}
	if (sl_file_mkdirs(path.buf, mode, err) < 0 ||
	    sl_file_realpath(&real, path.buf, err) < 0)
		goto out;
	sl_strv_pushf(vars, "%s=%s", name, real.buf);
	ret = 0;
out:
	sl_buf_release(&path);
	sl_buf_release(&real);
	return ret;
}

int sl_service_run(char *const *argv, const char *as, int in, int out,
		   const char *what, struct sl_err *err)
{
	struct sl_strv v = SL_STRV_INIT;
	struct sl_child c = SL_CHILD_INIT;
	int code;

	if (as) {
		sl_strv_push(&v, "runuser");
		sl_strv_push(&v, "-u");
		sl_strv_push(&v, as);
		sl_strv_push(&v, "--");
	}
	sl_strv_pushv(&v, argv);
	c.argv = v.v;
	c.in = in;
	c.out = out;
	c.dir = "/";	/* a user switched to may not enter the caller's directory */
	code = sl_run(&c, err);
	sl_strv_clear(&v);
	if (code < 0)
		return -1;
	if (code)
		return sl_err_set(err, code >= SL_EXIT_USAGE ? code : SL_EXIT_TEMP,
				  "%s failed (exit status %d)", what, code);
	return 0;
}

int sl_service_apt(const char *const *pkgs, struct sl_err *err)
{
	struct sl_strv argv = SL_STRV_INIT;
	int missing = 0, ret;

	sl_strv_push(&argv, "apt-get");
	sl_strv_push(&argv, "install");
	sl_strv_push(&argv, "-y");
	sl_strv_push(&argv, "-q");
	sl_strv_push(&argv, "--no-install-recommends");
	for (; *pkgs; pkgs++) {
		char *check[] = { "dpkg-query", "-W", "-f", "${db:Status-Status}", (char *)*pkgs, NULL };
		struct sl_child c = SL_CHILD_INIT;
		struct sl_buf out = SL_BUF_INIT;

		c.argv = check;
		c.err = SL_RUN_NULL;
		if (sl_run_capture(&c, &out, NULL) != 0 || strcmp(out.buf, "installed")) {
			sl_strv_push(&argv, *pkgs);
			missing = 1;
		}
		sl_buf_release(&out);
	}
	if (!missing) {
		sl_strv_clear(&argv);
		return 0;
	}
	setenv("DEBIAN_FRONTEND", "noninteractive", 1);
	{
		char *update[] = { "apt-get", "update", "-q", NULL };

		ret = sl_service_run(update, NULL, SL_RUN_NULL, 2, "apt-get update", err);
	}
	if (!ret)
		ret = sl_service_run(argv.v, NULL, SL_RUN_NULL, 2, "apt-get install", err);
	sl_strv_clear(&argv);
	return ret;
}

int sl_service_start(const char *unit, struct sl_err *err)
{
	char *active[] = { "systemctl", "is-active", "-q", (char *)unit, NULL };
	char *start[] = { "systemctl", "start", (char *)unit, NULL };
	struct sl_child c = SL_CHILD_INIT;

	c.argv = active;
	if (sl_run(&c, NULL) == 0)
		return 0;
	if (sl_service_run(start, NULL, SL_RUN_NULL, 2, unit, err) < 0) {
		sl_err_prefix(err, "the server did not start");
		err->code = SL_EXIT_TEMP;
		return -1;
	}
	return 0;
}

int sl_service_secret(const struct sl_service_app *a, const char *path,
		      struct sl_buf *out, struct sl_err *err)
{
	unsigned char raw[32];
	char hex[65];
	int made = 0;

	if (sl_buf_read_file(out, path) == 0 && out->len) {
		sl_buf_rtrim(out);
		return 0;
	}
	if (errno != ENOENT && out->len == 0 && access(path, F_OK) == 0)
		return sl_err_errno(err, "unable to read %s", path);
	if (sl_file_mkdirs(a->data, 0755, err) < 0)
		return -1;
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return sl_err_errno(err, "unable to get random bytes");
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	if (sl_file_write(path, hex, 64, 0640, SL_FILE_REPLACE, err) < 0 ||
	    chown(path, 0, a->gid) < 0)
		return err && err->code ? -1 : sl_err_errno(err, "unable to give %s to %s", path, a->user);
	made = 1;
	sl_buf_reset(out);
	sl_buf_add(out, hex, 64);
	return made;
}

int sl_service_dump(char *const *argv, const char *as, const char *dir,
		    const char *file, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT;
	int fd, ret = -1;

	sl_buf_addf(&path, "%s/%s", dir, file);
	if (sl_file_mkdirs(dir, 0700, err) < 0)
		goto out;
	fd = open(path.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		sl_err_errno(err, "unable to write %s", path.buf);
		goto out;
	}
	ret = sl_service_run(argv, as, SL_RUN_NULL, fd, argv[0], err);
	if (close(fd) < 0 && !ret)
		ret = sl_err_errno(err, "unable to write %s", path.buf);
out:
	sl_buf_release(&path);
	return ret;
}

int sl_service_load(char *const *argv, const char *as, const char *dir,
		    const char *file, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT;
	int fd, ret = -1;

	sl_buf_addf(&path, "%s/%s", dir, file);
	fd = open(path.buf, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		sl_err_errno(err, "unable to read %s", path.buf);
	} else {
		ret = sl_service_run(argv, as, fd, SL_RUN_INHERIT, argv[0], err);
		close(fd);
	}
	sl_buf_release(&path);
	return ret;
}

int sl_service_private_file(const struct sl_service_app *a, const char *text,
			    struct sl_buf *path, struct sl_err *err)
{
	char dir[] = "/run/sl-client.XXXXXX";
	size_t len = path->len;
	int fd;

	if (!mkdtemp(dir))
		return sl_err_errno(err, "unable to make a directory in /run");
	sl_buf_addf(path, "%s/client.cnf", dir);
	fd = open(path->buf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || fchown(fd, a->uid, a->gid) < 0 ||
	    sl_file_write_all(fd, text, strlen(text)) < 0 || close(fd) < 0 ||
	    chmod(dir, 0711) < 0) {
		sl_err_errno(err, "unable to write %s", path->buf);
		if (fd >= 0)
			close(fd);
		unlink(path->buf);
		rmdir(dir);
		sl_buf_setlen(path, len);
		return -1;
	}
	return 0;
}

void sl_service_private_file_remove(const char *path)
{
	char *dir = sl_xstrdup(path), *slash = strrchr(dir, '/');

	unlink(path);
	if (slash) {
		*slash = '\0';
		rmdir(dir);
	}
	free(dir);
}

int sl_service_read_secret(const char *path, struct sl_buf *out, struct sl_err *err)
{
	if (sl_buf_read_file(out, path) < 0)
		return sl_err_errno(err, "unable to read %s (set the app up first)", path);
	sl_buf_rtrim(out);
	return 0;
}

int sl_service_open_part(const char *dir, const char *file, struct sl_buf *path,
			 struct sl_err *err)
{
	struct stat st;
	int fd;

	sl_buf_reset(path);
	sl_buf_addf(path, "%s/%s", dir, file);
	fd = open(path->buf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		sl_err_errno(err, "unable to read %s", path->buf);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return sl_err_set(err, SL_EXIT_USAGE, "%s is not a file: refused", path->buf);
	}
	return fd;
}
