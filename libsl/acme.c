/* silverlining — certificates by ACME (RFC 8555), through Debian's uacme. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "acme.h"
#include "exit.h"
#include "file.h"
#include "ini.h"
#include "mem.h"
#include "node.h"
#include "run.h"
#include "tls.h"

/* The CA's error types that refuse the host itself (acme.h): 100. */
static const char *const refusals[] = {
	"unauthorized", "dns", "rejectedIdentifier", "caa", "malformed", NULL,
};

struct conf {
	char *directory, *email;
};

static int conf_item(void *user, const struct sl_ini_item *it, struct sl_err *err)
{
	struct conf *c = user;
	char **slot = NULL;

	(void)err;
	if (strcasecmp(it->section, "acme") || it->continuation)
		return 0;
	if (!strcasecmp(it->key, "directory"))
		slot = &c->directory;
	else if (!strcasecmp(it->key, "email"))
		slot = &c->email;
	if (slot) {
		free(*slot);
		*slot = sl_xstrdup(it->value);
	}
	return 0;
}

/* ROOT/acme/config into C (a missing file: nothing). 0, or -1 with ERR. */
static int conf_load(struct conf *c, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT;
	int ret = 0;

	sl_node_path(&path, "acme/config");
	if (access(path.buf, F_OK) == 0)
		ret = sl_ini_parse(path.buf, conf_item, c, err);
	sl_buf_release(&path);
	return ret;
}

static void conf_release(struct conf *c)
{
	free(c->directory);
	free(c->email);
}

static int url_ok(const char *u)
{
	if (strncmp(u, "https://", 8) || !u[8] || u[8] == '/')
		return 0;
	for (; *u; u++)
		if (*u <= ' ' || *u == 0x7f || *u == '"' || *u == '\\')
			return 0;
	return 1;
}

static int email_ok(const char *e)
{
	const char *at = strchr(e, '@');

	if (!at || at == e || !at[1] || strchr(at + 1, '@') || !strchr(at + 1, '.') ||
	    e[0] == '-')
		return 0;
	for (; *e; e++)
		if (*e <= ' ' || *e == 0x7f || strchr("\"\\<>,;:()[]", *e))
			return 0;
	return 1;
}

int sl_acme_configure(const char *directory, const char *email, struct sl_err *err)
{
	struct conf c = { NULL, NULL };
	struct sl_buf path = SL_BUF_INIT, text = SL_BUF_INIT;
	int ret;

	if (directory && !url_ok(directory))
		return sl_err_set(err, SL_EXIT_USAGE, "'%s' is not an https:// URL of an"
				  " ACME directory", directory);
	if (email && !email_ok(email))
		return sl_err_set(err, SL_EXIT_USAGE, "'%s' is not an e-mail address", email);
	if (!directory && !email)
		return 0;
	ret = conf_load(&c, err);
	sl_node_path(&path, "acme");
	if (ret == 0)
		ret = sl_file_mkdirs(path.buf, 0700, err);
	sl_buf_adds(&text, "[acme]\n");
	if (directory || c.directory)
		sl_buf_addf(&text, "directory = %s\n", directory ? directory : c.directory);
	if (email || c.email)
		sl_buf_addf(&text, "email = %s\n", email ? email : c.email);
	sl_buf_adds(&path, "/config");
	if (ret == 0)
		ret = sl_file_write(path.buf, text.buf, text.len, 0600, SL_FILE_REPLACE, err);
	conf_release(&c);
	sl_buf_release(&path);
	sl_buf_release(&text);
	return ret;
}

int sl_acme_hook(const char *method, const char *type, const char *ident,
		 const char *token, const char *auth, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT;
	int ret = 0;

	(void)ident;
	if (strcmp(type, "http-01"))
		return 1;
	if (!*token || strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			      "0123456789_-") != strlen(token))
		return sl_err_set(err, SL_EXIT_USAGE, "'%s' is not an ACME token", token);
	sl_node_path(&path, "acme/challenge");
	if (!strcmp(method, "begin")) {
		if (strchr(auth, '\n') || strchr(auth, '/'))
			ret = sl_err_set(err, SL_EXIT_USAGE, "'%s' is not a key authorization",
					 auth);
		if (ret == 0)
			ret = sl_file_mkdirs(path.buf, 0755, err);
		sl_buf_addf(&path, "/%s", token);
		if (ret == 0)
			ret = sl_file_write(path.buf, auth, strlen(auth), 0644,
					    SL_FILE_REPLACE, err);
	} else if (!strcmp(method, "done") || !strcmp(method, "failed")) {
		sl_buf_addf(&path, "/%s", token);
		if (unlink(path.buf) < 0 && errno != ENOENT)
			ret = sl_err_errno(err, "unable to remove %s", path.buf);
	} else {
		ret = sl_err_set(err, SL_EXIT_USAGE, "'%s' is not a hook method", method);
	}
	sl_buf_release(&path);
	return ret;
}

/* ROOT/acme/accounts/ID for DIRECTORY, into OUT. */
static void account_dir(struct sl_buf *out, const char *directory)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_Digest(directory, strlen(directory), md, &n, EVP_sha256(), NULL);
	sl_node_path(out, "acme/accounts/");
	for (unsigned int i = 0; i < 8; i++)
		sl_buf_addf(out, "%02x", md[i]);
}

/* JSON string value after "KEY": in TEXT, unescaped, appended to OUT. 1 found, 0. */
static int json_string(const char *text, const char *key, struct sl_buf *out)
{
	struct sl_buf k = SL_BUF_INIT;
	const char *p;

	sl_buf_addf(&k, "\"%s\"", key);
	p = strstr(text, k.buf);
	sl_buf_release(&k);
	if (!p || !(p = strchr(p + strlen(key) + 2, '"')))
		return 0;
	for (p++; *p && *p != '"'; p++) {
		if (*p == '\\' && p[1])
			p++;
		sl_buf_addch(out, *p);
	}
	return 1;
}

/*
 * uacme's failure (its output OUT) into ERR: the CA's problem type and
 * words when it gave some, else uacme's own lines; 100 for a refused host
 * (acme.h), 111 otherwise.
 */
static int failure(const char *host, const char *out, struct sl_err *err)
{
	struct sl_buf type = SL_BUF_INIT, words = SL_BUF_INIT;
	const char *t;
	int code = SL_EXIT_TEMP;

	if (json_string(out, "type", &type) && json_string(out, "detail", &words)) {
		t = strncmp(type.buf, "urn:ietf:params:acme:error:", 27) ? type.buf :
			type.buf + 27;
		for (size_t i = 0; refusals[i]; i++)
			if (!strcmp(t, refusals[i]))
				code = SL_EXIT_USAGE;
		/* a name with no DNS answer: pebble calls it a connection error */
		if (!strcmp(t, "connection") && (strstr(words.buf, "could not resolve") ||
						 strstr(words.buf, "no such host") ||
						 strstr(words.buf, "NXDOMAIN")))
			code = SL_EXIT_USAGE;
		sl_err_set(err, code, "%s: the CA %s: %s: %s", host,
			   code == SL_EXIT_USAGE ? "refused it" : "failed", t, words.buf);
	} else {
		const char *prev = NULL;

		for (const char *l = out; *l; l += strcspn(l, "\n"), l += *l == '\n') {
			size_t len = strcspn(l, "\n");

			if (!strncmp(l, "uacme: ", 7)) {
				l += 7;
				len -= 7;
			}
			if (!len || memmem(l, len, "waiting ", 8) ||
			    memmem(l, len, "version ", 8) ||
			    (prev && !strncmp(prev, l, len) && prev[len] == '\n'))
				continue;
			prev = l;
			if (words.len)
				sl_buf_adds(&words, "; ");
			sl_buf_add(&words, l, len);
		}
		sl_err_set(err, code, "%s: no certificate from the CA: %s", host,
			   words.len ? words.buf : "uacme failed");
	}
	sl_buf_release(&type);
	sl_buf_release(&words);
	return -1;
}

/* The hook uacme runs: sl-cert beside the running tool, else on PATH. */
static char *hook_path(void)
{
	struct sl_buf b = SL_BUF_INIT;

	if (sl_run_exe_dir(&b) == 0) {
		sl_buf_adds(&b, "/sl-cert");
		if (access(b.buf, X_OK) == 0)
			return sl_buf_detach(&b, NULL);
	}
	sl_buf_release(&b);
	return sl_run_which("sl-cert", NULL);
}

/* The account for DIRECTORY made once (ACCT/registered records it). 0, or -1. */
static int account(const struct sl_acme *a, const char *acct, const char *directory,
		   const char *email, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT, out = SL_BUF_INIT;
	char *argv[] = { "uacme", "-c", (char *)acct, "-a", (char *)directory, "-t", "EC",
			 "-y", "new", (char *)email, NULL };
	int ret = 0, code;

	sl_buf_addf(&path, "%s/registered", acct);
	if (access(path.buf, F_OK) == 0)
		goto out;
	if (sl_file_mkdirs(acct, 0700, err) < 0) {
		ret = -1;
		goto out;
	}
	sl_buf_addf(&out, "%s\n", directory);
	sl_buf_setlen(&path, strlen(acct));
	sl_buf_adds(&path, "/directory");
	if (sl_file_write(path.buf, out.buf, out.len, 0600, SL_FILE_REPLACE, err) < 0) {
		ret = -1;
		goto out;
	}
	sl_buf_reset(&out);
	sl_say(&a->say, "making an ACME account at %s", directory);
	code = sl_say_merged(&out, argv);
	if (code != 0 && !strstr(out.buf, "Account already exists")) {
		ret = failure("the account", out.buf, err);
		goto out;
	}
	sl_buf_setlen(&path, strlen(acct));
	sl_buf_adds(&path, "/registered");
	ret = sl_file_write(path.buf, "", 0, 0600, SL_FILE_REPLACE, err);
out:
	sl_buf_release(&path);
	sl_buf_release(&out);
	return ret;
}

/* Asks the CA for HOST's certificate and stores it: 0, or -1 with ERR. */
/*
 * uacme keeps the certificate it replaces as HOST/cert-T.pem, T the old
 * one's expiry (a second), and fails after the CA issued the new one when
 * that name is taken: two certificates issued within one second expire
 * within one. The store keeps what serves; the copies are dropped before
 * each issuance, so an order is never spent in vain.
 */
static void drop_backups(const char *acct, const char *host)
{
	struct sl_buf dir = SL_BUF_INIT;
	struct dirent *e;
	DIR *d;

	sl_buf_addf(&dir, "%s/%s", acct, host);
	d = opendir(dir.buf);
	while (d && (e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if (!strncmp(e->d_name, "cert-", 5) && n > 9 &&
		    !strcmp(e->d_name + n - 4, ".pem"))
			unlinkat(dirfd(d), e->d_name, 0);
	}
	if (d)
		closedir(d);
	sl_buf_release(&dir);
}

static int issue(const struct sl_acme *a, const char *host, int force, int *changed,
		 struct sl_err *err)
{
	struct conf c = { NULL, NULL };
	struct sl_buf acct = SL_BUF_INIT, out = SL_BUF_INIT, chain = SL_BUF_INIT,
		key = SL_BUF_INIT;
	const char *directory, *email;
	char *hook = NULL;
	int ret, code;

	ret = conf_load(&c, err);
	directory = a->directory ? a->directory : c.directory ? c.directory :
		SL_ACME_LETSENCRYPT;
	email = a->email ? a->email : c.email;
	if (ret == 0 && !url_ok(directory))
		ret = sl_err_set(err, SL_EXIT_USAGE, "'%s' is not an https:// URL of an"
				 " ACME directory", directory);
	if (ret == 0 && !(hook = hook_path()))
		ret = sl_err_set(err, SL_EXIT_TEMP, "sl-cert, uacme's hook, is not installed");
	account_dir(&acct, directory);
	if (ret == 0)
		ret = account(a, acct.buf, directory, email, err);
	if (ret == 0) {
		char *argv[14];
		int n = 0;

		argv[n++] = "uacme";
		argv[n++] = "-c";
		argv[n++] = acct.buf;
		argv[n++] = "-a";
		argv[n++] = (char *)directory;
		argv[n++] = "-t";
		argv[n++] = "EC";
		argv[n++] = "-h";
		argv[n++] = hook;
		if (force)
			argv[n++] = "-f";
		argv[n++] = "issue";
		argv[n++] = (char *)host;
		argv[n] = NULL;
		drop_backups(acct.buf, host);
		sl_say(&a->say, "asking %s for a certificate for %s", directory, host);
		code = sl_say_merged(&out, argv);
		if (code != 0 && code != 1)
			ret = failure(host, out.buf, err);
		if (ret == 0) {
			sl_buf_addf(&chain, "%s/%s/cert.pem", acct.buf, host);
			sl_buf_addf(&key, "%s/private/%s/key.pem", acct.buf, host);
			ret = sl_tls_store_acme(host, chain.buf, key.buf, directory, err);
		}
		if (ret == 0 && code == 0)
			*changed = 1;
	}
	conf_release(&c);
	free(hook);
	sl_buf_release(&acct);
	sl_buf_release(&out);
	sl_buf_release(&chain);
	sl_buf_release(&key);
	return ret;
}

static int ensure(const struct sl_acme *a, const char *host, int *changed,
		  struct sl_err *err)
{
	struct sl_tls_cert c = SL_TLS_CERT_INIT;
	struct sl_tls_state s = SL_TLS_STATE_INIT;
	time_t now = time(NULL);
	int found, ret = 0, pub;

	*changed = 0;
	if (!strcmp(host, "*") || !strcmp(host, "not-found"))
		return sl_err_set(err, SL_EXIT_USAGE, "%s takes no certificate: give"
				  " https://HOST for each host, or https://.example.com"
				  " with a certificate you install", host);
	found = sl_tls_find(host, &c, err);
	if (found < 0)
		return -1;
	if (found) {
		if ((pub = sl_tls_publish_changed(host, err)) < 0)
			goto out;
		*changed = pub;
		if (sl_tls_state_load(host, &s, err) < 0) {
			ret = -1;
			goto out;
		}
		if (!a->force && (!sl_tls_due(&c, now) || now < sl_tls_try_at(&s)))
			goto out;
	}
	if (host[0] == '.') {
		if (!found)
			ret = sl_err_set(err, SL_EXIT_USAGE, "%s needs a certificate naming %s"
					 " and *%s, which HTTP-01 cannot prove: install one"
					 " (silver install-cert)", host, host + 1, host);
		goto out;
	}
	ret = issue(a, host, found || a->force, changed, err);
	if (sl_tls_state_record(host, now, ret < 0 ? err->msg.buf : NULL,
				ret < 0 ? NULL : err) < 0 && ret == 0)
		ret = -1;
	if (ret < 0 && found) {
		sl_say(&a->say, "warning: %s; the certificate %s keeps serving %s until %s",
		       err->msg.buf, c.name, host, "it is renewed");
		ret = 0;
	}
out:
	sl_tls_cert_release(&c);
	sl_tls_state_release(&s);
	return ret;
}

/*
 * One issuance at a time on the node: a deploy (which holds its app's
 * lock, not the node's) and sl-cert (which holds the node's) may both
 * want HOST, and uacme's directory and the store take one writer. The
 * lock is ROOT/locks/_acme, a name no app can have; it is taken after the
 * others and released before anything else is waited for.
 */
int sl_acme_ensure(const struct sl_acme *a, const char *host, int *changed,
		   struct sl_err *err)
{
	int fd = sl_node_lock(SL_NODE_LOCK_ACME, 600, err), ret;

	*changed = 0;
	if (fd < 0)
		return -1;
	ret = ensure(a, host, changed, err);
	close(fd);
	return ret;
}
