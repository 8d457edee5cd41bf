/* silverlining — an app's config.template, filled into a deployment config. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "exit.h"
#include "file.h"
#include "ini.h"
#include "mem.h"
#include "template.h"

struct sl_template_var *sl_template_find(const struct sl_template *vs, const char *name,
					 size_t len)
{
	for (size_t i = 0; i < vs->n; i++)
		if (strlen(vs->v[i].name) == len && !memcmp(vs->v[i].name, name, len))
			return &vs->v[i];
	return NULL;
}

static struct sl_template_var *add(struct sl_template *vs, const char *name, size_t len)
{
	struct sl_template_var *v = sl_template_find(vs, name, len);

	if (v)
		return v;
	if (vs->n == vs->alloc) {
		vs->alloc = vs->alloc ? 2 * vs->alloc : 8;
		vs->v = sl_xrealloc(vs->v, vs->alloc * sizeof(*vs->v));
	}
	v = &vs->v[vs->n++];
	v->name = sl_xstrndup(name, len);
	v->desc = v->value = NULL;
	v->given = 0;
	return v;
}

static int name_char(int c, int first)
{
	return isalpha(c) || c == '_' || (!first && isdigit(c));
}

static size_t name_len(const char *p)
{
	size_t n = 0;

	while (name_char((unsigned char)p[n], n == 0))
		n++;
	return n;
}

/* template.ini: [variables] NAME = what it is; [defaults] NAME = VALUE */
struct ini_ctx {
	struct sl_template *vs;
	const char *path;
};

static int read_ini(void *user, const struct sl_ini_item *it, struct sl_err *err)
{
	struct ini_ctx *ctx = user;
	struct sl_template *vs = ctx->vs;
	struct sl_template_var *v;
	size_t len = strlen(it->key);

	if (strcmp(it->section, "variables") && strcmp(it->section, "defaults"))
		return sl_err_set(err, SL_EXIT_USAGE, "%s:%u: section [%s]: only "
				  "[variables] and [defaults] are read", ctx->path, it->line,
				  it->section);
	if (it->continuation)
		return sl_err_set(err, SL_EXIT_USAGE, "%s:%u: one line per variable",
				  ctx->path, it->line);
	if (name_len(it->key) != len)
		return sl_err_set(err, SL_EXIT_USAGE, "%s:%u: '%s' is not a variable "
				  "name (letters, digits, _)", ctx->path, it->line, it->key);
	v = add(vs, it->key, len);
	if (!strcmp(it->section, "variables")) {
		free(v->desc);
		v->desc = sl_xstrdup(it->value);
	} else {
		free(v->value);
		v->value = sl_xstrdup(it->value);
	}
	return 0;
}

/* Each +NAME+ in PATH, each {{ NAME }} in TEXT: the variables used. */
static void scan_names(struct sl_template *vs, const char *path)
{
	for (const char *p = strchr(path, '+'); p; p = strchr(p + 1, '+')) {
		size_t n = name_len(p + 1);

		if (n && p[1 + n] == '+') {
			add(vs, p + 1, n);
			p += n + 1;
		}
	}
}

/* The {{ NAME }} at P: NAME's bytes, and the whole match's length; 0 if none. */
static size_t placeholder(const char *p, const char *end, const char **name, size_t *nlen)
{
	const char *q = p + 2;

	if (end - p < 5 || p[0] != '{' || p[1] != '{')
		return 0;
	while (q < end && *q == ' ')
		q++;
	*name = q;
	while (q < end && name_char((unsigned char)*q, q == *name))
		q++;
	*nlen = (size_t)(q - *name);
	while (q < end && *q == ' ')
		q++;
	if (!*nlen || end - q < 2 || q[0] != '}' || q[1] != '}')
		return 0;
	return (size_t)(q + 2 - p);
}

static void scan_text(struct sl_template *vs, const struct sl_buf *text)
{
	const char *end = text->buf + text->len, *name;
	size_t len, nlen;

	for (const char *p = text->buf; p < end; p++)
		if ((len = placeholder(p, end, &name, &nlen))) {
			add(vs, name, nlen);
			p += len - 1;
		}
}

static void render(const struct sl_template *vs, const struct sl_buf *text, struct sl_buf *out)
{
	const char *end = text->buf + text->len, *name;
	size_t len, nlen;

	for (const char *p = text->buf; p < end; p++) {
		if ((len = placeholder(p, end, &name, &nlen))) {
			sl_buf_adds(out, sl_template_find(vs, name, nlen)->value);
			p += len - 1;
			continue;
		}
		sl_buf_addch(out, *p);
	}
}

/* PATH with +NAME+ replaced; -1 with ERR when a name it makes is unusable. */
static int out_path(const struct sl_template *vs, const char *path, int strip_tmpl,
		    struct sl_buf *out, struct sl_err *err)
{
	size_t start = out->len;

	for (const char *p = path; *p; p++) {
		size_t n = *p == '+' ? name_len(p + 1) : 0;

		if (n && p[1 + n] == '+') {
			const char *val = sl_template_find(vs, p + 1, n)->value;

			if (strchr(val, '/'))
				return sl_err_set(err, SL_EXIT_USAGE, "%.*s='%s' makes the name %s "
						  "hold a '/'", (int)n, p + 1, val, path);
			sl_buf_adds(out, val);
			p += n + 1;
			continue;
		}
		sl_buf_addch(out, *p);
	}
	if (strip_tmpl)
		out->buf[out->len -= 5] = '\0';
	/* no component may come out empty, . or .. */
	for (char *c = out->buf + start; c;) {
		char *slash = strchr(c, '/');
		size_t len = slash ? (size_t)(slash - c) : strlen(c);

		if (!len || (len == 1 && c[0] == '.') || (len == 2 && !strncmp(c, "..", 2)))
			return sl_err_set(err, SL_EXIT_USAGE, "the variables make the name %s "
					  "'%s'", path, out->buf + start);
		c = slash ? slash + 1 : NULL;
	}
	return 0;
}

static int is_tmpl(const struct sl_manifest_entry *e)
{
	size_t len = strlen(e->path);

	return e->type == SL_MANIFEST_FILE && len > 5 && !strcmp(e->path + len - 5, ".tmpl") &&
	       e->path[len - 6] != '/';
}

static int read_entry(const char *dir, const char *path, struct sl_buf *out,
		      struct sl_err *err)
{
	struct sl_buf full = SL_BUF_INIT;
	int ret;

	sl_buf_addf(&full, "%s/%s", dir, path);
	ret = sl_buf_read_file(out, full.buf);
	if (ret < 0)
		sl_err_errno(err, "unable to read %s", full.buf);
	sl_buf_release(&full);
	return ret;
}

int sl_template_is_secret(const char *name)
{
	static const char *const secret[] = { "password", "passwd", "secret", "token", "key" };
	struct sl_buf lower = SL_BUF_INIT;
	int hit = 0;

	for (const char *p = name; *p; p++)
		sl_buf_addch(&lower, (char)tolower((unsigned char)*p));
	for (size_t i = 0; i < sizeof(secret) / sizeof(*secret); i++)
		hit |= strstr(lower.buf, secret[i]) != NULL;
	sl_buf_release(&lower);
	return hit;
}

static int write_entry(int outfd, const char *tdir, const struct sl_manifest_entry *e,
		       const struct sl_template *vs, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT, text = SL_BUF_INIT, done = SL_BUF_INIT;
	int fd = -1, ret = -1;

	if (out_path(vs, e->path, is_tmpl(e), &path, err) < 0)
		goto out;
	switch (e->type) {
	case SL_MANIFEST_DIR:
		if (mkdirat(outfd, path.buf, 0700) < 0) {
			sl_err_errno(err, "unable to make %s", path.buf);
			goto out;
		}
		break;
	case SL_MANIFEST_LINK:
		if (symlinkat(e->target, outfd, path.buf) < 0) {
			sl_err_errno(err, "unable to make %s", path.buf);
			goto out;
		}
		break;
	case SL_MANIFEST_FILE:
		if (read_entry(tdir, e->path, &text, err) < 0)
			goto out;
		if (is_tmpl(e))
			render(vs, &text, &done);
		/* a config holds secrets: the owner's alone */
		fd = openat(outfd, path.buf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    (e->mode & 0100) | 0600);
		if (fd < 0) {
			sl_err_errno(err, "unable to write %s", path.buf);
			goto out;
		}
		if (is_tmpl(e) ? sl_file_write_all(fd, done.buf, done.len) :
		    sl_file_write_all(fd, text.buf, text.len)) {
			sl_err_errno(err, "unable to write %s", path.buf);
			goto out;
		}
		break;
	}
	ret = 0;
out:
	if (fd >= 0 && close(fd) < 0 && ret == 0)
		ret = sl_err_errno(err, "unable to write %s", path.buf);
	sl_buf_release(&path);
	sl_buf_release(&text);
	sl_buf_release(&done);
	return ret;
}


int sl_template_load(struct sl_template *t, const char *dir,
		     struct sl_strv *skipped, struct sl_err *err)
{
	struct sl_ignore ign = SL_IGNORE_INIT;
	struct sl_buf ini = SL_BUF_INIT, text = SL_BUF_INIT;
	int ret = -1;

	t->dir = sl_xstrdup(dir);
	sl_buf_addf(&ini, "%s/template.ini", dir);
	if (access(ini.buf, F_OK) == 0 &&
	    sl_ini_parse(ini.buf, read_ini, &(struct ini_ctx){ t, ini.buf }, err) < 0)
		goto out;
	t->listed = t->n;
	if (sl_ignore_load(&ign, dir, err) < 0 ||
	    sl_manifest_scan(&t->m, dir, &ign, skipped, err) < 0)
		goto out;
	for (size_t i = 0; i < t->m.n; i++) {
		if (!strcmp(t->m.v[i].path, "template.ini"))
			continue;
		scan_names(t, t->m.v[i].path);
		if (is_tmpl(&t->m.v[i])) {
			sl_buf_reset(&text);
			if (read_entry(dir, t->m.v[i].path, &text, err) < 0)
				goto out;
			scan_text(t, &text);
		}
	}
	ret = 0;
out:
	sl_ignore_release(&ign);
	sl_buf_release(&ini);
	sl_buf_release(&text);
	return ret;
}

int sl_template_set(struct sl_template *t, const char *assignment, struct sl_err *err)
{
	const char *eq = strchr(assignment, '=');
	struct sl_template_var *v;

	if (!eq)
		return sl_err_set(err, SL_EXIT_USAGE, "'%s' is not VAR=VALUE", assignment);
	v = sl_template_find(t, assignment, (size_t)(eq - assignment));
	if (!v)
		return sl_err_set(err, SL_EXIT_USAGE, "%.*s is not a variable of the template "
				  "(--info lists them)", (int)(eq - assignment), assignment);
	free(v->value);
	v->value = sl_xstrdup(eq + 1);
	v->given = 1;
	return 0;
}

int sl_template_write(const struct sl_template *t, const char *out, struct sl_err *err)
{
	struct sl_buf part = SL_BUF_INIT;
	int outfd = -1, ret = -1;

	for (size_t i = 0; i < t->n; i++)
		if (!t->v[i].value)
			return sl_err_set(err, SL_EXIT_USAGE, "no value for %s", t->v[i].name);
	sl_buf_addf(&part, "%s.part-%ld", out, (long)getpid());
	if (mkdir(part.buf, 0700) < 0) {
		sl_err_errno(err, "unable to make %s", part.buf);
		goto out;
	}
	outfd = open(part.buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (outfd < 0) {
		sl_err_errno(err, "unable to open %s", part.buf);
		goto fail;
	}
	for (size_t i = 0; i < t->m.n; i++) {
		if (strcmp(t->m.v[i].path, "template.ini") &&
		    write_entry(outfd, t->dir, &t->m.v[i], t, err) < 0)
			goto fail;
	}
	if (fsync(outfd) < 0 || rename(part.buf, out) < 0) {
		sl_err_errno(err, "unable to make %s", out);
		goto fail;
	}
	ret = 0;
	goto out;
fail:
	sl_file_remove_tree(AT_FDCWD, part.buf, NULL);
out:
	if (outfd >= 0)
		close(outfd);
	sl_buf_release(&part);
	return ret;
}

void sl_template_release(struct sl_template *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].name);
		free(t->v[i].desc);
		free(t->v[i].value);
	}
	free(t->v);
	free(t->dir);
	sl_manifest_release(&t->m);
	*t = (struct sl_template)SL_TEMPLATE_INIT;
}
