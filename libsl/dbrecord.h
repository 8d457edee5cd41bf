/* silverlining — the record of a service node's servers, as its clients keep it. */
#ifndef SL_DBRECORD_H
#define SL_DBRECORD_H

#include <stddef.h>

#include "buf.h"
#include "err.h"
#include "strv.h"

/*
 * A service node (sl-dbnode(8)) serves the databases of the apps of a
 * nodeset. What its clients need to reach it is one record, made by the
 * primary (sl-dbnode --record), carried by the laptop from one SSH channel
 * into another, and kept by every app node (and every standby):
 *
 *   [postgresql]
 *   host = 10.231.0.5            ; the server's address, as the clients reach it
 *   port = 5432
 *   admin = silverlining         ; a superuser role (MariaDB: a user per client,
 *   password = <64 hex>          ;   every privilege, TLS required)
 *   replication = <64 hex>       ; role sl_replicator's password (PostgreSQL only)
 *   seed = <64 hex>              ; the apps' passwords are derived from it
 *   clients = 10.231.0.2 10.231.0.3
 *   cert = -----BEGIN CERTIFICATE-----
 *          MIIC...               ; the server's certificate, pinned by the clients
 *          -----END CERTIFICATE-----
 *   [mysql]
 *   (the same keys but replication)
 *
 * Either section may be absent. Keys are checked: host a host name or an
 * IP literal (no spaces, no quotes), port 1..65535, admin a lowercase
 * identifier, password, replication and seed exactly 64 lowercase hex
 * digits, clients IPv4 literals separated by spaces (continuation lines
 * allowed), cert one or more PEM certificates. A section needs host,
 * port, admin, password, seed and cert; replication is required in
 * [postgresql] and refused in [mysql]. An unknown section or key, a key
 * given twice, anything else is refused with 100 and "WHAT:LINE: ...".
 */
struct sl_dbrecord_server {
	int present;		/* the section was there */
	char *host;
	int port;
	char *admin;
	char *password;
	char *replication;	/* NULL in [mysql] */
	char *seed;
	struct sl_strv clients;
	char *cert;		/* PEM text, lines ending in '\n' */
};

struct sl_dbrecord {
	struct sl_dbrecord_server pg, my;
};
#define SL_DBRECORD_INIT { { 0 }, { 0 } }

/* The kinds, as section names and as derivation labels. */
#define SL_DBRECORD_PG "postgresql"
#define SL_DBRECORD_MY "mysql"

/*
 * TEXT (LEN bytes, NUL bytes refused) into R (released first). WHAT names
 * the text in messages ("the record from root@10.0.0.5"). 0, or -1 with
 * ERR (100).
 */
int sl_dbrecord_parse(struct sl_dbrecord *r, const char *text, size_t len,
		      const char *what, struct sl_err *err);

/* R as text, appended to OUT: what sl_dbrecord_parse() reads back equal. */
void sl_dbrecord_format(const struct sl_dbrecord *r, struct sl_buf *out);

void sl_dbrecord_release(struct sl_dbrecord *r);
void sl_dbrecord_server_release(struct sl_dbrecord_server *s);

/*
 * The app node's copy: ROOT/services/remote.ini (0600, root's; ROOT/services
 * 0755) and each present server's certificate as ROOT/services/KIND.pem
 * (0644: the apps' clients read it to check the server).
 *
 * sl_dbrecord_load(): 1 with R filled, 0 when the node has no record (R
 * empty: every service is local), -1 with ERR (a record that does not
 * parse: 111, the node's own file is damaged).
 * sl_dbrecord_store(): R written whole (each file to a temporary name,
 * renamed into place); a kind absent from R has its .pem removed. 0, or -1.
 */
int sl_dbrecord_load(struct sl_dbrecord *r, struct sl_err *err);
int sl_dbrecord_store(const struct sl_dbrecord *r, struct sl_err *err);

/* ROOT/services/KIND.pem into OUT (reset first). */
void sl_dbrecord_cert_path(struct sl_buf *out, const char *kind);

/*
 * An app's password on a remote server: HMAC-SHA256 keyed with the
 * server's seed (its 64 hex digits as text) of "KIND:APP", as 64
 * lowercase hex digits, into OUT (reset first). Every app node derives
 * the same password, and no one without the seed can.
 */
void sl_dbrecord_app_password(const struct sl_dbrecord_server *s, const char *kind,
			      const char *app, struct sl_buf *out);

#endif
