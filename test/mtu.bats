#!/usr/bin/env bats
# The tunnel MTU: the gateway keeps the MTU its records say, and the link
# client measures what its uplink carries and sets the tunnel's MTU from it.
#
#   visitor ── ${T}i bridge ──┬── ${T}g gateway (nginx, link namespaces)
#                             └── ph1 ── ${T}h1 home1: link client, apps
#   The home's uplink is made smaller by lowering the MTU of its eth0 and of
#   its bridge port ph1 (the bridge drops larger frames without a word), and
#   ICMP is dropped on the way, as behind PPPoE, DS-Lite or a mobile uplink.
#   ph1 gets no UDP segmentation offload (ethtool), as a real NIC.

setup_file() {
	load common
	load lib/net
	export T GWPREFIX WORK=$BATS_FILE_TMPDIR GWPORTS=47000-47099
	gateway_up
	echo_app h1 127.0.0.1 app-h1 9080 9443
	mkdir -p "$WORK/h1"
	ip netns exec "${T}h1" env SSH_KEY="$WORK/alice" \
		KNOWN_HOSTS="$WORK/known_hosts" SSH_OPTS="-o LogLevel=ERROR" \
		LINK_DIR="$WORK/h1" "$REPO/bin/link" "root@$GATEWAY" up.example.test \
		127.0.0.1:9080 >/dev/null
	no_icmp
	# wireguard-go sends bulk as UDP GSO batches, which veths and bridges
	# pass whole, MTU or not; a real uplink's NIC sends them as frames.
	ip netns exec "${T}i" ethtool -K ph1 tx-udp-segmentation off >/dev/null
	head -c 1048576 /dev/urandom >"$WORK/1mib"
}

# no_icmp: no ICMP crosses the internet's bridge, and the home neither
# sends nor takes any on its uplink: no "fragmentation needed" ever
# tells anyone that a packet was too big.
no_icmp() {
	ip netns exec "${T}i" nft -f - <<-NFT
	table bridge ${T}icmp {
		chain forward {
			type filter hook forward priority filter; policy accept;
			ip protocol icmp counter drop
		}
	}
	NFT
	ip netns exec "${T}h1" nft -f - <<-NFT
	table inet ${T}icmp {
		chain input {
			type filter hook input priority filter; policy accept;
			iifname "eth0" meta l4proto icmp counter drop
		}
		chain output {
			type filter hook output priority filter; policy accept;
			oifname "eth0" meta l4proto icmp counter drop
		}
	}
	NFT
}

# uplink BYTES: the MTU of home1's uplink: its eth0 and its bridge port,
# which drops larger frames silently in both directions.
uplink() {
	ip -n "${T}h1" link set eth0 mtu "$1"
	ip -n "${T}i" link set ph1 mtu "$1"
}

# client_start [VAR=value...]: the link client at home1 (FORWARD_ONLY to
# the echo app), with an empty log; client_up also waits until the
# gateway reaches it.
client_start() {
	: >"$WORK/client-up.example.test.log"
	home_client_start h1 up.example.test FORWARD_ONLY=1 \
		EXPOSE_HTTPS=127.0.0.1:9443 "$@"
}

client_up() {
	client_start "$@"
	wait_for 100 healthy up.example.test
}

client_down() {
	local pid
	pid=$(cat "$WORK/client-up.example.test.pid")
	kill -TERM "$pid" 2>/dev/null || true
	wait_for 50 gone "$pid"
}

gone() {
	! kill -0 "$1" 2>/dev/null
}

# logged TEXT: whether the client's log holds TEXT.
logged() {
	grep -qF "$1" "$WORK/client-up.example.test.log"
}

# client_mtu: the tunnel MTU the client logged last, and its interface's.
client_mtu() {
	local ifname
	grep -o 'tunnel MTU [0-9]*' "$WORK/client-up.example.test.log" | tail -1 | cut -d' ' -f3
	ifname=$(sed -n 's/.*wireguard \([a-z0-9]*\) up:.*/\1/p' \
		"$WORK/client-up.example.test.log" | tail -1)
	cat "/sys/class/net/$ifname/mtu" 2>/dev/null ||
		ip -n "${T}h1" -o link show dev "$ifname" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p'
}

# upload: a 1 MiB POST from the visitor, through the gateway, to the app.
upload() {
	ip netns exec "${T}i" curl -sS --max-time "${1:-20}" \
		--resolve "up.example.test:80:$GATEWAY" --data-binary @"$WORK/1mib" \
		-H 'Content-Type: application/octet-stream' http://up.example.test/
}

# big_header: a GET with a 4000-byte header.
big_header() {
	ip netns exec "${T}i" curl -sS --max-time 10 \
		--resolve "up.example.test:80:$GATEWAY" \
		-H "X-Big: $(printf '%04000d' 0)" http://up.example.test/
}

# big_hello: a real TLS handshake and request whose ClientHello is about
# 1.9 KB (eight 201-byte ALPN names; a post-quantum key share makes
# browsers' ClientHello this large), through the gateway's SNI routing to
# the app's TLS port. Prints openssl's message trace and the answer.
big_hello() {
	local alpn='' i
	for i in 1 2 3 4 5 6 7 8; do alpn="$alpn,p$i$(printf '%0200d' 0)"; done
	printf 'GET / HTTP/1.0\r\nHost: up.example.test\r\n\r\n' |
		ip netns exec "${T}i" timeout 10 openssl s_client -quiet -msg \
		-connect "$GATEWAY:443" -servername up.example.test -alpn "${alpn#,}" 2>&1
}

# uplink_carries BYTES MTU: on an uplink of BYTES, the client picks MTU,
# and the upload, the large header and the large ClientHello all pass.
uplink_carries() {
	local sum
	uplink "$1"
	client_up KEEPALIVE=25
	run -0 client_mtu
	assert_output "$(printf '%s\n' "$2" "$2")"
	sum=$(sha256sum <"$WORK/1mib" | cut -d' ' -f1)
	run -0 upload
	assert_output "home=app-h1 got=1048576 sha256=$sum"
	run -0 big_header
	assert_output --partial "home=app-h1 "
	run big_hello
	assert_output --partial "home=app-h1 "
	# openssl prints the ClientHello's length in hex: over 0x600 (1536).
	assert_output --regexp 'Handshake \[length 0[6-9a-f][0-9a-f]{2}\], ClientHello'
	# All this with the gateway's end at 1376 (1380 rounded down to 16
	# bytes for wireguard-go): for TCP, the segment size the home
	# advertises is what bounds the gateway's packets.
	run -0 gw status --probe up.example.test
	assert_line --regexp '^up\.example\.test +up .* yes +1380 +1376 +never$'
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

# Whatever a test left: its client stopped, a full uplink, the port up.
teardown() {
	if [ -f "$WORK/client-up.example.test.pid" ]; then
		client_down
		rm -f "$WORK/client-up.example.test.pid"
	fi
	ip -n "${T}i" link set ph1 up
	uplink 1500
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
	"$HELPERS/record" get "$WORK/root/var/lib/linkgate/links/$1" "$2"
}

@test "after 40 parallel adds every link's interface has its record's MTU rounded down to 16 bytes, and its wireguard-go is up" {
	local i n=40 bad=0 name mtu want idx wg
	wg_log_mark
	# LOG_LEVEL=verbose reaches wireguard-go, which then logs its binds.
	for i in $(seq "$n"); do
		LOG_LEVEL=verbose gw add "p$i.example.test" "$(wg genkey | wg pubkey)" \
			--mtu $((1280 + i)) >"$WORK/padd$i.out" 2>&1 &
	done
	wait
	for i in $(seq "$n"); do
		name=p$i.example.test
		grep -q '^ok' "$WORK/padd$i.out" || fail "add $i: $(cat "$WORK/padd$i.out")"
		# wireguard-go pads to the 1420 of its stand-in (gateway/linkgate,
		# tun_mtu): the interface takes a multiple of 16.
		want=$(($(link_field "$name" MTU) / 16 * 16))
		idx=$(link_field "$name" INDEX)
		wg=${GWPREFIX}w$idx
		mtu=$(ip netns exec "${GWPREFIX}n$idx" cat "/sys/class/net/$wg/mtu")
		if [ "$mtu" != "$want" ]; then
			echo "$name: interface $mtu, want $want"
			bad=$((bad + 1))
			continue
		fi
		if ! wg_log_new | grep -F "($wg) " | grep -q 'UDP bind has been updated'; then
			echo "$name: wireguard-go never bound its port"
			bad=$((bad + 1))
		fi
	done
	echo "$((n - bad)) of $n links with their record's MTU"
	wg_log_new | grep 'Failed to load updated MTU' && bad=$((bad + 1))
	[ "$bad" -eq 0 ]
	for i in $(seq "$n"); do gw remove "p$i.example.test" >/dev/null; done
}

@test "a record MTU above 1420 gives wireguard-go's interface 1408, which it never pads past" {
	local idx
	gw add big.example.test "$(wg genkey | wg pubkey)" --mtu 1500 >/dev/null
	idx=$(link_field big.example.test INDEX)
	assert_equal "$(link_field big.example.test MTU)" 1500
	# wireguard-go pads a packet over its stand-in's 1420 by its size
	# modulo 1420 (gateway/linkgate, tun_mtu): 1488 would leave as 1500.
	run -0 ip netns exec "${GWPREFIX}n$idx" cat "/sys/class/net/${GWPREFIX}w$idx/mtu"
	assert_output 1408
	gw remove big.example.test >/dev/null
}

@test "status shows the record's MTU and the interface's own; a link whose MTU differs is not up" {
	gw add st.example.test "$(wg genkey | wg pubkey)" --mtu 1360 >/dev/null
	run -0 gw status --probe st.example.test
	assert_line --index 0 --regexp ' MTU +IF_MTU +EXPIRES +REASON$'
	assert_line --index 1 --regexp '^st\.example\.test +up .* 1360 +1360 +never +no handshake with the home yet$'
	idx=$(link_field st.example.test INDEX)
	ip -n "${GWPREFIX}n$idx" link set "${GWPREFIX}w$idx" mtu 1420
	# make gateway's check counts the MTU: the link is down until repaired.
	run -0 gw status --probe st.example.test
	assert_line --index 1 --regexp '^st\.example\.test +down .* 1360 +1420 +never +gateway side: MTU$'
	gw remove st.example.test >/dev/null
}

@test "on a 1500-byte uplink the client keeps MTU 1380 and large requests pass" {
	uplink_carries 1500 1380
}

@test "on a 1492-byte (PPPoE) uplink the client keeps MTU 1380 and large requests pass" {
	uplink_carries 1492 1380
}

@test "on a 1440-byte uplink the client keeps MTU 1380 and large requests pass" {
	uplink_carries 1440 1380
}

@test "on a 1420-byte uplink the client picks MTU 1360 and large requests pass" {
	uplink_carries 1420 1360
}

@test "on a 1400-byte uplink the client picks MTU 1328 and large requests pass" {
	uplink_carries 1400 1328
}

@test "on a 1360-byte uplink the client picks MTU 1296 and large requests pass" {
	uplink_carries 1360 1296
}

@test "on a 1340-byte uplink the client picks MTU 1280 and large requests pass" {
	uplink_carries 1340 1280
}

@test "with the MTU 1380 of before, a 1400-byte uplink loses uploads and large ClientHellos" {
	client_up KEEPALIVE=300
	run -0 client_mtu
	assert_output "$(printf '1380\n1380\n')"
	uplink 1400
	run -28 upload 5
	run -28 big_header
	run big_hello
	refute_output --partial "home=app-h1 "
}

@test "when the uplink shrinks under a running client, it measures the MTU again" {
	client_up KEEPALIVE=1
	uplink 1400
	wait_for 100 logged "tunnel MTU 1328"
	assert logged "packets of 1380 bytes no longer reach the gateway"
	run -0 upload
	assert_output --partial "got=1048576 "
}

@test "when the gateway answers again after a loss, the client measures the MTU again" {
	client_up KEEPALIVE=1
	ip -n "${T}i" link set ph1 down
	wait_for 100 logged "no answer from the gateway"
	uplink 1360
	ip -n "${T}i" link set ph1 up
	wait_for 100 logged "tunnel MTU 1296"
	assert logged "the gateway answers again: measuring the tunnel MTU"
	run -0 upload
	assert_output --partial "got=1048576 "
}

@test "a client that cannot reach the gateway at start serves, with LINK_MTU, and measures once it can" {
	uplink 1400
	ip -n "${T}i" link set ph1 down
	client_start KEEPALIVE=1
	wait_for 100 logged "forwarding :8080"
	assert logged "MTU 1380 until it answers"
	ip -n "${T}i" link set ph1 up
	wait_for 100 logged "tunnel MTU 1328"
	run -0 upload
	assert_output --partial "got=1048576 "
}

# sent_len BYTES: how many packets of BYTES home1 sent to the gateway's
# WireGuard port (counted since len_count).
len_count() {
	local port
	port=$(sed -n 's/^GATEWAY_ENDPOINT=.*://p' "$WORK/h1/up.example.test.env")
	ip netns exec "${T}h1" nft -f - <<-NFT
	table inet ${T}len {
		counter l1440 {}
		counter l1452 {}
		counter l1360 {}
		counter l1372 {}
		chain output {
			type filter hook output priority filter; policy accept;
			oifname "eth0" udp dport $port ip length 1440 counter name l1440
			oifname "eth0" udp dport $port ip length 1452 counter name l1452
			oifname "eth0" udp dport $port ip length 1360 counter name l1360
			oifname "eth0" udp dport $port ip length 1372 counter name l1372
		}
	}
	NFT
}
sent_len() {
	ip netns exec "${T}h1" nft list counter inet "${T}len" "l$1" |
		sed -n 's/.*packets \([0-9]*\) .*/\1/p'
}

# ping_in SIZE: one ping of SIZE bytes (DF) through the tunnel from home1.
ping_in() {
	local env=$WORK/h1/up.example.test.env
	ip netns exec "${T}h1" ping -q -n -c 1 -W 1 -M "do" -s $(($1 - 28)) \
		-I "$(sed -n 's/^LINK_CLIENT_ADDRESS=//p' "$env")" \
		"$(sed -n 's/^LINK_GATEWAY_ADDRESS=//p' "$env")" >/dev/null
}

padded_to_1300() {
	ping_in 1300
	[ "$(sent_len 1360)" -ge 1 ]
}

@test "wireguard-go at home pads packets to the MTU set on its running interface" {
	local ifname
	client_up KEEPALIVE=300
	len_count
	# WireGuard pads to 16 bytes, up to the MTU it knows: 1380 bytes are
	# 1440 on the uplink if it knows 1380, 1452 with its default 1420.
	ping_in 1380
	assert_equal "$(sent_len 1440)/$(sent_len 1452)" 1/0
	# 1300 bytes: 1360 if it learnt the new MTU 1300, 1372 if not.
	ifname=$(sed -n 's/.*wireguard \([a-z0-9]*\) up:.*/\1/p' \
		"$WORK/client-up.example.test.log")
	ip -n "${T}h1" link set "$ifname" mtu 1300
	# It learns it from a netlink event, in its own time: within a second.
	wait_for 10 padded_to_1300
	echo "1300-byte pings padded to 1312 before it had learnt: $(sent_len 1372)"
	ip netns exec "${T}h1" nft delete table inet "${T}len"
}
