/* silverlining — the balancer's haproxy.cfg, in front of several app nodes. */
#include <arpa/inet.h>
#include <string.h>

#include "balancer.h"
#include "exit.h"

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
	    (in->log && !file_ok(in->log)))
		return sl_err_set(err, SL_EXIT_USAGE, "bad file name (absolute; "
				  "letters, digits, '.', '_', '/', '-')");
	return check_nodes(in, err);
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
		    "\tgroup haproxy\n"
		    "\n"
		    "defaults\n"
		    "\tmode http\n"
		    "\tlog global\n"
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
		    in->log ? in->log : "/dev/log",
		    in->stats_socket ? in->stats_socket : "/run/haproxy/admin.sock",
		    timeout, timeout, in->port ? in->port : 80);
	if (in->cert_dir)
		sl_buf_addf(out, "\tbind :%d ssl crt %s\n",
			    in->tls_port ? in->tls_port : 443, in->cert_dir);
	sl_buf_addf(out,
		    "\thttp-request del-header X-Forwarded-For\n"
		    "\thttp-request set-header X-Forwarded-Proto https if { ssl_fc }\n"
		    "\thttp-request set-header X-Forwarded-Proto http unless { ssl_fc }\n"
		    "\tdefault_backend nodes\n"
		    "\n"
		    "backend nodes\n"
		    "\tbalance leastconn\n"
		    "\toption forwardfor\n"
		    "\toption httpchk\n"
		    "\thttp-check send meth GET uri %s ver HTTP/1.1 hdr Host %s\n"
		    "\thttp-check expect status 200\n"
		    "\toption redispatch\n"
		    "\tretries 2\n"
		    "\tretry-on conn-failure empty-response response-timeout\n"
		    "\thttp-request disable-l7-retry unless METH_GET\n"
		    "\tdefault-server check inter %ds fall %d rise %d\n",
		    in->check_path, in->check_host, in->check_interval,
		    in->fall, in->rise);
	for (size_t i = 0; i < in->n; i++)
		sl_buf_addf(out, "\tserver %s %s:%d\n", in->nodes[i].name,
			    in->nodes[i].addr, in->nodes[i].port);
	return 0;
}

void sl_balancer_server_name(const char *host, struct sl_buf *out)
{
	sl_buf_reset(out);
	for (; *host; host++)
		sl_buf_addch(out, strchr(ALNUM "._-", *host) ? *host : '-');
}
