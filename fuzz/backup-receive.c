/*
 * silverlining — fuzzing the target's end of a backup push
 * (libsl/backup-push.c, sl-backup-receive SOURCE): the input is the whole
 * stream a source sends (backup-push.h). It is read from a memfd into a
 * state root of the harness's own. Whatever the input, nothing may be
 * written outside ROOT/backups/received/src/, and what is stored must be a
 * STAMP.tar.gz whose SHA-256 its STAMP.ini names; the store is emptied
 * after each input.
 */
#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../libsl/backup-push.h"
#include "../libsl/file.h"
#include "../libsl/instance.h"
#include "fuzz.h"

static struct sl_buf root = SL_BUF_INIT;

/* Whether the archive SRC/APP/STAMP stored has the hash its record names. */
static int whole(const char *stored)
{
	struct sl_buf a = SL_BUF_INIT, ini = SL_BUF_INIT, path = SL_BUF_INIT;
	unsigned char h[32];
	char hex[65], *at;
	int ok;

	sl_buf_addf(&path, "%s/backups/received/%s.tar.gz", root.buf, stored);
	if (sl_buf_read_file(&a, path.buf) < 0)
		abort();
	sl_buf_setlen(&path, path.len - 7);
	sl_buf_adds(&path, ".ini");
	if (sl_buf_read_file(&ini, path.buf) < 0)
		abort();
	EVP_Digest(a.buf, a.len, h, NULL, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	at = strstr(ini.buf, hex);
	ok = at != NULL;
	sl_buf_release(&a);
	sl_buf_release(&ini);
	sl_buf_release(&path);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_err err = SL_ERR_INIT;
	struct sl_buf stored = SL_BUF_INIT;
	int fd, rootfd;
	DIR *d;
	struct dirent *e;

	if (!root.len) {
		sl_buf_addf(&root, "%s/root", fuzz_dir());
		if (sl_file_mkdirs(root.buf, 0700, NULL) < 0)
			abort();
		setenv("SL_ROOT", root.buf, 1);
	}
	fd = memfd_create("push", MFD_CLOEXEC);
	if (fd < 0 || sl_file_write_all(fd, data, size) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		abort();
	if (sl_backup_receive("src", fd, &stored, &err) == 0) {
		if (strncmp(stored.buf, "src/", 4) || !whole(stored.buf))
			abort();
	} else if (err.code != 100 && err.code != 111) {
		abort();
	}
	close(fd);
	/* the root holds backups/ alone, backups/ received/ alone, that src/ alone */
	rootfd = open(root.buf, O_RDONLY | O_DIRECTORY);
	d = fdopendir(rootfd);
	if (!d)
		abort();
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "backups"))
			abort();
	closedir(d);
	rootfd = open(root.buf, O_RDONLY | O_DIRECTORY);
	if (sl_file_remove_tree(rootfd, "backups", NULL) < 0)
		abort();
	close(rootfd);
	sl_err_release(&err);
	sl_buf_release(&stored);
	return 0;
}
