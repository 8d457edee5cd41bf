/* silverlining — the record of a service node's servers, as its clients keep it. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dbrecord.h"
#include "exit.h"
#include "file.h"
#include "ini.h"
#include "mem.h"
#include "node.h"

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END "-----END CERTIFICATE-----"

void sl_dbrecord_server_release(struct sl_dbrecord_server *s)
{
	free(s->host);
	free(s->admin);
	if (s->password)
		explicit_bzero(s->password, strlen(s->password));
	free(s->password);
	if (s->replication)
		explicit_bzero(s->replication, strlen(s->replication));
	free(s->replication);
	if (s->seed)
		explicit_bzero(s->seed, strlen(s->seed));
	free(s->seed);
	sl_strv_clear(&s->clients);
	free(s->cert);
	memset(s, 0, sizeof(*s));
}

void sl_dbrecord_release(struct sl_dbrecord *r)
{
	sl_dbrecord_server_release(&r->pg);
	sl_dbrecord_server_release(&r->my);
}

struct parse {
	struct sl_dbrecord *r;
	struct sl_dbrecord_server *cur;
	const char *what;
	const char *last_key;	/* of the section, for continuation lines */
	unsigned seen;		/* bits of the keys given in the section */
	struct sl_buf cert;	/* the PEM being read */
	int cert_done;		/* its END line was seen */
};

enum { K_HOST, K_PORT, K_ADMIN, K_PASSWORD, K_REPLICATION, K_SEED, K_CLIENTS, K_CERT, K_N };
static const char *const key_names[K_N] = {
	"host", "port", "admin", "password", "replication", "seed", "clients", "cert",
};

static int hex64(const char *v)
{
	if (strlen(v) != 64)
		return 0;
	for (const char *p = v; *p; p++)
		if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
			return 0;
	return 1;
}

static int host_valid(const char *v)
{
	size_t n = strlen(v);

	if (!n || n > 253)
		return 0;
	for (const char *p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(".-:", *p))
			return 0;
	return 1;
}

static int ident_valid(const char *v)
{
	size_t n = strlen(v);

	if (!n || n > 32 || !islower((unsigned char)*v))
		return 0;
	for (const char *p = v; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_')
			return 0;
	return 1;
}

static int push_clients(struct parse *ps, const char *v, unsigned line, struct sl_err *err)
{
	char *copy = sl_xstrdup(v), *save = NULL;

	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		struct in_addr a;

		if (inet_pton(AF_INET, w, &a) != 1) {
			sl_err_set(err, SL_EXIT_USAGE, "%s:%u: client '%.60s': not an IPv4 address",
				   ps->what, line, w);
			free(copy);
			return -1;
		}
		sl_strv_push(&ps->cur->clients, w);
	}
	free(copy);
	return 0;
}

/* One line of the PEM: the BEGIN line first, base64 lines, the END line last. */
static int cert_line(struct parse *ps, const char *v, unsigned line, struct sl_err *err)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
	int begin = !strcmp(v, PEM_BEGIN), end = !strcmp(v, PEM_END);
	int inside = ps->cert.len && !ps->cert_done, ok;

	if (begin)
		ok = !inside;
	else if (end)
		ok = inside;
	else
		ok = inside && *v && strspn(v, b64) == strlen(v);
	if (!ok)
		return sl_err_set(err, SL_EXIT_USAGE, "%s:%u: cert: not a PEM certificate line "
				  "('%.60s')", ps->what, line, v);
	ps->cert_done = end;
	sl_buf_adds(&ps->cert, v);
	sl_buf_addch(&ps->cert, '\n');
	return 0;
}

/* The section in PS is over: its required keys, its certificate. */
static int section_end(struct parse *ps, struct sl_err *err)
{
	struct sl_dbrecord_server *s = ps->cur;
	int pg;

	if (!s)
		return 0;
	pg = s == &ps->r->pg;
	for (int k = 0; k < K_N; k++) {
		if (k == K_REPLICATION && !pg)
			continue;
		if (!(ps->seen & (1u << k)))
			return sl_err_set(err, SL_EXIT_USAGE, "%s: [%s] has no %s", ps->what,
					  pg ? SL_DBRECORD_PG : SL_DBRECORD_MY, key_names[k]);
	}
	if (!ps->cert_done)
		return sl_err_set(err, SL_EXIT_USAGE, "%s: [%s]'s cert does not end with '%s'",
				  ps->what, pg ? SL_DBRECORD_PG : SL_DBRECORD_MY, PEM_END);
	s->cert = sl_buf_detach(&ps->cert, NULL);
	ps->cur = NULL;
	return 0;
}

static int item(void *user, const struct sl_ini_item *it, struct sl_err *err)
{
	struct parse *ps = user;
	struct sl_dbrecord_server *s;
	char *end;
	int k;

	if (!ps->cur || strcmp(it->section, ps->cur == &ps->r->pg ? SL_DBRECORD_PG :
			       SL_DBRECORD_MY)) {
		if (section_end(ps, err) < 0)
			return -1;
		if (!strcmp(it->section, SL_DBRECORD_PG))
			s = &ps->r->pg;
		else if (!strcmp(it->section, SL_DBRECORD_MY))
			s = &ps->r->my;
		else
			return sl_err_set(err, SL_EXIT_USAGE, "%s:%u: [%s]: not a section of a "
					  "record (postgresql, mysql)", ps->what, it->line,
					  it->section);
		if (s->present)
			return sl_err_set(err, SL_EXIT_USAGE, "%s:%u: [%s] given twice",
					  ps->what, it->line, it->section);
		s->present = 1;
		ps->cur = s;
		ps->seen = 0;
		ps->cert_done = 0;
		sl_buf_setlen(&ps->cert, 0);
	}
	s = ps->cur;
	for (k = 0; k < K_N && strcmp(it->key, key_names[k]); k++)
		;
	if (k == K_N || (k == K_REPLICATION && s == &ps->r->my))
		return sl_err_set(err, SL_EXIT_USAGE, "%s:%u: %s: not a key of [%s]", ps->what,
				  it->line, it->key, it->section);
	if (it->continuation) {
		if (k == K_CLIENTS)
			return push_clients(ps, it->value, it->line, err);
		if (k == K_CERT)
			return cert_line(ps, it->value, it->line, err);
		return sl_err_set(err, SL_EXIT_USAGE, "%s:%u: %s is one line", ps->what,
				  it->line, it->key);
	}
	if (ps->seen & (1u << k))
		return sl_err_set(err, SL_EXIT_USAGE, "%s:%u: %s given twice", ps->what,
				  it->line, it->key);
	ps->seen |= 1u << k;
	switch (k) {
	case K_HOST:
		if (!host_valid(it->value))
			break;
		s->host = sl_xstrdup(it->value);
		return 0;
	case K_PORT: {
		long p;

		errno = 0;
		p = strtol(it->value, &end, 10);
		if (errno || *end || end == it->value || p < 1 || p > 65535)
			break;
		s->port = (int)p;
		return 0;
	}
	case K_ADMIN:
		if (!ident_valid(it->value))
			break;
		s->admin = sl_xstrdup(it->value);
		return 0;
	case K_PASSWORD: case K_REPLICATION: case K_SEED:
		if (!hex64(it->value))
			return sl_err_set(err, SL_EXIT_USAGE, "%s:%u: %s: not 64 hex digits",
					  ps->what, it->line, it->key);
		*(k == K_PASSWORD ? &s->password : k == K_SEED ? &s->seed : &s->replication) =
			sl_xstrdup(it->value);
		return 0;
	case K_CLIENTS:
		return push_clients(ps, it->value, it->line, err);
	case K_CERT:
		return cert_line(ps, it->value, it->line, err);
	}
	return sl_err_set(err, SL_EXIT_USAGE, "%s:%u: %s = '%.60s': not valid", ps->what,
			  it->line, it->key, it->value);
}

int sl_dbrecord_parse(struct sl_dbrecord *r, const char *text, size_t len,
		      const char *what, struct sl_err *err)
{
	struct parse ps = { .r = r, .what = what, .cert = SL_BUF_INIT };
	int ret;

	sl_dbrecord_release(r);
	ret = sl_ini_parse_text(what, text, len, item, &ps, err);
	if (!ret)
		ret = section_end(&ps, err);
	sl_buf_release(&ps.cert);
	if (!ret && !r->pg.present && !r->my.present)
		ret = sl_err_set(err, SL_EXIT_USAGE, "%s: names no server ([postgresql] or "
				 "[mysql])", what);
	if (ret)
		sl_dbrecord_release(r);
	return ret;
}

static void format_server(const struct sl_dbrecord_server *s, const char *kind,
			  struct sl_buf *out)
{
	const char *p;

	if (!s->present)
		return;
	sl_buf_addf(out, "[%s]\nhost = %s\nport = %d\nadmin = %s\npassword = %s\n", kind,
		    s->host, s->port, s->admin, s->password);
	if (s->replication)
		sl_buf_addf(out, "replication = %s\n", s->replication);
	sl_buf_addf(out, "seed = %s\n", s->seed);
	if (s->clients.n) {
		sl_buf_adds(out, "clients =");
		for (size_t i = 0; i < s->clients.n; i++)
			sl_buf_addf(out, " %s", s->clients.v[i]);
		sl_buf_addch(out, '\n');
	}
	sl_buf_adds(out, "cert =");
	p = s->cert;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (n)
			sl_buf_addf(out, "%s%.*s\n", p == s->cert ? " " : "       ", (int)n, p);
		p += n + (nl ? 1 : 0);
	}
}

void sl_dbrecord_format(const struct sl_dbrecord *r, struct sl_buf *out)
{
	format_server(&r->pg, SL_DBRECORD_PG, out);
	format_server(&r->my, SL_DBRECORD_MY, out);
}

static void services_dir(struct sl_buf *out)
{
	sl_buf_setlen(out, 0);
	sl_buf_addf(out, "%s/services", sl_node_root());
}

void sl_dbrecord_cert_path(struct sl_buf *out, const char *kind)
{
	services_dir(out);
	sl_buf_addf(out, "/%s.pem", kind);
}

int sl_dbrecord_load(struct sl_dbrecord *r, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT, text = SL_BUF_INIT;
	int ret = 1;

	sl_dbrecord_release(r);
	services_dir(&path);
	sl_buf_adds(&path, "/remote.ini");
	if (sl_buf_read_file(&text, path.buf) < 0) {
		if (errno == ENOENT)
			ret = 0;
		else
			ret = sl_err_errno(err, "unable to read %s", path.buf);
	} else if (sl_dbrecord_parse(r, text.buf, text.len, path.buf, err) < 0) {
		err->code = SL_EXIT_TEMP;	/* the node's own file: damaged, not refused */
		ret = -1;
	}
	if (text.buf)
		explicit_bzero(text.buf, text.len);
	sl_buf_release(&text);
	sl_buf_release(&path);
	return ret;
}

static int store_cert(const struct sl_dbrecord_server *s, const char *kind, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT;
	int ret = 0;

	sl_dbrecord_cert_path(&path, kind);
	if (s->present)
		ret = sl_file_write(path.buf, s->cert, strlen(s->cert), 0644, SL_FILE_REPLACE, err);
	else if (unlink(path.buf) < 0 && errno != ENOENT)
		ret = sl_err_errno(err, "unable to remove %s", path.buf);
	sl_buf_release(&path);
	return ret < 0 ? -1 : 0;
}

int sl_dbrecord_store(const struct sl_dbrecord *r, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT, text = SL_BUF_INIT;
	int ret = 0;

	services_dir(&path);
	if (sl_file_mkdirs(path.buf, 0755, err) < 0)
		ret = -1;
	/* the certificates first: a record never names a certificate not there */
	if (!ret && (store_cert(&r->pg, SL_DBRECORD_PG, err) < 0 ||
		     store_cert(&r->my, SL_DBRECORD_MY, err) < 0))
		ret = -1;
	if (!ret) {
		sl_buf_adds(&path, "/remote.ini");
		sl_dbrecord_format(r, &text);
		if (sl_file_write(path.buf, text.buf, text.len, 0600, SL_FILE_REPLACE, err) < 0)
			ret = -1;
		explicit_bzero(text.buf, text.len);
	}
	sl_buf_release(&text);
	sl_buf_release(&path);
	return ret;
}

void sl_dbrecord_app_password(const struct sl_dbrecord_server *s, const char *kind,
			      const char *app, struct sl_buf *out)
{
	struct sl_buf msg = SL_BUF_INIT;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	sl_buf_addf(&msg, "%s:%s", kind, app);
	if (!HMAC(EVP_sha256(), s->seed, (int)strlen(s->seed), (unsigned char *)msg.buf,
		  msg.len, md, &n))
		abort();	/* SHA-256 is always there: a broken libcrypto */
	sl_buf_setlen(out, 0);
	for (unsigned i = 0; i < n; i++)
		sl_buf_addf(out, "%02x", md[i]);
	explicit_bzero(md, sizeof(md));
	sl_buf_release(&msg);
}
