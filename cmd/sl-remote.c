/* silverlining — sl-remote: run a command on a node, over one SSH session. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "../libsl/msg.h"
#include "../libsl/quote.h"
#include "../libsl/ssh.h"
#include "../libsl/version.h"

#define USAGE "sl-remote [--accept-new] [-i FILE] [--timeout SECONDS] NODE COMMAND [ARG...]"

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		SL_SSH_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_ssh_opts opts = SL_SSH_OPTS_INIT;
	struct sl_ssh_addr addr = SL_SSH_ADDR_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf cmd = SL_BUF_INIT;
	struct sl_ssh_chan *ch;
	struct sl_ssh *s;
	int c, code;

	sl_msg_init(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:" SL_SSH_SHORTOPTS, longopts, NULL)) != -1) {
		int used = sl_ssh_opt(&opts, c, optarg, &err);

		if (used < 0)
			sl_die_err(&err);
		if (used)
			continue;
		switch (c) {
		case 'h': printf("usage: %s\n", USAGE); sl_exit_flush();
		case 'V': printf("sl-remote %s\n", SL_VERSION); sl_exit_flush();
		default: sl_die_option(USAGE, argv, c);
		}
	}
	if (argc - optind < 2)
		sl_die_usage(USAGE);
	if (sl_ssh_addr_parse(&addr, argv[optind], &err) < 0)
		sl_die_err(&err);
	/* each word reaches the remote command as one word, as given */
	sl_quote_sh_command(&cmd, argv + optind + 1);
	s = sl_ssh_connect(&addr, &opts, &err);
	if (!s)
		sl_die_err(&err);
	ch = sl_ssh_exec(s, cmd.buf, &err);
	if (!ch)
		sl_die_err(&err);
	code = sl_ssh_pump(ch, 0, 1, 2, &err);
	if (code < 0)
		sl_die_err(&err);
	sl_ssh_close(s);
	return code;
}
