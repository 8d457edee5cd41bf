#!/usr/bin/env bats
# The link graph of build/libsl.a (every module, the services' too),
# derived with nm by tests/lib/link-cycles: no module depends, even
# through others, on a module that depends on it.
bats_require_minimum_version 1.5.0

load ../lib/common

setup() {
	common_setup
	B=${SL_TEST_BUILD:-$TOP/build}
	L=$TOP/tests/lib/link-cycles
}

@test "libsl.a, the service modules in it, has no link cycle" {
	run -0 "$L" "$B/libsl.a"
	assert_output ''
}

@test "the graph checked holds every module of libsl/" {
	run "$L" -g "$B/libsl.a"
	local f m
	for f in "$TOP"/libsl/*.c; do
		m=${f##*/}
		m=${m%.c}
		grep -qE "^$m -> |-> $m\$" <<<"$output" || fail "module $m is not in the graph"
	done
}

@test "services/ holds only the sl-service-NAME mains: their library is in libsl" {
	local f
	for f in "$TOP"/services/*; do
		case ${f##*/} in
		sl-service-*.c) ;;
		*) fail "services/${f##*/} is not an sl-service-NAME main" ;;
		esac
	done
	run -0 "$L" -g "$B/libsl.a"
	assert_line 'service-db -> service'
}

# objects DIR NAME:NEEDS...: DIR/NAME.o defines NAME() and calls each NEEDS()
objects() {
	local dir=$1 spec name n body
	shift
	mkdir -p "$dir"
	for spec; do
		name=${spec%%:*}
		body=
		for n in ${spec#*:}; do
			[ "$n" = "$name" ] || body="$body void $n(void); $n();"
		done
		printf 'void %s(void) {%s }\n' "$name" "$body" > "$dir/$name.c"
		cc -c -o "$dir/$name.o" "$dir/$name.c"
	done
}

@test "a cycle is found and named, with exit 1" {
	local d=$BATS_TEST_TMPDIR
	objects "$d" 'top:mid' 'mid:low' 'low:top' 'alone:'
	ar rcs "$d/lib.a" "$d"/*.o
	run -1 "$L" "$d/lib.a"
	assert_output 'cycle: low -> top -> mid -> low'
}

@test "a graph without a cycle passes, its edges printed by -g" {
	local d=$BATS_TEST_TMPDIR
	objects "$d" 'top:mid low' 'mid:low' 'low:'
	ar rcs "$d/lib.a" "$d"/*.o
	run -0 "$L" -g "$d/lib.a"
	assert_output "$(printf 'mid -> low\ntop -> low\ntop -> mid')"
}

@test "link-cycles: no archive is a usage error (100), an unreadable one 111" {
	run -100 "$L"
	assert_output --partial 'usage: link-cycles'
	run -111 "$L" "$BATS_TEST_TMPDIR/none.a"
	assert_output --partial 'unable to read'
}
