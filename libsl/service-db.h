/* silverlining — the database services' shared side (PostgreSQL, MySQL). */
#ifndef SL_SERVICE_DB_H
#define SL_SERVICE_DB_H

#include "service.h"

struct sl_service_db_kind {
	const char *var;		/* "PG": CONFIG_PG_DBNAME, ... */
	const char *url_scheme;		/* "postgresql" */
	const char *sqla_scheme;	/* "postgresql+psycopg2" */
	const char *socket_host;	/* host written in URLs for the local socket */
	const char *sqla_query;		/* appended to the SQLAlchemy URL, or "" */
};

extern const struct sl_service_db_kind sl_service_db_postgresql, sl_service_db_mysql;
extern const char *const sl_service_db_devel_keys[];	/* dbname user password host port */

/*
 * What a server on another node adds to a database's variables (NULL
 * everywhere: nothing, the variables of a local server as they always were).
 */
struct sl_service_db_extra {
	/*
	 * "sslmode=verify-ca&sslrootcert=PATH": ends both URLs, after a '?'
	 * or after the kind's own SQLAlchemy query and a '&'. Its values are
	 * written as given: they must be safe in a URL's query.
	 */
	const char *query;
	const char *const *vars;	/* more "CONFIG_X=value", NULL-terminated, or NULL */
};

/*
 * Appends the seven CONFIG_<VAR>_* variables of a database to VARS, and
 * X's (X may be NULL).
 */
void sl_service_db_push_vars(const struct sl_service_db_kind *k, const char *dbname,
			     const char *user, const char *password, const char *host,
			     const char *port, const struct sl_service_db_extra *x,
			     struct sl_strv *vars);

/*
 * The development variables of a database service: the database named
 * after the app (dashes become underscores), the login user, no password,
 * the local socket; each overridable by PREFIX.dbname, .user, .password,
 * .host (which may carry ":PORT") and .port.
 */
int sl_service_db_devel_env(const struct sl_service_db_kind *k, const char *app,
			    const struct sl_devconf *dc, struct sl_strv *vars,
			    struct sl_err *err);

/*
 * A's variables on a node: reads its password record PATH and pushes
 * the seven variables for HOST and PORT, the database and its user both
 * A's database form, and X's (NULL: a local server). 0, or -1 with ERR set.
 */
int sl_service_db_env(const struct sl_service_db_kind *k, const struct sl_service_app *a,
		      const char *path, const char *host, const char *port,
		      const struct sl_service_db_extra *x, struct sl_strv *vars,
		      struct sl_err *err);

#endif
