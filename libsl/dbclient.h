/* silverlining — an app node told where its databases are (sl-dbnode --client). */
#ifndef SL_DBCLIENT_H
#define SL_DBCLIENT_H

#include <stddef.h>

#include "err.h"
#include "strv.h"

/*
 * An app node keeps the record of its service nodes' servers
 * (dbrecord.h); the database services' node verbs read it (their "remote
 * mode"). sl_dbclient_apply() takes a record TEXT of LEN bytes, as a
 * primary's `sl-dbnode --record` printed it, and makes it the node's:
 *
 *   - TEXT is parsed whole first (100 and nothing changed when it does
 *     not parse);
 *   - merged by section: a section TEXT has replaces the node's, a
 *     section TEXT lacks keeps the node's;
 *   - no package is installed here: the clients of a server come with
 *     the first app that uses it (its service's install verb, in remote
 *     mode, installs the client alone), and an app node whose apps use
 *     no MariaDB gets none of it;
 *   - stored (sl_dbrecord_store(): remote.ini 0600, the certificates 0644).
 *
 * LOCATIONS gets one location (as sl_location_parse() reads it) per
 * instance that serves a location (prev.* aside) and whose app.ini
 * declares a service of a section that changed (postgis and postgresql
 * for [postgresql], mysql for [mysql]): the instances to activate again
 * (sl-activate --again) so that they are set up with the new server.
 * A section that is the same as the node's changes nothing and lists
 * nothing. 0, or -1 with ERR: 100 for a record that does not parse, 111
 * for the node's own state (a damaged record or route table).
 */
int sl_dbclient_apply(const char *text, size_t len, struct sl_strv *locations,
		      struct sl_err *err);

#endif
