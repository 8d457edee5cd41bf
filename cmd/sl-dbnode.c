/* silverlining — sl-dbnode: a service node's databases (primary, standby, failover); an app node told of them. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../libsl/dbclient.h"
#include "../libsl/dbnode.h"
#include "../libsl/msg.h"
#include "../libsl/node.h"
#include "../libsl/run.h"
#include "../libsl/service-my.h"
#include "../libsl/service-pg.h"
#include "../libsl/version.h"

#define USAGE "sl-dbnode --install | --primary [--client IP]... [--peer IP]..." \
	" | --standby [--client IP]... [--peer IP]..." \
	" | --record | --state | --fence" \
	" | --promote [--min-lsn LSN] [--wait SECONDS] [--force]" \
	" | --client [--again]"

static void print(const struct sl_buf *b)
{
	if (b->len)
		fwrite(b->buf, 1, b->len, stdout);
}

/* TEXT read whole from stdin into B. */
static void read_stdin(struct sl_buf *b)
{
	if (sl_buf_read_fd(b, 0) < 0)
		sl_die_errno("unable to read the record from stdin");
	if (!b->len)
		sl_die(SL_EXIT_USAGE, "no record on stdin (sl-dbnode --record on the primary prints it)");
}

/*
 * --client: the record on stdin made the node's; the locations to activate
 * again printed, or with AGAIN activated again, one after another, all
 * tried: the first failure's code is ours.
 */
static int client(int again)
{
	struct sl_buf in = SL_BUF_INIT;
	struct sl_strv locs = SL_STRV_INIT;
	struct sl_err err = SL_ERR_INIT;
	int code = 0;

	read_stdin(&in);
	if (sl_dbclient_apply(in.buf, in.len, &locs, &err) < 0)
		sl_die_err(&err);
	explicit_bzero(in.buf, in.len);
	for (size_t i = 0; i < locs.n; i++) {
		char *argv[] = { "sl-activate", "--again", locs.v[i], NULL };
		struct sl_child c = SL_CHILD_INIT;
		int rc;

		printf("%s\n", locs.v[i]);
		if (!again)
			continue;
		fflush(stdout);
		c.argv = argv;
		rc = sl_run(&c, &err);
		if (rc < 0)
			sl_warn("%s: %s", locs.v[i], err.msg.buf);
		else if (rc)
			sl_warn("%s: sl-activate --again failed (exit status %d)", locs.v[i], rc);
		if (rc && !code)
			code = rc < 0 ? err.code : rc;
		sl_err_release(&err);
	}
	sl_buf_release(&in);
	sl_strv_clear(&locs);
	return code;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "install", no_argument, NULL, 'I' },
		{ "primary", no_argument, NULL, 'P' },
		{ "standby", no_argument, NULL, 'S' },
		{ "record", no_argument, NULL, 'r' },
		{ "state", no_argument, NULL, 's' },
		{ "fence", no_argument, NULL, 'f' },
		{ "promote", no_argument, NULL, 'p' },
		{ "client", optional_argument, NULL, 'c' },
		{ "peer", required_argument, NULL, 'e' },
		{ "again", no_argument, NULL, 'a' },
		{ "min-lsn", required_argument, NULL, 'l' },
		{ "wait", required_argument, NULL, 'w' },
		{ "force", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_strv clients = SL_STRV_INIT, peers = SL_STRV_INIT;
	struct sl_buf out = SL_BUF_INIT, lsn_at = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	const char *lsn = NULL, *wait_arg = NULL;
	int c, mode = 0, again = 0, force = 0, ret, code;
	long wait = 30, timeline = 0;
	double seconds = -1;
	char *end;

	sl_msg_init(argv[0]);
	sl_node_env();
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("usage: %s\n", USAGE);
			sl_exit_flush();
		case 'V':
			puts("sl-dbnode " SL_VERSION);
			sl_exit_flush();
		case 'c':
			/* --client IP with --primary/--standby; --client alone: the app node's verb */
			if (!optarg && optind < argc && argv[optind][0] != '-')
				optarg = argv[optind++];
			if (optarg) {
				if (!sl_dbnode_ipv4_ok(optarg))
					sl_die(SL_EXIT_USAGE, "--client %s: not an IPv4 address", optarg);
				sl_strv_push(&clients, optarg);
				break;
			}
			/* fall through */
		case 'I': case 'P': case 'S': case 'r': case 's': case 'f': case 'p':
			if (mode)
				sl_die_usage(USAGE);
			mode = c;
			break;
		case 'e':
			if (!sl_dbnode_ipv4_ok(optarg))
				sl_die(SL_EXIT_USAGE, "--peer %s: not an IPv4 address", optarg);
			sl_strv_push(&peers, optarg);
			break;
		case 'a':
			again = 1;
			break;
		case 'l':
			if (!sl_dbnode_lsn_ok(optarg))
				sl_die(SL_EXIT_USAGE, "--min-lsn %s: not a WAL location (X/X, hex)", optarg);
			lsn = optarg;
			break;
		case 'w':
			wait_arg = optarg;
			wait = strtol(optarg, &end, 10);
			if (*end || !*optarg || wait < 0 || wait > 3600)
				sl_die(SL_EXIT_USAGE, "--wait %s: want 0..3600 seconds", optarg);
			break;
		case 'F':
			force = 1;
			break;
		default:
			sl_die_option(USAGE, argv, c);
		}
	}
	if (!mode || optind != argc ||
	    ((clients.n || peers.n) && mode != 'P' && mode != 'S') ||
	    (again && mode != 'c') || ((lsn || wait_arg || force) && mode != 'p'))
		sl_die_usage(USAGE);
	if (geteuid() != 0)
		sl_die(SL_EXIT_USAGE, "run as root (on the node)");
	switch (mode) {
	case 'I':
		/* what --primary and --standby install first; nodes can take it at once */
		ret = sl_service_pg_install(1, &err) < 0 || sl_service_my_install(&err) < 0 ? -1 : 0;
		break;
	case 'P':
		ret = sl_dbnode_primary(&clients, &peers, &err);
		break;
	case 'S':
		read_stdin(&out);
		ret = sl_dbnode_standby(&clients, &peers, out.buf, out.len, &seconds, &err);
		explicit_bzero(out.buf, out.len);
		sl_buf_reset(&out);
		if (!ret && seconds >= 0)
			sl_buf_addf(&out, "basebackup %.2f\n", seconds);
		break;
	case 'r':
		ret = sl_dbnode_record(&out, &err);
		break;
	case 's':
		ret = sl_dbnode_state(&out, &err);
		break;
	case 'f':
		ret = sl_dbnode_fence(&lsn_at, &err);
		if (!ret)
			sl_buf_addf(&out, "lsn %s\n", lsn_at.buf);
		break;
	case 'p':
		ret = sl_dbnode_promote(lsn, (int)wait, force, &timeline, &seconds, &err);
		if (!ret)
			sl_buf_addf(&out, "timeline %ld\nseconds %.2f\n", timeline, seconds);
		break;
	default:
		code = client(again);
		if (code)
			exit(code);
		sl_exit_flush();
	}
	if (ret < 0)
		sl_die_err(&err);
	print(&out);
	sl_exit_flush();
}
