#!/usr/bin/env bats
# Host keys as strictly as OpenSSH checks them, against real sshds on
# loopback: a host with a recorded key of any type is known, so a machine
# in the middle that offers a key of another type is a changed key, not a
# new host; @revoked keys are refused for every host; the recorded type is
# the one negotiated.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/sshd

MITM=2223	# offers only an ECDSA key of its own
MITM_RSA=2224	# offers only an RSA key of its own
RENEW=2225	# started and restarted by the tests themselves

setup_file() {
	transport_setup_file
	ssh-keygen -q -t ecdsa -N '' -f "$SSHD_DIR/mitm_ecdsa" </dev/null
	ssh-keygen -q -t rsa -b 2048 -N '' -f "$SSHD_DIR/mitm_rsa" </dev/null
	ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/other_ed25519" </dev/null
	sshd_other "$MITM" "$SSHD_DIR/mitm_ecdsa"
	# libssh2 1.10 verifies RSA host keys with ssh-rsa only
	SSHD_EXTRA='HostKeyAlgorithms +ssh-rsa' sshd_other "$MITM_RSA" "$SSHD_DIR/mitm_rsa"
}

teardown_file() {
	sshd_other_stop "$RENEW"
	sshd_other_stop "$MITM_RSA"
	sshd_other_stop "$MITM"
	sshd_stop
}

setup() {
	transport_setup
	client_key
	KH=$HOME/.ssh/known_hosts
}

fingerprint() {
	ssh-keygen -lf "$1" | cut -d' ' -f2
}

# record NAME KEYFILE.pub [MARKER]: a known_hosts line for NAME
record() {
	printf '%s%s %s\n' "${3:+$3 }" "$1" "$(cut -d' ' -f1,2 "$2")" >> "$KH"
}

@test "a host known by its ed25519 key that offers an ECDSA key has CHANGED, even with --accept-new" {
	printf '# the node\n' > "$KH"
	record "[127.0.0.1]:$MITM" "$SSHD_DIR/host_ed25519.pub"
	cp "$KH" "$BATS_TEST_TMPDIR/before"
	run -100 sl-remote "127.0.0.1:$MITM" echo in
	assert_output "sl-remote: fatal: the host key of root@127.0.0.1:$MITM has CHANGED: it is now ECDSA $(fingerprint "$SSHD_DIR/mitm_ecdsa.pub"), not the one in $KH:2. If the node was reinstalled, remove that line (ssh-keygen -R '[127.0.0.1]:$MITM'); otherwise someone may be intercepting the connection"
	run -100 sl-remote --accept-new "127.0.0.1:$MITM" echo in
	assert_output --partial "has CHANGED: it is now ECDSA"
	cmp "$KH" "$BATS_TEST_TMPDIR/before"
}

@test "a host known by its ed25519 key that offers an RSA key has CHANGED, even with --accept-new" {
	record "[127.0.0.1]:$MITM_RSA" "$SSHD_DIR/host_ed25519.pub"
	cp "$KH" "$BATS_TEST_TMPDIR/before"
	run -100 sl-remote --accept-new "127.0.0.1:$MITM_RSA" echo in
	assert_output --partial "sl-remote: fatal: the host key of root@127.0.0.1:$MITM_RSA has CHANGED: it is now RSA $(fingerprint "$SSHD_DIR/mitm_rsa.pub"), not the one in $KH:1."
	cmp "$KH" "$BATS_TEST_TMPDIR/before"
}

@test "any recorded key makes the host known: with ed25519 and ECDSA lines, another ECDSA key has CHANGED" {
	record "[127.0.0.1]:$MITM" "$SSHD_DIR/host_ed25519.pub"
	record "[127.0.0.1]:$MITM" "$SSHD_DIR/host_ecdsa.pub"
	run -100 sl-remote --accept-new "127.0.0.1:$MITM" true
	# the recorded key of the offered type is the one named
	assert_output --partial "has CHANGED: it is now ECDSA $(fingerprint "$SSHD_DIR/mitm_ecdsa.pub"), not the one in $KH:2."
}

@test "a node with ed25519 and ECDSA keys is reached by whichever one is recorded" {
	record "[127.0.0.1]:$SSHD_PORT" "$SSHD_DIR/host_ecdsa.pub"
	run -0 sl-remote "$NODE" echo ecdsa
	assert_output ecdsa
	: > "$KH"
	record "[127.0.0.1]:$SSHD_PORT" "$SSHD_DIR/host_ed25519.pub"
	run -0 sl-remote "$NODE" echo ed25519
	assert_output ed25519
	# an unknown ECDSA key beside the right one changes nothing
	record "[127.0.0.1]:$SSHD_PORT" "$SSHD_DIR/mitm_ecdsa.pub"
	run -0 sl-remote "$NODE" echo both
	assert_output both
}

@test "a @revoked key is refused, even with --accept-new and a line that trusts it" {
	record other.example "$SSHD_DIR/other_ed25519.pub"
	record '*' "$SSHD_DIR/host_ed25519.pub" @revoked
	cp "$KH" "$BATS_TEST_TMPDIR/before"
	run -100 sl-remote --accept-new "$NODE" true
	assert_output "sl-remote: fatal: the host key of root@127.0.0.1:$SSHD_PORT, ED25519 $(fingerprint "$SSHD_DIR/host_ed25519.pub"), is REVOKED in $KH:2: never use it. Someone may be intercepting the connection, or the key was stolen"
	cmp "$KH" "$BATS_TEST_TMPDIR/before"
	record "[127.0.0.1]:$SSHD_PORT" "$SSHD_DIR/host_ed25519.pub"
	run -100 sl-remote "$NODE" true
	assert_output --partial "is REVOKED in $KH:2"
}

@test "a @revoked line refuses its key for every host, whatever names it gives" {
	record "[127.0.0.1]:$SSHD_PORT" "$SSHD_DIR/host_ed25519.pub"
	record 'other.example,!127.0.0.1' "$SSHD_DIR/host_ed25519.pub" @revoked
	run -100 sl-remote "$NODE" true
	assert_output --partial "is REVOKED in $KH:2"
	# a revoked key that is not offered is no obstacle
	: > "$KH"
	record "[127.0.0.1]:$SSHD_PORT" "$SSHD_DIR/host_ed25519.pub"
	record '*' "$SSHD_DIR/mitm_ecdsa.pub" @revoked
	run -0 sl-remote "$NODE" echo fine
	assert_output fine
}

@test "a host vouched for by a @cert-authority line is known, and refused: certificates are not supported" {
	record '[127.0.0.1]:*' "$SSHD_DIR/other_ed25519.pub" @cert-authority
	cp "$KH" "$BATS_TEST_TMPDIR/before"
	run -100 sl-remote --accept-new "$NODE" true
	assert_output "sl-remote: fatal: root@127.0.0.1:$SSHD_PORT is known only through the @cert-authority line $KH:1, and host certificates are not supported: record the node's own key for it (its ED25519 key is $(fingerprint "$SSHD_DIR/host_ed25519.pub"))"
	cmp "$KH" "$BATS_TEST_TMPDIR/before"
}

@test "hashed, wildcard and listed names match; [host]:port is told apart from host" {
	record "[127.0.0.1]:$MITM" "$SSHD_DIR/host_ed25519.pub"
	ssh-keygen -q -H -f "$KH" 2>/dev/null
	run -0 grep -c '^|1|' "$KH"
	assert_output 1
	run -100 sl-remote --accept-new "127.0.0.1:$MITM" true
	assert_output --partial "has CHANGED: it is now ECDSA $(fingerprint "$SSHD_DIR/mitm_ecdsa.pub"), not the one in $KH:1."
	: > "$KH"
	record "other.example,[127.0.0.?]:$MITM" "$SSHD_DIR/host_ed25519.pub"
	run -100 sl-remote --accept-new "127.0.0.1:$MITM" true
	assert_output --partial "has CHANGED"
	: > "$KH"
	record "[127.0.0.*]:$MITM,!other.example" "$SSHD_DIR/host_ed25519.pub"
	run -100 sl-remote --accept-new "127.0.0.1:$MITM" true
	assert_output --partial "has CHANGED"
	# a negated name takes the line away from that host
	: > "$KH"
	record "[127.0.0.*]:$MITM,![127.0.0.1]:$MITM" "$SSHD_DIR/host_ed25519.pub"
	run -100 sl-remote "127.0.0.1:$MITM" true
	assert_output --partial "is not a known host"
	# the key recorded for 127.0.0.1 (port 22) is not that of port $MITM
	: > "$KH"
	record 127.0.0.1 "$SSHD_DIR/host_ed25519.pub"
	run -100 sl-remote "127.0.0.1:$MITM" true
	assert_output --partial "is not a known host"
	# the right key, hashed or in a list, is accepted
	: > "$KH"
	record "other.example,[127.0.0.1]:$SSHD_PORT" "$SSHD_DIR/host_ed25519.pub"
	record "[127.0.0.1]:$SSHD_PORT" "$SSHD_DIR/host_ecdsa.pub"
	ssh-keygen -q -H -f "$KH" 2>/dev/null
	run -0 sl-remote "$NODE" echo hashed
	assert_output hashed
}

@test "an unknown host with --accept-new is recorded once, then checked" {
	sshd_other "$RENEW" "$SSHD_DIR/host_ecdsa"
	run -100 sl-remote "127.0.0.1:$RENEW" true
	assert_output --partial "is not a known host; its ECDSA key is $(fingerprint "$SSHD_DIR/host_ecdsa.pub")."
	[ ! -e "$KH" ]
	run -0 sl-remote --accept-new "127.0.0.1:$RENEW" echo first
	assert_output first
	run -0 sl-remote --accept-new "127.0.0.1:$RENEW" echo second
	assert_output second
	run -0 grep -c "^\[127.0.0.1\]:$RENEW ecdsa-sha2-nistp256 $(cut -d' ' -f2 "$SSHD_DIR/host_ecdsa.pub")\$" "$KH"
	assert_output 1
	[ "$(wc -l < "$KH")" -eq 1 ]
	# the same address now offers another key, of another type
	sshd_other_stop "$RENEW"
	sshd_other "$RENEW" "$SSHD_DIR/other_ed25519"
	cp "$KH" "$BATS_TEST_TMPDIR/before"
	run -100 sl-remote --accept-new "127.0.0.1:$RENEW" true
	assert_output --partial "has CHANGED: it is now ED25519 $(fingerprint "$SSHD_DIR/other_ed25519.pub"), not the one in $KH:1."
	cmp "$KH" "$BATS_TEST_TMPDIR/before"
	sshd_other_stop "$RENEW"
}

@test "a recorded line with a key of a type not supported here still makes the host known" {
	printf '[127.0.0.1]:%s sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t\n' "$SSHD_PORT" > "$KH"
	run -100 sl-remote --accept-new "$NODE" true
	assert_output --partial "has CHANGED: it is now ED25519"
	[ "$(wc -l < "$KH")" -eq 1 ]
}

@test "a known_hosts line without a newline at the end is not joined to the recorded one" {
	printf 'other.example %s' "$(cut -d' ' -f1,2 "$SSHD_DIR/other_ed25519.pub")" > "$KH"
	run -0 sl-remote --accept-new "$NODE" echo in
	assert_output in
	run -0 sl-remote "$NODE" echo again
	assert_output again
	[ "$(wc -l < "$KH")" -eq 2 ]
}
