/* silverlining — switching a node's routes: nginx's text, its links, retiring. */
#ifndef SL_SWITCH_H
#define SL_SWITCH_H

#include "buf.h"
#include "err.h"
#include "route.h"
#include "say.h"
#include "strv.h"

/*
 * The node's routes (ROOT/routes, route.h) are the state; nginx's text
 * (ROOT/nginx/routes.conf) is rendered from it, each location reaching
 * its instance through its stable link (node.h). A switch writes the
 * state, then renames each link onto its instance; nginx is checked and
 * reloaded only when its text changed. The caller holds the node lock.
 *
 * SAY gets the progress and the warnings (nginx not showing the new
 * generation in time, links that could not be pruned, instances retired,
 * nginx -t's output). DRAIN is how many seconds an instance that serves
 * nothing keeps running; LOCKED_APP the app whose lock the caller holds
 * (its instances are retired even while it is busy), or NULL.
 */
struct sl_switch {
	struct sl_say say;
	long drain;
	const char *locked_app;
};
#define SL_SWITCH_INIT { SL_SAY_INIT, 10, NULL }

/* The node's routes into R: 0, or -1 with ERR. */
int sl_switch_load(struct sl_routes *r, struct sl_err *err);

/*
 * The balancers in front of the node (ROOT/balancers: one IPv4 address a
 * line, root's, 0644; none when it is missing or empty), pushed onto OUT.
 * nginx trusts their X-Forwarded-For and answers their health check
 * (render.h). 0, or -1 with ERR (100: a line that is not an address).
 */
int sl_switch_balancers_load(struct sl_strv *out, struct sl_err *err);

/*
 * IPS[0..N) become the node's balancers (an empty list: none), written
 * atomically; the caller renders nginx again (sl_switch_again). 0, or -1
 * with ERR (100: one is not a dotted-quad IPv4 address, nothing written).
 */
int sl_switch_balancers_write(char *const *ips, size_t n, struct sl_err *err);

/* 1 when INSTANCE serves a location of R, 0 when not. */
int sl_switch_serves(const struct sl_routes *r, const char *instance);

/*
 * nginx's text for R into TEXT (replaced); an app.ini that is gone gives
 * defaults (nginx then answers 502 until the route goes). A host with an
 * https route is served over HTTPS with its live certificate
 * (sl_node_tls_path), the text carrying the SHA-256 of the certificate's
 * blocks (so a new or renewed one is a new text); a host without one is
 * served over HTTP, told once through SW's say (SW may be NULL); on a
 * node with balancers, no certificate is looked for (render.h: TLS is
 * the balancers'). 0, or -1
 * with ERR (100: the routes cannot be served together).
 */
int sl_switch_render(const struct sl_switch *sw, const struct sl_routes *r,
		     struct sl_buf *text, struct sl_err *err);

/* Whether TEXT differs from OLD, nginx's text on disk (NULL: there is none). */
int sl_switch_changed(const struct sl_buf *old, const struct sl_buf *text);

/*
 * R becomes the node's routes: nginx's text rendered again and, when it
 * changed, written, checked with nginx -t (a refusal puts the old text
 * back) and reloaded after the state and the links are written; the
 * links of locations R no longer has pruned. 0; 1 when nothing switched
 * (ERR says why and has the exit code; what led to it was told); -1
 * with ERR on a system failure, which may leave the switch half done.
 */
int sl_switch_commit(const struct sl_switch *sw, const struct sl_routes *r,
		     struct sl_err *err);

/*
 * nginx's text and every link of R made again (a new node, a package
 * upgrade); nginx, when it runs and does not serve this text yet, checked
 * and reloaded. 0, or -1 with ERR.
 */
int sl_switch_again(const struct sl_switch *sw, const struct sl_routes *r,
		    struct sl_err *err);

/*
 * Instances that serve nothing any more drain for SW's drain, then stop
 * (a transient timer disables them: disabling reloads systemd, which must
 * not delay a switch); prev.* routes keep theirs, an instance marked
 * ready to switch (sl_node_ready_mark) keeps running, an app being deployed
 * by someone else is left to its deploy. Told for each one retired.
 * 0, or -1 with ERR when the routes cannot be read.
 */
int sl_switch_retire(const struct sl_switch *sw, struct sl_err *err);

#endif
