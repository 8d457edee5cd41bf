#!/usr/bin/env bats
# PHP apps on a provisioned local node: examples/guestbook deployed and
# served by its own php-fpm master, redeployed under load, rolled back;
# broken instances refused; a wedged request killed; two PHP apps kept
# apart (files, sessions, databases, open_basedir); the environment and
# argv; backup -> clear -> restore; workers gone when idle. It prints the
# guestbook's deploy times and the idle memory of a PHP and a Python app.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/lab

ROOT=/var/lib/silverlining

setup_file() {
	lab_setup_file
	provisioned_node_up php
	export GB=$BATS_FILE_TMPDIR/guestbook APPS=$BATS_FILE_TMPDIR/apps
	cp -r "$TOP/examples/guestbook" "$GB"
	mkdir -p "$APPS/peekaboo" "$APPS/peek" "$APPS/phpslow"

	# peekaboo: the app whose data the other tries to reach. Its names are
	# peek's with more letters, so an open_basedir entry without its
	# trailing slash (ROOT/apps/peek) would let peek into them.
	printf '[production]\napp_name = peekaboo\nplatform = php\nrunner = index.php\nservice.files =\nservice.mysql =\n' \
		> "$APPS/peekaboo/app.ini"
	cat > "$APPS/peekaboo/index.php" <<-'EOF'
	<?php
	// instance-secret-peekaboo
	header('Content-Type: text/plain');
	switch (parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH)) {
	case '/session':
	    session_start();
	    $_SESSION['secret'] = 'session-secret-peekaboo';
	    echo session_id(), "\n", session_save_path(), "\n";
	    break;
	case '/file':
	    file_put_contents(getenv('CONFIG_FILES') . '/secret.txt', "files-secret-peekaboo\n");
	    echo getenv('CONFIG_FILES'), "/secret.txt\n";
	    break;
	default:
	    echo "peekaboo\n";
	}
	EOF

	# peek: reads what it is given, every way PHP offers
	printf '[production]\napp_name = peek\nplatform = php\nrunner = index.php\nservice.files =\nservice.mysql =\npackages = php8.2-mysql\n' \
		> "$APPS/peek/app.ini"
	cat > "$APPS/peek/index.php" <<-'EOF'
	<?php
	// instance-own-peek
	mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
	header('Content-Type: text/plain');
	$q = $_GET;
	// every warning PHP gives, which says why a read was refused
	$warnings = [];
	set_error_handler(function (int $no, string $msg) use (&$warnings): bool {
	    $warnings[] = $msg;
	    return true;
	});
	function show(string $how, $data): void
	{
	    global $warnings;
	    echo $how, ': ', is_string($data) && $data !== '' ? "read $data"
	        : 'refused (' . implode('; ', $warnings) . ')', "\n";
	    $warnings = [];
	}
	switch (parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH)) {
	case '/read':
	    show('path', file_get_contents($q['p']));
	    break;
	case '/link':
	    // a link made by PHP (symlink() checks its target), then one made
	    // by the shell, which does not
	    $l = getenv('TEMP') . '/link-' . bin2hex(random_bytes(6));
	    show('symlink', symlink($q['p'], $l) ? file_get_contents($l) : false);
	    shell_exec('ln -s ' . escapeshellarg($q['p']) . ' ' . escapeshellarg("$l.sh"));
	    show('link', file_get_contents("$l.sh"));
	    break;
	case '/basedir':
	    foreach (['/', dirname($q['p']), ini_get('open_basedir') . ':' . dirname($q['p'])] as $to) {
	        echo 'ini_set ', var_export(ini_set('open_basedir', $to), true), "\n";
	    }
	    $warnings = [];
	    show('after ini_set', file_get_contents($q['p']));
	    break;
	case '/shell':
	    show('shell', shell_exec('cat ' . escapeshellarg($q['p']) . ' 2>/dev/null'));
	    break;
	case '/session':
	    echo 'ini_set ', var_export(ini_set('session.save_path', $q['dir']), true), "\n";
	    session_id($q['sid']);
	    session_start();
	    echo 'session ', json_encode($_SESSION), ' in ', session_save_path(), "\n";
	    break;
	case '/mysql':
	    try {
	        $db = new mysqli('localhost', getenv('CONFIG_MYSQL_USER'),
	            getenv('CONFIG_MYSQL_PASSWORD'), $q['db']);
	        echo 'mysql: connected to ', $db->query('SELECT DATABASE()')->fetch_row()[0], "\n";
	    } catch (mysqli_sql_exception $e) {
	        echo 'mysql: ', $e->getMessage(), "\n";
	    }
	    break;
	case '/env':
	    foreach (['CONFIG_MYSQL_DBNAME', 'CONFIG_FILES', 'SILVER_INSTANCE_NAME'] as $k) {
	        echo "getenv $k=", getenv($k), "\n", "_SERVER $k=", $_SERVER[$k] ?? '', "\n";
	    }
	    echo 'password getenv ', sha1(getenv('CONFIG_MYSQL_PASSWORD')), "\n";
	    echo 'password _SERVER ', sha1($_SERVER['CONFIG_MYSQL_PASSWORD'] ?? ''), "\n";
	    echo 'open_basedir ', ini_get('open_basedir'), "\n";
	    break;
	case '/plant':
	    // a link where root may open a log of the app's
	    $to = getenv('SILVER_LOGS') . '/' . $q['name'];
	    echo shell_exec('ln -s ' . escapeshellarg($q['to']) . ' ' . escapeshellarg($to)
	        . ' 2>&1 && echo planted');
	    break;
	case '/sleep':
	    sleep((int) $q['s']);
	    echo "slept\n";
	    break;
	default:
	    echo "peek\n";
	}
	EOF

	# phpslow: a request that never returns (timeout is past the slow
	# log's 5 s, so the request is in the slow log before it is killed)
	printf '[production]\napp_name = phpslow\nplatform = php\nrunner = index.php\ntimeout = 7\nprocesses = 2\n' \
		> "$APPS/phpslow/app.ini"
	cat > "$APPS/phpslow/index.php" <<-'EOF'
	<?php
	if (parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) === '/loop') {
	    while (true) {
	        usleep(100000);
	    }
	}
	echo "ok\n";
	EOF
}

teardown_file() {
	sl-node destroy php 3>&- || true
}

setup() {
	lab_setup
}

# sign NAME MESSAGE: a guestbook entry, POSTed as a browser does
sign() {
	curl -s -o /dev/null -w '%{http_code}' -H 'Host: gb.test' \
		--data-urlencode "name=$1" --data-urlencode "message=$2" "http://$NODE_IP/"
}
gb_says() { sed -i "s|<h1>.*</h1>|<h1>$1</h1>|" "$GB/index.php"; }
# the instance a location serves
instance_at() { on awk -v l="$1" '$1 == l {print $3}' $ROOT/routes; }
# unit_pids INST: the processes of INST's unit (by their cgroup, which
# names the unit under cgroup v1 and v2 alike), one a line
unit_pids() {
	on sh -c "for p in /proc/[0-9]*; do
		grep -qs '/silverlining-instance@$1\.service\$' \$p/cgroup && echo \${p#/proc/}
	done; true"
}
# workers INST: the users of the processes of INST's unit that are not
# root's (its php-fpm master is root's, the pool's workers the app's
# user's), one a line; ps reads a process's user from its status, since
# /proc/PID of a process that changed user is root's
workers() {
	local p u
	for p in $(unit_pids "$1"); do
		u=$(on ps -o user= -p "$p") && [ "$u" != root ] && echo "$u"
	done
	true
}
# memory INST: what INST's unit holds: the sum of its processes' Pss in
# MiB, and the unit's MemoryCurrent in MiB where systemd accounts it
memory() {
	local pss=0 p n cur
	for p in $(unit_pids "$1"); do
		n=$(on awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup") && pss=$((pss + n))
	done
	cur=$(on systemctl show -p MemoryCurrent --value "silverlining-instance@$1.service")
	case $cur in
	*[!0-9]* | '') echo "Pss $((pss / 1024)) MiB" ;;
	*) echo "Pss $((pss / 1024)) MiB, MemoryCurrent $((cur / 1048576)) MiB" ;;
	esac
}
# answering FILE: requests to gb.test, one after the other, their status
# codes into FILE, until FILE.stop exists
answering() {
	while [ ! -e "$1.stop" ]; do
		curl -s -o /dev/null -w '%{http_code}\n' -H 'Host: gb.test' "http://$NODE_IP/" >> "$1"
	done
}

@test "the guestbook deploys: its table made by the php CLI, its checks over FastCGI, its page, form and static file served" {
	seconds run -0 --separate-stderr up "$GB" gb.test
	first=$SECONDS_TAKEN
	assert_line --index 0 --regexp '^guestbook\.[0-9]{4}-[0-9]{2}-[0-9]{2}_[0-9]{3}$'
	[[ $stderr == *"guestbook: table entries ready, 0 entries"* ]] || fail "$stderr"
	[[ $stderr == *"sl-activate: update_fetch /_update: 200"* ]] || fail "$stderr"
	[[ $stderr == *"CONFIG_MYSQL_DBNAME=guestbook"* ]] || fail "$stderr"
	[[ $stderr == *"CONFIG_MYSQL_PASSWORD=********"* ]] || fail "$stderr"
	[[ $stderr == *"SILVER_CANONICAL_HOSTNAME=gb.test"* ]] || fail "$stderr"
	[[ $stderr == *"internal=yes"* ]] || fail "the internal request was not marked: $stderr"
	[[ $stderr == *"sl-activate: health check /healthz: 200"* ]] || fail "$stderr"
	run -0 page gb.test
	assert_output --partial "<h1>Guestbook</h1>"
	assert_output --partial "No one has written yet."
	run -0 sign 'Ann <b>' $'first line\n<script>alert(1)</script>'
	assert_output 303
	run -0 page gb.test
	assert_output --partial "Ann &lt;b&gt;"
	assert_output --partial "&lt;script&gt;alert(1)&lt;/script&gt;"
	refute_output --partial "<script>"
	run -0 sign '' 'no name'
	assert_output 400
	run -0 sign "x'); DROP TABLE entries; --" 'quoted'
	assert_output 303
	run -0 on mariadb guestbook -N -e 'SELECT name FROM entries ORDER BY id'
	assert_output "$(printf '%s\n' 'Ann <b>' "x'); DROP TABLE entries; --")"
	run -0 status gb.test /style.css
	assert_output 200
	run -0 page gb.test /style.css
	assert_output --partial "font-family"
	# the runner answers everything else: no other file of the app is served
	run -0 page gb.test /guestbook.php
	assert_output "not found"
	run -0 curl -s -H 'Host: gb.test' -H 'X-Silverlining-Update: 1' "http://$NODE_IP/_update"
	assert_line "internal=no"
	# the second deploy: the packages are there, the database set up
	seconds run -0 up "$GB" gb.test
	warm=$SECONDS_TAKEN
	echo "# guestbook deploy: first $first s (its packages installed, its database made), warm $warm s" >&3
}

@test "a health-gated redeploy under steady load fails no request" {
	: > "$BATS_TEST_TMPDIR/codes"
	answering "$BATS_TEST_TMPDIR/codes" 3>&- &
	pid=$!
	gb_says "Guestbook, version two"
	run -0 --separate-stderr up "$GB" gb.test
	[[ $stderr == *"sl-activate: health check /healthz: 200"* ]] || fail "$stderr"
	run -0 page gb.test
	assert_output --partial "<h1>Guestbook, version two</h1>"
	touch "$BATS_TEST_TMPDIR/codes.stop"
	wait "$pid"
	run -0 grep -c . "$BATS_TEST_TMPDIR/codes"
	n=$output
	[ "$n" -ge 1 ] || fail "no request was made"
	run grep -v '^200$' "$BATS_TEST_TMPDIR/codes"
	assert_failure
	refute_output
	echo "# redeploy under load: $n requests, none failed" >&3
}

@test "activate prev rolls the guestbook back, and again forward; the entries stay" {
	run -0 silver activate --node "$NODE" gb.test prev
	run -0 page gb.test
	assert_output --partial "<h1>Guestbook</h1>"
	assert_output --partial "Ann &lt;b&gt;"
	run -0 page prev.gb.test
	assert_output --partial "<h1>Guestbook, version two</h1>"
	run -0 silver activate --node "$NODE" gb.test prev
	run -0 page gb.test
	assert_output --partial "<h1>Guestbook, version two</h1>"
}

@test "a runner that does not parse, and a health check that answers 500, are refused; the old instance keeps serving" {
	cp -r "$GB" "$BATS_TEST_TMPDIR/bad"
	sed -i '1a this is not PHP;' "$BATS_TEST_TMPDIR/bad/index.php"
	run -100 up "$BATS_TEST_TMPDIR/bad" gb.test
	assert_line "sl-activate: update_fetch /_update: 500"
	assert_line --regexp "^sl-activate: fatal: guestbook\.[0-9_-]+ failed its checks; nothing switched, the old instance keeps serving$"
	run -0 page gb.test
	assert_output --partial "<h1>Guestbook, version two</h1>"

	cp -r "$GB" "$BATS_TEST_TMPDIR/sick"
	sed -i "s|reply(200, 'text/plain', \"ok\\\\n\");|reply(500, 'text/plain', \"sick\\\\n\");|" \
		"$BATS_TEST_TMPDIR/sick/index.php"
	grep -q '"sick' "$BATS_TEST_TMPDIR/sick/index.php" || fail "the test app was not changed"
	run -100 up "$BATS_TEST_TMPDIR/sick" gb.test
	assert_line "sl-activate: health check /healthz: 500"
	assert_line "sick"
	run -0 page gb.test
	assert_output --partial "<h1>Guestbook, version two</h1>"
	run -0 status gb.test
	assert_output 200
}

@test "a request past timeout is killed (request_terminate_timeout) while other requests are served; the slow log has its stack" {
	run -0 up "$APPS/phpslow" phpslow.test
	curl -s -o /dev/null -w '%{http_code}' -H 'Host: phpslow.test' \
		"http://$NODE_IP/loop" > "$BATS_TEST_TMPDIR/loop.status" 3>&- &
	pid=$!
	sleep 0.3
	for _ in 1 2 3 4 5; do
		run -0 page phpslow.test /ok
		assert_output "ok"
	done
	wait "$pid"
	run cat "$BATS_TEST_TMPDIR/loop.status"
	assert_output 502
	run -0 on grep -rh 'execution timed out' /var/log/silverlining/apps/phpslow/
	assert_output --partial "terminating"
	run -0 on cat /var/log/silverlining/apps/phpslow/slow.log
	assert_output --partial "usleep()"
	assert_output --partial "index.php:4"
	run -0 page phpslow.test /ok
	assert_output "ok"
}

@test "two PHP apps on a node: one cannot read the other's instance, TEMP, session or files area, by path, link, ini_set or shell" {
	run -0 up "$APPS/peekaboo" peekaboo.test
	a=$(head -n 1 <<<"$output")
	run -0 up "$APPS/peek" peek.test
	b=$(head -n 1 <<<"$output")
	run -0 page peekaboo.test /session
	sid=${lines[0]}
	assert_line --index 1 --regexp "^$ROOT/tmp/$a/?\$"
	run -0 on cat "$ROOT/tmp/$a/sess_$sid"
	assert_output --partial session-secret-peekaboo
	run -0 page peekaboo.test /file
	assert_output "$ROOT/apps/peekaboo/files/secret.txt"

	# the probe works: peek reads its own files, and open_basedir is set
	run -0 page peek.test "/read?p=$ROOT/instances/$b/index.php"
	assert_output --partial "read <?php"
	run -0 page peek.test /env
	assert_line --regexp "^open_basedir .*$ROOT/instances/$b"

	for f in "$ROOT/instances/$a/index.php" "$ROOT/tmp/$a/sess_$sid" \
		"$ROOT/apps/peekaboo/files/secret.txt" "$ROOT/apps/peekaboo/mysql.password" \
		"$ROOT/run/$a/php-fpm.conf"; do
		for how in read link basedir shell; do
			run -0 page peek.test "/$how?p=$f"
			refute_output --partial "secret-peekaboo"
			refute_output --partial "read "
		done
		run -0 page peek.test "/read?p=$f"
		assert_output --partial "open_basedir restriction in effect"
		run -0 page peek.test "/basedir?p=$f"
		assert_equal "$(grep -c -x 'ini_set false' <<<"$output")" 3
		assert_line --regexp "^after ini_set: refused \(.*open_basedir restriction in effect"
	done
	# by path through .. and through the node's other names for it
	run -0 page peek.test "/read?p=$ROOT/apps/peek/../peekaboo/files/secret.txt"
	assert_output --partial "open_basedir restriction in effect"
	run -0 page peek.test "/read?p=/proc/self/root$ROOT/apps/peekaboo/files/secret.txt"
	refute_output --partial "secret-peekaboo"

	# A's session, asked for by its id, from A's save path: not given
	run -0 page peek.test "/session?sid=$sid&dir=$ROOT/tmp/$a"
	assert_line "ini_set false"
	assert_line --regexp "^session \\[\\] in $ROOT/tmp/$b/?\$"
}

@test "two PHP apps on a node: one's credentials cannot reach the other's database" {
	run -0 page peek.test "/mysql?db=peek"
	assert_output "mysql: connected to peek"
	run -0 page peek.test "/mysql?db=peekaboo"
	assert_output --partial "Access denied for user 'peek'@'localhost' to database 'peekaboo'"
}

@test "a PHP app's links in its log directory do not lead root's php-fpm to write elsewhere (the slow log)" {
	run -0 page peek.test "/plant?name=slow.log&to=/root/planted-by-peek"
	if [ "$output" != planted ]; then
		# refused only because root's own file is there, which the app
		# cannot remove in its sticky log directory
		assert_output --partial "File exists"
		run -0 on stat -c '%U %F' /var/log/silverlining/apps/peek/slow.log
		assert_output --regexp '^root regular (empty )?file$'
	fi
	# past the slow log's 5 s: the master writes the request's stack
	run -0 page peek.test "/sleep?s=6"
	assert_output "slept"
	run -1 on test -e /root/planted-by-peek
	run -1 on grep -rl 'pool peek' /root
}

@test "CONFIG_* reaches getenv() and \$_SERVER; no password is in any process's argv or in php-fpm.conf" {
	b=$(instance_at peek.test)
	run -0 page peek.test /env
	assert_line "getenv CONFIG_MYSQL_DBNAME=peek"
	assert_line "_SERVER CONFIG_MYSQL_DBNAME=peek"
	assert_line "getenv CONFIG_FILES=$ROOT/apps/peek/files"
	assert_line "_SERVER CONFIG_FILES=$ROOT/apps/peek/files"
	assert_line "getenv SILVER_INSTANCE_NAME=$b"
	assert_line "_SERVER SILVER_INSTANCE_NAME=$b"
	pw=$(on sh -c "printf %s \"\$(cat $ROOT/apps/peek/mysql.password)\" | sha1sum | cut -d' ' -f1")
	assert_line "password getenv $pw"
	assert_line "password _SERVER $pw"

	# every argv on the node, sampled while PHP apps are deployed, started
	# and asked for pages
	argv_sampling
	run -0 up "$APPS/peek" peek.test
	run -0 up "$GB" gb.test
	for _ in 1 2 3; do
		page peek.test /env > /dev/null
		sign argv 'sampled' > /dev/null
	done
	argv_sampled php-fpm
	on sh -c "for f in $ROOT/apps/*/mysql.password; do cat \$f; echo; done | grep . > /root/passwords"
	run -0 on grep -c . /root/passwords
	[ "$output" -ge 3 ] || fail "only $output passwords to look for"
	run -1 on grep -c -F -f /root/passwords /root/argv.log
	run -1 on sh -c "grep -l -F -f /root/passwords $ROOT/run/*/php-fpm.conf"
}

@test "backup -> clear -> restore of the guestbook gives back its entries" {
	run -0 sign 'Bea' 'before the backup'
	assert_output 303
	rows() { on mariadb guestbook -N -e 'SELECT id, name, message, created FROM entries ORDER BY id'; }
	before=$(rows)
	[[ $before == *"before the backup"* ]] || fail "$before"
	run -0 silver backup --node "$NODE" gb.test "$BATS_TEST_TMPDIR/gb.tar.gz"
	run -0 tar -tzf "$BATS_TEST_TMPDIR/gb.tar.gz"
	assert_line ./mysql/database.sql
	run -0 silver -y clear --node "$NODE" gb.test
	assert_line "cleared service.mysql of guestbook"
	run -0 page gb.test
	refute_output --partial "before the backup"
	run -0 silver restore --node "$NODE" "$BATS_TEST_TMPDIR/gb.tar.gz" gb.test
	assert_line "restored service.mysql of guestbook"
	[ "$(rows)" = "$before" ] || fail "the entries differ after the restore: $(rows)"
	run -0 page gb.test
	assert_output --partial "before the backup"
	assert_output --partial "Ann &lt;b&gt;"
}

@test "an idle PHP app keeps no worker after its idle timeout, and answers its next request; its memory against an idle Python app's" {
	inst=$(instance_at gb.test)
	run -0 status gb.test
	assert_output 200
	# the workers run as the app's user (the master is root's)
	run -0 workers "$inst"
	assert_line --index 0 sl-guestbook
	run grep -v -x sl-guestbook <<<"$output"
	refute_output
	# pm.process_idle_timeout is 10 s: the workers go after it
	n=1
	for _ in $(seq 60); do
		n=$(workers "$inst" | grep -c .) || true
		[ "$n" -eq 0 ] && break
		sleep 1
	done
	[ "$n" -eq 0 ] || fail "$n workers still there after 60 s: $(workers "$inst")"
	# the master alone is left
	run -0 unit_pids "$inst"
	assert_output --regexp '^[0-9]+$'
	php=$(memory "$inst")
	run -0 on systemctl is-active "silverlining-instance@$inst.service"
	run -0 page gb.test
	assert_output --partial "<h1>Guestbook, version two</h1>"
	run -0 workers "$inst"
	assert_line sl-guestbook

	# an idle Python app on the same node, after a request and as long a rest
	run -0 up "$TOP/examples/hello" hello.test
	hello=$(head -n 1 <<<"$output")
	run -0 status hello.test
	assert_output 200
	sleep 12
	python=$(memory "$hello")
	echo "# idle memory: PHP guestbook $php (php-fpm master, no worker); Python hello $python (uWSGI, 2 workers)" >&3
}
