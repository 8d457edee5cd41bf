/* silverlining — the environment an app receives. */
#ifndef SL_APPENV_H
#define SL_APPENV_H

#include "app.h"
#include "err.h"
#include "strv.h"

/*
 * Every process of an app sees the same variables (doc/SPEC.md "What an app
 * receives"): SILVER_* describing the app and where it runs, and the
 * CONFIG_* of each service.NAME it declares, printed by
 * `sl-service-NAME env [--devel] APP`, which finds the value of
 * service.NAME in its environment as SL_SERVICE_VALUE.
 */

enum sl_appenv_mode {
	SL_APPENV_DEVEL,	/* the laptop: sl-env, silver serve, test runs */
	SL_APPENV_NODE,		/* a node: the dir is an instance, values from the node's records */
};

struct sl_appenv_opts {
	enum sl_appenv_mode mode;
	const char *config_dir;		/* --config DIR, or NULL */
	const char *service_dir;	/* sl-service-* looked for here first, or NULL */
};
#define SL_APPENV_OPTS_INIT { SL_APPENV_DEVEL, NULL, NULL }

/*
 * Appends APP's variables to VARS as "KEY=VALUE", in a fixed order:
 * SILVER_* first, then each service's CONFIG_* in app.ini's order.
 * On the laptop this creates what the variables promise: the log
 * directory and, on first use, the secret file (mode 0600).
 *
 * Returns 0, or -1 with ERR set: 100 for what the app or the user must
 * fix (a missing config dir, config.required without one, an unknown
 * service, a service that refuses), a service's own exit code when it
 * fails otherwise, 111 for system errors.
 */
int sl_appenv_compute(const struct sl_app *app, const struct sl_appenv_opts *o,
		      struct sl_strv *vars, struct sl_err *err);

/*
 * Builds the environment a command runs in: BASE (usually environ)
 * without its SILVER_* and CONFIG_* variables, which belong to the app
 * alone, plus VARS.
 */
void sl_appenv_merge(struct sl_strv *out, char *const *base,
		     const struct sl_strv *vars);

/*
 * Runs APP's config.checker on the deployment config in DIR, in the
 * app's laptop environment (BASE, usually environ, merged as
 * sl_appenv_merge() does) with SILVER_APP_CONFIG=DIR: a command of the
 * app given DIR as its argument, or module:function, a Python callable
 * of the app (lib/python and the app on its path) called with DIR and
 * failing by returning False or raising. The checker's stdout goes to
 * stderr (a tool's stdout is its data). Returns the checker's exit code
 * (0: the config passes), or -1 with ERR set when it could not be run.
 */
int sl_appenv_check_config(const struct sl_app *app, const char *dir,
			   char *const *base, struct sl_err *err);

/* Whether NAME=... from a service is acceptable: CONFIG_[A-Z0-9_]+. */
int sl_appenv_config_name_valid(const char *name, size_t len);

#endif
