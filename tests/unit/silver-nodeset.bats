#!/usr/bin/env bats
# silverlining — sl-nodeset(1), and silver's --nodeset NAME and --node NAME:
# what each verb asks of the tools (laptop tools faked on PATH; sl-nodeset
# is the real one except its --each, which reaches nodes).
bats_require_minimum_version 1.5.0
load ../lib/common

setup() {
	common_setup
	unset SL_YES SL_VERBOSITY
	export SL_LOCAL=$BATS_TEST_TMPDIR/local
	mkdir -p "$SL_LOCAL/nodes/web3" "$HOME/.silverlining/nodesets"
	echo 10.231.0.7 > "$SL_LOCAL/nodes/web3/ip"
	NS=$HOME/.silverlining/nodesets/prod.ini
	printf '%s\n' '[nodeset]' 'app = root@10.0.0.2' '  web3' 'balancer = 10.0.0.9:2222' 'fall = 4' > "$NS"
	FAKE=$BATS_TEST_TMPDIR/fakebin
	mkdir -p "$FAKE"
	cp "$TOP/bin/silver" "$FAKE/silver"
	# each fake says on stderr what it was given; --each answers $EACH on stdout
	for t in sl-remote sl-sync sl-provision; do
		printf '#!/bin/sh\necho "%s $*" >&2\n' "$t" > "$FAKE/$t"
	done
	cat > "$FAKE/sl-nodeset" <<SH
#!/bin/sh
case " \$* " in
*" --each "*|*" --db-setup "*|*" --db-state "*|*" --failover "*) echo "sl-nodeset \$*" >&2; [ -z "\${EACH-}" ] || printf '%s\n' "\$EACH"; exit \${EACH_CODE:-0} ;;
esac
exec "$TOP/bin/sl-nodeset" "\$@"
SH
	chmod 755 "$FAKE"/*
	S=$FAKE/silver
}

@test "sl-nodeset NAME: the nodes resolved, the checks, the file" {
	run -0 --separate-stderr sl-nodeset prod
	assert_equal "$stderr" ""
	assert_output "app root@10.0.0.2
app root@10.231.0.7
balancer 10.0.0.9:2222
check 2 4 2
file $NS"
}

@test "sl-nodeset --ini NAME: the nodeset again, resolved, for sl-balancer --apply" {
	run -0 sl-nodeset --ini prod
	assert_output "[nodeset]
app = root@10.0.0.2
      root@10.231.0.7
balancer = 10.0.0.9:2222
check_interval = 2
fall = 4
rise = 2"
	# what it prints is a nodeset that loads to the same
	sl-nodeset --ini prod > "$HOME/.silverlining/nodesets/again.ini"
	run -0 sl-nodeset again
	assert_line --index 1 "app root@10.231.0.7"
}

@test "sl-nodeset --node: a local node's name, else the address checked" {
	run -0 sl-nodeset --node web3
	assert_output root@10.231.0.7
	run -0 sl-nodeset --node admin@web9.example:2200
	assert_output admin@web9.example:2200
	run -100 sl-nodeset --node 'a b'
	assert_output "sl-nodeset: fatal: invalid node 'a b': want [user@]host[:port] or a local node's name"
}

@test "sl-nodeset: warnings on stderr, errors with their codes, usage" {
	printf '%s\n' '[nodeset]' 'app = a' 'speed = 3' > "$HOME/.silverlining/nodesets/w.ini"
	run -0 --separate-stderr sl-nodeset w
	assert_equal "$stderr" "sl-nodeset: warning: $HOME/.silverlining/nodesets/w.ini:3: unknown key 'speed' ignored"
	run -100 sl-nodeset nope
	assert_output "sl-nodeset: fatal: unable to read $HOME/.silverlining/nodesets/nope.ini: No such file or directory"
	run -100 sl-nodeset ../prod
	assert_output --partial "sl-nodeset: fatal: invalid nodeset name '../prod'"
	run -100 sl-nodeset
	assert_output --partial "sl-nodeset: usage: "
	run -100 sl-nodeset --timeout 3 prod
	assert_output --partial "sl-nodeset: usage: "
	run -100 sl-nodeset --each prod sl-query
	assert_output --partial "sl-nodeset: usage: "
	printf '%s\n' '[nodeset]' 'app = a' > "$HOME/.silverlining/nodesets/nob.ini"
	run -100 sl-nodeset --rolling --each nob -- true
	assert_output "sl-nodeset: fatal: nodeset nob ($HOME/.silverlining/nodesets/nob.ini) has no balancer: --rolling drains each node through it"
}

@test "sl-nodeset --each: a node that cannot be reached says so, prefixed, with the worst code" {
	printf '%s\n' '[nodeset]' 'app = root@127.0.0.1:1' '  127.0.0.2:1' > "$HOME/.silverlining/nodesets/dead.ini"
	run -111 --separate-stderr sl-nodeset --each dead -- sl-query
	assert_equal "$output" ""
	[[ $stderr == *"127.0.0.1: sl-nodeset: fatal: unable to connect to root@127.0.0.1:1"* ]]
	[[ $stderr == *"127.0.0.2: sl-nodeset: fatal: unable to connect to root@127.0.0.2:1"* ]]
}

@test "silver --node NAME: a local node's name is its address" {
	run -0 "$S" query --node web3 blog
	assert_output "sl-remote root@10.231.0.7 sl-query blog"
	run -0 "$S" list-certs web3
	assert_output "sl-remote root@10.231.0.7 sl-cert list"
	run -0 "$S" setup-node --accept-new web3
	assert_output "sl-provision --accept-new root@10.231.0.7"
	run -100 "$S" query --node 'x y'
	assert_output "sl-nodeset: fatal: invalid node 'x y': want [user@]host[:port] or a local node's name"
}

@test "silver update --nodeset: sl-sync's fleet form with every app node" {
	mkdir -p "$BATS_TEST_TMPDIR/app"
	run -0 "$S" update --nodeset prod "$BATS_TEST_TMPDIR/app" a.test
	assert_output "sl-sync --balancer 10.0.0.9:2222 --activate a.test $BATS_TEST_TMPDIR/app root@10.0.0.2 root@10.231.0.7"
	run -0 "$S" update --nodeset prod --rolling --skip web3 "$BATS_TEST_TMPDIR/app" a.test
	assert_output "sl-sync --rolling --balancer 10.0.0.9:2222 --skip root@10.231.0.7 --activate a.test $BATS_TEST_TMPDIR/app root@10.0.0.2 root@10.231.0.7"
	run -100 "$S" update --nodeset prod --skip 10.9.9.9 "$BATS_TEST_TMPDIR/app" a.test
	assert_output "silver: fatal: --skip 10.9.9.9: not an app node of nodeset prod"
	run -100 "$S" update --node web3 --nodeset prod "$BATS_TEST_TMPDIR/app" a.test
	assert_output "silver: fatal: --node and --nodeset: give one"
	run -100 "$S" update --rolling "$BATS_TEST_TMPDIR/app" a.test
	assert_output "silver: fatal: --rolling needs --nodeset NAME"
	run -100 "$S" deactivate --nodeset prod --rolling a.test
	assert_output "silver: fatal: --rolling is an option of update and activate"
}

@test "silver activate --nodeset LOCATION prev: one previous instance everywhere, then each node" {
	EACH=$'10.0.0.2: blog.2026-01-01_001\n10.231.0.7: blog.2026-01-01_001' \
		run -0 "$S" activate --nodeset prod a.test/x prev
	assert_line --index 0 "sl-nodeset --each prod -- sl-route prev.a.test/x"
	assert_line --index 1 "sl-nodeset --each prod -- sl-activate blog.2026-01-01_001 a.test/x"
	EACH=$'10.0.0.2: blog.2026-01-01_001\n10.231.0.7: blog.2026-01-01_002' \
		run -100 "$S" activate --nodeset prod --rolling a.test prev
	assert_line --index 1 "silver: fatal: the nodes of prod have different previous instances at a.test, so prev would not give one version: 10.0.0.2: blog.2026-01-01_001 10.231.0.7: blog.2026-01-01_002 (silver activate --nodeset prod a.test INSTANCE names one)"
	# a node with no previous instance: its code, nothing activated
	EACH_CODE=1 run -1 "$S" activate --nodeset prod a.test prev
	assert_output "sl-nodeset --each prod -- sl-route prev.a.test"
}

@test "silver activate --nodeset LOCATION INSTANCE: on every node, or refused; --rolling through the balancer" {
	EACH=$'10.0.0.2: blog.2026-01-01_001\n10.231.0.7: blog.2026-01-01_001\n10.231.0.7: blog.2026-01-01_002' \
		run -0 "$S" activate --nodeset prod --rolling a.test blog.2026-01-01_001
	assert_line --index 0 "sl-nodeset --each prod -- sl-route --instances blog"
	assert_line --index 1 "sl-nodeset --rolling --each prod -- sl-activate blog.2026-01-01_001 a.test"
	EACH=$'10.0.0.2: blog.2026-01-01_001\n10.231.0.7: blog.2026-01-01_002' \
		run -100 "$S" activate --nodeset prod a.test blog.2026-01-01_002
	assert_line --index 1 "silver: fatal: blog.2026-01-01_002 is not on every node of nodeset prod (silver query --nodeset prod)"
}

@test "silver query --nodeset: every node, then the balancer's view; the worst code" {
	run -0 "$S" query --nodeset prod blog
	assert_output "sl-nodeset --each prod -- sl-query blog
sl-nodeset --balancer --each prod -- sl-balancer --state"
	EACH_CODE=111 run -111 "$S" query -i key --nodeset prod
	assert_output "sl-nodeset -i key --each prod -- sl-query
sl-nodeset -i key --balancer --each prod -- sl-balancer --state"
}

@test "silver's other node verbs with --nodeset: each app node" {
	run -0 "$S" deactivate --nodeset prod a.test b.test
	assert_output "sl-nodeset --each prod -- sl-activate --deactivate a.test b.test"
	run -0 "$S" disable --nodeset prod a.test
	assert_output "sl-nodeset --each prod -- sl-activate --disable a.test"
	run -0 "$S" logs --nodeset prod a.test
	assert_output "sl-nodeset --each prod -- sl-query --logs a.test"
	run -0 "$S" clean-node --nodeset prod -n
	assert_output "sl-nodeset --each prod -- sl-query --clean -n"
	run -0 "$S" jobs --nodeset prod a.test
	assert_output "sl-nodeset --each prod -- sl-job --list a.test"
	printf 'C\n' > "$BATS_TEST_TMPDIR/c.pem"
	printf 'K\n' > "$BATS_TEST_TMPDIR/k.pem"
}

@test "silver's certificate verbs with --nodeset: the balancer's (TLS is its), its PEMs refreshed" {
	run -0 "$S" list-certs --nodeset prod
	assert_output "sl-remote 10.0.0.9:2222 sl-cert list"
	run -0 "$S" renew-certs --nodeset prod --force
	assert_output "sl-remote 10.0.0.9:2222 sl-cert renew --force"
	run -0 "$S" renew-certs --nodeset prod a.test
	assert_output "sl-remote 10.0.0.9:2222 sl-cert renew a.test
sl-remote 10.0.0.9:2222 sl-balancer --cert a.test"
	# install: the chain and key on sl-cert's stdin, then the hosts it names
	printf '#!/bin/sh
echo "sl-remote $*" >&2
case "$*" in *"sl-cert install") cat > /dev/null; echo "a.test a.test,*.a.test expires=2030-01-01" ;; esac
' > "$FAKE/sl-remote"
	printf 'C\n' > "$BATS_TEST_TMPDIR/c.pem"
	printf 'K\n' > "$BATS_TEST_TMPDIR/k.pem"
	run -0 "$S" install-cert --nodeset prod "$BATS_TEST_TMPDIR/c.pem" "$BATS_TEST_TMPDIR/k.pem"
	assert_output "sl-remote 10.0.0.9:2222 sl-cert install
a.test a.test,*.a.test expires=2030-01-01
sl-remote 10.0.0.9:2222 sl-balancer --cert a.test *.a.test"
	# activate of an https location: the balancer's certificate first, the nodes ask no CA
	EACH=$'10.0.0.2: blog.2026-01-01_001\n10.231.0.7: blog.2026-01-01_001' \
		run -0 "$S" activate --nodeset prod --acme-email a@b.test --hsts https://a.test/ prev
	assert_line --index 1 "sl-remote 10.0.0.9:2222 sl-balancer --cert --acme-email a@b.test --hsts a.test"
	assert_line --index 2 "sl-nodeset --each prod -- sl-activate --hsts blog.2026-01-01_001 https://a.test/"
	# without a balancer, the nodes as before
	printf '%s\n' '[nodeset]' 'app = root@10.0.0.2' '  web3' > "$NS"
	run -0 "$S" list-certs --nodeset prod
	assert_output "sl-nodeset --each prod -- sl-cert list"
}

@test "silver: the verbs of one node's data refuse --nodeset with 100" {
	for v in "backup a.test d" "restore b a.test" "clear a.test" "run a.test s" "run-job a.test j" "diff . a.test"; do
		run -100 "$S" -y ${v%% *} --nodeset prod ${v#* }
		assert_output "silver: fatal: ${v%% *} works on one node (each node holds its own data and instances): give --node NODE, not --nodeset"
	done
	run -100 "$S" logs --nodeset prod -f a.test
	assert_output "silver: fatal: logs -f follows one node: give --node NODE, not --nodeset"
}

@test "silver setup-node --nodeset: each app node, the balancer, its configuration, the nodes told its address" {
	run -0 "$S" setup-node --accept-new --nodeset prod
	assert_output "sl-provision --accept-new root@10.0.0.2
sl-provision --accept-new root@10.231.0.7
sl-provision --accept-new --balancer 10.0.0.9:2222
sl-remote --accept-new 10.0.0.9:2222 sl-balancer --apply
sl-nodeset --accept-new --each prod -- sl-activate --balancers 10.0.0.9"
	run -100 "$S" setup-node --nodeset prod web3
	assert_output --partial "silver: fatal: too many operands"
}

@test "silver query --nodeset with service nodes: the databases' state last" {
	printf '%s\n' 'service = db.example' >> "$NS"
	run -0 "$S" query --nodeset prod
	assert_output "sl-nodeset --each prod -- sl-query
sl-nodeset --balancer --each prod -- sl-balancer --state
sl-nodeset --db-state prod"
	run -0 sl-nodeset prod
	assert_line --index 2 "service db.example"
	# --ini gives them back, and what it prints loads to the same
	sl-nodeset --ini prod > "$HOME/.silverlining/nodesets/again.ini"
	run -0 sl-nodeset again
	assert_line --index 2 "service db.example"
}

@test "silver setup-node --nodeset with service nodes: each made one (--service), then the databases set up" {
	mkdir -p "$SL_LOCAL/nodes/db1"
	echo 10.231.0.9 > "$SL_LOCAL/nodes/db1/ip"
	printf '%s\n' 'service = db1' '  db2.example' >> "$NS"
	run -0 "$S" setup-node -i key --nodeset prod
	assert_output "sl-provision -i key root@10.0.0.2
sl-provision -i key root@10.231.0.7
sl-provision -i key --service root@10.231.0.9
sl-provision -i key --service db2.example
sl-provision -i key --balancer 10.0.0.9:2222
sl-remote -i key 10.0.0.9:2222 sl-balancer --apply
sl-nodeset -i key --each prod -- sl-activate --balancers 10.0.0.9
sl-nodeset -i key --db-setup prod"
	# no balancer: the databases are set up all the same
	printf '%s\n' '[nodeset]' 'app = web3' 'service = db1' > "$NS"
	run -0 "$S" setup-node --nodeset prod
	assert_output "sl-provision root@10.231.0.7
sl-provision --service root@10.231.0.9
sl-nodeset --db-setup prod"
}

@test "silver failover: with --nodeset only, confirmed by -y (then --yes) or on a terminal" {
	run -100 "$S" failover
	assert_output "silver: fatal: failover works on a nodeset's service nodes: give --nodeset NAME"
	run -100 "$S" failover --node web1
	assert_output "silver: fatal: failover works on a nodeset's service nodes: give --nodeset NAME"
	run -100 "$S" failover --rebuild --rolling --nodeset prod
	assert_output "silver: fatal: --rolling is an option of update and activate"
	run -100 "$S" failover --nodeset prod extra
	assert_output --partial "silver: fatal: too many operands"
	run -100 "$S" failover --nodeset prod < /dev/null
	assert_output "silver: fatal: failover fences the primary database of nodeset prod and promotes a standby: confirm with silver -y failover"
	run -0 "$S" -y failover --timeout 5 --rebuild --to db2 --nodeset prod
	assert_output "sl-nodeset --timeout 5 --failover --rebuild --to db2 --yes prod"
	EACH_CODE=100 run -100 "$S" -y failover --nodeset prod
	assert_output "sl-nodeset --failover --yes prod"
	# a person says yes, then whether to rebuild: never --yes (a risky case is refused, and says -y)
	run -0 "$TOP/tests/lib/on-terminal" y y -- "$S" failover --nodeset prod
	assert_output --partial "sl-nodeset --failover --rebuild prod"
	run -0 "$TOP/tests/lib/on-terminal" y n -- "$S" failover --nodeset prod
	assert_output --partial "sl-nodeset --failover prod"
	run -1 "$TOP/tests/lib/on-terminal" n -- "$S" failover --nodeset prod
	refute_output --partial "sl-nodeset"
	run -0 "$S" failover --help
	assert_output "usage: silver failover [--accept-new] [-i FILE] [--timeout SECONDS] [--rebuild] [--to NODE] --nodeset NAME"
}
