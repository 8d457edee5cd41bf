/* silverlining — sl-backup: the services' data of the app at a location, out, in, and wiped. */
#include <ctype.h>
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
#include "../libsl/backup-push.h"
#include "../libsl/backups.h"
#include "../libsl/file.h"
#include "../libsl/jobs.h"
#include "../libsl/msg.h"
#include "../libsl/node.h"
#include "../libsl/route.h"
#include "../libsl/run.h"
#include "../libsl/say.h"
#include "../libsl/version.h"

#define USAGE "sl-backup --backup LOCATION | --restore LOCATION [STAMP] | --clear LOCATION | " \
	"--scheduled APP | --verify APP STAMP | --list [APP | --at LOCATION] | " \
	"--schedule LOCATION SCHEDULE|off|- KEEP_DAILY|- KEEP_WEEKLY|-"

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
static char *tmps[4];
static size_t ntmps;
static const char *keep;
/* a backup being written into the store, removed unless it was made whole */
static char *part_file;
static volatile sig_atomic_t stop;

static void cleanup(void)
{
	for (size_t i = 0; i < ntmps; i++)
		if (tmps[i] != keep)
			sl_file_remove_tree(AT_FDCWD, tmps[i], NULL);
	if (part_file)
		unlink(part_file);
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

/* What the timers' sync did, told as news. */
static void news(void *ctx, const char *text, size_t len, int line)
{
	(void)ctx;
	(void)line;
	fprintf(stderr, "%s: %.*s\n", sl_msg_prog(), (int)len, text);
}

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

/* The app.ini of the instance INST, into INI. */
static void load_ini(void)
{
	struct sl_buf dir = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	int rc;

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

/* LOCATION -> the instance serving it, its app, the app's services. */
static void resolve(const char *location)
{
	struct sl_err err = SL_ERR_INIT;
	int found = sl_routes_instance_at(location, &inst, &err);

	if (found < 0)
		sl_die_err(&err);
	if (!found)
		sl_die(SL_EXIT_USAGE, "nothing is deployed at %s", location);
	sl_node_app_of(inst.buf, &app);
	load_ini();
}

/* APP -> the instance serving it (the one its jobs run in), its app.ini. */
static void resolve_app(const char *name)
{
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_buf path = SL_BUF_INIT, where = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;

	if (!sl_app_name_valid(name))
		sl_die(SL_EXIT_USAGE, "invalid app name '%s'", name);
	sl_node_path(&path, "routes");
	if (sl_routes_load(path.buf, &r, &err) < 0)
		sl_die_err(&err);
	if (sl_jobs_serving(&r, name, &inst, &where) != 1)
		sl_die(SL_EXIT_NO, "no instance of %s is routed on this node", name);
	sl_buf_adds(&app, name);
	load_ini();
	sl_routes_release(&r);
	sl_buf_release(&path);
	sl_buf_release(&where);
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

/* A whole backup of the app, as a .tar.gz into OUT (an fd, or SL_RUN_INHERIT). */
static void backup(int out)
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
		out, SL_RUN_INHERIT))
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

/*
 * The backup TGZ (root's own file) into WORK/in, whole and sane: 0, or
 * 100 (it is not a backup, or not whole; WHY says why) or 111.
 */
static int unpack(const char *work, const char *tgz, struct sl_buf *why)
{
	struct sl_buf in = SL_BUF_INIT, list = SL_BUF_INIT, p = SL_BUF_INIT;
	struct sl_child c = SL_CHILD_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct stat st;
	char *bad, *from = NULL;
	int code, ret = SL_EXIT_USAGE;

	c.argv = (char *[]){ "tar", "-tvzf", (char *)tgz, NULL };
	c.in = SL_RUN_NULL;
	c.err = SL_RUN_NULL;
	code = sl_run_capture(&c, &list, &err);
	checkpoint();
	if (run((char *[]){ "gzip", "-t", (char *)tgz, NULL }, SL_RUN_NULL, SL_RUN_NULL) || code) {
		sl_buf_adds(why, "the backup is not a whole .tar.gz (cut short or corrupt)");
		goto out;
	}
	/* regular files and directories only: root follows no link the archive holds */
	bad = not_plain(list.buf);
	if (bad) {
		sl_buf_addf(why, "the backup holds a link or a special file (%s): refused", bad);
		goto out;
	}
	ret = SL_EXIT_TEMP;
	if (mkdir(in_dir(&in, work, "in"), 0700) < 0) {
		sl_buf_addf(why, "unable to make %s", in.buf);
		goto out;
	}
	if (run((char *[]){ "tar", "-C", in.buf, "-xzf", (char *)tgz, "--no-same-owner",
			    "--no-same-permissions", NULL },
		STDERR_FILENO, SL_RUN_INHERIT)) {
		sl_buf_adds(why, "unable to unpack the backup");
		goto out;
	}
	ret = SL_EXIT_USAGE;
	if (nftw(in.buf, special, 16, FTW_PHYS)) {
		sl_buf_adds(why, "the backup holds a link or a special file: refused");
		goto out;
	}
	if (lstat(in_dir(&p, in.buf, "backup.ini"), &st) < 0 || !S_ISREG(st.st_mode)) {
		sl_buf_adds(why, "the backup has no backup.ini: not one sl-backup made");
		goto out;
	}
	from = backup_app(p.buf);
	if (!from) {
		sl_buf_adds(why, "the backup's backup.ini names no app or services");
		goto out;
	}
	if (strcmp(from, app.buf))
		sl_warn("a backup of %s goes into %s", from, app.buf);
	for (size_t i = 0; i < ini.nservices; i++) {
		const char *s = ini.services[i].name;

		if (stat(in_dir(&p, in.buf, s), &st) < 0 || !S_ISDIR(st.st_mode)) {
			sl_buf_addf(why, "the backup holds nothing for service.%s", s);
			goto out;
		}
		/* the service owns what its part must be, and reads it with the app's rights */
		if (service(s, "check", p.buf)) {
			sl_buf_addf(why, "service.%s: its part of the backup does not read whole", s);
			goto out;
		}
	}
	ret = 0;
out:
	free(from);
	sl_buf_release(&in);
	sl_buf_release(&list);
	sl_buf_release(&p);
	return ret;
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

/* The backup TGZ (NULL: stdin) into the app, all or nothing. */
static void restore(const char *tgz)
{
	const char *work = tmpdir(), *safe;
	struct sl_buf p = SL_BUF_INIT, why = SL_BUF_INIT;
	int code;

	if (!tgz && keep_stdin(in_dir(&p, work, "backup.tar.gz")) < 0)
		sl_die(SL_EXIT_TEMP, "unable to keep the backup in %s: nothing was changed", work);
	code = unpack(work, tgz ? tgz : p.buf, &why);
	if (code)
		sl_die(code, "%s: nothing was changed", why.buf);
	if (!tgz)
		unlink(p.buf);
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

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * The stored backup STAMP verified: its bytes against RECORDED (a sha256,
 * or NULL for a new one), then read whole as a restore reads it, then
 * each service's part restored into a scratch place and checked (the
 * protocol's verify). Its record written (by rename) with TOP's lines
 * (app, instance, time) first. Returns the status.
 */
static enum sl_backups_status verify(const char *stamp, const char *recorded, const char *top)
{
	struct sl_buf p = SL_BUF_INIT, sum = SL_BUF_INIT, why = SL_BUF_INIT;
	struct sl_buf text = SL_BUF_INIT, sections = SL_BUF_INIT, rep = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	enum sl_backups_status st = SL_BACKUPS_BAD;
	unsigned long long bytes = 0;
	const char *work = NULL;
	double t0 = now_seconds();
	char when[32];
	time_t now;
	int code;

	sl_backups_path(&p, app.buf, stamp, "tar.gz");
	if (sl_backups_sha256_file(p.buf, &sum, &bytes, &err) < 0) {
		st = err.code == SL_EXIT_USAGE ? SL_BACKUPS_BAD : SL_BACKUPS_UNVERIFIED;
		sl_buf_adds(&why, err.msg.buf);
		goto record;
	}
	if (recorded && strcmp(recorded, sum.buf)) {
		sl_buf_addf(&why, "the archive's sha256 is not the one recorded (%s)", recorded);
		goto record;
	}
	work = tmpdir();
	code = unpack(work, p.buf, &why);
	if (code) {
		st = code == SL_EXIT_USAGE ? SL_BACKUPS_BAD : SL_BACKUPS_UNVERIFIED;
		goto record;
	}
	for (size_t i = 0; i < ini.nservices; i++) {
		const char *s = ini.services[i].name;
		struct sl_child c = SL_CHILD_INIT;
		struct sl_buf prog = SL_BUF_INIT, part = SL_BUF_INIT;

		sl_buf_addf(&prog, "sl-service-%s", s);
		sl_buf_addf(&part, "%s/in/%s", work, s);
		c.argv = (char *[]){ prog.buf, "verify", app.buf, part.buf, NULL };
		c.in = SL_RUN_NULL;
		sl_buf_reset(&rep);
		code = sl_run_capture(&c, &rep, &err);
		checkpoint();
		sl_buf_release(&prog);
		sl_buf_release(&part);
		if (code == 0 && !sl_backups_report_valid(rep.buf))
			code = SL_EXIT_TEMP;
		if (code) {
			st = code == SL_EXIT_USAGE ? SL_BACKUPS_BAD : SL_BACKUPS_UNVERIFIED;
			sl_buf_addf(&why, "service.%s: its part %s (sl-service-%s verify exited %d)",
				    s, code == SL_EXIT_USAGE ? "does not restore" :
				    "could not be verified", s, code < 0 ? 111 : code);
			goto record;
		}
		sl_buf_addf(&sections, "[%s]\n%s", s, rep.buf);
		if (rep.len && rep.buf[rep.len - 1] != '\n')
			sl_buf_addch(&sections, '\n');
	}
	st = SL_BACKUPS_VERIFIED;
record:
	now = time(NULL);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	sl_buf_addf(&text, "%sbytes=%llu\nsha256=%s\nstatus=%s\nverified=%s\nseconds=%.2f\n",
		    top, bytes, sum.len ? sum.buf : "-", sl_backups_status_name(st), when,
		    now_seconds() - t0);
	if (why.len) {
		/* one line, and nothing that would steer a terminal */
		for (char *c = why.buf; *c; c++)
			if ((unsigned char)*c < ' ' || *c == 0x7f)
				*c = '?';
		sl_buf_addf(&text, "reason=%s\n", why.buf);
	}
	sl_buf_add(&text, sections.buf, sections.len);
	sl_backups_path(&p, app.buf, stamp, "ini");
	if (sl_file_write(p.buf, text.buf, text.len, 0600, SL_FILE_REPLACE,
			  &err) < 0)
		sl_die_err(&err);
	/* the work directory goes now, not at exit */
	if (work) {
		sl_file_remove_tree(AT_FDCWD, work, NULL);
		free(tmps[--ntmps]);
	}
	printf("%s %s %s seconds=%.2f%s%s\n", app.buf, stamp, sl_backups_status_name(st),
	       now_seconds() - t0, why.len ? " reason=" : "", why.buf);
	sl_buf_release(&p);
	sl_buf_release(&sum);
	sl_buf_release(&why);
	sl_buf_release(&text);
	sl_buf_release(&sections);
	sl_buf_release(&rep);
	return st;
}
/* APP's records into V (N), the one of STAMP at AT; dies when there is none. */
static void record_of(const char *stamp, struct sl_backups_entry **v, size_t *n, size_t *at)
{
	struct sl_err err = SL_ERR_INIT;

	if (!sl_backups_stamp_valid(stamp))
		sl_die(SL_EXIT_USAGE, "invalid stamp '%s': want YYYYmmddTHHMMSSZ", stamp);
	if (sl_backups_list(app.buf, v, n, &err) < 0)
		sl_die_err(&err);
	for (*at = 0; *at < *n && strcmp((*v)[*at].stamp, stamp); (*at)++)
		;
	if (*at == *n)
		sl_die(SL_EXIT_NO, "%s has no stored backup %s", app.buf, stamp);
}

/* The node's override of backup.KEY for the app, else app.ini's DFLT. */
static long keep_count(const char *key, long dflt)
{
	return sl_backups_keep(app.buf, key, dflt);
}

/* The stored backups the retention does not keep, removed, each told. */
static void prune(void)
{
	struct sl_strv gone = SL_STRV_INIT;
	struct sl_err err = SL_ERR_INIT;
	int rc = sl_backups_prune(app.buf, keep_count("keep_daily", ini.backup_keep_daily),
				  keep_count("keep_weekly", ini.backup_keep_weekly), &gone, &err);

	for (size_t i = 0; i < gone.n; i++)
		fprintf(stderr, "%s: pruned %s %s\n", sl_msg_prog(), app.buf, gone.v[i]);
	if (rc < 0)
		sl_die_err(&err);
	sl_strv_clear(&gone);
}

/* A backup of the app into the store, verified, then the retention: exit 0, 100, 111. */
static int scheduled(void)
{
	char stamp[SL_BACKUPS_STAMP_LEN + 1], when[32];
	struct sl_buf tgz = SL_BUF_INIT, top = SL_BUF_INIT, p = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	enum sl_backups_status st;
	time_t now;
	int fd, pushed = 1;

	if (sl_backups_make_dir(app.buf, &err) < 0)
		sl_die_err(&err);
	for (;;) {	/* stamps are unique: at most one a second */
		now = time(NULL);
		sl_backups_stamp(now, stamp);
		if (access(sl_backups_path(&tgz, app.buf, stamp, "tar.gz"), F_OK) < 0 &&
		    access(sl_backups_path(&p, app.buf, stamp, "ini"), F_OK) < 0)
			break;
		sleep(1);
	}
	part_file = strdup(sl_backups_path(&p, app.buf, stamp, "tar.gz.part"));
	fd = open(part_file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		sl_die_errno("unable to make %s", part_file);
	backup(fd);
	if (fsync(fd) < 0 || close(fd) < 0 || rename(part_file, tgz.buf) < 0)
		sl_die_errno("unable to write %s", tgz.buf);
	free(part_file);
	part_file = NULL;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	sl_buf_addf(&top, "app=%s\ninstance=%s\ntime=%s\n", app.buf, inst.buf, when);
	st = verify(stamp, NULL, top.buf);
	prune();
	/*
	 * A verified backup goes to the node's push target, when it has one
	 * (sl-backup-push(1)); a push that fails leaves the backup stored
	 * here and fails the run, so that the timer's unit shows it.
	 */
	if (st == SL_BACKUPS_VERIFIED && sl_backup_push(app.buf, stamp, &err) < 0) {
		sl_warn("%s %s: stored and verified here, but not pushed: %s",
			app.buf, stamp, err.msg.buf);
		pushed = 0;
	}
	sl_buf_release(&tgz);
	sl_buf_release(&top);
	sl_buf_release(&p);
	if (st == SL_BACKUPS_VERIFIED)
		return pushed ? 0 : SL_EXIT_TEMP;
	return st == SL_BACKUPS_BAD ? SL_EXIT_USAGE : SL_EXIT_TEMP;
}

/* The stored backup STAMP verified again, its record rewritten: exit 0, 100, 111. */
static int verify_again(const char *stamp)
{
	struct sl_backups_entry *v;
	struct sl_buf top = SL_BUF_INIT;
	size_t n, at;
	enum sl_backups_status st;
	static const char *const keys[] = { "app", "instance", "time" };

	record_of(stamp, &v, &n, &at);
	for (size_t k = 0; k < 3; k++) {
		const char *val = sl_backups_get(&v[at], keys[k]);

		sl_buf_addf(&top, "%s=%s\n", keys[k], val ? val : "-");
	}
	st = verify(stamp, sl_backups_get(&v[at], "sha256") ? sl_backups_get(&v[at], "sha256") :
		    "-", top.buf);
	sl_backups_free(v, n);
	sl_buf_release(&top);
	return st == SL_BACKUPS_VERIFIED ? 0 : st == SL_BACKUPS_BAD ? SL_EXIT_USAGE : SL_EXIT_TEMP;
}

/* The stored backup STAMP, as its record says it was, into the app. */
static void restore_stored(const char *stamp)
{
	struct sl_backups_entry *v;
	struct sl_buf p = SL_BUF_INIT, sum = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	unsigned long long bytes;
	const char *rec;
	size_t n, at;

	record_of(stamp, &v, &n, &at);
	if (v[at].status == SL_BACKUPS_BAD)
		sl_die(SL_EXIT_USAGE, "the backup %s of %s is marked bad (%s): refused, "
		       "nothing was changed", stamp, app.buf,
		       sl_backups_get(&v[at], "reason") ? sl_backups_get(&v[at], "reason") : "-");
	rec = sl_backups_get(&v[at], "sha256");
	sl_backups_path(&p, app.buf, stamp, "tar.gz");
	if (sl_backups_sha256_file(p.buf, &sum, &bytes, &err) < 0)
		sl_die_err(&err);
	if (!rec || strcmp(rec, sum.buf))
		sl_die(SL_EXIT_USAGE, "the backup %s of %s is not the one recorded (its sha256 "
		       "changed): refused, nothing was changed", stamp, app.buf);
	restore(p.buf);
	sl_backups_free(v, n);
	sl_buf_release(&p);
	sl_buf_release(&sum);
}

/* One line per stored backup of APP (NULL: of every app), oldest first. */
static void list(const char *only)
{
	struct sl_strv apps = SL_STRV_INIT;
	struct sl_buf line = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;

	if (only && !sl_app_name_valid(only))
		sl_die(SL_EXIT_USAGE, "invalid app name '%s'", only);
	if (only)
		sl_strv_push(&apps, only);
	else if (sl_backups_apps(&apps, &err) < 0)
		sl_die_err(&err);
	for (size_t i = 0; i < apps.n; i++) {
		struct sl_backups_entry *v;
		size_t n;

		if (sl_backups_list(apps.v[i], &v, &n, &err) < 0)
			sl_die_err(&err);
		for (size_t k = 0; k < n; k++) {
			sl_backups_line(&line, apps.v[i], &v[k]);
			printf("%s\n", line.buf);
		}
		sl_backups_free(v, n);
	}
	sl_strv_clear(&apps);
	sl_buf_release(&line);
}

/* Whether V is a whole number from MIN to MAX, or "-". */
static int count_arg(const char *v, long min, long max)
{
	char *end;
	long n;

	if (!strcmp(v, "-"))
		return 1;
	errno = 0;
	n = strtol(v, &end, 10);
	return *v && !*end && !errno && n >= min && n <= max && (isdigit((unsigned char)*v));
}

/*
 * The node's override of the app's backup.* keys ("-": app.ini's), then
 * the timers made to match (under the node's lock, as sl-activate does).
 */
static void set_schedule(char **argv)
{
	struct sl_buf text = SL_BUF_INIT, cal = SL_BUF_INIT, why = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	static const struct sl_say tell = { news, NULL };
	int fd;

	if (strcmp(argv[0], "-") && strcmp(argv[0], "off")) {
		for (const char *c = argv[0]; *c; c++)
			if ((unsigned char)*c < ' ' || *c == 0x7f)
				sl_die(SL_EXIT_USAGE, "invalid schedule: it holds a control character");
		if (sl_jobs_calendar(argv[0], &cal, &why) < 0)
			sl_die(SL_EXIT_USAGE, "invalid schedule '%s': want %s", argv[0], why.buf);
		if (run((char *[]){ "systemd-analyze", "calendar", "--iterations=1", cal.buf, NULL },
			SL_RUN_NULL, SL_RUN_INHERIT))
			sl_die(SL_EXIT_USAGE, "invalid schedule '%s': systemd-analyze calendar "
			       "refuses it", argv[0]);
	}
	if (!count_arg(argv[1], 1, 366))
		sl_die(SL_EXIT_USAGE, "invalid KEEP_DAILY '%s': want a whole number from 1 to 366, or -",
		       argv[1]);
	if (!count_arg(argv[2], 0, 520))
		sl_die(SL_EXIT_USAGE, "invalid KEEP_WEEKLY '%s': want a whole number from 0 to 520, or -",
		       argv[2]);
	if (strcmp(argv[0], "-"))
		sl_buf_addf(&text, "schedule=%s\n", argv[0]);
	if (strcmp(argv[1], "-"))
		sl_buf_addf(&text, "keep_daily=%s\n", argv[1]);
	if (strcmp(argv[2], "-"))
		sl_buf_addf(&text, "keep_weekly=%s\n", argv[2]);
	fd = sl_node_lock(NULL, 600, &err);
	if (fd < 0 || sl_backups_set_override(app.buf, text.buf, &err) < 0 ||
	    sl_jobs_sync(&tell, &err) < 0)
		sl_die_err(&err);
	close(fd);
	printf("%s schedule=%s keep_daily=%ld keep_weekly=%ld\n", app.buf,
	       !strcmp(argv[0], "-") ? (ini.backup_schedule ? ini.backup_schedule : "off") : argv[0],
	       keep_count("keep_daily", ini.backup_keep_daily),
	       keep_count("keep_weekly", ini.backup_keep_weekly));
	sl_buf_release(&text);
	sl_buf_release(&cal);
	sl_buf_release(&why);
}

int main(int argc, char **argv)
{
	const char *path = getenv("PATH"), *verb = argc > 1 ? argv[1] : "";
	struct sl_buf p = SL_BUF_INIT;
	int fd, code = 0;

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
	if (!(argc == 3 && (!strcmp(verb, "--backup") || !strcmp(verb, "--restore") ||
			    !strcmp(verb, "--clear") || !strcmp(verb, "--scheduled"))) &&
	    !(argc == 4 && (!strcmp(verb, "--restore") || !strcmp(verb, "--verify"))) &&
	    !(argc == 6 && !strcmp(verb, "--schedule")) &&
	    !((argc == 2 || argc == 3) && !strcmp(verb, "--list")) &&
	    !(argc == 4 && !strcmp(verb, "--list") && !strcmp(argv[2], "--at")))
		sl_die_usage(USAGE);
	if (geteuid() != 0)
		sl_die(SL_EXIT_USAGE, "sl-backup runs as root on the node");
	if (!strcmp(verb, "--list") && argc == 4) {
		resolve(argv[3]);
		list(app.buf);
		sl_exit_flush();
	}
	if (!strcmp(verb, "--list")) {
		list(argc == 3 ? argv[2] : NULL);
		sl_exit_flush();
	}
	signals(on_signal);
	atexit(cleanup);
	if (!strcmp(verb, "--scheduled") || !strcmp(verb, "--verify"))
		resolve_app(argv[2]);
	else
		resolve(argv[2]);
	if (!strcmp(verb, "--schedule")) {
		set_schedule(argv + 3);
		sl_exit_flush();
	}
	fd = lock();
	if (!strcmp(verb, "--backup"))
		backup(SL_RUN_INHERIT);
	else if (!strcmp(verb, "--restore") && argc == 4)
		restore_stored(argv[3]);
	else if (!strcmp(verb, "--restore"))
		restore(NULL);
	else if (!strcmp(verb, "--scheduled"))
		code = scheduled();
	else if (!strcmp(verb, "--verify"))
		code = verify_again(argv[3]);
	else
		clear(argv[2], fd);
	if (fflush(stdout) == EOF || ferror(stdout))
		sl_die(SL_EXIT_TEMP, "unable to write to stdout");
	return code;
}
