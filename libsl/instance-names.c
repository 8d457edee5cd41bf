/*
 * silverlining — instance names and the state root: the light part of
 * instance.h, apart from the receiver so that tools which only name
 * instances (sl-env) do not load the receiver's libcrypto.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "instance.h"
#include "mem.h"

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

