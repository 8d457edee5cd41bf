/* silverlining — sl-nodeset: a nodeset resolved, and commands run on its nodes. */
#include <arpa/inet.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../libsl/dbrecord.h"
#include "../libsl/exit.h"
#include "../libsl/fanout.h"
#include "../libsl/mem.h"
#include "../libsl/msg.h"
#include "../libsl/nodeset.h"
#include "../libsl/quote.h"
#include "../libsl/say.h"
#include "../libsl/ssh.h"
#include "../libsl/version.h"

#define USAGE "sl-nodeset NAME | sl-nodeset --ini NAME | sl-nodeset --node NODE" \
	" | sl-nodeset [--accept-new] [-i FILE] [--timeout SECONDS] [--stdin]" \
	" [--balancer | --rolling] --each NAME -- COMMAND [ARG...]" \
	" | sl-nodeset [--accept-new] [-i FILE] [--timeout SECONDS] --db-setup NAME" \
	" | sl-nodeset [--accept-new] [-i FILE] [--timeout SECONDS] --db-state NAME" \
	" | sl-nodeset [--accept-new] [-i FILE] [--timeout SECONDS] --failover [--yes] [--rebuild] [--to NODE] NAME"

/* ~/.silverlining/nodesets/NAME.ini into NS, its warnings told; dies on an error. */
static void load(struct sl_nodeset *ns, const char *name, struct sl_buf *path)
{
	struct sl_err err = SL_ERR_INIT;
	int r;

	if (sl_nodeset_path(name, path, &err) < 0)
		sl_die_err(&err);
	r = sl_nodeset_load(ns, path->buf, &err);
	for (size_t i = 0; i < ns->warnings.n; i++)
		sl_warn("%s", ns->warnings.v[i]);
	if (r < 0)
		sl_die_err(&err);
}

/*
 * NAME resolved: one line per fact, "app ADDR"..., "service ADDR"...,
 * "balancer ADDR", "check I F R", "file PATH".
 */
static void show(const char *name)
{
	struct sl_nodeset ns = SL_NODESET_INIT;
	struct sl_buf path = SL_BUF_INIT;

	load(&ns, name, &path);
	for (size_t i = 0; i < ns.app.n; i++)
		printf("app %s\n", ns.app.v[i]);
	for (size_t i = 0; i < ns.service.n; i++)
		printf("service %s\n", ns.service.v[i]);
	if (ns.balancer)
		printf("balancer %s\n", ns.balancer);
	printf("check %d %d %d\nfile %s\n", ns.check_interval, ns.fall, ns.rise, path.buf);
	sl_nodeset_release(&ns);
	sl_buf_release(&path);
}

/* NAME as a nodeset file again, with every node resolved (sl-balancer --apply reads it). */
static void ini(const char *name)
{
	struct sl_nodeset ns = SL_NODESET_INIT;
	struct sl_buf path = SL_BUF_INIT;

	load(&ns, name, &path);
	printf("[nodeset]\n");
	for (size_t i = 0; i < ns.app.n; i++)
		printf("%s %s\n", i ? "     " : "app =", ns.app.v[i]);
	for (size_t i = 0; i < ns.service.n; i++)
		printf("%s %s\n", i ? "         " : "service =", ns.service.v[i]);
	if (ns.balancer)
		printf("balancer = %s\n", ns.balancer);
	printf("check_interval = %d\nfall = %d\nrise = %d\n", ns.check_interval, ns.fall, ns.rise);
	sl_nodeset_release(&ns);
	sl_buf_release(&path);
}

/* A node as a user names it: a local node's name, or [user@]host[:port]. */
static void node(const char *text)
{
	struct sl_buf addr = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;

	if (sl_node_resolve(text, &addr, &err) < 0)
		sl_die_err(&err);
	printf("%s\n", addr.buf);
	sl_buf_release(&addr);
}

/* --each: the SSH options every node is reached with, and stdin (--stdin) */
static struct sl_ssh_opts opts = SL_SSH_OPTS_INIT;
static struct sl_buf input = SL_BUF_INIT;
static int with_input;

/* One command on one node, run in a fan-out's child. */
struct remote {
	struct sl_ssh_addr addr;
	const char *command;	/* quoted for the node's shell */
	const struct sl_buf *in;	/* its stdin, from memory; NULL: none */
};

/* In the child: COMMAND on the node, its output on our stdout and stderr. */
static int run_remote(void *arg)
{
	struct remote *r = arg;
	struct sl_err err = SL_ERR_INIT;
	struct sl_ssh_chan *ch = NULL;
	struct sl_ssh *s = sl_ssh_connect(&r->addr, &opts, &err);
	int code = -1;

	if (s)
		ch = sl_ssh_exec(s, r->command, &err);
	if (ch && r->in && (sl_ssh_write(ch, r->in->buf, r->in->len, &err) < 0 ||
			    sl_ssh_send_eof(ch, &err) < 0))
		ch = NULL;
	if (ch)
		code = sl_ssh_pump(ch, -1, 1, 2, &err);
	if (code < 0) {
		fprintf(stderr, "%s: fatal: %s\n", sl_msg_prog(), err.msg.buf);
		return err.code ? err.code : SL_EXIT_TEMP;
	}
	sl_ssh_close(s);
	return code;
}

/*
 * ARGV (a command) on each of the N nodes ADDRS at once, each one's lines
 * prefixed by LABEL (NULL: nothing) and its host, IN (NULL: nothing) on
 * each one's stdin; each one's stdout into OUT[i]
 * when OUT is not NULL (else relayed), and its code into CODES[i] when
 * CODES is not NULL. The worst code (the highest), 0 when every node
 * exited 0.
 */
static int fan_io(char **addrs, size_t n, const char *label, char **argv,
		  const struct sl_buf *in, struct sl_buf *out, int *codes)
{
	struct sl_fanout f = SL_FANOUT_INIT;
	struct remote *r = sl_xcalloc(n, sizeof(*r));
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf cmd = SL_BUF_INIT, prefix = SL_BUF_INIT;
	int worst = 0;

	sl_quote_sh_command(&cmd, argv);
	for (size_t i = 0; i < n; i++) {
		struct sl_fanout_job *j;

		r[i].addr = (struct sl_ssh_addr)SL_SSH_ADDR_INIT;
		if (sl_ssh_addr_parse(&r[i].addr, addrs[i], &err) < 0)
			sl_die_err(&err);
		r[i].command = cmd.buf;
		r[i].in = in;
		sl_buf_reset(&prefix);
		if (label)
			sl_buf_addf(&prefix, "%s ", label);
		sl_buf_adds(&prefix, r[i].addr.host);
		j = sl_fanout_add(&f, prefix.buf);
		j->fn = run_remote;
		j->arg = &r[i];
		if (out)
			j->capture = &out[i];
	}
	fflush(stdout);
	if (sl_fanout_run(&f, &err) < 0)
		sl_die_err(&err);
	for (size_t i = 0; i < f.n; i++) {
		if (f.jobs[i]->err.msg.len)
			sl_warn("%s: %s", f.jobs[i]->host, f.jobs[i]->err.msg.buf);
		if (f.jobs[i]->code > worst)
			worst = f.jobs[i]->code;
		if (codes)
			codes[i] = f.jobs[i]->code;
	}
	if (f.write_errno)
		worst = SL_EXIT_TEMP;
	for (size_t i = 0; i < n; i++)
		sl_ssh_addr_release(&r[i].addr);
	free(r);
	sl_fanout_release(&f);
	sl_buf_release(&cmd);
	sl_buf_release(&prefix);
	return worst;
}

static int fan(char **addrs, size_t n, const char *label, char **argv)
{
	return fan_io(addrs, n, label, argv, with_input ? &input : NULL, NULL, NULL);
}

/* sl-balancer ACTION HOST on the balancer B, prefixed "balancer B's host: ". */
static int balancer(char *b, const char *action, const char *host)
{
	char *argv[] = { "sl-balancer", (char *)action, (char *)host, NULL };

	return fan(&b, 1, "balancer", argv);
}

/*
 * --rolling: one node after another, each out of the balancer while
 * COMMAND runs on it: drain, COMMAND, ready, wait until it is UP. A node
 * whose COMMAND failed is made ready again (it still serves what it
 * served) and nothing more is done: that code.
 */
static int rolling(struct sl_nodeset *ns, char **argv)
{
	for (size_t i = 0; i < ns->app.n; i++) {
		struct sl_ssh_addr a = SL_SSH_ADDR_INIT;
		struct sl_err err = SL_ERR_INIT;
		int code, again;

		if (sl_ssh_addr_parse(&a, ns->app.v[i], &err) < 0)
			sl_die_err(&err);
		code = balancer(ns->balancer, "--drain", a.host);
		if (code) {
			sl_warn("%s: not drained: nothing done there nor after", a.host);
			return code;
		}
		code = fan(&ns->app.v[i], 1, NULL, argv);
		again = balancer(ns->balancer, "--ready", a.host);
		if (!again)
			again = balancer(ns->balancer, "--wait-up", a.host);
		if (code || again) {
			sl_warn("%s: %s: the nodes after it were left alone", a.host,
				code ? "the command failed" : "not back up in the balancer");
			return code ? code : again;
		}
		sl_ssh_addr_release(&a);
	}
	return 0;
}

/*
 * The databases of a nodeset: its service nodes (sl-dbnode(8)), one
 * primary and its standbys, and the app nodes told where they are. The
 * primary's record holds passwords: it is read into memory from one
 * node's channel and written into the others' stdin, never into argv or
 * a file, and wiped when done.
 */

/* A service node, and what its sl-dbnode --state said. */
struct dbnode {
	char *addr;			/* the nodeset's address, resolved */
	char ip[INET_ADDRSTRLEN];	/* its IPv4, as the other nodes reach it */
	struct sl_buf state;		/* its --state lines */
	const char *role;		/* primary, standby, fenced, none; NULL: no answer */
};

static const char *const roles[] = { "primary", "standby", "fenced", "none" };

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The IPv4 address of node ADDR's host into IP: its literal, or DNS's first. */
static void node_ipv4(const char *addr, char ip[INET_ADDRSTRLEN])
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res;
	struct sl_ssh_addr a = SL_SSH_ADDR_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct in_addr in;
	int r;

	if (sl_ssh_addr_parse(&a, addr, &err) < 0)
		sl_die_err(&err);
	if (inet_pton(AF_INET, a.host, &in) != 1) {
		r = getaddrinfo(a.host, NULL, &hints, &res);
		if (r)
			sl_die(r == EAI_AGAIN ? SL_EXIT_TEMP : SL_EXIT_USAGE,
			       "node %s: no IPv4 address for %s (the nodes reach each other over IPv4): %s",
			       addr, a.host, gai_strerror(r));
		in = ((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr;
		freeaddrinfo(res);
	}
	inet_ntop(AF_INET, &in, ip, INET_ADDRSTRLEN);
	sl_ssh_addr_release(&a);
}

/*
 * The words of the first line of TEXT whose first word is KEY and, when
 * WHAT is not NULL, whose second is WHAT, into F (cleared first): 1, or 0
 * when there is no such line.
 */
static int line_of(const struct sl_buf *text, const char *key, const char *what,
		   struct sl_strv *f)
{
	const char *p = text->buf, *end = text->buf + text->len;

	while (p < end) {
		const char *e = memchr(p, '\n', (size_t)(end - p));

		if (!e)
			e = end;
		sl_strv_clear(f);
		for (const char *w = p; w < e; ) {
			size_t n = strcspn(w, " \t\n");

			if (w + n > e)
				n = (size_t)(e - w);
			if (n)
				sl_strv_pushn(f, w, n);
			w += n ? n : 1;
		}
		if (f->n && !strcmp(f->v[0], key) &&
		    (!what || (f->n > 1 && !strcmp(f->v[1], what))))
			return 1;
		p = e + 1;
	}
	sl_strv_clear(f);
	return 0;
}

/* ARGV on the node ADDR, IN on its stdin, its stdout into OUT (reset first; NULL: relayed); its code. */
static int on_node(char *addr, const struct sl_buf *in, struct sl_buf *out, char **argv)
{
	if (out)
		sl_buf_reset(out);
	return fan_io(&addr, 1, NULL, argv, in, out, NULL);
}

/* Every service node of NS into DB (N of them), and each one's --state, asked at once. */
static void db_states(struct sl_nodeset *ns, struct dbnode *db)
{
	char *argv[] = { "sl-dbnode", "--state", NULL };
	struct sl_buf *out = sl_xcalloc(ns->service.n, sizeof(*out));
	int *codes = sl_xcalloc(ns->service.n, sizeof(*codes));
	struct sl_strv f = SL_STRV_INIT;

	for (size_t i = 0; i < ns->service.n; i++) {
		db[i].addr = ns->service.v[i];
		node_ipv4(db[i].addr, db[i].ip);
		out[i] = (struct sl_buf)SL_BUF_INIT;
	}
	fan_io(ns->service.v, ns->service.n, NULL, argv, NULL, out, codes);
	for (size_t i = 0; i < ns->service.n; i++) {
		db[i].state = out[i];
		db[i].role = NULL;
		if (codes[i] || !line_of(&out[i], "role", NULL, &f) || f.n != 2)
			continue;
		for (size_t r = 0; r < sizeof(roles) / sizeof(*roles); r++)
			if (!strcmp(f.v[1], roles[r]))
				db[i].role = roles[r];
		if (!db[i].role)
			sl_warn("%s: sl-dbnode --state told an unknown role '%s'", db[i].addr, f.v[1]);
	}
	sl_strv_clear(&f);
	free(out);
	free(codes);
}

static void db_release(struct dbnode *db, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sl_buf_release(&db[i].state);
	free(db);
}

/* The index of the one node of DB (N) whose role is ROLE; -1 none; dies 100 when two are. */
static long db_one(const struct dbnode *db, size_t n, const char *role)
{
	long found = -1;

	for (size_t i = 0; i < n; i++) {
		if (db[i].role != role)
			continue;
		if (found >= 0)
			sl_die(SL_EXIT_USAGE, "%s and %s both say %s: nothing was done (a person must choose: sl-nodeset --db-state shows them)",
			       db[found].addr, db[i].addr, role);
		found = (long)i;
	}
	return found;
}

/*
 * sl-dbnode VERB --client IP (each app node) --peer IP (each service node
 * but DB[SELF]) into A (cleared first).
 */
static void db_argv(struct sl_strv *a, const char *verb, struct sl_nodeset *ns,
		    const struct dbnode *db, size_t self)
{
	char ip[INET_ADDRSTRLEN];

	sl_strv_clear(a);
	sl_strv_push(a, "sl-dbnode");
	sl_strv_push(a, verb);
	for (size_t i = 0; i < ns->app.n; i++) {
		node_ipv4(ns->app.v[i], ip);
		sl_strv_push(a, "--client");
		sl_strv_push(a, ip);
	}
	for (size_t i = 0; i < ns->service.n; i++) {
		if (i == self)
			continue;
		sl_strv_push(a, "--peer");
		sl_strv_push(a, db[i].ip);
	}
}

/*
 * The record of the primary DB[P] into REC, checked; dies when there is
 * none. MariaDB has no standby: its data stays on the first service node
 * listed, so a record from another node (after a failover) is given
 * without its [mysql] (WITH_MYSQL 0), and the app nodes keep theirs.
 */
static void db_record(const struct dbnode *p, struct sl_buf *rec, struct sl_dbrecord *r,
		      int with_mysql)
{
	char *argv[] = { "sl-dbnode", "--record", NULL };
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf what = SL_BUF_INIT;
	int code = on_node(p->addr, NULL, rec, argv);

	if (code)
		sl_die(code, "%s: no record (sl-dbnode --record failed)", p->addr);
	sl_buf_addf(&what, "the record of %s", p->addr);
	if (sl_dbrecord_parse(r, rec->buf, rec->len, what.buf, &err) < 0)
		sl_die(SL_EXIT_TEMP, "%s", err.msg.buf);
	sl_buf_release(&what);
	if (!with_mysql && r->my.present) {
		sl_dbrecord_server_release(&r->my);
		explicit_bzero(rec->buf, rec->len);
		sl_buf_setlen(rec, 0);
		sl_dbrecord_format(r, rec);
	}
}

static void wipe(struct sl_buf *rec, struct sl_dbrecord *r)
{
	explicit_bzero(rec->buf, rec->len);
	sl_buf_release(rec);
	sl_dbrecord_release(r);
}

/* NAME's service nodes, or dies 100: WHAT is what needs them. */
static struct dbnode *db_load(struct sl_nodeset *ns, const char *name, const char *what)
{
	struct sl_buf path = SL_BUF_INIT;

	load(ns, name, &path);
	if (!ns->service.n)
		sl_die(SL_EXIT_USAGE, "nodeset %s (%s) lists no service nodes ('service = NODE'): nothing to %s",
		       name, path.buf, what);
	sl_buf_release(&path);
	return sl_xcalloc(ns->service.n, sizeof(struct dbnode));
}

/* --db-state NAME: each service node's state, "HOST: " before each line. */
static int db_state(const char *name)
{
	struct sl_nodeset ns = SL_NODESET_INIT;
	char *argv[] = { "sl-dbnode", "--state", NULL };
	struct dbnode *db = db_load(&ns, name, "show");
	int code = fan_io(ns.service.v, ns.service.n, NULL, argv, NULL, NULL, NULL);

	free(db);
	sl_nodeset_release(&ns);
	return code;
}

/*
 * --db-setup NAME: the primary (the node that says so, else the first
 * listed) set up, each other service node made its standby (unless it
 * already streams from it), every app node given the record.
 */
static int db_setup(const char *name)
{
	struct sl_nodeset ns = SL_NODESET_INIT;
	struct dbnode *db = db_load(&ns, name, "set up");
	struct sl_dbrecord r = SL_DBRECORD_INIT;
	struct sl_buf rec = SL_BUF_INIT;
	struct sl_strv a = SL_STRV_INIT, f = SL_STRV_INIT;
	char *client[] = { "sl-dbnode", "--client", NULL };
	char *install[] = { "sl-dbnode", "--install", NULL };
	long p, fenced;
	int code;

	db_states(&ns, db);
	for (size_t i = 0; i < ns.service.n; i++)
		if (!db[i].role)
			sl_die(SL_EXIT_TEMP, "%s did not tell its state: nothing was set up", db[i].addr);
	p = db_one(db, ns.service.n, roles[0]);
	fenced = db_one(db, ns.service.n, roles[2]);
	if (p < 0 && fenced >= 0)
		sl_die(SL_EXIT_USAGE, "%s is fenced and no service node is primary: finish the failover first (silver failover --nodeset %s)",
		       db[fenced].addr, name);
	if (p < 0)
		p = 0;
	/* the servers' packages, the longest step, on every service node at once */
	sl_say(&sl_say_stderr, "the database servers installed on the service nodes");
	code = fan_io(ns.service.v, ns.service.n, NULL, install, NULL, NULL, NULL);
	if (code)
		sl_die(code, "the database servers were not installed on every service node: "
		       "nothing was set up");
	sl_say(&sl_say_stderr, "%s: the primary", db[p].addr);
	db_argv(&a, "--primary", &ns, db, (size_t)p);
	code = on_node(db[p].addr, NULL, NULL, a.v);
	if (code)
		sl_die(code, "%s: not set up as the primary: nothing else was done", db[p].addr);
	db_record(&db[p], &rec, &r, p == 0);
	for (size_t i = 0; i < ns.service.n; i++) {
		if ((long)i == p)
			continue;
		if (db[i].role == roles[1] && line_of(&db[i].state, "upstream", r.pg.host, &f)) {
			sl_say(&sl_say_stderr, "%s: already a standby of %s", db[i].addr, r.pg.host);
			continue;
		}
		sl_say(&sl_say_stderr, "%s: made a standby of %s", db[i].addr, db[p].addr);
		db_argv(&a, "--standby", &ns, db, i);
		code = on_node(db[i].addr, &rec, NULL, a.v);
		if (code) {
			wipe(&rec, &r);
			sl_die(code, "%s: not made a standby: the app nodes were not told", db[i].addr);
		}
	}
	sl_say(&sl_say_stderr, "the app nodes given the record of %s", db[p].addr);
	code = fan_io(ns.app.v, ns.app.n, NULL, client, &rec, NULL, NULL);
	wipe(&rec, &r);
	for (size_t i = 0; i < ns.service.n; i++)
		printf("%s %s\n", (long)i == p ? "primary" : "standby", db[i].addr);
	sl_strv_clear(&a);
	sl_strv_clear(&f);
	db_release(db, ns.service.n);
	sl_nodeset_release(&ns);
	return code;
}

/* The index in DB (N) of the node TO names; dies 100 when it is no service node. */
static size_t db_named(const struct dbnode *db, size_t n, const char *to, const char *name)
{
	struct sl_buf addr = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;

	if (sl_node_resolve(to, &addr, &err) < 0)
		sl_die_err(&err);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(db[i].addr, addr.buf)) {
			sl_buf_release(&addr);
			return i;
		}
	sl_die(SL_EXIT_USAGE, "--to %s: not a service node of nodeset %s", to, name);
}

/*
 * The primary of a failover: the node that says primary; else the one
 * that says fenced (a failover that stopped after its fence, run again);
 * else the one that did not answer, named by a standby's upstream or
 * alone in not answering. Dies when there is none.
 */
static size_t failover_primary(const struct dbnode *db, size_t n, const char *name)
{
	struct sl_strv f = SL_STRV_INIT;
	long p = db_one(db, n, roles[0]), silent = -1;
	size_t nsilent = 0;

	if (p < 0)
		p = db_one(db, n, roles[2]);
	if (p >= 0)
		return (size_t)p;
	for (size_t i = 0; i < n; i++) {
		if (db[i].role)
			continue;
		nsilent++;
		silent = (long)i;
		for (size_t j = 0; j < n; j++)
			if (db[j].role == roles[1] &&
			    line_of(&db[j].state, "upstream", db[i].ip, &f))
				p = (long)i;
	}
	sl_strv_clear(&f);
	if (p < 0 && nsilent == 1)
		p = silent;
	if (p < 0)
		sl_die(SL_EXIT_USAGE, "no service node of nodeset %s says it is primary, and none that did not answer is known to be: nothing was done (sl-nodeset --db-state %s)",
		       name, name);
	return (size_t)p;
}

/* The standby to promote: --to TO, else the one; dies 100 when there is none or a choice. */
static size_t failover_standby(const struct dbnode *db, size_t n, size_t p,
			       const char *to, const char *name)
{
	long s = -1;

	if (to) {
		s = (long)db_named(db, n, to, name);
		if ((size_t)s == p && db[p].role == roles[0])
			sl_die(SL_EXIT_NO, "--to %s: the primary already: nothing to do", to);
		if ((size_t)s == p || db[s].role != roles[1])
			sl_die(db[s].role ? SL_EXIT_USAGE : SL_EXIT_TEMP,
			       "--to %s: %s, not a standby: nothing was done", to,
			       (size_t)s == p ? "the primary being failed over" :
			       db[s].role ? db[s].role : "it did not answer");
		return (size_t)s;
	}
	for (size_t i = 0; i < n; i++) {
		if (db[i].role != roles[1])
			continue;
		if (s >= 0)
			sl_die(SL_EXIT_USAGE, "%s and %s are both standbys: name the one to promote with --to NODE",
			       db[s].addr, db[i].addr);
		s = (long)i;
	}
	if (s < 0)
		sl_die(SL_EXIT_USAGE, "nodeset %s has no standby that answered: nothing to promote (sl-nodeset --db-setup %s makes the other service nodes standbys)",
		       name, name);
	return (size_t)s;
}

/* "KEY VALUE" of TEXT: VALUE, copied into OUT; 0 when there is no such line. */
static int value_of(const struct sl_buf *text, const char *key, struct sl_buf *out)
{
	struct sl_strv f = SL_STRV_INIT;
	int found = line_of(text, key, NULL, &f) && f.n == 2;

	sl_buf_reset(out);
	if (found)
		sl_buf_adds(out, f.v[1]);
	sl_strv_clear(&f);
	return found;
}

/*
 * --failover NAME: fence the primary (when it answers), promote the
 * standby once it has replayed everything the fence left, give the app
 * nodes its record and have them start their instances again on it,
 * and with --rebuild make the old primary a standby of the new one. The
 * figures go to stdout, each step's time and how long writes were
 * impossible.
 */
static int failover(const char *name, const char *to, int yes, int rebuild)
{
	struct sl_nodeset ns = SL_NODESET_INIT;
	struct dbnode *db = db_load(&ns, name, "fail over");
	struct sl_dbrecord r = SL_DBRECORD_INIT;
	struct sl_buf rec = SL_BUF_INIT, out = SL_BUF_INIT, lsn = SL_BUF_INIT, v = SL_BUF_INIT;
	struct sl_strv a = SL_STRV_INIT, f = SL_STRV_INIT;
	char *fence[] = { "sl-dbnode", "--fence", NULL };
	char *again[] = { "sl-dbnode", "--client", "--again", NULL };
	int timeout = opts.connect_timeout, code, worst = 0;
	double t0 = now(), t, fenced_at, promoted_at;
	size_t p, s;

	/* 1. who is primary, who is promoted */
	opts.connect_timeout = 5;
	db_states(&ns, db);
	opts.connect_timeout = timeout;
	p = failover_primary(db, ns.service.n, name);
	s = failover_standby(db, ns.service.n, p, to, name);
	printf("primary %s%s\nstandby %s\n", db[p].addr,
	       db[p].role ? (db[p].role == roles[2] ? " fenced" : "") : " silent", db[s].addr);
	printf("step states: %.2f s\n", now() - t0);

	/* 2. the primary fenced (tried even when it did not tell its state), or known to be down */
	t = now();
	if (db[p].role == roles[0] && line_of(&db[p].state, "standby", db[s].ip, &f) && f.n >= 7)
		printf("lag %s: %s bytes, %s s (%s)\n", db[s].addr, f.v[5], f.v[6], f.v[2]);
	else if (db[p].role == roles[0])
		sl_warn("%s lists no replication to %s: the standby is not streaming, and its promote will wait for what the fence leaves",
			db[p].addr, db[s].ip);
	sl_say(&sl_say_stderr, "%s: fenced", db[p].addr);
	if (!db[p].role)
		opts.connect_timeout = 5;
	code = on_node(db[p].addr, NULL, &out, fence);
	opts.connect_timeout = timeout;
	if (!code && !value_of(&out, "lsn", &lsn))
		sl_die(SL_EXIT_TEMP, "%s: sl-dbnode --fence told no lsn: nothing was promoted", db[p].addr);
	if (!code) {
		printf("step fence %s: %.2f s (lsn %s)\n", db[p].addr, now() - t, lsn.buf);
	} else if (db[p].role) {
		sl_die(code, "%s: not fenced: nothing was promoted", db[p].addr);
	} else {
		sl_warn("%s: unreachable: not fenced: make sure it stays down (powered off, or its PostgreSQL stopped for good)",
			db[p].addr);
		if (line_of(&db[s].state, "upstream", NULL, &f) && f.n >= 5)
			printf("replay age %s: %s s (last replayed from %s)\n", db[s].addr, f.v[4], f.v[1]);
		if (!yes)
			sl_die(SL_EXIT_USAGE, "the primary %s cannot be reached: promoting %s without a fence loses what it has not replayed, and two primaries would take writes if %s came back: give --yes (silver -y failover) when it is down for good",
			       db[p].addr, db[s].addr, db[p].addr);
	}
	fenced_at = t;

	/* 3. the standby promoted, once it has replayed the fence's lsn */
	sl_strv_clear(&a);
	sl_strv_push(&a, "sl-dbnode");
	sl_strv_push(&a, "--promote");
	if (lsn.len) {
		sl_strv_push(&a, "--min-lsn");
		sl_strv_push(&a, lsn.buf);
	} else {
		sl_strv_push(&a, "--force");
	}
	t = now();
	sl_say(&sl_say_stderr, "%s: promoted", db[s].addr);
	code = on_node(db[s].addr, NULL, &out, a.v);
	if (code == SL_EXIT_USAGE && lsn.len) {
		if (!yes)
			sl_die(SL_EXIT_USAGE, "%s was not promoted (above): nothing else was done, %s stays fenced; run the failover again once it has caught up, or give --yes (silver -y failover) to promote it without what it lacks",
			       db[s].addr, db[p].addr);
		sl_warn("--yes: %s promoted with --force: the writes it has not replayed are lost", db[s].addr);
		sl_strv_push(&a, "--force");
		code = on_node(db[s].addr, NULL, &out, a.v);
	}
	if (code)
		sl_die(code, "%s: not promoted: nothing else was done%s", db[s].addr,
		       db[p].role ? "; the primary stays fenced (run the failover again)" : "");
	promoted_at = now();
	printf("step promote %s: %.2f s", db[s].addr, promoted_at - t);
	if (value_of(&out, "seconds", &v))
		printf(" (the promote itself: %s s)", v.buf);
	if (value_of(&out, "timeline", &v))
		printf(" timeline %s", v.buf);
	printf("\n");

	/* 4. the app nodes given its record, their instances started again on it */
	t = now();
	db_record(&db[s], &rec, &r, 0);
	printf("step record %s: %.2f s\n", db[s].addr, now() - t);
	t = now();
	sl_say(&sl_say_stderr, "the app nodes pointed at %s", db[s].addr);
	fflush(stdout);
	worst = fan_io(ns.app.v, ns.app.n, NULL, again, &rec, NULL, NULL);
	printf("step clients: %.2f s%s\n", now() - t, worst ? " (failed: see above)" : "");

	/* 5. the old primary a standby of the new one */
	if (rebuild && db[p].role) {
		t = now();
		sl_say(&sl_say_stderr, "%s: made a standby of %s", db[p].addr, db[s].addr);
		db_argv(&a, "--primary", &ns, db, s);
		code = on_node(db[s].addr, NULL, NULL, a.v);
		if (!code) {
			db_argv(&a, "--standby", &ns, db, p);
			code = on_node(db[p].addr, &rec, NULL, a.v);
		}
		printf("step rebuild %s: %.2f s%s\n", db[p].addr, now() - t,
		       code ? " (failed: see above)" : "");
		if (code > worst)
			worst = code;
	} else if (rebuild) {
		sl_warn("%s is unreachable: not rebuilt; when it is back, sl-nodeset --db-setup %s makes it a standby of %s",
			db[p].addr, name, db[s].addr);
	} else {
		sl_say(&sl_say_stderr, "%s stays fenced; sl-nodeset --db-setup %s makes it a standby of %s",
		       db[p].addr, name, db[s].addr);
	}
	for (size_t i = 0; i < ns.service.n; i++)
		if (i != p && i != s)
			sl_warn("%s still follows %s: sl-nodeset --db-setup %s makes it a standby of %s",
				db[i].addr, db[p].addr, name, db[s].addr);
	wipe(&rec, &r);

	/* 6. the figures */
	if (lsn.len)
		printf("writes impossible from fence to promote: %.2f s\n", promoted_at - fenced_at);
	else
		printf("writes impossible from the primary's loss to promote: since %s went down\n", db[p].addr);
	printf("total: %.2f s\n", now() - t0);
	sl_strv_clear(&a);
	sl_strv_clear(&f);
	sl_buf_release(&out);
	sl_buf_release(&lsn);
	sl_buf_release(&v);
	db_release(db, ns.service.n);
	sl_nodeset_release(&ns);
	return worst;
}

/* --each NAME -- ARGV: on every app node (or the balancer) of NAME. */
static int each(const char *name, int where, char **argv)
{
	struct sl_nodeset ns = SL_NODESET_INIT;
	struct sl_buf path = SL_BUF_INIT;
	int code;

	load(&ns, name, &path);
	if (where && !ns.balancer)
		sl_die(SL_EXIT_USAGE, "nodeset %s (%s) has no balancer%s", name, path.buf,
		       where == 'R' ? ": --rolling drains each node through it" : "");
	if (with_input && sl_buf_read_fd(&input, 0) < 0)
		sl_die_errno("unable to read standard input");
	if (where == 'B')
		code = fan(&ns.balancer, 1, "balancer", argv);
	else if (where == 'R')
		code = rolling(&ns, argv);
	else
		code = fan(ns.app.v, ns.app.n, NULL, argv);
	sl_nodeset_release(&ns);
	sl_buf_release(&path);
	return code;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		SL_SSH_LONGOPTS,
		{ "ini", no_argument, NULL, 'I' },
		{ "node", no_argument, NULL, 'N' },
		{ "each", no_argument, NULL, 'E' },
		{ "balancer", no_argument, NULL, 'B' },
		{ "rolling", no_argument, NULL, 'R' },
		{ "stdin", no_argument, NULL, 'S' },
		{ "db-setup", no_argument, NULL, 'D' },
		{ "db-state", no_argument, NULL, 'Q' },
		{ "failover", no_argument, NULL, 'F' },
		{ "yes", no_argument, NULL, 'y' },
		{ "rebuild", no_argument, NULL, 'r' },
		{ "to", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct sl_err err = SL_ERR_INIT;
	int c, mode = 0, where = 0, ssh = 0, yes = 0, rebuild = 0;
	const char *to = NULL;

	sl_msg_init(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:" SL_SSH_SHORTOPTS, longopts, NULL)) != -1) {
		int used = sl_ssh_opt(&opts, c, optarg, &err);

		if (used < 0)
			sl_die_err(&err);
		if (used) {
			ssh = 1;
			continue;
		}
		switch (c) {
		case 'I': case 'N': case 'E': case 'D': case 'Q': case 'F':
			if (mode && mode != c)
				sl_die_usage(USAGE);
			mode = c;
			break;
		case 'B': case 'R':
			if (where && where != c)
				sl_die_usage(USAGE);
			where = c;
			break;
		case 'S': with_input = 1; ssh = 1; break;
		case 'y': yes = 1; break;
		case 'r': rebuild = 1; break;
		case 't': to = optarg; break;
		case 'h': printf("usage: %s\n", USAGE); sl_exit_flush();
		case 'V': printf("sl-nodeset %s\n", SL_VERSION); sl_exit_flush();
		default: sl_die_option(USAGE, argv, c);
		}
	}
	if (mode == 'E') {
		/* NAME -- COMMAND [ARG...] */
		if (argc - optind < 3 || strcmp(argv[optind + 1], "--") || yes || rebuild || to)
			sl_die_usage(USAGE);
		c = each(argv[optind], where, argv + optind + 2);
		if (fflush(stdout) == EOF)
			sl_die_errno("unable to write to standard output");
		return c;
	}
	if (argc - optind != 1 || where || with_input || ((yes || rebuild || to) && mode != 'F'))
		sl_die_usage(USAGE);
	if (mode == 'D' || mode == 'Q' || mode == 'F') {
		if (mode == 'D')
			c = db_setup(argv[optind]);
		else if (mode == 'Q')
			c = db_state(argv[optind]);
		else
			c = failover(argv[optind], to, yes, rebuild);
		if (fflush(stdout) == EOF)
			sl_die_errno("unable to write to standard output");
		return c;
	}
	if (ssh)
		sl_die_usage(USAGE);
	if (mode == 'N')
		node(argv[optind]);
	else if (mode == 'I')
		ini(argv[optind]);
	else
		show(argv[optind]);
	sl_exit_flush();
}
