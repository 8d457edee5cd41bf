#!/usr/bin/env bats
# The reduced doc/BENCH.md B3 (bench/failsafe): the test app deployed by
# silver update with silverlining's defaults, under an open-loop load to
# /ok with 1 % of the requests to a bad route: one that never returns,
# one that crashes its worker, one that leaks. The bar holds in each:
# >= 99.9 % of /ok answered with 200, and 99 % of them within 1 s (a
# bar on the requests' answers, not a timing of the test).
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/lab

setup_file() {
	lab_setup_file
	provisioned_node_up failsafe
	export TOP
	. "$TOP/bench/failsafe-lib.bash"
	fs_deploy 3>&- > /dev/null
}

teardown_file() {
	sl-node destroy failsafe 3>&- || true
}

setup() {
	lab_setup
	. "$TOP/bench/failsafe-lib.bash"
}

# bar CASE: CASE's row for silverlining, shown, and the bar checked on it
bar() {
	run -0 --separate-stderr fs_case silverlining "$1" 12 50 "$BATS_TEST_TMPDIR"
	echo "# $output" >&3
	set -- $output
	[ $# = 8 ] || fail "no figures: $output $stderr"
	awk -v ok="$3" -v p99="$5" 'BEGIN { exit !(ok >= 99.9 && p99 < 1) }' ||
		fail "the B3 bar missed: $3 % of /ok answered, p99 $5 s"
}

@test "failsafe: a route that never returns (asleep) fails no good request" {
	bar loop
}

@test "failsafe: a route that crashes its worker fails no good request" {
	bar segv
}

@test "failsafe: a route that leaks 10 MB a call fails no good request" {
	bar leak
}
