/* silverlining — files written safely. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "exit.h"
#include "file.h"
#include "mem.h"

int sl_file_mkdirs(const char *path, mode_t mode, struct sl_err *err)
{
	struct sl_buf b = SL_BUF_INIT;
	struct stat st;
	int ret = 0;

	sl_buf_adds(&b, path);
	for (size_t i = 1; i <= b.len; i++) {
		if (b.buf[i] != '/' && b.buf[i] != '\0')
			continue;
		b.buf[i] = '\0';
		if (mkdir(b.buf, mode) < 0 && errno != EEXIST) {
			ret = sl_err_errno(err, "unable to create %s", b.buf);
			break;
		}
		if (i == b.len && (stat(b.buf, &st) < 0 || !S_ISDIR(st.st_mode))) {
			errno = ENOTDIR;
			ret = sl_err_errno(err, "unable to create %s", b.buf);
			break;
		}
		if (i < b.len)
			b.buf[i] = '/';
	}
	sl_buf_release(&b);
	return ret;
}

static int fsync_dir_of(const char *path)
{
	struct sl_buf dir = SL_BUF_INIT;
	const char *slash = strrchr(path, '/');
	int fd, ret;

	if (slash)
		sl_buf_add(&dir, path, slash == path ? 1 : (size_t)(slash - path));
	else
		sl_buf_addch(&dir, '.');
	fd = open(dir.buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	sl_buf_release(&dir);
	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

int sl_file_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int sl_file_write(const char *path, const void *data, size_t len, mode_t mode,
		  int flags, struct sl_err *err)
{
	struct sl_buf tmp = SL_BUF_INIT;
	int fd, ret = -1;

	sl_buf_addf(&tmp, "%s.tmp-XXXXXX", path);
	fd = mkostemp(tmp.buf, O_CLOEXEC);
	if (fd < 0) {
		sl_err_errno(err, "unable to create a file beside %s", path);
		goto out;
	}
	if (fchmod(fd, mode) < 0 || sl_file_write_all(fd, data, len) < 0)
		goto fail_errno;
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto fail_errno;
	}
	fd = -1;
	if (flags & SL_FILE_EXCL) {
		if (link(tmp.buf, path) < 0) {
			if (errno != EEXIST)
				goto fail_errno;
			unlink(tmp.buf);
			ret = 1;
			goto out;
		}
		unlink(tmp.buf);
	} else if (rename(tmp.buf, path) < 0) {
		goto fail_errno;
	}
	if (fsync_dir_of(path) < 0) {
		sl_err_errno(err, "unable to sync the directory of %s", path);
		goto out;
	}
	ret = 0;
	goto out;
fail_errno:
	sl_err_errno(err, "unable to write %s", path);
	if (fd >= 0)
		close(fd);
	unlink(tmp.buf);
out:
	sl_buf_release(&tmp);
	return ret;
}

int sl_file_realpath(struct sl_buf *out, const char *path, struct sl_err *err)
{
	char *r = realpath(path, NULL);

	if (!r)
		return sl_err_errno(err, "unable to resolve %s", path);
	sl_buf_adds(out, r);
	free(r);
	return 0;
}

const char *sl_file_home(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (home && *home == '/')
		return home;
	pw = getpwuid(getuid());
	return pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : NULL;
}

int sl_file_remove_tree(int at, const char *name, struct sl_err *err)
{
	struct dirent *de;
	DIR *d;
	int fd, ret = 0;

	if (unlinkat(at, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return sl_err_errno(err, "unable to remove %s", name);
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return sl_err_errno(err, "unable to remove %s", name);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return sl_err_errno(err, "unable to remove %s", name);
	}
	while (!ret && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			ret = sl_file_remove_tree(dirfd(d), de->d_name, err);
	closedir(d);
	if (!ret && unlinkat(at, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		ret = sl_err_errno(err, "unable to remove %s", name);
	return ret;
}

int sl_file_abspath(struct sl_buf *out, const char *path, struct sl_err *err)
{
	size_t start = out->len;
	char *cwd;

	if (*path != '/') {
		cwd = getcwd(NULL, 0);
		if (!cwd)
			return sl_err_errno(err, "unable to find the working directory");
		if (strcmp(cwd, "/"))
			sl_buf_adds(out, cwd);
		free(cwd);
	}
	while (*path) {
		size_t len = strcspn(path, "/");

		if (len == 2 && !strncmp(path, "..", 2)) {
			size_t n = out->len;

			while (n > start && out->buf[n - 1] != '/')
				n--;
			sl_buf_setlen(out, n > start ? n - 1 : n);
		} else if (len && !(len == 1 && *path == '.')) {
			sl_buf_addch(out, '/');
			sl_buf_add(out, path, len);
		}
		path += len + (path[len] == '/');
	}
	if (out->len == start)
		sl_buf_addch(out, '/');
	return 0;
}
