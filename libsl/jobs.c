/* silverlining — scheduled jobs: app.ini's schedules, and the node's timers. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backups.h"
#include "exit.h"
#include "file.h"
#include "instance.h"
#include "jobs.h"
#include "mem.h"
#include "node.h"
#include "run.h"
#include "strv.h"

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

/* A timer's text: a comment saying where it comes from, then the [Timer] of CALENDAR. */
static void timer_text(struct sl_buf *out, const char *what, const char *from, const char *key,
		       const char *schedule, const char *desc, const char *man,
		       const char *calendar)
{
	sl_buf_reset(out);
	sl_buf_addf(out, "# silverlining: %s, written by sl-job --sync\n"
		    "# from the routes and %s:\n"
		    "# %s = %s\n"
		    "[Unit]\n"
		    "Description=silverlining %s\n"
		    "Documentation=man:%s(1)\n"
		    "\n"
		    "[Timer]\n"
		    "OnCalendar=%s\n"
		    "AccuracySec=1s\n"
		    "\n"
		    "[Install]\n"
		    "WantedBy=timers.target\n",
		    what, from, key, schedule, desc, man, calendar);
}

void sl_jobs_timer_text(struct sl_buf *out, const char *app, const struct sl_app_job *j)
{
	struct sl_buf what = SL_BUF_INIT, key = SL_BUF_INIT, desc = SL_BUF_INIT;

	sl_buf_addf(&what, "the job %s of the app %s", j->name, app);
	sl_buf_addf(&key, "job.%s.schedule", j->name);
	sl_buf_addf(&desc, "job %s of %s", j->name, app);
	timer_text(out, what.buf, "the app.ini of the instance serving it", key.buf, j->schedule,
		   desc.buf, "sl-job", j->calendar);
	sl_buf_release(&what);
	sl_buf_release(&key);
	sl_buf_release(&desc);
}

void sl_jobs_backup_timer_text(struct sl_buf *out, const char *app, const char *schedule,
			       const char *calendar)
{
	struct sl_buf what = SL_BUF_INIT, desc = SL_BUF_INIT;

	sl_buf_addf(&what, "the scheduled backups of the app %s", app);
	sl_buf_addf(&desc, "scheduled backup of %s", app);
	timer_text(out, what.buf, "the serving instance's app.ini, or the node's override",
		   "backup.schedule", schedule, desc.buf, "sl-backup", calendar);
	sl_buf_release(&what);
	sl_buf_release(&desc);
}

/* CALENDAR checked by systemd-analyze: 0, or 100 told through S naming WHAT at LINE. */
static int check_calendar(const struct sl_say *s, const struct sl_app *a, unsigned line,
			  const char *what, const char *schedule, const char *calendar)
{
	struct sl_buf out = SL_BUF_INIT;
	int rc = sl_say_merged(&out, (char *[]){ "systemd-analyze", "calendar",
		"--iterations=1", (char *)calendar, NULL });

	if (rc) {
		sl_say(s, "%s:%u: invalid %s '%s': systemd-analyze calendar says:", a->ini, line,
		       what, schedule);
		sl_say_text(s, out.buf, out.len);
	}
	sl_buf_release(&out);
	return rc ? SL_EXIT_USAGE : 0;
}

int sl_jobs_check(const struct sl_say *s, const struct sl_app *a)
{
	struct sl_buf what = SL_BUF_INIT;
	int rc = 0;

	for (size_t i = 0; i < a->njobs && !rc; i++) {
		const struct sl_app_job *j = &a->jobs[i];

		sl_buf_reset(&what);
		sl_buf_addf(&what, "job.%s.schedule", j->name);
		rc = check_calendar(s, a, j->line, what.buf, j->schedule, j->calendar);
	}
	if (!rc && a->backup_calendar)
		rc = check_calendar(s, a, a->backup_line, "backup.schedule", a->backup_schedule,
				    a->backup_calendar);
	sl_buf_release(&what);
	return rc;
}

/* The unit names a sync handles: silverlining-job@APP:JOB.timer, sl-backup@APP.timer. */
#define PREFIX "silverlining-job@"
#define BACKUP_PREFIX "sl-backup@"

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

/*
 * APP's backup timer, when it has one: the node's override
 * (backups.h, sl-backup --schedule) wins over the
 * serving instance's backup.schedule; "off" there means none.
 */
static void backup_timer(const struct sl_say *s, const char *app, const struct sl_app *a,
			 struct sl_strv *names, struct sl_strv *texts)
{
	struct sl_buf text = SL_BUF_INIT, over = SL_BUF_INIT, cal = SL_BUF_INIT, why = SL_BUF_INIT;
	const char *schedule = a->backup_schedule, *calendar = a->backup_calendar;

	if (sl_backups_override(app, "schedule", &over) > 0) {
		schedule = over.buf;
		if (!strcmp(schedule, "off")) {
			schedule = NULL;
		} else if (sl_jobs_calendar(schedule, &cal, &why) < 0) {
			sl_say(s, "the backups of %s are not scheduled: the node's schedule '%s': %s",
			       app, schedule, why.buf);
			schedule = NULL;
		} else {
			calendar = cal.buf;
		}
	}
	if (schedule && a->nservices) {	/* an app without services has nothing to back up */
		sl_strv_pushf(names, BACKUP_PREFIX "%s.timer", app);
		sl_jobs_backup_timer_text(&text, app, schedule, calendar);
		sl_strv_push(texts, text.buf);
	}
	sl_buf_release(&text);
	sl_buf_release(&over);
	sl_buf_release(&cal);
	sl_buf_release(&why);
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
			backup_timer(s, apps.v[i], &a, names, texts);
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

		if ((strncmp(e->d_name, PREFIX, strlen(PREFIX)) &&
		     strncmp(e->d_name, BACKUP_PREFIX, strlen(BACKUP_PREFIX))) || n < 7 ||
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
