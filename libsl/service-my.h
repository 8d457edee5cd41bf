/* silverlining — MySQL (MariaDB) on a node, through MariaDB's client library. */
#ifndef SL_SERVICE_MY_H
#define SL_SERVICE_MY_H

#include "service.h"

/*
 * Each app has its own database and user 'APP'@'localhost', both named
 * after the app in its database form, the user granted that database
 * alone. Its password is random, given to the server as its hash, and
 * kept in ROOT/apps/APP/mysql.password (0640, root and the app's group).
 * Database names are escaped in GRANT and REVOKE ('_' and '%' are patterns
 * there); setup revokes the pattern grant of earlier versions.
 *
 * Backup and restore run the clients as the app's Unix user, logged in as
 * its MariaDB user. A restore refuses a dump that is not whole, loads it
 * into a side database (sandboxed client), then swaps the tables in with
 * one RENAME TABLE and makes the views, triggers and routines again as the
 * app: on any failure the app's data is as it was (sl-service-mysql(1)).
 */
int sl_service_my_install(struct sl_err *err);
int sl_service_my_setup(const struct sl_service_app *a, struct sl_err *err);
int sl_service_my_env(const struct sl_service_app *a, struct sl_strv *vars, struct sl_err *err);
int sl_service_my_backup(const struct sl_service_app *a, const char *dir, struct sl_err *err);
/* DIR/database.sql is a whole dump: 0, or -1 with ERR set (100). */
int sl_service_my_check(const struct sl_service_app *a, const char *dir, struct sl_err *err);
int sl_service_my_restore(const struct sl_service_app *a, const char *dir, struct sl_err *err);
/*
 * The protocol's verify (service.h): DIR/database.sql loaded as a restore
 * loads it into a scratch database of its own, its tables= and rows=
 * counted by the app's MariaDB user onto REPORT, the database dropped.
 */
int sl_service_my_verify(const struct sl_service_app *a, const char *dir,
			 struct sl_strv *report, struct sl_err *err);
int sl_service_my_clear(const struct sl_service_app *a, struct sl_err *err);

/* PASS as MariaDB keeps it (mysql_native_password: '*' and 40 hex digits, NUL-terminated). */
void sl_service_my_password_hash(const char *pass, char out[42]);

#endif
