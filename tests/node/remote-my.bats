#!/usr/bin/env bats
# sl-service-mysql in remote mode (issue 19): an app node whose record has
# a [mysql] section keeps its apps' databases on another node's MariaDB.
# The service node is made here by hand as sl-dbnode --primary makes it
# (bind-address, Debian's snakeoil certificate, TLS required, the admin
# 'silverlining'@'APP_NODE' with every privilege); the record is written
# on the app node as sl-dbnode --client stores it. Then the service's
# verbs, run on the app node, must reach that server over TLS only, check
# its certificate, and keep to the app's own users. To keep the suite short
# (CI's budget) the app node is a bare node given the built
# sl-service-mysql alone (and libinih1, its one library a bare node lacks)
# rather than a provisioned one: the verbs are the same binary the package
# installs.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/lab

SERVICES=/var/lib/silverlining/services

setup_file() {
	lab_setup_file
	SECONDS=0
	node_up hmdb && export DB=$NODE DB_IP=$NODE_IP
	node_up hmapp && export APP_IP=$NODE_IP
	ADMIN_PW=$(openssl rand -hex 32) && SEED=$(openssl rand -hex 32) || return 1
	export SEED ADMIN_PW
	on sh -c 'cat > /usr/local/bin/sl-service-mysql && chmod 755 /usr/local/bin/sl-service-mysql' \
		< "$TOP/bin/sl-service-mysql" || return 1
	# a first record, its certificate not the server's yet (another, which
	# a test uses as the wrong one): install sees the [mysql] section
	openssl req -x509 -newkey rsa:2048 -nodes -keyout /dev/null -subj "/CN=hmdb" -days 1 \
		-out "$BATS_FILE_TMPDIR/other.pem" 2>/dev/null || return 1
	put_record "$BATS_FILE_TMPDIR/other.pem" || return 1
	# both nodes' packages at once: the server here, the client there
	on sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		libinih1 && sl-service-mysql install' > "$BATS_FILE_TMPDIR/app.out" 2>&1 3>&- &
	local app=$!
	sl-remote "$DB" sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends mariadb-server ssl-cert && adduser -q mysql ssl-cert &&
		printf "[mariadbd]\nbind-address = 0.0.0.0\nssl_cert = %s\nssl_key = %s\nrequire_secure_transport = ON\n" \
			/etc/ssl/certs/ssl-cert-snakeoil.pem /etc/ssl/private/ssl-cert-snakeoil.key \
			> /etc/mysql/mariadb.conf.d/60-silverlining.cnf && systemctl restart mariadb' \
		> "$BATS_FILE_TMPDIR/db.out" 2>&1 3>&- &
	local db=$!
	wait "$app" || { cat "$BATS_FILE_TMPDIR/app.out" >&3; return 1; }
	wait "$db" || { cat "$BATS_FILE_TMPDIR/db.out" >&3; return 1; }
	# the admin's password goes through stdin, never an argv
	printf "CREATE USER 'silverlining'@'%s' IDENTIFIED BY '%s' REQUIRE SSL;
		GRANT ALL ON *.* TO 'silverlining'@'%s' WITH GRANT OPTION;\n" \
		"$APP_IP" "$ADMIN_PW" "$APP_IP" | sl-remote "$DB" mariadb || return 1
	sl-remote "$DB" cat /etc/ssl/certs/ssl-cert-snakeoil.pem > "$BATS_FILE_TMPDIR/cert.pem" &&
	put_record "$BATS_FILE_TMPDIR/cert.pem" || return 1
	# the apps' Unix users, as sl-activate makes them
	for app in my-app other-app; do
		on adduser --quiet --system --group --no-create-home --home \
			/var/lib/silverlining/instances --gecos "silverlining app $app" \
			--shell /usr/sbin/nologin "sl-$app" || return 1
	done
	echo "# two nodes, a server and a client installed: $SECONDS s" >&3
}

# put_record CERT: the app node's record of the server (sl_dbrecord_store's
# files: remote.ini 0600, mysql.pem 0644, in ROOT/services 0755)
put_record() {
	{
		printf '[mysql]\nhost = %s\nport = 3306\nadmin = silverlining\n' "$DB_IP"
		printf 'password = %s\nseed = %s\nclients = %s\n' "$ADMIN_PW" "$SEED" "$APP_IP"
		sed '1s/^/cert = /; 2,$s/^/       /' "$1"
	} | on sh -c "mkdir -p -m 755 /var/lib/silverlining $SERVICES &&
		(umask 077 && cat > $SERVICES/remote.ini)" &&
	on sh -c "cat > $SERVICES/mysql.pem && chmod 644 $SERVICES/mysql.pem" < "$1"
}

teardown_file() {
	for n in hmdb hmapp; do
		sl-node destroy "$n" 3>&- || true
	done
}

setup() {
	lab_setup
}

# on_db SQL: root's query on the service node
on_db() { sl-remote "$DB" mariadb -N -e "$1"; }
# as_app APP SQL [ARGS...]: SQL as APP's user, from the app node, with
# what env, run as the app's Unix user as sl-env runs it, gives it (TLS,
# the record's certificate)
as_app() {
	on bash -c 'eval "$(runuser -u "sl-$1" -- sl-service-mysql env "$1" | sed "s/^/export /")" &&
		f=$(mktemp) && printf "[client]\nuser=%s\npassword=%s\nhost=%s\nport=%s\nssl-ca=%s\n" \
			"$CONFIG_MYSQL_USER" "$CONFIG_MYSQL_PASSWORD" "$CONFIG_MYSQL_HOST" \
			"$CONFIG_MYSQL_PORT" "$CONFIG_MYSQL_SSL_CA" > "$f" &&
		mariadb --defaults-extra-file="$f" "${@:3}" -N -D "$CONFIG_MYSQL_DBNAME" -e "$2"
		rc=$?; rm -f "$f"; exit $rc' _ "$@"
}

@test "install (run by setup_file) put the client alone on the app node; again, nothing to do" {
	run -0 on sl-service-mysql install
	run -0 on dpkg-query -W -f '${Status}' mariadb-client
	assert_output 'install ok installed'
	run -0 on mariadb --version
	# (mariadb-client-core brings the daemon's binary: no unit, no server)
	run on dpkg-query -W -f '${Status}' mariadb-server
	refute_output 'install ok installed'
	run -1 on systemctl cat mariadb
	run -1 on pgrep -x mariadbd
}

@test "setup: 'APP'@'CLIENT' on the record's server, TLS required, the derived password" {
	run on sl-service-mysql setup my-app
	assert_success
	run on sl-service-mysql setup my-app
	assert_success
	run -0 on_db "SELECT Host, JSON_VALUE(Priv, '\$.ssl_type') FROM mysql.global_priv WHERE User = 'my_app'"
	assert_output "$(printf '%s\t1' "$APP_IP")"
	# the record every app node derives: HMAC-SHA256(seed, "mysql:APP"), same file, same modes
	want=$(printf 'mysql:my-app' | openssl dgst -sha256 -hmac "$SEED" -r | cut -c1-64)
	run -0 on stat -c '%a %U %G' /var/lib/silverlining/apps/my-app/mysql.password
	assert_output '640 root sl-my-app'
	run -0 on cat /var/lib/silverlining/apps/my-app/mysql.password
	assert_output "$want"
	run -0 on stat -c '%a %U %G' /var/lib/silverlining/apps/my-app/mysql.server
	assert_output '640 root sl-my-app'
	# env as sl-env runs it: the app's user, who cannot read the node's record
	run -0 on runuser -u sl-my-app -- sl-service-mysql env my-app
	assert_line "CONFIG_MYSQL_HOST=$DB_IP"
	assert_line CONFIG_MYSQL_PORT=3306
	assert_line "CONFIG_MYSQL_PASSWORD=$want"
	assert_line CONFIG_MYSQL_SSL_CA=$SERVICES/mysql.pem
	# the app reaches its database over TLS, and not without
	run -0 as_app my-app "SHOW STATUS LIKE 'Ssl_version'"
	assert_output --regexp '^Ssl_version	TLSv1\.[23]$'
	run ! as_app my-app 'SELECT 1' --skip-ssl
	run -0 on_db "SHOW GRANTS FOR 'my_app'@'$APP_IP'"
	assert_line --partial 'GRANT ALL PRIVILEGES ON `my\\_app`.* TO `my_app`@'
}

@test "backup, restore and clear run against the remote server; no password in an argv" {
	run -0 as_app my-app "CREATE TABLE t (a INT PRIMARY KEY, b TEXT);
		INSERT INTO t VALUES (1, 'one'), (2, 'two'); CREATE VIEW v AS SELECT b FROM t"
	argv_sampling
	run on sl-service-mysql backup my-app /root/bk
	assert_success
	run -0 on tail -n 1 /root/bk/database.sql
	assert_output --partial '-- Dump completed'
	run -0 as_app my-app "INSERT INTO t VALUES (3, 'three'); DROP VIEW v"
	run on sl-service-mysql check my-app /root/bk
	assert_success
	run on sl-service-mysql restore my-app /root/bk
	assert_success
	run -0 as_app my-app 'SELECT a, b FROM t ORDER BY a; SELECT * FROM v'
	assert_output "$(printf '1\tone\n2\ttwo\none\ntwo')"
	run -0 on_db "SHOW DATABASES LIKE 'sl-%'"
	assert_output ''
	run on sl-service-mysql clear my-app
	assert_success
	argv_sampled mariadb-dump
	pass=$(on cat /var/lib/silverlining/apps/my-app/mysql.password)
	run -1 on grep -c -F -e "$ADMIN_PW" -e "$pass" /root/argv.log
	run -0 as_app my-app 'SHOW TABLES'
	assert_output ''
}

@test "a server whose certificate is not the record's is not talked to" {
	on sh -c "cat > $SERVICES/mysql.pem" < "$BATS_FILE_TMPDIR/other.pem"
	run on sl-service-mysql setup my-app
	on sh -c "cat > $SERVICES/mysql.pem" < "$BATS_FILE_TMPDIR/cert.pem"
	[ "$status" = 111 ]
	assert_output --partial "unable to reach MariaDB at $DB_IP:3306 as silverlining: TLS/SSL error"
	run on sl-service-mysql setup my-app
	assert_success
}

@test "a user of the app's name without its password is someone else's: refused, untouched" {
	on_db "CREATE USER 'other_app'@'$APP_IP' IDENTIFIED BY 'theirs' REQUIRE SSL"
	before=$(on_db "SELECT Priv FROM mysql.global_priv WHERE User = 'other_app'")
	run -100 on sl-service-mysql setup other-app
	assert_output --partial "a MariaDB user 'other_app'@'$APP_IP' exists on $DB_IP that does not log in with the app's password: someone else's, refused"
	run -0 on_db "SELECT Priv FROM mysql.global_priv WHERE User = 'other_app'"
	assert_output "$before"
	run -1 on test -e /var/lib/silverlining/apps/other-app/mysql.password
	run -0 on_db "SHOW DATABASES LIKE 'other_app'"
	assert_output ''
}

@test "a client added gets its user; a client no longer listed loses it" {
	on sed -i "s/^clients = .*/clients = $APP_IP 10.231.0.250/" $SERVICES/remote.ini
	run on sl-service-mysql setup my-app
	assert_success
	run -0 on_db "SELECT Host FROM mysql.global_priv WHERE User = 'my_app' ORDER BY Host"
	assert_output "$(printf '%s\n' "$APP_IP" 10.231.0.250 | sort)"
	run -0 on_db "SHOW GRANTS FOR 'my_app'@'10.231.0.250'"
	assert_line --partial 'REQUIRE SSL'
	on sed -i "s/^clients = .*/clients = $APP_IP/" $SERVICES/remote.ini
	run on sl-service-mysql setup my-app
	assert_success
	run -0 on_db "SELECT Host FROM mysql.global_priv WHERE User = 'my_app'"
	assert_output "$APP_IP"
}
