#!/usr/bin/env bats
# sl-dbnode without a node: its command line (one verb, options only with
# their verbs, addresses and WAL locations checked before anything is
# touched), root only, and the refusals its state decides (a node's role,
# a fence) on a ROOT of the test's own. What needs PostgreSQL and MariaDB
# running is tests/node/dbnode.bats.
bats_require_minimum_version 1.5.0
load ../lib/common

setup() {
	common_setup
	export SL_ROOT=$BATS_TEST_TMPDIR/root
	USAGE=$(sl-dbnode --help | sed 's/^usage: //')
}

# refused ARGS...: sl-dbnode ARGS exits 100, says why on stderr, prints nothing
refused() {
	run --separate-stderr sl-dbnode "$@"
	[ "$status" -eq 100 ] || fail "sl-dbnode $* exits $status: $stderr"
	[ -z "$output" ] || fail "sl-dbnode $* prints: $output"
	[[ $stderr == "sl-dbnode: "* ]] || fail "sl-dbnode $* says: $stderr"
}

needs_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (sl-dbnode runs as root)"
}

@test "--help prints the usage; the man page's synopsis is the same (cli.bats)" {
	run sl-dbnode --help
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "usage: sl-dbnode --install | --primary [--client IP]... [--peer IP]..."* ]]
	[[ $output == *" | --client [--again]" ]]
}

@test "one verb exactly: none, two, or an argument left over is the usage (100)" {
	refused
	[[ $stderr == "sl-dbnode: usage: $USAGE" ]]
	refused --state --record
	refused --primary --standby
	refused --client --state
	refused --fence extra
}

@test "options only with their verbs" {
	refused --state --client 10.0.0.1
	refused --record --peer 10.0.0.1
	refused --client --peer 10.0.0.1
	refused --primary --again
	refused --primary --force
	refused --standby --min-lsn 0/1
	refused --fence --wait 3
	refused --again
}

@test "addresses are IPv4 literals, before anything is touched" {
	for a in 10.0.0 host.example ::1 "10.0.0.1 " 10.0.0.256 ""; do
		refused --primary --client "$a"
		[[ $stderr == *"not an IPv4 address"* ]]
		refused --standby --peer "$a"
	done
	[ ! -e "$SL_ROOT" ]
}

@test "--min-lsn is a WAL location, --wait 0..3600 seconds" {
	for l in 0 /1 1/ 0/G 123456789/0 "0/1 " x; do
		refused --promote --min-lsn "$l"
		[[ $stderr == *"not a WAL location"* ]]
	done
	for w in -1 3601 1x ""; do
		refused --promote --wait "$w"
	done
	[ ! -e "$SL_ROOT" ]
}

@test "root only: anyone else is refused (100) before anything is touched" {
	needs_root
	run --separate-stderr runuser -u nobody -- "$TOP/bin/sl-dbnode" --state
	[ "$status" -eq 100 ]
	[[ $stderr == *"run as root"* ]]
	[ ! -e "$SL_ROOT" ]
}

@test "--state on a node that never ran it: role none, and nothing made" {
	needs_root
	run --separate-stderr sl-dbnode --state
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "role none" ]
	[[ ${lines[1]} == "mysql "@(up|down) ]]
	[ ! -e "$SL_ROOT" ]
}

@test "--record: a primary's only (100 elsewhere, nothing printed)" {
	needs_root
	refused --record
	[[ $stderr == *"not a primary"* ]]
	# the state directory is root's alone
	[ "$(stat -c %a "$SL_ROOT/dbnode")" = 700 ]
	mkdir -p "$SL_ROOT/dbnode" && echo standby > "$SL_ROOT/dbnode/role"
	refused --record
	echo primary > "$SL_ROOT/dbnode/role"
	refused --record
	[[ $stderr == *"no clients"* ]]
	echo fenced > "$SL_ROOT/dbnode/fenced"
	refused --record
	[[ $stderr == *"fenced"* ]]
}

@test "--primary on a standby or a fenced node is refused, and changes nothing" {
	needs_root
	mkdir -p "$SL_ROOT/dbnode"
	echo standby > "$SL_ROOT/dbnode/role"
	echo 10.0.0.5 > "$SL_ROOT/dbnode/upstream"
	refused --primary --client 10.0.0.2
	[[ $stderr == "sl-dbnode: fatal: a standby of 10.0.0.5: promote it first" ]]
	echo primary > "$SL_ROOT/dbnode/role" && echo fenced > "$SL_ROOT/dbnode/fenced"
	refused --primary
	[[ $stderr == *"fenced"* ]]
	[ ! -e "$SL_ROOT/dbnode/clients" ]
}

@test "--promote on a fenced node is refused" {
	needs_root
	mkdir -p "$SL_ROOT/dbnode" && echo fenced > "$SL_ROOT/dbnode/fenced"
	refused --promote --min-lsn 0/3000028
	[[ $stderr == *"fenced"* ]]
}

@test "--standby: a record that is not one, or none, is refused before anything is touched" {
	needs_root
	refused --standby < /dev/null
	[[ $stderr == *"no record on stdin"* ]]
	printf '[postgresql]\nhost = 10.0.0.5\nbogus = 1\n' > "$BATS_TEST_TMPDIR/bad"
	refused --standby < "$BATS_TEST_TMPDIR/bad"
	[[ $stderr == *"the record on stdin"* ]]
	printf '[mysql]\nhost = 10.0.0.5\n' > "$BATS_TEST_TMPDIR/bad"
	refused --standby < "$BATS_TEST_TMPDIR/bad"
	[ ! -e "$SL_ROOT" ]
}

@test "--standby on a primary that is not fenced is refused" {
	needs_root
	mkdir -p "$SL_ROOT/dbnode" && echo primary > "$SL_ROOT/dbnode/role"
	# a record that parses (the test certificate of dbrecord.bats)
	h=$(printf '%064d' 0)
	{
		printf '[postgresql]\nhost = 10.0.0.5\nport = 5432\nadmin = silverlining\n'
		printf 'password = %s\nreplication = %s\nseed = %s\n' "$h" "$h" "$h"
		printf 'clients = 10.0.0.2\n'
		sed '1s/^/cert = /; 2,$s/^/       /' "$TOP/tests/unit/data/dbrecord-cert.pem"
	} > "$BATS_TEST_TMPDIR/rec"
	run --separate-stderr sl-dbnode --standby < "$BATS_TEST_TMPDIR/rec"
	[ "$status" -eq 100 ]
	[ "$stderr" = "sl-dbnode: fatal: a primary: fence it first (sl-dbnode --fence)" ]
	[ ! -e "$SL_ROOT/dbnode/admin.password" ]
}

@test "--client: no record on stdin is refused" {
	needs_root
	refused --client < /dev/null
	[[ $stderr == *"no record on stdin"* ]]
}

@test "--record: the node's secrets and clients, the snakeoil certificate; it reads back" {
	needs_root
	[ -r /etc/ssl/certs/ssl-cert-snakeoil.pem ] || skip "no snakeoil certificate (ssl-cert)"
	mkdir -p "$SL_ROOT/dbnode"
	echo primary > "$SL_ROOT/dbnode/role"
	printf '127.0.0.2\n127.0.0.3\n' > "$SL_ROOT/dbnode/clients"
	run --separate-stderr sl-dbnode --record
	[ "$status" -eq 0 ] || fail "$stderr"
	printf '%s\n' "$output" > "$BATS_TEST_TMPDIR/rec"
	grep -qx 'host = 127.0.0.1' "$BATS_TEST_TMPDIR/rec"
	[ "$(grep -c '^clients = 127.0.0.2 127.0.0.3$' "$BATS_TEST_TMPDIR/rec")" -eq 2 ]
	for f in admin.password replication.password pg.seed my.password my.seed; do
		[ "$(stat -c %a "$SL_ROOT/dbnode/$f")" = 600 ]
		[[ $(cat "$SL_ROOT/dbnode/$f") =~ ^[0-9a-f]{64}$ ]]
	done
	grep -qx "password = $(cat "$SL_ROOT/dbnode/admin.password")" "$BATS_TEST_TMPDIR/rec"
	grep -qx "replication = $(cat "$SL_ROOT/dbnode/replication.password")" "$BATS_TEST_TMPDIR/rec"
	grep -qx "seed = $(cat "$SL_ROOT/dbnode/my.seed")" "$BATS_TEST_TMPDIR/rec"
	# the secrets are made once: a second record is the same
	[ "$(sl-dbnode --record)" = "$output" ]
	# and it parses: --standby reads it, then refuses this unfenced primary
	refused --standby < "$BATS_TEST_TMPDIR/rec"
	[[ $stderr == *"fence it first"* ]]
}
