#!/usr/bin/env bats
# libsl's modules, driven through build/tests/libsl-test.
bats_require_minimum_version 1.5.0

load ../lib/common

setup() {
	common_setup
	T=${SL_TEST_BUILD:-$TOP/build}/tests/libsl-test
}

@test "sl_buf: growth, formatting, NUL bytes, trim, detach" {
	run -0 "$T" buf
	assert_output "buf ok"
}

@test "sl_failing: the record's one line, the back-off delays, a new series after a minute" {
	run -0 "$T" failing
	assert_output "failing ok"
}

@test "sl_switch_changed: nginx is touched only when its text differs, or there is none" {
	run -0 "$T" switch-changed 'server { }' 'server { }'
	assert_output same
	run -0 "$T" switch-changed 'server { }' 'server { } '
	assert_output changed
	run -0 "$T" switch-changed 'server { a }' 'server { b }'
	assert_output changed
	run -0 "$T" switch-changed - 'server { }'
	assert_output changed
	run -0 "$T" switch-changed '' ''
	assert_output same
}

@test "sl_strv: push, setenv replaces by exact key, remove keeps order" {
	run -0 "$T" strv
	assert_output "$(printf 'A=one\nAB=3\nC=3')"
}

# quote_roundtrip SHELL VALUE: the quoted value reads back as VALUE in SHELL
quote_roundtrip() {
	local q
	q=$("$T" quote sh "$2"; echo x)
	q=${q%x}
	run -0 "$1" -c "printf '%s' $q"
	[ "$output" = "$2" ] || fail "$1 read back '$output' for '$2'"
}

@test "sl_quote_sh: hostile values read back exactly in sh, dash and bash" {
	cd "$BATS_TEST_TMPDIR"
	for v in "plain" "" "it's" "'" "''" '"double"' '$(touch pwned)' \
		 '`touch pwned`' 'back\slash' 'semi;colon && rm -rf /' \
		 "$(printf 'new\nline')" "trailing space " '$HOME ${HOME} $((1+1))' \
		 '!bang !!' '*' '~' "tab	tab"; do
		for sh in sh dash bash; do
			quote_roundtrip "$sh" "$v"
		done
	done
	[ ! -e pwned ]
}

@test "sl_quote_sh_word: plain words stay bare, others are quoted" {
	run -0 "$T" quote word "/usr/bin/env"
	assert_output "/usr/bin/env"
	run -0 "$T" quote word "a b"
	assert_output "'a b'"
	run -0 "$T" quote word ""
	assert_output "''"
	run -0 "$T" quote word '$x'
	assert_output "'\$x'"
}

@test "sl_quote_url: only RFC 3986 unreserved bytes stay" {
	run -0 "$T" quote url 'p@ss:w/rd ?#%~._-Z9é'
	assert_output 'p%40ss%3Aw%2Frd%20%3F%23%25~._-Z9%C3%A9'
}

@test "sl_run: exit status passes through" {
	run -0 "$T" run sh -c 'exit 7'
	assert_output "exit 7"
}

@test "sl_run: a child killed by signal n gives 128+n" {
	run -0 "$T" run sh -c 'kill -TERM $$'
	assert_output "exit 143"
	run -0 "$T" run sh -c 'kill -KILL $$'
	assert_output "exit 137"
}

@test "sl_run: a missing program is 127, a non-executable one 126" {
	run -0 "$T" run no-such-program-here
	assert_output "error 127: unable to run 'no-such-program-here': No such file or directory"
	printf 'echo hi\n' > "$BATS_TEST_TMPDIR/script"
	chmod 644 "$BATS_TEST_TMPDIR/script"
	run -0 "$T" run "$BATS_TEST_TMPDIR/script"
	assert_output "error 126: unable to run '$BATS_TEST_TMPDIR/script': Permission denied"
}

@test "sl_run: arguments reach the program untouched, no shell involved" {
	run -0 "$T" capture printf '%s|' 'a b' '$(echo no)' '*' ''
	assert_output "$(printf 'captured 18 bytes: a b|$(echo no)|*||exit 0')"
}

@test "sl_run: working directory, and a missing one is reported as such" {
	RUN_DIR=/ run -0 "$T" capture pwd
	assert_output "$(printf 'captured 2 bytes: /\nexit 0')"
	RUN_DIR=$BATS_TEST_TMPDIR/none run -0 "$T" run true
	assert_output "error 126: unable to enter '$BATS_TEST_TMPDIR/none': No such file or directory"
}

@test "sl_run: close_fds leaves a daemon only stdin, stdout and stderr" {
	exec 7>/dev/null
	RUN_CLOSE_FDS=1 run -0 "$T" capture sh -c '[ -e /proc/self/fd/7 ] && echo inherited || echo closed'
	assert_output "$(printf 'captured 7 bytes: closed\nexit 0')"
	run -0 "$T" capture sh -c '[ -e /proc/self/fd/7 ] && echo inherited || echo closed'
	assert_output "$(printf 'captured 10 bytes: inherited\nexit 0')"
	exec 7>&-
}

@test "sl_run_which: finds executables on the given PATH only" {
	run -0 "$T" which sh /usr/bin:/bin
	# merged /usr finds it in the first; a buildd chroot may not be merged
	[ "$output" = /usr/bin/sh ] || [ "$output" = /bin/sh ] || fail "$output"
	run -0 "$T" which sh "$BATS_TEST_TMPDIR"
	assert_output "(none)"
	run -0 "$T" which ../sh /usr/bin
	assert_output "(none)"
}

@test "sl_file_write: all or nothing, mode exact whatever the umask" {
	mkdir "$BATS_TEST_TMPDIR/w" && cd "$BATS_TEST_TMPDIR/w"
	umask 000
	run -0 "$T" write f 600 replace one
	assert_output "write 0"
	[ "$(stat -c %a f)" = 600 ]
	[ "$(cat f)" = one ]
	run -0 "$T" write f 640 replace two
	[ "$(stat -c %a f)" = 640 ]
	[ "$(cat f)" = two ]
	[ -z "$(ls -A | grep -v '^f$')" ] || fail "temporary files left: $(ls -A)"
}

@test "sl_file_write: SL_FILE_EXCL keeps an existing file" {
	mkdir "$BATS_TEST_TMPDIR/w" && cd "$BATS_TEST_TMPDIR/w"
	run -0 "$T" write s 600 excl first
	assert_output "write 0"
	run -0 "$T" write s 600 excl second
	assert_output "write 1"
	[ "$(cat s)" = first ]
	[ "$(ls -A)" = s ]
}

@test "sl_file_write: an unwritable place is an error naming the file" {
	run -100 "$T" write "$BATS_TEST_TMPDIR/no/such/f" 600 replace x
	assert_output "libsl-test: fatal: unable to create a file beside $BATS_TEST_TMPDIR/no/such/f: No such file or directory"
}

@test "sl_file_mkdirs: parents made, existing kept, a file in the way refused" {
	cd "$BATS_TEST_TMPDIR"
	run -0 "$T" mkdirs a/b/c/
	[ -d a/b/c ]
	run -0 "$T" mkdirs a/b
	touch file
	run -100 "$T" mkdirs file/x
	assert_output "libsl-test: fatal: unable to create file/x: Not a directory"
	run -100 "$T" mkdirs file
	assert_output "libsl-test: fatal: unable to create file: Not a directory"
}

@test "app names: the pattern of doc/SPEC.md, and database names" {
	run -0 "$T" dbname my-blog-2
	assert_output "my_blog_2 valid"
	for bad in Blog 1blog _blog blog_x "" "a b" "$(printf 'a%.0s' {1..32})"; do
		run -0 "$T" dbname "$bad"
		assert_output --regexp ' invalid$'
	done
	run -0 "$T" dbname "a$(printf 'b%.0s' {1..30})"
	assert_output --regexp ' valid$'
}

@test "libsl-test: usage errors exit 100 with the usage line" {
	run -100 "$T"
	assert_output --regexp '^libsl-test: usage: libsl-test buf'
}

# The manifest's symlinks (libsl/manifest.c): "b/.." is b's parent only
# while b is a directory. x/y/a -> b/../../../etc looks inside the tree
# while b does not exist, and leads wherever a b made later points.

# dangling_attack DIR: DIR/x/y/a -> b/../../../etc, with no DIR/x/y/b
dangling_attack() {
	mkdir -p "$1/x/y"
	ln -s b/../../../etc "$1/x/y/a"
}

@test "manifest: a link going up from a missing name is refused by the laptop (it escapes once the name appears)" {
	A=$BATS_TEST_TMPDIR/app
	app "$A" '[production]' 'app_name = up'
	dangling_attack "$A"
	# the scan comes before any connection: nothing listens on port 1
	run -100 sl-sync "$A" 127.0.0.1:1
	assert_output "sl-sync: fatal: the symlink x/y/a -> b/../../../etc goes up ('..') from a name that does not exist or is not a directory, and would lead elsewhere once it does"
	# the attack: once b appears, a is the etc beside the tree, not x/etc
	mkdir -p "$BATS_TEST_TMPDIR/deep/1/2/3" "$BATS_TEST_TMPDIR/deep/etc"
	echo stolen > "$BATS_TEST_TMPDIR/deep/etc/passwd"
	ln -s "$BATS_TEST_TMPDIR/deep/1/2/3" "$A/x/y/b"
	run -0 cat "$A/x/y/a/passwd"
	assert_output stolen
	# a file in the way is no better than a missing name
	rm "$A/x/y/b"; touch "$A/x/y/b"
	run -100 sl-sync "$A" 127.0.0.1:1
	assert_output --partial "the symlink x/y/a -> b/../../../etc goes up"
}

@test "manifest: links inside the tree still pass: up through real directories, or to a missing name" {
	A=$BATS_TEST_TMPDIR/app
	app "$A" '[production]' 'app_name = up'
	mkdir -p "$A/x/y/b" "$A/x/z"
	ln -s b/../../z "$A/x/y/up"
	ln -s ../z/missing "$A/x/y/dangling"
	ln -s b "$A/x/y/s"
	ln -s s/../b/. "$A/x/y/through-link"
	# past the scan, the connection is what fails
	run -111 sl-sync "$A" 127.0.0.1:1
	assert_output --partial "unable to connect"
	ln -s ../../../etc "$A/x/y/out"
	run -100 sl-sync "$A" 127.0.0.1:1
	assert_output "sl-sync: fatal: the symlink x/y/out -> ../../../etc points outside the app; only links inside it can be uploaded"
}

@test "manifest: a link going up from a missing name is refused by the node itself" {
	export SL_ROOT=$BATS_TEST_TMPDIR/root
	mf=$BATS_TEST_TMPDIR/manifest
	t=b/../../../etc
	printf '%s\0' d 755 0 "" x "" d 755 0 "" x/y "" l 777 "${#t}" "" x/y/a "$t" > "$mf"
	{ printf 'manifest %d\n' "$(stat -c %s "$mf")"; cat "$mf"; printf 'end\n'; } > "$BATS_TEST_TMPDIR/stream"
	run -100 sl-sync --server app < "$BATS_TEST_TMPDIR/stream"
	assert_output "$(printf 'need 0\nsl-sync: fatal: the symlink x/y/a -> %s goes up (%s) from a name that does not exist or is not a directory, and would lead elsewhere once it does' "$t" "'..'")"
	run -0 sh -c "ls -A '$SL_ROOT/instances' | grep -v '^\\.lock-' || true"
	assert_output ""
}

# --- locations (libsl/location.c) and routes (libsl/route.c) ---------------

@test "sl_location_parse: good locations, normalised" {
	run -0 "$T" location my-site.com http://Blog.Example.com/Wiki/ HTTP://A.com// \
		'*' .Example.com not-found a.com/x/y~z_.-9/ 'http://a.com/a.b'
	assert_output "$(printf '%s\n' 'my-site.com /' 'blog.example.com /Wiki' 'a.com /' \
		'* /' '.example.com /' 'not-found /' 'a.com /x/y~z_.-9' 'a.com /a.b')"
}

@test "sl_location_parse: bad locations, each refused with its reason (100)" {
	want="invalid location '%s': want [http[s]://]host[/path]"
	for bad in my_site.com . .. '' /x 'a b.com' -a.com a-.com a..com 'a.com:80' \
		'*.a.com' 'ex ample.com/x'; do
		run -0 "$T" location "$bad"
		assert_output "error 100: $(printf "$want" "$bad")"
	done
	run -0 "$T" location "$(printf 'a\tb.com')" "$(printf 'a.com/x\ny')"
	assert_output "$(printf '%s\n' "error 100: invalid location 'a\\x09b.com': want [http[s]://]host[/path]" \
		"error 100: invalid path in location 'a.com/x\\x0ay'")"
	for bad in a.com/%2e a.com/%2E%2E a.com//x 'a.com/a b' a.com/x?y a.com/é; do
		run -0 "$T" location "$bad"
		assert_output "error 100: invalid path in location '$bad'"
	done
	for bad in a.com/. a.com/.. a.com/x/../y a.com/./x/ http://a.com/x/..; do
		run -0 "$T" location "$bad"
		assert_output "error 100: invalid path in location '$bad': no . or .. segments"
	done
	run -0 "$T" location disabled/x
	assert_output "error 100: invalid location 'disabled/x': the host name disabled is the node's own"
}

@test "sl_location_parse: prev.HOST only with SL_LOC_PREV, https:// only with SL_LOC_HTTPS" {
	run -0 "$T" location prev.a.com
	assert_output "error 100: invalid location 'prev.a.com': prev.* names the previous instance; roll back with 'prev'"
	run -0 "$T" location --prev prev.a.com/x 'prev.*'
	assert_output "$(printf 'prev.a.com /x\nprev.* /')"
	run -0 "$T" location 'prev.*'
	assert_output --partial "want [http[s]://]host[/path]"
	run -0 "$T" location HTTPS://a.com/x
	assert_output "error 100: HTTPS://a.com/x: a scheme means nothing here: give a.com/x"
	run -0 "$T" location --https https://A.com/x/ http://a.com
	assert_output "$(printf 'a.com /x https\na.com /')"
	# no certificate can name every host, nor a preview
	for loc in 'https://*' https://not-found/x https://prev.a.com; do
		run -0 "$T" location --https --prev "$loc"
		assert_output "error 100: no certificate can name this host '$loc': give https://HOST for each host, or https://.example.com with a certificate you install (silver install-cert)"
	done
}

@test "sl_location_url and sl_location_prev" {
	run -0 "$T" location-url .example.com /wiki node.example.net
	assert_output "http://example.com/wiki prev.example.com"
	run -0 "$T" location-url '*' / node.example.net
	assert_output "http://node.example.net prev.*"
	run -0 "$T" location-url a.com / n
	assert_output "http://a.com prev.a.com"
}

@test "sl_routes: load, set, commit round trip, sorted, by temp file" {
	mkdir "$BATS_TEST_TMPDIR/r"
	f=$BATS_TEST_TMPDIR/r/routes
	run -0 "$T" routes "$f" set b.com / b.2024-01-01_001 set a.com /x a.2024-01-01_001 \
		set a.com / a.2024-01-01_002
	assert_output "$(printf '%s\n' 'get b.com /: b.2024-01-01_001' 'get a.com /x: a.2024-01-01_001' \
		'get a.com /: a.2024-01-01_002' \
		'a.com / a.2024-01-01_002' 'a.com /x a.2024-01-01_001' 'b.com / b.2024-01-01_001')"
	[ "$(cat "$f")" = "$(printf '%s\n' 'a.com / a.2024-01-01_002' 'a.com /x a.2024-01-01_001' 'b.com / b.2024-01-01_001')" ]
	[ "$(stat -c %a "$f")" = 644 ]
	run -0 "$T" routes "$f" set a.com /x - set b.com / b.2024-01-02_001 set c.com / -
	assert_output "$(printf '%s\n' 'get a.com /x: (none)' 'get b.com /: b.2024-01-02_001' \
		'get c.com /: (none)' 'a.com / a.2024-01-01_002' 'b.com / b.2024-01-02_001')"
	[ "$(ls -A "${f%/*}" | grep -v '^routes$')" = "" ] || fail "left: $(ls -A "${f%/*}")"
	# an unsorted table (the 2010 tool appended) loads, and is written sorted
	printf 'z.com / z.2024-01-01_001\nprev.a.com / a.2024-01-01_001\n* / s.2024-01-01_001\n' > "$f"
	run -0 "$T" routes "$f"
	assert_output "$(printf '%s\n' '* / s.2024-01-01_001' 'prev.a.com / a.2024-01-01_001' 'z.com / z.2024-01-01_001')"
	# no file is an empty table
	run -0 "$T" routes "$BATS_TEST_TMPDIR/none"
	assert_output ""
}

@test "sl_routes_load: a damaged table is refused (111), never skipped or rewritten" {
	f=$BATS_TEST_TMPDIR/routes
	for bad in 'a.com / ' 'a.com /' 'a.com  / a.2024-01-01_001' 'A.com / a.2024-01-01_001' \
		'a.com /x/ a.2024-01-01_001' 'a.com / A.2024-01-01_001' 'a.com / a' \
		'a.com / a.2024-01-01_001 https x' 'a.com / a.2024-01-01_001 https ' 'my_site.com / a.2024-01-01_001' 'a.com /../x a.2024-01-01_001' \
		'a.com x a.2024-01-01_001' ''; do
		printf 'b.com / b.2024-01-01_001\n%s\n' "$bad" > "$f"
		run -111 "$T" routes "$f" set c.com / c.2024-01-01_001
		assert_output "libsl-test: fatal: $f:2: the node's routes are damaged: want 'HOST PATH INSTANCE'"
		[ "$(cat "$f")" = "$(printf 'b.com / b.2024-01-01_001\n%s' "$bad")" ]
	done
	printf 'b.com / b.2024-01-01_001' > "$f"
	run -111 "$T" routes "$f"
	assert_output "libsl-test: fatal: $f:1: the node's routes are damaged: the line is not whole"
	printf 'b.com / b.2024-01-01_001\nb.com / b.2024-01-01_002\n' > "$f"
	run -111 "$T" routes "$f"
	assert_output "libsl-test: fatal: $f:2: the node's routes are damaged: b.com/ is routed twice"
}

@test "sl_routes: flags https and https,hsts load, keep through a new instance, and are written only when set" {
	f=$BATS_TEST_TMPDIR/routes
	# a table of before HTTPS (three fields) and one with flags load alike
	printf '%s\n' 'a.com / a.2024-01-01_001' 'a.com /x x.2024-01-01_001 https' \
		'b.com / b.2024-01-01_001 https,hsts' 'prev.a.com / a.2024-01-01_000' > "$f"
	run -0 "$T" routes "$f"
	assert_output "$(printf '%s\n' 'a.com / a.2024-01-01_001' 'a.com /x x.2024-01-01_001 flags=1' \
		'b.com / b.2024-01-01_001 flags=3' 'prev.a.com / a.2024-01-01_000')"
	# a new instance at a location keeps its flags; a new location has none
	run -0 "$T" routes "$f" set a.com /x x.2024-01-02_001 set c.com / c.2024-01-01_001
	assert_output --partial 'a.com /x x.2024-01-02_001 flags=1'
	assert_output --partial 'c.com / c.2024-01-01_001'
	refute_output --partial 'c.com / c.2024-01-01_001 flags'
	# set and cleared; hsts without https means nothing and is dropped; prev.* takes none;
	# a location not routed takes none either
	run -0 "$T" routes "$f" flags a.com / 3 flags b.com / 0 flags c.com / 2 \
		flags prev.a.com / 1 flags d.com / 1
	[ "$(cat "$f")" = "$(printf '%s\n' 'a.com / a.2024-01-01_001 https,hsts' \
		'a.com /x x.2024-01-02_001 https' 'b.com / b.2024-01-01_001' 'c.com / c.2024-01-01_001' \
		'prev.a.com / a.2024-01-01_000')" ]
	# a removed location and routed again: no flags left from before
	run -0 "$T" routes "$f" set a.com / - set a.com / a.2024-01-03_001
	[ "$(head -1 "$f")" = 'a.com / a.2024-01-03_001' ]
}

@test "sl_routes_load: flags other than https and https,hsts, or on a prev.* route, are damage (111)" {
	f=$BATS_TEST_TMPDIR/routes
	for bad in hsts https,hsts,x hsts,https HTTPS '' https, ,https http; do
		printf 'b.com / b.2024-01-01_001\na.com / a.2024-01-01_001 %s\n' "$bad" > "$f"
		run -111 "$T" routes "$f" set c.com / c.2024-01-01_001
		assert_output "libsl-test: fatal: $f:2: the node's routes are damaged: flags '$bad': want https or https,hsts"
	done
	printf 'prev.a.com / a.2024-01-01_001 https\n' > "$f"
	run -111 "$T" routes "$f"
	assert_output "libsl-test: fatal: $f:1: the node's routes are damaged: prev.a.com/ carries flags (a previous instance has none)"
	[ "$(cat "$f")" = 'prev.a.com / a.2024-01-01_001 https' ]
}

@test "sl_routes_match: paths on segment boundaries, longest first" {
	f=$BATS_TEST_TMPDIR/routes
	printf '%s\n' 'a.com /wiki w.2024-01-01_001' 'a.com /wiki/en e.2024-01-01_001' \
		'b.com / b.2024-01-01_001' > "$f"
	for q in '/wiki w' '/wiki/ w' '/wiki/x w' '/wiki/en e' '/wiki/en/page e' '/wiki/english w' \
		'/wikipedia (none)' '/ (none)'; do
		run -0 "$T" routes-match "$f" a.com "${q% *}"
		i=${output##* }
		[ "${i%%.*}" = "${q#* }" ] || fail "a.com ${q% *}: $output"
	done
	run -0 "$T" routes-match "$f" B.COM /anything/at/all
	assert_output "b.com / b.2024-01-01_001"
	# no default route: an unknown host reaches nothing
	run -0 "$T" routes-match "$f" c.com /
	assert_output "(none)"
}

@test "sl_routes_match: exact host, then the longest wildcard, then * or not-found" {
	f=$BATS_TEST_TMPDIR/routes
	printf '%s\n' '* / d.2024-01-01_001' '.example.com / w.2024-01-01_001' \
		'.blog.example.com / bw.2024-01-01_001' 'www.blog.example.com /x x.2024-01-01_001' > "$f"
	for q in 'www.blog.example.com/x x' 'blog.example.com/ bw' 'a.blog.example.com/ bw' \
		'example.com/ w' 'a.example.com/ w' 'badexample.com/ d' 'other.org/ d' \
		'www.blog.example.com/y (none)'; do
		h=${q%%/*} p=/${q#*/}; p=${p% *}
		run -0 "$T" routes-match "$f" "$h" "$p"
		i=${output##* }
		[ "${i%%.*}" = "${q#* }" ] || fail "$h $p: $output"
	done
	printf '%s\n' 'not-found / n.2024-01-01_001' > "$f"
	run -0 "$T" routes-match "$f" any.host /z
	assert_output "not-found / n.2024-01-01_001"
}
# a template: template.ini, a .tmpl file, a +NAME+ in a directory's name
make_template() {
	cd "$BATS_TEST_TMPDIR"
	mkdir -p "$1/+site+" "$1/static"
	printf '[variables]\ngreeting = what the page says\napi_token = the token\n[defaults]\ngreeting = hello\n' > "$1/template.ini"
	printf 'say = {{greeting}}\ntoken = {{ api_token }}\nport = {{port}}\nnot = {{ two words }} {x}\n' > "$1/+site+/app.conf.tmpl"
	printf 'as it is {{greeting}}\n' > "$1/static/plain.txt"
	chmod 755 "$1/static/plain.txt"
}

@test "sl_template: variables from template.ini first, then as used; secrets spotted" {
	make_template tpl
	run -0 "$T" template tpl out greeting=hi api_token=t0k port=8080 site=main
	assert_output "$(printf '%s\n' \
		'var greeting listed=1 secret=0 desc=what the page says value=hello' \
		'var api_token listed=1 secret=1 desc=the token value=-' \
		'var site listed=0 secret=0 desc=- value=-' \
		'var port listed=0 secret=0 desc=- value=-' \
		'written')"
	run -0 cat out/main/app.conf
	assert_output "$(printf 'say = hi\ntoken = t0k\nport = 8080\nnot = {{ two words }} {x}')"
	# other files are copied as they are; template.ini is not; all owner-only
	run -0 cat out/static/plain.txt
	assert_output "as it is {{greeting}}"
	[ ! -e out/template.ini ]
	[ "$(stat -c %a out out/main out/main/app.conf out/static/plain.txt)" = "$(printf '700\n700\n600\n700')" ]
}

@test "sl_template: a bad value, a missing value or an unknown variable writes nothing" {
	make_template tpl
	run -100 "$T" template tpl out api_token=t port=1 site=a/b
	assert_line "libsl-test: fatal: site='a/b' makes the name +site+ hold a '/'"
	run -100 "$T" template tpl out api_token=t port=1 site=..
	assert_line "libsl-test: fatal: the variables make the name +site+ '..'"
	run -100 "$T" template tpl out api_token=t site=a
	assert_line "libsl-test: fatal: no value for port"
	run -100 "$T" template tpl out nosuch=1
	assert_line "libsl-test: fatal: nosuch is not a variable of the template (--info lists them)"
	run -100 "$T" template tpl out novalue
	assert_line "libsl-test: fatal: 'novalue' is not VAR=VALUE"
	run -0 ls -A
	refute_line --regexp '^out'
}

@test "sl_diff: added, deleted, modified, mode and type changes, sorted by path" {
	cd "$BATS_TEST_TMPDIR"
	mkdir -p old/keep old/gone new/keep new/added
	echo same > old/keep/same; echo same > new/keep/same
	echo one > old/edit; echo two > new/edit
	echo x > old/mode; echo x > new/mode; chmod 755 new/mode
	echo f > old/kind; mkdir new/kind
	ln -s same old/keep/link; ln -s other new/keep/link
	echo bye > old/gone/file
	echo hi > new/added/file
	run -0 "$T" diff old new
	assert_output "$(printf '%s\n' \
		'A added/' 'A added/file [text]' 'M edit [text]' 'D gone/' 'D gone/file [text]' \
		'M keep/link -> other' 'T kind/ (directory, was a file) [text]' \
		'M mode (mode 644 -> 755)')"
	# nothing deployed: everything is new; the same tree: nothing changes
	run -0 "$T" diff - new/keep
	assert_output "$(printf '%s\n' 'A link -> other' 'A same [text]')"
	run -0 "$T" diff new new
	assert_output ""
}

@test "the stable links: one per location, renamed onto its instance, the rest pruned" {
	export SL_ROOT=$BATS_TEST_TMPDIR/root
	mkdir -p "$SL_ROOT"
	printf '%s\n' 'a.com / a.2024-01-01_002' 'prev.a.com / a.2024-01-01_001' \
		'b.com /wiki b.2024-01-01_001' > "$SL_ROOT/routes"
	run -0 "$T" links
	assert_line --index 0 --regexp "^a\.com / 1 $SL_ROOT/nginx/at/[0-9a-f]{32}\$"
	[ "${#lines[@]}" = 3 ]
	link=${lines[0]##* }
	run -0 readlink "$link"
	assert_output ../inst/a.2024-01-01_002
	run -0 readlink "$link/sock"
	assert_output /run/silverlining/a.2024-01-01_002.sock
	run -0 readlink "$link/static"
	assert_output "$SL_ROOT/instances/a.2024-01-01_002/static"
	run -0 readlink "$link/app"	# a PHP route's scripts, through the same link
	assert_output "$SL_ROOT/instances/a.2024-01-01_002"
	# the socket's path, ROOT/nginx/at/KEY/sock, fits a Unix socket's 108
	# bytes with the default ROOT (every KEY is as long)
	root=/var/lib/silverlining
	n=$(( ${#root} + ${#link} - ${#SL_ROOT} + 5 ))
	[ "$n" -lt 108 ] || fail "a socket path of $n bytes"
	# a PHP route's is named by the link's real path, ROOT/nginx/inst/INST/sock:
	# it fits too, for the longest app name (31 bytes, and .YYYY-MM-DD_NNN)
	n=$(( ${#root} + 12 + 31 + 15 + 5 ))
	[ "$n" -lt 108 ] || fail "a PHP socket path of $n bytes"
	# made again: nothing changes; a switch renames one link, and a link
	# and an instance directory no route names any more are removed
	ino=$(stat -c %i "$link")
	run -0 "$T" links
	assert_line --index 0 --regexp "^a\.com / 0 "
	printf '%s\n' 'a.com / a.2024-01-01_001' 'prev.a.com / a.2024-01-01_001' > "$SL_ROOT/routes"
	run -0 "$T" links
	assert_line --index 0 "a.com / 1 $link"
	[ "$(stat -c %i "$link")" != "$ino" ] || fail "the link was not replaced"
	run -0 readlink "$link"
	assert_output ../inst/a.2024-01-01_001
	run -0 ls "$SL_ROOT/nginx/at" "$SL_ROOT/nginx/inst"
	[ "$(ls "$SL_ROOT/nginx/at" | wc -l)" = 2 ] || fail "$output"
	[ "$(ls "$SL_ROOT/nginx/inst")" = a.2024-01-01_001 ] || fail "$output"
}

# selfsigned NAME: NAME.crt and NAME.key, a certificate for NAME and its key
selfsigned() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=$1" -keyout "$1.key" -out "$1.crt" 2> /dev/null
}

@test "sl_switch_render: an https host gets its live certificate and the digest of its certificate blocks, else HTTP and a warning" {
	export SL_ROOT=$BATS_TEST_TMPDIR/root
	mkdir -p "$SL_ROOT/tls/certs" "$SL_ROOT/tls/live"
	cd "$BATS_TEST_TMPDIR"
	printf '%s\n' 'a.com / a.2024-01-01_001 https' 'a.com /x x.2024-01-01_001 https,hsts' \
		'b.com / b.2024-01-01_001 https' 'c.com / c.2024-01-01_001' > "$SL_ROOT/routes"
	run -0 --separate-stderr "$T" switch-render
	[ "$stderr" = "$(printf 'said: warning: %s has no certificate: its https locations are served over HTTP\n' a.com b.com)" ]
	refute_output --partial 443
	refute_output --partial Strict-Transport-Security
	assert_output --partial "alias \"$SL_ROOT/acme/challenge/\";"
	# a.com's certificate: its chain, then its key, one file behind the live link
	selfsigned a.com
	cat a.com.crt a.com.key > "$SL_ROOT/tls/certs/acme-a.com.pem"
	ln -s ../certs/acme-a.com.pem "$SL_ROOT/tls/live/a.com.pem"
	run -0 --separate-stderr "$T" switch-render
	[ "$stderr" = 'said: warning: b.com has no certificate: its https locations are served over HTTP' ]
	[ "$(grep -c '^	listen 443 ssl http2;$' <<< "$output")" -eq 1 ]
	assert_output --partial "	ssl_certificate \"$SL_ROOT/tls/live/a.com.pem\";"
	assert_output --partial "	# certificate sha256 $(printf %s "$(cat a.com.crt)" | sha256sum | cut -c1-64)"
	[ "$(grep -c Strict-Transport-Security <<< "$output")" -eq 2 ]
	echo "$output" > first
	# another key with the same certificate: the same text (the key is not hashed)
	selfsigned other
	cat a.com.crt other.key > "$SL_ROOT/tls/certs/acme-a.com.pem"
	"$T" switch-render 2> /dev/null > again
	cmp first again
	# a chain of two: both certificates count; a renewed leaf is a new text
	cat a.com.crt other.crt a.com.key > "$SL_ROOT/tls/certs/acme-a.com.pem"
	"$T" switch-render 2> /dev/null > chain
	# (each block from its BEGIN line to the end of its END line, the newlines between left out)
	grep -qx "	# certificate sha256 $( (printf %s "$(cat a.com.crt)"; printf %s "$(cat other.crt)") | sha256sum | cut -c1-64)" chain
	! cmp -s first chain
	# a link to nothing, or a file without a certificate: no certificate
	cat a.com.key > "$SL_ROOT/tls/certs/acme-a.com.pem"
	run -0 --separate-stderr "$T" switch-render
	[[ $stderr == *'a.com has no certificate'* ]]
	refute_output --partial 443
	rm "$SL_ROOT/tls/certs/acme-a.com.pem"
	run -0 --separate-stderr "$T" switch-render
	[[ $stderr == *'a.com has no certificate'* ]]
	refute_output --partial 443
}

@test "switch render: a PHP app's route from its app.ini: runner or php_root, through the location's link" {
	export SL_ROOT=$BATS_TEST_TMPDIR/root
	mkdir -p "$SL_ROOT/instances/p.2024-01-01_001" "$SL_ROOT/instances/q.2024-01-01_001/web" \
		"$SL_ROOT/instances/y.2024-01-01_001"
	printf '[production]\napp_name = p\nplatform = php\nrunner = index.php\ntimeout = 50\n' \
		> "$SL_ROOT/instances/p.2024-01-01_001/app.ini"
	printf '[production]\napp_name = q\nplatform = php\nphp_root = web\n' > "$SL_ROOT/instances/q.2024-01-01_001/app.ini"
	printf '[production]\napp_name = y\nrunner = app.py\n' > "$SL_ROOT/instances/y.2024-01-01_001/app.ini"
	printf '%s\n' 'p.com / p.2024-01-01_001' 'p.com /q q.2024-01-01_001' \
		'y.com / y.2024-01-01_001' > "$SL_ROOT/routes"
	run -0 "$T" switch-render
	assert_line '		fastcgi_param SCRIPT_FILENAME "$realpath_root/app/index.php";'
	assert_line '		fastcgi_param SCRIPT_FILENAME "$realpath_root/app/web$uri";'
	assert_line '		fastcgi_read_timeout 55s;'
	assert_line --regexp "^		root \"$SL_ROOT/nginx/at/[0-9a-f]{32}/app/web\";\$"
	[ "$(grep -c 'fastcgi_pass "unix:$realpath_root/sock";' <<< "$output")" -eq 2 ]
	# the Python app beside them is proxied as before
	[ "$(grep -c 'proxy_pass "http://unix:' <<< "$output")" -eq 1 ]
}

@test "sl_fanout: every line of every child, stdout and stderr, prefixed by its host; codes per job" {
	run -0 --separate-stderr "$T" fanout a 'echo one; echo two >&2; printf three' \
		b 'exit 3' c fn:5 d 'kill -TERM $$' e 'echo "x: y"; exit 0'
	# lines of different children interleave, so compare sorted
	assert_equal "$(sort <<<"$output")" "$(sort <<'OUT'
a: one
a: three
c: out of fn
c: last line unended
e: x: y
a code 0
b code 3
c code 5
d code 143
e code 0
first-failed 1
OUT
)"
	assert_equal "$(sort <<<"$stderr")" "$(printf '%s\n' 'a: two' 'c: err of fn')"
}

@test "sl_fanout: a captured stdout is kept apart, not relayed; stderr still is" {
	run -0 --separate-stderr "$T" fanout -c a 'echo one; echo two >&2' b fn:0
	assert_output "$(cat <<'OUT'
a code 0
a captured [one
]
b code 0
b captured [out of fn
last line unended]
first-failed -1
OUT
)"
	assert_equal "$(sort <<<"$stderr")" "$(printf '%s\n' 'a: two' 'b: err of fn')"
}

@test "sl_fanout: the children run at once, and a long line is relayed whole" {
	# b waits for a's mark, so one after the other would never end: a deadlock
	# shows as the suite hanging, not as a timed assertion
	mark=$BATS_TEST_TMPDIR/a-ran
	run -0 "$T" fanout b "while ! test -e $mark; do sleep 0.01; done; echo b saw a" \
		a "touch $mark; head -c 100000 /dev/zero | tr '\\0' x; echo"
	assert_line "b: b saw a"
	assert_line "a: $(head -c 65536 /dev/zero | tr '\0' x)"
	assert_line "a: $(head -c 34464 /dev/zero | tr '\0' x)"
	assert_line "first-failed -1"
}

@test "sl_instance_copy: files linked, dirs and symlinks made again, the next name, the index follows" {
	export SL_ROOT=$BATS_TEST_TMPDIR/root
	local today from to
	today=$(date -u +%F)
	from=blog.${today}_001
	mkdir -p "$SL_ROOT/instances/$from/static/css" "$SL_ROOT/instances/blog.${today}_002"
	echo app >"$SL_ROOT/instances/$from/app.ini"
	echo body >"$SL_ROOT/instances/$from/static/css/site.css"
	chmod 0751 "$SL_ROOT/instances/$from/static"
	chmod 0750 "$SL_ROOT/instances/$from"
	ln -s css/site.css "$SL_ROOT/instances/$from/static/site.css"
	printf 'instance %s\nMANIFEST\n' "$from" >"$SL_ROOT/instances/.index-blog"
	run -0 "$T" instance-copy "$from"
	to=blog.${today}_003
	assert_output "$to"
	local d=$SL_ROOT/instances/$to
	[ "$(stat -c %i "$d/app.ini")" = "$(stat -c %i "$SL_ROOT/instances/$from/app.ini")" ]
	[ "$(stat -c %i "$d/static/css/site.css")" = "$(stat -c %i "$SL_ROOT/instances/$from/static/css/site.css")" ]
	[ "$(readlink "$d/static/site.css")" = css/site.css ]
	[ "$(stat -c %a "$d/static")" = 751 ]
	[ "$(stat -c %a "$d")" = 750 ]
	[ "$(stat -c %i "$d/static")" != "$(stat -c %i "$SL_ROOT/instances/$from/static")" ]
	[ "$(cat "$SL_ROOT/instances/.index-blog")" = "$(printf 'instance %s\nMANIFEST' "$to")" ]
	# an index naming another instance is left as it is
	run -0 "$T" instance-copy "blog.${today}_002"
	assert_output "blog.${today}_004"
	[ "$(head -1 "$SL_ROOT/instances/.index-blog")" = "instance $to" ]
	run -0 find "$SL_ROOT/instances" -maxdepth 1 -name '.incoming-*'
	assert_output ""
}

@test "sl_instance_copy: what is not a file, a directory or a symlink stops it, nothing left; a missing one is 100" {
	export SL_ROOT=$BATS_TEST_TMPDIR/root
	local from=blog.$(date -u +%F)_001
	mkdir -p "$SL_ROOT/instances/$from/sub"
	echo x >"$SL_ROOT/instances/$from/a"
	mkfifo "$SL_ROOT/instances/$from/sub/pipe"
	run -111 "$T" instance-copy "$from"
	assert_output --partial "sub/pipe is not a file, a directory or a symlink"
	run -0 ls -A "$SL_ROOT/instances"
	assert_output "$(printf '%s\n%s' .lock-blog "$from")"
	run -100 "$T" instance-copy "blog.$(date -u +%F)_009"
	assert_output --partial "no instance blog."
	run -100 "$T" instance-copy "../etc"
	assert_output --partial "invalid instance name"
}

@test "sl_service_db_push_vars: a local server's seven variables as ever; a remote one's query ends both URLs, its variables follow" {
	run -0 "$T" db-vars pg 127.0.0.1 5432
	assert_output "$(printf '%s\n' CONFIG_PG_DBNAME=my_blog CONFIG_PG_USER=my_blog \
		CONFIG_PG_PASSWORD=p@ss CONFIG_PG_HOST=127.0.0.1 CONFIG_PG_PORT=5432 \
		'CONFIG_PG_SQLALCHEMY=postgresql+psycopg2://my_blog:p%40ss@127.0.0.1:5432/my_blog' \
		'CONFIG_PG_URL=postgresql://my_blog:p%40ss@127.0.0.1:5432/my_blog')"
	run -0 "$T" db-vars pg 10.0.0.5 5433 'sslmode=verify-ca&sslrootcert=/r/services/postgresql.pem' \
		CONFIG_PG_SSLROOTCERT=/r/services/postgresql.pem
	assert_line CONFIG_PG_HOST=10.0.0.5
	assert_line CONFIG_PG_PORT=5433
	assert_line 'CONFIG_PG_SQLALCHEMY=postgresql+psycopg2://my_blog:p%40ss@10.0.0.5:5433/my_blog?sslmode=verify-ca&sslrootcert=/r/services/postgresql.pem'
	assert_line 'CONFIG_PG_URL=postgresql://my_blog:p%40ss@10.0.0.5:5433/my_blog?sslmode=verify-ca&sslrootcert=/r/services/postgresql.pem'
	[ "${lines[7]}" = CONFIG_PG_SSLROOTCERT=/r/services/postgresql.pem ] && [ "${#lines[@]}" = 8 ]
	# a kind with a query of its own: the remote one joins it with '&'
	run -0 "$T" db-vars my localhost 3306
	assert_line 'CONFIG_MYSQL_SQLALCHEMY=mysql+mysqldb://my_blog:p%40ss@localhost:3306/my_blog?charset=utf8mb4'
	run -0 "$T" db-vars my 10.0.0.5 3306 'ssl_ca=/r/services/mysql.pem'
	assert_line 'CONFIG_MYSQL_SQLALCHEMY=mysql+mysqldb://my_blog:p%40ss@10.0.0.5:3306/my_blog?charset=utf8mb4&ssl_ca=/r/services/mysql.pem'
	assert_line 'CONFIG_MYSQL_URL=mysql://my_blog:p%40ss@10.0.0.5:3306/my_blog?ssl_ca=/r/services/mysql.pem'
}
