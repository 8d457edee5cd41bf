/* silverlining — scheduled jobs: app.ini's schedules, and the node's timers. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
