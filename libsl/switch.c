/* silverlining — switching a node's routes: nginx's text, its links, retiring. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "app.h"
#include "exit.h"
#include "file.h"
#include "instance.h"
#include "manifest.h"
#include "node.h"
#include "prepare.h"
#include "render.h"
#include "run.h"
#include "strv.h"
#include "switch.h"
#include "unit.h"

#define PAGES "/usr/share/silverlining/pages"

int sl_switch_load(struct sl_routes *r, struct sl_err *err)
{
	struct sl_buf f = SL_BUF_INIT;
	int ret;

	sl_node_path(&f, "routes");
	ret = sl_routes_load(f.buf, r, err);
	sl_buf_release(&f);
	return ret;
}

int sl_switch_serves(const struct sl_routes *r, const char *instance)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].instance, instance))
			return 1;
	return 0;
}

int sl_switch_balancers_load(struct sl_strv *out, struct sl_err *err)
{
	struct sl_buf f = SL_BUF_INIT, text = SL_BUF_INIT;
	char *line, *save = NULL;
	int ret = 0;

	sl_node_path(&f, "balancers");
	if (sl_buf_read_file(&text, f.buf) < 0) {
		if (errno != ENOENT)
			ret = sl_err_set(err, SL_EXIT_TEMP, "unable to read %s: %s", f.buf,
					 strerror(errno));
		goto out;
	}
	for (line = strtok_r(text.buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!sl_render_balancer_ok(line)) {
			ret = sl_err_set(err, SL_EXIT_USAGE, "%s: '%s' is not an IPv4 address "
					 "(sl-activate --balancers writes it)", f.buf, line);
			goto out;
		}
		sl_strv_push(out, line);
	}
out:
	sl_buf_release(&f);
	sl_buf_release(&text);
	return ret;
}

int sl_switch_balancers_write(char *const *ips, size_t n, struct sl_err *err)
{
	struct sl_buf f = SL_BUF_INIT, text = SL_BUF_INIT;
	int ret = 0;

	for (size_t i = 0; i < n; i++) {
		if (!sl_render_balancer_ok(ips[i])) {
			ret = sl_err_set(err, SL_EXIT_USAGE, "invalid balancer address '%s': "
					 "want an IPv4 address such as 10.0.0.5", ips[i]);
			goto out;
		}
		sl_buf_addf(&text, "%s\n", ips[i]);
	}
	sl_node_path(&f, "balancers");
	if (sl_file_write(f.buf, text.buf ? text.buf : "", text.len, 0644,
			  SL_FILE_REPLACE, err) < 0)
		ret = -1;
out:
	sl_buf_release(&f);
	sl_buf_release(&text);
	return ret;
}

/* What the routes need of an instance's app.ini. */
struct served {
	char *instance;
	char *app;
	char *writable_root;
	int timeout;
	int disabled;
	int php;		/* platform php: its runner or php_root */
	char *php_runner, *php_root;
};

static void served_load(struct served *s, const char *inst)
{
	struct sl_app a = SL_APP_INIT;
	struct sl_buf b = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;

	s->instance = strdup(inst);
	sl_node_app_of(inst, &b);
	s->app = sl_buf_detach(&b, NULL);
	s->timeout = 30;
	s->writable_root = NULL;
	s->php = 0;
	s->php_runner = s->php_root = NULL;
	sl_node_instance_path(&b, "instances", inst);
	/* a routed instance's app.ini was read at its activation: defaults
	 * only for one that is gone */
	if (sl_app_load(&a, b.buf, &err) == 0) {
		s->timeout = (int)a.timeout;
		s->php = a.platform == SL_PLATFORM_PHP;
		if (s->php && a.runner)
			s->php_runner = strdup(a.runner);
		else if (s->php && a.php_root)
			s->php_root = strdup(a.php_root);
		for (size_t i = 0; i < a.nservices; i++)
			if (!strcmp(a.services[i].name, "writable_root")) {
				sl_buf_reset(&b);
				sl_buf_addf(&b, "%s/apps/%s/writable-root", sl_node_root(), s->app);
				s->writable_root = sl_buf_detach(&b, NULL);
			}
	}
	s->disabled = sl_node_disabled(s->app, &err) == 1;
	sl_app_release(&a);
	sl_err_release(&err);
	sl_buf_release(&b);
}

/* The served record of T's instance in SV (N so far), loaded when new. */
static struct served *served_find(struct served *sv, size_t *n, const char *inst)
{
	for (size_t j = 0; j < *n; j++)
		if (!strcmp(sv[j].instance, inst))
			return &sv[j];
	served_load(&sv[*n], inst);
	return &sv[(*n)++];
}

/* A host's live certificate, as the routes' text names it. */
struct live {
	const char *host;
	struct sl_buf file;	/* ROOT/tls/live/HOST.pem */
	struct sl_buf sha;	/* the SHA-256 of its certificate blocks, hex */
	int ok;			/* it is there and holds a certificate */
};

/*
 * The SHA-256, in hex into SHA, of the certificate blocks of the PEM file
 * FILE (the key's bytes are never hashed, and wiped once read): a new or
 * renewed certificate changes it. 0, or -1 when FILE cannot be read or
 * holds no certificate.
 */
static int cert_digest(const char *file, struct sl_buf *sha)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----",
		end[] = "-----END CERTIFICATE-----";
	struct sl_buf text = SL_BUF_INIT;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char hex[65];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const char *s, *e;
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
		sl_buf_read_file(&text, file) == 0, blocks = 0;

	for (s = text.buf; ok && s && (s = strstr(s, begin)); s = e) {
		e = strstr(s, end);
		if (!e)
			break;
		e += sizeof(end) - 1;
		ok = EVP_DigestUpdate(ctx, s, (size_t)(e - s));
		blocks++;
	}
	ok = ok && blocks && EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 32;
	EVP_MD_CTX_free(ctx);
	explicit_bzero(text.buf, text.len);
	sl_buf_release(&text);
	if (!ok)
		return -1;
	sl_manifest_hex(md, hex);
	sl_buf_reset(sha);
	sl_buf_adds(sha, hex);
	return 0;
}

/* HOST's entry in LV (N so far), looked up first when new; told when there is no certificate. */
static struct live *live_find(const struct sl_switch *sw, struct live *lv, size_t *n,
			      const char *host)
{
	struct stat st;

	for (size_t j = 0; j < *n; j++)
		if (!strcmp(lv[j].host, host))
			return &lv[j];
	lv[*n] = (struct live){ host, SL_BUF_INIT, SL_BUF_INIT, 0 };
	sl_node_tls_path(&lv[*n].file, host);
	/* stat follows the link: a link to nothing is no certificate */
	lv[*n].ok = stat(lv[*n].file.buf, &st) == 0 && S_ISREG(st.st_mode) &&
		cert_digest(lv[*n].file.buf, &lv[*n].sha) == 0;
	if (!lv[*n].ok && sw)
		sl_say(&sw->say, "warning: %s has no certificate: its https locations "
		       "are served over HTTP", host);
	return &lv[(*n)++];
}

int sl_switch_render(const struct sl_switch *sw, const struct sl_routes *r,
		     struct sl_buf *text, struct sl_err *err)
{
	size_t m = r->n ? r->n : 1, nsv = 0, nlv = 0;
	struct sl_render_route *rr = calloc(m, sizeof(*rr));
	struct served *sv = calloc(m, sizeof(*sv));
	struct sl_buf *links = calloc(m, 3 * sizeof(*links));
	struct live *lv = calloc(m, sizeof(*lv));
	struct sl_buf challenge = SL_BUF_INIT;
	struct sl_strv bal = SL_STRV_INIT;
	struct sl_render_nginx in = { rr, r->n, PAGES, NULL, NULL, 0 };
	int ret = -1;

	if (!rr || !sv || !links || !lv) {
		sl_err_set(err, SL_EXIT_TEMP, "out of memory");
		goto out;
	}
	if (sl_switch_balancers_load(&bal, err) < 0)
		goto out;
	in.balancers = (const char *const *)bal.v;
	in.nbalancers = bal.n;
	sl_node_path(&challenge, "acme/challenge");
	in.challenge = challenge.buf;
	for (size_t i = 0; i < r->n; i++) {
		const struct sl_route *t = &r->v[i];
		struct served *s = served_find(sv, &nsv, t->instance);

		struct sl_buf *lk = &links[3 * i];

		for (int k = 0; k < 3; k++) {
			lk[k] = (struct sl_buf)SL_BUF_INIT;
			sl_node_link_path(&lk[k], t->host, t->path);
		}
		sl_buf_adds(&lk[0], "/sock");
		sl_buf_adds(&lk[1], "/static");
		rr[i] = (struct sl_render_route){
			.host = t->host, .path = t->path, .app = s->app,
			.socket = lk[0].buf, .static_dir = lk[1].buf,
			.writable_root = s->writable_root, .timeout = s->timeout,
			.disabled = s->disabled, .php = s->php, .link = lk[2].buf,
			.php_runner = s->php_runner, .php_root = s->php_root,
		};
		/* behind balancers, TLS is theirs: no certificate looked for (render.h) */
		if ((t->flags & SL_ROUTE_HTTPS) && bal.n) {
			rr[i].https = 1;
		} else if (t->flags & SL_ROUTE_HTTPS) {
			struct live *l = live_find(sw, lv, &nlv, t->host);

			rr[i].https = 1;
			rr[i].hsts = (t->flags & SL_ROUTE_HSTS) != 0;
			rr[i].cert = l->ok ? l->file.buf : NULL;
			rr[i].cert_sha256 = l->ok ? l->sha.buf : NULL;
		}
	}
	sl_buf_reset(text);
	ret = sl_render_nginx(&in, text, err);
	for (size_t i = 0; i < nsv; i++) {
		free(sv[i].instance);
		free(sv[i].app);
		free(sv[i].writable_root);
		free(sv[i].php_runner);
		free(sv[i].php_root);
	}
	for (size_t i = 0; links && i < 3 * r->n; i++)
		sl_buf_release(&links[i]);
	for (size_t i = 0; i < nlv; i++) {
		sl_buf_release(&lv[i].file);
		sl_buf_release(&lv[i].sha);
	}
out:
	sl_strv_clear(&bal);
	sl_buf_release(&challenge);
	free(lv);
	free(links);
	free(sv);
	free(rr);
	return ret;
}

int sl_switch_changed(const struct sl_buf *old, const struct sl_buf *text)
{
	return !old || old->len != text->len || memcmp(old->buf, text->buf, text->len);
}

/* What nginx answers at /.silverlining/generation now, into OUT. */
static void served_generation(struct sl_buf *out)
{
	sl_buf_reset(out);
	sl_say_capture(out, (char *[]){ "curl", "-s", "--max-time", "1",
		"http://127.0.0.1/.silverlining/generation", NULL });
	sl_buf_rtrim(out);
}

/* Returns once nginx answers with TEXT's generation (a reload is asynchronous). */
static int wait_nginx(const struct sl_switch *sw, const char *text)
{
	struct sl_buf want = SL_BUF_INIT, got = SL_BUF_INIT;
	struct timespec nap = { 0, 50 * 1000 * 1000 };
	int ret = 0;

	if (sl_render_generation(text, &want) < 0)
		goto out;
	for (int i = 0; i < 400; i++) {
		served_generation(&got);
		if (!strcmp(got.buf, want.buf))
			goto out;
		nanosleep(&nap, NULL);
	}
	sl_say(&sw->say, "warning: nginx did not show the new routes within 20 seconds");
	ret = -1;
out:
	sl_buf_release(&want);
	sl_buf_release(&got);
	return ret;
}

/* nginx -t: its exit code; what it said told when it fails. */
static int nginx_check(const struct sl_switch *sw)
{
	struct sl_buf said = SL_BUF_INIT;
	int rc = sl_say_merged(&said, (char *[]){ "nginx", "-t", "-q", NULL });

	if (rc != 0)
		sl_say_text(&sw->say, said.buf, said.len);
	sl_buf_release(&said);
	return rc;
}

/* 1 when process PID's title is an nginx worker's that still accepts connections. */
static int worker_accepts(const char *pid)
{
	static const char worker[] = "nginx: worker process";
	struct sl_buf path = SL_BUF_INIT, title = SL_BUF_INIT;
	int r;

	sl_buf_addf(&path, "/proc/%s/cmdline", pid);
	r = sl_buf_read_file(&title, path.buf) == 0 &&
		!strncmp(title.buf, worker, sizeof(worker) - 1) &&
		!strstr(title.buf, "shutting down");
	sl_buf_release(&path);
	sl_buf_release(&title);
	return r;
}

/* The PIDs of nginx's workers that accept connections now, each followed by a space, into OUT. */
static void nginx_workers(struct sl_buf *out)
{
	struct sl_buf master = SL_BUF_INIT, path = SL_BUF_INIT, kids = SL_BUF_INIT;
	char *p, *end;

	sl_buf_reset(out);
	if (sl_buf_read_file(&master, "/run/nginx.pid") == 0) {
		sl_buf_rtrim(&master);
		sl_buf_addf(&path, "/proc/%s/task/%s/children", master.buf, master.buf);
		if (sl_buf_read_file(&kids, path.buf) == 0)
			for (p = strtok_r(kids.buf, " \n", &end); p; p = strtok_r(NULL, " \n", &end))
				if (worker_accepts(p))
					sl_buf_addf(out, "%s ", p);
	}
	sl_buf_release(&master);
	sl_buf_release(&path);
	sl_buf_release(&kids);
}

/*
 * Returns once none of the workers in OLD (nginx_workers' list from before
 * a reload) accepts connections. A reload starts new workers and then asks
 * the old ones to shut down: until an old worker has closed its listening
 * sockets it may still take a connection, and answer it with the old
 * routes (a new TLS host's handshake refused). Its title says "shutting
 * down" once it has.
 */
static void wait_old_workers(const struct sl_switch *sw, const struct sl_buf *old)
{
	struct timespec nap = { 0, 20 * 1000 * 1000 };
	struct sl_buf pids = SL_BUF_INIT;
	char *p, *end;
	int busy = 1;

	for (int i = 0; busy && i < 250; i++) {
		busy = 0;
		sl_buf_reset(&pids);
		sl_buf_add(&pids, old->buf, old->len);
		for (p = strtok_r(pids.buf, " ", &end); p && !busy; p = strtok_r(NULL, " ", &end))
			busy = worker_accepts(p);
		if (busy)
			nanosleep(&nap, NULL);
	}
	if (busy)
		sl_say(&sw->say, "warning: an old nginx worker still accepts connections after 5 seconds");
	sl_buf_release(&pids);
}

/*
 * Reloads nginx and waits until it serves TEXT, and its old workers take
 * no more connections. Returns the reload's exit status; *SERVED is 1 once
 * nginx answers TEXT's generation, 0 when it did not within the wait
 * (links it may still use are then kept).
 */
static int reload(const struct sl_switch *sw, const char *text, int *served)
{
	struct sl_buf old = SL_BUF_INIT;
	int rc;

	nginx_workers(&old);
	rc = SL_SAY_RUN(&sw->say, SL_RUN_INHERIT, SL_RUN_INHERIT, "systemctl", "reload", "nginx");
	*served = rc == 0 && wait_nginx(sw, text) == 0;
	if (*served)
		wait_old_workers(sw, &old);
	sl_buf_release(&old);
	return rc;
}

static void conf_file(struct sl_buf *out)
{
	sl_node_path(out, "nginx/routes.conf");
}

static int write_conf(const char *path, const struct sl_buf *text, struct sl_err *err)
{
	return sl_file_write(path, text->buf, text->len, 0644, SL_FILE_REPLACE, err);
}

/* Points every route of R's stable link at its instance. */
static int links_apply(const struct sl_routes *r, struct sl_err *err)
{
	for (size_t i = 0; i < r->n; i++)
		if (sl_node_link_set(r->v[i].host, r->v[i].path, r->v[i].instance, err) < 0)
			return -1;
	return 0;
}

static void links_prune(const struct sl_switch *sw, const struct sl_routes *r)
{
	struct sl_err err = SL_ERR_INIT;

	if (sl_node_links_prune(r, &err) < 0)
		sl_say(&sw->say, "warning: %s", err.msg.buf);
	sl_err_release(&err);
}

/* ROOT and ROOT/nginx made. */
static int nginx_dir(int root, struct sl_err *err)
{
	struct sl_buf d = SL_BUF_INIT;
	int ret;

	sl_node_path(&d, "nginx");
	ret = (root ? sl_file_mkdirs(sl_node_root(), 0755, err) : 0) < 0 ||
		sl_file_mkdirs(d.buf, 0755, err) < 0 ? -1 : 0;
	sl_buf_release(&d);
	return ret;
}

/* TEXT written to CONF and checked; a refusal puts OLD back. 0, 1 refused, -1. */
static int conf_try(const struct sl_switch *sw, const char *conf, const struct sl_buf *text,
		    const struct sl_buf *old, struct sl_err *err)
{
	if (nginx_dir(1, err) < 0 || write_conf(conf, text, err) < 0)
		return -1;
	if (nginx_check(sw) == 0)
		return 0;
	if (old ? write_conf(conf, old, err) < 0 : (unlink(conf), 0))
		return -1;
	sl_err_set(err, SL_EXIT_USAGE, "nginx refused the new routes; nothing switched");
	return 1;
}

int sl_switch_commit(const struct sl_switch *sw, const struct sl_routes *r,
		     struct sl_err *err)
{
	struct sl_buf text = SL_BUF_INIT, old = SL_BUF_INIT, conf = SL_BUF_INIT;
	struct sl_buf state = SL_BUF_INIT;
	int had, changed, rc, served = 1;

	if (sl_switch_render(sw, r, &text, err) < 0) {
		sl_say(&sw->say, "%s", err->msg.buf);
		sl_err_set(err, err->code, "unable to write nginx's routes; nothing switched");
		rc = 1;
		goto out;
	}
	conf_file(&conf);
	had = sl_buf_read_file(&old, conf.buf) == 0;
	changed = sl_switch_changed(had ? &old : NULL, &text);
	if (changed && (rc = conf_try(sw, conf.buf, &text, had ? &old : NULL, err)))
		goto out;
	rc = -1;
	sl_node_path(&state, "routes");
	if (sl_routes_commit(r, state.buf, err) < 0 || links_apply(r, err) < 0)
		goto out;
	if (changed && (rc = reload(sw, text.buf, &served))) {
		sl_err_set(err, SL_EXIT_TEMP, "nginx did not reload (exit status %d)", rc);
		rc = -1;
		goto out;
	}
	/* what nginx does not serve yet may still reach the old links */
	if (served)
		links_prune(sw, r);
	rc = 0;
out:
	sl_buf_release(&text);
	sl_buf_release(&old);
	sl_buf_release(&conf);
	sl_buf_release(&state);
	return rc;
}

int sl_switch_again(const struct sl_switch *sw, const struct sl_routes *r,
		    struct sl_err *err)
{
	struct sl_buf text = SL_BUF_INIT, old = SL_BUF_INIT, conf = SL_BUF_INIT;
	struct sl_buf gen = SL_BUF_INIT, want = SL_BUF_INIT;
	int ret = -1, served = 1;

	if (sl_switch_render(sw, r, &text, err) < 0) {
		sl_say(&sw->say, "%s", err->msg.buf);
		sl_err_set(err, err->code, "unable to write nginx's routes");
		goto out;
	}
	if (nginx_dir(0, err) < 0)
		goto out;
	conf_file(&conf);
	if (sl_switch_changed(sl_buf_read_file(&old, conf.buf) < 0 ? NULL : &old, &text) &&
	    write_conf(conf.buf, &text, err) < 0)
		goto out;
	if (links_apply(r, err) < 0)
		goto out;
	if (SL_SAY_RUN(&sw->say, SL_RUN_NULL, SL_RUN_NULL,
		       "systemctl", "is-active", "-q", "nginx") == 0) {
		served_generation(&gen);
		sl_render_generation(text.buf, &want);
		if (strcmp(gen.buf, want.buf)) {
			if (nginx_check(sw) != 0 || reload(sw, text.buf, &served) != 0) {
				sl_err_set(err, SL_EXIT_TEMP, "nginx did not take the routes");
				goto out;
			}
		}
	}
	if (served)
		links_prune(sw, r);
	ret = 0;
out:
	sl_buf_release(&text);
	sl_buf_release(&old);
	sl_buf_release(&conf);
	sl_buf_release(&gen);
	sl_buf_release(&want);
	return ret;
}

/*
 * The instance of one line of systemctl list-units into NAME (its service
 * or its socket: an idle instance has only its socket active): 1, or 0
 * for another unit.
 */
static int unit_instance(const char *line, struct sl_buf *name)
{
	static const char prefix[] = "silverlining-instance@";
	const char *end;

	if (strncmp(line, prefix, sizeof(prefix) - 1))
		return 0;
	line += sizeof(prefix) - 1;
	end = line + strcspn(line, " ");
	if (end - line > 8 && !strncmp(end - 8, ".service", 8))
		end -= 8;
	else if (end - line > 7 && !strncmp(end - 7, ".socket", 7))
		end -= 7;
	else
		return 0;
	sl_buf_reset(name);
	sl_buf_add(name, line, (size_t)(end - line));
	return sl_instance_name_valid(name->buf);
}

/* INST's drain timer started: it disables INST's unit in SW's drain. */
static void drain_start(const struct sl_switch *sw, const char *inst)
{
	struct sl_buf unit_arg = SL_BUF_INIT, svc = SL_BUF_INIT, arg = SL_BUF_INIT;
	struct sl_buf sock = SL_BUF_INIT;

	sl_buf_addf(&arg, "--on-active=%ld", sw->drain);
	sl_buf_addf(&unit_arg, "--unit=silverlining-drain-%s", inst);
	sl_unit_name(&svc, inst);
	sl_unit_socket_name(&sock, inst);
	/* the socket first: no connection starts the server again */
	if (SL_SAY_RUN(&sw->say, SL_RUN_NULL, SL_RUN_NULL, "systemd-run", "--quiet",
		       "--collect", unit_arg.buf, arg.buf, "--timer-property=AccuracySec=1s",
		       "systemctl", "disable", "--now", sock.buf, svc.buf) == 0)
		sl_say(&sw->say, "%s serves nothing now; it stops in %lds", inst, sw->drain);
	sl_buf_release(&sock);
	sl_buf_release(&unit_arg);
	sl_buf_release(&svc);
	sl_buf_release(&arg);
}

int sl_switch_retire(const struct sl_switch *sw, struct sl_err *err)
{
	struct sl_buf list = SL_BUF_INIT, name = SL_BUF_INIT, app = SL_BUF_INIT;
	struct sl_buf u = SL_BUF_INIT;
	struct sl_routes r = SL_ROUTES_INIT;
	char *line, *save = NULL;

	if (sl_switch_load(&r, err) < 0)
		return -1;
	sl_say_capture(&list, (char *[]){ "systemctl", "list-units", "--plain", "--no-legend",
		"--state=active", "silverlining-instance@*", NULL });
	for (line = strtok_r(list.buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* one --prepare made ready waits for its --switch (or --abandon) */
		if (!unit_instance(line, &name) || sl_switch_serves(&r, name.buf) ||
		    sl_node_ready_marked(name.buf, NULL))
			continue;
		sl_buf_reset(&u);
		sl_buf_addf(&u, "silverlining-drain-%s.timer", name.buf);
		if (SL_SAY_RUN(&sw->say, SL_RUN_NULL, SL_RUN_NULL,
			       "systemctl", "is-active", "-q", u.buf) == 0)
			continue;
		/* an instance of an app being deployed now is being checked:
		 * its deploy retires what it replaces itself */
		sl_node_app_of(name.buf, &app);
		if ((!sw->locked_app || strcmp(app.buf, sw->locked_app)) &&
		    sl_node_app_busy(app.buf))
			continue;
		drain_start(sw, name.buf);
	}
	sl_routes_release(&r);
	sl_buf_release(&list);
	sl_buf_release(&name);
	sl_buf_release(&app);
	sl_buf_release(&u);
	return 0;
}
