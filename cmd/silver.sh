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
setup-node	sl-provision	[--accept-new] [-i FILE] [--timeout SECONDS] [--deb FILE] [--nodeset NAME | --push-backups-to TARGET] [NODE]	make a bare Debian 12 server a node (re-run to upgrade)
create-node	sl-node create	[--provider local] [--key FILE.pub] NAME	make a local node on this machine (--provider local)
destroy-node	sl-node destroy	NAME	remove a local node
list-nodes	sl-node list	-	list the local nodes
update	sl-sync	[--node NODE | --nodeset NAME [--rolling] [--skip NODE]...] [--clear] [--config DIR] [--name APP] [--acme-directory URL | --acme-staging] [--acme-email ADDR] [--hsts | --no-hsts] DIR [LOCATION]	upload an app, check the new instance, switch LOCATION to it
activate	sl-remote	[--node NODE | --nodeset NAME [--rolling]] [--acme-directory URL | --acme-staging] [--acme-email ADDR] [--hsts | --no-hsts] LOCATION INSTANCE|prev	point LOCATION at an instance; prev rolls back
deactivate	sl-remote	[--node NODE | --nodeset NAME] [--keep-prev] LOCATION...	remove mappings (--keep-prev keeps the rollback)
query	sl-remote	[--node NODE | --nodeset NAME | NODE] [APP...]	apps, instances, locations, disabled apps and TLS state of a node
clean-node	sl-remote	[-n] [--keep N] [--node NODE | --nodeset NAME | NODE]	remove instances nothing needs (-n: only show)
disable	sl-remote	[--node NODE | --nodeset NAME] LOCATION	take the app at LOCATION offline (503)
enable	sl-remote	[--node NODE | --nodeset NAME] LOCATION	bring it back
logs	sl-remote	[--node NODE | --nodeset NAME] [-f] LOCATION	the log of the app at LOCATION (-f follows)
jobs	sl-remote	[--node NODE | --nodeset NAME] NODE|LOCATION	the scheduled jobs of a node, or of the app at LOCATION: last and next run, status
run-job	sl-remote	[--node NODE] LOCATION JOB	run a job of the app at LOCATION now, and report its status
backup	sl-remote-backup	[--node NODE] LOCATION DEST	back up the services of the app at LOCATION into DEST (dir or .tar.gz)
restore	sl-remote-backup	[--node NODE] BACKUP LOCATION | silver restore [--node NODE] --stored STAMP LOCATION	load a backup, or one the node stored, into the app at LOCATION
backups	sl-remote	[--node NODE] [--schedule SCHEDULE|off] [--keep-daily N] [--keep-weekly N] NODE|LOCATION	the scheduled backups a node stored, verified or bad; or set when the app at LOCATION is backed up
clear	sl-remote	[--node NODE] LOCATION	wipe the data of the services of the app at LOCATION, then update_fetch
run	sl-remote-run	[--node NODE] [--user app|root] [-i] LOCATION SCRIPT [ARG...]	run a script of the app at LOCATION on its node, in its environment
create-config	sl-config	DIR OUT [VAR=VALUE...] | silver create-config --info DIR	fill the app'"'"'s config.template into a deployment config
diff	sl-sync	[--node NODE] DIR [LOCATION]	what an update of DIR would change at LOCATION (nothing is sent)
install-cert	sl-remote	[--node NODE | --nodeset NAME | NODE] CHAIN.pem KEY.pem	install a certificate chain and its key on a node (they win over ACME)
list-certs	sl-remote	[--node NODE | --nodeset NAME | NODE]	the certificates a node holds: hosts, source, expiry
failover	sl-nodeset	[--accept-new] [-i FILE] [--timeout SECONDS] [--rebuild] [--to NODE] --nodeset NAME	fail the databases of a nodeset over to a standby: fence, promote, re-point the app nodes
renew-certs	sl-remote	[--force] [--node NODE | --nodeset NAME | NODE] [HOST...]	renew the certificates that are due now (--force: all of them)'

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

# resolve NODE: the address of a node as a user names it (a local node's
# name: root@ITS-IP), by sl-nodeset(1)
resolve() {
	[ "${1#-}" = "$1" ] || die 100 "invalid node '$1': an option of $verb goes before its operands"
	PATH=$here:$PATH sl-nodeset --node "$1"
}

# The verbs that reach a node take its options before their operands:
# --node NODE (else the location's host), and the transport's own.
node= nodeset= each=() skip=() ssh=() keep=() follow=() dry=() SL_CLEAR=() upd=() as=() tty=() force=()
stored= sched=(- - -) fo=()
acme=() hsts=() staging= balancer=
case $verb in
update|activate|deactivate|query|clean-node|disable|enable|logs|backup|restore|clear|run|diff|\
install-cert|list-certs|renew-certs|jobs|run-job|backups|failover)
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
		restore:--stored) [ $# -ge 2 ] || die 100 "--stored needs a backup's stamp"
			stored=$2; shift 2; continue ;;
		backups:--schedule|backups:--keep-daily|backups:--keep-weekly)
			[ $# -ge 2 ] || die 100 "$1 needs a value"
			case $1 in
			--schedule) sched[0]=$2 ;;
			--keep-daily) sched[1]=$2 ;;
			*) sched[2]=$2 ;;
			esac
			shift 2; continue ;;
		failover:--to) [ $# -ge 2 ] || die 100 "--to needs a service node"
			fo+=(--to "$2"); shift 2; continue ;;
		failover:--rebuild) fo+=(--rebuild); shift; continue ;;
		clean-node:-n) dry=(-n); shift; continue ;;
		clean-node:--keep) [[ ${2:-} =~ ^[0-9]+$ ]] || die 100 "--keep needs a number of instances"
			dry+=(--keep "$2"); shift 2; continue ;;
		esac
		case $1 in
		--node) [ $# -ge 2 ] || die 100 "--node needs a node"; node=$2; shift 2 ;;
		--node=*) node=${1#--node=}; shift ;;
		--nodeset) [ $# -ge 2 ] || die 100 "--nodeset needs a nodeset's name"; nodeset=$2; shift 2 ;;
		--nodeset=*) nodeset=${1#--nodeset=}; shift ;;
		--rolling) case $verb in update|activate) ;; *) die 100 "--rolling is an option of update and activate" ;; esac
			each=(--rolling); shift ;;
		--skip) [ "$verb" = update ] || die 100 "--skip is an option of update"
			[ $# -ge 2 ] || die 100 "--skip needs a node"; skip+=("$2"); shift 2 ;;
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
	done
	[ -z "$node" ] || [ -z "$nodeset" ] || die 100 "--node and --nodeset: give one"
	[ -n "$nodeset" ] || [ ${#each[@]} -eq 0 ] || die 100 "--rolling needs --nodeset NAME"
	[ -n "$nodeset" ] || [ ${#skip[@]} -eq 0 ] || die 100 "--skip needs --nodeset NAME"
	[ "$verb" != failover ] || { [ -n "$nodeset" ] && [ -z "$node" ]; } ||
		die 100 "failover works on a nodeset's service nodes: give --nodeset NAME"
	[ -z "$node" ] || node=$(resolve "$node") || exit
	case $verb in
	backup|restore|clear|run|diff|run-job|backups) [ -z "$nodeset" ] ||
		die 100 "$verb works on one node (each node holds its own data and instances): give --node NODE, not --nodeset" ;;
	logs) [ -z "$nodeset" ] || [ ${#follow[@]} -eq 0 ] || die 100 "logs -f follows one node: give --node NODE, not --nodeset" ;;
	esac ;;
esac

# node_of [--deploy] LOCATION: the node is the location's host, unless --node
# named it. sl-route parses it (a place to deploy to is not prev.*), so a
# bad location is refused here, before anything is sent.
node_of() {
	local flags=(--prev --https) host
	[ "$1" = --deploy ] && { flags=(--https); shift; }
	host=$(PATH=$here:$PATH sl-route --parse "${flags[@]}" "$1") || exit
	host=${host% *}
	[ -n "$node$nodeset" ] && { printf '%s\n' "${node:-$nodeset}"; return; }
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

# operand_node ARGS...: with neither --node nor --nodeset, the first operand
# is the node (resolved): false then, for the caller to shift it. With
# --nodeset, NODE is the nodeset's name for the mapping at the end.
operand_node() {
	[ -z "$nodeset" ] || node=$nodeset
	[ -z "$node" ] || return 0
	need $# 1
	node=$(resolve "$1") || exit
	return 1
}

# set_nodes: the nodeset's app nodes into apps, its service nodes into
# services, its balancer (or "") into balancer
set_nodes() {
	local out kind addr
	out=$(PATH=$here:$PATH sl-nodeset "$nodeset") || return
	apps=() services=() balancer=
	while read -r kind addr; do
		case $kind in
		app) apps+=("$addr") ;;
		service) services+=("$addr") ;;
		balancer) balancer=$addr ;;
		esac
	done <<<"$out"
}

# balancer_tls LOCATION: with --nodeset, an https LOCATION and a balancer, its
# certificate on the balancer (sl-balancer --cert, with the ACME options and
# HSTS), the ACME options taken from the nodes' command (TLS is the
# balancer's); a failure exits with its code before any node is asked
balancer_tls() {
	local host
	[ -n "$nodeset" ] || return 0
	case $1 in https://*) ;; *) return 0 ;; esac
	set_nodes || exit
	[ -n "$balancer" ] || return 0
	host=$(PATH=$here:$PATH sl-route --parse --https "$1") || exit
	PATH=$here:$PATH sl-remote "${ssh[@]}" "$balancer" sl-balancer --cert \
		"${acme[@]}" "${hsts[@]}" "${host% *}" ||
		die $? "no certificate for $1 on the balancer $balancer: nothing was activated"
	acme=()
}

# certs_node: with --nodeset and a balancer, the balancer (TLS is its, so are
# the certificates); else node as operand_node left it
certs_node() {
	[ -n "$nodeset" ] || return 0
	set_nodes || exit
	[ -n "$balancer" ] || return 0
	node=$balancer nodeset=
}

# refresh_balancer HOST...: the balancer's PEMs for HOST... made again
# (sl-balancer --cert) after sl-cert changed its certificates
refresh_balancer() {
	[ $# -gt 0 ] || return 0
	PATH=$here:$PATH sl-remote "${ssh[@]}" "$node" sl-balancer --cert "$@"
}

# same_instance LOCATION INSTANCE|prev: the one instance every node of the
# nodeset names (prev: each one's previous instance at LOCATION), or exit
# 100 when they differ (a node without one fails in sl-route, prefixed)
same_instance() {
	local out lines there host path prevhost
	if [ "$2" = prev ]; then
		there=$(PATH=$here:$PATH sl-route --parse --https "$1") || exit
		host=${there% *} path=${there#* }
		prevhost=prev.${host#.}
		[ "$path" = / ] && path=
		out=$(PATH=$here:$PATH sl-nodeset "${ssh[@]}" --each "$nodeset" -- sl-route "$prevhost$path") || exit
	else	# the instance is there on every node
		out=$(PATH=$here:$PATH sl-nodeset "${ssh[@]}" --each "$nodeset" -- sl-route --instances "${2%.*}") || exit
		out=$(awk -v i="$2" '{ sub(/^[^ ]*: /, "") } $0 == i' <<<"$out" | wc -l)
		set_nodes || exit
		[ "$out" = "${#apps[@]}" ] || die 100 "$2 is not on every node of nodeset $nodeset (silver query --nodeset $nodeset)"
		printf '%s\n' "$2"
		return
	fi
	lines=$(sed 's/^[^ ]*: //' <<<"$out" | sort -u)
	[ -n "$lines" ] && [ "$(wc -l <<<"$lines")" -eq 1 ] ||
		die 100 "the nodes of $nodeset have different previous instances at $1, so prev would not give one version: $(tr '\n' ' ' <<<"$out")(silver activate --nodeset $nodeset $1 INSTANCE names one)"
	printf '%s\n' "$lines"
}

# balancer_ip ADDRESS: the IPv4 address of a node's host (the app nodes'
# nginx believe X-Forwarded-For from it alone)
balancer_ip() {
	local h=${1#*@} ip
	h=${h%:*}
	if [[ $h =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
		printf '%s\n' "$h"
		return
	fi
	ip=$(getent ahostsv4 "$h" | awk 'NR == 1 { print $1 }')
	[ -n "$ip" ] || die 100 "the balancer $1: no IPv4 address for $h"
	printf '%s\n' "$ip"
}

# setup_nodeset: setup-node --nodeset, then exit: each app node made a node,
# then each service node, then the balancer, given the resolved nodeset,
# and the app nodes told its address; last the databases (sl-nodeset
# --db-setup: the service nodes made primary and standbys, the app nodes
# told where their databases are)
setup_nodeset() {
	local a ini ip
	set_nodes || exit
	[ -z "$balancer" ] || ip=$(balancer_ip "$balancer") || exit
	for a in "${apps[@]}"; do
		PATH=$here:$PATH sl-provision "${prov[@]}" "$a" || exit
	done
	for a in "${services[@]}"; do
		PATH=$here:$PATH sl-provision "${prov[@]}" --service "$a" || exit
	done
	if [ -n "$balancer" ]; then
		PATH=$here:$PATH sl-provision "${prov[@]}" --balancer "$balancer" || exit
		ini=$(PATH=$here:$PATH sl-nodeset --ini "$nodeset") || exit
		PATH=$here:$PATH sl-remote "${ssh[@]}" "$balancer" sl-balancer --apply <<<"$ini" || exit
		PATH=$here:$PATH sl-nodeset "${ssh[@]}" --each "$nodeset" -- sl-activate --balancers "$ip" || exit
	fi
	[ ${#services[@]} -eq 0 ] || PATH=$here:$PATH sl-nodeset "${ssh[@]}" --db-setup "$nodeset" || exit
	exit 0
}

# pair_push NODE TARGET: NODE's stored backups pushed to TARGET from now on,
# then exit: TARGET's host key as this machine's known_hosts has it
# (sl-backup-push --host-key connects and checks it, never with
# --accept-new), NODE's own push key (made there if new), let in on TARGET for
# sl-backup-receive alone, naming NODE by its host (HOST_PORT for a port
# other than 22), and TARGET and its key
# pinned on NODE
pair_push() {
	local n t src pub hk a strict=()
	n=$(resolve "$1") || exit
	t=$(resolve "$2") || exit
	case $t in *@*) [ "${t%%@*}" = root ] || die 100 "--push-backups-to $2: root receives backups (give HOST[:PORT])" ;; esac
	t=${t#*@}
	src=${n#*@}
	case $src in	# a port other than 22 is part of the name: HOST_PORT
	*:22) src=${src%:*} ;;
	*:*) src=${src%:*}_${src##*:} ;;
	esac
	for a in "${ssh[@]}"; do
		[ "$a" = --accept-new ] || strict+=("$a")
	done
	hk=$(PATH=$here:$PATH sl-backup-push --host-key "${strict[@]}" "$t") || exit
	pub=$(PATH=$here:$PATH sl-remote "${ssh[@]}" "$n" sl-backup-push --key) || exit
	PATH=$here:$PATH sl-remote "${strict[@]}" "root@$t" sl-backup-receive --authorize "${src,,}" <<<"$pub" || exit
	PATH=$here:$PATH sl-remote "${ssh[@]}" "$n" sl-backup-push --target "$t" <<<"$hk" || exit
	exit 0
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
	elif [ -n "$nodeset" ]; then	# a fleet deploy: sl-sync(1) with every app node
		fleet=() apps=()
		set_nodes || exit
		for s in "${skip[@]}"; do
			s=$(resolve "$s") || exit
			printf '%s\n' "${apps[@]}" | grep -qxF -- "$s" ||
				die 100 "--skip $s: not an app node of nodeset $nodeset"
			fleet+=(--skip "$s")
		done
		[ -z "$balancer" ] || fleet=(--balancer "$balancer" "${fleet[@]}")
		set -- "${ssh[@]}" "${each[@]}" "${fleet[@]}" "${SL_CLEAR[@]}" "${upd[@]}" \
			"${acme[@]}" "${hsts[@]}" --activate "$loc" "$dir" "${apps[@]}"
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
	inst=$2
	[ -z "$nodeset" ] || inst=$(same_instance "$1" "$2") || exit
	balancer_tls "$1"
	set -- "${ssh[@]}" "$n" sl-activate "${acme[@]}" "${hsts[@]}" "$inst" "$1" ;;
deactivate)
	need $# 1
	n=$(node_of "$1") || exit
	set -- "${ssh[@]}" "$n" sl-activate --deactivate "${keep[@]}" "$@" ;;
query)	# the node: --node, or the first operand
	operand_node "$@" || shift
	if [ -n "$nodeset" ]; then
		# every node's instances, then the balancer's view of them
		PATH=$here:$PATH sl-nodeset "${ssh[@]}" --each "$nodeset" -- sl-query "$@"
		code=$?
		set_nodes || exit
		if [ -n "$balancer" ]; then
			PATH=$here:$PATH sl-nodeset "${ssh[@]}" --balancer --each "$nodeset" -- sl-balancer --state
			b=$?
			[ "$b" -le "$code" ] || code=$b
		fi
		if [ ${#services[@]} -gt 0 ]; then	# then the databases' state
			PATH=$here:$PATH sl-nodeset "${ssh[@]}" --db-state "$nodeset"
			b=$?
			[ "$b" -le "$code" ] || code=$b
		fi
		exit "$code"
	fi
	set -- "${ssh[@]}" "$node" sl-query "$@" ;;
clean-node)	# its options may also follow the node
	operand_node "$@" || shift
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
	operand_node "$@" || shift
	need $# 2 2
	for f; do
		[ -f "$f" ] && [ -r "$f" ] || die 100 "unable to read $f: give a PEM file"
	done
	certs_node
	if [ -n "$balancer" ] && [ -z "$nodeset" ]; then
		# the balancer's: installed, then its PEMs for the certificate's hosts
		out=$(cat -- "$1" "$2" | PATH=$here:$PATH sl-remote "${ssh[@]}" "$node" sl-cert install) ||
			exit
		printf '%s\n' "$out"
		read -r _ hosts _ <<<"$out"
		IFS=, read -r -a hosts <<<"$hosts"
		refresh_balancer "${hosts[@]}"
		exit
	fi
	exec < <(cat -- "$1" "$2")
	each+=(--stdin)
	set -- "${ssh[@]}" "$node" sl-cert install ;;
list-certs)
	operand_node "$@" || shift
	need $# 0 0
	certs_node
	set -- "${ssh[@]}" "$node" sl-cert list ;;
renew-certs)
	operand_node "$@" || shift
	certs_node
	if [ -n "$balancer" ] && [ -z "$nodeset" ]; then
		PATH=$here:$PATH sl-remote "${ssh[@]}" "$node" sl-cert renew "${force[@]}" "$@" || exit
		refresh_balancer "$@"
		exit
	fi
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
	*@*) [ -n "$node$nodeset" ] || node=$1; set -- "${ssh[@]}" "${node:-$nodeset}" sl-job --list ;;
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
restore)	# --stored: a backup the node keeps (sl-backup(1)); else one sent from here
	if [ -n "$stored" ]; then
		need $# 1 1
		n=$(node_of "$1") || exit
		tool=sl-remote
		set -- "${ssh[@]}" "$n" sl-backup --restore "$1" "$stored"
	else
		need $# 2 2
		n=$(node_of "$2") || exit
		set -- --restore "${ssh[@]}" "$n" "$1" "$2"
	fi ;;
backups)	# NODE: all its stored backups; LOCATION: its app's, or its schedule set
	need $# 1 1
	if [ "${sched[*]}" != "- - -" ]; then
		case $1 in *@*) die 100 "--schedule and --keep-* set the backups of one app: give its LOCATION" ;; esac
		n=$(node_of "$1") || exit
		set -- "${ssh[@]}" "$n" sl-backup --schedule "$1" "${sched[@]}"
	else
		case $1 in
		*@*) [ -n "$node" ] || node=$1; set -- "${ssh[@]}" "$node" sl-backup --list ;;
		*) n=$(node_of "$1") || exit
		   set -- "${ssh[@]}" "$n" sl-backup --list --at "$1" ;;
		esac
	fi ;;
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
failover)	# sl-nodeset --failover decides; a terminal is asked first
	need $# 0 0
	if [ -n "${SL_YES:-}" ]; then
		fo+=(--yes)
	else
		[ -t 0 ] || die 100 "failover fences the primary database of nodeset $nodeset and promotes a standby: confirm with silver -y failover"
		printf 'Fail the databases of nodeset %s over: fence the primary, promote a standby, re-point the app nodes? [y/N]: ' "$nodeset" >&2
		read -r answer
		case $answer in y|Y|yes) ;; *) exit 1 ;; esac
		case " ${fo[*]} " in
		*" --rebuild "*) ;;
		*) printf 'Then make the old primary a standby of the new one (--rebuild)? [y/N]: ' >&2
		   read -r answer
		   case $answer in y|Y|yes) fo+=(--rebuild) ;; esac ;;
		esac
	fi
	set -- "${ssh[@]}" --failover "${fo[@]}" "$nodeset"
	nodeset= ;;
setup-node)	# NODE resolved; --nodeset: every node of the set
	prov=() pushto=
	while [ $# -gt 0 ]; do
		case $1 in
		--nodeset) [ $# -ge 2 ] || die 100 "--nodeset needs a nodeset's name"; nodeset=$2; shift 2 ;;
		--nodeset=*) nodeset=${1#--nodeset=}; shift ;;
		-i|--identity|--timeout) [ $# -ge 2 ] || die 100 "$1 needs a value"
			ssh+=("$1" "$2"); prov+=("$1" "$2"); shift 2 ;;
		--deb) [ $# -ge 2 ] || die 100 "$1 needs a value"; prov+=("$1" "$2"); shift 2 ;;
		--push-backups-to) [ $# -ge 2 ] || die 100 "$1 needs a target node"; pushto=$2; shift 2 ;;
		--accept-new|--timeout=*) ssh+=("$1"); prov+=("$1"); shift ;;
		-*) prov+=("$1"); shift ;;
		*) break ;;
		esac
	done
	if [ -n "$pushto" ]; then
		[ -z "$nodeset" ] || die 100 "--push-backups-to pairs one node: give NODE, not --nodeset"
		need $# 1 1
		pair_push "$1" "$pushto"
	fi
	if [ -n "$nodeset" ]; then
		need $# 0 0
		setup_nodeset
	fi
	[ $# -ne 1 ] || { n=$(resolve "$1") || exit; set -- "$n"; }
	set -- "${prov[@]}" "$@" ;;
*)
	set -- ${tool#* } "$@"
	[ "$tool" = "${tool%% *}" ] && shift ;;
esac
tool=${tool%% *}

# --nodeset: the command sl-remote would run on one node, run on each app
# node by sl-nodeset --each (set -- ... NODE COMMAND...: NODE is the
# nodeset's name, put there by node_of or operand_node)
if [ -n "$nodeset" ] && [ "$tool" = sl-remote ]; then
	set -- "${@:1:${#ssh[@]}}" "${each[@]}" --each "${@:${#ssh[@]}+1:1}" -- "${@:${#ssh[@]}+2}"
	tool=sl-nodeset
fi

# The tools installed beside silver come first, so a build tree runs its own.
if [ -x "$here/$tool" ]; then
	exec "$here/$tool" "$@"
fi
command -v "$tool" >/dev/null 2>&1 || die 127 "$tool not found beside $0 or on PATH"
exec "$tool" "$@"
