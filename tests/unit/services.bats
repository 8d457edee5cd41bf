#!/usr/bin/env bats
# silverlining — services on the laptop: sl-env runs `sl-service-NAME env
# --devel APP` for each service.NAME, and each service takes its values
# from ~/.silverlining.conf [devel] and [devel:APP] or its defaults.
bats_require_minimum_version 1.5.0
load ../lib/common

SERVICES='postgis postgresql mysql files writable_root redis'

setup() {
	common_setup
	# the tools' own SL_* variables must not leak in from the caller either
	unset SL_CONF SL_YES SL_VERBOSITY SL_SERVICE_VALUE
	A=$BATS_TEST_TMPDIR/app
	app "$A" '[production]' 'app_name = my-blog' 'service.postgis ='
	CONF=$HOME/.silverlining.conf
	ME=$(id -un)
	BIN=$(cd "${SL_TEST_BIN:-$TOP/bin}" && pwd -P)
	VERSION=$(sed -n 's/^#define SL_VERSION "\(.*\)"/\1/p' "$TOP/libsl/version.h")
	SVC=$BATS_TEST_TMPDIR/svc
}

# var APPDIR NAME: `eval "$(sl-env APPDIR)"; echo $NAME` in a fresh shell.
var() {
	run -0 bash -c 'eval "$(sl-env "$1")" && printf "%s\n" "${!2}"' _ "$1" "$2"
}

# fake BODY: an executable sl-service-fake on PATH running the sh BODY.
fake() {
	mkdir -p "$SVC"
	printf '#!/bin/sh\n%s\n' "$1" > "$SVC/sl-service-fake"
	chmod 755 "$SVC/sl-service-fake"
	PATH=$SVC:$PATH
}

# --- what an app receives ---

@test "service.postgis: CONFIG_PG_DBNAME is the app's name, dashes made underscores" {
	var "$A" CONFIG_PG_DBNAME
	assert_output my_blog
}

@test "service.postgis without overrides: the login user, the local socket, exact URLs" {
	run -0 --separate-stderr sl-env "$A"
	assert_equal "$stderr" ""
	assert_line --index 8 "export CONFIG_PG_DBNAME='my_blog'"
	assert_line --index 9 "export CONFIG_PG_USER='$ME'"
	assert_line --index 10 "export CONFIG_PG_PASSWORD=''"
	assert_line --index 11 "export CONFIG_PG_HOST=''"
	assert_line --index 12 "export CONFIG_PG_PORT=''"
	assert_line --index 13 "export CONFIG_PG_SQLALCHEMY='postgresql+psycopg2://$ME@/my_blog'"
	assert_line --index 14 "export CONFIG_PG_URL='postgresql://$ME@/my_blog'"
	assert_equal "${#lines[@]}" 15
}

@test "[devel:APP] postgis.dbname = test_APP_NAME: the app's name is put in" {
	app "$A" '[production]' 'app_name = blog' 'service.postgis ='
	devel_conf '[devel:blog]' 'postgis.dbname = test_APP_NAME'
	var "$A" CONFIG_PG_DBNAME
	assert_output test_blog
}

@test "[devel] postgis.dbname = APP_NAME_test_APP_NAME: every APP_NAME is put in" {
	app "$A" '[production]' 'app_name = blog' 'service.postgis ='
	devel_conf '[devel]' 'postgis.dbname = APP_NAME_test_APP_NAME'
	var "$A" CONFIG_PG_DBNAME
	assert_output blog_test_blog
}

@test "APP_NAME in a database override is the database form of the name (my-blog: my_blog)" {
	devel_conf '[devel]' 'postgis.dbname = test_APP_NAME' 'mysql.dbname = APP_NAME_dev' 'mysql.user = APP_NAME'
	var "$A" CONFIG_PG_DBNAME
	assert_output test_my_blog
	run -0 sl-service-mysql env --devel my-blog
	assert_line --index 0 CONFIG_MYSQL_DBNAME=my_blog_dev
	assert_line --index 1 CONFIG_MYSQL_USER=my_blog
}

@test "[devel:APP] wins over [devel] when it comes after" {
	devel_conf '[devel]' 'postgis.dbname = general' '[devel:my-blog]' 'postgis.dbname = mine'
	var "$A" CONFIG_PG_DBNAME
	assert_output mine
}

@test "[devel:APP] wins over [devel] when it comes before" {
	devel_conf '[devel:my-blog]' 'postgis.dbname = mine' '[devel]' 'postgis.dbname = general'
	var "$A" CONFIG_PG_DBNAME
	assert_output mine
}

@test "[devel] and [devel:APP] keys combine" {
	devel_conf '[devel]' 'postgis.user = u' 'postgis.dbname = general' '[devel:my-blog]' 'postgis.dbname = mine'
	run -0 sl-service-postgis env --devel my-blog
	assert_line --index 0 CONFIG_PG_DBNAME=mine
	assert_line --index 1 CONFIG_PG_USER=u
}

@test "[devel:other] and look-alike sections are ignored" {
	devel_conf '[devel:other]' 'postgis.dbname = other' '[devel:my-blo]' 'postgis.dbname = short' \
		'[devel:my-blog2]' 'postgis.dbname = long' '[develop]' 'postgis.dbname = develop' \
		'[production]' 'postgis.dbname = prod'
	run -0 --separate-stderr sl-env "$A"
	assert_equal "$stderr" ""
	assert_line "export CONFIG_PG_DBNAME='my_blog'"
}

@test "[DEVEL] and POSTGIS.DBNAME: section and key are case-insensitive" {
	devel_conf '[DEVEL]' 'POSTGIS.DBNAME = big'
	var "$A" CONFIG_PG_DBNAME
	assert_output big
}

@test "postgis.host = localhost:5433: HOST and PORT split, exact URLs" {
	devel_conf '[devel]' 'postgis.host = localhost:5433'
	run -0 --separate-stderr sl-service-postgis env --devel my-blog
	assert_equal "$stderr" ""
	assert_output "CONFIG_PG_DBNAME=my_blog
CONFIG_PG_USER=$ME
CONFIG_PG_PASSWORD=
CONFIG_PG_HOST=localhost
CONFIG_PG_PORT=5433
CONFIG_PG_SQLALCHEMY=postgresql+psycopg2://$ME@localhost:5433/my_blog
CONFIG_PG_URL=postgresql://$ME@localhost:5433/my_blog"
}

@test "postgis.host = localhost:5433 through sl-env and eval" {
	devel_conf '[devel]' 'postgis.host = localhost:5433'
	run -0 bash -c 'eval "$(sl-env "$1")" && printf "%s|" "$CONFIG_PG_HOST" "$CONFIG_PG_PORT" "$CONFIG_PG_URL" "$CONFIG_PG_SQLALCHEMY"' _ "$A"
	assert_output "localhost|5433|postgresql://$ME@localhost:5433/my_blog|postgresql+psycopg2://$ME@localhost:5433/my_blog|"
}

@test "postgis.port overrides the port of postgis.host" {
	devel_conf '[devel]' 'postgis.host = db.example.com:5433' 'postgis.port = 6000'
	run -0 sl-service-postgis env --devel my-blog
	assert_line --index 3 CONFIG_PG_HOST=db.example.com
	assert_line --index 4 CONFIG_PG_PORT=6000
	assert_line --index 6 "CONFIG_PG_URL=postgresql://$ME@db.example.com:6000/my_blog"
}

@test "IPv6 hosts: [::1]:5433 and ::1 are bracketed in URLs" {
	devel_conf '[devel]' 'postgis.host = [::1]:5433'
	run -0 sl-service-postgis env --devel my-blog
	assert_line --index 3 CONFIG_PG_HOST=::1
	assert_line --index 4 CONFIG_PG_PORT=5433
	assert_line --index 6 "CONFIG_PG_URL=postgresql://$ME@[::1]:5433/my_blog"
	devel_conf '[devel]' 'postgis.host = ::1'
	run -0 sl-service-postgis env --devel my-blog
	assert_line --index 3 CONFIG_PG_HOST=::1
	assert_line --index 4 CONFIG_PG_PORT=
	assert_line --index 6 "CONFIG_PG_URL=postgresql://$ME@[::1]/my_blog"
}

@test "a password, user and dbname with '@:/ %' are percent-encoded in URLs, kept as they are elsewhere" {
	devel_conf '[devel]' 'postgis.password = p@ss:w/rd x%' 'postgis.user = me@home' \
		'postgis.dbname = my db' 'postgis.host = db.example.com'
	run -0 --separate-stderr sl-service-postgis env --devel my-blog
	assert_equal "$stderr" ""
	assert_output "CONFIG_PG_DBNAME=my db
CONFIG_PG_USER=me@home
CONFIG_PG_PASSWORD=p@ss:w/rd x%
CONFIG_PG_HOST=db.example.com
CONFIG_PG_PORT=
CONFIG_PG_SQLALCHEMY=postgresql+psycopg2://me%40home:p%40ss%3Aw%2Frd%20x%25@db.example.com/my%20db
CONFIG_PG_URL=postgresql://me%40home:p%40ss%3Aw%2Frd%20x%25@db.example.com/my%20db"
}

@test "service.postgresql gives the same variables as postgis" {
	devel_conf '[devel]' 'postgis.host = h:1' 'postgresql.host = h:1' 'postgis.password = pw' 'postgresql.password = pw'
	run -0 sl-service-postgis env --devel my-blog
	local pg=$output
	run -0 sl-service-postgresql env --devel my-blog
	assert_output "$pg"
	assert_line --index 6 "CONFIG_PG_URL=postgresql://$ME:pw@h:1/my_blog"
}

@test "service.mysql without overrides: exact variables and URLs" {
	app "$A" '[production]' 'app_name = my-blog' 'service.mysql ='
	run -0 --separate-stderr sl-env "$A"
	assert_equal "$stderr" ""
	assert_line --index 8 "export CONFIG_MYSQL_DBNAME='my_blog'"
	assert_line --index 9 "export CONFIG_MYSQL_USER='$ME'"
	assert_line --index 10 "export CONFIG_MYSQL_PASSWORD=''"
	assert_line --index 11 "export CONFIG_MYSQL_HOST=''"
	assert_line --index 12 "export CONFIG_MYSQL_PORT=''"
	assert_line --index 13 "export CONFIG_MYSQL_SQLALCHEMY='mysql+mysqldb://$ME@localhost/my_blog?charset=utf8mb4'"
	assert_line --index 14 "export CONFIG_MYSQL_URL='mysql://$ME@localhost/my_blog'"
	assert_equal "${#lines[@]}" 15
}

@test "service.mysql with overrides: exact variables and URLs" {
	devel_conf '[devel]' 'mysql.host = db.example.com:3307' 'mysql.user = app' 'mysql.password = s3cr:t@' \
		'postgis.dbname = not-mine' '[devel:my-blog]' 'mysql.dbname = blog_dev'
	run -0 --separate-stderr sl-service-mysql env --devel my-blog
	assert_equal "$stderr" ""
	assert_output "CONFIG_MYSQL_DBNAME=blog_dev
CONFIG_MYSQL_USER=app
CONFIG_MYSQL_PASSWORD=s3cr:t@
CONFIG_MYSQL_HOST=db.example.com
CONFIG_MYSQL_PORT=3307
CONFIG_MYSQL_SQLALCHEMY=mysql+mysqldb://app:s3cr%3At%40@db.example.com:3307/blog_dev?charset=utf8mb4
CONFIG_MYSQL_URL=mysql://app:s3cr%3At%40@db.example.com:3307/blog_dev"
}

@test "service.files and service.writable_root: directories under ~/.silverlining, 0700 and 0755" {
	umask 022
	app "$A" '[production]' 'app_name = my-blog' 'service.files =' 'service.writable_root ='
	local h
	h=$(cd "$HOME" && pwd -P)
	run -0 --separate-stderr sl-env "$A"
	assert_equal "$stderr" ""
	assert_line --index 8 "export CONFIG_FILES='$h/.silverlining/files/my-blog'"
	assert_line --index 9 "export CONFIG_WRITABLE_ROOT='$h/.silverlining/writable-root/my-blog'"
	run -0 stat -c %a "$HOME/.silverlining/files/my-blog" "$HOME/.silverlining/files" \
		"$HOME/.silverlining/writable-root/my-blog" "$HOME/.silverlining/writable-root"
	assert_output "700
700
755
755"
	# the next run finds them
	run -0 --separate-stderr sl-env "$A"
	assert_line --index 8 "export CONFIG_FILES='$h/.silverlining/files/my-blog'"
}

@test "sl-service-files and sl-service-writable_root run alone" {
	umask 022
	local h
	h=$(cd "$HOME" && pwd -P)
	run -0 --separate-stderr sl-service-files env --devel my-blog
	assert_equal "$stderr" ""
	assert_output "CONFIG_FILES=$h/.silverlining/files/my-blog"
	run -0 --separate-stderr sl-service-writable_root env --devel my-blog
	assert_equal "$stderr" ""
	assert_output "CONFIG_WRITABLE_ROOT=$h/.silverlining/writable-root/my-blog"
	[ -d "$HOME/.silverlining/files/my-blog" ]
	[ -d "$HOME/.silverlining/writable-root/my-blog" ]
}

@test "files.dir = ~/x/APP_NAME and an absolute writable_root.dir are made and used" {
	umask 022
	devel_conf '[devel]' 'files.dir = ~/x/APP_NAME' "writable_root.dir = $BATS_TEST_TMPDIR/www/APP_NAME"
	app "$A" '[production]' 'app_name = my-blog' 'service.files =' 'service.writable_root ='
	local h t
	h=$(cd "$HOME" && pwd -P)
	t=$(cd "$BATS_TEST_TMPDIR" && pwd -P)
	run -0 --separate-stderr sl-env "$A"
	assert_equal "$stderr" ""
	assert_line --index 8 "export CONFIG_FILES='$h/x/my-blog'"
	assert_line --index 9 "export CONFIG_WRITABLE_ROOT='$t/www/my-blog'"
	run -0 stat -c %a "$HOME/x/my-blog" "$BATS_TEST_TMPDIR/www/my-blog"
	assert_output "700
755"
	[ ! -e "$HOME/.silverlining/files" ]
}

@test "a relative files.dir: exit 100 with FILE:LINE" {
	devel_conf '[devel]' 'postgis.dbname = x' 'files.dir = data/APP_NAME'
	run -100 sl-service-files env --devel my-blog
	assert_output "sl-service-files: fatal: $CONF:3: 'data/my-blog' is not an absolute path or one under ~/"
	devel_conf '[devel:my-blog]' 'writable_root.dir = ~other/www'
	run -100 sl-service-writable_root env --devel my-blog
	assert_output "sl-service-writable_root: fatal: $CONF:2: '~other/www' is not an absolute path or one under ~/"
}

@test "a files.dir that cannot be a directory: exit 100" {
	: > "$HOME/blocker"
	devel_conf '[devel]' 'files.dir = ~/blocker'
	run -100 sl-service-files env --devel my-blog
	assert_output "sl-service-files: fatal: unable to create $HOME/blocker: Not a directory"
	devel_conf '[devel]' 'files.dir = ~/blocker/APP_NAME'
	run -100 sl-service-files env --devel my-blog
	assert_output "sl-service-files: fatal: unable to create $HOME/blocker/my-blog: Not a directory"
}

@test "a directory service refuses a path with a newline (the protocol is one line per variable)" {
	export HOME=$BATS_TEST_TMPDIR/$'ho\nme'
	mkdir -p "$HOME"
	run -100 sl-service-files env --devel my-blog
	assert_output "sl-service-files: fatal: CONFIG_FILES: a value cannot hold a newline"
}

@test "service.redis without overrides: a local Redis on 127.0.0.1:6379, database 0, exact URL" {
	app "$A" '[production]' 'app_name = my-blog' 'service.redis ='
	run -0 --separate-stderr sl-env "$A"
	assert_equal "$stderr" ""
	assert_line --index 8 "export CONFIG_REDIS_SOCKET=''"
	assert_line --index 9 "export CONFIG_REDIS_PASSWORD=''"
	assert_line --index 10 "export CONFIG_REDIS_HOST='127.0.0.1'"
	assert_line --index 11 "export CONFIG_REDIS_PORT='6379'"
	assert_line --index 12 "export CONFIG_REDIS_DB='0'"
	assert_line --index 13 "export CONFIG_REDIS_URL='redis://127.0.0.1:6379/0'"
	assert_equal "${#lines[@]}" 14
}

@test "redis.* overrides: host, port, db and a password percent-encoded in the URL only" {
	devel_conf '[devel]' 'redis.host = cache.example.com' 'redis.port = 6380' 'redis.password = p@ss:w/rd x%' \
		'[devel:my-blog]' 'redis.db = 3'
	run -0 --separate-stderr sl-service-redis env --devel my-blog
	assert_equal "$stderr" ""
	assert_output "CONFIG_REDIS_SOCKET=
CONFIG_REDIS_PASSWORD=p@ss:w/rd x%
CONFIG_REDIS_HOST=cache.example.com
CONFIG_REDIS_PORT=6380
CONFIG_REDIS_DB=3
CONFIG_REDIS_URL=redis://:p%40ss%3Aw%2Frd%20x%25@cache.example.com:6380/3"
	devel_conf '[devel]' 'redis.host = ::1'
	run -0 sl-service-redis env --devel my-blog
	assert_line --index 5 "CONFIG_REDIS_URL=redis://[::1]:6379/0"
}

@test "redis.socket: a unix:// URL, its path's slashes kept, no host or port" {
	devel_conf '[devel:my-blog]' 'redis.socket = /run/my redis/APP_NAME.sock' 'redis.password = pw'
	run -0 --separate-stderr sl-service-redis env --devel my-blog
	assert_equal "$stderr" ""
	assert_output "CONFIG_REDIS_SOCKET=/run/my redis/my-blog.sock
CONFIG_REDIS_PASSWORD=pw
CONFIG_REDIS_HOST=
CONFIG_REDIS_PORT=
CONFIG_REDIS_DB=0
CONFIG_REDIS_URL=unix://:pw@/run/my%20redis/my-blog.sock?db=0"
}

@test "a bad redis.port, redis.db or redis.socket: exit 100 with FILE:LINE" {
	local p
	for p in x 0 65536 '63 79'; do
		devel_conf '[devel]' "redis.port = $p"
		run -100 sl-service-redis env --devel my-blog
		assert_output "sl-service-redis: fatal: $CONF:2: '$p' is not a port number"
	done
	for p in 16 -1 x; do
		devel_conf '[devel]' '' "redis.db = $p"
		run -100 sl-service-redis env --devel my-blog
		assert_output "sl-service-redis: fatal: $CONF:3: '$p' is not a database number (0 to 15)"
	done
	devel_conf '[devel]' 'redis.socket = run/redis.sock'
	run -100 sl-service-redis env --devel my-blog
	assert_output "sl-service-redis: fatal: $CONF:2: 'run/redis.sock' is not an absolute path"
	devel_conf '[devel]' 'redis.hots = x'
	run -0 --separate-stderr sl-service-redis env --devel my-blog
	assert_equal "$stderr" "sl-service-redis: warning: $CONF:2: unknown key 'redis.hots' ignored"
}

@test "service.redis = maxmemory=MiB policy=NAME is accepted; a bad value is refused, 100, naming the word" {
	app "$A" '[production]' 'app_name = my-blog' 'service.redis = maxmemory=256 policy=allkeys-lru'
	run -0 sl-env "$A"
	app "$A" '[production]' 'app_name = my-blog' 'service.redis = policy=volatile-ttl' '    maxmemory=1'
	run -0 sl-env "$A"
	local v
	for v in maxmemory=0 maxmemory=1048577 maxmemory=64mb maxmemory= 'maxmemory=-1'; do
		app "$A" '[production]' 'app_name = my-blog' "service.redis = $v"
		run -100 sl-env "$A"
		assert_line --index 0 "sl-service-redis: fatal: service.redis: '$v': want maxmemory=MiB, a whole number from 1 to 1048576"
	done
	app "$A" '[production]' 'app_name = my-blog' 'service.redis = policy=lru'
	run -100 sl-env "$A"
	assert_line --index 0 "sl-service-redis: fatal: service.redis: 'policy=lru': want policy= one of noeviction, allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru, volatile-lfu, volatile-random, volatile-ttl"
	app "$A" '[production]' 'app_name = my-blog' 'service.redis = 64'
	run -100 sl-env "$A"
	assert_line --index 0 "sl-service-redis: fatal: service.redis: '64': want maxmemory=MiB or policy=NAME"
}

# --- ~/.silverlining.conf faults ---

@test "an unknown devel key: a warning with FILE:LINE, exit 0" {
	devel_conf '[devel]' 'postgis.dbname = d' 'postgis.passwd = x' '[devel:my-blog]' 'postgis.hots = h'
	run -0 --separate-stderr sl-service-postgis env --devel my-blog
	assert_equal "$stderr" "sl-service-postgis: warning: $CONF:3: unknown key 'postgis.passwd' ignored
sl-service-postgis: warning: $CONF:5: unknown key 'postgis.hots' ignored"
	assert_line --index 0 CONFIG_PG_DBNAME=d
	run -0 --separate-stderr sl-env "$A"
	assert_equal "$stderr" "sl-service-postgis: warning: $CONF:3: unknown key 'postgis.passwd' ignored
sl-service-postgis: warning: $CONF:5: unknown key 'postgis.hots' ignored"
	assert_line "export CONFIG_PG_DBNAME='d'"
}

@test "a continued devel value: a warning with FILE:LINE, the first line kept" {
	devel_conf '[devel]' 'postgis.dbname = d' '   more'
	run -0 --separate-stderr sl-service-postgis env --devel my-blog
	assert_equal "$stderr" "sl-service-postgis: warning: $CONF:3: postgis.dbname takes one value; this line is ignored"
	assert_line --index 0 CONFIG_PG_DBNAME=d
}

@test "a bad postgis.port: exit 100 with FILE:LINE" {
	local p
	for p in x 0 65536 -1 '54 32'; do
		devel_conf '[devel]' 'postgis.host = localhost' "postgis.port = $p"
		run -100 sl-service-postgis env --devel my-blog
		assert_output "sl-service-postgis: fatal: $CONF:3: '$p' is not a port number"
	done
}

@test "a bad port through sl-env: exit 100, the service's message first" {
	devel_conf '[devel]' 'postgis.port = x'
	run -100 sl-env "$A"
	assert_output "sl-service-postgis: fatal: $CONF:2: 'x' is not a port number
sl-env: fatal: service.postgis: '$BIN/sl-service-postgis env --devel my-blog' failed with exit status 100"
}

@test "a bad port in postgis.host: exit 100 with FILE:LINE" {
	local h
	for h in localhost:99999 localhost:x localhost: '[::1]:0' '[::1' '[::1]x'; do
		devel_conf '[devel]' '' "postgis.host = $h"
		run -100 sl-service-postgis env --devel my-blog
		assert_output "sl-service-postgis: fatal: $CONF:3: '$h' is not HOST, HOST:PORT or [IPv6]:PORT"
	done
}

@test "a malformed ~/.silverlining.conf: exit 100 with FILE:LINE" {
	devel_conf '[devel]' 'postgis.dbname = d' 'oops'
	run -100 sl-service-postgis env --devel my-blog
	assert_output "sl-service-postgis: fatal: $CONF:3: expected '[section]' or 'key = value', not 'oops'"
	devel_conf '[devel'
	run -100 sl-service-mysql env --devel my-blog
	assert_output "sl-service-mysql: fatal: $CONF:1: expected '[section]' or 'key = value', not '[devel'"
}

@test "a malformed ~/.silverlining.conf through sl-env: exit 100, FILE:LINE" {
	devel_conf '# mine' '[devel]' 'postgis.dbname'
	run -100 sl-env "$A"
	assert_output "sl-service-postgis: fatal: $CONF:3: expected '[section]' or 'key = value', not 'postgis.dbname'
sl-env: fatal: service.postgis: '$BIN/sl-service-postgis env --devel my-blog' failed with exit status 100"
}

@test "SL_CONF names another configuration file; ~/.silverlining.conf is then not read" {
	devel_conf 'not an ini file at all'
	printf '%s\n' '[devel]' 'postgis.dbname = from_sl_conf' > "$BATS_TEST_TMPDIR/other.conf"
	SL_CONF=$BATS_TEST_TMPDIR/other.conf var "$A" CONFIG_PG_DBNAME
	assert_output from_sl_conf
	SL_CONF=$BATS_TEST_TMPDIR/other.conf run -0 sl-service-mysql env --devel my-blog
	assert_line --index 0 CONFIG_MYSQL_DBNAME=my_blog
	# it is passed on to the command, so tools run under sl-env read the same file
	SL_CONF=$BATS_TEST_TMPDIR/other.conf run -0 sl-env "$A" -- printenv SL_CONF
	assert_output "$BATS_TEST_TMPDIR/other.conf"
	# without it, the broken ~/.silverlining.conf is read
	run -100 sl-service-postgis env --devel my-blog
	assert_output "sl-service-postgis: fatal: $CONF:1: expected '[section]' or 'key = value', not 'not an ini file at all'"
}

@test "SL_CONF's errors name that file" {
	printf '%s\n' '[devel]' 'postgis.port = 0' > "$BATS_TEST_TMPDIR/other.conf"
	SL_CONF=$BATS_TEST_TMPDIR/other.conf run -100 sl-service-postgis env --devel my-blog
	assert_output "sl-service-postgis: fatal: $BATS_TEST_TMPDIR/other.conf:2: '0' is not a port number"
}

# --- services sl-env cannot use ---

@test "an unknown service: exit 100 naming app.ini:LINE" {
	app "$A" '[production]' 'app_name = my-blog' 'service.postgis =' 'service.couchdb ='
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:4: unknown service 'couchdb': no sl-service-couchdb beside sl-env or on PATH"
}

@test "two services that set the same variable (postgis and postgresql): exit 100" {
	app "$A" '[production]' 'app_name = my-blog' 'service.postgis =' 'service.postgresql ='
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:4: service.postgresql sets CONFIG_PG_DBNAME, which another service already set"
}

@test "the built-in services are found beside sl-env when they are not on PATH" {
	run -0 env PATH=/usr/bin:/bin "$TOP/bin/sl-env" "$A"
	assert_line "export CONFIG_PG_DBNAME='my_blog'"
}

@test "a service found on PATH: its variables, after the others, in app.ini's order" {
	fake 'echo CONFIG_FAKE=1; echo "CONFIG_FAKE_ARGS=$*"'
	app "$A" '[production]' 'app_name = my-blog' 'service.fake = some value' 'service.files ='
	run -0 --separate-stderr sl-env "$A"
	assert_equal "$stderr" ""
	assert_line --index 8 "export CONFIG_FAKE='1'"
	assert_line --index 9 "export CONFIG_FAKE_ARGS='env --devel my-blog'"
	assert_line --index 10 --partial "export CONFIG_FILES="
	var "$A" CONFIG_FAKE
	assert_output 1
}

@test "a service receives the value of service.NAME in SL_SERVICE_VALUE, lines joined by newlines" {
	fake 'printf "CONFIG_V=%s\n" "$SL_SERVICE_VALUE" | tr "\n" "@"; echo; echo "CONFIG_SET=${SL_SERVICE_VALUE+set}"'
	app "$A" '[production]' 'app_name = my-blog' 'service.fake = some value' '    second line'
	run -0 sl-env "$A"
	assert_line --index 8 "export CONFIG_V='some value@second line@'"
	app "$A" '[production]' 'app_name = my-blog' 'service.fake ='
	SL_SERVICE_VALUE=inherited run -0 sl-env "$A"
	assert_line --index 8 "export CONFIG_V='@'"
	assert_line --index 9 "export CONFIG_SET='set'"
}

@test "a service's blank lines and '=' inside values are kept right" {
	fake 'printf "\nCONFIG_A=x=y\n\nCONFIG_B=\n"'
	app "$A" '[production]' 'app_name = my-blog' 'service.fake ='
	run -0 bash -c 'sl-env -0 "$1" | tr "\0" "\n" | grep ^CONFIG_' _ "$A"
	assert_output "CONFIG_A=x=y
CONFIG_B="
}

@test "a service that prints a bad line is refused: exit 100" {
	app "$A" '[production]' 'app_name = my-blog' 'service.fake ='
	local line
	for line in hello CONFIG_lower=1 SILVER_APP_NAME=evil CONFIG_=1 'CONFIG_A B=1' PATH=/evil 'export CONFIG_A=1'; do
		fake "echo CONFIG_OK=1; echo '$line'"
		run -100 sl-env "$A"
		assert_output "sl-env: fatal: sl-service-fake printed '$line', not CONFIG_NAME=VALUE"
	done
}

@test "a service that prints a NUL byte is refused: exit 100" {
	app "$A" '[production]' 'app_name = my-blog' 'service.fake ='
	fake 'printf "CONFIG_A=1\000x\n"'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: sl-service-fake printed a NUL byte"
}

@test "a service that sets another service's variable is refused: exit 100" {
	app "$A" '[production]' 'app_name = my-blog' 'service.postgis =' 'service.fake ='
	fake 'echo CONFIG_PG_HOST=evil'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:4: service.fake sets CONFIG_PG_HOST, which another service already set"
}

@test "a service that fails with 111: sl-env exits 111, the service's message first" {
	app "$A" '[production]' 'app_name = my-blog' 'service.fake ='
	fake 'echo "sl-service-fake: fatal: the server is down" >&2; exit 111'
	run -111 sl-env "$A"
	assert_output "sl-service-fake: fatal: the server is down
sl-env: fatal: service.fake: '$SVC/sl-service-fake env --devel my-blog' failed with exit status 111"
}

@test "a service that fails with 100 or is killed: its status passes on" {
	app "$A" '[production]' 'app_name = my-blog' 'service.fake ='
	fake 'exit 100'
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: service.fake: '$SVC/sl-service-fake env --devel my-blog' failed with exit status 100"
	fake 'kill -KILL $$'
	run -137 sl-env "$A"
	assert_output "sl-env: fatal: service.fake: '$SVC/sl-service-fake env --devel my-blog' failed with exit status 137"
}

@test "a service that fails with its own code (2-99): sl-env exits 111" {
	app "$A" '[production]' 'app_name = my-blog' 'service.fake ='
	fake 'exit 3'
	run -111 sl-env "$A"
	assert_output "sl-env: fatal: service.fake: '$SVC/sl-service-fake env --devel my-blog' failed with exit status 3"
}

@test "a service on PATH that is not executable is unknown: exit 100" {
	app "$A" '[production]' 'app_name = my-blog' 'service.fake ='
	fake 'echo CONFIG_FAKE=1'
	chmod 644 "$SVC/sl-service-fake"
	run -100 sl-env "$A"
	assert_output "sl-env: fatal: $A/app.ini:3: unknown service 'fake': no sl-service-fake beside sl-env or on PATH"
}

@test "a failing service stops the chainload: the command does not run" {
	app "$A" '[production]' 'app_name = my-blog' 'service.fake ='
	fake 'exit 111'
	run -111 sl-env "$A" -- touch "$BATS_TEST_TMPDIR/ran"
	[ ! -e "$BATS_TEST_TMPDIR/ran" ]
}

# --- the service executables themselves ---

@test "sl-service-* --help and -h: usage on stdout, exit 0" {
	local s
	for s in $SERVICES; do
		run -0 --separate-stderr "sl-service-$s" --help
		assert_equal "$stderr" ""
		assert_output "usage: sl-service-$s install | setup APP | env [--devel] APP | backup APP DIR | check APP DIR | restore APP DIR | verify APP DIR | clear APP"
		run -0 --separate-stderr "sl-service-$s" -h
		assert_output "usage: sl-service-$s install | setup APP | env [--devel] APP | backup APP DIR | check APP DIR | restore APP DIR | verify APP DIR | clear APP"
	done
}

@test "sl-service-* --version: exit 0" {
	local s
	for s in $SERVICES; do
		run -0 --separate-stderr "sl-service-$s" --version
		assert_equal "$stderr" ""
		assert_output "sl-service-$s $VERSION"
	done
}

@test "sl-service-* env --devel APP prints only CONFIG_NAME=VALUE lines" {
	local s l
	for s in $SERVICES; do
		run -0 --separate-stderr "sl-service-$s" env --devel my-blog
		assert_equal "$stderr" ""
		[ "${#lines[@]}" -gt 0 ]
		for l in "${lines[@]}"; do
			[[ $l =~ ^CONFIG_[A-Z0-9_]+= ]] || fail "sl-service-$s printed '$l'"
		done
		# no blank lines either (lines[] leaves them out)
		run -1 bash -c '"$1" env --devel my-blog | grep -c "^$"' _ "sl-service-$s"
		assert_output 0
	done
}

# The node side runs in the lab (tests/node/services.bats); here only what
# must not touch this machine's packages or servers.
@test "sl-service-* env APP (the node's side) reads the node's records" {
	export SL_ROOT=$BATS_TEST_TMPDIR/root
	run -0 sl-service-files env my-blog
	assert_output "CONFIG_FILES=$SL_ROOT/apps/my-blog/files"
	run -0 sl-service-writable_root env my-blog
	assert_output "CONFIG_WRITABLE_ROOT=$SL_ROOT/apps/my-blog/writable-root"
	for s in postgis postgresql; do
		run -100 "sl-service-$s" env my-blog
		assert_output "sl-service-$s: fatal: unable to read $SL_ROOT/apps/my-blog/pg.password (set the app up first): No such file or directory"
	done
}

@test "sl-service-redis env APP (the node's side): the app's socket and password, a unix:// URL" {
	export SL_ROOT=$BATS_TEST_TMPDIR/root
	run -100 sl-service-redis env my-blog
	assert_output "sl-service-redis: fatal: unable to read $SL_ROOT/apps/my-blog/redis.password (set the app up first): No such file or directory"
	mkdir -p "$SL_ROOT/apps/my-blog"
	echo 0123abcd > "$SL_ROOT/apps/my-blog/redis.password"
	run -0 --separate-stderr sl-service-redis env my-blog
	assert_equal "$stderr" ""
	assert_output "CONFIG_REDIS_SOCKET=/run/sl-redis/my-blog/redis.sock
CONFIG_REDIS_PASSWORD=0123abcd
CONFIG_REDIS_HOST=
CONFIG_REDIS_PORT=
CONFIG_REDIS_DB=0
CONFIG_REDIS_URL=unix://:0123abcd@/run/sl-redis/my-blog/redis.sock?db=0"
}

@test "sl-service-* node verbs run as root only" {
	[ "$(id -u)" -eq 0 ] || skip "setpriv needs root to become another user"
	local s
	for s in $SERVICES; do
		for v in install "setup my-blog" "clear my-blog" "backup my-blog /tmp" "restore my-blog /tmp"; do
			# shellcheck disable=SC2086
			run -100 setpriv --reuid=65534 --regid=65534 --clear-groups "$TOP/bin/sl-service-$s" $v
			assert_output "sl-service-$s: fatal: ${v%% *} runs as root on a node"
		done
	done
}

@test "sl-service-* setup of an app the node has no user for yet: exit 100" {
	[ "$(id -u)" -eq 0 ] || skip "setup runs as root; without root it stops before the user check"
	export SL_ROOT=$BATS_TEST_TMPDIR/root
	local s
	for s in $SERVICES; do
		run -100 "sl-service-$s" setup no-such-app-here
		assert_output "sl-service-$s: fatal: no-such-app-here has no user sl-no-such-app-here on this node yet (sl-activate makes it)"
	done
}

@test "sl-service-* with a bad app name: exit 100, whatever the verb" {
	local s n
	for s in $SERVICES; do
		for n in Blog 1blog my_blog '' 'a;touch pwned' '../x' "$(printf 'a%.0s' $(seq 1 32))"; do
			run -100 "sl-service-$s" env --devel "$n"
			assert_output "sl-service-$s: fatal: invalid app name '$n': want a lowercase letter, then up to 30 lowercase letters, digits or dashes"
			run -100 "sl-service-$s" env "$n"
			assert_output "sl-service-$s: fatal: invalid app name '$n': want a lowercase letter, then up to 30 lowercase letters, digits or dashes"
			run -100 "sl-service-$s" setup "$n"
			assert_output "sl-service-$s: fatal: invalid app name '$n': want a lowercase letter, then up to 30 lowercase letters, digits or dashes"
		done
	done
}

@test "sl-service-* with the wrong arguments: usage, exit 100" {
	local s args
	for s in $SERVICES; do
		for args in '' 'env' 'env --devel' 'env --devel my-blog extra' 'env my-blog extra' \
			'--devel env my-blog' 'install extra' 'setup' 'setup a b' 'backup my-blog' \
			'restore my-blog' 'clear' 'frobnicate my-blog' '--bogus'; do
			# shellcheck disable=SC2086
			run -100 "sl-service-$s" $args
			assert_output "sl-service-$s: usage: sl-service-$s install | setup APP | env [--devel] APP | backup APP DIR | check APP DIR | restore APP DIR | verify APP DIR | clear APP"
		done
	done
}
