/* silverlining — sl-balancer: the balancer node's HAProxy, configured and steered. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../libsl/acme.h"
#include "../libsl/balancer.h"
#include "../libsl/file.h"
#include "../libsl/mem.h"
#include "../libsl/msg.h"
#include "../libsl/node.h"
#include "../libsl/nodeset.h"
#include "../libsl/run.h"
#include "../libsl/ssh.h"
#include "../libsl/tls.h"
#include "../libsl/version.h"

#define USAGE "sl-balancer [--socket PATH] --apply | [--socket PATH] --state" \
	" | [--socket PATH] --drain HOST | [--socket PATH] --ready HOST" \
	" | [--socket PATH] --maint HOST | [--socket PATH] --wait-up HOST [SECONDS]" \
	" | --cert [--acme-directory URL] [--acme-email ADDR] [--hsts | --no-hsts] HOST..." \
	" | --renew [--force]"
#define CONFIG "/etc/haproxy/haproxy.cfg"
#define STATE_FILE "/var/lib/haproxy/server-state"
#define CERTS "/etc/haproxy/certs"	/* HAProxy's PEMs, root's (0700) */
#define ACME_SERVER "127.0.0.1:8402"	/* nginx serving ROOT/acme/challenge/ */
#define TLS_LIST "balancer/tls"		/* under ROOT: the TLS hosts */
#define NODE_LOCK_WAIT 600

static const char *sock = "/run/haproxy/admin.sock";

/* The answer to CMD, or death (111). The caller releases OUT. */
static void ask(const char *cmd, struct sl_buf *out)
{
	struct sl_err err = SL_ERR_INIT;

	if (sl_haproxy_ask(sock, cmd, out, &err) < 0)
		sl_die_err(&err);
}

/* HAProxy's servers of backend "nodes" into *V, *N. */
static void servers(struct sl_haproxy_server **v, size_t *n)
{
	struct sl_buf csv = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;

	ask("show stat", &csv);
	if (sl_haproxy_servers(csv.buf, v, n, &err) < 0)
		sl_die_err(&err);
	sl_buf_release(&csv);
}

static void state(void)
{
	struct sl_haproxy_server *v;
	size_t n;

	servers(&v, &n);
	for (size_t i = 0; i < n; i++)
		printf("%s %s %s %s\n", v[i].name, v[i].addr, v[i].state, v[i].check);
	free(v);
}

/* HOST's server (a host or a server name) in V; 100 when there is none. */
static const struct sl_haproxy_server *find(const char *host,
					    const struct sl_haproxy_server *v, size_t n)
{
	struct sl_buf name = SL_BUF_INIT;

	sl_balancer_server_name(host, &name);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].name, name.buf)) {
			sl_buf_release(&name);
			return &v[i];
		}
	sl_die(SL_EXIT_USAGE, "no node %s in the balancer (sl-balancer --state lists them)",
	       name.buf);
}

/* set server nodes/NAME state WHAT: drain, ready or maint. */
static void set(const char *host, const char *what)
{
	struct sl_haproxy_server *v;
	struct sl_buf cmd = SL_BUF_INIT, answer = SL_BUF_INIT;
	size_t n;

	servers(&v, &n);
	sl_buf_addf(&cmd, "set server nodes/%s state %s", find(host, v, n)->name, what);
	ask(cmd.buf, &answer);
	sl_buf_rtrim(&answer);
	if (answer.len)
		sl_die(SL_EXIT_TEMP, "HAProxy refused '%s': %s", cmd.buf, answer.buf);
	free(v);
	sl_buf_release(&cmd);
	sl_buf_release(&answer);
}

/* Until HAProxy's checks see HOST UP; 111 after SECONDS. */
static void wait_up(const char *host, const char *seconds)
{
	char *end;
	long secs = seconds ? strtol(seconds, &end, 10) : 30;
	struct timespec t0, now, nap = { 0, 100 * 1000 * 1000 };

	if (seconds && (*end || !*seconds || secs < 1 || secs > 3600))
		sl_die(SL_EXIT_USAGE, "bad SECONDS '%s': want 1..3600", seconds);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct sl_haproxy_server *v;
		const struct sl_haproxy_server *s;
		size_t n;

		servers(&v, &n);
		s = find(host, v, n);
		if (!strcmp(s->state, "UP")) {
			free(v);
			return;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= secs)
			sl_die(SL_EXIT_TEMP, "%s is not UP after %ld s: %s, last check %s",
			       s->name, secs, s->state, s->check);
		free(v);
		nanosleep(&nap, NULL);
	}
}

/* Runs ARGV; its exit code. Its output goes to our stderr. */
static int run(const char *const *argv)
{
	struct sl_child c = SL_CHILD_INIT;
	struct sl_err err = SL_ERR_INIT;
	int code;

	c.argv = (char *const *)argv;
	c.out = 2;
	code = sl_run(&c, &err);
	if (code < 0)
		sl_die_err(&err);
	return code;
}

/* The TLS hosts (ROOT/balancer/tls: "HOST" or "HOST hsts", a line each). */
struct tls_hosts {
	struct sl_strv host;
	int *hsts;
};
#define TLS_HOSTS_INIT { SL_STRV_INIT, NULL }

static void tls_load(struct tls_hosts *t)
{
	struct sl_buf path = SL_BUF_INIT, text = SL_BUF_INIT;
	char *line, *save = NULL;

	sl_node_path(&path, TLS_LIST);
	if (sl_buf_read_file(&text, path.buf) < 0 && errno != ENOENT)
		sl_die_errno("unable to read %s", path.buf);
	for (line = strtok_r(text.buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t n = strcspn(line, " ");

		t->hsts = sl_xrealloc(t->hsts, (t->host.n + 1) * sizeof(*t->hsts));
		t->hsts[t->host.n] = !strcmp(line + n, " hsts");
		sl_strv_pushn(&t->host, line, n);
	}
	sl_buf_release(&path);
	sl_buf_release(&text);
}

static void tls_save(const struct tls_hosts *t)
{
	struct sl_buf path = SL_BUF_INIT, text = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;

	sl_node_path(&path, TLS_LIST);
	for (size_t i = 0; i < t->host.n; i++)
		sl_buf_addf(&text, "%s%s\n", t->host.v[i], t->hsts[i] ? " hsts" : "");
	if (sl_file_write(path.buf, text.buf ? text.buf : "", text.len, 0644,
			  SL_FILE_REPLACE, &err) < 0)
		sl_die_err(&err);
	sl_buf_release(&path);
	sl_buf_release(&text);
}

/* HOST's entry in T, added (HSTS off) when missing. */
static size_t tls_add(struct tls_hosts *t, const char *host)
{
	size_t i = 0;

	while (i < t->host.n && strcmp(t->host.v[i], host))
		i++;
	if (i == t->host.n) {
		t->hsts = sl_xrealloc(t->hsts, (i + 1) * sizeof(*t->hsts));
		t->hsts[i] = 0;
		sl_strv_push(&t->host, host);
	}
	return i;
}

/*
 * HAProxy's PEMs: CERTS/NAME.pem (0600, a copy of ROOT/tls/certs/NAME.pem,
 * chain then key) for each certificate serving a TLS host, none other.
 * USE[i] is 1 when host i has one. 1 when a file changed, else 0.
 */
static int pems(const struct tls_hosts *t, int *use)
{
	struct sl_strv names = SL_STRV_INIT;
	struct sl_buf dst = SL_BUF_INIT, pem = SL_BUF_INIT, old = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct dirent *e;
	int changed = 0;
	DIR *d;

	if (sl_file_mkdirs(CERTS, 0700, &err) < 0)
		sl_die_err(&err);
	for (size_t i = 0; i < t->host.n; i++) {
		struct sl_tls_cert c = SL_TLS_CERT_INIT;
		int found = sl_tls_find(t->host.v[i], &c, &err);

		if (found < 0)
			sl_die_err(&err);
		use[i] = found;
		if (!found) {
			sl_warn("%s: no certificate serves it: served over http only"
				" (sl-balancer --cert %s)", t->host.v[i], t->host.v[i]);
			continue;
		}
		sl_buf_reset(&dst);
		sl_buf_addf(&dst, CERTS "/%s.pem", c.name);
		sl_strv_pushf(&names, "%s.pem", c.name);
		sl_buf_reset(&pem);
		sl_buf_reset(&old);
		if (sl_buf_read_file(&pem, c.file) < 0)
			sl_die_errno("unable to read %s", c.file);
		if (sl_buf_read_file(&old, dst.buf) == 0 && old.len == pem.len &&
		    !memcmp(old.buf, pem.buf, pem.len))
			goto next;
		if (sl_file_write(dst.buf, pem.buf, pem.len, 0600, SL_FILE_REPLACE, &err) < 0)
			sl_die_err(&err);
		changed = 1;
next:
		sl_tls_cert_release(&c);
	}
	if (!(d = opendir(CERTS)))
		sl_die_errno("unable to read " CERTS);
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name), k = 0;

		if (n < 5 || strcmp(e->d_name + n - 4, ".pem"))
			continue;
		while (k < names.n && strcmp(names.v[k], e->d_name))
			k++;
		if (k < names.n)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) < 0)
			sl_die_errno("unable to remove " CERTS "/%s", e->d_name);
		changed = 1;
	}
	closedir(d);
	sl_strv_clear(&names);
	sl_buf_release(&dst);
	sl_buf_release(&pem);
	sl_buf_release(&old);
	return changed;
}

/*
 * haproxy.cfg from the nodeset NODESET, the TLS hosts and their PEMs,
 * into /etc/haproxy/haproxy.cfg when it changed and HAProxy accepts it;
 * HAProxy reloaded (when the text or a PEM changed) or started. With
 * LIST, prints the servers it balances.
 */
static void configure(const char *nodeset, int list)
{
	struct sl_nodeset ns = SL_NODESET_INIT;
	struct sl_render_haproxy in = SL_RENDER_HAPROXY_INIT;
	struct tls_hosts t = TLS_HOSTS_INIT;
	struct sl_balancer_node *v;
	struct sl_balancer_tls *tls;
	struct sl_ssh_addr *addrs;
	struct sl_buf *names, cfg = SL_BUF_INIT, old = SL_BUF_INIT, dump = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	const char *check[] = { "haproxy", "-c", "-q", "-f", CONFIG ".new", NULL };
	const char *reload[] = { "systemctl", "reload", "haproxy", NULL };
	const char *start[] = { "systemctl", "enable", "-q", "--now", "haproxy", NULL };
	const char *active[] = { "systemctl", "is-active", "-q", "haproxy", NULL };
	int changed, up, *use, certs;

	if (sl_nodeset_load(&ns, nodeset, &err) < 0)
		sl_die_err(&err);
	for (size_t i = 0; i < ns.warnings.n; i++)
		sl_warn("%s", ns.warnings.v[i]);
	v = calloc(ns.app.n, sizeof(*v));
	addrs = calloc(ns.app.n, sizeof(*addrs));
	names = calloc(ns.app.n, sizeof(*names));
	if (!v || !addrs || !names)
		sl_die(SL_EXIT_TEMP, "out of memory");
	for (size_t i = 0; i < ns.app.n; i++) {
		addrs[i] = (struct sl_ssh_addr)SL_SSH_ADDR_INIT;
		names[i] = (struct sl_buf)SL_BUF_INIT;
		if (sl_ssh_addr_parse(&addrs[i], ns.app.v[i], &err) < 0)
			sl_die_err(&err);
		sl_balancer_server_name(addrs[i].host, &names[i]);
		v[i] = (struct sl_balancer_node){ names[i].buf, addrs[i].host, 80 };
	}
	tls_load(&t);
	use = sl_xcalloc(t.host.n + 1, sizeof(*use));
	tls = sl_xcalloc(t.host.n + 1, sizeof(*tls));
	certs = pems(&t, use);
	for (size_t i = 0; i < t.host.n; i++)
		if (use[i])
			tls[in.ntls++] = (struct sl_balancer_tls){ t.host.v[i], t.hsts[i] };
	in.nodes = v;
	in.n = ns.app.n;
	in.check_interval = ns.check_interval;
	in.fall = ns.fall;
	in.rise = ns.rise;
	in.check_path = "/.silverlining/up";
	in.check_host = "localhost";
	in.stats_socket = sock;
	in.server_state_file = STATE_FILE;
	in.tls = tls;
	in.cert_dir = in.ntls ? CERTS : NULL;
	in.acme = ACME_SERVER;
	if (sl_render_haproxy(&in, &cfg, &err) < 0)
		sl_die_err(&err);
	changed = sl_buf_read_file(&old, CONFIG) < 0 || strcmp(old.buf, cfg.buf);
	up = !run(active);
	if (changed) {
		if (sl_file_write(CONFIG ".new", cfg.buf, cfg.len, 0644, SL_FILE_REPLACE, &err) < 0)
			sl_die_err(&err);
		if (run(check)) {
			unlink(CONFIG ".new");
			sl_die(SL_EXIT_USAGE, "haproxy -c refused the new configuration; "
			       CONFIG " is left as it was");
		}
		/* the servers' states (maint, drain) outlive the reload */
		if (up && sl_haproxy_ask(sock, "show servers state", &dump, &err) == 0 &&
		    sl_file_write(STATE_FILE, dump.buf, dump.len, 0644, SL_FILE_REPLACE, &err) < 0)
			sl_die_err(&err);
		if (up && dump.len == 0)
			sl_warn("the servers' states were not kept: %s", err.msg.buf);
		if (rename(CONFIG ".new", CONFIG) < 0)
			sl_die_errno("unable to rename " CONFIG ".new");
	}
	/* HAProxy reads its PEMs when it loads: a new certificate needs a reload */
	changed |= certs;
	if (up && changed && run(reload))
		sl_die(SL_EXIT_TEMP, "systemctl reload haproxy failed");
	if (!up && run(start))
		sl_die(SL_EXIT_TEMP, "unable to start haproxy");
	if (changed || !up)
		fprintf(stderr, "sl-balancer: haproxy %s\n", up ? "reloaded" : "started");
	for (size_t i = 0; i < ns.app.n; i++) {
		if (list)
			printf("%s %s:80\n", v[i].name, v[i].addr);
		sl_ssh_addr_release(&addrs[i]);
		sl_buf_release(&names[i]);
	}
	free(v);
	free(addrs);
	free(names);
	free(use);
	free(tls);
	free(t.hsts);
	sl_strv_clear(&t.host);
	sl_nodeset_release(&ns);
	sl_buf_release(&cfg);
	sl_buf_release(&old);
	sl_buf_release(&dump);
}

static void lock(void)
{
	struct sl_err err = SL_ERR_INIT;

	if (sl_node_lock(NULL, NODE_LOCK_WAIT, &err) < 0)
		sl_die_err(&err);
}

/* ROOT/balancer/NAME into OUT, the directory made. */
static void state_path(struct sl_buf *out, const char *name)
{
	struct sl_err err = SL_ERR_INIT;

	sl_node_path(out, "balancer");
	if (sl_file_mkdirs(out->buf, 0700, &err) < 0)
		sl_die_err(&err);
	sl_buf_addf(out, "/%s", name);
}

/*
 * The nodeset on stdin, kept as ROOT/balancer/nodeset.ini (what --cert
 * and --renew render again) once HAProxy runs it.
 */
static void apply(void)
{
	struct sl_buf in = SL_BUF_INIT, path = SL_BUF_INIT, tmp = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;

	if (sl_buf_read_fd(&in, 0) < 0)
		sl_die_errno("unable to read the nodeset from stdin");
	lock();
	state_path(&path, "nodeset.ini");
	sl_buf_addf(&tmp, "%s.new", path.buf);
	if (sl_file_write(tmp.buf, in.buf ? in.buf : "", in.len, 0600, SL_FILE_REPLACE,
			  &err) < 0)
		sl_die_err(&err);
	configure(tmp.buf, 1);
	if (rename(tmp.buf, path.buf) < 0)
		sl_die_errno("unable to rename %s", tmp.buf);
	sl_buf_release(&in);
	sl_buf_release(&path);
	sl_buf_release(&tmp);
}

/* The nodeset --apply kept; 100 when there is none yet. */
static void applied(struct sl_buf *path)
{
	state_path(path, "nodeset.ini");
	if (access(path->buf, F_OK) < 0)
		sl_die(SL_EXIT_USAGE, "no nodeset yet: give one to sl-balancer --apply first");
}

static void day(char *out, size_t n, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%d", &tm);
}

/*
 * --cert: a certificate for each of HOSTS (sl_acme_ensure, as a node
 * does), each then a TLS host (HSTS as asked, else as it was); HAProxy
 * configured again. The first host that fails stops the rest: those
 * before it are kept and served, and its error is ours.
 */
static void cert(const struct sl_acme *a, int hsts, char **hosts)
{
	struct tls_hosts t = TLS_HOSTS_INIT;
	struct sl_buf nodeset = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT, failed = SL_ERR_INIT;
	int changed, bad = 0;

	for (char **h = hosts; *h; h++)
		if (!sl_balancer_tls_host_ok(*h))
			sl_die(SL_EXIT_USAGE, "'%s' is not a host name (lower case letters,"
			       " digits, '.', '-'; or .example.com)", *h);
	lock();
	applied(&nodeset);
	if (sl_acme_configure(a->directory, a->email, &err) < 0)
		sl_die_err(&err);
	tls_load(&t);
	for (char **h = hosts; *h; h++) {
		struct sl_tls_cert c = SL_TLS_CERT_INIT;
		size_t i;
		char d[16];

		if (sl_acme_ensure(a, *h, &changed, &failed) < 0) {
			bad = 1;
			break;
		}
		if (sl_tls_find(*h, &c, &err) < 1)
			sl_die(SL_EXIT_TEMP, "%s: no certificate after issuance%s%s", *h,
			       err.msg.len ? ": " : "", err.msg.len ? err.msg.buf : "");
		i = tls_add(&t, *h);
		if (hsts >= 0)
			t.hsts[i] = hsts;
		day(d, sizeof(d), c.not_after);
		printf("%s expires=%s\n", *h, d);
		sl_tls_cert_release(&c);
	}
	tls_save(&t);
	configure(nodeset.buf, 0);
	if (bad)
		sl_die_err(&failed);
	free(t.hsts);
	sl_strv_clear(&t.host);
	sl_buf_release(&nodeset);
}

/*
 * --renew (the hourly silverlining-renew.service on a balancer): each TLS
 * host's certificate renewed when due, as sl-cert renew does on an app
 * node; HAProxy's PEMs refreshed and HAProxy reloaded when one changed.
 * A failed renewal is told and makes the exit code (the old certificate
 * keeps serving).
 */
static void renew(const struct sl_acme *a)
{
	struct tls_hosts t = TLS_HOSTS_INIT;
	struct sl_buf nodeset = SL_BUF_INIT;
	struct sl_tls_state s = SL_TLS_STATE_INIT;
	struct sl_err err = SL_ERR_INIT;
	time_t start = time(NULL);
	int changed, code = 0;

	lock();
	tls_load(&t);
	if (!t.host.n)
		sl_exit_flush();
	applied(&nodeset);
	for (size_t i = 0; i < t.host.n; i++) {
		if (sl_acme_ensure(a, t.host.v[i], &changed, &err) < 0) {
			sl_warn("%s", err.msg.buf);
			code = code ? code : err.code;
			continue;
		}
		if (sl_tls_state_load(t.host.v[i], &s, &err) == 0 && s.failures &&
		    s.last >= start)
			code = code ? code : SL_EXIT_TEMP;
	}
	configure(nodeset.buf, 0);
	sl_tls_state_release(&s);
	if (code)
		exit(code);
	free(t.hsts);
	sl_strv_clear(&t.host);
	sl_buf_release(&nodeset);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "apply", no_argument, NULL, 'a' },
		{ "state", no_argument, NULL, 'S' },
		{ "drain", required_argument, NULL, 'd' },
		{ "ready", required_argument, NULL, 'r' },
		{ "maint", required_argument, NULL, 'm' },
		{ "wait-up", required_argument, NULL, 'w' },
		{ "cert", no_argument, NULL, 'c' },
		{ "renew", no_argument, NULL, 'R' },
		{ "acme-directory", required_argument, NULL, 'D' },
		{ "acme-email", required_argument, NULL, 'E' },
		{ "hsts", no_argument, NULL, 'H' },
		{ "no-hsts", no_argument, NULL, 'N' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_acme a = SL_ACME_INIT;
	const char *host = NULL;
	int c, mode = 0, hsts = -1;

	sl_msg_init(argv[0]);
	sl_node_env();
	a.say = sl_say_stderr;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'h':
			printf("usage: %s\n", USAGE);
			sl_exit_flush();
		case 'V':
			puts("sl-balancer " SL_VERSION);
			sl_exit_flush();
		case 'D':
			a.directory = optarg;
			break;
		case 'E':
			a.email = optarg;
			break;
		case 'H': case 'N':
			if (hsts >= 0)
				sl_die_usage(USAGE);
			hsts = c == 'H';
			break;
		case 'f':
			a.force = 1;
			break;
		case 'a': case 'S': case 'd': case 'r': case 'm': case 'w': case 'c': case 'R':
			if (mode)
				sl_die_usage(USAGE);
			mode = c;
			host = optarg;
			break;
		default:
			sl_die_option(USAGE, argv, c);
		}
	}
	if (!mode || (mode != 'c' && argc - optind > (mode == 'w')) ||
	    (mode == 'c' && optind == argc) ||
	    ((a.directory || a.email || hsts >= 0) && mode != 'c') ||
	    (a.force && mode != 'R'))
		sl_die_usage(USAGE);
	if (host && !*host)
		sl_die(SL_EXIT_USAGE, "empty HOST");
	switch (mode) {
	case 'a': apply(); break;
	case 'S': state(); break;
	case 'd': set(host, "drain"); break;
	case 'r': set(host, "ready"); break;
	case 'm': set(host, "maint"); break;
	case 'w': wait_up(host, argv[optind]); break;
	case 'c': cert(&a, hsts, argv + optind); break;
	case 'R': renew(&a); break;
	}
	sl_exit_flush();
}
