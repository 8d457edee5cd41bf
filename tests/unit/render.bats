#!/usr/bin/env bats
# libsl/render: nginx's routes, an instance's uwsgi.ini and wsgi.py, driven
# through build/tests/render-test over the states in tests/fixtures/render
# (NAME.state) and compared byte for byte with their golden files.
bats_require_minimum_version 1.5.0

load ../lib/common

setup() {
	common_setup
	T=${SL_TEST_BUILD:-$TOP/build}/tests/render-test
	F=$TOP/tests/fixtures/render
	cd "$BATS_TEST_TMPDIR" || exit
}

# golden KIND STATE GOLDEN: STATE renders as GOLDEN, to the byte
golden() {
	"$T" "$1" "$2" > out || fail "render-test $1 $2 failed"
	cmp out "$3" || fail "$(diff -u "$3" out)"
}

@test "render nginx: each state renders as its golden file" {
	n=0
	for s in "$F"/nginx-*.state; do
		golden nginx "$s" "${s%.state}.conf"
		n=$((n + 1))
	done
	[ "$n" -ge 14 ]
}

@test "render uwsgi: threads > 1 enables threads, threads = 1 does not" {
	golden uwsgi "$F/uwsgi-threads.state" "$F/uwsgi-threads.ini"
	golden uwsgi "$F/uwsgi-single.state" "$F/uwsgi-single.ini"
	grep -qx 'enable-threads = true' "$F/uwsgi-threads.ini"
	! grep -q enable-threads "$F/uwsgi-single.ini"
}

@test "render uwsgi: HTTP on the socket systemd passes; an idle time exits uWSGI, 0 never" {
	for f in threads single; do
		grep -qx 'protocol = http' "$F/uwsgi-$f.ini"
		! grep -q -e '^http-socket' -e '^vacuum' -e '^chown-socket' "$F/uwsgi-$f.ini"
	done
	grep -qx 'idle = 600' "$F/uwsgi-threads.ini"
	grep -qx 'die-on-idle = true' "$F/uwsgi-threads.ini"
	! grep -q idle "$F/uwsgi-single.ini"
}

@test "render wsgi: a plain runner and a hostile one render as their golden files" {
	golden wsgi "$F/wsgi-plain.state" "$F/wsgi-plain.py"
	golden wsgi "$F/wsgi-nasty.state" "$F/wsgi-nasty.py"
	# ASCII only, two lines, one call: nothing broke out of the literals
	! LC_ALL=C grep -q '[^ -~]' "$F/wsgi-nasty.py"
	[ "$(wc -l < "$F/wsgi-nasty.py")" -eq 2 ]
}

# wsgi_args FILE: the two strings FILE's load() call is given, as Python
# reads them and encodes them for the file system, NUL-separated
wsgi_args() {
	python3 -c 'import ast, os, sys
t = ast.parse(open(sys.argv[1], "rb").read())
assert len(t.body) == 2, "more than two statements"
call = t.body[1].value
assert call.func.id == "load" and len(call.args) == 2
for a in call.args:
    sys.stdout.buffer.write(os.fsencode(a.value) + b"\0")' "$1"
}

@test "render wsgi: the literals read back as the exact bytes, as repr() of today's script wrote them" {
	wsgi_args "$F/wsgi-nasty.py" > got
	{
		printf "/var/lib/silverlining/instances/o'hara.2024-05-01_001\0"
		printf 'wsgi'"'"');import os;os.system("id")#\\x\n\t\001caf\303\251\342\202\254\360\237\230\200\377\355\240\200\300\257\342\202.py#app\0'
	} > want
	cmp got want
	# the same strings as python3's repr() of the arguments (sl-activate's way)
	python3 -c 'import os, sys
d, r = sys.stdin.buffer.read().split(b"\0")[:2]
print("from silverlining_runner import load")
print("application = load(%r, %r)" % (os.fsdecode(d), os.fsdecode(r)))' < want > today.py
	wsgi_args today.py > today
	cmp got today
}

@test "render wsgi: 300 random byte strings read back exactly" {
	python3 - "$T" <<'EOF'
import ast, os, random, subprocess, sys
rnd = random.Random(14)
for i in range(300):
    raw = [bytes(rnd.randrange(1, 256) for _ in range(rnd.randrange(0, 40))) for _ in (0, 1)]
    word = lambda b: "".join("\\x%02x" % c for c in b) or "\\x2e"
    with open("state", "w") as f:
        f.write("dir %s\nrunner %s\n" % (word(raw[0]), word(raw[1])))
    raw = [b or b"." for b in raw]
    src = subprocess.run([sys.argv[1], "wsgi", "state"], check=True, capture_output=True).stdout
    src.decode("ascii")
    args = ast.parse(src).body[1].value.args
    got = [os.fsencode(a.value) for a in args]
    assert got == raw, (raw, got, src)
EOF
}

@test "render nginx: the same state renders the same bytes, in any order of its routes" {
	for s in "$F"/nginx-*.state; do
		run -0 "$T" same "$s"
		assert_output same
	done
}

@test "render nginx: a new target behind a location's stable socket link leaves the text as it was" {
	mkdir -p live/example.com run
	ln -s "$PWD/run/site.2024-05-01_001.sock" live/example.com/sock
	printf 'pages /p\nroute example.com / site %s - 30 0\n' \
		"$PWD/live/example.com/sock $PWD/live/example.com/static" > state
	"$T" nginx state > before
	# the switch: a new link renamed over the old one (rename(2))
	ln -s "$PWD/run/site.2024-05-02_001.sock" live/example.com/sock.new
	mv -T live/example.com/sock.new live/example.com/sock
	[ "$(readlink live/example.com/sock)" = "$PWD/run/site.2024-05-02_001.sock" ]
	"$T" nginx state > after
	cmp before after
	grep -qF "proxy_pass \"http://unix:$PWD/live/example.com/sock\";" after
	! grep -q 2024-05 after
}

@test "render nginx: named locations come from host and path, never from the instance" {
	grep -q 'location @example.com/wiki {' "$F/nginx-path.conf"
	grep -q 'location @wr:files.example.com/docs {' "$F/nginx-writable.conf"
	# the app is not in the text: another app at the same location, same links, same text
	sed 's/ blog / other /' "$F/nginx-root.state" > state
	"$T" nginx state > out
	cmp out "$F/nginx-root.conf"
}

@test "render nginx: the generation is the SHA-256 of the rest of the text" {
	for c in "$F"/nginx-*.conf; do
		run -0 "$T" generation "$c"
		g=$output
		[[ $g =~ ^[0-9a-f]{64}$ ]]
		[ "$(sed "s/$g//g" "$c" | sha256sum | cut -d' ' -f1)" = "$g" ]
		# every server answers it (but the one refusing every TLS handshake),
		# and the header carries it
		[ "$(grep -c "return 200 \"$g\\\\n\";" "$c")" -eq \
			"$(($(grep -c '^server {' "$c") - $(grep -c 'ssl_reject_handshake on;' "$c")))" ]
		grep -qx "# generation $g" "$c"
	done
	# other routes, another generation
	[ "$("$T" generation "$F/nginx-root.conf")" != "$("$T" generation "$F/nginx-wildcard.conf")" ]
}

@test "render nginx: a text without a generation has none" {
	printf 'server {\n}\n# generation abc\n' > text
	run -1 "$T" generation text
	assert_output --partial 'carries no generation'
}

@test "render nginx: * and not-found both routed is refused" {
	printf 'pages /p\nroute * / a /s /st - 30 0\nroute not-found / b /s2 /st2 - 30 0\n' > state
	run -100 --separate-stderr "$T" nginx state
	[ -z "$output" ]
	[ "$stderr" = "render-test: fatal: * and not-found both take every other host: deactivate one of them" ]
}

# refused STATE-ROUTE-WORDS...: each route (the words after "route") is refused with 100, nothing written
refused() {
	local r
	for r in "$@"; do
		printf 'pages /p\nroute %s\n' "$r" > state
		run -100 --separate-stderr "$T" nginx state
		[ -z "$output" ] || fail "rendered: $r"
		[[ $stderr == *'render-test: fatal: '* ]] || fail "no message for: $r"
	done
}

@test "render nginx: hosts and paths nginx could misread are refused" {
	refused 'example.com /a;b a /s /st - 30 0' \
		'example.com /a{b a /s /st - 30 0' \
		'example.com /a}b a /s /st - 30 0' \
		'example.com /a"b a /s /st - 30 0' \
		'example.com /a$b a /s /st - 30 0' \
		'example.com /a\sb a /s /st - 30 0' \
		'example.com /a\tb a /s /st - 30 0' \
		'example.com /a\nb a /s /st - 30 0' \
		'example.com /a#b a /s /st - 30 0' \
		'example.com a a /s /st - 30 0' \
		'example.com /a/ a /s /st - 30 0' \
		'example.com /a//b a /s /st - 30 0' \
		'exa;mple.com / a /s /st - 30 0' \
		'example.com{ / a /s /st - 30 0' \
		'Example.com / a /s /st - 30 0' \
		'ex\sample.com / a /s /st - 30 0' \
		'*.example.com / a /s /st - 30 0' \
		'$host / a /s /st - 30 0'
}

@test "render nginx: files nginx cannot be given are refused; others are quoted" {
	refused 'example.com / a /run/a:b.sock /st - 30 0' \
		'example.com / a /run/$x.sock /st - 30 0' \
		'example.com / a run/a.sock /st - 30 0' \
		'example.com / a /run/a\n.sock /st - 30 0' \
		'example.com / a /s /st/$uri - 30 0' \
		'example.com / a /s /st /wr\x01 30 0'
	printf 'pages /p$x\n' > state
	run -100 "$T" nginx state
	printf 'route example.com / a /s /st - 30 0\nroute example.com / b /s2 /st2 - 30 0\npages /p\n' > state
	run -100 --separate-stderr "$T" nginx state
	[ "$stderr" = "render-test: fatal: example.com/ is routed twice" ]
	grep -qF 'proxy_pass "http://unix:/run/s\"l/a\\b.sock";' "$F/nginx-quoted.conf"
	grep -qF 'root "/srv/st{at}ic; dir";' "$F/nginx-quoted.conf"
}

# nginx_t FILE: nginx -t on a wrapper that includes FILE in its http block,
# everything nginx writes under this test's own prefix
nginx_t() {
	mkdir -p prefix
	cat > prefix/nginx.conf <<-EOF
	events {}
	http {
		access_log off;
		client_body_temp_path $PWD/prefix/body;
		proxy_temp_path $PWD/prefix/proxy;
		fastcgi_temp_path $PWD/prefix/fastcgi;
		uwsgi_temp_path $PWD/prefix/uwsgi;
		scgi_temp_path $PWD/prefix/scgi;
		include $1;
	}
	EOF
	nginx -t -q -p "$PWD/prefix/" -e "$PWD/prefix/error.log" -c "$PWD/prefix/nginx.conf" \
		-g "pid $PWD/prefix/nginx.pid;"
}

# certs NAME...: live/NAME.pem for each, as the node keeps one (tls.h): a
# leaf for NAME (and *.NAME) signed by this test's CA, the CA as its
# chain, then the leaf's key, in one file; the CA's certificate in ca.pem
certs() {
	local n
	[ -f ca.pem ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout ca.key -out ca.pem -days 2 -subj /CN=render-test-ca 2> /dev/null
	mkdir -p live
	for n in "$@"; do
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key \
			-out leaf.csr -subj "/CN=$n" 2> /dev/null
		printf 'subjectAltName=DNS:%s,DNS:*.%s\n' "$n" "$n" > leaf.ext
		openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
			-extfile leaf.ext -out leaf.pem 2> /dev/null
		cat leaf.pem ca.pem leaf.key > "live/$n.pem"
	done
}

# live_conf CONF: CONF with the node's live certificates in this test's live/
live_conf() {
	sed "s#/var/lib/silverlining/tls/live/_\.#$PWD/live/#; s#/var/lib/silverlining/tls/live/#$PWD/live/#" "$1"
}

@test "render nginx: nginx itself accepts every golden file" {
	command -v nginx > /dev/null || skip "nginx is not installed (apt-get install nginx)"
	# the harness can fail: a text nginx refuses is refused
	sed 's/server_name/server_nam/' "$F/nginx-root.conf" > bad.conf
	run ! nginx_t "$PWD/bad.conf"
	certs blog.example.com files.example.com example.com
	# a certificate nginx cannot read is refused too
	live_conf "$F/nginx-https.conf" | sed 's#live/blog.example.com.pem#live/none.pem#' > bad.conf
	run ! nginx_t "$PWD/bad.conf"
	for c in "$F"/nginx-*.conf; do
		live_conf "$c" > this.conf
		run nginx_t "$PWD/this.conf"
		[ "$status" -eq 0 ] || fail "nginx -t refused ${c##*/}: $output"
	done
}

@test "render nginx: https routes of a host with a certificate: a 443 server, 308 on port 80" {
	c=$F/nginx-mixed.conf
	# example.com on 443 with its certificate (one file as both), the others not
	[ "$(grep -c '^	listen 443 ssl http2;$' "$c")" -eq 1 ]
	grep -qxF '	ssl_certificate "/var/lib/silverlining/tls/live/example.com.pem";' "$c"
	grep -qxF '	ssl_certificate_key "/var/lib/silverlining/tls/live/example.com.pem";' "$c"
	grep -qx '	# certificate sha256 [0-9a-f]\{64\}' "$c"
	# port 80: /wiki and /shop redirect, / (http) is served; 443 serves all three
	[ "$(grep -c 'return 308 https://$host$request_uri;' "$c")" -eq 4 ]
	grep -qx '	location = /wiki {' "$c"
	[ "$(grep -c '^	location @example.com/ {' "$c")" -eq 2 ]
	[ "$(grep -c '^	location @example.com/wiki {' "$c")" -eq 1 ]
	# HSTS on the hsts path only, over HTTPS only
	[ "$(grep -c 'Strict-Transport-Security' "$c")" -eq 2 ]
	! grep -q 'Strict-Transport-Security' "$F/nginx-nocert.conf"
	# TLS 1.2 and 1.3, ECDHE only, no tickets; a default server refusing other names
	grep -qx '	ssl_protocols TLSv1.2 TLSv1.3;' "$c"
	! grep 'ssl_ciphers' "$c" | tr ':; ' '\n\n\n' | grep -v -e '^ssl_ciphers$' -e '^ECDHE-' -e '^$'
	grep -qx '	ssl_session_tickets off;' "$c"
	grep -qx '	ssl_prefer_server_ciphers off;' "$c"
	grep -qx '	ssl_reject_handshake on;' "$c"
	# no TLS server at all: no port 443 either
	! grep -q 443 "$F/nginx-root.conf"
	# a wildcard host with its certificate: the name nginx matches on 443 too
	grep -A2 'listen \[::\]:443 ssl http2;' "$F/nginx-tls-wildcard.conf" | grep -qx '	server_name .example.com;'
}

@test "render nginx: an https route without a certificate is served as a plain one" {
	sed 's/ https,hsts - -$//' "$F/nginx-nocert.state" > state
	"$T" nginx state > plain
	cmp plain "$F/nginx-nocert.conf"
}

@test "render nginx: every port-80 server answers ACME's challenges, before any route" {
	for c in "$F"/nginx-*.conf; do
		[ "$(grep -c '^	location ^~ /.well-known/acme-challenge/ {$' "$c")" -eq \
			"$(grep -c '^	listen 80' "$c")" ] || fail "${c##*/}"
		# before any route of its server
		awk '/^server \{/ { s = 0; ch = 0 } /^	listen 80/ { s = 1 } /acme-challenge/ { ch = 1 }
		     s && !ch && /^	location / && !/\/\.silverlining\// { bad = 1 }
		     END { exit bad }' "$c" || fail "${c##*/}: a route before the challenges"
	done
	grep -qxF '		alias "/var/lib/silverlining/acme/challenge/";' "$F/nginx-empty.conf"
	printf 'pages /p\nchallenge /srv/ch"a\nroute a.com / a /s /st - 30 0\n' > state
	run -0 "$T" nginx state
	assert_output --partial 'alias "/srv/ch\"a/";'
}

@test "render nginx: TLS inputs nginx could misread, or that cannot be served together, are refused" {
	local a b
	a=$(printf a | sha256sum | cut -c1-64)
	b=$(printf b | sha256sum | cut -c1-64)
	refused "a.com /.well-known/acme-challenge a /s /st - 30 0" \
		"a.com /.well-known/acme-challenge/x a /s /st - 30 0" \
		"* / a /s /st - 30 0 https /c.pem $a" \
		"not-found / a /s /st - 30 0 https /c.pem $a" \
		"a.com / a /s /st - 30 0 https c.pem $a" \
		"a.com / a /s /st - 30 0 https /c\$x.pem $a" \
		"a.com / a /s /st - 30 0 https /c\n.pem $a" \
		"a.com / a /s /st - 30 0 https /c.pem -" \
		"a.com / a /s /st - 30 0 https /c.pem ${a^^}" \
		"a.com / a /s /st - 30 0 https /c.pem ${a}0" \
		"a.com / a /s /st - 30 0 https /c.pem ${a:1};"
	# a path beside the challenges' is a route like any other
	printf 'pages /p\nroute a.com /.well-known a /s /st - 30 0\n' > state
	run -0 "$T" nginx state
	# one host's https routes name one certificate
	for second in "https /d.pem $a" "https /c.pem $b" "https - -"; do
		printf 'pages /p\nroute a.com / a /s /st - 30 0 https /c.pem %s\nroute a.com /x a /s2 /st2 - 30 0 %s\n' \
			"$a" "$second" > state
		run -100 --separate-stderr "$T" nginx state
		[ "$stderr" = "render-test: fatal: a.com: its https routes do not name one certificate" ] ||
			fail "$second: $stderr"
	done
	printf 'pages /p\nchallenge ch\n' > state
	run -100 --separate-stderr "$T" nginx state
	[[ $stderr == *"the ACME challenge directory 'ch' is not an absolute path"* ]]
}

@test "render nginx: a new certificate is a new text" {
	sed "s/ [0-9a-f]\{64\}$/ $(printf new | sha256sum | cut -c1-64)/" "$F/nginx-https.state" > state
	"$T" nginx state > new
	! cmp -s new "$F/nginx-https.conf"
	[ "$(diff "$F/nginx-https.conf" new | grep -c '^>')" -eq 5 ]	# the comment and the generations
}

# serve_tls CONF [SOCKET]: nginx serving CONF in the foreground, on Unix
# sockets (s80, s443) of this test instead of ports 80 and 443, once
# SOCKET (s443) is there
serve_tls() {
	mkdir -p prefix
	live_conf "$1" | sed -e '/listen \[::\]/d' \
		-e "s#listen 80#listen unix:$PWD/s80#; s#listen 443#listen unix:$PWD/s443#" > served.conf
	nginx_t "$PWD/served.conf" || fail "nginx -t refused it"
	nginx -p "$PWD/prefix/" -e "$PWD/prefix/error.log" -c "$PWD/prefix/nginx.conf" \
		-g "pid $PWD/prefix/nginx.pid; daemon off; master_process off;" &
	NGINX=$!
	for _ in $(seq 100); do
		[ -S "${2:-s443}" ] && break
		sleep 0.1
	done
	[ -S "${2:-s443}" ] || fail "nginx did not start: $(cat prefix/error.log)"
}

teardown() {
	[ -z "${NGINX:-}" ] || { kill "$NGINX"; wait "$NGINX" || true; }
	local p
	for p in ${FPM:-}; do
		kill "$p"
		wait "$p" || true
	done
}

@test "render nginx: served for real: one PEM (chain then key) serves TLS, HTTP redirects, HSTS over HTTPS" {
	command -v nginx > /dev/null || skip "nginx is not installed (apt-get install nginx)"
	certs example.com
	mkdir -p ch static
	echo token-answer > ch/tok_EN-1
	echo page > static/index.html
	sed -e "s#/var/lib/silverlining/acme/challenge#$PWD/ch#" \
		-e "s#/var/lib/silverlining/nginx/at/[0-9a-f]*/static#$PWD/static#" \
		"$F/nginx-mixed.conf" > mixed.conf
	serve_tls "$PWD/mixed.conf"
	# HTTPS with the one file as certificate and key, checked against the test's CA
	run -0 curl -sS --unix-socket s443 --cacert ca.pem -D - https://example.com/index.html
	assert_output --partial 'HTTP/2 200'
	assert_output --partial page
	refute_output --partial Strict-Transport-Security
	run -0 curl -sS --unix-socket s443 --cacert ca.pem -D - -o /dev/null https://example.com/wiki/index.html
	assert_output --partial 'strict-transport-security: max-age=31536000'
	# port 80: the https paths redirect, the http one is served
	run -0 curl -sS --unix-socket s80 -D - -o /dev/null 'http://example.com/wiki/a?b=c'
	assert_output --partial 'HTTP/1.1 308'
	assert_output --partial 'Location: https://example.com/wiki/a?b=c'
	refute_output --partial Strict-Transport-Security
	run -0 curl -sS --unix-socket s80 http://example.com/index.html
	assert_output page
	# the challenge answers on every port-80 server, the default one too
	for h in example.com other.example.org unknown.example.net; do
		run -0 curl -sS --fail --unix-socket s80 "http://$h/.well-known/acme-challenge/tok_EN-1"
		assert_output token-answer
	done
	# a name with no TLS server: no handshake at all
	run ! curl -sS --unix-socket s443 --cacert ca.pem https://other.example.org/
	assert_output --partial 'unrecognized name'
	# TLS 1.1 refused, 1.2 taken
	run ! curl -sS --unix-socket s443 --cacert ca.pem --tlsv1.1 --tls-max 1.1 https://example.com/index.html
	run -0 curl -sS --unix-socket s443 --cacert ca.pem --tlsv1.2 --tls-max 1.2 https://example.com/index.html
}

@test "render phpfpm: the golden file; php-fpm itself accepts it, and refuses a broken one" {
	golden phpfpm "$F/phpfpm-plain.state" "$F/phpfpm-plain.conf"
	# the limits an app's ini_set cannot lift are php_admin_*, and no secret is in it
	for k in memory_limit open_basedir session.save_path upload_tmp_dir sys_temp_dir; do
		grep -q "^php_admin_value\[$k\] = " "$F/phpfpm-plain.conf" || fail "$k"
	done
	grep -qx 'clear_env = no' "$F/phpfpm-plain.conf"
	! grep -qi 'password\|secret\|CONFIG_' "$F/phpfpm-plain.conf"
	command -v php-fpm8.2 > /dev/null || skip "php-fpm8.2 is not installed (apt-get install php8.2-fpm)"
	mkdir -p instances/blog.2024-05-01_001
	# this test's directories and a user the machine has (the socket is not made by -t)
	sed -e "s#/var/lib/silverlining#$PWD#g; s#/var/log/silverlining/apps/blog#$PWD#" \
		-e 's#sl-blog#www-data#g' "$F/phpfpm-plain.conf" > php-fpm.conf
	run -0 php-fpm8.2 -t -y php-fpm.conf
	assert_output --partial 'test is successful'
	sed 's/^pm = ondemand$/pm = sometimes/' php-fpm.conf > bad.conf
	run ! php-fpm8.2 -t -y bad.conf
}

@test "render nginx: a PHP route's locations: static/ first, then the writable root, then PHP" {
	c=$F/nginx-php-runner.conf
	# the chain: static, then the writable root, then the runner
	grep -qxF '		try_files $uri @wr:blog.example.com/;' "$c"
	grep -qxF '		try_files /$host$uri $uri @blog.example.com/;' "$c"
	# the link named once a request: the socket and the script from the same instance
	grep -qxF '		root "/var/lib/silverlining/nginx/at/0a";' "$c"
	grep -qxF '		fastcgi_pass "unix:$realpath_root/sock";' "$c"
	grep -qxF '		fastcgi_param SCRIPT_FILENAME "$realpath_root/app/index.php";' "$c"
	grep -qxF '		include /etc/nginx/fastcgi_params;' "$c"
	grep -qxF '		fastcgi_param HTTP_X_SILVERLINING_UPDATE "";' "$c"
	grep -qxF '		fastcgi_param SCRIPT_NAME "";' "$c"
	grep -qxF '		fastcgi_read_timeout 35s;' "$c"
	! grep -q proxy_pass "$c"
	# under a path: its SCRIPT_NAME, its timeout; disabled: 503 outside in each location
	c=$F/nginx-php-path.conf
	grep -qxF '		fastcgi_param SCRIPT_NAME "/wiki.d";' "$c"
	grep -qxF '		fastcgi_read_timeout 125s;' "$c"
	[ "$(grep -c 'if ($silverlining_outside)' "$c")" -eq 2 ]
	# php_root: the path taken off (its dot escaped), php_root's files or PHP
	c=$F/nginx-php-root.conf
	grep -qxF '		root "/var/lib/silverlining/nginx/at/0e/app/public/www";' "$c"
	grep -qxF '		rewrite "^/forum(/.*)$" "$1" break;' "$c"
	grep -qxF '		fastcgi_param SCRIPT_FILENAME "$realpath_root/app/public/www$uri";' "$c"
	grep -qxF '		fastcgi_param SCRIPT_NAME "/forum$uri";' "$c"
	grep -qxF '		rewrite "^/forum/?$" /index.php break;' "$c"
	grep -qxF '		rewrite "^/forum(/.*/)$" "$1index.php" break;' "$c"
	printf 'pages /p\nroute a.com /a.b a /s /st - 30 0\nphp a.com /a.b /l php_root w\n' > state
	run -0 "$T" nginx state
	assert_line '		rewrite "^/a\.b(/.*)$" "$1" break;'
	# over HTTPS: port 80 redirects, PHP on 443 with HSTS
	c=$F/nginx-php-https.conf
	[ "$(grep -c 'return 308 https://$host$request_uri;' "$c")" -eq 1 ]
	[ "$(grep -c fastcgi_pass "$c")" -eq 1 ]
	awk '/listen 443 ssl http2;/ { s = 1 } s && /fastcgi_pass/ { ok = 1 } END { exit !ok }' "$c"
	sed -n '/^	location @blog.example.com\/ {/,/^	}/p' "$c" | grep -q Strict-Transport-Security
}

@test "render nginx: PHP inputs nginx could misread are refused" {
	local bad
	for bad in "/l runner /abs.php" "/l runner ../up.php" "/l runner a/../b.php" \
		"/l runner a\$b.php" "/l runner a\"b.php" "/l php_root we\\\\b" "/l runner a\\x0ab.php" \
		"rel runner a.php" "/l:x runner a.php" "/l\$x php_root web"; do
		printf 'pages /p\nroute a.com / a /s /st - 30 0\nphp a.com / %s\n' "$bad" > state
		run -100 --separate-stderr "$T" nginx state
		[ -z "$output" ] || fail "rendered: $bad"
		[[ $stderr == *'render-test: fatal: a.com/: '* ]] || fail "$bad: $stderr"
	done
	# both a runner and a php_root: refused too (the state gives one; the route is set twice)
	printf 'pages /p\nroute a.com / a /s /st - 30 0\nphp a.com / /l runner a.php\n' > state
	run -0 "$T" nginx state
	printf 'pages /p\nroute a.com / a /s /st - 30 0\nphp a.com / /l runner a.php\nphp a.com / /l php_root web\n' > state
	run -100 --separate-stderr "$T" nginx state
	[ "$stderr" = "render-test: fatal: a.com/: a php route takes a runner or a php_root, one of them" ]
}

# fpm INST USER: a php-fpm master for ROOT/instances/INST from a rendered
# php-fpm.conf, in the foreground, CONFIG_TEST in its environment only;
# its pid added to FPM
fpm() {
	mkdir -p "$R/tmp/$1" "$R/logs" "$R/apps/${1%%.*}" "$R/sockets"
	chown "$2:$2" "$R/tmp/$1"
	printf '%s\n' "instance $1" "user $2" "dir $R/instances/$1" "socket $R/sockets/$1.sock" \
		"log $R/logs/$1.log" "slowlog $R/logs/$1.slow" "temp $R/tmp/$1" \
		"areas $R/apps/${1%%.*}" processes\ 2 timeout\ 30 memory_limit\ 64 > "$1.state"
	"$T" phpfpm "$1.state" > "$R/$1.conf"
	CONFIG_TEST="from the master of $1" php-fpm8.2 --nodaemonize --fpm-config "$R/$1.conf" &
	FPM="${FPM:-} $!"
	for _ in $(seq 100); do
		[ -S "$R/sockets/$1.sock" ] && return
		sleep 0.1
	done
	fail "php-fpm did not start: $(cat "$R/logs/$1.log")"
}

# link INST KEY: ROOT/nginx/at/KEY -> ../inst/INST, and INST's sock, static and app
link() {
	mkdir -p "$R/nginx/at" "$R/nginx/inst/$1"
	ln -sfn "$R/sockets/$1.sock" "$R/nginx/inst/$1/sock"
	ln -sfn "$R/instances/$1/static" "$R/nginx/inst/$1/static"
	ln -sfn "$R/instances/$1" "$R/nginx/inst/$1/app"
	ln -sfn "../inst/$1" "$R/nginx/at/$2"
}

@test "render nginx: served for real: php-fpm from a rendered php-fpm.conf behind PHP routes" {
	command -v nginx > /dev/null || skip "nginx is not installed (apt-get install nginx)"
	command -v php-fpm8.2 > /dev/null || skip "php-fpm8.2 is not installed (apt-get install php8.2-fpm)"
	[ "$(id -u)" -eq 0 ] || skip "php-fpm's workers take the app's user only as root"
	R=$PWD/root
	# the workers (www-data here) search down to the instances, as on a node
	d=$R
	mkdir -p "$R"
	while [ "$d" != / ]; do chmod o+x "$d"; d=$(dirname "$d"); done
	# a runner app at /, a php_root app at /shop
	b=$R/instances/blog.2024-05-01_001 s=$R/instances/shop.2024-05-01_001
	mkdir -p "$b/static" "$s/static" "$s/web/sub"
	echo 'body { }' > "$b/static/style.css"
	cat > "$b/index.php" <<-'EOF'
	<?php
	header('Content-Type: text/plain');
	echo "runner [", $_SERVER['SCRIPT_NAME'], "] ", $_SERVER['REQUEST_URI'], "\n";
	echo "env ", getenv('CONFIG_TEST'), " / ", $_SERVER['CONFIG_TEST'] ?? '-', "\n";
	echo "update [", $_SERVER['HTTP_X_SILVERLINING_UPDATE'] ?? 'unset', "] ",
		$_SERVER['HTTP_X_OTHER'] ?? 'unset', "\n";
	if (isset($_GET['read']))
		echo @file_get_contents($_GET['read']) === false ? "refused\n" : "read\n";
	if (isset($_GET['lift'])) {
		echo ini_set('open_basedir', '/') === false ? "not set\n" : "set\n";
		echo @file_get_contents('/etc/passwd') === false ? "refused\n" : "read\n";
	}
	EOF
	echo '<?php echo "shop index [", $_SERVER["SCRIPT_NAME"], "]\n";' > "$s/web/index.php"
	echo '<?php echo "hello [", $_SERVER["SCRIPT_NAME"], "]\n";' > "$s/web/hello.php"
	echo '<?php echo "sub index\n";' > "$s/web/sub/index.php"
	echo 'a plain file' > "$s/web/plain.txt"
	echo '<?php echo "outside php_root\n";' > "$s/outside.php"
	chmod -R o+rX "$R/instances"
	fpm blog.2024-05-01_001 www-data
	fpm shop.2024-05-01_001 www-data
	link blog.2024-05-01_001 0a
	link shop.2024-05-01_001 0b
	cat > state <<-EOF
	pages $R/pages
	challenge $R/ch
	route example.com / blog $R/nginx/at/0a/sock $R/nginx/at/0a/static - 30 0
	php example.com / $R/nginx/at/0a runner index.php
	route example.com /shop shop $R/nginx/at/0b/sock $R/nginx/at/0b/static - 30 0
	php example.com /shop $R/nginx/at/0b php_root web
	EOF
	"$T" nginx state > php.conf
	serve_tls "$PWD/php.conf" s80
	get() { curl -sS --unix-socket s80 "$@"; }
	# the runner: every dynamic request, SCRIPT_NAME "" at /; static/ first
	run -0 get -H 'X-Silverlining-Update: 1' -H 'X-Other: 2' http://example.com/any/where?x=1
	assert_line 'runner [] /any/where?x=1'
	# the update header a client sends never reaches the app (nginx sends it
	# empty, which PHP does not list), where another does
	assert_line 'update [unset] 2'
	# the master's environment reaches PHP (getenv and $_SERVER), clear_env no
	assert_line 'env from the master of blog.2024-05-01_001 / from the master of blog.2024-05-01_001'
	run -0 get http://example.com/style.css
	assert_output 'body { }'
	# php_root: its scripts, a directory's index.php, its other files; nothing outside
	run -0 get http://example.com/shop/hello.php
	assert_output 'hello [/shop/hello.php]'
	run -0 get http://example.com/shop
	assert_output 'shop index [/shop/index.php]'
	run -0 get http://example.com/shop/sub/
	assert_output 'sub index'
	run -0 get -D - http://example.com/shop/plain.txt
	assert_line 'a plain file'
	refute_output --partial X-Powered-By
	run -0 get -o /dev/null -w '%{http_code}\n' http://example.com/shop/outside.php
	assert_output 404
	run -0 get -o /dev/null -w '%{http_code}\n' http://example.com/shop/none.txt
	assert_output 404
	run -0 get -D - http://example.com/shop/hello.php
	refute_output --partial X-Powered-By
	# open_basedir: the instance yes, /etc/passwd no, and ini_set cannot lift it
	run -0 get "http://example.com/?read=$b/static/style.css"
	assert_line read
	run -0 get 'http://example.com/?read=/etc/passwd'
	assert_line refused
	run -0 get 'http://example.com/?lift=1'
	assert_line 'not set'
	assert_line refused
	refute_line read
}

@test "render nginx: balancers: their X-Forwarded-For alone trusted, loopback and balancers by the connection's address" {
	c=$F/nginx-balancers.conf
	[ "$(grep -c "^set_real_ip_from " "$c")" -eq 3 ]
	grep -qx 'set_real_ip_from 10.231.0.4;' "$c"
	grep -qx 'set_real_ip_from 192.0.2.10;' "$c"
	grep -qx 'real_ip_header X-Forwarded-For;' "$c"
	# a repeated balancer, or loopback, is one key of the map (nginx refuses a key twice)
	[ "$(grep -c "^	127.0.0.1 1;" "$c")" -eq 1 ]
	[ "$(grep -c "^	10.231.0.4 1;" "$c")" -eq 1 ]
	grep -qx 'real_ip_recursive off;' "$c"
	# no balancer, no trust: nothing a client sends moves $remote_addr
	for s in "$F"/nginx-*.conf; do
		[ "$s" = "$c" ] || [ "$s" = "$F/nginx-behind.conf" ] && continue
		! grep -q -e real_ip_header -e set_real_ip_from "$s" || fail "${s##*/} trusts a header"
	done
	# loopback (a disabled app, the health check) is the connection's, never a header's
	! grep -q 'map $remote_addr' "$c"
	grep -qx 'map $realip_remote_addr $silverlining_outside {' "$c"
	grep -qx 'map $realip_remote_addr $silverlining_balancer {' "$c"
	# the app is given $remote_addr alone: nothing a client wrote in front of it
	! grep -q proxy_add_x_forwarded_for "$F"/nginx-*.conf
	grep -qF 'proxy_set_header X-Forwarded-For $remote_addr;' "$c"
	grep -qF 'proxy_set_header X-Silverlining-Remote-Addr $remote_addr;' "$c"
	grep -qF 'fastcgi_param HTTP_X_FORWARDED_FOR $remote_addr;' "$c"
}

@test "render nginx: every server answers the balancer's health check /.silverlining/up" {
	for s in "$F"/nginx-*.conf; do
		servers=$(grep -c '^server {' "$s")
		ups=$(grep -c '^	location = /.silverlining/up {' "$s")
		rejects=$(grep -c 'ssl_reject_handshake on' "$s" || true)
		[ "$ups" -eq $((servers - rejects)) ] || fail "${s##*/}: $ups of $servers servers answer it"
	done
}

@test "render nginx: a balancer that is not an IPv4 address is refused" {
	for b in 10.0.0 10.0.0.256 010.0.0.1 ::1 'unix:' '10.0.0.1;' 'all' '10.0.0.1/8' ''; do
		{ echo "pages /p"; printf 'balancer %s\n' "${b:-\\x00}"; } > state
		run -100 --separate-stderr "$T" nginx state
		[[ "$stderr" == "render-test: fatal: invalid balancer address '"*"': want an IPv4 address such as 10.0.0.5" ]] ||
			fail "$b: $stderr"
		[ -z "$output" ]
	done
	{ echo "pages /p"; echo "balancer 10.0.0.1"; } > state
	run -0 "$T" nginx state
	assert_output --partial 'set_real_ip_from 10.0.0.1;'
}

@test "render nginx: behind a balancer, an https route is served on port 80 to the balancers alone, the app told https" {
	c=$F/nginx-behind.conf
	# TLS is the balancer's: no 443, no redirect, no HSTS, no certificate, whatever the route names
	! grep -q -e 443 -e 'return 308' -e Strict-Transport-Security -e ssl_ "$c"
	# the https routes: 421 to all but the balancers and loopback, X-Forwarded-Proto https
	[ "$(grep -c 'return 421;' "$c")" -eq 4 ]
	grep -B4 'return 421;' "$c" | grep -q 'if ($silverlining_balancer = 0) {'
	[ "$(grep -c 'proxy_set_header X-Forwarded-Proto https;' "$c")" -eq 1 ]
	grep -qF 'fastcgi_param HTTPS on;' "$c"
	grep -qF 'fastcgi_param HTTP_X_FORWARDED_PROTO https;' "$c"
	# the http route of the same host as on any node: anyone, the scheme it came by
	sed -n '/^	location @example.com\/ {/,/^	}/p' "$c" > plain
	grep -qF 'proxy_set_header X-Forwarded-Proto $scheme;' plain
	! grep -q 421 plain
	# the same routes with no balancer: a 443 server and redirects, nothing refused with 421
	grep -v '^balancer ' "$F/nginx-behind.state" > state
	"$T" nginx state > alone
	grep -q 'listen 443 ssl' alone
	grep -q 'return 308' alone
	! grep -q -e 'return 421' -e 'X-Forwarded-Proto https' -e 'fastcgi_param HTTPS on' alone
}
