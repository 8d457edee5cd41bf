/* silverlining — PostgreSQL and PostGIS on a node, through libpq. */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "dbrecord.h"
#include "exit.h"
#include "file.h"
#include "run.h"
#include "service-db.h"
#include "service-pg.h"

#define PG_VERSION "15"
#define PG_PORT "5432"
#define SETUP_LOCK "7336503411"	/* pg_advisory_lock's key for setups */

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
	char *(*getvalue)(const PGresult *, int, int);
} pq;

static int load_libpq(struct sl_err *err)
{
	static void *lib;
	void **fn = (void **)&pq;
	static const char *const names[] = { "PQconnectdb", "PQstatus", "PQerrorMessage",
		"PQfinish", "PQexec", "PQresultStatus", "PQresultErrorMessage", "PQclear",
		"PQexecParams", "PQntuples", "PQescapeIdentifier", "PQescapeLiteral",
		"PQencryptPasswordConn", "PQfreemem", "PQgetvalue" };

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
#define PQgetvalue pq.getvalue

/*
 * Remote mode: when the node has a record of a PostgreSQL server on a
 * service node (dbrecord.h), the server is that one. The record is read
 * once a process: a verb is one process.
 */
static struct sl_dbrecord record = SL_DBRECORD_INIT;

/* The remote server, or NULL (local, or ERR set when *FAILED). */
static const struct sl_dbrecord_server *remote(int *failed, struct sl_err *err)
{
	static int loaded = -2;

	*failed = 0;
	if (loaded == -2)
		loaded = sl_dbrecord_load(&record, err);
	if (loaded < 0) {
		*failed = 1;
		if (err && !err->code)
			sl_err_set(err, SL_EXIT_TEMP, "the node's record of its database servers "
				   "does not read");
		return NULL;
	}
	return loaded && record.pg.present ? &record.pg : NULL;
}

/* KEY='VALUE' for a libpq connection string, onto OUT. */
static void conn_add(struct sl_buf *out, const char *key, const char *value)
{
	sl_buf_addf(out, " %s='", key);
	for (; *value; value++) {
		if (*value == '\\' || *value == '\'')
			sl_buf_addch(out, '\\');
		sl_buf_addch(out, *value);
	}
	sl_buf_addch(out, '\'');
}

/* The remote server S's address, over TLS checked against its pinned certificate, onto OUT. */
static void conn_remote(struct sl_buf *out, const struct sl_dbrecord_server *s)
{
	struct sl_buf pem = SL_BUF_INIT;

	sl_dbrecord_cert_path(&pem, SL_DBRECORD_PG);
	conn_add(out, "host", s->host);
	sl_buf_addf(out, " port=%d sslmode=verify-ca", s->port);
	conn_add(out, "sslrootcert", pem.buf);
	sl_buf_release(&pem);
}

int sl_service_pg_install(int postgis, struct sl_err *err)
{
	static const char *const plain[] = { "postgresql-" PG_VERSION, NULL };
	static const char *const gis[] = { "postgresql-" PG_VERSION,
		"postgresql-" PG_VERSION "-postgis-3", NULL };
	static const char *const client[] = { "postgresql-client-" PG_VERSION, NULL };
	int failed;

	/* a remote server: the clients only (the service node has PostGIS) */
	if (remote(&failed, err))
		return sl_service_apt(client, err);
	if (failed)
		return -1;
	if (sl_service_apt(postgis ? gis : plain, err) < 0)
		return -1;
	return sl_service_start("postgresql@" PG_VERSION "-main", err);
}

/*
 * A connection as the remote server's admin, its password in this
 * process's memory only (the connection string, wiped after).
 */
static PGconn *connect_remote_admin(const struct sl_dbrecord_server *s, const char *db,
				    struct sl_err *err)
{
	struct sl_buf info = SL_BUF_INIT;
	PGconn *c;

	sl_buf_adds(&info, "connect_timeout=10 options='-c client_min_messages=warning'");
	conn_remote(&info, s);
	conn_add(&info, "user", s->admin);
	conn_add(&info, "dbname", db);
	conn_add(&info, "password", s->password);
	c = PQconnectdb(info.buf);
	explicit_bzero(info.buf, info.len);
	sl_buf_release(&info);
	if (PQstatus(c) != CONNECTION_OK) {
		sl_err_set(err, SL_EXIT_TEMP, "unable to reach PostgreSQL on %s:%d: %s", s->host,
			   s->port, PQerrorMessage(c));
		sl_buf_rtrim(&err->msg);
		PQfinish(c);
		return NULL;
	}
	return c;
}

/*
 * A superuser connection to DB: as the postgres user over the local socket
 * (peer authentication looks at the connecting process's effective uid,
 * which is postgres only for the connect).
 */
static PGconn *connect_admin(const char *db, struct sl_err *err)
{
	struct passwd *pw;
	struct sl_buf info = SL_BUF_INIT;
	const struct sl_dbrecord_server *s;
	int failed;
	PGconn *c;

	if ((s = remote(&failed, err)) || failed)
		return failed || load_libpq(err) < 0 ? NULL : connect_remote_admin(s, db, err);
	pw = getpwnam("postgres");
	if (!pw) {
		sl_err_set(err, SL_EXIT_TEMP, "PostgreSQL is not installed (no user postgres)");
		return NULL;
	}
	if (load_libpq(err) < 0)
		return NULL;
	/* no notices ("... does not exist, skipping"): libpq would print them */
	sl_buf_adds(&info, "host=/var/run/postgresql user=postgres connect_timeout=10 "
		    "options='-c client_min_messages=warning' dbname=");
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

static void password_path(const struct sl_service_app *a, struct sl_buf *b)
{
	sl_buf_addf(b, "%s/pg.password", a->data);
}

/* NAME quoted as an identifier, to free with PQfreemem(); NULL with ERR set. */
static char *quote_ident(PGconn *c, const char *name, struct sl_err *err)
{
	char *q = PQescapeIdentifier(c, name, strlen(name));

	if (!q) {
		sl_err_set(err, SL_EXIT_TEMP, "libpq: %s", PQerrorMessage(c));
		sl_buf_rtrim(&err->msg);
	}
	return q;
}

/* Runs FMT with the database DATNAME quoted as its one %s. */
static int exec_on(PGconn *c, const char *fmt, const char *datname, struct sl_err *err)
{
	struct sl_buf sql = SL_BUF_INIT;
	char *q = quote_ident(c, datname, err);
	int ret;

	if (!q)
		return -1;
	sl_buf_addf(&sql, fmt, q);
	ret = exec(c, sql.buf, err);
	PQfreemem(q);
	sl_buf_release(&sql);
	return ret;
}

/*
 * The database DATNAME of the app, made when it is missing: first the
 * superuser's, closed to PUBLIC, with PostGIS when asked, and only then
 * given to the app's role, so that the app never meets it without the
 * extension. An existing one is closed and given again (no change when it
 * was). The extension is the one thing made by the superuser in a
 * database an app can write to, and it is made before the app can.
 */
static int make_database(PGconn *c, const struct sl_service_app *a, const char *datname,
			 int postgis, struct sl_err *err)
{
	struct sl_buf sql = SL_BUF_INIT;
	char *db = NULL, *role = NULL;
	int n = exists(c, "SELECT 1 FROM pg_database WHERE datname = $1", datname, err);
	int ret = -1;

	if (n < 0)
		return -1;
	/* each step again on an existing one: a setup cut short is finished */
	if ((!n && exec_on(c, "CREATE DATABASE %s", datname, err) < 0) ||
	    exec_on(c, "REVOKE ALL ON DATABASE %s FROM PUBLIC", datname, err) < 0)
		return -1;
	if (postgis) {
		PGconn *dbc = connect_admin(datname, err);

		if (!dbc)
			return -1;
		ret = exec(dbc, "CREATE EXTENSION IF NOT EXISTS postgis", err);
		PQfinish(dbc);
		if (ret < 0)
			return -1;
	}
	ret = -1;
	if (!(db = quote_ident(c, datname, err)) || !(role = quote_ident(c, a->dbname, err)))
		goto out;
	sl_buf_addf(&sql, "ALTER DATABASE %s OWNER TO %s", db, role);
	ret = exec(c, sql.buf, err);
out:
	PQfreemem(db);
	PQfreemem(role);
	sl_buf_release(&sql);
	return ret;
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

/*
 * Whether A's role on the remote server S logs in with PASSWORD: 0; a
 * server that says no (a role someone else made, or one that may not log
 * in) is refused, 100; a server not reached, 111.
 */
static int app_logs_in(const struct sl_dbrecord_server *s, const struct sl_service_app *a,
		       const char *password, struct sl_err *err)
{
	struct sl_buf info = SL_BUF_INIT;
	const char *why;
	PGconn *c;
	int ret = 0;

	sl_buf_adds(&info, "connect_timeout=10 dbname=postgres");
	conn_remote(&info, s);
	conn_add(&info, "user", a->dbname);
	conn_add(&info, "password", password);
	c = PQconnectdb(info.buf);
	explicit_bzero(info.buf, info.len);
	why = PQerrorMessage(c);
	if (PQstatus(c) == CONNECTION_OK) {
		ret = 0;
	} else if (strstr(why, "password authentication failed") ||
		   strstr(why, "not permitted to log in")) {
		ret = sl_err_set(err, SL_EXIT_USAGE, "a PostgreSQL role %s exists on %s that does not "
				 "log in with the password silverlining gives it: refused",
				 a->dbname, s->host);
	} else {
		ret = sl_err_set(err, SL_EXIT_TEMP, "unable to log in to PostgreSQL on %s:%d as %s: %s",
				 s->host, s->port, a->dbname, why);
		sl_buf_rtrim(&err->msg);
	}
	PQfinish(c);
	sl_buf_release(&info);
	return ret;
}

/* TEXT as A's record PATH: the file and modes sl_service_secret() makes. */
static int write_record(const struct sl_service_app *a, const char *path,
			const struct sl_buf *text, struct sl_err *err)
{
	if (sl_file_mkdirs(a->data, 0755, err) < 0 ||
	    sl_file_write(path, text->buf, text->len, 0640, SL_FILE_REPLACE, err) < 0)
		return -1;
	if (chown(path, 0, a->gid) < 0)
		return sl_err_errno(err, "unable to give %s to %s", path, a->user);
	return 0;
}

int sl_service_pg_setup(const struct sl_service_app *a, int postgis, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT, pass = SL_BUF_INIT, sql = SL_BUF_INIT;
	struct sl_buf srv = SL_BUF_INIT, where = SL_BUF_INIT;
	const struct sl_dbrecord_server *s;
	PGconn *c;
	char *ident = NULL, *hash = NULL, *lit = NULL;
	int made, role, failed, ret = -1;

	if (reserved(a->dbname))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s is PostgreSQL's own name: an app called %s cannot have a database",
				  a->dbname, a->name);
	c = connect_admin("postgres", err);
	if (!c)
		return -1;
	password_path(a, &path);
	/*
	 * one setup at a time on the server: the app nodes of a nodeset set
	 * the same app up at once, and two CREATE DATABASE of one name race
	 * (the lock is the session's, let go when it ends)
	 */
	if (exec(c, "SELECT pg_advisory_lock(" SETUP_LOCK ")", err) < 0)
		goto out;
	role = exists(c, "SELECT 1 FROM pg_roles WHERE rolname = $1", a->dbname, err);
	if (role < 0)
		goto out;
	if ((s = remote(&failed, err))) {
		/* every app node derives the same: a role that logs in with it is ours */
		made = 0;
		sl_dbrecord_app_password(s, SL_DBRECORD_PG, a->name, &pass);
		sl_service_db_server_path(&sl_service_db_postgresql, a, &srv);
		sl_service_db_server_text(s->host, s->port, &where);
		if ((role && app_logs_in(s, a, pass.buf, err) < 0) ||
		    write_record(a, path.buf, &pass, err) < 0 ||
		    write_record(a, srv.buf, &where, err) < 0)
			goto out;
	} else if (role && access(path.buf, F_OK) < 0) {
		/* the password record is what says silverlining made the role */
		sl_err_set(err, SL_EXIT_USAGE,
			   "a PostgreSQL role %s exists that silverlining did not make (no %s): refused",
			   a->dbname, path.buf);
		goto out;
	} else if ((made = sl_service_secret(a, path.buf, &pass, err)) < 0) {
		goto out;
	} else {
		/* the server is this node's (again) */
		sl_service_db_server_path(&sl_service_db_postgresql, a, &srv);
		if (unlink(srv.buf) < 0 && errno != ENOENT) {
			sl_err_errno(err, "unable to remove %s", srv.buf);
			goto out;
		}
	}
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
	ret = make_database(c, a, a->dbname, postgis, err);
out:
	PQfreemem(ident);
	PQfreemem(hash);
	PQfreemem(lit);
	PQfinish(c);
	explicit_bzero(pass.buf, pass.len);
	sl_buf_release(&path);
	sl_buf_release(&pass);
	sl_buf_release(&sql);
	sl_buf_release(&srv);
	sl_buf_release(&where);
	return ret;
}

int sl_service_pg_env(const struct sl_service_app *a, struct sl_strv *vars, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT;
	int ret;

	password_path(a, &path);
	/* set up on a remote server: its host and port, TLS checked against its certificate */
	ret = sl_service_db_env_remote(&sl_service_db_postgresql, a, path.buf, vars, err);
	if (!ret)	/* TCP on loopback: Debian's pg_hba asks a password there */
		ret = sl_service_db_env(&sl_service_db_postgresql, a, path.buf, "127.0.0.1", PG_PORT,
					NULL, vars, err);
	sl_buf_release(&path);
	return ret < 0 ? -1 : 0;
}

int sl_service_pg_passfile(const char *host, int port, const char *user, const char *password,
			   uid_t uid, gid_t gid, struct sl_err *err)
{
	struct sl_buf line = SL_BUF_INIT;
	int fd = open("/run", O_TMPFILE | O_RDWR, 0600);

	if (fd < 0)
		return sl_err_errno(err, "unable to make a file in /run");
	sl_buf_addf(&line, "%s:%d:*:%s:%s\n", host, port, user, password);
	if (sl_file_write_all(fd, line.buf, line.len) < 0 || fchown(fd, uid, gid) < 0) {
		sl_err_errno(err, "unable to write the login of %s", user);
		close(fd);
		fd = -1;
	}
	explicit_bzero(line.buf, line.len);
	sl_buf_release(&line);
	return fd;
}

/*
 * A login as the app's own role, for the clients that run what the app
 * wrote (pg_dump, pg_restore): over TCP (the loopback, or the record's
 * server), its password in an unnamed passfile of the app's user
 * (sl_service_pg_passfile). Appends the connection string for DATNAME to
 * CONN; returns the fd (the caller closes it), or -1 with ERR.
 */
static int app_login(const struct sl_service_app *a, const char *datname,
		     struct sl_buf *conn, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT, pass = SL_BUF_INIT;
	const struct sl_dbrecord_server *s = NULL;
	int fd = -1, failed;

	password_path(a, &path);
	if (sl_buf_read_file(&pass, path.buf) < 0) {
		sl_err_errno(err, "unable to read %s (set the app up first)", path.buf);
		goto out;
	}
	sl_buf_rtrim(&pass);
	if (!(s = remote(&failed, err)) && failed)
		goto out;
	fd = sl_service_pg_passfile(s ? s->host : "127.0.0.1", s ? s->port : atoi(PG_PORT),
				    a->dbname, pass.buf, a->uid, a->gid, err);
	if (fd < 0) {
		goto out;
	} else if (s) {
		/* the server checked against its pinned certificate: the password goes nowhere else */
		sl_buf_adds(conn, "connect_timeout=10");
		conn_remote(conn, s);
		sl_buf_addf(conn, " user=%s dbname=%s passfile=/proc/self/fd/%d", a->dbname,
			    datname, fd);
	} else {
		sl_buf_addf(conn, "host=127.0.0.1 port=" PG_PORT " connect_timeout=10 "
			    "user=%s dbname=%s passfile=/proc/self/fd/%d", a->dbname, datname, fd);
	}
out:
	explicit_bzero(pass.buf, pass.len);
	sl_buf_release(&pass);
	sl_buf_release(&path);
	return fd;
}

int sl_service_pg_backup(const struct sl_service_app *a, int postgis, const char *dir, struct sl_err *err)
{
	struct sl_buf conn = SL_BUF_INIT;
	int fd = app_login(a, a->dbname, &conn, err), ret;
	/*
	 * PostGIS's spatial_ref_sys belongs to the server: the app's role could
	 * not load its rows back, so they stay out (custom SRIDs are not kept).
	 */
	char *argv[] = { "pg_dump", "-Fc", "--no-owner", "--no-privileges", "-d", conn.buf,
		postgis ? "--exclude-table-data=public.spatial_ref_sys" : NULL, NULL };

	if (fd < 0)
		return -1;
	ret = sl_service_dump(argv, a->user, dir, "database.pgdump", err);
	close(fd);
	sl_buf_release(&conn);
	return ret;
}

int sl_service_pg_clear(const struct sl_service_app *a, int postgis, struct sl_err *err)
{
	PGconn *c = connect_admin("postgres", err);
	int ret;

	if (!c)
		return -1;
	ret = exec_on(c, "DROP DATABASE IF EXISTS %s WITH (FORCE)", a->dbname, err);
	if (!ret)
		ret = make_database(c, a, a->dbname, postgis, err);
	PQfinish(c);
	return ret;
}

/*
 * The loaded database TMP takes the app's name in one transaction, the
 * live one renamed to OLD, then dropped. A rename waits for no session:
 * the app's are ended first, and a session that comes back in between
 * makes the transaction fail as a whole, so it is tried again, 3 times.
 */
static int swap(PGconn *c, const struct sl_service_app *a, const char *tmp,
		const char *old, struct sl_err *err)
{
	const char *params[2] = { a->dbname, tmp };
	struct sl_buf sql = SL_BUF_INIT;
	char *qlive = NULL, *qtmp = NULL, *qold = NULL;
	int live = exists(c, "SELECT 1 FROM pg_database WHERE datname = $1", a->dbname, err);
	int ret = -1;

	if (live < 0 || !(qlive = quote_ident(c, a->dbname, err)) ||
	    !(qtmp = quote_ident(c, tmp, err)) || !(qold = quote_ident(c, old, err)))
		goto out;
	if (live)
		sl_buf_addf(&sql, "ALTER DATABASE %s RENAME TO %s; ", qlive, qold);
	sl_buf_addf(&sql, "ALTER DATABASE %s RENAME TO %s", qtmp, qlive);
	for (int try = 0; try < 3 && ret < 0; try++) {
		PGresult *r = PQexecParams(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
					   " WHERE datname IN ($1, $2) AND pid <> pg_backend_pid()",
					   2, NULL, params, NULL, NULL, 0);

		PQclear(r);
		/* several statements in one query: one transaction, all or nothing */
		ret = exec(c, sql.buf, err);
	}
	if (!ret && live &&
	    exec_on(c, "DROP DATABASE %s WITH (FORCE)", old, err) < 0) {
		sl_err_prefix(err, "the backup is in place, but the database it replaced (%s) is left", old);
		ret = -1;
	}
out:
	PQfreemem(qlive);
	PQfreemem(qtmp);
	PQfreemem(qold);
	sl_buf_release(&sql);
	return ret;
}

int sl_service_pg_check(const struct sl_service_app *a, const char *dir, struct sl_err *err)
{
	char *argv[] = { "pg_restore", "--file=/dev/null", NULL };
	struct sl_buf path = SL_BUF_INIT;
	int ret = 0;

	sl_buf_addf(&path, "%s/database.pgdump", dir);
	if (access(path.buf, R_OK) < 0) {
		ret = sl_err_errno(err, "unable to read %s", path.buf);
	} else if (sl_service_load(argv, a->user, dir, "database.pgdump", err) < 0) {
		if (err->code == SL_EXIT_TEMP)
			sl_err_set(err, SL_EXIT_USAGE, "%s is not a whole pg_dump archive: nothing was changed",
				   path.buf);
		ret = -1;
	}
	sl_buf_release(&path);
	return ret;
}

/* A database loaded from a backup beside the app's own: a restore's, a verify's. */
struct side {
	PGconn *c;		/* the superuser's */
	int fd;			/* the app's login (app_login) */
	struct sl_buf conn;	/* its connection string, to the side database */
	int made;
};
#define SIDE_INIT { NULL, -1, SL_BUF_INIT, 0 }

/*
 * DIR/database.pgdump read whole (100 if it is not), then loaded into the
 * new database NAME (left-overs of a crashed run dropped first, and ALSO
 * when not NULL), made as the app's own is, logged in as the app's role,
 * in one transaction. 0, or -1 with ERR; *LOADED says whether the load
 * itself failed (then NAME is still there, for side_end to drop).
 */
static int side_load(const struct sl_service_app *a, int postgis, const char *dir,
		     const char *name, const char *also, struct side *sd, int *load_failed,
		     struct sl_err *err)
{
	/* the app's role owns what comes back; the extension is the server's */
	char *load[] = { "pg_restore", "--single-transaction", "--no-owner", "--no-privileges",
		"--no-comments", "-d", NULL, NULL };

	*load_failed = 0;
	if (sl_service_pg_check(a, dir, err) < 0)
		return -1;
	if ((sd->fd = app_login(a, name, &sd->conn, err)) < 0 ||
	    !(sd->c = connect_admin("postgres", err)))
		return -1;
	if (exec_on(sd->c, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name, err) < 0 ||
	    (also && exec_on(sd->c, "DROP DATABASE IF EXISTS %s WITH (FORCE)", also, err) < 0))
		return -1;
	sd->made = 1;
	if (make_database(sd->c, a, name, postgis, err) < 0)
		return -1;
	load[6] = sd->conn.buf;
	if (sl_service_load(load, a->user, dir, "database.pgdump", err) < 0) {
		*load_failed = 1;
		return -1;
	}
	return 0;
}

/* SD's side database NAME dropped when DROP (its error into ERR if not NULL), SD freed. */
static int side_end(struct side *sd, const char *name, int drop, struct sl_err *err)
{
	int ret = 0;

	if (drop && sd->made)
		ret = exec_on(sd->c, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name, err);
	if (sd->c)
		PQfinish(sd->c);
	if (sd->fd >= 0)
		close(sd->fd);
	sl_buf_release(&sd->conn);
	return ret;
}

/*
 * All or nothing: the archive is read whole first (pg_restore writing its
 * script to /dev/null), then loaded into a database of its own, named
 * APP.restore, which no app name can be (they have no dot), logged in as
 * the app's role; only a load that succeeded takes the app's database's
 * place. The left-overs of a restore that crashed are dropped first.
 */
int sl_service_pg_restore(const struct sl_service_app *a, int postgis, const char *dir, struct sl_err *err)
{
	struct sl_buf tmp = SL_BUF_INIT, old = SL_BUF_INIT;
	struct sl_err ignored = SL_ERR_INIT;	/* what failed first is the news */
	struct side sd = SIDE_INIT;
	int failed, ret = -1;

	sl_buf_addf(&tmp, "%s.restore", a->dbname);
	sl_buf_addf(&old, "%s.old", a->dbname);
	if (side_load(a, postgis, dir, tmp.buf, old.buf, &sd, &failed, err) == 0)
		ret = swap(sd.c, a, tmp.buf, old.buf, err);
	else if (failed) {
		sl_err_prefix(err, "the backup did not load");
		sl_buf_adds(&err->msg, "; the database is as it was");
	}
	side_end(&sd, tmp.buf, ret < 0, &ignored);
	sl_err_release(&ignored);
	sl_buf_release(&tmp);
	sl_buf_release(&old);
	return ret;
}

/* The tables of the database C is connected to, and their rows, onto REPORT. */
static int count_rows(PGconn *c, struct sl_strv *report, struct sl_err *err)
{
	/* the app's own tables: not the catalogs, not an extension's (spatial_ref_sys) */
	PGresult *r = PQexec(c, "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)"
		" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
		" WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
		" AND n.nspname NOT LIKE 'pg\\_%'"
		" AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass"
		" AND d.objid = c.oid AND d.deptype = 'e') ORDER BY 1");
	unsigned long long rows = 0;
	int n, ret = 0;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		sl_err_set(err, SL_EXIT_TEMP, "PostgreSQL refused: %s", PQresultErrorMessage(r));
		sl_buf_rtrim(&err->msg);
		PQclear(r);
		return -1;
	}
	n = PQntuples(r);
	for (int i = 0; i < n && !ret; i++) {
		struct sl_buf sql = SL_BUF_INIT;
		PGresult *cr;

		sl_buf_addf(&sql, "SELECT count(*) FROM %s", PQgetvalue(r, i, 0));
		cr = PQexec(c, sql.buf);
		if (PQresultStatus(cr) == PGRES_TUPLES_OK && PQntuples(cr) == 1) {
			rows += strtoull(PQgetvalue(cr, 0, 0), NULL, 10);
		} else {
			ret = sl_err_set(err, SL_EXIT_USAGE, "the table %s does not read back: %s",
					 PQgetvalue(r, i, 0), PQresultErrorMessage(cr));
			sl_buf_rtrim(&err->msg);
		}
		PQclear(cr);
		sl_buf_release(&sql);
	}
	PQclear(r);
	if (!ret) {
		sl_strv_pushf(report, "tables=%d", n);
		sl_strv_pushf(report, "rows=%llu", rows);
	}
	return ret;
}

/*
 * As a restore loads it (logged in as the app's role, in one
 * transaction), into a scratch database of its own, APP.verify (no app
 * name has a dot, and APP.restore is a restore's), made by the
 * superuser and closed to PUBLIC as the app's own is; its tables counted
 * by the app's role, then dropped. A load that fails is a bad part (100).
 */
int sl_service_pg_verify(const struct sl_service_app *a, int postgis, const char *dir,
			 struct sl_strv *report, struct sl_err *err)
{
	struct sl_buf tmp = SL_BUF_INIT;
	struct sl_err dropped = SL_ERR_INIT;
	struct side sd = SIDE_INIT;
	PGconn *app = NULL;
	int failed, ret = -1;

	sl_buf_addf(&tmp, "%s.verify", a->dbname);
	if (side_load(a, postgis, dir, tmp.buf, NULL, &sd, &failed, err) < 0) {
		if (failed)
			sl_err_set(err, SL_EXIT_USAGE, "%s/database.pgdump does not restore "
				   "(pg_restore failed)", dir);
		goto out;
	}
	app = PQconnectdb(sd.conn.buf);
	if (PQstatus(app) != CONNECTION_OK) {
		sl_err_set(err, SL_EXIT_TEMP, "unable to log in as %s to count the rows: %s",
			   a->dbname, PQerrorMessage(app));
		sl_buf_rtrim(&err->msg);
		goto out;
	}
	ret = count_rows(app, report, err);
out:
	if (app)
		PQfinish(app);
	if (side_end(&sd, tmp.buf, 1, &dropped) < 0 && !ret)
		ret = sl_err_set(err, SL_EXIT_TEMP, "the scratch database %s is left: %s",
				 tmp.buf, dropped.msg.buf);
	sl_err_release(&dropped);
	sl_buf_release(&tmp);
	return ret;
}

int sl_service_pg_scram(const char *password, const char *role, struct sl_buf *out,
			struct sl_err *err)
{
	PGconn *c = connect_admin("postgres", err);
	char *hash;

	if (!c)
		return -1;
	hash = PQencryptPasswordConn(c, password, role, "scram-sha-256");
	if (!hash) {
		sl_err_set(err, SL_EXIT_TEMP, "libpq: %s", PQerrorMessage(c));
		sl_buf_rtrim(&err->msg);
	} else {
		sl_buf_reset(out);
		sl_buf_adds(out, hash);
		PQfreemem(hash);
	}
	PQfinish(c);
	return hash ? 0 : -1;
}
