/* silverlining — the manifest of an app tree: what sl-sync compares and sends. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "exit.h"
#include "manifest.h"
#include "mem.h"

const struct sl_manifest_limits sl_manifest_default_limits = {
	.max_entries = 200000,
	.max_file = (uint64_t)4 << 30,
	.max_total = (uint64_t)16 << 30,
	.max_path = 1024,
	.max_depth = 64,
};

static const char *const always_ignored[] = {
	".git", ".hg", ".svn", ".bzr", "_darcs", "CVS", "__pycache__",
	"*.pyc", "*.pyo", "*~", ".*.swp", ".*.swo", "#*#", ".#*", ".DS_Store",
	NULL,
};

int sl_ignore_load(struct sl_ignore *ign, const char *dir, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT, text = SL_BUF_INIT;
	char *line, *save = NULL;

	sl_buf_addf(&path, "%s/.silverignore", dir);
	if (sl_buf_read_file(&text, path.buf) < 0) {
		int ret = errno == ENOENT ? 0 :
			sl_err_errno(err, "unable to read %s", path.buf);

		sl_buf_release(&path);
		sl_buf_release(&text);
		return ret;
	}
	for (line = strtok_r(text.buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t n;

		line += strspn(line, " \t");
		n = strlen(line);
		while (n && strchr(" \t\r", line[n - 1]))
			line[--n] = '\0';
		if (!n || *line == '#')
			continue;
		sl_strv_push(&ign->patterns, line);
	}
	sl_buf_release(&path);
	sl_buf_release(&text);
	return 0;
}

static int match_one(const char *pat, const char *path, int isdir)
{
	size_t n = strlen(pat);
	const char *base = strrchr(path, '/');
	char *p;
	int hit;

	if (n && pat[n - 1] == '/') {
		if (!isdir)
			return 0;
		n--;
	}
	p = sl_xstrndup(pat, n);
	if (memchr(p, '/', n))	/* anchored at the app's root */
		hit = !fnmatch(p + (p[0] == '/'), path, FNM_PATHNAME);
	else
		hit = !fnmatch(p, base ? base + 1 : path, 0);
	free(p);
	return hit;
}

int sl_ignore_match(const struct sl_ignore *ign, const char *path, int isdir)
{
	if (!strcmp(path, "silver-logs"))
		return 1;
	for (size_t i = 0; always_ignored[i]; i++)
		if (match_one(always_ignored[i], path, isdir))
			return 1;
	for (size_t i = 0; i < ign->patterns.n; i++)
		if (match_one(ign->patterns.v[i], path, isdir))
			return 1;
	return 0;
}

void sl_ignore_release(struct sl_ignore *ign)
{
	sl_strv_clear(&ign->patterns);
}

static int has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

int sl_manifest_path_valid(const char *path)
{
	const char *p = path;

	if (!*path || *path == '/' || has_control(path))
		return 0;
	if (!strcmp(path, ".silverlining") || !strncmp(path, ".silverlining/", 14))
		return 0;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 0 || n > 255 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += n;
		if (*p == '/' && !*++p)
			return 0;	/* trailing slash */
	}
	return 1;
}

int sl_manifest_link_inside(const char *path, const char *target)
{
	long depth = 0;
	const char *p;

	if (!*target || *target == '/' || has_control(target))
		return 0;
	for (p = path; *p; p++)	/* the link's directory depth */
		depth += *p == '/';
	for (p = target; *p; ) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return 0;
		} else if (n && !(n == 1 && p[0] == '.')) {
			depth++;
		}
		p += n;
		p += *p == '/';
	}
	return 1;
}

static struct sl_manifest_entry *add(struct sl_manifest *m)
{
	struct sl_manifest_entry *e;

	if (m->n == m->alloc) {
		m->alloc = sl_alloc_nr(m->alloc, m->n + 1);
		m->v = sl_xrealloc(m->v, m->alloc * sizeof(*m->v));
	}
	e = &m->v[m->n++];
	memset(e, 0, sizeof(*e));
	return e;
}

static int hash_file(int dirfd, const char *name, const char *path,
		     uint64_t size, unsigned char *hash, struct sl_err *err)
{
	static unsigned char buf[1 << 17];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	uint64_t total = 0;
	ssize_t n;
	int ret = -1;

	if (!ctx)
		return sl_err_set(err, SL_EXIT_TEMP, "out of memory");
	if (fd < 0) {
		sl_err_errno(err, "unable to read %s", path);
		goto out;
	}
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sl_err_errno(err, "unable to read %s", path);
			goto out;
		}
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		total += (uint64_t)n;
	}
	if (total != size) {
		sl_err_set(err, SL_EXIT_TEMP, "%s changed while it was read; try again", path);
		goto out;
	}
	EVP_DigestFinal_ex(ctx, hash, NULL);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(ctx);
	return ret;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int scan_dir(struct sl_manifest *m, int fd, struct sl_buf *path,
		    const struct sl_ignore *ign, struct sl_strv *skipped,
		    struct sl_err *err)
{
	DIR *d = fdopendir(fd);
	struct sl_strv names = SL_STRV_INIT;
	struct dirent *de;
	size_t base = path->len;
	int ret = 0, dfd;

	if (!d) {
		close(fd);
		return sl_err_errno(err, "unable to read %s", path->buf);
	}
	dfd = dirfd(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			sl_strv_push(&names, de->d_name);
	qsort(names.v, names.n, sizeof(*names.v), cmp_names);
	for (size_t i = 0; i < names.n && !ret; i++) {
		const char *name = names.v[i];
		struct sl_manifest_entry *e;
		struct stat st;
		char *rel;

		sl_buf_setlen(path, base);
		if (base)
			sl_buf_addch(path, '/');
		sl_buf_adds(path, name);
		rel = path->buf;
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			ret = sl_err_errno(err, "unable to read %s", rel);
			break;
		}
		if (sl_ignore_match(ign, rel, S_ISDIR(st.st_mode)))
			continue;
		if (has_control(rel)) {
			ret = sl_err_set(err, SL_EXIT_USAGE,
					 "a name with a control character (a newline?) cannot be uploaded: '%s'",
					 rel);
			break;
		}
		if (!base && !strcmp(name, ".silverlining")) {
			ret = sl_err_set(err, SL_EXIT_USAGE,
					 ".silverlining is reserved for the node's own records; rename it");
			break;
		}
		if (!sl_manifest_path_valid(rel)) {
			ret = sl_err_set(err, SL_EXIT_USAGE, "'%s' cannot be uploaded: its name is not valid", rel);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dfd, name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			e = add(m);
			e->type = SL_MANIFEST_DIR;
			e->mode = 0755;
			e->path = sl_xstrdup(rel);
			if (sub < 0)
				ret = sl_err_errno(err, "unable to read %s", rel);
			else
				ret = scan_dir(m, sub, path, ign, skipped, err);
		} else if (S_ISREG(st.st_mode)) {
			e = add(m);
			e->type = SL_MANIFEST_FILE;
			e->mode = st.st_mode & 0111 ? 0755 : 0644;
			e->size = (uint64_t)st.st_size;
			e->path = sl_xstrdup(rel);
			m->files++;
			m->file_bytes += e->size;
			ret = hash_file(dfd, name, rel, e->size, e->hash, err);
		} else if (S_ISLNK(st.st_mode)) {
			struct sl_buf t = SL_BUF_INIT;
			ssize_t n;

			sl_buf_grow(&t, (size_t)st.st_size + 1);
			n = readlinkat(dfd, name, t.buf, t.alloc - 1);
			if (n < 0) {
				sl_buf_release(&t);
				ret = sl_err_errno(err, "unable to read the link %s", rel);
				break;
			}
			sl_buf_setlen(&t, (size_t)n);
			if (!sl_manifest_link_inside(rel, t.buf)) {
				ret = sl_err_set(err, SL_EXIT_USAGE,
						 "the symlink %s -> %s points outside the app; only links inside it can be uploaded",
						 rel, t.buf);
				sl_buf_release(&t);
				break;
			}
			e = add(m);
			e->type = SL_MANIFEST_LINK;
			e->mode = 0777;
			e->size = t.len;
			e->path = sl_xstrdup(rel);
			e->target = sl_buf_detach(&t, NULL);
		} else {
			sl_strv_push(skipped, rel);
		}
	}
	sl_buf_setlen(path, base);
	sl_strv_clear(&names);
	closedir(d);
	return ret;
}

int sl_manifest_scan(struct sl_manifest *m, const char *dir,
		     const struct sl_ignore *ign, struct sl_strv *skipped,
		     struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return sl_err_errno(err, "unable to read %s", dir);
	ret = scan_dir(m, fd, &path, ign, skipped, err);
	if (!ret) {
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ret = fd < 0 ? sl_err_errno(err, "unable to read %s", dir) :
			sl_manifest_check_links(m, fd, err);
		if (fd >= 0)
			close(fd);
	}
	sl_buf_release(&path);
	return ret;
}

void sl_manifest_hex(const unsigned char *hash, char *out)
{
	for (size_t i = 0; i < SL_MANIFEST_HASH_LEN; i++) {
		out[2 * i] = "0123456789abcdef"[hash[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[hash[i] & 15];
	}
	out[2 * SL_MANIFEST_HASH_LEN] = '\0';
}

void sl_manifest_encode(const struct sl_manifest *m, struct sl_buf *out)
{
	char hex[2 * SL_MANIFEST_HASH_LEN + 1];

	for (size_t i = 0; i < m->n; i++) {
		const struct sl_manifest_entry *e = &m->v[i];

		if (e->type == SL_MANIFEST_FILE)
			sl_manifest_hex(e->hash, hex);
		else
			hex[0] = '\0';
		sl_buf_addf(out, "%c%c%o%c%llu%c%s%c", e->type, 0, e->mode, 0,
			    (unsigned long long)e->size, 0, hex, 0);
		sl_buf_add(out, e->path, strlen(e->path) + 1);
		if (e->target)
			sl_buf_adds(out, e->target);
		sl_buf_addch(out, '\0');
	}
}

static int unhex(const char *s, unsigned char *out)
{
	if (strlen(s) != 2 * SL_MANIFEST_HASH_LEN)
		return -1;
	for (size_t i = 0; i < SL_MANIFEST_HASH_LEN; i++) {
		int v = 0;

		for (int j = 0; j < 2; j++) {
			char c = s[2 * i + j];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= c - '0';
			else if (c >= 'a' && c <= 'f')
				v |= c - 'a' + 10;
			else
				return -1;
		}
		out[i] = (unsigned char)v;
	}
	return 0;
}

long sl_manifest_find(const struct sl_manifest *m, const char *path)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->v[i].path, path))
			return (long)i;
	return -1;
}

struct seen {
	const char *path;
	size_t index;
	char type;
};

static int cmp_seen(const void *a, const void *b)
{
	return strcmp(((const struct seen *)a)->path, ((const struct seen *)b)->path);
}

/* Every path unique, every parent an earlier directory of the manifest. */
static int check_tree(const struct sl_manifest *m, struct sl_err *err)
{
	struct seen *s = sl_xcalloc(m->n, sizeof(*s));
	int ret = 0;

	for (size_t i = 0; i < m->n; i++) {
		s[i].path = m->v[i].path;
		s[i].index = i;
		s[i].type = m->v[i].type;
	}
	qsort(s, m->n, sizeof(*s), cmp_seen);
	for (size_t i = 1; i < m->n && !ret; i++)
		if (!strcmp(s[i - 1].path, s[i].path))
			ret = sl_err_set(err, SL_EXIT_USAGE,
					 "manifest: '%s' is listed twice", s[i].path);
	for (size_t i = 0; i < m->n && !ret; i++) {
		const char *path = m->v[i].path, *slash = strrchr(path, '/');
		struct seen key, *parent;
		char *dir;

		if (!slash)
			continue;
		dir = sl_xstrndup(path, (size_t)(slash - path));
		key.path = dir;
		parent = bsearch(&key, s, m->n, sizeof(*s), cmp_seen);
		if (!parent || parent->type != SL_MANIFEST_DIR || parent->index > i)
			ret = sl_err_set(err, SL_EXIT_USAGE,
					 "manifest: the parent of '%s' is not a directory listed before it",
					 path);
		free(dir);
	}
	free(s);
	return ret;
}

int sl_manifest_decode(struct sl_manifest *m, const char *data, size_t len,
		       const struct sl_manifest_limits *lim, struct sl_err *err)
{
	const char *p = data, *end = data + len;
	uint64_t total = 0;

	if (len && data[len - 1] != '\0')
		return sl_err_set(err, SL_EXIT_USAGE, "manifest: truncated");
	while (p < end) {
		const char *f[6];
		struct sl_manifest_entry *e;
		char *stop;
		unsigned long long size;
		unsigned long mode;
		size_t depth = 1;

		for (int i = 0; i < 6; i++) {
			if (p >= end)
				return sl_err_set(err, SL_EXIT_USAGE, "manifest: truncated record");
			f[i] = p;
			p += strlen(p) + 1;
		}
		if (m->n >= lim->max_entries)
			return sl_err_set(err, SL_EXIT_USAGE,
					  "manifest: more than %zu entries", lim->max_entries);
		if (strlen(f[4]) > lim->max_path || !sl_manifest_path_valid(f[4]))
			return sl_err_set(err, SL_EXIT_USAGE,
					  "manifest: refused name '%.200s'", f[4]);
		for (const char *q = f[4]; *q; q++)
			depth += *q == '/';
		if (depth > lim->max_depth)
			return sl_err_set(err, SL_EXIT_USAGE,
					  "manifest: '%.200s' is nested too deep", f[4]);
		mode = strtoul(f[1], &stop, 8);
		if (*stop || !*f[1])
			return sl_err_set(err, SL_EXIT_USAGE, "manifest: bad mode for '%s'", f[4]);
		size = strtoull(f[2], &stop, 10);
		if (*stop || !*f[2] || f[2][0] == '-')
			return sl_err_set(err, SL_EXIT_USAGE, "manifest: bad size for '%s'", f[4]);
		e = add(m);
		e->path = sl_xstrdup(f[4]);
		e->type = f[0][1] ? 0 : f[0][0];
		e->mode = (unsigned)mode;
		e->size = size;
		switch (e->type) {
		case SL_MANIFEST_DIR:
			if (mode != 0755 || size || *f[3] || *f[5])
				return sl_err_set(err, SL_EXIT_USAGE, "manifest: bad directory record '%s'", f[4]);
			break;
		case SL_MANIFEST_FILE:
			if ((mode != 0644 && mode != 0755) || *f[5] || unhex(f[3], e->hash) < 0)
				return sl_err_set(err, SL_EXIT_USAGE, "manifest: bad file record '%s'", f[4]);
			if (size > lim->max_file)
				return sl_err_set(err, SL_EXIT_USAGE, "manifest: '%s' is larger than %llu bytes",
						  f[4], (unsigned long long)lim->max_file);
			total += size;
			m->files++;
			break;
		case SL_MANIFEST_LINK:
			if (mode != 0777 || *f[3] || size != strlen(f[5]))
				return sl_err_set(err, SL_EXIT_USAGE, "manifest: bad symlink record '%s'", f[4]);
			if (!sl_manifest_link_inside(f[4], f[5]))
				return sl_err_set(err, SL_EXIT_USAGE,
						  "manifest: the symlink '%s' points outside the instance", f[4]);
			e->target = sl_xstrdup(f[5]);
			break;
		default:
			return sl_err_set(err, SL_EXIT_USAGE,
					  "manifest: '%s' is neither a file, a directory nor a symlink", f[4]);
		}
		if (total > lim->max_total)
			return sl_err_set(err, SL_EXIT_USAGE, "manifest: more than %llu bytes in all",
					  (unsigned long long)lim->max_total);
	}
	m->file_bytes = total;
	return check_tree(m, err);
}

/* openat2 PATH beneath DIRFD, following symlinks: 0, or -1 with errno. */
static int resolve_beneath(int dirfd, const char *path, int flags)
{
	struct open_how how = { 0 };
	int fd;

	how.flags = (uint64_t)(O_PATH | O_CLOEXEC | flags);
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int link_refused(const struct sl_manifest_entry *e, struct sl_err *err)
{
	if (errno == EXDEV)
		return sl_err_set(err, SL_EXIT_USAGE,
				  "the symlink %s -> %s leads outside through other symlinks",
				  e->path, e->target);
	if (errno == ELOOP)
		return sl_err_set(err, SL_EXIT_USAGE,
				  "the symlink %s -> %s loops", e->path, e->target);
	return sl_err_errno(err, "unable to check the symlink %s", e->path);
}

/*
 * Every ".." of E's target must step up from a directory that exists
 * beneath DIRFD: "b/.." is where b's parent is only while b is a
 * directory, and a b that appears later as a symlink would move it
 * anywhere (a -> b/../../../etc). A link that leads to a missing name
 * is allowed; one that goes through a missing name and then up is not.
 */
static int check_dotdots(const struct sl_manifest_entry *e, int dirfd, struct sl_err *err)
{
	const char *slash = strrchr(e->path, '/');
	struct sl_buf prefix = SL_BUF_INIT;
	int ret = 0;

	if (slash)
		sl_buf_add(&prefix, e->path, (size_t)(slash - e->path + 1));
	for (const char *p = e->target; *p && !ret; ) {
		size_t n = strcspn(p, "/");

		sl_buf_add(&prefix, p, n);
		if (n == 2 && p[0] == '.' && p[1] == '.' &&
		    resolve_beneath(dirfd, prefix.buf, O_DIRECTORY) < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				ret = sl_err_set(err, SL_EXIT_USAGE,
						 "the symlink %s -> %s goes up ('..') from a name that does not exist "
						 "or is not a directory, and would lead elsewhere once it does",
						 e->path, e->target);
			else
				ret = link_refused(e, err);
		}
		p += n;
		if (*p == '/') {
			sl_buf_addch(&prefix, '/');
			p++;
		}
	}
	sl_buf_release(&prefix);
	return ret;
}

int sl_manifest_check_links(const struct sl_manifest *m, int dirfd,
			    struct sl_err *err)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct sl_manifest_entry *e = &m->v[i];

		if (e->type != SL_MANIFEST_LINK)
			continue;
		if (check_dotdots(e, dirfd, err) < 0)
			return -1;
		if (resolve_beneath(dirfd, e->path, 0) == 0)
			continue;
		if (errno == ENOENT || errno == ENOTDIR)
			continue;	/* dangling: it leads nowhere, inside */
		return link_refused(e, err);
	}
	return 0;
}

void sl_manifest_release(struct sl_manifest *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].path);
		free(m->v[i].target);
	}
	free(m->v);
	*m = (struct sl_manifest)SL_MANIFEST_INIT;
}
