#!/usr/bin/env bats
# silverlining — silver, the dispatcher: verbs run sl-* tools, global
# options come before the verb.
bats_require_minimum_version 1.5.0
load ../lib/common

USAGE='silver [-y] [-q|-v] VERB [OPTIONS] ARGS...'

setup() {
	common_setup
	# the tools' own SL_* variables must not leak in from the caller either
	unset SL_CONF SL_YES SL_VERBOSITY SL_SERVICE_VALUE
	VERSION=$(sed -n 's/^#define SL_VERSION "\(.*\)"/\1/p' "$TOP/libsl/version.h")
	A=$BATS_TEST_TMPDIR/app
	app "$A" '[production]' 'app_name = blog' 'service.files ='
	FAKE=$BATS_TEST_TMPDIR/fakebin
}

# fake_tool: a copy of silver in $FAKE beside a fake sl-env that reports
# what it was given: SL_YES, SL_VERBOSITY, then one line per argument.
fake_tool() {
	mkdir -p "$FAKE"
	cp "$TOP/bin/silver" "$FAKE/silver"
	cat > "$FAKE/sl-env" <<'SH'
#!/bin/sh
printf 'yes=%s verbosity=%s\n' "${SL_YES-unset}" "${SL_VERBOSITY-unset}"
for a; do printf '[%s]\n' "$a"; done
SH
	chmod 755 "$FAKE/sl-env"
}

@test "silver env APP prints what sl-env APP prints" {
	run -0 --separate-stderr sl-env "$A"
	local want=$output
	[ "${#lines[@]}" -eq 9 ]
	run -0 --separate-stderr silver env "$A"
	assert_equal "$stderr" ""
	assert_output "$want"
}

@test "silver env -0 APP prints what sl-env -0 APP prints" {
	run -0 bash -c 'sl-env -0 "$1" | od -An -c' _ "$A"
	local want=$output
	run -0 bash -c 'silver env -0 "$1" | od -An -c' _ "$A"
	assert_output "$want"
}

@test "silver env APP -- CMD chainloads, and the status passes through" {
	run -5 silver env "$A" -- sh -c 'echo "$SILVER_APP_NAME $CONFIG_FILES"; exit 5'
	assert_output "blog $(cd "$HOME" && pwd -P)/.silverlining/files/blog"
}

@test "silver env passes sl-env's errors and codes through" {
	run -100 silver env "$BATS_TEST_TMPDIR/nowhere"
	assert_output "sl-env: fatal: unable to read $BATS_TEST_TMPDIR/nowhere/app.ini: No such file or directory"
	run -100 silver env
	assert_output "sl-env: usage: sl-env [-0] [--config DIR] [--node] APPDIR [-- COMMAND [ARG...]]"
	run -127 silver env "$A" -- no-such-command-x
	assert_output "sl-env: fatal: unable to run 'no-such-command-x': No such file or directory"
}

@test "silver env with an unknown option: sl-env names it, in the tools' grammar" {
	run -100 silver env --bogus "$A"
	assert_output "sl-env: fatal: unknown option --bogus
sl-env: usage: sl-env [-0] [--config DIR] [--node] APPDIR [-- COMMAND [ARG...]]"
}

@test "an unknown verb: exit 127" {
	run -127 silver frobnicate "$A"
	assert_output "silver: fatal: unknown verb 'frobnicate' (silver --help lists the verbs)"
	run -127 silver ''
	assert_output "silver: fatal: unknown verb '' (silver --help lists the verbs)"
	run -127 silver 'env sl-env'
	assert_output "silver: fatal: unknown verb 'env sl-env' (silver --help lists the verbs)"
	run -127 silver "$(printf 'env\tsl-env')"
	assert_output "silver: fatal: unknown verb '$(printf 'env\tsl-env')' (silver --help lists the verbs)"
}

@test "a verb with shell metacharacters is only a name" {
	cd "$BATS_TEST_TMPDIR"
	run -127 silver '$(touch pwned);`touch pwned`'
	assert_output "silver: fatal: unknown verb '\$(touch pwned);\`touch pwned\`' (silver --help lists the verbs)"
	[ ! -e pwned ]
}

@test "run and diff name their node, or need --node; their usage on too few operands" {
	run -100 silver run '*' report
	assert_output "silver: fatal: the location '*' names no node: give --node NODE"
	run -100 silver run hello.test
	assert_output "silver: usage: silver run [--node NODE] [--user app|root] [-i] LOCATION SCRIPT [ARG...]"
	run -100 silver diff
	assert_output "silver: usage: silver diff [--node NODE] DIR [LOCATION]"
	run -100 silver diff "$A" a.test b.test
	assert_output "silver: fatal: too many operands
silver: usage: silver diff [--node NODE] DIR [LOCATION]"
	run -100 silver activate a.test prev extra
	assert_line --index 0 "silver: fatal: too many operands"
	run -100 silver clear a.test b.test
	assert_line --index 0 "silver: fatal: too many operands"
}

@test "no verb: usage, exit 100" {
	run -100 silver
	assert_output "silver: usage: $USAGE"
	run -100 silver -y
	assert_output "silver: usage: $USAGE"
	run -100 silver -q --
	assert_output "silver: usage: $USAGE"
}

@test "an unknown global option: usage, exit 100" {
	run -100 silver -x env "$A"
	assert_output "silver: usage: $USAGE"
	run -100 silver --frob env "$A"
	assert_output "silver: usage: $USAGE"
	# each option is a word of its own
	run -100 silver -yq env "$A"
	assert_output "silver: usage: $USAGE"
}

@test "--help and -h list the verbs on stdout, exit 0" {
	run -0 --separate-stderr silver --help
	assert_equal "$stderr" ""
	assert_output "$(cat "$TOP/tests/fixtures/silver/help.golden")"
	assert_line "  env            print the environment of an app, or run a command in it"
	run -0 --separate-stderr silver -h
	assert_output "$(cat "$TOP/tests/fixtures/silver/help.golden")"
}

@test "--version, exit 0" {
	run -0 --separate-stderr silver --version
	assert_equal "$stderr" ""
	assert_output "silver $VERSION"
}

@test "a failed write to stdout is an error: exit 111" {
	run -111 bash -c 'silver --help >/dev/full'
	run -111 bash -c 'silver --version >/dev/full'
}

@test "silver VERB --help is the verb's usage, for every verb; silver-VERB(1) has it as its synopsis" {
	run -0 silver env --help
	assert_output "usage: silver env [-0] [--config DIR] [--node] APPDIR [-- COMMAND [ARG...]]"
	run -0 silver list-nodes -h
	assert_output "usage: silver list-nodes"
	for v in $(silver --help | sed -n 's/^  \([a-z-]*\) .*/\1/p'); do
		run -0 --separate-stderr silver "$v" --help
		[[ $output == "usage: silver $v"* ]] || fail "silver $v --help: $output"
		[ -z "$stderr" ] || fail "silver $v --help wrote to stderr: $stderr"
	done
}

@test "-y, -q, -v and their long forms are exported to the tool; the last of -q/-v wins" {
	fake_tool
	run -0 "$FAKE/silver" env "$A"
	assert_output "yes=unset verbosity=unset
[$A]"
	run -0 "$FAKE/silver" -y env "$A"
	assert_line --index 0 "yes=1 verbosity=unset"
	run -0 "$FAKE/silver" --yes --quiet env "$A"
	assert_line --index 0 "yes=1 verbosity=0"
	run -0 "$FAKE/silver" -q env "$A"
	assert_line --index 0 "yes=unset verbosity=0"
	run -0 "$FAKE/silver" -y -v env "$A"
	assert_line --index 0 "yes=1 verbosity=2"
	run -0 "$FAKE/silver" --verbose -q env "$A"
	assert_line --index 0 "yes=unset verbosity=0"
}

@test "the verb's arguments reach the tool unchanged, options after the verb included" {
	fake_tool
	run -0 "$FAKE/silver" -y -- env -y -0 'a b' '' '$HOME' -- x
	assert_output 'yes=1 verbosity=unset
[-y]
[-0]
[a b]
[]
[$HOME]
[--]
[x]'
}

@test "-y, -q, -v: the app's own variables stay the same; its command inherits SL_* like any variable" {
	# The global options reach the tools as SL_YES and SL_VERBOSITY, not
	# SILVER_*: SILVER_* and CONFIG_* are the app's, and sl-env rebuilds
	# them. The app's environment is the same with or without -y.
	run -0 silver -y -v env "$A" -- sh -c 'echo "[${SILVER_YES-unset}] [${SILVER_VERBOSITY-unset}] [${SL_YES-unset}] [${SL_VERBOSITY-unset}] $SILVER_APP_NAME"'
	assert_output "[unset] [unset] [1] [2] blog"
	run -0 silver env "$A"
	local plain=$output
	run -0 silver -y -q env "$A"
	assert_output "$plain"
}

@test "silver runs the tool beside it before one on PATH" {
	mkdir -p "$FAKE"
	printf '#!/bin/sh\necho impostor\n' > "$FAKE/sl-env"
	chmod 755 "$FAKE/sl-env"
	PATH=$FAKE:$PATH run -0 "$TOP/bin/silver" env "$A" -- printenv SILVER_APP_NAME
	assert_output blog
}

@test "silver uses the tool on PATH when none is beside it" {
	mkdir -p "$FAKE" "$BATS_TEST_TMPDIR/alone"
	cp "$TOP/bin/silver" "$BATS_TEST_TMPDIR/alone/silver"
	printf '#!/bin/sh\necho "from PATH: $*"\n' > "$FAKE/sl-env"
	chmod 755 "$FAKE/sl-env"
	PATH=$FAKE:/usr/bin:/bin run -0 "$BATS_TEST_TMPDIR/alone/silver" env "$A"
	assert_output "from PATH: $A"
}

@test "a verb whose tool is found nowhere: exit 127" {
	mkdir -p "$BATS_TEST_TMPDIR/alone"
	cp "$TOP/bin/silver" "$BATS_TEST_TMPDIR/alone/silver"
	PATH=/usr/bin:/bin run -127 "$BATS_TEST_TMPDIR/alone/silver" env "$A"
	assert_output "silver: fatal: sl-env not found beside $BATS_TEST_TMPDIR/alone/silver or on PATH"
}

# These are refused before any connection: the node 127.0.0.1:1 is never reached.
@test "backup and restore: DEST and BACKUP are checked before the node is asked" {
	cd "$BATS_TEST_TMPDIR"
	touch have.tar.gz
	mkdir full empty notbackup && touch full/x
	run -100 silver backup --node 127.0.0.1:1 a.test have.tar.gz
	assert_output "sl-remote-backup: fatal: have.tar.gz exists: give a new name"
	run -100 silver backup --node 127.0.0.1:1 a.test full
	assert_output "sl-remote-backup: fatal: full is not empty: give a new directory"
	run -100 silver restore --node 127.0.0.1:1 notbackup a.test
	assert_output "sl-remote-backup: fatal: notbackup is not a backup (no backup.ini)"
	run -100 silver restore --node 127.0.0.1:1 missing.tar.gz a.test
	assert_output "sl-remote-backup: fatal: unable to read missing.tar.gz"
	# a backup that did not come leaves no DEST, no .part, no directory made
	run -111 silver backup --node 127.0.0.1:1 --timeout 2 a.test new.tar.gz
	run -111 silver backup --node 127.0.0.1:1 --timeout 2 a.test newdir
	run -111 silver backup --node 127.0.0.1:1 --timeout 2 a.test empty
	[ ! -e new.tar.gz ] && [ ! -e new.tar.gz.part ] && [ ! -e newdir ] && [ -d empty ]
}

@test "run: two local files of one name are refused before anything is sent" {
	cd "$BATS_TEST_TMPDIR"
	mkdir other && echo a > notes.txt && echo b > other/notes.txt
	run -100 silver run --node 127.0.0.1:1 a.test report notes.txt other/notes.txt
	assert_output "sl-remote-run: fatal: two arguments are named notes.txt: rename one"
	run -100 silver run --node 127.0.0.1:1 a.test report /
	assert_output "sl-remote-run: fatal: /: cannot send the root directory"
	run -100 silver run --node 127.0.0.1:1 a.test report --f=/
	assert_output "sl-remote-run: fatal: /: cannot send the root directory"
}
