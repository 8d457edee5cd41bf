#!/usr/bin/env bats
# silverlining — scheduled jobs in app.ini (job.NAME.*), the cron
# translation, and which instance runs an app's jobs. Every bad job key
# is refused with exit 100 naming APPDIR/app.ini:LINE.
bats_require_minimum_version 1.5.0
load ../lib/common

setup() {
	common_setup
	unset SL_CONF SL_YES SL_VERBOSITY SL_SERVICE_VALUE
	A=$BATS_TEST_TMPDIR/app
	T=${SL_TEST_BUILD:-$TOP/build}/tests/libsl-test
}

# refused LINE4 MESSAGE [LINE3]: app.ini "[production]", "app_name = x",
# LINE3 (default a valid run) and LINE4, refused naming MESSAGE.
refused() {
	app "$A" '[production]' 'app_name = x' "${3:-job.a.run = /cron}" "$1"
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:$2"
}

@test "jobs: the cron translation's table (ranges, steps, lists, names, @daily, bad fields)" {
	run -0 "$T" jobs
	assert_output "jobs ok"
}

@test "jobs: a schedule is cron's, translated, or systemd's, passed on" {
	run -0 "$T" jobs-calendar '*/10 1-3 * * mon-fri'
	assert_output 'cron Mon,Tue,Wed,Thu,Fri *-*-* 01..03:00/10:00'
	run -0 "$T" jobs-calendar 'hourly'
	assert_output 'systemd hourly'
	run -100 "$T" jobs-calendar '61 * * * *'
	assert_output 'libsl-test: fatal: want a minute from 0 to 59'
	run -100 "$T" jobs-calendar '0 0 1 * 1'
	assert_output --partial 'want one day field'
}

@test "jobs: valid jobs are accepted, with no warning" {
	app "$A" '[production]' 'app_name = x' 'job.nightly.schedule = 0 3 * * *' \
		'job.nightly.run = /cron/nightly' 'job.feed_2.schedule = *:0/15' \
		'job.feed_2.run = script:bin/feed --all' 'job.feed_2.timeout = 60' \
		'JOB.Up.Schedule = @hourly' 'job.up.run = /up'
	run -0 --separate-stderr sl-env "$A"
	[ -z "$stderr" ]
}

@test "jobs: every bad job key names app.ini:LINE and exits 100" {
	refused 'job.a.schedule = 61 * * * *' "4: invalid job.a.schedule '61 * * * *': want a minute from 0 to 59"
	refused 'job.a.schedule = @reboot' "4: invalid job.a.schedule '@reboot': want @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"
	refused 'job.a.schedule = 1 2 3 4 5 6' "4: invalid job.a.schedule '1 2 3 4 5 6': want a systemd calendar expression or cron's five fields"
	refused 'job.a.schedule = 0 0 1 * 1' "4: invalid job.a.schedule '0 0 1 * 1': want one day field: cron runs when either the day of month or the day of week matches, systemd when both do; give the other as *"
	refused 'job.a.timeout = 0' "4: invalid job.a.timeout '0': want a whole number of seconds from 1 to 86400" 'job.a.schedule = daily'
	refused 'job.a.timeout = 86401' "4: invalid job.a.timeout '86401': want a whole number of seconds from 1 to 86400" 'job.a.schedule = daily'
	refused 'job.a.run = cron' "4: invalid job.a.run 'cron': want a URL path starting with / or script:COMMAND" 'job.a.schedule = daily'
	refused 'job.a.run = script:' "4: invalid job.a.run 'script:': want a URL path starting with / or script:COMMAND" 'job.a.schedule = daily'
	refused 'job.9a.run = /x' "4: invalid key 'job.9a.run': want job.NAME.schedule, job.NAME.run or job.NAME.timeout, NAME a lowercase letter, then up to 30 lowercase letters, digits, - or _"
	refused 'job.a.every = 5' "4: invalid key 'job.a.every': a job has schedule, run and timeout"
	refused 'job.a.run = /y' "4: job.a.run is already set at line 3"
	refused 'job.b.schedule = daily' "4: job.b has no job.b.run" 'job.b.timeout = 5'
	refused 'job.a.timeout = 5' "3: job.a has no job.a.schedule"
	refused '  /more' "4: job.a.run takes one value, not a list (key at line 3)"
}

@test "jobs: the serving instance runs an app's jobs, never a prev.* one; the newest of several" {
	R=$BATS_TEST_TMPDIR/routes
	printf '%s\n' 'a.example / x.2026-01-02_001' 'b.example / x.2026-01-03_001' \
		'prev.b.example / x.2026-02-01_001' 'c.example / y.2026-01-01_001' >"$R"
	run -0 "$T" jobs-serving "$R" x
	assert_output 'x.2026-01-03_001 b.example /'
	run -0 "$T" jobs-serving "$R" y
	assert_output 'y.2026-01-01_001 c.example /'
	printf '%s\n' 'prev.a.example / z.2026-01-02_001' >"$R"
	run -0 "$T" jobs-serving "$R" z
	assert_output none
}
