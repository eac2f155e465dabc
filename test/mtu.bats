#!/usr/bin/env bats
# The tunnel MTU: the gateway keeps the MTU its records say, and the link
# client measures what its uplink carries and sets the tunnel's MTU from it.
#
#   visitor ── ${T}i bridge ──┬── ${T}g gateway (nginx, link namespaces)
#                             └── ph1 ── ${T}h1 home1: link client, apps
#   The home's uplink is made smaller by lowering the MTU of its eth0 and of
#   its bridge port ph1 (the bridge drops larger frames without a word), and
#   ICMP is dropped on the way, as behind PPPoE, DS-Lite or a mobile uplink.

setup_file() {
	load common
	load lib/net
	export T GWPREFIX WORK=$BATS_FILE_TMPDIR GWPORTS=47000-47099
	gateway_up
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

# wg_log_new: the lines wireguard-go logged since wg_log_mark.
wg_log_mark() {
	touch "$WORK/root/var/log/linkgate/wireguard-go.log"
	wc -l <"$WORK/root/var/log/linkgate/wireguard-go.log" >"$WORK/wg-log-mark"
}
wg_log_new() {
	tail -n +"$(($(cat "$WORK/wg-log-mark") + 1))" "$WORK/root/var/log/linkgate/wireguard-go.log"
}

# link_field NAME KEY: one field of a link's record.
link_field() {
	"$HELPERS/routemap" get "$WORK/root/var/lib/linkgate/links/$1" "$2"
}

@test "after 40 parallel adds every link's interface and its wireguard-go have the record's MTU" {
	local i n=40 bad=0 name mtu want idx wg
	wg_log_mark
	# LOG_LEVEL=verbose reaches wireguard-go, which then logs "MTU updated".
	for i in $(seq "$n"); do
		LOG_LEVEL=verbose gw add "p$i.example.test" "$(wg genkey | wg pubkey)" \
			--mtu $((1280 + i)) >"$WORK/padd$i.out" 2>&1 &
	done
	wait
	for i in $(seq "$n"); do
		name=p$i.example.test
		grep -q '^ok' "$WORK/padd$i.out" || fail "add $i: $(cat "$WORK/padd$i.out")"
		want=$(link_field "$name" MTU)
		idx=$(link_field "$name" INDEX)
		wg=${GWPREFIX}w$idx
		mtu=$(ip netns exec "${GWPREFIX}n$idx" cat "/sys/class/net/$wg/mtu")
		if [ "$mtu" != "$want" ]; then
			echo "$name: interface $mtu, record $want"
			bad=$((bad + 1))
			continue
		fi
		mtu=$(wg_log_new | grep -F "($wg) " | grep 'MTU updated' | tail -1)
		if [ "${mtu##* }" != "$want" ]; then
			echo "$name: wireguard-go's last MTU: '$mtu', record $want"
			bad=$((bad + 1))
		fi
	done
	echo "$((n - bad)) of $n links with their record's MTU"
	wg_log_new | grep 'Failed to load updated MTU' && bad=$((bad + 1))
	[ "$bad" -eq 0 ]
	for i in $(seq "$n"); do gw remove "p$i.example.test" >/dev/null; done
}

@test "status shows the record's MTU and the interface's own, which can differ" {
	gw add st.example.test "$(wg genkey | wg pubkey)" --mtu 1360 >/dev/null
	run -0 gw status st.example.test
	assert_line --index 0 --regexp ' MTU +IF_MTU$'
	assert_line --index 1 --regexp '^st\.example\.test +up .* 1360 +1360$'
	idx=$(link_field st.example.test INDEX)
	ip -n "${GWPREFIX}n$idx" link set "${GWPREFIX}w$idx" mtu 1420
	run -0 gw status st.example.test
	assert_line --index 1 --regexp '^st\.example\.test +up .* 1360 +1420$'
	gw remove st.example.test >/dev/null
}
