/* silverlining — sl-service-files: a directory the app may write, kept across instances. */
#include "../libsl/service-area.h"

static const struct sl_service_area files = { "files", "CONFIG_FILES", 0700 };

int main(int argc, char **argv)
{
	return sl_service_area_main(argc, argv, "files", &files);
}
