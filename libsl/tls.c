/* silverlining — the node's certificates: what nginx serves over HTTPS, and when to renew. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "exit.h"
#include "file.h"
#include "mem.h"
#include "node.h"
#include "route.h"
#include "tls.h"

#define DAY (24 * 3600L)

/* A parsed PEM text: its certificates in order, and its key. */
struct pem {
	STACK_OF(X509) *certs;
	EVP_PKEY *key;
};

static void pem_release(struct pem *p)
{
	if (p->certs)
		sk_X509_pop_free(p->certs, X509_free);
	EVP_PKEY_free(p->key);
	p->certs = NULL;
	p->key = NULL;
}

/*
 * Reads the blocks of TEXT: CERTIFICATE ones in order, one private key
 * (PKCS#8 or traditional), EC PARAMETERS skipped. Anything else, a
 * second key or an encrypted one is refused (100).
 */
static int pem_parse(const char *text, size_t len, struct pem *p, struct sl_err *err)
{
	BIO *bio = BIO_new_mem_buf(text, (int)len);
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long n;
	int ret = 0;

	p->certs = sk_X509_new_null();
	if (!bio || !p->certs)
		return sl_err_set(err, SL_EXIT_TEMP, "out of memory reading PEM");
	while (ret == 0 && PEM_read_bio(bio, &name, &header, &data, &n)) {
		const unsigned char *q = data;

		if (!strcmp(name, "CERTIFICATE")) {
			X509 *x = d2i_X509(NULL, &q, n);

			if (!x)
				ret = sl_err_set(err, SL_EXIT_USAGE,
						 "a CERTIFICATE block is not a certificate");
			else
				sk_X509_push(p->certs, x);
		} else if (!strcmp(name, "PRIVATE KEY") || !strcmp(name, "EC PRIVATE KEY") ||
			   !strcmp(name, "RSA PRIVATE KEY")) {
			if (p->key)
				ret = sl_err_set(err, SL_EXIT_USAGE, "more than one private key");
			else if (!(p->key = d2i_AutoPrivateKey(NULL, &q, n)))
				ret = sl_err_set(err, SL_EXIT_USAGE,
						 "a %s block is not a private key", name);
		} else if (!strcmp(name, "ENCRYPTED PRIVATE KEY")) {
			ret = sl_err_set(err, SL_EXIT_USAGE,
					 "the private key is encrypted: give it decrypted");
		} else if (strcmp(name, "EC PARAMETERS")) {
			ret = sl_err_set(err, SL_EXIT_USAGE, "unexpected PEM block '%s'", name);
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		name = header = NULL;
		data = NULL;
	}
	BIO_free(bio);
	if (ret < 0)
		pem_release(p);
	return ret;
}

static time_t asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(t, &tm))
		return 0;
	return timegm(&tm);
}

/* C's hosts, dates and fingerprint from its leaf X. */
static void describe(X509 *x, struct sl_tls_cert *c)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct sl_buf fp = SL_BUF_INIT;

	for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);

		if (g->type == GEN_DNS)
			sl_strv_pushn(&c->hosts, (const char *)ASN1_STRING_get0_data(g->d.dNSName),
				      (size_t)ASN1_STRING_length(g->d.dNSName));
	}
	GENERAL_NAMES_free(names);
	c->not_before = asn1_time(X509_get0_notBefore(x));
	c->not_after = asn1_time(X509_get0_notAfter(x));
	X509_digest(x, EVP_sha256(), md, &mdlen);
	for (unsigned int i = 0; i < mdlen; i++)
		sl_buf_addf(&fp, "%02x", md[i]);
	c->fingerprint = sl_buf_detach(&fp, NULL);
}

/* A DNS name a certificate may carry: labels of [A-Za-z0-9-], the first may be '*'. */
static int dns_name_ok(const char *s)
{
	size_t label = 0;

	if (!*s || strlen(s) > 253)
		return 0;
	if (s[0] == '*' && s[1] == '.')
		s += 2;
	for (; *s; s++) {
		if (*s == '.') {
			if (!label)
				return 0;
			label = 0;
		} else if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			   (*s >= '0' && *s <= '9') || *s == '-') {
			label++;
		} else {
			return 0;
		}
	}
	return label > 0;
}

/*
 * The checks of a chain and key (tls.h, sl_tls_install), at NOW; on
 * success C describes the leaf. 0, or -1 with ERR (100).
 */
static int check(struct pem *p, time_t now, struct sl_tls_cert *c, struct sl_err *err)
{
	int n = sk_X509_num(p->certs);
	X509 *leaf;

	if (n == 0)
		return sl_err_set(err, SL_EXIT_USAGE, "no certificate in the PEM text");
	if (!p->key)
		return sl_err_set(err, SL_EXIT_USAGE, "no private key in the PEM text");
	leaf = sk_X509_value(p->certs, 0);
	if (X509_check_private_key(leaf, p->key) != 1)
		return sl_err_set(err, SL_EXIT_USAGE,
				  "the private key does not match the first certificate");
	for (int i = 1; i < n; i++)
		if (X509_check_issued(sk_X509_value(p->certs, i),
				      sk_X509_value(p->certs, i - 1)) != X509_V_OK)
			return sl_err_set(err, SL_EXIT_USAGE,
					  "certificate %d did not issue certificate %d:"
					  " give the chain leaf first, each issuer after"
					  " what it issued", i + 1, i);
	describe(leaf, c);
	if (c->not_after <= now)
		return sl_err_set(err, SL_EXIT_USAGE, "the certificate has expired");
	if (c->not_before > now)
		return sl_err_set(err, SL_EXIT_USAGE, "the certificate is not valid yet");
	if (!c->hosts.n)
		return sl_err_set(err, SL_EXIT_USAGE, "the certificate names no DNS name"
				  " (subjectAltName)");
	for (size_t i = 0; i < c->hosts.n; i++)
		if (!dns_name_ok(c->hosts.v[i]))
			return sl_err_set(err, SL_EXIT_USAGE,
					  "the certificate names '%s', not a DNS name",
					  c->hosts.v[i]);
	return 0;
}

/* P's chain then key, in PEM, into OUT. */
static int pem_text(struct pem *p, struct sl_buf *out, struct sl_err *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int ok = bio != NULL;

	for (int i = 0; ok && i < sk_X509_num(p->certs); i++)
		ok = PEM_write_bio_X509(bio, sk_X509_value(p->certs, i));
	if (ok)
		ok = PEM_write_bio_PrivateKey(bio, p->key, NULL, NULL, 0, NULL, NULL);
	if (ok) {
		n = BIO_get_mem_data(bio, &data);
		sl_buf_add(out, data, (size_t)n);
	}
	BIO_free(bio);
	return ok ? 0 : sl_err_set(err, SL_EXIT_TEMP, "unable to write the certificate's PEM");
}

/* ROOT/tls/SUB (with "/NAME" when NAME), into OUT. */
static void tls_path(struct sl_buf *out, const char *sub, const char *name)
{
	sl_node_path(out, "tls/");
	sl_buf_adds(out, sub);
	if (name)
		sl_buf_addf(out, "/%s", name);
}

/* ROOT/tls and its directories, root's alone. */
static int tls_dirs(struct sl_err *err)
{
	static const char *const subs[] = { "certs", "live", "state" };
	struct sl_buf p = SL_BUF_INIT;
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < sizeof(subs) / sizeof(*subs); i++) {
		tls_path(&p, subs[i], NULL);
		ret = sl_file_mkdirs(p.buf, 0700, err);
	}
	sl_buf_release(&p);
	return ret;
}

/* The value of KEY in TEXT's "key = value" lines, malloc'ed, or NULL. */
static char *kv_get(const char *text, const char *key)
{
	size_t klen = strlen(key);

	for (const char *l = text; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
		const char *v = l + klen, *end;

		if (strncmp(l, key, klen) || (*v != ' ' && *v != '='))
			continue;
		v += strspn(v, " ");
		if (*v++ != '=')
			continue;
		v += strspn(v, " ");
		end = strchr(v, '\n');
		return sl_xstrndup(v, end ? (size_t)(end - v) : strlen(v));
	}
	return NULL;
}

void sl_tls_cert_release(struct sl_tls_cert *c)
{
	free(c->name);
	free(c->file);
	free(c->directory);
	sl_strv_clear(&c->hosts);
	free(c->fingerprint);
	*c = (struct sl_tls_cert)SL_TLS_CERT_INIT;
}

/* Loads ROOT/tls/certs/NAME.pem (and .ini) into C. 1, 0 when missing, -1. */
static int load_cert(const char *name, struct sl_tls_cert *c, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT, text = SL_BUF_INIT;
	struct pem p = { NULL, NULL };
	int ret = 1;

	tls_path(&path, "certs", name);
	sl_buf_adds(&path, ".pem");
	if (sl_buf_read_file(&text, path.buf) < 0) {
		ret = errno == ENOENT ? 0 : sl_err_errno(err, "unable to read %s", path.buf);
		goto out;
	}
	if (pem_parse(text.buf, text.len, &p, err) < 0 || !sk_X509_num(p.certs)) {
		ret = sl_err_set(err, SL_EXIT_TEMP, "%s: not a certificate the node stored",
				 path.buf);
		goto out;
	}
	sl_tls_cert_release(c);
	c->name = sl_xstrdup(name);
	c->file = sl_xstrdup(path.buf);
	c->user = !strncmp(name, "user-", 5);
	describe(sk_X509_value(p.certs, 0), c);
	sl_buf_setlen(&path, path.len - 4);
	sl_buf_adds(&path, ".ini");
	sl_buf_reset(&text);
	if (sl_buf_read_file(&text, path.buf) == 0)
		c->directory = kv_get(text.buf, "directory");
out:
	pem_release(&p);
	sl_buf_release(&path);
	sl_buf_release(&text);
	return ret;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int sl_tls_list(struct sl_tls_cert **v, size_t *n, struct sl_err *err)
{
	struct sl_buf dir = SL_BUF_INIT;
	struct sl_strv names = SL_STRV_INIT;
	struct dirent *de;
	DIR *d;
	int ret = 0;

	*v = NULL;
	*n = 0;
	tls_path(&dir, "certs", NULL);
	d = opendir(dir.buf);
	if (!d) {
		ret = errno == ENOENT ? 0 : sl_err_errno(err, "unable to read %s", dir.buf);
		sl_buf_release(&dir);
		return ret;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] != '.' && len > 4 && !strcmp(de->d_name + len - 4, ".pem"))
			sl_strv_pushn(&names, de->d_name, len - 4);
	}
	closedir(d);
	qsort(names.v, names.n, sizeof(*names.v), name_cmp);
	*v = sl_xcalloc(names.n ? names.n : 1, sizeof(**v));
	for (size_t i = 0; ret == 0 && i < names.n; i++) {
		(*v)[*n] = (struct sl_tls_cert)SL_TLS_CERT_INIT;
		ret = load_cert(names.v[i], &(*v)[*n], err);
		if (ret > 0)
			++*n;
		ret = ret < 0 ? -1 : 0;
	}
	if (ret < 0) {
		for (size_t i = 0; i < *n; i++)
			sl_tls_cert_release(&(*v)[i]);
		free(*v);
		*v = NULL;
		*n = 0;
	}
	sl_strv_clear(&names);
	sl_buf_release(&dir);
	return ret;
}

static void list_free(struct sl_tls_cert *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sl_tls_cert_release(&v[i]);
	free(v);
}

/* Whether the name NAME of a certificate covers the DNS name HOST. */
static int name_covers(const char *name, const char *host)
{
	const char *dot;

	if (!strcasecmp(name, host))
		return 1;
	if (strncmp(name, "*.", 2) || !(dot = strchr(host, '.')) || dot == host)
		return 0;
	return !strcasecmp(dot + 1, name + 2);
}

int sl_tls_covers(const struct sl_tls_cert *c, const char *host)
{
	int bare = 0, wild = 0;

	if (!strcmp(host, "*") || !strcmp(host, "not-found") || !*host)
		return 0;
	for (size_t i = 0; i < c->hosts.n; i++) {
		const char *nm = c->hosts.v[i];

		if (host[0] != '.' && name_covers(nm, host))
			return 1;
		if (host[0] == '.' && !strcasecmp(nm, host + 1))
			bare = 1;
		if (host[0] == '.' && !strncmp(nm, "*.", 2) && !strcasecmp(nm + 2, host + 1))
			wild = 1;
	}
	return bare && wild;
}

/* The name of HOST's ACME certificate, into OUT. */
static void acme_name(struct sl_buf *out, const char *host)
{
	sl_buf_reset(out);
	sl_buf_addf(out, "acme-%s", host);
}

/*
 * What serves HOST at NOW among V (the rule of tls.h), leaving out the
 * certificate named EXCEPT (NULL: none). Its index, or -1.
 */
static long pick(const struct sl_tls_cert *v, size_t n, const char *host, time_t now,
		 const char *except)
{
	struct sl_buf acme = SL_BUF_INIT;
	long best = -1;

	acme_name(&acme, host);
	for (size_t i = 0; i < n; i++) {
		if ((except && !strcmp(v[i].name, except)) || v[i].not_after <= now ||
		    v[i].not_before > now)
			continue;
		if (v[i].user && sl_tls_covers(&v[i], host) &&
		    (best < 0 || !v[best].user || v[i].not_after > v[best].not_after))
			best = (long)i;
		if (!v[i].user && best < 0 && !strcmp(v[i].name, acme.buf))
			best = (long)i;
	}
	sl_buf_release(&acme);
	return best;
}

static int find_at(const char *host, time_t now, const char *except,
		   struct sl_tls_cert *c, struct sl_err *err)
{
	struct sl_tls_cert *v;
	size_t n;
	long i;

	if (sl_tls_list(&v, &n, err) < 0) {
		err->code = SL_EXIT_TEMP;
		return -1;
	}
	i = pick(v, n, host, now, except);
	if (i >= 0) {
		sl_tls_cert_release(c);
		*c = v[i];
		v[i] = (struct sl_tls_cert)SL_TLS_CERT_INIT;
	}
	list_free(v, n);
	return i >= 0;
}

int sl_tls_find(const char *host, struct sl_tls_cert *c, struct sl_err *err)
{
	return find_at(host, time(NULL), NULL, c, err);
}

int sl_tls_due(const struct sl_tls_cert *c, time_t now)
{
	time_t window = (c->not_after - c->not_before) / 3;

	if (window > 30 * DAY)
		window = 30 * DAY;
	return c->not_after - now < window;
}

/* The https-routed hosts of the node's routes, pushed onto OUT once each. */
int sl_tls_routed_hosts(struct sl_strv *out, struct sl_err *err)
{
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_buf file = SL_BUF_INIT;
	int ret;

	sl_node_path(&file, "routes");
	ret = sl_routes_load(file.buf, &r, err);
	for (size_t i = 0; ret == 0 && i < r.n; i++) {
		if (!(r.v[i].flags & SL_ROUTE_HTTPS))
			continue;
		size_t j = 0;

		while (j < out->n && strcmp(out->v[j], r.v[i].host))
			j++;
		if (j == out->n)
			sl_strv_push(out, r.v[i].host);
	}
	sl_routes_release(&r);
	sl_buf_release(&file);
	return ret;
}

/* HOST's live link pointed at NAME's file (NULL: removed). 1 changed, 0, -1. */
static int link_set(const char *host, const char *name, struct sl_err *err)
{
	struct sl_buf live = SL_BUF_INIT, target = SL_BUF_INIT, tmp = SL_BUF_INIT;
	char old[PATH_MAX];
	ssize_t n;
	int ret = 0;

	sl_node_tls_path(&live, host);
	n = readlink(live.buf, old, sizeof(old) - 1);
	old[n > 0 ? n : 0] = '\0';
	if (!name) {
		if (n >= 0 && unlink(live.buf) < 0 && errno != ENOENT)
			ret = sl_err_errno(err, "unable to remove %s", live.buf);
		else
			ret = n >= 0;
		goto out;
	}
	sl_buf_addf(&target, "../certs/%s.pem", name);
	if (n > 0 && !strcmp(old, target.buf))
		goto out;
	sl_buf_addf(&tmp, "%s.new%ld", live.buf, (long)getpid());
	unlink(tmp.buf);
	if (symlink(target.buf, tmp.buf) < 0)
		ret = sl_err_errno(err, "unable to make %s", tmp.buf);
	else if (rename(tmp.buf, live.buf) < 0) {
		ret = sl_err_errno(err, "unable to make %s", live.buf);
		unlink(tmp.buf);
	} else
		ret = 1;
out:
	if (ret < 0)
		err->code = SL_EXIT_TEMP;
	sl_buf_release(&live);
	sl_buf_release(&target);
	sl_buf_release(&tmp);
	return ret;
}

/* sl_tls_publish, telling whether the link changed (1) or not (0). */
int sl_tls_publish_changed(const char *host, struct sl_err *err)
{
	struct sl_tls_cert c = SL_TLS_CERT_INIT;
	int found, ret;

	if (tls_dirs(err) < 0 || (found = sl_tls_find(host, &c, err)) < 0)
		return -1;
	ret = link_set(host, found ? c.name : NULL, err);
	sl_tls_cert_release(&c);
	return ret;
}

int sl_tls_publish(const char *host, struct sl_err *err)
{
	return sl_tls_publish_changed(host, err) < 0 ? -1 : 0;
}

/* Writes NAME.ini and NAME.pem (in that order: the .pem makes it exist). */
static int store(const char *name, struct pem *p, const char *directory,
		 const struct sl_strv *hosts, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT, text = SL_BUF_INIT;
	int ret;

	if (tls_dirs(err) < 0)
		return -1;
	sl_buf_addf(&text, "source = %s\n", strncmp(name, "user-", 5) ? "acme" : "user");
	if (directory)
		sl_buf_addf(&text, "directory = %s\n", directory);
	sl_buf_adds(&text, "hosts =");
	for (size_t i = 0; i < hosts->n; i++)
		sl_buf_addf(&text, "%s%s", i ? "," : " ", hosts->v[i]);
	sl_buf_addch(&text, '\n');
	tls_path(&path, "certs", name);
	sl_buf_adds(&path, ".ini");
	ret = sl_file_write(path.buf, text.buf, text.len, 0600, SL_FILE_REPLACE, err);
	sl_buf_reset(&text);
	if (ret == 0)
		ret = pem_text(p, &text, err);
	sl_buf_setlen(&path, path.len - 4);
	sl_buf_adds(&path, ".pem");
	if (ret == 0)
		ret = sl_file_write(path.buf, text.buf, text.len, 0600, SL_FILE_REPLACE, err);
	OPENSSL_cleanse(text.buf, text.len);
	sl_buf_release(&text);
	sl_buf_release(&path);
	return ret;
}

int sl_tls_install(const char *pem, size_t len, struct sl_tls_cert *c,
		   struct sl_err *err)
{
	struct sl_strv hosts = SL_STRV_INIT;
	struct pem p = { NULL, NULL };
	struct sl_buf name = SL_BUF_INIT;
	int ret;

	sl_tls_cert_release(c);
	ret = pem_parse(pem, len, &p, err);
	if (ret == 0)
		ret = check(&p, time(NULL), c, err);
	if (ret == 0) {
		sl_buf_adds(&name, "user-");
		for (const char *s = c->hosts.v[0]; *s; s++)
			sl_buf_addch(&name, *s == '*' ? '_' : *s);
		ret = store(name.buf, &p, NULL, &c->hosts, err);
	}
	if (ret == 0)
		ret = load_cert(name.buf, c, err) < 0 ? -1 : 0;
	if (ret == 0)
		ret = sl_tls_routed_hosts(&hosts, err);
	for (size_t i = 0; ret == 0 && i < hosts.n; i++)
		ret = sl_tls_publish(hosts.v[i], err);
	pem_release(&p);
	sl_buf_release(&name);
	sl_strv_clear(&hosts);
	return ret;
}

/* The host a live link's file name stands for (sl_node_tls_path's rule undone). */
static void live_host(struct sl_buf *out, const char *file)
{
	size_t len = strlen(file) - 4;

	sl_buf_reset(out);
	if (!strncmp(file, "_.", 2))
		sl_buf_add(out, file + 1, len - 1);
	else if (len == 1 && file[0] == '_')
		sl_buf_adds(out, "*");
	else
		sl_buf_add(out, file, len);
}

/* Every live link pointed again at what serves its host now. */
static int republish(struct sl_err *err)
{
	struct sl_buf dir = SL_BUF_INIT, host = SL_BUF_INIT;
	struct sl_strv hosts = SL_STRV_INIT;
	struct dirent *de;
	DIR *d;
	int ret = 0;

	tls_path(&dir, "live", NULL);
	if (!(d = opendir(dir.buf))) {
		ret = errno == ENOENT ? 0 : sl_err_errno(err, "unable to read %s", dir.buf);
		goto out;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len <= 4 || strcmp(de->d_name + len - 4, ".pem"))
			continue;
		live_host(&host, de->d_name);
		sl_strv_push(&hosts, host.buf);
	}
	closedir(d);
	for (size_t i = 0; ret == 0 && i < hosts.n; i++)
		ret = sl_tls_publish(hosts.v[i], err);
out:
	sl_strv_clear(&hosts);
	sl_buf_release(&host);
	sl_buf_release(&dir);
	return ret;
}

int sl_tls_remove(const char *name, struct sl_err *err)
{
	struct sl_strv hosts = SL_STRV_INIT;
	struct sl_tls_cert c = SL_TLS_CERT_INIT, other = SL_TLS_CERT_INIT;
	struct sl_buf path = SL_BUF_INIT;
	int ret;

	if (strncmp(name, "user-", 5) || strchr(name, '/'))
		return 1;
	ret = load_cert(name, &c, err);
	if (ret <= 0) {
		ret = ret < 0 ? -1 : 1;
		goto out;
	}
	ret = sl_tls_routed_hosts(&hosts, err);
	for (size_t i = 0; ret == 0 && i < hosts.n; i++) {
		int now_serves = find_at(hosts.v[i], time(NULL), NULL, &other, err);

		if (now_serves < 0 || (now_serves && strcmp(other.name, name)))
			ret = now_serves < 0 ? -1 : 0;
		else if (now_serves && (ret = find_at(hosts.v[i], time(NULL), name, &other,
						       err)) == 0)
			ret = sl_err_set(err, SL_EXIT_USAGE,
					 "%s is the only certificate serving %s, routed"
					 " over https: install another or route it over"
					 " http first", name, hosts.v[i]);
		else
			ret = ret < 0 ? -1 : 0;
	}
	if (ret < 0)
		goto out;
	tls_path(&path, "certs", name);
	sl_buf_adds(&path, ".pem");
	if (unlink(path.buf) < 0 && errno != ENOENT) {
		ret = sl_err_errno(err, "unable to remove %s", path.buf);
		goto out;
	}
	sl_buf_setlen(&path, path.len - 4);
	sl_buf_adds(&path, ".ini");
	unlink(path.buf);
	ret = republish(err);
out:
	sl_tls_cert_release(&c);
	sl_tls_cert_release(&other);
	sl_strv_clear(&hosts);
	sl_buf_release(&path);
	return ret;
}

int sl_tls_store_acme(const char *host, const char *chain, const char *key,
		      const char *directory, struct sl_err *err)
{
	struct sl_buf text = SL_BUF_INIT, name = SL_BUF_INIT;
	struct sl_tls_cert c = SL_TLS_CERT_INIT;
	struct pem p = { NULL, NULL };
	int ret = 0;

	if (sl_buf_read_file(&text, chain) < 0 || sl_buf_read_file(&text, key) < 0)
		ret = sl_err_errno(err, "unable to read %s's certificate from uacme", host);
	if (ret == 0 && pem_parse(text.buf, text.len, &p, err) < 0)
		ret = -1;
	if (ret == 0 && check(&p, time(NULL), &c, err) < 0)
		ret = -1;
	if (ret == 0 && !sl_tls_covers(&c, host))
		ret = sl_err_set(err, SL_EXIT_TEMP, "the certificate issued does not name %s",
				 host);
	if (ret < 0) {
		sl_err_prefix(err, "%s", chain);
		err->code = SL_EXIT_TEMP;
	}
	acme_name(&name, host);
	if (ret == 0)
		ret = store(name.buf, &p, directory, &c.hosts, err);
	if (ret == 0)
		ret = sl_tls_publish(host, err);
	OPENSSL_cleanse(text.buf, text.len);
	sl_buf_release(&text);
	sl_buf_release(&name);
	sl_tls_cert_release(&c);
	pem_release(&p);
	return ret;
}

void sl_tls_state_release(struct sl_tls_state *s)
{
	free(s->error);
	*s = (struct sl_tls_state)SL_TLS_STATE_INIT;
}

/* ROOT/tls/state/NAME for HOST (named as its live link), into OUT. */
static void state_path(struct sl_buf *out, const char *host)
{
	struct sl_buf live = SL_BUF_INIT;
	const char *base;

	sl_node_tls_path(&live, host);
	base = strrchr(live.buf, '/') + 1;
	tls_path(out, "state", NULL);
	sl_buf_addf(out, "/%.*s", (int)(strlen(base) - 4), base);
	sl_buf_release(&live);
}

int sl_tls_state_load(const char *host, struct sl_tls_state *s, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT, text = SL_BUF_INIT;
	char *v;
	int ret = 0;

	sl_tls_state_release(s);
	state_path(&path, host);
	if (sl_buf_read_file(&text, path.buf) < 0) {
		if (errno != ENOENT)
			ret = sl_err_errno(err, "unable to read %s", path.buf);
		goto out;
	}
	if ((v = kv_get(text.buf, "last")))
		s->last = (time_t)strtoll(v, NULL, 10);
	free(v);
	if ((v = kv_get(text.buf, "failures")))
		s->failures = atoi(v);
	free(v);
	s->error = kv_get(text.buf, "error");
out:
	sl_buf_release(&path);
	sl_buf_release(&text);
	return ret;
}

int sl_tls_state_record(const char *host, time_t now, const char *error,
			struct sl_err *err)
{
	struct sl_tls_state s = SL_TLS_STATE_INIT;
	struct sl_buf path = SL_BUF_INIT, text = SL_BUF_INIT;
	int ret;

	if (tls_dirs(err) < 0 || sl_tls_state_load(host, &s, err) < 0)
		return -1;
	sl_buf_addf(&text, "last = %lld\nfailures = %d\n", (long long)now,
		    error ? s.failures + 1 : 0);
	if (error) {
		sl_buf_adds(&text, "error = ");
		for (const char *e = error; *e; e++)
			sl_buf_addch(&text, *e == '\n' || *e == '\r' ? ' ' : *e);
		sl_buf_addch(&text, '\n');
	}
	state_path(&path, host);
	ret = sl_file_write(path.buf, text.buf, text.len, 0600, SL_FILE_REPLACE, err);
	sl_tls_state_release(&s);
	sl_buf_release(&path);
	sl_buf_release(&text);
	return ret;
}

time_t sl_tls_try_at(const struct sl_tls_state *s)
{
	long hours = 1;

	if (s->failures <= 0)
		return 0;
	for (int i = 1; i < s->failures && hours < 24; i++)
		hours *= 2;
	if (hours > 24)
		hours = 24;
	return s->last + hours * 3600;
}

int sl_tls_status_lines(const struct sl_strv *hosts, time_t now,
			struct sl_buf *out, struct sl_err *err)
{
	struct sl_tls_cert c = SL_TLS_CERT_INIT;
	struct sl_tls_state s = SL_TLS_STATE_INIT;
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < hosts->n; i++) {
		const char *h = hosts->v[i];
		int found = find_at(h, now, NULL, &c, err);
		char day[16];
		struct tm tm;

		if (found < 0 || sl_tls_state_load(h, &s, err) < 0) {
			ret = -1;
			break;
		}
		if (found) {
			gmtime_r(&c.not_after, &tm);
			strftime(day, sizeof(day), "%Y-%m-%d", &tm);
			sl_buf_addf(out, "tls %s %s %s expires=%s", h, c.name,
				    c.user ? "user" : "acme", day);
		} else {
			sl_buf_addf(out, "tls %s none", h);
		}
		if (s.failures)
			sl_buf_addf(out, " renewal=failed(%d): %s\n", s.failures,
				    s.error ? s.error : "");
		else
			sl_buf_adds(out, found ? " renewal=ok\n" : "\n");
	}
	sl_tls_cert_release(&c);
	sl_tls_state_release(&s);
	return ret;
}
