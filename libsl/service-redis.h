/* silverlining — Redis for apps: one redis-server per app. */
#ifndef SL_SERVICE_REDIS_H
#define SL_SERVICE_REDIS_H

#include "service.h"

/*
 * No server is shared: each app that asks for service.redis has its own
 * redis-server, in the unit sl-redis@APP.service (the template
 * /etc/systemd/system/sl-redis@.service, root's), run as the app's own
 * Unix user, hardened, listening on no TCP port (port 0) and only on the
 * socket /run/sl-redis/APP/redis.sock (its directory 0700, the app's
 * user's). Debian's shared redis-server.service is stopped, disabled and
 * masked.
 *
 * Its records, in ROOT/apps/APP: redis.password (sl_service_secret:
 * 0640, root and the app's group), redis.conf (the same modes: it holds
 * requirepass), and the data directory redis/ (0700, the app's user's:
 * the data is the app's, as its files area is), where the server keeps
 * dump.rdb. What root opens is root's (the config, a backup's part);
 * every file in redis/ is read and written by a process of the app's
 * user, never by root.
 *
 * The value of service.redis (SL_SERVICE_VALUE) is empty, or words
 * "maxmemory=MiB" and "policy=NAME" (a maxmemory-policy of Redis):
 * 64 MiB and noeviction when not given (a queue must not lose jobs
 * without a word: when full, a write fails).
 */

#define SL_REDIS_MAXMEMORY 64		/* MiB */
#define SL_REDIS_POLICY "noeviction"

struct sl_redis_value {
	unsigned long maxmemory;	/* MiB, 1 .. 1048576 */
	const char *policy;		/* static */
};
#define SL_REDIS_VALUE_INIT { SL_REDIS_MAXMEMORY, SL_REDIS_POLICY }

/*
 * Parses VALUE (NULL or blank: the defaults) into V. 0, or -1 with ERR
 * (100) naming the word that is wrong and what is wanted.
 */
int sl_redis_value_parse(const char *value, struct sl_redis_value *v, struct sl_err *err);

/* The whole service: sl-service-redis's main calls this. */
int sl_service_redis_main(int argc, char **argv);

#endif
