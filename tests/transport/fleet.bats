#!/usr/bin/env bats
# sl-sync's fleet deploy over a real sshd on loopback: the one instance
# name (--next, --as) and what is refused before anything is uploaded.
# The deploy to several real nodes (prepare, switch, --rolling) is the
# lab's: tests/node/nodeset.bats.
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

@test "--next tells the name the next upload takes, and takes nothing" {
	run -0 sl-sync --server --next up
	assert_output "up.${TODAY}_001"
	run -0 sl-sync "$A" "$NODE"
	assert_output "up.${TODAY}_001"
	run -0 sl-sync --server --next up
	assert_output "up.${TODAY}_002"
	run -0 sl-sync --server --next up
	assert_output "up.${TODAY}_002"
	run -100 sl-sync --server --next Up
	assert_output "sl-sync: fatal: invalid app name 'Up'"
}

@test "--as names the upload as the laptop says, when the name is free and newest" {
	run -0 sl-sync "$A" "$NODE"
	mkdir -p "$SL_ROOT/instances/up.${TODAY}_009"
	run -0 sl-sync --server --next up
	assert_output "up.${TODAY}_010"
	for bad in "up.${TODAY}_009" "up.${TODAY}_003" "other.${TODAY}_011" \
		   "up.2001-01-01_011" "up.${TODAY}_1" ../x; do
		run -100 sl-sync --server --as "$bad" up < /dev/null
		assert_output --partial "sl-sync: fatal: --as $bad: "
	done
	run -100 sl-sync --server --as "up.${TODAY}_009" up < /dev/null
	assert_output "sl-sync: fatal: --as up.${TODAY}_009: up.${TODAY}_009 is taken or older than up.${TODAY}_009, the newest here"
	run -0 sl-sync --server --as "up.${TODAY}_012" up < <(printf 'manifest 0\nend\n')
	assert_line "instance up.${TODAY}_012"
	run -100 sl-sync --server --as "up.${TODAY}_012" up < <(printf 'manifest 0\nend\n')
	assert_output --partial "is taken or older than"
}

@test "a fleet deploy with a node out of reach refuses before anything is uploaded, naming it" {
	run -111 sl-sync --timeout 2 --activate a.test "$A" "$NODE" 127.0.0.1:1
	assert_line -e "^127\.0\.0\.1: sl-sync: fatal: .*127\.0\.0\.1:1"
	assert_line "sl-sync: warning: 127.0.0.1: connect failed (exit status 111)"
	assert_line "sl-sync: fatal: 127.0.0.1:1 cannot be reached or refused: nothing was uploaded (--skip 127.0.0.1:1 to deploy without it)"
	refute_output --partial "up.${TODAY}"
	run ls -A "$SL_ROOT/instances"
	refute_output --partial "up."
}

@test "fleet usage: one --activate, --rolling needs --balancer, every node skipped" {
	run -100 sl-sync "$A" "$NODE" "$NODE"
	assert_output --partial "sl-sync: usage: "
	run -100 sl-sync --activate a --activate b "$A" "$NODE" "$NODE"
	assert_output --partial "sl-sync: usage: "
	run -100 sl-sync --rolling --activate a "$A" "$NODE" "$NODE"
	assert_output "sl-sync: fatal: --rolling drains each node on the balancer: it needs --balancer NODE"
	run -100 sl-sync --skip "$NODE" --activate a "$A" "$NODE"
	assert_output "sl-sync: fatal: every node is skipped: nothing to deploy to"
	run -100 sl-sync --activate a "$A" "$NODE" "$NODE"
	assert_output "sl-sync: fatal: $NODE is named twice"
	run -100 sl-sync --server --rolling up
	assert_output --partial "sl-sync: usage: "
}
