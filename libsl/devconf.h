/* silverlining — development overrides from ~/.silverlining.conf. */
#ifndef SL_DEVCONF_H
#define SL_DEVCONF_H

#include <stddef.h>

#include "err.h"
#include "strv.h"

/*
 * On the laptop, services take their values from the [devel] and
 * [devel:APP] sections of ~/.silverlining.conf (doc/SPEC.md "Development
 * overrides"):
 *
 *	[devel]
 *	postgis.host = localhost:5433
 *	postgis.dbname = test_APP_NAME
 *
 *	[devel:blog]
 *	postgis.dbname = blog_dev
 *
 * [devel:APP] wins over [devel], whatever their order in the file; the
 * literal APP_NAME in a value becomes the app's name (for database
 * services, the name as a database identifier: my-blog gives my_blog). Other sections
 * belong to other parts of silverlining and are skipped.
 */

struct sl_devconf_entry {
	char *key;		/* without the service prefix: "dbname" */
	char *value;		/* APP_NAME already replaced */
	unsigned line;
	int app_section;	/* from [devel:APP] */
};

struct sl_devconf {
	char *path;
	struct sl_devconf_entry *v;
	size_t n;
	struct sl_strv warnings;	/* "PATH:LINE: ..." */
};
#define SL_DEVCONF_INIT { NULL, NULL, 0, SL_STRV_INIT }

/*
 * The configuration file: $SL_CONF if set (tests, other setups),
 * else ~/.silverlining.conf. The caller frees it. NULL if there is no
 * home directory.
 */
char *sl_devconf_path(void);

/*
 * Reads the keys "PREFIX.KEY" for APP from the configuration file (a
 * missing file means no overrides); APP_NAME in values becomes SUBST
 * (the app name, or its database form with underscores). KNOWN is a
 * NULL-terminated list of the KEYs the caller understands; others become
 * warnings. Returns 0, or -1 with ERR set (100 for a malformed file,
 * with PATH:LINE).
 */
int sl_devconf_load(struct sl_devconf *dc, const char *app, const char *subst,
		    const char *prefix, const char *const *known,
		    struct sl_err *err);

/* The value of KEY, or NULL when it was not set. */
const char *sl_devconf_get(const struct sl_devconf *dc, const char *key);

void sl_devconf_release(struct sl_devconf *dc);

/*
 * The [acme] section of the same file: where the node gets its
 * certificates from, for every deploy from this laptop (doc/SPEC.md
 * "HTTPS"):
 *
 *	[acme]
 *	directory = https://acme-staging-v02.api.letsencrypt.org/directory
 *	email = admin@example.com
 *
 * Other sections are skipped (as sl_devconf_load skips this one); an
 * unknown key in [acme] is a warning. A later line wins over an earlier.
 */
struct sl_acmeconf {
	char *path;
	char *directory;	/* NULL when not set */
	char *email;		/* NULL when not set */
	struct sl_strv warnings;	/* "PATH:LINE: ..." */
};
#define SL_ACMECONF_INIT { NULL, NULL, NULL, SL_STRV_INIT }

/*
 * Reads the [acme] section of the configuration file (sl_devconf_path;
 * a missing ~/.silverlining.conf sets nothing). 0, or -1 with ERR: 100
 * with PATH:LINE for a malformed file, a directory that is not an
 * https:// URL or an address that is not one.
 */
int sl_acmeconf_load(struct sl_acmeconf *ac, struct sl_err *err);

void sl_acmeconf_release(struct sl_acmeconf *ac);

/*
 * Why S is not an ACME directory (an https:// URL with a host, no
 * spaces or control characters), or NULL when it is one.
 */
const char *sl_acmeconf_bad_directory(const char *s);

/*
 * Why S is not a plausible contact address (LOCAL@DOMAIN, DOMAIN with a
 * dot, no spaces, control characters, commas or angle brackets), or
 * NULL when it is one.
 */
const char *sl_acmeconf_bad_email(const char *s);

#endif
