#!/usr/bin/env bats
# The shell tools run as root on nodes: what they must never do, read
# from their text (a test per rule; each found a real case once).

load ../lib/common

setup() {
	cd "$TOP" || exit 1
	tools=(cmd/*.sh cmd/*.py share/silverlining/setup-node share/silverlining/repack-deb
		tests/check examples/demo .ci/install-deps .ci/run)
}

@test "no tool names a temporary file after its PID under /tmp (an attacker can plant it first)" {
	run grep -nE '/tmp/[^ "]*\$(\$|BASHPID|\{BASHPID\})' "${tools[@]}"
	assert_failure
	refute_output
}

@test "no tool writes a name chosen in advance under /tmp (mktemp makes them)" {
	run sh -c 'grep -nE "^[^#]*(^|[[:space:]=<>(])[\"'"'"']?/tmp/[A-Za-z0-9_.-]" "$@" | grep -v mktemp' _ "${tools[@]}"
	refute_output
}
