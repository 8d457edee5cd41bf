/*
 * silverlining — sl-config: fill an app's config.template into a
 * deployment config (silver create-config).
 *
 * The template is a directory. Its optional template.ini lists the
 * variables ([variables] NAME = what it is) and their defaults
 * ([defaults] NAME = VALUE); a file named FILE.tmpl becomes FILE with
 * every {{NAME}} replaced, and +NAME+ in any name is replaced too. What
 * a variable is used for but not listed is asked all the same.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "../libsl/app.h"
#include "../libsl/file.h"
#include "../libsl/ini.h"
#include "../libsl/manifest.h"
#include "../libsl/mem.h"
#include "../libsl/msg.h"
#include "../libsl/version.h"

#define USAGE "sl-config APPDIR OUT [VAR=VALUE...] | sl-config --info APPDIR"

struct var {
	char *name, *desc, *value;
	int given;		/* on the command line: never asked */
};

struct vars {
	struct var *v;
	size_t n, alloc;
};

static struct var *find(struct vars *vs, const char *name, size_t len)
{
	for (size_t i = 0; i < vs->n; i++)
		if (strlen(vs->v[i].name) == len && !memcmp(vs->v[i].name, name, len))
			return &vs->v[i];
	return NULL;
}

static struct var *add(struct vars *vs, const char *name, size_t len)
{
	struct var *v = find(vs, name, len);

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
	struct vars *vs;
	const char *path;
};

static int read_ini(void *user, const struct sl_ini_item *it, struct sl_err *err)
{
	struct ini_ctx *ctx = user;
	struct vars *vs = ctx->vs;
	struct var *v;
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
static void scan_names(struct vars *vs, const char *path)
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

static void scan_text(struct vars *vs, const struct sl_buf *text)
{
	const char *end = text->buf + text->len, *name;
	size_t len, nlen;

	for (const char *p = text->buf; p < end; p++)
		if ((len = placeholder(p, end, &name, &nlen))) {
			add(vs, name, nlen);
			p += len - 1;
		}
}

static void render(struct vars *vs, const struct sl_buf *text, struct sl_buf *out)
{
	const char *end = text->buf + text->len, *name;
	size_t len, nlen;

	for (const char *p = text->buf; p < end; p++) {
		if ((len = placeholder(p, end, &name, &nlen))) {
			sl_buf_adds(out, find(vs, name, nlen)->value);
			p += len - 1;
			continue;
		}
		sl_buf_addch(out, *p);
	}
}

/* PATH with +NAME+ replaced; -1 with ERR when a name it makes is unusable. */
static int out_path(struct vars *vs, const char *path, int strip_tmpl,
		    struct sl_buf *out, struct sl_err *err)
{
	size_t start = out->len;

	for (const char *p = path; *p; p++) {
		size_t n = *p == '+' ? name_len(p + 1) : 0;

		if (n && p[1 + n] == '+') {
			const char *val = find(vs, p + 1, n)->value;

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

/* Whether NAME looks like a secret's: never echoed, never shown. */
static int is_secret(const char *name)
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

/* Asks for V's value on the terminal; a secret-looking name is not echoed. */
static void ask(struct var *v)
{
	struct termios old, quiet;
	int hide = is_secret(v->name);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	/* echo off before the prompt: what is typed after it is never shown */
	if (hide && tcgetattr(0, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(0, TCSANOW, &quiet);
	} else {
		hide = 0;
	}
	fprintf(stderr, "%s", v->name);
	if (v->desc && *v->desc)
		fprintf(stderr, " (%s)", v->desc);
	if (v->value)
		fprintf(stderr, " [%s]", hide ? "****" : v->value);
	fprintf(stderr, ": ");
	n = getline(&line, &cap, stdin);
	if (hide) {
		tcsetattr(0, TCSANOW, &old);
		fputc('\n', stderr);
	}
	if (n < 0)
		sl_die(SL_EXIT_USAGE, "no value for %s: nothing was written", v->name);
	if (n && line[n - 1] == '\n')
		line[--n] = '\0';
	if (n || !v->value) {
		free(v->value);
		v->value = line;
	} else {
		free(line);
	}
}

static int write_entry(int outfd, const char *tdir, const struct sl_manifest_entry *e,
		       struct vars *vs, struct sl_err *err)
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

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "info", no_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_app app = SL_APP_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf tdir = SL_BUF_INIT, ini = SL_BUF_INIT, text = SL_BUF_INIT;
	struct sl_buf part = SL_BUF_INIT, missing = SL_BUF_INIT, dest = SL_BUF_INIT;
	struct sl_ignore ign = SL_IGNORE_INIT;
	struct sl_manifest m = SL_MANIFEST_INIT;
	struct sl_strv skipped = SL_STRV_INIT;
	struct vars vs = { NULL, 0, 0 };
	const char *out = NULL;
	struct stat st;
	int info = 0, c, outfd;
	size_t listed;

	sl_msg_init(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
		switch (c) {
		case 'I': info = 1; break;
		case 'h': printf("usage: %s\n", USAGE); sl_exit_flush();
		case 'V': printf("sl-config %s\n", SL_VERSION); sl_exit_flush();
		default: sl_die_option(USAGE, argv, c);
		}
	}
	if (info ? argc - optind != 1 : argc - optind < 2)
		sl_die_usage(USAGE);
	if (!info) {
		sl_buf_adds(&dest, argv[optind + 1]);
		while (dest.len > 1 && dest.buf[dest.len - 1] == '/')
			dest.buf[--dest.len] = '\0';
		out = dest.buf;
	}

	c = sl_app_load(&app, argv[optind], &err);
	for (size_t i = 0; i < app.warnings.n; i++)
		sl_warn("%s", app.warnings.v[i]);
	if (c < 0)
		sl_die_err(&err);
	if (!app.config_template)
		sl_die(SL_EXIT_USAGE, "%s/app.ini has no config.template", app.dir);
	sl_buf_addf(&tdir, "%s/%s", app.dir, app.config_template);
	if (stat(tdir.buf, &st) < 0 || !S_ISDIR(st.st_mode))
		sl_die(SL_EXIT_USAGE, "config.template %s is not a directory", tdir.buf);

	sl_buf_addf(&ini, "%s/template.ini", tdir.buf);
	if (access(ini.buf, F_OK) == 0 &&
	    sl_ini_parse(ini.buf, read_ini, &(struct ini_ctx){ &vs, ini.buf }, &err) < 0)
		sl_die_err(&err);
	listed = vs.n;
	if (sl_ignore_load(&ign, tdir.buf, &err) < 0 ||
	    sl_manifest_scan(&m, tdir.buf, &ign, &skipped, &err) < 0)
		sl_die_err(&err);
	for (size_t i = 0; i < skipped.n; i++)
		sl_warn("%s is not a file, a directory or a symlink; left out", skipped.v[i]);
	for (size_t i = 0; i < m.n; i++) {
		if (!strcmp(m.v[i].path, "template.ini"))
			continue;
		scan_names(&vs, m.v[i].path);
		if (is_tmpl(&m.v[i])) {
			sl_buf_reset(&text);
			if (read_entry(tdir.buf, m.v[i].path, &text, &err) < 0)
				sl_die_err(&err);
			scan_text(&vs, &text);
		}
	}

	if (info) {
		for (size_t i = 0; i < vs.n; i++) {
			printf("%s\t%s", vs.v[i].name, i < listed && vs.v[i].desc ? vs.v[i].desc :
			       "(not described in template.ini)");
			if (vs.v[i].value)
				printf(" [%s]", is_secret(vs.v[i].name) ? "****" : vs.v[i].value);
			putchar('\n');
		}
		sl_exit_flush();
	}

	for (int i = optind + 2; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		struct var *v = eq ? find(&vs, argv[i], (size_t)(eq - argv[i])) : NULL;

		if (!eq)
			sl_die(SL_EXIT_USAGE, "'%s' is not VAR=VALUE", argv[i]);
		if (!v)
			sl_die(SL_EXIT_USAGE, "%.*s is not a variable of the template "
			       "(--info lists them)", (int)(eq - argv[i]), argv[i]);
		free(v->value);
		v->value = sl_xstrdup(eq + 1);
		v->given = 1;
	}
	if (lstat(out, &st) == 0)
		sl_die(SL_EXIT_USAGE, "%s exists: give a new directory", out);
	/* on a terminal every value not given is asked, a default offered */
	for (size_t i = 0; i < vs.n; i++) {
		if (vs.v[i].given || (vs.v[i].value && !isatty(0)))
			continue;
		if (!isatty(0)) {
			sl_buf_addf(&missing, "%s%s", missing.len ? ", " : "", vs.v[i].name);
			continue;
		}
		ask(&vs.v[i]);
	}
	if (missing.len)
		sl_die(SL_EXIT_USAGE, "no value for %s and no terminal to ask on: give "
		       "VAR=VALUE (nothing was written)", missing.buf);

	/* built beside OUT, renamed into place whole */
	sl_buf_addf(&part, "%s.part-%ld", out, (long)getpid());
	if (mkdir(part.buf, 0700) < 0)
		sl_die_errno("unable to make %s", part.buf);
	outfd = open(part.buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (outfd < 0)
		sl_die_errno("unable to open %s", part.buf);
	for (size_t i = 0; i < m.n; i++) {
		if (!strcmp(m.v[i].path, "template.ini"))
			continue;
		if (write_entry(outfd, tdir.buf, &m.v[i], &vs, &err) < 0) {
			sl_file_remove_tree(AT_FDCWD, part.buf, NULL);
			sl_die_err(&err);
		}
	}
	if (fsync(outfd) < 0 || rename(part.buf, out) < 0) {
		int e = errno;

		sl_file_remove_tree(AT_FDCWD, part.buf, NULL);
		errno = e;
		sl_die_errno("unable to make %s", out);
	}
	close(outfd);
	printf("%s\n", out);
	sl_exit_flush();
}
