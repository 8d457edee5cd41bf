/* silverlining — locations: where an app is served. The one parser. */
#ifndef SL_LOCATION_H
#define SL_LOCATION_H

#include "buf.h"
#include "err.h"

/*
 * A location is "[http://|https://]HOST[/PATH]" as a user types it
 * (silver update . blog.example.com/wiki, app.ini's default_location,
 * every node tool). This module is the only place that reads one: every
 * tool, app.c and silver (through sl-route --parse) go through
 * sl_location_parse(), so a location refused at deploy is refused with
 * the same words everywhere.
 *
 * After parsing:
 *   host  lowercase; one of
 *         "*"              every host no other route takes
 *         "not-found"      the same, kept for the 2010 tool's name
 *         ".example.com"   example.com and every name under it
 *         "prev.HOST"      the previous instance at HOST (SL_LOC_PREV only)
 *         a DNS name       labels of [a-z0-9-], no '-' at either end
 *   path  "/" or "/seg/seg" without a trailing '/'; segments of
 *         [A-Za-z0-9._~-], never "." or "..".
 *   https 1 when it was given as https://.
 *   http  1 when it was given as http:// (0 for neither: a deploy then
 *         keeps the location's scheme, a new location is plain HTTP).
 *
 * Refused (code 100, the message naming the location as given): an empty
 * host, any other character (my_site.com), a "." or ".." segment, the
 * host "disabled" (the node's own), prev.* unless SL_LOC_PREV, https://
 * unless SL_LOC_HTTPS (where a scheme means nothing: deactivate, disable,
 * a preview's prev.HOST), https:// with a host no certificate can name
 * ("*", "not-found", "prev.HOST").
 */
enum {
	SL_LOC_PREV = 1,	/* prev.HOST is accepted (deactivate names it) */
	SL_LOC_HTTPS = 2,	/* https:// is accepted */
};

struct sl_location {
	char *host;
	char *path;
	int https;
	int http;
};
#define SL_LOCATION_INIT { NULL, NULL, 0, 0 }

/* Parses TEXT into LOC (released first). 0, or -1 with ERR (100). */
int sl_location_parse(const char *text, int flags, struct sl_location *loc,
		      struct sl_err *err);

void sl_location_release(struct sl_location *loc);

/* 1 when HOST takes every host no other route takes ("*", "not-found"). */
int sl_location_is_default(const char *host);

/*
 * "prev.HOST" for HOST (a leading '.' of a wildcard dropped:
 * ".example.com" -> "prev.example.com"), appended to OUT after resetting it.
 */
void sl_location_prev(const char *host, struct sl_buf *out);

/*
 * The URL a user opens for HOST PATH, appended to OUT after resetting it:
 * "http://HOST/PATH" without a trailing '/', a wildcard's domain for
 * ".example.com", NODE (the node's own name) for "*" and "not-found".
 */
void sl_location_url(const char *host, const char *path, const char *node,
		     struct sl_buf *out);

#endif
