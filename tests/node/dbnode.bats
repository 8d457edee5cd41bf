#!/usr/bin/env bats
# Databases on their own nodes (issue 19): a nodeset of two app nodes (web1,
# web2) and two service nodes (db1, db2), set up by silver setup-node
# --nodeset (the service nodes made bare, the app nodes on the lab's layer
# of a provisioned node, which setup-node completes), which makes db1 the PostgreSQL primary and
# db2 its streaming standby, and tells the app nodes. An app deployed to
# both writes to db1 over TLS; the standby catches up; a failover under
# writes promotes db2, re-points both app nodes and loses no acknowledged
# write, and --rebuild makes db1 the standby of db2; a backup from an app
# node restores into the new primary. A second app, from its own app node,
# attacks the first one's database and the secrets its node keeps.
# No balancer: the writes go to each app node directly.
bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/lab

ROOT=/var/lib/silverlining

setup_file() {
	lab_setup_file
	layered_node_up web1 && export WEB1=$NODE WEB1_IP=$NODE_IP
	layered_node_up web2 && export WEB2=$NODE WEB2_IP=$NODE_IP
	node_up db1 && export DB1=$NODE DB1_IP=$NODE_IP
	node_up db2 && export DB2=$NODE DB2_IP=$NODE_IP
	mkdir -p "$HOME/.silverlining/nodesets"
	cat > "$HOME/.silverlining/nodesets/lab.ini" <<-EOF
	[nodeset]
	app = web1
	      web2
	service = db1
	          db2
	EOF
	# ledger: the app of bench/dbnodes (/write, /count, /where, /health)
	export LEDGER=$BATS_FILE_TMPDIR/ledger EVIL=$BATS_FILE_TMPDIR/evil
	cp -r "$TOP/bench/dbnodes-app" "$LEDGER"
	# evil: a second app with its own database, whose code tries ledger's:
	# /try connects with the URL it was given (host, port, TLS), the
	# database, user and password replaced on request (db=, user=,
	# pw=none), and runs sql=; /read?path= reads a file
	mkdir -p "$EVIL"
	cat > "$EVIL/app.ini" <<-'EOF'
	[production]
	app_name = evil
	runner = app.py
	service.postgresql =
	packages = python3-psycopg2
	EOF
	cat > "$EVIL/app.py" <<-'EOF'
	import os
	from urllib.parse import parse_qs

	import psycopg2


	def attempt(q):
	    kw = {"dbname": q.get("db", ["evil"])[0], "connect_timeout": 5}
	    if q.get("user", ["own"])[0] != "own":
	        kw["user"] = q["user"][0]
	    if q.get("pw", ["own"])[0] == "none":
	        kw["password"] = ""
	    try:
	        db = psycopg2.connect(os.environ["CONFIG_PG_URL"], **kw)
	    except psycopg2.Error as e:
	        return "refused: " + " ".join(str(e).split())
	    try:
	        with db, db.cursor() as cur:
	            cur.execute("SELECT current_user, current_database()")
	            said = "connected: " + " ".join(cur.fetchone())
	            if "sql" in q:
	                cur.execute(q["sql"][0])
	                said += " " + repr(cur.fetchall())
	            return said
	    except psycopg2.Error as e:
	        return "refused: " + " ".join(str(e).split())
	    finally:
	        db.close()


	def read(q):
	    try:
	        with open(q["path"][0]) as f:
	            return "read: " + f.read()
	    except OSError as e:
	        return f"refused: {e}"


	def application(environ, start_response):
	    q = parse_qs(environ.get("QUERY_STRING", ""))
	    body = {"/try": attempt, "/read": read}.get(environ.get("PATH_INFO"), lambda q: "ok")(q)
	    data = (body + "\n").encode()
	    start_response("200 OK", [("Content-Type", "text/plain"),
	                              ("Content-Length", str(len(data)))])
	    return [data]
	EOF
}

teardown_file() {
	for n in web1 web2 db1 db2; do
		sl-node destroy "$n" 3>&- || true
	done
}

setup() {
	lab_setup
}

# shown CMD...: runs CMD; its output (both streams) is shown when it fails
shown() {
	"$@" > "$BATS_TEST_TMPDIR/shown.out" 2>&1 && return
	local rc=$?
	cat "$BATS_TEST_TMPDIR/shown.out"
	return $rc
}
# at IP PATH: ledger's answer to GET PATH on the app node at IP (fails
# unless 200); evil_at IP PATH the same for evil
at() { curl -sf -H 'Host: ledger.test' "http://$1$2"; }
evil_at() { curl -sf -H 'Host: evil.test' "http://$1$2"; }
# rows_on NODE: "COUNT MD5" of ledger's rows read on the service node
# itself, as postgres (the standby too: it answers reads), as /count does
rows_on() {
	sl-remote "$1" env -C / runuser -u postgres -- psql -X -At -F ' ' -d ledger -c \
		"SELECT count(*), md5(coalesce(string_agg(id || ' ' || node || ' ' || v, E'\\n' ORDER BY id), '')) FROM rows"
}
# the service nodes' states, as a user sees them; a line of NODE's is
# "IP: KEY VALUE..." (or "root@IP: ...")
db_state() { silver query --nodeset lab; }
# caught_up STANDBY_IP: waits (a bounded number of looks) until the
# primary reports STANDBY streaming 0 bytes behind; leaves the last
# state in output
caught_up() {
	for _ in $(seq 50); do
		run -0 db_state
		grep -Eq ": standby $1 streaming [^ ]+ [^ ]+ 0 " <<<"$output" && return 0
		sleep 0.2
	done
	return 0
}

# writes_start NAME IP: an open-loop load of writes (10 a second, GET
# /write) on the app node at IP; load_stop NAME (lab.bash) ends it
writes_start() { load_bg "$1" "http://$2/write" ledger.test 10; }

@test "setup-node --nodeset makes two app nodes, a primary on db1 and its streaming standby on db2" {
	seconds silver setup-node --nodeset lab > "$BATS_FILE_TMPDIR/setup.out" 2>&1 ||
		{ cat "$BATS_FILE_TMPDIR/setup.out"; false; }
	echo "# setup-node --nodeset (2 bare service nodes, 2 app nodes on the layer): $SECONDS_TAKEN s" >&3
	run -0 db_state
	assert_line --regexp "^(root@)?$DB1_IP: role primary$"
	assert_line --regexp "^(root@)?$DB2_IP: role standby$"
	assert_line --regexp "^(root@)?$DB2_IP: upstream $DB1_IP "
	assert_line --regexp "^(root@)?$DB1_IP: standby $DB2_IP streaming "
	# the databases' ports let in the nodeset's nodes alone: the app nodes
	# and the other service node are in db1's set; web1 reaches both
	# ports, this machine (on the same network) reaches ssh, not them
	run -0 sl-remote "$DB1" nft list set inet silverlining db_clients
	assert_equal "$(grep -oE '([0-9]+\.){3}[0-9]+' <<< "$output" | sort | tr '\n' ' ')" \
		"$(printf '%s\n' "$WEB1_IP" "$WEB2_IP" "$DB2_IP" | sort | tr '\n' ' ')"
	run -0 timeout 5 bash -c "exec 3<>/dev/tcp/$DB1_IP/22"
	for port in 5432 3306; do
		run -0 sl-remote "$WEB1" timeout 5 bash -c "exec 3<>/dev/tcp/$DB1_IP/$port"
		run -124 timeout 2 bash -c "exec 3<>/dev/tcp/$DB1_IP/$port"
	done
	# the app nodes hold the record, root's alone
	for n in "$WEB1" "$WEB2"; do
		run -0 sl-remote "$n" stat -c '%U %a' $ROOT/services/remote.ini
		assert_output "root 600"
	done
}

@test "an app deployed to both app nodes writes to db1 and runs no server there; a second app deploys to web2" {
	shown silver update --nodeset lab "$LEDGER" ledger.test
	shown silver update --node "$WEB2" "$EVIL" evil.test
	run -0 at "$WEB1_IP" /where
	assert_output "$DB1_IP"
	run -0 at "$WEB2_IP" /where
	assert_output "$DB1_IP"
	at "$WEB1_IP" /write > /dev/null
	at "$WEB2_IP" /write > /dev/null
	# the rows are on db1, one from each app node
	run -0 sl-remote "$DB1" env -C / runuser -u postgres -- psql -X -At -d ledger \
		-c "SELECT DISTINCT node FROM rows ORDER BY 1"
	assert_output $'web1\nweb2'
	run -0 at "$WEB1_IP" /count
	assert_output --regexp '^2 [0-9a-f]{32}$'
	# the app nodes set up the apps' databases on db1 and run no server
	# of their own: only the clients were installed
	for n in "$WEB1" "$WEB2"; do
		run -1 sl-remote "$n" test -e /usr/lib/postgresql/15/bin/postgres
		run -0 sl-remote "$n" test -e /usr/lib/postgresql/15/bin/psql
	done
}

@test "evil, from its own app node, cannot open ledger's database with its own credentials" {
	# the control: evil reaches the primary, as its own role, in its own database
	run -0 evil_at "$WEB2_IP" /try
	assert_output "connected: evil evil"
	run -0 evil_at "$WEB2_IP" "/try?db=ledger&sql=SELECT+count(*)+FROM+rows"
	refute_output --partial connected
	assert_output --partial 'permission denied for database "ledger"'
	# nor as ledger's role with evil's password
	run -0 evil_at "$WEB2_IP" "/try?db=ledger&user=ledger"
	refute_output --partial connected
	assert_output --partial 'password authentication failed for user "ledger"'
}

@test "evil cannot log in as the admin role without its password, nor as postgres over the network" {
	for pw in own none; do
		for user in silverlining postgres; do
			run -0 evil_at "$WEB2_IP" "/try?db=postgres&user=$user&pw=$pw"
			echo "# $user, password $pw: $output" >&3
			refute_output --partial connected
			assert_output --regexp '^refused: '
			[ "$pw" = none ] ||
				assert_output --regexp "(password authentication failed|no pg_hba.conf entry|rejects connection).*\"$user\""
		done
	done
}

@test "evil cannot read its node's record of the servers, nor ledger's password" {
	# both are there, root's and ledger's, so a refusal proves something
	run -0 sl-remote "$WEB2" stat -c '%U %a %s' $ROOT/services/remote.ini
	assert_output --regexp '^root 600 [1-9][0-9]*$'
	run -0 sl-remote "$WEB2" test -s $ROOT/apps/ledger/pg.password
	for f in $ROOT/services/remote.ini $ROOT/apps/ledger/pg.password; do
		run -0 evil_at "$WEB2_IP" "/read?path=$f"
		assert_output --regexp '^refused: \[Errno (13|2)\]'
		run -1 sl-remote "$WEB2" runuser -u sl-evil -- cat "$f"
		assert_output --partial 'Permission denied'
	done
}

@test "an app node whose pinned certificate is not the server's sends no password: the app and setup refused" {
	pem=$ROOT/services/postgresql.pem
	# the control: with the node's pinned certificate evil connects
	run -0 evil_at "$WEB2_IP" /try
	assert_output "connected: evil evil"
	# a server presenting another certificate is what pinning another
	# certificate looks like from the app node
	openssl req -x509 -newkey rsa:2048 -nodes -keyout /dev/null -subj "/CN=db1" -days 1 \
		-out "$BATS_TEST_TMPDIR/other.pem" 2>/dev/null
	sl-remote "$WEB2" cp -p "$pem" "$pem.saved"
	sl-remote "$WEB2" sh -c "cat > $pem" < "$BATS_TEST_TMPDIR/other.pem"
	run evil_at "$WEB2_IP" /try
	app=$output
	run sl-remote "$WEB2" sl-service-postgresql setup evil
	setup_rc=$status setup=$output
	sl-remote "$WEB2" mv "$pem.saved" "$pem"
	[[ $app == "refused: "*"certificate verify failed"* ]] || fail "evil's connection: $app"
	[ "$setup_rc" -eq 111 ] || fail "setup with another certificate: exit $setup_rc: $setup"
	[[ $setup == *"certificate verify failed"* ]] || fail "setup: $setup"
	run -0 evil_at "$WEB2_IP" /try
	assert_output "connected: evil evil"
}

@test "a record that would send web1's logins elsewhere, in clear, or open db1 to any address is refused; nothing changes" {
	files="$ROOT/services/remote.ini $ROOT/services/postgresql.pem $ROOT/services/mysql.pem"
	before=$(sl-remote "$WEB1" sha256sum $files)
	rec=$(sl-remote "$WEB1" cat $ROOT/services/remote.ini)
	for edit in 's/^host = .*/host = 10.231.0.66 sslmode=disable/' \
		's/^port = .*/port = 5432 host=10.231.0.66/' \
		's/^admin = .*/admin = postgres password=x/' \
		's/^clients = .*/clients = 0.0.0.0\/0/' \
		's/^cert = .*/cert = -----BEGIN PRIVATE KEY-----/'; do
		run -100 sl-remote "$WEB1" sl-dbnode --client <<< "$(sed "$edit" <<< "$rec")"
		assert_output --regexp '^sl-dbnode: fatal: the record:[0-9]+: '
	done
	[ "$(sl-remote "$WEB1" sha256sum $files)" = "$before" ]
	run -0 at "$WEB1_IP" /where
	assert_output "$DB1_IP"
	# the control: the record as it is goes in, and changes nothing to activate
	run -0 sl-remote "$WEB1" sl-dbnode --client <<< "$rec"
	assert_output ""
	[ "$(sl-remote "$WEB1" sha256sum $files)" = "$before" ]
}

@test "the standby catches up: after writes it is 0 bytes behind and holds the same rows" {
	for _ in $(seq 20); do
		at "$WEB1_IP" /write > /dev/null
		at "$WEB2_IP" /write > /dev/null
	done
	caught_up "$DB2_IP"
	assert_line --regexp "^(root@)?$DB1_IP: standby $DB2_IP streaming ([^ ]+) \\2 0 "
	primary=$(at "$WEB1_IP" /count)
	[[ $primary =~ ^42\  ]] || fail "ledger counts $primary"
	run -0 rows_on "$DB2"
	assert_output "$primary"
}

@test "a failover under writes promotes db2, re-points both app nodes and loses no acknowledged write" {
	before=$(at "$WEB1_IP" /count)
	before=${before%% *}
	writes_start w1 "$WEB1_IP"
	writes_start w2 "$WEB2_IP"
	sleep 1
	# -y: no terminal to ask (it would also promote a standby still
	# behind the fence, which the count of rows below would catch)
	run --separate-stderr silver -y failover --rebuild --nodeset lab
	rc=$status out=$output err=$stderr
	sleep 1
	load_stop w1
	w1=$LOAD
	load_stop w2
	w2=$LOAD
	{
		echo "failover: exit $rc"
		echo "$out"
		echo "$err"
		echo "writes to web1, 10/s: $w1"
		echo "writes to web2, 10/s: $w2"
	} | sed 's/^/# /' >&3
	[ "$rc" -eq 0 ] || fail "silver failover: exit $rc"
	run -0 at "$WEB1_IP" /where
	assert_output "$DB2_IP"
	run -0 at "$WEB2_IP" /where
	assert_output "$DB2_IP"
	# no acknowledged write lost (every 200 has its row on the new
	# primary), none made up (no more rows than were sent); a write that
	# failed may have committed before its answer was lost
	sent=0 ok=0
	for w in "$w1" "$w2"; do
		[[ $w =~ ^sent\ ([0-9]+)\ failed\ ([0-9]+) ]] || fail "load: $w"
		sent=$((sent + BASH_REMATCH[1]))
		ok=$((ok + BASH_REMATCH[1] - BASH_REMATCH[2]))
	done
	[ "$ok" -gt 0 ] || fail "no write succeeded"
	run -0 rows_on "$DB2"
	n=${output%% *}
	[ "$n" -ge $((before + ok)) ] || fail "$n rows, $before before and $ok writes acknowledged"
	[ "$n" -le $((before + sent)) ] || fail "$n rows, $before before and $sent writes sent"
	# both app nodes see the new primary's rows, the same ones
	run -0 at "$WEB1_IP" /count
	assert_output "$(rows_on "$DB2")"
	run -0 at "$WEB2_IP" /count
	assert_output "$(rows_on "$DB2")"
	run -0 db_state
	assert_line --regexp "^(root@)?$DB2_IP: role primary$"
	assert_line --regexp "^(root@)?$DB2_IP: timeline ([2-9]|[1-9][0-9]+)$"
}

@test "--rebuild made db1 the standby of db2: it streams from db2 and holds the same rows" {
	at "$WEB1_IP" /write > /dev/null
	caught_up "$DB1_IP"
	assert_line --regexp "^(root@)?$DB1_IP: role standby$"
	assert_line --regexp "^(root@)?$DB1_IP: upstream $DB2_IP "
	assert_line --regexp "^(root@)?$DB2_IP: standby $DB1_IP streaming ([^ ]+) \\2 0 "
	run -1 sl-remote "$DB1" test -e /var/lib/silverlining/dbnode/fenced
	run -0 rows_on "$DB1"
	assert_output "$(rows_on "$DB2")"
	# a standby takes no write, even from its own superuser
	run -1 sl-remote "$DB1" env -C / runuser -u postgres -- psql -X -At -d ledger \
		-c "INSERT INTO rows (node, v) VALUES ('db1', 'x')"
	assert_output --partial 'read-only transaction'
}

@test "after the failover both app nodes serve; a backup from web1 restores into the new primary, and clear empties it" {
	run -0 at "$WEB1_IP" /write
	run -0 at "$WEB2_IP" /write
	shown silver backup --node "$WEB1" ledger.test "$BATS_TEST_TMPDIR/b"
	saved=$(at "$WEB1_IP" /count)
	for _ in 1 2 3; do at "$WEB2_IP" /write > /dev/null; done
	[ "$(at "$WEB1_IP" /count)" != "$saved" ]
	shown silver restore --node "$WEB1" "$BATS_TEST_TMPDIR/b" ledger.test
	run -0 at "$WEB1_IP" /count
	assert_output "$saved"
	run -0 rows_on "$DB2"
	assert_output "$saved"
	run -0 at "$WEB2_IP" /count
	assert_output "$saved"
	# clear, through web1, empties the one database both app nodes use
	shown silver -y clear --node "$WEB1" ledger.test
	run -0 at "$WEB2_IP" /count
	assert_output "0 $(printf '' | md5sum | cut -d' ' -f1)"
	run -0 rows_on "$DB2"
	assert_output "0 $(printf '' | md5sum | cut -d' ' -f1)"
}

@test "a scheduled backup from web1 is verified on the service node's server: a scratch database, counted, dropped" {
	for _ in 1 2; do at "$WEB1_IP" /write > /dev/null; done
	n=$(rows_on "$DB2" | cut -d' ' -f1)
	run -0 sl-remote "$WEB1" sl-backup --scheduled ledger
	assert_output --regexp '^ledger [0-9]{8}T[0-9]{6}Z verified seconds=[0-9.]+$'
	stamp=${output#ledger }
	stamp=${stamp%% *}
	run -0 sl-remote "$WEB1" cat "/var/lib/silverlining/backups/ledger/$stamp.ini"
	assert_line '[postgresql]'
	assert_line tables=1
	assert_line "rows=$n"
	# the scratch database was on db2, and is gone
	run -0 sl-remote "$DB2" env -C / runuser -u postgres -- psql -X -At -c \
		"SELECT datname FROM pg_database WHERE strpos(datname, chr(46)) > 0"
	assert_output ""
}

@test "a fenced primary stays stopped whatever asks systemd to start it, and says fenced" {
	# the control: db2's server is up, and a restart brings it back
	run -0 sl-remote "$DB2" sh -c 'systemctl restart postgresql@15-main && systemctl is-active postgresql@15-main'
	assert_output active
	run -0 sl-remote "$DB2" sl-dbnode --fence
	assert_output --regexp '^lsn [0-9A-F]+/[0-9A-F]+$'
	# what an operator, a package upgrade or boot would run (boot starts
	# the same unit, so the same condition holds)
	run sl-remote "$DB2" sh -c 'systemctl start postgresql@15-main; systemctl restart postgresql;
		pg_ctlcluster 15 main start; systemctl daemon-reload; systemctl start postgresql@15-main;
		sleep 1; systemctl is-active postgresql@15-main; pg_isready -q -h 127.0.0.1; echo "ready $?"'
	assert_line inactive
	assert_line "ready 2"
	run -0 db_state
	assert_line --regexp "^(root@)?$DB2_IP: role fenced$"
}
