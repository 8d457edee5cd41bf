/* silverlining — the area services: a directory an app keeps across instances. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backups.h"
#include "buf.h"
#include "exit.h"
#include "file.h"
#include "run.h"
#include "service-area.h"

static void area_path(const struct sl_service_area *k, const struct sl_service_app *a, struct sl_buf *b)
{
	sl_buf_addf(b, "%s/%s", a->data, k->sub);
}

static int sl_service_area_setup(const struct sl_service_area *k, const struct sl_service_app *a, struct sl_err *err)
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

static int sl_service_area_env(const struct sl_service_area *k, const struct sl_service_app *a,
		struct sl_strv *vars, struct sl_err *err)
{
	struct sl_buf p = SL_BUF_INIT;

	(void)err;
	area_path(k, a, &p);
	sl_strv_pushf(vars, "%s=%s", k->var, p.buf);
	sl_buf_release(&p);
	return 0;
}

/*
 * The area's tar runs as the app's own user, reading or writing only what
 * that user may: a symlink the app planted, or one an archive holds, never
 * takes root anywhere. Root only opens DIR/area.tar, in its own directory.
 */
static int sl_service_area_backup(const struct sl_service_area *k, const struct sl_service_app *a,
		   const char *dir, struct sl_err *err)
{
	struct sl_buf p = SL_BUF_INIT;
	int ret;

	area_path(k, a, &p);
	{
		char *argv[] = { "tar", "-C", p.buf, "-cf", "-", ".", NULL };

		ret = sl_service_dump(argv, a->user, dir, "area.tar", err);
	}
	sl_buf_release(&p);
	return ret;
}

static int sl_service_area_clear(const struct sl_service_area *k, const struct sl_service_app *a, struct sl_err *err)
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
		ret = errno == ENOENT ? sl_service_area_setup(k, a, err) :
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

/*
 * The archive is unpacked (as the app's user) into DATA/.SUB.restore,
 * beside the area on the same filesystem, and swapped in by one rename:
 * a short, corrupt or hostile archive, or a full disk, leaves the area as
 * it was.
 */
static int unpack(const struct sl_service_area *k, const struct sl_service_app *a,
		  int in, const char *into, struct sl_err *err)
{
	char *argv[] = { "tar", "-C", (char *)into, "-xf", "-", "--no-same-owner",
			 "--no-overwrite-dir", NULL };

	if (sl_file_remove_tree(AT_FDCWD, into, err) < 0)
		return -1;
	if (mkdir(into, 0700) < 0 || chown(into, a->uid, a->gid) < 0)
		return sl_err_errno(err, "unable to make %s", into);
	if (sl_service_run(argv, a->user, in, SL_RUN_INHERIT, "tar", err) < 0)
		return -1;
	if (chmod(into, k->mode) < 0)
		return sl_err_errno(err, "unable to give %s its mode", into);
	return 0;
}

static int swap_in(const char *from, const char *to, struct sl_err *err)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_EXCHANGE) == 0)
		return 0;
	if (errno == ENOENT && renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	return sl_err_errno(err, "unable to put %s in place of %s", from, to);
}

/* DIR/area.tar: a file, not a link (root opens it), for the app's tar */
static int open_archive(const char *dir, struct sl_buf *tar, struct sl_err *err)
{
	struct stat st;
	int in;

	sl_buf_addf(tar, "%s/area.tar", dir);
	in = open(tar->buf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0) {
		sl_err_errno(err, "unable to read %s", tar->buf);
		if (in >= 0)
			close(in);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(in);
		return sl_err_set(err, SL_EXIT_USAGE, "%s is not a file: refused", tar->buf);
	}
	return in;
}

/* The archive reads whole: tar lists it, as the app's user. */
static int sl_service_area_check(const struct sl_service_app *a, const char *dir, struct sl_err *err)
{
	char *argv[] = { "tar", "-tf", "-", NULL };
	struct sl_buf tar = SL_BUF_INIT;
	int in = open_archive(dir, &tar, err), out = -1, ret = -1;

	if (in >= 0 && (out = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
		sl_err_errno(err, "unable to open /dev/null");
	if (out >= 0 && sl_service_run(argv, a->user, in, out, "tar", err) == 0)
		ret = 0;
	else if (out >= 0 && err->code == SL_EXIT_TEMP)
		sl_err_set(err, SL_EXIT_USAGE, "%s is not a whole tar archive: nothing was changed",
			   tar.buf);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	sl_buf_release(&tar);
	return ret;
}

static int sl_service_area_restore(const struct sl_service_area *k, const struct sl_service_app *a,
		    const char *dir, struct sl_err *err)
{
	struct sl_buf p = SL_BUF_INIT, tar = SL_BUF_INIT, nw = SL_BUF_INIT;
	struct sl_err ignored = SL_ERR_INIT;
	int in, ret = -1;

	area_path(k, a, &p);
	sl_buf_addf(&nw, "%s/.%s.restore", a->data, k->sub);
	in = open_archive(dir, &tar, err);
	if (in < 0)
		goto out;
	if (sl_file_mkdirs(a->data, 0755, err) < 0)
		goto out;
	if (unpack(k, a, in, nw.buf, err) < 0 || swap_in(nw.buf, p.buf, err) < 0) {
		sl_file_remove_tree(AT_FDCWD, nw.buf, &ignored);
		sl_err_prefix(err, "nothing restored, %s is as it was", p.buf);
		goto out;
	}
	/* nw is now the old area */
	if (sl_file_remove_tree(AT_FDCWD, nw.buf, err) < 0) {
		sl_err_prefix(err, "restored, but the old area is left in %s", nw.buf);
		goto out;
	}
	ret = 0;
out:
	if (in >= 0)
		close(in);
	sl_err_release(&ignored);
	sl_buf_release(&p);
	sl_buf_release(&tar);
	sl_buf_release(&nw);
	return ret;
}

/*
 * The archive read whole (100 when it is not), then unpacked by the app's
 * user into a scratch directory of its own, /var/tmp/sl-verify.XXXXXX/tree
 * (the parent root's, 0711; the tree the app's user's, 0700: no other app
 * reaches it), walked with that user's rights only, and removed.
 */
static int sl_service_area_verify(const struct sl_service_area *k, const struct sl_service_app *a,
				  const char *dir, struct sl_strv *report, struct sl_err *err)
{
	struct sl_buf tar = SL_BUF_INIT, tree = SL_BUF_INIT;
	struct sl_err ignored = SL_ERR_INIT;
	char scratch[] = "/var/tmp/sl-verify.XXXXXX";
	int in = -1, made = 0, ret = -1;

	if (sl_service_area_check(a, dir, err) < 0)
		goto out;
	if ((in = open_archive(dir, &tar, err)) < 0)
		goto out;
	if (!mkdtemp(scratch) || chmod(scratch, 0711) < 0) {
		sl_err_errno(err, "unable to make a scratch directory");
		goto out;
	}
	made = 1;
	sl_buf_addf(&tree, "%s/tree", scratch);
	if (unpack(k, a, in, tree.buf, err) < 0) {
		sl_err_prefix(err, "the archive did not unpack");
		goto out;
	}
	ret = sl_backups_tree_report(tree.buf, a->uid, a->gid, report, err);
out:
	if (made)
		sl_file_remove_tree(AT_FDCWD, scratch, &ignored);
	if (in >= 0)
		close(in);
	sl_err_release(&ignored);
	sl_buf_release(&tar);
	sl_buf_release(&tree);
	return ret;
}

/* The area of the running executable: set by sl_service_area_main. */
static const struct sl_service_area *self;

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

static int setup(const struct sl_service_app *a, struct sl_err *err)
{
	return sl_service_area_setup(self, a, err);
}

static int env(const struct sl_service_app *a, struct sl_strv *vars, struct sl_err *err)
{
	return sl_service_area_env(self, a, vars, err);
}

static int backup(const struct sl_service_app *a, const char *dir, struct sl_err *err)
{
	return sl_service_area_backup(self, a, dir, err);
}

static int restore(const struct sl_service_app *a, const char *dir, struct sl_err *err)
{
	return sl_service_area_restore(self, a, dir, err);
}

static int clear(const struct sl_service_app *a, struct sl_err *err)
{
	return sl_service_area_clear(self, a, err);
}

static int verify(const struct sl_service_app *a, const char *dir, struct sl_strv *report,
		  struct sl_err *err)
{
	return sl_service_area_verify(self, a, dir, report, err);
}

int sl_service_area_main(int argc, char **argv, const char *name, const struct sl_service_area *k)
{
	static const char *const keys[] = { "dir", NULL };
	struct sl_service svc = {
		.name = name, .devel_prefix = name, .devel_keys = keys, .db_names = 0,
		.devel_env = devel_env, .install = install, .setup = setup, .env = env,
		.backup = backup, .restore = restore, .check = sl_service_area_check, .clear = clear,
		.verify = verify,
	};

	self = k;
	return sl_service_main(argc, argv, &svc);
}
