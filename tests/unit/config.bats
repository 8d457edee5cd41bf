#!/usr/bin/env bats
# Deployment configs on the laptop: silver create-config fills an app's
# config.template; config.checker runs before silver update --config sends
# anything.
bats_require_minimum_version 1.5.0

load ../lib/common

setup() {
	common_setup
	cd "$BATS_TEST_TMPDIR"
	A=$TOP/tests/fixtures/apps/configured
}

# tpl LINES...: an app "t" whose config.template is tpl/, template.ini LINES
tpl() {
	app t '[production]' 'app_name = t' 'runner = main.py' 'config.template = tpl'
	mkdir -p t/tpl
	[ $# -eq 0 ] || printf '%s\n' "$@" > t/tpl/template.ini
}

@test "--info lists the variables: described ones, their defaults, and those only used" {
	tpl '[variables]' 'site = the site name' '[defaults]' 'site = example'
	printf '{{site}} {{ port }}\n' > t/tpl/conf.tmpl
	mkdir t/tpl/+region+
	run -0 silver create-config --info t
	# the described ones first, then in the order the template uses them
	assert_output "site	the site name [example]
region	(not described in template.ini)
port	(not described in template.ini)"
}

@test "create-config fills {{var}} in .tmpl files and +var+ in names; the rest is copied" {
	run -0 silver create-config "$A" cfg greeting=hi 'api_token=t0k&$(x)/y'
	assert_output cfg
	run -0 cat cfg/settings.ini
	assert_output '[site]
greeting = hi
token = t0k&$(x)/y'
	[ ! -e cfg/template.ini ] || fail "template.ini was copied"
	tpl
	mkdir -p t/tpl/+site+/sub
	printf 'kept {{site}} as is\n' > t/tpl/+site+/sub/plain.txt
	printf 'port={{port}}\n' > t/tpl/+site+.conf.tmpl
	printf '#!/bin/sh\n' > t/tpl/run.sh
	chmod 755 t/tpl/run.sh
	run -0 silver create-config t out site=blog port=80
	run -0 cat out/blog/sub/plain.txt
	assert_output 'kept {{site}} as is'
	run -0 cat out/blog.conf
	assert_output 'port=80'
	# a config holds secrets: the owner's alone, executables stay executable
	run -0 stat -c '%a %n' out out/blog out/blog.conf out/run.sh
	assert_output "700 out
700 out/blog
600 out/blog.conf
700 out/run.sh"
}

@test "a missing value without a terminal: exit 100, nothing written" {
	run -100 silver create-config "$A" cfg greeting=hi < /dev/null
	assert_output "sl-config: fatal: no value for api_token and no terminal to ask on: give VAR=VALUE (nothing was written)"
	[ ! -e cfg ] || fail "cfg was made"
	# a default is a value
	run -0 silver create-config "$A" cfg api_token=x < /dev/null
	run -0 grep greeting cfg/settings.ini
	assert_output "greeting = hello"
}

@test "on a terminal the values not given are asked, a default offered, a secret without echo" {
	run -0 "$TOP/tests/lib/on-terminal" "" secret-value -- silver create-config "$A" cfg
	assert_output --partial "greeting (what the page says) [hello]: "
	assert_output --partial "api_token (a secret the app uses): "
	refute_output --partial "secret-value"
	run -0 cat cfg/settings.ini
	assert_output '[site]
greeting = hello
token = secret-value'
}

@test "bad inputs: unknown variable, existing OUT, a value with a /, no template, a bad template.ini" {
	run -100 silver create-config "$A" cfg nosuch=1
	assert_output "sl-config: fatal: nosuch is not a variable of the template (--info lists them)"
	run -100 silver create-config "$A" cfg greeting
	assert_output "sl-config: fatal: 'greeting' is not VAR=VALUE"
	mkdir cfg
	run -100 silver create-config "$A" cfg greeting=a api_token=b
	assert_output "sl-config: fatal: cfg exists: give a new directory"
	tpl
	mkdir t/tpl/+site+
	run -100 silver create-config t out site=a/b
	assert_output "sl-config: fatal: site='a/b' makes the name +site+ hold a '/'"
	run -100 silver create-config t out site=..
	assert_output "sl-config: fatal: the variables make the name +site+ '..'"
	[ ! -e out ] || fail "out was made"
	ls -A | grep -q part && fail "a partial config was left: $(ls -A)"
	tpl '[variables]' 'bad-name = x'
	run -100 silver create-config t out
	assert_output "sl-config: fatal: t/tpl/template.ini:2: 'bad-name' is not a variable name (letters, digits, _)"
	app u '[production]' 'app_name = u' 'runner = main.py'
	run -100 silver create-config u out
	assert_output "sl-config: fatal: u/app.ini has no config.template"
	run -100 silver create-config
	assert_output --partial "usage: sl-config"
}

@test "config.checker refuses a bad config before anything is sent (exit 100)" {
	run -0 silver create-config "$A" bad greeting=bad api_token=x
	# a node that cannot be reached: the checker must stop sl-sync first
	run -100 sl-sync --config bad "$A" root@127.0.0.1:1
	assert_output --partial "ValueError: greeting 'bad' is not acceptable"
	assert_line "sl-sync: fatal: bad did not pass config.checker checks:check_config (exit status 1): nothing was uploaded"
	run -0 silver create-config "$A" good greeting=fine api_token=x
	run -111 sl-sync --config good "$A" root@127.0.0.1:1
	assert_output "sl-sync: fatal: unable to connect to root@127.0.0.1:1: Connection refused"
}

@test "config.checker as a command gets the config dir, in the app's environment" {
	app c '[production]' 'app_name = c' 'runner = main.py' 'config.checker = check.sh'
	printf '#!/bin/sh\necho "checking $1 as $SILVER_APP_NAME, config $SILVER_APP_CONFIG"\nexit 3\n' > c/check.sh
	chmod 755 c/check.sh
	mkdir cfg
	run -100 sl-sync --config cfg c root@127.0.0.1:1
	assert_line "checking $BATS_TEST_TMPDIR/cfg as c, config $BATS_TEST_TMPDIR/cfg"
	assert_line "sl-sync: fatal: cfg did not pass config.checker check.sh (exit status 3): nothing was uploaded"
	rm c/check.sh
	run -127 sl-sync --config cfg c root@127.0.0.1:1
	run -100 sl-sync --config nodir c root@127.0.0.1:1
	assert_output "sl-sync: fatal: --config nodir: not a directory"
}

@test "silver update --config and --name reach sl-sync; other verbs refuse them" {
	run -100 silver update --name Bad_Name "$A" x.test
	assert_output --partial "--name Bad_Name: not an app name"
	run -100 silver activate --config cfg x.test prev
	assert_output "silver: fatal: --config is an option of update"
}
