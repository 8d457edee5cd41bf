#!/usr/bin/env bats
# sl-activate's phases on one provisioned local node (issue 18's barrier):
# --prepare makes an uploaded instance ready without switching, --switch
# switches to it alone, --abandon stops it; and nginx's trust of the
# balancers (--balancers): their X-Forwarded-For believed, no one else's,
# and their health check /.silverlining/up answered. The lab host itself
# stands in for a balancer: it is the address the node sees the laptop's
# requests come from (SSH_CLIENT), so the requests a test makes are the
# balancer's once --balancers names it, and an outsider's before.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/lab

ROOT=/var/lib/silverlining

setup_file() {
	lab_setup_file
	provisioned_node_up phases
	export HELLO=$BATS_FILE_TMPDIR/hello
	cp -r "$TOP/examples/hello" "$HELLO"
	# /addr: what the app sees of its client
	cat >> "$HELLO/main.py" <<-'PY'


	def addr(environ):
	    return "200 OK", "text/plain", "REMOTE_ADDR=%s XFF=%s\n" % (
	        environ.get("REMOTE_ADDR", "-"), environ.get("HTTP_X_FORWARDED_FOR", "-"))


	ROUTES["/addr"] = addr
	PY
}

teardown_file() {
	sl-node destroy phases 3>&- || true
}

setup() {
	lab_setup
}

# upload DIR: the instance sl-sync made of DIR on the node (nothing activated)
upload() { sl-sync "$1" "$NODE" 2> /dev/null | tail -n 1; }

# the lab host's address as the node sees it
host_ip() { on sh -c 'echo ${SSH_CLIENT%% *}'; }

@test "--prepare makes an instance ready and switches nothing; --switch switches it alone, in well under a second" {
	run -0 up "$HELLO" ph.test
	old=$(head -n 1 <<<"$output")
	hello_says "Hello, prepared"
	new=$(upload "$HELLO")
	[[ "$new" == hello.* ]] || fail "no instance uploaded: $new"
	run -0 --separate-stderr on sl-activate --prepare "$new" ph.test
	[ -z "$output" ] || fail "--prepare printed on stdout: $output"
	[[ "$stderr" =~ sl-activate:\ $new:\ prepare\ .*\ s,\ start\ .*\ checks\ .*\ certificates\ .*\;\ ready\ to\ switch ]] ||
		fail "no timings line: $stderr"
	# nothing switched: the old instance serves, the new one runs
	run -0 page ph.test
	refute_output --partial "Hello, prepared"
	run -1 on grep -c "$new" $ROOT/routes
	assert_output 0
	run -0 on systemctl is-active "silverlining-instance@$new.service"
	run -0 on cat "$ROOT/run/$new/prepared"
	assert_line ph.test
	# another app's deploy retires what serves nothing: not a prepared instance
	cp -r "$HELLO" "$BATS_TEST_TMPDIR/other"
	run -0 up "$BATS_TEST_TMPDIR/other" other.test
	run -0 on systemctl is-active "silverlining-instance@$new.service"
	run -0 on sh -c "systemctl list-timers --all | grep -c 'silverlining-drain-$new' || true"
	assert_output 0
	# the switch
	run -0 --separate-stderr on sl-activate --switch "$new" ph.test
	assert_output "http://ph.test"
	[[ "$stderr" =~ sl-activate:\ $new:\ lock\ [0-9.]+\ s,\ switch\ ([0-9]+)\.([0-9]{3})\ s,\ retire ]] ||
		fail "no timings line: $stderr"
	[ "${BASH_REMATCH[1]}" -eq 0 ] || fail "the switch took ${BASH_REMATCH[1]}.${BASH_REMATCH[2]} s"
	echo "# switch ${BASH_REMATCH[1]}.${BASH_REMATCH[2]} s" >&3
	run -0 page ph.test
	assert_output --partial "<h1>Hello, prepared</h1>"
	run -0 on sh -c "grep -F 'ph.test / ' $ROOT/routes; grep -F 'prev.ph.test / ' $ROOT/routes"
	assert_line --partial "ph.test / $new"
	assert_line --partial "prev.ph.test / $old"
	# the mark is spent: a second switch is refused
	run -100 on sl-activate --switch "$new" ph.test
	assert_output --partial "was not made ready to switch"
}

@test "--switch of an instance --prepare did not make ready, or for another location, or stopped, is refused" {
	inst=$(upload "$HELLO")
	run -100 on sl-activate --switch "$inst" ph.test
	assert_output "sl-activate: fatal: $inst was not made ready to switch: sl-activate --prepare $inst LOCATION first"
	run -100 on sl-activate --switch hello.2000-01-01_001 ph.test
	assert_output "sl-activate: fatal: no instance hello.2000-01-01_001 on this node"
	run -100 on sl-activate --switch "$inst"
	run -0 on sl-activate --prepare "$inst" ph2.test
	run -100 on sl-activate --switch "$inst" ph.test
	assert_output "sl-activate: fatal: $inst was made ready for other locations, not ph.test"
	run -0 on systemctl stop "silverlining-instance@$inst.socket" "silverlining-instance@$inst.service"
	run -100 on sl-activate --switch "$inst" ph2.test
	assert_output --partial "$inst is not running"
	run -0 status ph2.test
	assert_output 404
	run -0 on sl-activate --abandon "$inst"
}

@test "--prepare with a failing gate: its exit code, nothing switched, the old instance serves and the new one is stopped" {
	before=$(page ph.test)
	cp -r "$HELLO" "$BATS_TEST_TMPDIR/bad"
	sed -i 's|^update_fetch = /_update$|update_fetch = /no-such-page|' "$BATS_TEST_TMPDIR/bad/app.ini"
	inst=$(upload "$BATS_TEST_TMPDIR/bad")
	run -100 on sl-activate --prepare "$inst" ph.test
	assert_line "sl-activate: update_fetch /no-such-page: 404"
	assert_line "sl-activate: fatal: $inst failed its checks; nothing switched, the old instance keeps serving"
	[ "$(page ph.test)" = "$before" ] || fail "the page changed"
	run ! on systemctl is-active -q "silverlining-instance@$inst.service"
	run ! on systemctl is-active -q "silverlining-instance@$inst.socket"
	run -1 on test -e "$ROOT/run/$inst/prepared"
	run -100 on sl-activate --switch "$inst" ph.test
}

@test "--abandon stops a prepared instance; one a route names is refused; a stopped one is 0" {
	inst=$(upload "$HELLO")
	run -0 on sl-activate --prepare "$inst" ph.test
	run -0 on sl-activate --abandon "$inst"
	assert_output "sl-activate: $inst stopped"
	run ! on systemctl is-active -q "silverlining-instance@$inst.service"
	run ! on systemctl is-active -q "silverlining-instance@$inst.socket"
	run -0 on sl-activate --abandon "$inst"
	refute_output
	run -100 on sl-activate --switch "$inst" ph.test
	serving=$(on awk '$1 == "ph.test" && $2 == "/" { print $3 }' $ROOT/routes)
	run -100 on sl-activate --abandon "$serving"
	assert_output "sl-activate: fatal: $serving serves ph.test: it is not abandoned"
	run -0 status ph.test
	assert_output 200
}

@test "--again puts a copy of the serving instance in its place at every location it serves; the old one is prev" {
	hello_says "Hello, again"
	run -0 up "$HELLO" again.test
	old=$(head -n 1 <<<"$output")
	run -0 on sl-activate "$old" again2.test
	run -0 --separate-stderr on sl-activate --again again.test
	new=$output
	[[ "$new" == hello.* && "$new" != "$old" ]] || fail "not a new instance name: $new"
	[[ "$stderr" =~ sl-activate:\ $new:\ a\ copy\ of\ $old ]] || fail "no copy line: $stderr"
	[[ "$stderr" =~ sl-activate:\ $new:\ prepare\ .*\ checks\ .*\ switch ]] || fail "no timings line: $stderr"
	run -0 page again.test
	assert_output --partial "<h1>Hello, again</h1>"
	run -0 page again2.test
	assert_output --partial "<h1>Hello, again</h1>"
	run -0 on grep -F again $ROOT/routes
	assert_line --partial "again.test / $new"
	assert_line --partial "again2.test / $new"
	assert_line --partial "prev.again.test / $old"
	assert_line --partial "prev.again2.test / $old"
	# a copy: the same files, linked, not the same directories
	run -0 on stat -c %i "$ROOT/instances/$old/main.py" "$ROOT/instances/$new/main.py"
	[ "${lines[0]}" = "${lines[1]}" ] || fail "main.py was not linked: $output"
	run -0 on stat -c %i "$ROOT/instances/$old" "$ROOT/instances/$new"
	[ "${lines[0]}" != "${lines[1]}" ] || fail "the same directory: $output"
	run -0 on systemctl is-active "silverlining-instance@$new.service"
	# nothing at a location: a "no"
	run -1 on sl-activate --again nothing.test
	assert_output "sl-activate: fatal: nothing is mapped at nothing.test"
	run -100 on sl-activate --again
}

@test "a client's own X-Forwarded-For is not believed; a balancer's is, and only its /.silverlining/up answers" {
	me=$(host_ip)
	[ -n "$me" ] || fail "no SSH_CLIENT address"
	# no balancer: the app sees the connection's address, whatever the client claims
	run -0 on sl-activate --balancers
	run -0 curl -s -H 'Host: ph.test' -H 'X-Forwarded-For: 198.51.100.66' "http://$NODE_IP/addr"
	assert_output "REMOTE_ADDR=$me XFF=$me"
	run -0 status ph.test /.silverlining/up
	assert_output 404
	run -0 on curl -s -H 'Host: any.example' http://127.0.0.1/.silverlining/up
	assert_output up
	# this host a balancer: its X-Forwarded-For (the last address) is the client's
	run -0 on sl-activate --balancers "$me" 192.0.2.1
	assert_output "$me"$'\n'192.0.2.1
	run -0 on cat $ROOT/balancers
	run -0 on stat -c '%U %a' $ROOT/balancers
	assert_output "root 644"
	run -0 curl -s -H 'Host: ph.test' -H 'X-Forwarded-For: 198.51.100.66, 203.0.113.7' "http://$NODE_IP/addr"
	assert_output "REMOTE_ADDR=203.0.113.7 XFF=203.0.113.7"
	for h in ph.test no-such-host.example; do
		run -0 curl -s -w ' %{http_code}' -H "Host: $h" "http://$NODE_IP/.silverlining/up"
		assert_output $'up\n 200'
	done
	# loopback through --balancers 127.0.0.1 alone: this host an outsider again
	run -0 on sl-activate --balancers 127.0.0.1
	run -0 on curl -s -H 'Host: ph.test' -H 'X-Forwarded-For: 203.0.113.8' http://127.0.0.1/addr
	assert_output "REMOTE_ADDR=203.0.113.8 XFF=203.0.113.8"
	run -0 curl -s -H 'Host: ph.test' -H 'X-Forwarded-For: 203.0.113.8' "http://$NODE_IP/addr"
	assert_output "REMOTE_ADDR=$me XFF=$me"
	run -0 status ph.test /.silverlining/up
	assert_output 404
	# a bad address changes nothing
	run -100 on sl-activate --balancers 10.0.0.300
	assert_output "sl-activate: fatal: invalid balancer address '10.0.0.300': want an IPv4 address such as 10.0.0.5"
	run -0 on cat $ROOT/balancers
	assert_output 127.0.0.1
	run -0 on sl-activate --balancers
	run -0 on cat $ROOT/balancers
	refute_output
}
