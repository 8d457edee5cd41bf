#!/usr/bin/env bats
# silverlining — scheduled backups on the laptop's side of the tests: the
# retention (a pure function: which stored backups are kept), the stamps,
# the tree report a files area's verification prints, app.ini's backup.*
# keys, and sl-backup's arguments.
bats_require_minimum_version 1.5.0
load ../lib/common

setup() {
	common_setup
	unset SL_CONF SL_YES SL_VERBOSITY SL_SERVICE_VALUE
	A=$BATS_TEST_TMPDIR/app
	T=${SL_TEST_BUILD:-$TOP/build}/tests/libsl-test
}

# retain DAILY WEEKLY STAMP:STATUS...: the stamps kept, one a line
retain() {
	run -0 "$T" backups-retain "$@"
	output=$(printf '%s\n' "$output" | sed -n 's/^keep //p')
}

@test "retention: the newest verified backup of each of the last keep_daily days" {
	retain 3 0 20261201T010000Z:verified 20261201T230000Z:verified \
		20261130T120000Z:verified 20261129T120000Z:verified 20261128T120000Z:verified
	assert_output "$(printf '%s\n' 20261201T230000Z 20261130T120000Z 20261129T120000Z)"
}

@test "retention: days without a verified backup are not counted (the last days that have one)" {
	retain 2 0 20261201T010000Z:verified 20261120T010000Z:verified 20261101T010000Z:verified
	assert_output "$(printf '%s\n' 20261201T010000Z 20261120T010000Z)"
}

@test "retention: the newest of each of the last keep_weekly ISO weeks, beside the days" {
	# 2026-11-30 is a Monday (week 49), 2026-11-29 a Sunday (week 48)
	retain 1 3 20261201T010000Z:verified 20261130T010000Z:verified \
		20261129T010000Z:verified 20261123T010000Z:verified 20261122T010000Z:verified \
		20261116T010000Z:verified
	assert_output "$(printf '%s\n' 20261201T010000Z 20261129T010000Z 20261122T010000Z)"
}

@test "retention: an ISO week spans the turn of the year (2026-12-31 and 2027-01-01 are one week)" {
	retain 1 1 20270101T010000Z:verified 20261231T010000Z:verified 20261227T010000Z:verified
	assert_output 20270101T010000Z
	retain 1 2 20270101T010000Z:verified 20261231T010000Z:verified 20261227T010000Z:verified
	assert_output "$(printf '%s\n' 20270101T010000Z 20261227T010000Z)"
}

@test "retention: bad and unverified backups are kept, shown, and never counted" {
	retain 1 0 20261201T030000Z:bad 20261201T020000Z:unverified 20261201T010000Z:verified \
		20261130T010000Z:verified
	assert_output "$(printf '%s\n' 20261201T030000Z 20261201T020000Z 20261201T010000Z)"
	# control: the same verified ones without the bad ones keep the same one
	retain 1 0 20261201T010000Z:verified 20261130T010000Z:verified
	assert_output 20261201T010000Z
}

@test "retention: a bad newest backup does not push the last verified one out" {
	retain 1 0 20261202T010000Z:bad 20261201T010000Z:verified
	assert_output "$(printf '%s\n' 20261202T010000Z 20261201T010000Z)"
}

@test "retention: the order given does not matter" {
	retain 2 0 20261129T010000Z:verified 20261201T010000Z:verified 20261130T010000Z:verified
	assert_output "$(printf '%s\n' 20261201T010000Z 20261130T010000Z)"
}

@test "stamps: YYYYmmddTHHMMSSZ and nothing else" {
	run -0 "$T" backups-stamp 20261201T010203Z
	assert_output stamp
	for s in 20261201T01020Z 20261201t010203Z 20261201T010203 ../../etc/x 2026120XT010203Z ''; do
		run -0 "$T" backups-stamp "$s"
		assert_output "not a stamp"
	done
}

@test "tree report: the same names and contents hash the same; a change of either does not" {
	mkdir -p "$BATS_TEST_TMPDIR/a/d" "$BATS_TEST_TMPDIR/b/d"
	echo one > "$BATS_TEST_TMPDIR/a/d/x"; echo two > "$BATS_TEST_TMPDIR/a/y"
	echo one > "$BATS_TEST_TMPDIR/b/d/x"; echo two > "$BATS_TEST_TMPDIR/b/y"
	run -0 "$T" backups-tree "$BATS_TEST_TMPDIR/a"
	a=$output
	assert_line files=2
	assert_line bytes=8
	run -0 "$T" backups-tree "$BATS_TEST_TMPDIR/b"
	[ "$output" = "$a" ] || fail "two equal trees hash differently"
	echo ONE > "$BATS_TEST_TMPDIR/b/d/x"
	run -0 "$T" backups-tree "$BATS_TEST_TMPDIR/b"
	[ "$output" != "$a" ] || fail "a changed content hashes the same"
	echo one > "$BATS_TEST_TMPDIR/b/d/x"
	mv "$BATS_TEST_TMPDIR/b/y" "$BATS_TEST_TMPDIR/b/z"
	run -0 "$T" backups-tree "$BATS_TEST_TMPDIR/b"
	[ "$output" != "$a" ] || fail "a renamed file hashes the same"
}

@test "tree report: a link is hashed as a link, never followed" {
	mkdir -p "$BATS_TEST_TMPDIR/t"
	echo secret > "$BATS_TEST_TMPDIR/s"
	ln -s "$BATS_TEST_TMPDIR/s" "$BATS_TEST_TMPDIR/t/l"
	run -0 "$T" backups-tree "$BATS_TEST_TMPDIR/t"
	assert_line files=0
	assert_line bytes=0
}

@test "app.ini: backup.schedule, backup.keep_daily and backup.keep_weekly are read" {
	app "$A" '[production]' 'app_name = x' 'backup.schedule = 30 3 * * *' \
		'backup.keep_daily = 14' 'backup.keep_weekly = 0'
	run -0 sl-env "$A"
	refute_output --partial warning
}

@test "app.ini: a bad backup.schedule or keep is refused naming app.ini:LINE (exit 100)" {
	app "$A" '[production]' 'app_name = x' 'backup.schedule = 61 * * * *'
	run -100 sl-env "$A"
	assert_output --partial "sl-env: fatal: $A/app.ini:3: invalid backup.schedule '61 * * * *'"
	app "$A" '[production]' 'app_name = x' 'backup.keep_daily = 0'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:3: invalid backup.keep_daily '0': want a whole number from 1 to 366"
	app "$A" '[production]' 'app_name = x' 'backup.keep_weekly = 521'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:3: invalid backup.keep_weekly '521': want a whole number from 0 to 520"
	# control: a good one passes
	app "$A" '[production]' 'app_name = x' 'backup.keep_weekly = 520'
	run -0 sl-env "$A"
}

@test "sl-backup: wrong arguments are usage errors (exit 100), before anything else" {
	for args in "--scheduled" "--verify x" "--list a b" "--restore a b c" "--bogus x"; do
		run -100 sl-backup $args
		assert_output --partial "sl-backup: usage: sl-backup --backup LOCATION"
	done
}

@test "sl-backup --list: a line per record, oldest first, apps by name; other names are no backups" {
	[ "$(id -u)" = 0 ] || skip "sl-backup runs as root"
	export SL_ROOT=$BATS_TEST_TMPDIR/root
	S=$SL_ROOT/backups/blog
	mkdir -p "$S" "$SL_ROOT/backups/shop"
	printf 'app=blog\nbytes=10\nstatus=verified\nverified=2026-12-01T03:30:02Z\nseconds=1.50\n[postgis]\ntables=1\nstatus=bad\n' \
		> "$S/20261201T033000Z.ini"
	printf 'app=blog\nbytes=12\nstatus=bad\nverified=2026-11-30T03:30:01Z\nseconds=0.20\nreason=service.postgis: its part does not restore\n' \
		> "$S/20261130T033000Z.ini"
	# an archive without a record, a part, a name that is no stamp: no backups
	touch "$S/20261202T033000Z.tar.gz" "$S/20261203T033000Z.tar.gz.part" "$S/2026120T033000Z.ini"
	printf 'status=verified\n' > "$SL_ROOT/backups/shop/20261129T000000Z.ini"
	printf 'schedule=off\n' > "$SL_ROOT/backups/shop.schedule"
	run -0 sl-backup --list blog
	assert_output "blog 20261130T033000Z bad bytes=12 seconds=0.20 verified=2026-11-30T03:30:01Z reason=service.postgis: its part does not restore
blog 20261201T033000Z verified bytes=10 seconds=1.50 verified=2026-12-01T03:30:02Z"
	run -0 sl-backup --list
	assert_line --index 2 "shop 20261129T000000Z verified bytes=- seconds=- verified=-"
	[ "${#lines[@]}" = 3 ] || fail "want 3 lines"
	run -100 sl-backup --list ../etc
	assert_output "sl-backup: fatal: invalid app name '../etc'"
}
