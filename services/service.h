/* silverlining — what every sl-service-NAME executable shares. */
#ifndef SL_SERVICE_H
#define SL_SERVICE_H

#include <sys/types.h>

#include "../libsl/devconf.h"
#include "../libsl/err.h"
#include "../libsl/strv.h"

/*
 * A service executable is a table and one call:
 *
 *	int main(int argc, char **argv)
 *	{
 *		return sl_service_main(argc, argv, &postgis);
 *	}
 *
 * sl_service_main() parses the protocol's verbs (SPEC.md "The service
 * protocol"), validates the app name, and calls the service's functions.
 * Verbs a service does not provide yet exit 100 with "not implemented on
 * this side": never a silent success.
 */

struct sl_service {
	const char *name;		/* "postgis" */
	const char *devel_prefix;	/* keys in ~/.silverlining.conf: "postgis" */
	const char *const *devel_keys;	/* NULL-terminated: "dbname", ... */
	int db_names;		/* APP_NAME in overrides is the database form */
	/*
	 * Appends APP's development variables ("CONFIG_X=value") to VARS,
	 * from the overrides in DC and the defaults. Returns 0, or -1 with
	 * ERR set.
	 */
	int (*devel_env)(const char *app, const struct sl_devconf *dc,
			 struct sl_strv *vars, struct sl_err *err);
};

int sl_service_main(int argc, char **argv, const struct sl_service *svc);

/* The login name of the user running the service (for local databases). */
const char *sl_service_login(void);

/*
 * An override of a directory (files.dir = ~/data/APP_NAME, absolute or
 * under ~/) or the default ~/.silverlining/SUBDIR/APP, created with MODE
 * (~/.silverlining itself with 0700).
 * Appends NAME=path to VARS. Returns 0, or -1 with ERR set.
 */
int sl_service_devel_dir(const char *app, const struct sl_devconf *dc,
			 const char *subdir, const char *name, mode_t mode,
			 struct sl_strv *vars, struct sl_err *err);

#endif
