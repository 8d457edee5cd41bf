#!/bin/bash
# silverlining — silver: the verbs, each run by an sl-* tool (silver(1)).
set -u

VERSION=@VERSION@
USAGE='silver [-y] [-q|-v] VERB [OPTIONS] ARGS...'

# verb, the tool (and its first words), its usage after `silver VERB` ("-":
# none), what it does: the one table of verbs
VERBS='env	sl-env	[-0] [--config DIR] [--node] APPDIR [-- COMMAND [ARG...]]	print the environment of an app, or run a command in it
init	sl-init	[-f] DIR	a new app: app.ini, a runner, static/, lib/python/
serve	sl-serve	[--host HOST] [--port PORT] [--config DIR] APPDIR	run an app here with its production environment and rules
setup-node	sl-provision	[--accept-new] [-i FILE] [--timeout SECONDS] [--deb FILE] NODE	make a bare Debian 12 server a node (re-run to upgrade)
create-node	sl-node create	[--provider local] [--key FILE.pub] NAME	make a local node on this machine (--provider local)
destroy-node	sl-node destroy	NAME	remove a local node
list-nodes	sl-node list	-	list the local nodes
update	sl-sync	[--node NODE] [--clear] [--config DIR] [--name APP] [--acme-directory URL | --acme-staging] [--acme-email ADDR] [--hsts | --no-hsts] DIR [LOCATION]	upload an app, check the new instance, switch LOCATION to it
activate	sl-remote	[--node NODE] [--acme-directory URL | --acme-staging] [--acme-email ADDR] [--hsts | --no-hsts] LOCATION INSTANCE|prev	point LOCATION at an instance; prev rolls back
deactivate	sl-remote	[--node NODE] [--keep-prev] LOCATION...	remove mappings (--keep-prev keeps the rollback)
query	sl-remote	[--node NODE | NODE] [APP...]	apps, instances, locations, disabled apps and TLS state of a node
clean-node	sl-remote	[-n] [--keep N] [--node NODE | NODE]	remove instances nothing needs (-n: only show)
disable	sl-remote	[--node NODE] LOCATION	take the app at LOCATION offline (503)
enable	sl-remote	[--node NODE] LOCATION	bring it back
logs	sl-remote	[--node NODE] [-f] LOCATION	the log of the app at LOCATION (-f follows)
jobs	sl-remote	[--node NODE] NODE|LOCATION	the scheduled jobs of a node, or of the app at LOCATION: last and next run, status
run-job	sl-remote	[--node NODE] LOCATION JOB	run a job of the app at LOCATION now, and report its status
backup	sl-remote-backup	[--node NODE] LOCATION DEST	back up the services of the app at LOCATION into DEST (dir or .tar.gz)
restore	sl-remote-backup	[--node NODE] BACKUP LOCATION	load a backup into the app at LOCATION
clear	sl-remote	[--node NODE] LOCATION	wipe the data of the services of the app at LOCATION, then update_fetch
run	sl-remote-run	[--node NODE] [--user app|root] [-i] LOCATION SCRIPT [ARG...]	run a script of the app at LOCATION on its node, in its environment
create-config	sl-config	DIR OUT [VAR=VALUE...] | silver create-config --info DIR	fill the app'"'"'s config.template into a deployment config
diff	sl-sync	[--node NODE] DIR [LOCATION]	what an update of DIR would change at LOCATION (nothing is sent)
install-cert	sl-remote	[--node NODE | NODE] CHAIN.pem KEY.pem	install a certificate chain and its key on a node (they win over ACME)
list-certs	sl-remote	[--node NODE | NODE]	the certificates a node holds: hosts, source, expiry
renew-certs	sl-remote	[--force] [--node NODE | NODE] [HOST...]	renew the certificates that are due now (--force: all of them)'

prog=silver
# --acme-staging: Let's Encrypt's staging directory
ACME_STAGING=https://acme-staging-v02.api.letsencrypt.org/directory
ACME_BOTH='--acme-staging and --acme-directory name two directories: give one'
# @PRELUDE@

# The global options reach the tools as SL_* variables: SILVER_* and
# CONFIG_* belong to the app's environment, which sl-env rebuilds.
here=$(dirname -- "$0")


# say TEXT: print TEXT and exit 0, or 111 if it could not be written
say() {
	printf '%s\n' "$1" 2>/dev/null || die 111 "unable to write to standard output"
	exit 0
}

usage() {
	printf 'usage: %s\n\nverbs:\n' "$USAGE"
	printf '%s\n' "$VERBS" | while IFS='	' read -r verb tool use what; do
		printf '  %-14s %s\n' "$verb" "$what"
	done
	printf '\nsilver VERB --help gives a verb'"'"'s usage, silver-VERB(1) its page; silver(7) the whole.\n'
}

while [ $# -gt 0 ]; do
	case $1 in
	-y|--yes) SL_YES=1; export SL_YES ;;
	-q|--quiet) SL_VERBOSITY=0; export SL_VERBOSITY ;;
	-v|--verbose) SL_VERBOSITY=2; export SL_VERBOSITY ;;
	-h|--help) text=$(usage); say "$text" ;;
	--version) say "silver $VERSION" ;;
	--) shift; break ;;
	-*) printf '%s: usage: %s\n' "$prog" "$USAGE" >&2; exit 100 ;;
	*) break ;;
	esac
	shift
done

[ $# -gt 0 ] || { printf '%s: usage: %s\n' "$prog" "$USAGE" >&2; exit 100; }
verb=$1
shift

row=$(printf '%s\n' "$VERBS" | while IFS='	' read -r v t use what; do
	[ "$v" = "$verb" ] && printf '%s\t%s\n' "$t" "$use"
done)
[ -n "$row" ] || die 127 "unknown verb '$verb' (silver --help lists the verbs)"
tool=${row%%	*}
verb_usage="silver $verb ${row#*	}"
[ "${row#*	}" = - ] && verb_usage="silver $verb"
case ${1:-} in
-h|--help) say "usage: $verb_usage" ;;
esac

# create-node picks a provider; local is the only one built
if [ "$verb" = create-node ] && [ "${1:-}" = --provider ]; then
	[ $# -ge 2 ] || die 100 "--provider needs a name"
	[ "$2" = local ] || die 100 "unknown provider '$2': only local is built"
	shift 2
fi

# The verbs that reach a node take its options before their operands:
# --node NODE (else the location's host), and the transport's own.
node= ssh=() keep=() follow=() dry=() SL_CLEAR=() upd=() as=() tty=() force=()
acme=() hsts=() staging=
case $verb in
update|activate|deactivate|query|clean-node|disable|enable|logs|backup|restore|clear|run|diff|\
install-cert|list-certs|renew-certs|jobs|run-job)
	while [ $# -gt 0 ]; do
		case $verb:$1 in
		renew-certs:--force) force=(--force); shift; continue ;;
		update:--acme-directory|activate:--acme-directory|update:--acme-email|activate:--acme-email)
			[ $# -ge 2 ] || die 100 "$1 needs a value"
			if [ "$1" = --acme-directory ]; then
				[ "$staging" != staging ] || die 100 "$ACME_BOTH"
				staging=directory
			fi
			acme+=("$1" "$2"); shift 2; continue ;;
		update:--acme-staging|activate:--acme-staging)
			[ "$staging" != directory ] || die 100 "$ACME_BOTH"
			[ -n "$staging" ] || acme+=(--acme-directory "$ACME_STAGING")
			staging=staging; shift; continue ;;
		update:--hsts|activate:--hsts|update:--no-hsts|activate:--no-hsts)
			[ ${#hsts[@]} -eq 0 ] || [ "${hsts[0]}" = "$1" ] || die 100 "--hsts and --no-hsts: give one"
			hsts=("$1"); shift; continue ;;
		deactivate:--keep-prev) keep=(--keep-prev); shift; continue ;;
		run:-i|run:--interactive) tty=(-t); shift; continue ;;
		run:--user) [ $# -ge 2 ] || die 100 "--user needs app or root"
			case $2 in app|root) ;; *) die 100 "--user $2: app or root" ;; esac
			as=(--user "$2"); shift 2; continue ;;
		logs:-f) follow=(-f); shift; continue ;;
		clean-node:-n) dry=(-n); shift; continue ;;
		clean-node:--keep) [[ ${2:-} =~ ^[0-9]+$ ]] || die 100 "--keep needs a number of instances"
			dry+=(--keep "$2"); shift 2; continue ;;
		esac
		case $1 in
		--node) [ $# -ge 2 ] || die 100 "--node needs a node"; node=$2; shift 2 ;;
		--node=*) node=${1#--node=}; shift ;;
		-i|--identity) [ $# -ge 2 ] || die 100 "$1 needs a key file"; ssh+=(-i "$2"); shift 2 ;;
		--timeout) [ $# -ge 2 ] || die 100 "$1 needs a value"; ssh+=("$1" "$2"); shift 2 ;;
		--timeout=*) ssh+=("$1"); shift ;;
		--accept-new) ssh+=("$1"); shift ;;
		--clear) [ "$verb" = update ] || die 100 "--clear is an option of update"
			SL_CLEAR=(--clear); shift ;;
		--config|--name)
			[ "$verb" = update ] || die 100 "$1 is an option of update"
			[ $# -ge 2 ] || die 100 "$1 needs a value"
			upd+=("$1" "$2"); shift 2 ;;
		--config=*|--name=*)
			[ "$verb" = update ] || die 100 "${1%%=*} is an option of update"
			upd+=("$1"); shift ;;
		*) break ;;
		esac
	done ;;
esac

# node_of [--deploy] LOCATION: the node is the location's host, unless --node
# named it. sl-route parses it (a place to deploy to is not prev.*), so a
# bad location is refused here, before anything is sent.
node_of() {
	local flags=(--prev --https) host
	[ "$1" = --deploy ] && { flags=(--https); shift; }
	host=$(PATH=$here:$PATH sl-route --parse "${flags[@]}" "$1") || exit
	host=${host% *}
	[ -n "$node" ] && { printf '%s\n' "$node"; return; }
	case $host in
	\*|.*|prev.*|not-found) die 100 "the location '$1' names no node: give --node NODE" ;;
	esac
	printf 'root@%s\n' "$host"
}

need() { # COUNT AT-LEAST [AT-MOST]: so many operands, else the verb's usage
	if [ "$1" -lt "$2" ]; then
		printf '%s: usage: %s\n' "$prog" "$verb_usage" >&2
		exit 100
	fi
	if [ $# -ge 3 ] && [ "$1" -gt "$3" ]; then
		printf '%s: fatal: too many operands\n%s: usage: %s\n' "$prog" "$prog" "$verb_usage" >&2
		exit 100
	fi
}

case $verb in
update|diff)
	need $# 1 2
	dir=$1
	loc=${2:-}
	if [ -z "$loc" ]; then
		app=$(PATH=$here:$PATH sl-app "$dir") || exit
		loc=$(sed -n 's/^default_location=//p' <<<"$app")
		[ -n "$loc" ] || die 100 "no LOCATION given and $dir/app.ini has no default_location"
	fi
	n=$(node_of --deploy "$loc") || exit
	if [ "$verb" = diff ]; then
		set -- "${ssh[@]}" --diff "$loc" "$dir" "$n"
	else
		set -- "${ssh[@]}" "${SL_CLEAR[@]}" "${upd[@]}" "${acme[@]}" "${hsts[@]}" \
			--activate "$loc" "$dir" "$n"
	fi ;;
run)	# sl-remote-run sends the local files the arguments name
	need $# 2
	n=$(node_of "$1") || exit
	set -- "${tty[@]}" "${ssh[@]}" "${as[@]}" "$n" "$@" ;;
activate)
	need $# 2 2
	n=$(node_of "$1") || exit
	set -- "${ssh[@]}" "$n" sl-activate "${acme[@]}" "${hsts[@]}" "$2" "$1" ;;
deactivate)
	need $# 1
	n=$(node_of "$1") || exit
	set -- "${ssh[@]}" "$n" sl-activate --deactivate "${keep[@]}" "$@" ;;
query)	# the node: --node, or the first operand
	[ -n "$node" ] || { need $# 1; node=$1; shift; }
	set -- "${ssh[@]}" "$node" sl-query "$@" ;;
clean-node)	# its options may also follow the node
	[ -n "$node" ] || { need $# 1; node=$1; shift; }
	while [ $# -gt 0 ]; do
		case $1 in
		-n) dry+=(-n); shift ;;
		--keep) [[ ${2:-} =~ ^[0-9]+$ ]] || die 100 "--keep needs a number of instances"
			dry+=(--keep "$2"); shift 2 ;;
		*) need $# 0 0 ;;
		esac
	done
	set -- "${ssh[@]}" "$node" sl-query --clean "${dry[@]}" ;;
install-cert)	# the chain and the key on the node's stdin, never in an argv
	[ -n "$node" ] || { need $# 1; node=$1; shift; }
	need $# 2 2
	for f; do
		[ -f "$f" ] && [ -r "$f" ] || die 100 "unable to read $f: give a PEM file"
	done
	exec < <(cat -- "$1" "$2")
	set -- "${ssh[@]}" "$node" sl-cert install ;;
list-certs)
	[ -n "$node" ] || { need $# 1; node=$1; shift; }
	need $# 0 0
	set -- "${ssh[@]}" "$node" sl-cert list ;;
renew-certs)
	[ -n "$node" ] || { need $# 1; node=$1; shift; }
	set -- "${ssh[@]}" "$node" sl-cert renew "${force[@]}" "$@" ;;
disable|enable)
	need $# 1 1
	n=$(node_of "$1") || exit
	set -- "${ssh[@]}" "$n" sl-activate "--$verb" "$1" ;;
logs)
	need $# 1 1
	n=$(node_of "$1") || exit
	set -- "${ssh[@]}" "$n" sl-query --logs "${follow[@]}" "$1" ;;
jobs)	# NODE (user@host: the node's jobs) or LOCATION (its host is the node;
	# one that nothing is mapped at, with no path, names the node too)
	need $# 1 1
	case $1 in
	*@*) [ -n "$node" ] || node=$1; set -- "${ssh[@]}" "$node" sl-job --list ;;
	*) n=$(node_of "$1") || exit
	   set -- "${ssh[@]}" "$n" sl-job --list "$1" ;;
	esac ;;
run-job)
	need $# 2 2
	n=$(node_of "$1") || exit
	set -- "${ssh[@]}" "$n" sl-job --run "$1" "$2" ;;
backup)	# into DEST.tar.gz, or unpacked into the directory DEST (sl-remote-backup)
	need $# 2 2
	n=$(node_of "$1") || exit
	set -- "${ssh[@]}" "$n" "$1" "$2" ;;
restore)
	need $# 2 2
	n=$(node_of "$2") || exit
	set -- --restore "${ssh[@]}" "$n" "$1" "$2" ;;
clear)
	need $# 1 1
	if [ -z "${SL_YES:-}" ]; then
		[ -t 0 ] || die 100 "clear wipes the data of the app at $1: confirm with silver -y clear"
		printf 'Wipe the data of the app at %s? [y/N] ' "$1" >&2
		read -r answer
		case $answer in y|Y|yes) ;; *) exit 1 ;; esac
	fi
	n=$(node_of "$1") || exit
	set -- "${ssh[@]}" "$n" sl-backup --clear "$1" ;;
*)
	set -- ${tool#* } "$@"
	[ "$tool" = "${tool%% *}" ] && shift ;;
esac
tool=${tool%% *}

# The tools installed beside silver come first, so a build tree runs its own.
if [ -x "$here/$tool" ]; then
	exec "$here/$tool" "$@"
fi
command -v "$tool" >/dev/null 2>&1 || die 127 "$tool not found beside $0 or on PATH"
exec "$tool" "$@"
