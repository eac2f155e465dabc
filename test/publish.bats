#!/usr/bin/env bats
# Raw ports: make link PUBLISH=..., a visitor reaching a home's TCP and UDP
# service through the gateway's public ports, the home seeing the
# visitor's own address, the ports after a reboot, on removal, under
# quotas and hostile input, isolated from the other link, and kill -9
# during an add with ports.
#
#   visitor ${T}i 203.0.113.10 (and 10.77.0.1) ── bridge ── ${T}g gateway
#     10.77.0.2 (sshd; its default route via 10.77.0.1)
#   The visitor's 203.0.113.10 is on no home's network: a home reaches it
#   only through its tunnel, so a reply seen there came back that way.
#                                     ├── ${T}h1 home1: link-client of
#                                     │   raw.example.test, peer.py on
#                                     │   0.0.0.0:22 and :27015 (tcp, udp)
#                                     └── ${T}h2 home2: a plain peer of
#                                         other.example.test, peer.py on
#                                         its tunnel address :5000

setup_file() {
	load common
	load lib/net
	export T GWPREFIX WORK=$BATS_FILE_TMPDIR
	gateway_up
	ip -n "${T}g" route add default via "$VISITOR"
	ip -n "${T}i" addr add 203.0.113.10/32 dev br0
	gw authorize "$WORK/bob.pub" bob bob.example.org --publish-ports 2 >/dev/null
	peer_app h1 0.0.0.0 22 home1
	peer_app h1 0.0.0.0 27015 home1
	mkdir -p "$WORK/h1"
	ip netns exec "${T}h1" env SSH_KEY="$WORK/alice" KNOWN_HOSTS="$WORK/known_hosts" \
		SSH_OPTS="-o LogLevel=ERROR" LINK_DIR="$WORK/h1" GATEWAY="root@$GATEWAY" \
		FQDN=raw.example.test EXPOSE=127.0.0.1:9080 \
		PUBLISH=tcp:2222:22,udp:27015 FORMAT=wg-quick \
		make -s -C "$REPO" link >"$WORK/snippet"
	# KEEPALIVE=2: after the reboot below, the home finds the gateway's
	# new interface within seconds.
	ip netns exec "${T}h1" env DATA_DIR="$WORK/data-raw" TLS_INTERNAL=1 KEEPALIVE=2 \
		"$REPO/client/link-client" --env-file "$WORK/h1/raw.example.test.env" \
		>>"$WORK/client-raw.log" 2>&1 &
	echo $! >"$WORK/client-raw.pid"
	# Link 2: a plain peer at home2 with a service on its tunnel address.
	umask 077
	wg genkey >"$WORK/c2.key"
	gw add other.example.test "$(wg pubkey <"$WORK/c2.key")" \
		--publish tcp:5000,udp:5000 >"$WORK/add2.out"
	IFS=$'\t' read -r _ gwpub endpoint client _ _ _ <"$WORK/add2.out"
	home_peer h2 2 "$WORK/c2.key" "$gwpub" "$endpoint" "$client"
	echo "$client" >"$WORK/c2.addr"
	peer_app h2 "$client" 5000 home2
	wait_for 100 raw tcp 2222
}

teardown_file() {
	load common
	load lib/net
	net_down
}

setup() {
	load common
	load lib/net
	R=$WORK/root/var/lib/linkgate/links
	V=203.0.113.10
}

# peer_app HOME ADDR PORT LABEL: test/apps/peer.py at HOME.
peer_app() {
	ip netns exec "$T$1" python3 "$REPO/test/apps/peer.py" "$2" "$3" "$4" \
		>"$WORK/peer-$1-$3.log" 2>&1 &
	echo $! >"$WORK/peer-$1-$3.pid"
	wait_for 50 grep -q ready "$WORK/peer-$1-$3.log"
}

# raw tcp|udp PORT [NS [ADDR [SOURCE]]]: one connection (tcp) or datagram
# (udp, on a connected socket: only an answer from ADDR:PORT counts) from
# NS (the visitor's by default, from 203.0.113.10) to ADDR:PORT (the
# gateway's public address); prints the answer. Exit 1 without one in 2 s.
raw() {
	local ns=${3:-${T}i} addr=${4:-$GATEWAY} src=${5:-} out
	[ -n "$src" ] || [ "$ns" != "${T}i" ] || src=203.0.113.10
	out=$(ip netns exec "$ns" python3 -c '
import socket, sys
kind = socket.SOCK_STREAM if sys.argv[1] == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET, kind)
s.settimeout(2)
if sys.argv[4]:
    s.bind((sys.argv[4], 0))
s.connect((sys.argv[2], int(sys.argv[3])))
if kind == socket.SOCK_DGRAM:
    s.send(b"hi")
print(s.recv(2048).decode().strip())' "$1" "$addr" "$2" "$src" 2>/dev/null) || return 1
	[ -n "$out" ] && echo "$out"
}

@test "a visitor reaches the home's TCP service on a public port, and the home sees the visitor's own address" {
	run -0 raw tcp 2222
	assert_output --regexp "^home1 tcp peer=$V:[0-9]+$"
}

@test "a visitor reaches the home's UDP service on a public port, and the home sees the visitor's own address" {
	run -0 raw udp 27015
	assert_output --regexp "^home1 udp peer=$V:[0-9]+$"
}

@test "make link wrote the raw ports into the .env, the wg-quick file and the snippet" {
	run -0 grep -x 'LINK_PUBLISH=tcp:2222:22,udp:27015:27015' "$WORK/h1/raw.example.test.env"
	run -0 cat "$WORK"/h1/lg*.conf
	assert_output --partial 'PostUp = ip rule add ipproto udp sport 27015 lookup'
	assert_output --partial '#   tcp 2222 -> 22'
	run -0 cat "$WORK/snippet"
	assert_output --partial '#   udp 27015 -> 27015'
	assert_output --partial 'network_mode: "service:link-raw-example-test"'
}

@test "list, list --json and status --json show each link's raw ports" {
	run -0 gw list
	assert_line --regexp '^raw\.example\.test .* tcp:2222:22,udp:27015:27015 +never$'
	run -0 gw list --json
	assert_output --partial '"publish":[{"proto":"tcp","port":2222,"home_port":22},{"proto":"udp","port":27015,"home_port":27015}]'
	run -0 gw status --json raw.example.test
	assert_output --partial '"publish":[{"proto":"tcp","port":2222,"home_port":22}'
}

@test "a port no link published is closed to visitors, and so is the home port itself" {
	run -0 raw tcp 5000
	run -1 raw tcp 2223
	run -1 raw udp 27016
	# The gateway's port 22 is its own sshd's, not home1's.
	run raw tcp 22
	refute_output --partial home1
}

@test "one link's public ports reach only its own home, and its home cannot reach the other link's" {
	local c1
	c1=$("$HELPERS/record" get "$R/raw.example.test" TUNNEL_CLIENT)
	run -0 raw tcp 5000
	assert_output --regexp "^home2 tcp peer=$V:"
	run -0 raw udp 5000
	assert_output --regexp "^home2 udp peer=$V:"
	# home1 (through its tunnel) to the gateway's public ports and to the
	# other home's tunnel address: nothing; the control above shows both
	# listen.
	run -1 raw tcp 5000 "${T}h1" "$GATEWAY" "$c1"
	run -1 raw udp 5000 "${T}h1" "$GATEWAY" "$c1"
	run -1 raw tcp 5000 "${T}h1" "$(cat "$WORK/c2.addr")" "$c1"
}

@test "the tunnel side still reaches nothing on the gateway host through a raw port's path" {
	local c2 vg2
	c2=$(cat "$WORK/c2.addr")
	vg2=$("$HELPERS/record" get "$R/other.example.test" VETH_GATEWAY_ADDR)
	# Control: the gateway host's sshd answers the visitor.
	run -0 raw tcp 22
	assert_output --partial SSH-2.0
	run -1 raw tcp 22 "${T}h2" "$vg2" "$c2"
	run -1 raw tcp 22 "${T}h2" "$GATEWAY" "$c2"
}

@test "the gateway host itself reaches no home's raw port through the link's veth" {
	local vl
	vl=$("$HELPERS/record" get "$R/raw.example.test" VETH_LINK_ADDR)
	# Control: the visitor reaches home1's :22 through the public port.
	run -0 raw tcp 2222
	run -1 raw tcp 22 "${T}g" "$vl"
	run -1 raw udp 27015 "${T}g" "$vl"
}

@test "no process of the gateway host reaches a home's port through a link's veth, from any of the host's addresses" {
	local vl
	vl=$("$HELPERS/record" get "$R/raw.example.test" VETH_LINK_ADDR)
	# Control: the visitor reaches home1's :22 through the public port.
	run -0 raw tcp 2222
	# From the host's public address, not its end of the veth: the
	# home's raw port and Caddy's own ports stay out of reach.
	run -1 raw tcp 22 "${T}g" "$vl" "$GATEWAY"
	run -1 raw udp 27015 "${T}g" "$vl" "$GATEWAY"
	run -1 raw tcp 8080 "${T}g" "$vl" "$GATEWAY"
	run -1 raw tcp 8443 "${T}g" "$vl" "$GATEWAY"
}

@test "the forwarding turned on for raw ports routes nothing else: a neighbour's packets for a network behind the gateway get nowhere" {
	# A private network behind the gateway (192.168.77.0/24, ${T}p),
	# with a service the gateway itself reaches (the control).
	ip netns add "${T}p"
	ip -n "${T}g" link add "${T}pv" type veth peer name eth0 netns "${T}p"
	ip -n "${T}g" addr add 192.168.77.1/24 dev "${T}pv"
	ip -n "${T}g" link set "${T}pv" up
	ip -n "${T}p" addr add 192.168.77.2/24 dev eth0
	ip -n "${T}p" link set eth0 up
	ip -n "${T}p" route add default via 192.168.77.1
	peer_app p 192.168.77.2 7100 private
	run -0 nsenter --net="/run/netns/${T}g" sysctl -n net.ipv4.ip_forward
	assert_output 1
	run -0 raw tcp 7100 "${T}g" 192.168.77.2
	assert_output --partial private
	ip -n "${T}i" route add 192.168.77.0/24 via "$GATEWAY"
	run -1 raw tcp 7100 "${T}i" 192.168.77.2 "$VISITOR"
	run -1 raw udp 7100 "${T}i" 192.168.77.2 "$VISITOR"
	ip -n "${T}i" route del 192.168.77.0/24 via "$GATEWAY"
	ip netns del "${T}p"
	# The raw ports themselves are still forwarded.
	run -0 raw udp 27015
}

@test "with the kernel's port range as the WireGuard range (PORTS unset), a link with raw ports is added" {
	local conf=$WORK/root/etc/linkgate/gateway.conf
	cp "$conf" "$WORK/conf.saved"
	sed -i 's/^PORTS=.*/PORTS=/' "$conf"
	run gw add kernel.example.test "$(wg genkey | wg pubkey)" --publish tcp:3700
	rc=$status out=$output
	[ "$rc" -ne 0 ] || gw remove kernel.example.test >/dev/null
	cp "$WORK/conf.saved" "$conf"
	[ "$rc" -eq 0 ] || fail "status $rc: $out"
}

@test "removing a link forgets its raw ports' flows: a visitor still sending is not carried on toward its address" {
	local vl pid
	run -0 gw add flow.example.test "$(wg genkey | wg pubkey)" --publish udp:6101
	vl=$("$HELPERS/record" get "$R/flow.example.test" VETH_LINK_ADDR)
	# One visitor socket sending every 0.1 s for 6 s (the home never
	# answers: this link has none).
	ip netns exec "${T}i" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("203.0.113.10", 40100))
for i in range(60):
    s.sendto(b"x", ("'"$GATEWAY"'", 6101))
    time.sleep(0.1)' &
	pid=$!
	run -0 wait_for 30 sh -c "nsenter --net=/run/netns/${T}g conntrack -L -p udp --reply-src $vl 2>/dev/null | grep -q 'dport=6101'"
	run -0 gw remove flow.example.test
	sleep 0.5
	run -0 nsenter --net="/run/netns/${T}g" conntrack -L -p udp --reply-src "$vl"
	kill "$pid" 2>/dev/null || true
	refute_output --partial 'sport=40100'
}

@test "a second link on one home cannot publish a UDP home port the first one publishes, and its refusal leaves the first one's UDP answering" {
	ip netns exec "${T}h1" env SSH_KEY="$WORK/alice" KNOWN_HOSTS="$WORK/known_hosts" \
		SSH_OPTS="-o LogLevel=ERROR" LINK_DIR="$WORK/h1" GATEWAY="root@$GATEWAY" \
		FQDN=raw2.example.test EXPOSE=127.0.0.1:9080 PUBLISH=udp:27016:27015 \
		make -s -C "$REPO" link >/dev/null
	run ip netns exec "${T}h1" env DATA_DIR="$WORK/data-raw2" TLS_INTERNAL=1 \
		timeout 30 "$REPO/client/link-client" --env-file "$WORK/h1/raw2.example.test.env"
	[ "$status" -eq 1 ]
	assert_output --partial 'udp home port 27015 is published by another link on this machine'
	run -0 gw remove raw2.example.test
	run -0 raw udp 27015
	assert_output --regexp "^home1 udp peer=$V:"
}

@test "a second link cannot take a public port another link published" {
	local before
	before=$(state_sum)
	run -1 gw add take.example.test "$(wg genkey | wg pubkey)" --publish tcp:2222
	assert_output --partial 'tcp port 2222 is published by another link'
	assert_equal "$(state_sum)" "$before"
	# The same port number over the other protocol is another port.
	run -0 gw add take.example.test "$(wg genkey | wg pubkey)" --publish udp:2222
	run -0 gw remove take.example.test
}

@test "a key's PUBLISH_PORTS caps its public ports, with exit 3 and a clear message" {
	run -0 ssh_as bob add a.bob.example.org "$(wg genkey | wg pubkey)" --publish tcp:3001,udp:3001
	run -3 ssh_as bob add b.bob.example.org "$(wg genkey | wg pubkey)" --publish tcp:3002
	assert_output --partial 'key bob holds 2 of its 2 public ports (PUBLISH_PORTS=2), 1 more asked'
	[ ! -f "$R/b.bob.example.org" ]
	run -0 ssh_as bob remove a.bob.example.org
	run -0 ssh_as bob add b.bob.example.org "$(wg genkey | wg pubkey)" --publish tcp:3002
	run -0 ssh_as bob remove b.bob.example.org
}

@test "add --replace --publish changes a link's ports, and --publish none closes them" {
	local k
	k=$(wg genkey | wg pubkey)
	run -0 gw add swap.example.test "$k" --publish tcp:4001
	run -0 gw add swap.example.test "$k" --replace --publish tcp:4002,udp:4002
	assert_output --regexp $'\ttcp:4002:4002,udp:4002:4002$'
	assert_equal "$("$HELPERS/record" get "$R/swap.example.test" PUBLISH)" tcp:4002:4002,udp:4002:4002
	run -0 gw add swap.example.test "$k" --replace
	assert_equal "$("$HELPERS/record" get "$R/swap.example.test" PUBLISH)" tcp:4002:4002,udp:4002:4002
	run -0 gw add other2.example.test "$(wg genkey | wg pubkey)" --publish tcp:4001
	run -0 gw remove other2.example.test
	run -0 gw add swap.example.test "$k" --replace --publish none
	assert_equal "$("$HELPERS/record" get "$R/swap.example.test" PUBLISH)" ""
	run -0 gw remove swap.example.test
}

@test "the raw ports come back with make gateway after a simulated reboot" {
	local i
	i=$("$HELPERS/record" get "$R/raw.example.test" INDEX)
	# What a reboot loses (the host's tables, /run) and the index.
	nsenter --net="/run/netns/${T}g" nft delete table ip "${GWPREFIX}pub"
	rm -f "$WORK/root/run/linkgate/publish.nft" "$WORK/root/var/lib/linkgate/publish"
	ip netns del "${GWPREFIX}n$i"
	run -1 raw tcp 2222
	run -0 gw start
	run -0 wait_for 100 raw tcp 2222
	assert_output --regexp "^home1 tcp peer=$V:"
	run -0 wait_for 50 raw udp 27015
	assert_output --regexp "^home1 udp peer=$V:"
}

@test "removing a link closes its raw ports and frees them for another link" {
	run -0 gw add gone.example.test "$(wg genkey | wg pubkey)" --publish tcp:6001
	run -0 nsenter --net="/run/netns/${T}g" nft list table ip "${GWPREFIX}pub"
	assert_output --partial 'tcp dport 6001 dnat to'
	run -0 gw remove gone.example.test
	run -0 nsenter --net="/run/netns/${T}g" nft list table ip "${GWPREFIX}pub"
	refute_output --partial 'dport 6001'
	run -0 gw add gone2.example.test "$(wg genkey | wg pubkey)" --publish tcp:6001
	run -0 gw remove gone2.example.test
}

@test "hostile lists of raw ports are refused by the gateway, over ssh and by make link, and change nothing" {
	local before bad
	before=$(state_sum)
	while IFS= read -r bad; do
		run -1 gw add bad.example.test "$(wg genkey | wg pubkey)" --publish "$bad"
		[ "${output#*linkgate: }" != "$output" ] || fail "gateway: '$bad': $output"
		run -1 ssh_as alice add bad.example.test "$(wg genkey | wg pubkey)" --publish "$bad"
		# make's own status for a recipe that failed: 2.
		run -2 ip netns exec "${T}h1" env SSH_KEY="$WORK/alice" \
			KNOWN_HOSTS="$WORK/known_hosts" LINK_DIR="$WORK/h1" \
			GATEWAY="root@$GATEWAY" FQDN=bad.example.test EXPOSE=127.0.0.1:80 \
			PUBLISH="$bad" make -s -C "$REPO" link
		assert_output --partial 'bad PUBLISH'
	done < <(grep -v '^#' "$REPO/test/corpus/bad-publish")
	[ ! -f "$R/bad.example.test" ]
	assert_equal "$(state_sum)" "$before"
	run -0 raw tcp 2222
}

@test "a port in the WireGuard range is refused, naming the range and how to shrink it" {
	run -1 gw add bad.example.test "$(wg genkey | wg pubkey)" --publish udp:47050
	assert_output --partial "port 47050 is in the gateway's WireGuard port range 47000-47099 (its admin may shrink it: PORTS in gateway.conf)"
}

@test "linkgate add with ports killed after any step: make gateway leaves the link with all its ports or none" {
	local n points=0 whole=0 key
	key=$(wg genkey | wg pubkey)
	for n in $(seq 1 100); do
		export LINKGATE_KILL_AFTER=$n
		run gw add crash.example.test "$key" --publish tcp:7001,udp:7002
		unset LINKGATE_KILL_AFTER
		[ "$status" -ne 0 ] || break
		[ "$status" -eq 137 ] || fail "step $n: status $status: $output"
		points=$((points + 1))
		run -0 gw start
		run -0 nsenter --net="/run/netns/${T}g" nft list table ip "${GWPREFIX}pub"
		if [ -f "$R/crash.example.test" ]; then
			whole=$((whole + 1))
			assert_output --partial 'tcp dport 7001 dnat'
			assert_output --partial 'udp dport 7002 dnat'
			run -0 gw remove crash.example.test
		else
			refute_output --partial 'dport 7001'
			refute_output --partial 'dport 7002'
		fi
		! grep -q crash.example.test "$WORK/root/var/lib/linkgate/publish" ||
			fail "step $n: the publish index kept the link's ports"
	done
	[ "$points" -gt 10 ]
	echo "# add with ports: $points kill points, $whole left the link whole" >&3
	run -0 raw tcp 2222
	run -0 gw remove crash.example.test
}
