/* silverlining — the node's certificates: what nginx serves over HTTPS, and when to renew. */
#ifndef SL_TLS_H
#define SL_TLS_H

#include <time.h>

#include "buf.h"
#include "err.h"
#include "strv.h"

/*
 * The node keeps every certificate it serves under ROOT/tls, root's
 * alone (the directories 0700, every file 0600):
 *
 *   ROOT/tls/certs/NAME.pem  one certificate: its chain (leaf first),
 *                            then its private key, in one file, so that
 *                            replacing it is one rename(2); nginx reads
 *                            it as both ssl_certificate and
 *                            ssl_certificate_key
 *   ROOT/tls/certs/NAME.ini  what it is: source = acme | user, the ACME
 *                            directory that issued it, its hosts
 *   ROOT/tls/live/HOST.pem   the certificate serving HOST, a symbolic
 *                            link to ../certs/NAME.pem
 *                            (sl_node_tls_path(): the only path nginx's
 *                            text names, so a new or renewed certificate
 *                            changes no text)
 *   ROOT/tls/state/HOST      HOST's last issuance or renewal: when, how
 *                            it ended, the consecutive failures, the CA's
 *                            words
 *
 * NAME is "acme-HOST" for a certificate issued for HOST, "user-NAME" for
 * one a user installed (NAME from its first DNS name, '*' as '_').
 *
 * Which certificate serves a routed host (a DNS name, or ".example.com"):
 * a user's certificate that names it (exactly, or as *.PARENT for a name
 * one label under PARENT; ".example.com" needs both example.com and
 * *.example.com), the one valid longest first; else the ACME certificate
 * issued for it. Never an expired one. "*" and "not-found" take none.
 *
 * The renewal window, this module's rule and no one else's: a
 * certificate is due when less than a third of its lifetime, and at most
 * 30 days, is left. After N consecutive failures the next attempt waits
 * min(2^(N-1), 24) hours from the last one (sl_tls_try_at()); a forced
 * renewal ignores both.
 */

struct sl_tls_cert {
	char *name;		/* "acme-blog.example.com", "user-_.example.com" */
	char *file;		/* ROOT/tls/certs/NAME.pem */
	int user;		/* installed by a user (else issued by ACME) */
	char *directory;	/* the ACME directory that issued it, or NULL */
	struct sl_strv hosts;	/* its DNS names, "*.example.com" as written */
	time_t not_before, not_after;
	char *fingerprint;	/* SHA-256 of the leaf (DER), 64 hex digits */
};
#define SL_TLS_CERT_INIT { NULL, NULL, 0, NULL, SL_STRV_INIT, 0, 0, NULL }
void sl_tls_cert_release(struct sl_tls_cert *c);

/* Every certificate the node holds, into V (released by the caller with
 * sl_tls_cert_release on each, then free). 0, or -1 with ERR. */
int sl_tls_list(struct sl_tls_cert **v, size_t *n, struct sl_err *err);

/*
 * The certificate that serves HOST now (the rule above), into C: 1, 0
 * when there is none, -1 with ERR (111: the store cannot be read).
 */
int sl_tls_find(const char *host, struct sl_tls_cert *c, struct sl_err *err);

/*
 * 1 when C serves HOST by its names: HOST itself or *.PARENT for a name
 * one label under PARENT; ".example.com" needs both example.com and
 * *.example.com; "*" and "not-found" never. Case is ignored.
 */
int sl_tls_covers(const struct sl_tls_cert *c, const char *host);

/* Pushes onto OUT each host the node's routes serve over https, once. 0, or -1. */
int sl_tls_routed_hosts(struct sl_strv *out, struct sl_err *err);

/* 1 when C is due for renewal at NOW (the window above), else 0. */
int sl_tls_due(const struct sl_tls_cert *c, time_t now);

/*
 * Checks PEM (a chain, leaf first, and the leaf's private key, in any
 * order of blocks) and stores it as a user's certificate: the key must
 * match the leaf, the leaf must be valid now and name at least one DNS
 * name, each next certificate must have issued the one before. Every
 * refusal is 100 with the reason. On success C describes it; routed
 * hosts it now serves have their live link pointed at it. 0, or -1.
 */
int sl_tls_install(const char *pem, size_t len, struct sl_tls_cert *c,
		   struct sl_err *err);

/* Removes the user's certificate NAME (and the live links to it). 0, 1
 * when there is none, -1 with ERR: 100 while it is the only certificate
 * serving a host routed over https. */
int sl_tls_remove(const char *name, struct sl_err *err);

/*
 * Stores CHAIN and KEY (files uacme wrote) as HOST's ACME certificate,
 * issued by DIRECTORY, and points HOST's live link at it unless a user's
 * certificate serves HOST. 0, or -1 with ERR.
 */
int sl_tls_store_acme(const char *host, const char *chain, const char *key,
		      const char *directory, struct sl_err *err);

/* Points HOST's live link at what serves it now (the rule above), or
 * removes it when nothing does. 0, or -1 with ERR. */
int sl_tls_publish(const char *host, struct sl_err *err);
/* The same, 1 when the link changed, 0 when it was already so, -1 with ERR. */
int sl_tls_publish_changed(const char *host, struct sl_err *err);

/* HOST's last issuance or renewal (ROOT/tls/state/HOST). */
struct sl_tls_state {
	time_t last;		/* when it was last tried, 0 never */
	int failures;		/* consecutive failures up to LAST */
	char *error;		/* the last failure's words, or NULL */
};
#define SL_TLS_STATE_INIT { 0, 0, NULL }
void sl_tls_state_release(struct sl_tls_state *s);
int sl_tls_state_load(const char *host, struct sl_tls_state *s, struct sl_err *err);
/* Records an attempt at NOW: ERROR NULL for a success. 0, or -1. */
int sl_tls_state_record(const char *host, time_t now, const char *error,
			struct sl_err *err);
/* When HOST may be tried again after S's failures (the back-off); 0 when at once. */
time_t sl_tls_try_at(const struct sl_tls_state *s);

/*
 * One line per host in HOSTS, for people (sl-query, sl-cert status),
 * appended to OUT:
 *
 *   tls HOST NAME acme|user expires=YYYY-MM-DD renewal=ok
 *   tls HOST NAME acme|user expires=YYYY-MM-DD renewal=failed(N): WORDS
 *   tls HOST none renewal=failed(N): WORDS
 *   tls HOST none                (no certificate, and no failure recorded)
 *
 * The one owner of that format. 0, or -1 with ERR.
 */
int sl_tls_status_lines(const struct sl_strv *hosts, time_t now,
			struct sl_buf *out, struct sl_err *err);

#endif
