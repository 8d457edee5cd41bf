#!/usr/bin/env bats
# sl-route: the one location parser for scripts, and the node's routes
# asked, on a state directory of the test's own (SL_ROOT).
bats_require_minimum_version 1.5.0

load ../lib/common

setup() {
	common_setup
	export SL_ROOT=$BATS_TEST_TMPDIR/root
	mkdir -p "$SL_ROOT/instances"
}

# routes LINES...: the node's route table
routes() { printf '%s\n' "$@" > "$SL_ROOT/routes"; }

@test "sl-route --parse: HOST PATH per location, as the node keeps them" {
	run -0 sl-route --parse http://Blog.Example.com/Wiki/ my-site.com '*' .Example.org/x
	assert_output "$(printf '%s\n' 'blog.example.com /Wiki' 'my-site.com /' '* /' '.example.org /x')"
}

@test "sl-route --parse: a bad location exits 100 with the parser's words, and nothing is printed" {
	run -100 --separate-stderr sl-route --parse good.com my_site.com
	assert_output ""
	[ "$stderr" = "sl-route: fatal: invalid location 'my_site.com': want [http[s]://]host[/path]" ]
	run -100 sl-route --parse a.com/../etc
	assert_output "sl-route: fatal: invalid path in location 'a.com/../etc': no . or .. segments"
	run -100 sl-route --parse 'a.com/%2e%2e'
	assert_output "sl-route: fatal: invalid path in location 'a.com/%2e%2e'"
	run -100 sl-route --parse disabled
	assert_output "sl-route: fatal: invalid location 'disabled': the host name disabled is the node's own"
}

@test "sl-route --parse: prev.HOST only with --prev, https:// only with --https" {
	run -100 sl-route --parse prev.a.com
	assert_output "sl-route: fatal: invalid location 'prev.a.com': prev.* names the previous instance; roll back with 'prev'"
	run -0 sl-route --parse --prev prev.a.com/x
	assert_output "prev.a.com /x"
	run -100 sl-route --parse https://a.com/x
	assert_output "sl-route: fatal: https://a.com/x: a scheme means nothing here: give a.com/x"
	run -0 sl-route --parse --https https://a.com/x
	assert_output "a.com /x"
}

@test "sl-route LOCATION: the instance routed exactly there, prev. included" {
	routes 'a.com / a.2024-01-01_002' 'a.com /wiki w.2024-01-01_001' 'prev.a.com / a.2024-01-01_001'
	run -0 sl-route HTTP://A.com/
	assert_output a.2024-01-01_002
	run -0 sl-route a.com/wiki/
	assert_output w.2024-01-01_001
	run -0 sl-route prev.a.com
	assert_output a.2024-01-01_001
	run -1 --separate-stderr sl-route a.com/wiki/page
	assert_output ""
	[ "$stderr" = "sl-route: fatal: nothing is mapped at a.com/wiki/page" ]
	run -1 sl-route -q b.com
	assert_output ""
	run -100 sl-route a_b.com
	assert_output "sl-route: fatal: invalid location 'a_b.com': want [http[s]://]host[/path]"
	rm "$SL_ROOT/routes"
	run -1 sl-route a.com
	assert_output "sl-route: fatal: nothing is mapped at a.com"
}

@test "sl-route: a damaged route table exits 111 and names the line" {
	routes 'a.com / a.2024-01-01_002' 'a.com / ../../etc'
	run -111 sl-route a.com
	assert_output "sl-route: fatal: $SL_ROOT/routes:2: the node's routes are damaged: want 'HOST PATH INSTANCE'"
	run -111 sl-route --list
	run -111 sl-route --match a.com /
}

@test "sl-route --match: the route a request reaches; --list: the table" {
	routes '* / d.2024-01-01_001' '.example.com /wiki w.2024-01-01_001' 'www.example.com / x.2024-01-01_001'
	run -0 sl-route --match www.example.com /wiki
	assert_output "www.example.com / x.2024-01-01_001"
	run -0 sl-route --match blog.example.com /wiki/page
	assert_output ".example.com /wiki w.2024-01-01_001"
	run -1 sl-route --match blog.example.com /wikipedia
	assert_output "sl-route: fatal: no route takes blog.example.com/wikipedia"
	run -0 sl-route --match other.org /x
	assert_output "* / d.2024-01-01_001"
	run -0 sl-route --list
	assert_output "$(printf '%s\n' '* / d.2024-01-01_001' '.example.com /wiki w.2024-01-01_001' 'www.example.com / x.2024-01-01_001')"
}

@test "sl-route --instances: instance names only, each app's oldest first" {
	mkdir "$SL_ROOT/instances/"{b.2024-01-02_001,a.2024-01-02_001,a.2024-01-01_002,.incoming-a-12,.index-a,a-b.2024-01-01_001}
	run -0 sl-route --instances
	assert_output "$(printf '%s\n' a.2024-01-01_002 a.2024-01-02_001 a-b.2024-01-01_001 b.2024-01-02_001)"
	run -0 sl-route --instances b a
	assert_output "$(printf '%s\n' b.2024-01-02_001 a.2024-01-01_002 a.2024-01-02_001)"
	run -0 sl-route --instances a
	assert_output "$(printf '%s\n' a.2024-01-01_002 a.2024-01-02_001)"
	run -0 sl-route --instances c
	assert_output ""
	run -100 sl-route --instances 'a.*'
	assert_output "sl-route: fatal: invalid app name 'a.*'"
}

@test "sl-route: usage errors exit 100" {
	for args in "" "a.com b.com" "--parse" "--match a.com" "--list x" "--prev a.com" \
		"-q --list" "--parse --list a.com"; do
		run -100 sl-route $args
		assert_output --regexp '^sl-route: usage: '
	done
}

@test "sl-route: a table with flags (https, https,hsts) is read like one without" {
	routes 'a.com / a.2024-01-01_002 https,hsts' 'a.com /wiki w.2024-01-01_001 https' \
		'b.com / b.2024-01-01_001' 'prev.a.com / a.2024-01-01_001'
	run -0 sl-route https://a.com/
	assert_output a.2024-01-01_002
	run -0 sl-route --match a.com /wiki/page
	assert_output "a.com /wiki w.2024-01-01_001"
	run -0 sl-route b.com
	assert_output b.2024-01-01_001
	routes 'a.com / a.2024-01-01_002 tls'
	run -111 sl-route a.com
	assert_output "sl-route: fatal: $SL_ROOT/routes:1: the node's routes are damaged: flags 'tls': want https or https,hsts"
}
