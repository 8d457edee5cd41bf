#!/usr/bin/env bats
# Deploys on a provisioned local node: silver update, the health gate,
# rollback, deactivate, query, clean-node, disable, isolation, timeouts.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/lab

setup_file() {
	lab_setup_file
	provisioned_node_up deploy
	export HELLO=$BATS_FILE_TMPDIR/hello
	cp -r "$TOP/examples/hello" "$HELLO"
}

teardown_file() {
	sl-node destroy deploy 3>&- || true
}

setup() {
	lab_setup
}

# page HOST [PATH]: the body nginx serves for HOST

@test "silver update puts hello live at its host: page, static file, the update_fetch output" {
	run -0 --separate-stderr up "$HELLO" hello.test
	assert_line --index 0 --regexp '^hello\.[0-9]{4}-[0-9]{2}-[0-9]{2}_[0-9]{3}$'
	assert_line --index 1 "http://hello.test"
	[[ $stderr == *"sl-activate: update_fetch /_update: 200"* ]] || fail "$stderr"
	[[ $stderr == *"SILVER_VERSION=silverlining/0.1.0"* ]] || fail "$stderr"
	[[ $stderr == *"SILVER_CANONICAL_HOSTNAME=hello.test"* ]] || fail "$stderr"
	[[ $stderr == *"silverlining.update=True"* ]] || fail "the internal request was not marked: $stderr"
	[[ $stderr == *"sl-activate: health check /healthz: 200"* ]] || fail "$stderr"
	run -0 page hello.test
	assert_output --partial "<h1>Hello from silverlining</h1>"
	assert_output --partial "running in production"
	run -0 status hello.test /style.css
	assert_output 200
	run -0 page Hello.TEST
	assert_output --partial "<h1>Hello from silverlining</h1>"
}

@test "an outside request is never an internal one, whatever headers it sends" {
	run -0 curl -s -H 'Host: hello.test' -H 'X-Silverlining-Update: 1' "http://$NODE_IP/_update"
	assert_line "silverlining.update=False"
}

@test "other hosts still get the not-found page" {
	run -0 status other.test
	assert_output 404
}

@test "an app under a path gets SCRIPT_NAME and its static files there" {
	run -0 up "$HELLO" hello.test/sub
	assert_line "http://hello.test/sub"
	run -0 page hello.test /sub/
	assert_output --partial 'href="/sub/style.css"'
	run -0 status hello.test /sub/style.css
	assert_output 200
	run -0 page hello.test /sub/_update
	assert_line "SCRIPT_NAME=/sub"
	assert_line "SILVER_MATCH_PATH=/sub"
	# segment boundaries: /subway is not /sub
	run -0 page hello.test /subway
	assert_output --partial "not found"
	run -0 silver deactivate --node "$NODE" hello.test/sub
}

@test "a redeploy serves the change; the old version stays previewable at prev.HOST" {
	hello_says "Hello, version two"
	run -0 up "$HELLO" hello.test
	run -0 page hello.test
	assert_output --partial "<h1>Hello, version two</h1>"
	run -0 page prev.hello.test
	assert_output --partial "<h1>Hello from silverlining</h1>"
}

@test "a failing update_fetch stops the deploy; the old version keeps serving" {
	cp -r "$HELLO" "$BATS_TEST_TMPDIR/bad"
	sed -i 's|^update_fetch = /_update$|update_fetch = /no-such-page|' "$BATS_TEST_TMPDIR/bad/app.ini"
	sed -i "s/<h1>.*<\/h1>/<h1>broken<\/h1>/" "$BATS_TEST_TMPDIR/bad/main.py"
	run -100 up "$BATS_TEST_TMPDIR/bad" hello.test
	assert_line "sl-activate: update_fetch /no-such-page: 404"
	assert_line --regexp "^sl-activate: fatal: hello\.[0-9_-]+ failed its checks; nothing switched, the old instance keeps serving$"
	run -0 page hello.test
	assert_output --partial "<h1>Hello, version two</h1>"
}

@test "a failing health check stops the deploy; the old version keeps serving" {
	cp -r "$HELLO" "$BATS_TEST_TMPDIR/sick"
	sed -i 's|return "200 OK", "text/plain", "ok\\n"|return "503 Sick", "text/plain", "sick\\n"|' "$BATS_TEST_TMPDIR/sick/main.py"
	grep -q '503 Sick' "$BATS_TEST_TMPDIR/sick/main.py" || fail "the test app was not changed"
	run -100 up "$BATS_TEST_TMPDIR/sick" hello.test
	assert_line "sl-activate: health check /healthz: 503"
	assert_line "sick"
	run -0 page hello.test
	assert_output --partial "<h1>Hello, version two</h1>"
}

@test "activate prev rolls back, and again forward" {
	seconds run -0 silver activate --node "$NODE" hello.test prev
	back=$SECONDS_TAKEN
	run -0 page hello.test
	assert_output --partial "<h1>Hello from silverlining</h1>"
	seconds run -0 silver activate --node "$NODE" hello.test prev
	forward=$SECONDS_TAKEN
	run -0 page hello.test
	assert_output --partial "<h1>Hello, version two</h1>"
	# shown, not judged: the 1 s bar is bench/deploy's (B2), where timing is
	# measured on a quiet machine rather than a test's busy one
	echo "# rollback: $back s, forward: $forward s" >&3
}

@test "activate INSTANCE points a location at any instance" {
	inst=$(silver query "$NODE" hello | awk '$4 == "prev.hello.test" {print $2}')
	[ -n "$inst" ] || fail "no prev instance in: $(silver query "$NODE" hello)"
	run -0 silver activate --node "$NODE" hello.test "$inst"
	run -0 page hello.test
	assert_output --partial "<h1>Hello from silverlining</h1>"
	run -0 silver activate --node "$NODE" hello.test prev
}

@test "query lists apps, instances, their state and locations" {
	run -0 silver query "$NODE" hello
	assert_line --regexp '^hello hello\.[0-9_-]+ running hello\.test$'
	assert_line --regexp '^hello hello\.[0-9_-]+ running prev\.hello\.test$'
	assert_line --regexp '^hello hello\.[0-9_-]+ stopped$'
}

@test "disable answers 503 at once, to all but the node itself; enable brings it back" {
	run -0 silver disable --node "$NODE" hello.test
	assert_output "hello disabled"
	run -0 status hello.test
	assert_output 503
	run -0 page hello.test
	assert_output --partial "Temporarily unavailable"
	run -0 on curl -s -H 'Host: hello.test' http://127.0.0.1/
	assert_output --partial "<h1>Hello, version two</h1>"
	run -0 silver enable --node "$NODE" hello.test
	run -0 status hello.test
	assert_output 200
}

@test "an app that fails at import is refused, and another app on the node is untouched" {
	run -100 up "$TOP/tests/fixtures/apps/crash" crash.test
	assert_output --partial "this app fails at import"
	assert_line --regexp '^sl-activate: fatal: crash\.[0-9_-]+ failed its checks; nothing switched'
	run -0 page hello.test
	assert_output --partial "<h1>Hello, version two</h1>"
	run -0 status crash.test
	assert_output 404
}

@test "a wedged request is killed after the app's timeout while other requests are served" {
	run -0 up "$TOP/tests/fixtures/apps/slow" slow.test
	curl -s -o "$BATS_TEST_TMPDIR/loop" -w '%{http_code}' -H 'Host: slow.test' \
		"http://$NODE_IP/loop" > "$BATS_TEST_TMPDIR/loop.status" 3>&- &
	pid=$!
	sleep 0.3
	for _ in 1 2 3 4 5; do
		run -0 status slow.test /ok
		assert_output 200
	done
	wait "$pid"
	run cat "$BATS_TEST_TMPDIR/loop.status"
	assert_output 502
	run -0 on grep -c 'HARAKIRI' /var/log/silverlining/apps/slow/app.log
	[ "$output" -ge 1 ]
}

@test "an app with a service gets it set up before its instance starts" {
	mkdir -p "$BATS_TEST_TMPDIR/svc"
	cp "$HELLO/main.py" "$BATS_TEST_TMPDIR/svc/"
	printf '[production]\napp_name = svc\nrunner = main.py\nupdate_fetch = /_update\nservice.files =\n' \
		> "$BATS_TEST_TMPDIR/svc/app.ini"
	run -0 up "$BATS_TEST_TMPDIR/svc" svc.test
	assert_line "CONFIG_FILES=/var/lib/silverlining/apps/svc/files"
	run -0 on stat -c '%a %U' /var/lib/silverlining/apps/svc/files
	assert_output "700 sl-svc"
	run -0 silver deactivate --node "$NODE" svc.test
}

@test "deactivate removes a location and its rollback; --keep-prev keeps the rollback" {
	run -0 up "$HELLO" gone.test
	run -0 up "$HELLO" gone.test
	run -0 silver deactivate --node "$NODE" --keep-prev gone.test
	run -0 status gone.test
	assert_output 404
	run -0 status prev.gone.test
	assert_output 200
	run -0 silver deactivate --node "$NODE" prev.gone.test
	run -0 status prev.gone.test
	assert_output 404
	run -1 silver deactivate --node "$NODE" gone.test
	assert_output "sl-activate: fatal: nothing is mapped at gone.test"
}

@test "clean-node keeps what is mapped and the newest five of each app" {
	for _ in 1 2 3 4 5 6; do up "$HELLO" many.test > /dev/null 2>&1 || fail "deploy failed"; done
	run -0 silver clean-node "$NODE" -n
	would=$output
	[ -n "$would" ] || fail "nothing would be removed"
	run -0 silver clean-node "$NODE"
	assert_output "$would"
	run -0 silver query "$NODE" hello
	[ "$(grep -c '^hello ' <<<"$output")" -ge 5 ]
	assert_line --regexp ' hello\.test$'
	assert_line --regexp ' prev\.hello\.test$'
	run -0 status hello.test
	assert_output 200
}

@test "a wildcard domain serves the domain and its subdomains; deactivating it removes its rollback" {
	run -0 up "$HELLO" .wild.test
	assert_line "http://wild.test"
	run -0 up "$HELLO" .wild.test
	for h in wild.test www.wild.test a.b.wild.test; do
		run -0 status "$h"
		assert_output 200
	done
	run -0 page prev.wild.test /_update
	assert_line "SILVER_CANONICAL_HOSTNAME=wild.test"
	run -0 silver deactivate --node "$NODE" .wild.test
	run -0 status www.wild.test
	assert_output 404
	run -0 status prev.wild.test
	assert_output 404
}

@test "disable covers static files too" {
	run -0 silver disable --node "$NODE" hello.test
	run -0 status hello.test /style.css
	assert_output 503
	run -0 silver enable --node "$NODE" hello.test
	run -0 status hello.test /style.css
	assert_output 200
}

@test "script: update_fetch entries run as the app's user, in its environment, and stop the deploy on failure" {
	cp -r "$HELLO" "$BATS_TEST_TMPDIR/scripted"
	printf '[production]\napp_name = hello\nrunner = main.py\nupdate_fetch =\n    script:echo "script as $(id -un) for $SILVER_APP_NAME"; test -w "$TEMP"\n' \
		> "$BATS_TEST_TMPDIR/scripted/app.ini"
	run -0 up "$BATS_TEST_TMPDIR/scripted" scripted.test
	assert_line "script as sl-hello for hello"
	printf '[production]\napp_name = hello\nrunner = main.py\nupdate_fetch = script:exit 3\n' \
		> "$BATS_TEST_TMPDIR/scripted/app.ini"
	run -100 up "$BATS_TEST_TMPDIR/scripted" scripted.test
	assert_line "sl-activate: update_fetch script:exit 3 failed with exit status 3"
	run -0 silver deactivate --node "$NODE" scripted.test
}

@test "packages from app.ini are installed before the instance starts" {
	cp -r "$HELLO" "$BATS_TEST_TMPDIR/pkg"
	printf '[production]\napp_name = pkg\nrunner = main.py\npackages = python3-six\n' > "$BATS_TEST_TMPDIR/pkg/app.ini"
	run -1 on dpkg-query -W -f '${db:Status-Status}' python3-six
	run -0 up "$BATS_TEST_TMPDIR/pkg" pkg.test
	assert_line "sl-activate: installing python3-six"
	run -0 on dpkg-query -W -f '${db:Status-Status}' python3-six
	assert_output installed
	run -0 up "$BATS_TEST_TMPDIR/pkg" pkg.test
	refute_line "sl-activate: installing python3-six"
	run -0 silver deactivate --node "$NODE" pkg.test
}

@test "* takes every host no other route names; without it they get the not-found page again" {
	run -0 up "$HELLO" '*'
	run -0 status anything.test
	assert_output 200
	run -0 page hello.test
	assert_output --partial "<h1>Hello, version two</h1>"
	run -0 silver deactivate --node "$NODE" '*'
	run -0 status anything.test
	assert_output 404
}

@test "logs shows the app's log" {
	run -0 silver logs --node "$NODE" hello.test
	assert_output --partial "GET /healthz"
}

@test "a location that names no node needs --node; update needs a location" {
	run -100 silver update "$HELLO"
	assert_output "silver: fatal: no LOCATION given and $HELLO/app.ini has no default_location"
	run -100 silver activate '*' prev
	assert_output "silver: fatal: the location '*' names no node: give --node NODE"
	run -100 silver update --config x "$HELLO" hello.test
	assert_output "sl-sync: fatal: --config x: not a directory"
	run -100 silver activate --clear --node "$NODE" hello.test prev
	assert_output "silver: fatal: --clear is an option of update"
}
