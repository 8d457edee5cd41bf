/* silverlining — drives libsl from the bats suite tests/unit/libsl.bats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../libsl/app.h"
#include "../libsl/appuser.h"
#include "../libsl/backups.h"
#include "../libsl/buf.h"
#include "../libsl/dbclient.h"
#include "../libsl/dbrecord.h"
#include "../libsl/diff.h"
#include "../libsl/failing.h"
#include "../libsl/fanout.h"
#include "../libsl/fcgi.h"
#include "../libsl/file.h"
#include "../libsl/gate.h"
#include "../libsl/instance.h"
#include "../libsl/location.h"
#include "../libsl/mem.h"
#include "../libsl/msg.h"
#include "../libsl/node.h"
#include "../libsl/nodeset.h"
#include "../libsl/quote.h"
#include "../libsl/route.h"
#include "../libsl/run.h"
#include "../libsl/service-db.h"
#include "../libsl/jobs.h"
#include "../libsl/strv.h"
#include "../libsl/switch.h"
#include "../libsl/template.h"

#define USAGE "libsl-test buf | strv | quote sh|word|url STRING | run ARGV... | " \
	"capture ARGV... | write PATH MODE replace|excl DATA | mkdirs PATH | " \
	"dbname NAME | which NAME PATH | appuser < NAMES | " \
	"appuser-check APP USER GECOS | location [--prev] [--https] LOC... | " \
	"location-url HOST PATH NODE | " \
	"routes FILE [set HOST PATH INST|- | flags HOST PATH N]... | " \
	"routes-match FILE HOST PATH | template DIR OUT [VAR=VALUE...] | " \
	"diff OLDDIR|- NEWDIR | links | failing | switch-changed OLD|- NEW | " \
	"switch-render | fcgi SOCKET MS [NAME=VALUE...] | fcgi-parse < RECORDS | " \
	"gate-request INST HOST PATH URL TIMEOUT | jobs | jobs-calendar SCHEDULE | " \
	"jobs-serving ROUTES APP | nodeset FILE | nodeset-path NAME | node-resolve NODE | " \
	"fanout [-c] HOST CMD|fn:CODE... | dbrecord FILE | dbrecord-store FILE | " \
	"dbrecord-password FILE KIND APP | instance-copy FROM | dbclient < RECORD | " \
	"db-vars pg|my HOST PORT [QUERY [VAR=VALUE]] | " \
	"backups-retain DAILY WEEKLY STAMP:verified|bad|unverified... | backups-stamp S | " \
	"backups-tree DIR"

static int check(int ok, const char *what)
{
	if (!ok)
		sl_die(1, "check failed: %s", what);
	return ok;
}

static void test_buf(void)
{
	struct sl_buf b = SL_BUF_INIT;
	char *s;
	size_t len;

	check(b.len == 0 && b.buf[0] == '\0', "empty buffer is an empty string");
	sl_buf_setlen(&b, 0);
	for (int i = 0; i < 1000; i++)
		sl_buf_addf(&b, "%d,", i);
	check(b.len == strlen(b.buf), "len follows the text");
	check(!strncmp(b.buf, "0,1,2,", 6) && !strcmp(b.buf + b.len - 4, "999,"),
	      "addf appends");
	sl_buf_reset(&b);
	sl_buf_addf(&b, "%s", "");
	check(b.len == 0 && !*b.buf, "reset empties");
	sl_buf_add(&b, "a\0b", 3);
	check(b.len == 3 && b.buf[3] == '\0', "NUL bytes are counted");
	sl_buf_reset(&b);
	sl_buf_adds(&b, "  text \n\t");
	sl_buf_rtrim(&b);
	check(!strcmp(b.buf, "  text"), "rtrim");
	s = sl_buf_detach(&b, &len);
	check(len == 6 && !strcmp(s, "  text") && b.len == 0 && !b.buf[0],
	      "detach hands the string over");
	free(s);
	sl_buf_release(&b);
	puts("buf ok");
}

static void test_strv(void)
{
	struct sl_strv sv = SL_STRV_INIT;

	check(sv.v[0] == NULL, "empty vector is NULL-terminated");
	sl_strv_push(&sv, "A=1");
	sl_strv_pushf(&sv, "B=%d", 2);
	sl_strv_push(&sv, "AB=3");
	sl_strv_setenv(&sv, "A", "one");
	sl_strv_setenv(&sv, "C", "3");
	check(sl_strv_find_key(&sv, "A", 1) == 0, "find A, not AB");
	check(sl_strv_find_key(&sv, "AB", 2) == 2, "find AB");
	check(sl_strv_find_key(&sv, "Z", 1) == -1, "no Z");
	sl_strv_remove(&sv, 1);
	for (size_t i = 0; i < sv.n; i++)
		puts(sv.v[i]);
	check(sv.v[sv.n] == NULL, "still NULL-terminated");
	sl_strv_clear(&sv);
	check(sv.n == 0 && sv.v[0] == NULL, "clear empties");
}

static void test_quote(const char *how, const char *s)
{
	struct sl_buf b = SL_BUF_INIT;

	if (!strcmp(how, "sh"))
		sl_quote_sh(&b, s);
	else if (!strcmp(how, "word"))
		sl_quote_sh_word(&b, s);
	else if (!strcmp(how, "url"))
		sl_quote_url(&b, s);
	else
		sl_die_usage(USAGE);
	fwrite(b.buf, 1, b.len, stdout);
	sl_buf_release(&b);
}

/* "APP USER" for each app name read from stdin, one a line. */
static void test_appuser(void)
{
	struct sl_buf user = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	char buf[256];

	while (fgets(buf, sizeof(buf), stdin)) {
		buf[strcspn(buf, "\n")] = '\0';
		if (sl_appuser_name(buf, &user, &err) < 0)
			sl_die_err(&err);
		printf("%s %s\n", buf, user.buf);
	}
	sl_buf_release(&user);
}

/* Each location parsed: "HOST PATH [https]", or "error CODE: MESSAGE". */
static void test_location(char **argv)
{
	struct sl_location loc = SL_LOCATION_INIT;
	struct sl_err err = SL_ERR_INIT;
	int flags = 0;

	for (; *argv && (!strcmp(*argv, "--prev") || !strcmp(*argv, "--https")); argv++)
		flags |= !strcmp(*argv, "--prev") ? SL_LOC_PREV : SL_LOC_HTTPS;
	for (; *argv; argv++) {
		if (sl_location_parse(*argv, flags, &loc, &err) < 0)
			printf("error %d: %s\n", err.code, err.msg.buf);
		else
			printf("%s %s%s\n", loc.host, loc.path, loc.https ? " https" : "");
	}
	sl_location_release(&loc);
	sl_err_release(&err);
}

static void test_location_url(char **argv)
{
	struct sl_buf b = SL_BUF_INIT;

	sl_location_url(argv[0], argv[1], argv[2], &b);
	printf("%s", b.buf);
	sl_location_prev(argv[0], &b);
	printf(" %s\n", b.buf);
	sl_buf_release(&b);
}

/*
 * Loads FILE, applies each "set HOST PATH INSTANCE|-" and "flags HOST
 * PATH N" (sl_routes_set_flags), commits, lists (" flags=N" when not 0).
 */
static void test_routes(const char *file, char **ops)
{
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_err err = SL_ERR_INIT;

	if (sl_routes_load(file, &r, &err) < 0)
		sl_die_err(&err);
	for (; ops[0]; ops += 4) {
		if (!ops[1] || !ops[2] || !ops[3])
			sl_die_usage(USAGE);
		if (!strcmp(ops[0], "flags")) {
			sl_routes_set_flags(&r, ops[1], ops[2], (unsigned)atoi(ops[3]));
			continue;
		}
		if (strcmp(ops[0], "set"))
			sl_die_usage(USAGE);
		sl_routes_set(&r, ops[1], ops[2], strcmp(ops[3], "-") ? ops[3] : NULL);
		printf("get %s %s: %s\n", ops[1], ops[2],
		       sl_routes_get(&r, ops[1], ops[2]) ? sl_routes_get(&r, ops[1], ops[2]) : "(none)");
	}
	if (sl_routes_commit(&r, file, &err) < 0)
		sl_die_err(&err);
	for (size_t i = 0; i < r.n; i++) {
		printf("%s %s %s", r.v[i].host, r.v[i].path, r.v[i].instance);
		if (r.v[i].flags)
			printf(" flags=%u", r.v[i].flags);
		putchar('\n');
	}
	sl_routes_release(&r);
}

static void test_routes_match(const char *file, const char *host, const char *path)
{
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_err err = SL_ERR_INIT;
	const struct sl_route *m;

	if (sl_routes_load(file, &r, &err) < 0)
		sl_die_err(&err);
	m = sl_routes_match(&r, host, path);
	if (m)
		printf("%s %s %s\n", m->host, m->path, m->instance);
	else
		puts("(none)");
	sl_routes_release(&r);
}

/* What the switch says, on stderr: "said: LINE". */
static void said(void *ctx, const char *text, size_t len, int line)
{
	(void)ctx;
	fprintf(stderr, "said: %.*s%s", (int)len, text, line ? "\n" : "");
}

/* nginx's text for ROOT/routes, as the switch renders it, on stdout. */
static void test_switch_render(void)
{
	struct sl_switch sw = SL_SWITCH_INIT;
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf text = SL_BUF_INIT;

	sw.say.fn = said;
	if (sl_switch_load(&r, &err) < 0 || sl_switch_render(&sw, &r, &text, &err) < 0)
		sl_die_err(&err);
	fwrite(text.buf, 1, text.len, stdout);
	sl_routes_release(&r);
	sl_buf_release(&text);
}

/* The links of ROOT/routes made (each "HOST PATH CHANGED LINK"), the rest pruned. */
static void test_links(void)
{
	struct sl_routes r = SL_ROUTES_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf f = SL_BUF_INIT;

	sl_node_path(&f, "routes");
	if (sl_routes_load(f.buf, &r, &err) < 0)
		sl_die_err(&err);
	for (size_t i = 0; i < r.n; i++) {
		int changed = sl_node_link_set(r.v[i].host, r.v[i].path, r.v[i].instance, &err);

		if (changed < 0)
			sl_die_err(&err);
		sl_node_link_path(&f, r.v[i].host, r.v[i].path);
		printf("%s %s %d %s\n", r.v[i].host, r.v[i].path, changed, f.buf);
	}
	if (sl_node_links_prune(&r, &err) < 0)
		sl_die_err(&err);
	sl_routes_release(&r);
	sl_buf_release(&f);
}

static int test_run(char **argv, int capture)
{
	struct sl_child c = SL_CHILD_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf out = SL_BUF_INIT;
	int code;

	c.argv = argv;
	c.dir = getenv("RUN_DIR");
	c.close_fds = getenv("RUN_CLOSE_FDS") != NULL;
	if (capture)
		code = sl_run_capture(&c, &out, &err);
	else
		code = sl_run(&c, &err);
	if (code < 0)
		printf("error %d: %s\n", err.code, err.msg.buf);
	else if (capture)
		printf("captured %zu bytes: %s", out.len, out.buf);
	if (code >= 0)
		printf("exit %d\n", code);
	sl_err_release(&err);
	sl_buf_release(&out);
	return 0;
}

/* Lists DIR's variables, sets the assignments, writes OUT. */
static void test_template(const char *dir, const char *out, char **assign)
{
	struct sl_template t = SL_TEMPLATE_INIT;
	struct sl_strv skipped = SL_STRV_INIT;
	struct sl_err err = SL_ERR_INIT;

	if (sl_template_load(&t, dir, &skipped, &err) < 0)
		sl_die_err(&err);
	for (size_t i = 0; i < t.n; i++)
		printf("var %s listed=%d secret=%d desc=%s value=%s\n", t.v[i].name,
		       i < t.listed, sl_template_is_secret(t.v[i].name),
		       t.v[i].desc ? t.v[i].desc : "-", t.v[i].value ? t.v[i].value : "-");
	for (; *assign; assign++)
		if (sl_template_set(&t, *assign, &err) < 0)
			sl_die_err(&err);
	if (sl_template_write(&t, out, &err) < 0)
		sl_die_err(&err);
	puts("written");
	sl_template_release(&t);
	sl_strv_clear(&skipped);
}

/* The changes from OLD's manifest (or none: "-") to NEW's, a line each. */
static void test_diff(const char *old, const char *new)
{
	struct sl_manifest mo = SL_MANIFEST_INIT, mn = SL_MANIFEST_INIT;
	struct sl_ignore ign = SL_IGNORE_INIT;
	struct sl_strv skipped = SL_STRV_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_diff d = SL_DIFF_INIT;
	struct sl_buf line = SL_BUF_INIT;

	if ((strcmp(old, "-") && sl_manifest_scan(&mo, old, &ign, &skipped, &err) < 0) ||
	    sl_manifest_scan(&mn, new, &ign, &skipped, &err) < 0)
		sl_die_err(&err);
	sl_diff_manifests(&d, strcmp(old, "-") ? &mo : NULL, &mn);
	for (size_t i = 0; i < d.n; i++) {
		sl_buf_reset(&line);
		sl_diff_line(&line, &d.v[i]);
		printf("%s%s\n", line.buf, sl_diff_has_text(&d.v[i]) ? " [text]" : "");
	}
	sl_diff_release(&d);
	sl_buf_release(&line);
	sl_manifest_release(&mo);
	sl_manifest_release(&mn);
	sl_strv_clear(&skipped);
}

/* The failing record: its one line, the back-off, the count of a series. */
static void test_failing(void)
{
	struct sl_failing f = SL_FAILING_INIT;
	static const long delays[] = { 0, 0, 2, 4, 8, 16, 30, 30, 30 };
	struct sl_buf p = SL_BUF_INIT;

	check(sl_failing_parse("3 1700000000\n", &f) == 0 && f.n == 3 && f.since == 1700000000,
	      "a record reads back");
	check(sl_failing_parse("3", &f) < 0 && sl_failing_parse("-1 5", &f) < 0 &&
	      sl_failing_parse("x 5", &f) < 0 && sl_failing_parse("", &f) < 0 &&
	      f.n == 3 && f.since == 1700000000, "a bad record is refused, F kept");
	for (long n = 0; n < 9; n++)
		check(sl_failing_delay(n) == delays[n], "the back-off: 0, 0, 2, 4, 8, 16, 30...");
	f = (struct sl_failing){ 0, 1000 };
	sl_failing_count(&f, 1000);
	check(f.n == 1 && f.since == 1000, "a first failure counts one");
	f = (struct sl_failing){ 4, 1000 };
	sl_failing_count(&f, 1060);
	check(f.n == 5, "a failure within a minute of the start adds one");
	sl_failing_count(&f, 1061);
	check(f.n == 1 && f.since == 1000, "a run of more than a minute starts a new series");
	sl_failing_path(&p, "app.20240101_000000_1");
	check(!strcmp(p.buf, "/run/silverlining/failing/app.20240101_000000_1"), "the path");
	sl_failing_path(&p, NULL);
	check(!strcmp(p.buf, "/run/silverlining/failing"), "the directory");
	sl_buf_release(&p);
	puts("failing ok");
}

/* R as "status N", its headers, a blank line, its body, "--- stderr" and its stderr. */
static void show_fcgi(const struct sl_fcgi_response *r)
{
	printf("status %d\n", r->status);
	for (size_t i = 0; i < r->headers.n; i++)
		printf("%s\n", r->headers.v[i]);
	printf("\n");
	fwrite(r->body.buf, 1, r->body.len, stdout);
	if (r->stderr_text.len) {
		printf("--- stderr\n");
		fwrite(r->stderr_text.buf, 1, r->stderr_text.len, stdout);
	}
}

/* fcgi SOCKET MS PARAMS..., or fcgi-parse (SOCKET NULL) with the records on stdin. */
static void test_fcgi(const char *sock, const char *ms, char **params)
{
	struct sl_fcgi_response r = SL_FCGI_RESPONSE_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf in = SL_BUF_INIT;
	int rc;

	if (sock) {
		rc = sl_fcgi_request(sock, params, "", 0, atol(ms), &r, &err);
	} else {
		sl_buf_read_fd(&in, 0);
		rc = sl_fcgi_parse(in.buf, in.len, &r, &err);
		if (rc == 1)
			sl_die(1, "incomplete");
	}
	if (rc < 0)
		sl_die(err.code, "%s", err.msg.buf);
	show_fcgi(&r);
	sl_fcgi_response_release(&r);
	sl_buf_release(&in);
}

/* gate-request INST HOST PATH URL TIMEOUT: "STATUS" then the body. */
static void test_gate_request(char **argv)
{
	struct sl_buf body = SL_BUF_INIT;
	char status[4];

	sl_gate_request(argv[0], atol(argv[4]), argv[1], argv[2], argv[3], &body, status);
	printf("%s\n", status);
	fwrite(body.buf, 1, body.len, stdout);
	sl_buf_release(&body);
}

/* The cron translation's table: schedule, and what it gives ("!" refused). */
static void test_jobs(void)
{
	static const char *const table[][2] = {
		{ "* * * * *", "*-*-* *:*:00" },
		{ "*/5 * * * *", "*-*-* *:00/5:00" },
		{ "0 3 * * *", "*-*-* 03:00:00" },
		{ "15,45 8-17 * * *", "*-*-* 08..17:15,45:00" },
		{ "0 0 1 1 *", "*-01-01 00:00:00" },
		{ "30 2 * * 1-5", "Mon,Tue,Wed,Thu,Fri *-*-* 02:30:00" },
		{ "0 12 * * sun,SAT", "Sun,Sat *-*-* 12:00:00" },
		{ "0 12 * * 7", "Sun *-*-* 12:00:00" },
		{ "0 0 * jan-mar,dec *", "*-01..03,12-* 00:00:00" },
		{ "0 0 1-20/5 * *", "*-*-01,06,11,16 00:00:00" },
		{ "5/20 * * * *", "*-*-* *:05/20:00" },
		{ "0 */6 * * *", "*-*-* 00/6:00:00" },
		{ "0 1,2 * * *", "*-*-* 01,02:00:00" },
		{ "@daily", "*-*-* 00:00:00" },
		{ "@hourly", "*-*-* *:00:00" },
		{ "@WEEKLY", "Sun *-*-* 00:00:00" },
		{ "@yearly", "*-01-01 00:00:00" },
		{ "@monthly", "*-*-01 00:00:00" },
		{ "daily", "=daily" },
		{ "*:*:0/5", "=*:*:0/5" },
		{ "Mon..Fri *-*-* 10:00 UTC", "=Mon..Fri *-*-* 10:00 UTC" },
		{ "60 * * * *", "!" },
		{ "* 24 * * *", "!" },
		{ "* * 0 * *", "!" },
		{ "* * * 13 *", "!" },
		{ "* * * * 8", "!" },
		{ "5-1 * * * *", "!" },
		{ "*/0 * * * *", "!" },
		{ "1,,2 * * * *", "!" },
		{ "x * * * *", "!" },
		{ "* * * foo *", "!" },
		{ "0 0 1 * mon", "!" },
		{ "@reboot", "!" },
		{ "", "!" },
		{ "* * * * * *", "!" },
	};
	struct sl_buf out = SL_BUF_INIT, why = SL_BUF_INIT;

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const char *want = table[i][1];
		int rc = sl_jobs_calendar(table[i][0], &out, &why);
		int ok = *want == '!' ? rc == -1 && why.len > 0 :
			 *want == '=' ? rc == 0 && !strcmp(out.buf, want + 1) :
			 rc == 1 && !strcmp(out.buf, want);

		if (!ok)
			sl_die(1, "check failed: '%s' gave %d '%s' (%s), want '%s'", table[i][0],
			       rc, out.len ? out.buf : "", why.len ? why.buf : "", want);
	}
	check(sl_job_name_valid("a") && sl_job_name_valid("nightly_digest-2") &&
	      !sl_job_name_valid("2a") && !sl_job_name_valid("A") && !sl_job_name_valid("") &&
	      !sl_job_name_valid("a.b") && !sl_job_name_valid("abcdefghijabcdefghijabcdefghijab"),
	      "job names");
	sl_buf_release(&out);
	sl_buf_release(&why);
	puts("jobs ok");
}

/*
 * WHAT is "nodeset" (ARG a file: the nodeset read, its warnings on
 * stderr), "nodeset-path" (ARG a nodeset's name) or "node-resolve" (ARG a
 * node as a user names it).
 */
static void test_nodeset(const char *what, const char *arg)
{
	struct sl_nodeset ns = SL_NODESET_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf out = SL_BUF_INIT;

	if (!strcmp(what, "nodeset-path") || !strcmp(what, "node-resolve")) {
		if ((!strcmp(what, "node-resolve") ?
		     sl_node_resolve(arg, &out, &err) :
		     sl_nodeset_path(arg, &out, &err)) < 0)
			sl_die_err(&err);
		puts(out.buf);
		sl_buf_release(&out);
		return;
	}
	if (sl_nodeset_load(&ns, arg, &err) < 0)
		sl_die_err(&err);
	for (size_t i = 0; i < ns.warnings.n; i++)
		sl_warn("%s", ns.warnings.v[i]);
	printf("name %s\n", ns.name);
	for (size_t i = 0; i < ns.app.n; i++)
		printf("app %s\n", ns.app.v[i]);
	for (size_t i = 0; i < ns.service.n; i++)
		printf("service %s\n", ns.service.v[i]);
	printf("balancer %s\ncheck_interval %d\nfall %d\nrise %d\n",
	       ns.balancer ? ns.balancer : "-", ns.check_interval, ns.fall, ns.rise);
	sl_nodeset_release(&ns);
	sl_nodeset_release(&ns);	/* twice: a released nodeset is empty */
}

/*
 * A service node's record (dbrecord.h): "dbrecord FILE" reads FILE and
 * prints it formatted; "dbrecord-store FILE" stores it as the node's
 * (SL_ROOT) and loads it back; "dbrecord-password FILE KIND APP" prints
 * an app's password derived from FILE's server of KIND.
 */
static void test_dbrecord(const char *what, char **argv)
{
	struct sl_dbrecord r = SL_DBRECORD_INIT, back = SL_DBRECORD_INIT;
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf text = SL_BUF_INIT, out = SL_BUF_INIT;

	if (sl_buf_read_file(&text, argv[0]) < 0)
		sl_die(SL_EXIT_USAGE, "cannot read %s", argv[0]);
	if (sl_dbrecord_parse(&r, text.buf, text.len, argv[0], &err) < 0)
		sl_die_err(&err);
	if (!strcmp(what, "dbrecord-password")) {
		sl_dbrecord_app_password(strcmp(argv[1], SL_DBRECORD_PG) ? &r.my : &r.pg,
					 argv[1], argv[2], &out);
		puts(out.buf);
	} else if (!strcmp(what, "dbrecord-store")) {
		if (sl_dbrecord_load(&back, &err) != 0)
			sl_die(SL_EXIT_TEMP, "a record before any was stored");
		if (sl_dbrecord_store(&r, &err) < 0 || sl_dbrecord_load(&back, &err) != 1)
			sl_die_err(&err);
		sl_dbrecord_format(&back, &out);
		fputs(out.buf, stdout);
	} else {
		sl_dbrecord_format(&r, &out);
		fputs(out.buf, stdout);
	}
	sl_dbrecord_release(&r);
	sl_dbrecord_release(&r);	/* twice: a released record is empty */
	sl_dbrecord_release(&back);
	sl_buf_release(&text);
	sl_buf_release(&out);
}

/* A fan-out job that runs in a forked child: a line on each stream, one unended. */
static int fanout_fn(void *arg)
{
	printf("out of fn\n");
	fflush(stdout);
	fprintf(stderr, "err of fn\n");
	printf("last line unended");
	return atoi(arg);
}

/*
 * Runs "sh -c CMD" (or fanout_fn for fn:CODE) for each HOST at once; then
 * prints each job's code (and, with -c, what it printed on stdout, kept
 * apart) and the first that failed.
 */
static void test_fanout(char **argv)
{
	struct sl_fanout f = SL_FANOUT_INIT;
	struct sl_err err = SL_ERR_INIT;
	int capture = argv[0] && !strcmp(argv[0], "-c");
	struct sl_buf *cap;
	size_t n;

	argv += capture;
	for (n = 0; argv[n] && argv[n + 1]; n += 2)
		;
	cap = sl_xcalloc(n / 2 + 1, sizeof(*cap));
	for (size_t i = 0; i < n; i += 2) {
		struct sl_fanout_job *j = sl_fanout_add(&f, argv[i]);
		char **sh = sl_xcalloc(4, sizeof(*sh));

		sh[0] = "sh";
		sh[1] = "-c";
		sh[2] = argv[i + 1];
		if (!strncmp(argv[i + 1], "fn:", 3)) {
			j->fn = fanout_fn;
			j->arg = argv[i + 1] + 3;
			free(sh);
		} else {
			j->argv = sh;
		}
		cap[i / 2] = (struct sl_buf)SL_BUF_INIT;
		if (capture)
			j->capture = &cap[i / 2];
	}
	if (sl_fanout_run(&f, &err) < 0)
		sl_die_err(&err);
	for (size_t i = 0; i < f.n; i++) {
		printf("%s code %d%s%s\n", argv[2 * i], f.jobs[i]->code,
		       f.jobs[i]->err.msg.len ? " " : "", f.jobs[i]->err.msg.buf);
		if (capture)
			printf("%s captured [%s]\n", argv[2 * i], cap[i].buf);
		if (!f.jobs[i]->fn)
			free((void *)f.jobs[i]->argv);
		sl_buf_release(&cap[i]);
	}
	printf("first-failed %ld\n", sl_fanout_first_failed(&f));
	free(cap);
	sl_fanout_release(&f);
}

/* DAILY WEEKLY STAMP:STATUS...: "keep STAMP" or "prune STAMP", in the order given. */
static void test_backups_retain(char **argv, int n)
{
	struct sl_backups_entry *v = sl_xcalloc((size_t)n, sizeof(*v));
	int *keep = sl_xcalloc((size_t)n, sizeof(*keep));

	for (int i = 2; i < n; i++) {
		const char *colon = strchr(argv[i], ':');

		if (!colon || colon - argv[i] != SL_BACKUPS_STAMP_LEN)
			sl_die(SL_EXIT_USAGE, "want STAMP:STATUS, not %s", argv[i]);
		memcpy(v[i].stamp, argv[i], SL_BACKUPS_STAMP_LEN);
		v[i].status = !strcmp(colon + 1, "verified") ? SL_BACKUPS_VERIFIED :
			!strcmp(colon + 1, "bad") ? SL_BACKUPS_BAD : SL_BACKUPS_UNVERIFIED;
	}
	sl_backups_retain(v + 2, (size_t)n - 2, atol(argv[0]), atol(argv[1]), keep + 2);
	for (int i = 2; i < n; i++)
		printf("%s %s\n", keep[i] ? "keep" : "prune", v[i].stamp);
	free(v);
	free(keep);
}

int main(int argc, char **argv)
{
	struct sl_err err = SL_ERR_INIT;

	sl_msg_init(argv[0]);
	if (argc < 2)
		sl_die_usage(USAGE);
	if (!strcmp(argv[1], "buf"))
		test_buf();
	else if (!strcmp(argv[1], "strv"))
		test_strv();
	else if (!strcmp(argv[1], "quote") && argc == 4)
		test_quote(argv[2], argv[3]);
	else if (!strcmp(argv[1], "run") && argc > 2)
		return test_run(argv + 2, 0);
	else if (!strcmp(argv[1], "capture") && argc > 2)
		return test_run(argv + 2, 1);
	else if (!strcmp(argv[1], "write") && argc == 6) {
		int r = sl_file_write(argv[2], argv[5], strlen(argv[5]),
				      (mode_t)strtol(argv[3], NULL, 8),
				      strcmp(argv[4], "excl") ? SL_FILE_REPLACE : SL_FILE_EXCL,
				      &err);
		if (r < 0)
			sl_die_err(&err);
		printf("write %d\n", r);
	} else if (!strcmp(argv[1], "mkdirs") && argc == 3) {
		if (sl_file_mkdirs(argv[2], 0750, &err) < 0)
			sl_die_err(&err);
	} else if (!strcmp(argv[1], "dbname") && argc == 3) {
		char *s = sl_app_db_name(argv[2]);

		printf("%s %s\n", s, sl_app_name_valid(argv[2]) ? "valid" : "invalid");
		free(s);
	} else if (!strcmp(argv[1], "appuser") && argc == 2) {
		test_appuser();
	} else if (!strcmp(argv[1], "appuser-check") && argc == 5) {
		if (sl_appuser_check(argv[2], argv[3], argv[4], &err) < 0)
			sl_die_err(&err);
		puts("owned");
	} else if (!strcmp(argv[1], "location")) {
		test_location(argv + 2);
	} else if (!strcmp(argv[1], "location-url") && argc == 5) {
		test_location_url(argv + 2);
	} else if (!strcmp(argv[1], "routes") && argc >= 3) {
		test_routes(argv[2], argv + 3);
	} else if (!strcmp(argv[1], "jobs") && argc == 2) {
		test_jobs();
	} else if (!strcmp(argv[1], "backups-retain") && argc >= 4) {
		test_backups_retain(argv + 2, argc - 2);
	} else if (!strcmp(argv[1], "backups-stamp") && argc == 3) {
		printf("%s\n", sl_backups_stamp_valid(argv[2]) ? "stamp" : "not a stamp");
	} else if (!strcmp(argv[1], "backups-tree") && argc == 3) {
		struct sl_strv report = SL_STRV_INIT;

		if (sl_backups_tree_report(argv[2], getuid(), getgid(), &report, &err) < 0)
			sl_die_err(&err);
		for (size_t i = 0; i < report.n; i++)
			printf("%s\n", report.v[i]);
		sl_strv_clear(&report);
	} else if (!strcmp(argv[1], "jobs-calendar") && argc == 3) {
		struct sl_buf out = SL_BUF_INIT, why = SL_BUF_INIT;
		int rc = sl_jobs_calendar(argv[2], &out, &why);

		if (rc < 0)
			sl_die(SL_EXIT_USAGE, "want %s", why.buf);
		printf("%s %s\n", rc ? "cron" : "systemd", out.buf);
		sl_buf_release(&out);
		sl_buf_release(&why);
	} else if (!strcmp(argv[1], "jobs-serving") && argc == 4) {
		struct sl_routes r = SL_ROUTES_INIT;
		struct sl_buf inst = SL_BUF_INIT, where = SL_BUF_INIT;

		if (sl_routes_load(argv[2], &r, &err) < 0)
			sl_die_err(&err);
		if (sl_jobs_serving(&r, argv[3], &inst, &where))
			printf("%s %s\n", inst.buf, where.buf);
		else
			puts("none");
		sl_routes_release(&r);
		sl_buf_release(&inst);
		sl_buf_release(&where);
	} else if ((!strcmp(argv[1], "nodeset") || !strcmp(argv[1], "nodeset-path") ||
		    !strcmp(argv[1], "node-resolve")) && argc == 3) {
		test_nodeset(argv[1], argv[2]);
	} else if ((!strcmp(argv[1], "dbrecord") && argc == 3) ||
		   (!strcmp(argv[1], "dbrecord-store") && argc == 3) ||
		   (!strcmp(argv[1], "dbrecord-password") && argc == 5)) {
		test_dbrecord(argv[1], argv + 2);
	} else if (!strcmp(argv[1], "fanout") && argc >= 4) {
		test_fanout(argv + 2);
	} else if (!strcmp(argv[1], "failing") && argc == 2) {
		test_failing();
	} else if (!strcmp(argv[1], "switch-changed") && argc == 4) {
		struct sl_buf old = SL_BUF_INIT, text = SL_BUF_INIT;

		sl_buf_add(&old, argv[2], strlen(argv[2]));
		sl_buf_add(&text, argv[3], strlen(argv[3]));
		puts(sl_switch_changed(strcmp(argv[2], "-") ? &old : NULL, &text) ?
		     "changed" : "same");
		sl_buf_release(&old);
		sl_buf_release(&text);
	} else if (!strcmp(argv[1], "switch-render") && argc == 2) {
		test_switch_render();
	} else if (!strcmp(argv[1], "links") && argc == 2) {
		test_links();
	} else if (!strcmp(argv[1], "routes-match") && argc == 5) {
		test_routes_match(argv[2], argv[3], argv[4]);
	} else if (!strcmp(argv[1], "diff") && argc == 4) {
		test_diff(argv[2], argv[3]);
	} else if (!strcmp(argv[1], "template") && argc >= 4) {
		test_template(argv[2], argv[3], argv + 4);
	} else if (!strcmp(argv[1], "fcgi") && argc >= 4) {
		test_fcgi(argv[2], argv[3], argv + 4);
	} else if (!strcmp(argv[1], "fcgi-parse") && argc == 2) {
		test_fcgi(NULL, NULL, NULL);
	} else if (!strcmp(argv[1], "gate-request") && argc == 7) {
		test_gate_request(argv + 2);
	} else if (!strcmp(argv[1], "dbclient") && argc == 2) {
		struct sl_buf text = SL_BUF_INIT;
		struct sl_strv locs = SL_STRV_INIT;

		if (sl_buf_read_fd(&text, 0) < 0 ||
		    sl_dbclient_apply(text.buf, text.len, &locs, &err) < 0)
			sl_die_err(&err);
		for (size_t i = 0; i < locs.n; i++)
			puts(locs.v[i]);
		sl_strv_clear(&locs);
		sl_buf_release(&text);
	} else if (!strcmp(argv[1], "db-vars") && argc >= 5 && argc <= 7) {
		const char *extra[] = { argc == 7 ? argv[6] : NULL, NULL };
		struct sl_service_db_extra x = { argc >= 6 ? argv[5] : NULL, extra };
		struct sl_strv vars = SL_STRV_INIT;

		sl_service_db_push_vars(strcmp(argv[2], "my") ? &sl_service_db_postgresql :
					&sl_service_db_mysql, "my_blog", "my_blog", "p@ss",
					argv[3], argv[4], argc >= 6 ? &x : NULL, &vars);
		for (size_t i = 0; i < vars.n; i++)
			puts(vars.v[i]);
		sl_strv_clear(&vars);
	} else if (!strcmp(argv[1], "instance-copy") && argc == 3) {
		char *name = NULL;

		if (sl_instance_copy(sl_instance_root(), argv[2], &name, &err) < 0)
			sl_die_err(&err);
		printf("%s\n", name);
		free(name);
	} else if (!strcmp(argv[1], "which") && argc == 4) {
		char *s = sl_run_which(argv[2], argv[3]);

		printf("%s\n", s ? s : "(none)");
		free(s);
	} else {
		sl_die_usage(USAGE);
	}
	sl_exit_flush();
}
