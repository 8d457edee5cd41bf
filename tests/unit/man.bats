#!/usr/bin/env bats
# The manual: every tool has a page, every page lints clean and carries
# the sections and the exit-code table a user looks for.
bats_require_minimum_version 1.5.0

load ../lib/common

setup() {
	common_setup
}

tools() {
	ls "$TOP/bin"
}

@test "every tool in bin/ has a man page" {
	for t in $(tools); do
		ls "$TOP"/man/"$t".[1-8] >/dev/null 2>&1 || fail "no man page for $t"
	done
}

@test "every man page is mandoc -Tlint clean" {
	run -0 mandoc -Tlint -W warning "$TOP"/man/*.[1-8]
	assert_output ""
}

@test "every page has the sections of the house style" {
	for page in "$TOP"/man/*.[1-8]; do
		for sec in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" ENVIRONMENT FILES \
			EXAMPLES "SEE ALSO"; do
			case $page:$sec in *.7:SYNOPSIS|*.7:OPTIONS) continue ;; esac
			grep -q "^\.Sh $sec\$" "$page" || fail "$page lacks $sec"
		done
	done
}

@test "every page lists the shared exit codes" {
	for page in "$TOP"/man/*.[1-8]; do
		text=$(mandoc -Tascii "$page" | col -b)
		for code in 100 111 126 127 128; do
			grep -q "$code" <<<"$text" || fail "$page does not mention exit status $code"
		done
	done
}

@test "sl-env(1)'s synopsis is its usage string" {
	usage=$(sl-env --help | sed 's/^usage: //')
	synopsis=$(mandoc -Tascii "$TOP/man/sl-env.1" | col -b |
		sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' | tr -s ' \n' ' ' | sed 's/^ //;s/ $//')
	[ "$synopsis" = "$usage" ] || fail "synopsis '$synopsis' differs from usage '$usage'"
}

@test "every verb of silver has its page, silver-VERB(1), whose SYNOPSIS is the verb's usage" {
	verbs=$(silver --help | sed -n 's/^  \([a-z-]*\) .*/\1/p')
	[ "$(wc -l <<<"$verbs")" -ge 21 ]
	failed=
	for v in $verbs; do
		page=$TOP/man/silver-$v.1
		[ -f "$page" ] || { failed+="silver $v: no man/silver-$v.1"$'\n'; continue; }
		mandoc -Tascii "$page" | col -b | sed -n '/^NAME$/{n;p;q}' | grep -q "^ *silver-$v - " ||
			failed+="silver $v: the NAME of its page is not silver-$v"$'\n'
		u=$(usage silver "$v")
		want=$(usage_forms silver "$u")
		got=$(synopsis silver "$page")
		[ "$got" = "$want" ] ||
			failed+="silver $v: SYNOPSIS [$(paste -sd'|' <<<"$got")] differs from usage [$(paste -sd'|' <<<"$want")]"$'\n'
	done
	[ -z "$failed" ] || fail "$failed"
}
