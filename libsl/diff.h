/* silverlining — what an upload would change: two manifests compared. */
#ifndef SL_DIFF_H
#define SL_DIFF_H

#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "manifest.h"

/*
 * silver diff (silver-diff(1)) compares the manifest of the instance
 * serving a location with the manifest of the app on the laptop. Each
 * entry that would change is one change, its path as in the manifests:
 *
 *	A  added: only in the new manifest
 *	D  deleted: only in the old one
 *	M  modified: the content (files), the target (symlinks) or the mode
 *	T  type changed: a file became a directory, a symlink...
 */
struct sl_diff_change {
	char what;			/* 'A', 'D', 'M' or 'T' */
	const struct sl_manifest_entry *old;	/* NULL for A */
	const struct sl_manifest_entry *new;	/* NULL for D */
	long fetched;			/* the caller's: -1 after sl_diff_manifests() */
};

struct sl_diff {
	struct sl_diff_change *v;
	size_t n;
};
#define SL_DIFF_INIT { NULL, 0 }

/*
 * Fills D with the changes from OLD (NULL: nothing deployed, every entry
 * is new) to NEW, sorted by path. The changes point into OLD and NEW,
 * which must outlive D.
 */
void sl_diff_manifests(struct sl_diff *d, const struct sl_manifest *old,
		       const struct sl_manifest *new);

/* The change's path: the new entry's, or the old one's for D. */
const char *sl_diff_path(const struct sl_diff_change *c);

/*
 * Appends C's line of the list to OUT, without a newline: "M app.py",
 * "A static/" (a directory), "T bin/run (symlink, was a file)",
 * "M run.sh (mode 644 -> 755)", then " -> TARGET" for a symlink.
 */
void sl_diff_line(struct sl_buf *out, const struct sl_diff_change *c);

/*
 * Whether C's content differs as text: a file on either side whose
 * content is not the same (a mode change alone is not).
 */
int sl_diff_has_text(const struct sl_diff_change *c);

/*
 * Runs `diff -u` between OLD (C's old content, or NULL when there is
 * none) and the new file in APPDIR, labelled a/PATH and b/PATH (or
 * /dev/null for a side that is not a file); diff writes to stdout. OLD
 * goes through a temporary file in $TMPDIR (or /tmp), removed after.
 * Returns 0, or -1 with ERR set when diff could not run or failed.
 */
int sl_diff_show(const struct sl_diff_change *c, const char *appdir,
		 const struct sl_buf *old, struct sl_err *err);

void sl_diff_release(struct sl_diff *d);

#endif
