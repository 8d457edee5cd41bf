/* silverlining — the node's layout: where its state lives, its locks, its names. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "file.h"
#include "instance.h"
#include "node.h"

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v && *v ? v : dflt;
}

const char *sl_node_root(void)
{
	return sl_instance_root();
}

const char *sl_node_logs(void)
{
	return env_or("SL_LOG_ROOT", "/var/log/silverlining");
}

const char *sl_node_sockets(void)
{
	return "/run/silverlining";
}

void sl_node_path(struct sl_buf *out, const char *name)
{
	sl_buf_reset(out);
	sl_buf_addf(out, "%s/%s", sl_node_root(), name);
}

void sl_node_instance_path(struct sl_buf *out, const char *dir,
			   const char *instance)
{
	sl_buf_reset(out);
	sl_buf_addf(out, "%s/%s/%s", sl_node_root(), dir, instance);
}

void sl_node_app_of(const char *instance, struct sl_buf *out)
{
	const char *dot = strrchr(instance, '.');

	sl_buf_reset(out);
	sl_buf_add(out, instance, dot ? (size_t)(dot - instance) : strlen(instance));
}

/* The lock file of APP (NULL: the node's), opened; -1 with ERR. */
static int lock_open(const char *app, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT;
	int fd;

	if (app && !sl_app_name_valid(app))
		return sl_err_set(err, 100, "invalid app name '%s'", app);
	if (app) {
		sl_node_path(&path, "locks");
		if (sl_file_mkdirs(path.buf, 0700, err) < 0) {
			sl_buf_release(&path);
			return -1;
		}
		sl_buf_addf(&path, "/%s", app);
	} else {
		if (sl_file_mkdirs(sl_node_root(), 0755, err) < 0)
			return -1;
		sl_node_path(&path, "deploy.lock");
	}
	fd = open(path.buf, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		sl_err_errno(err, "unable to open %s", path.buf);
	sl_buf_release(&path);
	return fd;
}

int sl_node_lock(const char *app, int timeout, struct sl_err *err)
{
	struct timespec nap = { 0, 50 * 1000 * 1000 };
	long tries = (long)timeout * 20;
	int fd = lock_open(app, err);

	if (fd < 0)
		return -1;
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			sl_err_errno(err, "unable to lock %s", app ? app : "the node");
			break;
		}
		if (tries-- <= 0) {
			if (app)
				sl_err_set(err, 99, "another deploy of %s held its lock for %d seconds",
					   app, timeout);
			else
				sl_err_set(err, 99, "another deploy held the node's lock for %d seconds",
					   timeout);
			break;
		}
		nanosleep(&nap, NULL);
	}
	close(fd);
	return -1;
}

int sl_node_app_busy(const char *app)
{
	struct sl_buf path = SL_BUF_INIT;
	int fd, busy = 0;

	if (!sl_app_name_valid(app))
		return 0;
	sl_node_path(&path, "locks");
	sl_buf_addf(&path, "/%s", app);
	fd = open(path.buf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	sl_buf_release(&path);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK)
		busy = 1;
	close(fd);
	return busy;
}

/* ROOT/disabled into OUT (empty when missing). 0, or -1 with ERR. */
static int disabled_read(struct sl_buf *out, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT;
	int ret = 0;

	sl_node_path(&path, "disabled");
	if (sl_buf_read_file(out, path.buf) < 0 && errno != ENOENT)
		ret = sl_err_errno(err, "unable to read %s", path.buf);
	sl_buf_release(&path);
	return ret;
}

/* The line APP in TEXT (one name a line), or NULL. */
static const char *find_line(const char *text, const char *app)
{
	size_t len = strlen(app);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, app, len) && (p[len] == '\n' || !p[len]))
			return p;
	return NULL;
}

int sl_node_disabled(const char *app, struct sl_err *err)
{
	struct sl_buf text = SL_BUF_INIT;
	int ret;

	if (disabled_read(&text, err) < 0) {
		sl_buf_release(&text);
		return -1;
	}
	ret = text.len && find_line(text.buf, app) ? 1 : 0;
	sl_buf_release(&text);
	return ret;
}

int sl_node_set_disabled(const char *app, int on, struct sl_err *err)
{
	struct sl_buf text = SL_BUF_INIT, out = SL_BUF_INIT, path = SL_BUF_INIT;
	const char *p, *nl;
	int ret = -1;

	if (!sl_app_name_valid(app))
		return sl_err_set(err, 100, "invalid app name '%s'", app);
	if (disabled_read(&text, err) < 0)
		goto out;
	for (p = text.len ? text.buf : ""; *p; p = nl ? nl + 1 : p + strlen(p)) {
		size_t len;

		nl = strchr(p, '\n');
		len = nl ? (size_t)(nl - p) : strlen(p);
		if (!len || (len == strlen(app) && !strncmp(p, app, len)))
			continue;
		sl_buf_add(&out, p, len);
		sl_buf_addch(&out, '\n');
	}
	if (on)
		sl_buf_addf(&out, "%s\n", app);
	sl_node_path(&path, "disabled");
	ret = sl_file_write(path.buf, out.len ? out.buf : "", out.len, 0644,
			    SL_FILE_REPLACE, err);
out:
	sl_buf_release(&text);
	sl_buf_release(&out);
	sl_buf_release(&path);
	return ret;
}
