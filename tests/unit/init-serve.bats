#!/usr/bin/env bats
# The developer's side: silver init makes an app, silver serve runs it here
# with the environment and the static-file rules of a node.
bats_require_minimum_version 1.5.0

load ../lib/common

setup() {
	common_setup
	cd "$BATS_TEST_TMPDIR"
	PORT=$((20000 + RANDOM % 20000))
}

teardown() {
	[ -n "${SERVE:-}" ] && kill "$SERVE" 2>/dev/null
	return 0
}

# serve DIR [ARGS...]: silver serve in the background; waits until it answers
serve() {
	local dir=$1
	shift
	silver serve --port "$PORT" "$@" "$dir" > "$BATS_TEST_TMPDIR/serve.log" 2>&1 3>&- &
	SERVE=$!
	for _ in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:$PORT/" && return 0
		kill -0 "$SERVE" 2>/dev/null || break
		sleep 0.1
	done
	cat "$BATS_TEST_TMPDIR/serve.log" >&2
	return 1
}

@test "init makes an app: app.ini named after the directory, a runner, static/, lib/python/, a README" {
	run -0 silver init My_Blog
	assert_output My_Blog
	for f in app.ini main.py static/style.css lib/python/README README; do
		[ -f "My_Blog/$f" ] || fail "no $f"
	done
	run -0 sl-app My_Blog
	assert_line app_name=my-blog
	assert_line runner=main.py
	run -0 sl-env My_Blog -- python3 -c 'import os; print(os.environ["SILVER_APP_NAME"])'
	assert_output my-blog
}

@test "init never overwrites app.ini; the other files only with -f" {
	silver init app > /dev/null
	echo '# mine' >> app/app.ini
	run -100 silver init app
	assert_output "sl-init: fatal: app/app.ini exists: init never overwrites it"
	rm app/app.ini
	echo 'mine' > app/main.py
	run -100 silver init app
	assert_output "sl-init: fatal: app/main.py exists: use -f to overwrite the files other than app.ini"
	run -0 silver init -f app
	grep -q 'def application' app/main.py
	run -100 silver init -f app
	assert_output "sl-init: fatal: app/app.ini exists: init never overwrites it"
}

@test "init refuses a directory no app name can come from" {
	run -100 silver init 123
	assert_output "sl-init: fatal: no app name can be made from '123': give a directory named like an app (my-blog)"
}

@test "serve runs the app with the laptop's environment and serves static/ first" {
	cp -r "$TOP/examples/hello" hello
	serve hello
	run -0 curl -s "http://127.0.0.1:$PORT/"
	assert_output --partial "<h1>Hello from silverlining</h1>"
	assert_output --partial "running in development"
	run -0 curl -s "http://127.0.0.1:$PORT/style.css"
	assert_output "$(cat hello/static/style.css)"
	run -0 curl -s "http://127.0.0.1:$PORT/_update"
	assert_line "SILVER_VERSION=devel/0.1.0"
	assert_line "silverlining.update=False"
	# update_fetch ran at start, as an internal request
	run -0 cat "$BATS_TEST_TMPDIR/serve.log"
	assert_line "sl-serve: update_fetch /_update: 200 OK"
	assert_line "silverlining.update=True"
	assert_line "sl-serve: serving hello at http://127.0.0.1:$PORT/ (Ctrl-C stops)"
}

@test "serve: the writable root comes after static/ and before the app, per host first" {
	silver init wr > /dev/null
	echo 'service.writable_root =' >> wr/app.ini
	root=$HOME/.silverlining/writable-root/wr
	mkdir -p "$root/example.test"
	echo shared > "$root/file.txt"
	echo per-host > "$root/example.test/file.txt"
	serve wr
	run -0 curl -s "http://127.0.0.1:$PORT/file.txt"
	assert_output shared
	run -0 curl -s -H 'Host: example.test' "http://127.0.0.1:$PORT/file.txt"
	assert_output per-host
	run -0 curl -s "http://127.0.0.1:$PORT/../../../etc/passwd"
	refute_output --partial "root:"
}

@test "serve shows an error in the terminal with the request that caused it" {
	silver init boom > /dev/null
	cat > boom/main.py <<-'PY'
	def application(environ, start_response):
	    if environ["PATH_INFO"] == "/boom":
	        raise ValueError("the boom page is broken")
	    start_response("200 OK", [("Content-Type", "text/plain")])
	    return [b"fine\n"]
	PY
	serve boom
	run -0 curl -s -w ' %{http_code}' "http://127.0.0.1:$PORT/boom"
	assert_output "500 Internal Server Error: the traceback is in the terminal
 500"
	run -0 cat "$BATS_TEST_TMPDIR/serve.log"
	assert_line "sl-serve: error in GET /boom:"
	assert_line "ValueError: the boom page is broken"
}

@test "serve restarts when a source file changes" {
	silver init live > /dev/null
	serve live
	run -0 curl -s "http://127.0.0.1:$PORT/"
	assert_output --partial "It works"
	sed -i 's/It works/It changed/' live/main.py
	for _ in $(seq 50); do
		curl -s "http://127.0.0.1:$PORT/" 2>/dev/null | grep -q 'It changed' && break
		sleep 0.2
	done
	run -0 curl -s "http://127.0.0.1:$PORT/"
	assert_output --partial "It changed"
	run -0 cat "$BATS_TEST_TMPDIR/serve.log"
	assert_line "sl-serve: main.py changed: restarting"
}

@test "serve on a busy port exits 111 with a message" {
	silver init busy > /dev/null
	serve busy
	run -111 silver serve --port "$PORT" busy
	assert_line "sl-serve: fatal: unable to listen on 127.0.0.1:$PORT: Address already in use"
}

@test "serve with a bad app.ini exits 100 with its message; usage" {
	mkdir bad
	printf '[production]\napp_name = Bad\n' > bad/app.ini
	run -100 silver serve --port "$PORT" bad
	assert_output --partial "bad/app.ini:2: invalid app_name 'Bad'"
	run -100 sl-serve
	assert_output "sl-serve: usage: sl-serve [--host HOST] [--port PORT] [--config DIR] APPDIR"
}

@test "serve: a client's X-Forwarded-Proto does not make the app think it is behind HTTPS" {
	mkdir scheme
	printf '[production]\napp_name = scheme\nrunner = app.py\n' > scheme/app.ini
	cat > scheme/app.py <<-'PY'
	def application(environ, start_response):
	    start_response("200 OK", [("Content-Type", "text/plain")])
	    return [("%s %s" % (environ["wsgi.url_scheme"], environ.get("HTTPS", "-"))).encode()]
	PY
	serve scheme
	run -0 curl -s -H 'X-Forwarded-Proto: https' "http://127.0.0.1:$PORT/"
	assert_output "http -"
}

# php_app DIR: a PHP app whose runner shows its request and environment
php_app() {
	command -v php > /dev/null || skip "needs php8.2-cli"
	app "$1" '[production]' "app_name = $1" 'platform = php' 'runner = index.php' \
		'update_fetch = /_update' 'service.writable_root ='
	mkdir -p "$1/static"
	echo 'body { color: teal }' > "$1/static/style.css"
	cat > "$1/index.php" <<-'PHP'
	<?php
	echo "<h1>PHP page</h1>\n";
	echo "uri=", $_SERVER['REQUEST_URI'], "\n";
	echo "update=", $_SERVER['HTTP_X_SILVERLINING_UPDATE'] ?? 'none', "\n";
	echo "writable=", getenv('CONFIG_WRITABLE_ROOT'), "\n";
	echo "server=", $_SERVER['SILVER_VERSION'] ?? '-', "\n";
	echo "token=", getenv('SL_SERVE_TOKEN') === false && !isset($_ENV['SL_SERVE_TOKEN']) &&
		!isset($_SERVER['SL_SERVE_TOKEN']) ? 'unseen' : 'seen', "\n";
	if ($_SERVER['REQUEST_URI'] === '/boom')
		no_such_function();
	PHP
}

@test "serve runs a PHP app under php -S: the runner, static/ first, the writable root, CONFIG_* in getenv()" {
	php_app papp
	root=$HOME/.silverlining/writable-root/papp
	mkdir -p "$root"
	echo shared > "$root/file.txt"
	serve papp
	run -0 curl -s "http://127.0.0.1:$PORT/some/page?q=1"
	assert_line "<h1>PHP page</h1>"
	assert_line "uri=/some/page?q=1"
	assert_line "writable=$root"
	assert_line "server=devel/0.1.0"
	assert_line "token=unseen"
	assert_line "update=none"
	run -0 curl -s "http://127.0.0.1:$PORT/style.css"
	assert_output "body { color: teal }"
	run -0 curl -s "http://127.0.0.1:$PORT/file.txt"
	assert_output shared
	# the outside cannot pose as an internal request
	run -0 curl -s -H 'X-Silverlining-Update: 1' "http://127.0.0.1:$PORT/"
	assert_line "update=none"
	# update_fetch ran at start, as an internal request
	run -0 cat "$BATS_TEST_TMPDIR/serve.log"
	assert_line "sl-serve: update_fetch /_update: 200 OK"
	assert_line "update=1"
	assert_line "sl-serve: serving papp at http://127.0.0.1:$PORT/ (Ctrl-C stops)"
	# an error: a 500, PHP's message in the terminal
	run -0 curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/boom"
	assert_output 500
	run -0 cat "$BATS_TEST_TMPDIR/serve.log"
	assert_output --partial "Call to undefined function no_such_function()"
}

@test "serve: a php_root app runs its .php files, a directory's index.php, and serves its other files" {
	command -v php > /dev/null || skip "needs php8.2-cli"
	app proot '[production]' 'app_name = proot' 'platform = php' 'php_root = web'
	mkdir -p proot/web/sub proot/secret
	echo '<?php echo "index ", $_SERVER["SCRIPT_NAME"], "\n";' > proot/web/index.php
	echo '<?php echo "page ", $_SERVER["SCRIPT_NAME"], "\n";' > proot/web/sub/page.php
	echo 'plain text' > proot/web/sub/plain.txt
	echo '<?php echo "outside\n";' > proot/secret/x.php
	serve proot
	run -0 curl -s "http://127.0.0.1:$PORT/"
	assert_output "index /index.php"
	run -0 curl -s "http://127.0.0.1:$PORT/sub/page.php"
	assert_output "page /sub/page.php"
	run -0 curl -s "http://127.0.0.1:$PORT/sub/plain.txt"
	assert_output "plain text"
	run -0 curl -s "http://127.0.0.1:$PORT/sub/"
	assert_output "404 Not Found: nothing under php_root for /sub/"
	echo '<?php echo "sub index\n";' > proot/web/sub/index.php
	run -0 curl -s "http://127.0.0.1:$PORT/sub/"
	assert_output "sub index"
	# as nginx: a directory without its / is no script
	run -0 curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/sub"
	assert_output 404
	run -0 curl -s -w ' %{http_code}' "http://127.0.0.1:$PORT/sub/none.php"
	assert_output "404 Not Found: nothing under php_root for /sub/none.php
 404"
	run -0 curl -s --path-as-is -w ' %{http_code}' "http://127.0.0.1:$PORT/../secret/x.php"
	refute_output --partial outside
}

@test "serve restarts a PHP app when a .php file changes" {
	php_app plive
	serve plive
	run -0 curl -s "http://127.0.0.1:$PORT/"
	assert_line "<h1>PHP page</h1>"
	sed -i 's/PHP page/PHP changed/' plive/index.php
	for _ in $(seq 50); do
		grep -q 'index.php changed: restarting' "$BATS_TEST_TMPDIR/serve.log" && break
		sleep 0.2
	done
	run -0 cat "$BATS_TEST_TMPDIR/serve.log"
	assert_line "sl-serve: index.php changed: restarting"
	for _ in $(seq 50); do
		curl -s "http://127.0.0.1:$PORT/" 2>/dev/null | grep -q 'PHP changed' && break
		sleep 0.2
	done
	run -0 curl -s "http://127.0.0.1:$PORT/"
	assert_line "<h1>PHP changed</h1>"
}

@test "serve: a PHP app on a busy port exits 111; one with neither runner nor php_root exits 100" {
	php_app pbusy
	serve pbusy
	run -111 silver serve --port "$PORT" pbusy
	assert_line "sl-serve: fatal: unable to listen on 127.0.0.1:$PORT: Address already in use"
	app pnone '[production]' 'app_name = pnone' 'platform = php'
	run -100 silver serve --port "$PORT" pnone
	assert_output "sl-serve: fatal: pnone/app.ini names no runner and no php_root"
}
