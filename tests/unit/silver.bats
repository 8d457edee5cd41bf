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

# fake_laptop_tool TOOL: a copy of silver in $FAKE beside a fake TOOL
# (a laptop tool: sl-sync, sl-remote) that reports its arguments, one a
# line, then what came on its stdin.
fake_laptop_tool() {
	mkdir -p "$FAKE"
	cp "$TOP/bin/silver" "$FAKE/silver"
	cat > "$FAKE/$1" <<'SH'
#!/bin/sh
for a; do printf '[%s]\n' "$a"; done
printf 'stdin:\n'
cat
SH
	chmod 755 "$FAKE/$1"
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

@test "update and activate: the ACME and HSTS options reach sl-sync and the node's sl-activate" {
	fake_laptop_tool sl-sync
	run -0 "$FAKE/silver" update --acme-staging --acme-email me@example.org --hsts "$A" https://a.test/wiki </dev/null
	assert_output "[--acme-directory]
[https://acme-staging-v02.api.letsencrypt.org/directory]
[--acme-email]
[me@example.org]
[--hsts]
[--activate]
[https://a.test/wiki]
[$A]
[root@a.test]
stdin:"
	run -0 "$FAKE/silver" update --node n1 --no-hsts --acme-directory https://ca.test/dir "$A" a.test </dev/null
	assert_output "[--acme-directory]
[https://ca.test/dir]
[--no-hsts]
[--activate]
[a.test]
[$A]
[n1]
stdin:"
	fake_laptop_tool sl-remote
	run -0 "$FAKE/silver" activate --acme-directory https://ca.test/dir --hsts https://a.test blog.2026-12-02_001 </dev/null
	assert_output "[root@a.test]
[sl-activate]
[--acme-directory]
[https://ca.test/dir]
[--hsts]
[blog.2026-12-02_001]
[https://a.test]
stdin:"
	run -0 "$FAKE/silver" activate --no-hsts a.test prev </dev/null
	assert_output "[root@a.test]
[sl-activate]
[--no-hsts]
[prev]
[a.test]
stdin:"
}

@test "update and activate: one directory, one HSTS choice, and the options' values" {
	run -100 silver update --acme-staging --acme-directory https://ca.test/dir "$A" a.test
	assert_output "silver: fatal: --acme-staging and --acme-directory name two directories: give one"
	run -100 silver activate --acme-directory https://ca.test/dir --acme-staging a.test prev
	assert_output "silver: fatal: --acme-staging and --acme-directory name two directories: give one"
	run -100 silver update --hsts --no-hsts "$A" a.test
	assert_output "silver: fatal: --hsts and --no-hsts: give one"
	run -100 silver update --acme-email
	assert_output "silver: fatal: --acme-email needs a value"
	run -100 silver query --hsts
	# sl-sync checks the values before it connects
	run -100 silver update --node 127.0.0.1:1 --acme-directory http://ca.test/dir "$A" a.test
	assert_output "sl-sync: fatal: --acme-directory 'http://ca.test/dir': an ACME directory is an https:// URL"
	run -100 silver update --node 127.0.0.1:1 --acme-email 'me@localhost' "$A" a.test
	assert_output "sl-sync: fatal: --acme-email 'me@localhost': an address's domain is a name with a dot, as example.com"
}

@test "update: an https:// location is deployed to, its host the node" {
	run -111 silver update --timeout 2 --node 127.0.0.1:1 "$A" https://a.test/wiki
	assert_output "sl-sync: fatal: unable to connect to root@127.0.0.1:1: Connection refused"
	run -100 silver update "$A" 'https://*'
	assert_output "sl-route: fatal: no certificate can name this host 'https://*': give https://HOST for each host, or https://.example.com with a certificate you install (silver install-cert)"
}

@test "update: the [acme] section of ~/.silverlining.conf is checked, FILE:LINE, before anything is sent" {
	local conf=$HOME/.silverlining.conf
	printf '%s\n' '[devel]' 'postgis.dbname = d' '[acme]' 'directory = ftp://ca.test/' > "$conf"
	run -100 silver update --node 127.0.0.1:1 "$A" a.test
	assert_output "sl-sync: fatal: $conf:4: directory 'ftp://ca.test/': an ACME directory is an https:// URL"
	printf '%s\n' '[acme]' 'email = me@example.org,you' > "$conf"
	run -100 silver update --node 127.0.0.1:1 "$A" a.test
	assert_output "sl-sync: fatal: $conf:2: email 'me@example.org,you': an address holds no spaces, control characters or any of , < > \" \\ ; : ( ) [ ]"
	printf '%s\n' '[acme]' 'email = me@example.org' '  more' > "$conf"
	run -100 silver update --node 127.0.0.1:1 "$A" a.test
	assert_output "sl-sync: fatal: $conf:3: email takes one value"
	# an unknown key is a warning; the options win over the file, each for its own value
	printf '%s\n' '[acme]' 'directory = https://ca.test/dir' 'email = me@example.org' 'colour = red' > "$conf"
	run -111 silver update --timeout 2 --node 127.0.0.1:1 "$A" a.test
	assert_output "sl-sync: warning: $conf:4: unknown key 'colour' ignored
sl-sync: fatal: unable to connect to root@127.0.0.1:1: Connection refused"
	# given both options, the file's values are not needed, nor read
	printf '%s\n' '[acme]' 'directory = ftp://ca.test/' > "$conf"
	run -100 silver update --timeout 2 --node 127.0.0.1:1 --acme-email me@example.org "$A" a.test
	assert_output "sl-sync: fatal: $conf:2: directory 'ftp://ca.test/': an ACME directory is an https:// URL"
	run -111 silver update --timeout 2 --node 127.0.0.1:1 --acme-email me@example.org \
		--acme-directory https://ca.test/dir "$A" a.test
	assert_output "sl-sync: fatal: unable to connect to root@127.0.0.1:1: Connection refused"
	# the devel reader skips [acme]: a service reads its [devel] values, no warning
	printf '%s\n' '[acme]' 'directory = https://ca.test/dir' '[devel]' 'postgis.dbname = d' > "$conf"
	run -0 --separate-stderr sl-service-postgis env --devel blog
	assert_equal "$stderr" ""
	assert_line --index 0 CONFIG_PG_DBNAME=d
}

@test "install-cert: the chain and the key go on the node's stdin, never on its command line" {
	cd "$BATS_TEST_TMPDIR"
	printf 'CHAIN\n' > chain.pem
	printf 'KEY\n' > key.pem
	fake_laptop_tool sl-remote
	run -0 "$FAKE/silver" install-cert n1 chain.pem key.pem
	assert_output "[n1]
[sl-cert]
[install]
stdin:
CHAIN
KEY"
	run -0 "$FAKE/silver" install-cert --node n1 -i id chain.pem key.pem
	assert_output "[-i]
[id]
[n1]
[sl-cert]
[install]
stdin:
CHAIN
KEY"
}

@test "install-cert: a file that cannot be read is refused with 100 before the node is reached" {
	cd "$BATS_TEST_TMPDIR"
	printf 'KEY\n' > key.pem
	mkdir dir.pem
	fake_laptop_tool sl-remote
	run -100 "$FAKE/silver" install-cert n1 missing.pem key.pem
	assert_output "silver: fatal: unable to read missing.pem: give a PEM file"
	run -100 "$FAKE/silver" install-cert n1 key.pem dir.pem
	assert_output "silver: fatal: unable to read dir.pem: give a PEM file"
	if [ "$(id -u)" != 0 ]; then
		printf 'X\n' > secret.pem && chmod 000 secret.pem
		run -100 "$FAKE/silver" install-cert n1 secret.pem key.pem
		assert_output "silver: fatal: unable to read secret.pem: give a PEM file"
	fi
	run -100 "$FAKE/silver" install-cert n1 key.pem
	assert_output "silver: usage: silver install-cert [--node NODE | --nodeset NAME | NODE] CHAIN.pem KEY.pem"
	run -100 "$FAKE/silver" install-cert n1 key.pem key.pem extra
	assert_line --index 0 "silver: fatal: too many operands"
}

@test "list-certs and renew-certs run sl-cert on the node" {
	fake_laptop_tool sl-remote
	run -0 "$FAKE/silver" list-certs n1 </dev/null
	assert_output "[n1]
[sl-cert]
[list]
stdin:"
	run -100 "$FAKE/silver" list-certs n1 extra </dev/null
	assert_line --index 0 "silver: fatal: too many operands"
	run -0 "$FAKE/silver" renew-certs --force n1 a.test b.test </dev/null
	assert_output "[n1]
[sl-cert]
[renew]
[--force]
[a.test]
[b.test]
stdin:"
	run -0 "$FAKE/silver" renew-certs --node n1 </dev/null
	assert_output "[n1]
[sl-cert]
[renew]
stdin:"
	run -100 "$FAKE/silver" renew-certs
	assert_output "silver: usage: silver renew-certs [--force] [--node NODE | --nodeset NAME | NODE] [HOST...]"
	run -100 "$FAKE/silver" list-certs --force n1
	assert_line --index 0 --partial "silver: fatal:"
}

@test "sl-sync: what an ACME directory and a contact address may be" {
	local v
	for v in http://ca.test/dir https:// https:///dir 'https://ca.test/a b' ca.test/dir; do
		run -100 sl-sync --acme-directory "$v" --acme-email me@example.org --activate a.test "$A" 127.0.0.1:1
		assert_output --partial "sl-sync: fatal: --acme-directory '$v': "
	done
	for v in '' me @example.org me@example 'me@example.org.' 'me@.example.org' 'me@a..org' \
		'a@b@example.org' 'me <me@example.org>' 'me@example.org,you@example.org' "$(printf 'me@example.org\tx')"; do
		run -100 sl-sync --acme-directory https://ca.test/dir --acme-email "$v" --activate a.test "$A" 127.0.0.1:1
		assert_output --partial "sl-sync: fatal: --acme-email '$v': "
	done
	for v in me@example.org first.last+tag@mail.example.co.uk "o'brien@example.org"; do
		run -111 sl-sync --timeout 2 --acme-directory https://acme-v02.api.letsencrypt.org/directory \
			--acme-email "$v" --activate a.test "$A" 127.0.0.1:1
		assert_output "sl-sync: fatal: unable to connect to root@127.0.0.1:1: Connection refused"
	done
	run -111 sl-sync --timeout 2 --acme-directory https://10.231.0.1:14000/dir --activate a.test "$A" 127.0.0.1:1
}
