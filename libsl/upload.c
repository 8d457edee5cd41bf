/* silverlining — the laptop side of sl-sync: send an app as a new instance. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "exit.h"
#include "instance.h"
#include "mem.h"
#include "quote.h"
#include "upload.h"

struct chan_reader {
	struct sl_ssh_chan *c;
	size_t pos, len;
	char buf[4096];
};

/*
 * Every line, length and count the node sends is capped before anything
 * is allocated for it: a hostile node gets a refusal, never unbounded
 * memory.
 */
#define MAX_LINE 4096

/* 1 with a line in OUT (at most MAX_LINE bytes), 0 at EOF, -1 with ERR set. */
static int chan_line(struct chan_reader *r, struct sl_buf *out, struct sl_err *err)
{
	sl_buf_reset(out);
	for (;;) {
		if (r->pos == r->len) {
			ssize_t n = sl_ssh_read(r->c, r->buf, sizeof(r->buf), err);

			if (n < 0)
				return -1;
			if (n == 0)
				return 0;
			r->pos = 0;
			r->len = (size_t)n;
		}
		if (r->buf[r->pos] == '\n') {
			r->pos++;
			return 1;
		}
		if (out->len >= MAX_LINE)
			return sl_err_set(err, SL_EXIT_TEMP,
					  "the node answered a line longer than %d bytes: refused",
					  MAX_LINE);
		sl_buf_addch(out, r->buf[r->pos++]);
	}
}

/* Sends one file; *LOCAL is set when the failure is on this side. */
static int send_file(struct sl_ssh_chan *c, int appfd, const struct sl_manifest_entry *e,
		     char *buf, size_t bufsize, uint64_t *sent,
		     const struct sl_upload_progress *p, size_t files,
		     int *local, struct sl_err *err)
{
	int fd = openat(appfd, e->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	uint64_t left = e->size;
	int ret = -1;

	*local = 1;
	if (fd < 0)
		return sl_err_errno(err, "unable to read %s", e->path);
	while (left) {
		ssize_t n = read(fd, buf, left < bufsize ? (size_t)left : bufsize);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sl_err_errno(err, "unable to read %s", e->path);
			goto out;
		}
		if (n == 0)
			break;
		*local = 0;
		if (sl_ssh_write(c, buf, (size_t)n, err) < 0)
			goto out;
		*local = 1;
		left -= (uint64_t)n;
		*sent += (uint64_t)n;
		if (p && p->fn)
			p->fn(p->ctx, *sent, files, 0);
	}
	if (left || read(fd, buf, 1) != 0) {
		sl_err_set(err, SL_EXIT_TEMP, "%s changed during the upload; try again", e->path);
		goto out;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

/* The node hung up or misbehaved: its exit code tells which. */
static int node_failed(struct sl_ssh_chan *c, const char *what, struct sl_err *err)
{
	struct sl_err finish = SL_ERR_INIT;
	int code = sl_ssh_finish(c, &finish);

	if (code < 0) {
		*err = finish;
		return -1;
	}
	sl_err_release(&finish);
	if (code == 0)
		code = SL_EXIT_TEMP;
	return sl_err_set(err, code, "the node stopped the upload %s (exit status %d)",
			  what, code);
}

/* Appends [SL_ROOT=ROOT ]COMMAND WORD... to CMD, each word quoted. */
static void node_command(struct sl_buf *cmd, const char *root, const char *command,
			 const char *const *words)
{
	if (root) {
		sl_buf_adds(cmd, "SL_ROOT=");
		sl_quote_sh(cmd, root);
		sl_buf_addch(cmd, ' ');
	}
	sl_buf_adds(cmd, command);
	for (; *words; words++) {
		sl_buf_addch(cmd, ' ');
		sl_quote_sh(cmd, *words);
	}
}

/* Sends DIR, whose manifest is M, to `sl-sync --server WHAT...` on the node. */
static int upload(struct sl_ssh *s, const char *appdir, const char *const *what,
		  const struct sl_manifest *m, const char *root,
		  const struct sl_upload_progress *p, char **instance,
		  struct sl_err *err)
{
	struct sl_buf cmd = SL_BUF_INIT, wire = SL_BUF_INIT, line = SL_BUF_INIT;
	struct chan_reader *r = sl_xcalloc(1, sizeof(*r));
	struct sl_ssh_chan *c = NULL;
	size_t bufsize = 1 << 18, count, files = 0;
	char *buf = sl_xmalloc(bufsize), *end;
	uint64_t sent = 0;
	int appfd = open(appdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = -1, rc;
	int local = 0;
	long prev = -1;

	if (appfd < 0) {
		sl_err_errno(err, "unable to read %s", appdir);
		goto out;
	}
	node_command(&cmd, root, "sl-sync --server", what);
	c = sl_ssh_exec(s, cmd.buf, err);
	if (!c)
		goto out;
	r->c = c;
	sl_manifest_encode(m, &wire);
	sl_buf_addf(&line, "manifest %zu\n", wire.len);
	if (sl_ssh_write(c, line.buf, line.len, err) < 0 ||
	    sl_ssh_write(c, wire.buf, wire.len, err) < 0)
		goto fail;
	rc = chan_line(r, &line, err);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		node_failed(c, "before it answered", err);
		c = NULL;
		goto out;
	}
	if (strncmp(line.buf, "need ", 5) || !isdigit((unsigned char)line.buf[5]) ||
	    (count = strtoul(line.buf + 5, &end, 10), *end) || count > m->n) {
		sl_err_set(err, SL_EXIT_TEMP, "the node answered '%.80s', not 'need COUNT'", line.buf);
		goto fail;
	}
	/* the whole list first: the node sends it before reading any content */
	{
		long *need = sl_xcalloc(count + 1, sizeof(*need));

		for (size_t i = 0; i < count; i++) {
			rc = chan_line(r, &line, err);
			need[i] = rc > 0 && isdigit((unsigned char)*line.buf) ?
				strtol(line.buf, &end, 10) : -1;
			if (rc <= 0 || *end || need[i] <= prev || need[i] >= (long)m->n ||
			    m->v[need[i]].type != SL_MANIFEST_FILE) {
				if (rc >= 0)
					sl_err_set(err, SL_EXIT_TEMP, "the node asked for an entry it cannot need");
				free(need);
				goto fail;
			}
			prev = need[i];
		}
		for (size_t i = 0; i < count; i++) {
			if (send_file(c, appfd, &m->v[need[i]], buf, bufsize, &sent, p,
				      ++files, &local, err) < 0) {
				free(need);
				goto fail;
			}
		}
		free(need);
	}
	if (sl_ssh_write(c, "end\n", 4, err) < 0 || sl_ssh_send_eof(c, err) < 0)
		goto fail;
	rc = chan_line(r, &line, err);
	if (rc < 0)
		goto fail;
	if (rc == 0 || strncmp(line.buf, "instance ", 9) ||
	    !sl_instance_name_valid(line.buf + 9)) {
		node_failed(c, "before the instance was complete", err);
		c = NULL;
		goto out;
	}
	rc = sl_ssh_finish(c, err);
	c = NULL;
	if (rc != 0) {
		if (rc > 0)
			sl_err_set(err, rc, "the node exited with status %d after the upload", rc);
		goto out;
	}
	if (p && p->fn)
		p->fn(p->ctx, sent, files, 1);
	*instance = sl_xstrdup(line.buf + 9);
	ret = 0;
	goto out;
fail:
	/*
	 * Let the node see the end of the stream and stop. When the trouble
	 * came from its side, its exit code is the one to pass on (its own
	 * message has been forwarded to stderr already).
	 */
	sl_ssh_send_eof(c, NULL);
	rc = sl_ssh_finish(c, NULL);
	c = NULL;
	if (!local && rc > 0)
		sl_err_set(err, rc, "the node stopped the upload (exit status %d)", rc);
out:
	if (appfd >= 0)
		close(appfd);
	free(buf);
	free(r);
	sl_buf_release(&cmd);
	sl_buf_release(&wire);
	sl_buf_release(&line);
	return ret;
}

int sl_upload(struct sl_ssh *s, const char *appdir, const char *app,
	      const struct sl_manifest *m, const char *root,
	      const struct sl_upload_progress *p, char **instance,
	      struct sl_err *err)
{
	return sl_upload_as(s, appdir, app, NULL, m, root, p, instance, err);
}

int sl_upload_as(struct sl_ssh *s, const char *appdir, const char *app, const char *as,
		 const struct sl_manifest *m, const char *root,
		 const struct sl_upload_progress *p, char **instance,
		 struct sl_err *err)
{
	const char *what[] = { "--as", as, app, NULL };
	int ret = upload(s, appdir, as ? what : what + 2, m, root, p, instance, err);

	if (ret == 0 && as && strcmp(*instance, as)) {
		ret = sl_err_set(err, SL_EXIT_TEMP, "the node named the instance %s, not %s",
				 *instance, as);
		free(*instance);
		*instance = NULL;
	}
	return ret;
}

int sl_upload_config(struct sl_ssh *s, const char *dir, const char *instance,
		     const struct sl_manifest *m, const char *root,
		     struct sl_err *err)
{
	const char *what[] = { "--config", instance, NULL };
	char *name = NULL;
	int ret = upload(s, dir, what, m, root, NULL, &name, err);

	if (ret == 0 && strcmp(name, instance))
		ret = sl_err_set(err, SL_EXIT_TEMP, "the node named the config %s, not %s",
				 name, instance);
	free(name);
	return ret;
}

/* Appends the next N bytes of the channel to OUT. -1 with ERR at EOF or on error. */
static int chan_bytes(struct chan_reader *r, size_t n, struct sl_buf *out, struct sl_err *err)
{
	while (n) {
		size_t chunk;

		if (r->pos == r->len) {
			ssize_t got = sl_ssh_read(r->c, r->buf, sizeof(r->buf), err);

			if (got < 0)
				return -1;
			if (got == 0)
				return sl_err_set(err, SL_EXIT_TEMP, "the node's answer ended early");
			r->pos = 0;
			r->len = (size_t)got;
		}
		chunk = r->len - r->pos < n ? r->len - r->pos : n;
		sl_buf_add(out, r->buf + r->pos, chunk);
		r->pos += chunk;
		n -= chunk;
	}
	return 0;
}

/* "WORD NUMBER" in LINE: the number, or -1. */
static long long word_number(const struct sl_buf *line, const char *word)
{
	size_t len = strlen(word);
	char *end;
	long long v;

	if (strncmp(line->buf, word, len) || line->buf[len] != ' ' ||
	    !isdigit((unsigned char)line->buf[len + 1]))
		return -1;
	v = strtoll(line->buf + len + 1, &end, 10);
	return *end ? -1 : v;
}

int sl_upload_tree_open(struct sl_ssh *s, const char *location, const char *root,
		 struct sl_upload_tree *t, struct sl_err *err)
{
	struct sl_buf cmd = SL_BUF_INIT, line = SL_BUF_INIT, wire = SL_BUF_INIT;
	long long size;
	int rc, ret = -1;

	t->r = sl_xcalloc(1, sizeof(*t->r));
	if (root) {
		sl_buf_adds(&cmd, "SL_ROOT=");
		sl_quote_sh(&cmd, root);
		sl_buf_addch(&cmd, ' ');
	}
	/* its exit status 1, silent, is "nothing is deployed there": said here */
	sl_buf_adds(&cmd, "sl-sync --server --show-at ");
	sl_quote_sh(&cmd, location);
	t->c = sl_ssh_exec(s, cmd.buf, err);
	if (!t->c)
		goto out;
	t->r->c = t->c;
	rc = chan_line(t->r, &line, err);
	if (rc < 0)
		goto out;
	if (rc == 0) {
		struct sl_err finish = SL_ERR_INIT;
		int code = sl_ssh_finish(t->c, &finish);

		t->c = NULL;
		if (code == 1) {
			ret = 0;
		} else if (code < 0) {
			*err = finish;
			goto out;
		} else {
			sl_err_set(err, code ? code : SL_EXIT_TEMP,
				   "the node could not list %s (exit status %d)", location, code);
		}
		sl_err_release(&finish);
		goto out;
	}
	if (strncmp(line.buf, "instance ", 9) || !sl_instance_name_valid(line.buf + 9)) {
		sl_err_set(err, SL_EXIT_TEMP, "the node answered '%.80s', not 'instance NAME'", line.buf);
		goto out;
	}
	t->instance = sl_xstrdup(line.buf + 9);
	if (chan_line(t->r, &line, err) <= 0 || (size = word_number(&line, "manifest")) < 0) {
		if (!err->code)
			sl_err_set(err, SL_EXIT_TEMP, "the node sent no manifest");
		goto out;
	}
	if ((uint64_t)size > SL_MANIFEST_MAX_WIRE) {
		sl_err_set(err, SL_EXIT_TEMP,
			   "the node announced a manifest of %lld bytes, more than the %zu MiB allowed: refused",
			   size, SL_MANIFEST_MAX_WIRE >> 20);
		goto out;
	}
	if (chan_bytes(t->r, (size_t)size, &wire, err) < 0 ||
	    sl_manifest_decode(&t->m, wire.buf, wire.len, &sl_manifest_default_limits, err) < 0)
		goto out;
	ret = 1;
out:
	sl_buf_release(&cmd);
	sl_buf_release(&line);
	sl_buf_release(&wire);
	return ret;
}

int sl_upload_tree_fetch(struct sl_upload_tree *t, const struct sl_strv *paths,
		  uint64_t max_size, struct sl_buf *contents, int *present,
		  struct sl_err *err)
{
	struct sl_buf req = SL_BUF_INIT, line = SL_BUF_INIT;
	int ret = -1;

	for (size_t i = 0; i < paths->n; i++)
		sl_buf_addf(&req, "%s\n", paths->v[i]);
	if (sl_ssh_write(t->c, req.buf, req.len, err) < 0 || sl_ssh_send_eof(t->c, err) < 0)
		goto out;
	for (size_t i = 0; i < paths->n; i++) {
		long long size;
		long k;

		present[i] = 0;
		if (chan_line(t->r, &line, err) <= 0) {
			if (!err->code)
				sl_err_set(err, SL_EXIT_TEMP, "the node's answer ended early");
			goto out;
		}
		if (!strcmp(line.buf, "none"))
			continue;
		size = word_number(&line, "file");
		if (size < 0) {
			sl_err_set(err, SL_EXIT_TEMP, "the node answered '%.80s', not 'file SIZE'", line.buf);
			goto out;
		}
		k = sl_manifest_find(&t->m, paths->v[i]);
		if (k < 0 || t->m.v[k].type != SL_MANIFEST_FILE ||
		    (uint64_t)size != t->m.v[k].size || (uint64_t)size > max_size) {
			sl_err_set(err, SL_EXIT_TEMP,
				   "the node announced %lld bytes for %s, not the %llu of its manifest "
				   "(at most %llu are read): refused",
				   size, paths->v[i], k < 0 ? 0ULL : (unsigned long long)t->m.v[k].size,
				   (unsigned long long)max_size);
			goto out;
		}
		if (chan_bytes(t->r, (size_t)size, &contents[i], err) < 0)
			goto out;
		present[i] = 1;
	}
	ret = 0;
out:
	sl_buf_release(&req);
	sl_buf_release(&line);
	return ret;
}

int sl_upload_tree_close(struct sl_upload_tree *t, struct sl_err *err)
{
	int code = 0;

	if (t->c)
		code = sl_ssh_finish(t->c, err);
	t->c = NULL;
	free(t->r);
	t->r = NULL;
	free(t->instance);
	t->instance = NULL;
	sl_manifest_release(&t->m);
	return code;
}

int sl_upload_command(struct sl_ssh *s, const char *root, const char *const *words,
		      struct sl_err *err)
{
	struct sl_buf cmd = SL_BUF_INIT;
	struct sl_ssh_chan *ch;
	int code = -1;

	node_command(&cmd, root, words[0], words + 1);
	ch = sl_ssh_exec(s, cmd.buf, err);
	if (ch)
		code = sl_ssh_pump(ch, -1, 1, 2, err);
	sl_buf_release(&cmd);
	return code;
}

int sl_upload_activate(struct sl_ssh *s, const char *instance,
		       char *const *locations, char *const *options,
		       const char *root, struct sl_err *err)
{
	struct sl_buf cmd = SL_BUF_INIT;
	struct sl_ssh_chan *ch;
	int code = -1;

	node_command(&cmd, root, "sl-activate", (const char *const *)options);
	node_command(&cmd, NULL, "", (const char *const[]){ instance, NULL });
	node_command(&cmd, NULL, "", (const char *const *)locations);
	ch = sl_ssh_exec(s, cmd.buf, err);
	if (ch)
		code = sl_ssh_pump(ch, -1, 1, 2, err);
	sl_buf_release(&cmd);
	return code;
}
