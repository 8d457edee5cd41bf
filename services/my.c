/* silverlining — MySQL (MariaDB) on a node, through MariaDB's client library. */
#include <ctype.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <mysql.h>
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>

#include "../libsl/buf.h"
#include "../libsl/exit.h"
#include "../libsl/file.h"
#include "../libsl/run.h"
#include "db.h"
#include "my.h"

#define SOCKET "/run/mysqld/mysqld.sock"

/* libmariadb is loaded when a node verb first needs it (see pg.c). */
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
} my;

static int load_libmariadb(struct sl_err *err)
{
	static void *lib;
	void **fn = (void **)&my;
	static const char *const names[] = { "mysql_init", "mysql_real_connect", "mysql_error",
		"mysql_close", "mysql_query", "mysql_store_result", "mysql_free_result",
		"mysql_num_rows" };

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

int sl_my_install(struct sl_err *err)
{
	static const char *const pkgs[] = { "mariadb-server", NULL };

	if (sl_svc_apt(pkgs, err) < 0)
		return -1;
	return sl_svc_start("mariadb", err);
}

/* Root over the socket: MariaDB's root authenticates by unix_socket. */
static MYSQL *connect_root(struct sl_err *err)
{
	MYSQL *m;

	if (load_libmariadb(err) < 0)
		return NULL;
	m = mysql_init(NULL);
	if (!m) {
		sl_err_set(err, SL_EXIT_TEMP, "out of memory");
		return NULL;
	}
	if (!mysql_real_connect(m, NULL, "root", NULL, NULL, 0, SOCKET, 0)) {
		sl_err_set(err, SL_EXIT_TEMP, "unable to reach MariaDB: %s", mysql_error(m));
		mysql_close(m);
		return NULL;
	}
	return m;
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

static void password_path(const struct sl_svc_app *a, struct sl_buf *b)
{
	sl_buf_addf(b, "%s/mysql.password", a->data);
}

static int make_database(MYSQL *m, const struct sl_svc_app *a, struct sl_err *err)
{
	struct sl_buf sql = SL_BUF_INIT;
	int ret;

	sl_buf_addf(&sql, "CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4", a->dbname);
	ret = query(m, sql.buf, err);
	sl_buf_reset(&sql);
	sl_buf_addf(&sql, "GRANT ALL PRIVILEGES ON `%s`.* TO '%s'@'localhost'", a->dbname, a->dbname);
	if (!ret)
		ret = query(m, sql.buf, err);
	sl_buf_release(&sql);
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
	MYSQL_RES *r;
	int n = -1;

	sl_buf_addf(&sql, "SELECT 1 FROM mysql.global_priv WHERE User = '%s' AND Host = 'localhost'", name);
	if (mysql_query(m, sql.buf) == 0 && (r = mysql_store_result(m))) {
		n = mysql_num_rows(r) > 0;
		mysql_free_result(r);
	} else {
		sl_err_set(err, SL_EXIT_TEMP, "MariaDB refused: %s", mysql_error(m));
	}
	sl_buf_release(&sql);
	return n;
}

int sl_my_setup(const struct sl_svc_app *a, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT, pass = SL_BUF_INIT, sql = SL_BUF_INIT;
	MYSQL *m;
	char hash[42];
	int made, user, ret = -1;

	if (!plain_ident(a->dbname))
		return sl_err_set(err, SL_EXIT_USAGE, "invalid database name '%s'", a->dbname);
	if (reserved(a->dbname))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "%s is MariaDB's own name: an app called %s cannot have a database",
				  a->dbname, a->name);
	m = connect_root(err);
	if (!m)
		return -1;
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
	made = sl_svc_secret(a, path.buf, &pass, err);
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
	ret = make_database(m, a, err);
out:
	mysql_close(m);
	sl_buf_release(&path);
	sl_buf_release(&pass);
	sl_buf_release(&sql);
	return ret;
}

int sl_my_env(const struct sl_svc_app *a, struct sl_strv *vars, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT;
	int ret;

	password_path(a, &path);
	ret = sl_svc_db_env(&sl_db_mysql, a, path.buf, "localhost", "3306", vars, err);
	sl_buf_release(&path);
	return ret;
}

int sl_my_backup(const struct sl_svc_app *a, const char *dir, struct sl_err *err)
{
	char *argv[] = { "mariadb-dump", "--single-transaction", "--routines", "--triggers",
		a->dbname, NULL };

	return sl_svc_dump(argv, NULL, dir, "database.sql", err);
}

int sl_my_clear(const struct sl_svc_app *a, struct sl_err *err)
{
	struct sl_buf sql = SL_BUF_INIT;
	MYSQL *m;
	int ret;

	if (!plain_ident(a->dbname))
		return sl_err_set(err, SL_EXIT_USAGE, "invalid database name '%s'", a->dbname);
	m = connect_root(err);
	if (!m)
		return -1;
	sl_buf_addf(&sql, "DROP DATABASE IF EXISTS `%s`", a->dbname);
	ret = query(m, sql.buf, err);
	if (!ret)
		ret = make_database(m, a, err);
	mysql_close(m);
	sl_buf_release(&sql);
	return ret;
}

int sl_my_restore(const struct sl_svc_app *a, const char *dir, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT;
	char *argv[] = { "mariadb", a->dbname, NULL };
	int ret = -1;

	sl_buf_addf(&path, "%s/database.sql", dir);
	if (access(path.buf, R_OK) < 0)
		sl_err_errno(err, "unable to read %s", path.buf);
	else if (sl_my_clear(a, err) == 0)
		ret = sl_svc_load(argv, NULL, dir, "database.sql", err);
	sl_buf_release(&path);
	return ret;
}
