/* silverlining — what the node writes for others to read: nginx's routes, an instance's server config. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "exit.h"
#include "render.h"

/*
 * While the nginx text is built, each place the generation goes holds
 * this byte, which no accepted value can hold (control bytes are
 * refused); the digest is taken over the text without them.
 */
#define GEN_MARK '\001'
#define GEN_HEX 64

static int host_ok(const char *h)
{
	if (!strcmp(h, "*"))
		return 1;
	return *h && strspn(h, "abcdefghijklmnopqrstuvwxyz0123456789.-") == strlen(h);
}

/* "/" or "/seg/seg": no empty segment, no trailing '/'. */
static int path_ok(const char *p)
{
	if (p[0] != '/')
		return 0;
	if (!p[1])
		return 1;
	if (strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		   "0123456789._~-/") != strlen(p))
		return 0;
	return !strstr(p, "//") && p[strlen(p) - 1] != '/';
}

/*
 * A file the caller names: absolute, no control byte and no '$' (nginx
 * expands variables inside quotes too, and has no escape for '$'); a
 * socket no ':' either (it ends the path of nginx's unix: URL).
 */
static int file_ok(const char *f, const char *also)
{
	if (!f || f[0] != '/')
		return 0;
	for (const unsigned char *s = (const unsigned char *)f; *s; s++)
		if (*s < 0x20 || *s == 0x7f || *s == '$' || strchr(also, *s))
			return 0;
	return 1;
}

/* A file in a php route's instance: relative, no '..' segment, nothing nginx expands. */
static int rel_ok(const char *f)
{
	if (!f || !*f || f[0] == '/')
		return 0;
	for (const unsigned char *s = (const unsigned char *)f; *s; s++)
		if (*s < 0x20 || *s == 0x7f || *s == '$' || *s == '"' || *s == '\\')
			return 0;
	for (const char *s = f; *s; s += strcspn(s, "/"), s += *s == '/')
		if (!strncmp(s, "..", 2) && (s[2] == '/' || !s[2]))
			return 0;
	return 1;
}

static void add_escaped(struct sl_buf *out, const char *f)
{
	for (; *f; f++) {
		if (*f == '"' || *f == '\\')
			sl_buf_addch(out, '\\');
		sl_buf_addch(out, *f);
	}
}

/* A then B in nginx's double quotes: '"' and '\' escaped, the rest as is. */
static void add_quoted(struct sl_buf *out, const char *a, const char *b)
{
	sl_buf_addch(out, '"');
	add_escaped(out, a);
	add_escaped(out, b);
	sl_buf_addch(out, '"');
}

/* The path of the ACME HTTP-01 answers (RFC 8555, 8.3). */
#define CHALLENGE "/.well-known/acme-challenge"

/* Whether R is served over HTTPS: an https route with a certificate. */
static int tls(const struct sl_render_route *r)
{
	return r->https && r->cert;
}

static int check_route(const struct sl_render_route *r, struct sl_err *err)
{
	if (!r->host || !host_ok(r->host))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "invalid host '%s' in the routes: nginx could misread it",
				  r->host ? r->host : "");
	if (!r->path || !path_ok(r->path))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "invalid path '%s' at %s in the routes: nginx could misread it",
				  r->path ? r->path : "", r->host);
	if (!file_ok(r->socket, ":"))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s%s: the socket '%s' is not an absolute path nginx can read "
				  "(no control character, '$' or ':')", r->host, r->path,
				  r->socket ? r->socket : "");
	if (!file_ok(r->static_dir, ""))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s%s: the static directory '%s' is not an absolute path "
				  "nginx can read (no control character or '$')", r->host,
				  r->path, r->static_dir ? r->static_dir : "");
	if (r->writable_root && !file_ok(r->writable_root, ""))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s%s: the writable root '%s' is not an absolute path "
				  "nginx can read (no control character or '$')", r->host,
				  r->path, r->writable_root);
	if (!strcmp(r->path, CHALLENGE) ||
	    !strncmp(r->path, CHALLENGE "/", sizeof(CHALLENGE)))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s%s: %s/ is the node's, for ACME's HTTP-01 answers",
				  r->host, r->path, CHALLENGE);
	if (r->php && !file_ok(r->link, ":"))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s%s: the link '%s' is not an absolute path nginx can read "
				  "(no control character, '$' or ':')", r->host, r->path,
				  r->link ? r->link : "");
	if (r->php && !r->php_runner == !r->php_root)
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s%s: a php route takes a runner or a php_root, one of them",
				  r->host, r->path);
	if (r->php && !rel_ok(r->php_runner ? r->php_runner : r->php_root))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s%s: '%s' is not a relative path in the instance nginx can "
				  "be given (no '..', control character, '$', '\"' or '\\')",
				  r->host, r->path, r->php_runner ? r->php_runner : r->php_root);
	if (!tls(r))
		return 0;
	if (!strcmp(r->host, "*") || !strcmp(r->host, "not-found"))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s%s: %s takes no certificate", r->host, r->path, r->host);
	if (!file_ok(r->cert, ""))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s%s: the certificate '%s' is not an absolute path "
				  "nginx can read (no control character or '$')", r->host,
				  r->path, r->cert);
	if (!r->cert_sha256 || strlen(r->cert_sha256) != GEN_HEX ||
	    strspn(r->cert_sha256, "0123456789abcdef") != GEN_HEX)
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s%s: the certificate's digest is not 64 hex digits",
				  r->host, r->path);
	return 0;
}

/* Hosts in byte order; within one, paths in reverse byte order (longest first). */
static int route_cmp(const void *a, const void *b)
{
	const struct sl_render_route *x = *(const struct sl_render_route *const *)a;
	const struct sl_render_route *y = *(const struct sl_render_route *const *)b;
	int c = strcmp(x->host, y->host);

	return c ? c : strcmp(y->path, x->path);
}

static void add_generation(struct sl_buf *out)
{
	sl_buf_adds(out, "\tlocation = /.silverlining/generation {\n"
		    "\t\tallow 127.0.0.1;\n\t\tallow ::1;\n\t\tdeny all;\n"
		    "\t\tdefault_type text/plain;\n\t\treturn 200 \"");
	sl_buf_addch(out, GEN_MARK);
	sl_buf_adds(out, "\\n\";\n\t}\n");
}

/*
 * The balancer's health check: 200 for a balancer or loopback (the
 * connection's own address, never one a header claims), 404 for the rest.
 */
static void add_up(struct sl_buf *out)
{
	sl_buf_adds(out, "\tlocation = /.silverlining/up {\n"
		    "\t\tif ($silverlining_balancer = 0) {\n\t\t\treturn 404;\n\t\t}\n"
		    "\t\tdefault_type text/plain;\n\t\treturn 200 \"up\\n\";\n\t}\n");
}

static const char outside[] =
	"\t\tif ($silverlining_outside) {\n\t\t\treturn 503;\n\t\t}\n";

/* an https route behind a balancer: the balancer's (and loopback's) alone */
static const char only_balancer[] =
	"\t\tif ($silverlining_balancer = 0) {\n\t\t\treturn 421;\n\t\t}\n";

static const char hsts_header[] =
	"\t\tadd_header Strict-Transport-Security \"max-age=31536000\" always;\n";

/*
 * The end of a location that hands the request to R's php-fpm: SCRIPT
 * (nginx's text, after "$realpath_root/app") run, SCRIPT_NAME NAME.
 * The root was set to R's link before: its $realpath_root names the
 * instance behind it, once, for both the socket and the script.
 */
static void add_fastcgi(const struct sl_render_route *r, const char *script,
			const char *name, int behind, struct sl_buf *out)
{
	const char *sub = r->php_root ? r->php_root : "";

	sl_buf_adds(out, "\t\tinclude /etc/nginx/fastcgi_params;\n"
		    "\t\tfastcgi_param HTTP_X_FORWARDED_FOR $remote_addr;\n");
	/* the client spoke HTTPS to the balancer: php-fpm keeps the last of a name */
	if (behind)
		sl_buf_adds(out, "\t\tfastcgi_param HTTPS on;\n"
			    "\t\tfastcgi_param REQUEST_SCHEME https;\n"
			    "\t\tfastcgi_param HTTP_X_FORWARDED_PROTO https;\n");
	sl_buf_adds(out, "\t\tfastcgi_param SCRIPT_FILENAME \"$realpath_root/app/");
	sl_buf_addf(out, "%s\";\n\t\tfastcgi_param SCRIPT_NAME \"%s\";\n"
		    "\t\tfastcgi_param DOCUMENT_ROOT \"$realpath_root/app%s",
		    script, name, *sub ? "/" : "");
	add_escaped(out, sub);
	sl_buf_addf(out, "\";\n\t\tfastcgi_param HTTP_X_SILVERLINING_UPDATE \"\";\n"
		    "\t\tfastcgi_read_timeout %ds;\n"
		    "\t\tfastcgi_pass \"unix:$realpath_root/sock\";\n\t}\n",
		    (r->timeout > 0 ? r->timeout : 30) + 5);
}

/* R's PHP: its named location @H/P (after static/ and the writable root). */
static void add_php(const struct sl_render_route *r, const char *off, const char *sts,
		    int behind, struct sl_buf *out)
{
	const char *h = r->host, *p = r->path;
	int root = !strcmp(p, "/");
	struct sl_buf re = SL_BUF_INIT, script = SL_BUF_INIT;

	if (r->php_runner) {	/* every request runs the runner */
		sl_buf_addf(out, "\tlocation @%s%s {\n%s%s\t\troot ", h, p, off, sts);
		add_quoted(out, r->link, "");
		sl_buf_adds(out, ";\n");
		add_escaped(&script, r->php_runner);
		add_fastcgi(r, script.buf, root ? "" : p, behind, out);
		sl_buf_release(&script);
		return;
	}
	/* php_root: the path's regular expression ('.' the only special byte path_ok lets in) */
	for (const char *c = root ? "" : p; *c; c++)
		sl_buf_adds(&re, *c == '.' ? "\\." : (char[]){ *c, 0 });
	/* scripts and directories to PHP, other files served from php_root */
	sl_buf_addf(out, "\tlocation @%s%s {\n%s\t\terror_page 418 = @php:%s%s;\n"
		    "\t\tif ($uri ~ \"(\\.php|/)$\") {\n\t\t\treturn 418;\n\t\t}\n",
		    h, p, off, h, p);
	if (!root)
		sl_buf_addf(out, "\t\tif ($uri = %s) {\n\t\t\treturn 418;\n\t\t}\n"
			    "\t\trewrite \"^%s(/.*)$\" \"$1\" break;\n", p, re.buf);
	sl_buf_adds(out, "\t\troot \"");
	add_escaped(out, r->link);
	sl_buf_adds(out, "/app/");
	add_escaped(out, r->php_root);
	sl_buf_addf(out, "\";\n%s\t\ttry_files $uri =404;\n\t}\n", sts);
	/* the script: the path taken off the URI, a directory's index.php */
	sl_buf_addf(out, "\tlocation @php:%s%s {\n%s%s", h, p, off, sts);
	if (!root)
		sl_buf_addf(out, "\t\trewrite \"^%s/?$\" /index.php break;\n", re.buf);
	sl_buf_addf(out, "\t\trewrite \"^%s(/.*/)$\" \"$1index.php\" break;\n", re.buf);
	if (!root)
		sl_buf_addf(out, "\t\trewrite \"^%s(/.*)$\" \"$1\" break;\n", re.buf);
	sl_buf_adds(out, "\t\troot ");
	add_quoted(out, r->link, "");
	/* no try_files: it would change $uri; php-fpm answers 404 for a script it has not */
	sl_buf_adds(out, ";\n");
	add_escaped(&script, r->php_root);
	sl_buf_adds(&script, "$uri");
	sl_buf_reset(&re);
	sl_buf_addf(&re, "%s$uri", root ? "" : p);
	add_fastcgi(r, script.buf, re.buf, behind, out);
	sl_buf_release(&re);
	sl_buf_release(&script);
}

/*
 * R's locations; its answers carry HSTS when HSTS is 1 (over HTTPS).
 * BEHIND: an https route whose TLS a balancer terminates, served on
 * port 80 to the balancers and loopback alone, the app told https.
 */
static void add_route(const struct sl_render_route *r, int hsts, int behind,
		      struct sl_buf *out)
{
	const char *sts = hsts ? hsts_header : "";
	const char *h = r->host, *p = r->path, *wr = r->writable_root ? "wr:" : "";
	int root = !strcmp(p, "/");
	char body[64] = "", off[sizeof(outside) + sizeof(only_balancer)];

	snprintf(off, sizeof(off), "%s%s", r->disabled ? outside : "",
		 behind ? only_balancer : "");

	/* PHP reads the body: nginx takes it (in the location the URI finds) */
	if (r->php)
		snprintf(body, sizeof(body), "\t\tclient_max_body_size %dm;\n",
			 SL_RENDER_PHP_BODY_MB);
	/* named from the location alone: a switch of instance leaves the text */
	if (root) {
		sl_buf_addf(out, "\tlocation / {\n%s%s\t\troot ", off, body);
		add_quoted(out, r->static_dir, "");
	} else {
		sl_buf_addf(out, "\tlocation = %s {\n%s\t\ttry_files /nonexistent @%s%s;\n\t}\n",
			    p, body, h, p);
		sl_buf_addf(out, "\tlocation ^~ %s/ {\n%s%s\t\talias ", p, off, body);
		add_quoted(out, r->static_dir, "/");
	}
	sl_buf_addf(out, ";\n%s\t\ttry_files $uri @%s%s%s;\n\t}\n", sts, wr, h, p);
	if (r->writable_root) {	/* per-host files first: $CONFIG_WRITABLE_ROOT/HOST/... */
		sl_buf_addf(out, "\tlocation @%s%s%s {\n%s\t\troot ", wr, h, p, off);
		add_quoted(out, r->writable_root, "");
		sl_buf_addf(out, ";\n%s\t\ttry_files /$host$uri $uri @%s%s;\n\t}\n", sts, h, p);
	}
	if (r->php) {
		add_php(r, off, sts, behind, out);
		return;
	}
	sl_buf_addf(out, "\tlocation @%s%s {\n%s%s\t\tproxy_pass ", h, p, off, sts);
	add_quoted(out, "http://unix:", r->socket);
	sl_buf_addf(out, ";\n"
		    "\t\tproxy_set_header Host $host;\n"
		    "\t\tproxy_set_header X-Forwarded-For $remote_addr;\n"
		    "\t\tproxy_set_header X-Silverlining-Remote-Addr $remote_addr;\n"
		    "\t\tproxy_set_header X-Forwarded-Proto %s;\n"
		    "\t\tproxy_set_header X-Silverlining-Update \"\";\n"
		    "\t\tproxy_set_header X-Silverlining-Script-Name \"%s\";\n"
		    "\t\tproxy_read_timeout %ds;\n\t}\n", behind ? "https" : "$scheme",
		    root ? "" : p, (r->timeout > 0 ? r->timeout : 30) + 5);
}

/* R's locations on port 80 when it is served over HTTPS: to the same URL there. */
static void add_redirect(const struct sl_render_route *r, struct sl_buf *out)
{
	static const char to[] = "\t\treturn 308 https://$host$request_uri;\n\t}\n";

	if (!strcmp(r->path, "/")) {
		sl_buf_addf(out, "\tlocation / {\n%s", to);
		return;
	}
	sl_buf_addf(out, "\tlocation = %s {\n%s", r->path, to);
	sl_buf_addf(out, "\tlocation ^~ %s/ {\n%s", r->path, to);
}

static void add_challenge(const struct sl_render_nginx *in, struct sl_buf *out)
{
	sl_buf_adds(out, "\tlocation ^~ " CHALLENGE "/ {\n\t\talias ");
	add_quoted(out, in->challenge, "/");
	sl_buf_adds(out, ";\n\t\tdefault_type text/plain;\n\t}\n");
}

static void add_disabled_page(const struct sl_render_nginx *in, struct sl_buf *out)
{
	sl_buf_adds(out, "\terror_page 503 /.silverlining/disabled.html;\n"
		    "\tlocation = /.silverlining/disabled.html {\n\t\talias ");
	add_quoted(out, in->pages, "/disabled.html");
	sl_buf_adds(out, ";\n\t\tinternal;\n\t}\n");
}

/* Mozilla's "intermediate" settings, ECDHE only (no DH parameters to keep). */
static const char tls_settings[] =
	"\tssl_protocols TLSv1.2 TLSv1.3;\n"
	"\tssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;\n"
	"\tssl_prefer_server_ciphers off;\n"
	"\tssl_session_cache shared:silverlining:10m;\n"
	"\tssl_session_timeout 1d;\n"
	"\tssl_session_tickets off;\n";

/* The host's routes V[0..N) over HTTPS with certificate C (a route of it). */
static void add_tls_server(const struct sl_render_nginx *in,
			   const struct sl_render_route **v, size_t n,
			   const struct sl_render_route *c, struct sl_buf *out)
{
	sl_buf_addf(out, "server {\n\tlisten 443 ssl http2;\n\tlisten [::]:443 ssl http2;\n"
		    "\tserver_name %s;\n\t# certificate sha256 %s\n\tssl_certificate ",
		    c->host, c->cert_sha256);
	add_quoted(out, c->cert, "");
	sl_buf_adds(out, ";\n\tssl_certificate_key ");	/* the key follows the chain */
	add_quoted(out, c->cert, "");
	sl_buf_addf(out, ";\n%s", tls_settings);
	add_generation(out);
	add_up(out);
	add_disabled_page(in, out);
	for (size_t i = 0; i < n; i++)
		add_route(v[i], tls(v[i]) && v[i]->hsts, 0, out);
	sl_buf_adds(out, "}\n");
}

/*
 * The route of V[0..N) (one host's) whose certificate the host's HTTPS
 * server uses, or NULL for none; -1 with ERR when its https routes do not
 * name one certificate.
 */
static int host_cert(const struct sl_render_route **v, size_t n,
		     const struct sl_render_route **c, struct sl_err *err)
{
	*c = NULL;
	for (size_t i = 0; i < n && !*c; i++)
		if (tls(v[i]))
			*c = v[i];
	for (size_t i = 0; *c && i < n; i++)
		if (v[i]->https && (!tls(v[i]) || strcmp(v[i]->cert, (*c)->cert) ||
				    strcmp(v[i]->cert_sha256, (*c)->cert_sha256)))
			return sl_err_set(err, SL_EXIT_USAGE,
					  "%s: its https routes do not name one certificate",
					  v[i]->host);
	return 0;
}

static int add_servers(const struct sl_render_nginx *in,
		       const struct sl_render_route **v, struct sl_buf *out,
		       struct sl_err *err)
{
	int has_default = 0, any_tls = 0;

	for (size_t i = 0, n; i < in->n; i += n) {
		const char *host = v[i]->host;
		const struct sl_render_route *c;

		for (n = 1; i + n < in->n && !strcmp(v[i + n]->host, host); n++)
			;
		/* behind balancers, TLS is theirs: no certificate, no 443, no redirect */
		if (host_cert(v + i, n, &c, err) < 0)
			return -1;
		if (in->nbalancers)
			c = NULL;
		sl_buf_adds(out, "server {\n");
		if (!strcmp(host, "*") || !strcmp(host, "not-found")) {
			has_default = 1;
			sl_buf_adds(out, "\tlisten 80 default_server;\n"
				    "\tlisten [::]:80 default_server;\n\tserver_name _;\n");
		} else {
			sl_buf_addf(out, "\tlisten 80;\n\tlisten [::]:80;\n"
				    "\tserver_name %s;\n", host);
		}
		add_generation(out);
		add_up(out);
		add_challenge(in, out);
		add_disabled_page(in, out);
		for (size_t j = i; j < i + n; j++) {
			if (c && v[j]->https)
				add_redirect(v[j], out);
			else
				add_route(v[j], 0, in->nbalancers && v[j]->https, out);
		}
		sl_buf_adds(out, "}\n");
		if (c) {
			add_tls_server(in, v + i, n, c, out);
			any_tls = 1;
		}
	}
	if (!has_default) {
		/* no route takes every host: the rest get the not-found page */
		sl_buf_adds(out, "server {\n\tlisten 80 default_server;\n"
			    "\tlisten [::]:80 default_server;\n\tserver_name _;\n");
		add_generation(out);
		add_up(out);
		add_challenge(in, out);
		sl_buf_adds(out, "\troot ");
		add_quoted(out, in->pages, "");
		sl_buf_adds(out, ";\n\terror_page 404 /not-found.html;\n"
			    "\tlocation / {\n\t\treturn 404;\n\t}\n"
			    "\tlocation = /not-found.html {\n\t\tinternal;\n\t}\n}\n");
	}
	/* no certificate to show a name nginx has no server for */
	if (any_tls)
		sl_buf_addf(out, "server {\n\tlisten 443 ssl http2 default_server;\n"
			    "\tlisten [::]:443 ssl http2 default_server;\n"
			    "\tserver_name _;\n\tssl_reject_handshake on;\n%s}\n",
			    tls_settings);
	return 0;
}

/* TEXT with the digest of itself (marks left out) in place of each mark. */
static int add_digested(const struct sl_buf *text, struct sl_buf *out,
			struct sl_err *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const char *s = text->buf, *end = text->buf + text->len, *m;
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);

	for (; ok && s < end; s = m + 1) {
		m = memchr(s, GEN_MARK, (size_t)(end - s));
		if (!m)
			m = end;
		ok = EVP_DigestUpdate(ctx, s, (size_t)(m - s));
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen * 2 == GEN_HEX;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return sl_err_set(err, SL_EXIT_TEMP, "unable to compute SHA-256");
	for (unsigned i = 0; i < mdlen; i++) {
		hex[2 * i] = "0123456789abcdef"[md[i] >> 4];
		hex[2 * i + 1] = "0123456789abcdef"[md[i] & 15];
	}
	for (s = text->buf; s < end; s = m + 1) {
		m = memchr(s, GEN_MARK, (size_t)(end - s));
		if (!m) {
			sl_buf_add(out, s, (size_t)(end - s));
			break;
		}
		sl_buf_add(out, s, (size_t)(m - s));
		sl_buf_add(out, hex, GEN_HEX);
	}
	return 0;
}

/* Whether IN's balancer I is one before it too (a map refuses a key twice). */
static int balancer_seen(const struct sl_render_nginx *in, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (!strcmp(in->balancers[j], in->balancers[i]))
			return 1;
	return 0;
}

int sl_render_nginx(const struct sl_render_nginx *in, struct sl_buf *out,
		    struct sl_err *err)
{
	const struct sl_render_route **v;
	struct sl_buf text = SL_BUF_INIT;
	int any = 0, notfound = 0, r;

	if (!file_ok(in->pages, ""))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "the pages directory '%s' is not an absolute path nginx "
				  "can read (no control character or '$')",
				  in->pages ? in->pages : "");
	if (!file_ok(in->challenge, ""))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "the ACME challenge directory '%s' is not an absolute path "
				  "nginx can read (no control character or '$')",
				  in->challenge ? in->challenge : "");
	for (size_t i = 0; i < in->nbalancers; i++)
		if (!sl_render_balancer_ok(in->balancers[i]))
			return sl_err_set(err, SL_EXIT_USAGE,
					  "invalid balancer address '%s': want an IPv4 address "
					  "such as 10.0.0.5", in->balancers[i] ? in->balancers[i] : "");
	for (size_t i = 0; i < in->n; i++) {
		if (check_route(&in->routes[i], err) < 0)
			return -1;
		any |= !strcmp(in->routes[i].host, "*");
		notfound |= !strcmp(in->routes[i].host, "not-found");
	}
	if (any && notfound)
		return sl_err_set(err, SL_EXIT_USAGE,
				  "* and not-found both take every other host: deactivate one of them");
	v = calloc(in->n ? in->n : 1, sizeof(*v));
	if (!v)
		return sl_err_set(err, SL_EXIT_TEMP, "out of memory");
	for (size_t i = 0; i < in->n; i++)
		v[i] = &in->routes[i];
	qsort(v, in->n, sizeof(*v), route_cmp);
	for (size_t i = 1; i < in->n; i++) {
		if (!route_cmp(&v[i - 1], &v[i])) {
			r = sl_err_set(err, SL_EXIT_USAGE, "%s%s is routed twice",
				       v[i]->host, v[i]->path);
			free(v);
			return r;
		}
	}
	sl_buf_adds(&text, "# generated by sl-activate from the node's routes: do not edit\n"
		    "# generation ");
	sl_buf_addch(&text, GEN_MARK);
	/* loopback and the balancers by the connection's address, whatever a header says */
	sl_buf_adds(&text, "\nmap $realip_remote_addr $silverlining_outside {\n"
		    "\t127.0.0.1 0;\n\t::1 0;\n\tdefault 1;\n}\n"
		    "map $realip_remote_addr $silverlining_balancer {\n"
		    "\t127.0.0.1 1;\n\t::1 1;\n");
	for (size_t i = 0; i < in->nbalancers; i++)
		if (strcmp(in->balancers[i], "127.0.0.1") && !balancer_seen(in, i))
			sl_buf_addf(&text, "\t%s 1;\n", in->balancers[i]);
	sl_buf_adds(&text, "\tdefault 0;\n}\n");
	/* a balancer's X-Forwarded-For names the client: its last address, the one it saw */
	for (size_t i = 0; i < in->nbalancers; i++)
		if (!balancer_seen(in, i))
			sl_buf_addf(&text, "set_real_ip_from %s;\n", in->balancers[i]);
	if (in->nbalancers)
		sl_buf_adds(&text, "real_ip_header X-Forwarded-For;\nreal_ip_recursive off;\n");
	r = add_servers(in, v, &text, err);
	free(v);
	if (r == 0)
		r = add_digested(&text, out, err);
	sl_buf_release(&text);
	return r;
}

int sl_render_balancer_ok(const char *ip)
{
	struct in_addr a;
	char back[INET_ADDRSTRLEN];

	/* dotted quad, and written back the same: no leading zero, nothing else */
	return ip && inet_pton(AF_INET, ip, &a) == 1 &&
		inet_ntop(AF_INET, &a, back, sizeof(back)) && !strcmp(back, ip);
}

int sl_render_generation(const char *text, struct sl_buf *out)
{
	static const char tag[] = "# generation ";
	const char *s = text;

	while (s && strncmp(s, tag, sizeof(tag) - 1)) {
		s = strchr(s, '\n');
		s = s ? s + 1 : NULL;
	}
	if (!s)
		return -1;
	s += sizeof(tag) - 1;
	if (strspn(s, "0123456789abcdef") != GEN_HEX || (s[GEN_HEX] && s[GEN_HEX] != '\n'))
		return -1;
	sl_buf_add(out, s, GEN_HEX);
	return 0;
}

/* uWSGI's pool: the workers it may add to app.ini's processes */
#define SPARE_WORKERS 32

void sl_render_uwsgi(const struct sl_render_uwsgi *in, struct sl_buf *out)
{
	sl_buf_addf(out, "[uwsgi]\nstrict = true\nplugins = python3,cheaper_busyness\nmaster = true\n"
		    "# HTTP on the socket systemd holds, %s\nprotocol = http\n"
		    "uid = %s\ngid = %s\nchdir = %s\npythonpath = %s\nwsgi-file = %s\n"
		    "need-app = true\n",
		    in->socket, in->user, in->user, in->dir,
		    in->pythonpath, in->wsgi_file);
	/*
	 * The pool (doc/DESIGN.md, "The pool"): app.ini's processes, and up
	 * to SPARE_WORKERS more, added two at a time by uWSGI's busyness
	 * algorithm (its plugin is in uwsgi-core) as soon as the workers are
	 * busy half of a second on average, and stopped again after 30 s
	 * under a fifth. A worker held by a request that never returns counts
	 * as busy, so workers are added while some are still free: spare
	 * (uWSGI's default) adds them only once every one is busy, and the
	 * requests queued meanwhile waited for its once-a-second check
	 * (bench/failsafe, B3).
	 */
	sl_buf_addf(out, "processes = %d\ncheaper = %d\ncheaper-initial = %d\n"
		    "cheaper-algo = busyness\ncheaper-step = 2\ncheaper-overload = 1\n"
		    "cheaper-busyness-max = 50\ncheaper-busyness-min = 20\n"
		    "cheaper-busyness-multiplier = 30\nthreads = %d\n",
		    in->processes + SPARE_WORKERS, in->processes, in->processes, in->threads);
	if (in->threads > 1)
		sl_buf_adds(out, "enable-threads = true\n");
	sl_buf_addf(out, "harakiri = %d\nharakiri-verbose = true\nmax-requests = 5000\n"
		    "reload-on-rss = %d\ndie-on-term = true\n"
		    "buffer-size = 32768\nlogto = %s\nlog-x-forwarded-for = true\n",
		    in->timeout, in->memory_limit, in->log);
	if (in->idle > 0)
		sl_buf_addf(out, "idle = %d\ndie-on-idle = true\n", in->idle);
}

/*
 * The length of the UTF-8 sequence at S that Python's strict decoder
 * takes (no overlong form, no surrogate, nothing past U+10FFFF), its code
 * point in *CP; 0 when the byte at S starts none.
 */
static int utf8_seq(const unsigned char *s, unsigned long *cp)
{
	unsigned char lo = 0x80, hi = 0xbf;
	int n;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	*cp = s[0] & (0xff >> (n + 1));
	for (int i = 1; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	return n;
}

/*
 * S as a Python str literal in ASCII: what Python reads for the bytes S
 * as a file name (os.fsdecode: UTF-8, each byte of no valid sequence as
 * the lone surrogate U+DC80+byte), as repr() writes it in spirit.
 */
static void add_py_str(struct sl_buf *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned long cp;
	int n;

	sl_buf_addch(out, '\'');
	while (*s) {
		if (*s == '\\' || *s == '\'') {
			sl_buf_addch(out, '\\');
			sl_buf_addch(out, *s++);
		} else if (*s == '\n') {
			sl_buf_adds(out, "\\n");
			s++;
		} else if (*s == '\t') {
			sl_buf_adds(out, "\\t");
			s++;
		} else if (*s == '\r') {
			sl_buf_adds(out, "\\r");
			s++;
		} else if (*s < 0x20 || *s == 0x7f) {
			sl_buf_addf(out, "\\x%02x", *s++);
		} else if (*s < 0x80) {
			sl_buf_addch(out, *s++);
		} else if ((n = utf8_seq(s, &cp)) > 0) {
			if (cp > 0xffff)
				sl_buf_addf(out, "\\U%08lx", cp);
			else
				sl_buf_addf(out, "\\u%04lx", cp);
			s += n;
		} else {
			sl_buf_addf(out, "\\udc%02x", *s++);
		}
	}
	sl_buf_addch(out, '\'');
}

void sl_render_wsgi(const char *dir, const char *runner, struct sl_buf *out)
{
	sl_buf_adds(out, "from silverlining_runner import load\napplication = load(");
	add_py_str(out, dir);
	sl_buf_adds(out, ", ");
	add_py_str(out, runner);
	sl_buf_adds(out, ")\n");
}

void sl_render_phpfpm(const struct sl_render_phpfpm *in, struct sl_buf *out)
{
	sl_buf_addf(out, "; generated by sl-activate for %s: do not edit\n"
		    "[global]\nerror_log = %s\ndaemonize = no\n\n"
		    "[%s]\nuser = %s\ngroup = %s\n"
		    "listen = %s\nlisten.owner = %s\nlisten.group = www-data\n"
		    "listen.mode = 0660\nchdir = %s\n",
		    in->instance, in->log, in->instance, in->user, in->user,
		    in->socket, in->user, in->dir);
	sl_buf_addf(out, "pm = ondemand\npm.max_children = %d\n"
		    "pm.process_idle_timeout = %ds\npm.max_requests = 5000\n"
		    "request_terminate_timeout = %ds\n"
		    "request_slowlog_timeout = %ds\nslowlog = %s\n"
		    "catch_workers_output = yes\ndecorate_workers_output = no\n"
		    "clear_env = no\nsecurity.limit_extensions = .php\n",
		    in->processes, SL_RENDER_PHP_IDLE_S, in->timeout,
		    SL_RENDER_PHP_SLOW_S, in->slowlog);
	/* php_admin_*: what the app's ini_set() cannot change */
	sl_buf_addf(out, "php_admin_value[memory_limit] = %dM\n"
		    "php_admin_value[upload_max_filesize] = %dM\n"
		    "php_admin_value[post_max_size] = %dM\n"
		    "php_admin_value[open_basedir] = %s/:%s/:%s/:/usr/share/php/\n",
		    in->memory_limit, SL_RENDER_PHP_BODY_MB, SL_RENDER_PHP_BODY_MB,
		    in->dir, in->temp, in->areas);
	sl_buf_addf(out, "php_admin_value[session.save_path] = %s\n"
		    "php_admin_value[upload_tmp_dir] = %s\n"
		    "php_admin_value[sys_temp_dir] = %s\n"
		    "php_admin_flag[expose_php] = off\n"
		    "php_admin_flag[log_errors] = on\n",
		    in->temp, in->temp, in->temp);
}
