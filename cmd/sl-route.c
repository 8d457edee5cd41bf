/* silverlining — sl-route: locations parsed, and the node's routes asked. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../libsl/instance.h"
#include "../libsl/location.h"
#include "../libsl/msg.h"
#include "../libsl/node.h"
#include "../libsl/route.h"
#include "../libsl/strv.h"
#include "../libsl/version.h"

#define USAGE "sl-route [-q] LOCATION | sl-route --parse [--prev] [--https] LOCATION ..." \
	" | sl-route --match HOST PATH | sl-route --list | sl-route --instances [APP ...]"

/* "HOST PATH" for each location, printed only once all are good. */
static void parse(char **locs, int flags)
{
	struct sl_location loc = SL_LOCATION_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf out = SL_BUF_INIT;

	for (; *locs; locs++) {
		if (sl_location_parse(*locs, flags, &loc, &err) < 0)
			sl_die_err(&err);
		sl_buf_addf(&out, "%s %s\n", loc.host, loc.path);
	}
	fputs(out.buf, stdout);
	sl_buf_release(&out);
	sl_location_release(&loc);
}

/* The node's table, printed whole or the route HOST PATH reaches. */
static void table(const char *host, const char *path)
{
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf file = SL_BUF_INIT;
	const struct sl_route *m;

	sl_node_path(&file, "routes");
	if (sl_routes_load(file.buf, &r, &err) < 0)
		sl_die_err(&err);
	for (size_t i = 0; !host && i < r.n; i++)
		printf("%s %s %s\n", r.v[i].host, r.v[i].path, r.v[i].instance);
	if (host && !(m = sl_routes_match(&r, host, path)))
		sl_die(SL_EXIT_NO, "no route takes %s%s", host, path);
	if (host)
		printf("%s %s %s\n", m->host, m->path, m->instance);
}

/* The instances in ROOT/instances, of the APPS when there are some. */
static void instances(char **apps)
{
	struct sl_strv names = SL_STRV_INIT;
	struct sl_err err = SL_ERR_INIT;

	do {
		if (sl_instance_list(*apps, &names, &err) < 0)
			sl_die_err(&err);
	} while (*apps && *++apps);
	for (size_t i = 0; i < names.n; i++)
		puts(names.v[i]);
	sl_strv_clear(&names);
}

/* The instance routed exactly at LOCATION; QUIET: a silent 1 when none. */
static void at(const char *location, int quiet)
{
	struct sl_buf inst = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	int found = sl_routes_instance_at(location, &inst, &err);

	if (found < 0)
		sl_die_err(&err);
	if (!found && quiet)
		exit(SL_EXIT_NO);
	if (!found)
		sl_die(SL_EXIT_NO, "nothing is mapped at %s", location);
	puts(inst.buf);
	sl_buf_release(&inst);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "parse", no_argument, NULL, 'p' },
		{ "prev", no_argument, NULL, 'P' },
		{ "https", no_argument, NULL, 'S' },
		{ "match", no_argument, NULL, 'm' },
		{ "list", no_argument, NULL, 'l' },
		{ "instances", no_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int mode = 0, flags = 0, quiet = 0, c, n;

	sl_msg_init(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:q", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': case 'm': case 'l': case 'i':
			if (mode)
				sl_die_usage(USAGE);
			mode = c;
			break;
		case 'P': flags |= SL_LOC_PREV; break;
		case 'S': flags |= SL_LOC_HTTPS; break;
		case 'q': quiet = 1; break;
		case 'h': printf("usage: %s\n", USAGE); sl_exit_flush();
		case 'V': printf("sl-route %s\n", SL_VERSION); sl_exit_flush();
		default: sl_die_option(USAGE, argv, c);
		}
	}
	n = argc - optind;
	if ((flags && mode != 'p') || (quiet && mode) ||
	    (mode == 'p' ? n < 1 : mode == 'm' ? n != 2 : mode == 'l' ? n != 0 :
	     mode == 'i' ? 0 : n != 1))
		sl_die_usage(USAGE);
	switch (mode) {
	case 'p': parse(argv + optind, flags); break;
	case 'm': table(argv[optind], argv[optind + 1]); break;
	case 'l': table(NULL, NULL); break;
	case 'i': instances(argv + optind); break;
	default: at(argv[optind], quiet);
	}
	sl_exit_flush();
}
