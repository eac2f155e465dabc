# A topology of network namespaces for the end-to-end tests (bash, loaded by
# bats). Everything carries the prefix $T, so cleanup is by name.
#
#   visitor 10.77.0.1 ── bridge in ${T}i ──┬── ${T}g  gateway 10.77.0.2
#                                          ├── ${T}h1 home1   10.77.0.3
#                                          └── ${T}h2 home2   10.77.0.4
#   ${T}g runs nginx, sshd and one namespace per link (prefix $GWPREFIX).

T=${T:-lt$(($$ % 10000))}
GWPREFIX=${GWPREFIX:-t$(($$ % 10000))}
VISITOR=10.77.0.1
GATEWAY=10.77.0.2

net_up() {
	local n i=2
	ip netns add "${T}i"
	ip -n "${T}i" link set lo up
	ip -n "${T}i" link add br0 type bridge
	ip -n "${T}i" addr add "$VISITOR/24" dev br0
	ip -n "${T}i" link set br0 up
	for n in g h1 h2; do
		ip netns add "$T$n"
		ip -n "$T$n" link set lo up
		ip link add "${T}v$n" netns "$T$n" type veth peer name "p$n" netns "${T}i"
		ip -n "${T}i" link set "p$n" master br0 up
		ip -n "$T$n" link set "${T}v$n" name eth0
		ip -n "$T$n" addr add "10.77.0.$i/24" dev eth0
		ip -n "$T$n" link set eth0 up
		i=$((i + 1))
	done
}

# net_down: stops what the tests started and removes every namespace and
# wireguard-go interface with the test's prefixes.
net_down() {
	local ns pidf
	for pidf in "$WORK"/*.pid; do
		[ -f "$pidf" ] && kill "$(cat "$pidf")" 2>/dev/null
	done
	[ -e "/run/netns/${T}g" ] && gw down >/dev/null 2>&1
	for ns in $(ip netns list | cut -d' ' -f1 | grep -E "^(${T}|${GWPREFIX}n)"); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$ns"
	done
	rm -f /var/run/wireguard/"${GWPREFIX}"*.sock /var/run/wireguard/"${T}"*.sock
	return 0
}

# gw ARGS: the gateway command, in the gateway namespace, under $WORK/root.
# nsenter, not `ip netns exec`: the latter runs in a mount namespace of its
# own, and the link namespaces the gateway mounts would vanish with it.
gw() {
	nsenter --net="/run/netns/${T}g" env LINKGATE_ROOT="$WORK/root" \
		"$REPO/gateway/linkgate" "$@"
}

gw_conf() {
	mkdir -p "$WORK/root/etc/linkgate"
	printf '%s\n' "PREFIX=$GWPREFIX" "PORTS=${GWPORTS:-47000-47099}" \
		"PUBLIC_HOST=$GATEWAY" >"$WORK/root/etc/linkgate/gateway.conf"
}

# inns NS COMMAND...: runs a command in one of the test namespaces.
inns() {
	local ns=$1
	shift
	ip netns exec "$T$ns" "$@"
}

# home_peer HOME N PRIVKEY GWPUB ENDPOINT CLIENT_ADDR: a plain WireGuard
# peer at home, with the policy rule that sends replies from the tunnel
# address back into the tunnel.
home_peer() {
	local ns=$T$1 wg=${T}c$2 table=$((200 + $2))
	ip netns exec "$ns" wireguard-go "$wg" >/dev/null 2>&1
	ip netns exec "$ns" wg set "$wg" private-key "$3" peer "$4" \
		allowed-ips 0.0.0.0/0 endpoint "$5" persistent-keepalive 1
	ip -n "$ns" addr add "$6/32" dev "$wg"
	ip -n "$ns" link set "$wg" mtu 1380 up
	ip -n "$ns" rule add from "$6" lookup "$table"
	ip -n "$ns" route add default dev "$wg" table "$table"
}

# echo_app HOME ADDR LABEL [HTTP_PORT HTTPS_PORT]: the echo app on ADDR,
# by default on 8080 and 8443.
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

# sshd_up: sshd in the gateway namespace with a test host key, and the
# keys alice (example.test), bob (bob.example.org) and admin authorized.
sshd_up() {
	mkdir -p /run/sshd
	ssh-keygen -q -t ed25519 -N '' -f "$WORK/host_key"
	cat >"$WORK/sshd_config" <<-CONF
	ListenAddress $GATEWAY:22
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
	for who in alice bob admin; do
		ssh-keygen -q -t ed25519 -N '' -C "$who@home" -f "$WORK/$who"
	done
	gw authorize "$WORK/alice.pub" alice example.test >/dev/null
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
		-o ConnectTimeout=5 -o LogLevel=ERROR "root@$GATEWAY" "$@"
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
