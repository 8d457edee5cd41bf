/* silverlining — sl-service-writable_root: files served publicly before the app. */
#include "../libsl/service-area.h"

/* 0755: nginx serves it, after static/ and before the app */
static const struct sl_service_area writable_root = { "writable-root", "CONFIG_WRITABLE_ROOT", 0755 };

int main(int argc, char **argv)
{
	return sl_service_area_main(argc, argv, "writable_root", &writable_root);
}
