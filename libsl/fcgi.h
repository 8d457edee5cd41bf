/* silverlining — a FastCGI client: one request to a responder on a Unix socket. */
#ifndef SL_FCGI_H
#define SL_FCGI_H

#include <stddef.h>

#include "buf.h"
#include "err.h"
#include "strv.h"

/*
 * What the internal requests of the gate (gate.h) need of FastCGI 1.0,
 * and no more: one request (id 1) in the responder role, keep-conn off,
 * its params, its stdin, then FCGI_STDOUT and FCGI_STDERR read until
 * FCGI_END_REQUEST. The stdout is a CGI response: headers up to a blank
 * line, then the body; the status is its Status: header's, 200 without
 * one.
 */
struct sl_fcgi_response {
	int status;			/* 100..599 */
	struct sl_strv headers;		/* "Name: value", as sent, Status: included */
	struct sl_buf body;
	struct sl_buf stderr_text;	/* what the script wrote to FCGI_STDERR */
	unsigned app_status;		/* FCGI_END_REQUEST's appStatus */
};
#define SL_FCGI_RESPONSE_INIT { 0, SL_STRV_INIT, SL_BUF_INIT, SL_BUF_INIT, 0 }

/* The most a response may hold, records and all: a longer one is an error. */
#define SL_FCGI_MAX (16L << 20)

/*
 * Sends PARAMS ("NAME=VALUE" each, NULL-terminated) and the body IN
 * (INLEN bytes, may be 0) to the responder listening on the Unix socket
 * SOCKET, and reads its response into R (released and filled again),
 * the whole exchange allowed TIMEOUT_MS milliseconds. 0, or -1 with ERR
 * naming SOCKET: 111 for no listener, a timeout, a close before
 * FCGI_END_REQUEST, a malformed record or CGI response, a response over
 * SL_FCGI_MAX, a request the server refused (protocolStatus); 100 for a
 * param that is not NAME=VALUE or longer than a record, a socket path
 * too long for a sockaddr_un.
 */
int sl_fcgi_request(const char *socket, char *const *params, const void *in, size_t inlen,
		    long timeout_ms, struct sl_fcgi_response *r, struct sl_err *err);

/*
 * The records a server sent, DATA (LEN bytes), read into R as
 * sl_fcgi_request() reads them: 0 when they end with FCGI_END_REQUEST, 1
 * when they are a correct beginning (more is needed), -1 with ERR (111)
 * for a malformed one or a CGI response that is not one. Bytes after
 * FCGI_END_REQUEST are ignored.
 */
int sl_fcgi_parse(const void *data, size_t len, struct sl_fcgi_response *r, struct sl_err *err);

/* Frees R's contents; R is then SL_FCGI_RESPONSE_INIT again. */
void sl_fcgi_response_release(struct sl_fcgi_response *r);

#endif
