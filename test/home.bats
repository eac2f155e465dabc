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
	# in evil-answer (to add and rotate) and logs the request; while
	# evil-old exists it refuses --ipv6 as a gateway older than IPv6 does.
	cat >"$WORK/evil-gw" <<-EOF
	#!/bin/sh
	echo "\$SSH_ORIGINAL_COMMAND" >>"$WORK/evil-requests"
	case \$SSH_ORIGINAL_COMMAND in
	*' --ipv6'*) if [ -e "$WORK/evil-old" ]; then
		echo "linkgate: refused: unknown option '--ipv6'" >&2
		exit 1
	fi ;;
	esac
	case \$SSH_ORIGINAL_COMMAND in add* | rotate*) cat "$WORK/evil-answer" ;; esac
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
	rm -f "$WORK/evil-old"
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
		# An endpoint with a newline is an answer of two lines.
		case $h in
		*"
"*) assert_output --partial "link: the gateway answered more than one line" ;;
		*) assert_output --partial "link: the gateway sent a bad endpoint '" ;;
		esac
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
	# Caddy has bound its addresses: its own exit would not be the test's.
	addr=$(sed -n 's/^LINK_CLIENT_ADDRESS=//p' "$OUT/test.env")
	wait_for 100 ip netns exec "${T}h1" curl -s -o /dev/null --max-time 1 "http://$addr:8080/"
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

# --- IPv6 tunnel addresses -----------------------------------------------

C6=fd99:1:2:7::1:2 G6=fd99:1:2:7::1:1

# evil_answer FIELD...: the lying gateway's next answer: ok, a fresh
# gateway key, its endpoint, the tunnel pair 198.19.7.2/.1, MTU 1380,
# then FIELDs (IPv6 pair, raw ports), tab-separated.
evil_answer() {
	local IFS=$'\t'
	printf 'ok\t%s\t%s\t198.19.7.2\t198.19.7.1\t1380%s\n' "$(wg genkey | wg pubkey)" \
		"$GATEWAY:47050" "${*:+$'\t'$*}" >"$WORK/evil-answer"
}

# evil_add [VAR=value...] [-- OPTIONS]: make link against the lying
# gateway from home1, files into $OUT.
evil_add() {
	local vars=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
	[ $# -eq 0 ] || shift
	ip netns exec "${T}h1" env SSH_KEY="$WORK/evil" KNOWN_HOSTS="$WORK/known_hosts" \
		SSH_OPTS="-o LogLevel=ERROR" LINK_DIR="$OUT" "${vars[@]}" "$REPO/bin/link" \
		"root@$GATEWAY" evil.example.test 127.0.0.1:9080 "$@"
}

@test "make link sends --ipv6 from a home with IPv6 and writes an 8-field answer's IPv6 pair into the .env" {
	evil_answer "$C6" "$G6"
	run -0 evil_add
	run -0 cat "$WORK/evil-requests"
	assert_line --regexp '^add evil\.example\.test [A-Za-z0-9+/=]{44} --mtu 1380 --ipv6$'
	run -0 cat "$OUT/evil.example.test.env"
	assert_line LINK_CLIENT_ADDRESS=198.19.7.2
	assert_line "LINK_CLIENT_ADDRESS6=$C6"
	assert_line "LINK_GATEWAY_ADDRESS6=$G6"
}

@test "a 9-field answer gives the .env the IPv6 pair and the raw ports" {
	evil_answer "$C6" "$G6" tcp:2222:22
	run -0 evil_add
	run -0 cat "$OUT/evil.example.test.env"
	assert_line "LINK_CLIENT_ADDRESS6=$C6"
	assert_line "LINK_GATEWAY_ADDRESS6=$G6"
	assert_line LINK_PUBLISH=tcp:2222:22
}

@test "a 6-field answer to --ipv6 (a gateway without IPv6) gives a .env without IPv6 keys, and says so" {
	evil_answer
	run -0 evil_add
	assert_output --partial "the gateway gave the link no IPv6 tunnel addresses"
	run -1 grep ADDRESS6 "$OUT/evil.example.test.env"
	run -0 grep -c ^LINK_CLIENT_ADDRESS= "$OUT/evil.example.test.env"
	assert_output 1
}

@test "make link refuses IPv6 tunnel addresses that are not two canonical addresses of one /126 in fc00::/7, and writes nothing" {
	local pair n=0
	for pair in fd99:1:2:7::1:2/fd99:1:2:7::2:1 fd99:1:2:7::1:4/fd99:1:2:7::1:3 \
		"$C6/$C6" 2001:db8::2/2001:db8::1 FD99:1:2:7::1:2/fd99:1:2:7::1:1 \
		fd99:1:2:7:0:0:1:2/fd99:1:2:7::1:1 "$C6/126/$G6" fe80::2/fe80::1 \
		::ffff:10.0.0.2/::ffff:10.0.0.1 ::2/::1 ff02::2/ff02::1 \
		'fd99::1:2;id/fd99::1:1' '[fd99::1:2]/fd99::1:1' 'fd99::1:2%eth0/fd99::1:1' \
		198.19.8.2/198.19.8.1; do
		evil_answer "${pair%/*}" "${pair##*/}"
		run -1 evil_add
		assert_output --partial "the gateway sent bad IPv6 tunnel addresses"
		n=$((n + 1))
	done
	[ "$n" -eq 15 ]
	run -0 find "$OUT" -mindepth 1
	assert_output ""
}

@test "make link refuses an IPv6 tunnel address the home already uses, on its LAN or in a route" {
	evil_answer fd77::6 fd77::5
	run -1 evil_add
	assert_output --partial "the gateway sent tunnel address fd77::6, which this machine already uses"
	ip -n "${T}h1" -6 route add fd99:1::/32 dev lo table 3002
	evil_answer "$C6" "$G6"
	run -1 evil_add
	ip -n "${T}h1" -6 route flush table 3002
	assert_output --partial "the gateway sent tunnel address $C6, which this machine already uses"
	run -0 find "$OUT" -mindepth 1
	assert_output ""
}

@test "an older gateway's refusal of --ipv6 is answered by asking once more without it" {
	touch "$WORK/evil-old"
	evil_answer
	run -0 evil_add
	assert_output --partial "the gateway does not know --ipv6 (an older version)"
	run -0 cat "$WORK/evil-requests"
	assert_line --index 0 --regexp ' --ipv6$'
	assert_line --index 1 --regexp '^add evil\.example\.test [A-Za-z0-9+/=]{44} --mtu 1380$'
	[ "${#lines[@]}" -eq 2 ]
	run -1 grep ADDRESS6 "$OUT/evil.example.test.env"
}

@test "a refusal of --ipv6 answered with IPv6 fields all the same is refused" {
	touch "$WORK/evil-old"
	evil_answer "$C6" "$G6"
	run -1 evil_add
	assert_output --partial "the gateway sent IPv6 tunnel addresses, not asked for"
	run -0 find "$OUT" -mindepth 1
	assert_output ""
}

@test "IPV6=0 and --no-ipv6 send no --ipv6, and IPv6 fields not asked for are refused" {
	evil_answer
	run -0 evil_add IPV6=0
	run -0 evil_add FORCE=1 -- --no-ipv6
	run -0 cat "$WORK/evil-requests"
	assert_equal "${#lines[@]}" 2
	refute_output --regexp ' --ipv6( |$)'
	rm -f "$OUT"/*
	evil_answer "$C6" "$G6"
	run -1 evil_add IPV6=0
	assert_output --partial "the gateway sent IPv6 tunnel addresses, not asked for (no --ipv6)"
	run -1 evil_add IPV6=2
	assert_output --partial "bad flag value '2'"
}

@test "a home whose IPv6 is switched off sends no --ipv6, and says why" {
	evil_answer
	ip netns exec "${T}h2" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	run ip netns exec "${T}h2" env SSH_KEY="$WORK/evil" KNOWN_HOSTS="$WORK/known_hosts" \
		SSH_OPTS="-o LogLevel=ERROR" LINK_DIR="$OUT" "$REPO/bin/link" \
		"root@$GATEWAY" evil.example.test 127.0.0.1:9080
	ip netns exec "${T}h2" sysctl -qw net.ipv6.conf.all.disable_ipv6=0
	ip -n "${T}h2" addr add fd77::4/64 dev eth0 nodad 2>/dev/null || true
	assert_equal "$status" 0
	assert_output --partial "this machine has no IPv6"
	run -0 cat "$WORK/evil-requests"
	assert_line --regexp '^add evil\.example\.test '
	refute_output --regexp ' --ipv6( |$)'
}

@test "the wg-quick file and the snippet of a link with IPv6 carry both families and the sysctl the container needs" {
	evil_answer
	run -0 evil_add FORMAT=wg-quick
	run -0 cat "$OUT"/lg7x2.conf
	assert_line 'Address = 198.19.7.2/32'
	assert_line 'AllowedIPs = 0.0.0.0/0'
	refute_output --partial 'ip -6'
	run -0 evil_add FORMAT=wg-quick FORCE=1
	refute_output --partial sysctls
	evil_answer "$C6" "$G6"
	run -0 --separate-stderr evil_add FORMAT=wg-quick FORCE=1
	assert_line '    sysctls:'
	assert_line '      - net.ipv6.conf.all.disable_ipv6=0'
	run -0 cat "$OUT"/lg7x2.conf
	assert_line "Address = 198.19.7.2/32, $C6/128"
	assert_line 'AllowedIPs = 0.0.0.0/0, ::/0'
	table=$(sed -n 's/^Table = //p' "$OUT"/lg7x2.conf)
	assert_line "PostUp = ip -6 rule add from $C6 lookup $table"
	assert_line "PostDown = ip -6 rule del from $C6 lookup $table"
	assert_line "PostUp = ip rule add from 198.19.7.2 lookup $table"
}

# evil_rotate: make rotate of evil.example.test's .env in $OUT against the
# lying gateway.
evil_rotate() {
	ip netns exec "${T}h1" env SSH_KEY="$WORK/evil" KNOWN_HOSTS="$WORK/known_hosts" \
		SSH_OPTS="-o LogLevel=ERROR" "$REPO/bin/link" --rotate \
		"root@$GATEWAY" evil.example.test --dir "$OUT"
}

@test "make rotate takes an 8-field answer with the .env's IPv6 pair and keeps it" {
	evil_answer "$C6" "$G6"
	run -0 evil_add
	evil_answer "$C6" "$G6"
	run -0 evil_rotate
	assert_output --partial "wrote $OUT/evil.example.test.env (new keys"
	run -0 cat "$OUT/evil.example.test.env"
	assert_line "LINK_CLIENT_ADDRESS6=$C6"
	assert_line "GATEWAY_LINK_WG_PUBKEY=$(cut -f2 "$WORK/evil-answer")"
}

@test "make rotate refuses 9 fields or other IPv6 addresses, and keeps the new key" {
	evil_answer "$C6" "$G6"
	run -0 evil_add
	cp "$OUT/evil.example.test.env" "$OUT/before"
	evil_answer "$C6" "$G6" tcp:2222:22
	run -1 evil_rotate
	assert_output --partial "the gateway's answer is not understood"
	rm -f "$OUT"/evil.example.test.env.*
	evil_answer fd99:1:2:8::1:2 fd99:1:2:8::1:1
	run -1 evil_rotate
	assert_output --partial "the gateway sent other tunnel addresses (198.19.7.2, 198.19.7.1, fd99:1:2:8::1:2, fd99:1:2:8::1:1)"
	[ -f "$OUT/evil.example.test.env.newkey" ]
	cmp "$OUT/before" "$OUT/evil.example.test.env"
}

@test "a rotation's answer without the IPv6 pair (the link has no IPv6 at the gateway any more) drops it from the .env, and says so" {
	evil_answer "$C6" "$G6"
	run -0 evil_add
	evil_answer
	run -0 evil_rotate
	assert_output --partial "the gateway gives the link no IPv6 tunnel addresses: restart the link client"
	run -1 grep ADDRESS6 "$OUT/evil.example.test.env"
	run -0 grep -c -E '^(LINK_CLIENT_ADDRESS|EXPOSE)=' "$OUT/evil.example.test.env"
	assert_output 2
}
