/*
 * silverlining — fuzzing the app.ini parser (libsl/app.c, libsl/ini.c).
 * An app.ini it accepts must give a model its own rules accept.
 */
#include <stdlib.h>
#include <string.h>

#include "../libsl/app.h"
#include "fuzz.h"

/*
 * Whether relative path P leaves the app: absolute, or a ".." part. In a
 * runner, FILE.py#NAME, the path ends at '#'; in every other path '#' is
 * a character like any other ("..#x" is a name, not "..").
 */
static int leaves(const char *p, int runner)
{
	if (*p == '/')
		return 1;
	for (; *p; p += strcspn(p, "/"), p += *p == '/')
		if (!strncmp(p, "..", 2) &&
		    (p[2] == '/' || p[2] == '\0' || (runner && p[2] == '#')))
			return 1;
	return 0;
}

static void check(const struct sl_app *app)
{
	if (!app->name || !sl_app_name_valid(app->name) ||
	    app->processes < 1 || app->processes > 64 ||
	    app->threads < 1 || app->threads > 64 ||
	    app->timeout < 1 || app->timeout > 3600 ||
	    app->memory_limit < 16 || app->memory_limit > 65536)
		abort();
	if ((app->runner && leaves(app->runner, 1)) ||
	    (app->php_root && leaves(app->php_root, 0)) ||
	    (app->config_default && leaves(app->config_default, 0)) ||
	    (app->config_template && leaves(app->config_template, 0)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_app app = SL_APP_INIT;
	struct sl_err err = SL_ERR_INIT;
	const char *dir = fuzz_dir();

	fuzz_write(dir, "app.ini", data, size);
	if (sl_app_load(&app, dir, &err) == 0)
		check(&app);
	sl_app_release(&app);
	sl_err_release(&err);
	return 0;
}
