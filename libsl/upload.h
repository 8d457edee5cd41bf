/* silverlining — the laptop side of sl-sync: send an app as a new instance. */
#ifndef SL_UPLOAD_H
#define SL_UPLOAD_H

#include <stdint.h>

#include "err.h"
#include "manifest.h"
#include "ssh.h"

/* Called as bytes go out; DONE is set on the last call. */
struct sl_upload_progress {
	void (*fn)(void *ctx, uint64_t bytes, size_t files, int done);
	void *ctx;
};

/*
 * Uploads the app in APPDIR, whose manifest is M, as a new instance of
 * APP over S: runs `sl-sync --server APP` on the node (with SL_ROOT=ROOT
 * before it when ROOT is not NULL), sends the manifest, then the
 * contents of the files the node lacks (instance.h has the protocol).
 * Returns 0 with *INSTANCE set (the caller frees it), or -1 with ERR
 * set; when the node refused, ERR carries the node's exit code, and the
 * node's own message has gone to stderr.
 */
int sl_upload(struct sl_ssh *s, const char *appdir, const char *app,
	      const struct sl_manifest *m, const char *root,
	      const struct sl_upload_progress *progress, char **instance,
	      struct sl_err *err);

#endif
