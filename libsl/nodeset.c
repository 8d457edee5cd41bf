/*
 * silverlining — nodesets: the app nodes, service nodes and balancer of one deployment.
 *
 * Each node is resolved as it is read (a local node's name becomes
 * root@IP), then known by its identity, "host:port" with the host case
 * folded, so two spellings of one machine are caught as the same node.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "app.h"
#include "exit.h"
#include "file.h"
#include "ini.h"
#include "mem.h"
#include "nodeset.h"
#include "ssh.h"

/* sl-node's valid_name: a lowercase letter, then up to 9 of [a-z0-9-] */
static int local_name(const char *name)
{
	return sl_app_name_valid(name) && strlen(name) <= 10;
}

int sl_node_named(const char *name, struct sl_buf *out, struct sl_err *err)
{
	const char *state = getenv("SL_LOCAL");
	struct sl_buf path = SL_BUF_INIT, ip = SL_BUF_INIT;
	struct in_addr a;
	struct stat st;
	int ret = 0;

	if (!local_name(name))
		return 0;
	if (!state || !*state)
		state = "/var/lib/silverlining-local";
	sl_buf_addf(&path, "%s/nodes/%s", state, name);
	if (stat(path.buf, &st) < 0 || !S_ISDIR(st.st_mode))
		goto out;
	sl_buf_adds(&path, "/ip");
	if (sl_buf_read_file(&ip, path.buf) < 0) {
		ret = sl_err_errno(err, "local node %s: unable to read its address in %s",
				   name, path.buf);
		if (err)
			err->code = SL_EXIT_TEMP;
		goto out;
	}
	sl_buf_rtrim(&ip);
	if (inet_pton(AF_INET, ip.buf, &a) != 1) {
		ret = sl_err_set(err, SL_EXIT_TEMP,
				 "local node %s: %s holds no IPv4 address (is it being made?)",
				 name, path.buf);
		goto out;
	}
	sl_buf_reset(out);
	sl_buf_addf(out, "root@%s", ip.buf);
	ret = 1;
out:
	sl_buf_release(&path);
	sl_buf_release(&ip);
	return ret;
}

/* TEXT resolved into OUT, and its identity "host:port" into ID. */
static int resolve(const char *text, struct sl_buf *out, struct sl_buf *id,
		   struct sl_err *err)
{
	struct sl_ssh_addr a = SL_SSH_ADDR_INIT;
	int r = sl_node_named(text, out, err);

	if (r < 0)
		return -1;
	if (r == 0) {
		sl_buf_reset(out);
		sl_buf_adds(out, text);
	}
	if (sl_ssh_addr_parse(&a, out->buf, NULL) < 0) {
		sl_ssh_addr_release(&a);
		return sl_err_set(err, SL_EXIT_USAGE,
				  "invalid node '%s': want [user@]host[:port] or a local node's name",
				  text);
	}
	if (id) {
		sl_buf_reset(id);
		for (const char *p = a.host; *p; p++)
			sl_buf_addch(id, (char)tolower((unsigned char)*p));
		sl_buf_addf(id, ":%d", a.port);
	}
	sl_ssh_addr_release(&a);
	return 0;
}

int sl_node_resolve(const char *text, struct sl_buf *out, struct sl_err *err)
{
	return resolve(text, out, NULL, err);
}

int sl_nodeset_path(const char *name, struct sl_buf *out, struct sl_err *err)
{
	const char *home;

	if (!sl_app_name_valid(name))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "invalid nodeset name '%s': want a lowercase letter, then up to 30 lowercase letters, digits or dashes",
				  name);
	home = sl_file_home();
	if (!home)
		return sl_err_set(err, SL_EXIT_USAGE, "no home directory for ~/.silverlining/nodesets (set HOME)");
	sl_buf_reset(out);
	sl_buf_addf(out, "%s/.silverlining/nodesets/%s.ini", home, name);
	return 0;
}

enum { K_APP, K_BALANCER, K_SERVICE, K_INTERVAL, K_FALL, K_RISE, NKEYS };

static const struct {
	const char *name;
	int max;		/* for numbers: 1..max */
	const char *why;
} keys[NKEYS] = {
	{ "app", 0, NULL },
	{ "balancer", 0, NULL },
	{ "service", 0, NULL },
	{ "check_interval", 60, "a whole number of seconds from 1 to 60" },
	{ "fall", 10, "a whole number from 1 to 10" },
	{ "rise", 10, "a whole number from 1 to 10" },
};

struct parse {
	struct sl_nodeset *ns;
	const char *path;
	unsigned first_line[NKEYS];	/* where each key is set, 0 if unseen */
	int prev;			/* the key a continuation continues, -1 none */
	struct sl_strv ids;		/* the app and service nodes' identities */
	unsigned *lines;		/* and their lines */
	int *kinds;			/* and their keys, K_APP or K_SERVICE */
	char *balancer_id;
	unsigned balancer_line;
	struct sl_strv sections;	/* other sections, warned about once */
};

/* The text of S with control characters shown as '?', for messages. */
static char *shown(const char *s)
{
	char *c = sl_xstrdup(s);

	for (char *p = c; *p; p++)
		if (iscntrl((unsigned char)*p))
			*p = '?';
	return c;
}

/* KEY's name in messages: "app node", "service node", "balancer" */
static const char *role(int key)
{
	return key == K_APP ? "app node" : key == K_SERVICE ? "service node" : "balancer";
}

static int add_node(struct parse *ps, int key, const char *value,
		    unsigned line, struct sl_err *err)
{
	struct sl_nodeset *ns = ps->ns;
	struct sl_buf addr = SL_BUF_INIT, id = SL_BUF_INIT;
	int ret = -1;

	if (!*value)
		return 0;	/* "app =" with the nodes on the lines below */
	if (key == K_BALANCER && ns->balancer) {
		char *v = shown(value);

		sl_err_set(err, SL_EXIT_USAGE,
			   "%s:%u: a second balancer '%s': a nodeset has one (line %u)",
			   ps->path, line, v, ps->balancer_line);
		free(v);
		return -1;
	}
	if (key == K_SERVICE && ns->service.n == SL_NODESET_MAX_SERVICE) {
		char *v = shown(value);

		sl_err_set(err, SL_EXIT_USAGE,
			   "%s:%u: a fifth service node '%s': a nodeset has at most %d (a primary and its standbys)",
			   ps->path, line, v, SL_NODESET_MAX_SERVICE);
		free(v);
		return -1;
	}
	if (resolve(value, &addr, &id, err) < 0) {
		sl_err_prefix(err, "%s:%u", ps->path, line);
		goto out;
	}
	for (size_t i = 0; i < ps->ids.n; i++) {
		if (strcmp(ps->ids.v[i], id.buf))
			continue;
		if (key == ps->kinds[i])
			sl_err_set(err, SL_EXIT_USAGE,
				   "%s:%u: %s '%s' is already listed at line %u",
				   ps->path, line, role(key), value, ps->lines[i]);
		else
			sl_err_set(err, SL_EXIT_USAGE,
				   "%s:%u: %s '%s' is also %s %s (line %u): %s",
				   ps->path, line, role(key), value,
				   ps->kinds[i] == K_APP ? "an" : "a", role(ps->kinds[i]),
				   ps->lines[i], key == K_BALANCER ?
				   "the balancer needs a node of its own" :
				   "a service node serves the databases alone");
		goto out;
	}
	if (key != K_BALANCER && ps->balancer_id && !strcmp(ps->balancer_id, id.buf)) {
		sl_err_set(err, SL_EXIT_USAGE,
			   "%s:%u: %s '%s' is also the balancer (line %u): the balancer needs a node of its own",
			   ps->path, line, role(key), value, ps->balancer_line);
		goto out;
	}
	if (key == K_BALANCER) {
		ns->balancer = sl_buf_detach(&addr, NULL);
		ps->balancer_id = sl_buf_detach(&id, NULL);
		ps->balancer_line = line;
	} else {
		sl_strv_push(key == K_APP ? &ns->app : &ns->service, addr.buf);
		sl_strv_push(&ps->ids, id.buf);
		ps->lines = sl_xrealloc(ps->lines, ps->ids.n * sizeof(*ps->lines));
		ps->lines[ps->ids.n - 1] = line;
		ps->kinds = sl_xrealloc(ps->kinds, ps->ids.n * sizeof(*ps->kinds));
		ps->kinds[ps->ids.n - 1] = key;
	}
	ret = 0;
out:
	sl_buf_release(&addr);
	sl_buf_release(&id);
	return ret;
}

static int set_number(struct parse *ps, int key, const char *value,
		      unsigned line, struct sl_err *err)
{
	int *at = key == K_INTERVAL ? &ps->ns->check_interval :
		key == K_FALL ? &ps->ns->fall : &ps->ns->rise;
	char *end, *v;
	long n;

	errno = 0;
	n = strtol(value, &end, 10);
	if (isdigit((unsigned char)*value) && !*end && !errno &&
	    n >= 1 && n <= keys[key].max) {
		*at = (int)n;
		return 0;
	}
	v = shown(value);
	sl_err_set(err, SL_EXIT_USAGE, "%s:%u: invalid %s '%s': want %s",
		   ps->path, line, keys[key].name, v, keys[key].why);
	free(v);
	return -1;
}

static int set_key(struct parse *ps, int key, const char *value,
		   unsigned line, struct sl_err *err)
{
	if (key == K_APP || key == K_BALANCER || key == K_SERVICE)
		return add_node(ps, key, value, line, err);
	return set_number(ps, key, value, line, err);
}

static int on_item(void *user, const struct sl_ini_item *it, struct sl_err *err)
{
	struct parse *ps = user;
	int key;

	if (!*it->section)
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s:%u: '%s' is outside any section: a nodeset starts with [nodeset]",
				  ps->path, it->line, it->key);
	if (strcasecmp(it->section, "nodeset")) {
		char *s;

		for (size_t i = 0; i < ps->sections.n; i++)
			if (!strcmp(ps->sections.v[i], it->section))
				return 0;
		sl_strv_push(&ps->sections, it->section);
		s = shown(it->section);
		sl_strv_pushf(&ps->ns->warnings, "%s:%u: section [%s] is not used; its keys are ignored",
			      ps->path, it->line, s);
		free(s);
		return 0;
	}
	if (it->continuation) {
		if (ps->prev < 0)	/* continuing an unknown key */
			return 0;
		/* a balancer's second line is a second balancer: add_node says so */
		if (ps->prev == K_APP || ps->prev == K_BALANCER || ps->prev == K_SERVICE)
			return set_key(ps, ps->prev, it->value, it->line, err);
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s:%u: %s takes one value, not a list (key at line %u)",
				  ps->path, it->line, keys[ps->prev].name,
				  ps->first_line[ps->prev]);
	}
	ps->prev = -1;
	for (key = 0; key < NKEYS; key++)
		if (!strcasecmp(keys[key].name, it->key))
			break;
	if (key == NKEYS) {
		char *k = shown(it->key);

		sl_strv_pushf(&ps->ns->warnings, "%s:%u: unknown key '%s' ignored",
			      ps->path, it->line, k);
		free(k);
		return 0;
	}
	if (ps->first_line[key])
		return sl_err_set(err, SL_EXIT_USAGE, "%s:%u: %s is already set at line %u",
				  ps->path, it->line, keys[key].name, ps->first_line[key]);
	ps->first_line[key] = it->line;
	ps->prev = key;
	return set_key(ps, key, it->value, it->line, err);
}

int sl_nodeset_load(struct sl_nodeset *ns, const char *path,
		    struct sl_err *err)
{
	struct sl_nodeset init = SL_NODESET_INIT;
	struct parse ps = { .ns = ns, .path = path, .prev = -1,
			    .ids = SL_STRV_INIT, .sections = SL_STRV_INIT };
	const char *base = strrchr(path, '/');
	size_t len;
	int ret = -1;

	sl_nodeset_release(ns);
	*ns = init;
	base = base ? base + 1 : path;
	len = strlen(base);
	if (len > 4 && !strcmp(base + len - 4, ".ini"))
		len -= 4;
	ns->name = sl_xstrndup(base, len);
	if (sl_ini_parse(path, on_item, &ps, err) < 0)
		goto out;
	if (!ps.first_line[K_APP])
		sl_err_set(err, SL_EXIT_USAGE,
			   "%s: no app nodes: [nodeset] lists them in 'app = NODE', one a line",
			   path);
	else if (!ns->app.n)
		sl_err_set(err, SL_EXIT_USAGE, "%s:%u: app lists no node",
			   path, ps.first_line[K_APP]);
	else
		ret = 0;
out:
	sl_strv_clear(&ps.ids);
	sl_strv_clear(&ps.sections);
	free(ps.lines);
	free(ps.kinds);
	free(ps.balancer_id);
	return ret;
}

void sl_nodeset_release(struct sl_nodeset *ns)
{
	free(ns->name);
	ns->name = NULL;
	sl_strv_clear(&ns->app);
	sl_strv_clear(&ns->service);
	free(ns->balancer);
	ns->balancer = NULL;
	sl_strv_clear(&ns->warnings);
}
