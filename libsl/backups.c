/* silverlining — the node's store of scheduled backups, their records, their retention. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app.h"
#include "backups.h"
#include "exit.h"
#include "file.h"
#include "mem.h"
#include "node.h"

int sl_backups_stamp_valid(const char *s)
{
	static const char shape[] = "dddddddd" "T" "dddddd" "Z";

	if (!s || strlen(s) != SL_BACKUPS_STAMP_LEN)
		return 0;
	for (size_t i = 0; i < SL_BACKUPS_STAMP_LEN; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
			return 0;
	return 1;
}

void sl_backups_stamp(time_t t, char *out)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, SL_BACKUPS_STAMP_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}

void sl_backups_dir(struct sl_buf *out, const char *app)
{
	sl_node_path(out, "backups");
	if (app)
		sl_buf_addf(out, "/%s", app);
}

const char *sl_backups_path(struct sl_buf *out, const char *app, const char *stamp,
			    const char *ext)
{
	sl_backups_dir(out, app);
	sl_buf_addf(out, "/%s.%s", stamp, ext);
	return out->buf;
}

static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int sl_backups_apps(struct sl_strv *out, struct sl_err *err)
{
	struct sl_buf dir = SL_BUF_INIT;
	struct dirent *de;
	size_t from = out->n;
	DIR *d;

	sl_backups_dir(&dir, NULL);
	d = opendir(dir.buf);
	if (!d) {
		int ret = errno == ENOENT ? 0 : sl_err_errno(err, "unable to read %s", dir.buf);

		sl_buf_release(&dir);
		return ret;
	}
	while ((de = readdir(d)))
		if (sl_app_name_valid(de->d_name))
			sl_strv_push(out, de->d_name);
	closedir(d);
	qsort(out->v + from, out->n - from, sizeof(*out->v), by_string);
	sl_buf_release(&dir);
	return 0;
}

/* PATH a directory of root's, 0700, made when missing, never a link. */
static int root_dir(const char *path, struct sl_err *err)
{
	struct stat st;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return sl_err_errno(err, "unable to make %s", path);
	if (lstat(path, &st) < 0)
		return sl_err_errno(err, "unable to read %s", path);
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0)
		return sl_err_set(err, SL_EXIT_USAGE, "%s is not root's own directory: refused",
				  path);
	if ((st.st_mode & 07777) != 0700 && chmod(path, 0700) < 0)
		return sl_err_errno(err, "unable to close %s", path);
	return 0;
}

int sl_backups_make_dir(const char *app, struct sl_err *err)
{
	struct sl_buf p = SL_BUF_INIT;
	int ret;

	sl_backups_dir(&p, NULL);
	ret = root_dir(p.buf, err);
	if (!ret && app) {
		sl_backups_dir(&p, app);
		ret = root_dir(p.buf, err);
	}
	sl_buf_release(&p);
	return ret;
}

static void override_path(struct sl_buf *p, const char *app)
{
	sl_backups_dir(p, NULL);
	sl_buf_addf(p, "/%s.schedule", app);
}

int sl_backups_override(const char *app, const char *key, struct sl_buf *out)
{
	struct sl_buf p = SL_BUF_INIT, text = SL_BUF_INIT;
	size_t klen = strlen(key);
	int ret = 0;

	override_path(&p, app);
	sl_buf_reset(out);
	if (sl_buf_read_file(&text, p.buf) < 0) {
		ret = errno == ENOENT ? 0 : -1;
		goto out;
	}
	for (const char *l = text.buf; *l; ) {
		size_t len = strcspn(l, "\n");

		if (len > klen && !strncmp(l, key, klen) && l[klen] == '=') {
			sl_buf_reset(out);
			sl_buf_add(out, l + klen + 1, len - klen - 1);
			ret = 1;
		}
		l += len + (l[len] == '\n');
	}
out:
	sl_buf_release(&p);
	sl_buf_release(&text);
	return ret;
}

int sl_backups_set_override(const char *app, const char *text, struct sl_err *err)
{
	struct sl_buf p = SL_BUF_INIT;
	int ret = 0;

	if (sl_backups_make_dir(NULL, err) < 0)
		return -1;
	override_path(&p, app);
	if (!*text) {
		if (unlink(p.buf) < 0 && errno != ENOENT)
			ret = sl_err_errno(err, "unable to remove %s", p.buf);
	} else {
		ret = sl_file_write(p.buf, text, strlen(text), 0600, SL_FILE_REPLACE, err) < 0 ? -1 : 0;
	}
	sl_buf_release(&p);
	return ret;
}

const char *sl_backups_get(const struct sl_backups_entry *e, const char *key)
{
	long i = sl_strv_find_key(&e->keys, key, strlen(key));

	return i < 0 ? NULL : strchr(e->keys.v[i], '=') + 1;
}

const char *sl_backups_status_name(enum sl_backups_status s)
{
	return s == SL_BACKUPS_VERIFIED ? "verified" : s == SL_BACKUPS_BAD ? "bad" : "unverified";
}

/* The record TEXT's lines before its first section, into E. */
static void parse_record(struct sl_backups_entry *e, const char *text)
{
	const char *status;

	for (const char *l = text; *l && *l != '['; ) {
		size_t len = strcspn(l, "\n");

		if (memchr(l, '=', len))
			sl_strv_pushn(&e->keys, l, len);
		l += len + (l[len] == '\n');
	}
	status = sl_backups_get(e, "status");
	e->status = !status ? SL_BACKUPS_UNVERIFIED :
		!strcmp(status, "verified") ? SL_BACKUPS_VERIFIED :
		!strcmp(status, "bad") ? SL_BACKUPS_BAD : SL_BACKUPS_UNVERIFIED;
}

static int by_stamp(const void *a, const void *b)
{
	return strcmp(((const struct sl_backups_entry *)a)->stamp,
		      ((const struct sl_backups_entry *)b)->stamp);
}

int sl_backups_list(const char *app, struct sl_backups_entry **out, size_t *n,
		    struct sl_err *err)
{
	struct sl_buf dir = SL_BUF_INIT, p = SL_BUF_INIT;
	struct sl_backups_entry *v = NULL;
	size_t nv = 0;
	struct dirent *de;
	DIR *d;

	*out = NULL;
	*n = 0;
	sl_backups_dir(&dir, app);
	d = opendir(dir.buf);
	if (!d) {
		int ret = errno == ENOENT ? 0 : sl_err_errno(err, "unable to read %s", dir.buf);

		sl_buf_release(&dir);
		return ret;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		struct sl_backups_entry e = SL_BACKUPS_ENTRY_INIT;

		if (len != SL_BACKUPS_STAMP_LEN + 4 || strcmp(de->d_name + SL_BACKUPS_STAMP_LEN, ".ini"))
			continue;
		memcpy(e.stamp, de->d_name, SL_BACKUPS_STAMP_LEN);
		if (!sl_backups_stamp_valid(e.stamp))
			continue;
		sl_buf_reset(&p);
		sl_buf_addf(&p, "%s/%s", dir.buf, de->d_name);
		{
			struct sl_buf text = SL_BUF_INIT;

			if (sl_buf_read_file(&text, p.buf) < 0) {
				sl_buf_release(&text);
				continue;	/* pruned under us */
			}
			parse_record(&e, text.buf);
			sl_buf_release(&text);
		}
		v = sl_xrealloc(v, (nv + 1) * sizeof(*v));
		v[nv++] = e;
	}
	closedir(d);
	if (nv)
		qsort(v, nv, sizeof(*v), by_stamp);
	*out = v;
	*n = nv;
	sl_buf_release(&dir);
	sl_buf_release(&p);
	return 0;
}

void sl_backups_free(struct sl_backups_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sl_strv_clear(&v[i].keys);
	free(v);
}

/* The day (YYYYmmdd) or the ISO week (GGGGVV) of STAMP into OUT (9 bytes). */
static void period(const char *stamp, int week, char *out)
{
	struct tm tm;
	time_t t;

	if (!week) {
		memcpy(out, stamp, 8);
		out[8] = 0;
		return;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = atoi((char[]){ stamp[0], stamp[1], stamp[2], stamp[3], 0 }) - 1900;
	tm.tm_mon = atoi((char[]){ stamp[4], stamp[5], 0 }) - 1;
	tm.tm_mday = atoi((char[]){ stamp[6], stamp[7], 0 });
	tm.tm_hour = 12;
	t = timegm(&tm);
	gmtime_r(&t, &tm);
	strftime(out, 9, "%G%V", &tm);
}

/* Keeps the newest verified entry of each of the last LIMIT periods (days or weeks). */
static void keep_by(const struct sl_backups_entry *v, size_t n, size_t *order, long limit,
		    int week, int *keep)
{
	char last[9] = "", cur[9];
	long seen = 0;

	/* ORDER: the verified entries, newest first */
	for (size_t k = 0; k < n && seen <= limit; k++) {
		const struct sl_backups_entry *e = &v[order[k]];

		period(e->stamp, week, cur);
		if (!strcmp(cur, last))
			continue;
		memcpy(last, cur, sizeof(last));
		if (++seen > limit)
			break;
		keep[order[k]] = 1;
	}
}

void sl_backups_retain(const struct sl_backups_entry *v, size_t n, long keep_daily,
		       long keep_weekly, int *keep)
{
	size_t *order = sl_xmalloc((n ? n : 1) * sizeof(*order)), m = 0;

	for (size_t i = 0; i < n; i++) {
		keep[i] = v[i].status != SL_BACKUPS_VERIFIED;
		if (keep[i])
			continue;
		/* insertion by stamp, newest first */
		size_t k = m++;

		while (k > 0 && strcmp(v[order[k - 1]].stamp, v[i].stamp) < 0) {
			order[k] = order[k - 1];
			k--;
		}
		order[k] = i;
	}
	keep_by(v, m, order, keep_daily, 0, keep);
	keep_by(v, m, order, keep_weekly, 1, keep);
	free(order);
}

int sl_backups_prune(const char *app, long keep_daily, long keep_weekly,
		     struct sl_strv *pruned, struct sl_err *err)
{
	struct sl_backups_entry *v;
	struct sl_buf p = SL_BUF_INIT;
	size_t n;
	int *keep, ret = 0;

	if (sl_backups_list(app, &v, &n, err) < 0)
		return -1;
	keep = sl_xcalloc(n ? n : 1, sizeof(*keep));
	sl_backups_retain(v, n, keep_daily, keep_weekly, keep);
	for (size_t i = 0; i < n && !ret; i++) {
		if (keep[i])
			continue;
		if (unlink(sl_backups_path(&p, app, v[i].stamp, "ini")) < 0 ||
		    (unlink(sl_backups_path(&p, app, v[i].stamp, "tar.gz")) < 0 && errno != ENOENT))
			ret = sl_err_errno(err, "unable to remove %s", p.buf);
		else
			sl_strv_push(pruned, v[i].stamp);
	}
	free(keep);
	sl_backups_free(v, n);
	sl_buf_release(&p);
	return ret;
}

long sl_backups_keep(const char *app, const char *key, long dflt)
{
	struct sl_buf v = SL_BUF_INIT;
	long n = dflt;

	if (sl_backups_override(app, key, &v) > 0)
		n = atol(v.buf);
	sl_buf_release(&v);
	return n;
}

static const char *or_dash(const char *s)
{
	return s ? s : "-";
}

void sl_backups_line(struct sl_buf *out, const char *app, const struct sl_backups_entry *e)
{
	const char *r = sl_backups_get(e, "reason");

	sl_buf_reset(out);
	sl_buf_addf(out, "%s %s %s bytes=%s seconds=%s verified=%s", app, e->stamp,
		    sl_backups_status_name(e->status), or_dash(sl_backups_get(e, "bytes")),
		    or_dash(sl_backups_get(e, "seconds")), or_dash(sl_backups_get(e, "verified")));
	if (r)
		sl_buf_addf(out, " reason=%s", r);
}

int sl_backups_report_valid(const char *report)
{
	for (const char *l = report; *l; ) {
		size_t len = strcspn(l, "\n"), k = strspn(l, "abcdefghijklmnopqrstuvwxyz0123456789_");

		if (!k || k >= len || l[k] != '=')
			return 0;
		l += len + (l[len] == '\n');
	}
	return 1;
}

static void hex(const unsigned char *md, unsigned n, struct sl_buf *out)
{
	sl_buf_reset(out);
	for (unsigned i = 0; i < n; i++)
		sl_buf_addf(out, "%02x", md[i]);
}

/* FD's content into CTX, its size added to *BYTES: 0, or -1 with errno. */
static int digest_fd(int fd, EVP_MD_CTX *ctx, unsigned long long *bytes)
{
	char b[65536];
	ssize_t r;

	while ((r = read(fd, b, sizeof(b))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		EVP_DigestUpdate(ctx, b, (size_t)r);
		*bytes += (unsigned long long)r;
	}
	return 0;
}

int sl_backups_sha256_file(const char *path, struct sl_buf *out, unsigned long long *bytes,
			   struct sl_err *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx;
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), ret = -1;

	*bytes = 0;
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = errno == ELOOP ? sl_err_set(err, SL_EXIT_USAGE, "%s is a link: refused", path) :
			sl_err_errno(err, "unable to read %s", path);
		if (fd >= 0)
			close(fd);
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return sl_err_set(err, SL_EXIT_USAGE, "%s is not a file: refused", path);
	}
	ctx = EVP_MD_CTX_new();
	if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && digest_fd(fd, ctx, bytes) == 0 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen)) {
		hex(md, mdlen, out);
		ret = 0;
	} else {
		sl_err_errno(err, "unable to read %s", path);
	}
	EVP_MD_CTX_free(ctx);
	close(fd);
	return ret;
}

/* The tree walk of the child: entries relative to the tree, as "TYPE PATH". */
static struct sl_strv *walked;
static size_t walk_root;

static int walk_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)type;
	if (f->level == 0)
		return 0;
	sl_strv_pushf(walked, "%c %s", S_ISREG(st->st_mode) ? 'f' : S_ISDIR(st->st_mode) ? 'd' :
		      S_ISLNK(st->st_mode) ? 'l' : 'o', path + walk_root + 1);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a + 2, *(char *const *)b + 2);
}

/*
 * The report of DIR, written to OUT; runs in the child with the tree
 * owner's rights. Each entry adds "TYPE PATH\0" to the hash, a file then
 * its content's own SHA-256, a link its target.
 */
static int tree_child(const char *dir, int out)
{
	static struct sl_strv v = SL_STRV_INIT;
	struct sl_buf line = SL_BUF_INIT, sub = SL_BUF_INIT;
	unsigned long long bytes = 0, files = 0;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen;
	EVP_MD_CTX *all = EVP_MD_CTX_new();

	walked = &v;
	walk_root = strlen(dir);
	if (!all || !EVP_DigestInit_ex(all, EVP_sha256(), NULL) ||
	    nftw(dir, walk_one, 32, FTW_PHYS) != 0)
		return 1;
	qsort(v.v, v.n, sizeof(*v.v), by_name);
	for (size_t i = 0; i < v.n; i++) {
		const char *name = v.v[i] + 2;

		EVP_DigestUpdate(all, v.v[i], strlen(v.v[i]) + 1);
		sl_buf_reset(&sub);
		sl_buf_addf(&sub, "%s/%s", dir, name);
		if (v.v[i][0] == 'f') {
			unsigned long long b = 0;

			if (sl_backups_sha256_file(sub.buf, &line, &b, NULL) < 0)
				return 1;
			EVP_DigestUpdate(all, line.buf, line.len);
			bytes += b;
			files++;
		} else if (v.v[i][0] == 'l') {
			char target[4096];
			ssize_t r = readlink(sub.buf, target, sizeof(target));

			if (r < 0)
				return 1;
			EVP_DigestUpdate(all, target, (size_t)r);
		}
	}
	if (!EVP_DigestFinal_ex(all, md, &mdlen))
		return 1;
	hex(md, mdlen, &sub);
	sl_buf_reset(&line);
	sl_buf_addf(&line, "files=%llu\nbytes=%llu\nsha256=%s\n", files, bytes, sub.buf);
	return sl_file_write_all(out, line.buf, line.len) < 0;
}

int sl_backups_tree_report(const char *dir, uid_t uid, gid_t gid, struct sl_strv *report,
			   struct sl_err *err)
{
	struct sl_buf text = SL_BUF_INIT;
	int p[2], status;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return sl_err_errno(err, "unable to make a pipe");
	/*
	 * A function, not a program, in the child: it drops to the tree
	 * owner's rights for good before it reads anything, so a link or a
	 * rename in the tree leads nowhere that user could not go.
	 */
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return sl_err_errno(err, "unable to fork");
	}
	if (pid == 0) {
		close(p[0]);
		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0 ||
		    (uid != 0 && setuid(0) == 0))
			_exit(126);
		_exit(tree_child(dir, p[1]));
	}
	close(p[1]);
	sl_buf_read_fd(&text, p[0]);
	close(p[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		sl_buf_release(&text);
		return sl_err_set(err, SL_EXIT_TEMP, "unable to walk the tree %s", dir);
	}
	for (char *l = text.buf; *l; ) {
		size_t len = strcspn(l, "\n");

		sl_strv_pushn(report, l, len);
		l += len + (l[len] == '\n');
	}
	sl_buf_release(&text);
	return 0;
}
