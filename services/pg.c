/* silverlining — PostgreSQL and PostGIS on a node, through libpq. */
#include <dlfcn.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../libsl/buf.h"
#include "../libsl/exit.h"
#include "../libsl/file.h"
#include "../libsl/run.h"
#include "db.h"
#include "pg.h"

#define PG_VERSION "15"

/*
 * libpq is loaded when a node verb first needs it: linked in, it and its
 * two dozen libraries would cost every `env --devel` (sl-env on the
 * laptop) three milliseconds.
 */
static struct {
	PGconn *(*connectdb)(const char *);
	ConnStatusType (*status)(const PGconn *);
	char *(*errorMessage)(const PGconn *);
	void (*finish)(PGconn *);
	PGresult *(*exec)(PGconn *, const char *);
	ExecStatusType (*resultStatus)(const PGresult *);
	char *(*resultErrorMessage)(const PGresult *);
	void (*clear)(PGresult *);
	PGresult *(*execParams)(PGconn *, const char *, int, const Oid *,
				const char *const *, const int *, const int *, int);
	int (*ntuples)(const PGresult *);
	char *(*escapeIdentifier)(PGconn *, const char *, size_t);
	char *(*escapeLiteral)(PGconn *, const char *, size_t);
	char *(*encryptPasswordConn)(PGconn *, const char *, const char *, const char *);
	void (*freemem)(void *);
} pq;

static int load_libpq(struct sl_err *err)
{
	static void *lib;
	void **fn = (void **)&pq;
	static const char *const names[] = { "PQconnectdb", "PQstatus", "PQerrorMessage",
		"PQfinish", "PQexec", "PQresultStatus", "PQresultErrorMessage", "PQclear",
		"PQexecParams", "PQntuples", "PQescapeIdentifier", "PQescapeLiteral",
		"PQencryptPasswordConn", "PQfreemem" };

	_Static_assert(sizeof(pq) == sizeof(names) / sizeof(names[0]) * sizeof(void *), "pq");
	if (lib)
		return 0;
	lib = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		return sl_err_set(err, SL_EXIT_TEMP, "libpq is not installed (libpq5): %s", dlerror());
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!(fn[i] = dlsym(lib, names[i])))
			return sl_err_set(err, SL_EXIT_TEMP, "libpq5 lacks %s", names[i]);
	return 0;
}

#define PQconnectdb pq.connectdb
#define PQstatus pq.status
#define PQerrorMessage pq.errorMessage
#define PQfinish pq.finish
#define PQexec pq.exec
#define PQresultStatus pq.resultStatus
#define PQresultErrorMessage pq.resultErrorMessage
#define PQclear pq.clear
#define PQexecParams pq.execParams
#define PQntuples pq.ntuples
#define PQescapeIdentifier pq.escapeIdentifier
#define PQescapeLiteral pq.escapeLiteral
#define PQencryptPasswordConn pq.encryptPasswordConn
#define PQfreemem pq.freemem

int sl_pg_install(int postgis, struct sl_err *err)
{
	static const char *const plain[] = { "postgresql-" PG_VERSION, NULL };
	static const char *const gis[] = { "postgresql-" PG_VERSION,
		"postgresql-" PG_VERSION "-postgis-3", NULL };

	if (sl_svc_apt(postgis ? gis : plain, err) < 0)
		return -1;
	return sl_svc_start("postgresql@" PG_VERSION "-main", err);
}

/*
 * A superuser connection to DB: as the postgres user over the local socket
 * (peer authentication looks at the connecting process's effective uid,
 * which is postgres only for the connect).
 */
static PGconn *connect_admin(const char *db, struct sl_err *err)
{
	struct passwd *pw = getpwnam("postgres");
	struct sl_buf info = SL_BUF_INIT;
	PGconn *c;

	if (!pw) {
		sl_err_set(err, SL_EXIT_TEMP, "PostgreSQL is not installed (no user postgres)");
		return NULL;
	}
	if (load_libpq(err) < 0)
		return NULL;
	sl_buf_adds(&info, "host=/var/run/postgresql user=postgres connect_timeout=10 dbname=");
	sl_buf_adds(&info, db);	/* validated identifiers only: [a-z0-9_] */
	if (setegid(pw->pw_gid) < 0 || seteuid(pw->pw_uid) < 0) {
		sl_err_errno(err, "unable to act as postgres");
		sl_buf_release(&info);
		return NULL;
	}
	c = PQconnectdb(info.buf);
	if (seteuid(0) < 0 || setegid(0) < 0) {
		sl_err_errno(err, "unable to act as root again");
		PQfinish(c);
		sl_buf_release(&info);
		return NULL;
	}
	sl_buf_release(&info);
	if (PQstatus(c) != CONNECTION_OK) {
		sl_err_set(err, SL_EXIT_TEMP, "unable to reach PostgreSQL: %s", PQerrorMessage(c));
		sl_buf_rtrim(&err->msg);
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* Runs SQL (no result wanted). */
static int exec(PGconn *c, const char *sql, struct sl_err *err)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok) {
		sl_err_set(err, SL_EXIT_TEMP, "PostgreSQL refused: %s", PQresultErrorMessage(r));
		sl_buf_rtrim(&err->msg);
	}
	PQclear(r);
	return ok ? 0 : -1;
}

/* 1 if QUERY with the one parameter ARG returns a row, 0 if not, -1. */
static int exists(PGconn *c, const char *query, const char *arg, struct sl_err *err)
{
	const char *params[1] = { arg };
	PGresult *r = PQexecParams(c, query, 1, NULL, params, NULL, NULL, 0);
	int n = -1;

	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		n = PQntuples(r) > 0;
	else
		sl_err_set(err, SL_EXIT_TEMP, "PostgreSQL refused: %s", PQresultErrorMessage(r));
	PQclear(r);
	return n;
}

static void password_path(const struct sl_svc_app *a, struct sl_buf *b)
{
	sl_buf_addf(b, "%s/pg.password", a->data);
}

/* The database, its owner, its isolation, and PostGIS when asked. */
static int make_database(PGconn *c, const struct sl_svc_app *a, const char *ident,
			 int postgis, struct sl_err *err)
{
	struct sl_buf sql = SL_BUF_INIT;
	int n = exists(c, "SELECT 1 FROM pg_database WHERE datname = $1", a->dbname, err);

	if (n < 0)
		return -1;
	if (!n) {
		sl_buf_addf(&sql, "CREATE DATABASE %s OWNER %s", ident, ident);
		if (exec(c, sql.buf, err) < 0)
			goto fail;
		sl_buf_reset(&sql);
		sl_buf_addf(&sql, "REVOKE ALL ON DATABASE %s FROM PUBLIC", ident);
		if (exec(c, sql.buf, err) < 0)
			goto fail;
	}
	sl_buf_release(&sql);
	if (postgis) {
		PGconn *db = connect_admin(a->dbname, err);
		int ret;

		if (!db)
			return -1;
		ret = exec(db, "CREATE EXTENSION IF NOT EXISTS postgis", err);
		PQfinish(db);
		return ret;
	}
	return 0;
fail:
	sl_buf_release(&sql);
	return -1;
}

/* The server's own names: an app never takes one of them over. */
static int reserved(const char *name)
{
	static const char *const names[] = { "postgres", "template0", "template1", NULL };

	for (size_t i = 0; names[i]; i++)
		if (!strcmp(names[i], name))
			return 1;
	return !strncmp(name, "pg_", 3);
}

int sl_pg_setup(const struct sl_svc_app *a, int postgis, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT, pass = SL_BUF_INIT, sql = SL_BUF_INIT;
	PGconn *c;
	char *ident = NULL, *hash = NULL, *lit = NULL;
	int made, role, ret = -1;

	if (reserved(a->dbname))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s is PostgreSQL's own name: an app called %s cannot have a database",
				  a->dbname, a->name);
	c = connect_admin("postgres", err);
	if (!c)
		return -1;
	password_path(a, &path);
	role = exists(c, "SELECT 1 FROM pg_roles WHERE rolname = $1", a->dbname, err);
	if (role < 0)
		goto out;
	/* the password record is what says silverlining made the role */
	if (role && access(path.buf, F_OK) < 0) {
		sl_err_set(err, SL_EXIT_USAGE,
			   "a PostgreSQL role %s exists that silverlining did not make (no %s): refused",
			   a->dbname, path.buf);
		goto out;
	}
	made = sl_svc_secret(a, path.buf, &pass, err);
	if (made < 0)
		goto out;
	ident = PQescapeIdentifier(c, a->dbname, strlen(a->dbname));
	/* hashed here: the password itself never reaches the server or its logs */
	hash = PQencryptPasswordConn(c, pass.buf, a->dbname, "scram-sha-256");
	if (!ident || !hash) {
		sl_err_set(err, SL_EXIT_TEMP, "libpq: %s", PQerrorMessage(c));
		goto out;
	}
	lit = PQescapeLiteral(c, hash, strlen(hash));
	if (!lit)
		goto out;
	if (!role || made) {
		sl_buf_addf(&sql, "%s ROLE %s LOGIN PASSWORD %s", role ? "ALTER" : "CREATE", ident, lit);
		if (exec(c, sql.buf, err) < 0)
			goto out;
	}
	ret = make_database(c, a, ident, postgis, err);
out:
	PQfreemem(ident);
	PQfreemem(hash);
	PQfreemem(lit);
	PQfinish(c);
	sl_buf_release(&path);
	sl_buf_release(&pass);
	sl_buf_release(&sql);
	return ret;
}

int sl_pg_env(const struct sl_svc_app *a, struct sl_strv *vars, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT;
	int ret;

	password_path(a, &path);
	/* TCP on loopback: Debian's pg_hba asks a password there */
	ret = sl_svc_db_env(&sl_db_postgresql, a, path.buf, "127.0.0.1", "5432", vars, err);
	sl_buf_release(&path);
	return ret;
}

int sl_pg_backup(const struct sl_svc_app *a, int postgis, const char *dir, struct sl_err *err)
{
	/*
	 * PostGIS's spatial_ref_sys belongs to the server: the app's role could
	 * not load its rows back, so they stay out (custom SRIDs are not kept).
	 */
	char *argv[] = { "pg_dump", "-Fc", "--no-owner", "--no-privileges", "-d", a->dbname,
		postgis ? "--exclude-table-data=public.spatial_ref_sys" : NULL, NULL };

	return sl_svc_dump(argv, "postgres", dir, "database.pgdump", err);
}

int sl_pg_clear(const struct sl_svc_app *a, int postgis, struct sl_err *err)
{
	struct sl_buf sql = SL_BUF_INIT;
	PGconn *c = connect_admin("postgres", err);
	char *ident;
	int ret = -1;

	if (!c)
		return -1;
	ident = PQescapeIdentifier(c, a->dbname, strlen(a->dbname));
	if (!ident) {
		sl_err_set(err, SL_EXIT_TEMP, "libpq: %s", PQerrorMessage(c));
		goto out;
	}
	sl_buf_addf(&sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", ident);
	if (exec(c, sql.buf, err) == 0)
		ret = make_database(c, a, ident, postgis, err);
out:
	PQfreemem(ident);
	PQfinish(c);
	sl_buf_release(&sql);
	return ret;
}

int sl_pg_restore(const struct sl_svc_app *a, int postgis, const char *dir, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT, role = SL_BUF_INIT;
	int ret = -1;

	sl_buf_addf(&path, "%s/database.pgdump", dir);
	sl_buf_addf(&role, "--role=%s", a->dbname);
	if (access(path.buf, R_OK) < 0) {
		sl_err_errno(err, "unable to read %s", path.buf);
	} else if (sl_pg_clear(a, postgis, err) == 0) {
		/* the app's role owns what comes back; the extension is the server's */
		char *argv[] = { "pg_restore", "--single-transaction", "--no-owner",
			"--no-privileges", "--no-comments", role.buf, "-d", a->dbname, NULL };

		ret = sl_svc_load(argv, "postgres", dir, "database.pgdump", err);
	}
	sl_buf_release(&path);
	sl_buf_release(&role);
	return ret;
}
