/* silverlining — what the fuzz harnesses share. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../libsl/buf.h"
#include "../libsl/file.h"
#include "fuzz.h"

static char *dir;

static void remove_dir(void)
{
	sl_file_remove_tree(AT_FDCWD, dir, NULL);
}

const char *fuzz_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	struct sl_buf b = SL_BUF_INIT;

	if (dir)
		return dir;
	/* a memory file system where there is one: the receiver syncs */
	if (!tmp || !*tmp)
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	sl_buf_addf(&b, "%s/sl-fuzz.XXXXXX", tmp);
	dir = sl_buf_detach(&b, NULL);
	if (!mkdtemp(dir)) {
		perror("fuzz: unable to make a temporary directory");
		abort();
	}
	atexit(remove_dir);
	return dir;
}

void fuzz_write(const char *d, const char *name, const uint8_t *data,
		size_t size)
{
	struct sl_buf path = SL_BUF_INIT;
	int fd;

	sl_buf_addf(&path, "%s/%s", d, name);
	fd = open(path.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || sl_file_write_all(fd, data, size) < 0 || close(fd) < 0) {
		perror(path.buf);
		abort();
	}
	sl_buf_release(&path);
}
