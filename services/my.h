/* silverlining — MySQL (MariaDB) on a node, through MariaDB's client library. */
#ifndef SL_SERVICE_MY_H
#define SL_SERVICE_MY_H

#include "service.h"

/*
 * Each app has its own database and user 'APP'@'localhost', both named
 * after the app in its database form, the user granted that database
 * alone. Its password is random, given to the server as its hash, and
 * kept in ROOT/apps/APP/mysql.password (0640, root and the app's group).
 */
int sl_my_install(struct sl_err *err);
int sl_my_setup(const struct sl_svc_app *a, struct sl_err *err);
int sl_my_env(const struct sl_svc_app *a, struct sl_strv *vars, struct sl_err *err);
int sl_my_backup(const struct sl_svc_app *a, const char *dir, struct sl_err *err);
int sl_my_restore(const struct sl_svc_app *a, const char *dir, struct sl_err *err);
int sl_my_clear(const struct sl_svc_app *a, struct sl_err *err);

#endif
