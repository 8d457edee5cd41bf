/* silverlining — sl-service-mysql: MySQL (MariaDB) for apps (doc/SPEC.md "Services"). */
#include "../libsl/service-db.h"
#include "../libsl/service-my.h"

static int devel_env(const char *app, const struct sl_devconf *dc,
		     struct sl_strv *vars, struct sl_err *err)
{
	return sl_service_db_devel_env(&sl_service_db_mysql, app, dc, vars, err);
}

static const struct sl_service mysql = {
	.name = "mysql", .devel_prefix = "mysql", .devel_keys = sl_service_db_devel_keys, .db_names = 1,
	.devel_env = devel_env, .install = sl_service_my_install, .setup = sl_service_my_setup,
	.env = sl_service_my_env, .backup = sl_service_my_backup, .restore = sl_service_my_restore, .check = sl_service_my_check,
	.clear = sl_service_my_clear, .verify = sl_service_my_verify,
};

int main(int argc, char **argv)
{
	return sl_service_main(argc, argv, &mysql);
}
