/* silverlining — nodesets: the app nodes, service nodes and balancer of one deployment. */
#ifndef SL_NODESET_H
#define SL_NODESET_H

#include "buf.h"
#include "err.h"
#include "strv.h"

/*
 * A nodeset is a file on the laptop, ~/.silverlining/nodesets/NAME.ini
 * (NAME a lowercase letter, then up to 30 lowercase letters, digits or
 * dashes), read by ini.h, with one section:
 *
 *   [nodeset]
 *   app = root@203.0.113.10          ; the app nodes, one a line
 *         root@203.0.113.11:2222
 *         web3                       ; a local node's name
 *   service = root@203.0.113.20      ; the service nodes (databases), one
 *             root@203.0.113.21      ;   a line, at most 4: the first is
 *                                    ;   made primary by the first
 *                                    ;   sl-nodeset --db-setup; later the
 *                                    ;   nodes say which is primary
 *   balancer = root@203.0.113.5      ; the one balancer node
 *   check_interval = 2               ; seconds between health checks, 1..60
 *   fall = 3                         ; failed checks before a node is out, 1..10
 *   rise = 2                         ; good checks before it is back, 1..10
 *
 * A node is "[user@]host[:port]" (ssh.h's sl_ssh_addr_parse()) or the
 * name of a local node (sl_node_named()). Two entries are the same node
 * when their hosts (case folded) and ports are: the user does not make
 * another machine.
 *
 * sl_nodeset_load() refuses, with code 100 and "PATH:LINE: ...": a key
 * outside [nodeset], a key given twice, a second balancer (a continuation
 * line of balancer included), the same node twice in app or in service,
 * a node in two roles (app, service, balancer: each needs a node of its
 * own), a fifth service node, a bad address, a number out of its range or
 * continued over lines; and, naming PATH alone, a file with no app node
 * (no app key: "PATH: ..."; an app key with no node: "PATH:LINE: ...").
 * Unknown keys and other sections are warnings ("PATH:LINE: ...") the
 * tool prints. An unreadable file is 100 (111 for an I/O error).
 */
struct sl_nodeset {
	char *name;		/* the file's name without ".ini" */
	struct sl_strv app;	/* the app nodes' addresses: as written, or
				   root@IP for a local node's name */
	struct sl_strv service;	/* the service nodes, likewise; none when
				   the apps' databases are on the app nodes */
	char *balancer;		/* likewise; NULL when there is none */
	int check_interval;	/* seconds; default 2 */
	int fall;		/* default 3 */
	int rise;		/* default 2 */
	struct sl_strv warnings;
};
#define SL_NODESET_INIT { NULL, SL_STRV_INIT, SL_STRV_INIT, NULL, 2, 3, 2, SL_STRV_INIT }

/* The most service nodes a nodeset lists: a primary and its standbys. */
#define SL_NODESET_MAX_SERVICE 4

/* Reads PATH into NS (released first). 0, or -1 with ERR. */
int sl_nodeset_load(struct sl_nodeset *ns, const char *path,
		    struct sl_err *err);

void sl_nodeset_release(struct sl_nodeset *ns);

/*
 * ~/.silverlining/nodesets/NAME.ini into OUT (reset first). -1 with ERR
 * (100) for an invalid NAME or when there is no home directory.
 */
int sl_nodeset_path(const char *name, struct sl_buf *out, struct sl_err *err);

/*
 * A local node (sl-node(1), silver create-node) by NAME: "root@IP" into
 * OUT (reset first) from ${SL_LOCAL:-/var/lib/silverlining-local}/nodes/
 * NAME/ip. Returns 1 when NAME is a local node, 0 when it is not (NAME is
 * not a local node's name, ^[a-z][a-z0-9-]{0,9}$, or no such node was
 * made: the state directory is not touched for other names), -1 with ERR
 * (111) when the node's directory is there but its address cannot be read
 * or is not an IPv4 address (a node being made or destroyed).
 */
int sl_node_named(const char *name, struct sl_buf *out, struct sl_err *err);

/*
 * A node as a user names it (--node, a nodeset's line) into the address
 * to reach it, in OUT (reset first): a local node's name gives "root@IP"
 * (a local node wins over a host of the same name: "web3" is the local
 * node even when DNS knows a web3), anything else must be a valid
 * "[user@]host[:port]" and is copied as given. 0, or -1 with ERR: 100 for
 * an invalid address, 111 from sl_node_named().
 */
int sl_node_resolve(const char *text, struct sl_buf *out, struct sl_err *err);

#endif
