/* silverlining — a service node's database servers: primary, standby, failover. */
#ifndef SL_DBNODE_H
#define SL_DBNODE_H

#include <stddef.h>

#include "buf.h"
#include "err.h"
#include "strv.h"

/*
 * A service node (sl-dbnode(1)) serves the databases of a nodeset's apps:
 * PostgreSQL 15 with PostGIS 3, either the primary or a streaming standby
 * of one, and MariaDB. Its state is ROOT/dbnode (0700, root's):
 *
 *   admin.password        role silverlining's password (SUPERUSER LOGIN)
 *   replication.password  role sl_replicator's (REPLICATION LOGIN)
 *   pg.seed, my.seed      the seeds of the apps' passwords (dbrecord.h)
 *   my.password           MariaDB's user silverlining's password
 *   role                  "primary" or "standby"
 *   upstream              a standby's primary, as its record named it
 *   clients, peers        the addresses last given, one a line
 *   fenced                present: PostgreSQL is kept stopped
 *
 * the secrets 64 hex digits, made once (0600). The PostgreSQL roles are
 * replicated, so a standby takes the primary's passwords and seed as its
 * own: promoted, it hands out the same ones. MariaDB is not replicated.
 *
 * Every function but sl_dbnode_state() takes the node's dbnode lock
 * (ROOT/locks/_dbnode, waiting at most 10 minutes: 99 after that) and
 * returns 0, or -1 with ERR set: 100 refused, 111 a server or the system
 * failed, 1 nothing to do. Output of the programs run (apt-get,
 * pg_basebackup, systemctl) goes to stderr.
 */

/* Is S an IPv4 literal (what --client and --peer take)? */
int sl_dbnode_ipv4_ok(const char *s);

/* Is S a WAL location as PostgreSQL writes it (hex "X/X")? */
int sl_dbnode_lsn_ok(const char *s);

/*
 * --primary: the servers installed and configured for CLIENTS (the app
 * nodes) and PEERS (the other service nodes, which may stream from this
 * one), the roles and a replication slot per peer made. Refused (100) on
 * a standby or a fenced node. Idempotent; the role becomes primary.
 */
int sl_dbnode_primary(const struct sl_strv *clients, const struct sl_strv *peers,
		      struct sl_err *err);

/*
 * --standby: configured as --primary, then, unless PostgreSQL already
 * streams from the host of the record TEXT (LEN bytes, a primary's
 * --record), its cluster is copied from there again (pg_basebackup) and
 * started as a standby, waited for until it streams (30 s). The previous
 * cluster is kept aside as /var/lib/postgresql/15/main.aside until the next
 * copy, and put back if the copy fails. *SECONDS is the copy's time, or -1
 * when none was needed. Refused (100) on a primary that is not fenced.
 */
int sl_dbnode_standby(const struct sl_strv *clients, const struct sl_strv *peers,
		      const char *text, size_t len, double *seconds, struct sl_err *err);

/* --record: the node's record (dbrecord.h) appended to OUT; a primary's only. */
int sl_dbnode_record(struct sl_buf *out, struct sl_err *err);

/* --state: the lines of sl-dbnode(1) "--state", appended to OUT. */
int sl_dbnode_state(struct sl_buf *out, struct sl_err *err);

/*
 * --fence: PostgreSQL stopped and kept stopped (the fenced mark, checked by
 * its unit's ExecCondition). The last checkpoint's location into LSN
 * (reset first).
 */
int sl_dbnode_fence(struct sl_buf *lsn, struct sl_err *err);

/*
 * --promote: waits at most WAIT seconds for the standby to have replayed
 * MIN_LSN (NULL: no wait), then promotes it; behind, refused (100) unless
 * FORCE. *TIMELINE is the new timeline, *SECONDS pg_promote()'s own time.
 */
int sl_dbnode_promote(const char *min_lsn, int wait, int force, long *timeline,
		      double *seconds, struct sl_err *err);

#endif
