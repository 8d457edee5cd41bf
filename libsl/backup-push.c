/* silverlining — stored backups pushed to another node, and received there. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup-push.h"
#include "exit.h"
#include "file.h"
#include "instance.h"
#include "app.h"
#include "mem.h"
#include "run.h"
#include "ssh.h"

#define MAGIC "silverlining-backup-push 1"
#define INI_MAX (1024 * 1024)
#define ARCHIVE_MAX (1LL << 40)
#define CHUNK 65536

static const char *conf_dir(void)
{
	const char *d = getenv("SL_BACKUP_PUSH_DIR");

	return d && *d ? d : "/etc/silverlining/backup-push";
}

static int digits(const char *s, int n, int lo, int hi)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	return v >= lo && v <= hi;
}

int sl_backup_push_stamp_valid(const char *s)
{
	return strlen(s) == 16 && digits(s, 4, 1970, 9999) && digits(s + 4, 2, 1, 12) &&
	       digits(s + 6, 2, 1, 31) && s[8] == 'T' && digits(s + 9, 2, 0, 23) &&
	       digits(s + 11, 2, 0, 59) && digits(s + 13, 2, 0, 60) && s[15] == 'Z';
}

int sl_backup_push_source_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 63 || !(islower((unsigned char)*s) || isdigit((unsigned char)*s)))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) &&
		    s[i] != '.' && s[i] != '-' && s[i] != '_')
			return 0;
	return 1;
}

static int names_check(const char *app, const char *stamp, struct sl_err *err)
{
	if (!sl_app_name_valid(app))
		return sl_err_set(err, SL_EXIT_USAGE, "invalid app name '%s'", app);
	if (!sl_backup_push_stamp_valid(stamp))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "invalid stamp '%s': a backup's stamp is a UTC time as YYYYmmddTHHMMSSZ",
				  stamp);
	return 0;
}

/*
 * The value of KEY in the top of an INI record (before any section), or
 * NULL: "KEY=VALUE", blanks around either side allowed.
 */
static char *record_value(const char *ini, size_t len, const char *key)
{
	const char *p = ini, *end = ini + len;
	size_t k = strlen(key);

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end, *v = p + k;

		if (*p == '[')
			break;
		if ((size_t)(e - p) > k && !memcmp(p, key, k)) {
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			if (v < e && *v == '=') {
				for (v++; v < e && (*v == ' ' || *v == '\t'); v++)
					;
				while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
					e--;
				return sl_xstrndup(v, (size_t)(e - v));
			}
		}
		p = nl ? nl + 1 : end;
	}
	return NULL;
}

static int is_hex64(const char *s)
{
	if (!s || strlen(s) != 64)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s) && !(*s >= 'a' && *s <= 'f'))
			return 0;
	return 1;
}

/* Whether S (N bytes) is base64, as keys are written in OpenSSH's files. */
static int is_base64(const char *s, size_t n)
{
	if (n < 16 || n > 8192)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/' && s[i] != '=')
			return 0;
	return 1;
}

/* --- the source's side --- */

static int conf_path(struct sl_buf *out, const char *name)
{
	sl_buf_reset(out);
	sl_buf_addf(out, "%s/%s", conf_dir(), name);
	return 0;
}

int sl_backup_push_key(struct sl_buf *pub, struct sl_err *err)
{
	struct sl_buf key = SL_BUF_INIT, p = SL_BUF_INIT;
	int ret = -1;

	if (sl_file_mkdirs(conf_dir(), 0700, err) < 0)
		goto out;
	conf_path(&key, "key");
	if (access(key.buf, F_OK) < 0) {
		char *argv[] = { "ssh-keygen", "-q", "-t", "ed25519", "-N", "",
				 "-C", "silverlining backup-push", "-f", key.buf, NULL };
		struct sl_child c = SL_CHILD_INIT;
		int code;

		c.argv = argv;
		c.in = SL_RUN_NULL;
		c.out = SL_RUN_NULL;
		code = sl_run(&c, err);
		if (code < 0)
			goto out;
		if (code) {
			sl_err_set(err, SL_EXIT_TEMP, "ssh-keygen failed to make %s (exit status %d)",
				   key.buf, code);
			goto out;
		}
		if (chmod(key.buf, 0600) < 0) {
			sl_err_errno(err, "unable to make %s root's alone", key.buf);
			goto out;
		}
	}
	sl_buf_adds(&key, ".pub");
	if (sl_buf_read_file(&p, key.buf) < 0) {
		sl_err_errno(err, "unable to read %s", key.buf);
		goto out;
	}
	sl_buf_rtrim(&p);
	if (strncmp(p.buf, "ssh-ed25519 ", 12) || strchr(p.buf, '\n')) {
		sl_err_set(err, SL_EXIT_USAGE, "%s is not one ed25519 public key", key.buf);
		goto out;
	}
	sl_buf_add(pub, p.buf, p.len);
	sl_buf_addch(pub, '\n');
	ret = 0;
out:
	sl_buf_release(&key);
	sl_buf_release(&p);
	return ret;
}

/* The names of TARGET in known_hosts: HOST for port 22, else [HOST]:PORT. */
static void kh_names(struct sl_buf *out, const struct sl_ssh_addr *a)
{
	if (a->port == 22)
		sl_buf_adds(out, a->host);
	else
		sl_buf_addf(out, "[%s]:%d", a->host, a->port);
}

static int target_parse(struct sl_ssh_addr *a, const char *target, struct sl_err *err)
{
	if (strchr(target, '@'))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "invalid target '%s': give HOST[:PORT] (root logs in there)", target);
	return sl_ssh_addr_parse(a, target, err);
}

int sl_backup_push_set_target(const char *target, const char *host_keys,
			      struct sl_err *err)
{
	static const char *const types[] = { "ssh-ed25519", "ecdsa-sha2-nistp256",
		"ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa" };
	struct sl_ssh_addr a = SL_SSH_ADDR_INIT;
	struct sl_buf names = SL_BUF_INIT, kh = SL_BUF_INIT, path = SL_BUF_INIT;
	const char *p = host_keys;
	int ret = -1, line = 0;

	if (target_parse(&a, target, err) < 0)
		goto out;
	kh_names(&names, &a);
	while (*p) {
		const char *e = strchrnul(p, '\n'), *f1, *f2, *f3;
		size_t known = 0;

		line++;
		f1 = strchr(p, ' ');
		f2 = f1 && f1 < e ? strchr(f1 + 1, ' ') : NULL;
		f3 = f2 && f2 < e ? strchr(f2 + 1, ' ') : NULL;
		if (!f3 || f3 > e)
			f3 = e;
		if (e == p) {
			p = *e ? e + 1 : e;
			continue;
		}
		for (size_t i = 0; f2 && f2 < e && i < sizeof(types) / sizeof(*types); i++)
			if ((size_t)(f2 - f1 - 1) == strlen(types[i]) &&
			    !memcmp(f1 + 1, types[i], strlen(types[i])))
				known = 1;
		if (!f1 || f1 > e || (size_t)(f1 - p) != names.len || memcmp(p, names.buf, names.len) ||
		    !known || !is_base64(f2 + 1, (size_t)(f3 - f2 - 1))) {
			sl_err_set(err, SL_EXIT_USAGE,
				   "host key line %d is not '%s TYPE BASE64': the target's host key comes from a checked known_hosts",
				   line, names.buf);
			goto out;
		}
		sl_buf_add(&kh, p, (size_t)(f3 - p));
		sl_buf_addch(&kh, '\n');
		p = *e ? e + 1 : e;
	}
	if (!kh.len) {
		sl_err_set(err, SL_EXIT_USAGE, "no host key for %s on standard input", names.buf);
		goto out;
	}
	if (sl_file_mkdirs(conf_dir(), 0700, err) < 0)
		goto out;
	conf_path(&path, "known_hosts");
	if (sl_file_write(path.buf, kh.buf, kh.len, 0600, SL_FILE_REPLACE, err) < 0)
		goto out;
	sl_buf_reset(&kh);
	sl_buf_addf(&kh, "%s\n", target);
	conf_path(&path, "target");
	if (sl_file_write(path.buf, kh.buf, kh.len, 0600, SL_FILE_REPLACE, err) < 0)
		goto out;
	ret = 0;
out:
	sl_ssh_addr_release(&a);
	sl_buf_release(&names);
	sl_buf_release(&kh);
	sl_buf_release(&path);
	return ret;
}

int sl_backup_push_host_line(struct sl_ssh *s, const struct sl_ssh_addr *target,
			     struct sl_buf *out, struct sl_err *err)
{
	kh_names(out, target);
	sl_buf_addch(out, ' ');
	if (sl_ssh_host_key(s, out) < 0)
		return sl_err_set(err, SL_EXIT_TEMP, "no host key from %s", sl_ssh_name(s));
	sl_buf_addch(out, '\n');
	return 0;
}

/* Opens ROOT/backups/APP/STAMP.EXT, never through a symbolic link. */
static int open_stored(const char *app, const char *stamp, const char *ext, struct sl_err *err)
{
	struct sl_buf path = SL_BUF_INIT;
	int fd;

	sl_buf_addf(&path, "%s/backups/%s/%s.%s", sl_instance_root(), app, stamp, ext);
	fd = open(path.buf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		sl_err_errno(err, "unable to open the backup %s", path.buf);
	sl_buf_release(&path);
	return fd;
}

static int push_stream(struct sl_ssh_chan *ch, const char *app, const char *stamp,
		       const struct sl_buf *ini, int fd, long long size, struct sl_err *err)
{
	struct sl_buf h = SL_BUF_INIT;
	char *buf = sl_xmalloc(CHUNK);
	long long left = size;
	int ret = -1;

	sl_buf_addf(&h, MAGIC "\napp %s\nstamp %s\nini %zu\n", app, stamp, ini->len);
	if (sl_ssh_write(ch, h.buf, h.len, err) < 0 || sl_ssh_write(ch, ini->buf, ini->len, err) < 0)
		goto out;
	sl_buf_reset(&h);
	sl_buf_addf(&h, "archive %lld\n", size);
	if (sl_ssh_write(ch, h.buf, h.len, err) < 0)
		goto out;
	while (left > 0) {
		ssize_t n = read(fd, buf, left < CHUNK ? (size_t)left : CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			sl_err_set(err, SL_EXIT_TEMP, "the archive of %s %s ended early", app, stamp);
			goto out;
		}
		if (sl_ssh_write(ch, buf, (size_t)n, err) < 0)
			goto out;
		left -= n;
	}
	if (sl_ssh_write(ch, "end\n", 4, err) < 0 || sl_ssh_send_eof(ch, err) < 0)
		goto out;
	ret = 0;
out:
	free(buf);
	sl_buf_release(&h);
	return ret;
}

int sl_backup_push(const char *app, const char *stamp, struct sl_err *err)
{
	struct sl_buf target = SL_BUF_INIT, key = SL_BUF_INIT, kh = SL_BUF_INIT,
		ini = SL_BUF_INIT, answer = SL_BUF_INIT;
	struct sl_ssh_addr a = SL_SSH_ADDR_INIT;
	struct sl_ssh_opts o = SL_SSH_OPTS_INIT;
	struct sl_ssh *s = NULL;
	struct sl_ssh_chan *ch = NULL;
	struct sl_err fin = SL_ERR_INIT;
	struct stat st;
	int fd = -1, ini_fd = -1, ret = -1, code;

	conf_path(&key, "target");
	if (sl_buf_read_file(&target, key.buf) < 0) {
		if (errno == ENOENT) {
			ret = 0;	/* no target: pushes are not configured */
			goto out;
		}
		sl_err_errno(err, "unable to read %s", key.buf);
		goto out;
	}
	sl_buf_rtrim(&target);
	if (names_check(app, stamp, err) < 0 || target_parse(&a, target.buf, err) < 0)
		goto out;
	conf_path(&kh, "known_hosts");
	conf_path(&key, "key");
	if (access(kh.buf, R_OK) < 0 || access(key.buf, R_OK) < 0) {
		sl_err_errno(err, "no pinned host key or no push key in %s (pair the nodes again)",
			     conf_dir());
		err->code = SL_EXIT_USAGE;
		goto out;
	}
	ini_fd = open_stored(app, stamp, "ini", err);
	if (ini_fd < 0)
		goto out;
	if (fstat(ini_fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > INI_MAX ||
	    sl_buf_read_fd(&ini, ini_fd) < 0) {
		sl_err_set(err, SL_EXIT_USAGE, "the record %s.ini of %s is not a readable file", stamp, app);
		goto out;
	}
	fd = open_stored(app, stamp, "tar.gz", err);
	if (fd < 0)
		goto out;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		sl_err_set(err, SL_EXIT_USAGE, "the backup %s.tar.gz of %s is not a file", stamp, app);
		goto out;
	}
	o.identity = key.buf;
	o.known_hosts = kh.buf;
	s = sl_ssh_connect(&a, &o, err);
	if (!s)
		goto out;
	/* the target's forced command runs whatever this says */
	ch = sl_ssh_exec(s, "sl-backup-receive", err);
	if (!ch)
		goto out;
	if (push_stream(ch, app, stamp, &ini, fd, st.st_size, err) == 0) {
		char b[512];
		ssize_t n;

		while ((n = sl_ssh_read(ch, b, sizeof(b), err)) > 0)
			if (answer.len < 4096)
				sl_buf_add(&answer, b, (size_t)n);
		if (n < 0)
			goto out;
	}
	/* refused half-way: the target's status says why, not the broken write */
	code = sl_ssh_finish(ch, &fin);
	ch = NULL;
	if (code < 0) {
		if (!err->code)
			sl_err_set(err, fin.code ? fin.code : SL_EXIT_TEMP, "%s", fin.msg.buf);
		goto out;
	}
	if (code) {
		sl_err_set(err, code == SL_EXIT_USAGE || code == SL_EXIT_TIMEOUT ? code : SL_EXIT_TEMP,
			   "%s did not store backup %s of %s (exit status %d)",
			   sl_ssh_name(s), stamp, app, code);
		goto out;
	}
	if (strncmp(answer.buf, "stored ", 7)) {
		sl_err_set(err, SL_EXIT_TEMP, "%s did not say it stored backup %s of %s",
			   sl_ssh_name(s), stamp, app);
		goto out;
	}
	ret = 0;
out:
	sl_err_release(&fin);
	if (ch)
		sl_ssh_finish(ch, NULL);
	sl_ssh_close(s);
	if (fd >= 0)
		close(fd);
	if (ini_fd >= 0)
		close(ini_fd);
	sl_ssh_addr_release(&a);
	sl_buf_release(&target);
	sl_buf_release(&key);
	sl_buf_release(&kh);
	sl_buf_release(&ini);
	sl_buf_release(&answer);
	return ret;
}

/* --- the target's side --- */

struct reader {
	int fd;
	char buf[CHUNK];
	size_t pos, len;
};

/* Fills R's buffer if empty: 1, 0 at EOF, -1 with ERR. */
static int fill(struct reader *r, struct sl_err *err)
{
	ssize_t n;

	if (r->pos < r->len)
		return 1;
	do
		n = read(r->fd, r->buf, sizeof(r->buf));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return sl_err_errno(err, "unable to read the stream");
	r->pos = 0;
	r->len = (size_t)n;
	return n > 0;
}

static int cut(struct sl_err *err)
{
	return sl_err_set(err, SL_EXIT_USAGE, "the stream was cut short: nothing was stored");
}

/* One line of at most 255 bytes into LINE, without its newline. */
static int read_line(struct reader *r, struct sl_buf *line, struct sl_err *err)
{
	int rc;

	sl_buf_reset(line);
	for (;;) {
		if ((rc = fill(r, err)) <= 0)
			return rc < 0 ? -1 : cut(err);
		if (r->buf[r->pos] == '\n') {
			r->pos++;
			return 0;
		}
		if (line->len >= 255)
			return sl_err_set(err, SL_EXIT_USAGE, "a line of the stream is too long");
		sl_buf_addch(line, r->buf[r->pos++]);
	}
}

/* The line "WORD VALUE": VALUE, or NULL with ERR. */
static const char *expect(struct reader *r, struct sl_buf *line, const char *word,
			  struct sl_err *err)
{
	size_t n = strlen(word);

	if (read_line(r, line, err) < 0)
		return NULL;
	if (line->len <= n || memcmp(line->buf, word, n) || line->buf[n] != ' ') {
		sl_err_set(err, SL_EXIT_USAGE, "the stream has no '%s' line where one belongs", word);
		return NULL;
	}
	return line->buf + n + 1;
}

static int parse_size(const char *s, long long max, long long *out, struct sl_err *err)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	if (!isdigit((unsigned char)*s) || *end || errno || *out > max)
		return sl_err_set(err, SL_EXIT_USAGE, "invalid size '%s' in the stream", s);
	return 0;
}

/*
 * Opens (making it 0700 if missing) the directory NAME in DIR, never
 * through a symbolic link, and makes sure it is ours alone.
 */
static int open_dir(int dir, const char *name, struct sl_err *err)
{
	struct stat st;
	int fd;

	if (mkdirat(dir, name, 0700) < 0 && errno != EEXIST)
		return sl_err_errno(err, "unable to make the directory %s", name);
	fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return sl_err_errno(err, "unable to open the directory %s", name);
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() ||
	    ((st.st_mode & 077) && fchmod(fd, 0700) < 0)) {
		close(fd);
		return sl_err_set(err, SL_EXIT_TEMP, "%s is not a directory of this user's alone", name);
	}
	return fd;
}

static int store_dir(const char *source, const char *app, struct sl_err *err)
{
	const char *names[] = { "backups", "received", source, app };
	int dir = open(sl_instance_root(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dir < 0)
		return sl_err_errno(err, "unable to open %s", sl_instance_root());
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		int next = open_dir(dir, names[i], err);

		close(dir);
		if (next < 0)
			return -1;
		dir = next;
	}
	return dir;
}

/*
 * Removes the .part files in DIR that a killed receive left: those whose
 * PID no longer runs. A receive still running keeps its own.
 */
static void remove_stale_parts(int dir)
{
	int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d))) {
		const char *p = e->d_name[0] == '.' ? strstr(e->d_name, ".part-") : NULL;
		char *end;
		long pid;

		if (!p)
			continue;
		pid = strtol(p + 6, &end, 10);
		if (*end || pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH))
			unlinkat(dir, e->d_name, 0);
	}
	closedir(d);
}

static int write_part(int dir, const char *name, const void *data, size_t len,
		      struct sl_err *err)
{
	int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return sl_err_errno(err, "unable to create %s", name);
	if (sl_file_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		sl_err_errno(err, "unable to write %s", name);
		close(fd);
		return -1;
	}
	return close(fd) < 0 ? sl_err_errno(err, "unable to write %s", name) : 0;
}

/* Copies SIZE bytes of R into the new file NAME in DIR, their SHA-256 into HEX. */
static int receive_archive(struct reader *r, int dir, const char *name, long long size,
			   char hex[65], struct sl_err *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char h[32];
	int fd, rc, ret = -1;

	fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || !md) {
		sl_err_errno(err, "unable to create %s", name);
		goto out;
	}
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	while (size > 0) {
		size_t n;

		if ((rc = fill(r, err)) <= 0) {
			if (rc == 0)
				cut(err);
			goto out;
		}
		n = r->len - r->pos;
		if ((long long)n > size)
			n = (size_t)size;
		EVP_DigestUpdate(md, r->buf + r->pos, n);
		if (sl_file_write_all(fd, r->buf + r->pos, n) < 0) {
			sl_err_errno(err, "unable to write %s", name);
			goto out;
		}
		r->pos += n;
		size -= (long long)n;
	}
	if (fsync(fd) < 0) {
		sl_err_errno(err, "unable to write %s", name);
		goto out;
	}
	EVP_DigestFinal_ex(md, h, NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	ret = 0;
out:
	EVP_MD_CTX_free(md);
	if (fd >= 0 && close(fd) < 0 && ret == 0)
		ret = sl_err_errno(err, "unable to write %s", name);
	return ret;
}

int sl_backup_receive(const char *source, int in_fd, struct sl_buf *stored,
		      struct sl_err *err)
{
	struct reader *r = sl_xcalloc(1, sizeof(*r));
	struct sl_buf line = SL_BUF_INIT, ini = SL_BUF_INIT, part = SL_BUF_INIT,
		ipart = SL_BUF_INIT, name = SL_BUF_INIT, iname = SL_BUF_INIT;
	char *app = NULL, *stamp = NULL, *rapp = NULL, *rsum = NULL, *rbytes = NULL;
	char hex[65];
	const char *v;
	long long n, size;
	int dir = -1, ret = -1, placed = 0;
	struct stat st;

	r->fd = in_fd;
	if (!sl_backup_push_source_valid(source)) {
		sl_err_set(err, SL_EXIT_USAGE, "invalid source '%s'", source);
		goto out;
	}
	if (read_line(r, &line, err) < 0)
		goto out;
	if (strcmp(line.buf, MAGIC)) {
		sl_err_set(err, SL_EXIT_USAGE, "not a backup push: the stream must start with '" MAGIC "'");
		goto out;
	}
	if (!(v = expect(r, &line, "app", err)))
		goto out;
	app = sl_xstrdup(v);
	if (!(v = expect(r, &line, "stamp", err)))
		goto out;
	stamp = sl_xstrdup(v);
	if (names_check(app, stamp, err) < 0)
		goto out;
	if (!(v = expect(r, &line, "ini", err)) || parse_size(v, INI_MAX, &n, err) < 0)
		goto out;
	while (ini.len < (size_t)n) {
		size_t k;
		int rc = fill(r, err);

		if (rc <= 0) {
			if (rc == 0)
				cut(err);
			goto out;
		}
		k = r->len - r->pos;
		if (k > (size_t)n - ini.len)
			k = (size_t)n - ini.len;
		sl_buf_add(&ini, r->buf + r->pos, k);
		r->pos += k;
	}
	for (size_t i = 0; i < ini.len; i++)
		if ((unsigned char)ini.buf[i] < ' ' && ini.buf[i] != '\n' && ini.buf[i] != '\t') {
			sl_err_set(err, SL_EXIT_USAGE, "the record of %s %s is not text", app, stamp);
			goto out;
		}
	rapp = record_value(ini.buf, ini.len, "app");
	rsum = record_value(ini.buf, ini.len, "sha256");
	rbytes = record_value(ini.buf, ini.len, "bytes");
	if (!rapp || strcmp(rapp, app)) {
		sl_err_set(err, SL_EXIT_USAGE, "the record of %s %s names another app (app=%s)",
			   app, stamp, rapp ? rapp : "");
		goto out;
	}
	if (!is_hex64(rsum) || !rbytes || parse_size(rbytes, ARCHIVE_MAX, &size, err) < 0) {
		sl_err_set(err, SL_EXIT_USAGE, "the record of %s %s has no valid sha256= and bytes=",
			   app, stamp);
		goto out;
	}
	if (!(v = expect(r, &line, "archive", err)) || parse_size(v, ARCHIVE_MAX, &n, err) < 0)
		goto out;
	if (n != size) {
		sl_err_set(err, SL_EXIT_USAGE, "the archive of %s %s is %lld bytes; its record says %lld",
			   app, stamp, n, size);
		goto out;
	}
	dir = store_dir(source, app, err);
	if (dir < 0)
		goto out;
	sl_buf_addf(&name, "%s.tar.gz", stamp);
	sl_buf_addf(&iname, "%s.ini", stamp);
	if (fstatat(dir, iname.buf, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
	    fstatat(dir, name.buf, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		sl_err_set(err, SL_EXIT_USAGE, "%s/%s/%s was received already: nothing was replaced",
			   source, app, stamp);
		goto out;
	}
	remove_stale_parts(dir);
	sl_buf_addf(&part, ".%s.part-%ld", name.buf, (long)getpid());
	sl_buf_addf(&ipart, ".%s.part-%ld", iname.buf, (long)getpid());
	if (receive_archive(r, dir, part.buf, size, hex, err) < 0)
		goto out;
	if (strcmp(hex, rsum)) {
		sl_err_set(err, SL_EXIT_USAGE,
			   "the archive of %s %s is not the one its record names (sha256 %s, not %s): nothing was stored",
			   app, stamp, hex, rsum);
		goto out;
	}
	if (read_line(r, &line, err) < 0)
		goto out;
	if (strcmp(line.buf, "end") || fill(r, err) != 0) {
		if (!err->code)
			sl_err_set(err, SL_EXIT_USAGE, "the stream does not end where it should");
		goto out;
	}
	if (write_part(dir, ipart.buf, ini.buf, ini.len, err) < 0)
		goto out;
	if (renameat2(dir, part.buf, dir, name.buf, RENAME_NOREPLACE) < 0) {
		sl_err_errno(err, "unable to store %s", name.buf);
		goto out;
	}
	placed = 1;
	if (renameat2(dir, ipart.buf, dir, iname.buf, RENAME_NOREPLACE) < 0) {
		sl_err_errno(err, "unable to store %s", iname.buf);
		goto out;
	}
	placed = 2;
	if (fsync(dir) < 0) {
		sl_err_errno(err, "unable to sync the received backups of %s", app);
		goto out;
	}
	sl_buf_addf(stored, "%s/%s/%s", source, app, stamp);
	ret = 0;
out:
	if (dir >= 0) {
		if (ret < 0 && placed < 2) {
			unlinkat(dir, part.buf, 0);
			unlinkat(dir, ipart.buf, 0);
			if (placed == 1)
				unlinkat(dir, name.buf, 0);
		}
		close(dir);
	}
	free(r);
	free(app);
	free(stamp);
	free(rapp);
	free(rsum);
	free(rbytes);
	sl_buf_release(&line);
	sl_buf_release(&ini);
	sl_buf_release(&part);
	sl_buf_release(&ipart);
	sl_buf_release(&name);
	sl_buf_release(&iname);
	return ret;
}

int sl_backup_receive_authorize(const char *source, const char *pub,
				const char *authorized_keys, struct sl_err *err)
{
	struct sl_buf old = SL_BUF_INIT, out = SL_BUF_INIT, opts = SL_BUF_INIT,
		dir = SL_BUF_INIT;
	unsigned char blob[256];
	const char *b64, *e, *p;
	int n, ret = -1;
	char *slash;

	if (!sl_backup_push_source_valid(source))
		return sl_err_set(err, SL_EXIT_USAGE, "invalid source '%s'", source);
	if (strncmp(pub, "ssh-ed25519 ", 12))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "the source's key is not one 'ssh-ed25519 BASE64' line");
	b64 = pub + 12;
	e = b64 + strcspn(b64, " \n");
	if ((*e == ' ' && strchr(e, '\n') && strchr(e, '\n')[1]) ||
	    (*e == '\n' && e[1]) || e - b64 > 120 || !is_base64(b64, (size_t)(e - b64)) ||
	    (n = EVP_DecodeBlock(blob, (const unsigned char *)b64, (int)(e - b64))) < 51 ||
	    memcmp(blob, "\0\0\0\013ssh-ed25519\0\0\0\040", 19))
		return sl_err_set(err, SL_EXIT_USAGE,
				  "the source's key is not one 'ssh-ed25519 BASE64' line");
	sl_buf_addf(&opts, "restrict,command=\"sl-backup-receive %s\" ", source);
	if (sl_buf_read_file(&old, authorized_keys) < 0 && errno != ENOENT) {
		sl_err_errno(err, "unable to read %s", authorized_keys);
		goto out;
	}
	for (p = old.buf; p && *p; ) {
		const char *nl = strchrnul(p, '\n');

		if ((size_t)(nl - p) < opts.len || memcmp(p, opts.buf, opts.len)) {
			sl_buf_add(&out, p, (size_t)(nl - p));
			sl_buf_addch(&out, '\n');
		}
		p = *nl ? nl + 1 : nl;
	}
	sl_buf_add(&out, opts.buf, opts.len);
	sl_buf_addf(&out, "ssh-ed25519 %.*s silverlining-backup-push-from-%s\n",
		    (int)(e - b64), b64, source);
	sl_buf_adds(&dir, authorized_keys);
	slash = strrchr(dir.buf, '/');
	if (slash && slash != dir.buf) {
		*slash = '\0';
		if (sl_file_mkdirs(dir.buf, 0700, err) < 0)
			goto out;
	}
	if (sl_file_write(authorized_keys, out.buf, out.len, 0600, SL_FILE_REPLACE, err) < 0)
		goto out;
	ret = 0;
out:
	sl_buf_release(&old);
	sl_buf_release(&out);
	sl_buf_release(&opts);
	sl_buf_release(&dir);
	return ret;
}
