#!/usr/bin/env bats
# silver diff against a hostile node: every length the node sends is
# capped before anything is allocated for it. The node side is a fake
# (a forced command in authorized_keys) that announces huge sizes and
# then streams without end; the client runs with its address space
# limited, so a client that believed the node would run out of memory
# instead of refusing.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/sshd

setup_file() {
	transport_setup_file
	# every login runs the fake node, whatever command the client asks for
	fake=$BATS_FILE_TMPDIR/fake-node
	cat > "$fake" <<-'EOF'
	#!/bin/bash
	# the fake node: answers as $SSHD_DIR/mode says
	sha=$(printf 'old\n' | sha256sum | cut -d' ' -f1)
	mf=$(mktemp)
	printf '%s\0' f 644 4 "$sha" main.py "" > "$mf"
	case $(cat "$FAKE_MODE") in
	manifest)	# 8 GiB of manifest announced (under main's 16 GiB cap), zeros sent
		printf 'instance up.2024-01-01_001\nmanifest %d\n' $((8 << 30))
		exec cat /dev/zero ;;
	file)		# a good manifest, then 8 GiB announced for a 4-byte file
		printf 'instance up.2024-01-01_001\nmanifest %d\n' "$(stat -c %s "$mf")"
		cat "$mf"
		cat > /dev/null
		printf 'file %d\n' $((8 << 30))
		exec cat /dev/zero ;;
	good)		# what a node answers: the old content, exactly its size
		printf 'instance up.2024-01-01_001\nmanifest %d\n' "$(stat -c %s "$mf")"
		cat "$mf"
		cat > /dev/null
		printf 'file 4\nold\n' ;;
	line)		# a first line that never ends
		printf 'instance '
		exec tr '\0' x < /dev/zero ;;
	esac
	EOF
	chmod 755 "$fake"
	echo manifest > "$BATS_FILE_TMPDIR/mode"
	sed -i "s|^|command=\"FAKE_MODE=$BATS_FILE_TMPDIR/mode $fake\" |" "$SSHD_DIR/authorized_keys"
}

teardown_file() {
	sshd_stop
}

setup() {
	transport_setup
	known_host; client_key
	A=$BATS_TEST_TMPDIR/app
	app "$A" '[production]' 'app_name = up'
	printf 'new\n' > "$A/main.py"
}

# diff MODE: silver diff's client against the fake node in MODE, in
# 256 MiB of address space (of allocation under ASan)
diff_against() {
	echo "$1" > "$BATS_FILE_TMPDIR/mode"
	if [ -n "${ASAN_OPTIONS:-}" ]; then
		# the sanitizer tier: ASan maps terabytes of shadow, so its own
		# allocator holds the bound (an allocation over it is a report)
		run --separate-stderr env ASAN_OPTIONS="$ASAN_OPTIONS:max_allocation_size_mb=256" \
			sl-sync --diff blog.example.org "$A" "$NODE"
	else
		run --separate-stderr bash -c 'ulimit -v 262144 && exec sl-sync --diff blog.example.org "$1" "$2"' \
			_ "$A" "$NODE"
	fi
}

@test "a node that keeps to the bounds is answered: the diff of the old content" {
	diff_against good
	assert_success
	assert_output --partial "$(printf '%s\n' 'A app.ini' 'M main.py' '')"
	assert_output --partial "$(printf '%s\n' '--- a/main.py' '+++ b/main.py' '@@ -1 +1 @@' '-old' '+new')"
}

@test "a manifest of 8 GiB announced: refused before it is read" {
	diff_against manifest
	assert_failure 111
	assert_equal "$stderr" "sl-sync: fatal: the node announced a manifest of 8589934592 bytes, more than the 64 MiB allowed: refused"
	assert_output ""
}

@test "8 GiB announced for a 4-byte file of the manifest: refused before it is read" {
	diff_against file
	assert_failure 111
	assert_output "$(printf 'A app.ini\nM main.py')"
	assert_equal "$stderr" "$(printf '%s\n' \
		"sl-sync: blog.example.org serves up.2024-01-01_001" \
		"sl-sync: fatal: the node announced 8589934592 bytes for main.py, not the 4 of its manifest (at most 1048576 are read): refused")"
}

@test "a line that never ends: refused at 4096 bytes" {
	diff_against line
	assert_failure 111
	assert_equal "$stderr" "sl-sync: fatal: the node answered a line longer than 4096 bytes: refused"
}
