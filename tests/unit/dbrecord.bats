#!/usr/bin/env bats
# silverlining — a service node's record (libsl/dbrecord.h), driven through
# build/tests/libsl-test: a record reads back equal to what it was made
# from, every bad line is refused with exit 100 naming it, the node's copy
# is 0600 (its certificates 0644), and the apps' passwords are derived the
# same on every node and differ between apps, kinds and seeds.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/dbrecord

setup() {
	common_setup
	T=${SL_TEST_BUILD:-$TOP/build}/tests/libsl-test
	R=$BATS_TEST_TMPDIR/record
}

# good [EXTRA LINE...]: a whole record with both sections into $R
good() {
	{
		record_section postgresql 10.231.0.5 "$C" "$A" '10.231.0.2 10.231.0.3'
		record_section mysql db1.example.org "$A" "$B"
		[ $# = 0 ] || printf '%s\n' "$@"
	} > "$R"
}

# refused SED-SCRIPT: the good record edited by SED-SCRIPT is refused (100)
refused() {
	good
	sed -i "$1" "$R"
	run -100 "$T" dbrecord "$R"
}

@test "a record reads back equal, and its formatted text reads back the same" {
	good
	run -0 "$T" dbrecord "$R"
	echo "$output" > "$BATS_TEST_TMPDIR/again"
	run -0 "$T" dbrecord "$BATS_TEST_TMPDIR/again"
	[ "$output" = "$(cat "$BATS_TEST_TMPDIR/again")" ]
	[ "$output" = "$(cat "$R")" ]
}

@test "clients may continue over lines, and one section alone is a record" {
	{
		printf '%s\n' '[mysql]' 'host = 10.0.0.1' 'port = 3306' 'admin = silverlining' \
			"password = $B" "seed = $A" 'clients = 10.0.0.2' '          10.0.0.3 10.0.0.4'
		record_cert
	} > "$R"
	run -0 "$T" dbrecord "$R"
	[[ "$output" == *"clients = 10.0.0.2 10.0.0.3 10.0.0.4"* ]]
	[[ "$output" != *postgresql* ]]
}

@test "a bad line is refused with 100, naming the line" {
	refused 's/^port = 5432/port = 70000/'
	[[ "$output" == *"record:3: port = '70000': not valid"* ]]
	refused 's/^password = a*/password = xyz/'
	[[ "$output" == *"record:5: password: not 64 hex digits"* ]]
	refused 's/^admin = silverlining/admin = Robert");DROP/'
	[[ "$output" == *"record:4: admin"* ]]
	refused 's/^host = 10.231.0.5/host = 10.231.0.5 -oProxyCommand=x/'
	[[ "$output" == *"record:2: host"* ]]
	refused 's/^clients = 10.231.0.2 /clients = 10.231.0.2 ::1 /'
	[[ "$output" == *"record:8: client '::1': not an IPv4 address"* ]]
	refused '0,/^port/s/^port = 5432/port = 5432\nport = 5433/'
	[[ "$output" == *"record:4: port given twice"* ]]
	refused 's/^\[mysql\]/[redis]/'
	[[ "$output" == *"[redis]: not a section of a record"* ]]
	refused 's/^\[mysql\]/[mysql]\nreplication = '"$B"'/'
	[[ "$output" == *"replication: not a key of [mysql]"* ]]
}

@test "a section without a required key, or with a cut certificate, is refused" {
	refused '/^seed = /d'
	[[ "$output" == *"[postgresql] has no seed"* ]]
	refused '0,/^replication/{/^replication/d}'
	[[ "$output" == *"[postgresql] has no replication"* ]]
	refused '0,/END CERTIFICATE/{/END CERTIFICATE/d}'
	[[ "$output" == *"not a PEM certificate line"* || "$output" == *"does not end with"* ]]
	refused '0,/^ *MI/s/^\( *\)MI/\1M;I/'
	good
	sed -i '0,/^ *MI/s/^\( *\)MI/\1M I/' "$R"
	run -100 "$T" dbrecord "$R"
	[[ "$output" == *"not a PEM certificate line"* ]]
	printf '' > "$R"
	run -100 "$T" dbrecord "$R"
	[[ "$output" == *"names no server"* ]]
	printf '[postgresql]\nhost = x\0\n' > "$R"
	run -100 "$T" dbrecord "$R"
}

@test "the node's copy: remote.ini 0600, the certificates 0644, loaded back equal" {
	export SL_ROOT=$BATS_TEST_TMPDIR/root
	good
	run -0 "$T" dbrecord-store "$R"
	[ "$output" = "$(cat "$R")" ]
	[ "$(stat -c %a "$SL_ROOT/services/remote.ini")" = 600 ]
	[ "$(stat -c %a "$SL_ROOT/services/postgresql.pem")" = 644 ]
	cmp "$DBRECORD_PEM" "$SL_ROOT/services/mysql.pem"
	# a damaged copy on the node is the node's failure (111), not a refusal
	echo 'port = x' >> "$SL_ROOT/services/remote.ini"
	run -111 "$T" dbrecord-store "$R"
}

@test "an app's password: the same from the same seed, another for another app, kind or seed" {
	good
	run -0 "$T" dbrecord-password "$R" postgresql blog
	[[ "$output" =~ ^[0-9a-f]{64}$ ]]
	p1=$output
	# HMAC-SHA256(seed, "postgresql:blog"), as openssl computes it
	[ "$p1" = "$(printf 'postgresql:blog' | openssl dgst -sha256 -hmac "$C" -r | cut -d' ' -f1)" ]
	run -0 "$T" dbrecord-password "$R" postgresql blog
	[ "$output" = "$p1" ]
	run -0 "$T" dbrecord-password "$R" postgresql blog2
	[ "$output" != "$p1" ]
	run -0 "$T" dbrecord-password "$R" mysql blog
	[ "$output" != "$p1" ]
	[ "$output" = "$(printf 'mysql:blog' | openssl dgst -sha256 -hmac "$A" -r | cut -d' ' -f1)" ]
}
