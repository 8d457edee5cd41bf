/*
 * silverlining — fuzzing .silverignore (libsl/manifest.c, sl_ignore_*):
 * the input is the file, loaded as sl-sync loads it, then matched with
 * names of every shape a tree scan passes it.
 */
#include "../libsl/manifest.h"
#include "fuzz.h"

static const char *const paths[] = {
	"app.ini", "main.py", "static", "static/style.css", "lib/python/x/__init__.py",
	"silver-logs", "lib/silver-logs", "docs/build/index.html", ".git",
	"a b/ü.txt", "#x#", ".#lock", "deep/a/b/c/d/e/f/g/h", "*", "[a-", NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_ignore ign = SL_IGNORE_INIT;
	struct sl_err err = SL_ERR_INIT;
	const char *dir = fuzz_dir();

	fuzz_write(dir, ".silverignore", data, size);
	if (sl_ignore_load(&ign, dir, &err) == 0)
		for (size_t i = 0; paths[i]; i++) {
			sl_ignore_match(&ign, paths[i], 0);
			sl_ignore_match(&ign, paths[i], 1);
		}
	sl_ignore_release(&ign);
	sl_err_release(&err);
	return 0;
}
