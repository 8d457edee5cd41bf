/* silverlining — the area services: a directory an app keeps across instances. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../libsl/buf.h"
#include "../libsl/exit.h"
#include "../libsl/file.h"
#include "../libsl/run.h"
#include "area.h"

static void area_path(const struct sl_area *k, const struct sl_svc_app *a, struct sl_buf *b)
{
	sl_buf_addf(b, "%s/%s", a->data, k->sub);
}

static int sl_area_setup(const struct sl_area *k, const struct sl_svc_app *a, struct sl_err *err)
{
	struct sl_buf p = SL_BUF_INIT;
	int ret = -1;

	area_path(k, a, &p);
	if (sl_file_mkdirs(a->data, 0755, err) < 0 ||
	    (mkdir(p.buf, k->mode) < 0 && errno != EEXIST)) {
		if (!err || !err->code)
			sl_err_errno(err, "unable to make %s", p.buf);
		goto out;
	}
	if (chown(p.buf, a->uid, a->gid) < 0 || chmod(p.buf, k->mode) < 0) {
		sl_err_errno(err, "unable to give %s to %s", p.buf, a->user);
		goto out;
	}
	ret = 0;
out:
	sl_buf_release(&p);
	return ret;
}

static int sl_area_env(const struct sl_area *k, const struct sl_svc_app *a,
		struct sl_strv *vars, struct sl_err *err)
{
	struct sl_buf p = SL_BUF_INIT;

	(void)err;
	area_path(k, a, &p);
	sl_strv_pushf(vars, "%s=%s", k->var, p.buf);
	sl_buf_release(&p);
	return 0;
}

static int sl_area_backup(const struct sl_area *k, const struct sl_svc_app *a,
		   const char *dir, struct sl_err *err)
{
	struct sl_buf p = SL_BUF_INIT, tar = SL_BUF_INIT;
	int ret = -1;

	area_path(k, a, &p);
	sl_buf_addf(&tar, "%s/area.tar", dir);
	if (sl_file_mkdirs(dir, 0700, err) == 0) {
		char *argv[] = { "tar", "-C", p.buf, "-cf", tar.buf, ".", NULL };

		ret = sl_svc_run(argv, NULL, SL_RUN_NULL, SL_RUN_INHERIT, "tar", err);
	}
	sl_buf_release(&p);
	sl_buf_release(&tar);
	return ret;
}

static int sl_area_clear(const struct sl_area *k, const struct sl_svc_app *a, struct sl_err *err)
{
	struct sl_buf p = SL_BUF_INIT;
	struct dirent *de;
	int fd, ret = 0;
	DIR *d;

	area_path(k, a, &p);
	fd = open(p.buf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		ret = errno == ENOENT ? sl_area_setup(k, a, err) :
			sl_err_errno(err, "unable to open %s", p.buf);
		sl_buf_release(&p);
		return ret;
	}
	while (!ret && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			ret = sl_file_remove_tree(dirfd(d), de->d_name, err);
	closedir(d);
	sl_buf_release(&p);
	return ret;
}

static int sl_area_restore(const struct sl_area *k, const struct sl_svc_app *a,
		    const char *dir, struct sl_err *err)
{
	struct sl_buf p = SL_BUF_INIT, tar = SL_BUF_INIT;
	int ret = -1;

	area_path(k, a, &p);
	sl_buf_addf(&tar, "%s/area.tar", dir);
	if (access(tar.buf, R_OK) < 0) {
		sl_err_errno(err, "unable to read %s", tar.buf);
		goto out;
	}
	if (sl_area_clear(k, a, err) == 0 && sl_area_setup(k, a, err) == 0) {
		/* as the app's user: what it gets back is its own, and nothing else */
		char *argv[] = { "tar", "-C", p.buf, "-xf", "-", "--no-same-owner", NULL };
		int in = open(tar.buf, O_RDONLY | O_CLOEXEC);

		if (in < 0) {
			sl_err_errno(err, "unable to read %s", tar.buf);
			goto out;
		}
		ret = sl_svc_run(argv, a->user, in, SL_RUN_INHERIT, "tar", err);
		close(in);
	}
out:
	sl_buf_release(&p);
	sl_buf_release(&tar);
	return ret;
}

/* The area of the running executable: set by sl_area_main. */
static const struct sl_area *self;

static int devel_env(const char *app, const struct sl_devconf *dc,
		     struct sl_strv *vars, struct sl_err *err)
{
	return sl_service_devel_dir(app, dc, self->sub, self->var, self->mode, vars, err);
}

static int install(struct sl_err *err)
{
	(void)err;	/* a directory needs no server */
	return 0;
}

static int setup(const struct sl_svc_app *a, struct sl_err *err)
{
	return sl_area_setup(self, a, err);
}

static int env(const struct sl_svc_app *a, struct sl_strv *vars, struct sl_err *err)
{
	return sl_area_env(self, a, vars, err);
}

static int backup(const struct sl_svc_app *a, const char *dir, struct sl_err *err)
{
	return sl_area_backup(self, a, dir, err);
}

static int restore(const struct sl_svc_app *a, const char *dir, struct sl_err *err)
{
	return sl_area_restore(self, a, dir, err);
}

static int clear(const struct sl_svc_app *a, struct sl_err *err)
{
	return sl_area_clear(self, a, err);
}

int sl_area_main(int argc, char **argv, const char *name, const struct sl_area *k)
{
	static const char *const keys[] = { "dir", NULL };
	struct sl_service svc = {
		.name = name, .devel_prefix = name, .devel_keys = keys, .db_names = 0,
		.devel_env = devel_env, .install = install, .setup = setup, .env = env,
		.backup = backup, .restore = restore, .clear = clear,
	};

	self = k;
	return sl_service_main(argc, argv, &svc);
}
