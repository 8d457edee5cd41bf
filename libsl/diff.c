/* silverlining — what an upload would change: two manifests compared. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diff.h"
#include "exit.h"
#include "file.h"
#include "mem.h"
#include "run.h"

const char *sl_diff_path(const struct sl_diff_change *c)
{
	return (c->new ? c->new : c->old)->path;
}

static int cmp_change(const void *a, const void *b)
{
	return strcmp(sl_diff_path(a), sl_diff_path(b));
}

static int same(const struct sl_manifest_entry *o, const struct sl_manifest_entry *e)
{
	return o->type == e->type && o->mode == e->mode &&
	       (e->type == SL_MANIFEST_DIR ||
		(e->type == SL_MANIFEST_FILE && !memcmp(o->hash, e->hash, SL_MANIFEST_HASH_LEN)) ||
		(e->type == SL_MANIFEST_LINK && !strcmp(o->target, e->target)));
}

static void add(struct sl_diff *d, char what, const struct sl_manifest_entry *o,
		const struct sl_manifest_entry *e)
{
	d->v = sl_xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
	d->v[d->n++] = (struct sl_diff_change){ what, o, e, -1 };
}

void sl_diff_manifests(struct sl_diff *d, const struct sl_manifest *old,
		       const struct sl_manifest *new)
{
	for (size_t i = 0; i < new->n; i++) {
		const struct sl_manifest_entry *e = &new->v[i];
		long k = old ? sl_manifest_find(old, e->path) : -1;
		const struct sl_manifest_entry *o = k >= 0 ? &old->v[k] : NULL;

		if (!o)
			add(d, 'A', NULL, e);
		else if (!same(o, e))
			add(d, o->type != e->type ? 'T' : 'M', o, e);
	}
	for (size_t i = 0; old && i < old->n; i++)
		if (sl_manifest_find(new, old->v[i].path) < 0)
			add(d, 'D', &old->v[i], NULL);
	if (d->n)
		qsort(d->v, d->n, sizeof(*d->v), cmp_change);
}

static const char *type_name(char type)
{
	return type == SL_MANIFEST_DIR ? "directory" : type == SL_MANIFEST_LINK ? "symlink" : "file";
}

void sl_diff_line(struct sl_buf *out, const struct sl_diff_change *c)
{
	const struct sl_manifest_entry *o = c->old, *e = c->new, *x = e ? e : o;

	sl_buf_addf(out, "%c %s%s", c->what, x->path, x->type == SL_MANIFEST_DIR ? "/" : "");
	if (c->what == 'T')
		sl_buf_addf(out, " (%s, was a %s)", type_name(e->type), type_name(o->type));
	else if (c->what == 'M' && o->mode != e->mode)
		sl_buf_addf(out, " (mode %o -> %o)", o->mode, e->mode);
	if (x->type == SL_MANIFEST_LINK)
		sl_buf_addf(out, " -> %s", x->target);
}

int sl_diff_has_text(const struct sl_diff_change *c)
{
	int old_file = c->old && c->old->type == SL_MANIFEST_FILE;
	int new_file = c->new && c->new->type == SL_MANIFEST_FILE;

	if (old_file && new_file)
		return memcmp(c->old->hash, c->new->hash, SL_MANIFEST_HASH_LEN) != 0;
	return old_file || new_file;
}

int sl_diff_show(const struct sl_diff_change *c, const char *appdir,
		 const struct sl_buf *old, struct sl_err *err)
{
	const char *path = sl_diff_path(c), *t = getenv("TMPDIR");
	int new_file = c->new && c->new->type == SL_MANIFEST_FILE;
	struct sl_buf a = SL_BUF_INIT, b = SL_BUF_INIT, local = SL_BUF_INIT;
	struct sl_buf oldfile = SL_BUF_INIT;
	struct sl_child child = SL_CHILD_INIT;
	int fd = -1, code = -1;

	if (old) {
		sl_buf_addf(&oldfile, "%s/sl-diff.XXXXXX", t && *t ? t : "/tmp");
		fd = mkstemp(oldfile.buf);
		if (fd < 0 || sl_file_write_all(fd, old->buf, old->len) < 0) {
			sl_err_errno(err, "unable to write a temporary file");
			goto out;
		}
	} else {
		sl_buf_adds(&oldfile, "/dev/null");
	}
	sl_buf_addf(&a, "a/%s", path);
	sl_buf_addf(&b, "b/%s", path);
	if (new_file)
		sl_buf_addf(&local, "%s/%s", appdir, path);
	else
		sl_buf_adds(&local, "/dev/null");
	{
		char *argv[] = { "diff", "-u", "--label", old ? a.buf : "/dev/null", "--label",
				 new_file ? b.buf : "/dev/null", oldfile.buf, local.buf, NULL };

		child.argv = argv;
		fflush(stdout);	/* diff writes there after what is buffered */
		code = sl_run(&child, err);
	}
	if (code > 1)
		sl_err_set(err, SL_EXIT_TEMP, "diff of %s failed", path);
	else if (code < 0)
		sl_err_prefix(err, "diff of %s failed", path);
out:
	if (fd >= 0) {
		unlink(oldfile.buf);
		close(fd);
	}
	sl_buf_release(&a);
	sl_buf_release(&b);
	sl_buf_release(&local);
	sl_buf_release(&oldfile);
	return code < 0 || code > 1 ? -1 : 0;
}

void sl_diff_release(struct sl_diff *d)
{
	free(d->v);
	*d = (struct sl_diff)SL_DIFF_INIT;
}
