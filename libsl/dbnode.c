/* silverlining — a service node's database servers: primary, standby, failover. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dbnode.h"
#include "dbrecord.h"
#include "exit.h"
#include "file.h"
#include "node.h"
#include "run.h"
#include "service.h"
#include "service-my.h"
#include "service-pg.h"

#define PG_UNIT "postgresql@15-main"
/* the elements of the firewall's set db_clients, which setup-node's nftables.conf declares and includes */
#define FIREWALL_DIR "/etc/silverlining/nft.d"
#define FIREWALL_SET FIREWALL_DIR "/db-clients.nft"
#define PG_ETC "/etc/postgresql/15/main"
#define PG_DATA "/var/lib/postgresql/15/main"
#define PG_BIN "/usr/lib/postgresql/15/bin"
#define PG_PRIMARY_CERT PG_ETC "/sl-primary.pem"
#define PG_FENCE_DROPIN "/etc/systemd/system/postgresql@.service.d/silverlining-fence.conf"
#define MY_CONF "/etc/mysql/mariadb.conf.d/60-silverlining.cnf"
#define SNAKEOIL_CERT "/etc/ssl/certs/ssl-cert-snakeoil.pem"
#define SNAKEOIL_KEY "/etc/ssl/private/ssl-cert-snakeoil.key"
#define ADMIN "silverlining"
#define REPLICATOR "sl_replicator"
#define HBA_BEGIN "# silverlining (sl-dbnode): begin, rewritten whole\n"
#define HBA_END "# silverlining (sl-dbnode): end\n"
#define LOCK_WAIT 600
#define STREAM_WAIT 30

int sl_dbnode_ipv4_ok(const char *s)
{
	struct in_addr a;

	return inet_pton(AF_INET, s, &a) == 1;
}

int sl_dbnode_lsn_ok(const char *s)
{
	size_t hi = strspn(s, "0123456789ABCDEFabcdef");

	if (!hi || hi > 8 || s[hi] != '/')
		return 0;
	s += hi + 1;
	hi = strspn(s, "0123456789ABCDEFabcdef");
	return hi && hi <= 8 && !s[hi];
}

/* ROOT/dbnode/NAME (NAME NULL: the directory) into OUT. */
static void state_path(struct sl_buf *out, const char *name)
{
	sl_node_path(out, "dbnode");
	if (name)
		sl_buf_addf(out, "/%s", name);
}

/* ROOT/dbnode/NAME's text, trimmed, into OUT: 1, 0 when it does not exist, -1. */
static int get(const char *name, struct sl_buf *out, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT;
	int ret = 1;

	state_path(&path, name);
	sl_buf_reset(out);
	if (sl_buf_read_file(out, path.buf) < 0)
		ret = errno == ENOENT ? 0 : sl_err_errno(err, "unable to read %s", path.buf);
	sl_buf_rtrim(out);
	sl_buf_release(&path);
	return ret;
}

static int put(const char *name, const char *text, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT;
	int ret;

	state_path(&path, name);
	ret = sl_file_write(path.buf, text, strlen(text), 0600, SL_FILE_REPLACE, err);
	sl_buf_release(&path);
	return ret;
}

static int drop(const char *name, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT;
	int ret = 0;

	state_path(&path, name);
	if (unlink(path.buf) < 0 && errno != ENOENT)
		ret = sl_err_errno(err, "unable to remove %s", path.buf);
	sl_buf_release(&path);
	return ret;
}

/* ROOT/dbnode made (0700) and locked; the lock's fd, or -1. */
static int begin(struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT;
	int ret;

	state_path(&path, NULL);
	ret = sl_file_mkdirs(path.buf, 0700, err);
	if (!ret && chmod(path.buf, 0700) < 0)
		ret = sl_err_errno(err, "unable to protect %s", path.buf);
	sl_buf_release(&path);
	return ret < 0 ? -1 : sl_node_lock(SL_NODE_LOCK_DBNODE, LOCK_WAIT, err);
}

/* The secret NAME into OUT: made now (32 random bytes, hex) if there is none. */
static int secret(const char *name, struct sl_buf *out, struct sl_err *err)
{
	unsigned char raw[32];
	int n = get(name, out, err);

	if (n)
		return n < 0 || out->len == 64 ? n : sl_err_set(err, SL_EXIT_TEMP,
			"ROOT/dbnode/%s is damaged (not 64 hex digits)", name);
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return sl_err_errno(err, "unable to get random bytes");
	for (size_t i = 0; i < sizeof(raw); i++)
		sl_buf_addf(out, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	return put(name, out->buf, err);
}

/* An unnamed file holding TEXT, for a child's stdin; its fd or -1. */
static int memfile(const char *text, size_t len, struct sl_err *err)
{
	int fd = memfd_create("sl-dbnode", MFD_CLOEXEC);

	if (fd < 0)
		return sl_err_errno(err, "unable to make a file in memory");
	if (sl_file_write_all(fd, text, len) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return sl_err_errno(err, "unable to write a file in memory");
	}
	return fd;
}

/*
 * Runs ARGV with SQL on its stdin (a client: psql, mariadb), its output
 * appended to OUT (may be NULL); what it said on stderr becomes the error.
 */
static int client(char *const *argv, const char *what, const char *sql,
		  struct sl_buf *out, struct sl_err *err)
{
	struct sl_child c = SL_CHILD_INIT;
	struct sl_buf o = SL_BUF_INIT, e = SL_BUF_INIT;
	int in = memfile(sql, strlen(sql), err), efd = -1, code = -1;

	if (in < 0 || (efd = memfile("", 0, err)) < 0)
		goto out;
	c.argv = argv;
	c.in = in;
	c.err = efd;
	c.dir = "/";
	code = sl_run_capture(&c, out ? out : &o, err);
	if (code > 0) {
		lseek(efd, 0, SEEK_SET);
		sl_buf_read_fd(&e, efd);
		sl_buf_rtrim(&e);
		sl_err_set(err, SL_EXIT_TEMP, "%s refused: %s", what, e.len ? e.buf : "(no message)");
		code = -1;
	}
out:
	if (in >= 0)
		close(in);
	if (efd >= 0)
		close(efd);
	explicit_bzero(o.buf, o.len);
	sl_buf_release(&o);
	sl_buf_release(&e);
	return code < 0 ? -1 : 0;
}

/* SQL run by psql as postgres over the local socket; rows as "A B C\n". */
static int pg(const char *sql, struct sl_buf *out, struct sl_err *err)
{
	char *argv[] = { "runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-A", "-t",
		"-F", " ", "-v", "ON_ERROR_STOP=1", "-d", "postgres", NULL };

	return client(argv, "PostgreSQL", sql, out, err);
}

/* SQL run by MariaDB's client as root over its socket; rows as "A\tB\n". */
static int my(const char *sql, struct sl_buf *out, struct sl_err *err)
{
	char *argv[] = { "mariadb", "--no-defaults", "-u", "root", "-N", "-B",
		"-S", "/run/mysqld/mysqld.sock", NULL };

	return client(argv, "MariaDB", sql, out, err);
}

/* ARGV run, its output to stderr. */
static int run(char *const *argv, struct sl_err *err)
{
	return sl_service_run(argv, NULL, SL_RUN_NULL, 2, argv[0], err);
}

static int systemctl(const char *verb, const char *unit, struct sl_err *err)
{
	char *argv[] = { "systemctl", (char *)verb, (char *)unit, NULL };

	return run(unit ? argv : (char *[]){ "systemctl", (char *)verb, NULL }, err);
}

/* PATH holds TEXT (MODE, owned by OWNER when not NULL): 1 if it changed, 0, -1. */
static int write_if_changed(const char *path, const char *text, mode_t mode,
			    const char *owner, struct sl_err *err)
{
	struct sl_buf old = SL_BUF_INIT;
	struct passwd *pw = owner ? getpwnam(owner) : NULL;
	int same = sl_buf_read_file(&old, path) == 0 && !strcmp(old.buf ? old.buf : "", text);

	sl_buf_release(&old);
	if (owner && !pw)
		return sl_err_set(err, SL_EXIT_TEMP, "no user %s", owner);
	if (same)
		return 0;
	if (sl_file_write(path, text, strlen(text), mode, SL_FILE_REPLACE, err) < 0)
		return -1;
	if (pw && chown(path, pw->pw_uid, pw->pw_gid) < 0)
		return sl_err_errno(err, "unable to give %s to %s", path, owner);
	return 1;
}

/* "sl_10_0_0_5": the replication slot of the standby at IP. */
static void slot_name(struct sl_buf *out, const char *ip)
{
	sl_buf_reset(out);
	sl_buf_adds(out, "sl_");
	for (; *ip; ip++)
		sl_buf_addch(out, *ip == '.' ? '_' : *ip);
}

/* pg_hba.conf with our block (one line per client and peer) in place of the old one. */
static int pg_hba(const struct sl_strv *clients, const struct sl_strv *peers,
		  struct sl_err *err)
{
	struct sl_buf old = SL_BUF_INIT, text = SL_BUF_INIT;
	const char *path = PG_ETC "/pg_hba.conf", *b, *e;
	int ret;

	if (sl_buf_read_file(&old, path) < 0)
		return sl_err_errno(err, "unable to read %s", path);
	b = strstr(old.buf, HBA_BEGIN);
	e = b ? strstr(b, HBA_END) : NULL;
	if (b && e) {
		sl_buf_add(&text, old.buf, b - old.buf);
		sl_buf_adds(&text, e + strlen(HBA_END));
	} else {
		sl_buf_adds(&text, old.buf);
	}
	if (text.len && text.buf[text.len - 1] != '\n')
		sl_buf_addch(&text, '\n');
	sl_buf_adds(&text, HBA_BEGIN);
	for (size_t i = 0; i < clients->n; i++)
		sl_buf_addf(&text, "hostssl all all %s/32 scram-sha-256\n", clients->v[i]);
	for (size_t i = 0; i < peers->n; i++)
		sl_buf_addf(&text, "hostssl replication " REPLICATOR " %s/32 scram-sha-256\n",
			    peers->v[i]);
	sl_buf_adds(&text, HBA_END);
	ret = write_if_changed(path, text.buf, 0640, "postgres", err);
	sl_buf_release(&old);
	sl_buf_release(&text);
	return ret;
}

/* 1 when PostgreSQL answers and is in recovery, 0 when it answers and is not, -1. */
static int in_recovery(struct sl_err *err)
{
	struct sl_buf out = SL_BUF_INIT;
	int ret = pg("SELECT pg_is_in_recovery()", &out, err);

	if (!ret)
		ret = out.len && out.buf[0] == 't';
	sl_buf_release(&out);
	return ret;
}

/* PostgreSQL's settings (conf.d) and pg_hba.conf, for the next reload. */
static int pg_files(const struct sl_strv *clients, const struct sl_strv *peers,
		    struct sl_err *err)
{
	static const char settings[] =
		"# silverlining (sl-dbnode): a service node's settings, rewritten by it\n"
		"listen_addresses = '*'\n"
		"ssl = on\n"
		"ssl_cert_file = '" SNAKEOIL_CERT "'\n"
		"ssl_key_file = '" SNAKEOIL_KEY "'\n"
		"password_encryption = 'scram-sha-256'\n"
		"wal_level = replica\n"
		"max_wal_senders = 10\n"
		"max_replication_slots = 10\n"
		"hot_standby = on\n"
		"max_slot_wal_keep_size = '2GB'\n";

	if (write_if_changed(PG_ETC "/conf.d/silverlining.conf", settings, 0644, "postgres", err) < 0 ||
	    pg_hba(clients, peers, err) < 0)
		return -1;
	return 0;
}

/*
 * The files read again (reload), PostgreSQL restarted only when a changed
 * setting needs it (pending_restart). On a primary, the roles with their
 * passwords and a slot per peer (the slots of peers no longer listed
 * dropped when unused).
 */
static int pg_apply(const struct sl_strv *peers, struct sl_err *err)
{
	struct sl_buf out = SL_BUF_INIT, sql = SL_BUF_INIT, pass = SL_BUF_INIT, hash = SL_BUF_INIT;
	struct sl_buf slot = SL_BUF_INIT;
	int ret = -1, rec;

	if (sl_service_start(PG_UNIT, err) < 0 || systemctl("reload", PG_UNIT, err) < 0 ||
	    pg("SELECT count(*) FROM pg_settings WHERE pending_restart", &out, err) < 0)
		goto out;
	if (strcmp(out.buf, "0\n") && systemctl("restart", PG_UNIT, err) < 0)
		goto out;
	if ((rec = in_recovery(err)) < 0)
		goto out;
	if (rec) {	/* a standby: roles and slots come from its primary */
		ret = 0;
		goto out;
	}
	sl_buf_adds(&sql, "DO $$BEGIN\n"
		    "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '" ADMIN "') THEN"
		    " CREATE ROLE " ADMIN "; END IF;\n"
		    "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '" REPLICATOR "') THEN"
		    " CREATE ROLE " REPLICATOR "; END IF;\nEND$$;\n");
	/* hashed here (SCRAM): the passwords never reach the server or its logs */
	if (secret("admin.password", &pass, err) < 0 ||
	    sl_service_pg_scram(pass.buf, ADMIN, &hash, err) < 0)
		goto out;
	sl_buf_addf(&sql, "ALTER ROLE " ADMIN " SUPERUSER LOGIN PASSWORD '%s';\n", hash.buf);
	if (secret("replication.password", &pass, err) < 0 ||
	    sl_service_pg_scram(pass.buf, REPLICATOR, &hash, err) < 0)
		goto out;
	sl_buf_addf(&sql, "ALTER ROLE " REPLICATOR " NOSUPERUSER REPLICATION LOGIN PASSWORD '%s';\n",
		    hash.buf);
	sl_buf_adds(&sql, "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots"
		    " WHERE slot_name LIKE 'sl\\_%' AND NOT active AND slot_name NOT IN (''");
	for (size_t i = 0; i < peers->n; i++) {
		slot_name(&slot, peers->v[i]);
		sl_buf_addf(&sql, ", '%s'", slot.buf);
	}
	sl_buf_adds(&sql, ");\n");
	for (size_t i = 0; i < peers->n; i++) {
		slot_name(&slot, peers->v[i]);
		sl_buf_addf(&sql, "SELECT count(pg_create_physical_replication_slot('%s')) WHERE NOT EXISTS"
			    " (SELECT 1 FROM pg_replication_slots WHERE slot_name = '%s');\n",
			    slot.buf, slot.buf);
	}
	ret = pg(sql.buf, NULL, err);
	if (secret("pg.seed", &pass, err) < 0)
		ret = -1;
out:
	explicit_bzero(sql.buf, sql.len);
	explicit_bzero(pass.buf, pass.len);
	sl_buf_release(&out);
	sl_buf_release(&sql);
	sl_buf_release(&pass);
	sl_buf_release(&hash);
	sl_buf_release(&slot);
	return ret;
}

/*
 * MariaDB on every address, TLS required, with the snakeoil certificate
 * (mysql put in group ssl-cert to read its key); 'silverlining'@CLIENT for
 * each client, the others dropped.
 */
static int my_configure(const struct sl_strv *clients, struct sl_err *err)
{
	static const char settings[] =
		"# silverlining (sl-dbnode): a service node's settings, rewritten by it\n"
		"[mysqld]\n"
		"bind-address = 0.0.0.0\n"
		"ssl_cert = " SNAKEOIL_CERT "\n"
		"ssl_key = " SNAKEOIL_KEY "\n"
		"require_secure_transport = ON\n";
	char *group[] = { "usermod", "-a", "-G", "ssl-cert", "mysql", NULL };
	struct sl_buf sql = SL_BUF_INIT, pass = SL_BUF_INIT, seed = SL_BUF_INIT, hosts = SL_BUF_INIT;
	char hash[42];
	int changed, ret = -1;

	if (run(group, err) < 0 ||
	    (changed = write_if_changed(MY_CONF, settings, 0644, NULL, err)) < 0)
		goto out;
	if (changed && systemctl("restart", "mariadb", err) < 0)
		goto out;
	if (secret("my.password", &pass, err) < 0 || secret("my.seed", &seed, err) < 0 ||
	    my("SELECT Host FROM mysql.global_priv WHERE User = '" ADMIN "'", &hosts, err) < 0)
		goto out;
	for (char *h = hosts.buf, *nl; h && *h; h = nl + 1) {
		int listed = 0;

		nl = strchr(h, '\n');
		if (!nl)
			break;
		*nl = 0;
		for (size_t i = 0; i < clients->n; i++)
			listed |= !strcmp(clients->v[i], h);
		/* Host is ours: made from an IPv4 literal; anything else is not ours to quote */
		if (!listed && sl_dbnode_ipv4_ok(h))
			sl_buf_addf(&sql, "DROP USER '" ADMIN "'@'%s';\n", h);
	}
	sl_service_my_password_hash(pass.buf, hash);
	for (size_t i = 0; i < clients->n; i++) {
		const char *c = clients->v[i];

		sl_buf_addf(&sql, "CREATE USER IF NOT EXISTS '" ADMIN "'@'%s' IDENTIFIED BY PASSWORD '%s';\n"
			    "ALTER USER '" ADMIN "'@'%s' IDENTIFIED BY PASSWORD '%s' REQUIRE SSL;\n"
			    "GRANT ALL PRIVILEGES ON *.* TO '" ADMIN "'@'%s' WITH GRANT OPTION;\n",
			    c, hash, c, hash, c);
	}
	ret = sql.len ? my(sql.buf, NULL, err) : 0;
out:
	explicit_bzero(pass.buf, pass.len);
	sl_buf_release(&sql);
	sl_buf_release(&pass);
	sl_buf_release(&seed);
	sl_buf_release(&hosts);
	return ret;
}

static void join(struct sl_buf *out, const struct sl_strv *v)
{
	sl_buf_reset(out);
	for (size_t i = 0; i < v->n; i++)
		sl_buf_addf(out, "%s\n", v->v[i]);
}

/*
 * Who may reach PostgreSQL and MariaDB here, in the firewall too: the set
 * db_clients holds the clients and peers (the node's nftables.conf lets
 * ports 5432 and 3306 in from it alone, and includes FIREWALL_SET at
 * boot), loaded now when it changed. The servers' own rules (pg_hba,
 * MariaDB's hosts) say the same; this keeps every other address from
 * reaching them at all.
 */
static int firewall(const struct sl_strv *clients, const struct sl_strv *peers,
		    struct sl_err *err)
{
	struct sl_buf text = SL_BUF_INIT;
	const char *sep = "";
	int changed, ret = -1;

	sl_buf_adds(&text, "# silverlining (sl-dbnode): the addresses that may reach PostgreSQL and\n"
		    "# MariaDB on this node: the nodeset's app nodes and the other service nodes\n"
		    "flush set inet silverlining db_clients\n");
	if (clients->n + peers->n) {
		sl_buf_adds(&text, "add element inet silverlining db_clients {");
		for (size_t i = 0; i < clients->n + peers->n; i++, sep = ",")
			sl_buf_addf(&text, "%s %s", sep,
				    i < clients->n ? clients->v[i] : peers->v[i - clients->n]);
		sl_buf_adds(&text, " }\n");
	}
	if (sl_file_mkdirs(FIREWALL_DIR, 0755, err) < 0 ||
	    (changed = write_if_changed(FIREWALL_SET, text.buf, 0644, NULL, err)) < 0)
		goto out;
	if (changed) {
		char *argv[] = { "nft", "-f", FIREWALL_SET, NULL };

		if (run(argv, err) < 0) {
			sl_err_prefix(err, "the firewall did not take " FIREWALL_SET
				      " (was the node set up with silver setup-node --nodeset?)");
			unlink(FIREWALL_SET);
			goto out;
		}
	}
	ret = 0;
out:
	sl_buf_release(&text);
	return ret;
}

/*
 * Both servers installed and configured, the addresses kept. PostgreSQL's
 * files only when APPLY is 0 (a fenced node's server stays stopped; a
 * standby's cluster is about to be replaced).
 */
static int configure(const struct sl_strv *clients, const struct sl_strv *peers,
		     int apply, struct sl_err *err)
{
	struct sl_buf b = SL_BUF_INIT;
	int ret = -1;

	if ((apply && sl_service_pg_install(1, err) < 0) || sl_service_my_install(err) < 0)
		goto out;
	join(&b, clients);
	if (put("clients", b.buf, err) < 0)
		goto out;
	join(&b, peers);
	if (put("peers", b.buf, err) < 0)
		goto out;
	if (pg_files(clients, peers, err) < 0 || (apply && pg_apply(peers, err) < 0) ||
	    my_configure(clients, err) < 0 || firewall(clients, peers, err) < 0)
		goto out;
	ret = 0;
out:
	sl_buf_release(&b);
	return ret;
}

/* 1 if the node is fenced, 0 if not, -1. */
static int fenced(struct sl_err *err)
{
	struct sl_buf b = SL_BUF_INIT;
	int n = get("fenced", &b, err);

	sl_buf_release(&b);
	return n;
}

/* The role file into ROLE ("" when none). */
static int role(struct sl_buf *role, struct sl_err *err)
{
	return get("role", role, err) < 0 ? -1 : 0;
}

int sl_dbnode_primary(const struct sl_strv *clients, const struct sl_strv *peers,
		      struct sl_err *err)
{
	struct sl_buf r = SL_BUF_INIT, up = SL_BUF_INIT;
	int lock = begin(err), f, ret = -1;

	if (lock < 0)
		return -1;
	if (role(&r, err) < 0 || (f = fenced(err)) < 0 || get("upstream", &up, err) < 0)
		goto out;
	if (f) {
		sl_err_set(err, SL_EXIT_USAGE, "fenced: make it a standby of the new primary first");
		goto out;
	}
	if (!strcmp(r.buf ? r.buf : "", "standby")) {
		sl_err_set(err, SL_EXIT_USAGE, "a standby of %s: promote it first",
			   up.len ? up.buf : "another node");
		goto out;
	}
	if (configure(clients, peers, 1, err) < 0)
		goto out;
	ret = put("role", "primary\n", err);
out:
	close(lock);
	sl_buf_release(&r);
	sl_buf_release(&up);
	return ret;
}

/* The address this node's kernel uses towards HOST (IPv4), into OUT. */
static int source_address(const char *host, struct sl_buf *out, struct sl_err *err)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(5432) }, me;
	socklen_t len = sizeof(me);
	char text[INET_ADDRSTRLEN];
	int fd;

	if (inet_pton(AF_INET, host, &to.sin_addr) != 1)
		return sl_err_set(err, SL_EXIT_USAGE, "%s is not an IPv4 address", host);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sl_err_errno(err, "unable to make a socket");
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&me, &len) < 0) {
		close(fd);
		return sl_err_errno(err, "no route to %s", host);
	}
	close(fd);
	inet_ntop(AF_INET, &me.sin_addr, text, sizeof(text));
	sl_buf_reset(out);
	sl_buf_adds(out, text);
	return 0;
}

/* 1 when PostgreSQL is a standby streaming from HOST, 0 otherwise. */
static int streams_from(const char *host)
{
	struct sl_err ignored = SL_ERR_INIT;
	struct sl_buf out = SL_BUF_INIT, want = SL_BUF_INIT;
	int yes;

	sl_buf_addf(&want, "t %s streaming\n", host);
	yes = pg("SELECT pg_is_in_recovery(), sender_host, status FROM pg_stat_wal_receiver",
		 &out, &ignored) == 0 && out.buf && !strcmp(out.buf, want.buf);
	sl_err_release(&ignored);
	sl_buf_release(&out);
	sl_buf_release(&want);
	return yes;
}

/* postgresql.auto.conf without LINES' settings, then with them. */
static int auto_conf(const char *lines, struct sl_err *err)
{
	const char *path = PG_DATA "/postgresql.auto.conf";
	struct sl_buf old = SL_BUF_INIT, text = SL_BUF_INIT;
	int ret;

	if (sl_buf_read_file(&old, path) < 0 && errno != ENOENT)
		return sl_err_errno(err, "unable to read %s", path);
	for (char *l = old.buf, *nl; l && *l; l = nl) {
		nl = strchr(l, '\n');
		nl = nl ? nl + 1 : l + strlen(l);
		if (strncmp(l, "primary_conninfo", 16) && strncmp(l, "primary_slot_name", 17))
			sl_buf_add(&text, l, nl - l);
	}
	sl_buf_adds(&text, lines);
	ret = write_if_changed(path, text.buf, 0600, "postgres", err);
	explicit_bzero(text.buf, text.len);
	sl_buf_release(&old);
	sl_buf_release(&text);
	return ret < 0 ? -1 : 0;
}

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void nap(void)
{
	struct timespec t = { 0, 200 * 1000 * 1000 };

	nanosleep(&t, NULL);
}

/*
 * pg_basebackup from the record's server into an empty PG_DATA, as
 * postgres, its password in an unnamed passfile (sl_service_pg_passfile),
 * the server checked against the record's certificate; then the standby's
 * settings.
 */
static int basebackup(const struct sl_dbrecord_server *s, const char *me,
		      struct sl_err *err)
{
	struct passwd *pw = getpwnam("postgres");
	struct sl_buf conn = SL_BUF_INIT, slot = SL_BUF_INIT, conf = SL_BUF_INIT;
	struct sl_buf sig = SL_BUF_INIT;
	int fd = -1, ret = -1;

	if (!pw)
		return sl_err_set(err, SL_EXIT_TEMP, "PostgreSQL is not installed (no user postgres)");
	slot_name(&slot, me);
	fd = sl_service_pg_passfile(s->host, s->port, REPLICATOR, s->replication,
				    pw->pw_uid, pw->pw_gid, err);
	if (fd < 0)
		goto out;
	sl_buf_addf(&conn, "host=%s port=%d user=" REPLICATOR " sslmode=verify-ca sslrootcert="
		    PG_PRIMARY_CERT " connect_timeout=10 application_name=%s passfile=/proc/self/fd/%d",
		    s->host, s->port, me, fd);
	{
		char *argv[] = { PG_BIN "/pg_basebackup", "-w", "-c", "fast", "-X", "stream",
			"-S", slot.buf, "-D", PG_DATA, "-d", conn.buf, NULL };

		if (sl_service_run(argv, "postgres", SL_RUN_NULL, 2, "pg_basebackup", err) < 0)
			goto out;
	}
	/* the walreceiver's login: in the cluster's own files (0600, in a 0700 directory) */
	sl_buf_addf(&conf, "primary_conninfo = 'host=%s port=%d user=" REPLICATOR " password=%s"
		    " sslmode=verify-ca sslrootcert=" PG_PRIMARY_CERT " application_name=%s'\n"
		    "primary_slot_name = '%s'\n", s->host, s->port, s->replication, me, slot.buf);
	if (auto_conf(conf.buf, err) < 0)
		goto out;
	sl_buf_adds(&sig, PG_DATA "/standby.signal");
	ret = write_if_changed(sig.buf, "", 0600, "postgres", err) < 0 ? -1 : 0;
out:
	if (fd >= 0)
		close(fd);
	explicit_bzero(conf.buf, conf.len);
	sl_buf_release(&conn);
	sl_buf_release(&slot);
	sl_buf_release(&conf);
	sl_buf_release(&sig);
	return ret;
}

/* PG_DATA moved to PG_DATA.aside (the previous one removed), an empty one made. */
static int set_aside(struct sl_err *err)
{
	struct passwd *pw = getpwnam("postgres");
	int dir = open("/var/lib/postgresql/15", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = -1;

	if (dir < 0 || !pw)
		return sl_err_errno(err, "unable to open /var/lib/postgresql/15");
	if (sl_file_remove_tree(dir, "main.aside", err) < 0)
		goto out;
	if (renameat(dir, "main", dir, "main.aside") < 0 && errno != ENOENT) {
		sl_err_errno(err, "unable to move " PG_DATA " aside");
		goto out;
	}
	if (mkdirat(dir, "main", 0700) < 0 ||
	    fchownat(dir, "main", pw->pw_uid, pw->pw_gid, AT_SYMLINK_NOFOLLOW) < 0) {
		sl_err_errno(err, "unable to make " PG_DATA);
		goto out;
	}
	ret = 0;
out:
	close(dir);
	return ret;
}

/* The copy that failed removed, the cluster set aside put back. */
static void put_back(void)
{
	struct sl_err ignored = SL_ERR_INIT;
	int dir = open("/var/lib/postgresql/15", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dir >= 0 && sl_file_remove_tree(dir, "main", &ignored) == 0)
		renameat(dir, "main.aside", dir, "main");
	if (dir >= 0)
		close(dir);
	sl_err_release(&ignored);
}

/* Until PostgreSQL is a standby streaming from HOST; 111 after STREAM_WAIT s. */
static int wait_streaming(const char *host, struct sl_err *err)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!streams_from(host)) {
		if (since(&t0) > STREAM_WAIT)
			return sl_err_set(err, SL_EXIT_TEMP, "PostgreSQL does not stream from %s"
					  " after %d s (see journalctl -u " PG_UNIT ")", host, STREAM_WAIT);
		nap();
	}
	return 0;
}

static int copy_primary(const struct sl_dbrecord_server *s, double *seconds, struct sl_err *err)
{
	struct sl_buf me = SL_BUF_INIT;
	struct timespec t0;
	int ret = -1;

	if (source_address(s->host, &me, err) < 0 ||
	    write_if_changed(PG_PRIMARY_CERT, s->cert, 0644, NULL, err) < 0 ||
	    systemctl("stop", PG_UNIT, err) < 0 || set_aside(err) < 0)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (basebackup(s, me.buf, err) < 0) {
		put_back();
		sl_buf_adds(&err->msg, "; the cluster was put back as it was (stopped)");
		goto out;
	}
	*seconds = since(&t0);
	if (drop("fenced", err) < 0 || systemctl("start", PG_UNIT, err) < 0)
		goto out;
	ret = wait_streaming(s->host, err);
out:
	sl_buf_release(&me);
	return ret;
}

int sl_dbnode_standby(const struct sl_strv *clients, const struct sl_strv *peers,
		      const char *text, size_t len, double *seconds, struct sl_err *err)
{
	struct sl_dbrecord rec = SL_DBRECORD_INIT;
	struct sl_buf r = SL_BUF_INIT, host = SL_BUF_INIT;
	int lock = -1, f, streaming, ret = -1;

	*seconds = -1;
	if (sl_dbrecord_parse(&rec, text, len, "the record on stdin", err) < 0)
		return -1;
	if (!rec.pg.present) {
		sl_err_set(err, SL_EXIT_USAGE, "the record on stdin has no [postgresql]");
		goto out;
	}
	if ((lock = begin(err)) < 0 || role(&r, err) < 0 || (f = fenced(err)) < 0)
		goto out;
	if (!f && !strcmp(r.buf ? r.buf : "", "primary")) {
		sl_err_set(err, SL_EXIT_USAGE, "a primary: fence it first (sl-dbnode --fence)");
		goto out;
	}
	/* the roles replicate: the primary's passwords are this node's own */
	if (put("admin.password", rec.pg.password, err) < 0 ||
	    put("replication.password", rec.pg.replication, err) < 0 ||
	    put("pg.seed", rec.pg.seed, err) < 0 || put("upstream", rec.pg.host, err) < 0)
		goto out;
	/* a fresh node gets its packages (and a cluster to set aside) first */
	if (!f && sl_service_pg_install(1, err) < 0)
		goto out;
	streaming = streams_from(rec.pg.host);
	if (configure(clients, peers, streaming, err) < 0)
		goto out;
	if (!streaming && (copy_primary(&rec.pg, seconds, err) < 0 || pg_apply(peers, err) < 0))
		goto out;
	ret = put("role", "standby\n", err);
out:
	if (lock >= 0)
		close(lock);
	sl_dbrecord_release(&rec);
	sl_buf_release(&r);
	sl_buf_release(&host);
	return ret;
}

/* S filled from the node's state: HOST, PORT, the secrets PASS and SEED. */
static int server(struct sl_dbrecord_server *s, const char *host, int port,
		  const char *pass, const char *seed, const struct sl_strv *clients,
		  const char *cert, struct sl_err *err)
{
	struct sl_buf b = SL_BUF_INIT;

	s->present = 1;
	s->host = strdup(host);
	s->port = port;
	s->admin = strdup(ADMIN);
	sl_strv_pushv(&s->clients, clients->v);
	s->cert = strdup(cert);
	if (secret(pass, &b, err) < 0)
		goto fail;
	s->password = sl_buf_detach(&b, NULL);
	if (secret(seed, &b, err) < 0)
		goto fail;
	s->seed = sl_buf_detach(&b, NULL);
	return 0;
fail:
	sl_buf_release(&b);
	return -1;
}

int sl_dbnode_record(struct sl_buf *out, struct sl_err *err)
{
	struct sl_dbrecord rec = SL_DBRECORD_INIT;
	struct sl_strv clients = SL_STRV_INIT;
	struct sl_buf r = SL_BUF_INIT, host = SL_BUF_INIT, list = SL_BUF_INIT, cert = SL_BUF_INIT;
	int lock = begin(err), f, ret = -1;

	if (lock < 0)
		return -1;
	if (role(&r, err) < 0 || (f = fenced(err)) < 0)
		goto out;
	if (f || strcmp(r.buf ? r.buf : "", "primary")) {
		sl_err_set(err, SL_EXIT_USAGE, "not a primary (%s): only a primary has a record",
			   f ? "fenced" : r.len ? r.buf : "sl-dbnode --primary never ran");
		goto out;
	}
	if (get("clients", &list, err) < 0)
		goto out;
	for (char *c = list.buf, *nl; c && *c; c = nl + !!*nl) {
		nl = strchrnul(c, '\n');
		sl_strv_pushn(&clients, c, nl - c);
	}
	if (!clients.n) {	/* a record names its clients */
		sl_err_set(err, SL_EXIT_USAGE, "no clients: sl-dbnode --primary --client IP first");
		goto out;
	}
	/* the address the clients reach it at: the kernel's towards the first */
	if (source_address(clients.v[0], &host, err) < 0)
		goto out;
	if (sl_buf_read_file(&cert, SNAKEOIL_CERT) < 0) {
		sl_err_errno(err, "unable to read " SNAKEOIL_CERT);
		goto out;
	}
	if (server(&rec.pg, host.buf, 5432, "admin.password", "pg.seed", &clients, cert.buf, err) < 0 ||
	    server(&rec.my, host.buf, 3306, "my.password", "my.seed", &clients, cert.buf, err) < 0)
		goto out;
	if (get("replication.password", &list, err) < 1) {
		if (!err->msg.len)
			sl_err_set(err, SL_EXIT_TEMP, "no ROOT/dbnode/replication.password");
		goto out;
	}
	rec.pg.replication = sl_buf_detach(&list, NULL);
	sl_dbrecord_format(&rec, out);
	ret = 0;
out:
	close(lock);
	sl_dbrecord_release(&rec);
	sl_strv_clear(&clients);
	sl_buf_release(&r);
	sl_buf_release(&host);
	sl_buf_release(&list);
	sl_buf_release(&cert);
	return ret;
}

/* pg_controldata's value of KEY ("Latest checkpoint location") into OUT. */
static int controldata(const char *key, struct sl_buf *out, struct sl_err *err)
{
	char *argv[] = { PG_BIN "/pg_controldata", "-D", PG_DATA, NULL };
	struct sl_child c = SL_CHILD_INIT;
	struct sl_buf all = SL_BUF_INIT;
	size_t klen = strlen(key);
	int code, ret = -1;

	c.argv = argv;
	c.err = 2;
	code = sl_run_capture(&c, &all, err);
	if (code < 0)
		goto out;
	if (code) {
		sl_err_set(err, SL_EXIT_TEMP, "pg_controldata failed (exit status %d)", code);
		goto out;
	}
	for (char *l = all.buf, *nl; l && *l; l = nl + 1) {
		if (!(nl = strchr(l, '\n')))
			break;
		*nl = 0;
		if (!strncmp(l, key, klen) && l[klen] == ':') {
			l += klen + 1;
			l += strspn(l, " ");
			sl_buf_reset(out);
			sl_buf_adds(out, l);
			ret = 0;
			goto out;
		}
	}
	sl_err_set(err, SL_EXIT_TEMP, "pg_controldata says no '%s'", key);
out:
	sl_buf_release(&all);
	return ret;
}

static int mysql_up(void)
{
	char *argv[] = { "systemctl", "is-active", "-q", "mariadb", NULL };
	struct sl_child c = SL_CHILD_INIT;

	c.argv = argv;
	c.err = SL_RUN_NULL;
	return sl_run(&c, NULL) == 0;
}

/* The lines of a primary or a standby, as psql prints them ("KEY VALUE..."). */
static const char state_sql[] =
	"SELECT 'timeline', CASE WHEN pg_is_in_recovery()"
	" THEN coalesce((SELECT received_tli FROM pg_stat_wal_receiver),"
	" (SELECT timeline_id FROM pg_control_checkpoint()))"
	" ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END;\n"
	"SELECT 'lsn', CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()"
	" ELSE pg_current_wal_lsn() END;\n"
	"SELECT 'standby', coalesce(host(client_addr), application_name), state,"
	" coalesce(sent_lsn::text, '-'), coalesce(replay_lsn::text, '-'),"
	" coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint::text, '-'),"
	" round(coalesce(extract(epoch FROM replay_lag), 0)::numeric, 3)"
	" FROM pg_stat_replication WHERE NOT pg_is_in_recovery() ORDER BY 2;\n"
	"SELECT 'upstream', coalesce((SELECT sender_host FROM pg_stat_wal_receiver), '-'),"
	" coalesce(pg_last_wal_receive_lsn()::text, '-'), coalesce(pg_last_wal_replay_lsn()::text, '-'),"
	" coalesce(round(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::numeric, 3)::text, '-')"
	" WHERE pg_is_in_recovery();\n";

int sl_dbnode_state(struct sl_buf *out, struct sl_err *err)
{
	struct sl_buf r = SL_BUF_INIT, v = SL_BUF_INIT;
	int f, ret = -1;

	/* no lock: a state is read while a long verb (a copy) runs */
	if (role(&r, err) < 0 || (f = fenced(err)) < 0)
		goto out;
	sl_buf_addf(out, "role %s\n", f ? "fenced" : r.len ? r.buf : "none");
	if (f) {
		if (controldata("Latest checkpoint's TimeLineID", &v, err) < 0)
			goto out;
		sl_buf_addf(out, "timeline %s\n", v.buf);
		if (controldata("Latest checkpoint location", &v, err) < 0)
			goto out;
		sl_buf_addf(out, "lsn %s\n", v.buf);
	} else if (r.len && pg(state_sql, out, err) < 0) {
		goto out;
	}
	sl_buf_addf(out, "mysql %s\n", mysql_up() ? "up" : "down");
	ret = 0;
out:
	sl_buf_release(&r);
	sl_buf_release(&v);
	return ret;
}

int sl_dbnode_fence(struct sl_buf *lsn, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT, dropin = SL_BUF_INIT;
	int lock = begin(err), changed, ret = -1;

	if (lock < 0)
		return -1;
	/* the mark first: from here on, nothing starts the server again */
	if (put("fenced", "fenced\n", err) < 0 ||
	    sl_file_mkdirs("/etc/systemd/system/postgresql@.service.d", 0755, err) < 0)
		goto out;
	state_path(&path, "fenced");
	sl_buf_addf(&dropin, "# silverlining (sl-dbnode --fence): kept stopped while %s exists\n"
		    "[Service]\nExecCondition=/usr/bin/test ! -e %s\n", path.buf, path.buf);
	if ((changed = write_if_changed(PG_FENCE_DROPIN, dropin.buf, 0644, NULL, err)) < 0 ||
	    (changed && systemctl("daemon-reload", NULL, err) < 0))
		goto out;
	/* fast: the walsenders send the shutdown checkpoint before they end */
	if (systemctl("stop", PG_UNIT, err) < 0)
		goto out;
	ret = controldata("Latest checkpoint location", lsn, err);
out:
	close(lock);
	sl_buf_release(&path);
	sl_buf_release(&dropin);
	return ret;
}

/* How many bytes the replay is behind LSN (<= 0: reached), into *BEHIND; and the replayed LSN. */
static int behind(const char *lsn, long long *n, struct sl_buf *replayed, struct sl_err *err)
{
	struct sl_buf sql = SL_BUF_INIT, out = SL_BUF_INIT;
	int ret;

	sl_buf_addf(&sql, "SELECT pg_wal_lsn_diff('%s', pg_last_wal_replay_lsn())::bigint,"
		    " pg_last_wal_replay_lsn()", lsn);
	ret = pg(sql.buf, &out, err);
	if (!ret && sscanf(out.buf ? out.buf : "", "%lld", n) != 1)
		ret = sl_err_set(err, SL_EXIT_TEMP, "PostgreSQL has replayed nothing yet");
	if (!ret) {
		const char *sp = strchr(out.buf, ' ');

		sl_buf_reset(replayed);
		sl_buf_adds(replayed, sp ? sp + 1 : "?");
		sl_buf_rtrim(replayed);
	}
	sl_buf_release(&sql);
	sl_buf_release(&out);
	return ret;
}

int sl_dbnode_promote(const char *min_lsn, int wait, int force, long *timeline,
		      double *seconds, struct sl_err *err)
{
	struct sl_buf r = SL_BUF_INIT, out = SL_BUF_INIT, replayed = SL_BUF_INIT;
	struct timespec t0;
	long long n = 0;
	int lock = begin(err), f, rec, ret = -1;

	if (lock < 0)
		return -1;
	if (role(&r, err) < 0 || (f = fenced(err)) < 0)
		goto out;
	if (f) {
		sl_err_set(err, SL_EXIT_USAGE, "fenced: a fenced node is not promoted");
		goto out;
	}
	if ((rec = in_recovery(err)) < 0)
		goto out;
	if (!rec) {
		/* promoted by other means: the role says so from now on */
		if (!strcmp(r.buf ? r.buf : "", "standby") && put("role", "primary\n", err) < 0)
			goto out;
		sl_err_set(err, SL_EXIT_NO, "not a standby: nothing to promote");
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (min_lsn) {
		if (behind(min_lsn, &n, &replayed, err) < 0)
			goto out;
		if (n <= 0 || since(&t0) >= wait)
			break;
		nap();
	}
	if (n > 0 && !force) {
		sl_err_set(err, SL_EXIT_USAGE, "behind by %lld bytes (replayed %s, want %s)",
			   n, replayed.buf, min_lsn);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (pg("SELECT pg_promote(true, 60)", &out, err) < 0)
		goto out;
	*seconds = since(&t0);
	if (strcmp(out.buf ? out.buf : "", "t\n")) {
		sl_err_set(err, SL_EXIT_TEMP, "PostgreSQL did not promote within 60 s");
		goto out;
	}
	if (put("role", "primary\n", err) < 0 || drop("upstream", err) < 0)
		goto out;
	sl_buf_reset(&out);
	if (pg("SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int",
	       &out, err) < 0)
		goto out;
	*timeline = strtol(out.buf, NULL, 10);
	ret = 0;
out:
	close(lock);
	sl_buf_release(&r);
	sl_buf_release(&out);
	sl_buf_release(&replayed);
	return ret;
}
