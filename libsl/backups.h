/* silverlining — the node's store of scheduled backups, their records, their retention. */
#ifndef SL_BACKUPS_H
#define SL_BACKUPS_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "err.h"
#include "strv.h"

/*
 * The store (doc/SPEC.md "Scheduled backups"): ROOT/backups (0700 root),
 * ROOT/backups/APP (0700 root), and in it STAMP.tar.gz (0600, a whole
 * backup as sl-backup --backup makes it) beside STAMP.ini, its record:
 *
 *	app=APP
 *	instance=INSTANCE
 *	time=YYYY-mm-ddTHH:MM:SSZ	(when the backup was taken)
 *	bytes=N
 *	sha256=HEX			(of STAMP.tar.gz)
 *	status=verified|bad|unverified
 *	verified=YYYY-mm-ddTHH:MM:SSZ	(when the verification ended)
 *	seconds=S.SS			(how long it took)
 *	reason=...			(when not verified)
 *	[NAME]				(one per service: its verify report)
 *	tables=3
 *	...
 *
 * Both are written as NAME.part and renamed: a half-made backup or record
 * is never one. A backup is one when its record exists.
 */

/* STAMP: UTC as YYYYmmddTHHMMSSZ, 16 characters. */
#define SL_BACKUPS_STAMP_LEN 16

/* Whether S is a stamp (its digits a real date and time are not checked further). */
int sl_backups_stamp_valid(const char *s);

/* T as a stamp into OUT (17 bytes, NUL-terminated). */
void sl_backups_stamp(time_t t, char *out);

/* ROOT/backups, or ROOT/backups/APP when APP is not NULL, into OUT (reset first). */
void sl_backups_dir(struct sl_buf *out, const char *app);

/* ROOT/backups/APP/STAMP.EXT into OUT (reset first); returns OUT's string. */
const char *sl_backups_path(struct sl_buf *out, const char *app, const char *stamp,
			    const char *ext);

/* The apps with a directory in the store, sorted, onto OUT. 0, or -1 with ERR. */
int sl_backups_apps(struct sl_strv *out, struct sl_err *err);

/*
 * ROOT/backups and ROOT/backups/APP made when missing (0700 root), and
 * checked to be root's own directories, not links: 0, or -1 with ERR (111;
 * 100 when one is something else).
 */
int sl_backups_make_dir(const char *app, struct sl_err *err);

/*
 * The node's override of an app's backup.* keys: ROOT/backups/APP.schedule
 * (0600 root; no app name has a dot, so it is no app's store), lines
 * schedule=, keep_daily=, keep_weekly=, each winning over app.ini's key
 * when present; schedule=off: no scheduled backups. Written by
 * sl-backup --schedule.
 *
 * The value of KEY into OUT (reset first): 1, 0 when it is not set, -1
 * with errno when the file does not read.
 */
int sl_backups_override(const char *app, const char *key, struct sl_buf *out);

/*
 * APP's override set to TEXT (its "key=value" lines), or removed when
 * TEXT is empty. 0, or -1 with ERR.
 */
int sl_backups_set_override(const char *app, const char *text, struct sl_err *err);

/* What a record says. */
enum sl_backups_status {
	SL_BACKUPS_UNVERIFIED,	/* the verification could not run (the node failed) */
	SL_BACKUPS_VERIFIED,
	SL_BACKUPS_BAD,		/* it does not restore, or its bytes changed */
};

struct sl_backups_entry {
	char stamp[SL_BACKUPS_STAMP_LEN + 1];
	enum sl_backups_status status;
	struct sl_strv keys;	/* the record's top lines, "key=value" */
};
#define SL_BACKUPS_ENTRY_INIT { "", SL_BACKUPS_UNVERIFIED, SL_STRV_INIT }

/* The value of KEY in E's record, or NULL. */
const char *sl_backups_get(const struct sl_backups_entry *e, const char *key);

/* The word for S: "verified", "bad", "unverified". */
const char *sl_backups_status_name(enum sl_backups_status s);

/*
 * APP's stored backups (those with a record), oldest first, into *OUT
 * (*N entries, the caller frees them with sl_backups_free()). A missing
 * store is none. 0, or -1 with ERR (111).
 */
int sl_backups_list(const char *app, struct sl_backups_entry **out, size_t *n,
		    struct sl_err *err);
void sl_backups_free(struct sl_backups_entry *v, size_t n);

/*
 * The retention, a pure function of the stamps and statuses of V (N
 * entries, any order): KEEP[i] set to 1 for each entry to keep, 0 for
 * each to prune. Kept: the newest verified backup of each of the last
 * KEEP_DAILY days (UTC) that have a verified one, and of each of the
 * last KEEP_WEEKLY ISO weeks that have one; every bad or unverified
 * backup (kept, never counted). Everything else is pruned.
 */
void sl_backups_retain(const struct sl_backups_entry *v, size_t n, long keep_daily,
		       long keep_weekly, int *keep);

/*
 * APP's stored backups that sl_backups_retain() does not keep, with
 * KEEP_DAILY and KEEP_WEEKLY, removed (the record first: an archive
 * without one is no backup); their stamps pushed onto PRUNED. 0, or -1
 * with ERR (111).
 */
int sl_backups_prune(const char *app, long keep_daily, long keep_weekly,
		     struct sl_strv *pruned, struct sl_err *err);

/* The node's override of backup.KEY (keep_daily, keep_weekly) for APP, else DFLT. */
long sl_backups_keep(const char *app, const char *key, long dflt);

/*
 * E as a --list line, "APP STAMP STATUS bytes=N seconds=S verified=TIME
 * [reason=WHY]" with "-" for what the record lacks, into OUT (reset
 * first, no newline).
 */
void sl_backups_line(struct sl_buf *out, const char *app, const struct sl_backups_entry *e);

/* Whether every line of a verify's REPORT is key=value, the key [a-z0-9_]+. */
int sl_backups_report_valid(const char *report);

/* The defaults of app.ini's backup.keep_daily and backup.keep_weekly. */
#define SL_BACKUPS_KEEP_DAILY 7
#define SL_BACKUPS_KEEP_WEEKLY 4

/*
 * The SHA-256 (hex) and size of the regular file PATH (opened without
 * following a link), into HEX (reset first) and *BYTES. 0, or -1 with
 * ERR (111; 100 when PATH is not a regular file).
 */
int sl_backups_sha256_file(const char *path, struct sl_buf *hex, unsigned long long *bytes,
			   struct sl_err *err);

/*
 * The files= bytes= sha256= report of the tree DIR, pushed onto REPORT:
 * every entry's path, type and (for files) content, in sorted order,
 * hashed together, so two trees with the same names and contents hash
 * the same. The walk runs in a child process with the rights of UID and
 * GID only (a tree an app's user unpacked is read as that user), never
 * following a link. 0, or -1 with ERR (111).
 */
int sl_backups_tree_report(const char *dir, uid_t uid, gid_t gid, struct sl_strv *report,
			   struct sl_err *err);

#endif
