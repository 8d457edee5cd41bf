/* silverlining — sl-cert: the node's certificates, installed, listed, issued, renewed. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../libsl/acme.h"
#include "../libsl/msg.h"
#include "../libsl/node.h"
#include "../libsl/switch.h"
#include "../libsl/tls.h"
#include "../libsl/version.h"

#define USAGE "sl-cert install | list | status [HOST ...] | remove NAME | " \
	"issue [--acme-directory URL] [--acme-email ADDR] [--force] HOST ... | " \
	"renew [--force] [HOST ...]"
#define NODE_LOCK_WAIT 600


static int lock(void)
{
	struct sl_err err = SL_ERR_INIT;
	int fd = sl_node_lock(NULL, NODE_LOCK_WAIT, &err);

	if (fd < 0)
		sl_die_err(&err);
	return fd;
}

/* nginx's text rendered again from the routes and the live links. */
static void rerender(void)
{
	struct sl_switch sw = SL_SWITCH_INIT;
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_err err = SL_ERR_INIT;

	sw.say = sl_say_stderr;
	if (sl_switch_load(&r, &err) < 0 || sl_switch_again(&sw, &r, &err) < 0)
		sl_die_err(&err);
	sl_routes_release(&r);
}

static void routed(struct sl_strv *hosts)
{
	struct sl_err err = SL_ERR_INIT;

	if (sl_tls_routed_hosts(hosts, &err) < 0)
		sl_die_err(&err);
}

static void day(char *out, size_t n, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%d", &tm);
}

static void install(void)
{
	struct sl_tls_cert c = SL_TLS_CERT_INIT;
	struct sl_strv hosts = SL_STRV_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf pem = SL_BUF_INIT;
	int serves = 0;
	char d[16];

	if (sl_buf_read_fd(&pem, 0) < 0)
		sl_die_errno("unable to read the certificate from stdin");
	lock();
	if (sl_tls_install(pem.buf, pem.len, &c, &err) < 0)
		sl_die_err(&err);
	routed(&hosts);
	for (size_t i = 0; i < hosts.n; i++)
		serves |= sl_tls_covers(&c, hosts.v[i]);
	if (serves)
		rerender();
	day(d, sizeof(d), c.not_after);
	printf("%s ", c.name);
	for (size_t i = 0; i < c.hosts.n; i++)
		printf("%s%s", i ? "," : "", c.hosts.v[i]);
	printf(" expires=%s\n", d);
	sl_exit_flush();
}

static void list(void)
{
	struct sl_tls_cert *v;
	struct sl_err err = SL_ERR_INIT;
	size_t n;
	char d[16];

	if (sl_tls_list(&v, &n, &err) < 0)
		sl_die_err(&err);
	for (size_t i = 0; i < n; i++) {
		day(d, sizeof(d), v[i].not_after);
		printf("%s %s expires=%s ", v[i].name, v[i].user ? "user" : "acme", d);
		for (size_t j = 0; j < v[i].hosts.n; j++)
			printf("%s%s", j ? "," : "", v[i].hosts.v[j]);
		putchar('\n');
	}
	sl_exit_flush();
}

static void status(char **names)
{
	struct sl_strv hosts = SL_STRV_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf out = SL_BUF_INIT;

	if (*names)
		sl_strv_pushv(&hosts, names);
	else
		routed(&hosts);
	if (sl_tls_status_lines(&hosts, time(NULL), &out, &err) < 0)
		sl_die_err(&err);
	fputs(out.buf, stdout);
	sl_exit_flush();
}

static void remove_cert(const char *name)
{
	struct sl_strv hosts = SL_STRV_INIT;
	struct sl_err err = SL_ERR_INIT;
	int ret;

	lock();
	ret = sl_tls_remove(name, &err);
	if (ret < 0)
		sl_die_err(&err);
	if (ret > 0)
		sl_die(SL_EXIT_NO, "no certificate %s a user installed", name);
	routed(&hosts);
	if (hosts.n)
		rerender();
	sl_exit_flush();
}

/*
 * issue and renew: sl_acme_ensure for each host; renew only hosts the
 * routes serve over https. A failed renewal of a certificate still
 * serving is a failure too (111). One re-render at the end. The caller
 * holds the node's lock.
 */
static void ensure(const struct sl_acme *a, char **names, int renew)
{
	struct sl_strv hosts = SL_STRV_INIT, todo = SL_STRV_INIT;
	struct sl_tls_state s = SL_TLS_STATE_INIT;
	struct sl_err err = SL_ERR_INIT;
	time_t start = time(NULL);
	int changed = 0, one, code = 0;

	if (renew)
		routed(&hosts);
	for (char **h = names; *h; h++) {
		size_t i = 0;

		while (renew && i < hosts.n && strcmp(hosts.v[i], *h))
			i++;
		if (renew && i == hosts.n)
			sl_warn("%s: no route serves it over https: not renewed", *h);
		else
			sl_strv_push(&todo, *h);
	}
	if (renew && !*names)
		sl_strv_pushv(&todo, hosts.v);
	for (size_t i = 0; i < todo.n; i++) {
		if (sl_acme_ensure(a, todo.v[i], &one, &err) < 0) {
			if (!renew) {
				if (changed)
					rerender();
				sl_die_err(&err);
			}
			sl_warn("%s", err.msg.buf);
			code = code ? code : err.code;
			continue;
		}
		changed |= one;
		if (sl_tls_state_load(todo.v[i], &s, &err) == 0 &&
		    s.failures && s.last >= start)
			code = code ? code : SL_EXIT_TEMP;
	}
	if (changed)
		rerender();
	sl_tls_state_release(&s);
	if (code)
		exit(code);
	sl_exit_flush();
}

/* uacme's hook: METHOD TYPE IDENT TOKEN AUTH. */
static void hook(char **argv)
{
	struct sl_err err = SL_ERR_INIT;
	int ret = sl_acme_hook(argv[0], argv[1], argv[2], argv[3], argv[4], &err);

	if (ret < 0)
		sl_die_err(&err);
	exit(ret);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "acme-directory", required_argument, NULL, 'd' },
		{ "acme-email", required_argument, NULL, 'e' },
		{ "force", no_argument, NULL, 'f' },
		{ "hook", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_acme a = SL_ACME_INIT;
	struct sl_err err = SL_ERR_INIT;
	const char *verb;
	int c, n, ishook = 0;

	sl_msg_init(argv[0]);
	sl_node_env();
	/* uacme runs its hook with five arguments and no way to add a word */
	if (argc == 6 && (!strcmp(argv[1], "begin") || !strcmp(argv[1], "done") ||
			  !strcmp(argv[1], "failed")))
		hook(argv + 1);
	a.say = sl_say_stderr;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': a.directory = optarg; break;
		case 'e': a.email = optarg; break;
		case 'f': a.force = 1; break;
		case 'H': ishook = 1; break;
		case 'h': printf("usage: %s\n", USAGE); sl_exit_flush();
		case 'V': printf("sl-cert %s\n", SL_VERSION); sl_exit_flush();
		default: sl_die_option(USAGE, argv, c);
		}
	}
	if (ishook && argc - optind == 5)
		hook(argv + optind);
	if (ishook || optind == argc)
		sl_die_usage(USAGE);
	verb = argv[optind++];
	/* the verb's own options (issue, renew) */
	while ((c = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': a.directory = optarg; break;
		case 'e': a.email = optarg; break;
		case 'f': a.force = 1; break;
		default: sl_die_option(USAGE, argv, c);
		}
	}
	n = argc - optind;
	if ((a.directory || a.email) && strcmp(verb, "issue"))
		sl_die_usage(USAGE);
	if (a.force && strcmp(verb, "issue") && strcmp(verb, "renew"))
		sl_die_usage(USAGE);
	if (!strcmp(verb, "install") && n == 0)
		install();
	if (!strcmp(verb, "list") && n == 0)
		list();
	if (!strcmp(verb, "status"))
		status(argv + optind);
	if (!strcmp(verb, "remove") && n == 1)
		remove_cert(argv[optind]);
	if (!strcmp(verb, "issue") && n > 0) {
		lock();
		if (sl_acme_configure(a.directory, a.email, &err) < 0)
			sl_die_err(&err);
		ensure(&a, argv + optind, 0);
	}
	if (!strcmp(verb, "renew") && lock() >= 0)
		ensure(&a, argv + optind, 1);
	sl_die_usage(USAGE);
}
