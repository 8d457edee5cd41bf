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
	/* a server on another node (remote mode, dbrecord.h): */
	const char *record;		/* "postgresql": its section, its .pem */
	const char *server_file;	/* "pg.server": ROOT/apps/APP/<this> */
	const char *ca_query;		/* "sslmode=verify-ca&sslrootcert=": + the .pem's path */
	const char *ca_var;		/* "CONFIG_PG_SSLROOTCERT": the .pem's path */
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

/*
 * The remote server A was set up on, kept as ROOT/apps/APP/<server_file>
 * ("HOST PORT\n"), beside its password record and with its modes: setup
 * writes it as root; env reads it with the app's rights, which cannot
 * read the node's record (0600: it holds the server's admin password); a
 * setup on the node's own server removes it.
 */
void sl_service_db_server_path(const struct sl_service_db_kind *k,
			       const struct sl_service_app *a, struct sl_buf *out);
/* The file's text for HOST and PORT into OUT (reset first). */
void sl_service_db_server_text(const char *host, int port, struct sl_buf *out);
/*
 * A's variables when it was set up on a remote server: its host and port
 * from that file, both URLs ending in the kind's ca_query with the
 * certificate's path (percent-encoded but its slashes), and ca_var. 1 when
 * pushed, 0 when A's server is the node's own (nothing pushed), -1 with
 * ERR (111 for a damaged file). PATH is the password record.
 */
int sl_service_db_env_remote(const struct sl_service_db_kind *k, const struct sl_service_app *a,
			     const char *path, struct sl_strv *vars, struct sl_err *err);

#endif
