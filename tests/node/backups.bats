#!/usr/bin/env bats
# Scheduled backups that prove themselves: the places example (PostGIS and
# a files area) with backup.schedule; a run started as its timer would,
# stored, verified by restoring every part into scratch places; the
# retention; corrupted backups caught, kept, marked bad and not counted;
# a stored backup restored; and the store closed to the app.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/lab

setup_file() {
	lab_setup_file
	provisioned_node_up bk
	export PLACES=$BATS_FILE_TMPDIR/places
	cp -r "$TOP/examples/places" "$PLACES"
	printf 'backup.schedule = 30 3 * * *\nbackup.keep_daily = 2\nbackup.keep_weekly = 1\n' \
		>> "$PLACES/app.ini"
}

teardown_file() {
	sl-node destroy bk 3>&- || true
}

setup() {
	lab_setup
}

STORE=/var/lib/silverlining/backups
AREA=/var/lib/silverlining/apps/places/files
add_place() { post places.test "/places?name=$1&lon=$2&lat=$3" "${4:-}" > /dev/null; }
data_sum() {
	{
		page places.test '/near?lon=0&lat=0&km=20000'
		on sh -c "cd $AREA && find . | sort && find . -type f | sort | xargs -r sha256sum"
	} | sha256sum | cut -c1-16
}
# a scheduled run, as the timer starts it; the run's stamp in STAMP
scheduled_run() {
	on systemctl start sl-backup@places.service || true
	STAMP=$(newest)
}
# the stamp of the newest stored backup
newest() { on sh -c "ls $STORE/places | sed -n 's/\.ini\$//p' | sort | tail -1"; }
record() { on cat "$STORE/places/$1.ini"; }
# plant NEW FROM [STATUS]: a copy of the stored backup FROM as NEW, its record saying STATUS
plant() {
	on sh -c "cd $STORE/places && cp -p $2.tar.gz $1.tar.gz &&
		sed 's/^status=.*/status=${3:-verified}/' $2.ini > $1.ini && chmod 600 $1.ini"
}
stamp_days_ago() { date -u -d "$1 days ago" +%Y%m%dT%H%M%SZ; }
stamp_hours_ago() { date -u -d "$1 hours ago" +%Y%m%dT%H%M%SZ; }
no_scratch() {
	run -0 on sh -c 'ls -d /var/tmp/sl-verify.* /var/tmp/sl-backup.* 2>/dev/null; true'
	assert_output ""
	run -0 on sh -c 'cd / && runuser -u postgres -- psql -Atc "select datname from pg_database where strpos(datname, chr(46)) > 0"'
	assert_output ""
}

@test "places deploys with backup.schedule: its timer is written from app.ini" {
	run -0 up "$PLACES" places.test
	add_place Berlin 13.405 52.52 'the capital'
	add_place Potsdam 13.064 52.391
	run -0 on systemctl is-enabled sl-backup@places.timer
	run -0 on systemctl cat sl-backup@places.timer
	assert_line "OnCalendar=*-*-* 03:30:00"
	assert_line "# backup.schedule = 30 3 * * *"
}

@test "a scheduled run: stored whole, verified by a restore into scratch places, recorded" {
	seconds scheduled_run
	run -0 on systemctl show -p Result --value sl-backup@places.service
	assert_output success
	run -0 record "$STAMP"
	assert_line app=places
	assert_line status=verified
	assert_line '[postgis]'
	assert_line tables=1
	assert_line rows=2
	assert_line '[files]'
	assert_line files=1
	sum=$(on sha256sum "$STORE/places/$STAMP.tar.gz" | cut -d' ' -f1)
	assert_line "sha256=$sum"
	took=$(printf '%s\n' "$output" | sed -n 's/^seconds=//p')
	echo "# figure verification of places (PostGIS 1 table, files 1 file): $took s; the whole scheduled run $SECONDS_TAKEN s" >&3
	run -0 silver backups --node "$NODE" places.test
	assert_output --regexp "^places $STAMP verified bytes=[0-9]+ seconds=[0-9.]+ verified=[0-9T:Z-]+\$"
	run -0 silver query --node "$NODE"
	assert_line --regexp "^backup places $STAMP verified=[0-9T:Z-]+ seconds=$took bad=0\$"
	echo "# silver query: $(printf '%s\n' "$output" | grep '^backup ')" >&3
	# root's alone: the store, the app's directory in it, the files
	run -0 on stat -c '%a %U %n' "$STORE" "$STORE/places" "$STORE/places/$STAMP.tar.gz" "$STORE/places/$STAMP.ini"
	assert_output "$(printf '700 root %s\n' "$STORE" "$STORE/places"
		printf '600 root %s\n' "$STORE/places/$STAMP.tar.gz" "$STORE/places/$STAMP.ini")"
	no_scratch
}

@test "the app cannot read its stored backups, nor reach the store (control: root can)" {
	STAMP=$(newest)
	run -0 on test -r "$STORE/places/$STAMP.tar.gz"
	run -1 on runuser -u sl-places -- test -r "$STORE/places/$STAMP.tar.gz"
	run -1 on runuser -u sl-places -- cat "$STORE/places/$STAMP.ini"
	run -2 on runuser -u sl-places -- ls "$STORE"
}

@test "a link the app plants in its area is hashed as a link: its target is never read" {
	on runuser -u sl-places -- ln -s /etc/shadow "$AREA/leak"
	scheduled_run
	run -0 record "$STAMP"
	assert_line status=verified
	# the area's regular files alone: /etc/shadow's bytes are not counted
	want=$(on sh -c "cd $AREA && find . -type f -printf '%s\n'" | awk '{s += $1} END {print s}')
	assert_line "bytes=$want"
	assert_line files=1
	# control: the link's target has bytes that would show
	[ "$(on stat -c %s /etc/shadow)" -gt 0 ]
	on rm "$AREA/leak"
}

@test "retention: the newest verified of each of the last 2 days and of this week; bad ones kept" {
	scheduled_run
	first=$STAMP
	d1=$(stamp_days_ago 1) d2=$(stamp_days_ago 2) d3=$(stamp_days_ago 3) d9=$(stamp_days_ago 9)
	plant "$d1" "$first"
	plant "$d2" "$first"
	plant "$d3" "$first"
	plant "$d9" "$first" bad
	sleep 1
	scheduled_run
	run -0 on sl-backup --list places
	# today's newest, yesterday's (the last 2 days), and the bad one; today's newest
	# is also this week's newest
	assert_output --partial "places $d9 bad"
	run -0 on sh -c "ls $STORE/places | sed -n 's/\.ini\$//p' | sort"
	assert_output "$(printf '%s\n' "$d9" "$d1" "$STAMP")"
	run -0 on ls "$STORE/places"
	refute_output --partial "$d2"
	refute_output --partial "$first"
}

@test "bytes flipped in a stored archive: caught by --verify, kept, marked bad, not counted" {
	STAMP=$(newest)
	bad=$(stamp_hours_ago 2)
	plant "$bad" "$STAMP"
	# control: untouched, it verifies again
	run -0 on sl-backup --verify places "$bad"
	assert_output --regexp "^places $bad verified seconds="
	on sh -c "printf 'XXXXXXXX' | dd of=$STORE/places/$bad.tar.gz bs=1 seek=2000 conv=notrunc status=none"
	run -100 on sl-backup --verify places "$bad"
	assert_output --partial "places $bad bad"
	assert_output --partial "the archive's sha256 is not the one recorded"
	# and with a record that agrees with the flipped bytes, the archive itself is caught
	sum=$(on sha256sum "$STORE/places/$bad.tar.gz" | cut -d' ' -f1)
	on sed -i "s/^sha256=.*/sha256=$sum/" "$STORE/places/$bad.ini"
	run -100 on sl-backup --verify places "$bad"
	assert_output --partial "places $bad bad"
	run -0 record "$bad"
	assert_line status=bad
	assert_line --partial reason=
	no_scratch
}

@test "a whole archive whose database part does not restore: bad, the app's data untouched" {
	STAMP=$(newest)
	before=$(data_sum)
	evil=$(stamp_hours_ago 3)
	# a real pg_dump archive (pg_restore -l reads it), of a function only a superuser makes
	on sh -c "set -e; W=\$(mktemp -d); cd /
		tar -C \$W -xzf $STORE/places/$STAMP.tar.gz
		runuser -u postgres -- createdb evil
		runuser -u postgres -- psql -q -d evil -c \"CREATE FUNCTION boom(int4) RETURNS int4 AS 'int4abs' LANGUAGE internal\"
		runuser -u postgres -- pg_dump -Fc evil > \$W/postgis/database.pgdump
		runuser -u postgres -- dropdb evil
		tar -C \$W -czf $STORE/places/$evil.tar.gz . && rm -rf \$W
		printf 'app=places\ninstance=-\ntime=-\nsha256=%s\nstatus=verified\n' \
			\$(sha256sum $STORE/places/$evil.tar.gz | cut -d' ' -f1) > $STORE/places/$evil.ini"
	run -100 on sl-backup --verify places "$evil"
	assert_output --partial "places $evil bad"
	assert_output --partial "service.postgis: its part does not restore"
	[ "$(data_sum)" = "$before" ] || fail "the app's data changed"
	no_scratch
	# shown, and not counted: the last verified backup is still the newest one
	run -0 silver query --node "$NODE"
	assert_line --regexp "^backup places $STAMP verified=[0-9T:Z-]+ seconds=[0-9.]+ bad=3\$"
	run -0 silver backups --node "$NODE" places.test
	assert_line --partial "places $evil bad "
	# a bad backup is refused by a restore, and nothing changes
	run -100 silver restore --node "$NODE" --stored "$evil" places.test
	assert_output --partial "is marked bad"
	[ "$(data_sum)" = "$before" ] || fail "the app's data changed"
}

@test "a stored backup restored through silver: the data is the backup's again" {
	STAMP=$(newest)
	before=$(data_sum)
	add_place Hamburg 9.993 53.551 'the port'
	[ "$(data_sum)" != "$before" ] || fail "control: the new place changed nothing"
	run -0 silver restore --node "$NODE" --stored "$STAMP" places.test
	assert_output --partial "restored service.postgis of places"
	[ "$(data_sum)" = "$before" ] || fail "the data is not the backup's"
}

@test "silver backups --schedule overrides app.ini on the node; - goes back to app.ini" {
	run -0 silver backups --node "$NODE" --schedule @hourly --keep-daily 3 places.test
	assert_line "places schedule=@hourly keep_daily=3 keep_weekly=1"
	run -0 on systemctl cat sl-backup@places.timer
	assert_line "OnCalendar=*-*-* *:00:00"
	run -0 on stat -c '%a %U' "$STORE/places.schedule"
	assert_output "600 root"
	run -0 on sl-backup --schedule places.test off - -
	run -1 on systemctl cat sl-backup@places.timer
	run -100 on sl-backup --schedule places.test '61 * * * *' - -
	run -0 on sl-backup --schedule places.test - - -
	assert_line "places schedule=30 3 * * * keep_daily=2 keep_weekly=1"
	run -0 on systemctl cat sl-backup@places.timer
	assert_line "OnCalendar=*-*-* 03:30:00"
}
