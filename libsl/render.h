/* silverlining — what the node writes for others to read: nginx's routes, an instance's server config. */
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
	/* a PHP app's (platform php): requests static/ and the writable
	   root do not answer go to php-fpm over FastCGI, on SOCKET */
	int php;
	const char *link;	/* the location's stable link (node.h),
				   ROOT/nginx/at/KEY: nginx resolves it once
				   a request and takes both the socket (sock)
				   and the scripts' directory (app) behind it */
	const char *php_runner;	/* runner mode: the script, relative to
				   app, that runs every dynamic request */
	const char *php_root;	/* else php_root mode: the directory,
				   relative to app, whose .php files run
				   and whose other files nginx serves */
};

struct sl_render_nginx {
	const struct sl_render_route *routes;
	size_t n;
	const char *pages;	/* the directory of disabled.html and not-found.html */
	const char *challenge;	/* the directory of the ACME HTTP-01 answers */
	const char *const *balancers;	/* the balancers' IPv4 addresses */
	size_t nbalancers;		/* how many (0: no balancer) */
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
 * Every server answers /.silverlining/up, the balancer's health check,
 * with 200 "up" to loopback and IN's balancers and 404 to everyone else,
 * as long as nginx runs. Loopback (generation, a disabled app) and the
 * balancers are told by the connection's own address
 * ($realip_remote_addr), never by a header. With balancers, the text
 * trusts their X-Forwarded-For alone (set_real_ip_from each,
 * real_ip_header X-Forwarded-For, real_ip_recursive off: its last
 * address, the one the balancer saw): $remote_addr is the client's for a
 * request from a balancer and the connection's for any other. The app is
 * given $remote_addr as X-Forwarded-For (nothing a client sent) and as
 * X-Silverlining-Remote-Addr, which the runner makes REMOTE_ADDR; a PHP
 * app has it as REMOTE_ADDR and HTTP_X_FORWARDED_FOR. A balancer that is
 * not a dotted-quad IPv4 address is refused (100).
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
 * With balancers, TLS is theirs (they terminate it and redirect plain
 * HTTP): an https route gets no 443 server, no redirect and no HSTS,
 * whatever certificate it names, and is served on port 80 to loopback
 * and the balancers alone (421 Misdirected Request to anyone else, told
 * by the connection's address: a client that reaches the node directly
 * would otherwise use an https:// location in clear, around the
 * balancer's redirect and HSTS), the app told the request was HTTPS
 * (X-Forwarded-Proto https; a PHP app HTTPS on, REQUEST_SCHEME https).
 *
 * A php route's requests that static/ and the writable root do not
 * answer are PHP's: fastcgi_pass to LINK/sock with Debian's
 * /etc/nginx/fastcgi_params. nginx resolves LINK once for the request
 * (its $realpath_root, ROOT/nginx/inst/INST) and names both the socket
 * and SCRIPT_FILENAME (under its app) from it, so a switch of the link
 * can never send one instance's php-fpm the other's script.
 * DOCUMENT_ROOT is its app (or php_root there), HTTP_X_SILVERLINING_UPDATE
 * empty, fastcgi_read_timeout the timeout + 5 s and a request body of
 * up to SL_RENDER_PHP_BODY_MB MiB. Runner mode: every request runs the
 * runner, SCRIPT_NAME the route's path ("" at "/"). php_root mode: the
 * route's path is taken off the URI, which is then looked up under
 * php_root: a .php file runs (SCRIPT_NAME the route's path
 * and the file's), a directory runs its index.php, any other file is
 * served by nginx, and the rest is 404 (nginx's, or php-fpm's for a
 * script it cannot find); nothing outside php_root.
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
 * that is not 64 hex digits; a php route without a LINK nginx can read,
 * or with neither or both of php_runner and php_root, or one of them
 * that is not a relative path of no '..' segment, no control character,
 * '$' or '"'. Those files are written in double quotes, '"' and '\'
 * escaped.
 */
int sl_render_nginx(const struct sl_render_nginx *in, struct sl_buf *out,
		    struct sl_err *err);

/* The largest request body a PHP route takes (PHP's post_max_size too). */
#define SL_RENDER_PHP_BODY_MB 32

/* 1 when IP is an IPv4 address in dotted-quad form (as nginx and the balancer list write it). */
int sl_render_balancer_ok(const char *ip);

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
	const char *socket;	/* its socket, which systemd holds and passes */
	const char *pythonpath;	/* where silverlining_runner is */
	const char *wsgi_file;	/* the wsgi.py sl_render_wsgi() wrote */
	const char *log;	/* the app's log file */
	int processes, threads, timeout, memory_limit;	/* app.ini's */
	int idle;	/* app.ini's idle_timeout: 0, never */
};

/*
 * The [uwsgi] ini for IN, appended to OUT; "enable-threads" when threads
 * is above 1. uWSGI speaks HTTP on the socket systemd passes it
 * (silverlining-instance@.socket: LISTEN_FDS) and binds none itself; with
 * an idle time, it exits after so many seconds without a request (the
 * next connection starts it again). The strings are written as given: the caller makes them
 * (paths under the node's ROOT, names it validated); none may hold a
 * newline, nor uWSGI's expansions $( %( @( and %LETTER.
 */
void sl_render_uwsgi(const struct sl_render_uwsgi *in, struct sl_buf *out);

/* An instance's php-fpm configuration: one master, one pool. */
struct sl_render_phpfpm {
	const char *instance;	/* the pool's name */
	const char *user;	/* the app's user and group: the workers' */
	const char *dir;	/* the instance's files (chdir) */
	const char *socket;	/* the pool's socket */
	const char *log;	/* the app's log file: the master's and the workers' */
	const char *slowlog;	/* where slow requests' backtraces go */
	const char *temp;	/* the instance's TEMP */
	const char *areas;	/* the app's files areas, ROOT/apps/APP */
	int processes, timeout, memory_limit;	/* app.ini's */
};

/* How long an idle worker lives, and after how long a request is slow. */
#define SL_RENDER_PHP_IDLE_S 10
#define SL_RENDER_PHP_SLOW_S 5

/*
 * The php-fpm.conf for IN, appended to OUT: [global] logging to the
 * app's log, in the foreground; one pool on IN's socket (the app's user
 * and www-data, 0660), workers as the app's user, started on demand
 * (pm.max_children = processes, idle ones stopped after
 * SL_RENDER_PHP_IDLE_S seconds, each replaced after 5000 requests),
 * request_terminate_timeout the timeout, a slow log after
 * SL_RENDER_PHP_SLOW_S seconds, clear_env no (the workers see the
 * master's environment, which sl-env gave it: no secret is written
 * here), only .php files run; and, where ini_set() cannot change them,
 * memory_limit, upload_max_filesize and post_max_size
 * (SL_RENDER_PHP_BODY_MB), open_basedir (the instance, its TEMP, the
 * files areas and /usr/share/php), sessions, uploads and temporary
 * files in TEMP, expose_php off. The strings are written as given: the
 * caller makes them (paths under the node's ROOT, names it validated);
 * none may hold a newline, '"', ';', ':' or '$'.
 */
void sl_render_phpfpm(const struct sl_render_phpfpm *in, struct sl_buf *out);

/*
 * The wsgi.py that loads RUNNER (app.ini's runner, FILE or FILE#NAME) of
 * the instance in DIR through silverlining_runner, appended to OUT; both
 * strings are quoted as Python literals, whatever bytes they hold: in
 * ASCII, read back by Python as os.fsdecode() reads the bytes (UTF-8,
 * each byte of no valid sequence as the surrogate U+DC80+byte).
 */
void sl_render_wsgi(const char *dir, const char *runner, struct sl_buf *out);

#endif
