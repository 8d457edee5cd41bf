#!/bin/bash
# silverlining — sl-query: what a node holds, its clean-up, and an app's logs.
#
#   sl-query [APP...]          apps, their instances, locations, disabled apps
#   sl-query --clean [-n] [--keep N]
#                              remove instances nothing maps, keeping the newest N
#                              (5) of each app; -n only says what would go
#   sl-query --logs [-f] LOCATION
#                              the log of the app serving LOCATION
#   sl-query --instance LOCATION
#                              sl-route LOCATION, kept for scripts that used it
#
# Names and routes are sl-route's: it parses locations, reads the route
# table and lists the instances; this script only composes its answers.
set -u
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
export LC_ALL=C

VERSION=@VERSION@
prog=sl-query
USAGE='sl-query [APP...] | --clean [-n] [--keep N] | --logs [-f] LOCATION | --instance LOCATION'
# @PRELUDE@
ROOT=${SL_ROOT:-/var/lib/silverlining}
LOGS=${SL_LOG_ROOT:-/var/log/silverlining}


instances() { sl-route --instances "$@"; } # [APP...]: by app, oldest first

# mapped INSTANCE: the locations that point at it; a table sl-route cannot
# read is an error, never "nothing is mapped"
mapped() {
	local routes
	routes=$(sl-route --list) || exit
	awk -v i="$1" '$3 == i {print ($2 == "/" ? $1 : $1 $2)}' <<<"$routes"
}

# STATE of INSTANCE: running, stopped, or failing: it stopped on its own
# and systemd keeps starting it again (sl-activate --unit-stop notes each
# failure), or it came back less than a minute ago
state() {
	local n since active
	active=$(systemctl show -P ActiveState "silverlining-instance@$1.service" 2>/dev/null)
	if [ -s "/run/silverlining/failing/$1" ] && read -r n since < "/run/silverlining/failing/$1" &&
		{ [ "$active" != active ] || [ $(( $(date +%s) - since )) -le 60 ]; }; then
		printf 'failing'
	elif [ "$active" = active ]; then
		printf 'running'
	else
		printf 'stopped'
	fi
}

# One line per instance: APP INSTANCE running|stopped|failing LOCATIONS...;
# then the disabled apps.
query() {
	local apps=() all inst state where
	[ $# -eq 0 ] || mapfile -t apps < <(printf '%s\n' "$@" | sort -u)
	all=$(instances "${apps[@]}") || exit
	for inst in $all; do
		state=$(state "$inst")
		where=$(mapped "$inst") || exit
		printf '%s %s %s%s\n' "${inst%.*}" "$inst" "$state" "${where:+ ${where//$'\n'/ }}"
	done
	if [ -s "$ROOT/disabled" ]; then
		local d
		while read -r d; do
			[ $# -eq 0 ] || printf '%s\n' "$@" | grep -qx "$d" || continue
			echo "disabled $d"
		done < "$ROOT/disabled"
	fi
	return 0
}

clean() {
	local dry=0 keep=5 all app mine inst n where
	while [ $# -gt 0 ]; do
		case $1 in
		-n) dry=1; shift ;;
		--keep) [[ ${2:-} =~ ^[0-9]+$ ]] || usage; keep=$2; shift 2 ;;
		*) usage ;;
		esac
	done
	exec 9>"$ROOT/deploy.lock"
	flock -w 600 9 || die 99 "another deploy held the node's lock for 10 minutes"
	all=$(instances) || exit
	for app in $(printf '%s\n' $all | sed 's/\.[^.]*$//' | sort -u); do
		# an instance of an app being deployed is not mapped yet: wait for it
		install -d -m 700 "$ROOT/locks" && exec 8>"$ROOT/locks/$app" && flock -w 720 8 ||
			die 99 "a deploy of $app held its lock for 12 minutes"
		mine=$(instances "$app") || exit
		n=$(wc -l <<<"$mine")
		for inst in $(head -n "$(( n > keep ? n - keep : 0 ))" <<<"$mine"); do
			where=$(mapped "$inst") || exit
			[ -n "$where" ] && continue	# a location or a rollback needs it
			echo "$inst"
			[ $dry = 1 ] && continue
			systemctl disable -q --now "silverlining-instance@$inst.service" 2>/dev/null
			rm -rf "${ROOT:?}/instances/$inst" "${ROOT:?}/run/$inst" "${ROOT:?}/tmp/$inst" \
				"${ROOT:?}/configs/$inst" \
				"/etc/systemd/system.control/silverlining-instance@$inst.service.d" ||
				die 111 "unable to remove $inst"
		done
		exec 8>&-
	done
}

logs() {
	local follow= inst user rc
	[ "${1:-}" = -f ] && { follow=-f; shift; }
	[ $# -eq 1 ] || usage
	inst=$(sl-route -q "$1") || { rc=$?; [ $rc = 1 ] && die 1 "nothing is deployed at $1"; exit $rc; }
	[ -f "$LOGS/apps/${inst%.*}/app.log" ] || die 1 "${inst%.*} has no log yet"
	# read with the app's own rights: whatever its log directory holds,
	# root opens nothing through it
	user=$(sl-app --user "${inst%.*}") || exit
	exec runuser -u "$user" -- tail -n 100 $follow "$LOGS/apps/${inst%.*}/app.log"
}

case ${1:-} in
-h|--help) printf 'usage: %s\n' "$USAGE" || exit 111; exit 0 ;;
--version) printf 'sl-query %s\n' "$VERSION" || exit 111; exit 0 ;;
--clean) shift; clean "$@" ;;
--logs) shift; logs "$@" ;;
--instance) shift; [ $# -eq 1 ] || usage; exec sl-route "$1" ;;
-*) usage ;;
*) query "$@" ;;
esac
