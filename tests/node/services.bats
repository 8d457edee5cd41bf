#!/usr/bin/env bats
# Services on a node: PostGIS, files and MariaDB for real apps, their
# isolation, and backup -> clear -> restore round trips checked by sums.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/lab

setup_file() {
	lab_setup_file
	provisioned_node_up svc
	export PLACES=$BATS_FILE_TMPDIR/places
	cp -r "$TOP/examples/places" "$PLACES"
}

teardown_file() {
	sl-node destroy svc 3>&- || true
}

setup() {
	lab_setup
}

# the app's data, as sums: its places, and its files area
places_sum() { page places.test '/near?lon=0&lat=0&km=20000' | sha256sum | cut -c1-16; }
files_sum() { on sh -c 'cd /var/lib/silverlining/apps/places/files && find . -type f | sort | xargs -r sha256sum' | sha256sum | cut -c1-16; }

@test "places deploys with PostGIS and files; update_fetch shows its CONFIG_* with no password" {
	seconds run -0 --separate-stderr up "$PLACES" places.test
	echo "# first deploy with PostGIS (server installed on demand): $SECONDS_TAKEN s" >&3
	[[ $stderr == *'sl-activate: update_fetch /_setup: 200'* ]] || fail "$stderr"
	[[ $stderr == *'"CONFIG_PG_DBNAME": "places"'* ]] || fail "$stderr"
	[[ $stderr == *'"CONFIG_PG_PASSWORD": "********"'* ]] || fail "$stderr"
	[[ $stderr == *'"CONFIG_FILES": "/var/lib/silverlining/apps/places/files"'* ]] || fail "$stderr"
	password=$(on cat /var/lib/silverlining/apps/places/pg.password)
	[[ $stderr != *"$password"* ]] || fail "the password is in the deploy's output"
	run -0 on stat -c '%a %U %G' /var/lib/silverlining/apps/places/pg.password
	assert_output "640 root sl-places"
}

@test "a spatial query answers from PostGIS; a note is kept in the files area" {
	run -0 post places.test '/places?name=Berlin&lon=13.405&lat=52.52' 'the capital'
	assert_output --partial '"added": "Berlin"'
	post places.test '/places?name=Potsdam&lon=13.064&lat=52.391' > /dev/null
	post places.test '/places?name=Paris&lon=2.352&lat=48.857' > /dev/null
	run -0 page places.test '/near?lon=13.405&lat=52.52&km=50'
	assert_output --partial '"name": "Berlin"'
	assert_output --partial '"name": "Potsdam"'
	refute_output --partial 'Paris'
	run -0 on cat /var/lib/silverlining/apps/places/files/Berlin.txt
	assert_output "the capital"
	run -0 on stat -c '%a %U' /var/lib/silverlining/apps/places/files/Berlin.txt
	assert_output "644 sl-places"
}

@test "the data outlives instances: a redeploy finds it" {
	run -0 up "$PLACES" places.test
	run -0 page places.test '/near?lon=13.405&lat=52.52&km=1'
	assert_output --partial '"name": "Berlin"'
}

@test "two apps cannot read each other's database, records or files" {
	cp -r "$PLACES" "$BATS_TEST_TMPDIR/rival"
	sed -i 's/^app_name = places$/app_name = rival/' "$BATS_TEST_TMPDIR/rival/app.ini"
	run -0 up "$BATS_TEST_TMPDIR/rival" rival.test
	run -2 on sh -c 'PGPASSWORD=$(cat /var/lib/silverlining/apps/rival/pg.password) \
		psql -h 127.0.0.1 -U rival -d places -c "select 1"'
	assert_output --partial 'permission denied for database "places"'
	run -1 on runuser -u sl-rival -- cat /var/lib/silverlining/apps/places/pg.password
	assert_output --partial "Permission denied"
	run -2 on runuser -u sl-rival -- ls /var/lib/silverlining/apps/places/files
	assert_output --partial "Permission denied"
	run -0 on sh -c 'PGPASSWORD=$(cat /var/lib/silverlining/apps/rival/pg.password) \
		psql -h 127.0.0.1 -U rival -d rival -Atc "select postgis_version() is not null"'
	assert_output t
}

@test "backup -> clear -> gone -> restore -> back, identical: PostGIS and files" {
	before_places=$(places_sum)
	before_files=$(files_sum)
	run -0 silver backup --node "$NODE" places.test "$BATS_TEST_TMPDIR/b.tar.gz"
	run -0 tar -tzf "$BATS_TEST_TMPDIR/b.tar.gz"
	assert_line ./backup.ini
	assert_line ./postgis/database.pgdump
	assert_line ./files/area.tar
	run -0 silver -y clear --node "$NODE" places.test
	assert_line "cleared service.postgis of places"
	assert_line "cleared service.files of places"
	run -0 page places.test '/near?lon=0&lat=0&km=20000'
	assert_output "[]"
	run -0 on ls -A /var/lib/silverlining/apps/places/files
	assert_output ""
	run -0 silver restore --node "$NODE" "$BATS_TEST_TMPDIR/b.tar.gz" places.test
	assert_line "restored service.postgis of places"
	[ "$(places_sum)" = "$before_places" ] || fail "places differ after the restore"
	[ "$(files_sum)" = "$before_files" ] || fail "files differ after the restore"
	echo "# postgis+files round trip: places $before_places, files $before_files" >&3
}

@test "a backup into a directory, restored from the directory" {
	before=$(places_sum)
	run -0 silver backup --node "$NODE" places.test "$BATS_TEST_TMPDIR/dir"
	[ -s "$BATS_TEST_TMPDIR/dir/postgis/database.pgdump" ]
	run -0 silver -y clear --node "$NODE" places.test
	run silver restore --node "$NODE" "$BATS_TEST_TMPDIR/dir" places.test
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	[ "$(places_sum)" = "$before" ]
}

@test "MariaDB: an app's own user and database; backup -> clear -> restore, identical" {
	mkdir -p "$BATS_TEST_TMPDIR/my"
	cp "$TOP/examples/hello/main.py" "$BATS_TEST_TMPDIR/my/"
	printf '[production]\napp_name = my-notes\nrunner = main.py\nservice.mysql =\n' > "$BATS_TEST_TMPDIR/my/app.ini"
	run -0 up "$BATS_TEST_TMPDIR/my" my.test
	# the app's own credentials reach its database (an option file: no password in argv)
	run -0 on sh -c 'f=$(mktemp); printf "[client]\nuser=my_notes\npassword=%s\n" \
		"$(cat /var/lib/silverlining/apps/my-notes/mysql.password)" > $f;
		mariadb --defaults-extra-file=$f my_notes -e "CREATE TABLE t (a INT PRIMARY KEY, b TEXT);
		INSERT INTO t VALUES (1, \"one\"), (2, \"two\")"; rm $f'
	sum() { on mariadb my_notes -N -e 'SELECT * FROM t ORDER BY a' | sha256sum | cut -c1-16; }
	before=$(sum)
	run -0 silver backup --node "$NODE" my.test "$BATS_TEST_TMPDIR/m.tar.gz"
	run -0 silver -y clear --node "$NODE" my.test
	run -1 on mariadb my_notes -N -e 'SELECT * FROM t'
	assert_output --partial "doesn't exist"
	run -0 silver restore --node "$NODE" "$BATS_TEST_TMPDIR/m.tar.gz" my.test
	[ "$(sum)" = "$before" ] || fail "the rows differ after the restore"
	echo "# mysql round trip: $before" >&3
}

@test "update --clear wipes the services' data before the new instance starts" {
	cp -r "$PLACES" "$BATS_TEST_TMPDIR/fresh"
	sed -i 's/^app_name = places$/app_name = fresh/' "$BATS_TEST_TMPDIR/fresh/app.ini"
	run -0 up "$BATS_TEST_TMPDIR/fresh" fresh.test
	post fresh.test '/places?name=Oslo&lon=10.75&lat=59.91' > /dev/null
	run -0 page fresh.test '/near?lon=10.75&lat=59.91&km=1'
	assert_output --partial Oslo
	run -0 silver update --clear --node "$NODE" "$BATS_TEST_TMPDIR/fresh" fresh.test
	assert_line "sl-activate: cleared service.postgis of fresh"
	run -0 page fresh.test '/near?lon=10.75&lat=59.91&km=1'
	assert_output "[]"
}

@test "a backup of a location where nothing is deployed exits 100" {
	run -100 silver backup --node "$NODE" nothing.test "$BATS_TEST_TMPDIR/x.tar.gz"
	assert_output "sl-backup: fatal: nothing is deployed at nothing.test"
	[ ! -e "$BATS_TEST_TMPDIR/x.tar.gz" ] && [ ! -e "$BATS_TEST_TMPDIR/x.tar.gz.part" ]
	# into a directory: the same status, and the directory it made is gone
	run -100 silver backup --node "$NODE" nothing.test "$BATS_TEST_TMPDIR/into"
	assert_output "sl-backup: fatal: nothing is deployed at nothing.test"
	[ ! -e "$BATS_TEST_TMPDIR/into" ]
}

@test "a hostile app name never reaches SQL" {
	run -100 on sl-service-postgis setup "x';DROP DATABASE places;--"
	assert_output "sl-service-postgis: fatal: invalid app name 'x';DROP DATABASE places;--': want a lowercase letter, then up to 30 lowercase letters, digits or dashes"
	run -0 page places.test '/near?lon=13.405&lat=52.52&km=1'
	assert_output --partial '"name": "Berlin"'
}

@test "an app named after the server's own accounts is refused" {
	mkdir -p "$BATS_TEST_TMPDIR/pg"
	cp "$TOP/examples/hello/main.py" "$BATS_TEST_TMPDIR/pg/"
	printf '[production]\napp_name = postgres\nrunner = main.py\nservice.postgresql =\n' > "$BATS_TEST_TMPDIR/pg/app.ini"
	run -100 up "$BATS_TEST_TMPDIR/pg" pg.test
	assert_line "sl-service-postgresql: fatal: postgres is PostgreSQL's own name: an app called postgres cannot have a database"
	on runuser -u postgres -- psql -qc 'CREATE ROLE squatter' > /dev/null
	sed -i 's/^app_name = postgres$/app_name = squatter/' "$BATS_TEST_TMPDIR/pg/app.ini"
	run -100 up "$BATS_TEST_TMPDIR/pg" pg.test
	assert_line "sl-service-postgresql: fatal: a PostgreSQL role squatter exists that silverlining did not make (no /var/lib/silverlining/apps/squatter/pg.password): refused"
}

@test "a server that will not start exits 111; the running instance keeps serving" {
	inst=$(silver query "$NODE" places | awk '$4 == "places.test" {print $2}')
	on sh -c 'systemctl stop postgresql@15-main && mv /etc/postgresql/15/main/postgresql.conf /root/pg.conf'
	run -111 up "$PLACES" places.test
	assert_output --partial "the server did not start"
	on sh -c 'mv /root/pg.conf /etc/postgresql/15/main/postgresql.conf && systemctl start postgresql@15-main'
	run -0 silver query "$NODE" places
	assert_line --regexp "^places $inst running places\.test$"
	run -0 page places.test '/near?lon=13.405&lat=52.52&km=1'
	assert_output --partial '"name": "Berlin"'
}
