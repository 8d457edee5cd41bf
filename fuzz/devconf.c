/*
 * silverlining — fuzzing the development config (libsl/devconf.c): the
 * input is ~/.silverlining.conf, read as sl-service-mysql env --devel
 * my-blog reads it (the database keys, APP_NAME becoming my_blog). No
 * value it gives may hold APP_NAME still.
 */
#include <stdlib.h>
#include <string.h>

#include "../libsl/devconf.h"
#include "../libsl/service-db.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_devconf dc = SL_DEVCONF_INIT;
	struct sl_err err = SL_ERR_INIT;
	static int once;

	if (!once) {
		const char *dir = fuzz_dir();
		struct sl_buf path = SL_BUF_INIT;

		sl_buf_addf(&path, "%s/silverlining.conf", dir);
		setenv("SL_CONF", path.buf, 1);
		sl_buf_release(&path);
		once = 1;
	}
	fuzz_write(fuzz_dir(), "silverlining.conf", data, size);
	if (sl_devconf_load(&dc, "my-blog", "my_blog", "mysql",
			    sl_service_db_devel_keys, &err) == 0)
		for (size_t i = 0; sl_service_db_devel_keys[i]; i++) {
			const char *v = sl_devconf_get(&dc, sl_service_db_devel_keys[i]);

			if (v && strstr(v, "APP_NAME"))
				abort();
		}
	sl_devconf_release(&dc);
	sl_err_release(&err);
	return 0;
}
