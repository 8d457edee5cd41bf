/* silverlining — SSH sessions to nodes, on libssh2. */
#ifndef SL_SSH_H
#define SL_SSH_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/*
 * One session per command and node; several channels on it (doc/DESIGN.md
 * "Transport"). Connecting checks the host key against known_hosts
 * before anything else is sent (sl-remote(1) "HOST KEYS" has the rules:
 * a host with a recorded key of any type accepts only its recorded keys,
 * and those types are negotiated first; a @revoked key is refused for
 * every host; --accept-new records only a host with no line at all),
 * then authenticates with ssh-agent, then
 * with ~/.ssh/id_ed25519, ~/.ssh/id_ecdsa and ~/.ssh/id_rsa (which fails
 * against OpenSSH 8.8 and later, and says why), or with the one key file
 * given.
 *
 * Errors carry the shared exit codes: 100 for what the user must fix (an
 * unknown or changed host key, refused keys, a bad address), 111 for
 * network failures, 99 for timeouts.
 *
 * All I/O is non-blocking underneath: every wait is bounded by the idle
 * timeout (no progress for that long is a timeout), and a channel's
 * stderr is forwarded while its stdout or stdin waits, so neither stream
 * can stall the other.
 */

struct sl_ssh_addr {
	char *user;	/* default "root" */
	char *host;
	int port;	/* default 22 */
};
#define SL_SSH_ADDR_INIT { NULL, NULL, 22 }

/*
 * Parses "[user@]host[:port]" (an IPv6 address in brackets when a port
 * follows). -1 with ERR (100) for an invalid address.
 */
int sl_ssh_addr_parse(struct sl_ssh_addr *a, const char *text,
		      struct sl_err *err);
void sl_ssh_addr_release(struct sl_ssh_addr *a);

struct sl_ssh_opts {
	const char *identity;	/* a private key file, or NULL for the defaults */
	const char *known_hosts;	/* NULL: ~/.ssh/known_hosts */
	int accept_new;		/* record an unknown host key (trust on first use) */
	int connect_timeout;	/* seconds to establish TCP; default 15, or the
				   idle timeout when that is shorter */
	int idle_timeout;	/* seconds without progress; default 300 */
	int stderr_fd;		/* where remote stderr goes; default 2 */
};
#define SL_SSH_OPTS_INIT { NULL, NULL, 0, 15, 300, 2 }

/*
 * The options every tool that reaches a node takes, for getopt_long:
 * -i FILE, --accept-new, --timeout SECONDS. Put SL_SSH_SHORTOPTS in the
 * option string and SL_SSH_LONGOPTS in the table, and hand each option
 * to sl_ssh_opt() first.
 */
#define SL_SSH_SHORTOPTS "i:"
#define SL_SSH_LONGOPTS \
	{ "accept-new", no_argument, NULL, SL_SSH_OPT_ACCEPT_NEW }, \
	{ "timeout", required_argument, NULL, SL_SSH_OPT_TIMEOUT }
enum { SL_SSH_OPT_ACCEPT_NEW = 0x100, SL_SSH_OPT_TIMEOUT };

/*
 * Applies option C (with ARG) to O: 1 if it was one of these, 0 if not,
 * -1 with ERR (100) for a bad value (--timeout takes whole seconds, 1 to
 * 86400).
 */
int sl_ssh_opt(struct sl_ssh_opts *o, int c, const char *arg, struct sl_err *err);

struct sl_ssh;
struct sl_ssh_chan;

/* Connects, checks the host key, authenticates. NULL with ERR set. */
struct sl_ssh *sl_ssh_connect(const struct sl_ssh_addr *a,
			      const struct sl_ssh_opts *o, struct sl_err *err);

/* Says goodbye and frees S (and any channel still open on it). */
void sl_ssh_close(struct sl_ssh *s);

/* "user@host:port" of S, for messages. */
const char *sl_ssh_name(const struct sl_ssh *s);

/*
 * Appends to OUT the host key S was given and checked against
 * known_hosts, as "TYPE BASE64" (a known_hosts line without its names).
 * -1 when S has none.
 */
struct sl_buf;
int sl_ssh_host_key(const struct sl_ssh *s, struct sl_buf *out);

/*
 * Opens a channel running COMMAND through the node user's shell. The
 * command string is visible in the node's process list: never put a
 * secret in it; send secrets on stdin. NULL with ERR set.
 */
struct sl_ssh_chan *sl_ssh_exec(struct sl_ssh *s, const char *command,
				struct sl_err *err);

/*
 * The same with a terminal of type TERM on the node (NULL: none), as
 * large as the terminal on stdin. While the channel is pumped, setting
 * sl_ssh_winch (from a SIGWINCH handler) sends the terminal's new size.
 */
struct sl_ssh_chan *sl_ssh_exec_pty(struct sl_ssh *s, const char *command,
				    const char *term, struct sl_err *err);
extern volatile sig_atomic_t sl_ssh_winch;

/* Writes all of BUF to the channel's stdin. -1 with ERR set. */
int sl_ssh_write(struct sl_ssh_chan *c, const void *buf, size_t len,
		 struct sl_err *err);

/* Sends EOF on the channel's stdin. -1 with ERR set. */
int sl_ssh_send_eof(struct sl_ssh_chan *c, struct sl_err *err);

/*
 * Reads up to LEN bytes of the channel's stdout: the count, 0 at EOF,
 * -1 with ERR set.
 */
ssize_t sl_ssh_read(struct sl_ssh_chan *c, void *buf, size_t len,
		    struct sl_err *err);

/*
 * Copies IN_FD (or nothing if -1) to the channel's stdin, and its stdout
 * and stderr to OUT_FD and ERR_FD, until the remote side closes. Then as
 * sl_ssh_finish().
 */
int sl_ssh_pump(struct sl_ssh_chan *c, int in_fd, int out_fd, int err_fd,
		struct sl_err *err);

/*
 * Drains what is left, waits for the remote command to end, frees C, and
 * returns its exit status: its own code, or 128+n if signal n killed it
 * (111 when the node's sshd did not name the signal: OpenSSH names only
 * RFC 4254's HUP INT QUIT ILL ABRT FPE KILL SEGV PIPE ALRM TERM USR1 USR2;
 * 255, ssh's own failure code, becomes 111 too). -1 with ERR set when the
 * status could not be had.
 */
int sl_ssh_finish(struct sl_ssh_chan *c, struct sl_err *err);

#endif
