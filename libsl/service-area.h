/* silverlining — the area services: a directory an app keeps across instances. */
#ifndef SL_SERVICE_AREA_H
#define SL_SERVICE_AREA_H

#include "service.h"

/*
 * An area is ROOT/apps/APP/SUB, owned by the app's user with MODE: files
 * (0700, the app's alone) and writable-root (0755, nginx serves it). Its
 * backup is DIR/area.tar, made by tar as the app's user. A restore unpacks
 * it, as the app's user, beside the area (ROOT/apps/APP/.SUB.restore) and
 * swaps it in by one rename: on any failure the area is as it was.
 */
struct sl_service_area {
	const char *sub;	/* "files" */
	const char *var;	/* "CONFIG_FILES" */
	mode_t mode;
};

/*
 * The whole service for area K, named NAME: its devel side
 * (~/.silverlining/SUB/APP, or NAME.dir) and its node side. An area
 * executable is its struct sl_service_area and a main calling this.
 */
int sl_service_area_main(int argc, char **argv, const char *name, const struct sl_service_area *k);

#endif
