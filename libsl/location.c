/* silverlining — locations: where an app is served. The one parser. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "location.h"
#include "mem.h"

/* TEXT as given, control bytes shown as \xNN, for messages. */
static void add_shown(struct sl_buf *b, const char *text)
{
	for (; *text; text++) {
		if (iscntrl((unsigned char)*text))
			sl_buf_addf(b, "\\x%02x", (unsigned char)*text);
		else
			sl_buf_addch(b, *text);
	}
}

static int refuse(struct sl_err *err, const char *text, const char *what,
		  const char *why)
{
	struct sl_buf shown = SL_BUF_INIT;

	add_shown(&shown, text);
	sl_err_set(err, 100, "%s '%s'%s%s", what, shown.buf, why ? ": " : "",
		   why ? why : "");
	sl_buf_release(&shown);
	return -1;
}

static int has_prefix_nocase(const char *s, const char *prefix)
{
	return !strncasecmp(s, prefix, strlen(prefix));
}

/* One DNS label of [a-z0-9-] without '-' at either end, LEN bytes. */
static int label_valid(const char *s, size_t len)
{
	if (!len || s[0] == '-' || s[len - 1] == '-')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) &&
		    s[i] != '-')
			return 0;
	return 1;
}

/* "*", or [.]LABEL(.LABEL)* (lowercase already). */
static int host_valid(const char *h)
{
	const char *dot;

	if (!strcmp(h, "*"))
		return 1;
	if (*h == '.')
		h++;
	for (;;) {
		dot = strchr(h, '.');
		if (!label_valid(h, dot ? (size_t)(dot - h) : strlen(h)))
			return 0;
		if (!dot)
			return 1;
		h = dot + 1;
	}
}

/* "/" or (/SEGMENT)+, SEGMENT of [A-Za-z0-9._~-]. */
static int path_chars_valid(const char *p)
{
	if (!strcmp(p, "/"))
		return 1;
	for (; *p; p++) {
		if (*p == '/') {
			if (!p[1] || p[1] == '/')
				return 0;
		} else if (!isalnum((unsigned char)*p) && !strchr("._~-", *p)) {
			return 0;
		}
	}
	return 1;
}

static int path_has_dots(const char *p)
{
	for (p = strchr(p, '/'); p; p = strchr(p + 1, '/')) {
		size_t n = strcspn(p + 1, "/");

		if ((n == 1 && p[1] == '.') || (n == 2 && p[1] == '.' && p[2] == '.'))
			return 1;
	}
	return 0;
}

int sl_location_parse(const char *text, int flags, struct sl_location *loc,
		      struct sl_err *err)
{
	const char *rest = text, *slash;
	char *host, *path;
	size_t n;
	int https = 0, http = 0;

	sl_location_release(loc);
	if (has_prefix_nocase(rest, "https://")) {
		if (!(flags & SL_LOC_HTTPS)) {
			struct sl_buf shown = SL_BUF_INIT;

			add_shown(&shown, text);
			sl_err_set(err, 100, "%s: a scheme means nothing here: "
				   "give %s", shown.buf, shown.buf + strlen("https://"));
			sl_buf_release(&shown);
			return -1;
		}
		https = 1;
		rest += strlen("https://");
	} else if (has_prefix_nocase(rest, "http://")) {
		http = 1;
		rest += strlen("http://");
	}
	slash = strchr(rest, '/');
	n = slash ? (size_t)(slash - rest) : strlen(rest);
	host = sl_xstrndup(rest, n);
	for (char *c = host; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	path = sl_xstrdup(slash ? slash : "/");
	for (n = strlen(path); n > 1 && path[n - 1] == '/'; n--)
		path[n - 1] = '\0';

	if (!host_valid(host) &&
	    !((flags & SL_LOC_PREV) && !strcmp(host, "prev.*")))
		refuse(err, text, "invalid location", "want [http[s]://]host[/path]");
	else if (!path_chars_valid(path))
		refuse(err, text, "invalid path in location", NULL);
	else if (path_has_dots(path))
		refuse(err, text, "invalid path in location", "no . or .. segments");
	else if (!strcmp(host, "disabled"))
		refuse(err, text, "invalid location",
		       "the host name disabled is the node's own");
	else if (!(flags & SL_LOC_PREV) && !strncmp(host, "prev.", 5))
		refuse(err, text, "invalid location",
		       "prev.* names the previous instance; roll back with 'prev'");
	else if (https && (sl_location_is_default(host) || !strncmp(host, "prev.", 5)))
		refuse(err, text, "no certificate can name this host",
		       "give https://HOST for each host, or https://.example.com "
		       "with a certificate you install (silver install-cert)");
	else {
		loc->host = host;
		loc->path = path;
		loc->https = https;
		loc->http = http;
		return 0;
	}
	free(host);
	free(path);
	return -1;
}

void sl_location_release(struct sl_location *loc)
{
	free(loc->host);
	free(loc->path);
	loc->host = loc->path = NULL;
	loc->https = loc->http = 0;
}

int sl_location_is_default(const char *host)
{
	return !strcmp(host, "*") || !strcmp(host, "not-found");
}

void sl_location_prev(const char *host, struct sl_buf *out)
{
	sl_buf_reset(out);
	sl_buf_addf(out, "prev.%s", host + (*host == '.'));
}

void sl_location_url(const char *host, const char *path, const char *node,
		     struct sl_buf *out)
{
	sl_buf_reset(out);
	if (sl_location_is_default(host))
		host = node;
	sl_buf_addf(out, "http://%s%s", host + (*host == '.'),
		    strcmp(path, "/") ? path : "");
}
