#!/usr/bin/env bats
# The package (make deb): lintian finds nothing in it, and apt installs
# it on a fresh node, never provisioned, where its tools, its manual and
# sl-env work from /usr.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/lab

setup_file() {
	local version
	version=$(sed -n 's/^#define SL_VERSION "\(.*\)"/\1/p' "$TOP/libsl/version.h")
	# the path make deb writes and sl-provision reads
	DEB=$TOP/build/silverlining_${version}_$(dpkg --print-architecture).deb
	VERSION=$version
	export DEB VERSION
	[ "${SL_TEST_LAB:-}" = 1 ] || return 0	# the lintian test needs no lab
	lab_setup_file
	node_up pkg
	# what a user does: apt installs a local .deb and resolves its Depends
	on sh -c 'cat > /tmp/silverlining.deb' < "$DEB" &&
	seconds on sh -c 'apt-get update -q && apt-get install -y -q /tmp/silverlining.deb' \
		< /dev/null > "$BATS_FILE_TMPDIR/install.out" 2>&1 3>&-
	echo $? > "$BATS_FILE_TMPDIR/install.rc"
	echo "# apt-get install of the package on a fresh node: $SECONDS_TAKEN s" >&3
}

teardown_file() {
	[ "${SL_TEST_LAB:-}" = 1 ] || return 0
	sl-node destroy pkg 3>&- || true
}

@test "lintian finds nothing in the package: no error, no warning" {
	command -v lintian > /dev/null || skip "lintian is not installed"
	[ -f "$DEB" ] || fail "no package at $DEB: make deb"
	# --allow-root only silences lintian's advice not to run as root;
	# TMPDIR: lintian 2.116 leaves a mldbm-elf-* file behind in it
	TMPDIR=$BATS_TEST_TMPDIR run -0 lintian --allow-root "$DEB"
	assert_output ""
}

@test "apt installs it on a fresh node with its dependencies, and no web server" {
	lab_setup
	[ "$(cat "$BATS_FILE_TMPDIR/install.rc")" = 0 ] || fail "$(cat "$BATS_FILE_TMPDIR/install.out")"
	run -0 on dpkg-query -W -f '${Package} ${Version} ${db:Status-Status}\n' \
		silverlining libpq5 libmariadb3 libssh2-1 libinih1 openssh-client python3
	assert_line "silverlining $VERSION installed"
	assert_equal "$(grep -c ' installed$' <<<"$output")" 7
	# nginx and uWSGI are suggested: a laptop gets no web server on port 80
	run on sh -c 'dpkg-query -W -f "\${Package} \${db:Status-Status}\n" nginx uwsgi 2>/dev/null'
	refute_line --regexp ' installed$'
}

@test "silver --help and --version answer from /usr/bin" {
	lab_setup
	run -0 on sh -c 'command -v silver; command -v sl-env; silver --version; silver --help'
	assert_line --index 0 /usr/bin/silver
	assert_line --index 1 /usr/bin/sl-env
	assert_line --index 2 "silver $VERSION"
	assert_line --index 3 "usage: silver [-y] [-q|-v] VERB [OPTIONS] ARGS..."
}

@test "man -w finds every page where man looks, and man renders silver(1) cleanly" {
	lab_setup
	run -0 on sh -c 'apt-get install -y -q man-db < /dev/null > /dev/null 2>&1 && echo ok'
	run -0 on man -w silver
	assert_output /usr/share/man/man1/silver.1.gz
	run -0 on man -w 7 silver
	assert_output /usr/share/man/man7/silver.7.gz
	for page in "$TOP"/man/*.[1-8]; do
		name=${page##*/}
		run -0 on man -w "${name##*.}" "${name%.*}"
		assert_output "/usr/share/man/man${name##*.}/$name.gz"
	done
	run -0 --separate-stderr on sh -c 'MANWIDTH=80 man -P cat silver'
	assert_equal "$stderr" ""
	assert_line NAME
	assert_line SYNOPSIS
}

@test "sl-env on the package's examples/hello: SILVER_APP_NAME=hello" {
	lab_setup
	run -0 on ls /usr/share/doc/silverlining/examples
	assert_output "hello
places"
	# as a user would: a copy of the example to work in
	run -0 on cp -r /usr/share/doc/silverlining/examples/hello /tmp/hello
	run -0 --separate-stderr on sl-env /tmp/hello -- env
	assert_line SILVER_APP_NAME=hello
	assert_line "SILVER_VERSION=devel/$VERSION"
	run -0 --separate-stderr on sl-env /tmp/hello
	assert_line "export SILVER_APP_NAME='hello'"
}

@test "the installed package made a .deb again (repack-deb) holds what the built one holds" {
	lab_setup
	run -0 on sh -c 'mkdir -p /tmp/repack && /usr/share/silverlining/repack-deb /tmp/repack'
	assert_output "/tmp/repack/silverlining_${VERSION}_$(dpkg --print-architecture).deb"
	repacked=$output
	for f in Package Version Architecture Depends Suggests Description; do
		run -0 on dpkg-deb -f "$repacked" "$f"
		assert_output "$(dpkg-deb -f "$DEB" "$f")"
	done
	# the same files, directories and links, with the same modes
	built=$(dpkg-deb -c "$DEB" | awk '{print $1, $6}' | sort)
	run -0 on sh -c "dpkg-deb -c '$repacked' | awk '{print \$1, \$6}' | sort"
	assert_output "$built"
	# a changed installed file must not travel to nodes
	run -0 on sh -c 'cp /usr/bin/sl-run /tmp/sl-run.orig && echo "# changed" >> /usr/bin/sl-run'
	run -100 on /usr/share/silverlining/repack-deb /tmp/repack
	assert_output --partial "installed files of silverlining were changed"
	run -0 on cp /tmp/sl-run.orig /usr/bin/sl-run
}

@test "an installed silverlining, with no build tree, provisions a node: it sends itself" {
	lab_setup
	# the node provisions itself, as a laptop would a server, over ssh
	run -0 on sh -c 'ssh-keygen -q -t ed25519 -N "" -f /root/.ssh/id_ed25519 < /dev/null &&
		cat /root/.ssh/id_ed25519.pub >> /root/.ssh/authorized_keys'
	run -0 on silver setup-node --accept-new root@127.0.0.1
	assert_output --regexp "setup-node: (done: )?[0-9]+ changes; [^ ]+ is a silverlining $VERSION node"
	run -0 on sh -c 'ls /tmp/sl-provision.* 2>/dev/null | wc -l'
	assert_output 0
	run -0 on systemctl is-active nginx
}
