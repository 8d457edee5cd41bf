/* silverlining — what every sl-service-NAME executable shares. */
#ifndef SL_SERVICE_H
#define SL_SERVICE_H

#include <sys/types.h>

#include "devconf.h"
#include "err.h"
#include "strv.h"

/*
 * A service executable is a table and one call:
 *
 *	int main(int argc, char **argv)
 *	{
 *		return sl_service_main(argc, argv, &postgis);
 *	}
 *
 * sl_service_main() parses the protocol's verbs (doc/SPEC.md "The service
 * protocol"), validates the app name, and calls the service's functions.
 * Verbs a service does not provide yet exit 100 with "not implemented on
 * this side": never a silent success.
 */

/* An app on the node, as the node-side verbs see it. */
struct sl_service_app {
	const char *name;	/* app_name */
	char *dbname;		/* its database form: my-blog -> my_blog */
	char *user;		/* its Unix user (sl_appuser_get) */
	uid_t uid;		/* (uid_t)-1 when the user does not exist yet */
	gid_t gid;
	char *data;		/* ROOT/apps/APP: where services keep its records and areas */
};

/*
 * Every function returns 0, or -1 with ERR set (100: refused, 111: a
 * server or the system failed). A NULL node function means the verb is
 * not built on this side: it exits 100 saying so, never a silent success.
 */
struct sl_service {
	const char *name;		/* "postgis" */
	const char *devel_prefix;	/* keys in ~/.silverlining.conf: "postgis" */
	const char *const *devel_keys;	/* NULL-terminated: "dbname", ... */
	int db_names;		/* APP_NAME in overrides is the database form */
	/*
	 * Appends APP's development variables ("CONFIG_X=value") to VARS,
	 * from the overrides in DC and the defaults.
	 */
	int (*devel_env)(const char *app, const struct sl_devconf *dc,
			 struct sl_strv *vars, struct sl_err *err);
	/* node: install and start the server side, idempotent */
	int (*install)(struct sl_err *err);
	/* node: APP's database or area and credentials, idempotent */
	int (*setup)(const struct sl_service_app *a, struct sl_err *err);
	/* node: APP's variables from the node's records */
	int (*env)(const struct sl_service_app *a, struct sl_strv *vars, struct sl_err *err);
	/* node: APP's data into the directory DIR (made), and back */
	int (*backup)(const struct sl_service_app *a, const char *dir, struct sl_err *err);
	int (*restore)(const struct sl_service_app *a, const char *dir, struct sl_err *err);
	/*
	 * node: DIR, a backup's part for this service, reads whole, as the
	 * service's restore reads it, with the app's rights; nothing changes.
	 * The one owner of what a part must be: sl-backup asks every service
	 * before a restore touches any.
	 */
	int (*check)(const struct sl_service_app *a, const char *dir, struct sl_err *err);
	/* node: APP's data dropped and made again, empty */
	int (*clear)(const struct sl_service_app *a, struct sl_err *err);
	/*
	 * node: DIR, a backup's part for this service, restored into a
	 * scratch place of its own (a database, a directory, a server) that
	 * no app can reach, checked there, and thrown away; APP's data is
	 * never touched. What was found goes to REPORT as "key=value" lines
	 * (tables=, rows=, files=, bytes=, sha256=, keys=). 0: it restores;
	 * -1 with ERR: 100 the part does not restore or does not check (the
	 * backup is bad), 111 the node failed and nothing is known.
	 */
	int (*verify)(const struct sl_service_app *a, const char *dir,
		      struct sl_strv *report, struct sl_err *err);
};

int sl_service_main(int argc, char **argv, const struct sl_service *svc);

/*
 * Runs ARGV (IN and OUT: fds or SL_RUN_INHERIT), as the Unix user AS when
 * not NULL (through runuser). A non-zero exit is an error naming WHAT,
 * with code 111 (100 and above pass through).
 */
int sl_service_run(char *const *argv, const char *as, int in, int out,
		   const char *what, struct sl_err *err);

/*
 * A dump: runs ARGV (as AS when not NULL) with its output into DIR/FILE
 * (DIR made 0700, the file 0600). A load: runs ARGV with DIR/FILE as its
 * input. 0, or -1 with ERR set.
 */
int sl_service_dump(char *const *argv, const char *as, const char *dir,
		    const char *file, struct sl_err *err);
int sl_service_load(char *const *argv, const char *as, const char *dir,
		    const char *file, struct sl_err *err);

/* Installs Debian packages PKGS (NULL-terminated) unless all are there. */
int sl_service_apt(const char *const *pkgs, struct sl_err *err);

/* Starts the systemd unit UNIT unless it runs; 111 if it will not. */
int sl_service_start(const char *unit, struct sl_err *err);

/*
 * Writes a secret for APP to PATH (mode 0640, root and the app's group)
 * if PATH holds none: 32 random bytes as hex, the same every later call.
 * Appends it to OUT. 1 if it was made now, 0 if it existed, -1 with ERR.
 */
int sl_service_secret(const struct sl_service_app *a, const char *path,
		      struct sl_buf *out, struct sl_err *err);

/*
 * The secret a setup wrote to PATH, into OUT (trailing whitespace cut).
 * 0, or -1 with ERR: "unable to read PATH (set the app up first)".
 */
int sl_service_read_secret(const char *path, struct sl_buf *out, struct sl_err *err);

/*
 * DIR/FILE, a backup's part, opened by root for reading: a regular file,
 * never through a link (O_NOFOLLOW). The fd, its path into PATH
 * (replaced); -1 with ERR: 100 when it is not a regular file.
 */
int sl_service_open_part(const char *dir, const char *file, struct sl_buf *path,
			 struct sl_err *err);

/* The login name of the user running the service (for local databases). */
const char *sl_service_login(void);

/*
 * An override of a directory (files.dir = ~/data/APP_NAME, absolute or
 * under ~/) or the default ~/.silverlining/SUBDIR/APP, created with MODE
 * (~/.silverlining itself with 0700).
 * Appends NAME=path to VARS. Returns 0, or -1 with ERR set.
 */
int sl_service_devel_dir(const char *app, const struct sl_devconf *dc,
			 const char *subdir, const char *name, mode_t mode,
			 struct sl_strv *vars, struct sl_err *err);

/*
 * A file only APP's Unix user (and root) may read, holding TEXT: a client's
 * option file with the app's password, for a client run as that user. It
 * is made in a new directory under /run that root owns (0711: the user
 * reaches the file, cannot list or change the directory), the file 0600
 * and the user's. Its path is appended to PATH. 0, or -1 with ERR set;
 * sl_service_private_file_remove() removes the file and its directory.
 */
int sl_service_private_file(const struct sl_service_app *a, const char *text,
			    struct sl_buf *path, struct sl_err *err);
void sl_service_private_file_remove(const char *path);

#endif
