/* silverlining — the node's layout: where its state lives, its locks, its names. */
#ifndef SL_NODE_H
#define SL_NODE_H

#include <sys/types.h>

#include "buf.h"
#include "err.h"
#include "route.h"

/*
 * Every path of a node's state is made here, and nowhere else:
 *
 *   ROOT                 SL_ROOT, default /var/lib/silverlining
 *   ROOT/routes          the route table (route.h)
 *   ROOT/disabled        the disabled apps, one name a line
 *   ROOT/deploy.lock     the node's lock: every change of the routes
 *   ROOT/locks/APP       an app's lock: preparing, starting, checking its
 *                        instances, its backups, restores and clean-up
 *   ROOT/locks/_acme     the lock of ACME issuance (acme.h), a name no
 *                        app can have
 *   ROOT/instances/INST  an instance's files, as uploaded
 *   ROOT/run/INST        what the node made for it (location, uwsgi.ini and
 *                        wsgi.py, or php-fpm.conf)
 *   ROOT/configs/INST    its deployment config
 *   ROOT/secrets/APP     the app's secret
 *   ROOT/nginx           nginx's generated configuration, routes.conf
 *   ROOT/nginx/at/KEY    the stable link of a routed location (below)
 *   ROOT/nginx/inst/INST what a link points at: sock and static of INST
 *   ROOT/tls             the certificates nginx serves (tls.h)
 *   ROOT/locks/_dbnode   the lock of a service node's servers (dbnode.h)
 *   ROOT/dbnode          a service node's state (dbnode.h)
 *   ROOT/acme            the ACME accounts and HTTP-01 answers (acme.h)
 *   LOGS                 SL_LOG_ROOT, default /var/log/silverlining
 *   LOGS/apps/APP/app.log  the app's log (uWSGI's, and what the app prints)
 *   SOCKETS              /run/silverlining, the instances' sockets
 *
 * An instance is named APP.YYYY-MM-DD_NNN (sl_instance_name_valid); its
 * app is the part before the last '.'.
 */
const char *sl_node_root(void);
const char *sl_node_logs(void);
const char *sl_node_sockets(void);

/*
 * The environment every node tool runs its children in: the system's
 * directories (/usr/local/sbin ... /bin) first on PATH, whatever the
 * caller's PATH was (it follows them), and LC_ALL=C.
 */
void sl_node_env(void);

/* ROOT/NAME, appended to OUT after resetting it (NAME: "routes", "disabled"...). */
void sl_node_path(struct sl_buf *out, const char *name);

/* ROOT/DIR/INSTANCE (DIR: "instances", "run", "configs"), into OUT. */
void sl_node_instance_path(struct sl_buf *out, const char *dir,
			   const char *instance);

/* LOGS/apps/APP/app.log, into OUT (after resetting it). */
void sl_node_app_log(struct sl_buf *out, const char *app);

/*
 * ROOT/tls/live/NAME.pem, HOST's live certificate (tls.h), into OUT
 * (after resetting it). NAME is HOST as routed, with '*' written '_' and
 * a leading '.' written "_." ("*" -> "_", ".example.com" ->
 * "_.example.com"): neither is a byte of a DNS name, so no two hosts share
 * a file.
 */
void sl_node_tls_path(struct sl_buf *out, const char *host);

/* The app of INSTANCE (a valid instance name), into OUT. */
void sl_node_app_of(const char *instance, struct sl_buf *out);

/*
 * Takes the node's lock (ROOT/deploy.lock) or APP's (ROOT/locks/APP, APP
 * NULL for the node's), waiting at most TIMEOUT seconds. Returns the
 * locked fd (close-on-exec; the lock lasts until it is closed or the
 * process ends), or -1 with ERR: 99 when it timed out, 111 otherwise.
 */
int sl_node_lock(const char *app, int timeout, struct sl_err *err);

/* The name sl_node_lock() takes, in APP's place, for ACME issuance. */
#define SL_NODE_LOCK_ACME "_acme"
/* ... and for a service node's servers (sl-dbnode). */
#define SL_NODE_LOCK_DBNODE "_dbnode"

/*
 * 1 when APP's lock is held by another process now, 0 when it is free,
 * without waiting.
 */
int sl_node_app_busy(const char *app);

/* 1 when APP is in ROOT/disabled, 0 when not, -1 with ERR on a read error. */
int sl_node_disabled(const char *app, struct sl_err *err);

/*
 * Pushes onto OUT the apps in ROOT/disabled, in the file's order (a
 * missing file: none). 0, or -1 with ERR on a read error.
 */
struct sl_strv;
int sl_node_disabled_list(struct sl_strv *out, struct sl_err *err);

/* Adds APP to (ON) or removes it from ROOT/disabled, by temp file and rename. */
int sl_node_set_disabled(const char *app, int on, struct sl_err *err);

/*
 * The stable links. nginx reaches each routed location (HOST PATH)
 * through one path that never changes while the location is routed,
 *
 *   ROOT/nginx/at/KEY -> ../inst/INSTANCE
 *   ROOT/nginx/inst/INSTANCE/sock   -> SOCKETS/INSTANCE.sock
 *   ROOT/nginx/inst/INSTANCE/static -> ROOT/instances/INSTANCE/static
 *   ROOT/nginx/inst/INSTANCE/app    -> ROOT/instances/INSTANCE
 *
 * so that nginx's text names no instance, and switching a location to
 * another instance is one rename(2) of its link: atomic, and no reload.
 * KEY is the first 128 bits of SHA-256("HOST PATH") in 32 hex digits:
 * the socket's path, ROOT/nginx/at/KEY/sock, stays within the 108 bytes
 * of a Unix socket's name for the default ROOT. Everything here is
 * root's, mode 0755, under ROOT (not /run), so the links outlive a
 * reboot; nginx's workers search the directories and follow the links,
 * which give them no more than the socket (mode 0660, group www-data)
 * and the instance's public static/ (app is the path nginx names a PHP
 * app's scripts by, for php-fpm, and serves a php_root's other files
 * through).
 */

/* ROOT/nginx/at/KEY for HOST PATH, into OUT (after resetting it). */
void sl_node_link_path(struct sl_buf *out, const char *host, const char *path);

/*
 * Points HOST PATH's link at INSTANCE, making ROOT/nginx/inst/INSTANCE
 * first when it is missing; an existing link is replaced by a new one
 * made beside it and renamed over it. Returns 1 when the link changed,
 * 0 when it already pointed there, -1 with ERR (111).
 */
int sl_node_link_set(const char *host, const char *path, const char *instance,
		     struct sl_err *err);

/*
 * Removes the links of the locations R does not route, and the
 * ROOT/nginx/inst/ entries of the instances R does not name. 0, or -1
 * with ERR (111) naming the first entry that could not be removed.
 */
int sl_node_links_prune(const struct sl_routes *r, struct sl_err *err);

/*
 * The app's secret, ROOT/secrets/APP: 256 random bits as 64 hex digits
 * (getrandom), made when it is missing or empty and never replaced;
 * given to UID:GID with mode 0600 every time. 0, or -1 with ERR.
 */
int sl_node_app_secret(const char *app, uid_t uid, gid_t gid, struct sl_err *err);

/*
 * The mark sl-activate --prepare leaves on an instance it made ready to
 * switch (run/INSTANCE/prepared, root's, 0644): TEXT, what the switch is
 * to do (the locations it was prepared for). A marked instance that
 * serves nothing is not retired (switch.h) until it is switched, or
 * abandoned. 0, or -1 with ERR.
 */
int sl_node_ready_mark(const char *instance, const char *text, struct sl_err *err);

/* 1 when INSTANCE is marked (its text appended to TEXT, unless NULL), else 0. */
int sl_node_ready_marked(const char *instance, struct sl_buf *text);

/* INSTANCE's mark removed (switched, abandoned, or activated as a whole). */
void sl_node_ready_unmark(const char *instance);

#endif
