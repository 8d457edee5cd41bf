/* silverlining — the Unix user each app runs as on a node, and who owns it. */
#include <errno.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <string.h>

#include "app.h"
#include "appuser.h"
#include "exit.h"

#define HASH_CHARS (SL_APPUSER_MAX - 3)	/* after "sl-": 29 x 5 = 145 bits */

int sl_appuser_name(const char *app, struct sl_buf *out, struct sl_err *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	sl_buf_reset(out);
	if (!sl_app_name_valid(app))
		return sl_err_set(err, SL_EXIT_USAGE, "invalid app name '%s'", app);
	sl_buf_addf(out, "sl-%s", app);
	if (out->len <= SL_APPUSER_MAX)
		return 0;
	if (!EVP_Digest(app, strlen(app), md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen * 8 < HASH_CHARS * 5)
		return sl_err_set(err, SL_EXIT_TEMP, "unable to compute SHA-256");
	sl_buf_reset(out);
	sl_buf_adds(out, "sl-");
	for (size_t i = 0; i < HASH_CHARS; i++) {
		size_t bit = i * 5;
		unsigned v = (unsigned)md[bit / 8] << 8 |
			(bit / 8 + 1 < mdlen ? md[bit / 8 + 1] : 0);

		sl_buf_addch(out, "abcdefghijklmnopqrstuvwxyz234567"
			     [(v >> (11 - bit % 8)) & 31]);
	}
	return 0;
}

int sl_appuser_check(const char *app, const char *user, const char *gecos,
		     struct sl_err *err)
{
	size_t plen = strlen(SL_APPUSER_GECOS), n = strcspn(gecos, ",");

	if (n == plen + strlen(app) && !strncmp(gecos, SL_APPUSER_GECOS, plen) &&
	    !strncmp(gecos + plen, app, n - plen))
		return 0;
	if (n > plen && !strncmp(gecos, SL_APPUSER_GECOS, plen))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "the user %s of app %s belongs to app %.*s: two apps never share a user",
				  user, app, (int)(n - plen), gecos + plen);
	return sl_err_set(err, SL_EXIT_USAGE,
			  "the user %s of app %s exists but is not recorded as app %s's "
			  "(its GECOS is '%.*s'); if it is the app's, record that with "
			  "usermod -c '" SL_APPUSER_GECOS "%s' %s",
			  user, app, app, (int)n, gecos, app, user);
}

int sl_appuser_get(const char *app, struct sl_buf *user, uid_t *uid,
		   gid_t *gid, struct sl_err *err)
{
	struct passwd *pw;

	if (uid)
		*uid = (uid_t)-1;
	if (gid)
		*gid = (gid_t)-1;
	if (sl_appuser_name(app, user, err) < 0)
		return -1;
	errno = 0;
	pw = getpwnam(user->buf);
	if (!pw) {
		if (errno == 0 || errno == ENOENT || errno == ESRCH ||
		    errno == EBADF || errno == EPERM)
			return 0;	/* getpwnam(3): all of these say "no such user" */
		return sl_err_set(err, SL_EXIT_TEMP, "unable to look up the user %s: %s",
				  user->buf, strerror(errno));
	}
	if (sl_appuser_check(app, user->buf, pw->pw_gecos ? pw->pw_gecos : "", err) < 0)
		return -1;
	if (uid)
		*uid = pw->pw_uid;
	if (gid)
		*gid = pw->pw_gid;
	return 1;
}
