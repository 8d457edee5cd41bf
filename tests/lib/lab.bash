# silverlining — helpers for the node suites, which run inside the lab
# (tests/lib/lab-run): local nodes made with sl-node, one HOME per file so
# the node keys recorded in known_hosts serve every test of the file.

lab_setup_file() {
	[ "${SL_TEST_LAB:-}" = 1 ] || skip "runs in the lab (tests/run)"
	export HOME=$BATS_FILE_TMPDIR/home
	mkdir -p "$HOME/.ssh"
	ssh-keygen -q -t ed25519 -N '' -f "$HOME/.ssh/id_ed25519" </dev/null
}

lab_setup() {
	[ "${SL_TEST_LAB:-}" = 1 ] || skip "runs in the lab (tests/run)"
}

# node_up NAME: a fresh local node; its address in NODE, its IP in NODE_IP
node_up() {
	NODE=$(sl-node create "$1" 3>&-) || return 1
	NODE_IP=${NODE#root@}
	export NODE NODE_IP
}

# provisioned_node_up NAME: a fresh local node made a silverlining node;
# setup-node's output goes to the TAP stream only when it fails
provisioned_node_up() {
	node_up "$1" || return 1
	sl-provision "$NODE" > "$BATS_FILE_TMPDIR/provision.out" 2>&1 3>&- ||
		{ cat "$BATS_FILE_TMPDIR/provision.out" >&3; return 1; }
}

# on NODE CMD...: a command on the node
on() {
	sl-remote "$NODE" "$@"
}

# seconds CMD...: runs CMD, and puts its wall-clock time in SECONDS_TAKEN
seconds() {
	local s
	s=$(date +%s.%N)
	"$@"
	local rc=$?
	SECONDS_TAKEN=$(echo "$(date +%s.%N) - $s" | bc)
	return $rc
}
