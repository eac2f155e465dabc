#!/usr/bin/env bats
# An upgrade under a running gateway: links made by the code of commit
# e66e92b (version 1 records, exactly as it wrote them), then this code's
# make gateway over the same state, a reboot, and the next record write.
#
#   visitor ── ${T}i ── ${T}g gateway (old code, then this one)
#                     ├── ${T}h1 home1: link old1
#                     └── ${T}h2 home2: link old2

OLD_COMMIT=e66e92b

setup_file() {
	load common
	load lib/net
	export T GWPREFIX WORK=$BATS_FILE_TMPDIR
	mkdir -p "$WORK/old"
	git -C "$REPO" archive "$OLD_COMMIT" | tar -x -C "$WORK/old"
	make -s -C "$WORK/old" all >/dev/null
	net_down
	net_up
	# The old code knows no HELPERS setting.
	HELPERS='' gw_conf
	# gw is the old gateway command until the upgrade.
	gw() {
		nsenter --net="/run/netns/${T}g" env LINKGATE_ROOT="$WORK/root" \
			"$WORK/old/gateway/linkgate" "$@"
	}
	gw setup >/dev/null
	gw start >/dev/null
	link_home old1.example.test h1 1
	link_home old2.example.test h2 2
	cp -a "$WORK/root/var/lib/linkgate/links" "$WORK/v1-records"
	echo "HELPERS=$HELPERS" >>"$WORK/root/etc/linkgate/gateway.conf"
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

@test "the old code wrote version 1 records" {
	run -0 cat "$WORK/root/var/lib/linkgate/links/old1.example.test"
	refute_line --partial VERSION=
	assert_line VETH_LINK=198.18.0.6
}

@test "after the upgrade, make gateway keeps every link running, repairing only the MTU the old code lost, the firewall's new table, wireguard-go's stand-in and the link's new IPv6 addresses" {
	local pids
	pids=$(link_wg_pids | sort)
	run -0 gw start
	refute_output --partial restoring
	# The old code set the MTU before wg set, which wireguard-go undid
	# (at a moment of its own, so the MTU may still have been right); the
	# link's firewall gained the connection cap (ct count) since. Its
	# wireguard-go made its own interface in the host and moved it: the
	# host has no stand-in of that name yet, which its next start needs
	# (tun_make). The link gets its IPv6 addresses, route and
	# forwarding, its peer the IPv6 tunnel address, and its firewall
	# (an inet table now) the IPv6 rules.
	local v6='host veth IPv6 address, link veth IPv6 address, tunnel IPv6 address, IPv6 default route, IPv6 forwarding, peer'
	assert_line --regexp "^linkgate: repairing old1\\.example\\.test: stand-in, (MTU, )?$v6, firewall\$"
	assert_line --regexp "^linkgate: repairing old2\\.example\\.test: stand-in, (MTU, )?$v6, firewall\$"
	assert_equal "$(link_wg_pids | sort)" "$pids"
	run -0 ip -n "${GWPREFIX}n1" -o link show "${GWPREFIX}w1"
	# wireguard-go's interface: a multiple of 16 (tun_mtu).
	assert_output --partial "mtu 1376 "
	run -0 gw start
	refute_output --partial repairing
	for n in 1 2; do
		run -0 visit "old$n.example.test" https
		assert_output --partial "home=old$n.example.test peer=$VISITOR "
	done
	run -0 diff -r "$WORK/v1-records" "$WORK/root/var/lib/linkgate/links"
}

@test "after a reboot, the upgraded gateway brings every link back from version 1 records" {
	local pid
	for pid in $(link_wg_pids); do kill "$pid"; done
	for n in 1 2; do ip netns del "${GWPREFIX}n$n"; done
	run -0 gw start
	assert_output --partial "restoring old1.example.test"
	for n in 1 2; do
		# Each home reconnects as the link client would (home_visit).
		run -0 wait_for 150 home_visit "h$n" "$n" "old$n.example.test" https
		assert_output --partial "home=old$n.example.test peer=$VISITOR "
	done
	run -0 diff -r "$WORK/v1-records" "$WORK/root/var/lib/linkgate/links"
}

@test "the next write of a record upgrades it to version 2, every field kept" {
	local d=$WORK/root/var/lib/linkgate/links/old2.example.test key
	umask 077
	wg genkey >"$WORK/c2new.key"
	key=$(wg pubkey <"$WORK/c2new.key")
	run -0 gw add old2.example.test "$key" --replace
	run -0 cat "$d"
	assert_line --index 0 VERSION=2
	assert_line "CLIENT_KEY=$key"
	assert_line "VETH_LINK_ADDR=$(sed -n 's/^VETH_LINK=//p' "$WORK/v1-records/old2.example.test")"
	for k in NAME INDEX PORT GATEWAY_KEY TUNNEL_GATEWAY TUNNEL_CLIENT WILDCARD MTU OWNER CREATED; do
		assert_line "$(grep "^$k=" "$WORK/v1-records/old2.example.test")"
	done
	ip netns exec "${T}h2" wg set "${T}c2" private-key "$WORK/c2new.key"
	run -0 wait_for 150 visit old2.example.test https
	assert_output --partial "home=old2.example.test "
	run -0 diff "$WORK/v1-records/old1.example.test" \
		"$WORK/root/var/lib/linkgate/links/old1.example.test"
}
