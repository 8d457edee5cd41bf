/* silverlining — instances on the node: names, and building one from an upload. */
#ifndef SL_INSTANCE_H
#define SL_INSTANCE_H

#include "err.h"

/*
 * An instance is one complete, immutable upload of an app, at
 * ROOT/instances/APP.YYYY-MM-DD_NNN (ROOT: $SL_ROOT, else
 * /var/lib/silverlining; the date is UTC, NNN counts up within the day
 * from 001). The name .silverlining is reserved in every app for the
 * node's own records. ROOT/instances/.index-APP holds the manifest of
 * APP's newest instance: what the next upload is compared with.
 *
 * An instance is built under ROOT/instances/.incoming-APP-PID and renamed
 * to its name only once every file is written, checked and synced: a
 * half-sent instance never exists under an instance name. Builds of one
 * app are serialised by a lock (ROOT/instances/.lock-APP); leftovers of
 * an interrupted build are removed by the next one.
 */

/* The state root: $SL_ROOT if set, else /var/lib/silverlining. */
const char *sl_instance_root(void);

/* Whether NAME is APP.YYYY-MM-DD_NNN for a valid APP. */
int sl_instance_name_valid(const char *name);

/*
 * Pushes onto OUT the instances in ROOT/instances (of APP, when APP is not
 * NULL), sorted by app, then each app's oldest first. Entries that are not
 * instance names (an upload being built, the index) are left out; no
 * directory is an empty list. 0, or -1 with ERR: 100 for an invalid APP,
 * 111 when the directory cannot be read.
 */
struct sl_strv;
int sl_instance_list(const char *app, struct sl_strv *out, struct sl_err *err);

/*
 * The receiving side of sl-sync. Reads from IN_FD
 *
 *	"manifest BYTES\n" MANIFEST
 *
 * (the wire form of manifest.h), answers on OUT_FD with
 *
 *	"need COUNT\n" then COUNT lines: the index of each file it lacks
 *
 * having hard-linked every other file from the newest instance of APP
 * (same content and mode), reads the contents of the needed files in
 * that order, each exactly its size, then "end\n"; checks every hash,
 * syncs, renames, and answers "instance NAME\n". Returns 0 with *NAME
 * set (the caller frees it), or -1 with ERR set; nothing is left under
 * an instance name on failure.
 */
int sl_instance_receive(const char *root, const char *app, int in_fd,
			int out_fd, char **name, struct sl_err *err);

/*
 * The same, naming the instance AS (NULL: as sl_instance_receive()): the
 * one name a fleet deploy gives every node (sl-sync --server --as). AS
 * must be an instance name of APP dated within a day of the node's UTC
 * date and newer than every instance of APP on the node (so a free name:
 * the rename never replaces); else -1 with ERR (100), checked before
 * anything is read.
 */
int sl_instance_receive_as(const char *root, const char *app, const char *as,
			   int in_fd, int out_fd, char **name, struct sl_err *err);

/*
 * The name the next upload of APP would take: APP.DATE_NNN with today's
 * UTC date and NNN one more than today's highest (001 for none). Waits
 * for an upload of APP under way. 0 with *NAME set (the caller frees
 * it), or -1 with ERR: 100 for an invalid app or a full day, 111 when
 * the instances cannot be read.
 */
int sl_instance_next(const char *root, const char *app, char **name, struct sl_err *err);

/*
 * A new instance of FROM's app, a copy of ROOT/instances/FROM: its files
 * hard-linked (instances are immutable), its directories and symlinks
 * made again with FROM's modes and owners, built under the build's own
 * temporary name and renamed to the name the next upload would take
 * (sl_instance_next()), under the app's build lock: a half copy is never
 * an instance. Anything else in FROM (a device, a socket) is refused. The
 * app's index follows the copy when it named FROM. 0 with *NAME set (the
 * caller frees it), or -1 with ERR: 100 for an invalid or missing FROM,
 * 111 when the system fails (nothing left under an instance name).
 */
int sl_instance_copy(const char *root, const char *from, char **name, struct sl_err *err);

/*
 * The same for the deployment config of INSTANCE (silver update
 * --config): received into ROOT/configs/INSTANCE, which must not exist
 * yet. ROOT/configs is 0711 and each config 0700 root, its files linked
 * from the app's newest config where they are the same; sl-activate
 * hands it to the app's group when it starts the instance.
 */
int sl_config_receive(const char *root, const char *instance, int in_fd,
		      int out_fd, struct sl_err *err);

/*
 * The sending side of silver diff: writes to OUT_FD
 *
 *	"instance NAME\nmanifest BYTES\n" MANIFEST
 *
 * of ROOT/instances/INSTANCE, then reads from IN_FD, to its end, the
 * paths (one a line) of files whose old content is wanted, and answers
 * each in order with "file SIZE\n" and the content, or "none\n" for a
 * path that is not a file of the instance. 0, or -1 with ERR set.
 */
int sl_instance_show(const char *root, const char *instance, int in_fd,
		     int out_fd, struct sl_err *err);

#endif
