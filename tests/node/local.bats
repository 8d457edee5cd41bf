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
	run -100 sl-node create --layer 'Bad/Layer' six
	assert_output --partial "invalid layer name 'Bad/Layer'"
	run -100 sl-node create --layer nolayer six
	assert_output --partial "no layer nolayer on the base"
	run -100 sl-node save one '../up'
	assert_output --partial "invalid layer name '../up'"
	run -0 sl-node list
	refute_output --partial six
	run -100 sl-node
	assert_output "sl-node: usage: sl-node create [--key FILE.pub] [--layer LAYER] NAME | save NAME LAYER | destroy NAME | list | prepare | proxy start|stop"
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

# broken_state DIR: a state whose base has the current key but no OS in it,
# so that systemd-nspawn refuses to boot it ("os-release file is missing")
broken_state() {
	mkdir -p "$1/base/etc/ssh"
	basename "$(ls /var/cache/silverlining/base-*.tar.zst | head -n 1)" .tar.zst |
		sed 's/^base-//' > "$1/base/.complete"
}

@test "a failed boot leaves no node behind, and the log it names is there" {
	s=$BATS_FILE_TMPDIR/broken
	broken_state "$s"
	run -111 env SL_LOCAL="$s" sl-node create broken
	assert_output "sl-node: fatal: broken stopped while booting; see $s/logs/broken.console.log"
	run -0 cat "$s/logs/broken.console.log"
	assert_output --partial "os-release file is missing"
	[ ! -e "$s/nodes/broken" ]
	[ ! -e /run/netns/sl-broken ]
	run -1 ip link show slh-broken
	SL_LOCAL=$s sl-node proxy stop
}

@test "SL_LOCAL_NET other than the bridge's network is refused, by name" {
	node_up net
	run -100 env SL_LOCAL_NET=10.239.0 sl-node create net2
	assert_output "sl-node: fatal: the bridge sl-br0 has 10.231.0.0/24, not SL_LOCAL_NET=10.239.0: destroy the local nodes first, or unset it"
	sl-node destroy net
}

# --- a machine run by systemd: a local node, which boots systemd as PID 1,
# makes local nodes in turn (what a laptop does), with this tree's sl-node

laptop_up() {
	if [ -s "$BATS_FILE_TMPDIR/laptop" ]; then
		NODE=$(cat "$BATS_FILE_TMPDIR/laptop")
		return 0
	fi
	node_up laptop || return 1
	local r=$SL_LOCAL/nodes/laptop/root
	on sh -c 'apt-get update -q > /dev/null &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		systemd-container debootstrap iproute2 socat zstd apt-cacher-ng openssh-client \
		> /dev/null 2>&1 && systemctl disable --now -q apt-cacher-ng' || return 1
	# the base (nodes cannot debootstrap), and a state beside the overlay root:
	# an overlay cannot have its upper layer on another overlay
	mkdir -p "$r/var/cache/silverlining"
	cp /var/cache/silverlining/base-*.tar.zst "$r/var/cache/silverlining/"
	install -m 755 "$TOP/bin/sl-node" "$r/usr/local/bin/sl-node"
	on sh -c 'mkdir -p /var/lib/silverlining-local && mount -t tmpfs tmpfs /var/lib/silverlining-local &&
		ssh-keygen -q -t ed25519 -N "" -f /root/.ssh/id_ed25519 < /dev/null' || return 1
	echo "$NODE" > "$BATS_FILE_TMPDIR/laptop"
}

@test "under systemd: a network in use is refused when SL_LOCAL_NET names it, else avoided" {
	laptop_up
	run -0 on cat /proc/1/comm
	assert_output systemd
	# the laptop's own network is 10.231.0.0/24, on host0
	run -100 on env SL_LOCAL_NET=10.231.0 sl-node create inner
	assert_output "sl-node: fatal: 10.231.0.0/24 is in use on this machine ($NODE_IP/24, the address of host0): set SL_LOCAL_NET to a free one"
	run -0 on ip route get 10.231.0.1
	assert_output --partial "dev host0"
	run -0 on sl-node create inner
	assert_output "sl-node: warning: 10.231.0.0/24 is in use on this machine ($NODE_IP/24, the address of host0); looking for a free one
sl-node: warning: local nodes use 10.232.0.0/24 (SL_LOCAL_NET sets it)
root@10.232.0.2"
	run -0 on ip route get 10.231.0.1
	assert_output --partial "dev host0"
}

@test "under systemd: a node is a unit as systemd-nspawn@.service makes it, its door a unit of its own" {
	laptop_up
	run -0 on systemctl show sl-node-inner -p CollectMode -p KillMode -p SuccessExitStatus \
		-p RestartForceExitStatus -p Delegate -p ActiveState
	assert_output "RestartForceExitStatus=133
SuccessExitStatus=133
Delegate=yes
KillMode=mixed
ActiveState=active
CollectMode=inactive-or-failed"
	# not in the session sl-remote opened: logout does not end them
	run -0 on sh -c 'for u in sl-node-inner-door sl-acng-$(cat /var/lib/silverlining-local/id) sl-door-$(cat /var/lib/silverlining-local/id); do
		systemctl show -p ActiveState -p CollectMode --value $u; c=/proc/$(systemctl show -p MainPID --value $u)/cgroup
		grep -q "/system.slice/$u.service\$" $c && ! grep -q /user.slice/ $c && echo own-unit; done | sort | uniq -c'
	assert_output "      3 active
      3 inactive-or-failed
      3 own-unit"
}

@test "under systemd: a reboot inside a node restarts it" {
	laptop_up
	run -0 on ssh -o BatchMode=yes root@10.232.0.2 cat /proc/sys/kernel/random/boot_id
	before=$output
	run on ssh -o BatchMode=yes root@10.232.0.2 systemctl reboot
	run -0 on sh -c 'for i in $(seq 300); do
		[ "$(systemctl show -p NRestarts --value sl-node-inner)" = 1 ] &&
			ssh -o BatchMode=yes -o ConnectTimeout=1 root@10.232.0.2 true 2>/dev/null && break
		sleep 0.1; done; systemctl show -p NRestarts -p ActiveState sl-node-inner; sl-node list'
	assert_output "NRestarts=1
ActiveState=active
inner	root@10.232.0.2	running"
	run -0 on ssh -o BatchMode=yes root@10.232.0.2 cat /proc/sys/kernel/random/boot_id
	[ "$output" != "$before" ]
}

@test "under systemd: a failed boot leaves no unit loaded, its log kept, and the name free" {
	laptop_up
	run -0 on sh -c 'mkdir -p /run/brk/base/etc/ssh && cp /var/lib/silverlining-local/base/.complete /run/brk/base/'
	run -111 on env SL_LOCAL=/run/brk sl-node create broken
	assert_output "sl-node: fatal: broken stopped while booting; see /run/brk/logs/broken.console.log"
	run -0 on cat /run/brk/logs/broken.console.log
	assert_output --partial "os-release file is missing"
	run -0 on systemctl list-units --all --plain --no-legend 'sl-node-broken*'
	assert_output ""
	on env SL_LOCAL=/run/brk sl-node proxy stop
	# what failed before is not "already loaded" now
	run -0 on sl-node create broken
	assert_output --partial "root@10.232.0."
	run -0 on sl-node destroy broken
}

@test "under systemd: destroy leaves no unit, and only loopback and the bridge listen" {
	laptop_up
	run -0 on sl-node destroy inner
	run -0 on systemctl list-units --all --plain --no-legend 'sl-node-*'
	assert_output ""
	# sshd is the laptop's own; what silverlining runs listens on loopback
	run -0 on sh -c "ss -Hltnp | grep -v '\"sshd\"' | awk '{print \$4}' | sort -u"
	assert_output "127.0.0.1:3142
127.0.0.1:31420"
}

teardown_file() {
	for n in one two three apt gone four net laptop; do sl-node destroy "$n" >/dev/null 2>&1 3>&- || true; done
}
