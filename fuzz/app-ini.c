/* silverlining — fuzzing the app.ini parser (libsl/app.c, libsl/ini.c). */
#include "../libsl/app.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_app app = SL_APP_INIT;
	struct sl_err err = SL_ERR_INIT;
	const char *dir = fuzz_dir();

	fuzz_write(dir, "app.ini", data, size);
	sl_app_load(&app, dir, &err);
	sl_app_release(&app);
	sl_err_release(&err);
	return 0;
}
