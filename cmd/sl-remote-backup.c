/*
 * silverlining — sl-remote-backup: bring a backup of an app's services
 * from its node into a file or a directory, or send one back
 * (silver backup, silver restore).
 */
#include <dirent.h>
#include <fcntl.h>
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
#include "../libsl/version.h"

#define USAGE "sl-remote-backup [--accept-new] [-i FILE] [--timeout SECONDS] NODE LOCATION DEST" \
	" | sl-remote-backup --restore [--accept-new] [-i FILE] [--timeout SECONDS] NODE BACKUP LOCATION"

/*
 * Runs `sl-backup MODE LOCATION` on the node over one session, its
 * stdin from IN (-1: none) and its stdout into OUT. Its exit status, or
 * -1 with ERR set when the node could not be reached.
 */
static int node_backup(const char *node, const struct sl_ssh_opts *opts, const char *mode,
		       const char *location, int in, int out, struct sl_err *err)
{
	char *argv[] = { "sl-backup", (char *)mode, (char *)location, NULL };
	struct sl_ssh_addr addr = SL_SSH_ADDR_INIT;
	struct sl_buf cmd = SL_BUF_INIT;
	struct sl_ssh_chan *ch;
	struct sl_ssh *s = NULL;
	int code = -1;

	sl_quote_sh_command(&cmd, argv);
	if (sl_ssh_addr_parse(&addr, node, err) == 0 && (s = sl_ssh_connect(&addr, opts, err)) &&
	    (ch = sl_ssh_exec(s, cmd.buf, err)))
		code = sl_ssh_pump(ch, in, out, 2, err);
	if (s)
		sl_ssh_close(s);
	sl_ssh_addr_release(&addr);
	sl_buf_release(&cmd);
	return code;
}

/* A backup as one .tar.gz file: written beside DEST, renamed into place whole. */
static int backup_file(const char *node, const struct sl_ssh_opts *opts,
		       const char *location, const char *dest)
{
	struct sl_buf part = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct stat st;
	int fd, code;

	if (lstat(dest, &st) == 0)
		sl_die(SL_EXIT_USAGE, "%s exists: give a new name", dest);
	sl_buf_addf(&part, "%s.part", dest);
	fd = open(part.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		sl_die_errno("unable to write %s", part.buf);
	code = node_backup(node, opts, "--backup", location, -1, fd, &err);
	if (code < 0) {
		unlink(part.buf);
		sl_die_err(&err);
	}
	if (code == 0 && (fsync(fd) < 0 || close(fd) < 0 || rename(part.buf, dest) < 0)) {
		unlink(part.buf);
		sl_die_errno("unable to write %s", dest);
	}
	if (code)
		unlink(part.buf);
	sl_buf_release(&part);
	return code;
}

/* Whether PATH is a directory with nothing in it. */
static int empty_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int empty = d != NULL;

	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = 0;
	if (d)
		closedir(d);
	return empty;
}

/* A backup unpacked into the directory DEST, new or empty. */
static int backup_dir(const char *node, const struct sl_ssh_opts *opts,
		      const char *location, const char *dest)
{
	const char *t = getenv("TMPDIR");
	struct sl_buf part = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_child c = SL_CHILD_INIT;
	struct stat st;
	int made = lstat(dest, &st) < 0, fd, code;

	if (!made && !empty_dir(dest))
		sl_die(SL_EXIT_USAGE, "%s is not empty: give a new directory", dest);
	if (made && sl_file_mkdirs(dest, 0777, &err) < 0)
		sl_die(SL_EXIT_TEMP, "unable to make %s: %s", dest, err.msg.buf);
	/* the whole backup first: one that did not come leaves nothing behind */
	sl_buf_addf(&part, "%s/silver-backup.XXXXXX", t && *t ? t : "/tmp");
	fd = mkstemp(part.buf);
	if (fd < 0 || unlink(part.buf) < 0)
		sl_die(SL_EXIT_TEMP, "unable to make a temporary file");
	code = node_backup(node, opts, "--backup", location, -1, fd, &err);
	if (code < 0) {
		if (made)
			rmdir(dest);
		sl_die_err(&err);
	}
	c.argv = (char *[]){ "tar", "-C", (char *)dest, "-xzf", "-", NULL };
	c.in = fd;
	if (code == 0 && (lseek(fd, 0, SEEK_SET) < 0 || sl_run(&c, &err) != 0)) {
		if (made)
			sl_file_remove_tree(AT_FDCWD, dest, NULL);
		sl_die(SL_EXIT_TEMP, "the backup did not unpack into %s", dest);
	}
	if (code && made)
		rmdir(dest);
	close(fd);
	sl_buf_release(&part);
	return code;
}

/* Sends BACKUP, a .tar.gz file or a directory of one unpacked, to LOCATION. */
static int restore(const char *node, const struct sl_ssh_opts *opts,
		   const char *backup, const char *location)
{
	struct sl_child c = SL_CHILD_INIT;
	struct sl_buf ini = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct stat st;
	int fd, code, tar_code;

	if (stat(backup, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fd = open(backup, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			sl_die(SL_EXIT_USAGE, "unable to read %s", backup);
		code = node_backup(node, opts, "--restore", location, fd, 1, &err);
		if (code < 0)
			sl_die_err(&err);
		return code;
	}
	sl_buf_addf(&ini, "%s/backup.ini", backup);
	if (stat(ini.buf, &st) < 0 || !S_ISREG(st.st_mode))
		sl_die(SL_EXIT_USAGE, "%s is not a backup (no backup.ini)", backup);
	c.argv = (char *[]){ "tar", "-C", (char *)backup, "-czf", "-", ".", NULL };
	c.out = SL_RUN_PIPE;
	if (sl_run_start(&c, &err) < 0)
		sl_die_err(&err);
	code = node_backup(node, opts, "--restore", location, c.out_fd, 1, &err);
	close(c.out_fd);
	c.out_fd = -1;
	if (code < 0)
		sl_die_err(&err);
	tar_code = sl_run_wait(&c, &err);
	if (tar_code < 0)
		sl_die_err(&err);
	sl_buf_release(&ini);
	return code ? code : tar_code;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		SL_SSH_LONGOPTS,
		{ "restore", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_ssh_opts opts = SL_SSH_OPTS_INIT;
	struct sl_err err = SL_ERR_INIT;
	const char *dest;
	size_t len;
	int c, is_restore = 0, code;

	sl_msg_init(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:" SL_SSH_SHORTOPTS, longopts, NULL)) != -1) {
		int used = sl_ssh_opt(&opts, c, optarg, &err);

		if (used < 0)
			sl_die_err(&err);
		if (used)
			continue;
		switch (c) {
		case 'R': is_restore = 1; break;
		case 'h': printf("usage: %s\n", USAGE); sl_exit_flush();
		case 'V': printf("sl-remote-backup %s\n", SL_VERSION); sl_exit_flush();
		default: sl_die_option(USAGE, argv, c);
		}
	}
	if (argc - optind != 3)
		sl_die_usage(USAGE);
	if (is_restore)
		return restore(argv[optind], &opts, argv[optind + 1], argv[optind + 2]);
	dest = argv[optind + 2];
	len = strlen(dest);
	if ((len > 7 && !strcmp(dest + len - 7, ".tar.gz")) ||
	    (len > 4 && !strcmp(dest + len - 4, ".tgz")))
		code = backup_file(argv[optind], &opts, argv[optind + 1], dest);
	else
		code = backup_dir(argv[optind], &opts, argv[optind + 1], dest);
	if (code)
		return code;
	printf("%s\n", dest);
	sl_exit_flush();
}
