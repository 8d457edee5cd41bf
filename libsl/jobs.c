/* silverlining — scheduled jobs: app.ini's schedules, and the node's timers. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "exit.h"
#include "file.h"
#include "instance.h"
#include "jobs.h"
#include "mem.h"
#include "node.h"
#include "run.h"
#include "strv.h"

int sl_job_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n < 1 || n > 31 || !islower((unsigned char)name[0]))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
		    name[i] != '-' && name[i] != '_')
			return 0;
	return 1;
}

/* One cron field: its name, its range, the names its values may have. */
struct field {
	const char *what;
	int min, max;
	const char *const *names;	/* names[i] is the value min + i */
};

static const char *const months[] = { "jan", "feb", "mar", "apr", "may", "jun", "jul",
	"aug", "sep", "oct", "nov", "dec", NULL };
static const char *const days[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };
static const struct field fields[5] = {
	{ "minute", 0, 59, NULL },
	{ "hour", 0, 23, NULL },
	{ "day of month", 1, 31, NULL },
	{ "month", 1, 12, months },
	{ "day of week", 0, 7, days },	/* 7 is Sunday too */
};

/* A number or a name of F at *P (advanced): 0, or -1. */
static int value(const struct field *f, const char **p, int *out)
{
	const char *s = *p;

	if (isdigit((unsigned char)*s)) {
		long n = 0;

		while (isdigit((unsigned char)*s) && n < 1000)
			n = n * 10 + (*s++ - '0');
		if (isdigit((unsigned char)*s))
			return -1;
		*out = (int)n;
		*p = s;
		return 0;
	}
	for (int i = 0; f->names && f->names[i]; i++)
		if (!strncasecmp(s, f->names[i], 3) && !isalpha((unsigned char)s[3])) {
			*out = f->min + i;
			*p = s + 3;
			return 0;
		}
	return -1;
}

/* Cron field TEXT of F as a set of values (bit v): 0, or -1 with WHY. */
static int field_set(const struct field *f, const char *text, uint64_t *set, struct sl_buf *why)
{
	const char *p = text;

	*set = 0;
	for (;;) {
		int lo, hi, step = 1;

		if (*p == '*') {
			lo = f->min;
			hi = f->max == 7 ? 6 : f->max;
			p++;
		} else {
			if (value(f, &p, &lo) < 0)
				goto bad;
			hi = lo;
			if (*p == '-') {
				p++;
				if (value(f, &p, &hi) < 0)
					goto bad;
			} else if (*p == '/') {
				hi = f->max == 7 ? 6 : f->max;	/* N/S: from N on */
			}
		}
		if (*p == '/') {
			p++;
			if (!isdigit((unsigned char)*p) || value(f, &p, &step) < 0 || step < 1 ||
			    step > f->max)
				goto bad;
		}
		if (lo < f->min || hi > f->max || lo > hi) {
			sl_buf_addf(why, "a %s from %d to %d", f->what, f->min, f->max);
			return -1;
		}
		for (int v = lo; v <= hi; v += step)
			*set |= (uint64_t)1 << (f->max == 7 && v == 7 ? 0 : v);
		if (!*p)
			return 0;
		if (*p++ != ',')
			goto bad;
	}
bad:
	sl_buf_addf(why, "cron's %s: *, N, N-M, a step /S, lists with ','%s", f->what,
		    f->names ? ", or names" : "");
	return -1;
}

/* SET of F in systemd's words (Mon.., or numbers, 2 digits wide), onto OUT. */
static void emit(struct sl_buf *out, const struct field *f, uint64_t set)
{
	static const char *const dow[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	int top = f->max == 7 ? 6 : f->max, first = 1, n = 0, lo = -1, step = 0, prog = 1;

	for (int v = f->min; v <= top; v++)
		if (set >> v & 1) {
			if (n == 1)
				step = v - lo;
			else if (n > 1 && v - lo != step * n)
				prog = 0;
			if (lo < 0)
				lo = v;
			n++;
		}
	if (n == top - f->min + 1 && f->max != 7) {
		sl_buf_addch(out, '*');
		return;
	}
	/* a progression that runs to the end: systemd's START/STEP */
	if (f->max != 7 && n > 2 && prog && lo + step * n > top) {
		sl_buf_addf(out, "%02d/%d", lo, step);
		return;
	}
	for (int v = f->min; v <= top; v++) {
		int end = v;

		if (!(set >> v & 1))
			continue;
		while (end < top && set >> (end + 1) & 1)
			end++;
		if (!first)
			sl_buf_addch(out, ',');
		first = 0;
		if (f->max == 7)
			sl_buf_adds(out, dow[v]);
		else
			sl_buf_addf(out, "%02d", v);
		/* days are listed: systemd's week starts on Monday, cron's on Sunday */
		if (end > v + 1 && f->max != 7) {
			sl_buf_addf(out, "..%02d", end);
			v = end;
		}
	}
}

static const char *const shorthands[][2] = {
	{ "@yearly", "*-01-01 00:00:00" },
	{ "@annually", "*-01-01 00:00:00" },
	{ "@monthly", "*-*-01 00:00:00" },
	{ "@weekly", "Sun *-*-* 00:00:00" },
	{ "@daily", "*-*-* 00:00:00" },
	{ "@midnight", "*-*-* 00:00:00" },
	{ "@hourly", "*-*-* *:00:00" },
};

/* Whether SCHEDULE is systemd's calendar text we pass on: printable, not too long. */
static int plain(const char *s)
{
	if (!*s || strlen(s) > 200)
		return 0;
	for (; *s; s++)
		if (!isprint((unsigned char)*s))
			return 0;
	return 1;
}

int sl_jobs_calendar(const char *schedule, struct sl_buf *out, struct sl_buf *why)
{
	struct sl_strv f = SL_STRV_INIT;
	uint64_t set[5];
	const char *p = schedule;
	int ret = -1;

	sl_buf_reset(out);
	sl_buf_reset(why);
	if (*schedule == '@') {
		for (size_t i = 0; i < sizeof(shorthands) / sizeof(shorthands[0]); i++)
			if (!strcasecmp(schedule, shorthands[i][0])) {
				sl_buf_adds(out, shorthands[i][1]);
				return 1;
			}
		sl_buf_adds(why, "@yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly");
		return -1;
	}
	while (*p) {
		size_t n;

		p += strspn(p, " \t");
		n = strcspn(p, " \t");
		if (n)
			sl_strv_pushn(&f, p, n);
		p += n;
	}
	/* systemd's expressions have four parts at most: weekday date time zone */
	if (f.n != 5) {
		size_t n = f.n;

		sl_strv_clear(&f);
		if (n > 5 || !plain(schedule)) {
			sl_buf_adds(why, "a systemd calendar expression or cron's five fields");
			return -1;
		}
		sl_buf_adds(out, schedule);
		return 0;
	}
	for (int i = 0; i < 5; i++)
		if (field_set(&fields[i], f.v[i], &set[i], why) < 0)
			goto out;
	if (strcmp(f.v[2], "*") && strcmp(f.v[4], "*")) {
		sl_buf_adds(why, "one day field: cron runs when either the day of month or the day of week matches, systemd when both do; give the other as *");
		goto out;
	}
	if (strcmp(f.v[4], "*")) {
		emit(out, &fields[4], set[4]);
		sl_buf_addch(out, ' ');
	}
	sl_buf_adds(out, "*-");
	emit(out, &fields[3], set[3]);
	sl_buf_addch(out, '-');
	emit(out, &fields[2], set[2]);
	sl_buf_addch(out, ' ');
	emit(out, &fields[1], set[1]);
	sl_buf_addch(out, ':');
	emit(out, &fields[0], set[0]);
	sl_buf_adds(out, ":00");
	ret = 1;
out:
	if (ret < 0)
		sl_buf_reset(out);
	sl_strv_clear(&f);
	return ret;
}

int sl_jobs_serving(const struct sl_routes *r, const char *app, struct sl_buf *inst,
		    struct sl_buf *where)
{
	struct sl_buf a = SL_BUF_INIT;
	const struct sl_route *best = NULL;

	for (size_t i = 0; i < r->n; i++) {
		const struct sl_route *t = &r->v[i];

		if (!strncmp(t->host, "prev.", 5) || !sl_instance_name_valid(t->instance))
			continue;
		sl_node_app_of(t->instance, &a);
		if (strcmp(a.buf, app))
			continue;
		if (!best || strcmp(t->instance, best->instance) > 0)
			best = t;
	}
	sl_buf_release(&a);
	sl_buf_reset(inst);
	sl_buf_reset(where);
	if (!best)
		return 0;
	sl_buf_adds(inst, best->instance);
	sl_buf_addf(where, "%s %s", best->host, best->path);
	return 1;
}

void sl_jobs_timer_text(struct sl_buf *out, const char *app, const struct sl_app_job *j)
{
	sl_buf_reset(out);
	sl_buf_addf(out, "# silverlining: the job %s of the app %s, written by sl-job --sync\n"
		    "# from the routes and the app.ini of the instance serving it:\n"
		    "# job.%s.schedule = %s\n"
		    "[Unit]\n"
		    "Description=silverlining job %s of %s\n"
		    "Documentation=man:sl-job(1)\n"
		    "\n"
		    "[Timer]\n"
		    "OnCalendar=%s\n"
		    "AccuracySec=1s\n"
		    "\n"
		    "[Install]\n"
		    "WantedBy=timers.target\n",
		    j->name, app, j->name, j->schedule, j->name, app, j->calendar);
}

int sl_jobs_check(const struct sl_say *s, const struct sl_app *a)
{
	for (size_t i = 0; i < a->njobs; i++) {
		const struct sl_app_job *j = &a->jobs[i];
		struct sl_buf out = SL_BUF_INIT;
		int rc = sl_say_merged(&out, (char *[]){ "systemd-analyze", "calendar",
			"--iterations=1", j->calendar, NULL });

		if (rc) {
			sl_say(s, "%s:%u: invalid job.%s.schedule '%s': systemd-analyze calendar says:",
			       a->ini, j->line, j->name, j->schedule);
			sl_say_text(s, out.buf, out.len);
		}
		sl_buf_release(&out);
		if (rc)
			return SL_EXIT_USAGE;
	}
	return 0;
}

/* The unit names a sync handles: silverlining-job@APP:JOB.timer. */
#define PREFIX "silverlining-job@"

/* The apps that R routes at a location that is not prev.*, onto OUT once each. */
static void routed_apps(const struct sl_routes *r, struct sl_strv *out)
{
	struct sl_buf a = SL_BUF_INIT;

	for (size_t i = 0; i < r->n; i++) {
		size_t k;

		if (!strncmp(r->v[i].host, "prev.", 5) || !sl_instance_name_valid(r->v[i].instance))
			continue;
		sl_node_app_of(r->v[i].instance, &a);
		for (k = 0; k < out->n && strcmp(out->v[k], a.buf); k++)
			;
		if (k == out->n)
			sl_strv_push(out, a.buf);
	}
	sl_buf_release(&a);
}

/* Runs systemctl -q VERB [OPT] UNITS... when there are units; its exit code. */
static int systemctl(const struct sl_say *s, const char *verb, const char *opt,
		     const struct sl_strv *units)
{
	struct sl_strv argv = SL_STRV_INIT;
	int rc;

	if (!units->n)
		return 0;
	sl_strv_push(&argv, "systemctl");
	sl_strv_push(&argv, "-q");
	sl_strv_push(&argv, verb);
	if (opt)
		sl_strv_push(&argv, opt);
	for (size_t i = 0; i < units->n; i++)
		sl_strv_push(&argv, units->v[i]);
	rc = sl_say_run(s, SL_RUN_NULL, STDERR_FILENO, argv.v);
	sl_strv_clear(&argv);
	return rc;
}

/* The timers wanted: file names onto NAMES, their texts onto TEXTS. */
static void wanted(const struct sl_say *s, const struct sl_routes *r, struct sl_strv *names,
		   struct sl_strv *texts)
{
	struct sl_strv apps = SL_STRV_INIT;
	struct sl_buf inst = SL_BUF_INIT, where = SL_BUF_INIT, dir = SL_BUF_INIT;
	struct sl_buf text = SL_BUF_INIT;

	routed_apps(r, &apps);
	for (size_t i = 0; i < apps.n; i++) {
		struct sl_app a = SL_APP_INIT;
		struct sl_err err = SL_ERR_INIT;

		if (sl_jobs_serving(r, apps.v[i], &inst, &where) != 1)
			continue;
		sl_node_instance_path(&dir, "instances", inst.buf);
		if (sl_app_load(&a, dir.buf, &err) < 0) {
			sl_say(s, "the jobs of %s are not scheduled: %s", inst.buf, err.msg.buf);
		} else {
			for (size_t k = 0; k < a.njobs; k++) {
				sl_strv_pushf(names, PREFIX "%s:%s.timer", apps.v[i], a.jobs[k].name);
				sl_jobs_timer_text(&text, apps.v[i], &a.jobs[k]);
				sl_strv_push(texts, text.buf);
			}
		}
		sl_app_release(&a);
		sl_err_release(&err);
	}
	sl_strv_clear(&apps);
	sl_buf_release(&inst);
	sl_buf_release(&where);
	sl_buf_release(&dir);
	sl_buf_release(&text);
}

int sl_jobs_sync(const struct sl_say *s, struct sl_err *err)
{
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_strv names = SL_STRV_INIT, texts = SL_STRV_INIT, gone = SL_STRV_INIT;
	struct sl_strv gone_svc = SL_STRV_INIT, changed = SL_STRV_INIT;
	struct sl_buf path = SL_BUF_INIT, old = SL_BUF_INIT;
	struct dirent *e;
	DIR *d;
	int ret = -1;

	sl_node_path(&path, "routes");
	if (sl_routes_load(path.buf, &r, err) < 0)
		goto out;
	wanted(s, &r, &names, &texts);
	d = opendir(SL_JOBS_UNIT_DIR);
	if (!d) {
		sl_err_set(err, SL_EXIT_TEMP, "unable to read %s: %s", SL_JOBS_UNIT_DIR,
			   strerror(errno));
		goto out;
	}
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name), k;

		if (strncmp(e->d_name, PREFIX, strlen(PREFIX)) || n < 7 ||
		    strcmp(e->d_name + n - 6, ".timer"))
			continue;
		for (k = 0; k < names.n && strcmp(names.v[k], e->d_name); k++)
			;
		if (k < names.n)
			continue;
		sl_strv_push(&gone, e->d_name);
		sl_strv_pushf(&gone_svc, "%.*s.service", (int)(n - 6), e->d_name);
	}
	closedir(d);
	/* the timers no route wants, and their running jobs */
	if (gone.n) {
		systemctl(s, "disable", "--now", &gone);
		systemctl(s, "stop", NULL, &gone_svc);
		systemctl(s, "reset-failed", NULL, &gone_svc);
	}
	for (size_t i = 0; i < gone.n; i++) {
		sl_buf_reset(&path);
		sl_buf_addf(&path, "%s/%s", SL_JOBS_UNIT_DIR, gone.v[i]);
		if (unlink(path.buf) < 0 && errno != ENOENT) {
			sl_err_set(err, SL_EXIT_TEMP, "unable to remove %s: %s", path.buf,
				   strerror(errno));
			goto out;
		}
		sl_say(s, "removed the timer %s", gone.v[i]);
	}
	for (size_t i = 0; i < names.n; i++) {
		sl_buf_reset(&path);
		sl_buf_addf(&path, "%s/%s", SL_JOBS_UNIT_DIR, names.v[i]);
		sl_buf_reset(&old);
		if (sl_buf_read_file(&old, path.buf) == 0 && !strcmp(old.buf, texts.v[i]))
			continue;
		if (sl_file_write(path.buf, texts.v[i], strlen(texts.v[i]), 0644,
				  SL_FILE_REPLACE, err) < 0)
			goto out;
		sl_strv_push(&changed, names.v[i]);
		sl_say(s, "scheduled %s", names.v[i]);
	}
	ret = 0;
	if ((gone.n || changed.n) &&
	    (SL_SAY_RUN(s, SL_RUN_NULL, STDERR_FILENO, "systemctl", "daemon-reload") ||
	     systemctl(s, "enable", NULL, &changed) || systemctl(s, "restart", NULL, &changed)))
		ret = sl_err_set(err, SL_EXIT_TEMP, "systemctl failed to schedule the jobs");
out:
	sl_routes_release(&r);
	sl_strv_clear(&names);
	sl_strv_clear(&texts);
	sl_strv_clear(&gone);
	sl_strv_clear(&gone_svc);
	sl_strv_clear(&changed);
	sl_buf_release(&path);
	sl_buf_release(&old);
	return ret;
}

void sl_jobs_after_switch(const struct sl_say *s)
{
	struct sl_err err = SL_ERR_INIT;

	if (sl_jobs_sync(s, &err) < 0)
		sl_say(s, "the jobs' timers were not updated (sl-job --sync repairs them): %s",
		       err.msg.buf);
	sl_err_release(&err);
}
