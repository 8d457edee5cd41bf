/* silverlining — sl-app: an app.ini, checked, as KEY=VALUE lines for scripts. */
#include <getopt.h>
#include <stdio.h>

#include "../libsl/app.h"
#include "../libsl/appuser.h"
#include "../libsl/msg.h"
#include "../libsl/version.h"

#define USAGE "sl-app APPDIR | sl-app --user APP | sl-app --name APP"

static void kv(const char *key, const char *value)
{
	if (value)
		printf("%s=%s\n", key, value);
}

static void list(const char *key, const struct sl_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		kv(key, sv->v[i]);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_app app = SL_APP_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf user = SL_BUF_INIT;
	int c;

	sl_msg_init(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
		switch (c) {
		case 'u':
			if (sl_appuser_get(optarg, &user, NULL, NULL, &err) < 0)
				sl_die_err(&err);
			printf("%s\n", user.buf);
			sl_exit_flush();
		case 'n':
			if (!sl_app_name_valid(optarg))
				sl_die(SL_EXIT_USAGE, "invalid app name '%s'", optarg);
			sl_exit_flush();
		case 'h': printf("usage: %s\n", USAGE); sl_exit_flush();
		case 'V': printf("sl-app %s\n", SL_VERSION); sl_exit_flush();
		default: sl_die_option(USAGE, argv, c);
		}
	}
	if (argc - optind != 1)
		sl_die_usage(USAGE);
	c = sl_app_load(&app, argv[optind], &err);
	for (size_t i = 0; i < app.warnings.n; i++)
		sl_warn("%s", app.warnings.v[i]);
	if (c < 0)
		sl_die_err(&err);
	kv("app_name", app.name);
	kv("runner", app.runner);
	kv("platform", app.platform == SL_PLATFORM_PHP ? "php" : "python");
	kv("php_root", app.php_root);
	list("update_fetch", &app.update_fetch);
	kv("health_check", app.health_check);
	kv("default_location", app.default_location);
	for (size_t i = 0; i < app.nservices; i++)
		kv("service", app.services[i].name);
	list("packages", &app.packages);
	kv("config_required", app.config_required ? "true" : "false");
	kv("config_default", app.config_default);
	kv("config_template", app.config_template);
	kv("config_checker", app.config_checker);
	printf("processes=%ld\nthreads=%ld\ntimeout=%ld\nmemory_limit=%ld\n",
	       app.processes, app.threads, app.timeout, app.memory_limit);
	sl_exit_flush();
}
