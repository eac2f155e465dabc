#!/usr/bin/env bats
# The isolation matrix, one test a cell. Every target runs a listener that
# a control request from a legitimate place does reach, so "blocked" is
# never true only because nothing listens.
#
#   home1 (link 1) and home2 (link 2), each with a plain WireGuard peer;
#   listeners on :9999 in the gateway host, in both link namespaces, at
#   home2, and on "the internet" (10.77.0.1 and 203.0.113.10, reachable
#   from the gateway host by its default route).
#
# Each cell has an IPv6 twin: both links are made with --ipv6, so each
# link namespace has its IPv6 veth and tunnel addresses (from the
# gateway's IPV6_POOL, README and notes: P:h::1 and ::2 on the veth,
# P:h::1:1 and ::1:2 on the tunnel), and each home the link's CLIENT6 on
# its peer; every listener also listens on IPv6 ("::"), the internet
# also at 2001:db8:77::10 (the gateway host's IPv6 default route goes
# to fd77::1).
#
# A blocked connection must not pass only because its replies are lost:
# the internet and home2 have routes back to the links' addresses, and a
# table of the test's own in the gateway host (seen_up) counts what the
# links' side starts and the host takes in or passes on, where replies
# could never come back (the host has no route to tunnel addresses).

setup_file() {
	load common
	load lib/net
	export T GWPREFIX WORK=$BATS_FILE_TMPDIR
	gateway_up
	link_home app1.example.test h1 1 --ipv6
	link_home app2.example.test h2 2 --ipv6
	ip -n "${T}g" route add default via "$VISITOR"
	ip -n "${T}i" addr add 203.0.113.10/32 dev br0
	ip -n "${T}i" addr add 2001:db8:77::10/128 dev br0 nodad
	# Routes back to every link address, where a leak's replies would go:
	# without them a connection that got through would look blocked.
	pool=$(sed -n 's/^IPV6_POOL=//p' "$WORK/root/etc/linkgate/gateway.conf")
	for n in i h2; do
		ip -n "$T$n" route add 198.18.0.0/15 via "$GATEWAY"
		ip -n "$T$n" -6 route add "$pool" via "$GATEWAY6"
	done
	addrs
	seen_up
	listener gwhost nsenter --net="/run/netns/${T}g"
	listener internet ip netns exec "${T}i"
	listener home2 ip netns exec "${T}h2"
	listener link1 ip netns exec "${GWPREFIX}n1"
	listener link2 ip netns exec "${GWPREFIX}n2"
	# Ports of the link namespace that its DNAT rules point elsewhere.
	listener link1b ip netns exec "${GWPREFIX}n1" 8080 8443
}

teardown_file() {
	load common
	load lib/net
	net_down
}

setup() {
	load common
	load lib/net
	addrs
}

# addrs: both links' addresses, IPv4 from their records and IPv6 from the
# pool and the index (notes/ipv6-spec.md; no field), and WG1, link 1's
# WireGuard interface.
addrs() {
	local r=$WORK/root/var/lib/linkgate/links pool p n
	pool=$(sed -n 's/^IPV6_POOL=//p' "$WORK/root/etc/linkgate/gateway.conf")
	for n in 1 2; do
		eval "VG$n=\$($HELPERS/record get $r/app$n.example.test VETH_GATEWAY_ADDR)"
		eval "VL$n=\$($HELPERS/record get $r/app$n.example.test VETH_LINK_ADDR)"
		eval "TG$n=\$($HELPERS/record get $r/app$n.example.test TUNNEL_GATEWAY)"
		eval "C$n=\$($HELPERS/record get $r/app$n.example.test TUNNEL_CLIENT)"
		p=${pool%::/48}:$(printf %x "$("$HELPERS/record" get "$r/app$n.example.test" INDEX)")
		eval "VG6_$n=$p::1 VL6_$n=$p::2 TG6_$n=$p::1:1 C6_$n=$p::1:2"
	done
	WG1=$("$HELPERS/record" show -p "$GWPREFIX" "$r/app1.example.test" | sed -n 's/^WG=//p')
	VETH_GW1=$("$HELPERS/record" show -p "$GWPREFIX" "$r/app1.example.test" | sed -n 's/^VETH_GW=//p')
	VETH_LINK1=$("$HELPERS/record" show -p "$GWPREFIX" "$r/app1.example.test" | sed -n 's/^VETH_LINK=//p')
}

# near6: link 1's namespace knows the gateway host's end of its veth over
# IPv6, as it does right after nginx opened a connection through it. The
# veth has no link-local address, so for a packet it forwards from the
# tunnel (whose source is not its own) the namespace sends no neighbour
# solicitation: without this, a leak toward the gateway host would look
# blocked by chance.
near6() {
	local mac
	mac=$(ip -n "${T}g" -j link show dev "$VETH_GW1" | jq -r '.[0].address')
	ip -n "${GWPREFIX}n1" -6 neigh replace "$VG6_1" lladdr "$mac" \
		dev "$VETH_LINK1" nud reachable
}

# seen_up: a table of the test's own in the gateway host that counts the
# connections the links' side starts (from a home's tunnel address or a
# link namespace's addresses) which the host takes in (input) or passes
# on (forward) after the gateway's own rules. A leak to a host service
# counts here even where its replies could never come back (the host has
# no route to the tunnel addresses), so a TCP connect alone would miss it.
seen_up() {
	local v4="$C1, $C2, $VL1, $VL2, $TG1, $TG2"
	local v6="$C6_1, $C6_2, $VL6_1, $VL6_2, $TG6_1, $TG6_2"
	nsenter --net="/run/netns/${T}g" nft -f - <<-NFT
	table inet ${T}seen {
		chain input {
			type filter hook input priority filter + 10; policy accept;
			ct state new ip saddr { $v4 } counter
			ct state new ip6 saddr { $v6 } counter
		}
		chain forward {
			type filter hook forward priority filter + 10; policy accept;
			ct state new ip saddr { $v4 } counter
			ct state new ip6 saddr { $v6 } counter
		}
	}
	NFT
}

# seen: how many packets seen_up's table has counted.
seen() {
	nsenter --net="/run/netns/${T}g" nft list table inet "${T}seen" |
		grep -o 'packets [0-9]*' | awk '{ s += $2 } END { print s + 0 }'
}

# unseen BEFORE: fails when seen has grown since BEFORE.
unseen() {
	local now
	now=$(seen)
	[ "$now" -eq "$1" ] || fail "the gateway host took in or passed on $((now - $1)) packets the links' side started"
}

# listener NAME [PORT PORT] -- COMMAND PREFIX...: the echo app on every
# IPv4 and IPv6 address, on 9999 and 9998 unless told.
listener() {
	local name=$1 ports=(9999 9998)
	shift
	if [ $# -ge 2 ] && [[ ${*: -1} =~ ^[0-9]+$ ]]; then
		ports=("${@: -2}")
		set -- "${@:1:$#-2}"
	fi
	"$@" python3 "$REPO/test/apps/echo.py" 0.0.0.0,:: "$name" "$WORK/app.crt" \
		"$WORK/app.key" "${ports[@]}" >"$WORK/listener-$name.log" 2>&1 &
	echo $! >"$WORK/listener-$name.pid"
	wait_for 50 grep -q ready "$WORK/listener-$name.log"
}

# connects NS SOURCE ADDR PORT: whether a TCP connection from SOURCE (""
# for any) in namespace NS (a full name) to ADDR:PORT (IPv4 or IPv6) is
# established.
connects() {
	local t host=$3
	case $host in *:*) host=[$host] ;; esac
	t=$(ip netns exec "$1" curl -s -o /dev/null --max-time 1 -w '%{time_connect}' \
		${2:+--interface "$2"} "http://$host:$4/" 2>/dev/null)
	[ -n "$t" ] && [ "$t" != 0.000000 ]
}

# cell ADDR PORT CONTROL_NS: reachable from CONTROL_NS, and not from home1
# through its tunnel (from its IPv6 tunnel address to an IPv6 ADDR).
cell() {
	local src=$C1 before
	case $1 in *:*) src=$C6_1 ;; esac
	connects "$3" "" "$1" "$2" || fail "control: $1:$2 not reachable from $3"
	near6
	before=$(seen)
	if connects "${T}h1" "$src" "$1" "$2"; then
		fail "$1:$2 reachable from home1's tunnel ($src)"
	fi
	unseen "$before"
}

@test "the IPv6 twins use the addresses the gateway handed out to both links" {
	for n in 1 2; do
		IFS=$'\t' read -r -a f <"$WORK/add$n.out"
		c6=C6_$n tg6=TG6_$n
		assert_equal "${#f[@]} ${f[6]:-} ${f[7]:-}" "8 ${!c6} ${!tg6}"
	done
	run -0 ip -n "${GWPREFIX}n1" -6 -o addr show
	assert_output --partial " $VL6_1/"
	assert_output --partial " $TG6_1/"
	run -0 ip -n "${T}h1" -6 -o addr show dev "${T}c1"
	assert_output --partial " $C6_1/128"
}

@test "home1's tunnel cannot reach the gateway host's sshd" {
	cell "$GATEWAY" 22 "${T}i"
}

@test "home1's tunnel cannot reach the gateway host's sshd over IPv6" {
	cell "$GATEWAY6" 22 "${T}i"
}

@test "home1's tunnel cannot reach the gateway host's nginx on :80" {
	cell "$GATEWAY" 80 "${T}i"
}

@test "home1's tunnel cannot reach the gateway host's nginx on :80 over IPv6" {
	cell "$GATEWAY6" 80 "${T}i"
}

@test "home1's tunnel cannot reach the gateway host's nginx on :443" {
	cell "$GATEWAY" 443 "${T}i"
}

@test "home1's tunnel cannot reach the gateway host's nginx on :443 over IPv6" {
	cell "$GATEWAY6" 443 "${T}i"
}

@test "home1's tunnel cannot reach nginx on the gateway's side of its own veth" {
	cell "$VG1" 80 "${T}g"
}

@test "home1's tunnel cannot reach nginx on the gateway's side of its own veth over IPv6" {
	cell "$VG6_1" 80 "${T}g"
}

@test "home1's tunnel cannot reach a gateway host service on its public address" {
	cell "$GATEWAY" 9999 "${T}g"
}

@test "home1's tunnel cannot reach a gateway host service on its public IPv6 address" {
	cell "$GATEWAY6" 9999 "${T}g"
}

@test "home1's tunnel cannot reach a gateway host service on its own veth address" {
	cell "$VG1" 9999 "${T}g"
}

@test "home1's tunnel cannot reach a gateway host service on its own veth's IPv6 address" {
	cell "$VG6_1" 9999 "${T}g"
}

@test "home1's tunnel cannot reach a gateway host service on link 2's veth address" {
	cell "$VG2" 9999 "${T}g"
}

@test "home1's tunnel cannot reach a gateway host service on link 2's veth's IPv6 address" {
	cell "$VG6_2" 9999 "${T}g"
}

@test "home1's tunnel cannot reach a service in its own link namespace at the tunnel address" {
	cell "$TG1" 9999 "${GWPREFIX}n1"
}

@test "home1's tunnel cannot reach a service in its own link namespace at the IPv6 tunnel address" {
	cell "$TG6_1" 9999 "${GWPREFIX}n1"
}

@test "home1's tunnel cannot reach a service in its own link namespace at the veth address" {
	cell "$VL1" 9999 "${GWPREFIX}n1"
}

@test "home1's tunnel cannot reach a service in its own link namespace at the veth's IPv6 address" {
	cell "$VL6_1" 9999 "${GWPREFIX}n1"
}

@test "home1's tunnel cannot reach link 2's namespace at its veth address" {
	cell "$VL2" 9999 "${GWPREFIX}n2"
}

@test "home1's tunnel cannot reach link 2's namespace at its veth's IPv6 address" {
	cell "$VL6_2" 9999 "${GWPREFIX}n2"
}

@test "home1's tunnel cannot reach link 2's namespace at its tunnel address" {
	cell "$TG2" 9999 "${GWPREFIX}n2"
}

@test "home1's tunnel cannot reach link 2's namespace at its IPv6 tunnel address" {
	cell "$TG6_2" 9999 "${GWPREFIX}n2"
}

@test "home1's tunnel cannot reach home2 through home2's tunnel" {
	cell "$C2" 8080 "${T}h2"
}

@test "home1's tunnel cannot reach home2 through home2's tunnel over IPv6" {
	cell "$C6_2" 8080 "${T}h2"
}

@test "home1's tunnel cannot reach home2's own network" {
	cell 10.77.0.4 9999 "${T}h2"
}

@test "home1's tunnel cannot reach home2's own network over IPv6" {
	cell fd77::4 9999 "${T}h2"
}

@test "home1's tunnel cannot reach the visitor network" {
	cell "$VISITOR" 9999 "${T}i"
}

@test "home1's tunnel cannot reach the visitor network over IPv6" {
	cell "$VISITOR6" 9999 "${T}i"
}

@test "home1's tunnel cannot reach the internet beyond the gateway" {
	cell 203.0.113.10 9999 "${T}g"
}

@test "home1's tunnel cannot reach the internet beyond the gateway over IPv6" {
	cell 2001:db8:77::10 9999 "${T}g"
}

# from_outside PORT [ADDR]: a link namespace's port (at its veth address,
# or ADDR) seen from the gateway host, where every visitor's packet comes
# from.
from_outside() {
	local a=${2:-$VL1}
	connects "${GWPREFIX}n1" "" "$a" "$1" || fail "control: port $1 not listening at $a"
	if connects "${T}g" "" "$a" "$1"; then
		fail "port $1 of link 1's namespace reachable from outside at $a"
	fi
}

@test "from outside, link 1's namespace answers on :80" {
	run -0 nsenter --net="/run/netns/${T}g" curl -s --max-time 2 \
		-H 'Host: app1.example.test' "http://$VL1:80/"
	assert_output --partial "home=app1.example.test"
}

@test "from outside, link 1's namespace answers on :443 over IPv6" {
	run -0 nsenter --net="/run/netns/${T}g" curl -sk --max-time 2 "https://[$VL6_1]:443/"
	assert_output --partial "home=app1.example.test"
}

@test "an IPv6 visitor reaches link 1's home through nginx on :443, with its own address" {
	run -0 visit6 app1.example.test https
	assert_output --partial "home=app1.example.test peer=$VISITOR6 "
}

@test "from outside, link 1's namespace does not answer on :9999" {
	from_outside 9999
}

@test "from outside, link 1's namespace does not answer on :9999 over IPv6" {
	from_outside 9999 "$VL6_1"
}

@test "from outside, link 1's namespace does not answer on :8080" {
	from_outside 8080
}

@test "from outside, link 1's namespace does not answer on :8080 over IPv6" {
	from_outside 8080 "$VL6_1"
}

@test "from outside, link 1's namespace does not answer on :8443" {
	from_outside 8443
}

@test "from outside, link 1's namespace does not answer on :8443 over IPv6" {
	from_outside 8443 "$VL6_1"
}

# direct ADDR PORT CONTROL_NS: reachable from CONTROL_NS, and not from the
# visitor, which has a route to every link address through the gateway
# host: the host forwards no visitor into a link namespace by itself.
direct() {
	connects "$3" "" "$1" "$2" || fail "control: $1:$2 not reachable from $3"
	if connects "${T}i" "" "$1" "$2"; then
		fail "$1:$2 reachable straight from the visitor"
	fi
}

@test "a visitor routed to link 1's veth address reaches nothing there on :9999" {
	direct "$VL1" 9999 "${GWPREFIX}n1"
}

@test "a visitor routed to link 1's veth's IPv6 address reaches nothing there on :9999" {
	direct "$VL6_1" 9999 "${GWPREFIX}n1"
}

@test "a visitor routed to link 1's veth's IPv6 address does not reach the home's :443 but through nginx" {
	direct "$VL6_1" 443 "${T}g"
}

@test "a visitor routed to link 1's IPv6 tunnel address reaches nothing there" {
	direct "$TG6_1" 9999 "${GWPREFIX}n1"
}

@test "a visitor routed to home1's IPv6 tunnel address does not reach the home" {
	direct "$C6_1" 8080 "${T}h1"
}

# across PORT ADDR CONTROL_NS: from link 1's namespace to ADDR:PORT.
across() {
	local before
	connects "$3" "" "$1" "$2" || fail "control: $1:$2 not reachable from $3"
	before=$(seen)
	if connects "${GWPREFIX}n1" "" "$1" "$2"; then
		fail "$1:$2 reachable from link 1's namespace"
	fi
	unseen "$before"
}

@test "link 1's namespace cannot reach link 2's namespace at its veth address" {
	across "$VL2" 9999 "${GWPREFIX}n2"
}

@test "link 1's namespace cannot reach link 2's namespace at its veth's IPv6 address" {
	across "$VL6_2" 9999 "${GWPREFIX}n2"
}

@test "link 1's namespace cannot reach link 2's namespace at its tunnel address" {
	across "$TG2" 9999 "${GWPREFIX}n2"
}

@test "link 1's namespace cannot reach link 2's namespace at its IPv6 tunnel address" {
	across "$TG6_2" 9999 "${GWPREFIX}n2"
}

@test "link 1's namespace cannot reach home2 through link 2's tunnel" {
	across "$C2" 8080 "${T}h2"
}

@test "link 1's namespace cannot reach home2 through link 2's tunnel over IPv6" {
	across "$C6_2" 8080 "${T}h2"
}

# lie SOURCE: home1 sends a ping into its own tunnel from SOURCE.
lie() {
	ip -n "${T}h1" addr add "$1/32" dev "${T}c1"
	ip -n "${T}h1" rule add from "$1" lookup 201
	run ip netns exec "${T}h1" ping -c 2 -W 1 -I "$1" "$TG1"
	ip -n "${T}h1" rule del from "$1" lookup 201
	ip -n "${T}h1" addr del "$1/32" dev "${T}c1"
}

@test "a home that lies about its source (another link's tunnel address) gets nowhere" {
	run -0 ip netns exec "${T}h1" ping -c 1 -W 2 -I "$C1" "$TG1"
	lie "$C2"
	[ "$status" -ne 0 ]
}

@test "a home that lies about its source (a visitor's address) gets nowhere" {
	run -0 ip netns exec "${T}h1" ping -c 1 -W 2 -I "$C1" "$TG1"
	lie "$VISITOR"
	[ "$status" -ne 0 ]
}

# rx1: the packets link 1's WireGuard interface has handed to its namespace.
rx1() {
	ip netns exec "${GWPREFIX}n1" cat "/sys/class/net/$WG1/statistics/rx_packets"
}

# arrived6 SOURCE: sets ARRIVED, how many packets came out of link 1's
# WireGuard interface into its namespace while home1 sent three IPv6
# pings into its tunnel from SOURCE (added to home1's tunnel for the
# while, unless it is home1's own CLIENT6). The count is taken where
# WireGuard hands packets on: whether anything answers them (the
# namespace's firewall drops pings) does not matter.
arrived6() {
	local before
	if [ "$1" != "$C6_1" ]; then
		ip -n "${T}h1" addr add "$1/128" dev "${T}c1" nodad
		ip -n "${T}h1" -6 rule add from "$1" lookup 201
	fi
	before=$(rx1)
	ip netns exec "${T}h1" ping -6 -q -c 3 -i 0.2 -W 1 -I "$1" "$TG6_1" >/dev/null 2>&1 || true
	ARRIVED=$(($(rx1) - before))
	if [ "$1" != "$C6_1" ]; then
		ip -n "${T}h1" -6 rule del from "$1" lookup 201
		ip -n "${T}h1" addr del "$1/128" dev "${T}c1"
	fi
}

@test "a home that lies about its IPv6 source (another link's IPv6 tunnel address) gets nowhere" {
	arrived6 "$C6_1"
	[ "$ARRIVED" -ge 3 ] || fail "control: $ARRIVED of 3 pings from $C6_1 arrived"
	arrived6 "$C6_2"
	assert_equal "$ARRIVED" 0
}

@test "a home that lies about its IPv6 source (a visitor's IPv6 address) gets nowhere" {
	arrived6 "$C6_1"
	[ "$ARRIVED" -ge 3 ] || fail "control: $ARRIVED of 3 pings from $C6_1 arrived"
	arrived6 "$VISITOR6"
	assert_equal "$ARRIVED" 0
}

@test "a home that lies about its IPv6 source (another address of its own link's /64) gets nowhere" {
	arrived6 "$C6_1"
	[ "$ARRIVED" -ge 3 ] || fail "control: $ARRIVED of 3 pings from $C6_1 arrived"
	arrived6 "${C6_1%:2}:3"
	assert_equal "$ARRIVED" 0
}
