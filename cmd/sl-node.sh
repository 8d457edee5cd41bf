#!/bin/bash
# silverlining — sl-node: local nodes, Debian 12 containers booting systemd on this machine.
#
# A local node is a systemd-nspawn container on an overlay of a cached
# Debian 12 minbase rootfs, in its own network namespace on a bridge this
# machine can reach, with sshd, the user's key in root's authorized_keys
# and its host keys (made here) in the user's known_hosts. Nodes reach
# Debian's archive only through a private apt-cacher-ng, by a unix-socket
# door into each node's namespace: no routing, no NAT.
#
# This tool composes system tools and keeps its state in plain files; it
# is a shell script for that reason, and follows the rules of the C tools
# (one message grammar, the shared exit codes, stdout is data).
set -u
umask 022
PATH=$PATH:/usr/sbin:/sbin

VERSION=@VERSION@
USAGE='sl-node create [--key FILE.pub] [--layer LAYER] NAME | save NAME LAYER | destroy NAME | list | prepare | proxy start|stop'
prog=sl-node
# @PRELUDE@

STATE=${SL_LOCAL:-/var/lib/silverlining-local}	# nodes, the unpacked base, the door
CACHE=${SL_CACHE:-/var/cache/silverlining}	# the base rootfs tarball
MIRROR=${SL_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SL_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
SUITE=bookworm
BASE_PACKAGES=openssh-server,systemd-sysv,dbus,libpam-systemd
# keyed by its inputs: v1 is the recipe below (bump it when it changes);
# the default security mirror adds nothing, so older keys stay valid
BASE_KEY=$SUITE-v1-$(printf '%s %s' "$MIRROR" "$BASE_PACKAGES" |
	{ cat; [ "$SECURITY_MIRROR" = http://deb.debian.org/debian-security ] || printf ' %s' "$SECURITY_MIRROR"; } |
	sha256sum | cut -c1-8)
BASE_TARBALL=$CACHE/base-$BASE_KEY.tar.zst
NET=${SL_LOCAL_NET:-10.231.0}			# the bridge is .1, nodes from .2
BRIDGE=sl-br0
# the capability a node needs to load its own firewall (nftables), and
# what a node needs to hold local nodes in turn; its network is its own
NODE_CAPS=CAP_NET_ADMIN

say() { [ "${SL_VERBOSITY:-1}" -ge 2 ] && printf '%s: %s\n' "$prog" "$*" >&2; return 0; }

need_root() {
	[ "$(id -u)" -eq 0 ] || die 100 "local nodes need root (namespaces, mounts, containers)"
}

need_tools() {
	local missing= t pkg
	for t in systemd-nspawn:systemd-container debootstrap:debootstrap ip:iproute2 \
		 socat:socat zstd:zstd apt-cacher-ng:apt-cacher-ng ssh-keygen:openssh-client; do
		command -v "${t%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${t%%:*}" ] ||
			missing="$missing ${t#*:}"
	done
	[ -z "$missing" ] || die 127 "missing programs; install:$missing"
}

# Daemons must not keep the caller's descriptors open (bats waits on them).
closefds() {
	local fd
	for fd in $(ls /proc/$BASHPID/fd); do
		[ "$fd" -gt 2 ] && eval "exec $fd>&-"
	done
	return 0
}

systemd_host() { [ -d /run/systemd/system ]; }

# --- helpers that outlive this command -----------------------------------------
# Under systemd (a laptop), each is a transient unit of its own, collected
# when it ends: not in the caller's login session, which logout may kill.
# Elsewhere (a CI machine, the lab), a child of no one with a pid file.

# daemon UNIT PIDFILE LOG COMMAND...
daemon() {
	local unit=$1 pidfile=$2 log=$3
	shift 3
	if systemd_host; then
		systemctl reset-failed "$unit" >/dev/null 2>&1
		systemd-run --quiet --collect --unit="$unit" \
			--property=StandardOutput="append:$log" --property=StandardError="append:$log" \
			-- "$@" || return 1
		systemctl show -p MainPID --value "$unit" > "$pidfile"
	else
		(closefds; exec "$@") </dev/null >>"$log" 2>&1 &
		echo $! > "$pidfile"
	fi
}

# daemon_stop UNIT PIDFILE
daemon_stop() {
	if systemd_host; then
		systemctl stop "$1" >/dev/null 2>&1
		systemctl reset-failed "$1" >/dev/null 2>&1
	else
		alive "$2" && kill "$(cat "$2")"
	fi
	rm -f "$2"
}

state_id() {
	[ -s "$STATE/id" ] || head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$STATE/id"
	cat "$STATE/id"
}

valid_name() {
	[[ $1 =~ ^[a-z][a-z0-9-]{0,9}$ ]]
}

alive() { # PIDFILE: the process is there (seen by any user)
	[ -s "$1" ] && [ -d "/proc/$(cat "$1")" ]
}

# --- the base rootfs ---------------------------------------------------------

build_base() {
	local tmp=$CACHE/base.build.$$
	say "building the $SUITE base rootfs (once; cached in $BASE_TARBALL)"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	if ! debootstrap --variant=minbase --include=$BASE_PACKAGES $SUITE "$tmp" "$MIRROR" \
		> "$CACHE/debootstrap.log" 2>&1; then
		rm -rf "$tmp"
		die 111 "debootstrap failed; see $CACHE/debootstrap.log"
	fi
	rm -f "$tmp"/etc/ssh/ssh_host_*
	chroot "$tmp" apt-get clean
	: > "$tmp/etc/resolv.conf"
	printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' \
		"$MIRROR" $SUITE "$MIRROR" $SUITE "$SECURITY_MIRROR" $SUITE > "$tmp/etc/apt/sources.list"
	# the archive is reached through the door on the node's own loopback
	echo 'Acquire::http::Proxy "http://127.0.0.1:3142";' > "$tmp/etc/apt/apt.conf.d/00silverlining-local"
	tar -C "$tmp" -cf - . | zstd -q -T0 -o "$BASE_TARBALL.tmp" &&
		mv "$BASE_TARBALL.tmp" "$BASE_TARBALL" || die 111 "unable to write $BASE_TARBALL"
	rm -rf "$tmp"
}

ensure_base() {
	mkdir -p "$CACHE" "$STATE"
	[ "$(cat "$STATE/base/.complete" 2>/dev/null)" = "$BASE_KEY" ] && return 0
	[ -f "$BASE_TARBALL" ] || build_base
	ls "$STATE/nodes" 2>/dev/null | grep -q . &&
		die 100 "the base changed ($BASE_KEY) while nodes use the old one: destroy them first"
	rm -rf "$STATE/base" "$STATE/layers"	# the layers were made on the old base
	mkdir -p "$STATE/base"
	zstd -dc "$BASE_TARBALL" | tar -C "$STATE/base" -xf - ||
		die 111 "unable to unpack $BASE_TARBALL"
	echo "$BASE_KEY" > "$STATE/base/.complete"
}

# --- the door to Debian's archive --------------------------------------------

door_open() {
	[ -S "$STATE/proxy/proxy.sock" ] &&
		socat -u OPEN:/dev/null "UNIX-CONNECT:$STATE/proxy/proxy.sock" 2>/dev/null
}

proxy_start() {
	local p=$STATE/proxy
	# Debian's package starts its own service, on every address: not ours
	systemd_host && systemctl is-active --quiet apt-cacher-ng.service &&
		warn "Debian's apt-cacher-ng service runs, open on port 3142 of every address; silverlining does not use it: systemctl disable --now apt-cacher-ng"
	door_open && return 0
	local port upstream=
	# its own cache: two apt-cacher-ng on one cache directory answer 503s
	mkdir -p "$p" "$p/apt"
	proxy_stop 2>/dev/null
	# loopback only, on a port no one else holds (other runs may share this host)
	for port in $(seq 31420 31499); do
		ss -Hltn "sport = :$port" | grep -q . || break
	done
	cat > "$p/acng.conf" <<-CONF
	CacheDir: $p/apt
	LogDir: $p
	SupportDir: /usr/lib/apt-cacher-ng
	Port: $port
	BindAddress: 127.0.0.1
	SocketPath: $p/acng.sock
	PidFile: $p/acng.pid
	PassThroughPattern: ^$
	CONF
	# a machine whose own apt goes through a proxy (a local node, say): so does this one
	eval "$(apt-config shell upstream Acquire::http::Proxy 2>/dev/null)"
	case ${upstream:-DIRECT} in
	DIRECT|direct|false) ;;
	*) echo "Proxy: $upstream" >> "$p/acng.conf" ;;
	esac
	: > "$p/acng.out"
	daemon "sl-acng-$(state_id)" "$p/acng.run" "$p/acng.out" apt-cacher-ng -c "$p" ForeGround=1 ||
		die 111 "apt-cacher-ng did not start"
	for _ in $(seq 100); do ss -Hltn "sport = :$port" | grep -q . && break; sleep 0.05; done
	ss -Hltn "sport = :$port" | grep -q . || die 111 "apt-cacher-ng did not start; see $p/acng.out"
	# the door: a unix socket, which reaches into every node's namespace
	daemon "sl-door-$(state_id)" "$p/socat.pid" /dev/null \
		socat UNIX-LISTEN:"$p/proxy.sock",fork,mode=600 TCP:127.0.0.1:$port ||
		die 111 "the apt door did not open"
	for _ in $(seq 100); do door_open && return 0; sleep 0.05; done
	die 111 "the apt door did not open"
}

proxy_stop() {
	daemon_stop "sl-door-$(state_id)" "$STATE/proxy/socat.pid"
	daemon_stop "sl-acng-$(state_id)" "$STATE/proxy/acng.run"
	rm -f "$STATE/proxy/proxy.sock" "$STATE/proxy/acng.sock"
}

# --- network -----------------------------------------------------------------

ip4() { # A.B.C.D: as a number
	local IFS=. a
	read -r -a a <<<"$1"
	echo $(( (a[0] << 24) + (a[1] << 16) + (a[2] << 8) + a[3] ))
}

# net_user NET: what on this machine already uses NET.0/24, if anything:
# an address or a route (a VPN's, the network a node sits in) of another
# interface than the bridge
net_user() {
	local want pfx len mask
	want=$(ip4 "$1.0")
	{ ip -4 -o addr show | awk '{print $4, "the address of " $2}'
	  ip -4 route show table all | awk '{
		d = ""; if ($1 !~ /^[0-9]/) $1 = ""; $0 = $0; if ($1 !~ /^[0-9]/) next
		for (i = 2; i < NF; i++) if ($i == "dev") d = $(i + 1)
		print $1, "a route on " d }'
	} | grep -v " $BRIDGE\$" | while read -r pfx what; do
		len=${pfx#*/}
		[ "$len" = "$pfx" ] && len=32
		[ "$len" -gt 24 ] && len=24
		mask=$(( len == 0 ? 0 : (0xffffffff << (32 - len)) & 0xffffffff ))
		if [ $(( $(ip4 "${pfx%/*}") & mask )) -eq $(( want & mask )) ]; then
			echo "$pfx, $what"
			return 0
		fi
	done
}

ensure_bridge() {
	local have user n
	if ip link show "$BRIDGE" >/dev/null 2>&1; then
		# the nodes' network is the bridge's, whoever made it
		have=$(ip -4 -o addr show dev "$BRIDGE" | awk '{print $4; exit}')
		have=${have%.*}
		[ -z "${SL_LOCAL_NET:-}" ] || [ "$SL_LOCAL_NET" = "$have" ] ||
			die 100 "the bridge $BRIDGE has $have.0/24, not SL_LOCAL_NET=$SL_LOCAL_NET: destroy the local nodes first, or unset it"
		NET=$have
		return 0
	fi
	# a network this machine uses already would lose its route to the bridge
	if [ -n "${SL_LOCAL_NET:-}" ]; then
		[[ $NET =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
			die 100 "SL_LOCAL_NET=$NET: give the first three numbers of a /24, as 10.231.0"
		user=$(net_user "$NET")
		[ -z "$user" ] ||
			die 100 "$NET.0/24 is in use on this machine ($user): set SL_LOCAL_NET to a free one"
	else
		for n in $(seq 231 254); do
			user=$(net_user "10.$n.0")
			[ -z "$user" ] && { NET=10.$n.0; break; }
			[ "$n" = 231 ] && warn "10.231.0.0/24 is in use on this machine ($user); looking for a free one"
		done
		[ -z "$user" ] ||
			die 100 "10.231.0.0/24 to 10.254.0.0/24 are in use on this machine: set SL_LOCAL_NET to a free /24, as 192.168.231"
		[ "$NET" = 10.231.0 ] || warn "local nodes use $NET.0/24 (SL_LOCAL_NET sets it)"
	fi
	ip link add "$BRIDGE" type bridge &&
		ip addr add "$NET.1/24" dev "$BRIDGE" &&
		ip link set "$BRIDGE" up || die 111 "unable to make the bridge $BRIDGE"
}

free_ip() {
	local i used ns
	# this state's nodes, and any other node on this machine's namespaces
	used=$(cat "$STATE"/nodes/*/ip 2>/dev/null
		for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^sl-/ {print $1}'); do
			ip -n "$ns" -4 -o addr show 2>/dev/null | awk '{print $4}' | cut -d/ -f1
		done)
	for i in $(seq 2 254); do
		grep -qx "$NET.$i" <<<"$used" || { echo "$NET.$i"; return 0; }
	done
	die 111 "no free address left in $NET.0/24"
}

# --- cgroups (a host without systemd as PID 1) -------------------------------

cgroup_id() {
	printf 'sl-%s-%s' "$(state_id)" "$1"
}

cgroup_dirs() {
	local h
	for h in systemd unified; do
		[ -d "/sys/fs/cgroup/$h" ] && printf '/sys/fs/cgroup/%s/%s\n' "$h" "$(cgroup_id "$1")"
	done
}

# --- nodes -------------------------------------------------------------------

laptop_key() {
	local k
	for k in "${KEY:-}" "$HOME/.ssh/id_ed25519.pub" "$HOME/.ssh/id_ecdsa.pub"; do
		[ -n "$k" ] && [ -r "$k" ] && { echo "$k"; return 0; }
	done
	die 100 "no public key to put on the node: make one (ssh-keygen -t ed25519) or give --key FILE.pub"
}

# known_hosts_forget IP: drop IP's lines, keeping the file its owner's
known_hosts_forget() {
	local kh=$HOME/.ssh/known_hosts owner
	[ -f "$kh" ] || return 0
	owner=$(stat -c %u:%g "$kh")
	ssh-keygen -q -R "$1" -f "$kh" >/dev/null 2>&1
	rm -f "$kh.old"
	chown "$owner" "$kh"
}

known_hosts_record() { # IP ROOT
	local kh=$HOME/.ssh/known_hosts t owner
	owner=$(stat -c %u:%g "$HOME")	# under sudo with HOME kept: the user's
	[ -d "$HOME/.ssh" ] || { mkdir -p "$HOME/.ssh" && chmod 700 "$HOME/.ssh" && chown "$owner" "$HOME/.ssh"; }
	known_hosts_forget "$1"
	[ -f "$kh" ] || { : > "$kh" && chown "$owner" "$kh"; }
	for t in ed25519 ecdsa; do
		printf '%s %s\n' "$1" "$(cut -d' ' -f1,2 "$2/etc/ssh/ssh_host_${t}_key.pub")" >> "$kh"
	done
}

# running NAME: the node's container is there (or restarting, under systemd)
running() {
	local n=$STATE/nodes/$1
	if [ -s "$n/unit" ]; then
		case $(systemctl show -p ActiveState --value "$(cat "$n/unit")" 2>/dev/null) in
		active|activating|reloading) return 0 ;;
		*) return 1 ;;
		esac
	fi
	alive "$n/nspawn.pid"
}

create() {
	local name=$1 layer=${2:-} n ip key root cg log lower=$STATE/base
	valid_name "$name" || die 100 "invalid node name '$name': a lowercase letter, then up to 9 lowercase letters, digits or dashes"
	need_root
	need_tools
	n=$STATE/nodes/$name
	[ -e "$n" ] && die 100 "a local node named $name exists (sl-node destroy $name first)"
	[ -e "/run/netns/sl-$name" ] &&
		die 100 "a local node named $name exists in another state directory than $STATE"
	key=$(laptop_key) || exit
	ensure_base
	if [ -n "$layer" ]; then
		valid_name "$layer" || die 100 "invalid layer name '$layer'"
		[ "$(cat "$STATE/layers/$layer.base" 2>/dev/null)" = "$BASE_KEY" ] ||
			die 100 "no layer $layer on the base $BASE_KEY (sl-node save NODE $layer makes one)"
		lower=$STATE/layers/$layer:$lower
	fi
	proxy_start
	ensure_bridge
	mkdir -p "$STATE/nodes"
	ip=$(free_ip) || exit
	mkdir -p "$n/upper" "$n/work" "$n/root"
	echo "$ip" > "$n/ip"
	ip neigh flush to "$ip" dev "$BRIDGE" 2>/dev/null	# a former node's, with another MAC
	trap 'destroy_quiet "$name"' EXIT
	ip netns add "sl-$name" &&
		ip link add "slh-$name" type veth peer name host0 netns "sl-$name" &&
		ip link set "slh-$name" master "$BRIDGE" up &&
		ip -n "sl-$name" addr add "$ip/24" dev host0 &&
		ip -n "sl-$name" link set lo up &&
		ip -n "sl-$name" link set host0 up || die 111 "unable to make the network of $name"
	mount -t overlay overlay -o "lowerdir=$lower,upperdir=$n/upper,workdir=$n/work" "$n/root" ||
		die 111 "unable to mount the root of $name"
	root=$n/root
	echo "$name" > "$root/etc/hostname"
	printf '127.0.0.1 localhost\n127.0.1.1 %s\n' "$name" > "$root/etc/hosts"
	# its own host keys, made here so the laptop knows them before first contact
	rm -f "$root"/etc/ssh/ssh_host_*
	ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$root/etc/ssh/ssh_host_ed25519_key" </dev/null &&
		ssh-keygen -q -t ecdsa -N '' -C "$name" -f "$root/etc/ssh/ssh_host_ecdsa_key" </dev/null ||
		die 111 "unable to make the host keys of $name"
	install -d -m 700 "$root/root/.ssh"
	install -m 600 "$key" "$root/root/.ssh/authorized_keys"
	# the node's own end of the door: port 3142 on its loopback
	daemon "sl-node-$name-door" "$n/door.pid" /dev/null ip netns exec "sl-$name" \
		socat TCP-LISTEN:3142,bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:"$STATE/proxy/proxy.sock" ||
		die 111 "unable to open the door of $name"
	# the console, and nspawn's own messages: kept when the boot fails
	log=$STATE/logs/$name.console.log
	mkdir -p "$STATE/logs"
	: > "$log"
	if systemd_host; then
		# a host run by systemd: the container gets its own transient unit, as
		# systemd-nspawn@.service would: a reboot inside (exit 133) restarts
		# it, a stop is a clean poweroff, and a failure leaves nothing loaded
		systemctl reset-failed "sl-node-$name" >/dev/null 2>&1
		systemd-run --quiet --collect --unit="sl-node-$name" \
			--property=Delegate=yes --property=KillMode=mixed \
			--property=SuccessExitStatus=133 --property=RestartForceExitStatus=133 \
			--property=TimeoutStopSec=30 \
			--property=StandardOutput="append:$log" --property=StandardError="append:$log" -- \
			systemd-nspawn -D "$root" --keep-unit --register=no -b -q --console=read-only \
			--capability="$NODE_CAPS" \
			--network-namespace-path="/run/netns/sl-$name" --machine="$name" ||
			die 111 "unable to start $name; see journalctl -u sl-node-$name"
		echo "sl-node-$name" > "$n/unit"
	else
		# no systemd here: each container in its own cgroup, or two would share one
		(closefds
		 for cg in $(cgroup_dirs "$name"); do mkdir -p "$cg" && echo $BASHPID > "$cg/cgroup.procs"; done
		 exec systemd-nspawn -D "$root" --register=no --keep-unit -b -q --console=read-only \
			--capability="$NODE_CAPS" \
			--network-namespace-path="/run/netns/sl-$name" --machine="$name") \
			</dev/null >>"$log" 2>&1 &
		echo $! > "$n/nspawn.pid"
	fi
	for _ in $(seq 300); do
		ip netns exec "sl-$name" ss -Hltn 'sport = :22' 2>/dev/null | grep -q . && break
		running "$name" || die 111 "$name stopped while booting; see $log"
		sleep 0.05
	done
	ip netns exec "sl-$name" ss -Hltn 'sport = :22' | grep -q . ||
		die 99 "$name did not start sshd within 15 seconds; see $log"
	known_hosts_record "$ip" "$root"
	trap - EXIT
	echo "root@$ip"
}

destroy_quiet() {
	local name=$1 n=$STATE/nodes/$1 cg i
	if [ -s "$n/unit" ]; then
		# KillMode=mixed: TERM to nspawn (a clean poweroff), the rest after
		systemctl stop "sl-node-$name" >/dev/null 2>&1
		systemctl reset-failed "sl-node-$name" >/dev/null 2>&1
	elif alive "$n/nspawn.pid"; then
		kill -TERM "$(cat "$n/nspawn.pid")"	# nspawn turns TERM into a clean poweroff
		for i in $(seq 100); do alive "$n/nspawn.pid" || break; sleep 0.1; done
		alive "$n/nspawn.pid" && kill -KILL "$(cat "$n/nspawn.pid")"
	fi
	daemon_stop "sl-node-$name-door" "$n/door.pid"
	if mountpoint -q "$n/root" 2>/dev/null && ! umount "$n/root"; then
		warn "unable to unmount $n/root; the node's files stay"
		return 111
	fi
	ip netns del "sl-$name" 2>/dev/null
	ip link del "slh-$name" 2>/dev/null
	for cg in $(cgroup_dirs "$name"); do	# busy for a moment after the kill
		for i in $(seq 50); do
			[ -d "$cg" ] || break
			find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
			sleep 0.1
		done
	done
	[ -s "$n/ip" ] && known_hosts_forget "$(cat "$n/ip")"
	rm -rf "$n"
	return 0
}

# save NAME LAYER: the node powered off and removed, what it changed on the
# base kept as LAYER, for create --layer (a node set up once, then copied:
# the node suites' provisioned nodes). What makes a node itself stays out:
# host keys, hostname, machine-id, root's keys, logs, silverlining's node
# secret; create and setup-node make them again.
save() {
	local name=$1 layer=$2 n=$STATE/nodes/$1 l
	valid_name "$name" || die 100 "invalid node name '$name'"
	valid_name "$layer" || die 100 "invalid layer name '$layer': a lowercase letter, then up to 9 lowercase letters, digits or dashes"
	need_root
	[ -d "$n" ] || die 1 "no local node named $name"
	l=$STATE/layers/$layer
	mkdir -p "$STATE/layers"
	rm -rf "$l" "$l.base" "$l.new"
	# the clean poweroff first, so that what is kept is whole
	if [ -s "$n/unit" ]; then
		systemctl stop "sl-node-$name" >/dev/null 2>&1
	elif alive "$n/nspawn.pid"; then
		kill -TERM "$(cat "$n/nspawn.pid")"
		for _ in $(seq 150); do alive "$n/nspawn.pid" || break; sleep 0.1; done
	fi
	alive "$n/nspawn.pid" && die 111 "$name did not power off; nothing saved"
	if mountpoint -q "$n/root" 2>/dev/null && ! umount "$n/root"; then
		die 111 "unable to unmount $n/root; nothing saved"
	fi
	mv "$n/upper" "$l.new" || die 111 "unable to keep the files of $name"
	(cd "$l.new" && rm -rf etc/ssh/ssh_host_* etc/hostname etc/hosts etc/machine-id \
		root/.ssh var/lib/systemd/random-seed var/log/journal/* \
		var/cache/apt/archives/*.deb etc/silverlining/secret tmp/* var/tmp/*)
	mv "$l.new" "$l" && echo "$BASE_KEY" > "$l.base" || die 111 "unable to write the layer $layer"
	destroy_quiet "$name" || die 111 "$name is stopped but not wholly removed"
	rm -f "$STATE/logs/$name.console.log"
}

destroy() {
	valid_name "$1" || die 100 "invalid node name '$1'"
	need_root
	[ -d "$STATE/nodes/$1" ] || die 1 "no local node named $1"
	destroy_quiet "$1" || die 111 "$1 is stopped but not wholly removed"
	rm -f "$STATE/logs/$1.console.log"
}

list() {
	local n name state
	for n in "$STATE"/nodes/*/; do
		[ -d "$n" ] || continue
		name=$(basename "$n")
		state=stopped
		running "$name" && state=running
		printf '%s\troot@%s\t%s\n' "$name" "$(cat "$n/ip" 2>/dev/null)" "$state"
	done
}

KEY=
[ $# -gt 0 ] || usage
case $1 in
-h|--help) printf 'usage: %s\n' "$USAGE" || exit 111; exit 0 ;;
--version) printf 'sl-node %s\n' "$VERSION" || exit 111; exit 0 ;;
create)
	shift
	if [ "${1:-}" = --key ]; then
		[ $# -ge 2 ] || usage
		KEY=$2
		[ -r "$KEY" ] || die 100 "unable to read the key $KEY"
		shift 2
	fi
	LAYER=
	if [ "${1:-}" = --layer ]; then
		[ $# -ge 2 ] || usage
		LAYER=$2
		shift 2
	fi
	[ $# -eq 1 ] || usage
	create "$1" "$LAYER" ;;
save) [ $# -eq 3 ] || usage; save "$2" "$3" ;;
destroy) [ $# -eq 2 ] || usage; destroy "$2" ;;
list) [ $# -eq 1 ] || usage; list ;;
prepare)	# what needs Debian's archive: the base rootfs and the door
	[ $# -eq 1 ] || usage
	need_root
	need_tools
	ensure_base
	proxy_start ;;
proxy)
	[ $# -eq 2 ] || usage
	need_root
	case $2 in start) need_tools; proxy_start ;; stop) proxy_stop ;; *) usage ;; esac ;;
*) usage ;;
esac
