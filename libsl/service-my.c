/* silverlining — MySQL (MariaDB) on a node, through MariaDB's client library. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <mysql.h>
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "dbrecord.h"
#include "exit.h"
#include "file.h"
#include "run.h"
#include "service-db.h"
#include "service-my.h"

#define SOCKET "/run/mysqld/mysqld.sock"

/* libmariadb is loaded when a node verb first needs it (see service-pg.c). */
static struct {
	MYSQL *(*init)(MYSQL *);
	MYSQL *(*real_connect)(MYSQL *, const char *, const char *, const char *,
			       const char *, unsigned int, const char *, unsigned long);
	const char *(*error)(MYSQL *);
	void (*close)(MYSQL *);
	int (*query)(MYSQL *, const char *);
	MYSQL_RES *(*store_result)(MYSQL *);
	void (*free_result)(MYSQL_RES *);
	my_ulonglong (*num_rows)(MYSQL_RES *);
	MYSQL_ROW (*fetch_row)(MYSQL_RES *);
	unsigned int (*num_fields)(MYSQL_RES *);
	int (*select_db)(MYSQL *, const char *);
	int (*options)(MYSQL *, enum mysql_option, const void *);
} my;

static int load_libmariadb(struct sl_err *err)
{
	static void *lib;
	void **fn = (void **)&my;
	static const char *const names[] = { "mysql_init", "mysql_real_connect", "mysql_error",
		"mysql_close", "mysql_query", "mysql_store_result", "mysql_free_result",
		"mysql_num_rows", "mysql_fetch_row", "mysql_num_fields", "mysql_select_db",
		"mysql_options" };

	_Static_assert(sizeof(my) == sizeof(names) / sizeof(names[0]) * sizeof(void *), "my");
	if (lib)
		return 0;
	lib = dlopen("libmariadb.so.3", RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		return sl_err_set(err, SL_EXIT_TEMP, "libmariadb is not installed (libmariadb3): %s",
				  dlerror());
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!(fn[i] = dlsym(lib, names[i])))
			return sl_err_set(err, SL_EXIT_TEMP, "libmariadb3 lacks %s", names[i]);
	return 0;
}

#define mysql_init my.init
#define mysql_real_connect my.real_connect
#define mysql_error my.error
#define mysql_close my.close
#define mysql_query my.query
#define mysql_store_result my.store_result
#define mysql_free_result my.free_result
#define mysql_num_rows my.num_rows
#define mysql_fetch_row my.fetch_row
#define mysql_num_fields my.num_fields
#define mysql_select_db my.select_db
#define mysql_options my.options

/*
 * Where the apps' databases are: the node's own server, over its socket,
 * or, in remote mode (the node's record has a [mysql] section, see
 * dbrecord.h), the record's server, over TCP with TLS required and its
 * certificate checked against ROOT/services/mysql.pem (the chain only:
 * the record names the server by the address its clients use, which the
 * certificate need not carry).
 */
struct where {
	struct sl_dbrecord rec;
	const struct sl_dbrecord_server *srv;	/* NULL: the node's own server */
	const struct sl_strv *hosts;		/* the hosts of each app's users */
	struct sl_buf ca;			/* remote: the certificate's path */
};
#define WHERE_INIT { SL_DBRECORD_INIT, NULL, NULL, SL_BUF_INIT }

static int where_load(struct where *w, struct sl_err *err)
{
	static const char *const local[] = { "localhost" };
	static const struct sl_strv localhost = { (char **)local, 1, 1 };
	int n = sl_dbrecord_load(&w->rec, err);

	if (n < 0)
		return -1;
	w->srv = n && w->rec.my.present ? &w->rec.my : NULL;
	w->hosts = w->srv ? &w->srv->clients : &localhost;
	if (w->srv)
		sl_dbrecord_cert_path(&w->ca, SL_DBRECORD_MY);
	return 0;
}

static void where_release(struct where *w)
{
	sl_dbrecord_release(&w->rec);
	sl_buf_release(&w->ca);
}

/* Remote mode installs the clients alone: the server is another node's. */
int sl_service_my_install(struct sl_err *err)
{
	static const char *const server[] = { "mariadb-server", NULL };
	static const char *const client[] = { "mariadb-client", NULL };
	struct where w = WHERE_INIT;
	int remote;

	if (where_load(&w, err) < 0)
		return -1;
	remote = w.srv != NULL;
	where_release(&w);
	if (sl_service_apt(remote ? client : server, err) < 0)
		return -1;
	return remote ? 0 : sl_service_start("mariadb", err);
}

/*
 * Over the socket: root (MariaDB's root authenticates by unix_socket) when
 * USER is NULL, else USER with PASS, into DB when not NULL. Remote: to the
 * record's server, TLS required, its certificate checked.
 */
static MYSQL *connect_as(const struct where *w, const char *user, const char *pass,
			 const char *db, struct sl_err *err)
{
	const char *who = user ? user : "root";
	MYSQL *m;

	if (load_libmariadb(err) < 0)
		return NULL;
	m = mysql_init(NULL);
	if (!m) {
		sl_err_set(err, SL_EXIT_TEMP, "out of memory");
		return NULL;
	}
	if (w->srv) {
		my_bool on = 1, off = 0;
		unsigned int timeout = 10;

		mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
		mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &on);
		mysql_options(m, MYSQL_OPT_SSL_CA, w->ca.buf);
		/* the chain is checked with a CA; this is the host-name check */
		mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &off);
		if (!mysql_real_connect(m, w->srv->host, who, pass, db, (unsigned)w->srv->port,
					NULL, 0)) {
			sl_err_set(err, SL_EXIT_TEMP, "unable to reach MariaDB at %s:%d as %s: %s",
				   w->srv->host, w->srv->port, who, mysql_error(m));
			mysql_close(m);
			return NULL;
		}
		return m;
	}
	if (!mysql_real_connect(m, NULL, who, pass, db, 0, SOCKET, 0)) {
		sl_err_set(err, SL_EXIT_TEMP, "unable to reach MariaDB as %s: %s", who,
			   mysql_error(m));
		mysql_close(m);
		return NULL;
	}
	return m;
}

/* The server's administrator: root over the socket, or the record's admin. */
static MYSQL *connect_admin(const struct where *w, struct sl_err *err)
{
	if (w->srv)
		return connect_as(w, w->srv->admin, w->srv->password, NULL, err);
	return connect_as(w, NULL, NULL, NULL, err);
}

static int query(MYSQL *m, const char *sql, struct sl_err *err)
{
	if (mysql_query(m, sql)) {
		sl_err_set(err, SL_EXIT_TEMP, "MariaDB refused: %s", mysql_error(m));
		return -1;
	}
	MYSQL_RES *r = mysql_store_result(m);
	mysql_free_result(r);
	return 0;
}

__attribute__((format(printf, 3, 4)))
static int queryf(MYSQL *m, struct sl_err *err, const char *fmt, ...)
{
	struct sl_buf sql = SL_BUF_INIT;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	sl_buf_vaddf(&sql, fmt, ap);
	va_end(ap);
	ret = query(m, sql.buf, err);
	sl_buf_release(&sql);
	return ret;
}

/* Every column of every row of SQL's result pushed to OUT (NULL as ""). */
static int rows(MYSQL *m, const char *sql, struct sl_strv *out, struct sl_err *err)
{
	MYSQL_RES *r;
	MYSQL_ROW row;

	if (mysql_query(m, sql) || !(r = mysql_store_result(m)))
		return sl_err_set(err, SL_EXIT_TEMP, "MariaDB refused: %s", mysql_error(m));
	while ((row = mysql_fetch_row(r)))
		for (unsigned i = 0; i < mysql_num_fields(r); i++)
			sl_strv_push(out, row[i] ? row[i] : "");
	mysql_free_result(r);
	return 0;
}

/* Identifiers here are app names in database form: [a-z][a-z0-9_]*, checked again. */
static int plain_ident(const char *s)
{
	if (!islower((unsigned char)*s))
		return 0;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '_')
			return 0;
	return 1;
}

/* NAME quoted as an identifier: `na``me` */
static const char *ident(struct sl_buf *b, const char *name)
{
	sl_buf_reset(b);
	sl_buf_addch(b, '`');
	for (; *name; name++) {
		if (*name == '`')
			sl_buf_addch(b, '`');
		sl_buf_addch(b, *name);
	}
	sl_buf_addch(b, '`');
	return b->buf;
}

/*
 * A database name as GRANT and REVOKE read it: there '_' and '%' are
 * patterns, so `pay_ents` would also grant `payments`. Escaped, the name
 * means itself alone.
 */
static const char *grant_db(struct sl_buf *b, const char *db)
{
	sl_buf_reset(b);
	sl_buf_addch(b, '`');
	for (; *db; db++) {
		if (*db == '_' || *db == '%' || *db == '\\')
			sl_buf_addch(b, '\\');
		if (*db == '`')
			sl_buf_addch(b, '`');
		sl_buf_addch(b, *db);
	}
	sl_buf_addch(b, '`');
	return b->buf;
}

/* mysql_native_password's hash of PASS: '*' and HEX(SHA1(SHA1(PASS))). */
static void native_hash(const char *pass, char out[42])
{
	unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
	unsigned int na, nb;

	EVP_Digest(pass, strlen(pass), a, &na, EVP_sha1(), NULL);
	EVP_Digest(a, na, b, &nb, EVP_sha1(), NULL);
	out[0] = '*';
	for (unsigned int i = 0; i < nb; i++)
		snprintf(out + 1 + 2 * i, 3, "%02X", b[i]);
}

static void password_path(const struct sl_service_app *a, struct sl_buf *b)
{
	sl_buf_addf(b, "%s/mysql.password", a->data);
}

/* S as a string literal: 's''s' (backslashes doubled too). */
static const char *literal(struct sl_buf *b, const char *s)
{
	sl_buf_reset(b);
	sl_buf_addch(b, '\'');
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\')
			sl_buf_addch(b, *s);
		sl_buf_addch(b, *s);
	}
	sl_buf_addch(b, '\'');
	return b->buf;
}

/* GRANT (or REVOKE) everything on DB alone to (from) APP's users. */
static int grant(MYSQL *m, const struct where *w, const struct sl_service_app *a,
		 const char *db, int give, struct sl_err *err)
{
	struct sl_buf q = SL_BUF_INIT;
	int ret = 0;

	for (size_t i = 0; !ret && i < w->hosts->n; i++)
		ret = queryf(m, err, "%s ALL PRIVILEGES ON %s.* %s '%s'@'%s'",
			     give ? "GRANT" : "REVOKE", grant_db(&q, db), give ? "TO" : "FROM",
			     a->dbname, w->hosts->v[i]);
	sl_buf_release(&q);
	return ret;
}

/*
 * The database and its grant. Grants made before the name was escaped
 * (ON `pay_ents`.*, which matched `payments` too) are revoked.
 */
static int make_database(MYSQL *m, const struct where *w, const struct sl_service_app *a,
			 struct sl_err *err)
{
	struct sl_strv old = SL_STRV_INIT;
	int ret;

	ret = queryf(m, err, "CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4", a->dbname);
	if (!ret && !w->srv && strchr(a->dbname, '_')) {
		struct sl_buf sql = SL_BUF_INIT;

		/* '=' compares plainly: the row of the pattern as once written */
		sl_buf_addf(&sql, "SELECT 1 FROM mysql.db WHERE User = '%s' AND Host = 'localhost' "
			    "AND Db = '%s'", a->dbname, a->dbname);
		ret = rows(m, sql.buf, &old, err);
		if (!ret && old.n)
			ret = queryf(m, err, "REVOKE ALL PRIVILEGES ON `%s`.* FROM '%s'@'localhost'",
				     a->dbname, a->dbname);
		sl_buf_release(&sql);
	}
	if (!ret)
		ret = grant(m, w, a, a->dbname, 1, err);
	sl_strv_clear(&old);
	return ret;
}

/* The server's own names: an app never takes one of them over. */
static int reserved(const char *name)
{
	static const char *const names[] = { "mysql", "sys", "root", "test",
		"information_schema", "performance_schema", "mariadb", NULL };

	for (size_t i = 0; names[i]; i++)
		if (!strcmp(names[i], name))
			return 1;
	return 0;
}

/* 1 if the user NAME@localhost exists, 0 if not, -1. */
static int user_exists(MYSQL *m, const char *name, struct sl_err *err)
{
	struct sl_buf sql = SL_BUF_INIT;
	struct sl_strv r = SL_STRV_INIT;
	int n;

	sl_buf_addf(&sql, "SELECT 1 FROM mysql.global_priv WHERE User = '%s' AND Host = 'localhost'", name);
	n = rows(m, sql.buf, &r, err) < 0 ? -1 : r.n > 0;
	sl_buf_release(&sql);
	sl_strv_clear(&r);
	return n;
}

static int check_name(const struct sl_service_app *a, struct sl_err *err)
{
	if (!plain_ident(a->dbname))
		return sl_err_set(err, SL_EXIT_USAGE, "invalid database name '%s'", a->dbname);
	return 0;
}

/* Local: 'APP'@'localhost', its password random, its record the proof it is ours. */
static int setup_local(MYSQL *m, const struct where *w, const struct sl_service_app *a,
		       struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT, pass = SL_BUF_INIT, sql = SL_BUF_INIT;
	char hash[42];
	int made, user, ret = -1;

	password_path(a, &path);
	user = user_exists(m, a->dbname, err);
	if (user < 0)
		goto out;
	/* the password record is what says silverlining made the user */
	if (user && access(path.buf, F_OK) < 0) {
		sl_err_set(err, SL_EXIT_USAGE,
			   "a MariaDB user %s exists that silverlining did not make (no %s): refused",
			   a->dbname, path.buf);
		goto out;
	}
	made = sl_service_secret(a, path.buf, &pass, err);
	if (made < 0)
		goto out;
	/* the server gets the hash: the password is in no statement, no log */
	native_hash(pass.buf, hash);
	sl_buf_addf(&sql, "CREATE USER IF NOT EXISTS '%s'@'localhost' IDENTIFIED BY PASSWORD '%s'",
		    a->dbname, hash);
	if (query(m, sql.buf, err) < 0)
		goto out;
	if (made) {
		sl_buf_reset(&sql);
		sl_buf_addf(&sql, "ALTER USER '%s'@'localhost' IDENTIFIED BY PASSWORD '%s'", a->dbname, hash);
		if (query(m, sql.buf, err) < 0)
			goto out;
	}
	/* a server once remote is this node's own again: env says so */
	sl_buf_reset(&path);
	sl_service_db_server_path(&sl_service_db_mysql, a, &path);
	if (unlink(path.buf) < 0 && errno != ENOENT) {
		sl_err_errno(err, "unable to remove %s", path.buf);
		goto out;
	}
	ret = make_database(m, w, a, err);
out:
	sl_buf_release(&path);
	sl_buf_release(&pass);
	sl_buf_release(&sql);
	return ret;
}

/* TEXT into A's record PATH (0640, root and the app's group) unless it holds it. */
static int write_record(const struct sl_service_app *a, const char *path, const char *text,
			struct sl_err *err)
{
	struct sl_buf old = SL_BUF_INIT;
	int ret = 0;

	if (sl_buf_read_file(&old, path) < 0 || strcmp(old.buf, text)) {
		if (sl_file_mkdirs(a->data, 0755, err) < 0 ||
		    sl_file_write(path, text, strlen(text), 0640, SL_FILE_REPLACE, err) < 0)
			ret = -1;
		else if (chown(path, 0, a->gid) < 0)
			ret = sl_err_errno(err, "unable to give %s to %s", path, a->user);
	}
	sl_buf_release(&old);
	return ret;
}

/*
 * Remote: 'APP'@'CLIENT' for each client of the record, TLS required, the
 * password derived from the record's seed (every app node derives the
 * same). A user of the app's name that does not log in with it is someone
 * else's: refused before anything changes. Users of hosts that are no
 * longer clients are dropped.
 */
static int setup_remote(MYSQL *m, const struct where *w, const struct sl_service_app *a,
			struct sl_err *err)
{
	struct sl_buf pass = SL_BUF_INIT, sql = SL_BUF_INIT, lit = SL_BUF_INIT;
	struct sl_buf path = SL_BUF_INIT, server = SL_BUF_INIT;
	struct sl_strv have = SL_STRV_INIT;
	char hash[42];
	int ret = -1;

	sl_dbrecord_app_password(w->srv, SL_DBRECORD_MY, a->name, &pass);
	native_hash(pass.buf, hash);
	sl_buf_addf(&sql, "SELECT Host, IFNULL(JSON_VALUE(Priv, '$.plugin'), ''), "
		    "IFNULL(JSON_VALUE(Priv, '$.authentication_string'), '') "
		    "FROM mysql.global_priv WHERE User = '%s'", a->dbname);
	if (rows(m, sql.buf, &have, err) < 0)
		goto out;
	for (size_t i = 0; i + 2 < have.n; i += 3)
		if (strcmp(have.v[i + 1], "mysql_native_password") || strcmp(have.v[i + 2], hash)) {
			sl_err_set(err, SL_EXIT_USAGE,
				   "a MariaDB user '%s'@'%s' exists on %s that does not log in with "
				   "the app's password: someone else's, refused", a->dbname,
				   have.v[i], w->srv->host);
			goto out;
		}
	/* the password record as a local server's (no newline), and the server */
	password_path(a, &path);
	sl_service_db_server_text(w->srv->host, w->srv->port, &server);
	if (write_record(a, path.buf, pass.buf, err) < 0)
		goto out;
	sl_buf_reset(&path);
	sl_service_db_server_path(&sl_service_db_mysql, a, &path);
	if (write_record(a, path.buf, server.buf, err) < 0)
		goto out;
	for (size_t i = 0; i < w->hosts->n; i++) {
		const char *host = w->hosts->v[i];

		/* the server gets the hash: the password is in no statement, no log */
		if (queryf(m, err, "CREATE USER IF NOT EXISTS '%s'@'%s' IDENTIFIED BY PASSWORD '%s' "
			   "REQUIRE SSL", a->dbname, host, hash) < 0 ||
		    queryf(m, err, "ALTER USER '%s'@'%s' IDENTIFIED BY PASSWORD '%s' REQUIRE SSL",
			   a->dbname, host, hash) < 0)
			goto out;
	}
	for (size_t i = 0; i < have.n; i += 3) {
		size_t k = 0;

		while (k < w->hosts->n && strcmp(w->hosts->v[k], have.v[i]))
			k++;
		if (k == w->hosts->n &&
		    queryf(m, err, "DROP USER '%s'@%s", a->dbname, literal(&lit, have.v[i])) < 0)
			goto out;
	}
	ret = make_database(m, w, a, err);
out:
	sl_buf_release(&pass);
	sl_buf_release(&sql);
	sl_buf_release(&lit);
	sl_buf_release(&path);
	sl_buf_release(&server);
	sl_strv_clear(&have);
	return ret;
}

typedef int admin_fn(MYSQL *m, const struct where *w, const struct sl_service_app *a,
		     struct sl_err *err);

/* FN, on the administrator's connection to the server of A's database. */
static int as_admin(const struct sl_service_app *a, admin_fn *fn, struct sl_err *err)
{
	struct where w = WHERE_INIT;
	MYSQL *m;
	int ret = -1;

	if (where_load(&w, err) < 0)
		return -1;
	m = connect_admin(&w, err);
	if (m) {
		ret = fn(m, &w, a, err);
		mysql_close(m);
	}
	where_release(&w);
	return ret;
}

static int setup(MYSQL *m, const struct where *w, const struct sl_service_app *a,
		 struct sl_err *err)
{
	/*
	 * one setup at a time on the server: the app nodes of a nodeset set
	 * the same app up at once (the lock is the connection's)
	 */
	if (query(m, "SELECT GET_LOCK('silverlining-setup', 120)", err) < 0)
		return -1;
	return w->srv ? setup_remote(m, w, a, err) : setup_local(m, w, a, err);
}

int sl_service_my_setup(const struct sl_service_app *a, struct sl_err *err)
{
	if (check_name(a, err) < 0)
		return -1;
	if (reserved(a->dbname))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s is MariaDB's own name: an app called %s cannot have a database",
				  a->dbname, a->name);
	return as_admin(a, setup, err);
}

/*
 * Remote (setup left ROOT/apps/APP/mysql.server): that server, and
 * CONFIG_MYSQL_SSL_CA, its certificate to check it with.
 */
int sl_service_my_env(const struct sl_service_app *a, struct sl_strv *vars, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT;
	int ret;

	password_path(a, &path);
	ret = sl_service_db_env_remote(&sl_service_db_mysql, a, path.buf, vars, err);
	if (!ret)
		ret = sl_service_db_env(&sl_service_db_mysql, a, path.buf, "localhost", "3306",
					NULL, vars, err);
	sl_buf_release(&path);
	return ret < 0 ? -1 : 0;
}

/* APP's password, from its record (never made here: setup makes it). */
static int read_password(const struct sl_service_app *a, struct sl_buf *pass, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT;
	int ret = 0;

	password_path(a, &path);
	if (sl_buf_read_file(pass, path.buf) < 0)
		ret = sl_err_errno(err, "unable to read %s (set the app up first)", path.buf);
	sl_buf_rtrim(pass);
	sl_buf_release(&path);
	return ret;
}

/*
 * The clients (mariadb-dump, mariadb) run as APP's Unix user, logged in as
 * its MariaDB user: its password in an option file only that user reads.
 */
static int client_file(const struct where *w, const struct sl_service_app *a,
		       struct sl_buf *path, struct sl_err *err)
{
	struct sl_buf pass = SL_BUF_INIT, text = SL_BUF_INIT;
	int ret = -1;

	if (read_password(a, &pass, err) == 0) {
		sl_buf_addf(&text, "[client]\nuser=%s\npassword=%s\n", a->dbname, pass.buf);
		if (w->srv)
			/* TLS, the server checked against the record's certificate */
			sl_buf_addf(&text, "host=%s\nport=%d\nprotocol=tcp\nssl-ca=%s\n",
				    w->srv->host, w->srv->port, w->ca.buf);
		else
			sl_buf_addf(&text, "socket=%s\n", SOCKET);
		ret = sl_service_private_file(a, text.buf, path, err);
	}
	sl_buf_release(&pass);
	sl_buf_release(&text);
	return ret;
}

int sl_service_my_backup(const struct sl_service_app *a, const char *dir, struct sl_err *err)
{
	struct sl_buf cnf = SL_BUF_INIT, opt = SL_BUF_INIT;
	struct where w = WHERE_INIT;
	int ret;

	if (check_name(a, err) < 0 || where_load(&w, err) < 0)
		return -1;
	ret = client_file(&w, a, &cnf, err);
	where_release(&w);
	if (ret < 0)
		return -1;
	sl_buf_addf(&opt, "--defaults-extra-file=%s", cnf.buf);
	{
		char *argv[] = { "mariadb-dump", opt.buf, "--single-transaction", "--routines",
			"--triggers", a->dbname, NULL };

		ret = sl_service_dump(argv, a->user, dir, "database.sql", err);
	}
	sl_service_private_file_remove(cnf.buf);
	sl_buf_release(&cnf);
	sl_buf_release(&opt);
	return ret;
}

static int clear(MYSQL *m, const struct where *w, const struct sl_service_app *a,
		 struct sl_err *err)
{
	if (queryf(m, err, "DROP DATABASE IF EXISTS `%s`", a->dbname) < 0)
		return -1;
	return make_database(m, w, a, err);
}

int sl_service_my_clear(const struct sl_service_app *a, struct sl_err *err)
{
	if (check_name(a, err) < 0)
		return -1;
	return as_admin(a, clear, err);
}

/*
 * A whole dump: a regular file (not a link out of the backup) whose last
 * line is mariadb-dump's "-- Dump completed". A dump cut short has none.
 */
static int dump_whole(const char *path, struct sl_err *err)
{
	static const char mark[] = "-- Dump completed";
	char tail[256];
	struct stat st;
	ssize_t n;
	char *line;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		sl_err_errno(err, "unable to read %s", path);
		err->code = SL_EXIT_USAGE;
		if (fd >= 0)
			close(fd);
		return -1;
	}
	n = -1;
	if (S_ISREG(st.st_mode)) {
		off_t from = st.st_size > (off_t)sizeof(tail) - 1 ? st.st_size - (off_t)sizeof(tail) + 1 : 0;

		n = pread(fd, tail, sizeof(tail) - 1, from);
	}
	close(fd);
	if (n < 0)
		return sl_err_set(err, SL_EXIT_USAGE, "%s is not a regular file", path);
	tail[n] = '\0';
	while (n > 0 && tail[n - 1] == '\n')
		tail[--n] = '\0';
	line = strrchr(tail, '\n');
	line = line ? line + 1 : tail;
	if (strncmp(line, mark, sizeof(mark) - 1))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s is not a whole mariadb-dump (no \"%s\" at its end: cut short?): nothing was changed",
				  path, mark);
	return 0;
}

/*
 * The restore's own databases: a dash, which no app's database name holds,
 * and 48 characters, longer than any app's (31), so that no pattern of a
 * grant made before names were escaped ('_' matches one character) covers
 * them either.
 */
static void side_db(struct sl_buf *b, const char *what, const char *db)
{
	sl_buf_addf(b, "sl-%s-%s", what, db);
	while (b->len < 48)
		sl_buf_addch(b, '-');
}

/*
 * What RENAME TABLE cannot move to another database: triggers and views.
 * Routines belong to their database by name. The restore moves the base
 * tables and makes these again from their definitions (SHOW CREATE, read
 * with the database as the default one: names in them are unqualified).
 */
struct objs {
	struct sl_strv kind, name, mode, text;
};
#define OBJS_INIT { SL_STRV_INIT, SL_STRV_INIT, SL_STRV_INIT, SL_STRV_INIT }

static void objs_clear(struct objs *o)
{
	sl_strv_clear(&o->kind);
	sl_strv_clear(&o->name);
	sl_strv_clear(&o->mode);
	sl_strv_clear(&o->text);
}

/*
 * TEXT with the qualifier `DB`. taken out: a view shows its columns as
 * `db`.`t`.`a` when it was written `t`.`a`. The text is the app's own and is
 * run with its rights, so a false match could only spoil its own object.
 */
static char *unqualify(const char *text, const char *db)
{
	struct sl_buf out = SL_BUF_INIT, q = SL_BUF_INIT;
	const char *hit;

	ident(&q, db);
	sl_buf_addch(&q, '.');
	while ((hit = strstr(text, q.buf))) {
		sl_buf_add(&out, text, (size_t)(hit - text));
		text = hit + q.len;
	}
	sl_buf_adds(&out, text);
	sl_buf_release(&q);
	return sl_buf_detach(&out, NULL);
}

static int collect(MYSQL *m, const char *db, struct objs *o, struct sl_err *err)
{
	struct sl_strv list = SL_STRV_INIT, row = SL_STRV_INIT;
	struct sl_buf sql = SL_BUF_INIT, id = SL_BUF_INIT;
	int ret;

	/* routines first, then views, then triggers in their order of firing */
	sl_buf_addf(&sql, "SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES "
		    "WHERE ROUTINE_SCHEMA = '%s' ORDER BY ROUTINE_TYPE, ROUTINE_NAME", db);
	ret = rows(m, sql.buf, &list, err);
	sl_buf_reset(&sql);
	sl_buf_addf(&sql, "SELECT 'VIEW', TABLE_NAME FROM information_schema.VIEWS "
		    "WHERE TABLE_SCHEMA = '%s' ORDER BY TABLE_NAME", db);
	if (!ret)
		ret = rows(m, sql.buf, &list, err);
	sl_buf_reset(&sql);
	sl_buf_addf(&sql, "SELECT 'TRIGGER', TRIGGER_NAME FROM information_schema.TRIGGERS "
		    "WHERE TRIGGER_SCHEMA = '%s' ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, "
		    "EVENT_MANIPULATION, ACTION_ORDER", db);
	if (!ret)
		ret = rows(m, sql.buf, &list, err);
	if (!ret && mysql_select_db(m, db))
		ret = sl_err_set(err, SL_EXIT_TEMP, "MariaDB refused: %s", mysql_error(m));
	for (size_t i = 0; !ret && i + 1 < list.n; i += 2) {
		int view = !strcmp(list.v[i], "VIEW");

		sl_buf_reset(&sql);
		sl_buf_addf(&sql, "SHOW CREATE %s %s", list.v[i], ident(&id, list.v[i + 1]));
		sl_strv_clear(&row);
		ret = rows(m, sql.buf, &row, err);
		if (!ret && row.n < 3)
			ret = sl_err_set(err, SL_EXIT_TEMP, "MariaDB did not show %s %s", list.v[i],
					 list.v[i + 1]);
		if (ret)
			break;
		sl_strv_push(&o->kind, list.v[i]);
		sl_strv_push(&o->name, list.v[i + 1]);
		sl_strv_push(&o->mode, view ? "" : row.v[1]);
		sl_strv_push_owned(&o->text, unqualify(row.v[view ? 1 : 2], db));
	}
	sl_strv_clear(&list);
	sl_strv_clear(&row);
	sl_buf_release(&sql);
	sl_buf_release(&id);
	return ret;
}

static int drop_objs(MYSQL *m, const char *db, const struct objs *o, struct sl_err *err)
{
	struct sl_buf a = SL_BUF_INIT, b = SL_BUF_INIT;
	int ret = 0;

	for (size_t i = o->kind.n; !ret && i-- > 0;)
		ret = queryf(m, err, "DROP %s IF EXISTS %s.%s", o->kind.v[i], ident(&a, db),
			     ident(&b, o->name.v[i]));
	sl_buf_release(&a);
	sl_buf_release(&b);
	return ret;
}

/* Makes O on the connection U (the app's own, in its database). */
static int create_objs(MYSQL *u, const struct objs *o, struct sl_err *err)
{
	unsigned char *done = calloc(o->kind.n + 1, 1);
	size_t left = o->kind.n, before;
	int ret = 0;

	if (!done)
		return sl_err_set(err, SL_EXIT_TEMP, "out of memory");
	/* a view may read another: those that fail are tried again while any succeeds */
	do {
		before = left;
		for (size_t i = 0; i < o->kind.n; i++) {
			const char *mode = o->mode.v[i];

			if (done[i])
				continue;
			if (strspn(mode, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_,") != strlen(mode)) {
				ret = sl_err_set(err, SL_EXIT_TEMP, "%s %s: an unexpected sql_mode '%s'",
						 o->kind.v[i], o->name.v[i], mode);
				goto out;
			}
			if (*mode && queryf(u, err, "SET SESSION sql_mode = '%s'", mode) < 0) {
				ret = -1;
				goto out;
			}
			ret = query(u, o->text.v[i], err);
			if (!ret) {
				done[i] = 1;
				left--;
			} else if (strcmp(o->kind.v[i], "VIEW")) {
				goto out;
			}
		}
	} while (left && left < before);
	if (left) {
		ret = -1;
		sl_err_prefix(err, "a view of the backup does not load");
	}
out:
	if (ret < 0)
		err->code = SL_EXIT_USAGE;
	free(done);
	return ret;
}

static int base_tables(MYSQL *m, const char *db, struct sl_strv *out, struct sl_err *err)
{
	struct sl_buf sql = SL_BUF_INIT;
	int ret;

	sl_buf_addf(&sql, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '%s' "
		    "AND TABLE_TYPE <> 'VIEW'", db);
	ret = rows(m, sql.buf, out, err);
	sl_buf_release(&sql);
	return ret;
}

/* One RENAME TABLE, all or nothing: A's tables to B, C's tables to D. */
static int move_tables(MYSQL *m, const struct sl_strv *ab, const char *a, const char *b,
		       const struct sl_strv *cd, const char *c, const char *d, struct sl_err *err)
{
	struct sl_buf sql = SL_BUF_INIT, x = SL_BUF_INIT, t = SL_BUF_INIT;
	const struct sl_strv *lists[] = { ab, cd };
	const char *from[] = { a, c }, *to[] = { b, d };
	int ret = 0;

	sl_buf_adds(&sql, "RENAME TABLE ");
	for (size_t k = 0; k < 2; k++)
		for (size_t i = 0; i < lists[k]->n; i++) {
			ident(&t, lists[k]->v[i]);
			sl_buf_addf(&sql, "%s%s.%s TO ", sql.len > 13 ? ", " : "",
				    ident(&x, from[k]), t.buf);
			sl_buf_addf(&sql, "%s.%s", ident(&x, to[k]), t.buf);
		}
	if (sql.len > 13)
		ret = query(m, sql.buf, err);
	sl_buf_release(&sql);
	sl_buf_release(&x);
	sl_buf_release(&t);
	return ret;
}

/*
 * Puts the tables and objects loaded into TMP in place of the app's, the
 * app's own moved aside into OLD. Any failure puts everything back; when
 * putting back fails too, *KEPT says OLD holds the app's tables.
 */
static int swap(MYSQL *m, MYSQL *u, const char *live, const char *tmp, const char *old,
		int *kept, struct sl_err *err)
{
	struct objs fresh = OBJS_INIT, was = OBJS_INIT, now = OBJS_INIT;
	struct sl_strv newt = SL_STRV_INIT, oldt = SL_STRV_INIT;
	struct sl_err undo = SL_ERR_INIT;
	int moved = 0, ret = -1;

	if (collect(m, tmp, &fresh, err) < 0 || collect(m, live, &was, err) < 0 ||
	    base_tables(m, tmp, &newt, err) < 0 || base_tables(m, live, &oldt, err) < 0 ||
	    drop_objs(m, tmp, &fresh, err) < 0)
		goto out;
	if (drop_objs(m, live, &was, err) < 0 ||
	    move_tables(m, &oldt, live, old, &newt, tmp, live, err) < 0)
		goto undo;
	moved = 1;
	if (create_objs(u, &fresh, err) == 0) {
		ret = 0;
		goto out;
	}
undo:
	if (collect(m, live, &now, &undo) < 0 || drop_objs(m, live, &now, &undo) < 0 ||
	    (moved && move_tables(m, &newt, live, tmp, &oldt, old, live, &undo) < 0) ||
	    create_objs(u, &was, &undo) < 0) {
		*kept = moved;
		sl_buf_addf(&err->msg, "; putting the data back failed too (%s)", undo.msg.buf);
		if (moved)
			sl_buf_addf(&err->msg, ": the app's tables are kept in database `%s`", old);
		err->code = SL_EXIT_TEMP;
	}
out:
	objs_clear(&fresh);
	objs_clear(&was);
	objs_clear(&now);
	sl_strv_clear(&newt);
	sl_strv_clear(&oldt);
	sl_err_release(&undo);
	return ret;
}

int sl_service_my_check(const struct sl_service_app *a, const char *dir, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT;
	int ret;

	sl_buf_addf(&path, "%s/database.sql", dir);
	ret = check_name(a, err) < 0 || dump_whole(path.buf, err) < 0 ? -1 : 0;
	sl_buf_release(&path);
	return ret;
}

/*
 * What a restore and a verify begin with: DIR/database.sql whole (100 if
 * not) into PATH, the app's password into PASS, where the server is into
 * W, and the admin's connection, or NULL with ERR.
 */
static MYSQL *begin(const struct sl_service_app *a, const char *dir, struct sl_buf *path,
		    struct sl_buf *pass, struct where *w, struct sl_err *err)
{
	sl_buf_addf(path, "%s/database.sql", dir);
	if (check_name(a, err) < 0 || dump_whole(path->buf, err) < 0 ||
	    read_password(a, pass, err) < 0 || where_load(w, err) < 0)
		return NULL;
	return connect_admin(w, err);
}

/*
 * DIR/database.sql loaded into DB (granted to the app) by the app's Unix
 * user logged in as its MariaDB user, the client in sandbox mode: 0, 1
 * when the load itself failed (ERR set), -1 with ERR otherwise.
 */
static int load_as_app(const struct where *w, const struct sl_service_app *a, const char *dir,
		       const char *db, struct sl_err *err)
{
	struct sl_buf cnf = SL_BUF_INIT, opt = SL_BUF_INIT;
	int ret;

	if (client_file(w, a, &cnf, err) < 0)
		return -1;
	sl_buf_addf(&opt, "--defaults-extra-file=%s", cnf.buf);
	{
		char *argv[] = { "mariadb", opt.buf, "--sandbox", "--local-infile=0",
			(char *)db, NULL };

		ret = sl_service_load(argv, a->user, dir, "database.sql", err) < 0 ? 1 : 0;
	}
	sl_service_private_file_remove(cnf.buf);
	sl_buf_release(&cnf);
	sl_buf_release(&opt);
	return ret;
}

/*
 * A restore is checked whole, loaded by the app's own user (as its Unix
 * user, the client in sandbox mode) into a database of its own, and only
 * then swapped in: any failure leaves the app's data as it was.
 */
int sl_service_my_restore(const struct sl_service_app *a, const char *dir, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT, tmp = SL_BUF_INIT, old = SL_BUF_INIT;
	struct sl_buf pass = SL_BUF_INIT;
	struct sl_err drop = SL_ERR_INIT;
	struct where w = WHERE_INIT;
	MYSQL *m = NULL, *u = NULL;
	int kept = 0, ret = -1;

	side_db(&tmp, "restore", a->dbname);
	side_db(&old, "replaced", a->dbname);
	if (!(m = begin(a, dir, &path, &pass, &w, err)))
		goto out;
	/* what a restore that died left, then the load's own database */
	if (queryf(m, err, "DROP DATABASE IF EXISTS `%s`", tmp.buf) < 0 ||
	    queryf(m, err, "DROP DATABASE IF EXISTS `%s`", old.buf) < 0 ||
	    make_database(m, &w, a, err) < 0 ||
	    queryf(m, err, "CREATE DATABASE `%s` CHARACTER SET utf8mb4", tmp.buf) < 0 ||
	    queryf(m, err, "CREATE DATABASE `%s` CHARACTER SET utf8mb4", old.buf) < 0 ||
	    grant(m, &w, a, tmp.buf, 1, err) < 0)
		goto cleanup;
	ret = load_as_app(&w, a, dir, tmp.buf, err);
	if (ret < 0) {
		grant(m, &w, a, tmp.buf, 0, &drop);
		goto cleanup;
	}
	if (ret > 0) {
		sl_err_prefix(err, "the backup does not load (nothing was changed)");
		err->code = SL_EXIT_USAGE;
		ret = -1;
	}
	/* the load's database was the app's for the load only */
	if (grant(m, &w, a, tmp.buf, 0, ret < 0 ? &drop : err) < 0)
		ret = -1;
	if (ret < 0)
		goto cleanup;
	ret = -1;
	u = connect_as(&w, a->dbname, pass.buf, a->dbname, err);
	if (u)
		ret = swap(m, u, a->dbname, tmp.buf, old.buf, &kept, err);
cleanup:
	queryf(m, &drop, "DROP DATABASE IF EXISTS `%s`", tmp.buf);
	if (!kept)
		queryf(m, &drop, "DROP DATABASE IF EXISTS `%s`", old.buf);
out:
	if (u)
		mysql_close(u);
	if (m)
		mysql_close(m);
	where_release(&w);
	sl_err_release(&drop);
	sl_buf_release(&path);
	sl_buf_release(&tmp);
	sl_buf_release(&old);
	sl_buf_release(&pass);
	return ret;
}

/* The base tables of the database M is using, and their rows, onto REPORT (M the app's). */
static int count_rows(MYSQL *m, struct sl_strv *report, struct sl_err *err)
{
	struct sl_strv names = SL_STRV_INIT, n = SL_STRV_INIT;
	struct sl_buf q = SL_BUF_INIT;
	unsigned long long total = 0;
	int ret = rows(m, "SELECT table_name FROM information_schema.tables WHERE "
		       "table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY 1",
		       &names, err);

	for (size_t i = 0; !ret && i < names.n; i++) {
		sl_buf_reset(&q);
		sl_buf_adds(&q, "SELECT COUNT(*) FROM `");
		for (const char *c = names.v[i]; *c; c++) {
			if (*c == '`')
				sl_buf_addch(&q, '`');
			sl_buf_addch(&q, *c);
		}
		sl_buf_addch(&q, '`');
		sl_strv_clear(&n);
		ret = rows(m, q.buf, &n, err);
		if (!ret && n.n == 1)
			total += strtoull(n.v[0], NULL, 10);
		else if (!ret)
			ret = sl_err_set(err, SL_EXIT_USAGE, "the table %s does not read back",
					 names.v[i]);
	}
	if (!ret) {
		sl_strv_pushf(report, "tables=%zu", names.n);
		sl_strv_pushf(report, "rows=%llu", total);
	}
	sl_strv_clear(&names);
	sl_strv_clear(&n);
	sl_buf_release(&q);
	return ret;
}

/*
 * As a restore loads it (as the app's Unix user and MariaDB user, the
 * client in sandbox mode), into a database of its own,
 * sl-verify-DB---... (a dash no app's database has, longer than any),
 * granted to the app for the verification only; its tables counted by
 * the app's user; then the grant revoked and the database dropped.
 */
int sl_service_my_verify(const struct sl_service_app *a, const char *dir,
			 struct sl_strv *report, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT, tmp = SL_BUF_INIT, pass = SL_BUF_INIT;
	struct sl_err drop = SL_ERR_INIT;
	struct where w = WHERE_INIT;
	MYSQL *m = NULL, *u = NULL;
	int granted = 0, ret = -1;

	side_db(&tmp, "verify", a->dbname);
	if (!(m = begin(a, dir, &path, &pass, &w, err)))
		goto out;
	if (queryf(m, err, "DROP DATABASE IF EXISTS `%s`", tmp.buf) < 0 ||
	    queryf(m, err, "CREATE DATABASE `%s` CHARACTER SET utf8mb4", tmp.buf) < 0)
		goto cleanup;
	granted = 1;
	if (grant(m, &w, a, tmp.buf, 1, err) < 0 ||
	    (ret = load_as_app(&w, a, dir, tmp.buf, err)) < 0)
		goto cleanup;
	if (ret > 0) {
		ret = sl_err_set(err, SL_EXIT_USAGE, "%s does not restore (mariadb failed)", path.buf);
		goto cleanup;
	}
	ret = -1;
	u = connect_as(&w, a->dbname, pass.buf, tmp.buf, err);
	if (u)
		ret = count_rows(u, report, err);
cleanup:
	if (granted && grant(m, &w, a, tmp.buf, 0, &drop) < 0 && !ret)
		ret = sl_err_set(err, SL_EXIT_TEMP, "the grant on %s is left: %s", tmp.buf,
				 drop.msg.buf);
	if (queryf(m, &drop, "DROP DATABASE IF EXISTS `%s`", tmp.buf) < 0 && !ret)
		ret = sl_err_set(err, SL_EXIT_TEMP, "the scratch database %s is left: %s", tmp.buf,
				 drop.msg.buf);
out:
	if (u)
		mysql_close(u);
	if (m)
		mysql_close(m);
	explicit_bzero(pass.buf, pass.len);
	where_release(&w);
	sl_err_release(&drop);
	sl_buf_release(&path);
	sl_buf_release(&tmp);
	sl_buf_release(&pass);
	return ret;
}

void sl_service_my_password_hash(const char *pass, char out[42])
{
	native_hash(pass, out);
}
