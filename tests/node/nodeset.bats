#!/usr/bin/env bats
# Several app nodes behind a balancer (issue 18): a nodeset of two app
# nodes and one HAProxy balancer, local nodes set up by silver setup-node
# --nodeset: the balancer made bare, the app nodes on the lab's layer of a
# provisioned node (lab.bash; setup-node from a bare node is
# provision.bats'), which setup-node completes. One deploy reaches both nodes with one
# instance name; a gate failing on one switches neither; a rollback moves
# both; deploys under load through the balancer fail no request, at once
# and --rolling; a node stopped under load drops out within the checks'
# time; a node out of reach is refused, or skipped on request.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/lab
load ../lib/acme

setup_file() {
	lab_setup_file
	layered_node_up web1 && export WEB1=$NODE WEB1_IP=$NODE_IP
	layered_node_up web2 && export WEB2=$NODE WEB2_IP=$NODE_IP
	node_up lb && export LB=$NODE LB_IP=$NODE_IP
	mkdir -p "$HOME/.silverlining/nodesets"
	# the nodes by their local names, as a user of create-node writes them
	cat > "$HOME/.silverlining/nodesets/lab.ini" <<-EOF
	[nodeset]
	app = web1
	      web2
	balancer = lb
	check_interval = 1
	fall = 2
	rise = 1
	EOF
	export HELLO=$BATS_FILE_TMPDIR/hello
	cp -r "$TOP/examples/hello" "$HELLO"
	# the health check fails on a node that has /etc/sl-fail-gate; the
	# page names the node that answered it, and the client address the
	# app was told
	python3 - "$HELLO/main.py" <<-'EOF'
	import sys
	p = sys.argv[1]
	s = open(p).read()
	s = s.replace('def health(environ):\n    return "200 OK", "text/plain", "ok\\n"',
	              'def health(environ):\n'
	              '    import os\n'
	              '    if os.path.exists("/etc/sl-fail-gate"):\n'
	              '        return "500 Internal Server Error", "text/plain", "failing\\n"\n'
	              '    return "200 OK", "text/plain", "ok\\n"')
	s += ('\n\ndef whoami(environ):\n'
	      '    import socket\n'
	      '    return "200 OK", "text/plain", (f"node={socket.gethostname()}\\n"\n'
	      '        f"remote={environ.get(\'REMOTE_ADDR\')}\\n"\n'
	      '        f"scheme={environ.get(\'wsgi.url_scheme\')}\\n")\n\n\n'
	      'ROUTES["/_who"] = whoami\n')
	open(p, "w").write(s)
	EOF
	grep -q sl-fail-gate "$HELLO/main.py"
}

teardown_file() {
	acme_down
	for n in web1 web2 lb; do
		sl-node destroy "$n" 3>&- || true
	done
}

setup() {
	lab_setup
}

# through the balancer, as a client of HOST
lb_page() { curl -s -H "Host: $1" "http://$LB_IP${2:-/}"; }
# the instance routed at LOCATION on node N (an address)
instance_on() { sl-remote "$1" sl-query --instance "$2"; }
ns_up() { silver update --nodeset lab "$@"; }

# load_start NAME: an open-loop load through the balancer (20 requests a
# second to hello.test); load_stop NAME (lab.bash) prints "sent N failed N"
load_start() {
	load_bg "$1" "http://$LB_IP/" hello.test 20
	sleep 1
}

@test "setup-node --nodeset makes two app nodes and a balancer that checks them" {
	seconds silver setup-node --nodeset lab > "$BATS_FILE_TMPDIR/setup.out" 2>&1 ||
		{ cat "$BATS_FILE_TMPDIR/setup.out"; false; }
	echo "# setup-node --nodeset (a bare balancer, 2 app nodes on the layer): $SECONDS_TAKEN s" >&3
	run -0 sl-remote "$LB" sl-balancer --state
	assert_line --regexp "^$WEB1_IP $WEB1_IP:80 "
	assert_line --regexp "^$WEB2_IP $WEB2_IP:80 "
	# the balancer is no app node: HAProxy has its ports 80 and 443, the
	# nginx there answers on loopback alone (the CA's challenges), and
	# its firewall is an app node's
	run -0 sl-remote "$LB" systemctl is-active haproxy
	run -0 sl-remote "$LB" sh -c "ss -Hltnp | grep nginx | awk '{ print \$4 }' | sort -u"
	assert_output 127.0.0.1:8402
	run -0 sl-remote "$LB" nft list table inet silverlining
	assert_output --partial "tcp dport { 22, 80, 443 } accept"
}

@test "a deploy reaches both nodes with one instance name, served through the balancer" {
	run -0 --separate-stderr ns_up "$HELLO" hello.test
	# the instance, then each node's URLs, prefixed by the node
	inst=${lines[0]}
	assert_line "$WEB1_IP: http://hello.test"
	assert_line "$WEB2_IP: http://hello.test"
	[[ $inst =~ ^hello\.[0-9]{4}-[0-9]{2}-[0-9]{2}_[0-9]{3}$ ]] || fail "stdout: $inst"
	run -0 instance_on "$WEB1" hello.test
	assert_output "$inst"
	run -0 instance_on "$WEB2" hello.test
	assert_output "$inst"
	# both nodes answer through the balancer, and the app sees the client
	seen=
	for _ in $(seq 20); do
		seen+=$(lb_page hello.test /_who | sed -n 's/^node=//p')$'\n'
	done
	[ "$(sort -u <<<"$seen" | grep -c .)" -eq 2 ] || fail "one node answered: $seen"
	run -0 lb_page hello.test /_who
	assert_line "remote=10.231.0.1"
}

@test "a client's own X-Forwarded-For is believed from the balancer only" {
	run -0 curl -s -H 'Host: hello.test' -H 'X-Forwarded-For: 6.6.6.6' "http://$WEB1_IP/_who"
	assert_line "remote=10.231.0.1"
	run -0 curl -s -H 'Host: hello.test' -H 'X-Forwarded-For: 6.6.6.6' "http://$LB_IP/_who"
	assert_line "remote=10.231.0.1"
	# nor the header nginx tells the app the address in, sent by the client
	run -0 curl -s -H 'Host: hello.test' -H 'X-Silverlining-Remote-Addr: 6.6.6.6' "http://$WEB1_IP/_who"
	assert_line "remote=10.231.0.1"
	run -0 curl -s -H 'Host: hello.test' -H 'X-Silverlining-Remote-Addr: 6.6.6.6' "http://$LB_IP/_who"
	assert_line "remote=10.231.0.1"
}

@test "a gate failing on one node switches neither; the new instances are stopped" {
	before=$(instance_on "$WEB1" hello.test)
	sl-remote "$WEB2" touch /etc/sl-fail-gate
	hello_says "Hello, never"
	run ns_up "$HELLO" hello.test
	sl-remote "$WEB2" rm -f /etc/sl-fail-gate
	[ "$status" -ne 0 ] || fail "the deploy succeeded: $output"
	# the node and the step are named
	assert_output --partial "$WEB2_IP: prepare of hello."
	run -0 instance_on "$WEB1" hello.test
	assert_output "$before"
	run -0 instance_on "$WEB2" hello.test
	assert_output "$before"
	for _ in $(seq 6); do
		run -0 lb_page hello.test
		refute_output --partial "Hello, never"
	done
	# the instance that passed its gate on web1 is not left running
	run -0 sl-remote "$WEB1" sh -c "systemctl list-units --state=active --no-legend 'silverlining-instance@*' | grep -v '$before' || true"
	refute_output --partial hello.
}

@test "a deploy under steady load through the balancer fails no request, at once and --rolling" {
	load_start once
	hello_says "Hello, version two"
	run -0 ns_up "$HELLO" hello.test
	load_stop once
	echo "# at once: $LOAD" >&3
	[[ $LOAD == *"failed 0" ]] || fail "$LOAD"
	run -0 lb_page hello.test
	assert_output --partial "Hello, version two"

	load_start rolling
	hello_says "Hello, version three"
	run -0 --separate-stderr ns_up --rolling "$HELLO" hello.test
	load_stop rolling
	echo "# --rolling: $LOAD" >&3
	[[ $LOAD == *"failed 0" ]] || fail "$LOAD"
	for _ in $(seq 6); do
		run -0 lb_page hello.test
		assert_output --partial "Hello, version three"
	done
}

@test "a rollback moves both nodes to the same previous instance" {
	prev=$(sl-remote "$WEB1" sl-query --instance prev.hello.test)
	[ -n "$prev" ]
	run -0 silver activate --nodeset lab hello.test prev
	run -0 instance_on "$WEB1" hello.test
	assert_output "$prev"
	run -0 instance_on "$WEB2" hello.test
	assert_output "$prev"
	for _ in $(seq 6); do
		run -0 lb_page hello.test
		assert_output --partial "Hello, version two"
	done
}

@test "an https location: the balancer holds the certificate and ends TLS; the nodes ask no CA" {
	acme_up
	NODE=$LB acme_trust_node
	acme_root "$BATS_FILE_TMPDIR/root.pem"
	acme_name secure.test "$LB_IP"
	run -0 --separate-stderr ns_up --acme-directory "$ACME_URL" --acme-email ops@secure.test \
		"$HELLO" https://secure.test
	[ "$(acme_orders)" -eq 1 ] || fail "$(acme_orders) orders: the nodes asked too"
	# TLS ends at the balancer; the app is told https and the client's address
	seen=
	for _ in $(seq 10); do
		run -0 curl -sS --cacert "$BATS_FILE_TMPDIR/root.pem" \
			--resolve "secure.test:443:$LB_IP" https://secure.test/_who
		assert_line scheme=https
		assert_line remote=10.231.0.1
		seen+=$(sed -n 's/^node=//p' <<<"$output")$'\n'
	done
	[ "$(sort -u <<<"$seen" | grep -c .)" -eq 2 ] || fail "one node answered: $seen"
	# plain HTTP is sent to HTTPS by the balancer
	run -0 curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: secure.test' "http://$LB_IP/x"
	assert_output "301 https://secure.test/x"
	# the nodes hold no certificate, listen on no 443, and do not serve the
	# location in clear to a client that goes around the balancer
	run -0 sl-remote "$WEB1" sh -c "ss -Hltn 'sport = :443' | wc -l"
	assert_output 0
	run -0 curl -s -o /dev/null -w '%{http_code}' -H 'Host: secure.test' "http://$WEB1_IP/_who"
	assert_output 421
}

@test "query --nodeset shows each node's instance and the balancer's view" {
	run -0 silver query --nodeset lab
	assert_line --regexp "^$WEB1_IP: "
	assert_line --regexp "^$WEB2_IP: "
	assert_output --regexp "balancer $LB_IP: $WEB1_IP .* UP"
}

@test "an app node killed under load drops out within the checks' time; the failures are counted" {
	load_start kill
	# web2 dies at once, as a machine that loses power: its links go
	# down, and nothing answers at its address (not even a refusal)
	ip netns exec sl-web2 sh -c 'for l in $(ls /sys/class/net); do
		[ "$l" = lo ] || ip link set "$l" down; done'
	t0=$(date +%s.%N)
	for _ in $(seq 150); do
		sl-remote "$LB" sl-balancer --state | grep -q "^$WEB2_IP .* DOWN" && break
		sleep 0.2
	done
	out=$(echo "$(date +%s.%N) - $t0" | bc)
	sleep 3
	load_stop kill
	echo "# web2 gone under 20 requests/s: $LOAD; out of the balancer after $out s (check 1 s, fall 2)" >&3
	run -0 sl-remote "$LB" sl-balancer --state
	assert_line --regexp "^$WEB2_IP .* DOWN"
	# a GET whose connection to the gone node fails is retried on web1;
	# only those web2 held when it went can fail (at 20 requests a second
	# of a few milliseconds each, about none): a balancer that did not
	# retry would fail the 10 or more sent to web2 before its checks
	# failed (check_interval 1 s, fall 2)
	failed=$(sed -n '1s/^sent [0-9]* failed \([0-9]*\)$/\1/p' <<<"$LOAD")
	[ -n "$failed" ] && [ "$failed" -le 2 ] || fail "$LOAD"
}

@test "a node unreachable at deploy time is refused before anything is sent, or skipped on request" {
	n1=$(sl-remote "$WEB1" sh -c 'ls /var/lib/silverlining/instances | grep -c "^hello\."')
	hello_says "Hello, version four"
	run ns_up --timeout 5 "$HELLO" hello.test
	echo "# web2 gone: exit $status, $output" >&3
	[ "$status" -eq 111 ] || [ "$status" -eq 99 ] || fail "exit $status"
	assert_output --partial "$WEB2_IP"
	run -0 sl-remote "$WEB1" sh -c 'ls /var/lib/silverlining/instances | grep -c "^hello\."'
	assert_output "$n1"
	# skipped: web1 alone gets it, and the balancer keeps web2 out
	run -0 ns_up --timeout 5 --skip web2 "$HELLO" hello.test
	run -0 sl-remote "$LB" sl-balancer --state
	assert_line --regexp "^$WEB2_IP .* MAINT"
	for _ in $(seq 6); do
		run -0 lb_page hello.test
		assert_output --partial "Hello, version four"
	done
}
