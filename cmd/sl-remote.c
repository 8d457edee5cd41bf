/* silverlining — sl-remote: run a command on a node, over one SSH session. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include "../libsl/msg.h"
#include "../libsl/quote.h"
#include "../libsl/ssh.h"
#include "../libsl/version.h"

#define USAGE "sl-remote [-t] [--accept-new] [-i FILE] [--timeout SECONDS] NODE COMMAND [ARG...]"

/* -t: the local terminal in raw mode while the remote one runs */
static struct termios saved;
static int raw;

static void restore(void)
{
	if (raw)
		tcsetattr(0, TCSADRAIN, &saved);
	raw = 0;
}

static void on_winch(int sig)
{
	(void)sig;
	sl_ssh_winch = 1;
}

static int make_raw(void)
{
	struct termios t;
	struct sigaction sa = { 0 };

	if (tcgetattr(0, &saved) < 0)
		return -1;
	t = saved;
	cfmakeraw(&t);
	if (tcsetattr(0, TCSADRAIN, &t) < 0)
		return -1;
	raw = 1;
	atexit(restore);
	sa.sa_handler = on_winch;
	sigaction(SIGWINCH, &sa, NULL);
	return 0;
}

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
	int c, code, tty = 0;
	const char *term = getenv("TERM");

	sl_msg_init(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:t" SL_SSH_SHORTOPTS, longopts, NULL)) != -1) {
		int used = sl_ssh_opt(&opts, c, optarg, &err);

		if (used < 0)
			sl_die_err(&err);
		if (used)
			continue;
		switch (c) {
		case 't': tty = 1; break;
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
	if (tty && !isatty(0)) {
		sl_warn("no terminal on stdin: the command runs without one");
		tty = 0;
	}
	ch = sl_ssh_exec_pty(s, cmd.buf, tty ? (term && *term ? term : "xterm") : NULL, &err);
	if (!ch)
		sl_die_err(&err);
	if (tty && make_raw() < 0)
		sl_die_errno("unable to set up the terminal");
	code = sl_ssh_pump(ch, 0, 1, 2, &err);
	restore();
	if (code < 0)
		sl_die_err(&err);
	sl_ssh_close(s);
	return code;
}
