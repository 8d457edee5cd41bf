/*
 * silverlining — a FastCGI client (FastCGI 1.0, the responder role).
 *
 * A record is an 8-byte header (version 1, type, request id, content
 * length, padding length, a reserved byte), its content and its padding.
 * The client sends FCGI_BEGIN_REQUEST (role 1, flags 0: the server closes
 * the connection after the request), the params as name-value pairs in
 * FCGI_PARAMS records (each length in 1 byte below 128, else in 4 with
 * the top bit set) ended by an empty one, then the body in FCGI_STDIN
 * records ended by an empty one. The server answers with FCGI_STDOUT and
 * FCGI_STDERR streams and one FCGI_END_REQUEST (appStatus, protocolStatus).
 * php-fpm parses each FCGI_PARAMS record alone, so no pair is split
 * between two.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "exit.h"
#include "fcgi.h"

enum {
	BEGIN_REQUEST = 1, END_REQUEST = 3, PARAMS = 4, STDIN = 5, STDOUT = 6, STDERR = 7,
	RECORD_MAX = 65535,
};

static void record(struct sl_buf *out, int type, const void *data, size_t len)
{
	unsigned char h[8] = { 1, (unsigned char)type, 0, 1, (unsigned char)(len >> 8),
		(unsigned char)len, 0, 0 };

	sl_buf_add(out, h, 8);
	sl_buf_add(out, data, len);
}

static void add_len(struct sl_buf *out, size_t n)
{
	if (n < 128) {
		sl_buf_addch(out, (int)n);
		return;
	}
	sl_buf_addch(out, (int)((n >> 24) | 0x80));
	sl_buf_addch(out, (int)((n >> 16) & 0xff));
	sl_buf_addch(out, (int)((n >> 8) & 0xff));
	sl_buf_addch(out, (int)(n & 0xff));
}

/* The whole request into OUT: 0, or -1 with ERR for a param too long or without '='. */
static int build(struct sl_buf *out, char *const *params, const unsigned char *in, size_t inlen,
		 struct sl_err *err)
{
	static const unsigned char begin[8] = { 0, 1, 0, 0, 0, 0, 0, 0 };
	struct sl_buf rec = SL_BUF_INIT, pair = SL_BUF_INIT;
	int rc = 0;

	record(out, BEGIN_REQUEST, begin, sizeof(begin));
	for (size_t i = 0; params[i]; i++) {
		const char *eq = strchr(params[i], '=');
		size_t nl, vl;

		if (!eq || eq == params[i]) {
			rc = sl_err_set(err, SL_EXIT_USAGE, "a FastCGI param is not NAME=VALUE: %s",
					params[i]);
			break;
		}
		nl = (size_t)(eq - params[i]);
		vl = strlen(eq + 1);
		sl_buf_reset(&pair);
		add_len(&pair, nl);
		add_len(&pair, vl);
		sl_buf_add(&pair, params[i], nl);
		sl_buf_add(&pair, eq + 1, vl);
		if (pair.len > RECORD_MAX) {
			rc = sl_err_set(err, SL_EXIT_USAGE, "the FastCGI param %.*s is too long (%zu bytes)",
					(int)nl, params[i], vl);
			break;
		}
		if (rec.len + pair.len > RECORD_MAX) {
			record(out, PARAMS, rec.buf, rec.len);
			sl_buf_reset(&rec);
		}
		sl_buf_add(&rec, pair.buf, pair.len);
	}
	if (rec.len)
		record(out, PARAMS, rec.buf, rec.len);
	record(out, PARAMS, "", 0);
	for (size_t off = 0; off < inlen; off += RECORD_MAX)
		record(out, STDIN, in + off, inlen - off > RECORD_MAX ? RECORD_MAX : inlen - off);
	record(out, STDIN, "", 0);
	sl_buf_release(&rec);
	sl_buf_release(&pair);
	return rc;
}

static int bad(struct sl_err *err, const char *what, unsigned n)
{
	return sl_err_set(err, SL_EXIT_TEMP, "malformed FastCGI response: %s %u", what, n);
}

/*
 * The complete records of D (LEN bytes) from *POS on: FCGI_STDOUT into
 * R's body, FCGI_STDERR into its stderr_text. 0 at FCGI_END_REQUEST, 1
 * when more is needed, -1 with ERR.
 */
static int records(const unsigned char *d, size_t len, size_t *pos, struct sl_fcgi_response *r,
		   struct sl_err *err)
{
	while (len - *pos >= 8) {
		const unsigned char *h = d + *pos, *c = h + 8;
		size_t clen = (size_t)h[4] << 8 | h[5], total = 8 + clen + h[6];

		if (h[0] != 1)
			return bad(err, "a record of version", h[0]);
		if (h[2] || h[3] != 1)
			return bad(err, "a record for request", (unsigned)h[2] << 8 | h[3]);
		if (h[1] != STDOUT && h[1] != STDERR && h[1] != END_REQUEST)
			return bad(err, "a record of type", h[1]);
		if (h[1] == END_REQUEST && clen != 8)
			return bad(err, "FCGI_END_REQUEST of length", (unsigned)clen);
		if (len - *pos < total)
			return 1;
		*pos += total;
		if (h[1] == STDOUT)
			sl_buf_add(&r->body, c, clen);
		else if (h[1] == STDERR)
			sl_buf_add(&r->stderr_text, c, clen);
		else if (c[4] == 0) {
			r->app_status = (unsigned)c[0] << 24 | (unsigned)c[1] << 16 |
				(unsigned)c[2] << 8 | c[3];
			return 0;
		} else {
			static const char *why[] = { "", "it cannot multiplex connections",
				"it is overloaded", "it does not know the responder role" };

			if (c[4] > 3)
				return bad(err, "FCGI_END_REQUEST of protocol status", c[4]);
			return sl_err_set(err, SL_EXIT_TEMP, "the FastCGI server refused the request: %s",
					  why[c[4]]);
		}
	}
	return 1;
}

/* "Status: NNN ..." into R's status: 0, or -1 with ERR. */
static int status_line(const char *v, struct sl_fcgi_response *r, struct sl_err *err)
{
	if (v[0] < '1' || v[0] > '5' || v[1] < '0' || v[1] > '9' || v[2] < '0' || v[2] > '9' ||
	    (v[3] && v[3] != ' '))
		return sl_err_set(err, SL_EXIT_TEMP, "malformed CGI response: the status '%.40s'", v);
	r->status = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
	return 0;
}

/* R's body (the script's whole stdout) split into its headers and its body. */
static int cgi(struct sl_fcgi_response *r, struct sl_err *err)
{
	const char *s = r->body.buf, *end = s + r->body.len;
	int rc = 0;

	r->status = 200;
	if (!r->body.len)
		return sl_err_set(err, SL_EXIT_TEMP, "malformed CGI response: nothing on its stdout");
	for (;;) {
		const char *nl = memchr(s, '\n', (size_t)(end - s)), *colon, *v;
		size_t n;

		if (!nl)
			return sl_err_set(err, SL_EXIT_TEMP,
					  "malformed CGI response: no blank line after its headers");
		n = (size_t)(nl - s);
		if (n && s[n - 1] == '\r')
			n--;
		if (!n) {
			s = nl + 1;
			break;
		}
		colon = memchr(s, ':', n);
		if (!colon || colon == s || memchr(s, 0, n) || memchr(s, ' ', (size_t)(colon - s)))
			return sl_err_set(err, SL_EXIT_TEMP, "malformed CGI response: the header line '%.*s'",
					  (int)(n > 60 ? 60 : n), s);
		sl_strv_pushn(&r->headers, s, n);
		v = r->headers.v[r->headers.n - 1] + (colon - s) + 1;
		v += strspn(v, " \t");
		if (colon - s == 6 && !strncasecmp(s, "Status", 6) && status_line(v, r, err) < 0)
			rc = -1;
		s = nl + 1;
		if (rc)
			return rc;
	}
	memmove(r->body.buf, s, (size_t)(end - s));
	sl_buf_setlen(&r->body, (size_t)(end - s));
	return 0;
}

void sl_fcgi_response_release(struct sl_fcgi_response *r)
{
	sl_strv_clear(&r->headers);
	sl_buf_release(&r->body);
	sl_buf_release(&r->stderr_text);
	r->status = 0;
	r->app_status = 0;
}

int sl_fcgi_parse(const void *data, size_t len, struct sl_fcgi_response *r, struct sl_err *err)
{
	size_t pos = 0;
	int rc;

	sl_fcgi_response_release(r);
	rc = records(data, len, &pos, r, err);
	return rc ? rc : cgi(r, err);
}

static long left_ms(const struct timespec *deadline)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long)(deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? ms : 0;
}

static int connect_to(const char *path, long timeout_ms, struct sl_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { timeout_ms / 1000, timeout_ms % 1000 * 1000 };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return sl_err_set(err, SL_EXIT_USAGE, "%s: the socket's path is too long", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sl_err_errno(err, "unable to make a socket");
	/* a full backlog makes connect() wait: SO_SNDTIMEO bounds it */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		sl_err_errno(err, "unable to connect to %s", path);
		err->code = SL_EXIT_TEMP;
		close(fd);
		return -1;
	}
	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		sl_err_errno(err, "%s: fcntl", path);
		close(fd);
		return -1;
	}
	return fd;
}

/* Writes OUT to FD and reads R's records until FCGI_END_REQUEST (0), or -1 with ERR. */
static int exchange(int fd, const char *path, const struct sl_buf *out, long timeout_ms,
		    struct sl_fcgi_response *r, struct sl_err *err)
{
	struct sl_buf in = SL_BUF_INIT;
	struct timespec deadline;
	size_t sent = 0, pos = 0;
	int rc = 1;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += timeout_ms % 1000 * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	while (rc == 1) {
		struct pollfd p = { fd, POLLIN | (sent < out->len ? POLLOUT : 0), 0 };
		long ms = left_ms(&deadline);
		ssize_t n;

		if (!ms || (n = poll(&p, 1, ms > INT_MAX ? INT_MAX : (int)ms)) == 0) {
			rc = sl_err_set(err, SL_EXIT_TEMP, "%s: no complete answer within %ld ms",
					path, timeout_ms);
			break;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = sl_err_errno(err, "%s: poll", path);
			break;
		}
		if (sent < out->len && (p.revents & POLLOUT)) {
			n = send(fd, out->buf + sent, out->len - sent, MSG_NOSIGNAL);
			if (n > 0) {
				sent += (size_t)n;
			} else if (errno == EPIPE || errno == ECONNRESET) {
				/* a server that closes early may still have answered: read on */
				sent = out->len;
			} else if (errno != EAGAIN && errno != EINTR) {
				rc = sl_err_errno(err, "%s: send", path);
				break;
			}
		}
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		sl_buf_grow(&in, 65536);
		n = read(fd, in.buf + in.len, 65536);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0 && errno != ECONNRESET) {
			rc = sl_err_errno(err, "%s: read", path);
			break;
		}
		if (n <= 0) {
			rc = sl_err_set(err, SL_EXIT_TEMP,
					"%s: the connection closed before the end of the response", path);
			break;
		}
		sl_buf_setlen(&in, in.len + (size_t)n);
		if (in.len > SL_FCGI_MAX) {
			rc = sl_err_set(err, SL_EXIT_TEMP, "%s: a response longer than %ld bytes",
					path, SL_FCGI_MAX);
			break;
		}
		rc = records((const unsigned char *)in.buf, in.len, &pos, r, err);
		if (rc < 0)
			sl_err_prefix(err, "%s", path);
	}
	sl_buf_release(&in);
	return rc;
}

int sl_fcgi_request(const char *path, char *const *params, const void *in, size_t inlen,
		    long timeout_ms, struct sl_fcgi_response *r, struct sl_err *err)
{
	struct sl_buf out = SL_BUF_INIT;
	int fd, rc;

	sl_fcgi_response_release(r);
	if (build(&out, params, in, inlen, err) < 0) {
		sl_buf_release(&out);
		return -1;
	}
	fd = connect_to(path, timeout_ms, err);
	rc = fd < 0 ? -1 : exchange(fd, path, &out, timeout_ms, r, err);
	if (fd >= 0)
		close(fd);
	if (!rc && cgi(r, err) < 0) {
		sl_err_prefix(err, "%s", path);
		rc = -1;
	}
	sl_buf_release(&out);
	return rc;
}
