/* silverlining — sl-backup-receive: the target's end of sl-backup-push. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "../libsl/backup-push.h"
#include "../libsl/file.h"
#include "../libsl/msg.h"
#include "../libsl/version.h"

#define USAGE "sl-backup-receive [--authorize] SOURCE"

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "authorize", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf buf = SL_BUF_INIT;
	int c, authorize = 0;

	sl_msg_init(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': authorize = 1; break;
		case 'h': printf("usage: %s\n", USAGE); sl_exit_flush();
		case 'V': printf("sl-backup-receive %s\n", SL_VERSION); sl_exit_flush();
		default: sl_die_option(USAGE, argv, c);
		}
	}
	if (argc - optind != 1)
		sl_die_usage(USAGE);
	if (authorize) {
		const char *keys = getenv("SL_AUTHORIZED_KEYS");
		struct sl_buf path = SL_BUF_INIT;

		if (keys && *keys)
			sl_buf_adds(&path, keys);
		else if (sl_file_home())
			sl_buf_addf(&path, "%s/.ssh/authorized_keys", sl_file_home());
		else
			sl_die(SL_EXIT_USAGE, "no home directory for authorized_keys (set HOME)");
		if (sl_buf_read_fd(&buf, 0) < 0)
			sl_die_errno("unable to read the source's key on standard input");
		if (sl_backup_receive_authorize(argv[optind], buf.buf, path.buf, &err) < 0)
			sl_die_err(&err);
		printf("authorized %s\n", argv[optind]);
		sl_exit_flush();
	}
	if (sl_backup_receive(argv[optind], 0, &buf, &err) < 0)
		sl_die_err(&err);
	printf("stored %s\n", buf.buf);
	sl_exit_flush();
}
