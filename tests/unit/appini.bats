#!/usr/bin/env bats
# silverlining — app.ini, read through sl-env: every bad file a user can
# write gets an exact message naming APPDIR/app.ini:LINE and exit 100;
# what is merely unknown is a warning and exit 0.
bats_require_minimum_version 1.5.0
load ../lib/common

setup() {
	common_setup
	# the tools' own SL_* variables must not leak in from the caller either
	unset SL_CONF SL_YES SL_VERBOSITY SL_SERVICE_VALUE
	A=$BATS_TEST_TMPDIR/app
	NAME_WANT='want a lowercase letter, then up to 30 lowercase letters, digits or dashes'
	RUNNER_WANT='want a relative path to a .py file (optionally FILE.py#NAME) or a .php file'
	PRIV=
}

teardown() {
	if [ -n "$PRIV" ]; then
		rm -rf "$PRIV"
	fi
}

# ini LINES...: $A/app.ini holds LINES.
ini() {
	app "$A" "$@"
}

# refused LINE MESSAGE: an app.ini of "[production]", "app_name = x" and
# LINE (line 3) is refused with "APPDIR/app.ini:3: MESSAGE".
refused() {
	ini '[production]' 'app_name = x' "$1"
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:3: $2"
}

# accepted LINES...: "[production]", "app_name = x", then LINES: exit 0,
# nothing on stderr, the environment printed.
accepted() {
	ini '[production]' 'app_name = x' "$@"
	run -0 --separate-stderr sl-env "$A"
	assert_equal "$stderr" ""
	assert_line "export SILVER_APP_NAME='x'"
}

# --- where app.ini is, and whether it can be read ---

@test "a directory without app.ini: exit 100, unable to read" {
	mkdir -p "$A"
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: unable to read $A/app.ini: No such file or directory"
}

@test "an APPDIR that does not exist: exit 100, unable to read" {
	run -100 sl-env "$BATS_TEST_TMPDIR/nowhere"
	assert_output "sl-env: fatal: unable to read $BATS_TEST_TMPDIR/nowhere/app.ini: No such file or directory"
}

@test "an APPDIR that is a file: exit 100, not a directory" {
	: > "$BATS_TEST_TMPDIR/file"
	run -100 sl-env "$BATS_TEST_TMPDIR/file"
	assert_output "sl-env: fatal: unable to read $BATS_TEST_TMPDIR/file/app.ini: Not a directory"
}

@test "an app.ini that is a directory: exit 100, is a directory" {
	mkdir -p "$A/app.ini"
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: unable to read $A/app.ini: Is a directory"
}

@test "an APPDIR with a trailing slash names app.ini once" {
	mkdir -p "$A"
	run -100 sl-env "$A/"
	assert_output "sl-env: fatal: unable to read $A/app.ini: No such file or directory"
}

@test "messages name app.ini by the path given, relative or not" {
	ini '[production]' 'app_name = x' 'oops'
	cd "$BATS_TEST_TMPDIR"
	run -100 sl-env app
	assert_output "sl-env: fatal: app/app.ini:3: expected '[section]' or 'key = value', not 'oops'"
}

@test "an app.ini the user cannot read: exit 100, permission denied" {
	[ "$(id -u)" = 0 ] || skip "needs root to act as another user"
	# $BATS_TEST_TMPDIR's parents may be 0700: use a traversable place
	PRIV=$(mktemp -d /tmp/sl-test.XXXXXX)
	chmod 755 "$PRIV"
	mkdir "$PRIV/app" "$PRIV/home"
	chown 65534:65534 "$PRIV/home"
	cp "$TOP/bin/sl-env" "$PRIV/sl-env"
	printf '%s\n' '[production]' 'app_name = x' > "$PRIV/app/app.ini"
	chmod 644 "$PRIV/app/app.ini"
	# the same user reads it when it may: the refusal below is the mode's doing
	run -0 setpriv --reuid=65534 --regid=65534 --clear-groups \
		env HOME="$PRIV/home" "$PRIV/sl-env" "$PRIV/app"
	assert_line "export SILVER_APP_NAME='x'"
	chmod 600 "$PRIV/app/app.ini"
	run -100 setpriv --reuid=65534 --regid=65534 --clear-groups \
		env HOME="$PRIV/home" "$PRIV/sl-env" "$PRIV/app"
	assert_output "sl-env: fatal: unable to read $PRIV/app/app.ini: Permission denied"
}

# --- malformed files ---

@test "an empty app.ini: app_name is missing" {
	ini
	: > "$A/app.ini"
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini: app_name is missing from [production]"
}

@test "a line without '=': exit 100 with its line and text" {
	ini '[production]' 'app_name = x' '' 'just some words'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:4: expected '[section]' or 'key = value', not 'just some words'"
}

@test "a key without a value or '=': exit 100" {
	ini '[production]' 'app_name'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:2: expected '[section]' or 'key = value', not 'app_name'"
}

@test "an unterminated [section: exit 100" {
	ini '[production' 'app_name = x'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:1: expected '[section]' or 'key = value', not '[production'"
}

@test "a key outside any section: exit 100" {
	ini '# the app' 'app_name = x' '[production]'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:2: 'app_name' is outside any section: app.ini starts with [production]"
}

@test "a long bad line is shown cut at 60 characters" {
	ini '[production]' 'app_name = x' "$(printf 'w%.0s' $(seq 1 70))"
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:3: expected '[section]' or 'key = value', not '$(printf 'w%.0s' $(seq 1 60))...'"
}

@test "several bad lines: the first one is reported (syntax, then a duplicate)" {
	ini '[production]' 'app_name = x' 'first bad' 'app_name = y' 'second bad' '[broken'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:3: expected '[section]' or 'key = value', not 'first bad'"
}

@test "several bad lines: the first one is reported (a duplicate, then syntax)" {
	ini '[production]' 'app_name = x' 'app_name = y' 'second bad'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:3: app_name is already set at line 2"
}

@test "several bad lines: the first one is reported (syntax, then an overlong line)" {
	ini '[production]' 'app_name = x' 'first bad' "x = $(printf 'y%.0s' $(seq 1 250))"
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:3: expected '[section]' or 'key = value', not 'first bad'"
}

@test "several bad lines: the first one is reported (an invalid value, then syntax)" {
	ini '[production]' 'app_name = x' 'processes = 0' 'bad'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:3: invalid processes '0': want a whole number from 1 to 64"
}

@test "a NUL byte: exit 100 naming its line" {
	mkdir -p "$A"
	printf '[production]\napp_name = x\nrunner = a\000pp.py\n' > "$A/app.ini"
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:3: NUL byte in the file (is it text?)"
}

@test "a line of 198 characters is read" {
	local v
	v=$(printf 'a%.0s' $(seq 1 179))
	[ ${#v} -eq 179 ]
	# "default_location = " is 19 characters
	accepted "default_location = $v"
}

@test "a line of 199 characters: exit 100, too long" {
	local v
	v=$(printf 'a%.0s' $(seq 1 180))
	refused "default_location = $v" "line is longer than 198 characters"
}

@test "a line of 198 characters in a CRLF file is read (the CR is not a character of the line)" {
	local v
	v=$(printf 'a%.0s' $(seq 1 179))
	mkdir -p "$A"
	printf '[production]\r\napp_name = x\r\ndefault_location = %s\r\n' "$v" > "$A/app.ini"
	run -0 --separate-stderr sl-env "$A"
	assert_equal "$stderr" ""
	assert_line "export SILVER_APP_NAME='x'"
}

@test "a typo in [production]: the warning that explains it is shown with the error" {
	ini '[prodution]' 'app_name = x'
	run -100 sl-env "$A"
	assert_output "sl-env: warning: $A/app.ini:2: section [prodution] is not used; its keys are ignored
sl-env: fatal: $A/app.ini: app_name is missing from [production]"
}

# --- app_name ---

@test "app_name missing from [production]: exit 100" {
	ini '[production]' 'runner = app.py'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini: app_name is missing from [production]"
}

@test "app_name with an uppercase letter: exit 100" {
	ini '[production]' 'app_name = Blog'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:2: invalid app_name 'Blog': $NAME_WANT"
}

@test "bad app_name values: leading digit, dash first, underscore, 32 characters, empty, spaces, shell metacharacters" {
	local n bad=(
		1blog
		-blog
		my_blog
		"$(printf 'a%.0s' $(seq 1 32))"
		''
		'my blog'
		'a;touch pwned'
		'a$(touch pwned)'
		'a`id`'
		"a'b"
		'a"b'
		'a|b'
		'a&b'
		'a>b'
		'../x'
		'a.b'
	)
	cd "$BATS_TEST_TMPDIR"
	for n in "${bad[@]}"; do
		ini '[production]' "app_name = $n"
		run -100 sl-env "$A"
		assert_output "sl-env: fatal: $A/app.ini:2: invalid app_name '$n': $NAME_WANT"
	done
	[ ! -e pwned ]
}

@test "good app_name values: one letter, 31 characters, digits and dashes" {
	local n good=(
		a
		"$(printf 'a%.0s' $(seq 1 31))"
		my-blog
		b2
		a-
		a--9
	)
	for n in "${good[@]}"; do
		ini '[production]' "app_name = $n"
		run -0 --separate-stderr sl-env "$A"
		assert_equal "$stderr" ""
		assert_line "export SILVER_APP_NAME='$n'"
	done
}

@test "an app_name with control characters is shown without them" {
	ini '[production]' "app_name = x$(printf '\033')[31mred"
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:2: invalid app_name 'x?[31mred': $NAME_WANT"
}

# --- keys: case, duplicates, continuations ---

@test "keys and the section name are case-insensitive" {
	ini '[PRODUCTION]' 'APP_NAME = x' 'Runner = app.py' 'Service.Files ='
	run -0 --separate-stderr sl-env "$A"
	assert_equal "$stderr" ""
	assert_line "export SILVER_APP_NAME='x'"
	assert_line "export CONFIG_FILES='$(cd "$HOME" && pwd -P)/.silverlining/files/x'"
}

@test "a key set twice: exit 100 naming both lines" {
	ini '[production]' 'app_name = x' 'runner = a.py' '' 'runner = b.py'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:5: runner is already set at line 3"
}

@test "a key set twice in different case: exit 100" {
	ini '[production]' 'app_name = x' 'APP_NAME = x'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:3: app_name is already set at line 2"
}

@test "a key set twice across two [production] sections: exit 100" {
	ini '[production]' 'app_name = x' '[production]' 'app_name = y'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:4: app_name is already set at line 2"
}

@test "a service declared twice: exit 100 naming both lines" {
	ini '[production]' 'app_name = x' 'service.files =' 'SERVICE.FILES ='
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:4: service.files is already declared at line 3"
}

@test "list values continue on indented lines (spaces or tabs, blank lines and comments between)" {
	accepted 'update_fetch = /setup' '    /second' "$(printf '\tscript:bin/migrate --all')" \
		'packages = libpq5' '  libxml2' '' '  # a comment' '  g++' '  libc6.1-dev'
}

@test "' ;' starts a comment on a continuation line as on a key line; ';' inside a word does not" {
	accepted 'packages = libpq5 ; for psycopg' '  libxml2   ; for lxml' "$(printf '\tg++\t; a tab before')"
	ini '[production]' 'app_name = x' 'packages = libpq5' '  -oFoo ; a comment'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:4: invalid packages '-oFoo': want Debian package names, one per line"
	ini '[production]' 'app_name = x' 'packages = libpq5' '  lib;x'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:4: invalid packages 'lib;x': want Debian package names, one per line"
}

@test "a list may start on the line after its key" {
	accepted 'packages =' '  libpq5' '  libxml2'
}

@test "a bad item on a continuation line is reported at that line" {
	ini '[production]' 'app_name = x' 'packages = libpq5' '  libxml2' '  -oFoo'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:5: invalid packages '-oFoo': want Debian package names, one per line"
}

@test "a bad update_fetch item on a continuation line is reported at that line" {
	ini '[production]' 'app_name = x' 'update_fetch = /setup' '  setup2'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:4: invalid update_fetch 'setup2': want a URL path starting with / or script:COMMAND"
}

@test "continuing a single-value key: exit 100" {
	ini '[production]' 'app_name = x' 'runner = app.py' '  other.py'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:4: runner takes one value, not a list (key at line 3)"
}

@test "continuing health_check: exit 100" {
	ini '[production]' 'app_name = x' 'health_check = /a' '' '    /b'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:5: health_check takes one value, not a list (key at line 3)"
}

@test "an indented line after a key is a continuation, not a new key" {
	ini '[production]' 'app_name = x' '  runner = app.py'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:3: app_name takes one value, not a list (key at line 2)"
}

@test "an indented key right after a [section] line is a key, even when the section is opened again" {
	ini '[production]' 'packages = libpq5' '[production]' '  app_name = blog'
	run -0 --separate-stderr sl-env "$A"
	assert_equal "$stderr" ""
	assert_line "export SILVER_APP_NAME='blog'"
}

@test "a single value may stand on the line after its key (runner)" {
	accepted 'runner =' '    app.py'
}

@test "a single value may stand on the line after its key (app_name)" {
	ini '[production]' 'app_name =' '    blog'
	run -0 --separate-stderr sl-env "$A"
	assert_equal "$stderr" ""
	assert_line "export SILVER_APP_NAME='blog'"
}

# --- runner and platform ---

@test "runner: an absolute path is refused" {
	refused 'runner = /srv/app.py' "invalid runner '/srv/app.py': $RUNNER_WANT"
}

@test "runner: '..' is refused" {
	refused 'runner = ../app.py' "invalid runner '../app.py': $RUNNER_WANT"
	refused 'runner = lib/../../app.py' "invalid runner 'lib/../../app.py': $RUNNER_WANT"
}

@test "runner: a wrong extension is refused" {
	refused 'runner = app.rb' "invalid runner 'app.rb': $RUNNER_WANT"
	refused 'runner = app.py.bak' "invalid runner 'app.py.bak': $RUNNER_WANT"
	refused 'runner = .py' "invalid runner '.py': $RUNNER_WANT"
}

@test "runner: a bad #name is refused" {
	refused 'runner = app.py#' "invalid runner 'app.py#': $RUNNER_WANT"
	refused 'runner = app.py#1app' "invalid runner 'app.py#1app': $RUNNER_WANT"
	refused 'runner = app.py#a.b' "invalid runner 'app.py#a.b': $RUNNER_WANT"
	refused 'runner = app.php#x' "invalid runner 'app.php#x': $RUNNER_WANT"
}

@test "runner: an empty value is refused" {
	refused 'runner =' "invalid runner '': $RUNNER_WANT"
}

@test "runner: a .php runner on the python platform is refused" {
	refused 'runner = index.php' "the runner of a python app must be a .py file"
}

@test "runner: a .py runner on the php platform is refused, whatever the order of the keys" {
	ini '[production]' 'app_name = x' 'runner = app.py' 'platform = php'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:3: the runner of a php app must be a .php file"
	ini '[production]' 'app_name = x' 'platform = php' 'runner = app.py'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:4: the runner of a php app must be a .php file"
}

@test "runner: good values" {
	accepted 'runner = app.py'
	accepted 'runner = app.py#application'
	accepted 'runner = src/site/wsgi.py#_app2'
	accepted 'runner = index.php' 'platform = php'
	accepted 'platform = php' 'runner = web/index.php' 'php_root = web'
	accepted 'platform = python'
}

@test "platform: an unknown value is refused" {
	refused 'platform = ruby' "invalid platform 'ruby': want python or php"
	refused 'platform = PHP' "invalid platform 'PHP': want python or php"
	refused 'platform =' "invalid platform '': want python or php"
}

@test "php_root: a path outside the app is refused" {
	refused 'php_root = /var/www' "invalid php_root '/var/www': want a relative path inside the app"
	refused 'php_root = ..' "invalid php_root '..': want a relative path inside the app"
}

# --- the other keys ---

@test "update_fetch: bad values are refused" {
	local want="want a URL path starting with / or script:COMMAND"
	refused 'update_fetch = setup' "invalid update_fetch 'setup': $want"
	refused 'update_fetch = /a b' "invalid update_fetch '/a b': $want"
	refused 'update_fetch = script:' "invalid update_fetch 'script:': $want"
	refused 'update_fetch = script:   ' "invalid update_fetch 'script:': $want"
	refused 'update_fetch = http://example.com/x' "invalid update_fetch 'http://example.com/x': $want"
}

@test "health_check: bad values are refused" {
	local want="want a URL path starting with /"
	refused 'health_check = health' "invalid health_check 'health': $want"
	refused 'health_check = /a b' "invalid health_check '/a b': $want"
	refused 'health_check =' "invalid health_check '': $want"
}

@test "default_location: a value with spaces is refused, in the location parser's words" {
	refused 'default_location = a.com b.com' "invalid location 'a.com b.com': want [http[s]://]host[/path]"
}

@test "default_location: sl-app and silver update refuse a bad one with the same words" {
	for v in my_site.com a.com/../x prev.a.com disabled; do
		ini '[production]' 'app_name = x' "default_location = $v"
		run -100 sl-app "$A"
		app_says=${output#"sl-app: fatal: $A/app.ini:3: "}
		[ "$app_says" != "$output" ] || fail "$output"
		run -100 silver update "$A" "$v"
		[ "${output#*: fatal: }" = "$app_says" ] || fail "silver: $output; sl-app: $app_says"
	done
	# https:// asks for HTTPS; a host no certificate can name is refused
	ini '[production]' 'app_name = x' 'default_location = https://a.com/x'
	run -0 sl-app "$A"
	ini '[production]' 'app_name = x' 'default_location = https://*'
	run -100 sl-app "$A"
	assert_output "sl-app: fatal: $A/app.ini:3: no certificate can name this host 'https://*': give https://HOST for each host, or https://.example.com with a certificate you install (silver install-cert)"
}

@test "packages: option-like, uppercase, several on a line, one character: refused" {
	local want="want Debian package names, one per line"
	refused 'packages = -oFoo' "invalid packages '-oFoo': $want"
	refused 'packages = --allow-unauthenticated' "invalid packages '--allow-unauthenticated': $want"
	refused 'packages = LibPQ5' "invalid packages 'LibPQ5': $want"
	refused 'packages = libpq5 libxml2' "invalid packages 'libpq5 libxml2': $want"
	refused 'packages = a' "invalid packages 'a': $want"
	refused 'packages = libpq5;id' "invalid packages 'libpq5;id': $want"
	refused 'packages = .hidden' "invalid packages '.hidden': $want"
}

@test "config.required: a value that is not a boolean is refused" {
	refused 'config.required = maybe' "invalid config.required 'maybe': want true or false"
	refused 'config.required = 2' "invalid config.required '2': want true or false"
	refused 'config.required =' "invalid config.required '': want true or false"
}

@test "config.required: the booleans are accepted" {
	local v
	mkdir -p "$A/conf"
	for v in true yes on 1 TRUE False no off 0; do
		accepted "config.required = $v" 'config.default = conf'
	done
}

@test "config.default, config.template, config.checker: paths outside the app are refused" {
	local want="want a relative path inside the app"
	refused 'config.default = /etc/app' "invalid config.default '/etc/app': $want"
	refused 'config.template = ../tpl' "invalid config.template '../tpl': $want"
	refused 'config.checker = /bin/true' "invalid config.checker '/bin/true': $want, or module:function"
	refused 'config.checker = mod:' "invalid config.checker 'mod:': $want, or module:function"
}

@test "config.checker: a relative command or module:function is accepted" {
	accepted 'config.checker = bin/check'
	accepted 'config.checker = blog.config:check'
}

@test "processes, threads, timeout, memory_limit: 0, too big, not a number are refused with the allowed range" {
	local k v range
	for k in processes threads timeout memory_limit; do
		case $k in
		processes|threads) range="1 to 64" ;;
		timeout) range="1 to 3600" ;;
		memory_limit) range="16 to 65536" ;;
		esac
		for v in 0 99999999 x -1 +5 1e3 0x10 '4 workers' 2.5 ''; do
			refused "$k = $v" "invalid $k '$v': want a whole number from $range"
		done
	done
	refused 'processes = 65' "invalid processes '65': want a whole number from 1 to 64"
	refused 'timeout = 3601' "invalid timeout '3601': want a whole number from 1 to 3600"
	refused 'memory_limit = 15' "invalid memory_limit '15': want a whole number from 16 to 65536"
	refused 'memory_limit = 65537' "invalid memory_limit '65537': want a whole number from 16 to 65536"
}

@test "processes, threads, timeout, memory_limit: the bounds are accepted" {
	accepted 'processes = 1' 'threads = 64' 'timeout = 3600' 'memory_limit = 16'
	accepted 'processes = 64' 'threads = 1' 'timeout = 1' 'memory_limit = 65536'
}

@test "service names: only lowercase letters, digits and _" {
	local want="want lowercase letters, digits and _"
	refused 'service.post-gis =' "invalid service name 'post-gis': $want"
	refused 'service. =' "invalid service name '': $want"
	refused 'service.../bin/sh =' "invalid service name '../bin/sh': $want"
	refused 'service.1db =' "invalid service name '1db': $want"
}

# --- what is only a warning ---

@test "unknown keys, unknown sections and renamed keys are warnings with file:line; exit 0" {
	ini '[production]' 'app_name = x' 'colour = blue' 'default_host = blog.example.com' \
		'Version = 3' 'default_hostname = a.com' '[devel]' 'a = 1' 'b = 2' '[staging]' \
		'[devel]' 'c = 3' '[production]' 'runner = app.py'
	run -0 --separate-stderr sl-env "$A"
	assert_equal "$stderr" "sl-env: warning: $A/app.ini:3: unknown key 'colour' ignored
sl-env: warning: $A/app.ini:4: default_host is ignored: it was renamed to default_location
sl-env: warning: $A/app.ini:5: Version is ignored: instances are named by date
sl-env: warning: $A/app.ini:6: default_hostname is ignored: it was renamed to default_location
sl-env: warning: $A/app.ini:8: section [devel] is not used; its keys are ignored"
	assert_line "export SILVER_APP_NAME='x'"
}

@test "warnings are printed when sl-env runs a command too" {
	ini '[production]' 'app_name = x' 'colour = blue'
	run -0 --separate-stderr sl-env "$A" -- echo ran
	assert_equal "$stderr" "sl-env: warning: $A/app.ini:3: unknown key 'colour' ignored"
	assert_output ran
}

@test "the keys of an unknown section are not checked" {
	ini '[production]' 'app_name = x' '[staging]' 'app_name = NOT VALID' 'processes = 0'
	run -0 --separate-stderr sl-env "$A"
	assert_equal "$stderr" "sl-env: warning: $A/app.ini:4: section [staging] is not used; its keys are ignored"
	assert_line "export SILVER_APP_NAME='x'"
}

# --- the file's shape ---

@test "a CRLF file works, continuation lines included" {
	mkdir -p "$A"
	printf '[production]\r\napp_name = x\r\nrunner = app.py\r\npackages = libpq5\r\n  libxml2\r\n' > "$A/app.ini"
	run -0 --separate-stderr sl-env "$A"
	assert_equal "$stderr" ""
	assert_line "export SILVER_APP_NAME='x'"
}

@test "a CRLF file's errors show the line without its CR" {
	mkdir -p "$A"
	printf '[production]\r\napp_name = x\r\noops\r\n' > "$A/app.ini"
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:3: expected '[section]' or 'key = value', not 'oops'"
}

@test "a UTF-8 byte order mark works" {
	mkdir -p "$A"
	printf '\357\273\277[production]\napp_name = x\n' > "$A/app.ini"
	run -0 --separate-stderr sl-env "$A"
	assert_equal "$stderr" ""
	assert_line "export SILVER_APP_NAME='x'"
}

@test "comments: # and ; lines, indented or not, and inline ' ;' comments" {
	ini '# the blog' '; another comment' '[production]' '  # indented comment' \
		'app_name = x ; the name' 'runner = app.py   ; the runner' '	; tab comment' \
		'processes = 4 ;four'
	run -0 --separate-stderr sl-env "$A"
	assert_equal "$stderr" ""
	assert_line "export SILVER_APP_NAME='x'"
}

@test "';' without a space before it and '#' inside a value are not comments" {
	refused 'runner = app.py;x' "invalid runner 'app.py;x': $RUNNER_WANT"
	refused 'runner = app.py # x' "invalid runner 'app.py # x': $RUNNER_WANT"
}

@test "'key: value' is read like 'key = value'" {
	ini '[production]' 'app_name: x'
	run -0 --separate-stderr sl-env "$A"
	assert_equal "$stderr" ""
	assert_line "export SILVER_APP_NAME='x'"
}

@test "a complete app.ini (the sample fixture) is read without a word" {
	cp -R "$TOP/tests/fixtures/apps/blog" "$A"
	run -0 --separate-stderr sl-env "$A"
	assert_equal "$stderr" ""
	assert_line "export SILVER_APP_NAME='blog'"
}
