#!/usr/bin/env bats
# sl-cert and libsl/tls: the node's certificate store. Every certificate is
# made here by openssl: a root, an intermediate, and leaves it signs.
bats_require_minimum_version 1.5.0

load ../lib/common

setup() {
	common_setup
	export SL_ROOT=$BATS_TEST_TMPDIR/root
	mkdir -p "$SL_ROOT"
	T=${SL_TEST_BUILD:-$TOP/build}/tests/tls-test
	C=$BATS_TEST_TMPDIR/ca
	mkdir -p "$C/new"
	: > "$C/index.txt"
	echo 1000 > "$C/serial"
	cat > "$C/ca.cnf" <<-CNF
	[ca]
	default_ca = ca
	[ca]
	database = $C/index.txt
	serial = $C/serial
	new_certs_dir = $C/new
	default_md = sha256
	policy = any
	unique_subject = no
	copy_extensions = none
	[any]
	commonName = supplied
	[v3_ca]
	basicConstraints = critical,CA:TRUE
	keyUsage = critical,keyCertSign,cRLSign
	CNF
	ec_key "$C/root.key"
	openssl req -x509 -new -key "$C/root.key" -subj "/CN=test root" -days 30 \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		-out "$C/root.pem" 2>/dev/null
	ec_key "$C/int.key"
	openssl req -new -key "$C/int.key" -subj "/CN=test intermediate" -out "$C/int.csr" 2>/dev/null
	openssl ca -batch -config "$C/ca.cnf" -cert "$C/root.pem" -keyfile "$C/root.key" \
		-extensions v3_ca -days 30 -notext -in "$C/int.csr" -out "$C/int.pem" 2>/dev/null
}

ec_key() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

# leaf NAME SAN [openssl ca date options]: NAME.key and NAME.pem, signed by
# the intermediate (SAN "" for none)
leaf() {
	local name=$1 san=$2
	shift 2
	[ $# -gt 0 ] || set -- -days 20
	ec_key "$C/$name.key"
	openssl req -new -key "$C/$name.key" -subj "/CN=$name" -out "$C/$name.csr" 2>/dev/null
	if [ -n "$san" ]; then
		printf 'subjectAltName = %s\n' "$san" > "$C/$name.ext"
	else
		printf 'basicConstraints = CA:FALSE\n' > "$C/$name.ext"
	fi
	openssl ca -batch -config "$C/ca.cnf" -cert "$C/int.pem" -keyfile "$C/int.key" \
		-extfile "$C/$name.ext" -notext -in "$C/$name.csr" -out "$C/$name.pem" \
		"$@" 2>/dev/null
}

# routes LINES...: the node's route table
routes() {
	printf '%s\n' "$@" > "$SL_ROOT/routes"
}

@test "install: a chain and its key on stdin are stored 0600 in 0700 directories, listed, and the live link of an https-routed host points at it" {
	leaf www 'DNS:www.example.com, DNS:*.example.com'
	routes "www.example.com / blog.2024-01-01_001 https" "other.test / blog.2024-01-01_001 https"
	run -0 --separate-stderr sl-cert install < <(cat "$C/www.pem" "$C/int.pem" "$C/www.key")
	assert_output --regexp '^user-www\.example\.com www\.example\.com,\*\.example\.com expires=[0-9]{4}-[0-9]{2}-[0-9]{2}$'
	f=$SL_ROOT/tls/certs/user-www.example.com.pem
	[ "$(stat -c %a "$f")" = 600 ]
	for d in tls tls/certs tls/live tls/state; do
		[ "$(stat -c %a "$SL_ROOT/$d")" = 700 ]
	done
	# the chain leaf first, then the key, in one file
	[ "$(grep -c 'BEGIN CERTIFICATE' "$f")" = 2 ]
	[ "$(sed -n '1p' "$f")" = "-----BEGIN CERTIFICATE-----" ]
	[ "$(grep -n 'PRIVATE KEY-----' "$f" | head -1 | cut -d: -f1)" -gt "$(grep -n 'END CERTIFICATE' "$f" | tail -1 | cut -d: -f1)" ]
	cmp <(openssl x509 -in "$f" -noout -fingerprint) <(openssl x509 -in "$C/www.pem" -noout -fingerprint)
	[ "$(readlink "$SL_ROOT/tls/live/www.example.com.pem")" = ../certs/user-www.example.com.pem ]
	[ ! -e "$SL_ROOT/tls/live/other.test.pem" ]
	run -0 sl-cert list
	assert_output --regexp '^user-www\.example\.com user expires=[0-9-]{10} www\.example\.com,\*\.example\.com$'
	run -0 sl-cert status
	assert_line --regexp '^tls www\.example\.com user-www\.example\.com user expires=[0-9-]{10} renewal=ok$'
	assert_line 'tls other.test none'
}

@test "install: the blocks in any order, and a key in the traditional EC form, are taken" {
	leaf a 'DNS:a.test'
	openssl ec -in "$C/a.key" -out "$C/a.trad" 2>/dev/null
	grep -q 'BEGIN EC PRIVATE KEY' "$C/a.trad"
	run -0 sl-cert install < <(cat "$C/a.trad" "$C/a.pem" "$C/int.pem")
	assert_output --partial 'user-a.test a.test expires='
}

@test "install: refused with the reason and 100, nothing stored: a key of another leaf, an expired leaf, a chain out of order, no DNS name, garbage, no key" {
	leaf a 'DNS:a.test'
	leaf b 'DNS:b.test'
	leaf old 'DNS:old.test' -startdate 20200101000000Z -enddate 20200201000000Z
	leaf nodns ''
	run -100 sl-cert install < <(cat "$C/a.pem" "$C/int.pem" "$C/b.key")
	assert_output 'sl-cert: fatal: the private key does not match the first certificate'
	run -100 sl-cert install < <(cat "$C/old.pem" "$C/int.pem" "$C/old.key")
	assert_output 'sl-cert: fatal: the certificate has expired'
	run -100 sl-cert install < <(cat "$C/a.pem" "$C/root.pem" "$C/int.pem" "$C/a.key")
	assert_output --partial 'sl-cert: fatal: certificate 2 did not issue certificate 1'
	run -100 sl-cert install < <(cat "$C/int.pem" "$C/a.pem" "$C/a.key")
	assert_output 'sl-cert: fatal: the private key does not match the first certificate'
	run -100 sl-cert install < <(cat "$C/nodns.pem" "$C/nodns.key")
	assert_output 'sl-cert: fatal: the certificate names no DNS name (subjectAltName)'
	run -100 sl-cert install <<< 'hello, not a certificate'
	assert_output 'sl-cert: fatal: no certificate in the PEM text'
	run -100 sl-cert install < <(printf -- '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')
	assert_output 'sl-cert: fatal: a CERTIFICATE block is not a certificate'
	run -100 sl-cert install < "$C/a.pem"
	assert_output 'sl-cert: fatal: no private key in the PEM text'
	run -100 sl-cert install < <(cat "$C/a.pem" "$C/a.key" "$C/b.key")
	assert_output 'sl-cert: fatal: more than one private key'
	run -0 sl-cert list
	assert_output ''
}

@test "install: a certificate whose names would be paths is refused (100), and nothing is written outside the store" {
	leaf dots 'DNS:../../../etc/evil.test'
	leaf slash 'DNS:a.test/../../evil.test'
	leaf mixed 'DNS:good.test,DNS:..'
	for n in dots slash mixed; do
		run -100 sl-cert install < <(cat "$C/$n.pem" "$C/int.pem" "$C/$n.key")
		assert_output --regexp "^sl-cert: fatal: the certificate names '[^']*', not a DNS name"
	done
	run -0 sl-cert list
	assert_output ''
	run -0 find "$SL_ROOT" -name '*evil*'
	assert_output ''
	[ ! -e "$SL_ROOT/../etc/evil.test" ] && [ ! -e /etc/evil.test ]
}

@test "install: the key never in argv, nor in the process list, nor readable by others" {
	leaf a 'DNS:a.test'
	key=$(sed -n '2p' "$C/a.key")
	# the only way in is stdin: a file name is refused as a usage error
	run -100 sl-cert install "$C/a.key"
	assert_output --partial 'usage:'
	mkfifo "$BATS_TEST_TMPDIR/in"
	sl-cert install < "$BATS_TEST_TMPDIR/in" > "$BATS_TEST_TMPDIR/out" &
	pid=$!
	exec 4> "$BATS_TEST_TMPDIR/in"
	cat "$C/a.pem" >&4
	# while it waits for the rest, no process's argv holds the key
	! grep -qF -- "$key" /proc/[0-9]*/cmdline
	cat "$C/a.key" >&4
	exec 4>&-
	wait "$pid"
	grep -q '^user-a.test ' "$BATS_TEST_TMPDIR/out"
	[ -z "$(find "$SL_ROOT/tls" -perm /077 ! -type l)" ]
}

@test "certificates serve hosts by their names: exact, *.PARENT one label down, .example.com with both names; never * or not-found" {
	run -0 "$T" covers www.example.com www.example.com
	assert_output 1
	run -0 "$T" covers WWW.Example.COM www.example.com
	assert_output 1
	run -0 "$T" covers www.example.com '*.example.com'
	assert_output 1
	run -0 "$T" covers a.b.example.com '*.example.com'
	assert_output 0
	run -0 "$T" covers example.com '*.example.com'
	assert_output 0
	run -0 "$T" covers .example.com '*.example.com'
	assert_output 0
	run -0 "$T" covers .example.com example.com
	assert_output 0
	run -0 "$T" covers .example.com example.com '*.example.com'
	assert_output 1
	run -0 "$T" covers '*' '*.example.com' example.com
	assert_output 0
	run -0 "$T" covers not-found not-found
	assert_output 0
}

@test "a user's certificate wins over the ACME one; the one valid longest among users; .example.com takes a wildcard pair" {
	leaf short 'DNS:www.example.com' -days 5
	leaf long 'DNS:*.example.com, DNS:example.com' -days 20
	routes ".example.com / blog.2024-01-01_001 https" "www.example.com / blog.2024-01-01_001 https"
	run -0 sl-cert install < <(cat "$C/short.pem" "$C/int.pem" "$C/short.key")
	[ "$(readlink "$SL_ROOT/tls/live/www.example.com.pem")" = ../certs/user-www.example.com.pem ]
	[ ! -e "$SL_ROOT/tls/live/_.example.com.pem" ]
	run -0 sl-cert install < <(cat "$C/long.pem" "$C/int.pem" "$C/long.key")
	assert_output --partial 'user-_.example.com _.example.com' || assert_output --partial 'user-_.example.com *.example.com,example.com'
	[ "$(readlink "$SL_ROOT/tls/live/www.example.com.pem")" = ../certs/user-_.example.com.pem ]
	[ "$(readlink "$SL_ROOT/tls/live/_.example.com.pem")" = ../certs/user-_.example.com.pem ]
}

@test "remove: refused (100) while it alone serves an https-routed host; then it goes with its links; 1 for none" {
	leaf a 'DNS:a.test'
	routes "a.test / blog.2024-01-01_001 https"
	run -0 sl-cert install < <(cat "$C/a.pem" "$C/int.pem" "$C/a.key")
	run -100 sl-cert remove user-a.test
	assert_output 'sl-cert: fatal: user-a.test is the only certificate serving a.test, routed over https: install another or route it over http first'
	[ -e "$SL_ROOT/tls/certs/user-a.test.pem" ]
	routes "a.test / blog.2024-01-01_001"
	run -0 sl-cert remove user-a.test
	[ ! -e "$SL_ROOT/tls/certs/user-a.test.pem" ]
	[ ! -L "$SL_ROOT/tls/live/a.test.pem" ]
	run -1 sl-cert remove user-a.test
	assert_output 'sl-cert: fatal: no certificate user-a.test a user installed'
	run -1 sl-cert remove ../../etc
}

@test "the renewal window: due with a third of the lifetime left, at most 30 days" {
	d=86400
	# 90 days: due with 30 days left
	run -0 "$T" due 0 $((90 * d)) $((60 * d - 1)); assert_output 0
	run -0 "$T" due 0 $((90 * d)) $((60 * d + 1)); assert_output 1
	# 6 days: due with 2 days left
	run -0 "$T" due 0 $((6 * d)) $((4 * d - 1)); assert_output 0
	run -0 "$T" due 0 $((6 * d)) $((4 * d + 1)); assert_output 1
	# 5 years: 30 days
	run -0 "$T" due 0 $((1825 * d)) $((1795 * d - 1)); assert_output 0
	run -0 "$T" due 0 $((1825 * d)) $((1795 * d + 1)); assert_output 1
}

@test "the back-off: 1, 2, 4 ... hours after the last failure, at most 24; none without failures" {
	run -0 "$T" try-at 1000 0; assert_output 0
	run -0 "$T" try-at 1000 1; assert_output 4600
	run -0 "$T" try-at 1000 2; assert_output 8200
	run -0 "$T" try-at 1000 3; assert_output 15400
	run -0 "$T" try-at 1000 5; assert_output $((1000 + 16 * 3600))
	run -0 "$T" try-at 1000 6; assert_output $((1000 + 24 * 3600))
	run -0 "$T" try-at 1000 40; assert_output $((1000 + 24 * 3600))
}

@test "issue: * and not-found take no certificate, .example.com needs one installed (100)" {
	run -100 sl-cert issue '*'
	assert_output 'sl-cert: fatal: * takes no certificate: give https://HOST for each host, or https://.example.com with a certificate you install'
	run -100 sl-cert issue .example.com
	assert_output 'sl-cert: fatal: .example.com needs a certificate naming example.com and *.example.com, which HTTP-01 cannot prove: install one (silver install-cert)'
	run -100 sl-cert issue --acme-directory http://ca.test/dir a.test
	assert_output "sl-cert: fatal: 'http://ca.test/dir' is not an https:// URL of an ACME directory"
	run -100 sl-cert issue --acme-email 'not an address' a.test
	assert_output "sl-cert: fatal: 'not an address' is not an e-mail address"
	run -100 sl-cert list --force
}

@test "the hook: an http-01 answer written 0644 under ROOT/acme/challenge, removed when done; other types declined; a bad token refused" {
	run -0 sl-cert begin http-01 a.test Tok_en-1 Tok_en-1.thumb
	[ "$(cat "$SL_ROOT/acme/challenge/Tok_en-1")" = Tok_en-1.thumb ]
	[ "$(stat -c %a "$SL_ROOT/acme/challenge/Tok_en-1")" = 644 ]
	[ "$(stat -c %a "$SL_ROOT/acme/challenge")" = 755 ]
	run -0 sl-cert --hook done http-01 a.test Tok_en-1 Tok_en-1.thumb
	[ ! -e "$SL_ROOT/acme/challenge/Tok_en-1" ]
	run -1 sl-cert begin dns-01 a.test tok digest
	run -100 sl-cert begin http-01 a.test ../x auth
	assert_output "sl-cert: fatal: '../x' is not an ACME token"
	[ ! -e "$SL_ROOT/acme/x" ]
}
