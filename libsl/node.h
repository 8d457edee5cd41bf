/* silverlining — the node's layout: where its state lives, its locks, its names. */
#ifndef SL_NODE_H
#define SL_NODE_H

#include "buf.h"
#include "err.h"

/*
 * Every path of a node's state is made here, and nowhere else:
 *
 *   ROOT                 SL_ROOT, default /var/lib/silverlining
 *   ROOT/routes          the route table (route.h)
 *   ROOT/disabled        the disabled apps, one name a line
 *   ROOT/deploy.lock     the node's lock: every change of the routes
 *   ROOT/locks/APP       an app's lock: preparing, starting, checking its
 *                        instances, its backups, restores and clean-up
 *   ROOT/instances/INST  an instance's files, as uploaded
 *   ROOT/run/INST        what the node made for it (app, uwsgi.ini, location)
 *   ROOT/configs/INST    its deployment config
 *   ROOT/secrets/APP     the app's secret
 *   ROOT/nginx           nginx's generated configuration
 *   LOGS                 SL_LOG_ROOT, default /var/log/silverlining
 *   SOCKETS              /run/silverlining, the instances' sockets
 *
 * An instance is named APP.YYYY-MM-DD_NNN (sl_instance_name_valid); its
 * app is the part before the last '.'.
 */
const char *sl_node_root(void);
const char *sl_node_logs(void);
const char *sl_node_sockets(void);

/* ROOT/NAME, appended to OUT after resetting it (NAME: "routes", "disabled"...). */
void sl_node_path(struct sl_buf *out, const char *name);

/* ROOT/DIR/INSTANCE (DIR: "instances", "run", "configs"), into OUT. */
void sl_node_instance_path(struct sl_buf *out, const char *dir,
			   const char *instance);

/* The app of INSTANCE (a valid instance name), into OUT. */
void sl_node_app_of(const char *instance, struct sl_buf *out);

/*
 * Takes the node's lock (ROOT/deploy.lock) or APP's (ROOT/locks/APP, APP
 * NULL for the node's), waiting at most TIMEOUT seconds. Returns the
 * locked fd (close-on-exec; the lock lasts until it is closed or the
 * process ends), or -1 with ERR: 99 when it timed out, 111 otherwise.
 */
int sl_node_lock(const char *app, int timeout, struct sl_err *err);

/*
 * 1 when APP's lock is held by another process now, 0 when it is free,
 * without waiting.
 */
int sl_node_app_busy(const char *app);

/* 1 when APP is in ROOT/disabled, 0 when not, -1 with ERR on a read error. */
int sl_node_disabled(const char *app, struct sl_err *err);

/* Adds APP to (ON) or removes it from ROOT/disabled, by temp file and rename. */
int sl_node_set_disabled(const char *app, int on, struct sl_err *err);

#endif
