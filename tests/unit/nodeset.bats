#!/usr/bin/env bats
# silverlining — nodesets (libsl/nodeset.h), driven through build/tests/libsl-test:
# every bad file gets an exact message naming FILE:LINE and exit 100; what is
# merely unknown is a warning; local nodes' names resolve through a fake
# sl-node state tree.
bats_require_minimum_version 1.5.0

load ../lib/common

setup() {
	common_setup
	T=${SL_TEST_BUILD:-$TOP/build}/tests/libsl-test
	F=$BATS_TEST_TMPDIR/prod.ini
	export SL_LOCAL=$BATS_TEST_TMPDIR/local
	mkdir -p "$SL_LOCAL/nodes"
}

# ns LINES...: $F holds LINES.
ns() {
	printf '%s\n' "$@" > "$F"
}

# local_node NAME IP: sl-node's state for a local node NAME at IP.
local_node() {
	mkdir -p "$SL_LOCAL/nodes/$1"
	echo "$2" > "$SL_LOCAL/nodes/$1/ip"
}

# refused LINES...: the nodeset of LINES is refused with exit 100; the
# message is then in $output.
refused() {
	ns "$@"
	run -100 "$T" nodeset "$F"
}

@test "a nodeset: list continuation, a port, inline comments, defaults" {
	ns '[nodeset]' \
		'app = root@203.0.113.10' \
		'      root@203.0.113.11:2222   ; a port' \
		'      admin@node-3.example.com ; a user' \
		'      [2001:db8::1]:2222       ; indented, so not a section' \
		'balancer = 203.0.113.5'
	run -0 --separate-stderr "$T" nodeset "$F"
	assert_equal "$stderr" ""
	assert_output "name prod
app root@203.0.113.10
app root@203.0.113.11:2222
app admin@node-3.example.com
app [2001:db8::1]:2222
balancer 203.0.113.5
check_interval 2
fall 3
rise 2"
}

@test "the balancer is optional; the health-check settings at their bounds" {
	ns '[nodeset]' 'app = a.example.com' 'check_interval = 60' 'fall = 1' 'RISE = 10'
	run -0 "$T" nodeset "$F"
	assert_output "name prod
app a.example.com
balancer -
check_interval 60
fall 1
rise 10"
	ns '[nodeset]' 'app =' '  a' 'check_interval = 1' 'fall = 10' 'rise = 1'
	run -0 "$T" nodeset "$F"
	assert_line 'app a'
	assert_line 'check_interval 1'
	assert_line 'fall 10'
	assert_line 'rise 1'
}

@test "local nodes by name: root@IP from SL_LOCAL's state; the local node wins over a host" {
	local_node web3 10.231.0.7
	local_node web4 10.231.0.8
	ns '[nodeset]' 'app = web3' '  web4' '  web5' 'balancer = root@10.231.0.2'
	run -0 "$T" nodeset "$F"
	assert_output "name prod
app root@10.231.0.7
app root@10.231.0.8
app web5
balancer root@10.231.0.2
check_interval 2
fall 3
rise 2"
	run -0 "$T" node-resolve web3
	assert_output root@10.231.0.7
	# not a local node: an address as given
	run -0 "$T" node-resolve web5
	assert_output web5
	run -0 "$T" node-resolve admin@web3:2222
	assert_output admin@web3:2222
}

@test "local nodes: the state is read only for sl-node's names, under SL_LOCAL or its default" {
	# longer than sl-node's 10 characters: a host, whatever the state holds
	local_node abcdefghijk 10.231.0.9
	run -0 "$T" node-resolve abcdefghijk
	assert_output abcdefghijk
	# a path is never looked up
	mkdir -p "$BATS_TEST_TMPDIR/x"
	echo 10.231.0.9 > "$BATS_TEST_TMPDIR/x/ip"
	run -100 "$T" node-resolve ../../x
	assert_output "libsl-test: fatal: invalid node '../../x': want [user@]host[:port] or a local node's name"
	# an empty SL_LOCAL is its default, as in sl-node
	SL_LOCAL='' run -0 "$T" node-resolve nosuchnode
	assert_output nosuchnode
}

@test "a local node without a readable address is a temporary failure (111)" {
	mkdir -p "$SL_LOCAL/nodes/web3"
	run -111 "$T" node-resolve web3
	assert_output "libsl-test: fatal: local node web3: unable to read its address in $SL_LOCAL/nodes/web3/ip: No such file or directory"
	echo 'not an address' > "$SL_LOCAL/nodes/web3/ip"
	run -111 "$T" node-resolve web3
	assert_output "libsl-test: fatal: local node web3: $SL_LOCAL/nodes/web3/ip holds no IPv4 address (is it being made?)"
	ns '[nodeset]' 'app = a' '  web3'
	run -111 "$T" nodeset "$F"
	assert_output "libsl-test: fatal: $F:3: local node web3: $SL_LOCAL/nodes/web3/ip holds no IPv4 address (is it being made?)"
}

@test "unknown keys and other sections are warnings" {
	ns '[nodeset]' 'app = a' 'balancers = b' '  c' '[Other]' 'x = 1' '[Other]' 'y = 2'
	run -0 --separate-stderr "$T" nodeset "$F"
	assert_equal "$stderr" "libsl-test: warning: $F:3: unknown key 'balancers' ignored
libsl-test: warning: $F:6: section [Other] is not used; its keys are ignored"
	assert_line 'app a'
	assert_line 'balancer -'
}

@test "no app node: no app key names the file, an empty app its line" {
	refused '[nodeset]' 'balancer = b'
	assert_output "libsl-test: fatal: $F: no app nodes: [nodeset] lists them in 'app = NODE', one a line"
	refused ''
	assert_output "libsl-test: fatal: $F: no app nodes: [nodeset] lists them in 'app = NODE', one a line"
	refused '[nodeset]' 'fall = 2' 'app =' 'rise = 2'
	assert_output "libsl-test: fatal: $F:3: app lists no node"
}

@test "a key twice, a key outside [nodeset]" {
	refused '[nodeset]' 'app = a' 'fall = 2' 'Fall = 3'
	assert_output "libsl-test: fatal: $F:4: fall is already set at line 3"
	refused '[nodeset]' 'app = a' 'app = b'
	assert_output "libsl-test: fatal: $F:3: app is already set at line 2"
	refused 'app = a' '[nodeset]'
	assert_output "libsl-test: fatal: $F:1: 'app' is outside any section: a nodeset starts with [nodeset]"
}

@test "two balancers: a second key or a second line" {
	refused '[nodeset]' 'balancer = b' 'app = a' 'balancer = c'
	assert_output "libsl-test: fatal: $F:4: balancer is already set at line 2"
	refused '[nodeset]' 'app = a' 'balancer = b' '   c'
	assert_output "libsl-test: fatal: $F:4: a second balancer 'c': a nodeset has one (line 3)"
	# "balancer =" with its node on the next line is one balancer
	ns '[nodeset]' 'app = a' 'balancer =' '   c'
	run -0 "$T" nodeset "$F"
	assert_line 'balancer c'
}

@test "the same app node twice, however it is written" {
	refused '[nodeset]' 'app = root@a.example.com' '  b' '  root@a.example.com'
	assert_output "libsl-test: fatal: $F:4: app node 'root@a.example.com' is already listed at line 2"
	# the user does not make another machine; the host's case does not either
	refused '[nodeset]' 'app = a.example.com:22' '  admin@A.Example.COM'
	assert_output "libsl-test: fatal: $F:3: app node 'admin@A.Example.COM' is already listed at line 2"
	refused '[nodeset]' 'app = [2001:db8::1]:22' '  2001:db8::1'
	assert_output "libsl-test: fatal: $F:3: app node '2001:db8::1' is already listed at line 2"
	local_node web3 10.231.0.7
	refused '[nodeset]' 'app = root@10.231.0.7' '  web3'
	assert_output "libsl-test: fatal: $F:3: app node 'web3' is already listed at line 2"
	# another port is another machine (a NAT's forwarded ports)
	ns '[nodeset]' 'app = h' '  h:2222'
	run -0 "$T" nodeset "$F"
	assert_line 'app h'
	assert_line 'app h:2222'
}

@test "a balancer that is also an app node, before or after the app list" {
	refused '[nodeset]' 'app = a' '  b' 'balancer = admin@b:22'
	assert_output "libsl-test: fatal: $F:4: balancer 'admin@b:22' is also an app node (line 3): the balancer needs a node of its own"
	local_node lb 10.231.0.5
	refused '[nodeset]' 'balancer = lb' 'app = a' '  root@10.231.0.5'
	assert_output "libsl-test: fatal: $F:4: app node 'root@10.231.0.5' is also the balancer (line 2): the balancer needs a node of its own"
}

@test "service nodes: a list, resolved like app nodes, printed in order" {
	local_node db1 10.231.0.8
	ns '[nodeset]' 'app = a' 'service = db1' '  admin@db2.example:2222 ; a standby' 'balancer = lb'
	run -0 --separate-stderr "$T" nodeset "$F"
	assert_equal "$stderr" ""
	assert_output "name prod
app a
service root@10.231.0.8
service admin@db2.example:2222
balancer lb
check_interval 2
fall 3
rise 2"
	ns '[nodeset]' 'service =' '  d1' '  d2' '  d3' '  d4' 'app = a'
	run -0 "$T" nodeset "$F"
	assert_line --index 5 'service d4'
}

@test "service nodes: at most 4, each once, none in another role" {
	refused '[nodeset]' 'app = a' 'service = d1' '  d2' '  d3' '  d4' '  d5'
	assert_output "libsl-test: fatal: $F:7: a fifth service node 'd5': a nodeset has at most 4 (a primary and its standbys)"
	refused '[nodeset]' 'app = a' 'service = d1' '  D1:22'
	assert_output "libsl-test: fatal: $F:4: service node 'D1:22' is already listed at line 3"
	refused '[nodeset]' 'app = a' '  b' 'service = admin@b'
	assert_output "libsl-test: fatal: $F:4: service node 'admin@b' is also an app node (line 3): a service node serves the databases alone"
	local_node db1 10.231.0.8
	refused '[nodeset]' 'service = db1' 'app = a' '  10.231.0.8'
	assert_output "libsl-test: fatal: $F:4: app node '10.231.0.8' is also a service node (line 2): a service node serves the databases alone"
	refused '[nodeset]' 'app = a' 'service = d1' 'balancer = d1'
	assert_output "libsl-test: fatal: $F:4: balancer 'd1' is also a service node (line 3): the balancer needs a node of its own"
	refused '[nodeset]' 'app = a' 'balancer = d1' 'service = d1'
	assert_output "libsl-test: fatal: $F:4: service node 'd1' is also the balancer (line 3): the balancer needs a node of its own"
	refused '[nodeset]' 'app = a' 'service = d1' 'service = d2'
	assert_output "libsl-test: fatal: $F:4: service is already set at line 3"
	refused '[nodeset]' 'app = a' 'service = d1' '  a b'
	assert_output "libsl-test: fatal: $F:4: invalid node 'a b': want [user@]host[:port] or a local node's name"
	refused '[nodeset]' 'service = d1'
	assert_output "libsl-test: fatal: $F: no app nodes: [nodeset] lists them in 'app = NODE', one a line"
}

@test "a bad address names its line" {
	local v
	for v in 'a b' 'root@' '@h' 'h:0' 'h:65536' 'h:22x' '-h' 'us\$er@h' 'h/x' '[::1' 'a;b'; do
		refused '[nodeset]' 'app = ok' "  $v"
		assert_output "libsl-test: fatal: $F:3: invalid node '$v': want [user@]host[:port] or a local node's name"
	done
	refused '[nodeset]' 'app = a' 'balancer = b c'
	assert_output "libsl-test: fatal: $F:3: invalid node 'b c': want [user@]host[:port] or a local node's name"
}

@test "numbers out of range, not whole, or continued over lines" {
	local k v want
	for k in check_interval fall rise; do
		want='a whole number from 1 to 10'
		[ $k != check_interval ] || want='a whole number of seconds from 1 to 60'
		for v in 0 -1 +2 x 2.5 1e1 0x2 '' 99999999999999999999 '3 s'; do
			refused '[nodeset]' 'app = a' "$k = $v"
			assert_output "libsl-test: fatal: $F:3: invalid $k '$v': want $want"
		done
	done
	refused '[nodeset]' 'app = a' 'fall = 61'
	assert_output "libsl-test: fatal: $F:3: invalid fall '61': want a whole number from 1 to 10"
	refused '[nodeset]' 'app = a' 'check_interval = 61'
	assert_output "libsl-test: fatal: $F:3: invalid check_interval '61': want a whole number of seconds from 1 to 60"
	refused '[nodeset]' 'app = a' 'rise = 2' '  3'
	assert_output "libsl-test: fatal: $F:4: rise takes one value, not a list (key at line 3)"
}

@test "an unreadable or missing file is refused (100); ini.c's errors name the line" {
	run -100 "$T" nodeset "$BATS_TEST_TMPDIR/none.ini"
	assert_output "libsl-test: fatal: unable to read $BATS_TEST_TMPDIR/none.ini: No such file or directory"
	refused '[nodeset]' 'app = a' 'this is not ini'
	assert_output "libsl-test: fatal: $F:3: expected '[section]' or 'key = value', not 'this is not ini'"
}

@test "sl_nodeset_path: under HOME, a valid name only; the nodeset's name is its file's" {
	run -0 "$T" nodeset-path prod-2
	assert_output "$HOME/.silverlining/nodesets/prod-2.ini"
	local n
	for n in '' Prod 2prod ../x 'a b' a.ini "$(printf 'a%.0s' {1..32})"; do
		run -100 "$T" nodeset-path "$n"
		assert_output "libsl-test: fatal: invalid nodeset name '$n': want a lowercase letter, then up to 30 lowercase letters, digits or dashes"
	done
	run -0 "$T" nodeset-path "a$(printf 'b%.0s' {1..30})"
	mkdir -p "$HOME/.silverlining/nodesets"
	printf '[nodeset]\napp = a\n' > "$HOME/.silverlining/nodesets/staging.ini"
	run -0 "$T" nodeset "$HOME/.silverlining/nodesets/staging.ini"
	assert_line 'name staging'
}
