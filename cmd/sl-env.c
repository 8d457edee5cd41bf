/* silverlining — sl-env: compute an app's environment; print it or run in it. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../libsl/app.h"
#include "../libsl/appenv.h"
#include "../libsl/msg.h"
#include "../libsl/quote.h"
#include "../libsl/run.h"
#include "../libsl/version.h"

#define USAGE "sl-env [-0] [--config DIR] [--node] APPDIR [-- COMMAND [ARG...]]"

extern char **environ;

static void print_exports(const struct sl_strv *vars)
{
	struct sl_buf line = SL_BUF_INIT;

	for (size_t i = 0; i < vars->n; i++) {
		const char *eq = strchr(vars->v[i], '=');

		sl_buf_reset(&line);
		sl_buf_addf(&line, "export %.*s=", (int)(eq - vars->v[i]),
			    vars->v[i]);
		sl_quote_sh(&line, eq + 1);
		puts(line.buf);
	}
	sl_buf_release(&line);
}

static void print_nul(const struct sl_strv *vars)
{
	for (size_t i = 0; i < vars->n; i++)
		fwrite(vars->v[i], 1, strlen(vars->v[i]) + 1, stdout);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "node", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_appenv_opts opts = SL_APPENV_OPTS_INIT;
	struct sl_app app = SL_APP_INIT;
	struct sl_strv vars = SL_STRV_INIT, env = SL_STRV_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf self = SL_BUF_INIT;
	char **command;
	int nul = 0, c;

	sl_msg_init(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:0", longopts, NULL)) != -1) {
		switch (c) {
		case '0': nul = 1; break;
		case 'c': opts.config_dir = optarg; break;
		case 'N': opts.mode = SL_APPENV_NODE; break;
		case 'h': printf("usage: %s\n", USAGE); sl_exit_flush();
		case 'V': printf("sl-env %s\n", SL_VERSION); sl_exit_flush();
		default: sl_die_option(USAGE, argv, c);
		}
	}
	if (optind >= argc)
		sl_die_usage(USAGE);
	command = argv + optind + 1;
	if (*command && !strcmp(*command, "--"))
		command++;
	if (nul && *command)
		sl_die(SL_EXIT_USAGE, "-0 prints the environment; it takes no command");

	c = sl_app_load(&app, argv[optind], &err);
	/* the warnings first: "section [prodution] is not used" explains an error */
	for (size_t i = 0; i < app.warnings.n; i++)
		sl_warn("%s", app.warnings.v[i]);
	if (c < 0)
		sl_die_err(&err);
	if (sl_run_exe_dir(&self) == 0)
		opts.service_dir = self.buf;
	if (sl_appenv_compute(&app, &opts, &vars, &err) < 0)
		sl_die_err(&err);

	if (!*command) {
		if (nul)
			print_nul(&vars);
		else
			print_exports(&vars);
		sl_exit_flush();
	}
	sl_appenv_merge(&env, environ, &vars);
	sl_run_exec(command, env.v, &err);
	sl_die_err(&err);
}
