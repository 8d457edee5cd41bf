# silverlining — tests: a service node's record as the unit suites write
# it (the format libsl/dbrecord.h reads): three made-up secrets of 64 hex
# digits, and sections carrying the test certificate. Loaded after common.

A=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
B=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
C=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
DBRECORD_PEM=$TOP/tests/unit/data/dbrecord-cert.pem

# record_cert: the test certificate as a record's cert key and its
# continuation lines
record_cert() {
	sed '1s/^/cert = /; 2,$s/^/       /' "$DBRECORD_PEM"
}

# record_section KIND HOST [SEED [PASSWORD [CLIENTS]]]: a record's section
# of KIND (postgresql: port 5432 and a replication password, $B; mysql:
# 3306); SEED defaults to $C, PASSWORD to $A, CLIENTS to 10.231.0.2
record_section() {
	printf '%s\n' "[$1]" "host = $2" "port = $([ "$1" = postgresql ] && echo 5432 || echo 3306)" \
		'admin = silverlining' "password = ${4:-$A}"
	[ "$1" != postgresql ] || echo "replication = $B"
	printf '%s\n' "seed = ${3:-$C}" "clients = ${5:-10.231.0.2}"
	record_cert
}
