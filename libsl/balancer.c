/* silverlining — the balancer's haproxy.cfg, in front of several app nodes. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "balancer.h"
#include "exit.h"
#include "file.h"
#include "mem.h"

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#define LOWER "abcdefghijklmnopqrstuvwxyz0123456789"

/* S is non-empty, at most MAX bytes, all in SET, and starts with a byte of FIRST. */
static int word_ok(const char *s, const char *first, const char *set, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	return n && n <= max && strchr(first, s[0]) && strspn(s, set) == n;
}

/* A file HAProxy is given: absolute, nothing it would quote, expand or split. */
static int file_ok(const char *f)
{
	return f && f[0] == '/' && word_ok(f, "/", ALNUM "._/-", 255);
}

/* A host name: labels of [a-z0-9-] joined by dots. */
static int host_ok(const char *h)
{
	return word_ok(h, LOWER, LOWER ".-", 253) && h[strlen(h) - 1] != '.' &&
	       !strstr(h, "..");
}

/*
 * A node's address: IPv4's dotted quad only. A host name HAProxy cannot
 * resolve at start stops it from starting: the caller resolves names.
 */
static int addr_ok(const char *a)
{
	struct in_addr ip;

	return a && strspn(a, "0123456789.") == strlen(a) && inet_pton(AF_INET, a, &ip) == 1;
}

/* ADDR:PORT, ADDR IPv4's dotted quad. */
static int addr_port_ok(const char *a)
{
	const char *colon = a ? strrchr(a, ':') : NULL;
	char ip[16];
	int port;

	if (!colon || colon - a >= (long)sizeof(ip) || !colon[1] ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) || strlen(colon + 1) > 5)
		return 0;
	memcpy(ip, a, colon - a);
	ip[colon - a] = '\0';
	port = atoi(colon + 1);
	return addr_ok(ip) && port >= 1 && port <= 65535;
}

static int in_range(int v, int lo, int hi)
{
	return v >= lo && v <= hi;
}

static int check_nodes(const struct sl_render_haproxy *in, struct sl_err *err)
{
	if (!in->n)
		return sl_err_set(err, SL_EXIT_USAGE, "the balancer has no node");
	for (size_t i = 0; i < in->n; i++) {
		const struct sl_balancer_node *v = &in->nodes[i];

		if (!word_ok(v->name, ALNUM, ALNUM "._-", 64))
			return sl_err_set(err, SL_EXIT_USAGE, "node %zu: bad name "
					  "(letters, digits, '.', '_', '-', at most 64)", i + 1);
		if (!addr_ok(v->addr))
			return sl_err_set(err, SL_EXIT_USAGE, "node %s: bad address "
					  "(an IPv4 address)", v->name);
		if (!in_range(v->port, 1, 65535))
			return sl_err_set(err, SL_EXIT_USAGE, "node %s: bad port %d",
					  v->name, v->port);
		for (size_t j = 0; j < i; j++) {
			const struct sl_balancer_node *w = &in->nodes[j];

			if (!strcmp(v->name, w->name))
				return sl_err_set(err, SL_EXIT_USAGE,
						  "node %s: named twice", v->name);
			if (!strcmp(v->addr, w->addr) && v->port == w->port)
				return sl_err_set(err, SL_EXIT_USAGE, "nodes %s and %s: "
						  "the same address %s:%d", w->name,
						  v->name, v->addr, v->port);
		}
	}
	return 0;
}

int sl_balancer_tls_host_ok(const char *h)
{
	return h && host_ok(h[0] == '.' ? h + 1 : h);
}

static int check_input(const struct sl_render_haproxy *in, struct sl_err *err)
{
	if (!in_range(in->check_interval, 1, 60))
		return sl_err_set(err, SL_EXIT_USAGE, "check_interval %d: not 1..60",
				  in->check_interval);
	if (!in_range(in->fall, 1, 10) || !in_range(in->rise, 1, 10))
		return sl_err_set(err, SL_EXIT_USAGE, "fall %d, rise %d: not 1..10",
				  in->fall, in->rise);
	if (!word_ok(in->check_path, "/", ALNUM "._~/-", 255))
		return sl_err_set(err, SL_EXIT_USAGE, "bad check path "
				  "('/' then letters, digits, '.', '_', '~', '/', '-')");
	if (!host_ok(in->check_host))
		return sl_err_set(err, SL_EXIT_USAGE, "bad check host (a host name)");
	if (in->timeout && !in_range(in->timeout, 1, 3700))
		return sl_err_set(err, SL_EXIT_USAGE, "timeout %d: not 1..3700",
				  in->timeout);
	if ((in->port && !in_range(in->port, 1, 65535)) ||
	    (in->tls_port && !in_range(in->tls_port, 1, 65535)))
		return sl_err_set(err, SL_EXIT_USAGE, "bad port");
	if ((in->cert_dir && !file_ok(in->cert_dir)) ||
	    (in->stats_socket && !file_ok(in->stats_socket)) ||
	    (in->log && !file_ok(in->log)) ||
	    (in->server_state_file && !file_ok(in->server_state_file)))
		return sl_err_set(err, SL_EXIT_USAGE, "bad file name (absolute; "
				  "letters, digits, '.', '_', '/', '-')");
	if (in->acme && !addr_port_ok(in->acme))
		return sl_err_set(err, SL_EXIT_USAGE, "bad acme server (IPv4:PORT)");
	for (size_t i = 0; i < in->ntls; i++) {
		if (!sl_balancer_tls_host_ok(in->tls[i].host))
			return sl_err_set(err, SL_EXIT_USAGE, "TLS host %zu: bad host (a host"
					  " name, or .example.com)", i + 1);
	}
	return check_nodes(in, err);
}

/*
 * "\tacl NAME var(txn.host) -m str|end ..." for the TLS hosts (HSTS ones
 * alone when ONLY_HSTS): exact names, and ".example.com" as example.com
 * and the names ending in .example.com.
 */
static void host_acl(const struct sl_render_haproxy *in, const char *name, int only_hsts,
		     struct sl_buf *out)
{
	for (int end = 0; end < 2; end++) {
		size_t mark = out->len;
		int any = 0;

		sl_buf_addf(out, "\tacl %s var(txn.host) -m %s", name, end ? "end" : "str");
		for (size_t i = 0; i < in->ntls; i++) {
			const char *h = in->tls[i].host;

			if (only_hsts && !in->tls[i].hsts)
				continue;
			if (end && h[0] == '.')
				sl_buf_addf(out, " %s", h);
			if (!end)
				sl_buf_addf(out, " %s", h + (h[0] == '.'));
			any |= !end || h[0] == '.';
		}
		if (any)
			sl_buf_addch(out, '\n');
		else
			sl_buf_setlen(out, mark);
	}
}

/* The frontend's rules for the ACME answers and the TLS hosts. */
static void tls_rules(const struct sl_render_haproxy *in, struct sl_buf *out)
{
	int hsts = 0;

	for (size_t i = 0; i < in->ntls; i++)
		hsts |= in->tls[i].hsts;
	if (in->acme)
		sl_buf_adds(out, "\tacl acme path_beg /.well-known/acme-challenge/\n");
	if (!in->ntls)
		return;
	sl_buf_adds(out, "\thttp-request set-var(txn.host) req.hdr(host),field(1,:),lower\n");
	host_acl(in, "tls_host", 0, out);
	if (hsts)
		host_acl(in, "hsts_host", 1, out);
	sl_buf_addf(out, "\thttp-request redirect scheme https code 301 if !{ ssl_fc } tls_host%s\n",
		    in->acme ? " !acme" : "");
	if (hsts)
		sl_buf_adds(out, "\thttp-response set-header Strict-Transport-Security"
			    " \"max-age=31536000\" if { ssl_fc } hsts_host\n");
}

int sl_render_haproxy(const struct sl_render_haproxy *in, struct sl_buf *out,
		      struct sl_err *err)
{
	int timeout = in->timeout ? in->timeout : 60;

	if (check_input(in, err) < 0)
		return -1;
	sl_buf_addf(out,
		    "# silverlining: the balancer (written by silverlining, do not edit)\n"
		    "global\n"
		    "\tlog %s local0\n"
		    "\tstats socket %s mode 600 level admin\n"
		    "\tuser haproxy\n"
		    "\tgroup haproxy\n",
		    in->log ? in->log : "/dev/log",
		    in->stats_socket ? in->stats_socket : "/run/haproxy/admin.sock");
	if (in->server_state_file)
		sl_buf_addf(out, "\tserver-state-file %s\n", in->server_state_file);
	sl_buf_adds(out,
		    "\n"
		    "defaults\n"
		    "\tmode http\n"
		    "\tlog global\n");
	if (in->server_state_file)
		sl_buf_adds(out, "\tload-server-state-from-file global\n");
	sl_buf_addf(out,
		    "\toption httplog\n"
		    "\toption dontlognull\n"
		    "\toption http-keep-alive\n"
		    "\thttp-reuse safe\n"
		    "\ttimeout connect 5s\n"
		    "\ttimeout client %ds\n"
		    "\ttimeout server %ds\n"
		    "\ttimeout http-keep-alive 10s\n"
		    "\n"
		    "frontend www\n"
		    "\tbind :%d\n",
		    timeout, timeout, in->port ? in->port : 80);
	if (in->cert_dir)
		sl_buf_addf(out, "\tbind :%d ssl crt %s\n",
			    in->tls_port ? in->tls_port : 443, in->cert_dir);
	sl_buf_adds(out,
		    "\thttp-request del-header X-Forwarded-For\n"
		    "\thttp-request set-header X-Forwarded-Proto https if { ssl_fc }\n"
		    "\thttp-request set-header X-Forwarded-Proto http unless { ssl_fc }\n");
	tls_rules(in, out);
	if (in->acme)
		sl_buf_adds(out, "\tuse_backend acme if acme\n");
	sl_buf_addf(out,
		    "\tdefault_backend nodes\n"
		    "\n"
		    "backend nodes\n"
		    "\tbalance leastconn\n"
		    "\toption forwardfor\n"
		    "\toption httpchk\n"
		    "\thttp-check send meth GET uri %s ver HTTP/1.1 hdr Host %s\n"
		    "\thttp-check expect status 200\n"
		    "\toption redispatch 1\n"
		    "\tretries 2\n"
		    "\tretry-on conn-failure empty-response response-timeout\n"
		    "\thttp-request disable-l7-retry unless METH_GET\n"
		    "\tdefault-server check inter %ds fall %d rise %d on-marked-down shutdown-sessions\n",
		    in->check_path, in->check_host, in->check_interval,
		    in->fall, in->rise);
	for (size_t i = 0; i < in->n; i++)
		sl_buf_addf(out, "\tserver %s %s:%d\n", in->nodes[i].name,
			    in->nodes[i].addr, in->nodes[i].port);
	if (in->acme)
		sl_buf_addf(out, "\n"
			    "backend acme\n"
			    "\tserver acme %s\n", in->acme);
	return 0;
}

void sl_balancer_server_name(const char *host, struct sl_buf *out)
{
	sl_buf_reset(out);
	for (; *host; host++)
		sl_buf_addch(out, strchr(ALNUM "._-", *host) ? *host : '-');
}

int sl_haproxy_ask(const char *sock, const char *cmd, struct sl_buf *out,
		   struct sl_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timespec end, now;
	struct sl_buf line = SL_BUF_INIT;
	int fd, ret = -1;

	if (strlen(sock) >= sizeof(sa.sun_path))
		return sl_err_set(err, SL_EXIT_USAGE, "%s: socket path too long", sock);
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sl_err_errno(err, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		sl_err_errno(err, "unable to reach HAProxy's runtime API at %s", sock);
		goto out;
	}
	sl_buf_addf(&line, "%s\n", cmd);
	if (sl_file_write_all(fd, line.buf, line.len) < 0 || shutdown(fd, SHUT_WR) < 0) {
		sl_err_errno(err, "%s: unable to send '%s'", sock, cmd);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += 10;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		long ms, got;

		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000;
		if (ms <= 0 || poll(&p, 1, (int)ms) == 0) {
			sl_err_set(err, SL_EXIT_TEMP, "%s: no answer to '%s' in 10 s", sock, cmd);
			goto out;
		}
		sl_buf_grow(out, 4096);
		got = read(fd, out->buf + out->len, 4096);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			sl_err_errno(err, "%s: unable to read the answer to '%s'", sock, cmd);
			goto out;
		}
		if (!got)
			break;
		out->len += got;
		out->buf[out->len] = '\0';
	}
	ret = 0;
out:
	if (ret < 0 && err)
		err->code = SL_EXIT_TEMP;
	close(fd);
	sl_buf_release(&line);
	return ret;
}

/* The COL'th comma-separated field of LINE (up to its end) into DST. */
static void field(const char *line, int col, char *dst, size_t size)
{
	size_t n;

	for (; col > 0 && line; col--)
		if ((line = strchr(line, ',')))
			line++;
	n = line ? strcspn(line, ",\n") : 0;
	if (n >= size)
		n = size - 1;
	memcpy(dst, line ? line : "", n);
	dst[n] = '\0';
}

int sl_haproxy_servers(const char *csv, struct sl_haproxy_server **v,
		       size_t *n, struct sl_err *err)
{
	const char *want[] = { "pxname", "svname", "status", "check_status", "addr" };
	int col[5] = { -1, -1, -1, -1, -1 };
	const char *p = csv + 2, *line;
	char name[64];

	*v = NULL;
	*n = 0;
	if (strncmp(csv, "# ", 2))
		return sl_err_set(err, SL_EXIT_TEMP, "HAProxy's stats: no header line");
	for (int i = 0; p; i++) {
		field(p, 0, name, sizeof(name));
		for (size_t k = 0; k < 5; k++)
			if (!strcmp(name, want[k]))
				col[k] = i;
		p = p + strcspn(p, ",\n");
		p = *p == ',' ? p + 1 : NULL;
	}
	for (size_t k = 0; k < 5; k++)
		if (col[k] < 0)
			return sl_err_set(err, SL_EXIT_TEMP, "HAProxy's stats: no column %s",
					  want[k]);
	for (line = strchr(csv, '\n'); line && *++line; line = strchr(line, '\n')) {
		struct sl_haproxy_server s;
		char status[32];

		field(line, col[0], name, sizeof(name));
		if (strcmp(name, "nodes"))
			continue;
		field(line, col[1], s.name, sizeof(s.name));
		if (!strcmp(s.name, "BACKEND") || !strcmp(s.name, "FRONTEND"))
			continue;
		field(line, col[4], s.addr, sizeof(s.addr));
		field(line, col[2], status, sizeof(status));
		status[strcspn(status, " ")] = '\0';
		snprintf(s.state, sizeof(s.state), "%s",
			 !strcmp(status, "no") ? "NOCHECK" : *status ? status : "-");
		field(line, col[3], status, sizeof(status));
		snprintf(s.check, sizeof(s.check), "%s",
			 status[0] == '*' ? status + 1 + (status[1] == ' ') :
			 *status ? status : "-");
		if (!*s.check)
			strcpy(s.check, "-");
		*v = sl_xrealloc(*v, (*n + 1) * sizeof(**v));
		(*v)[(*n)++] = s;
	}
	return 0;
}
