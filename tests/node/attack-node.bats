#!/usr/bin/env bats
# Attacks on the node runtime by an app, or by what a user may type: the
# log root opens, the routes written for *, update_fetch scripts that hang,
# instances another app reads, an instance that keeps failing, locations
# the node keeps for itself. Each test does what an attacker would and
# fails on a node without the fix it proves.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/lab

ROOT=/var/lib/silverlining
LOGS=/var/log/silverlining

setup_file() {
	lab_setup_file
	provisioned_node_up attack
	# two apps from hello: the victim, and the attacker who shares its node
	for app in victim attacker crashy hang; do
		cp -r "$TOP/examples/hello" "$BATS_FILE_TMPDIR/$app"
		sed -i "s/^app_name = .*/app_name = $app/" "$BATS_FILE_TMPDIR/$app/app.ini"
	done
	# crashy will not start while /etc/sl-crash exists (the app reads it)
	sed -i '1i import os\nif os.path.exists("/etc/sl-crash"):\n    raise SystemExit("crashy: /etc/sl-crash says fail")' \
		"$BATS_FILE_TMPDIR/crashy/main.py"
	sed -i 's/^update_fetch = .*/update_fetch = script: sleep 100000/' "$BATS_FILE_TMPDIR/hang/app.ini"
	silver update --node "$NODE" "$BATS_FILE_TMPDIR/victim" victim.test >&3 2>&1 &&
		silver update --node "$NODE" "$BATS_FILE_TMPDIR/attacker" attacker.test >&3 2>&1
}

teardown_file() {
	sl-node destroy attack 3>&- || true
}

setup() {
	lab_setup
}

as_attacker() { on runuser -u sl-attacker -- sh -c "$1"; }
instance_at() { on sl-query --instance "$1"; }
main_pid() { on systemctl show -P MainPID "silverlining-instance@$1.service"; }

# restarted INSTANCE OLDPID: waits until systemd has started it again and it answers
restarted() {
	local i pid
	for i in $(seq 300); do
		pid=$(main_pid "$1")
		if [ "$pid" != 0 ] && [ "$pid" != "$2" ] && on test -S "/run/silverlining/$1.sock"; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

@test "users record their app: the GECOS of each app's user names it" {
	run -0 on sh -c 'getent passwd sl-victim sl-attacker | cut -d: -f5 | cut -d, -f1'
	assert_output "silverlining app victim
silverlining app attacker"
}

@test "an app cannot make root open its log through a symlink (uWSGI's logto)" {
	inst=$(instance_at attacker.test)
	before=$(on cat $ROOT/secrets/victim)
	# the attack: app.log becomes a symlink to another app's secret, then the
	# app kills its own master; the master started again opens logto as root
	as_attacker "ln -sfn $ROOT/secrets/victim $LOGS/apps/attacker/app.log" || true
	pid=$(main_pid "$inst")
	as_attacker "kill -9 $pid"
	restarted "$inst" "$pid" || fail "$inst did not come back"
	run -0 status attacker.test
	assert_output 200
	run on sh -c 'for p in $(pgrep -u sl-attacker); do ls -l /proc/$p/fd; done'
	refute_output --partial "secrets/victim"
	run -0 on cat $ROOT/secrets/victim
	assert_output "$before"
	run -0 on stat -c '%U %G %a' $LOGS/apps/attacker $LOGS/apps/attacker/app.log
	assert_output "root sl-attacker 1770
root sl-attacker 640"
}

@test "silver logs reads the log with the app's rights, whatever the log directory holds" {
	# a node laid out before the fix: the app owned its log directory
	on chown sl-attacker $LOGS/apps/attacker
	as_attacker "ln -sfn /etc/shadow $LOGS/apps/attacker/app.log"
	run silver logs --node "$NODE" attacker.test
	refute_output --partial "root:"
	# the next deploy takes the directory back and lays a log of root's own
	run -0 silver update --node "$NODE" "$BATS_FILE_TMPDIR/attacker" attacker.test
	run -0 on stat -c '%U %F' $LOGS/apps/attacker $LOGS/apps/attacker/app.log
	assert_output "root directory
root regular file"
}

@test "an app reads no other app's instance, run files or upload index; nginx still serves static/" {
	v=$(instance_at victim.test)
	run as_attacker "cat $ROOT/instances/$v/main.py"
	assert_failure
	run as_attacker "cat $ROOT/instances/$v/app.ini"
	assert_failure
	run as_attacker "cat $ROOT/run/$v/wsgi.py"
	assert_failure
	run as_attacker "ls $ROOT/instances/"
	assert_failure
	run as_attacker "cat $ROOT/instances/.index-victim"
	assert_failure
	# the app itself, and nginx for static/, still read what they need
	run -0 on runuser -u sl-victim -- cat "$ROOT/instances/$v/main.py"
	run -0 status victim.test /style.css
	assert_output 200
	run -0 status victim.test
	assert_output 200
}

@test "an app cannot talk to another app's instance past nginx, through its socket or a link to it" {
	v=$(instance_at victim.test)
	sock=/run/silverlining/$v.sock
	# nginx (www-data) reaches it: the socket is there and answers
	run -0 on runuser -u www-data -- curl -s -o /dev/null -w '%{http_code}' \
		--unix-socket "$sock" -H 'Host: victim.test' http://victim.test/
	assert_output 200
	# the attacker's own app user does not, by the path or by a link it made
	run as_attacker "curl -sS --unix-socket $sock -H 'Host: victim.test' http://victim.test/"
	assert_failure 7
	run as_attacker "ln -sf $sock /tmp/v.sock && curl -sS --unix-socket /tmp/v.sock http://victim.test/"
	assert_failure 7
}

@test "a route for * is a host, never a glob of the node's working directory" {
	on touch /root/glob-bait /glob-bait
	run -0 silver update --node "$NODE" "$BATS_FILE_TMPDIR/attacker" '*'
	run -0 on cat $ROOT/nginx/routes.conf
	refute_output --partial glob-bait
	run -0 status anything.test
	assert_output 200
	run -0 on awk '$1 == "*"' $ROOT/routes
	assert_output --regexp '^\* / attacker\.'
	run -0 silver deactivate --node "$NODE" '*'
	run -0 status anything.test
	assert_output 404
	on rm -f /root/glob-bait /glob-bait
}

# upload DIR: uploads an instance without activating it; its name on stdout
upload() { sl-sync "$1" "$NODE" | tail -n 1; }

@test "an update_fetch script that hangs is stopped at the limit, with all it started" {
	inst=$(upload "$BATS_FILE_TMPDIR/hang")
	[[ $inst =~ ^hang\. ]] || fail "upload said: $inst"
	# (the guard only ends a test that would otherwise wait for the sleep)
	run -100 --separate-stderr timeout 300 sl-remote "$NODE" env SL_FETCH_LIMIT=3 sl-activate "$inst" hang.test
	[[ $stderr == *"ran longer than 3 seconds: stopped"* ]] || fail "$stderr"
	[[ $stderr == *"nothing switched"* ]] || fail "$stderr"
	run on pgrep -u sl-hang sleep
	assert_failure
	run -0 status hang.test
	assert_output 404
}

@test "a hung update_fetch of one app blocks neither another app's deploy nor any rollback" {
	inst=$(upload "$BATS_FILE_TMPDIR/hang")
	on env SL_FETCH_LIMIT=600 sl-activate "$inst" hang.test 3>&- > "$BATS_TEST_TMPDIR/hang.out" 2>&1 &
	bg=$!
	for _ in $(seq 100); do
		on systemctl is-active -q "silverlining-fetch-$inst.scope" && break
		sleep 0.2
	done
	run -0 on systemctl is-active "silverlining-fetch-$inst.scope"
	# the hang holds its app's lock: the others go on (the guard only ends a
	# test that would otherwise wait out the node lock's ten minutes)
	run -0 timeout 120 silver update --node "$NODE" "$BATS_FILE_TMPDIR/victim" victim.test
	run -0 timeout 120 silver activate --node "$NODE" victim.test prev
	run -0 timeout 120 silver activate --node "$NODE" victim.test prev
	run -0 on systemctl is-active "silverlining-fetch-$inst.scope"
	on systemctl stop "silverlining-fetch-$inst.scope"
	rc=0
	wait "$bg" || rc=$?
	[ "$rc" = 100 ] || fail "the hung deploy ended with $rc: $(cat "$BATS_TEST_TMPDIR/hang.out")"
	run -0 status victim.test
	assert_output 200
}

@test "an instance that keeps failing is started again with a back-off, shown failing, and serves once it can" {
	run -0 silver update --node "$NODE" "$BATS_FILE_TMPDIR/crashy" crashy.test
	inst=$(instance_at crashy.test)
	on touch /etc/sl-crash
	on systemctl kill -s KILL "silverlining-instance@$inst.service"
	# more failures than systemd's default start limit (5 in 10 s) allows
	for _ in $(seq 60); do
		n=$(on sh -c "cut -d' ' -f1 /run/silverlining/failing/$inst 2>/dev/null")
		[ "${n:-0}" -ge 5 ] && break
		sleep 1
	done
	[ "${n:-0}" -ge 5 ] || fail "only ${n:-0} failures were seen"
	run -0 silver query --node "$NODE" crashy
	assert_line --regexp "^crashy $inst failing crashy\.test"
	run -0 on systemctl show -P ActiveState "silverlining-instance@$inst.service"
	refute_output failed
	on rm -f /etc/sl-crash
	for _ in $(seq 90); do
		[ "$(status crashy.test)" = 200 ] && break
		sleep 1
	done
	run -0 status crashy.test
	assert_output 200
}

@test "locations the node keeps, https:// of every host and . or .. segments are refused" {
	before=$(on cat $ROOT/routes)
	uploaded=$(on ls $ROOT/instances)
	inst=$(on ls $ROOT/instances | grep '^victim\.' | head -n 1)
	[ -n "$inst" ] || fail "no instance of victim on the node"
	for loc in 'https://*' http://hello.test/.. hello.test/a/./b prev.victim.test disabled; do
		# refused on the laptop, by the one parser, before anything is sent
		run -100 --separate-stderr silver update --node "$NODE" "$BATS_FILE_TMPDIR/victim" "$loc"
		[[ $stderr == *"sl-route: fatal: "* ]] || fail "$loc: $stderr"
		# and by the node itself, for a caller that is not silver
		run -100 --separate-stderr on sl-activate "$inst" "$loc"
		[[ $stderr == *"sl-activate: fatal: "* ]] || fail "$loc on the node: $stderr"
	done
	[[ $stderr == *"the host name disabled is the node's own"* ]] || fail "$stderr"
	run -0 on ls $ROOT/instances
	assert_output "$uploaded"
	run -0 on cat $ROOT/routes
	assert_output "$before"
}
