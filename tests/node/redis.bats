#!/usr/bin/env bats
# service.redis on a node: two apps, each with a redis-server of its own,
# isolated from each other; backup -> clear -> restore compared by a key
# dump; a tampered or planted part refused; verify in a scratch server.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/lab

R=/var/lib/silverlining/apps

setup_file() {
	lab_setup_file
	provisioned_node_up redis
	# an app that counts its hits in its Redis, over the socket, in RESP
	local app
	for app in ra rb; do
		mkdir -p "$BATS_FILE_TMPDIR/$app"
		printf '[production]\napp_name = %s\nrunner = main.py\nservice.redis =\n' "$app" \
			> "$BATS_FILE_TMPDIR/$app/app.ini"
		cat > "$BATS_FILE_TMPDIR/$app/main.py" <<'EOF'
import os
import socket


def redis(*args):
    s = socket.socket(socket.AF_UNIX)
    s.connect(os.environ["CONFIG_REDIS_SOCKET"])
    out = b""
    for cmd in (("AUTH", os.environ["CONFIG_REDIS_PASSWORD"]), args):
        out += b"*%d\r\n" % len(cmd)
        for a in cmd:
            out += b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode())
    s.sendall(out)
    data = b""
    while data.count(b"\r\n") < 2:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return data.split(b"\r\n")[1].decode()


def application(environ, start_response):
    path = environ.get("PATH_INFO") or "/"
    if path == "/url":
        body = os.environ["CONFIG_REDIS_URL"]
    elif path == "/c":
        body = redis("INCR", "hits")
    else:
        body = "ok"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [(body + "\n").encode()]
EOF
	done
}

teardown_file() {
	sl-node destroy redis 3>&- || true
}

setup() {
	lab_setup
}

# rcli APP ARGS...: redis-cli on APP's socket, as APP's user, with APP's password
rcli() {
	on sh -c 'a=$1; shift; REDISCLI_AUTH=$(cat '$R'/$a/redis.password) \
		exec runuser -u sl-$a -- redis-cli --no-auth-warning -s /run/sl-redis/$a/redis.sock "$@"' _ "$@"
}

# keydump APP: every key of every database of APP's Redis, its type and its value
keydump() {
	on sh -c 'a=$1; export REDISCLI_AUTH=$(cat '$R'/$a/redis.password)
		c() { runuser -u sl-$a -- redis-cli --no-auth-warning -s /run/sl-redis/$a/redis.sock "$@"; }
		for db in $(seq 0 15); do
			c -n $db --scan | sort | while read -r k; do
				t=$(c -n $db type "$k")
				case $t in
				string) v=$(c -n $db get "$k") ;;
				list) v=$(c -n $db lrange "$k" 0 -1) ;;
				hash) v=$(c -n $db hgetall "$k" | paste - - | sort) ;;
				set) v=$(c -n $db smembers "$k" | sort) ;;
				zset) v=$(c -n $db zrange "$k" 0 -1 withscores) ;;
				*) v=? ;;
				esac
				printf "%s %s %s %s\n" "$db" "$k" "$t" "$(printf "%s" "$v" | tr "\n\t" "|,")"
			done
		done' _ "$1"
}

@test "two apps deploy with Redis: each its own server, as its own user, on its own socket; nothing on TCP" {
	seconds run -0 up "$BATS_FILE_TMPDIR/ra" ra.test
	echo "# first deploy with Redis (server installed on demand): $SECONDS_TAKEN s" >&3
	run -0 up "$BATS_FILE_TMPDIR/rb" rb.test
	# each app counts in its own server
	run -0 page ra.test /c
	assert_output ":1"
	run -0 page ra.test /c
	assert_output ":2"
	run -0 page rb.test /c
	assert_output ":1"
	pw=$(on cat $R/ra/redis.password)
	[[ $pw =~ ^[0-9a-f]{64}$ ]] || fail "password '$pw'"
	run -0 page ra.test /url
	assert_output "unix://:$pw@/run/sl-redis/ra/redis.sock?db=0"
	run -0 on ps -o user=,args= -C redis-server
	assert_line --regexp '^sl-ra +/usr/bin/redis-server unixsocket:/run/sl-redis/ra/redis.sock$'
	assert_line --regexp '^sl-rb +/usr/bin/redis-server unixsocket:/run/sl-redis/rb/redis.sock$'
	assert_equal "${#lines[@]}" 2
	# no TCP listener of Redis's, Debian's server masked; control: ss sees
	# the servers (their Unix sockets) and a TCP listener (sshd)
	run -0 on ss -Hlnpx
	assert_output --partial 'redis-server'
	run -0 on ss -Hlntp
	assert_output --partial ':22 '
	refute_output --partial 'redis'
	refute_output --partial ':6379 '
	run -1 on systemctl is-enabled redis-server.service
	assert_output masked
	# and it never ran, not even for the moment between the package's
	# install and its mask (its postinst starts it): no start in the journal,
	# no 6379 in its log; control: the journal holds the app's servers
	run -0 on journalctl -q --no-pager -o cat -u 'sl-redis@ra.service' -u redis-server.service
	assert_output --partial 'Redis of the silverlining app ra'
	refute_output --partial 'Advanced key-value store'
	run -0 on sh -c 'cat /var/log/redis/redis-server.log 2>/dev/null; true'
	refute_output --partial '6379'
	run -0 on stat -c '%a %U %G %n' $R/ra/redis.conf $R/ra/redis.password $R/ra/redis /run/sl-redis/ra \
		/etc/systemd/system/sl-redis@.service
	assert_output "640 root sl-ra $R/ra/redis.conf
640 root sl-ra $R/ra/redis.password
700 sl-ra sl-ra $R/ra/redis
700 sl-ra sl-ra /run/sl-redis/ra
644 root root /etc/systemd/system/sl-redis@.service"
	run -0 on systemctl show -p NoNewPrivileges -p ProtectSystem -p PrivateTmp -p ProtectHome sl-redis@ra
	assert_output "PrivateTmp=yes
ProtectHome=yes
ProtectSystem=strict
NoNewPrivileges=yes"
}

@test "a redeploy with the same value changes nothing: the same server, the same data" {
	pid=$(on systemctl show -p MainPID --value sl-redis@ra)
	run -0 page ra.test /c
	n=${output#:}
	run -0 up "$BATS_FILE_TMPDIR/ra" ra.test
	[ "$(on systemctl show -p MainPID --value sl-redis@ra)" = "$pid" ] || fail "setup restarted the server"
	run -0 page ra.test /c
	assert_output ":$((n + 1))"
}

@test "app B cannot connect to A's socket, even with A's password, nor read A's config, password or data" {
	pw=$(on cat $R/ra/redis.password)
	rcli ra SET secret a-only > /dev/null
	# control: A's user, with its password, gets through
	run -0 on runuser -u sl-ra -- env REDISCLI_AUTH="$pw" redis-cli -s /run/sl-redis/ra/redis.sock GET secret
	assert_output a-only
	run on runuser -u sl-rb -- env REDISCLI_AUTH="$pw" redis-cli -s /run/sl-redis/ra/redis.sock GET secret
	assert_output --partial 'Permission denied'
	refute_output --partial a-only
	# even A's own user needs the password
	run -0 on runuser -u sl-ra -- redis-cli -s /run/sl-redis/ra/redis.sock GET secret
	assert_output --partial NOAUTH
	rcli ra SAVE > /dev/null
	local f
	for f in $R/ra/redis.conf $R/ra/redis.password $R/ra/redis/dump.rdb; do
		run -0 on runuser -u sl-ra -- head -c 1 "$f"	# control
		run -1 on runuser -u sl-rb -- cat "$f"
		assert_output --partial 'Permission denied'
	done
	run -2 on runuser -u sl-rb -- ls /run/sl-redis/ra
	assert_output --partial 'Permission denied'
}

@test "backup -> clear -> restore: the same keys, types and values in every database; no password in an argv" {
	rcli ra SET s 'a string' > /dev/null
	rcli ra RPUSH l one two three > /dev/null
	rcli ra HSET h f1 v1 f2 v2 > /dev/null
	rcli ra SADD set x y z > /dev/null
	rcli ra ZADD z 1 a 2.5 b > /dev/null
	rcli ra -n 3 SET other-db 'in db 3' > /dev/null
	before=$(keydump ra)
	# control: the dump sees the data
	[[ $before == *'0 h hash f1,v1|f2,v2'* && $before == *'3 other-db string in db 3'* ]] || fail "$before"
	[[ $before == *'0 z zset a|1|b|2.5'* && $before == *'0 l list one|two|three'* ]] || fail "$before"
	argv_sampling
	run -0 silver backup --node "$NODE" ra.test "$BATS_TEST_TMPDIR/b.tar.gz"
	run -0 tar -tzf "$BATS_TEST_TMPDIR/b.tar.gz"
	assert_line ./redis/dump.rdb
	run -0 silver -y clear --node "$NODE" ra.test
	assert_line "cleared service.redis of ra"
	run -0 keydump ra
	assert_output ""
	run -0 silver restore --node "$NODE" "$BATS_TEST_TMPDIR/b.tar.gz" ra.test
	assert_line "restored service.redis of ra"
	run -0 keydump ra
	assert_output "$before"
	argv_sampled redis-cli
	pw=$(on cat $R/ra/redis.password)
	run -1 on grep -c -F -e "$pw" /root/argv.log
	# the app's own files only, and the server serves
	run -0 on ls -A $R/ra/redis
	assert_output dump.rdb
	run -0 page ra.test /c
	[[ $output =~ ^:[0-9]+$ ]] || fail "$output"
	echo "# redis round trip: $(echo "$before" | wc -l) keys" >&3
}

@test "a tampered or cut RDB is refused by restore (100) and the data stays" {
	run -0 silver backup --node "$NODE" ra.test "$BATS_TEST_TMPDIR/good"
	rcli ra SET after-backup 1 > /dev/null
	now=$(keydump ra)
	cp -r "$BATS_TEST_TMPDIR/good" "$BATS_TEST_TMPDIR/bad"
	f=$BATS_TEST_TMPDIR/bad/redis/dump.rdb
	size=$(stat -c %s "$f")
	flip_byte "$f" $((size / 2))
	run -100 silver restore --node "$NODE" "$BATS_TEST_TMPDIR/bad" ra.test
	assert_output --partial 'is not a whole RDB file (redis-check-rdb:'
	run -0 keydump ra
	assert_output "$now"
	head -c $((size - 10)) "$BATS_TEST_TMPDIR/good/redis/dump.rdb" > "$f"
	run -100 silver restore --node "$NODE" "$BATS_TEST_TMPDIR/bad" ra.test
	run -0 keydump ra
	assert_output "$now"
	# control: the untouched copy restores, and takes the key away
	run -0 silver restore --node "$NODE" "$BATS_TEST_TMPDIR/good" ra.test
	run -0 rcli ra EXISTS after-backup
	assert_output 0
}

@test "a restore whose server does not start puts the old RDB back (111); the data is as it was" {
	on sl-service-redis backup ra /root/rollback > /dev/null
	rcli ra SET after-backup 1 > /dev/null
	before=$(keydump ra)
	# the server will not start again: a directive Redis does not know
	on sh -c "cp $R/ra/redis.conf /root/redis.conf && echo 'no-such-directive yes' >> $R/ra/redis.conf"
	run -111 on sl-service-redis restore ra /root/rollback
	assert_output --partial 'the backup did not load'
	assert_output --partial 'the data is as it was'
	on sh -c "cp /root/redis.conf $R/ra/redis.conf && systemctl reset-failed sl-redis@ra && systemctl restart sl-redis@ra"
	run -0 keydump ra
	assert_output "$before"
	run -0 on ls -A $R/ra/redis
	assert_output dump.rdb
	# control: with a server that starts, the same part restores
	run -0 on sl-service-redis restore ra /root/rollback
	run -0 rcli ra EXISTS after-backup
	assert_output 0
}

@test "a link planted in the data directory never makes root write through it" {
	on sh -c 'echo victim > /etc/sl-victim && chmod 644 /etc/sl-victim'
	on sl-service-redis backup ra /root/part > /dev/null
	# A's user plants restore.rdb -> a file of root's
	on runuser -u sl-ra -- ln -s /etc/sl-victim $R/ra/redis/restore.rdb
	# control: written through by root, the link reaches the victim
	run -0 on sh -c "readlink -f $R/ra/redis/restore.rdb"
	assert_output /etc/sl-victim
	before=$(keydump ra)
	run on sl-service-redis restore ra /root/part
	[ "$status" -ne 0 ] || fail "a restore through a planted link succeeded"
	run -0 on cat /etc/sl-victim
	assert_output victim
	run -0 keydump ra
	assert_output "$before"
	# a part that is a link is refused before anything is read
	on sh -c 'mkdir -p /root/linked && ln -sf /etc/shadow /root/linked/dump.rdb'
	run -100 on sl-service-redis restore ra /root/linked
	assert_output --partial 'unable to read /root/linked/dump.rdb'
	run -0 on sl-service-redis restore ra /root/part
}

@test "verify: the part loads into a scratch server as nobody; keys, bytes, sha256; the app's server untouched" {
	pid=$(on systemctl show -p MainPID --value sl-redis@ra)
	on sl-service-redis backup ra /root/vb > /dev/null
	keys=$(rcli ra INFO keyspace | tr -d '\r' | sed -n 's/^db[0-9]*:keys=\([0-9]*\),.*/\1/p' | paste -sd+ | bc)
	seconds run -0 --separate-stderr on sl-service-redis verify ra /root/vb
	echo "# redis verify of $keys keys: $SECONDS_TAKEN s" >&3
	assert_line "keys=$keys"
	assert_line "bytes=$(on stat -c %s /root/vb/dump.rdb)"
	assert_line "sha256=$(on sha256sum /root/vb/dump.rdb | cut -d' ' -f1)"
	assert_equal "${#lines[@]}" 3
	[ "$(on systemctl show -p MainPID --value sl-redis@ra)" = "$pid" ] ||
		fail "the app's server was restarted: $(on journalctl -u sl-redis@ra -n 30 --no-pager)"
	# (the units' own private /var/tmp dirs are named systemd-private-...-sl-redis@APP...)
	run -0 on sh -c 'ls /var/tmp | grep -c "^sl-redis\."; pgrep -u nobody -c redis-server; true'
	assert_output "0
0"
	on sh -c "$FLIP_BYTE" - /root/vb/dump.rdb "$(( $(on stat -c %s /root/vb/dump.rdb) / 2 ))"
	run -100 on sl-service-redis verify ra /root/vb
	assert_output --partial 'is not a whole RDB file'
}

@test "a changed service.redis takes effect at the next deploy; a bad value is refused, 100, the running one kept" {
	sed -i 's/^service.redis =.*/service.redis = maxmemory=16 policy=allkeys-lru/' "$BATS_FILE_TMPDIR/rb/app.ini"
	run -0 up "$BATS_FILE_TMPDIR/rb" rb.test
	run -0 rcli rb CONFIG GET maxmemory
	assert_line 16777216
	run -0 rcli rb CONFIG GET maxmemory-policy
	assert_line allkeys-lru
	sed -i 's/^service.redis =.*/service.redis = policy=lru/' "$BATS_FILE_TMPDIR/rb/app.ini"
	run -100 up "$BATS_FILE_TMPDIR/rb" rb.test
	assert_output --partial "sl-service-redis: fatal: service.redis: 'policy=lru': want policy= one of"
	run -0 rcli rb CONFIG GET maxmemory-policy
	assert_line allkeys-lru
	run -0 page rb.test /c
	[[ $output =~ ^:[0-9]+$ ]] || fail "$output"
}

@test "the template alone runs as nobody: a unit whose drop-in is gone reaches none of the app's files" {
	d=/etc/systemd/system/sl-redis@rb.service.d
	on sh -c "mv $d/user.conf /root/user.conf && systemctl daemon-reload"
	run on systemctl restart sl-redis@rb
	[ "$status" -ne 0 ] || fail "the server started without the app's user"
	run -0 on sh -c 'journalctl -u sl-redis@rb -n 20 --no-pager | grep -c "Permission denied"'
	run -0 on sh -c 'ps -o user= -C redis-server; true'
	refute_output --partial root
	refute_output --partial sl-rb
	# control: with its drop-in, the same unit starts as the app's user
	on sh -c "mv /root/user.conf $d/user.conf && systemctl daemon-reload"
	run -0 on systemctl restart sl-redis@rb
	run -0 on ps -o user= -C redis-server
	assert_line sl-rb
	run -0 page rb.test /c
	[[ $output =~ ^:[0-9]+$ ]] || fail "$output"
}
