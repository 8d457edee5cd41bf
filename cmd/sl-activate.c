/* silverlining — sl-activate: put an instance live on the node, behind a health gate. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../libsl/acme.h"
#include "../libsl/app.h"
#include "../libsl/appuser.h"
#include "../libsl/failing.h"
#include "../libsl/file.h"
#include "../libsl/gate.h"
#include "../libsl/instance.h"
#include "../libsl/jobs.h"
#include "../libsl/location.h"
#include "../libsl/msg.h"
#include "../libsl/node.h"
#include "../libsl/prepare.h"
#include "../libsl/render.h"
#include "../libsl/route.h"
#include "../libsl/run.h"
#include "../libsl/say.h"
#include "../libsl/strv.h"
#include "../libsl/switch.h"
#include "../libsl/unit.h"
#include "../libsl/version.h"

#define USAGE "sl-activate [--clear] [--hsts | --no-hsts] " \
	"[--acme-directory URL] [--acme-email ADDRESS] INSTANCE LOCATION... | --prepare [--clear] " \
	"[--hsts | --no-hsts] [--acme-directory URL] [--acme-email ADDRESS] INSTANCE LOCATION... | " \
	"--switch INSTANCE LOCATION... | --abandon INSTANCE | --balancers [IP...] | prev LOCATION | " \
	"--deactivate [--keep-prev] LOCATION... | --disable LOCATION | --enable LOCATION | " \
	"--routes | --again LOCATION | --unit-start INSTANCE | --unit-exec INSTANCE | " \
	"--unit-stop INSTANCE"
#define SHARE "/usr/share/silverlining"
#define NODE_LOCK_WAIT 600


static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	struct sl_buf line = SL_BUF_INIT;
	va_list ap;

	/* one write: stderr is unbuffered, and a line must not be split by stdout's */
	sl_buf_addf(&line, "%s: ", sl_msg_prog());
	va_start(ap, fmt);
	sl_buf_vaddf(&line, fmt, ap);
	va_end(ap);
	sl_buf_addch(&line, '\n');
	fputs(line.buf, stderr);
	sl_buf_release(&line);
}

static long env_long(const char *name, long dflt)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return dflt;
	n = strtol(v, &end, 10);
	if (*end || n < 0)
		sl_die(SL_EXIT_USAGE, "%s=%s: want a number of seconds", name, v);
	return n;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* "S.MMM s" for the time from A to B, in a static buffer of eight (a line takes five). */
static const char *ms(long long a, long long b)
{
	static char bufs[8][32];
	static int i;
	long long d = (b - a) / 1000000;
	char *s = bufs[i++ % 8];

	snprintf(s, sizeof(bufs[0]), "%lld.%03lld s", d / 1000, d % 1000);
	return s;
}

/* --- children ---------------------------------------------------------- */

/* The tool's side of struct sl_say: lines in the message grammar, text as it is. */
static void told(void *ctx, const char *text, size_t len, int line)
{
	(void)ctx;
	if (line)
		say("%s", text);
	else
		fwrite(text, 1, len, stderr);
	fflush(stderr);
}

static const struct sl_say talk = { told, NULL };

#define RUN(out, errfd, ...) SL_SAY_RUN(&talk, out, errfd, __VA_ARGS__)
#define QUIET(...) RUN(SL_RUN_NULL, SL_RUN_NULL, __VA_ARGS__)
#define run_said sl_say_merged
#define capture sl_say_capture

static void app_of(const char *inst, struct sl_buf *out)
{
	sl_node_app_of(inst, out);
}

/* --- locations and routes ---------------------------------------------- */

static void parse_location(const char *text, int flags, struct sl_location *loc)
{
	struct sl_err err = SL_ERR_INIT;

	if (sl_location_parse(text, flags, loc, &err) < 0)
		sl_die_err(&err);
}

static void routes_load(struct sl_routes *r)
{
	struct sl_err err = SL_ERR_INIT;

	if (sl_switch_load(r, &err) < 0)
		sl_die_err(&err);
}

/* Whether INST serves a location in the state on disk now. */
static int routed_now(const char *inst)
{
	struct sl_routes r = SL_ROUTES_INIT;
	int ret;

	routes_load(&r);
	ret = sl_switch_serves(&r, inst);
	sl_routes_release(&r);
	return ret;
}

static void node_name(struct sl_buf *out)
{
	char h[256];

	if (gethostname(h, sizeof(h)) < 0)
		snprintf(h, sizeof(h), "localhost");
	h[sizeof(h) - 1] = 0;
	sl_buf_reset(out);
	sl_buf_adds(out, h);
}

/*
 * The canonical location of LOCS: the shortest real host (a wildcard's
 * domain, the node's name for "*" and "not-found"), the first in order of
 * those as short, as "HOST PATH" into OUT.
 */
static void canonical(const struct sl_location *locs, size_t n, struct sl_buf *out)
{
	struct sl_buf node = SL_BUF_INIT, best = SL_BUF_INIT, one = SL_BUF_INIT;
	size_t best_len = 0;

	node_name(&node);
	for (size_t i = 0; i < n; i++) {
		const char *h = locs[i].host;
		size_t len;

		if (*h == '.')
			h++;
		if (!strncmp(h, "prev.", 5))
			h += 5;
		if (sl_location_is_default(locs[i].host))
			h = node.buf;
		len = strlen(h);
		sl_buf_reset(&one);
		sl_buf_addf(&one, "%s %s", h, locs[i].path);
		if (i == 0 || len < best_len ||
		    (len == best_len && strcmp(one.buf, best.buf) < 0)) {
			best_len = len;
			sl_buf_reset(&best);
			sl_buf_adds(&best, one.buf);
		}
	}
	sl_buf_reset(out);
	sl_buf_adds(out, best.buf);
	sl_buf_release(&node);
	sl_buf_release(&best);
	sl_buf_release(&one);
}

/* --- switching (switch.h) -------------------------------------------------- */

static struct sl_switch sw = { { told, NULL }, 10, NULL };

/* R becomes the node's routes: 0, or the exit code of a switch that did not happen (said). */
static int commit_routes(const struct sl_routes *r)
{
	struct sl_err err = SL_ERR_INIT;
	int rc = sl_switch_commit(&sw, r, &err);

	if (rc < 0)
		sl_die_err(&err);
	if (rc > 0) {
		say("fatal: %s", err.msg.buf);
		rc = err.code;
	}
	sl_err_release(&err);
	return rc;
}

static void retire_unused(void)
{
	struct sl_err err = SL_ERR_INIT;

	if (sl_switch_retire(&sw, &err) < 0)
		sl_die_err(&err);
}

/* --- the instance (prepare.h, gate.h) -------------------------------------- */

static struct sl_prepare prep = { { told, NULL }, 0 };
static struct sl_gate gatekeeper = { { told, NULL }, 600, STDERR_FILENO };

static int lock_or_die(const char *app, int timeout)
{
	struct sl_err err = SL_ERR_INIT;
	int fd = sl_node_lock(app, timeout, &err);

	if (fd < 0)
		sl_die_err(&err);
	return fd;
}

static void print_url(const char *host, const char *path, int https)
{
	struct sl_buf node = SL_BUF_INIT, url = SL_BUF_INIT;

	node_name(&node);
	sl_location_url(host, path, node.buf, &url);
	printf("%s%s%s\n", https ? "https" : "", url.buf + (https ? 4 : 0),
	       sl_location_is_default(host) ? " (every other host)" : "");
	sl_buf_release(&node);
	sl_buf_release(&url);
}

/* --- HTTPS (acme.h, tls.h) ------------------------------------------------- */

static struct sl_acme acme = { { told, NULL }, NULL, NULL, 0 };
static int hsts = -1;		/* --hsts 1, --no-hsts 0, neither -1 */

/* The flags LOC takes in R: what it had, changed by its scheme and --hsts. */
static unsigned flags_of(const struct sl_routes *r, const struct sl_location *loc)
{
	unsigned f = 0;

	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].host, loc->host) && !strcmp(r->v[i].path, loc->path))
			f = r->v[i].flags;
	if (loc->https)
		f |= SL_ROUTE_HTTPS;
	if (loc->http)
		f = 0;
	if (hsts >= 0)
		f = hsts ? f | SL_ROUTE_HSTS : f & ~(unsigned)SL_ROUTE_HSTS;
	return f;
}

/*
 * A certificate for every host of LOCS that is to be served over HTTPS,
 * before anything switches; FLAGS[i] what LOCS[i] will be. A host none can
 * be had for stops the deploy: 0, or the exit code (said). On a node with
 * balancers none is asked for: TLS is the balancers' (sl-balancer --cert).
 */
static int certificates(const struct sl_location *locs, const unsigned *flags, int n)
{
	struct sl_err err = SL_ERR_INIT;
	struct sl_strv bal = SL_STRV_INIT;
	int behind;

	if (sl_switch_balancers_load(&bal, &err) < 0) {
		say("fatal: %s", err.msg.buf);
		return err.code;
	}
	behind = bal.n > 0;
	sl_strv_clear(&bal);
	for (int i = 0; i < n; i++) {
		int dup = 0, changed = 0;

		if ((flags[i] & SL_ROUTE_HSTS) && !(flags[i] & SL_ROUTE_HTTPS)) {
			say("fatal: %s%s is not served over HTTPS: HSTS needs https://",
			    locs[i].host, locs[i].path);
			return SL_EXIT_USAGE;
		}
		if (!(flags[i] & SL_ROUTE_HTTPS) || behind)
			continue;
		for (int j = 0; j < i; j++)
			dup |= (flags[j] & SL_ROUTE_HTTPS) && !strcmp(locs[j].host, locs[i].host);
		if (dup)
			continue;
		/* a new certificate changes nginx's text: the switch reloads it */
		if (sl_acme_ensure(&acme, locs[i].host, &changed, &err) < 0) {
			say("fatal: %s", err.msg.buf);
			return err.code;
		}
	}
	return 0;
}

/* LOCS of R routed to INST with FLAGS; what served one before moves to its prev. */
static void route_to(struct sl_routes *r, const struct sl_location *locs,
		     const unsigned *flags, size_t n, const char *inst)
{
	struct sl_buf prev = SL_BUF_INIT;

	for (size_t i = 0; i < n; i++) {
		const char *old = sl_routes_get(r, locs[i].host, locs[i].path);
		char *was = old ? strdup(old) : NULL;

		sl_routes_set(r, locs[i].host, locs[i].path, inst);
		if (flags)
			sl_routes_set_flags(r, locs[i].host, locs[i].path, flags[i]);
		if (was && strcmp(was, inst) && strncmp(locs[i].host, "prev.", 5)) {
			sl_location_prev(locs[i].host, &prev);
			sl_routes_set(r, prev.buf, locs[i].path, was);
		}
		free(was);
	}
	sl_buf_release(&prev);
}

/* When each phase of a deploy began (now_ns). */
struct phases {
	long long t0, t1, t2, tc, td;
};

/* ARGV[0..N) parsed into LOCS; dies on a bad one. */
static void parse_locations(char **argv, int n, struct sl_location *locs)
{
	for (int i = 0; i < n; i++)
		parse_location(argv[i], SL_LOC_HTTPS, &locs[i]);
}

/* INST, a valid name of an uploaded instance, or die (100). */
static void instance_or_die(const char *inst)
{
	struct sl_buf dir = SL_BUF_INIT;
	struct stat st;

	if (!sl_instance_name_valid(inst))
		sl_die(SL_EXIT_USAGE, "invalid instance name '%s'", inst);
	sl_node_instance_path(&dir, "instances", inst);
	if (stat(dir.buf, &st) < 0 || !S_ISDIR(st.st_mode))
		sl_die(SL_EXIT_USAGE, "no instance %s on this node", inst);
	sl_buf_release(&dir);
}

/*
 * INST made ready to serve LOCS[0..N): prepared, started, gated, their
 * certificates had, under its app's lock (which the caller keeps). Dies
 * as activate does, the instance stopped, nothing switched.
 */
static void make_ready(const char *inst, const struct sl_location *locs, unsigned *flags,
		       int n, struct sl_buf *app, struct phases *t)
{
	struct sl_buf where = SL_BUF_INIT;
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_app a = SL_APP_INIT;
	struct sl_err err = SL_ERR_INIT;
	int rc;

	canonical(locs, (size_t)n, &where);
	t->t0 = now_ns();
	app_of(inst, app);
	lock_or_die(app->buf, (int)(gatekeeper.fetch_limit + 120));
	sw.locked_app = app->buf;
	/* made ready again: switched only once this says so again */
	sl_node_ready_unmark(inst);
	if (sl_prepare_instance(&prep, inst, &a, where.buf, &locs[0], &err) < 0)
		sl_die_err(&err);
	t->t1 = now_ns();
	rc = sl_prepare_start(&talk, inst, &err);
	t->t2 = now_ns();
	if (rc || sl_gate_check(&gatekeeper, inst, &a, where.buf, &err)) {
		if (!routed_now(inst))
			sl_unit_disable_now(&talk, inst);
		sl_die(SL_EXIT_USAGE, "%s failed its checks; nothing switched, "
		       "the old instance keeps serving", inst);
	}
	/* the certificates before the node's lock: an issuance takes seconds */
	t->tc = now_ns();
	routes_load(&r);
	for (int i = 0; i < n; i++)
		flags[i] = flags_of(&r, &locs[i]);
	sl_routes_release(&r);
	rc = certificates(locs, flags, n);
	if (rc) {
		if (!routed_now(inst))
			sl_unit_disable_now(&talk, inst);
		sl_die(rc, "%s has no certificate for its location; nothing switched, "
		       "the old instance keeps serving", inst);
	}
	t->td = now_ns();
	sl_app_release(&a);
	sl_buf_release(&where);
}

/*
 * LOCS[0..N) switched to INST, ready and its app locked: the routes under
 * the node's lock, then what follows a switch (retire, jobs); returns the
 * time the switch began and, in *END, when it ended. Exits with the
 * switch's code when it did not happen (INST stopped unless KEEP).
 */
static long long switch_to(const char *inst, const struct sl_location *locs, unsigned *flags,
			   int n, int keep, long long *end)
{
	struct sl_routes r = SL_ROUTES_INIT;
	long long t3;
	int rc;

	lock_or_die(NULL, NODE_LOCK_WAIT);
	routes_load(&r);
	for (int i = 0; i < n; i++)
		flags[i] = flags_of(&r, &locs[i]);
	route_to(&r, locs, flags, (size_t)n, inst);
	t3 = now_ns();
	rc = commit_routes(&r);
	if (rc) {
		/* a switch that fails must not leave the new instance running */
		if (!keep && !routed_now(inst))
			sl_unit_disable_now(&talk, inst);
		exit(rc);
	}
	*end = now_ns();
	sl_node_ready_unmark(inst);
	retire_unused();
	sl_jobs_after_switch(&talk);
	sl_routes_release(&r);
	return t3;
}

static void print_urls(const struct sl_location *locs, const unsigned *flags, int n)
{
	for (int i = 0; i < n; i++)
		print_url(locs[i].host, locs[i].path, (flags[i] & SL_ROUTE_HTTPS) != 0);
}

static void activate(char **argv, int argc)
{
	const char *inst = argv[0];
	int n = argc - 1;
	struct sl_location *locs = calloc((size_t)n, sizeof(*locs));
	unsigned *flags = calloc((size_t)n, sizeof(*flags));
	struct sl_buf app = SL_BUF_INIT;
	struct phases t;
	long long t3, t4;

	if (!locs || !flags)
		sl_die(SL_EXIT_TEMP, "out of memory");
	instance_or_die(inst);
	parse_locations(argv + 1, n, locs);
	make_ready(inst, locs, flags, n, &app, &t);
	t3 = switch_to(inst, locs, flags, n, 0, &t4);
	say("%s: prepare %s, start %s, checks %s, certificates %s, switch %s", inst,
	    ms(t.t0, t.t1), ms(t.t1, t.t2), ms(t.t2, t.tc), ms(t.tc, t.td), ms(t3, now_ns()));
	(void)t4;
	print_urls(locs, flags, n);
	sl_exit_flush();
}

/*
 * --again LOCATION: a copy of the instance serving LOCATION, as a new
 * instance (sl_instance_copy), made ready and switched as a deploy's is at
 * every location the old one serves: its services set up again with what
 * the node says now (a database moved to another server). Prints the new
 * instance's name. A failure leaves the old instance serving.
 */
static void again(const char *text)
{
	struct sl_location loc = SL_LOCATION_INIT, *locs;
	struct sl_routes r = SL_ROUTES_INIT, now_r = SL_ROUTES_INIT;
	struct sl_buf app = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct phases t;
	unsigned *flags;
	char *old, *inst = NULL;
	long long t3, t4;
	int n = 0;

	parse_location(text, SL_LOC_HTTPS, &loc);
	routes_load(&r);
	if (!sl_routes_get(&r, loc.host, loc.path))
		sl_die(SL_EXIT_NO, "nothing is mapped at %s", text);
	old = strdup(sl_routes_get(&r, loc.host, loc.path));
	locs = calloc(r.n, sizeof(*locs));
	flags = calloc(r.n, sizeof(*flags));
	if (!old || !locs || !flags)
		sl_die(SL_EXIT_TEMP, "out of memory");
	/* every location it serves (its prev.* ones stay), the asked one first */
	locs[n].host = loc.host;
	locs[n++].path = loc.path;
	for (size_t i = 0; i < r.n; i++)
		if (!strcmp(r.v[i].instance, old) && strncmp(r.v[i].host, "prev.", 5) &&
		    (strcmp(r.v[i].host, loc.host) || strcmp(r.v[i].path, loc.path))) {
			locs[n].host = r.v[i].host;
			locs[n++].path = r.v[i].path;
		}
	instance_or_die(old);
	if (sl_instance_copy(sl_instance_root(), old, &inst, &err) < 0)
		sl_die_err(&err);
	say("%s: a copy of %s", inst, old);
	make_ready(inst, locs, flags, n, &app, &t);
	/* under the app's lock now: a deploy that switched meanwhile is not undone */
	routes_load(&now_r);
	for (int i = 0; i < n; i++) {
		const char *now = sl_routes_get(&now_r, locs[i].host, locs[i].path);

		if (!now || strcmp(now, old)) {
			if (!routed_now(inst))
				sl_unit_disable_now(&talk, inst);
			sl_die(SL_EXIT_USAGE, "%s%s is served by %s now, not %s: nothing switched",
			       locs[i].host, locs[i].path, now ? now : "nothing", old);
		}
	}
	t3 = switch_to(inst, locs, flags, n, 0, &t4);
	say("%s: prepare %s, start %s, checks %s, certificates %s, switch %s", inst,
	    ms(t.t0, t.t1), ms(t.t1, t.t2), ms(t.t2, t.tc), ms(t.tc, t.td), ms(t3, t4));
	printf("%s\n", inst);
	sl_exit_flush();
}

/*
 * --prepare [options] INSTANCE LOCATION...: activate up to the switch,
 * then the mark (prepare.h): "hsts N" and the locations, one a line.
 */
static void prepare_only(char **argv, int argc)
{
	const char *inst = argv[0];
	int n = argc - 1;
	struct sl_location *locs = calloc((size_t)n, sizeof(*locs));
	unsigned *flags = calloc((size_t)n, sizeof(*flags));
	struct sl_buf app = SL_BUF_INIT, mark = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct phases t;

	if (!locs || !flags)
		sl_die(SL_EXIT_TEMP, "out of memory");
	instance_or_die(inst);
	parse_locations(argv + 1, n, locs);
	make_ready(inst, locs, flags, n, &app, &t);
	sl_buf_addf(&mark, "hsts %d\n", hsts);
	for (int i = 0; i < n; i++)
		sl_buf_addf(&mark, "%s\n", argv[i + 1]);
	if (sl_node_ready_mark(inst, mark.buf, &err) < 0) {
		if (!routed_now(inst))
			sl_unit_disable_now(&talk, inst);
		sl_die_err(&err);
	}
	say("%s: prepare %s, start %s, checks %s, certificates %s; ready to switch", inst,
	    ms(t.t0, t.t1), ms(t.t1, t.t2), ms(t.t2, t.tc), ms(t.tc, t.td));
	sl_exit_flush();
}

/* Whether LOC is one of the locations MARK (a --prepare's) names. */
static int marked_for(const char *mark, const struct sl_location *loc)
{
	struct sl_buf text = SL_BUF_INIT;
	char *line, *save = NULL;
	int found = 0;

	sl_buf_adds(&text, mark);
	line = strtok_r(text.buf, "\n", &save);		/* hsts N */
	while (!found && (line = strtok_r(NULL, "\n", &save))) {
		struct sl_location m = SL_LOCATION_INIT;
		struct sl_err err = SL_ERR_INIT;

		if (sl_location_parse(line, SL_LOC_HTTPS, &m, &err) == 0)
			found = !strcmp(m.host, loc->host) && !strcmp(m.path, loc->path) &&
				m.https == loc->https && m.http == loc->http;
		sl_location_release(&m);
		sl_err_release(&err);
	}
	sl_buf_release(&text);
	return found;
}

/* --switch INSTANCE LOCATION...: LOCATION to INSTANCE, which --prepare made ready for it. */
static void switch_only(char **argv, int argc)
{
	const char *inst = argv[0];
	int n = argc - 1, marked_n = 0;
	struct sl_location *locs = calloc((size_t)n, sizeof(*locs));
	unsigned *flags = calloc((size_t)n, sizeof(*flags));
	struct sl_buf app = SL_BUF_INIT, mark = SL_BUF_INIT;
	long long t0, t1, t3, t4;

	if (!locs || !flags)
		sl_die(SL_EXIT_TEMP, "out of memory");
	instance_or_die(inst);
	parse_locations(argv + 1, n, locs);
	t0 = now_ns();
	app_of(inst, &app);
	lock_or_die(app.buf, NODE_LOCK_WAIT);
	sw.locked_app = app.buf;
	t1 = now_ns();
	if (!sl_node_ready_marked(inst, &mark) || sscanf(mark.buf, "hsts %d", &hsts) != 1)
		sl_die(SL_EXIT_USAGE, "%s was not made ready to switch: "
		       "sl-activate --prepare %s LOCATION first", inst, inst);
	for (const char *c = mark.buf; *c; c++)
		marked_n += *c == '\n';
	for (int i = 0; i < n; i++)
		if (!marked_for(mark.buf, &locs[i]))
			sl_die(SL_EXIT_USAGE, "%s was made ready for other locations, not %s",
			       inst, argv[i + 1]);
	if (marked_n - 1 != n)
		sl_die(SL_EXIT_USAGE, "%s was made ready for %d locations, not %d: "
		       "switch them together", inst, marked_n - 1, n);
	if (!sl_unit_active(&talk, inst))
		sl_die(SL_EXIT_USAGE, "%s is not running (its server and socket are stopped): "
		       "sl-activate --prepare it again", inst);
	t3 = switch_to(inst, locs, flags, n, 1, &t4);
	say("%s: lock %s, switch %s, retire %s", inst, ms(t0, t1), ms(t3, t4),
	    ms(t4, now_ns()));
	print_urls(locs, flags, n);
	sl_exit_flush();
}

/* --abandon INSTANCE: one that a route names stays; else stopped, unmarked. */
static void abandon(const char *inst)
{
	struct sl_routes r = SL_ROUTES_INIT;

	instance_or_die(inst);
	lock_or_die(NULL, NODE_LOCK_WAIT);
	routes_load(&r);
	for (size_t i = 0; i < r.n; i++)
		if (!strcmp(r.v[i].instance, inst))
			sl_die(SL_EXIT_USAGE, "%s serves %s%s: it is not abandoned", inst,
			       r.v[i].host, strcmp(r.v[i].path, "/") ? r.v[i].path : "");
	if (sl_unit_active(&talk, inst)) {
		sl_unit_disable_now(&talk, inst);
		say("%s stopped", inst);
	}
	sl_node_ready_unmark(inst);
	sl_routes_release(&r);
	sl_exit_flush();
}

/*
 * --balancers [IP...]: the node's balancers (switch.h), nginx rendered
 * again; the list as it was when nginx cannot take it. Prints them.
 */
static void balancers(char **ips, int n)
{
	struct sl_strv old = SL_STRV_INIT;
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_err err = SL_ERR_INIT;

	for (int i = 0; i < n; i++)
		if (!sl_render_balancer_ok(ips[i]))
			sl_die(SL_EXIT_USAGE, "invalid balancer address '%s': want an IPv4 address "
			       "such as 10.0.0.5", ips[i]);
	lock_or_die(NULL, NODE_LOCK_WAIT);
	routes_load(&r);
	if (sl_switch_balancers_load(&old, &err) < 0)
		say("warning: %s (replaced)", err.msg.buf);
	sl_err_release(&err);
	if (sl_switch_balancers_write(ips, (size_t)n, &err) < 0)
		sl_die_err(&err);
	if (sl_switch_again(&sw, &r, &err) < 0) {
		struct sl_err back = SL_ERR_INIT;

		if (sl_switch_balancers_write(old.v, old.n, &back) == 0)
			sl_switch_again(&sw, &r, &back);
		sl_die_err(&err);
	}
	if (!n)
		say("no balancer: nginx believes no X-Forwarded-For");
	for (int i = 0; i < n; i++)
		printf("%s\n", ips[i]);
	sl_strv_clear(&old);
	sl_routes_release(&r);
	sl_exit_flush();
}

/* prev LOCATION: swap it with prev.LOCATION. */
static void rollback(const char *text)
{
	struct sl_location loc = SL_LOCATION_INIT;
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_buf prevhost = SL_BUF_INIT, dir = SL_BUF_INIT, where = SL_BUF_INIT;
	struct sl_buf p = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	long long t0, t1, t2, t3;
	struct stat st;
	char *cur, *prev;
	int rc;

	parse_location(text, SL_LOC_HTTPS, &loc);
	t0 = now_ns();
	lock_or_die(NULL, NODE_LOCK_WAIT);
	t1 = now_ns();
	routes_load(&r);
	sl_location_prev(loc.host, &prevhost);
	cur = sl_routes_get(&r, loc.host, loc.path) ? strdup(sl_routes_get(&r, loc.host, loc.path)) : NULL;
	prev = sl_routes_get(&r, prevhost.buf, loc.path) ?
		strdup(sl_routes_get(&r, prevhost.buf, loc.path)) : NULL;
	if (!prev)
		sl_die(SL_EXIT_NO, "no previous instance for %s%s", loc.host,
		       strcmp(loc.path, "/") ? loc.path : "");
	sl_node_instance_path(&dir, "instances", prev);
	if (stat(dir.buf, &st) < 0)
		sl_die(SL_EXIT_USAGE, "the previous instance %s was removed (clean-node)", prev);
	canonical(&loc, 1, &where);
	sl_buf_addch(&where, '\n');
	sl_node_instance_path(&p, "run", prev);
	sl_buf_adds(&p, "/location");
	if (sl_file_write(p.buf, where.buf, where.len, 0644, SL_FILE_REPLACE, &err) < 0)
		sl_die_err(&err);
	if (sl_prepare_start(&talk, prev, NULL))
		sl_die(SL_EXIT_USAGE, "%s did not start; nothing switched", prev);
	t2 = now_ns();
	sl_routes_set(&r, loc.host, loc.path, prev);
	if (cur)
		sl_routes_set(&r, prevhost.buf, loc.path, cur);
	rc = commit_routes(&r);
	if (rc)
		exit(rc);
	t3 = now_ns();
	retire_unused();
	sl_jobs_after_switch(&talk);
	say("%s: lock %s, start %s, switch %s, retire %s", prev, ms(t0, t1), ms(t1, t2),
	    ms(t2, t3), ms(t3, now_ns()));
	printf("%s\n", prev);
	sl_exit_flush();
}

/*
 * --deactivate [--keep-prev] LOCATION...: a location that names a route
 * removes it (and its prev.); otherwise its host is a pattern (*) and a
 * path of / matches every path.
 */
static void deactivate(char **argv, int argc)
{
	struct sl_routes r = SL_ROUTES_INIT, was = SL_ROUTES_INIT;
	struct sl_buf prevhost = SL_BUF_INIT, all = SL_BUF_INIT;
	int keep = 0, n = 0, rc;

	if (argc > 0 && !strcmp(argv[0], "--keep-prev")) {
		keep = 1;
		argv++;
		argc--;
	}
	if (argc < 1)
		sl_die_usage(USAGE);
	lock_or_die(NULL, NODE_LOCK_WAIT);
	routes_load(&r);
	routes_load(&was);
	for (int i = 0; i < argc; i++) {
		struct sl_location loc = SL_LOCATION_INIT;
		int exact;

		parse_location(argv[i], SL_LOC_PREV | SL_LOC_HTTPS, &loc);
		sl_location_prev(loc.host, &prevhost);
		exact = sl_routes_get(&was, loc.host, loc.path) != NULL;
		for (size_t j = 0; j < was.n; j++) {
			const struct sl_route *t = &was.v[j];

			if (exact) {
				if ((strcmp(t->host, loc.host) && strcmp(t->host, prevhost.buf)) ||
				    strcmp(t->path, loc.path))
					continue;
			} else {
				if (fnmatch(loc.host, t->host, 0) && fnmatch(prevhost.buf, t->host, 0))
					continue;
				if (strcmp(t->path, loc.path) && strcmp(loc.path, "/"))
					continue;
			}
			if (keep && !strncmp(t->host, "prev.", 5) && strncmp(loc.host, "prev.", 5))
				continue;
			if (sl_routes_get(&r, t->host, t->path)) {
				sl_routes_set(&r, t->host, t->path, NULL);
				n++;
			}
		}
		sl_buf_addf(&all, "%s%s", i ? " " : "", argv[i]);
		sl_location_release(&loc);
	}
	if (!n)
		sl_die(SL_EXIT_NO, "nothing is mapped at %s", all.buf);
	rc = commit_routes(&r);
	if (rc)
		exit(rc);
	retire_unused();
	sl_jobs_after_switch(&talk);
	sl_exit_flush();
}

static void set_disabled(int on, const char *text)
{
	struct sl_location loc = SL_LOCATION_INIT;
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_buf app = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	const char *inst;
	int rc;

	parse_location(text, SL_LOC_HTTPS, &loc);
	lock_or_die(NULL, NODE_LOCK_WAIT);
	routes_load(&r);
	inst = sl_routes_get(&r, loc.host, loc.path);
	if (!inst)
		sl_die(SL_EXIT_NO, "nothing is mapped at %s", text);
	app_of(inst, &app);
	if (sl_node_set_disabled(app.buf, on, &err) < 0)
		sl_die_err(&err);
	rc = commit_routes(&r);
	if (rc)
		exit(rc);
	printf("%s %s\n", app.buf, on ? "disabled" : "enabled");
	sl_exit_flush();
}

/*
 * --routes: nginx's text and every link made again from the state (a new
 * node, a package upgrade, an older node's routes); nginx reloaded when it
 * runs and does not serve this text yet.
 */
static void routes_again(void)
{
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_err err = SL_ERR_INIT;

	lock_or_die(NULL, NODE_LOCK_WAIT);
	routes_load(&r);
	if (sl_switch_again(&sw, &r, &err) < 0)
		sl_die_err(&err);
	sl_exit_flush();
}

/* --- an instance that keeps failing (failing.h) ------------------------- */

static void unit_start(const char *inst)
{
	struct sl_failing f = SL_FAILING_INIT;
	long delay;

	if (!sl_instance_name_valid(inst))
		sl_die(SL_EXIT_USAGE, "invalid instance name '%s'", inst);
	if (!sl_failing_read(inst, &f))
		f.n = 0;
	delay = sl_failing_delay(f.n);
	if (delay) {
		say("%s failed %ld times in a row: starting it again in %lds", inst, f.n, delay);
		sleep((unsigned)delay);
	}
	if (f.n >= 1) {
		f.since = (long)time(NULL);
		sl_failing_write(inst, &f, NULL);
	}
	sl_exit_flush();
}

/*
 * The instance's server, in the app's environment (sl-env --node): its
 * php-fpm master when prepare wrote run/INST/php-fpm.conf (a PHP app),
 * else its uWSGI. Runs in place of sl-activate (the unit's main process).
 */
_Noreturn static void unit_exec(const char *inst)
{
	struct sl_buf run = SL_BUF_INIT, dir = SL_BUF_INIT, conf = SL_BUF_INIT;
	struct stat st;

	if (!sl_instance_name_valid(inst))
		sl_die(SL_EXIT_USAGE, "invalid instance name '%s'", inst);
	sl_node_instance_path(&run, "run", inst);
	sl_node_instance_path(&dir, "instances", inst);
	sl_buf_addf(&conf, "%s/php-fpm.conf", run.buf);
	if (lstat(conf.buf, &st) == 0) {
		execv("/usr/bin/sl-env", (char *[]){ "sl-env", "--node", dir.buf, "--",
		      "/usr/sbin/php-fpm8.2", "--nodaemonize", "--fpm-config", conf.buf, NULL });
	} else {
		sl_buf_reset(&conf);
		sl_buf_addf(&conf, "%s/uwsgi.ini", run.buf);
		execv("/usr/bin/sl-env", (char *[]){ "sl-env", "--node", dir.buf, "--",
		      "/usr/bin/uwsgi", "--ini", conf.buf, NULL });
	}
	sl_die(SL_EXIT_TEMP, "unable to run /usr/bin/sl-env for %s: %s", inst, strerror(errno));
}

static void unit_stop(const char *inst)
{
	const char *result = getenv("SERVICE_RESULT");
	const char *code = getenv("EXIT_CODE"), *status = getenv("EXIT_STATUS");
	struct sl_failing f = SL_FAILING_INIT;
	struct sl_buf p = SL_BUF_INIT;
	time_t now = time(NULL);

	if (!sl_instance_name_valid(inst))
		sl_die(SL_EXIT_USAGE, "invalid instance name '%s'", inst);
	sl_failing_path(&p, inst);
	if (!result || !*result || !strcmp(result, "success")) {
		unlink(p.buf);
		sl_exit_flush();
	}
	sl_failing_path(&p, NULL);
	if (sl_file_mkdirs(p.buf, 0755, NULL) < 0 || chmod(p.buf, 0755) < 0)
		sl_exit_flush();
	if (!sl_failing_read(inst, &f))
		f = (struct sl_failing){ 0, (long)now };
	sl_failing_count(&f, now);
	sl_failing_write(inst, &f, NULL);
	say("%s stopped (%s, %s %s): failure %ld", inst, result, code ? code : "",
	    status ? status : "", f.n);
	sl_exit_flush();
}

/* The options of INSTANCE LOCATION...: 1 when OPT is one. */
static int activate_option(const char *opt)
{
	return !strcmp(opt, "--clear") || !strcmp(opt, "--hsts") || !strcmp(opt, "--no-hsts") ||
		!strcmp(opt, "--acme-directory") || !strcmp(opt, "--acme-email");
}

/* Takes them off the front of ARGV (after argv[0]). */
static void activate_options(int *argc, char ***argv)
{
	struct sl_err err = SL_ERR_INIT;
	const char *dir = NULL, *email = NULL;

	while (*argc > 1 && activate_option((*argv)[1])) {
		const char *opt = (*argv)[1];
		int takes = !strncmp(opt, "--acme-", 7);

		if (takes && *argc < 3)
			sl_die(SL_EXIT_USAGE, "%s needs a value", opt);
		if (!strcmp(opt, "--clear"))
			prep.clear = 1;
		else if (!strcmp(opt, "--hsts"))
			hsts = 1;
		else if (!strcmp(opt, "--no-hsts"))
			hsts = 0;
		else if (!strcmp(opt, "--acme-directory"))
			dir = (*argv)[2];
		else
			email = (*argv)[2];
		*argv += 1 + takes;
		*argc -= 1 + takes;
	}
	/* given, they become the node's: renewals use them too */
	if ((dir || email) && sl_acme_configure(dir, email, &err) < 0)
		sl_die_err(&err);
	acme.directory = dir;
	acme.email = email;
}

int main(int argc, char **argv)
{
	const char *verb;

	sl_msg_init(argv[0]);
	/* the unit's server: before anything here changes the environment it inherits */
	if (argc == 3 && !strcmp(argv[1], "--unit-exec"))
		unit_exec(argv[2]);
	umask(022);
	sl_node_env();
	setenv("DEBIAN_FRONTEND", "noninteractive", 1);
	if (argc < 2)
		sl_die_usage(USAGE);
	verb = argv[1];
	if (!strcmp(verb, "-h") || !strcmp(verb, "--help")) {
		printf("usage: %s\n", USAGE);
		sl_exit_flush();
	}
	if (!strcmp(verb, "--version")) {
		printf("sl-activate %s\n", SL_VERSION);
		sl_exit_flush();
	}
	if (*verb == '-' && strcmp(verb, "--routes") && strcmp(verb, "--deactivate") &&
	    strcmp(verb, "--disable") && strcmp(verb, "--enable") && !activate_option(verb) &&
	    strcmp(verb, "--unit-start") && strcmp(verb, "--unit-stop") &&
	    strcmp(verb, "--unit-exec") && strcmp(verb, "--prepare") &&
	    strcmp(verb, "--switch") && strcmp(verb, "--abandon") &&
	    strcmp(verb, "--balancers") && strcmp(verb, "--again")) {
		fprintf(stderr, "%s: fatal: unknown option %s\n", sl_msg_prog(), verb);
		sl_die_usage(USAGE);
	}
	if (geteuid() != 0)
		sl_die(SL_EXIT_USAGE, "sl-activate runs as root on the node");
	gatekeeper.fetch_limit = env_long("SL_FETCH_LIMIT", 600);
	sw.drain = env_long("SL_DRAIN", 10);
	if (!strcmp(verb, "--routes")) {
		if (argc != 2)
			sl_die_usage(USAGE);
		routes_again();
	}
	if (!strcmp(verb, "--deactivate"))
		deactivate(argv + 2, argc - 2);
	if (!strcmp(verb, "--balancers"))
		balancers(argv + 2, argc - 2);
	if (!strcmp(verb, "--abandon")) {
		if (argc != 3)
			sl_die_usage(USAGE);
		abandon(argv[2]);
	}
	if (!strcmp(verb, "--again")) {
		if (argc != 3)
			sl_die_usage(USAGE);
		again(argv[2]);
	}
	if (!strcmp(verb, "--switch")) {
		if (argc < 4)
			sl_die_usage(USAGE);
		switch_only(argv + 2, argc - 2);
	}
	if (!strcmp(verb, "--prepare")) {
		argv++;
		argc--;
		activate_options(&argc, &argv);
		if (argc < 3 || !strcmp(argv[1], "prev") || *argv[1] == '-')
			sl_die_usage(USAGE);
		prepare_only(argv + 1, argc - 1);
	}
	if (activate_option(verb)) {
		activate_options(&argc, &argv);
		if (argc < 3)
			sl_die_usage(USAGE);
		verb = argv[1];
	}
	if (argc != 3 && (!strcmp(verb, "--unit-start") || !strcmp(verb, "--unit-stop") ||
			  !strcmp(verb, "--unit-exec") ||
			  !strcmp(verb, "--disable") || !strcmp(verb, "--enable") ||
			  !strcmp(verb, "prev")))
		sl_die_usage(USAGE);
	if (!strcmp(verb, "--unit-start"))
		unit_start(argv[2]);
	if (!strcmp(verb, "--unit-stop"))
		unit_stop(argv[2]);
	if (!strcmp(verb, "--disable") || !strcmp(verb, "--enable"))
		set_disabled(!strcmp(verb, "--disable"), argv[2]);
	if (!strcmp(verb, "prev") && hsts >= 0)
		sl_die(SL_EXIT_USAGE, "--hsts and --no-hsts go with INSTANCE LOCATION...: "
		       "a rollback keeps the location's settings");
	if (!strcmp(verb, "prev"))
		rollback(argv[2]);
	if (argc < 3)
		sl_die_usage(USAGE);
	activate(argv + 1, argc - 1);
}
