/* silverlining — sl-service-files: a directory the app may write, kept across instances. */
#include "service.h"

static const char *const keys[] = { "dir", NULL };

static int devel_env(const char *app, const struct sl_devconf *dc,
		     struct sl_strv *vars, struct sl_err *err)
{
	return sl_service_devel_dir(app, dc, "files", "CONFIG_FILES", 0700, vars, err);
}

static const struct sl_service files = {
	"files", "files", keys, 0, devel_env,
};

int main(int argc, char **argv)
{
	return sl_service_main(argc, argv, &files);
}
