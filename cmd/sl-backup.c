/* silverlining — sl-backup: the services' data of the app at a location, out, in, and wiped. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../libsl/app.h"
#include "../libsl/file.h"
#include "../libsl/msg.h"
#include "../libsl/node.h"
#include "../libsl/route.h"
#include "../libsl/run.h"
#include "../libsl/say.h"
#include "../libsl/version.h"

#define USAGE "sl-backup --backup LOCATION | --restore LOCATION | --clear LOCATION"

/*
 * A backup is a .tar.gz of backup.ini (app, instance, time, services) and
 * one directory per service, as sl-service-NAME backup writes it.
 */

/* The app at the location: its instance, its name, its app.ini. */
static struct sl_buf inst = SL_BUF_INIT, app = SL_BUF_INIT;
static struct sl_app ini = SL_APP_INIT;

/*
 * Root-only work directories under /var/tmp (mkdtemp makes them 0700),
 * each removed on every way out; a safety backup is kept only when
 * putting it back failed.
 */
static char *tmps[2];
static size_t ntmps;
static const char *keep;
static volatile sig_atomic_t stop;

static void cleanup(void)
{
	for (size_t i = 0; i < ntmps; i++)
		if (tmps[i] != keep)
			sl_file_remove_tree(AT_FDCWD, tmps[i], NULL);
}

/* A signal ends the tool (exit 130) once the child running now is done. */
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void signals(void (*fn)(int))
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	if (fn == SIG_IGN)
		sigaction(SIGPIPE, &sa, NULL);
}

static void checkpoint(void)
{
	if (stop)
		exit(130);
}

static const char *tmpdir(void)
{
	char *d = strdup("/var/tmp/sl-backup.XXXXXX");

	if (!d || !mkdtemp(d))
		sl_die(SL_EXIT_TEMP, "unable to make a work directory");
	tmps[ntmps++] = d;
	return d;
}

/* A child's failure to start, told as a warning. */
static void told(void *ctx, const char *text, size_t len, int line)
{
	(void)ctx;
	(void)line;
	sl_warn("%.*s", (int)len, text);
}

static const struct sl_say talk = { told, NULL };

/* Runs ARGV (stdin /dev/null) with OUT and ERRFD (SL_RUN_*): its exit code. */
static int run(char *const *argv, int out, int errfd)
{
	int code = sl_say_run(&talk, out, errfd, argv);

	checkpoint();
	return code;
}

/* sl-service-NAME VERB APP [DIR], its output on stderr: its exit code. */
static int service(const char *name, const char *verb, const char *dir)
{
	struct sl_buf prog = SL_BUF_INIT;
	int code;

	sl_buf_addf(&prog, "sl-service-%s", name);
	code = run((char *[]){ prog.buf, (char *)verb, app.buf, (char *)dir, NULL },
		   STDERR_FILENO, SL_RUN_INHERIT);
	sl_buf_release(&prog);
	return code;
}

/* DIR/NAME into OUT, after resetting it. */
static const char *in_dir(struct sl_buf *out, const char *dir, const char *name)
{
	sl_buf_reset(out);
	sl_buf_addf(out, "%s/%s", dir, name);
	return out->buf;
}

/* LOCATION -> the instance serving it, its app, the app's services. */
static void resolve(const char *location)
{
	struct sl_buf dir = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	int found = sl_routes_instance_at(location, &inst, &err), rc;

	if (found < 0)
		sl_die_err(&err);
	if (!found)
		sl_die(SL_EXIT_USAGE, "nothing is deployed at %s", location);
	sl_node_app_of(inst.buf, &app);
	sl_node_instance_path(&dir, "instances", inst.buf);
	rc = sl_app_load(&ini, dir.buf, &err);
	for (size_t i = 0; i < ini.warnings.n; i++)
		sl_warn("%s", ini.warnings.v[i]);
	if (rc < 0) {
		sl_warn("%s", err.msg.buf);
		sl_die(SL_EXIT_USAGE, "unable to read the app.ini of %s", inst.buf);
	}
	if (!ini.nservices)
		sl_die(SL_EXIT_NO, "%s has no services: nothing to back up, restore or clear",
		       app.buf);
	sl_buf_release(&dir);
}

/*
 * The app's lock, as sl-activate takes it: no backup or restore of the
 * app interleaves with a deploy of it (other apps' deploys go on).
 */
static int lock(void)
{
	const char *limit = getenv("SL_FETCH_LIMIT");
	struct sl_err err = SL_ERR_INIT;
	int wait = (limit && *limit ? atoi(limit) : 600) + 120;
	int fd = sl_node_lock(app.buf, wait, &err);

	if (fd < 0 && err.code == SL_EXIT_TIMEOUT)
		sl_die(SL_EXIT_TIMEOUT, "a deploy of %s held its lock for %d seconds",
		       app.buf, wait);
	if (fd < 0)
		sl_die_err(&err);
	return fd;
}

static void backup(void)
{
	const char *work = tmpdir();
	struct sl_buf text = SL_BUF_INIT, p = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	char when[32];
	time_t now = time(NULL);

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	sl_buf_addf(&text, "app=%s\ninstance=%s\ntime=%s\nservices=", app.buf, inst.buf, when);
	for (size_t i = 0; i < ini.nservices; i++)
		sl_buf_addf(&text, "%s%s", i ? " " : "", ini.services[i].name);
	sl_buf_addch(&text, '\n');
	if (sl_file_write(in_dir(&p, work, "backup.ini"), text.buf, text.len, 0600,
			  SL_FILE_REPLACE, &err) < 0)
		sl_die_err(&err);
	for (size_t i = 0; i < ini.nservices; i++) {
		const char *s = ini.services[i].name;
		int code = service(s, "backup", in_dir(&p, work, s));

		if (code)
			sl_die(code, "service.%s: the backup failed", s);
	}
	if (run((char *[]){ "tar", "-C", (char *)work, "-czf", "-", ".", NULL },
		SL_RUN_INHERIT, SL_RUN_INHERIT))
		sl_die(SL_EXIT_TEMP, "unable to send the backup");
	sl_buf_release(&text);
	sl_buf_release(&p);
}

/* stdin into the new file PATH (0600): 0, or -1. */
static int keep_stdin(const char *path)
{
	char b[65536];
	ssize_t n;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return -1;
	while ((n = read(STDIN_FILENO, b, sizeof(b))) != 0) {
		checkpoint();
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || sl_file_write_all(fd, b, (size_t)n) < 0)
			break;
	}
	if (close(fd) < 0 || n)
		return -1;
	return 0;
}

/* The first line of LIST (tar -tv) that is not a regular file or a directory, or NULL. */
static char *not_plain(char *list)
{
	for (char *l = list; *l; l = strchr(l, '\n') + 1) {
		char *end = strchr(l, '\n');

		if (!end)
			end = l + strlen(l);
		if (*l != '-' && *l != 'd') {
			*end = 0;
			return l;
		}
		if (!*end)
			break;
	}
	return NULL;
}

static int special(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)path;
	(void)type;
	return f->level > 0 && !S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode);
}

/* The app backup.ini names (its app= lines, joined), or NULL without services=. */
static char *backup_app(const char *file)
{
	struct sl_buf text = SL_BUF_INIT, from = SL_BUF_INIT;
	int services = 0;

	if (sl_buf_read_file(&text, file) < 0)
		return NULL;
	for (char *l = text.buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		size_t len = strcspn(l, "\n");

		if (!strncmp(l, "app=", 4)) {
			if (from.len)
				sl_buf_addch(&from, '\n');
			sl_buf_add(&from, l + 4, len - 4);
		}
		services |= !strncmp(l, "services=", 9);
	}
	sl_buf_release(&text);
	if (!services || !sl_app_name_valid(from.buf)) {
		sl_buf_release(&from);
		return NULL;
	}
	return sl_buf_detach(&from, NULL);
}

/* The backup on stdin into WORK/in, whole and sane, or nothing changes. */
static void unpack(const char *work)
{
	struct sl_buf tgz = SL_BUF_INIT, in = SL_BUF_INIT, list = SL_BUF_INIT, p = SL_BUF_INIT;
	struct sl_child c = SL_CHILD_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct stat st;
	char *bad, *from;
	int code;

	if (keep_stdin(in_dir(&tgz, work, "backup.tar.gz")) < 0)
		sl_die(SL_EXIT_TEMP, "unable to keep the backup in %s: nothing was changed", work);
	c.argv = (char *[]){ "tar", "-tvzf", tgz.buf, NULL };
	c.in = SL_RUN_NULL;
	c.err = SL_RUN_NULL;
	code = sl_run_capture(&c, &list, &err);
	checkpoint();
	if (run((char *[]){ "gzip", "-t", tgz.buf, NULL }, SL_RUN_NULL, SL_RUN_NULL) || code)
		sl_die(SL_EXIT_USAGE, "the backup is not a whole .tar.gz (cut short or corrupt): "
		       "nothing was changed");
	/* regular files and directories only: root follows no link the archive holds */
	bad = not_plain(list.buf);
	if (bad)
		sl_die(SL_EXIT_USAGE, "the backup holds a link or a special file (%s): refused, "
		       "nothing was changed", bad);
	if (mkdir(in_dir(&in, work, "in"), 0700) < 0)
		sl_die(SL_EXIT_TEMP, "unable to make %s", in.buf);
	if (run((char *[]){ "tar", "-C", in.buf, "-xzf", tgz.buf, "--no-same-owner",
			    "--no-same-permissions", NULL },
		STDERR_FILENO, SL_RUN_INHERIT))
		sl_die(SL_EXIT_TEMP, "unable to unpack the backup: nothing was changed");
	unlink(tgz.buf);
	if (nftw(in.buf, special, 16, FTW_PHYS))
		sl_die(SL_EXIT_USAGE, "the backup holds a link or a special file: refused, "
		       "nothing was changed");
	if (lstat(in_dir(&p, in.buf, "backup.ini"), &st) < 0 || !S_ISREG(st.st_mode))
		sl_die(SL_EXIT_USAGE, "the backup has no backup.ini: not one sl-backup made, "
		       "nothing was changed");
	from = backup_app(p.buf);
	if (!from)
		sl_die(SL_EXIT_USAGE, "the backup's backup.ini names no app or services: "
		       "nothing was changed");
	if (strcmp(from, app.buf))
		sl_warn("a backup of %s goes into %s", from, app.buf);
	for (size_t i = 0; i < ini.nservices; i++) {
		const char *s = ini.services[i].name;

		if (stat(in_dir(&p, in.buf, s), &st) < 0 || !S_ISDIR(st.st_mode))
			sl_die(SL_EXIT_USAGE, "the backup holds nothing for service.%s: "
			       "nothing was changed", s);
		/* the service owns what its part must be, and reads it with the app's rights */
		if (service(s, "check", p.buf))
			sl_die(SL_EXIT_USAGE, "service.%s: its part of the backup does not read "
			       "whole: nothing was changed", s);
	}
	free(from);
	sl_buf_release(&tgz);
	sl_buf_release(&in);
	sl_buf_release(&list);
	sl_buf_release(&p);
}

/* The safety backup SAFE back into the first N services: 0, or -1 if one failed. */
static int put_back(const char *safe, size_t n)
{
	struct sl_buf p = SL_BUF_INIT;
	int ret = 0;

	for (size_t i = 0; i < n; i++) {
		const char *s = ini.services[i].name;

		if (!service(s, "restore", in_dir(&p, safe, s))) {
			fprintf(stderr, "%s: service.%s of %s was put back as it was\n",
				sl_msg_prog(), s, app.buf);
		} else {
			fprintf(stderr, "%s: putting back service.%s of %s failed\n",
				sl_msg_prog(), s, app.buf);
			ret = -1;
		}
	}
	sl_buf_release(&p);
	return ret;
}

static void restore(void)
{
	const char *work = tmpdir(), *safe;
	struct sl_buf p = SL_BUF_INIT;

	unpack(work);
	/*
	 * From here on the data changes: a signal or a lost connection does
	 * not stop a restore, or its putting back, half-way.
	 */
	signals(SIG_IGN);
	checkpoint();
	safe = tmpdir();
	for (size_t i = 0; i < ini.nservices; i++)
		if (service(ini.services[i].name, "backup", in_dir(&p, safe, ini.services[i].name)))
			sl_die(SL_EXIT_TEMP, "service.%s: unable to take a safety backup first: "
			       "nothing was changed", ini.services[i].name);
	for (size_t i = 0; i < ini.nservices; i++) {
		const char *s = ini.services[i].name;
		int code;

		sl_buf_reset(&p);
		sl_buf_addf(&p, "%s/in/%s", work, s);
		code = service(s, "restore", p.buf);
		if (!code)
			continue;
		if (code < SL_EXIT_USAGE)
			code = SL_EXIT_TEMP;
		if (!put_back(safe, i + 1))
			sl_die(code, "service.%s: the restore failed: the data of %s is as it was",
			       s, app.buf);
		keep = safe;
		sl_die(SL_EXIT_TEMP, "service.%s: the restore failed, and so did putting the "
		       "data back: the data of %s as it was is kept in %s (root only)",
		       s, app.buf, safe);
	}
	for (size_t i = 0; i < ini.nservices; i++)
		printf("restored service.%s of %s\n", ini.services[i].name, app.buf);
	sl_buf_release(&p);
}

static void clear(const char *location, int lockfd)
{
	int code;

	for (size_t i = 0; i < ini.nservices; i++) {
		const char *s = ini.services[i].name;

		code = service(s, "clear", NULL);
		if (code)
			sl_die(code, "service.%s: the clear failed", s);
		printf("cleared service.%s of %s\n", s, app.buf);
		fflush(stdout);
	}
	close(lockfd);	/* sl-activate takes the lock itself */
	/* an app sets its data up in update_fetch: it runs again on the same instance */
	code = run((char *[]){ "sl-activate", inst.buf, (char *)location, NULL },
		   SL_RUN_NULL, SL_RUN_INHERIT);
	if (code)
		sl_die(code, "the data is cleared but update_fetch failed");
}

int main(int argc, char **argv)
{
	const char *path = getenv("PATH"), *verb = argc > 1 ? argv[1] : "";
	struct sl_buf p = SL_BUF_INIT;
	int fd;

	sl_msg_init(argv[0]);
	umask(077);
	sl_buf_addf(&p, "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin%s%s",
		    path ? ":" : "", path ? path : "");
	setenv("PATH", p.buf, 1);
	setenv("LC_ALL", "C", 1);
	if (argc == 2 && (!strcmp(verb, "-h") || !strcmp(verb, "--help"))) {
		printf("usage: %s\n", USAGE);
		sl_exit_flush();
	}
	if (argc == 2 && !strcmp(verb, "--version")) {
		printf("sl-backup %s\n", SL_VERSION);
		sl_exit_flush();
	}
	if (argc != 3)
		sl_die_usage(USAGE);
	if (geteuid() != 0)
		sl_die(SL_EXIT_USAGE, "sl-backup runs as root on the node");
	if (strcmp(verb, "--backup") && strcmp(verb, "--restore") && strcmp(verb, "--clear"))
		sl_die_usage(USAGE);
	signals(on_signal);
	atexit(cleanup);
	resolve(argv[2]);
	fd = lock();
	if (!strcmp(verb, "--backup"))
		backup();
	else if (!strcmp(verb, "--restore"))
		restore();
	else
		clear(argv[2], fd);
	sl_exit_flush();
}
