/* silverlining — the node's routes: which instance serves which host and path. */
#ifndef SL_ROUTE_H
#define SL_ROUTE_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/*
 * The route table is the node's file ROOT/routes (sl_node_routes_file):
 * one "HOST PATH INSTANCE [FLAGS]" a line, HOST and PATH as
 * sl_location_parse() leaves them, FLAGS a comma-separated list of the
 * location's settings ("https", "hsts"; the field is absent when there
 * are none, as in every table written before HTTPS existed). This module is its one reader and writer. A table is
 * loaded, changed in memory, and committed whole: written to a temporary
 * file in the same directory, fsync'ed, renamed over the table, and the
 * directory fsync'ed, so a crash leaves the old table or the new one,
 * never a mix. Callers hold the node's lock (sl_node_lock) from load to
 * commit.
 *
 * Lines are kept sorted by host, then path, so that the same state is
 * always the same file.
 */
enum {
	SL_ROUTE_HTTPS = 1,	/* served over HTTPS; plain HTTP redirects there */
	SL_ROUTE_HSTS = 2,	/* and its HTTPS answers carry Strict-Transport-Security */
};

struct sl_route {
	char *host;
	char *path;
	char *instance;
	unsigned flags;		/* SL_ROUTE_* */
};

struct sl_routes {
	struct sl_route *v;
	size_t n, alloc;
};
#define SL_ROUTES_INIT { NULL, 0, 0 }

/*
 * Loads FILE into R (released first). A missing file is an empty table.
 * A line that is not three valid fields (a location's host and path, an
 * instance name) and an optional fourth ("https" or "https,hsts"; none on
 * a prev.* host) is refused: -1 with ERR (111: the node's state is
 * damaged), never skipped.
 */
int sl_routes_load(const char *file, struct sl_routes *r, struct sl_err *err);

/* The instance routed at exactly HOST PATH, or NULL. */
const char *sl_routes_get(const struct sl_routes *r, const char *host,
			  const char *path);

/*
 * Routes HOST PATH to INSTANCE; INSTANCE NULL removes the route. A route
 * that was there keeps its flags; a new one has none.
 */
void sl_routes_set(struct sl_routes *r, const char *host, const char *path,
		   const char *instance);

/*
 * Sets the flags of the route at HOST PATH (nothing when there is none).
 * A prev.* route carries none, and hsts without https is dropped: it means
 * nothing over plain HTTP.
 */
void sl_routes_set_flags(struct sl_routes *r, const char *host, const char *path,
			 unsigned flags);

/*
 * The route a request for HOST (a name as a client sends it, no port) and
 * URL path PATH reaches, as nginx is configured to choose: the exact host,
 * else the longest ".domain" wildcard it falls under, else "*" or
 * "not-found"; within that host, the longest route path that is PATH or
 * a prefix of it ending on a segment boundary ("/wiki" takes "/wiki" and
 * "/wiki/x", not "/wikipedia"). NULL when no route takes it.
 */
const struct sl_route *sl_routes_match(const struct sl_routes *r,
				       const char *host, const char *path);

/* Writes R to FILE by temp file, fsync and rename. 0, or -1 with ERR. */
int sl_routes_commit(const struct sl_routes *r, const char *file,
		     struct sl_err *err);

void sl_routes_release(struct sl_routes *r);

/*
 * The instance routed at exactly LOCATION (as a user types it, parsed by
 * sl_location_parse() with prev.HOST and https:// accepted) in the node's
 * table, into INSTANCE after resetting it. Returns 1 when there is one, 0
 * when nothing is mapped there, -1 with ERR: 100 for a bad location, 111
 * for a table that cannot be read or is damaged. It reads without the
 * node's lock: the table is only ever replaced whole.
 */
int sl_routes_instance_at(const char *location, struct sl_buf *instance,
			  struct sl_err *err);

#endif
