#!/usr/bin/env bats
# silverlining — sl-env: the environment an app receives (doc/SPEC.md "What an
# app receives"), printed for a shell, printed with NULs, or chainloaded.
bats_require_minimum_version 1.5.0
load ../lib/common

USAGE='sl-env [-0] [--config DIR] [--node] APPDIR [-- COMMAND [ARG...]]'

setup() {
	common_setup
	# the tools' own SL_* variables must not leak in from the caller either
	unset SL_CONF SL_YES SL_VERBOSITY SL_SERVICE_VALUE
	VERSION=$(sed -n 's/^#define SL_VERSION "\(.*\)"/\1/p' "$TOP/libsl/version.h")
	A=$BATS_TEST_TMPDIR/app
	app "$A" '[production]' 'app_name = blog'
	AREAL=$(cd "$A" && pwd -P)
}

# golden FILE: $output is tests/fixtures/FILE with @VERSION@, @APP@ (the
# app dir, resolved), @HOME@, @REALHOME@ and @USER@ filled in.
golden() {
	local want
	want=$(<"$TOP/tests/fixtures/$1")
	want=${want//@VERSION@/$VERSION}
	want=${want//@APP@/$AREAL}
	want=${want//@REALHOME@/$(cd "$HOME" && pwd -P)}
	want=${want//@HOME@/$HOME}
	want=${want//@USER@/$(id -un)}
	assert_equal "$output" "$want"
}

# --- the printed environment ---

@test "an app without services: the golden output, nothing on stderr" {
	run -0 --separate-stderr sl-env "$A"
	assert_equal "$stderr" ""
	golden env/plain.golden
}

@test "the sample app (config.default, files, postgis): the golden output" {
	rm -rf "$A"
	cp -R "$TOP/tests/fixtures/apps/blog" "$A"
	AREAL=$(cd "$A" && pwd -P)
	run -0 --separate-stderr sl-env "$A"
	assert_equal "$stderr" ""
	golden env/blog.golden
}

@test "paths are absolute when APPDIR is relative" {
	cd "$BATS_TEST_TMPDIR"
	run -0 --separate-stderr sl-env app
	golden env/plain.golden
}

@test "APPDIR through a symlink: the paths are resolved" {
	ln -s "$A" "$BATS_TEST_TMPDIR/link"
	run -0 --separate-stderr sl-env "$BATS_TEST_TMPDIR/link"
	golden env/plain.golden
}

@test "the variables come in a fixed order: SILVER_*, TEMP, then each service's CONFIG_* in app.ini's order" {
	mkdir "$A/conf"
	app "$A" '[production]' 'app_name = blog' 'service.writable_root =' 'config.default = conf' \
		'service.files ='
	run -0 bash -c 'sl-env -0 "$1" | tr "\0" "\n" | cut -d= -f1' _ "$A"
	assert_output "SILVER_VERSION
SILVER_APP_NAME
SILVER_INSTANCE_NAME
SILVER_CANONICAL_HOSTNAME
SILVER_MATCH_PATH
SILVER_APP_CONFIG
SILVER_LOGS
SILVER_SECRET_FILE
TEMP
CONFIG_WRITABLE_ROOT
CONFIG_FILES"
}

@test "-0: KEY=VALUE records, each ended by a NUL, no newline" {
	run -0 bash -c 'sl-env -0 "$1" | tr "\0\n" "\n@"' _ "$A"
	golden env/plain-nul.golden
	run -0 bash -c 'sl-env -0 "$1" | tr -dc "\0" | wc -c' _ "$A"
	assert_output 8
	run -0 bash -c 'sl-env -0 "$1" | tr -dc "\n" | wc -c' _ "$A"
	assert_output 0
	run -0 bash -c 'sl-env -0 "$1" | tail -c 1 | od -An -tx1' _ "$A"
	assert_output " 00"
}

@test "-0: a value holding a newline stays one record" {
	run -0 env TEMP=$'/tmp/a\nb' bash -c 'sl-env -0 "$1" | tr "\0\n" "\n@" | grep "^TEMP="' _ "$A"
	assert_output "TEMP=/tmp/a@b"
}

@test "-0 with a command: exit 100" {
	run -100 sl-env -0 "$A" -- env
	assert_output "sl-env: fatal: -0 prints the environment; it takes no command"
	run -100 sl-env -0 "$A" env
	assert_output "sl-env: fatal: -0 prints the environment; it takes no command"
}

@test "the log directory APPDIR/silver-logs is created" {
	[ ! -e "$A/silver-logs" ]
	run -0 sl-env "$A"
	[ -d "$A/silver-logs" ]
	run -0 sl-env "$A"
	assert_line "export SILVER_LOGS='$AREAL/silver-logs'"
}

@test "a failed write to stdout: exit 111" {
	run -111 bash -c 'sl-env "$1" >/dev/full' _ "$A"
	assert_output "sl-env: fatal: unable to write to standard output: No space left on device"
	run -111 bash -c 'sl-env -0 "$1" >/dev/full' _ "$A"
	assert_output "sl-env: fatal: unable to write to standard output: No space left on device"
}

# --- TEMP ---

@test "TEMP is /tmp when not inherited, or inherited empty" {
	run -0 sl-env "$A"
	assert_line "export TEMP='/tmp'"
	TEMP= run -0 sl-env "$A"
	assert_line "export TEMP='/tmp'"
}

@test "TEMP is inherited" {
	TEMP=/var/tmp run -0 sl-env "$A"
	assert_line "export TEMP='/var/tmp'"
	TEMP=/var/tmp run -0 sl-env "$A" -- printenv TEMP
	assert_output /var/tmp
}

# --- chainloading ---

@test "sl-env APPDIR -- env shows the same variables as the export form" {
	app "$A" '[production]' 'app_name = blog' 'service.files =' 'service.postgis ='
	run -0 bash -c 'sl-env "$1" -- env | grep -E "^(SILVER_|CONFIG_|TEMP=)" | sort' _ "$A"
	local want
	want=$(sl-env -0 "$A" | tr '\0' '\n' | sort)
	[ "$(printf '%s\n' "$want" | wc -l)" -eq 16 ]
	assert_output "$want"
	# and the export form, evaluated, gives the same values
	run -0 bash -c 'eval "$(sl-env "$1")" && env | grep -E "^(SILVER_|CONFIG_|TEMP=)" | sort' _ "$A"
	assert_output "$want"
}

@test "sl-env APPDIR COMMAND without -- runs it too" {
	run -0 sl-env "$A" printenv SILVER_APP_NAME
	assert_output blog
}

@test "the command's arguments pass as they are" {
	run -0 sl-env "$A" -- printf '[%s]\n' 'a b' '' '--' '-0' '$HOME'
	assert_output '[a b]
[]
[--]
[-0]
[$HOME]'
}

@test "the command's exit status passes through" {
	run -7 sl-env "$A" -- sh -c 'exit 7'
	run -0 sl-env "$A" -- true
	run -1 sl-env "$A" false
	run -143 sl-env "$A" -- sh -c 'kill -TERM $$'
}

@test "the command runs in the caller's directory, with stdin passed on" {
	mkdir "$BATS_TEST_TMPDIR/work"
	cd "$BATS_TEST_TMPDIR/work"
	run -0 bash -c 'echo hello | sl-env "$1" -- sh -c "pwd; cat"' _ "$A"
	assert_output "$(pwd)
hello"
}

@test "a command that does not exist: exit 127" {
	run -127 sl-env "$A" -- no-such-command-x
	assert_output "sl-env: fatal: unable to run 'no-such-command-x': No such file or directory"
	run -127 sl-env "$A" "$BATS_TEST_TMPDIR/nothing-here"
	assert_output "sl-env: fatal: unable to run '$BATS_TEST_TMPDIR/nothing-here': No such file or directory"
}

@test "a command that is not executable: exit 126" {
	printf '#!/bin/sh\necho ran\n' > "$BATS_TEST_TMPDIR/script"
	chmod 644 "$BATS_TEST_TMPDIR/script"
	run -126 sl-env "$A" -- "$BATS_TEST_TMPDIR/script"
	assert_output "sl-env: fatal: unable to run '$BATS_TEST_TMPDIR/script': Permission denied"
	run -126 sl-env "$A" -- "$BATS_TEST_TMPDIR"
	assert_output "sl-env: fatal: unable to run '$BATS_TEST_TMPDIR': Permission denied"
}

@test "inherited SILVER_* and CONFIG_* are removed; other variables are kept" {
	run -0 env SILVER_FOO=1 SILVER_APP_NAME=stale SILVER_APP_CONFIG=/stale CONFIG_PG_DBNAME=stale \
		CONFIG_X=2 OTHER='kept value' SILVERX=3 MY_CONFIG_Y=4 \
		sl-env "$A" -- sh -c 'echo "${SILVER_FOO-unset} ${SILVER_APP_NAME} ${SILVER_APP_CONFIG-unset} ${CONFIG_PG_DBNAME-unset} ${CONFIG_X-unset} $OTHER $SILVERX $MY_CONFIG_Y"'
	assert_output "unset blog unset unset unset kept value 3 4"
}

@test "the export form does not mention inherited variables" {
	SILVER_FOO=1 CONFIG_X=2 run -0 --separate-stderr sl-env "$A"
	golden env/plain.golden
}

@test "the secret never enters the environment" {
	run -0 sl-env "$A" -- env
	local secret
	secret=$(cat "$HOME/.silverlining/secret")
	[ ${#secret} -eq 64 ]
	refute_output --partial "$secret"
}

# --- usage ---

@test "no APPDIR: usage, exit 100" {
	run -100 sl-env
	assert_output "sl-env: usage: $USAGE"
	run -100 sl-env -0
	assert_output "sl-env: usage: $USAGE"
	run -100 sl-env --config "$BATS_TEST_TMPDIR"
	assert_output "sl-env: usage: $USAGE"
}

@test "--help: the usage on stdout, exit 0" {
	run -0 --separate-stderr sl-env --help
	assert_equal "$stderr" ""
	assert_output "usage: $USAGE"
}

@test "--version: the version on stdout, exit 0" {
	run -0 --separate-stderr sl-env --version
	assert_equal "$stderr" ""
	assert_output "sl-env $VERSION"
}

@test "an unknown option: the option named, then usage, exit 100" {
	# run by its full path, as silver runs it: the name stays sl-env
	run -100 "$TOP/bin/sl-env" -x "$A"
	assert_output "sl-env: fatal: unknown option -x
sl-env: usage: $USAGE"
	run -100 "$TOP/bin/sl-env" --bogus "$A"
	assert_output "sl-env: fatal: unknown option --bogus
sl-env: usage: $USAGE"
	run -100 sl-env -0x "$A"
	assert_output "sl-env: fatal: unknown option -x
sl-env: usage: $USAGE"
}

@test "--config without its argument: usage, exit 100" {
	run -100 sl-env --config
	assert_output "sl-env: fatal: option --config needs an argument
sl-env: usage: $USAGE"
}

@test "--node: the app dir must be an instance (ROOT/instances/APP.DATE_NNN)" {
	export SL_ROOT=$BATS_TEST_TMPDIR/root
	run -100 sl-env --node "$A"
	assert_output "sl-env: fatal: $(cd "$A" && pwd -P) is not an instance ($SL_ROOT/instances/APP.YYYY-MM-DD_NNN)"
	# the name alone is not enough: it must be under ROOT/instances
	mkdir -p "$BATS_TEST_TMPDIR/elsewhere/blog.2026-11-21_001" "$SL_ROOT/instances"
	cp "$A/app.ini" "$BATS_TEST_TMPDIR/elsewhere/blog.2026-11-21_001/"
	run -100 sl-env --node "$BATS_TEST_TMPDIR/elsewhere/blog.2026-11-21_001"
}

@test "--node: an instance's environment comes from the node's records" {
	export SL_ROOT=$BATS_TEST_TMPDIR/root SL_LOG_ROOT=$BATS_TEST_TMPDIR/log
	I=$SL_ROOT/instances/blog.2026-11-21_007
	mkdir -p "$I" "$SL_ROOT/run/blog.2026-11-21_007" "$SL_ROOT/configs/blog.2026-11-21_007"
	cp "$A/app.ini" "$I/"
	echo 'blog.example.com /sub' > "$SL_ROOT/run/blog.2026-11-21_007/location"
	run -0 sl-env --node "$I"
	assert_output "export SILVER_VERSION='silverlining/0.1.0'
export SILVER_APP_NAME='blog'
export SILVER_INSTANCE_NAME='blog.2026-11-21_007'
export SILVER_CANONICAL_HOSTNAME='blog.example.com'
export SILVER_MATCH_PATH='/sub'
export SILVER_APP_CONFIG='$SL_ROOT/configs/blog.2026-11-21_007'
export SILVER_LOGS='$SL_LOG_ROOT/apps/blog'
export SILVER_SECRET_FILE='$SL_ROOT/secrets/blog'
export TEMP='$SL_ROOT/tmp/blog.2026-11-21_007'"
	# another instance has no config of its own: none (no config.default)
	mkdir -p "$SL_ROOT/instances/blog.2026-11-21_008"
	cp "$A/app.ini" "$SL_ROOT/instances/blog.2026-11-21_008/"
	run -0 sl-env --node "$SL_ROOT/instances/blog.2026-11-21_008"
	refute_output --partial SILVER_APP_CONFIG
}

@test "--node: the instance's name names the app (silver update --name)" {
	export SL_ROOT=$BATS_TEST_TMPDIR/root SL_LOG_ROOT=$BATS_TEST_TMPDIR/log
	I=$SL_ROOT/instances/blog-staging.2026-11-21_001
	mkdir -p "$I"
	cp "$A/app.ini" "$I/"
	run -0 sl-env --node "$I"
	assert_line "export SILVER_APP_NAME='blog-staging'"
	assert_line "export SILVER_LOGS='$SL_LOG_ROOT/apps/blog-staging'"
	assert_line "export SILVER_SECRET_FILE='$SL_ROOT/secrets/blog-staging'"
}

# --- the config directory ---

@test "--config DIR: SILVER_APP_CONFIG is its absolute path" {
	mkdir "$BATS_TEST_TMPDIR/cfg"
	cd "$BATS_TEST_TMPDIR"
	run -0 sl-env --config cfg app
	assert_line --index 5 "export SILVER_APP_CONFIG='$(pwd -P)/cfg'"
	run -0 sl-env --config=cfg/ app
	assert_line --index 5 "export SILVER_APP_CONFIG='$(pwd -P)/cfg'"
}

@test "--config DIR that does not exist: exit 100" {
	run -100 sl-env --config "$BATS_TEST_TMPDIR/none" "$A"
	assert_output "sl-env: fatal: --config $BATS_TEST_TMPDIR/none: No such file or directory"
}

@test "--config FILE: exit 100, not a directory" {
	: > "$BATS_TEST_TMPDIR/file"
	run -100 sl-env --config "$BATS_TEST_TMPDIR/file" "$A"
	assert_output "sl-env: fatal: --config $BATS_TEST_TMPDIR/file: not a directory"
}

@test "without --config and config.default, there is no SILVER_APP_CONFIG" {
	run -0 sl-env "$A"
	refute_output --partial SILVER_APP_CONFIG
}

@test "config.default is used without --config; --config wins over it" {
	mkdir "$A/conf" "$BATS_TEST_TMPDIR/cfg"
	app "$A" '[production]' 'app_name = blog' 'config.default = conf'
	run -0 sl-env "$A"
	assert_line --index 5 "export SILVER_APP_CONFIG='$AREAL/conf'"
	run -0 sl-env --config "$BATS_TEST_TMPDIR/cfg" "$A"
	assert_line --index 5 "export SILVER_APP_CONFIG='$(cd "$BATS_TEST_TMPDIR/cfg" && pwd -P)'"
}

@test "config.default that does not exist: exit 100" {
	app "$A" '[production]' 'app_name = blog' 'config.default = conf'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: config.default $AREAL/conf: No such file or directory"
}

@test "config.required with neither --config nor config.default: exit 100" {
	app "$A" '[production]' 'app_name = blog' 'config.required = true'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini: config.required is set and no config was given: use --config DIR"
}

@test "config.required is met by --config or by config.default" {
	mkdir "$A/conf"
	app "$A" '[production]' 'app_name = blog' 'config.required = yes'
	run -0 sl-env --config "$A/conf" "$A"
	assert_line --index 5 "export SILVER_APP_CONFIG='$AREAL/conf'"
	app "$A" '[production]' 'app_name = blog' 'config.required = yes' 'config.default = conf'
	run -0 sl-env "$A"
	assert_line --index 5 "export SILVER_APP_CONFIG='$AREAL/conf'"
}

# --- the secret ---

@test "SILVER_SECRET_FILE: made on first use, mode 0600, 64 hex digits, in a 0700 directory" {
	[ ! -e "$HOME/.silverlining" ]
	run -0 sl-env "$A"
	assert_line --index 6 "export SILVER_SECRET_FILE='$HOME/.silverlining/secret'"
	run -0 stat -c %a "$HOME/.silverlining/secret"
	assert_output 600
	run -0 stat -c %a "$HOME/.silverlining"
	assert_output 700
	run -0 cat "$HOME/.silverlining/secret"
	assert_output --regexp '^[0-9a-f]{64}$'
}

@test "SILVER_SECRET_FILE: the same secret on the next run; another home gets another" {
	run -0 sl-env "$A"
	local first
	first=$(cat "$HOME/.silverlining/secret")
	run -0 sl-env "$A"
	assert_equal "$(cat "$HOME/.silverlining/secret")" "$first"
	HOME=$BATS_TEST_TMPDIR/home2
	mkdir "$HOME"
	run -0 sl-env "$A"
	run -0 cat "$HOME/.silverlining/secret"
	assert_output --regexp '^[0-9a-f]{64}$'
	[ "$output" != "$first" ]
}

@test "SILVER_SECRET_FILE open to other users: refused, exit 100, left as it is" {
	run -0 sl-env "$A"
	local first
	first=$(cat "$HOME/.silverlining/secret")
	chmod 644 "$HOME/.silverlining/secret"
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $HOME/.silverlining/secret is open to other users (mode 0644): chmod 600 it"
	chmod 640 "$HOME/.silverlining/secret"
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $HOME/.silverlining/secret is open to other users (mode 0640): chmod 600 it"
	assert_equal "$(cat "$HOME/.silverlining/secret")" "$first"
}

@test "SILVER_SECRET_FILE that is a symlink: refused, exit 100" {
	mkdir -m 700 "$HOME/.silverlining"
	printf 'x\n' > "$BATS_TEST_TMPDIR/elsewhere"
	chmod 600 "$BATS_TEST_TMPDIR/elsewhere"
	ln -s "$BATS_TEST_TMPDIR/elsewhere" "$HOME/.silverlining/secret"
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $HOME/.silverlining/secret: not a regular file"
}

# --- hostile values ---

@test "hostile values from ~/.silverlining.conf round-trip through eval and run nothing" {
	app "$A" '[production]' 'app_name = blog' 'service.postgis ='
	local pw user db
	pw='it'\''s "q" $(touch pwned) `touch pwned` back\slash\\; x; $HOME ${PATH} '\''$(touch pwned)'\'''
	user="o'neil \"\$(touch pwned)\""
	db='db;touch pwned &&`touch pwned`|x'
	devel_conf '[devel]' "postgis.password = $pw" "postgis.user = $user" "postgis.dbname = $db"
	mkdir "$BATS_TEST_TMPDIR/work"
	cd "$BATS_TEST_TMPDIR/work"
	local out
	out=$(sl-env "$A")
	eval "$out"
	assert_equal "$CONFIG_PG_PASSWORD" "$pw"
	assert_equal "$CONFIG_PG_USER" "$user"
	assert_equal "$CONFIG_PG_DBNAME" "$db"
	[ ! -e pwned ]
	# sh reads it the same way
	run -0 sh -c 'eval "$1" && printf "%s\n" "$CONFIG_PG_PASSWORD"' _ "$out"
	assert_output "$pw"
	[ ! -e pwned ]
}

@test "a hostile TEMP (newline, quotes, \$(...), trailing spaces) round-trips through eval" {
	local t out
	t=$'/tmp/a\nb \'c\' "d" $(touch pwned) `touch pwned` \\e;f  '
	mkdir "$BATS_TEST_TMPDIR/work"
	cd "$BATS_TEST_TMPDIR/work"
	out=$(TEMP=$t sl-env "$A")
	unset TEMP
	eval "$out"
	assert_equal "$TEMP" "$t"
	[ ! -e pwned ]
	TEMP=$t run -0 sl-env "$A" -- sh -c 'printf "%s|" "$TEMP"'
	assert_output "$t|"
}

@test "an app directory whose path has spaces, quotes, a newline and \$(...)" {
	local d out
	d="$BATS_TEST_TMPDIR/it's a \"dir\" \$(touch pwned) \`touch pwned\`"$'\n''two  '
	app "$d" '[production]' 'app_name = blog'
	mkdir "$BATS_TEST_TMPDIR/work"
	cd "$BATS_TEST_TMPDIR/work"
	out=$(sl-env "$d")
	eval "$out"
	assert_equal "$SILVER_LOGS" "$d/silver-logs"
	[ -d "$SILVER_LOGS" ]
	[ ! -e pwned ]
	run -0 sl-env "$d" -- sh -c 'printf "%s|" "$SILVER_LOGS"'
	assert_output "$d/silver-logs|"
	local kv found=
	while IFS= read -r -d '' kv; do
		[ "$kv" != "SILVER_LOGS=$d/silver-logs" ] || found=1
	done < <(sl-env -0 "$d")
	[ -n "$found" ]
}
