#!/usr/bin/env bats
# HTTPS on a provisioned local node (issue 15): certificates from an ACME
# CA (the lab's pebble, tests/lib/acme.bash) through the node's uacme and
# sl-cert, and from the user (silver install-cert); what nginx serves,
# renewal under load, failed issuance, and where the keys may be.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/lab
load ../lib/acme

setup_file() {
	lab_setup_file
	provisioned_node_up https
	acme_up
	acme_trust_node
	export PEBBLE_ROOT=$BATS_FILE_TMPDIR/pebble-root.pem
	acme_root "$PEBBLE_ROOT"
	# the names pebble's DNS knows, all the node's; ghost.test it does not know
	for h in hello.test late.test key.test; do
		acme_name "$h" "$NODE_IP"
	done
	# hello, with a page that shows what the app is told of the scheme
	export HELLO=$BATS_FILE_TMPDIR/hello
	cp -r "$TOP/examples/hello" "$HELLO"
	cat >> "$HELLO/main.py" <<-'EOF'


	def scheme(environ):
	    return "200 OK", "text/plain", (
	        f"wsgi.url_scheme={environ.get('wsgi.url_scheme')}\n"
	        f"HTTPS={environ.get('HTTPS', '')}\n")


	ROUTES["/_scheme"] = scheme
	EOF
}

teardown_file() {
	acme_down
	sl-node destroy https 3>&- || true
}

setup() {
	lab_setup
}

up() { silver update --node "$NODE" --acme-directory "$ACME_URL" "$@"; }
# https_get HOST [PATH] [CURL ARGS...]: HOST's page over HTTPS, its chain
# checked against pebble's root, HOST resolved to the node
https_get() {
	local host=$1 path=${2:-/}
	shift 2 2>/dev/null || shift
	curl -sS --cacert "$PEBBLE_ROOT" --resolve "$host:443:$NODE_IP" "$@" "https://$host$path"
}
http_get() { curl -sS -H "Host: $1" "http://$NODE_IP${2:-/}"; }
# served HOST: the serial and SHA-256 fingerprint of the certificate the
# node presents for HOST (SNI)
served() {
	openssl s_client -connect "$NODE_IP:443" -servername "$1" < /dev/null 2>/dev/null |
		openssl x509 -noout -serial -fingerprint -sha256
}

# The lab itself, without silverlining's ACME code: pebble is reachable from
# the node, trusted through its system store, resolves a name to the node and
# validates HTTP-01 on its port 80 (a server of the test's own, removed after)
@test "the lab: uacme on the node, with a hook of the test's own, gets a certificate from pebble" {
	acme_name lab.test "$NODE_IP"
	on sh -c 'mkdir -p /srv/lab/www/.well-known/acme-challenge
		printf "server { listen 80; server_name lab.test; root /srv/lab/www; }\n" > /etc/nginx/conf.d/zz-lab.conf
		nginx -t -q && systemctl reload nginx
		cat > /srv/lab/hook <<-EOF
		#!/bin/sh
		# METHOD TYPE IDENT TOKEN AUTH: HTTP-01 only
		[ "\$2" = http-01 ] || exit 1
		f=/srv/lab/www/.well-known/acme-challenge/\$4
		case \$1 in begin) printf %s "\$5" > "\$f" ;; *) rm -f "\$f" ;; esac
		EOF
		chmod 755 /srv/lab/hook'
	run -0 on uacme -y -c /srv/lab/uacme -a "$ACME_URL" new
	run -0 on uacme -c /srv/lab/uacme -a "$ACME_URL" -t EC -h /srv/lab/hook issue lab.test
	on cat /srv/lab/uacme/lab.test/cert.pem > "$BATS_TEST_TMPDIR/lab.pem"
	run -0 openssl verify -CAfile "$PEBBLE_ROOT" -untrusted "$BATS_TEST_TMPDIR/lab.pem" "$BATS_TEST_TMPDIR/lab.pem"
	run -0 openssl x509 -in "$BATS_TEST_TMPDIR/lab.pem" -noout -ext subjectAltName
	assert_line --partial "DNS:lab.test"
	on sh -c 'rm -rf /srv/lab /etc/nginx/conf.d/zz-lab.conf && systemctl reload nginx'
}

@test "a deploy to https://HOST gets a certificate from the CA: the page answers over HTTPS, its chain verified" {
	orders=$(acme_orders)
	run -0 --separate-stderr up "$HELLO" https://hello.test
	assert_line --index 1 "https://hello.test"
	[ "$(acme_orders)" -eq $((orders + 1)) ] || fail "pebble got $(($(acme_orders) - orders)) orders: $stderr"
	run -0 https_get hello.test /
	assert_output --partial "<h1>Hello from silverlining</h1>"
	# the whole chain, to pebble's root, for the name asked
	run -0 openssl s_client -connect "$NODE_IP:443" -servername hello.test \
		-CAfile "$PEBBLE_ROOT" -verify_return_error -verify_hostname hello.test < /dev/null
	assert_output --partial "Verify return code: 0 (ok)"
	# an EC P-256 key, TLS 1.2 and 1.3 only
	run -0 openssl s_client -connect "$NODE_IP:443" -servername hello.test < /dev/null
	assert_output --regexp "(Server public key is 256 bit|Peer signature type: ECDSA)"
	# a client that offers TLS 1.1 at most (and allows it: SECLEVEL=0) is refused
	run -1 openssl s_client -connect "$NODE_IP:443" -servername hello.test -tls1_1 \
		-cipher 'DEFAULT:@SECLEVEL=0' < /dev/null
	# HTTP/2 by ALPN
	run -0 https_get hello.test / -o /dev/null -w '%{http_version}'
	assert_output 2
	# a TLS 1.2 session resumed from nginx's shared session cache (session
	# tickets are off: their keys would never rotate)
	sess=$BATS_TEST_TMPDIR/sess
	openssl s_client -connect "$NODE_IP:443" -servername hello.test -tls1_2 \
		-sess_out "$sess" < /dev/null > /dev/null 2>&1
	run -0 openssl s_client -connect "$NODE_IP:443" -servername hello.test -tls1_2 \
		-sess_in "$sess" < /dev/null
	assert_output --partial "Reused, TLSv1.2"
}

@test "the app is told the request came over HTTPS; a client's X-Forwarded-Proto is not believed" {
	run -0 https_get hello.test /_scheme -H 'X-Forwarded-Proto: http'
	assert_output "wsgi.url_scheme=https
HTTPS=on"
	# a plain-HTTP location of the same app
	run -0 up "$HELLO" plain.test
	assert_line "http://plain.test"
	run -0 curl -sS -H 'Host: plain.test' -H 'X-Forwarded-Proto: https' "http://$NODE_IP/_scheme"
	assert_output "wsgi.url_scheme=http
HTTPS="
}

@test "HTTP answers an https location with 308 to https, same path and query; the ACME challenges stay on HTTP" {
	run -0 curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: hello.test' \
		"http://$NODE_IP/some/path?q=1&r=2"
	assert_output "308 https://hello.test/some/path?q=1&r=2"
	run -0 curl -sS -o /dev/null -w '%{http_code}' -H 'Host: hello.test' \
		"http://$NODE_IP/.well-known/acme-challenge/no-such-token"
	assert_output 404
	# a name the node has no certificate for is refused in the handshake
	run curl -s -o /dev/null -w '%{http_code}' -k --resolve "nobody.test:443:$NODE_IP" https://nobody.test/
	assert_output 000
	[ "$status" -ne 0 ]
}

@test "a second deploy reuses the certificate: same serial and fingerprint, and the CA is asked for nothing" {
	before=$(served hello.test)
	[ -n "$before" ] || fail "no certificate served for hello.test"
	orders=$(acme_orders)
	hello_says "Hello, version two"
	run -0 up --hsts "$HELLO" https://hello.test
	run -0 https_get hello.test /
	assert_output --partial "<h1>Hello, version two</h1>"
	[ "$(served hello.test)" = "$before" ] || fail "the certificate changed: $before -> $(served hello.test)"
	[ "$(acme_orders)" -eq "$orders" ] || fail "pebble got $(($(acme_orders) - orders)) new orders"
	# HSTS now, and only over HTTPS
	run -0 https_get hello.test / -o /dev/null -D -
	assert_line --regexp '^[Ss]trict-[Tt]ransport-[Ss]ecurity: max-age=31536000'
	run -0 curl -sS -o /dev/null -D - -H 'Host: hello.test' "http://$NODE_IP/"
	refute_line --regexp '^[Ss]trict-[Tt]ransport-[Ss]ecurity'
}

@test "list-certs, query and sl-cert status show the certificate; a renewal with nothing due (by hand, or the timer's unit) asks the CA nothing" {
	run -0 silver list-certs "$NODE"
	assert_line --regexp '^acme-hello\.test acme expires=[0-9]{4}-[0-9]{2}-[0-9]{2} hello\.test$'
	run -0 silver query "$NODE"
	assert_line --regexp '^tls hello\.test acme-hello\.test acme expires=[0-9]{4}-[0-9]{2}-[0-9]{2} renewal=ok$'
	run -0 on sl-cert status hello.test
	assert_output --regexp '^tls hello\.test acme-hello\.test acme expires=[0-9]{4}-[0-9]{2}-[0-9]{2} renewal=ok$'
	orders=$(acme_orders)
	before=$(served hello.test)
	run -0 silver renew-certs "$NODE"
	run -0 on sl-cert renew
	# and as the timer runs it: the unit, to its end (oneshot)
	run -0 on systemctl start silverlining-renew.service
	run -0 on systemctl show -P Result silverlining-renew.service
	assert_output success
	[ "$(acme_orders)" -eq "$orders" ] || fail "pebble got $(($(acme_orders) - orders)) new orders"
	[ "$(served hello.test)" = "$before" ]
}

# load FILE STOPFILE: HTTPS requests to hello.test one after another until
# STOPFILE exists, each one's status (000: no answer) a line of FILE
load_loop() {
	while [ ! -e "$2" ]; do
		curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 --cacert "$PEBBLE_ROOT" \
			--resolve "hello.test:443:$NODE_IP" https://hello.test/ >> "$1"
	done
}

# wait_lines FILE N: until FILE has at least N lines (bounded by tries)
wait_lines() {
	local i
	for i in $(seq 600); do
		[ "$(wc -l < "$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
		sleep 0.05
	done
	fail "$1 did not reach $2 lines"
}

@test "a forced renewal swaps the certificate (a new serial) with no failed request under a steady HTTPS load" {
	before=$(served hello.test)
	orders=$(acme_orders)
	codes=$BATS_TEST_TMPDIR/codes stop=$BATS_TEST_TMPDIR/stop
	: > "$codes"
	load_loop "$codes" "$stop" 3>&- &
	loader=$!
	wait_lines "$codes" 20
	seconds run -0 silver renew-certs --force "$NODE" hello.test
	renewal=$SECONDS_TAKEN
	renewed=$(wc -l < "$codes")
	wait_lines "$codes" $((renewed + 50))
	touch "$stop"
	wait "$loader"
	total=$(wc -l < "$codes")
	failed=$(grep -cvx 200 "$codes" || true)
	echo "# forced renewal under load: $total HTTPS requests, $failed failed; silver renew-certs --force took $renewal s" >&3
	[ "$failed" -eq 0 ] || fail "$failed of $total requests failed: $(sort "$codes" | uniq -c)"
	[ "$(acme_orders)" -eq $((orders + 1)) ] || fail "pebble got $(($(acme_orders) - orders)) orders"
	after=$(served hello.test)
	[ "$(sed -n 's/^serial=//p' <<<"$after")" != "$(sed -n 's/^serial=//p' <<<"$before")" ] ||
		fail "the same certificate is served: $after"
	run -0 https_get hello.test /
	assert_output --partial "<h1>Hello, version two</h1>"
}

@test "an issuance the CA refuses (a name its DNS does not know) stops the deploy with 100; the old instance keeps serving" {
	hello_says "Ghost, version one"
	run -0 up "$HELLO" ghost.test
	hello_says "Ghost, version two"
	orders=$(acme_orders)
	run -100 up "$HELLO" https://ghost.test
	assert_output --partial "ghost.test"
	[ "$(acme_orders)" -eq $((orders + 1)) ] || fail "pebble was not asked"
	run -0 http_get ghost.test /
	assert_output --partial "<h1>Ghost, version one</h1>"
	# still a plain-HTTP location: no redirect to an HTTPS it cannot serve
	run -0 curl -sS -o /dev/null -w '%{http_code}' -H 'Host: ghost.test' "http://$NODE_IP/"
	assert_output 200
	# every other host is as it was
	run -0 https_get hello.test /
	assert_output --partial "<h1>Hello, version two</h1>"
}

# a CA of the test's own, and a certificate it issued for HOST (and KEY's key)
user_cert() {
	local d=$BATS_FILE_TMPDIR/userca host=$1
	mkdir -p "$d"
	[ -s "$d/ca.pem" ] ||
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
			-keyout "$d/ca.key" -out "$d/ca.pem" -subj "/CN=the user's CA" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/$host.key" -out "$d/$host.csr" -subj "/CN=$host" 2>/dev/null
	printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$host" > "$d/$host.ext"
	openssl x509 -req -in "$d/$host.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
		-days 20 -extfile "$d/$host.ext" -out "$d/$host.pem" 2>/dev/null
}

@test "a certificate the user brings (silver install-cert) is served for its host, verified with the user's CA; no ACME" {
	user_cert user.test
	d=$BATS_FILE_TMPDIR/userca
	run -0 --separate-stderr silver install-cert "$NODE" "$d/user.test.pem" "$d/user.test.key"
	assert_output --regexp '^user-user\.test user\.test expires=[0-9]{4}-[0-9]{2}-[0-9]{2}$'
	orders=$(acme_orders)
	run -0 up "$HELLO" https://user.test
	[ "$(acme_orders)" -eq "$orders" ] || fail "pebble was asked for user.test"
	run -0 curl -sS --cacert "$d/ca.pem" --resolve "user.test:443:$NODE_IP" https://user.test/
	assert_output --partial "<h1>Ghost, version two</h1>"
	run -0 silver list-certs "$NODE"
	assert_line --regexp '^user-user\.test user expires=[0-9]{4}-[0-9]{2}-[0-9]{2} user\.test$'
	# a key that is not the certificate's is refused, and nothing changes
	user_cert other.test
	run -100 silver install-cert "$NODE" "$d/user.test.pem" "$d/other.test.key"
	run -0 curl -sS --cacert "$d/ca.pem" --resolve "user.test:443:$NODE_IP" https://user.test/
}

@test "https://* and a wildcard without a certificate are refused (100) and say what to do" {
	run -100 up "$HELLO" 'https://*'
	assert_output --partial "give https://HOST for each host"
	run -100 up "$HELLO" https://.wild.test
	assert_output --partial "silver install-cert"
}

@test "keys: 0600 root, in directories root's alone; no process's argv holds key material during an install, an issuance and a renewal" {
	argv_sampling
	user_cert key-user.test
	d=$BATS_FILE_TMPDIR/userca
	run -0 silver install-cert "$NODE" "$d/key-user.test.pem" "$d/key-user.test.key"
	run -0 up "$HELLO" https://key.test
	run -0 silver renew-certs --force "$NODE" key.test
	argv_sampled uacme
	run -1 on grep -c "PRIVATE KEY" /root/argv.log
	# every key's base64 lines, the node's and the user's, in no argv
	on sh -c 'for f in /var/lib/silverlining/tls/certs/*.pem /var/lib/silverlining/acme/accounts/*/private/*.pem \
		/var/lib/silverlining/acme/accounts/*/private/*/key.pem; do
			sed -n "/PRIVATE KEY-----$/,/-----END/p" "$f" 2>/dev/null | grep -v -- -----
		done > /root/keylines; test -s /root/keylines'
	sed -n '/PRIVATE KEY-----$/,/-----END/p' "$d/key-user.test.key" | grep -v -- ----- |
		on sh -c 'cat >> /root/keylines'
	run -1 on grep -c -F -f /root/keylines /root/argv.log
	# the store: root's alone
	run -0 on sh -c 'cd /var/lib/silverlining
		stat -c "%a %U" tls; find tls -type d -printf "%m %u\n" | sort -u
		find tls -type f -printf "%m %u\n" | sort -u
		stat -c "%a %U" acme/accounts
		find acme/accounts -type f -name "*.pem" -path "*private*" -perm /077 -printf "%p open\n"'
	assert_output "700 root
700 root
600 root
700 root"
}

@test "the CA unreachable: a deploy to https stops with 111 and the old instance serves; a failed renewal leaves the old certificate and is told" {
	hello_says "Late, version one"
	run -0 up "$HELLO" late.test
	before=$(served hello.test)
	acme_stop
	hello_says "Late, version two"
	run -111 up "$HELLO" https://late.test
	assert_output --partial "late.test"
	run -0 http_get late.test /
	assert_output --partial "<h1>Late, version one</h1>"
	run -111 silver renew-certs --force "$NODE" hello.test
	[ "$(served hello.test)" = "$before" ] || fail "the certificate changed"
	run -0 https_get hello.test /
	assert_output --partial "<h1>Hello, version two</h1>"
	run -0 silver query "$NODE"
	assert_line --regexp '^tls hello\.test acme-hello\.test acme expires=[0-9-]{10} renewal=failed\(1\): .+'
	acme_start
}
