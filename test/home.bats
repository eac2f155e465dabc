#!/usr/bin/env bats
# The home side refuses what would hurt the home: tunnel addresses a
# malicious gateway or a tampered .env could use to take the home's own
# traffic, .env keys that would become shell code, and routing tables and
# interfaces that are not the link's own.
#
#   ${T}i bridge 10.77.0.0/24 ── ${T}g gateway: sshd with the real forced
#                              │  command (alice) and a lying one (evil)
#                              └── ${T}h1 home: make link, link-client

setup_file() {
	load common
	load lib/net
	export T GWPREFIX WORK=$BATS_FILE_TMPDIR
	gateway_up
	# A gateway that lies: its forced command answers what the test wrote
	# in evil-answer and logs the request.
	cat >"$WORK/evil-gw" <<-EOF
	#!/bin/sh
	echo "\$SSH_ORIGINAL_COMMAND" >>"$WORK/evil-requests"
	case \$SSH_ORIGINAL_COMMAND in add*) cat "$WORK/evil-answer" ;; esac
	EOF
	chmod 0755 "$WORK/evil-gw"
	ssh-keygen -q -t ed25519 -N '' -C evil -f "$WORK/evil"
	echo "command=\"$WORK/evil-gw\",restrict $(cat "$WORK/evil.pub")" \
		>>"$WORK/root/root/.ssh/authorized_keys"
	ip netns exec "${T}h1" env SSH_KEY="$WORK/alice" KNOWN_HOSTS="$WORK/known_hosts" \
		SSH_OPTS="-o LogLevel=ERROR" LINK_DIR="$WORK" "$REPO/bin/link" \
		"root@$GATEWAY" good.example.test 127.0.0.1:9080 >/dev/null
}

teardown_file() {
	load common
	load lib/net
	net_down
}

setup() {
	load common
	load lib/net
	OUT=$BATS_TEST_TMPDIR/out
	mkdir -p "$OUT"
	: >"$WORK/evil-requests"
}

# evil_link CLIENT GATEWAY [VAR=value...]: make link against the lying
# gateway, which answers with these tunnel addresses.
evil_link() {
	printf 'ok\t%s\t%s\t%s\t%s\t1380\n' "$(wg genkey | wg pubkey)" \
		"$GATEWAY:47050" "$1" "$2" >"$WORK/evil-answer"
	ip netns exec "${T}h1" env SSH_KEY="$WORK/evil" KNOWN_HOSTS="$WORK/known_hosts" \
		SSH_OPTS="-o LogLevel=ERROR" LINK_DIR="$OUT" "${@:3}" "$REPO/bin/link" \
		"root@$GATEWAY" evil.example.test 127.0.0.1:9080
}

# env_with KEY=VALUE...: the good link's .env with these lines replaced
# (or added), in $OUT/test.env.
env_with() {
	local kv
	cp "$WORK/good.example.test.env" "$OUT/test.env"
	for kv in "$@"; do
		awk -v k="${kv%%=*}=" 'index($0, k) != 1' "$OUT/test.env" >"$OUT/test.env.new"
		echo "$kv" >>"$OUT/test.env.new"
		mv "$OUT/test.env.new" "$OUT/test.env"
	done
}

# client_start [VAR=value...]: link-client at home1 from $OUT/test.env.
client_start() {
	ip netns exec "${T}h1" env DATA_DIR="$OUT/data" TLS_INTERNAL=1 "$@" \
		"$REPO/client/link-client" --env-file "$OUT/test.env"
}

@test "make link refuses a tunnel address inside the home's own LAN and writes nothing" {
	run -1 evil_link 10.77.0.6 10.77.0.5
	assert_output --partial "link: the gateway sent tunnel address 10.77.0.6, which this machine already uses"
	run -0 find "$OUT" -mindepth 1
	assert_output ""
}

@test "make link removes a new link from the gateway again when it refuses the answer" {
	run -1 evil_link 10.77.0.6 10.77.0.5
	assert_output --partial "removed evil.example.test from the gateway again"
	run -0 cat "$WORK/evil-requests"
	assert_line --index 0 --regexp '^add evil\.example\.test '
	assert_line --index 1 "remove evil.example.test"
}

# evil_endpoint ENDPOINT: make link against the lying gateway, which
# answers with that endpoint and a good tunnel pair.
evil_endpoint() {
	printf 'ok\t%s\t%s\t198.19.7.2\t198.19.7.1\t1380\n' "$(wg genkey | wg pubkey)" \
		"$1" >"$WORK/evil-answer"
	ip netns exec "${T}h1" env SSH_KEY="$WORK/evil" KNOWN_HOSTS="$WORK/known_hosts" \
		SSH_OPTS="-o LogLevel=ERROR" LINK_DIR="$OUT" "$REPO/bin/link" \
		"root@$GATEWAY" evil.example.test 127.0.0.1:9080
}

@test "make link takes an IPv6 endpoint in brackets from the gateway, and refuses every unreachable one (test/corpus/bad-endpoints) and writes nothing" {
	local line h ep n=0
	run -0 evil_endpoint '[FD77::2]:47050'
	run -0 grep ^GATEWAY_ENDPOINT= "$OUT/evil.example.test.env"
	assert_output 'GATEWAY_ENDPOINT=[fd77::2]:47050'
	rm -f "$OUT"/*
	while IFS= read -r line; do
		case $line in '#'* | '') continue ;; esac
		printf -v h '%b' "$line"
		case $h in '['*) ep=$h:47050 ;; *:*) ep=[$h]:47050 ;; *) ep=$h:47050 ;; esac
		# ssh would read the rest of the corpus from stdin.
		run -1 evil_endpoint "$ep" </dev/null
		assert_output --partial "link: the gateway sent a bad endpoint '"
		n=$((n + 1))
	done <"$REPO/test/corpus/bad-endpoints"
	[ "$n" -ge 25 ]
	run -0 find "$OUT" -mindepth 1
	assert_output ""
}

@test "make link refuses tunnel addresses that are not dotted quads" {
	run -1 evil_link 999.999.0.6 999.999.0.5
	assert_output --partial "the gateway sent bad tunnel addresses '999.999.0.6'"
	run -1 evil_link 198.19.0.06 198.19.0.05
	assert_output --partial "bad tunnel addresses"
	run -0 find "$OUT" -mindepth 1
	assert_output ""
}

@test "make link refuses tunnel addresses that are not one link's pair in a /30" {
	run -1 evil_link 198.19.0.7 198.19.0.6
	assert_output --partial "not .2 and .1 of one /30"
	run -1 evil_link 198.19.0.6 198.19.0.9
	assert_output --partial "not .2 and .1 of one /30"
}

@test "make link accepts a well-formed answer from the same gateway" {
	run -0 evil_link 198.19.7.2 198.19.7.1
	run -0 grep -x LINK_CLIENT_ADDRESS=198.19.7.2 "$OUT/evil.example.test.env"
}

@test "link-client refuses a .env whose tunnel address is the home's LAN, and the LAN still answers" {
	env_with LINK_CLIENT_ADDRESS=10.77.0.6 LINK_GATEWAY_ADDRESS=10.77.0.5
	run -1 client_start
	assert_output --partial "LINK_CLIENT_ADDRESS 10.77.0.6 is already an address or route of this machine"
	run -0 ip netns exec "${T}h1" curl -sS -o /dev/null --max-time 3 http://10.77.0.2/
	run -0 ip -n "${T}h1" rule show
	refute_output --partial 10.77.0.6
}

@test "link-client refuses a tunnel address that is not a dotted quad" {
	env_with LINK_CLIENT_ADDRESS=999.999.0.6
	run -1 client_start
	assert_output "link-client: bad LINK_CLIENT_ADDRESS '999.999.0.6'"
}

@test "a .env key of several names is refused and runs nothing" {
	mkdir -p "$OUT/bin"
	printf '#!/bin/sh\ntouch %s/ran\n' "$OUT" >"$OUT/bin/LINK_MTU"
	chmod 0755 "$OUT/bin/LINK_MTU"
	env_with 'LINK_MTU LINK_WILDCARD=1'
	run -1 client_start PATH="$OUT/bin:$PATH"
	assert_output --partial "unknown setting 'LINK_MTU LINK_WILDCARD'"
	[ ! -e "$OUT/ran" ]
}

@test "a .env key with shell syntax is refused and runs nothing" {
	env_with "\$(touch $OUT/ran)=1"
	run -1 client_start
	assert_output --partial "unknown setting"
	env_with "LINK_MTU;touch=1"
	run -1 client_start
	assert_output --partial "unknown setting 'LINK_MTU;touch'"
	[ ! -e "$OUT/ran" ]
}

@test "LINK_TABLE=254 is refused and the main table is untouched" {
	before=$(ip -n "${T}h1" route show table main)
	env_with LINK_TABLE=254
	run -1 client_start
	assert_output --partial "bad LINK_TABLE '254': a table of the system's own"
	assert_equal "$(ip -n "${T}h1" route show table main)" "$before"
	env_with LINK_TABLE=255
	run -1 client_start
}

@test "a LINK_TABLE that already has routes is refused and keeps them" {
	ip -n "${T}h1" route add 192.0.2.0/24 dev lo table 3000
	env_with LINK_TABLE=3000
	run -1 client_start
	assert_output --partial "routing table 3000 already has routes"
	run -0 ip -n "${T}h1" route show table 3000
	assert_output --partial 192.0.2.0/24
	ip -n "${T}h1" route flush table 3000
}

@test "LINK_IFNAME naming the home's LAN interface is refused and the interface stays" {
	env_with LINK_IFNAME=eth0
	run -1 client_start
	assert_output --partial "interface eth0 exists and is not this link's"
	run -0 ip -n "${T}h1" addr show eth0
	assert_output --partial 10.77.0.3/24
}

# client_bg LOG [VAR=value...]: link-client at home1 from $OUT/test.env in
# the background; CLIENT is its PID. Waits until Caddy was started.
client_bg() {
	local log=$1
	shift
	ip netns exec "${T}h1" env DATA_DIR="$OUT/data" TLS_INTERNAL=1 "$@" \
		"$REPO/client/link-client" --env-file "$OUT/test.env" >"$log" 2>&1 &
	CLIENT=$!
	wait_for 300 grep -q "caddy serving" "$log" || { cat "$log" >&2; lock_holders >&2; false; }
	IFNAME=$(sed -n 's/.*wireguard \([a-z0-9x]*\) up.*/\1/p' "$log")
	[ -n "$IFNAME" ]
}

# lock_holders: the processes that hold a link-client lock (for a failure's
# report).
lock_holders() {
	local p
	for p in /proc/[0-9]*; do
		if find "$p/fd" -lname '*/link-client/*.lock' 2>/dev/null | grep -q .; then
			echo "holds a link-client lock: ${p#/proc/} $(tr '\0' ' ' <"$p/cmdline")"
		fi
	done
}

# client_stop: SIGTERM to the background client; fails unless it exits 0.
# (Not through run: run's subshell cannot wait for the client.)
client_stop() {
	kill -TERM "$CLIENT" 2>/dev/null || true
	wait "$CLIENT"
}

# caddys_of: the Caddy processes serving the test's data folder.
caddys_of() {
	local pid
	for pid in $(pgrep -x caddy); do
		grep -qF "$OUT/data" "/proc/$pid/environ" 2>/dev/null && echo "$pid"
	done
	return 0
}

@test "after kill -9 no server of the client is left, and it starts again removing only its own interface" {
	env_with
	client_bg "$OUT/client.log"
	[ -n "$(caddys_of)" ]
	kill -9 "$CLIENT"
	wait_for 50 test -z "$(caddys_of)"
	run -0 ip -n "${T}h1" link show "$IFNAME"
	client_bg "$OUT/client2.log"
	run -0 grep -F "removing $IFNAME, left by an earlier run" "$OUT/client2.log"
	assert_equal "$(caddys_of | wc -l)" 1
	client_stop
	run -1 ip -n "${T}h1" link show "$IFNAME"
}

@test "a second client for the same link refuses and the first keeps its interface" {
	env_with
	client_bg "$OUT/client.log"
	run -1 client_start
	assert_output --partial "another link-client runs this link ($IFNAME)"
	run -0 ip -n "${T}h1" link show "$IFNAME"
	client_stop
}

@test "when its wireguard-go dies the client exits 1, for its supervisor to restart it" {
	env_with
	client_bg "$OUT/client.log" KEEPALIVE=1
	pid=$(pgrep -xf "wireguard-go $IFNAME")
	kill -9 "$pid"
	rc=0
	wait "$CLIENT" || rc=$?
	assert_equal "$rc" 1
	run -0 grep -F "the tunnel interface $IFNAME is gone" "$OUT/client.log"
}

@test "a second SIGTERM while the client stops does not cut its cleanup short" {
	env_with
	client_bg "$OUT/client.log"
	addr=$(sed -n 's/^LINK_CLIENT_ADDRESS=//p' "$OUT/test.env")
	kill -TERM "$CLIENT"
	kill -TERM "$CLIENT" 2>/dev/null || true
	wait "$CLIENT"
	run -0 grep -F "link-client: stopped" "$OUT/client.log"
	run -0 ip -n "${T}h1" rule show
	refute_output --partial "from $addr "
}

@test "a .env with carriage returns or a key set twice is refused" {
	env_with
	sed 's/$/\r/' "$OUT/test.env" >"$OUT/crlf.env"
	mv "$OUT/crlf.env" "$OUT/test.env"
	run -1 client_start
	assert_output --partial "ends in a carriage return"
	env_with LINK_MTU=1380
	echo LINK_MTU=1300 >>"$OUT/test.env"
	run -1 client_start
	assert_output --partial "LINK_MTU is set twice"
}

@test "make link refuses public, multicast and reserved tunnel addresses" {
	for pair in 1.1.1.2/1.1.1.1 208.67.222.222/208.67.222.221 224.0.0.2/224.0.0.1 \
		0.0.0.2/0.0.0.1 255.255.255.254/255.255.255.253 127.0.0.6/127.0.0.5; do
		run -1 evil_link "${pair%/*}" "${pair#*/}"
		assert_output --partial "bad tunnel addresses"
	done
	run -0 find "$OUT" -mindepth 1
	assert_output ""
}

@test "a full-tunnel VPN's routes at home do not block a link" {
	ip -n "${T}h1" route add 0.0.0.0/1 dev lo table 3001
	ip -n "${T}h1" route add 128.0.0.0/1 dev lo table 3001
	run -0 evil_link 198.19.7.2 198.19.7.1
	ip -n "${T}h1" route flush table 3001
}

@test "make link refuses an .env path that is a folder (docker-compose made it) and writes nothing into it" {
	mkdir "$OUT/evil.example.test.env"
	run -1 evil_link 198.19.7.2 198.19.7.1
	assert_output --partial "is not a file"
	run -0 find "$OUT/evil.example.test.env" -mindepth 1
	assert_output ""
}

@test "make link REPLACE=1 on the machine whose running client holds the link's address" {
	env_with
	cp "$OUT/test.env" "$OUT/evil.example.test.env"
	client_bg "$OUT/client.log"
	client=$(sed -n 's/^LINK_CLIENT_ADDRESS=//p' "$OUT/test.env")
	gw_addr=$(sed -n 's/^LINK_GATEWAY_ADDRESS=//p' "$OUT/test.env")
	run -0 evil_link "$client" "$gw_addr" REPLACE=1 FORCE=1
	client_stop
}

# link_in_out: make link against the lying gateway from within $OUT, where
# a pattern in its answer could match a file.
link_in_out() {
	cd "$OUT" && ip netns exec "${T}h1" env SSH_KEY="$WORK/evil" \
		KNOWN_HOSTS="$WORK/known_hosts" SSH_OPTS="-o LogLevel=ERROR" LINK_DIR="$OUT" \
		"$REPO/bin/link" "root@$GATEWAY" evil.example.test 127.0.0.1:9080
}

@test "the gateway's answer with an empty field or a file pattern is refused" {
	printf 'ok\t%s\t%s\t\t198.19.7.2\t198.19.7.1\t1380\n' "$(wg genkey | wg pubkey)" \
		"$GATEWAY:47050" >"$WORK/evil-answer"
	run -1 ip netns exec "${T}h1" env SSH_KEY="$WORK/evil" KNOWN_HOSTS="$WORK/known_hosts" \
		SSH_OPTS="-o LogLevel=ERROR" LINK_DIR="$OUT" "$REPO/bin/link" \
		"root@$GATEWAY" evil.example.test 127.0.0.1:9080
	assert_output --partial "the gateway's answer is not understood"
	touch "$OUT/okx"
	printf 'ok*\t%s\t%s\t198.19.7.2\t198.19.7.1\t1380\n' "$(wg genkey | wg pubkey)" \
		"$GATEWAY:47050" >"$WORK/evil-answer"
	run -1 link_in_out
	assert_output --partial "the gateway's answer is not understood"
}

@test "an interface name that wireguard-go holds in another namespace stops the client with a message" {
	ip netns exec "${T}h2" wireguard-go "${T}dup" >/dev/null 2>&1
	env_with LINK_IFNAME="${T}dup"
	run -1 client_start
	for pid in $(pgrep -x wireguard-go); do
		case $(tr '\0' ' ' <"/proc/$pid/cmdline") in "wireguard-go ${T}dup ") kill "$pid" ;; esac
	done
	assert_output --partial "link-client: wireguard-go could not make ${T}dup"
	run -1 ip -n "${T}h1" link show "${T}dup"
}
