#!/usr/bin/env bats
# Backups pushed from node to node (sl-backup-push, sl-backup-receive,
# silver setup-node --push-backups-to) against real sshds on loopback: a
# source node (SRCPORT) and a target node (DSTPORT), each with its own
# state root, so the pairing and the push run the real tools end to end.
# The attacks hold the source's push key and send what they like.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/sshd

SRCPORT=2227
DSTPORT=2228
STAMP=20261202T031500Z

# push_sshd PORT DIR VAR=VALUE...: an sshd like the first, on PORT, that
# also reads DIR/authorized_keys and gives its sessions VAR=VALUE...
push_sshd() {
	local port=$1 dir=$2
	shift 2
	mkdir -p "$dir"
	{
		grep -v -e '^Port ' -e '^PidFile ' -e '^SetEnv ' -e '^AuthorizedKeysFile ' "$SSHD_DIR/sshd_config"
		printf 'Port %s\nPidFile %s\n' "$port" "$dir/sshd.pid"
		printf 'AuthorizedKeysFile %s %s\n' "$SSHD_DIR/authorized_keys" "$dir/authorized_keys"
		printf 'SetEnv PATH=%s:/usr/bin:/bin %s%s\n' "${SL_TEST_BIN:-$TOP/bin}" "$*" \
			"${ASAN_OPTIONS:+ ASAN_OPTIONS=$ASAN_OPTIONS}${UBSAN_OPTIONS:+ UBSAN_OPTIONS=$UBSAN_OPTIONS}"
	} > "$dir/sshd_config"
	sshd_launch "$dir"
}

setup_file() {
	transport_setup_file
	export SRC=$BATS_FILE_TMPDIR/src DST=$BATS_FILE_TMPDIR/dst
	export PUSHDIR=$BATS_FILE_TMPDIR/push SD=$BATS_FILE_TMPDIR/srcsshd TD=$BATS_FILE_TMPDIR/dstsshd
	push_sshd "$SRCPORT" "$SD" "SL_ROOT=$SRC" "SL_BACKUP_PUSH_DIR=$PUSHDIR"
	push_sshd "$DSTPORT" "$TD" "SL_ROOT=$DST" "SL_AUTHORIZED_KEYS=$TD/authorized_keys"
	ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/other_ed25519" </dev/null
}

teardown_file() {
	local d
	for d in "$SD" "$TD"; do
		[ -s "$d/sshd.pid" ] && kill "$(cat "$d/sshd.pid")" 2>/dev/null
	done
	sshd_stop
}

setup() {
	transport_setup
	client_key
	mkdir -p "$HOME/.ssh"
	for p in "$SRCPORT" "$DSTPORT"; do
		printf '[127.0.0.1]:%s %s\n' "$p" "$(cut -d' ' -f1,2 "$SSHD_DIR/host_ed25519.pub")"
	done > "$HOME/.ssh/known_hosts"
	rm -rf "$SRC" "$DST" "$PUSHDIR" "$TD/authorized_keys"
	mkdir -p "$SRC/backups/app1" "$DST"
	# a stored backup, planted as sl-backup --scheduled stores one
	mkdir -p "$BATS_TEST_TMPDIR/data"
	head -c 200000 /dev/urandom > "$BATS_TEST_TMPDIR/data/blob"
	ARCHIVE=$SRC/backups/app1/$STAMP.tar.gz RECORD=$SRC/backups/app1/$STAMP.ini
	tar -czf "$ARCHIVE" -C "$BATS_TEST_TMPDIR/data" .
	record app1 "$ARCHIVE" > "$RECORD"
	chmod 600 "$ARCHIVE" "$RECORD"
	GOT=$DST/backups/received/127.0.0.1_$SRCPORT
	SOURCE=127.0.0.1_$SRCPORT
	CANARY=$BATS_TEST_TMPDIR/canary
}

# record APP ARCHIVE: a STAMP.ini for ARCHIVE, as the store writes it
record() {
	printf 'app=%s\ninstance=%s.2026-12-01_001\ntime=2026-12-02T03:15:00Z\nbytes=%s\nsha256=%s\nstatus=verified\n\n[files]\nfiles=1\n' \
		"$1" "$1" "$(stat -c %s "$2")" "$(sha256sum < "$2" | cut -d' ' -f1)"
}

# stream APP STAMP RECORD ARCHIVE: the push protocol, as sl-backup-push sends it
stream() {
	printf 'silverlining-backup-push 1\napp %s\nstamp %s\nini %s\n' "$1" "$2" "$(stat -c %s "$3")"
	cat "$3"
	printf 'archive %s\n' "$(stat -c %s "$4")"
	cat "$4"
	printf 'end\n'
}

pair() {
	run -0 silver setup-node --push-backups-to "127.0.0.1:$DSTPORT" "127.0.0.1:$SRCPORT"
}

# nothing_stored: no file anywhere under the target's root
nothing_stored() {
	run -0 find "$DST" -type f
	assert_output ""
}

# as_source ARGS...: sl-remote to the target with the source's push key
as_source() {
	sl-remote -i "$PUSHDIR/key" "127.0.0.1:$DSTPORT" "${@:-sl-backup-receive}"
}

@test "pairing: the source's own key, let in on the target for sl-backup-receive alone; the target's checked key pinned" {
	pair
	[ "$(stat -c '%a %U' "$PUSHDIR")" = "700 root" ]
	[ "$(stat -c '%a %U' "$PUSHDIR/key")" = "600 root" ]
	assert_equal "$(cat "$PUSHDIR/target")" "127.0.0.1:$DSTPORT"
	assert_equal "$(cat "$PUSHDIR/known_hosts")" \
		"[127.0.0.1]:$DSTPORT $(cut -d' ' -f1,2 "$SSHD_DIR/host_ed25519.pub")"
	assert_equal "$(cat "$TD/authorized_keys")" \
		"restrict,command=\"sl-backup-receive $SOURCE\" $(cut -d' ' -f1,2 "$PUSHDIR/key.pub") silverlining-backup-push-from-$SOURCE"
	[ "$(stat -c %a "$TD/authorized_keys")" = 600 ]
	# again: the same key, one line, nothing new
	key=$(cat "$PUSHDIR/key.pub")
	pair
	assert_equal "$(cat "$PUSHDIR/key.pub")" "$key"
	[ "$(wc -l < "$TD/authorized_keys")" -eq 1 ]
}

@test "pairing with a target this machine does not know is refused, --accept-new or not, and changes neither node" {
	printf '[127.0.0.1]:%s %s\n' "$SRCPORT" "$(cut -d' ' -f1,2 "$SSHD_DIR/host_ed25519.pub")" > "$HOME/.ssh/known_hosts"
	run -100 silver setup-node --accept-new --push-backups-to "127.0.0.1:$DSTPORT" "127.0.0.1:$SRCPORT"
	assert_output --partial "sl-backup-push: fatal: root@127.0.0.1:$DSTPORT is not a known host"
	[ ! -e "$PUSHDIR" ] && [ ! -e "$TD/authorized_keys" ]
	# the tool itself takes no --accept-new
	run -100 sl-backup-push --host-key --accept-new "127.0.0.1:$DSTPORT"
	assert_output "sl-backup-push: fatal: --host-key takes no --accept-new: the target's host key must be known already"
	# a target known by another key: refused as a changed key
	printf '[127.0.0.1]:%s %s\n' "$DSTPORT" "$(cut -d' ' -f1,2 "$SSHD_DIR/other_ed25519.pub")" >> "$HOME/.ssh/known_hosts"
	run -100 silver setup-node --push-backups-to "127.0.0.1:$DSTPORT" "127.0.0.1:$SRCPORT"
	assert_output --partial "has CHANGED"
	[ ! -e "$PUSHDIR/target" ] && [ ! -e "$TD/authorized_keys" ]
}

@test "a push lands on the target whole and checked, root's alone; a second push of the stamp replaces nothing" {
	pair
	run -0 sl-remote "127.0.0.1:$SRCPORT" sl-backup-push app1 "$STAMP"
	cmp "$ARCHIVE" "$GOT/app1/$STAMP.tar.gz"
	cmp "$RECORD" "$GOT/app1/$STAMP.ini"
	for d in "$DST/backups" "$DST/backups/received" "$GOT" "$GOT/app1"; do
		[ "$(stat -c '%a %U' "$d")" = "700 root" ]
	done
	[ "$(stat -c '%a' "$GOT/app1/$STAMP.tar.gz" "$GOT/app1/$STAMP.ini" | sort -u)" = 600 ]
	run -0 ls -A "$GOT/app1"
	assert_output "$STAMP.ini
$STAMP.tar.gz"
	# again: refused, the first one kept
	run -100 sl-remote "127.0.0.1:$SRCPORT" sl-backup-push app1 "$STAMP"
	assert_output --partial "sl-backup-receive: fatal: $SOURCE/app1/$STAMP was received already: nothing was replaced"
	cmp "$ARCHIVE" "$GOT/app1/$STAMP.tar.gz"
}

@test "a killed receive's .part files are removed by the next receive; a running one's are kept" {
	pair
	mkdir -p "$GOT/app1"
	sh -c 'exit 0' & dead=$!
	wait "$dead"
	sleep 60 & live=$!
	head -c 1000 /dev/urandom > "$GOT/app1/.20261101T000000Z.tar.gz.part-$dead"
	head -c 1000 /dev/urandom > "$GOT/app1/.20261101T000000Z.tar.gz.part-$live"
	run -0 sl-remote "127.0.0.1:$SRCPORT" sl-backup-push app1 "$STAMP"
	run -0 ls -A "$GOT/app1"
	kill "$live"
	assert_output ".20261101T000000Z.tar.gz.part-$live
$STAMP.ini
$STAMP.tar.gz"
}

@test "a push needs nothing of its caller's environment (a systemd unit's: no HOME, no agent)" {
	pair
	run -0 sl-remote "127.0.0.1:$SRCPORT" sh -c 'exec env -i PATH="$PATH" SL_ROOT="$SL_ROOT" \
		SL_BACKUP_PUSH_DIR="$SL_BACKUP_PUSH_DIR" sl-backup-push app1 '"$STAMP"
	cmp "$ARCHIVE" "$GOT/app1/$STAMP.tar.gz"
}

@test "no target configured: sl-backup-push does nothing and says nothing" {
	run -0 --separate-stderr sl-remote "127.0.0.1:$SRCPORT" sl-backup-push app1 "$STAMP"
	assert_equal "$stderr" ""
	assert_output ""
	nothing_stored
}

@test "a tampered stream is refused and nothing is stored (the same stream untampered is stored)" {
	pair
	stream app1 "$STAMP" "$RECORD" "$ARCHIVE" > "$BATS_TEST_TMPDIR/good"
	# one byte of the archive flipped on the way
	cp "$BATS_TEST_TMPDIR/good" "$BATS_TEST_TMPDIR/bad"
	off=$(( $(stat -c %s "$BATS_TEST_TMPDIR/bad") - 5000 ))
	flip_byte "$BATS_TEST_TMPDIR/bad" "$off"
	run -100 as_source < "$BATS_TEST_TMPDIR/bad"
	assert_output --partial "sl-backup-receive: fatal: the archive of app1 $STAMP is not the one its record names"
	nothing_stored
	# cut short
	head -c 100000 "$BATS_TEST_TMPDIR/good" > "$BATS_TEST_TMPDIR/cut"
	run -100 as_source < "$BATS_TEST_TMPDIR/cut"
	assert_output "sl-backup-receive: fatal: the stream was cut short: nothing was stored"
	nothing_stored
	# a record and an archive that agree, but not with what the source stored: the
	# archive is another one, of the same size
	head -c "$(stat -c %s "$ARCHIVE")" /dev/urandom > "$BATS_TEST_TMPDIR/other"
	run -100 as_source < <(stream app1 "$STAMP" "$RECORD" "$BATS_TEST_TMPDIR/other")
	assert_output --partial "is not the one its record names"
	nothing_stored
	# a record of another app
	record app2 "$ARCHIVE" > "$BATS_TEST_TMPDIR/rec2"
	run -100 as_source < <(stream app1 "$STAMP" "$BATS_TEST_TMPDIR/rec2" "$ARCHIVE")
	assert_output "sl-backup-receive: fatal: the record of app1 $STAMP names another app (app=app2)"
	nothing_stored
	# a record that is not text
	{ record app1 "$ARCHIVE"; printf 'note=\001\n'; } > "$BATS_TEST_TMPDIR/rec3"
	run -100 as_source < <(stream app1 "$STAMP" "$BATS_TEST_TMPDIR/rec3" "$ARCHIVE")
	assert_output "sl-backup-receive: fatal: the record of app1 $STAMP is not text"
	nothing_stored
	# the control: the stream as sent is stored
	run -0 as_source < "$BATS_TEST_TMPDIR/good"
	assert_output "stored $SOURCE/app1/$STAMP"
	cmp "$ARCHIVE" "$GOT/app1/$STAMP.tar.gz"
}

@test "names that are not an app name or a stamp are refused before anything is made" {
	pair
	mkdir -p "$BATS_TEST_TMPDIR/x"
	for w in "../../../x $STAMP" "/tmp/x $STAMP" "App1 $STAMP" "app1 ../../x" "app1 20261302T031500Z" \
		"app1 $STAMP/../x" "app1 ${STAMP%Z}" ".. $STAMP"; do
		record "${w% *}" "$ARCHIVE" > "$BATS_TEST_TMPDIR/rec"
		run -100 as_source < <(stream "${w% *}" "${w#* }" "$BATS_TEST_TMPDIR/rec" "$ARCHIVE")
		assert_output --regexp "^sl-backup-receive: fatal: invalid (app name|stamp) "
		nothing_stored
		run -0 find "$DST" "$BATS_TEST_TMPDIR/x" -mindepth 1
		assert_output ""
	done
	# a stream that is not the protocol at all
	run -100 as_source <<<"hello"
	assert_output "sl-backup-receive: fatal: not a backup push: the stream must start with 'silverlining-backup-push 1'"
}

@test "a source writes under its own directory alone: the forced command names it, whatever the source asks" {
	pair
	run -0 as_source sl-backup-receive other < <(stream app1 "$STAMP" "$RECORD" "$ARCHIVE")
	assert_output "stored $SOURCE/app1/$STAMP"
	[ -f "$GOT/app1/$STAMP.tar.gz" ]
	[ ! -e "$DST/backups/received/other" ]
	# the control: without the forced command (the laptop's own key), the
	# same words would have written under other/
	run -0 sl-remote "127.0.0.1:$DSTPORT" sl-backup-receive other < <(stream app1 "$STAMP" "$RECORD" "$ARCHIVE")
	assert_output "stored other/app1/$STAMP"
}

@test "the source's key runs sl-backup-receive and nothing else" {
	pair
	run -100 as_source sh -c "touch $CANARY" </dev/null
	assert_output "sl-backup-receive: fatal: the stream was cut short: nothing was stored"
	[ ! -e "$CANARY" ]
	run -100 as_source sh -c "touch $CANARY" <<<"touch $CANARY"
	assert_output --partial "sl-backup-receive: fatal: not a backup push"
	[ ! -e "$CANARY" ]
	nothing_stored
	# the control: the laptop's key runs the command
	run -0 sl-remote "127.0.0.1:$DSTPORT" sh -c "touch $CANARY"
	[ -e "$CANARY" ]
}

@test "the target's directories are never reached through a symbolic link" {
	pair
	mkdir -p "$DST/backups/received" "$BATS_TEST_TMPDIR/elsewhere"
	ln -s "$BATS_TEST_TMPDIR/elsewhere" "$GOT"
	run -100 sl-remote "127.0.0.1:$SRCPORT" sl-backup-push app1 "$STAMP"
	assert_output --partial "sl-backup-receive: fatal: unable to open the directory $SOURCE: "
	run -0 find "$BATS_TEST_TMPDIR/elsewhere" -mindepth 1
	assert_output ""
}

@test "the push trusts only the pinned host key: a target with another key is refused before anything is sent" {
	pair
	printf '[127.0.0.1]:%s %s\n' "$DSTPORT" "$(cut -d' ' -f1,2 "$SSHD_DIR/other_ed25519.pub")" > "$PUSHDIR/known_hosts"
	run -100 sl-remote "127.0.0.1:$SRCPORT" sl-backup-push app1 "$STAMP"
	assert_output --partial "sl-backup-push: fatal: the host key of root@127.0.0.1:$DSTPORT has CHANGED"
	nothing_stored
	# a pinned file that names another host does not vouch for the target
	printf '[127.0.0.1]:2999 %s\n' "$(cut -d' ' -f1,2 "$SSHD_DIR/host_ed25519.pub")" > "$PUSHDIR/known_hosts"
	run -100 sl-remote "127.0.0.1:$SRCPORT" sl-backup-push app1 "$STAMP"
	assert_output --partial "is not a known host"
	nothing_stored
}

@test "sl-backup-push --target takes only the target's own key lines; --authorize only one ed25519 key and a source name" {
	run -100 sl-backup-push --target "127.0.0.1:$DSTPORT" <<<"[127.0.0.1]:2999 $(cut -d' ' -f1,2 "$SSHD_DIR/host_ed25519.pub")"
	assert_output --partial "host key line 1 is not '[127.0.0.1]:$DSTPORT TYPE BASE64'"
	run -100 sl-backup-push --target "127.0.0.1:$DSTPORT" <<<"*"
	run -100 sl-backup-push --target "root@127.0.0.1" <<<""
	[ ! -e "$PUSHDIR" ] || [ ! -e "$PUSHDIR/target" ]
	export SL_AUTHORIZED_KEYS=$BATS_TEST_TMPDIR/ak
	echo 'ssh-ed25519 AAAAkeep laptop' > "$SL_AUTHORIZED_KEYS"
	cp "$SL_AUTHORIZED_KEYS" "$BATS_TEST_TMPDIR/before"
	pub=$(cut -d' ' -f1,2 "$SSHD_DIR/client_ed25519.pub")
	run -100 sl-backup-receive --authorize web1 <<<"$pub x
command=\"sh\" $pub"
	run -100 sl-backup-receive --authorize web1 <<<"$(cut -d' ' -f1,2 "$SSHD_DIR/client_ecdsa.pub")"
	run -100 sl-backup-receive --authorize web1 <<<"ssh-ed25519 \"$pub"
	run -100 sl-backup-receive --authorize web1 < /dev/null
	run -100 sl-backup-receive --authorize web1 <<<"ssh"
	for s in ../x Web1 "" -x "a b" 'a"b'; do
		run -100 sl-backup-receive --authorize "$s" <<<"$pub"
	done
	cmp "$SL_AUTHORIZED_KEYS" "$BATS_TEST_TMPDIR/before"
	run -0 sl-backup-receive --authorize web1 <<<"$pub comment"
	assert_equal "$(tail -n 1 "$SL_AUTHORIZED_KEYS")" \
		"restrict,command=\"sl-backup-receive web1\" $pub silverlining-backup-push-from-web1"
	head -n 1 "$SL_AUTHORIZED_KEYS" | grep -qx 'ssh-ed25519 AAAAkeep laptop'
}

@test "silver setup-node --push-backups-to pairs one node, reached as root" {
	run -100 silver setup-node --push-backups-to "127.0.0.1:$DSTPORT" --nodeset prod
	assert_output "silver: fatal: --push-backups-to pairs one node: give NODE, not --nodeset"
	run -100 silver setup-node --push-backups-to "127.0.0.1:$DSTPORT"
	assert_output --partial "silver: usage: silver setup-node "
	run -100 silver setup-node --push-backups-to "admin@127.0.0.1:$DSTPORT" "127.0.0.1:$SRCPORT"
	assert_output "silver: fatal: --push-backups-to admin@127.0.0.1:$DSTPORT: root receives backups (give HOST[:PORT])"
	[ ! -e "$PUSHDIR" ]
}
