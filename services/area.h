/* silverlining — the area services: a directory an app keeps across instances. */
#ifndef SL_SERVICE_AREA_H
#define SL_SERVICE_AREA_H

#include "service.h"

/*
 * An area is ROOT/apps/APP/SUB, owned by the app's user with MODE: files
 * (0700, the app's alone) and writable-root (0755, nginx serves it). Its
 * backup is DIR/area.tar; a restore empties it first.
 */
struct sl_area {
	const char *sub;	/* "files" */
	const char *var;	/* "CONFIG_FILES" */
	mode_t mode;
};

int sl_area_setup(const struct sl_area *k, const struct sl_svc_app *a, struct sl_err *err);
int sl_area_env(const struct sl_area *k, const struct sl_svc_app *a,
		struct sl_strv *vars, struct sl_err *err);
int sl_area_backup(const struct sl_area *k, const struct sl_svc_app *a,
		   const char *dir, struct sl_err *err);
int sl_area_restore(const struct sl_area *k, const struct sl_svc_app *a,
		    const char *dir, struct sl_err *err);
int sl_area_clear(const struct sl_area *k, const struct sl_svc_app *a, struct sl_err *err);

#endif
