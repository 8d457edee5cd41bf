/* silverlining — drives libsl/render from the bats suite tests/unit/render.bats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../libsl/exit.h"
#include "../libsl/mem.h"
#include "../libsl/msg.h"
#include "../libsl/render.h"

#define USAGE "render-test nginx|same|uwsgi|phpfpm|wsgi STATE | generation FILE"

/*
 * A state file: one record a line, words split at spaces and tabs, '#'
 * lines and empty ones skipped. In a word, \\ \n \t \s (space) and \xNN
 * stand for their bytes. A route's WRITABLE_ROOT "-" is none.
 *
 *   pages DIR
 *   challenge DIR	(default /var/lib/silverlining/acme/challenge)
 *   route HOST PATH APP SOCKET STATIC WRITABLE_ROOT TIMEOUT DISABLED
 *         [FLAGS CERT SHA256]	(FLAGS "https" or "https,hsts"; "-" none)
 *   php HOST PATH LINK runner|php_root FILE	(the route at HOST PATH is PHP's)
 *   balancer IP		(one a line, in order)
 *   KEY VALUE		(uwsgi, phpfpm: instance user dir ...; wsgi: dir runner)
 */
static char *unescape(const char *w, size_t n)
{
	struct sl_buf b = SL_BUF_INIT;

	for (size_t i = 0; i < n; i++) {
		if (w[i] != '\\' || i + 1 == n) {
			sl_buf_addch(&b, w[i]);
			continue;
		}
		switch (w[++i]) {
		case 'n': sl_buf_addch(&b, '\n'); break;
		case 't': sl_buf_addch(&b, '\t'); break;
		case 's': sl_buf_addch(&b, ' '); break;
		case 'x':
			if (i + 2 >= n)
				sl_die(100, "bad \\x in the state");
			sl_buf_addch(&b, (char)strtol((char[]){ w[i + 1], w[i + 2], 0 }, NULL, 16));
			i += 2;
			break;
		default: sl_buf_addch(&b, w[i]);
		}
	}
	return sl_buf_detach(&b, NULL);
}

/* The records of FILE: an array of NULL-ended word lists, NULL-ended. */
static char ***load(const char *file)
{
	struct sl_buf text = SL_BUF_INIT;
	char ***rec = NULL;
	size_t nrec = 0;
	char *line, *save = NULL;

	if (sl_buf_read_file(&text, file) < 0)
		sl_die_errno("unable to read %s", file);
	for (line = strtok_r(text.buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char **w = NULL;
		size_t nw = 0;

		for (char *s = line; *s;) {
			size_t n;

			s += strspn(s, " \t");
			n = strcspn(s, " \t");
			if (!n)
				break;
			w = sl_xrealloc(w, (nw + 2) * sizeof(*w));
			w[nw++] = unescape(s, n);
			w[nw] = NULL;
			s += n;
		}
		if (!nw || w[0][0] == '#') {
			free(w);
			continue;
		}
		rec = sl_xrealloc(rec, (nrec + 2) * sizeof(*rec));
		rec[nrec++] = w;
		rec[nrec] = NULL;
	}
	sl_buf_release(&text);
	if (!rec)
		rec = sl_xcalloc(1, sizeof(*rec));
	return rec;
}

static const char *value(char ***rec, const char *key)
{
	for (; *rec; rec++)
		if (!strcmp((*rec)[0], key))
			return (*rec)[1];
	return NULL;
}

static void nginx_state(char ***rec, struct sl_render_nginx *in)
{
	char ***first = rec;
	struct sl_render_route *v = NULL;
	size_t n = 0;

	in->pages = value(rec, "pages");
	in->challenge = value(rec, "challenge");
	if (!in->challenge)
		in->challenge = "/var/lib/silverlining/acme/challenge";
	for (; *rec; rec++) {
		char **w = *rec;

		if (strcmp(w[0], "route"))
			continue;
		for (int i = 1; i < 9; i++)
			if (!w[i])
				sl_die(100, "a route wants 8 words");
		v = sl_xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = (struct sl_render_route){
			.host = w[1], .path = w[2], .app = w[3], .socket = w[4],
			.static_dir = w[5], .writable_root = strcmp(w[6], "-") ? w[6] : NULL,
			.timeout = atoi(w[7]), .disabled = atoi(w[8]),
		};
		if (!w[9])
			continue;
		if (!w[10] || !w[11])
			sl_die(100, "a route's flags want a certificate and its digest");
		v[n - 1].https = !strncmp(w[9], "https", 5);
		v[n - 1].hsts = !strcmp(w[9], "https,hsts");
		v[n - 1].cert = strcmp(w[10], "-") ? w[10] : NULL;
		v[n - 1].cert_sha256 = strcmp(w[11], "-") ? w[11] : NULL;
	}
	for (rec = first; *rec; rec++) {
		char **w = *rec;
		size_t i;

		if (strcmp(w[0], "php"))
			continue;
		for (int k = 1; k < 6; k++)
			if (!w[k])
				sl_die(100, "a php record wants 5 words");
		for (i = 0; i < n && (strcmp(v[i].host, w[1]) || strcmp(v[i].path, w[2])); i++)
			;
		if (i == n)
			sl_die(100, "php %s%s: no such route", w[1], w[2]);
		v[i].php = 1;
		v[i].link = strcmp(w[3], "-") ? w[3] : NULL;
		if (!strcmp(w[4], "runner"))
			v[i].php_runner = w[5];
		else
			v[i].php_root = w[5];
	}
	in->routes = v;
	in->n = n;
	in->balancers = NULL;
	in->nbalancers = 0;
	for (rec = first; *rec; rec++) {
		const char **b = (const char **)in->balancers;

		if (strcmp((*rec)[0], "balancer"))
			continue;
		b = sl_xrealloc(b, (in->nbalancers + 1) * sizeof(*b));
		b[in->nbalancers++] = (*rec)[1] ? (*rec)[1] : "";
		in->balancers = b;
	}
}

static void render_nginx(const struct sl_render_nginx *in, struct sl_buf *out)
{
	struct sl_err err = SL_ERR_INIT;

	if (sl_render_nginx(in, out, &err) < 0)
		sl_die_err(&err);
}

/* Renders STATE twice, and once with its routes in reverse: the same bytes. */
static void same(const struct sl_render_nginx *in)
{
	struct sl_buf a = SL_BUF_INIT, b = SL_BUF_INIT, c = SL_BUF_INIT;
	struct sl_render_route *rev = sl_xcalloc(in->n + 1, sizeof(*rev));
	struct sl_render_nginx r = *in;

	for (size_t i = 0; i < in->n; i++)
		rev[i] = in->routes[in->n - 1 - i];
	r.routes = rev;
	render_nginx(in, &a);
	render_nginx(in, &b);
	render_nginx(&r, &c);
	if (a.len != b.len || memcmp(a.buf, b.buf, a.len))
		sl_die(1, "two renderings of the same state differ");
	if (a.len != c.len || memcmp(a.buf, c.buf, a.len))
		sl_die(1, "the routes' order changed the text");
	puts("same");
	free(rev);
	sl_buf_release(&a);
	sl_buf_release(&b);
	sl_buf_release(&c);
}

static int num(char ***rec, const char *key)
{
	const char *v = value(rec, key);

	return v ? atoi(v) : 0;
}

int main(int argc, char **argv)
{
	struct sl_buf out = SL_BUF_INIT;
	char ***rec;

	sl_msg_init(argv[0]);
	if (argc != 3)
		sl_die_usage(USAGE);
	if (!strcmp(argv[1], "generation")) {
		struct sl_buf text = SL_BUF_INIT;

		if (sl_buf_read_file(&text, argv[2]) < 0)
			sl_die_errno("unable to read %s", argv[2]);
		if (sl_render_generation(text.buf, &out) < 0)
			sl_die(1, "%s carries no generation", argv[2]);
		sl_buf_addch(&out, '\n');
		sl_buf_release(&text);
		fwrite(out.buf, 1, out.len, stdout);
		sl_exit_flush();
	}
	rec = load(argv[2]);
	if (!strcmp(argv[1], "nginx") || !strcmp(argv[1], "same")) {
		struct sl_render_nginx in;

		nginx_state(rec, &in);
		if (!strcmp(argv[1], "same"))
			same(&in);
		else
			render_nginx(&in, &out);
		free((void *)in.routes);
		free((void *)in.balancers);
	} else if (!strcmp(argv[1], "uwsgi")) {
		struct sl_render_uwsgi in = {
			.instance = value(rec, "instance"), .user = value(rec, "user"),
			.dir = value(rec, "dir"), .socket = value(rec, "socket"),
			.pythonpath = value(rec, "pythonpath"),
			.wsgi_file = value(rec, "wsgi_file"), .log = value(rec, "log"),
			.processes = num(rec, "processes"), .threads = num(rec, "threads"),
			.timeout = num(rec, "timeout"),
			.memory_limit = num(rec, "memory_limit"), .idle = num(rec, "idle"),
		};

		sl_render_uwsgi(&in, &out);
	} else if (!strcmp(argv[1], "phpfpm")) {
		struct sl_render_phpfpm in = {
			.instance = value(rec, "instance"), .user = value(rec, "user"),
			.dir = value(rec, "dir"), .socket = value(rec, "socket"),
			.log = value(rec, "log"), .slowlog = value(rec, "slowlog"),
			.temp = value(rec, "temp"), .areas = value(rec, "areas"),
			.processes = num(rec, "processes"), .timeout = num(rec, "timeout"),
			.memory_limit = num(rec, "memory_limit"),
		};

		sl_render_phpfpm(&in, &out);
	} else if (!strcmp(argv[1], "wsgi")) {
		const char *dir = value(rec, "dir"), *runner = value(rec, "runner");

		if (!dir || !runner)
			sl_die(100, "a wsgi state wants dir and runner");
		sl_render_wsgi(dir, runner, &out);
	} else {
		sl_die_usage(USAGE);
	}
	if (fwrite(out.buf, 1, out.len, stdout) != out.len)
		sl_die_errno("unable to write");
	sl_buf_release(&out);
	sl_exit_flush();
}
