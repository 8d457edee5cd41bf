# silverlining — the prelude of every shell tool: not a tool itself. The
# Makefile puts it in place of the line "# @PRELUDE@" of each cmd/*.sh,
# after the tool has set prog and USAGE. Messages follow the C tools'
# grammar: "PROG: fatal: WHAT" and the exit codes of doc/SPEC.md.

# die CODE WORDS...: the fatal message, then exit CODE
die() {
	local code=$1
	shift
	printf '%s: fatal: %s\n' "$prog" "$*" >&2
	exit "$code"
}

warn() { printf '%s: warning: %s\n' "$prog" "$*" >&2; }

# the usage on stderr, exit 100 (a tool with a longer usage redefines it)
usage() { printf '%s: usage: %s\n' "$prog" "$USAGE" >&2; exit 100; }
