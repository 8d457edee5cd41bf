#!/usr/bin/env bats
# Idle Python apps on a provisioned local node: each instance's socket is
# systemd's, its uWSGI exits after app.ini's idle_timeout and the next
# connection starts it again. One node, 20 apps (the same code under
# --name), a short idle_timeout; figures printed, none asserted on time.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/lab

ROOT=/var/lib/silverlining
N=20

setup_file() {
	lab_setup_file
	provisioned_node_up idle
	export HELLO=$BATS_FILE_TMPDIR/hello
	cp -r "$TOP/examples/hello" "$HELLO"
	echo 'idle_timeout = 2' >> "$HELLO/app.ini"
}

teardown_file() {
	sl-node destroy idle 3>&- || true
}

setup() {
	lab_setup
}

# status and seconds of one request to HOST
ask() { curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H "Host: $1" "http://$NODE_IP/"; }
# the uWSGI processes of the node
uwsgis() { on sh -c "pgrep -c -f '^/usr/bin/uwsgi ' || true"; }
# the proportional set size of every process on the node, and of its
# uWSGI processes, in MiB ("free" would show the host's memory)
pss() {
	on sh -c 'for p in /proc/[0-9]*; do
		c=$(tr "\0" " " < $p/cmdline 2>/dev/null)
		awk -v c="$c" '"'"'/^Pss:/ { print $2, (c ~ /^\/usr\/bin\/uwsgi / ? "uwsgi" : "other") }'"'"' $p/smaps_rollup 2>/dev/null
	done 2>/dev/null' | awk '{ all += $1; if ($2 == "uwsgi") u += $1 } END { printf "%d MiB (uWSGI %d MiB)", all / 1024, u / 1024 }'
}
# waits until no uWSGI runs on the node (at most 30 s)
all_idle() {
	for _ in $(seq 150); do
		[ "$(uwsgis)" = 0 ] && return 0
		sleep 0.2
	done
	return 1
}

@test "$N idle apps keep no uWSGI process, and each answers its next request" {
	before=$(pss)
	for i in $(seq $N); do
		run -0 up --name "app$i" "$HELLO" "app$i.test"
	done
	for i in $(seq $N); do
		run -0 ask "app$i.test"
		assert_output --regexp '^200 '
	done
	busy=$(pss)
	run -0 ask app1.test
	[ "$(uwsgis)" -gt 0 ] || fail "no uWSGI just after a request"
	all_idle || fail "uWSGI still runs: $(on pgrep -a -f /usr/bin/uwsgi)"
	idle=$(pss)
	run -0 on sl-query app1
	assert_output --partial ' idle app1.test'
	echo "# node memory (Pss of every process): $before before the apps, $busy with $N apps serving, $idle with them idle" >&3
	# each answers its next request: its uWSGI started by the connection
	run -0 ask app1.test
	assert_output --regexp '^200 '
	echo "# first request after idle: ${output#* } s" >&3
	for i in $(seq 2 $N); do
		run -0 ask "app$i.test"
		assert_output --regexp '^200 '
	done
	# the one asked last runs until its idle_timeout
	run -0 on sl-query "app$N"
	assert_output --partial " running app$N.test"
}

@test "a rollback to an idle previous instance is the switch alone" {
	run -0 up --name app1 "$HELLO" app1.test
	new=$(head -n 1 <<<"$output")
	all_idle || fail "uWSGI still runs"
	run -0 on sl-query app1
	assert_output --regexp " idle prev\.app1\.test"
	seconds silver activate --node "$NODE" app1.test prev
	echo "# rollback with an idle previous instance: $SECONDS_TAKEN s (ssh included)" >&3
	run -0 ask app1.test
	assert_output --regexp '^200 '
	run -0 on sl-query app1
	assert_output --partial "$new"
}

@test "a stream of requests across a switch to a new instance and a rollback to an idle one has no failure" {
	codes=$BATS_TEST_TMPDIR/codes
	( while [ ! -e "$codes.stop" ]; do
		curl -s -o /dev/null -w '%{http_code}\n' -H 'Host: app2.test' "http://$NODE_IP/" >> "$codes"
	done ) &
	run -0 up --name app2 "$HELLO" app2.test
	# the instance it replaced, kept for rollback, goes idle
	for _ in $(seq 150); do
		on sl-query app2 | grep -q ' idle prev\.app2\.test' && break
		sleep 0.2
	done
	run -0 on sl-query app2
	assert_output --regexp ' idle prev\.app2\.test'
	run -0 silver activate --node "$NODE" app2.test prev
	touch "$codes.stop"
	wait
	echo "# $(wc -l < "$codes") requests across a switch and a rollback" >&3
	run -0 sort -u "$codes"
	assert_output 200
}
