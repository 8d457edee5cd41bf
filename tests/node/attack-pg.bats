#!/usr/bin/env bats
# Attacks on PostgreSQL backups and restores (issue 12, holes 1 and 5): an
# app's own SQL run while its dump loads never runs with a superuser's
# rights, and a backup that does not load leaves the live data as it was.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/lab

setup_file() {
	lab_setup_file
	provisioned_node_up apg
	export PLACES=$BATS_FILE_TMPDIR/places EVIL=$BATS_FILE_TMPDIR/evil
	cp -r "$TOP/examples/places" "$PLACES"
	cp -r "$TOP/examples/places" "$EVIL"
	sed -i 's/^app_name = places$/app_name = evil/' "$EVIL/app.ini"
}

teardown_file() {
	sl-node destroy apg 3>&- || true
}

setup() {
	lab_setup
}

# as_app APP [PSQL-ARGS...]: SQL on stdin, run by the app the way its code
# would: its own role, its own password, over TCP
as_app() {
	local app=$1
	shift
	on sh -c "PGPASSWORD=\$(cat /var/lib/silverlining/apps/$app/pg.password) exec psql -X -q \
		-v ON_ERROR_STOP=1 -h 127.0.0.1 -U $app -d $app -At $*"
}
# as_super DB SQL: the superuser's view, to check what an app cannot
as_super() { on env -C / runuser -u postgres -- psql -X -At -d "$1" -c "$2"; }
# the app's rows, all of them, as one sum
rows_sum() {
	as_super places "SELECT name, ST_AsText(geom) FROM places ORDER BY id" | sha256sum | cut -c1-16
	as_super places "SELECT count(*), md5(string_agg(h, '' ORDER BY id)) FROM bulk"
}
restore_dir() { silver restore --node "$NODE" "$1" places.test; }

@test "two apps with PostGIS deploy: places, and evil, which attacks" {
	run -0 up "$PLACES" places.test
	run -0 up "$EVIL" evil.test
	post places.test '/places?name=Berlin&lon=13.405&lat=52.52' 'the capital' > /dev/null
	post places.test '/places?name=Paris&lon=2.352&lat=48.857' > /dev/null
	# enough rows that the middle of a dump is table data
	as_app places <<-'SQL'
		CREATE TABLE bulk AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 40000) g;
	SQL
	run -0 as_super places "SELECT count(*) FROM bulk"
	assert_output 40000
}

@test "hole 1: SQL in an app's own dump cannot make it superuser when it is restored" {
	# a CHECK calls an invoker's function that leaves the role it was set to
	# and asks for superuser: harmless for the app itself, fatal when a
	# superuser's session loads the row
	as_app evil <<-'SQL'
		CREATE FUNCTION public.escalate() RETURNS boolean LANGUAGE plpgsql SECURITY INVOKER AS $$
		BEGIN
			BEGIN
				RESET ROLE;
				ALTER ROLE evil SUPERUSER;
			EXCEPTION WHEN others THEN NULL;
			END;
			RETURN true;
		END $$;
		CREATE TABLE public.trap (id int CHECK (public.escalate()));
		INSERT INTO public.trap VALUES (1);
	SQL
	run -0 as_super postgres "SELECT rolsuper FROM pg_roles WHERE rolname = 'evil'"
	assert_output f
	run -0 silver backup --node "$NODE" evil.test "$BATS_TEST_TMPDIR/evil.tar.gz"
	run -0 silver restore --node "$NODE" "$BATS_TEST_TMPDIR/evil.tar.gz" evil.test
	run -0 as_super postgres "SELECT rolsuper FROM pg_roles WHERE rolname = 'evil'"
	assert_output f
	# the trap came back, and evil still cannot read another app's data
	run -0 as_super evil "SELECT id FROM trap"
	assert_output 1
	run -2 as_app evil -d places -c "'SELECT count(*) FROM places'" < /dev/null
	assert_output --partial 'permission denied for database "places"'
	# nothing of the restore is left behind
	run -0 as_super postgres "SELECT count(*) FROM pg_database WHERE datname LIKE 'evil.%'"
	assert_output 0
}

@test "hole 5: a truncated dump is refused with pg_restore's word; the rows stay as they were" {
	run -0 silver backup --node "$NODE" places.test "$BATS_TEST_TMPDIR/b"
	dump=$BATS_TEST_TMPDIR/b/postgis/database.pgdump
	size=$(stat -c %s "$dump")
	truncate -s $((size * 2 / 3)) "$dump"
	post places.test '/places?name=Potsdam&lon=13.064&lat=52.391' > /dev/null
	before=$(rows_sum)
	run -100 restore_dir "$BATS_TEST_TMPDIR/b"
	assert_line --partial "pg_restore: error:"
	assert_line --regexp "sl-service-postgis: fatal: .*/postgis/database.pgdump is not a whole pg_dump archive: nothing was changed"
	echo "# truncated: $(grep -m1 'pg_restore: error' <<< "$output")" >&3
	[ "$(rows_sum)" = "$before" ] || fail "the rows changed"
	run -0 as_super places "SELECT name FROM places ORDER BY id"
	assert_output $'Berlin\nParis\nPotsdam'
}

@test "hole 5: a corrupt dump (bytes flipped in its middle) is refused; the rows stay as they were" {
	run -0 silver backup --node "$NODE" places.test "$BATS_TEST_TMPDIR/b"
	dump=$BATS_TEST_TMPDIR/b/postgis/database.pgdump
	size=$(stat -c %s "$dump")
	printf '\377\000\377\000\377\000\377\000' |
		dd of="$dump" bs=1 seek=$((size / 2)) conv=notrunc status=none
	[ "$(stat -c %s "$dump")" = "$size" ]
	post places.test '/places?name=Lyon&lon=4.835&lat=45.764' > /dev/null
	before=$(rows_sum)
	run -100 restore_dir "$BATS_TEST_TMPDIR/b"
	assert_line --partial "pg_restore: error:"
	assert_line --regexp "sl-service-postgis: fatal: .*/postgis/database.pgdump is not a whole pg_dump archive: nothing was changed"
	[ "$(rows_sum)" = "$before" ] || fail "the rows changed"
	echo "# corrupt: $(grep -m1 'pg_restore: error' <<< "$output")" >&3
}

@test "hole 5: a dump the server refuses to load leaves the rows as they were, and exits 111" {
	# a whole archive whose load fails in the server: the escalation of
	# hole 1 without its exception handler, refused to the app's own role
	as_app evil <<-'SQL'
		CREATE OR REPLACE FUNCTION public.escalate() RETURNS boolean LANGUAGE plpgsql AS $$
		BEGIN
			RESET ROLE;
			ALTER ROLE evil SUPERUSER;
			RETURN true;
		END $$;
	SQL
	# loaded into places (a backup of one app goes into another with a warning)
	run -0 silver backup --node "$NODE" evil.test "$BATS_TEST_TMPDIR/e.tar.gz"
	before=$(rows_sum)
	run -111 silver restore --node "$NODE" "$BATS_TEST_TMPDIR/e.tar.gz" places.test
	assert_line --partial 'ERROR:  must be superuser to alter superuser roles'
	assert_line --partial 'sl-service-postgis: fatal: the backup did not load: pg_restore failed'
	[ "$(rows_sum)" = "$before" ] || fail "the rows changed"
	run -0 as_super postgres "SELECT rolsuper FROM pg_roles WHERE rolname IN ('evil', 'places')"
	assert_output $'f\nf'
	run -0 as_super postgres "SELECT count(*) FROM pg_database WHERE datname LIKE 'places.%'"
	assert_output 0
}

@test "hole 5: a good backup restores whole, over the left-overs of a restore that crashed" {
	before=$(rows_sum)
	run -0 silver backup --node "$NODE" places.test "$BATS_TEST_TMPDIR/g.tar.gz"
	post places.test '/places?name=Bonn&lon=7.1&lat=50.73' > /dev/null
	as_app places <<< 'DELETE FROM bulk WHERE id > 100;'
	[ "$(rows_sum)" != "$before" ]
	# what a crash in the middle of a restore leaves behind
	as_super postgres 'CREATE DATABASE "places.restore"'
	as_super postgres 'CREATE DATABASE "places.old"'
	run -0 silver restore --node "$NODE" "$BATS_TEST_TMPDIR/g.tar.gz" places.test
	assert_line "restored service.postgis of places"
	refute_output --partial NOTICE
	[ "$(rows_sum)" = "$before" ] || fail "the rows differ after the restore"
	run -0 as_super postgres "SELECT count(*) FROM pg_database WHERE datname LIKE 'places.%'"
	assert_output 0
	# the database is the app's, closed to others, with PostGIS, as before
	run -0 as_super postgres "SELECT pg_get_userbyid(datdba), datacl IS NOT NULL FROM pg_database WHERE datname = 'places'"
	assert_output 'places|t'
	run -2 as_app evil -d places -c "'SELECT 1'" < /dev/null
	assert_output --partial 'permission denied for database "places"'
	run -0 curl -s -H "Host: places.test" "http://$NODE_IP/near?lon=13.405&lat=52.52&km=1"
	assert_output --partial '"name": "Berlin"'
	echo "# round trip: ${before//$'\n'/ }" >&3
}

@test "the scratch databases of a verify and a restore are closed to another app while they exist" {
	run -0 silver backup --node "$NODE" places.test "$BATS_TEST_TMPDIR/s.tar.gz"
	# evil knocks on places.verify and places.restore, as its own role with
	# its own password, as fast as psql starts, while a scheduled backup
	# is verified and then a restore runs
	on sh -c 'rm -f /run/knock.stop; nohup sh -c "export PGPASSWORD=\$(cat /var/lib/silverlining/apps/evil/pg.password)
		while [ ! -e /run/knock.stop ]; do for d in places.verify places.restore; do
			psql -X -At -h 127.0.0.1 -U evil -d \$d -c \"SELECT count(*) FROM bulk\" 2>&1
		done; done" > /run/knock.out 2>&1 < /dev/null &'
	run -0 on sl-backup --scheduled places
	assert_output --regexp '^places [0-9]{8}T[0-9]{6}Z verified '
	run -0 silver restore --node "$NODE" "$BATS_TEST_TMPDIR/s.tar.gz" places.test
	on sh -c 'touch /run/knock.stop; sleep 0.5'
	run -0 on cat /run/knock.out
	tries=$(grep -c . <<< "$output")
	denied_v=$(grep -c 'permission denied for database "places.verify"' <<< "$output") || true
	denied_r=$(grep -c 'permission denied for database "places.restore"' <<< "$output") || true
	echo "# $tries answers; refused by privilege: verify $denied_v, restore $denied_r" >&3
	# no knock got in; and the knocks came while the databases were there
	# (refused for want of CONNECT, not for their absence): the control
	refute_output --regexp '^[0-9]+$'
	refute_output --partial 'connection authorized'
	[ "$denied_v" -gt 0 ] || fail "no knock came while places.verify existed"
	[ "$denied_r" -gt 0 ] || fail "no knock came while places.restore existed"
	other=$(grep -v -e 'does not exist$' -e 'permission denied for database' \
		-e '^DETAIL:  User does not have CONNECT privilege.$' \
		-e '^DETAIL:  It seems to have just been dropped or renamed.$' <<< "$output" | head -3)
	[ -z "$other" ] || fail "another answer: $other"
}

@test "hole 5: a disk that fills up under a restore fails it with 111; the rows stay as they were" {
	before=$(rows_sum)
	run -0 silver backup --node "$NODE" places.test "$BATS_TEST_TMPDIR/d.tar.gz"
	# the server's data on a volume of its own, as on many servers, with
	# a few megabytes left: less than a restore of places needs
	on sh -c 'set -e; d=/var/lib/postgresql/15/main; systemctl stop postgresql@15-main
		mkdir -p /srv/pgvol
		mount -t tmpfs -o size=$(($(du -sm $d | cut -f1) + 64))m tmpfs /srv/pgvol
		cp -a $d /srv/pgvol/main && mount --bind /srv/pgvol/main $d
		systemctl start postgresql@15-main
		fallocate -l $(($(df -m --output=avail /srv/pgvol | tail -1) - 6))m /srv/pgvol/ballast'
	run -111 silver restore --node "$NODE" "$BATS_TEST_TMPDIR/d.tar.gz" places.test
	# where it fails (making the database, PostGIS, the load, the WAL) is
	# the sizes' business; the server says why in one of its two ways
	assert_output --regexp 'No space left on device|Check free disk space'
	echo "# full disk: $(grep -m1 -E 'No space|could not' <<< "$output")" >&3
	# room again; a server that hit the full disk in its WAL has restarted
	on sh -c 'rm /srv/pgvol/ballast && systemctl restart postgresql@15-main'
	[ "$(rows_sum)" = "$before" ] || fail "the rows changed"
	# and the next restore works, over whatever the failed one left
	run -0 silver restore --node "$NODE" "$BATS_TEST_TMPDIR/d.tar.gz" places.test
	[ "$(rows_sum)" = "$before" ] || fail "the rows differ after the restore"
	run -0 as_super postgres "SELECT count(*) FROM pg_database WHERE datname LIKE 'places.%'"
	assert_output 0
}
