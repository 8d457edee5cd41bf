/* silverlining — what the node writes for others to read: nginx's routes, an instance's uWSGI config. */
#ifndef SL_RENDER_H
#define SL_RENDER_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/*
 * Pure functions from the node's state to text: no file is read, no
 * clock or environment consulted. The same state always renders the same
 * bytes, so a caller can compare the text with what nginx runs now and
 * reload only when it changed. tests/ holds golden files for them.
 */

/* One route as nginx serves it. Every path is given by the caller. */
struct sl_render_route {
	const char *host;	/* as routed (location.h): "*", ".example.com", ... */
	const char *path;	/* "/" or "/a/b" */
	const char *app;	/* the app serving it (not in the text) */
	const char *socket;	/* the Unix socket requests are proxied to:
				   a stable link per location keeps the
				   text the same when its target changes */
	const char *static_dir;	/* the directory static files are served from */
	const char *writable_root;	/* the app's writable root, NULL for none */
	int timeout;		/* the app's timeout in seconds */
	int disabled;		/* the app is disabled: 503 to all but loopback */
	int https;		/* served over HTTPS, when CERT is given */
	int hsts;		/* its HTTPS answers carry Strict-Transport-Security */
	const char *cert;	/* the host's live certificate (chain then key,
				   one file), NULL for none: then the
				   location is served over plain HTTP */
	const char *cert_sha256;	/* the SHA-256 of its certificates
					   (not its key), 64 hex digits */
};

struct sl_render_nginx {
	const struct sl_render_route *routes;
	size_t n;
	const char *pages;	/* the directory of disabled.html and not-found.html */
	const char *challenge;	/* the directory of the ACME HTTP-01 answers */
};

/*
 * nginx's routes for IN, appended to OUT: one server block per host, the
 * route paths longest first, a default server with the not-found page
 * when no route takes every host, and on each server a location only
 * loopback may read, /.silverlining/generation, answering a digest of the
 * rest of the text (after a reload, nginx serves the new routes once it
 * answers the new digest). Returns 0, or -1 with ERR (100) when the routes
 * cannot be served together ("*" and "not-found" both routed).
 *
 * Every port-80 server, the default one too, answers
 * /.well-known/acme-challenge/ from IN's challenge directory, before any
 * route (a route at or under that path is refused). A host with an https
 * route that has a certificate gets a second server on port 443 (TLS 1.2
 * and 1.3, ECDHE ciphers, no session tickets) serving all of the host's
 * routes, with a comment "# certificate sha256 HEX" (so a new certificate
 * is a new text, and a reload); its port-80 server answers the https
 * routes with 308 to the same URL over HTTPS and serves the others as
 * before. HSTS only on hsts routes, only over HTTPS. When any such server
 * exists, a default one on port 443 refuses the TLS handshake of every
 * other name. An https route without a certificate is served over HTTP
 * (the caller warns). The https routes of one host name one certificate,
 * and "*" and "not-found" none: else refused (100).
 *
 * The order of IN's routes does not matter. Named locations are named
 * from the host and path ("@HOST/PATH", "@wr:HOST/PATH" for the writable
 * root's), never from the instance. The generation is the SHA-256, in
 * hex, of the text with every place it appears left empty; the text
 * carries it in a line "# generation HEX" too.
 *
 * Nothing in IN reaches the text where it could change nginx's syntax.
 * Refused, -1 with ERR (100), nothing appended: a host other than "*" or
 * a name of [a-z0-9.-]; a path other than "/" or "/seg/seg" of
 * [A-Za-z0-9._~-] (so no ';', '{', '"', '$' or whitespace); the same host
 * and path twice; a socket, static directory, writable root, certificate,
 * pages or challenge directory that is not absolute or holds a control
 * character or '$' (nginx has no escape for it), a socket that holds ':'
 * (it would end the path in nginx's unix: URL); a certificate digest
 * that is not 64 hex digits. Those files are written in double quotes,
 * '"' and '\' escaped.
 */
int sl_render_nginx(const struct sl_render_nginx *in, struct sl_buf *out,
		    struct sl_err *err);

/*
 * The generation digest a text rendered by sl_render_nginx() carries,
 * appended to OUT; 0, or -1 when TEXT carries none.
 */
int sl_render_generation(const char *text, struct sl_buf *out);

/* An instance's uWSGI configuration. */
struct sl_render_uwsgi {
	const char *instance;
	const char *user;	/* the app's user and group */
	const char *dir;	/* the instance's files (chdir) */
	const char *socket;	/* its http-socket */
	const char *pythonpath;	/* where silverlining_runner is */
	const char *wsgi_file;	/* the wsgi.py sl_render_wsgi() wrote */
	const char *log;	/* the app's log file */
	int processes, threads, timeout, memory_limit;	/* app.ini's */
};

/*
 * The [uwsgi] ini for IN, appended to OUT; "enable-threads" when threads
 * is above 1. The strings are written as given: the caller makes them
 * (paths under the node's ROOT, names it validated); none may hold a
 * newline, nor uWSGI's expansions $( %( @( and %LETTER.
 */
void sl_render_uwsgi(const struct sl_render_uwsgi *in, struct sl_buf *out);

/*
 * The wsgi.py that loads RUNNER (app.ini's runner, FILE or FILE#NAME) of
 * the instance in DIR through silverlining_runner, appended to OUT; both
 * strings are quoted as Python literals, whatever bytes they hold: in
 * ASCII, read back by Python as os.fsdecode() reads the bytes (UTF-8,
 * each byte of no valid sequence as the surrogate U+DC80+byte).
 */
void sl_render_wsgi(const char *dir, const char *runner, struct sl_buf *out);

#endif
