/* silverlining — an instance made ready to start on the node, and started. */
#ifndef SL_PREPARE_H
#define SL_PREPARE_H

#include <sys/types.h>

#include "app.h"
#include "buf.h"
#include "err.h"
#include "location.h"
#include "say.h"

/*
 * What sl-activate does to an uploaded instance (ROOT/instances/INSTANCE)
 * before its health gate: app.ini read and checked (python, a runner
 * that exists), missing packages installed (apt's output kept in
 * run/INSTANCE/apt.log), the app's system user made, its services set up
 * (and cleared with CLEAR), the app's log (LOGS/apps/APP/app.log, root's,
 * in a sticky directory the app's group writes in), the modes (the
 * instance root's and its app's group's, static/ public), the app's
 * secret, its deployment config (its own, else a linked copy of the one
 * serving its location, else of the app's newest), the environment
 * checked in sl-env's own words, an empty TEMP, and run/INSTANCE's
 * location, wsgi.py and uwsgi.ini with the unit's memory cap. Each step
 * tells what it did or why it failed through SAY.
 */
struct sl_prepare {
	struct sl_say say;
	int clear;	/* the services' data wiped before the start */
};
#define SL_PREPARE_INIT { SL_SAY_INIT, 0 }

/*
 * INSTANCE made ready to start, app.ini loaded into A (the caller
 * releases it). WHERE is its canonical location ("HOST PATH"), ROUTE the
 * location whose config it inherits. 0; or -1 with ERR: a step that
 * failed (told) gives "INSTANCE was not started; nothing switched" with
 * its exit code, a system failure its own message.
 */
int sl_prepare_instance(const struct sl_prepare *p, const char *instance, struct sl_app *a,
			const char *where, const struct sl_location *route, struct sl_err *err);

/*
 * INSTANCE's unit enabled when it is not and started (its drain timer
 * stopped: it serves again), then waited for until its socket appears,
 * at most 30 seconds. One that is active with its socket is left as it
 * is. 0; or -1 with ERR's code (a unit that stopped: its log's end told
 * first).
 */
int sl_prepare_start(const struct sl_say *s, const char *instance, struct sl_err *err);


/*
 * APP's system user: its name into USER, its ids (either may be NULL).
 * 1 when it exists, 0 when not yet; when it is another app's or cannot be
 * read, minus the exit code (the reason told).
 */
int sl_prepare_user(const struct sl_say *s, const char *app, struct sl_buf *user,
		    uid_t *uid, gid_t *gid);

/*
 * DIR/NAME, a log root writes in a directory the app's group writes in
 * (sticky): root's own regular file, of the app's group GID, mode 0640.
 * One that is not (an older release's, a symlink or a file the app made)
 * is replaced by one made under a name of its own and renamed over it.
 * 0, or -1 (told).
 */
int sl_prepare_root_log(const struct sl_say *s, const char *dir, const char *name, gid_t gid);

/* The last 20 lines of APP's log, read with the app's own rights, told. */
void sl_prepare_log_tail(const struct sl_say *s, const char *app);

#endif
