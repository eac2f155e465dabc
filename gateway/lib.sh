# shellcheck shell=sh disable=SC2034,SC3043 # sourced: the scripts use these;
# local is in dash, bash and busybox sh
# Shared by the gateway scripts (sourced, POSIX sh): paths, configuration,
# logging, addresses. Nothing here changes the system on its own.

# Every path lives under LINKGATE_ROOT, so tests and the demo run a whole
# gateway in a temporary folder; a real install has an empty root.
ROOT=${LINKGATE_ROOT:-}
CONF_DIR=$ROOT/etc/linkgate
CONF_FILE=$CONF_DIR/gateway.conf
STATE=$ROOT/var/lib/linkgate
LINKS=$STATE/links
KEYDIR=$STATE/keys
TMP_DIR=$STATE/tmp
NGINX_DIR=$STATE/nginx
RUN_DIR=$ROOT/run/linkgate
LOG_DIR=$ROOT/var/log/linkgate
LOCK=$STATE/gateway.lock
# Health: one KEY=value file per link (linkgate health), its lock, and the
# last reconcile's figures for the metrics.
HEALTH=$STATE/health
HEALTH_LOCK=$STATE/health.lock
RECONCILE_STATS=$RUN_DIR/reconcile.stats
# Route files routes.js reads (nginx's workers run as nobody: every folder
# above must let others through, as /run does).
ROUTES=$RUN_DIR/routes
HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
# The C helpers: HELPERS in gateway.conf (read by conf_load; the tests
# point it at the AddressSanitizer build, which an environment variable
# could not pass through sshd's forced command), else the build folder.
BUILD=$HERE/../build
TEMPLATES=$HERE/../templates
PROG=${PROG:-$(basename "$0")}

# die MESSAGE: "linkgate: MESSAGE" on stderr, exit 1. stderr, never only
# the log: the log may be on the disk that just filled up.
die() {
	echo "$PROG: $*" >&2
	exit 1
}

# die_code CODE MESSAGE: exit with one of the documented codes.
die_code() {
	local code="$1"
	shift
	echo "$PROG: $*" >&2
	exit "$code"
}

# log LINE: appends to the gateway log if it can; a log that cannot be
# written (full or read-only disk) never stops or hides anything.
log() {
	if [ -d "$LOG_DIR" ]; then
		{ echo "$*" >>"$LOG_DIR/gateway.log"; } 2>/dev/null || :
	fi
}

# cmd COMMAND...: the one wrapper for every command that changes the
# system. Logs "[#] command" (to stderr too with LINKGATE_VERBOSE=1); a
# failure is reported on stderr with the command and, in a link's work,
# the link's name (LINK).
cmd() {
	local rc=0
	if [ "${LINKGATE_VERBOSE:-0}" = 1 ]; then echo "[#] $*" >&2; fi
	log "[#] $*"
	"$@" || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "$PROG: ${LINK:+$LINK: }'$*' failed (status $rc)" >&2
	fi
	step
	return "$rc"
}

# try COMMAND...: cmd for a command whose failure is expected and handled
# by the caller (cleanup of what may not exist): logged, never reported.
try() {
	local rc=0
	if [ "${LINKGATE_VERBOSE:-0}" = 1 ]; then echo "[#] $*" >&2; fi
	log "[#] $*"
	"$@" || rc=$?
	step
	return "$rc"
}

# step: marks the end of one step of a change. For the crash tests only:
# with LINKGATE_KILL_AFTER=N the command SIGKILLs itself right after its
# Nth step (counted in $RUN_DIR/kill-steps), as a crash there would. In a
# worker of make gateway (LINKGATE_TOP: the pid of the command, workers
# in a process group of their own) the command and every worker go.
step() {
	local steps
	[ -n "${LINKGATE_KILL_AFTER:-}" ] || return 0
	steps=$(($(cat "$RUN_DIR/kill-steps" 2>/dev/null || echo 0) + 1))
	echo "$steps" >"$RUN_DIR/kill-steps"
	[ "$steps" -ge "$LINKGATE_KILL_AFTER" ] || return 0
	if [ -n "${LINKGATE_TOP:-}" ]; then
		kill -9 "$LINKGATE_TOP"
		kill -9 0
	fi
	kill -9 "$$"
}

# Defaults, then gateway.conf (KEY=value lines, read, never sourced).
PREFIX=lg
PORTS=
PUBLIC_HOST=
VETH_POOL=198.18.0.0/16
TUNNEL_POOL=198.19.0.0/16
# The links' IPv6 addresses: a /48 (by default a random unique local one,
# RFC 4193, picked by setup or the first make gateway and kept in
# gateway.conf), one /64 a link from its index (v6_addrs).
IPV6_POOL=
FWMARK=0x4c47
TABLE=4747
HTTP_PORT=80
HTTPS_PORT=443
AUTHORIZED_KEYS=
# Go's memory settings for each link's wireguard-go (where the kernel has
# no WireGuard). A soft limit, not GOGC: make bench's table (README) with
# wireguard-go 0.0.20231211 gave, after one bulk stream, ~2.7 Gbit/s and
# ~220 MiB of RSS by default, ~2.5 Gbit/s and ~107 MiB with 128MiB, and
# 0.8 Gbit/s with the former GOMEMLIMIT=32MiB GOGC=50. Go's defaults are
# GOMEMLIMIT=off and GOGC=100.
WG_GOMEMLIMIT=128MiB
WG_GOGC=100
# The processors (Go's GOMAXPROCS) each link's wireguard-go runs Go code
# on at once; off: Go's default, every CPU. One: a gateway runs one
# wireguard-go per link, so links already spread over the CPUs, and with
# more than one, Go hands each packet between threads that sleep and wake
# (futex, epoll, nanosleep), which cost the tunnel about as much CPU as
# the packets themselves. Measured on 2 cores (README, Performance): 81-85
# instead of 122-128 CPU microseconds a HTTPS request in the gateway's
# wireguard-go; one link's bulk download is then bound to one CPU's
# crypto (raw iperf3 1.6-1.9 instead of 2.4-2.7 Gbit/s).
WG_GOMAXPROCS=1
HELPERS=
# The most links the gateway holds: nginx declares one upstream block per
# link index at its start (README, Limits: at 1,024 nginx -t takes ~0.06 s
# and nginx ~60 MB; at 16,383, the default pools' size, ~4.5 s and
# ~600 MB).
MAX_LINKS=1024
# Concurrent connections per link (nginx to the link, :80 and :443
# together, counted in the link namespace's firewall) and per visitor
# address (on :80 and on :443 each, in nginx).
LINK_CONNS=1024
VISITOR_CONNS=256
# Health checks (linkgate health, run by linkgate-health.timer every
# HEALTH_INTERVAL seconds): at most HEALTH_JOBS links probed at once (by
# one probe helper: a socket each, so the bound is the file limit's, not
# the CPU's), each step (the health path, then the TLS handshake) given
# HEALTH_TIMEOUT seconds. A round of N links whose homes all went down in
# the last 3 minutes waits about ceil(N / HEALTH_JOBS) * HEALTH_TIMEOUT
# (1,000 links: 2 s); homes down for longer cost no probe (see
# health_check).
HEALTH_INTERVAL=30
HEALTH_JOBS=1024
HEALTH_TIMEOUT=2
# The textfile of node_exporter's textfile collector (Debian's
# prometheus-node-exporter reads /var/lib/prometheus/node-exporter); off:
# none.
METRICS_DIR=
# 1: nginx logs every visitor request and connection (access.log) and its
# errors with the visitor's address; 0 (default): nothing of visitors is
# stored.
ACCESS_LOG=0
# status warns about a link this long before it expires (a duration, as
# make link's EXPIRES).
EXPIRY_WARN=7d
# After add --replace, the old client key keeps the link this long, or
# until the new key shakes hands (replace_locked).
KEY_GRACE=5m
# Public ports no link may publish as a raw port, beside HTTP_PORT,
# HTTPS_PORT and the WireGuard range (PORTS): the ssh port, and any other
# the gateway host serves itself. Comma-separated.
PUBLISH_RESERVED=22
# Fixed, not settings. Each nginx worker may hold this many connections
# (a proxied one takes two), with this many + 1024 open files (the unit's
# LimitNOFILE is above it); ~7 MB a worker. A link's whole cap takes 2,048.
WORKER_CONNECTIONS=16384
# A stream with nothing sent either way for this long is closed.
IDLE_TIMEOUT=1h
# After a reload (gateway settings only), old workers finish their
# connections for up to this long.
SHUTDOWN_TIMEOUT=24h

conf_load() {
	local line key value
	[ -f "$CONF_FILE" ] || { conf_check; return 0; }
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in '' | '#'*) continue ;; esac
		key=${line%%=*}
		value=${line#*=}
		case $key in
		PREFIX) PREFIX=$value ;;
		PORTS) PORTS=$value ;;
		PUBLIC_HOST) PUBLIC_HOST=$value ;;
		VETH_POOL) VETH_POOL=$value ;;
		TUNNEL_POOL) TUNNEL_POOL=$value ;;
		IPV6_POOL) IPV6_POOL=$value ;;
		FWMARK) FWMARK=$value ;;
		TABLE) TABLE=$value ;;
		HTTP_PORT) HTTP_PORT=$value ;;
		HTTPS_PORT) HTTPS_PORT=$value ;;
		AUTHORIZED_KEYS) AUTHORIZED_KEYS=$value ;;
		WG_GOMEMLIMIT) WG_GOMEMLIMIT=$value ;;
		WG_GOGC) WG_GOGC=$value ;;
		WG_GOMAXPROCS) WG_GOMAXPROCS=$value ;;
		HELPERS) HELPERS=$value ;;
		MAX_LINKS) MAX_LINKS=$value ;;
		LINK_CONNS) LINK_CONNS=$value ;;
		VISITOR_CONNS) VISITOR_CONNS=$value ;;
		HEALTH_INTERVAL) HEALTH_INTERVAL=$value ;;
		HEALTH_JOBS) HEALTH_JOBS=$value ;;
		HEALTH_TIMEOUT) HEALTH_TIMEOUT=$value ;;
		METRICS_DIR) METRICS_DIR=$value ;;
		ACCESS_LOG) ACCESS_LOG=$value ;;
		EXPIRY_WARN) EXPIRY_WARN=$value ;;
		KEY_GRACE) KEY_GRACE=$value ;;
		PUBLISH_RESERVED) PUBLISH_RESERVED=$value ;;
		*) die "$CONF_FILE: unknown setting '$key'" ;;
		esac
	done <"$CONF_FILE"
	conf_check
}

conf_check() {
	local n
	case $HELPERS in
	'') ;;
	/*[!A-Za-z0-9/._-]* | [!/]*) die "bad HELPERS '$HELPERS': an absolute path" ;;
	*)
		[ -x "$HELPERS/record" ] || die "HELPERS '$HELPERS': no helpers there"
		BUILD=$HELPERS
		;;
	esac
	case $PREFIX in
	'' | *[!a-z0-9]*) die "bad PREFIX '$PREFIX': 1-6 of a-z, 0-9" ;;
	esac
	[ ${#PREFIX} -le 6 ] || die "bad PREFIX '$PREFIX': 1-6 of a-z, 0-9"
	case $PORTS in
	'') ;;
	*[!0-9-]* | -* | *- | *-*-*) die "bad PORTS '$PORTS': LOW-HIGH" ;;
	*-*) ;;
	*) die "bad PORTS '$PORTS': LOW-HIGH" ;;
	esac
	# A name, IPv4, or IPv6 with or without brackets (kept canonical).
	if [ -n "$PUBLIC_HOST" ]; then
		n=$(endpoint_host_norm "$PUBLIC_HOST") ||
			die "bad PUBLIC_HOST '$PUBLIC_HOST' in $CONF_FILE: $n"
		PUBLIC_HOST=$n
	fi
	pool_check "$VETH_POOL" VETH_POOL
	pool_check "$TUNNEL_POOL" TUNNEL_POOL
	pool6_check
	case $FWMARK in
	0x[0-9a-f]* | [1-9]*) ;;
	*) die "bad FWMARK '$FWMARK'" ;;
	esac
	case $FWMARK in 0x*[!0-9a-f]* | [1-9]*[!0-9]*) die "bad FWMARK '$FWMARK'" ;; esac
	for n in "$TABLE" "$HTTP_PORT" "$HTTPS_PORT"; do
		case $n in '' | *[!0-9]* | 0*) die "bad number '$n' in settings" ;; esac
	done
	case $AUTHORIZED_KEYS in
	'' | /*) ;;
	*) die "bad AUTHORIZED_KEYS '$AUTHORIZED_KEYS': an absolute path" ;;
	esac
	case $AUTHORIZED_KEYS in
	*[!A-Za-z0-9/._-]*) die "bad AUTHORIZED_KEYS '$AUTHORIZED_KEYS'" ;;
	esac
	# Go's own syntax, in the forms that make sense here.
	case $WG_GOMEMLIMIT in
	off) ;;
	[1-9]*MiB | [1-9]*GiB)
		case ${WG_GOMEMLIMIT%?iB} in *[!0-9]*) die "bad WG_GOMEMLIMIT '$WG_GOMEMLIMIT': off, or N MiB or GiB like 128MiB" ;; esac
		[ ${#WG_GOMEMLIMIT} -le 8 ] || die "bad WG_GOMEMLIMIT '$WG_GOMEMLIMIT': off, or N MiB or GiB like 128MiB" ;;
	*) die "bad WG_GOMEMLIMIT '$WG_GOMEMLIMIT': off, or N MiB or GiB like 128MiB" ;;
	esac
	case $WG_GOGC in
	off | [1-9] | [1-9][0-9] | [1-9][0-9][0-9] | [1-9][0-9][0-9][0-9]) ;;
	*) die "bad WG_GOGC '$WG_GOGC': 1-9999, or off (collect only at WG_GOMEMLIMIT)" ;;
	esac
	case $WG_GOMAXPROCS in
	off | [1-9] | [1-9][0-9] | [1-9][0-9][0-9] | [1-9][0-9][0-9][0-9]) ;;
	*) die "bad WG_GOMAXPROCS '$WG_GOMAXPROCS': 1-9999, or off (Go's default: every CPU)" ;;
	esac
	if [ "$WG_GOGC" = off ] && [ "$WG_GOMEMLIMIT" = off ]; then
		die "bad WG_GOGC 'off' with WG_GOMEMLIMIT 'off': wireguard-go would never free memory"
	fi
	if [ "$HTTP_PORT" -gt 65535 ] || [ "$HTTPS_PORT" -gt 65535 ]; then
		die "bad port in settings"
	fi
	limit_check MAX_LINKS "$MAX_LINKS" 65535
	limit_check LINK_CONNS "$LINK_CONNS" 100000
	limit_check VISITOR_CONNS "$VISITOR_CONNS" 100000
	limit_check HEALTH_INTERVAL "$HEALTH_INTERVAL" 86400
	[ "$HEALTH_INTERVAL" -ge 5 ] || die "bad HEALTH_INTERVAL '$HEALTH_INTERVAL': 5-86400"
	limit_check HEALTH_JOBS "$HEALTH_JOBS" 1024
	limit_check HEALTH_TIMEOUT "$HEALTH_TIMEOUT" 60
	case $METRICS_DIR in
	'') METRICS_DIR=$ROOT/var/lib/prometheus/node-exporter ;;
	off) ;;
	/*[!A-Za-z0-9/._-]* | [!/]*) die "bad METRICS_DIR '$METRICS_DIR': an absolute path, or off" ;;
	esac
	case $ACCESS_LOG in 0 | 1) ;; *) die "bad ACCESS_LOG '$ACCESS_LOG': 0 or 1" ;; esac
	# Durations, by the one parser (the record helper), with its range;
	# the defaults are known good and cost no process.
	[ "$EXPIRY_WARN" = 7d ] || duration_secs EXPIRY_WARN "$EXPIRY_WARN" >/dev/null
	[ "$KEY_GRACE" = 5m ] || duration_secs KEY_GRACE "$KEY_GRACE" >/dev/null
	case $PUBLISH_RESERVED in
	*[!0-9,]* | ,* | *, | *,,*) die "bad PUBLISH_RESERVED '$PUBLISH_RESERVED': ports, comma-separated" ;;
	esac
	[ ${#PUBLISH_RESERVED} -le 300 ] || die "bad PUBLISH_RESERVED: at most 50 ports"
}

# pool6_check: IPV6_POOL is empty (none yet) or a unique local /48
# (fc00::/7, its first group of four digits) written as three
# hex groups of 1-4 digits, none of them 0 and none with a leading 0
# (fd12:3456:789a::/48): the links' addresses are then built by appending
# groups (v6_addrs), and come out in the canonical form (RFC 5952) that
# ip and nft print, with no run of zeros before the link's own group.
pool6_check() {
	local g rest
	[ -n "$IPV6_POOL" ] || return 0
	case $IPV6_POOL in
	*::/48) rest=${IPV6_POOL%::/48}: ;;
	*) die "bad IPV6_POOL '$IPV6_POOL': a /48 like fd12:3456:789a::/48" ;;
	esac
	for _ in 1 2 3; do
		g=${rest%%:*}
		case $g in
		'' | *[!0-9a-f]* | 0* | ?????*) die "bad IPV6_POOL '$IPV6_POOL': three groups of 1-4 lower-case hex digits, none 0 or with a leading 0, then ::/48" ;;
		esac
		rest=${rest#*:}
	done
	[ -z "$rest" ] || die "bad IPV6_POOL '$IPV6_POOL': three groups, then ::/48"
	# Unique local (fc00::/7, RFC 4193): a home refuses any other tunnel
	# address (it would hide a real host of that address from the home).
	case $IPV6_POOL in
	f[cd][0-9a-f][0-9a-f]:*) ;;
	*) die "bad IPV6_POOL '$IPV6_POOL': a unique local /48 (fc00::/7: fdXX:XXXX:XXXX::/48)" ;;
	esac
}

# duration_secs NAME VALUE: the seconds of VALUE, a duration as make
# link's EXPIRES (1-9 digits and s, m, h or d, at most 3650d: the record
# helper's "record lifetime", the one parser of durations). Exit 1, with
# "bad NAME 'VALUE'" on stderr, when it is not one.
duration_secs() {
	"$BUILD/record" lifetime -- "$2" 2>/dev/null ||
		die "bad $1 '$2': a duration like 7d, 12h or 30m, at most 3650d"
}

# limit_check KEY VALUE MAX: VALUE is a number from 1 to MAX.
limit_check() {
	case $2 in '' | *[!0-9]* | 0*) die "bad $1 '$2': 1-$3" ;; esac
	if [ ${#2} -gt 6 ] || [ "$2" -gt "$3" ]; then die "bad $1 '$2': 1-$3"; fi
}

# valid_endpoint_host HOST: a host clients can reach the gateway at: a
# name, an IPv4 address, or an IPv6 address in the canonical form routemap
# ip6 --public prints (no brackets: PUBLIC_HOST=2001:db8::1).
valid_endpoint_host() {
	case $1 in
	*:*) [ "$("$BUILD/routemap" ip6 --public "$1" 2>/dev/null)" = "$1" ] ;;
	*[!0-9.]*) "$BUILD/routemap" host "$1" >/dev/null 2>&1 ;;
	*) ip_valid "$1" ;;
	esac
}

# endpoint_host_norm HOST: HOST as PUBLIC_HOST keeps it: an IPv6 address
# (with or without brackets) in canonical form, anything else as it is.
# Exit 1 when it is not a valid endpoint host, with the reason on stdout.
endpoint_host_norm() {
	local h="$1" out
	case $h in
	\[*:*\]) h=${h#\[} h=${h%\]} ;;
	*\[* | *\]*) echo "brackets go only around an IPv6 address"; return 1 ;;
	esac
	case $h in
	*[!0-9.]*) ;;
	127.* | 0.0.0.0)
		echo "a loopback or unspecified address: homes cannot reach it"
		return 1 ;;
	esac
	case $h in
	*:*)
		out=$("$BUILD/routemap" ip6 --public "$h" 2>&1) ||
			{ echo "${out#routemap: bad IPv6 address *: }"; return 1; }
		echo "$out" ;;
	*)
		valid_endpoint_host "$h" ||
			{ echo "not a host name, an IPv4 or an IPv6 address"; return 1; }
		echo "$h" ;;
	esac
}

# endpoint_join HOST PORT: HOST:PORT, an IPv6 address in brackets.
endpoint_join() {
	case $1 in
	*:*) echo "[$1]:$2" ;;
	*) echo "$1:$2" ;;
	esac
}

ip_valid() {
	local old_ifs o
	case $1 in '' | *[!0-9.]* | .* | *. | *..*) return 1 ;; esac
	old_ifs=$IFS
	IFS=.
	# shellcheck disable=SC2086 # splitting on dots is the point
	set -- $1
	IFS=$old_ifs
	[ $# -eq 4 ] || return 1
	for o in "$@"; do
		case $o in 0?*) return 1 ;; esac
		[ "${#o}" -le 3 ] && [ "$o" -le 255 ] || return 1
	done
}

ip2int() {
	local old_ifs="$IFS"
	IFS=.
	# shellcheck disable=SC2086
	set -- $1
	IFS=$old_ifs
	echo $((($1 << 24) | ($2 << 16) | ($3 << 8) | $4))
}

pool_check() {
	local len
	case $1 in */*) ;; *) die "bad $2 '$1': ADDRESS/LENGTH" ;; esac
	ip_valid "${1%/*}" || die "bad $2 '$1': ADDRESS/LENGTH"
	len=${1#*/}
	case $len in '' | *[!0-9]*) die "bad $2 '$1'" ;; esac
	if [ "$len" -lt 8 ] || [ "$len" -gt 28 ]; then
		die "bad $2 '$1': length 8-28"
	fi
}

# pool_size POOL: how many links a pool holds (a /30 each, index from 1).
pool_size() {
	echo $(((1 << (32 - ${1#*/})) / 4 - 1))
}

max_index() {
	local a b
	a=$(pool_size "$VETH_POOL")
	b=$(pool_size "$TUNNEL_POOL")
	[ "$a" -lt "$b" ] && b=$a
	[ "$b" -gt 65535 ] && b=65535
	[ "$b" -gt "$MAX_LINKS" ] && b=$MAX_LINKS
	echo "$b"
}

alloc() {
	if [ -n "$PORTS" ]; then
		ALLOC_PORTS=$PORTS "$BUILD/alloc" -d "$STATE" -n "$(max_index)" "$@"
	else
		"$BUILD/alloc" -d "$STATE" -n "$(max_index)" "$@"
	fi
}

# file_write FILE MODE: replaces FILE with stdin as a state file must be
# (as the helpers' write_atomic does): a temporary name beside it (made by
# mktemp, O_EXCL), MODE, fsync, rename over FILE, fsync of its folder. A
# crash leaves the old FILE or the new one, never a part. Exit 1 (FILE
# unchanged, the temporary file removed) when a step fails.
file_write() {
	local tmp dir
	dir=$(dirname "$1")
	tmp=$(mktemp "$dir/.${1##*/}.XXXXXX") || die "cannot write in $dir"
	if ! { cat >"$tmp" && chmod "$2" "$tmp" && sync "$tmp" &&
		mv -f "$tmp" "$1"; }; then
		rm -f "$tmp"
		die "$1 not written"
	fi
	sync "$dir" || die "$1 written, but its folder not synced"
}

# with_lock COMMAND...: runs a function under the gateway-wide lock, with a
# wait long enough for 50 queued requests.
with_lock() {
	# A failed redirection of exec would end the shell with status 2.
	(: 9>>"$LOCK") 2>/dev/null || die "cannot open $LOCK: is $STATE writable?"
	exec 9>>"$LOCK"
	flock -w "${LINKGATE_LOCK_WAIT:-300}" 9 ||
		die_code 75 "gateway lock not obtained in ${LINKGATE_LOCK_WAIT:-300} s"
	[ -z "${LINKGATE_KILL_AFTER:-}" ] || rm -f "$RUN_DIR/kill-steps"
	"$@"
}
