#!/usr/bin/env bats
# The SSH layer against a real sshd on loopback: keys, host keys, exit
# codes, streams, timeouts. sl-remote is the thinnest tool on top of it.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/sshd

setup_file() {
	transport_setup_file
}

teardown_file() {
	sshd_stop
}

setup() {
	transport_setup
}

fingerprint() {
	ssh-keygen -lf "$SSHD_DIR/host_$1.pub" | cut -d' ' -f2
}

@test "an ed25519 user key logs in; output, exit status and arguments pass through" {
	known_host; client_key ed25519
	run -0 sl-remote "$NODE" printf '%s|' 'two words' '$(not run)' "it's"
	assert_output 'two words|$(not run)|it'"'"'s|'
}

@test "an ECDSA user key logs in too" {
	known_host; client_key ecdsa
	run -0 sl-remote "$NODE" echo ecdsa
	assert_output ecdsa
}

@test "-i FILE uses that key only" {
	known_host
	run -0 sl-remote -i "$SSHD_DIR/client_ecdsa" "$NODE" echo given
	assert_output given
	run -100 sl-remote -i "$BATS_TEST_TMPDIR/nokey" "$NODE" true
	assert_output "sl-remote: fatal: unable to read the key $BATS_TEST_TMPDIR/nokey: No such file or directory"
}

@test "an RSA key is refused with the reason and the way out" {
	known_host
	ssh-keygen -q -t rsa -b 2048 -N '' -f "$BATS_TEST_TMPDIR/rsa" </dev/null
	cat "$BATS_TEST_TMPDIR/rsa.pub" >> "$SSHD_DIR/authorized_keys"
	run -100 sl-remote -i "$BATS_TEST_TMPDIR/rsa" "$NODE" true
	assert_output --partial "sl-remote: fatal: root@127.0.0.1:$SSHD_PORT refused every key tried: $BATS_TEST_TMPDIR/rsa. RSA keys cannot work here"
	assert_output --partial "make an ed25519 key (ssh-keygen -t ed25519)"
}

@test "no key at all says where keys are looked for" {
	known_host
	run -100 sl-remote "$NODE" true
	assert_output "sl-remote: fatal: no key to log in to root@127.0.0.1:$SSHD_PORT with: no ssh-agent, no ~/.ssh/id_ed25519, id_ecdsa or id_rsa (give one with -i FILE)"
}

@test "a wrong user is refused, naming the user" {
	known_host; client_key
	run -100 sl-remote "nobody@$NODE" true
	assert_output "sl-remote: fatal: nobody@127.0.0.1:$SSHD_PORT refused every key tried: $HOME/.ssh/id_ed25519"
}

@test "an unknown host is refused with its fingerprint; --accept-new records it" {
	client_key
	run -100 sl-remote "$NODE" true
	assert_output --partial "sl-remote: fatal: root@127.0.0.1:$SSHD_PORT is not a known host; its ED25519 key is $(fingerprint ed25519)."
	assert_output --partial "run again with --accept-new to record it in $HOME/.ssh/known_hosts"
	[ ! -e "$HOME/.ssh/known_hosts" ]
	run -0 sl-remote --accept-new "$NODE" echo first
	assert_output first
	run -0 grep -c "^\[127.0.0.1\]:$SSHD_PORT ssh-ed25519 " "$HOME/.ssh/known_hosts"
	assert_output 1
	run -0 sl-remote "$NODE" echo known
	assert_output known
	# OpenSSH reads what was recorded
	run -0 ssh -p "$SSHD_PORT" -i "$HOME/.ssh/id_ed25519" -o BatchMode=yes \
		-o UserKnownHostsFile="$HOME/.ssh/known_hosts" -o StrictHostKeyChecking=yes root@127.0.0.1 echo openssh
	assert_output openssh
}

@test "a changed host key is refused, even with --accept-new, naming the line" {
	client_key
	mkdir -p "$HOME/.ssh"
	printf '# a comment\nother.example ssh-ed25519 %s\n' \
		"$(cut -d' ' -f2 "$SSHD_DIR/client_ed25519.pub")" > "$HOME/.ssh/known_hosts"
	printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "$SSHD_DIR/client_ed25519.pub")" \
		>> "$HOME/.ssh/known_hosts"
	run -100 sl-remote --accept-new "$NODE" true
	assert_output "sl-remote: fatal: the host key of root@127.0.0.1:$SSHD_PORT has CHANGED: it is now ED25519 $(fingerprint ed25519), not the one in $HOME/.ssh/known_hosts:3. If the node was reinstalled, remove that line (ssh-keygen -R '[127.0.0.1]:$SSHD_PORT'); otherwise someone may be intercepting the connection"
}

@test "hashed known_hosts entries are understood" {
	known_host; client_key
	ssh-keygen -q -H -f "$HOME/.ssh/known_hosts" 2>/dev/null
	run -0 grep -c '^|1|' "$HOME/.ssh/known_hosts"
	assert_output 1
	run -0 sl-remote "$NODE" echo hashed
	assert_output hashed
}

@test "a refused connection exits 111" {
	known_host; client_key
	run -111 sl-remote 127.0.0.1:1 true
	assert_output "sl-remote: fatal: unable to connect to root@127.0.0.1:1: Connection refused"
}

@test "an unreachable network exits 111" {
	run -111 sl-remote 192.0.2.1 true
	assert_output "sl-remote: fatal: unable to connect to root@192.0.2.1:22: Network is unreachable"
}

# listening FILE: waits until the test's listener says it listens (under
# load, a fixed sleep was not always enough)
listening() {
	for _ in $(seq 200); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	fail "the listener did not start"
}

@test "a server that never speaks SSH times out with 99" {
	known_host; client_key
	python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 2299)); s.listen(1)
open(sys.argv[1], "w").close()
c, _ = s.accept(); time.sleep(5)' "$BATS_TEST_TMPDIR/ready" 3>&- &
	listening "$BATS_TEST_TMPDIR/ready"
	run -99 sl-remote --timeout 1 127.0.0.1:2299 true
	assert_output "sl-remote: fatal: root@127.0.0.1:2299: no answer for 1 seconds"
	kill $! 2>/dev/null || true
}

@test "a connection that is never accepted times out with 99" {
	# a listener whose backlog is full drops further SYNs: connect() hangs
	python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 2298)); s.listen(0)
fill = []
for _ in range(3):	# the last of these is not accepted either: the backlog is full
    try:
        fill.append(socket.create_connection(("127.0.0.1", 2298), timeout=0.5))
    except OSError:
        pass
open(sys.argv[1], "w").close()
time.sleep(6)' "$BATS_TEST_TMPDIR/ready" 3>&- &
	listening "$BATS_TEST_TMPDIR/ready"
	run -99 sl-remote --timeout 1 127.0.0.1:2298 true
	assert_output "sl-remote: fatal: unable to connect to root@127.0.0.1:2298: no answer in 1 seconds"
	kill $! 2>/dev/null || true
}

@test "ssh-agent's keys are tried first; no key file is needed" {
	known_host
	eval "$(ssh-agent -s)" > /dev/null
	ssh-add -q "$SSHD_DIR/client_ed25519" 2>/dev/null
	run -0 sl-remote "$NODE" echo agent
	kill "$SSH_AGENT_PID"
	assert_output agent
}

@test "a quiet command on a live link does not time out (keepalives)" {
	known_host; client_key
	run -0 sl-remote --timeout 3 "$NODE" sh -c 'sleep 5; echo done'
	assert_output done
}

@test "remote exit codes pass through; a signal gives 128+n" {
	known_host; client_key
	run -42 sl-remote "$NODE" sh -c 'exit 42'
	run -143 sl-remote "$NODE" sh -c 'kill -TERM $$'
	run -127 sl-remote "$NODE" no-such-command-here
}

@test "every signal sshd names is reported by its number; an unnamed one is 111" {
	known_host; client_key
	run -139 sl-remote "$NODE" sh -c 'kill -SEGV $$'
	run -134 sl-remote "$NODE" sh -c 'kill -ABRT $$'
	run -138 sl-remote "$NODE" sh -c 'kill -USR1 $$'
	# OpenSSH sends SIGBUS as "SIG@openssh.com": 128+n would be a guess
	run -111 sl-remote "$NODE" sh -c 'kill -BUS $$'
}

@test "the first word stays a word: FOO=bar is a command, not an assignment" {
	known_host; client_key
	run -127 sl-remote "$NODE" FOO=bar printenv FOO
}

@test "stdin is left blocking for whoever reads it next" {
	known_host; client_key
	run -0 python3 -c '
import os, subprocess, sys
r, w = os.pipe()
subprocess.run(sys.argv[1:], stdin=r, check=True)
print("blocking" if os.get_blocking(r) else "non-blocking")' sl-remote "$NODE" true
	assert_output blocking
}

@test "--timeout takes whole seconds only" {
	run -100 sl-remote --timeout abc "$NODE" true
	assert_output "sl-remote: fatal: invalid timeout 'abc': want whole seconds from 1 to 86400"
	run -100 sl-remote --timeout 0 "$NODE" true
	assert_output "sl-remote: fatal: invalid timeout '0': want whole seconds from 1 to 86400"
}

@test "255 from the node becomes 111: never ssh's own failure code" {
	known_host; client_key
	run -111 sl-remote "$NODE" sh -c 'exit 255'
}

@test "stdin is streamed to the node; stdout and stderr stay apart" {
	known_host; client_key
	head -c 3000000 /dev/urandom > "$BATS_TEST_TMPDIR/in"
	run -0 sh -c "sl-remote '$NODE' sha256sum < '$BATS_TEST_TMPDIR/in'"
	assert_output "$(sha256sum < "$BATS_TEST_TMPDIR/in")"
	run -0 sh -c "sl-remote '$NODE' sh -c 'echo out; echo err >&2' 2>'$BATS_TEST_TMPDIR/err'"
	assert_output out
	[ "$(cat "$BATS_TEST_TMPDIR/err")" = err ]
}

@test "a lot of stderr does not stall a command that also writes stdout" {
	known_host; client_key
	# Reading stderr can make libssh2 queue the last stdout and the exit
	# status with nothing left on the socket: sl-remote sat in poll until
	# the next keepalive (75 s with the default idle timeout) before it
	# looked again. The command takes 0.2 s; the bound only catches a stall.
	run -0 timeout 30 sh -c "sl-remote '$NODE' sh -c 'head -c 5000000 /dev/zero >&2; echo end' 2>/dev/null"
	assert_output end
}

@test "bad node addresses and usage are refused with 100" {
	run -100 sl-remote 'root@-oProxyCommand=x' true
	assert_output "sl-remote: fatal: invalid node address 'root@-oProxyCommand=x': want [user@]host[:port]"
	run -100 sl-remote 'host:99999' true
	assert_output "sl-remote: fatal: invalid node address 'host:99999': want [user@]host[:port]"
	run -100 sl-remote "$NODE"
	assert_output "sl-remote: usage: sl-remote [-t] [--accept-new] [-i FILE] [--timeout SECONDS] NODE COMMAND [ARG...]"
}

@test "the node's stderr reaches the terminal without control characters (an app's output cannot drive it)" {
	known_host; client_key
	run -0 --separate-stderr sl-remote "$NODE" sh -c "printf 'a\\033]52;c;cHduZWQ=\\007b\\033[2Jc\\rd\\te\\n' >&2"
	assert_equal "$stderr" "$(printf 'a?]52;c;cHduZWQ=?b?[2Jc?d\te')"
}
