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
# setup-node's output goes to the TAP stream only when it fails. The
# run's first call sets a node up from the bare base and saves it as the
# layer "prov" (sl-node save: its identity and node secret left
# out); every node is then made on that layer, and sl-provision run on it
# completes what is the node's own (0.3 s against 14 s from the bare
# base). tests/node/provision.bats and deb.bats start from the bare base.
provisioned_node_up() {
	layered_node_up "$1" &&
	sl-provision "$NODE" > "$BATS_FILE_TMPDIR/provision.out" 2>&1 3>&- ||
		{ cat "$BATS_FILE_TMPDIR/provision.out" >&3; return 1; }
}

# layered_node_up NAME: a fresh local node made on the layer "prov" (made
# first if the run has none), not yet completed by sl-provision: for the
# suites whose own verb sets the node up (setup-node --nodeset), which
# then finds an app node's packages installed
layered_node_up() {
	local out=$BATS_FILE_TMPDIR/provision.out
	if [ ! -s "$SL_LOCAL/layers/prov.base" ]; then
		node_up layer && sl-provision "$NODE" > "$out" 2>&1 3>&- &&
			sl-node save layer prov 3>&- >> "$out" 2>&1 ||
			{ cat "$out" >&3; sl-node destroy layer 3>&- >/dev/null 2>&1; return 1; }
	fi
	NODE=$(sl-node create --layer prov "$1" 3>&-) || return 1
	NODE_IP=${NODE#root@}
	export NODE NODE_IP
}

# HTTP to the node, as a client of HOST (the node's nginx, by its address):
# page HOST [PATH] the body, status HOST [PATH] the status code, post HOST
# PATH [BODY] a POST's body; up ARGS... is silver update to the node
page() { curl -s -H "Host: $1" "http://$NODE_IP${2:-/}"; }
status() { curl -s -o /dev/null -w '%{http_code}' -H "Host: $1" "http://$NODE_IP${2:-/}"; }
post() { curl -s -X POST -H "Host: $1" --data-binary "${3:-}" "http://$NODE_IP$2"; }
up() { silver update --node "$NODE" "$@"; }
# hello_says TEXT: the copy of examples/hello in HELLO says TEXT as its heading
hello_says() { sed -i "s/<h1>.*<\/h1>/<h1>$1<\/h1>/" "$HELLO/main.py"; }

# load_bg NAME URL HOST RATE: an open-loop load (bench/load) in the
# background, RATE requests a second of GET URL as a client of HOST, for
# at most 120 s; load_stop NAME stops it and puts what it printed ("sent N
# failed N" and each failure) in LOAD. Not under run: the load is this
# shell's child.
load_bg() {
	"$TOP/bench/load" "$2" "$3" "$4" "$BATS_TEST_TMPDIR/$1.stop" 120 \
		> "$BATS_TEST_TMPDIR/$1.out" 2>&1 3>&- &
	echo $! > "$BATS_TEST_TMPDIR/$1.pid"
}
load_stop() {
	touch "$BATS_TEST_TMPDIR/$1.stop"
	wait "$(cat "$BATS_TEST_TMPDIR/$1.pid")" || true
	LOAD=$(cat "$BATS_TEST_TMPDIR/$1.out")
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

# argv_sampling: the node records every process's argv into /root/argv.log,
# over and over, until argv_sampled; and runs a control, a short process
# with argv-control-marker in its argv, which the log must hold (else the
# sampler samples too slowly to prove anything)
argv_sampling() {
	on systemd-run --quiet --unit=argv-sampler sh -c 'rm -f /root/argv.stop
		while [ ! -e /root/argv.stop ]; do
			cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\0" "\n"
		done > /root/argv.log'
	on systemd-run --quiet --unit=argv-control sh -c 'sleep 1; true' argv-control-marker
}

# argv_sampled WORD: the sampler stopped, its log whole, and proved to
# have sampled: it saw the control process and a process with WORD in its
# argv (the one the test is about), else the test fails; prints how much
# it read
argv_sampled() {
	local words seen control
	on touch /root/argv.stop
	for _ in $(seq 100); do
		on systemctl is-active -q argv-sampler || break
		sleep 0.1
	done
	words=$(on grep -c . /root/argv.log)
	seen=$(on grep -c -F -- "$1" /root/argv.log)
	control=$(on grep -c -x argv-control-marker /root/argv.log)
	[ "${seen:-0}" -gt 0 ] || fail "the sampler never saw $1 run: it proves nothing"
	[ "${control:-0}" -gt 0 ] || fail "the sampler missed the control process: it proves nothing"
	echo "# argv sampled: $words argument words, $seen of $1" >&3
}
