/* silverlining — scheduled jobs: app.ini's schedules, and the node's timers. */
#ifndef SL_JOBS_H
#define SL_JOBS_H

#include "app.h"
#include "buf.h"
#include "err.h"
#include "route.h"
#include "say.h"
#include "schedule.h"

/*
 * An app declares jobs in app.ini (doc/SPEC.md "Scheduled jobs"):
 * job.NAME.schedule, job.NAME.run (a URL path, or script:COMMAND) and
 * job.NAME.timeout. On the node each job is one timer,
 * /etc/systemd/system/silverlining-job@APP:NAME.timer, root's, written
 * from the routes by sl_jobs_sync() alone; it starts the template
 * silverlining-job@.service, which runs sl-job --exec APP:NAME in the
 * instance serving the app when it fires (sl-job(1)).
 */

/*
 * The instance whose jobs run for APP, by R: of the instances R routes
 * at a location that is not prev.*, the newest (instance names sort by
 * date); into INST, and into WHERE ("HOST PATH") the first such location
 * in R's order that routes it. 1, or 0 when none serves APP.
 */
int sl_jobs_serving(const struct sl_routes *r, const char *app, struct sl_buf *inst,
		    struct sl_buf *where);

/* The timer file's text for job J of APP, into OUT (after resetting it). */
void sl_jobs_timer_text(struct sl_buf *out, const char *app, const struct sl_app_job *j);

/*
 * The timer file's text for APP's scheduled backups (sl-backup@APP.timer,
 * which starts sl-backup@APP.service: sl-backup --scheduled APP), into
 * OUT (after resetting it).
 */
void sl_jobs_backup_timer_text(struct sl_buf *out, const char *app, const char *schedule,
			       const char *calendar);

/*
 * Every job schedule of A, and its backup.schedule, checked by
 * systemd-analyze calendar. 0, or 100
 * (the first bad one told through S as A->ini:LINE).
 */
int sl_jobs_check(const struct sl_say *s, const struct sl_app *a);

/*
 * The node's job timers made to match its routes: for each app with a
 * serving instance (sl_jobs_serving), a timer per job of that
 * instance's app.ini, and its backup timer (backup.schedule, or the
 * node's override), written (by temp file and rename) when it differs,
 * enabled and started; every other silverlining-job@ and sl-backup@ timer stopped,
 * disabled and removed, with its running job. What changed is told
 * through S. The caller holds the node's lock. 0, or -1 with ERR (111).
 */
int sl_jobs_sync(const struct sl_say *s, struct sl_err *err);

/*
 * sl_jobs_sync() after sl-activate changed the routes: a failure is told
 * through S (the switch stands; sl-job --sync repairs it).
 */
void sl_jobs_after_switch(const struct sl_say *s);

/* Where the timers are: root's, and nothing an app can change. */
#define SL_JOBS_UNIT_DIR "/etc/systemd/system"

#endif
