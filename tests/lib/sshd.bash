# silverlining — a real sshd on loopback for the transport tier.
#
# sshd_start starts OpenSSH's sshd on 127.0.0.1:$SSHD_PORT with its own
# host keys (ed25519 and ECDSA), key-only root login for the test's
# client key, and PATH set so the node side finds the build's tools (and
# the sanitizer tier's ASAN_OPTIONS and UBSAN_OPTIONS reach them).
# Run the suite inside a private network namespace (tests/run does) so
# the port is the test's own. sshd_stop kills it by PID.

SSHD_PORT=${SSHD_PORT:-2222}

sshd_start() {
	export SSHD_DIR=$BATS_FILE_TMPDIR/sshd
	rm -rf "$SSHD_DIR"
	mkdir -p "$SSHD_DIR" /run/sshd
	ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/host_ed25519" </dev/null
	ssh-keygen -q -t ecdsa -N '' -f "$SSHD_DIR/host_ecdsa" </dev/null
	ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/client_ed25519" </dev/null
	ssh-keygen -q -t ecdsa -N '' -f "$SSHD_DIR/client_ecdsa" </dev/null
	cat "$SSHD_DIR/client_ed25519.pub" "$SSHD_DIR/client_ecdsa.pub" > "$SSHD_DIR/authorized_keys"
	chmod 600 "$SSHD_DIR/authorized_keys"
	cat > "$SSHD_DIR/sshd_config" <<-CONF
	Port $SSHD_PORT
	ListenAddress 127.0.0.1
	HostKey $SSHD_DIR/host_ed25519
	HostKey $SSHD_DIR/host_ecdsa
	PidFile $SSHD_DIR/sshd.pid
	AuthorizedKeysFile $SSHD_DIR/authorized_keys
	PermitRootLogin prohibit-password
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	PubkeyAuthentication yes
	UsePAM no
	StrictModes no
	SetEnv PATH=${SL_TEST_BIN:-$TOP/bin}:/usr/bin:/bin${ASAN_OPTIONS:+ ASAN_OPTIONS=$ASAN_OPTIONS}${UBSAN_OPTIONS:+ UBSAN_OPTIONS=$UBSAN_OPTIONS}
	LogLevel VERBOSE
	CONF
	sshd_launch "$SSHD_DIR"
}

sshd_stop() {
	[ -s "$SSHD_DIR/sshd.pid" ] && kill "$(cat "$SSHD_DIR/sshd.pid")" 2>/dev/null
	return 0
}

# known_host [TYPE]: record the server's TYPE (ed25519) key in ~/.ssh/known_hosts
known_host() {
	mkdir -p "$HOME/.ssh"
	printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "$SSHD_DIR/host_${1:-ed25519}.pub")" \
		>> "$HOME/.ssh/known_hosts"
}

# client_key [TYPE]: install the test's TYPE (ed25519) key as ~/.ssh/id_TYPE
client_key() {
	local t=${1:-ed25519}
	mkdir -p "$HOME/.ssh"
	cp "$SSHD_DIR/client_$t" "$HOME/.ssh/id_$t"
	cp "$SSHD_DIR/client_$t.pub" "$HOME/.ssh/id_$t.pub"
	chmod 600 "$HOME/.ssh/id_$t"
}

NODE=127.0.0.1:$SSHD_PORT

# The transport suites' bats hooks: one sshd per file, a HOME and keys per test.
transport_setup_file() {
	[ "$SL_TEST_NETNS" = 1 ] || skip "needs a private network namespace (run as root)"
	sshd_start
}

transport_setup() {
	[ "$SL_TEST_NETNS" = 1 ] || skip "needs a private network namespace (run as root)"
	common_setup
	unset SSH_AUTH_SOCK
}

# sshd_other PORT KEYFILE...: a second sshd like the first (same users and
# keys), on PORT, offering only the host keys KEYFILE..., with the
# sshd_config lines in $SSHD_EXTRA if set. sshd_other_stop PORT kills it.
sshd_other() {
	local port=$1 dir=$SSHD_DIR/$1 k
	shift
	mkdir -p "$dir"
	rm -f "$dir/sshd.pid"
	{
		grep -v -e '^Port ' -e '^HostKey ' -e '^PidFile ' "$SSHD_DIR/sshd_config"
		printf 'Port %s\nPidFile %s\n' "$port" "$dir/sshd.pid"
		for k; do printf 'HostKey %s\n' "$k"; done
		[ -z "${SSHD_EXTRA:-}" ] || printf '%s\n' "$SSHD_EXTRA"
	} > "$dir/sshd_config"
	sshd_launch "$dir"
}

sshd_other_stop() {
	local pid
	pid=$(cat "$SSHD_DIR/$1/sshd.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null
	# the port must be free before another sshd takes it
	while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
	return 0
}

# sshd_launch DIR: starts sshd with DIR/sshd_config (its PidFile in DIR),
# logging to DIR/sshd.log, and waits for its PID file.
sshd_launch() {
	/usr/sbin/sshd -f "$1/sshd_config" -E "$1/sshd.log" </dev/null 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
	for _ in $(seq 50); do
		[ -s "$1/sshd.pid" ] && return 0
		sleep 0.02
	done
	echo "sshd ($1) did not start: $(cat "$1/sshd.log")" >&2
	return 1
}
