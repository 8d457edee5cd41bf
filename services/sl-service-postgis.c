/* silverlining — sl-service-postgis: PostgreSQL with PostGIS for apps (doc/SPEC.md "Services"). */
#include "../libsl/service-db.h"
#include "../libsl/service-pg.h"

static int devel_env(const char *app, const struct sl_devconf *dc,
		     struct sl_strv *vars, struct sl_err *err)
{
	return sl_service_db_devel_env(&sl_service_db_postgresql, app, dc, vars, err);
}

static int install(struct sl_err *err) { return sl_service_pg_install(1, err); }

static int setup(const struct sl_service_app *a, struct sl_err *err)
{
	return sl_service_pg_setup(a, 1, err);
}

static int backup(const struct sl_service_app *a, const char *dir, struct sl_err *err)
{
	return sl_service_pg_backup(a, 1, dir, err);
}

static int restore(const struct sl_service_app *a, const char *dir, struct sl_err *err)
{
	return sl_service_pg_restore(a, 1, dir, err);
}

static int clear(const struct sl_service_app *a, struct sl_err *err)
{
	return sl_service_pg_clear(a, 1, err);
}

static int verify(const struct sl_service_app *a, const char *dir, struct sl_strv *report,
		  struct sl_err *err)
{
	return sl_service_pg_verify(a, 1, dir, report, err);
}

static const struct sl_service postgis = {
	.name = "postgis", .devel_prefix = "postgis", .devel_keys = sl_service_db_devel_keys, .db_names = 1,
	.devel_env = devel_env, .install = install, .setup = setup, .env = sl_service_pg_env,
	.backup = backup, .restore = restore, .check = sl_service_pg_check, .clear = clear,
	.verify = verify,
};

int main(int argc, char **argv)
{
	return sl_service_main(argc, argv, &postgis);
}
