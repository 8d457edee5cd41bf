/*
 * silverlining — instances on the node: names, and building one from an upload.
 *
 * The receiver trusts nothing it is sent. The manifest is checked whole
 * before anything is created (manifest.c); every entry is then created
 * beneath a fresh directory through a parent opened with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, so no name and no symlink made
 * earlier in the same upload can lead outside it; files are created with
 * O_EXCL, hashed as they are written and compared with the manifest.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "buf.h"
#include "exit.h"
#include "file.h"
#include "instance.h"
#include "manifest.h"
#include "mem.h"

#define MAX_MANIFEST ((size_t)64 << 20)

/* A small buffered reader over the upload stream. */
struct reader {
	int fd;
	size_t pos, len;
	char buf[1 << 16];
};

static int fill(struct reader *r, struct sl_err *err)
{
	ssize_t n;

	do
		n = read(r->fd, r->buf, sizeof(r->buf));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return sl_err_errno(err, "unable to read the upload");
	if (n == 0)
		return sl_err_set(err, SL_EXIT_TEMP, "the upload ended early");
	r->pos = 0;
	r->len = (size_t)n;
	return 0;
}

/* Reads a line of at most MAX bytes into OUT, without the newline. */
static int read_line(struct reader *r, struct sl_buf *out, size_t max,
		     struct sl_err *err)
{
	sl_buf_reset(out);
	for (;;) {
		char c;

		if (r->pos == r->len && fill(r, err) < 0)
			return -1;
		c = r->buf[r->pos++];
		if (c == '\n')
			return 0;
		if (out->len >= max)
			return sl_err_set(err, SL_EXIT_USAGE, "upload: a protocol line is too long");
		sl_buf_addch(out, c);
	}
}

/* Passes the next N bytes of the stream to FN. */
static int read_exact(struct reader *r, uint64_t n,
		      int (*fn)(void *ctx, const char *p, size_t len), void *ctx,
		      struct sl_err *err)
{
	while (n) {
		size_t chunk;

		if (r->pos == r->len && fill(r, err) < 0)
			return -1;
		chunk = r->len - r->pos;
		if (chunk > n)
			chunk = (size_t)n;
		if (fn(ctx, r->buf + r->pos, chunk) < 0)
			return sl_err_errno(err, "unable to write a received file");
		r->pos += chunk;
		n -= chunk;
	}
	return 0;
}

static int add_to_buf(void *ctx, const char *p, size_t len)
{
	sl_buf_add(ctx, p, len);
	return 0;
}

struct sink {
	int fd;
	EVP_MD_CTX *md;
};

static int to_file(void *ctx, const char *p, size_t len)
{
	struct sink *s = ctx;

	EVP_DigestUpdate(s->md, p, len);
	return sl_file_write_all(s->fd, p, len);
}

static int write_all(int fd, const char *p, size_t len, struct sl_err *err)
{
	if (sl_file_write_all(fd, p, len) < 0)
		return sl_err_errno(err, "unable to answer the laptop");
	return 0;
}

/* Where entries are created: a parent directory beneath the instance. */
struct builder {
	int inst;		/* the incoming directory */
	int parent;		/* fd of the directory named cur */
	struct sl_buf cur;
};

static int open_beneath(int dirfd, const char *path)
{
	struct open_how how = { 0 };

	how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* The parent fd of PATH and its last component. */
static int parent_of(struct builder *b, const char *path, const char **name,
		     struct sl_err *err)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash ? (size_t)(slash - path) : 0;

	*name = slash ? slash + 1 : path;
	if (!slash)
		return b->inst;
	if (b->parent >= 0 && b->cur.len == len && !memcmp(b->cur.buf, path, len))
		return b->parent;
	if (b->parent >= 0)
		close(b->parent);
	sl_buf_reset(&b->cur);
	sl_buf_add(&b->cur, path, len);
	b->parent = open_beneath(b->inst, b->cur.buf);
	if (b->parent < 0)
		return sl_err_errno(err, "upload: unable to open the directory %s", b->cur.buf);
	return b->parent;
}

/* A fresh listing of the directory DIRFD (a dup shares the offset: rewind). */
static DIR *list_dir(int dirfd)
{
	int fd = dup(dirfd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);

	if (!d) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	rewinddir(d);
	return d;
}

/* The previous instance's files, by content and mode, to link from. */
struct previous {
	int fd;
	struct sl_manifest m;
	struct sl_manifest_entry **files;
	size_t n;
};

static int cmp_file(const void *a, const void *b)
{
	const struct sl_manifest_entry *x = *(struct sl_manifest_entry *const *)a;
	const struct sl_manifest_entry *y = *(struct sl_manifest_entry *const *)b;
	int c = memcmp(x->hash, y->hash, SL_MANIFEST_HASH_LEN);

	return c ? c : (int)x->mode - (int)y->mode;
}

/*
 * The app's index, .index-APP: "instance NAME\n" and the manifest of
 * that instance, the newest. One per app, replaced at each upload, so
 * instances carry no copy of it. When it is missing, stale or names an
 * instance that is gone, nothing is linked: the upload is then whole,
 * never wrong.
 */
static void load_previous(struct previous *p, int instances, const char *app)
{
	struct sl_buf path = SL_BUF_INIT, text = SL_BUF_INIT;
	const char *nl;
	int fd;

	p->fd = -1;
	sl_buf_addf(&path, ".index-%s", app);
	fd = openat(instances, path.buf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || sl_buf_read_fd(&text, fd) < 0)
		goto out;
	nl = memchr(text.buf, '\n', text.len);
	if (!nl || strncmp(text.buf, "instance ", 9))
		goto out;
	sl_buf_reset(&path);
	sl_buf_add(&path, text.buf + 9, (size_t)(nl - text.buf - 9));
	if (!sl_instance_name_valid(path.buf) ||
	    sl_manifest_decode(&p->m, nl + 1, text.len - (size_t)(nl + 1 - text.buf),
			       &sl_manifest_default_limits, NULL) < 0) {
		sl_manifest_release(&p->m);
		goto out;
	}
	p->fd = openat(instances, path.buf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (p->fd < 0) {
		sl_manifest_release(&p->m);
		goto out;
	}
	p->files = sl_xcalloc(p->m.files + 1, sizeof(*p->files));
	for (size_t i = 0; i < p->m.n; i++)
		if (p->m.v[i].type == SL_MANIFEST_FILE)
			p->files[p->n++] = &p->m.v[i];
	qsort(p->files, p->n, sizeof(*p->files), cmp_file);
out:
	if (fd >= 0)
		close(fd);
	sl_buf_release(&path);
	sl_buf_release(&text);
}

/*
 * Records NAME, with its manifest TEXT, as APP's newest upload in the
 * store DIR. A config's index is the root's alone: it holds the hashes
 * of secrets.
 */
static int write_index(const char *dir, const char *app, const char *name,
		       const struct sl_buf *text, mode_t mode, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT, data = SL_BUF_INIT;
	int ret;

	sl_buf_addf(&path, "%s/.index-%s", dir, app);
	sl_buf_addf(&data, "instance %s\n", name);
	sl_buf_add(&data, text->buf, text->len);
	ret = sl_file_write(path.buf, data.buf, data.len, mode, SL_FILE_REPLACE, err);
	sl_buf_release(&path);
	sl_buf_release(&data);
	return ret;
}

static const struct sl_manifest_entry *find_previous(const struct previous *p,
						     const struct sl_manifest_entry *e)
{
	const struct sl_manifest_entry *key = e;
	struct sl_manifest_entry **hit;

	if (!p->n)
		return NULL;
	hit = bsearch(&key, p->files, p->n, sizeof(*p->files), cmp_file);
	return hit ? *hit : NULL;
}

static void release_previous(struct previous *p)
{
	if (p->fd >= 0)
		close(p->fd);
	free(p->files);
	sl_manifest_release(&p->m);
}

/* Lays out dirs, symlinks and linkable files; fills NEED with the rest. */
static int lay_out(struct builder *b, const struct sl_manifest *m,
		   const struct previous *prev, struct sl_buf *need,
		   size_t *nneed, struct sl_err *err)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct sl_manifest_entry *e = &m->v[i], *old;
		const char *name;
		int pfd = parent_of(b, e->path, &name, err);

		if (pfd < 0)
			return -1;
		switch (e->type) {
		case SL_MANIFEST_DIR:
			if (mkdirat(pfd, name, 0755) < 0)
				return sl_err_errno(err, "upload: unable to create %s", e->path);
			break;
		case SL_MANIFEST_LINK:
			if (symlinkat(e->target, pfd, name) < 0)
				return sl_err_errno(err, "upload: unable to create %s", e->path);
			break;
		case SL_MANIFEST_FILE:
			old = find_previous(prev, e);
			if (old && linkat(prev->fd, old->path, pfd, name, 0) == 0)
				break;
			sl_buf_addf(need, "%zu\n", i);
			(*nneed)++;
			break;
		}
	}
	return 0;
}

static int receive_file(struct builder *b, struct reader *r,
			const struct sl_manifest_entry *e, struct sl_err *err)
{
	unsigned char hash[SL_MANIFEST_HASH_LEN];
	struct sink s = { -1, EVP_MD_CTX_new() };
	const char *name;
	int pfd = parent_of(b, e->path, &name, err), ret = -1;

	if (pfd < 0 || !s.md)
		goto out;
	s.fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (s.fd < 0) {
		sl_err_errno(err, "upload: unable to create %s", e->path);
		goto out;
	}
	EVP_DigestInit_ex(s.md, EVP_sha256(), NULL);
	if (read_exact(r, e->size, to_file, &s, err) < 0)
		goto out;
	EVP_DigestFinal_ex(s.md, hash, NULL);
	if (memcmp(hash, e->hash, SL_MANIFEST_HASH_LEN)) {
		sl_err_set(err, SL_EXIT_TEMP,
			   "upload: %s does not match its hash (did it change during the upload?)",
			   e->path);
		goto out;
	}
	if (fchmod(s.fd, e->mode) < 0) {
		sl_err_errno(err, "upload: unable to set the mode of %s", e->path);
		goto out;
	}
	ret = 0;
out:
	if (s.fd >= 0)
		close(s.fd);
	EVP_MD_CTX_free(s.md);
	return ret;
}

/* "APP.YYYY-MM-DD_" for the UTC day of WHEN, onto OUT. */
static void day_prefix(struct sl_buf *out, const char *app, time_t when)
{
	struct tm tm;

	gmtime_r(&when, &tm);
	sl_buf_addf(out, "%s.%04d-%02d-%02d_", app, tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday);
}

/*
 * Today's next number for APP in INSTANCES (PREFIX: today's prefix), and
 * in *NEWEST (when not NULL) a copy of APP's newest instance name of any
 * day, or NULL. -1 with ERR when the directory cannot be read.
 */
static int next_number(int instances, const char *app, const char *prefix,
		       char **newest, struct sl_err *err)
{
	size_t plen = strlen(prefix), alen = strlen(app);
	struct dirent *de;
	int next = 1;
	DIR *d = list_dir(instances);

	if (!d)
		return sl_err_errno(err, "unable to list the instances");
	if (newest)
		*newest = NULL;
	while ((de = readdir(d))) {
		if (!sl_instance_name_valid(de->d_name) || strncmp(de->d_name, app, alen) ||
		    de->d_name[alen] != '.')
			continue;
		if (!strncmp(de->d_name, prefix, plen) && atoi(de->d_name + plen) >= next)
			next = atoi(de->d_name + plen) + 1;
		if (newest && (!*newest || strcmp(de->d_name, *newest) > 0)) {
			free(*newest);
			*newest = sl_xstrdup(de->d_name);
		}
	}
	closedir(d);
	return next;
}

/* Renames INCOMING to APP.DATE_NNN, NNN one more than today's highest. */
static int name_instance(int instances, const char *incoming, const char *app,
			 char **name, struct sl_err *err)
{
	struct sl_buf prefix = SL_BUF_INIT, final = SL_BUF_INIT;
	int next, ret = -1;

	day_prefix(&prefix, app, time(NULL));
	next = next_number(instances, app, prefix.buf, NULL, err);
	if (next < 0)
		goto out;
	for (;; next++) {
		if (next > 999) {
			sl_err_set(err, SL_EXIT_USAGE, "%s has 999 instances today already", app);
			goto out;
		}
		sl_buf_reset(&final);
		sl_buf_addf(&final, "%s%03d", prefix.buf, next);
		if (renameat2(instances, incoming, instances, final.buf, RENAME_NOREPLACE) == 0)
			break;
		if (errno != EEXIST) {
			sl_err_errno(err, "unable to name the instance %s", final.buf);
			goto out;
		}
	}
	if (fsync(instances) < 0) {
		sl_err_errno(err, "unable to sync the instances directory");
		goto out;
	}
	*name = sl_buf_detach(&final, NULL);
	ret = 0;
out:
	sl_buf_release(&prefix);
	sl_buf_release(&final);
	return ret;
}

/*
 * Whether AS may name APP's next instance on this node: an instance name
 * of APP, dated within a day of the node's UTC date (clocks of a fleet
 * may straddle midnight), and newer than every instance of APP here, so
 * that the newest name is still the newest upload. 0, or -1 with ERR (100).
 */
static int check_as(int instances, const char *app, const char *as, struct sl_err *err)
{
	size_t alen = strlen(app);
	time_t now = time(NULL);
	char *newest = NULL;
	int ok = 0;

	if (!sl_instance_name_valid(as) || strncmp(as, app, alen) || as[alen] != '.')
		return sl_err_set(err, SL_EXIT_USAGE, "--as %s: not an instance name of %s "
				  "(%s.YYYY-MM-DD_NNN)", as, app, app);
	for (int day = -1; day <= 1 && !ok; day++) {
		struct sl_buf prefix = SL_BUF_INIT;

		day_prefix(&prefix, app, now + day * 86400);
		ok = !strncmp(as, prefix.buf, prefix.len);
		sl_buf_release(&prefix);
	}
	if (!ok)
		return sl_err_set(err, SL_EXIT_USAGE, "--as %s: not dated within a day "
				  "of this node's date (UTC)", as);
	if (next_number(instances, app, "", &newest, err) < 0)
		return -1;
	if (newest && strcmp(as, newest) <= 0) {
		sl_err_set(err, SL_EXIT_USAGE, "--as %s: %s is taken or older than %s, "
			   "the newest here", as, as, newest);
		free(newest);
		return -1;
	}
	free(newest);
	return 0;
}

/* Takes APP's build lock and removes what interrupted builds left. */
static int lock_app(int instances, const char *app, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT, stale = SL_BUF_INIT;
	struct dirent *de;
	int fd;
	DIR *d;

	sl_buf_addf(&path, ".lock-%s", app);
	fd = openat(instances, path.buf, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	sl_buf_release(&path);
	if (fd < 0)
		return sl_err_errno(err, "unable to open the lock of %s", app);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			close(fd);
			return sl_err_errno(err, "unable to lock %s", app);
		}
	sl_buf_addf(&stale, ".incoming-%s-", app);
	d = list_dir(instances);
	while (d && (de = readdir(d)))
		if (!strncmp(de->d_name, stale.buf, stale.len) &&
		    de->d_name[stale.len] &&
		    strspn(de->d_name + stale.len, "0123456789") == strlen(de->d_name + stale.len) &&
		    sl_file_remove_tree(instances, de->d_name, err) < 0) {
			closedir(d);
			close(fd);
			sl_buf_release(&stale);
			return -1;
		}
	if (d)
		closedir(d);
	sl_buf_release(&stale);
	return fd;
}

static int finish_build(struct builder *b, struct reader *r, struct sl_err *err)
{
	struct sl_buf line = SL_BUF_INIT;
	int ret = -1;

	if (read_line(r, &line, 16, err) < 0)
		goto out;
	if (strcmp(line.buf, "end")) {
		sl_err_set(err, SL_EXIT_USAGE, "upload: expected the end of the upload");
		goto out;
	}
	/* one syncfs instead of an fsync per file: same guarantee, far fewer waits */
	if (syncfs(b->inst) < 0) {
		sl_err_errno(err, "unable to sync the instance");
		goto out;
	}
	ret = 0;
out:
	sl_buf_release(&line);
	return ret;
}

/*
 * Where uploads of one kind go: ROOT/instances, or
 * ROOT/configs, whose uploads are named after their instance and stay
 * the root's until sl-activate gives one to its app's group.
 */
struct store {
	const char *dir;
	mode_t dir_mode, build_mode, index_mode;
	const char *fixed;	/* the name to take, or NULL: APP.DATE_NNN */
	int check_as;		/* FIXED is an instance name the laptop chose */
};

/* Renames INCOMING to S's fixed name, which must be free. */
static int name_fixed(int dirfd, const char *incoming, const char *fixed,
		      char **name, struct sl_err *err)
{
	if (renameat2(dirfd, incoming, dirfd, fixed, RENAME_NOREPLACE) < 0)
		return errno == EEXIST ?
			sl_err_set(err, SL_EXIT_USAGE, "%s exists already", fixed) :
			sl_err_errno(err, "unable to name %s", fixed);
	if (fsync(dirfd) < 0)
		return sl_err_errno(err, "unable to sync the directory of %s", fixed);
	*name = sl_xstrdup(fixed);
	return 0;
}

static int receive(const char *root, const struct store *st, const char *app,
		   int in_fd, int out_fd, char **name, struct sl_err *err)
{
	struct reader *r = sl_xcalloc(1, sizeof(*r));
	struct builder b = { -1, -1, SL_BUF_INIT };
	struct sl_manifest m = SL_MANIFEST_INIT;
	struct previous prev = { -1, SL_MANIFEST_INIT, NULL, 0 };
	struct sl_buf line = SL_BUF_INIT, text = SL_BUF_INIT, need = SL_BUF_INIT;
	struct sl_buf path = SL_BUF_INIT, incoming = SL_BUF_INIT;
	int instances = -1, lock = -1, ret = -1;
	size_t nneed = 0;
	char *end;
	unsigned long long size;

	r->fd = in_fd;
	if (!sl_app_name_valid(app)) {
		sl_err_set(err, SL_EXIT_USAGE, "invalid app name '%s'", app);
		goto out;
	}
	sl_buf_addf(&path, "%s/%s", root, st->dir);
	if (sl_file_mkdirs(path.buf, st->dir_mode, err) < 0)
		goto out;
	instances = open(path.buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (instances >= 0 && fchmod(instances, st->dir_mode) < 0) {
		sl_err_errno(err, "unable to set the mode of %s", path.buf);
		goto out;
	}
	if (instances < 0) {
		sl_err_errno(err, "unable to open %s", path.buf);
		goto out;
	}
	lock = lock_app(instances, app, err);
	if (lock < 0)
		goto out;
	/* under the lock: the name stays free and newest until the rename */
	if (st->check_as && check_as(instances, app, st->fixed, err) < 0)
		goto out;

	if (read_line(r, &line, 64, err) < 0)
		goto out;
	if (strncmp(line.buf, "manifest ", 9) ||
	    !isdigit((unsigned char)line.buf[9]) ||
	    (size = strtoull(line.buf + 9, &end, 10), *end) || size > MAX_MANIFEST) {
		sl_err_set(err, SL_EXIT_USAGE, "upload: expected 'manifest BYTES' (at most %zu)",
			   MAX_MANIFEST);
		goto out;
	}
	if (read_exact(r, size, add_to_buf, &text, err) < 0 ||
	    sl_manifest_decode(&m, text.buf, text.len, &sl_manifest_default_limits, err) < 0)
		goto out;

	load_previous(&prev, instances, app);
	sl_buf_addf(&incoming, ".incoming-%s-%ld", app, (long)getpid());
	if (mkdirat(instances, incoming.buf, st->build_mode) < 0) {
		sl_err_errno(err, "unable to create %s/%s", path.buf, incoming.buf);
		goto out;
	}
	b.inst = openat(instances, incoming.buf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (b.inst < 0) {
		sl_err_errno(err, "unable to open %s", incoming.buf);
		goto fail;
	}
	if (lay_out(&b, &m, &prev, &need, &nneed, err) < 0)
		goto fail;
	sl_buf_reset(&line);
	sl_buf_addf(&line, "need %zu\n", nneed);
	if (write_all(out_fd, line.buf, line.len, err) < 0 ||
	    write_all(out_fd, need.buf, need.len, err) < 0)
		goto fail;
	for (const char *p = need.buf; *p; p = strchr(p, '\n') + 1)
		if (receive_file(&b, r, &m.v[strtoul(p, NULL, 10)], err) < 0)
			goto fail;
	/* the whole tree is there: now symlinks can be resolved for real */
	if (sl_manifest_check_links(&m, b.inst, err) < 0)
		goto fail;
	if (finish_build(&b, r, err) < 0 ||
	    (st->fixed ? name_fixed(instances, incoming.buf, st->fixed, name, err) :
	     name_instance(instances, incoming.buf, app, name, err)) < 0)
		goto fail;
	/* the upload is complete; an index not updated only costs links */
	write_index(path.buf, app, *name, &text, st->index_mode, NULL);
	sl_buf_reset(&line);
	sl_buf_addf(&line, "instance %s\n", *name);
	if (write_all(out_fd, line.buf, line.len, err) < 0)
		goto out;
	ret = 0;
	goto out;
fail:
	sl_file_remove_tree(instances, incoming.buf, NULL);
out:
	if (b.parent >= 0)
		close(b.parent);
	if (b.inst >= 0)
		close(b.inst);
	sl_buf_release(&b.cur);
	if (lock >= 0)
		close(lock);
	if (instances >= 0)
		close(instances);
	release_previous(&prev);
	sl_manifest_release(&m);
	sl_buf_release(&line);
	sl_buf_release(&text);
	sl_buf_release(&need);
	sl_buf_release(&path);
	sl_buf_release(&incoming);
	free(r);
	return ret;
}

int sl_instance_receive(const char *root, const char *app, int in_fd,
			int out_fd, char **name, struct sl_err *err)
{
	return sl_instance_receive_as(root, app, NULL, in_fd, out_fd, name, err);
}

int sl_instance_receive_as(const char *root, const char *app, const char *as,
			   int in_fd, int out_fd, char **name, struct sl_err *err)
{
	/*
	 * Built and named root's alone: sl-activate gives an instance to its
	 * app's group (and static/ to all) once the app's user exists. Others
	 * may pass through ROOT/instances, not list it.
	 */
	struct store instances = { "instances", 0711, 0700, 0600, as, as != NULL };

	return receive(root, &instances, app, in_fd, out_fd, name, err);
}

int sl_instance_next(const char *root, const char *app, char **name, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT, prefix = SL_BUF_INIT;
	int instances, next, lock;

	if (!sl_app_name_valid(app))
		return sl_err_set(err, SL_EXIT_USAGE, "invalid app name '%s'", app);
	sl_buf_addf(&path, "%s/instances", root);
	instances = open(path.buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (instances < 0 && errno != ENOENT) {
		sl_err_errno(err, "unable to open %s", path.buf);
		sl_buf_release(&path);
		return -1;
	}
	sl_buf_release(&path);
	day_prefix(&prefix, app, time(NULL));
	next = 1;
	if (instances >= 0) {
		/* an upload under way names itself: wait for it */
		lock = lock_app(instances, app, err);
		next = lock < 0 ? -1 : next_number(instances, app, prefix.buf, NULL, err);
		if (lock >= 0)
			close(lock);
		close(instances);
	}
	if (next < 0 || next > 999) {
		if (next > 999)
			sl_err_set(err, SL_EXIT_USAGE, "%s has 999 instances today already", app);
		sl_buf_release(&prefix);
		return -1;
	}
	sl_buf_addf(&prefix, "%03d", next);
	*name = sl_buf_detach(&prefix, NULL);
	return 0;
}

/* The tree SRC again beneath DST (PATH: where, for messages); see sl_instance_copy(). */
static int copy_tree(int src, int dst, struct sl_buf *path, struct sl_err *err)
{
	size_t len = path->len;
	struct dirent *de;
	DIR *d = list_dir(src);
	int ret = 0;

	if (!d)
		return sl_err_errno(err, "unable to list %s", path->buf);
	while (ret == 0 && (de = readdir(d))) {
		const char *n = de->d_name;
		struct stat st;

		if (!strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		sl_buf_setlen(path, len);
		sl_buf_addf(path, "/%s", n);
		if (fstatat(src, n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			ret = sl_err_errno(err, "unable to read %s", path->buf);
		} else if (S_ISREG(st.st_mode)) {
			if (linkat(src, n, dst, n, 0) < 0)
				ret = sl_err_errno(err, "unable to link %s", path->buf);
		} else if (S_ISLNK(st.st_mode)) {
			char *target = sl_xcalloc(1, (size_t)st.st_size + 2);
			ssize_t got = readlinkat(src, n, target, (size_t)st.st_size + 1);

			if (got < 0 || got > st.st_size || symlinkat(target, dst, n) < 0 ||
			    fchownat(dst, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
				ret = sl_err_errno(err, "unable to copy the symlink %s", path->buf);
			free(target);
		} else if (S_ISDIR(st.st_mode)) {
			int from = -1, to = -1;

			if (mkdirat(dst, n, 0700) < 0 ||
			    (from = openat(src, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
			    (to = openat(dst, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
				ret = sl_err_errno(err, "unable to copy the directory %s", path->buf);
			else if ((ret = copy_tree(from, to, path, err)) == 0 &&
				 (fchown(to, st.st_uid, st.st_gid) < 0 ||
				  fchmod(to, st.st_mode & 07777) < 0))
				ret = sl_err_errno(err, "unable to set the owner and mode of %s", path->buf);
			if (from >= 0)
				close(from);
			if (to >= 0)
				close(to);
		} else {
			ret = sl_err_set(err, SL_EXIT_TEMP, "%s is not a file, a directory or a symlink: "
					 "not copied", path->buf);
		}
	}
	closedir(d);
	sl_buf_setlen(path, len);
	return ret;
}

/* The index of APP follows FROM to NAME (a copy of it); a failure only costs links. */
static void index_follows(const char *dir, int instances, const char *app, const char *from,
			  const char *name)
{
	struct sl_buf path = SL_BUF_INIT, text = SL_BUF_INIT, head = SL_BUF_INIT;
	int fd;

	sl_buf_addf(&path, ".index-%s", app);
	sl_buf_addf(&head, "instance %s\n", from);
	fd = openat(instances, path.buf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && sl_buf_read_fd(&text, fd) >= 0 &&
	    text.len >= head.len && !memcmp(text.buf, head.buf, head.len)) {
		struct sl_buf rest = SL_BUF_INIT;

		sl_buf_add(&rest, text.buf + head.len, text.len - head.len);
		write_index(dir, app, name, &rest, 0600, NULL);
		sl_buf_release(&rest);
	}
	if (fd >= 0)
		close(fd);
	sl_buf_release(&path);
	sl_buf_release(&text);
	sl_buf_release(&head);
}

int sl_instance_copy(const char *root, const char *from, char **name, struct sl_err *err)
{
	struct sl_buf dir = SL_BUF_INIT, incoming = SL_BUF_INIT, where = SL_BUF_INIT;
	int instances = -1, lock = -1, src = -1, dst = -1, ret = -1;
	char *app;
	struct stat st;

	if (!sl_instance_name_valid(from))
		return sl_err_set(err, SL_EXIT_USAGE, "invalid instance name '%s'", from);
	app = sl_xstrndup(from, (size_t)(strrchr(from, '.') - from));
	sl_buf_addf(&dir, "%s/instances", root);
	instances = open(dir.buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (instances < 0) {
		sl_err_errno(err, "unable to open %s", dir.buf);
		goto out;
	}
	if ((lock = lock_app(instances, app, err)) < 0)
		goto out;
	src = openat(instances, from, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (src < 0 || fstat(src, &st) < 0) {
		sl_err_set(err, errno == ENOENT ? SL_EXIT_USAGE : SL_EXIT_TEMP,
			   "no instance %s on this node (%s)", from, strerror(errno));
		goto out;
	}
	sl_buf_addf(&incoming, ".incoming-%s-%ld", app, (long)getpid());
	if (mkdirat(instances, incoming.buf, 0700) < 0) {
		sl_err_errno(err, "unable to create %s/%s", dir.buf, incoming.buf);
		goto out;
	}
	dst = openat(instances, incoming.buf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	sl_buf_addf(&where, "%s/%s", dir.buf, from);
	if (dst < 0) {
		sl_err_errno(err, "unable to open %s", incoming.buf);
	} else if (copy_tree(src, dst, &where, err) == 0) {
		if (fchown(dst, st.st_uid, st.st_gid) < 0 || fchmod(dst, st.st_mode & 07777) < 0)
			sl_err_errno(err, "unable to set the owner and mode of the copy of %s", from);
		else if (syncfs(dst) < 0)
			sl_err_errno(err, "unable to sync the copy of %s", from);
		else if (name_instance(instances, incoming.buf, app, name, err) == 0)
			ret = 0;
	}
	if (ret < 0)
		sl_file_remove_tree(instances, incoming.buf, NULL);
	else
		index_follows(dir.buf, instances, app, from, *name);
out:
	if (dst >= 0)
		close(dst);
	if (src >= 0)
		close(src);
	if (lock >= 0)
		close(lock);
	if (instances >= 0)
		close(instances);
	free(app);
	sl_buf_release(&dir);
	sl_buf_release(&incoming);
	sl_buf_release(&where);
	return ret;
}

int sl_config_receive(const char *root, const char *instance, int in_fd,
		      int out_fd, struct sl_err *err)
{
	struct store configs = { "configs", 0711, 0700, 0600, instance, 0 };
	char *app, *name = NULL;
	int ret;

	if (!sl_instance_name_valid(instance))
		return sl_err_set(err, SL_EXIT_USAGE, "invalid instance name '%s'", instance);
	app = sl_xstrndup(instance, (size_t)(strrchr(instance, '.') - instance));
	ret = receive(root, &configs, app, in_fd, out_fd, &name, err);
	free(app);
	free(name);
	return ret;
}

int sl_instance_show(const char *root, const char *instance, int in_fd,
		     int out_fd, struct sl_err *err)
{
	struct reader *r = sl_xcalloc(1, sizeof(*r));
	struct sl_ignore ign = SL_IGNORE_INIT;
	struct sl_manifest m = SL_MANIFEST_INIT;
	struct sl_strv skipped = SL_STRV_INIT, want = SL_STRV_INIT;
	struct sl_buf dir = SL_BUF_INIT, wire = SL_BUF_INIT, line = SL_BUF_INIT;
	struct sl_buf data = SL_BUF_INIT;
	int dfd = -1, ret = -1;

	r->fd = in_fd;
	if (!sl_instance_name_valid(instance)) {
		sl_err_set(err, SL_EXIT_USAGE, "invalid instance name '%s'", instance);
		goto out;
	}
	sl_buf_addf(&dir, "%s/instances/%s", root, instance);
	dfd = open(dir.buf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		sl_err_set(err, errno == ENOENT ? SL_EXIT_USAGE : SL_EXIT_TEMP,
			   "unable to open %s: %s", dir.buf, strerror(errno));
		goto out;
	}
	/* the upload's own rules: what was sent is what is listed */
	if (sl_ignore_load(&ign, dir.buf, err) < 0 ||
	    sl_manifest_scan(&m, dir.buf, &ign, &skipped, err) < 0)
		goto out;
	sl_manifest_encode(&m, &wire);
	sl_buf_addf(&line, "instance %s\nmanifest %zu\n", instance, wire.len);
	if (write_all(out_fd, line.buf, line.len, err) < 0 ||
	    write_all(out_fd, wire.buf, wire.len, err) < 0)
		goto out;
	/* every request first, then the answers: neither side waits on the other */
	for (;;) {
		int rc;

		sl_buf_reset(&line);
		if (r->pos == r->len) {
			ssize_t n = read(r->fd, r->buf, sizeof(r->buf));

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				sl_err_errno(err, "unable to read the requests");
				goto out;
			}
			if (n == 0)
				break;
			r->pos = 0;
			r->len = (size_t)n;
		}
		rc = read_line(r, &line, 4096 + 64, err);
		if (rc < 0)
			goto out;
		sl_strv_push(&want, line.buf);
	}
	for (size_t i = 0; i < want.n; i++) {
		long k = sl_manifest_find(&m, want.v[i]);
		int fd;

		sl_buf_reset(&data);
		sl_buf_reset(&line);
		fd = k >= 0 && m.v[k].type == SL_MANIFEST_FILE ?
			openat(dfd, want.v[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
		if (fd < 0 || sl_buf_read_fd(&data, fd) < 0) {
			sl_buf_adds(&line, "none\n");
		} else {
			sl_buf_addf(&line, "file %zu\n", data.len);
		}
		if (fd >= 0)
			close(fd);
		if (write_all(out_fd, line.buf, line.len, err) < 0 ||
		    (*line.buf == 'f' && write_all(out_fd, data.buf, data.len, err) < 0))
			goto out;
	}
	ret = 0;
out:
	if (dfd >= 0)
		close(dfd);
	sl_ignore_release(&ign);
	sl_manifest_release(&m);
	sl_strv_clear(&skipped);
	sl_strv_clear(&want);
	sl_buf_release(&dir);
	sl_buf_release(&wire);
	sl_buf_release(&line);
	sl_buf_release(&data);
	free(r);
	return ret;
}
