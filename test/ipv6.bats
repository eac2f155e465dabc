#!/usr/bin/env bats
# Per-link IPv6 at the gateway, with plain WireGuard peers at home: the
# link's addresses from IPV6_POOL, add --ipv6 and its answer, the record's
# HOME6, and where an IPv6 visitor on :443 lands, from which address.
#
#   visitor fd77::1 ── ${T}g gateway fd77::2
#                     ├── ${T}h1 home1: link v6.example.test (--ipv6)
#                     └── ${T}h2 home2: link v4.example.test (no --ipv6)

setup_file() {
	load common
	load lib/net
	export T GWPREFIX WORK=$BATS_FILE_TMPDIR
	gateway_up
	link_home v6.example.test h1 1 --ipv6
	link_home v4.example.test h2 2
}

teardown_file() {
	load common
	load lib/net
	net_down
}

setup() {
	load common
	load lib/net
}

# field NAME KEY: KEY of NAME's record.
field() {
	"$HELPERS/record" get "$WORK/root/var/lib/linkgate/links/$1" "$2"
}

# pool: the gateway's IPV6_POOL, without "::/48".
pool() {
	sed -n 's/^IPV6_POOL=\(.*\)::\/48$/\1/p' "$WORK/root/etc/linkgate/gateway.conf"
}

@test "make setup chose a unique local /48 for the links and keeps it in gateway.conf" {
	run -0 grep -c '^IPV6_POOL=' "$WORK/root/etc/linkgate/gateway.conf"
	assert_output 1
	run -0 pool
	assert_output --regexp '^fd[0-9a-f]{2}:[1-9a-f][0-9a-f]{0,3}:[1-9a-f][0-9a-f]{0,3}$'
	local before
	before=$(pool)
	run -0 gw start
	assert_equal "$(pool)" "$before"
}

@test "add --ipv6 answers the IPv6 tunnel addresses of the link's /64 after the MTU, and records HOME6=1" {
	local p f
	p=$(pool):$(printf %x "$(field v6.example.test INDEX)")
	IFS=$'\t' read -r -a f <"$WORK/add1.out"
	assert_equal "${#f[@]}" 8
	assert_equal "${f[6]}" "$p::1:2"
	assert_equal "${f[7]}" "$p::1:1"
	assert_equal "$(field v6.example.test HOME6)" 1
	run -0 cat "$WORK/root/run/linkgate/routes/v6.example.test"
	assert_output "link_$(field v6.example.test INDEX) $(field v6.example.test VETH_LINK_ADDR):443 0 [$p::2]:443"
}

@test "add without --ipv6 answers six fields, records HOME6=0 and routes IPv4 only" {
	IFS=$'\t' read -r -a f <"$WORK/add2.out"
	assert_equal "${#f[@]}" 6
	assert_equal "$(field v4.example.test HOME6)" 0
	run -0 cat "$WORK/root/run/linkgate/routes/v4.example.test"
	assert_output "link_$(field v4.example.test INDEX) $(field v4.example.test VETH_LINK_ADDR):443 0"
}

@test "every link has its IPv6 addresses on both veth ends and its tunnel, and its peer owns the home's IPv6 tunnel address" {
	# Not i: bats-assert's functions set an i of their own (bash's
	# dynamic scope reaches a caller's local).
	local n idx p
	for n in v6 v4; do
		idx=$(field "$n.example.test" INDEX)
		p=$(pool):$(printf %x "$idx")
		run -0 ip -n "${T}g" -6 -o addr show dev "${GWPREFIX}g$idx"
		assert_output --partial "inet6 $p::1/126 "
		run -0 ip netns exec "${GWPREFIX}n$idx" ip -6 -o addr show dev "${GWPREFIX}l$idx"
		assert_output --partial "inet6 $p::2/126 "
		run -0 ip netns exec "${GWPREFIX}n$idx" ip -6 -o addr show dev "${GWPREFIX}w$idx"
		assert_output --partial "inet6 $p::1:1/126 "
		run -0 ip netns exec "${GWPREFIX}n$idx" ip -6 route show default
		assert_output --partial "via $p::1 dev ${GWPREFIX}l$idx"
		run -0 wg show "${GWPREFIX}w$idx" allowed-ips
		assert_output --partial "$(field "$n.example.test" TUNNEL_CLIENT)/32 $p::1:2/128"
	done
}

@test "an IPv6 visitor on :443 reaches a home that speaks IPv6 from its own address" {
	run -0 visit6 v6.example.test https
	assert_output --partial "home=v6.example.test peer=$VISITOR6 "
	# Control: the IPv4 visitor as before.
	run -0 visit v6.example.test https
	assert_output --partial "home=v6.example.test peer=$VISITOR "
}

@test "an IPv6 visitor on :443 reaches a home that did not ask for IPv6 over IPv4, from the gateway's veth address" {
	run -0 visit6 v4.example.test https
	assert_output --partial "home=v4.example.test peer=$(field v4.example.test VETH_GATEWAY_ADDR) "
}

@test "an IPv6 visitor on :80 reaches either home over IPv4 with its own address in X-Forwarded-For" {
	local n
	for n in v6 v4; do
		run -0 visit6 "$n.example.test"
		assert_output --partial "home=$n.example.test peer=$(field "$n.example.test" TUNNEL_GATEWAY) xff=$VISITOR6 "
	done
}

@test "a replace without --ipv6 sends the link's IPv6 visitors over IPv4 again, and one with --ipv6 back" {
	local key v=v6.example.test
	key=$(wg pubkey <"$WORK/c1.key")
	run -0 gw add "$v" "$key" --replace
	assert_equal "$(field "$v" HOME6)" 0
	run -0 visit6 "$v" https
	assert_output --partial "home=$v peer=$(field "$v" VETH_GATEWAY_ADDR) "
	run -0 gw add "$v" "$key" --replace --ipv6
	assert_equal "$(field "$v" HOME6)" 1
	IFS=$'\t' read -r -a f <<<"$output"
	assert_equal "${#f[@]}" 8
	run -0 visit6 "$v" https
	assert_output --partial "home=$v peer=$VISITOR6 "
}

@test "make gateway repairs a link's lost IPv6 addresses and route without touching its tunnel" {
	local idx p pid
	idx=$(field v6.example.test INDEX)
	p=$(pool):$(printf %x "$idx")
	pid=$(link_wg_pids | sort | head -n 1)
	ip -n "${T}g" addr del "$p::1/126" dev "${GWPREFIX}g$idx"
	ip -n "${GWPREFIX}n$idx" -6 route del default
	ip -n "${GWPREFIX}n$idx" addr del "$p::1:1/126" dev "${GWPREFIX}w$idx"
	run -0 gw start
	assert_line "linkgate: repairing v6.example.test: host veth IPv6 address, tunnel IPv6 address, IPv6 default route"
	assert_equal "$(link_wg_pids | sort | head -n 1)" "$pid"
	run -0 visit6 v6.example.test https
	assert_output --partial "home=v6.example.test peer=$VISITOR6 "
	run -0 gw start
	refute_output --partial repairing
}

@test "a bad IPV6_POOL in gateway.conf is refused by name, and changes nothing" {
	local conf=$WORK/root/etc/linkgate/gateway.conf pool bad
	cp "$conf" "$WORK/conf.good"
	pool=$(pool)
	for bad in fd00::/48 2001:db8:77::/48 fd1:3456:789a::/48 fd12:3456:789a::/64 FD12:3456:789A::/48 fd12:0:1::/48 \
		fd12:0345:6789::/48 'fd12:3456:789a::/48;x' fd12:3456:789a:1::/48; do
		sed -i "s|^IPV6_POOL=.*|IPV6_POOL=$bad|" "$conf"
		run -1 gw start
		assert_output --partial "bad IPV6_POOL '$bad'"
	done
	cp "$WORK/conf.good" "$conf"
	run -0 gw start
	assert_equal "$(pool)" "$pool"
}

# route NAME: NAME's route file.
route() {
	cat "$WORK/root/run/linkgate/routes/$1"
}

# settled NAME: whether NAME's record has no grace period (no
# PREV_CLIENT_KEY).
settled() {
	[ -z "$(field "$1" PREV_CLIENT_KEY)" ]
}

@test "a link made without --ipv6 keeps serving its IPv6 visitors through the old key during a --replace --ipv6 grace period, across make gateway" {
	local v=g4.example.test f
	link_home "$v" h2 3
	# Control: its IPv6 visitors come over IPv4, from the veth address.
	run -0 visit6 "$v" https
	assert_output --partial "home=$v peer=$(field "$v" VETH_GATEWAY_ADDR) "
	umask 077
	wg genkey >"$WORK/c4.key"
	run -0 gw add "$v" "$(wg pubkey <"$WORK/c4.key")" --replace --ipv6
	echo "$output" >"$WORK/add4.out"
	IFS=$'\t' read -r -a f <<<"$output"
	assert_equal "${#f[@]}" 8
	# The old key (an IPv4-only home) holds the address: IPv4 routes.
	run -0 visit6 "$v" https
	assert_output --partial "home=$v peer=$(field "$v" VETH_GATEWAY_ADDR) "
	run -0 route "$v"
	assert_output "link_$(field "$v" INDEX) $(field "$v" VETH_LINK_ADDR):443 0"
	assert_equal "$(field "$v" HOME6)" 1
	assert_equal "$(field "$v" PREV_HOME6)" 0
	run -0 gw start
	run -0 route "$v"
	assert_output "link_$(field "$v" INDEX) $(field "$v" VETH_LINK_ADDR):443 0"
	run -0 visit6 "$v" https
	assert_output --partial "home=$v peer=$(field "$v" VETH_GATEWAY_ADDR) "
}

@test "once the new key of a --replace --ipv6 shakes hands, its IPv6 visitors reach the home from their own address" {
	local v=g4.example.test ns=${T}h2 wg=${T}c3 f
	IFS=$'\t' read -r -a f <"$WORK/add4.out"
	# Control: still in the grace period, over IPv4.
	assert_equal "$(field "$v" PREV_CLIENT_KEY)" "$(wg pubkey <"$WORK/c3.key")"
	# The home takes the new key and its IPv6 tunnel address.
	kill "$(cat "$WORK/app-$v.pid")"
	ip netns exec "$ns" wg set "$wg" private-key "$WORK/c4.key"
	ip -n "$ns" addr add "${f[6]}/128" dev "$wg" nodad
	ip -n "$ns" -6 rule add from "${f[6]}" lookup 203
	ip -n "$ns" -6 route add default dev "$wg" table 203
	echo_app h2 "${f[3]},${f[6]}" "$v"
	# A handshake now, as the link client's reconnect does (home_reconnect).
	ip netns exec "$ns" wg set "$wg" peer "${f[1]}" remove
	ip netns exec "$ns" wg set "$wg" peer "${f[1]}" allowed-ips 0.0.0.0/0,::/0 \
		endpoint "${f[2]}" persistent-keepalive 1
	run -0 wait_for 100 settled "$v"
	assert_equal "$(field "$v" PREV_HOME6)" 0
	run -0 route "$v"
	assert_output "link_$(field "$v" INDEX) $(field "$v" VETH_LINK_ADDR):443 0 [${f[6]%:1:2}:2]:443"
	run -0 visit6 "$v" https
	assert_output --partial "home=$v peer=$VISITOR6 "
}

@test "a link made with --ipv6 keeps sending its IPv6 visitors to the old key's home from their own address during a --replace grace period without --ipv6" {
	local v=g4.example.test f
	# Control: the link's home speaks IPv6 (the test above).
	run -0 visit6 "$v" https
	assert_output --partial "home=$v peer=$VISITOR6 "
	run -0 gw add "$v" "$(wg genkey | wg pubkey)" --replace
	IFS=$'\t' read -r -a f <<<"$output"
	assert_equal "${#f[@]}" 6
	run -0 visit6 "$v" https
	assert_output --partial "home=$v peer=$VISITOR6 "
	assert_equal "$(field "$v" HOME6)" 0
	assert_equal "$(field "$v" PREV_HOME6)" 1
	run -0 gw start
	run -0 visit6 "$v" https
	assert_output --partial "home=$v peer=$VISITOR6 "
}

@test "the health check does not call a link up whose home asked for --ipv6 but cannot answer its IPv6 visitors" {
	local f
	umask 077
	wg genkey >"$WORK/c6.key"
	gw add liar6.example.test "$(wg pubkey <"$WORK/c6.key")" --ipv6 >"$WORK/add6.out"
	IFS=$'\t' read -r -a f <"$WORK/add6.out"
	# Its peer and app have the IPv4 tunnel address only.
	home_peer h1 6 "$WORK/c6.key" "${f[1]}" "${f[2]}" "${f[3]}"
	echo_app h1 "${f[3]}" liar6.example.test
	run -0 visit liar6.example.test https
	assert_output --partial "home=liar6.example.test"
	gw health >/dev/null 2>&1 || true
	run -0 gw status liar6.example.test
	assert_line --regexp '^liar6\.example\.test +up .* down +.* yes .*IPv6: '
	# Controls: a home that answers IPv6 is up, and so is one without.
	run -0 gw status v4.example.test
	assert_line --regexp '^v4\.example\.test +up .* up +'
	run -0 gw status v6.example.test
	assert_line --regexp '^v6\.example\.test +up .* up +'
}

@test "an IPV6_POOL that overlaps a route of the gateway host is refused by make setup, which names the route" {
	local conf=$WORK/root/etc/linkgate/gateway.conf
	cp "$conf" "$WORK/conf.good"
	# Control: the gateway's own pool passes.
	run -0 gw setup
	ip -n "${T}g" -6 route add fd77:1::/32 via "$VISITOR6"
	sed -i 's|^IPV6_POOL=.*|IPV6_POOL=fd77:1:1::/48|' "$conf"
	run gw setup
	ip -n "${T}g" -6 route del fd77:1::/32 via "$VISITOR6"
	cp "$WORK/conf.good" "$conf"
	assert_failure 1
	assert_output --partial "linkgate: IPV6_POOL fd77:1:1::/48 overlaps the route to fd77:1::/32"
	run -0 visit6 v6.example.test https
}

@test "make setup reads blackhole, unreachable and multipath routes: one over a pool is refused, the others pass without noise" {
	local conf=$WORK/root/etc/linkgate/gateway.conf
	cp "$conf" "$WORK/conf.good"
	# Outside every pool: setup passes, and says nothing of them.
	ip -n "${T}g" route add blackhole 10.250.0.0/16
	ip -n "${T}g" route add 10.251.0.0/16 nexthop via "$VISITOR" nexthop via 10.77.0.3
	ip -n "${T}g" -6 route add unreachable fd78::/32
	run gw setup
	local st=$status out=$output
	ip -n "${T}g" route del blackhole 10.250.0.0/16
	ip -n "${T}g" route del 10.251.0.0/16
	ip -n "${T}g" -6 route del unreachable fd78::/32
	[ "$st" = 0 ] || fail "setup: exit $st: $out"
	refute_output --partial "parameter not set"
	# A blackhole over both IPv4 pools (the defaults, 198.18.0.0/16 and
	# 198.19.0.0/16) is a route like any other.
	ip -n "${T}g" route add blackhole 198.18.0.0/15
	run gw setup
	ip -n "${T}g" route del blackhole 198.18.0.0/15
	assert_failure 1
	assert_output --partial "linkgate: pool 198.18.0.0/16 overlaps the route to 198.18.0.0/15"
	# An unreachable route over the IPv6 pool too.
	ip -n "${T}g" -6 route add unreachable "$(pool)::/48"
	run gw setup
	ip -n "${T}g" -6 route del unreachable "$(pool)::/48"
	cp "$WORK/conf.good" "$conf"
	assert_failure 1
	assert_output --partial "overlaps the route to $(pool)::/48"
	run -0 visit6 v6.example.test https
}

@test "a changed IPV6_POOL moves every link's IPv6 addresses at make gateway, and leaves none of the old pool" {
	local conf=$WORK/root/etc/linkgate/gateway.conf old idx ns host
	cp "$conf" "$WORK/conf.good"
	old=$(pool)
	idx=$(field v6.example.test INDEX)
	sed -i 's|^IPV6_POOL=.*|IPV6_POOL=fd99:1:2::/48|' "$conf"
	run gw start
	local st=$status out=$output
	host=$(ip -n "${T}g" -6 -o addr)
	ns=$(ip -n "${GWPREFIX}n$idx" -6 -o addr)
	cp "$WORK/conf.good" "$conf"
	[ "$st" = 0 ] || fail "make gateway: exit $st: $out"
	# Control: the new pool's addresses are there.
	[[ $host == *"fd99:1:2:$(printf %x "$idx")::1/126"* ]] || fail "no new address: $host"
	[[ $ns == *"fd99:1:2:$(printf %x "$idx")::1:1/126"* ]] || fail "no new tunnel address: $ns"
	[[ $host != *"$old:"* ]] || fail "the host keeps the old pool's addresses: $host"
	[[ $ns != *"$old:"* ]] || fail "the link namespace keeps the old pool's addresses: $ns"
	# Back to the old pool: the links serve their IPv6 visitors again.
	run -0 gw start
	wait_for 50 visit6 v6.example.test https
	run -0 visit6 v6.example.test https
	assert_output --partial "home=v6.example.test peer=$VISITOR6 "
}

@test "an empty IPV6_POOL= line in gateway.conf is replaced by a drawn pool, not followed by a second line" {
	local conf=$WORK/root/etc/linkgate/gateway.conf
	cp "$conf" "$WORK/conf.good"
	sed -i 's|^IPV6_POOL=.*|IPV6_POOL=|' "$conf"
	run -0 gw start
	run -0 grep -c '^IPV6_POOL=' "$conf"
	local n=$output drawn
	drawn=$(pool)
	cp "$WORK/conf.good" "$conf"
	run -0 gw start
	assert_equal "$n" 1
	[[ $drawn == fd* ]] || fail "no pool drawn: '$drawn'"
	# Control: the links are served from the kept pool again.
	run -0 visit6 v6.example.test https
	assert_output --partial "home=v6.example.test peer=$VISITOR6 "
}

# Last: it takes the gateway host's IPv6 away, then gives it back.
@test "a gateway host with IPv6 switched off by sysctl still starts, adds links (--ipv6 answered as IPv4 only) and serves IPv4" {
	local g="ip netns exec ${T}g" f k
	$g sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	k=$(wg genkey | wg pubkey)
	run gw add off6.example.test "$k" --ipv6
	local st=$status out=$output
	run gw start
	local st2=$status out2=$output
	run visit v4.example.test https
	local st3=$status out3=$output
	gw remove off6.example.test >/dev/null 2>&1 || :
	$g sysctl -qw net.ipv6.conf.all.disable_ipv6=0
	ip -n "${T}g" addr replace "$GATEWAY6/64" dev eth0 nodad
	ip -n "${T}g" -6 route replace default via "$VISITOR6" dev eth0
	run -0 gw start
	[ "$st" = 0 ] || fail "add --ipv6: exit $st: $out"
	IFS=$'\t' read -r -a f <<<"$out"
	assert_equal "${#f[@]}" 6
	[ "$st2" = 0 ] || fail "make gateway: exit $st2: $out2"
	[ "$st3" = 0 ] || fail "IPv4 visitor: exit $st3: $out3"
	[[ $out3 == *"home=v4.example.test"* ]] || fail "IPv4 visitor: $out3"
	# Control: with IPv6 back, make gateway serves IPv6 visitors again
	# (once nginx, reloaded, listens on [::]:443 again).
	wait_for 50 visit6 v6.example.test https
	run -0 visit6 v6.example.test https
	assert_output --partial "home=v6.example.test peer=$VISITOR6 "
}

# held6: whether nginx holds an established IPv6 connection to a link's :443.
held6() {
	[ -n "$(ip netns exec "${T}g" ss -Htn6 state established '( dport = :443 )')" ]
}

@test "removing a link ends nginx's IPv6 connections to it at once" {
	ip netns exec "${T}i" sh -c "sleep 20 | openssl s_client -quiet -connect '[$GATEWAY6]:443' \
		-servername v6.example.test" >/dev/null 2>&1 3>&- &
	echo $! >"$WORK/held6.pid"
	wait_for 50 held6
	gw remove v6.example.test >/dev/null
	run held6
	kill "$(cat "$WORK/held6.pid")" 2>/dev/null || true
	assert_failure
}
