#!/usr/bin/env bats
# share/silverlining/python/silverlining_runner.py: what the app sees of the
# request nginx forwards (the scheme, the location's prefix, the update mark).
bats_require_minimum_version 1.5.0

load ../lib/common

setup() {
	common_setup
	cd "$BATS_TEST_TMPDIR" || exit
	mkdir app
	cat > app/runner.py <<-'PY'
	def application(environ, start_response):
	    start_response("200 OK", [("Content-Type", "text/plain")])
	    keys = ("wsgi.url_scheme", "HTTPS", "HTTP_X_FORWARDED_PROTO", "SCRIPT_NAME", "PATH_INFO")
	    return [" ".join("%s=%s" % (k, environ.get(k, "-")) for k in keys).encode()]
	PY
}

# request HEADER=VALUE...: the app's answer to a request with those environ keys
request() {
	python3 - "$TOP/share/silverlining/python" "$PWD/app" "$@" <<-'PY'
	import sys
	sys.path.insert(0, sys.argv[1])
	from silverlining_runner import load
	app = load(sys.argv[2], "runner.py")
	environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/wiki/a", "wsgi.url_scheme": "http"}
	for kv in sys.argv[3:]:
	    k, _, v = kv.partition("=")
	    environ[k] = v
	out = b"".join(app(environ, lambda status, headers: None))
	print(out.decode())
	PY
}

@test "runner: behind HTTPS (nginx's X-Forwarded-Proto: https) the app sees https and HTTPS=on" {
	run -0 request HTTP_X_FORWARDED_PROTO=https HTTP_X_SILVERLINING_SCRIPT_NAME=/wiki
	assert_output "wsgi.url_scheme=https HTTPS=on HTTP_X_FORWARDED_PROTO=https SCRIPT_NAME=/wiki PATH_INFO=/a"
}

@test "runner: over HTTP the app sees http and no HTTPS, whatever else claimed it" {
	run -0 request HTTP_X_FORWARDED_PROTO=http
	assert_output "wsgi.url_scheme=http HTTPS=- HTTP_X_FORWARDED_PROTO=http SCRIPT_NAME=- PATH_INFO=/wiki/a"
	run -0 request HTTPS=on wsgi.url_scheme=https
	assert_output "wsgi.url_scheme=http HTTPS=- HTTP_X_FORWARDED_PROTO=- SCRIPT_NAME=- PATH_INFO=/wiki/a"
	run -0 request HTTP_X_FORWARDED_PROTO=HTTPS
	assert_output --partial "wsgi.url_scheme=http HTTPS=-"
}

@test "runner: REMOTE_ADDR is nginx's X-Silverlining-Remote-Addr, which the app never sees itself" {
	cat > app/runner.py <<-'PY'
	def application(environ, start_response):
	    start_response("200 OK", [("Content-Type", "text/plain")])
	    keys = ("REMOTE_ADDR", "HTTP_X_FORWARDED_FOR", "HTTP_X_SILVERLINING_REMOTE_ADDR")
	    return [" ".join("%s=%s" % (k, environ.get(k, "-")) for k in keys).encode()]
	PY
	run -0 request REMOTE_ADDR=0.0.0.0 HTTP_X_FORWARDED_FOR=203.0.113.9 HTTP_X_SILVERLINING_REMOTE_ADDR=203.0.113.9
	assert_output "REMOTE_ADDR=203.0.113.9 HTTP_X_FORWARDED_FOR=203.0.113.9 HTTP_X_SILVERLINING_REMOTE_ADDR=-"
	# no header (the gate's own request to the socket): REMOTE_ADDR as uWSGI gave it
	run -0 request REMOTE_ADDR=127.0.0.1
	assert_output "REMOTE_ADDR=127.0.0.1 HTTP_X_FORWARDED_FOR=- HTTP_X_SILVERLINING_REMOTE_ADDR=-"
}
