/* silverlining — certificates by ACME (RFC 8555), through Debian's uacme. */
#ifndef SL_ACME_H
#define SL_ACME_H

#include "err.h"
#include "say.h"

/*
 * The node obtains certificates with uacme (Debian's package), HTTP-01
 * only: uacme calls "sl-cert --hook METHOD TYPE IDENT TOKEN AUTH", which
 * writes AUTH to ROOT/acme/challenge/TOKEN; nginx serves that directory
 * at /.well-known/acme-challenge/ on port 80 of every host, before any
 * route. The key authorization is public (the CA fetches it over plain
 * HTTP): no key and no account secret is ever in an argv or a log.
 *
 *   ROOT/acme/config          [acme] directory = URL, email = ADDRESS:
 *                             the node's defaults, the last ones a deploy
 *                             or sl-cert was given
 *   ROOT/acme/accounts/ID/    uacme's confdir for one directory URL (ID:
 *                             16 hex digits of SHA-256(URL)), with the
 *                             account key private/key.pem (0600) and a
 *                             file "directory" naming the URL: one ACME
 *                             account per directory
 *                             and "registered" once the CA has the account
 *   ROOT/acme/challenge/      the HTTP-01 answers (0755, files 0644)
 *
 * uacme runs its hook (-h PROGRAM) by execl(3) with five arguments and no
 * shell, so the hook is sl-cert itself, found beside the running tool or
 * on PATH: "sl-cert begin|done|failed TYPE IDENT TOKEN AUTH".
 * uacme is run as
 *
 *   uacme -c ROOT/acme/accounts/ID -a URL -t EC -y new [EMAIL]
 *   uacme -c ROOT/acme/accounts/ID -a URL -t EC -h SL-CERT [-f] issue HOST
 *
 * (exit 1 of issue: uacme holds a certificate still current, which is
 * stored as it is).
 *
 * The directory is Let's Encrypt's production one unless the caller or
 * the node's config names another.
 */
#define SL_ACME_LETSENCRYPT "https://acme-v02.api.letsencrypt.org/directory"

struct sl_acme {
	struct sl_say say;	/* progress, and uacme's own words */
	const char *directory;	/* NULL: the node's config, else Let's Encrypt */
	const char *email;	/* NULL: the node's config, else none */
	int force;		/* renew even when not due (and past any back-off) */
};
#define SL_ACME_INIT { SL_SAY_INIT, NULL, NULL, 0 }

/*
 * Makes sure a certificate serves HOST (a routed host, tls.h): nothing
 * is asked of the CA while one serves it outside its renewal window
 * (unless A->force). Else the account is made when missing, the
 * certificate issued and stored (sl_tls_store_acme), and the attempt
 * recorded (sl_tls_state_record). *CHANGED is 1 when HOST's certificate
 * was replaced (nginx must reload to serve it).
 *
 * Returns 0 when a certificate serves HOST (a failed renewal of one still
 * valid is told, recorded and returns 0); -1 with ERR otherwise: 100 for
 * a host HTTP-01 cannot prove (".example.com", "*", "not-found": the
 * message says to install a certificate) or one the CA refused
 * (unauthorized, DNS, rejected identifier, CAA), 111 when the CA could
 * not be reached or failed for now, each with the CA's own words.
 */
int sl_acme_ensure(const struct sl_acme *a, const char *host, int *changed,
		   struct sl_err *err);

/*
 * Records DIRECTORY and EMAIL (either NULL: kept) as the node's defaults
 * in ROOT/acme/config. 0, or -1 with ERR (100 for a directory that is
 * not an https:// URL, or an address that is not one).
 */
int sl_acme_configure(const char *directory, const char *email, struct sl_err *err);

/*
 * uacme's hook: METHOD "begin" of an http-01 challenge writes AUTH to
 * ROOT/acme/challenge/TOKEN (TOKEN of [A-Za-z0-9_-] only), "done" and
 * "failed" remove it. 0; 1 for a challenge TYPE other than http-01
 * (declined); -1 with ERR (100 for a bad token, method or AUTH).
 */
int sl_acme_hook(const char *method, const char *type, const char *ident,
		 const char *token, const char *auth, struct sl_err *err);

#endif
