/* silverlining — sl-nodeset: a nodeset resolved, and commands run on its nodes. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../libsl/exit.h"
#include "../libsl/fanout.h"
#include "../libsl/mem.h"
#include "../libsl/msg.h"
#include "../libsl/nodeset.h"
#include "../libsl/quote.h"
#include "../libsl/ssh.h"
#include "../libsl/version.h"

#define USAGE "sl-nodeset NAME | sl-nodeset --ini NAME | sl-nodeset --node NODE" \
	" | sl-nodeset [--accept-new] [-i FILE] [--timeout SECONDS] [--stdin]" \
	" [--balancer | --rolling] --each NAME -- COMMAND [ARG...]"

/* ~/.silverlining/nodesets/NAME.ini into NS, its warnings told; dies on an error. */
static void load(struct sl_nodeset *ns, const char *name, struct sl_buf *path)
{
	struct sl_err err = SL_ERR_INIT;
	int r;

	if (sl_nodeset_path(name, path, &err) < 0)
		sl_die_err(&err);
	r = sl_nodeset_load(ns, path->buf, &err);
	for (size_t i = 0; i < ns->warnings.n; i++)
		sl_warn("%s", ns->warnings.v[i]);
	if (r < 0)
		sl_die_err(&err);
}

/* NAME resolved: one line per fact, "app ADDR"..., "balancer ADDR", "check I F R", "file PATH". */
static void show(const char *name)
{
	struct sl_nodeset ns = SL_NODESET_INIT;
	struct sl_buf path = SL_BUF_INIT;

	load(&ns, name, &path);
	for (size_t i = 0; i < ns.app.n; i++)
		printf("app %s\n", ns.app.v[i]);
	if (ns.balancer)
		printf("balancer %s\n", ns.balancer);
	printf("check %d %d %d\nfile %s\n", ns.check_interval, ns.fall, ns.rise, path.buf);
	sl_nodeset_release(&ns);
	sl_buf_release(&path);
}

/* NAME as a nodeset file again, with every node resolved (sl-balancer --apply reads it). */
static void ini(const char *name)
{
	struct sl_nodeset ns = SL_NODESET_INIT;
	struct sl_buf path = SL_BUF_INIT;

	load(&ns, name, &path);
	printf("[nodeset]\n");
	for (size_t i = 0; i < ns.app.n; i++)
		printf("%s %s\n", i ? "     " : "app =", ns.app.v[i]);
	if (ns.balancer)
		printf("balancer = %s\n", ns.balancer);
	printf("check_interval = %d\nfall = %d\nrise = %d\n", ns.check_interval, ns.fall, ns.rise);
	sl_nodeset_release(&ns);
	sl_buf_release(&path);
}

/* A node as a user names it: a local node's name, or [user@]host[:port]. */
static void node(const char *text)
{
	struct sl_buf addr = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;

	if (sl_node_resolve(text, &addr, &err) < 0)
		sl_die_err(&err);
	printf("%s\n", addr.buf);
	sl_buf_release(&addr);
}

/* --each: the SSH options every node is reached with, and stdin (--stdin) */
static struct sl_ssh_opts opts = SL_SSH_OPTS_INIT;
static struct sl_buf input = SL_BUF_INIT;
static int with_input;

/* One command on one node, run in a fan-out's child. */
struct remote {
	struct sl_ssh_addr addr;
	const char *command;	/* quoted for the node's shell */
};

/* In the child: COMMAND on the node, its output on our stdout and stderr. */
static int run_remote(void *arg)
{
	struct remote *r = arg;
	struct sl_err err = SL_ERR_INIT;
	struct sl_ssh_chan *ch = NULL;
	struct sl_ssh *s = sl_ssh_connect(&r->addr, &opts, &err);
	int code = -1;

	if (s)
		ch = sl_ssh_exec(s, r->command, &err);
	if (ch && with_input && (sl_ssh_write(ch, input.buf, input.len, &err) < 0 ||
				 sl_ssh_send_eof(ch, &err) < 0))
		ch = NULL;
	if (ch)
		code = sl_ssh_pump(ch, -1, 1, 2, &err);
	if (code < 0) {
		fprintf(stderr, "%s: fatal: %s\n", sl_msg_prog(), err.msg.buf);
		return err.code ? err.code : SL_EXIT_TEMP;
	}
	sl_ssh_close(s);
	return code;
}

/*
 * ARGV (a command) on each of the N nodes ADDRS at once, each one's lines
 * prefixed by LABEL (NULL: nothing) and its host; the worst code (the
 * highest), 0 when every node exited 0.
 */
static int fan(char **addrs, size_t n, const char *label, char **argv)
{
	struct sl_fanout f = SL_FANOUT_INIT;
	struct remote *r = sl_xcalloc(n, sizeof(*r));
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf cmd = SL_BUF_INIT, prefix = SL_BUF_INIT;
	int worst = 0;

	sl_quote_sh_command(&cmd, argv);
	for (size_t i = 0; i < n; i++) {
		struct sl_fanout_job *j;

		r[i].addr = (struct sl_ssh_addr)SL_SSH_ADDR_INIT;
		if (sl_ssh_addr_parse(&r[i].addr, addrs[i], &err) < 0)
			sl_die_err(&err);
		r[i].command = cmd.buf;
		sl_buf_reset(&prefix);
		if (label)
			sl_buf_addf(&prefix, "%s ", label);
		sl_buf_adds(&prefix, r[i].addr.host);
		j = sl_fanout_add(&f, prefix.buf);
		j->fn = run_remote;
		j->arg = &r[i];
	}
	fflush(stdout);
	if (sl_fanout_run(&f, &err) < 0)
		sl_die_err(&err);
	for (size_t i = 0; i < f.n; i++) {
		if (f.jobs[i]->err.msg.len)
			sl_warn("%s: %s", f.jobs[i]->host, f.jobs[i]->err.msg.buf);
		if (f.jobs[i]->code > worst)
			worst = f.jobs[i]->code;
	}
	if (f.write_errno)
		worst = SL_EXIT_TEMP;
	for (size_t i = 0; i < n; i++)
		sl_ssh_addr_release(&r[i].addr);
	free(r);
	sl_fanout_release(&f);
	sl_buf_release(&cmd);
	sl_buf_release(&prefix);
	return worst;
}

/* sl-balancer ACTION HOST on the balancer B, prefixed "balancer B's host: ". */
static int balancer(char *b, const char *action, const char *host)
{
	char *argv[] = { "sl-balancer", (char *)action, (char *)host, NULL };

	return fan(&b, 1, "balancer", argv);
}

/*
 * --rolling: one node after another, each out of the balancer while
 * COMMAND runs on it: drain, COMMAND, ready, wait until it is UP. A node
 * whose COMMAND failed is made ready again (it still serves what it
 * served) and nothing more is done: that code.
 */
static int rolling(struct sl_nodeset *ns, char **argv)
{
	for (size_t i = 0; i < ns->app.n; i++) {
		struct sl_ssh_addr a = SL_SSH_ADDR_INIT;
		struct sl_err err = SL_ERR_INIT;
		int code, again;

		if (sl_ssh_addr_parse(&a, ns->app.v[i], &err) < 0)
			sl_die_err(&err);
		code = balancer(ns->balancer, "--drain", a.host);
		if (code) {
			sl_warn("%s: not drained: nothing done there nor after", a.host);
			return code;
		}
		code = fan(&ns->app.v[i], 1, NULL, argv);
		again = balancer(ns->balancer, "--ready", a.host);
		if (!again)
			again = balancer(ns->balancer, "--wait-up", a.host);
		if (code || again) {
			sl_warn("%s: %s: the nodes after it were left alone", a.host,
				code ? "the command failed" : "not back up in the balancer");
			return code ? code : again;
		}
		sl_ssh_addr_release(&a);
	}
	return 0;
}

/* --each NAME -- ARGV: on every app node (or the balancer) of NAME. */
static int each(const char *name, int where, char **argv)
{
	struct sl_nodeset ns = SL_NODESET_INIT;
	struct sl_buf path = SL_BUF_INIT;
	int code;

	load(&ns, name, &path);
	if (where && !ns.balancer)
		sl_die(SL_EXIT_USAGE, "nodeset %s (%s) has no balancer%s", name, path.buf,
		       where == 'R' ? ": --rolling drains each node through it" : "");
	if (with_input && sl_buf_read_fd(&input, 0) < 0)
		sl_die_errno("unable to read standard input");
	if (where == 'B')
		code = fan(&ns.balancer, 1, "balancer", argv);
	else if (where == 'R')
		code = rolling(&ns, argv);
	else
		code = fan(ns.app.v, ns.app.n, NULL, argv);
	sl_nodeset_release(&ns);
	sl_buf_release(&path);
	return code;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		SL_SSH_LONGOPTS,
		{ "ini", no_argument, NULL, 'I' },
		{ "node", no_argument, NULL, 'N' },
		{ "each", no_argument, NULL, 'E' },
		{ "balancer", no_argument, NULL, 'B' },
		{ "rolling", no_argument, NULL, 'R' },
		{ "stdin", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_err err = SL_ERR_INIT;
	int c, mode = 0, where = 0, ssh = 0;

	sl_msg_init(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:" SL_SSH_SHORTOPTS, longopts, NULL)) != -1) {
		int used = sl_ssh_opt(&opts, c, optarg, &err);

		if (used < 0)
			sl_die_err(&err);
		if (used) {
			ssh = 1;
			continue;
		}
		switch (c) {
		case 'I': case 'N': case 'E':
			if (mode && mode != c)
				sl_die_usage(USAGE);
			mode = c;
			break;
		case 'B': case 'R':
			if (where && where != c)
				sl_die_usage(USAGE);
			where = c;
			break;
		case 'S': with_input = 1; ssh = 1; break;
		case 'h': printf("usage: %s\n", USAGE); sl_exit_flush();
		case 'V': printf("sl-nodeset %s\n", SL_VERSION); sl_exit_flush();
		default: sl_die_option(USAGE, argv, c);
		}
	}
	if (mode == 'E') {
		/* NAME -- COMMAND [ARG...] */
		if (argc - optind < 3 || strcmp(argv[optind + 1], "--"))
			sl_die_usage(USAGE);
		c = each(argv[optind], where, argv + optind + 2);
		if (fflush(stdout) == EOF)
			sl_die_errno("unable to write to standard output");
		return c;
	}
	if (argc - optind != 1 || where || ssh)
		sl_die_usage(USAGE);
	if (mode == 'N')
		node(argv[optind]);
	else if (mode == 'I')
		ini(argv[optind]);
	else
		show(argv[optind]);
	sl_exit_flush();
}
