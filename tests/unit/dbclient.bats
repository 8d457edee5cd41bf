#!/usr/bin/env bats
# silverlining — an app node told where its databases are (libsl/dbclient.h),
# driven through build/tests/libsl-test with SL_ROOT a temporary node: the
# record merged by section, no package asked for (dpkg-query faked on PATH
# logs every question), and one location listed per
# serving instance whose app uses a section that changed.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/dbrecord

setup() {
	common_setup
	T=${SL_TEST_BUILD:-$TOP/build}/tests/libsl-test
	export SL_ROOT=$BATS_TEST_TMPDIR/root
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	# every package is installed; each one asked about is logged
	printf '#!/bin/sh\necho "$4" >> "%s"\nprintf installed\n' "$BATS_TEST_TMPDIR/asked" \
		> "$BATS_TEST_TMPDIR/bin/dpkg-query"
	chmod 755 "$BATS_TEST_TMPDIR/bin/dpkg-query"
	export PATH=$BATS_TEST_TMPDIR/bin:$PATH
	D=$(date -u +%F)
	# three apps: postgis, mysql, none; pg serves two hosts and has a prev
	instance blogpg "service.postgis ="
	instance blogmy "service.mysql ="
	instance plain "service.files ="
	mkdir -p "$SL_ROOT/instances/blogpg.${D}_000"
	printf '%s\n' "my.test / blogmy.${D}_001" "pg.test / blogpg.${D}_001" \
		"pg2.test /wiki blogpg.${D}_001" "plain.test / plain.${D}_001" \
		"prev.pg.test / blogpg.${D}_000" > "$SL_ROOT/routes"
}

# instance APP SERVICE-LINE: APP.D_001 with an app.ini declaring SERVICE-LINE
instance() {
	mkdir -p "$SL_ROOT/instances/$1.${D}_001"
	printf '%s\n' '[production]' "app_name = $1" 'runner = main.py' "$2" \
		> "$SL_ROOT/instances/$1.${D}_001/app.ini"
}

@test "a first record: both sections stored, no package asked for, every instance using one listed once" {
	{ record_section postgresql 10.231.0.5; record_section mysql 10.231.0.5; } > "$BATS_TEST_TMPDIR/r"
	run -0 "$T" dbclient < "$BATS_TEST_TMPDIR/r"
	assert_output "$(printf '%s\n' my.test pg.test)"
	[ ! -e "$BATS_TEST_TMPDIR/asked" ]
	[ "$(stat -c %a "$SL_ROOT/services/remote.ini")" = 600 ]
	[ "$(stat -c %a "$SL_ROOT/services/postgresql.pem")" = 644 ]
	cmp "$SL_ROOT/services/remote.ini" "$BATS_TEST_TMPDIR/r"
}

@test "a section left out keeps the node's; only what changed is listed; the same record again lists nothing" {
	{ record_section postgresql 10.231.0.5; record_section mysql 10.231.0.5; } | "$T" dbclient
	# a failover of PostgreSQL alone: MySQL's section stays, only its users move
	record_section postgresql 10.231.0.6 > "$BATS_TEST_TMPDIR/r"
	run -0 "$T" dbclient < "$BATS_TEST_TMPDIR/r"
	assert_output "pg.test"
	run -0 grep -c '^host = ' "$SL_ROOT/services/remote.ini"
	assert_output 2
	run -0 grep '^host = ' "$SL_ROOT/services/remote.ini"
	assert_output "$(printf '%s\n' 'host = 10.231.0.6' 'host = 10.231.0.5')"
	run -0 "$T" dbclient < "$BATS_TEST_TMPDIR/r"
	assert_output ""
	# a new seed is a change too
	record_section mysql 10.231.0.5 "$B" > "$BATS_TEST_TMPDIR/r"
	run -0 "$T" dbclient < "$BATS_TEST_TMPDIR/r"
	assert_output "my.test"
}

@test "a record that does not parse changes nothing: 100" {
	record_section postgresql 10.231.0.5 | "$T" dbclient
	cp "$SL_ROOT/services/remote.ini" "$BATS_TEST_TMPDIR/before"
	{ record_section postgresql 10.231.0.9; echo 'port = 5432'; } > "$BATS_TEST_TMPDIR/r"
	run -100 "$T" dbclient < "$BATS_TEST_TMPDIR/r"
	cmp "$SL_ROOT/services/remote.ini" "$BATS_TEST_TMPDIR/before"
	run -100 "$T" dbclient < /dev/null
	cmp "$SL_ROOT/services/remote.ini" "$BATS_TEST_TMPDIR/before"
}
