#!/usr/bin/env bats
# sl-sync over a real sshd on loopback: what is uploaded, what is left
# out, what is refused, what is linked, and what an interrupted upload
# leaves (nothing).
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/sshd

setup_file() {
	transport_setup_file
}

teardown_file() {
	sshd_stop
}

setup() {
	transport_setup
	known_host; client_key
	export SL_ROOT=$BATS_TEST_TMPDIR/root
	A=$BATS_TEST_TMPDIR/app
	app "$A" '[production]' 'app_name = up' 'runner = main.py'
	printf 'def application(e, s): pass\n' > "$A/main.py"
	TODAY=$(date -u +%F)
}

# sync: upload $A; the instance's path in $I
sync() {
	run -0 --separate-stderr sl-sync "$A" "$NODE"
	I=$SL_ROOT/instances/$output
}

@test "stdout is the instance name alone; the instance is the app" {
	mkdir -p "$A/static/css" "$A/lib/python"
	echo 'body{}' > "$A/static/css/site.css"
	sync
	assert_output "up.${TODAY}_001"
	assert_equal "$stderr" ""
	run -0 diff -r "$A" "$I"
}

@test "odd names travel: spaces, UTF-8, quotes, shell characters" {
	for n in 'with space' 'ünïcødé ✓' "it's" '$(touch pwned)' '`x`' '-dash' ';semi'; do
		printf '%s\n' "$n" > "$A/$n"
	done
	sync
	run -0 diff -r "$A" "$I"
	[ ! -e pwned ] && [ ! -e "$I/../pwned" ]
}

@test "a name with a newline is refused on the laptop, before connecting" {
	touch "$A/$(printf 'bad\nname')"
	run -100 sl-sync "$A" 127.0.0.1:1
	assert_output "sl-sync: fatal: a name with a control character (a newline?) cannot be uploaded: 'bad
name'"
}

@test "empty directories are kept" {
	mkdir -p "$A/empty/deeper"
	sync
	[ -d "$I/empty/deeper" ]
}

@test "symlinks inside the app are kept" {
	mkdir "$A/static"
	ln -s ../main.py "$A/static/main-link"
	ln -s static "$A/s"
	sync
	[ "$(readlink "$I/static/main-link")" = ../main.py ]
	[ "$(readlink "$I/s")" = static ]
}

@test "a symlink leaving the app is refused, relative or absolute" {
	ln -s ../../etc/passwd "$A/escape"
	run -100 sl-sync "$A" "$NODE"
	assert_output "sl-sync: fatal: the symlink escape -> ../../etc/passwd points outside the app; only links inside it can be uploaded"
	rm "$A/escape"
	ln -s /etc/passwd "$A/abs"
	run -100 sl-sync "$A" "$NODE"
	assert_output "sl-sync: fatal: the symlink abs -> /etc/passwd points outside the app; only links inside it can be uploaded"
	[ ! -d "$SL_ROOT/instances" ] || [ -z "$(ls "$SL_ROOT/instances")" ]
}

@test "a chain of symlinks that leads outside is refused, though each looks inside" {
	mkdir "$A/d"
	ln -s .. "$A/d/s"
	ln -s d/s/d/s/d/s/d/s/d/s/../../../../../etc/passwd "$A/t"
	run -100 sl-sync "$A" "$NODE"
	assert_output "sl-sync: fatal: the symlink t -> d/s/d/s/d/s/d/s/d/s/../../../../../etc/passwd leads outside through other symlinks"
}

@test "a .silverignore pattern with a slash is anchored at the app's root" {
	mkdir -p "$A/build" "$A/src/build"
	touch "$A/build/x" "$A/src/build/y"
	printf '/build\n' > "$A/.silverignore"
	sync
	[ ! -e "$I/build" ]
	[ -e "$I/src/build/y" ]
}

@test "executable bits survive; other modes are normalised; an upload is root's alone" {
	printf '#!/bin/sh\n' > "$A/run.sh"
	chmod 750 "$A/run.sh"
	chmod 600 "$A/main.py"
	sync
	[ "$(stat -c %a "$I/run.sh")" = 755 ]
	[ "$(stat -c %a "$I/main.py")" = 644 ]
	# root's alone until sl-activate gives it to its app (no other app reads it)
	[ "$(stat -c %a "$I")" = 700 ]
	[ "$(stat -c %a "$(dirname "$I")")" = 711 ]
}

@test "VCS directories, caches, backups and silver-logs are left out; .silverignore too" {
	mkdir -p "$A/.git/objects" "$A/__pycache__" "$A/silver-logs" "$A/docs/build" "$A/data"
	touch "$A/.git/HEAD" "$A/__pycache__/m.cpython-311.pyc" "$A/x.pyc" "$A/main.py~" \
	      "$A/.main.py.swp" "$A/silver-logs/app.log" "$A/docs/build/x" "$A/data/big.csv" \
	      "$A/notes.tmp" "$A/keep.txt"
	mkdir -p "$A/lib/silver-logs"
	touch "$A/lib/silver-logs/kept"
	printf '# comment\n*.tmp\n/docs/build/\ndata\n' > "$A/.silverignore"
	sync
	run -0 sh -c "cd '$I' && find . | sort"
	assert_output "$(printf '%s\n' . ./.silverignore ./app.ini ./docs ./keep.txt ./lib ./lib/silver-logs \
		./lib/silver-logs/kept ./main.py)"
}

@test "a second upload hard-links unchanged files and sends only the changed" {
	printf 'one\n' > "$A/a.txt"
	printf 'two\n' > "$A/b.txt"
	sync
	first=$I
	printf 'changed\n' > "$A/b.txt"
	run -0 --separate-stderr sl-sync -v "$A" "$NODE"
	second=$SL_ROOT/instances/$output
	assert_equal "$output" "up.${TODAY}_002"
	[ "$(stat -c %i "$first/a.txt")" = "$(stat -c %i "$second/a.txt")" ]
	[ "$(stat -c %i "$first/main.py")" = "$(stat -c %i "$second/main.py")" ]
	[ "$(stat -c %i "$first/b.txt")" != "$(stat -c %i "$second/b.txt")" ]
	[ "$(cat "$first/b.txt")" = two ] && [ "$(cat "$second/b.txt")" = changed ]
	[[ $stderr =~ ^sl-sync:\ up\.${TODAY}_002:\ manifest\ [0-9.]+\ s\ \(4\ files,\ 0\.0\ MB\),\ connect\ [0-9.]+\ s,\ upload\ [0-9.]+\ s$ ]] ||
		fail "unexpected -v line: $stderr"
}

@test "an upload killed halfway leaves no instance, and the next one succeeds" {
	head -c 300000000 /dev/zero > "$A/big.bin"
	sl-sync "$A" "$NODE" > /dev/null 2>&1 3>&- &
	pid=$!
	for _ in $(seq 300); do
		ls -A "$SL_ROOT/instances" 2>/dev/null | grep -q '^\.incoming-' && break
		sleep 0.02
	done
	kill -KILL "$pid"
	wait "$pid" || true
	# the node side notices the broken connection and cleans up, or the next upload does
	run -0 sh -c "ls '$SL_ROOT/instances'"
	assert_output ""
	rm "$A/big.bin"
	sync
	assert_output "up.${TODAY}_001"
	run -0 sh -c "ls -A '$SL_ROOT/instances' | grep -c incoming || true"
	assert_output 0
}

@test "on a terminal a progress line shows files, megabytes and rate; elsewhere nothing" {
	head -c 2000000 /dev/urandom > "$A/blob"
	run -0 script -qec "sl-sync '$A' '$NODE'" /dev/null
	assert_output --regexp "sl-sync: [0-9]+ files, [0-9.]+ MB, [0-9.]+ MB/s"
	assert_output --regexp "up\.${TODAY}_001"
	run -0 --separate-stderr sl-sync "$A" "$NODE"
	assert_equal "$stderr" ""
}

@test "fifos and sockets are left out with a warning" {
	mkfifo "$A/queue"
	run -0 --separate-stderr sl-sync "$A" "$NODE"
	assert_equal "$stderr" "sl-sync: warning: queue is not a file, a directory or a symlink; left out"
	[ ! -e "$SL_ROOT/instances/$output/queue" ]
}

@test "the reserved .silverlining is refused on the laptop" {
	mkdir "$A/.silverlining"
	run -100 sl-sync "$A" "$NODE"
	assert_output "sl-sync: fatal: .silverlining is reserved for the node's own records; rename it"
}

@test "a bad app.ini stops the upload before connecting" {
	app "$A" '[production]' 'app_name = Bad'
	run -100 sl-sync "$A" 127.0.0.1:1
	assert_output --partial "sl-sync: fatal: $A/app.ini:2: invalid app_name 'Bad'"
}

@test "an unknown host stops sl-sync too" {
	rm "$HOME/.ssh/known_hosts"
	run -100 sl-sync "$A" "$NODE"
	assert_output --partial "sl-sync: fatal: root@127.0.0.1:$SSHD_PORT is not a known host"
}

@test "the node's refusal passes through with its exit code" {
	mkdir -p "$SL_ROOT"
	touch "$SL_ROOT/instances"	# a file where the node wants a directory
	run -100 sl-sync "$A" "$NODE"
	assert_line "sl-sync: fatal: unable to create $SL_ROOT/instances: Not a directory"
	assert_line "sl-sync: fatal: the node stopped the upload before it answered (exit status 100)"
}

@test "usage errors exit 100" {
	run -100 sl-sync "$A"
	assert_output "sl-sync: $(sl-sync --help)"
	assert_output --partial "sl-sync: usage: sl-sync [-v] [--accept-new] [-i FILE] [--timeout SECONDS] [--config DIR] [--name APP] [--clear] [--activate LOCATION]... [--acme-directory URL] [--acme-email ADDR] [--hsts | --no-hsts] APPDIR NODE | "
	# the node's own forms are not the laptop's
	run -100 sl-sync --server --config "$A"
	run -100 sl-sync --server --show x --config y
	run -100 sl-sync --diff loc --clear "$A" "$NODE"
	# the ACME and HSTS options go with --activate, and HSTS is on or off
	run -100 sl-sync --hsts "$A" "$NODE"
	run -100 sl-sync --acme-email me@example.org "$A" "$NODE"
	run -100 sl-sync --diff loc --acme-directory https://ca.test/dir "$A" "$NODE"
	run -100 sl-sync --server --hsts x
	run -100 sl-sync --hsts --no-hsts --activate a.test "$A" "$NODE"
	assert_output "sl-sync: usage: $(sl-sync --help | sed 's/^usage: //')"
	run -100 sl-sync --no-hsts --hsts --activate a.test "$A" "$NODE"
	# the same twice is no contradiction: it gets as far as the node
	run -111 sl-sync --timeout 2 --hsts --hsts --activate a.test "$A" 127.0.0.1:1
}
