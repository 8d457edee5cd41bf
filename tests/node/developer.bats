#!/usr/bin/env bats
# The developer's verbs against a node: deployment configs (create-config,
# config.checker, update --config, a config following its instance), silver
# run, silver diff and update --name.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/lab

setup_file() {
	lab_setup_file
	provisioned_node_up dev
	export APP=$BATS_FILE_TMPDIR/configured
	cp -r "$TOP/tests/fixtures/apps/configured" "$APP"
}

teardown_file() {
	sl-node destroy dev 3>&- || true
}

setup() {
	lab_setup
	cd "$BATS_TEST_TMPDIR"
}

instances() { on ls /var/lib/silverlining/instances | grep -c "^$1\."; }

@test "config.required: a deploy without a config fails clearly and switches nothing" {
	run -100 up "$APP" cfg.test
	assert_output --partial "config.required is set and no config was given"
	run -0 page cfg.test
	assert_output --partial "No site is served at this address."
}

@test "a bad config is refused by config.checker before anything is sent" {
	before=$(instances configured)
	run -0 silver create-config "$APP" bad greeting=bad api_token=x
	run -100 up --config bad "$APP" cfg.test
	assert_line "sl-sync: fatal: bad did not pass config.checker checks:check_config (exit status 1): nothing was uploaded"
	[ "$(instances configured)" = "$before" ] || fail "an instance was uploaded"
}

@test "update --config: the app reads its config; the node keeps it for the app's group alone" {
	run -0 silver create-config "$APP" one greeting=first api_token=t0k-1
	run -0 --separate-stderr up --config one "$APP" cfg.test
	inst=${lines[0]}
	[[ $stderr == *"SILVER_APP_CONFIG=/var/lib/silverlining/configs/$inst"* ]] || fail "$stderr"
	run -0 page cfg.test
	assert_output "greeting: first"
	run -0 on stat -c '%a %U %G' /var/lib/silverlining/configs "/var/lib/silverlining/configs/$inst" \
		"/var/lib/silverlining/configs/$inst/settings.ini"
	assert_output "711 root root
750 root sl-configured
640 root sl-configured"
	# the token never shows in a process list or a world-readable place
	run -1 on sh -c "grep -rl t0k-1 /var/log /tmp /var/lib/silverlining/instances 2>/dev/null"
}

@test "an update without --config keeps the config; rollback brings back the old one" {
	run -0 up "$APP" cfg.test
	inst=${lines[0]}
	run -0 page cfg.test
	assert_output "greeting: first"
	run -0 silver create-config "$APP" two greeting=second api_token=t0k-2
	run -0 up --config two "$APP" cfg.test
	run -0 page cfg.test
	assert_output "greeting: second"
	run -0 silver activate --node "$NODE" cfg.test prev
	run -0 page cfg.test
	assert_output "greeting: first"
	run -0 silver activate --node "$NODE" cfg.test prev
	run -0 page cfg.test
	assert_output "greeting: second"
}

@test "silver run: the instance's script, as the app's user, in its environment, in its directory" {
	run -0 silver run --node "$NODE" cfg.test report a b
	inst=$(on sl-query --instance cfg.test)
	assert_output "user=sl-configured
app=configured
pwd=/var/lib/silverlining/instances/$inst
arg a
arg b"
	run -0 silver run --node "$NODE" --user root cfg.test report
	assert_line "user=root"
	# a .py without its x bit runs with python3, lib/python importable
	run -0 silver run --node "$NODE" cfg.test tools/count.py x y z
	assert_output "3 args"
	# stdin reaches the script
	run -0 sh -c "echo piped | silver run --node '$NODE' cfg.test report stdin"
	assert_line "stdin=piped"
}

@test "silver run: the remote exit status is its own; a missing script is 127" {
	run -3 silver run --node "$NODE" cfg.test report exit=3
	run -127 silver run --node "$NODE" cfg.test no-such-script
	assert_output --regexp "^sl-run: fatal: no-such-script: not found in configured\.[0-9_-]+ \(bin/, its top, or PATH\)$"
	run -100 silver run --node "$NODE" nothing.test report
	assert_output "sl-run: fatal: nothing is deployed at nothing.test"
	run -100 silver run --node "$NODE" --user nobody cfg.test report
	assert_output "silver: fatal: --user nobody: app or root"
}

@test "silver run: local files named in the arguments go along, and are gone after" {
	echo "local content" > notes.txt
	mkdir data && touch data/one data/two
	run -0 silver run --node "$NODE" cfg.test report notes.txt --file="$BATS_TEST_TMPDIR/notes.txt" data plain
	assert_line "file local content"
	assert_line "opt --file file local content"
	assert_line "dir one two "
	assert_line "arg plain"
	run -0 on sh -c 'ls -d /var/lib/silverlining/tmp/run.* 2>/dev/null | wc -l'
	assert_output 0
	mkdir other && echo x > other/notes.txt
	run -100 silver run --node "$NODE" cfg.test report notes.txt other/notes.txt
	assert_output "sl-remote-run: fatal: two arguments are named notes.txt: rename one"
}

@test "sl-run: --receive's directory is the user's alone; --files takes only one it made, never through a link" {
	tmp=/var/lib/silverlining/tmp
	inst=$(on sl-query --instance cfg.test)
	before=$(on ls /var/lib/silverlining/instances)
	# what a run that never came left, a day on, goes; through a link, nothing
	run -0 on sh -c "mkdir $tmp/run.old /root/kept && touch /root/kept/file &&
		ln -s /root/kept $tmp/run.oldlink && touch -h -d '2 days ago' $tmp/run.old $tmp/run.oldlink"
	run -0 --separate-stderr on sh -c "tar -cf - -T /dev/null | sl-run --receive cfg.test"
	dir=$output
	[[ $dir == "$tmp"/run.???????? ]] || fail "--receive printed '$dir'"
	run -0 on stat -c '%a %U' "$dir"
	assert_output "700 sl-configured"
	run -1 on test -e "$tmp/run.old" -o -L "$tmp/run.oldlink"
	run -0 on test -f /root/kept/file
	# refused: a link, a path out of a --receive directory, any other directory
	run -0 on ln -s /var/lib/silverlining/instances "$tmp/run.link"
	run -100 on sl-run --files "$tmp/run.link" cfg.test report
	assert_output "sl-run: fatal: --files $tmp/run.link: no such directory"
	run -100 on sl-run --files "$dir/../../instances" cfg.test report
	assert_output "sl-run: fatal: --files $dir/../../instances: not a directory sl-run --receive made"
	run -100 on sl-run --files /root/kept cfg.test report
	assert_output "sl-run: fatal: --files /root/kept: not a directory sl-run --receive made"
	run -0 on ls /var/lib/silverlining/instances
	assert_output "$before"
	run -0 on sh -c "rm -r $tmp/run.link /root/kept"
	# a --files directory goes when the script ends, whatever its status
	run -3 on sl-run --files "$dir" cfg.test report exit=3
	run -1 on test -e "$dir"
	# the app's user's HOME is its instance's TEMP, which it may write
	run -0 on sl-run cfg.test sh -c 'echo "$HOME"; test -w "$HOME"'
	assert_output "$tmp/$inst"
}

@test "silver run -i gives the script a terminal" {
	run -0 "$TOP/tests/lib/on-terminal" -- silver run -i --node "$NODE" cfg.test tty
	assert_output --regexp "/dev/pts/[0-9]+"
	# without -i there is none
	run -1 silver run --node "$NODE" cfg.test tty
	assert_output "not a tty"
}

@test "silver diff: what would change, as a list and a unified diff; nothing is sent" {
	run -1 silver diff --node "$NODE" "$APP" cfg.test
	assert_output --regexp "^sl-sync: cfg\.test serves configured\.[0-9_-]+
sl-sync: nothing would change at cfg\.test$"
	before=$(instances configured)
	cp -r "$APP" changed
	sed -i 's/greeting: %s/Greeting: %s/' changed/main.py
	echo "new" > changed/added.txt
	rm changed/checks.py
	chmod 755 changed/tools/count.py
	run -0 --separate-stderr silver diff --node "$NODE" changed cfg.test
	assert_line "A added.txt"
	assert_line "D checks.py"
	assert_line "M main.py"
	assert_line "M tools/count.py (mode 644 -> 755)"
	assert_line -- "--- a/main.py"
	assert_line -- "+++ b/main.py"
	assert_line -- '-        body = "greeting: %s\n" % settings()["greeting"]'
	assert_line -- '+        body = "Greeting: %s\n" % settings()["greeting"]'
	assert_line -- "+++ b/added.txt"
	assert_line -- "+new"
	assert_line -- "--- a/checks.py"
	[ "$(instances configured)" = "$before" ] || fail "diff uploaded an instance"
	# a location with nothing: every file is new
	run -0 --separate-stderr silver diff --node "$NODE" changed fresh.test
	[[ $stderr == *"nothing is deployed at fresh.test: every file would be new"* ]] || fail "$stderr"
	assert_line "A main.py"
}

@test "update --name deploys the same code as another app, with its own user and config" {
	run -0 silver create-config "$APP" three greeting=third api_token=t0k-3
	run -0 --separate-stderr up --name configured-two --config three "$APP" two.test
	assert_line --index 0 --regexp '^configured-two\.[0-9]{4}-[0-9]{2}-[0-9]{2}_[0-9]{3}$'
	[[ $stderr == *"SILVER_APP_NAME=configured-two"* ]] || fail "$stderr"
	run -0 page two.test
	assert_output "greeting: third"
	run -0 page cfg.test
	assert_output "greeting: second"
	run -0 on id -un sl-configured-two
}
