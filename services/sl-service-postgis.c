/* silverlining — sl-service-postgis: PostgreSQL with PostGIS for apps (SPEC.md "Services"). */
#include "db.h"

static int devel_env(const char *app, const struct sl_devconf *dc,
		     struct sl_strv *vars, struct sl_err *err)
{
	return sl_db_devel_env(&sl_db_postgresql, app, dc, vars, err);
}

static const struct sl_service postgis = {
	"postgis", "postgis", sl_db_devel_keys, 1, devel_env,
};

int main(int argc, char **argv)
{
	return sl_service_main(argc, argv, &postgis);
}
