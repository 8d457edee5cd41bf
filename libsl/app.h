/* silverlining — the app.ini model. */
#ifndef SL_APP_H
#define SL_APP_H

#include "err.h"
#include "strv.h"

/*
 * An app is a directory with an app.ini (doc/SPEC.md "app.ini"). sl_app_load()
 * parses and validates it; every error names APPDIR/app.ini:LINE, and
 * keys the model does not know become warnings the tool prints.
 */

enum sl_platform {
	SL_PLATFORM_PYTHON,
	SL_PLATFORM_PHP,
};

struct sl_app_service {
	char *name;		/* "postgis": what follows "service." */
	char *value;		/* the key's value, may be empty; lines joined by '\n' */
	unsigned line;		/* where app.ini declares it */
};

/* A scheduled job (jobs.h): job.NAME.schedule, .run, .timeout. */
struct sl_app_job {
	char *name;
	char *schedule;		/* as written */
	char *calendar;		/* systemd's OnCalendar: translated from cron, or as written */
	char *run;		/* "/path" or "script:CMD ARGS" */
	long timeout;		/* seconds a run may take: 1 to 86400, default 600 */
	unsigned line;		/* of its schedule key */
	unsigned run_line, timeout_line;	/* 0 when unset */
};

struct sl_app {
	char *dir;		/* the app directory, as given */
	char *ini;		/* DIR/app.ini */
	char *name;		/* app_name */
	char *runner;		/* relative path, with an optional "#name"; NULL if unset */
	enum sl_platform platform;
	char *php_root;
	struct sl_strv update_fetch;	/* "/path" or "script:CMD ARGS" */
	char *health_check;	/* a "/path"; NULL: the default check */
	char *default_location;
	struct sl_app_service *services;
	size_t nservices;
	struct sl_strv packages;
	int config_required;
	char *config_default;	/* relative directory, or NULL */
	char *config_template;
	char *config_checker;
	long processes, threads, timeout, memory_limit;
	long idle_timeout;	/* seconds a Python server idles before it exits; 0 never */
	struct sl_strv warnings;	/* "DIR/app.ini:LINE: ..." */
	struct sl_app_job *jobs;	/* in app.ini's order of their first key */
	size_t njobs;
	char *backup_schedule;	/* backup.schedule as written, or NULL: no scheduled backups */
	char *backup_calendar;	/* ... as systemd's OnCalendar */
	long backup_keep_daily, backup_keep_weekly;	/* 1 to 366 (7), 0 to 520 (4) */
	unsigned backup_line;	/* of backup.schedule */
};
#define SL_APP_INIT { NULL, NULL, NULL, NULL, SL_PLATFORM_PYTHON, NULL, \
	SL_STRV_INIT, NULL, NULL, NULL, 0, SL_STRV_INIT, 0, NULL, NULL, NULL, \
	2, 1, 30, 256, SL_APP_IDLE_TIMEOUT, SL_STRV_INIT, NULL, 0, NULL, NULL, 7, 4, 0 }

/* idle_timeout's default, in seconds (doc/DESIGN.md, "Idle instances") */
#define SL_APP_IDLE_TIMEOUT 600

/*
 * Reads DIR/app.ini into APP (which must be SL_APP_INIT or released).
 * Returns 0, or -1 with ERR set: 100 for every fault of the file (missing,
 * unreadable, malformed, invalid values, a missing app_name), 111 for I/O
 * errors. On failure APP holds what was read so far; release it.
 */
int sl_app_load(struct sl_app *app, const char *dir, struct sl_err *err);

/* Frees APP's fields; APP is then SL_APP_INIT again. */
void sl_app_release(struct sl_app *app);

/* Whether NAME is a valid app_name: ^[a-z][a-z0-9-]{0,30}$. */
int sl_app_name_valid(const char *name);

/*
 * NAME as a database identifier: dashes become underscores. The caller
 * frees the result.
 */
char *sl_app_db_name(const char *name);

#endif
