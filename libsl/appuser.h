/* silverlining — the Unix user each app runs as on a node, and who owns it. */
#ifndef SL_APPUSER_H
#define SL_APPUSER_H

#include <sys/types.h>

#include "buf.h"
#include "err.h"

/*
 * Every app runs as its own Unix user, and that user's files, TEMP,
 * secrets and database passwords are the app's alone: two apps must
 * never share one. This module is the one owner of the rule (sl-app
 * --user, the services and sl-activate all go through it).
 *
 * The name: "sl-APP" when that fits the 32 characters of a Linux user
 * name (APP of at most 29 characters); else "sl-" and the first 145 bits
 * of SHA-256(APP) in 29 base32 letters (a-z, 2-7). The hash is wide
 * enough that no two app names are known to map to one user.
 *
 * The owner: the node creates each app's user with the GECOS field
 * SL_APPUSER_GECOS "APP" ("silverlining app blog"). A user that already
 * exists is the app's only if the first field of its GECOS (before any
 * ',') is exactly that; any other user of that name (another app's, one
 * made by hand or by a package, one made before the owner was recorded)
 * is refused, never shared.
 */
#define SL_APPUSER_GECOS "silverlining app "
#define SL_APPUSER_MAX 32	/* the longest Linux user name */

/*
 * Appends to OUT (after resetting it) the user name APP maps to, at most
 * SL_APPUSER_MAX characters. APP must be a valid app name
 * (sl_app_name_valid); 0, or -1 with ERR (100) when it is not.
 */
int sl_appuser_name(const char *app, struct sl_buf *out, struct sl_err *err);

/*
 * The owner rule alone: 0 when a user named USER whose GECOS field is
 * GECOS belongs to APP, else -1 with ERR (100) naming both USER and the
 * app the GECOS names, if any.
 */
int sl_appuser_check(const char *app, const char *user, const char *gecos,
		     struct sl_err *err);

/*
 * The user APP runs as, looked up in the node's user database
 * (getpwnam): the name into USER, and, when it exists and belongs to
 * APP, its ids into *UID and *GID (either pointer may be NULL). Returns 1
 * when the user exists and is APP's, 0 when it does not exist yet (the
 * ids are then (uid_t)-1 and (gid_t)-1; sl-activate creates it), -1 with
 * ERR: 100 for an invalid app name or a user that is not APP's
 * (sl_appuser_check), 111 when the user database cannot be read.
 */
int sl_appuser_get(const char *app, struct sl_buf *user, uid_t *uid,
		   gid_t *gid, struct sl_err *err);

#endif
