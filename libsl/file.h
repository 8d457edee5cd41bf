/* silverlining — files written safely. */
#ifndef SL_FILE_H
#define SL_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/*
 * Creates directory PATH and its missing parents with MODE (existing
 * ones are left as they are). Returns 0, or -1 with ERR set.
 */
int sl_file_mkdirs(const char *path, mode_t mode, struct sl_err *err);

enum {
	SL_FILE_REPLACE = 0,	/* rename over an existing PATH */
	SL_FILE_EXCL = 1,	/* keep an existing PATH; return 1 */
};

/*
 * Writes DATA to PATH all or nothing: a temporary file beside PATH with
 * MODE (never wider, whatever the umask), fsynced, then renamed into
 * place (SL_FILE_REPLACE) or linked only if PATH does not exist yet
 * (SL_FILE_EXCL: when two writers race, the first one wins and the other
 * gets 1). The directory is fsynced. Returns 0 (written), 1 (PATH
 * existed and EXCL was asked), or -1 with ERR set.
 */
int sl_file_write(const char *path, const void *data, size_t len, mode_t mode,
		  int flags, struct sl_err *err);

/*
 * Writes all LEN bytes of DATA to FD, across short writes and EINTR.
 * 0, or -1 with errno.
 */
int sl_file_write_all(int fd, const void *data, size_t len);

/*
 * Appends to OUT the absolute form of PATH (from the working directory
 * when relative) with ".", ".." and repeated slashes taken out by their
 * text alone, symlinks left as named (realpath -s). -1 with ERR.
 */
int sl_file_abspath(struct sl_buf *out, const char *path, struct sl_err *err);

/* Appends to OUT the absolute, symlink-free form of PATH. -1 with ERR. */
int sl_file_realpath(struct sl_buf *out, const char *path, struct sl_err *err);

/*
 * Removes NAME beneath the directory DIRFD and everything under it,
 * never following a symlink. Returns 0 (also when NAME did not exist),
 * or -1 with ERR set.
 */
int sl_file_remove_tree(int dirfd, const char *name, struct sl_err *err);

/* The home directory: $HOME, else the password database. NULL if none. */
const char *sl_file_home(void);

#endif
