#!/usr/bin/env bats
# nsstate: one process reads every link namespace (links, addresses, the
# default route, forwarding, the nftables table), checked against a real
# namespace and against ip and nft themselves.

setup() {
	load common
	NS=lgns$$
	OUT=$BATS_TEST_TMPDIR/out
	mkdir -p "$OUT"
	ip netns add "$NS"
	ip -n "$NS" link set lo up
	ip -n "$NS" link add qa type veth peer name qb
	ip -n "$NS" addr add 10.9.0.1/30 dev qa
	ip -n "$NS" link set qa mtu 1400 up
	ip -n "$NS" route add default via 10.9.0.2
	printf '%s\n' 'table inet lgnslink {' ' chain input {' \
		'  type filter hook input priority filter; policy drop;' \
		'  iifname "lo" accept' ' }' '}' | ip netns exec "$NS" nft -f -
}

teardown() {
	ip netns del "$NS" 2>/dev/null || true
}

@test "nsstate writes a namespace's links, addresses, route, forwarding and table" {
	ip netns exec "$NS" sysctl -qw net.ipv4.ip_forward=1
	run -0 "$HELPERS/nsstate" "$OUT" lgnslink "$NS"
	run -0 cat "$OUT/n.$NS"
	assert_line --regexp '^link lo up=1 lower=1 oper=unknown mtu=65536$'
	# qb is down, so qa has no carrier.
	assert_line 'link qa up=1 lower=0 oper=lowerlayerdown mtu=1400'
	assert_line 'link qb up=0 lower=0 oper=down mtu=1500'
	assert_line 'addr qa 10.9.0.1/30'
	assert_line 'route default via 10.9.0.2 dev qa'
	assert_line 'forward 1'
	assert_line 'forward6 0'
	# The table above loads conntrack in the namespace; ping makes an entry.
	ip netns exec "$NS" ping -c 1 -W 1 127.0.0.1 >/dev/null
	run -0 "$HELPERS/nsstate" "$OUT" lgnslink "$NS"
	assert_equal "$(sed -n 's/^conntrack //p' "$OUT/n.$NS")" \
		"$(ip netns exec "$NS" cat /proc/sys/net/netfilter/nf_conntrack_count)"
	run -0 cat "$OUT/n.$NS"
	diff <(ip netns exec "$NS" nft list table inet lgnslink) \
		<(sed -n 's/^nft //p' "$OUT/n.$NS")
}

@test "nsstate writes a namespace's global IPv6 addresses and IPv6 default route, not its link-local ones" {
	ip -n "$NS" addr add fd12:3456:789a:5::2/126 dev qa nodad
	ip -n "$NS" route add default via fd12:3456:789a:5::1
	ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.forwarding=1
	# With a carrier, qa gets its link-local address too.
	ip -n "$NS" link set qb up
	for _ in $(seq 30); do
		ip -n "$NS" -6 addr show dev qa | grep -q 'inet6 fe80::' && break
		sleep 0.1
	done
	ip -n "$NS" -6 addr show dev qa | grep -q 'inet6 fe80::'
	run -0 "$HELPERS/nsstate" "$OUT" lgnslink "$NS"
	run -0 cat "$OUT/n.$NS"
	assert_line 'addr qa fd12:3456:789a:5::2/126'
	assert_line 'route default via fd12:3456:789a:5::1 dev qa'
	assert_line 'forward6 1'
	# qa's link-local address (ip shows it) is left out.
	refute_line --partial 'fe80::'
}

@test "nsstate sees forwarding off, a missing table, and no file for a missing namespace" {
	run -0 "$HELPERS/nsstate" "$OUT" nosuchtable "$NS" lgnsmissing$$
	run -0 cat "$OUT/n.$NS"
	assert_line 'forward 0'
	refute_line --partial 'nft '
	[ ! -e "$OUT/n.lgnsmissing$$" ]
}

@test "nsstate refuses bad names and arguments" {
	run -1 "$HELPERS/nsstate" "$OUT" lgnslink ../etc
	assert_output --partial "bad namespace name '../etc'"
	run -2 "$HELPERS/nsstate" "$OUT" 'bad;table' "$NS"
	run -2 "$HELPERS/nsstate" "$OUT"
	run -0 "$HELPERS/nsstate" --help
	assert_output --partial "usage: nsstate"
}
