/* silverlining — the balancer's haproxy.cfg, in front of several app nodes. */
#ifndef SL_BALANCER_H
#define SL_BALANCER_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/*
 * A pure function from a nodeset's balancer settings to the text of
 * HAProxy 2.6's haproxy.cfg (Debian 12): no file is read, no clock or
 * environment consulted; the same input always renders the same bytes,
 * so a caller can compare it with the running config and reload only on
 * a change. tests/unit/balancer.bats holds its golden files and runs
 * `haproxy -c` on each, and HAProxy itself on one.
 *
 * What the text promises:
 * - global: logs to the node's syslog socket (LOG), the runtime API on
 *   STATS_SOCKET (mode 0600, level admin: a node is drained and made
 *   ready again there around its switch), running as user and group
 *   haproxy.
 * - defaults: mode http, option httplog, option http-keep-alive towards
 *   both sides, http-reuse safe (a client's first request never rides
 *   on an idle server connection, so a closed one is never its fault);
 *   timeout connect 5 s; timeout client and server TIMEOUT seconds; an
 *   idle client connection is closed after 10 s (timeout http-keep-alive).
 * - frontend "www": binds PORT (all addresses) and, when CERT_DIR is
 *   given, TLS_PORT with `ssl crt CERT_DIR` (every PEM file there: chain
 *   then key). A client's own X-Forwarded-For and X-Forwarded-Proto are
 *   removed; X-Forwarded-Proto is set to http or https. With ACME given,
 *   every request for /.well-known/acme-challenge/ (any host, either
 *   port) goes to backend "acme", the one server ACME (the balancer's
 *   own HTTP-01 answers), never to a node, and is never redirected. A
 *   request over http for one of the TLS hosts is redirected to https
 *   (301, the same host, path and query); an answer over https to a TLS
 *   host marked HSTS carries `Strict-Transport-Security:
 *   max-age=31536000` (what a node sends). A request's host is its Host
 *   header without a port, lower-cased.
 * - backend "nodes": balance leastconn (a node's uWSGI has a fixed number
 *   of workers: a node busy with slow requests gets the next ones last;
 *   among equally loaded nodes it goes round robin), option forwardfor
 *   (X-Forwarded-For: the client's address, once), active HTTP checks
 *   `GET CHECK_PATH HTTP/1.1` with `Host: CHECK_HOST` every
 *   CHECK_INTERVAL seconds expecting 200, a node out after FALL failed
 *   checks and back after RISE good ones, and the requests it still holds
 *   ended when it is marked out (on-marked-down shutdown-sessions: a node
 *   that died mid-request would otherwise hold them for TIMEOUT); retries
 *   2, each to another node when there is one (option redispatch 1: a
 *   request that met a dead node waits one connect timeout, not three),
 *   retry-on conn-failure empty-response response-timeout, and
 *   `http-request disable-l7-retry unless METH_GET` (METH_GET is GET or
 *   HEAD: any other method is resent only when its connection failed,
 *   that is when the node never saw it). Each node is one `server` line
 *   named NAME (the name the runtime API takes: `set server nodes/NAME
 *   state drain`).
 */

struct sl_balancer_node {
	const char *name;	/* [A-Za-z0-9][A-Za-z0-9._-]{0,63} */
	const char *addr;	/* an IPv4 address, dotted quad: a host
				   name HAProxy could not resolve would
				   stop it from starting, so the caller
				   resolves names (IPv6 is refused for now) */
	int port;		/* its nginx's port, 1..65535 */
};

/* A host the balancer serves over https (its certificate is in CERT_DIR). */
struct sl_balancer_tls {
	const char *host;	/* a host name, [a-z0-9.-], or ".example.com":
				   example.com and every name under it */
	int hsts;		/* its https answers carry HSTS */
};

struct sl_render_haproxy {
	const struct sl_balancer_node *nodes;	/* at least one */
	size_t n;
	int check_interval;	/* seconds between checks, 1..60 */
	int fall;		/* failed checks before a node is out, 1..10 */
	int rise;		/* good checks before it is back, 1..10 */
	const char *check_path;	/* "/" then [A-Za-z0-9._~/-]: the checks' URI */
	const char *check_host;	/* the checks' Host header, [a-z0-9.-] */
	int timeout;		/* seconds for a client and a node's answer,
				   1..3700; 0 for 60 (above the apps'
				   default timeout of 30 s and nginx's 5 s
				   more): give the nodes' longest app
				   timeout plus 10 */
	int port;		/* HTTP's port, 0 for 80 */
	int tls_port;		/* HTTPS's port, 0 for 443 */
	const char *cert_dir;	/* absolute, [A-Za-z0-9._/-]; NULL: no HTTPS */
	const char *stats_socket;	/* absolute as CERT_DIR; NULL for
					   /run/haproxy/admin.sock */
	const char *log;	/* absolute as CERT_DIR; NULL for /dev/log */
	const char *server_state_file;	/* absolute as CERT_DIR; NULL: none.
					   Given, global has server-state-file
					   and defaults load-server-state-from-file
					   global: the servers' states (a node in
					   maint or drain) as dumped there before a
					   reload are taken up again after it */
	const struct sl_balancer_tls *tls;	/* the hosts served over https */
	size_t ntls;
	const char *acme;	/* IPv4:PORT of the HTTP-01 answers' server,
				   or NULL: none */
};
#define SL_RENDER_HAPROXY_INIT { NULL, 0, 2, 3, 2, "/", "localhost", 0, 0, 0, NULL, NULL, \
	NULL, NULL, NULL, 0, NULL }

/*
 * Appends IN's haproxy.cfg to OUT. Returns 0, or -1 with ERR (100) when
 * an input is out of its range or holds a byte it may not (the message
 * names the field and the node): nothing HAProxy could read another way
 * is ever written. Two nodes with one name, or one address and port, are
 * refused too. OUT is left as it was on error.
 */
int sl_render_haproxy(const struct sl_render_haproxy *in, struct sl_buf *out,
		      struct sl_err *err);

/* 1 when HOST may be a TLS host (struct sl_balancer_tls), else 0. */
int sl_balancer_tls_host_ok(const char *host);

/*
 * HAProxy's runtime API: sends CMD (one line, no newline) to the UNIX
 * socket SOCK and appends the whole answer (until HAProxy closes) to OUT.
 * Waits at most 10 s for it. 0, or -1 with ERR: 111 when the socket
 * cannot be reached or answers too late (HAProxy not running, reloading).
 */
int sl_haproxy_ask(const char *sock, const char *cmd, struct sl_buf *out,
		   struct sl_err *err);

/*
 * One server of backend "nodes" as `show stat` tells it.
 */
struct sl_haproxy_server {
	char name[65];
	char addr[64];		/* ADDR:PORT */
	char state[32];		/* UP, DOWN, MAINT, DRAIN, NOLB, NOCHECK: the
				   first word of HAProxy's status ("UP 1/3",
				   up and failing, is UP) */
	char check[32];		/* the last check's status: L7OK, L4CON,
				   L7STS...; "-" when none yet */
};

/*
 * Parses the CSV of `show stat` (its first line names the columns) into
 * *V (malloc'ed, N entries): the servers of backend "nodes", in order.
 * -1 with ERR (111) when the text is not such a table.
 */
int sl_haproxy_servers(const char *csv, struct sl_haproxy_server **v,
		       size_t *n, struct sl_err *err);

/*
 * The name the balancer gives the app node whose host (the host part of
 * its address: "root@10.231.0.2:22" -> "10.231.0.2") is HOST, into OUT
 * (reset first): HOST with every byte outside [A-Za-z0-9._-] replaced by
 * '-'. The one rule for both sides: sl-balancer names its servers so,
 * and the laptop names a node so when it asks the balancer to drain it.
 * The name is not checked: sl_render_haproxy() refuses one HAProxy
 * could not take (empty, longer than 64, not starting with a letter or
 * digit).
 */
void sl_balancer_server_name(const char *host, struct sl_buf *out);

#endif
