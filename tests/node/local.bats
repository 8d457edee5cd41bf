#!/usr/bin/env bats
# Local nodes: sl-node create, list, destroy (silver create-node,
# list-nodes, destroy-node).
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/lab

setup_file() {
	lab_setup_file
}

setup() {
	lab_setup
}

@test "a node boots systemd with sshd, with its host key known" {
	seconds node_up one
	echo "# sl-node create (base cached): $SECONDS_TAKEN s" >&3	# shown, not judged
	[[ $NODE =~ ^root@10\.231\.0\.[0-9]+$ ]] || fail "printed '$NODE'"
	run -0 on sh -c 'hostname; cat /proc/1/comm; systemctl is-system-running --wait'
	assert_output "one
systemd
running"
	run -0 grep -c "^$NODE_IP " "$HOME/.ssh/known_hosts"
	assert_output 2
}

@test "two nodes at once, each with its own address; list shows them" {
	node_up two
	first=$NODE_IP
	node_up three
	[ "$first" != "$NODE_IP" ]
	run -0 sl-node list
	assert_line "$(printf 'two\troot@%s\trunning' "$first")"
	assert_line "$(printf 'three\troot@%s\trunning' "$NODE_IP")"
	run -0 sl-remote "root@$first" hostname
	assert_output two
}

@test "a node reaches Debian's archive through the door, and nothing else" {
	node_up apt
	run -0 on sh -c 'apt-get update -q > /dev/null && apt-cache policy nginx | sed -n 2p'
	assert_output --regexp 'Installed: \(none\)'
	run on sh -c 'exec 3<>/dev/tcp/192.0.2.1/80'
	assert_failure
	sl-node destroy apt
}

@test "destroy removes the node, its network and its known_hosts lines" {
	node_up gone
	seconds sl-node destroy gone
	echo "# sl-node destroy: $SECONDS_TAKEN s" >&3
	run -0 sl-node list
	refute_output --partial gone
	run grep -c "^$NODE_IP " "$HOME/.ssh/known_hosts"
	assert_output 0
	[ ! -e /run/netns/sl-gone ]
	run -1 ip link show slh-gone
	run -1 sl-node destroy gone
	assert_output "sl-node: fatal: no local node named gone"
}

@test "bad names and usage are refused" {
	run -100 sl-node create 'Bad_Name'
	assert_output "sl-node: fatal: invalid node name 'Bad_Name': a lowercase letter, then up to 9 lowercase letters, digits or dashes"
	run -100 sl-node create one
	assert_output "sl-node: fatal: a local node named one exists (sl-node destroy one first)"
	run -100 sl-node
	assert_output "sl-node: usage: sl-node create [--key FILE.pub] NAME | destroy NAME | list | prepare | proxy start|stop"
}

@test "silver create-node, list-nodes, destroy-node run sl-node" {
	run -0 silver create-node --provider local four
	[[ $output =~ ^root@10\.231\.0\.[0-9]+$ ]]
	run -0 silver list-nodes
	assert_output --partial "four"
	run -0 silver destroy-node four
	run -100 silver create-node --provider aws five
	assert_output "silver: fatal: unknown provider 'aws': only local is built"
}

teardown_file() {
	for n in one two three apt gone four; do sl-node destroy "$n" >/dev/null 2>&1 3>&- || true; done
}
