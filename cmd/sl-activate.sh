#!/bin/bash
# silverlining — sl-activate: put an instance live on the node, behind a health gate.
#
#   sl-activate INSTANCE LOCATION...    start INSTANCE beside the old one, run its
#                                       update_fetch and health check, then switch
#   sl-activate prev LOCATION           swap LOCATION and prev.LOCATION (rollback)
#   sl-activate --deactivate [--keep-prev] LOCATION...
#   sl-activate --disable LOCATION | --enable LOCATION
#   sl-activate --routes                rewrite nginx's routes from the state
#   sl-activate --unit-start INSTANCE | --unit-stop INSTANCE
#                                       the instance unit's hooks: the back-off
#                                       of an instance that keeps failing
#
# The routing state is ROOT/routes, one "HOST PATH INSTANCE" a line; nginx's
# ROOT/nginx/routes.conf is generated from it. Both are replaced by
# temp file + rename, nginx is reloaded gracefully, and a node-wide lock
# serialises every change of the routes. Preparing, starting and checking
# an instance hold its app's lock only: a hung update_fetch of one app
# (stopped after FETCH_LIMIT seconds) never blocks another app's deploy or
# any rollback. On any failure nothing switches: the new instance is
# stopped and the old one keeps serving.
#
# A shell tool: it sequences systemd, nginx, curl and apt; the rules of
# the C tools hold (message grammar, exit codes, stdout is data).
set -u
set -f	# no pathname expansion: a route for * is a host, not a glob
umask 022
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
export LC_ALL=C DEBIAN_FRONTEND=noninteractive

VERSION=@VERSION@
prog=sl-activate
USAGE='sl-activate [--clear] INSTANCE LOCATION... | prev LOCATION | --deactivate [--keep-prev] LOCATION... | --disable LOCATION | --enable LOCATION | --routes | --unit-start INSTANCE | --unit-stop INSTANCE'
# @PRELUDE@
ROOT=${SL_ROOT:-/var/lib/silverlining}
LOGS=${SL_LOG_ROOT:-/var/log/silverlining}
SOCKETS=/run/silverlining
SHARE=/usr/share/silverlining
DRAIN=${SL_DRAIN:-10}	# seconds an instance that stopped serving keeps running
FETCH_LIMIT=${SL_FETCH_LIMIT:-600}	# seconds an update_fetch script may run
FAILING=$SOCKETS/failing	# INSTANCE: "FAILURES SINCE" of an instance that keeps failing
CLEAR=		# --clear: the services' data wiped before the instance starts
LOCKED_APP=	# the app whose lock this run holds
ROUTE=		# "HOST PATH" of the first location being activated, as routed

say() { printf '%s: %s\n' "$prog" "$*" >&2; }

# The node's lock (fd 9): every change of the routes. Held for moments.
lock() {
	mkdir -p "$ROOT"
	exec 9>"$ROOT/deploy.lock"
	flock -w 600 9 || die 99 "another deploy held the node's lock for 10 minutes"
}

# An app's lock (fd 8), ROOT/locks/APP: preparing, starting and checking
# its instances, its backups and restores (sl-backup) and its clean-up
# (sl-query --clean). One app's slow update_fetch holds only this one.
lock_app() {
	install -d -m 700 "$ROOT/locks" || die 111 "unable to make $ROOT/locks"
	exec 8>"$ROOT/locks/$1"
	LOCKED_APP=$1
	flock -w "$(( FETCH_LIMIT + 120 ))" 8 ||
		die 99 "another deploy of $1 held its lock for $(( FETCH_LIMIT + 120 )) seconds"
}

# LOCATION -> "HOST PATH": scheme dropped, host lowercased, path without
# its trailing slash ("/" for none). Refuses what nginx could misread, an
# https:// location (this release serves plain HTTP only), "." and ".."
# segments, and the names the node keeps for itself: prev.* (rollback's)
# and "disabled". With --any, prev.* is accepted (deactivate names it).
parse_location() {
	local any=0
	[ "$1" = --any ] && { any=1; shift; }
	local loc=$1 host path
	case $loc in
	[Hh][Tt][Tt][Pp][Ss]://*)
		die 100 "$1: this release serves plain HTTP only (no TLS yet): give http://${loc#*://} to serve it unencrypted" ;;
	esac
	loc=${loc#[Hh][Tt][Tt][Pp]://}
	host=${loc%%/*}
	path=/${loc#"$host"}
	path=${path#/}
	[ -n "$path" ] || path=/
	host=$(printf '%s' "$host" | tr 'A-Z' 'a-z')
	while [ "$path" != / ] && [ "${path%/}" != "$path" ]; do path=${path%/}; done
	[[ $host =~ ^(\*|\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)$ ]] ||
		die 100 "invalid location '$1': want [http://]host[/path]"
	[[ $path =~ ^(/|(/[A-Za-z0-9._~-]+)+)$ ]] || die 100 "invalid path in location '$1'"
	[[ $path/ =~ /\.\.?/ ]] && die 100 "invalid path in location '$1': no . or .. segments"
	[ "$host" = disabled ] && die 100 "invalid location '$1': the host name disabled is the node's own"
	[ $any = 0 ] && [ "${host#prev.}" != "$host" ] &&
		die 100 "invalid location '$1': prev.* names the previous instance; roll back with 'prev'"
	printf '%s %s\n' "$host" "$path"
}

valid_instance() {
	[[ $1 =~ ^[a-z][a-z0-9-]{0,30}\.[0-9]{4}-[0-9]{2}-[0-9]{2}_[0-9]{3}$ ]]
}

app_of() { printf '%s\n' "${1%.*}"; }

# The Unix user an app runs as (sl-APP; libsl decides, the services agree).
app_user() { sl-app --user "$1"; }

routes_get() { # HOST PATH -> INSTANCE or nothing
	[ -f "$ROOT/routes" ] && awk -v h="$1" -v p="$2" '$1 == h && $2 == p {print $3}' "$ROOT/routes"
}

# routes_set HOST PATH INSTANCE|-: the new state in $ROOT/routes.new
routes_set() {
	[ -f "$ROOT/routes.new" ] || { cp "$ROOT/routes" "$ROOT/routes.new" 2>/dev/null || : > "$ROOT/routes.new"; }
	awk -v h="$1" -v p="$2" '!($1 == h && $2 == p)' "$ROOT/routes.new" > "$ROOT/routes.tmp" &&
		mv "$ROOT/routes.tmp" "$ROOT/routes.new"
	[ "$3" = - ] || printf '%s %s %s\n' "$1" "$2" "$3" >> "$ROOT/routes.new"
}

unit() { printf 'silverlining-instance@%s.service\n' "$1"; }

# --- nginx -------------------------------------------------------------------

# The server block lines for one route.
route_block() { # HOST PATH INSTANCE DISABLED(0|1)
	local path=$2 inst=$3 disabled=$4 app timeout static
	app=$(app_of "$inst")
	timeout=$(sed -n 's/^timeout=//p' "$ROOT/run/$inst/app" 2>/dev/null)
	static=$ROOT/instances/$inst/static
	local named="@${inst//[^a-z0-9]/_}_${path//[^A-Za-z0-9]/_}"
	local script=$path
	[ "$path" = / ] && script=
	local off= next=$named wr=
	# the writable root, when the app has one, comes between static/ and the app
	if grep -qx 'service=writable_root' "$ROOT/run/$inst/app" 2>/dev/null; then
		wr="@wr_${named#@}"
		next=$wr
	fi
	[ "$disabled" = 1 ] && off='\t\tif ($silverlining_outside) {\n\t\t\treturn 503;\n\t\t}\n'
	if [ "$path" = / ]; then
		printf "\tlocation / {\n$off\t\troot %s;\n\t\ttry_files \$uri %s;\n\t}\n" "$static" "$next"
	else
		printf '\tlocation = %s {\n\t\ttry_files /nonexistent %s;\n\t}\n' "$path" "$named"
		printf "\tlocation ^~ %s/ {\n$off\t\talias %s/;\n\t\ttry_files \$uri %s;\n\t}\n" "$path" "$static" "$next"
	fi
	if [ -n "$wr" ]; then	# per-host files first: $CONFIG_WRITABLE_ROOT/HOST/...
		printf "\tlocation %s {\n$off\t\troot %s;\n\t\ttry_files /\$host\$uri \$uri %s;\n\t}\n" \
			"$wr" "$ROOT/apps/$app/writable-root" "$named"
	fi
	printf '\tlocation %s {\n' "$named"
	[ "$disabled" = 1 ] && printf '\t\tif ($silverlining_outside) {\n\t\t\treturn 503;\n\t\t}\n'
	printf '\t\tproxy_pass http://unix:%s/%s.sock;\n' "$SOCKETS" "$inst"
	printf '\t\tproxy_set_header Host $host;\n'
	printf '\t\tproxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n'
	printf '\t\tproxy_set_header X-Forwarded-Proto $scheme;\n'
	printf '\t\tproxy_set_header X-Silverlining-Update "";\n'
	printf '\t\tproxy_set_header X-Silverlining-Script-Name "%s";\n' "$script"
	printf '\t\tproxy_read_timeout %ss;\n' "$(( ${timeout:-30} + 5 ))"
	printf '\t}\n'
}

# A number every generated configuration carries, on a location only
# loopback may read: after a reload, nginx serves the new routes once it
# answers the new number.
generation_location() {
	printf '\tlocation = /.silverlining/generation {\n\t\tallow 127.0.0.1;\n\t\tallow ::1;\n'
	printf '\t\tdeny all;\n\t\tdefault_type text/plain;\n\t\treturn 200 "%s\\n";\n\t}\n' "$GENERATION"
}

write_routes() { # from STATE (a routes file) to ROOT/nginx/routes.conf
	local state=$1 host has_default=0 out=$ROOT/nginx/routes.conf.new
	if awk '$1 == "*" {a = 1} $1 == "not-found" {b = 1} END {exit !(a && b)}' "$state"; then
		say "* and not-found both take every other host: deactivate one of them"
		return 100
	fi
	GENERATION=$(date +%s%N)
	mkdir -p "$ROOT/nginx"
	{
		echo "# generated by sl-activate from $ROOT/routes: do not edit"
		echo 'map $remote_addr $silverlining_outside {'
		echo '	127.0.0.1 0;'
		echo '	::1 0;'
		echo '	default 1;'
		echo '}'
		while read -r host; do
			echo 'server {'
			if [ "$host" = '*' ] || [ "$host" = not-found ]; then
				has_default=1
				printf '\tlisten 80 default_server;\n\tlisten [::]:80 default_server;\n\tserver_name _;\n'
			else
				printf '\tlisten 80;\n\tlisten [::]:80;\n\tserver_name %s;\n' "$host"
			fi
			generation_location
			printf '\terror_page 503 /.silverlining/disabled.html;\n'
			printf '\tlocation = /.silverlining/disabled.html {\n\t\talias %s/pages/disabled.html;\n\t\tinternal;\n\t}\n' "$SHARE"
			awk -v h="$host" '$1 == h {print $2, $3}' "$state" | sort -r | while read -r p inst; do
				route_block "$host" "$p" "$inst" "$(grep -qx "$(app_of "$inst")" "$ROOT/disabled" 2>/dev/null && echo 1 || echo 0)"
			done
			echo '}'
		done < <(awk '{print $1}' "$state" | sort -u)
		if [ "$has_default" = 0 ]; then
			# no route takes every host: the rest get the not-found page
			printf 'server {\n\tlisten 80 default_server;\n\tlisten [::]:80 default_server;\n\tserver_name _;\n'
			generation_location
			printf '\troot %s/pages;\n\terror_page 404 /not-found.html;\n' "$SHARE"
			printf '\tlocation / {\n\t\treturn 404;\n\t}\n\tlocation = /not-found.html {\n\t\tinternal;\n\t}\n}\n'
		fi
	} > "$out" || return 111
	mv "$out" "$ROOT/nginx/routes.conf"
}

# commit_routes: ROOT/routes.new becomes the state, nginx follows gracefully
commit_routes() {
	local rc
	cp "$ROOT/nginx/routes.conf" "$ROOT/nginx/routes.conf.old" 2>/dev/null
	write_routes "$ROOT/routes.new" || { rc=$?; rm -f "$ROOT/routes.new"; die "$rc" "unable to write nginx's routes; nothing switched"; }
	local said
	if ! said=$(nginx -t -q 2>&1); then
		printf '%s\n' "$said" >&2
		mv "$ROOT/nginx/routes.conf.old" "$ROOT/nginx/routes.conf" 2>/dev/null
		rm -f "$ROOT/routes.new"
		die 100 "nginx refused the new routes; nothing switched"
	fi
	rm -f "$ROOT/nginx/routes.conf.old"
	sync "$ROOT/routes.new" 2>/dev/null
	mv "$ROOT/routes.new" "$ROOT/routes" || die 111 "unable to write $ROOT/routes"
	systemctl reload nginx || { rc=$?; die 111 "nginx did not reload (exit status $rc)"; }
	wait_nginx
}

# Returns once nginx answers with the new configuration (reload is asynchronous).
wait_nginx() {
	local i
	for i in $(seq 100); do
		[ "$(curl -s --max-time 1 http://127.0.0.1/.silverlining/generation)" = "$GENERATION" ] && return 0
		sleep 0.05
	done
	say "warning: nginx did not show the new routes within 5 seconds"
}

# Instances that serve nothing any more drain, then stop; prev.* keep theirs.
# The drain unit also disables them: disabling reloads systemd, which must
# not delay a switch or a rollback.
retire_unused() {
	local inst app
	for inst in $(systemctl list-units --plain --no-legend --state=active 'silverlining-instance@*' |
			sed -n 's/^silverlining-instance@\([^ ]*\)\.service.*/\1/p'); do
		awk -v i="$inst" '$3 == i {found = 1} END {exit !found}' "$ROOT/routes" 2>/dev/null && continue
		systemctl is-active -q "silverlining-drain-$inst.timer" && continue
		# an instance of an app being deployed now is being checked: its
		# deploy retires what it replaces itself
		app=$(app_of "$inst")
		[ "$app" != "$LOCKED_APP" ] && [ -e "$ROOT/locks/$app" ] &&
			! flock -n "$ROOT/locks/$app" true && continue
		systemd-run --quiet --collect --unit="silverlining-drain-$inst" --on-active="$DRAIN" \
			--timer-property=AccuracySec=1s \
			systemctl disable --now "$(unit "$inst")" 2>/dev/null &&
			say "$inst serves nothing now; it stops in ${DRAIN}s"
	done
	return 0
}

# --- the instance ------------------------------------------------------------

# The deployment config of INSTANCE, ROOT/configs/INSTANCE: its own (sl-sync
# --config), else a linked copy of the one serving HOST PATH now, else of
# the app's newest. It is the root's and the app's group's alone.
give_config() { # INSTANCE USER; ROUTE: "HOST PATH" as routed, the first location
	local inst=$1 cfg=$ROOT/configs/$1 from= cur
	if [ ! -d "$cfg" ]; then
		# shellcheck disable=SC2086
		cur=$(routes_get $ROUTE)
		# another app's config is never taken (update --name onto its location)
		[ -n "$cur" ] && [ "$(app_of "$cur")" = "$(app_of "$inst")" ] &&
			[ -d "$ROOT/configs/$cur" ] && from=$ROOT/configs/$cur
		[ -n "$from" ] || from=$(find "$ROOT/configs" -mindepth 1 -maxdepth 1 -type d \
			-name "$(app_of "$inst").*" 2>/dev/null | sort | tail -n 1)
		[ -n "$from" ] || return 0
		rm -rf "$ROOT/configs/.copy-$inst"
		cp -al "$from" "$ROOT/configs/.copy-$inst" &&
			mv -T "$ROOT/configs/.copy-$inst" "$cfg" || return 111
		say "$inst uses the config of ${from##*/}"
	fi
	chgrp -R "$2" "$cfg" && chmod -R g+rX,g-w,o-rwx "$cfg" || return 111
}

prepare_instance() { # INSTANCE HOST PATH
	local inst=$1 app user dir=$ROOT/instances/$1 run=$ROOT/run/$1 k v
	app=$(app_of "$inst")
	user=$(app_user "$app") || return
	mkdir -p "$run" || return 111
	sl-app "$dir" > "$run/app" 2> "$run/err" || { cat "$run/err" >&2; return 100; }
	rm -f "$run/err"
	declare -A one=() ; local fetch=() pkgs=() services=()
	while IFS='=' read -r k v; do
		case $k in
		update_fetch) fetch+=("$v") ;;
		packages) pkgs+=("$v") ;;
		service) services+=("$v") ;;
		*) one[$k]=$v ;;
		esac
	done < "$run/app"
	[ "${one[platform]}" = python ] || { say "platform ${one[platform]}: only python is served by this release"; return 100; }
	[ -n "${one[runner]:-}" ] || { say "$inst: app.ini names no runner"; return 100; }
	[ -f "$dir/${one[runner]%%#*}" ] || { say "$inst: the runner ${one[runner]%%#*} is missing"; return 100; }
	if [ ${#pkgs[@]} -gt 0 ]; then
		local missing=() p
		for p in "${pkgs[@]}"; do
			dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
		done
		if [ ${#missing[@]} -gt 0 ]; then
			say "installing ${missing[*]}"
			{ apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
				< /dev/null > "$run/apt.log" 2>&1 || { tail -n 20 "$run/apt.log" >&2; return 111; }
		fi
	fi
	# the user's GECOS records its app: sl-app --user refuses a user that
	# another app owns (a long name's hash is never trusted alone)
	getent passwd "$user" > /dev/null ||
		adduser --quiet --system --group --no-create-home --home "$ROOT/instances" \
			--gecos "silverlining app $app" --shell /usr/sbin/nologin "$user" < /dev/null ||
		return 111
	local s
	for s in "${services[@]}"; do
		command -v "sl-service-$s" >/dev/null || { say "unknown service '$s'"; return 100; }
		sl-service-"$s" install && sl-service-"$s" setup "$app" || {
			local rc=$?
			say "service.$s could not be set up for $app"
			return "$rc"
		}
		if [ -n "$CLEAR" ]; then
			sl-service-"$s" clear "$app" || return
			say "cleared service.$s of $app"
		fi
	done
	install -d -m 755 "$ROOT/secrets" "$ROOT/tmp" "$SOCKETS"
	app_log "$app" "$user" || return 111
	instance_modes "$dir" "$run" "$user" || return 111
	if [ ! -s "$ROOT/secrets/$app" ]; then
		(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$ROOT/secrets/$app") || return 111
	fi
	chown "$user:$user" "$ROOT/secrets/$app" && chmod 600 "$ROOT/secrets/$app" || return 111
	give_config "$inst" "$user" || return
	# the app's environment must come whole (config.required, the services'
	# records): said here, in its own words, not from a unit that failed
	runuser -u "$user" -- sl-env --node "$dir" true 2> "$run/err" || {
		local rc=$?
		cat "$run/err" >&2
		return "$rc"
	}
	# each instance its own TEMP, empty at its start; the serving one keeps its own
	if ! systemctl is-active -q "$(unit "$inst")"; then
		rm -rf "${ROOT:?}/tmp/$inst"
	fi
	install -d -m 700 -o "$user" -g "$user" "$ROOT/tmp/$inst"
	printf '%s %s\n' "$2" "$3" > "$run/location"
	printf 'from silverlining_runner import load\napplication = load(%s, %s)\n' \
		"$(python3 -c 'import sys; print(repr(sys.argv[1]))' "$dir")" \
		"$(python3 -c 'import sys; print(repr(sys.argv[1]))' "${one[runner]}")" > "$run/wsgi.py"
	{
		echo '[uwsgi]'
		echo 'strict = true'
		echo 'plugins = python3'
		echo 'master = true'
		echo "http-socket = $SOCKETS/$inst.sock"
		echo 'chmod-socket = 660'
		echo "chown-socket = $user:www-data"
		echo "uid = $user"
		echo "gid = $user"
		echo "chdir = $dir"
		echo "pythonpath = $SHARE/python"
		echo "wsgi-file = $run/wsgi.py"
		echo 'need-app = true'
		echo "processes = ${one[processes]}"
		echo "threads = ${one[threads]}"
		[ "${one[threads]}" -gt 1 ] && echo 'enable-threads = true'
		echo "harakiri = ${one[timeout]}"
		echo 'harakiri-verbose = true'
		echo 'max-requests = 5000'
		echo "reload-on-rss = ${one[memory_limit]}"
		echo 'die-on-term = true'
		echo 'vacuum = true'
		echo 'buffer-size = 32768'
		echo "logto = $LOGS/apps/$app/app.log"
		echo 'log-x-forwarded-for = true'
	} > "$run/uwsgi.ini" || return 111
	# the whole instance is capped; one worker recycled for memory is not the end of it
	systemctl set-property "$(unit "$inst")" \
		MemoryMax=$(( ${one[processes]} * ${one[memory_limit]} * 2 + 64 ))M 2>/dev/null
	return 0
}

# app_log APP USER: LOGS/apps/APP, the app's SILVER_LOGS, and in it
# app.log, where uWSGI, as root before it becomes the app's user, sends
# the app's log. The directory is root's, sticky, and the app's group
# writes in it: the app makes files of its own there, and cannot remove,
# rename or replace root's app.log. An app.log that is not root's own
# regular file (an older release's, a symlink the app made) is replaced
# by one made under a name of its own and renamed over it.
app_log() {
	local d=$LOGS/apps/$1 f=$LOGS/apps/$1/app.log t
	install -d -m 1770 -o root -g "$2" "$d" || return
	if [ -L "$f" ] || [[ $(stat -c '%F %u %h' "$f" 2>/dev/null) != regular*file\ 0\ 1 ]]; then
		[ -e "$f" ] || [ -L "$f" ] && say "$f was not root's own file: replaced"
		t=$(mktemp "$d/.app.log.XXXXXX") || return
		chown root:"$2" "$t" && chmod 640 "$t" && mv -fT "$t" "$f" || { rm -f "$t"; return 1; }
	fi
	chgrp "$2" "$f" && chmod 640 "$f"
}

# log_tail APP: the end of APP's log, read with the app's own rights
log_tail() {
	local user
	user=$(app_user "$1") || return 0
	runuser -u "$user" -- tail -n 20 "$LOGS/apps/$1/app.log" >&2 2>/dev/null
}

# instance_modes DIR RUN USER: the instance is root's and its app's group's;
# other apps read none of it. static/ is public (nginx serves it), so it
# and the way to it stay open to all.
instance_modes() {
	chown -R root:"$3" "$1" "$2" && chmod -R g+rX,g-w,o-rwx "$1" "$2" || return
	chmod 751 "$1" || return
	if [ -d "$1/static" ] && [ ! -L "$1/static" ]; then
		chmod -R o+rX "$1/static" || return
	fi
	return 0
}

# internal HOST PATH URLPATH: an internal request to the instance; prints the body
internal() { # INSTANCE HOST PATH URL OUT -> HTTP status on stdout
	local script=$3
	[ "$script" = / ] && script=
	curl -sS --max-time "$(( $(sed -n 's/^timeout=//p' "$ROOT/run/$1/app") + 5 ))" \
		--unix-socket "$SOCKETS/$1.sock" -o "$5" -w '%{http_code}' \
		-H "Host: $2" -H 'X-Silverlining-Update: 1' -H "X-Silverlining-Script-Name: $script" \
		"http://localhost$script$4"
}

start_instance() { # INSTANCE: start it, wait for its socket
	local inst=$1 i
	systemctl stop "silverlining-drain-$inst.timer" 2>/dev/null	# it serves again
	install -d -m 755 "$SOCKETS"
	# enabling reloads systemd's configuration: only when it is needed (a rollback
	# to a running instance must stay well under a second)
	if ! systemctl is-enabled -q "$(unit "$inst")" 2>/dev/null; then
		systemctl enable -q "$(unit "$inst")" || return 111
	fi
	if systemctl is-active -q "$(unit "$inst")" && [ -S "$SOCKETS/$inst.sock" ]; then
		return 0
	fi
	rm -f "$SOCKETS/$inst.sock"	# uWSGI may not remove it (the directory is root's)
	systemctl start "$(unit "$inst")" || return 111
	for i in $(seq 300); do
		[ -S "$SOCKETS/$inst.sock" ] && return 0
		systemctl is-active -q "$(unit "$inst")" || break
		sleep 0.1
	done
	say "$inst did not start; its log says:"
	log_tail "$(app_of "$inst")"
	return 100
}

# fetch_script INSTANCE USER CMD: an update_fetch script, as the app's user
# in its environment, in a scope unit of its own that systemd stops after
# FETCH_LIMIT seconds, every process it started with it. The script is
# this process's child: its own exit status comes back, a signal's too.
# 124: stopped at the limit.
fetch_script() {
	local dir=$ROOT/instances/$1 rc t0=$SECONDS
	(cd "$dir" && exec systemd-run --quiet --scope --collect --unit="silverlining-fetch-$1" \
		--uid="$2" --gid="$2" -p RuntimeMaxSec="$FETCH_LIMIT" \
		sl-env --node "$dir" -- sh -c "$3")
	rc=$?
	[ $rc -ne 0 ] && [ $(( SECONDS - t0 )) -ge "$FETCH_LIMIT" ] && return 124
	return $rc
}

# The gate: every update_fetch entry, then the health check.
gate() { # INSTANCE HOST PATH
	local inst=$1 k v status out rc=0 user dir=$ROOT/instances/$1
	user=$(app_user "$(app_of "$inst")") || return 100
	out=$(mktemp)
	while IFS='=' read -r k v; do
		case $k in
		update_fetch)
			if [ "${v#script:}" != "$v" ]; then
				say "update_fetch $v:"
				fetch_script "$inst" "$user" "${v#script:}" < /dev/null >&2
				rc=$?
				if [ $rc -eq 124 ]; then
					say "update_fetch $v ran longer than $FETCH_LIMIT seconds: stopped"
					rc=100; break
				fi
				[ $rc -eq 0 ] || { say "update_fetch $v failed with exit status $rc"; rc=100; break; }
			else
				status=$(internal "$inst" "$2" "$3" "$v" "$out")
				say "update_fetch $v: $status"
				cat "$out" >&2
				case $status in 2??) ;; *) rc=100; break ;; esac
			fi ;;
		esac
	done < "$ROOT/run/$inst/app"
	if [ $rc -eq 0 ]; then
		local path
		path=$(sed -n 's/^health_check=//p' "$ROOT/run/$inst/app")
		status=$(internal "$inst" "$2" "$3" "${path:-/}" "$out")
		say "health check ${path:-/}: $status"
		if [ -n "$path" ]; then
			case $status in 2??) ;; *) cat "$out" >&2; rc=100 ;; esac
		else
			case $status in [1-4]??) ;; *) cat "$out" >&2; rc=100 ;; esac
		fi
	fi
	rm -f "$out"
	if [ $rc -ne 0 ] && [ "${status:-}" = 000 ]; then
		say "$inst is not answering; its log says:"
		log_tail "$(app_of "$inst")"
	fi
	return $rc
}

# canonical: from "HOST PATH" lines, the shortest real host (a wildcard's
# domain; the node's own name for * and not-found) and its path
canonical() {
	awk -v node="$(hostname)" '{h = $1; sub(/^\./, "", h); sub(/^prev\./, "", h)
		if (h == "*" || h == "not-found") h = node; print length(h), h, $2}' |
		sort -n | head -n 1 | cut -d' ' -f2-
}

activate() { # INSTANCE LOCATION...
	local inst=$1 hp host path first= old rc
	shift
	valid_instance "$inst" || die 100 "invalid instance name '$inst'"
	[ -d "$ROOT/instances/$inst" ] || die 100 "no instance $inst on this node"
	local locs=()
	for loc in "$@"; do
		hp=$(parse_location "$loc") || exit
		locs+=("$hp")
	done
	first=$(printf '%s\n' "${locs[@]}" | canonical)
	ROUTE=${locs[0]}
	local t0 t1 t2 t3
	t0=$(date +%s%N)
	lock_app "$(app_of "$inst")"
	prepare_instance "$inst" $first || { rc=$?; die "$rc" "$inst was not started; nothing switched"; }
	t1=$(date +%s%N)
	start_instance "$inst" && t2=$(date +%s%N) || t2=
	if [ -z "$t2" ] || ! gate "$inst" $first; then
		awk -v i="$inst" '$3 == i {f = 1} END {exit !f}' "$ROOT/routes" 2>/dev/null ||
			systemctl disable -q --now "$(unit "$inst")"
		die 100 "$inst failed its checks; nothing switched, the old instance keeps serving"
	fi
	lock
	rm -f "$ROOT/routes.new"
	# a switch that fails must not leave the new instance running
	ACTIVATING=$inst
	trap 'awk -v i="$ACTIVATING" '"'"'$3 == i {f = 1} END {exit !f}'"'"' "$ROOT/routes" 2>/dev/null ||
		systemctl disable -q --now "$(unit "$ACTIVATING")"' EXIT
	for hp in "${locs[@]}"; do
		read -r host path <<<"$hp"
		old=$(routes_get "$host" "$path")
		routes_set "$host" "$path" "$inst"
		[ -n "$old" ] && [ "$old" != "$inst" ] && [ "${host#prev.}" = "$host" ] &&
			routes_set "prev.${host#.}" "$path" "$old"
	done
	t3=$(date +%s%N)
	commit_routes
	trap - EXIT
	retire_unused
	say "$inst: prepare $(ms "$t0" "$t1"), start $(ms "$t1" "$t2"), checks $(ms "$t2" "$t3"), switch $(ms "$t3" "$(date +%s%N)")"
	for hp in "${locs[@]}"; do
		read -r host path <<<"$hp"
		case $host in
		'*'|not-found) printf 'http://%s%s (every other host)\n' "$(hostname)" "${path%/}" ;;
		*) printf 'http://%s%s\n' "${host#.}" "${path%/}" ;;
		esac
	done
}

ms() { printf '%d.%03d s' $(( ($2 - $1) / 1000000000 )) $(( ($2 - $1) / 1000000 % 1000 )); }

rollback() { # LOCATION: swap it with prev.LOCATION
	local hp host path cur prev
	hp=$(parse_location "$1") || exit
	read -r host path <<<"$hp"
	local t0 t1 t2 t3
	t0=$(date +%s%N)
	lock
	t1=$(date +%s%N)
	cur=$(routes_get "$host" "$path")
	prev=$(routes_get "prev.${host#.}" "$path")
	[ -n "$prev" ] || die 1 "no previous instance for $host${path%/}"
	[ -d "$ROOT/instances/$prev" ] || die 100 "the previous instance $prev was removed (clean-node)"
	printf '%s %s\n' "$host" "$path" | canonical > "$ROOT/run/$prev/location"
	start_instance "$prev" || die 100 "$prev did not start; nothing switched"
	t2=$(date +%s%N)
	rm -f "$ROOT/routes.new"
	routes_set "$host" "$path" "$prev"
	[ -n "$cur" ] && routes_set "prev.${host#.}" "$path" "$cur"
	commit_routes
	t3=$(date +%s%N)
	retire_unused
	say "$prev: lock $(ms "$t0" "$t1"), start $(ms "$t1" "$t2"), switch $(ms "$t2" "$t3"), retire $(ms "$t3" "$(date +%s%N)")"
	printf '%s\n' "$prev"
}

# deactivate [--keep-prev] LOCATION...: a location that names a route removes
# it (and its prev.); otherwise its host is a pattern (*, *.example.com) and
# a path of / matches every path.
deactivate() {
	local keep=0 hp host path h p i n=0 exact
	[ "${1:-}" = --keep-prev ] && { keep=1; shift; }
	[ $# -gt 0 ] || usage
	lock
	rm -f "$ROOT/routes.new"
	for loc in "$@"; do
		hp=$(parse_location --any "$loc") || exit
		read -r host path <<<"$hp"
		exact=$(routes_get "$host" "$path")
		while read -r h p i; do
			[ -n "$h" ] || continue
			if [ -n "$exact" ]; then
				[ "$h" = "$host" ] || [ "$h" = "prev.${host#.}" ] || continue
				[ "$p" = "$path" ] || continue
			else
				# shellcheck disable=SC2053
				[[ $h == $host || $h == prev.${host#.} ]] || continue
				[ "$p" = "$path" ] || [ "$path" = / ] || continue
			fi
			[ $keep = 1 ] && [ "${h#prev.}" != "$h" ] && [ "${host#prev.}" = "$host" ] && continue
			routes_set "$h" "$p" -
			n=$((n + 1))
		done < <(cat "$ROOT/routes" 2>/dev/null)
	done
	[ $n -gt 0 ] || { rm -f "$ROOT/routes.new"; die 1 "nothing is mapped at $*"; }
	commit_routes
	retire_unused
}

# --- an instance that keeps failing -------------------------------------------
#
# systemd restarts an instance that fails (Restart=on-failure) without a
# start limit; these hooks of its unit space the restarts out: none for
# the first, then 2, 4, 8, 16 and at most 30 seconds. A run of more than a
# minute counts as recovered. FAILING/INSTANCE holds "FAILURES STARTED"
# while it fails; sl-query shows such an instance as failing.

unit_start() { # ExecStartPre: wait out the back-off, note the start
	local f=$FAILING/$1 n=0 since delay
	valid_instance "$1" || die 100 "invalid instance name '$1'"
	[ -s "$f" ] && read -r n since < "$f"
	[[ $n =~ ^[0-9]+$ ]] || n=0
	if [ "$n" -ge 2 ]; then
		delay=$(( n > 5 ? 30 : 1 << (n - 1) ))
		say "$1 failed $n times in a row: starting it again in ${delay}s"
		sleep "$delay"
	fi
	[ "$n" -ge 1 ] && printf '%s %s\n' "$n" "$(date +%s)" > "$f.new" && mv "$f.new" "$f"
	return 0
}

unit_stop() { # ExecStopPost: SERVICE_RESULT says how it ended
	local f=$FAILING/$1 n=0 since=0 now
	valid_instance "$1" || die 100 "invalid instance name '$1'"
	if [ "${SERVICE_RESULT:-success}" = success ]; then
		rm -f "$f"
		return 0
	fi
	install -d -m 755 "$FAILING" || return 0
	now=$(date +%s)
	[ -s "$f" ] && read -r n since < "$f"
	[[ $n =~ ^[0-9]+$ ]] && [[ $since =~ ^[0-9]+$ ]] || { n=0; since=$now; }
	# up for more than a minute: a new failure, not the same one again
	[ $(( now - since )) -gt 60 ] && n=0
	printf '%s %s\n' "$(( n + 1 ))" "$since" > "$f.new" && mv "$f.new" "$f"
	say "$1 stopped (${SERVICE_RESULT:-}, ${EXIT_CODE:-} ${EXIT_STATUS:-}): failure $(( n + 1 ))"
	return 0
}

set_disabled() { # 1|0 LOCATION: the app serving LOCATION
	local hp host path inst app
	hp=$(parse_location "$2") || exit
	read -r host path <<<"$hp"
	lock
	inst=$(routes_get "$host" "$path")
	[ -n "$inst" ] || die 1 "nothing is mapped at $2"
	app=$(app_of "$inst")
	touch "$ROOT/disabled"
	grep -vx "$app" "$ROOT/disabled" > "$ROOT/disabled.new"
	[ "$1" = 1 ] && echo "$app" >> "$ROOT/disabled.new"
	mv "$ROOT/disabled.new" "$ROOT/disabled"
	cp "$ROOT/routes" "$ROOT/routes.new"
	commit_routes
	printf '%s %s\n' "$app" "$([ "$1" = 1 ] && echo disabled || echo enabled)"
}

[ $# -gt 0 ] || usage
case $1 in
-h|--help) printf 'usage: %s\n' "$USAGE" || exit 111; exit 0 ;;
--version) printf 'sl-activate %s\n' "$VERSION" || exit 111; exit 0 ;;
--routes|--deactivate|--disable|--enable|--clear|--unit-start|--unit-stop) ;;
-*) printf '%s: fatal: unknown option %s\n' "$prog" "$1" >&2; usage ;;
esac
[ "$(id -u)" -eq 0 ] || die 100 "sl-activate runs as root on the node"
case $1 in
--routes)	# nginx follows the state; reloaded only when it runs
	[ $# -eq 1 ] || usage
	lock
	touch "$ROOT/routes"
	write_routes "$ROOT/routes" || die $? "unable to write nginx's routes"
	if systemctl is-active -q nginx; then
		nginx -t -q && systemctl reload nginx || die 111 "nginx did not take the routes"
		wait_nginx
	fi ;;
--deactivate) shift; deactivate "$@" ;;
--unit-start) [ $# -eq 2 ] || usage; unit_start "$2" ;;
--unit-stop) [ $# -eq 2 ] || usage; unit_stop "$2" ;;
--disable) [ $# -eq 2 ] || usage; set_disabled 1 "$2" ;;
--enable) [ $# -eq 2 ] || usage; set_disabled 0 "$2" ;;
prev) [ $# -eq 2 ] || usage; rollback "$2" ;;
--clear) shift; CLEAR=1; [ $# -ge 2 ] || usage; activate "$@" ;;
-*) usage ;;
*) [ $# -ge 2 ] || usage; activate "$@" ;;
esac
