/* silverlining — the exit-code table: the code an errno value deserves. */
#include <errno.h>

#include "exit.h"

int sl_exit_from_errno(int err)
{
	switch (err) {
	case ENOENT: case ENOTDIR: case EACCES: case EPERM: case EISDIR:
	case ELOOP: case ENAMETOOLONG: case EINVAL: case EEXIST:
	case ENOTEMPTY: case EROFS: case EXDEV:
		return SL_EXIT_USAGE;
	default:
		return SL_EXIT_TEMP;
	}
}
