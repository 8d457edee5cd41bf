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
	[ "$n" -ge 9 ]
}

@test "render uwsgi: threads > 1 enables threads, threads = 1 does not" {
	golden uwsgi "$F/uwsgi-threads.state" "$F/uwsgi-threads.ini"
	golden uwsgi "$F/uwsgi-single.state" "$F/uwsgi-single.ini"
	grep -qx 'enable-threads = true' "$F/uwsgi-threads.ini"
	! grep -q enable-threads "$F/uwsgi-single.ini"
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
		# every server answers it, and the header carries it
		[ "$(grep -c "return 200 \"$g\\\\n\";" "$c")" -eq "$(grep -c '^server {' "$c")" ]
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

@test "render nginx: nginx itself accepts every golden file" {
	command -v nginx > /dev/null || skip "nginx is not installed (apt-get install nginx)"
	# the harness can fail: a text nginx refuses is refused
	sed 's/server_name/server_nam/' "$F/nginx-root.conf" > bad.conf
	run ! nginx_t "$PWD/bad.conf"
	for c in "$F"/nginx-*.conf; do
		run nginx_t "$c"
		[ "$status" -eq 0 ] || fail "nginx -t refused ${c##*/}: $output"
	done
}
