#!/usr/bin/env bats
# tunfd: a program in one network namespace, its TUN interface in
# another; with real wireguard-go, whose start must make no link event in
# its own namespace (gateway/linkgate, tun_make).

setup() {
	load common
	H=lgtfh$$ L=lgtfl$$ IF=lgtf$$
	ip netns add "$H"
	ip netns add "$L"
	ip -n "$L" tuntap add dev "$IF" mode tun
	# Up, it has a carrier once a program holds it (LOWER_UP).
	ip -n "$L" link set "$IF" up
}

teardown() {
	local f
	for f in "$BATS_TEST_TMPDIR"/*.pid; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	ip netns del "$H" 2>/dev/null || true
	ip netns del "$L" 2>/dev/null || true
	rm -f "/var/run/wireguard/$IF.sock"
}

@test "tunfd runs the program in its own namespace with the other namespace's TUN interface on fd 3" {
	# shellcheck disable=SC2016 # expanded by the program's shell
	run -0 ip netns exec "$H" "$HELPERS/tunfd" "/run/netns/$L" "$IF" sh -c \
		'echo "fd=$WG_TUN_FD"; readlink /proc/self/ns/net; cat /proc/self/fdinfo/3
		ip -n "$1" -o link show "$2"' sh "$L" "$IF"
	assert_line fd=3
	assert_line "$(ip netns exec "$H" readlink /proc/self/ns/net)"
	assert_line --regexp "^iff:[[:space:]]+$IF\$"
	# Attached, the interface of the other namespace has a carrier.
	assert_output --regexp ": $IF: <[^>]*LOWER_UP"
	refute_output --partial "$(ip netns exec "$L" readlink /proc/self/ns/net)"
}

# monitor NS NAME: "ip monitor link" of namespace NS into
# $BATS_TEST_TMPDIR/NAME.mon, running once it printed a first event
# (a TUN interface lgtfmark made for it).
monitor() {
	local f=$BATS_TEST_TMPDIR/$2.mon
	ip -n "$1" monitor link >"$f" &
	echo $! >"$BATS_TEST_TMPDIR/$2.pid"
	until grep -q lgtfmark "$f"; do
		ip -n "$1" link del lgtfmark 2>/dev/null || :
		ip -n "$1" tuntap add dev lgtfmark mode tun
		sleep 0.1
	done
}

# monitor_end NS NAME: the events of the monitor NAME since its start,
# its own lgtfmark's left out, once it printed that one's removal
# (so every earlier event is in).
monitor_end() {
	local f=$BATS_TEST_TMPDIR/$2.mon
	ip -n "$1" link del lgtfmark
	until grep -q '^Deleted.*lgtfmark' "$f"; do sleep 0.1; done
	kill "$(cat "$BATS_TEST_TMPDIR/$2.pid")"
	rm -f "$BATS_TEST_TMPDIR/$2.pid"
	grep -v lgtfmark "$f" | grep -v '^ *link/' || :
}

@test "wireguard-go started by tunfd makes no link event in its own namespace, only in its interface's" {
	local pid port
	# wireguard-go's stand-in in its own namespace: its name lookups.
	ip -n "$H" tuntap add dev "$IF" mode tun
	ip -n "$H" link set "$IF" mtu 1420
	monitor "$H" host
	monitor "$L" link
	ip netns exec "$H" "$HELPERS/tunfd" "/run/netns/$L" "$IF" wireguard-go "$IF" \
		>/dev/null 2>&1
	pid=$(pgrep -xf "wireguard-go $IF")
	echo "$pid" >"$BATS_TEST_TMPDIR/wg.pid"
	ip netns exec "$H" wg set "$IF" listen-port 0 private-key <(wg genkey) \
		peer "$(wg genkey | wg pubkey)" allowed-ips 10.9.9.2/32
	run -0 ip netns exec "$H" wg show "$IF" listen-port
	port=$output
	[ "$port" -gt 0 ]
	# The UDP socket is the calling namespace's.
	run -0 ip netns exec "$H" ss -Hlun "sport = :$port"
	assert_output --partial "0.0.0.0:$port"
	run -0 monitor_end "$H" host
	assert_output ''
	# The interface itself came up with wireguard-go (its carrier), in
	# the link's namespace: that monitor did see events.
	run -0 monitor_end "$L" link
	assert_output --regexp ": $IF: <[^>]*LOWER_UP"
}

@test "tunfd refuses bad arguments, a missing namespace, interface or program" {
	run -2 "$HELPERS/tunfd" "/run/netns/$L" "$IF"
	assert_output --partial 'usage: tunfd'
	run -2 "$HELPERS/tunfd" "/run/netns/$L" 0123456789abcdef true
	assert_output "tunfd: bad interface name '0123456789abcdef': 1 to 15 bytes"
	run -2 "$HELPERS/tunfd" "/run/netns/$L" '' true
	run -1 "$HELPERS/tunfd" /run/netns/lgtfnone$$ "$IF" true
	assert_output --regexp "^tunfd: /run/netns/lgtfnone$$: No such file"
	run -1 "$HELPERS/tunfd" /etc/passwd "$IF" true
	assert_output "tunfd: /etc/passwd: not a network namespace"
	run -1 "$HELPERS/tunfd" /proc/self/ns/mnt "$IF" true
	assert_output "tunfd: /proc/self/ns/mnt: not a network namespace"
	ip -n "$L" link add lgtfd$$ type veth peer name lgtfe$$
	run -1 "$HELPERS/tunfd" "/run/netns/$L" "lgtfd$$" true
	assert_output --regexp "^tunfd: TUN interface lgtfd$$: "
	run -1 "$HELPERS/tunfd" "/run/netns/$L" "$IF" lgtf-no-such-program
	assert_output --regexp '^tunfd: lgtf-no-such-program: No such file'
	run -0 "$HELPERS/tunfd" --help
	assert_output --partial 'Exit:'
}
