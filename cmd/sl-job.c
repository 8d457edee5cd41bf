/* silverlining — sl-job: an app's scheduled jobs on the node: run, list, schedule. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../libsl/app.h"
#include "../libsl/exit.h"
#include "../libsl/gate.h"
#include "../libsl/jobs.h"
#include "../libsl/mem.h"
#include "../libsl/msg.h"
#include "../libsl/node.h"
#include "../libsl/prepare.h"
#include "../libsl/route.h"
#include "../libsl/run.h"
#include "../libsl/say.h"
#include "../libsl/strv.h"
#include "../libsl/version.h"

#define USAGE "sl-job --sync | --list [LOCATION|APP] | --run LOCATION|APP JOB | --exec APP:JOB"
#define NODE_LOCK_WAIT 600	/* 10 minutes */


/* APP:JOB into its parts, or death (100). */
static void split_unit(const char *arg, struct sl_buf *app, struct sl_buf *job)
{
	const char *colon = strchr(arg, ':');

	sl_buf_reset(app);
	sl_buf_reset(job);
	if (colon) {
		sl_buf_add(app, arg, (size_t)(colon - arg));
		sl_buf_adds(job, colon + 1);
	}
	if (!colon || !sl_app_name_valid(app->buf) || !sl_job_name_valid(job->buf))
		sl_die(SL_EXIT_USAGE, "invalid job '%s': want APP:JOB", arg);
}

/* Now, UTC, as 2026-01-31T12:00:00Z, into OUT (reset first); T 0: now. */
static void iso(struct sl_buf *out, time_t t)
{
	char s[32];
	struct tm tm;

	if (!t)
		t = time(NULL);
	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	sl_buf_reset(out);
	sl_buf_adds(out, s);
}

/*
 * LOGS/apps/APP/jobs.log opened to append, as root's own file: made so
 * (sl_prepare_root_log: a link or a file the app planted there is
 * replaced, never followed), then opened without following a link and
 * checked again. The fd, or death.
 */
static int open_log(const char *app, gid_t gid, int flags)
{
	struct sl_buf dir = SL_BUF_INIT, f = SL_BUF_INIT;
	struct stat st;
	int fd;

	sl_buf_addf(&dir, "%s/apps/%s", sl_node_logs(), app);
	sl_buf_addf(&f, "%s/jobs.log", dir.buf);
	if (flags != O_RDONLY && sl_prepare_root_log(&sl_say_stderr, dir.buf, "jobs.log", gid) < 0)
		sl_die(SL_EXIT_TEMP, "unable to make %s", f.buf);
	fd = open(f.buf, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		sl_die_errno("unable to open %s", f.buf);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 || st.st_nlink != 1)
		sl_die(SL_EXIT_TEMP, "%s is not root's own file", f.buf);
	sl_buf_release(&dir);
	sl_buf_release(&f);
	return fd;
}

/* The routes' instance serving APP, into INST and WHERE; 0 when none. */
static int serving(const char *app, struct sl_buf *inst, struct sl_buf *where)
{
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_buf file = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	int ret;

	sl_node_path(&file, "routes");
	if (sl_routes_load(file.buf, &r, &err) < 0)
		sl_die_err(&err);
	ret = sl_jobs_serving(&r, app, inst, where);
	sl_routes_release(&r);
	sl_buf_release(&file);
	return ret;
}

/*
 * --exec APP:JOB, silverlining-job@APP:JOB.service's own: the job, as the
 * serving instance's app.ini declares it now, run there; everything it
 * and this run say appended to the app's jobs.log. Exit 0 when it
 * succeeded, 124 when it was stopped at its time limit, else what failed.
 */
static int exec_job(const char *arg)
{
	struct sl_buf app = SL_BUF_INIT, name = SL_BUF_INIT, inst = SL_BUF_INIT;
	struct sl_buf where = SL_BUF_INIT, dir = SL_BUF_INIT, user = SL_BUF_INIT;
	struct sl_buf body = SL_BUF_INIT, now = SL_BUF_INIT, scope = SL_BUF_INIT;
	struct sl_app a = SL_APP_INIT;
	struct sl_err err = SL_ERR_INIT;
	const struct sl_app_job *j = NULL;
	char status[4] = "";
	gid_t gid;
	time_t t0 = time(NULL);
	int fd, rc, off;

	split_unit(arg, &app, &name);
	if (!serving(app.buf, &inst, &where))
		sl_die(SL_EXIT_NO, "no instance of %s is serving: its job %s does not run",
		       app.buf, name.buf);
	sl_node_instance_path(&dir, "instances", inst.buf);
	if (sl_app_load(&a, dir.buf, &err) < 0)
		sl_die_err(&err);
	for (size_t i = 0; i < a.njobs; i++)
		if (!strcmp(a.jobs[i].name, name.buf))
			j = &a.jobs[i];
	if (!j)
		sl_die(SL_EXIT_USAGE, "%s has no job %s", inst.buf, name.buf);
	if (sl_prepare_user(&sl_say_stderr, app.buf, &user, NULL, &gid) != 1)
		sl_die(SL_EXIT_USAGE, "%s has no user", app.buf);
	fd = open_log(app.buf, gid, O_WRONLY | O_APPEND);
	fflush(stdout);
	fflush(stderr);
	if (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
		sl_die_errno("unable to write to the log");
	close(fd);
	iso(&now, 0);
	printf("%s job %s started in %s: %s\n", now.buf, name.buf, inst.buf, j->run);
	fflush(stdout);
	off = sl_node_disabled(app.buf, &err);
	if (off) {
		printf("%s job %s skipped: %s\n", now.buf, name.buf,
		       off > 0 ? "the app is disabled" : err.msg.buf);
		rc = off > 0 ? 0 : SL_EXIT_TEMP;
	} else if (!strncmp(j->run, "script:", 7)) {
		struct sl_gate g = SL_GATE_INIT;

		g.say = sl_say_stderr;
		g.fetch_limit = j->timeout;
		g.script_out = STDOUT_FILENO;
		sl_buf_addf(&scope, "silverlining-job-%s-%s", app.buf, name.buf);
		rc = sl_gate_script_in(&g, scope.buf, inst.buf, user.buf, j->run + 7);
	} else {
		char *host = sl_xstrdup(where.buf), *path = strchr(host, ' ');

		*path++ = 0;
		sl_gate_request(inst.buf, j->timeout, host, path, j->run, &body, status);
		fwrite(body.buf, 1, body.len, stdout);
		if (body.len && body.buf[body.len - 1] != '\n')
			putchar('\n');
		printf("HTTP status %s\n", status);
		rc = status[0] == '2' ? 0 : !strcmp(status, "000") &&
		     time(NULL) - t0 >= j->timeout ? 124 : 1;
		free(host);
	}
	iso(&now, 0);
	if (rc == 124)
		printf("%s job %s stopped at its time limit of %ld s\n", now.buf, name.buf,
		       j->timeout);
	else if (rc)
		printf("%s job %s failed (exit status %d) after %ld s\n", now.buf, name.buf, rc,
		       (long)(time(NULL) - t0));
	else
		printf("%s job %s ok after %ld s\n", now.buf, name.buf, (long)(time(NULL) - t0));
	fflush(stdout);
	sl_app_release(&a);
	return rc;
}

/* The value of NAME in the "NAME=VALUE" lines of TEXT, into OUT (reset first). */
static void prop(const char *text, const char *name, struct sl_buf *out)
{
	size_t n = strlen(name);

	sl_buf_reset(out);
	for (const char *p = text; *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] != 0))
		if (!strncmp(p, name, n) && p[n] == '=') {
			sl_buf_add(out, p + n + 1, strcspn(p + n + 1, "\n"));
			return;
		}
}

/*
 * A systemd timestamp as systemctl shows it, into ISO or "-" for none:
 * "@SECONDS" (--timestamp=unix), microseconds, or "Wed 2026-12-02
 * 10:00:00 UTC" (the node's zone when it names another).
 */
static void stamp(struct sl_buf *v)
{
	const char *p = v->buf ? v->buf : "";
	long long t = 0;
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (*p == '@')
		t = atoll(p + 1);
	else if (*p >= '0' && *p <= '9' && !strchr(p, '-'))
		t = atoll(p) / 1000000;
	else if ((p = strptime(p, "%a %Y-%m-%d %H:%M:%S", &tm))) {
		tm.tm_isdst = -1;
		t = !strcmp(p, " UTC") ? (long long)timegm(&tm) : (long long)mktime(&tm);
	}
	if (t > 0) {
		iso(v, (time_t)t);
	} else {
		sl_buf_reset(v);
		sl_buf_addch(v, '-');
	}
}

/*
 * The line of APP's job JOB: "APP JOB SCHEDULE last=T next=T status=S",
 * S one of ok, failed, timeout, running, never; SCHEDULE as app.ini
 * wrote it (the timer's own record). Returns the status's exit code: 0
 * ok, 1 failed or timed out, 0 running or never run.
 */
static int job_line(const char *app, const char *job, const char *timer_text, int *running)
{
	struct sl_buf out = SL_BUF_INIT, t = SL_BUF_INIT, s = SL_BUF_INIT;
	struct sl_buf last = SL_BUF_INIT, next = SL_BUF_INIT, v = SL_BUF_INIT;
	struct sl_buf sched = SL_BUF_INIT;
	const char *st, *mark = "schedule = ";
	const char *p = strstr(timer_text, mark);
	int code = 0;

	if (p)
		sl_buf_add(&sched, p + strlen(mark), strcspn(p + strlen(mark), "\n"));
	sl_buf_addf(&t, "silverlining-job@%s:%s.timer", app, job);
	sl_buf_addf(&s, "silverlining-job@%s:%s.service", app, job);
	sl_say_capture(&out, (char *[]){ "systemctl", "show", "--timestamp=unix",
		"-p", "NextElapseUSecRealtime", t.buf, NULL });
	prop(out.buf ? out.buf : "", "NextElapseUSecRealtime", &next);
	stamp(&next);
	sl_buf_reset(&out);
	sl_say_capture(&out, (char *[]){ "systemctl", "show", "--timestamp=unix",
		"-p", "ActiveState", "-p", "Result", "-p", "ExecMainStatus",
		"-p", "ExecMainStartTimestamp", s.buf, NULL });
	prop(out.buf ? out.buf : "", "ExecMainStartTimestamp", &last);
	stamp(&last);
	prop(out.buf ? out.buf : "", "ActiveState", &v);
	*running = v.len && (!strcmp(v.buf, "activating") || !strcmp(v.buf, "active") ||
			     !strcmp(v.buf, "deactivating"));
	if (*running) {
		st = "running";
	} else if (!strcmp(last.buf, "-")) {
		st = "never";
	} else {
		prop(out.buf, "ExecMainStatus", &v);
		if (!strcmp(v.buf ? v.buf : "", "124")) {
			st = "timeout";
			code = 1;
		} else {
			prop(out.buf, "Result", &v);
			st = !strcmp(v.buf ? v.buf : "", "success") ? "ok" : "failed";
			code = *st == 'f';
		}
	}
	printf("%s %s %s last=%s next=%s status=%s\n", app, job, sched.buf ? sched.buf : "-",
	       last.buf, next.buf, st);
	sl_buf_release(&out);
	sl_buf_release(&t);
	sl_buf_release(&s);
	sl_buf_release(&last);
	sl_buf_release(&next);
	sl_buf_release(&v);
	sl_buf_release(&sched);
	return code;
}

/*
 * The app ARG names: a location routed on the node (its instance's app),
 * else an app's name; into APP. 1, or 0 for neither.
 */
static int app_named(const char *arg, struct sl_buf *app)
{
	struct sl_buf inst = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	int rc = sl_routes_instance_at(arg, &inst, &err);

	sl_buf_reset(app);
	if (rc == 1)
		sl_node_app_of(inst.buf, app);
	else if (sl_app_name_valid(arg))
		sl_buf_adds(app, arg);
	sl_buf_release(&inst);
	sl_err_release(&err);
	return app->len > 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The timers' files, sorted: APP:JOB onto OUT, for APP (NULL: all). */
static void timers(const char *app, struct sl_strv *out)
{
	const char *pre = "silverlining-job@";
	size_t np = strlen(pre);
	struct dirent *e;
	DIR *d = opendir(SL_JOBS_UNIT_DIR);

	if (!d)
		sl_die_errno("unable to read %s", SL_JOBS_UNIT_DIR);
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name), a;

		if (n <= np + 6 || strncmp(e->d_name, pre, np) || strcmp(e->d_name + n - 6, ".timer"))
			continue;
		a = strcspn(e->d_name + np, ":");
		if (!app || (strlen(app) == a && !strncmp(e->d_name + np, app, a)))
			sl_strv_pushn(out, e->d_name + np, n - np - 6);
	}
	closedir(d);
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), by_name);
}

/* The text of the timer of APP:JOB into OUT; -1 when there is none. */
static int timer_text(const char *unit, struct sl_buf *out)
{
	struct sl_buf f = SL_BUF_INIT;
	int rc;

	sl_buf_addf(&f, "%s/silverlining-job@%s.timer", SL_JOBS_UNIT_DIR, unit);
	sl_buf_reset(out);
	rc = sl_buf_read_file(out, f.buf);
	sl_buf_release(&f);
	return rc;
}

/*
 * --list [LOCATION|APP]: one line per job; 1 when there is none. A host
 * that is neither routed nor an app names the node (silver jobs NODE):
 * all its jobs.
 */
static int list(const char *arg)
{
	struct sl_strv units = SL_STRV_INIT;
	struct sl_buf app = SL_BUF_INIT, text = SL_BUF_INIT, a = SL_BUF_INIT, j = SL_BUF_INIT;
	int running;

	if (arg && !app_named(arg, &app) && strchr(arg, '/'))
		sl_die(SL_EXIT_USAGE, "'%s' is neither a location routed on this node nor an app",
		       arg);
	timers(app.len ? app.buf : NULL, &units);
	for (size_t i = 0; i < units.n; i++) {
		if (timer_text(units.v[i], &text) < 0)
			continue;
		split_unit(units.v[i], &a, &j);
		job_line(a.buf, j.buf, text.buf, &running);
	}
	if (!units.n)
		sl_die(SL_EXIT_NO, "no jobs%s%s", app.len ? " for " : " on this node",
		       app.len ? arg : "");
	sl_strv_clear(&units);
	return 0;
}

/*
 * --run LOCATION|APP JOB: the job started now, through its unit (so that
 * a run the timer starts meanwhile is the same run), waited for; what it
 * wrote to the log, then its line. 0 ok, 1 failed, 111 already running.
 */
static int run_now(const char *arg, const char *job)
{
	struct sl_buf app = SL_BUF_INIT, unit = SL_BUF_INIT, text = SL_BUF_INIT;
	struct sl_buf svc = SL_BUF_INIT, log = SL_BUF_INIT, a = SL_BUF_INIT, j = SL_BUF_INIT;
	struct stat st;
	off_t at = 0;
	int fd, running, rc;

	if (!app_named(arg, &app))
		sl_die(SL_EXIT_USAGE, "'%s' is neither a location routed on this node nor an app",
		       arg);
	if (!sl_job_name_valid(job))
		sl_die(SL_EXIT_USAGE, "invalid job name '%s'", job);
	sl_buf_addf(&unit, "%s:%s", app.buf, job);
	if (timer_text(unit.buf, &text) < 0)
		sl_die(SL_EXIT_USAGE, "%s has no job %s on this node", app.buf, job);
	sl_buf_addf(&svc, "silverlining-job@%s.service", unit.buf);
	sl_say_capture(&a, (char *[]){ "systemctl", "show", "-P", "ActiveState", svc.buf, NULL });
	sl_buf_rtrim(&a);
	if (a.len && (!strcmp(a.buf, "activating") || !strcmp(a.buf, "active") ||
		      !strcmp(a.buf, "deactivating")))
		sl_die(SL_EXIT_TEMP, "the job %s of %s is running already: try again when it ends",
		       job, app.buf);
	sl_buf_addf(&log, "%s/apps/%s/jobs.log", sl_node_logs(), app.buf);
	if (lstat(log.buf, &st) == 0 && S_ISREG(st.st_mode))
		at = st.st_size;
	SL_SAY_RUN(&sl_say_stderr, SL_RUN_NULL, SL_RUN_NULL, "systemctl", "start", svc.buf);
	fd = open_log(app.buf, 0, O_RDONLY);
	if (lseek(fd, at, SEEK_SET) == at) {
		char b[8192];
		ssize_t n;

		while ((n = read(fd, b, sizeof(b))) > 0)
			fwrite(b, 1, (size_t)n, stderr);
	}
	close(fd);
	split_unit(unit.buf, &a, &j);
	rc = job_line(a.buf, j.buf, text.buf, &running);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "sync", no_argument, NULL, 's' },
		{ "list", no_argument, NULL, 'l' },
		{ "run", no_argument, NULL, 'r' },
		{ "exec", no_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_err err = SL_ERR_INIT;
	int mode = 0, c, n;

	sl_msg_init(argv[0]);
	sl_node_env();
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': case 'l': case 'r': case 'e':
			if (mode)
				sl_die_usage(USAGE);
			mode = c;
			break;
		case 'h': printf("usage: %s\n", USAGE); sl_exit_flush();
		case 'V': printf("sl-job %s\n", SL_VERSION); sl_exit_flush();
		default: sl_die_option(USAGE, argv, c);
		}
	}
	n = argc - optind;
	argv += optind;
	if (geteuid() != 0 && mode != 0)
		sl_die(SL_EXIT_USAGE, "run me as root on the node");
	switch (mode) {
	case 's':
		if (n)
			sl_die_usage(USAGE);
		if (sl_node_lock(NULL, NODE_LOCK_WAIT, &err) < 0 || sl_jobs_sync(&sl_say_stderr, &err) < 0)
			sl_die_err(&err);
		break;
	case 'l':
		if (n > 1)
			sl_die_usage(USAGE);
		list(n ? argv[0] : NULL);
		break;
	case 'r':
		if (n != 2)
			sl_die_usage(USAGE);
		fflush(stdout);
		exit(run_now(argv[0], argv[1]));
	case 'e':
		if (n != 1)
			sl_die_usage(USAGE);
		exit(exec_job(argv[0]));
	default:
		sl_die_usage(USAGE);
	}
	sl_exit_flush();
}
