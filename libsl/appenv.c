/* silverlining — the environment an app receives. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "appenv.h"
#include "buf.h"
#include "exit.h"
#include "file.h"
#include "instance.h"
#include "mem.h"
#include "run.h"
#include "version.h"

int sl_appenv_config_name_valid(const char *name, size_t len)
{
	if (len <= 7 || strncmp(name, "CONFIG_", 7))
		return 0;
	for (size_t i = 7; i < len; i++)
		if (!((name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			return 0;
	return 1;
}

static int config_dir(const struct sl_app *app, const char *appdir,
		      const struct sl_appenv_opts *o, struct sl_strv *vars,
		      struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT, real = SL_BUF_INIT;
	struct stat st;
	const char *what = "--config";
	int ret = 0;

	if (o->config_dir) {
		sl_buf_adds(&path, o->config_dir);
	} else if (app->config_default) {
		sl_buf_addf(&path, "%s/%s", appdir, app->config_default);
		what = "config.default";
	} else if (app->config_required) {
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s: config.required is set and no config was given: use --config DIR",
				  app->ini);
	} else {
		return 0;
	}
	if (stat(path.buf, &st) < 0) {
		ret = sl_err_errno(err, "%s %s", what, path.buf);
	} else if (!S_ISDIR(st.st_mode)) {
		ret = sl_err_set(err, SL_EXIT_USAGE, "%s %s: not a directory",
				 what, path.buf);
	} else if (sl_file_realpath(&real, path.buf, err) < 0) {
		ret = -1;
	} else {
		sl_strv_pushf(vars, "SILVER_APP_CONFIG=%s", real.buf);
	}
	sl_buf_release(&path);
	sl_buf_release(&real);
	return ret;
}

/* ~/.silverlining/secret: 256 random bits, made on first use, 0600. */
static int devel_secret(struct sl_strv *vars, struct sl_err *err)
{
	const char *home = sl_file_home();
	struct sl_buf path = SL_BUF_INIT;
	unsigned char raw[32];
	char hex[sizeof(raw) * 2 + 2];
	struct stat st;
	int ret = -1;

	if (!home)
		return sl_err_set(err, SL_EXIT_USAGE,
				  "no home directory for the development secret (set HOME)");
	sl_buf_addf(&path, "%s/.silverlining", home);
	if (sl_file_mkdirs(path.buf, 0700, err) < 0)
		goto out;
	sl_buf_adds(&path, "/secret");
	if (lstat(path.buf, &st) < 0) {
		if (errno != ENOENT) {
			sl_err_errno(err, "unable to read %s", path.buf);
			goto out;
		}
		if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
			sl_err_errno(err, "unable to get random bytes");
			goto out;
		}
		for (size_t i = 0; i < sizeof(raw); i++) {
			hex[2 * i] = "0123456789abcdef"[raw[i] >> 4];
			hex[2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
		}
		hex[sizeof(hex) - 2] = '\n';
		if (sl_file_write(path.buf, hex, sizeof(hex) - 1, 0600,
				  SL_FILE_EXCL, err) < 0)
			goto out;
	} else if (!S_ISREG(st.st_mode)) {
		sl_err_set(err, SL_EXIT_USAGE, "%s: not a regular file", path.buf);
		goto out;
	} else if (st.st_mode & 077) {
		sl_err_set(err, SL_EXIT_USAGE,
			   "%s is open to other users (mode %04o): chmod 600 it",
			   path.buf, (unsigned)(st.st_mode & 0777));
		goto out;
	}
	sl_strv_pushf(vars, "SILVER_SECRET_FILE=%s", path.buf);
	ret = 0;
out:
	sl_buf_release(&path);
	return ret;
}

extern char **environ;

struct svc_run {
	const struct sl_app_service *svc;
	char *exe;
	char *argv[5];
	struct sl_strv env;
	struct sl_child child;
	int started;
};

static char *find_service(const char *name, const struct sl_appenv_opts *o)
{
	struct sl_buf b = SL_BUF_INIT;
	struct stat st;

	if (o->service_dir) {
		sl_buf_addf(&b, "%s/sl-service-%s", o->service_dir, name);
		if (!stat(b.buf, &st) && S_ISREG(st.st_mode) &&
		    !access(b.buf, X_OK))
			return sl_buf_detach(&b, NULL);
		sl_buf_reset(&b);
	}
	sl_buf_addf(&b, "sl-service-%s", name);
	{
		char *found = sl_run_which(b.buf, NULL);

		sl_buf_release(&b);
		return found;
	}
}

/* Checks one service's output and appends its lines to VARS. */
static int take_output(const struct sl_app *app, struct svc_run *r,
		       const struct sl_buf *out, struct sl_strv *vars,
		       size_t first_config, struct sl_err *err)
{
	const char *p = out->buf, *end = out->buf + out->len;
	size_t own = vars->n;	/* where this service's variables start */

	if (memchr(out->buf, '\0', out->len))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "sl-service-%s printed a NUL byte", r->svc->name);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		size_t keylen = eq ? (size_t)(eq - p) : 0;

		if (stop == p) {
			p = stop + 1;
			continue;
		}
		if (!eq || !sl_appenv_config_name_valid(p, keylen))
			return sl_err_set(err, SL_EXIT_USAGE,
					  "sl-service-%s printed '%.*s', not CONFIG_NAME=VALUE",
					  r->svc->name, (int)(stop - p), p);
		for (size_t i = first_config; i < vars->n; i++) {
			if (strncmp(vars->v[i], p, keylen + 1))
				continue;
			if (i >= own)
				return sl_err_set(err, SL_EXIT_USAGE,
						  "sl-service-%s printed %.*s twice",
						  r->svc->name, (int)keylen, p);
			return sl_err_set(err, SL_EXIT_USAGE,
					  "%s:%u: service.%s sets %.*s, which another service already set",
					  app->ini, r->svc->line, r->svc->name,
					  (int)keylen, p);
		}
		sl_strv_pushn(vars, p, (size_t)(stop - p));
		p = stop + 1;
	}
	return 0;
}

static int run_services(const struct sl_app *app, const struct sl_appenv_opts *o,
			struct sl_strv *vars, struct sl_err *err)
{
	struct svc_run *runs;
	size_t first_config = vars->n;
	int ret = 0;

	if (!app->nservices)
		return 0;
	runs = sl_xcalloc(app->nservices, sizeof(*runs));
	for (size_t i = 0; i < app->nservices; i++) {
		const struct sl_app_service *s = &app->services[i];

		runs[i].svc = s;
		runs[i].exe = find_service(s->name, o);
		if (!runs[i].exe) {
			ret = sl_err_set(err, SL_EXIT_USAGE,
					 "%s:%u: unknown service '%s': no sl-service-%s %s",
					 app->ini, s->line, s->name, s->name,
					 o->service_dir ? "beside sl-env or on PATH" : "on PATH");
			goto out;
		}
	}
	/* Start them all, then read each: they run side by side. */
	for (size_t i = 0; i < app->nservices; i++) {
		struct svc_run *r = &runs[i];

		r->argv[0] = r->exe;
		r->argv[1] = "env";
		if (o->mode == SL_APPENV_DEVEL) {
			r->argv[2] = "--devel";
			r->argv[3] = app->name;
			r->argv[4] = NULL;
		} else {
			r->argv[2] = app->name;
			r->argv[3] = NULL;
		}
		/* the value of service.NAME reaches the service here */
		r->env = (struct sl_strv)SL_STRV_INIT;
		sl_strv_pushv(&r->env, environ);
		sl_strv_setenv(&r->env, "SL_SERVICE_VALUE", r->svc->value);
		r->child = (struct sl_child)SL_CHILD_INIT;
		r->child.argv = r->argv;
		r->child.env = r->env.v;
		r->child.in = SL_RUN_NULL;
		r->child.out = SL_RUN_PIPE;
		if (sl_run_start(&r->child, err) < 0) {
			ret = -1;
			goto out;
		}
		r->started = 1;
	}
	for (size_t i = 0; i < app->nservices; i++) {
		struct svc_run *r = &runs[i];
		struct sl_buf out = SL_BUF_INIT;
		long n = sl_buf_read_fd(&out, r->child.out_fd);
		int code;

		r->started = 0;
		code = sl_run_wait(&r->child, err);
		if (ret < 0) {
			sl_buf_release(&out);
			continue;
		}
		if (n < 0 || code < 0) {
			ret = n < 0 ? sl_err_errno(err, "unable to read from sl-service-%s",
						   r->svc->name) : -1;
		} else if (code) {
			ret = sl_err_set(err, code >= 100 ? code : SL_EXIT_TEMP,
					 "service.%s: '%s env %s%s' failed with exit status %d",
					 r->svc->name, r->exe,
					 o->mode == SL_APPENV_DEVEL ? "--devel " : "",
					 app->name, code);
		} else {
			ret = take_output(app, r, &out, vars, first_config, err);
		}
		sl_buf_release(&out);
	}
out:
	for (size_t i = 0; i < app->nservices; i++) {
		if (runs[i].started)
			sl_run_wait(&runs[i].child, NULL);
		if (runs[i].env.alloc)
			sl_strv_clear(&runs[i].env);
		free(runs[i].exe);
	}
	free(runs);
	return ret;
}

/* 1 if A and B name the same directory, 0 if not, -1 if one is not there. */
static int realpath_eq(const char *a, const char *b)
{
	struct stat sa, sb;

	if (stat(a, &sa) < 0 || stat(b, &sb) < 0)
		return -1;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/*
 * On a node: APP's instance directory ROOT/instances/NAME, its location
 * (the shortest host and the path sl-activate chose) in ROOT/run/NAME/
 * location, its uploaded config in ROOT/configs/NAME.
 */
static int node_env(const struct sl_app *app, const struct sl_appenv_opts *o,
		    struct sl_strv *vars, struct sl_err *err)
{
	const char *root = sl_instance_root(), *logs = getenv("SL_LOG_ROOT");
	struct sl_buf dir = SL_BUF_INIT, path = SL_BUF_INIT, loc = SL_BUF_INIT;
	const char *name, *host = "localhost", *match = "";
	struct sl_app named = SL_APP_INIT;
	struct stat st;
	int ret = -1;

	if (sl_file_realpath(&dir, app->dir, err) < 0)
		return -1;
	name = strrchr(dir.buf, '/') + 1;
	sl_buf_addf(&path, "%s/instances", root);
	sl_buf_addf(&loc, "%.*s", (int)(name - dir.buf - 1), dir.buf);
	if (!sl_instance_name_valid(name) || realpath_eq(path.buf, loc.buf) != 1) {
		sl_err_set(err, SL_EXIT_USAGE, "%s is not an instance (%s/APP.YYYY-MM-DD_NNN)",
			   dir.buf, path.buf);
		goto out;
	}
	/*
	 * The instance's name names the app: `silver update --name` deploys
	 * the same code, and its app.ini, as another app with its own data.
	 */
	named = *app;
	named.name = sl_xstrndup(name, (size_t)(strrchr(name, '.') - name));
	app = &named;
	sl_buf_reset(&path);
	sl_buf_reset(&loc);
	sl_buf_addf(&path, "%s/run/%s/location", root, name);
	if (sl_buf_read_file(&loc, path.buf) == 0) {
		char *sp = strchr(loc.buf, ' '), *nl = strchr(loc.buf, '\n');

		if (nl)
			*nl = '\0';
		if (sp) {
			*sp = '\0';
			host = loc.buf;
			match = strcmp(sp + 1, "/") ? sp + 1 : "";
		}
	}
	sl_strv_pushf(vars, "SILVER_VERSION=silverlining/%s", SL_VERSION);
	sl_strv_pushf(vars, "SILVER_APP_NAME=%s", app->name);
	sl_strv_pushf(vars, "SILVER_INSTANCE_NAME=%s", name);
	sl_strv_pushf(vars, "SILVER_CANONICAL_HOSTNAME=%s", host);
	sl_strv_pushf(vars, "SILVER_MATCH_PATH=%s", match);
	sl_buf_reset(&path);
	sl_buf_addf(&path, "%s/configs/%s", root, name);
	if (!o->config_dir && stat(path.buf, &st) == 0 && S_ISDIR(st.st_mode))
		sl_strv_pushf(vars, "SILVER_APP_CONFIG=%s", path.buf);
	else if (config_dir(app, dir.buf, o, vars, err) < 0)
		goto out;
	sl_strv_pushf(vars, "SILVER_LOGS=%s/apps/%s", logs && *logs ? logs : "/var/log/silverlining",
		      app->name);
	sl_strv_pushf(vars, "SILVER_SECRET_FILE=%s/secrets/%s", root, app->name);
	sl_strv_pushf(vars, "TEMP=%s/tmp/%s", root, name);
	ret = run_services(app, o, vars, err);
out:
	free(named.name);
	sl_buf_release(&dir);
	sl_buf_release(&path);
	sl_buf_release(&loc);
	return ret;
}

int sl_appenv_compute(const struct sl_app *app, const struct sl_appenv_opts *o,
		      struct sl_strv *vars, struct sl_err *err)
{
	struct sl_buf dir = SL_BUF_INIT;
	const char *temp = getenv("TEMP");
	int ret = -1;

	if (o->mode == SL_APPENV_NODE)
		return node_env(app, o, vars, err);
	if (sl_file_realpath(&dir, app->dir, err) < 0)
		return -1;
	sl_strv_pushf(vars, "SILVER_VERSION=devel/%s", SL_VERSION);
	sl_strv_pushf(vars, "SILVER_APP_NAME=%s", app->name);
	sl_strv_push(vars, "SILVER_INSTANCE_NAME=localhost");
	sl_strv_push(vars, "SILVER_CANONICAL_HOSTNAME=localhost");
	sl_strv_push(vars, "SILVER_MATCH_PATH=");
	if (config_dir(app, dir.buf, o, vars, err) < 0)
		goto out;
	sl_buf_adds(&dir, "/silver-logs");
	/* best effort: a read-only checkout still gets its environment */
	if (mkdir(dir.buf, 0755) < 0 && errno != EEXIST)
		errno = 0;
	sl_strv_pushf(vars, "SILVER_LOGS=%s", dir.buf);
	if (devel_secret(vars, err) < 0)
		goto out;
	sl_strv_pushf(vars, "TEMP=%s", temp && *temp ? temp : "/tmp");
	ret = run_services(app, o, vars, err);
out:
	sl_buf_release(&dir);
	return ret;
}

static int app_owned(const char *kv)
{
	return !strncmp(kv, "SILVER_", 7) || !strncmp(kv, "CONFIG_", 7);
}

void sl_appenv_merge(struct sl_strv *out, char *const *base,
		     const struct sl_strv *vars)
{
	for (; base && *base; base++) {
		const char *eq = strchr(*base, '=');

		if (!eq || app_owned(*base) ||
		    sl_strv_find_key(vars, *base, (size_t)(eq - *base)) >= 0)
			continue;
		sl_strv_push(out, *base);
	}
	for (size_t i = 0; i < vars->n; i++)
		sl_strv_push(out, vars->v[i]);
}

int sl_appenv_check_config(const struct sl_app *app, const char *dir,
			   char *const *base, struct sl_err *err)
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
	const char *colon = strchr(app->config_checker, ':');

	int code = -1;

	if (sl_file_realpath(&top, app->dir, err) < 0 ||
	    sl_file_realpath(&cfg, dir, err) < 0)
		goto out;
	o.config_dir = cfg.buf;
	if (sl_run_exe_dir(&self) == 0)
		o.service_dir = self.buf;
	if (sl_appenv_compute(app, &o, &vars, err) < 0)
		goto out;
	sl_appenv_merge(&env, base, &vars);
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
	code = sl_run(&c, err);
	if (code < 0)
		sl_err_prefix(err, "config.checker %s", app->config_checker);
out:
	sl_strv_clear(&vars);
	sl_strv_clear(&env);
	sl_strv_clear(&argv);
	sl_buf_release(&top);
	sl_buf_release(&cfg);
	sl_buf_release(&self);
	return code;
}
