#!/usr/bin/env bats
# The isolation matrix, one test a cell. Every target runs a listener that
# a control request from a legitimate place does reach, so "blocked" is
# never true only because nothing listens.
#
#   home1 (link 1) and home2 (link 2), each with a plain WireGuard peer;
#   listeners on :9999 in the gateway host, in both link namespaces, at
#   home2, and on "the internet" (10.77.0.1 and 203.0.113.10, reachable
#   from the gateway host by its default route).

setup_file() {
	load common
	load lib/net
	export T GWPREFIX WORK=$BATS_FILE_TMPDIR
	gateway_up
	link_home app1.example.test h1 1
	link_home app2.example.test h2 2
	ip -n "${T}g" route add default via "$VISITOR"
	ip -n "${T}i" addr add 203.0.113.10/32 dev br0
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
	local r=$WORK/root/var/lib/linkgate/links
	for n in 1 2; do
		eval "VG$n=\$($HELPERS/record get $r/app$n.example.test VETH_GATEWAY_ADDR)"
		eval "VL$n=\$($HELPERS/record get $r/app$n.example.test VETH_LINK_ADDR)"
		eval "TG$n=\$($HELPERS/record get $r/app$n.example.test TUNNEL_GATEWAY)"
		eval "C$n=\$($HELPERS/record get $r/app$n.example.test TUNNEL_CLIENT)"
	done
}

# listener NAME [PORT PORT] -- COMMAND PREFIX...: the echo app on every
# address, on 9999 and 9998 unless told.
listener() {
	local name=$1 ports=(9999 9998)
	shift
	if [ $# -ge 2 ] && [[ ${*: -1} =~ ^[0-9]+$ ]]; then
		ports=("${@: -2}")
		set -- "${@:1:$#-2}"
	fi
	"$@" python3 "$REPO/test/apps/echo.py" 0.0.0.0 "$name" "$WORK/app.crt" \
		"$WORK/app.key" "${ports[@]}" >"$WORK/listener-$name.log" 2>&1 &
	echo $! >"$WORK/listener-$name.pid"
	wait_for 50 grep -q ready "$WORK/listener-$name.log"
}

# connects NS SOURCE ADDR PORT: whether a TCP connection from SOURCE (""
# for any) in namespace NS (a full name) to ADDR:PORT is established.
connects() {
	local t
	t=$(ip netns exec "$1" curl -s -o /dev/null --max-time 1 -w '%{time_connect}' \
		${2:+--interface "$2"} "http://$3:$4/" 2>/dev/null)
	[ -n "$t" ] && [ "$t" != 0.000000 ]
}

# cell ADDR PORT CONTROL_NS: reachable from CONTROL_NS, and not from home1
# through its tunnel.
cell() {
	connects "$3" "" "$1" "$2" || fail "control: $1:$2 not reachable from $3"
	if connects "${T}h1" "$C1" "$1" "$2"; then
		fail "$1:$2 reachable from home1's tunnel"
	fi
}

@test "home1's tunnel cannot reach the gateway host's sshd" {
	cell "$GATEWAY" 22 "${T}i"
}

@test "home1's tunnel cannot reach the gateway host's nginx on :80" {
	cell "$GATEWAY" 80 "${T}i"
}

@test "home1's tunnel cannot reach the gateway host's nginx on :443" {
	cell "$GATEWAY" 443 "${T}i"
}

@test "home1's tunnel cannot reach nginx on the gateway's side of its own veth" {
	cell "$VG1" 80 "${T}g"
}

@test "home1's tunnel cannot reach a gateway host service on its public address" {
	cell "$GATEWAY" 9999 "${T}g"
}

@test "home1's tunnel cannot reach a gateway host service on its own veth address" {
	cell "$VG1" 9999 "${T}g"
}

@test "home1's tunnel cannot reach a gateway host service on link 2's veth address" {
	cell "$VG2" 9999 "${T}g"
}

@test "home1's tunnel cannot reach a service in its own link namespace at the tunnel address" {
	cell "$TG1" 9999 "${GWPREFIX}n1"
}

@test "home1's tunnel cannot reach a service in its own link namespace at the veth address" {
	cell "$VL1" 9999 "${GWPREFIX}n1"
}

@test "home1's tunnel cannot reach link 2's namespace at its veth address" {
	cell "$VL2" 9999 "${GWPREFIX}n2"
}

@test "home1's tunnel cannot reach link 2's namespace at its tunnel address" {
	cell "$TG2" 9999 "${GWPREFIX}n2"
}

@test "home1's tunnel cannot reach home2 through home2's tunnel" {
	cell "$C2" 8080 "${T}h2"
}

@test "home1's tunnel cannot reach home2's own network" {
	cell 10.77.0.4 9999 "${T}h2"
}

@test "home1's tunnel cannot reach the visitor network" {
	cell "$VISITOR" 9999 "${T}i"
}

@test "home1's tunnel cannot reach the internet beyond the gateway" {
	cell 203.0.113.10 9999 "${T}g"
}

# from_outside PORT: a link namespace's port seen from the gateway host,
# where every visitor's packet comes from.
from_outside() {
	connects "${GWPREFIX}n1" "" "$VL1" "$1" || fail "control: port $1 not listening"
	if connects "${T}g" "" "$VL1" "$1"; then
		fail "port $1 of link 1's namespace reachable from outside"
	fi
}

@test "from outside, link 1's namespace answers on :80" {
	run -0 nsenter --net="/run/netns/${T}g" curl -s --max-time 2 \
		-H 'Host: app1.example.test' "http://$VL1:80/"
	assert_output --partial "home=app1.example.test"
}

@test "from outside, link 1's namespace does not answer on :9999" {
	from_outside 9999
}

@test "from outside, link 1's namespace does not answer on :8080" {
	from_outside 8080
}

@test "from outside, link 1's namespace does not answer on :8443" {
	from_outside 8443
}

# across PORT ADDR CONTROL_NS: from link 1's namespace to ADDR:PORT.
across() {
	connects "$3" "" "$1" "$2" || fail "control: $1:$2 not reachable from $3"
	if connects "${GWPREFIX}n1" "" "$1" "$2"; then
		fail "$1:$2 reachable from link 1's namespace"
	fi
}

@test "link 1's namespace cannot reach link 2's namespace at its veth address" {
	across "$VL2" 9999 "${GWPREFIX}n2"
}

@test "link 1's namespace cannot reach link 2's namespace at its tunnel address" {
	across "$TG2" 9999 "${GWPREFIX}n2"
}

@test "link 1's namespace cannot reach home2 through link 2's tunnel" {
	across "$C2" 8080 "${T}h2"
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
