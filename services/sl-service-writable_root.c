/* silverlining — sl-service-writable_root: files served publicly before the app. */
#include "area.h"

static const char *const keys[] = { "dir", NULL };

static int devel_env(const char *app, const struct sl_devconf *dc,
		     struct sl_strv *vars, struct sl_err *err)
{
	return sl_service_devel_dir(app, dc, "writable-root", "CONFIG_WRITABLE_ROOT", 0755, vars, err);
}

static const struct sl_area area = { "writable-root", "CONFIG_WRITABLE_ROOT", 0755 };

static int install(struct sl_err *err)
{
	(void)err;	/* a directory needs no server */
	return 0;
}

static int setup(const struct sl_svc_app *a, struct sl_err *err)
{
	return sl_area_setup(&area, a, err);
}

static int env(const struct sl_svc_app *a, struct sl_strv *vars, struct sl_err *err)
{
	return sl_area_env(&area, a, vars, err);
}

static int backup(const struct sl_svc_app *a, const char *dir, struct sl_err *err)
{
	return sl_area_backup(&area, a, dir, err);
}

static int restore(const struct sl_svc_app *a, const char *dir, struct sl_err *err)
{
	return sl_area_restore(&area, a, dir, err);
}

static int clear(const struct sl_svc_app *a, struct sl_err *err)
{
	return sl_area_clear(&area, a, err);
}

static const struct sl_service writable_root = {
	.name = "writable_root", .devel_prefix = "writable_root", .devel_keys = keys, .db_names = 0,
	.devel_env = devel_env, .install = install, .setup = setup, .env = env,
	.backup = backup, .restore = restore, .clear = clear,
};

int main(int argc, char **argv)
{
	return sl_service_main(argc, argv, &writable_root);
}
