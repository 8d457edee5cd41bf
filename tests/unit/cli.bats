#!/usr/bin/env bats
# silverlining — the command line every tool shares: --help, --version,
# unknown options, and a man page whose SYNOPSIS is the usage string.
# Every executable in bin/ is checked; a new tool is checked without a
# word here. A check reports every tool that fails it, with what it printed.
bats_require_minimum_version 1.5.0
load ../lib/common

setup() {
	common_setup
	VERSION=$(sed -n 's/^#define SL_VERSION "\(.*\)"/\1/p' "$TOP/libsl/version.h")
	[ -n "$VERSION" ]
	failed=
	cd "$BATS_TEST_TMPDIR"
}

tools() {
	ls "$TOP/bin"
}

# bad TOOL WHAT: record a failure of TOOL; the test ends with all of them.
bad() {
	failed+="$1: $2"$'\n'
}

report() {
	[ -z "$failed" ] || fail "$(printf '%s' "$failed")"
}

# answers TOOL OPTION: TOOL OPTION exits 0 and writes nothing on stderr;
# what it wrote on stdout is left in $output and $lines.
answers() {
	run --separate-stderr "$1" "$2"
	[ "$status" -eq 0 ] || bad "$1" "$2 exits $status"
	[ -z "$stderr" ] || bad "$1" "$2 writes to stderr: $stderr"
}

# usage, usage_forms and synopsis, which man.bats uses too, are in
# tests/lib/common.bash.

@test "there are tools to check" {
	[ "$(tools | wc -l)" -ge 17 ]
	tools | grep -qx silver
	tools | grep -qx sl-env
}

@test "TOOL --help exits 0 and prints its usage line first, on stdout" {
	for t in $(tools); do
		answers "$t" --help
		[[ ${lines[0]-} == "usage: $t "* || ${lines[0]-} == "usage: $t" ]] ||
			bad "$t" "--help's first line is '${lines[0]-}', not 'usage: $t ...'"
	done
	report
}

@test "TOOL --version exits 0 and prints 'TOOL VERSION' (libsl/version.h)" {
	for t in $(tools); do
		answers "$t" --version
		[ "$output" = "$t $VERSION" ] ||
			bad "$t" "--version prints '$output', not '$t $VERSION'"
	done
	report
}

@test "an unknown option exits 100, with the usage on stderr and nothing on stdout" {
	for t in $(tools); do
		u=$(usage "$t")
		for opt in --no-such-option -%; do
			run --separate-stderr "$t" "$opt"
			[ "$status" -eq 100 ] || bad "$t" "$opt exits $status, not 100"
			[ -z "$output" ] || bad "$t" "$opt writes to stdout: $output"
			[ -n "$stderr" ] || { bad "$t" "$opt says nothing on stderr"; continue; }
			# the message grammar: every line is "TOOL: ...", one is the usage
			while IFS= read -r line; do
				[[ $line == "$t: "* ]] || bad "$t" "$opt: a line of stderr is not '$t: ...': $line"
			done <<<"$stderr"
			grep -qxF "$t: usage: $u" <<<"$stderr" ||
				bad "$t" "$opt: stderr lacks '$t: usage: $u': $stderr"
		done
	done
	report
}

@test "the SYNOPSIS of man/TOOL.1 is TOOL's usage string" {
	for t in $(tools); do
		[ -f "$TOP/man/$t.1" ] || { bad "$t" "no man/$t.1"; continue; }
		u=$(usage "$t")
		[ -n "$u" ] || { bad "$t" "no usage string from --help"; continue; }
		want=$(usage_forms "$t" "$u")
		got=$(synopsis "$t")
		[ "$got" = "$want" ] ||
			bad "$t" "SYNOPSIS [$(paste -sd'|' <<<"$got")] differs from usage [$(paste -sd'|' <<<"$want")]"
	done
	report
}

@test "the synopsis and usage checks can tell forms apart" {
	run -0 usage_forms sl-x 'sl-x [-a|-b] A | --c [--d X | Y] B | sl-x E'
	assert_output "$(printf '%s\n' 'sl-x [-a|-b] A' 'sl-x --c [--d X | Y] B' 'sl-x E')"
	# a page whose first form is folded, and that lists --help and --version
	cat > sl-x.1 <<-'EOF'
	.Dd November 21, 2026
	.Dt SL-X 1
	.Os
	.Sh NAME
	.Nm sl-x
	.Nd a tool
	.Sh SYNOPSIS
	.Nm
	.Op Fl a | b
	.Op Fl -long-option-one Ar VALUE
	.Op Fl -long-option-two Ar VALUE
	.Op Fl -long-option-three Ar VALUE
	.Ar OPERAND
	.Nm
	.Fl -c
	.Nm
	.Fl -help
	.Nm
	.Fl -version
	.Sh DESCRIPTION
	Text.
	EOF
	run -0 synopsis sl-x sl-x.1
	assert_output "$(printf '%s\n' 'sl-x [-a | -b] [--long-option-one VALUE] [--long-option-two VALUE] [--long-option-three VALUE] OPERAND' 'sl-x --c')"
}

# No tool prints colour, so NO_COLOR asks nothing of them; one that starts
# to must honour it (and this test must then check that it does).
@test "no tool's source writes terminal escapes (colour)" {
	cd "$TOP"
	srcs=(cmd libsl services share/silverlining)
	run -1 grep -rnE -e '\\(033|x1[bB]|e\[|u001[bB])' -e $'\x1b' \
		-e '(^|[^[:alnum:]_])tput ' "${srcs[@]}"
	assert_output ''
}
