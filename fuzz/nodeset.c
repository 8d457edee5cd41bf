/*
 * silverlining — fuzzing the nodeset parser (libsl/nodeset.c, libsl/ini.c)
 * and the balancer's renderer it feeds (libsl/balancer.c). A nodeset it
 * accepts must hold what its rules promise, and the haproxy.cfg rendered
 * from it must have one line per server and nothing a node's address
 * could add: a byte HAProxy would read another way is refused, never
 * written.
 */
#include <stdlib.h>
#include <string.h>

#include "../libsl/balancer.h"
#include "../libsl/nodeset.h"
#include "../libsl/ssh.h"
#include "fuzz.h"

static void check(const struct sl_nodeset *ns)
{
	if (!ns->app.n || ns->check_interval < 1 || ns->check_interval > 60 ||
	    ns->fall < 1 || ns->fall > 10 || ns->rise < 1 || ns->rise > 10)
		abort();
	for (size_t i = 0; i < ns->app.n; i++) {
		struct sl_ssh_addr a = SL_SSH_ADDR_INIT;
		struct sl_err err = SL_ERR_INIT;

		if (sl_ssh_addr_parse(&a, ns->app.v[i], &err) < 0 ||
		    (ns->balancer && !strcmp(ns->balancer, ns->app.v[i])))
			abort();
		sl_ssh_addr_release(&a);
		sl_err_release(&err);
	}
	if (ns->service.n > SL_NODESET_MAX_SERVICE)
		abort();
	for (size_t i = 0; i < ns->service.n; i++) {
		struct sl_ssh_addr a = SL_SSH_ADDR_INIT;

		if (sl_ssh_addr_parse(&a, ns->service.v[i], NULL) < 0 ||
		    (ns->balancer && !strcmp(ns->balancer, ns->service.v[i])))
			abort();
		for (size_t j = 0; j < ns->app.n; j++)
			if (!strcmp(ns->app.v[j], ns->service.v[i]))
				abort();
		sl_ssh_addr_release(&a);
	}
}

/* haproxy.cfg from NS's app nodes, as sl-balancer --apply renders it */
static void render(const struct sl_nodeset *ns)
{
	struct sl_balancer_node *nodes = calloc(ns->app.n, sizeof(*nodes));
	struct sl_ssh_addr *addrs = calloc(ns->app.n, sizeof(*addrs));
	struct sl_buf *names = calloc(ns->app.n, sizeof(*names));
	struct sl_render_haproxy in = SL_RENDER_HAPROXY_INIT;
	struct sl_buf out = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	size_t servers = 0;

	if (!nodes || !addrs || !names)
		abort();
	for (size_t i = 0; i < ns->app.n; i++) {
		addrs[i] = (struct sl_ssh_addr)SL_SSH_ADDR_INIT;
		names[i] = (struct sl_buf)SL_BUF_INIT;
		if (sl_ssh_addr_parse(&addrs[i], ns->app.v[i], &err) < 0)
			abort();
		sl_balancer_server_name(addrs[i].host, &names[i]);
		nodes[i] = (struct sl_balancer_node){ names[i].buf, addrs[i].host, 80 };
	}
	in.nodes = nodes;
	in.n = ns->app.n;
	in.check_interval = ns->check_interval;
	in.fall = ns->fall;
	in.rise = ns->rise;
	if (sl_render_haproxy(&in, &out, &err) == 0) {
		for (const char *p = out.buf; (p = strstr(p, "\n\tserver ")); p++)
			servers++;
		if (servers != ns->app.n || strlen(out.buf) != out.len)
			abort();
	}
	for (size_t i = 0; i < ns->app.n; i++) {
		sl_ssh_addr_release(&addrs[i]);
		sl_buf_release(&names[i]);
	}
	free(nodes);
	free(addrs);
	free(names);
	sl_buf_release(&out);
	sl_err_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_nodeset ns = SL_NODESET_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf path = SL_BUF_INIT;
	const char *dir = fuzz_dir();

	/* local node names are looked up here, where there are none */
	setenv("SL_LOCAL", dir, 1);
	fuzz_write(dir, "set.ini", data, size);
	sl_buf_addf(&path, "%s/set.ini", dir);
	if (sl_nodeset_load(&ns, path.buf, &err) == 0) {
		check(&ns);
		render(&ns);
	}
	sl_nodeset_release(&ns);
	sl_err_release(&err);
	sl_buf_release(&path);
	return 0;
}
