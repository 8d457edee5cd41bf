# silverlining — doc/BENCH.md B3's parts, for bench/failsafe and
# tests/node/failsafe.bats: the test app (bench/failsafe-app) on a
# provisioned node three ways behind its nginx, and one case run against
# one of them. Needs TOP, NODE (root@IP) and sl-remote on PATH.

FS_SERVERS="silverlining uwsgi gunicorn"
FS_CASES="mix loop spin deadlock segv leak slowup slowdown"

fs_on() { sl-remote "$NODE" "$@"; }

# fs_put FILE < TEXT: TEXT into FILE on the node (plain data, no secret)
fs_put() { fs_on sh -c "echo $(base64 -w0) | base64 -d > $1"; }

# fs_host SERVER: the host nginx serves SERVER's copy of the app at
fs_host() { echo "$1.bench"; }

# fs_deploy: the app deployed by silver update (silverlining's settings,
# its own; no pool key in its app.ini)
fs_deploy() {
	silver update --node "$NODE" "$TOP/bench/failsafe-app" "$(fs_host silverlining)"
}

# fs_others: the same app under Debian's stock uWSGI settings (the values
# of /usr/share/uwsgi/conf/default.ini: master, 2 workers, no harakiri,
# listen 100) and under gunicorn's defaults (1 sync worker, timeout 30),
# (python3-gunicorn has the module, no /usr/bin/gunicorn) each a unit of its own, behind the node's nginx with nginx's defaults
fs_others() {
	fs_on sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-gunicorn > /dev/null &&
		mkdir -p /srv/failsafe' || return
	fs_put /srv/failsafe/app.py < "$TOP/bench/failsafe-app/app.py"
	fs_put /srv/failsafe/uwsgi.ini <<-'INI'
	[uwsgi]
	autoload = true
	master = true
	workers = 2
	no-orphans = true
	socket = /run/bench-uwsgi/socket
	chmod-socket = 660
	log-date = true
	uid = www-data
	gid = www-data
	plugins = python3
	chdir = /srv/failsafe
	wsgi-file = app.py
	logto = /var/log/bench-uwsgi.log
	INI
	fs_put /etc/systemd/system/bench-uwsgi.service <<-'UNIT'
	[Service]
	RuntimeDirectory=bench-uwsgi
	RuntimeDirectoryMode=0775
	Group=www-data
	ExecStart=/usr/bin/uwsgi --ini /srv/failsafe/uwsgi.ini
	KillSignal=SIGINT
	UNIT
	fs_put /etc/systemd/system/bench-gunicorn.service <<-'UNIT'
	[Service]
	User=www-data
	Group=www-data
	RuntimeDirectory=bench-gunicorn
	ExecStart=/usr/bin/python3 -m gunicorn --bind unix:/run/bench-gunicorn/socket --chdir /srv/failsafe --error-logfile /var/log/bench-gunicorn.log app:application
	UNIT
	fs_put /etc/nginx/conf.d/bench-failsafe.conf <<-'NGINX'
	server {
		listen 80;
		server_name uwsgi.bench;
		location / {
			include uwsgi_params;
			uwsgi_pass unix:/run/bench-uwsgi/socket;
		}
	}
	server {
		listen 80;
		server_name gunicorn.bench;
		location / {
			proxy_set_header Host $host;
			proxy_pass http://unix:/run/bench-gunicorn/socket;
		}
	}
	NGINX
	fs_on sh -c 'touch /var/log/bench-gunicorn.log && chown www-data /var/log/bench-gunicorn.log &&
		systemctl daemon-reload && systemctl start bench-uwsgi bench-gunicorn && systemctl reload nginx'
}

# fs_unit SERVER: its systemd unit on the node
fs_unit() {
	case $1 in
	silverlining) fs_on systemctl list-units --all --plain --no-legend 'silverlining-instance@*.service' | awk 'NR == 1 {print $1}' ;;
	*) echo "bench-$1.service" ;;
	esac
}

# fs_log SERVER UNIT: its log file on the node
fs_log() {
	case $1 in
	silverlining) local inst=${2#silverlining-instance@}
		fs_on sed -n 's/^logto = //p' "/var/lib/silverlining/run/${inst%.service}/uwsgi.ini" ;;
	*) echo "/var/log/bench-$1.log" ;;
	esac
}

# fs_case SERVER CASE SECONDS RATE DIR: SERVER restarted, then SECONDS of
# load at RATE to /ok, one request in a hundred to CASE's bad route
# (none for mix: a hundredth each to /cpu /big /io /slow /upload in turn
# is too few; mix sends 1 % to /slow); prints "SERVER CASE OK% P50 P99
# RESTARTS PEAK_MIB MEAN_MIB", the requests' record in DIR
fs_case() {
	local server=$1 case=$2 secs=$3 rate=$4 dir=$5 unit log before host bad
	host=$(fs_host "$server")
	unit=$(fs_unit "$server")
	log=$(fs_log "$server" "$unit")
	case $case in
	mix) bad=/slow ;; loop|spin|deadlock|segv|leak) bad=/$case ;; *) bad=$case ;;
	esac
	fs_on systemctl restart "$unit" || return
	local up=
	for _ in $(seq 100); do
		up=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $host" "http://${NODE#root@}/ok")
		[ "$up" = 200 ] && break
		sleep 0.2
	done
	[ "$up" = 200 ] || { echo "$server does not answer /ok ($up):" >&2
		fs_on sh -c "systemctl status --no-pager -l $unit; tail $log" >&2; return 1; }
	before=$(fs_on sh -c "wc -l < $log")
	# the memory of the unit's processes (the sum of their Pss: the lab's
	# nodes have no memory controller of their own), sampled every 0.5 s
	fs_put /root/bench-sampler <<-EOF
	cg=\$(systemctl show -p ControlGroup --value $unit)
	while :; do
		procs=/sys/fs/cgroup/systemd\$cg/cgroup.procs
		[ -e \$procs ] || procs=/sys/fs/cgroup\$cg/cgroup.procs
		for p in \$(cat \$procs 2>/dev/null); do
			sed -n 's/^Pss: *\\([0-9]*\\) kB/\\1/p' /proc/\$p/smaps_rollup 2>/dev/null
		done | awk '{ s += \$1 } END { print s * 1024 }' >> /root/memory.samples
		sleep 0.5
	done
	EOF
	fs_on sh -c 'rm -f /root/memory.samples' &&
		fs_on systemd-run --quiet --collect --unit=bench-sampler sh /root/bench-sampler || return
	rm -f "$dir/stop"
	"$TOP/bench/load" --bad "$bad" --record "$dir/$server.$case" \
		"http://${NODE#root@}/ok" "$host" "$rate" "$dir/stop" "$secs" > /dev/null
	fs_on systemctl stop bench-sampler 2>/dev/null
	local restarts
	restarts=$(fs_on sh -c "tail -n +$((before + 1)) $log" |
		grep -c -E 'Respawned uWSGI worker|Booting worker with pid') || true
	fs_on cat /root/memory.samples 2>/dev/null | python3 -c '
import sys, statistics
server, case, restarts, record = sys.argv[1:]
mem = [int(x) for x in sys.stdin.read().split()]
lat, ok = [], 0
for line in open(record):
    t, what, status, secs = line.split()
    if what != "/ok":
        continue
    lat.append(float(secs))
    ok += status == "200"
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")
peak = max(mem) / 2**20 if mem else float("nan")
mean = statistics.mean(mem) / 2**20 if mem else float("nan")
print(f"{server} {case} {100 * ok / max(1, len(lat)):.2f} {q(0.5):.3f} {q(0.99):.3f} {restarts} {peak:.0f} {mean:.0f}")
' "$server" "$case" "$restarts" "$dir/$server.$case"
}
