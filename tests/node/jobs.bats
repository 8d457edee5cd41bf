#!/usr/bin/env bats
# Scheduled jobs on a provisioned local node: a job runs on its schedule
# in the instance serving its app, follows it across a redeploy and a
# rollback, never overlaps itself, is stopped at its time limit, is
# listed and run by silver, writes to the app's jobs.log as root's own
# file, and goes with its app. Every wait polls.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/lab

LOG=/var/log/silverlining/apps/jb/jobs.log
UNITS=/etc/systemd/system

setup_file() {
	lab_setup_file
	provisioned_node_up jobs
	export JB=$BATS_FILE_TMPDIR/jb
	cp -r "$TOP/examples/hello" "$JB"
	cat >"$JB/app.ini" <<'INI'
[production]
app_name = jb
runner = main.py
health_check = /healthz
job.tick.schedule = *:*:0/3
job.tick.run = script:echo tick $SILVER_INSTANCE_NAME
; every 2 seconds, for 5: never two at once
job.slow.schedule = *:*:0/2
job.slow.run = script:echo slow-begin; sleep 5; echo slow-end
job.hang.schedule = @yearly
job.hang.run = script:sleep 300
job.hang.timeout = 3
job.page.schedule = 0 4 * * *
job.page.run = /healthz
INI
}

teardown_file() {
	sl-node destroy jobs 3>&- || true
}

setup() {
	lab_setup
}


# logged_after N PATTERN: a line of the log after its Nth matches PATTERN,
# within 30 seconds
logged_after() {
	local i
	for ((i = 0; i < 60; i++)); do
		on sh -c "tail -n +$(($1 + 1)) $LOG 2>/dev/null | grep -q -- '$2'" && return 0
		sleep 0.5
	done
	on tail -n 30 $LOG >&3 || true
	return 1
}
lines() { on sh -c "cat $LOG 2>/dev/null | wc -l"; }

@test "a job runs on its schedule in the serving instance, and writes to jobs.log" {
	run -0 up "$JB" jobs.test
	inst=$(head -n 1 <<<"$output")
	echo "$inst" >"$BATS_FILE_TMPDIR/inst1"
	run -0 on ls $UNITS
	assert_line 'silverlining-job@jb:tick.timer'
	assert_line 'silverlining-job@jb:page.timer'
	logged_after 0 "^tick $inst\$"
	run -0 on stat -c '%U %a %h' $LOG
	assert_output 'root 640 1'
}

@test "a bad systemd calendar refuses the deploy; the old instance keeps serving" {
	inst1=$(cat "$BATS_FILE_TMPDIR/inst1")
	bad=$BATS_TEST_TMPDIR/bad
	cp -r "$JB" "$bad"
	echo 'job.bad.schedule = Mon *-*-* 25:00' >>"$bad/app.ini"
	echo 'job.bad.run = /healthz' >>"$bad/app.ini"
	run -100 up "$bad" jobs.test
	assert_output --partial "app.ini:15: invalid job.bad.schedule 'Mon *-*-* 25:00': systemd-analyze calendar says:"
	run -0 on sl-query --instance jobs.test
	assert_output "$inst1"
	run -1 on test -e $UNITS/silverlining-job@jb:bad.timer
}

@test "a redeploy and a rollback move the runs to the instance serving" {
	inst1=$(cat "$BATS_FILE_TMPDIR/inst1")
	echo "# again" >>"$JB/main.py"
	run -0 up "$JB" jobs.test
	inst2=$(head -n 1 <<<"$output")
	[ "$inst2" != "$inst1" ]
	n=$(lines)
	logged_after "$n" "^tick $inst2\$"
	run -0 silver activate --node "$NODE" jobs.test prev
	n=$(lines)
	logged_after "$n" "^tick $inst1\$"
	# and no run of the other instance after the rollback's first
	sleep_until=$(lines)
	logged_after "$sleep_until" "^tick $inst1\$"
	run -0 on sh -c "tail -n +$((n + 1)) $LOG | grep '^tick '"
	refute_output --partial "$inst2"
	# what a sync costs a switch, on the node (shown, not judged): nothing
	# to change, then one timer to write again (daemon-reload, enable, restart)
	run -0 on bash -c "TIMEFORMAT=%R; { time sl-job --sync; } 2>&1; rm $UNITS/silverlining-job@jb:page.timer; { time sl-job --sync; } 2>&1"
	echo "# sync, nothing to change: ${lines[0]} s; one timer rewritten: ${lines[-1]} s" >&3
}

@test "a slow job is not started again while it runs" {
	n=$(lines)
	logged_after "$n" 'job slow ok'
	m=$(lines)
	logged_after "$m" 'job slow ok'
	# between two starts of slow there is always its end
	run -0 on sh -c "grep -E 'job slow (started|ok|failed)' $LOG | awk '{print \$4}' | uniq -d"
	assert_output ''
	run -0 on sh -c "grep -c 'job slow started' $LOG"
	[ "$output" -ge 2 ]
}

@test "silver jobs shows last, next and status; silver run-job runs one now" {
	run -0 silver jobs --node "$NODE" jobs.test
	assert_line --regexp '^jb tick \*:\*:0/3 last=20[0-9-]+T[0-9:]+Z next=20[0-9-]+T[0-9:]+Z status=(ok|running)$'
	assert_line --regexp '^jb page 0 4 \* \* \* last=- next=20[0-9-]+T04:00:00Z status=never$'
	run -0 silver run-job --node "$NODE" jobs.test page
	assert_output --partial 'HTTP status 200'
	assert_line --regexp '^jb page 0 4 \* \* \* last=20.* status=ok$'
	run -100 silver run-job --node "$NODE" jobs.test nosuch
	assert_output --partial 'jb has no job nosuch on this node'
}

@test "a job over its time limit is stopped and fails; a running job is not started again" {
	silver run-job --node "$NODE" jobs.test hang >"$BATS_TEST_TMPDIR/first" 2>&1 &
	pid=$!
	for ((i = 0; i < 20; i++)); do
		[ "$(on systemctl show -P ActiveState 'silverlining-job@jb:hang.service')" = activating ] && break
		sleep 0.25
	done
	run -111 silver run-job --node "$NODE" jobs.test hang
	assert_output --partial 'the job hang of jb is running already'
	rc=0
	wait $pid || rc=$?
	[ "$rc" = 1 ]
	run -0 cat "$BATS_TEST_TMPDIR/first"
	assert_output --partial 'job hang stopped at its time limit of 3 s'
	assert_line --regexp '^jb hang @yearly last=20.* status=timeout$'
	run -0 on systemctl show -P Result 'silverlining-job@jb:hang.service'
	assert_output exit-code
	run -0 on sh -c 'pgrep -u sl-jb -x sleep | xargs -r ps -o args= -p | grep -c "sleep 300" || true'
	assert_output 0
}

@test "a link the app plants at jobs.log does not redirect root's writes" {
	# the timers' runs write the log every second or two: plant it between them
	for ((i = 0; i < 10; i++)); do
		on sh -c "rm -f $LOG && runuser -u sl-jb -- ln -s /etc/sl-jobs-victim $LOG" && break
	done
	[ "$i" -lt 10 ]
	run -0 silver run-job --node "$NODE" jobs.test page
	run -1 on test -e /etc/sl-jobs-victim
	run -0 on stat -c '%F %U' $LOG
	assert_output 'regular file root'
}

@test "deactivate removes the app's timers" {
	run -0 silver deactivate --node "$NODE" jobs.test
	run -0 on sh -c "ls $UNITS | grep -c 'silverlining-job@jb:' || true"
	assert_output 0
	run -0 on sh -c "systemctl list-timers --all --no-legend | grep -c silverlining-job || true"
	assert_output 0
	run -1 silver jobs --node "$NODE" jobs.test
}
