/* silverlining — development overrides from ~/.silverlining.conf. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "devconf.h"
#include "exit.h"
#include "file.h"
#include "ini.h"
#include "mem.h"

struct load {
	struct sl_devconf *dc;
	const char *app;
	const char *subst;
	const char *prefix;
	size_t prefixlen;
	const char *const *known;
};

char *sl_devconf_path(void)
{
	const char *env = getenv("SL_CONF");
	const char *home;
	struct sl_buf b = SL_BUF_INIT;

	if (env && *env)
		return sl_xstrdup(env);
	home = sl_file_home();
	if (!home)
		return NULL;
	sl_buf_addf(&b, "%s/.silverlining.conf", home);
	return sl_buf_detach(&b, NULL);
}

static char *substitute(const char *value, const char *app)
{
	struct sl_buf b = SL_BUF_INIT;
	const char *p;

	while ((p = strstr(value, "APP_NAME"))) {
		sl_buf_add(&b, value, (size_t)(p - value));
		sl_buf_adds(&b, app);
		value = p + 8;
	}
	sl_buf_adds(&b, value);
	return sl_buf_detach(&b, NULL);
}

static struct sl_devconf_entry *find(struct sl_devconf *dc, const char *key)
{
	for (size_t i = 0; i < dc->n; i++)
		if (!strcmp(dc->v[i].key, key))
			return &dc->v[i];
	return NULL;
}

static int on_item(void *user, const struct sl_ini_item *it, struct sl_err *err)
{
	struct load *ld = user;
	struct sl_devconf *dc = ld->dc;
	struct sl_devconf_entry *e;
	const char *key;
	int app_section;
	size_t i;

	(void)err;
	if (!strcasecmp(it->section, "devel"))
		app_section = 0;
	else if (!strncasecmp(it->section, "devel:", 6) &&
		 !strcmp(it->section + 6, ld->app))
		app_section = 1;
	else
		return 0;
	if (strncasecmp(it->key, ld->prefix, ld->prefixlen) ||
	    it->key[ld->prefixlen] != '.')
		return 0;
	key = it->key + ld->prefixlen + 1;
	if (it->continuation) {
		sl_strv_pushf(&dc->warnings, "%s:%u: %s.%s takes one value; this line is ignored",
			      dc->path, it->line, ld->prefix, key);
		return 0;
	}
	for (i = 0; ld->known[i]; i++)
		if (!strcasecmp(ld->known[i], key))
			break;
	if (!ld->known[i]) {
		sl_strv_pushf(&dc->warnings, "%s:%u: unknown key '%s' ignored",
			      dc->path, it->line, it->key);
		return 0;
	}
	e = find(dc, ld->known[i]);
	if (e && e->app_section && !app_section)
		return 0;
	if (!e) {
		dc->v = sl_xrealloc(dc->v, (dc->n + 1) * sizeof(*dc->v));
		e = &dc->v[dc->n++];
		e->key = sl_xstrdup(ld->known[i]);
	} else {
		free(e->value);
	}
	e->value = substitute(it->value, ld->subst);
	e->line = it->line;
	e->app_section = app_section;
	return 0;
}

/*
 * The configuration file into *PATH; 1 when it is to be read, 0 when
 * there is none: no ~/.silverlining.conf means no settings, but a
 * missing $SL_CONF is a mistake (sl_ini_parse says so).
 */
static int conf_path(char **path)
{
	const char *named = getenv("SL_CONF");

	*path = sl_devconf_path();
	return *path && !(access(*path, F_OK) < 0 && errno == ENOENT &&
			  !(named && *named));
}

int sl_devconf_load(struct sl_devconf *dc, const char *app, const char *subst,
		    const char *prefix, const char *const *known,
		    struct sl_err *err)
{
	struct load ld = { dc, app, subst, prefix, strlen(prefix), known };

	if (!conf_path(&dc->path))
		return 0;
	return sl_ini_parse(dc->path, on_item, &ld, err);
}

const char *sl_devconf_get(const struct sl_devconf *dc, const char *key)
{
	for (size_t i = 0; i < dc->n; i++)
		if (!strcmp(dc->v[i].key, key))
			return dc->v[i].value;
	return NULL;
}

void sl_devconf_release(struct sl_devconf *dc)
{
	for (size_t i = 0; i < dc->n; i++) {
		free(dc->v[i].key);
		free(dc->v[i].value);
	}
	free(dc->v);
	free(dc->path);
	sl_strv_clear(&dc->warnings);
	*dc = (struct sl_devconf)SL_DEVCONF_INIT;
}

/* Whether S holds a space, a control character or one of EXTRA. */
static int has_bad_char(const char *s, const char *extra)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f || strchr(extra, *s))
			return 1;
	return 0;
}

const char *sl_acmeconf_bad_directory(const char *s)
{
	if (strncmp(s, "https://", 8))
		return "an ACME directory is an https:// URL";
	if (!s[8] || s[8] == '/' || s[8] == ':')
		return "the URL names no host";
	if (has_bad_char(s, ""))
		return "a URL holds no spaces or control characters";
	return NULL;
}

const char *sl_acmeconf_bad_email(const char *s)
{
	const char *at = strchr(s, '@'), *dot;

	if (!at || at == s || strchr(at + 1, '@'))
		return "an address is LOCAL@DOMAIN";
	if (has_bad_char(s, ",<>\"\\;:()[]"))
		return "an address holds no spaces, control characters or any of , < > \" \\ ; : ( ) [ ]";
	dot = strchr(at + 1, '.');
	if (!dot || at[1] == '.' || s[strlen(s) - 1] == '.' || strstr(at, ".."))
		return "an address's domain is a name with a dot, as example.com";
	return NULL;
}

static int on_acme(void *user, const struct sl_ini_item *it, struct sl_err *err)
{
	struct sl_acmeconf *ac = user;
	const char *why;
	char **slot;

	if (strcasecmp(it->section, "acme"))
		return 0;
	if (!strcasecmp(it->key, "directory")) {
		slot = &ac->directory;
		why = sl_acmeconf_bad_directory(it->value);
	} else if (!strcasecmp(it->key, "email")) {
		slot = &ac->email;
		why = sl_acmeconf_bad_email(it->value);
	} else {
		sl_strv_pushf(&ac->warnings, "%s:%u: unknown key '%s' ignored",
			      ac->path, it->line, it->key);
		return 0;
	}
	if (it->continuation)
		return sl_err_set(err, SL_EXIT_USAGE, "%s:%u: %s takes one value",
				  ac->path, it->line, it->key);
	if (why)
		return sl_err_set(err, SL_EXIT_USAGE, "%s:%u: %s '%s': %s", ac->path,
				  it->line, it->key, it->value, why);
	free(*slot);
	*slot = sl_xstrdup(it->value);
	return 0;
}

int sl_acmeconf_load(struct sl_acmeconf *ac, struct sl_err *err)
{
	if (!conf_path(&ac->path))
		return 0;
	return sl_ini_parse(ac->path, on_acme, ac, err);
}

void sl_acmeconf_release(struct sl_acmeconf *ac)
{
	free(ac->path);
	free(ac->directory);
	free(ac->email);
	sl_strv_clear(&ac->warnings);
	*ac = (struct sl_acmeconf)SL_ACMECONF_INIT;
}
