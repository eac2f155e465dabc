# A topology of network namespaces for the end-to-end tests and the demo
# (bash; loaded by bats, sourced by demo/run). Everything carries the
# prefix $T, so cleanup is by name. Needs REPO, WORK, T and GWPREFIX.
#
#   ${T}i "internet" 10.77.0.1 ── bridge ──┬── ${T}g  gateway 10.77.0.2
#     visitor, and with acme_up:           ├── ${T}h1 home1   10.77.0.3
#     pebble and its DNS server            └── ${T}h2 home2   10.77.0.4
#   ${T}g runs nginx, sshd and one namespace per link (prefix $GWPREFIX).
#   IPv6 (ULA, only inside these namespaces) on the same bridge: fd77::1
#   (the internet), fd77::2 (gateway, with a default route via fd77::1:
#   the host's own IPv6 route, which make gateway must leave alone),
#   fd77::3 and fd77::4 (homes). nodad: usable at once.

T=${T:-lt$(($$ % 10000))}
GWPREFIX=${GWPREFIX:-t$(($$ % 10000))}
VISITOR=10.77.0.1
GATEWAY=10.77.0.2
VISITOR6=fd77::1
GATEWAY6=fd77::2
ACME_DIR=https://$VISITOR:14000/dir

net_up() {
	local n i=2
	# The gateway may raise this host-wide limit (wireguard-go, one inotify
	# instance a link): net_down puts it back.
	cat /proc/sys/fs/inotify/max_user_instances >"$WORK/inotify-limit"
	ip netns add "${T}i"
	ip -n "${T}i" link set lo up
	ip -n "${T}i" link add br0 type bridge
	ip -n "${T}i" addr add "$VISITOR/24" dev br0
	ip -n "${T}i" addr add "$VISITOR6/64" dev br0 nodad
	ip -n "${T}i" link set br0 up
	for n in g h1 h2; do
		ip netns add "$T$n"
		ip -n "$T$n" link set lo up
		ip link add "${T}v$n" netns "$T$n" type veth peer name "p$n" netns "${T}i"
		ip -n "${T}i" link set "p$n" master br0 up
		ip -n "$T$n" link set "${T}v$n" name eth0
		ip -n "$T$n" addr add "10.77.0.$i/24" dev eth0
		ip -n "$T$n" addr add "fd77::$i/64" dev eth0 nodad
		ip -n "$T$n" link set eth0 up
		i=$((i + 1))
	done
	ip -n "${T}g" -6 route add default via "$VISITOR6" dev eth0
}

# home6_up N: one more home, ${T}hN, on the bridge with fd77::N only: no
# IPv4 address, so no IPv4 route to the gateway (an IPv6-only uplink).
home6_up() {
	ip netns add "${T}h$1"
	ip -n "${T}h$1" link set lo up
	ip link add "${T}vh$1" netns "${T}h$1" type veth peer name "ph$1" netns "${T}i"
	ip -n "${T}i" link set "ph$1" master br0 up
	ip -n "${T}h$1" link set "${T}vh$1" name eth0
	ip -n "${T}h$1" addr add "fd77::$1/64" dev eth0 nodad
	ip -n "${T}h$1" link set eth0 up
}

# work_dir_check: whether $WORK is absent, or a folder this user made for
# itself (a real directory, owned by us, mode 0700, or 0711 once the
# gateway let nginx's workers through). A fixed name under
# /tmp can be made first by another local user, who would then choose
# the PIDs net_down kills and the sysctl value it writes. Exit 1 with a
# message when it is not ours.
work_dir_check() {
	[ -e "$WORK" ] || [ -L "$WORK" ] || return 0
	if [ -L "$WORK" ] || [ ! -d "$WORK" ] ||
		! case $(stat -c %u:%a "$WORK") in
		# 701: path_traversable's o+x, for nginx's workers (nobody).
		"$(id -u)":700 | "$(id -u)":701 | "$(id -u)":711) true ;;
		*) false ;;
		esac; then
		echo "$WORK: not a folder this user made (owner $(stat -c %U "$WORK"), mode $(stat -c %a "$WORK")$([ -L "$WORK" ] && echo ', a symbolic link')): remove it or choose another folder" >&2
		return 1
	fi
}

# net_down: stops what the tests started and removes every namespace and
# wireguard-go interface with the test's prefixes.
net_down() {
	local ns pidf
	for pidf in "$WORK"/*.pid; do
		if [ -f "$pidf" ]; then kill "$(cat "$pidf")" 2>/dev/null || true; fi
	done
	# A gateway that was never set up (make bench ADD_ONLY=1 makes none
	# under $WORK/root) fails its down: the cleanup goes on (under set -e
	# the last command of an && list would end it here).
	if [ -e "/run/netns/${T}g" ]; then gw down >/dev/null 2>&1 || true; fi
	for ns in $(ip netns list | cut -d' ' -f1 | grep -E "^(${T}|${GWPREFIX}n)"); do
		# A process may end between the listing and the kill.
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
		ip netns del "$ns"
	done
	rm -f /var/run/wireguard/"${GWPREFIX}"*.sock /var/run/wireguard/"${T}"*.sock
	# Another suite's sshd may have started after ours and need it still
	# (without it, sshd resets every connection).
	if [ -e "$WORK/made-run-sshd" ] && ! pgrep -x sshd >/dev/null; then
		rmdir /run/sshd 2>/dev/null || true
	fi
	if [ -f "$WORK/inotify-limit" ]; then
		sysctl -qw "fs.inotify.max_user_instances=$(cat "$WORK/inotify-limit")"
		rm -f "$WORK/inotify-limit"
	fi
	return 0
}

# gw ARGS: the gateway command, in the gateway namespace, under $WORK/root.
# nsenter, not `ip netns exec`: the latter runs in a mount namespace of its
# own, and the link namespaces the gateway mounts would vanish with it.
gw() {
	nsenter --net="/run/netns/${T}g" env LINKGATE_ROOT="$WORK/root" \
		"$REPO/gateway/linkgate" "$@"
}

# link_wg_pids: the wireguard-go processes of this gateway's links.
link_wg_pids() {
	local pid
	for pid in $(pgrep -x wireguard-go); do
		case $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) in
		"wireguard-go ${GWPREFIX}w"*) echo "$pid" ;;
		esac
	done
}

# gw_conf: the test gateway's settings. HELPERS (test/run sets it to the
# AddressSanitizer build) goes into gateway.conf: an environment variable
# would not pass sshd's forced command.
gw_conf() {
	mkdir -p "$WORK/root/etc/linkgate"
	path_traversable "$WORK/root"
	printf '%s\n' "PREFIX=$GWPREFIX" "PORTS=${GWPORTS:-47000-47099}" \
		"PUBLIC_HOST=$GATEWAY" ${HELPERS:+"HELPERS=$HELPERS"} \
		>"$WORK/root/etc/linkgate/gateway.conf"
}

# path_traversable DIR: lets others through DIR and every folder above it
# (o+x: enter, not list). nginx's workers (user nobody) read the gateway's
# route files under DIR; bats makes its temporary folders 0700.
path_traversable() {
	local d
	d=$(readlink -f "$1")
	while [ "$d" != / ]; do
		[ -O "$d" ] && chmod o+x "$d"
		d=$(dirname "$d")
	done
}

# inns NS COMMAND...: runs a command in one of the test namespaces.
inns() {
	local ns=$1
	shift
	ip netns exec "$T$ns" "$@"
}

# home_peer HOME N PRIVKEY GWPUB ENDPOINT CLIENT_ADDR [CLIENT6]: a plain
# WireGuard peer at home, with the policy rule that sends replies from the
# tunnel address back into the tunnel; with CLIENT6 (the link's IPv6
# tunnel address) the same for IPv6.
home_peer() {
	local ns=$T$1 wg=${T}c$2 table=$((200 + $2))
	ip netns exec "$ns" wireguard-go "$wg" >/dev/null 2>&1
	ip netns exec "$ns" wg set "$wg" private-key "$3" peer "$4" \
		allowed-ips 0.0.0.0/0,::/0 endpoint "$5" persistent-keepalive 1
	ip -n "$ns" addr add "$6/32" dev "$wg"
	[ -z "${7:-}" ] || ip -n "$ns" addr add "$7/128" dev "$wg" nodad
	ip -n "$ns" link set "$wg" mtu 1380 up
	ip -n "$ns" rule add from "$6" lookup "$table"
	ip -n "$ns" route add default dev "$wg" table "$table"
	[ -z "${7:-}" ] || ip -n "$ns" -6 rule add from "$7" lookup "$table"
	[ -z "${7:-}" ] || ip -n "$ns" -6 route add default dev "$wg" table "$table"
}

# home_reconnect HOME N: what the link client does when its ping through
# the tunnel is lost (client/link-client, probe), for home_peer's peer N
# at HOME: when the gateway's end of the tunnel does not answer a ping
# in 1 s, the gateway peer is removed and set again, so the session is
# dropped and a handshake starts now. A gateway that rebuilt the link has
# forgotten the session; WireGuard alone would start a new handshake only
# 15 s after a packet sent with none received (KEEPALIVE_TIMEOUT 10 s +
# REKEY_TIMEOUT 5 s: the timers in WireGuard's timers.c, kernel and Go
# alike). Reads the tunnel addresses from $WORK/addN.out (link_home
# writes it). Exit 0, or the failed wg command's status.
home_reconnect() {
	local ns=$T$1 wg=${T}c$2 client gwaddr peer endpoint
	IFS=$'\t' read -r _ _ _ client gwaddr _ <"$WORK/add$2.out"
	ip netns exec "$ns" ping -q -n -c 1 -W 1 -I "$client" "$gwaddr" \
		>/dev/null 2>&1 && return 0
	IFS=$'\t' read -r peer endpoint < <(ip netns exec "$ns" wg show "$wg" endpoints)
	ip netns exec "$ns" wg set "$wg" peer "$peer" remove
	ip netns exec "$ns" wg set "$wg" peer "$peer" allowed-ips 0.0.0.0/0,::/0 \
		endpoint "$endpoint" persistent-keepalive 1
}

# home_visit HOME N NAME [http|https] [PATH]: visit NAME, served by
# home_peer's peer N at HOME, after home_reconnect HOME N. For a wait
# after the gateway rebuilt a link (wait_for ... home_visit ...).
home_visit() {
	home_reconnect "$1" "$2"
	visit "${@:3}"
}

# echo_app HOME ADDR[,ADDR...] LABEL [HTTP_PORT HTTPS_PORT]: the echo app
# on each ADDR (IPv4 or IPv6), by default on 8080 and 8443.
echo_app() {
	[ -f "$WORK/app.crt" ] || openssl req -x509 -newkey ec \
		-pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj /CN=app -keyout "$WORK/app.key" -out "$WORK/app.crt" 2>/dev/null
	ip netns exec "$T$1" python3 "$REPO/test/apps/echo.py" "$2" "$3" \
		"$WORK/app.crt" "$WORK/app.key" ${4:+"$4" "$5"} >"$WORK/app-$3.log" 2>&1 &
	echo $! >"$WORK/app-$3.pid"
	wait_for 50 grep -q ready "$WORK/app-$3.log"
}

# wait_for TRIES COMMAND...: retries every 0.1 s, at most TRIES times.
wait_for() {
	local n=$1
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# visit NAME [http|https] [PATH]: the visitor's request through the gateway.
visit() {
	local scheme=${2:-http} port=80
	[ "$scheme" = https ] && port=443
	ip netns exec "${T}i" curl -sS -k --max-time 3 \
		--resolve "$1:$port:$GATEWAY" "$scheme://$1${3:-/}"
}

# visit6 NAME [http|https] [PATH]: visit, from the visitor's IPv6 address
# to the gateway's.
visit6() {
	local scheme=${2:-http} port=80
	[ "$scheme" = https ] && port=443
	ip netns exec "${T}i" curl -6 -sS -k --max-time 3 \
		--resolve "$1:$port:[$GATEWAY6]" "$scheme://$1${3:-/}"
}

# sshd_start: sshd on port 22 in the gateway namespace, with a test host
# key, the gateway's authorized_keys file under $WORK/root, and the
# drop-ins make setup installs there, included first as Debian's
# sshd_config does.
sshd_start() {
	[ -d /run/sshd ] || { mkdir /run/sshd && touch "$WORK/made-run-sshd"; }
	ssh-keygen -q -t ed25519 -N '' -f "$WORK/host_key"
	cat >"$WORK/sshd_config" <<-CONF
	Include $WORK/root/etc/ssh/sshd_config.d/*.conf
	ListenAddress $GATEWAY:22
	ListenAddress [$GATEWAY6]:22
	HostKey $WORK/host_key
	PidFile $WORK/sshd.pid
	AuthorizedKeysFile $WORK/root/root/.ssh/authorized_keys
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	UsePAM no
	StrictModes no
	MaxStartups 100:30:200
	CONF
	nsenter --net="/run/netns/${T}g" /usr/sbin/sshd -f "$WORK/sshd_config"
}

# sshd_up: sshd_start, and the keys alice (example.test, 100 links), bob
# (bob.example.org, the default quota) and admin authorized.
sshd_up() {
	sshd_start
	for who in alice bob admin; do
		ssh-keygen -q -t ed25519 -N '' -C "$who@home" -f "$WORK/$who"
	done
	# alice makes the concurrency suite's 50 links at once.
	gw authorize "$WORK/alice.pub" alice example.test --links 100 >/dev/null
	gw authorize "$WORK/bob.pub" bob bob.example.org >/dev/null
	gw authorize "$WORK/admin.pub" admin "" --admin >/dev/null
}

# ssh_as WHO COMMAND: over real ssh from home1 with WHO's key.
ssh_as() {
	local who=$1
	shift
	ip netns exec "${T}h1" ssh -F /dev/null -i "$WORK/$who" \
		-o UserKnownHostsFile="$WORK/known_hosts" \
		-o StrictHostKeyChecking=accept-new -o BatchMode=yes \
		-o ConnectTimeout=5 -o LogLevel=ERROR -- "root@$GATEWAY" "$@"
}


# link_home NAME HOME N [ADD OPTION...]: adds link N at the gateway (as
# root, with the options: --ipv6), brings up its peer and an echo app at
# HOME. An answer with IPv6 (8 or 9 fields: CLIENT6 after the MTU) gives
# the peer and the app the IPv6 tunnel address too.
link_home() {
	local f client6=''
	umask 077
	wg genkey >"$WORK/c$3.key"
	gw add "$1" "$(wg pubkey <"$WORK/c$3.key")" "${@:4}" >"$WORK/add$3.out"
	IFS=$'\t' read -r -a f <"$WORK/add$3.out"
	[ "${#f[@]}" -lt 8 ] || client6=${f[6]}
	home_peer "$2" "$3" "$WORK/c$3.key" "${f[1]}" "${f[2]}" "${f[3]}" ${client6:+"$client6"}
	echo_app "$2" "${f[3]}${client6:+,$client6}" "$1"
}

# nginx_t: nginx -t on the gateway's live configuration.
nginx_t() {
	local d=$WORK/root/var/lib/linkgate/nginx
	nsenter --net="/run/netns/${T}g" nginx -t -q \
		-e "$WORK/root/var/log/linkgate/nginx-error.log" -p "$d" -c "$d/nginx.conf"
}

# state_sum: a checksum of everything a refused request must not change:
# the gateway's state folder and route files, its reserved ports and its
# namespaces.
state_sum() {
	{
		(cd "$WORK/root/var/lib/linkgate" && find . -path ./nginx/stage -prune \
			-o -type f -print | sort | xargs cat)
		(cd "$WORK/root/run/linkgate/routes" && grep -r . . | sort) || true
		nsenter --net="/run/netns/${T}g" sysctl -n net.ipv4.ip_local_reserved_ports
		ip netns list | grep "^${GWPREFIX}n" | sort
	} | md5sum
}

# gateway_up: a fresh topology with a running gateway and sshd.
gateway_up() {
	net_down
	net_up
	gw_conf
	gw setup >/dev/null
	gw start >/dev/null
	sshd_up
}

# --- the end-to-end world: an ACME CA, a gateway made with make, homes ---

# acme_up: pebble (the ACME server) and pebble-challtestsrv (its DNS: every
# name resolves to the gateway) in the internet namespace; pebble's issuing
# root goes to $WORK/pebble-root.pem.
acme_up() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -days 2 -subj /CN=pebble \
		-addext "subjectAltName=IP:$VISITOR" -keyout "$WORK/pebble.key" \
		-out "$WORK/pebble.crt" 2>/dev/null
	cat >"$WORK/pebble.json" <<-JSON
	{"pebble": {"listenAddress": "$VISITOR:14000",
	 "managementListenAddress": "$VISITOR:15000",
	 "certificate": "$WORK/pebble.crt", "privateKey": "$WORK/pebble.key",
	 "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "",
	 "externalAccountBindingRequired": false}}
	JSON
	ip netns exec "${T}i" pebble-challtestsrv -defaultIPv4 "$GATEWAY" \
		-defaultIPv6 "" -dns01 "$VISITOR:8053" -http01 "" -https01 "" \
		-tlsalpn01 "" -management "$VISITOR:8055" >"$WORK/dns.log" 2>&1 &
	echo $! >"$WORK/dns.pid"
	ip netns exec "${T}i" env PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 \
		pebble -config "$WORK/pebble.json" -dnsserver "$VISITOR:8053" \
		>"$WORK/pebble.log" 2>&1 &
	echo $! >"$WORK/pebble.pid"
	wait_for 100 ip netns exec "${T}i" curl -sf --max-time 1 \
		--cacert "$WORK/pebble.crt" -o "$WORK/pebble-root.pem" \
		"https://$VISITOR:15000/roots/0"
}

# gw_make TARGET [VAR=value...]: a make target of the gateway, run in the
# gateway namespace under $WORK/root, the way its owner would run it.
gw_make() {
	nsenter --net="/run/netns/${T}g" env LINKGATE_ROOT="$WORK/root" \
		make -s -C "$REPO" "$@"
}

# gateway_make_up HOME...: gateway settings, make setup, make gateway,
# sshd, and a key per HOME authorized with make authorize for example.test
# (100 links).
gateway_make_up() {
	gw_conf
	gw_make setup
	gw_make gateway
	sshd_start
	for h in "$@"; do
		ssh-keygen -q -t ed25519 -N '' -C "$h@home" -f "$WORK/key-$h"
		# make bench makes 22 links as one home, above the default 10.
		gw_make authorize KEY="$WORK/key-$h.pub" NAME="$h" DOMAINS=example.test \
			LINKS=100
	done
}

# home_app HOME: an nginx app at home that answers with the addresses it
# saw: HTTP on 9080, TLS with PROXY protocol on 9444, TLS without on 9445.
home_app() {
	local d=$WORK/app-$1
	mkdir -p "$d"
	[ -f "$WORK/app.crt" ] || openssl req -x509 -newkey ec \
		-pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj /CN=app -keyout "$WORK/app.key" -out "$WORK/app.crt" 2>/dev/null
	cat >"$d/nginx.conf" <<-CONF
	pid $WORK/app-$1.pid;
	error_log $d/error.log;
	events {}
	http {
		log_format who '\$request_uri \$http_x_forwarded_for';
		access_log $d/access.log who;
		ssl_certificate $WORK/app.crt;
		ssl_certificate_key $WORK/app.key;
		server {
			listen 127.0.0.1:9080;
			return 200 "home=$1 peer=\$remote_addr xff=\$http_x_forwarded_for host=\$host\n";
		}
		server {
			listen 127.0.0.1:9444 ssl proxy_protocol;
			return 200 "home=$1 tls pp=\$proxy_protocol_addr peer=\$remote_addr\n";
		}
		server {
			listen 127.0.0.1:9445 ssl;
			return 200 "home=$1 tls peer=\$remote_addr\n";
		}
	}
	CONF
	ip netns exec "$T$1" nginx -e "$d/error.log" -p "$d" -c "$d/nginx.conf"
}

# home_link HOME FQDN EXPOSE [VAR=value...]: make link at HOME over ssh
# with the home's key; the .env goes to $WORK/HOME.
home_link() {
	mkdir -p "$WORK/$1"
	ip netns exec "$T$1" env SSH_KEY="$WORK/key-$1" KNOWN_HOSTS="$WORK/known_hosts" \
		SSH_OPTS="-o LogLevel=ERROR" LINK_DIR="$WORK/$1" GATEWAY="root@$GATEWAY" \
		FQDN="$2" EXPOSE="$3" "${@:4}" make -s -C "$REPO" link
}

# home_client_start HOME FQDN [VAR=value...]: starts the link client for
# FQDN at HOME, with certificates from pebble if acme_up ran.
home_client_start() {
	local home=$1 name=$2 acme=()
	shift 2
	[ ! -f "$WORK/pebble.crt" ] ||
		acme=(ACME_CA="$ACME_DIR" ACME_CA_ROOT="$WORK/pebble.crt")
	ip netns exec "$T$home" env DATA_DIR="$WORK/data-$name" "${acme[@]}" "$@" \
		"$REPO/client/link-client" --env-file "$WORK/$home/$name.env" \
		>>"$WORK/client-$name.log" 2>&1 &
	echo $! >"$WORK/client-$name.pid"
}

# home_client HOME FQDN [VAR=value...]: home_client_start, then waits until
# the gateway reaches the link's health path.
home_client() {
	home_client_start "$@"
	wait_for 100 healthy "$2"
}

healthy() {
	ip netns exec "${T}i" curl -sf --max-time 1 -H "Host: $1" \
		"http://$GATEWAY/.well-known/gateway/health" >/dev/null
}

# visit_tls NAME [CURL OPTIONS]: the visitor's HTTPS request to NAME,
# verified against pebble's root only.
visit_tls() {
	local name=$1
	shift
	ip netns exec "${T}i" curl -sS --max-time 10 --cacert "$WORK/pebble-root.pem" \
		--resolve "$name:443:$GATEWAY" "$@" "https://$name/"
}

# visit_tls6 NAME [CURL OPTIONS]: visit_tls over IPv6.
visit_tls6() {
	local name=$1
	shift
	ip netns exec "${T}i" curl -6 -sS --max-time 10 --cacert "$WORK/pebble-root.pem" \
		--resolve "$name:443:[$GATEWAY6]" "$@" "https://$name/"
}
