# silverlining — Debian's pebble (a test ACME CA) and its pebble-challtestsrv
# (the CA's DNS), run by a test on one address: `load ../lib/pebble`.
#
# pebble_start DIR ADDR: a test CA of the test's own (openssl) signs
# pebble's TLS certificate for ADDR; pebble listens on ADDR:14000 (ACME)
# and ADDR:15000 (management), validates HTTP-01 on port 80 with no
# sleeps and no rejected nonces, and asks challtestsrv (ADDR:8053, its
# management on ADDR:8055) for DNS, which knows no name until
# pebble_dns adds it. DIR/ca.pem is what trusts pebble's directory
# (DIR/trust/ holds it as a system store's ca-certificates.crt);
# DIR/pebble.log its log. pebble_stop kills both by PID.
# pebble_root DIR ADDR > FILE: the root of what pebble issues.

pebble_start() {
	local dir=$1 addr=$2 cfg
	mkdir -p "$dir/trust"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=sl test CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null || return 1
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=pebble" \
		-keyout "$dir/pebble.key" -out "$dir/pebble.csr" 2>/dev/null || return 1
	printf 'subjectAltName = IP:%s, DNS:localhost\n' "$addr" > "$dir/ext"
	openssl x509 -req -in "$dir/pebble.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
		-CAcreateserial -days 2 -extfile "$dir/ext" -out "$dir/pebble.pem" 2>/dev/null || return 1
	cp "$dir/ca.pem" "$dir/trust/ca-certificates.crt"
	cfg=$dir/pebble.json
	cat > "$cfg" <<JSON
{"pebble": {"listenAddress": "$addr:14000", "managementListenAddress": "$addr:15000",
 "certificate": "$dir/pebble.pem", "privateKey": "$dir/pebble.key",
 "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "",
 "externalAccountBindingRequired": false}}
JSON
	pebble-challtestsrv -defaultIPv4 "" -defaultIPv6 "" -dns01 "$addr:8053" -http01 "" \
		-https01 "" -tlsalpn01 "" -management "$addr:8055" \
		> "$dir/challtestsrv.log" 2>&1 3>&- &
	echo $! > "$dir/challtestsrv.pid"
	PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
		pebble -config "$cfg" -dnsserver "$addr:8053" > "$dir/pebble.log" 2>&1 3>&- &
	echo $! > "$dir/pebble.pid"
	# until both answer (each a bounded wait for a daemon's start, not a timing)
	for _ in $(seq 200); do
		curl -sf --cacert "$dir/ca.pem" "https://$addr:14000/dir" >/dev/null &&
			curl -sf -o /dev/null "http://$addr:8055/" -d '{}' -X POST 2>/dev/null; \
			[ $? -ne 7 ] && curl -sf --cacert "$dir/ca.pem" "https://$addr:14000/dir" \
			>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# pebble_dns DIR ADDR NAME IP: challtestsrv answers NAME's A query with IP.
pebble_dns() {
	curl -sf -X POST -d "{\"host\":\"$3.\",\"addresses\":[\"$4\"]}" "http://$2:8055/add-a"
}

pebble_root() {
	curl -sf --cacert "$1/ca.pem" "https://$2:15000/roots/0"
}

# pebble_stop DIR [pebble|challtestsrv]: kills them (or the one named) by PID.
pebble_stop() {
	local dir=$1 d pid
	for d in ${2:-pebble challtestsrv}; do
		pid=$(cat "$dir/$d.pid" 2>/dev/null) || continue
		kill "$pid" 2>/dev/null
		while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
		rm -f "$dir/$d.pid"
	done
}
