/* silverlining — stored backups pushed to another node over SSH, and received there. */
#ifndef SL_BACKUP_PUSH_H
#define SL_BACKUP_PUSH_H

#include "buf.h"
#include "err.h"

/*
 * A source node pushes each stored backup, ROOT/backups/APP/STAMP.tar.gz
 * and its record STAMP.ini, to one target node. On the source,
 * /etc/silverlining/backup-push ($SL_BACKUP_PUSH_DIR in tests; 0700 root)
 * holds
 *
 *	key, key.pub	the source's own ed25519 key for pushes (0600 root)
 *	known_hosts	the target's host key, pinned (OpenSSH format)
 *	target		HOST[:PORT] of the target (root logs in there)
 *
 * On the target, root's authorized_keys holds the source's key as
 *
 *	restrict,command="sl-backup-receive SOURCE" ssh-ed25519 BASE64 ...
 *
 * so the key runs that one command and nothing else, and SOURCE, which
 * names the directory it writes in, is the target's word, never the
 * stream's. The stream on the command's stdin:
 *
 *	silverlining-backup-push 1
 *	app APP
 *	stamp STAMP
 *	ini BYTES		then BYTES of STAMP.ini
 *	archive BYTES		then BYTES of STAMP.tar.gz
 *	end
 *
 * The receiver checks it whole before keeping anything: APP an app name,
 * STAMP a UTC YYYYmmddTHHMMSSZ, the record's app= is APP, its bytes= and
 * sha256= (of the archive) match what came, and the record is text (no
 * control character but tab and newline). Both files are written as
 * .part files in ROOT/backups/received/SOURCE/APP/ (each directory 0700,
 * never reached through a symbolic link), synced, then renamed without
 * replacing anything: the archive first, the record last, so a record
 * always stands beside a whole, checked archive. The .part files a killed
 * receive left (their PID no longer runs) go at the next receive of that
 * SOURCE and APP. It answers
 * "stored SOURCE/APP/STAMP" on stdout.
 */

/* Whether S is a backup's stamp: a UTC time as YYYYmmddTHHMMSSZ. */
int sl_backup_push_stamp_valid(const char *s);

/*
 * Whether S can name a source node on the target: ^[a-z0-9][a-z0-9._-]{0,62}$
 * (a host name or an IPv4 address, lower case, and _PORT when its SSH port
 * is not 22).
 */
int sl_backup_push_source_valid(const char *s);

/*
 * Pushes ROOT/backups/APP/STAMP.tar.gz and STAMP.ini to the configured
 * target. 0 when it was stored there, or when no target is configured (no
 * target file: nothing is done); -1 with ERR: 100 for a bad name, a
 * missing backup or key, a host key that is not the pinned one, or a
 * stream the target refused; 111 for I/O and the network; 99 timed out.
 * The target's own messages go to stderr.
 */
int sl_backup_push(const char *app, const char *stamp, struct sl_err *err);

/*
 * Makes the source's push key if there is none yet (ssh-keygen, ed25519,
 * no passphrase, 0600 root), and appends its public half, one line
 * "ssh-ed25519 BASE64 COMMENT", to PUB. 0, or -1 with ERR.
 */
int sl_backup_push_key(struct sl_buf *pub, struct sl_err *err);

/*
 * Points the pushes at TARGET (HOST[:PORT]) with its host keys HOST_KEYS:
 * known_hosts lines whose names are exactly TARGET's ("HOST" for port 22,
 * "[HOST]:PORT" otherwise), one or more. They replace the pinned ones.
 * -1 with ERR (100) for a bad target or a line that is not such a key.
 */
int sl_backup_push_set_target(const char *target, const char *host_keys,
			      struct sl_err *err);

/*
 * Appends to OUT TARGET's known_hosts line "NAMES TYPE BASE64" for the
 * host key S was given (which sl_ssh_connect() checked against the
 * caller's known_hosts), NAMES as sl_backup_push_set_target() wants them.
 */
struct sl_ssh;
struct sl_ssh_addr;
int sl_backup_push_host_line(struct sl_ssh *s, const struct sl_ssh_addr *target,
			     struct sl_buf *out, struct sl_err *err);

/*
 * The target's side: reads one pushed backup from IN_FD (the protocol
 * above) and stores it under ROOT/backups/received/SOURCE/APP/. Appends
 * "SOURCE/APP/STAMP" to STORED. 0, or -1 with ERR: 100 for a bad stream
 * (a bad name, a record that does not match the archive, a stamp already
 * received, a cut stream), nothing kept; 111 for I/O.
 */
int sl_backup_receive(const char *source, int in_fd, struct sl_buf *stored,
		      struct sl_err *err);

/*
 * On the target: lets SOURCE push with the key PUB ("ssh-ed25519 BASE64
 * [COMMENT]", one line) by the line above in AUTHORIZED_KEYS, replacing
 * any line that let SOURCE push before. -1 with ERR (100) for a bad
 * source or key.
 */
int sl_backup_receive_authorize(const char *source, const char *pub,
				const char *authorized_keys, struct sl_err *err);

#endif
