/* silverlining — drives libsl/balancer from the bats suite tests/unit/balancer.bats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../libsl/balancer.h"
#include "../libsl/mem.h"
#include "../libsl/msg.h"

#define USAGE "balancer-test [KEY VALUE | node NAME ADDR PORT | tls HOST HSTS]... | name HOST"

/*
 * The arguments fill a struct sl_render_haproxy, starting from its
 * _INIT: KEY is a field's name (check_interval, fall, rise, check_path,
 * check_host, timeout, port, tls_port, cert_dir, stats_socket, log,
 * server_state_file, acme);
 * each "node" adds one node, each "tls" one TLS host (HSTS 0 or 1). The config goes to stdout; a refused input
 * exits 100 with the library's message. "name HOST" prints
 * sl_balancer_server_name(HOST) instead.
 */
int main(int argc, char **argv)
{
	struct sl_render_haproxy in = SL_RENDER_HAPROXY_INIT;
	struct sl_balancer_node *v = NULL;
	struct sl_balancer_tls *tls = NULL;
	struct sl_buf out = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	const char *texts[] = { "check_path", "check_host", "cert_dir", "stats_socket", "log",
				"server_state_file", "acme" };
	const char **text_at[] = { &in.check_path, &in.check_host, &in.cert_dir,
				   &in.stats_socket, &in.log, &in.server_state_file,
				   &in.acme };
	const char *ints[] = { "check_interval", "fall", "rise", "timeout", "port", "tls_port" };
	int *int_at[] = { &in.check_interval, &in.fall, &in.rise, &in.timeout,
			  &in.port, &in.tls_port };

	sl_msg_init(argv[0]);
	if (argc == 3 && !strcmp(argv[1], "name")) {
		sl_balancer_server_name(argv[2], &out);
		printf("%s\n", out.buf);
		sl_buf_release(&out);
		sl_exit_flush();
	}
	for (int i = 1; i < argc;) {
		size_t k;

		if (!strcmp(argv[i], "node")) {
			if (i + 3 >= argc)
				sl_die_usage(USAGE);
			v = sl_xrealloc(v, (in.n + 1) * sizeof(*v));
			v[in.n++] = (struct sl_balancer_node){ argv[i + 1], argv[i + 2],
							       atoi(argv[i + 3]) };
			i += 4;
			continue;
		}
		if (!strcmp(argv[i], "tls")) {
			if (i + 2 >= argc)
				sl_die_usage(USAGE);
			tls = sl_xrealloc(tls, (in.ntls + 1) * sizeof(*tls));
			tls[in.ntls++] = (struct sl_balancer_tls){ argv[i + 1], atoi(argv[i + 2]) };
			i += 3;
			continue;
		}
		if (i + 1 >= argc)
			sl_die_usage(USAGE);
		for (k = 0; k < sizeof(texts) / sizeof(*texts) && strcmp(argv[i], texts[k]); k++)
			;
		if (k < sizeof(texts) / sizeof(*texts)) {
			*text_at[k] = argv[i + 1];
		} else {
			for (k = 0; k < sizeof(ints) / sizeof(*ints) && strcmp(argv[i], ints[k]); k++)
				;
			if (k == sizeof(ints) / sizeof(*ints))
				sl_die(100, "unknown key %s", argv[i]);
			*int_at[k] = atoi(argv[i + 1]);
		}
		i += 2;
	}
	in.nodes = v;
	in.tls = tls;
	if (sl_render_haproxy(&in, &out, &err) < 0)
		sl_die_err(&err);
	fwrite(out.buf, 1, out.len, stdout);
	free(v);
	free(tls);
	sl_buf_release(&out);
	sl_exit_flush();
}
