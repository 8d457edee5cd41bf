/* silverlining — INI files through inih, with line numbers. */
#ifndef SL_INI_H
#define SL_INI_H

#include <stddef.h>

#include "err.h"

/*
 * The one INI reader of the project (app.ini, ~/.silverlining.conf),
 * built on Debian's libinih. inih's rules apply: "[section]" lines,
 * "key = value" or "key: value", ';' and '#' start comment lines, " ;"
 * starts an inline comment, and an indented line after a key continues
 * that key's value (one more call of the handler with the same key).
 *
 * What inih does not give, this adds: the line number of every key, a
 * flag for continuation lines, " ;" comments removed from continuation
 * lines as from key lines (inih 55 keeps them there), and errors for what inih would silently
 * mangle (NUL bytes, lines longer than it can hold), so every message
 * can point at PATH:LINE.
 */

struct sl_ini_item {
	const char *section;	/* "" before the first [section] */
	const char *key;	/* as written (the caller folds case) */
	const char *value;	/* trimmed, inline comment removed */
	unsigned line;
	int continuation;	/* an indented line continuing KEY's value */
};

/*
 * Called for every key line and continuation line. Returns 0 to go on,
 * or -1 after filling ERR (its message should start with "PATH:LINE: ").
 */
typedef int (*sl_ini_fn)(void *user, const struct sl_ini_item *item,
			 struct sl_err *err);

/* The longest line, newline excluded, that inih can hold. */
#define SL_INI_MAX_LINE 198

/*
 * Parses PATH, calling FN for each item. Returns 0, or -1 with ERR set:
 * code 100 for a missing or unreadable file and for every error in the
 * text (message "PATH:LINE: ..."), 111 for I/O errors. Stops at the
 * first error.
 */
int sl_ini_parse(const char *path, sl_ini_fn fn, void *user,
		 struct sl_err *err);

/*
 * The same for TEXT (LEN bytes) held in memory, named PATH in messages
 * (a record read from a pipe: "the record from root@10.0.0.5").
 */
int sl_ini_parse_text(const char *path, const char *text, size_t len, sl_ini_fn fn,
		      void *user, struct sl_err *err);

#endif
