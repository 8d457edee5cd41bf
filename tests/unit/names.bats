#!/usr/bin/env bats
# The Unix user each app runs as (libsl/appuser.c): never shared by two
# apps. Long names carry a wide hash; a user that already exists is used
# only when its GECOS names the app. The users are made with adduser, as
# a node makes them, in a private mount namespace whose /etc is an
# overlay: the machine's own users are never touched.
bats_require_minimum_version 1.5.0

load ../lib/common

setup() {
	common_setup
	T=$TOP/build/tests/libsl-test
	# the pair that mapped to one user, sl-customer-billing-ser-0981467a
	A=customer-billing-service-prod01
	B=customer-billing-serzzz0hsqaclh
}

# needs_ns: the test skips without a private mount namespace (root); a
# skip inside `run` would only end run's subshell
needs_ns() {
	unshare --mount --propagation private true 2>/dev/null ||
		skip "needs root, for a private mount namespace"
}

# on_node SCRIPT [ARG...]: bash runs SCRIPT with an /etc of its own
on_node() {
	mkdir -p "$BATS_TEST_TMPDIR/etc"
	unshare --mount --propagation private bash -c '
		d=$1 script=$2; shift 2
		mount -t tmpfs tmpfs "$d" && mkdir "$d/up" "$d/work" &&
			mount -t overlay overlay -o "lowerdir=/etc,upperdir=$d/up,workdir=$d/work" /etc ||
			exit 9
		eval "$script"' on_node "$BATS_TEST_TMPDIR/etc" "$@"
}

# What sl-activate runs for an app's user (node_user APP USER GECOS)
NODE_USER='node_user() {
	adduser --quiet --system --group --no-create-home --home /var/lib/silverlining/instances \
		--gecos "$3" --shell /usr/sbin/nologin "$2" < /dev/null
}'

@test "the published collision pair maps to two different users" {
	run -0 sl-app --user "$A"
	ua=$output
	run -0 sl-app --user "$B"
	ub=$output
	[ "$ua" != "$ub" ] || fail "$A and $B share the user $ua"
}

@test "every name maps to a valid user name of at most 32 characters, none shared" {
	# 20,000 names of 30 and 31 characters sharing their first 20: the
	# names that are cut, and where the old 32-bit tag collided
	awk 'BEGIN { srand(12); a = "abcdefghijklmnopqrstuvwxyz0123456789-"
		for (i = 0; i < 20000; i++) {
			s = "customer-billing-ser"
			n = 10 + i % 2
			for (j = 0; j < n; j++) s = s substr(a, 1 + int(rand() * 36), 1)
			print s
		}
		print "a"; print "abcdefghijabcdefghijabcdefghi"; print "abcdefghijabcdefghijabcdefghij"
	}' | sort -u > "$BATS_TEST_TMPDIR/names"
	run -0 "$T" appuser < "$BATS_TEST_TMPDIR/names"
	printf '%s\n' "$output" > "$BATS_TEST_TMPDIR/users"
	[ "$(wc -l < "$BATS_TEST_TMPDIR/users")" = "$(wc -l < "$BATS_TEST_TMPDIR/names")" ]
	# Debian's adduser takes names of this shape (NAME_REGEX), up to 32
	run -0 awk '$2 !~ /^[a-z][-a-z0-9]*$/ || length($2) > 32 { print; bad = 1 } END { exit bad }' \
		"$BATS_TEST_TMPDIR/users"
	run -0 sh -c "cut -d' ' -f2 '$BATS_TEST_TMPDIR/users' | sort | uniq -d"
	assert_output ""
	# names that fit are kept as they were
	run -0 grep -x 'a sl-a' "$BATS_TEST_TMPDIR/users"
	run -0 grep -x 'abcdefghijabcdefghijabcdefghi sl-abcdefghijabcdefghijabcdefghi' "$BATS_TEST_TMPDIR/users"
	run -0 grep '^abcdefghijabcdefghijabcdefghij sl-[a-z2-7]\{29\}$' "$BATS_TEST_TMPDIR/users"
}

@test "the owner rule: the first GECOS field must name the app, exactly" {
	run -0 "$T" appuser-check blog sl-blog 'silverlining app blog'
	run -0 "$T" appuser-check blog sl-blog 'silverlining app blog,,,'
	run -100 "$T" appuser-check blog sl-blog 'silverlining app blog2'
	assert_output "libsl-test: fatal: the user sl-blog of app blog belongs to app blog2: two apps never share a user"
	run -100 "$T" appuser-check blog sl-blog 'silverlining app blo'
	run -100 "$T" appuser-check blog sl-blog 'silverlining app '
	run -100 "$T" appuser-check blog sl-blog 'silverlining app'
	run -100 "$T" appuser-check blog sl-blog ''
	run -100 "$T" appuser-check blog sl-blog 'Silverlining app blog'
}

@test "a user that exists with another app's GECOS is refused, naming both apps" {
	needs_ns
	# A's user exists under the name B maps to: B must not get it
	run -0 sl-app --user "$B"
	ub=$output
	run -100 on_node "$NODE_USER"'
		node_user "$1" "$2" "silverlining app $3" || exit 8
		sl-app --user "$1"' "$B" "$ub" "$A"
	assert_output "sl-app: fatal: the user $ub of app $B belongs to app $A: two apps never share a user"
	# the services look the user up the same way
	run -100 on_node "$NODE_USER"'
		node_user "$1" "$2" "silverlining app $3" || exit 8
		sl-service-files env "$1"' "$B" "$ub" "$A"
	assert_output "sl-service-files: fatal: the user $ub of app $B belongs to app $A: two apps never share a user"
}

@test "a user made as the node makes it is the app's own" {
	needs_ns
	run -0 sl-app --user "$A"
	ua=$output
	run -0 on_node "$NODE_USER"'
		node_user "$1" "$2" "silverlining app $1" || exit 8
		getent passwd "$2" | cut -d: -f5
		sl-app --user "$1"' "$A" "$ua"
	assert_output "$(printf 'silverlining app %s,,,\n%s' "$A" "$ua")"
}

@test "a user of that name made by someone else is refused, with how to claim it" {
	needs_ns
	run -0 on_node "$NODE_USER"'
		adduser --quiet --system --no-create-home sl-my-blog < /dev/null || exit 8
		sl-app --user my-blog; echo "exit $?"
		usermod -c "silverlining app my-blog" sl-my-blog && sl-app --user my-blog'
	assert_output "$(printf '%s\n' \
		"sl-app: fatal: the user sl-my-blog of app my-blog exists but is not recorded as app my-blog's (its GECOS is ''); if it is the app's, record that with usermod -c 'silverlining app my-blog' sl-my-blog" \
		'exit 100' sl-my-blog)"
}

@test "the machine's own users are untouched by the tests" {
	run -2 getent passwd sl-my-blog
	run -0 sl-app --user "$A"
	run -2 getent passwd "$output"
}
