#!/usr/bin/env bats
# The gateway end to end: links in namespaces, nginx routing, restore, the
# ssh forced command and isolation. Real nginx, wireguard-go and sshd.
#
#   visitor ── ${T}i bridge ── ${T}g gateway (nginx :80/:443, sshd :22,
#                           │            link namespaces ${GWPREFIX}nN)
#                           ├── ${T}h1 home1: links app1, app3 (two peers)
#                           └── ${T}h2 home2: link app2

setup_file() {
	load common
	load lib/net
	export T GWPREFIX WORK=$BATS_FILE_TMPDIR
	gateway_up
	link_home app1.example.test h1 1
	link_home app2.example.test h2 2
	link_home app3.example.test h1 3
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

# app_visit N [http|https] [PATH]: visit appN.example.test (peer N: app1
# and app3 at home1, app2 at home2), its home reconnecting first as the
# link client would when the gateway rebuilt the link (home_visit).
app_visit() {
	local home=h1
	[ "$1" != 2 ] || home=h2
	home_visit "$home" "$1" "app$1.example.test" "${@:2}"
}

@test "add prints ok, the gateway key, the endpoint and the tunnel addresses" {
	run -0 cat "$WORK/add1.out"
	assert_output --regexp $'^ok\t[A-Za-z0-9+/]{43}=\t10\\.77\\.0\\.2:470[0-9][0-9]\t198\\.19\\.0\\.6\t198\\.19\\.0\\.5\t1380$'
}

@test "three links get distinct ports, indexes and addresses, and nginx -t passes" {
	run -0 nginx_t
	run -0 cut -f3,4,5 "$WORK/add1.out" "$WORK/add2.out" "$WORK/add3.out"
	assert_equal "$(cut -f1 <<<"$output" | sort -u | wc -l)" 3
	assert_equal "$(cut -f2 <<<"$output" | sort -u | wc -l)" 3
	run -0 gw list --json
	assert_output --partial '"name":"app3.example.test"'
	assert_equal "$(grep -o '"index":[0-9]*' <<<"$output" | sort -u | wc -l)" 3
}

@test "each Host header reaches its own home over HTTP, with the visitor in X-Forwarded-For" {
	for n in 1 2 3; do
		run -0 visit "app$n.example.test" http
		assert_output --partial "home=app$n.example.test "
		assert_output --partial "xff=$VISITOR "
	done
}

@test "each SNI reaches its own home over HTTPS, with the visitor as the TCP peer" {
	for n in 1 2 3; do
		run -0 visit "app$n.example.test" https
		assert_output --partial "home=app$n.example.test peer=$VISITOR "
	done
}

@test "a visitor's own X-Forwarded-For is replaced" {
	run -0 ip netns exec "${T}i" curl -sS --max-time 5 \
		-H 'X-Forwarded-For: 6.6.6.6' -H 'Host: app1.example.test' "http://$GATEWAY/"
	assert_output --partial "xff=$VISITOR "
}

@test "an unknown host gets 404 over HTTP and a closed connection over HTTPS" {
	run -0 ip netns exec "${T}i" curl -s -o /dev/null -w '%{http_code}' \
		--max-time 5 -H 'Host: nope.example.test' "http://$GATEWAY/"
	assert_output 404
	run -35 visit nope.example.test https
}

@test "status shows the tunnels up with a handshake and a healthy home" {
	run -0 gw status --probe app1.example.test
	assert_line --regexp '^app1\.example\.test +up +[0-9]+s '
}

@test "remove frees the namespace, interfaces, reservation, reserved port and map entry" {
	umask 077
	wg genkey >"$WORK/c9.key"
	gw add gone.example.test "$(wg pubkey <"$WORK/c9.key")" >"$WORK/add9.out"
	IFS=$'\t' read -r _ _ endpoint _ _ _ <"$WORK/add9.out"
	port=${endpoint##*:}
	run -0 gw remove gone.example.test
	run -1 gw remove gone.example.test
	assert_output --partial "no such link"
	idx=4
	[ ! -e "/run/netns/${GWPREFIX}n$idx" ]
	run -1 nsenter --net="/run/netns/${T}g" ip link show "${GWPREFIX}g$idx"
	run -1 grep -r gone "$WORK/root/var/lib/linkgate/nginx" "$WORK/root/var/lib/linkgate/links"
	run -1 grep gone "$WORK/root/var/lib/linkgate/alloc.state"
	[ ! -e "$WORK/root/var/lib/linkgate/keys/gone.example.test" ]
	run -0 nsenter --net="/run/netns/${T}g" cat /proc/sys/net/ipv4/ip_local_reserved_ports
	refute_output --regexp "(^|,)$port(,|-|$)"
	run -0 visit app1.example.test http
}

@test "adding a name that exists is refused; --replace swaps the key and keeps the port" {
	run -1 gw add app2.example.test "$(wg genkey | wg pubkey)"
	assert_output --partial "already exists"
	old=$(cut -f3 "$WORK/add2.out")
	umask 077
	wg genkey >"$WORK/c2new.key"
	run -0 gw add app2.example.test "$(wg pubkey <"$WORK/c2new.key")" --replace
	assert_equal "$(cut -f3 <<<"$output")" "$old"
	ip netns exec "${T}h2" wg set "${T}c2" private-key "$WORK/c2new.key"
	wait_for 50 visit app2.example.test http >/dev/null 2>&1
}

@test "hostile names, bad keys, MTUs and options are refused and change nothing" {
	before=$(cd "$WORK/root/var/lib/linkgate" && cat links/* alloc.state nginx/*.conf | md5sum)
	key=$(wg genkey | wg pubkey)
	run -1 gw add 'a;b.example.test' "$key"
	assert_output --partial "bad host name"
	run -1 gw add 'x.example.test' "${key%?}"
	assert_output --partial "bad client key"
	run -1 gw add 'x.example.test' "$key" --mtu 99
	run -1 gw add 'x.example.test' "$key" --mtu 1380x
	run -1 gw add 'x.example.test' "$key" --frob
	run -1 gw add '--replace' "$key"
	run -2 gw add 'x.example.test'
	run -2 gw frobnicate
	after=$(cd "$WORK/root/var/lib/linkgate" && cat links/* alloc.state nginx/*.conf | md5sum)
	assert_equal "$after" "$before"
	run -0 visit app1.example.test http
}

@test "make gateway restores every link after its namespace and wireguard-go are gone" {
	for n in 1 2 3; do
		nsenter --net="/run/netns/${T}g" ip netns del "${GWPREFIX}n$n"
	done
	ip netns add "${GWPREFIX}n77"
	run -0 gw start
	[ ! -e "/run/netns/${GWPREFIX}n77" ]
	for n in 1 2 3; do
		wait_for 100 app_visit "$n" https >/dev/null 2>&1
		run -0 visit "app$n.example.test" https
		assert_output --partial "home=app$n.example.test peer=$VISITOR "
	done
	assert_equal "$(cut -f3 "$WORK/add1.out")" \
		"$GATEWAY:$(ip netns exec "${GWPREFIX}n1" wg show "${GWPREFIX}w1" listen-port)"
	# The old wireguard-go's are gone: their TUN files kept the deleted
	# namespaces alive (tunfd), and nothing else would have ended them.
	assert_equal "$(link_wg_pids | wc -l)" 3
}

# reserved PORT: the gateway's ip_local_reserved_ports holds PORT.
reserved() {
	nsenter --net="/run/netns/${T}g" sysctl -n net.ipv4.ip_local_reserved_ports |
		tr ',' '\n' | awk -F- -v p="$1" '$1 <= p && p <= ($2 ? $2 : $1) { f = 1 }
			END { exit !f }'
}

@test "make gateway with parallel workers reserves every link's port" {
	local n port
	nsenter --net="/run/netns/${T}g" sysctl -qw net.ipv4.ip_local_reserved_ports=
	for n in 1 2 3; do ip netns del "${GWPREFIX}n$n"; done
	LINKGATE_JOBS=3 run -0 gw start
	for n in 1 2 3; do
		port=$(cut -f3 "$WORK/add$n.out")
		reserved "${port##*:}" || fail "port ${port##*:} not reserved"
	done
	for n in 1 2 3; do
		run -0 wait_for 100 app_visit "$n" https
	done
}

@test "make gateway raises the inotify limit that would stop wireguard-go at 128 links" {
	old=$(cat /proc/sys/fs/inotify/max_user_instances)
	sysctl -qw fs.inotify.max_user_instances=128
	run -0 gw start
	now=$(cat /proc/sys/fs/inotify/max_user_instances)
	sysctl -qw "fs.inotify.max_user_instances=$old"
	[ "$now" -ge 1024 ]
}

# gw_facts: what a make gateway on a healthy gateway must leave exactly
# as it was: nginx's master and workers (a reload replaces the workers),
# its configuration files, the wireguard-go processes, the namespaces,
# the reserved ports.
gw_facts() {
	local d=$WORK/root/var/lib/linkgate/nginx pid
	pid=$(cat "$WORK/root/run/linkgate/nginx.pid")
	echo "nginx $pid workers $(pgrep -P "$pid" | sort | tr '\n' ' ')"
	stat -c '%n %Y %i' "$d"/*.conf
	link_wg_pids | sort
	ip netns list | grep "^${GWPREFIX}n" | sort
	nsenter --net="/run/netns/${T}g" sysctl -n net.ipv4.ip_local_reserved_ports
}

@test "make gateway on a healthy gateway changes nothing, nginx not even reloaded" {
	local before
	before=$(gw_facts)
	run -0 gw start
	refute_output --partial restoring
	refute_output --partial repairing
	assert_equal "$(gw_facts)" "$before"
}

# damaged WHAT COMMAND...: damages link 1 with COMMAND; make gateway must
# name WHAT, repair it without rebuilding the link (same wireguard-go),
# and the link serves again.
damaged() {
	local what=$1 pid
	shift
	pid=$(pgrep -f "wireguard-go ${GWPREFIX}w1\$")
	"$@"
	run -0 gw start
	assert_output --partial "linkgate: repairing app1.example.test: $what"
	refute_output --partial restoring
	assert_equal "$(pgrep -f "wireguard-go ${GWPREFIX}w1\$")" "$pid"
	run -0 gw start
	refute_output --partial repairing
	run -0 wait_for 150 app_visit 1 https
	assert_output --partial "home=app1.example.test peer=$VISITOR "
}

@test "make gateway repairs a half-built link: tunnel address gone, interface down" {
	damaged "wireguard down, tunnel address" eval \
		"ip -n ${GWPREFIX}n1 addr flush dev ${GWPREFIX}w1 &&
		ip -n ${GWPREFIX}n1 link set ${GWPREFIX}w1 down"
}

@test "make gateway repairs a link's MTU, forwarding, firewall table and default route" {
	local ns=${GWPREFIX}n1
	damaged MTU ip -n "$ns" link set "${GWPREFIX}w1" mtu 1300
	damaged forwarding ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=0
	damaged firewall ip netns exec "$ns" nft delete table inet "${GWPREFIX}link"
	damaged firewall ip netns exec "$ns" nft insert rule inet "${GWPREFIX}link" input accept
	damaged "default route" ip -n "$ns" route del default
}

@test "make gateway repairs a link's peer, listen port, host-side veth and wireguard-go's stand-in" {
	local key
	key=$(wg pubkey <"$WORK/c1.key")
	damaged peer wg set "${GWPREFIX}w1" peer "$key" remove
	damaged "listen port" wg set "${GWPREFIX}w1" listen-port 47098
	damaged peer wg set "${GWPREFIX}w1" peer "$(wg genkey | wg pubkey)" allowed-ips 198.19.0.99/32
	damaged "host veth address" nsenter --net="/run/netns/${T}g" \
		ip addr flush dev "${GWPREFIX}g1"
	damaged "host veth down" nsenter --net="/run/netns/${T}g" \
		ip link set "${GWPREFIX}g1" down
	# wireguard-go's stand-in in the host (its next start looks it up).
	damaged "stand-in" nsenter --net="/run/netns/${T}g" \
		ip link del "${GWPREFIX}w1"
	run -0 nsenter --net="/run/netns/${T}g" ip -o link show "${GWPREFIX}w1"
	assert_output --regexp ' mtu 1420 .*state DOWN'
}

@test "a link that cannot be rebuilt is named with its command; the others are restored, nginx applied, exit 1" {
	local d=$WORK/root/var/lib/linkgate n
	mv "$d/keys/app2.example.test" "$WORK/app2.gwkey"
	kill "$(cat "$WORK/root/run/linkgate/nginx.pid")"
	for n in 1 2 3; do ip netns del "${GWPREFIX}n$n"; done
	run -1 gw start
	mv "$WORK/app2.gwkey" "$d/keys/app2.example.test"
	assert_output --partial "linkgate: app2.example.test: 'wg set ${GWPREFIX}w2 private-key $d/keys/app2.example.test"
	assert_line "linkgate: failed: links not reconciled: app2.example.test"
	for n in 1 3; do
		run -0 wait_for 100 app_visit "$n" https
		assert_output --partial "home=app$n.example.test "
	done
	run -0 gw start
	# wireguard-go runs, its interface in the namespace, with no key:
	# repaired; kernel WireGuard's interface was left in the host: rebuilt.
	assert_output --regexp "linkgate: (repairing app2\.example\.test: gateway key, listen port, peer|restoring app2\.example\.test)"
	run -0 wait_for 150 app_visit 2 https
	assert_output --partial "home=app2.example.test "
}

@test "an unreadable record leaves its running link as it is, its port and index reserved; exit 1" {
	local d=$WORK/root/var/lib/linkgate pid port
	pid=$(pgrep -f "wireguard-go ${GWPREFIX}w3\$")
	port=$("$HELPERS/record" get "$d/links/app3.example.test" PORT)
	cp "$d/links/app3.example.test" "$WORK/app3.record"
	echo INDEX=x >>"$d/links/app3.example.test"
	run -1 gw start
	cp "$WORK/app3.record" "$d/links/app3.example.test"
	assert_output --partial "record app3.example.test is corrupt (INDEX appears twice)"
	assert_line "linkgate: failed: records unreadable, links left as they are: app3.example.test"
	[ -e "/run/netns/${GWPREFIX}n3" ]
	assert_equal "$(pgrep -f "wireguard-go ${GWPREFIX}w3\$")" "$pid"
	[ -f "$d/keys/app3.example.test" ]
	run -0 "$HELPERS/alloc" -d "$d" list
	assert_line --regexp "^app3\.example\.test	$port	3$"
	run -0 nsenter --net="/run/netns/${T}g" sysctl -n net.ipv4.ip_local_reserved_ports
	assert_output --regexp "(^|,|-)$port(,|-|$)"
	run -0 gw start
	refute_output --partial restoring
	run -0 wait_for 100 app_visit 3 https
	assert_output --partial "home=app3.example.test "
}

@test "a stopped wireguard-go does not hold up make gateway: its link is named and the others are reconciled; once it runs again the link is repaired" {
	local pid
	pid=$(pgrep -f "wireguard-go ${GWPREFIX}w3\$")
	kill -STOP "$pid"
	# gw is a function: timeout needs the command itself.
	run timeout 120 nsenter --net="/run/netns/${T}g" env LINKGATE_ROOT="$WORK/root" \
		"$REPO/gateway/linkgate" start
	kill -CONT "$pid"
	assert_output --partial "linkgate: the wireguard-go of ${GWPREFIX}w3 does not answer"
	# Its rebuild fails while the stopped one holds the link's port, or
	# not, where the two may share it: never a hang, never another link.
	[ "$status" -le 1 ] || fail "status $status"
	[ "$status" -eq 0 ] || assert_line "linkgate: failed: links not reconciled: app3.example.test"
	for n in 1 2; do
		run -0 wait_for 100 app_visit "$n" https
		assert_output --partial "home=app$n.example.test "
	done
	run -0 wait_for 100 bash -c "! kill -0 $pid 2>/dev/null"
	run -0 gw start
	run -0 wait_for 150 app_visit 3 https
	assert_output --partial "home=app3.example.test "
}

@test "a link whose record is unreadable is removed whole by root by its reservation; its owner's key is told to ask the admin" {
	local d=$WORK/root/var/lib/linkgate idx
	run -0 ssh_as alice add broken.example.test "$(wg genkey | wg pubkey)"
	idx=$("$HELPERS/record" get "$d/links/broken.example.test" INDEX)
	[ -e "/run/netns/${GWPREFIX}n$idx" ]
	echo INDEX=x >>"$d/links/broken.example.test"
	run -1 ssh_as alice remove broken.example.test
	assert_output "linkgate: record of broken.example.test is corrupt: the gateway's admin can remove it"
	[ -f "$d/links/broken.example.test" ]
	run -0 gw remove broken.example.test
	assert_line --regexp "^linkgate: record of broken\.example\.test is corrupt; removing the link of its reservation \(index $idx, port [0-9]+\)$"
	assert_line "removed broken.example.test"
	[ ! -e "$d/links/broken.example.test" ]
	[ ! -e "$d/keys/broken.example.test" ]
	[ ! -e "$WORK/root/run/linkgate/routes/broken.example.test" ]
	[ ! -e "/run/netns/${GWPREFIX}n$idx" ]
	run -1 grep -q broken.example.test <("$HELPERS/alloc" -d "$d" list)
	[ ! -e "$d/owners/alice/links/broken.example.test" ]
}

@test "the helpers named in gateway.conf are the ones the gateway runs, over ssh too" {
	local conf=$WORK/root/etc/linkgate/gateway.conf
	cp "$conf" "$WORK/conf.saved"
	sed -i '/^HELPERS=/d' "$conf"
	echo "HELPERS=$WORK/nohelpers" >>"$conf"
	run -1 ssh_as alice list
	cp "$WORK/conf.saved" "$conf"
	assert_output "linkgate: HELPERS '$WORK/nohelpers': no helpers there"
	run -0 ssh_as alice list
}

@test "over ssh, a key adds, lists and removes its own links" {
	key=$(wg genkey | wg pubkey)
	run -0 ssh_as alice add ssh1.example.test "$key"
	assert_output --regexp $'^ok\t'
	run -0 ssh_as alice list
	assert_output --partial ssh1.example.test
	run -0 ssh_as alice remove ssh1.example.test
}

@test "over ssh, shells, other commands, scp and forwarding are refused" {
	run -1 ssh_as alice bash
	assert_output --partial "refused"
	run -1 ssh_as alice sh -c id
	run -1 ssh_as alice
	run -1 ssh_as alice 'add a;b.example.test x'
	run -1 ssh_as alice add x.example.test notakey
	run -1 ssh_as alice remove a b
	# shellcheck disable=SC2016 # sent as it is, for the gateway to refuse
	run -1 ssh_as alice 'list $(id)'
	run ip netns exec "${T}h1" scp -F /dev/null -i "$WORK/alice" \
		-o UserKnownHostsFile="$WORK/known_hosts" -o BatchMode=yes \
		"root@$GATEWAY:/etc/passwd" "$WORK/stolen"
	[ "$status" -ne 0 ] && [ ! -s "$WORK/stolen" ]
	run ssh_as alice -W "$GATEWAY:80"
	[ "$status" -ne 0 ]
	refute_output --partial nginx
}

@test "an idle ssh -N with a management key is closed by the sshd drop-in make setup installs" {
	run -0 nsenter --net="/run/netns/${T}g" /usr/sbin/sshd -T -f "$WORK/sshd_config"
	assert_line "unusedconnectiontimeout 30"
	ip netns exec "${T}h1" ssh -F /dev/null -i "$WORK/alice" \
		-o UserKnownHostsFile="$WORK/known_hosts" -o StrictHostKeyChecking=accept-new \
		-o BatchMode=yes -o LogLevel=ERROR -N "root@$GATEWAY" \
		</dev/null >/dev/null 2>"$WORK/idle.err" 3>&- &
	pid=$!
	t0=$(date +%s%N)
	# Authenticated, with no channel: still open well before the limit.
	sleep 10
	kill -0 "$pid"
	closed=0
	for _ in $(seq 300); do
		if ! kill -0 "$pid" 2>/dev/null; then closed=1; break; fi
		sleep 0.2
	done
	t=$((($(date +%s%N) - t0) / 1000000))
	kill "$pid" 2>/dev/null || true
	[ "$closed" = 1 ]
	echo "# idle ssh -N closed $t ms after it started" >&3
	run -255 wait "$pid"
}

@test "make setup's logrotate configuration rotates the logs: requests go into a new requests.log and nginx's log is truncated in place" {
	conf=$WORK/root/etc/logrotate.d/linkgate
	log=$WORK/root/var/log/linkgate
	run -0 stat -c '%a %U' "$conf"
	assert_output "644 root"
	ssh_as alice list >/dev/null
	n=$(wc -l <"$log/requests.log")
	[ "$n" -gt 0 ]
	mode=$(stat -c %a "$log/requests.log")
	echo "a line of the test" >>"$log/nginx-error.log"
	pid=$(cat "$WORK/root/run/linkgate/nginx.pid")
	run -0 logrotate -f -s "$WORK/logrotate.state" "$conf"
	assert_equal "$(wc -l <"$log/requests.log.1")" "$n"
	[ -f "$log/requests.log" ] && [ ! -s "$log/requests.log" ]
	assert_equal "$(stat -c %a "$log/requests.log")" "$mode"
	run -0 ssh_as alice list
	run -0 grep -c 'key=alice verb=list' "$log/requests.log"
	assert_output 1
	assert_equal "$(cat "$WORK/root/run/linkgate/nginx.pid")" "$pid"
	run -0 grep -c 'a line of the test' "$log/nginx-error.log.1"
	[ ! -s "$log/nginx-error.log" ]
	# nginx writes on into the same, truncated file: nothing was signalled.
	for p in "$pid" $(pgrep -P "$pid"); do
		[ -n "$(find "/proc/$p/fd" -lname "$log/nginx-error.log")" ]
		[ -z "$(find "/proc/$p/fd" -lname "$log/nginx-error.log.1")" ]
	done
	ssh_as alice list >/dev/null
	run -0 logrotate -f -s "$WORK/logrotate.state" "$conf"
	[ -f "$log/requests.log.2.gz" ] && [ -f "$log/requests.log.1" ]
}

@test "over ssh, alice cannot see or remove bob's link, nor add outside her domains" {
	run -0 ssh_as bob add b.bob.example.org "$(wg genkey | wg pubkey)"
	run -0 ssh_as alice list
	refute_output --partial bob.example.org
	run -1 ssh_as alice remove b.bob.example.org
	assert_output --partial "belongs to another key"
	run -1 ssh_as alice add a.bob.example.org "$(wg genkey | wg pubkey)"
	assert_output --partial "outside the domains"
	run -0 ssh_as admin list
	assert_output --partial b.bob.example.org
	run -0 ssh_as bob remove b.bob.example.org
}

@test "from home, the gateway host, other links and the visitor network are unreachable" {
	local c1 pids=() pid target
	c1=$(cut -f4 "$WORK/add1.out")
	# All at once: each attempt waits out its own 2 s.
	for target in "$GATEWAY:22" "$GATEWAY:80" 198.18.0.5:80 198.18.0.6:22 \
		198.19.0.5:22 198.19.0.9:22 198.19.0.10:8080 198.18.0.10:80 \
		"$VISITOR:80" 10.77.0.4:22 198.18.0.1:22; do
		ip netns exec "${T}h1" timeout 3 curl -s --interface "$c1" \
			--max-time 2 "http://$target/" >/dev/null 2>&1 &
		pids[$!]=$target
	done
	for pid in "${!pids[@]}"; do
		! wait "$pid" || fail "${pids[$pid]} reachable from home1's tunnel"
	done
}

@test "from the visitor side, a link namespace answers on nothing but 80 and 443" {
	local pids=() pid port
	# All at once: each attempt waits out its own 2 s.
	for port in 22 8080 8443 2019; do
		nsenter --net="/run/netns/${T}g" curl -s --max-time 2 \
			"http://198.18.0.6:$port/" >/dev/null 2>&1 &
		pids[$!]=$port
	done
	for pid in "${!pids[@]}"; do
		! wait "$pid" || fail "port ${pids[$pid]} of a link namespace answered"
	done
	run -0 nsenter --net="/run/netns/${T}g" curl -s --max-time 2 -H 'Host: app1.example.test' http://198.18.0.6:80/
}

@test "each link's wireguard-go runs with the gateway's Go memory settings and on one processor" {
	pid=$(pgrep -f "wireguard-go ${GWPREFIX}w1\$")
	run -0 tr '\0' '\n' <"/proc/$pid/environ"
	assert_line GOMEMLIMIT=128MiB
	assert_line GOGC=100
	assert_line GOMAXPROCS=1
}

@test "bad Go settings for wireguard-go are refused" {
	conf=$WORK/root/etc/linkgate/gateway.conf
	cp "$conf" "$WORK/conf.saved"
	for bad in WG_GOMEMLIMIT=128 WG_GOMEMLIMIT=-1MiB WG_GOMEMLIMIT=0MiB \
		'WG_GOMEMLIMIT=1MiB;id' WG_GOMEMLIMIT=99999999MiB WG_GOGC=0 WG_GOGC=-5 \
		WG_GOGC=10000 'WG_GOGC=50 x' WG_GOMAXPROCS=0 WG_GOMAXPROCS=01 \
		WG_GOMAXPROCS=10000 WG_GOMAXPROCS=-1 'WG_GOMAXPROCS=1;id' WG_GOMAXPROCS=; do
		cp "$WORK/conf.saved" "$conf"
		echo "$bad" >>"$conf"
		run -1 gw list
		assert_output --partial "linkgate: bad ${bad%%=*} '${bad#*=}'"
	done
	cp "$WORK/conf.saved" "$conf"
	echo WG_GOGC=off >>"$conf"
	run -0 gw list
	cp "$WORK/conf.saved" "$conf"
	echo WG_GOMAXPROCS=off >>"$conf"
	run -0 gw list
	cp "$WORK/conf.saved" "$conf"
}
