/* silverlining — the health gate an instance passes before it serves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "exit.h"
#include "fcgi.h"
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
	return sl_gate_script_in(g, NULL, inst, user, cmd);
}

int sl_gate_script_in(const struct sl_gate *g, const char *scope, const char *inst,
		      const char *user, const char *cmd)
{
	struct sl_buf dir = SL_BUF_INIT, unit = SL_BUF_INIT, uid = SL_BUF_INIT;
	struct sl_buf gid = SL_BUF_INIT, max = SL_BUF_INIT;
	struct sl_child c = SL_CHILD_INIT;
	struct sl_err err = SL_ERR_INIT;
	long long t0 = now_ns();
	int rc;

	sl_node_instance_path(&dir, "instances", inst);
	if (scope)
		sl_buf_addf(&unit, "--unit=%s", scope);
	else
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

/* Whether INST is a PHP instance: ROOT/run/INST/php-fpm.conf exists. */
static int is_php(const char *inst)
{
	struct sl_buf conf = SL_BUF_INIT;
	int php;

	sl_node_instance_path(&conf, "run", inst);
	sl_buf_adds(&conf, "/php-fpm.conf");
	php = access(conf.buf, F_OK) == 0;
	sl_buf_release(&conf);
	return php;
}

/*
 * The script of a php_root app for the URL path UPATH (N bytes), as
 * nginx finds it: a path ending in '/' is its directory's index.php.
 * Into NAME its path under php_root ("/sub/index.php"), into FILE that
 * file under ROOT/instances/INST/PHP_ROOT. 0, or -1 when UPATH names no
 * .php file there (nginx would serve a file, or answer 404); no ".."
 * leaves php_root.
 */
static int php_root_script(struct sl_buf *name, struct sl_buf *file, const char *inst,
			   const char *php_root, const char *upath, size_t n)
{
	struct stat st;

	for (const char *p = upath; p < upath + n; p++)
		if (p[0] == '/' && p[1] == '.' && p[2] == '.' && (p + 3 == upath + n || p[3] == '/'))
			return -1;
	sl_buf_add(name, upath, n);
	if (!n || upath[n - 1] == '/')
		sl_buf_adds(name, "index.php");
	sl_node_instance_path(file, "instances", inst);
	sl_buf_addf(file, "/%s%s", php_root, name->buf);
	return name->len > 4 && !strcmp(name->buf + name->len - 4, ".php") &&
		stat(file->buf, &st) == 0 && S_ISREG(st.st_mode) ? 0 : -1;
}

/*
 * The internal request to a PHP instance, over FastCGI to its socket,
 * with the params nginx sends (Debian's fastcgi_params, and as render.c
 * writes them: the script, SCRIPT_NAME the route's prefix, followed by
 * the script's path under php_root for a php_root app), plus
 * HTTP_X_SILVERLINING_UPDATE.
 */
static void php_request(const char *inst, const struct sl_app *a, long timeout,
			const char *host, const char *path, const char *url,
			struct sl_buf *body, char status[4])
{
	struct sl_fcgi_response r = SL_FCGI_RESPONSE_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_strv p = SL_STRV_INIT;
	struct sl_buf sock = SL_BUF_INIT, file = SL_BUF_INIT, dir = SL_BUF_INIT;
	struct sl_buf name = SL_BUF_INIT;
	const char *script = strcmp(path, "/") ? path : "";
	size_t n = strcspn(url, "?");

	snprintf(status, 4, "000");
	sl_buf_reset(body);
	sl_node_instance_path(&dir, "instances", inst);
	if (a->runner) {
		sl_buf_addf(&file, "%s/%.*s", dir.buf, (int)strcspn(a->runner, "#"), a->runner);
	} else if (!a->php_root) {
		sl_buf_addf(body, "%s names neither runner nor php_root\n", a->ini);
		goto out;
	} else if (php_root_script(&name, &file, inst, a->php_root, url, n) < 0) {
		snprintf(status, 4, "404");
		sl_buf_addf(body, "no PHP script under php_root for %.*s\n", (int)n, url);
		goto out;
	} else {
		sl_buf_addf(&dir, "/%s", a->php_root);
	}
	sl_buf_addf(&sock, "%s/%s.sock", sl_node_sockets(), inst);
	sl_strv_pushf(&p, "QUERY_STRING=%s", url[n] ? url + n + 1 : "");
	sl_strv_push(&p, "REQUEST_METHOD=GET");
	sl_strv_push(&p, "CONTENT_TYPE=");
	sl_strv_push(&p, "CONTENT_LENGTH=");
	sl_strv_pushf(&p, "SCRIPT_NAME=%s%s", script, name.buf);
	sl_strv_pushf(&p, "SCRIPT_FILENAME=%s", file.buf);
	sl_strv_pushf(&p, "REQUEST_URI=%s%s", script, url);
	sl_strv_pushf(&p, "DOCUMENT_URI=%s%.*s", script, (int)n, url);
	sl_strv_pushf(&p, "DOCUMENT_ROOT=%s", dir.buf);
	sl_strv_push(&p, "SERVER_PROTOCOL=HTTP/1.1");
	sl_strv_push(&p, "REQUEST_SCHEME=http");
	sl_strv_push(&p, "GATEWAY_INTERFACE=CGI/1.1");
	sl_strv_push(&p, "SERVER_SOFTWARE=silverlining");
	sl_strv_push(&p, "REMOTE_ADDR=127.0.0.1");
	sl_strv_push(&p, "REMOTE_PORT=0");
	sl_strv_push(&p, "SERVER_ADDR=127.0.0.1");
	sl_strv_push(&p, "SERVER_PORT=80");
	sl_strv_pushf(&p, "SERVER_NAME=%s", host);
	sl_strv_push(&p, "REDIRECT_STATUS=200");
	sl_strv_pushf(&p, "HTTP_HOST=%s", host);
	sl_strv_push(&p, "HTTP_X_SILVERLINING_UPDATE=1");
	if (sl_fcgi_request(sock.buf, p.v, "", 0, (timeout + 5) * 1000, &r, &err) < 0) {
		sl_buf_addf(body, "%s\n", err.msg.buf);
	} else {
		snprintf(status, 4, "%03d", r.status);
		sl_buf_add(body, r.body.buf, r.body.len);
		/* PHP's errors reach nginx's log on a node: here they are told */
		if (r.stderr_text.len) {
			if (body->len && body->buf[body->len - 1] != '\n')
				sl_buf_addch(body, '\n');
			sl_buf_adds(body, "PHP's stderr:\n");
			sl_buf_add(body, r.stderr_text.buf, r.stderr_text.len);
			sl_buf_addch(body, '\n');
		}
	}
out:
	sl_fcgi_response_release(&r);
	sl_err_release(&err);
	sl_strv_clear(&p);
	sl_buf_release(&sock);
	sl_buf_release(&file);
	sl_buf_release(&dir);
	sl_buf_release(&name);
}

/*
 * An internal request to INST at URL under the canonical location HOST
 * PATH: the body into BODY, the HTTP status ("000" for none) into STATUS.
 * A (INST's app.ini) for a PHP instance.
 */
static void request(const char *inst, const struct sl_app *a, long timeout, const char *host,
		    const char *path, const char *url, struct sl_buf *body, char status[4])
{
	struct sl_buf sock = SL_BUF_INIT, max = SL_BUF_INIT, h = SL_BUF_INIT;
	struct sl_buf sn = SL_BUF_INIT, u = SL_BUF_INIT;
	struct sl_child c = SL_CHILD_INIT;
	const char *script = strcmp(path, "/") ? path : "";

	if (a && is_php(inst)) {
		php_request(inst, a, timeout, host, path, url, body, status);
		return;
	}
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

void sl_gate_request(const char *inst, long timeout, const char *host, const char *path,
		     const char *url, struct sl_buf *body, char status[4])
{
	struct sl_app a = SL_APP_INIT;
	struct sl_buf dir = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;

	if (!is_php(inst)) {
		request(inst, NULL, timeout, host, path, url, body, status);
		return;
	}
	sl_node_instance_path(&dir, "instances", inst);
	if (sl_app_load(&a, dir.buf, &err) < 0) {
		snprintf(status, 4, "000");
		sl_buf_reset(body);
		sl_buf_addf(body, "%s\n", err.msg.buf);
	} else {
		php_request(inst, &a, timeout, host, path, url, body, status);
	}
	sl_app_release(&a);
	sl_buf_release(&dir);
	sl_err_release(&err);
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
			request(inst, a, a->timeout, host, path, v, &body, status);
			sl_say(&g->say, "update_fetch %s: %s", v, status);
			sl_say_text(&g->say, body.buf, body.len);
			if (status[0] != '2')
				rc = SL_EXIT_USAGE;
		}
	}
	if (!rc) {
		const char *hc = a->health_check ? a->health_check : "/";

		request(inst, a, a->timeout, host, path, hc, &body, status);
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
