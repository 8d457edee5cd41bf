#!/usr/bin/env bats
# MariaDB attacked by an app: two apps whose database names differ by a
# '_' (pay_ents, payments); the first one, with its own credentials and
# through tampered backups, tries to reach the second's data, the server's
# privileges and the node's shell. And restores that must not lose data.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/lab

setup_file() {
	lab_setup_file
	provisioned_node_up atmy
	export APPS=$BATS_FILE_TMPDIR/apps
	for app in pay-ents payments; do
		mkdir -p "$APPS/$app/bin"
		cp "$TOP/examples/hello/main.py" "$APPS/$app/"
		printf '[production]\napp_name = %s\nrunner = main.py\nservice.mysql =\n' "$app" \
			> "$APPS/$app/app.ini"
		# sql STATEMENTS: run with the app's own CONFIG_MYSQL_* (silver run gives them)
		cat > "$APPS/$app/bin/sql" <<-'EOF'
		#!/bin/sh
		f=$(mktemp) || exit 111
		printf '[client]\nuser=%s\npassword=%s\nhost=%s\n' "$CONFIG_MYSQL_USER" \
			"$CONFIG_MYSQL_PASSWORD" "$CONFIG_MYSQL_HOST" > "$f"
		mariadb --defaults-extra-file="$f" -N -D "$CONFIG_MYSQL_DBNAME" -e "$1"
		rc=$?
		rm -f "$f"
		exit $rc
		EOF
		chmod +x "$APPS/$app/bin/sql"
	done
}

teardown_file() {
	sl-node destroy atmy 3>&- || true
}

setup() {
	lab_setup
}

# as the app at LOCATION, with its own credentials
sql() { silver run --node "$NODE" "$1" sql "$2"; }
# the rows of a database's table, as root sees them
rows() { on mariadb "$1" -N -e "SELECT * FROM $2 ORDER BY 1"; }
# pay-ents's rows, as the first test made them
pay_rows_kept() {
	run -0 rows pay_ents t
	assert_output "$(printf '1\tone\n2\ttwo')"
}
# a restore of FILE into pay.test; its statuses and messages in RESTORES
restore_attempt() {
	run silver restore --node "$NODE" "$1" pay.test
	RESTORES+="$status ${output//$'\n'/ }"$'\n'
}
# the restores attempted were refused, each saying nothing was changed
refused() {
	while read -r code text; do
		[ "$code" = 100 ] || fail "a restore exited $code: $text"
		[[ $text == *"the backup does not load (nothing was changed)"* ]] || fail "$text"
	done <<<"${RESTORES%$'\n'}"
}
# a backup of pay.test, its dump changed by SED-SCRIPT, into FILE
tampered() {
	local d=$BATS_TEST_TMPDIR/t
	rm -rf "$d" && mkdir -p "$d"
	tar -C "$d" -xzf "$BATS_FILE_TMPDIR/pay.tar.gz"
	sed -i "$1" "$d/mysql/database.sql"
	tar -C "$d" -czf "$2" .
}

@test "pay-ents and payments deploy; each keeps its rows" {
	run -0 up "$APPS/pay-ents" pay.test
	run -0 up "$APPS/payments" payments.test
	run -0 sql payments.test "CREATE TABLE secrets (a INT PRIMARY KEY, b TEXT);
		INSERT INTO secrets VALUES (1, 'card 4111'), (2, 'card 5500')"
	run -0 sql pay.test "CREATE TABLE t (a INT PRIMARY KEY, b TEXT);
		INSERT INTO t VALUES (1, 'one'), (2, 'two');
		CREATE TABLE log (a INT);
		CREATE VIEW twice AS SELECT a * 2 AS a2, b FROM t;
		CREATE TRIGGER t_log AFTER INSERT ON t FOR EACH ROW INSERT INTO log VALUES (NEW.a);
		CREATE PROCEDURE count_t() SELECT COUNT(*) FROM t"
	pay_rows_kept
}

@test "pay-ents's credentials cannot list, read or write payments (GRANT patterns escaped)" {
	run -0 sql pay.test "SHOW DATABASES"
	refute_line payments
	assert_line pay_ents
	run -1 sql pay.test "SELECT * FROM payments.secrets"
	assert_output --partial "denied"
	run -1 sql pay.test "INSERT INTO payments.secrets VALUES (3, 'mine')"
	assert_output --partial "denied"
	run -1 sql pay.test "CREATE TABLE payments.planted (a INT)"
	assert_output --partial "denied"
	run -1 sql pay.test "USE payments"
	assert_output --partial "denied"
	run -0 rows payments secrets
	assert_output "$(printf '1\tcard 4111\n2\tcard 5500')"
}

@test "a grant made before names were escaped is taken back at the next deploy" {
	# what setup granted before: the pattern, which matches payments too
	on mariadb -e 'GRANT ALL PRIVILEGES ON `pay_ents`.* TO pay_ents@localhost'
	run -0 sql pay.test "SELECT COUNT(*) FROM payments.secrets"
	assert_output 2
	run -0 up "$APPS/pay-ents" pay.test
	run -1 sql pay.test "SELECT * FROM payments.secrets"
	assert_output --partial "denied"
	run -0 on mariadb -N -e "SHOW GRANTS FOR pay_ents@localhost" -r
	assert_line --partial 'ON `pay\_ents`.*'
	refute_line --partial 'ON `pay_ents`.*'
	pay_rows_kept
}

@test "a good backup round-trips with its view, trigger and procedure, and leaves nothing behind" {
	run -0 silver backup --node "$NODE" pay.test "$BATS_FILE_TMPDIR/pay.tar.gz"
	run -0 sql pay.test "DELETE FROM t; DROP VIEW twice; DROP TRIGGER t_log; DROP PROCEDURE count_t"
	run -0 silver restore --node "$NODE" "$BATS_FILE_TMPDIR/pay.tar.gz" pay.test
	assert_line "restored service.mysql of pay-ents"
	pay_rows_kept
	run -0 sql pay.test "SELECT * FROM twice ORDER BY 1"
	assert_output "$(printf '2\tone\n4\ttwo')"
	run -0 sql pay.test "INSERT INTO t VALUES (3, 'three'); SELECT * FROM log; CALL count_t()"
	assert_output "$(printf '3\n3')"
	# nothing left of the restore's own databases, no grant on them
	run -0 on mariadb -N -e "SHOW DATABASES LIKE 'sl-%'"
	assert_output ""
	run -0 on mariadb -N -e "SHOW GRANTS FOR pay_ents@localhost" -r
	refute_output --partial "sl-"
	run -0 sql pay.test "DELETE FROM t WHERE a = 3; DELETE FROM log"
}

@test "a tampered backup touching another app's database changes nothing there, nor here" {
	tampered '1i INSERT INTO payments.secrets VALUES (9, '"'planted'"'); DROP TABLE payments.secrets;' \
		"$BATS_TEST_TMPDIR/x.tar.gz"
	restore_attempt "$BATS_TEST_TMPDIR/x.tar.gz"
	run -0 rows payments secrets
	assert_output "$(printf '1\tcard 4111\n2\tcard 5500')"
	pay_rows_kept
	refused
}

@test "a tampered backup's shell escapes (\\! and system) run nothing" {
	on rm -f /tmp/pwned /tmp/pwned2
	tampered '1i \\\\! touch /tmp/pwned' "$BATS_TEST_TMPDIR/x.tar.gz"
	restore_attempt "$BATS_TEST_TMPDIR/x.tar.gz"
	tampered '1i system touch /tmp/pwned2' "$BATS_TEST_TMPDIR/y.tar.gz"
	restore_attempt "$BATS_TEST_TMPDIR/y.tar.gz"
	run -0 on ls /tmp
	refute_line pwned
	refute_line pwned2
	pay_rows_kept
	refused
}

@test "a tampered backup's GRANT and CREATE USER gain nothing" {
	tampered '1i CREATE USER evil@localhost IDENTIFIED BY '"'x'"';' "$BATS_TEST_TMPDIR/x.tar.gz"
	restore_attempt "$BATS_TEST_TMPDIR/x.tar.gz"
	tampered '1i GRANT ALL PRIVILEGES ON *.* TO pay_ents@localhost;' "$BATS_TEST_TMPDIR/y.tar.gz"
	restore_attempt "$BATS_TEST_TMPDIR/y.tar.gz"
	tampered '1i GRANT ALL PRIVILEGES ON payments.* TO pay_ents@localhost;' "$BATS_TEST_TMPDIR/z.tar.gz"
	restore_attempt "$BATS_TEST_TMPDIR/z.tar.gz"
	run -0 on mariadb -N -e "SELECT User FROM mysql.global_priv WHERE User = 'evil'"
	assert_output ""
	run -0 on mariadb -N -e "SHOW GRANTS FOR pay_ents@localhost" -r
	assert_line --index 0 --partial "GRANT USAGE ON *.*"
	assert_line --index 1 --partial 'GRANT ALL PRIVILEGES ON `pay\_ents`.*'
	[ "${#lines[@]}" -eq 2 ] || fail "more grants: $output"
	run -1 sql pay.test "SELECT * FROM payments.secrets"
	refused
}

@test "a dump cut short is refused before anything is touched (exit 100)" {
	d=$BATS_TEST_TMPDIR/t
	mkdir -p "$d" && tar -C "$d" -xzf "$BATS_FILE_TMPDIR/pay.tar.gz"
	# cut inside the rows of t: what came before still loads
	n=$(grep -n 'INSERT INTO `t`' "$d/mysql/database.sql" | cut -d: -f1)
	head -n "$n" "$d/mysql/database.sql" | head -c -10 > "$d/cut" && mv "$d/cut" "$d/mysql/database.sql"
	tar -C "$d" -czf "$BATS_TEST_TMPDIR/x.tar.gz" .
	run silver restore --node "$NODE" "$BATS_TEST_TMPDIR/x.tar.gz" pay.test
	said=$output status_was=$status
	pay_rows_kept
	[ "$status_was" = 100 ] || fail "exit $status_was: $said"
	[[ $said == *"is not a whole mariadb-dump"* ]] || fail "$said"
	run -0 sql pay.test "SELECT * FROM twice ORDER BY 1"
	assert_output "$(printf '2\tone\n4\ttwo')"
}

@test "a corrupt dump fails the restore (exit 100) and leaves every row, view and trigger" {
	# whole, its end intact, but a statement in the middle is garbage
	tampered '/^INSERT INTO `log`\|^INSERT INTO `t`/s/VALUES/VALUES ((( garbage/' \
		"$BATS_TEST_TMPDIR/x.tar.gz"
	restore_attempt "$BATS_TEST_TMPDIR/x.tar.gz"
	pay_rows_kept
	refused
	run -0 sql pay.test "SELECT * FROM twice ORDER BY 1; CALL count_t()"
	assert_output "$(printf '2\tone\n4\ttwo\n2')"
	run -0 on mariadb -N -e "SHOW DATABASES LIKE 'sl-%'"
	assert_output ""
	# and a good backup still loads after them
	run -0 silver restore --node "$NODE" "$BATS_FILE_TMPDIR/pay.tar.gz" pay.test
	pay_rows_kept
}

@test "a scheduled backup is verified in a scratch database; a dump that does not load is bad, and nothing is left" {
	S=/var/lib/silverlining/backups/pay-ents
	run -0 on sl-backup --scheduled pay-ents
	assert_output --regexp '^pay-ents [0-9]{8}T[0-9]{6}Z verified seconds=[0-9.]+$'
	stamp=${output#pay-ents }
	stamp=${stamp%% *}
	run -0 on cat "$S/$stamp.ini"
	assert_line '[mysql]'
	assert_line tables=2
	assert_line --regexp '^rows=[0-9]+$'
	# the same archive with a statement in the middle made garbage (its end intact,
	# so the check passes): the load fails, and the backup is bad
	tampered '/^INSERT INTO `t`/s/VALUES/VALUES ((( garbage/' "$BATS_TEST_TMPDIR/bad.tar.gz"
	on sh -c "cat > $S/20260101T000000Z.tar.gz" < "$BATS_TEST_TMPDIR/bad.tar.gz"
	on sh -c "printf 'app=pay-ents\nsha256=%s\nstatus=verified\n' \$(sha256sum $S/20260101T000000Z.tar.gz | cut -d' ' -f1) > $S/20260101T000000Z.ini"
	run -100 on sl-backup --verify pay-ents 20260101T000000Z
	assert_output --partial "pay-ents 20260101T000000Z bad"
	assert_output --partial "service.mysql: its part does not restore"
	pay_rows_kept
	# no scratch database, and no grant on one, is left
	run -0 on mariadb -N -e "SHOW DATABASES LIKE 'sl-%'; SELECT Db FROM mysql.db WHERE Db LIKE 'sl-%'"
	assert_output ""
}
