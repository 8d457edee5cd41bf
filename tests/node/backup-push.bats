#!/usr/bin/env bats
# A node's stored backups pushed to a second node (issue 20): two local
# nodes, provisioned, paired by silver setup-node --push-backups-to; a
# backup planted in the source's store (as sl-backup --scheduled stores
# one) pushed by the installed package, over the lab's network, and landing
# on the target whole and checked; the source's key on the target runs
# nothing but sl-backup-receive; a backup corrupted in the store is refused;
# a scheduled run pushes its verified backup itself.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/lab

STAMP=20261202T031500Z

setup_file() {
	lab_setup_file
	provisioned_node_up src && export SRC=$NODE SRC_IP=$NODE_IP
	provisioned_node_up dst && export DST=$NODE DST_IP=$NODE_IP
}

teardown_file() {
	for n in src dst; do
		sl-node destroy "$n" 3>&- || true
	done
}

setup() {
	lab_setup
}

# plant NODE APP STAMP: a small stored backup and its record on NODE
plant() {
	sl-remote "$1" sh -c 'set -e
		d=/var/lib/silverlining/backups/$1
		install -d -m 700 /var/lib/silverlining/backups "$d"
		t=$(mktemp -d)
		head -c 300000 /dev/urandom > "$t/blob"
		tar -czf "$d/$2.tar.gz" -C "$t" .
		rm -rf "$t"
		printf "app=%s\ntime=2026-12-02T03:15:00Z\nbytes=%s\nsha256=%s\nstatus=verified\n" \
			"$1" "$(stat -c %s "$d/$2.tar.gz")" "$(sha256sum < "$d/$2.tar.gz" | cut -d" " -f1)" > "$d/$2.ini"
		chmod 600 "$d/$2.tar.gz" "$d/$2.ini"' sh "$2" "$3"
}

@test "paired by silver, a push lands on the second node whole and checked" {
	run -0 silver setup-node --push-backups-to dst src
	run -0 sl-remote "$SRC" cat /etc/silverlining/backup-push/target
	assert_output "$DST_IP"
	run -0 sl-remote "$SRC" stat -c '%a %U' /etc/silverlining/backup-push /etc/silverlining/backup-push/key
	assert_output "700 root
600 root"
	run -0 sl-remote "$DST" grep -c "^restrict,command=\"sl-backup-receive $SRC_IP\" ssh-ed25519 " /root/.ssh/authorized_keys
	assert_output 1
	plant "$SRC" app1 "$STAMP"
	run -0 sl-remote "$SRC" sl-backup-push app1 "$STAMP"
	src_sum=$(sl-remote "$SRC" sha256sum "/var/lib/silverlining/backups/app1/$STAMP.tar.gz" | cut -d' ' -f1)
	got=/var/lib/silverlining/backups/received/$SRC_IP/app1
	dst_sum=$(sl-remote "$DST" sha256sum "$got/$STAMP.tar.gz" | cut -d' ' -f1)
	assert_equal "$dst_sum" "$src_sum"
	run -0 sl-remote "$DST" grep -x "sha256=$src_sum" "$got/$STAMP.ini"
	run -0 sl-remote "$DST" stat -c '%a %U %n' "$got" "$got/$STAMP.tar.gz" "$got/$STAMP.ini"
	assert_output "700 root $got
600 root $got/$STAMP.tar.gz
600 root $got/$STAMP.ini"
}

@test "the source's key runs sl-backup-receive on the target and nothing else" {
	# OpenSSH's own client on the source, with the push key, asks for a shell command
	run -100 sl-remote "$SRC" sh -c "ssh -i /etc/silverlining/backup-push/key \
		-o UserKnownHostsFile=/etc/silverlining/backup-push/known_hosts -o BatchMode=yes \
		root@$DST_IP 'touch /root/pwned' < /dev/null"
	assert_output --partial "sl-backup-receive: fatal: the stream was cut short"
	run -1 sl-remote "$DST" test -e /root/pwned
	# the control: the laptop's key runs it
	run -0 sl-remote "$DST" sh -c 'touch /root/pwned && rm /root/pwned'
}

@test "a backup corrupted in the source's store is refused by the target, which keeps nothing of it" {
	plant "$SRC" app1 20261202T041500Z
	sl-remote "$SRC" sh -c "$FLIP_BYTE" - /var/lib/silverlining/backups/app1/20261202T041500Z.tar.gz 1000
	run -100 sl-remote "$SRC" sl-backup-push app1 20261202T041500Z
	assert_output --partial "is not the one its record names"
	run -0 sl-remote "$DST" sh -c "ls -A /var/lib/silverlining/backups/received/$SRC_IP/app1"
	assert_output "$STAMP.ini
$STAMP.tar.gz"
}

@test "a scheduled backup, once verified, is pushed by sl-backup --scheduled itself" {
	cp -r "$TOP/examples/hello" "$BATS_TEST_TMPDIR/hello"
	printf 'service.files =\n' >> "$BATS_TEST_TMPDIR/hello/app.ini"
	run -0 silver update --node "$SRC" "$BATS_TEST_TMPDIR/hello" hello.test
	run -0 sl-remote "$SRC" sl-backup --scheduled hello
	stamp=$(sl-remote "$SRC" ls /var/lib/silverlining/backups/hello | sed -n 's/\.ini$//p' | tail -n 1)
	[ -n "$stamp" ]
	run -0 sl-remote "$SRC" grep -x status=verified "/var/lib/silverlining/backups/hello/$stamp.ini"
	src_sum=$(sl-remote "$SRC" sha256sum "/var/lib/silverlining/backups/hello/$stamp.tar.gz" | cut -d' ' -f1)
	dst_sum=$(sl-remote "$DST" sha256sum "/var/lib/silverlining/backups/received/$SRC_IP/hello/$stamp.tar.gz" | cut -d' ' -f1)
	assert_equal "$dst_sum" "$src_sum"
	# the control: with the target out of reach, the run says so and fails, the backup kept here
	sl-remote "$SRC" sh -c 'cp /etc/silverlining/backup-push/target /root/target.kept && echo 10.231.0.254 > /etc/silverlining/backup-push/target'
	run -111 sl-remote "$SRC" sl-backup --scheduled hello
	assert_output --partial "stored and verified here, but not pushed"
	sl-remote "$SRC" sh -c 'mv /root/target.kept /etc/silverlining/backup-push/target'
}
