#!/bin/bash
# silverlining — sl-backup: the services' data of the app at a location, out, in, and wiped.
#
#   sl-backup --backup LOCATION    a .tar.gz of every service's backup on stdout
#   sl-backup --restore LOCATION   such a .tar.gz on stdin, loaded back
#   sl-backup --clear LOCATION     every service's data dropped and made again
#                                  empty, then the app's update_fetch runs again
#
# A backup holds backup.ini (app, instance, time, services) and one
# directory per service, as sl-service-NAME backup writes it.
set -u
umask 077
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
export LC_ALL=C

VERSION=@VERSION@
prog=sl-backup
USAGE='sl-backup --backup LOCATION | --restore LOCATION | --clear LOCATION'
# @PRELUDE@
ROOT=${SL_ROOT:-/var/lib/silverlining}


# LOCATION -> the instance serving it, in INST, its app in APP, its services in SERVICES
resolve() {
	INST=$(sl-route -q "$1") || { rc=$?; [ $rc = 1 ] && die 100 "nothing is deployed at $1"; exit $rc; }
	APP=${INST%.*}
	SERVICES=$(sl-app "$ROOT/instances/$INST") || die 100 "unable to read the app.ini of $INST"
	SERVICES=$(sed -n 's/^service=//p' <<<"$SERVICES")
	[ -n "$SERVICES" ] || die 1 "$APP has no services: nothing to back up, restore or clear"
}

# the app's lock, as sl-activate takes it: no backup or restore of APP
# interleaves with a deploy of it (other apps' deploys go on)
lock() {
	local wait=$(( ${SL_FETCH_LIMIT:-600} + 120 ))
	install -d -m 700 "$ROOT/locks" || die 111 "unable to make $ROOT/locks"
	exec 9>"$ROOT/locks/$APP"
	flock -w "$wait" 9 || die 99 "a deploy of $APP held its lock for $wait seconds"
}

# root-only work directories under /var/tmp (mktemp makes them 0700), each
# removed on every way out; a safety backup is kept only if putting it back failed
TMPS=()
KEEP=
cleanup() {
	local d
	for d in "${TMPS[@]}"; do
		[ "$d" = "$KEEP" ] || rm -rf "$d"
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
# tmpdir VAR: a new one, its path in VAR
tmpdir() {
	local d
	d=$(mktemp -d /var/tmp/sl-backup.XXXXXX) || die 111 "unable to make a work directory"
	TMPS+=("$d")
	printf -v "$1" '%s' "$d"
}
work() { tmpdir WORK; }

backup() {
	local s
	resolve "$1"
	lock
	work
	printf 'app=%s\ninstance=%s\ntime=%s\nservices=%s\n' "$APP" "$INST" "$(date -u +%FT%TZ)" \
		"$(echo $SERVICES)" > "$WORK/backup.ini"
	for s in $SERVICES; do
		"sl-service-$s" backup "$APP" "$WORK/$s" >&2 || die $? "service.$s: the backup failed"
	done
	tar -C "$WORK" -czf - . || die 111 "unable to send the backup"
}

# check_part SERVICE DIR: the part of the backup that SERVICE's restore
# reads is whole; the service owns what its part must be and reads it
# with the app's rights (sl-service-NAME check), saying why it is not
check_part() {
	"sl-service-$1" check "$APP" "$2" >&2
}

# unpack: the backup on stdin into $WORK/in, whole and sane, or nothing changes
unpack() {
	local bad s from
	cat > "$WORK/backup.tar.gz" || die 111 "unable to keep the backup in $WORK: nothing was changed"
	if ! gzip -t < "$WORK/backup.tar.gz" 2> /dev/null ||
		! tar -tvzf "$WORK/backup.tar.gz" > "$WORK/list" 2> /dev/null; then
		die 100 "the backup is not a whole .tar.gz (cut short or corrupt): nothing was changed"
	fi
	# regular files and directories only: root follows no link the archive holds
	bad=$(grep -v '^[-d]' "$WORK/list" | head -n 1)
	[ -z "$bad" ] || die 100 "the backup holds a link or a special file ($bad): refused, nothing was changed"
	mkdir "$WORK/in" || die 111 "unable to make $WORK/in"
	tar -C "$WORK/in" -xzf "$WORK/backup.tar.gz" --no-same-owner --no-same-permissions >&2 ||
		die 111 "unable to unpack the backup: nothing was changed"
	rm -f "$WORK/backup.tar.gz"
	bad=$(find "$WORK/in" -mindepth 1 ! -type f ! -type d -print -quit)
	[ -z "$bad" ] || die 100 "the backup holds a link or a special file: refused, nothing was changed"
	[ -f "$WORK/in/backup.ini" ] || die 100 "the backup has no backup.ini: not one sl-backup made, nothing was changed"
	from=$(sed -n 's/^app=//p' "$WORK/in/backup.ini")
	sl-app --name "$from" 2>/dev/null && grep -q '^services=' "$WORK/in/backup.ini" ||
		die 100 "the backup's backup.ini names no app or services: nothing was changed"
	[ "$from" = "$APP" ] || printf '%s: warning: a backup of %s goes into %s\n' "$prog" "$from" "$APP" >&2
	for s in $SERVICES; do
		[ -d "$WORK/in/$s" ] || die 100 "the backup holds nothing for service.$s: nothing was changed"
		check_part "$s" "$WORK/in/$s" ||
			die 100 "service.$s: its part of the backup does not read whole: nothing was changed"
	done
}

# put_back SAFE SERVICES...: the safety backup back into those services
put_back() {
	local safe=$1 s ok=0
	shift
	for s; do
		if "sl-service-$s" restore "$APP" "$safe/$s" >&2; then
			printf '%s: service.%s of %s was put back as it was\n' "$prog" "$s" "$APP" >&2
		else
			printf '%s: putting back service.%s of %s failed\n' "$prog" "$s" "$APP" >&2
			ok=1
		fi
	done
	return $ok
}

restore() {
	local s code safe restored=()
	resolve "$1"
	lock
	work
	unpack
	# from here on the data changes: a signal or a lost connection does not
	# stop a restore, or its putting back, half-way
	trap '' INT TERM HUP PIPE
	# a safety backup first, put back if any service fails
	tmpdir safe
	for s in $SERVICES; do
		"sl-service-$s" backup "$APP" "$safe/$s" >&2 ||
			die 111 "service.$s: unable to take a safety backup first: nothing was changed"
	done
	for s in $SERVICES; do
		restored+=("$s")
		"sl-service-$s" restore "$APP" "$WORK/in/$s" >&2 && continue
		code=$?
		[ "$code" -ge 100 ] || code=111
		if put_back "$safe" "${restored[@]}"; then
			die "$code" "service.$s: the restore failed: the data of $APP is as it was"
		fi
		KEEP=$safe
		die 111 "service.$s: the restore failed, and so did putting the data back: the data of $APP as it was is kept in $safe (root only)"
	done
	for s in $SERVICES; do
		echo "restored service.$s of $APP"
	done
}

clear() {
	local s
	resolve "$1"
	lock
	for s in $SERVICES; do
		"sl-service-$s" clear "$APP" >&2 || die $? "service.$s: the clear failed"
		echo "cleared service.$s of $APP"
	done
	exec 9>&-	# sl-activate takes the lock itself
	# an app sets its data up in update_fetch: it runs again on the same instance
	sl-activate "$INST" "$1" > /dev/null || die $? "the data is cleared but update_fetch failed"
}

[ $# -eq 2 ] || { case ${1:-} in -h|--help) printf 'usage: %s\n' "$USAGE"; exit 0 ;;
	--version) printf 'sl-backup %s\n' "$VERSION"; exit 0 ;; esac; usage; }
[ "$(id -u)" -eq 0 ] || die 100 "sl-backup runs as root on the node"
case $1 in
--backup) backup "$2" ;;
--restore) restore "$2" ;;
--clear) clear "$2" ;;
*) usage ;;
esac
