/* silverlining — the node's layout: where its state lives, its locks, its names. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "exit.h"
#include "file.h"
#include "instance.h"
#include "node.h"
#include "strv.h"

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

void sl_node_env(void)
{
	const char *path = getenv("PATH");
	struct sl_buf p = SL_BUF_INIT;

	sl_buf_addf(&p, "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin%s%s",
		    path && *path ? ":" : "", path ? path : "");
	setenv("PATH", p.buf, 1);
	setenv("LC_ALL", "C", 1);
	sl_buf_release(&p);
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

void sl_node_tls_path(struct sl_buf *out, const char *host)
{
	sl_buf_reset(out);
	sl_buf_addf(out, "%s/tls/live/", sl_node_root());
	if (host[0] == '.')
		sl_buf_adds(out, "_");
	for (; *host; host++)
		sl_buf_addch(out, *host == '*' ? '_' : *host);
	sl_buf_adds(out, ".pem");
}

void sl_node_app_log(struct sl_buf *out, const char *app)
{
	sl_buf_reset(out);
	sl_buf_addf(out, "%s/apps/%s/app.log", sl_node_logs(), app);
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

	if (app && !sl_app_name_valid(app) && strcmp(app, SL_NODE_LOCK_ACME) &&
	    strcmp(app, SL_NODE_LOCK_DBNODE))
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

int sl_node_disabled_list(struct sl_strv *out, struct sl_err *err)
{
	struct sl_buf text = SL_BUF_INIT;
	const char *p, *nl;

	if (disabled_read(&text, err) < 0) {
		sl_buf_release(&text);
		return -1;
	}
	for (p = text.len ? text.buf : ""; *p; p = nl ? nl + 1 : p + strlen(p)) {
		nl = strchr(p, '\n');
		if (nl != p && *p)
			sl_strv_pushn(out, p, nl ? (size_t)(nl - p) : strlen(p));
	}
	sl_buf_release(&text);
	return 0;
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

void sl_node_link_path(struct sl_buf *out, const char *host, const char *path)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct sl_buf in = SL_BUF_INIT;

	sl_buf_addf(&in, "%s %s", host, path);
	EVP_Digest(in.buf, in.len, md, &mdlen, EVP_sha256(), NULL);
	sl_buf_release(&in);
	sl_node_path(out, "nginx/at/");
	for (unsigned int i = 0; i < 16 && i < mdlen; i++)
		sl_buf_addf(out, "%02x", md[i]);
}

/* LINK -> TARGET, by a new link beside it renamed over it; 1 changed, 0 not, -1. */
static int link_replace(const char *link, const char *target, struct sl_err *err)
{
	struct sl_buf now = SL_BUF_INIT, tmp = SL_BUF_INIT;
	ssize_t n;
	int ret = 0;

	sl_buf_grow(&now, 4096);
	n = readlink(link, now.buf, 4095);
	if (n >= 0 && (size_t)n == strlen(target) && !memcmp(now.buf, target, (size_t)n))
		goto out;
	sl_buf_addf(&tmp, "%s.new-%ld", link, (long)getpid());
	unlink(tmp.buf);
	if (symlink(target, tmp.buf) < 0 || rename(tmp.buf, link) < 0) {
		ret = sl_err_errno(err, "unable to link %s to %s", link, target);
		unlink(tmp.buf);
		goto out;
	}
	ret = 1;
out:
	sl_buf_release(&now);
	sl_buf_release(&tmp);
	return ret;
}

int sl_node_link_set(const char *host, const char *path, const char *instance,
		     struct sl_err *err)
{
	struct sl_buf dir = SL_BUF_INIT, link = SL_BUF_INIT, target = SL_BUF_INIT;
	int ret = -1;

	if (!sl_instance_name_valid(instance))
		return sl_err_set(err, SL_EXIT_TEMP, "invalid instance name '%s'", instance);
	sl_node_path(&dir, "nginx/at");
	if (sl_file_mkdirs(dir.buf, 0755, err) < 0)
		goto out;
	sl_node_path(&dir, "nginx/inst/");
	sl_buf_adds(&dir, instance);
	if (sl_file_mkdirs(dir.buf, 0755, err) < 0)
		goto out;
	sl_buf_addf(&link, "%s/sock", dir.buf);
	sl_buf_addf(&target, "%s/%s.sock", sl_node_sockets(), instance);
	if (link_replace(link.buf, target.buf, err) < 0)
		goto out;
	sl_buf_reset(&link);
	sl_buf_addf(&link, "%s/static", dir.buf);
	sl_node_instance_path(&target, "instances", instance);
	sl_buf_adds(&target, "/static");
	if (link_replace(link.buf, target.buf, err) < 0)
		goto out;
	sl_buf_reset(&link);
	sl_buf_addf(&link, "%s/app", dir.buf);
	sl_node_instance_path(&target, "instances", instance);
	if (link_replace(link.buf, target.buf, err) < 0)
		goto out;
	sl_node_link_path(&link, host, path);
	sl_buf_reset(&target);
	sl_buf_addf(&target, "../inst/%s", instance);
	ret = link_replace(link.buf, target.buf, err);
out:
	sl_buf_release(&dir);
	sl_buf_release(&link);
	sl_buf_release(&target);
	return ret;
}

static int holds(const struct sl_strv *sv, const char *name)
{
	for (size_t i = 0; i < sv->n; i++)
		if (!strcmp(sv->v[i], name))
			return 1;
	return 0;
}

/* Removes the entries of ROOT/nginx/SUB whose names KEEP does not hold. */
static int prune_dir(const char *sub, const struct sl_strv *keep, struct sl_err *err)
{
	struct sl_buf dir = SL_BUF_INIT;
	struct dirent *e;
	int fd, ret = 0;
	DIR *d;

	sl_node_path(&dir, sub);
	d = opendir(dir.buf);
	if (!d) {
		ret = errno == ENOENT ? 0 : sl_err_errno(err, "unable to read %s", dir.buf);
		sl_buf_release(&dir);
		return ret;
	}
	fd = dirfd(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    !holds(keep, e->d_name) &&
		    sl_file_remove_tree(fd, e->d_name, err) < 0 && !ret)
			ret = -1;
	closedir(d);
	sl_buf_release(&dir);
	return ret;
}

int sl_node_links_prune(const struct sl_routes *r, struct sl_err *err)
{
	struct sl_strv keys = SL_STRV_INIT, insts = SL_STRV_INIT;
	struct sl_buf link = SL_BUF_INIT;
	int ret;

	for (size_t i = 0; i < r->n; i++) {
		sl_node_link_path(&link, r->v[i].host, r->v[i].path);
		sl_strv_push(&keys, strrchr(link.buf, '/') + 1);
		sl_strv_push(&insts, r->v[i].instance);
	}
	ret = prune_dir("nginx/at", &keys, err);
	if (ret == 0)
		ret = prune_dir("nginx/inst", &insts, err);
	sl_strv_clear(&keys);
	sl_strv_clear(&insts);
	sl_buf_release(&link);
	return ret;
}

int sl_node_app_secret(const char *app, uid_t uid, gid_t gid, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT, hex = SL_BUF_INIT;
	unsigned char raw[32];
	struct stat st;
	int ret = -1;

	if (!sl_app_name_valid(app))
		return sl_err_set(err, SL_EXIT_USAGE, "invalid app name '%s'", app);
	sl_node_path(&path, "secrets/");
	sl_buf_adds(&path, app);
	if (lstat(path.buf, &st) < 0 || (S_ISREG(st.st_mode) && st.st_size == 0)) {
		if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
			sl_err_errno(err, "unable to get random bytes");
			goto out;
		}
		for (size_t i = 0; i < sizeof(raw); i++)
			sl_buf_addf(&hex, "%02x", raw[i]);
		if (sl_file_write(path.buf, hex.buf, hex.len, 0600, SL_FILE_REPLACE, err) < 0)
			goto out;
	}
	if (lchown(path.buf, uid, gid) < 0 || chmod(path.buf, 0600) < 0) {
		sl_err_errno(err, "unable to give %s to its app", path.buf);
		goto out;
	}
	ret = 0;
out:
	sl_buf_release(&path);
	sl_buf_release(&hex);
	return ret;
}

static void mark_path(struct sl_buf *out, const char *instance)
{
	sl_node_instance_path(out, "run", instance);
	sl_buf_adds(out, "/prepared");
}

int sl_node_ready_mark(const char *instance, const char *text, struct sl_err *err)
{
	struct sl_buf p = SL_BUF_INIT;
	int ret;

	mark_path(&p, instance);
	ret = sl_file_write(p.buf, text, strlen(text), 0644, SL_FILE_REPLACE, err);
	sl_buf_release(&p);
	return ret;
}

int sl_node_ready_marked(const char *instance, struct sl_buf *text)
{
	struct sl_buf p = SL_BUF_INIT;
	struct stat st;
	int ret = 0;

	mark_path(&p, instance);
	/* root's own regular file: nothing an app made in its place */
	if (lstat(p.buf, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0) {
		if (!text)
			ret = 1;
		else if (sl_buf_read_file(text, p.buf) == 0)
			ret = 1;
	}
	sl_buf_release(&p);
	return ret;
}

void sl_node_ready_unmark(const char *instance)
{
	struct sl_buf p = SL_BUF_INIT;

	mark_path(&p, instance);
	unlink(p.buf);
	sl_buf_release(&p);
}
