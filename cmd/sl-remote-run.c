/*
 * silverlining — sl-remote-run: run an app's script on its node, the
 * local files named in its arguments sent along (silver run).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../libsl/file.h"
#include "../libsl/msg.h"
#include "../libsl/quote.h"
#include "../libsl/run.h"
#include "../libsl/ssh.h"
#include "../libsl/strv.h"
#include "../libsl/version.h"

#define USAGE "sl-remote-run [-t] [--user app|root] [--accept-new] [-i FILE] [--timeout SECONDS]" \
	" NODE LOCATION SCRIPT [ARG...]"

/* The local files to send: each one's directory (with a slash) and name. */
struct pack {
	struct sl_strv tar;	/* tar's arguments: -C DIR/ NAME ... */
	struct sl_strv names, fulls;
};

/*
 * If ARG is an existing local path, or OPT=PATH with one, adds it to P
 * and returns the name it has on the node (its last component); with
 * *PRE set to the OPT= part. NULL: ARG goes as it is.
 */
static const char *local_file(struct pack *p, const char *arg, struct sl_buf *pre)
{
	struct sl_buf full = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	const char *eq = strchr(arg, '='), *path = arg, *base;
	struct stat st;

	sl_buf_reset(pre);
	if (stat(arg, &st) < 0) {
		if (!eq || stat(eq + 1, &st) < 0)
			return NULL;
		sl_buf_add(pre, arg, (size_t)(eq + 1 - arg));
		path = eq + 1;
	}
	if (sl_file_abspath(&full, path, &err) < 0)
		sl_die(SL_EXIT_USAGE, "unable to read %s: %s", path, err.msg.buf);
	if (!strcmp(full.buf, "/"))
		sl_die(SL_EXIT_USAGE, "%s: cannot send the root directory", path);
	base = strrchr(full.buf, '/') + 1;
	/* the same file twice goes once; two files of one name cannot */
	for (size_t i = 0; i < p->names.n; i++) {
		if (strcmp(p->names.v[i], base))
			continue;
		if (strcmp(p->fulls.v[i], full.buf))
			sl_die(SL_EXIT_USAGE, "two arguments are named %s: rename one", base);
		sl_buf_release(&full);
		return p->names.v[i];
	}
	sl_strv_push(&p->tar, "-C");
	sl_strv_pushn(&p->tar, full.buf, (size_t)(base - full.buf));
	sl_strv_push(&p->tar, base);
	sl_strv_push(&p->names, base);
	sl_strv_push(&p->fulls, full.buf);
	sl_buf_release(&full);
	return p->names.v[p->names.n - 1];
}

/*
 * Sends the files of P to `sl-run --receive LOCATION` (as USER) over one
 * session to ADDR, packed by tar; appends the directory the node put
 * them in to DIR. A node that refuses ends the tool with its exit status.
 */
static void send_files(const struct sl_ssh_addr *addr, const struct sl_ssh_opts *opts,
		       const char *user, const char *location, struct pack *p,
		       struct sl_buf *dir)
{
	char *receive[] = { "sl-run", "--user", (char *)user, "--receive", (char *)location, NULL };
	struct sl_strv argv = SL_STRV_INIT;
	struct sl_buf cmd = SL_BUF_INIT;
	struct sl_child tar = SL_CHILD_INIT;
	struct sl_err err = SL_ERR_INIT, werr = SL_ERR_INIT;
	struct sl_ssh_chan *ch;
	struct sl_ssh *s;
	char buf[65536];
	ssize_t n;
	int code, tar_code, sent = 0;

	sl_quote_sh_command(&cmd, receive);
	sl_strv_push(&argv, "tar");
	sl_strv_push(&argv, "-cf");
	sl_strv_push(&argv, "-");
	sl_strv_pushv(&argv, p->tar.v);
	tar.argv = argv.v;
	tar.out = SL_RUN_PIPE;
	s = sl_ssh_connect(addr, opts, &err);
	if (!s || !(ch = sl_ssh_exec(s, cmd.buf, &err)) || sl_run_start(&tar, &err) < 0)
		sl_die_err(&err);
	/* a node that stops reading has said why on stderr: its status tells */
	while ((n = read(tar.out_fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && sl_ssh_write(ch, buf, (size_t)n, &werr) < 0)
			break;
	sent = n == 0 && sl_ssh_send_eof(ch, &werr) == 0;
	close(tar.out_fd);
	tar.out_fd = -1;
	tar_code = sl_run_wait(&tar, &err);
	while (sent && (n = sl_ssh_read(ch, buf, sizeof(buf), &werr)) > 0)
		sl_buf_add(dir, buf, (size_t)n);
	code = sl_ssh_finish(ch, &err);
	if (code < 0)
		sl_die_err(&err);
	if (code)
		exit(code);
	if (!sent || n < 0)
		sl_die_err(&werr);
	if (tar_code)
		sl_die(SL_EXIT_USAGE, "the files named could not be packed (tar exit status %d)",
		       tar_code);
	sl_buf_rtrim(dir);
	if (!dir->len || strchr(dir->buf, '\n'))
		sl_die(SL_EXIT_TEMP, "the node named no directory for the files");
	sl_ssh_close(s);
	sl_strv_clear(&argv);
	sl_buf_release(&cmd);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		SL_SSH_LONGOPTS,
		{ "user", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_ssh_opts opts = SL_SSH_OPTS_INIT;
	struct sl_ssh_addr addr = SL_SSH_ADDR_INIT;
	struct sl_strv remote = SL_STRV_INIT, args = SL_STRV_INIT, sent = SL_STRV_INIT;
	struct pack p = { SL_STRV_INIT, SL_STRV_INIT, SL_STRV_INIT };
	struct sl_buf dir = SL_BUF_INIT, pre = SL_BUF_INIT, self = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	const char *user = "app", *name;
	int c;

	sl_msg_init(argv[0]);
	sl_strv_push(&remote, "sl-remote");
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:t" SL_SSH_SHORTOPTS, longopts, NULL)) != -1) {
		int used = sl_ssh_opt(&opts, c, optarg, &err);

		if (used < 0)
			sl_die_err(&err);
		/* sl-remote runs the script: the transport's options go to it too */
		if (c == 't' || c == 'i' || c == SL_SSH_OPT_ACCEPT_NEW || c == SL_SSH_OPT_TIMEOUT)
			sl_strv_push(&remote, c == 't' ? "-t" : c == 'i' ? "-i" :
				     c == SL_SSH_OPT_TIMEOUT ? "--timeout" : "--accept-new");
		if (c == 'i' || c == SL_SSH_OPT_TIMEOUT)
			sl_strv_push(&remote, optarg);
		if (used || c == 't')
			continue;
		switch (c) {
		case 'u': user = optarg; break;
		case 'h': printf("usage: %s\n", USAGE); sl_exit_flush();
		case 'V': printf("sl-remote-run %s\n", SL_VERSION); sl_exit_flush();
		default: sl_die_option(USAGE, argv, c);
		}
	}
	if (argc - optind < 3)
		sl_die_usage(USAGE);
	if (strcmp(user, "app") && strcmp(user, "root"))
		sl_die(SL_EXIT_USAGE, "--user %s: app or root", user);
	if (sl_ssh_addr_parse(&addr, argv[optind], &err) < 0)
		sl_die_err(&err);
	for (int i = optind + 3; i < argc; i++) {
		name = local_file(&p, argv[i], &pre);
		sl_strv_push(&args, name ? pre.buf : argv[i]);
		sl_strv_push(&sent, name ? name : "");
	}
	if (p.names.n)
		send_files(&addr, &opts, user, argv[optind + 1], &p, &dir);
	sl_strv_push(&remote, argv[optind]);
	sl_strv_push(&remote, "sl-run");
	sl_strv_push(&remote, "--user");
	sl_strv_push(&remote, user);
	if (p.names.n) {
		sl_strv_push(&remote, "--files");
		sl_strv_push(&remote, dir.buf);
	}
	sl_strv_push(&remote, argv[optind + 1]);
	sl_strv_push(&remote, argv[optind + 2]);
	/* each argument that named a local file now names the node's copy */
	for (size_t i = 0; i < args.n; i++) {
		if (*sent.v[i])
			sl_strv_pushf(&remote, "%s%s/%s", args.v[i], dir.buf, sent.v[i]);
		else
			sl_strv_push(&remote, args.v[i]);
	}
	/* the sl-remote installed beside this tool first, as silver does */
	if (sl_run_exe_dir(&self) == 0) {
		sl_buf_adds(&self, "/sl-remote");
		if (access(self.buf, X_OK) == 0) {
			free(remote.v[0]);
			remote.v[0] = sl_buf_detach(&self, NULL);
		}
	}
	sl_run_exec(remote.v, NULL, &err);
	sl_die_err(&err);
}
