#!/usr/bin/env bats
# Restores that must lose nothing, and tampered backups and planted links
# that must not take root outside the app's own data: truncated and corrupt
# backups, a service whose part fails half-way, a full disk, archives that
# hold links, and a link an app plants in its files area for the backup.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/lab

setup_file() {
	lab_setup_file
	provisioned_node_up rst
	export PLACES=$BATS_FILE_TMPDIR/places VICTIM=$BATS_FILE_TMPDIR/victim
	cp -r "$TOP/examples/places" "$PLACES"
	mkdir -p "$VICTIM"
	cp "$TOP/examples/hello/main.py" "$VICTIM/"
	printf '[production]\napp_name = victim\nrunner = main.py\nservice.files =\n' > "$VICTIM/app.ini"
}

teardown_file() {
	sl-node destroy rst 3>&- || true
}

setup() {
	lab_setup
}

AREA=/var/lib/silverlining/apps/places/files
VAREA=/var/lib/silverlining/apps/victim/files
add_place() { post places.test "/places?name=$1&lon=$2&lat=$3" "${4:-}" > /dev/null; }
# all of the app's data, as one sum: its places (database rows) and its files
data_sum() {
	{
		page places.test '/near?lon=0&lat=0&km=20000'
		on sh -c "cd $AREA && find . | sort && find . -type f | sort | xargs -r sha256sum"
	} | sha256sum | cut -c1-16
}
# nothing of a restore is left behind in /var/tmp, and the area's scratch is gone
no_leftovers() {
	run -0 on sh -c 'ls -d /var/tmp/sl-backup.* /var/lib/silverlining/apps/*/.*.restore 2>/dev/null; true'
	assert_output ""
}
# backup NAME: a fresh backup of places.test in $BATS_FILE_TMPDIR/NAME(.tar.gz)
backup() {
	silver backup --node "$NODE" places.test "$BATS_FILE_TMPDIR/$1" > /dev/null
}
restore() { silver restore --node "$NODE" "$1" places.test; }
# tarball DIR OUT: DIR as a backup sl-backup would read (./backup.ini, ./files/...)
tarball() { tar -C "$1" -czf "$2" .; }

@test "places (PostGIS and files) and victim (files) deploy; each keeps data" {
	run -0 up "$PLACES" places.test
	run -0 up "$VICTIM" victim.test
	add_place Berlin 13.405 52.52 'the capital'
	add_place Potsdam 13.064 52.391
	run -0 on cat "$AREA/Berlin.txt"
	assert_output "the capital"
	# the victim's own secret, and a tar of it, in its 0700 area
	on runuser -u sl-victim -- sh -c "cd $VAREA && echo victim-secret-7f3a > secret.txt &&
		chmod 644 secret.txt && tar -cf keep.tar secret.txt"
	run -0 on stat -c '%a %U' "$VAREA"
	assert_output "700 sl-victim"
}

@test "a .tar.gz cut short exits 100 and changes nothing" {
	backup old.tar.gz
	add_place Hamburg 9.993 53.551 'the port'
	before=$(data_sum)
	size=$(stat -c %s "$BATS_FILE_TMPDIR/old.tar.gz")
	head -c $((size / 2)) "$BATS_FILE_TMPDIR/old.tar.gz" > "$BATS_TEST_TMPDIR/short.tar.gz"
	run -100 restore "$BATS_TEST_TMPDIR/short.tar.gz"
	assert_output --partial "sl-backup: fatal: the backup is not a whole .tar.gz (cut short or corrupt): nothing was changed"
	[ "$(data_sum)" = "$before" ] || fail "the data changed"
	no_leftovers
}

@test "a database dump cut short in a directory backup exits 100 and changes nothing" {
	backup olddir
	add_place Bremen 8.807 53.075 'the town band'
	before=$(data_sum)
	cp -r "$BATS_FILE_TMPDIR/olddir" "$BATS_TEST_TMPDIR/d"
	f=$BATS_TEST_TMPDIR/d/postgis/database.pgdump
	truncate -s $(($(stat -c %s "$f") / 2)) "$f"
	run -100 restore "$BATS_TEST_TMPDIR/d"
	assert_output --partial "sl-backup: fatal: service.postgis: its part of the backup does not read whole: nothing was changed"
	[ "$(data_sum)" = "$before" ] || fail "the data changed"
	no_leftovers
}

@test "bytes changed in the middle of the .tar.gz: exit 100, nothing changed" {
	cp "$BATS_FILE_TMPDIR/old.tar.gz" "$BATS_TEST_TMPDIR/bad.tar.gz"
	size=$(stat -c %s "$BATS_TEST_TMPDIR/bad.tar.gz")
	printf 'CORRUPTCORRUPT' | dd of="$BATS_TEST_TMPDIR/bad.tar.gz" bs=1 seek=$((size / 2)) conv=notrunc status=none
	before=$(data_sum)
	run -100 restore "$BATS_TEST_TMPDIR/bad.tar.gz"
	assert_output --partial "sl-backup: fatal: the backup is not a whole .tar.gz (cut short or corrupt): nothing was changed"
	[ "$(data_sum)" = "$before" ] || fail "the data changed"
	no_leftovers
	# in a directory backup nothing checks the whole: the dump's own check,
	# or its load, finds it, and what was restored before is put back
	cp -r "$BATS_FILE_TMPDIR/olddir" "$BATS_TEST_TMPDIR/d"
	f=$BATS_TEST_TMPDIR/d/postgis/database.pgdump
	printf 'CORRUPTCORRUPT' | dd of="$f" bs=1 seek=$(($(stat -c %s "$f") / 2)) conv=notrunc status=none
	run restore "$BATS_TEST_TMPDIR/d"
	echo "# a corrupt dump in a directory backup: exit $status" >&3
	case $status in
	100) assert_output --partial "sl-backup: fatal: service.postgis: its part of the backup does not read whole: nothing was changed" ;;
	111) assert_output --partial "sl-backup: fatal: service.postgis: the restore failed: the data of places is as it was" ;;
	*) fail "exit $status: $output" ;;
	esac
	[ "$(data_sum)" = "$before" ] || fail "the data changed"
	no_leftovers
}

@test "the second service's part fails after the first was restored: the first is put back" {
	before=$(data_sum)
	cp -r "$BATS_FILE_TMPDIR/olddir" "$BATS_TEST_TMPDIR/d"
	# a whole tar that will not unpack: a member named ../escape
	python3 - "$BATS_TEST_TMPDIR/d/files/area.tar" <<-'EOF'
		import io, sys, tarfile
		t = tarfile.open(sys.argv[1], 'a')
		i = tarfile.TarInfo('../escape'); i.size = 3
		t.addfile(i, io.BytesIO(b'no\n')); t.close()
	EOF
	run -111 restore "$BATS_TEST_TMPDIR/d"
	assert_line "sl-backup: service.postgis of places was put back as it was"
	assert_line "sl-backup: fatal: service.files: the restore failed: the data of places is as it was"
	refute_output --partial "restored service."
	[ "$(data_sum)" = "$before" ] || fail "the data changed"
	run ! on ls -d /var/lib/silverlining/apps/places/escape
	no_leftovers
	# and the same backup, untampered, restores: Bremen is gone
	run -0 restore "$BATS_FILE_TMPDIR/olddir"
	assert_line "restored service.files of places"
	run -0 page places.test '/near?lon=8.807&lat=53.075&km=1'
	assert_output "[]"
	no_leftovers
}

@test "attack: an area archive with links to /etc and to another app's area writes nothing there" {
	before=$(data_sum)
	cp -r "$BATS_FILE_TMPDIR/olddir" "$BATS_TEST_TMPDIR/d"
	python3 - "$BATS_TEST_TMPDIR/d/files/area.tar" "$VAREA" <<-'EOF'
		import io, sys, tarfile
		t = tarfile.open(sys.argv[1], 'a')
		for name, to, data in (('./etc', '/etc', b'* * * * * root touch /pwned\n'),
				       ('./v', sys.argv[2], b'planted\n'),
				       ('./rel', '../../victim/files', b'planted\n')):
		    i = tarfile.TarInfo(name); i.type = tarfile.SYMTYPE; i.linkname = to; t.addfile(i)
		    i = tarfile.TarInfo(name + '/cron.d/evil' if name == './etc' else name + '/planted')
		    i.size = len(data); t.addfile(i, io.BytesIO(data))
		t.close()
	EOF
	run restore "$BATS_TEST_TMPDIR/d"
	[ "$status" -ne 0 ] || fail "the tampered backup was restored: $output"
	run ! on ls -d /etc/cron.d/evil "$VAREA/planted" /pwned
	[ "$(data_sum)" = "$before" ] || fail "the data changed"
	no_leftovers
}

@test "attack: a backup whose files/area.tar links to another app's tar reads nothing of it" {
	mkdir -p "$BATS_TEST_TMPDIR/d"
	tar -C "$BATS_TEST_TMPDIR/d" -xzf "$BATS_FILE_TMPDIR/old.tar.gz"
	ln -sf "$VAREA/keep.tar" "$BATS_TEST_TMPDIR/d/files/area.tar"
	tarball "$BATS_TEST_TMPDIR/d" "$BATS_TEST_TMPDIR/link.tar.gz"
	before=$(data_sum)
	run restore "$BATS_TEST_TMPDIR/link.tar.gz"
	[ "$status" -eq 100 ] || fail "exit $status: $output"
	assert_line --partial "sl-backup: fatal: the backup holds a link or a special file"
	run ! on ls -d "$AREA/secret.txt"
	[ "$(data_sum)" = "$before" ] || fail "the data changed"
	no_leftovers
}

@test "attack: links the app plants in its area carry nothing of another app into a backup" {
	on runuser -u sl-places -- sh -c "cd $AREA && ln -s $VAREA steal && ln -s $VAREA/secret.txt sec && ln -s /etc/shadow shadow"
	# no hard link to what the app cannot read (fs.protected_hardlinks)
	run on runuser -u sl-places -- ln /etc/shadow "$AREA/hard"
	[ "$status" -ne 0 ]
	run -0 silver backup --node "$NODE" places.test "$BATS_TEST_TMPDIR/b.tar.gz"
	mkdir "$BATS_TEST_TMPDIR/x"
	tar -C "$BATS_TEST_TMPDIR/x" -xzf "$BATS_TEST_TMPDIR/b.tar.gz"
	run -0 tar -tvf "$BATS_TEST_TMPDIR/x/files/area.tar"
	assert_line --regexp '^l.* \./steal -> /var/lib/silverlining/apps/victim/files$'
	run ! grep -r -a -e victim-secret-7f3a -e '^root:' "$BATS_TEST_TMPDIR/x"
	# the area's tar runs as the app's user: what it cannot read stops it
	on sh -c "echo root-only > $AREA/rootfile && chmod 600 $AREA/rootfile"
	run -111 silver backup --node "$NODE" places.test "$BATS_TEST_TMPDIR/c.tar.gz"
	assert_output --partial "rootfile: Cannot open: Permission denied"
	on rm -f "$AREA/rootfile" "$AREA/steal" "$AREA/sec" "$AREA/shadow"
	no_leftovers
}

@test "a full disk while the area unpacks: the area and the database are as they were" {
	# the app's data directory on a small filesystem of its own, nearly full
	on sh -c 'd=/var/lib/silverlining/apps/places; cp -a $d /root/places.keep &&
		mount -t tmpfs -o size=4m,mode=755 tmpfs $d && cp -a /root/places.keep/. $d/ &&
		avail=$(df --output=avail -k $d | tail -1) &&
		dd if=/dev/zero of=$d/filler bs=1k count=$((avail - 512)) status=none'
	run -0 on sh -c 'df --output=avail -k /var/lib/silverlining/apps/places | tail -1'
	[ "$output" -lt 1024 ] || fail "$output KiB left"
	echo "# full disk: $output KiB left on the app's data directory" >&3
	# a backup whose files area is larger than what is left
	mkdir -p "$BATS_TEST_TMPDIR/d"
	tar -C "$BATS_TEST_TMPDIR/d" -xzf "$BATS_FILE_TMPDIR/old.tar.gz"
	mkdir "$BATS_TEST_TMPDIR/big"
	tar -C "$BATS_TEST_TMPDIR/big" -xf "$BATS_TEST_TMPDIR/d/files/area.tar"
	head -c 2000000 /dev/urandom > "$BATS_TEST_TMPDIR/big/large.bin"
	tar -C "$BATS_TEST_TMPDIR/big" -cf "$BATS_TEST_TMPDIR/d/files/area.tar" .
	tarball "$BATS_TEST_TMPDIR/d" "$BATS_TEST_TMPDIR/big.tar.gz"
	add_place Kiel 10.122 54.323 'the canal'
	before=$(data_sum)
	run -111 restore "$BATS_TEST_TMPDIR/big.tar.gz"
	assert_output --partial "No space left on device"
	assert_line "sl-backup: service.postgis of places was put back as it was"
	assert_line "sl-backup: fatal: service.files: the restore failed: the data of places is as it was"
	[ "$(data_sum)" = "$before" ] || fail "the data changed"
	no_leftovers
	on sh -c 'd=/var/lib/silverlining/apps/places; rm -f $d/filler && umount $d && rm -rf /root/places.keep'
}
