#!/usr/bin/env bats
# The switch on a provisioned local node: a location reaches its instance
# through a stable link, so a switch that leaves nginx's text as it was is
# a rename, with no reload; a new host or path reloads nginx.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/lab

ROOT=/var/lib/silverlining

setup_file() {
	lab_setup_file
	provisioned_node_up switch
	export HELLO=$BATS_FILE_TMPDIR/hello
	cp -r "$TOP/examples/hello" "$HELLO"
}

teardown_file() {
	sl-node destroy switch 3>&- || true
}

setup() {
	lab_setup
}

# nginx's worker processes: a reload replaces every one of them
workers() { on sh -c 'pgrep -P "$(cat /run/nginx.pid)" | sort | tr "\n" " "'; }

# answering FILE: requests to sw.test, one after the other, their status
# codes into FILE, until FILE.stop exists
answering() {
	while [ ! -e "$1.stop" ]; do
		curl -s -o /dev/null -w '%{http_code}\n' -H 'Host: sw.test' "http://$NODE_IP/" >> "$1"
	done
}

@test "the routes name the stable links, never an instance" {
	run -0 up "$HELLO" sw.test
	inst=$(head -n 1 <<<"$output")
	run -0 up "$HELLO" sw.test
	run -0 on cat $ROOT/nginx/routes.conf
	refute_output --partial "$inst"
	refute_output --partial /run/silverlining
	assert_output --partial "$ROOT/nginx/at/"
	# each link is root's, and leads to the socket and static/ of its instance
	run -0 on sh -c "stat -c '%U %a' $ROOT/nginx/at $ROOT/nginx/inst/$inst"
	assert_output $'root 755\nroot 755'
	run -0 on readlink "$ROOT/nginx/inst/$inst/sock"
	assert_output "/run/silverlining/$inst.sock"
}

@test "a switch that leaves nginx's text as it was does not reload nginx, and requests are answered across it" {
	before=$(workers)
	[ -n "$before" ] || fail "no nginx workers"
	conf=$(on cat $ROOT/nginx/routes.conf)
	: > "$BATS_TEST_TMPDIR/codes"
	answering "$BATS_TEST_TMPDIR/codes" 3>&- &
	pid=$!
	hello_says "Hello, version three"
	run -0 up "$HELLO" sw.test
	run -0 page sw.test
	assert_output --partial "<h1>Hello, version three</h1>"
	touch "$BATS_TEST_TMPDIR/codes.stop"
	wait "$pid"
	[ "$(workers)" = "$before" ] || fail "nginx was reloaded: workers $before became $(workers)"
	[ "$(on cat $ROOT/nginx/routes.conf)" = "$conf" ] || fail "the routes' text changed"
	run -0 grep -c . "$BATS_TEST_TMPDIR/codes"
	[ "$output" -ge 1 ] || fail "no request was made"
	run grep -v '^200$' "$BATS_TEST_TMPDIR/codes"
	assert_failure
	refute_output
}

@test "a rollback and a rollforward rename links and do not reload nginx" {
	before=$(workers)
	run -0 silver activate --node "$NODE" sw.test prev
	run -0 page sw.test
	refute_output --partial "<h1>Hello, version three</h1>"
	run -0 page prev.sw.test
	assert_output --partial "<h1>Hello, version three</h1>"
	run -0 silver activate --node "$NODE" sw.test prev
	run -0 page sw.test
	assert_output --partial "<h1>Hello, version three</h1>"
	[ "$(workers)" = "$before" ] || fail "nginx was reloaded: workers $before became $(workers)"
}

@test "a new host reloads nginx, and so does a disable" {
	before=$(workers)
	run -0 up "$HELLO" sw-new.test
	run -0 page sw-new.test
	assert_output --partial "<h1>Hello, version three</h1>"
	after=$(workers)
	[ "$after" != "$before" ] || fail "nginx was not reloaded for a new host"
	run -0 silver disable --node "$NODE" sw-new.test
	[ "$(workers)" != "$after" ] || fail "nginx was not reloaded for a disable"
	run -0 silver enable --node "$NODE" sw-new.test
}

@test "deactivate removes the links of the locations it removes" {
	run -0 on sh -c "ls $ROOT/nginx/at | wc -l"
	n=$output
	run -0 silver deactivate --node "$NODE" sw-new.test
	run -0 on sh -c "ls $ROOT/nginx/at | wc -l"
	[ "$output" -lt "$n" ] || fail "the links stayed: $n then $output"
}

@test "--routes moves an older node's routes, which named the sockets, to the links" {
	inst=$(on awk '$1 == "sw.test" {print $3}' $ROOT/routes)
	on sh -c "rm -rf $ROOT/nginx/at $ROOT/nginx/inst && printf 'server { listen 80; server_name sw.test; location / { proxy_pass http://unix:/run/silverlining/$inst.sock; } }\n' > $ROOT/nginx/routes.conf && systemctl reload nginx"
	run -0 on sl-activate --routes
	run -0 on cat $ROOT/nginx/routes.conf
	refute_output --partial /run/silverlining
	run -0 page sw.test
	assert_output --partial "<h1>Hello, version three</h1>"
	run -0 page prev.sw.test
	assert_output --partial "<h1>Hello"
}

@test "routes nginx refuses switch nothing: the old text, the old links, the old state" {
	on sh -c 'echo "this is not nginx;" > /etc/nginx/conf.d/sl-test-broken.conf'
	conf=$(on cat $ROOT/nginx/routes.conf)
	routes=$(on cat $ROOT/routes)
	links=$(on sh -c "ls -l $ROOT/nginx/at | sort")
	run -100 up "$HELLO" sw-refused.test
	on rm -f /etc/nginx/conf.d/sl-test-broken.conf
	assert_line "sl-activate: fatal: nginx refused the new routes; nothing switched"
	[ "$(on cat $ROOT/nginx/routes.conf)" = "$conf" ] || fail "the routes' text changed"
	[ "$(on cat $ROOT/routes)" = "$routes" ] || fail "the routing state changed"
	[ "$(on sh -c "ls -l $ROOT/nginx/at | sort")" = "$links" ] || fail "the links changed"
	run -0 page sw.test
	assert_output --partial "<h1>Hello, version three</h1>"
}
