#!/usr/bin/env bats
# A bare Debian 12 node (a local node: systemd-nspawn, booting systemd)
# becomes a silverlining node, and a second run changes nothing.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/lab

setup_file() {
	lab_setup_file
	node_up prov
	seconds sl-provision "$NODE" > "$BATS_FILE_TMPDIR/first.out" 2>&1 3>&-
	echo $? > "$BATS_FILE_TMPDIR/first.rc"
	echo "# provisioning a bare node: $SECONDS_TAKEN s" >&3
}

teardown_file() {
	sl-node destroy prov 3>&- || true
}

setup() {
	lab_setup
}

@test "a bare node provisions: every step says what it changed" {
	[ "$(cat "$BATS_FILE_TMPDIR/first.rc")" = 0 ] || fail "$(cat "$BATS_FILE_TMPDIR/first.out")"
	run cat "$BATS_FILE_TMPDIR/first.out"
	assert_line "setup-node: packages: installed nginx uwsgi uwsgi-plugin-python3 python3 nftables curl uacme ca-certificates"
	assert_line "setup-node: packages: installed silverlining 0.1.0"
	assert_line "setup-node: user: made the deploy user silverlining"
	assert_line "setup-node: files: /etc/nginx/sites-available/silverlining"
	assert_line "setup-node: secret: made the node secret"
	assert_line "setup-node: units: enabled silverlining-renew.timer (sl-cert renew, hourly)"
	assert_line --regexp '^setup-node: done: [0-9]+ changes; prov is a silverlining 0\.1\.0 node$'
}

@test "a host nothing is deployed at gets the not-found page, 404" {
	run -0 curl -s -w '\n%{http_code}' -H 'Host: anything.example' "http://$NODE_IP/"
	assert_line --index 2 "<body><h1>Not found</h1>"
	assert_line --index 4 404
}

@test "the special host disabled answers 503" {
	run -0 curl -s -o /dev/null -w '%{http_code}' -H 'Host: disabled' "http://$NODE_IP/"
	assert_output 503
}

@test "a second run changes nothing" {
	seconds run -0 sl-provision "$NODE"
	assert_line "setup-node: done: nothing changed; prov is a silverlining 0.1.0 node"
	refute_line --regexp '^setup-node: [a-z]+: (installed|made|enabled|started|/)'
	echo "# idempotent re-run: $SECONDS_TAKEN s (the 5 s bar is bench/deploy's, B2)" >&3
}

@test "the node is what doc/DESIGN.md says: users, directories, secret, units, record" {
	run -0 on sh -c 'getent passwd silverlining | cut -d: -f7;
		stat -c "%a %U %n" /var/lib/silverlining/instances /etc/silverlining/secret;
		systemctl is-active nginx; systemctl cat silverlining-instance@.service | grep -c KillSignal=SIGINT;
		sed -n "s/^version=//p" /etc/silverlining/node;
		tail -n 1 /var/log/silverlining/provision.log | cut -d" " -f2-3'
	assert_output "/usr/sbin/nologin
711 silverlining /var/lib/silverlining/instances
600 root /etc/silverlining/secret
active
1
0.1.0
version=0.1.0 by=$(id -un)@$(hostname)"
}

@test "the node is ready for HTTPS: the certificates' and ACME's directories, uacme, the hourly renewal" {
	run -0 on sh -c 'cd /var/lib/silverlining && stat -c "%a %U %n" tls acme acme/challenge acme/accounts;
		command -v uacme; test -s /etc/ssl/certs/ca-certificates.crt && echo trust store;
		systemctl is-enabled silverlining-renew.timer; systemctl is-active silverlining-renew.timer;
		systemctl cat silverlining-renew.service silverlining-renew.timer |
			grep -E "^(Type|ExecStart|OnCalendar|RandomizedDelaySec|Persistent)="'
	assert_output "700 root tls
755 root acme
755 root acme/challenge
700 root acme/accounts
/usr/bin/uacme
trust store
enabled
active
Type=oneshot
ExecStart=/usr/bin/sl-cert renew
OnCalendar=hourly
RandomizedDelaySec=55min
Persistent=true"
}

@test "B4: an idle node with no apps: the platform's resident memory is under 50 MB" {
	# resident set sizes in KiB, by command; the platform is what setup-node added
	run -0 on sh -c 'sleep 1; ps -e -o rss=,comm='
	total=$(awk '{s += $1} END {print s}' <<<"$output")
	platform=$(awk '$2 ~ /^(nginx|uwsgi)/ {s += $1} END {print s + 0}' <<<"$output")
	echo "# idle node: all processes $((total / 1024)) MiB, the platform (nginx) $((platform / 1024)) MiB" >&3
	[ "$platform" -lt $((50 * 1024)) ] || fail "platform uses $platform KiB"
}

@test "the package installed on the node is the laptop's, and its tools run there" {
	run -0 on sh -c 'dpkg-query -W -f "\${Version}\n" silverlining; silver --version; sl-env --version'
	assert_output "0.1.0
silver 0.1.0
sl-env 0.1.0"
}

@test "the firewall ruleset loads where the kernel allows it, and lets in only ssh, http, https" {
	run -0 unshare --net sh -c "nft -f '$TOP/share/silverlining/server-files/etc/nftables.conf' && nft list chain inet silverlining input"
	assert_output --partial "policy drop;"
	assert_output --partial "tcp dport { 22, 80, 443 } accept"
}

@test "a node that is not Debian 12 is refused by the first step, which is named" {
	on sh -c 'cp /etc/debian_version /root/dv && echo 11.9 > /etc/debian_version'
	run -100 sl-provision "$NODE"
	on sh -c 'cp /root/dv /etc/debian_version'
	assert_line "setup-node: system: this is not Debian 12 (11.9)"
	assert_line "setup-node: fatal: step system failed (exit status 100)"
	assert_line "sl-provision: fatal: $NODE is not a node yet: setup-node failed (exit status 100)"
}

@test "an unreachable node exits 111" {
	run -111 sl-provision root@10.99.0.1
	assert_output "sl-provision: fatal: unable to connect to root@10.99.0.1:22: Network is unreachable"
}

@test "a node whose host key changed is refused" {
	cp "$HOME/.ssh/known_hosts" "$BATS_TEST_TMPDIR/kh"
	ssh-keygen -q -t ed25519 -N '' -f "$BATS_TEST_TMPDIR/other" </dev/null
	grep -v "^$NODE_IP ssh-ed25519 " "$BATS_TEST_TMPDIR/kh" > "$HOME/.ssh/known_hosts"
	echo "$NODE_IP $(cut -d' ' -f1,2 "$BATS_TEST_TMPDIR/other.pub")" >> "$HOME/.ssh/known_hosts"
	run -100 sl-provision "$NODE"
	cp "$BATS_TEST_TMPDIR/kh" "$HOME/.ssh/known_hosts"
	assert_output --partial "sl-provision: fatal: the host key of $NODE:22 has CHANGED"
}

@test "sl-provision without a package to install says how to get one" {
	run -100 sl-provision --deb "$BATS_TEST_TMPDIR/none.deb" "$NODE"
	assert_output "sl-provision: fatal: unable to read $BATS_TEST_TMPDIR/none.deb: No such file or directory"
}
