/* silverlining — the database services' shared side (PostgreSQL, MySQL). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "dbrecord.h"
#include "buf.h"
#include "exit.h"
#include "mem.h"
#include "quote.h"
#include "service-db.h"

const struct sl_service_db_kind sl_service_db_postgresql = {
	"PG", "postgresql", "postgresql+psycopg2", "", "",
	SL_DBRECORD_PG, "pg.server", "sslmode=verify-ca&sslrootcert=", "CONFIG_PG_SSLROOTCERT",
};

/* SQLAlchemy's MySQL dialects read ssl_ca from the URL's query */
const struct sl_service_db_kind sl_service_db_mysql = {
	"MYSQL", "mysql", "mysql+mysqldb", "localhost", "?charset=utf8mb4",
	SL_DBRECORD_MY, "mysql.server", "ssl_ca=", "CONFIG_MYSQL_SSL_CA",
};

const char *const sl_service_db_devel_keys[] = {
	"dbname", "user", "password", "host", "port", NULL,
};

static int valid_port(const char *p)
{
	char *end;
	long n;

	if (!isdigit((unsigned char)*p))
		return 0;
	n = strtol(p, &end, 10);
	return !*end && n >= 1 && n <= 65535;
}

static unsigned line_of(const struct sl_devconf *dc, const char *key)
{
	for (size_t i = 0; i < dc->n; i++)
		if (!strcmp(dc->v[i].key, key))
			return dc->v[i].line;
	return 0;
}

/*
 * Splits "host:port" and "[v6]:port"; a bare v6 address keeps its colons.
 * -1 when what follows the one colon of a name is not a port.
 */
static int split_host(const char *in, char **host, char **port)
{
	const char *colon = strchr(in, ':');

	*port = NULL;
	if (in[0] == '[') {
		const char *close = strchr(in, ']');

		if (!close || (close[1] && (close[1] != ':' || !valid_port(close + 2))))
			return -1;
		if (close[1])
			*port = sl_xstrdup(close + 2);
		*host = sl_xstrndup(in + 1, (size_t)(close - in - 1));
		return 0;
	}
	if (colon && !strchr(colon + 1, ':')) {
		if (!valid_port(colon + 1))
			return -1;
		*host = sl_xstrndup(in, (size_t)(colon - in));
		*port = sl_xstrdup(colon + 1);
		return 0;
	}
	*host = sl_xstrdup(in);
	return 0;
}

static void add_url(struct sl_buf *u, const char *scheme,
		    const struct sl_service_db_kind *k, const char *user,
		    const char *password, const char *host, const char *port,
		    const char *dbname, const char *query)
{
	sl_buf_addf(u, "%s://", scheme);
	sl_quote_url(u, user);
	if (*password) {
		sl_buf_addch(u, ':');
		sl_quote_url(u, password);
	}
	sl_buf_addch(u, '@');
	if (!*host)
		sl_buf_adds(u, k->socket_host);
	else if (strchr(host, ':'))
		sl_buf_addf(u, "[%s]", host);
	else
		sl_quote_url(u, host);
	if (*port)
		sl_buf_addf(u, ":%s", port);
	sl_buf_addch(u, '/');
	sl_quote_url(u, dbname);
	sl_buf_adds(u, query);
}

void sl_service_db_push_vars(const struct sl_service_db_kind *k, const char *dbname,
			     const char *user, const char *password, const char *host,
			     const char *port, const struct sl_service_db_extra *x,
			     struct sl_strv *vars)
{
	struct sl_buf u = SL_BUF_INIT, sqla_q = SL_BUF_INIT, url_q = SL_BUF_INIT;

	sl_buf_adds(&sqla_q, k->sqla_query);
	if (x && x->query) {
		sl_buf_addf(&sqla_q, "%c%s", *k->sqla_query ? '&' : '?', x->query);
		sl_buf_addf(&url_q, "?%s", x->query);
	}

	sl_strv_pushf(vars, "CONFIG_%s_DBNAME=%s", k->var, dbname);
	sl_strv_pushf(vars, "CONFIG_%s_USER=%s", k->var, user);
	sl_strv_pushf(vars, "CONFIG_%s_PASSWORD=%s", k->var, password);
	sl_strv_pushf(vars, "CONFIG_%s_HOST=%s", k->var, host);
	sl_strv_pushf(vars, "CONFIG_%s_PORT=%s", k->var, port);
	sl_buf_addf(&u, "CONFIG_%s_SQLALCHEMY=", k->var);
	add_url(&u, k->sqla_scheme, k, user, password, host, port, dbname, sqla_q.buf);
	sl_strv_push(vars, u.buf);
	sl_buf_reset(&u);
	sl_buf_addf(&u, "CONFIG_%s_URL=", k->var);
	add_url(&u, k->url_scheme, k, user, password, host, port, dbname, url_q.buf);
	sl_strv_push(vars, u.buf);
	for (size_t i = 0; x && x->vars && x->vars[i]; i++)
		sl_strv_push(vars, x->vars[i]);
	sl_buf_release(&u);
	sl_buf_release(&sqla_q);
	sl_buf_release(&url_q);
}

int sl_service_db_devel_env(const struct sl_service_db_kind *k, const char *app,
			    const struct sl_devconf *dc, struct sl_strv *vars,
			    struct sl_err *err)
{
	const char *set_db = sl_devconf_get(dc, "dbname");
	const char *set_user = sl_devconf_get(dc, "user");
	const char *set_port = sl_devconf_get(dc, "port");
	const char *password = sl_devconf_get(dc, "password");
	char *dbname = set_db && *set_db ? sl_xstrdup(set_db) : sl_app_db_name(app);
	const char *user = set_user && *set_user ? set_user : sl_service_login();
	const char *set_host = sl_devconf_get(dc, "host");
	char *host = NULL, *port = NULL;

	if (split_host(set_host ? set_host : "", &host, &port) < 0) {
		free(dbname);
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s:%u: '%s' is not HOST, HOST:PORT or [IPv6]:PORT",
				  dc->path, line_of(dc, "host"), set_host);
	}
	if (set_port && *set_port) {
		free(port);
		port = sl_xstrdup(set_port);
	}
	if (port && !valid_port(port)) {
		unsigned line = line_of(dc, set_port ? "port" : "host");

		sl_err_set(err, SL_EXIT_USAGE, "%s:%u: '%s' is not a port number",
			   dc->path, line, port);
		free(dbname);
		free(host);
		free(port);
		return -1;
	}
	if (!port)
		port = sl_xstrdup("");
	if (!password)
		password = "";
	sl_service_db_push_vars(k, dbname, user, password, host, port, NULL, vars);
	free(dbname);
	free(host);
	free(port);
	return 0;
}

int sl_service_db_env(const struct sl_service_db_kind *k, const struct sl_service_app *a,
		      const char *path, const char *host, const char *port,
		      const struct sl_service_db_extra *x, struct sl_strv *vars,
		      struct sl_err *err)
{
	struct sl_buf pass = SL_BUF_INIT;

	if (sl_buf_read_file(&pass, path) < 0) {
		sl_buf_release(&pass);
		return sl_err_errno(err, "unable to read %s (set the app up first)", path);
	}
	sl_buf_rtrim(&pass);
	sl_service_db_push_vars(k, a->dbname, a->dbname, pass.buf, host, port, x, vars);
	sl_buf_release(&pass);
	return 0;
}

void sl_service_db_server_path(const struct sl_service_db_kind *k,
			       const struct sl_service_app *a, struct sl_buf *out)
{
	sl_buf_reset(out);
	sl_buf_addf(out, "%s/%s", a->data, k->server_file);
}

void sl_service_db_server_text(const char *host, int port, struct sl_buf *out)
{
	sl_buf_reset(out);
	sl_buf_addf(out, "%s %d\n", host, port);
}

int sl_service_db_env_remote(const struct sl_service_db_kind *k, const struct sl_service_app *a,
			     const char *path, struct sl_strv *vars, struct sl_err *err)
{
	struct sl_buf file = SL_BUF_INIT, text = SL_BUF_INIT, pem = SL_BUF_INIT;
	struct sl_buf query = SL_BUF_INIT, var = SL_BUF_INIT;
	const char *more[] = { NULL, NULL };
	struct sl_service_db_extra x = { NULL, more };
	char *port;
	int ret = 1;

	sl_service_db_server_path(k, a, &file);
	if (sl_buf_read_file(&text, file.buf) < 0) {
		ret = errno == ENOENT ? 0 : sl_err_errno(err, "unable to read %s", file.buf);
		goto out;
	}
	sl_buf_rtrim(&text);
	port = strchr(text.buf, ' ');
	if (!port || port == text.buf || !valid_port(port + 1)) {
		ret = sl_err_set(err, SL_EXIT_TEMP, "%s is damaged: not 'HOST PORT' (setup "
				 "writes it again)", file.buf);
		goto out;
	}
	*port++ = '\0';
	sl_dbrecord_cert_path(&pem, k->record);
	sl_buf_adds(&query, k->ca_query);
	for (const char *c = pem.buf; *c; c++)	/* a path: its slashes kept */
		if (isalnum((unsigned char)*c) || strchr("/-._~", *c))
			sl_buf_addch(&query, *c);
		else
			sl_buf_addf(&query, "%%%02X", (unsigned char)*c);
	sl_buf_addf(&var, "%s=%s", k->ca_var, pem.buf);
	x.query = query.buf;
	more[0] = var.buf;
	if (sl_service_db_env(k, a, path, text.buf, port, &x, vars, err) < 0)
		ret = -1;
out:
	sl_buf_release(&file);
	sl_buf_release(&text);
	sl_buf_release(&pem);
	sl_buf_release(&query);
	sl_buf_release(&var);
	return ret;
}
