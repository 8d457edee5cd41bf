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

/*
 * The same, asking the node to name the instance AS (NULL: the node's
 * next name): `sl-sync --server --as AS APP`, which the node refuses
 * (100) when AS is taken or not newer than its instances of APP. A node
 * that answers another name is an error (111).
 */
int sl_upload_as(struct sl_ssh *s, const char *appdir, const char *app, const char *as,
		 const struct sl_manifest *m, const char *root,
		 const struct sl_upload_progress *progress, char **instance,
		 struct sl_err *err);

/*
 * Runs WORDS (a NULL-terminated list: a tool of the node and its
 * arguments, each quoted for the node's shell) on the node over S, with
 * SL_ROOT=ROOT before it when ROOT is not NULL; its stdout and stderr
 * are copied to ours. Returns its exit status, or -1 with ERR set.
 */
int sl_upload_command(struct sl_ssh *s, const char *root, const char *const *words,
		      struct sl_err *err);

/*
 * Uploads the deployment config in DIR (manifest M) as INSTANCE's:
 * `sl-sync --server --config INSTANCE` on the node. 0, or -1 with ERR.
 */
int sl_upload_config(struct sl_ssh *s, const char *dir, const char *instance,
		     const struct sl_manifest *m, const char *root,
		     struct sl_err *err);

/*
 * Switches LOCATIONS (a NULL-terminated list) to INSTANCE over S, the
 * session that uploaded it, so the switch costs no second connection:
 * runs `sl-activate [OPTION...] INSTANCE LOCATION...` on the node (with
 * SL_ROOT=ROOT before it when ROOT is not NULL), its stdout and stderr
 * copied to ours. OPTIONS is a NULL-terminated list of sl-activate's
 * words ("--clear", "--acme-directory", URL, "--hsts"...), each quoted
 * for the node's shell. Returns its exit status, or -1 with ERR set.
 */
int sl_upload_activate(struct sl_ssh *s, const char *instance,
		       char *const *locations, char *const *options,
		       const char *root, struct sl_err *err);

/*
 * The deployed side of silver diff: the instance serving a location, and
 * the old content of some of its files.
 */
struct sl_upload_tree {
	struct sl_ssh_chan *c;
	struct chan_reader *r;
	char *instance;			/* the instance serving the location */
	struct sl_manifest m;		/* its manifest */
};
#define SL_UPLOAD_TREE_INIT { NULL, NULL, NULL, SL_MANIFEST_INIT }

/*
 * Asks the node for the instance at LOCATION and its manifest (runs
 * `sl-sync --server --show-at LOCATION`: one process, which looks the
 * location up in the node's routes, sl_routes_instance_at). Lines
 * longer than 4096 bytes and a manifest over SL_MANIFEST_MAX_WIRE are refused
 * before they are read, and the manifest is checked as a receiver checks
 * one (sl_manifest_decode). 1 with T filled, 0 when nothing is deployed
 * there, -1 with ERR set (111 for a node that answers out of bounds).
 */
int sl_upload_tree_open(struct sl_ssh *s, const char *location, const char *root,
		 struct sl_upload_tree *t, struct sl_err *err);

/*
 * Fetches the content of each of PATHS (files of T's manifest) into
 * CONTENTS[i], setting PRESENT[i]; once per open tree. Nothing the node
 * says is believed: a size other than the manifest's for that path, or
 * over MAX_SIZE, is refused before any of the content is read. 0, or -1
 * with ERR (111 for a node that answers out of bounds or out of turn).
 */
int sl_upload_tree_fetch(struct sl_upload_tree *t, const struct sl_strv *paths,
		  uint64_t max_size, struct sl_buf *contents, int *present,
		  struct sl_err *err);

/* Ends the node's side and frees T: its exit status, or -1 with ERR. */
int sl_upload_tree_close(struct sl_upload_tree *t, struct sl_err *err);

#endif
