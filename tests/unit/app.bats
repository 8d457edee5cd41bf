#!/usr/bin/env bats
# sl-app: an app.ini, checked as sl-env checks it, as KEY=VALUE lines.
bats_require_minimum_version 1.5.0

load ../lib/common

setup() {
	common_setup
	A=$BATS_TEST_TMPDIR/app
}

@test "every key, list entries one a line, defaults for the knobs" {
	app "$A" '[production]' 'app_name = my-blog' 'runner = main.py#app' 'update_fetch =' \
		'    /setup' '    script:bin/migrate --fast' 'health_check = /up' \
		'default_location = blog.example.com' 'service.postgis =' 'service.files =' \
		'packages =' '    python3-lxml' '    libjpeg62-turbo' 'config.required = yes' \
		'config.default = conf' 'processes = 4'
	run -0 --separate-stderr sl-app "$A"
	assert_output "app_name=my-blog
runner=main.py#app
platform=python
update_fetch=/setup
update_fetch=script:bin/migrate --fast
health_check=/up
default_location=blog.example.com
service=postgis
service=files
packages=python3-lxml
packages=libjpeg62-turbo
config_required=true
config_default=conf
processes=4
threads=1
timeout=30
memory_limit=256"
	assert_equal "$stderr" ""
}

@test "keys not set are left out; warnings go to stderr" {
	app "$A" '[production]' 'app_name = tiny' 'colour = blue'
	run -0 --separate-stderr sl-app "$A"
	assert_output "app_name=tiny
platform=python
config_required=false
processes=2
threads=1
timeout=30
memory_limit=256"
	assert_equal "$stderr" "sl-app: warning: $A/app.ini:3: unknown key 'colour' ignored"
}

@test "errors are sl-env's: file:line, exit 100" {
	app "$A" '[production]' 'app_name = Bad'
	run -100 sl-app "$A"
	assert_output --partial "sl-app: fatal: $A/app.ini:2: invalid app_name 'Bad'"
	run -100 sl-app "$BATS_TEST_TMPDIR/none"
	assert_output "sl-app: fatal: unable to read $BATS_TEST_TMPDIR/none/app.ini: No such file or directory"
}

@test "--user: the Unix user an app runs as on a node" {
	run -0 sl-app --user my-blog
	assert_output sl-my-blog
	long=abcdefghijabcdefghijabcdefghija
	run -0 sl-app --user "$long"
	assert_output "sl-uqmd3adpprqbcz5gh75ersr6whjhc"
	[ ${#output} -le 32 ]
	run -100 sl-app --user 'x;y'
	assert_output "sl-app: fatal: invalid app name 'x;y'"
}

@test "sl-app --name: the app_name rule for scripts" {
	run -0 sl-app --name my-blog-2
	assert_output ""
	for bad in Blog 1blog blog_x "" "a b" 'x;y' "$(printf 'a%.0s' {1..32})"; do
		run -100 sl-app --name "$bad"
		assert_output "sl-app: fatal: invalid app name '$bad'"
	done
}

@test "usage" {
	run -100 sl-app
	assert_output "sl-app: usage: sl-app APPDIR | sl-app --user APP | sl-app --name APP"
	run -0 sl-app --help
	assert_output "usage: sl-app APPDIR | sl-app --user APP | sl-app --name APP"
}
