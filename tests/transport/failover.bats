#!/usr/bin/env bats
# sl-nodeset --db-setup, --db-state and --failover against four real sshds
# on loopback (db1 db2: service nodes, web1 web2: app nodes) whose PATH
# starts with a fake sl-dbnode: it keeps a role, an lsn and what it was
# given per node (its sshd's port), and answers as sl-dbnode(8) says. What
# is tested is the laptop's part: which node is asked what, in which
# order, what is refused, that the record goes from stdin to stdin and
# never into an argv, and the figures. The real sl-dbnode, PostgreSQL
# and the apps are the lab's: tests/node/dbnode.bats.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/sshd

PORTS='2231 2232 2233 2241 2242'

setup_file() {
	transport_setup_file
	export FAKE=$BATS_FILE_TMPDIR/fake DB=$BATS_FILE_TMPDIR/db
	mkdir -p "$FAKE"
	# the fake node tool: the node is its sshd's port; its state in $DB/PORT
	cat > "$FAKE/sl-dbnode" <<'SH'
#!/bin/bash
set -u
port=${SSH_CONNECTION##* }
d=$DB/$port
mkdir -p "$d"
echo "$*" >> "$d/args"
role=$(cat "$d/role" 2>/dev/null || echo none)
lsn=$(cat "$d/lsn" 2>/dev/null || echo 0/3000060)
record() {
	printf '%s\n' '[postgresql]' 'host = 127.0.0.1' 'port = 5432' 'admin = silverlining' \
		"password = $(cat "$d/password")" "replication = $(cat "$d/password")" \
		"seed = $(cat "$d/password")" 'clients = 127.0.0.1'
	sed '1s/^/cert = /; 2,$s/^/       /' "$PEM"
}
case $1 in
--state)
	[ ! -e "$d/nostate" ] || { echo "sl-dbnode: fatal: PostgreSQL does not answer" >&2; exit 111; }
	echo "role $role"
	echo "timeline $(cat "$d/timeline" 2>/dev/null || echo 1)"
	echo "lsn $lsn"
	[ "$role" != primary ] || [ ! -e "$d/standby" ] ||
		echo "standby 127.0.0.1 streaming $lsn $lsn $(cat "$d/standby")"
	[ "$role" != standby ] || echo "upstream $(cat "$d/upstream") $lsn $lsn 0.250"
	echo "mysql up" ;;
--install) ;;
--primary)
	[ "$role" != standby ] || { echo "sl-dbnode: fatal: a standby of $(cat "$d/upstream"): promote it first" >&2; exit 100; }
	[ -e "$d/password" ] || printf '%064d\n' "$port" > "$d/password"
	echo primary > "$d/role"; rm -f "$d/fenced" ;;
--standby)
	[ ! -e "$d/broken" ] || { echo "sl-dbnode: fatal: pg_basebackup failed" >&2; exit 111; }
	cat > "$d/stdin"
	sed -n 's/^host = //p' "$d/stdin" | head -1 > "$d/upstream"
	sed -n 's/^password = //p' "$d/stdin" > "$d/password"
	echo standby > "$d/role" ;;
--record)
	[ "$role" = primary ] || { echo "sl-dbnode: fatal: not a primary ($role)" >&2; exit 100; }
	record ;;
--fence)
	echo fenced > "$d/role"
	echo "lsn $lsn" ;;
--promote)
	[ "$role" = standby ] || { echo "sl-dbnode: fatal: not a standby ($role)" >&2; exit 100; }
	case " $* " in
	*" --force "*) ;;
	*) if [ -e "$d/behind" ]; then
		echo "sl-dbnode: fatal: behind by 96 bytes (replayed 0/3000000, want $3)" >&2
		exit 100
	   fi ;;
	esac
	echo primary > "$d/role"; echo 2 > "$d/timeline"
	printf 'timeline 2\nseconds 0.41\n' ;;
--client)
	cat > "$d/stdin"
	[ "${2:-}" != --again ] || echo "a$port.test" ;;
*)	echo "sl-dbnode: usage: ..." >&2; exit 100 ;;
esac
SH
	chmod 755 "$FAKE/sl-dbnode"
	for p in $PORTS; do
		mkdir -p "$SSHD_DIR/$p"
		{
			grep -v -e '^Port ' -e '^PidFile ' -e '^SetEnv ' "$SSHD_DIR/sshd_config"
			printf 'Port %s\nPidFile %s\n' "$p" "$SSHD_DIR/$p/sshd.pid"
			printf 'SetEnv PATH=%s:%s:/usr/bin:/bin DB=%s PEM=%s\n' "$FAKE" "${SL_TEST_BIN:-$TOP/bin}" \
				"$DB" "$TOP/tests/unit/data/dbrecord-cert.pem"
		} > "$SSHD_DIR/$p/sshd_config"
		sshd_launch "$SSHD_DIR/$p"
	done
}

teardown_file() {
	for p in $PORTS; do sshd_other_stop "$p"; done
	sshd_stop
}

setup() {
	transport_setup
	client_key
	mkdir -p "$HOME/.ssh" "$HOME/.silverlining/nodesets"
	for p in $PORTS 2239; do
		printf '[127.0.0.1]:%s %s\n' "$p" "$(cut -d' ' -f1,2 "$SSHD_DIR/host_ed25519.pub")"
	done >> "$HOME/.ssh/known_hosts"
	rm -rf "$DB"
	mkdir -p "$DB"
	nodeset prod 'service = 127.0.0.1:2231' '  127.0.0.1:2232'
}

# nodeset NAME LINES...: NAME.ini with web1 and web2 as app nodes, and LINES
nodeset() {
	local n=$1
	shift
	printf '%s\n' '[nodeset]' 'app = 127.0.0.1:2241' '  127.0.0.1:2242' "$@" \
		> "$HOME/.silverlining/nodesets/$n.ini"
}

# role PORT ROLE [UPSTREAM]: the fake node's state
role() {
	mkdir -p "$DB/$1"
	echo "$2" > "$DB/$1/role"
	printf '%064d\n' "$1" > "$DB/$1/password"
	[ -z "${3:-}" ] || echo "$3" > "$DB/$1/upstream"
}

# args PORT: what the fake node PORT was asked, one run a line
args() {
	cat "$DB/$1/args" 2>/dev/null
}

@test "--db-setup: the first node made primary, the other its standby, the app nodes given the record on stdin" {
	run -0 --separate-stderr sl-nodeset --db-setup prod
	assert_output "primary 127.0.0.1:2231
standby 127.0.0.1:2232"
	run args 2231
	assert_output "--state
--install
--primary --client 127.0.0.1 --client 127.0.0.1 --peer 127.0.0.1
--record"
	run args 2232
	assert_output "--state
--install
--standby --client 127.0.0.1 --client 127.0.0.1 --peer 127.0.0.1"
	assert_equal "$(args 2241)" "--client"
	assert_equal "$(args 2242)" "--client"
	# the record went from the primary's stdout into each one's stdin, whole
	pw=$(printf '%064d' 2231)
	for p in 2232 2241 2242; do
		run -0 grep -c "^password = $pw$" "$DB/$p/stdin"
		run -0 grep -c -- '-----END CERTIFICATE-----' "$DB/$p/stdin"
	done
	# and never into an argument, nor onto the laptop's output
	run -1 grep -r "$pw" "$DB"/*/args
	run -0 sl-nodeset --db-setup prod
	refute_output --partial "$pw"

	# again: the standby already streams from the primary, and is left alone
	run -0 --separate-stderr sl-nodeset --db-setup prod
	[[ $stderr == *"sl-nodeset: 127.0.0.1:2232: already a standby of 127.0.0.1"* ]]
	run args 2232
	refute_line --index 3 --partial --standby
}

@test "--db-setup: the node that says primary stays so; a fenced one with no primary is refused" {
	role 2232 primary
	role 2231 fenced
	run -0 --separate-stderr sl-nodeset --db-setup prod
	assert_output "standby 127.0.0.1:2231
primary 127.0.0.1:2232"
	assert_equal "$(cat "$DB/2231/role")" standby
	rm -f "$DB"/*/args
	echo fenced > "$DB/2231/role"
	echo fenced > "$DB/2232/role"
	run -100 sl-nodeset --db-setup prod
	assert_output --partial "127.0.0.1:2231 and 127.0.0.1:2232 both say fenced: nothing was done"
	role 2232 standby 127.0.0.1
	rm -f "$DB"/*/args
	run -100 sl-nodeset --db-setup prod
	assert_output "sl-nodeset: fatal: 127.0.0.1:2231 is fenced and no service node is primary: finish the failover first (silver failover --nodeset prod)"
	run args 2231
	assert_output "--state"
	# a node that does not answer: nothing is set up
	nodeset down 'service = 127.0.0.1:2231' '  127.0.0.1:2239'
	rm -f "$DB"/*/args
	run -111 sl-nodeset --db-setup down
	assert_line "sl-nodeset: fatal: 127.0.0.1:2239 did not tell its state: nothing was set up"
	assert_equal "$(args 2231)" "--state"
	# a standby that fails: the app nodes are not told
	echo primary > "$DB/2231/role"
	touch "$DB/2232/broken"
	echo 10.0.0.1 > "$DB/2232/upstream"	# a standby of another: made again
	rm -f "$DB"/*/args
	run -111 sl-nodeset --db-setup prod
	assert_line "127.0.0.1: sl-dbnode: fatal: pg_basebackup failed"
	assert_line "sl-nodeset: fatal: 127.0.0.1:2232: not made a standby: the app nodes were not told"
	[ ! -e "$DB/2241/args" ]
}

@test "--db-state: each service node's state, prefixed; none listed is refused" {
	role 2231 primary
	echo '0 0.000' > "$DB/2231/standby"
	role 2232 standby 127.0.0.1
	run -0 sl-nodeset --db-state prod
	assert_line "127.0.0.1: role primary"
	assert_line "127.0.0.1: standby 127.0.0.1 streaming 0/3000060 0/3000060 0 0.000"
	assert_line "127.0.0.1: upstream 127.0.0.1 0/3000060 0/3000060 0.250"
	nodeset plain
	run -100 sl-nodeset --db-state plain
	assert_output "sl-nodeset: fatal: nodeset plain ($HOME/.silverlining/nodesets/plain.ini) lists no service nodes ('service = NODE'): nothing to show"
	run -100 sl-nodeset --failover plain
	assert_output --partial "lists no service nodes ('service = NODE'): nothing to fail over"
}

@test "--failover: fence, promote at the fence's lsn, the record to every app node with --again, the figures" {
	role 2231 primary
	echo '128 0.002' > "$DB/2231/standby"
	echo 0/5000028 > "$DB/2231/lsn"
	role 2232 standby 127.0.0.1
	run -0 --separate-stderr sl-nodeset --failover prod
	assert_line --index 0 "primary 127.0.0.1:2231"
	assert_line --index 1 "standby 127.0.0.1:2232"
	assert_line -e '^step states: [0-9]+\.[0-9]{2} s$'
	assert_line "lag 127.0.0.1:2232: 128 bytes, 0.002 s (streaming)"
	assert_line -e '^step fence 127\.0\.0\.1:2231: [0-9]+\.[0-9]{2} s \(lsn 0/5000028\)$'
	assert_line -e '^step promote 127\.0\.0\.1:2232: [0-9]+\.[0-9]{2} s \(the promote itself: 0\.41 s\) timeline 2$'
	assert_line -e '^step clients: [0-9]+\.[0-9]{2} s$'
	assert_line "127.0.0.1: a2241.test"
	assert_line "127.0.0.1: a2242.test"
	assert_line -e '^writes impossible from fence to promote: [0-9]+\.[0-9]{2} s$'
	assert_line -e '^total: [0-9]+\.[0-9]{2} s$'
	[[ $stderr == *"127.0.0.1:2231 stays fenced; sl-nodeset --db-setup prod makes it a standby of 127.0.0.1:2232"* ]]
	assert_equal "$(args 2231)" "--state
--fence"
	assert_equal "$(args 2232)" "--state
--promote --min-lsn 0/5000028
--record"
	assert_equal "$(args 2241)" "--client --again"
	# the new primary's record, not the old one's
	grep -q "^password = $(printf '%064d' 2232)$" "$DB/2241/stdin"
	# a second run: db2 is the primary, db1 fenced: no standby to promote
	run -100 sl-nodeset --failover prod
	assert_output --partial "nodeset prod has no standby that answered: nothing to promote"
	# --db-setup makes the fenced node a standby of the new primary
	run -0 sl-nodeset --db-setup prod
	assert_equal "$(cat "$DB/2231/role")" standby
}

@test "--failover --rebuild: the old primary made a standby of the new one" {
	role 2231 primary
	role 2232 standby 127.0.0.1
	run -0 sl-nodeset --failover --rebuild prod
	assert_line -e '^step rebuild 127\.0\.0\.1:2231: [0-9]+\.[0-9]{2} s$'
	assert_equal "$(args 2231)" "--state
--fence
--standby --client 127.0.0.1 --client 127.0.0.1 --peer 127.0.0.1"
	assert_equal "$(args 2232)" "--state
--promote --min-lsn 0/3000060
--record
--primary --client 127.0.0.1 --client 127.0.0.1 --peer 127.0.0.1"
	assert_equal "$(cat "$DB/2231/role")" standby
	grep -q "^password = $(printf '%064d' 2232)$" "$DB/2231/stdin"
}

@test "--failover: a standby behind the fence is not promoted without --yes; the failover runs again" {
	role 2231 primary
	role 2232 standby 127.0.0.1
	touch "$DB/2232/behind"
	run -100 --separate-stderr sl-nodeset --failover prod
	[[ $stderr == *"127.0.0.1: sl-dbnode: fatal: behind by 96 bytes (replayed 0/3000000, want 0/3000060)"* ]]
	[[ $stderr == *"sl-nodeset: fatal: 127.0.0.1:2232 was not promoted (above): nothing else was done, 127.0.0.1:2231 stays fenced;"* ]]
	refute_output --partial "writes impossible"
	assert_equal "$(cat "$DB/2231/role")" fenced
	[ ! -e "$DB/2241/args" ]
	# caught up: run again; the fenced node is the primary being failed over, fenced again
	rm "$DB/2232/behind"
	run -0 sl-nodeset --failover prod
	assert_line "primary 127.0.0.1:2231 fenced"
	assert_equal "$(tail -1 "$DB/2231/args")" "--fence"
	assert_equal "$(cat "$DB/2232/role")" primary
}

@test "--failover --yes: a standby behind is promoted with --force" {
	role 2231 primary
	role 2232 standby 127.0.0.1
	touch "$DB/2232/behind"
	run -0 --separate-stderr sl-nodeset --failover --yes prod
	[[ $stderr == *"sl-nodeset: warning: --yes: 127.0.0.1:2232 promoted with --force: the writes it has not replayed are lost"* ]]
	assert_equal "$(args 2232)" "--state
--promote --min-lsn 0/3000060
--promote --min-lsn 0/3000060 --force
--record"
}

@test "--failover: a primary out of reach needs --yes, is not fenced, and is said so" {
	nodeset lost 'service = 127.0.0.1:2239' '  127.0.0.1:2232'
	role 2232 standby 127.0.0.1
	run -100 --separate-stderr sl-nodeset --failover lost
	[[ $stderr == *"sl-nodeset: warning: 127.0.0.1:2239: unreachable: not fenced: make sure it stays down"* ]]
	[[ $stderr == *"give --yes (silver -y failover) when it is down for good"* ]]
	assert_line "primary 127.0.0.1:2239 silent"
	assert_line "replay age 127.0.0.1:2232: 0.250 s (last replayed from 127.0.0.1)"
	assert_equal "$(args 2232)" "--state"
	run -0 --separate-stderr sl-nodeset --failover --yes --rebuild lost
	assert_equal "$(args 2232)" "--state
--state
--promote --force
--record"
	assert_line "writes impossible from the primary's loss to promote: since 127.0.0.1:2239 went down"
	[[ $stderr == *"127.0.0.1:2239 is unreachable: not rebuilt"* ]]
	assert_equal "$(args 2241)" "--client --again"
}

@test "--failover: which standby, and what is refused before anything is done" {
	nodeset three 'service = 127.0.0.1:2231' '  127.0.0.1:2232' '  127.0.0.1:2233'
	role 2231 primary
	role 2232 standby 127.0.0.1
	role 2233 standby 127.0.0.1
	run -100 sl-nodeset --failover three
	assert_line "sl-nodeset: fatal: 127.0.0.1:2232 and 127.0.0.1:2233 are both standbys: name the one to promote with --to NODE"
	run -100 sl-nodeset --failover --to 127.0.0.1:2242 three
	assert_line "sl-nodeset: fatal: --to 127.0.0.1:2242: not a service node of nodeset three"
	run -1 sl-nodeset --failover --to 127.0.0.1:2231 three
	assert_line "sl-nodeset: fatal: --to 127.0.0.1:2231: the primary already: nothing to do"
	assert_equal "$(args 2231)" "--state
--state
--state"
	run -0 --separate-stderr sl-nodeset --failover --to 127.0.0.1:2233 three
	[[ $stderr == *"sl-nodeset: warning: 127.0.0.1:2232 still follows 127.0.0.1:2231: sl-nodeset --db-setup three makes it a standby of 127.0.0.1:2233"* ]]
	assert_equal "$(cat "$DB/2233/role")" primary
	assert_equal "$(cat "$DB/2232/role")" standby
	# two primaries: a person chooses
	role 2232 primary
	run -100 sl-nodeset --failover three
	assert_line --partial "127.0.0.1:2232 and 127.0.0.1:2233 both say primary: nothing was done"
	# usage
	run -100 sl-nodeset --yes prod
	assert_output --partial "sl-nodeset: usage: "
	run -100 sl-nodeset --rebuild --db-setup prod
	assert_output --partial "sl-nodeset: usage: "
	run -100 sl-nodeset --to x --each prod -- true
	assert_output --partial "sl-nodeset: usage: "
}

@test "--failover: a primary that does not tell its state is fenced all the same, and needs no --yes" {
	role 2231 primary
	touch "$DB/2231/nostate"
	role 2232 standby 127.0.0.1
	run -0 --separate-stderr sl-nodeset --failover prod
	assert_line "primary 127.0.0.1:2231 silent"
	assert_line -e '^step fence 127\.0\.0\.1:2231: [0-9]+\.[0-9]{2} s \(lsn 0/3000060\)$'
	assert_line -e '^writes impossible from fence to promote: '
	assert_equal "$(args 2232)" "--state
--promote --min-lsn 0/3000060
--record"
}
