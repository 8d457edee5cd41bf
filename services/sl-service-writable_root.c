/* silverlining — sl-service-writable_root: files served publicly before the app. */
#include "service.h"

static const char *const keys[] = { "dir", NULL };

static int devel_env(const char *app, const struct sl_devconf *dc,
		     struct sl_strv *vars, struct sl_err *err)
{
	return sl_service_devel_dir(app, dc, "writable-root", "CONFIG_WRITABLE_ROOT", 0755, vars, err);
}

static const struct sl_service writable_root = {
	"writable_root", "writable_root", keys, 0, devel_env,
};

int main(int argc, char **argv)
{
	return sl_service_main(argc, argv, &writable_root);
}
