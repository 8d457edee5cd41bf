/*
 * silverlining — sl-run: run a script of the instance serving a location, on
 * the node, in the app's environment, as the app's user (silver run).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../libsl/appuser.h"
#include "../libsl/file.h"
#include "../libsl/msg.h"
#include "../libsl/node.h"
#include "../libsl/route.h"
#include "../libsl/run.h"
#include "../libsl/strv.h"
#include "../libsl/version.h"

#define USAGE "sl-run [--user app|root] [--files DIR] LOCATION SCRIPT [ARG...]" \
	" | sl-run [--user app|root] --receive LOCATION"
#define SYSTEM_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define RUN_PREFIX "run."
#define STALE (24 * 60 * 60)	/* a --receive whose run never came, pruned */

/* The instance at the location, and whom its script runs as. */
struct target {
	struct sl_buf inst, dir;	/* its name, ROOT/instances/INST */
	struct sl_buf user;		/* "root", or the app's user */
	int root;			/* run as root: no runuser */
	uid_t uid;
	gid_t gid;
};

static void find_target(const char *location, int as_root, struct target *t)
{
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf app = SL_BUF_INIT;
	int found = sl_routes_instance_at(location, &t->inst, &err);

	if (found < 0)
		sl_die_err(&err);
	if (!found)
		sl_die(SL_EXIT_USAGE, "nothing is deployed at %s", location);
	sl_node_instance_path(&t->dir, "instances", t->inst.buf);
	t->root = as_root;
	t->uid = 0;
	t->gid = 0;
	sl_buf_adds(&t->user, "root");
	if (as_root)
		return;
	sl_node_app_of(t->inst.buf, &app);
	found = sl_appuser_get(app.buf, &t->user, &t->uid, &t->gid, &err);
	if (found < 0)
		sl_die_err(&err);
	/* sl-activate made it when it started the instance */
	if (!found)
		sl_die(SL_EXIT_TEMP, "the user %s of %s does not exist", t->user.buf, app.buf);
	sl_buf_release(&app);
}

/* Pushes onto ARGV what runs the rest as T's user: nothing for root. */
static void push_runas(struct sl_strv *argv, const struct target *t)
{
	if (t->root)
		return;
	sl_strv_push(argv, "runuser");
	sl_strv_push(argv, "-u");
	sl_strv_push(argv, t->user.buf);
	sl_strv_push(argv, "--");
}

/* ROOT/tmp, opened without following a link; -1 with errno. */
static int open_tmp(void)
{
	struct sl_buf tmp = SL_BUF_INIT;
	int fd;

	sl_node_path(&tmp, "tmp");
	fd = open(tmp.buf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	sl_buf_release(&tmp);
	return fd;
}

/* Removes the run.* entries of ROOT/tmp older than a day, quietly. */
static void prune(int tmpfd)
{
	int fd = dup(tmpfd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	time_t now = time(NULL);
	struct dirent *de;
	struct stat st;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, RUN_PREFIX, strlen(RUN_PREFIX)) &&
		    !fstatat(tmpfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) &&
		    now - st.st_mtime > STALE)
			sl_file_remove_tree(tmpfd, de->d_name, NULL);
	closedir(d);
}

/*
 * --receive: a tar on stdin unpacked, as T's user, into a new directory
 * ROOT/tmp/run.XXXXXXXX (0700, T's user's), whose path is printed.
 */
static _Noreturn void receive(const struct target *t)
{
	struct sl_buf dir = SL_BUF_INIT;
	struct sl_strv argv = SL_STRV_INIT;
	struct sl_child tar = SL_CHILD_INIT;
	struct sl_err err = SL_ERR_INIT;
	const char *name;
	int tmpfd, fd;

	sl_node_path(&dir, "tmp");
	if (sl_file_mkdirs(dir.buf, 0755, &err) < 0)
		sl_die(SL_EXIT_TEMP, "%s", err.msg.buf);
	if ((tmpfd = open_tmp()) < 0 || fchmod(tmpfd, 0755) < 0)
		sl_die(SL_EXIT_TEMP, "unable to open %s: %s", dir.buf, strerror(errno));
	prune(tmpfd);
	sl_buf_adds(&dir, "/" RUN_PREFIX "XXXXXXXX");
	if (!mkdtemp(dir.buf))
		sl_die(SL_EXIT_TEMP, "unable to make a directory for the files");
	name = strrchr(dir.buf, '/') + 1;
	fd = openat(tmpfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchown(fd, t->uid, t->gid) < 0 || fchmod(fd, 0700) < 0) {
		int e = errno;

		sl_file_remove_tree(tmpfd, name, NULL);
		sl_die(SL_EXIT_TEMP, "unable to give %s to %s: %s", dir.buf, t->user.buf,
		       strerror(e));
	}
	close(fd);
	/* unpacked by the user who will read them: nothing lands outside */
	push_runas(&argv, t);
	sl_strv_pushv(&argv, (char *[]){ "tar", "-x", "-C", dir.buf, "--no-same-owner",
					 "--no-same-permissions", NULL });
	tar.argv = argv.v;
	if (sl_run(&tar, &err) != 0) {
		sl_file_remove_tree(tmpfd, name, NULL);
		sl_die(SL_EXIT_USAGE, "the files sent did not unpack");
	}
	printf("%s\n", dir.buf);
	sl_exit_flush();
}

/*
 * --files DIR: DIR must be ROOT/tmp/run.NAME itself, a directory and not
 * a link. Returns ROOT/tmp opened, and NAME in *NAME.
 */
static int files_dir(const char *files, const char **name)
{
	struct sl_buf tmp = SL_BUF_INIT;
	struct stat st;
	int tmpfd;

	sl_node_path(&tmp, "tmp/" RUN_PREFIX);
	if (strncmp(files, tmp.buf, tmp.len) || strchr(files + tmp.len, '/'))
		sl_die(SL_EXIT_USAGE, "--files %s: not a directory sl-run --receive made", files);
	*name = files + tmp.len - strlen(RUN_PREFIX);
	tmpfd = open_tmp();
	if (tmpfd < 0 || fstatat(tmpfd, *name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(st.st_mode))
		sl_die(SL_EXIT_USAGE, "--files %s: no such directory", files);
	sl_buf_release(&tmp);
	return tmpfd;
}

/*
 * SCRIPT's path: as it is when absolute; in the instance when it holds a
 * '/'; else in its bin/, at its top, then on PATH. Pushes onto ARGV what
 * runs it (python3 first for a .py without its x bit); dies 127 or 126.
 */
static void push_script(struct sl_strv *argv, const struct target *t, const char *script)
{
	struct sl_buf path = SL_BUF_INIT;
	char *found = NULL;
	struct stat st;
	size_t len;

	if (*script == '/')
		sl_buf_adds(&path, script);
	else if (strchr(script, '/'))
		sl_buf_addf(&path, "%s/%s", t->dir.buf, script);
	else {
		sl_buf_addf(&path, "%s/bin/%s", t->dir.buf, script);
		if (stat(path.buf, &st) < 0) {
			sl_buf_reset(&path);
			sl_buf_addf(&path, "%s/%s", t->dir.buf, script);
		}
		if (stat(path.buf, &st) < 0 && (found = sl_run_which(script, NULL))) {
			sl_buf_reset(&path);
			sl_buf_adds(&path, found);
			free(found);
		}
	}
	if (stat(path.buf, &st) < 0)
		sl_die(SL_EXIT_NOTFOUND, "%s: not found in %s (bin/, its top, or PATH)",
		       script, t->inst.buf);
	if (S_ISDIR(st.st_mode))
		sl_die(SL_EXIT_NOEXEC, "%s: a directory", script);
	len = path.len;
	if (access(path.buf, X_OK) < 0) {
		if (len < 3 || strcmp(path.buf + len - 3, ".py"))
			sl_die(SL_EXIT_NOEXEC, "%s: not executable (chmod +x, or name it .py)",
			       script);
		sl_strv_push(argv, "python3");
	}
	sl_strv_push(argv, path.buf);
	sl_buf_release(&path);
}

static void on_signal(int sig)
{
	(void)sig;
}

/*
 * Runs SCRIPT with ARGS as T's user, through sl-env --node, in the
 * instance's directory. Without FILES, the script takes sl-run's place;
 * with them, sl-run waits, leaves the signals of an interrupt to the
 * script, and removes FILES (NAME in TMPFD) once it ends.
 */
static _Noreturn void run(const struct target *t, const char *script, char **args,
			  int tmpfd, const char *name)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct sl_strv argv = SL_STRV_INIT;
	struct sl_buf s = SL_BUF_INIT;
	struct sl_child child = SL_CHILD_INIT;
	struct sl_err err = SL_ERR_INIT;
	const char *pythonpath = getenv("PYTHONPATH");
	struct stat st;
	int code;

	push_runas(&argv, t);
	/* runuser sets the account's HOME, which the app's user may not write */
	sl_node_instance_path(&s, "tmp", t->inst.buf);
	if (!t->root && !stat(s.buf, &st) && S_ISDIR(st.st_mode)) {
		sl_strv_push(&argv, "env");
		sl_strv_pushf(&argv, "HOME=%s", s.buf);
	}
	sl_strv_pushv(&argv, (char *[]){ "sl-env", "--node", t->dir.buf, "--", NULL });
	push_script(&argv, t, script);
	sl_strv_pushv(&argv, args);
	/* the app's own code and libraries importable, as under uWSGI */
	sl_buf_reset(&s);
	sl_buf_addf(&s, "%s/lib/python:%s", t->dir.buf, t->dir.buf);
	if (pythonpath && *pythonpath)
		sl_buf_addf(&s, ":%s", pythonpath);
	if (setenv("PYTHONPATH", s.buf, 1) < 0 || chdir(t->dir.buf) < 0)
		sl_die(SL_EXIT_TEMP, "unable to enter %s: %s", t->dir.buf, strerror(errno));
	if (!name) {
		sl_run_exec(argv.v, NULL, &err);
		sl_die_err(&err);
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	child.argv = argv.v;
	code = sl_run(&child, &err);
	if (sl_file_remove_tree(tmpfd, name, &err) < 0)
		sl_warn("%s", err.msg.buf);
	if (code < 0)
		sl_die_err(&err);
	exit(code);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "files", required_argument, NULL, 'f' },
		{ "receive", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct target t = { SL_BUF_INIT, SL_BUF_INIT, SL_BUF_INIT, 1, 0, 0 };
	struct sl_buf path = SL_BUF_INIT;
	const char *as = "app", *files = NULL, *name = NULL, *inherited = getenv("PATH");
	int receiving = 0, tmpfd = -1, c;

	sl_msg_init(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'u': as = optarg; break;
		case 'f': files = optarg; break;
		case 'r': receiving = 1; break;
		case 'h': printf("usage: %s\n", USAGE); sl_exit_flush();
		case 'V': printf("sl-run %s\n", SL_VERSION); sl_exit_flush();
		default: sl_die_option(USAGE, argv, c);
		}
	}
	if (strcmp(as, "app") && strcmp(as, "root"))
		sl_die(SL_EXIT_USAGE, "--user %s: app or root", as);
	if (receiving ? argc - optind != 1 || files : argc - optind < 2)
		sl_die_usage(USAGE);
	/* the system's programs first, for sl-run's own and the script's */
	sl_buf_addf(&path, SYSTEM_PATH "%s%s", inherited && *inherited ? ":" : "",
		    inherited && *inherited ? inherited : "");
	setenv("PATH", path.buf, 1);
	find_target(argv[optind], !strcmp(as, "root"), &t);
	if (receiving)
		receive(&t);
	if (files)
		tmpfd = files_dir(files, &name);
	run(&t, argv[optind + 1], argv + optind + 2, tmpfd, name);
}
