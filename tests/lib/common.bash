# silverlining — what every bats suite loads first: `load ../lib/common`.
#
# Puts the build's bin/ first on PATH (or $SL_TEST_BIN: tests/run's
# sanitizer tier sets it to bin-asan/, and SL_TEST_BUILD to build/asan),
# gives each test its own HOME (so ~/.silverlining.conf and
# ~/.silverlining/secret are the test's own), and loads bats-support and
# bats-assert from Debian's packages.

TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
export TOP
PATH=${SL_TEST_BIN:-$TOP/bin}:$PATH
export PATH

load /usr/lib/bats/bats-support/load
load /usr/lib/bats/bats-assert/load

# FLIP_BYTE: sh that flips (XOR 0xff) the byte of file $1 at offset $2;
# flip_byte FILE OFFSET runs it here, on sh -c "$FLIP_BYTE" - FILE OFFSET
# on a node. A tampering test flips: a byte written over another may be
# the one already there (1 in 256 of a compressed file's).
FLIP_BYTE='b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d " ") && [ -n "$b" ] &&
	printf "\\$(printf %o $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none'
flip_byte() { sh -c "$FLIP_BYTE" - "$@"; }

common_setup() {
	export HOME=$BATS_TEST_TMPDIR/home
	mkdir -p "$HOME"
	unset TEMP
	# values a developer's shell may carry must not leak into results
	for v in $(env | sed -n 's/^\(SILVER_[A-Z_]*\|CONFIG_[A-Z0-9_]*\|SL_[A-Z_]*\)=.*/\1/p'); do
		case $v in SL_TEST_*|SL_LOCAL|SL_CACHE) continue ;; esac
		unset "$v"
	done
}

# app DIR [LINES...]: an app directory whose app.ini holds LINES.
app() {
	local dir=$1
	shift
	mkdir -p "$dir"
	printf '%s\n' "$@" > "$dir/app.ini"
}

# devel_conf LINES...: the test's ~/.silverlining.conf.
devel_conf() {
	printf '%s\n' "$@" > "$HOME/.silverlining.conf"
}

# The command line and the manual: usage strings and SYNOPSIS sections,
# compared by cli.bats (every tool) and man.bats (every verb of silver).

# usage TOOL [VERB]: the usage string of TOOL (or of TOOL VERB), from the
# first line of its --help.
usage() {
	"$@" --help 2>/dev/null | sed -n '1s/^usage: //p'
}

# usage_forms TOOL USAGE: the forms of USAGE, one per line. They are split
# at " | " outside brackets, and each starts with TOOL ("A | B" is "TOOL A"
# and "TOOL B" when B does not name TOOL itself).
usage_forms() {
	awk -v tool="$1" -v usage="$2" 'BEGIN {
		n = length(usage); depth = 0; form = ""
		for (i = 1; i <= n; i++) {
			c = substr(usage, i, 1)
			if (c == "[" || c == "(") depth++
			if (c == "]" || c == ")") depth--
			if (depth == 0 && substr(usage, i, 3) == " | ") {
				forms[++k] = form; form = ""; i += 2; continue
			}
			form = form c
		}
		forms[++k] = form
		for (j = 1; j <= k; j++) {
			f = forms[j]
			if (f != tool && index(f, tool " ") != 1)
				f = tool " " f
			print f
		}
	}'
}

# synopsis TOOL [PAGE]: the forms of the SYNOPSIS of PAGE, man/TOOL.1 by
# default, rendered as a reader sees it, one per line (a form starts with
# TOOL; a folded line is joined to its form). The forms "TOOL --help" and
# "TOOL --version" are left out: every tool takes them (cli.bats), and the
# usage string need not list them.
synopsis() {
	mandoc -Tascii "${2:-$TOP/man/$1.1}" | col -b |
		sed -n '/^SYNOPSIS$/,/^[A-Z]/p' | sed '1d;$d' |
		awk -v tool="$1" '{
			gsub(/[ \t]+/, " "); sub(/^ /, ""); sub(/ $/, "")
			if ($0 == "") next
			if ($1 == tool) { if (f != "") print f; f = $0 }
			else f = f " " $0
		} END { if (f != "") print f }' |
		grep -vxF -e "$1 --help" -e "$1 --version"
}
