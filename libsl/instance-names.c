/*
 * silverlining — instance names and the state root: the light part of
 * instance.h, apart from the receiver so that tools which only name
 * instances (sl-env) do not load the receiver's libcrypto.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "instance.h"
#include "mem.h"
#include "strv.h"

const char *sl_instance_root(void)
{
	const char *root = getenv("SL_ROOT");

	return root && *root ? root : "/var/lib/silverlining";
}

int sl_instance_name_valid(const char *name)
{
	const char *dot = strrchr(name, '.');
	char *app;
	int ok;

	if (!dot || strlen(dot + 1) != 14)
		return 0;
	for (int i = 1; i <= 14; i++) {
		char c = dot[i];

		if (i == 5 || i == 8 ? c != '-' : i == 11 ? c != '_' : !isdigit((unsigned char)c))
			return 0;
	}
	app = sl_xstrndup(name, (size_t)(dot - name));
	ok = sl_app_name_valid(app);
	free(app);
	return ok;
}


/* By app, then by the rest: "a.2024..." comes before "a-b.2024...". */
static int by_name(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	size_t nx = (size_t)(strrchr(x, '.') - x), ny = (size_t)(strrchr(y, '.') - y);
	int c = strncmp(x, y, nx < ny ? nx : ny);

	if (c || nx != ny)
		return c ? c : nx < ny ? -1 : 1;
	return strcmp(x + nx, y + ny);
}

int sl_instance_list(const char *app, struct sl_strv *out, struct sl_err *err)
{
	struct sl_buf dir = SL_BUF_INIT;
	size_t first = out->n, len = app ? strlen(app) : 0;
	struct dirent *e;
	DIR *d;

	if (app && !sl_app_name_valid(app))
		return sl_err_set(err, 100, "invalid app name '%s'", app);
	sl_buf_addf(&dir, "%s/instances", sl_instance_root());
	d = opendir(dir.buf);
	if (!d) {
		int ret = errno == ENOENT ? 0 : sl_err_errno(err, "unable to read %s", dir.buf);

		sl_buf_release(&dir);
		return ret;
	}
	while ((errno = 0, e = readdir(d)))
		if (sl_instance_name_valid(e->d_name) &&
		    (!app || (!strncmp(e->d_name, app, len) && e->d_name[len] == '.')))
			sl_strv_push(out, e->d_name);
	if (errno) {
		sl_err_errno(err, "unable to read %s", dir.buf);
		closedir(d);
		sl_buf_release(&dir);
		return -1;
	}
	closedir(d);
	sl_buf_release(&dir);
	qsort(out->v + first, out->n - first, sizeof(*out->v), by_name);
	return 0;
}
