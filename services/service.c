/* silverlining — what every sl-service-NAME executable shares. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../libsl/app.h"
#include "../libsl/buf.h"
#include "../libsl/file.h"
#include "../libsl/mem.h"
#include "../libsl/msg.h"
#include "../libsl/version.h"
#include "service.h"

static void usage(FILE *f, const char *prog)
{
	fprintf(f, "%s%s install | setup APP | env [--devel] APP | "
		"backup APP DIR | restore APP DIR | clear APP\n",
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
		sl_die(SL_EXIT_USAGE,
		       "env %s: the node's records are not implemented on this side yet (env --devel APP works)",
		       argv[2]);
	}
	if (!strcmp(verb, "install"))
		nargs = 0;
	else if (!strcmp(verb, "setup") || !strcmp(verb, "clear"))
		nargs = 1;
	else if (!strcmp(verb, "backup") || !strcmp(verb, "restore"))
		nargs = 2;
	else
		die_usage(prog);
	if (argc != 2 + nargs)
		die_usage(prog);
	if (nargs)
		app_arg(argv[2]);
	sl_die(SL_EXIT_USAGE, "%s: not implemented on this side yet", verb);
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
