/*
 * silverlining — fuzzing the receiver of uploads (libsl/instance.c), the
 * node side of sl-sync (sl-sync --server APP): the input is the whole
 * stream a laptop sends, "manifest BYTES\n", the manifest, the needed
 * files' contents and "end\n" (instance.h). It is read from a memfd into
 * a state root of the harness's own, where the app "blog" has one
 * instance already, so unchanged files are linked from it.
 *
 * A seed for it is made from an app directory by the same code sl-sync
 * runs (sl_manifest_scan and sl_manifest_encode):
 *
 *	FUZZ_SEED=APPDIR build/fuzz/bin/receive > fuzz/corpus/receive/NAME
 *
 * (FUZZ_SEED=:base: the base instance again, every file linked.)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../libsl/file.h"
#include "../libsl/instance.h"
#include "../libsl/manifest.h"
#include "fuzz.h"

#define APP "blog"

/* The instance the node has before each input. */
static const struct {
	const char *path, *text;
} base[] = {
	{ "app.ini", "[production]\napp_name = blog\nrunner = app.py\n" },
	{ "app.py", "def application(environ, start_response):\n"
		    "    start_response('200 OK', [])\n    return [b'hi']\n" },
	{ "static/site.css", "body { margin: 0 }\n" },
};

static struct sl_buf root = SL_BUF_INIT, instances = SL_BUF_INIT, src = SL_BUF_INIT;
static struct sl_buf index_text = SL_BUF_INIT;
static struct sl_manifest have = SL_MANIFEST_INIT;
static int devnull = -1;

static void die(const char *what, const struct sl_err *err)
{
	fprintf(stderr, "fuzz receive: %s: %s\n", what, err ? err->msg.buf : "");
	abort();
}

/* Whether the node has a file with E's content and mode: it is linked. */
static int node_has(const struct sl_manifest_entry *e)
{
	for (size_t i = 0; i < have.n; i++)
		if (have.v[i].type == SL_MANIFEST_FILE && have.v[i].mode == e->mode &&
		    !memcmp(have.v[i].hash, e->hash, SL_MANIFEST_HASH_LEN))
			return 1;
	return 0;
}

/* The stream sl-sync sends for the app in DIR to a node holding HAVE. */
static void upload_stream(const char *dir, struct sl_buf *out)
{
	struct sl_ignore ign = SL_IGNORE_INIT;
	struct sl_manifest m = SL_MANIFEST_INIT;
	struct sl_strv skipped = SL_STRV_INIT;
	struct sl_buf wire = SL_BUF_INIT, path = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;

	if (sl_ignore_load(&ign, dir, &err) < 0 ||
	    sl_manifest_scan(&m, dir, &ign, &skipped, &err) < 0)
		die(dir, &err);
	sl_manifest_encode(&m, &wire);
	sl_buf_addf(out, "manifest %zu\n", wire.len);
	sl_buf_add(out, wire.buf, wire.len);
	for (size_t i = 0; i < m.n; i++) {
		if (m.v[i].type != SL_MANIFEST_FILE || node_has(&m.v[i]))
			continue;
		sl_buf_reset(&path);
		sl_buf_addf(&path, "%s/%s", dir, m.v[i].path);
		if (sl_buf_read_file(out, path.buf) < 0)
			die(path.buf, NULL);
	}
	sl_buf_adds(out, "end\n");
	sl_ignore_release(&ign);
	sl_manifest_release(&m);
	sl_strv_clear(&skipped);
	sl_buf_release(&wire);
	sl_buf_release(&path);
}

/* Runs the receiver on DATA; 0 with *NAME set, or -1. */
static int receive(const uint8_t *data, size_t size, char **name)
{
	struct sl_err err = SL_ERR_INIT;
	int fd = memfd_create("upload", MFD_CLOEXEC), ret;

	if (fd < 0 || sl_file_write_all(fd, data, size) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		die("memfd", NULL);
	ret = sl_instance_receive(root.buf, APP, fd, devnull, name, &err);
	close(fd);
	sl_err_release(&err);
	return ret;
}

/* The state root, with the base instance received and its index kept. */
static void setup(void)
{
	struct sl_buf stream = SL_BUF_INIT, path = SL_BUF_INIT;
	struct sl_err err = SL_ERR_INIT;
	char *name = NULL;

	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	sl_buf_addf(&root, "%s/root", fuzz_dir());
	sl_buf_addf(&instances, "%s/instances", root.buf);
	sl_buf_addf(&src, "%s/base", fuzz_dir());
	for (size_t i = 0; i < sizeof(base) / sizeof(*base); i++) {
		sl_buf_reset(&path);
		sl_buf_addf(&path, "%s/%s", src.buf, base[i].path);
		*strrchr(path.buf, '/') = '\0';
		if (sl_file_mkdirs(path.buf, 0755, &err) < 0)
			die(path.buf, &err);
		fuzz_write(src.buf, base[i].path, (const uint8_t *)base[i].text,
			   strlen(base[i].text));
	}
	upload_stream(src.buf, &stream);
	if (receive((const uint8_t *)stream.buf, stream.len, &name) < 0)
		die("the base instance was refused", NULL);
	sl_buf_reset(&path);
	sl_buf_addf(&path, "%s/.index-" APP, instances.buf);
	if (sl_buf_read_file(&index_text, path.buf) < 0)
		die(path.buf, NULL);
	{
		struct sl_ignore ign = SL_IGNORE_INIT;
		struct sl_strv skipped = SL_STRV_INIT;

		if (sl_manifest_scan(&have, src.buf, &ign, &skipped, &err) < 0)
			die(src.buf, &err);
		sl_strv_clear(&skipped);
	}
	free(name);
	sl_buf_release(&stream);
	sl_buf_release(&path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *seed = getenv("FUZZ_SEED");

	(void)argc;
	(void)argv;
	setup();
	if (seed) {
		struct sl_buf stream = SL_BUF_INIT;
		char *name = NULL;

		upload_stream(strcmp(seed, ":base") ? seed : src.buf, &stream);
		/* a seed the receiver refuses would only test its first checks */
		if (receive((const uint8_t *)stream.buf, stream.len, &name) < 0)
			die("the receiver refused the seed", NULL);
		if (sl_file_write_all(1, stream.buf, stream.len) < 0)
			die("stdout", NULL);
		exit(0);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_err err = SL_ERR_INIT;
	char *name = NULL;
	int dfd;

	if (receive(data, size, &name) < 0)
		return 0;
	/* back to the base instance alone, with its index */
	dfd = open(instances.buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || sl_file_remove_tree(dfd, name, &err) < 0)
		die(name, &err);
	close(dfd);
	fuzz_write(instances.buf, ".index-" APP, (const uint8_t *)index_text.buf,
		   index_text.len);
	free(name);
	sl_err_release(&err);
	return 0;
}
