/* silverlining — the health gate an instance passes before it serves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exit.h"
#include "gate.h"
#include "node.h"
#include "prepare.h"
#include "run.h"

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * An update_fetch script, as the app's user in its environment, in a
 * scope unit of its own that systemd stops after g->fetch_limit seconds,
 * every process it started with it. The script is this process's child:
 * its own exit status comes back, a signal's too. 124: stopped at the
 * limit.
 */
int sl_gate_script(const struct sl_gate *g, const char *inst, const char *user,
		   const char *cmd)
{
	struct sl_buf dir = SL_BUF_INIT, unit = SL_BUF_INIT, uid = SL_BUF_INIT;
	struct sl_buf gid = SL_BUF_INIT, max = SL_BUF_INIT;
	struct sl_child c = SL_CHILD_INIT;
	struct sl_err err = SL_ERR_INIT;
	long long t0 = now_ns();
	int rc;

	sl_node_instance_path(&dir, "instances", inst);
	sl_buf_addf(&unit, "--unit=silverlining-fetch-%s", inst);
	sl_buf_addf(&uid, "--uid=%s", user);
	sl_buf_addf(&gid, "--gid=%s", user);
	sl_buf_addf(&max, "RuntimeMaxSec=%ld", g->fetch_limit);
	c.argv = (char *[]){ "systemd-run", "--quiet", "--scope", "--collect", unit.buf,
		uid.buf, gid.buf, "-p", max.buf, "sl-env", "--node", dir.buf, "--",
		"sh", "-c", (char *)cmd, NULL };
	c.dir = dir.buf;
	c.in = SL_RUN_NULL;
	c.out = g->script_out;
	rc = sl_run(&c, &err);
	if (rc < 0) {
		sl_say(&g->say, "%s", err.msg.buf);
		rc = err.code;
	} else if (rc && (now_ns() - t0) / 1000000000 >= g->fetch_limit) {
		rc = 124;
	}
	sl_err_release(&err);
	sl_buf_release(&dir);
	sl_buf_release(&unit);
	sl_buf_release(&uid);
	sl_buf_release(&gid);
	sl_buf_release(&max);
	return rc;
}

/*
 * An internal request to INST at URL under the canonical location HOST
 * PATH: the body into BODY, the HTTP status ("000" for none) into STATUS.
 */
void sl_gate_request(const char *inst, long timeout, const char *host, const char *path,
		     const char *url, struct sl_buf *body, char status[4])
{
	struct sl_buf sock = SL_BUF_INIT, max = SL_BUF_INIT, h = SL_BUF_INIT;
	struct sl_buf sn = SL_BUF_INIT, u = SL_BUF_INIT;
	struct sl_child c = SL_CHILD_INIT;
	const char *script = strcmp(path, "/") ? path : "";

	sl_buf_addf(&sock, "%s/%s.sock", sl_node_sockets(), inst);
	sl_buf_addf(&max, "%ld", timeout + 5);
	sl_buf_addf(&h, "Host: %s", host);
	sl_buf_addf(&sn, "X-Silverlining-Script-Name: %s", script);
	sl_buf_addf(&u, "http://localhost%s%s", script, url);
	c.argv = (char *[]){ "curl", "-sS", "--max-time", max.buf, "--unix-socket", sock.buf,
		"-w", "%{http_code}", "-H", h.buf, "-H", "X-Silverlining-Update: 1",
		"-H", sn.buf, u.buf, NULL };
	c.in = SL_RUN_NULL;
	sl_buf_reset(body);
	sl_run_capture(&c, body, NULL);
	snprintf(status, 4, "000");
	if (body->len >= 3) {
		memcpy(status, body->buf + body->len - 3, 3);
		sl_buf_setlen(body, body->len - 3);
	}
	sl_buf_release(&sock);
	sl_buf_release(&max);
	sl_buf_release(&h);
	sl_buf_release(&sn);
	sl_buf_release(&u);
}

/* Every update_fetch entry, then the health check: 0, or 100 (told). */
static int gate(const struct sl_gate *g, const char *inst, const struct sl_app *a,
		const char *where)
{
	struct sl_buf app = SL_BUF_INIT, user = SL_BUF_INIT, body = SL_BUF_INIT;
	char *host = strdup(where), *path = strchr(host, ' ');
	char status[4] = "";
	int rc = 0;

	*path++ = 0;
	sl_node_app_of(inst, &app);
	if (sl_prepare_user(&g->say, app.buf, &user, NULL, NULL) != 1)
		rc = SL_EXIT_USAGE;
	for (size_t i = 0; i < a->update_fetch.n && !rc; i++) {
		const char *v = a->update_fetch.v[i];

		if (!strncmp(v, "script:", 7)) {
			sl_say(&g->say, "update_fetch %s:", v);
			rc = sl_gate_script(g, inst, user.buf, v + 7);
			if (rc == 124)
				sl_say(&g->say, "update_fetch %s ran longer than %ld seconds: stopped", v, g->fetch_limit);
			else if (rc)
				sl_say(&g->say, "update_fetch %s failed with exit status %d", v, rc);
			rc = rc ? SL_EXIT_USAGE : 0;
		} else {
			sl_gate_request(inst, a->timeout, host, path, v, &body, status);
			sl_say(&g->say, "update_fetch %s: %s", v, status);
			sl_say_text(&g->say, body.buf, body.len);
			if (status[0] != '2')
				rc = SL_EXIT_USAGE;
		}
	}
	if (!rc) {
		const char *hc = a->health_check ? a->health_check : "/";

		sl_gate_request(inst, a->timeout, host, path, hc, &body, status);
		sl_say(&g->say, "health check %s: %s", hc, status);
		if (a->health_check ? status[0] != '2' : (status[0] < '1' || status[0] > '4')) {
			sl_say_text(&g->say, body.buf, body.len);
			rc = SL_EXIT_USAGE;
		}
	}
	if (rc && !strcmp(status, "000")) {
		sl_say(&g->say, "%s is not answering; its log says:", inst);
		sl_prepare_log_tail(&g->say, app.buf);
	}
	free(host);
	sl_buf_release(&app);
	sl_buf_release(&user);
	sl_buf_release(&body);
	return rc;
}

int sl_gate_check(const struct sl_gate *g, const char *instance, const struct sl_app *a,
		  const char *where, struct sl_err *err)
{
	int rc = gate(g, instance, a, where);

	return rc ? sl_err_set(err, rc, "%s failed its checks", instance) : 0;
}
