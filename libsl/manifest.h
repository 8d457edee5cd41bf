/* silverlining — the manifest of an app tree: what sl-sync compares and sends. */
#ifndef SL_MANIFEST_H
#define SL_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "strv.h"

/*
 * A manifest lists every entry of an app tree that is uploaded: its
 * relative path ('/'-separated, no "." or ".." parts), its type, a
 * normalised mode (only the executable bit of files survives), its size
 * and, for files, the SHA-256 of the content; for symlinks, the target.
 * Parents always come before what they hold.
 *
 * On the wire a manifest is a sequence of records of six NUL-terminated
 * fields: TYPE MODE(octal) SIZE(decimal) HASH(hex, files only) PATH
 * TARGET(symlinks only). NUL-terminated fields let any name through that
 * the receiver accepts: spaces, UTF-8, quotes. Names with control
 * characters (newlines included) are refused on both sides.
 */

enum sl_manifest_type {
	SL_MANIFEST_DIR = 'd',
	SL_MANIFEST_FILE = 'f',
	SL_MANIFEST_LINK = 'l',
};

#define SL_MANIFEST_HASH_LEN 32

struct sl_manifest_entry {
	char *path;
	char *target;		/* symlinks: the link's text; else NULL */
	uint64_t size;		/* files: bytes; symlinks: target length; dirs: 0 */
	unsigned mode;		/* dirs 0755, files 0644 or 0755, symlinks 0777 */
	char type;		/* enum sl_manifest_type */
	unsigned char hash[SL_MANIFEST_HASH_LEN];
};

struct sl_manifest {
	struct sl_manifest_entry *v;
	size_t n, alloc;
	uint64_t file_bytes;	/* sum of the files' sizes */
	size_t files;
};
#define SL_MANIFEST_INIT { NULL, 0, 0, 0, 0 }

/* What a receiver accepts; a manifest beyond these is refused. */
struct sl_manifest_limits {
	size_t max_entries;
	uint64_t max_file;
	uint64_t max_total;
	size_t max_path;
	size_t max_depth;
};
extern const struct sl_manifest_limits sl_manifest_default_limits;

/*
 * The largest wire form read from the other side: what the node reads
 * from the laptop, and silver diff from the node. Larger is refused
 * before any of it is read.
 */
#define SL_MANIFEST_MAX_WIRE ((size_t)64 << 20)

/*
 * What is left out of an upload: version-control directories, Python
 * caches, editor and backup files, the top-level silver-logs/, and the
 * patterns of an optional .silverignore at the app's root (one per line,
 * '#' comments; a pattern with a '/' matches the path from the root, one
 * without matches any name; a trailing '/' matches directories only;
 * shell wildcards as fnmatch(3)).
 */
struct sl_ignore {
	struct sl_strv patterns;
};
#define SL_IGNORE_INIT { SL_STRV_INIT }

/* Reads DIR/.silverignore if there is one. -1 with ERR on a read error. */
int sl_ignore_load(struct sl_ignore *ign, const char *dir, struct sl_err *err);

/* Whether PATH (relative; ISDIR tells its type) is left out. */
int sl_ignore_match(const struct sl_ignore *ign, const char *path, int isdir);

void sl_ignore_release(struct sl_ignore *ign);

/*
 * Walks DIR into M, hashing every file. Refused (100): a name with
 * control characters, a symlink pointing outside the tree or absolute,
 * the reserved top-level .silverlining. Devices, fifos and sockets are
 * skipped and named in SKIPPED. -1 with ERR set.
 */
int sl_manifest_scan(struct sl_manifest *m, const char *dir,
		     const struct sl_ignore *ign, struct sl_strv *skipped,
		     struct sl_err *err);

/* Appends M's wire form to OUT. */
void sl_manifest_encode(const struct sl_manifest *m, struct sl_buf *out);

/*
 * Parses a wire form into M and checks it as a receiver must: every path
 * valid (sl_manifest_path_valid), no duplicates, parents listed before
 * their entries and being directories, symlinks staying inside the tree,
 * modes and sizes sane, LIMITS respected. -1 with ERR (code 100).
 */
int sl_manifest_decode(struct sl_manifest *m, const char *data, size_t len,
		       const struct sl_manifest_limits *limits, struct sl_err *err);

/*
 * Whether PATH is a safe relative name: not empty, no leading or trailing
 * '/', no empty, "." or ".." component, no control character, no
 * component longer than 255 bytes, not the reserved ".silverlining".
 */
int sl_manifest_path_valid(const char *path);

/*
 * Whether a symlink at PATH with text TARGET resolves, lexically, to a
 * place inside the tree (absolute targets never do). Lexical is not
 * enough when other symlinks are on the way: see sl_manifest_check_links.
 */
int sl_manifest_link_inside(const char *path, const char *target);

/*
 * Resolves every symlink of M in the real tree at DIRFD, following other
 * symlinks on the way, and refuses (100) one whose resolution leaves the
 * tree (a chain like d/s -> .. makes "d/s/d/s/../../etc" escape though
 * each text looks inside) or loops, and one whose text goes up ("..")
 * from a name that does not resolve to a directory beneath DIRFD: a
 * -> b/../../../etc with no b looks inside, but leads wherever a b made
 * later points. A link to a name that does not exist is allowed. -1 with
 * ERR set (100 for a refused link).
 */
int sl_manifest_check_links(const struct sl_manifest *m, int dirfd,
			    struct sl_err *err);

/* Index of PATH in M (entries sorted as scanned), or -1. Linear. */
long sl_manifest_find(const struct sl_manifest *m, const char *path);

/* SHA-256 as 64 lowercase hex digits into OUT (65 bytes with the NUL). */
void sl_manifest_hex(const unsigned char *hash, char *out);

void sl_manifest_release(struct sl_manifest *m);

#endif
