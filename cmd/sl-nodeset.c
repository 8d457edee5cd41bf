/* silverlining — sl-nodeset: a nodeset resolved, and commands run on its nodes. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../libsl/exit.h"
#include "../libsl/msg.h"
#include "../libsl/nodeset.h"
#include "../libsl/version.h"

#define USAGE "sl-nodeset NAME | sl-nodeset --ini NAME | sl-nodeset --node NODE"

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

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ini", no_argument, NULL, 'I' },
		{ "node", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c, mode = 0;

	sl_msg_init(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
		switch (c) {
		case 'I': case 'N':
			if (mode && mode != c)
				sl_die_usage(USAGE);
			mode = c;
			break;
		case 'h': printf("usage: %s\n", USAGE); sl_exit_flush();
		case 'V': printf("sl-nodeset %s\n", SL_VERSION); sl_exit_flush();
		default: sl_die_option(USAGE, argv, c);
		}
	}
	if (argc - optind != 1)
		sl_die_usage(USAGE);
	if (mode == 'N')
		node(argv[optind]);
	else if (mode == 'I')
		ini(argv[optind]);
	else
		show(argv[optind]);
	sl_exit_flush();
}
