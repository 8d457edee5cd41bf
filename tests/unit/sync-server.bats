#!/usr/bin/env bats
# The node side of sl-sync trusts nothing: hostile manifests and streams
# fed straight to `sl-sync --server`, no SSH needed.
bats_require_minimum_version 1.5.0

load ../lib/common

setup() {
	common_setup
	export SL_ROOT=$BATS_TEST_TMPDIR/root
	MF=$BATS_TEST_TMPDIR/manifest
	DATA=$BATS_TEST_TMPDIR/data
	: > "$MF"
	: > "$DATA"
}

sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# rec TYPE MODE SIZE HASH PATH TARGET: one manifest record
rec() { printf '%s\0' "$@" >> "$MF"; }
file() { rec f "${3:-644}" "${#2}" "$(sha "$2")" "$1" ""; printf '%s' "$2" >> "$DATA"; }
dir() { rec d 755 0 "" "$1" ""; }

# upload [APP]: the whole stream into sl-sync --server
upload() {
	{
		printf 'manifest %d\n' "$(stat -c %s "$MF")"
		cat "$MF" "$DATA"
		printf 'end\n'
	} > "$BATS_TEST_TMPDIR/stream"
	run sl-sync --server "${1:-app}" < "$BATS_TEST_TMPDIR/stream"
}

no_instance() {
	run -0 sh -c "ls -A '$SL_ROOT/instances' | grep -v '^\\.lock-' || true"
	assert_output ""
}

@test "a good upload: asks for what it lacks, names the instance, builds it whole" {
	dir static
	file app.ini $'[production]\napp_name = app\n'
	file static/run.sh $'#!/bin/sh\n' 755
	rec l 777 7 "" link app.ini
	upload
	assert_success
	name=app.$(date -u +%F)_001
	assert_output "$(printf 'need 2\n1\n2\ninstance %s' "$name")"
	I=$SL_ROOT/instances/$name
	[ "$(cat "$I/app.ini")" = "$(printf '[production]\napp_name = app')" ]
	[ "$(stat -c %a "$I/static/run.sh")" = 755 ]
	[ "$(stat -c %a "$I/app.ini")" = 644 ]
	[ "$(readlink "$I/link")" = app.ini ]
	run -0 grep -c "^instance $name\$" "$SL_ROOT/instances/.index-app"
}

@test "names count up within the day; nothing already there is linked twice" {
	file a.txt one
	upload
	assert_success
	: > "$DATA"	# the node lacks nothing now: no content is sent
	upload
	assert_success
	assert_output "$(printf 'need 0\ninstance app.%s_002' "$(date -u +%F)")"
	[ "$(stat -c %i "$SL_ROOT/instances/app.$(date -u +%F)_001/a.txt")" = \
	  "$(stat -c %i "$SL_ROOT/instances/app.$(date -u +%F)_002/a.txt")" ]
}

@test "same content with another mode is not linked (modes are never shared)" {
	file a.sh 'echo' 644
	upload
	assert_success
	: > "$MF"; : > "$DATA"
	file a.sh 'echo' 755
	upload
	assert_output "$(printf 'need 1\n0\ninstance app.%s_002' "$(date -u +%F)")"
	[ "$(stat -c %a "$SL_ROOT/instances/app.$(date -u +%F)_001/a.sh")" = 644 ]
	[ "$(stat -c %a "$SL_ROOT/instances/app.$(date -u +%F)_002/a.sh")" = 755 ]
}

refused() {
	upload
	assert_failure 100
	assert_output "sl-sync: fatal: $1"
	no_instance
}

@test "'..' in a name is refused" {
	file ../escape x
	refused "manifest: refused name '../escape'"
}

@test "'..' deeper in a name is refused" {
	dir a
	file a/../../escape x
	refused "manifest: refused name 'a/../../escape'"
}

@test "an absolute name is refused" {
	file /etc/escape x
	refused "manifest: refused name '/etc/escape'"
}

@test "a name with a newline is refused" {
	file $'two\nlines' x
	refused "manifest: refused name 'two
lines'"
}

@test "the reserved .silverlining is refused" {
	dir .silverlining
	refused "manifest: refused name '.silverlining'"
}

@test "a symlink leaving the instance is refused, relative or absolute" {
	dir d
	rec l 777 8 "" d/link ../../up
	refused "manifest: the symlink 'd/link' points outside the instance"
	: > "$MF"
	rec l 777 4 "" link /etc
	refused "manifest: the symlink 'link' points outside the instance"
}

@test "writing through a symlink made by the same upload is refused" {
	dir d
	rec l 777 1 "" link d
	file link/x x
	refused "manifest: the parent of 'link/x' is not a directory listed before it"
}

@test "a chain of symlinks leading outside is refused by the node itself" {
	dir d
	rec l 777 2 "" d/s ..
	t=d/s/d/s/d/s/d/s/d/s/../../../../../etc/passwd
	rec l 777 "${#t}" "" t "$t"
	upload
	assert_failure 100
	assert_output "$(printf 'need 0\nsl-sync: fatal: the symlink t -> %s leads outside through other symlinks' "$t")"
	no_instance
}

@test "a file before its directory is refused" {
	file d/x x
	dir d
	refused "manifest: the parent of 'd/x' is not a directory listed before it"
}

@test "a name listed twice is refused" {
	file a x
	file a y
	refused "manifest: 'a' is listed twice"
}

@test "devices, fifos and sockets are refused" {
	rec c 644 0 "" dev ""
	refused "manifest: 'dev' is neither a file, a directory nor a symlink"
}

@test "setuid and other modes are refused" {
	rec f 4755 1 "$(sha x)" suid ""
	refused "manifest: bad file record 'suid'"
}

@test "a path over 1,024 bytes is refused" {
	long=$(printf 'a%.0s' $(seq 1025))
	file "$long" x
	refused "manifest: refused name '$(printf 'a%.0s' $(seq 200))'"
}

@test "a manifest larger than the limit is refused before it is read" {
	printf 'manifest 99999999999\n' > "$BATS_TEST_TMPDIR/stream"
	run -100 sl-sync --server app < "$BATS_TEST_TMPDIR/stream"
	assert_output "sl-sync: fatal: upload: expected 'manifest BYTES' (at most 67108864)"
	no_instance
}

@test "content that does not match its hash leaves no instance" {
	rec f 644 3 "$(sha abc)" a.txt ""
	printf 'abd' >> "$DATA"
	upload
	assert_failure 111
	assert_line "sl-sync: fatal: upload: a.txt does not match its hash (did it change during the upload?)"
	no_instance
}

@test "a stream that ends early leaves no instance" {
	file a.txt "$(printf 'x%.0s' $(seq 100))"
	printf 'manifest %d\n' "$(stat -c %s "$MF")" > "$BATS_TEST_TMPDIR/stream"
	cat "$MF" >> "$BATS_TEST_TMPDIR/stream"
	printf 'only part' >> "$BATS_TEST_TMPDIR/stream"
	run -111 sl-sync --server app < "$BATS_TEST_TMPDIR/stream"
	assert_line "sl-sync: fatal: the upload ended early"
	no_instance
}

@test "a killed receiver leaves no instance; the next upload clears its remains" {
	file a.txt x
	mkfifo "$BATS_TEST_TMPDIR/pipe"
	(printf 'manifest %d\n' "$(stat -c %s "$MF")"; cat "$MF"; exec sleep 30) \
		> "$BATS_TEST_TMPDIR/pipe" 3>&- &
	writer=$!
	sl-sync --server app < "$BATS_TEST_TMPDIR/pipe" > /dev/null 3>&- &
	pid=$!
	for _ in $(seq 100); do
		ls -A "$SL_ROOT/instances" 2>/dev/null | grep -q '^\.incoming-' && break
		sleep 0.02
	done
	kill -KILL "$pid"
	kill "$writer"
	wait "$pid" "$writer" || true
	run -0 sh -c "ls -A '$SL_ROOT/instances' | grep -c '^\\.incoming-app-'"
	assert_output 1
	upload
	assert_success
	run -0 sh -c "ls -A '$SL_ROOT/instances' | grep -v '^\\.'"
	assert_output "app.$(date -u +%F)_001"
}

@test "cleaning up one app's remains never touches another app's upload" {
	mkdir -p "$SL_ROOT/instances/.incoming-app-x-123" "$SL_ROOT/instances/.incoming-app-456"
	file a x
	upload app
	assert_success
	[ -d "$SL_ROOT/instances/.incoming-app-x-123" ]
	[ ! -e "$SL_ROOT/instances/.incoming-app-456" ]
}

@test "an invalid app name never reaches the filesystem" {
	file a x
	upload '../x'
	assert_failure 100
	assert_output "sl-sync: fatal: invalid app name '../x'"
	[ ! -e "$SL_ROOT" ]
}

@test "sl-sync --server takes exactly one app" {
	run -100 sl-sync --server
	assert_output --partial "sl-sync: usage: sl-sync [-v] [--accept-new]"
}
