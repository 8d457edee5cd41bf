/* silverlining — the app.ini model. */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "buf.h"
#include "exit.h"
#include "ini.h"
#include "schedule.h"
#include "location.h"
#include "mem.h"

enum kind { K_STRING, K_LIST, K_BOOL, K_INT, K_PLATFORM, K_LOCATION };

struct key;
typedef int (*check_fn)(const char *value, const struct key *k);

struct key {
	const char *name;
	enum kind kind;
	size_t off;
	check_fn check;		/* 0 if valid; else the message after the name */
	long min, max;
	const char *why;	/* what check wants, for messages */
};

#define NKEYS 20

struct parse {
	struct sl_app *app;
	unsigned first_line[NKEYS];	/* line of each key of keys[], 0 if unseen */
	unsigned prev_line;		/* line of the key a continuation continues */
	const struct key *prev_key;
	const struct key *pending;	/* a single-value key left empty so far */
	unsigned pending_line;
	struct sl_app_service *prev_service;
	const char *prev_job_key;	/* a job's key, which takes no continuation */
	struct sl_strv other_sections;
};

static int bad_value(struct sl_err *err, const struct sl_app *app,
		     unsigned line, const char *key, const char *value,
		     const char *why);

static int valid_name(const char *v, const struct key *k)
{
	(void)k;
	return sl_app_name_valid(v);
}

static int relative_path(const char *v)
{
	const char *p = v;

	if (!*v || *v == '/')
		return 0;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && !strncmp(p, "..", 2))
			return 0;
		p += n;
		p += *p == '/';
	}
	for (p = v; *p; p++)
		if (iscntrl((unsigned char)*p))
			return 0;
	return 1;
}

static int valid_relpath(const char *v, const struct key *k)
{
	(void)k;
	return relative_path(v);
}

static int valid_runner(const char *v, const struct key *k)
{
	const char *hash = strchr(v, '#');
	char *file = sl_xstrndup(v, hash ? (size_t)(hash - v) : strlen(v));
	size_t n = strlen(file);
	int ok = relative_path(file) &&
		 ((n > 3 && !strcmp(file + n - 3, ".py")) ||
		  (n > 4 && !strcmp(file + n - 4, ".php") && !hash));

	(void)k;
	if (ok && hash) {
		const char *id = hash + 1;

		ok = (isalpha((unsigned char)*id) || *id == '_');
		for (; ok && *id; id++)
			ok = isalnum((unsigned char)*id) || *id == '_';
	}
	free(file);
	return ok;
}

static int valid_platform(const char *v, const struct key *k)
{
	(void)k;
	return !strcmp(v, "python") || !strcmp(v, "php");
}

static int url_path(const char *v)
{
	if (*v != '/')
		return 0;
	for (; *v; v++)
		if (isspace((unsigned char)*v) || iscntrl((unsigned char)*v))
			return 0;
	return 1;
}

static int valid_url_path(const char *v, const struct key *k)
{
	(void)k;
	return url_path(v);
}

static int valid_fetch(const char *v, const struct key *k)
{
	(void)k;
	if (!strncmp(v, "script:", 7))
		return v[7 + strspn(v + 7, " \t")] != '\0';
	return url_path(v);
}

/* Debian policy 5.6.1: lowercase letters, digits, + - . ; two or more, alnum first. */
static int valid_package(const char *v, const struct key *k)
{
	(void)k;
	if (!islower((unsigned char)*v) && !isdigit((unsigned char)*v))
		return 0;
	if (strlen(v) < 2)
		return 0;
	for (; *v; v++)
		if (!islower((unsigned char)*v) && !isdigit((unsigned char)*v) &&
		    !strchr("+-.", *v))
			return 0;
	return 1;
}

static int valid_checker(const char *v, const struct key *k)
{
	const char *colon = strchr(v, ':');

	(void)k;
	if (colon && !strchr(v, '/'))
		return colon != v && colon[1] && !strchr(colon + 1, ':');
	return relative_path(v);
}

/* A schedule as jobs take it (schedule.h): cron's, or systemd's, checked on the node. */
static int valid_schedule(const char *v, const struct key *k)
{
	struct sl_buf cal = SL_BUF_INIT, why = SL_BUF_INIT;
	int ok = sl_jobs_calendar(v, &cal, &why) >= 0;

	(void)k;
	sl_buf_release(&cal);
	sl_buf_release(&why);
	return ok;
}

#define F(field) offsetof(struct sl_app, field)
static const struct key keys[] = {
	{ "app_name", K_STRING, F(name), valid_name, 0, 0,
	  "a lowercase letter, then up to 30 lowercase letters, digits or dashes" },
	{ "runner", K_STRING, F(runner), valid_runner, 0, 0,
	  "a relative path to a .py file (optionally FILE.py#NAME) or a .php file" },
	{ "platform", K_PLATFORM, F(platform), valid_platform, 0, 0, "python or php" },
	{ "php_root", K_STRING, F(php_root), valid_relpath, 0, 0,
	  "a relative path inside the app" },
	{ "update_fetch", K_LIST, F(update_fetch), valid_fetch, 0, 0,
	  "a URL path starting with / or script:COMMAND" },
	{ "health_check", K_STRING, F(health_check), valid_url_path, 0, 0,
	  "a URL path starting with /" },
	{ "default_location", K_LOCATION, F(default_location), NULL, 0, 0,
	  "a location: [http://]host[/path]" },
	{ "packages", K_LIST, F(packages), valid_package, 0, 0,
	  "Debian package names, one per line" },
	{ "config.required", K_BOOL, F(config_required), NULL, 0, 0,
	  "true or false" },
	{ "config.default", K_STRING, F(config_default), valid_relpath, 0, 0,
	  "a relative path inside the app" },
	{ "config.template", K_STRING, F(config_template), valid_relpath, 0, 0,
	  "a relative path inside the app" },
	{ "config.checker", K_STRING, F(config_checker), valid_checker, 0, 0,
	  "a relative path inside the app, or module:function" },
	{ "processes", K_INT, F(processes), NULL, 1, 64, NULL },
	{ "threads", K_INT, F(threads), NULL, 1, 64, NULL },
	{ "timeout", K_INT, F(timeout), NULL, 1, 3600, NULL },
	{ "memory_limit", K_INT, F(memory_limit), NULL, 16, 65536, NULL },
	{ "idle_timeout", K_INT, F(idle_timeout), NULL, 0, 86400, NULL },
	{ "backup.schedule", K_STRING, F(backup_schedule), valid_schedule, 0, 0,
	  "cron's five fields, @daily and the like, or a systemd calendar expression "
	  "(both day fields restricted at once has no systemd form)" },
	{ "backup.keep_daily", K_INT, F(backup_keep_daily), NULL, 1, 366, NULL },
	{ "backup.keep_weekly", K_INT, F(backup_keep_weekly), NULL, 0, 520, NULL },
};
#undef F
_Static_assert(sizeof(keys) / sizeof(keys[0]) == NKEYS, "NKEYS");

static const char *const renamed[][2] = {
	{ "default_host", "default_location" },
	{ "default_hostname", "default_location" },
	{ "version", NULL },
};

static int settle_pending(struct parse *ps, struct sl_err *err)
{
	const struct key *k = ps->pending;

	if (!k)
		return 0;
	ps->pending = NULL;
	if (k->kind == K_INT) {
		char range[64];

		snprintf(range, sizeof(range), "a whole number from %ld to %ld",
			 k->min, k->max);
		return bad_value(err, ps->app, ps->pending_line, k->name, "", range);
	}
	return bad_value(err, ps->app, ps->pending_line, k->name, "", k->why);
}

int sl_app_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n < 1 || n > 31 || !islower((unsigned char)name[0]))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!islower((unsigned char)name[i]) &&
		    !isdigit((unsigned char)name[i]) && name[i] != '-')
			return 0;
	return 1;
}

char *sl_app_db_name(const char *name)
{
	char *s = sl_xstrdup(name);

	for (char *p = s; *p; p++)
		if (*p == '-')
			*p = '_';
	return s;
}

static int parse_bool(const char *v, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i]))
			return *out = 1, 0;
		if (!strcasecmp(v, no[i]))
			return *out = 0, 0;
	}
	return -1;
}

static int parse_long(const char *v, long min, long max, long *out)
{
	char *end;
	long n;

	if (!isdigit((unsigned char)*v))
		return -1;
	n = strtol(v, &end, 10);
	if (*end || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

/* TEXT with control characters shown as '?': messages reach terminals. */
static char *printable(const char *text)
{
	char *s = sl_xstrdup(text);

	for (char *p = s; *p; p++)
		if (iscntrl((unsigned char)*p))
			*p = '?';
	return s;
}

static int bad_value(struct sl_err *err, const struct sl_app *app,
		     unsigned line, const char *key, const char *value,
		     const char *why)
{
	char *shown = printable(value);

	sl_err_set(err, SL_EXIT_USAGE, "%s:%u: invalid %s '%s': want %s",
		   app->ini, line, key, shown, why);
	free(shown);
	return -1;
}

/*
 * "runner =" may be followed by the value on an indented line; an empty
 * single value is judged only when no such line came.
 */
static int settle_pending(struct parse *ps, struct sl_err *err);

static int set_value(struct parse *ps, const struct key *k, const char *value,
		     unsigned line, struct sl_err *err)
{
	struct sl_app *app = ps->app;
	struct sl_location loc = SL_LOCATION_INIT;
	char *base = (char *)app;
	char range[64];

	if (k->kind == K_LIST) {
		if (!*value)
			return 0;
		if (k->check && !k->check(value, k))
			return bad_value(err, app, line, k->name, value, k->why);
		sl_strv_push((struct sl_strv *)(base + k->off), value);
		return 0;
	}
	if (!*value && !ps->pending) {
		ps->pending = k;
		ps->pending_line = line;
		return 0;
	}
	if (k->check && !k->check(value, k))
		return bad_value(err, app, line, k->name, value, k->why);
	switch (k->kind) {
	case K_PLATFORM:
		app->platform = strcmp(value, "php") ?
			SL_PLATFORM_PYTHON : SL_PLATFORM_PHP;
		break;
	case K_LOCATION:
		/* the parser's own words, as silver update gives them */
		if (sl_location_parse(value, SL_LOC_HTTPS, &loc, err) < 0) {
			sl_err_prefix(err, "%s:%u", app->ini, line);
			return -1;
		}
		sl_location_release(&loc);
		/* kept as written */
		/* fall through */
	case K_STRING:
		free(*(char **)(base + k->off));
		*(char **)(base + k->off) = sl_xstrdup(value);
		break;
	case K_BOOL:
		if (parse_bool(value, (int *)(base + k->off)) < 0)
			return bad_value(err, app, line, k->name, value, k->why);
		break;
	case K_INT:
		snprintf(range, sizeof(range), "a whole number from %ld to %ld",
			 k->min, k->max);
		if (parse_long(value, k->min, k->max, (long *)(base + k->off)) < 0)
			return bad_value(err, app, line, k->name, value, range);
		break;
	case K_LIST:
		break;
	}
	return 0;
}

static int valid_service_name(const char *s)
{
	if (!islower((unsigned char)*s))
		return 0;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) &&
		    *s != '_')
			return 0;
	return 1;
}

static int add_service(struct parse *ps, const char *name, const char *value,
		       unsigned line, struct sl_err *err)
{
	struct sl_app *app = ps->app;
	struct sl_app_service *s;

	if (!valid_service_name(name))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s:%u: invalid service name '%s': want lowercase letters, digits and _",
				  app->ini, line, name);
	for (size_t i = 0; i < app->nservices; i++)
		if (!strcmp(app->services[i].name, name))
			return sl_err_set(err, SL_EXIT_USAGE,
					  "%s:%u: service.%s is already declared at line %u",
					  app->ini, line, name, app->services[i].line);
	app->services = sl_xrealloc(app->services,
				    (app->nservices + 1) * sizeof(*app->services));
	s = &app->services[app->nservices++];
	s->name = sl_xstrdup(name);
	s->value = sl_xstrdup(value);
	s->line = line;
	ps->prev_service = s;
	return 0;
}

static struct sl_app_job *job_named(struct sl_app *app, const char *name, size_t n)
{
	struct sl_app_job *j;

	for (size_t i = 0; i < app->njobs; i++)
		if (strlen(app->jobs[i].name) == n && !strncmp(app->jobs[i].name, name, n))
			return &app->jobs[i];
	app->jobs = sl_xrealloc(app->jobs, (app->njobs + 1) * sizeof(*app->jobs));
	j = &app->jobs[app->njobs++];
	memset(j, 0, sizeof(*j));
	j->name = sl_xstrndup(name, n);
	j->timeout = 600;
	return j;
}

/* job.NAME.schedule, job.NAME.run, job.NAME.timeout (KEY lowercased). */
static int add_job_key(struct parse *ps, const char *key, const char *value,
		       unsigned line, struct sl_err *err)
{
	struct sl_app *app = ps->app;
	const char *name = key + 4, *dot = strrchr(name, '.');
	struct sl_buf why = SL_BUF_INIT, cal = SL_BUF_INIT;
	struct sl_app_job *j;
	char *n;
	unsigned *at;
	int ret = 0;

	n = sl_xstrndup(name, dot ? (size_t)(dot - name) : strlen(name));
	if (!dot || !sl_job_name_valid(n) ||
	    (strcmp(dot, ".schedule") && strcmp(dot, ".run") && strcmp(dot, ".timeout"))) {
		char *shown = printable(key);

		sl_err_set(err, SL_EXIT_USAGE, "%s:%u: invalid key '%s': %s", app->ini, line, shown,
			   dot && sl_job_name_valid(n) ? "a job has schedule, run and timeout" :
			   "want job.NAME.schedule, job.NAME.run or job.NAME.timeout, NAME a lowercase letter, then up to 30 lowercase letters, digits, - or _");
		free(shown);
		free(n);
		return -1;
	}
	j = job_named(app, n, strlen(n));
	free(n);
	ps->prev_job_key = sl_xstrdup(key);
	at = !strcmp(dot, ".schedule") ? &j->line : !strcmp(dot, ".run") ? &j->run_line :
		&j->timeout_line;
	if (*at)
		return sl_err_set(err, SL_EXIT_USAGE, "%s:%u: %s is already set at line %u",
				  app->ini, line, key, *at);
	*at = line;
	if (!strcmp(dot, ".schedule")) {
		if (sl_jobs_calendar(value, &cal, &why) < 0) {
			ret = bad_value(err, app, line, key, value, why.buf);
		} else {
			j->schedule = sl_xstrdup(value);
			j->calendar = sl_buf_detach(&cal, NULL);
		}
	} else if (!strcmp(dot, ".run")) {
		if (!valid_fetch(value, NULL))
			ret = bad_value(err, app, line, key, value,
					"a URL path starting with / or script:COMMAND");
		else
			j->run = sl_xstrdup(value);
	} else if (parse_long(value, 1, 86400, &j->timeout) < 0) {
		ret = bad_value(err, app, line, key, value, "a whole number of seconds from 1 to 86400");
	}
	sl_buf_release(&why);
	sl_buf_release(&cal);
	return ret;
}

/* Every job has both a schedule and a run. */
static int check_jobs(const struct sl_app *app, struct sl_err *err)
{
	for (size_t i = 0; i < app->njobs; i++) {
		const struct sl_app_job *j = &app->jobs[i];

		if (!j->line)
			return sl_err_set(err, SL_EXIT_USAGE,
					  "%s:%u: job.%s has no job.%s.schedule",
					  app->ini, j->run_line ? j->run_line : j->timeout_line,
					  j->name, j->name);
		if (!j->run_line)
			return sl_err_set(err, SL_EXIT_USAGE, "%s:%u: job.%s has no job.%s.run",
					  app->ini, j->line, j->name, j->name);
	}
	return 0;
}

static int continue_value(struct parse *ps, const struct sl_ini_item *it,
			  struct sl_err *err)
{
	struct sl_app *app = ps->app;

	if (ps->prev_service) {
		struct sl_buf b = SL_BUF_INIT;
		struct sl_app_service *s = ps->prev_service;

		sl_buf_adds(&b, s->value);
		if (b.len)
			sl_buf_addch(&b, '\n');
		sl_buf_adds(&b, it->value);
		free(s->value);
		s->value = sl_buf_detach(&b, NULL);
		return 0;
	}
	if (ps->prev_job_key)
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s:%u: %s takes one value, not a list (key at line %u)",
				  app->ini, it->line, ps->prev_job_key, ps->prev_line);
	if (!ps->prev_key)	/* continuing an ignored key */
		return 0;
	if (ps->prev_key->kind != K_LIST) {
		const struct key *k = ps->prev_key;

		if (ps->pending == k) {
			ps->pending = NULL;
			return set_value(ps, k, it->value, it->line, err);
		}
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s:%u: %s takes one value, not a list (key at line %u)",
				  app->ini, it->line, k->name, ps->prev_line);
	}
	return set_value(ps, ps->prev_key, it->value, it->line, err);
}

static int on_item(void *user, const struct sl_ini_item *it, struct sl_err *err)
{
	struct parse *ps = user;
	struct sl_app *app = ps->app;
	char *key;
	int ret = 0;

	if (it->continuation && strcasecmp(it->section, "production"))
		return 0;
	if (it->continuation)
		return continue_value(ps, it, err);
	if (settle_pending(ps, err) < 0)
		return -1;
	ps->prev_key = NULL;
	ps->prev_service = NULL;
	free((char *)ps->prev_job_key);
	ps->prev_job_key = NULL;
	ps->prev_line = it->line;
	key = sl_xstrdup(it->key);
	for (char *p = key; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (!*it->section) {
		ret = sl_err_set(err, SL_EXIT_USAGE,
				 "%s:%u: '%s' is outside any section: app.ini starts with [production]",
				 app->ini, it->line, it->key);
		goto out;
	}
	if (strcasecmp(it->section, "production")) {
		for (size_t i = 0; i < ps->other_sections.n; i++)
			if (!strcmp(ps->other_sections.v[i], it->section))
				goto out;
		sl_strv_push(&ps->other_sections, it->section);
		{
			char *shown = printable(it->section);

			sl_strv_pushf(&app->warnings, "%s:%u: section [%s] is not used; its keys are ignored",
				      app->ini, it->line, shown);
			free(shown);
		}
		goto out;
	}
	if (!strncmp(key, "service.", 8)) {
		ret = add_service(ps, key + 8, it->value, it->line, err);
		goto out;
	}
	if (!strncmp(key, "job.", 4)) {
		ret = add_job_key(ps, key, it->value, it->line, err);
		goto out;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(keys[i].name, key))
			continue;
		if (ps->first_line[i]) {
			ret = sl_err_set(err, SL_EXIT_USAGE,
					 "%s:%u: %s is already set at line %u",
					 app->ini, it->line, keys[i].name,
					 ps->first_line[i]);
			goto out;
		}
		ps->first_line[i] = it->line;
		ps->prev_key = &keys[i];
		ret = set_value(ps, &keys[i], it->value, it->line, err);
		goto out;
	}
	for (size_t i = 0; i < sizeof(renamed) / sizeof(renamed[0]); i++) {
		if (strcmp(renamed[i][0], key))
			continue;
		if (renamed[i][1])
			sl_strv_pushf(&app->warnings, "%s:%u: %s is ignored: it was renamed to %s",
				      app->ini, it->line, it->key, renamed[i][1]);
		else
			sl_strv_pushf(&app->warnings, "%s:%u: %s is ignored: instances are named by date",
				      app->ini, it->line, it->key);
		goto out;
	}
	{
		char *shown = printable(it->key);

		sl_strv_pushf(&app->warnings, "%s:%u: unknown key '%s' ignored",
			      app->ini, it->line, shown);
		free(shown);
	}
out:
	free(key);
	return ret;
}

static int check_runner(struct sl_app *app, const struct parse *ps,
			struct sl_err *err)
{
	int php = app->platform == SL_PLATFORM_PHP;
	size_t n;
	unsigned line = 0;

	if (!app->runner)
		return 0;
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].name, "runner"))
			line = ps->first_line[i];
	n = strcspn(app->runner, "#");
	if (php == (n > 4 && !strncmp(app->runner + n - 4, ".php", 4)))
		return 0;
	return sl_err_set(err, SL_EXIT_USAGE,
			  "%s:%u: the runner of a %s app must be a %s file",
			  app->ini, line, php ? "php" : "python",
			  php ? ".php" : ".py");
}

int sl_app_load(struct sl_app *app, const char *dir, struct sl_err *err)
{
	struct parse ps = { 0 };
	struct sl_buf path = SL_BUF_INIT;
	int ret;

	app->dir = sl_xstrdup(dir);
	sl_buf_adds(&path, dir);
	if (path.len && path.buf[path.len - 1] != '/')
		sl_buf_addch(&path, '/');
	sl_buf_adds(&path, "app.ini");
	app->ini = sl_buf_detach(&path, NULL);
	ps.app = app;
	ps.other_sections = (struct sl_strv)SL_STRV_INIT;
	ret = sl_ini_parse(app->ini, on_item, &ps, err);
	if (ret == 0)
		ret = settle_pending(&ps, err);
	if (ret == 0)
		ret = check_jobs(app, err);
	if (ret == 0 && app->backup_schedule) {
		struct sl_buf cal = SL_BUF_INIT, why = SL_BUF_INIT;

		sl_jobs_calendar(app->backup_schedule, &cal, &why);
		app->backup_calendar = sl_buf_detach(&cal, NULL);
		for (size_t i = 0; i < NKEYS; i++)
			if (!strcmp(keys[i].name, "backup.schedule"))
				app->backup_line = ps.first_line[i];
		sl_buf_release(&why);
	}
	free((char *)ps.prev_job_key);
	sl_strv_clear(&ps.other_sections);
	if (ret < 0)
		return -1;
	if (!app->name)
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s: app_name is missing from [production]",
				  app->ini);
	return check_runner(app, &ps, err);
}

void sl_app_release(struct sl_app *app)
{
	free(app->dir);
	free(app->ini);
	free(app->name);
	free(app->runner);
	free(app->php_root);
	sl_strv_clear(&app->update_fetch);
	free(app->health_check);
	free(app->default_location);
	for (size_t i = 0; i < app->nservices; i++) {
		free(app->services[i].name);
		free(app->services[i].value);
	}
	free(app->services);
	sl_strv_clear(&app->packages);
	free(app->config_default);
	free(app->config_template);
	free(app->config_checker);
	free(app->backup_schedule);
	free(app->backup_calendar);
	sl_strv_clear(&app->warnings);
	for (size_t i = 0; i < app->njobs; i++) {
		free(app->jobs[i].name);
		free(app->jobs[i].schedule);
		free(app->jobs[i].calendar);
		free(app->jobs[i].run);
	}
	free(app->jobs);
	*app = (struct sl_app)SL_APP_INIT;
}
