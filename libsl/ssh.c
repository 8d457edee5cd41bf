/* silverlining — SSH sessions to nodes, on libssh2. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libssh2.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "exit.h"
#include "file.h"
#include "mem.h"
#include "ssh.h"

struct sl_ssh {
	LIBSSH2_SESSION *session;
	int sock;
	int idle_ms;
	int err_fd;
	long long last_rx;	/* ms, monotonic: when the peer last sent */
	int ready;		/* authenticated: keepalives may be sent */
	char *name;		/* user@host:port */
};

struct sl_ssh_chan {
	struct sl_ssh *s;
	LIBSSH2_CHANNEL *ch;
	int pty;
};

volatile sig_atomic_t sl_ssh_winch;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sl_ssh_addr_release(struct sl_ssh_addr *a)
{
	free(a->user);
	free(a->host);
	*a = (struct sl_ssh_addr)SL_SSH_ADDR_INIT;
}

static int valid_host(const char *h)
{
	if (!*h || *h == '-' || strlen(h) > 253)
		return 0;
	for (; *h; h++)
		if (!isalnum((unsigned char)*h) && !strchr(".-_:", *h))
			return 0;
	return 1;
}

static int valid_user(const char *u)
{
	if (!*u || *u == '-' || strlen(u) > 32)
		return 0;
	for (; *u; u++)
		if (!isalnum((unsigned char)*u) && !strchr("._-", *u))
			return 0;
	return 1;
}

int sl_ssh_addr_parse(struct sl_ssh_addr *a, const char *text, struct sl_err *err)
{
	const char *at = strchr(text, '@'), *h = at ? at + 1 : text;
	const char *port = NULL;
	char *end;
	long p = 22;

	sl_ssh_addr_release(a);
	a->user = at ? sl_xstrndup(text, (size_t)(at - text)) : sl_xstrdup("root");
	if (*h == '[') {
		const char *close = strchr(h, ']');

		if (!close || (close[1] && close[1] != ':'))
			goto bad;
		a->host = sl_xstrndup(h + 1, (size_t)(close - h - 1));
		if (close[1] == ':')
			port = close + 2;
	} else {
		const char *colon = strchr(h, ':');

		if (colon && strchr(colon + 1, ':'))
			colon = NULL;	/* a bare IPv6 address */
		a->host = colon ? sl_xstrndup(h, (size_t)(colon - h)) : sl_xstrdup(h);
		if (colon)
			port = colon + 1;
	}
	if (port) {
		p = strtol(port, &end, 10);
		if (!isdigit((unsigned char)*port) || *end || p < 1 || p > 65535)
			goto bad;
	}
	a->port = (int)p;
	if (!valid_user(a->user) || !valid_host(a->host))
		goto bad;
	return 0;
bad:
	return sl_err_set(err, SL_EXIT_USAGE,
			  "invalid node address '%s': want [user@]host[:port]", text);
}

int sl_ssh_opt(struct sl_ssh_opts *o, int c, const char *arg, struct sl_err *err)
{
	char *end;
	long n;

	switch (c) {
	case 'i':
		o->identity = arg;
		return 1;
	case SL_SSH_OPT_ACCEPT_NEW:
		o->accept_new = 1;
		return 1;
	case SL_SSH_OPT_TIMEOUT:
		n = strtol(arg, &end, 10);
		if (!isdigit((unsigned char)*arg) || *end || n < 1 || n > 86400)
			return sl_err_set(err, SL_EXIT_USAGE,
					  "invalid timeout '%s': want whole seconds from 1 to 86400", arg);
		o->idle_timeout = (int)n;
		return 1;
	default:
		return 0;
	}
}

static int ssh_error(struct sl_ssh *s, struct sl_err *err, const char *what)
{
	char *msg = NULL;
	int rc = libssh2_session_last_error(s->session, &msg, NULL, 0);

	if (rc == LIBSSH2_ERROR_TIMEOUT)
		return sl_err_set(err, SL_EXIT_TIMEOUT, "%s: %s: timed out", s->name, what);
	return sl_err_set(err, SL_EXIT_TEMP, "%s: %s: %s", s->name, what,
			  msg && *msg ? msg : "connection failed");
}

/*
 * Waits until the socket can move in the direction libssh2 is blocked on.
 * The peer must send something within the idle timeout; keepalives make
 * a live but quiet server answer, so only a dead link times out.
 */
static int wait_socket(struct sl_ssh *s, int extra_fd, struct sl_err *err)
{
	for (;;) {
		int dir = libssh2_session_block_directions(s->session);
		struct pollfd p[2] = { { s->sock, 0, 0 }, { extra_fd, POLLIN, 0 } };
		long long left = s->idle_ms - (now_ms() - s->last_rx);
		int next = 0, rc, t;

		/* never during key exchange or authentication: it breaks them */
		if (s->ready && !(dir & LIBSSH2_SESSION_BLOCK_OUTBOUND))
			libssh2_keepalive_send(s->session, &next);
		if (left <= 0)
			return sl_err_set(err, SL_EXIT_TIMEOUT,
					  "%s: no answer for %d seconds", s->name,
					  s->idle_ms / 1000);
		/*
		 * sshd leaves Nagle on for sessions without a terminal, so its
		 * small packets wait for our ACKs: acknowledge at once (the
		 * kernel drops quick-ACK mode by itself, hence each time).
		 */
		setsockopt(s->sock, IPPROTO_TCP, TCP_QUICKACK, &(int){ 1 }, sizeof(int));
		t = (int)left;
		if (next > 0 && next * 1000 < t)
			t = next * 1000;
		p[0].events = POLLIN;
		if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
			p[0].events |= POLLOUT;
		rc = poll(p, extra_fd >= 0 ? 2 : 1, t);
		if (rc < 0 && errno == EINTR)
			return 0;	/* a signal to act on (SIGWINCH); callers loop */
		if (rc < 0)
			return sl_err_errno(err, "%s: poll", s->name);
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
			s->last_rx = now_ms();
		if (rc > 0)
			return 0;
	}
}

static int connect_tcp(const struct sl_ssh_addr *a, int timeout_s,
		       const char *name, struct sl_err *err)
{
	struct addrinfo hints = { 0 }, *res, *ai;
	char port[8];
	int rc, fd = -1, saved = 0, timed_out = 0;

	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", a->port);
	rc = getaddrinfo(a->host, port, &hints, &res);
	if (rc)
		return sl_err_set(err, SL_EXIT_TEMP, "unable to find %s: %s",
				  a->host, gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		struct pollfd p;
		socklen_t len = sizeof(saved);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
			saved = errno;
			goto next;
		}
		p.fd = fd;
		p.events = POLLOUT;
		do
			rc = poll(&p, 1, timeout_s * 1000);
		while (rc < 0 && errno == EINTR);
		if (rc == 0) {
			timed_out = 1;	/* the next address may answer */
			goto next;
		}
		if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &saved, &len) < 0)
			saved = errno;
		if (!saved)
			break;
next:
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0 && timed_out)
		return sl_err_set(err, SL_EXIT_TIMEOUT,
				  "unable to connect to %s: no answer in %d seconds",
				  name, timeout_s);
	if (fd < 0) {
		errno = saved;
		sl_err_errno(err, "unable to connect to %s", name);
		if (err)
			err->code = SL_EXIT_TEMP;
		return -1;
	}
	rc = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &rc, sizeof(rc));
	return fd;
}

static const char *key_type_name(int type)
{
	switch (type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA: return "RSA";
	case LIBSSH2_HOSTKEY_TYPE_DSS: return "DSA";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return "ECDSA";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return "ECDSA-384";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return "ECDSA-521";
	case LIBSSH2_HOSTKEY_TYPE_ED25519: return "ED25519";
	default: return "unknown";
	}
}

/* "SHA256:base64" as OpenSSH prints it. */
static void fingerprint(struct sl_ssh *s, struct sl_buf *out)
{
	const unsigned char *h = (const unsigned char *)
		libssh2_hostkey_hash(s->session, LIBSSH2_HOSTKEY_HASH_SHA256);
	unsigned char b64[64];
	int n;

	if (!h) {
		sl_buf_adds(out, "(no fingerprint)");
		return;
	}
	n = EVP_EncodeBlock(b64, h, 32);
	while (n && b64[n - 1] == '=')
		n--;
	sl_buf_adds(out, "SHA256:");
	sl_buf_add(out, b64, (size_t)n);
}

/*
 * known_hosts, read here rather than by libssh2 (which compares keys of
 * one type only and drops the @revoked and @cert-authority markers). The
 * format is OpenSSH's: "[@MARKER] NAMES KEYTYPE BASE64 [COMMENT]", where
 * NAMES is "|1|SALT|HMAC-SHA1" or a comma list of patterns with * and ?,
 * each negated by a leading !. The rules, stricter than ssh's:
 *  - a key listed under @revoked is refused, whatever names its line gives;
 *  - a host with any line of its own (a key of any type, even one that
 *    does not decode or is of a type not spoken here) is known: only its
 *    recorded keys are accepted, and --accept-new records nothing;
 *  - a host named only by @cert-authority lines is known too, and refused:
 *    libssh2 cannot check host certificates.
 */
enum kh_marker { KH_KEY, KH_REVOKED, KH_CA };

struct kh_key {
	int line;
	enum kh_marker marker;
	unsigned char *blob;	/* the key as sent on the wire; NULL: undecodable */
	size_t len;
};

struct known_hosts {
	struct sl_buf path;
	struct sl_buf name;	/* the host's name there: "host" or "[host]:port" */
	struct kh_key *keys;	/* the host's lines, and every @revoked key */
	size_t nr, alloc;
	int missing_nl;		/* the file does not end with a newline */
};
#define KNOWN_HOSTS_INIT { SL_BUF_INIT, SL_BUF_INIT, NULL, 0, 0, 0 }

static void kh_release(struct known_hosts *kh)
{
	for (size_t i = 0; i < kh->nr; i++)
		free(kh->keys[i].blob);
	free(kh->keys);
	sl_buf_release(&kh->path);
	sl_buf_release(&kh->name);
	*kh = (struct known_hosts)KNOWN_HOSTS_INIT;
}

/* Decodes N bytes of base64 at S into a new buffer. NULL if invalid. */
static unsigned char *base64_decode(const char *s, size_t n, size_t *len)
{
	unsigned char *out;
	int got, pad = 0;

	if (!n || n % 4 || n > 65536)
		return NULL;
	out = sl_xmalloc(n / 4 * 3 + 1);
	got = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	while (pad < 2 && s[n - 1 - pad] == '=')
		pad++;
	if (got < pad) {
		free(out);
		return NULL;
	}
	*len = (size_t)(got - pad);
	return out;
}

/* The type a key blob names ("ssh-ed25519"), in TYPE. 0, or -1 if none. */
static int blob_type(const unsigned char *blob, size_t len, struct sl_buf *type)
{
	size_t n;

	if (!blob || len < 4)
		return -1;
	n = (size_t)blob[0] << 24 | (size_t)blob[1] << 16 | (size_t)blob[2] << 8 | blob[3];
	if (!n || n > len - 4 || n > 64)
		return -1;
	sl_buf_add(type, blob + 4, n);
	return 0;
}

/* OpenSSH's wildcards: * any run, ? any one character, case ignored. */
static int kh_wildmatch(const char *p, const char *pend, const char *s)
{
	for (; p < pend; p++, s++) {
		if (*p == '*') {
			for (;; s++) {
				if (kh_wildmatch(p + 1, pend, s))
					return 1;
				if (!*s)
					return 0;
			}
		}
		if (!*s || (*p != '?' && tolower((unsigned char)*p) != *s))
			return 0;
	}
	return !*s;
}

/* Whether the NAMES field (N bytes at F) names NAME (lower case). */
static int kh_names_match(const char *f, size_t n, const char *name)
{
	int positive = 0;

	if (n > 3 && !strncmp(f, "|1|", 3)) {
		const char *bar = memchr(f + 3, '|', n - 3);
		unsigned char mac[EVP_MAX_MD_SIZE], *salt, *want;
		size_t saltlen, wantlen;
		unsigned maclen = 0;
		int ok;

		if (!bar)
			return 0;
		salt = base64_decode(f + 3, (size_t)(bar - f - 3), &saltlen);
		want = base64_decode(bar + 1, (size_t)(f + n - bar - 1), &wantlen);
		ok = salt && want &&
		     HMAC(EVP_sha1(), salt, (int)saltlen, (const unsigned char *)name,
			  strlen(name), mac, &maclen) &&
		     maclen == wantlen && !memcmp(mac, want, maclen);
		free(salt);
		free(want);
		return ok;
	}
	while (n) {
		const char *comma = memchr(f, ',', n);
		size_t len = comma ? (size_t)(comma - f) : n;
		int negated = len && *f == '!';

		if (kh_wildmatch(f + negated, f + len, name)) {
			if (negated)
				return 0;	/* a negated match overrides any other */
			positive = 1;
		}
		n -= comma ? len + 1 : len;
		f += comma ? len + 1 : len;
	}
	return positive;
}

/* The next blank-separated field at *P (before END): its length, 0 at the end. */
static size_t kh_field(const char **p, const char *end)
{
	const char *s = *p;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	*p = s;
	while (s < end && *s != ' ' && *s != '\t')
		s++;
	return (size_t)(s - *p);
}

static void kh_parse_line(struct known_hosts *kh, int line, const char *p, const char *end)
{
	enum kh_marker marker = KH_KEY;
	const char *names, *key;
	size_t n, names_len, key_len;
	struct kh_key *k;

	n = kh_field(&p, end);
	if (!n || *p == '#')
		return;
	if (*p == '@') {
		if (n == 8 && !strncmp(p, "@revoked", 8))
			marker = KH_REVOKED;
		else if (n == 15 && !strncmp(p, "@cert-authority", 15))
			marker = KH_CA;
		else
			return;	/* an unknown marker: OpenSSH skips the line too */
		p += n;
		n = kh_field(&p, end);
	}
	names = p;
	names_len = n;
	p += n;
	n = kh_field(&p, end);	/* the key type: the blob names it again */
	p += n;
	key_len = kh_field(&p, end);
	key = p;
	if (!names_len || !key_len)
		return;
	if (marker != KH_REVOKED && !kh_names_match(names, names_len, kh->name.buf))
		return;
	if (kh->nr == kh->alloc) {
		kh->alloc = sl_alloc_nr(kh->alloc, kh->nr + 1);
		kh->keys = sl_xrealloc(kh->keys, kh->alloc * sizeof(*kh->keys));
	}
	k = &kh->keys[kh->nr];
	k->line = line;
	k->marker = marker;
	k->len = 0;
	k->blob = base64_decode(key, key_len, &k->len);
	if (marker == KH_REVOKED && !k->blob)
		return;	/* nothing to refuse */
	kh->nr++;
}

/*
 * Reads the known_hosts file of O (~/.ssh/known_hosts by default) for the
 * host of A: its lines, and every @revoked key. A missing file is empty.
 */
static int kh_load(struct known_hosts *kh, const struct sl_ssh_addr *a,
		   const struct sl_ssh_opts *o, struct sl_err *err)
{
	struct sl_buf text = SL_BUF_INIT;
	const char *p, *end;
	int line = 0;

	if (o->known_hosts) {
		sl_buf_adds(&kh->path, o->known_hosts);
	} else {
		const char *home = sl_file_home();

		if (!home)
			return sl_err_set(err, SL_EXIT_USAGE,
					  "no home directory for ~/.ssh/known_hosts (set HOME)");
		sl_buf_addf(&kh->path, "%s/.ssh/known_hosts", home);
	}
	/* as ssh names it: lower case, with the port unless it is 22 */
	if (a->port == 22)
		sl_buf_adds(&kh->name, a->host);
	else
		sl_buf_addf(&kh->name, "[%s]:%d", a->host, a->port);
	for (char *c = kh->name.buf; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if (sl_buf_read_file(&text, kh->path.buf) < 0 && errno != ENOENT) {
		sl_buf_release(&text);
		return sl_err_errno(err, "unable to read %s", kh->path.buf);
	}
	kh->missing_nl = text.len && text.buf[text.len - 1] != '\n';
	end = text.buf + text.len;
	for (p = text.buf; p < end; ) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		kh_parse_line(kh, ++line, p, eol > p && eol[-1] == '\r' ? eol - 1 : eol);
		p = nl ? nl + 1 : end;
	}
	sl_buf_release(&text);
	return 0;
}

/* The host key algorithms libssh2 may negotiate, in OpenSSH's order. */
static const char *const hostkey_algs[] = {
	"ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa",
};

/* Whether the host has a recorded key that algorithm ALG would use. */
static int kh_has_alg(const struct known_hosts *kh, const char *alg)
{
	const char *want = strncmp(alg, "rsa-sha2-", 9) ? alg : "ssh-rsa";
	struct sl_buf type = SL_BUF_INIT;
	int found = 0;

	for (size_t i = 0; !found && i < kh->nr; i++) {
		sl_buf_reset(&type);
		found = kh->keys[i].marker == KH_KEY &&
			blob_type(kh->keys[i].blob, kh->keys[i].len, &type) == 0 &&
			!strcmp(type.buf, want);
	}
	sl_buf_release(&type);
	return found;
}

/* Whether libssh2 knows the host key algorithm ALG. */
static int hostkey_alg_supported(LIBSSH2_SESSION *session, const char *alg)
{
	const char **algs = NULL;
	int n = libssh2_session_supported_algs(session, LIBSSH2_METHOD_HOSTKEY, &algs);
	int found = 0;

	for (int i = 0; i < n && !found; i++)
		found = !strcmp(algs[i], alg);
	if (n > 0)
		libssh2_free(session, algs);
	return found;
}

/*
 * The host key algorithms to offer: those of the host's recorded keys
 * first, so that a node with several keys shows the one recorded, then
 * the others, so that a machine in the middle with another key is caught
 * by the check rather than lost in a failed negotiation. Only those
 * libssh2 knows: 1.10 has no rsa-sha2-*, and its method_pref strips
 * unknown names with an overlapping memcpy.
 */
static void kh_prefs(const struct known_hosts *kh, LIBSSH2_SESSION *session,
		     struct sl_buf *out)
{
	size_t n = sizeof(hostkey_algs) / sizeof(*hostkey_algs);

	for (int pass = 1; pass >= 0; pass--)
		for (size_t i = 0; i < n; i++)
			if (kh_has_alg(kh, hostkey_algs[i]) == pass &&
			    hostkey_alg_supported(session, hostkey_algs[i]))
				sl_buf_addf(out, "%s%s", out->len ? "," : "", hostkey_algs[i]);
}

/* Appends "NAME TYPE BASE64" for the offered key to the file. */
static int kh_record(struct known_hosts *kh, const char *key, size_t len,
		     struct sl_err *err)
{
	struct sl_buf line = SL_BUF_INIT, type = SL_BUF_INIT;
	unsigned char *b64;
	char *slash;
	int fd, n, ret = -1;

	if (blob_type((const unsigned char *)key, len, &type) < 0 || len > 65536) {
		sl_buf_release(&type);
		return sl_err_set(err, SL_EXIT_TEMP, "unable to record the host key of %s: it names no type",
				  kh->name.buf);
	}
	b64 = sl_xmalloc(len / 3 * 4 + 5);
	n = EVP_EncodeBlock(b64, (const unsigned char *)key, (int)len);
	sl_buf_addf(&line, "%s%s %s ", kh->missing_nl ? "\n" : "", kh->name.buf, type.buf);
	sl_buf_add(&line, b64, (size_t)n);
	sl_buf_addch(&line, '\n');
	free(b64);
	slash = strrchr(kh->path.buf, '/');
	if (slash) {
		*slash = '\0';
		n = sl_file_mkdirs(kh->path.buf, 0700, err);
		*slash = '/';
		if (n < 0)
			goto out;
	}
	fd = open(kh->path.buf, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || sl_file_write_all(fd, line.buf, line.len) < 0 || fsync(fd) < 0) {
		sl_err_errno(err, "unable to write %s", kh->path.buf);
		if (fd >= 0)
			close(fd);
		goto out;
	}
	ret = close(fd) < 0 ? sl_err_errno(err, "unable to write %s", kh->path.buf) : 0;
out:
	sl_buf_release(&line);
	sl_buf_release(&type);
	return ret;
}

static int kh_equal(const struct kh_key *k, const char *key, size_t len)
{
	return k->blob && k->len == len && !memcmp(k->blob, key, len);
}

/*
 * Checks the key the node offered against KH by the rules above: a
 * revoked key first, then the host's own keys, then its CA lines; an
 * unknown host is recorded with O's accept_new. 0, or -1 with ERR (100).
 */
static int check_host_key(struct sl_ssh *s, struct known_hosts *kh,
			  const struct sl_ssh_opts *o, struct sl_err *err)
{
	struct sl_buf fp = SL_BUF_INIT, offered = SL_BUF_INIT, t = SL_BUF_INIT;
	const struct kh_key *first = NULL, *same = NULL, *ca = NULL;
	const char *key;
	size_t len;
	int type, ret = -1;

	key = libssh2_session_hostkey(s->session, &len, &type);
	if (!key)
		return ssh_error(s, err, "no host key");
	fingerprint(s, &fp);
	blob_type((const unsigned char *)key, len, &offered);
	for (size_t i = 0; i < kh->nr; i++) {
		const struct kh_key *k = &kh->keys[i];

		if (k->marker == KH_REVOKED && kh_equal(k, key, len)) {
			sl_err_set(err, SL_EXIT_USAGE,
				   "the host key of %s, %s %s, is REVOKED in %s:%d: never use it. "
				   "Someone may be intercepting the connection, or the key was stolen",
				   s->name, key_type_name(type), fp.buf, kh->path.buf, k->line);
			goto out;
		}
	}
	for (size_t i = 0; i < kh->nr; i++) {
		const struct kh_key *k = &kh->keys[i];

		if (k->marker == KH_CA && !ca)
			ca = k;
		if (k->marker != KH_KEY)
			continue;
		if (kh_equal(k, key, len)) {
			ret = 0;
			goto out;
		}
		first = first ? first : k;
		sl_buf_reset(&t);
		if (!same && blob_type(k->blob, k->len, &t) == 0 && !strcmp(t.buf, offered.buf))
			same = k;
	}
	if (first) {
		sl_err_set(err, SL_EXIT_USAGE,
			   "the host key of %s has CHANGED: it is now %s %s, not the one in %s:%d. "
			   "If the node was reinstalled, remove that line (ssh-keygen -R '%s'); "
			   "otherwise someone may be intercepting the connection",
			   s->name, key_type_name(type), fp.buf, kh->path.buf,
			   (same ? same : first)->line, kh->name.buf);
	} else if (ca) {
		sl_err_set(err, SL_EXIT_USAGE,
			   "%s is known only through the @cert-authority line %s:%d, "
			   "and host certificates are not supported: "
			   "record the node's own key for it (its %s key is %s)",
			   s->name, kh->path.buf, ca->line, key_type_name(type), fp.buf);
	} else if (!o->accept_new) {
		sl_err_set(err, SL_EXIT_USAGE,
			   "%s is not a known host; its %s key is %s. "
			   "Compare it with the node's own (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), "
			   "then run again with --accept-new to record it in %s",
			   s->name, key_type_name(type), fp.buf, kh->path.buf);
	} else {
		ret = kh_record(kh, key, len, err);
	}
out:
	sl_buf_release(&fp);
	sl_buf_release(&offered);
	sl_buf_release(&t);
	return ret;
}

/* Whether the key file PATH holds an RSA key (from PATH.pub or its header). */
static int is_rsa_key(const char *path)
{
	struct sl_buf b = SL_BUF_INIT, pub = SL_BUF_INIT;
	int rsa = 0;

	sl_buf_addf(&pub, "%s.pub", path);
	if (sl_buf_read_file(&b, pub.buf) == 0)
		rsa = !strncmp(b.buf, "ssh-rsa ", 8);
	else if (sl_buf_read_file(&b, path) == 0)
		rsa = strstr(b.buf, "BEGIN RSA PRIVATE KEY") != NULL;
	sl_buf_release(&b);
	sl_buf_release(&pub);
	return rsa;
}

static int try_agent(struct sl_ssh *s, const char *user, struct sl_buf *tried,
		     struct sl_err *err)
{
	LIBSSH2_AGENT *agent;
	struct libssh2_agent_publickey *id = NULL, *prev = NULL;
	int ok = 0, n = 0;

	if (!getenv("SSH_AUTH_SOCK"))
		return 0;
	agent = libssh2_agent_init(s->session);
	if (!agent)
		return 0;
	if (libssh2_agent_connect(agent) == 0 && libssh2_agent_list_identities(agent) == 0) {
		while (!ok && libssh2_agent_get_identity(agent, &id, prev) == 0) {
			int rc;

			n++;
			while ((rc = libssh2_agent_userauth(agent, user, id)) ==
			       LIBSSH2_ERROR_EAGAIN)
				if (wait_socket(s, -1, err) < 0) {
					ok = -1;
					break;
				}
			if (ok < 0)
				break;
			if (rc == 0)
				ok = 1;
			prev = id;
		}
		libssh2_agent_disconnect(agent);
	}
	libssh2_agent_free(agent);
	sl_buf_addf(tried, "ssh-agent (%d key%s)", n, n == 1 ? "" : "s");
	return ok;
}

static int try_file(struct sl_ssh *s, const char *user, const char *path,
		    struct sl_buf *tried, int *rsa, struct sl_err *err)
{
	int rc;

	if (tried->len)
		sl_buf_adds(tried, ", ");
	sl_buf_adds(tried, path);
	if (is_rsa_key(path))
		*rsa = 1;
	while ((rc = libssh2_userauth_publickey_fromfile(s->session, user, NULL,
							 path, NULL)) ==
	       LIBSSH2_ERROR_EAGAIN)
		if (wait_socket(s, -1, err) < 0)
			return -1;
	if (rc == LIBSSH2_ERROR_FILE)
		sl_buf_adds(tried, " (unreadable, or protected by a passphrase: add it to ssh-agent)");
	return rc == 0;
}

static int authenticate(struct sl_ssh *s, const char *user,
			const struct sl_ssh_opts *o, struct sl_err *err)
{
	struct sl_buf tried = SL_BUF_INIT, path = SL_BUF_INIT;
	static const char *const defaults[] = { "id_ed25519", "id_ecdsa", "id_rsa" };
	const char *home = sl_file_home();
	int ok = 0, rsa = 0;

	if (!o->identity)
		ok = try_agent(s, user, &tried, err);
	if (o->identity && ok == 0) {
		if (access(o->identity, R_OK) < 0) {
			sl_buf_release(&tried);
			return sl_err_errno(err, "unable to read the key %s", o->identity);
		}
		ok = try_file(s, user, o->identity, &tried, &rsa, err);
	}
	for (size_t i = 0; !o->identity && home && ok == 0 && i < 3; i++) {
		sl_buf_reset(&path);
		sl_buf_addf(&path, "%s/.ssh/%s", home, defaults[i]);
		if (access(path.buf, F_OK) == 0)
			ok = try_file(s, user, path.buf, &tried, &rsa, err);
	}
	sl_buf_release(&path);
	if (ok < 0) {
		sl_buf_release(&tried);
		return -1;
	}
	if (ok == 0) {
		if (!tried.len)
			sl_err_set(err, SL_EXIT_USAGE,
				   "no key to log in to %s with: no ssh-agent, no ~/.ssh/id_ed25519, id_ecdsa or id_rsa (give one with -i FILE)",
				   s->name);
		else
			sl_err_set(err, SL_EXIT_USAGE, "%s refused every key tried: %s%s",
				   s->name, tried.buf,
				   rsa ? ". RSA keys cannot work here: Debian 12's libssh2 1.10 signs "
					 "them with ssh-rsa (SHA-1), which OpenSSH 8.8 and later refuse; "
					 "make an ed25519 key (ssh-keygen -t ed25519) and add it to the node's "
					 "authorized_keys" : "");
	}
	sl_buf_release(&tried);
	return ok ? 0 : -1;
}

static int libssh2_ready;

struct sl_ssh *sl_ssh_connect(const struct sl_ssh_addr *a,
			      const struct sl_ssh_opts *o, struct sl_err *err)
{
	struct sl_ssh *s;
	struct sl_buf name = SL_BUF_INIT, prefs = SL_BUF_INIT;
	struct known_hosts kh = KNOWN_HOSTS_INIT;
	int rc;

	if (kh_load(&kh, a, o, err) < 0) {
		kh_release(&kh);
		return NULL;
	}
	if (!libssh2_ready) {
		if (libssh2_init(0) != 0) {
			sl_err_set(err, SL_EXIT_TEMP, "unable to start libssh2");
			kh_release(&kh);
			return NULL;
		}
		libssh2_ready = 1;
	}
	s = sl_xcalloc(1, sizeof(*s));
	s->sock = -1;
	s->idle_ms = (o->idle_timeout > 0 ? o->idle_timeout : 300) * 1000;
	s->err_fd = o->stderr_fd;
	sl_buf_addf(&name, "%s@%s%s%s:%d", a->user, strchr(a->host, ':') ? "[" : "",
		    a->host, strchr(a->host, ':') ? "]" : "", a->port);
	s->name = sl_buf_detach(&name, NULL);
	{
		int ct = o->connect_timeout > 0 ? o->connect_timeout : 15;

		if (o->idle_timeout > 0 && o->idle_timeout < ct)
			ct = o->idle_timeout;
		s->sock = connect_tcp(a, ct, s->name, err);
	}
	if (s->sock < 0)
		goto fail;
	s->session = libssh2_session_init();
	if (!s->session) {
		sl_err_set(err, SL_EXIT_TEMP, "out of memory");
		goto fail;
	}
	libssh2_session_set_blocking(s->session, 0);
	kh_prefs(&kh, s->session, &prefs);
	libssh2_session_method_pref(s->session, LIBSSH2_METHOD_HOSTKEY, prefs.buf);
	/* CTR modes only: no chacha20-poly1305 or EtM MACs (Terrapin) */
	libssh2_session_method_pref(s->session, LIBSSH2_METHOD_CRYPT_CS,
				    "aes128-ctr,aes256-ctr,aes192-ctr");
	libssh2_session_method_pref(s->session, LIBSSH2_METHOD_CRYPT_SC,
				    "aes128-ctr,aes256-ctr,aes192-ctr");
	/*
	 * A few keepalives per idle period, so a live node answers in time
	 * (libssh2 sends them at most every 2 s: idle timeouts under 3 s may
	 * cut quiet commands).
	 */
	libssh2_keepalive_config(s->session, 1, (unsigned)(s->idle_ms / 4000 > 2 ? s->idle_ms / 4000 : 2));
	s->last_rx = now_ms();
	while ((rc = libssh2_session_handshake(s->session, s->sock)) ==
	       LIBSSH2_ERROR_EAGAIN)
		if (wait_socket(s, -1, err) < 0)
			goto fail;
	if (rc) {
		ssh_error(s, err, "SSH handshake failed");
		goto fail;
	}
	if (check_host_key(s, &kh, o, err) < 0 || authenticate(s, a->user, o, err) < 0)
		goto fail;
	s->ready = 1;
	kh_release(&kh);
	sl_buf_release(&prefs);
	return s;
fail:
	kh_release(&kh);
	sl_buf_release(&prefs);
	sl_ssh_close(s);
	return NULL;
}

void sl_ssh_close(struct sl_ssh *s)
{
	if (!s)
		return;
	if (s->session) {
		/* a polite goodbye, but never a wait for it */
		libssh2_session_disconnect(s->session, "bye");
		libssh2_session_free(s->session);
	}
	if (s->sock >= 0)
		close(s->sock);
	free(s->name);
	free(s);
}

const char *sl_ssh_name(const struct sl_ssh *s)
{
	return s->name;
}

int sl_ssh_host_key(const struct sl_ssh *s, struct sl_buf *out)
{
	struct sl_buf type = SL_BUF_INIT;
	const char *key;
	unsigned char *b64;
	size_t len;
	int t, n;

	key = s->ready ? libssh2_session_hostkey(s->session, &len, &t) : NULL;
	if (!key || len > 16384 || blob_type((const unsigned char *)key, len, &type) < 0) {
		sl_buf_release(&type);
		return -1;
	}
	b64 = sl_xmalloc(4 * ((len + 2) / 3) + 1);
	n = EVP_EncodeBlock(b64, (const unsigned char *)key, (int)len);
	sl_buf_addf(out, "%s ", type.buf);
	sl_buf_add(out, b64, (size_t)n);
	free(b64);
	sl_buf_release(&type);
	return 0;
}

/* The size of the terminal on stdin, or 80x24. */
static void term_size(int *cols, int *rows)
{
	struct winsize ws;

	*cols = 80;
	*rows = 24;
	if (ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row) {
		*cols = ws.ws_col;
		*rows = ws.ws_row;
	}
}

struct sl_ssh_chan *sl_ssh_exec_pty(struct sl_ssh *s, const char *command,
				    const char *term, struct sl_err *err)
{
	struct sl_ssh_chan *c = sl_xcalloc(1, sizeof(*c));
	int rc, cols, rows;

	c->s = s;
	while (!(c->ch = libssh2_channel_open_session(s->session))) {
		if (libssh2_session_last_errno(s->session) != LIBSSH2_ERROR_EAGAIN) {
			ssh_error(s, err, "unable to open a channel");
			goto fail;
		}
		if (wait_socket(s, -1, err) < 0)
			goto fail;
	}
	if (term) {
		term_size(&cols, &rows);
		while ((rc = libssh2_channel_request_pty_ex(c->ch, term, (unsigned)strlen(term),
							    NULL, 0, cols, rows, 0, 0)) ==
		       LIBSSH2_ERROR_EAGAIN)
			if (wait_socket(s, -1, err) < 0)
				goto fail;
		if (rc) {
			ssh_error(s, err, "unable to have a terminal");
			goto fail;
		}
		c->pty = 1;
	}
	while ((rc = libssh2_channel_exec(c->ch, command)) == LIBSSH2_ERROR_EAGAIN)
		if (wait_socket(s, -1, err) < 0)
			goto fail;
	if (rc) {
		ssh_error(s, err, "unable to run a command");
		goto fail;
	}
	return c;
fail:
	if (c->ch)
		libssh2_channel_free(c->ch);
	free(c);
	return NULL;
}

struct sl_ssh_chan *sl_ssh_exec(struct sl_ssh *s, const char *command,
				struct sl_err *err)
{
	return sl_ssh_exec_pty(s, command, NULL, err);
}

/*
 * Forwards what stderr holds now. 1 when it forwarded something, 0 when
 * there was nothing, -1 with ERR set. Reading stderr makes libssh2 read
 * the socket, and it may queue stdout, EOF or the exit status while it
 * does: a caller that got 1 must look again before it polls the socket,
 * which may have nothing more to say (a command that wrote a lot of
 * stderr and then its last line waited out the idle timeout). The node's
 * messages carry what apps print (update_fetch, the end of a log): a
 * control character other than a newline or a tab reaches the user's
 * terminal as '?', so no app or node can send it escape sequences.
 */
static int drain_stderr(struct sl_ssh_chan *c, int fd, struct sl_err *err)
{
	char buf[16384];
	int got = 0;

	for (;;) {
		ssize_t n = libssh2_channel_read_stderr(c->ch, buf, sizeof(buf));

		if (n == LIBSSH2_ERROR_EAGAIN || n == 0)
			return got;
		if (n < 0)
			return ssh_error(c->s, err, "reading stderr");
		for (ssize_t i = 0; i < n; i++)
			if (((unsigned char)buf[i] < 0x20 && buf[i] != '\n' && buf[i] != '\t') ||
			    buf[i] == 0x7f)
				buf[i] = '?';
		if (fd >= 0 && sl_file_write_all(fd, buf, (size_t)n) < 0)
			return sl_err_errno(err, "unable to write the remote stderr");
		got = 1;
	}
}

int sl_ssh_write(struct sl_ssh_chan *c, const void *buf, size_t len,
		 struct sl_err *err)
{
	const char *p = buf;
	int got;

	while (len) {
		ssize_t n = libssh2_channel_write(c->ch, p, len);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n != LIBSSH2_ERROR_EAGAIN && n != 0)
			return ssh_error(c->s, err, "sending");
		if ((got = drain_stderr(c, c->s->err_fd, err)) < 0)
			return -1;
		if (libssh2_channel_eof(c->ch))
			return sl_err_set(err, SL_EXIT_TEMP,
					  "%s: the remote command stopped reading", c->s->name);
		if (!got && wait_socket(c->s, -1, err) < 0)
			return -1;
	}
	return 0;
}

int sl_ssh_send_eof(struct sl_ssh_chan *c, struct sl_err *err)
{
	int rc;

	while ((rc = libssh2_channel_send_eof(c->ch)) == LIBSSH2_ERROR_EAGAIN)
		if (wait_socket(c->s, -1, err) < 0)
			return -1;
	return rc ? ssh_error(c->s, err, "sending EOF") : 0;
}

ssize_t sl_ssh_read(struct sl_ssh_chan *c, void *buf, size_t len,
		    struct sl_err *err)
{
	for (;;) {
		ssize_t n = libssh2_channel_read(c->ch, buf, len);
		int got;

		if (n > 0)
			return n;
		if (n < 0 && n != LIBSSH2_ERROR_EAGAIN)
			return ssh_error(c->s, err, "receiving");
		if ((got = drain_stderr(c, c->s->err_fd, err)) < 0)
			return -1;
		if (libssh2_channel_eof(c->ch)) {
			n = libssh2_channel_read(c->ch, buf, len);
			return n > 0 ? n : 0;
		}
		if (!got && wait_socket(c->s, -1, err) < 0)
			return -1;
	}
}

/*
 * The number of the signal NAME ("TERM") the node's sshd reported, or 0.
 * OpenSSH names only RFC 4254's signals; others arrive as
 * "SIG@openssh.com", and their number is lost.
 */
static int signal_number(const char *name)
{
	for (int n = 1; n < NSIG; n++) {
		const char *abbrev = sigabbrev_np(n);

		if (abbrev && !strcmp(abbrev, name))
			return n;
	}
	return 0;
}

int sl_ssh_finish(struct sl_ssh_chan *c, struct sl_err *err)
{
	char buf[16384], *sig = NULL;
	int rc, got, code = -1;

	/* what is left on stdout is dropped: the caller read what it wanted */
	for (;;) {
		ssize_t n = libssh2_channel_read(c->ch, buf, sizeof(buf));

		if (n > 0)
			continue;
		if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
			ssh_error(c->s, err, "receiving");
			goto out;
		}
		if ((got = drain_stderr(c, c->s->err_fd, err)) < 0)
			goto out;
		if (libssh2_channel_eof(c->ch))
			break;
		if (!got && wait_socket(c->s, -1, err) < 0)
			goto out;
	}
	while ((rc = libssh2_channel_close(c->ch)) == LIBSSH2_ERROR_EAGAIN)
		if (wait_socket(c->s, -1, err) < 0)
			goto out;
	while ((rc = libssh2_channel_wait_closed(c->ch)) == LIBSSH2_ERROR_EAGAIN)
		if (wait_socket(c->s, -1, err) < 0)
			goto out;
	if (drain_stderr(c, c->s->err_fd, err) < 0)
		goto out;
	libssh2_channel_get_exit_signal(c->ch, &sig, NULL, NULL, NULL, NULL, NULL);
	if (sig) {
		int n = signal_number(sig);

		/* a signal with no name: killed, but 128+n would be a guess */
		code = n ? SL_EXIT_SIGNAL + n : SL_EXIT_TEMP;
		free(sig);
	} else {
		code = libssh2_channel_get_exit_status(c->ch);
		if (code == 255)
			code = SL_EXIT_TEMP;
	}
out:
	libssh2_channel_free(c->ch);
	free(c);
	return code;
}

int sl_ssh_pump(struct sl_ssh_chan *c, int in_fd, int out_fd, int err_fd,
		struct sl_err *err)
{
	static char inbuf[65536];
	char buf[65536];
	size_t pending = 0, off = 0;
	int in_open = in_fd >= 0, eof_sent = 0;

	/*
	 * stdin stays blocking (its flags are shared with whatever else holds
	 * the same file, a terminal's stdout for one): it is read only when
	 * poll says a read will not wait.
	 */
	c->s->err_fd = err_fd;
	for (;;) {
		int progress = 0;
		ssize_t n;

		if (c->pty && sl_ssh_winch) {
			int cols, rows;

			sl_ssh_winch = 0;
			term_size(&cols, &rows);
			/* a half-sent request must be finished before anything else */
			while ((n = libssh2_channel_request_pty_size(c->ch, cols, rows)) ==
			       LIBSSH2_ERROR_EAGAIN)
				if (wait_socket(c->s, -1, err) < 0)
					return -1;
		}

		while ((n = libssh2_channel_read(c->ch, buf, sizeof(buf))) > 0) {
			if (sl_file_write_all(out_fd, buf, (size_t)n) < 0)
				return sl_err_errno(err, "unable to write the remote output");
			progress = 1;
		}
		if (n < 0 && n != LIBSSH2_ERROR_EAGAIN)
			return ssh_error(c->s, err, "receiving");
		switch (drain_stderr(c, err_fd, err)) {
		case -1:
			return -1;
		case 1:
			progress = 1;
		}
		if (libssh2_channel_eof(c->ch))
			break;
		if (in_open && !pending &&
		    poll(&(struct pollfd){ in_fd, POLLIN, 0 }, 1, 0) > 0) {
			n = read(in_fd, inbuf, sizeof(inbuf));
			if (n > 0) {
				pending = (size_t)n;
				off = 0;
				progress = 1;
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				in_open = 0;
			}
		}
		if (pending) {
			n = libssh2_channel_write(c->ch, inbuf + off, pending);
			if (n > 0) {
				off += (size_t)n;
				pending -= (size_t)n;
				progress = 1;
			} else if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
				return ssh_error(c->s, err, "sending");
			}
		}
		if (!in_open && !pending && !eof_sent) {
			int rc = libssh2_channel_send_eof(c->ch);

			if (rc == 0)
				eof_sent = 1;
			else if (rc != LIBSSH2_ERROR_EAGAIN)
				return ssh_error(c->s, err, "sending EOF");
		}
		if (!progress &&
		    wait_socket(c->s, in_open && !pending ? in_fd : -1, err) < 0)
			return -1;
	}
	return sl_ssh_finish(c, err);
}
