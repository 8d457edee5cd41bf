/* silverlining — sl-backup-push: a node's stored backups pushed to another node. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../libsl/backup-push.h"
#include "../libsl/msg.h"
#include "../libsl/ssh.h"
#include "../libsl/version.h"

#define USAGE "sl-backup-push APP STAMP | --key | --target HOST[:PORT] | " \
	"--host-key [-i FILE] [--timeout SECONDS] NODE"

enum { KEY = 0x200, TARGET, HOST_KEY };

/* NODE's host key, checked against ~/.ssh/known_hosts, as TARGET's line */
static void host_key(struct sl_ssh_opts *o, const char *node)
{
	struct sl_ssh_addr a = SL_SSH_ADDR_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf line = SL_BUF_INIT;
	struct sl_ssh *s;

	if (o->accept_new)
		sl_die(SL_EXIT_USAGE, "--host-key takes no --accept-new: the target's host key must be known already");
	if (sl_ssh_addr_parse(&a, node, &err) < 0)
		sl_die_err(&err);
	s = sl_ssh_connect(&a, o, &err);
	if (!s || sl_backup_push_host_line(s, &a, &line, &err) < 0)
		sl_die_err(&err);
	sl_ssh_close(s);
	fputs(line.buf, stdout);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		SL_SSH_LONGOPTS,
		{ "key", no_argument, NULL, KEY },
		{ "target", required_argument, NULL, TARGET },
		{ "host-key", no_argument, NULL, HOST_KEY },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_ssh_opts opts = SL_SSH_OPTS_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf buf = SL_BUF_INIT;
	const char *target = NULL;
	int c, mode = 0, ssh = 0;

	sl_msg_init(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:" SL_SSH_SHORTOPTS, longopts, NULL)) != -1) {
		int used = sl_ssh_opt(&opts, c, optarg, &err);

		if (used < 0)
			sl_die_err(&err);
		ssh |= used;
		if (used)
			continue;
		switch (c) {
		case KEY: case HOST_KEY: mode = c; break;
		case TARGET: mode = c; target = optarg; break;
		case 'h': printf("usage: %s\n", USAGE); sl_exit_flush();
		case 'V': printf("sl-backup-push %s\n", SL_VERSION); sl_exit_flush();
		default: sl_die_option(USAGE, argv, c);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != (mode == HOST_KEY ? 1 : mode ? 0 : 2) || (ssh && mode != HOST_KEY))
		sl_die_usage(USAGE);
	if (mode == HOST_KEY) {
		host_key(&opts, argv[0]);
	} else if (mode == KEY) {
		if (sl_backup_push_key(&buf, &err) < 0)
			sl_die_err(&err);
		fputs(buf.buf, stdout);
	} else if (mode == TARGET) {
		if (sl_buf_read_fd(&buf, 0) < 0)
			sl_die_errno("unable to read the host keys on standard input");
		if (sl_backup_push_set_target(target, buf.buf, &err) < 0)
			sl_die_err(&err);
		printf("target %s\n", target);
	} else {
		if (sl_backup_push(argv[0], argv[1], &err) < 0)
			sl_die_err(&err);
	}
	sl_exit_flush();
}
