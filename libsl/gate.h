/* silverlining — the health gate an instance passes before it serves. */
#ifndef SL_GATE_H
#define SL_GATE_H

#include "app.h"
#include "buf.h"
#include "err.h"
#include "say.h"

/*
 * Before a switch, the started instance is asked directly on its socket,
 * as it would be under its canonical location: each update_fetch entry
 * of app.ini in order (a URL must answer 2xx; "script:CMD" runs CMD as the
 * app's user in its environment and must exit 0), then the health check
 * (health_check's URL must answer 2xx; without one, / must answer
 * anything below 500). SAY gets each step and its answer; the bodies of
 * update_fetch URLs and of a failed check, and the end of the app's log
 * when the instance does not answer at all.
 */
struct sl_gate {
	struct sl_say say;
	long fetch_limit;	/* seconds an update_fetch script may run */
	int script_out;		/* the fd a script's stdout goes to (its stderr is ours) */
};
#define SL_GATE_INIT { SL_SAY_INIT, 600, 2 }

/*
 * A request to INSTANCE's socket for URL under the canonical location
 * HOST PATH, marked internal (X-Silverlining-Update), allowed TIMEOUT + 5
 * seconds: the body into BODY (replaced), the HTTP status into STATUS
 * ("000" for none).
 *
 * A PHP instance (ROOT/run/INST/php-fpm.conf exists) is asked over
 * FastCGI (fcgi.h) with the params nginx sends it, SCRIPT_FILENAME its
 * runner or the script of php_root for URL (404 for none); what PHP
 * wrote to FastCGI's stderr follows the body, after "PHP's stderr:", and
 * an error of the exchange is the body of status "000".
 */
void sl_gate_request(const char *instance, long timeout, const char *host, const char *path,
		     const char *url, struct sl_buf *body, char status[4]);

/*
 * An update_fetch script CMD of INSTANCE as USER in its environment, in a
 * scope unit of its own that systemd stops, with every process it
 * started, after G's fetch_limit seconds. Its exit status (128+n for a
 * signal); 124 when it was stopped at the limit.
 */
int sl_gate_script(const struct sl_gate *g, const char *instance, const char *user,
		   const char *cmd);
/* The same, in the scope unit named SCOPE (sl_gate_script's: silverlining-fetch-INSTANCE). */
int sl_gate_script_in(const struct sl_gate *g, const char *scope, const char *instance,
		      const char *user, const char *cmd);

/*
 * The gate of INSTANCE (its app.ini in A) at WHERE ("HOST PATH"): 0 when
 * it passes, or -1 with ERR (100; what failed was told).
 */
int sl_gate_check(const struct sl_gate *g, const char *instance, const struct sl_app *a,
		  const char *where, struct sl_err *err);

#endif
