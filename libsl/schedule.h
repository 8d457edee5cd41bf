/* silverlining — a job's schedule: its name, and cron's syntax as systemd's. */
#ifndef SL_SCHEDULE_H
#define SL_SCHEDULE_H

#include "buf.h"

/*
 * The pure half of scheduled jobs (jobs.h has the node's half): what
 * app.ini's reader checks, with no state and no node.
 */

/* Whether NAME is a valid job name: ^[a-z][a-z0-9_-]{0,30}$. */
int sl_job_name_valid(const char *name);

/*
 * SCHEDULE as a systemd OnCalendar expression, into OUT (after resetting
 * it). A schedule is cron's (five fields: minute hour day-of-month month
 * day-of-week, with *, lists, ranges, steps, and the names jan..dec and
 * sun..sat; or @yearly, @annually, @monthly, @weekly, @daily, @midnight,
 * @hourly), translated here; or systemd's calendar syntax, copied as it
 * is (checked on the node by sl_jobs_check()). Returns 1 for a cron
 * schedule translated, 0 for a systemd one, -1 with the reason in WHY
 * (reset first) for a bad one. Cron's rule that a day matches when
 * either day field does, when both are restricted, has no systemd
 * equivalent: such a schedule is refused.
 */
int sl_jobs_calendar(const char *schedule, struct sl_buf *out, struct sl_buf *why);

#endif
