/* silverlining — Redis for apps: one redis-server per app. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "exit.h"
#include "file.h"
#include "instance.h"
#include "mem.h"
#include "quote.h"
#include "run.h"
#include "service-redis.h"

extern char **environ;

#define UNIT_DIR "/etc/systemd/system"
#define TEMPLATE UNIT_DIR "/sl-redis@.service"
#define RUN_DIR "/run/sl-redis"
#define DEVEL_HOST "127.0.0.1"
#define DEVEL_PORT "6379"

static const char *const policies[] = {
	"noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random",
	"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", NULL,
};

int sl_redis_value_parse(const char *value, struct sl_redis_value *v, struct sl_err *err)
{
	struct sl_redis_value def = SL_REDIS_VALUE_INIT;
	const char *p = value ? value : "";

	*v = def;
	while (*p) {
		size_t n;
		char *word;

		while (isspace((unsigned char)*p))
			p++;
		n = strcspn(p, " \t\r\n");
		if (!n)
			break;
		word = sl_xstrndup(p, n);
		p += n;
		if (!strncmp(word, "maxmemory=", 10)) {
			const char *d = word + 10;
			char *end;
			unsigned long mib;

			errno = 0;
			mib = isdigit((unsigned char)*d) ? strtoul(d, &end, 10) : 0;
			if (!isdigit((unsigned char)*d) || *end || errno || mib < 1 || mib > 1048576) {
				sl_err_set(err, SL_EXIT_USAGE, "service.redis: '%s': want maxmemory=MiB, "
					   "a whole number from 1 to 1048576", word);
				free(word);
				return -1;
			}
			v->maxmemory = mib;
		} else if (!strncmp(word, "policy=", 7)) {
			size_t i;

			for (i = 0; policies[i] && strcmp(policies[i], word + 7); i++)
				;
			if (!policies[i]) {
				sl_err_set(err, SL_EXIT_USAGE, "service.redis: '%s': want policy= one of "
					   "noeviction, allkeys-lru, allkeys-lfu, allkeys-random, "
					   "volatile-lru, volatile-lfu, volatile-random, volatile-ttl", word);
				free(word);
				return -1;
			}
			v->policy = policies[i];
		} else {
			sl_err_set(err, SL_EXIT_USAGE, "service.redis: '%s': want maxmemory=MiB or "
				   "policy=NAME", word);
			free(word);
			return -1;
		}
		free(word);
	}
	return 0;
}

/* --- the laptop --- */

static const char *const devel_keys[] = { "host", "port", "password", "db", "socket", NULL };

static unsigned line_of(const struct sl_devconf *dc, const char *key)
{
	for (size_t i = 0; i < dc->n; i++)
		if (!strcmp(dc->v[i].key, key))
			return dc->v[i].line;
	return 0;
}

/* A decimal number from LO to HI, nothing else. */
static int number_in(const char *s, long lo, long hi)
{
	char *end;
	long n;

	if (!isdigit((unsigned char)*s))
		return 0;
	errno = 0;
	n = strtol(s, &end, 10);
	return !*end && !errno && n >= lo && n <= hi;
}

/* A path in a URL: each byte but the unreserved ones and '/' percent-encoded. */
static void add_url_path(struct sl_buf *u, const char *path)
{
	for (const char *c = path; *c; c++)
		if (isalnum((unsigned char)*c) || strchr("/-._~", *c))
			sl_buf_addch(u, *c);
		else
			sl_buf_addf(u, "%%%02X", (unsigned char)*c);
}

/*
 * The six variables: SOCKET (a Unix socket, or empty), or HOST and PORT;
 * the URL redis-py, Celery, RQ and the like take (a user-less password).
 */
static void push_vars(const char *sock, const char *password, const char *host,
		      const char *port, const char *db, struct sl_strv *vars)
{
	struct sl_buf u = SL_BUF_INIT;

	sl_strv_pushf(vars, "CONFIG_REDIS_SOCKET=%s", sock);
	sl_strv_pushf(vars, "CONFIG_REDIS_PASSWORD=%s", password);
	sl_strv_pushf(vars, "CONFIG_REDIS_HOST=%s", host);
	sl_strv_pushf(vars, "CONFIG_REDIS_PORT=%s", port);
	sl_strv_pushf(vars, "CONFIG_REDIS_DB=%s", db);
	sl_buf_addf(&u, "CONFIG_REDIS_URL=%s://", *sock ? "unix" : "redis");
	if (*password) {
		sl_buf_addch(&u, ':');
		sl_quote_url(&u, password);
		sl_buf_addch(&u, '@');
	}
	if (*sock) {
		add_url_path(&u, sock);
		sl_buf_addf(&u, "?db=%s", db);
	} else {
		if (strchr(host, ':'))
			sl_buf_addf(&u, "[%s]", host);
		else
			sl_quote_url(&u, host);
		sl_buf_addf(&u, ":%s/%s", port, db);
	}
	sl_strv_push(vars, u.buf);
	sl_buf_release(&u);
}

static int devel_env(const char *app, const struct sl_devconf *dc,
		     struct sl_strv *vars, struct sl_err *err)
{
	struct sl_redis_value v;
	const char *host = sl_devconf_get(dc, "host"), *port = sl_devconf_get(dc, "port");
	const char *password = sl_devconf_get(dc, "password"), *db = sl_devconf_get(dc, "db");
	const char *sock = sl_devconf_get(dc, "socket");

	(void)app;
	/* what the node would refuse is refused here first */
	if (sl_redis_value_parse(getenv("SL_SERVICE_VALUE"), &v, err) < 0)
		return -1;
	host = host && *host ? host : DEVEL_HOST;
	port = port && *port ? port : DEVEL_PORT;
	db = db && *db ? db : "0";
	if (!number_in(port, 1, 65535))
		return sl_err_set(err, SL_EXIT_USAGE, "%s:%u: '%s' is not a port number",
				  dc->path, line_of(dc, "port"), port);
	if (!number_in(db, 0, 15))
		return sl_err_set(err, SL_EXIT_USAGE, "%s:%u: '%s' is not a database number (0 to 15)",
				  dc->path, line_of(dc, "db"), db);
	if (sock && *sock && *sock != '/')
		return sl_err_set(err, SL_EXIT_USAGE, "%s:%u: '%s' is not an absolute path",
				  dc->path, line_of(dc, "socket"), sock);
	if (sock && *sock)
		host = port = "";
	push_vars(sock ? sock : "", password ? password : "", host, port, db, vars);
	return 0;
}

/* --- the node's paths --- */

static void conf_path(const struct sl_service_app *a, struct sl_buf *b)
{
	sl_buf_reset(b);
	sl_buf_addf(b, "%s/redis.conf", a->data);
}

static void password_path(const struct sl_service_app *a, struct sl_buf *b)
{
	sl_buf_reset(b);
	sl_buf_addf(b, "%s/redis.password", a->data);
}

static void data_path(const struct sl_service_app *a, struct sl_buf *b)
{
	sl_buf_reset(b);
	sl_buf_addf(b, "%s/redis", a->data);
}

static void sock_path(const struct sl_service_app *a, struct sl_buf *b)
{
	sl_buf_reset(b);
	sl_buf_addf(b, RUN_DIR "/%s/redis.sock", a->name);
}

static void unit_name(const struct sl_service_app *a, struct sl_buf *b)
{
	sl_buf_reset(b);
	sl_buf_addf(b, "sl-redis@%s.service", a->name);
}

static int read_password(const struct sl_service_app *a, struct sl_buf *pass, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT;
	int ret;

	password_path(a, &path);
	ret = sl_service_read_secret(path.buf, pass, err);
	sl_buf_release(&path);
	return ret;
}

/* --- children --- */

/*
 * Runs ARGV as the Unix user AS (runuser), stdin IN, its stdout and
 * stderr into OUT (an unnamed file in /run, read back; OUT may be NULL).
 * PASS, when not NULL, reaches it as REDISCLI_AUTH, in its environment
 * only: never in argv. A non-zero exit is an error naming WHAT, 111, with
 * the last line it printed.
 */
static int run_as(const char *as, char *const *argv, int in, struct sl_buf *out,
		  const char *pass, const char *what, struct sl_err *err)
{
	struct sl_strv v = SL_STRV_INIT, env = SL_STRV_INIT;
	struct sl_child c = SL_CHILD_INIT;
	struct sl_buf got = SL_BUF_INIT;
	int fd = open("/run", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600), code = -1;

	if (fd < 0)
		return sl_err_errno(err, "unable to make a file in /run");
	sl_strv_pushv(&v, (char *[]){ "runuser", "-u", (char *)as, "--", NULL });
	sl_strv_pushv(&v, argv);
	sl_strv_pushv(&env, environ);
	if (pass) {
		sl_strv_setenv(&env, "REDISCLI_AUTH", pass);
	} else {
		long i = sl_strv_find_key(&env, "REDISCLI_AUTH", 13);

		if (i >= 0)
			sl_strv_remove(&env, (size_t)i);
	}
	c.argv = v.v;
	c.env = env.v;
	c.in = in;
	c.out = fd;
	c.err = fd;
	c.dir = "/";
	code = sl_run(&c, err);
	if (code >= 0 && (lseek(fd, 0, SEEK_SET) < 0 || sl_buf_read_fd(&got, fd) < 0))
		code = sl_err_errno(err, "unable to read what %s printed", what);
	if (code > 0) {
		char *last;

		sl_buf_rtrim(&got);
		last = strrchr(got.buf, '\n');
		sl_err_set(err, SL_EXIT_TEMP, "%s failed (exit status %d)%s%s", what, code,
			   got.len ? ": " : "", last ? last + 1 : got.buf);
		code = -1;
	}
	if (code == 0 && out)
		sl_buf_add(out, got.buf, got.len);
	for (size_t i = 0; i < env.n; i++)
		if (!strncmp(env.v[i], "REDISCLI_AUTH=", 14))
			explicit_bzero(env.v[i], strlen(env.v[i]));
	close(fd);
	sl_strv_clear(&v);
	sl_strv_clear(&env);
	sl_buf_release(&got);
	return code == 0 ? 0 : -1;
}

/* redis-cli on A's socket, as A's user, with its password: ARGS... its command. */
static int cli(const struct sl_service_app *a, const char *pass, struct sl_buf *out,
	       struct sl_err *err, char *const *args)
{
	struct sl_strv v = SL_STRV_INIT;
	struct sl_buf sock = SL_BUF_INIT;
	int ret;

	sock_path(a, &sock);
	sl_strv_pushv(&v, (char *[]){ "redis-cli", "--no-auth-warning", "-s", sock.buf, NULL });
	sl_strv_pushv(&v, args);
	ret = run_as(a->user, v.v, SL_RUN_NULL, out, pass, "redis-cli", err);
	sl_strv_clear(&v);
	sl_buf_release(&sock);
	return ret;
}

/* COMMAND on A's server answers WANT (redis-cli exits 0 on an error reply). */
static int expect(const struct sl_service_app *a, const char *pass, const char *command,
		  const char *want, struct sl_err *err)
{
	struct sl_buf out = SL_BUF_INIT;
	int ret = cli(a, pass, &out, err, (char *[]){ (char *)command, NULL });

	sl_buf_rtrim(&out);
	if (!ret && strcmp(out.buf, want))
		ret = sl_err_set(err, SL_EXIT_TEMP, "the Redis of %s answered %s with '%s'",
				 a->name, command, out.buf);
	sl_buf_release(&out);
	return ret;
}

static int systemctl(const char *verb, const char *unit, struct sl_err *err)
{
	char *argv[] = { "systemctl", "-q", (char *)verb, (char *)unit, NULL };

	return sl_service_run(argv, NULL, SL_RUN_NULL, 2, unit ? unit : verb, err);
}

/*
 * UNIT started (RESTART: restarted) now, whatever systemd's start limit
 * counted before: the starts of a restore put back, or a server that
 * crashed in a loop, must not keep the next one from starting.
 */
static int start(const char *unit, int restart, struct sl_err *err)
{
	struct sl_err ignored = SL_ERR_INIT;

	systemctl("reset-failed", unit, &ignored);
	sl_err_release(&ignored);
	return restart ? systemctl("restart", unit, err) : sl_service_start(unit, err);
}

/* TEXT into PATH (MODE, root and GID) unless it holds it already: 1 written, 0 same, -1. */
static int write_if_changed(const char *path, const struct sl_buf *text, mode_t mode,
			    gid_t gid, struct sl_err *err)
{
	struct sl_buf old = SL_BUF_INIT;
	struct stat st;
	int same = sl_buf_read_file(&old, path) == 0 && old.len == text->len &&
		!memcmp(old.buf, text->buf, text->len) && stat(path, &st) == 0 &&
		(st.st_mode & 07777) == mode && st.st_uid == 0 && st.st_gid == gid;

	explicit_bzero(old.buf, old.len);
	sl_buf_release(&old);
	if (same)
		return 0;
	if (sl_file_write(path, text->buf, text->len, mode, SL_FILE_REPLACE, err) < 0)
		return -1;
	if (chown(path, 0, gid) < 0)
		return sl_err_errno(err, "unable to give %s to root:%u", path, (unsigned)gid);
	return 1;
}

/* --- install --- */

static int install(struct sl_err *err)
{
	static const char *const pkgs[] = { "redis-server", NULL };
	struct sl_buf unit = SL_BUF_INIT;
	struct sl_err ignored = SL_ERR_INIT;
	int ret = -1, w;

	/* masked first: the package's own start never happens */
	systemctl("mask", "redis-server.service", &ignored);
	if (sl_service_apt(pkgs, err) < 0)
		goto out;
	systemctl("disable", "redis-server.service", &ignored);
	if (systemctl("stop", "redis-server.service", err) < 0 ||
	    systemctl("mask", "redis-server.service", err) < 0) {
		sl_err_prefix(err, "Debian's shared Redis does not stop");
		goto out;
	}
	sl_buf_addf(&unit,
		"# silverlining: the Redis of one app (sl-service-redis(1)); its user is\n"
		"# set by sl-redis@APP.service.d/user.conf, which setup writes\n"
		"[Unit]\n"
		"Description=Redis of the silverlining app %%i\n"
		"Documentation=man:sl-service-redis(1)\n"
		"After=network.target\n"
		"\n"
		"[Service]\n"
		"Type=notify\n"
		"ExecStart=/usr/bin/redis-server %s/apps/%%i/redis.conf --supervised systemd --daemonize no\n"
		"User=nobody\n"
		"Group=nogroup\n"
		"RuntimeDirectory=sl-redis/%%i\n"
		"RuntimeDirectoryMode=0700\n"
		"UMask=0077\n"
		"Restart=always\n"
		"RestartSec=2\n"
		"TimeoutStopSec=120\n"
		"LimitNOFILE=10032\n"
		"NoNewPrivileges=yes\n"
		"ProtectSystem=strict\n"
		"ReadWritePaths=%s/apps/%%i/redis\n"
		"PrivateTmp=yes\n"
		"ProtectHome=yes\n"
		"PrivateDevices=yes\n"
		"ProtectKernelTunables=yes\n"
		"ProtectKernelModules=yes\n"
		"ProtectControlGroups=yes\n"
		"RestrictAddressFamilies=AF_UNIX\n"
		"RestrictSUIDSGID=yes\n"
		"LockPersonality=yes\n"
		"CapabilityBoundingSet=\n"
		"\n"
		"[Install]\n"
		"WantedBy=multi-user.target\n", sl_instance_root(), sl_instance_root());
	w = write_if_changed(TEMPLATE, &unit, 0644, 0, err);
	if (w < 0 || (w > 0 && systemctl("daemon-reload", NULL, err) < 0))
		goto out;
	ret = 0;
out:
	sl_err_release(&ignored);
	sl_buf_release(&unit);
	return ret;
}

/* --- setup --- */

static int make_data_dir(const struct sl_service_app *a, struct sl_err *err)
{
	struct sl_buf p = SL_BUF_INIT;
	int ret = -1;

	data_path(a, &p);
	if (sl_file_mkdirs(a->data, 0755, err) < 0)
		goto out;
	if (mkdir(p.buf, 0700) < 0 && errno != EEXIST) {
		sl_err_errno(err, "unable to make %s", p.buf);
		goto out;
	}
	if (lchown(p.buf, a->uid, a->gid) < 0 || chmod(p.buf, 0700) < 0) {
		sl_err_errno(err, "unable to give %s to %s", p.buf, a->user);
		goto out;
	}
	ret = 0;
out:
	sl_buf_release(&p);
	return ret;
}

/* Waits (up to 30 s) for A's server to answer PING. */
static int wait_ping(const struct sl_service_app *a, const char *pass, struct sl_err *err)
{
	struct timespec pause = { 0, 100 * 1000 * 1000 };

	for (int i = 0; i < 300; i++) {
		struct sl_err e = SL_ERR_INIT;

		if (expect(a, pass, "PING", "PONG", &e) == 0) {
			sl_err_release(&e);
			return 0;
		}
		if (i == 299) {
			sl_err_set(err, e.code ? e.code : SL_EXIT_TEMP, "%s", e.msg.buf);
			sl_err_release(&e);
			break;
		}
		sl_err_release(&e);
		nanosleep(&pause, NULL);
	}
	return -1;
}

static int setup(const struct sl_service_app *a, struct sl_err *err)
{
	struct sl_redis_value v;
	struct sl_buf path = SL_BUF_INIT, pass = SL_BUF_INIT, text = SL_BUF_INIT;
	struct sl_buf sock = SL_BUF_INIT, data = SL_BUF_INIT, unit = SL_BUF_INIT;
	int conf, user, ret = -1;

	if (sl_redis_value_parse(getenv("SL_SERVICE_VALUE"), &v, err) < 0)
		return -1;
	if (access(TEMPLATE, F_OK) < 0)
		return sl_err_set(err, SL_EXIT_TEMP, "no %s (install writes it)", TEMPLATE);
	password_path(a, &path);
	if (sl_service_secret(a, path.buf, &pass, err) < 0 || make_data_dir(a, err) < 0)
		goto out;
	sock_path(a, &sock);
	data_path(a, &data);
	sl_buf_addf(&text,
		"# silverlining: the Redis of the app %s (sl-service-redis setup writes it)\n"
		"port 0\n"
		"unixsocket %s\n"
		"unixsocketperm 700\n"
		"requirepass %s\n"
		"dir %s\n"
		"dbfilename dump.rdb\n"
		"save 3600 1 300 100 60 10000\n"
		"appendonly no\n"
		/* a backup's snapshot starts now, not after waiting for other replicas */
		"repl-diskless-sync-delay 0\n"
		"maxmemory %lumb\n"
		"maxmemory-policy %s\n"
		"logfile \"\"\n", a->name, sock.buf, pass.buf, data.buf, v.maxmemory, v.policy);
	conf_path(a, &path);
	if ((conf = write_if_changed(path.buf, &text, 0640, a->gid, err)) < 0)
		goto out;
	/* the user the template leaves as nobody */
	sl_buf_reset(&path);
	sl_buf_addf(&path, UNIT_DIR "/sl-redis@%s.service.d", a->name);
	if (sl_file_mkdirs(path.buf, 0755, err) < 0)
		goto out;
	sl_buf_adds(&path, "/user.conf");
	sl_buf_reset(&text);
	sl_buf_addf(&text, "[Service]\nUser=%s\nGroup=%u\n", a->user, (unsigned)a->gid);
	if ((user = write_if_changed(path.buf, &text, 0644, 0, err)) < 0)
		goto out;
	unit_name(a, &unit);
	if (user && systemctl("daemon-reload", NULL, err) < 0)
		goto out;
	if (systemctl("enable", unit.buf, err) < 0)
		goto out;
	/* a changed value or user takes effect now */
	if (start(unit.buf, conf || user, err) < 0)
		goto out;
	ret = wait_ping(a, pass.buf, err);
out:
	explicit_bzero(pass.buf, pass.len);
	explicit_bzero(text.buf, text.len);
	sl_buf_release(&path);
	sl_buf_release(&pass);
	sl_buf_release(&text);
	sl_buf_release(&sock);
	sl_buf_release(&data);
	sl_buf_release(&unit);
	return ret;
}

static int env(const struct sl_service_app *a, struct sl_strv *vars, struct sl_err *err)
{
	struct sl_buf pass = SL_BUF_INIT, sock = SL_BUF_INIT;
	int ret = read_password(a, &pass, err);

	if (!ret) {
		sock_path(a, &sock);
		push_vars(sock.buf, pass.buf, "", "", "0", vars);
	}
	explicit_bzero(pass.buf, pass.len);
	sl_buf_release(&pass);
	sl_buf_release(&sock);
	return ret;
}

/* --- a backup's part --- */

/*
 * A new directory /var/tmp/sl-redis.XXXXXX, 0700, of UID and GID: root
 * opens nothing in it, it is only removed (no link followed).
 */
static int scratch(uid_t uid, gid_t gid, struct sl_buf *path, struct sl_err *err)
{
	char dir[] = "/var/tmp/sl-redis.XXXXXX";

	sl_buf_reset(path);
	if (!mkdtemp(dir))
		return sl_err_errno(err, "unable to make a directory in /var/tmp");
	if (chown(dir, uid, gid) < 0) {
		rmdir(dir);
		return sl_err_errno(err, "unable to give %s away", dir);
	}
	sl_buf_adds(path, dir);
	return 0;
}

static void scratch_remove(const struct sl_buf *path)
{
	struct sl_err ignored = SL_ERR_INIT;

	if (path->len)
		sl_file_remove_tree(AT_FDCWD, path->buf, &ignored);
	sl_err_release(&ignored);
}

/* IN copied into TO by AS (dd: no path of root's is opened by AS). */
static int copy_as(const char *as, int in, const char *to, struct sl_err *err)
{
	struct sl_buf of = SL_BUF_INIT;
	int ret;

	sl_buf_addf(&of, "of=%s", to);
	ret = run_as(as, (char *[]){ "dd", of.buf, "bs=1M", "conv=fsync", "status=none", NULL },
		     in, NULL, NULL, "dd", err);
	sl_buf_release(&of);
	return ret;
}

/* FILE reads whole as an RDB (redis-check-rdb as AS); 100 naming PART when not. */
static int check_rdb(const char *as, const char *file, const char *part, struct sl_err *err)
{
	struct sl_strv v = SL_STRV_INIT;
	struct sl_child c = SL_CHILD_INIT;
	struct sl_buf out = SL_BUF_INIT;
	const char *why;
	int code;

	sl_strv_pushv(&v, (char *[]){ "runuser", "-u", (char *)as, "--", "redis-check-rdb",
			  (char *)file, NULL });
	c.argv = v.v;
	c.err = SL_RUN_NULL;
	c.in = SL_RUN_NULL;
	c.dir = "/";
	code = sl_run_capture(&c, &out, err);
	sl_strv_clear(&v);
	if (code == 0 && strstr(out.buf, "RDB looks OK")) {
		sl_buf_release(&out);
		return 0;
	}
	if (code < 0) {
		sl_buf_release(&out);
		return -1;
	}
	why = strstr(out.buf, "--- RDB ERROR DETECTED ---\n");
	if (why) {
		why += strlen("--- RDB ERROR DETECTED ---\n");
		sl_buf_setlen(&out, (size_t)(strchrnul(why, '\n') - out.buf));
	}
	sl_err_set(err, SL_EXIT_USAGE, "%s is not a whole RDB file (redis-check-rdb: %s): "
		   "nothing was changed", part, why ? why : "exit status not 0");
	sl_buf_release(&out);
	return -1;
}

static int backup(const struct sl_service_app *a, const char *dir, struct sl_err *err)
{
	struct sl_buf pass = SL_BUF_INIT, tmp = SL_BUF_INIT, file = SL_BUF_INIT;
	int ret = -1;

	if (read_password(a, &pass, err) < 0 || scratch(a->uid, a->gid, &tmp, err) < 0)
		goto out;
	sl_buf_addf(&file, "%s/dump.rdb", tmp.buf);
	/* a snapshot as of one moment, whatever the app writes meanwhile */
	if (cli(a, pass.buf, NULL, err, (char *[]){ "--rdb", file.buf, NULL }) < 0) {
		sl_err_prefix(err, "no snapshot of the Redis of %s", a->name);
		goto out;
	}
	ret = sl_service_dump((char *[]){ "cat", file.buf, NULL }, a->user, dir, "dump.rdb", err);
out:
	scratch_remove(&tmp);
	explicit_bzero(pass.buf, pass.len);
	sl_buf_release(&pass);
	sl_buf_release(&tmp);
	sl_buf_release(&file);
	return ret;
}

/* DIR/dump.rdb, copied by AS into a scratch directory of AS's, checked there. */
static int check_as(const char *as, uid_t uid, gid_t gid, const char *dir,
		    struct sl_buf *tmp, struct sl_buf *file, int *fdp, struct sl_err *err)
{
	struct sl_buf part = SL_BUF_INIT;
	int fd = sl_service_open_part(dir, "dump.rdb", &part, err), ret = -1;

	if (fd < 0 || scratch(uid, gid, tmp, err) < 0)
		goto out;
	sl_buf_reset(file);
	sl_buf_addf(file, "%s/dump.rdb", tmp->buf);
	if (copy_as(as, fd, file->buf, err) < 0 || check_rdb(as, file->buf, part.buf, err) < 0)
		goto out;
	ret = 0;
out:
	if (fd >= 0 && fdp && !ret)
		*fdp = fd;
	else if (fd >= 0)
		close(fd);
	sl_buf_release(&part);
	return ret;
}

static int check(const struct sl_service_app *a, const char *dir, struct sl_err *err)
{
	struct sl_buf tmp = SL_BUF_INIT, file = SL_BUF_INIT;
	int ret = check_as(a->user, a->uid, a->gid, dir, &tmp, &file, NULL, err);

	scratch_remove(&tmp);
	sl_buf_release(&tmp);
	sl_buf_release(&file);
	return ret;
}

/*
 * All or nothing, every file in the data directory moved by the app's
 * user: the backup is copied beside the live RDB (restore.rdb) and
 * checked there; the server is stopped (it saves the live data), the
 * new file takes dump.rdb's name (the old one kept as dump.rdb.old), the
 * server started and asked PING. Any failure puts the old one back and
 * starts the server again.
 */
static int restore(const struct sl_service_app *a, const char *dir, struct sl_err *err)
{
	struct sl_buf pass = SL_BUF_INIT, part = SL_BUF_INIT, data = SL_BUF_INIT;
	struct sl_buf nw = SL_BUF_INIT, live = SL_BUF_INIT, old = SL_BUF_INIT, unit = SL_BUF_INIT;
	struct sl_err ignored = SL_ERR_INIT;
	struct stat st;
	int fd = -1, had_old, stopped = 0, ret = -1;

	data_path(a, &data);
	unit_name(a, &unit);
	sl_buf_addf(&nw, "%s/restore.rdb", data.buf);
	sl_buf_addf(&live, "%s/dump.rdb", data.buf);
	sl_buf_addf(&old, "%s/dump.rdb.old", data.buf);
	if (read_password(a, &pass, err) < 0 || (fd = sl_service_open_part(dir, "dump.rdb", &part, err)) < 0)
		goto out;
	if (make_data_dir(a, err) < 0 || copy_as(a->user, fd, nw.buf, err) < 0 ||
	    check_rdb(a->user, nw.buf, part.buf, err) < 0) {
		run_as(a->user, (char *[]){ "rm", "-f", nw.buf, NULL }, SL_RUN_NULL, NULL, NULL, "rm",
		       &ignored);
		goto out;
	}
	if (systemctl("stop", unit.buf, err) < 0)
		goto out;
	stopped = 1;
	had_old = lstat(live.buf, &st) == 0;
	if (run_as(a->user, (char *[]){ "mv", "-f", "-T", "--backup=simple", "--suffix=.old",
				      nw.buf, live.buf, NULL }, SL_RUN_NULL, NULL, NULL, "mv", err) < 0)
		goto out;
	if (start(unit.buf, 0, err) < 0 || wait_ping(a, pass.buf, err) < 0) {
		sl_err_prefix(err, "the backup did not load");
		systemctl("stop", unit.buf, &ignored);
		if (had_old)
			run_as(a->user, (char *[]){ "mv", "-f", "-T", old.buf, live.buf, NULL },
			       SL_RUN_NULL, NULL, NULL, "mv", &ignored);
		else
			run_as(a->user, (char *[]){ "rm", "-f", live.buf, NULL }, SL_RUN_NULL, NULL,
			       NULL, "rm", &ignored);
		sl_buf_adds(&err->msg, "; the data is as it was");
		goto out;
	}
	ret = 0;
	if (had_old && run_as(a->user, (char *[]){ "rm", "-f", old.buf, NULL }, SL_RUN_NULL, NULL,
			      NULL, "rm", err) < 0) {
		sl_err_prefix(err, "restored, but the old data is left in %s", old.buf);
		ret = -1;
	}
out:
	if (stopped && ret < 0 && start(unit.buf, 0, &ignored) < 0)
		sl_buf_addf(&err->msg, "; and %s does not start again", unit.buf);
	if (fd >= 0)
		close(fd);
	sl_err_release(&ignored);
	explicit_bzero(pass.buf, pass.len);
	sl_buf_release(&pass);
	sl_buf_release(&part);
	sl_buf_release(&data);
	sl_buf_release(&nw);
	sl_buf_release(&live);
	sl_buf_release(&old);
	sl_buf_release(&unit);
	return ret;
}

static int clear(const struct sl_service_app *a, struct sl_err *err)
{
	struct sl_buf pass = SL_BUF_INIT, unit = SL_BUF_INIT;
	int ret = -1;

	unit_name(a, &unit);
	if (read_password(a, &pass, err) < 0 || start(unit.buf, 0, err) < 0 ||
	    wait_ping(a, pass.buf, err) < 0)
		goto out;
	/* SAVE: an empty dump.rdb, so a crash now does not bring the data back */
	ret = expect(a, pass.buf, "FLUSHALL", "OK", err) < 0 ||
		expect(a, pass.buf, "SAVE", "OK", err) < 0 ? -1 : 0;
out:
	explicit_bzero(pass.buf, pass.len);
	sl_buf_release(&pass);
	sl_buf_release(&unit);
	return ret;
}

/* --- verify --- */

/* The size and SHA-256 of the file FD (read from its start), onto REPORT. */
static int measure(int fd, const char *path, struct sl_strv *report, struct sl_err *err)
{
	unsigned char md[EVP_MAX_MD_SIZE], chunk[65536];
	unsigned mdlen = 0;
	unsigned long long bytes = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	struct sl_buf hex = SL_BUF_INIT;
	ssize_t n;
	int ret = -1;

	if (lseek(fd, 0, SEEK_SET) < 0) {
		sl_err_errno(err, "unable to read %s", path);
		goto out;
	}
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		sl_err_set(err, SL_EXIT_TEMP, "no SHA-256 from libcrypto");
		goto out;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		EVP_DigestUpdate(ctx, chunk, (size_t)n);
		bytes += (unsigned long long)n;
	}
	if (n < 0) {
		sl_err_errno(err, "unable to read %s", path);
		goto out;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	for (unsigned i = 0; i < mdlen; i++)
		sl_buf_addf(&hex, "%02x", md[i]);
	sl_strv_pushf(report, "bytes=%llu", bytes);
	sl_strv_pushf(report, "sha256=%s", hex.buf);
	ret = 0;
out:
	EVP_MD_CTX_free(ctx);
	sl_buf_release(&hex);
	return ret;
}

/* "db0:keys=3,expires=0,..." lines of INFO keyspace: the keys of every database. */
static unsigned long long count_keys(const char *info)
{
	unsigned long long n = 0;

	for (const char *p = info; (p = strstr(p, ":keys=")); p += 6)
		n += strtoull(p + 6, NULL, 10);
	return n;
}

/* redis-cli as nobody on the scratch server's socket SOCK. */
static int scratch_cli(const char *sock, const char *command, const char *arg,
		       struct sl_buf *out, struct sl_err *err)
{
	return run_as("nobody", (char *[]){ "redis-cli", "-s", (char *)sock, (char *)command,
			(char *)arg, NULL }, SL_RUN_NULL, out, NULL, "redis-cli", err);
}

/*
 * The part loaded by a redis-server of its own: as nobody (no app's
 * user reaches it), in a 0700 directory of nobody's in /var/tmp, on a
 * socket there, no TCP, saving nothing; stopped and removed after.
 */
static int verify(const struct sl_service_app *a, const char *dir, struct sl_strv *report,
		  struct sl_err *err)
{
	struct sl_buf tmp = SL_BUF_INIT, file = SL_BUF_INIT, sock = SL_BUF_INIT;
	struct sl_buf out = SL_BUF_INIT, log = SL_BUF_INIT;
	struct sl_child c = SL_CHILD_INIT;
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	struct passwd *pw = getpwnam("nobody");
	int fd = -1, logfd = -1, ret = -1, status, up = 0;

	(void)a;
	if (!pw)
		return sl_err_set(err, SL_EXIT_TEMP, "no user nobody on this node");
	if (check_as("nobody", pw->pw_uid, pw->pw_gid, dir, &tmp, &file, &fd, err) < 0)
		goto out;
	sl_buf_reset(&out);
	sl_buf_addf(&out, "%s/dump.rdb", dir);
	if (measure(fd, out.buf, report, err) < 0)
		goto out;
	sl_buf_addf(&sock, "%s/redis.sock", tmp.buf);
	logfd = open("/run", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (logfd < 0) {
		sl_err_errno(err, "unable to make a file in /run");
		goto out;
	}
	{
		/* setpriv, not runuser: its pid is the server's */
		char *argv[] = { "setpriv", "--reuid=nobody", "--regid=nogroup", "--init-groups",
			"--no-new-privs", "redis-server", "--port", "0", "--unixsocket", sock.buf,
			"--unixsocketperm", "700", "--dir", tmp.buf, "--dbfilename", "dump.rdb",
			"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "",
			NULL };

		c.argv = argv;
		c.in = SL_RUN_NULL;
		c.out = logfd;
		c.err = logfd;
		c.dir = "/";
		if (sl_run_start(&c, err) < 0)
			goto out;
	}
	for (int i = 0; i < 1200 && !up; i++) {	/* a minute at most */
		struct sl_err e = SL_ERR_INIT;

		if (waitpid(c.pid, &status, WNOHANG) == c.pid) {
			c.pid = -1;
			lseek(logfd, 0, SEEK_SET);
			sl_buf_read_fd(&log, logfd);
			sl_buf_rtrim(&log);
			sl_err_set(err, SL_EXIT_USAGE, "%s/dump.rdb does not load into Redis: %s",
				   dir, strrchr(log.buf, '\n') ? strrchr(log.buf, '\n') + 1 : log.buf);
			goto out;
		}
		sl_buf_reset(&out);
		up = scratch_cli(sock.buf, "PING", NULL, &out, &e) == 0 && !strcmp(out.buf, "PONG\n");
		sl_err_release(&e);
		if (!up)
			nanosleep(&pause, NULL);
	}
	if (!up) {
		sl_err_set(err, SL_EXIT_TEMP, "the scratch Redis did not answer in a minute");
		goto out;
	}
	sl_buf_reset(&out);
	if (scratch_cli(sock.buf, "INFO", "keyspace", &out, err) < 0)
		goto out;
	sl_strv_pushf(report, "keys=%llu", count_keys(out.buf));
	ret = 0;
out:
	if (c.pid > 0) {
		struct sl_err ignored = SL_ERR_INIT;

		pid_t done = 0;

		if (up)
			scratch_cli(sock.buf, "SHUTDOWN", "NOSAVE", NULL, &ignored);
		for (int i = 0; i < 200 && !(done = waitpid(c.pid, &status, WNOHANG)); i++)
			nanosleep(&pause, NULL);
		if (!done) {	/* ten seconds: it will not stop by itself */
			kill(c.pid, SIGKILL);
			waitpid(c.pid, &status, 0);
		}
		sl_err_release(&ignored);
	}
	if (fd >= 0)
		close(fd);
	if (logfd >= 0)
		close(logfd);
	scratch_remove(&tmp);
	sl_buf_release(&tmp);
	sl_buf_release(&file);
	sl_buf_release(&sock);
	sl_buf_release(&out);
	sl_buf_release(&log);
	return ret;
}

int sl_service_redis_main(int argc, char **argv)
{
	const struct sl_service redis = {
		.name = "redis", .devel_prefix = "redis", .devel_keys = devel_keys, .db_names = 0,
		.devel_env = devel_env, .install = install, .setup = setup, .env = env,
		.backup = backup, .restore = restore, .check = check, .clear = clear,
		.verify = verify,
	};

	return sl_service_main(argc, argv, &redis);
}
