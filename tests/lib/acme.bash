# silverlining — the lab's ACME CA, for the node suites (load after lab.bash).
#
# Debian's pebble (an ACME server for tests, RFC 8555) and
# pebble-challtestsrv (its DNS) listen on the lab's bridge address, NET.1
# (sl-node's bridge: make a node first), and nowhere else:
#
#   https://NET.1:14000/dir   pebble's ACME directory, over TLS with a
#                             certificate for NET.1 issued by the lab's CA
#                             (made here with openssl: ACME_CA)
#   https://NET.1:15000/      pebble's management: /roots/0 is the root
#                             that issues the certificates it hands out
#   NET.1:8053 (udp, tcp)     challtestsrv's DNS, pebble's resolver: an A
#                             record for each name acme_name gave it and
#                             nothing for any other name (no default
#                             address, no AAAA), so a name it does not
#                             know fails validation as a DNS error
#   http://NET.1:8055/        challtestsrv's management (/add-a)
#
# pebble validates HTTP-01 on port 80 of the address its DNS gives, the
# node's nginx, at once (PEBBLE_VA_NOSLEEP=1, not the default random
# wait of up to 15 s) and for real (no PEBBLE_VA_ALWAYS_VALID). Its
# refusal of 5% of good nonces is off (PEBBLE_WFE_NONCEREJECT=0): uacme
# retries a badNonce, order requests included, so pebble would log a
# second "POST /order-plz" for one order now and then, and the tests
# count orders exactly (acme_orders; a forced issuance counted 2 in one
# CI run). Nothing is given a fixed time: each wait is for a port to
# answer, bounded by a count of tries.
#
# Debian 12's pebble-challtestsrv (2.4) has no DNS-over-HTTPS server to
# turn off; its HTTP-01, HTTPS and TLS-ALPN-01 servers are off.
#
# After acme_up: ACME_IP, ACME_URL (the directory), ACME_CA (the lab CA's
# certificate, which the node must trust: acme_trust_node), ACME_LOG
# (pebble's log), all exported. pebble keeps everything in memory: a new
# pebble (acme_start after acme_stop) has a new root, and knows no
# account and no order of the one before.

ACME_PORT=14000 ACME_MGMT_PORT=15000 ACME_DNS_PORT=8053 ACME_DNS_MGMT_PORT=8055

# _acme_closefds: daemons must not hold the caller's descriptors (bats
# waits on fd 3 and on the test's output until every holder closes them)
_acme_closefds() {
	local fd
	for fd in $(ls "/proc/$BASHPID/fd"); do
		[ "$fd" -gt 2 ] && eval "exec $fd>&-"
	done
	return 0
}

# _acme_wait_port URL [CURL ARGS...]: until URL answers (at most 100 tries,
# 0.1 s apart: a daemon that has not answered by then has failed)
_acme_wait_port() {
	local url=$1 i
	shift
	for i in $(seq 100); do
		curl -s -o /dev/null --max-time 2 "$@" "$url" && return 0
		sleep 0.1
	done
	echo "acme: $url did not answer" >&2
	return 1
}

# _acme_spawn PIDFILE LOG [NAME=VALUE...] COMMAND...: COMMAND in the background,
# its descriptors closed, its stdin /dev/null, its output in LOG
_acme_spawn() {
	local pidfile=$1 log=$2
	shift 2
	(
		_acme_closefds
		exec env "$@" < /dev/null >> "$log" 2>&1
	) &
	echo $! > "$pidfile"
}

# _acme_kill PIDFILE: ends the process it names, and waits for it to go
_acme_kill() {
	local pid i
	pid=$(cat "$1" 2>/dev/null) || return 0
	rm -f "$1"
	kill "$pid" 2>/dev/null || return 0
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	return 0
}

# _acme_ca DIR IP: the lab's CA, and a certificate for IP it issued
# (pebble's listener), made once per DIR
_acme_ca() {
	local d=$1 ip=$2
	[ -s "$d/ca.pem" ] && return 0
	(
		set -e
		umask 077
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$d/ca.key" -out "$d/ca.pem" -days 7 \
			-subj "/CN=silverlining lab CA" \
			-addext basicConstraints=critical,CA:TRUE \
			-addext keyUsage=critical,keyCertSign,cRLSign
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$d/pebble.key" -out "$d/pebble.csr" -subj "/CN=$ip"
		printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' \
			"$ip" > "$d/pebble.ext"
		openssl x509 -req -in "$d/pebble.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
			-CAcreateserial -days 7 -extfile "$d/pebble.ext" -out "$d/pebble.pem"
		chmod 644 "$d/ca.pem"
	) > "$d/openssl.log" 2>&1 || { cat "$d/openssl.log" >&2; return 1; }
}

# acme_up [DIR [IP]]: the lab's ACME CA (pebble and its DNS) on IP,
# default the bridge's address; its files in DIR (default
# $BATS_FILE_TMPDIR/acme)
acme_up() {
	ACME_DIR=${1:-$BATS_FILE_TMPDIR/acme}
	ACME_IP=${2:-}
	if [ -z "$ACME_IP" ]; then
		ACME_IP=$(ip -4 -o addr show dev sl-br0 2>/dev/null | awk '{print $4; exit}')
		ACME_IP=${ACME_IP%/*}
	fi
	[ -n "$ACME_IP" ] || { echo "acme: no bridge sl-br0: make a node first" >&2; return 1; }
	ACME_URL=https://$ACME_IP:$ACME_PORT/dir
	ACME_CA=$ACME_DIR/ca.pem
	ACME_LOG=$ACME_DIR/pebble.log
	export ACME_DIR ACME_IP ACME_URL ACME_CA ACME_LOG
	mkdir -p "$ACME_DIR" && _acme_ca "$ACME_DIR" "$ACME_IP" || return 1
	if [ ! -s "$ACME_DIR/challtestsrv.pid" ]; then
		# its HTTP-01, TLS-ALPN-01 and HTTPS servers off: the nodes answer
		# the challenges; no default address, so an unknown name resolves
		# to nothing
		_acme_spawn "$ACME_DIR/challtestsrv.pid" "$ACME_DIR/challtestsrv.log" \
			pebble-challtestsrv -dns01 "$ACME_IP:$ACME_DNS_PORT" \
			-management "$ACME_IP:$ACME_DNS_MGMT_PORT" \
			-http01 "" -https01 "" -tlsalpn01 "" -defaultIPv4 "" -defaultIPv6 ""
		_acme_wait_port "http://$ACME_IP:$ACME_DNS_MGMT_PORT/" || return 1
	fi
	acme_start
}

# acme_start: pebble (again, after acme_stop)
acme_start() {
	[ -s "$ACME_DIR/pebble.pid" ] && return 0
	cat > "$ACME_DIR/pebble.json" <<-EOF
	{
	  "pebble": {
	    "listenAddress": "$ACME_IP:$ACME_PORT",
	    "managementListenAddress": "$ACME_IP:$ACME_MGMT_PORT",
	    "certificate": "$ACME_DIR/pebble.pem",
	    "privateKey": "$ACME_DIR/pebble.key",
	    "httpPort": 80,
	    "tlsPort": 443,
	    "ocspResponderURL": "",
	    "externalAccountBindingRequired": false
	  }
	}
	EOF
	echo "--- pebble starts" >> "$ACME_LOG"
	_acme_spawn "$ACME_DIR/pebble.pid" "$ACME_LOG" PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 \
		pebble -config "$ACME_DIR/pebble.json" -dnsserver "$ACME_IP:$ACME_DNS_PORT"
	_acme_wait_port "$ACME_URL" --cacert "$ACME_CA"
}

# acme_stop: pebble stops (its DNS stays): the CA is unreachable
acme_stop() {
	_acme_kill "$ACME_DIR/pebble.pid"
}

# acme_down: pebble and its DNS stop
acme_down() {
	[ -n "${ACME_DIR:-}" ] || return 0
	_acme_kill "$ACME_DIR/pebble.pid"
	_acme_kill "$ACME_DIR/challtestsrv.pid"
}

# acme_root FILE: the root that issues pebble's certificates (this
# pebble's: a new one after acme_stop/acme_start)
acme_root() {
	curl -sf --cacert "$ACME_CA" -o "$1" "https://$ACME_IP:$ACME_MGMT_PORT/roots/0"
}

# acme_name NAME IP: pebble's DNS answers NAME with IP
acme_name() {
	curl -sf -o /dev/null -X POST \
		-d "{\"host\":\"$1.\",\"addresses\":[\"$2\"]}" \
		"http://$ACME_IP:$ACME_DNS_MGMT_PORT/add-a"
}

# acme_trust_node: the node (NODE) trusts the lab's CA in its system
# store, as the users of an internal ACME CA do, so uacme (libcurl)
# accepts pebble's directory
acme_trust_node() {
	local out
	out=$(on sh -c 'cat > /usr/local/share/ca-certificates/silverlining-lab.crt &&
		update-ca-certificates 2>&1' < "$ACME_CA") || { echo "$out" >&2; return 1; }
}

# acme_orders: how many new orders pebble was sent, every pebble of
# ACME_DIR's (the lines of its log for its new-order endpoint)
acme_orders() {
	grep -c 'POST /order-plz' "$ACME_LOG"
}
