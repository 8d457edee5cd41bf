/* silverlining — sl-balancer: the balancer node's HAProxy, configured and steered. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../libsl/balancer.h"
#include "../libsl/file.h"
#include "../libsl/msg.h"
#include "../libsl/nodeset.h"
#include "../libsl/run.h"
#include "../libsl/ssh.h"
#include "../libsl/version.h"

#define USAGE "sl-balancer [--socket PATH] --apply | --state | --drain HOST | --ready HOST" \
	" | --maint HOST | --wait-up HOST [SECONDS]"
#define CONFIG "/etc/haproxy/haproxy.cfg"
#define STATE_FILE "/var/lib/haproxy/server-state"

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

/*
 * The nodeset on stdin as haproxy.cfg, into /etc/haproxy/haproxy.cfg when
 * it changed and HAProxy accepts it; HAProxy reloaded or started.
 */
static void apply(void)
{
	struct sl_nodeset ns = SL_NODESET_INIT;
	struct sl_render_haproxy in = SL_RENDER_HAPROXY_INIT;
	struct sl_balancer_node *v;
	struct sl_ssh_addr *addrs;
	struct sl_buf *names, cfg = SL_BUF_INIT, old = SL_BUF_INIT, dump = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	const char *check[] = { "haproxy", "-c", "-q", "-f", CONFIG ".new", NULL };
	const char *reload[] = { "systemctl", "reload", "haproxy", NULL };
	const char *start[] = { "systemctl", "enable", "-q", "--now", "haproxy", NULL };
	const char *active[] = { "systemctl", "is-active", "-q", "haproxy", NULL };
	int changed, up;

	if (sl_nodeset_load(&ns, "/dev/stdin", &err) < 0)
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
	in.nodes = v;
	in.n = ns.app.n;
	in.check_interval = ns.check_interval;
	in.fall = ns.fall;
	in.rise = ns.rise;
	in.check_path = "/.silverlining/up";
	in.check_host = "localhost";
	in.stats_socket = sock;
	in.server_state_file = STATE_FILE;
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
	if (up && changed && run(reload))
		sl_die(SL_EXIT_TEMP, "systemctl reload haproxy failed");
	if (!up && run(start))
		sl_die(SL_EXIT_TEMP, "unable to start haproxy");
	if (changed || !up)
		fprintf(stderr, "sl-balancer: haproxy %s\n", up ? "reloaded" : "started");
	for (size_t i = 0; i < ns.app.n; i++) {
		printf("%s %s:80\n", v[i].name, v[i].addr);
		sl_ssh_addr_release(&addrs[i]);
		sl_buf_release(&names[i]);
	}
	free(v);
	free(addrs);
	free(names);
	sl_nodeset_release(&ns);
	sl_buf_release(&cfg);
	sl_buf_release(&old);
	sl_buf_release(&dump);
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
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *host = NULL;
	int c, mode = 0;

	sl_msg_init(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'V':
			puts("sl-balancer " SL_VERSION);
			sl_exit_flush();
		case 'a': case 'S': case 'd': case 'r': case 'm': case 'w':
			if (mode)
				sl_die_usage(USAGE);
			mode = c;
			host = optarg;
			break;
		default:
			sl_die_option(USAGE, argv, c);
		}
	}
	if (!mode || argc - optind > (mode == 'w'))
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
	}
	sl_exit_flush();
}
