/* silverlining — PostgreSQL and PostGIS on a node, through libpq. */
#ifndef SL_SERVICE_PG_H
#define SL_SERVICE_PG_H

#include "service.h"

/*
 * Each app has its own role and database, both named after the app in its
 * database form, owned by that role, closed to every other role (CONNECT
 * revoked from PUBLIC). Its password is random, hashed on this side
 * (SCRAM) before it reaches the server, and kept in ROOT/apps/APP/pg.password
 * (0640, root and the app's group). POSTGIS adds the extension.
 *
 * What the app wrote (its functions, constraints, defaults) is only ever
 * run by a session that logs in as its role: backup (pg_dump) and restore
 * (pg_restore) run as its Unix user, over TCP, with its password in an
 * unnamed passfile. The superuser's connection only makes, renames and
 * drops databases, the role and the extension.
 *
 * sl_service_pg_restore() is all or nothing: the archive is read whole (100 if it
 * is not), loaded into APP.restore, and renamed into place only when the
 * load succeeded; a failed load (111) leaves the app's database as it was.
 */
int sl_service_pg_install(int postgis, struct sl_err *err);
int sl_service_pg_setup(const struct sl_service_app *a, int postgis, struct sl_err *err);
int sl_service_pg_env(const struct sl_service_app *a, struct sl_strv *vars, struct sl_err *err);
int sl_service_pg_backup(const struct sl_service_app *a, int postgis, const char *dir, struct sl_err *err);
/*
 * DIR/database.pgdump reads whole (pg_restore writing its script to
 * /dev/null, as the app's user): 0, or -1 with ERR set, 100 when it is not.
 */
int sl_service_pg_check(const struct sl_service_app *a, const char *dir, struct sl_err *err);
int sl_service_pg_restore(const struct sl_service_app *a, int postgis, const char *dir, struct sl_err *err);
/*
 * The protocol's verify (service.h): DIR/database.pgdump loaded into the
 * scratch database APP.verify as a restore loads it, its tables= and
 * rows= counted by the app's role onto REPORT, the database dropped.
 */
int sl_service_pg_verify(const struct sl_service_app *a, int postgis, const char *dir,
			 struct sl_strv *report, struct sl_err *err);
int sl_service_pg_clear(const struct sl_service_app *a, int postgis, struct sl_err *err);

/*
 * PASSWORD of ROLE as the server keeps it (SCRAM-SHA-256), hashed here by
 * libpq on a superuser connection (local socket), into OUT (reset first):
 * the password itself never reaches the server. 0, or -1 with ERR (111).
 */
int sl_service_pg_scram(const char *password, const char *role, struct sl_buf *out,
			struct sl_err *err);

/*
 * An unnamed passfile (O_TMPFILE in /run, 0600, owned by UID:GID) holding
 * the one line HOST:PORT:*:USER:PASSWORD, for a client run as that user
 * to read through /proc/self/fd/N (its passfile=): the password is in no
 * argv and no environment, and no file of it outlives the process. The fd
 * (inherited by children; the caller closes it), or -1 with ERR (111).
 */
int sl_service_pg_passfile(const char *host, int port, const char *user, const char *password,
			   uid_t uid, gid_t gid, struct sl_err *err);

#endif
