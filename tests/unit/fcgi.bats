#!/usr/bin/env bats
# libsl/fcgi.c, the FastCGI client, against a real php-fpm of the test's
# own and against a fake server sending bad records; and sl_gate_request
# asking a PHP instance over FastCGI (libsl/gate.c).
bats_require_minimum_version 1.5.0

load ../lib/common

setup() {
	common_setup
	T=${SL_TEST_BUILD:-$TOP/build}/tests/libsl-test
	D=$BATS_TEST_TMPDIR
	chmod 755 "$D"
	FPM=/usr/sbin/php-fpm8.2
}

teardown() {
	[ -n "${FPM_PID:-}" ] && kill "$FPM_PID" 2>/dev/null && wait "$FPM_PID" 2>/dev/null
	[ -n "${FAKE_PID:-}" ] && kill "$FAKE_PID" 2>/dev/null
	[ -n "${GATE_SOCK:-}" ] && rm -f "$GATE_SOCK"
	return 0
}

# fpm SOCKET: a php-fpm of the test's own listening on SOCKET, its
# scripts in $D; CONFIG_X in its environment. Waits until it accepts.
fpm() {
	[ -x "$FPM" ] || skip "needs php8.2-fpm"
	cat > "$D/fpm.conf" <<-EOF
	[global]
	pid = $D/fpm.pid
	error_log = $D/fpm.log
	daemonize = no
	[t]
	listen = $1
	pm = static
	pm.max_children = 2
	clear_env = no
	php_admin_flag[display_errors] = off
	php_admin_flag[log_errors] = on
	EOF
	local root=()
	[ "$(id -u)" = 0 ] && root=(-R)
	CONFIG_X=from-the-environment "$FPM" -n "${root[@]}" --nodaemonize --fpm-config "$D/fpm.conf" \
		3>&- &
	FPM_PID=$!
	for _ in $(seq 100); do
		grep -q 'ready to handle connections' "$D/fpm.log" 2>/dev/null && return 0
		sleep 0.05
	done
	cat "$D/fpm.log" >&2
	return 1
}

# script NAME PHP: $D/NAME.php holding PHP
script() {
	printf '<?php %s\n' "$2" > "$D/$1.php"
}

# ask NAME [MS]: the php-fpm asked for $D/NAME.php
ask() {
	"$T" fcgi "$D/fpm.sock" "${2:-5000}" "SCRIPT_FILENAME=$D/$1.php" REQUEST_METHOD=GET \
		HTTP_HOST=example.test "REQUEST_URI=/page?a=b" QUERY_STRING=a=b
}

# fake PYTHON-BYTES: a server on $D/fake.sock that reads the request and
# answers PYTHON-BYTES (a Python expression), then closes; None: never answers.
fake() {
	python3 - "$D/fake.sock" "$1" > "$D/fake.ready" <<-'PY' 3>&- &
	import socket, sys, time
	s = socket.socket(socket.AF_UNIX)
	s.bind(sys.argv[1])
	s.listen(1)
	print("ready", flush=True)
	c, _ = s.accept()
	c.recv(65536)
	answer = eval(sys.argv[2])
	if answer is None:
	    time.sleep(60)
	else:
	    c.sendall(answer)
	c.close()
	PY
	FAKE_PID=$!
	for _ in $(seq 100); do
		[ -s "$D/fake.ready" ] && return 0
		sleep 0.05
	done
	return 1
}

# rec TYPE CONTENT: a Python expression for one record of request 1
rec() {
	echo "(bytes([1, $1, 0, 1, len($2) >> 8, len($2) & 255, 0, 0]) + $2)"
}
END_OK="$(rec 3 "bytes(8)")"

@test "fcgi: php-fpm answers 200 with its headers and body; the params reach \$_SERVER, the environment getenv()" {
	fpm "$D/fpm.sock"
	script ok 'header("X-Test: yes"); echo $_SERVER["HTTP_HOST"], " ", $_SERVER["REQUEST_URI"], " ", $_GET["a"], " ", getenv("CONFIG_X"), "\n";'
	run -0 ask ok
	assert_line --index 0 "status 200"
	assert_line "X-Test: yes"
	assert_line "example.test /page?a=b b from-the-environment"
	refute_line "--- stderr"
}

@test "fcgi: a Status header or http_response_code() gives the status" {
	fpm "$D/fpm.sock"
	script code 'http_response_code(503); echo "down\n";'
	script header 'header("Status: 503 Service Unavailable"); echo "down too\n";'
	run -0 ask code
	assert_line --index 0 "status 503"
	assert_line down
	run -0 ask header
	assert_line --index 0 "status 503"
	assert_line "down too"
}

@test "fcgi: a fatal error is a 500, with PHP's message from FCGI_STDERR" {
	fpm "$D/fpm.sock"
	script fatal 'no_such_function(); echo "never";'
	run -0 ask fatal
	assert_line --index 0 "status 500"
	assert_line "--- stderr"
	assert_output --partial "Call to undefined function no_such_function()"
	refute_output --partial never
	# a script that is not there: php-fpm's own 404
	run -0 ask missing
	assert_line --index 0 "status 404"
	assert_output --partial "Primary script unknown"
}

@test "fcgi: a script slower than the limit is an error (111), not a hang" {
	fpm "$D/fpm.sock"
	script slow 'sleep(5); echo "late";'
	run -111 ask slow 300
	assert_output "libsl-test: fatal: $D/fpm.sock: no complete answer within 300 ms"
}

@test "fcgi: a socket nobody listens on, and no socket, are errors (111)" {
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$D/dead.sock"
	run -111 "$T" fcgi "$D/dead.sock" 1000 SCRIPT_FILENAME=/x.php
	assert_output "libsl-test: fatal: unable to connect to $D/dead.sock: Connection refused"
	run -111 "$T" fcgi "$D/none.sock" 1000 SCRIPT_FILENAME=/x.php
	assert_output "libsl-test: fatal: unable to connect to $D/none.sock: No such file or directory"
	run -100 "$T" fcgi "$D/none.sock" 1000 NOEQUALS
	assert_output "libsl-test: fatal: a FastCGI param is not NAME=VALUE: NOEQUALS"
}

# garbage ANSWER MS MESSAGE: the fake server answering ANSWER makes the
# client fail with 111 and MESSAGE (after the socket's name)
garbage() {
	fake "$1"
	run -111 "$T" fcgi "$D/fake.sock" "$2" A=b
	assert_output "libsl-test: fatal: $D/fake.sock: $3"
	kill "$FAKE_PID" 2>/dev/null || true
	wait "$FAKE_PID" || true
	rm "$D/fake.sock" "$D/fake.ready"
}

@test "fcgi: garbage from a fake server is an error with a clear message (111), never a crash" {
	garbage "b'HTTP/1.1 200 OK\\r\\n\\r\\nhello'" 5000 \
		"malformed FastCGI response: a record of version 72"
	garbage "$(rec 6 "b'Status: 200\\r\\n\\r\\nhalf'")[:-2]" 5000 \
		"the connection closed before the end of the response"
	garbage "$(rec 9 "b'xx'")" 5000 "malformed FastCGI response: a record of type 9"
	garbage "$(rec 6 "b'no headers at all'") + $END_OK" 5000 \
		"malformed CGI response: no blank line after its headers"
	garbage "$(rec 6 "b'Status: 9x9 no\\r\\n\\r\\n'") + $END_OK" 5000 \
		"malformed CGI response: the status '9x9 no'"
	garbage "$(rec 3 "bytes([0, 0, 0, 0, 2, 0, 0, 0])")" 5000 \
		"the FastCGI server refused the request: it is overloaded"
	# more than SL_FCGI_MAX (16 MiB) of valid records
	garbage "$(rec 6 "b'x' * 65535")"' * 300' 10000 "a response longer than 16777216 bytes"
	garbage None 300 "no complete answer within 300 ms"
}

# parse PYTHON-BYTES: libsl-test fcgi-parse on those bytes
parse() {
	python3 -c 'import sys; sys.stdout.buffer.write(eval(sys.argv[1]))' "$1" | "$T" fcgi-parse
}

@test "fcgi: the response parser: streams split over records, padding, LF lines, stderr; bad lengths" {
	run -0 parse "bytes([1, 6, 0, 1, 0, 5, 3, 0]) + b'X-A: ' + bytes(3) + $(rec 7 "b'warn'") + $(rec 6 "b'1\\n\\nbody'") + $END_OK + b'ignored'"
	assert_output "$(printf 'status 200\nX-A: 1\n\nbody--- stderr\nwarn')"
	run -1 parse "$(rec 6 "b'Status: 200\\n\\n'")"
	assert_output "libsl-test: fatal: incomplete"
	run -111 parse "$(rec 3 "bytes(7)")"
	assert_output "libsl-test: fatal: malformed FastCGI response: FCGI_END_REQUEST of length 7"
	run -111 parse "bytes([1, 6, 0, 2, 0, 0, 0, 0])"
	assert_output "libsl-test: fatal: malformed FastCGI response: a record for request 2"
	run -111 parse "$END_OK"
	assert_output "libsl-test: fatal: malformed CGI response: nothing on its stdout"
	run -111 parse "$(rec 6 "b'bad header\\n\\n'") + $END_OK"
	assert_output "libsl-test: fatal: malformed CGI response: the header line 'bad header'"
}

@test "sl_gate_request: a PHP instance is asked over FastCGI with nginx's params, runner and php_root; PHP's stderr told" {
	[ "$(id -u)" = 0 ] || skip "needs root: the instance's socket is in /run/silverlining"
	export SL_ROOT=$D/root
	inst=fcgit$RANDOM.2026-12-02_001
	GATE_SOCK=/run/silverlining/$inst.sock
	mkdir -p /run/silverlining "$SL_ROOT/run/$inst" "$SL_ROOT/instances/$inst/web/sub"
	touch "$SL_ROOT/run/$inst/php-fpm.conf"
	cd "$SL_ROOT/instances/$inst"
	printf '[production]\napp_name = fcgit\nplatform = php\nrunner = main.php\n' > app.ini
	cat > main.php <<-'PHP'
	<?php
	if ($_SERVER['REQUEST_URI'] === '/blog/down') { http_response_code(503); echo "down\n"; exit; }
	if ($_SERVER['REQUEST_URI'] === '/blog/fatal') no_such_function();
	foreach (['SCRIPT_NAME', 'SCRIPT_FILENAME', 'REQUEST_URI', 'QUERY_STRING', 'HTTP_HOST',
		  'HTTP_X_SILVERLINING_UPDATE', 'REQUEST_METHOD', 'REMOTE_ADDR', 'SERVER_PROTOCOL'] as $k)
		echo "$k=", $_SERVER[$k], "\n";
	PHP
	fpm "$GATE_SOCK"
	run -0 "$T" gate-request "$inst" example.test /blog '/update?x=1' 30
	assert_output "200
SCRIPT_NAME=/blog
SCRIPT_FILENAME=$SL_ROOT/instances/$inst/main.php
REQUEST_URI=/blog/update?x=1
QUERY_STRING=x=1
HTTP_HOST=example.test
HTTP_X_SILVERLINING_UPDATE=1
REQUEST_METHOD=GET
REMOTE_ADDR=127.0.0.1
SERVER_PROTOCOL=HTTP/1.1"
	run -0 "$T" gate-request "$inst" example.test /blog /down 30
	assert_output "503
down"
	# PHP's errors follow the body
	run -0 "$T" gate-request "$inst" example.test /blog /fatal 30
	assert_line --index 0 500
	assert_line --index 1 "PHP's stderr:"
	assert_output --partial "Call to undefined function no_such_function()"
	# php_root: a .php file under it, the index.php of a path ending in /, nothing else
	printf '[production]\napp_name = fcgit\nplatform = php\nphp_root = web\n' > app.ini
	echo '<?php echo "index ", $_SERVER["SCRIPT_NAME"], " in ", $_SERVER["DOCUMENT_ROOT"], "\n";' \
		> web/sub/index.php
	echo '<?php echo "page ", $_SERVER["SCRIPT_NAME"], "\n";' > web/page.php
	echo 'plain' > web/plain.txt
	run -0 "$T" gate-request "$inst" example.test /blog /page.php 30
	assert_output "200
page /blog/page.php"
	run -0 "$T" gate-request "$inst" example.test / /sub/ 30
	assert_output "200
index /sub/index.php in $SL_ROOT/instances/$inst/web"
	for url in /sub /plain.txt /../main.php /none.php; do
		run -0 "$T" gate-request "$inst" example.test / "$url" 30
		assert_output "404
no PHP script under php_root for $url"
	done
	# nobody listening: 000 and why
	kill "$FPM_PID"; wait "$FPM_PID" || true; FPM_PID=
	rm -f "$GATE_SOCK"
	run -0 "$T" gate-request "$inst" example.test / /page.php 30
	assert_output "000
unable to connect to $GATE_SOCK: No such file or directory"
}
