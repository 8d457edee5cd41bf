#!/usr/bin/env bats
# libsl/acme and sl-cert against a real ACME CA: Debian's pebble and
# pebble-challtestsrv on 127.0.0.1 in the unit tier's network namespace
# (tests/lib/acme.bash), HTTP-01 answered by an nginx of the test's own on
# 127.0.0.1:80 from ROOT/acme/challenge. uacme (libcurl with GnuTLS, no
# variable for a CA bundle) trusts pebble's listener through the system
# store, here /etc/ssl/certs bind-mounted over in a mount namespace of the
# call's own: `trusted sl-cert ...`.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/acme

setup_file() {
	[ "${SL_TEST_NETNS:-0}" = 1 ] || skip "needs tests/run's network namespace (root)"
	command -v pebble uacme nginx >/dev/null || skip "needs pebble, uacme and nginx"
	ACME_DIR=$BATS_FILE_TMPDIR/acme ACME_IP=127.0.0.1
	ACME_URL=https://$ACME_IP:$ACME_PORT/dir ACME_CA=$ACME_DIR/ca.pem ACME_LOG=$ACME_DIR/pebble.log
	export ACME_DIR ACME_IP ACME_URL ACME_CA ACME_LOG
	mkdir -p "$ACME_DIR/trust"
	_acme_ca "$ACME_DIR" "$ACME_IP"
	cp "$ACME_CA" "$ACME_DIR/trust/ca-certificates.crt"
	_acme_spawn "$ACME_DIR/challtestsrv.pid" "$ACME_DIR/challtestsrv.log" \
		pebble-challtestsrv -dns01 "$ACME_IP:$ACME_DNS_PORT" \
		-management "$ACME_IP:$ACME_DNS_MGMT_PORT" \
		-http01 "" -https01 "" -tlsalpn01 "" -defaultIPv4 "" -defaultIPv6 ""
	_acme_wait_port "http://$ACME_IP:$ACME_DNS_MGMT_PORT/"
	acme_start
	export SL_ROOT=$BATS_FILE_TMPDIR/root
	mkdir -p "$SL_ROOT/acme/challenge"
	cat > "$BATS_FILE_TMPDIR/nginx.conf" <<-EOF
	user root;
	pid $BATS_FILE_TMPDIR/nginx.pid;
	error_log $BATS_FILE_TMPDIR/nginx.err;
	events {}
	http {
		access_log $BATS_FILE_TMPDIR/access.log;
		server {
			listen 127.0.0.1:80;
			location ^~ /.well-known/acme-challenge/ {
				alias $SL_ROOT/acme/challenge/;
			}
		}
	}
	EOF
	# the HTTPS server, started once the certificate is there
	cat > "$BATS_FILE_TMPDIR/nginx443.conf" <<-EOF
	user root;
	pid $BATS_FILE_TMPDIR/nginx443.pid;
	error_log $BATS_FILE_TMPDIR/nginx.err;
	events {}
	http {
		access_log $BATS_FILE_TMPDIR/access.log;
		server {
			listen 127.0.0.1:443 ssl;
			ssl_certificate $SL_ROOT/tls/live/a.test.pem;
			ssl_certificate_key $SL_ROOT/tls/live/a.test.pem;
			return 200 "served\n";
		}
	}
	EOF
	nginx_up nginx http://127.0.0.1/
	acme_name a.test 127.0.0.1
}

# nginx_up NAME URL [CURL ARGS]: nginx on BATS_FILE_TMPDIR/NAME.conf, in the
# foreground of a process of its own (stopped by PID), until URL answers
nginx_up() {
	_acme_spawn "$BATS_FILE_TMPDIR/$1.pid" "$BATS_FILE_TMPDIR/$1.log" \
		nginx -g 'daemon off;' -c "$BATS_FILE_TMPDIR/$1.conf"
	_acme_wait_port "${@:2}"
}

teardown_file() {
	for p in nginx nginx443; do
		[ -s "$BATS_FILE_TMPDIR/$p.pid" ] && _acme_kill "$BATS_FILE_TMPDIR/$p.pid"
	done
	acme_down
}

setup() {
	common_setup
	export SL_ROOT=$BATS_FILE_TMPDIR/root
}

# trusted COMMAND...: COMMAND with the system's CA store holding the test CA only
trusted() {
	unshare --mount sh -c 'mount --bind "$1" /etc/ssl/certs && shift && exec "$@"' \
		sh "$ACME_DIR/trust" "$@"
}

@test "issue: a real issuance from pebble over HTTP-01, stored 0600, served and verified with pebble's root" {
	run -0 trusted sl-cert issue --acme-directory "$ACME_URL" --acme-email ops@example.com a.test
	assert_output --partial "asking $ACME_URL for a certificate for a.test"
	f=$SL_ROOT/tls/certs/acme-a.test.pem
	[ "$(stat -c %a "$f")" = 600 ]
	[ "$(readlink "$SL_ROOT/tls/live/a.test.pem")" = ../certs/acme-a.test.pem ]
	[ "$(stat -c %a "$SL_ROOT/acme/accounts")" = 700 ]
	grep -qx "directory = $ACME_URL" "$SL_ROOT/acme/config"
	grep -qx "email = ops@example.com" "$SL_ROOT/acme/config"
	# the challenge answer is gone once done
	[ -z "$(ls "$SL_ROOT/acme/challenge")" ]
	run -0 sl-cert list
	assert_output --regexp '^acme-a\.test acme expires=[0-9-]{10} a\.test$'
	nginx_up nginx443 https://127.0.0.1/ -k
	acme_root "$BATS_TEST_TMPDIR/root.pem"
	run -0 curl -sS --cacert "$BATS_TEST_TMPDIR/root.pem" --resolve a.test:443:127.0.0.1 https://a.test/
	assert_output served
}

@test "issue: a current certificate is reused, nothing asked of the CA" {
	orders=$(acme_orders)
	run -0 trusted sl-cert issue a.test
	refute_output --partial asking
	[ "$(acme_orders)" = "$orders" ]
}

@test "issue --force: a new certificate replaces the old one, one new order" {
	before=$(openssl x509 -in "$SL_ROOT/tls/certs/acme-a.test.pem" -noout -fingerprint)
	orders=$(acme_orders)
	run -0 trusted sl-cert issue --force a.test
	[ "$(acme_orders)" = $((orders + 1)) ]
	after=$(openssl x509 -in "$SL_ROOT/tls/certs/acme-a.test.pem" -noout -fingerprint)
	[ "$before" != "$after" ]
}

@test "issue: a name pebble's DNS does not know is refused (100) with pebble's words, recorded in the status" {
	run -100 trusted sl-cert issue unknown.test
	assert_output --regexp 'sl-cert: fatal: unknown\.test: the CA refused it: connection: .*could not resolve'
	[ ! -e "$SL_ROOT/tls/certs/acme-unknown.test.pem" ]
	run -0 sl-cert status unknown.test
	assert_output --regexp '^tls unknown\.test none renewal=failed\(1\): unknown\.test: the CA refused it'
}

@test "renew: only hosts routed over HTTPS are renewed; a host whose last https location went is not" {
	acme_name c.test 127.0.0.1
	run -0 trusted sl-cert issue c.test
	a=$(openssl x509 -in "$SL_ROOT/tls/certs/acme-a.test.pem" -noout -fingerprint)
	b=$(openssl x509 -in "$SL_ROOT/tls/certs/acme-c.test.pem" -noout -fingerprint)
	# a.test is served over HTTPS; c.test only over plain HTTP now
	printf '%s\n' "a.test / blog.2024-01-01_001 https" "c.test / blog.2024-01-01_001" > "$SL_ROOT/routes"
	orders=$(acme_orders)
	run trusted sl-cert renew --force
	[ "$(acme_orders)" = $((orders + 1)) ] || fail "$(($(acme_orders) - orders)) orders: $output"
	assert_output --partial "for a certificate for a.test"
	refute_output --partial "c.test"
	[ "$(openssl x509 -in "$SL_ROOT/tls/certs/acme-a.test.pem" -noout -fingerprint)" != "$a" ] || fail "$output"
	[ "$(openssl x509 -in "$SL_ROOT/tls/certs/acme-c.test.pem" -noout -fingerprint)" = "$b" ]
	# no route at all: nothing is renewed, nothing asked
	rm "$SL_ROOT/routes"
	orders=$(acme_orders)
	run -0 trusted sl-cert renew --force
	[ "$(acme_orders)" = "$orders" ]
}

@test "issue: pebble stopped is 111 for a new host; a renewal that fails keeps the old certificate (111, recorded)" {
	acme_stop
	acme_name b.test 127.0.0.1
	run -111 trusted sl-cert issue b.test
	assert_output --partial 'sl-cert: fatal: b.test: no certificate from the CA: '
	assert_output --partial "failed to fetch directory at $ACME_URL"
	before=$(openssl x509 -in "$SL_ROOT/tls/certs/acme-a.test.pem" -noout -fingerprint)
	run -111 trusted sl-cert issue --force a.test
	assert_output --partial 'keeps serving a.test'
	[ "$(openssl x509 -in "$SL_ROOT/tls/certs/acme-a.test.pem" -noout -fingerprint)" = "$before" ]
	run -0 sl-cert status a.test
	assert_output --regexp '^tls a\.test acme-a\.test acme expires=[0-9-]{10} renewal=failed\(1\): '
	acme_start
}
