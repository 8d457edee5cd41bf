/* silverlining — sl-provision: make a bare Debian 12 server a node; re-run to upgrade. */
#include <getopt.h>
#include <glob.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../libsl/buf.h"
#include "../libsl/msg.h"
#include "../libsl/quote.h"
#include "../libsl/run.h"
#include "../libsl/ssh.h"
#include "../libsl/version.h"

#define USAGE "sl-provision [--accept-new] [-i FILE] [--timeout SECONDS] [--deb FILE] [--balancer | --service] NODE"
#define UPLOADS "/var/cache/silverlining/provision"

/* The first existing file among DIR/../REL for each REL of RELS (NULL-ended). */
static char *beside_tools(const char *const *rels)
{
	struct sl_buf dir = SL_BUF_INIT, path = SL_BUF_INIT;
	glob_t g;

	if (sl_run_exe_dir(&dir) < 0)
		return NULL;
	for (; *rels; rels++) {
		sl_buf_reset(&path);
		sl_buf_addf(&path, "%s/../%s", dir.buf, *rels);
		if (!glob(path.buf, 0, NULL, &g) && g.gl_pathc) {
			char *found = realpath(g.gl_pathv[g.gl_pathc - 1], NULL);

			globfree(&g);
			sl_buf_release(&dir);
			sl_buf_release(&path);
			return found;
		}
		globfree(&g);
	}
	sl_buf_release(&dir);
	sl_buf_release(&path);
	return NULL;
}

/*
 * Run from an installed package (no build tree beside the tools): the
 * installed package of this very version, made a .deb again by
 * repack-deb in a new directory, removed at exit. NULL when that cannot be.
 */
static char tmp[4096], *tmp_deb;

static void remove_repacked(void)
{
	if (tmp_deb)
		unlink(tmp_deb);
	if (*tmp)
		rmdir(tmp);
}

static char *repacked(void)
{
	static const char *const repack[] = { "share/silverlining/repack-deb", NULL };
	struct sl_buf out = SL_BUF_INIT, ver = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_child c = SL_CHILD_INIT;
	char *script = beside_tools(repack), *deb = NULL;
	char *query[] = { "dpkg-query", "-W", "-f", "${Version}", "silverlining", NULL };
	const char *t = getenv("TMPDIR");

	c.argv = query;
	c.err = SL_RUN_NULL;
	if (!script || sl_run_capture(&c, &ver, &err) != 0 || strcmp(ver.buf, SL_VERSION))
		goto out;
	snprintf(tmp, sizeof(tmp), "%s/sl-provision.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmp)) {
		*tmp = '\0';
		goto out;
	}
	{
		char *argv[] = { script, tmp, NULL };
		struct sl_child r = SL_CHILD_INIT;

		r.argv = argv;
		if (sl_run_capture(&r, &out, &err) == 0 && out.len && out.buf[out.len - 1] == '\n') {
			out.buf[--out.len] = '\0';
			deb = sl_buf_detach(&out, NULL);
			tmp_deb = deb;
		}
	}
	atexit(remove_repacked);
out:
	free(script);
	sl_buf_release(&out);
	sl_buf_release(&ver);
	sl_err_release(&err);
	return deb;
}

/* Sends the file LOCAL to REMOTE on the node over a channel of S. */
static void upload(struct sl_ssh *s, const char *local, const char *remote)
{
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf data = SL_BUF_INIT, cmd = SL_BUF_INIT;
	struct sl_ssh_chan *c;
	int code;

	if (sl_buf_read_file(&data, local) < 0)
		sl_die_errno("unable to read %s", local);
	sl_buf_adds(&cmd, "umask 077 && mkdir -p " UPLOADS " && cat > ");
	sl_quote_sh(&cmd, remote);
	sl_buf_adds(&cmd, ".tmp && mv ");
	sl_quote_sh(&cmd, remote);
	sl_buf_adds(&cmd, ".tmp ");
	sl_quote_sh(&cmd, remote);
	c = sl_ssh_exec(s, cmd.buf, &err);
	if (!c || sl_ssh_write(c, data.buf, data.len, &err) < 0 ||
	    sl_ssh_send_eof(c, &err) < 0)
		sl_die_err(&err);
	code = sl_ssh_finish(c, &err);
	if (code < 0)
		sl_die_err(&err);
	if (code)	/* a user who may not write there: a permanent refusal */
		sl_die(code >= SL_EXIT_USAGE ? code : SL_EXIT_USAGE,
		       "unable to upload %s to the node (exit status %d): log in as root", local, code);
	sl_buf_release(&data);
	sl_buf_release(&cmd);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		SL_SSH_LONGOPTS,
		{ "deb", required_argument, NULL, 'd' },
		{ "balancer", no_argument, NULL, 'b' },
		{ "service", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const debs[] = { "build/silverlining_" SL_VERSION "_*.deb", NULL };
	static const char *const scripts[] = { "share/silverlining/setup-node", NULL };
	struct sl_ssh_opts opts = SL_SSH_OPTS_INIT;
	struct sl_ssh_addr addr = SL_SSH_ADDR_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf cmd = SL_BUF_INIT, who = SL_BUF_INIT;
	struct sl_ssh_chan *c;
	struct sl_ssh *s;
	char *deb = NULL, *script, host[256] = "";
	const char *user = getenv("USER");
	struct passwd *pw = getpwuid(getuid());
	int ch, code;
	const char *role = NULL;

	sl_msg_init(argv[0]);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:" SL_SSH_SHORTOPTS, longopts, NULL)) != -1) {
		int used = sl_ssh_opt(&opts, ch, optarg, &err);

		if (used < 0)
			sl_die_err(&err);
		if (used)
			continue;
		switch (ch) {
		case 'd': deb = realpath(optarg, NULL); if (!deb) sl_die_errno("unable to read %s", optarg); break;
		case 'b': case 's':
			if (role && *role != ch)
				sl_die_usage(USAGE);
			role = ch == 'b' ? "balancer" : "service";
			break;
		case 'h': printf("usage: %s\n", USAGE); sl_exit_flush();
		case 'V': printf("sl-provision %s\n", SL_VERSION); sl_exit_flush();
		default: sl_die_option(USAGE, argv, ch);
		}
	}
	if (argc - optind != 1)
		sl_die_usage(USAGE);
	if (sl_ssh_addr_parse(&addr, argv[optind], &err) < 0)
		sl_die_err(&err);
	if (!deb && !(deb = beside_tools(debs)) && !(deb = repacked()))
		sl_die(SL_EXIT_USAGE, "no silverlining %s package to install: build one (make deb) or give --deb FILE",
		       SL_VERSION);
	if (!(script = beside_tools(scripts)))
		sl_die(SL_EXIT_USAGE, "setup-node is missing beside the tools (a broken install?)");
	gethostname(host, sizeof(host) - 1);
	if (!user || !*user)
		user = pw ? pw->pw_name : "unknown";
	sl_buf_addf(&who, "%s@%s", user, host);

	s = sl_ssh_connect(&addr, &opts, &err);
	if (!s)
		sl_die_err(&err);
	upload(s, deb, UPLOADS "/silverlining.deb");
	upload(s, script, UPLOADS "/setup-node");
	sl_buf_addf(&cmd, "bash " UPLOADS "/setup-node --version %s --deb " UPLOADS
		    "/silverlining.deb --by ", SL_VERSION);
	sl_quote_sh(&cmd, who.buf);
	if (role)
		sl_buf_addf(&cmd, " --role %s", role);
	c = sl_ssh_exec(s, cmd.buf, &err);
	if (!c)
		sl_die_err(&err);
	code = sl_ssh_pump(c, -1, 1, 2, &err);
	if (code < 0)
		sl_die_err(&err);
	sl_ssh_close(s);
	if (code)
		sl_die(code, "%s is not a node yet: setup-node failed (exit status %d)",
		       argv[optind], code);
	sl_exit_flush();
}
