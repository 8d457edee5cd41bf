/* silverlining — an app's config.template, filled into a deployment config. */
#ifndef SL_TEMPLATE_H
#define SL_TEMPLATE_H

#include <stddef.h>

#include "err.h"
#include "manifest.h"
#include "strv.h"

/*
 * A template is a directory (sl-config(1), silver-create-config(1)).
 * Its optional template.ini lists the variables ([variables] NAME = what
 * it is) and their defaults ([defaults] NAME = VALUE); a file named
 * FILE.tmpl becomes FILE with every {{NAME}} (spaces allowed inside the
 * braces) replaced, and +NAME+ in any name is replaced too. A variable
 * used but not listed is a variable all the same. Names are a letter or
 * '_', then letters, digits or '_'. Every other file, directory and
 * symlink is copied as it is; template.ini itself is not.
 *
 *	struct sl_template t = SL_TEMPLATE_INIT;
 *	if (sl_template_load(&t, dir, &skipped, &err) < 0) ...
 *	if (sl_template_set(&t, "greeting=hello", &err) < 0) ...
 *	if (sl_template_write(&t, "out", &err) < 0) ...
 *	sl_template_release(&t);
 *
 * Errors carry SL_EXIT_USAGE for what the template or the values get
 * wrong, SL_EXIT_TEMP for what the system refuses.
 */

struct sl_template_var {
	char *name;
	char *desc;		/* from [variables], or NULL */
	char *value;		/* a default or a value given, or NULL */
	int given;		/* set by sl_template_set(): never asked */
};

struct sl_template {
	char *dir;		/* the template directory */
	struct sl_manifest m;	/* what it holds */
	struct sl_template_var *v;	/* in order: template.ini's, then as used */
	size_t n, alloc;
	size_t listed;		/* the first LISTED come from template.ini */
};
#define SL_TEMPLATE_INIT { NULL, SL_MANIFEST_INIT, NULL, 0, 0, 0 }

/*
 * Reads the template in DIR (its .silverignore applies): template.ini,
 * the entries, and the variables their names and .tmpl files use.
 * Entries that are not files, directories or symlinks are left out and
 * appended to SKIPPED. Returns 0, or -1 with ERR set.
 */
int sl_template_load(struct sl_template *t, const char *dir,
		     struct sl_strv *skipped, struct sl_err *err);

/* The variable NAME (LEN bytes), or NULL. */
struct sl_template_var *sl_template_find(const struct sl_template *t,
					 const char *name, size_t len);

/*
 * Sets a variable from "VAR=VALUE" and marks it given. -1 with ERR (100)
 * when ASSIGNMENT has no '=' or names no variable of the template.
 */
int sl_template_set(struct sl_template *t, const char *assignment,
		    struct sl_err *err);

/* Whether NAME looks like a secret's (password, token...): never shown. */
int sl_template_is_secret(const char *name);

/*
 * Writes the filled template as the new directory OUT: built beside it
 * as OUT.part-PID and renamed into place whole, files 0600 (0700 when
 * executable), directories 0700: a config holds secrets. Every variable
 * must have a value. A value that makes a name hold a '/', or a
 * component that is empty, "." or "..", is refused (100). Returns 0, or
 * -1 with ERR set, and then nothing is left behind.
 */
int sl_template_write(const struct sl_template *t, const char *out,
		      struct sl_err *err);

void sl_template_release(struct sl_template *t);

#endif
